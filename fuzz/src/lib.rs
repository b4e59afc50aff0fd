//! What the fuzz targets share: every provider of the core's registry
//! (`oauth_lifecycle::providers!`), configured from its own settings with known secrets
//! ([`Variant`], [`with_dialect!`]), and server answers built from structured arbitrary
//! data, so the fuzzer reaches deep states of the session quickly instead of spending its
//! time on JSON syntax.
//!
//! Each target states its invariants; a panic is a finding.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arbitrary::Arbitrary;
use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionClaims, AssertionError, AssertionMethod, AssertionSource,
};
use oauth_lifecycle::dialect::{self, Need, Setting, Settings};
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

/// The signature part of every assertion the fuzz source mints: it may never show in
/// `Debug` or `Display` output (the core sees no key; a leaked signature is a leaked
/// assertion).
pub const ASSERTION_SIGNATURE: &str = "ZnV6ei1hc3NlcnRpb24tc2lnbmF0dXJl";

/// Every `jti` the fuzz sources minted in this process, across restarts: each one new.
static MINTED: AtomicU64 = AtomicU64::new(0);

/// The assertion source of a variant that calls for one: mints unsigned assertions for
/// the claims, or fails as [`Variant::assertion`] says.
#[derive(Debug, Clone, Copy)]
pub struct FuzzAssertions {
    /// 0: always an assertion; 1: never (the source is unavailable); 2: one already
    /// expired; 3: every other call fails.
    pub mode: u8,
    /// The method it serves.
    pub method: AssertionMethod,
}

impl AssertionSource for FuzzAssertions {
    fn method(&self) -> AssertionMethod {
        self.method
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        let n = MINTED.fetch_add(1, Ordering::Relaxed);
        let unavailable = AssertionError::Unavailable {
            reason: "the fuzz source is down".into(),
        };
        let claims = match self.mode % 4 {
            1 => return Err(unavailable),
            3 if n % 2 == 0 => return Err(unavailable),
            2 => AssertionClaims {
                expires_at: claims.issued_at,
                ..claims.clone()
            },
            _ => claims.clone(),
        };
        use base64::Engine as _;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        Assertion::new(format!(
            "{}.{}.{ASSERTION_SIGNATURE}",
            encode(br#"{"alg":"ES256"}"#),
            encode(&claims.to_json(&format!("fuzz-jti-{n}")))
        ))
    }
}

/// The awkward secret a secret setting is given: [`CLIENT_SECRET`] for `client_secret`,
/// [`PASSWORD`] for any other.
pub fn secret_for(key: &str) -> &'static str {
    if key == "client_secret" {
        CLIENT_SECRET
    } else {
        PASSWORD
    }
}

/// Generates [`Provider`] and [`with_dialect!`] from the core's one list of providers,
/// so a provider added there is fuzzed without a change here. The `$d` argument is a
/// `$`, for the metavariables of the macro it defines.
macro_rules! registry {
    ($($name:ident: $dialect:path),* $(,)?) => {
        registry! { @with ($) $($name: $dialect),* }
    };
    (@with ($d:tt) $($name:ident: $dialect:path),*) => {
        /// One provider of the core's registry (`oauth_lifecycle::providers!`).
        #[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Provider {
            $(
                #[doc = concat!("The `", stringify!($name), "` dialect.")]
                $name,
            )*
        }

        impl Provider {
            /// Every provider, in the registry's order.
            pub const ALL: &'static [Provider] = &[$(Provider::$name),*];

            /// The provider's name in configuration.
            pub fn name(self) -> &'static str {
                match self {
                    $(Provider::$name => <$dialect as dialect::Provider>::NAME,)*
                }
            }

            /// The provider's settings.
            pub fn settings(self) -> &'static [Setting] {
                match self {
                    $(Provider::$name => <$dialect as dialect::Provider>::SETTINGS,)*
                }
            }
        }

        /// Runs `$body` with `$make` bound to a closure that builds the dialect of
        /// `$variant` (a [`Variant`]): a `Copy` closure `Fn() -> D` for that provider's
        /// dialect type `D`.
        #[macro_export]
        macro_rules! with_dialect {
            ($d variant:expr, |$d make:ident| $d body:expr) => {{
                let variant: $crate::Variant = $d variant;
                match variant.provider {
                    $(
                        $crate::Provider::$name => {
                            let $d make = move || $crate::configure::<$dialect>(variant);
                            $d body
                        }
                    )*
                }
            }};
        }
    };
}

