//! The manager takes dialects that authenticate by JWT assertion (RFC 7523) unchanged,
//! against the standard emulator over HTTP on 127.0.0.1 in simulated time:
//! `private_key_jwt` on the login, the refresh and the revocation, and the JWT bearer
//! grant renewing by a new login.

mod support;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_emulator::{
    AssertionKey, DrivenClock, Emulator, HttpFront, ServerStats, StandardServer,
    StandardServerConfig,
};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use oauth_lifecycle_testkit::{standard_client, STANDARD_CLIENT, STANDARD_USER};
use oauth_lifecycle_tokio::TokenManager;
use support::*;

/// Past the refresh moment of the emulator's hour-long tokens, before they expire.
const RENEW_AFTER: Duration = Duration::minutes(54);

/// The standard emulator with `config` on 127.0.0.1, on a driven clock.
fn serve(config: StandardServerConfig) -> (DrivenClock, HttpFront<StandardServer>) {
    let clock = DrivenClock::new(START);
    let front = HttpFront::start(StandardServer::new(config), clock.clone())
        .expect("the emulator listens on 127.0.0.1");
    (clock, front)
}

fn stats(front: &HttpFront<StandardServer>) -> ServerStats {
    front.with_emulator(|server| server.stats().clone())
}

fn signer(algorithm: Algorithm) -> (JwtSigner, AssertionKey) {
    let (signer, _pem) = JwtSigner::generate(algorithm).unwrap();
    let key = AssertionKey::jwk(signer.public_jwk().unwrap());
    (signer, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_key_jwt_logs_in_refreshes_and_revokes() {
    let (signer, key) = signer(Algorithm::EdDsa);
    let (clock, front) =
        serve(StandardServerConfig::default().assertion_client(STANDARD_CLIENT.0, key));
    let dialect = standard_client(&front)
        .client_assertion(signer)
        .password(STANDARD_USER.0, STANDARD_USER.1)
        .revocation_url(front.url("/revoke"))
        .build()
        .unwrap();
    let manager = TokenManager::builder(dialect, Policy::default())
        .clock(reading(&clock))
        .start()
        .unwrap();
    let (client, api) = (api_client(), front.url("/api/me"));

    let first = manager.token(PATIENCE).await.expect("a token after login");
    assert_eq!(call_api(&client, &manager, &api).await, 200);
    advance(&clock, &manager, RENEW_AFTER);
    let second = bounded(
        "the refresh",
        manager.token_newer_than(first.generation(), PATIENCE),
    )
    .await
    .expect("a refreshed token");
    assert_eq!(call_api(&client, &manager, &api).await, 200);
    let counts = stats(&front);
    assert_eq!((counts.logins, counts.refreshes), (1, 1), "{counts:?}");

    manager.revoke().await.unwrap();
    eventually("the revocation", || {
        (manager.status() == Status::Revoked && front.stats().auth_requests == 4).then_some(())
    })
    .await;
    manager.shutdown().await;
    let now = clock.now();
    assert!(!front.with_emulator(|s| s.is_access_token_valid(second.secret(), now)));
    // Every request authenticated by its own assertion: login, refresh, and the
    // revocation of each token; none refused.
    let counts = stats(&front);
    assert_eq!(
        (counts.assertions_accepted, counts.assertions_refused),
        (4, 0),
        "{counts:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jwt_bearer_grant_gets_a_token_and_renews_by_a_new_login() {
    let (signer, key) = signer(Algorithm::Ps256);
    let issuer = "https://workload.example";
    let (clock, front) = serve(StandardServerConfig::default().trust_issuer(issuer, key));
    let dialect = Standard::builder(front.url("/token"), STANDARD_CLIENT.0)
        .jwt_bearer(signer, issuer, "workload-42")
        .build()
        .unwrap();
    let manager = TokenManager::builder(dialect, Policy::default())
        .clock(reading(&clock))
        .start()
        .unwrap();
    let (client, api) = (api_client(), front.url("/api/me"));

    let first = manager.token(PATIENCE).await.expect("a token after login");
    assert_eq!(call_api(&client, &manager, &api).await, 200);
    advance(&clock, &manager, RENEW_AFTER);
    bounded(
        "the renewal",
        manager.token_newer_than(first.generation(), PATIENCE),
    )
    .await
    .expect("a new login");
    assert_eq!(call_api(&client, &manager, &api).await, 200);
    manager.shutdown().await;
    let counts = stats(&front);
    assert_eq!((counts.logins, counts.refreshes), (2, 0), "{counts:?}");
    assert_eq!(
        (counts.assertions_accepted, counts.assertions_refused),
        (2, 0)
    );
}
