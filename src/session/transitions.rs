//! Every transition of the session, in one place.
//!
//! The table below is the source of truth for the state diagram in
//! `docs/architecture.md`; a test checks that the two agree, and another drives every row
//! through the methods it names. Each row is `from --input / methods--> to`.
//!
//! TRANSITIONS:
//! Unauthenticated --login / login, on_timeout--> LoggingIn
//! Unauthenticated --adopt / adopt--> Active
//! LoggingIn --success / on_response--> Active
//! LoggingIn --failure / on_response, on_transport_error, on_timeout--> Unauthenticated
//! Active --refresh moment / on_timeout--> Expiring
//! Active --401 reported / on_unauthorized--> Expiring
//! Active --renewal asked / renew--> Expiring
//! Expiring --renewal / refresh, on_timeout--> Refreshing
//! Expiring --call succeeded, expiry slid / on_call_succeeded--> Active
//! Expiring --halted past hard expiry / on_timeout--> Unauthenticated
//! Refreshing --success / on_response--> Active
//! Refreshing --failure / on_response, on_transport_error, on_timeout--> Expiring
//! Unauthenticated --revoke / revoke--> Revoked
//! LoggingIn --revoke, awaiting the login / revoke--> Revoking
//! Active --revoke / revoke--> Revoking
//! Active --revoke, no revocation endpoint / revoke--> Revoked
//! Expiring --revoke / revoke--> Revoking
//! Expiring --revoke, no revocation endpoint / revoke--> Revoked
//! Refreshing --revoke, awaiting the refresh / revoke--> Revoking
//! Revoking --answer, more to revoke, or a retry / on_response, on_transport_error, on_timeout--> Revoking
//! Revoking --last answer / on_response, on_transport_error, on_timeout--> Revoked
//! Active --refresh token spent elsewhere / on_refresh_token_spent_elsewhere--> Active
//! Active --refresh token spent elsewhere, no credentials / on_refresh_token_spent_elsewhere--> Expiring
//! Expiring --refresh token spent elsewhere / on_refresh_token_spent_elsewhere--> Expiring
//! Refreshing --refresh token spent elsewhere, refreshing with it / on_refresh_token_spent_elsewhere--> Expiring
//! Refreshing --refresh token spent elsewhere, logging in / on_refresh_token_spent_elsewhere--> Refreshing
//! END TRANSITIONS
//!
//! Besides moving between states, transitions queue [`Notice`](crate::Notice)s: the events
//! that say what happened, and the persistence points. Nothing else decides anything: the
//! driver only routes inputs here.

use std::sync::Arc;

use time::UtcDateTime;
use zeroize::Zeroize;

use super::states::{Backoff, Flight, Halt, PendingRevocation, State, WaitCause};
use super::{
    Active, Core, Expiring, LoggingIn, Refreshing, Refused, Revoked, Revoking, Session, Shared,
    Step, Unauthenticated,
};
use crate::bearer::{Generation, Withdrawal};
use crate::dialect::{Dialect, RefreshTokenUse, Secrets};
use crate::error::{ConfigError, Error, Failure, FailureKind, Misuse};
use crate::output::{Event, Unauthorized, WaitReason};
use crate::policy::{LoginCredentials, Policy};
use crate::request::{Purpose, RequestId, TokenKind, TokenRequest, TransportError};
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

/// What showing an [`Expiring`] session the time led to.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum ExpiringStep<D: Dialect> {
    /// Nothing to send yet: a backoff runs, or the session is halted and its token still
    /// within its hard expiry.
    Waiting(Session<Expiring, D>),
    /// The renewal request to send.
    Renewing(Session<Refreshing, D>, TokenRequest),
    /// The session was halted and its token passed its hard expiry: nothing is left.
    Halted(Session<Unauthenticated, D>),
}

/// Where a revocation stands.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum Revocation<D: Dialect> {
    /// Send this request next.
    Pending(Session<Revoking, D>, TokenRequest),
    /// A login or refresh was in flight: hand back its response (or its failure) first.
    Awaiting(Session<Revoking, D>),
    /// A revocation failed temporarily: it is sent again at
    /// [`retry_at`](Session::retry_at), when the session is shown the time.
    Retrying(Session<Revoking, D>),
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
        Ok((self.with(state, ()), request))
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

