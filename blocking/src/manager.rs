//! The token manager callers share: reads of the published token, reports about calls,
//! commands, and shutdown.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use oauth_lifecycle::{Generation, Status};
use oauth_lifecycle_adapter::{
    AuthorizationRequests, Closed, Command, Mailbox, PublishedToken, Readiness, TokenCell,
    WaitError,
};

/// Keeps an OAuth 2.0 access token fresh on one background thread, for any number of
/// threads to read.
///
/// Cloning is cheap and every clone shares the session. Reading the token takes no lock
/// and reads no clock ([`with_token`](Self::with_token)); callers with no valid token
/// wait for one, bounded by a timeout they choose ([`token`](Self::token)); a 401 is
/// reported with the generation of the token that met it
/// ([`report_unauthorized`](Self::report_unauthorized)). [`shutdown`](Self::shutdown)
/// stops the thread and waits for it; dropping the last clone stops it too, in the
/// background, without waiting.
///
/// For dialects configured for a person's login (the device grant, the authorization
/// code grant), [`login_with_device`](Self::login_with_device) and
/// [`login_in_browser`](Self::login_in_browser) log the person in; the session renews
/// the token by itself from then on.
#[derive(Clone)]
pub struct TokenManager {
    pub(crate) inner: Arc<Inner>,
}

/// What every clone shares. Dropped with the last clone, which stops the thread.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) cell: Arc<TokenCell>,
    pub(crate) mailbox: Arc<Mailbox>,
    pub(crate) thread: Mutex<Option<JoinHandle<()>>>,
    pub(crate) revoke_on_shutdown: bool,
    /// Builds a browser login's authorization request for the dialect.
    pub(crate) authorization_requests: AuthorizationRequests,
}

