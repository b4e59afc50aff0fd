//! What callers hand the engine: reports about the tokens they used, commands, and the
//! request to stop. Handles write here from any thread; the engine takes everything at
//! its next poll, and the runtime is woken through its [`Wake`].
//!
//! Reports cost a caller no lock: the newest generation reported of each kind is kept in
//! an atomic, and the runtime is woken only when none was pending. Keeping only the
//! newest loses nothing: the core answers a report about a token that is no longer
//! current with [`Unauthorized::Stale`](oauth_lifecycle::Unauthorized::Stale), and a
//! repeat about the current one with `AlreadyWithdrawn`. That generation rule, the
//! core's, is the only merging there is.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use event_listener::{Event as Signal, Listener};
use oauth_lifecycle::Generation;

use super::person_login::{PersonLoginCommand, Refusal};

/// A command as queued: one of [`Command`], or of a person's login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Queued {
    Command(Command),
    PersonLogin(PersonLoginCommand),
}

/// How a runtime is told that the engine has something new to take: a report, a command,
/// a store's announcement, a moved clock. The runtime then polls the engine soon (it
/// must not call back into the engine from `wake`, which runs on the caller's thread).
pub trait Wake: Send + Sync {
    /// Wakes the runtime's driving thread or task.
    fn wake(&self);
}

/// Any function that wakes the runtime.
impl<F: Fn() + Send + Sync> Wake for F {
    fn wake(&self) {
        self()
    }
}

/// What callers ask of a session, besides reports. A person's login has commands of its
/// own, which carry data: [`PersonLoginCommand`].
///
/// A command the session refuses is traced (never with a secret) and acknowledged all
/// the same; [`Ack::refusal`] says why it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// Log in now, clearing a halt.
    Login,
    /// Renew now, ahead of the refresh moment; the current token is served until the new
    /// one arrives.
    Renew,
    /// Revoke the session.
    Revoke,
    /// Nothing but a barrier: its acknowledgement completes once every report and
    /// command made before it was applied, and the session was shown the clock.
    Flush,
}

/// The manager is shut down: a command was not applied, and none will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token manager is shut down")]
pub struct Closed;

/// Shared by the engine and every handle of one manager.
pub struct Mailbox {
    /// The newest generation reported rejected; 0 when none is pending (generations
    /// start at 1).
    unauthorized: AtomicU64,
    /// The newest generation a call succeeded with; 0 when none is pending.
    succeeded: AtomicU64,
    /// Whether the dialect slides a token's expiry on use: if not, reports of successful
    /// calls are dropped at once.
    sliding: bool,
    commands: Mutex<VecDeque<(Queued, Ack)>>,
    /// [`STOP_NONE`], [`STOP_KEEP`] or [`STOP_REVOKE`].
    stop: AtomicU8,
    wake: Arc<dyn Wake>,
}

const STOP_NONE: u8 = 0;
const STOP_KEEP: u8 = 1;
const STOP_REVOKE: u8 = 2;

impl Mailbox {
    pub(crate) fn new(sliding: bool, wake: Arc<dyn Wake>) -> Self {
        Mailbox {
            unauthorized: AtomicU64::new(0),
            succeeded: AtomicU64::new(0),
            sliding,
            commands: Mutex::new(VecDeque::new()),
            stop: AtomicU8::new(STOP_NONE),
            wake,
        }
    }

    /// Reports that a resource server rejected token `generation`. Takes no lock; wakes
    /// the runtime only if no report was pending.
    pub fn report_unauthorized(&self, generation: Generation) {
        self.record(&self.unauthorized, generation);
    }

    /// Reports that a call with token `generation` succeeded. Takes no lock, and does
    /// nothing at all for dialects without sliding expiry.
    #[inline]
    pub fn report_call_succeeded(&self, generation: Generation) {
        if self.sliding {
            self.record(&self.succeeded, generation);
        }
    }

    fn record(&self, slot: &AtomicU64, generation: Generation) {
        let reported = generation.get();
        if reported == 0 {
            return;
        }
        // Read first: a burst of reports while one is pending only reads the line.
        let pending = slot.load(Ordering::Acquire);
        if pending >= reported {
            return;
        }
        if slot.fetch_max(reported, Ordering::AcqRel) == 0 {
            self.wake.wake();
        }
    }

