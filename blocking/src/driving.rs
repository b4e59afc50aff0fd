//! The driving thread: the blocking runtime of the adapter's [`Engine`]. It sends the
//! requests the engine asks for, each on a thread of its own so that time, reports and
//! commands keep reaching the engine while it is out; runs store operations; and sleeps
//! until the engine's moment, an answer, or a wake-up. It decides nothing.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

use oauth_lifecycle::{http, Dialect, RequestId, TokenRequest, TransportError};
use oauth_lifecycle_adapter::transport::{timeout, until};
use oauth_lifecycle_adapter::{Action, Engine, TokenCell};

use crate::clock::Clock;
use crate::transport;

/// What reaches the driving thread.
#[derive(Debug)]
pub(crate) enum Message {
    /// The engine has something new to take (a report, a command, an announcement, a
    /// moved clock).
    Wake,
    /// A request was answered, or failed.
    Answer {
        id: RequestId,
        outcome: Result<http::Response<Vec<u8>>, TransportError>,
    },
}

/// Everything the driving thread owns.
pub(crate) struct Driving<D: Dialect> {
    pub(crate) engine: Engine<D>,
    pub(crate) agent: ureq::Agent,
    pub(crate) clock: Clock,
    pub(crate) inbox: Receiver<Message>,
    /// Where the sending threads post their answers.
    pub(crate) answers: Sender<Message>,
    /// The sending threads, joined when the engine stops: each ends within its
    /// request's deadline.
    pub(crate) senders: Vec<JoinHandle<()>>,
}

impl<D: Dialect> Driving<D> {
    /// Runs the engine until it stops.
    pub(crate) fn run(mut self) {
        let _closed = CloseOnExit(Arc::clone(self.engine.cell()));
        loop {
            match self.engine.poll(self.clock.now()) {
                Action::Send(request) => self.send(request),
                Action::Store(call) => {
                    let answer = call.run();
                    self.engine.handle_store_answer(answer, self.clock.now());
                }
                Action::Wait(moment) => self.wait(moment),
                Action::Stop => break,
            }
        }
        for sender in self.senders.drain(..) {
            let _ = sender.join();
        }
    }

    /// Waits until `moment`, an answer or a wake-up, and hands the engine what came.
    fn wait(&mut self, moment: oauth_lifecycle::time::UtcDateTime) {
        let now = self.clock.now();
        let message = if now < moment {
            self.inbox.recv_timeout(until(moment, now))
        } else {
            Err(RecvTimeoutError::Timeout)
        };
        let now = self.clock.now();
        match message {
            Ok(Message::Answer { id, outcome }) => match outcome {
                Ok(response) => self.engine.handle_response(id, &response, now),
                Err(error) => self.engine.handle_transport_error(id, error, now),
            },
            // This thread holds a sender itself: the channel never disconnects.
            Ok(Message::Wake) | Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                self.engine.handle_timeout(now)
            }
        }
    }

    /// Sends `request` on a thread of its own, which posts the answer back.
    fn send(&mut self, request: TokenRequest) {
        self.senders.retain(|sender| !sender.is_finished());
        let id = request.id();
        let span = tracing::debug_span!(
            "token_request",
            request = id.get(),
            purpose = %request.purpose()
        );
        let agent = self.agent.clone();
        let answers = self.answers.clone();
        let timeout = timeout(&request, self.clock.now());
        let cap = self.engine.policy().max_body_bytes;
        let spawned = std::thread::Builder::new()
            .name("oauth-token-request".into())
            .spawn(move || {
                let _entered = span.enter();
                let outcome = transport::send(&agent, &request, timeout, cap);
                let _ = answers.send(Message::Answer { id, outcome });
            });
        match spawned {
            Ok(sender) => self.senders.push(sender),
            // The request was dropped with the thread that could not start.
            Err(error) => {
                tracing::error!(%error, "could not start a thread to send the request");
                self.engine
                    .handle_transport_error(id, TransportError::NotSent, self.clock.now());
            }
        }
    }
}

/// Closes the read side when the thread ends, however it ends: waiters then fail with
/// `Closed` instead of waiting for a token that will never come.
struct CloseOnExit(Arc<TokenCell>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}
