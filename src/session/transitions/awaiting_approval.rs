//! AwaitingApproval: a person is asked to approve the device login; the session polls.

use time::{Duration, UtcDateTime};

use crate::dialect::{Dialect, Secrets};
use crate::error::{Error, Failure, PersonLoginEnd};
use crate::output::Status;
use crate::prompt::{DevicePrompt, LoginPrompt};
use crate::request::{Purpose, RequestId, TokenRequest};
use crate::session::common::later;
use crate::session::{Active, AwaitingApproval, Refused, Session, Unauthenticated};

/// What `slow_down` adds to the polling interval (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::seconds(5);

/// What answering, or showing the time to, a session awaiting a device login's approval
/// led to.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum ApprovalStep<D: Dialect> {
    /// The next poll to send.
    Polling(Session<AwaitingApproval, D>, TokenRequest),
    /// The person has not approved yet (`authorization_pending`), the server asked to
    /// slow down, or a poll failed temporarily: the next poll waits for
    /// [`Session::poll_at`].
    Waiting(Session<AwaitingApproval, D>),
    /// The person approved: a token was obtained.
    LoggedIn(Session<Active, D>),
    /// The login ended without a token: denied, expired, refused, or cancelled.
    Ended(Session<Unauthenticated, D>, Error),
}

impl<D: Dialect> Session<AwaitingApproval, D> {
    /// Where the session stands: awaiting the person, who must enter the code.
    pub fn status(&self) -> Status {
        Status::AwaitingPerson {
            prompt: LoginPrompt::EnterCode((*self.state.prompt).clone()),
        }
    }

    /// What the person was asked to do.
    pub fn prompt(&self) -> &DevicePrompt {
        &self.state.prompt
    }

    /// When the next poll is due (the request budget may hold it longer).
    pub fn poll_at(&self) -> UtcDateTime {
        self.state.poll_at
    }

    /// The interval between polls: the server's, bounded, plus [`SLOW_DOWN_STEP`] for
    /// each `slow_down`.
    pub fn interval(&self) -> Duration {
        self.state.interval
    }

