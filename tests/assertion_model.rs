//! A property model of assertions (RFC 7523) across everything that makes a session send
//! again: failed answers (5xx, refusals, malformed bodies), lost responses, timeouts,
//! restarts from a snapshot with a new signer (a new process), and a fleet of processes
//! taking turns on one stored session, each with its own signer.
//!
//! After every step: no two requests ever carried the same `jti` or the same assertion,
//! whether a client assertion or the JWT bearer grant's; every request that carried one
//! was not resend-safe; and nothing the session showed (events, status, a redacted
//! snapshot) holds a fragment of any assertion. The signer is the real one
//! (`oauth-lifecycle-jwt`, HS256 to keep the cases fast: the `jti` comes from the same OS
//! random source for every algorithm).

use std::collections::HashSet;

use oauth_lifecycle::dialect::assertion::Assertion;
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{AnySession, Driver, Output, Policy, Purpose, TransportError};
use oauth_lifecycle_jwt::JwtSigner;
use oauth_lifecycle_testkit::reply;
use proptest::prelude::*;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-03-01 08:00:00);
const SECRET: &str = "assertion-model-client-secret-0123456789";

#[derive(Debug, Clone)]
enum Step {
    /// The request in flight is answered with this status (200 a token, with or without
    /// a refresh token).
    Answer(u16, bool),
    /// Its response is lost after it may have reached the server.
    Lost,
    /// Its transport reports it never left.
    NotSent,
    /// Time passes to the next deadline, or by this many seconds.
    Wait(Option<u16>),
    /// The process restarts from its last persisted snapshot, with a new signer.
    Restart,
    /// Another process of the fleet takes over the stored session, with its own signer.
    Handover,
    /// An explicit renewal.
    Renew,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => prop_oneof![Just(200_u16), Just(400), Just(401), Just(500), Just(503)]
            .prop_flat_map(|status| any::<bool>().prop_map(move |refresh| Step::Answer(status, refresh))),
        1 => Just(Step::Lost),
        1 => Just(Step::NotSent),
        3 => proptest::option::of(1_u16..4_000).prop_map(Step::Wait),
        1 => Just(Step::Restart),
        1 => Just(Step::Handover),
        1 => Just(Step::Renew),
    ]
}

fn dialect(bearer: bool) -> Standard {
    let signer = JwtSigner::client_secret(SECRET).expect("a long enough secret");
    let builder = Standard::builder("http://127.0.0.1/token", "model-client")
        .revocation_url("http://127.0.0.1/revoke");
    let builder = if bearer {
        builder.jwt_bearer(signer, "robot@example.com", "robot@example.com")
    } else {
        builder.client_assertion(signer)
    };
    builder.build().expect("a valid configuration")
}

struct Model {
    bearer: bool,
    driver: Driver<Standard>,
    now: UtcDateTime,
    stored: Option<oauth_lifecycle::Snapshot<()>>,
    in_flight: Option<oauth_lifecycle::RequestId>,
    jtis: HashSet<String>,
    assertions: Vec<String>,
    sent: usize,
}

impl Model {
    fn new(bearer: bool) -> Self {
        Model {
            bearer,
            driver: Driver::new(dialect(bearer), Policy::default()).unwrap(),
            now: NOW,
            stored: None,
            in_flight: None,
            jtis: HashSet::new(),
            assertions: Vec::new(),
            sent: 0,
        }
    }

