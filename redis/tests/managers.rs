//! Both managers on the Redis store, in one process: the second follows the first's
//! session instead of logging in, and adopts its renewal when it is announced.

use std::sync::Arc;
use std::time::Duration;

use oauth_lifecycle::dialect::ConvirzaV3;
use oauth_lifecycle::time::Duration as Span;
use oauth_lifecycle::Policy;
use oauth_lifecycle_adapter::StoreKey;
use oauth_lifecycle_emulator::{Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, HttpFront};
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
