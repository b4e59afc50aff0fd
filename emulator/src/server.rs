//! An RFC 6749 / 6750 / 7009 authorization server in memory.

use std::collections::HashMap;

use base64::Engine as _;
use http::header::{AUTHORIZATION, CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use http::{Method, StatusCode};
use time::{Duration, UtcDateTime};

pub use self::assertion::{AssertionKey, AssertionRules};
use super::store::{
    delegate_to_store, has_content_type, json, json_error, response, Emulator, InjectedFailure,
    Kind, Reply, ServerStats, TokenStore,
};

/// A client the server knows.
#[derive(Debug, Clone)]
pub struct EmulatedClient {
    /// The client id.
    pub client_id: String,
    /// The client secret. Empty for a public client (RFC 6749 §2.1), which authenticates
    /// by its `client_id` alone — unless it has a key in
    /// [`StandardServerConfig::client_assertion_keys`]: then it authenticates by
    /// assertion only.
    pub client_secret: String,
    /// The grants it may use: `client_credentials`, `password`, `refresh_token`,
    /// `authorization_code`, and by their URIs the device grant,
    /// `urn:ietf:params:oauth:grant-type:device_code`, and the JWT bearer grant,
    /// `urn:ietf:params:oauth:grant-type:jwt-bearer`.
    pub grants: Vec<String>,
}

/// The device authorization grant's `grant_type` (RFC 8628 §3.4).
pub(crate) const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The JWT bearer grant's `grant_type` (RFC 7523 §2.1).
pub(crate) const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub(crate) const CLIENT_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

impl EmulatedClient {
    /// A confidential client allowed every grant.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        EmulatedClient {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            grants: [
                "client_credentials",
                "password",
                "refresh_token",
                "authorization_code",
                DEVICE_GRANT,
                JWT_BEARER_GRANT,
            ]
            .map(String::from)
            .to_vec(),
        }
    }

    /// A public client (RFC 6749 §2.1): no secret, identified by `client_id` alone,
    /// allowed the grants of a person's login: `authorization_code`, the device grant and
    /// `refresh_token`.
    pub fn public(client_id: impl Into<String>) -> Self {
        EmulatedClient {
            client_id: client_id.into(),
            client_secret: String::new(),
            grants: ["authorization_code", DEVICE_GRANT, "refresh_token"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Whether it is a public client: it has no secret.
    pub fn is_public(&self) -> bool {
        self.client_secret.is_empty()
    }
}

/// What the person asked to sign in at the authorization endpoint answers, as
/// [`StandardServer::set_authorization_decision`] sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationDecision {
    /// The person signs in and consents: the client is redirected with a code.
    #[default]
    Approve,
    /// The person refuses: the client is redirected with `error=access_denied`.
    Deny,
}

/// How the emulated server behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StandardServerConfig {
    /// Path of the token endpoint. Default `/token`.
    pub token_path: String,
    /// Path of the revocation endpoint, if the server has one. Default `/revoke`.
    pub revocation_path: Option<String>,
    /// Known clients. Default: `emulated-client` / `emulated-secret`, every grant, and
    /// the public client `emulated-public-client` ([`EmulatedClient::public`]).
    pub clients: Vec<EmulatedClient>,
    /// Users for the password grant: `(username, password)`. Default: `alice` /
    /// `alice-password`.
    pub users: Vec<(String, String)>,
    /// Access token lifetime. Default one hour.
    pub access_token_lifetime: Duration,
    /// Refresh token lifetime; `None` issues no refresh tokens. Default 30 days.
    pub refresh_token_lifetime: Option<Duration>,
    /// Issue a new refresh token on each refresh and treat the old one as used; reuse of
    /// a used one revokes the whole grant. Default true.
    pub rotate_refresh_tokens: bool,
    /// Issue a refresh token with client credentials (RFC 6749 §4.4.3 says it should
    /// not). Default false.
    pub refresh_token_for_client_credentials: bool,
    /// Send a `Date` header. Default true.
    pub send_date_header: bool,
    /// At most this many token-endpoint requests per window, then 429 with
    /// `Retry-After`. Default none.
    pub rate_limit: Option<(u32, Duration)>,
    /// The shape of token responses. Default [`ResponseFlavor::Rfc6749`].
    pub flavor: ResponseFlavor,

    /// The base URL (`scheme://host[:port]`, no trailing slash) the issuer and the
    /// endpoints in metadata, device codes and redirects are written with. Default
    /// `None`: the URL the client used, from the request's absolute URI, or else
    /// `http://` and its `Host` header.
    pub base_url: Option<String>,
    /// The issuer's path after the base URL: the issuer is `{base}{issuer_path}`. Default
    /// empty; [`keycloak`](Self::keycloak) has `/realms/{realm}`.
    pub issuer_path: String,
    /// Serve authorization server metadata (RFC 8414 §3, OpenID Connect Discovery §4) at
    /// `{issuer_path}/.well-known/openid-configuration` and
    /// `/.well-known/oauth-authorization-server{issuer_path}` (and, with an issuer path,
    /// also `{issuer_path}/.well-known/oauth-authorization-server`, as Keycloak does).
    /// Default true.
    pub discovery: bool,
    /// Path of the authorization endpoint (the authorization code grant with PKCE,
    /// RFC 6749 §4.1, RFC 7636), if the server has one. Default `/authorize`.
    pub authorization_path: Option<String>,
    /// Registered redirect URIs, as `(client_id, redirect_uri)`; a request's
    /// `redirect_uri` must equal one of its client's (RFC 6749 §3.1.2.3), but see
    /// [`loopback_any_port`](Self::loopback_any_port). Default: `http://127.0.0.1/callback`
    /// and `http://[::1]/callback` for each default client.
    pub redirect_uris: Vec<(String, String)>,
    /// For `http://127.0.0.1…` and `http://[::1]…` redirect URIs, any port matches the
    /// registered one (RFC 8252 §7.3); false requires the exact URI. Default true.
    pub loopback_any_port: bool,
    /// How long an authorization code may be exchanged. Default 60 seconds.
    pub authorization_code_lifetime: Duration,
    /// What the person answers at the authorization endpoint. Default
    /// [`AuthorizationDecision::Approve`].
    pub authorization_decision: AuthorizationDecision,
    /// Path of the device authorization endpoint (RFC 8628 §3.1), if the server has one.
    /// Default `/device_authorization`.
    pub device_authorization_path: Option<String>,
    /// Path of the verification page where a person enters a user code (RFC 8628 §3.3),
    /// served with the device authorization endpoint. Default `/device`.
    pub verification_path: String,
    /// How long a device code lives. Default 600 seconds.
    pub device_code_lifetime: Duration,
    /// The least time between two polls with one device code, counted from the previous
    /// poll (the first may come at once); a faster poll, whatever the person has decided,
    /// gets `slow_down` and adds 5 seconds to it for good (RFC 8628 §3.5). Default 5
    /// seconds.
    pub device_poll_interval: Duration,

    /// The issuers whose assertions the JWT bearer grant (RFC 7523 §2.1) accepts, as
    /// `(iss, key)`. Default none: without one the grant is not served.
    /// [`trust_issuer`](Self::trust_issuer) adds one.
    pub jwt_bearer_issuers: Vec<(String, AssertionKey)>,
    /// Clients that authenticate by assertion (RFC 7523 §2.2), as `(client_id, key)`: a
    /// JWK for `private_key_jwt`, an HS256 secret for `client_secret_jwt`. Each must also
    /// be in [`clients`](Self::clients), for its grants. Default none.
    /// [`assertion_client`](Self::assertion_client) adds one.
    pub client_assertion_keys: Vec<(String, AssertionKey)>,
    /// How assertions are checked: leeway, longest lifetime, accepted audiences.
    pub assertion_rules: AssertionRules,
}