    /// Queues `command`; the returned [`Ack`] completes once the engine has applied it
    /// and published the status it led to, or with [`Closed`] if it never will.
    pub fn command(&self, command: Command) -> Ack {
        self.queue(Queued::Command(command))
    }

    /// Queues a command of a person's login, acknowledged as [`command`](Self::command)'s
    /// are; [`Ack::refusal`] then says whether the session refused it.
    pub fn person_login(&self, command: PersonLoginCommand) -> Ack {
        self.queue(Queued::PersonLogin(command))
    }

    fn queue(&self, queued: Queued) -> Ack {
        let ack = Ack::new();
        if self.is_stopping() {
            ack.complete(Err(Closed));
            return ack;
        }
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back((queued, ack.clone()));
        self.wake.wake();
        ack
    }

    /// Asks the engine to stop, revoking the session first if `revoke`. A later call
    /// cannot take back a revocation asked for earlier.
    pub fn stop(&self, revoke: bool) {
        let wanted = if revoke { STOP_REVOKE } else { STOP_KEEP };
        self.stop.fetch_max(wanted, Ordering::AcqRel);
        self.wake.wake();
    }

    /// Whether a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire) != STOP_NONE
    }

    /// Wakes the runtime without a report: to read the clock again, or to read the store
    /// after another process announced a new revision.
    pub fn wake(&self) {
        self.wake.wake();
    }

    // The engine's side.

    pub(crate) fn take_unauthorized(&self) -> Option<Generation> {
        take(&self.unauthorized)
    }

    pub(crate) fn take_succeeded(&self) -> Option<Generation> {
        take(&self.succeeded)
    }

    pub(crate) fn take_command(&self) -> Option<(Queued, Ack)> {
        self.commands
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
    }

    /// `Some(revoke)` once a stop was asked for.
    pub(crate) fn stop_requested(&self) -> Option<bool> {
        match self.stop.load(Ordering::Acquire) {
            STOP_NONE => None,
            wanted => Some(wanted == STOP_REVOKE),
        }
    }

    /// Fails every command still queued: the engine stopped.
    pub(crate) fn close(&self) {
        self.stop.fetch_max(STOP_KEEP, Ordering::AcqRel);
        while let Some((_, ack)) = self.take_command() {
            ack.complete(Err(Closed));
        }
    }
}

fn take(slot: &AtomicU64) -> Option<Generation> {
    match slot.swap(0, Ordering::AcqRel) {
        0 => None,
        reported => Some(Generation::new(reported)),
    }
}

impl fmt::Debug for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox")
            .field("unauthorized", &self.unauthorized.load(Ordering::Relaxed))
            .field("succeeded", &self.succeeded.load(Ordering::Relaxed))
            .field("sliding", &self.sliding)
            .field("stopping", &self.is_stopping())
            .finish_non_exhaustive()
    }
}

/// The acknowledgement of one command: completes once the engine has applied it, so that
/// the status and the token a caller reads afterwards already show its effect. Wait for
/// it on a thread ([`wait_blocking`](Ack::wait_blocking)) or in a task (`.await`).
#[derive(Clone)]
#[must_use = "wait for the acknowledgement, or drop it to not wait"]
pub struct Ack(Arc<AckState>);

struct AckState {
    /// [`ACK_PENDING`], [`ACK_APPLIED`] or [`ACK_CLOSED`].
    outcome: AtomicU8,
    /// Why the session refused the command, set before it is acknowledged.
    refusal: Mutex<Option<Refusal>>,
    done: Signal,
}

const ACK_PENDING: u8 = 0;
const ACK_APPLIED: u8 = 1;
const ACK_CLOSED: u8 = 2;

impl Ack {
    fn new() -> Self {
        Ack(Arc::new(AckState {
            outcome: AtomicU8::new(ACK_PENDING),
            refusal: Mutex::new(None),
            done: Signal::new(),
        }))
    }

    /// Records why the session refused the command; before it is acknowledged.
    pub(crate) fn refuse(&self, refusal: Refusal) {
        *self
            .0
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(refusal);
    }

