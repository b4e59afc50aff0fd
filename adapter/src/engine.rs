//! The manager engine: everything about running one session in a process, sans-IO like
//! the core. Its contract and loop are on [`Engine`].

use std::sync::Arc;

use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{
    Dialect, Driver, Event, Output, Policy, Purpose, RequestId, TokenRequest, TransportError,
};

mod mailbox;
mod persistence;
mod person_login;

use self::mailbox::Queued;
pub use self::mailbox::{Ack, Closed, Command, Mailbox, Wake};
use self::persistence::Persistence;
pub use self::persistence::StoreCall;
pub use self::person_login::{
    AuthorizationRequests, LoginPromptCallback, PersonLoginCommand, PersonLoginError,
    RedirectTarget, Refusal,
};
use crate::coordinator::StoreAnswer;
use crate::published::TokenCell;
use crate::store::{SessionStore, StoreError};
use crate::trace;

/// What the runtime must do next.
#[derive(Debug)]
#[must_use = "send, store, wait or stop, as the engine says"]
// Returned once per poll and moved straight into the runtime: boxing the request would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// Send this request, within [`transport::timeout`](crate::transport::timeout), and
    /// hand back its answer or its failure when it comes. Keep polling meanwhile.
    Send(TokenRequest),
    /// Run this store operation and hand its answer to
    /// [`Engine::handle_store_answer`] before polling again.
    Store(StoreCall),
    /// Nothing to do before this moment, unless a request is answered or the runtime is
    /// woken: then call [`Engine::handle_timeout`] (or the input that woke it) and poll.
    Wait(UtcDateTime),
    /// The engine has stopped: the read side is closed. End the loop.
    Stop,
}

/// Which clock the runtime reads `now` from, which says how often the engine wants it
/// read again while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClockSource {
    /// The system clock. It may jump (an NTP step) and a suspended machine's timers do
    /// not count the time it slept: the engine asks for it to be read at least every
    /// [`SYSTEM_CLOCK_RECHECK`].
    System,
    /// A clock the program supplies (simulated time in tests, a corrected clock), which
    /// may be moved at any moment: read at least every [`SUPPLIED_CLOCK_RECHECK`], and at
    /// once after [`Mailbox::wake`].
    Supplied,
}

/// The longest wait without reading the system clock again.
pub const SYSTEM_CLOCK_RECHECK: Duration = Duration::seconds(1);

/// The longest wait without reading a supplied clock again.
pub const SUPPLIED_CLOCK_RECHECK: Duration = Duration::milliseconds(5);

