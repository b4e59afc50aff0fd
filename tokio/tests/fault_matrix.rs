//! Every fault at the token endpoint, met by a renewal while the current token is still
//! valid: each row says what the session does about it, and in every row the valid
//! token stays published throughout (sampled from the fault until the row ends).
//!
//! The session speaks the standard dialect with the password grant and rotating refresh
//! tokens, to the emulator over HTTP on 127.0.0.1, in simulated time: the clock stands
//! still unless the test moves it, so what the session settles on after a fault stays
//! put until it is checked.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{Error, Policy, Status, WaitReason};
use oauth_lifecycle_emulator::{
    DrivenClock, Emulator, HttpFront, InjectedFailure, StandardServer, StandardServerConfig,
    TransportFault,
};
use oauth_lifecycle_tokio::TokenManager;
use serde_json::json;
use support::*;

/// What the token endpoint does to the renewal.
#[derive(Debug, Clone)]
enum Fault {
    /// The provider answers this way.
    Provider(InjectedFailure),
    /// The transport breaks this way.
    Transport(TransportFault),
    /// The provider answers with this status and JSON body.
    Answer(u16, serde_json::Value),
    /// Nothing listens any more.
    Refused,
}

/// What the session does about it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// A temporary failure: it waits a backoff (at most the policy's maximum), then
    /// renews.
    Retry,
    /// The endpoint asked it to slow down: it waits exactly this long (`None`: the
    /// dialect's own pause, at most the policy's maximum backoff), then renews.
    Throttled(Option<i64>),
    /// The grant is dead but the password is not: it logs in again at once.
    LogsInAgain,
    /// The client itself is refused: it tries again by itself after a minute
    /// (`Policy::rejected_login_retry`), serving the token meanwhile; the one-off
    /// rejection over, the retry renews.
    RetriesSlowly(&'static str),
}

fn status(status: u16, retry_after: Option<&str>) -> Fault {
    Fault::Provider(InjectedFailure::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
    })
}

fn oauth_error(status: u16, code: &str) -> Fault {
    Fault::Provider(InjectedFailure::OAuthError {
        status,
        code: code.to_owned(),
    })
}

fn rows() -> Vec<(&'static str, Fault, Outcome)> {
    use Outcome::*;
    vec![
        ("500", status(500, None), Retry),
        ("502", status(502, None), Retry),
        (
            "503 with Retry-After",
            status(503, Some("120")),
            Throttled(Some(120)),
        ),
        (
            "429 with Retry-After",
            status(429, Some("30")),
            Throttled(Some(30)),
        ),
        // Without Retry-After the dialect's own pause applies.
        (
            "429 without Retry-After",
            status(429, None),
            Throttled(None),
        ),
        (
            "a hang past the response timeout",
            Fault::Transport(TransportFault::Hang(std::time::Duration::from_secs(30))),
            Retry,
        ),
        ("a refused connection", Fault::Refused, Retry),
        (
            "a reset after the request was sent",
            Fault::Transport(TransportFault::ResetAfterRequest),
            Retry,
        ),
        (
            "a truncated body",
            Fault::Transport(TransportFault::TruncatedBody),
            Retry,
        ),
        (
            "an HTML error page",
            Fault::Transport(TransportFault::HtmlErrorPage(502)),
            Retry,
        ),
        (
            "a body past the size cap",
            Fault::Transport(TransportFault::OversizedBody(4 * 1024 * 1024)),
            Retry,
        ),
        (
            "200 without access_token",
            Fault::Answer(200, json!({"token_type": "Bearer", "expires_in": 3600})),
            Retry,
        ),
        (
            "a token_type other than Bearer",
            Fault::Answer(
                200,
                json!({"access_token": "mac-token-value", "token_type": "mac", "expires_in": 3600}),
            ),
            Retry,
        ),
        (
            "invalid_grant",
            oauth_error(400, "invalid_grant"),
            LogsInAgain,
        ),
        (
            "invalid_client",
            oauth_error(401, "invalid_client"),
            RetriesSlowly("invalid_client"),
        ),
    ]
}

