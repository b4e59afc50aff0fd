//! The manager against every provider's emulator over HTTP on 127.0.0.1, in simulated
//! time: it logs in, the token opens the API, it renews the way the provider wants
//! (refresh, rotating single-use refresh, or a new login), and it revokes where the
//! provider can.

mod support;

use oauth_lifecycle::dialect::{
    Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Dialect, Environment, Standard,
};
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_emulator::{
    ConvercusLegacyServer, ConvercusLegacyServerConfig, ConvirzaV3Server, ConvirzaV3ServerConfig,
    DrivenClock, Emulator, HttpFront, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_tokio::{TokenManager, WaitError};
use support::*;

/// How a provider renews, and what its revocation looks like.
struct Expect {
    /// Simulated time after which renewal is due (the refresh moment has passed, the
    /// token is still valid).
    renew_after: Duration,
    /// Whether renewal is a refresh (else a new login).
    refreshes: bool,
    /// Revocation requests sent to the provider (0 where it has no endpoint).
    revocation_requests: u64,
}

/// Runs one provider's lifecycle; `dialect` is built from the front's base URL.
async fn lifecycle<D, E>(name: &str, server: E, dialect: impl FnOnce(&str) -> D, expect: Expect)
where
    D: Dialect + Send + Sync + 'static,
    E: Emulator + Send + 'static,
{
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
    advance(&clock, &manager, expect.renew_after);
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
        let now = clock.now();
        assert!(
            !front.with_emulator(|s| s.is_access_token_valid(second.secret(), now)),
            "{name}: the provider still accepts the revoked token"
        );
    }
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_password_grant_refreshes_and_revokes_both_tokens() {
    lifecycle(
        "standard",
        StandardServer::new(StandardServerConfig::default()),
        |base| {
            Standard::builder(format!("{base}/token"), "emulated-client")
                .client_secret("emulated-secret")
                .password("alice", "alice-password")
                .revocation_url(format!("{base}/revoke"))
                .build()
                .unwrap()
        },
        Expect {
            renew_after: Duration::minutes(50),
            refreshes: true,
            revocation_requests: 2,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convirza_v2_refreshes_and_revokes_locally() {
    lifecycle(
        "convirza-v2",
        StandardServer::new(StandardServerConfig::convirza_v2()),
        |base| {
            ConvirzaV2::builder(
                "system",
                "convirza-v2-secret",
                "user@convirza.com",
                "mySecurePassword123",
            )
            .token_url(format!("{base}/oauth/token"))
            .build()
            .unwrap()
        },
        Expect {
            renew_after: Duration::minutes(50),
            refreshes: true,
            revocation_requests: 0,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convirza_v3_rotates_its_single_use_refresh_token_and_revokes_both() {
    lifecycle(
        "convirza-v3",
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        |base| {
            ConvirzaV3::builder("user@example.com", "SecurePassword123!")
                .base_url(base)
                .build()
                .unwrap()
        },
        Expect {
            renew_after: Duration::days(6),
            refreshes: true,
            revocation_requests: 2,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convercus_client_credentials_logs_in_again_and_revokes() {
    lifecycle(
        "convercus",
        StandardServer::new(StandardServerConfig::keycloak("abc-staging")),
        |base| {
            Convercus::builder("ABC", Environment::Staging, "convercus-secret")
                .auth_url(base)
                .build()
                .unwrap()
        },
        Expect {
            renew_after: Duration::minutes(26),
            refreshes: false,
            revocation_requests: 1,
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convercus_legacy_logs_in_again_and_revokes_locally() {
    lifecycle(
        "convercus-legacy",
        ConvercusLegacyServer::new(ConvercusLegacyServerConfig::default()),
        |base| {
            ConvercusLegacy::builder("ACME", "api-user", "api-password", Environment::Production)
                .api_url(base)
                .build()
                .unwrap()
        },
        Expect {
            renew_after: Duration::hours(20),
            refreshes: false,
            revocation_requests: 0,
        },
    )
    .await;
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