/// The shape of an emulated server's token responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseFlavor {
    /// RFC 6749 §5.1, with `scope` when one was requested.
    Rfc6749,
    /// Convirza V2: adds `"status": "success"`.
    ConvirzaV2,
    /// Keycloak: adds `refresh_expires_in` (0 without a refresh token), `id_token` for
    /// the `openid` scope, `not-before-policy`, `session_state` for user grants, and the
    /// granted `scope`.
    Keycloak,
}

impl StandardServerConfig {
    /// Convirza V2 as documented: `/oauth/token`, the password grant with the client's
    /// credentials in the body (client `system` / `convirza-v2-secret`, user
    /// `user@convirza.com` / `mySecurePassword123`), 1-hour access tokens, 30-day refresh
    /// tokens rotated on use, 10 requests per minute, no revocation endpoint, and nothing
    /// for a person's login: no metadata, no authorization or device endpoints.
    pub fn convirza_v2() -> Self {
        StandardServerConfig {
            token_path: "/oauth/token".into(),
            revocation_path: None,
            clients: vec![EmulatedClient::new("system", "convirza-v2-secret")],
            users: vec![("user@convirza.com".into(), "mySecurePassword123".into())],
            access_token_lifetime: Duration::hours(1),
            refresh_token_lifetime: Some(Duration::days(30)),
            rate_limit: Some((10, Duration::minutes(1))),
            flavor: ResponseFlavor::ConvirzaV2,
            discovery: false,
            authorization_path: None,
            redirect_uris: Vec::new(),
            device_authorization_path: None,
            ..StandardServerConfig::default()
        }
    }

