//! The handle callers hold: read the token, wait for one, report what the resource server
//! said, log in, revoke, shut down.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth_lifecycle::{Generation, Status};
use oauth_lifecycle_adapter::{
    AuthorizationRequests, Closed, Command, Mailbox, PublishedToken, Readiness, TokenCell,
    WaitError,
};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Keeps one OAuth session's access token fresh in a background task, and hands it to
/// any number of callers.
///
/// Cloning is cheap and every clone speaks to the same task. Reading a valid token takes
/// no lock and reads no clock ([`with_token`](Self::with_token)); callers without one
/// wait, for as long as they choose ([`token`](Self::token)).
/// [`shutdown`](Self::shutdown) stops the task and waits for it, revoking the session
/// first if the manager was built with
/// [`revoke_on_shutdown`](crate::TokenManagerBuilder::revoke_on_shutdown); dropping the last
/// clone starts the same sequence without waiting for it.
///
/// For dialects configured for a person's login (the device grant, the authorization
/// code grant), [`login_with_device`](Self::login_with_device) and
/// [`login_in_browser`](Self::login_in_browser) log the person in; the session renews
/// the token by itself from then on.
#[derive(Clone)]
pub struct TokenManager {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) cell: Arc<TokenCell>,
    pub(crate) mailbox: Arc<Mailbox>,
    /// Taken by the first `shutdown`; later ones wait on the lock, then find it gone.
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    revoke_on_shutdown: bool,
    /// Builds a browser login's authorization request for the dialect.
    pub(crate) authorization_requests: AuthorizationRequests,
}

/// The last clone is gone: the task stops by itself, as `shutdown` would have it
/// (revoking first if asked), without anyone waiting for it.
impl Drop for Inner {
    fn drop(&mut self) {
        self.mailbox.stop(self.revoke_on_shutdown);
    }
}

impl TokenManager {
    pub(crate) fn new(
        cell: Arc<TokenCell>,
        mailbox: Arc<Mailbox>,
        task: JoinHandle<()>,
        revoke_on_shutdown: bool,
        authorization_requests: AuthorizationRequests,
    ) -> Self {
        TokenManager {
            inner: Arc::new(Inner {
                cell,
                mailbox,
                task: tokio::sync::Mutex::new(Some(task)),
                revoke_on_shutdown,
                authorization_requests,
            }),
        }
    }

    /// Runs `read` on the current token, if one may be handed out: no lock, no clock, no
    /// reference count, never waits. `None` when there is none right now.
    ///
    /// ```no_run
    /// # fn f(tokens: &oauth_lifecycle_tokio::TokenManager, request: &mut reqwest::Request) {
    /// if let Some((header, generation)) =
    ///     tokens.with_token(|token| (token.header_value().clone(), token.generation()))
    /// {
    ///     request.headers_mut().insert(reqwest::header::AUTHORIZATION, header);
    /// }
    /// # }
    /// ```
    #[inline]
    pub fn with_token<R>(&self, read: impl FnOnce(&PublishedToken) -> R) -> Option<R> {
        self.inner.cell.with(read)
    }

    /// The current token, or the next one, waiting at most `timeout`.
    ///
    /// Returns at once with a valid token, or with the reason none can come (the session
    /// needs a login, is revoked, or the manager is shut down). Otherwise waits for the
    /// login or renewal under way; [`WaitError::Timeout`] says where the session stood
    /// then (renewing, or waiting until a moment after a failure or a 429).
    pub async fn token(&self, timeout: Duration) -> Result<Arc<PublishedToken>, WaitError> {
        self.wait(None, timeout).await
    }

