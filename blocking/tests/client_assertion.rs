//! The manager takes dialects that authenticate by JWT assertion (RFC 7523) unchanged,
//! against the standard emulator over HTTP on 127.0.0.1 in simulated time:
//! `private_key_jwt` on the login, the refresh and the revocation, `client_secret_jwt`
//! renewing by a new login, and the JWT bearer grant.

mod support;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_emulator::{AssertionKey, StandardServer, StandardServerConfig};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use oauth_lifecycle_testkit::standard_client;
use support::*;
use time::Duration as Span;

/// Past the refresh moment of the emulator's hour-long tokens, before they expire.
const RENEW_AFTER: Span = Span::minutes(54);

/// Moves simulated time past the refresh moment and tells the manager.
fn renew(sim: &Sim<StandardServer>, tokens: &oauth_lifecycle_blocking::TokenManager) {
    sim.advance(RENEW_AFTER);
    tokens.clock_moved();
}

#[test]
fn private_key_jwt_logs_in_refreshes_and_revokes() {
    let (signer, _pem) = JwtSigner::generate(Algorithm::Rs256).unwrap();
    let signer = signer.with_key_id("client-key-1");
    let key = AssertionKey::jwk(signer.public_jwk().unwrap());
    let config = StandardServerConfig::default().assertion_client(CLIENT.0, key);
    let sim = Sim::new(StandardServer::new(config));
    let dialect = standard_client(&sim.front)
        .client_assertion(signer)
        .password(USER.0, USER.1)
        .revocation_url(sim.front.url("/revoke"))
        .build()
        .unwrap();
    let tokens = sim.manager(dialect, Policy::default()).start().unwrap();

    let first = tokens.token(PATIENCE).expect("a token after login");
    assert_eq!(sim.call_api(&first), 200);
    renew(&sim, &tokens);
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .expect("a refreshed token");
    assert_eq!(sim.call_api(&second), 200);
    let stats = sim.stats();
    assert_eq!((stats.logins, stats.refreshes), (1, 1), "{stats:?}");

    tokens.revoke().unwrap();
    eventually("the session is revoked", || {
        tokens.status() == Status::Revoked
    });
    tokens.shutdown();
    assert_eq!(sim.call_api(&second), 401, "the emulator revoked the token");
    // Every request authenticated by its own assertion: login, refresh, and the
    // revocation of each token; none refused.
    let stats = sim.stats();
    assert_eq!(stats.assertions_accepted, 4, "{stats:?}");
    assert_eq!(stats.assertions_refused, 0, "{stats:?}");
}

#[test]
fn client_secret_jwt_logs_in_and_renews_by_a_new_login() {
    let secret = "a client secret of at least thirty-two bytes";
    let config = StandardServerConfig::default()
        .assertion_client("hmac-client", AssertionKey::hs256(secret.as_bytes()));
    let sim = Sim::new(StandardServer::new(config));
    let dialect = Standard::builder(sim.front.url("/token"), "hmac-client")
        .client_assertion(JwtSigner::client_secret(secret).unwrap())
        .build()
        .unwrap();
    logs_in_then_renews_by_a_new_login(&sim, dialect);
}

#[test]
fn the_jwt_bearer_grant_gets_a_token_and_renews_by_a_new_login() {
    let (signer, _pem) = JwtSigner::generate(Algorithm::Es256).unwrap();
    let issuer = "https://workload.example";
    let key = AssertionKey::jwk(signer.public_jwk().unwrap());
    let config = StandardServerConfig::default().trust_issuer(issuer, key);
    let sim = Sim::new(StandardServer::new(config));
    let dialect = Standard::builder(sim.front.url("/token"), CLIENT.0)
        .jwt_bearer(signer, issuer, "workload-42")
        .build()
        .unwrap();
    logs_in_then_renews_by_a_new_login(&sim, dialect);
}

/// A manager on `dialect` gets a token, and past the refresh moment a new one by a new
/// login: two logins, each with an assertion the emulator accepted, no refresh.
fn logs_in_then_renews_by_a_new_login(sim: &Sim<StandardServer>, dialect: Standard) {
    let tokens = sim.manager(dialect, Policy::default()).start().unwrap();
    let first = tokens.token(PATIENCE).expect("a token after login");
    assert_eq!(sim.call_api(&first), 200);
    renew(sim, &tokens);
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .expect("a new login");
    assert_eq!(sim.call_api(&second), 200);
    tokens.shutdown();
    let stats = sim.stats();
    assert_eq!((stats.logins, stats.refreshes), (2, 0), "{stats:?}");
    assert_eq!(
        (stats.assertions_accepted, stats.assertions_refused),
        (2, 0)
    );
}
