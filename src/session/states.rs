//! The states' data, as types. Each one's doc says what the caller must do next; which
//! states there are, and the [`State`](super::State) trait, are declared in `table.rs`.

use serde::{Deserialize, Serialize};
use time::{Duration, UtcDateTime};
use zeroize::Zeroize;

use crate::dialect::authorization::AuthorizationRequest;
use crate::dialect::Secrets;
use crate::error::{ConfigError, Error, Failure, Misuse, PersonLoginEnd};
use crate::prompt::DevicePrompt;
use crate::request::{Purpose, RequestId, TokenKind};
use crate::token::TokenSet;

/// No token. Next: [`login`](crate::Session::login), after [`retry_at`](crate::Session::retry_at)
/// if a login failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Unauthenticated {
    pub(crate) backoff: Backoff,
    pub(crate) halt: Option<Box<Halt>>,
}

/// A login request is in flight. Next: hand back its response or its transport error.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggingIn {
    pub(crate) flight: Flight,
    pub(crate) failures: u32,
    pub(crate) rejections: u32,
}

/// The device authorization request (RFC 8628 §3.1) is in flight. Next: hand back its
/// response or its transport error.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizingDevice {
    pub(crate) flight: Flight,
}

/// A person is asked to approve the login on another device
/// ([`Event::LoginPrompt`](crate::Event::LoginPrompt) showed them the code); the session
/// polls the token endpoint with the device code at the server's interval. Next: show the
/// session the time, and hand back each poll's response.
#[derive(Clone, PartialEq)]
pub struct AwaitingApproval {
    /// The device code: a secret, wiped when the state is left.
    pub(crate) device_code: DeviceCode,
    /// Boxed, as the other large parts of a state are: a session moves by value.
    pub(crate) prompt: Box<DevicePrompt>,
    /// The server's interval, bounded, plus 5 s for each `slow_down`.
    pub(crate) interval: Duration,
    /// When the next poll is due.
    pub(crate) poll_at: UtcDateTime,
    /// The last poll sent (at first, the device authorization request, answered).
    pub(crate) poll: Flight,
    /// Whether `poll` awaits its answer.
    pub(crate) awaiting_poll: bool,
    /// Consecutive polls that failed temporarily (5xx, transport): each waits the interval
    /// or the backoff, whichever is longer.
    pub(crate) failures: u32,
}

impl std::fmt::Debug for AwaitingApproval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitingApproval")
            .field("prompt", &self.prompt)
            .field("interval", &self.interval)
            .field("poll_at", &self.poll_at)
            .field("poll", &self.poll)
            .field("awaiting_poll", &self.awaiting_poll)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// A device code: wiped when dropped, never shown.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct DeviceCode(pub(crate) String);

impl Drop for DeviceCode {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// A person logs in in a browser ([`Event::LoginPrompt`](crate::Event::LoginPrompt) gave
/// the URL to open); the session waits for the redirect, until the policy's
/// [`person_login_timeout`](crate::Policy::person_login_timeout). Next: hand back the
/// redirect ([`Session::on_redirect`](crate::Session::on_redirect)).
#[derive(Debug, Clone, PartialEq)]
pub struct AwaitingRedirect {
    pub(crate) request: Box<AuthorizationRequest>,
    pub(crate) expires_at: UtcDateTime,
}

/// The code exchange (RFC 6749 §4.1.3) is in flight. The code is single-use: whatever
/// happens to this request, it is never sent again. Next: hand back its response or its
/// transport error.
#[derive(Debug, Clone)]
pub struct ExchangingCode {
    pub(crate) flight: Flight,
    /// The code and the PKCE verifier the exchange carries, in every form a server may
    /// echo them in: scrubbed from its error. Not kept in a snapshot (a restored exchange
    /// is lost, its answer never read).
    pub(crate) sent: Box<Secrets>,
}

/// A valid token, renewal not yet due. Next: hand out the token; report 401s, successful
/// calls and the passage of time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Active {
    pub(crate) _private: (),
}

/// Renewal is due (the refresh moment came, or a resource server answered 401); the token
/// is served until its hard expiry unless it was rejected. Next:
/// [`refresh`](crate::Session::refresh), after `retry_at` if a renewal failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    pub(crate) backoff: Backoff,
    pub(crate) halt: Option<Box<Halt>>,
}