// ---------------------------------------------------------------------------------------
// LoggingIn

impl<D: Dialect> Session<LoggingIn, D> {
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

    fn fail(mut self, failure: Failure, now: UtcDateTime) -> LoginOutcome<D> {
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

// ---------------------------------------------------------------------------------------
// Active

impl<D: Dialect> Session<Active, D> {
    /// When renewal becomes due.
    pub fn refresh_at(&self) -> UtcDateTime {
        self.tokens.refresh_at
    }

    /// When showing the session the time next matters: the refresh moment (or the hard
    /// expiry, if a policy puts it first).
    pub fn deadline(&self) -> UtcDateTime {
        self.tokens.refresh_at.min(self.tokens.hard_expiry)
    }

    /// Shows the session the time: at the refresh moment, renewal becomes due. A token
    /// so short-lived that its hard expiry comes before the refresh moment (which is never
    /// earlier than the policy's `min_renewal_interval` after issue) moves on at its hard
    /// expiry, and the renewal still waits for the refresh moment.
    pub fn on_timeout(mut self, now: UtcDateTime) -> Step<Self, Session<Expiring, D>> {
        if now < self.deadline() {
            return Step::Same(self);
        }
        self.core.notify(Event::RenewalDue {
            unauthorized: false,
        });
        // The token lived to its refresh moment: no storm of rejections is under way.
        self.core.rejected_young = 0;
        let not_before = self.tokens.refresh_at;
        Step::Next(self.into_expiring(not_before, now, WaitCause::MinRenewalInterval))
    }

    /// Reports that a resource server answered 401 (RFC 6750 `invalid_token`) to token
    /// `generation`. If that is the current token, it is withdrawn and renewal is due as
    /// soon as the token is old enough: 1 s for a first token rejected young, doubling for
    /// each further one, up to the policy's `unauthorized_renewal_spacing`, and never
    /// later than the token's own refresh moment ([`Policy::unauthorized_spacing`]). A
    /// token revoked on the server is replaced as soon as it is a second old; a resource
    /// server that rejects every token cannot drive the session into a token-endpoint
    /// storm. A token that
    /// lived `unauthorized_renewal_spacing` before its rejection starts the count again.
    /// A report about an earlier token changes nothing ([`Step::Same`]).
    pub fn on_unauthorized(
        mut self,
        generation: Generation,
        now: UtcDateTime,
    ) -> Step<Self, Session<Expiring, D>> {
        match self.core.reject(&mut self.tokens, generation) {
            Unauthorized::Withdrawn => {
                self.core.notify(Event::RenewalDue { unauthorized: true });
                let policy = &self.core.shared.policy;
                let issued_at = self.tokens.issued_at;
                let young = now - issued_at < policy.unauthorized_renewal_spacing;
                let streak = if young {
                    self.core.rejected_young.saturating_add(1)
                } else {
                    1
                };
                let not_before = issued_at
                    .saturating_add(policy.unauthorized_spacing(streak))
                    .min(self.tokens.refresh_at);
                self.core.rejected_young = streak;
                Step::Next(self.into_expiring(not_before, now, WaitCause::UnauthorizedSpacing))
            }
            Unauthorized::AlreadyWithdrawn | Unauthorized::Stale => Step::Same(self),
        }
    }

    /// Reports that a call authenticated with token `generation` succeeded at `now`: for
    /// dialects with sliding expiry this extends the current token's life.
    pub fn on_call_succeeded(&mut self, generation: Generation, now: UtcDateTime) {
        self.slide(generation, now);
    }

    /// The caller asks for a new token now, ahead of the refresh moment: an operator
    /// forcing a renewal, or a caller that needs more time left than this token has. The
    /// token is still handed out until its replacement arrives; the renewal then follows
    /// the rules of [`Expiring`] (backoffs and request budgets apply).
    pub fn renew(mut self, now: UtcDateTime) -> Session<Expiring, D> {
        self.core.notify(Event::RenewalDue {
            unauthorized: false,
        });
        self.core.rejected_young = 0;
        self.into_expiring(now, now, WaitCause::Failure)
    }

    /// Renewal is due, but not sent before `not_before`, for `cause`.
    fn into_expiring(
        self,
        not_before: UtcDateTime,
        now: UtcDateTime,
        cause: WaitCause,
    ) -> Session<Expiring, D> {
        let retry_at = (not_before > now).then_some(not_before);
        let state = Expiring {
            backoff: Backoff::new(0, 0, retry_at, cause),
            halt: None,
        };
        Session {
            core: self.core,
            state,
            tokens: self.tokens,
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
        if !resend_safe {
            // Write-ahead: a snapshot taken now knows the refresh token is being spent.
            self.core.persist();
        }
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
        Ok((self.with_tokens(state), request))
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

// ---------------------------------------------------------------------------------------
// Refreshing

impl<D: Dialect> Session<Refreshing, D> {
    /// What the request in flight is: a refresh, or a login standing in for one.
    pub fn purpose(&self) -> Purpose {
        self.state.flight.purpose
    }

    /// Hands back the renewal response.
    pub fn on_response(
        mut self,
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
        let mut tokens = match self.core.accept(&flight, response, now, Some(&mut self.tokens)) {
            Ok(tokens) => tokens,
            Err(failure) => return Ok(self.fail(failure, now)),
        };
        let outlives = self.core.shared.dialect.refresh_token_outlives_refresh();
        if flight.purpose == Purpose::Refresh && tokens.refresh_token.is_none() && outlives {
            // RFC 6749 §6: no new refresh token means the old one stays in use.
            tokens.keep_refresh_token(&mut self.tokens);
        }
        self.core.issue(&mut tokens, flight.purpose, true);
        Ok(RenewOutcome::Renewed(
            Session {
                core: self.core,
                state: Active { _private: () },
                tokens,
            },
            flight.purpose,
        ))
    }

    /// Reports a 401 from a resource server about token `generation`: if it is the
    /// current (old) token, it is no longer handed out while the renewal is in flight.
    pub fn on_unauthorized(&mut self, generation: Generation, _now: UtcDateTime) -> Unauthorized {
        self.core.reject(&mut self.tokens, generation)
    }

    /// Reports that a call authenticated with token `generation` succeeded at `now`: for
    /// dialects with sliding expiry this extends the current token's life.
    pub fn on_call_succeeded(&mut self, generation: Generation, now: UtcDateTime) {
        self.slide(generation, now);
    }

    /// When showing the session the time next matters: the response deadline, or the old
    /// token's hard expiry if that comes first.
    pub fn deadline(&self) -> UtcDateTime {
        let expiry = self
            .tokens
            .withdrawn
            .is_none()
            .then_some(self.tokens.hard_expiry);
        let due = self.state.flight.due();
        earlier(expiry, Some(due)).unwrap_or(due)
    }

    fn fail(mut self, failure: Failure, now: UtcDateTime) -> RenewOutcome<D> {
        let mut tokens = self.tokens;
        let reached_server = failure.may_have_reached_server();
        let mut failures = self.state.failures.saturating_add(1);
        let error = self.core.verdict(
            self.state.flight.purpose,
            failure,
            failures,
            &[tokens.secrets()],
            now,
        );
        let dialect = &self.core.shared.dialect;
        let mut refresh_token_dropped = false;
        if self.state.flight.purpose == Purpose::Refresh && tokens.refresh_token.is_some() {
            // A refusal of the client (`invalid_client`) or of the pace (throttling) is an
            // answer that the grant was not exchanged; anything else that may have
            // reached the server may have spent a single-use token.
            let unspent = matches!(error, Error::Rejected { .. } | Error::Throttled { .. });
            let spent = dialect.refresh_token_use() == RefreshTokenUse::SingleUse
                && reached_server
                && !unspent;
            if spent || matches!(error, Error::Reauthenticate { .. }) {
                // Never presented again: the server may have consumed it.
                refresh_token_dropped = tokens.forget_refresh_token();
            }
        }
        let renewable = self.core.refresh_token_usable(&tokens, now) || dialect.can_login();
        let purpose = self.state.flight.purpose;
        let mut rejections = self.state.rejections;
        let (retry_at, halt, cause) = match &error {
            // A dead refresh token with credentials at hand: log in again at once.
            Error::Reauthenticate { failure } if renewable && purpose == Purpose::Refresh => {
                self.core.notify(Event::Reauthenticating {
                    cause: failure.clone(),
                });
                (None, None, WaitCause::Failure)
            }
            Error::Retry { failure, .. } | Error::Throttled { failure, .. } if !renewable => {
                let halt = Halt::Reauthenticate(failure.clone());
                self.core.halted(halt.to_error());
                (None, Some(Box::new(halt)), WaitCause::Failure)
            }
            // The credentials or the client rejected: retried slowly, a bounded number of
            // times, then halted. Counted apart from temporary failures.
            Error::Rejected { .. } | Error::Reauthenticate { .. } if renewable => {
                rejections = rejections.saturating_add(1);
                failures = self.state.failures;
                let (retry_at, halt) = self.core.rejected(purpose, &error, rejections, now);
                (retry_at, halt, WaitCause::Rejected)
            }
            _ => {
                let halt = Halt::from_error(&error);
                match &halt {
                    Some(halt) => self.core.halted(halt.to_error()),
                    None => self.core.retry_scheduled(purpose, error.clone()),
                }
                (error.retry_at(), halt, WaitCause::of(&error))
            }
        };
        if refresh_token_dropped {
            self.core.persist();
        }
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
                    backoff: Backoff::new(failures, rejections, retry_at, cause),
                    halt,
                },
                tokens,
            },
            error,
        )
    }
}

// ---------------------------------------------------------------------------------------
// A refresh token spent elsewhere: the states that hold one.

/// The halt of a session whose refresh token may have been spent elsewhere and that has
/// no credentials to log in with.
fn spent_elsewhere() -> Error {
    Error::Reauthenticate {
        failure: Failure::new(FailureKind::SpentElsewhere, None),
    }
}

impl<D: Dialect> Core<D> {
    /// Drops the refresh token another process or tool may have spent (wiped, never
    /// presented again) and announces it. Whether there was one.
    fn forget_spent_refresh_token(&mut self, tokens: &mut TokenSet<D::Extra>) -> bool {
        if !tokens.forget_refresh_token() {
            return false;
        }
        self.notify(Event::RefreshTokenSpentElsewhere {
            generation: tokens.generation,
        });
        true
    }
}

impl<D: Dialect> Session<Active, D> {
    /// Reports that the refresh token may have been spent elsewhere (another process
    /// sharing a store that cannot vouch for a single-use token, a tool that restored
    /// this session): it is dropped and wiped, never presented again, and the session
    /// persists. The access token is still served until its hard expiry.
    ///
    /// With credentials, the session stays active and logs in when renewal comes
    /// ([`Step::Same`]). Without, it cannot renew by itself any more: it halts at once
    /// and moves to [`Expiring`], serving the token until its hard expiry
    /// ([`Step::Next`], [`Session::halted`] says why). Without a refresh token nothing
    /// changes.
    pub fn on_refresh_token_spent_elsewhere(
        mut self,
        _now: UtcDateTime,
    ) -> Step<Self, Session<Expiring, D>> {
        if !self.core.forget_spent_refresh_token(&mut self.tokens) {
            return Step::Same(self);
        }
        if self.core.shared.dialect.can_login() {
            self.core.persist();
            return Step::Same(self);
        }
        let error = spent_elsewhere();
        let halt = Halt::from_error(&error);
        self.core.halted(error);
        Step::Next(self.with_tokens(Expiring {
            backoff: Backoff::default(),
            halt,
        }))
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

impl<D: Dialect> Session<Refreshing, D> {
    /// Reports that the refresh token may have been spent elsewhere: it is dropped and
    /// wiped, never presented again, and the session persists. The access token is still
    /// served until its hard expiry.
    ///
    /// A refresh in flight presented that token: it is abandoned (its answer is refused
    /// from now on as [`Misuse::UnknownRequest`]) and the session goes back to
    /// [`Expiring`] with no new backoff — the server did not fail — to log in at once,
    /// or, without credentials, halted ([`Step::Next`]). A login standing in for the
    /// refresh is kept ([`Step::Same`]).
    pub fn on_refresh_token_spent_elsewhere(
        mut self,
        _now: UtcDateTime,
    ) -> Step<Self, Session<Expiring, D>> {
        let dropped = self.core.forget_spent_refresh_token(&mut self.tokens);
        if self.state.flight.purpose != Purpose::Refresh {
            if dropped {
                self.core.persist();
            }
            return Step::Same(self);
        }
        let backoff = Backoff {
            failures: self.state.failures,
            ..Backoff::default()
        };
        let halt = if self.core.shared.dialect.can_login() {
            self.core.persist();
            None
        } else {
            let error = spent_elsewhere();
            let halt = Halt::from_error(&error);
            self.core.halted(error);
            halt
        };
        Step::Next(self.with_tokens(Expiring { backoff, halt }))
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

        /// The token the state hands out, if any.
        fn tokens<E>(tokens: &mut Self::Tokens<E>) -> Option<&mut super::TokenSet<E>>;
    }
}

impl sealed::IntoRevocation for Unauthenticated {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), None)
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for LoggingIn {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), Some(self.flight))
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for Active {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::of(tokens), None)
    }

