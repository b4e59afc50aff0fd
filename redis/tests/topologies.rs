//! The Redis store on the other topologies it supports, each real and on 127.0.0.1: a
//! Cluster of three masters (the account's keys in one slot, the script and commands
//! routed to its node, followers adopting by polling) and a Sentinel-managed master (with
//! a password) that fails over to its replica.

use std::net::TcpListener;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use oauth_lifecycle::time::{Duration as Span, UtcDateTime};
use oauth_lifecycle::{Generation, Policy};
use oauth_lifecycle_adapter::{Lease, Saved, SessionStore, StoreError, StoreKey};
use oauth_lifecycle_blocking::TokenManager;
use oauth_lifecycle_emulator::{Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, HttpFront};
use oauth_lifecycle_redis::redis::RedisConnectionInfo;
use oauth_lifecycle_redis::{RedisStore, Server};
use oauth_lifecycle_testkit::{
    convirza_v3, eventually, RedisCluster, RedisSentinels, PATIENCE, SENTINEL_MASTER_PASSWORD,
    SENTINEL_SERVICE,
};

const ACCOUNT: &str = "topology";

fn cluster_store(cluster: &RedisCluster, holder: &str) -> RedisStore {
    let urls = cluster.urls();
    let nodes: Vec<&str> = urls.iter().map(String::as_str).collect();
    RedisStore::builder(Server::cluster(&nodes).unwrap(), ACCOUNT)
        .encrypted(StoreKey::from_bytes([5; 32]))
        .holder(holder)
        .lease(Span::seconds(30))
        .poll(Span::seconds(1))
        .build()
        .unwrap()
}

fn sentinel_store(sentinels: &RedisSentinels, holder: &str) -> RedisStore {
    let url = sentinels.sentinel_url();
    let master = RedisConnectionInfo::default().set_password(SENTINEL_MASTER_PASSWORD);
    RedisStore::builder(
        Server::sentinel_with_master(&[url.as_str()], SENTINEL_SERVICE, master).unwrap(),
        ACCOUNT,
    )
    .encrypted(StoreKey::from_bytes([6; 32]))
    .holder(holder)
    .lease(Span::seconds(60))
    .build()
    .unwrap()
}

#[test]
fn a_cluster_keeps_the_account_in_one_slot_and_runs_every_operation() {
    let cluster = RedisCluster::start();
    let names =
        ["session", "lease", "changed"].map(|name| format!("oauth-lifecycle:{{{ACCOUNT}}}:{name}"));
    let slots = names.clone().map(|name| cluster.slot(&name));
    assert!(
        slots.iter().all(|slot| *slot == slots[0]),
        "{names:?} in slots {slots:?}"
    );
    let (a, b) = (cluster_store(&cluster, "a"), cluster_store(&cluster, "b"));
    assert_eq!(a.load().unwrap(), None);
    assert_eq!(
        a.save(None, Generation::new(1), b"one").unwrap(),
        Saved::Stored { revision: 1 }
    );
    match b.save(None, Generation::new(1), b"late").unwrap() {
        Saved::Newer(stored) => assert_eq!(stored.snapshot.as_slice(), b"one"),
        other => panic!("{other:?}"),
    }
    let now = UtcDateTime::now();
    assert!(matches!(a.take_lease(now).unwrap(), Lease::Taken { .. }));
    assert!(matches!(b.take_lease(now).unwrap(), Lease::Held { .. }));
    a.release_lease().unwrap();
    assert!(matches!(b.take_lease(now).unwrap(), Lease::Taken { .. }));
    assert_eq!(
        b.save(Some(1), Generation::new(2), b"two").unwrap(),
        Saved::Stored { revision: 2 }
    );
    assert_eq!(a.load().unwrap().unwrap().snapshot.as_slice(), b"two");
}

