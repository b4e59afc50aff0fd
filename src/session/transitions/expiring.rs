//! Expiring: renewal is due, the token still served until its hard expiry.

use time::UtcDateTime;

use super::waiting;
use super::{spent_elsewhere, ExpiringStep};
use crate::bearer::Generation;
use crate::dialect::{Dialect, RefreshTokenUse};
use crate::error::{ConfigError, Error, Misuse};
use crate::output::Status;
use crate::output::{Unauthorized, WaitReason};
use crate::request::{Purpose, TokenRequest};
use crate::session::common::{earlier, later};
use crate::session::states::{Backoff, Halt, WaitCause};
use crate::session::{Active, Expiring, Refreshing, Refused, Session, Step, Unauthenticated};

impl<D: Dialect> Session<Expiring, D> {
    /// Where the session stands: waiting to renew, or needing a login it cannot make by
    /// itself (halted).
    pub fn status(&self) -> Status {
        match self.halted() {
            Some(error) => Status::NeedsLogin { error },
            None => waiting(self.retry_at(), self.wait_reason()),
        }
    }

    /// When the next renewal attempt is allowed, if one failed temporarily or the
    /// dialect's request budget is spent.
    pub fn retry_at(&self) -> Option<UtcDateTime> {
        later(self.state.backoff.retry_at, self.core.budget_slot())
    }

    /// Whether the wait until [`retry_at`](Session::retry_at) was asked for by the
    /// endpoint or the dialect's request budget, rather than a backoff after a failure.
    pub fn is_throttled(&self) -> bool {
        self.wait_reason().is_some_and(WaitReason::is_throttled)
    }

    /// Why the session waits until [`retry_at`](Session::retry_at), if it does.
    pub fn wait_reason(&self) -> Option<WaitReason> {
        self.core.wait_reason(&self.state.backoff, Purpose::Refresh)
    }

    /// Why the session stopped renewing by itself, if it did.
    pub fn halted(&self) -> Option<Error> {
        self.state.halt.as_deref().map(Halt::to_error)
    }

    /// Whether the session has a way to renew: a live refresh token or login credentials.
    pub fn can_renew(&self, now: UtcDateTime) -> bool {
        self.core.refresh_token_usable(&self.tokens, now) || self.core.shared.dialect.can_login()
    }

    /// When showing the session the time next matters: the next renewal attempt (unless
    /// halted) or the token's hard expiry (unless already withdrawn), whichever is first.
    pub fn deadline(&self) -> Option<UtcDateTime> {
        let halted = self.state.halt.is_some();
        let expiry = (self.tokens.withdrawn.is_none() || halted).then_some(self.tokens.hard_expiry);
        let retry = (!halted).then(|| self.retry_at().unwrap_or(UtcDateTime::MIN));
        earlier(expiry, retry)
    }

    /// Shows the session the time: withdraws the token at its hard expiry; sends the
    /// renewal when it is due; halts when there is no way to renew; and a halted session
    /// whose token passed its hard expiry has nothing left and becomes unauthenticated,
    /// keeping the halt's reason.
    pub fn on_timeout(mut self, now: UtcDateTime) -> ExpiringStep<D> {
        self.core.expire_if_due(&mut self.tokens, now);
        if self.state.halt.is_some() {
            if now < self.tokens.hard_expiry {
                return ExpiringStep::Waiting(self);
            }
            let Backoff {
                failures,
                rejections,
                ..
            } = self.state.backoff;
            let state = Unauthenticated {
                backoff: Backoff::new(failures, rejections, None, WaitCause::Failure),
                halt: self.state.halt,
            };
            return ExpiringStep::Halted(Session {
                core: self.core,
                state,
                tokens: (),
            });
        }
        if self.retry_at().is_some_and(|at| now < at) {
            return ExpiringStep::Waiting(self);
        }
        match self.refresh(now) {
            Ok((session, request)) => ExpiringStep::Renewing(session, request),
            Err(Refused {
                session: mut s,
                error: Misuse::NoCredentials,
            }) => {
                s.state.halt = Some(Box::new(Halt::NoCredentials));
                s.core.halted(Error::Config(ConfigError::NoCredentials));
                ExpiringStep::Waiting(s)
            }
            Err(refused) => ExpiringStep::Waiting(refused.session),
        }
    }