    fn tokens<E>(tokens: &mut TokenSet<E>) -> Option<&mut TokenSet<E>> {
        Some(tokens)
    }
}

impl sealed::IntoRevocation for Expiring {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::of(tokens), None)
    }

    fn tokens<E>(tokens: &mut TokenSet<E>) -> Option<&mut TokenSet<E>> {
        Some(tokens)
    }
}

impl sealed::IntoRevocation for Refreshing {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::of(tokens), Some(self.flight))
    }

    fn tokens<E>(tokens: &mut TokenSet<E>) -> Option<&mut TokenSet<E>> {
        Some(tokens)
    }
}

impl<S: Revocable, D: Dialect> Session<S, D> {
    /// Starts revoking: the token is withdrawn at once. RFC 7009 requests go out one at a
    /// time, refresh tokens first, then access tokens.
    ///
    /// A login or refresh in flight is awaited first ([`Revocation::Awaiting`]): hand back
    /// its response as usual, and any token it minted is revoked too.
    pub fn revoke(mut self, now: UtcDateTime) -> Revocation<D> {
        if let Some(tokens) = <S as sealed::IntoRevocation>::tokens(&mut self.tokens) {
            self.core.withdraw(tokens, Withdrawal::Revoked);
        }
        let (pending, in_flight) = sealed::IntoRevocation::into_revocation(self.state, self.tokens);
        match in_flight {
            Some(flight) => Revocation::Awaiting(Session {
                core: self.core,
                state: Revoking {
                    flight,
                    sent: Vec::new(),
                    retry: Backoff::default(),
                },
                tokens: pending,
            }),
            None => Session {
                core: self.core,
                state: Revoked { _private: () },
                tokens: (),
            }
            .next_revocation(pending, Vec::new(), now),
        }
    }
}

