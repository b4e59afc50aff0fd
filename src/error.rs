//! Errors, sorted by what the caller should do about them.
//!
//! Two families never mix:
//! - [`Error`] is the session's verdict about the token endpoint, the transport or the
//!   configuration: retry later, slow down, re-authenticate, give up.
//! - [`Misuse`] is the caller's own mistake: answering a request that is not in flight,
//!   asking a terminal session to work. A misuse never changes the session's state.
//!
//! No error ever carries a secret or a raw response body: only the HTTP status, the
//! RFC 6749 §5.2 error code and a bounded, token-scrubbed description.

use std::fmt;

use http::StatusCode;
use oauth2::basic::BasicErrorResponseType;
use serde::{Deserialize, Serialize};
use time::UtcDateTime;

use crate::echo::{redact, redact_jwts, Secrets, REDACTED};
use crate::request::{Purpose, RequestId, TransportError};
use crate::timestamp::Rfc3339;

/// The session's verdict about a failed exchange with the token or revocation endpoint.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A temporary failure (5xx, timeout, lost response, malformed answer): the session
    /// tries again at `retry_at` and keeps serving a still-valid token until then.
    #[error("{failure}; retrying at {}", Rfc3339(*.retry_at))]
    Retry {
        /// When the session will try again.
        retry_at: UtcDateTime,
        /// What went wrong.
        failure: Failure,
    },
    /// The endpoint asked the client to slow down (429, or 503 with `Retry-After`): the
    /// session makes no token-endpoint request before `retry_at`.
    #[error("{failure}; throttled until {}", Rfc3339(*.retry_at))]
    Throttled {
        /// The earliest moment the endpoint accepts another request.
        retry_at: UtcDateTime,
        /// What the endpoint answered.
        failure: Failure,
    },
    /// The grant is dead (`invalid_grant`: refresh token expired, revoked, reused, or the
    /// user's credentials are wrong) and the session cannot renew it by itself: a person or
    /// the embedding program must supply new credentials.
    #[error("re-authentication required: {failure}")]
    Reauthenticate {
        /// What the endpoint answered.
        failure: Failure,
    },
    /// The endpoint rejected the client itself (`invalid_client`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_scope`, a 4xx without an OAuth error): retrying
    /// the same request cannot succeed until the configuration changes.
    #[error("rejected by the token endpoint: {failure}")]
    Rejected {
        /// What the endpoint answered.
        failure: Failure,
    },
    /// The session needs a person to log in (the device grant, the authorization code
    /// grant): it never starts that login by itself. `ended` says why the last one ended
    /// without a token, if one did; `failure` is the token endpoint's answer, when it gave
    /// one. Start a new login ([`Driver::authorize_device`](crate::Driver::authorize_device),
    /// [`Driver::authorize`](crate::Driver::authorize)) when the person is there.
    #[error("a person must log in{}", PersonLoginWords(*.ended, .failure.as_ref()))]
    PersonLogin {
        /// Why the last person login ended, if one did.
        ended: Option<PersonLoginEnd>,
        /// What the token endpoint answered, if it did.
        failure: Option<Failure>,
    },
    /// The configuration cannot produce a valid request.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Why a person's login (the device grant, the authorization code grant) ended without a
/// token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PersonLoginEnd {
    /// The person, or the server for them, refused (`access_denied`).
    Denied,
    /// The person did not finish in time: the device code expired (`expired_token`), or
    /// no redirect came before the authorization's deadline.
    Expired,
    /// The redirect was refused: a wrong `state` or `iss`, an error redirect, a code
    /// that cannot be read ([`RedirectError`](crate::dialect::authorization::RedirectError)).
    Redirect,
    /// The server answered without tokens: it refused the client, the device code or the
    /// authorization code, or answered unusably (a 5xx, a malformed body). A code is
    /// single-use: it is never sent again.
    Refused,
    /// The code exchange, or a device authorization request, failed in transport or went
    /// unanswered. A code is single-use: it is never sent again.
    Lost,
    /// The application cancelled it ([`Driver::cancel_login`](crate::Driver::cancel_login)).
    Cancelled,
}

