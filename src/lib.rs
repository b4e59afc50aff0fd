//! # oauth-lifecycle
//!
//! The whole life of an OAuth 2.0 access token — log in, keep it fresh, refresh it, revoke
//! it — as a deterministic state machine that performs no I/O.
//!
//! ## The contract
//!
//! - **Sans-IO.** The crate never opens a socket, never reads a clock, never sleeps and
//!   never spawns. It emits [`TokenRequest`]s (an [`http::Request<Vec<u8>>`] with an id)
//!   for whatever transport the caller brings, and takes responses, transport errors and
//!   the current time as inputs. The same inputs always give the same outputs, so tests run
//!   faster than real time. It reads no random source and holds no signing key either: a
//!   client that authenticates with a signed JWT (RFC 7523) hands the session an
//!   [`AssertionSource`](dialect::assertion::AssertionSource), which the session asks for a
//!   fresh assertion with the claims it set from `now`, each time it emits a request.
//! - **Typestates.** [`Session<S, D>`] is a session in state `S`
//!   (`Unauthenticated → LoggingIn → Active → Expiring → Refreshing → … → Revoking →
//!   Revoked`) speaking dialect `D`. A method exists only where it is legal:
//!
//!   ```compile_fail
//!   # use oauth_lifecycle::{Session, Unauthenticated, Policy, dialect::Standard};
//!   # fn f(session: Session<Unauthenticated, Standard>, now: time::UtcDateTime) {
//!   session.refresh(now); // no refresh before a login
//!   # }
//!   ```
//! - **A driver.** [`AnySession`] erases the state for storage; [`Driver`] runs it as a
//!   poll-style machine that only routes: getters (`access_token`, `status`,
//!   `next_deadline`, `policy`), inputs (`handle_*(…, now)`, `login`, `revoke`) and one
//!   output method, [`Driver::poll_output`]. Every decision lives in the transitions.
//! - **Generations.** Every access token the session obtains has a [`Generation`], one
//!   more than the last. [`Driver::access_token`] returns a [`CurrentToken`]: the secret,
//!   its generation, and the moment until which it may be handed out. A resource server's
//!   401 is reported with the generation it rejected; a late report about an older token
//!   changes nothing ([`Unauthorized::Stale`]).
//! - **A read side from events alone.** Every change to the token that may be handed out
//!   is an [`Event`] carrying the generation and the valid-until moment:
//!   [`Event::TokenIssued`] (with the shared [`BearerToken`], whose bytes are never
//!   copied again), [`Event::TokenExtended`], [`Event::TokenWithdrawn`]. The driver's
//!   deadline includes the current token's hard expiry in every state, so an adapter's
//!   driving task withdraws a published token on time and readers never read a clock.
//! - **Write-ahead persistence.** [`Output::Persist`] comes after every change of the
//!   token and before every request that spends a single-use refresh token: save the
//!   snapshot then, and a crash after sending never leads to sending that token again.
//! - **Transports say whether a request left.** [`TransportError::NotSent`] keeps a
//!   single-use refresh token for a retry; [`TransportError::OutcomeUnknown`] spends it.
//!   Hand back **every** HTTP response, 4xx and 5xx included, as a response. A request
//!   in flight when a snapshot was taken is lost once restored, and the session says so
//!   itself ([`AnySession::restore`]); a refresh token another process may have spent is
//!   reported with [`Driver::handle_refresh_token_spent_elsewhere`] and never sent again.
//!   No adapter invents a transport error.
//! - **Secrets stay secret.** Tokens, passwords and client secrets never appear in
//!   `Debug`, `Display` or errors, even when a server echoes them back; they are wiped
//!   from memory when dropped, and serialize only in a snapshot explicitly made with them
//!   ([`AnySession::snapshot_with_secrets`]).
//! - **Servers are not trusted.** Every number a server sends (`Retry-After`, lifetimes,
//!   `Date`) is bounded by the [`Policy`] before it is obeyed; reported 401s and failures
//!   cannot drive the session past its `token_request_budget` of logins and refreshes;
//!   access tokens must be RFC 6750 `b64token`s; a restored snapshot is checked against
//!   itself. `docs/security.md` has the threat model.
//!
//! ## The drain loop
//!
//! Every adapter follows the same loop: feed an input, drain outputs until a timeout,
//! wait, repeat. Here against the in-process emulator (the `oauth-lifecycle-emulator`
//! crate), with simulated time:
//!
//! ```
//! use oauth_lifecycle::dialect::Standard;
//! use oauth_lifecycle::{Driver, Event, Output, Policy};
//! use oauth_lifecycle_emulator::{Emulator, StandardServer, StandardServerConfig};
//! use time::{macros::utc_datetime, Duration};
//!
//! let mut server = StandardServer::new(StandardServerConfig::default());
//! let client = &StandardServerConfig::default().clients[0];
//! let dialect = Standard::builder("http://127.0.0.1/token", client.client_id.clone())
//!     .client_secret(client.client_secret.clone())
//!     .build()?;
//! let mut driver = Driver::new(dialect, Policy::default())?;
//! let mut saved = Vec::new(); // where a real program's store would write
//!
//! let mut now = utc_datetime!(2026-01-01 00:00:00);
//! driver.handle_timeout(now); // 1. an input: the first one starts the login
//! let mut renewals = 0;
//! for _ in 0..100 {
//!     match driver.poll_output() {
//!         // 2. send requests, hand back their responses, whatever their status
//!         Output::Request(request) => {
//!             let response = server.handle(request.request(), now);
//!             driver.handle_response(request.id(), &response, now)?;
//!         }
//!         // publish the token from events alone
//!         Output::Event(Event::TokenIssued { renewal, .. }) => renewals += usize::from(renewal),
//!         Output::Event(_) => {}
//!         // write ahead: the snapshot knows what is about to be spent
//!         Output::Persist => saved = serde_json::to_vec(&driver.session().snapshot_with_secrets())?,
//!         // 3. nothing to do until then: sleep (here, jump) and tell the driver
//!         Output::Timeout(deadline) => {
//!             now = deadline.max(now + Duration::SECOND);
//!             driver.handle_timeout(now);
//!         }
//!         Output::Idle => break,
//!     }
//!     if renewals == 3 {
//!         break;
//!     }
//! }
//! assert_eq!(renewals, 3);
//! let token = driver.access_token(now).expect("a fresh token");
//! assert_eq!(token.generation().get(), 4);
//! assert!(!saved.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Modules
//!
//! - [`dialect`]: how to speak to a provider: [`dialect::Standard`] for RFC 6749 servers,
//!   [`dialect::ConvirzaV2`], [`dialect::ConvirzaV3`], [`dialect::Convercus`] and
//!   [`dialect::ConvercusLegacy`] for the providers they name.
//! - [`policy`]: when to refresh, how to back off.
//! - [`token`]: token sets and expiry arithmetic.
//! - [`error`]: what went wrong, sorted by what to do about it.
//! - [`resource`]: what a resource server's answer means for the token.
//!
//! The crate re-exports [`http`] and [`time`], whose types its API speaks.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
// Typestate transitions move the session by value and hand it back on refusal; boxing it
// to please these lints would allocate on every transition.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

