//! The fault matrix at the token endpoint: every way a refresh can fail, from the
//! provider or from the network, one row each with its expected outcome. In every row
//! the still-valid token stays readable throughout.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Policy, Status, WaitReason};
use oauth_lifecycle_emulator::{
    InjectedFailure, StandardServer, StandardServerConfig, TransportFault,
};
use support::*;
use time::Duration as Span;

/// How the refresh is broken.
#[derive(Debug, Clone)]
enum Fault {
    /// The provider answers this instead of serving the request.
    Provider(InjectedFailure),
    /// The network or a proxy breaks the exchange.
    Transport(TransportFault),
    /// Nothing listens any more.
    Refused,
}

/// What the session does about it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Waits and tries again: at the attempt plus this, or (`None`) at some later moment
    /// of its backoff. A refresh token that left is spent (the standard dialect's
    /// default, `RefreshTokenUse::SingleUse`), so the retry is a login.
    RetriesAt(Option<Span>),
    /// Throttled: the server said it did not process the request, so the refresh token
    /// is not spent and the retry, at the attempt plus this (or later), is a refresh.
    Throttled(Option<Span>),
    /// Knows the refresh grant is dead and logs in again at once.
    LogsInInstead,
    /// A rejection of the client: the session tries again by itself after a minute
    /// (`Policy::rejected_login_retry`), with a refresh (the token was not spent); the
    /// valid token is served meanwhile.
    RetriesSlowly,
}

struct Row {
    name: &'static str,
    fault: Fault,
    outcome: Outcome,
}

fn status(code: u16, retry_after: Option<&str>) -> Fault {
    Fault::Provider(InjectedFailure::Status {
        status: code,
        retry_after: retry_after.map(str::to_owned),
    })
}

fn oauth_error(code: u16, error: &str) -> Fault {
    Fault::Provider(InjectedFailure::OAuthError {
        status: code,
        code: error.into(),
    })
}

/// The policy of every row: a short response timeout, for the hang.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.response_timeout = time::Duration::seconds(1);
    policy
}

fn table() -> Vec<Row> {
    use Outcome::*;
    let over_the_cap = policy().max_body_bytes as u64 + 1;
    vec![
        Row {
            name: "500",
            fault: status(500, None),
            outcome: RetriesAt(None),
        },
        Row {
            name: "502",
            fault: status(502, None),
            outcome: RetriesAt(None),
        },
        Row {
            name: "503 with Retry-After",
            fault: status(503, Some("30")),
            outcome: Throttled(Some(Span::seconds(30))),
        },
        Row {
            name: "429 with Retry-After",
            fault: status(429, Some("120")),
            outcome: Throttled(Some(Span::seconds(120))),
        },
        Row {
            name: "429 without Retry-After",
            fault: status(429, None),
            outcome: Throttled(None),
        },
        Row {
            name: "a hang past the request timeout",
            fault: Fault::Transport(TransportFault::Hang(Duration::from_secs(10))),
            outcome: RetriesAt(None),
        },
        Row {
            name: "connection refused",
            fault: Fault::Refused,
            outcome: RetriesAt(None),
        },
        Row {
            name: "reset after the request was sent",
            fault: Fault::Transport(TransportFault::ResetAfterRequest),
            outcome: RetriesAt(None),
        },
        Row {
            name: "truncated body",
            fault: Fault::Transport(TransportFault::TruncatedBody),
            outcome: RetriesAt(None),
        },
        Row {
            name: "HTML error page from a gateway",
            fault: Fault::Transport(TransportFault::HtmlErrorPage(502)),
            outcome: RetriesAt(None),
        },
        Row {
            name: "body past the size cap",
            fault: Fault::Transport(TransportFault::OversizedBody(over_the_cap)),
            outcome: RetriesAt(None),
        },
        Row {
            name: "200 without access_token",
            fault: Fault::Provider(InjectedFailure::Answer {
                status: 200,
                body: r#"{"token_type":"Bearer","expires_in":3600}"#.into(),
            }),
            outcome: RetriesAt(None),
        },
        Row {
            name: "non-Bearer token_type",
            fault: Fault::Provider(InjectedFailure::Answer {
                status: 200,
                body: r#"{"access_token":"a-mac-token","token_type":"mac","expires_in":3600}"#
                    .into(),
            }),
            outcome: RetriesAt(None),
        },
        Row {
            name: "invalid_grant",
            fault: oauth_error(400, "invalid_grant"),
            outcome: LogsInInstead,
        },
        Row {
            name: "invalid_client",
            fault: oauth_error(401, "invalid_client"),
            outcome: RetriesSlowly,
        },
    ]
}

