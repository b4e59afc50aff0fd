//! What the fuzz targets share: every dialect, configured with known secrets, and server
//! answers built from structured arbitrary data, so the fuzzer reaches deep states of the
//! session quickly instead of spending its time on JSON syntax.
//!
//! Each target states its invariants; a panic is a finding.

use arbitrary::Arbitrary;
use oauth_lifecycle::dialect::{
    ClientAuth, Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Environment, RefreshTokenUse,
    Standard,
};
use oauth_lifecycle::http;
use oauth_lifecycle::time::format_description::well_known::{Rfc2822, Rfc3339};
use oauth_lifecycle::time::{Duration, UtcDateTime};
use time::macros::utc_datetime;

pub mod drive;

/// Where every script starts.
pub const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

/// The credentials every dialect is configured with. None may ever show in `Debug` or
/// `Display` output.
pub const CLIENT_SECRET: &str = "fuzz-client-secret-Qm3xT9";
/// See [`CLIENT_SECRET`].
pub const PASSWORD: &str = "fuzz-password-Wk7&pR 2=z";

const LOCAL: &str = "http://127.0.0.1:9";

/// One provider, configured as its tests configure it.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// RFC 6749 with the password grant and revocation; single-use refresh tokens.
    Standard,
    /// RFC 6749 with client credentials in the body and reusable refresh tokens.
    StandardReusable,
    /// Convirza V2.
    ConvirzaV2,
    /// Convirza V3.
    ConvirzaV3,
    /// Convercus through Keycloak, with a password.
    Convercus,
    /// The Convercus legacy login.
    ConvercusLegacy,
}

/// Runs `$body` with `$make` bound to the function that builds the configured dialect of
/// `$provider` (a `fn() -> D` for that provider's dialect type `D`).
#[macro_export]
macro_rules! with_dialect {
    ($provider:expr, |$make:ident| $body:expr) => {
        match $provider {
            $crate::Provider::Standard => {
                let $make = $crate::standard;
                $body
            }
            $crate::Provider::StandardReusable => {
                let $make = $crate::standard_reusable;
                $body
            }
            $crate::Provider::ConvirzaV2 => {
                let $make = $crate::convirza_v2;
                $body
            }
            $crate::Provider::ConvirzaV3 => {
                let $make = $crate::convirza_v3;
                $body
            }
            $crate::Provider::Convercus => {
                let $make = $crate::convercus;
                $body
            }
            $crate::Provider::ConvercusLegacy => {
                let $make = $crate::convercus_legacy;
                $body
            }
        }
    };
}

/// The standard dialect with a password grant, `client_secret_basic` and revocation.
pub fn standard() -> Standard {
    Standard::builder(format!("{LOCAL}/token"), "fuzz-client")
        .client_secret(CLIENT_SECRET)
        .password("alice", PASSWORD)
        .revocation_url(format!("{LOCAL}/revoke"))
        .build()
        .expect("a valid configuration")
}

/// The standard dialect with client credentials sent in the body and reusable refresh
/// tokens.
pub fn standard_reusable() -> Standard {
    Standard::builder(format!("{LOCAL}/token"), "fuzz-client")
        .client_secret(CLIENT_SECRET)
        .client_auth(ClientAuth::Post)
        .scope("read write")
        .refresh_token_use(RefreshTokenUse::Reusable)
        .revocation_url(format!("{LOCAL}/revoke"))
        .build()
        .expect("a valid configuration")
}

/// Convirza V2.
pub fn convirza_v2() -> ConvirzaV2 {
    ConvirzaV2::builder("system", CLIENT_SECRET, "user@convirza.com", PASSWORD)
        .token_url(format!("{LOCAL}/oauth/token"))
        .build()
        .expect("a valid configuration")
}

/// Convirza V3.
pub fn convirza_v3() -> ConvirzaV3 {
    ConvirzaV3::builder("user@example.com", PASSWORD)
        .base_url(LOCAL)
        .build()
        .expect("a valid configuration")
}

/// Convercus through Keycloak, with a password.
pub fn convercus() -> Convercus {
    Convercus::builder("abc", Environment::Staging, CLIENT_SECRET)
        .auth_url(LOCAL)
        .password("api-user", PASSWORD)
        .build()
        .expect("a valid configuration")
}

/// The Convercus legacy login.
pub fn convercus_legacy() -> ConvercusLegacy {
    ConvercusLegacy::builder("ACME", "api-user", PASSWORD, Environment::Staging)
        .api_url(LOCAL)
        .build()
        .expect("a valid configuration")
}

