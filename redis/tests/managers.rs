//! Both managers on the Redis store, in one process: the second follows the first's
//! session instead of logging in, and adopts its renewal when it is announced.

use std::sync::Arc;

use oauth_lifecycle::time::Duration as Span;
use oauth_lifecycle::Policy;
use oauth_lifecycle_adapter::{SessionStore, StoreError, StoreKey};
use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator, HttpFront,
};
use oauth_lifecycle_redis::{redis, RedisStore, Server};
use oauth_lifecycle_testkit::{convirza_v3, eventually, RedisServer, PATIENCE};

/// The fleet's key.
const KEY: u8 = 3;

/// A store of the account `managers` at `url`, sealed with `[key; 32]`, reading the
/// store every `poll` seconds.
fn store_with(url: &str, holder: &str, key: u8, poll: i64) -> RedisStore {
    RedisStore::builder(Server::node(url).unwrap(), "managers")
        .encrypted(StoreKey::from_bytes([key; 32]))
        .holder(holder)
        .lease(Span::seconds(4))
        .poll(Span::seconds(poll))
        .build()
        .unwrap()
}

/// The fleet's store, with a poll long enough that only announcements count.
fn store(redis: &RedisServer, holder: &str) -> RedisStore {
    store_with(&redis.url(), holder, KEY, 30)
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
    let dialect = || convirza_v3(&front);
    let blocking = oauth_lifecycle_blocking::TokenManager::builder(dialect(), policy())
        .store(Arc::new(store(&redis, "blocking")))
        .start()
        .unwrap();
    let first = tokio::task::block_in_place(|| blocking.token(PATIENCE)).unwrap();
    let tokio_manager = oauth_lifecycle_tokio::TokenManager::builder(dialect(), policy())
        .store(Arc::new(store(&redis, "tokio")))
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

fn v3_front() -> HttpFront<ConvirzaV3Server> {
    let mut config = ConvirzaV3ServerConfig::default();
    config.access_token_lifetime = Span::seconds(6);
    HttpFront::start(ConvirzaV3Server::new(config), Clock::System).unwrap()
}

fn blocking_manager(
    front: &HttpFront<ConvirzaV3Server>,
    store: RedisStore,
) -> Result<oauth_lifecycle_blocking::TokenManager, oauth_lifecycle_blocking::StartError> {
    oauth_lifecycle_blocking::TokenManager::builder(convirza_v3(front), policy())
        .store(Arc::new(store))
        .start()
}

/// A process that starts while Redis is down works alone (its own login), and joins
/// the fleet when Redis answers: it stores its session, and the next process adopts it.
#[test]
fn a_process_started_while_redis_is_down_works_alone_then_joins() {
    let mut redis = RedisServer::start();
    // Week-long tokens: the one login is all this test needs.
    let front = HttpFront::start(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let url = redis.url();
    let polling = |holder: &str| store_with(&url, holder, KEY, 1);
    redis.stop();
    let first = blocking_manager(&front, polling("first")).unwrap();
    let token = first.token(PATIENCE).unwrap();
    redis.start_again();
    let reader = store(&redis, "reader");
    eventually("the session stored on rejoining", || {
        matches!(reader.load(), Ok(Some(_)))
    });
    let second = blocking_manager(&front, polling("second")).unwrap();
    assert_eq!(second.token(PATIENCE).unwrap().secret(), token.secret());
    assert_eq!(front.stats().auth_requests, 1, "one login, shared");
    second.shutdown();
    first.shutdown();
}

/// A process configured with another key cannot read the fleet's session. At start it
/// refuses (a misconfiguration, found at once); running, it works alone and never
/// overwrites what the others share.
#[test]
fn a_process_with_another_key_never_overwrites_the_fleets_session() {
    let redis = RedisServer::start();
    let front = v3_front();
    let reader = store(&redis, "reader");
    let stray_store = || store_with(&redis.url(), "stray", KEY + 1, 1);
    // Running: the stray process starts on an empty store and stores its session;
    // the fleet's session then replaces it (as after an operator's clean-up).
    let stray = blocking_manager(&front, stray_store()).unwrap();
    let own = stray.token(PATIENCE).unwrap();
    eventually("the stray session stored", || {
        matches!(stray_store().load(), Ok(Some(_)))
    });
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let _: () = redis::cmd("DEL")
        .arg("oauth-lifecycle:{managers}:session")
        .query(&mut connection)
        .unwrap();
    let fleet = blocking_manager(&front, store(&redis, "fleet")).unwrap();
    let shared = fleet.token(PATIENCE).unwrap();
    assert_ne!(own.secret(), shared.secret(), "a login of its own");
    // Through its own renewals and the fleet's, the stray process keeps a token and the
    // store keeps the fleet's session.
    let renewed = stray.token_newer_than(own.generation(), PATIENCE).unwrap();
    let fleet_renewed = fleet
        .token_newer_than(shared.generation(), PATIENCE)
        .unwrap();
    assert_ne!(renewed.secret(), fleet_renewed.secret());
    // The fleet stores its renewal right after publishing it; the stray process, which
    // cannot read the fleet's session, never overwrites it.
    let stored = eventually("the fleet's renewal stored", || {
        reader
            .load()
            .unwrap()
            .filter(|stored| stored.generation >= fleet_renewed.generation())
    });
    let later = reader.load().unwrap().expect("the fleet's session");
    assert!(later.revision >= stored.revision);
    assert!(later.generation >= fleet_renewed.generation());
    let reuses = front.with_emulator(|emulator| emulator.stats().refresh_token_reuses);
    assert_eq!(reuses, 0);
    // Starting: refused, with the typed reason.
    match blocking_manager(&front, stray_store()) {
        Err(oauth_lifecycle_blocking::StartError::Session(
            oauth_lifecycle_adapter::StartError::Store(StoreError::Unreadable { .. }),
        )) => {}
        other => panic!("{:?}", other.map(|_| "started")),
    }
    stray.shutdown();
    fleet.shutdown();
}
