//! An RFC 6749 / 6750 / 7009 authorization server in memory.

use std::collections::{HashMap, VecDeque};

use base64::Engine as _;
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, DATE, PRAGMA, RETRY_AFTER, WWW_AUTHENTICATE,
};
use http::{Method, StatusCode};
use time::{Duration, UtcDateTime};

/// A client the server knows.
#[derive(Debug, Clone)]
pub struct EmulatedClient {
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// The grants it may use: `client_credentials`, `password`, `refresh_token`.
    pub grants: Vec<String>,
}

impl EmulatedClient {
    /// A client allowed every grant.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        EmulatedClient {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            grants: ["client_credentials", "password", "refresh_token"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// How the emulated server behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StandardServerConfig {
    /// Path of the token endpoint. Default `/token`.
    pub token_path: String,
    /// Path of the revocation endpoint. Default `/revoke`.
    pub revocation_path: String,
    /// Known clients. Default: one, `emulated-client` / `emulated-secret`, every grant.
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
}

impl Default for StandardServerConfig {
    fn default() -> Self {
        StandardServerConfig {
            token_path: "/token".into(),
            revocation_path: "/revoke".into(),
            clients: vec![EmulatedClient::new("emulated-client", "emulated-secret")],
            users: vec![("alice".into(), "alice-password".into())],
            access_token_lifetime: Duration::hours(1),
            refresh_token_lifetime: Some(Duration::days(30)),
            rotate_refresh_tokens: true,
            refresh_token_for_client_credentials: false,
            send_date_header: true,
        }
    }
}

/// A failure the next token-endpoint request meets instead of normal service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectedFailure {
    /// An empty response with this status and optional `Retry-After` value.
    Status {
        /// The status code.
        status: u16,
        /// The `Retry-After` header's value, if any.
        retry_after: Option<String>,
    },
    /// An RFC 6749 §5.2 error object with this status.
    OAuthError {
        /// The status code (200 emulates servers that report errors with a success status).
        status: u16,
        /// The `error` code.
        code: String,
    },
    /// Status 200 with a body that is not JSON.
    Garbage,
}

/// What the server has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Token endpoint requests, including failed ones.
    pub token_requests: u32,
    /// Successful logins (client credentials or password).
    pub logins: u32,
    /// Successful refreshes.
    pub refreshes: u32,
    /// Presentations of an already-used refresh token.
    pub refresh_token_reuses: u32,
    /// Revocation requests that revoked something.
    pub revocations: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Access,
    Refresh,
}

#[derive(Debug, Clone)]
struct Issued {
    kind: Kind,
    client_id: String,
    family: u64,
    expires_at: UtcDateTime,
    revoked: bool,
    used: bool,
    scope: Option<String>,
}

/// An in-memory, deterministic OAuth 2.0 authorization server: token endpoint
/// (client credentials, password, refresh with rotation and reuse detection), RFC 7009
/// revocation, and an RFC 6750 resource check.
#[derive(Debug)]
pub struct StandardServer {
    config: StandardServerConfig,
    issued: HashMap<String, Issued>,
    counter: u64,
    failures: VecDeque<InjectedFailure>,
    clock_offset: Duration,
    stats: ServerStats,
}

type Reply = http::Response<Vec<u8>>;

