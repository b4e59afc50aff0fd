//! The manager against every provider's emulator over HTTP on 127.0.0.1, in simulated
//! time: it logs in, the token opens the API, it renews the way the provider wants
//! (refresh, rotating single-use refresh, or a new login), and it revokes where the
//! provider can.

mod support;

use oauth_lifecycle::dialect::Dialect;
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_emulator::{DrivenClock, Emulator, HttpFront};
use oauth_lifecycle_testkit::providers::Facts;
use oauth_lifecycle_tokio::{TokenManager, WaitError};
use support::*;

/// Runs one provider's lifecycle; `dialect` is built from the front's base URL.
async fn lifecycle<D, E>(server: E, dialect: impl FnOnce(&str) -> D, expect: Facts)
where
    D: Dialect + Send + Sync + 'static,
    E: Emulator + Send + 'static,
{
    let name = expect.name;
    let clock = DrivenClock::new(START);
    let front = HttpFront::start(server, clock.clone()).unwrap();
    let dialect = dialect(&front.base_url());
    let api = front.url("/api/me");
    let client = api_client();
    let manager = TokenManager::builder(dialect, Policy::default())
        .clock(reading(&clock))
        .name(name)
        .start()
        .unwrap();

    // Login.
    let first = manager.token(PATIENCE).await.unwrap();
    assert_eq!(first.generation().get(), 1, "{name}");
    eventually("the ready status", || {
        (manager.status() == Status::Ready).then_some(())
    })
    .await;
    assert_eq!(front.with_emulator(|s| s.stats().logins), 1, "{name}");
    // An API call with it.
    assert_eq!(call_api(&client, &manager, &api).await, 200, "{name}");

    // Renewal, when the provider's refresh moment comes.
    advance(&clock, &manager, expect.renew_after());
    let second = bounded(name, manager.token_newer_than(first.generation(), PATIENCE))
        .await
        .unwrap();
    assert_eq!(second.generation().get(), 2, "{name}");
    assert_ne!(second.secret(), first.secret(), "{name}");
    let stats = front.with_emulator(|s| s.stats().clone());
    if expect.refreshes {
        assert_eq!((stats.logins, stats.refreshes), (1, 1), "{name}");
    } else {
        assert_eq!((stats.logins, stats.refreshes), (2, 0), "{name}");
    }
    assert_eq!(stats.refresh_token_reuses, 0, "{name}");
    assert_eq!(call_api(&client, &manager, &api).await, 200, "{name}");
    assert_eq!(front.stats().auth_requests, 2, "{name}");

    // Revocation.
    manager.revoke().await.unwrap();
    eventually("the revocation", || {
        (manager.status() == Status::Revoked
            && front.stats().auth_requests == 2 + expect.revocation_requests)
            .then_some(())
    })
    .await;
    assert!(manager.with_token(|_| ()).is_none(), "{name}");
    assert_eq!(
        manager.token(PATIENCE).await.unwrap_err(),
        WaitError::Revoked,
        "{name}"
    );
    if expect.revocation_requests > 0 {
        // The front counts a request when it arrives, before the emulator answers it:
        // wait for the emulator to have revoked the token, bounded.
        let now = clock.now();
        eventually("the provider to refuse the revoked token", || {
            (!front.with_emulator(|s| s.is_access_token_valid(second.secret(), now))).then_some(())
        })
        .await;
    }
    manager.shutdown().await;
}

/// The lifecycle test of one provider row of the testkit ([`providers!`]).
macro_rules! lifecycle_test {
    ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            lifecycle($emulator, $dialect, $facts).await;
        }
    };
}

mod every_provider {
    use super::*;

    oauth_lifecycle_testkit::providers!(lifecycle_test);
}

/// Convirza V3's tokens live longer with use: a successful call reported to the manager
/// moves the published token's end as the provider moved it, with no renewal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convirza_v3_successful_calls_slide_the_token() {
    let clock = DrivenClock::new(START);
    let (front, manager) = convirza_v3(&clock);
    let token = manager.token(PATIENCE).await.unwrap();
    let client = api_client();
    let api = front.url("/api/me");
    // A call a day for ten days: each slides the token a week past that day.
    for day in 1..=10 {
        advance(&clock, &manager, Duration::days(1));
        assert_eq!(call_api(&client, &manager, &api).await, 200, "day {day}");
        manager.report_call_succeeded(token.generation());
        let until = clock.now() + Duration::days(7) - Duration::seconds(5);
        eventually("the slide", || {
            manager
                .with_token(|t| t.valid_until() == until)
                .filter(|slid| *slid)
        })
        .await;
    }
    assert_eq!(generation(&manager), Some(1), "no renewal was needed");
    let stats = front.with_emulator(|s| s.stats().clone());
    assert_eq!((stats.logins, stats.refreshes, stats.slides), (1, 0, 10));
    manager.shutdown().await;
}