impl<D: Dialect> Session<Revoked, D> {
    /// Sends the next revocation request, if any is left; `sent` are the tokens this
    /// revocation sent before.
    fn next_revocation(
        mut self,
        mut pending: PendingRevocation,
        mut sent: Vec<String>,
        now: UtcDateTime,
    ) -> Revocation<D> {
        let dialect = &self.core.shared.dialect;
        while !pending.queue.is_empty() {
            let (kind, token) = pending.queue.remove(0);
            if let Some(request) = dialect.revocation_request(&token, kind) {
                let (flight, request) = self.core.emit(Purpose::Revoke(kind), request, true, now);
                sent.push(token);
                return Revocation::Pending(
                    Session {
                        core: self.core,
                        state: Revoking {
                            flight,
                            sent,
                            retry: Backoff::default(),
                        },
                        tokens: pending,
                    },
                    request,
                );
            }
        }
        // Done with them: wiped, not just freed.
        sent.iter_mut().for_each(Zeroize::zeroize);
        self.core.notify(Event::Revoked);
        self.core.persist();
        Revocation::Done(self)
    }
}

impl<D: Dialect> Session<Revoking, D> {
    /// How many tokens are still to be revoked after the request in flight.
    pub fn pending(&self) -> &PendingRevocation {
        &self.tokens
    }

