//! What the integration tests share: the real OAuth servers (from the workspace's test
//! kit), an emulated provider in simulated time, the no-storm invariant, a read side fed
//! by events, how request snapshots render, and the transition table.

#![allow(dead_code)]

pub mod claims;
pub mod emulated;
pub mod pace;
pub mod read_side;
pub mod refused;
pub mod render;
pub mod transition_table;
pub mod typestate;

#[allow(unused_imports)]
pub use oauth_lifecycle_testkit::*;