    /// Why the session refused the command, once it was acknowledged as applied: `None`
    /// when it took it (or has not been applied yet). A refused command changed nothing,
    /// but for a redirect that ended the login ([`Refusal::RedirectEnded`]).
    pub fn refusal(&self) -> Option<Refusal> {
        self.0
            .refusal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn complete(&self, outcome: Result<(), Closed>) {
        let value = if outcome.is_ok() {
            ACK_APPLIED
        } else {
            ACK_CLOSED
        };
        if self
            .0
            .outcome
            .compare_exchange(ACK_PENDING, value, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.0.done.notify(usize::MAX);
        }
    }

    /// Where the command stands, without waiting: `None` while the engine has not taken
    /// it yet, then whether it was applied.
    pub fn outcome(&self) -> Option<Result<(), Closed>> {
        match self.0.outcome.load(Ordering::Acquire) {
            ACK_PENDING => None,
            ACK_APPLIED => Some(Ok(())),
            _ => Some(Err(Closed)),
        }
    }

    /// Blocks the thread until the command was applied ([`Closed`] if it never will
    /// be). The engine applies a command at its next poll, even while a request is out.
    pub fn wait_blocking(&self) -> Result<(), Closed> {
        loop {
            let listener = self.0.done.listen();
            if let Some(outcome) = self.outcome() {
                return outcome;
            }
            listener.wait();
        }
    }

    /// Waits in a task until the command was applied ([`Closed`] if it never will be).
    pub async fn wait(&self) -> Result<(), Closed> {
        loop {
            let listener = self.0.done.listen();
            if let Some(outcome) = self.outcome() {
                return outcome;
            }
            listener.await;
        }
    }
}

impl fmt::Debug for Ack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ack").field(&self.outcome()).finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[derive(Default)]
    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn mailbox(sliding: bool) -> (Mailbox, Arc<CountWakes>) {
        let wakes = Arc::new(CountWakes::default());
        (
            Mailbox::new(sliding, Arc::clone(&wakes) as Arc<dyn Wake>),
            wakes,
        )
    }

    #[test]
    fn a_burst_of_reports_wakes_once_and_keeps_the_newest_generation() {
        let (mailbox, wakes) = mailbox(true);
        for n in [3, 7, 5, 7] {
            mailbox.report_unauthorized(Generation::new(n));
        }
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert_eq!(mailbox.take_unauthorized().map(Generation::get), Some(7));
        assert_eq!(mailbox.take_unauthorized(), None);
        // Taken: the same generation reported again reaches the engine again, which
        // answers it by the core's rule.
        mailbox.report_unauthorized(Generation::new(7));
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        assert_eq!(mailbox.take_unauthorized().map(Generation::get), Some(7));
    }

    #[test]
    fn successes_are_dropped_for_dialects_without_sliding_expiry() {
        let (mailbox, wakes) = mailbox(false);
        mailbox.report_call_succeeded(Generation::new(1));
        assert_eq!(mailbox.take_succeeded(), None);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 0);
        let (mailbox, _) = self::mailbox(true);
        mailbox.report_call_succeeded(Generation::new(2));
        assert_eq!(mailbox.take_succeeded().map(Generation::get), Some(2));
    }

    #[test]
    fn commands_are_acknowledged_once_applied_or_closed() {
        let (mailbox, wakes) = mailbox(false);
        let ack = mailbox.command(Command::Renew);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        let (command, taken) = mailbox.take_command().expect("a queued command");
        assert_eq!(command, Queued::Command(Command::Renew));
        let waiter = std::thread::spawn({
            let ack = ack.clone();
            move || ack.wait_blocking()
        });
        taken.complete(Ok(()));
        assert_eq!(waiter.join().unwrap(), Ok(()));
        // Completing twice keeps the first outcome.
        taken.complete(Err(Closed));
        assert_eq!(ack.wait_blocking(), Ok(()));

        let queued = mailbox.command(Command::Login);
        mailbox.close();
        assert_eq!(queued.wait_blocking(), Err(Closed));
        assert_eq!(mailbox.command(Command::Login).wait_blocking(), Err(Closed));
    }

    #[test]
    fn a_stop_with_revocation_is_not_taken_back() {
        let (mailbox, _) = mailbox(false);
        assert_eq!(mailbox.stop_requested(), None);
        mailbox.stop(true);
        mailbox.stop(false);
        assert_eq!(mailbox.stop_requested(), Some(true));
    }
}
