//! The session: one token's whole life as a typestate machine.
//!
//! [`Session<S, D>`] is a session in state `S` speaking dialect `D`. Every transition
//! consumes the session and returns the next state's type, so a method that makes no sense
//! in a state does not exist there: refreshing an unauthenticated session, or answering a
//! request that was never sent, does not compile. [`AnySession`] erases the state for
//! storage and adapters; [`Driver`] runs an [`AnySession`] as a poll-style state machine.
//!
//! All transitions live in `transitions.rs`; the state diagram in `docs/architecture.md`
//! is kept in step with that file by a test.

mod any;
mod driver;
mod snapshot;
mod states;
mod transitions;

use std::fmt;
use std::sync::Arc;

use oauth2::AccessToken;
use time::UtcDateTime;

pub use self::any::AnySession;
pub use self::driver::Driver;
pub use self::snapshot::Snapshot;
pub use self::states::{
    Active, Expiring, LoggingIn, PendingRevocation, Refreshing, Revoked, Revoking, State,
    Unauthenticated,
};
pub use self::transitions::{
    AwaitingResponse, LoginOutcome, RenewOutcome, Revocable, Revocation, RevocationStep,
};
use crate::dialect::Dialect;
use crate::error::Misuse;
use crate::policy::{BudgetLog, Policy};
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

/// What every state shares: the configuration and the request-id counter.
pub(crate) struct Core<D> {
    pub(crate) shared: Arc<Shared<D>>,
    pub(crate) next_id: u64,
    /// Recent logins and refreshes, for dialects with a request budget.
    pub(crate) budget: BudgetLog,
}

/// Immutable configuration, shared by a session's successive states.
#[derive(Debug)]
pub(crate) struct Shared<D> {
    pub(crate) dialect: D,
    pub(crate) policy: Policy,
}

impl<D> Clone for Core<D> {
    fn clone(&self) -> Self {
        Core {
            shared: Arc::clone(&self.shared),
            next_id: self.next_id,
            budget: self.budget.clone(),
        }
    }
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

/// The result of showing a session the time: still the same state, or the next one.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum Step<Same, Next> {
    /// Nothing was due.
    Same(Same),
    /// A deadline passed and the session moved on.
    Next(Next),
}

/// What every state offers.
impl<S: State, D: Dialect> Session<S, D> {
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
    /// rejected by a resource server. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<&AccessToken> {
        self.tokens
            .is_usable(now)
            .then_some(&self.tokens.access_token)
    }

    /// The token set, with its expiries and the dialect's extra fields.
    pub fn tokens(&self) -> &TokenSet<D::Extra> {
        &self.tokens
    }

    /// Reports that a call authenticated with the token succeeded at `now`. For dialects
    /// with sliding expiry this extends the access token's life; otherwise it changes
    /// nothing.
    pub fn on_call_succeeded(&mut self, now: UtcDateTime) {
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
            .field("dialect", &self.core.shared.dialect)
            .finish()
    }
}
