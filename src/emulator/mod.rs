//! In-process OAuth servers, for testing integrations offline (feature `test-util`).
//!
//! Emulators are sans-IO like the rest of the crate: they take an [`http::Request`] and
//! the current (simulated) time and return an [`http::Response`]. They keep their state
//! in memory, are deterministic, and never panic on any input: a hostile request gets an
//! error response.

mod server;
mod store;

pub use self::server::{EmulatedClient, ResponseFlavor, StandardServer, StandardServerConfig};
pub use self::store::{Emulator, InjectedFailure, Reply, ServerStats};
