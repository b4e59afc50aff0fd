//! Property test: random sequences of time steps, server answers of every class,
//! transport errors, stale ids, 401 reports, successful calls and revokes, checked after
//! every step against a reference model of what the session may and may not do.
//!
//! Besides, a read side fed only by events must agree with the driver after every step,
//! and every request that spends a single-use refresh token must follow a persistence
//! point.
//!
//! 5,000 cases by default; `PROPTEST_CASES` overrides.

mod support;

use std::collections::HashSet;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{
    AnySession, Driver, Event, Generation, Misuse, Output, Policy, Purpose, RequestId, TokenKind,
    TokenRequest, TransportError, Unauthorized,
};
use proptest::prelude::*;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

use support::pace::assert_no_token_endpoint_storm;
use support::read_side::ReadSide;

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);
const CLIENT_SECRET: &str = "client-secret-Zq8YtR4mWx2Lp9Kd";
const PASSWORD: &str = "user-password-Hv7Nc3Bj6Qs1Tf5G";
const RESPONSE_TIMEOUT: Duration = Duration::seconds(30);

#[derive(Debug, Clone)]
enum Lifetime {
    Seconds(i64),
    Text(String),
    Float(f64),
    Missing,
}

#[derive(Debug, Clone)]
enum Reply {
    Success {
        lifetime: Lifetime,
        refresh: bool,
        token_type: Option<&'static str>,
        /// A `Date` header this many seconds from the caller's clock.
        date: Option<i64>,
    },
    OAuthError {
        status: u16,
        code: &'static str,
    },
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    Garbage(Vec<u8>),
    Oversized,
}

#[derive(Debug, Clone)]
enum Command {
    Advance(i64),
    Answer(Reply),
    TransportError(TransportError),
    WrongId(u64),
    /// A 401 reported for the current token, or (when `stale`) for the one before it.
    Unauthorized {
        stale: bool,
    },
    CallSucceeded,
    Revoke,
}

fn lifetime() -> impl Strategy<Value = Lifetime> {
    prop_oneof![
        6 => (30_i64..7200).prop_map(Lifetime::Seconds),
        // A server configured with very short lifetimes.
        2 => (1_i64..=10).prop_map(Lifetime::Seconds),
        // Expired on arrival, and "never expires".
        1 => prop_oneof![Just(0_i64), -100_i64..0, Just(i64::MAX), Just(2_147_483_647), Just(400_000_000)].prop_map(Lifetime::Seconds),
        1 => (30_i64..7200).prop_map(|s| Lifetime::Text(s.to_string())),
        1 => Just(Lifetime::Text("soon".into())),
        1 => Just(Lifetime::Float(600.0)),
        1 => Just(Lifetime::Missing),
    ]
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        8 => (lifetime(), any::<bool>(), prop_oneof![
            8 => Just(Some("Bearer")), 1 => Just(Some("bearer")), 1 => Just(Some("BEARER")),
            1 => Just(Some("mac")), 1 => Just(None)
        ], prop_oneof![
            4 => Just(None),
            1 => (-30_i64..30).prop_map(Some),
            // Implausible: a server clock decades off either way.
            1 => prop_oneof![Just(-1_700_000_000_i64), Just(2_000_000_000)].prop_map(Some),
        ]).prop_map(|(lifetime, refresh, token_type, date)| Reply::Success { lifetime, refresh, token_type, date }),
        1 => Just(Reply::OAuthError { status: 400, code: "invalid_grant" }),
        1 => Just(Reply::OAuthError { status: 401, code: "invalid_client" }),
        1 => Just(Reply::OAuthError { status: 400, code: "invalid_request" }),
        1 => Just(Reply::OAuthError { status: 200, code: "invalid_grant" }),
        1 => Just(Reply::OAuthError { status: 503, code: "temporarily_unavailable" }),
        3 => (prop_oneof![Just(429_u16), Just(503)], prop_oneof![
            Just(None),
            (0_u32..300).prop_map(|s| Some(s.to_string())),
            Just(Some("0".to_owned())),
            Just(Some("4294967295".to_owned())),
            Just(Some("Wed, 02 Sep 2026 00:00:00 GMT".to_owned())),
            Just(Some("Thu, 01 Jan 1970 00:00:00 GMT".to_owned())),
            Just(Some("Fri, 31 Dec 9999 23:59:59 GMT".to_owned())),
            Just(Some("garbage".to_owned())),
        ]).prop_map(|(status, retry_after)| Reply::Status { status, retry_after }),
        2 => prop_oneof![Just(500_u16), Just(502), Just(503), Just(408), Just(404)]
            .prop_map(|status| Reply::Status { status, retry_after: None }),
        1 => proptest::collection::vec(any::<u8>(), 0..64).prop_map(Reply::Garbage),
        1 => Just(Reply::Oversized),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        6 => prop_oneof![0_i64..10, 0_i64..600, 0_i64..7200].prop_map(Command::Advance),
        // A clock that jumps (a suspended laptop, an NTP step).
        1 => prop_oneof![Just(86_400_i64), Just(30 * 86_400)].prop_map(Command::Advance),
        8 => reply().prop_map(Command::Answer),
        1 => prop_oneof![Just(TransportError::NotSent), Just(TransportError::OutcomeUnknown)]
            .prop_map(Command::TransportError),
        1 => (0_u64..5).prop_map(Command::WrongId),
        2 => any::<bool>().prop_map(|stale| Command::Unauthorized { stale }),
        1 => Just(Command::CallSucceeded),
        1 => Just(Command::Revoke),
    ]
}

