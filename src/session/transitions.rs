//! Every transition of the session, in one place.
//!
//! The table below is the source of truth for the state diagram in
//! `docs/architecture.md`; a test checks that the two agree. Each row is
//! `from --input--> to`.
//!
//! TRANSITIONS:
//! Unauthenticated --login--> LoggingIn
//! Unauthenticated --adopt--> Active
//! LoggingIn --success--> Active
//! LoggingIn --failure--> Unauthenticated
//! Active --refresh moment--> Expiring
//! Active --401 reported--> Expiring
//! Expiring --refresh--> Refreshing
//! Expiring --call succeeded, expiry slid--> Active
//! Expiring --halted past hard expiry--> Unauthenticated
//! Refreshing --success--> Active
//! Refreshing --failure--> Expiring
//! Unauthenticated --revoke--> Revoked
//! LoggingIn --revoke, awaiting the login--> Revoking
//! Active --revoke--> Revoking
//! Active --revoke, no revocation endpoint--> Revoked
//! Expiring --revoke--> Revoking
//! Expiring --revoke, no revocation endpoint--> Revoked
//! Refreshing --revoke, awaiting the refresh--> Revoking
//! Revoking --response, more to revoke--> Revoking
//! Revoking --last response--> Revoked
//! END TRANSITIONS

use std::sync::Arc;

use http::StatusCode;
use oauth2::basic::BasicErrorResponseType as Code;
use time::{Duration, UtcDateTime};

use super::states::{Backoff, Flight, Halt, PendingRevocation, State};
use super::{
    Active, Core, Expiring, LoggingIn, Refreshing, Refused, Revoked, Revoking, Session, Shared,
    Step, Unauthenticated,
};
use crate::dialect::{Dialect, RefreshTokenUse};
use crate::error::{ConfigError, Error, Failure, FailureKind, Misuse};
use crate::io::{Purpose, RequestId, TokenKind, TokenRequest};
use crate::policy::{BudgetLog, Policy};
use crate::token::{TokenGrant, TokenSet};

/// How a login ended.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum LoginOutcome<D: Dialect> {
    /// A token was obtained.
    LoggedIn(Session<Active, D>),
    /// The login failed: [`Error::retry_at`] says when another is allowed; a permanent
    /// error halts automatic logins.
    Failed(Session<Unauthenticated, D>, Error),
}

/// How a renewal ended.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum RenewOutcome<D: Dialect> {
    /// A new token was obtained, by the given means (a refresh, or a login standing in).
    Renewed(Session<Active, D>, Purpose),
    /// The renewal failed; the old token is still served until its hard expiry. The error
    /// says whether the session retries later ([`Error::retry_at`]), logs in again at once
    /// ([`Error::Reauthenticate`] with credentials configured), or cannot renew by itself
    /// ([`Session::halted`]).
    Failed(Session<Expiring, D>, Error),
}

/// Where a revocation stands.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum Revocation<D: Dialect> {
    /// Send this request next.
    Pending(Session<Revoking, D>, TokenRequest),
    /// A login or refresh was in flight: hand back its response (or its failure) first.
    Awaiting(Session<Revoking, D>),
    /// Done: the session is revoked.
    Done(Session<Revoked, D>),
}

/// One answered revocation request: where the revocation stands, and whether that
/// request failed (the token is forgotten locally all the same).
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub struct RevocationStep<D: Dialect> {
    /// What comes next.
    pub next: Revocation<D>,
    /// The request's failure, if it failed.
    pub failure: Option<(TokenKind, Error)>,
}

// ---------------------------------------------------------------------------------------
// Unauthenticated

