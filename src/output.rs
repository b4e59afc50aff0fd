//! What the session tells the caller: events, outputs of the drain loop, its status, and
//! its answer to a reported 401.

use std::fmt;

use time::UtcDateTime;

use crate::bearer::{BearerToken, Generation, Withdrawal};
use crate::error::{Error, Failure};
use crate::prompt::LoginPrompt;
use crate::request::{Purpose, TokenKind, TokenRequest};

/// Something that happened, for the caller to log, count or act on.
///
/// Four events carry everything a read side needs, so an adapter publishes the token
/// from events alone: [`TokenIssued`](Event::TokenIssued) and
/// [`TokenRestored`](Event::TokenRestored) (publish it),
/// [`TokenExtended`](Event::TokenExtended) (move its `valid_until`) and
/// [`TokenWithdrawn`](Event::TokenWithdrawn) (stop handing it out).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A new access token may be handed out, until `valid_until`. It replaces any earlier
    /// one.
    TokenIssued {
        /// The token, shared: clone it into your read side (a reference-count increment).
        token: BearerToken,
        /// Which token this is.
        generation: Generation,
        /// The last moment it may be handed out (its hard expiry).
        valid_until: UtcDateTime,
        /// When the server says it expires (local clock).
        expires_at: UtcDateTime,
        /// How it was obtained: [`Purpose::Login`] or [`Purpose::Refresh`].
        via: Purpose,
        /// Whether it replaces a token the session held (a renewal), rather than
        /// starting from none.
        renewal: bool,
    },
    /// A session restored from a snapshot holds this token, which may be handed out until
    /// `valid_until`: publish it as if it had just been issued.
    TokenRestored {
        /// The token, shared.
        token: BearerToken,
        /// Which token this is.
        generation: Generation,
        /// The last moment it may be handed out (its hard expiry).
        valid_until: UtcDateTime,
        /// When the server says it expires (local clock).
        expires_at: UtcDateTime,
    },
    /// A successful call slid the token's expiry forward (sliding-expiry dialects).
    TokenExtended {
        /// Which token.
        generation: Generation,
        /// The new last moment it may be handed out.
        valid_until: UtcDateTime,
        /// The new expiry (local clock).
        expires_at: UtcDateTime,
    },
    /// The token stops being handed out before a replacement arrived.
    TokenWithdrawn {
        /// Which token.
        generation: Generation,
        /// Why.
        reason: Withdrawal,
    },
    /// The refresh moment came, or a resource server rejected the token: renewal starts.
    RenewalDue {
        /// Whether a resource server answered 401.
        unauthorized: bool,
    },
    /// The refresh token is dead; the session logs in again with its configured credentials.
    Reauthenticating {
        /// Why the grant is dead.
        cause: Failure,
    },
    /// The refresh token of token `generation` was reported as possibly spent elsewhere
    /// ([`Driver::handle_refresh_token_spent_elsewhere`](crate::Driver::handle_refresh_token_spent_elsewhere)):
    /// it was dropped unsent and is never presented again. The access token is still
    /// served until its hard expiry; renewal logs in, or, without credentials, the
    /// session needs a new login ([`ReauthenticationRequired`](Event::ReauthenticationRequired)
    /// follows).
    RefreshTokenSpentElsewhere {
        /// The token set whose refresh token was dropped.
        generation: Generation,
    },
    /// The session cannot renew by itself: a person or the embedding program must supply
    /// new credentials. A still-valid access token is served until its hard expiry.
    ReauthenticationRequired {
        /// Why: [`Error::Reauthenticate`] or [`ConfigError::NoCredentials`](crate::ConfigError::NoCredentials).
        error: Error,
    },
    /// The endpoint rejected the client's configuration (`invalid_client`, …): the
    /// session stops trying until [`Driver::login`](crate::Driver::login) is called.
    Rejected {
        /// The [`Error::Rejected`] verdict.
        error: Error,
    },
    /// The token endpoint rejected a login or renewal for its credentials or the client's
    /// configuration (`invalid_client`, `invalid_grant` on a login, a bare 400 or 401).
    /// That usually needs a person, but a server that is restarting rejects too, so the
    /// session tries again by itself at `retry_at`, slowly
    /// ([`Policy::rejected_login_retry`](crate::Policy::rejected_login_retry)). Alert on
    /// it: when the attempts run out, [`Rejected`](Event::Rejected) or
    /// [`ReauthenticationRequired`](Event::ReauthenticationRequired) follows. An explicit
    /// [`Driver::login`](crate::Driver::login) tries at once.
    RejectedRetryScheduled {
        /// What was rejected: a login, or a refresh (`invalid_client`).
        purpose: Purpose,
        /// The rejection: [`Error::Rejected`] or [`Error::Reauthenticate`].
        error: Error,
        /// When the session tries again.
        retry_at: UtcDateTime,
        /// How many automatic attempts remain after that one; `None` when not limited.
        attempts_left: Option<u32>,
    },
    /// A token-endpoint exchange failed; the session tries again later.
    RetryScheduled {
        /// What failed.
        purpose: Purpose,
        /// When and why.
        error: Error,
    },
    /// A revocation request failed; the token is forgotten locally all the same.
    RevocationFailed {
        /// Which token.
        kind: TokenKind,
        /// What went wrong.
        error: Error,
    },
    /// The session is revoked. Terminal.
    Revoked,
    /// A person's login started: show the person the prompt (the device grant's code and
    /// address, or open the authorization URL in their browser). The session waits for
    /// them until [`LoginPrompt::expires_at`].
    LoginPrompt(LoginPrompt),
    /// A person's login ended without a token ([`Error::PersonLogin`] says why): the
    /// session waits for a new one, which only the application starts.
    PersonLoginEnded {
        /// Why it ended.
        error: Error,
    },
    /// A response's `Date` header put the server's clock further from the caller's than
    /// [`Policy::max_clock_offset`](crate::Policy::max_clock_offset) allows: it was
    /// ignored, and absolute expiries were read in the caller's clock. A clock that far
    /// off on either side deserves an operator's look.
    ServerDateIgnored {
        /// The server's clock minus the caller's, as the header claimed.
        offset: time::Duration,
    },
}