fn dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", "model-client")
        .client_secret(CLIENT_SECRET)
        .password("alice", PASSWORD)
        .revocation_url("http://127.0.0.1/revoke")
        .build()
        .unwrap()
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_seed = 42;
    policy
}

/// What the model knows.
struct Model {
    driver: Driver<Standard>,
    now: UtcDateTime,
    in_flight: Option<(TokenRequest, UtcDateTime)>,
    counter: u64,
    secrets: Vec<String>,
    /// Refresh tokens the session must never present again: every one it sent, unless a
    /// successful answer that issued no replacement kept it in use (RFC 6749 §6), or the
    /// request never left.
    spent_refresh_tokens: HashSet<String>,
    /// When each login and refresh was sent, oldest first.
    token_requests: Vec<UtcDateTime>,
    /// The newest access token the server issued and its hard expiry, by the model's
    /// own arithmetic (relative lifetime counted from when the request left).
    newest: Option<(String, Option<UtcDateTime>)>,
    /// Access tokens a resource server rejected.
    rejected: HashSet<String>,
    revoked: bool,
    /// Ids of requests no longer in flight.
    past_ids: Vec<RequestId>,
    read_side: ReadSide,
    /// The generations the session announced, oldest first.
    issued: Vec<Generation>,
}

impl Model {
    fn new() -> Self {
        let mut model = Model {
            driver: Driver::new(dialect(), policy()).unwrap(),
            now: START,
            in_flight: None,
            counter: 0,
            secrets: vec![CLIENT_SECRET.into(), PASSWORD.into()],
            spent_refresh_tokens: HashSet::new(),
            token_requests: Vec::new(),
            newest: None,
            rejected: HashSet::new(),
            revoked: false,
            past_ids: Vec::new(),
            read_side: ReadSide::default(),
            issued: Vec::new(),
        };
        model.driver.handle_timeout(model.now);
        model.drain();
        model
    }

    fn mint(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let mut z = self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let token: String = (0..24)
            .map(|_| {
                z ^= z >> 29;
                z = z.wrapping_mul(0xbf58_476d_1ce4_e5b9);
                char::from(
                    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                        [(z >> 32) as usize % 62],
                )
            })
            .collect();
        let token = format!("{prefix}{token}");
        self.secrets.push(token.clone());
        token
    }