oauth_lifecycle::providers!(registry);

/// A provider and how it is configured: its settings' examples
/// ([`Settings::examples`]), with every secret an awkward one ([`secret_for`]) and the
/// optional settings `toggles` picks flipped.
///
/// Bit `i` of `toggles` flips the provider's `i`-th optional setting: one the examples
/// leave out is given its example, one they give (a condition such as `grant =
/// password`) is left out, and the settings that depend on it follow. So
/// `refresh_token_use = reusable` is a toggle of every provider that has the setting,
/// and so are a Standard client secret, a revocation endpoint or the client-credentials
/// grant. A combination the provider refuses falls back to the examples.
#[derive(Arbitrary, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// The provider.
    pub provider: Provider,
    /// Which optional settings are flipped, one bit each in the order of its settings.
    pub toggles: u32,
    /// Which value the provider's `grant` choice takes, when it has one and this is not
    /// 0: a person's login (`device`, `authorization-code`) and the JWT bearer grant
    /// among them.
    pub grant: u8,
    /// Which value the provider's `client_auth` choice takes, when it has one and this is
    /// not 0: the JWT methods among them.
    pub client_auth: u8,
    /// How the assertion source behaves, for a variant that calls for one
    /// ([`FuzzAssertions::mode`]).
    pub assertion: u8,
}

impl Variant {
    /// Every variant one selector byte can name: the provider is `selector % ALL.len()`,
    /// the toggles `selector / ALL.len()`.
    pub fn from_selector(selector: u8) -> Variant {
        let count = Provider::ALL.len();
        let selector = usize::from(selector);
        Variant {
            provider: Provider::ALL[selector % count],
            toggles: u32::try_from(selector / count).expect("a byte's worth"),
            grant: 0,
            client_auth: 0,
            assertion: 0,
        }
    }

    /// The selector byte of this variant, when one names it.
    pub fn selector(self) -> Option<u8> {
        if self.grant != 0 || self.client_auth != 0 || self.assertion != 0 {
            return None;
        }
        let index = Provider::ALL.iter().position(|p| *p == self.provider)?;
        let selector = usize::try_from(self.toggles)
            .ok()?
            .checked_mul(Provider::ALL.len())?
            .checked_add(index)?;
        u8::try_from(selector).ok()
    }

    /// The optional settings this variant flips.
    pub fn flipped(self) -> impl Iterator<Item = &'static Setting> {
        optional(self.provider.settings())
            .enumerate()
            .filter(move |(bit, _)| self.toggles >> bit & 1 == 1)
            .map(|(_, setting)| setting)
    }

    /// The settings this variant asks for (before the fallback to the examples).
    pub fn settings(self) -> Settings<'static> {
        settings(self.provider.settings(), &self)
    }
}

impl fmt::Debug for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flipped: Vec<&str> = self.flipped().map(|setting| setting.key).collect();
        f.debug_struct("Variant")
            .field("provider", &self.provider.name())
            .field("flipped", &flipped)
            .field("grant", &self.settings().get("grant"))
            .field("client_auth", &self.settings().get("client_auth"))
            .field("assertion", &self.assertion)
            .finish()
    }
}