/// What the session tells the caller besides the requests it emits: an event, or a
/// request to persist. The typestate API hands these out with
/// [`Session::poll_notice`](crate::Session::poll_notice); [`Driver::poll_output`](crate::Driver::poll_output)
/// interleaves them with requests and deadlines.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// Something happened.
    Event(Event),
    /// Save a snapshot now (see [`Output::Persist`]).
    Persist,
}

/// What the session wants next, from [`Driver::poll_output`](crate::Driver::poll_output).
///
/// Exhaustive: an adapter matches every arm, and a new kind of output is a breaking change.
#[derive(Debug)]
#[must_use = "outputs must be acted on: send requests, handle events, persist, wait for timeouts"]
pub enum Output {
    /// Send this request and hand back its response (whatever its status) or its
    /// transport error.
    Request(TokenRequest),
    /// Something happened.
    Event(Event),
    /// Save a snapshot now (`driver.session().snapshot_with_secrets()`), before acting on
    /// any output after this one. It comes after every change of the token, and before
    /// every request that spends a single-use refresh token: a process that crashes after
    /// sending such a request restarts from a snapshot that knows the token is spent, and
    /// never sends it again.
    Persist,
    /// Nothing to do until this moment (or until an input arrives): then call
    /// [`Driver::handle_timeout`](crate::Driver::handle_timeout).
    Timeout(UtcDateTime),
    /// Nothing will happen until the caller acts (a terminal state, or credentials are needed).
    Idle,
}

impl From<Notice> for Output {
    fn from(notice: Notice) -> Self {
        match notice {
            Notice::Event(event) => Output::Event(event),
            Notice::Persist => Output::Persist,
        }
    }
}

/// Where a session stands, for an adapter deciding whether callers should wait for a
/// token or fail at once.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Status {
    /// A token may be handed out and no renewal is under way.
    Ready,
    /// A login or renewal is due or in flight. A still-valid token may be handed out
    /// meanwhile.
    Renewing,
    /// The next login or renewal waits until `retry_at`, for the `reason` given. A
    /// still-valid token may be handed out meanwhile.
    Waiting {
        /// When the session tries again.
        retry_at: UtcDateTime,
        /// Why it waits.
        reason: WaitReason,
    },
    /// The session cannot obtain a token by itself: new credentials, or an explicit
    /// [`Driver::login`](crate::Driver::login), are needed. A still-valid token may be
    /// handed out until its hard expiry.
    NeedsLogin {
        /// Why.
        error: Error,
    },
    /// The session is revoked or being revoked: it will never hand out a token again.
    Revoked,
    /// A person's login is under way: the session waits for the person to act on
    /// `prompt` (and polls the token endpoint, for the device grant).
    AwaitingPerson {
        /// What the person must do.
        prompt: LoginPrompt,
    },
}

