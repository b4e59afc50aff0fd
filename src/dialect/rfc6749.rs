//! The standard dialect: RFC 6749 grants and responses, RFC 7009 revocation.

use super::provider::{self, Provider, Setting, Settings};
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use http::header::{HeaderValue, AUTHORIZATION};
use oauth2::{
    ClientId, ClientSecret, RefreshToken, ResourceOwnerPassword, ResourceOwnerUsername, Scope,
};
use zeroize::{Zeroize, Zeroizing};

use super::assertion::{
    check_lifetime, AssertionAudience, AssertionConfig, AssertionError, AssertionMethod,
    AssertionSource, DEFAULT_LIFETIME, JWT_BEARER_GRANT,
};
use super::authorization::{
    AuthorizationCode, AuthorizationRequest, AuthorizationRequestBuilder, IssParameter,
};
use super::request::{post, FORM};
use super::response::{Lifetime, StandardTokenBody};
use super::url::Endpoint;
use super::{Dialect, PersonLogin, RefreshTokenUse, Secrets};
use crate::error::{ConfigError, Failure};
use crate::policy::LoginCredentials;
use crate::request::{Purpose, TokenKind};
use crate::token::{Expiry, TokenGrant};
use crate::wipe::{sensitive_header_value, wipe_secret};
use time::{Duration, UtcDateTime};

/// The device grant's `grant_type` (RFC 8628 §3.4).
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How the client authenticates to the token and revocation endpoints (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// HTTP Basic with the form-urlencoded client id and secret (`client_secret_basic`),
    /// the method every server must support. The default.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the request body (`client_secret_post`).
    Post,
    /// A JWT signed with the client's private key (`private_key_jwt`, RFC 7523 §2.2):
    /// set by [`StandardBuilder::client_assertion`] with a source of that method.
    PrivateKeyJwt,
    /// A JWT signed with HMAC over the client secret (`client_secret_jwt`): set by
    /// [`StandardBuilder::client_assertion`] with a source of that method. The secret
    /// itself never travels.
    ClientSecretJwt,
}

impl ClientAuth {
    /// The method's name in RFC 8414 metadata (`token_endpoint_auth_method`).
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuth::Basic => "client_secret_basic",
            ClientAuth::Post => "client_secret_post",
            ClientAuth::PrivateKeyJwt => AssertionMethod::PrivateKeyJwt.as_str(),
            ClientAuth::ClientSecretJwt => AssertionMethod::ClientSecretJwt.as_str(),
        }
    }

    fn is_assertion(self) -> bool {
        matches!(
            self,
            ClientAuth::PrivateKeyJwt | ClientAuth::ClientSecretJwt
        )
    }
}

impl From<AssertionMethod> for ClientAuth {
    fn from(method: AssertionMethod) -> Self {
        match method {
            AssertionMethod::PrivateKeyJwt => ClientAuth::PrivateKeyJwt,
            AssertionMethod::ClientSecretJwt => ClientAuth::ClientSecretJwt,
        }
    }
}

/// The grant a session logs in with.
#[derive(Clone)]
#[non_exhaustive]
pub enum Grant {
    /// RFC 6749 §4.4: the client's own credentials. Servers usually issue no refresh
    /// token: renewal is a new login.
    ClientCredentials,
    /// RFC 6749 §4.3: a resource owner's username and password.
    Password {
        /// The username.
        username: ResourceOwnerUsername,
        /// The password.
        password: ResourceOwnerPassword,
    },
    /// No login: the session is adopted from tokens obtained elsewhere (an authorization
    /// code flow, a device flow) and renews with its refresh token only.
    RefreshOnly,
    /// RFC 8628: a person approves the login on another device, with a code the session
    /// shows ([`Driver::authorize_device`](crate::Driver::authorize_device)). Needs
    /// [`device_authorization_url`](StandardBuilder::device_authorization_url). Renewal
    /// refreshes; the session never starts this login by itself.
    DeviceCode,
    /// RFC 6749 §4.1 with PKCE: a person logs in in a browser, which comes back to a
    /// loopback redirect URI ([`Driver::authorize`](crate::Driver::authorize)). Needs
    /// [`authorization_url`](StandardBuilder::authorization_url). Renewal refreshes; the
    /// session never starts this login by itself.
    AuthorizationCode,
    /// RFC 7523 §2.1: the client presents a JWT as the grant, signed by a key it holds
    /// or issued by its platform, about `subject` and issued by `issuer`. Each login
    /// carries a fresh assertion; renewal is a new login (the server issues no refresh
    /// token, RFC 7523 §2.1), paced by the same policy.
    JwtBearer {
        /// The assertion's `iss`.
        issuer: String,
        /// The assertion's `sub`.
        subject: String,
        /// Signs or supplies the assertions.
        source: Arc<dyn AssertionSource>,
    },
}

impl fmt::Debug for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Grant::ClientCredentials => f.write_str("ClientCredentials"),
            Grant::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"[redacted]")
                .finish(),
            Grant::RefreshOnly => f.write_str("RefreshOnly"),
            Grant::DeviceCode => f.write_str("DeviceCode"),
            Grant::AuthorizationCode => f.write_str("AuthorizationCode"),
            Grant::JwtBearer {
                issuer,
                subject,
                source,
            } => f
                .debug_struct("JwtBearer")
                .field("issuer", issuer)
                .field("subject", subject)
                .field("source", source)
                .finish(),
        }
    }
}

