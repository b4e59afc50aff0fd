//! Both managers on the Redis store, in one process: the second follows the first's
//! session instead of logging in, and adopts its renewal when it is announced.

use std::sync::Arc;
use std::time::Duration;

use oauth_lifecycle::dialect::ConvirzaV3;
use oauth_lifecycle::time::Duration as Span;
use oauth_lifecycle::Policy;
use oauth_lifecycle_adapter::{SessionStore, StoreKey};
use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator, HttpFront,
};
use oauth_lifecycle_redis::{RedisStore, Server};
use oauth_lifecycle_testkit::RedisServer;

const PATIENCE: Duration = Duration::from_secs(20);

fn store(redis: &RedisServer, holder: &str) -> RedisStore {
    RedisStore::builder(Server::node(&redis.url()).unwrap(), "managers")
        .encrypted(StoreKey::from_bytes([3; 32]))
        .holder(holder)
        .lease(Span::seconds(4))
        .poll(Span::seconds(30))
        .build()
        .unwrap()
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.response_timeout = Span::seconds(2);
    policy
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_and_a_tokio_manager_share_one_session_and_one_renewal() {
    let redis = RedisServer::start();
    let mut config = ConvirzaV3ServerConfig::default();
    config.access_token_lifetime = Span::seconds(6);
    let front = HttpFront::start(ConvirzaV3Server::new(config), Clock::System).unwrap();
    let dialect = || {
        ConvirzaV3::builder("user@example.com", "SecurePassword123!")
            .base_url(front.base_url())
            .build()
            .unwrap()
    };
    let blocking = oauth_lifecycle_blocking::TokenManager::builder(dialect(), policy())
        .store(Arc::new(store(&redis, "blocking")))
        .start()
        .unwrap();
    let first = tokio::task::block_in_place(|| blocking.token(PATIENCE)).unwrap();
    let tokio_manager = oauth_lifecycle_tokio::TokenManager::builder(dialect(), policy())
        .shared_store(Arc::new(store(&redis, "tokio")))
        .start()
        .unwrap();
    let followed = tokio_manager.token(PATIENCE).await.unwrap();
    assert_eq!(
        followed.secret(),
        first.secret(),
        "the stored session, no second login"
    );
    // The next renewal, by whichever holds the lease, reaches both: the follower through
    // the announcement, long before its 30-second poll.
    let renewed = tokio_manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    let seen =
        tokio::task::block_in_place(|| blocking.token_newer_than(first.generation(), PATIENCE))
            .unwrap();
    assert_eq!(renewed.secret(), seen.secret());
    let stats = front.stats();
    assert_eq!(
        stats.auth_requests, 2,
        "one login and one refresh for both managers"
    );
    tokio_manager.shutdown().await;
    tokio::task::block_in_place(|| blocking.shutdown());
}

/// A process configured with another key cannot read the fleet's session: it works
/// alone (its own login), and never overwrites what the others share.
#[test]
fn a_process_with_another_key_works_alone_and_never_overwrites_the_fleets_session() {
    let redis = RedisServer::start();
    let mut config = ConvirzaV3ServerConfig::default();
    config.access_token_lifetime = Span::seconds(6);
    let front = HttpFront::start(ConvirzaV3Server::new(config), Clock::System).unwrap();
    let manager = |store: RedisStore| {
        let dialect = ConvirzaV3::builder("user@example.com", "SecurePassword123!")
            .base_url(front.base_url())
            .build()
            .unwrap();
        oauth_lifecycle_blocking::TokenManager::builder(dialect, policy())
            .store(Arc::new(store))
            .start()
            .unwrap()
    };
    let fleet = manager(store(&redis, "fleet"));
    let shared = fleet.token(PATIENCE).unwrap();
    let stray_store = RedisStore::builder(Server::node(&redis.url()).unwrap(), "managers")
        .encrypted(StoreKey::from_bytes([4; 32]))
        .holder("stray")
        .lease(Span::seconds(4))
        .poll(Span::seconds(1))
        .build()
        .unwrap();
    let stray = manager(stray_store);
    let own = stray.token(PATIENCE).unwrap();
    assert_ne!(own.secret(), shared.secret(), "a login of its own");
    // Through its own renewals and the fleet's, the stray process keeps a token and the
    // store keeps the fleet's session.
    let renewed = stray.token_newer_than(own.generation(), PATIENCE).unwrap();
    let fleet_renewed = fleet
        .token_newer_than(shared.generation(), PATIENCE)
        .unwrap();
    assert_ne!(renewed.secret(), fleet_renewed.secret());
    let stored = store(&redis, "reader").load().unwrap().unwrap();
    assert!(stored.generation >= fleet_renewed.generation());
    let reuses = front.with_emulator(|emulator| emulator.stats().refresh_token_reuses);
    assert_eq!(reuses, 0);
    stray.shutdown();
    fleet.shutdown();
}
