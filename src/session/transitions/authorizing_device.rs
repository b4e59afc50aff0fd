//! AuthorizingDevice: the device authorization request in flight.

use time::{Duration, UtcDateTime};

use crate::dialect::device::{read_device_authorization, DeviceAuthorization};
use crate::dialect::Dialect;
use crate::error::{Error, Failure};
use crate::output::{Event, Status};
use crate::prompt::{DevicePrompt, LoginPrompt};
use crate::request::RequestId;
use crate::session::states::DeviceCode;
use crate::session::{AuthorizingDevice, AwaitingApproval, Refused, Session, Unauthenticated};

/// The shortest interval a device code is polled at, whatever the server says: with the
/// request budget, what keeps a server that asks for `0` from being polled in a loop.
pub const MIN_POLL_INTERVAL: Duration = Duration::SECOND;

/// How a device authorization ended.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum DeviceAuthorizationOutcome<D: Dialect> {
    /// The person is shown the code ([`Event::LoginPrompt`]); the session polls.
    Prompted(Session<AwaitingApproval, D>),
    /// The server refused, or the request failed: the person's login ended.
    Failed(Session<Unauthenticated, D>, Error),
}

impl<D: Dialect> Session<AuthorizingDevice, D> {
    /// Where the session stands: logging in, its device authorization in flight.
    pub fn status(&self) -> Status {
        Status::Renewing
    }

    /// Hands back the device authorization response. A usable one (RFC 8628 §3.2, every
    /// text bounded and printable) prompts the person; its `interval` is bounded below by
    /// [`MIN_POLL_INTERVAL`] and above by the policy's `max_retry_after`, its `expires_in`
    /// by the policy's `person_login_timeout`.
    pub fn on_response(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<DeviceAuthorizationOutcome<D>, Refused<Self>> {
        if let Err(error) = self.state.flight.check(id) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let read = self
            .core
            .check_size(response)
            .and_then(|()| read_device_authorization(response));
        Ok(match read {
            Ok(answer) => {
                let (state, prompt) = self.approval(answer, now);
                self.core
                    .notify(Event::LoginPrompt(LoginPrompt::EnterCode(prompt)));
                self.core.persist();
                DeviceAuthorizationOutcome::Prompted(self.with(state, ()))
            }
            Err(failure) => self.fail(failure, now),
        })
    }

    /// The state that polls for `answer`'s approval, and the person's prompt.
    fn approval(
        &self,
        answer: DeviceAuthorization,
        now: UtcDateTime,
    ) -> (AwaitingApproval, DevicePrompt) {
        let policy = &self.core.shared.policy;
        let interval =
            Duration::seconds(answer.interval).clamp(MIN_POLL_INTERVAL, policy.max_retry_after);
        let lifetime = Duration::seconds(answer.expires_in).min(policy.person_login_timeout);
        let prompt = DevicePrompt {
            user_code: answer.user_code.clone(),
            verification_uri: answer.verification_uri.clone(),
            verification_uri_complete: answer.verification_uri_complete.clone(),
            expires_at: now.saturating_add(lifetime),
        };
        let state = AwaitingApproval {
            device_code: DeviceCode(answer.device_code().to_owned()),
            prompt: Box::new(prompt.clone()),
            interval,
            poll_at: now.saturating_add(interval),
            poll: self.state.flight,
            awaiting_poll: false,
            failures: 0,
        };
        (state, prompt)
    }

    pub(super) fn fail(self, failure: Failure, now: UtcDateTime) -> DeviceAuthorizationOutcome<D> {
        let (session, error) = self.end_person_login_on(failure, &[], now);
        DeviceAuthorizationOutcome::Failed(session, error)
    }
}

// As part of `AnySession`: awaits its response; a renewal asked meanwhile is this login.
mod route {
    use super::DeviceAuthorizationOutcome;
    use crate::dialect::Dialect;
    use crate::session::route::{routes_of_a_login_in_flight, Route, Routed};
    use crate::session::{AnySession, AuthorizingDevice, Session};

    impl<D: Dialect> Route<D> for Session<AuthorizingDevice, D> {
        routes_of_a_login_in_flight!();
    }

    impl<D: Dialect> From<DeviceAuthorizationOutcome<D>> for Routed<D> {
        fn from(outcome: DeviceAuthorizationOutcome<D>) -> Self {
            let session: AnySession<D> = match outcome {
                DeviceAuthorizationOutcome::Prompted(s) => s.into(),
                DeviceAuthorizationOutcome::Failed(s, _) => s.into(),
            };
            (session, None)
        }
    }
}

// In a snapshot: the request in flight (lost on restore).
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::states::Flight;
    use crate::session::stored::{Form, Parts, Persist};
    use crate::session::{AuthorizingDevice, Core, Session};

    /// A session whose device authorization is in flight: its part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct AuthorizingDeviceForm {
        flight: Flight,
    }

    impl<E> Form<E> for AuthorizingDeviceForm {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                flight: Some(&self.flight),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<AuthorizingDevice, D> {
        type Form = AuthorizingDeviceForm;

        fn store(&self, _secrets: bool) -> AuthorizingDeviceForm {
            AuthorizingDeviceForm {
                flight: self.state.flight.stored(),
            }
        }

        fn restore(core: Core<D>, form: AuthorizingDeviceForm) -> Self {
            Session {
                core,
                state: AuthorizingDevice {
                    flight: Flight {
                        lost: true,
                        ..form.flight
                    },
                },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::AuthorizingDeviceForm;
