//! Property test of a person's login: random sequences of starts (the device grant, the
//! authorization code grant), time steps, server answers of every class, redirects
//! (good, forged, refused, garbled), transport errors, stale ids, cancels, revokes and
//! restarts from a snapshot, checked after every step:
//!
//! - no token-endpoint storm: polls and exchanges stay within the request budget, and
//!   two polls are never closer than [`MIN_POLL_INTERVAL`];
//! - no hot loop: shown the time, the session never asks to be woken at or before it;
//! - a code exchange is never sent twice, and nothing is sent after a login ended until
//!   the application starts another;
//! - no secret the login holds (device code, authorization code, `state`, PKCE verifier,
//!   tokens) appears in `Debug`, events, the status or a redacted snapshot;
//! - a token is handed out only after one was issued.
//!
//! 2,000 cases by default; `PROPTEST_CASES` overrides.

mod support;

use std::collections::HashSet;

use oauth_lifecycle::dialect::authorization::IssParameter;
use oauth_lifecycle::dialect::{Dialect, Grant, Standard};
use oauth_lifecycle::{
    AnySession, Driver, Event, Output, Policy, Purpose, RequestId, TokenRequest, TransportError,
    MIN_POLL_INTERVAL,
};
use proptest::prelude::*;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

use support::pace::assert_no_token_endpoint_storm;

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);
const DEVICE_CODE: &str = "device-code-Zq8YtR4mWx2Lp9Kd";
const AUTHORIZATION_CODE: &str = "authorization-code-Hv7Nc3Bj6Qs1";
const ISSUER: &str = "https://auth.example.com";
const REDIRECT_URI: &str = "http://127.0.0.1:49152/callback";

#[derive(Debug, Clone, Copy)]
enum Answer {
    Tokens,
    Pending,
    SlowDown,
    Expired,
    Denied,
    InvalidClient,
    ServerError,
    Garbage,
    DeviceCode { interval: i64, expires_in: i64 },
}

#[derive(Debug, Clone, Copy)]
enum Redirect {
    Good,
    ForgedState,
    Denied,
    WrongIssuer,
    Garbled,
}

#[derive(Debug, Clone)]
enum Command {
    StartDevice,
    StartBrowser(u8),
    Advance(i64),
    Answer(Answer),
    TransportError(TransportError),
    WrongId(u64),
    Redirect(Redirect),
    Cancel,
    Revoke,
    Restart,
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        1 => Just(Answer::Tokens),
        4 => Just(Answer::Pending),
        2 => Just(Answer::SlowDown),
        1 => Just(Answer::Expired),
        1 => Just(Answer::Denied),
        1 => Just(Answer::InvalidClient),
        1 => Just(Answer::ServerError),
        1 => Just(Answer::Garbage),
        4 => (-2i64..100, -5i64..4000)
            .prop_map(|(interval, expires_in)| Answer::DeviceCode { interval, expires_in }),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        2 => Just(Command::StartDevice),
        2 => any::<u8>().prop_map(Command::StartBrowser),
        6 => (0i64..120_000).prop_map(Command::Advance),
        8 => answer().prop_map(Command::Answer),
        1 => prop_oneof![Just(TransportError::NotSent), Just(TransportError::OutcomeUnknown)]
            .prop_map(Command::TransportError),
        1 => (0u64..8).prop_map(Command::WrongId),
        3 => prop_oneof![
            Just(Redirect::Good),
            Just(Redirect::ForgedState),
            Just(Redirect::Denied),
            Just(Redirect::WrongIssuer),
            Just(Redirect::Garbled),
        ]
        .prop_map(Command::Redirect),
        1 => Just(Command::Cancel),
        1 => Just(Command::Revoke),
        1 => Just(Command::Restart),
    ]
}

fn dialect(grant: Grant) -> Standard {
    Standard::builder("https://auth.example.com/token", "cli")
        .grant(grant)
        .device_authorization_url("https://auth.example.com/device")
        .authorization_url("https://auth.example.com/authorize")
        .issuer(ISSUER, IssParameter::Required)
        .revocation_url("https://auth.example.com/revoke")
        .build()
        .expect("a valid configuration")
}

fn reply(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .expect("a valid response")
}

