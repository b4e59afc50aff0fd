//! Convirza V3's OAuth service in memory.

use std::fmt;

use http::{Method, StatusCode};
use serde_json::{json, Value};
use time::{Duration, UtcDateTime};

use super::store::{
    delegate_to_store, json, json_request, response, Emulator, InjectedFailure, Kind, Reply,
    ServerStats, TokenStore,
};

/// A Convirza V3 user account.
#[derive(Clone, PartialEq, Eq)]
pub struct ConvirzaAccount {
    /// The login email.
    pub email: String,
    /// The password.
    pub password: String,
    /// `user.user_id`.
    pub user_id: i64,
    /// `user.role_id`.
    pub role_id: i64,
    /// `user.org_unit_id`.
    pub org_unit_id: i64,
}

impl fmt::Debug for ConvirzaAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvirzaAccount")
            .field("email", &self.email)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// How the emulated Convirza V3 service behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConvirzaV3ServerConfig {
    /// Accounts. Default: the documents' `user@example.com` / `SecurePassword123!`,
    /// user 12345, role 2, org unit 1001.
    pub accounts: Vec<ConvirzaAccount>,
    /// Access-token lifetime, and the life each authenticated call gives it. Default 7
    /// days.
    pub access_token_lifetime: Duration,
    /// Refresh-token lifetime. Default 180 days.
    pub refresh_token_lifetime: Duration,
    /// Whether authenticated calls renew the access token. Default true.
    pub sliding: bool,
    /// The login endpoint's rate limit. Default 10 per minute.
    pub login_rate_limit: Option<(u32, Duration)>,
    /// Write timestamps with milliseconds (`…56.789Z`), as the documents show. Default
    /// true.
    pub fractional_seconds: bool,
}

impl Default for ConvirzaV3ServerConfig {
    fn default() -> Self {
        ConvirzaV3ServerConfig {
            accounts: vec![ConvirzaAccount {
                email: "user@example.com".into(),
                password: "SecurePassword123!".into(),
                user_id: 12345,
                role_id: 2,
                org_unit_id: 1001,
            }],
            access_token_lifetime: Duration::days(7),
            refresh_token_lifetime: Duration::days(180),
            sliding: true,
            login_rate_limit: Some((10, Duration::minutes(1))),
            fractional_seconds: true,
        }
    }
}

/// Convirza V3's OAuth service: JSON login at `/oauth/token` (rate-limited), single-use
/// refresh rotation at `/oauth/refresh-token` with reuse detection, idempotent
/// revocation at `/oauth/revoke-token`, absolute ISO 8601 expiries, and an API whose
/// every authenticated call slides the access token's expiry.
#[derive(Debug)]
pub struct ConvirzaV3Server {
    config: ConvirzaV3ServerConfig,
    store: TokenStore,
    clock_offset: Duration,
}

impl ConvirzaV3Server {
    /// A server with the given configuration and no sessions.
    pub fn new(config: ConvirzaV3ServerConfig) -> Self {
        let store = TokenStore::new(config.login_rate_limit);
        ConvirzaV3Server {
            config,
            store,
            clock_offset: Duration::ZERO,
        }
    }

    /// Sets how far the server's clock is ahead of (or, negative, behind) `now`: its
    /// timestamps and `Date` header show it.
    pub fn set_clock_offset(&mut self, offset: Duration) {
        self.clock_offset = offset;
        self.store.set_clock_offset(offset);
    }

    fn login(&mut self, body: &serde_json::Map<String, Value>, now: UtcDateTime) -> Reply {
        let (Some(email), Some(password)) = (
            body.get("email").and_then(Value::as_str),
            body.get("password").and_then(Value::as_str),
        ) else {
            return message(StatusCode::BAD_REQUEST, "email and password are required");
        };
        let Some(account) = self
            .config
            .accounts
            .iter()
            .find(|a| a.email == email && a.password == password)
            .cloned()
        else {
            return message(StatusCode::UNAUTHORIZED, "Invalid email or password");
        };
        self.store.stats.logins += 1;
        let family = self.store.new_family();
        self.issue(&account, family, now)
    }

    fn refresh(&mut self, body: &serde_json::Map<String, Value>, now: UtcDateTime) -> Reply {
        let Some(token) = body.get("refresh_token").and_then(Value::as_str) else {
            return message(StatusCode::BAD_REQUEST, "refresh_token is required");
        };
        let issued = match self.store.spend_refresh_token(token, None, true, now) {
            Ok(issued) => issued,
            Err(_) => return message(StatusCode::UNAUTHORIZED, "Invalid or expired refresh token"),
        };
        let Some(account) = self
            .config
            .accounts
            .iter()
            .find(|a| a.email == issued.owner)
            .cloned()
        else {
            return message(StatusCode::UNAUTHORIZED, "Invalid or expired refresh token");
        };
        self.issue(&account, issued.family, now)
    }

