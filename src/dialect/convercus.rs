//! Convercus: OAuth 2.0 through a Keycloak realm per loyalty program.

use super::provider::{self, Provider, Setting, Settings};
use std::fmt;

use oauth2::RefreshToken;
use serde::{Deserialize, Serialize};

use super::rfc6749::parse_standard;
use super::{ClientAuth, Dialect, ExtraFields, RefreshTokenUse, Standard};
use crate::error::{ConfigError, Failure};
use crate::policy::LoginCredentials;
use crate::request::{Purpose, TokenKind};
use crate::token::TokenGrant;

/// Which Convercus installation to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// `auth-staging.convercus.io` (realm `<program>-staging`) and
    /// `staging.convercus.io`.
    Staging,
    /// `auth.convercus.io` (realm `<program>`) and `api.convercus.io`.
    Production,
}

/// Convercus's default authentication: a Keycloak realm per loyalty program.
///
/// - **Endpoints**: the token URL is built from the program name and the environment:
///   `https://auth-staging.convercus.io/realms/<program>-staging/protocol/openid-connect/token`
///   or `https://auth.convercus.io/realms/<program>/protocol/openid-connect/token`. The
///   program is lower-cased; it must be 1 to 64 ASCII letters, digits, `-` or `_`.
///   Revocation uses the realm's RFC 7009 endpoint, `…/protocol/openid-connect/revoke`
///   (a Keycloak fact; Convercus's document does not mention revocation).
/// - **Login**: `client_credentials` by default (client `machine-2-machine`, secret in
///   the form body, `scope=openid`). There is no refresh token: renewal is a new login at
///   80 % of the validity, as Convercus advises ([`Policy::refresh_fraction`]).
///   [`ConvercusBuilder::password`] switches to the password grant, which brings a
///   refresh token (renewed with `grant_type=refresh_token`, `scope=openid`) whose
///   `refresh_expires_in` (0 means none) is tracked: a refresh token that will be dead
///   when renewal comes is not spent, and the session logs in again instead.
/// - **Extras**: `id_token`, `session_state` and `not-before-policy` are kept in
///   [`KeycloakExtra`]; the granted `scope` is the token set's
///   [`scope`](crate::TokenSet::scope).
/// - **Refresh tokens** are treated as single-use (Keycloak rotates them when the realm
///   enables "Revoke Refresh Token"; the document does not say): a refresh whose answer
///   is lost is followed by a login, never by a resend.
///
/// [`Policy::refresh_fraction`]: crate::Policy::refresh_fraction
///
/// ```
/// use oauth_lifecycle::dialect::{Convercus, Environment};
///
/// let dialect = Convercus::builder("ABC", Environment::Staging, "client-secret").build()?;
/// assert_eq!(
///     dialect.token_url(),
///     "https://auth-staging.convercus.io/realms/abc-staging/protocol/openid-connect/token"
/// );
/// # Ok::<(), oauth_lifecycle::ConfigError>(())
/// ```
pub struct Convercus {
    standard: Standard,
}

impl Convercus {
    /// The client id Convercus's examples use.
    pub const DEFAULT_CLIENT_ID: &'static str = "machine-2-machine";

    /// Starts a configuration for `program` in `environment`, with the client secret.
    pub fn builder(
        program: impl Into<String>,
        environment: Environment,
        client_secret: impl Into<String>,
    ) -> ConvercusBuilder {
        ConvercusBuilder {
            program: program.into(),
            environment,
            client_id: Self::DEFAULT_CLIENT_ID.to_owned(),
            client_secret: client_secret.into(),
            password: None,
            auth_url: None,
            refresh_token_use: RefreshTokenUse::SingleUse,
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        self.standard.token_endpoint().uri().to_string()
    }
}

impl fmt::Debug for Convercus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Convercus")
            .field("standard", &self.standard)
            .finish()
    }
}

/// Builds a [`Convercus`] dialect.
#[must_use]
#[derive(Clone)]
pub struct ConvercusBuilder {
    program: String,
    environment: Environment,
    client_id: String,
    client_secret: String,
    password: Option<(String, String)>,
    auth_url: Option<String>,
    refresh_token_use: RefreshTokenUse,
}

