//! Requests to the token and revocation endpoints: what the session asks the caller's
//! transport to send, and what the transport reports back when it could not.
//!
//! Imports no other module of the crate: everything else builds on it.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::UtcDateTime;

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
/// `handle_transport_error`. Hand back **every** response, whatever its status: a 400 or
/// a 503 is evidence the session needs (an HTTP client that turns 4xx and 5xx into errors
/// must be told not to). `Debug` shows the method and URI only: headers and body
/// carry credentials.
#[must_use = "a token request does nothing until the caller's transport sends it"]
pub struct TokenRequest {
    pub(crate) id: RequestId,
    pub(crate) purpose: Purpose,
    pub(crate) resend_safe: bool,
    pub(crate) deadline: UtcDateTime,
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
    /// the whole grant. `false` too for a request that carries an assertion (RFC 7523): a
    /// second copy would present its `jti` twice, which servers refuse; the session sends
    /// a new request with a new assertion instead.
    pub fn is_resend_safe(&self) -> bool {
        self.resend_safe
    }

    /// When the session stops waiting for the answer and counts the request as lost
    /// ([`Policy::response_timeout`](crate::Policy::response_timeout) after it was emitted).
    ///
    /// Set the transport's timeout from it (`deadline - now`), so the transport gives up
    /// no later than the session does.
    pub fn deadline(&self) -> UtcDateTime {
        self.deadline
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
            .field("deadline", &self.deadline)
            .field("method", self.request.method())
            .field("uri", self.request.uri())
            .field(
                "body",
                &format_args!("[{} bytes redacted]", self.request.body().len()),
            )
            .finish()
    }
}

/// How a request failed in the caller's transport: whether it may have reached the server.
///
/// The difference matters for a single-use refresh token: one that never left can be
/// sent again; one that may have reached the server is spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportError {
    /// The request never left: the connection was refused, the name did not resolve, the
    /// TLS handshake failed, or the transport gave up before writing the request.
    NotSent,
    /// The request may have reached the server: the connection broke or timed out after
    /// the request was (partly) written, or the response could not be read. Also the
    /// right report for a request that was in flight when the process restarted.
    OutcomeUnknown,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportError::NotSent => "the request was not sent",
            TransportError::OutcomeUnknown => "the request's outcome is unknown",
        })
    }
}

impl std::error::Error for TransportError {}