/// A renewal request (a refresh, or a login standing in for one) is in flight; the old
/// token is served meanwhile (stale-while-refresh). Next: hand back its response.
#[derive(Debug, Clone, PartialEq)]
pub struct Refreshing {
    pub(crate) flight: Flight,
    pub(crate) failures: u32,
    pub(crate) rejections: u32,
}

/// Revocation requests are being sent one at a time; no token is handed out any more.
/// When revocation started during a login or refresh, that request is awaited first so
/// whatever it minted is revoked too. Next: hand back each response.
#[derive(Clone, PartialEq)]
pub struct Revoking {
    pub(crate) flight: Flight,
    /// The tokens this revocation has sent so far, the one in flight last: an error
    /// answer may echo any of them, and they are scrubbed from it.
    pub(crate) sent: Vec<String>,
    /// Failed attempts at the last token sent, and, after a temporary failure, when it
    /// is sent again. While `retry_at` is set, `flight` is the failed request, answered.
    pub(crate) retry: Backoff,
}

/// The tokens sent for revocation are wiped when the state is left.
impl Drop for Revoking {
    fn drop(&mut self) {
        for token in &mut self.sent {
            token.zeroize();
        }
    }
}

impl std::fmt::Debug for Revoking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revoking")
            .field("flight", &self.flight)
            .field("sent", &self.sent.len())
            .field("retry", &self.retry)
            .finish()
    }
}

/// Terminal. Nothing brings it back; responses arriving now are refused as unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Revoked {
    pub(crate) _private: (),
}

/// The tokens still to be revoked while [`Revoking`], in the order they will be sent.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PendingRevocation {
    pub(crate) queue: Vec<(TokenKind, String)>,
}

impl PendingRevocation {
    /// The tokens of one token set, to revoke.
    pub(crate) fn of<E>(tokens: TokenSet<E>) -> Self {
        let mut pending = PendingRevocation::default();
        pending.push(tokens);
        pending
    }

    /// Queues a token set's tokens: the refresh token first (RFC 7009 §2.1: servers also
    /// end the access tokens issued with it), then the access token.
    pub(crate) fn push<E>(&mut self, mut tokens: TokenSet<E>) {
        if let Some(refresh_token) = tokens.refresh_token.take() {
            self.queue
                .push((TokenKind::Refresh, refresh_token.into_secret()));
        }
        self.queue
            .push((TokenKind::Access, tokens.bearer.secret().to_owned()));
        // Refresh tokens go first across every queued set.
        self.queue
            .sort_by_key(|(kind, _)| *kind != TokenKind::Refresh);
    }

    /// How many tokens are still to be revoked.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is left to revoke.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

/// The tokens still to be revoked are wiped when dropped.
impl Drop for PendingRevocation {
    fn drop(&mut self) {
        for (_, token) in &mut self.queue {
            token.zeroize();
        }
    }
}

impl std::fmt::Debug for PendingRevocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.queue.iter().map(|(kind, _)| kind))
            .finish()
    }
}

/// One request in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flight {
    pub(crate) id: RequestId,
    pub(crate) purpose: Purpose,
    pub(crate) sent_at: UtcDateTime,
    /// After this, the request counts as lost.
    pub(crate) deadline: UtcDateTime,
    /// Restored from a snapshot: the process that sent the request is gone, and its
    /// answer with it. The request fails as [`TransportError::OutcomeUnknown`] the next
    /// time the session is shown the time. Never serialized: each restore decides again.
    ///
    /// [`TransportError::OutcomeUnknown`]: crate::TransportError::OutcomeUnknown
    #[serde(skip)]
    pub(crate) lost: bool,
}

impl Flight {
    /// When the request counts as lost: its deadline, or at once (whatever the clock
    /// says) for one restored from a snapshot.
    pub(crate) fn due(&self) -> UtcDateTime {
        if self.lost {
            UtcDateTime::MIN
        } else {
            self.deadline
        }
    }

