//! The mechanics every state shares: emitting a request, reading a token response,
//! judging a failure, checking the request budget, sliding an expiry.

use http::StatusCode;
use oauth2::basic::BasicErrorResponseType as Code;
use time::{Duration, UtcDateTime};

use super::states::Flight;
use super::Core;
use crate::dialect::Dialect;
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

    /// When the request budget allows the next login or refresh, if not now.
    pub(crate) fn budget_slot(&self) -> Option<UtcDateTime> {
        let budget = self.shared.dialect.request_budget()?;
        self.budget.next_slot(&budget)
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

    /// Parses a token response into a token set, or the evidence of its failure with any
    /// token the session knows scrubbed from the description.
    pub(super) fn accept(
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
                    .and_then(crate::timestamp::parse_http_date);
                TokenSet::from_grant(grant, policy, flight.sent_at, now, server_date).map_err(
                    |reason| Failure::new(FailureKind::Malformed(reason), Some(response.status())),
                )
            });
        result.map_err(|mut failure| {
            if let Some(tokens) = known {
                failure.scrub(tokens.bearer.secret());
                if let Some(refresh_token) = &tokens.refresh_token {
                    failure.scrub(refresh_token.secret());
                }
            }
            failure
        })
    }

    /// Decides what a failure means, after `failures` consecutive ones.
    pub(super) fn verdict(&self, mut failure: Failure, failures: u32, now: UtcDateTime) -> Error {
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
            FailureKind::Transport
            | FailureKind::NotSent
            | FailureKind::Timeout
            | FailureKind::Malformed(_) => true,
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
        tokens.hard_expiry = policy.hard_expiry(expires_at);
        tokens.refresh_at =
            policy.refresh_moment(now, expires_at, tokens.bearer.secret().as_bytes());
        self.notify(Event::TokenExtended {
            generation: tokens.generation,
            valid_until: tokens.hard_expiry,
            expires_at,
        });
        self.persist();
    }
}
