//! The handle callers hold: read the token, wait for one, report what the resource server
//! said, log in, revoke, shut down.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth_lifecycle::{Dialect, Generation, Policy, Status};
use oauth_lifecycle_adapter::{PublishedToken, Readiness, WaitError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::builder::{StartError, TokenManagerBuilder};
use crate::task::{Control, Shared};

/// Keeps one OAuth session's access token fresh in a background task, and hands it to
/// any number of callers.
///
/// Cloning is cheap and every clone speaks to the same task. Reading a valid token takes
/// no lock and reads no clock ([`with_token`](Self::with_token)); callers without one
/// wait, for as long as they choose ([`token`](Self::token)). Dropping the last clone
/// aborts the task; [`shutdown`](Self::shutdown) stops it and waits for it, revoking the
/// session first if the manager was built with
/// [`revoke_on_shutdown`](TokenManagerBuilder::revoke_on_shutdown).
#[derive(Clone)]
pub struct TokenManager {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    control: mpsc::UnboundedSender<Control>,
    /// Taken by the first `shutdown`; later ones wait on the lock, then find it gone.
    task: tokio::sync::Mutex<Option<TaskHandle>>,
    revoke_on_shutdown: bool,
}

/// The task's join handle, which aborts the task when dropped: no task outlives its
/// manager, not even after a `shutdown` future was dropped half-way.
struct TaskHandle(JoinHandle<()>);

impl Drop for TaskHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The task is aborted with its handle; waiters learn it at once.
        self.shared.cell.close();
    }
}

/// Why a command was not delivered: the manager is shut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token manager is shut down")]
pub struct Closed;

impl TokenManager {
    /// Starts a manager for `dialect` with `policy`, and its background task: the
    /// one-line use. Call it from within a tokio runtime.
    pub fn start<D: Dialect + Send + Sync + 'static>(
        dialect: D,
        policy: Policy,
    ) -> Result<TokenManager, StartError> {
        Self::builder(dialect, policy).start()
    }

    /// A manager with a store, a client, a name, revocation on shutdown or a clock of its
    /// own.
    pub fn builder<D: Dialect + Send + Sync + 'static>(
        dialect: D,
        policy: Policy,
    ) -> TokenManagerBuilder<D> {
        TokenManagerBuilder::new(dialect, policy)
    }

    pub(crate) fn new(
        shared: Arc<Shared>,
        control: mpsc::UnboundedSender<Control>,
        task: JoinHandle<()>,
        revoke_on_shutdown: bool,
    ) -> Self {
        TokenManager {
            inner: Arc::new(Inner {
                shared,
                control,
                task: tokio::sync::Mutex::new(Some(TaskHandle(task))),
                revoke_on_shutdown,
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
        self.inner.shared.cell.with(read)
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
        let cell = &self.inner.shared.cell;
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
        self.inner.shared.reports.unauthorized(generation);
    }

    /// Reports that a call with the token of `generation` succeeded, for dialects whose
    /// tokens live longer with use (Convirza V3). Takes no lock, and does nothing at all
    /// for other dialects.
    #[inline]
    pub fn report_call_succeeded(&self, generation: Generation) {
        if self.inner.shared.sliding {
            self.inner.shared.reports.succeeded(generation);
        }
    }

    /// Where the session stands: ready, renewing, waiting after a failure, needing a
    /// login, or revoked.
    pub fn status(&self) -> Status {
        self.inner.shared.cell.status()
    }

    /// The temporary failure the session is backing off from (a 5xx, a timeout, a refused
    /// connection, a 429), until the next token is issued: why [`Status::Waiting`]
    /// waits. Permanent failures are in [`Status::NeedsLogin`].
    pub fn last_failure(&self) -> Option<oauth_lifecycle::Error> {
        self.inner.shared.cell.last_failure()
    }

    /// Whether the manager was shut down.
    pub fn is_closed(&self) -> bool {
        self.inner.shared.cell.is_closed()
    }

    /// Asks for a login now, clearing a halt: after the credentials were fixed, or to
    /// retry a permanent failure deliberately. Backoffs still apply.
    pub fn login(&self) -> Result<(), Closed> {
        self.command(Control::Login)
    }

    /// Asks for a new token now, ahead of the refresh moment: to force a renewal, or when
    /// more time must be left than the current token has. The current token is still
    /// handed out until the new one arrives (wait for it with `token_newer_than`); with a
    /// renewal already under way, this adds nothing. Backoffs and request budgets still
    /// apply.
    pub fn renew(&self) -> Result<(), Closed> {
        self.command(Control::Renew)
    }

    /// Revokes the session: the token is withdrawn at once, then the provider is asked to
    /// revoke the refresh and access tokens (RFC 7009) where it can. No token is handed
    /// out afterwards.
    pub fn revoke(&self) -> Result<(), Closed> {
        self.command(Control::Revoke)
    }

    /// Tells the task to read the clock again now: after a clock given to
    /// [`TokenManagerBuilder::clock`] was moved. (A system clock needs no telling.)
    pub fn clock_moved(&self) {
        self.inner.shared.reports.wake();
    }

    fn command(&self, control: Control) -> Result<(), Closed> {
        if self.is_closed() {
            return Err(Closed);
        }
        self.inner.control.send(control).map_err(|_| Closed)
    }

    /// Stops the background task and waits until it has ended, revoking the session
    /// first if the manager was built with
    /// [`revoke_on_shutdown`](TokenManagerBuilder::revoke_on_shutdown). A request in flight
    /// is abandoned, unless a revocation follows it. Every clone is shut down with it:
    /// waiters get [`WaitError::Closed`].
    pub async fn shutdown(self) {
        let mut task = self.inner.task.lock().await;
        let Some(mut handle) = task.take() else {
            return;
        };
        let revoke = self.inner.revoke_on_shutdown && !self.is_closed();
        let _ = self.inner.control.send(Control::Shutdown { revoke });
        // The task ends by itself; it only fails to if it panicked or was aborted.
        let _ = (&mut handle.0).await;
        self.inner.shared.cell.close();
    }
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("cell", &self.inner.shared.cell)
            .field("sliding", &self.inner.shared.sliding)
            .field("revoke_on_shutdown", &self.inner.revoke_on_shutdown)
            .finish_non_exhaustive()
    }
}
