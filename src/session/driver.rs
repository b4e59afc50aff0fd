//! A poll-style driver over [`AnySession`]: inputs in, outputs out, no decisions left to
//! the caller but sending requests and waiting.

use std::collections::VecDeque;

use oauth2::AccessToken;
use time::UtcDateTime;

use super::transitions::{LoginOutcome, RenewOutcome, Revocation, RevocationStep};
use super::{AnySession, Refused, Session, Step, Unauthenticated};
use crate::dialect::Dialect;
use crate::error::{ConfigError, Error, Misuse};
use crate::io::{Event, Output, Purpose, RequestId};
use crate::policy::Policy;

/// Runs a session: logs in, renews when due, retries with backoff, revokes on request.
///
/// Inputs are the `handle_*` methods, each taking `now`; outputs come from
/// [`poll_output`](Driver::poll_output), in order. The drain loop every adapter follows:
///
/// 1. Call an input (`handle_timeout(now)` to start).
/// 2. Call `poll_output()` until it returns [`Output::Timeout`] or [`Output::Idle`]:
///    send each [`Output::Request`], handle each [`Output::Event`].
/// 3. Wait until the timeout, a response, or a need of the application (a 401 seen, a
///    revoke); feed it in with the matching `handle_*`; go to 2.
///
/// Extra `handle_timeout` calls are harmless. Inputs that do not fit the state (a response
/// for a request no longer in flight) return a [`Misuse`] and change nothing.
#[derive(Debug)]
pub struct Driver<D: Dialect> {
    session: Option<AnySession<D>>,
    outputs: VecDeque<Output>,
    expiry_announced: bool,
}

impl<D: Dialect> Driver<D> {
    /// A driver for a new, unauthenticated session. It logs in on the first input.
    pub fn new(dialect: D, policy: Policy) -> Result<Self, ConfigError> {
        Ok(Self::from_session(Session::new(dialect, policy)?.into()))
    }

    /// A driver for an existing session (a restored snapshot, an adopted token).
    pub fn from_session(session: AnySession<D>) -> Self {
        Driver {
            session: Some(session),
            outputs: VecDeque::new(),
            expiry_announced: false,
        }
    }

    /// The session.
    pub fn session(&self) -> &AnySession<D> {
        // The option is only empty inside a transition; see `take`.
        self.session
            .as_ref()
            .unwrap_or_else(|| unreachable!("session taken"))
    }

    /// Takes the session out, dropping pending outputs.
    pub fn into_session(mut self) -> AnySession<D> {
        self.take()
    }