impl fmt::Display for PersonLoginEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PersonLoginEnd::Denied => "was denied",
            PersonLoginEnd::Expired => "expired",
            PersonLoginEnd::Redirect => "came back with a redirect that was refused",
            PersonLoginEnd::Refused => "was refused by the token endpoint",
            PersonLoginEnd::Lost => "was lost in transport",
            PersonLoginEnd::Cancelled => "was cancelled",
        })
    }
}

/// `: the last login expired (…)`, for [`Error::PersonLogin`].
struct PersonLoginWords<'a>(Option<PersonLoginEnd>, Option<&'a Failure>);

impl fmt::Display for PersonLoginWords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ended) = self.0 {
            write!(f, ": the last login {ended}")?;
        }
        if let Some(failure) = self.1 {
            write!(f, " ({failure})")?;
        }
        Ok(())
    }
}

impl Error {
    /// The moment before which the session will not try again, if this is a temporary error.
    pub fn retry_at(&self) -> Option<UtcDateTime> {
        match self {
            Error::Retry { retry_at, .. } | Error::Throttled { retry_at, .. } => Some(*retry_at),
            _ => None,
        }
    }

    /// Whether the session recovers from this error by itself, given time.
    pub fn is_temporary(&self) -> bool {
        self.retry_at().is_some()
    }

    /// The evidence behind the verdict, if the endpoint or the transport produced any.
    pub fn failure(&self) -> Option<&Failure> {
        match self {
            Error::Retry { failure, .. }
            | Error::Throttled { failure, .. }
            | Error::Reauthenticate { failure }
            | Error::Rejected { failure } => Some(failure),
            Error::PersonLogin { failure, .. } => failure.as_ref(),
            Error::Config(_) => None,
        }
    }
}

/// What went wrong in one exchange, as evidence: status, OAuth error code, description.
///
/// Built by dialects from a response, or by the session from a transport error. It never
/// holds a response body; the description is the server's `error_description`. Before a
/// failure leaves the session (in an event or an error), every secret the session holds
/// or is spending is scrubbed from it, in raw and encoded forms, and only then is it cut
/// to [`Failure::MAX_DESCRIPTION`] bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub(crate) kind: FailureKind,
    #[serde(with = "status_code")]
    pub(crate) status: Option<StatusCode>,
    pub(crate) code: Option<BasicErrorResponseType>,
    pub(crate) description: Option<String>,
    pub(crate) retry_after: Option<RetryAfter>,
}

/// The kind of evidence a [`Failure`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The caller's transport reported that the request may have reached the server but
    /// its response was lost ([`TransportError::OutcomeUnknown`]).
    Transport,
    /// The caller's transport reported that the request never left
    /// ([`TransportError::NotSent`]).
    NotSent,
    /// No response arrived before the session's response deadline.
    Timeout,
    /// The endpoint answered with an RFC 6749 §5.2 error object (whatever the status).
    OAuth,
    /// The endpoint answered with an error status and no OAuth error object.
    Status,
    /// The response could not be understood.
    Malformed(Malformed),
    /// The response body exceeded the configured size cap.
    TooLarge,
    /// The refresh token may have been spent by another process or tool
    /// ([`Driver::handle_refresh_token_spent_elsewhere`](crate::Driver::handle_refresh_token_spent_elsewhere)):
    /// it was dropped unsent, and without credentials to log in with the session needs a
    /// new login.
    SpentElsewhere,
    /// The request could not carry its assertion (a client assertion, the JWT bearer
    /// grant's): the source failed, or supplied one that is expired or unreadable
    /// ([`AssertionError`](crate::dialect::assertion::AssertionError), quoted in the
    /// description). It was never sent; the session retries on its backoff.
    Assertion(AssertionFailure),
}

/// Why a request could not carry its assertion: the kind of
/// [`AssertionError`](crate::dialect::assertion::AssertionError), sorted by who fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AssertionFailure {
    /// The source has none (a missing token file, a failed callback): the platform's.
    #[error("no assertion available")]
    Unavailable,
    /// The supplied one had expired: the platform's (a token file not rotated).
    #[error("the assertion expired")]
    Expired,
    /// The supplied one is not a JWT the core can read: the configuration's.
    #[error("the assertion is malformed")]
    Malformed,
    /// The key could not sign: the configuration's.
    #[error("the assertion could not be signed")]
    Signing,
}