    /// A Keycloak realm as Convercus runs it: the realm's OpenID Connect token and
    /// revocation endpoints, client `machine-2-machine` / `convercus-secret`, user
    /// `api-user` / `api-password`, 30-minute access tokens, 604,799-second refresh tokens
    /// for the password grant only. The issuer is `{base}/realms/{realm}`, its metadata
    /// at `/realms/{realm}/.well-known/openid-configuration`; the authorization endpoint
    /// is the realm's `…/openid-connect/auth`, the device authorization endpoint
    /// `…/openid-connect/auth/device`, the verification page `/realms/{realm}/device`,
    /// and `http://127.0.0.1/callback` and `http://[::1]/callback` are the client's
    /// redirect URIs.
    pub fn keycloak(realm: &str) -> Self {
        let issuer_path = format!("/realms/{realm}");
        let base = format!("{issuer_path}/protocol/openid-connect");
        StandardServerConfig {
            token_path: format!("{base}/token"),
            revocation_path: Some(format!("{base}/revoke")),
            authorization_path: Some(format!("{base}/auth")),
            device_authorization_path: Some(format!("{base}/auth/device")),
            verification_path: format!("{issuer_path}/device"),
            redirect_uris: loopback_callbacks(&["machine-2-machine"]),
            issuer_path,
            clients: vec![EmulatedClient::new("machine-2-machine", "convercus-secret")],
            users: vec![("api-user".into(), "api-password".into())],
            access_token_lifetime: Duration::seconds(1800),
            refresh_token_lifetime: Some(Duration::seconds(604_799)),
            flavor: ResponseFlavor::Keycloak,
            ..StandardServerConfig::default()
        }
    }
}

impl Default for StandardServerConfig {
    fn default() -> Self {
        StandardServerConfig {
            token_path: "/token".into(),
            revocation_path: Some("/revoke".into()),
            clients: vec![
                EmulatedClient::new("emulated-client", "emulated-secret"),
                EmulatedClient::public("emulated-public-client"),
            ],
            users: vec![("alice".into(), "alice-password".into())],
            access_token_lifetime: Duration::hours(1),
            refresh_token_lifetime: Some(Duration::days(30)),
            rotate_refresh_tokens: true,
            refresh_token_for_client_credentials: false,
            send_date_header: true,
            rate_limit: None,
            flavor: ResponseFlavor::Rfc6749,
            base_url: None,
            issuer_path: String::new(),
            discovery: true,
            authorization_path: Some("/authorize".into()),
            redirect_uris: loopback_callbacks(&["emulated-client", "emulated-public-client"]),
            loopback_any_port: true,
            authorization_code_lifetime: Duration::seconds(60),
            authorization_decision: AuthorizationDecision::Approve,
            device_authorization_path: Some("/device_authorization".into()),
            verification_path: "/device".into(),
            device_code_lifetime: Duration::seconds(600),
            device_poll_interval: Duration::seconds(5),
            jwt_bearer_issuers: Vec::new(),
            client_assertion_keys: Vec::new(),
            assertion_rules: AssertionRules::default(),
        }
    }
}

impl StandardServerConfig {
    /// Trusts `issuer`'s assertions, checked with `key`, for the JWT bearer grant.
    pub fn trust_issuer(mut self, issuer: impl Into<String>, key: AssertionKey) -> Self {
        self.jwt_bearer_issuers.push((issuer.into(), key));
        self
    }