impl StandardServer {
    /// A server with the given configuration and no tokens.
    pub fn new(config: StandardServerConfig) -> Self {
        StandardServer {
            config,
            issued: HashMap::new(),
            counter: 0,
            failures: VecDeque::new(),
            clock_offset: Duration::ZERO,
            stats: ServerStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &StandardServerConfig {
        &self.config
    }

    /// Makes the next token-endpoint request meet `failure` (queued: several calls fail
    /// several requests, in order).
    pub fn fail_next(&mut self, failure: InjectedFailure) {
        self.failures.push_back(failure);
    }

    /// Revokes every token, as an administrator ending all sessions would.
    pub fn revoke_all(&mut self) {
        for issued in self.issued.values_mut() {
            issued.revoked = true;
        }
    }

    /// Sets how far the server's clock is ahead of (or, negative, behind) `now`; the
    /// `Date` header shows it.
    pub fn set_clock_offset(&mut self, offset: Duration) {
        self.clock_offset = offset;
    }

    /// What the server has seen.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    /// Whether `token` is a live access token at `now`.
    pub fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool {
        self.issued
            .get(token)
            .is_some_and(|t| t.kind == Kind::Access && !t.revoked && now < t.expires_at)
    }

    /// Answers a resource request as an RFC 6750 resource server would: 200 with a live
    /// `Authorization: Bearer` token, otherwise 401 with a `WWW-Authenticate` challenge
    /// (`error="invalid_token"` when a token was presented).
    pub fn resource_request(&self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        match token {
            Some(token) if self.is_access_token_valid(token, now) => {
                response(StatusCode::OK, b"{}".to_vec())
            }
            Some(_) => challenge(r#"Bearer realm="emulator", error="invalid_token""#),
            None => challenge(r#"Bearer realm="emulator""#),
        }
    }

    /// Handles a request to the token or revocation endpoint; anything else is 404.
    pub fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let path = request.uri().path();
        let mut reply = if path == self.config.token_path {
            self.token_endpoint(request, now)
        } else if path == self.config.revocation_path {
            self.revocation_endpoint(request)
        } else {
            response(StatusCode::NOT_FOUND, Vec::new())
        };
        if self.config.send_date_header {
            let date = httpdate::fmt_http_date(system_time(now.saturating_add(self.clock_offset)));
            if let Ok(value) = date.parse() {
                reply.headers_mut().insert(DATE, value);
            }
        }
        reply
    }

    fn token_endpoint(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        if request.method() != Method::POST {
            return oauth_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        self.stats.token_requests += 1;
        if let Some(failure) = self.failures.pop_front() {
            return injected(failure);
        }
        let (form, client) = match self.authenticated_form(request) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let grant = form
            .get("grant_type")
            .map(String::as_str)
            .unwrap_or_default();
        if !["client_credentials", "password", "refresh_token"].contains(&grant) {
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
        }
        if !client.grants.iter().any(|g| g == grant) {
            return oauth_error(StatusCode::BAD_REQUEST, "unauthorized_client");
        }
        let scope = form.get("scope").cloned();
        match grant {
            "client_credentials" => {
                self.stats.logins += 1;
                let refresh = self.config.refresh_token_for_client_credentials;
                self.grant(&client.client_id, scope, refresh, None, now)
            }
            "password" => {
                let (Some(username), Some(password)) = (form.get("username"), form.get("password"))
                else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
                };
                if !self
                    .config
                    .users
                    .iter()
                    .any(|(u, p)| u == username && p == password)
                {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
                }
                self.stats.logins += 1;
                self.grant(&client.client_id, scope, true, None, now)
            }
            _ => {
                let Some(token) = form.get("refresh_token") else {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
                };
                self.refresh(&client.client_id, token, now)
            }
        }
    }

    fn refresh(&mut self, client_id: &str, token: &str, now: UtcDateTime) -> Reply {
        let Some(issued) = self.issued.get(token).cloned() else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        };
        if issued.kind != Kind::Refresh || issued.client_id != client_id {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        if issued.used {
            // Reuse of a rotated refresh token: a sign of theft; end the whole grant.
            self.stats.refresh_token_reuses += 1;
            self.revoke_family(issued.family);
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        if issued.revoked || now >= issued.expires_at {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
        self.stats.refreshes += 1;
        if self.config.rotate_refresh_tokens {
            if let Some(old) = self.issued.get_mut(token) {
                old.used = true;
            }
            self.grant(client_id, issued.scope, true, Some(issued.family), now)
        } else {
            self.grant(client_id, issued.scope, false, Some(issued.family), now)
        }
    }

    fn grant(
        &mut self,
        client_id: &str,
        scope: Option<String>,
        with_refresh: bool,
        family: Option<u64>,
        now: UtcDateTime,
    ) -> Reply {
        let family = family.unwrap_or_else(|| {
            self.counter += 1;
            self.counter
        });
        let lifetime = self.config.access_token_lifetime;
        let access = self.mint(
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
        if let (true, Some(refresh_lifetime)) = (with_refresh, self.config.refresh_token_lifetime) {
            let refresh = self.mint(
                Kind::Refresh,
                client_id,
                family,
                now.saturating_add(refresh_lifetime),
                &scope,
            );
            body["refresh_token"] = refresh.into();
        }
        if let Some(scope) = scope {
            body["scope"] = scope.into();
        }
        let mut reply = response(StatusCode::OK, body.to_string().into_bytes());
        reply
            .headers_mut()
            .insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
        reply
            .headers_mut()
            .insert(PRAGMA, http::HeaderValue::from_static("no-cache"));
        reply
    }

    fn mint(
        &mut self,
        kind: Kind,
        client_id: &str,
        family: u64,
        expires_at: UtcDateTime,
        scope: &Option<String>,
    ) -> String {
        self.counter += 1;
        let prefix = match kind {
            Kind::Access => "at",
            Kind::Refresh => "rt",
        };
        let token = format!("{prefix}-{:016x}{:08x}", mix(self.counter), self.counter);
        self.issued.insert(
            token.clone(),
            Issued {
                kind,
                client_id: client_id.to_owned(),
                family,
                expires_at,
                revoked: false,
                used: false,
                scope: scope.clone(),
            },
        );
        token
    }

    fn revoke_family(&mut self, family: u64) {
        for issued in self.issued.values_mut().filter(|t| t.family == family) {
            issued.revoked = true;
        }
    }

    fn revocation_endpoint(&mut self, request: &http::Request<Vec<u8>>) -> Reply {
        if request.method() != Method::POST {
            return oauth_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
        }
        let (form, client) = match self.authenticated_form(request) {
            Ok(found) => found,
            Err(reply) => return reply,
        };
        let Some(token) = form.get("token") else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        };
        // RFC 7009 §2.2: unknown tokens, tokens of other clients and unsupported hints
        // all get 200; the hint is only an optimisation, so it is ignored here.
        if let Some(issued) = self.issued.get_mut(token.as_str()) {
            if issued.client_id == client.client_id && !issued.revoked {
                issued.revoked = true;
                let (kind, family) = (issued.kind, issued.family);
                if kind == Kind::Refresh {
                    // Revoking a refresh token ends the access tokens of its grant too.
                    self.revoke_family(family);
                }
                self.stats.revocations += 1;
            }
        }
        response(StatusCode::OK, Vec::new())
    }

    /// The request's form parameters and the client they authenticate.
    fn authenticated_form(
        &self,
        request: &http::Request<Vec<u8>>,
    ) -> Result<(HashMap<String, String>, EmulatedClient), Reply> {
        let form = form(request)?;
        let client = self.authenticate(request, &form)?;
        Ok((form, client))
    }

    fn authenticate(
        &self,
        request: &http::Request<Vec<u8>>,
        form: &HashMap<String, String>,
    ) -> Result<EmulatedClient, Reply> {
        let basic = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Basic "));
        let in_body = form.get("client_secret");
        let (client_id, secret, used_basic) = match (basic, in_body) {
            (Some(_), Some(_)) => {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request"))
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
            (None, None) => return Err(invalid_client(false)),
        };
        self.config
            .clients
            .iter()
            .find(|c| c.client_id == client_id && c.client_secret == secret)
            .cloned()
            .ok_or_else(|| invalid_client(used_basic))
    }
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
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request"));
    }
    let mut form = HashMap::new();
    for (name, value) in form_urlencoded::parse(request.body()) {
        // RFC 6749 §3.2: parameters must not be repeated.
        if form.insert(name.into_owned(), value.into_owned()).is_some() {
            return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request"));
        }
    }
    Ok(form)
}

fn injected(failure: InjectedFailure) -> Reply {
    match failure {
        InjectedFailure::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = response(status, Vec::new());
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                reply.headers_mut().insert(RETRY_AFTER, value);
            }
            reply
        }
        InjectedFailure::OAuthError { status, code } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = serde_json::json!({ "error": code }).to_string();
            json(status, body.into_bytes())
        }
        InjectedFailure::Garbage => {
            response(StatusCode::OK, b"<html>upstream error</html>".to_vec())
        }
    }
}

fn response(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut reply = http::Response::new(body);
    *reply.status_mut() = status;
    if !reply.body().is_empty() && reply.body()[0] == b'{' {
        reply.headers_mut().insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
    }
    reply
}

fn json(status: StatusCode, body: Vec<u8>) -> Reply {
    response(status, body)
}

fn oauth_error(status: StatusCode, code: &str) -> Reply {
    json(
        status,
        serde_json::json!({ "error": code })
            .to_string()
            .into_bytes(),
    )
}

fn invalid_client(basic: bool) -> Reply {
    let mut reply = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    if basic {
        reply.headers_mut().insert(
            WWW_AUTHENTICATE,
            http::HeaderValue::from_static(r#"Basic realm="emulator""#),
        );
    }
    reply
}

fn challenge(value: &'static str) -> Reply {
    let mut reply = response(StatusCode::UNAUTHORIZED, Vec::new());
    reply
        .headers_mut()
        .insert(WWW_AUTHENTICATE, http::HeaderValue::from_static(value));
    reply
}

fn system_time(at: UtcDateTime) -> std::time::SystemTime {
    let seconds = at.unix_timestamp();
    if seconds >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds.unsigned_abs())
    } else {
        std::time::UNIX_EPOCH
    }
}

/// SplitMix64: token strings that look random but are reproducible.
fn mix(counter: u64) -> u64 {
    let mut z = counter.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests;