    /// When a revocation that failed temporarily is sent again, if one did.
    pub fn retry_at(&self) -> Option<UtcDateTime> {
        self.state.retry.retry_at
    }

    /// When showing the session the time next matters: the retry, or the response
    /// deadline of the request in flight.
    pub fn deadline(&self) -> UtcDateTime {
        self.retry_at().unwrap_or(self.state.flight.due())
    }

    /// Hands back the response to the request in flight.
    pub fn on_response(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<RevocationStep<D>, Refused<Self>> {
        let flight = self.state.flight;
        if let Err(error) = awaiting::Fail::awaiting(&self.state)
            .ok_or(Misuse::UnknownRequest { id })
            .and_then(|flight| flight.check(id))
        {
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
                // The awaited renewal: whatever it minted is revoked too, never handed out.
                if let Ok(tokens) = self.core.accept(&flight, response, now, None) {
                    self.tokens.push(tokens);
                }
                None
            }
        };
        Ok(self.advance(failure, now))
    }

    fn advance(mut self, failure: Option<Failure>, now: UtcDateTime) -> RevocationStep<D> {
        let failure = match self.state.flight.purpose {
            Purpose::Revoke(kind) => match failure {
                None => None,
                Some(failure) => {
                    // Any token this revocation sent or has still to send may be echoed.
                    let echoed = Secrets::new(
                        self.state
                            .sent
                            .iter()
                            .chain(self.tokens.queue.iter().map(|(_, token)| token))
                            .map(String::as_str),
                    );
                    let attempts = self.state.retry.failures.saturating_add(1);
                    let error = self.core.verdict(
                        Purpose::Revoke(kind),
                        failure,
                        attempts,
                        &[&echoed],
                        now,
                    );
                    let allowed = self.core.shared.policy.revocation_attempts;
                    match error.retry_at() {
                        // Temporary (a 5xx, a transport error, a timeout, throttling):
                        // the same token again after the backoff, a bounded number of times.
                        Some(retry_at) if attempts < allowed => {
                            self.core.retry_scheduled(Purpose::Revoke(kind), error);
                            self.state.retry =
                                Backoff::new(attempts, 0, Some(retry_at), WaitCause::Failure);
                            return RevocationStep {
                                next: Revocation::Retrying(self),
                                failure: None,
                            };
                        }
                        _ => {
                            self.core.notify(Event::RevocationFailed {
                                kind,
                                error: error.clone(),
                            });
                            Some((kind, error))
                        }
                    }
                }
            },
            // The awaited renewal's own failure concerns nobody any more.
            Purpose::Login | Purpose::Refresh => None,
        };
        let pending = self.tokens;
        let sent = std::mem::take(&mut self.state.sent);
        let revoked = Session {
            core: self.core,
            state: Revoked { _private: () },
            tokens: (),
        };
        RevocationStep {
            next: revoked.next_revocation(pending, sent, now),
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
        Step::Next(RevocationStep {
            next: Revocation::Pending(session, request),
            failure: None,
        })
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

// ---------------------------------------------------------------------------------------
// Shared mechanics of the transitions

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
    /// Refuses an explicit request before `retry_at`, unless the wait is the slow retry of
    /// a rejection: a person or program asking again is what that wait stands in for.
    fn check(&self, purpose: Purpose, now: UtcDateTime) -> Result<(), Misuse> {
        match self.retry_at {
            Some(retry_at) if now < retry_at && self.cause != WaitCause::Rejected => {
                Err(Misuse::TooEarly { purpose, retry_at })
            }
            _ => Ok(()),
        }
    }
}

impl WaitCause {
    /// The wait a temporary verdict imposes.
    fn of(error: &Error) -> Self {
        match error {
            Error::Throttled { .. } => WaitCause::Throttled,
            _ => WaitCause::Failure,
        }
    }
}

impl<D: Dialect> Core<D> {
    /// Why the session waits, if it does: the request budget when it is what holds the
    /// next `purpose` request longest, otherwise what `backoff` says.
    fn wait_reason(&self, backoff: &Backoff, purpose: Purpose) -> Option<WaitReason> {
        let budget = self.budget_slot();
        let reason = match backoff.retry_at {
            Some(at) if budget.is_none_or(|slot| slot < at) => match backoff.cause {
                WaitCause::Failure => WaitReason::Backoff,
                WaitCause::Throttled => WaitReason::Throttled,
                WaitCause::UnauthorizedSpacing => WaitReason::UnauthorizedSpacing,
                WaitCause::MinRenewalInterval => WaitReason::MinRenewalInterval,
                WaitCause::Rejected => WaitReason::Rejected {
                    attempts_left: self
                        .rejection_attempts(purpose)
                        .map(|allowed| allowed.saturating_sub(backoff.rejections)),
                },
            },
            _ => {
                budget?;
                WaitReason::RequestBudget
            }
        };
        Some(reason)
    }

    /// How many automatic attempts a rejection of a `purpose` request allows; `None` for
    /// no limit. A login presents the dialect's credentials; a refresh, the client's.
    fn rejection_attempts(&self, purpose: Purpose) -> Option<u32> {
        let credentials = match purpose {
            Purpose::Login => self.shared.dialect.login_credentials(),
            _ => LoginCredentials::Client,
        };
        self.shared
            .policy
            .rejected_login_retry
            .attempts(credentials)
    }

    /// After the `rejections`-th consecutive rejection of a `purpose` request: when the
    /// session tries again by itself, announced, or (attempts spent) the halt, announced.
    fn rejected(
        &mut self,
        purpose: Purpose,
        error: &Error,
        rejections: u32,
        now: UtcDateTime,
    ) -> (Option<UtcDateTime>, Option<Box<Halt>>) {
        let allowed = self.rejection_attempts(purpose);
        if allowed.is_some_and(|allowed| rejections > allowed) {
            self.halted(error.clone());
            return (None, Halt::from_error(error));
        }
        let delay = self.shared.policy.rejected_login_retry.delay(rejections);
        let retry_at = now.saturating_add(delay);
        self.notify(Event::RejectedRetryScheduled {
            purpose,
            error: error.clone(),
            retry_at: later(Some(retry_at), self.budget_slot()).unwrap_or(retry_at),
            attempts_left: allowed.map(|allowed| allowed - rejections),
        });
        self.persist();
        (Some(retry_at), None)
    }
}

impl<D> Core<D> {
    /// Announces a retry after a temporary failure, and persists, so that a restart
    /// keeps the backoff (or the endpoint's `Retry-After`) instead of trying at once,
    /// and knows the request is answered.
    fn retry_scheduled(&mut self, purpose: Purpose, error: Error) {
        self.notify(Event::RetryScheduled { purpose, error });
        self.persist();
    }

    /// Announces that the session stopped trying by itself, and persists it so that a
    /// restart does not try again what was refused.
    fn halted(&mut self, error: Error) {
        self.notify(match error {
            Error::Rejected { .. } => Event::Rejected { error },
            error => Event::ReauthenticationRequired { error },
        });
        self.persist();
    }
}

impl<S, D> Session<S, D>
where
    S: State<Tokens<D::Extra> = TokenSet<D::Extra>>,
    D: Dialect,
{
    /// The same tokens in another token-holding state.
    fn with_tokens<T>(self, state: T) -> Session<T, D>
    where
        T: State<Tokens<D::Extra> = TokenSet<D::Extra>>,
    {
        Session {
            core: self.core,
            state,
            tokens: self.tokens,
        }
    }
}

/// The later of two optional moments.
fn later(a: Option<UtcDateTime>, b: Option<UtcDateTime>) -> Option<UtcDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The earlier of two optional moments.
fn earlier(a: Option<UtcDateTime>, b: Option<UtcDateTime>) -> Option<UtcDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl<S: State, D: Dialect> Session<S, D> {
    /// The id the next emitted request will carry.
    pub fn next_request_id(&self) -> RequestId {
        RequestId(self.core.next_id)
    }
}
