//! One face for every runtime of the manager, so that one scenario list runs against
//! each: the blocking manager (a thread, ureq) and the tokio manager (a task, reqwest).
//! A scenario is a function of a [`Runtime`]; `tests/conformance.rs` runs every scenario
//! once per runtime, over real sockets against the emulators' HTTP front.
//!
//! A new runtime joins by adding a variant here and a line to the test macro: the
//! scenarios are what it must pass.

#![forbid(unsafe_code)]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Error, Generation, Policy, Status};
use oauth_lifecycle_adapter::{Closed, PublishedToken, SessionStore, WaitError};
use oauth_lifecycle_emulator::DrivenClock;

/// Runs each named scenario, a `fn(Runtime)` of the calling module, once per runtime: a
/// `#[test]` of that name in a module `blocking` and one in a module `tokio`.
#[macro_export]
macro_rules! per_runtime {
    ($($scenario:ident),* $(,)?) => {
        mod blocking {
            $(#[test]
            fn $scenario() {
                super::$scenario($crate::Runtime::Blocking);
            })*
        }
        mod tokio {
            $(#[test]
            fn $scenario() {
                super::$scenario($crate::Runtime::Tokio);
            })*
        }
    };
}

/// A runtime of the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `oauth-lifecycle-blocking`.
    Blocking,
    /// `oauth-lifecycle-tokio`.
    Tokio,
}

/// What a manager is started with.
pub struct Setup<D> {
    dialect: D,
    policy: Policy,
    store: Option<Arc<dyn SessionStore>>,
    clock: Option<DrivenClock>,
    revoke_on_shutdown: bool,
    name: String,
}

impl<D: Dialect + Send + Sync + 'static> Setup<D> {
    /// `dialect` with `policy`, the system clock, no store.
    pub fn new(dialect: D, policy: Policy) -> Self {
        Setup {
            dialect,
            policy,
            store: None,
            clock: None,
            revoke_on_shutdown: false,
            name: "conformance".into(),
        }
    }

    /// Keeps the session in `store`.
    pub fn store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Reads the time from `clock`.
    pub fn clock(mut self, clock: &DrivenClock) -> Self {
        self.clock = Some(clock.clone());
        self
    }

    /// Revokes on shutdown.
    pub fn revoke_on_shutdown(mut self) -> Self {
        self.revoke_on_shutdown = true;
        self
    }
}

/// The tokio runtime the tokio managers of this process run on.
fn tokio_runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

impl Runtime {
    /// Starts a manager on this runtime.
    pub fn start<D: Dialect + Send + Sync + 'static>(self, setup: Setup<D>) -> Manager {
        self.try_start(setup)
            .unwrap_or_else(|error| panic!("the {self:?} manager starts: {error}"))
    }

    /// Starts a manager of this runtime with `setup`, or says why it could not start.
    pub fn try_start<D: Dialect + Send + Sync + 'static>(
        self,
        setup: Setup<D>,
    ) -> Result<Manager, Box<dyn std::error::Error + Send + Sync>> {
        Ok(match self {
            Runtime::Blocking => {
                let mut builder =
                    oauth_lifecycle_blocking::TokenManager::builder(setup.dialect, setup.policy)
                        .name(setup.name)
                        .revoke_on_shutdown(setup.revoke_on_shutdown);
                if let Some(store) = setup.store {
                    builder = builder.store(store);
                }
                if let Some(clock) = setup.clock {
                    builder = builder.clock(move || clock.now());
                }
                Manager::Blocking(builder.start()?)
            }
            Runtime::Tokio => {
                let _entered = tokio_runtime().enter();
                let mut builder =
                    oauth_lifecycle_tokio::TokenManager::builder(setup.dialect, setup.policy)
                        .name(setup.name)
                        .revoke_on_shutdown(setup.revoke_on_shutdown);
                if let Some(store) = setup.store {
                    builder = builder.store(store);
                }
                if let Some(clock) = setup.clock {
                    builder = builder.clock(move || clock.now());
                }
                Manager::Tokio(builder.start()?)
            }
        })
    }
}

