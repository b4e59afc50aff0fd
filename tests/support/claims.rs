//! What an assertion a request carried says (RFC 7523), checked the same way by every
//! suite that reads them from real requests.

use oauth_lifecycle::dialect::assertion::DecodedAssertion;
use time::Duration;

/// The string claim `name`. Panics if it is not one.
#[track_caller]
pub fn claim_str<'a>(assertion: &'a DecodedAssertion, name: &str) -> &'a str {
    assertion.claims[name]
        .as_str()
        .unwrap_or_else(|| panic!("`{name}` is a string: {:?}", assertion.claims))
}

/// The time claim `name`, in seconds since the epoch. Panics if it is not one.
#[track_caller]
pub fn claim_time(assertion: &DecodedAssertion, name: &str) -> i64 {
    assertion.claims[name]
        .as_i64()
        .unwrap_or_else(|| panic!("`{name}` is a time: {:?}", assertion.claims))
}

/// What an assertion must say.
pub struct Expected<'a> {
    /// The header's `alg`.
    pub algorithm: &'a str,
    /// The header's `kid`, when the signer has one.
    pub key_id: Option<&'a str>,
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `aud`.
    pub audience: &'a str,
    /// `exp - iat`.
    pub lifetime: Duration,
}

/// Checks `assertion` against `expected`, `nbf` equal to `iat` and a `jti` long enough to
/// be unique; returns the `jti`.
#[track_caller]
pub fn check(assertion: &DecodedAssertion, expected: &Expected<'_>) -> String {
    assert_eq!(assertion.header["alg"], expected.algorithm, "{assertion:?}");
    if let Some(key_id) = expected.key_id {
        assert_eq!(assertion.header["kid"], key_id, "{assertion:?}");
    }
    assert_eq!(claim_str(assertion, "iss"), expected.issuer);
    assert_eq!(claim_str(assertion, "sub"), expected.subject);
    assert_eq!(claim_str(assertion, "aud"), expected.audience);
    let issued_at = claim_time(assertion, "iat");
    assert_eq!(claim_time(assertion, "nbf"), issued_at);
    assert_eq!(
        claim_time(assertion, "exp") - issued_at,
        expected.lifetime.whole_seconds(),
        "{assertion:?}"
    );
    let jti = claim_str(assertion, "jti").to_owned();
    assert!(jti.len() >= 16, "a jti long enough to be unique: {jti:?}");
    jti
}
