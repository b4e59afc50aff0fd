//! Every public error of the Redis store reads as a sentence, and its chain (as anyhow's
//! `{:#}` prints it) never repeats itself.

use std::time::Duration;

use oauth_lifecycle::time::Duration as Span;
use oauth_lifecycle_adapter::{SessionStore, StoreError, StoreKey};
use oauth_lifecycle_redis::{BuildError, RedisStore, Server};
use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};

/// A Redis nothing listens on; the store connects lazily, so it builds.
fn nowhere() -> Server {
    Server::node("redis://127.0.0.1:9").unwrap()
}

#[test]
fn every_build_error_reads_as_a_sentence() {
    let errors = [
        RedisStore::builder(nowhere(), "").plaintext().build(),
        RedisStore::builder(nowhere(), "billing").build(),
        RedisStore::builder(nowhere(), "billing")
            .encrypted(StoreKey::generate())
            .lease(Span::seconds(1))
            .build(),
    ];
    let mut seen = Vec::new();
    for built in errors {
        let Err(error) = built else {
            panic!("a store was built from refused settings");
        };
        assert_reads_as_sentence(&error);
        seen.push(error);
    }
    assert!(matches!(
        seen.as_slice(),
        [BuildError::Account, BuildError::NoKey, BuildError::Timing]
    ));
}

#[test]
fn an_unreachable_redis_says_why_once() {
    let store = RedisStore::builder(nowhere(), "billing")
        .plaintext()
        .timeouts(Duration::from_millis(300), Duration::from_millis(300))
        .build()
        .unwrap();
    let error = store.load().unwrap_err();
    assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
    let shown = alternate(&error);
    assert!(
        shown.starts_with("the session store is unavailable: redis: "),
        "{shown}"
    );
    assert_eq!(shown.matches("redis: ").count(), 1, "{shown}");
    assert_reads_as_sentence(&error);
}