impl fmt::Debug for ConvercusBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvercusBuilder")
            .field("program", &self.program)
            .field("environment", &self.environment)
            .field("client_id", &self.client_id)
            .field("username", &self.password.as_ref().map(|(user, _)| user))
            .field("auth_url", &self.auth_url)
            .finish_non_exhaustive()
    }
}

impl ConvercusBuilder {
    /// The client id. Default [`Convercus::DEFAULT_CLIENT_ID`].
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Logs in with the password grant (for programs configured for it) instead of
    /// client credentials.
    pub fn password(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.password = Some((username.into(), password.into()));
        self
    }

    /// Another Keycloak host (scheme and authority, e.g. an emulator on loopback); the
    /// realm path is appended as usual.
    pub fn auth_url(mut self, url: impl Into<String>) -> Self {
        self.auth_url = Some(url.into());
        self
    }

    /// Whether refresh tokens may be presented twice. Default single-use.
    pub fn refresh_token_use(mut self, refresh_token_use: RefreshTokenUse) -> Self {
        self.refresh_token_use = refresh_token_use;
        self
    }

    /// Checks the configuration and builds the endpoints.
    pub fn build(self) -> Result<Convercus, ConfigError> {
        let program = program_name(&self.program)?;
        let (host, realm) = match self.environment {
            Environment::Staging => (
                "https://auth-staging.convercus.io",
                format!("{program}-staging"),
            ),
            Environment::Production => ("https://auth.convercus.io", program),
        };
        let host = self
            .auth_url
            .as_deref()
            .unwrap_or(host)
            .trim_end_matches('/');
        let base = format!("{host}/realms/{realm}/protocol/openid-connect");
        let mut builder = Standard::builder(format!("{base}/token"), self.client_id)
            .client_secret(self.client_secret)
            .client_auth(ClientAuth::Post)
            .scope("openid")
            .scope_on_refresh(true)
            .revocation_url(format!("{base}/revoke"))
            .refresh_token_use(self.refresh_token_use);
        if let Some((username, password)) = self.password {
            builder = builder.password(username, password);
        }
        Ok(Convercus {
            standard: builder.build()?,
        })
    }
}

/// A loyalty program's name as it appears in a realm: lower-cased, and only characters
/// that cannot change the URL's meaning.
pub(crate) fn program_name(program: &str) -> Result<String, ConfigError> {
    let valid = (1..=64).contains(&program.len())
        && program
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(program.to_ascii_lowercase())
    } else {
        Err(ConfigError::InvalidSetting {
            setting: "program",
            reason: "must be 1 to 64 ASCII letters, digits, '-' or '_'",
        })
    }
}

/// The Keycloak fields of a token response that are not part of RFC 6749.
#[derive(Clone, PartialEq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KeycloakExtra {
    /// The OpenID Connect ID token (informational). Treated as a secret: never shown in
    /// `Debug`, redacted in redacted snapshots.
    pub id_token: Option<String>,
    /// The login session's id (password grant only).
    pub session_state: Option<String>,
    /// The realm's not-before policy (a Unix time; usually 0).
    pub not_before_policy: Option<i64>,
}

impl fmt::Debug for KeycloakExtra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeycloakExtra")
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("session_state", &self.session_state)
            .field("not_before_policy", &self.not_before_policy)
            .finish()
    }
}

impl ExtraFields for KeycloakExtra {
    fn redact(&mut self) {
        if let Some(id_token) = &mut self.id_token {
            "[redacted]".clone_into(id_token);
        }
    }
}

/// The extra fields as Keycloak sends them; anything unexpected is dropped, never fatal.
#[derive(Deserialize)]
struct KeycloakFields {
    #[serde(default, deserialize_with = "lenient")]
    id_token: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    session_state: Option<String>,
    #[serde(default, rename = "not-before-policy", deserialize_with = "lenient")]
    not_before_policy: Option<i64>,
}

/// A field of the wrong type reads as absent.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

impl Dialect for Convercus {
    type Extra = KeycloakExtra;

    super::delegate_to_standard!();

    fn revocation_request(&self, token: &str, kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        self.standard.revocation_request(token, kind)
    }