#[test]
fn every_fault_at_the_token_endpoint_has_its_outcome_and_keeps_the_valid_token() {
    let mut failures = Vec::new();
    for row in table() {
        if let Err(failure) = std::panic::catch_unwind(|| run(&row)) {
            let message = failure
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| failure.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{}: {message}", row.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn run(row: &Row) {
    let mut sim = Sim::new(StandardServer::new(StandardServerConfig::default()));
    let tokens = sim
        .manager(standard(&sim.front), policy())
        .name(row.name)
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();
    let (login_requests, attempt) = (sim.front.stats().auth_requests, sim.clock.now());
    assert_eq!(login_requests, 1);

    // A reader all through the row: the valid token is never missing.
    let reading = AtomicBool::new(true);
    let gaps = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let _stop = StopReading(&reading);
        scope.spawn(|| {
            let deadline = std::time::Instant::now() + PATIENCE * 2;
            while reading.load(Ordering::SeqCst) && std::time::Instant::now() < deadline {
                if tokens.with_token(|t| t.generation()).is_none() {
                    gaps.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(200));
            }
        });

        match &row.fault {
            Fault::Provider(failure) => sim.fail_next(failure.clone()),
            Fault::Transport(fault) => sim.front.inject(fault.clone()),
            Fault::Refused => sim.front.shutdown(),
        }
        // The refresh falls due at about 80 % of the hour; the token lasts till 59:55.
        sim.advance(Span::minutes(50));
        let attempt = attempt + Span::minutes(50);
        expect(&sim, &tokens, row, &first, attempt);
    });
    assert_eq!(
        gaps.load(Ordering::SeqCst),
        0,
        "the valid token went missing"
    );
    assert_eq!(
        sim.stats().refresh_token_reuses,
        0,
        "a spent refresh token was resent"
    );
}

fn expect<E: oauth_lifecycle_emulator::Emulator + Send + 'static>(
    sim: &Sim<E>,
    tokens: &oauth_lifecycle_blocking::TokenManager,
    row: &Row,
    first: &oauth_lifecycle_blocking::PublishedToken,
    attempt: UtcDateTime,
) {
    match row.outcome {
        Outcome::RetriesAt(after) | Outcome::Throttled(after) => {
            let retry_at = wait_for_retry(tokens);
            // Why it waits, for the caller to say.
            let failure = tokens
                .last_failure()
                .expect("the failure it backs off from");
            assert_eq!(failure.retry_at(), Some(retry_at), "{failure}");
            assert_eq!(
                matches!(failure, oauth_lifecycle::Error::Throttled { .. }),
                matches!(row.outcome, Outcome::Throttled(_)),
                "{failure}"
            );
            match after {
                Some(after) => assert_eq!(retry_at, attempt + after),
                None => assert!(
                    retry_at > attempt && retry_at <= attempt + policy().backoff_max,
                    "{retry_at} after {attempt}"
                ),
            }
            // Meanwhile the valid token is handed out at once.
            let served = tokens.token(Duration::ZERO).expect("the valid token");
            assert_eq!(served.secret(), first.secret());
            assert_eq!(sim.stats().logins, 1);
            if matches!(row.fault, Fault::Refused) {
                assert_eq!(
                    sim.front.stats().auth_requests,
                    1,
                    "nothing reached the server"
                );
                return;
            }
            // Not before the retry moment...
            sim.clock.set(retry_at - Span::SECOND);
            assert!(tokens
                .token_newer_than(first.generation(), Duration::from_millis(30))
                .is_err());
            // ...then the session renews: with a login when the refresh token that left
            // is spent, with a refresh when the server said it was not processed.
            sim.clock.set(retry_at);
            let renewed = tokens
                .token_newer_than(first.generation(), PATIENCE)
                .expect("renewed at the retry");
            assert_eq!(sim.call_api(&renewed), 200);
            assert!(tokens.last_failure().is_none(), "cleared by the new token");
            let stats = sim.stats();
            if matches!(row.outcome, Outcome::Throttled(_)) {
                // One login, the refused refresh, then a refresh that succeeds.
                let counts = (stats.logins, stats.refreshes, stats.token_requests);
                assert_eq!(counts, (1, 1, 3), "{stats:?}");
            } else {
                assert_eq!(stats.logins, 2, "{stats:?}");
            }
        }
        Outcome::LogsInInstead => {
            let renewed = tokens
                .token_newer_than(first.generation(), PATIENCE)
                .expect("a new login");
            assert_eq!(sim.call_api(&renewed), 200);
            let stats = sim.stats();
            assert_eq!(stats.logins, 2, "{stats:?}");
        }
        Outcome::RetriesSlowly => {
            let retry_at = wait_for_retry(tokens);
            assert!(
                matches!(
                    tokens.status(),
                    Status::Waiting {
                        reason: WaitReason::Rejected {
                            attempts_left: None
                        },
                        ..
                    }
                ),
                "{:?}",
                tokens.status()
            );
            assert_eq!(retry_at, attempt + Span::minutes(1));
            let failure = tokens.last_failure().expect("the rejection");
            assert!(matches!(failure, oauth_lifecycle::Error::Rejected { .. }));
            let served = tokens.token(Duration::ZERO).expect("the valid token");
            assert_eq!(served.secret(), first.secret());
            assert_eq!(sim.call_api(&served), 200);
            // Nothing more before the minute is up...
            sim.clock.set(retry_at - Span::SECOND);
            tokens.clock_moved();
            tokens.flush().unwrap();
            assert_eq!(sim.front.stats().auth_requests, 2);
            // ...then a refresh, with the refresh token the rejection did not spend. (Until
            // the manager has seen the clock reach the retry, a caller is told of the
            // rejection at once rather than kept waiting.)
            sim.clock.set(retry_at);
            tokens.clock_moved();
            tokens.flush().unwrap();
            let renewed = tokens
                .token_newer_than(first.generation(), PATIENCE)
                .expect("renewed at the retry");
            assert_eq!(sim.call_api(&renewed), 200);
            let stats = sim.stats();
            // The login, the rejected refresh, then a refresh that succeeds.
            let counts = (stats.logins, stats.refreshes, stats.token_requests);
            assert_eq!(counts, (1, 1, 3), "{stats:?}");
        }
    }
}

