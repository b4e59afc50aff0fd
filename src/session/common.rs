//! What every state shares, [`Core`]: the configuration, the counters, the notices not
//! yet handed out; and the mechanics every state shares: emitting a request, reading a
//! token response, judging a failure, checking the request budget, sliding an expiry.

use std::collections::VecDeque;
use std::sync::Arc;

use http::StatusCode;
use oauth2::basic::BasicErrorResponseType as Code;
use time::{Duration, UtcDateTime};

use super::states::{Backoff, Flight, Halt, WaitCause};
use crate::bearer::{Generation, Withdrawal};
use crate::dialect::Dialect;
use crate::echo::{Secrets, REDACTED};
use crate::error::{Error, Failure, FailureKind, Misuse};
use crate::output::{Event, Notice, Unauthorized, WaitReason};
use crate::policy::{BudgetLog, LoginCredentials, Policy};
use crate::request::{Purpose, RequestId, TokenRequest};
use crate::token::TokenSet;

/// The shortest extension a successful call makes to a sliding expiry.
pub(crate) const MIN_SLIDE: Duration = Duration::MINUTE;

/// What every state shares: the configuration, the counters, and the notices not yet
/// handed out.
pub(crate) struct Core<D> {
    pub(crate) shared: Arc<Shared<D>>,
    pub(crate) next_id: u64,
    /// The generation of the last token the session obtained.
    pub(crate) generation: Generation,
    /// Recent logins and refreshes, for dialects with a request budget.
    pub(crate) budget: BudgetLog,
    /// Recent logins and refreshes, for the policy's own `token_request_budget`.
    pub(crate) pace: BudgetLog,
    /// How many tokens in a row a reported 401 rejected young: the renewal each causes
    /// is spaced longer ([`Policy::unauthorized_spacing`]).
    pub(crate) rejected_young: u32,
    /// Events and persistence points, in order, for the caller to drain.
    pub(crate) notices: VecDeque<Notice>,
}

/// Immutable configuration, shared by a session's successive states.
#[derive(Debug)]
pub(crate) struct Shared<D> {
    pub(crate) dialect: D,
    pub(crate) policy: Policy,
}

impl<D> Core<D> {
    pub(crate) fn new(shared: Arc<Shared<D>>, next_id: u64, generation: Generation) -> Self {
        Core {
            shared,
            next_id,
            generation,
            budget: BudgetLog::default(),
            pace: BudgetLog::default(),
            rejected_young: 0,
            notices: VecDeque::new(),
        }
    }

    /// Queues an event.
    pub(crate) fn notify(&mut self, event: Event) {
        self.notices.push_back(Notice::Event(event));
    }

    /// Queues a persistence point, unless one is already the last notice.
    pub(crate) fn persist(&mut self) {
        if self.notices.back() != Some(&Notice::Persist) {
            self.notices.push_back(Notice::Persist);
        }
    }

    /// Numbers a newly obtained token and announces it.
    pub(crate) fn issue<E>(
        &mut self,
        tokens: &mut TokenSet<E>,
        via: crate::request::Purpose,
        renewal: bool,
    ) {
        self.generation = self.generation.next();
        tokens.generation = self.generation;
        tokens.withdrawn = None;
        self.notify(Event::TokenIssued {
            token: tokens.bearer.clone(),
            generation: tokens.generation,
            valid_until: tokens.hard_expiry,
            expires_at: tokens.expires_at,
            via,
            renewal,
        });
        self.persist();
    }

