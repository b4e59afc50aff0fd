//! Property test: the session over every provider row of the testkit (`providers!`),
//! with that provider's emulator as the server. Random sequences of time steps, answered, lost and dropped requests, injected
//! failures, API calls, administrative revocations and revokes; after every step the
//! session must keep its promises:
//!
//! - it never presents a spent refresh token (the emulator would see a reuse);
//! - it never trips the provider's rate limit by itself;
//! - a token it hands out is one the provider accepts, unless the provider revoked it
//!   behind the session's back and no call has told the session yet;
//! - a token a resource server rejected is not handed out again;
//! - after a revoke, no token and no request;
//! - no secret in any `Debug` output;
//! - a read side fed only by events agrees with the driver at every step;
//! - a request that spends a single-use refresh token comes after a persistence point;
//! - snapshots restore exactly;
//! - no token-endpoint storm: requests in any window of the policy's
//!   `token_request_budget` stay within it.
//!
//! 300 cases per row; `PROPTEST_CASES` can lower that (it is capped at 300 so a
//! global setting meant for the faster standard model keeps this one bounded).

mod support;

use std::collections::HashSet;

use oauth_lifecycle::dialect::Dialect;
use oauth_lifecycle::{AnySession, Event, Output, Policy, Purpose, TokenRequest, TransportError};
use oauth_lifecycle_emulator::{Emulator, InjectedFailure};
use proptest::prelude::*;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

use support::pace::assert_no_token_endpoint_storm;
use support::read_side::ReadSide;

const START: UtcDateTime = utc_datetime!(2026-06-01 00:00:00);
const LOCAL: &str = "http://127.0.0.1:9";

#[derive(Debug, Clone)]
enum Command {
    Advance(i64),
    Answer,
    LoseResponse,
    Drop,
    Inject(InjectedFailure),
    CallApi,
    AdminRevokeAll,
    Revoke,
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        6 => prop_oneof![0_i64..30, 0_i64..3600, 0_i64..600_000].prop_map(Command::Advance),
        6 => Just(Command::Answer),
        2 => Just(Command::LoseResponse),
        1 => Just(Command::Drop),
        2 => prop_oneof![
            Just(InjectedFailure::Status { status: 500, retry_after: None }),
            Just(InjectedFailure::Status { status: 503, retry_after: Some("20".into()) }),
            Just(InjectedFailure::Status { status: 429, retry_after: None }),
            Just(InjectedFailure::Status { status: 429, retry_after: Some("5".into()) }),
            Just(InjectedFailure::Status { status: 429, retry_after: Some("0".into()) }),
            Just(InjectedFailure::Status { status: 503, retry_after: Some("4294967295".into()) }),
            Just(InjectedFailure::OAuthError { status: 400, code: "invalid_request".into() }),
            Just(InjectedFailure::OAuthError { status: 400, code: "invalid_grant".into() }),
            Just(InjectedFailure::Garbage),
        ].prop_map(Command::Inject),
        4 => Just(Command::CallApi),
        1 => Just(Command::AdminRevokeAll),
        1 => Just(Command::Revoke),
    ]
}

struct Model<D: Dialect, E: Emulator> {
    make: fn() -> D,
    driver: oauth_lifecycle::Driver<D>,
    server: E,
    now: UtcDateTime,
    in_flight: Option<TokenRequest>,
    /// Tokens the provider may have ended without the session knowing.
    revoked_behind_its_back: bool,
    rejected: HashSet<String>,
    revoked: bool,
    secrets: Vec<String>,
    read_side: ReadSide,
    /// When each login and refresh was sent, oldest first.
    token_requests: Vec<UtcDateTime>,
}

impl<D: Dialect, E: Emulator> Model<D, E> {
    fn new(make: fn() -> D, server: E, secrets: &[&str]) -> Self {
        let mut model = Model {
            make,
            driver: oauth_lifecycle::Driver::new(make(), policy()).unwrap(),
            server,
            now: START,
            in_flight: None,
            revoked_behind_its_back: false,
            rejected: HashSet::new(),
            revoked: false,
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            read_side: ReadSide::default(),
            token_requests: Vec::new(),
        };
        model.driver.handle_timeout(START);
        model.drain();
        model
    }

    fn drain(&mut self) {
        let mut persisted = false;
        for _ in 0..32 {
            let output = self.driver.poll_output();
            self.no_secret_in(&format!("{output:?}"));
            match output {
                Output::Request(request) => {
                    assert!(!self.revoked, "a request after Revoked");
                    assert!(self.in_flight.is_none(), "two requests in flight");
                    assert!(
                        request.is_resend_safe() || persisted,
                        "a single-use refresh token sent before a persistence point"
                    );
                    if matches!(request.purpose(), Purpose::Login | Purpose::Refresh) {
                        self.token_requests.push(self.now);
                        assert_no_token_endpoint_storm(
                            &self.token_requests,
                            policy().token_request_budget,
                        );
                    }
                    self.in_flight = Some(request);
                }
                Output::Persist => persisted = true,
                Output::Event(Event::Revoked) => self.revoked = true,
                Output::Event(event) => {
                    self.read_side.apply(&event);
                    if let Event::RetryScheduled { error, .. }
                    | Event::ReauthenticationRequired { error }
                    | Event::Rejected { error }
                    | Event::RevocationFailed { error, .. } = &event
                    {
                        self.no_secret_in(&error.to_string());
                    }
                }
                Output::Timeout(_) | Output::Idle => return,
            }
        }
        panic!("the driver never settled");
    }