/// Any standards-compliant OAuth 2.0 server: RFC 6749 §4.3 / §4.4 / §6 requests, §5.1 and
/// §5.2 responses (an error object sent with status 200 included), RFC 7009 revocation.
///
/// ```
/// use oauth_lifecycle::dialect::{ClientAuth, Standard};
///
/// let dialect = Standard::builder("https://auth.example.com/oauth/token", "my-client")
///     .client_secret("s3cret")
///     .client_auth(ClientAuth::Post)
///     .scope("api:read")
///     .revocation_url("https://auth.example.com/oauth/revoke")
///     .build()?;
/// # Ok::<(), oauth_lifecycle::ConfigError>(())
/// ```
pub struct Standard {
    token: Endpoint,
    revocation: Option<Endpoint>,
    /// RFC 8628 §3.1, for [`Grant::DeviceCode`].
    device_authorization: Option<Endpoint>,
    /// RFC 6749 §3.1, for [`Grant::AuthorizationCode`], with the issuer redirects are
    /// checked against.
    authorization: Option<AuthorizationEndpoint>,
    client_id: ClientId,
    client_secret: Option<ClientSecret>,
    client_auth: ClientAuth,
    grant: Grant,
    refresh_token_use: RefreshTokenUse,
    /// Precomputed `Authorization: Basic …` (marked sensitive), when Basic applies.
    basic_header: Option<HeaderValue>,
    /// Precomputed login body: the grant, scope, extra parameters and (for `Post`) the
    /// client credentials. `None` for [`Grant::RefreshOnly`].
    login_body: Option<Vec<u8>>,
    /// Precomputed body suffix for refresh and revocation: `&client_id=…&client_secret=…`
    /// for `Post` or a public client, empty for `Basic`.
    client_suffix: String,
    /// Precomputed refresh body suffix: the scope (when sent on refresh) and the client
    /// suffix.
    refresh_suffix: String,
    /// The client secret, the password and the Basic credentials, with their echo forms.
    secrets: Secrets,
    /// The configured scopes, space-separated: also asked for by the person logins.
    scope: Option<String>,
    /// The client assertion every request carries (`private_key_jwt`,
    /// `client_secret_jwt`).
    client_assertion: Option<AssertionConfig>,
    /// The JWT bearer grant's assertion, which every login carries.
    grant_assertion: Option<AssertionConfig>,
}

/// The authorization endpoint as configured, and the issuer its redirects are checked
/// against.
#[derive(Debug, Clone)]
struct AuthorizationEndpoint {
    url: String,
    issuer: Option<(String, IssParameter)>,
}

impl Standard {
    /// Starts a configuration for `token_url` and `client_id`; the grant defaults to
    /// client credentials and client authentication to HTTP Basic.
    pub fn builder(token_url: impl Into<String>, client_id: impl Into<String>) -> StandardBuilder {
        StandardBuilder {
            token_url: token_url.into(),
            revocation_url: None,
            device_authorization_url: None,
            authorization_url: None,
            issuer: None,
            client_id: client_id.into(),
            client_secret: None,
            client_auth: ClientAuth::Basic,
            grant: Grant::ClientCredentials,
            scopes: Vec::new(),
            params: Vec::new(),
            refresh_token_use: RefreshTokenUse::SingleUse,
            scope_on_refresh: false,
            client_assertion: None,
            assertion_audience: AssertionAudience::TokenEndpoint,
            assertion_lifetime: DEFAULT_LIFETIME,
        }
    }

    /// The token endpoint.
    pub fn token_endpoint(&self) -> &Endpoint {
        &self.token
    }

    fn post(&self, uri: &Endpoint, body: Vec<u8>) -> http::Request<Vec<u8>> {
        let mut request = post(uri, FORM, body);
        if let Some(basic) = &self.basic_header {
            request.headers_mut().insert(AUTHORIZATION, basic.clone());
        }
        request
    }

    fn form_with(pairs: &[(&str, &str)], suffix: &str) -> Vec<u8> {
        let mut form = form_urlencoded::Serializer::new(String::with_capacity(128));
        form.extend_pairs(pairs);
        let mut body = form.finish();
        body.push_str(suffix);
        body.into_bytes()
    }
}

