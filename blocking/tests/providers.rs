//! The manager against every provider's emulator over HTTP on 127.0.0.1, in simulated
//! time: log in, call the API with the published header, renew, revoke.

mod support;

use std::time::Duration;

use oauth_lifecycle::{Dialect, Policy, Status};
use oauth_lifecycle_blocking::WaitError;
use oauth_lifecycle_emulator::{ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator};
use oauth_lifecycle_testkit::providers::Facts;
use support::*;
use time::Duration as Span;

/// Logs in, calls the API, renews, calls again, revokes, shuts down.
fn lifecycle<E: Emulator + Send + 'static, D: Dialect>(sim: Sim<E>, dialect: D, expected: Facts) {
    let tokens = sim
        .manager(dialect, Policy::default())
        .name("provider-test")
        .start()
        .expect("the manager starts");

    let first = tokens.token(PATIENCE).expect("a token after login");
    assert_eq!(sim.call_api(&first), 200, "the published header works");
    assert_eq!(tokens.status(), Status::Ready);
    assert_eq!(sim.stats().logins, 1);

    sim.advance(expected.renew_after());
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
    if expected.revocable() {
        // Revoking a refresh token revokes its grant, access token included: the
        // emulator counts one revocation where two requests went out (the async suite
        // counts the requests).
        assert!(sim.stats().revocations >= 1, "{:?}", sim.stats());
        assert_eq!(sim.call_api(&second), 401, "the provider revoked the token");
    } else {
        assert_eq!(sim.stats().revocations, 0);
    }
}

/// The lifecycle test of one provider row of the testkit ([`providers!`]).
macro_rules! lifecycle_test {
    ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {
        #[test]
        fn $name() {
            let sim = Sim::new($emulator);
            let dialect = ($dialect)(&sim.front.base_url());
            lifecycle(sim, dialect, $facts);
        }
    };
}

mod every_provider {
    use super::*;

    oauth_lifecycle_testkit::providers!(lifecycle_test);
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
