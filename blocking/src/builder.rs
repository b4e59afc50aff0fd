//! Configuring a manager before it starts: its store, HTTP agent, clock, name, and
//! whether it revokes the session on shutdown.

use std::fmt;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, LoginPrompt, Policy};
use oauth_lifecycle_adapter::{Engine, LoginPromptCallback, SessionStore, StoreCall, Wake};

use crate::clock::Clock;
use crate::driving::{Driving, Message};
use crate::manager::{Inner, TokenManager};
use crate::transport;

/// A [`TokenManager`] being configured; [`start`](Self::start) starts it.
///
/// ```no_run
/// # use oauth_lifecycle::{dialect::Standard, Policy};
/// # use oauth_lifecycle_blocking::{FileStore, FileStoreOptions, TokenManager};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dialect = Standard::builder("https://auth.example/token", "client").build()?;
/// let store = FileStore::new("/var/lib/app/session.json", FileStoreOptions::plaintext());
/// let tokens = TokenManager::builder(dialect, Policy::default())
///     .store(store)
///     .revoke_on_shutdown(true)
///     .name("billing-api")
///     .start()?;
/// # Ok(()) }
/// ```
pub struct TokenManagerBuilder<D> {
    dialect: D,
    policy: Policy,
    store: Option<Arc<dyn SessionStore>>,
    agent: Option<ureq::Agent>,
    clock: Option<Arc<dyn Fn() -> UtcDateTime + Send + Sync>>,
    revoke_on_shutdown: bool,
    name: String,
    on_login_prompt: Option<LoginPromptCallback>,
}