    /// Hands back a poll's response: tokens end the login; `authorization_pending` waits
    /// the interval; `slow_down` adds [`SLOW_DOWN_STEP`] to it (up to the policy's
    /// `max_retry_after`); `expired_token` and `access_denied` end the login
    /// ([`PersonLoginEnd::Expired`], [`PersonLoginEnd::Denied`]); a temporary failure
    /// waits the interval or the backoff, whichever is longer; any other error ends it
    /// ([`PersonLoginEnd::Refused`]).
    pub fn on_response(
        self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<ApprovalStep<D>, Refused<Self>> {
        if !self.state.awaiting_poll {
            return Err(Refused {
                session: self,
                error: crate::error::Misuse::UnknownRequest { id },
            });
        }
        let (mut session, failure) = match self.take_login_answer(id, response, now)? {
            Ok(active) => return Ok(ApprovalStep::LoggedIn(active)),
            Err(answered) => answered,
        };
        session.state.awaiting_poll = false;
        let code = failure.code().map(|code| code.as_ref().to_owned());
        Ok(match code.as_deref() {
            Some("authorization_pending") => {
                session.state.failures = 0;
                session.wait(now, None)
            }
            Some("slow_down") => {
                let max = session.core.shared.policy.max_retry_after;
                session.state.interval = session
                    .state
                    .interval
                    .saturating_add(SLOW_DOWN_STEP)
                    .min(max);
                session.state.failures = 0;
                session.wait(now, None)
            }
            Some("expired_token") => session.end(PersonLoginEnd::Expired, failure, now),
            Some("access_denied") => session.end(PersonLoginEnd::Denied, failure, now),
            _ => session.fail(failure, now),
        })
    }

    /// Waits the interval (or until `retry_at`, if later) before the next poll.
    fn wait(mut self, now: UtcDateTime, retry_at: Option<UtcDateTime>) -> ApprovalStep<D> {
        let next = now.saturating_add(self.state.interval);
        self.state.poll_at = later(Some(next), retry_at).unwrap_or(next);
        ApprovalStep::Waiting(self)
    }

    /// Ends the login for `ended`, keeping the server's answer scrubbed of the device code.
    fn end(self, ended: PersonLoginEnd, failure: Failure, now: UtcDateTime) -> ApprovalStep<D> {
        let device_code = Secrets::new([self.state.device_code.0.as_str()]);
        let error = self
            .core
            .verdict(Purpose::Login, failure, 1, &[&device_code], now);
        let (session, error) = self.end_person_login(ended, error.failure().cloned());
        ApprovalStep::Ended(session, error)
    }

    /// A poll failed: temporarily (a 5xx, a transport error, no answer in time), and the
    /// next waits; or for good, and the login ends.
    pub(super) fn fail(mut self, failure: Failure, now: UtcDateTime) -> ApprovalStep<D> {
        self.state.awaiting_poll = false;
        let device_code = Secrets::new([self.state.device_code.0.as_str()]);
        let failures = self.state.failures.saturating_add(1);
        let error = self
            .core
            .verdict(Purpose::Login, failure, failures, &[&device_code], now);
        if error.is_temporary() {
            self.state.failures = failures;
            let retry_at = error.retry_at();
            self.core.retry_scheduled(Purpose::Login, error);
            return self.wait(now, retry_at);
        }
        let (session, error) =
            self.end_person_login(PersonLoginEnd::Refused, error.failure().cloned());
        ApprovalStep::Ended(session, error)
    }

    /// At the poll moment, with the request budget allowing, sends the next poll; past
    /// the code's expiry, ends the login ([`PersonLoginEnd::Expired`]).
    pub(super) fn poll_when_due(mut self, now: UtcDateTime) -> Result<ApprovalStep<D>, Self> {
        if now >= self.state.prompt.expires_at {
            let (session, error) = self.end_person_login(PersonLoginEnd::Expired, None);
            return Ok(ApprovalStep::Ended(session, error));
        }
        if now < self.state.poll_at || self.core.check_budget(Purpose::Login, now).is_err() {
            return Err(self);
        }
        let Some(request) = self
            .core
            .shared
            .dialect
            .device_token_request(&self.state.device_code.0)
        else {
            let (session, error) = self.end_person_login(PersonLoginEnd::Refused, None);
            return Ok(ApprovalStep::Ended(session, error));
        };
        let (flight, request) = self.core.emit(Purpose::Login, request, true, now);
        self.state.poll = flight;
        self.state.awaiting_poll = true;
        match request {
            Ok(request) => Ok(ApprovalStep::Polling(self, request)),
            // Not sent: the next poll waits, as after a poll that never left.
            Err(failure) => Ok(self.fail(failure, now)),
        }
    }

    /// When the session next needs the time: the poll's response deadline while one is in
    /// flight; otherwise the next poll (held by the request budget if need be), or the
    /// code's expiry, whichever comes first.
    pub fn deadline(&self) -> UtcDateTime {
        if self.state.awaiting_poll {
            return self.state.poll.due();
        }
        let poll =
            later(Some(self.state.poll_at), self.core.budget_slot()).unwrap_or(self.state.poll_at);
        poll.min(self.state.prompt.expires_at)
    }

    /// Abandons the login (the person went away): the session waits, unauthenticated, for
    /// a new one. A poll in flight is abandoned: its answer is refused as unknown.
    pub fn cancel(self, _now: UtcDateTime) -> Session<Unauthenticated, D> {
        self.end_person_login(PersonLoginEnd::Cancelled, None).0
    }
}

// As part of `AnySession`: polls when due, takes each poll's answer, a cancel and a
// revocation.
mod route {
    use time::UtcDateTime;