    fn revoke(&mut self, body: &serde_json::Map<String, Value>) -> Reply {
        let (Some(token), Some(kind)) = (
            body.get("token").and_then(Value::as_str),
            body.get("token_type").and_then(Value::as_str),
        ) else {
            return message(StatusCode::BAD_REQUEST, "token and token_type are required");
        };
        if kind != "access" && kind != "refresh" {
            return message(
                StatusCode::BAD_REQUEST,
                "token_type must be access or refresh",
            );
        }
        // Idempotent: unknown, expired or already revoked tokens succeed too.
        self.store.revoke(token, None);
        message(StatusCode::OK, "Token revoked")
    }

    /// A new token pair in `family`, with the documented body.
    fn issue(&mut self, account: &ConvirzaAccount, family: u64, now: UtcDateTime) -> Reply {
        let expires_at = now.saturating_add(self.config.access_token_lifetime);
        let refresh_expires_at = now.saturating_add(self.config.refresh_token_lifetime);
        let access = self
            .store
            .mint(Kind::Access, &account.email, family, expires_at, &None);
        let refresh = self.store.mint(
            Kind::Refresh,
            &account.email,
            family,
            refresh_expires_at,
            &None,
        );
        let frontend = self
            .store
            .mint(Kind::Id, &account.email, family, now, &None);
        let frontend: String = frontend
            .chars()
            .rev()
            .filter(char::is_ascii_hexdigit)
            .collect();
        json(
            StatusCode::OK,
            &json!({
                "access_token": access,
                "frontend_token": format!("{frontend:0>32}"),
                "refresh_token": refresh,
                "token_type": "Bearer",
                "expires_in": self.timestamp(expires_at),
                "refresh_expires_in": self.timestamp(refresh_expires_at),
                "user": {
                    "user_id": account.user_id,
                    "email": account.email,
                    "role_id": account.role_id,
                    "org_unit_id": account.org_unit_id,
                },
            }),
        )
    }

    /// An absolute moment in the server's clock, as Convirza writes it.
    fn timestamp(&self, at: UtcDateTime) -> String {
        let at = at.saturating_add(self.clock_offset);
        let base = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
        if self.config.fractional_seconds {
            format!("{base}.{:03}Z", at.millisecond())
        } else {
            format!("{base}Z")
        }
    }
}

/// Convirza's error shape: a message.
fn message(status: StatusCode, text: &str) -> Reply {
    json(status, &json!({ "message": text }))
}

impl Emulator for ConvirzaV3Server {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let path = request.uri().path();
        let known = [
            "/oauth/token",
            "/oauth/refresh-token",
            "/oauth/revoke-token",
        ];
        let mut reply = if !known.contains(&path) {
            response(StatusCode::NOT_FOUND, Vec::new())
        } else if request.method() != Method::POST {
            message(StatusCode::METHOD_NOT_ALLOWED, "POST only")
        } else {
            let admitted = if path == "/oauth/token" {
                self.store.admit(now)
            } else {
                self.store.admit_unlimited()
            };
            match (admitted, json_request(request)) {
                (Err(reply), _) => reply,
                (Ok(()), None) => {
                    message(StatusCode::BAD_REQUEST, "a JSON object body is required")
                }
                (Ok(()), Some(body)) => match path {
                    "/oauth/token" => self.login(&body, now),
                    "/oauth/refresh-token" => self.refresh(&body, now),
                    _ => self.revoke(&body),
                },
            }
        };
        self.store.date(&mut reply, now);
        reply
    }

    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let slide = self
            .config
            .sliding
            .then_some(self.config.access_token_lifetime);
        self.store.resource_request(request, now, slide)
    }

    delegate_to_store!();
}

#[cfg(test)]
mod tests {
    use time::macros::utc_datetime;

    use super::*;