    /// Takes every output, checking each request's assertions.
    fn settle(&mut self) -> Result<(), TestCaseError> {
        for _ in 0..64 {
            match self.driver.poll_output() {
                Output::Request(request) => {
                    self.sent += 1;
                    let mut carried = 0;
                    for (name, value) in form_urlencoded::parse(request.request().body()) {
                        if name == "client_assertion" || name == "assertion" {
                            carried += 1;
                            let claims = Assertion::new(value.to_string())
                                .and_then(|a| a.decode())
                                .map_err(|e| TestCaseError::fail(e.to_string()))?
                                .claims;
                            let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
                            prop_assert!(jti.len() >= 22, "a jti of 128 bits: {jti}");
                            prop_assert!(self.jtis.insert(jti), "a jti carried twice");
                            prop_assert!(
                                !self.assertions.iter().any(|a| a.as_str() == value),
                                "an assertion carried twice"
                            );
                            prop_assert_eq!(
                                claims["iat"].as_i64(),
                                Some(self.now.unix_timestamp())
                            );
                            self.assertions.push(value.into_owned());
                        }
                    }
                    // The client assertion is on every request; the grant's on logins.
                    let expected = !self.bearer || request.purpose() == Purpose::Login;
                    prop_assert_eq!(carried, usize::from(expected), "{:?}", request.purpose());
                    prop_assert!(!expected || !request.is_resend_safe());
                    self.in_flight = Some(request.id());
                }
                Output::Event(event) => self.check_shown(&format!("{event:?}"))?,
                Output::Persist => {
                    self.stored = Some(self.driver.session().snapshot_with_secrets());
                    let redacted = self.driver.session().snapshot_redacted();
                    self.check_shown(&serde_json::to_string(&redacted).unwrap())?;
                }
                Output::Timeout(_) | Output::Idle => {
                    let status = format!("{:?}", self.driver.status());
                    return self.check_shown(&status);
                }
            }
        }
        Err(TestCaseError::fail("the driver never settled"))
    }

    fn check_shown(&self, shown: &str) -> Result<(), TestCaseError> {
        for assertion in &self.assertions {
            for part in assertion.split('.').skip(1) {
                prop_assert!(!shown.contains(part), "an assertion part in {shown}");
            }
        }
        Ok(())
    }

    /// A new process on the stored session (or a fresh one, before any was stored).
    fn restart(&mut self) {
        self.in_flight = None;
        self.driver = match self.stored.clone() {
            Some(snapshot) => Driver::from_session(
                AnySession::restore(dialect(self.bearer), Policy::default(), snapshot)
                    .expect("a snapshot the session made restores"),
            ),
            None => Driver::new(dialect(self.bearer), Policy::default()).unwrap(),
        };
    }

    fn apply(&mut self, step: &Step) -> Result<(), TestCaseError> {
        let now = self.now;
        match step {
            Step::Answer(status, refresh) => {
                if let Some(id) = self.in_flight.take() {
                    let body = match (status, refresh) {
                        (200, true) => {
                            r#"{"access_token":"at","token_type":"Bearer","expires_in":900,"refresh_token":"rt"}"#
                        }
                        (200, false) => {
                            r#"{"access_token":"at","token_type":"Bearer","expires_in":900}"#
                        }
                        (400 | 401, _) => r#"{"error":"invalid_client"}"#,
                        _ => "",
                    };
                    let _ = self.driver.handle_response(id, &reply(*status, body), now);
                }
            }
            Step::Lost | Step::NotSent => {
                if let Some(id) = self.in_flight.take() {
                    let error = if matches!(step, Step::Lost) {
                        TransportError::OutcomeUnknown
                    } else {
                        TransportError::NotSent
                    };
                    let _ = self.driver.handle_transport_error(id, error, now);
                }
            }
            Step::Wait(seconds) => {
                let next = match seconds {
                    Some(seconds) => now + Duration::seconds(i64::from(*seconds)),
                    None => self.driver.next_deadline().unwrap_or(now).max(now),
                };
                self.now = next;
                self.driver.handle_timeout(next);
            }
            Step::Restart | Step::Handover => {
                self.restart();
                self.driver.handle_timeout(now);
            }
            Step::Renew => {
                let _ = self.driver.renew(now);
            }
        }
        self.settle()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000)
    ))]

    #[test]
    fn no_assertion_is_ever_carried_twice(
        bearer in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..40),
    ) {
        let mut model = Model::new(bearer);
        model.driver.handle_timeout(NOW);
        model.settle()?;
        for step in &steps {
            model.apply(step)?;
        }
        prop_assert_eq!(model.jtis.len(), model.assertions.len());
        prop_assert!(model.sent >= 1);
    }
}
