//! The glue every HTTP client shares: the clock, timeouts from the core's deadlines, and
//! a response body read no further than the policy's cap.

use std::time::Duration;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::TokenRequest;

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