    /// Stops handing out the token, once, and announces it.
    pub(crate) fn withdraw<E>(&mut self, tokens: &mut TokenSet<E>, reason: Withdrawal) {
        if tokens.withdrawn.is_some() {
            return;
        }
        tokens.withdrawn = Some(reason);
        // A restored token whose announcement no one has drained yet is withdrawn
        // unheard: the announcement goes, so no reader ever sees a token already gone
        // (a store that held it past its hard expiry).
        let unheard = self.notices.iter().position(|notice| {
            matches!(notice, Notice::Event(Event::TokenRestored { generation, .. })
                if *generation == tokens.generation)
        });
        match unheard {
            Some(at) => {
                self.notices.remove(at);
            }
            None => self.notify(Event::TokenWithdrawn {
                generation: tokens.generation,
                reason,
            }),
        }
        self.persist();
    }

    /// Withdraws the token when its hard expiry has come.
    pub(crate) fn expire_if_due<E>(&mut self, tokens: &mut TokenSet<E>, now: UtcDateTime) {
        if now >= tokens.hard_expiry {
            self.withdraw(tokens, Withdrawal::Expired);
        }
    }

    /// Withdraws the token a resource server rejected, if the report is about it.
    pub(crate) fn reject<E>(
        &mut self,
        tokens: &mut TokenSet<E>,
        generation: Generation,
    ) -> Unauthorized {
        if generation != tokens.generation {
            Unauthorized::Stale
        } else if tokens.withdrawn.is_some() {
            Unauthorized::AlreadyWithdrawn
        } else {
            self.withdraw(tokens, Withdrawal::Rejected);
            Unauthorized::Withdrawn
        }
    }

    /// Announces a retry after a temporary failure, and persists, so that a restart
    /// keeps the backoff (or the endpoint's `Retry-After`) instead of trying at once,
    /// and knows the request is answered.
    pub(super) fn retry_scheduled(&mut self, purpose: Purpose, error: Error) {
        self.notify(Event::RetryScheduled { purpose, error });
        self.persist();
    }

    /// Announces that the session stopped trying by itself, and persists it so that a
    /// restart does not try again what was refused.
    pub(super) fn halted(&mut self, error: Error) {
        self.notify(match error {
            Error::Rejected { .. } => Event::Rejected { error },
            error => Event::ReauthenticationRequired { error },
        });
        self.persist();
    }
}

impl<D: Dialect> Core<D> {
    pub(super) fn emit(
        &mut self,
        purpose: Purpose,
        request: http::Request<Vec<u8>>,
        resend_safe: bool,
        now: UtcDateTime,
    ) -> (Flight, Result<TokenRequest, Failure>) {
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.saturating_add(1);
        if matches!(purpose, Purpose::Login | Purpose::Refresh) {
            if let Some(budget) = self.shared.dialect.request_budget() {
                self.budget.record(&budget, now);
            }
            self.pace
                .record(&self.shared.policy.token_request_budget, now);
        }
        let flight = Flight {
            id,
            purpose,
            sent_at: now,
            deadline: now.saturating_add(self.shared.policy.response_timeout),
            lost: false,
        };
        // The assertions are formed now, for this request alone: a request that carries
        // one is never resent, and one that cannot carry one is never sent.
        let mut request = request;
        let carries_assertion = match self
            .shared
            .dialect
            .add_assertions(&mut request, purpose, now)
        {
            Ok(carries) => carries,
            Err(error) => {
                let failure = Failure::unsent_for_assertion(error.kind(), error.to_string());
                return (flight, Err(failure));
            }
        };
        let request = TokenRequest {
            id,
            purpose,
            resend_safe: resend_safe && !carries_assertion,
            deadline: flight.deadline,
            request,
        };
        (flight, Ok(request))
    }

    /// Emits a request an explicit call asked for, or refuses the call when the request
    /// cannot carry its assertion ([`Misuse::NoAssertion`]): nothing is sent, and the
    /// session is left as it was but for the request id and pace it used.
    pub(super) fn emit_asked(
        &mut self,
        purpose: Purpose,
        request: http::Request<Vec<u8>>,
        resend_safe: bool,
        now: UtcDateTime,
    ) -> Result<(Flight, TokenRequest), Misuse> {
        match self.emit(purpose, request, resend_safe, now) {
            (flight, Ok(request)) => Ok((flight, request)),
            (_, Err(failure)) => Err(failure.no_assertion(purpose)),
        }
    }

