//! The transitions of the session: what each state does with each input it accepts.
//!
//! Which transitions exist, and where each lands, is the table in `table.rs`
//! ([`TRANSITIONS`](crate::TRANSITIONS)); a row names the methods here that perform it.
//!
//! Besides moving between states, transitions queue [`Notice`](crate::Notice)s: the events
//! that say what happened, and the persistence points. Nothing else decides anything: the
//! driver only routes inputs here.
//!
//! Each state's transitions have a file: `unauthenticated.rs`, `logging_in.rs`,
//! `active.rs`, `expiring.rs`, `refreshing.rs`, and for a person's login
//! `authorizing_device.rs`, `awaiting_approval.rs`, `awaiting_redirect.rs`,
//! `exchanging_code.rs` (how one starts and ends is `person_login.rs`); revocation, from every state that allows
//! it, and the two revocation states are `revocation.rs`. Each file ends with the state's
//! `Route` impl: which inputs of [`AnySession`](crate::AnySession) it takes, and what
//! each is to it (a login asked of an expiring session is a refresh). What every state
//! with a request in flight shares is `in_flight.rs`. The mechanics they all use are `Core`'s, in `../common.rs`.

mod active;
mod authorizing_device;
mod awaiting_approval;
mod awaiting_redirect;
mod exchanging_code;
mod expiring;
mod in_flight;
mod logging_in;
pub(crate) mod person_login;
mod refreshing;
mod revocation;
mod unauthenticated;

use time::UtcDateTime;

use super::route::Routed;
use super::AnySession;
use super::State;
use super::{Active, Expiring, Refreshing, Revoked, Revoking, Session, Unauthenticated};
use crate::dialect::Dialect;
use crate::error::{Error, Failure, FailureKind};
use crate::output::{Status, WaitReason};
use crate::request::{Purpose, RequestId, TokenKind, TokenRequest};
use crate::token::TokenSet;

pub use self::in_flight::AwaitingResponse;
/// Each state's part of a snapshot, as the state list in `table.rs` names it.
pub(crate) mod forms {
    pub(crate) use super::active::ActiveForm;
    pub(crate) use super::authorizing_device::AuthorizingDeviceForm;
    pub(crate) use super::awaiting_approval::AwaitingApprovalForm;
    pub(crate) use super::awaiting_redirect::AwaitingRedirectForm;
    pub(crate) use super::exchanging_code::ExchangingCodeForm;
    pub(crate) use super::expiring::ExpiringForm;
    pub(crate) use super::logging_in::LoggingInForm;
    pub(crate) use super::refreshing::RefreshingForm;
    pub(crate) use super::revocation::{RevokedForm, RevokingForm};
    pub(crate) use super::unauthenticated::UnauthenticatedForm;
}
pub use self::authorizing_device::{DeviceAuthorizationOutcome, MIN_POLL_INTERVAL};
pub use self::awaiting_approval::{ApprovalStep, SLOW_DOWN_STEP};
pub use self::awaiting_redirect::RedirectRefusal;
pub use self::revocation::Revocable;

/// How a login ended.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum LoginOutcome<D: Dialect> {
    /// A token was obtained.
    LoggedIn(Session<Active, D>),
    /// The login failed: [`Error::retry_at`] says when another is allowed; a permanent
    /// error halts automatic logins.
    Failed(Session<Unauthenticated, D>, Error),
}

/// How a renewal ended.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum RenewOutcome<D: Dialect> {
    /// A new token was obtained, by the given means (a refresh, or a login standing in).
    Renewed(Session<Active, D>, Purpose),
    /// The renewal failed; the old token is still served until its hard expiry. The error
    /// says whether the session retries later ([`Error::retry_at`]), logs in again at once
    /// ([`Error::Reauthenticate`] with credentials configured), or cannot renew by itself
    /// ([`Session::halted`]).
    Failed(Session<Expiring, D>, Error),
}

/// What showing an [`Expiring`] session the time led to.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum ExpiringStep<D: Dialect> {
    /// Nothing to send yet: a backoff runs, or the session is halted and its token still
    /// within its hard expiry.
    Waiting(Session<Expiring, D>),
    /// The renewal request to send.
    Renewing(Session<Refreshing, D>, TokenRequest),
    /// The session was halted and its token passed its hard expiry: nothing is left.
    Halted(Session<Unauthenticated, D>),
}

