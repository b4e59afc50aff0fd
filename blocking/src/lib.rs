//! A thread-safe OAuth 2.0 token manager over [`ureq`]: one background thread keeps the
//! token fresh, any number of threads read it without a lock.
//!
//! ```
//! use std::time::Duration;
//!
//! use oauth_lifecycle::{dialect::Standard, Policy};
//! use oauth_lifecycle_blocking::TokenManager;
//! # use oauth_lifecycle_emulator::{Clock, HttpFront, StandardServer, StandardServerConfig};
//! # let front = HttpFront::start(StandardServer::new(StandardServerConfig::default()), Clock::System)?;
//! # let token_url = front.url("/token");
//!
//! let dialect = Standard::builder(token_url, "emulated-client")
//!     .client_secret("emulated-secret")
//!     .build()?;
//! let tokens = TokenManager::start(dialect, Policy::default())?;
//!
//! // Any thread, any time: the current token, or a bounded wait for the first one.
//! let token = tokens.token(Duration::from_secs(10))?;
//! let call = ureq::get(front.url("/api/profile"))
//!     .header("authorization", token.header_value())
//!     .call()?;
//! assert_eq!(call.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything the protocol decides — when to renew, whether to refresh or log in again,
//! how long to back off, what a response means — is decided by the `oauth-lifecycle`
//! core, and everything about running it in a process — reports, commands, the store,
//! shutdown — by the adapters' [`Engine`](oauth_lifecycle_adapter::Engine). This crate
//! is its blocking runtime: the background thread sends the requests the engine asks
//! for (each on a thread of its own, so that time, reports and commands keep reaching
//! the engine while one is out), runs its store operations, and sleeps until its next
//! moment. The behaviour is the tokio manager's, row for row (`docs/adapters.md`):
//!
//! - **Reading** takes no lock and reads no clock: [`TokenManager::with_token`] borrows
//!   the published token, which the thread withdraws at its hard expiry. A caller with
//!   a valid token never waits, even during a renewal; a caller with none waits in
//!   [`TokenManager::token`], bounded by its own timeout, and gets a typed
//!   [`WaitError`] (needs login, revoked, throttled until …) instead of hanging. However
//!   many callers wait, one request renews the token.
//! - **A 401** is reported with the generation of the token that met it
//!   ([`TokenManager::report_unauthorized`]); reports about an older token change
//!   nothing. [`TokenManager::report_call_succeeded`] slides the expiry for dialects
//!   that have one (Convirza V3) and costs the caller no lock. [`BearerAuth`] does both
//!   for a ureq agent: the token to the allowed origins only, and one retry with the
//!   renewed token after a 401.
//! - **Transport**: each request's timeout is the core's deadline for it, the body is
//!   read no further than the policy's cap, every status (4xx, 5xx, a redirect) goes
//!   back to the core as an answer, and a failure says whether the request may have
//!   reached the server, so that a single-use refresh token is never sent twice.
//! - **Persistence**: with a [`SessionStore`] ([`FileStore`], [`MemoryStore`]) the
//!   session survives restarts and is shared safely between processes.
//! - **Shutdown**: [`TokenManager::shutdown`] stops the thread and waits for it,
//!   revoking first if asked, after awaiting a renewal under way so that its result is
//!   stored. Dropping the last clone starts the same sequence without waiting for it.
//! - **A person's login**: for dialects configured for one,
//!   [`TokenManager::login_with_device`] runs the device grant (the code goes to the
//!   callback given to [`TokenManagerBuilder::on_login_prompt`] and stays in the
//!   status) and [`TokenManager::login_in_browser`] the authorization code grant with
//!   PKCE over a one-shot [`RedirectListener`] on `127.0.0.1` (RFC 8252 §7.3); both
//!   wait, bounded, for the token or a typed [`PersonLoginError`]. The listener also
//!   works alone: it answers the browser and hands the request target to
//!   [`AuthorizationRequest::read_redirect`](oauth_lifecycle::dialect::authorization::AuthorizationRequest::read_redirect).
//! - **Tracing**: every request, renewal, backoff, rejection and change of state is a
//!   `tracing` event inside the span `token_manager{name=…}` (each request in a span
//!   `token_request{request=…, purpose=…}`). Tokens appear as fingerprints, secrets
//!   never. ureq itself logs through the `log` crate, with sensitive headers redacted,
//!   except `ureq_proto` at TRACE level, which dumps every exchange byte by byte,
//!   credentials and tokens included: if you forward `log` records, keep the
//!   `ureq_proto` target below TRACE.
//!
//! # Features
//!
//! - `rustls` (default): HTTPS with rustls and the webpki root certificates.
//! - `native-tls`: HTTPS with the platform's TLS library; the default agent uses it when
//!   `rustls` is off.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod builder;
mod clock;
mod driving;
mod manager;
mod middleware;
mod person_login;
mod redirect_listener;
mod transport;

pub use crate::builder::{StartError, TokenManagerBuilder};
pub use crate::manager::TokenManager;
pub use crate::middleware::{BearerAuth, BearerAuthError, InvalidOrigin};
pub use crate::redirect_listener::RedirectListener;
pub use crate::transport::{default_agent, send_request};
pub use oauth_lifecycle_adapter::redirect_listener::{
    ListenerError, LoopbackRedirect, ReceivedRedirect, RedirectPathProblem,
};
pub use oauth_lifecycle_adapter::trace::fingerprint;
pub use oauth_lifecycle_adapter::{
    Closed, FileStore, FileStoreOptions, MemoryStore, PersonLoginError, PublishedToken,
    SessionStore, StoreError, StoreKey, WaitError,
};
pub use ureq;
