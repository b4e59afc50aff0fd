//! The manager's promises with many tasks, over HTTP on 127.0.0.1: one token request
//! however many callers wait for a renewal; no wait for callers while the token is
//! valid; 401 reports by generation, stale ones changing nothing; a shutdown that
//! leaves no task behind and revokes when asked; a restart that resumes from the store.

mod support;

use std::sync::{mpsc, Arc};
use std::time::Duration as StdDuration;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_emulator::{
    DrivenClock, Emulator, HttpFront, StandardServer, StandardServerConfig, TransportFault,
};
use oauth_lifecycle_tokio::{MemoryStore, SessionStore, TokenManager, WaitError};
use support::capture::{self, Capture};
use support::*;

const CALLERS: usize = 10_000;

type Front = HttpFront<StandardServer>;

fn front(clock: &DrivenClock) -> Arc<Front> {
    Arc::new(
        HttpFront::start(
            StandardServer::new(StandardServerConfig::default()),
            clock.clone(),
        )
        .unwrap(),
    )
}

fn dialect(front: &Front) -> Standard {
    oauth_lifecycle_testkit::standard(front)
}

fn start(front: &Front, clock: &DrivenClock, name: &str) -> TokenManager {
    TokenManager::builder(dialect(front), Policy::default())
        .clock(reading(clock))
        .name(name)
        .start()
        .unwrap()
}

/// Holds the emulator, so that a token request reaching it waits, until released: a
/// renewal that stays in flight as long as the test needs.
struct Held {
    release: mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

fn hold(front: &Arc<Front>) -> Held {
    let (release, released) = mpsc::channel();
    let (held, holding) = mpsc::channel();
    let thread = std::thread::spawn({
        let front = Arc::clone(front);
        move || {
            front.with_emulator(|_| {
                held.send(()).unwrap();
                // Bounded: released by the test, or given up on.
                let _ = released.recv_timeout(PATIENCE);
            })
        }
    });
    holding.recv_timeout(PATIENCE).unwrap();
    Held { release, thread }
}

impl Held {
    fn release(self) {
        let _ = self.release.send(());
        self.thread.join().unwrap();
    }
}

/// 10,000 tasks ask for a token while the only one was rejected and its renewal is in
/// flight: all of them get the renewed token, from one token request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_waiters_during_one_renewal_cause_one_token_request() {
    let clock = DrivenClock::new(START);
    let front = front(&clock);
    let manager = start(&front, &clock, "single-flight");
    let first = manager.token(PATIENCE).await.unwrap();
    // Old enough that a 401 renews it at once (`Policy::unauthorized_spacing`).
    advance(&clock, &manager, Duration::SECOND);

    let held = hold(&front);
    manager.report_unauthorized(first.generation());
    eventually("the renewal to reach the provider", || {
        (front.stats().auth_requests == 2).then_some(())
    })
    .await;
    assert!(
        manager.with_token(|_| ()).is_none(),
        "the rejected token is withdrawn"
    );

    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move { manager.token(PATIENCE).await })
        })
        .collect();
    eventually("every caller waits", || {
        (manager.waiters() == CALLERS).then_some(())
    })
    .await;
    assert_eq!(manager.status(), Status::Renewing);
    held.release();

    for caller in callers {
        let token = bounded("a caller", caller).await.unwrap().unwrap();
        assert_eq!(token.generation().get(), 2);
    }
    assert_eq!(front.stats().auth_requests, 2, "login, and one renewal");
    manager.shutdown().await;
}

/// While a renewal is in flight, callers whose token is still valid are served at once:
/// with no time to wait at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callers_with_a_valid_token_never_wait() {
    let clock = DrivenClock::new(START);
    let front = front(&clock);
    let manager = start(&front, &clock, "stale-while-refresh");
    let first = manager.token(PATIENCE).await.unwrap();

    let held = hold(&front);
    advance(&clock, &manager, Duration::minutes(50));
    eventually("the renewal to reach the provider", || {
        (front.stats().auth_requests == 2).then_some(())
    })
    .await;
    assert_eq!(manager.status(), Status::Renewing);

    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let manager = manager.clone();
            tokio::spawn(async move {
                let read = manager.with_token(|token| token.generation());
                let token = manager.token(StdDuration::ZERO).await;
                (read, token)
            })
        })
        .collect();
    for caller in callers {
        let (read, token) = bounded("a caller", caller).await.unwrap();
        assert_eq!(read, Some(first.generation()));
        assert_eq!(token.unwrap().secret(), first.secret());
    }
    assert_eq!(
        manager.status(),
        Status::Renewing,
        "all served during the renewal"
    );
    held.release();
    let second = manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(second.generation().get(), 2);
    manager.shutdown().await;
}