    fn parse_timestamp(value: &str) -> Option<UtcDateTime> {
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|at| at.to_utc())
    }

    const NOW: UtcDateTime = utc_datetime!(2026-03-30 12:00:00.250);

    fn post(path: &str, body: &str) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .method("POST")
            .uri(format!("http://127.0.0.1{path}"))
            .header("content-type", "application/json")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    fn body(reply: &Reply) -> Value {
        serde_json::from_slice(reply.body()).unwrap()
    }

    fn login(server: &mut ConvirzaV3Server, now: UtcDateTime) -> Value {
        let reply = server.handle(
            &post(
                "/oauth/token",
                r#"{"email":"user@example.com","password":"SecurePassword123!"}"#,
            ),
            now,
        );
        assert_eq!(reply.status(), 200);
        body(&reply)
    }

    fn bearer(token: &Value) -> http::Request<Vec<u8>> {
        http::Request::builder()
            .header(
                "authorization",
                format!("Bearer {}", token.as_str().unwrap()),
            )
            .body(Vec::new())
            .unwrap()
    }

    #[test]
    fn login_answers_with_the_documented_shape() {
        let mut server = ConvirzaV3Server::new(ConvirzaV3ServerConfig::default());
        let body = login(&mut server, NOW);
        let expires = body["expires_in"].as_str().unwrap();
        assert_eq!(expires, "2026-04-06T12:00:00.250Z");
        assert_eq!(parse_timestamp(expires), Some(NOW + Duration::days(7)));
        assert_eq!(
            parse_timestamp(body["refresh_expires_in"].as_str().unwrap()),
            Some(NOW + Duration::days(180))
        );
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["frontend_token"].as_str().unwrap().len(), 32);
        assert_eq!(
            body["user"],
            json!({"user_id": 12345, "email": "user@example.com", "role_id": 2, "org_unit_id": 1001})
        );
        let wrong = server.handle(
            &post(
                "/oauth/token",
                r#"{"email":"user@example.com","password":"x"}"#,
            ),
            NOW,
        );
        assert_eq!(wrong.status(), 401);
    }

    #[test]
    fn refresh_rotates_and_reuse_ends_the_session() {
        let mut server = ConvirzaV3Server::new(ConvirzaV3ServerConfig::default());
        let first = login(&mut server, NOW);
        let refresh = |token: &Value| {
            post(
                "/oauth/refresh-token",
                &json!({ "refresh_token": token }).to_string(),
            )
        };
        let second = server.handle(&refresh(&first["refresh_token"]), NOW);
        assert_eq!(second.status(), 200);
        let second = body(&second);
        assert_ne!(second["refresh_token"], first["refresh_token"]);
        let reused = server.handle(&refresh(&first["refresh_token"]), NOW);
        assert_eq!(reused.status(), 401);
        assert_eq!(server.stats().refresh_token_reuses, 1);
        let token = second["access_token"].as_str().unwrap();
        assert!(
            !server.is_access_token_valid(token, NOW),
            "theft ends the family"
        );
    }

    #[test]
    fn calls_slide_the_expiry_and_revocation_is_idempotent() {
        let mut server = ConvirzaV3Server::new(ConvirzaV3ServerConfig::default());
        let body = login(&mut server, NOW);
        let token = body["access_token"].as_str().unwrap().to_owned();
        let later = NOW + Duration::days(6);
        assert_eq!(
            server
                .resource_request(&bearer(&body["access_token"]), later)
                .status(),
            200
        );
        assert!(server.is_access_token_valid(&token, NOW + Duration::days(12)));
        assert!(!server.is_access_token_valid(&token, NOW + Duration::days(13)));
        let revoke = post(
            "/oauth/revoke-token",
            &json!({ "token": token, "token_type": "access" }).to_string(),
        );
        assert_eq!(server.handle(&revoke, later).status(), 200);
        assert_eq!(server.handle(&revoke, later).status(), 200);
        assert_eq!(
            server
                .resource_request(&bearer(&body["access_token"]), later)
                .status(),
            401
        );
        let bad = post("/oauth/revoke-token", r#"{"token":"x","token_type":"id"}"#);
        assert_eq!(server.handle(&bad, later).status(), 400);
    }

    #[test]
    fn logins_are_rate_limited_per_minute() {
        let mut server = ConvirzaV3Server::new(ConvirzaV3ServerConfig::default());
        for _ in 0..10 {
            login(&mut server, NOW);
        }
        let limited = server.handle(
            &post(
                "/oauth/token",
                r#"{"email":"user@example.com","password":"SecurePassword123!"}"#,
            ),
            NOW + Duration::seconds(30),
        );
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["retry-after"], "30");
        login(&mut server, NOW + Duration::minutes(1));
        assert_eq!(server.stats().rate_limited, 1);
    }

    #[test]
    fn timestamps_follow_the_clock_offset_and_format() {
        let config = ConvirzaV3ServerConfig {
            fractional_seconds: false,
            ..ConvirzaV3ServerConfig::default()
        };
        let mut server = ConvirzaV3Server::new(config);
        server.set_clock_offset(Duration::minutes(3));
        let body = login(&mut server, NOW);
        assert_eq!(body["expires_in"], "2026-04-06T12:03:00Z");
    }

    #[test]
    fn hostile_requests_get_errors_not_panics() {
        let mut server = ConvirzaV3Server::new(ConvirzaV3ServerConfig::default());
        for (path, body) in [
            ("/oauth/token", ""),
            ("/oauth/token", "[1,2]"),
            ("/oauth/token", r#"{"email":1,"password":null}"#),
            ("/oauth/refresh-token", r#"{"refresh_token":{"a":1}}"#),
            ("/oauth/revoke-token", "\u{0}\u{1}"),
            ("/elsewhere", "{}"),
        ] {
            let status = server.handle(&post(path, body), NOW).status();
            assert!(status.is_client_error(), "{path} {body:?}: {status}");
        }
        let form = http::Request::builder()
            .method("POST")
            .uri("/oauth/token")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(b"email=a&password=b".to_vec())
            .unwrap();
        assert_eq!(server.handle(&form, NOW).status(), 400);
        let get = http::Request::builder()
            .uri("/oauth/token")
            .body(Vec::new())
            .unwrap();
        assert_eq!(server.handle(&get, NOW).status(), 405);
    }
}