impl TokenManager {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        TokenManager {
            inner: Arc::new(inner),
        }
    }

    /// Runs `read` on the current token, if one may be handed out: no lock, no clock, no
    /// reference count. The fast path of every API call.
    ///
    /// `None` when there is none right now (before the first login, after a 401, after
    /// the token's hard expiry, after shutdown): then [`token`](Self::token) waits for
    /// one.
    #[inline]
    pub fn with_token<R>(&self, read: impl FnOnce(&PublishedToken) -> R) -> Option<R> {
        self.inner.cell.with(read)
    }

    /// The current token; if there is none, waits for one at most `timeout`. A token
    /// that is still valid is returned at once, even while a renewal is under way.
    ///
    /// Fails at once when none can come by itself ([`WaitError::NeedsLogin`],
    /// [`WaitError::Revoked`], [`WaitError::Closed`]), and after `timeout` with where
    /// the session stands ([`WaitError::Timeout`]: renewing, or waiting until a
    /// moment after a failure or a 429).
    pub fn token(&self, timeout: Duration) -> Result<Arc<PublishedToken>, WaitError> {
        self.wait(None, timeout)
    }

    /// A token newer than `generation`, waiting for one at most `timeout`: after a 401
    /// with token `generation`, the token to retry with.
    pub fn token_newer_than(
        &self,
        generation: Generation,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, WaitError> {
        self.wait(Some(generation), timeout)
    }

    fn wait(
        &self,
        after: Option<Generation>,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, WaitError> {
        match self.inner.cell.readiness(after) {
            Readiness::Ready(token) => Ok(token),
            Readiness::Failed(error) => Err(error),
            Readiness::Pending => self.inner.cell.wait_blocking(after, timeout),
        }
    }

    /// Reports that a resource server rejected token `generation` (a 401 that
    /// [`classify_response`](oauth_lifecycle::resource::classify_response) calls
    /// [`TokenRejected`](oauth_lifecycle::ResourceVerdict::TokenRejected)). The first
    /// report about the current token withdraws it and starts a renewal; reports about
    /// it again, or about an older token, change nothing (the core's generation rule).
    /// Then retry with [`token_newer_than`](Self::token_newer_than). Takes no lock.
    pub fn report_unauthorized(&self, generation: Generation) {
        self.inner.mailbox.report_unauthorized(generation);
    }

    /// Reports that a call with token `generation` succeeded. For dialects with sliding
    /// expiry (Convirza V3) the session extends the token's life; for the others this
    /// does nothing. It takes no lock: a burst of reports costs atomic operations and at
    /// most one wake-up of the background thread.
    #[inline]
    pub fn report_call_succeeded(&self, generation: Generation) {
        self.inner.mailbox.report_call_succeeded(generation);
    }

    /// Where the session stands: ready, renewing, waiting until a retry, needing a new
    /// login, or revoked.
    pub fn status(&self) -> Status {
        self.inner.cell.status()
    }

    /// The temporary failure the session is backing off from (a 5xx, a timeout, a refused
    /// connection, a 429), until the next token is issued: why [`Status::Waiting`]
    /// waits. Permanent failures are in [`Status::NeedsLogin`].
    pub fn last_failure(&self) -> Option<oauth_lifecycle::Error> {
        self.inner.cell.last_failure()
    }

    /// Whether the manager was shut down.
    pub fn is_closed(&self) -> bool {
        self.inner.cell.is_closed()
    }

    /// Asks for a login now, clearing a halt (after `invalid_client`, or when the
    /// session needs new credentials and they were fixed at the provider). Backoffs still
    /// apply. Returns once the background thread has applied it, so that
    /// [`status`](Self::status) and [`token`](Self::token) already see its effect; the
    /// thread applies it at once, even while a request is out.
    pub fn login(&self) -> Result<(), Closed> {
        self.command(Command::Login)
    }

    /// Asks for a new token now, ahead of the refresh moment: to force a renewal, or when
    /// more time must be left than the current token has. The current token is still
    /// handed out until the new one arrives (wait for it with
    /// [`token_newer_than`](Self::token_newer_than)); with a renewal already under way,
    /// this adds nothing. Backoffs and request budgets still apply. Returns once applied.
    pub fn renew(&self) -> Result<(), Closed> {
        self.command(Command::Renew)
    }

    /// Revokes the session. Returns once applied: the token is withdrawn and the status
    /// is [`Status::Revoked`]; the revocation requests follow on the background thread,
    /// and [`shutdown`](Self::shutdown) waits for them.
    pub fn revoke(&self) -> Result<(), Closed> {
        self.command(Command::Revoke)
    }

    /// Returns once the background thread has applied every report and command made
    /// before this call, and read the clock: what a caller reads afterwards shows their
    /// effect, or that they had none.
    pub fn flush(&self) -> Result<(), Closed> {
        self.command(Command::Flush)
    }

    /// How many callers are waiting for a token right now, in [`token`](Self::token) or
    /// [`token_newer_than`](Self::token_newer_than): for diagnostics and tests. It takes a
    /// lock the readers never take.
    pub fn waiters(&self) -> usize {
        self.inner.cell.waiters()
    }

    /// Tells the thread to read the clock again now: after a clock given to
    /// [`crate::TokenManagerBuilder::clock`] was moved. (A moved system clock is noticed within
    /// a second.)
    pub fn clock_moved(&self) {
        self.inner.mailbox.wake();
    }

    fn command(&self, command: Command) -> Result<(), Closed> {
        self.inner.mailbox.command(command).wait_blocking()
    }

    /// Stops the background thread and waits for it, revoking the session first if the
    /// manager was built with [`revoke_on_shutdown`](crate::TokenManagerBuilder::revoke_on_shutdown).
    /// A renewal out is awaited, so that its result is stored. Takes at most as long as
    /// the requests under way or still to send (each bounded by the policy's response
    /// timeout). Every clone sees the manager closed: readers get no token, waiters get
    /// [`WaitError::Closed`]. Calling it again does nothing.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

impl Inner {
    fn shutdown(&self) {
        let mut thread = self.thread.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = thread.take() {
            self.mailbox.stop(self.revoke_on_shutdown);
            if handle.join().is_err() {
                tracing::error!(manager = %self.name, "the token manager's thread panicked");
            }
        }
        self.cell.close();
    }
}

/// The last clone is gone: the thread stops by itself, as `shutdown` would have it
/// (revoking first if asked), without anyone waiting for it.
impl Drop for Inner {
    fn drop(&mut self) {
        self.mailbox.stop(self.revoke_on_shutdown);
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("name", &self.inner.name)
            .field("generation", &self.inner.cell.generation())
            .field("status", &self.inner.cell.status())
            .field("closed", &self.inner.cell.is_closed())
            .finish()
    }
}
