//! Convirza V3: JSON login, single-use refresh rotation, absolute expiries, sliding access
//! tokens.

use super::provider::{Provider, Setting, Settings};
use std::borrow::Cow;
use std::fmt;

use oauth2::basic::BasicErrorResponseType as Code;
use oauth2::{RefreshToken, ResourceOwnerPassword};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use time::Duration;

use super::request::{json_object, post, JSON};
use super::response::{borrowed, error_failure, retry_after, token_text};
use super::url::Endpoint;
use super::{Dialect, ExtraFields, RefreshTokenUse, Secrets};
use crate::bearer::access_token_with_room;
use crate::error::{ConfigError, Failure, FailureKind, Malformed};
use crate::policy::{LoginCredentials, RequestBudget};
use crate::request::{Purpose, TokenKind};
use crate::token::{parse_timestamp, Expiry, TokenGrant};
use crate::wipe::wipe_login;

/// Convirza V3 (`platform-oauth.convirza.com`).
///
/// - **Login**: `POST /oauth/token` with JSON `{"email", "password"}` (no client id, no
///   grant type). Limited to 10 requests per minute per IP: like
///   [`ConvirzaV2`](super::ConvirzaV2), the session keeps its logins and refreshes within
///   [`ConvirzaV3::DEFAULT_BUDGET`] (refreshes are counted too, conservatively).
/// - **Expiries**: `expires_in` and `refresh_expires_in` are absolute ISO 8601 UTC
///   timestamps (with or without fractional seconds or an offset; none means UTC),
///   corrected for the server's clock offset by the `Date` header. A number is read as
///   seconds, leniently.
/// - **Refresh**: `POST /oauth/refresh-token` with `{"refresh_token"}`. Rotation is
///   single-use: the refresh token is spent when its request is sent. After a lost
///   response the session logs in again with the configured credentials; a failed refresh
///   is never retried with the same token. The refresh token's lifetime (6 months) is
///   tracked: one that will be dead when renewal comes is not spent.
/// - **Sliding expiry**: the access token (7 days) is renewed by the provider on each
///   authenticated API call, so reporting a successful call
///   ([`Driver::handle_call_succeeded`](crate::Driver::handle_call_succeeded)) extends its
///   expiry by [`ConvirzaV3Builder::sliding_lifetime`]; a 401 from the API triggers a
///   refresh.
/// - **Revocation**: `POST /oauth/revoke-token` with the raw token and `token_type`
///   `"access"` or `"refresh"`, no bearer; idempotent. The document does not name the
///   token's field: it is `token` by default
///   ([`ConvirzaV3Builder::revocation_token_field`]).
/// - **Errors**: a 400 or 401 answering a refresh means the refresh token is no good (the
///   session logs in again); a 401 answering a login means the credentials are wrong; a
///   400 answering a login means the request was refused; 5xx are retried with backoff.
/// - **Extras**: the `user` object, typed ([`ConvirzaUser`]), and the `frontend_token`,
///   kept (treated as a secret) though an integration never needs it.
///
/// ```
/// use oauth_lifecycle::dialect::ConvirzaV3;
///
/// let dialect = ConvirzaV3::builder("user@example.com", "SecurePassword123!").build()?;
/// # Ok::<(), oauth_lifecycle::ConfigError>(())
/// ```
pub struct ConvirzaV3 {
    login: Endpoint,
    refresh: Endpoint,
    revoke: Endpoint,
    /// The login body, precomputed: it holds the password.
    login_body: Vec<u8>,
    password: ResourceOwnerPassword,
    /// The password with its echo forms.
    secrets: Secrets,
    email: String,
    sliding: Option<Duration>,
    budget: Option<RequestBudget>,
    revocation_token_field: String,
}

impl ConvirzaV3 {
    /// The documented OAuth service.
    pub const BASE_URL: &'static str = "https://platform-oauth.convirza.com";

    /// The documented access-token lifetime, renewed on each authenticated call.
    pub const SLIDING_LIFETIME: Duration = Duration::days(7);

    /// The default request budget: 10 logins or refreshes per 61 seconds.
    pub const DEFAULT_BUDGET: RequestBudget = RequestBudget::per_window(10, Duration::seconds(61));