/// Why an engine could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The dialect or policy is invalid.
    #[error(transparent)]
    Config(#[from] oauth_lifecycle::ConfigError),
    /// The store could not be read (for a fleet's store: holds something unreadable),
    /// or holds something that is not a session of this dialect. Nothing was
    /// overwritten.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Upper bound on outputs drained in one poll: far above what one input produces.
const MAX_OUTPUTS: usize = 1024;

/// Upper bound on commands applied in one poll; the rest wait for the next.
const MAX_COMMANDS: usize = 64;

/// Upper bound on the polls [`Engine::start`] runs before returning.
const MAX_START_STEPS: usize = 16;

/// The most revocation requests sent while stopping: a refresh and an access token,
/// with room for retries.
const MAX_STOPPING_REQUESTS: usize = 8;

/// The manager engine: everything about running one session in a process, sans-IO like
/// the core, driven by a small runtime (a thread with ureq, a tokio task with reqwest, or
/// any other) as quinn drives quinn-proto.
///
/// The engine owns the core's [`Driver`], the read side ([`TokenCell`]), the store and
/// the fleet protocol, the callers' reports and commands ([`Mailbox`]), the shutdown
/// sequence and the token waits. It never sends, stores, sleeps or reads a clock: inputs
/// are `handle_*` methods, each taking `now`, and [`Engine::poll`] says what the runtime
/// must do next.
///
/// # The runtime's loop
///
/// Every runtime runs this loop; here, a whole runtime in a test, sending to an
/// in-process emulator in simulated time (a real one spawns each exchange and keeps
/// polling while it is out):
///
/// ```
/// use std::sync::Arc;
///
/// use oauth_lifecycle::dialect::Standard;
/// use oauth_lifecycle::time::{macros::utc_datetime, Duration};
/// use oauth_lifecycle::{Policy, Status};
/// use oauth_lifecycle_adapter::{Action, ClockSource, Engine, StoreCall};
/// use oauth_lifecycle_emulator::{Emulator, StandardServer, StandardServerConfig};
///
/// let mut provider = StandardServer::new(StandardServerConfig::default());
/// let dialect = Standard::builder("http://127.0.0.1/token", "emulated-client")
///     .client_secret("emulated-secret")
///     .build()?;
/// let mut now = utc_datetime!(2026-10-01 08:00:00);
/// let wake = Arc::new(|| {}); // a runtime wakes its thread or task here
/// let mut engine = Engine::start(
///     dialect, Policy::default(), None, wake, ClockSource::Supplied, now, StoreCall::run,
/// )?;
/// for _ in 0..100 {
///     match engine.poll(now) {
///         // A real runtime sends it on its own and goes on polling meanwhile.
///         Action::Send(request) => {
///             let response = provider.handle(request.request(), now);
///             engine.handle_response(request.id(), &response, now);
///         }
///         // Run where blocking is allowed, and answer before polling again.
///         Action::Store(call) => engine.handle_store_answer(call.run(), now),
///         // Sleep until the moment, an answer or a wake-up; here, jump there.
///         Action::Wait(moment) => {
///             now = moment.max(now + Duration::seconds(30));
///             engine.handle_timeout(now);
///         }
///         Action::Stop => break,
///     }
/// }
/// // Fifty simulated minutes in: the hour-long token was renewed at its refresh moment.
/// assert_eq!(engine.cell().status(), Status::Ready);
/// assert!(engine.cell().generation().is_some_and(|g| g.get() > 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Time keeps running while a request is out: the runtime keeps waiting on moments and
/// wake-ups, so a token is withdrawn at its hard expiry by the core's own event, and
/// reports and commands are applied at once. `docs/adapters.md` states the runtime
/// contract and the behaviour table every manager shares.
pub struct Engine<D: Dialect> {
    driver: Driver<Arc<D>>,
    cell: Arc<TokenCell>,
    mailbox: Arc<Mailbox>,
    persistence: Persistence,
    recheck: Duration,
    /// A request drained by `start`, handed out by the first poll.
    unsent: Option<TokenRequest>,
    /// Commands applied, acknowledged once the status they led to is published.
    applied: Vec<Ack>,
    /// The last request handed to the runtime, and whether a stop must await its
    /// answer: a revocation, or a request that may not be sent twice (its answer holds
    /// the only copy of the new tokens).
    sent: Option<(RequestId, bool)>,
    /// Set once a stop was taken: how many revocations were sent since.
    stopping: Option<usize>,
    stopped: bool,
    /// The application's prompt callback, if it gave one.
    on_login_prompt: Option<LoginPromptCallback>,
}

// Construction and getters.
impl<D: Dialect> Engine<D> {
    /// Starts from what `store` holds (read with `run`, which runs a [`StoreCall`]: pass
    /// [`StoreCall::run`]), or from a new session when it holds nothing or there is no
    /// store. A request the stored session had in flight is lost with the process that
    /// sent it: the core treats it so. A fleet's store that cannot be reached
    /// ([`StoreError::Unavailable`]) starts the process detached; any other store
    /// failure is returned.
    ///
    /// Before it returns, everything that needs no request is done: a valid stored
    /// token is already published in [`cell`](Self::cell), with its status.
    pub fn start(
        dialect: D,
        policy: Policy,
        store: Option<Arc<dyn SessionStore>>,
        wake: Arc<dyn Wake>,
        clock: ClockSource,
        now: UtcDateTime,
        mut run: impl FnMut(StoreCall) -> StoreAnswer,
    ) -> Result<Self, StartError> {
        let dialect = Arc::new(dialect);
        let sliding = dialect.sliding_lifetime().is_some();
        let mailbox = Arc::new(Mailbox::new(sliding, wake));
        let (persistence, stored) = Persistence::start(store, &policy, &mut run, now)?;
        let driver = match &stored {
            Some(stored) => {
                let session = stored.restore(dialect, policy)?;
                tracing::info!(
                    revision = stored.revision,
                    generation = stored.generation.get(),
                    "session restored from the store"
                );
                Driver::from_session(session)
            }
            None => Driver::new(dialect, policy)?,
        };
        if let Some(store) = persistence.store() {
            // Another process stored a session: poll now, not at the next look.
            let woken = Arc::downgrade(&mailbox);
            store.on_announcement(Arc::new(move || {
                if let Some(mailbox) = woken.upgrade() {
                    mailbox.wake();
                }
            }));
        }
        let mut engine = Engine {
            driver,
            cell: Arc::new(TokenCell::new()),
            mailbox,
            persistence,
            recheck: match clock {
                ClockSource::System => SYSTEM_CLOCK_RECHECK,
                ClockSource::Supplied => SUPPLIED_CLOCK_RECHECK,
            },
            unsent: None,
            sent: None,
            applied: Vec::new(),
            stopping: None,
            stopped: false,
            on_login_prompt: None,
        };
        engine.driver.handle_timeout(now);
        for _ in 0..MAX_START_STEPS {
            match engine.poll(now) {
                Action::Store(call) => {
                    let answer = run(call);
                    engine.handle_store_answer(answer, now);
                }
                Action::Send(request) => {
                    engine.unsent = Some(request);
                    break;
                }
                Action::Wait(_) | Action::Stop => break,
            }
        }
        Ok(engine)
    }

    /// The driver, for its getters.
    pub fn driver(&self) -> &Driver<Arc<D>> {
        &self.driver
    }

    /// The read side the engine publishes to: hand it to the manager's handles.
    pub fn cell(&self) -> &Arc<TokenCell> {
        &self.cell
    }

    /// Where callers leave reports and commands: hand it to the manager's handles.
    pub fn mailbox(&self) -> &Arc<Mailbox> {
        &self.mailbox
    }

    /// The policy: the response timeout and the body cap a transport applies.
    pub fn policy(&self) -> &Policy {
        self.driver.policy()
    }

    /// Whether the engine has stopped.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Calls `callback` with every prompt of a person's login
    /// ([`Event::LoginPrompt`]): the device grant's code, or the browser's URL. It runs
    /// on the runtime's thread or task, inside [`poll`](Self::poll): it must return
    /// quickly ([`LoginPromptCallback`] says more). The prompt also stays in the status
    /// ([`Status::AwaitingPerson`](oauth_lifecycle::Status::AwaitingPerson)) until the
    /// login ends. Replaces an earlier callback.
    pub fn on_login_prompt(&mut self, callback: LoginPromptCallback) {
        self.on_login_prompt = Some(callback);
    }

    /// Builds the authorization requests of browser logins for this engine's dialect,
    /// with fresh entropy: for a runtime's handles, which bind the listener first and
    /// then start the login with [`PersonLoginCommand::StartBrowser`].
    pub fn authorization_requests(&self) -> AuthorizationRequests {
        AuthorizationRequests::of(std::sync::Arc::clone(self.driver.session().dialect()))
    }
}

// Inputs.
impl<D: Dialect> Engine<D> {
    /// Shows the engine the time: a moment it asked for came, or the runtime was woken.
    /// Extra calls are harmless.
    pub fn handle_timeout(&mut self, now: UtcDateTime) {
        self.driver.handle_timeout(now);
    }

    /// Hands back the answer to request `id`, whatever its status. An answer to a
    /// request the session no longer waits for (it timed out, or the session was
    /// replaced) is ignored.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: &oauth_lifecycle::http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) {
        trace::response(id, response.status().as_u16());
        if let Err(misuse) = self.driver.handle_response(id, response, now) {
            tracing::debug!(request = id.get(), %misuse, "answer ignored");
        }
    }

    /// Reports that request `id` failed in transport, saying whether it may have left.
    pub fn handle_transport_error(
        &mut self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) {
        trace::transport_error(id, error);
        if let Err(misuse) = self.driver.handle_transport_error(id, error, now) {
            tracing::debug!(request = id.get(), %misuse, "transport error ignored");
        }
    }

    /// Hands back the answer to the [`Action::Store`] the last poll returned.
    pub fn handle_store_answer(&mut self, answer: StoreAnswer, now: UtcDateTime) {
        self.store_answered(answer, now);
    }
}