/// An error answer that echoes the request it answers, as some servers do: the session
/// must scrub what it sent.
fn oauth_error(code: &str, sent: &[u8]) -> http::Response<Vec<u8>> {
    let sent = String::from_utf8_lossy(sent).replace(['"', '\\'], "");
    reply(
        400,
        &format!(r#"{{"error":"{code}","error_description":"for {sent}"}}"#),
    )
}

struct Model {
    driver: Driver<Standard>,
    grant: Grant,
    now: UtcDateTime,
    /// The request in flight, as last emitted.
    in_flight: Option<TokenRequest>,
    /// When each login-purpose request left.
    sent: Vec<UtcDateTime>,
    /// When the last poll left.
    last_poll: Option<UtcDateTime>,
    exchanges: HashSet<Vec<u8>>,
    /// The state and verifier of the browser login under way.
    secrets: Vec<String>,
    /// Whether a login may send: false once one ended, until the next start.
    may_send: bool,
    issued: bool,
    tokens_seen: Vec<String>,
    minted: u32,
    /// Requests answered or failed: no longer in flight.
    past_ids: Vec<RequestId>,
}

impl Model {
    fn new() -> Self {
        Model {
            driver: Driver::new(dialect(Grant::DeviceCode), Policy::default()).unwrap(),
            grant: Grant::DeviceCode,
            now: START,
            in_flight: None,
            sent: Vec::new(),
            last_poll: None,
            exchanges: HashSet::new(),
            secrets: Vec::new(),
            may_send: false,
            issued: false,
            tokens_seen: Vec::new(),
            minted: 0,
            past_ids: Vec::new(),
        }
    }

    fn drain(&mut self) {
        for _ in 0..64 {
            match self.driver.poll_output() {
                Output::Request(request) => {
                    if request.purpose() == Purpose::Login {
                        assert!(
                            self.may_send,
                            "a request after the login ended: {request:?}"
                        );
                        self.sent.push(self.now);
                        assert_no_token_endpoint_storm(
                            &self.sent,
                            Policy::default().token_request_budget,
                        );
                        let body = request.request().body().clone();
                        if String::from_utf8_lossy(&body).contains("device_code=") {
                            if let Some(last) = self.last_poll {
                                assert!(
                                    self.now - last >= MIN_POLL_INTERVAL,
                                    "polls {} apart",
                                    self.now - last
                                );
                            }
                            self.last_poll = Some(self.now);
                        }
                        if String::from_utf8_lossy(&body).contains("grant_type=authorization_code")
                        {
                            assert!(self.exchanges.insert(body), "a code exchange sent twice");
                        }
                    }
                    self.in_flight = Some(request);
                }
                Output::Event(event) => self.observe(event),
                Output::Persist => {}
                Output::Timeout(at) => {
                    assert!(at > self.now, "asked to be woken at {at}, now {}", self.now);
                    return;
                }
                Output::Idle => return,
            }
        }
        panic!("the driver never settled");
    }

    fn observe(&mut self, event: Event) {
        let shown = format!("{event:?} {event:?}");
        self.no_secret_in(&shown);
        match event {
            Event::TokenIssued { .. } => self.issued = true,
            Event::PersonLoginEnded { .. } => self.may_send = false,
            _ => {}
        }
    }

    fn no_secret_in(&self, shown: &str) {
        for secret in [DEVICE_CODE, AUTHORIZATION_CODE]
            .iter()
            .copied()
            .chain(self.secrets.iter().map(String::as_str))
            .chain(self.tokens_seen.iter().map(String::as_str))
        {
            assert!(!shown.contains(secret), "a secret shown: {shown}");
        }
    }

    fn restart_as(&mut self, grant: Grant) {
        self.driver = Driver::new(dialect(grant.clone()), Policy::default()).unwrap();
        self.grant = grant;
        self.in_flight = None;
        self.issued = false;
        self.secrets.clear();
        // A new session numbers its requests from 1 again.
        self.past_ids.clear();
    }

    fn answer_for(&mut self, answer: Answer, sent: &[u8]) -> http::Response<Vec<u8>> {
        match answer {
            Answer::Tokens => {
                self.minted += 1;
                let access = format!("access-token-{}-Yb4", self.minted);
                self.tokens_seen.push(access.clone());
                reply(
                    200,
                    &format!(
                        r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":3600,"refresh_token":"refresh-{access}"}}"#
                    ),
                )
            }
            Answer::Pending => oauth_error("authorization_pending", sent),
            Answer::SlowDown => oauth_error("slow_down", sent),
            Answer::Expired => oauth_error("expired_token", sent),
            Answer::Denied => oauth_error("access_denied", sent),
            Answer::InvalidClient => reply(401, r#"{"error":"invalid_client"}"#),
            Answer::ServerError => reply(503, "busy"),
            Answer::Garbage => reply(200, "\u{0}<html>"),
            Answer::DeviceCode {
                interval,
                expires_in,
            } => reply(
                200,
                &format!(
                    r#"{{"device_code":"{DEVICE_CODE}","user_code":"ABCD-EFGH","verification_uri":"https://auth.example.com/device","expires_in":{expires_in},"interval":{interval}}}"#
                ),
            ),
        }
    }

    fn apply(&mut self, command: &Command) {
        match command {
            Command::StartDevice => {
                if matches!(self.driver.session(), AnySession::Unauthenticated(_))
                    && !matches!(self.grant, Grant::DeviceCode)
                {
                    self.restart_as(Grant::DeviceCode);
                }
                if self.driver.authorize_device(self.now).is_ok() {
                    self.may_send = true;
                }
            }
            Command::StartBrowser(seed) => {
                if matches!(self.driver.session(), AnySession::Unauthenticated(_))
                    && !matches!(self.grant, Grant::AuthorizationCode)
                {
                    self.restart_as(Grant::AuthorizationCode);
                }
                let mut entropy: [u8; 64] =
                    std::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ seed);
                let request = dialect(Grant::AuthorizationCode)
                    .authorization_request(REDIRECT_URI)
                    .unwrap()
                    .build(&mut entropy)
                    .unwrap();
                let secrets = vec![request.state().to_owned()];
                if self.driver.authorize(request, self.now).is_ok() {
                    self.secrets = secrets;
                    self.may_send = true;
                }
            }
            Command::Advance(ms) => {
                self.now += Duration::milliseconds(*ms);
                self.driver.handle_timeout(self.now);
            }
            Command::Answer(answer) => {
                if let Some(request) = self.in_flight.take() {
                    self.past_ids.push(request.id());
                    let response = self.answer_for(*answer, request.request().body());
                    let _ = self
                        .driver
                        .handle_response(request.id(), &response, self.now);
                }
            }
            Command::TransportError(error) => {
                if let Some(request) = self.in_flight.take() {
                    self.past_ids.push(request.id());
                    let _ = self
                        .driver
                        .handle_transport_error(request.id(), *error, self.now);
                }
            }
            Command::WrongId(pick) => {
                if !self.past_ids.is_empty() {
                    let stale = self.past_ids[*pick as usize % self.past_ids.len()];
                    let response = self.answer_for(Answer::Tokens, b"");
                    assert!(
                        self.driver
                            .handle_response(stale, &response, self.now)
                            .is_err(),
                        "an answer to a request no longer in flight was taken"
                    );
                }
            }
            Command::Redirect(kind) => {
                let state = self
                    .secrets
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "none".into());
                let iss = "https%3A%2F%2Fauth.example.com";
                let target = match kind {
                    Redirect::Good => format!("/callback?code={AUTHORIZATION_CODE}&state={state}&iss={iss}"),
                    Redirect::ForgedState => format!("/callback?code={AUTHORIZATION_CODE}&state=x{state}&iss={iss}"),
                    Redirect::Denied => format!("/callback?error=access_denied&state={state}&iss={iss}"),
                    Redirect::WrongIssuer => format!("/callback?code={AUTHORIZATION_CODE}&state={state}&iss=https%3A%2F%2Fevil.example"),
                    Redirect::Garbled => format!("/callback?code=%ZZ&state={state}&state={state}"),
                };
                if let Err(error) = self.driver.handle_redirect(&target, self.now) {
                    self.no_secret_in(&error.to_string());
                }
            }
            Command::Cancel => {
                let _ = self.driver.cancel_login(self.now);
            }
            Command::Revoke => self.driver.revoke(self.now),
            Command::Restart => {
                let snapshot =
                    serde_json::to_string(&self.driver.session().snapshot_with_secrets()).unwrap();
                let restored = AnySession::restore(
                    dialect(self.grant.clone()),
                    Policy::default(),
                    serde_json::from_str(&snapshot).unwrap(),
                )
                .expect("a snapshot with secrets restores");
                self.driver = Driver::from_session(restored);
                self.in_flight = None;
                self.driver.handle_timeout(self.now);
            }
        }
        self.drain();
        self.check();
    }

    fn check(&self) {
        let status = self.driver.status();
        self.no_secret_in(&format!("{:?} {status} {status:?}", self.driver));
        let redacted = serde_json::to_string(&self.driver.session().snapshot_redacted()).unwrap();
        self.no_secret_in(&redacted);
        if !self.issued {
            assert!(
                self.driver.access_token(self.now).is_none(),
                "a token before one was issued"
            );
        }
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn a_persons_login_keeps_its_promises(commands in proptest::collection::vec(command(), 1..60)) {
        let mut model = Model::new();
        for command in &commands {
            model.apply(command);
        }
    }
}