    /// Registers `client_id` to authenticate by assertions checked with `key`: a client
    /// with no secret, allowed every grant, unless one by that id is already in
    /// [`clients`](Self::clients).
    pub fn assertion_client(mut self, client_id: impl Into<String>, key: AssertionKey) -> Self {
        let client_id = client_id.into();
        if !self.clients.iter().any(|c| c.client_id == client_id) {
            self.clients
                .push(EmulatedClient::new(client_id.clone(), String::new()));
        }
        self.client_assertion_keys.push((client_id, key));
        self
    }
}

/// `http://127.0.0.1/callback` and `http://[::1]/callback` for each client.
fn loopback_callbacks(clients: &[&str]) -> Vec<(String, String)> {
    clients
        .iter()
        .flat_map(|client| {
            ["http://127.0.0.1/callback", "http://[::1]/callback"]
                .map(|uri| ((*client).to_owned(), uri.to_owned()))
        })
        .collect()
}

/// An in-memory, deterministic OAuth 2.0 authorization server: token endpoint
/// (client credentials, password, refresh with rotation and reuse detection), RFC 7009
/// revocation, and an RFC 6750 resource check. [`StandardServerConfig::convirza_v2`] and
/// [`StandardServerConfig::keycloak`] make it speak like those providers.
///
/// People log in too: the device authorization grant (RFC 8628) with a verification
/// page, the authorization code grant with S256 PKCE (RFC 7636) and loopback redirects
/// (RFC 8252) carrying `iss` (RFC 9207), and metadata (RFC 8414, OpenID Connect
/// Discovery). A test acts as the person through hooks —
/// [`approve_user_code`](Self::approve_user_code),
/// [`deny_user_code`](Self::deny_user_code),
/// [`set_authorization_decision`](Self::set_authorization_decision) — or over HTTP as a
/// browser would: the verification page's form, and `GET` on the authorization endpoint,
/// which answers with the redirect at once.
#[derive(Debug)]
pub struct StandardServer {
    config: StandardServerConfig,
    store: TokenStore,
    people: people::People,
    /// The `jti`s of the assertions accepted, until they expire.
    replay: assertion::ReplayCache,
}

