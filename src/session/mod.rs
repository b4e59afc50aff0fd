//! The session: one token's whole life as a typestate machine.
//!
//! [`Session<S, D>`] is a session in state `S` speaking dialect `D`. Every transition
//! consumes the session and returns the next state's type, so a method that makes no sense
//! in a state does not exist there: refreshing an unauthenticated session, or answering a
//! request that was never sent, does not compile. [`AnySession`] erases the state for
//! storage and adapters; [`Driver`] runs an [`AnySession`] as a poll-style state machine.
//!
//! Which transitions exist is one table, `table.rs` ([`TRANSITIONS`]): the router checks
//! every move against it, and the docs' table and diagram are generated from it. The
//! transitions themselves live in `transitions/`, one file per state plus revocation and
//! the request in flight. What every state
//! shares (`Core`: configuration, counters, notices, and the mechanics of emitting,
//! judging and sliding) is in `common.rs`. Transitions report what happened as
//! [`Notice`]s queued in the session ([`Session::poll_notice`]); the driver only routes
//! inputs to the state's method and hands the notices on.

mod any;
mod common;
mod driver;
mod route;
mod snapshot;
mod states;
mod stored;
mod table;
mod transitions;

use std::fmt;

use time::UtcDateTime;

pub(crate) use self::common::{Core, Shared};
pub use self::driver::Driver;
pub use self::snapshot::Snapshot;
pub use self::states::{
    Active, AuthorizingDevice, AwaitingApproval, AwaitingRedirect, ExchangingCode, Expiring,
    LoggingIn, PendingRevocation, Refreshing, Revoked, Revoking, Unauthenticated,
};
pub use self::table::{AnySession, State, StateName, Transition, TRANSITIONS};
pub use self::transitions::{
    ApprovalStep, AwaitingResponse, DeviceAuthorizationOutcome, ExpiringStep, LoginOutcome,
    RedirectRefusal, RenewOutcome, Revocable, Revocation, RevocationStep, MIN_POLL_INTERVAL,
    SLOW_DOWN_STEP,
};
use crate::bearer::{CurrentToken, Generation};
use crate::dialect::authorization::RedirectError;
use crate::dialect::Dialect;
use crate::error::Misuse;
use crate::output::Notice;
use crate::policy::Policy;
use crate::token::TokenSet;

/// A token session in state `S`, speaking dialect `D`.
///
/// It owns the tokens, the backoff and the request in flight; it never performs I/O and
/// never reads a clock. Each transition takes `now` from the caller.
pub struct Session<S: State, D: Dialect> {
    pub(crate) core: Core<D>,
    pub(crate) state: S,
    pub(crate) tokens: S::Tokens<D::Extra>,
}

/// A transition the session refused: the session comes back unchanged, with the reason.
#[derive(Debug)]
pub struct Refused<T> {
    /// The unchanged session.
    pub session: T,
    /// Why it refused.
    pub error: Misuse,
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T: fmt::Debug> std::error::Error for Refused<T> {}

/// A redirect the session did not exchange
/// ([`Driver::handle_redirect`](crate::Driver::handle_redirect)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectRefused {
    /// The session awaits no redirect. Nothing changed.
    #[error(transparent)]
    Misuse(#[from] Misuse),
    /// The redirect was refused. When it carried this request's `state` it answered the
    /// request, and the login ended ([`RedirectError::answers_this_request`]); otherwise
    /// it was ignored and the session still waits for the real one.
    #[error("{error}")]
    Redirect {
        /// Why it was refused.
        error: RedirectError,
        /// Whether it ended the login.
        ended: bool,
    },
}

impl RedirectRefused {
    /// A redirect handed to a session in `state`, which awaits none.
    pub(crate) fn not_awaited(state: &'static str) -> Self {
        RedirectRefused::Misuse(Misuse::WrongState {
            operation: "take a redirect",
            state,
        })
    }
}

/// The result of showing a session the time: still the same state, or the next one.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum Step<Same, Next> {
    /// Nothing was due.
    Same(Same),
    /// A deadline passed and the session moved on.
    Next(Next),
}

impl<Same, Next> Step<Same, Next> {
    /// The next state, or the unchanged session as the error.
    pub fn into_next(self) -> Result<Next, Same> {
        match self {
            Step::Same(same) => Err(same),
            Step::Next(next) => Ok(next),
        }
    }
}

/// What every state offers.
impl<S: State, D: Dialect> Session<S, D> {
    /// The state, as the transition table names it.
    pub fn state(&self) -> StateName {
        S::STATE
    }

    /// The dialect.
    pub fn dialect(&self) -> &D {
        &self.core.shared.dialect
    }

    /// The timing policy.
    pub fn policy(&self) -> &Policy {
        &self.core.shared.policy
    }

    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        S::NAME
    }

    /// The next thing that happened during the transitions so far: an event, or a
    /// request to persist the session. Drain it after each transition.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.core.notices.pop_front()
    }

    /// The generation of the last token the session obtained (0 before the first).
    pub fn generation(&self) -> Generation {
        self.core.generation
    }

    /// Erases the state, for storage or an adapter. [`AnySession`] converts back with
    /// `TryFrom`.
    pub fn erase(self) -> AnySession<D>
    where
        AnySession<D>: From<Self>,
    {
        self.into()
    }

    pub(crate) fn with<T: State>(self, state: T, tokens: T::Tokens<D::Extra>) -> Session<T, D> {
        Session {
            core: self.core,
            state,
            tokens,
        }
    }
}

/// What the states holding a token offer.
impl<S, D> Session<S, D>
where
    S: State<Tokens<D::Extra> = TokenSet<D::Extra>>,
    D: Dialect,
{
    /// The access token, if it may be handed out at `now`: before its hard expiry and not
    /// withdrawn. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<CurrentToken<'_>> {
        self.tokens.current(now)
    }

    /// The token set, with its expiries and the dialect's extra fields.
    pub fn tokens(&self) -> &TokenSet<D::Extra> {
        &self.tokens
    }

    /// Slides the current token's expiry after a successful call with token `generation`,
    /// for dialects with sliding expiry.
    pub(crate) fn slide(&mut self, generation: Generation, now: UtcDateTime) {
        if generation != self.tokens.generation || self.tokens.withdrawn.is_some() {
            return;
        }
        if let Some(lifetime) = self.core.shared.dialect.sliding_lifetime() {
            self.core.slide(&mut self.tokens, now, lifetime);
        }
    }
}

impl<S: State, D: Dialect> fmt::Debug for Session<S, D>
where
    S: fmt::Debug,
    S::Tokens<D::Extra>: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state)
            .field("tokens", &self.tokens)
            .field("next_id", &self.core.next_id)
            .field("generation", &self.core.generation)
            .field("dialect", &self.core.shared.dialect)
            .finish()
    }
}