/// Records whether a token was published at every sample, until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    gaps: Arc<AtomicU64>,
    samples: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Sampler {
    fn start(manager: &TokenManager) -> Self {
        let (stop, gaps, samples) = Default::default();
        let task = tokio::spawn({
            let manager = manager.clone();
            let (stop, gaps, samples): (Arc<AtomicBool>, Arc<AtomicU64>, Arc<AtomicU64>) =
                (Arc::clone(&stop), Arc::clone(&gaps), Arc::clone(&samples));
            async move {
                // Bounded: the row ends well within this many samples.
                for _ in 0..100_000 {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    if manager.with_token(|_| ()).is_none() {
                        gaps.fetch_add(1, Ordering::Relaxed);
                    }
                    samples.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(std::time::Duration::from_micros(200)).await;
                }
            }
        });
        Sampler {
            stop,
            gaps,
            samples,
            task,
        }
    }

    /// Samples taken, and how many found no token.
    async fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Release);
        let _ = self.task.await;
        (
            self.samples.load(Ordering::Relaxed),
            self.gaps.load(Ordering::Relaxed),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_keeps_the_valid_token_and_meets_its_outcome() {
    for (name, fault, outcome) in rows() {
        row(name, fault, outcome).await;
    }
}

async fn row(name: &str, fault: Fault, outcome: Outcome) {
    let clock = DrivenClock::new(START);
    let mut front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        clock.clone(),
    )
    .unwrap();
    let dialect = Standard::builder(front.url("/token"), "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .build()
        .unwrap();
    let mut policy = Policy::default();
    policy.response_timeout = Duration::seconds(1);
    policy.max_body_bytes = 16 * 1024;
    let manager = TokenManager::builder(dialect, policy.clone())
        .clock(reading(&clock))
        .name(name)
        .start()
        .unwrap();
    let first = manager.token(PATIENCE).await.unwrap();
    let sampler = Sampler::start(&manager);

    match fault.clone() {
        Fault::Provider(failure) => front.with_emulator(|s| s.fail_next(failure)),
        Fault::Transport(fault) => front.inject(fault),
        Fault::Answer(status, body) => front.with_emulator(|s| {
            s.fail_next(InjectedFailure::Answer {
                status,
                body: body.to_string(),
            })
        }),
        Fault::Refused => front.shutdown(),
    }
    // The renewal falls due (the token has ten minutes left) and meets the fault.
    advance(&clock, &manager, Duration::minutes(50));
    let faulted_at: UtcDateTime = clock.now();

    match outcome {
        Outcome::Retry | Outcome::Throttled(_) => {
            let (retry_at, throttled) = eventually(name, || match manager.status() {
                Status::Waiting { retry_at, reason } => Some((retry_at, reason.is_throttled())),
                _ => None,
            })
            .await;
            assert_eq!(
                throttled,
                matches!(outcome, Outcome::Throttled(_)),
                "{name}: asked to slow down, or backing off"
            );
            match outcome {
                Outcome::Throttled(Some(seconds)) => {
                    assert_eq!(retry_at, faulted_at + Duration::seconds(seconds), "{name}")
                }
                _ => assert!(
                    retry_at > faulted_at && retry_at <= faulted_at + policy.backoff_max,
                    "{name}: {retry_at}"
                ),
            }
            assert_eq!(secret(&manager).as_deref(), Some(first.secret()), "{name}");
            if !matches!(fault, Fault::Refused) {
                // At the moment it named, it renews, and never presents a spent refresh
                // token again.
                advance(&clock, &manager, retry_at - faulted_at);
                let second = bounded(name, manager.token_newer_than(first.generation(), PATIENCE))
                    .await
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(second.generation().get(), 2, "{name}");
                assert_eq!(
                    front.with_emulator(|s| s.stats().refresh_token_reuses),
                    0,
                    "{name}"
                );
            }
        }
        Outcome::LogsInAgain => {
            let second = bounded(name, manager.token_newer_than(first.generation(), PATIENCE))
                .await
                .unwrap();
            assert_eq!(second.generation().get(), 2, "{name}");
            assert_eq!(front.with_emulator(|s| s.stats().logins), 2, "{name}");
        }
        Outcome::RetriesSlowly(code) => {
            let retry_at = eventually(name, || match manager.status() {
                Status::Waiting {
                    retry_at,
                    reason: WaitReason::Rejected { .. },
                } => Some(retry_at),
                _ => None,
            })
            .await;
            assert_eq!(retry_at, faulted_at + Duration::minutes(1), "{name}");
            let Some(Error::Rejected { failure }) = manager.last_failure() else {
                panic!("{name}: {:?}", manager.last_failure());
            };
            assert_eq!(failure.code().map(|c| c.as_ref()), Some(code), "{name}");
            assert_eq!(secret(&manager).as_deref(), Some(first.secret()), "{name}");
            // Callers get the token without waiting, until its hard expiry.
            let token = manager.token(std::time::Duration::ZERO).await.unwrap();
            assert_eq!(token.secret(), first.secret(), "{name}");
            // A minute later, the session renews by itself. (Until the manager has seen the
            // clock reach the retry, a caller is told of the rejection at once.)
            advance(&clock, &manager, retry_at - faulted_at);
            manager.flush().await.unwrap();
            let second = bounded(name, manager.token_newer_than(first.generation(), PATIENCE))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(second.generation().get(), 2, "{name}");
        }
    }

    let (samples, gaps) = sampler.finish().await;
    assert!(samples > 0, "{name}");
    assert_eq!(
        gaps, 0,
        "{name}: the valid token was withdrawn {gaps} times of {samples}"
    );
    manager.shutdown().await;
}
