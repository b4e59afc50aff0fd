//! An OAuth 2.0 token manager for tokio and reqwest: one background task keeps a
//! session's access token fresh; any number of callers read it without a lock.
//!
//! ```
//! # use oauth_lifecycle_emulator::{Clock, HttpFront, StandardServer, StandardServerConfig};
//! use std::time::Duration;
//!
//! use oauth_lifecycle::dialect::Standard;
//! use oauth_lifecycle::Policy;
//! use oauth_lifecycle_tokio::TokenManager;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let provider = HttpFront::start(StandardServer::new(StandardServerConfig::default()), Clock::System)?;
//! # let token_url = provider.url("/token");
//! let dialect = Standard::builder(token_url, "emulated-client")
//!     .client_secret("emulated-secret")
//!     .build()?;
//! let tokens = TokenManager::start(dialect, Policy::default())?;
//!
//! let token = tokens.token(Duration::from_secs(10)).await?; // waits for the login
//! assert!(token.header_value().to_str()?.starts_with("Bearer "));
//! # Ok(())
//! # }
//! ```
//!
//! That is the whole setup. The manager logs in, renews before expiry (refreshing, or
//! logging in again where the provider has no refresh), backs off after failures and honours
//! `Retry-After`, all decided by the sans-IO core (`oauth-lifecycle`); reports, commands,
//! the store and shutdown are the adapters' [`Engine`](oauth_lifecycle_adapter::Engine).
//! This crate is its tokio runtime: the task sends what the engine asks for (each request
//! as a task of its own, so that time, reports and commands keep reaching the engine
//! while one is out), runs store operations on the blocking pool, and waits until the
//! engine's next moment. The behaviour is the blocking manager's, row for row
//! (`docs/adapters.md`).
//!
//! # Reading the token
//!
//! - [`TokenManager::with_token`] runs a closure on the current token: no lock, no clock,
//!   no reference count, never waits. The task withdraws a token at its hard expiry, so a
//!   token handed out is one the core would hand out.
//! - [`TokenManager::token`] waits, at most as long as the caller says, when there is no
//!   valid token (the first login, or a renewal after a rejection). Thousands of callers
//!   waiting for one renewal cause one token request. A caller gets a typed reason when
//!   none will come: [`WaitError::NeedsLogin`] with the core's error, [`WaitError::Revoked`],
//!   [`WaitError::Closed`], or [`WaitError::Timeout`] with the session's status
//!   (renewing, or waiting until a moment after a failure or a 429).
//!
//! # Telling the manager what the API said
//!
//! A 401 is reported with the generation of the token that was rejected
//! ([`TokenManager::report_unauthorized`]): the token is withdrawn and renewed, and a late
//! report about a token already replaced changes nothing. Successful calls are reported
//! for providers whose tokens live longer with use ([`TokenManager::report_call_succeeded`];
//! nothing happens for the others). Neither takes a lock.
//!
//! With the `middleware` feature, `BearerAuth` does all of this for a
//! `reqwest_middleware` client: it attaches the token for the origins it is given,
//! reports what the API answered, and retries a rejected request once with the renewed
//! token.
//!
//! # Persistence, shutdown, tracing
//!
//! - [`TokenManagerBuilder::store`] keeps the session in a [`SessionStore`]
//!   ([`FileStore`], encrypted or not, or [`MemoryStore`]): a restarted process resumes
//!   without logging in again, and one that was killed right after sending a single-use
//!   refresh token never sends it again. The store is called on tokio's blocking pool, at
//!   the core's persistence points: a file store's fsync never blocks an async worker.
//! - [`TokenManager::shutdown`] stops the task and waits for it, revoking the session
//!   first if the manager was built with
//!   [`revoke_on_shutdown`](TokenManagerBuilder::revoke_on_shutdown), after awaiting a
//!   renewal under way so that its result is stored: awaiting it is the way to be sure
//!   of the revocation. Dropping the last [`TokenManager`] starts the same sequence
//!   without waiting for it.
//! - The task runs in a `token_manager` span ([`TokenManagerBuilder::name`]) and traces
//!   every request, answer, renewal, backoff, rejection and change of status, naming
//!   tokens by a fingerprint ([`fingerprint`]), never by their value.
//!
//! # A person's login
//!
//! For dialects configured for one, [`TokenManager::login_with_device`] runs the device
//! grant (the code goes to the callback given to
//! [`TokenManagerBuilder::on_login_prompt`] and stays in the status) and
//! [`TokenManager::login_in_browser`] the authorization code grant with PKCE over a
//! one-shot [`RedirectListener`] on `127.0.0.1` (RFC 8252 §7.3); both wait, bounded, for
//! the token or a typed [`PersonLoginError`]. The listener also works alone: it answers
//! the browser and hands the request target to
//! [`AuthorizationRequest::read_redirect`](oauth_lifecycle::dialect::authorization::AuthorizationRequest::read_redirect).
//!
//! # Transport
//!
//! Token requests go out as the core built them, with the core's deadline as their
//! timeout; every answer, 4xx and 5xx included, goes back to the core with its body read
//! no further than the policy's cap; a failure says whether the request may have left
//! ([`transport::classify`]). TLS is rustls (feature `rustls`, on by default).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod builder;
mod manager;
#[cfg(feature = "middleware")]
mod middleware;
mod person_login;
mod redirect_listener;
mod task;
pub mod transport;

pub use crate::builder::{StartError, TokenManagerBuilder};
pub use crate::manager::TokenManager;
#[cfg(feature = "middleware")]
pub use crate::middleware::{BearerAuth, BearerAuthError, InvalidOrigin};
pub use crate::redirect_listener::RedirectListener;
pub use oauth_lifecycle_adapter::redirect_listener::{
    ListenerError, LoopbackRedirect, ReceivedRedirect, RedirectPathProblem,
};
pub use oauth_lifecycle_adapter::trace::fingerprint;
pub use oauth_lifecycle_adapter::{
    Closed, FileStore, FileStoreOptions, MemoryStore, PersonLoginError, PublishedToken,
    SessionStore, StoreError, StoreKey, WaitError,
};
