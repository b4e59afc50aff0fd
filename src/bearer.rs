//! The access token as it is handed out: the secret with its ready-made `Authorization`
//! header, the generation that names it, and why it stopped being handed out.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use oauth2::AccessToken;
use serde::{Deserialize, Serialize};
use time::UtcDateTime;

use crate::error::Malformed;
use crate::wipe::{shared_sensitive_header_value, WipedString};

/// Which of a session's access tokens this is: the first token a session obtains is
/// generation 1, and each new one (a refresh, a new login) is one more. Kept across
/// [snapshot and restore](crate::AnySession::snapshot_with_secrets).
///
/// A resource server's 401 is reported with the generation of the token it rejected
/// ([`Driver::handle_unauthorized`](crate::Driver::handle_unauthorized)): a late report
/// about a token that was already replaced changes nothing.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Generation(pub(crate) u64);

impl Generation {
    /// The generation numbered `n`, for one that travelled as a number (through an
    /// atomic, a store, a log). Only the session decides which generation is current: a
    /// made-up one is simply stale.
    pub const fn new(n: u64) -> Self {
        Generation(n)
    }

    /// The generation as a number (0 before the first token).
    pub fn get(self) -> u64 {
        self.0
    }

    /// The generation after this one.
    pub(crate) fn next(self) -> Generation {
        Generation(self.0.saturating_add(1))
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "generation {}", self.0)
    }
}

/// An access token ready to put on requests: the secret and its
/// `Authorization: Bearer …` header value, built once and shared.
///
/// Cloning is a reference-count increment: publishing one token to many readers copies
/// its bytes once, when the session obtains it. The token is held once: the header value
/// and [`secret`](BearerToken::secret) are views of the same bytes, wiped when the last
/// of them is dropped. The header value is marked
/// [sensitive](HeaderValue::set_sensitive), so HTTP/2 encoders never index it and
/// well-behaved loggers hide it. `Debug` never shows the secret.
#[derive(Clone)]
pub struct BearerToken(Arc<BearerInner>);

struct BearerInner {
    /// `Bearer <token>`, the one copy of the secret; the header value's bytes are this
    /// string's.
    text: Arc<WipedString>,
    header_value: HeaderValue,
}

/// What precedes the token in the `Authorization` header.
const PREFIX: &str = "Bearer ";

/// Whether `token` is an RFC 6750 §2.1 `b64token`:
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. Nothing else can
/// travel after `Bearer ` without changing the header's meaning (a space or a comma
/// would start another parameter or credential).
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    // Branch-free over every byte, so the compiler checks many at once: a JWT is long.
    let valid = |b: u8| {
        // '-' '.' '/' and the digits are one run (45..=57).
        (b.wrapping_sub(b'-') <= b'9' - b'-')
            | (b.wrapping_sub(b'A') <= b'Z' - b'A')
            | (b.wrapping_sub(b'a') <= b'z' - b'a')
            | (b == b'_')
            | (b == b'~')
            | (b == b'+')
    };
    !body.is_empty() && body.bytes().fold(true, |all, b| all & valid(b))
}

impl BearerToken {
    /// Wraps `access_token`, refusing one outside RFC 6750 `b64token` syntax (spaces,
    /// commas, quotes, control characters, non-ASCII): it could not travel in an
    /// `Authorization` header unchanged.
    ///
    /// The token's own buffer becomes the header's when it has room for the `Bearer `
    /// prefix ([`access_token_with_room`](crate::token::access_token_with_room) makes one
    /// that has); otherwise the token is
    /// copied once and its buffer wiped.
    pub fn new(access_token: AccessToken) -> Result<Self, Malformed> {
        let mut token = WipedString(access_token.into_secret());
        if token.0.is_empty() {
            return Err(Malformed::MissingAccessToken);
        }
        if !is_b64token(&token.0) {
            return Err(Malformed::InvalidAccessToken);
        }
        let text = if token.0.capacity() - token.0.len() >= PREFIX.len() {
            // In place: the bytes move within the buffer, which is never reallocated.
            token.0.insert_str(0, PREFIX);
            token
        } else {
            let mut text = String::with_capacity(PREFIX.len() + token.0.len());
            text.push_str(PREFIX);
            text.push_str(&token.0);
            WipedString(text)
        };
        let text = Arc::new(text);
        let header_value =
            shared_sensitive_header_value(&text).ok_or(Malformed::InvalidAccessToken)?;
        Ok(BearerToken(Arc::new(BearerInner { text, header_value })))
    }