    fn no_secret_in(&self, shown: &str) {
        for secret in &self.secrets {
            assert!(
                !shown.contains(secret.as_str()),
                "a secret leaked into: {shown}"
            );
        }
    }

    /// Collects outputs, checking the invariants on each.
    fn drain(&mut self) {
        let mut persisted = false;
        for _ in 0..16 {
            let output = self.driver.poll_output();
            self.no_secret_in(&format!("{output:?}"));
            match output {
                Output::Request(request) => {
                    assert!(!self.revoked, "a request after Revoked: {request:?}");
                    if let Some((previous, sent_at)) = &self.in_flight {
                        assert!(
                            self.now >= *sent_at + RESPONSE_TIMEOUT,
                            "a second request {request:?} while {previous:?} is in flight"
                        );
                    }
                    if matches!(request.purpose(), Purpose::Login | Purpose::Refresh) {
                        self.token_requests.push(self.now);
                        assert_no_token_endpoint_storm(
                            &self.token_requests,
                            policy().token_request_budget,
                        );
                    }
                    if request.purpose() == Purpose::Refresh {
                        assert!(
                            self.spent_refresh_tokens.insert(refresh_token_of(&request)),
                            "a spent single-use refresh token was sent again"
                        );
                        assert!(!request.is_resend_safe());
                        assert!(
                            persisted,
                            "a refresh token spent before a persistence point"
                        );
                    }
                    if let Some((previous, _)) = self.in_flight.replace((request, self.now)) {
                        self.past_ids.push(previous.id());
                    }
                }
                Output::Persist => persisted = true,
                Output::Event(event) => {
                    self.read_side.apply(&event);
                    if let Event::TokenIssued { generation, .. } = &event {
                        self.issued.push(*generation);
                    }
                    if let Event::RetryScheduled { error, .. }
                    | Event::ReauthenticationRequired { error }
                    | Event::Rejected { error }
                    | Event::RevocationFailed { error, .. } = &event
                    {
                        self.no_secret_in(&error.to_string());
                    }
                    if event == Event::Revoked {
                        assert!(!self.revoked, "revoked twice");
                        self.revoked = true;
                    }
                }
                Output::Timeout(_) | Output::Idle => return,
            }
        }
        panic!("the driver never settled");
    }

    fn reply(
        &mut self,
        reply: &Reply,
        purpose: Purpose,
        sent_at: UtcDateTime,
    ) -> http::Response<Vec<u8>> {
        let builder = |status: u16| http::Response::builder().status(status);
        match reply {
            Reply::Success {
                lifetime,
                refresh,
                token_type,
                date,
            } => {
                let access = self.mint("AT");
                let mut body = serde_json::json!({ "access_token": access });
                if let Some(kind) = token_type {
                    body["token_type"] = (*kind).into();
                }
                let seconds = match lifetime {
                    Lifetime::Seconds(s) => Some(*s),
                    Lifetime::Text(t) => {
                        body["expires_in"] = t.clone().into();
                        t.parse().ok()
                    }
                    Lifetime::Float(f) => {
                        body["expires_in"] = (*f).into();
                        Some(*f as i64)
                    }
                    Lifetime::Missing => Some(3600),
                };
                if let Lifetime::Seconds(s) = lifetime {
                    body["expires_in"] = (*s).into();
                }
                if *refresh {
                    body["refresh_token"] = self.mint("RT").into();
                }
                let bearer = token_type.is_some_and(|t| t.eq_ignore_ascii_case("bearer"));
                let valid = seconds.filter(|s| *s > 0);
                if matches!(purpose, Purpose::Login | Purpose::Refresh) && !self.revoked {
                    if let (true, Some(seconds)) = (bearer, valid) {
                        // "Never expires" is believed up to the policy's maximum lifetime.
                        let lifetime = Duration::seconds(seconds).min(policy().max_lifetime);
                        let hard = policy().hard_expiry(sent_at, sent_at + lifetime);
                        self.newest = Some((access, Some(hard)));
                    }
                }
                let mut response = builder(200);
                if let Some(offset) = date {
                    let at = std::time::SystemTime::from(self.now + Duration::seconds(*offset));
                    response = response.header("date", httpdate::fmt_http_date(at));
                }
                response.body(body.to_string().into_bytes()).unwrap()
            }
            Reply::OAuthError { status, code } => builder(*status)
                .body(
                    serde_json::json!({ "error": code, "error_description": "model" })
                        .to_string()
                        .into_bytes(),
                )
                .unwrap(),
            Reply::Status {
                status,
                retry_after,
            } => {
                let mut b = builder(*status);
                if let Some(value) = retry_after {
                    b = b.header("retry-after", value.as_str());
                }
                b.body(Vec::new()).unwrap()
            }
            Reply::Garbage(bytes) => builder(200).body(bytes.clone()).unwrap(),
            Reply::Oversized => builder(200).body(vec![b' '; 70 * 1024]).unwrap(),
        }
    }