/// The optional settings of `known`, in order: the ones [`Variant::toggles`] flips.
fn optional(known: &'static [Setting]) -> impl Iterator<Item = &'static Setting> {
    known
        .iter()
        .filter(|setting| setting.need == Need::Optional)
        .take(32)
}

/// The examples of `known`, the optional settings `toggles` picks flipped, the
/// conditional ones following their conditions, every secret an awkward one.
fn settings(known: &'static [Setting], variant: &Variant) -> Settings<'static> {
    let (toggles, grant) = (variant.toggles, variant.grant);
    let mut settings = Settings::examples(known);
    for (bit, setting) in optional(known).enumerate() {
        if toggles >> bit & 1 == 1 {
            match settings.get(setting.key) {
                Some(_) => settings.remove(setting.key),
                None => settings.set(setting.key, setting.example),
            }
        }
    }
    let choices = known
        .iter()
        .find(|setting| setting.key == "grant")
        .map_or(&[][..], |setting| setting.choices);
    if grant != 0 && !choices.is_empty() {
        settings.set("grant", choices[usize::from(grant) % choices.len()]);
    }
    let auth_choices = known
        .iter()
        .find(|setting| setting.key == "client_auth")
        .map_or(&[][..], |setting| setting.choices);
    if variant.client_auth != 0 && !auth_choices.is_empty() {
        let choice = auth_choices[usize::from(variant.client_auth) % auth_choices.len()];
        settings.set("client_auth", choice);
    }
    let method = match settings.get("client_auth") {
        Some("client-secret-jwt") => AssertionMethod::ClientSecretJwt,
        _ => AssertionMethod::PrivateKeyJwt,
    };
    settings = settings.with_assertion_source(Arc::new(FuzzAssertions {
        mode: variant.assertion,
        method,
    }));
    for setting in known {
        if let Need::When { .. } = setting.need {
            match (setting.is_needed(&settings), settings.get(setting.key)) {
                (true, None) => settings.set(setting.key, setting.example),
                (false, Some(_)) => settings.remove(setting.key),
                _ => {}
            }
        }
    }
    for setting in known.iter().filter(|setting| setting.secret) {
        if settings.get(setting.key).is_some() {
            settings.set(setting.key, secret_for(setting.key));
        }
    }
    settings
}

/// The dialect of `variant`, which names provider `P`: configured with
/// [`Variant::settings`], or with the examples (and awkward secrets) where the
/// provider refuses that combination.
pub fn configure<P: dialect::Provider>(variant: Variant) -> P {
    P::configure(&settings(P::SETTINGS, &variant)).unwrap_or_else(|_| {
        P::configure(&settings(P::SETTINGS, &Variant::from_selector(0)))
            .unwrap_or_else(|e| panic!("{}: the examples must configure: {e}", P::NAME))
    })
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
    DeviceCode,
    UserCode,
    VerificationUri,
    Interval,
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
            Field::DeviceCode => "device_code",
            Field::UserCode => "user_code",
            Field::VerificationUri => "verification_uri",
            Field::Interval => "interval",
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
    AuthorizationPending,
    ExpiredToken,
    AccessDenied,
}

impl ErrorCode {
    fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::AccessDenied => "access_denied",
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every provider of the registry builds in every variant (some by falling back to
    /// the examples), its secret settings the awkward secrets, which its `Debug` never
    /// shows.
    #[test]
    fn every_variant_builds_with_the_awkward_secrets() {
        fn check<D: oauth_lifecycle::Dialect>(variant: Variant, make: impl Fn() -> D) {
            let shown = format!("{:?}", make());
            assert!(!shown.contains(CLIENT_SECRET) && !shown.contains(PASSWORD));
            let settings = variant.settings();
            for setting in variant.provider.settings() {
                if let (true, Some(value)) = (setting.secret, settings.get(setting.key)) {
                    assert_eq!(value, secret_for(setting.key), "{variant:?}");
                }
            }
        }
        for &provider in Provider::ALL {
            let optional = optional(provider.settings()).count();
            assert!(optional <= 16, "{}: too many to try", provider.name());
            for toggles in 0..1_u32 << optional {
                for grant in 0..6 {
                    let variant = Variant {
                        provider,
                        toggles,
                        grant,
                        client_auth: 0,
                        assertion: 0,
                    };
                    with_dialect!(variant, |make| check(variant, make));
                }
            }
            for client_auth in 0..5 {
                for assertion in 0..4 {
                    let variant = Variant {
                        provider,
                        toggles: 0,
                        grant: 0,
                        client_auth,
                        assertion,
                    };
                    with_dialect!(variant, |make| check(variant, make));
                }
            }
        }
    }

    #[test]
    fn a_selector_names_the_variant_it_selects() {
        for selector in 0..=u8::MAX {
            let variant = Variant::from_selector(selector);
            assert_eq!(variant.selector(), Some(selector));
        }
        assert_eq!(Variant::from_selector(0).toggles, 0);
    }
}