    fn parse_token_response(
        &self,
        _purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<KeycloakExtra>, Failure> {
        let grant = parse_standard(response)?;
        let extra = serde_json::from_slice::<KeycloakFields>(response.body())
            .map(|fields| KeycloakExtra {
                id_token: fields.id_token,
                session_state: fields.session_state,
                not_before_policy: fields.not_before_policy,
            })
            .unwrap_or_default();
        Ok(TokenGrant {
            access_token: grant.access_token,
            refresh_token: grant.refresh_token,
            expires: grant.expires,
            refresh_expires: grant.refresh_expires,
            scope: grant.scope,
            extra,
        })
    }
}

/// The `environment` setting Convercus's providers take.
pub(crate) const ENVIRONMENT_SETTING: Setting = Setting::optional(
    "environment",
    "the Convercus environment",
    "production",
    "staging",
)
.choices(&["staging", "production"]);

/// Reads the `environment` setting [`provider::check`]ed against [`ENVIRONMENT_SETTING`].
pub(crate) fn environment(settings: &Settings<'_>) -> Environment {
    match settings.get("environment") {
        Some("staging") => Environment::Staging,
        _ => Environment::Production,
    }
}

impl Provider for Convercus {
    const NAME: &'static str = "convercus";
    const ABOUT: &'static str = "Convercus through Keycloak, a realm per loyalty program";
    const SETTINGS: &'static [Setting] = &[
        Setting::required("program", "the loyalty program (its realm)", "abc"),
        Setting::required(
            "client_secret",
            "the client secret",
            "example-client-secret",
        )
        .secret(),
        ENVIRONMENT_SETTING,
        Setting::optional(
            "client_id",
            "the OAuth client id",
            Convercus::DEFAULT_CLIENT_ID,
            "machine-2-machine",
        ),
        provider::PASSWORD_GRANT_SETTINGS[0],
        provider::PASSWORD_GRANT_SETTINGS[1],
        provider::PASSWORD_GRANT_SETTINGS[2],
        Setting::optional(
            "auth_url",
            "another Keycloak host (scheme and authority)",
            "the environment's",
            "https://auth.convercus.io",
        ),
        provider::REFRESH_TOKEN_USE_SETTING,
    ];

    fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut builder = Convercus::builder(
            settings.required("program")?,
            environment(settings),
            settings.required("client_secret")?,
        );
        if let Some(id) = settings.get("client_id") {
            builder = builder.client_id(id);
        }
        if let Some((username, password)) = provider::password_grant(settings)? {
            builder = builder.password(username, password);
        }
        if let Some(url) = settings.get("auth_url") {
            builder = builder.auth_url(url);
        }
        if let Some(use_) = provider::refresh_token_use(settings) {
            builder = builder.refresh_token_use(use_);
        }
        builder.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_are_lower_cased_and_checked() {
        assert_eq!(program_name("ABC").unwrap(), "abc");
        assert_eq!(program_name("my-prog_2").unwrap(), "my-prog_2");
        for bad in ["", "a/b", "abc?x=1", "ab c", "é", "../x", &"a".repeat(65)] {
            assert!(program_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn endpoints_follow_program_and_environment() {
        let production = Convercus::builder("XyZ", Environment::Production, "s")
            .build()
            .unwrap();
        assert_eq!(
            production.token_url(),
            "https://auth.convercus.io/realms/xyz/protocol/openid-connect/token"
        );
        let revoke = production
            .revocation_request("t", TokenKind::Access)
            .unwrap();
        assert_eq!(
            revoke.uri(),
            "https://auth.convercus.io/realms/xyz/protocol/openid-connect/revoke"
        );
        let local = Convercus::builder("abc", Environment::Staging, "s")
            .auth_url("http://127.0.0.1:8080/")
            .build()
            .unwrap();
        assert_eq!(
            local.token_url(),
            "http://127.0.0.1:8080/realms/abc-staging/protocol/openid-connect/token"
        );
        assert!(Convercus::builder("abc", Environment::Staging, "s")
            .auth_url("http://auth.example.com")
            .build()
            .is_err());
    }
}