/// Why a manager could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The dialect or policy is invalid, or the store could not be read or holds
    /// something that is not a session of this dialect (nothing was overwritten).
    #[error(transparent)]
    Session(#[from] oauth_lifecycle_adapter::StartError),
    /// The background thread could not be started; the source says why.
    #[error("could not start the token manager's thread")]
    Thread(#[source] std::io::Error),
}

/// The ways to start a manager: at once, or configured first.
impl TokenManager {
    /// Starts a manager for `dialect` with the system clock, the default ureq agent, no
    /// store, and no revocation on shutdown: the one-line use. The background thread
    /// logs in at once.
    pub fn start<D: Dialect>(dialect: D, policy: Policy) -> Result<TokenManager, StartError> {
        Self::builder(dialect, policy).start()
    }

    /// A manager to configure before starting it.
    pub fn builder<D: Dialect>(dialect: D, policy: Policy) -> TokenManagerBuilder<D> {
        TokenManagerBuilder::new(dialect, policy)
    }
}

impl<D: Dialect> TokenManagerBuilder<D> {
    pub(crate) fn new(dialect: D, policy: Policy) -> Self {
        TokenManagerBuilder {
            dialect,
            policy,
            store: None,
            agent: None,
            clock: None,
            revoke_on_shutdown: false,
            name: "oauth-token".into(),
            on_login_prompt: None,
        }
    }

    /// Calls `show` with the prompt of every person's login
    /// ([`TokenManager::login_with_device`], [`TokenManager::login_in_browser`]): the
    /// code and where to enter it, or the URL to open in the person's browser (which
    /// carries the request's `state`: hand it to the browser, not to a log).
    ///
    /// `show` runs on the manager's background thread: return quickly (print, hand the
    /// URL to a browser launcher, post to a channel), never wait for the person, and
    /// never call the manager and wait for it from there. A panic in it is caught and
    /// traced. The prompt also stays in [`TokenManager::status`]
    /// ([`Status::AwaitingPerson`](oauth_lifecycle::Status::AwaitingPerson)) until the
    /// login ends.
    pub fn on_login_prompt(mut self, show: impl Fn(&LoginPrompt) + Send + Sync + 'static) -> Self {
        self.on_login_prompt = Some(Arc::new(show));
        self
    }

    /// Keeps the session in `store`: read at start (a restarted process resumes without
    /// logging in again), written at every persistence point of the core (before a
    /// single-use refresh token is sent, and after every change of the token). Processes
    /// sharing a store never both spend one refresh token. To share one store between
    /// managers of this process, pass an `Arc` of it: an `Arc` of a store is a store.
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Sends token requests with `agent` (its proxy, TLS and connection settings). For
    /// each request the manager overrides three things: every HTTP status comes back as
    /// an answer, redirects are not followed, and the whole exchange is bounded by the
    /// core's deadline for it. Give the agent a connect timeout shorter than the policy's
    /// response timeout, so that a server that never accepts the connection is known not
    /// to have received the request (the default agent's is
    /// [`transport::connect_timeout`](oauth_lifecycle_adapter::transport::connect_timeout)),
    /// and keep no idle connections longer than the server does (the default agent keeps
    /// none): a pooled connection the server closed turns a refresh into one whose
    /// outcome is unknown.
    pub fn agent(mut self, agent: ureq::Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// Revokes the session when the manager shuts down (explicitly, or when its last
    /// clone is dropped: then in the background, without waiting). Default false: the
    /// session, persisted, outlives the process.
    pub fn revoke_on_shutdown(mut self, yes: bool) -> Self {
        self.revoke_on_shutdown = yes;
        self
    }

    /// Names the manager: the `name` field of its tracing span and its thread's name.
    /// Default `oauth-token`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Reads the time from `now` instead of the system clock: simulated time in tests
    /// (with the clock of the emulator's front), or a clock corrected by the program.
    /// The background thread reads such a clock every few milliseconds while it waits
    /// ([`SUPPLIED_CLOCK_RECHECK`](oauth_lifecycle_adapter::SUPPLIED_CLOCK_RECHECK)), and
    /// at once after [`TokenManager::clock_moved`].
    pub fn clock(mut self, now: impl Fn() -> UtcDateTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    /// Starts the manager: reads the store, publishes a valid stored token (readable as
    /// soon as this returns), then starts the background thread, which logs in (or
    /// renews) at once if needed.
    pub fn start(self) -> Result<TokenManager, StartError> {
        let clock = match self.clock {
            Some(now) => Clock::supplied(now),
            None => Clock::system(),
        };
        let span = tracing::info_span!("token_manager", name = %self.name);
        let (messages, inbox) = mpsc::channel();
        let wake = messages.clone();
        let wake: Arc<dyn Wake> = Arc::new(move || {
            let _ = wake.send(Message::Wake);
        });
        let agent = self
            .agent
            .unwrap_or_else(|| transport::default_agent(&self.policy));
        let mut engine = span.in_scope(|| {
            Engine::start(
                self.dialect,
                self.policy,
                self.store,
                wake,
                clock.source,
                clock.now(),
                StoreCall::run,
            )
        })?;
        if let Some(show) = self.on_login_prompt {
            engine.on_login_prompt(show);
        }
        let authorization_requests = engine.authorization_requests();
        let cell = Arc::clone(engine.cell());
        let mailbox = Arc::clone(engine.mailbox());
        let driving = Driving {
            engine,
            agent,
            clock,
            inbox,
            answers: messages,
            senders: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            // A thread's name may hold no NUL; the system shows its first 15 bytes.
            .name(self.name.replace('\0', ""))
            .spawn(move || span.in_scope(|| driving.run()))
            .map_err(StartError::Thread)?;
        Ok(TokenManager::from_inner(Inner {
            name: self.name,
            cell,
            mailbox,
            thread: Mutex::new(Some(thread)),
            revoke_on_shutdown: self.revoke_on_shutdown,
            authorization_requests,
        }))
    }
}

impl<D: Dialect> fmt::Debug for TokenManagerBuilder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManagerBuilder")
            .field("dialect", &self.dialect)
            .field("policy", &self.policy)
            .field("store", &self.store.is_some())
            .field("agent", &self.agent.is_some())
            .field("clock", &self.clock.is_some())
            .field("revoke_on_shutdown", &self.revoke_on_shutdown)
            .field("name", &self.name)
            .field("on_login_prompt", &self.on_login_prompt.is_some())
            .finish()
    }
}