    /// Emits the renewal request: a refresh with the refresh token when it is alive and
    /// the dialect refreshes, otherwise a new login.
    ///
    /// Refused while a backoff runs ([`Misuse::TooEarly`]) and when there is neither a
    /// refresh token nor credentials ([`Misuse::NoCredentials`]). An explicit call clears
    /// a halt and does not wait for the slow retry of a rejection. A refresh that spends
    /// a single-use refresh token is preceded by a persistence point.
    pub fn refresh(
        mut self,
        now: UtcDateTime,
    ) -> Result<(Session<Refreshing, D>, TokenRequest), Refused<Self>> {
        if let Err(error) = self.state.backoff.check(Purpose::Refresh, now) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let dialect = &self.core.shared.dialect;
        let refresh = self
            .tokens
            .refresh_token
            .as_ref()
            .filter(|_| self.core.refresh_token_usable(&self.tokens, now))
            .and_then(|token| dialect.refresh_request(token));
        let (purpose, request, resend_safe) = match refresh {
            Some(request) => (
                Purpose::Refresh,
                request,
                dialect.refresh_token_use() == RefreshTokenUse::Reusable,
            ),
            None => match dialect.login_request() {
                Some(request) => (Purpose::Login, request, true),
                None => {
                    return Err(Refused {
                        session: self,
                        error: Misuse::NoCredentials,
                    })
                }
            },
        };
        if let Err(error) = self.core.check_budget(purpose, now) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let (flight, request) = self.core.emit(purpose, request, resend_safe, now);
        let Backoff {
            failures,
            rejections,
            ..
        } = self.state.backoff;
        let state = Refreshing {
            flight,
            failures,
            rejections,
        };
        match request {
            Ok(request) => {
                if !resend_safe {
                    // Write-ahead: a snapshot taken now knows the refresh token is being
                    // spent.
                    self.core.persist();
                }
                Ok((self.with_tokens(state), request))
            }
            // Not sent, so nothing spent: a failure that never left, backed off like one.
            Err(failure) => {
                let error = failure.no_assertion(purpose);
                let (session, _) = self.with_tokens(state).fail_to(failure, now);
                Err(Refused { session, error })
            }
        }
    }

    /// Reports a 401 from a resource server about token `generation`: if it is the
    /// current token, it is no longer handed out.
    pub fn on_unauthorized(&mut self, generation: Generation, _now: UtcDateTime) -> Unauthorized {
        self.core.reject(&mut self.tokens, generation)
    }

    /// Reports that a call authenticated with token `generation` succeeded at `now`. When
    /// a sliding expiry moves the refresh moment past `now` (and the token was not
    /// withdrawn), renewal is no longer due and the session goes back to [`Active`],
    /// clearing any backoff or halt.
    pub fn on_call_succeeded(
        mut self,
        generation: Generation,
        now: UtcDateTime,
    ) -> Step<Self, Session<Active, D>> {
        self.slide(generation, now);
        if self.tokens.withdrawn.is_some() || now >= self.tokens.refresh_at {
            return Step::Same(self);
        }
        Step::Next(self.with_tokens(Active { _private: () }))
    }
}

