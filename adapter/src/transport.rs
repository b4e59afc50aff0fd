//! The glue every HTTP client shares: the clock, timeouts from the core's deadlines, the
//! default transport policy, and a response body read no further than the policy's cap.
//!
//! The default transport of every runtime follows one policy: a connect timeout
//! ([`connect_timeout`]) shorter than the request's deadline, so that a server that never
//! accepts the connection is known not to have received the request
//! ([`TransportError::NotSent`](oauth_lifecycle::TransportError::NotSent)) and a
//! single-use refresh token that never left is kept; no redirects (a 3xx is an answer for
//! the core, and a form body holding credentials is never re-sent elsewhere); no idle
//! connection kept (token requests come minutes apart, and a pooled connection the server
//! closed turns a refresh into one whose outcome is unknown); and a body read no further
//! than one byte past the policy's cap ([`CappedBody`]).

use std::time::Duration;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Policy, TokenRequest};

/// The system clock, as the core's inputs want it. Adapters read the clock; the core
/// never does.
pub fn now() -> UtcDateTime {
    UtcDateTime::now()
}

/// How long from `now` until `deadline`; zero once it has passed.
pub fn until(deadline: UtcDateTime, now: UtcDateTime) -> Duration {
    Duration::try_from(deadline - now).unwrap_or(Duration::ZERO)
}

/// The timeout to give a client for `request`: no later than the core's own deadline for
/// it, and at least a millisecond (a zero timeout means "none" to some clients).
pub fn timeout(request: &TokenRequest, now: UtcDateTime) -> Duration {
    until(request.deadline(), now).max(Duration::from_millis(1))
}

/// The longest a default transport waits for a connection (TLS handshake included).
pub const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The connect timeout of a default transport under `policy`: a third of the response
/// timeout, at most [`MAX_CONNECT_TIMEOUT`] and at least 100 ms. Always shorter than the
/// deadline of the request, so that a connection never accepted ends as `NotSent`
/// before the request's own timeout would call its outcome unknown.
pub fn connect_timeout(policy: &Policy) -> Duration {
    let third = Duration::try_from(policy.response_timeout / 3).unwrap_or(Duration::ZERO);
    third.clamp(Duration::from_millis(100), MAX_CONNECT_TIMEOUT)
}

/// A response body read in chunks, kept up to one byte past the cap: the core refuses a
/// body longer than its cap, and needs no more bytes to know.
#[derive(Debug)]
pub struct CappedBody {
    bytes: Vec<u8>,
    limit: usize,
}

impl CappedBody {
    /// A body for a policy whose cap is `max_body_bytes`.
    pub fn new(max_body_bytes: usize) -> Self {
        CappedBody {
            bytes: Vec::new(),
            limit: max_body_bytes.saturating_add(1),
        }
    }

    /// How many more bytes are worth reading.
    pub fn remaining(&self) -> usize {
        self.limit - self.bytes.len()
    }

    /// Adds a chunk; returns whether reading should go on.
    pub fn push(&mut self, chunk: &[u8]) -> bool {
        let take = chunk.len().min(self.remaining());
        self.bytes.extend_from_slice(&chunk[..take]);
        self.remaining() > 0
    }

    /// The body read.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_stops_one_byte_past_the_cap() {
        let mut body = CappedBody::new(4);
        assert!(body.push(b"ab"));
        assert!(!body.push(b"cdefgh"));
        assert_eq!(body.into_bytes(), b"abcde");
    }

    #[test]
    fn the_connect_timeout_is_shorter_than_the_response_timeout() {
        for (response_timeout, expected) in [
            (
                oauth_lifecycle::time::Duration::seconds(30),
                Duration::from_secs(10),
            ),
            (
                oauth_lifecycle::time::Duration::seconds(300),
                Duration::from_secs(10),
            ),
            (
                oauth_lifecycle::time::Duration::seconds(3),
                Duration::from_secs(1),
            ),
            (
                oauth_lifecycle::time::Duration::seconds(1),
                Duration::from_millis(333),
            ),
        ] {
            let mut policy = Policy::default();
            policy.response_timeout = response_timeout;
            let timeout = connect_timeout(&policy);
            assert_eq!(
                timeout.as_millis(),
                expected.as_millis(),
                "{response_timeout}"
            );
            assert!(timeout < Duration::try_from(response_timeout).unwrap());
        }
    }

    #[test]
    fn deadlines_in_the_past_give_no_time() {
        let now = UtcDateTime::UNIX_EPOCH;
        assert_eq!(
            until(now - oauth_lifecycle::time::Duration::SECOND, now),
            Duration::ZERO
        );
        assert_eq!(
            until(now + oauth_lifecycle::time::Duration::SECOND, now),
            Duration::from_secs(1)
        );
    }
}
