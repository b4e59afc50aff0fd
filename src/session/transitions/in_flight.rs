//! What every state with a request in flight shares.

use time::UtcDateTime;

use super::authorizing_device::DeviceAuthorizationOutcome;
use super::awaiting_approval::ApprovalStep;
use super::{LoginOutcome, RenewOutcome, Revocation, RevocationStep};
use crate::dialect::Dialect;
use crate::error::{Failure, FailureKind, Misuse};
use crate::request::{Purpose, RequestId, TransportError};
use crate::session::route::{erase, Routed, RoutedRefusal};
use crate::session::states::{Backoff, Flight};
use crate::session::AnySession;
use crate::session::State;
use crate::session::{
    Active, AuthorizingDevice, AwaitingApproval, ExchangingCode, LoggingIn, Refreshing, Refused,
    Revoking, Session, Step,
};

/// States with a request in flight: [`LoggingIn`], [`Refreshing`], [`Revoking`].
pub trait AwaitingResponse: State + awaiting::Fail {}

impl<S: State + awaiting::Fail> AwaitingResponse for S {}

pub(super) mod awaiting {
    use super::{Dialect, Failure, Flight, Session, State, Step, UtcDateTime};

    pub trait Fail: State + Sized {
        /// What answering the request leads to.
        type Outcome<D: Dialect>;
        fn flight(&self) -> &Flight;
        /// The request whose answer is awaited: the flight, unless the state waits to
        /// send it again.
        fn awaiting(&self) -> Option<&Flight> {
            Some(self.flight())
        }
        /// Shows a state that awaits no answer the time: it sends again when due.
        fn resume<D: Dialect>(
            session: Session<Self, D>,
            now: UtcDateTime,
        ) -> Step<Session<Self, D>, Self::Outcome<D>> {
            let _ = now;
            Step::Same(session)
        }
        fn fail<D: Dialect>(
            session: Session<Self, D>,
            failure: Failure,
            now: UtcDateTime,
        ) -> Self::Outcome<D>;
        /// What the passage of time does besides expiring the request.
        fn tick<D: Dialect>(session: &mut Session<Self, D>, now: UtcDateTime) {
            let _ = (session, now);
        }
    }
}

impl awaiting::Fail for LoggingIn {
    type Outcome<D: Dialect> = LoginOutcome<D>;
    fn flight(&self) -> &Flight {
        &self.flight
    }
    fn fail<D: Dialect>(
        session: Session<Self, D>,
        failure: Failure,
        now: UtcDateTime,
    ) -> LoginOutcome<D> {
        session.fail(failure, now)
    }
}

impl awaiting::Fail for AuthorizingDevice {
    type Outcome<D: Dialect> = DeviceAuthorizationOutcome<D>;
    fn flight(&self) -> &Flight {
        &self.flight
    }
    fn fail<D: Dialect>(
        session: Session<Self, D>,
        failure: Failure,
        now: UtcDateTime,
    ) -> DeviceAuthorizationOutcome<D> {
        session.fail(failure, now)
    }
}

impl awaiting::Fail for AwaitingApproval {
    type Outcome<D: Dialect> = ApprovalStep<D>;
    fn flight(&self) -> &Flight {
        &self.poll
    }
    fn awaiting(&self) -> Option<&Flight> {
        self.awaiting_poll.then_some(&self.poll)
    }
    /// At the poll moment the next poll goes out; past the code's expiry the login ends.
    fn resume<D: Dialect>(
        session: Session<Self, D>,
        now: UtcDateTime,
    ) -> Step<Session<Self, D>, ApprovalStep<D>> {
        match session.poll_when_due(now) {
            Ok(step) => Step::Next(step),
            Err(session) => Step::Same(session),
        }
    }
    fn fail<D: Dialect>(
        session: Session<Self, D>,
        failure: Failure,
        now: UtcDateTime,
    ) -> ApprovalStep<D> {
        session.fail(failure, now)
    }
}

impl awaiting::Fail for ExchangingCode {
    type Outcome<D: Dialect> = LoginOutcome<D>;
    fn flight(&self) -> &Flight {
        &self.flight
    }
    fn fail<D: Dialect>(
        session: Session<Self, D>,
        failure: Failure,
        now: UtcDateTime,
    ) -> LoginOutcome<D> {
        session.fail(failure, now)
    }
}

impl awaiting::Fail for Refreshing {
    type Outcome<D: Dialect> = RenewOutcome<D>;
    fn flight(&self) -> &Flight {
        &self.flight
    }
    fn fail<D: Dialect>(
        session: Session<Self, D>,
        failure: Failure,
        now: UtcDateTime,
    ) -> RenewOutcome<D> {
        session.fail(failure, now)
    }
    /// The old token is withdrawn at its hard expiry, even while the renewal is in flight.
    fn tick<D: Dialect>(session: &mut Session<Self, D>, now: UtcDateTime) {
        session.core.expire_if_due(&mut session.tokens, now);
    }
}