    /// Whether the refresh token will still be alive when a refresh sent at `now` arrives:
    /// one that dies within the skew allowance is not worth spending.
    pub(crate) fn refresh_token_usable<E>(&self, tokens: &TokenSet<E>, now: UtcDateTime) -> bool {
        tokens.refresh_token_alive(now.saturating_add(self.shared.policy.skew_allowance))
    }

    /// When the request budgets (the dialect's, and the policy's backstop) allow the next
    /// login or refresh, if not now.
    pub(crate) fn budget_slot(&self) -> Option<UtcDateTime> {
        let provider = self
            .shared
            .dialect
            .request_budget()
            .and_then(|budget| self.budget.next_slot(&budget));
        let pace = self
            .pace
            .next_slot(&self.shared.policy.token_request_budget);
        provider.max(pace)
    }

    pub(super) fn check_budget(&self, purpose: Purpose, now: UtcDateTime) -> Result<(), Misuse> {
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

    /// Parses a token response into a token set, or the evidence of its failure (to be
    /// judged, and scrubbed, by [`verdict`](Core::verdict)). `held` are the tokens the
    /// session holds while renewing them: a granted scope may not echo those either.
    pub(super) fn accept(
        &mut self,
        flight: &Flight,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
        held: Option<&mut TokenSet<D::Extra>>,
    ) -> Result<TokenSet<D::Extra>, Failure> {
        self.check_size(response)?;
        let server_date = self.server_date(response, now);
        let shared = &self.shared;
        let policy = &shared.policy;
        let result = shared
            .dialect
            .parse_token_response(flight.purpose, response)
            .and_then(|grant| {
                TokenSet::from_grant(grant, policy, flight.sent_at, now, server_date).map_err(
                    |reason| Failure::new(FailureKind::Malformed(reason), Some(response.status())),
                )
            });
        result.map(|mut tokens| {
            // The granted scope is the server's text and is shown in `Debug`: one that
            // echoes a secret is not kept.
            if let Some(scope) = tokens.scope.take() {
                let echoed = shared.dialect.secrets().is_echoed_in(&scope)
                    || tokens.is_echoed_in(&scope)
                    || held.is_some_and(|held| held.is_echoed_in(&scope));
                tokens.scope = Some(if echoed { REDACTED.into() } else { scope });
            }
            tokens
        })
    }

    /// The response's `Date`, if it is plausible: one further from `now` than the policy's
    /// `max_clock_offset` is ignored, with an event.
    fn server_date(
        &mut self,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Option<UtcDateTime> {
        let date = response
            .headers()
            .get(http::header::DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(crate::timestamp::parse_http_date)?;
        let offset = date - now;
        if offset.abs() > self.shared.policy.max_clock_offset {
            self.notify(Event::ServerDateIgnored { offset });
            return None;
        }
        Some(date)
    }

    /// Decides what a failure of a `purpose` request means, after `failures` consecutive
    /// ones.
    ///
    /// Every wait is bounded: a `Retry-After` is cut to the policy's `max_retry_after` and
    /// never shortens the backoff, which grows with each consecutive failure (throttling
    /// included). A refused refresh is a dead grant whatever the server calls it, except
    /// `invalid_client` (the client's own credentials).
    ///
    /// A server may echo any secret it was sent: the dialect's credentials and `tokens`
    /// (those the session holds or is spending) are scrubbed from the failure, and only
    /// then is it cut to size.
    pub(super) fn verdict(
        &self,
        purpose: Purpose,
        mut failure: Failure,
        failures: u32,
        tokens: &[&Secrets],
        now: UtcDateTime,
    ) -> Error {
        let mut sets = Vec::with_capacity(tokens.len() + 1);
        sets.push(self.shared.dialect.secrets());
        sets.extend_from_slice(tokens);
        failure.scrub(&sets);
        failure.seal();
        let policy = &self.shared.policy;
        let backoff = now.saturating_add(policy.backoff(failures, self.next_id));
        let asked = failure.retry_after.map(|retry_after| {
            retry_after
                .deadline(now)
                .clamp(now, now.saturating_add(policy.max_retry_after))
        });
        let retry_at = asked.map_or(backoff, |asked| asked.max(backoff));
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
                retry_at: retry_at.max(window),
                failure,
            };
        }
        let temporary = match failure.kind {
            FailureKind::Transport
            | FailureKind::NotSent
            | FailureKind::Timeout
            | FailureKind::Malformed(_)
            | FailureKind::Assertion(_) => true,
            FailureKind::TooLarge => true,
            // Never answered by an endpoint: the session's own verdict, for good.
            FailureKind::SpentElsewhere => false,
            FailureKind::OAuth | FailureKind::Status => {
                matches!(code, Some(Code::Extension(c)) if c == "temporarily_unavailable" || c == "server_error")
                    || status
                        .is_some_and(|s| s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT)
            }
        };
        if temporary {
            return Error::Retry { retry_at, failure };
        }
        match (purpose, code) {
            (_, Some(Code::InvalidClient)) => Error::Rejected { failure },
            // `invalid_grant`, `invalid_request` (how some servers answer an expired or
            // unknown refresh token), a bare 400 or 401: the refresh grant is dead.
            (Purpose::Refresh, _) | (_, Some(Code::InvalidGrant)) => {
                Error::Reauthenticate { failure }
            }
            _ => Error::Rejected { failure },
        }
    }

    /// Extends a sliding expiry by `lifetime` from `now`, recomputing the derived moments,
    /// and announces it. Slides shorter than [`MIN_SLIDE`] (or a hundredth of the lifetime, if less) are skipped: the token then
    /// expires a little earlier in the session's eyes than in the server's (the safe
    /// side), and a busy caller does not cause an event and a persistence point per call.
    pub(crate) fn slide<E>(
        &mut self,
        tokens: &mut TokenSet<E>,
        now: UtcDateTime,
        lifetime: Duration,
    ) {
        let Some(expires_at) = now.checked_add(lifetime) else {
            return;
        };
        if expires_at
            < tokens
                .expires_at
                .saturating_add(MIN_SLIDE.min(lifetime / 100))
        {
            return;
        }
        let policy = &self.shared.policy;
        tokens.issued_at = now;
        tokens.expires_at = expires_at;
        (tokens.refresh_at, tokens.hard_expiry) =
            policy.moments(now, expires_at, tokens.bearer.secret().as_bytes());
        self.notify(Event::TokenExtended {
            generation: tokens.generation,
            valid_until: tokens.hard_expiry,
            expires_at,
        });
        self.persist();
    }

    /// Why the session waits, if it does: the request budget when it is what holds the
    /// next `purpose` request longest, otherwise what `backoff` says.
    pub(super) fn wait_reason(&self, backoff: &Backoff, purpose: Purpose) -> Option<WaitReason> {
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
    pub(super) fn rejected(
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

    /// Drops the refresh token another process or tool may have spent (wiped, never
    /// presented again) and announces it. Whether there was one.
    pub(super) fn forget_spent_refresh_token(&mut self, tokens: &mut TokenSet<D::Extra>) -> bool {
        if !tokens.forget_refresh_token() {
            return false;
        }
        self.notify(Event::RefreshTokenSpentElsewhere {
            generation: tokens.generation,
        });
        true
    }
}

/// The later of two optional moments.
pub(super) fn later(a: Option<UtcDateTime>, b: Option<UtcDateTime>) -> Option<UtcDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The earlier of two optional moments.
pub(super) fn earlier(a: Option<UtcDateTime>, b: Option<UtcDateTime>) -> Option<UtcDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
