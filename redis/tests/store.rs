//! The Redis store's operations against a real `redis-server` on 127.0.0.1:
//! compare-and-store, encryption at rest, the lease, announcements, and a Redis that
//! goes away and comes back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_lifecycle::time::{Duration as Span, UtcDateTime};
use oauth_lifecycle::Generation;
use oauth_lifecycle_adapter::{Lease, Saved, SessionStore, StoreError, StoreKey};
use oauth_lifecycle_redis::{redis, RedisStore, Server};
use oauth_lifecycle_testkit::{eventually, RedisServer};

const KEY: [u8; 32] = [7; 32];

fn store(redis: &RedisServer, holder: &str) -> RedisStore {
    RedisStore::builder(Server::node(&redis.url()).unwrap(), "test:account")
        .encrypted(StoreKey::from_bytes(KEY))
        .holder(holder)
        .lease(Span::seconds(3))
        .build()
        .unwrap()
}

fn raw(redis: &RedisServer, command: &str, key: &str) -> redis::Value {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    redis::cmd(command).arg(key).query(&mut connection).unwrap()
}

#[test]
fn compare_and_store_as_every_store_does_it() {
    let redis = RedisServer::start();
    let (a, b) = (store(&redis, "a"), store(&redis, "b"));
    assert_eq!(a.load().unwrap(), None);
    assert_eq!(
        a.save(None, Generation::new(1), b"one").unwrap(),
        Saved::Stored { revision: 1 }
    );
    assert_eq!(
        b.save(Some(1), Generation::new(2), b"two").unwrap(),
        Saved::Stored { revision: 2 }
    );
    // A saver behind the store gets what it holds, decrypted.
    match a.save(Some(1), Generation::new(2), b"late").unwrap() {
        Saved::Newer(stored) => {
            assert_eq!((stored.revision, stored.generation.get()), (2, 2));
            assert_eq!(stored.snapshot.as_slice(), b"two");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        a.save(None, Generation::new(3), b"fresh").unwrap(),
        Saved::Newer(a.load().unwrap().unwrap())
    );
    let loaded = b.load().unwrap().unwrap();
    assert_eq!(
        (
            loaded.revision,
            loaded.generation.get(),
            loaded.snapshot.as_slice()
        ),
        (2, 2, &b"two"[..])
    );
}

#[test]
fn the_snapshot_is_encrypted_at_rest_and_bound_to_its_revision() {
    let redis = RedisServer::start();
    let a = store(&redis, "a");
    let secret = b"{\"refresh_token\":\"rt-very-secret-value\"}";
    a.save(None, Generation::new(1), secret).unwrap();
    let fields = raw(&redis, "HGETALL", "oauth-lifecycle:{test:account}:session");
    let shown = format!("{fields:?}");
    assert!(!shown.contains("rt-very-secret-value"), "{shown}");
    // Another key cannot read it, and says so.
    let other = RedisStore::builder(Server::node(&redis.url()).unwrap(), "test:account")
        .encrypted(StoreKey::from_bytes([8; 32]))
        .build()
        .unwrap();
    assert!(matches!(other.load(), Err(StoreError::Unreadable { .. })));
    // Ciphertext moved to another revision is refused: the revision is authenticated.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let _: () = redis::cmd("HSET")
        .arg("oauth-lifecycle:{test:account}:session")
        .arg("revision")
        .arg(7)
        .query(&mut connection)
        .unwrap();
    assert!(matches!(a.load(), Err(StoreError::Unreadable { .. })));
    // Neither store shows the key or the URL in Debug.
    assert!(!format!("{a:?}").contains("127.0.0.1"));
}

#[test]
fn the_lease_is_one_holder_at_a_time_extends_and_ends() {
    let redis = RedisServer::start();
    let (a, b) = (store(&redis, "a"), store(&redis, "b"));
    let now = UtcDateTime::now();
    assert!(
        matches!(a.take_lease(now).unwrap(), Lease::Taken { until } if until == now + Span::seconds(3))
    );
    match b.take_lease(now).unwrap() {
        Lease::Held { until } => assert!(until > now && until <= now + Span::seconds(3)),
        other => panic!("{other:?}"),
    }
    // The holder extends it; another's release changes nothing; the holder's ends it.
    assert!(matches!(a.take_lease(now).unwrap(), Lease::Taken { .. }));
    b.release_lease().unwrap();
    assert!(matches!(b.take_lease(now).unwrap(), Lease::Held { .. }));
    a.release_lease().unwrap();
    assert!(matches!(b.take_lease(now).unwrap(), Lease::Taken { .. }));
    // A holder that dies is replaced when its lease ends.
    eventually("the lease to expire", || {
        matches!(
            a.take_lease(UtcDateTime::now()).unwrap(),
            Lease::Taken { .. }
        )
    });
}

#[test]
fn stores_are_announced_to_the_others() {
    let redis = RedisServer::start();
    let (a, b) = (store(&redis, "a"), store(&redis, "b"));
    let woken = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&woken);
    b.on_announcement(Arc::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    // The subscription is made in the background: store until one store is heard…
    let mut revision = None;
    eventually("an announcement", || {
        // Nothing heard yet reads as revision 0.
        if b.announced().is_some_and(|heard| heard > 0) {
            return true;
        }
        if let Saved::Stored { revision: stored } =
            a.save(revision, Generation::new(1), b"x").unwrap()
        {
            revision = Some(stored);
        }
        false
    });
    // …then the last one is heard too, and the callback was called.
    eventually("the last store announced", || {
        b.announced() == revision && woken.load(Ordering::SeqCst) > 0
    });
}

#[test]
fn an_unreachable_redis_is_a_store_failure_and_recovery_is_automatic() {
    let mut redis = RedisServer::start();
    let a = store(&redis, "a");
    a.save(None, Generation::new(1), b"one").unwrap();
    redis.stop();
    let started = Instant::now();
    assert!(matches!(a.load(), Err(StoreError::Unavailable(_))));
    assert!(matches!(
        a.take_lease(UtcDateTime::now()),
        Err(StoreError::Unavailable(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failures come within the timeouts"
    );
    redis.start_again();
    // Empty (no persistence), and reachable again through the same store.
    assert_eq!(a.load().unwrap(), None);
    assert_eq!(
        a.save(Some(1), Generation::new(2), b"two").unwrap(),
        Saved::Stored { revision: 2 }
    );
}
