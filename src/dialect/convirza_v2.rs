//! Convirza V2 (deprecated by Convirza, still served): an RFC 6749 password grant with a
//! rate-limited token endpoint.

use super::provider::{self, Provider, Setting, Settings};
use std::fmt;

use oauth2::RefreshToken;
use time::Duration;

use super::rfc6749::parse_standard;
use super::{ClientAuth, Dialect, RefreshTokenUse, Standard};
use crate::error::{ConfigError, Failure};
use crate::policy::{LoginCredentials, RequestBudget};
use crate::request::{Purpose, TokenKind};
use crate::token::TokenGrant;

/// Convirza V2 (`apicfa.convirza.com`).
///
/// - **Login**: the password grant, form-encoded, with the client id and secret in the
///   body (not in a Basic header), to `https://apicfa.convirza.com/oauth/token`.
///   `expires_in` is relative (3600 s); the extra `status` field is tolerated.
/// - **Refresh**: Convirza's document only says the refresh token is "returned for future
///   use". This dialect sends the standard `grant_type=refresh_token` to the same
///   endpoint, with the client credentials in the body. Whether the refresh token
///   survives its use is not documented either, so it is treated as single-use (the safe
///   choice: it is never presented twice); [`ConvirzaV2Builder::refresh_token_use`]
///   changes that.
/// - **Rate limit**: the endpoint allows 10 requests per minute per IP. The session keeps
///   its own logins and refreshes within [`ConvirzaV2::DEFAULT_BUDGET`] (10 per 61 s: the
///   extra second absorbs network jitter), so it never causes a 429 by itself; a 429 from
///   traffic it does not see is honoured, with `Retry-After` or by waiting a whole window,
///   and the current token is served meanwhile. The budget is per session: see
///   [`RequestBudget`] for sharing one limit among several.
/// - **Revocation**: none documented: revoking only forgets the tokens.
///
/// ```
/// use oauth_lifecycle::dialect::ConvirzaV2;
///
/// let dialect = ConvirzaV2::builder("system", "client-secret", "user@convirza.com", "password")
///     .build()?;
/// # Ok::<(), oauth_lifecycle::ConfigError>(())
/// ```
pub struct ConvirzaV2 {
    standard: Standard,
    budget: Option<RequestBudget>,
}

impl ConvirzaV2 {
    /// The documented token endpoint.
    pub const TOKEN_URL: &'static str = "https://apicfa.convirza.com/oauth/token";

    /// The default request budget: 10 logins or refreshes per 61 seconds.
    pub const DEFAULT_BUDGET: RequestBudget = RequestBudget::per_window(10, Duration::seconds(61));

    /// Starts a configuration with the OAuth client and the user's credentials.
    pub fn builder(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> ConvirzaV2Builder {
        ConvirzaV2Builder {
            token_url: Self::TOKEN_URL.to_owned(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            username: username.into(),
            password: password.into(),
            budget: Some(Self::DEFAULT_BUDGET),
            refresh_token_use: RefreshTokenUse::SingleUse,
        }
    }
}

impl fmt::Debug for ConvirzaV2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaV2")
            .field("standard", &self.standard)
            .field("budget", &self.budget)
            .finish()
    }
}

/// Builds a [`ConvirzaV2`] dialect.
#[must_use]
#[derive(Clone)]
pub struct ConvirzaV2Builder {
    token_url: String,
    client_id: String,
    client_secret: String,
    username: String,
    password: String,
    budget: Option<RequestBudget>,
    refresh_token_use: RefreshTokenUse,
}

impl fmt::Debug for ConvirzaV2Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaV2Builder")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl ConvirzaV2Builder {
    /// Another token endpoint (a proxy, or an emulator on loopback).
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = url.into();
        self
    }

    /// The cap on this session's logins and refreshes; `None` lifts it. Default
    /// [`ConvirzaV2::DEFAULT_BUDGET`].
    pub fn request_budget(mut self, budget: Option<RequestBudget>) -> Self {
        self.budget = budget;
        self
    }

    /// Whether refresh tokens may be presented twice. Default single-use.
    pub fn refresh_token_use(mut self, refresh_token_use: RefreshTokenUse) -> Self {
        self.refresh_token_use = refresh_token_use;
        self
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<ConvirzaV2, ConfigError> {
        let standard = Standard::builder(self.token_url, self.client_id)
            .client_secret(self.client_secret)
            .client_auth(ClientAuth::Post)
            .password(self.username, self.password)
            .refresh_token_use(self.refresh_token_use)
            .build()?;
        Ok(ConvirzaV2 {
            standard,
            budget: self.budget,
        })
    }
}

impl Dialect for ConvirzaV2 {
    type Extra = ();

    super::delegate_to_standard!();

    fn revocation_request(&self, _token: &str, _kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        None
    }

    fn parse_token_response(
        &self,
        _purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<()>, Failure> {
        parse_standard(response)
    }

    fn request_budget(&self) -> Option<RequestBudget> {
        self.budget
    }
}

impl Provider for ConvirzaV2 {
    const NAME: &'static str = "convirza-v2";
    const ABOUT: &'static str = "Convirza V2: password grant, 10 token requests a minute";
    const SETTINGS: &'static [Setting] = &[
        Setting::required("client_id", "the OAuth client id", "system"),
        Setting::required(
            "client_secret",
            "the client secret",
            "example-client-secret",
        )
        .secret(),
        Setting::required("username", "the user's email", "user@convirza.com"),
        Setting::required("password", "the user's password", "example-password").secret(),
        Setting::optional(
            "token_url",
            "the token endpoint",
            ConvirzaV2::TOKEN_URL,
            "https://apicfa.convirza.com/oauth/token",
        ),
        provider::REFRESH_TOKEN_USE_SETTING,
    ];

    fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut builder = ConvirzaV2::builder(
            settings.required("client_id")?,
            settings.required("client_secret")?,
            settings.required("username")?,
            settings.required("password")?,
        );
        if let Some(url) = settings.get("token_url") {
            builder = builder.token_url(url);
        }
        if let Some(use_) = provider::refresh_token_use(settings) {
            builder = builder.refresh_token_use(use_);
        }
        builder.build()
    }
}
