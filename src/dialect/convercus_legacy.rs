//! Convercus legacy login: `POST {api_url}/auth/login`, a 24-hour token, no refresh.

use super::provider::{Provider, Setting, Settings};
use std::fmt;

use http::HeaderName;
use oauth2::basic::BasicErrorResponseType as Code;
use oauth2::{RefreshToken, ResourceOwnerPassword};
use time::Duration;

use super::request::{json_object, post, JSON};
use super::response::{error_failure, retry_after};
use super::url::Endpoint;
use super::{Dialect, Environment, Secrets};
use crate::bearer::access_token_with_room;
use crate::error::{ConfigError, Failure, FailureKind, Malformed};
use crate::policy::{LoginCredentials, MAX_LIFETIME};
use crate::request::{Purpose, TokenKind};
use crate::token::{Expiry, TokenGrant};
use crate::wipe::wipe_login;

/// Where the legacy login response carries the token. Convercus does not document the
/// response, so this is configuration; the default is [`TokenLocation::json_field`]
/// `"token"`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenLocation {
    /// A string field of the JSON body, found by a dot-separated path of object keys
    /// (`"token"`, `"data.accessToken"`).
    JsonField(Vec<String>),
    /// A response header; a leading `Bearer ` is stripped.
    Header(HeaderName),
}

impl TokenLocation {
    /// A JSON field by dot-separated path.
    pub fn json_field(path: &str) -> Self {
        TokenLocation::JsonField(path.split('.').map(str::to_owned).collect())
    }

    /// A response header.
    pub fn header(name: HeaderName) -> Self {
        TokenLocation::Header(name)
    }
}

impl Default for TokenLocation {
    fn default() -> Self {
        TokenLocation::json_field("token")
    }
}

/// Convercus's legacy login, for programs not yet moved to
/// [`Convercus`](super::Convercus)'s Keycloak.
///
/// - **Login**: `POST {api_url}/auth/login` with JSON `{"org", "userName", "password"}`;
///   `api_url` is `https://staging.convercus.io` or `https://api.convercus.io` by
///   [`Environment`].
/// - **Response**: not documented. The token is read from [`TokenLocation`] (default:
///   the JSON field `token`; a nested field or a response header can be configured).
///   Its lifetime is the documented 24 hours ([`ConvercusLegacyBuilder::token_lifetime`]),
///   whatever the body says.
/// - **Renewal**: no refresh; "generate it regularly": a new login at 80 % of the
///   lifetime ([`Policy::refresh_fraction`](crate::Policy::refresh_fraction)).
/// - **Revocation**: none: revoking only forgets the token.
/// - **Errors**: 401 or 403 means the credentials are wrong; 400 that the request was
///   refused; 5xx are retried with backoff.
///
/// ```
/// use oauth_lifecycle::dialect::{ConvercusLegacy, Environment, TokenLocation};
///
/// let dialect = ConvercusLegacy::builder("ORG", "api-user", "password", Environment::Production)
///     .token_location(TokenLocation::header(http::header::AUTHORIZATION))
///     .build()?;
/// # Ok::<(), oauth_lifecycle::ConfigError>(())
/// ```
pub struct ConvercusLegacy {
    login: Endpoint,
    login_body: Vec<u8>,
    password: ResourceOwnerPassword,
    /// The password with its echo forms.
    secrets: Secrets,
    location: TokenLocation,
    lifetime: Duration,
}

impl ConvercusLegacy {
    /// The documented token lifetime.
    pub const TOKEN_LIFETIME: Duration = Duration::hours(24);

    /// Starts a configuration with the organization code, the API user and its password.
    pub fn builder(
        org: impl Into<String>,
        user_name: impl Into<String>,
        password: impl Into<String>,
        environment: Environment,
    ) -> ConvercusLegacyBuilder {
        let api_url = match environment {
            Environment::Staging => "https://staging.convercus.io",
            Environment::Production => "https://api.convercus.io",
        };
        ConvercusLegacyBuilder {
            api_url: api_url.to_owned(),
            org: org.into(),
            user_name: user_name.into(),
            password: password.into(),
            location: TokenLocation::default(),
            lifetime: Self::TOKEN_LIFETIME,
        }
    }
}

impl fmt::Debug for ConvercusLegacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvercusLegacy")
            .field("login", self.login.uri())
            .field("password", &"[redacted]")
            .field("location", &self.location)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// Builds a [`ConvercusLegacy`] dialect.
#[must_use]
#[derive(Clone)]
pub struct ConvercusLegacyBuilder {
    api_url: String,
    org: String,
    user_name: String,
    password: String,
    location: TokenLocation,
    lifetime: Duration,
}

impl fmt::Debug for ConvercusLegacyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvercusLegacyBuilder")
            .field("api_url", &self.api_url)
            .field("org", &self.org)
            .field("user_name", &self.user_name)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

