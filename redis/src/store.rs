//! The session store on Redis: one hash per account, a renewal lease, and announcements
//! of new revisions, for the fleet protocol of `oauth-lifecycle-adapter`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::Generation;
use oauth_lifecycle_adapter::{
    FleetSettings, Lease, Saved, SessionStore, StoreError, StoreKey, StoredSession,
};
use redis::Value;
use zeroize::Zeroizing;

use crate::announcements::{self, Announcements};
use crate::keys::Keys;
use crate::scripts;
use crate::server::{Link, Server};
use crate::timeouts::Timeouts;

/// A session shared through Redis by a fleet of processes: encrypted at rest, stored by
/// compare-and-swap, renewed under a lease by one process at a time, with every new
/// revision announced on the account's channel.
///
/// Give each process its own store (its own holder name); give both managers the same
/// way: `TokenManager::builder(dialect, policy).store(Arc::new(store))`.
pub struct RedisStore {
    link: Arc<Link>,
    keys: Keys,
    key: Option<StoreKey>,
    settings: FleetSettings,
    announcements: Arc<Announcements>,
    scripts: Scripts,
}

struct Scripts {
    compare_and_store: redis::Script,
    take_lease: redis::Script,
    release_lease: redis::Script,
}

/// Why a store could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The account name cannot name keys.
    #[error("the account name must hold 1 to 200 printable characters, no braces")]
    Account,
    /// Neither a key nor plaintext storage was chosen.
    #[error("choose encrypted storage (a StoreKey) or, deliberately, plaintext storage")]
    NoKey,
    /// A lease no longer than a request may take, or no poll interval.
    #[error("the lease must last longer than a token request may take, and the poll be at least a second")]
    Timing,
}

/// A [`RedisStore`] being configured.
pub struct RedisStoreBuilder {
    server: Server,
    account: String,
    prefix: String,
    key: Option<StoreKey>,
    plaintext: bool,
    holder: Option<String>,
    lease: Duration,
    poll: Duration,
    timeouts: Timeouts,
}

impl RedisStore {
    /// A store for `account` (a name for the session the fleet shares: the provider and
    /// the user, say) on `server`.
    pub fn builder(server: Server, account: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            server,
            account: account.into(),
            prefix: "oauth-lifecycle".into(),
            key: None,
            plaintext: false,
            holder: None,
            lease: Duration::seconds(45),
            poll: Duration::seconds(30),
            timeouts: Timeouts {
                connect: StdDuration::from_secs(1),
                command: StdDuration::from_secs(2),
            },
        }
    }

    /// This process's name in the lease.
    pub fn holder(&self) -> &str {
        &self.settings.holder
    }

    fn bound(revision: u64, generation: Generation) -> String {
        format!("oauth-lifecycle-redis:{revision}:{}", generation.get())
    }

    fn seal(
        &self,
        revision: u64,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        match &self.key {
            Some(key) => key.seal(snapshot, Self::bound(revision, generation).as_bytes()),
            None => Ok(snapshot.to_vec()),
        }
    }

    fn open(
        &self,
        revision: u64,
        generation: Generation,
        stored: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        match &self.key {
            Some(key) => key.open(stored, Self::bound(revision, generation).as_bytes()),
            None => Ok(Zeroizing::new(stored.to_vec())),
        }
    }

    /// A stored session from the hash's fields.
    fn decode(
        &self,
        revision: &Value,
        generation: &Value,
        snapshot: &Value,
    ) -> Result<Option<StoredSession>, StoreError> {
        let unreadable = |reason| StoreError::Unreadable { reason };
        if matches!(revision, Value::Nil) {
            return Ok(None);
        }
        let revision: u64 = redis::from_redis_value_ref(revision)
            .map_err(|_| unreadable("a revision that is not a number"))?;
        let generation: u64 = redis::from_redis_value_ref(generation)
            .map_err(|_| unreadable("a generation that is not a number"))?;
        let snapshot: Vec<u8> = redis::from_redis_value_ref(snapshot)
            .map_err(|_| unreadable("a snapshot that is not bytes"))?;
        let snapshot = Zeroizing::new(snapshot);
        let generation = Generation::new(generation);
        Ok(Some(StoredSession {
            revision,
            generation,
            snapshot: self.open(revision, generation, &snapshot)?,
        }))
    }
}

impl RedisStoreBuilder {
    /// Encrypts the session at rest with `key` (XChaCha20-Poly1305, the file store's
    /// scheme; the revision and generation are authenticated with it).
    pub fn encrypted(mut self, key: StoreKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Stores the session in clear: a deliberate choice, readable by whoever can read
    /// the Redis keys.
    pub fn plaintext(mut self) -> Self {
        self.plaintext = true;
        self
    }

    /// This process's name in the lease; unique in the fleet. Default: the host's name
    /// (from `HOSTNAME`), the process id and a random part.
    pub fn holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = Some(holder.into());
        self
    }