    fn token_now(&self) -> Option<String> {
        self.driver
            .access_token(self.now)
            .map(|t| t.secret().to_owned())
    }

    fn apply(&mut self, command: &Command) {
        let before = self.token_now();
        match command {
            Command::Advance(seconds) => {
                self.now += Duration::seconds(*seconds);
                if let Some((_, sent_at)) = &self.in_flight {
                    if self.now >= *sent_at + RESPONSE_TIMEOUT {
                        // The driver counts it as lost at this moment.
                        if let Some((lost, _)) = self.in_flight.take() {
                            self.past_ids.push(lost.id());
                        }
                    }
                }
                self.driver.handle_timeout(self.now);
            }
            Command::Answer(reply) => {
                let Some((request, sent_at)) = self.in_flight.take() else {
                    return;
                };
                self.past_ids.push(request.id());
                let response = self.reply(reply, request.purpose(), sent_at);
                self.driver
                    .handle_response(request.id(), &response, self.now)
                    .unwrap();
                if request.purpose() == Purpose::Refresh && kept_refresh_token(reply) {
                    self.spent_refresh_tokens
                        .remove(&refresh_token_of(&request));
                }
                let renewal_failed = !matches!(reply, Reply::Success { .. })
                    && matches!(request.purpose(), Purpose::Login | Purpose::Refresh);
                if renewal_failed {
                    if let Some(token) = &before {
                        assert_eq!(
                            self.token_now().as_ref(),
                            Some(token),
                            "a still-valid token was dropped because a renewal failed"
                        );
                    }
                }
            }
            Command::TransportError(error) => {
                let Some((request, _)) = self.in_flight.take() else {
                    return;
                };
                self.past_ids.push(request.id());
                if *error == TransportError::NotSent && request.purpose() == Purpose::Refresh {
                    // It never left: the refresh token is not spent and may be sent again.
                    self.spent_refresh_tokens
                        .remove(&refresh_token_of(&request));
                }
                self.driver
                    .handle_transport_error(request.id(), *error, self.now)
                    .unwrap();
                if !matches!(
                    request.purpose(),
                    Purpose::Revoke(TokenKind::Refresh | TokenKind::Access)
                ) {
                    assert_eq!(
                        self.token_now(),
                        before,
                        "a transport error dropped a valid token"
                    );
                }
            }
            Command::WrongId(pick) => {
                if self.past_ids.is_empty() {
                    return;
                }
                let id = self.past_ids[*pick as usize % self.past_ids.len()];
                let snapshot = self.driver.session().snapshot_with_secrets();
                let response = http::Response::new(b"{}".to_vec());
                let result = self.driver.handle_response(id, &response, self.now);
                assert!(
                    matches!(result, Err(Misuse::UnknownRequest { .. })),
                    "{result:?}"
                );
                let result = self.driver.handle_transport_error(
                    id,
                    TransportError::OutcomeUnknown,
                    self.now,
                );
                assert!(
                    matches!(result, Err(Misuse::UnknownRequest { .. })),
                    "{result:?}"
                );
                assert_eq!(
                    self.driver.session().snapshot_with_secrets(),
                    snapshot,
                    "a stale id changed state"
                );
            }
            Command::Unauthorized { stale } => {
                let current = self.driver.session().generation();
                if *stale {
                    // A late 401 about a token that was replaced since.
                    let Some(earlier) = self.issued.iter().rev().find(|g| **g < current).copied()
                    else {
                        return;
                    };
                    let snapshot = self.driver.session().snapshot_with_secrets();
                    let answer = self.driver.handle_unauthorized(earlier, self.now);
                    assert_eq!(answer, Unauthorized::Stale);
                    assert_eq!(
                        self.driver.session().snapshot_with_secrets(),
                        snapshot,
                        "a stale 401 changed the session"
                    );
                } else {
                    if let Some(token) = before.clone() {
                        self.rejected.insert(token);
                    }
                    let answer = self.driver.handle_unauthorized(current, self.now);
                    if before.is_some() {
                        assert_eq!(answer, Unauthorized::Withdrawn, "{command:?}");
                    } else {
                        assert_ne!(answer, Unauthorized::Withdrawn, "{command:?}");
                    }
                }
            }
            Command::CallSucceeded => {
                let generation = self.driver.session().generation();
                self.driver.handle_call_succeeded(generation, self.now)
            }
            Command::Revoke => self.driver.revoke(self.now),
        }
        self.drain();
        self.check();
    }