    /// The access token, if one may be handed out at `now`. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<&AccessToken> {
        match &self.session {
            Some(session) => session.access_token(now),
            None => None,
        }
    }

    /// Shows the driver the time: starts due logins and renewals, expires lost requests.
    pub fn handle_timeout(&mut self, now: UtcDateTime) {
        self.advance(now);
    }

    /// Hands back the response to request `id`.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<(), Misuse> {
        self.answer(now, |session| match session {
            AnySession::LoggingIn(s) => s
                .on_response(id, response, now)
                .map(Answer::Login)
                .map_err(erase),
            AnySession::Refreshing(s) => s
                .on_response(id, response, now)
                .map(Answer::Renew)
                .map_err(erase),
            AnySession::Revoking(s) => s
                .on_response(id, response, now)
                .map(Answer::Revoke)
                .map_err(erase),
            other => Err(Refused {
                session: other,
                error: Misuse::UnknownRequest { id },
            }),
        })
    }

    /// Reports that request `id` failed in transport, or that its response was lost.
    pub fn handle_transport_error(
        &mut self,
        id: RequestId,
        now: UtcDateTime,
    ) -> Result<(), Misuse> {
        self.answer(now, |session| match session {
            AnySession::LoggingIn(s) => s
                .on_transport_error(id, now)
                .map(Answer::Login)
                .map_err(erase),
            AnySession::Refreshing(s) => s
                .on_transport_error(id, now)
                .map(Answer::Renew)
                .map_err(erase),
            AnySession::Revoking(s) => s
                .on_transport_error(id, now)
                .map(Answer::Revoke)
                .map_err(erase),
            other => Err(Refused {
                session: other,
                error: Misuse::UnknownRequest { id },
            }),
        })
    }

    /// Reports that a resource server answered 401 to the current token: it is no longer
    /// handed out and renewal starts at once.
    pub fn handle_unauthorized(&mut self, now: UtcDateTime) {
        let session = match self.take() {
            AnySession::Active(s) => {
                self.event(Event::RenewalDue { unauthorized: true });
                s.on_unauthorized(now).into()
            }
            AnySession::Expiring(mut s) => {
                s.on_unauthorized(now);
                s.into()
            }
            AnySession::Refreshing(mut s) => {
                s.on_unauthorized(now);
                s.into()
            }
            other => other,
        };
        self.session = Some(session);
        self.advance(now);
    }

    /// Reports that a call authenticated with the current token succeeded (sliding-expiry
    /// dialects extend the token's life).
    pub fn handle_call_succeeded(&mut self, now: UtcDateTime) {
        match &mut self.session {
            Some(AnySession::Active(s)) => s.on_call_succeeded(now),
            Some(AnySession::Expiring(_)) => {
                if let AnySession::Expiring(mut s) = self.take() {
                    s.on_call_succeeded(now);
                    self.session = Some(match s.resume(now) {
                        Step::Same(s) => s.into(),
                        Step::Next(s) => s.into(),
                    });
                }
            }
            Some(AnySession::Refreshing(s)) => s.on_call_succeeded(now),
            _ => {}
        }
        self.advance(now);
    }

    /// Asks for a login (or renewal) now, clearing a halt: after new credentials were
    /// configured, or to retry a permanent failure deliberately. Backoffs still apply.
    pub fn login(&mut self, now: UtcDateTime) -> Result<(), Misuse> {
        let result = match self.take() {
            AnySession::Unauthenticated(s) => match s.login(now) {
                Ok((s, request)) => {
                    self.outputs.push_back(Output::Request(request));
                    self.session = Some(s.into());
                    Ok(())
                }
                Err(refused) => Err(self.restore(refused)),
            },
            AnySession::Expiring(s) => match s.refresh(now) {
                Ok((s, request)) => {
                    self.outputs.push_back(Output::Request(request));
                    self.session = Some(s.into());
                    Ok(())
                }
                Err(refused) => Err(self.restore(refused)),
            },
            other @ (AnySession::Revoking(_) | AnySession::Revoked(_)) => {
                self.session = Some(other);
                Err(Misuse::Revoked)
            }
            other => {
                let error = Misuse::WrongState {
                    operation: "log in",
                    state: other.state_name(),
                };
                self.session = Some(other);
                Err(error)
            }
        };
        self.advance(now);
        result
    }

    /// Revokes the session: RFC 7009 requests for the refresh and access tokens, then
    /// [`Event::Revoked`]. No token is handed out from now on. Already revoking or
    /// revoked: nothing happens.
    pub fn revoke(&mut self, now: UtcDateTime) {
        let revocation = match self.take() {
            AnySession::Unauthenticated(s) => s.revoke(now),
            AnySession::LoggingIn(s) => s.revoke(now),
            AnySession::Active(s) => s.revoke(now),
            AnySession::Expiring(s) => s.revoke(now),
            AnySession::Refreshing(s) => s.revoke(now),
            other => {
                self.session = Some(other);
                return;
            }
        };
        self.revocation(revocation);
    }

    /// The next output. Call until it returns [`Output::Timeout`] or [`Output::Idle`].
    pub fn poll_output(&mut self) -> Output {
        if let Some(output) = self.outputs.pop_front() {
            return output;
        }
        let deadline = match self.session() {
            AnySession::Unauthenticated(s) => {
                if s.state.halt.is_some() || !s.dialect().can_login() {
                    None
                } else {
                    Some(s.retry_at().unwrap_or(UtcDateTime::MIN))
                }
            }
            AnySession::LoggingIn(s) => Some(s.state.flight.deadline),
            AnySession::Active(s) => Some(s.tokens.refresh_at),
            AnySession::Expiring(s) => {
                let expiry = (!self.expiry_announced).then_some(s.tokens.hard_expiry);
                let retry = if s.state.halt.is_some() {
                    None
                } else {
                    Some(s.retry_at().unwrap_or(UtcDateTime::MIN))
                };
                match (expiry, retry) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            AnySession::Refreshing(s) => Some(s.state.flight.deadline),
            AnySession::Revoking(s) => Some(s.state.flight.deadline),
            AnySession::Revoked(_) => None,
        };
        match deadline {
            Some(deadline) => Output::Timeout(deadline),
            None => Output::Idle,
        }
    }

    fn take(&mut self) -> AnySession<D> {
        self.session
            .take()
            .unwrap_or_else(|| unreachable!("session taken"))
    }

    fn event(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    fn restore<S>(&mut self, refused: Refused<Session<S, D>>) -> Misuse
    where
        S: super::State,
        AnySession<D>: From<Session<S, D>>,
    {
        self.session = Some(refused.session.into());
        refused.error
    }

    fn answer(
        &mut self,
        now: UtcDateTime,
        apply: impl FnOnce(AnySession<D>) -> Result<Answer<D>, Refused<AnySession<D>>>,
    ) -> Result<(), Misuse> {
        let purpose = self
            .session()
            .in_flight()
            .map_or(Purpose::Refresh, |(_, p)| p);
        match apply(self.take()) {
            Ok(answer) => {
                self.settle(answer, purpose);
                self.advance(now);
                Ok(())
            }
            Err(refused) => {
                self.session = Some(refused.session);
                Err(refused.error)
            }
        }
    }

    fn settle(&mut self, answer: Answer<D>, purpose: Purpose) {
        match answer {
            Answer::Login(outcome) => self.login_outcome(outcome),
            Answer::Renew(outcome) => self.renew_outcome(outcome, purpose),
            Answer::Revoke(step) => self.revocation_step(step),
        }
    }

    fn login_outcome(&mut self, outcome: LoginOutcome<D>) {
        match outcome {
            LoginOutcome::LoggedIn(s) => {
                self.expiry_announced = false;
                self.event(Event::LoggedIn {
                    expires_at: s.tokens.expires_at,
                });
                self.session = Some(s.into());
            }
            LoginOutcome::Failed(s, error) => {
                self.failure_event(Purpose::Login, error, s.state.halt.is_some());
                self.session = Some(s.into());
            }
        }
    }

    /// `purpose` is what the renewal request was: a refresh, or a login standing in.
    fn renew_outcome(&mut self, outcome: RenewOutcome<D>, purpose: Purpose) {
        match outcome {
            RenewOutcome::Renewed(s, via) => {
                self.expiry_announced = false;
                self.event(Event::Renewed {
                    via,
                    expires_at: s.tokens.expires_at,
                });
                self.session = Some(s.into());
            }
            RenewOutcome::Failed(s, error) => {
                let halted = s.state.halt.as_deref().map(super::states::Halt::to_error);
                match halted {
                    Some(halt) => self.halt_event(halt),
                    None => match error {
                        Error::Reauthenticate { failure } => {
                            self.event(Event::Reauthenticating { cause: failure })
                        }
                        error => self.event(Event::RetryScheduled { purpose, error }),
                    },
                }
                self.session = Some(s.into());
            }
        }
    }

    fn failure_event(&mut self, purpose: Purpose, error: Error, halted: bool) {
        if halted {
            self.halt_event(error);
        } else {
            self.event(Event::RetryScheduled { purpose, error });
        }
    }

    fn halt_event(&mut self, error: Error) {
        match error {
            Error::Rejected { .. } => self.event(Event::Rejected { error }),
            error => self.event(Event::ReauthenticationRequired { error }),
        }
    }

    fn revocation_step(&mut self, step: RevocationStep<D>) {
        if let Some((kind, error)) = step.failure {
            self.event(Event::RevocationFailed { kind, error });
        }
        self.revocation(step.next);
    }

    fn revocation(&mut self, revocation: Revocation<D>) {
        match revocation {
            Revocation::Pending(s, request) => {
                self.outputs.push_back(Output::Request(request));
                self.session = Some(s.into());
            }
            Revocation::Awaiting(s) => self.session = Some(s.into()),
            Revocation::Done(s) => {
                self.event(Event::Revoked);
                self.session = Some(s.into());
            }
        }
    }

    /// Applies every transition that time alone makes due. Bounded: each pass either
    /// changes state towards one waiting on the caller, or stops.
    fn advance(&mut self, now: UtcDateTime) {
        for _ in 0..6 {
            if !self.step(now) {
                break;
            }
        }
    }

    fn step(&mut self, now: UtcDateTime) -> bool {
        match self.take() {
            AnySession::Unauthenticated(s) => self.auto_login(s, now),
            AnySession::LoggingIn(s) => match s.on_timeout(now) {
                Step::Same(s) => self.keep(s),
                Step::Next(outcome) => {
                    self.login_outcome(outcome);
                    true
                }
            },
            AnySession::Active(s) => match s.on_timeout(now) {
                Step::Same(s) => self.keep(s),
                Step::Next(s) => {
                    self.event(Event::RenewalDue {
                        unauthorized: false,
                    });
                    self.session = Some(s.into());
                    true
                }
            },
            AnySession::Expiring(s) => {
                if !self.expiry_announced && now >= s.tokens.hard_expiry {
                    self.expiry_announced = true;
                    self.event(Event::Expired);
                }
                if s.state.halt.is_some() {
                    return match s.on_timeout(now) {
                        Step::Same(s) => self.keep(s),
                        Step::Next(s) => self.keep(s),
                    };
                }
                match s.refresh(now) {
                    Ok((s, request)) => {
                        self.outputs.push_back(Output::Request(request));
                        self.session = Some(s.into());
                        true
                    }
                    Err(Refused {
                        session: mut s,
                        error: Misuse::NoCredentials,
                    }) => {
                        s.state.halt = Some(Box::new(super::states::Halt::NoCredentials));
                        self.halt_event(Error::Config(ConfigError::NoCredentials));
                        self.keep(s)
                    }
                    Err(refused) => {
                        self.session = Some(refused.session.into());
                        false
                    }
                }
            }
            AnySession::Refreshing(s) => {
                let purpose = s.purpose();
                match s.on_timeout(now) {
                    Step::Same(s) => self.keep(s),
                    Step::Next(outcome) => {
                        self.renew_outcome(outcome, purpose);
                        true
                    }
                }
            }
            AnySession::Revoking(s) => match s.on_timeout(now) {
                Step::Same(s) => self.keep(s),
                Step::Next(step) => {
                    self.revocation_step(step);
                    true
                }
            },
            revoked @ AnySession::Revoked(_) => {
                self.session = Some(revoked);
                false
            }
        }
    }

    fn auto_login(&mut self, s: Session<Unauthenticated, D>, now: UtcDateTime) -> bool {
        if s.state.halt.is_some()
            || s.retry_at().is_some_and(|at| now < at)
            || !s.dialect().can_login()
        {
            return self.keep(s);
        }
        match s.login(now) {
            Ok((s, request)) => {
                self.outputs.push_back(Output::Request(request));
                self.session = Some(s.into());
                true
            }
            Err(refused) => {
                self.session = Some(refused.session.into());
                false
            }
        }
    }

    /// Puts the session back unchanged; reports that nothing moved.
    fn keep<S>(&mut self, s: Session<S, D>) -> bool
    where
        S: super::State,
        AnySession<D>: From<Session<S, D>>,
    {
        self.session = Some(s.into());
        false
    }
}

enum Answer<D: Dialect> {
    Login(LoginOutcome<D>),
    Renew(RenewOutcome<D>),
    Revoke(RevocationStep<D>),
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
