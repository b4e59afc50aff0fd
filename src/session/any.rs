//! The runtime form of a session, [`AnySession`] (declared with the states in
//! `table.rs`): its getters, and each input routed to the state's own transition.

use time::UtcDateTime;

use super::table::{check, each_state, AnySession, StateName};
use super::transitions::{ExpiringStep, LoginOutcome, RenewOutcome, Revocation, RevocationStep};
use super::{Core, Refused, Revoked, Session, Step};
use crate::bearer::{CurrentToken, Generation};
use crate::dialect::Dialect;
use crate::error::Misuse;
use crate::output::{Notice, Status, Unauthorized};
use crate::request::{Purpose, RequestId, TokenRequest, TransportError};
use crate::token::TokenSet;

/// A routed transition's result: the session after it, and the request it emitted.
pub(crate) type Routed<D> = (AnySession<D>, Option<TokenRequest>);

// Getters.
impl<D: Dialect> AnySession<D> {
    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        self.state().words()
    }

    /// The state, as the transition table names it.
    pub fn state(&self) -> StateName {
        each_state!(self, s => s.state())
    }

    /// The access token, if one may be handed out at `now`. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<CurrentToken<'_>> {
        match self {
            AnySession::Active(s) => s.access_token(now),
            AnySession::Expiring(s) => s.access_token(now),
            AnySession::Refreshing(s) => s.access_token(now),
            _ => None,
        }
    }

    /// The token set, in the states that hold one.
    pub fn tokens(&self) -> Option<&TokenSet<D::Extra>> {
        match self {
            AnySession::Active(s) => Some(s.tokens()),
            AnySession::Expiring(s) => Some(s.tokens()),
            AnySession::Refreshing(s) => Some(s.tokens()),
            _ => None,
        }
    }

    /// The generation of the last token the session obtained (0 before the first).
    pub fn generation(&self) -> Generation {
        self.core().generation
    }

    /// The request in flight, if any, and why it was sent.
    pub fn in_flight(&self) -> Option<(RequestId, Purpose)> {
        let flight = match self {
            AnySession::LoggingIn(s) => &s.state.flight,
            AnySession::Refreshing(s) => &s.state.flight,
            AnySession::Revoking(s) => s
                .state
                .retry
                .retry_at
                .is_none()
                .then_some(&s.state.flight)?,
            _ => return None,
        };
        Some((flight.id, flight.purpose))
    }

    /// The dialect.
    pub fn dialect(&self) -> &D {
        &self.core().shared.dialect
    }

    /// The timing policy.
    pub fn policy(&self) -> &crate::Policy {
        &self.core().shared.policy
    }

    /// Whether the session is revoked (terminal).
    pub fn is_revoked(&self) -> bool {
        matches!(self, AnySession::Revoked(_))
    }

    /// Where the session stands: each state says ([`Session::status`]).
    pub fn status(&self) -> Status {
        each_state!(self, s => s.status())
    }

    /// When the session next needs to be shown the time, if ever: a renewal or login
    /// falling due, a request's response deadline, or the current token's hard expiry.
    pub fn deadline(&self) -> Option<UtcDateTime> {
        match self {
            AnySession::Unauthenticated(s) => s.deadline(),
            AnySession::LoggingIn(s) => Some(s.response_deadline()),
            AnySession::Active(s) => Some(s.deadline()),
            AnySession::Expiring(s) => s.deadline(),
            AnySession::Refreshing(s) => Some(s.deadline()),
            AnySession::Revoking(s) => Some(s.deadline()),
            AnySession::Revoked(_) => None,
        }
    }

    /// The next event or persistence point the transitions queued.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.core_mut().notices.pop_front()
    }

    pub(crate) fn core(&self) -> &Core<D> {
        each_state!(self, s => &s.core)
    }

    pub(crate) fn core_mut(&mut self) -> &mut Core<D> {
        each_state!(self, s => &mut s.core)
    }
}

