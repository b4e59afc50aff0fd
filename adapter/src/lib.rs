//! What every `oauth-lifecycle` manager shares, written once: one sans-IO engine that
//! runs a session in a process, and the pieces around it. A runtime (the blocking
//! manager over ureq, the tokio manager over reqwest, or any other) only sends, stores
//! and sleeps.
//!
//! - [`Engine`]: the driver, the read side, the store and fleet logic, the callers'
//!   reports and commands, the shutdown sequence. Inputs are `handle_*` methods taking
//!   `now`; [`Engine::poll`] returns the next [`Action`]: a request to send, a store
//!   operation to run, a moment to wait for, or the stop. Its module docs give the loop
//!   every runtime runs, and `docs/adapters.md` the runtime contract.
//! - [`TokenCell`]: the read side. The engine publishes the token from the core's
//!   events; callers read it without a lock or a clock ([`TokenCell::with`]), or wait
//!   for one with a bound they choose.
//! - [`Mailbox`]: where callers leave reports (lock-free) and commands (acknowledged
//!   once applied).
//! - [`SessionStore`]: persistence with a compare-and-swap on the store's revision, so
//!   processes sharing a store never both spend one refresh token; [`MemoryStore`] and
//!   [`FileStore`]; [`coordinator`], the fleet protocol for stores that coordinate.
//! - [`trace`]: `tracing` output with token fingerprints, never a secret.
//! - [`transport`]: timeouts from the core's deadlines, the default connect timeout,
//!   capped bodies.
//! - [`redirect_listener`]: the loopback redirect listener of the authorization code
//!   grant (RFC 8252 §7.3) without its sockets: what to listen on, the request head,
//!   the answer.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod coordinator;
mod engine;
mod file_store;
pub mod origin;
mod published;
pub mod redirect_listener;
mod store;
pub mod trace;
pub mod transport;

pub use crate::engine::{
    Ack, Action, AuthorizationRequests, ClockSource, Closed, Command, Engine, LoginPromptCallback,
    Mailbox, PersonLoginCommand, PersonLoginError, RedirectTarget, Refusal, StartError, StoreCall,
    Wake, SUPPLIED_CLOCK_RECHECK, SYSTEM_CLOCK_RECHECK,
};
pub use crate::file_store::{FileStore, FileStoreOptions, StoreKey};
pub use crate::published::{PublishedToken, Readiness, TokenCell, WaitError};
pub use crate::store::{
    compare_and_store, FleetSettings, Lease, MemoryStore, Saved, SessionStore, StoreError,
    StoredSession,
};
