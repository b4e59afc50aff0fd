//! The driving thread: it runs the [`Pump`], sleeps until the pump's deadline or the next
//! message from a caller, and sends the requests the pump asks for. It decides nothing
//! about the protocol.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Generation, Purpose, TokenRequest, TransportError};
use oauth_lifecycle_adapter::transport::{timeout, until};
use oauth_lifecycle_adapter::{Command, Next, Pump, TokenCell};

use crate::clock::Clock;
use crate::transport;

/// Told to a caller once its command was applied and the session's new status
/// published.
pub(crate) type Ack = SyncSender<()>;

/// What callers send the driving thread.
#[derive(Debug)]
pub(crate) enum Message {
    /// A resource server rejected token `generation`.
    Unauthorized(Generation),
    /// Calls succeeded: the newest generation is in [`Reports::succeeded`].
    CallSucceeded,
    /// Log in now.
    Login(Ack),
    /// Renew now.
    Renew(Ack),
    /// Revoke the session.
    Revoke(Ack),
    /// Drain now: another process stored a session.
    Wake,
    /// Stop, revoking the session first if asked.
    Shutdown {
        /// Whether to revoke first.
        revoke: bool,
    },
}

/// What callers report without a message each time: read and written with atomic
/// operations only, so that reporting costs a caller no lock.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    /// The newest generation a successful call was reported with.
    pub(crate) succeeded: AtomicU64,
    /// Whether a [`Message::CallSucceeded`] is on its way to the thread.
    pub(crate) succeeded_pending: AtomicBool,
    /// The newest generation a 401 was reported with.
    pub(crate) unauthorized: AtomicU64,
}

impl Reports {
    /// Records a successful call with `generation`; true if the thread must be told
    /// (no message is on its way yet).
    pub(crate) fn call_succeeded(&self, generation: Generation) -> bool {
        let generation = generation.get();
        if self.succeeded.load(Ordering::SeqCst) < generation {
            self.succeeded.fetch_max(generation, Ordering::SeqCst);
        }
        // Checked before swapping, so that a burst of reports while one message is on
        // its way only reads the shared flag.
        !self.succeeded_pending.load(Ordering::SeqCst)
            && !self.succeeded_pending.swap(true, Ordering::SeqCst)
    }

    /// Takes the newest successful generation, re-arming the message. Cleared before it
    /// is read: a report made meanwhile sends a message of its own.
    fn take_succeeded(&self) -> u64 {
        self.succeeded_pending.store(false, Ordering::SeqCst);
        self.succeeded.load(Ordering::SeqCst)
    }

    /// Records a 401 with `generation`; true if it is news: a report about the same
    /// token or an older one than an earlier report is what the session answers
    /// `AlreadyWithdrawn` or `Stale` to, so it need not reach the thread.
    pub(crate) fn unauthorized(&self, generation: Generation) -> bool {
        self.unauthorized
            .fetch_max(generation.get(), Ordering::SeqCst)
            < generation.get()
    }
}

/// Why the thread stopped waiting.
enum Woken {
    /// The deadline passed; the time now.
    Deadline(UtcDateTime),
    /// A message came.
    Message(Message),
    /// Every handle is gone.
    Orphaned,
}

/// The most requests sent while shutting down: the revocations of a refresh and an
/// access token, with room to spare.
const MAX_SHUTDOWN_REQUESTS: usize = 8;

/// Everything the driving thread owns.
pub(crate) struct Driving<D: Dialect> {
    pub(crate) pump: Pump<D>,
    pub(crate) agent: ureq::Agent,
    pub(crate) clock: Clock,
    pub(crate) messages: Receiver<Message>,
    pub(crate) reports: Arc<Reports>,
    /// The caller of the command applied last, told once the status it led to is
    /// published.
    pub(crate) applied: Option<Ack>,
}

impl<D: Dialect> Driving<D> {
    /// Runs until shut down, then closes the read side.
    pub(crate) fn run(mut self) {
        let _closed = CloseOnExit(Arc::clone(self.pump.cell()));
        let revoke = loop {
            let next = self.pump.next(self.clock.now());
            if let Some(applied) = self.applied.take() {
                let _ = applied.try_send(());
            }
            match next {
                Next::Send(request) => self.send(request),
                Next::Wait(deadline) => match self.wait(deadline) {
                    Woken::Deadline(now) => self.pump.handle_timeout(now),
                    Woken::Message(Message::Shutdown { revoke }) => break revoke,
                    Woken::Message(message) => self.apply(message),
                    Woken::Orphaned => break false,
                },
            }
        };
        self.stop(revoke);
    }

