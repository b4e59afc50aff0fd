//! A Redis session store for `oauth-lifecycle`'s managers, with which a fleet of
//! processes shares one token, renews it one process at a time, and never spends a
//! refresh token twice.
//!
//! ```no_run
//! use oauth_lifecycle::{dialect::ConvirzaV3, Policy};
//! use oauth_lifecycle_blocking::{StoreKey, TokenManager};
//! use oauth_lifecycle_redis::{RedisStore, Server};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dialect = ConvirzaV3::builder("user@example.com", "password").build()?;
//! let key = StoreKey::from_base64(&std::env::var("SESSION_KEY")?)?;
//! let store = RedisStore::builder(Server::node("redis://127.0.0.1:6379/")?, "convirza:user@example.com")
//!     .encrypted(key)
//!     .build()?;
//! let tokens = TokenManager::builder(dialect, Policy::default())
//!     .store(store)
//!     .start()?;
//! # Ok(()) }
//! ```
//!
//! The protocol is `oauth-lifecycle-adapter`'s (its `coordinator` module): the
//! renewal lease, re-reading the store under it, compare-and-swap on the revision,
//! announcements with polling as the fallback, and what happens when a holder dies or
//! the store is unreachable. This crate is the Redis side of it:
//!
//! - one hash per account (`<prefix>:{<account>}:session`: revision, generation,
//!   snapshot), the lease (`…:lease`, set-if-absent with an expiry), and a channel
//!   (`…:changed`); the hash tag keeps an account's keys in one Cluster slot;
//! - compare-and-store, take-or-extend the lease, and compare-and-delete are Lua scripts,
//!   atomic at the server;
//! - the snapshot is encrypted at rest with the user's [`StoreKey`](oauth_lifecycle_adapter::StoreKey),
//!   the file store's scheme;
//! - a connection that fails is dropped and made again at the next command; a thread per
//!   store listens for announcements and wakes the managers.
//!
//! `docs/fleet.md` has the protocol step by step, the failure cases and sizing.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod announcements;
mod keys;
mod scripts;
mod sentinel;
mod server;
mod store;
mod timeouts;

pub use crate::server::Server;
pub use crate::store::{BuildError, RedisStore, RedisStoreBuilder};
pub use redis;
