//! The read side: the token a manager publishes for its callers, updated from the core's
//! events by the driving thread or task, read without a lock or a clock.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::{ArcSwap, ArcSwapOption};
use event_listener::{Event as Signal, EventListener, Listener};
use oauth_lifecycle::http::HeaderValue;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{BearerToken, Error, Event, Generation, Rfc3339, Status, WaitReason};

/// A token as published: the shared token, its generation, and the last moment it may be
/// handed out. Withdrawn by the driving side at that moment, so readers never compare
/// clocks.
#[derive(Clone)]
pub struct PublishedToken {
    token: BearerToken,
    generation: Generation,
    valid_until: UtcDateTime,
}

impl PublishedToken {
    /// The token itself.
    pub fn secret(&self) -> &str {
        self.token.secret()
    }

    /// `Bearer <token>`, marked sensitive, for the `Authorization` header.
    pub fn header_value(&self) -> &HeaderValue {
        self.token.header_value()
    }

    /// The shared token.
    pub fn bearer(&self) -> &BearerToken {
        &self.token
    }

    /// Which token this is: report a 401 with it.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The last moment it may be handed out.
    pub fn valid_until(&self) -> UtcDateTime {
        self.valid_until
    }
}

impl fmt::Debug for PublishedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublishedToken")
            .field("token", &self.token)
            .field("generation", &self.generation)
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// Why a caller waiting for a token got none.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitError {
    /// No token came within the caller's timeout; `status` says what the session was
    /// doing (renewing, or waiting until a moment after a failure or a 429).
    #[error("no token within the timeout; the session {}", StatusClause(.status))]
    Timeout {
        /// Where the session stood when the wait ended.
        status: Status,
    },
    /// The session cannot obtain a token by itself: new credentials, or an explicit
    /// login, are needed.
    #[error("the session needs a new login: {error}")]
    NeedsLogin {
        /// The core's reason.
        error: Error,
    },
    /// The token endpoint rejected the credentials or the client. The session tries
    /// again by itself at `retry_at`, slowly
    /// ([`Policy::rejected_login_retry`](oauth_lifecycle::Policy::rejected_login_retry)):
    /// a caller is told at once rather than kept waiting for it.
    #[error("the token endpoint rejected the credentials ({error}); the session tries again at {}", Rfc3339(*.retry_at))]
    Rejected {
        /// The rejection.
        error: Error,
        /// When the session tries again.
        retry_at: UtcDateTime,
    },
    /// The session is revoked: it will never hand out a token again.
    #[error("the session is revoked")]
    Revoked,
    /// The manager was shut down.
    #[error("the token manager is shut down")]
    Closed,
}

/// A status as the end of "the session …": "is renewing", "needs a login: …".
struct StatusClause<'a>(&'a Status);

impl fmt::Display for StatusClause<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Status::NeedsLogin { .. } => write!(f, "{}", self.0),
            status => write!(f, "is {status}"),
        }
    }
}

/// What a caller asking for a token gets right now.
#[derive(Debug)]
pub enum Readiness {
    /// A token (newer than asked for, if a generation was given).
    Ready(Arc<PublishedToken>),
    /// No token will come: why.
    Failed(WaitError),
    /// None yet; one may come.
    Pending,
}

/// The token a manager publishes, and the session's status, for any number of readers.
///
/// The driving thread or task calls [`apply`](TokenCell::apply) with every event and
/// [`set_status`](TokenCell::set_status) after every drain; readers call
/// [`with`](TokenCell::with), which takes no lock, reads no clock and touches no reference
/// count, or wait for a token with a bound they choose.
///
/// How reading scales: every publication bumps a version number. A reading thread keeps
/// the token it last saw, with that version, in a small thread-local cache; a read loads
/// the version (one atomic load of a line that only changes when the token does) and, if
/// it did not move, borrows the cached token. Nothing a reader does writes shared memory,
/// so readers on several cores do not slow each other down. A thread that stops reading
/// keeps its last token until it reads again or ends.
pub struct TokenCell {
    /// Distinguishes cells in the readers' thread-local caches.
    id: u64,
    /// Bumped after every change of `current`.
    version: AtomicU64,
    current: ArcSwapOption<PublishedToken>,
    status: ArcSwap<Status>,
    /// The temporary failure the session is backing off from, if any.
    last_failure: ArcSwapOption<Error>,
    closed: AtomicBool,
    changed: Signal,
}

/// Source of the cells' ids.
static NEXT_CELL_ID: AtomicU64 = AtomicU64::new(1);

/// How many cells one thread keeps a token of; a thread reading more cells than this in
/// turn still reads correctly, through the slower path.
const CACHED_CELLS: usize = 8;