impl awaiting::Fail for Revoking {
    type Outcome<D: Dialect> = RevocationStep<D>;
    fn flight(&self) -> &Flight {
        &self.flight
    }
    fn awaiting(&self) -> Option<&Flight> {
        self.retry.retry_at.is_none().then_some(&self.flight)
    }
    /// At the retry moment, the token whose revocation failed is sent again.
    fn resume<D: Dialect>(
        mut session: Session<Self, D>,
        now: UtcDateTime,
    ) -> Step<Session<Self, D>, RevocationStep<D>> {
        if session.state.retry.retry_at.is_none_or(|at| now < at) {
            return Step::Same(session);
        }
        let Purpose::Revoke(kind) = session.state.flight.purpose else {
            // Only a revocation is retried; await the request in flight instead.
            session.state.retry = Backoff::default();
            return Step::Same(session);
        };
        let request = session
            .state
            .sent
            .last()
            .and_then(|token| session.core.shared.dialect.revocation_request(token, kind));
        let Some(request) = request else {
            // Nothing to send again: on to the next token.
            session.state.retry = Backoff::default();
            return Step::Next(session.advance(None, now));
        };
        let (flight, request) = session.core.emit(Purpose::Revoke(kind), request, true, now);
        session.state.flight = flight;
        session.state.retry.retry_at = None;
        match request {
            Ok(request) => Step::Next(RevocationStep {
                next: Revocation::Pending(session, request),
                failure: None,
            }),
            Err(failure) => Step::Next(session.advance(Some(failure), now)),
        }
    }
    fn fail<D: Dialect>(
        session: Session<Self, D>,
        failure: Failure,
        now: UtcDateTime,
    ) -> RevocationStep<D> {
        session.advance(Some(failure), now)
    }
}

impl<S: AwaitingResponse, D: Dialect> Session<S, D> {
    /// The id of the request in flight; its response must come back with it.
    pub fn request_id(&self) -> RequestId {
        awaiting::Fail::flight(&self.state).id
    }

    /// Why the request in flight was sent.
    pub fn request_purpose(&self) -> Purpose {
        awaiting::Fail::flight(&self.state).purpose
    }

    /// When the request in flight counts as lost: at once for one restored from a
    /// snapshot ([`AnySession::restore`](crate::AnySession::restore)).
    pub fn response_deadline(&self) -> UtcDateTime {
        awaiting::Fail::flight(&self.state).due()
    }

    /// Reports that the request in flight failed in transport, saying whether it may have
    /// reached the server. Refused for any other id. For a request restored from a
    /// snapshot, the outcome is unknown whatever `error` says: it left with the process
    /// that sent it.
    pub fn on_transport_error(
        self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) -> Result<S::Outcome<D>, Refused<Self>> {
        let awaited = awaiting::Fail::awaiting(&self.state)
            .ok_or(Misuse::UnknownRequest { id })
            .and_then(|flight| flight.check(id).map(|()| flight.lost));
        match awaited {
            Ok(lost) => {
                let error = if lost {
                    TransportError::OutcomeUnknown
                } else {
                    error
                };
                Ok(S::fail(self, Failure::transport(error), now))
            }
            Err(error) => Err(Refused {
                session: self,
                error,
            }),
        }
    }

    /// Shows the session the time: past the response deadline, the request counts as lost
    /// (its outcome unknown). A request restored from a snapshot is lost at once, and
    /// fails as a transport error whose outcome is unknown
    /// ([`TransportError::OutcomeUnknown`]).
    pub fn on_timeout(mut self, now: UtcDateTime) -> Step<Self, S::Outcome<D>> {
        S::tick(&mut self, now);
        let Some(flight) = awaiting::Fail::awaiting(&self.state) else {
            return S::resume(self, now);
        };
        let failure = if flight.lost {
            Failure::transport(TransportError::OutcomeUnknown)
        } else if now < flight.deadline {
            return Step::Same(self);
        } else {
            Failure::new(FailureKind::Timeout, None)
        };
        Step::Next(S::fail(self, failure, now))
    }
}

/// A login's answer, read: the session logged in, or the failure with the session.
pub(super) type LoginAnswer<S, D> = Result<Session<Active, D>, (Session<S, D>, Failure)>;

/// What every login in flight (a login, a device poll, a code exchange) does with its
/// answer.
impl<S, D> Session<S, D>
where
    S: AwaitingResponse + State<Tokens<D::Extra> = ()>,
    D: Dialect,
{
    /// Checks that `id` is the request in flight and reads its answer as a login's: the
    /// session logged in (the token announced), or the failure, with the session, to
    /// judge.
    pub(super) fn take_login_answer(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<LoginAnswer<S, D>, Refused<Self>> {
        let flight = *awaiting::Fail::flight(&self.state);
        if let Err(error) = flight.check(id) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        Ok(match self.core.accept(&flight, response, now, None) {
            Ok(mut tokens) => {
                self.core.issue(&mut tokens, Purpose::Login, false);
                Ok(self.with(Active { _private: () }, tokens))
            }
            Err(failure) => Err((self, failure)),
        })
    }
}

// As part of `AnySession`: what every state awaiting a response routes alike.
impl<S: AwaitingResponse, D: Dialect> Session<S, D>
where
    S::Outcome<D>: Into<Routed<D>>,
    AnySession<D>: From<Self>,
{
    /// The request awaited, and why it was sent.
    pub(crate) fn awaited(&self) -> Option<(RequestId, Purpose)> {
        awaiting::Fail::awaiting(&self.state).map(|flight| (flight.id, flight.purpose))
    }

    /// [`on_timeout`](Self::on_timeout), routed.
    pub(crate) fn routed_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
        match self.on_timeout(now) {
            Step::Same(s) => ((s.into(), None), false),
            Step::Next(outcome) => (outcome.into(), true),
        }
    }

    /// [`on_transport_error`](Self::on_transport_error), routed.
    pub(crate) fn routed_transport_error(
        self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) -> Result<Routed<D>, RoutedRefusal<D>> {
        self.on_transport_error(id, error, now)
            .map(Into::into)
            .map_err(erase)
    }
}