// Output.
impl<D: Dialect> Engine<D> {
    /// What the runtime must do next. Takes the callers' reports and commands, continues
    /// a store sequence under way, and drains the driver: events go to the read side and
    /// the traces, persistence points to the store; it returns at a request to send, a
    /// store operation to run, a moment to wait for, or the stop.
    pub fn poll(&mut self, now: UtcDateTime) -> Action {
        if self.stopped {
            return Action::Stop;
        }
        if let Some(request) = self.unsent.take() {
            return Action::Send(request);
        }
        if self.persistence.is_waiting_for_store() {
            tracing::error!("polled before the store operation was answered");
            return Action::Wait(now.saturating_add(self.recheck));
        }
        if let Some(action) = self.resume(now) {
            return action;
        }
        self.take_mail(now);
        if let Some(action) = self.fleet_sync(now) {
            return action;
        }
        for _ in 0..MAX_OUTPUTS {
            match self.driver.poll_output() {
                Output::Request(request) => {
                    if let Some(action) = self.clear(request, now) {
                        return action;
                    }
                }
                Output::Event(event) => self.observe(&event, now),
                Output::Persist => {
                    if let Some(action) = self.persist(now) {
                        return action;
                    }
                }
                Output::Timeout(deadline) => return self.settle(Some(deadline), now),
                Output::Idle => return self.settle(None, now),
            }
        }
        self.settle(self.driver.next_deadline(), now)
    }
}