/// The moment the session will try again, once it waits.
fn wait_for_retry(tokens: &oauth_lifecycle_blocking::TokenManager) -> UtcDateTime {
    let mut retry = None;
    eventually("the session waits to retry", || {
        if let Status::Waiting { retry_at, .. } = tokens.status() {
            retry = Some(retry_at);
        }
        retry.is_some()
    });
    retry.unwrap()
}

/// Stops the reader when the row ends, however it ends.
struct StopReading<'a>(&'a AtomicBool);

impl Drop for StopReading<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// An agent the program configured its own way (4xx and 5xx as errors, an hour's
/// timeout) still hands every status back as an answer and keeps to the session's
/// deadlines: the manager overrides both on each request.
#[test]
fn a_given_agent_still_answers_every_status_and_keeps_the_request_deadline() {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(true)
        .timeout_global(Some(Duration::from_secs(3600)))
        .build()
        .into();
    let sim = Sim::new(StandardServer::new(StandardServerConfig::default()));
    let tokens = sim
        .manager(standard(&sim.front), policy())
        .agent(agent)
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();

    // A 503 with Retry-After is read as an answer: the session waits as told.
    sim.fail_next(InjectedFailure::Status {
        status: 503,
        retry_after: Some("30".into()),
    });
    sim.advance(Span::minutes(50));
    let attempt = sim.clock.now();
    assert_eq!(wait_for_retry(&tokens), attempt + Span::seconds(30));

    // A hang ends at the policy's one-second response timeout, not the agent's hour.
    sim.front
        .inject(TransportFault::Hang(Duration::from_secs(10)));
    let started = std::time::Instant::now();
    sim.clock.set(attempt + Span::seconds(30));
    eventually("the hung request is given up", || {
        sim.front.stats().auth_requests == 3
            && matches!(tokens.status(), Status::Waiting { retry_at, .. } if retry_at > attempt + Span::seconds(30))
    });
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        tokens.with_token(|t| t.generation()),
        Some(first.generation())
    );

    // invalid_client, a 401, is an answer too: the session retries it slowly.
    sim.fail_next(InjectedFailure::OAuthError {
        status: 401,
        code: "invalid_client".into(),
    });
    let Status::Waiting { retry_at, .. } = tokens.status() else {
        unreachable!()
    };
    sim.clock.set(retry_at);
    eventually("the session retries the rejection slowly", || {
        matches!(
            tokens.status(),
            Status::Waiting {
                reason: WaitReason::Rejected { .. },
                ..
            }
        )
    });
}

/// A server that closes idle keep-alive connections (after one second here; Apache's
/// default is five): a refresh long after the login goes out on a fresh connection, so
/// it is answered, and a single-use refresh token is not counted lost for nothing.
#[test]
fn a_refresh_after_the_server_closed_idle_connections_is_a_refresh() {
    use oauth_lifecycle::dialect::ConvirzaV3;
    use oauth_lifecycle_emulator::{
        ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator as _, HttpFront, HttpFrontConfig,
    };
    let mut config = HttpFrontConfig::default();
    config.request_timeout = Duration::from_millis(300);
    let front = HttpFront::start_with(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        oauth_lifecycle_emulator::Clock::System,
        config,
    )
    .unwrap();
    let dialect = ConvirzaV3::builder("user@example.com", "SecurePassword123!")
        .base_url(front.base_url())
        .build()
        .unwrap();
    let tokens = oauth_lifecycle_blocking::TokenManager::start(dialect, Policy::default()).unwrap();
    for round in 1..=3u64 {
        let before = tokens.token(PATIENCE).unwrap();
        // Long enough for the server to close an idle connection.
        std::thread::sleep(Duration::from_millis(700));
        tokens.renew().unwrap();
        let after = tokens
            .token_newer_than(before.generation(), PATIENCE)
            .unwrap();
        assert_eq!(after.generation().get(), round + 1);
    }
    let stats = front.with_emulator(|e| e.stats().clone());
    assert_eq!((stats.logins, stats.refreshes), (1, 3), "{stats:?}");
}