impl<D: Dialect> Session<Unauthenticated, D> {
    /// A new session with no token, after checking the policy.
    pub fn new(dialect: D, policy: Policy) -> Result<Self, ConfigError> {
        policy.validate()?;
        Ok(Session {
            core: Core {
                shared: Arc::new(Shared { dialect, policy }),
                next_id: 1,
                budget: BudgetLog::default(),
            },
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
    /// credentials ([`Misuse::NoCredentials`]). An explicit login clears a halt.
    pub fn login(
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
        let failures = self.state.backoff.failures;
        Ok((self.with(LoggingIn { flight, failures }, ()), request))
    }

    /// Adopts tokens obtained elsewhere (an authorization code flow, a device flow) as if
    /// a login had just returned them at `now`.
    pub fn adopt(
        self,
        grant: TokenGrant<D::Extra>,
        now: UtcDateTime,
    ) -> Result<Session<Active, D>, (Self, ConfigError)> {
        match TokenSet::from_grant(grant, &self.core.shared.policy, now, now, None) {
            Ok(tokens) => Ok(self.with(Active { _private: () }, tokens)),
            Err(_) => Err((
                self,
                ConfigError::InvalidSetting {
                    setting: "grant",
                    reason: "no access token, or a lifetime out of range",
                },
            )),
        }
    }

    /// When the next login is allowed, if a login failed temporarily or the dialect's
    /// request budget is spent.
    pub fn retry_at(&self) -> Option<UtcDateTime> {
        later(self.state.backoff.retry_at, self.core.budget_slot())
    }

    /// Why the session stopped logging in by itself, if it did.
    pub fn halted(&self) -> Option<Error> {
        self.state.halt.as_deref().map(Halt::to_error)
    }
}

// ---------------------------------------------------------------------------------------
// LoggingIn

impl<D: Dialect> Session<LoggingIn, D> {
    /// Hands back the login response.
    pub fn on_response(
        self,
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
            Ok(tokens) => LoginOutcome::LoggedIn(self.with(Active { _private: () }, tokens)),
            Err(failure) => self.fail(failure, now),
        })
    }

    fn fail(self, failure: Failure, now: UtcDateTime) -> LoginOutcome<D> {
        let failures = self.state.failures.saturating_add(1);
        let error = self.core.verdict(failure, failures, now);
        let state = Unauthenticated {
            backoff: Backoff {
                failures,
                retry_at: error.retry_at(),
            },
            halt: Halt::from_error(&error),
        };
        LoginOutcome::Failed(self.with(state, ()), error)
    }
}

// ---------------------------------------------------------------------------------------
// Active

impl<D: Dialect> Session<Active, D> {
    /// When renewal becomes due.
    pub fn refresh_at(&self) -> UtcDateTime {
        self.tokens.refresh_at
    }

    /// Shows the session the time: at the refresh moment, renewal becomes due.
    pub fn on_timeout(self, now: UtcDateTime) -> Step<Self, Session<Expiring, D>> {
        if now < self.tokens.refresh_at {
            return Step::Same(self);
        }
        Step::Next(self.into_expiring())
    }

    /// Reports that a resource server answered 401 (RFC 6750 `invalid_token`) to this
    /// token: it is no longer handed out, and renewal is due at once.
    pub fn on_unauthorized(mut self, _now: UtcDateTime) -> Session<Expiring, D> {
        self.tokens.rejected = true;
        self.into_expiring()
    }