/// A server's answer, built from parts a real server could send.
#[derive(Arbitrary, Debug, Clone)]
pub struct Answer {
    /// The status code.
    pub status: StatusChoice,
    /// Headers, in order.
    pub headers: Vec<HeaderChoice>,
    /// The body.
    pub body: BodyChoice,
}

/// A status code: mostly the ones that matter, sometimes any.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum StatusChoice {
    /// 200.
    Ok,
    /// 400.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 429.
    TooManyRequests,
    /// 503.
    Unavailable,
    /// Any code from 100 to 999 (other values wrap into that range).
    Any(u16),
}

impl StatusChoice {
    /// The status code.
    pub fn code(self) -> http::StatusCode {
        let code = match self {
            StatusChoice::Ok => 200,
            StatusChoice::BadRequest => 400,
            StatusChoice::Unauthorized => 401,
            StatusChoice::TooManyRequests => 429,
            StatusChoice::Unavailable => 503,
            StatusChoice::Any(code) => 100 + code % 900,
        };
        http::StatusCode::from_u16(code).expect("100..=999 is a valid status code")
    }
}

/// A header a token endpoint may send.
#[derive(Arbitrary, Debug, Clone)]
pub enum HeaderChoice {
    /// `Retry-After` in seconds.
    RetryAfterSeconds(u64),
    /// `Retry-After` as an HTTP date this many seconds from now.
    RetryAfterDate(i64),
    /// `Date` this many seconds from now.
    Date(i64),
    /// `WWW-Authenticate` with this text.
    WwwAuthenticate(Text),
    /// `Content-Type` with this text.
    ContentType(Text),
    /// `Authorization` with this text (where the legacy login may put its token).
    Authorization(Text),
    /// Any header the bytes make.
    Raw(String, Text),
}

/// A body.
#[derive(Arbitrary, Debug, Clone)]
pub enum BodyChoice {
    /// No bytes.
    Empty,
    /// A JSON object with these fields.
    Object(Vec<(Field, Value)>),
    /// A JSON object whose field `data` holds an object with these fields.
    Nested(Vec<(Field, Value)>),
    /// Any bytes.
    Raw(Vec<u8>),
}

/// A field a token or error response may carry.
#[derive(Arbitrary, Debug, Clone)]
#[allow(missing_docs)]
pub enum Field {
    AccessToken,
    TokenType,
    ExpiresIn,
    RefreshToken,
    RefreshExpiresIn,
    Scope,
    Error,
    ErrorDescription,
    Message,
    Token,
    FrontendToken,
    User,
    Other(String),
}

impl Field {
    fn name(&self) -> &str {
        match self {
            Field::AccessToken => "access_token",
            Field::TokenType => "token_type",
            Field::ExpiresIn => "expires_in",
            Field::RefreshToken => "refresh_token",
            Field::RefreshExpiresIn => "refresh_expires_in",
            Field::Scope => "scope",
            Field::Error => "error",
            Field::ErrorDescription => "error_description",
            Field::Message => "message",
            Field::Token => "token",
            Field::FrontendToken => "frontend_token",
            Field::User => "user",
            Field::Other(name) => name,
        }
    }
}

/// A field's value.
#[derive(Arbitrary, Debug, Clone)]
pub enum Value {
    /// A token the fuzzed server mints: unique per answer.
    Minted,
    /// `"Bearer"`.
    Bearer,
    /// An RFC 6749 error code.
    Code(ErrorCode),
    /// Text.
    Text(Text),
    /// A number.
    Int(i64),
    /// A number with a fraction.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// `null`.
    Null,
    /// An RFC 3339 timestamp this many seconds from now.
    ExpiresAt(i64),
    /// A nested object.
    User(i64, Text),
}

/// The error codes servers send.
#[derive(Arbitrary, Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum ErrorCode {
    InvalidGrant,
    InvalidRequest,
    InvalidClient,
    UnauthorizedClient,
    SlowDown,
    TemporarilyUnavailable,
    InvalidScope,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::InvalidScope => "invalid_scope",
        }
    }
}

/// Text a server sends: arbitrary, or an echo of a secret it was given.
#[derive(Arbitrary, Debug, Clone)]
pub enum Text {
    /// Any text.
    Any(String),
    /// The text with one of the secrets the session holds spliced into it.
    Echo(String, SecretChoice),
}

/// Which secret a server echoes.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum SecretChoice {
    /// The configured client secret.
    ClientSecret,
    /// The configured password.
    Password,
    /// The newest token the server minted.
    Minted,
}

/// Turns structured answers into responses, minting a fresh token for every
/// [`Value::Minted`] and remembering every secret it handed out.
#[derive(Debug, Default)]
pub struct Server {
    minted: Vec<String>,
}