/// A 401 is reported with the generation of the token it rejected: about the current
/// token, it renews once however many callers report it; about an older one, nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_reports_count_by_generation() {
    let capture = capture::install();
    let clock = DrivenClock::new(START);
    let front = front(&clock);
    let name = "reports-by-generation";
    let manager = start(&front, &clock, name);
    let first = manager.token(PATIENCE).await.unwrap();
    // Old enough that a 401 renews it at once (`Policy::unauthorized_spacing`).
    advance(&clock, &manager, Duration::SECOND);

    // 50 callers report the same 401 at once: one renewal.
    let reporters: Vec<_> = (0..50)
        .map(|_| {
            let manager = manager.clone();
            let generation = first.generation();
            tokio::spawn(async move { manager.report_unauthorized(generation) })
        })
        .collect();
    for reporter in reporters {
        reporter.await.unwrap();
    }
    let second = manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(second.generation().get(), 2);

    // A late report about the first token: the task hands it to the session, which says
    // it is stale; the current token stays and nothing is sent.
    let stale = |capture: &Capture| {
        capture
            .lines_with(name)
            .into_iter()
            .filter(|line| line.contains("401 reported") && line.contains("Stale"))
            .count()
    };
    let before = stale(&capture);
    manager.report_unauthorized(first.generation());
    eventually("the stale report to be handled", || {
        (stale(&capture) > before).then_some(())
    })
    .await;
    assert_eq!(generation(&manager), Some(2));
    assert_eq!(manager.status(), Status::Ready);
    assert_eq!(front.stats().auth_requests, 2, "login, and one renewal");

    // A report about the current token renews it: one more request, no more (a token
    // that lived the policy's spacing is renewed at once).
    advance(
        &clock,
        &manager,
        Policy::default().unauthorized_renewal_spacing,
    );
    manager.report_unauthorized(second.generation());
    let third = manager
        .token_newer_than(second.generation(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(third.generation().get(), 3);
    assert_eq!(front.stats().auth_requests, 3);
    manager.shutdown().await;
}

/// `shutdown` ends the task before it returns and fails every waiter with `Closed`;
/// dropping the last handle stops it in the background; neither leaves a task behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_and_drop_leave_no_task_behind() {
    let runtime = tokio::runtime::Handle::current();
    let alive = || runtime.metrics().num_alive_tasks();
    let baseline = alive();
    let clock = DrivenClock::new(START);
    let front = front(&clock);

    // Shut down while a caller waits for a renewal that hangs.
    let manager = start(&front, &clock, "shutdown");
    let first = manager.token(PATIENCE).await.unwrap();
    // Old enough that a 401 renews it at once (`Policy::unauthorized_spacing`).
    advance(&clock, &manager, Duration::SECOND);
    front.inject(TransportFault::Hang(StdDuration::from_secs(30)));
    manager.report_unauthorized(first.generation());
    eventually("the renewal to hang", || {
        (front.stats().auth_requests == 2).then_some(())
    })
    .await;
    let waiter = tokio::spawn({
        let manager = manager.clone();
        async move { manager.token(PATIENCE).await }
    });
    eventually("the waiter waits", || {
        (manager.waiters() == 1).then_some(())
    })
    .await;
    let clone = manager.clone();
    let shutdown = tokio::spawn(manager.shutdown());
    // The renewal out spends a single-use refresh token: the stop awaits its answer, and
    // the session gives up on it at its deadline.
    advance(
        &clock,
        &clone,
        Policy::default().response_timeout + oauth_lifecycle::time::Duration::SECOND,
    );
    bounded("shutdown", shutdown).await.unwrap();
    assert_eq!(
        bounded("the waiter", waiter).await.unwrap().unwrap_err(),
        WaitError::Closed
    );
    assert!(clone.is_closed());
    assert_eq!(clone.token(PATIENCE).await.unwrap_err(), WaitError::Closed);
    assert!(clone.login().await.is_err());
    drop(clone);
    eventually("no task left after shutdown", || {
        (alive() == baseline).then_some(())
    })
    .await;

    // Dropping the last handle, with a login in flight.
    let manager = start(&front, &clock, "drop");
    assert!(alive() > baseline);
    drop(manager);
    eventually("no task left after the drop", || {
        (alive() == baseline).then_some(())
    })
    .await;
}

/// With `revoke_on_shutdown`, awaiting `shutdown` revokes both tokens at the provider
/// before the task ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_revokes_when_asked() {
    let clock = DrivenClock::new(START);
    let front = front(&clock);
    let manager = TokenManager::builder(dialect(&front), Policy::default())
        .clock(reading(&clock))
        .revoke_on_shutdown(true)
        .start()
        .unwrap();
    let token = manager.token(PATIENCE).await.unwrap();
    bounded("shutdown", manager.shutdown()).await;
    assert_eq!(
        front.stats().auth_requests,
        3,
        "login, then two revocations"
    );
    let now = clock.now();
    assert!(!front.with_emulator(|s| s.is_access_token_valid(token.secret(), now)));
    assert!(front.with_emulator(|s| s.stats().revocations) >= 1);
}

/// A manager started over a store that holds a session resumes it: the stored token,
/// with no login. (It is published when the task first runs, an instant after `start`
/// returns: the wait is bounded, not zero.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_store_without_logging_in() {
    let clock = DrivenClock::new(START);
    let front = front(&clock);
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let start = || {
        TokenManager::builder(dialect(&front), Policy::default())
            .clock(reading(&clock))
            .store(Arc::clone(&store))
            .start()
            .unwrap()
    };
    let first = start();
    let token = first.token(PATIENCE).await.unwrap();
    first.shutdown().await;

    let second = start();
    let resumed = second.token(PATIENCE).await.unwrap();
    assert_eq!(resumed.secret(), token.secret());
    assert_eq!(resumed.generation(), token.generation());
    assert_eq!(front.stats().auth_requests, 1, "no second login");
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renew_replaces_the_token_early_and_serves_the_old_one_meanwhile() {
    let clock = DrivenClock::new(START);
    let front = front(&clock);
    let manager = start(&front, &clock, "renew");
    let first = manager.token(PATIENCE).await.unwrap();

    let held = hold(&front);
    manager.renew().await.unwrap();
    eventually("the renewal to reach the provider", || {
        (front.stats().auth_requests == 2).then_some(())
    })
    .await;
    let served = manager.token(StdDuration::ZERO).await.unwrap();
    assert_eq!(served.generation(), first.generation(), "served meanwhile");
    held.release();
    let second = manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(second.generation().get(), 2);
    assert_eq!(front.stats().auth_requests, 2, "one renewal");
    manager.shutdown().await;
}