impl Failure {
    /// Longest description kept, in bytes.
    pub const MAX_DESCRIPTION: usize = 256;

    /// A failure with no response, as the caller's transport reported it.
    pub fn transport(error: TransportError) -> Self {
        let kind = match error {
            TransportError::NotSent => FailureKind::NotSent,
            TransportError::OutcomeUnknown => FailureKind::Transport,
        };
        Self::new(kind, None)
    }

    /// Whether the request may have reached the server: false only when the transport
    /// reported that it never left.
    pub fn may_have_reached_server(&self) -> bool {
        !matches!(self.kind, FailureKind::NotSent | FailureKind::Assertion(_))
    }

    /// A request that was not sent because it could not carry its assertion: `reason`
    /// says why, and holds nothing secret.
    pub(crate) fn unsent_for_assertion(kind: AssertionFailure, reason: String) -> Self {
        Failure {
            description: Some(reason),
            ..Self::new(FailureKind::Assertion(kind), None)
        }
    }

    /// The refusal of an explicit call whose request could not carry its assertion.
    pub(crate) fn no_assertion(&self, purpose: Purpose) -> Misuse {
        let kind = match self.kind {
            FailureKind::Assertion(kind) => kind,
            _ => AssertionFailure::Unavailable,
        };
        Misuse::NoAssertion {
            purpose,
            kind,
            reason: self.description.clone().unwrap_or_default(),
        }
    }

    /// A failure of the given kind, with the status it came with.
    pub fn new(kind: FailureKind, status: Option<StatusCode>) -> Self {
        Failure {
            kind,
            status,
            code: None,
            description: None,
            retry_after: None,
        }
    }

    /// An RFC 6749 §5.2 error answered by the endpoint.
    pub fn oauth(
        status: StatusCode,
        code: BasicErrorResponseType,
        description: Option<&str>,
    ) -> Self {
        Failure {
            code: Some(code),
            description: description.map(clean_description),
            ..Self::new(FailureKind::OAuth, Some(status))
        }
    }

    /// Attaches the endpoint's `Retry-After`.
    pub fn with_retry_after(mut self, retry_after: Option<RetryAfter>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The kind of evidence.
    pub fn kind(&self) -> FailureKind {
        self.kind
    }

    /// The HTTP status, if a response arrived.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The RFC 6749 §5.2 error code, if the endpoint sent one.
    pub fn code(&self) -> Option<&BasicErrorResponseType> {
        self.code.as_ref()
    }

    /// The endpoint's `error_description`, bounded and scrubbed.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The endpoint's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }

    /// Replaces every occurrence of the `sets`' secrets in the description with
    /// `[redacted]`, in any form a server may echo one in ([`Secrets`]), and an error code
    /// that holds one with `[redacted]` whole. One pass over each text, however many
    /// secrets; the description is read no further than [`seal`](Failure::seal) keeps.
    /// Call `seal` once every secret is scrubbed.
    pub(crate) fn scrub(&mut self, sets: &[&Secrets]) {
        if let Some(description) = &mut self.description {
            if let Some(scrubbed) = redact(description, sets, Failure::MAX_DESCRIPTION) {
                *description = scrubbed;
            }
            // An assertion is formed per request and in no set: it is known by its shape.
            if let Some(scrubbed) = redact_jwts(description) {
                *description = scrubbed;
            }
        }
        if let Some(BasicErrorResponseType::Extension(code)) = &mut self.code {
            if sets.iter().any(|set| set.is_echoed_in(code)) {
                REDACTED.clone_into(code);
            }
        }
    }

    /// Cuts the description and an unknown error code to [`Failure::MAX_DESCRIPTION`]
    /// bytes, with control characters replaced (so neither can forge log lines). Scrubbing
    /// comes first, so a secret straddling the cut cannot leave its first bytes behind.
    pub(crate) fn seal(&mut self) {
        let seal = |text: &mut String| {
            let end = floor_char_boundary(text, Failure::MAX_DESCRIPTION);
            *text = clean_description(&text[..end]);
        };
        if let Some(description) = &mut self.description {
            seal(description);
        }
        if let Some(BasicErrorResponseType::Extension(code)) = &mut self.code {
            seal(code);
        }
    }
}

/// `text` cut to [`Failure::MAX_DESCRIPTION`] bytes.
fn bounded(text: &str) -> &str {
    &text[..floor_char_boundary(text, Failure::MAX_DESCRIPTION)]
}

/// The largest character boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut end = text.len().min(at);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Replaces control characters, so a description cannot forge log lines. The length is
/// bounded by the response size cap; the session cuts it to [`Failure::MAX_DESCRIPTION`]
/// after scrubbing secrets from it ([`Failure::seal`]).
fn clean_description(description: &str) -> String {
    description
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FailureKind::Transport => f.write_str("transport error, outcome unknown")?,
            FailureKind::NotSent => f.write_str("transport error, request not sent")?,
            FailureKind::Timeout => f.write_str("no response in time")?,
            FailureKind::OAuth | FailureKind::Status => f.write_str("endpoint error")?,
            FailureKind::Malformed(what) => write!(f, "malformed response: {what}")?,
            FailureKind::TooLarge => f.write_str("response body too large")?,
            FailureKind::SpentElsewhere => {
                f.write_str("refresh token may have been spent elsewhere")?
            }
            FailureKind::Assertion(kind) => write!(f, "request not sent: {kind}")?,
        }
        if let Some(status) = self.status {
            write!(f, ", status {}", status.as_u16())?;
        }
        // Bounded even before the session seals it (a dialect's own parse result).
        if let Some(code) = &self.code {
            write!(f, ", error {}", bounded(code.as_ref()))?;
        }
        // Quoted: the server's words, which may start in capitals and end with a period.
        if let Some(description) = &self.description {
            write!(f, ": \"{}\"", bounded(description))?;
        }
        Ok(())
    }
}

