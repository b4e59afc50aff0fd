//! Where a manager keeps its session between runs: the store trait it calls at the core's
//! persistence points and reads at start, and a store in memory.

use std::fmt;
use std::path::PathBuf;
use std::sync::Mutex;

use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{AnySession, ConfigError, Dialect, Generation, Policy, Snapshot};
use zeroize::Zeroizing;

/// A session as a store holds it: a snapshot made with its secrets (JSON), the
/// generation of its token, and the store's revision counter.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// Incremented by every successful save; what a save compares against.
    pub revision: u64,
    /// The generation of the last token the session obtained.
    pub generation: Generation,
    /// The snapshot, as JSON. It holds secrets: it is wiped from memory when dropped.
    pub snapshot: Zeroizing<Vec<u8>>,
}

/// How a snapshot becomes a session: [`AnySession::restore`] or
/// [`AnySession::restore_answered_elsewhere`].
type Restore<D> =
    fn(D, Policy, Snapshot<<D as Dialect>::Extra>) -> Result<AnySession<D>, ConfigError>;

impl StoredSession {
    /// The session it holds, under `dialect` and `policy`: what a manager resumes from,
    /// and what a tool reads to show a stored session. A request it had in flight is
    /// lost with the process that sent it: the core treats it so.
    pub fn restore<D: Dialect>(
        &self,
        dialect: D,
        policy: Policy,
    ) -> Result<AnySession<D>, StoreError> {
        self.restore_with(AnySession::restore, dialect, policy)
    }

    /// Like [`restore`](Self::restore), for a session another process is running right
    /// now: a request it has in flight is being answered to that process, which stores
    /// the result, so it stays awaited until its deadline instead of being lost.
    pub fn restore_answered_elsewhere<D: Dialect>(
        &self,
        dialect: D,
        policy: Policy,
    ) -> Result<AnySession<D>, StoreError> {
        self.restore_with(AnySession::restore_answered_elsewhere, dialect, policy)
    }

    fn restore_with<D: Dialect>(
        &self,
        restore: Restore<D>,
        dialect: D,
        policy: Policy,
    ) -> Result<AnySession<D>, StoreError> {
        let snapshot =
            serde_json::from_slice(&self.snapshot).map_err(|_| StoreError::Unreadable {
                reason: "not a session snapshot of this dialect",
            })?;
        restore(dialect, policy, snapshot).map_err(|_| StoreError::Unreadable {
            reason: "a snapshot that cannot be restored",
        })
    }
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("revision", &self.revision)
            .field("generation", &self.generation)
            .field(
                "snapshot",
                &format_args!("[{} bytes redacted]", self.snapshot.len()),
            )
            .finish()
    }
}

/// What a save did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Stored, as this revision.
    Stored {
        /// The revision the store now holds.
        revision: u64,
    },
    /// Refused: the store holds another revision than the one the saver last saw (another
    /// process saved since). Here it is, for the saver to adopt.
    Newer(StoredSession),
}

/// Why a store could not load or save, or a key could not be read. Never carries a
/// secret.
///
/// Each message carries its cause (the storage's own reason) and none is repeated as a
/// [`source`](std::error::Error::source): logs and tools that print an error alone show
/// the whole of it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The storage itself failed (a connection, a file).
    #[error("the session store is unavailable: {0}")]
    Unavailable(std::io::Error),
    /// What the store holds cannot be read: damaged, another format, or encrypted with
    /// another key.
    #[error("the stored session is unreadable: {reason}")]
    Unreadable {
        /// Why, without the content.
        reason: &'static str,
    },
    /// The directory a [`FileStore`](crate::FileStore) keeps its session in cannot be
    /// used: it does not exist, or a part of its path is not a directory.
    #[error("cannot open the session store directory {}: {error}", .path.display())]
    Directory {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// A file of a [`FileStore`](crate::FileStore) (the session, or its lock) could not
    /// be opened, locked, read or written.
    #[error("cannot {operation} {}: {error}", .path.display())]
    File {
        /// What was attempted, naming the file's role: "read the session file".
        operation: &'static str,
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The key configured to encrypt the session is no key: not standard base64, or not
    /// 32 bytes ([`StoreKey::from_base64`](crate::StoreKey::from_base64)). Nothing was
    /// read: the stored session may well be fine.
    #[error(
        "the {setting} setting is {reason}; a session key is 32 random bytes in standard base64"
    )]
    InvalidKey {
        /// The setting's name: "session key", or the name given to
        /// [`StoreKey::from_setting`](crate::StoreKey::from_setting).
        setting: String,
        /// What is wrong with its value, which is never shown.
        reason: &'static str,
    },
}