    /// How long a lease lasts. Default 45 seconds: longer than the core's default
    /// response timeout (30 s), which it must exceed.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often a process holding no lease reads the store in case an announcement
    /// was missed. Default 30 seconds.
    pub fn poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The prefix of every key. Default `oauth-lifecycle`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long connecting, and each command, may take. Defaults 1 and 2 seconds.
    pub fn timeouts(mut self, connect: StdDuration, command: StdDuration) -> Self {
        self.timeouts = Timeouts { connect, command };
        self
    }

    /// Builds the store and starts listening for announcements (except on a cluster).
    /// Connects lazily: an unreachable Redis is a store failure at the first use, which
    /// the managers ride out.
    pub fn build(self) -> Result<RedisStore, BuildError> {
        let keys = Keys::new(&self.prefix, &self.account).ok_or(BuildError::Account)?;
        if self.key.is_none() && !self.plaintext {
            return Err(BuildError::NoKey);
        }
        if self.lease <= Duration::seconds(1) || self.poll < Duration::SECOND {
            return Err(BuildError::Timing);
        }
        let holder = self.holder.unwrap_or_else(default_holder);
        let link = Arc::new(Link::new(self.server, self.timeouts));
        let announcements = Arc::new(Announcements::default());
        announcements::listen(
            Arc::downgrade(&link),
            Arc::downgrade(&announcements),
            keys.channel.clone(),
        );
        Ok(RedisStore {
            link,
            keys,
            key: self.key,
            settings: FleetSettings {
                holder,
                lease: self.lease,
                poll: self.poll,
            },
            announcements,
            scripts: Scripts {
                compare_and_store: scripts::compare_and_store(),
                take_lease: scripts::take_lease(),
                release_lease: scripts::release_lease(),
            },
        })
    }
}

fn default_holder() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}

impl SessionStore for RedisStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        let fields: Vec<Value> = self.link.run(|connection| {
            redis::cmd("HMGET")
                .arg(&self.keys.session)
                .arg(&["revision", "generation", "snapshot"])
                .query(connection)
        })?;
        match fields.as_slice() {
            [revision, generation, snapshot] => self.decode(revision, generation, snapshot),
            _ => Err(StoreError::Unreadable {
                reason: "an answer of another shape",
            }),
        }
    }

    fn save(
        &self,
        expected: Option<u64>,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Saved, StoreError> {
        let revision = expected.map_or(1, |revision| revision.saturating_add(1));
        let sealed = Zeroizing::new(self.seal(revision, generation, snapshot)?);
        let expected = expected.map(|r| r.to_string()).unwrap_or_default();
        let answer: Vec<Value> = self.link.run(|connection| {
            self.scripts
                .compare_and_store
                .key(&self.keys.session)
                .arg(&expected)
                .arg(generation.get())
                .arg(sealed.as_slice())
                .arg(&self.keys.channel)
                .invoke(connection)
        })?;
        let unreadable = StoreError::Unreadable {
            reason: "an answer of another shape",
        };
        match answer.as_slice() {
            [Value::Int(1), stored] => {
                let revision: u64 = redis::from_redis_value_ref(stored).map_err(|_| unreadable)?;
                Ok(Saved::Stored { revision })
            }
            [Value::Int(0), revision, generation, snapshot] => self
                .decode(revision, generation, snapshot)?
                .map(Saved::Newer)
                .ok_or(unreadable),
            _ => Err(unreadable),
        }
    }

    fn fleet(&self) -> Option<&FleetSettings> {
        Some(&self.settings)
    }

    fn take_lease(&self, now: UtcDateTime) -> Result<Lease, StoreError> {
        let ttl = self
            .settings
            .lease
            .whole_milliseconds()
            .clamp(1, i128::from(i64::MAX)) as i64;
        let (taken, left): (i64, i64) = self.link.run(|connection| {
            self.scripts
                .take_lease
                .key(&self.keys.lease)
                .arg(&self.settings.holder)
                .arg(ttl)
                .invoke(connection)
        })?;
        // The server's count of milliseconds, bounded by the lease as configured.
        let left = Duration::milliseconds(left.clamp(0, ttl));
        let until = now.saturating_add(left);
        Ok(if taken == 1 {
            Lease::Taken { until }
        } else {
            Lease::Held { until }
        })
    }

    fn release_lease(&self) -> Result<(), StoreError> {
        let _: i64 = self.link.run(|connection| {
            self.scripts
                .release_lease
                .key(&self.keys.lease)
                .arg(&self.settings.holder)
                .invoke(connection)
        })?;
        Ok(())
    }

    fn announced(&self) -> Option<u64> {
        (!self.link.server().is_cluster()).then(|| self.announcements.newest())
    }

    fn on_announcement(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        self.announcements.add_waker(wake);
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", self.link.server())
            .field("session", &self.keys.session)
            .field("encrypted", &self.key.is_some())
            .field("settings", &self.settings)
            .finish()
    }
}