/// An HTTP `Retry-After` value (RFC 9110 §10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryAfter {
    /// A delay in seconds.
    Seconds(u32),
    /// An absolute HTTP date.
    At(UtcDateTime),
}

impl RetryAfter {
    /// Parses the header's value: delay-seconds or an HTTP date. Anything else is `None`.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<u32>() {
            return Some(RetryAfter::Seconds(seconds));
        }
        crate::timestamp::parse_http_date(value).map(RetryAfter::At)
    }

    /// The moment it designates, given when the response arrived.
    pub fn deadline(self, now: UtcDateTime) -> UtcDateTime {
        match self {
            RetryAfter::Seconds(seconds) => {
                now.saturating_add(time::Duration::seconds(i64::from(seconds)))
            }
            RetryAfter::At(at) => at,
        }
    }
}

/// A configuration that cannot produce a valid request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An endpoint URL could not be parsed.
    #[error("{endpoint} endpoint is not a valid absolute URL")]
    InvalidUrl {
        /// Which endpoint.
        endpoint: &'static str,
    },
    /// An endpoint is plain `http` on a non-loopback host: credentials would travel in clear.
    #[error("{endpoint} endpoint must use https (plain http is allowed only on loopback hosts)")]
    InsecureUrl {
        /// Which endpoint.
        endpoint: &'static str,
    },
    /// Renewal is due but the session has neither a refresh token nor credentials to
    /// log in with: a person or the embedding program must supply new ones.
    #[error("no credentials configured to log in with")]
    NoCredentials,
    /// A snapshot handed to [`restore`](crate::AnySession::restore) contradicts itself
    /// (ids, counters or moments out of range or out of order): it was corrupted or
    /// edited, and restoring it could reuse a request id or hand a token out for years.
    #[error("inconsistent snapshot: {reason}")]
    InconsistentSnapshot {
        /// What is inconsistent.
        reason: &'static str,
    },
    /// A provider was given a setting it does not take ([`Provider`](crate::dialect::Provider)).
    #[error("provider {provider} has no setting `{setting}`")]
    UnknownSetting {
        /// The provider.
        provider: &'static str,
        /// The key given (at most 64 characters of it).
        setting: String,
    },
    /// A setting the provider needs was not given.
    #[error("missing setting `{setting}`")]
    MissingSetting {
        /// The setting's key.
        setting: &'static str,
    },
    /// A setting that is a choice was given another value.
    #[error("setting `{setting}` takes one of: {}", choices.join(", "))]
    NotAChoice {
        /// The setting's key.
        setting: &'static str,
        /// The values it takes.
        choices: &'static [&'static str],
    },
    /// A setting was given that only another setting's value makes used.
    #[error("setting `{setting}` is used only when `{key}` is `{value}`")]
    UnusedSetting {
        /// The setting given.
        setting: &'static str,
        /// The setting it depends on.
        key: &'static str,
        /// The value of that setting that uses it.
        value: &'static str,
    },
    /// A configured value is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidSetting {
        /// The setting's name.
        setting: &'static str,
        /// Why it was refused.
        reason: &'static str,
    },
}