    /// Starts a configuration with the user's credentials.
    pub fn builder(email: impl Into<String>, password: impl Into<String>) -> ConvirzaV3Builder {
        ConvirzaV3Builder {
            base_url: Self::BASE_URL.to_owned(),
            email: email.into(),
            password: password.into(),
            sliding: Some(Self::SLIDING_LIFETIME),
            budget: Some(Self::DEFAULT_BUDGET),
            revocation_token_field: "token".to_owned(),
        }
    }
}

impl fmt::Debug for ConvirzaV3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaV3")
            .field("login", self.login.uri())
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .field("sliding", &self.sliding)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ConvirzaV3`] dialect.
#[must_use]
#[derive(Clone)]
pub struct ConvirzaV3Builder {
    base_url: String,
    email: String,
    password: String,
    sliding: Option<Duration>,
    budget: Option<RequestBudget>,
    revocation_token_field: String,
}

impl fmt::Debug for ConvirzaV3Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaV3Builder")
            .field("base_url", &self.base_url)
            .field("email", &self.email)
            .field("sliding", &self.sliding)
            .finish_non_exhaustive()
    }
}

impl ConvirzaV3Builder {
    /// Another OAuth service (scheme and authority: a proxy, or an emulator on loopback).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// The life a successful authenticated call gives the access token; `None` turns
    /// sliding off. Default [`ConvirzaV3::SLIDING_LIFETIME`] (7 days).
    pub fn sliding_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.sliding = lifetime;
        self
    }

    /// The cap on this session's logins and refreshes; `None` lifts it. Default
    /// [`ConvirzaV3::DEFAULT_BUDGET`].
    pub fn request_budget(mut self, budget: Option<RequestBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// The JSON field carrying the token in a revocation request. Default `token`.
    pub fn revocation_token_field(mut self, field: impl Into<String>) -> Self {
        self.revocation_token_field = field.into();
        self
    }

    /// Checks the configuration and precomputes the login body.
    pub fn build(self) -> Result<ConvirzaV3, ConfigError> {
        let base = Endpoint::parse(&self.base_url, "base")?;
        if self.email.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "email",
                reason: "must not be empty",
            });
        }
        if self.sliding.is_some_and(|lifetime| {
            !lifetime.is_positive() || lifetime > crate::policy::MAX_LIFETIME
        }) {
            return Err(ConfigError::InvalidSetting {
                setting: "sliding_lifetime",
                reason: "must be positive and at most ten years",
            });
        }
        if self.revocation_token_field.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "revocation_token_field",
                reason: "must not be empty",
            });
        }
        Ok(ConvirzaV3 {
            login: base.with_path("/oauth/token", "token")?,
            refresh: base.with_path("/oauth/refresh-token", "refresh")?,
            revoke: base.with_path("/oauth/revoke-token", "revocation")?,
            login_body: json_object(&[("email", &self.email), ("password", &self.password)]),
            email: self.email,
            secrets: Secrets::new([self.password.as_str()]),
            password: ResourceOwnerPassword::new(self.password),
            sliding: self.sliding,
            budget: self.budget,
            revocation_token_field: self.revocation_token_field,
        })
    }
}

/// The `user` object of a Convirza V3 token response. The email address is personal
/// data and a server could put anything there: `Debug` and redacted snapshots hide it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConvirzaUser {
    /// The user's id.
    pub user_id: i64,
    /// The user's email address.
    pub email: String,
    /// The user's role.
    pub role_id: i64,
    /// The organizational unit the user belongs to.
    pub org_unit_id: i64,
}

/// The Convirza V3 fields of a token response that are not tokens or expiries.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConvirzaV3Extra {
    /// The logged-in user, when the response describes one of the documented shape.
    pub user: Option<ConvirzaUser>,
    /// The web app's session-tracking hash: kept, never needed by an integration, and
    /// treated as a secret (never in `Debug`, redacted in redacted snapshots).
    pub frontend_token: Option<String>,
}

impl fmt::Debug for ConvirzaUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaUser")
            .field("user_id", &self.user_id)
            .field("email", &"[redacted]")
            .field("role_id", &self.role_id)
            .field("org_unit_id", &self.org_unit_id)
            .finish()
    }
}

impl fmt::Debug for ConvirzaV3Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaV3Extra")
            .field("user", &self.user)
            .field(
                "frontend_token",
                &self.frontend_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

impl ExtraFields for ConvirzaV3Extra {
    fn redact(&mut self) {
        if let Some(token) = &mut self.frontend_token {
            "[redacted]".clone_into(token);
        }
        if let Some(user) = &mut self.user {
            "[redacted]".clone_into(&mut user.email);
        }
    }
}

/// A Convirza V3 token response, borrowing from the bytes. Unknown fields are ignored;
/// a `user` of another shape reads as absent.
#[derive(Deserialize)]
struct Body<'a> {
    #[serde(borrow, default, deserialize_with = "token_text")]
    access_token: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "token_text")]
    refresh_token: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    frontend_token: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    token_type: Option<Cow<'a, str>>,
    #[serde(default)]
    expires_in: Option<Stamp>,
    #[serde(default)]
    refresh_expires_in: Option<Stamp>,
    #[serde(default, deserialize_with = "lenient_user")]
    user: Option<ConvirzaUser>,
}

/// The error body's explanation, if it has one: `message`, `error_description` or
/// `error`.
#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default, deserialize_with = "borrowed")]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    error_description: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "borrowed")]
    error: Option<Cow<'a, str>>,
}

/// An expiry as Convirza V3 states it: an ISO 8601 timestamp (or, leniently, seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stamp {
    Expiry(Expiry),
    Unreadable,
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StampVisitor;
        impl<'v> Visitor<'v> for StampVisitor {
            type Value = Stamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 8601 timestamp")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Stamp, E> {
                Ok(parse_timestamp(v)
                    .map(|at| Stamp::Expiry(Expiry::At(at)))
                    .or_else(|| v.trim().parse().ok().map(|s| Stamp::Expiry(Expiry::In(s))))
                    .unwrap_or(Stamp::Unreadable))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Stamp, E> {
                Ok(Stamp::Expiry(Expiry::In(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Stamp, E> {
                Ok(i64::try_from(v).map_or(Stamp::Unreadable, |v| Stamp::Expiry(Expiry::In(v))))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Stamp, E> {
                Ok(Stamp::Unreadable)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Stamp, E> {
                Ok(Stamp::Unreadable)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Stamp, E> {
                Ok(Stamp::Unreadable)
            }
            fn visit_seq<A: de::SeqAccess<'v>>(self, mut seq: A) -> Result<Stamp, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Stamp::Unreadable)
            }
            fn visit_map<A: de::MapAccess<'v>>(self, mut map: A) -> Result<Stamp, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Stamp::Unreadable)
            }
        }
        deserializer.deserialize_any(StampVisitor)
    }
}

fn lenient_user<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<ConvirzaUser>, D::Error> {
    // Kept as the raw text and read on its own, so a `user` of another shape costs no
    // tree of values and fails only itself.
    let raw = <&serde_json::value::RawValue>::deserialize(deserializer)?;
    Ok(serde_json::from_str(raw.get()).ok())
}

fn malformed(reason: Malformed, status: http::StatusCode) -> Failure {
    Failure::new(FailureKind::Malformed(reason), Some(status))
}

/// Reads a Convirza V3 error: the status decides what it means, by purpose.
fn error(purpose: Purpose, response: &http::Response<Vec<u8>>) -> Failure {
    let status = response.status();
    let code = match (purpose, status.as_u16()) {
        // The refresh token is unknown, spent, revoked or expired: log in again.
        (Purpose::Refresh, 400 | 401) => Some(Code::InvalidGrant),
        // Wrong email or password.
        (_, 401) => Some(Code::InvalidGrant),
        (_, 400) => Some(Code::InvalidRequest),
        _ => None,
    };
    let Some(code) = code else {
        return error_failure(response);
    };
    let body = serde_json::from_slice::<ErrorBody<'_>>(response.body()).ok();
    let description = body.as_ref().and_then(|b| {
        b.message
            .as_deref()
            .or(b.error_description.as_deref())
            .or(b.error.as_deref())
    });
    Failure::oauth(status, code, description).with_retry_after(retry_after(response))
}

/// The password, and the login body built from it, are wiped when the dialect is dropped.
impl Drop for ConvirzaV3 {
    fn drop(&mut self) {
        wipe_login(&mut self.password, &mut self.login_body);
    }
}

impl Dialect for ConvirzaV3 {
    type Extra = ConvirzaV3Extra;

    fn login_request(&self) -> Option<http::Request<Vec<u8>>> {
        Some(post(&self.login, JSON, self.login_body.clone()))
    }

    fn can_login(&self) -> bool {
        true
    }

    /// A person's (or an API user's) password.
    fn login_credentials(&self) -> LoginCredentials {
        LoginCredentials::Password
    }

    fn refresh_request(&self, refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>> {
        let body = json_object(&[("refresh_token", refresh_token.secret())]);
        Some(post(&self.refresh, JSON, body))
    }

    fn refresh_token_use(&self) -> RefreshTokenUse {
        RefreshTokenUse::SingleUse
    }

    /// Convirza V3 invalidates a refresh token the moment it is used: one never serves
    /// twice, so an answer without a new one leaves the session to log in next time.
    fn refresh_token_outlives_refresh(&self) -> bool {
        false
    }

    fn revocation_request(&self, token: &str, kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        let kind = match kind {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        };
        let body = json_object(&[(&self.revocation_token_field, token), ("token_type", kind)]);
        Some(post(&self.revoke, JSON, body))
    }

    fn parse_token_response(
        &self,
        purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<ConvirzaV3Extra>, Failure> {
        let status = response.status();
        if !status.is_success() {
            return Err(error(purpose, response));
        }
        let body: Body<'_> = serde_json::from_slice(response.body())
            .map_err(|_| malformed(Malformed::NotJson, status))?;
        let access_token = match body.access_token {
            Some(token) if !token.is_empty() => access_token_with_room(&token),
            _ => return Err(malformed(Malformed::MissingAccessToken, status)),
        };
        // Always "Bearer" in the documents; a missing type is read as Bearer.
        if body
            .token_type
            .as_deref()
            .is_some_and(|kind| !kind.eq_ignore_ascii_case("bearer"))
        {
            return Err(malformed(Malformed::UnsupportedTokenType, status));
        }
        let expires = match body.expires_in {
            Some(Stamp::Expiry(expiry)) => expiry,
            Some(Stamp::Unreadable) => return Err(malformed(Malformed::UnreadableExpiry, status)),
            None => Expiry::Unstated,
        };
        let refresh_expires = match body.refresh_expires_in {
            Some(Stamp::Expiry(expiry)) => Some(expiry),
            _ => None,
        };
        Ok(TokenGrant {
            access_token,
            refresh_token: body
                .refresh_token
                .filter(|token| !token.is_empty())
                .map(|token| RefreshToken::new(token.into_owned())),
            expires,
            refresh_expires,
            scope: None,
            extra: ConvirzaV3Extra {
                user: body.user,
                frontend_token: body.frontend_token.map(Cow::into_owned),
            },
        })
    }

    fn sliding_lifetime(&self) -> Option<Duration> {
        self.sliding
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn request_budget(&self) -> Option<RequestBudget> {
        self.budget
    }
}

impl Provider for ConvirzaV3 {
    const NAME: &'static str = "convirza-v3";
    const ABOUT: &'static str =
        "Convirza V3: JSON login, sliding tokens, single-use refresh tokens";
    const SETTINGS: &'static [Setting] = &[
        Setting::required("username", "the user's email", "user@example.com"),
        Setting::required("password", "the user's password", "example-password").secret(),
        Setting::optional(
            "base_url",
            "the platform's scheme and host",
            ConvirzaV3::BASE_URL,
            "https://platform-oauth.convirza.com",
        ),
    ];

    fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut builder = ConvirzaV3::builder(
            settings.required("username")?,
            settings.required("password")?,
        );
        if let Some(url) = settings.get("base_url") {
            builder = builder.base_url(url);
        }
        builder.build()
    }
}
