//! The mechanics every state shares: emitting a request, reading a token response,
//! judging a failure, checking the request budget, sliding an expiry.

use http::StatusCode;
use oauth2::basic::BasicErrorResponseType as Code;
use time::{Duration, UtcDateTime};

use super::states::Flight;
use super::Core;
use crate::dialect::Dialect;
use crate::echo::{Secrets, REDACTED};
use crate::error::{Error, Failure, FailureKind, Misuse};
use crate::output::Event;
use crate::request::{Purpose, RequestId, TokenRequest};
use crate::token::TokenSet;

/// The shortest extension a successful call makes to a sliding expiry.
pub(crate) const MIN_SLIDE: Duration = Duration::MINUTE;

impl<D: Dialect> Core<D> {
    pub(super) fn emit(
        &mut self,
        purpose: Purpose,
        request: http::Request<Vec<u8>>,
        resend_safe: bool,
        now: UtcDateTime,
    ) -> (Flight, TokenRequest) {
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
        let request = TokenRequest {
            id,
            purpose,
            resend_safe,
            deadline: flight.deadline,
            request,
        };
        (flight, request)
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
            | FailureKind::Malformed(_) => true,
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
}