// The drain's pieces.
impl<D: Dialect> Engine<D> {
    /// Applies the callers' stop, commands and reports.
    fn take_mail(&mut self, now: UtcDateTime) {
        if self.stopping.is_none() {
            if let Some(revoke) = self.mailbox.stop_requested() {
                tracing::info!(revoke, "token manager shutting down");
                self.stopping = Some(0);
                if revoke {
                    self.driver.revoke(now);
                }
            }
        }
        let mut taken = 0;
        while let Some((command, ack)) = self.mailbox.take_command() {
            if self.stopping.is_some() {
                ack.complete(Err(Closed));
                continue;
            }
            let refusal = match command {
                Queued::Command(command) => self.apply(command, now),
                Queued::PersonLogin(command) => self.apply_person_login(command, now),
            };
            if let Some(refusal) = refusal {
                ack.refuse(refusal);
            }
            self.applied.push(ack);
            taken += 1;
            if taken == MAX_COMMANDS {
                // The rest at the next poll, which the runtime makes at once.
                self.mailbox.wake();
                break;
            }
        }
        if let Some(generation) = self.mailbox.take_unauthorized() {
            let answer = self.driver.handle_unauthorized(generation, now);
            tracing::info!(generation = generation.get(), answer = ?answer, "401 reported");
        }
        if let Some(generation) = self.mailbox.take_succeeded() {
            self.driver.handle_call_succeeded(generation, now);
        }
    }