impl fmt::Debug for Standard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Standard")
            .field("token", self.token.uri())
            .field("revocation", &self.revocation.as_ref().map(Endpoint::uri))
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_auth", &self.client_auth)
            .field("grant", &self.grant)
            .field("refresh_token_use", &self.refresh_token_use)
            .field("client_assertion", &self.client_assertion)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Standard`] dialect.
#[derive(Clone)]
#[must_use]
pub struct StandardBuilder {
    token_url: String,
    revocation_url: Option<String>,
    device_authorization_url: Option<String>,
    authorization_url: Option<String>,
    issuer: Option<(String, IssParameter)>,
    client_id: String,
    client_secret: Option<ClientSecret>,
    client_auth: ClientAuth,
    grant: Grant,
    scopes: Vec<Scope>,
    params: Vec<(String, String)>,
    refresh_token_use: RefreshTokenUse,
    scope_on_refresh: bool,
    client_assertion: Option<Arc<dyn AssertionSource>>,
    assertion_audience: AssertionAudience,
    assertion_lifetime: Duration,
}

impl fmt::Debug for StandardBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandardBuilder")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_auth", &self.client_auth)
            .field("grant", &self.grant)
            .field("client_assertion", &self.client_assertion)
            .field("assertion_audience", &self.assertion_audience)
            .field("assertion_lifetime", &self.assertion_lifetime)
            .finish_non_exhaustive()
    }
}

impl StandardBuilder {
    /// Authenticates the client with a JWT from `source` on every request
    /// (`private_key_jwt` or `client_secret_jwt`, as the source says, RFC 7523 §2.2):
    /// each request carries a fresh one, formed when the request is. The client secret,
    /// if one is configured, is then never sent.
    pub fn client_assertion(mut self, source: impl AssertionSource) -> Self {
        self.client_auth = source.method().into();
        self.client_assertion = Some(Arc::new(source));
        self
    }

    /// Logs in with the JWT bearer grant (RFC 7523 §2.1): each login presents a fresh
    /// assertion from `source`, issued by `issuer` about `subject`.
    pub fn jwt_bearer(
        mut self,
        source: impl AssertionSource,
        issuer: impl Into<String>,
        subject: impl Into<String>,
    ) -> Self {
        self.grant = Grant::JwtBearer {
            issuer: issuer.into(),
            subject: subject.into(),
            source: Arc::new(source),
        };
        self
    }

    /// The audience assertions name. Default [`AssertionAudience::TokenEndpoint`].
    pub fn assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.assertion_audience = audience;
        self
    }

    /// How long each assertion is valid from the moment its request is formed. Default
    /// [`DEFAULT_LIFETIME`](super::assertion::DEFAULT_LIFETIME) (60 s); between 5 s and
    /// 1 hour.
    pub fn assertion_lifetime(mut self, lifetime: Duration) -> Self {
        self.assertion_lifetime = lifetime;
        self
    }

    /// Sends the configured scope on refresh requests too (RFC 6749 §6 allows it; some
    /// servers, Keycloak among them, expect it). Default false.
    pub fn scope_on_refresh(mut self, yes: bool) -> Self {
        self.scope_on_refresh = yes;
        self
    }

    /// The client secret (a confidential client). Without one the client is public and
    /// sends only its `client_id` in the body.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(ClientSecret::new(secret.into()));
        self
    }

    /// How the client authenticates. Default [`ClientAuth::Basic`].
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// Log in with the resource owner password grant.
    pub fn password(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.grant = Grant::Password {
            username: ResourceOwnerUsername::new(username.into()),
            password: ResourceOwnerPassword::new(password.into()),
        };
        self
    }

    /// The login grant. Default [`Grant::ClientCredentials`].
    pub fn grant(mut self, grant: Grant) -> Self {
        self.grant = grant;
        self
    }

    /// Adds a scope to the login request (scopes are sent space-separated).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(Scope::new(scope.into()));
        self
    }

    /// Adds an extra parameter to the login request (an `audience`, a `resource`).
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// The RFC 7009 revocation endpoint. Without one, revoking only forgets the tokens.
    pub fn revocation_url(mut self, url: impl Into<String>) -> Self {
        self.revocation_url = Some(url.into());
        self
    }

    /// The RFC 8628 device authorization endpoint, for [`Grant::DeviceCode`].
    pub fn device_authorization_url(mut self, url: impl Into<String>) -> Self {
        self.device_authorization_url = Some(url.into());
        self
    }

    /// The authorization endpoint (RFC 6749 §3.1), for [`Grant::AuthorizationCode`].
    pub fn authorization_url(mut self, url: impl Into<String>) -> Self {
        self.authorization_url = Some(url.into());
        self
    }

    /// The issuer, checked against a redirect's `iss` (RFC 9207): required in every
    /// redirect with [`IssParameter::Required`], checked when present with
    /// [`IssParameter::IfPresent`]. Without one, `iss` is not checked.
    pub fn issuer(mut self, issuer: impl Into<String>, iss: IssParameter) -> Self {
        self.issuer = Some((issuer.into(), iss));
        self
    }

    /// Whether refresh tokens may be presented twice. Default
    /// [`RefreshTokenUse::SingleUse`]: the safe choice when the server's rotation policy
    /// is unknown.
    pub fn refresh_token_use(mut self, refresh_token_use: RefreshTokenUse) -> Self {
        self.refresh_token_use = refresh_token_use;
        self
    }

    /// Checks the configuration and precomputes what every request shares.
    pub fn build(self) -> Result<Standard, ConfigError> {
        let token = Endpoint::parse(&self.token_url, "token")?;
        let revocation = self
            .revocation_url
            .as_deref()
            .map(|url| Endpoint::parse(url, "revocation"))
            .transpose()?;
        let device_authorization = self
            .device_authorization_url
            .as_deref()
            .map(|url| Endpoint::parse(url, "device_authorization"))
            .transpose()?;
        let authorization = self
            .authorization_url
            .as_deref()
            .map(|url| {
                Endpoint::parse(url, "authorization").map(|_| AuthorizationEndpoint {
                    url: url.to_owned(),
                    issuer: self.issuer.clone(),
                })
            })
            .transpose()?;
        match self.grant {
            Grant::DeviceCode if device_authorization.is_none() => {
                return Err(ConfigError::InvalidSetting {
                    setting: "device_authorization_url",
                    reason: "the device grant needs a device authorization endpoint",
                })
            }
            Grant::AuthorizationCode if authorization.is_none() => {
                return Err(ConfigError::InvalidSetting {
                    setting: "authorization_url",
                    reason: "the authorization code grant needs an authorization endpoint",
                })
            }
            _ => {}
        }
        if self.client_id.is_empty() {
            return Err(ConfigError::InvalidSetting {
                setting: "client_id",
                reason: "must not be empty",
            });
        }
        let (client_assertion, grant_assertion) = self.assertions()?;
        let basic = self.client_auth == ClientAuth::Basic && self.client_secret.is_some();
        let basic_header = match (&self.client_secret, basic) {
            (Some(secret), true) => Some(basic_authorization(&self.client_id, secret.secret())?),
            _ => None,
        };
        let client_suffix = if basic {
            String::new()
        } else {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("client_id", &self.client_id);
            if let (Some(secret), false) = (&self.client_secret, self.client_auth.is_assertion()) {
                form.append_pair("client_secret", secret.secret());
            }
            format!("&{}", form.finish())
        };
        let scope = self
            .scopes
            .iter()
            .map(|scope| scope.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let login_body = {
            let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(4 + self.params.len());
            match &self.grant {
                Grant::ClientCredentials => pairs.push(("grant_type", "client_credentials")),
                Grant::Password { username, password } => {
                    pairs.push(("grant_type", "password"));
                    pairs.push(("username", username.as_str()));
                    pairs.push(("password", password.secret()));
                }
                Grant::JwtBearer { .. } => pairs.push(("grant_type", JWT_BEARER_GRANT)),
                Grant::RefreshOnly | Grant::DeviceCode | Grant::AuthorizationCode => {}
            }
            if !pairs.is_empty() && !scope.is_empty() {
                pairs.push(("scope", &scope));
            }
            if pairs.is_empty() {
                None
            } else {
                pairs.extend(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.extend_pairs(&pairs);
                let mut body = form.finish();
                body.push_str(&client_suffix);
                Some(body.into_bytes())
            }
        };
        let refresh_suffix = if self.scope_on_refresh && !scope.is_empty() {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("scope", &scope);
            format!("&{}{client_suffix}", form.finish())
        } else {
            client_suffix.clone()
        };
        let basic_credentials = basic_header
            .as_ref()
            .and_then(|header| header.to_str().ok())
            .and_then(|header| header.strip_prefix("Basic "));
        let password = match &self.grant {
            Grant::Password { password, .. } => Some(password.secret().as_str()),
            _ => None,
        };
        // The client secret as configured and as it travels in `Authorization: Basic …`.
        let secrets = Secrets::new(
            [
                self.client_secret
                    .as_ref()
                    .map(|secret| secret.secret().as_str()),
                password,
                basic_credentials,
            ]
            .into_iter()
            .flatten(),
        );
        let scope = (!scope.is_empty()).then_some(scope);
        Ok(Standard {
            secrets,
            token,
            revocation,
            device_authorization,
            authorization,
            scope,
            client_id: ClientId::new(self.client_id),
            client_secret: self.client_secret,
            client_auth: self.client_auth,
            grant: self.grant,
            refresh_token_use: self.refresh_token_use,
            basic_header,
            login_body,
            client_suffix,
            refresh_suffix,
            client_assertion,
            grant_assertion,
        })
    }

    /// The assertion configurations, checked: a JWT client authentication needs its
    /// source, the audience rule its value, the lifetime its bounds.
    fn assertions(
        &self,
    ) -> Result<(Option<AssertionConfig>, Option<AssertionConfig>), ConfigError> {
        if self.client_auth.is_assertion() != self.client_assertion.is_some() {
            return Err(ConfigError::InvalidSetting {
                setting: "client_auth",
                reason: "a JWT client authentication needs its assertion source \
                         (StandardBuilder::client_assertion)",
            });
        }
        let grant = match &self.grant {
            Grant::JwtBearer {
                issuer,
                subject,
                source,
            } => Some((Arc::clone(source), issuer.clone(), subject.clone())),
            _ => None,
        };
        if self.client_assertion.is_none() && grant.is_none() {
            return Ok((None, None));
        }
        let lifetime = check_lifetime(self.assertion_lifetime)?;
        let audience = match &self.assertion_audience {
            AssertionAudience::TokenEndpoint => self.token_url.clone(),
            AssertionAudience::Issuer => match &self.issuer {
                Some((issuer, _)) => issuer.clone(),
                None => {
                    return Err(ConfigError::InvalidSetting {
                        setting: "assertion_audience",
                        reason: "the issuer audience needs the issuer configured",
                    })
                }
            },
            AssertionAudience::Custom(audience) => audience.clone(),
        };
        let config = |source, issuer, subject| AssertionConfig {
            source,
            issuer,
            subject,
            audience: audience.clone(),
            lifetime,
        };
        let client = self.client_assertion.as_ref().map(|source| {
            config(
                Arc::clone(source),
                self.client_id.clone(),
                self.client_id.clone(),
            )
        });
        let grant = grant.map(|(source, issuer, subject)| config(source, issuer, subject));
        Ok((client, grant))
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, RFC 6749 §2.3.1.
fn basic_authorization(client_id: &str, secret: &str) -> Result<HeaderValue, ConfigError> {
    let encode =
        |value: &str| form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(client_id), encode(secret));
    let mut credentials = Zeroizing::new(credentials);
    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*credentials));
    credentials.zeroize();
    let value = format!("Basic {}", &*encoded).into_bytes();
    sensitive_header_value(value).ok_or(ConfigError::InvalidSetting {
        setting: "client_secret",
        reason: "cannot be encoded in an Authorization header",
    })
}

/// The credentials a standard dialect holds are wiped when it is dropped: the client
/// secret and password, and the request bodies precomputed from them. (The `Basic`
/// header wipes itself.)
impl Drop for Standard {
    fn drop(&mut self) {
        if let Some(secret) = &mut self.client_secret {
            wipe_secret(
                secret,
                || ClientSecret::new(String::new()),
                ClientSecret::into_secret,
            );
        }
        if let Grant::Password { password, .. } = &mut self.grant {
            wipe_secret(
                password,
                || ResourceOwnerPassword::new(String::new()),
                ResourceOwnerPassword::into_secret,
            );
        }
        if let Some(body) = &mut self.login_body {
            body.zeroize();
        }
        self.client_suffix.zeroize();
    }
}

impl Dialect for Standard {
    type Extra = ();

    fn login_request(&self) -> Option<http::Request<Vec<u8>>> {
        let body = self.login_body.clone()?;
        Some(self.post(&self.token, body))
    }

    fn can_login(&self) -> bool {
        self.login_body.is_some()
    }

    fn login_credentials(&self) -> LoginCredentials {
        match self.grant {
            Grant::ClientCredentials
            | Grant::RefreshOnly
            | Grant::DeviceCode
            | Grant::AuthorizationCode
            | Grant::JwtBearer { .. } => LoginCredentials::Client,
            Grant::Password { .. } => LoginCredentials::Password,
        }
    }

    fn person_login(&self) -> Option<PersonLogin> {
        match self.grant {
            Grant::DeviceCode => Some(PersonLogin::DeviceCode),
            Grant::AuthorizationCode => Some(PersonLogin::AuthorizationCode),
            _ => None,
        }
    }

    fn device_authorization_request(&self) -> Option<http::Request<Vec<u8>>> {
        let endpoint = self.device_authorization.as_ref()?;
        let scope: Vec<(&str, &str)> = self.scope.iter().map(|s| ("scope", s.as_str())).collect();
        let mut body = Self::form_with(&scope, &self.client_suffix);
        if body.first() == Some(&b'&') {
            body.remove(0);
        }
        Some(self.post(endpoint, body))
    }

    fn device_token_request(&self, device_code: &str) -> Option<http::Request<Vec<u8>>> {
        self.device_authorization.as_ref()?;
        let body = Self::form_with(
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("device_code", device_code),
            ],
            &self.client_suffix,
        );
        Some(self.post(&self.token, body))
    }

    fn authorization_request(&self, redirect_uri: &str) -> Option<AuthorizationRequestBuilder> {
        let endpoint = self.authorization.as_ref()?;
        let mut builder =
            AuthorizationRequest::builder(&endpoint.url, self.client_id.as_str(), redirect_uri);
        for scope in self.scope.iter().flat_map(|scope| scope.split(' ')) {
            builder = builder.scope(scope);
        }
        if let Some((issuer, iss)) = &endpoint.issuer {
            builder = builder.issuer(issuer, *iss);
        }
        Some(builder)
    }

    fn code_exchange_request(&self, code: &AuthorizationCode) -> Option<http::Request<Vec<u8>>> {
        Some(self.authorization_code_request(
            code.secret(),
            code.redirect_uri(),
            code.code_verifier(),
        ))
    }

    fn refresh_request(&self, refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>> {
        let body = Self::form_with(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.secret()),
            ],
            &self.refresh_suffix,
        );
        Some(self.post(&self.token, body))
    }

    fn refresh_token_use(&self) -> RefreshTokenUse {
        self.refresh_token_use
    }

    fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    fn revocation_request(&self, token: &str, kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        let endpoint = self.revocation.as_ref()?;
        let hint = match kind {
            TokenKind::Access => "access_token",
            TokenKind::Refresh => "refresh_token",
        };
        let body = Self::form_with(
            &[("token", token), ("token_type_hint", hint)],
            &self.client_suffix,
        );
        Some(self.post(endpoint, body))
    }

    fn parse_token_response(
        &self,
        _purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<()>, Failure> {
        parse_standard(response)
    }

    /// The JWT bearer grant's assertion on a login (`&assertion=…`), then the client
    /// assertion on every request (`&client_assertion_type=…&client_assertion=…`): the
    /// rest of each body was precomputed.
    fn add_assertions(
        &self,
        request: &mut http::Request<Vec<u8>>,
        purpose: Purpose,
        now: UtcDateTime,
    ) -> Result<bool, AssertionError> {
        let mut added = false;
        if let (Some(grant), Purpose::Login) = (&self.grant_assertion, purpose) {
            grant.append(request.body_mut(), b"assertion=", now)?;
            added = true;
        }
        if let Some(client) = &self.client_assertion {
            client.append(request.body_mut(), CLIENT_ASSERTION_PREFIX, now)?;
            added = true;
        }
        Ok(added)
    }
}

/// `client_assertion_type=…&client_assertion=`, the form's prefix to a client assertion.
const CLIENT_ASSERTION_PREFIX: &[u8] = b"client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=";

/// Reads an RFC 6749 token response: a §5.1 success body (unknown fields ignored) or a
/// §5.2 error, which may come with status 200.
pub(crate) fn parse_standard(
    response: &http::Response<Vec<u8>>,
) -> Result<TokenGrant<()>, Failure> {
    let status = response.status();
    if !status.is_success() {
        return Err(super::error_failure(response));
    }
    let mut body = StandardTokenBody::parse(response.body(), status)?;
    body.reject_error(status)?;
    let access_token = body.take_access_token(status)?;
    body.require_bearer(status)?;
    Ok(TokenGrant {
        access_token,
        refresh_token: body
            .refresh_token
            .take()
            .map(|t| RefreshToken::new(t.into_owned())),
        expires: body.expires(status)?,
        refresh_expires: match body.refresh_expires_in {
            // Keycloak's convention: 0 means the refresh token has no expiry of its own.
            Some(Lifetime::Seconds(0)) | Some(Lifetime::Unreadable) | None => None,
            Some(Lifetime::Seconds(seconds)) => Some(Expiry::In(seconds)),
        },
        scope: body.scope.take().map(|scope| scope.into_owned()),
        extra: (),
    })
}

impl Standard {
    /// The settings that mean something only with an assertion (a JWT client
    /// authentication or the JWT bearer grant): refused without one.
    pub const ASSERTION_SETTINGS: &'static [&'static str] = &[
        "private_key_file",
        "client_assertion_file",
        "key_id",
        "assertion_algorithm",
        "assertion_audience",
        "assertion_lifetime",
    ];

    /// The configured login grant.
    pub fn grant_kind(&self) -> &Grant {
        &self.grant
    }

    /// How the client secret is sent. A public client (no secret, see
    /// [`is_public_client`](Self::is_public_client)) sends only its `client_id`, in the
    /// body, whatever this says.
    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }

    /// Whether the client is public: configured without a secret, it authenticates by
    /// its `client_id` alone (`none` in RFC 8414 metadata).
    pub fn is_public_client(&self) -> bool {
        self.client_secret.is_none() && self.client_assertion.is_none()
    }
}

impl Provider for Standard {
    const NAME: &'static str = "standard";
    const ABOUT: &'static str = "any RFC 6749 server";
    const SETTINGS: &'static [Setting] = &[
        Setting::required(
            "token_url",
            "the token endpoint",
            "https://auth.example.com/token",
        ),
        Setting::required("client_id", "the OAuth client id", "example-client"),
        Setting::optional(
            "client_secret",
            "the client secret",
            "none: a public client",
            "example-client-secret",
        )
        .secret(),
        Setting::optional(
            "client_auth",
            "how the client authenticates: its secret in HTTP Basic or in the body, or a JWT \
             signed with its private key or with its secret (RFC 7523)",
            "basic",
            "post",
        )
        .choices(&["basic", "post", "private-key-jwt", "client-secret-jwt"]),
        Setting::optional(
            "grant",
            "the grant to log in with: the client's own, a user's password, or a person's \
             login on another device or in a browser",
            "client-credentials",
            "password",
        )
        .choices(&[
            "client-credentials",
            "password",
            "device",
            "authorization-code",
            "jwt-bearer",
        ]),
        provider::PASSWORD_GRANT_SETTINGS[1],
        provider::PASSWORD_GRANT_SETTINGS[2],
        Setting::required(
            "device_authorization_url",
            "the RFC 8628 device authorization endpoint",
            "https://auth.example.com/device_authorization",
        )
        .needed_when("grant", "device"),
        Setting::required(
            "authorization_url",
            "the authorization endpoint a person's browser opens",
            "https://auth.example.com/authorize",
        )
        .needed_when("grant", "authorization-code"),
        Setting::optional(
            "issuer",
            "the issuer a browser login's redirect must name in `iss` when it names one \
             (RFC 9207)",
            "none: `iss` is not checked",
            "https://auth.example.com",
        ),
        Setting::optional(
            "iss_parameter",
            "whether every redirect must carry `iss` (the server says it sends it), or only \
             one that has it is checked",
            "if-present",
            "required",
        )
        .choices(&["if-present", "required"]),
        Setting::required(
            "assertion_issuer",
            "the `iss` of the JWT bearer grant's assertions",
            "service-account@example.com",
        )
        .needed_when("grant", "jwt-bearer"),
        Setting::required(
            "assertion_subject",
            "the `sub` of the JWT bearer grant's assertions: whom the token acts for",
            "service-account@example.com",
        )
        .needed_when("grant", "jwt-bearer"),
        Setting::optional(
            "private_key_file",
            "the PEM or JWK file of the key that signs the assertions (private-key-jwt, \
             jwt-bearer); the application reads it and supplies the signer",
            "none",
            "/etc/app/client-key.pem",
        ),
        Setting::optional(
            "client_assertion_file",
            "a file holding an assertion the platform issues (a Kubernetes projected \
             service-account token), re-read when it changes or nears its expiry",
            "none",
            "/var/run/secrets/tokens/oauth-token",
        ),
        Setting::optional(
            "key_id",
            "the `kid` the assertions name",
            "the JWK's `kid`, or none",
            "2026-key-1",
        ),
        Setting::optional(
            "assertion_algorithm",
            "the algorithm the key in `private_key_file` signs with: RS256 or PS256 for an \
             RSA key (an EC P-256 key signs ES256, an Ed25519 key EdDSA)",
            "the JWK's `alg`, else RS256, ES256 or EdDSA by the key",
            "PS256",
        )
        .choices(&["RS256", "PS256", "ES256", "EdDSA"]),
        Setting::optional(
            "assertion_audience",
            "the `aud` of the assertions: the token endpoint or the issuer",
            "token-endpoint",
            "issuer",
        )
        .choices(&["token-endpoint", "issuer"]),
        Setting::optional(
            "assertion_lifetime",
            "how many seconds each assertion is valid, from 5 to 3600",
            "60",
            "30",
        ),
        Setting::optional(
            "scope",
            "the scope to ask for, space-separated",
            "none",
            "read write",
        ),
        Setting::optional(
            "revocation_url",
            "the RFC 7009 revocation endpoint",
            "none: revoking forgets the tokens",
            "https://auth.example.com/revoke",
        ),
        provider::REFRESH_TOKEN_USE_SETTING,
    ];

    fn from_settings(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let mut builder = Standard::builder(
            settings.required("token_url")?,
            settings.required("client_id")?,
        );
        if let Some(secret) = settings.get("client_secret") {
            builder = builder.client_secret(secret);
        }
        match settings.get("client_auth") {
            Some("post") => builder = builder.client_auth(ClientAuth::Post),
            Some("private-key-jwt") => builder = builder.client_auth(ClientAuth::PrivateKeyJwt),
            Some("client-secret-jwt") => {
                builder = builder.client_auth(ClientAuth::ClientSecretJwt);
            }
            _ => {}
        }
        builder = assertion_settings(builder, settings)?;
        if let Some((username, password)) = provider::password_grant(settings)? {
            builder = builder.password(username, password);
        }
        match settings.get("grant") {
            Some("device") => {
                builder = builder
                    .grant(Grant::DeviceCode)
                    .device_authorization_url(settings.required("device_authorization_url")?);
            }
            Some("authorization-code") => {
                builder = builder
                    .grant(Grant::AuthorizationCode)
                    .authorization_url(settings.required("authorization_url")?);
            }
            _ => {}
        }
        if let Some(issuer) = settings.get("issuer") {
            let iss = match settings.get("iss_parameter") {
                Some("required") => IssParameter::Required,
                _ => IssParameter::IfPresent,
            };
            builder = builder.issuer(issuer, iss);
        }
        for scope in settings
            .get("scope")
            .into_iter()
            .flat_map(str::split_whitespace)
        {
            builder = builder.scope(scope);
        }
        if let Some(url) = settings.get("revocation_url") {
            builder = builder.revocation_url(url);
        }
        if let Some(use_) = provider::refresh_token_use(settings) {
            builder = builder.refresh_token_use(use_);
        }
        builder.build()
    }
}

/// The settings of assertions (RFC 7523): the supplied source goes to the JWT bearer
/// grant or to the client's authentication, whichever the settings call for (one source,
/// so not both); the file settings are the application's to read, and given without a
/// use for them are refused.
fn assertion_settings(
    mut builder: StandardBuilder,
    settings: &Settings<'_>,
) -> Result<StandardBuilder, ConfigError> {
    let client = builder.client_auth;
    let bearer = settings.get("grant") == Some("jwt-bearer");
    if client.is_assertion() && bearer {
        return Err(ConfigError::InvalidSetting {
            setting: "client_auth",
            reason: "the JWT bearer grant and a JWT client authentication take two assertion \
                     sources: configure them with StandardBuilder",
        });
    }
    if !client.is_assertion() && !bearer {
        for &setting in Standard::ASSERTION_SETTINGS {
            if settings.get(setting).is_some() {
                return Err(ConfigError::UnusedSetting {
                    setting,
                    key: "client_auth",
                    value: "private-key-jwt",
                });
            }
        }
        return Ok(builder);
    }
    let missing = match client {
        ClientAuth::ClientSecretJwt => "client_secret",
        _ => "private_key_file",
    };
    let source = settings
        .assertion_source()
        .ok_or(ConfigError::MissingSetting { setting: missing })?;
    if client.is_assertion() && ClientAuth::from(source.method()) != client {
        return Err(ConfigError::InvalidSetting {
            setting: "client_auth",
            reason: "the assertion source supplied serves another method",
        });
    }
    if bearer {
        builder = builder.jwt_bearer(
            Arc::clone(source),
            settings.required("assertion_issuer")?,
            settings.required("assertion_subject")?,
        );
    } else {
        builder = builder.client_assertion(Arc::clone(source));
    }
    if settings.get("assertion_audience") == Some("issuer") {
        builder = builder.assertion_audience(AssertionAudience::Issuer);
    }
    if let Some(seconds) = settings.get("assertion_lifetime") {
        let seconds: i64 = seconds.parse().map_err(|_| ConfigError::InvalidSetting {
            setting: "assertion_lifetime",
            reason: "must be a whole number of seconds",
        })?;
        builder = builder.assertion_lifetime(Duration::seconds(seconds));
    }
    Ok(builder)
}

/// The authorization code grant's token request (RFC 6749 §4.1.3); its public form,
/// [`code_exchange_request`](Standard::code_exchange_request), is with the code it sends
/// (`authorization/code.rs`).
impl Standard {
    /// A `POST` to the token endpoint of `grant_type=authorization_code` with `code`,
    /// `redirect_uri` and the PKCE `code_verifier`, the client authenticated as for every
    /// other token request.
    pub(crate) fn authorization_code_request(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> http::Request<Vec<u8>> {
        let body = Self::form_with(
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", code_verifier),
            ],
            &self.client_suffix,
        );
        self.post(&self.token, body)
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        self.client_id.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(request: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
        form_urlencoded::parse(request.body())
            .into_owned()
            .collect()
    }

    /// A client without a secret is public whatever `client_auth` says: its requests
    /// carry its `client_id` in the body and no `Authorization` header.
    #[test]
    fn a_client_without_a_secret_is_public() {
        for auth in [ClientAuth::Basic, ClientAuth::Post] {
            let public = Standard::builder("https://a.example/token", "app")
                .client_auth(auth)
                .build()
                .unwrap();
            assert!(public.is_public_client());
            let request = public.authorization_code_request("code", "http://127.0.0.1/cb", "v");
            assert!(request.headers().get("authorization").is_none());
            assert!(body(&request).contains(&("client_id".into(), "app".into())));
        }
        let confidential = Standard::builder("https://a.example/token", "app")
            .client_secret("s")
            .build()
            .unwrap();
        assert!(!confidential.is_public_client());
    }

    #[test]
    fn the_client_assertion_prefix_is_the_form_encoded_type() {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair(
            "client_assertion_type",
            crate::dialect::assertion::CLIENT_ASSERTION_TYPE,
        );
        assert_eq!(
            CLIENT_ASSERTION_PREFIX,
            format!("{}&client_assertion=", form.finish()).as_bytes()
        );
    }

    #[test]
    fn basic_credentials_are_form_encoded_before_base64() {
        let header = basic_authorization("id:1", "s é+").unwrap();
        let encoded = header.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "id%3A1:s+%C3%A9%2B");
        assert!(header.is_sensitive());
    }

    #[test]
    fn post_auth_puts_client_credentials_in_every_body() {
        let dialect = Standard::builder("https://a.example/token", "c")
            .client_secret("s&=")
            .client_auth(ClientAuth::Post)
            .revocation_url("https://a.example/revoke")
            .build()
            .unwrap();
        let login = dialect.login_request().unwrap();
        assert!(login.headers().get(AUTHORIZATION).is_none());
        assert_eq!(
            body(&login),
            [
                ("grant_type", "client_credentials"),
                ("client_id", "c"),
                ("client_secret", "s&=")
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let refresh = dialect
            .refresh_request(&RefreshToken::new("r".into()))
            .unwrap();
        assert!(body(&refresh).contains(&("client_secret".into(), "s&=".into())));
        let revoke = dialect.revocation_request("t", TokenKind::Refresh).unwrap();
        assert!(body(&revoke).contains(&("token_type_hint".into(), "refresh_token".into())));
    }

    #[test]
    fn refresh_only_has_no_login() {
        let dialect = Standard::builder("https://a.example/token", "c")
            .grant(Grant::RefreshOnly)
            .build()
            .unwrap();
        assert!(dialect.login_request().is_none());
        let refresh = dialect
            .refresh_request(&RefreshToken::new("r".into()))
            .unwrap();
        assert_eq!(
            body(&refresh).last().unwrap(),
            &("client_id".into(), "c".into())
        );
    }

    #[test]
    fn debug_redacts_every_secret() {
        let dialect = Standard::builder("https://a.example/token", "c")
            .client_secret("client-secret-value")
            .password("alice", "password-value")
            .build()
            .unwrap();
        let shown = format!("{dialect:?}");
        assert!(
            !shown.contains("client-secret-value") && !shown.contains("password-value"),
            "{shown}"
        );
    }
}