    fn into_expiring(self) -> Session<Expiring, D> {
        let tokens = self.tokens;
        let state = Expiring {
            backoff: Backoff::default(),
            halt: None,
        };
        Session {
            core: self.core,
            state,
            tokens,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Expiring

impl<D: Dialect> Session<Expiring, D> {
    /// When the next renewal attempt is allowed, if one failed temporarily or the
    /// dialect's request budget is spent.
    pub fn retry_at(&self) -> Option<UtcDateTime> {
        later(self.state.backoff.retry_at, self.core.budget_slot())
    }

    /// Why the session stopped renewing by itself, if it did.
    pub fn halted(&self) -> Option<Error> {
        self.state.halt.as_deref().map(Halt::to_error)
    }

    /// Whether the session has a way to renew: a live refresh token or login credentials.
    pub fn can_renew(&self, now: UtcDateTime) -> bool {
        self.core.refresh_token_usable(&self.tokens, now) || self.core.shared.dialect.can_login()
    }

    /// Goes back to [`Active`] when renewal is no longer due: a successful call slid the
    /// expiry (see [`Session::on_call_succeeded`]) past the refresh moment, and no
    /// resource server rejected the token. Any backoff or halt is cleared with it.
    pub fn resume(self, now: UtcDateTime) -> Step<Self, Session<Active, D>> {
        if self.tokens.rejected || now >= self.tokens.refresh_at {
            return Step::Same(self);
        }
        Step::Next(Session {
            core: self.core,
            state: Active { _private: () },
            tokens: self.tokens,
        })
    }

    /// Emits the renewal request: a refresh with the refresh token when it is alive and
    /// the dialect refreshes, otherwise a new login.
    ///
    /// Refused while a backoff runs ([`Misuse::TooEarly`]) and when there is neither a
    /// refresh token nor credentials ([`Misuse::NoCredentials`]). An explicit call clears
    /// a halt.
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
        let failures = self.state.backoff.failures;
        let tokens = self.tokens;
        let core = self.core;
        Ok((
            Session {
                core,
                state: Refreshing { flight, failures },
                tokens,
            },
            request,
        ))
    }

    /// Reports a 401 from a resource server: the token is no longer handed out.
    pub fn on_unauthorized(&mut self, _now: UtcDateTime) {
        self.tokens.rejected = true;
    }

    /// Shows the session the time: a halted session whose token passed its hard expiry
    /// has nothing left and becomes unauthenticated, keeping the halt's reason.
    pub fn on_timeout(self, now: UtcDateTime) -> Step<Self, Session<Unauthenticated, D>> {
        if self.state.halt.is_none() || now < self.tokens.hard_expiry {
            return Step::Same(self);
        }
        let state = Unauthenticated {
            backoff: Backoff {
                failures: self.state.backoff.failures,
                retry_at: None,
            },
            halt: self.state.halt,
        };
        Step::Next(Session {
            core: self.core,
            state,
            tokens: (),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Refreshing

impl<D: Dialect> Session<Refreshing, D> {
    /// What the request in flight is: a refresh, or a login standing in for one.
    pub fn purpose(&self) -> Purpose {
        self.state.flight.purpose
    }

    /// Hands back the renewal response.
    pub fn on_response(
        self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<RenewOutcome<D>, Refused<Self>> {
        let flight = self.state.flight;
        if let Err(error) = flight.check(id) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        Ok(
            match self.core.accept(&flight, response, now, Some(&self.tokens)) {
                Ok(mut tokens) => {
                    let reusable =
                        self.core.shared.dialect.refresh_token_use() == RefreshTokenUse::Reusable;
                    if flight.purpose == Purpose::Refresh
                        && tokens.refresh_token.is_none()
                        && reusable
                    {
                        // RFC 6749 §6: no new refresh token means the old one stays valid.
                        // A single-use one stays spent: the next renewal is a login.
                        tokens.refresh_token = self.tokens.refresh_token;
                        tokens.refresh_expires_at = self.tokens.refresh_expires_at;
                    }
                    RenewOutcome::Renewed(
                        Session {
                            core: self.core,
                            state: Active { _private: () },
                            tokens,
                        },
                        flight.purpose,
                    )
                }
                Err(failure) => self.fail(failure, now),
            },
        )
    }

    /// Reports a 401 from a resource server: the old token is no longer handed out.
    pub fn on_unauthorized(&mut self, _now: UtcDateTime) {
        self.tokens.rejected = true;
    }

    fn fail(self, mut failure: Failure, now: UtcDateTime) -> RenewOutcome<D> {
        let mut tokens = self.tokens;
        if let Some(refresh_token) = &tokens.refresh_token {
            failure.scrub(refresh_token.secret());
        }
        let failures = self.state.failures.saturating_add(1);
        let error = self.core.verdict(failure, failures, now);
        let dialect = &self.core.shared.dialect;
        if self.state.flight.purpose == Purpose::Refresh {
            let spent = dialect.refresh_token_use() == RefreshTokenUse::SingleUse;
            if spent || matches!(error, Error::Reauthenticate { .. }) {
                // Never presented again: the server may have consumed it.
                tokens.refresh_token = None;
                tokens.refresh_expires_at = None;
            }
        }
        let renewable = self.core.refresh_token_usable(&tokens, now) || dialect.can_login();
        let (retry_at, halt) = match &error {
            // A dead refresh token with credentials at hand: log in again at once.
            Error::Reauthenticate { .. }
                if renewable && self.state.flight.purpose == Purpose::Refresh =>
            {
                (None, None)
            }
            Error::Retry { failure, .. } | Error::Throttled { failure, .. } if !renewable => {
                (None, Some(Box::new(Halt::Reauthenticate(failure.clone()))))
            }
            _ => (error.retry_at(), Halt::from_error(&error)),
        };
        // A re-login after a dead grant is a fresh start, not one more failure.
        let failures = if retry_at.is_none() && halt.is_none() {
            0
        } else {
            failures
        };
        RenewOutcome::Failed(
            Session {
                core: self.core,
                state: Expiring {
                    backoff: Backoff { failures, retry_at },
                    halt,
                },
                tokens,
            },
            error,
        )
    }
}

// ---------------------------------------------------------------------------------------
// Revocation: from every state that is not already revoking.

/// States a revocation can start from: every state but [`Revoking`] and [`Revoked`].
pub trait Revocable: State + sealed::IntoRevocation {}

impl<S: State + sealed::IntoRevocation> Revocable for S {}

mod sealed {
    use super::{Flight, PendingRevocation, State};

    pub trait IntoRevocation: State + Sized {
        /// The tokens the state holds, to revoke, and the login or refresh in flight, to
        /// await.
        fn into_revocation<E>(self, tokens: Self::Tokens<E>)
            -> (PendingRevocation, Option<Flight>);
    }
}

impl sealed::IntoRevocation for Unauthenticated {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), None)
    }
}

impl sealed::IntoRevocation for LoggingIn {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), Some(self.flight))
    }
}

impl sealed::IntoRevocation for Active {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        let mut pending = PendingRevocation::default();
        pending.push(tokens);
        (pending, None)
    }
}

impl sealed::IntoRevocation for Expiring {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        let mut pending = PendingRevocation::default();
        pending.push(tokens);
        (pending, None)
    }
}

