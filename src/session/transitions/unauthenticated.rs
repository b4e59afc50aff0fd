//! Unauthenticated: no token; a login, or tokens adopted from elsewhere.

use std::sync::Arc;

use time::UtcDateTime;

use super::waiting;
use crate::bearer::Generation;
use crate::dialect::Dialect;
use crate::error::{ConfigError, Error, Misuse};
use crate::output::Status;
use crate::output::WaitReason;
use crate::policy::Policy;
use crate::request::{Purpose, TokenRequest};
use crate::session::common::later;
use crate::session::states::{Backoff, Halt};
use crate::session::{Active, Core, LoggingIn, Refused, Session, Shared, Step, Unauthenticated};
use crate::token::{TokenGrant, TokenSet};

impl<D: Dialect> Session<Unauthenticated, D> {
    /// Where the session stands: waiting for a login that is due later, or needing one
    /// that it cannot make by itself (halted, or no credentials configured).
    pub fn status(&self) -> Status {
        match self.halted() {
            Some(error) => Status::NeedsLogin { error },
            None if self.dialect().person_login().is_some() => Status::NeedsLogin {
                error: Error::PersonLogin {
                    ended: None,
                    failure: None,
                },
            },
            None if !self.dialect().can_login() => Status::NeedsLogin {
                error: ConfigError::NoCredentials.into(),
            },
            None => waiting(self.retry_at(), self.wait_reason()),
        }
    }

    /// A new session with no token, after checking the policy.
    pub fn new(dialect: D, policy: Policy) -> Result<Self, ConfigError> {
        policy.validate()?;
        Ok(Session {
            core: Core::new(
                Arc::new(Shared { dialect, policy }),
                1,
                Generation::default(),
            ),
            state: Unauthenticated {
                backoff: Backoff::default(),
                halt: None,
            },
            tokens: (),
        })
    }

    /// Emits the login request.
    ///
    /// Refused while a backoff runs ([`Misuse::TooEarly`]) and when the dialect has no
    /// credentials ([`Misuse::NoCredentials`]). An explicit login clears a halt, does not
    /// wait for the slow retry of a rejected login, and starts its count again.
    pub fn login(
        mut self,
        now: UtcDateTime,
    ) -> Result<(Session<LoggingIn, D>, TokenRequest), Refused<Self>> {
        let rejections = self.state.backoff.rejections;
        self.state.backoff.rejections = 0;
        self.send_login(now).map_err(|mut refused| {
            refused.session.state.backoff.rejections = rejections;
            refused
        })
    }