/// One thread's view of the cells it read: the token it saw, and the version it saw it at.
struct CachedRead {
    cell: u64,
    version: u64,
    token: Option<Arc<PublishedToken>>,
}

thread_local! {
    static READS: RefCell<Vec<CachedRead>> = const { RefCell::new(Vec::new()) };
}

impl Default for TokenCell {
    fn default() -> Self {
        TokenCell {
            id: NEXT_CELL_ID.fetch_add(1, Ordering::Relaxed),
            version: AtomicU64::new(0),
            current: ArcSwapOption::empty(),
            status: ArcSwap::from_pointee(Status::Renewing),
            last_failure: ArcSwapOption::empty(),
            closed: AtomicBool::new(false),
            changed: Signal::new(),
        }
    }
}

impl fmt::Debug for TokenCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCell")
            .field("current", &self.current.load().as_deref())
            .field("status", &**self.status.load())
            .field("closed", &self.closed.load(Ordering::Acquire))
            .finish()
    }
}

// The driving side.
impl TokenCell {
    /// An empty cell.
    pub fn new() -> Self {
        Self::default()
    }

    /// Publishes what an event says about the token, and remembers the temporary failure
    /// the session backs off from until a token is issued; other events change nothing.
    /// Returns whether the published token changed.
    pub fn apply(&self, event: &Event) -> bool {
        match event {
            Event::RetryScheduled { error, .. } | Event::RejectedRetryScheduled { error, .. } => {
                self.last_failure.store(Some(Arc::new(error.clone())))
            }
            Event::TokenIssued { .. } => self.last_failure.store(None),
            _ => {}
        }
        let published = match event {
            Event::TokenIssued {
                token,
                generation,
                valid_until,
                ..
            }
            | Event::TokenRestored {
                token,
                generation,
                valid_until,
                ..
            } => Some(Arc::new(PublishedToken {
                token: token.clone(),
                generation: *generation,
                valid_until: *valid_until,
            })),
            Event::TokenExtended {
                generation,
                valid_until,
                ..
            } => {
                let current = self.current.load_full();
                match current {
                    Some(current) if current.generation == *generation => {
                        Some(Arc::new(PublishedToken {
                            valid_until: *valid_until,
                            ..(*current).clone()
                        }))
                    }
                    _ => return false,
                }
            }
            Event::TokenWithdrawn { generation, .. } => {
                if self.generation() != Some(*generation) {
                    return false;
                }
                None
            }
            _ => return false,
        };
        self.publish(published);
        true
    }

    fn publish(&self, token: Option<Arc<PublishedToken>>) {
        self.current.store(token);
        self.version.fetch_add(1, Ordering::Release);
        self.changed.notify(usize::MAX);
    }

    /// Records where the session stands, waking waiters if it changed.
    pub fn set_status(&self, status: Status) {
        if **self.status.load() != status {
            self.status.store(Arc::new(status));
            self.changed.notify(usize::MAX);
        }
    }

    /// Withdraws whatever token is published: the session it came from was replaced by
    /// one that holds none.
    pub fn withdraw(&self) {
        self.publish(None);
    }

    /// Withdraws the token and fails every waiter: the manager is gone.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.publish(None);
    }
}

// The read side.
impl TokenCell {
    /// The failure the session is backing off from (a 5xx, a timeout, a connection
    /// refused, a 429, a rejection it retries slowly), until the next token is issued: why
    /// [`Status::Waiting`] waits. Permanent failures are in [`Status::NeedsLogin`].
    pub fn last_failure(&self) -> Option<Error> {
        self.last_failure.load().as_deref().cloned()
    }

    /// Runs `read` on the published token, if there is one. No lock, no clock, no
    /// reference count: the fast path every call takes.
    #[inline]
    pub fn with<R>(&self, read: impl FnOnce(&PublishedToken) -> R) -> Option<R> {
        let version = self.version.load(Ordering::Acquire);
        let mut read = Some(read);
        let cached = READS.try_with(|reads| self.read_cached(reads, version, &mut read));
        match (cached, read) {
            (Ok(result), _) => result,
            // The thread is ending and its cache is gone: read the cell itself.
            (Err(_), Some(read)) => self.current.load().as_deref().map(read),
            (Err(_), None) => None,
        }
    }

