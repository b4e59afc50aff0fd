//! Active: a valid token, renewal not yet due.

use time::UtcDateTime;

use super::spent_elsewhere;
use crate::bearer::Generation;
use crate::dialect::Dialect;
use crate::output::Status;
use crate::output::{Event, Unauthorized};
use crate::session::states::{Backoff, Halt, WaitCause};
use crate::session::{Active, Expiring, Session, Step};

impl<D: Dialect> Session<Active, D> {
    /// Where the session stands: ready, its token handed out.
    pub fn status(&self) -> Status {
        Status::Ready
    }

    /// When renewal becomes due.
    pub fn refresh_at(&self) -> UtcDateTime {
        self.tokens.refresh_at
    }

    /// When showing the session the time next matters: the refresh moment (or the hard
    /// expiry, if a policy puts it first).
    pub fn deadline(&self) -> UtcDateTime {
        self.tokens.refresh_at.min(self.tokens.hard_expiry)
    }

    /// Shows the session the time: at the refresh moment, renewal becomes due. A token
    /// so short-lived that its hard expiry comes before the refresh moment (which is never
    /// earlier than the policy's `min_renewal_interval` after issue) moves on at its hard
    /// expiry, and the renewal still waits for the refresh moment.
    pub fn on_timeout(mut self, now: UtcDateTime) -> Step<Self, Session<Expiring, D>> {
        if now < self.deadline() {
            return Step::Same(self);
        }
        self.core.notify(Event::RenewalDue {
            unauthorized: false,
        });
        // The token lived to its refresh moment: no storm of rejections is under way.
        self.core.rejected_young = 0;
        let not_before = self.tokens.refresh_at;
        Step::Next(self.into_expiring(not_before, now, WaitCause::MinRenewalInterval))
    }

    /// Reports that a resource server answered 401 (RFC 6750 `invalid_token`) to token
    /// `generation`. If that is the current token, it is withdrawn and renewal is due as
    /// soon as the token is old enough: 1 s for a first token rejected young, doubling for
    /// each further one, up to the policy's `unauthorized_renewal_spacing`, and never
    /// later than the token's own refresh moment ([`Policy::unauthorized_spacing`]). A
    /// token revoked on the server is replaced as soon as it is a second old; a resource
    /// server that rejects every token cannot drive the session into a token-endpoint
    /// storm. A token that
    /// lived `unauthorized_renewal_spacing` before its rejection starts the count again.
    /// A report about an earlier token changes nothing ([`Step::Same`]).
    ///
    /// [`Policy::unauthorized_spacing`]: crate::policy::Policy::unauthorized_spacing
    pub fn on_unauthorized(
        mut self,
        generation: Generation,
        now: UtcDateTime,
    ) -> Step<Self, Session<Expiring, D>> {
        match self.core.reject(&mut self.tokens, generation) {
            Unauthorized::Withdrawn => {
                self.core.notify(Event::RenewalDue { unauthorized: true });
                let policy = &self.core.shared.policy;
                let issued_at = self.tokens.issued_at;
                let young = now - issued_at < policy.unauthorized_renewal_spacing;
                let streak = if young {
                    self.core.rejected_young.saturating_add(1)
                } else {
                    1
                };
                let not_before = issued_at
                    .saturating_add(policy.unauthorized_spacing(streak))
                    .min(self.tokens.refresh_at);
                self.core.rejected_young = streak;
                Step::Next(self.into_expiring(not_before, now, WaitCause::UnauthorizedSpacing))
            }
            Unauthorized::AlreadyWithdrawn | Unauthorized::Stale => Step::Same(self),
        }
    }

    /// Reports that a call authenticated with token `generation` succeeded at `now`: for
    /// dialects with sliding expiry this extends the current token's life.
    pub fn on_call_succeeded(&mut self, generation: Generation, now: UtcDateTime) {
        self.slide(generation, now);
    }

    /// The caller asks for a new token now, ahead of the refresh moment: an operator
    /// forcing a renewal, or a caller that needs more time left than this token has. The
    /// token is still handed out until its replacement arrives; the renewal then follows
    /// the rules of [`Expiring`] (backoffs and request budgets apply).
    pub fn renew(mut self, now: UtcDateTime) -> Session<Expiring, D> {
        self.core.notify(Event::RenewalDue {
            unauthorized: false,
        });
        self.core.rejected_young = 0;
        self.into_expiring(now, now, WaitCause::Failure)
    }

