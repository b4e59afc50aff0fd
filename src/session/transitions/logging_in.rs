//! LoggingIn: the login request in flight.

use time::UtcDateTime;

use super::LoginOutcome;
use crate::dialect::Dialect;
use crate::error::Failure;
use crate::output::Status;
use crate::request::{Purpose, RequestId};
use crate::session::states::{Backoff, Halt, WaitCause};
use crate::session::{Active, LoggingIn, Refused, Session, Unauthenticated};

impl<D: Dialect> Session<LoggingIn, D> {
    /// Where the session stands: renewing, its login in flight.
    pub fn status(&self) -> Status {
        Status::Renewing
    }

    /// Hands back the login response.
    pub fn on_response(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<LoginOutcome<D>, Refused<Self>> {
        let flight = self.state.flight;
        if let Err(error) = flight.check(id) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        Ok(match self.core.accept(&flight, response, now, None) {
            Ok(mut tokens) => {
                self.core.issue(&mut tokens, Purpose::Login, false);
                LoginOutcome::LoggedIn(self.with(Active { _private: () }, tokens))
            }
            Err(failure) => self.fail(failure, now),
        })
    }

    pub(super) fn fail(mut self, failure: Failure, now: UtcDateTime) -> LoginOutcome<D> {
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
        LoginOutcome::Failed(self.with(state, ()), error)
    }
}