impl<D: Dialect> Session<Expiring, D> {
    /// Reports that the refresh token may have been spent elsewhere: it is dropped and
    /// wiped, never presented again, and the session persists. The access token is still
    /// served until its hard expiry. The renewal logs in when it is due (a backoff still
    /// applies); without credentials the session halts, needing a new login. Without a
    /// refresh token nothing changes.
    pub fn on_refresh_token_spent_elsewhere(&mut self, _now: UtcDateTime) {
        if !self.core.forget_spent_refresh_token(&mut self.tokens) {
            return;
        }
        if self.core.shared.dialect.can_login() || self.state.halt.is_some() {
            self.core.persist();
            return;
        }
        let error = spent_elsewhere();
        self.state.halt = Halt::from_error(&error);
        self.core.halted(error);
    }
}

// As part of `AnySession`: still hands out its token; a login asked of it is a refresh.
mod route {
    use time::UtcDateTime;

    use crate::bearer::Generation;
    use crate::dialect::Dialect;
    use crate::output::Unauthorized;
    use crate::request::TokenRequest;
    use crate::session::route::{
        erase, routes_of_a_person_login_start, routes_of_a_token_holder, Route, Routed,
        RoutedRefusal,
    };
    use crate::session::transitions::ExpiringStep;
    use crate::session::{AnySession, Expiring, Session, Step};

    impl<D: Dialect> Route<D> for Session<Expiring, D> {
        const LOGIN_BY: &'static str = "refresh";

        routes_of_a_token_holder!();

        fn next_deadline(&self) -> Option<UtcDateTime> {
            self.deadline()
        }

        fn route_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
            match self.on_timeout(now) {
                ExpiringStep::Waiting(s) => ((s.into(), None), false),
                ExpiringStep::Renewing(s, request) => ((s.into(), Some(request)), true),
                ExpiringStep::Halted(s) => ((s.into(), None), true),
            }
        }

        fn route_unauthorized(
            mut self,
            generation: Generation,
            now: UtcDateTime,
        ) -> (AnySession<D>, Unauthorized) {
            let answer = self.on_unauthorized(generation, now);
            (self.into(), answer)
        }

        fn route_call_succeeded(self, generation: Generation, now: UtcDateTime) -> AnySession<D> {
            match self.on_call_succeeded(generation, now) {
                Step::Same(s) => s.into(),
                Step::Next(s) => s.into(),
            }
        }

        fn route_refresh_token_spent_elsewhere(mut self, now: UtcDateTime) -> AnySession<D> {
            self.on_refresh_token_spent_elsewhere(now);
            self.into()
        }

        fn route_login(
            self,
            now: UtcDateTime,
        ) -> Result<(AnySession<D>, TokenRequest), RoutedRefusal<D>> {
            self.refresh(now)
                .map(|(s, request)| (s.into(), request))
                .map_err(erase)
        }

        fn route_revoke(self, now: UtcDateTime) -> Routed<D> {
            self.revoke(now).into()
        }

        routes_of_a_person_login_start!();
    }
}

// In a snapshot: the token set, the backoff and the halt.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::states::{Backoff, Halt};
    use crate::session::stored::{stored_tokens, Form, Parts, Persist};
    use crate::session::{Core, Expiring, Session};
    use crate::token::TokenSet;

    /// An expiring session's part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    #[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
    pub(crate) struct ExpiringForm<E> {
        tokens: TokenSet<E>,
        backoff: Backoff,
        halt: Option<Box<Halt>>,
    }

    impl<E> Form<E> for ExpiringForm<E> {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                tokens: Some(&mut self.tokens),
                halt: self.halt.as_deref_mut(),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<Expiring, D> {
        type Form = ExpiringForm<D::Extra>;

        fn store(&self, secrets: bool) -> Self::Form {
            ExpiringForm {
                tokens: stored_tokens(&self.tokens, secrets),
                backoff: self.state.backoff,
                halt: self.state.halt.clone(),
            }
        }

        fn restore(core: Core<D>, form: Self::Form) -> Self {
            Session {
                core,
                state: Expiring {
                    backoff: form.backoff,
                    halt: form.halt,
                },
                tokens: form.tokens,
            }
        }
    }
}
pub(crate) use stored::ExpiringForm;