impl sealed::IntoRevocation for Refreshing {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        let mut pending = PendingRevocation::default();
        pending.push(tokens);
        (pending, Some(self.flight))
    }
}

impl<S: Revocable, D: Dialect> Session<S, D> {
    /// Starts revoking: no token is handed out from now on. RFC 7009 requests go out one
    /// at a time, refresh tokens first, then access tokens.
    ///
    /// A login or refresh in flight is awaited first ([`Revocation::Awaiting`]): hand back
    /// its response as usual, and any token it minted is revoked too.
    pub fn revoke(self, now: UtcDateTime) -> Revocation<D> {
        let (pending, in_flight) = sealed::IntoRevocation::into_revocation(self.state, self.tokens);
        match in_flight {
            Some(flight) => Revocation::Awaiting(Session {
                core: self.core,
                state: Revoking { flight },
                tokens: pending,
            }),
            None => Session {
                core: self.core,
                state: Revoked { _private: () },
                tokens: (),
            }
            .next_revocation(pending, now),
        }
    }
}

impl<D: Dialect> Session<Revoked, D> {
    fn next_revocation(
        mut self,
        mut pending: PendingRevocation,
        now: UtcDateTime,
    ) -> Revocation<D> {
        let dialect = &self.core.shared.dialect;
        while !pending.queue.is_empty() {
            let (kind, token) = pending.queue.remove(0);
            if let Some(request) = dialect.revocation_request(&token, kind) {
                let (flight, request) = self.core.emit(Purpose::Revoke(kind), request, true, now);
                return Revocation::Pending(
                    Session {
                        core: self.core,
                        state: Revoking { flight },
                        tokens: pending,
                    },
                    request,
                );
            }
        }
        Revocation::Done(self)
    }
}

impl<D: Dialect> Session<Revoking, D> {
    /// How many tokens are still to be revoked after the request in flight.
    pub fn pending(&self) -> &PendingRevocation {
        &self.tokens
    }

    /// Hands back the response to the request in flight.
    pub fn on_response(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<RevocationStep<D>, Refused<Self>> {
        let flight = self.state.flight;
        if let Err(error) = flight.check(id) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let failure = match flight.purpose {
            Purpose::Revoke(_) => match self.core.check_size(response) {
                Ok(()) => self
                    .core
                    .shared
                    .dialect
                    .parse_revocation_response(response)
                    .err(),
                Err(failure) => Some(failure),
            },
            Purpose::Login | Purpose::Refresh => {
                // The awaited renewal: whatever it minted is revoked too.
                if let Ok(tokens) = self.core.accept(&flight, response, now, None) {
                    self.tokens.push(tokens);
                }
                None
            }
        };
        Ok(self.advance(failure, now))
    }

    fn advance(self, failure: Option<Failure>, now: UtcDateTime) -> RevocationStep<D> {
        let failure = match self.state.flight.purpose {
            Purpose::Revoke(kind) => {
                failure.map(|failure| (kind, self.core.verdict(failure, 1, now)))
            }
            // The awaited renewal's own failure concerns nobody any more.
            Purpose::Login | Purpose::Refresh => None,
        };
        let pending = self.tokens;
        let revoked = Session {
            core: self.core,
            state: Revoked { _private: () },
            tokens: (),
        };
        RevocationStep {
            next: revoked.next_revocation(pending, now),
            failure,
        }
    }
}

// ---------------------------------------------------------------------------------------
// What every state with a request in flight shares

/// States with a request in flight: [`LoggingIn`], [`Refreshing`], [`Revoking`].
pub trait AwaitingResponse: State + awaiting::Fail {}

impl<S: State + awaiting::Fail> AwaitingResponse for S {}

mod awaiting {
    use super::{Dialect, Failure, Flight, Session, State, UtcDateTime};