    fn no_secret_in(&self, shown: &str) {
        for secret in &self.secrets {
            assert!(!shown.contains(secret.as_str()), "a secret leaked: {shown}");
        }
    }

    /// Remembers the tokens a response carries, to look for them in `Debug` output.
    fn learn_secrets(&mut self, response: &http::Response<Vec<u8>>) {
        if let Ok(serde_json::Value::Object(body)) = serde_json::from_slice(response.body()) {
            for key in [
                "access_token",
                "refresh_token",
                "token",
                "frontend_token",
                "id_token",
            ] {
                if let Some(value) = body.get(key).and_then(|v| v.as_str()) {
                    self.secrets.push(value.to_owned());
                }
            }
        }
    }

    fn apply(&mut self, command: &Command) {
        match command {
            Command::Advance(seconds) => {
                self.now += Duration::seconds(*seconds);
                self.driver.handle_timeout(self.now);
                // Past its deadline, a request counts as lost: the driver moved on.
                let current = self.driver.session().in_flight().map(|(id, _)| id);
                if self.in_flight.as_ref().map(TokenRequest::id) != current {
                    self.in_flight = None;
                }
            }
            Command::Answer | Command::LoseResponse | Command::Drop => {
                let transport_error = if matches!(command, Command::Drop) {
                    TransportError::NotSent
                } else {
                    TransportError::OutcomeUnknown
                };
                let Some(request) = self.in_flight.take() else {
                    return;
                };
                if !matches!(command, Command::Drop) {
                    let response = self.server.handle(request.request(), self.now);
                    self.learn_secrets(&response);
                    if matches!(command, Command::Answer) {
                        self.driver
                            .handle_response(request.id(), &response, self.now)
                            .unwrap();
                        self.after_commands();
                        return;
                    }
                }
                self.driver
                    .handle_transport_error(request.id(), transport_error, self.now)
                    .unwrap();
            }
            Command::Inject(failure) => self.server.fail_next(failure.clone()),
            Command::CallApi => {
                if let Some((token, generation)) = self
                    .driver
                    .access_token(self.now)
                    .map(|t| (t.secret().to_owned(), t.generation()))
                {
                    let request = http::Request::builder()
                        .header("authorization", format!("Bearer {token}"))
                        .body(Vec::new())
                        .unwrap();
                    let status = self.server.resource_request(&request, self.now).status();
                    if status == 401 {
                        assert!(
                            self.revoked_behind_its_back,
                            "the provider refused a token the session handed out"
                        );
                        self.rejected.insert(token);
                        let _ = self.driver.handle_unauthorized(generation, self.now);
                    } else {
                        assert!(status.is_success());
                        self.driver.handle_call_succeeded(generation, self.now);
                    }
                }
            }
            Command::AdminRevokeAll => {
                self.server.revoke_all();
                self.revoked_behind_its_back = true;
            }
            Command::Revoke => self.driver.revoke(self.now),
        }
        self.after_commands();
    }

    fn after_commands(&mut self) {
        self.drain();
        self.check();
    }

    fn check(&self) {
        let stats = self.server.stats();
        assert_eq!(
            stats.refresh_token_reuses, 0,
            "a spent refresh token was presented"
        );
        assert_eq!(stats.rate_limited, 0, "the session tripped the rate limit");
        self.read_side
            .agrees_with(self.driver.access_token(self.now), self.now);
        let token = self
            .driver
            .access_token(self.now)
            .map(|t| t.secret().to_owned());
        if self.revoked {
            assert!(token.is_none(), "a token after Revoked");
        }
        if let Some(token) = &token {
            assert!(
                !self.rejected.contains(token),
                "a rejected token handed out again"
            );
            if !self.revoked_behind_its_back {
                assert!(
                    self.server.is_access_token_valid(token, self.now),
                    "the session handed out a token the provider does not accept"
                );
            }
        }
        self.no_secret_in(&format!("{:?}", self.driver));
        let snapshot = self.driver.session().snapshot_with_secrets();
        let json = serde_json::to_string(&snapshot).unwrap();
        let back = serde_json::from_str(&json).unwrap();
        let restored = AnySession::restore((self.make)(), policy(), back).unwrap();
        assert_eq!(
            restored.snapshot_with_secrets(),
            snapshot,
            "a snapshot must restore exactly"
        );
        self.no_secret_in(
            &serde_json::to_string(&self.driver.session().snapshot_redacted()).unwrap(),
        );
    }
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_seed = 3;
    policy
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(300, |cases: u32| cases.clamp(1, 300))
}

fn run<D: Dialect, E: Emulator>(model: &mut Model<D, E>, commands: &[Command]) {
    for command in commands {
        model.apply(command);
    }
}

/// The property of one provider row of the testkit ([`providers!`]): the session keeps
/// its promises against that provider's emulator, whatever the commands.
macro_rules! keeps_its_promises {
    ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

            #[test]
            fn $name(commands in proptest::collection::vec(command(), 1..40)) {
                let mut model = Model::new(|| ($dialect)(LOCAL), $emulator, $facts.secrets);
                run(&mut model, &commands);
            }
        }
    };
}

mod every_provider {
    use super::*;

    oauth_lifecycle_testkit::providers!(keeps_its_promises);
}