    /// The fast path of [`with`](TokenCell::with): the token this thread saw at `version`,
    /// read under a shared borrow of the cache (so `read` may itself read this cell); on a
    /// miss, a fresh load, cached for the next read when the cache is not in use.
    #[inline]
    fn read_cached<R>(
        &self,
        reads: &RefCell<Vec<CachedRead>>,
        version: u64,
        read: &mut Option<impl FnOnce(&PublishedToken) -> R>,
    ) -> Option<R> {
        if let Ok(cached) = reads.try_borrow() {
            if let Some(entry) = cached
                .iter()
                .find(|entry| entry.cell == self.id && entry.version == version)
            {
                let token = entry.token.as_deref()?;
                return read.take().map(|read| read(token));
            }
        }
        let token = self.current.load_full();
        let result = token
            .as_deref()
            .and_then(|token| read.take().map(|read| read(token)));
        if let Ok(mut cached) = reads.try_borrow_mut() {
            let entry = CachedRead {
                cell: self.id,
                version,
                token,
            };
            match cached.iter().position(|e| e.cell == self.id) {
                Some(index) => cached[index] = entry,
                None => {
                    if cached.len() == CACHED_CELLS {
                        cached.remove(0);
                    }
                    cached.push(entry);
                }
            }
        }
        result
    }

    /// The published token, shared. Costs a reference-count increment: prefer
    /// [`with`](TokenCell::with) on hot paths.
    pub fn token(&self) -> Option<Arc<PublishedToken>> {
        self.current.load_full()
    }

    /// The generation of the published token, if any.
    pub fn generation(&self) -> Option<Generation> {
        self.with(PublishedToken::generation)
    }

    /// Where the session stood after its last drain.
    pub fn status(&self) -> Status {
        (**self.status.load()).clone()
    }

    /// Whether the manager was shut down.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// What a caller gets now: a token newer than `after` (any token when `None`), a
    /// reason why none will come, or nothing yet.
    pub fn readiness(&self, after: Option<Generation>) -> Readiness {
        if self.is_closed() {
            return Readiness::Failed(WaitError::Closed);
        }
        if let Some(token) = self.current.load_full() {
            if after.is_none_or(|after| token.generation > after) {
                return Readiness::Ready(token);
            }
        }
        match self.status() {
            Status::NeedsLogin { error } => Readiness::Failed(WaitError::NeedsLogin { error }),
            Status::Waiting {
                retry_at,
                reason: WaitReason::Rejected { .. },
            } => match self.last_failure() {
                Some(error) => Readiness::Failed(WaitError::Rejected { error, retry_at }),
                None => Readiness::Pending,
            },
            Status::Revoked => Readiness::Failed(WaitError::Revoked),
            _ => Readiness::Pending,
        }
    }

    /// A listener woken at the next change of token or status. Take it, check
    /// [`readiness`](TokenCell::readiness), then wait on it: no change is missed.
    pub fn listen(&self) -> EventListener {
        self.changed.listen()
    }

    /// How many callers are waiting for a change right now: listeners taken with
    /// [`listen`](TokenCell::listen) and not yet dropped, each
    /// [`wait_blocking`](TokenCell::wait_blocking) under way included.
    ///
    /// A snapshot, for tests and diagnostics: once it counts a waiter, that waiter sees
    /// every later publication (it listened before it checked). It takes the signal's
    /// internal lock, so it is no part of the read path and costs the readers nothing
    /// (no counter is kept: the signal's own list of listeners is counted).
    pub fn waiters(&self) -> usize {
        self.changed.total_listeners()
    }