    /// A token newer than `generation`, waiting at most `timeout`: after a 401 with
    /// `generation` was reported, to retry the call with its successor.
    pub async fn token_newer_than(
        &self,
        generation: Generation,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, WaitError> {
        self.wait(Some(generation), timeout).await
    }

    async fn wait(
        &self,
        after: Option<Generation>,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, WaitError> {
        let cell = &self.inner.cell;
        // The fast path registers no listener.
        match cell.readiness(after) {
            Readiness::Ready(token) => return Ok(token),
            Readiness::Failed(error) => return Err(error),
            Readiness::Pending => {}
        }
        let deadline = Instant::now().checked_add(timeout);
        loop {
            let listener = cell.listen();
            match cell.readiness(after) {
                Readiness::Ready(token) => return Ok(token),
                Readiness::Failed(error) => return Err(error),
                Readiness::Pending => {}
            }
            let woken = match deadline {
                Some(deadline) => tokio::time::timeout_at(deadline, listener).await.is_ok(),
                // A timeout too long to represent: wait as long as it takes.
                None => {
                    listener.await;
                    true
                }
            };
            if !woken {
                return match cell.readiness(after) {
                    Readiness::Ready(token) => Ok(token),
                    Readiness::Failed(error) => Err(error),
                    Readiness::Pending => Err(WaitError::Timeout {
                        status: cell.status(),
                    }),
                };
            }
        }
    }

    /// Reports that a resource server rejected the token of `generation` (a 401, or what
    /// [`classify_response`](oauth_lifecycle::resource::classify_response) calls
    /// `TokenRejected`). The token is withdrawn and renewed; a report about a token that
    /// was already replaced changes nothing, so many callers may report the same 401.
    /// Takes no lock; wakes the task only if no report was pending.
    pub fn report_unauthorized(&self, generation: Generation) {
        self.inner.mailbox.report_unauthorized(generation);
    }

    /// Reports that a call with the token of `generation` succeeded, for dialects whose
    /// tokens live longer with use (Convirza V3). Takes no lock, and does nothing at all
    /// for other dialects.
    #[inline]
    pub fn report_call_succeeded(&self, generation: Generation) {
        self.inner.mailbox.report_call_succeeded(generation);
    }

    /// Where the session stands: ready, renewing, waiting after a failure, needing a
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

    /// Asks for a login now, clearing a halt: after the credentials were fixed, or to
    /// retry a permanent failure deliberately. Backoffs still apply. Resolves once the
    /// task has applied it, so that [`status`](Self::status) and [`token`](Self::token)
    /// already see its effect; the task applies it at once, even while a request is out.
    pub async fn login(&self) -> Result<(), Closed> {
        self.command(Command::Login).await
    }

    /// Asks for a new token now, ahead of the refresh moment: to force a renewal, or when
    /// more time must be left than the current token has. The current token is still
    /// handed out until the new one arrives (wait for it with `token_newer_than`); with a
    /// renewal already under way, this adds nothing. Backoffs and request budgets still
    /// apply. Resolves once applied.
    pub async fn renew(&self) -> Result<(), Closed> {
        self.command(Command::Renew).await
    }

    /// Revokes the session. Resolves once applied: the token is withdrawn and the status
    /// is [`Status::Revoked`]; the provider is then asked to revoke the refresh and access
    /// tokens (RFC 7009) where it can, and [`shutdown`](Self::shutdown) waits for that.
    pub async fn revoke(&self) -> Result<(), Closed> {
        self.command(Command::Revoke).await
    }

    /// Resolves once the task has applied every report and command made before this
    /// call, and read the clock: what a caller reads afterwards shows their effect, or
    /// that they had none.
    pub async fn flush(&self) -> Result<(), Closed> {
        self.command(Command::Flush).await
    }

    /// How many callers are waiting for a token right now, in [`token`](Self::token) or
    /// [`token_newer_than`](Self::token_newer_than): for diagnostics and tests. It takes a
    /// lock the readers never take.
    pub fn waiters(&self) -> usize {
        self.inner.cell.waiters()
    }

    /// Tells the task to read the clock again now: after a clock given to
    /// [`crate::TokenManagerBuilder::clock`] was moved. (A moved system clock is noticed within
    /// a second.)
    pub fn clock_moved(&self) {
        self.inner.mailbox.wake();
    }

    async fn command(&self, command: Command) -> Result<(), Closed> {
        self.inner.mailbox.command(command).wait().await
    }

    /// Stops the background task and waits until it has ended, revoking the session
    /// first if the manager was built with
    /// [`revoke_on_shutdown`](crate::TokenManagerBuilder::revoke_on_shutdown). A renewal out is
    /// awaited, so that its result is stored. Every clone is shut down with it: waiters
    /// get [`WaitError::Closed`].
    pub async fn shutdown(self) {
        let mut task = self.inner.task.lock().await;
        let Some(handle) = task.take() else {
            return;
        };
        self.inner.mailbox.stop(self.inner.revoke_on_shutdown);
        // The task ends by itself; it only fails to if it panicked.
        let _ = handle.await;
        self.inner.cell.close();
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("cell", &self.inner.cell)
            .field("mailbox", &self.inner.mailbox)
            .field("revoke_on_shutdown", &self.inner.revoke_on_shutdown)
            .finish_non_exhaustive()
    }
}