// Inputs, routed to the state's transition. Each takes the session by value and returns
// the next one; the driver holds the result.
impl<D: Dialect> AnySession<D> {
    /// One step of showing the session the time. The flag says whether it moved.
    pub(crate) fn on_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
        fn same<D: Dialect>(session: impl Into<AnySession<D>>) -> (Routed<D>, bool) {
            ((session.into(), None), false)
        }
        let from = self.state();
        let result = match self {
            AnySession::Unauthenticated(s) => match s.on_timeout(now) {
                Step::Same(s) => same(s),
                Step::Next((s, request)) => ((s.into(), Some(request)), true),
            },
            AnySession::LoggingIn(s) => match s.on_timeout(now) {
                Step::Same(s) => same(s),
                Step::Next(outcome) => ((login(outcome), None), true),
            },
            AnySession::Active(s) => match s.on_timeout(now) {
                Step::Same(s) => same(s),
                Step::Next(s) => ((s.into(), None), true),
            },
            AnySession::Expiring(s) => match s.on_timeout(now) {
                ExpiringStep::Waiting(s) => same(s),
                ExpiringStep::Renewing(s, request) => ((s.into(), Some(request)), true),
                ExpiringStep::Halted(s) => ((s.into(), None), true),
            },
            AnySession::Refreshing(s) => match s.on_timeout(now) {
                Step::Same(s) => same(s),
                Step::Next(outcome) => ((renew(outcome), None), true),
            },
            AnySession::Revoking(s) => match s.on_timeout(now) {
                Step::Same(s) => same(s),
                Step::Next(step) => (revocation_step(step), true),
            },
            AnySession::Revoked(s) => same(s),
        };
        check(from, "on_timeout", result.0 .0.state());
        result
    }

    /// Hands back the response to request `id`.
    pub(crate) fn on_response(
        self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<Routed<D>, Refused<Self>> {
        let from = self.state();
        let result = match self {
            AnySession::LoggingIn(s) => s
                .on_response(id, response, now)
                .map(|outcome| (login(outcome), None))
                .map_err(erase),
            AnySession::Refreshing(s) => s
                .on_response(id, response, now)
                .map(|outcome| (renew(outcome), None))
                .map_err(erase),
            AnySession::Revoking(s) => s
                .on_response(id, response, now)
                .map(revocation_step)
                .map_err(erase),
            other => Err(Refused {
                session: other,
                error: Misuse::UnknownRequest { id },
            }),
        };
        if let Ok((session, _)) = &result {
            check(from, "on_response", session.state());
        }
        result
    }

    /// Reports that request `id` failed in transport.
    pub(crate) fn on_transport_error(
        self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) -> Result<Routed<D>, Refused<Self>> {
        let from = self.state();
        let result = match self {
            AnySession::LoggingIn(s) => s
                .on_transport_error(id, error, now)
                .map(|outcome| (login(outcome), None))
                .map_err(erase),
            AnySession::Refreshing(s) => s
                .on_transport_error(id, error, now)
                .map(|outcome| (renew(outcome), None))
                .map_err(erase),
            AnySession::Revoking(s) => s
                .on_transport_error(id, error, now)
                .map(revocation_step)
                .map_err(erase),
            other => Err(Refused {
                session: other,
                error: Misuse::UnknownRequest { id },
            }),
        };
        if let Ok((session, _)) = &result {
            check(from, "on_transport_error", session.state());
        }
        result
    }

    /// Reports that a resource server rejected token `generation`.
    pub(crate) fn on_unauthorized(
        self,
        generation: Generation,
        now: UtcDateTime,
    ) -> (Self, Unauthorized) {
        let from = self.state();
        let result = match self {
            AnySession::Active(s) => match s.on_unauthorized(generation, now) {
                Step::Same(s) => (s.into(), Unauthorized::Stale),
                Step::Next(s) => (s.into(), Unauthorized::Withdrawn),
            },
            AnySession::Expiring(mut s) => {
                let answer = s.on_unauthorized(generation, now);
                (s.into(), answer)
            }
            AnySession::Refreshing(mut s) => {
                let answer = s.on_unauthorized(generation, now);
                (s.into(), answer)
            }
            other => (other, Unauthorized::Stale),
        };
        check(from, "on_unauthorized", result.0.state());
        result
    }

    /// Reports that a call authenticated with token `generation` succeeded.
    pub(crate) fn on_call_succeeded(self, generation: Generation, now: UtcDateTime) -> Self {
        let from = self.state();
        let result = match self {
            AnySession::Active(mut s) => {
                s.on_call_succeeded(generation, now);
                s.into()
            }
            AnySession::Expiring(s) => match s.on_call_succeeded(generation, now) {
                Step::Same(s) => s.into(),
                Step::Next(s) => s.into(),
            },
            AnySession::Refreshing(mut s) => {
                s.on_call_succeeded(generation, now);
                s.into()
            }
            other => other,
        };
        check(from, "on_call_succeeded", result.state());
        result
    }

    /// Reports that the refresh token may have been spent elsewhere: dropped in the states
    /// that hold one (a refresh in flight with it is abandoned); nothing changes in the
    /// others.
    pub(crate) fn on_refresh_token_spent_elsewhere(self, now: UtcDateTime) -> Self {
        let from = self.state();
        let result = match self {
            AnySession::Active(s) => match s.on_refresh_token_spent_elsewhere(now) {
                Step::Same(s) => s.into(),
                Step::Next(s) => s.into(),
            },
            AnySession::Expiring(mut s) => {
                s.on_refresh_token_spent_elsewhere(now);
                s.into()
            }
            AnySession::Refreshing(s) => match s.on_refresh_token_spent_elsewhere(now) {
                Step::Same(s) => s.into(),
                Step::Next(s) => s.into(),
            },
            // No refresh token to spend (a login in flight has none yet), or one whose
            // revocation is harmless.
            other @ (AnySession::Unauthenticated(_)
            | AnySession::LoggingIn(_)
            | AnySession::Revoking(_)
            | AnySession::Revoked(_)) => other,
        };
        check(from, "on_refresh_token_spent_elsewhere", result.state());
        result
    }

    /// Asks for a login (or a renewal) now, clearing a halt.
    pub(crate) fn login(self, now: UtcDateTime) -> Result<(Self, TokenRequest), Refused<Self>> {
        let from = self.state();
        let result: Result<(Self, TokenRequest), Refused<Self>> = match self {
            AnySession::Unauthenticated(s) => s
                .login(now)
                .map(|(s, request)| (s.into(), request))
                .map_err(erase),
            AnySession::Expiring(s) => s
                .refresh(now)
                .map(|(s, request)| (s.into(), request))
                .map_err(erase),
            other @ (AnySession::Revoking(_) | AnySession::Revoked(_)) => Err(Refused {
                session: other,
                error: Misuse::Revoked,
            }),
            other => {
                let state = other.state_name();
                Err(Refused {
                    session: other,
                    error: Misuse::WrongState {
                        operation: "log in",
                        state,
                    },
                })
            }
        };
        if let Ok((session, _)) = &result {
            check(from, login_method(from), session.state());
        }
        result
    }

    /// Starts a renewal now: an active session moves to expiring with the renewal due at
    /// once; one without a token, or already expiring, logs in or refreshes as
    /// [`login`](Self::login) does; one with a request in flight is already renewing.
    pub(crate) fn renew(self, now: UtcDateTime) -> Result<Routed<D>, Refused<Self>> {
        let from = self.state();
        let result = match self {
            AnySession::Active(s) => Ok((s.renew(now).into(), None)),
            renewing @ (AnySession::LoggingIn(_) | AnySession::Refreshing(_)) => {
                Ok((renewing, None))
            }
            other => other.login(now).map(|(s, request)| (s, Some(request))),
        };
        if let Ok((session, _)) = &result {
            // An active session renews; any other logs in (or refreshes) instead.
            let method = if from == StateName::Active {
                "renew"
            } else {
                login_method(from)
            };
            check(from, method, session.state());
        }
        result
    }

    /// Starts revoking; nothing happens if already revoking or revoked.
    pub(crate) fn revoke(self, now: UtcDateTime) -> Routed<D> {
        let from = self.state();
        let result = match self {
            AnySession::Unauthenticated(s) => revocation(s.revoke(now)),
            AnySession::LoggingIn(s) => revocation(s.revoke(now)),
            AnySession::Active(s) => revocation(s.revoke(now)),
            AnySession::Expiring(s) => revocation(s.revoke(now)),
            AnySession::Refreshing(s) => revocation(s.revoke(now)),
            other => (other, None),
        };
        check(from, "revoke", result.0.state());
        result
    }
}