    /// Blocks the thread until a token newer than `after` is published, none can come,
    /// or `timeout` passes.
    pub fn wait_blocking(
        &self,
        after: Option<Generation>,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, WaitError> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let listener = self.listen();
            match self.readiness(after) {
                Readiness::Ready(token) => return Ok(token),
                Readiness::Failed(error) => return Err(error),
                Readiness::Pending => {}
            }
            let woken = match deadline {
                Some(deadline) => listener.wait_deadline(deadline).is_some(),
                None => {
                    listener.wait();
                    true
                }
            };
            if !woken {
                return match self.readiness(after) {
                    Readiness::Ready(token) => Ok(token),
                    Readiness::Failed(error) => Err(error),
                    Readiness::Pending => Err(WaitError::Timeout {
                        status: self.status(),
                    }),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use oauth_lifecycle::time::macros::utc_datetime;
    use oauth_lifecycle::{AccessToken, Purpose, Withdrawal};

    use super::*;

    fn issued(secret: &str, generation: u64) -> Event {
        Event::TokenIssued {
            token: BearerToken::new(AccessToken::new(secret.into())).unwrap(),
            generation: generation_of(generation),
            valid_until: utc_datetime!(2026-01-01 01:00:00),
            expires_at: utc_datetime!(2026-01-01 01:00:05),
            via: Purpose::Login,
            renewal: generation > 1,
        }
    }

    fn generation_of(n: u64) -> Generation {
        Generation::new(n)
    }

    #[test]
    fn events_publish_extend_and_withdraw_the_token() {
        let cell = TokenCell::new();
        assert!(cell.with(|t| t.generation()).is_none());
        assert!(cell.apply(&issued("first", 1)));
        assert_eq!(
            cell.with(|t| t.secret().to_owned()).as_deref(),
            Some("first")
        );
        assert!(cell.apply(&Event::TokenExtended {
            generation: generation_of(1),
            valid_until: utc_datetime!(2026-01-02 00:00:00),
            expires_at: utc_datetime!(2026-01-02 00:00:05),
        }));
        assert_eq!(
            cell.with(|t| t.valid_until()),
            Some(utc_datetime!(2026-01-02 00:00:00))
        );
        // A withdrawal of another generation changes nothing.
        assert!(!cell.apply(&Event::TokenWithdrawn {
            generation: generation_of(7),
            reason: Withdrawal::Rejected,
        }));
        assert!(cell.apply(&Event::TokenWithdrawn {
            generation: generation_of(1),
            reason: Withdrawal::Rejected,
        }));
        assert!(cell.token().is_none());
    }

    #[test]
    fn waiters_get_a_newer_token_or_the_sessions_reason() {
        let cell = Arc::new(TokenCell::new());
        cell.apply(&issued("first", 1));
        assert_eq!(cell.waiters(), 0);
        let waiter = {
            let cell = Arc::clone(&cell);
            std::thread::spawn(move || {
                cell.wait_blocking(Some(generation_of(1)), Duration::from_secs(10))
            })
        };
        // Published only once the waiter waits: the token reaches it by the wake-up,
        // not by a check before waiting.
        oauth_lifecycle_testkit::eventually("the waiter waits", || cell.waiters() == 1);
        cell.apply(&issued("second", 2));
        let token = waiter.join().unwrap().unwrap();
        assert_eq!(token.secret(), "second");
        assert_eq!(cell.waiters(), 0, "a waiter that returned no longer counts");

        let error = oauth_lifecycle::Error::Config(oauth_lifecycle::ConfigError::NoCredentials);
        cell.set_status(Status::NeedsLogin {
            error: error.clone(),
        });
        assert_eq!(
            cell.wait_blocking(Some(generation_of(2)), Duration::from_secs(10))
                .unwrap_err(),
            WaitError::NeedsLogin { error }
        );
        cell.set_status(Status::Renewing);
        let started = Instant::now();
        assert_eq!(
            cell.wait_blocking(Some(generation_of(2)), Duration::from_millis(50))
                .unwrap_err(),
            WaitError::Timeout {
                status: Status::Renewing
            }
        );
        assert!(started.elapsed() >= Duration::from_millis(50));
        cell.close();
        assert_eq!(
            cell.wait_blocking(None, Duration::from_secs(10))
                .unwrap_err(),
            WaitError::Closed
        );
    }

    #[test]
    fn reads_see_every_change_and_may_nest() {
        let cell = TokenCell::new();
        assert_eq!(cell.with(|t| t.generation()), None);
        cell.apply(&issued("first", 1));
        assert_eq!(cell.with(|t| t.generation()), Some(generation_of(1)));
        // A read inside a read of the same cell sees the same token.
        let nested = cell.with(|outer| (outer.generation(), cell.with(|inner| inner.generation())));
        assert_eq!(nested, Some((generation_of(1), Some(generation_of(1)))));
        assert_eq!(cell.with(|t| t.generation()), Some(generation_of(1)));
        cell.apply(&issued("second", 2));
        assert_eq!(
            cell.with(|t| t.secret().to_owned()).as_deref(),
            Some("second")
        );
        // Another thread sees the change too, and so does this one after a withdrawal.
        let other = std::thread::scope(|scope| {
            scope
                .spawn(|| cell.with(|t| t.generation()))
                .join()
                .unwrap()
        });
        assert_eq!(other, Some(generation_of(2)));
        cell.withdraw();
        assert_eq!(cell.with(|t| t.generation()), None);
        // Many cells read in turn by one thread: each still answers for itself.
        let cells: Vec<TokenCell> = (1..=20)
            .map(|n| {
                let cell = TokenCell::new();
                cell.apply(&issued("many", n));
                cell
            })
            .collect();
        for _ in 0..3 {
            for (n, cell) in cells.iter().enumerate() {
                assert_eq!(
                    cell.with(|t| t.generation()),
                    Some(generation_of(n as u64 + 1))
                );
            }
        }
    }

    #[test]
    fn debug_shows_no_secret() {
        let cell = TokenCell::new();
        cell.apply(&issued("s3cret-value", 1));
        assert!(!format!("{cell:?}").contains("s3cret"));
    }
}
