//! ExchangingCode: the authorization code's exchange in flight, sent once.

use time::UtcDateTime;

use super::LoginOutcome;
use crate::dialect::Dialect;
use crate::error::Failure;
use crate::output::Status;
use crate::request::RequestId;
use crate::session::{ExchangingCode, Refused, Session};

impl<D: Dialect> Session<ExchangingCode, D> {
    /// Where the session stands: logging in, the code's exchange in flight.
    pub fn status(&self) -> Status {
        Status::Renewing
    }

    /// Hands back the exchange's response: tokens, or the end of the login. A failure is
    /// never retried, temporary or not: the code is single-use.
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
        // A server may echo the code or the verifier it was sent.
        let sent = self.state.sent.clone();
        let (session, error) = self.end_person_login_on(failure, &[&sent], now);
        LoginOutcome::Failed(session, error)
    }
}

// As part of `AnySession`: awaits its response; a renewal asked meanwhile is this login.
mod route {
    use crate::dialect::Dialect;
    use crate::session::route::{routes_of_a_login_in_flight, Route};
    use crate::session::{ExchangingCode, Session};

    impl<D: Dialect> Route<D> for Session<ExchangingCode, D> {
        routes_of_a_login_in_flight!();
    }
}

// In a snapshot: the exchange in flight, lost on restore and never sent again.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::states::Flight;
    use crate::session::stored::{Form, Parts, Persist};
    use crate::session::{Core, ExchangingCode, Session};

    /// A session whose code exchange is in flight: its part of a snapshot. The code is not
    /// kept: it is never sent again.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct ExchangingCodeForm {
        flight: Flight,
    }

    impl<E> Form<E> for ExchangingCodeForm {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                flight: Some(&self.flight),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<ExchangingCode, D> {
        type Form = ExchangingCodeForm;

        fn store(&self, _secrets: bool) -> ExchangingCodeForm {
            ExchangingCodeForm {
                flight: self.state.flight.stored(),
            }
        }

        fn restore(core: Core<D>, form: ExchangingCodeForm) -> Self {
            Session {
                core,
                state: ExchangingCode {
                    flight: Flight {
                        lost: true,
                        ..form.flight
                    },
                    sent: Box::default(),
                },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::ExchangingCodeForm;
