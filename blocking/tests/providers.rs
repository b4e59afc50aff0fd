//! The manager against every provider's emulator over HTTP on 127.0.0.1, in simulated
//! time: log in, call the API with the published header, renew, revoke.

mod support;

use std::time::Duration;

use oauth_lifecycle::{Dialect, Policy, Status};
use oauth_lifecycle_blocking::WaitError;
use oauth_lifecycle_emulator::{
    ConvercusLegacyServer, ConvercusLegacyServerConfig, ConvirzaV3Server, ConvirzaV3ServerConfig,
    Emulator, StandardServer, StandardServerConfig,
};
use support::*;
use time::Duration as Span;

/// What a provider's lifecycle should show.
struct Expected {
    /// How far to move time for the token to be renewed.
    renew_after: Span,
    /// Whether the renewal is a refresh (or a new login).
    refreshes: bool,
    /// Whether revoking reaches the provider (it has a revocation endpoint).
    revocable: bool,
}

/// Logs in, calls the API, renews, calls again, revokes, shuts down.
fn lifecycle<E: Emulator + Send + 'static, D: Dialect>(
    sim: Sim<E>,
    dialect: D,
    expected: Expected,
) {
    let tokens = sim
        .manager(dialect, Policy::default())
        .name("provider-test")
        .start()
        .expect("the manager starts");

    let first = tokens.token(PATIENCE).expect("a token after login");
    assert_eq!(sim.call_api(&first), 200, "the published header works");
    assert_eq!(tokens.status(), Status::Ready);
    assert_eq!(sim.stats().logins, 1);

    sim.advance(expected.renew_after);
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .expect("a renewed token");
    assert!(second.generation() > first.generation());
    assert_ne!(second.secret(), first.secret());
    assert_eq!(sim.call_api(&second), 200);
    let stats = sim.stats();
    if expected.refreshes {
        assert_eq!((stats.logins, stats.refreshes), (1, 1), "{stats:?}");
    } else {
        assert_eq!((stats.logins, stats.refreshes), (2, 0), "{stats:?}");
    }
    assert_eq!(stats.refresh_token_reuses, 0);

    tokens.revoke().unwrap();
    eventually("the session is revoked", || {
        tokens.status() == Status::Revoked
    });
    assert!(
        tokens.with_token(|_| ()).is_none(),
        "a revoked token is withdrawn"
    );
    assert_eq!(
        tokens.token(Duration::ZERO).unwrap_err(),
        WaitError::Revoked
    );
    // Shutdown waits for the revocation requests.
    tokens.shutdown();
    assert_eq!(tokens.token(PATIENCE).unwrap_err(), WaitError::Closed);
    if expected.revocable {
        assert!(sim.stats().revocations >= 1, "{:?}", sim.stats());
        assert_eq!(sim.call_api(&second), 401, "the provider revoked the token");
    } else {
        assert_eq!(sim.stats().revocations, 0);
    }
}

#[test]
fn standard_password_grant() {
    let sim = Sim::new(StandardServer::new(StandardServerConfig::default()));
    let dialect = standard(&sim.front);
    lifecycle(
        sim,
        dialect,
        Expected {
            renew_after: Span::minutes(55),
            refreshes: true,
            revocable: true,
        },
    );
}

#[test]
fn convirza_v2_password_grant_with_rotation() {
    let sim = Sim::new(StandardServer::new(StandardServerConfig::convirza_v2()));
    let dialect = convirza_v2(&sim.front);
    lifecycle(
        sim,
        dialect,
        Expected {
            renew_after: Span::minutes(55),
            refreshes: true,
            revocable: false,
        },
    );
}

#[test]
fn convirza_v3_single_use_rotation() {
    let sim = Sim::new(ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()));
    let dialect = convirza_v3(&sim.front);
    lifecycle(
        sim,
        dialect,
        Expected {
            renew_after: Span::days(6),
            refreshes: true,
            revocable: true,
        },
    );
}

#[test]
fn convercus_keycloak_realm() {
    let sim = Sim::new(StandardServer::new(StandardServerConfig::keycloak(
        "abc-staging",
    )));
    let dialect = convercus(&sim.front);
    lifecycle(
        sim,
        dialect,
        Expected {
            renew_after: Span::minutes(28),
            refreshes: true,
            revocable: true,
        },
    );
}

#[test]
fn convercus_legacy_login() {
    let sim = Sim::new(ConvercusLegacyServer::new(
        ConvercusLegacyServerConfig::default(),
    ));
    let dialect = convercus_legacy(&sim.front);
    lifecycle(
        sim,
        dialect,
        Expected {
            renew_after: Span::hours(23),
            refreshes: false,
            revocable: false,
        },
    );
}

/// Convirza V3 slides a token's expiry with every authenticated call: reported from many
/// threads, the successes keep the token alive for weeks with no renewal at all.
#[test]
fn convirza_v3_successful_calls_slide_the_expiry_from_many_threads() {
    let sim = Sim::new(ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()));
    let tokens = sim
        .manager(convirza_v3(&sim.front), Policy::default())
        .start()
        .unwrap();
    let token = tokens.token(PATIENCE).unwrap();
    let generation = token.generation();
    for day in 1..=20 {
        sim.advance(Span::days(1));
        assert_eq!(sim.call_api(&token), 200, "day {day}");
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        tokens.report_call_succeeded(generation);
                    }
                });
            }
        });
        // Seven days from the call, less the skew allowance.
        let slid = sim.clock.now() + Span::days(7) - Policy::default().skew_allowance;
        eventually(&format!("the expiry slides on day {day}"), || {
            tokens.with_token(|t| t.valid_until()) == Some(slid)
        });
    }
    let stats = sim.stats();
    assert_eq!((stats.logins, stats.refreshes), (1, 0), "{stats:?}");
    assert_eq!(tokens.with_token(|t| t.generation()), Some(generation));
}
