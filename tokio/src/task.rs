//! The manager's one background task: it runs the adapter's [`Pump`], waits for the
//! core's deadline or a caller's command, whichever comes first, and sends requests with
//! reqwest. It decides nothing: every decision is the core's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, TokenRequest};
use oauth_lifecycle_adapter::{transport, Command, Next, Pump, TokenCell};
use tokio::sync::mpsc;

use crate::reports::Reports;

/// The clock the task reads `now` from.
pub(crate) type Clock = Arc<dyn Fn() -> UtcDateTime + Send + Sync>;

/// The longest the task sleeps without reading the clock again. A monotonic timer stops
/// while the machine is suspended, the wall clock does not: a token that expired during
/// a suspension is withdrawn at most this late.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// What a handle asks of the task, besides the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Login,
    Renew,
    Revoke,
    /// Stop, after revoking the session if asked to.
    Shutdown {
        revoke: bool,
    },
}

/// What the task shares with the handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) cell: Arc<TokenCell>,
    pub(crate) reports: Reports,
    /// Whether the dialect slides a token's expiry on successful calls: if not, reporting
    /// them is pointless and costs nothing.
    pub(crate) sliding: bool,
}

pub(crate) struct Task<D: Dialect> {
    pub(crate) pump: Pump<D>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    pub(crate) client: reqwest::Client,
    pub(crate) clock: Clock,
}

/// Closes the read side when the task ends, however it ends (returned, aborted, or
/// panicked): waiters then fail at once with `Closed` instead of running out their time.
struct CloseOnExit(Arc<TokenCell>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// How a send ended for the loop.
enum Sent {
    Answered,
    /// A shutdown without revocation arrived meanwhile: stop now.
    Stop,
}

impl<D: Dialect> Task<D> {
    pub(crate) async fn run(mut self) {
        let _close = CloseOnExit(Arc::clone(&self.shared.cell));
        // Commands that arrived while a request was in flight, applied after its answer.
        let mut queued: VecDeque<Command> = VecDeque::new();
        let mut stopping = false;
        loop {
            let now = (self.clock)();
            let deadline = match self.pump.next(now) {
                Next::Send(request) => match self.send(request, &mut queued, &mut stopping).await {
                    Sent::Answered => continue,
                    Sent::Stop => return,
                },
                Next::Wait(deadline) => deadline,
            };
            // Inputs go in with the time they are applied: reports and clock moves may
            // have come while the pump drained.
            let now = (self.clock)();
            if let Some(command) = queued.pop_front() {
                self.pump.handle(command, now);
                continue;
            }
            if stopping {
                // The revocation asked for at shutdown is done.
                return;
            }
            if self.apply_reports() {
                continue;
            }
            if deadline.is_some_and(|deadline| deadline <= now) {
                self.pump.handle_timeout(now);
                continue;
            }
            let sleep = deadline.map(|deadline| transport::until(deadline, now).min(MAX_SLEEP));
            tokio::select! {
                () = sleep_for(sleep) => {}
                () = self.shared.reports.woken() => {}
                control = self.control.recv() => match control {
                    Some(Control::Login) => self.pump.handle(Command::Login, (self.clock)()),
                    Some(Control::Renew) => self.pump.handle(Command::Renew, (self.clock)()),
                    Some(Control::Revoke) => self.pump.handle(Command::Revoke, (self.clock)()),
                    Some(Control::Shutdown { revoke: true }) => {
                        self.pump.handle(Command::Revoke, (self.clock)());
                        stopping = true;
                    }
                    Some(Control::Shutdown { revoke: false }) | None => return,
                },
            }
        }
    }

    /// Applies the pending reports; whether there were any.
    fn apply_reports(&mut self) -> bool {
        let reports = &self.shared.reports;
        let unauthorized = reports.take_unauthorized();
        let succeeded = reports.take_succeeded();
        if unauthorized.is_none() && succeeded.is_none() {
            return false;
        }
        // Read after taking them: a report is applied no earlier than it was made.
        let now = (self.clock)();
        if let Some(generation) = unauthorized {
            self.pump.handle(Command::Unauthorized(generation), now);
        }
        if let Some(generation) = succeeded {
            self.pump.handle(Command::CallSucceeded(generation), now);
        }
        true
    }

    /// Sends `request` and hands back its answer or its failure. Commands arriving
    /// meanwhile are queued; a shutdown without revocation drops the request.
    async fn send(
        &mut self,
        request: TokenRequest,
        queued: &mut VecDeque<Command>,
        stopping: &mut bool,
    ) -> Sent {
        let now = (self.clock)();
        let id = request.id();
        let timeout = transport::timeout(&request, now);
        let max_body_bytes = self.pump.driver().policy().max_body_bytes;
        let exchange = crate::transport::send(
            &self.client,
            request.into_request(),
            timeout,
            max_body_bytes,
        );
        tokio::pin!(exchange);
        let outcome = loop {
            tokio::select! {
                biased;
                outcome = &mut exchange => break outcome,
                control = self.control.recv() => match control {
                    Some(Control::Login) => queued.push_back(Command::Login),
                    Some(Control::Renew) => queued.push_back(Command::Renew),
                    Some(Control::Revoke) => queued.push_back(Command::Revoke),
                    Some(Control::Shutdown { revoke: true }) => {
                        queued.push_back(Command::Revoke);
                        *stopping = true;
                    }
                    Some(Control::Shutdown { revoke: false }) | None => return Sent::Stop,
                },
            }
        };
        let now = (self.clock)();
        match outcome {
            Ok(response) => self.pump.handle_response(id, &response, now),
            Err(error) => self.pump.handle_transport_error(id, error, now),
        }
        Sent::Answered
    }
}

async fn sleep_for(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}