    use super::ApprovalStep;
    use crate::dialect::Dialect;
    use crate::session::route::{routes_of_a_request_in_flight, Route, Routed, RoutedRefusal};
    use crate::session::{AnySession, AwaitingApproval, Session};

    impl<D: Dialect> Route<D> for Session<AwaitingApproval, D> {
        routes_of_a_request_in_flight!();

        fn next_deadline(&self) -> Option<UtcDateTime> {
            Some(self.deadline())
        }

        fn route_renew(self, _now: UtcDateTime) -> Result<Routed<D>, RoutedRefusal<D>> {
            Ok((self.into(), None))
        }

        fn route_cancel(self, now: UtcDateTime) -> Result<AnySession<D>, RoutedRefusal<D>> {
            Ok(self.cancel(now).into())
        }

        fn route_revoke(self, now: UtcDateTime) -> Routed<D> {
            self.revoke(now).into()
        }
    }

    impl<D: Dialect> From<ApprovalStep<D>> for Routed<D> {
        fn from(step: ApprovalStep<D>) -> Self {
            match step {
                ApprovalStep::Polling(s, request) => (s.into(), Some(request)),
                ApprovalStep::Waiting(s) => (s.into(), None),
                ApprovalStep::LoggedIn(s) => (s.into(), None),
                ApprovalStep::Ended(s, _) => (s.into(), None),
            }
        }
    }
}

// In a snapshot: the device code (a secret), the prompt, the polling schedule.
mod stored {
    use serde::{Deserialize, Serialize};
    use time::{Duration, UtcDateTime};

    use crate::dialect::Dialect;
    use crate::prompt::DevicePrompt;
    use crate::session::states::{DeviceCode, Flight};
    use crate::session::stored::{stored_secret, Form, Parts, Persist, REDACTED};
    use crate::session::{AwaitingApproval, Core, Session};

    /// A session awaiting a device login's approval: its part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct AwaitingApprovalForm {
        device_code: DeviceCode,
        prompt: DevicePrompt,
        interval_seconds: i64,
        poll_at: UtcDateTime,
        poll: Flight,
        awaiting_poll: bool,
        failures: u32,
    }

    impl<E> Form<E> for AwaitingApprovalForm {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                flight: self.awaiting_poll.then_some(&self.poll),
                ..Parts::default()
            }
        }

        fn check(&self) -> Result<(), &'static str> {
            if self.device_code.0 == REDACTED {
                return Err("a redacted snapshot cannot be restored");
            }
            if self.interval_seconds < 1 {
                return Err("the polling interval is out of range");
            }
            Ok(())
        }
    }

    impl<D: Dialect> Persist<D> for Session<AwaitingApproval, D> {
        type Form = AwaitingApprovalForm;

        fn store(&self, secrets: bool) -> AwaitingApprovalForm {
            AwaitingApprovalForm {
                device_code: DeviceCode(stored_secret(&self.state.device_code.0, secrets)),
                prompt: (*self.state.prompt).clone(),
                interval_seconds: self.state.interval.whole_seconds(),
                poll_at: self.state.poll_at,
                poll: self.state.poll.stored(),
                awaiting_poll: self.state.awaiting_poll,
                failures: self.state.failures,
            }
        }

        fn restore(core: Core<D>, form: AwaitingApprovalForm) -> Self {
            let max = core.shared.policy.max_retry_after;
            Session {
                core,
                state: AwaitingApproval {
                    device_code: form.device_code.clone(),
                    prompt: Box::new(form.prompt.clone()),
                    interval: Duration::seconds(form.interval_seconds)
                        .clamp(super::super::authorizing_device::MIN_POLL_INTERVAL, max),
                    poll_at: form.poll_at,
                    poll: Flight {
                        lost: form.awaiting_poll,
                        ..form.poll
                    },
                    awaiting_poll: form.awaiting_poll,
                    failures: form.failures,
                },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::AwaitingApprovalForm;
