//! What crosses the session's boundary: request descriptions out, responses and time in,
//! events out.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::UtcDateTime;

use crate::error::{Error, Failure};

/// Identifies one emitted request; its response must be handed back with the same id.
///
/// Ids increase monotonically within a session (and across a snapshot and restore), so a
/// late response to a superseded request is recognised and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub(crate) u64);

impl RequestId {
    /// The id as a number, for logs and correlation.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Which token a revocation request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// The access token.
    Access,
    /// The refresh token.
    Refresh,
}

/// Why a request was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// Obtain a token with the configured credentials (also a re-login).
    Login,
    /// Exchange the refresh token for a new token.
    Refresh,
    /// Revoke one token (RFC 7009).
    Revoke(TokenKind),
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Purpose::Login => "login",
            Purpose::Refresh => "refresh",
            Purpose::Revoke(TokenKind::Access) => "access token revocation",
            Purpose::Revoke(TokenKind::Refresh) => "refresh token revocation",
        })
    }
}

/// A request for the caller's transport to send: an [`http::Request`] plus what the
/// session needs to know about it.
///
/// Send it exactly once, then hand back its response with
/// [`Driver::handle_response`](crate::Driver::handle_response) (or the typestate's
/// `on_response`) under the same [`id`](TokenRequest::id), or report its failure with
/// `handle_transport_error`. `Debug` shows the method and URI only: headers and body
/// carry credentials.
#[must_use = "a token request does nothing until the caller's transport sends it"]
pub struct TokenRequest {
    pub(crate) id: RequestId,
    pub(crate) purpose: Purpose,
    pub(crate) resend_safe: bool,
    pub(crate) request: http::Request<Vec<u8>>,
}

impl TokenRequest {
    /// The id its response must come back with.
    pub fn id(&self) -> RequestId {
        self.id
    }

    /// Why it was emitted.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }

    /// Whether a transport may resend it after a failure whose outcome is unknown.
    ///
    /// `false` for a refresh with a single-use refresh token: if the server received the
    /// first copy, the second one is a reuse, which rotating servers answer by revoking
    /// the whole grant.
    pub fn is_resend_safe(&self) -> bool {
        self.resend_safe
    }

    /// The HTTP request to send.
    pub fn request(&self) -> &http::Request<Vec<u8>> {
        &self.request
    }

    /// Takes the HTTP request out, for transports that consume it.
    pub fn into_request(self) -> http::Request<Vec<u8>> {
        self.request
    }
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("id", &self.id)
            .field("purpose", &self.purpose)
            .field("resend_safe", &self.resend_safe)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field(
                "body",
                &format_args!("[{} bytes redacted]", self.request.body().len()),
            )
            .finish()
    }
}

/// Something that happened, for the caller to log, count or act on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A login succeeded; the session is active.
    LoggedIn {
        /// When the new access token expires (local clock).
        expires_at: UtcDateTime,
    },
    /// The access token was renewed, by a refresh or by a new login standing in for one.
    Renewed {
        /// How it was renewed.
        via: Purpose,
        /// When the new access token expires (local clock).
        expires_at: UtcDateTime,
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
    /// A token-endpoint exchange failed; the session tries again later.
    RetryScheduled {
        /// What failed.
        purpose: Purpose,
        /// When and why.
        error: Error,
    },
    /// The access token passed its hard expiry without a successful renewal.
    Expired,
    /// A revocation request failed; the token is forgotten locally all the same.
    RevocationFailed {
        /// Which token.
        kind: TokenKind,
        /// What went wrong.
        error: Error,
    },
    /// The session is revoked. Terminal.
    Revoked,
}

/// What the session wants next, from [`Driver::poll_output`](crate::Driver::poll_output).
#[derive(Debug)]
#[must_use = "outputs must be acted on: send requests, handle events, wait for timeouts"]
#[non_exhaustive]
pub enum Output {
    /// Send this request and hand back its response.
    Request(TokenRequest),
    /// Something happened.
    Event(Event),
    /// Nothing to do until this moment (or until an input arrives): then call
    /// [`Driver::handle_timeout`](crate::Driver::handle_timeout).
    Timeout(UtcDateTime),
    /// Nothing will happen until the caller acts (a terminal state, or credentials are needed).
    Idle,
}