#[test]
fn on_a_cluster_two_managers_share_one_session_and_the_follower_adopts_by_polling() {
    let cluster = RedisCluster::start();
    let mut config = ConvirzaV3ServerConfig::default();
    config.access_token_lifetime = Span::seconds(6);
    let front = HttpFront::start(ConvirzaV3Server::new(config), Clock::System).unwrap();
    let manager = |holder: &str| {
        let dialect = convirza_v3(&front);
        let mut policy = Policy::default();
        policy.response_timeout = Span::seconds(2);
        TokenManager::builder(dialect, policy)
            .store(Arc::new(cluster_store(&cluster, holder)))
            .start()
            .unwrap()
    };
    let first = manager("first");
    let token = first.token(PATIENCE).unwrap();
    let second = manager("second");
    assert_eq!(
        second.token(PATIENCE).unwrap().secret(),
        token.secret(),
        "the stored session, no second login"
    );
    // A cluster carries no announcements to these clients: the renewal reaches the
    // other manager through its one-second poll.
    let renewed = first
        .token_newer_than(token.generation(), PATIENCE)
        .unwrap();
    let seen = second
        .token_newer_than(token.generation(), PATIENCE)
        .unwrap();
    assert_eq!(renewed.secret(), seen.secret());
    assert_eq!(
        front.stats().auth_requests,
        2,
        "one login and one refresh for both managers"
    );
    first.shutdown();
    second.shutdown();
}

#[test]
fn a_sentinel_failover_is_followed_by_the_next_command_and_keeps_the_lease() {
    let mut sentinels = RedisSentinels::start();
    let (a, b) = (
        sentinel_store(&sentinels, "a"),
        sentinel_store(&sentinels, "b"),
    );
    assert_eq!(
        a.save(None, Generation::new(1), b"one").unwrap(),
        Saved::Stored { revision: 1 }
    );
    assert!(matches!(
        a.take_lease(UtcDateTime::now()).unwrap(),
        Lease::Taken { .. }
    ));
    sentinels.wait_replicated();
    let old = sentinels.master_port();
    let killed = Instant::now();
    let new = sentinels.fail_over();
    assert_ne!(old, new);
    // The connection to the old master is gone: a command fails as a store failure, and
    // a later one asks the Sentinel and reaches the new master.
    let loaded = eventually("the store to find the new master", || match a.load() {
        Ok(loaded) => Some(loaded),
        Err(StoreError::Unavailable(_)) => None,
        Err(other) => panic!("{other}"),
    });
    eprintln!(
        "FIGURE sentinel failover: the store read from the promoted replica {:.1} s after \
         the master was killed (down-after 1 s)",
        killed.elapsed().as_secs_f64()
    );
    let loaded = loaded.expect("the replicated session");
    assert_eq!(
        (loaded.revision, loaded.snapshot.as_slice()),
        (1, &b"one"[..])
    );
    assert!(
        matches!(
            b.take_lease(UtcDateTime::now()).unwrap(),
            Lease::Held { .. }
        ),
        "the replicated lease still holds"
    );
    assert_eq!(
        a.save(Some(1), Generation::new(2), b"two").unwrap(),
        Saved::Stored { revision: 2 }
    );
    assert_eq!(b.load().unwrap().unwrap().snapshot.as_slice(), b"two");
    // The other store's subscription followed the failover too: it hears a revision
    // stored after it (stores go on until one is heard, as the subscription is made
    // again in the background).
    let mut revision = 2;
    let mut last_store = Instant::now();
    eventually("an announcement after the failover", || {
        if b.announced().is_some_and(|heard| heard >= 2) {
            return true;
        }
        // One store every half second, not one a probe: each is a script run.
        if last_store.elapsed() >= Duration::from_millis(500) {
            last_store = Instant::now();
            if let Saved::Stored { revision: stored } = a
                .save(Some(revision), Generation::new(revision + 1), b"next")
                .unwrap()
            {
                revision = stored;
            }
        }
        false
    });
}

#[test]
fn a_server_that_accepts_and_never_answers_costs_a_timeout_not_a_stall() {
    // A listener that takes connections and never says a word: as a node, as a Sentinel
    // and as a cluster's only node, the store fails within its timeouts.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("redis://{}/", silent.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().take(64).flatten() {
            held.push(stream);
        }
    });
    let servers = [
        Server::node(&url).unwrap(),
        Server::sentinel(&[url.as_str()], SENTINEL_SERVICE).unwrap(),
        Server::cluster(&[url.as_str()]).unwrap(),
    ];
    for server in servers {
        let shown = format!("{server:?}");
        let store = RedisStore::builder(server, ACCOUNT)
            .plaintext()
            .timeouts(Duration::from_millis(300), Duration::from_millis(300))
            .build()
            .unwrap();
        let (done, answer) = mpsc::channel();
        let started = Instant::now();
        std::thread::spawn(move || {
            let _ = done.send(store.load().map(|_| ()));
        });
        let answer = answer
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{shown}: the store stalled"));
        assert!(
            matches!(answer, Err(StoreError::Unavailable(_))),
            "{shown}: {answer:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{shown}: {:?}",
            started.elapsed()
        );
    }
}
