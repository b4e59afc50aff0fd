//! How a [`TokenManager`] is configured and started.

use std::fmt;
use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, LoginPrompt, Policy};
use oauth_lifecycle_adapter::{
    ClockSource, Engine, LoginPromptCallback, SessionStore, StoreCall, Wake,
};
use tokio::sync::Notify;
use tracing::Instrument as _;

use crate::manager::TokenManager;
use crate::task::{Clock, Task};

/// Why a [`TokenManager`] could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The dialect or policy is invalid, or the store could not be read (nothing was
    /// overwritten).
    #[error(transparent)]
    Session(#[from] oauth_lifecycle_adapter::StartError),
    /// Not called from within a tokio runtime, which the background task needs.
    #[error("a token manager must be started from within a tokio runtime")]
    NoRuntime,
    /// The default HTTP client could not be built (its TLS configuration failed).
    #[error("the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
}

/// Configures a [`TokenManager`]; [`TokenManager::builder`] makes one.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use oauth_lifecycle::dialect::Standard;
/// use oauth_lifecycle::Policy;
/// use oauth_lifecycle_tokio::{FileStore, FileStoreOptions, StoreKey, TokenManager};
///
/// let dialect = Standard::builder("https://auth.example.com/token", "my-client")
///     .client_secret("my-secret")
///     .build()?;
/// let key = StoreKey::from_base64(&std::env::var("SESSION_KEY")?)?;
/// let tokens = TokenManager::builder(dialect, Policy::default())
///     .store(FileStore::new("session.json", FileStoreOptions::encrypted(key)))
///     .revoke_on_shutdown(true)
///     .name("billing-api")
///     .start()?;
/// // …
/// tokens.shutdown().await; // revokes, then stops the task
/// # Ok(())
/// # }
/// ```
#[must_use = "a builder does nothing until started"]
pub struct TokenManagerBuilder<D> {
    dialect: D,
    policy: Policy,
    store: Option<Arc<dyn SessionStore>>,
    client: Option<reqwest::Client>,
    revoke_on_shutdown: bool,
    name: Option<String>,
    clock: Option<Clock>,
    on_login_prompt: Option<LoginPromptCallback>,
}

/// The ways to start a manager: at once, or configured first.
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
}

impl<D: Dialect + Send + Sync + 'static> TokenManagerBuilder<D> {
    pub(crate) fn new(dialect: D, policy: Policy) -> Self {
        TokenManagerBuilder {
            dialect,
            policy,
            store: None,
            client: None,
            revoke_on_shutdown: false,
            name: None,
            clock: None,
            on_login_prompt: None,
        }
    }

    /// Calls `show` with the prompt of every person's login
    /// ([`TokenManager::login_with_device`], [`TokenManager::login_in_browser`]): the
    /// code and where to enter it, or the URL to open in the person's browser (which
    /// carries the request's `state`: hand it to the browser, not to a log).
    ///
    /// `show` runs inside the manager's background task, between two of its steps:
    /// return quickly (print, hand the URL to a browser launcher, send on a channel),
    /// never block, and never wait for the manager from there. A panic in it is caught
    /// and traced. The prompt also stays in [`TokenManager::status`]
    /// ([`Status::AwaitingPerson`](oauth_lifecycle::Status::AwaitingPerson)) until the
    /// login ends.
    pub fn on_login_prompt(mut self, show: impl Fn(&LoginPrompt) + Send + Sync + 'static) -> Self {
        self.on_login_prompt = Some(Arc::new(show));
        self
    }

    /// Keeps the session in `store`: read at start (a stored session resumes without a new
    /// login), written at every persistence point of the core, on the blocking pool.
    /// Default: none, the session lives as long as the manager. To share one store
    /// between managers of this process, pass an `Arc` of it: an `Arc` of a store is a
    /// store.
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Sends token requests with `client` (for its proxy, TLS roots, user agent).
    ///
    /// Each request's timeout still comes from the core's deadline for it, and bodies are
    /// still read no further than the policy's cap. Give it
    /// [`redirect::Policy::none()`](reqwest::redirect::Policy::none): a client that
    /// follows a 307 or 308 re-sends a form body holding credentials to wherever the
    /// token endpoint points, and a connect timeout shorter than the policy's response
    /// timeout. Default: [`transport::default_client`](crate::transport::default_client).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Revokes the session (RFC 7009) when the manager shuts down: when
    /// [`TokenManager::shutdown`] is awaited, or, in the background without waiting, when
    /// the last handle is dropped. Default `false`: the session survives in its store for
    /// the next run.
    pub fn revoke_on_shutdown(mut self, revoke: bool) -> Self {
        self.revoke_on_shutdown = revoke;
        self
    }

    /// Names the manager in its tracing span (`token_manager{name=…}`), to tell several
    /// apart in the logs. Default `oauth`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Reads `now` from `clock` instead of the system clock: to run a session in
    /// simulated time against an emulator. The task reads such a clock every few
    /// milliseconds while it waits
    /// ([`SUPPLIED_CLOCK_RECHECK`](oauth_lifecycle_adapter::SUPPLIED_CLOCK_RECHECK)), and
    /// at once after [`TokenManager::clock_moved`].
    pub fn clock(mut self, clock: impl Fn() -> UtcDateTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Starts the session and its background task. Call it from within a tokio runtime.
    ///
    /// The store, if any, is read here, and a valid stored token is readable as soon as
    /// this returns. The login (or renewal), if one is needed, starts at once, in the
    /// background.
    pub fn start(self) -> Result<TokenManager, StartError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let client = match self.client {
            Some(client) => client,
            None => crate::transport::default_client(&self.policy).map_err(StartError::Client)?,
        };
        let (clock, source): (Clock, _) = match self.clock {
            Some(clock) => (clock, ClockSource::Supplied),
            None => (Arc::new(UtcDateTime::now), ClockSource::System),
        };
        let name = self.name.unwrap_or_else(|| "oauth".to_owned());
        let span = tracing::info_span!("token_manager", name = %name);
        let woken = Arc::new(Notify::new());
        let wake: Arc<dyn Wake> = {
            let woken = Arc::clone(&woken);
            Arc::new(move || woken.notify_one())
        };
        let mut engine = span.in_scope(|| {
            Engine::start(
                self.dialect,
                self.policy,
                self.store,
                wake,
                source,
                clock(),
                StoreCall::run,
            )
        })?;
        if let Some(show) = self.on_login_prompt {
            engine.on_login_prompt(show);
        }
        let authorization_requests = engine.authorization_requests();
        let cell = Arc::clone(engine.cell());
        let mailbox = Arc::clone(engine.mailbox());
        let task = Task {
            engine,
            client,
            clock,
            woken,
        };
        let handle = runtime.spawn(task.run().instrument(span));
        Ok(TokenManager::new(
            cell,
            mailbox,
            handle,
            self.revoke_on_shutdown,
            authorization_requests,
        ))
    }
}

impl<D> fmt::Debug for TokenManagerBuilder<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManagerBuilder")
            .field("store", &self.store.is_some())
            .field("client", &self.client.is_some())
            .field("revoke_on_shutdown", &self.revoke_on_shutdown)
            .field("name", &self.name)
            .field("on_login_prompt", &self.on_login_prompt.is_some())
            .finish_non_exhaustive()
    }
}