/// How processes sharing a store renew one at a time: who this process is, how long its
/// renewal lease lasts, and how often it looks for a session another process stored when
/// no notification says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSettings {
    /// This process's name in the lease: unique in the fleet.
    pub holder: String,
    /// How long a lease lasts: longer than a token request may take (the policy's
    /// response timeout), so a live holder never loses it mid-request, and as short as
    /// that allows, since a holder that dies is replaced only when it ends.
    pub lease: Duration,
    /// How often a process that holds no lease reads the store, in case a notification
    /// was missed.
    pub poll: Duration,
}

/// The renewal lease, as the store answered a request for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// This process holds it (taken now, or extended) until then.
    Taken {
        /// When it ends.
        until: UtcDateTime,
    },
    /// Another process holds it until then.
    Held {
        /// When it ends at the latest.
        until: UtcDateTime,
    },
}

/// Persistence for one session, shared by the processes that use it.
///
/// A manager loads at start and saves at every persistence point of the core: before a
/// request that spends a single-use refresh token, and after every change of the token.
/// A save is a compare-and-swap: it succeeds only if the store still holds the revision
/// the manager last loaded or saved, so two processes sharing a store never both act on
/// the same refresh token. On refusal the store returns what it holds, and the manager
/// adopts it when it is at least as new as its own.
pub trait SessionStore: Send + Sync {
    /// What the store holds, if anything.
    fn load(&self) -> Result<Option<StoredSession>, StoreError>;

