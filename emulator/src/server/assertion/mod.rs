//! JWT assertions (RFC 7523) as the server checks them: the JWT bearer grant's (§2.1) and
//! a client's (`private_key_jwt`, `client_secret_jwt`, §2.2).
//!
//! Every part of an assertion is bounded before it is used: at most
//! [`MAX_ASSERTION_LEN`] bytes, three base64url parts, a header and a claims set that are
//! JSON objects, strings and arrays of bounded length, times that are whole seconds
//! within the range of dates. Whatever arrives, the verifier answers with a [`Refusal`]
//! whose description is fixed text: it never quotes the assertion.

use std::fmt;

use serde_json::Value;
use time::Duration;

mod replay;
mod serve;
mod verify;

pub(crate) use self::replay::ReplayCache;
pub(crate) use self::verify::{verify, Expectations, Refusal, Verified};

/// The most bytes of an assertion the server reads.
pub(crate) const MAX_ASSERTION_LEN: usize = 16 * 1024;
/// The longest `iss` or `sub`.
const MAX_NAME: usize = 1024;
/// The longest `aud` value, and the most values in an `aud` array.
const MAX_AUDIENCE: usize = 2048;
const MAX_AUDIENCES: usize = 16;
/// The longest `jti`.
const MAX_JTI: usize = 256;
/// The longest `alg`, `kid` or `typ`.
const MAX_HEADER_VALUE: usize = 256;
/// The last second a time claim may name: 9999-12-31T23:59:59Z.
const MAX_TIME: i64 = 253_402_300_799;
/// The most assertions remembered at once for replay detection (each until its `exp`).
const MAX_REMEMBERED: usize = 100_000;
/// The shortest HS256 secret accepted (RFC 7518 §3.2: a key as long as the hash).
const MIN_HMAC_SECRET: usize = 32;

/// A key the server verifies assertions with: an issuer's (the JWT bearer grant) or a
/// client's (client authentication).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionKey {
    /// A public key as a JWK (RFC 7517), as `JwtSigner::public_jwk` gives it: `RSA`
    /// (`n`, `e`, 2048 to 8192 bits) for RS256 and PS256, `EC` on `P-256` (`x`, `y`) for
    /// ES256, `OKP` on `Ed25519` (`x`) for EdDSA. Its `alg`, when present, is the only
    /// algorithm accepted; its `kid`, when present, must match the assertion's. A client
    /// with such a key authenticates by `private_key_jwt`.
    Jwk(Value),
    /// A shared secret for HS256, at least 32 bytes. A client with such a key
    /// authenticates by `client_secret_jwt`.
    Hs256(Vec<u8>),
}

impl AssertionKey {
    /// A public key as a JWK.
    pub fn jwk(jwk: Value) -> Self {
        AssertionKey::Jwk(jwk)
    }

    /// An HS256 secret.
    pub fn hs256(secret: impl Into<Vec<u8>>) -> Self {
        AssertionKey::Hs256(secret.into())
    }

    /// The client authentication method it serves, as RFC 8414 metadata names it.
    pub fn method(&self) -> &'static str {
        match self {
            AssertionKey::Jwk(_) => "private_key_jwt",
            AssertionKey::Hs256(_) => "client_secret_jwt",
        }
    }
}

impl fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssertionKey::Jwk(jwk) => f.debug_tuple("Jwk").field(jwk).finish(),
            AssertionKey::Hs256(secret) => f
                .debug_struct("Hs256")
                .field("len", &secret.len())
                .finish_non_exhaustive(),
        }
    }
}

/// How strictly assertions are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssertionRules {
    /// How far the client's clock may be off the server's: `exp` may be this much in the
    /// past, `nbf` and `iat` this much in the future. Default zero: in tests the client
    /// and the emulator read one clock, so an assertion formed for another moment is a
    /// bug to see, not skew to forgive. Negative values count as zero.
    pub leeway: Duration,
    /// The longest an assertion may be valid, `exp` minus `iat` (or minus `nbf`, or minus
    /// now, when it has neither). Default one hour.
    pub max_lifetime: Duration,
    /// Accept the issuer identifier as `aud` besides the token endpoint's URL (OpenID
    /// Connect Core §9 allows either). Default false: the token endpoint's URL only, as
    /// RFC 7523 §3 names it.
    pub accept_issuer_audience: bool,
}

impl Default for AssertionRules {
    fn default() -> Self {
        AssertionRules {
            leeway: Duration::ZERO,
            max_lifetime: Duration::HOUR,
            accept_issuer_audience: false,
        }
    }
}

#[cfg(test)]
mod tests;