/// Where a revocation stands.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum Revocation<D: Dialect> {
    /// Send this request next.
    Pending(Session<Revoking, D>, TokenRequest),
    /// A login or refresh was in flight: hand back its response (or its failure) first.
    Awaiting(Session<Revoking, D>),
    /// A revocation failed temporarily: it is sent again at
    /// [`retry_at`](Session::retry_at), when the session is shown the time.
    Retrying(Session<Revoking, D>),
    /// Done: the session is revoked.
    Done(Session<Revoked, D>),
}

/// One answered revocation request: where the revocation stands, and whether that
/// request failed (the token is forgotten locally all the same).
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub struct RevocationStep<D: Dialect> {
    /// What comes next.
    pub next: Revocation<D>,
    /// The request's failure, if it failed.
    pub failure: Option<(TokenKind, Error)>,
}

// ---------------------------------------------------------------------------------------
// The outcomes as `AnySession` routes them: the session they leave, and the request to
// send, if any.

impl<D: Dialect> From<LoginOutcome<D>> for AnySession<D> {
    fn from(outcome: LoginOutcome<D>) -> Self {
        match outcome {
            LoginOutcome::LoggedIn(s) => s.into(),
            LoginOutcome::Failed(s, _) => s.into(),
        }
    }
}

impl<D: Dialect> From<LoginOutcome<D>> for Routed<D> {
    fn from(outcome: LoginOutcome<D>) -> Self {
        (outcome.into(), None)
    }
}

impl<D: Dialect> From<RenewOutcome<D>> for AnySession<D> {
    fn from(outcome: RenewOutcome<D>) -> Self {
        match outcome {
            RenewOutcome::Renewed(s, _) => s.into(),
            RenewOutcome::Failed(s, _) => s.into(),
        }
    }
}

impl<D: Dialect> From<RenewOutcome<D>> for Routed<D> {
    fn from(outcome: RenewOutcome<D>) -> Self {
        (outcome.into(), None)
    }
}

impl<D: Dialect> From<Revocation<D>> for Routed<D> {
    fn from(revocation: Revocation<D>) -> Self {
        match revocation {
            Revocation::Pending(s, request) => (s.into(), Some(request)),
            Revocation::Awaiting(s) | Revocation::Retrying(s) => (s.into(), None),
            Revocation::Done(s) => (s.into(), None),
        }
    }
}

impl<D: Dialect> From<RevocationStep<D>> for Routed<D> {
    fn from(step: RevocationStep<D>) -> Self {
        step.next.into()
    }
}

// ---------------------------------------------------------------------------------------
// A refresh token spent elsewhere: the states that hold one.

/// The halt of a session whose refresh token may have been spent elsewhere and that has
/// no credentials to log in with.
fn spent_elsewhere() -> Error {
    Error::Reauthenticate {
        failure: Failure::new(FailureKind::SpentElsewhere, None),
    }
}

// ---------------------------------------------------------------------------------------
// What the transitions of every state share.

impl<S, D> Session<S, D>
where
    S: State<Tokens<D::Extra> = TokenSet<D::Extra>>,
    D: Dialect,
{
    /// The same tokens in another token-holding state.
    fn with_tokens<T>(self, state: T) -> Session<T, D>
    where
        T: State<Tokens<D::Extra> = TokenSet<D::Extra>>,
    {
        Session {
            core: self.core,
            state,
            tokens: self.tokens,
        }
    }
}

impl<S: State, D: Dialect> Session<S, D> {
    /// The id the next emitted request will carry.
    pub fn next_request_id(&self) -> RequestId {
        RequestId(self.core.next_id)
    }
}

/// The status of a session that waits for `retry_at` for `reason`; renewing when it
/// waits for nothing.
fn waiting(retry_at: Option<UtcDateTime>, reason: Option<WaitReason>) -> Status {
    match (retry_at, reason) {
        (Some(retry_at), Some(reason)) => Status::Waiting { retry_at, reason },
        _ => Status::Renewing,
    }
}