/// A manager of either runtime, behind blocking calls.
#[derive(Clone)]
pub enum Manager {
    /// A blocking manager.
    Blocking(oauth_lifecycle_blocking::TokenManager),
    /// A tokio manager; its async calls run on this crate's tokio runtime.
    Tokio(oauth_lifecycle_tokio::TokenManager),
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio_runtime().block_on(future)
}

impl Manager {
    /// The published token's generation, without waiting.
    pub fn generation(&self) -> Option<Generation> {
        self.with_token(PublishedToken::generation)
    }

    /// Runs `read` on the published token, without waiting.
    pub fn with_token<R>(&self, read: impl FnOnce(&PublishedToken) -> R) -> Option<R> {
        match self {
            Manager::Blocking(manager) => manager.with_token(read),
            Manager::Tokio(manager) => manager.with_token(read),
        }
    }

    /// The token, waiting at most `timeout`.
    pub fn token(&self, timeout: Duration) -> Result<Arc<PublishedToken>, WaitError> {
        match self {
            Manager::Blocking(manager) => manager.token(timeout),
            Manager::Tokio(manager) => block_on(manager.token(timeout)),
        }
    }

    /// A token newer than `generation`, waiting at most `timeout`.
    pub fn token_newer_than(
        &self,
        generation: Generation,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, WaitError> {
        match self {
            Manager::Blocking(manager) => manager.token_newer_than(generation, timeout),
            Manager::Tokio(manager) => block_on(manager.token_newer_than(generation, timeout)),
        }
    }

    /// Reports a 401 with `generation`.
    pub fn report_unauthorized(&self, generation: Generation) {
        match self {
            Manager::Blocking(manager) => manager.report_unauthorized(generation),
            Manager::Tokio(manager) => manager.report_unauthorized(generation),
        }
    }

    /// Logs in now; returns once applied.
    pub fn login(&self) -> Result<(), Closed> {
        match self {
            Manager::Blocking(manager) => manager.login(),
            Manager::Tokio(manager) => block_on(manager.login()),
        }
    }

    /// Renews now; returns once applied.
    pub fn renew(&self) -> Result<(), Closed> {
        match self {
            Manager::Blocking(manager) => manager.renew(),
            Manager::Tokio(manager) => block_on(manager.renew()),
        }
    }

    /// Revokes; returns once applied.
    pub fn revoke(&self) -> Result<(), Closed> {
        match self {
            Manager::Blocking(manager) => manager.revoke(),
            Manager::Tokio(manager) => block_on(manager.revoke()),
        }
    }

    /// Where the session stands.
    pub fn status(&self) -> Status {
        match self {
            Manager::Blocking(manager) => manager.status(),
            Manager::Tokio(manager) => manager.status(),
        }
    }

    /// The temporary failure the session backs off from.
    pub fn last_failure(&self) -> Option<Error> {
        match self {
            Manager::Blocking(manager) => manager.last_failure(),
            Manager::Tokio(manager) => manager.last_failure(),
        }
    }

    /// Whether the manager is shut down.
    pub fn is_closed(&self) -> bool {
        match self {
            Manager::Blocking(manager) => manager.is_closed(),
            Manager::Tokio(manager) => manager.is_closed(),
        }
    }

    /// Tells the manager its clock moved.
    pub fn clock_moved(&self) {
        match self {
            Manager::Blocking(manager) => manager.clock_moved(),
            Manager::Tokio(manager) => manager.clock_moved(),
        }
    }

    /// Shuts down and waits for it.
    pub fn shutdown(self) {
        match self {
            Manager::Blocking(manager) => manager.shutdown(),
            Manager::Tokio(manager) => block_on(manager.shutdown()),
        }
    }
}

/// The time now, by the system clock.
pub fn system_now() -> UtcDateTime {
    UtcDateTime::now()
}