    /// A stand-in holding `[redacted]`, for pictures of a session that must not hold the
    /// real token.
    pub(crate) fn redacted() -> Self {
        let mut header_value = HeaderValue::from_static("Bearer [redacted]");
        header_value.set_sensitive(true);
        BearerToken(Arc::new(BearerInner {
            text: Arc::new(WipedString("Bearer [redacted]".to_owned())),
            header_value,
        }))
    }

    /// The token itself.
    pub fn secret(&self) -> &str {
        &self.0.text.0[PREFIX.len()..]
    }

    /// `Bearer <token>`, for the `Authorization` header; marked sensitive.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0.header_value
    }

    /// Whether both share one allocation (one was cloned from the other).
    pub fn ptr_eq(&self, other: &BearerToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// `token` as an [`AccessToken`] whose buffer has room for the `Bearer ` prefix, so
/// [`BearerToken::new`] never copies it again: for dialects that read the token from a
/// response.
pub fn access_token_with_room(token: &str) -> AccessToken {
    let mut text = String::with_capacity(PREFIX.len() + token.len());
    text.push_str(token);
    AccessToken::new(text)
}

impl PartialEq for BearerToken {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other) || self.secret() == other.secret()
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken([redacted])")
    }
}

/// The access token a session hands out at a given moment, from
/// [`Driver::access_token`](crate::Driver::access_token): the secret, its generation, and
/// the moment until which it may be handed out. Borrowed: taking it neither allocates nor
/// touches a reference count.
#[derive(Clone, Copy)]
pub struct CurrentToken<'a> {
    pub(crate) bearer: &'a BearerToken,
    pub(crate) generation: Generation,
    // Borrowed, not copied: the hand-out stays three words.
    pub(crate) valid_until: &'a UtcDateTime,
}

impl<'a> CurrentToken<'a> {
    /// The token itself.
    #[inline]
    pub fn secret(&self) -> &'a str {
        self.bearer.secret()
    }

    /// The shared token: clone it to keep it (a reference-count increment).
    #[inline]
    pub fn bearer(&self) -> &'a BearerToken {
        self.bearer
    }

    /// `Bearer <token>`, for the `Authorization` header; marked sensitive.
    #[inline]
    pub fn header_value(&self) -> &'a HeaderValue {
        self.bearer.header_value()
    }

    /// Which token this is; report a 401 with it.
    #[inline]
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The last moment it may be handed out (its hard expiry), unless it is withdrawn
    /// earlier (rejected, revoked) or extended (sliding expiry).
    #[inline]
    pub fn valid_until(&self) -> UtcDateTime {
        *self.valid_until
    }
}

impl fmt::Debug for CurrentToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentToken")
            .field("secret", &"[redacted]")
            .field("generation", &self.generation)
            .field("valid_until", &self.valid_until)
            .finish()
    }
}

/// Why a token stopped being handed out before a new one replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Withdrawal {
    /// Its hard expiry passed without a successful renewal.
    Expired,
    /// A resource server rejected it (reported with its generation).
    Rejected,
    /// The session is being revoked.
    Revoked,
    /// Its refresh grant was dead and a person's login started in its place.
    NewLogin,
}

impl fmt::Display for Withdrawal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Withdrawal::Expired => "expired",
            Withdrawal::Rejected => "rejected by a resource server",
            Withdrawal::Revoked => "revoked",
            Withdrawal::NewLogin => "replaced by a person's login",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_built_once_marked_sensitive_and_shared_by_clones() {
        let token = BearerToken::new(AccessToken::new("abc.def-ghi".into())).unwrap();
        assert_eq!(token.header_value(), "Bearer abc.def-ghi");
        assert!(token.header_value().is_sensitive());
        let clone = token.clone();
        assert!(clone.ptr_eq(&token));
        assert!(std::ptr::eq(clone.secret(), token.secret()));
    }

    #[test]
    fn tokens_that_cannot_be_a_header_are_refused() {
        for bad in ["", "a\nb", "a\rb", "nul\0", "del\u{7f}"] {
            assert!(
                BearerToken::new(AccessToken::new(bad.into())).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = BearerToken::new(AccessToken::new("s3cr3t-token".into())).unwrap();
        let current = CurrentToken {
            bearer: &token,
            generation: Generation(3),
            valid_until: &UtcDateTime::MIN,
        };
        let shown = format!("{token:?} {current:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("generation"));
    }
}
