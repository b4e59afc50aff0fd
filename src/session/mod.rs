//! The session: one token's whole life as a typestate machine.
//!
//! [`Session<S, D>`] is a session in state `S` speaking dialect `D`. Every transition
//! consumes the session and returns the next state's type, so a method that makes no sense
//! in a state does not exist there: refreshing an unauthenticated session, or answering a
//! request that was never sent, does not compile. [`AnySession`] erases the state for
//! storage and adapters; [`Driver`] runs an [`AnySession`] as a poll-style state machine.
//!
//! All transitions live in `transitions.rs`; the state diagram in `docs/architecture.md`
//! is kept in step with that file by a test. Transitions report what happened as
//! [`Notice`]s queued in the session ([`Session::poll_notice`]); the driver only routes
//! inputs to the state's method and hands the notices on.

mod any;
mod core;
mod driver;
mod snapshot;
mod states;
mod transitions;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use time::UtcDateTime;

pub use self::any::AnySession;
pub use self::driver::Driver;
pub use self::snapshot::Snapshot;
pub use self::states::{
    Active, Expiring, LoggingIn, PendingRevocation, Refreshing, Revoked, Revoking, State,
    Unauthenticated,
};
pub use self::transitions::{
    AwaitingResponse, ExpiringStep, LoginOutcome, RenewOutcome, Revocable, Revocation,
    RevocationStep,
};
use crate::bearer::{CurrentToken, Generation, Withdrawal};
use crate::dialect::Dialect;
use crate::error::Misuse;
use crate::output::{Event, Notice, Unauthorized};
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

/// What every state shares: the configuration, the counters, and the notices not yet
/// handed out.
pub(crate) struct Core<D> {
    pub(crate) shared: Arc<Shared<D>>,
    pub(crate) next_id: u64,
    /// The generation of the last token the session obtained.
    pub(crate) generation: Generation,
    /// Recent logins and refreshes, for dialects with a request budget.
    pub(crate) budget: BudgetLog,
    /// Recent logins and refreshes, for the policy's own `token_request_budget`.
    pub(crate) pace: BudgetLog,
    /// How many tokens in a row a reported 401 rejected young: the renewal each causes
    /// is spaced longer ([`Policy::unauthorized_spacing`]).
    pub(crate) rejected_young: u32,
    /// Events and persistence points, in order, for the caller to drain.
    pub(crate) notices: VecDeque<Notice>,
}

/// Immutable configuration, shared by a session's successive states.
#[derive(Debug)]
pub(crate) struct Shared<D> {
    pub(crate) dialect: D,
    pub(crate) policy: Policy,
}

impl<D> Core<D> {
    pub(crate) fn new(shared: Arc<Shared<D>>, next_id: u64, generation: Generation) -> Self {
        Core {
            shared,
            next_id,
            generation,
            budget: BudgetLog::default(),
            pace: BudgetLog::default(),
            rejected_young: 0,
            notices: VecDeque::new(),
        }
    }

    /// Queues an event.
    pub(crate) fn notify(&mut self, event: Event) {
        self.notices.push_back(Notice::Event(event));
    }

    /// Queues a persistence point, unless one is already the last notice.
    pub(crate) fn persist(&mut self) {
        if self.notices.back() != Some(&Notice::Persist) {
            self.notices.push_back(Notice::Persist);
        }
    }

    /// Numbers a newly obtained token and announces it.
    pub(crate) fn issue<E>(
        &mut self,
        tokens: &mut TokenSet<E>,
        via: crate::request::Purpose,
        renewal: bool,
    ) {
        self.generation = self.generation.next();
        tokens.generation = self.generation;
        tokens.withdrawn = None;
        self.notify(Event::TokenIssued {
            token: tokens.bearer.clone(),
            generation: tokens.generation,
            valid_until: tokens.hard_expiry,
            expires_at: tokens.expires_at,
            via,
            renewal,
        });
        self.persist();
    }

    /// Stops handing out the token, once, and announces it.
    pub(crate) fn withdraw<E>(&mut self, tokens: &mut TokenSet<E>, reason: Withdrawal) {
        if tokens.withdrawn.is_some() {
            return;
        }
        tokens.withdrawn = Some(reason);
        // A restored token whose announcement no one has drained yet is withdrawn
        // unheard: the announcement goes, so no reader ever sees a token already gone
        // (a store that held it past its hard expiry).
        let unheard = self.notices.iter().position(|notice| {
            matches!(notice, Notice::Event(Event::TokenRestored { generation, .. })
                if *generation == tokens.generation)
        });
        match unheard {
            Some(at) => {
                self.notices.remove(at);
            }
            None => self.notify(Event::TokenWithdrawn {
                generation: tokens.generation,
                reason,
            }),
        }
        self.persist();
    }

    /// Withdraws the token when its hard expiry has come.
    pub(crate) fn expire_if_due<E>(&mut self, tokens: &mut TokenSet<E>, now: UtcDateTime) {
        if now >= tokens.hard_expiry {
            self.withdraw(tokens, Withdrawal::Expired);
        }
    }

    /// Withdraws the token a resource server rejected, if the report is about it.
    pub(crate) fn reject<E>(
        &mut self,
        tokens: &mut TokenSet<E>,
        generation: Generation,
    ) -> Unauthorized {
        if generation != tokens.generation {
            Unauthorized::Stale
        } else if tokens.withdrawn.is_some() {
            Unauthorized::AlreadyWithdrawn
        } else {
            self.withdraw(tokens, Withdrawal::Rejected);
            Unauthorized::Withdrawn
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