/// A call the caller should not have made. The session is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// A response or transport error for a request id the session never emitted, or one
    /// that is no longer in flight (answered already, superseded, or from before a revoke).
    #[error("request {id} is not in flight")]
    UnknownRequest {
        /// The id the caller gave.
        id: RequestId,
    },
    /// The session is revoked (or revoking): it will never log in or hand out a token
    /// again. Start a new session.
    #[error("the session is revoked")]
    Revoked,
    /// The operation is not possible in the session's current state.
    #[error("cannot {operation} while {state}")]
    WrongState {
        /// What was attempted.
        operation: &'static str,
        /// The state's name.
        state: &'static str,
    },
    /// A login was asked for, but the dialect has no credentials to log in with.
    #[error("no credentials configured to log in with")]
    NoCredentials,
    /// A person's login was asked for, but the dialect is not configured for that one
    /// (no device authorization endpoint, no authorization endpoint).
    #[error("the dialect is not configured for {login}")]
    PersonLoginUnsupported {
        /// Which login: `the device grant`, `the authorization code grant`.
        login: &'static str,
    },
    /// The request could not carry its assertion, and was not sent: `reason` says why
    /// ([`AssertionError`](crate::dialect::assertion::AssertionError)). An automatic
    /// attempt counts as a failure that never left ([`FailureKind::Assertion`]): the
    /// session backs off before the next.
    #[error("the {purpose} was not sent: {reason}")]
    NoAssertion {
        /// What was attempted.
        purpose: Purpose,
        /// Which kind of failure.
        kind: AssertionFailure,
        /// Why no assertion could be had, in the source's words; nothing secret.
        reason: String,
    },
    /// The session must wait for its backoff before sending another request.
    #[error("the next {purpose} may not be sent before {}", Rfc3339(*.retry_at))]
    TooEarly {
        /// What the caller tried to start.
        purpose: Purpose,
        /// When it becomes allowed.
        retry_at: UtcDateTime,
    },
}

/// What made a response unintelligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Malformed {
    /// The body is not the JSON object the dialect expects.
    #[error("body is not the expected JSON")]
    NotJson,
    /// No `access_token`, or an empty one.
    #[error("no access token")]
    MissingAccessToken,
    /// A `token_type` other than Bearer.
    #[error("unsupported token type")]
    UnsupportedTokenType,
    /// An expiry that is not a number, a numeric string or a timestamp as the dialect expects.
    #[error("unreadable expiry")]
    UnreadableExpiry,
    /// A lifetime of zero or less: the token is expired on arrival.
    #[error("lifetime out of range")]
    LifetimeOutOfRange,
    /// An access token outside RFC 6750 `b64token` syntax (spaces, commas, quotes, control
    /// characters, non-ASCII): it cannot travel in an `Authorization` header unchanged.
    #[error("access token unusable in an authorization header")]
    InvalidAccessToken,
    /// A device authorization response (RFC 8628 §3.2) without a usable `device_code`,
    /// `user_code` or `verification_uri`, or with an `expires_in` or `interval` that is
    /// not a non-negative number.
    #[error("unusable device authorization response")]
    InvalidDeviceAuthorization,
}

/// Serde for an optional status code as its number.
mod status_code {
    use http::StatusCode;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        status: &Option<StatusCode>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match status {
            Some(status) => serializer.serialize_some(&status.as_u16()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<StatusCode>, D::Error> {
        match Option::<u16>::deserialize(deserializer)? {
            Some(code) => StatusCode::from_u16(code)
                .map(Some)
                .map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