impl ConvercusLegacyBuilder {
    /// Another API host (scheme and authority: a proxy, or an emulator on loopback).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = url.into();
        self
    }

    /// Where the response carries the token. Default: the JSON field `token`.
    pub fn token_location(mut self, location: TokenLocation) -> Self {
        self.location = location;
        self
    }

    /// How long a token lives. Default [`ConvercusLegacy::TOKEN_LIFETIME`] (24 hours).
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Checks the configuration and precomputes the login body.
    pub fn build(self) -> Result<ConvercusLegacy, ConfigError> {
        let base = Endpoint::parse(&self.api_url, "api")?;
        if !self.lifetime.is_positive() || self.lifetime > MAX_LIFETIME {
            return Err(ConfigError::InvalidSetting {
                setting: "token_lifetime",
                reason: "must be positive and at most ten years",
            });
        }
        if let TokenLocation::JsonField(path) = &self.location {
            if path.is_empty() || path.iter().any(String::is_empty) {
                return Err(ConfigError::InvalidSetting {
                    setting: "token_location",
                    reason: "a JSON path needs non-empty keys",
                });
            }
        }
        Ok(ConvercusLegacy {
            login: base.with_path("/auth/login", "login")?,
            login_body: json_object(&[
                ("org", &self.org),
                ("userName", &self.user_name),
                ("password", &self.password),
            ]),
            secrets: Secrets::new([self.password.as_str()]),
            password: ResourceOwnerPassword::new(self.password),
            location: self.location,
            lifetime: self.lifetime,
        })
    }
}

impl ConvercusLegacy {
    fn token(&self, response: &http::Response<Vec<u8>>) -> Result<String, Failure> {
        let status = response.status();
        let missing = || {
            Failure::new(
                FailureKind::Malformed(Malformed::MissingAccessToken),
                Some(status),
            )
        };
        let token = match &self.location {
            TokenLocation::Header(name) => {
                let value = response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .ok_or_else(missing)?
                    .trim();
                match value.split_once(' ') {
                    Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                        token.trim().to_owned()
                    }
                    _ => value.to_owned(),
                }
            }
            TokenLocation::JsonField(path) => {
                let body: serde_json::Value =
                    serde_json::from_slice(response.body()).map_err(|_| {
                        Failure::new(FailureKind::Malformed(Malformed::NotJson), Some(status))
                    })?;
                let mut value = &body;
                for key in path {
                    value = value.get(key).ok_or_else(missing)?;
                }
                value.as_str().ok_or_else(missing)?.to_owned()
            }
        };
        if token.is_empty() {
            return Err(missing());
        }
        Ok(token)
    }
}

/// The password, and the login body built from it, are wiped when the dialect is dropped.
impl Drop for ConvercusLegacy {
    fn drop(&mut self) {
        wipe_login(&mut self.password, &mut self.login_body);
    }
}

impl Dialect for ConvercusLegacy {
    type Extra = ();

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

    fn refresh_request(&self, _refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>> {
        None
    }

    fn revocation_request(&self, _token: &str, _kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        None
    }

    fn parse_token_response(
        &self,
        _purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<()>, Failure> {
        let status = response.status();
        let code = match status.as_u16() {
            401 | 403 => Some(Code::InvalidGrant),
            400 => Some(Code::InvalidRequest),
            _ => None,
        };
        if let Some(code) = code {
            return Err(Failure::oauth(status, code, None).with_retry_after(retry_after(response)));
        }
        if !status.is_success() {
            return Err(error_failure(response));
        }
        Ok(TokenGrant {
            access_token: access_token_with_room(&self.token(response)?),
            refresh_token: None,
            expires: Expiry::In(self.lifetime.whole_seconds()),
            refresh_expires: None,
            scope: None,
            extra: (),
        })
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}

impl Provider for ConvercusLegacy {
    const NAME: &'static str = "convercus-legacy";
    const ABOUT: &'static str = "Convercus legacy login: a 24-hour token, no refresh";
    const SETTINGS: &'static [Setting] = &[
        Setting::required("org", "the organization code", "ACME"),
        Setting::required("username", "the API user", "api-user"),
        Setting::required("password", "the API user's password", "example-password").secret(),
        super::convercus::ENVIRONMENT_SETTING,
        Setting::optional(
            "api_url",
            "another API host (scheme and authority)",
            "the environment's",
            "https://api.convercus.io",
        ),
        Setting::optional(
            "token_field",
            "where the login response carries the token: a JSON field path",
            "token",
            "data.accessToken",
        ),
        Setting::optional(
            "token_header",
            "... or a response header (not both)",
            "none",
            "x-auth-token",
        ),
    ];

    fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut builder = ConvercusLegacy::builder(
            settings.required("org")?,
            settings.required("username")?,
            settings.required("password")?,
            super::convercus::environment(settings),
        );
        if let Some(url) = settings.get("api_url") {
            builder = builder.api_url(url);
        }
        match (settings.get("token_field"), settings.get("token_header")) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::InvalidSetting {
                    setting: "token_header",
                    reason: "give `token_field` or `token_header`, not both",
                })
            }
            (Some(field), None) => {
                builder = builder.token_location(TokenLocation::json_field(field))
            }
            (None, Some(header)) => {
                let header =
                    HeaderName::try_from(header).map_err(|_| ConfigError::InvalidSetting {
                        setting: "token_header",
                        reason: "not a header name",
                    })?;
                builder = builder.token_location(TokenLocation::Header(header));
            }
            (None, None) => {}
        }
        builder.build()
    }
}
