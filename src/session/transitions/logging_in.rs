//! LoggingIn: the login request in flight.

use time::UtcDateTime;

use super::LoginOutcome;
use crate::dialect::Dialect;
use crate::error::{Error, Failure};
use crate::output::Status;
use crate::request::{Purpose, RequestId};
use crate::session::states::{Backoff, Halt, WaitCause};
use crate::session::{LoggingIn, Refused, Session, Unauthenticated};

impl<D: Dialect> Session<LoggingIn, D> {
    /// Where the session stands: renewing, its login in flight.
    pub fn status(&self) -> Status {
        Status::Renewing
    }

    /// Hands back the login response.
    pub fn on_response(
        self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<LoginOutcome<D>, Refused<Self>> {
        Ok(match self.take_login_answer(id, response, now)? {
            Ok(active) => LoginOutcome::LoggedIn(active),
            Err((session, failure)) => session.fail(failure, now),
        })
    }

    pub(super) fn fail(self, failure: Failure, now: UtcDateTime) -> LoginOutcome<D> {
        let (session, error) = self.fail_to(failure, now);
        LoginOutcome::Failed(session, error)
    }

    /// The login failed: back to [`Unauthenticated`], backing off or halted.
    pub(super) fn fail_to(
        mut self,
        failure: Failure,
        now: UtcDateTime,
    ) -> (Session<Unauthenticated, D>, Error) {
        let failures = self.state.failures.saturating_add(1);
        let error = self
            .core
            .verdict(Purpose::Login, failure, failures, &[], now);
        let mut rejections = self.state.rejections;
        // Rejections and temporary failures are counted apart, each for its own pace:
        // neither resets the other, so a wrong password is retried a bounded number of
        // times however many connection errors come between.
        let (backoff, halt) = if Halt::from_error(&error).is_some() {
            // Rejected: retried slowly, a bounded number of times, then halted.
            rejections = rejections.saturating_add(1);
            let (retry_at, halt) = self.core.rejected(Purpose::Login, &error, rejections, now);
            let failures = self.state.failures;
            let backoff = Backoff::new(failures, rejections, retry_at, WaitCause::Rejected);
            (backoff, halt)
        } else {
            self.core.retry_scheduled(Purpose::Login, error.clone());
            let cause = WaitCause::of(&error);
            let backoff = Backoff::new(failures, rejections, error.retry_at(), cause);
            (backoff, None)
        };
        let state = Unauthenticated { backoff, halt };
        (self.with(state, ()), error)
    }
}

// As part of `AnySession`: awaits its response; a renewal asked meanwhile is this login.
mod route {
    use crate::dialect::Dialect;
    use crate::session::route::{routes_of_a_login_in_flight, Route};
    use crate::session::{LoggingIn, Session};

    impl<D: Dialect> Route<D> for Session<LoggingIn, D> {
        routes_of_a_login_in_flight!();
    }
}

// In a snapshot: the login in flight (lost on restore) and the failure counts.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::states::Flight;
    use crate::session::stored::{Form, Parts, Persist};
    use crate::session::{Core, LoggingIn, Session};

    /// A session logging in: its part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct LoggingInForm {
        flight: Flight,
        failures: u32,
        #[serde(default)]
        rejections: u32,
    }

    impl<E> Form<E> for LoggingInForm {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                flight: Some(&self.flight),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<LoggingIn, D> {
        type Form = LoggingInForm;

        fn store(&self, _secrets: bool) -> LoggingInForm {
            LoggingInForm {
                flight: self.state.flight.stored(),
                failures: self.state.failures,
                rejections: self.state.rejections,
            }
        }

        fn restore(core: Core<D>, form: LoggingInForm) -> Self {
            Session {
                core,
                state: LoggingIn {
                    flight: Flight {
                        lost: true,
                        ..form.flight
                    },
                    failures: form.failures,
                    rejections: form.rejections,
                },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::LoggingInForm;