impl Server {
    /// Every token this server minted, oldest first.
    pub fn minted(&self) -> &[String] {
        &self.minted
    }

    fn mint(&mut self) -> String {
        let token = format!("mint{:04}Tk9vRr2Lq", self.minted.len());
        self.minted.push(token.clone());
        token
    }

    fn text(&self, text: &Text) -> String {
        match text {
            Text::Any(text) => text.clone(),
            Text::Echo(text, secret) => {
                let secret = match secret {
                    SecretChoice::ClientSecret => CLIENT_SECRET,
                    SecretChoice::Password => PASSWORD,
                    SecretChoice::Minted => {
                        self.minted.last().map_or(CLIENT_SECRET, String::as_str)
                    }
                };
                let mut at = text.len() / 2;
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                format!("{}{secret}{}", &text[..at], &text[at..])
            }
        }
    }

    fn value(&mut self, value: &Value, now: UtcDateTime) -> serde_json::Value {
        match value {
            Value::Minted => self.mint().into(),
            Value::Bearer => "Bearer".into(),
            Value::Code(code) => code.as_str().into(),
            Value::Text(text) => self.text(text).into(),
            Value::Int(n) => (*n).into(),
            Value::Float(x) => {
                serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
            }
            Value::Bool(b) => (*b).into(),
            Value::Null => serde_json::Value::Null,
            Value::ExpiresAt(seconds) => moment(now, *seconds)
                .format(&Rfc3339)
                .map_or(serde_json::Value::Null, Into::into),
            Value::User(id, email) => serde_json::json!({
                "user_id": id, "email": self.text(email), "role_id": 1, "org_unit_id": 2
            }),
        }
    }

    fn object(&mut self, fields: &[(Field, Value)], now: UtcDateTime) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        for (field, value) in fields {
            let value = self.value(value, now);
            object.insert(field.name().to_owned(), value);
        }
        serde_json::Value::Object(object)
    }

    /// The response `answer` describes, as the server would send it at `now`.
    pub fn respond(&mut self, answer: &Answer, now: UtcDateTime) -> http::Response<Vec<u8>> {
        let body = match &answer.body {
            BodyChoice::Empty => Vec::new(),
            BodyChoice::Object(fields) => self.object(fields, now).to_string().into_bytes(),
            BodyChoice::Nested(fields) => serde_json::json!({ "data": self.object(fields, now) })
                .to_string()
                .into_bytes(),
            BodyChoice::Raw(bytes) => bytes.clone(),
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = answer.status.code();
        for header in &answer.headers {
            let (name, value) = match header {
                HeaderChoice::RetryAfterSeconds(seconds) => (
                    http::header::RETRY_AFTER.as_str().to_owned(),
                    seconds.to_string(),
                ),
                HeaderChoice::RetryAfterDate(seconds) => (
                    http::header::RETRY_AFTER.as_str().to_owned(),
                    http_date(moment(now, *seconds)),
                ),
                HeaderChoice::Date(seconds) => (
                    http::header::DATE.as_str().to_owned(),
                    http_date(moment(now, *seconds)),
                ),
                HeaderChoice::WwwAuthenticate(text) => (
                    http::header::WWW_AUTHENTICATE.as_str().to_owned(),
                    self.text(text),
                ),
                HeaderChoice::ContentType(text) => (
                    http::header::CONTENT_TYPE.as_str().to_owned(),
                    self.text(text),
                ),
                HeaderChoice::Authorization(text) => (
                    http::header::AUTHORIZATION.as_str().to_owned(),
                    self.text(text),
                ),
                HeaderChoice::Raw(name, text) => (name.clone(), self.text(text)),
            };
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(&value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

/// `now` moved by `seconds`, saturating at the ends of time.
pub fn moment(now: UtcDateTime, seconds: i64) -> UtcDateTime {
    now.checked_add(Duration::seconds(seconds))
        .unwrap_or(if seconds < 0 {
            UtcDateTime::MIN
        } else {
            UtcDateTime::MAX
        })
}

fn http_date(at: UtcDateTime) -> String {
    // An IMF-fixdate where one exists; servers outside that range send something like
    // RFC 2822 instead.
    match u64::try_from((at - UtcDateTime::UNIX_EPOCH).whole_seconds()) {
        Ok(seconds) if at.year() <= 9999 => {
            httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds))
        }
        _ => at.format(&Rfc2822).unwrap_or_default(),
    }
}

/// Panics if `shown` holds any of the secrets in `held`.
pub fn assert_no_secret(shown: &str, held: &[String]) {
    for secret in held {
        assert!(
            !shown.contains(secret.as_str()),
            "a secret leaked into: {shown}"
        );
    }
}