// The base modules, in the one direction they depend on each other: each imports only
// those before it (tests/module_layering.rs checks it). Blank lines keep rustfmt from
// sorting them.
mod wipe; // secrets zeroed when dropped

mod echo; // secrets a server may echo back

mod timestamp; // moments as servers write them

mod request; // requests and transport failures

pub mod error; // verdicts and evidence

pub mod policy; // timing

mod bearer; // the token as handed out

pub mod token; // token sets

mod prompt; // what a person must do for a login

mod output; // what the session tells the caller

// Built on the base.
pub mod dialect;
pub mod resource;
mod session;

pub use http;
pub use oauth2::{AccessToken, RefreshToken};
pub use time;

pub use crate::bearer::{BearerToken, CurrentToken, Generation, Withdrawal};
pub use crate::dialect::Dialect;
pub use crate::error::{
    AssertionFailure, ConfigError, Error, Failure, FailureKind, Misuse, PersonLoginEnd,
};
pub use crate::output::{Event, Notice, Output, Status, Unauthorized, WaitReason};
pub use crate::policy::{LoginCredentials, Policy, RejectedLoginRetry, RequestBudget};
pub use crate::prompt::{BrowserPrompt, DevicePrompt, LoginPrompt};
pub use crate::request::{Purpose, RequestId, TokenKind, TokenRequest, TransportError};
pub use crate::resource::ResourceVerdict;
pub use crate::session::{
    Active, AnySession, ApprovalStep, AuthorizingDevice, AwaitingApproval, AwaitingRedirect,
    AwaitingResponse, DeviceAuthorizationOutcome, Driver, ExchangingCode, Expiring, ExpiringStep,
    LoggingIn, LoginOutcome, PendingRevocation, RedirectRefusal, RedirectRefused, Refreshing,
    Refused, RenewOutcome, Revocable, Revocation, RevocationStep, Revoked, Revoking, Session,
    Snapshot, State, StateName, Step, Transition, Unauthenticated, MIN_POLL_INTERVAL,
    SLOW_DOWN_STEP, TRANSITIONS,
};
pub use crate::timestamp::Rfc3339;
pub use crate::token::TokenSet;

/// The examples in `README.md` and `docs/providers.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
#[doc = include_str!("../docs/providers.md")]
pub struct DocumentedExamples;