impl StandardServer {
    /// A server with the given configuration and no tokens.
    pub fn new(config: StandardServerConfig) -> Self {
        let store = TokenStore::new(config.rate_limit);
        StandardServer {
            config,
            store,
            people: people::People::default(),
            replay: assertion::ReplayCache::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StandardServerConfig {
        &self.config
    }

    /// Sets how far the server's clock is ahead of (or, negative, behind) `now`; the
    /// `Date` header shows it.
    pub fn set_clock_offset(&mut self, offset: Duration) {
        self.store.set_clock_offset(offset);
    }

    fn token_endpoint(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        if request.method() != Method::POST {
            return json_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        if let Err(reply) = self.store.admit(now) {
            return reply;
        }
        let form = match form(request) {
            Ok(form) => form,
            Err(reply) => return reply,
        };
        let grant = form
            .get("grant_type")
            .map(String::as_str)
            .unwrap_or_default();
        // RFC 7523 §3.1: with the JWT bearer grant, client authentication is optional.
        let identify_only = grant == JWT_BEARER_GRANT && self.supports_grant(grant);
        let client = match self.authenticate(request, &form, identify_only, now) {
            Ok(client) => client,
            Err(reply) => return reply,
        };
        if !self.supports_grant(grant) {
            return json_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        if !client.grants.iter().any(|g| g == grant) {
            return json_error(StatusCode::BAD_REQUEST, "unauthorized_client");
        }
        let scope = form.get("scope").cloned();
        match grant {
            DEVICE_GRANT => self.device_token(&client, &form, now),
            JWT_BEARER_GRANT => self.jwt_bearer_token(request, &client, &form, now),
            "authorization_code" => self.code_token(&client, &form, now),
            "client_credentials" => {
                self.store.stats.logins += 1;
                let refresh = self.config.refresh_token_for_client_credentials;
                let family = self.store.new_family();
                self.grant(&client.client_id, scope, refresh, family, false, now)
            }
            "password" => {
                let (Some(username), Some(password)) = (form.get("username"), form.get("password"))
                else {
                    return json_error(StatusCode::BAD_REQUEST, "invalid_request");
                };
                if !self
                    .config
                    .users
                    .iter()
                    .any(|(u, p)| u == username && p == password)
                {
                    return json_error(StatusCode::BAD_REQUEST, "invalid_grant");
                }
                self.store.stats.logins += 1;
                let family = self.store.new_family();
                self.grant(&client.client_id, scope, true, family, true, now)
            }
            _ => {
                let Some(token) = form.get("refresh_token") else {
                    return json_error(StatusCode::BAD_REQUEST, "invalid_request");
                };
                let rotate = self.config.rotate_refresh_tokens;
                match self
                    .store
                    .spend_refresh_token(token, Some(&client.client_id), rotate, now)
                {
                    Ok(issued) => self.grant(
                        &client.client_id,
                        issued.scope,
                        rotate,
                        issued.family,
                        true,
                        now,
                    ),
                    Err(_) => json_error(StatusCode::BAD_REQUEST, "invalid_grant"),
                }
            }
        }
    }

    /// Whether the token endpoint knows `grant`: the grants of the enabled endpoints.
    fn supports_grant(&self, grant: &str) -> bool {
        match grant {
            "client_credentials" | "password" | "refresh_token" => true,
            "authorization_code" => self.config.authorization_path.is_some(),
            DEVICE_GRANT => self.config.device_authorization_path.is_some(),
            JWT_BEARER_GRANT => !self.config.jwt_bearer_issuers.is_empty(),
            _ => false,
        }
    }

    /// Issues an access token (and a refresh token when `with_refresh`) in `family`.
    /// `user_session` marks grants made for a user, which Keycloak tags with a session.
    fn grant(
        &mut self,
        client_id: &str,
        scope: Option<String>,
        with_refresh: bool,
        family: u64,
        user_session: bool,
        now: UtcDateTime,
    ) -> Reply {
        let lifetime = self.config.access_token_lifetime;
        let access = self.store.mint(
            Kind::Access,
            client_id,
            family,
            now.saturating_add(lifetime),
            &scope,
        );
        let mut body = serde_json::json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime.whole_seconds(),
        });
        let mut refresh_lifetime = None;
        if let (true, Some(lifetime)) = (with_refresh, self.config.refresh_token_lifetime) {
            let refresh = self.store.mint(
                Kind::Refresh,
                client_id,
                family,
                now.saturating_add(lifetime),
                &scope,
            );
            body["refresh_token"] = refresh.into();
            refresh_lifetime = Some(lifetime);
        }
        match self.config.flavor {
            ResponseFlavor::Rfc6749 => {
                if let Some(scope) = scope {
                    body["scope"] = scope.into();
                }
            }
            ResponseFlavor::ConvirzaV2 => body["status"] = "success".into(),
            ResponseFlavor::Keycloak => {
                // Keycloak's shape: the refresh token's lifetime (0: none), an ID token
                // for `openid`, the realm's not-before policy, and the granted scopes.
                body["refresh_expires_in"] =
                    refresh_lifetime.map_or(0, |l| l.whole_seconds()).into();
                let openid = scope
                    .as_deref()
                    .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
                if openid {
                    let id_token = self.store.mint(Kind::Id, client_id, family, now, &None);
                    body["id_token"] = format!("eyJ{id_token}").into();
                }
                body["not-before-policy"] = 0.into();
                if user_session {
                    body["session_state"] = format!("{family:08x}-session").into();
                }
                let granted = match scope.as_deref() {
                    Some(scope) => format!("{scope} profile email"),
                    None => "profile email".to_owned(),
                };
                body["scope"] = granted.into();
            }
        }
        let mut reply = json(StatusCode::OK, &body);
        reply
            .headers_mut()
            .insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        reply
            .headers_mut()
            .insert(PRAGMA, http::HeaderValue::from_static("no-cache"));
        reply
    }

    fn revocation_endpoint(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        if request.method() != Method::POST {
            return json_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        let (form, client) = match self.authenticated_form(request, now) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let Some(token) = form.get("token") else {
            return json_error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        // RFC 7009 §2.2: unknown tokens, tokens of other clients and unsupported hints
        // all get 200; the hint is only an optimisation, so it is ignored here.
        self.store.revoke(token, Some(&client.client_id));
        response(StatusCode::OK, Vec::new())
    }

    /// The request's form parameters and the client they authenticate.
    fn authenticated_form(
        &mut self,
        request: &http::Request<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<(HashMap<String, String>, EmulatedClient), Reply> {
        let form = form(request)?;
        let client = self.authenticate(request, &form, false, now)?;
        Ok((form, client))
    }

    /// The client the request authenticates: by HTTP Basic, by `client_secret` in the
    /// body, by a JWT client assertion, or (a public client, or any client when
    /// `identify_only`) by `client_id` alone.
    fn authenticate(
        &mut self,
        request: &http::Request<Vec<u8>>,
        form: &HashMap<String, String>,
        identify_only: bool,
        now: UtcDateTime,
    ) -> Result<EmulatedClient, Reply> {
        let basic = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "));
        let in_body = form.get("client_secret");
        if form.contains_key("client_assertion") || form.contains_key("client_assertion_type") {
            // RFC 6749 §2.3: one authentication method per request.
            if basic.is_some() || in_body.is_some() {
                return Err(json_error(StatusCode::BAD_REQUEST, "invalid_request"));
            }
            return self.client_by_assertion(request, form, now);
        }
        let (client_id, secret, used_basic) = match (basic, in_body) {
            (Some(_), Some(_)) => {
                return Err(json_error(StatusCode::BAD_REQUEST, "invalid_request"))
            }
            (Some(encoded), None) => {
                let (id, secret) = decode_basic(encoded).ok_or_else(|| invalid_client(true))?;
                (id, secret, true)
            }
            (None, Some(secret)) => {
                let id = form
                    .get("client_id")
                    .cloned()
                    .ok_or_else(|| invalid_client(false))?;
                (id, secret.clone(), false)
            }
            (None, None) => {
                // A public client names itself and has nothing to prove (RFC 6749 §2.1);
                // so does any client with the JWT bearer grant (RFC 7523 §3.1).
                let named = form.get("client_id").and_then(|id| {
                    self.config.clients.iter().find(|c| {
                        c.client_id == *id
                            && (identify_only
                                || (c.is_public() && self.client_key(&c.client_id).is_none()))
                    })
                });
                return named.cloned().ok_or_else(|| invalid_client(false));
            }
        };
        // A client that authenticates by assertion has no secret to match.
        self.config
            .clients
            .iter()
            .find(|c| {
                c.client_id == client_id
                    && c.client_secret == secret
                    && !(c.is_public() && self.client_key(&c.client_id).is_some())
            })
            .cloned()
            .ok_or_else(|| invalid_client(used_basic))
    }
}

impl Emulator for StandardServer {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let path = request.uri().path();
        let config = &self.config;
        let device = config.device_authorization_path.is_some();
        let mut reply = if path == config.token_path {
            self.token_endpoint(request, now)
        } else if config.revocation_path.as_deref() == Some(path) {
            self.revocation_endpoint(request, now)
        } else if config.device_authorization_path.as_deref() == Some(path) {
            self.device_authorization_endpoint(request, now)
        } else if device && path == config.verification_path {
            self.verification_page(request, now)
        } else if config.authorization_path.as_deref() == Some(path) {
            self.authorization_endpoint(request, now)
        } else if config.discovery && discovery::is_metadata_path(config, path) {
            self.metadata(request)
        } else {
            response(StatusCode::NOT_FOUND, Vec::new())
        };
        if self.config.send_date_header {
            self.store.date(&mut reply, now);
        }
        reply
    }

    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        self.store.resource_request(request, now, None)
    }

    delegate_to_store!();
}

/// Decodes `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

fn form(request: &http::Request<Vec<u8>>) -> Result<HashMap<String, String>, Reply> {
    if !has_content_type(request, "application/x-www-form-urlencoded") {
        return Err(json_error(StatusCode::BAD_REQUEST, "invalid_request"));
    }
    let mut form = HashMap::new();
    for (name, value) in form_urlencoded::parse(request.body()) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if form.insert(name.into_owned(), value.into_owned()).is_some() {
            return Err(json_error(StatusCode::BAD_REQUEST, "invalid_request"));
        }
    }
    Ok(form)
}

pub(crate) fn invalid_client(basic: bool) -> Reply {
    let mut reply = json_error(StatusCode::UNAUTHORIZED, "invalid_client");
    if basic {
        reply.headers_mut().insert(
            WWW_AUTHENTICATE,
            http::HeaderValue::from_static(r#"Basic realm="emulator""#),
        );
    }
    reply
}

mod assertion;
mod discovery;
mod people;
#[cfg(test)]
mod tests;