    /// Applies one command; returns why the session refused it, if it did.
    fn apply(&mut self, command: Command, now: UtcDateTime) -> Option<Refusal> {
        match command {
            Command::Login => {
                if let Err(misuse) = self.driver.login(now) {
                    tracing::warn!(%misuse, "login refused");
                    return Some(Refusal::Misuse(misuse));
                }
            }
            Command::Renew => {
                tracing::info!("renewal asked for");
                if let Err(misuse) = self.driver.renew(now) {
                    tracing::warn!(%misuse, "renewal refused");
                    return Some(Refusal::Misuse(misuse));
                }
            }
            Command::Revoke => {
                tracing::info!("revoking the session");
                self.driver.revoke(now);
            }
            // The reports taken with it are applied before its acknowledgement.
            Command::Flush => self.driver.handle_timeout(now),
        }
        None
    }

    fn observe(&mut self, event: &Event, now: UtcDateTime) {
        trace::event(event, now);
        self.cell.apply(event);
        if let (Event::LoginPrompt(prompt), Some(callback)) = (event, &self.on_login_prompt) {
            self::person_login::show(callback, prompt);
        }
    }

    /// A request the session wants sent: while stopping, only revocations leave (a
    /// login or refresh is told it was not sent, so the store keeps an unspent refresh
    /// token for the next start); in a fleet, the coordinator decides.
    fn clear(&mut self, request: TokenRequest, now: UtcDateTime) -> Option<Action> {
        if let Some(sent) = self.stopping.as_mut() {
            let revocation = matches!(request.purpose(), Purpose::Revoke(_));
            if !revocation || *sent >= MAX_STOPPING_REQUESTS {
                tracing::debug!(
                    request = request.id().get(),
                    purpose = %request.purpose(),
                    "not sent: the manager is stopping"
                );
                self.handle_transport_error(request.id(), TransportError::NotSent, now);
                return None;
            }
            *sent += 1;
        }
        self.clear_for_fleet(request, now)
    }

    fn send(&mut self, request: TokenRequest) -> Action {
        trace::request(&request);
        let awaited = matches!(request.purpose(), Purpose::Revoke(_)) || !request.is_resend_safe();
        self.sent = Some((request.id(), awaited));
        // Callers waiting while it is out see the session renewing.
        self.publish_status();
        Action::Send(request)
    }

    fn settle(&mut self, deadline: Option<UtcDateTime>, now: UtcDateTime) -> Action {
        self.publish_status();
        if self.stopping.is_some() && !self.must_await_answer() {
            return self.stop();
        }
        let recheck = now.saturating_add(self.recheck);
        let moment = [deadline, self.fleet_deadline()]
            .into_iter()
            .flatten()
            .fold(recheck, UtcDateTime::min);
        Action::Wait(moment)
    }

    /// Whether a stop waits for the request out: a revocation, or one that may not be
    /// sent twice. A login or a reusable refresh is abandoned: the next start sends it
    /// again.
    fn must_await_answer(&self) -> bool {
        matches!(
            (self.driver.in_flight(), self.sent),
            (Some((id, _)), Some((sent, true))) if id == sent
        )
    }

    fn publish_status(&mut self) {
        let status = self.driver.status();
        trace::status(&status);
        self.cell.set_status(status);
        for ack in self.applied.drain(..) {
            ack.complete(Ok(()));
        }
    }

    fn stop(&mut self) -> Action {
        tracing::info!("token manager stopped");
        self.stopped = true;
        for ack in self.applied.drain(..) {
            ack.complete(Ok(()));
        }
        self.mailbox.close();
        self.cell.close();
        Action::Stop
    }
}

impl<D: Dialect> std::fmt::Debug for Engine<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("driver", &self.driver)
            .field("cell", &self.cell)
            .field("persistence", &self.persistence)
            .field("stopping", &self.stopping.is_some())
            .field("stopped", &self.stopped)
            .finish_non_exhaustive()
    }
}