    fn check(&self) {
        self.read_side
            .agrees_with(self.driver.access_token(self.now), self.now);
        let token = self.token_now();
        if self.revoked {
            assert!(token.is_none(), "a token after Revoked");
        }
        if let Some(token) = &token {
            assert!(
                !self.rejected.contains(token),
                "a rejected token was handed out again"
            );
            let (newest, hard) = self.newest.as_ref().expect("a token was issued");
            assert_eq!(token, newest, "only the newest issued token is handed out");
            if let Some(hard) = hard {
                assert!(
                    self.now < *hard,
                    "a token was handed out past its hard expiry"
                );
            }
        }
        let shown = format!("{:?}", self.driver);
        self.no_secret_in(&shown);
        let snapshot = self.driver.session().snapshot_with_secrets();
        let json = serde_json::to_string(&snapshot).unwrap();
        let back = serde_json::from_str(&json).unwrap();
        assert_eq!(snapshot, back, "a snapshot must survive JSON");
        let restored = AnySession::restore(dialect(), policy(), back).unwrap();
        assert_eq!(
            restored.snapshot_with_secrets(),
            snapshot,
            "a snapshot must restore exactly"
        );
    }
}

/// The refresh token a refresh request presents.
fn refresh_token_of(request: &TokenRequest) -> String {
    form_urlencoded::parse(request.request().body())
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.into_owned())
        .expect("a refresh carries its token")
}

/// Whether `reply` to a refresh keeps its refresh token in use: an accepted token
/// response that issued no replacement, or an answer that the grant was not exchanged
/// (the client refused with `invalid_client`, or throttled).
fn kept_refresh_token(reply: &Reply) -> bool {
    match reply {
        Reply::OAuthError {
            code: "invalid_client",
            ..
        }
        | Reply::Status { status: 429, .. } => true,
        Reply::Status {
            status: 503,
            retry_after: Some(value),
        } => value.parse::<u64>().is_ok() || httpdate::parse_http_date(value).is_ok(),
        Reply::Success {
            lifetime,
            refresh: false,
            token_type: Some(kind),
            ..
        } => {
            kind.eq_ignore_ascii_case("bearer")
                && match lifetime {
                    Lifetime::Seconds(seconds) => *seconds > 0,
                    Lifetime::Text(text) => text.parse::<i64>().is_ok_and(|s| s > 0),
                    Lifetime::Float(_) | Lifetime::Missing => true,
                }
        }
        _ => false,
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn the_session_keeps_its_promises(commands in proptest::collection::vec(command(), 1..40)) {
        let mut model = Model::new();
        for command in &commands {
            model.apply(command);
        }
    }
}