    fn send_login(
        mut self,
        now: UtcDateTime,
    ) -> Result<(Session<LoggingIn, D>, TokenRequest), Refused<Self>> {
        if let Err(error) = self
            .state
            .backoff
            .check(Purpose::Login, now)
            .and_then(|()| self.core.check_budget(Purpose::Login, now))
        {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let Some(request) = self.core.shared.dialect.login_request() else {
            return Err(Refused {
                session: self,
                error: Misuse::NoCredentials,
            });
        };
        let (flight, request) = self.core.emit(Purpose::Login, request, true, now);
        let Backoff {
            failures,
            rejections,
            ..
        } = self.state.backoff;
        let state = LoggingIn {
            flight,
            failures,
            rejections,
        };
        let session = self.with(state, ());
        match request {
            Ok(request) => Ok((session, request)),
            // Not sent: a failure that never left, backed off like one.
            Err(failure) => {
                let error = failure.no_assertion(Purpose::Login);
                let (session, _) = session.fail_to(failure, now);
                Err(Refused { session, error })
            }
        }
    }

    /// Shows the session the time: logs in when a login is due — not halted, credentials
    /// configured, and any backoff or request budget waited out.
    pub fn on_timeout(self, now: UtcDateTime) -> Step<Self, (Session<LoggingIn, D>, TokenRequest)> {
        if self.state.halt.is_some()
            || !self.core.shared.dialect.can_login()
            || self.retry_at().is_some_and(|at| now < at)
        {
            return Step::Same(self);
        }
        match self.send_login(now) {
            Ok(next) => Step::Next(next),
            Err(refused) => Step::Same(refused.session),
        }
    }

    /// When a login falls due by itself, if it will: `None` when halted or without
    /// credentials.
    pub fn deadline(&self) -> Option<UtcDateTime> {
        if self.state.halt.is_some() || !self.core.shared.dialect.can_login() {
            return None;
        }
        Some(self.retry_at().unwrap_or(UtcDateTime::MIN))
    }

    /// Adopts tokens obtained elsewhere (an authorization code flow, a device flow) as if
    /// a login had just returned them at `now`.
    pub fn adopt(
        mut self,
        grant: TokenGrant<D::Extra>,
        now: UtcDateTime,
    ) -> Result<Session<Active, D>, (Self, ConfigError)> {
        match TokenSet::from_grant(grant, &self.core.shared.policy, now, now, None) {
            Ok(mut tokens) => {
                self.core.issue(&mut tokens, Purpose::Login, false);
                Ok(self.with(Active { _private: () }, tokens))
            }
            Err(_) => Err((
                self,
                ConfigError::InvalidSetting {
                    setting: "grant",
                    reason: "no usable access token, or a lifetime out of range",
                },
            )),
        }
    }

    /// When the next login is allowed, if a login failed temporarily or the dialect's
    /// request budget is spent.
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
        self.core.wait_reason(&self.state.backoff, Purpose::Login)
    }

    /// Why the session stopped logging in by itself, if it did.
    pub fn halted(&self) -> Option<Error> {
        self.state.halt.as_deref().map(Halt::to_error)
    }
}

// As part of `AnySession`: takes a login, the time, and a revocation.
mod route {
    use time::UtcDateTime;

    use crate::dialect::Dialect;
    use crate::request::TokenRequest;
    use crate::session::route::{
        erase, routes_of_a_person_login_start, Route, Routed, RoutedRefusal,
    };
    use crate::session::{AnySession, Session, Step, Unauthenticated};

    impl<D: Dialect> Route<D> for Session<Unauthenticated, D> {
        fn next_deadline(&self) -> Option<UtcDateTime> {
            self.deadline()
        }

        fn route_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
            match self.on_timeout(now) {
                Step::Same(s) => ((s.into(), None), false),
                Step::Next((s, request)) => ((s.into(), Some(request)), true),
            }
        }

        fn route_login(
            self,
            now: UtcDateTime,
        ) -> Result<(AnySession<D>, TokenRequest), RoutedRefusal<D>> {
            self.login(now)
                .map(|(s, request)| (s.into(), request))
                .map_err(erase)
        }

        fn route_revoke(self, now: UtcDateTime) -> Routed<D> {
            self.revoke(now).into()
        }

        routes_of_a_person_login_start!();
    }
}

// In a snapshot: the backoff and the halt.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::states::{Backoff, Halt};
    use crate::session::stored::{Form, Parts, Persist};
    use crate::session::{Core, Session, Unauthenticated};

    /// An unauthenticated session's part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct UnauthenticatedForm {
        backoff: Backoff,
        halt: Option<Box<Halt>>,
    }

    impl<E> Form<E> for UnauthenticatedForm {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                halt: self.halt.as_deref_mut(),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<Unauthenticated, D> {
        type Form = UnauthenticatedForm;

        fn store(&self, _secrets: bool) -> UnauthenticatedForm {
            UnauthenticatedForm {
                backoff: self.state.backoff,
                halt: self.state.halt.clone(),
            }
        }

        fn restore(core: Core<D>, form: UnauthenticatedForm) -> Self {
            Session {
                core,
                state: Unauthenticated {
                    backoff: form.backoff,
                    halt: form.halt,
                },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::UnauthenticatedForm;