    /// The flight as a snapshot keeps it: whether it is lost is not kept, since each
    /// restore decides again.
    pub(crate) fn stored(self) -> Flight {
        Flight {
            lost: false,
            ..self
        }
    }

    pub(super) fn check(&self, id: RequestId) -> Result<(), Misuse> {
        if id == self.id {
            Ok(())
        } else {
            Err(Misuse::UnknownRequest { id })
        }
    }
}

/// Consecutive failures and when the next attempt is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Backoff {
    pub(crate) failures: u32,
    pub(crate) retry_at: Option<UtcDateTime>,
    /// Why the session waits until `retry_at`.
    #[serde(default)]
    pub(crate) cause: WaitCause,
    /// Consecutive rejections of the credentials or the client (`invalid_client`, …),
    /// counted apart from `failures`: they are retried at their own slow pace, a bounded
    /// number of times.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) rejections: u32,
}

/// Why a [`Backoff`] waits. The request budget is not one: it is read from the budget
/// logs when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum WaitCause {
    /// A temporary failure.
    #[default]
    Failure,
    /// The endpoint asked for it (429, `Retry-After`, `slow_down`).
    Throttled,
    /// A renewal caused by a reported 401, spaced.
    UnauthorizedSpacing,
    /// A token that expired before the policy's `min_renewal_interval` let it be renewed.
    MinRenewalInterval,
    /// The endpoint rejected the credentials or the client: retried slowly. An explicit
    /// login or renewal does not wait for it.
    Rejected,
}

impl WaitCause {
    /// The wait a temporary verdict imposes.
    pub(super) fn of(error: &Error) -> Self {
        match error {
            Error::Throttled { .. } => WaitCause::Throttled,
            _ => WaitCause::Failure,
        }
    }
}

impl Backoff {
    /// A wait of `cause` until `retry_at` (if any), after `failures` consecutive failures
    /// and `rejections` consecutive rejections.
    pub(crate) fn new(
        failures: u32,
        rejections: u32,
        retry_at: Option<UtcDateTime>,
        cause: WaitCause,
    ) -> Self {
        Backoff {
            failures,
            retry_at,
            cause,
            rejections,
        }
    }

    /// Refuses an explicit request before `retry_at`, unless the wait is the slow retry of
    /// a rejection: a person or program asking again is what that wait stands in for.
    pub(super) fn check(&self, purpose: Purpose, now: UtcDateTime) -> Result<(), Misuse> {
        match self.retry_at {
            Some(retry_at) if now < retry_at && self.cause != WaitCause::Rejected => {
                Err(Misuse::TooEarly { purpose, retry_at })
            }
            _ => Ok(()),
        }
    }
}

fn is_zero(count: &u32) -> bool {
    *count == 0
}

/// Why a session stopped trying by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Halt {
    /// The grant is dead and no credentials can replace it.
    Reauthenticate(Failure),
    /// The endpoint rejected the client's configuration.
    Rejected(Failure),
    /// Renewal is due but there is neither a refresh token nor credentials to log in with.
    NoCredentials,
    /// A person's login ended without a token: only the application starts another.
    PersonLogin {
        ended: PersonLoginEnd,
        failure: Option<Failure>,
    },
}

impl Halt {
    pub(crate) fn from_error(error: &Error) -> Option<Box<Halt>> {
        match error {
            Error::Reauthenticate { failure } => {
                Some(Box::new(Halt::Reauthenticate(failure.clone())))
            }
            Error::Rejected { failure } => Some(Box::new(Halt::Rejected(failure.clone()))),
            Error::PersonLogin {
                ended: Some(ended),
                failure,
            } => Some(Box::new(Halt::PersonLogin {
                ended: *ended,
                failure: failure.clone(),
            })),
            _ => None,
        }
    }

    pub(crate) fn to_error(&self) -> Error {
        match self {
            Halt::Reauthenticate(failure) => Error::Reauthenticate {
                failure: failure.clone(),
            },
            Halt::Rejected(failure) => Error::Rejected {
                failure: failure.clone(),
            },
            Halt::NoCredentials => Error::Config(ConfigError::NoCredentials),
            Halt::PersonLogin { ended, failure } => Error::PersonLogin {
                ended: Some(*ended),
                failure: failure.clone(),
            },
        }
    }
}