    /// Stores `snapshot` (of a session whose last token is `generation`) as the revision
    /// after `expected`, if the store still holds `expected` (`None`: if it is empty).
    fn save(
        &self,
        expected: Option<u64>,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Saved, StoreError>;

    /// For a store shared by a fleet of processes that renew one at a time: this
    /// process's settings. `None` (the default): processes sharing the store still never
    /// spend one refresh token twice (the compare-and-swap), but each renews when its
    /// session says so.
    fn fleet(&self) -> Option<&FleetSettings> {
        None
    }

    /// Takes the renewal lease for this process, or extends it if this process holds it
    /// already, for [`FleetSettings::lease`] from `now`. Only called when
    /// [`fleet`](Self::fleet) is `Some`.
    fn take_lease(&self, now: UtcDateTime) -> Result<Lease, StoreError> {
        let _ = now;
        Ok(Lease::Taken {
            until: UtcDateTime::MAX,
        })
    }

    /// Gives the lease up, if this process holds it.
    fn release_lease(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The newest revision another process announced storing (a notification), if the
    /// store has notifications: read without a round trip, on every drain.
    fn announced(&self) -> Option<u64> {
        None
    }

    /// Asks the store to call `wake` whenever another process announces a new revision,
    /// so the manager drains at once instead of at its next poll.
    fn on_announcement(&self, wake: std::sync::Arc<dyn Fn() + Send + Sync>) {
        let _ = wake;
    }
}

/// A shared store is a store: pass an `Arc` to several managers of one process. Every
/// method forwards, the defaulted ones included.
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<S> {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        (**self).load()
    }

    fn save(
        &self,
        expected: Option<u64>,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Saved, StoreError> {
        (**self).save(expected, generation, snapshot)
    }

    fn fleet(&self) -> Option<&FleetSettings> {
        (**self).fleet()
    }

    fn take_lease(&self, now: UtcDateTime) -> Result<Lease, StoreError> {
        (**self).take_lease(now)
    }

    fn release_lease(&self) -> Result<(), StoreError> {
        (**self).release_lease()
    }

    fn announced(&self) -> Option<u64> {
        (**self).announced()
    }

    fn on_announcement(&self, wake: std::sync::Arc<dyn Fn() + Send + Sync>) {
        (**self).on_announcement(wake)
    }
}

/// A store in memory: for managers in one process that share a session, and for tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    held: Mutex<Option<StoredSession>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl SessionStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        Ok(self.held.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }

    fn save(
        &self,
        expected: Option<u64>,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Saved, StoreError> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        compare_and_store(&mut held, expected, generation, snapshot)
    }
}

/// The compare-and-swap every store performs under its own lock: `held` is what the store
/// holds now, replaced by the new revision if it is still `expected`.
pub fn compare_and_store(
    held: &mut Option<StoredSession>,
    expected: Option<u64>,
    generation: Generation,
    snapshot: &[u8],
) -> Result<Saved, StoreError> {
    if let Some(stored) = held
        .as_ref()
        .filter(|stored| Some(stored.revision) != expected)
    {
        return Ok(Saved::Newer(stored.clone()));
    }
    // A store emptied behind the saver's back continues the saver's count.
    let revision = held
        .as_ref()
        .map(|stored| stored.revision)
        .or(expected)
        .map_or(1, |revision| revision.saturating_add(1));
    *held = Some(StoredSession {
        revision,
        generation,
        snapshot: Zeroizing::new(snapshot.to_vec()),
    });
    Ok(Saved::Stored { revision })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generation(n: u64) -> Generation {
        Generation::new(n)
    }

    /// A store whose every method answers something other than the trait's default.
    struct Distinct {
        settings: FleetSettings,
        woken: std::sync::atomic::AtomicBool,
    }

    impl SessionStore for Distinct {
        fn load(&self) -> Result<Option<StoredSession>, StoreError> {
            Err(StoreError::Unreadable { reason: "load" })
        }
        fn save(&self, _: Option<u64>, _: Generation, _: &[u8]) -> Result<Saved, StoreError> {
            Ok(Saved::Stored { revision: 41 })
        }
        fn fleet(&self) -> Option<&FleetSettings> {
            Some(&self.settings)
        }
        fn take_lease(&self, now: UtcDateTime) -> Result<Lease, StoreError> {
            Ok(Lease::Held { until: now })
        }
        fn release_lease(&self) -> Result<(), StoreError> {
            Err(StoreError::Unreadable { reason: "release" })
        }
        fn announced(&self) -> Option<u64> {
            Some(7)
        }
        fn on_announcement(&self, _: std::sync::Arc<dyn Fn() + Send + Sync>) {
            self.woken.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// An `Arc` of a store forwards every method, the defaulted ones included: one it
    /// forgot would silently answer the default (no fleet, no lease) for every manager.
    #[test]
    fn an_arc_of_a_store_forwards_every_method() {
        let now = UtcDateTime::UNIX_EPOCH;
        let store = std::sync::Arc::new(Distinct {
            settings: FleetSettings {
                holder: "me".into(),
                lease: Duration::seconds(4),
                poll: Duration::seconds(2),
            },
            woken: false.into(),
        });
        let shared: &dyn SessionStore = &store;
        assert!(matches!(
            shared.load(),
            Err(StoreError::Unreadable { reason: "load" })
        ));
        assert_eq!(
            shared.save(None, generation(1), b"").unwrap(),
            Saved::Stored { revision: 41 }
        );
        assert_eq!(shared.fleet().map(|s| s.holder.as_str()), Some("me"));
        assert_eq!(shared.take_lease(now).unwrap(), Lease::Held { until: now });
        assert!(shared.release_lease().is_err());
        assert_eq!(shared.announced(), Some(7));
        shared.on_announcement(std::sync::Arc::new(|| {}));
        assert!(store.woken.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[test]
    fn a_save_over_an_unseen_revision_is_refused_with_what_the_store_holds() {
        let store = MemoryStore::new();
        assert_eq!(
            store.save(None, generation(1), b"one").unwrap(),
            Saved::Stored { revision: 1 }
        );
        assert_eq!(
            store
                .save(Some(1), generation(1), b"one, refreshing")
                .unwrap(),
            Saved::Stored { revision: 2 }
        );
        // Another process still at revision 1.
        let Saved::Newer(held) = store.save(Some(1), generation(1), b"other").unwrap() else {
            panic!("a stale save was accepted");
        };
        assert_eq!(held.revision, 2);
        assert_eq!(&held.snapshot[..], b"one, refreshing");
        assert_eq!(store.load().unwrap().unwrap().revision, 2);
        assert!(!format!("{held:?}").contains("refreshing"));
    }
}