/// Why a session waits before its next login or renewal ([`Status::Waiting`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// A temporary failure (a transport error, a timeout, a 5xx): the session backs off,
    /// longer after each consecutive one.
    Backoff,
    /// The endpoint asked the client to slow down (429, `Retry-After`, `slow_down`).
    Throttled,
    /// The provider's or the policy's token-request budget is spent.
    RequestBudget,
    /// A resource server rejected a young token: the renewal it causes is spaced
    /// ([`Policy::unauthorized_renewal_spacing`](crate::Policy::unauthorized_renewal_spacing)),
    /// so a server that rejects every token cannot cause a token-endpoint storm.
    UnauthorizedSpacing,
    /// The token expired before the policy's
    /// [`min_renewal_interval`](crate::Policy::min_renewal_interval) let it be renewed:
    /// a server issuing tokens that short is renewed at most that often.
    MinRenewalInterval,
    /// The token endpoint rejected the credentials or the client's configuration. That
    /// usually needs a person, but a restarting server rejects too: the session tries
    /// again by itself, slowly ([`Policy::rejected_login_retry`](crate::Policy::rejected_login_retry)).
    /// [`Event::RejectedRetryScheduled`] announced it; alert on that.
    Rejected {
        /// How many automatic attempts remain after the one at `retry_at`; `None` when
        /// they are not limited.
        attempts_left: Option<u32>,
    },
}

impl WaitReason {
    /// Whether the wait was asked for by the endpoint or a request budget, rather than
    /// chosen by the session after a failure or a report.
    pub fn is_throttled(self) -> bool {
        matches!(self, WaitReason::Throttled | WaitReason::RequestBudget)
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitReason::Backoff => f.write_str("backing off after a temporary failure"),
            WaitReason::Throttled => f.write_str("the token endpoint asked to slow down"),
            WaitReason::RequestBudget => f.write_str("the token-request budget is spent"),
            WaitReason::UnauthorizedSpacing => {
                f.write_str("spacing the renewals that rejected tokens cause")
            }
            WaitReason::MinRenewalInterval => {
                f.write_str("the token expired before the shortest renewal interval")
            }
            WaitReason::Rejected {
                attempts_left: Some(left),
            } => write!(
                f,
                "the token endpoint rejected the credentials; {left} more automatic attempts after the next"
            ),
            WaitReason::Rejected {
                attempts_left: None,
            } => f.write_str("the token endpoint rejected the credentials; retrying slowly"),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Ready => f.write_str("ready"),
            Status::Renewing => f.write_str("renewing"),
            Status::Waiting { retry_at, reason } => {
                write!(
                    f,
                    "waiting until {}: {reason}",
                    crate::timestamp::Rfc3339(*retry_at)
                )
            }
            Status::NeedsLogin { error } => write!(f, "needs a login: {error}"),
            Status::Revoked => f.write_str("revoked"),
            Status::AwaitingPerson { prompt } => match prompt {
                LoginPrompt::EnterCode(prompt) => write!(
                    f,
                    "awaiting a person: enter code {} at {}",
                    prompt.user_code, prompt.verification_uri
                ),
                LoginPrompt::OpenBrowser(_) => {
                    f.write_str("awaiting a person: logging in in a browser")
                }
            },
        }
    }
}

/// The session's answer to a reported 401 ([`Driver::handle_unauthorized`](crate::Driver::handle_unauthorized)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "tells whether the report changed anything"]
pub enum Unauthorized {
    /// The report was about the current token: it is withdrawn and a renewal is due (or
    /// already under way).
    Withdrawn,
    /// The current token was already withdrawn: nothing changed.
    AlreadyWithdrawn,
    /// The report was about a token that is no longer current: nothing changed. Retry the
    /// call with the current token.
    Stale,
}