    pub trait Fail: State + Sized {
        /// What answering the request leads to.
        type Outcome<D: Dialect>;
        fn flight(&self) -> &Flight;
        fn fail<D: Dialect>(
            session: Session<Self, D>,
            failure: Failure,
            now: UtcDateTime,
        ) -> Self::Outcome<D>;
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
}

impl awaiting::Fail for Revoking {
    type Outcome<D: Dialect> = RevocationStep<D>;
    fn flight(&self) -> &Flight {
        &self.flight
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

    /// Reports that the request in flight failed in transport, or that its response was
    /// lost. Refused for any other id.
    pub fn on_transport_error(
        self,
        id: RequestId,
        now: UtcDateTime,
    ) -> Result<S::Outcome<D>, Refused<Self>> {
        match awaiting::Fail::flight(&self.state).check(id) {
            Ok(()) => Ok(S::fail(self, Failure::transport(), now)),
            Err(error) => Err(Refused {
                session: self,
                error,
            }),
        }
    }

    /// Shows the session the time: past the response deadline, the request counts as lost.
    pub fn on_timeout(self, now: UtcDateTime) -> Step<Self, S::Outcome<D>> {
        if now < awaiting::Fail::flight(&self.state).deadline {
            return Step::Same(self);
        }
        Step::Next(S::fail(self, Failure::new(FailureKind::Timeout, None), now))
    }
}

// ---------------------------------------------------------------------------------------
// Shared mechanics

impl Flight {
    fn check(&self, id: RequestId) -> Result<(), Misuse> {
        if id == self.id {
            Ok(())
        } else {
            Err(Misuse::UnknownRequest { id })
        }
    }
}

impl Backoff {
    fn check(&self, purpose: Purpose, now: UtcDateTime) -> Result<(), Misuse> {
        match self.retry_at {
            Some(retry_at) if now < retry_at => Err(Misuse::TooEarly { purpose, retry_at }),
            _ => Ok(()),
        }
    }
}

impl<D: Dialect> Core<D> {
    fn emit(
        &mut self,
        purpose: Purpose,
        request: http::Request<Vec<u8>>,
        resend_safe: bool,
        now: UtcDateTime,
    ) -> (Flight, TokenRequest) {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if matches!(purpose, Purpose::Login | Purpose::Refresh) {
            if let Some(budget) = self.shared.dialect.request_budget() {
                self.budget.record(&budget, now);
            }
        }
        let flight = Flight {
            id,
            purpose,
            sent_at: now,
            deadline: now.saturating_add(self.shared.policy.response_timeout),
        };
        let request = TokenRequest {
            id,
            purpose,
            resend_safe,
            request,
        };
        (flight, request)
    }

    /// Whether the refresh token will still be alive when a refresh sent at `now` arrives:
    /// one that dies within the skew allowance is not worth spending.
    pub(crate) fn refresh_token_usable<E>(&self, tokens: &TokenSet<E>, now: UtcDateTime) -> bool {
        tokens.refresh_token_alive(now.saturating_add(self.shared.policy.skew_allowance))
    }

    /// When the request budget allows the next login or refresh, if not now.
    pub(crate) fn budget_slot(&self) -> Option<UtcDateTime> {
        let budget = self.shared.dialect.request_budget()?;
        self.budget.next_slot(&budget)
    }

    fn check_budget(&self, purpose: Purpose, now: UtcDateTime) -> Result<(), Misuse> {
        match self.budget_slot() {
            Some(retry_at) if now < retry_at => Err(Misuse::TooEarly { purpose, retry_at }),
            _ => Ok(()),
        }
    }

