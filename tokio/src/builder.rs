//! How a [`TokenManager`] is configured and started.

use std::fmt;
use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Policy};
use oauth_lifecycle_adapter::{transport, Pump, SessionStore, TokenCell};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::manager::TokenManager;
use crate::reports::Reports;
use crate::task::{Clock, Shared, Task};

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
/// use std::sync::Arc;
///
/// use oauth_lifecycle::dialect::Standard;
/// use oauth_lifecycle::Policy;
/// use oauth_lifecycle_adapter::{FileStore, FileStoreOptions, StoreKey};
/// use oauth_lifecycle_tokio::TokenManager;
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
    clock: Clock,
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
            clock: Arc::new(transport::now),
        }
    }

    /// Keeps the session in `store`: read at start (a stored session resumes without a new
    /// login), written at every persistence point of the core. Default: none, the session
    /// lives as long as the manager.
    pub fn store(mut self, store: impl SessionStore + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Like [`store`](Self::store), for a store shared with other managers of this
    /// process.
    pub fn shared_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Sends token requests with `client` (for its proxy, TLS roots, user agent).
    ///
    /// Each request's timeout still comes from the core's deadline for it, and bodies are
    /// still read no further than the policy's cap. Give it
    /// [`redirect::Policy::none()`](reqwest::redirect::Policy::none): a client that
    /// follows a 307 or 308 re-sends a form body holding credentials to wherever the
    /// token endpoint points. Default: [`transport::default_client`](crate::transport::default_client).
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Revokes the session (RFC 7009) when [`TokenManager::shutdown`] is awaited.
    /// Dropping the last handle cannot wait for a revocation, so it never revokes.
    /// Default `false`: the session survives in its store for the next run.
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
    /// simulated time against an emulator. After moving it, call
    /// [`TokenManager::clock_moved`] so the task reads it again.
    pub fn clock(mut self, clock: impl Fn() -> UtcDateTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Starts the session and its background task. Call it from within a tokio runtime.
    ///
    /// The store, if any, is read here: a stored session resumes, a request it had in
    /// flight is reported lost. The login (or renewal) starts at once, in the background.
    pub fn start(self) -> Result<TokenManager, StartError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StartError::NoRuntime)?;
        let client = match self.client {
            Some(client) => client,
            None => crate::transport::default_client().map_err(StartError::Client)?,
        };
        let sliding = self.dialect.sliding_lifetime().is_some();
        let cell = Arc::new(TokenCell::new());
        let name = self.name.unwrap_or_else(|| "oauth".to_owned());
        let span = tracing::info_span!("token_manager", name = %name);
        let store = self.store;
        let pump = span.in_scope(|| {
            Pump::start(
                self.dialect,
                self.policy,
                Arc::clone(&cell),
                store.clone(),
                (self.clock)(),
            )
        })?;
        let shared = Arc::new(Shared {
            cell,
            reports: Reports::default(),
            sliding,
        });
        if let Some(store) = &store {
            // Another process stored a session: drain now, not at the next poll.
            let woken = Arc::downgrade(&shared);
            store.on_announcement(Arc::new(move || {
                if let Some(shared) = woken.upgrade() {
                    shared.reports.wake();
                }
            }));
        }
        let (control, commands) = mpsc::unbounded_channel();
        let task = Task {
            pump,
            shared: Arc::clone(&shared),
            control: commands,
            client,
            clock: self.clock,
        };
        let handle = runtime.spawn(task.run().instrument(span));
        Ok(TokenManager::new(
            shared,
            control,
            handle,
            self.revoke_on_shutdown,
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
            .finish_non_exhaustive()
    }
}
