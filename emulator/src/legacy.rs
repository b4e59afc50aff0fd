//! Convercus's legacy `/auth/login` in memory.

use std::fmt;

use http::{HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{json, Value};
use time::{Duration, UtcDateTime};

use super::store::{
    delegate_to_store, json, json_error, json_request, response, Emulator, InjectedFailure, Kind,
    Reply, ServerStats, TokenStore,
};

/// Where the emulated legacy login puts the token (the real format is undocumented).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyTokenShape {
    /// `{"<field>": "<token>"}`.
    JsonField(String),
    /// The header `<name>: Bearer <token>`, with an empty JSON object as body.
    Header(HeaderName),
}

/// How the emulated legacy login behaves.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConvercusLegacyServerConfig {
    /// The organization code. Default `ACME`.
    pub org: String,
    /// The API user. Default `api-user`.
    pub user_name: String,
    /// Its password. Default `api-password`.
    pub password: String,
    /// Token lifetime. Default 24 hours.
    pub token_lifetime: Duration,
    /// Where the token goes. Default the JSON field `token`.
    pub shape: LegacyTokenShape,
    /// A rate limit on logins. Default none.
    pub rate_limit: Option<(u32, Duration)>,
}

impl fmt::Debug for ConvercusLegacyServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvercusLegacyServerConfig")
            .field("org", &self.org)
            .field("user_name", &self.user_name)
            .field("token_lifetime", &self.token_lifetime)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl Default for ConvercusLegacyServerConfig {
    fn default() -> Self {
        ConvercusLegacyServerConfig {
            org: "ACME".into(),
            user_name: "api-user".into(),
            password: "api-password".into(),
            token_lifetime: Duration::hours(24),
            shape: LegacyTokenShape::JsonField("token".into()),
            rate_limit: None,
        }
    }
}

/// Convercus's legacy login: `POST /auth/login` with `{"org", "userName", "password"}`
/// answers a 24-hour token that cannot be refreshed or revoked.
#[derive(Debug)]
pub struct ConvercusLegacyServer {
    config: ConvercusLegacyServerConfig,
    store: TokenStore,
}

impl ConvercusLegacyServer {
    /// A server with the given configuration.
    pub fn new(config: ConvercusLegacyServerConfig) -> Self {
        let store = TokenStore::new(config.rate_limit);
        ConvercusLegacyServer { config, store }
    }

    fn login(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        if let Err(reply) = self.store.admit(now) {
            return reply;
        }
        let Some(body) = json_request(request) else {
            return json_error(StatusCode::BAD_REQUEST, "bad_request");
        };
        let field = |name: &str| body.get(name).and_then(Value::as_str);
        let (Some(org), Some(user_name), Some(password)) =
            (field("org"), field("userName"), field("password"))
        else {
            return json_error(StatusCode::BAD_REQUEST, "bad_request");
        };
        let config = &self.config;
        if org != config.org || user_name != config.user_name || password != config.password {
            return json_error(StatusCode::UNAUTHORIZED, "unauthorized");
        }
        self.store.stats.logins += 1;
        let family = self.store.new_family();
        let expires_at = now.saturating_add(self.config.token_lifetime);
        let token = self
            .store
            .mint(Kind::Access, user_name, family, expires_at, &None);
        match &self.config.shape {
            LegacyTokenShape::JsonField(name) => {
                let mut body = serde_json::Map::new();
                body.insert(name.clone(), Value::from(token));
                json(StatusCode::OK, &Value::Object(body))
            }
            LegacyTokenShape::Header(name) => {
                let mut reply = json(StatusCode::OK, &json!({}));
                if let Ok(value) = HeaderValue::try_from(format!("Bearer {token}")) {
                    reply.headers_mut().insert(name.clone(), value);
                }
                reply
            }
        }
    }
}

impl Emulator for ConvercusLegacyServer {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let mut reply = match (request.uri().path(), request.method()) {
            ("/auth/login", &Method::POST) => self.login(request, now),
            ("/auth/login", _) => json_error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            _ => response(StatusCode::NOT_FOUND, Vec::new()),
        };
        self.store.date(&mut reply, now);
        reply
    }

    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        self.store.resource_request(request, now, None)
    }

    delegate_to_store!();
}

#[cfg(test)]
mod tests {
    use time::macros::utc_datetime;

    use super::*;

    const NOW: UtcDateTime = utc_datetime!(2026-05-01 06:00:00);
    const LOGIN: &str = r#"{"org":"ACME","userName":"api-user","password":"api-password"}"#;

    fn post(body: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method("POST")
            .uri("https://api.convercus.io/auth/login")
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn tokens_come_in_the_configured_place_and_live_a_day() {
        let mut server = ConvercusLegacyServer::new(ConvercusLegacyServerConfig::default());
        let reply = server.handle(&post(LOGIN), NOW);
        assert_eq!(reply.status(), 200);
        let body: Value = serde_json::from_slice(reply.body()).unwrap();
        let token = body["token"].as_str().unwrap();
        assert!(server.is_access_token_valid(token, NOW + Duration::hours(23)));
        assert!(!server.is_access_token_valid(token, NOW + Duration::hours(24)));

        let config = ConvercusLegacyServerConfig {
            shape: LegacyTokenShape::Header(http::header::AUTHORIZATION),
            ..ConvercusLegacyServerConfig::default()
        };
        let mut server = ConvercusLegacyServer::new(config);
        let reply = server.handle(&post(LOGIN), NOW);
        let header = reply.headers()["authorization"].to_str().unwrap();
        assert!(server.is_access_token_valid(header.strip_prefix("Bearer ").unwrap(), NOW));
    }

    #[test]
    fn wrong_or_hostile_logins_get_errors() {
        let mut server = ConvercusLegacyServer::new(ConvercusLegacyServerConfig::default());
        let wrong = r#"{"org":"ACME","userName":"api-user","password":"nope"}"#;
        assert_eq!(server.handle(&post(wrong), NOW).status(), 401);
        for hostile in ["", "null", "[]", r#"{"org":1}"#, "\u{0}"] {
            assert_eq!(
                server.handle(&post(hostile), NOW).status(),
                400,
                "{hostile:?}"
            );
        }
        let get = http::Request::builder()
            .uri("/auth/login")
            .body(Vec::new())
            .unwrap();
        assert_eq!(server.handle(&get, NOW).status(), 405);
        assert_eq!(server.stats().logins, 0);
    }
}