    /// Renewal is due, but not sent before `not_before`, for `cause`.
    fn into_expiring(
        self,
        not_before: UtcDateTime,
        now: UtcDateTime,
        cause: WaitCause,
    ) -> Session<Expiring, D> {
        let retry_at = (not_before > now).then_some(not_before);
        let state = Expiring {
            backoff: Backoff::new(0, 0, retry_at, cause),
            halt: None,
        };
        Session {
            core: self.core,
            state,
            tokens: self.tokens,
        }
    }
}

impl<D: Dialect> Session<Active, D> {
    /// Reports that the refresh token may have been spent elsewhere (another process
    /// sharing a store that cannot vouch for a single-use token, a tool that restored
    /// this session): it is dropped and wiped, never presented again, and the session
    /// persists. The access token is still served until its hard expiry.
    ///
    /// With credentials, the session stays active and logs in when renewal comes
    /// ([`Step::Same`]). Without, it cannot renew by itself any more: it halts at once
    /// and moves to [`Expiring`], serving the token until its hard expiry
    /// ([`Step::Next`], [`Session::halted`] says why). Without a refresh token nothing
    /// changes.
    pub fn on_refresh_token_spent_elsewhere(
        mut self,
        _now: UtcDateTime,
    ) -> Step<Self, Session<Expiring, D>> {
        if !self.core.forget_spent_refresh_token(&mut self.tokens) {
            return Step::Same(self);
        }
        if self.core.shared.dialect.can_login() {
            self.core.persist();
            return Step::Same(self);
        }
        let error = spent_elsewhere();
        let halt = Halt::from_error(&error);
        self.core.halted(error);
        Step::Next(self.with_tokens(Expiring {
            backoff: Backoff::default(),
            halt,
        }))
    }
}

// As part of `AnySession`: hands out its token, takes reports of calls, the time, a
// renewal and a revocation.
mod route {
    use time::UtcDateTime;

    use crate::bearer::Generation;
    use crate::dialect::Dialect;
    use crate::output::Unauthorized;
    use crate::session::route::{routes_of_a_token_holder, Route, Routed, RoutedRefusal};
    use crate::session::{Active, AnySession, Session, Step};

    impl<D: Dialect> Route<D> for Session<Active, D> {
        const RENEW_BY: &'static str = "renew";

        routes_of_a_token_holder!();

        fn next_deadline(&self) -> Option<UtcDateTime> {
            Some(self.deadline())
        }

        fn route_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
            match self.on_timeout(now) {
                Step::Same(s) => ((s.into(), None), false),
                Step::Next(s) => ((s.into(), None), true),
            }
        }

        fn route_unauthorized(
            self,
            generation: Generation,
            now: UtcDateTime,
        ) -> (AnySession<D>, Unauthorized) {
            match self.on_unauthorized(generation, now) {
                Step::Same(s) => (s.into(), Unauthorized::Stale),
                Step::Next(s) => (s.into(), Unauthorized::Withdrawn),
            }
        }

        fn route_call_succeeded(
            mut self,
            generation: Generation,
            now: UtcDateTime,
        ) -> AnySession<D> {
            self.on_call_succeeded(generation, now);
            self.into()
        }

        fn route_refresh_token_spent_elsewhere(self, now: UtcDateTime) -> AnySession<D> {
            match self.on_refresh_token_spent_elsewhere(now) {
                Step::Same(s) => s.into(),
                Step::Next(s) => s.into(),
            }
        }

        fn route_renew(self, now: UtcDateTime) -> Result<Routed<D>, RoutedRefusal<D>> {
            Ok((self.renew(now).into(), None))
        }

        fn route_revoke(self, now: UtcDateTime) -> Routed<D> {
            self.revoke(now).into()
        }
    }
}

// In a snapshot: the token set.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::stored::{stored_tokens, Form, Parts, Persist};
    use crate::session::{Active, Core, Session};
    use crate::token::TokenSet;

    /// An active session's part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    #[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
    pub(crate) struct ActiveForm<E> {
        tokens: TokenSet<E>,
    }

    impl<E> Form<E> for ActiveForm<E> {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                tokens: Some(&mut self.tokens),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<Active, D> {
        type Form = ActiveForm<D::Extra>;

        fn store(&self, secrets: bool) -> Self::Form {
            ActiveForm {
                tokens: stored_tokens(&self.tokens, secrets),
            }
        }

        fn restore(core: Core<D>, form: Self::Form) -> Self {
            Session {
                core,
                state: Active { _private: () },
                tokens: form.tokens,
            }
        }
    }
}
pub(crate) use stored::ActiveForm;