/// The typestate method a login asked of a session in `from` calls: an expiring session
/// renews its token by a refresh.
fn login_method(from: StateName) -> &'static str {
    if from == StateName::Expiring {
        "refresh"
    } else {
        "login"
    }
}

fn login<D: Dialect>(outcome: LoginOutcome<D>) -> AnySession<D> {
    match outcome {
        LoginOutcome::LoggedIn(s) => s.into(),
        LoginOutcome::Failed(s, _) => s.into(),
    }
}

fn renew<D: Dialect>(outcome: RenewOutcome<D>) -> AnySession<D> {
    match outcome {
        RenewOutcome::Renewed(s, _) => s.into(),
        RenewOutcome::Failed(s, _) => s.into(),
    }
}

fn revocation<D: Dialect>(revocation: Revocation<D>) -> Routed<D> {
    match revocation {
        Revocation::Pending(s, request) => (s.into(), Some(request)),
        Revocation::Awaiting(s) | Revocation::Retrying(s) => (s.into(), None),
        Revocation::Done(s) => (s.into(), None),
    }
}

fn revocation_step<D: Dialect>(step: RevocationStep<D>) -> Routed<D> {
    revocation(step.next)
}

fn erase<S, D>(refused: Refused<Session<S, D>>) -> Refused<AnySession<D>>
where
    S: super::State,
    D: Dialect,
    AnySession<D>: From<Session<S, D>>,
{
    Refused {
        session: refused.session.into(),
        error: refused.error,
    }
}

impl<D: Dialect> AnySession<D> {
    /// A revoked session sharing `shared`: what a driver holds for the instant a
    /// transition moves its session by value.
    pub(crate) fn placeholder(shared: std::sync::Arc<super::Shared<D>>) -> Self {
        Session {
            core: Core::new(shared, 0, Generation::default()),
            state: Revoked { _private: () },
            tokens: (),
        }
        .into()
    }
}