    /// Waits until `deadline` (for ever with `None`) or the next message.
    fn wait(&self, deadline: Option<UtcDateTime>) -> Woken {
        loop {
            let now = self.clock.now();
            let left = match deadline {
                Some(deadline) if now >= deadline => return Woken::Deadline(now),
                Some(deadline) => until(deadline, now).min(self.clock.recheck),
                None => self.clock.recheck,
            };
            match self.messages.recv_timeout(left) {
                Ok(message) => return Woken::Message(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Woken::Orphaned,
            }
        }
    }

    fn apply(&mut self, message: Message) {
        let now = self.clock.now();
        let command = match message {
            Message::Unauthorized(generation) => Command::Unauthorized(generation),
            Message::CallSucceeded => {
                let newest = self.reports.take_succeeded();
                match generation_from(newest) {
                    Some(generation) => Command::CallSucceeded(generation),
                    None => return,
                }
            }
            Message::Login(applied) => {
                self.applied = Some(applied);
                Command::Login
            }
            Message::Renew(applied) => {
                self.applied = Some(applied);
                Command::Renew
            }
            Message::Revoke(applied) => {
                self.applied = Some(applied);
                Command::Revoke
            }
            Message::Wake | Message::Shutdown { .. } => return,
        };
        self.pump.handle(command, now);
    }

    /// Sends one request and hands its answer, or its failure, to the pump.
    fn send(&mut self, request: TokenRequest) {
        let id = request.id();
        let span = tracing::debug_span!(
            "token_request",
            request = id.get(),
            purpose = %request.purpose()
        );
        let _entered = span.enter();
        let cap = self.pump.driver().policy().max_body_bytes;
        let answer = transport::send(
            &self.agent,
            &request,
            timeout(&request, self.clock.now()),
            cap,
        );
        match answer {
            Ok(response) => self.pump.handle_response(id, &response, self.clock.now()),
            Err(error) => self
                .pump
                .handle_transport_error(id, error, self.clock.now()),
        }
    }

    /// Revokes if asked, sends the revocations the session has pending, and stops. A
    /// login or refresh due meanwhile is not sent, and the session is told so: its store
    /// then keeps an unspent refresh token for the next start.
    fn stop(&mut self, revoke: bool) {
        tracing::info!(revoke, "token manager shutting down");
        if revoke {
            self.pump.handle(Command::Revoke, self.clock.now());
        }
        for _ in 0..MAX_SHUTDOWN_REQUESTS {
            match self.pump.next(self.clock.now()) {
                Next::Send(request) if matches!(request.purpose(), Purpose::Revoke(_)) => {
                    self.send(request);
                }
                Next::Send(request) => {
                    tracing::debug!(
                        request = request.id().get(),
                        purpose = %request.purpose(),
                        "not sent: the manager is stopping"
                    );
                    self.pump.handle_transport_error(
                        request.id(),
                        TransportError::NotSent,
                        self.clock.now(),
                    );
                }
                Next::Wait(_) => break,
            }
        }
        self.pump.cell().close();
    }
}

/// The generation numbered `n`, if any token had it (0 means "none reported"). Reports
/// travel as numbers, so that reporting needs no lock.
fn generation_from(n: u64) -> Option<Generation> {
    (n != 0).then_some(Generation::new(n))
}

/// Closes the read side when the thread ends, however it ends: waiters then fail with
/// `Closed` instead of waiting for a token that will never come.
struct CloseOnExit(Arc<TokenCell>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_travel_as_numbers() {
        assert_eq!(generation_from(0), None);
        assert_eq!(generation_from(7).map(Generation::get), Some(7));
    }

    #[test]
    fn a_burst_of_reported_successes_sends_one_message() {
        let reports = Reports::default();
        let g = |n| generation_from(n).unwrap();
        assert!(reports.call_succeeded(g(1)));
        assert!(!reports.call_succeeded(g(2)));
        assert!(!reports.call_succeeded(g(1)));
        assert_eq!(reports.take_succeeded(), 2);
        assert!(reports.call_succeeded(g(2)));
    }

    #[test]
    fn only_news_of_a_401_reaches_the_thread() {
        let reports = Reports::default();
        let g = |n| generation_from(n).unwrap();
        assert!(reports.unauthorized(g(3)));
        assert!(!reports.unauthorized(g(3)));
        assert!(!reports.unauthorized(g(2)));
        assert!(reports.unauthorized(g(4)));
    }
}