    pub(crate) fn check_size(&self, response: &http::Response<Vec<u8>>) -> Result<(), Failure> {
        if response.body().len() > self.shared.policy.max_body_bytes {
            Err(Failure::new(FailureKind::TooLarge, Some(response.status())))
        } else {
            Ok(())
        }
    }

    /// Parses a token response into a token set, or the evidence of its failure with any
    /// token the session knows scrubbed from the description.
    fn accept(
        &self,
        flight: &Flight,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
        known: Option<&TokenSet<D::Extra>>,
    ) -> Result<TokenSet<D::Extra>, Failure> {
        self.check_size(response)?;
        let policy = &self.shared.policy;
        let result = self
            .shared
            .dialect
            .parse_token_response(flight.purpose, response)
            .and_then(|grant| {
                let server_date = response
                    .headers()
                    .get(http::header::DATE)
                    .and_then(|value| value.to_str().ok())
                    .and_then(crate::token::parse_http_date);
                TokenSet::from_grant(grant, policy, flight.sent_at, now, server_date).map_err(
                    |reason| Failure::new(FailureKind::Malformed(reason), Some(response.status())),
                )
            });
        result.map_err(|mut failure| {
            if let Some(tokens) = known {
                failure.scrub(tokens.access_token.secret());
                if let Some(refresh_token) = &tokens.refresh_token {
                    failure.scrub(refresh_token.secret());
                }
            }
            failure
        })
    }

    /// Decides what a failure means, after `failures` consecutive ones.
    fn verdict(&self, mut failure: Failure, failures: u32, now: UtcDateTime) -> Error {
        // A server may echo a credential in its error description.
        self.shared
            .dialect
            .for_each_secret(&mut |secret| failure.scrub(secret));
        let policy = &self.shared.policy;
        let backoff = now.saturating_add(policy.backoff(failures, self.next_id));
        let after = |retry_after: Option<crate::error::RetryAfter>| {
            retry_after.map_or(backoff, |retry_after| retry_after.deadline(now).max(now))
        };
        let status = failure.status;
        let code = failure.code.as_ref();
        let throttled = status == Some(StatusCode::TOO_MANY_REQUESTS)
            || matches!(code, Some(Code::Extension(c)) if c == "slow_down")
            || (status == Some(StatusCode::SERVICE_UNAVAILABLE) && failure.retry_after.is_some());
        if throttled {
            // Without Retry-After, a rate-limited provider's window is waited out whole.
            let window = self
                .shared
                .dialect
                .request_budget()
                .filter(|_| failure.retry_after.is_none())
                .map_or(now, |budget| now.saturating_add(budget.per()));
            return Error::Throttled {
                retry_at: after(failure.retry_after).max(window),
                failure,
            };
        }
        let temporary = match failure.kind {
            FailureKind::Transport | FailureKind::Timeout | FailureKind::Malformed(_) => true,
            FailureKind::TooLarge => true,
            FailureKind::OAuth | FailureKind::Status => {
                matches!(code, Some(Code::Extension(c)) if c == "temporarily_unavailable" || c == "server_error")
                    || status
                        .is_some_and(|s| s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT)
            }
        };
        if temporary {
            // A server-sent Retry-After may lengthen the wait, never shorten the backoff.
            let retry_at = after(failure.retry_after).max(backoff);
            return Error::Retry { retry_at, failure };
        }
        match code {
            Some(Code::InvalidGrant) => Error::Reauthenticate { failure },
            _ => Error::Rejected { failure },
        }
    }

    /// Extends a sliding expiry by `lifetime` from `now`, recomputing the derived moments.
    pub(crate) fn slide<E>(&self, tokens: &mut TokenSet<E>, now: UtcDateTime, lifetime: Duration) {
        let policy = &self.shared.policy;
        let Some(expires_at) = now.checked_add(lifetime) else {
            return;
        };
        if expires_at <= tokens.expires_at {
            return;
        }
        tokens.issued_at = now;
        tokens.expires_at = expires_at;
        tokens.hard_expiry = policy.hard_expiry(expires_at);
        tokens.refresh_at =
            policy.refresh_moment(now, expires_at, tokens.access_token.secret().as_bytes());
    }
}

/// The later of two optional moments.
fn later(a: Option<UtcDateTime>, b: Option<UtcDateTime>) -> Option<UtcDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl<S: State, D: Dialect> Session<S, D> {
    /// The id the next emitted request will carry.
    pub fn next_request_id(&self) -> RequestId {
        RequestId(self.core.next_id)
    }
}
