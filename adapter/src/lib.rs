//! What every `oauth-lifecycle` adapter shares, written once: the managers over ureq and
//! over tokio + reqwest differ only in how they send a request and how they wait.
//!
//! - [`TokenCell`]: the read side. The driving thread or task publishes the token from
//!   the core's events; callers read it without a lock or a clock
//!   ([`TokenCell::with`]), or wait for one with a bound they choose.
//! - [`Pump`]: the drain loop around the core's `Driver`: it publishes, persists at the
//!   core's persistence points, adopts a newer session from the store, and traces,
//!   stopping only at what needs a runtime: [`Next::Send`] a request, or
//!   [`Next::Wait`] until a moment or a command.
//! - [`SessionStore`]: persistence with a compare-and-swap on the store's revision, so
//!   processes sharing a store never both spend one refresh token; [`MemoryStore`] and
//!   [`FileStore`].
//! - [`trace`]: `tracing` output with token fingerprints, never a secret.
//! - [`transport`]: the clock, timeouts from the core's deadlines, capped bodies.
//!
//! A manager's driving loop, whatever its runtime:
//!
//! ```text
//! loop {
//!     match pump.next(now()) {
//!         Next::Send(request) => send it (timeout: transport::timeout), then
//!             pump.handle_response(..) or pump.handle_transport_error(..),
//!         Next::Wait(deadline) => wait for the deadline or a command, then
//!             pump.handle(command, now()) or pump.handle_timeout(now()),
//!     }
//! }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

pub mod coordinator;
mod file_store;
mod published;
mod pump;
mod store;
pub mod trace;
pub mod transport;

pub use crate::file_store::{FileStore, FileStoreOptions, StoreKey};
pub use crate::published::{PublishedToken, Readiness, TokenCell, WaitError};
pub use crate::pump::{Command, Next, Pump, StartError};
pub use crate::store::{
    compare_and_store, FleetSettings, Lease, MemoryStore, Saved, SessionStore, StoreError,
    StoredSession,
};
