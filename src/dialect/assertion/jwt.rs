//! One assertion as it travels: a compact JWT (RFC 7519), read far enough to check its
//! shape and `exp`, never its signature (that is the server's to check).

use std::fmt;

use base64::Engine as _;
use serde_json::{Map, Value};
use time::UtcDateTime;
use zeroize::Zeroizing;

use super::{AssertionError, MAX_ASSERTION_LEN};

/// A compact JWT a request carries: signed by a key the application holds or supplied by
/// the platform.
///
/// Built with [`Assertion::new`], which checks its shape and reads its `exp`. Wiped when
/// dropped; `Debug` shows its length and expiry only, never a fragment of it.
pub struct Assertion {
    compact: Zeroizing<String>,
    expires_at: Option<UtcDateTime>,
}

impl fmt::Debug for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assertion")
            .field("len", &self.compact.len())
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An assertion's header and claims, decoded for display: its signature is left out.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedAssertion {
    /// The JOSE header (`alg`, `typ`, `kid`).
    pub header: Map<String, Value>,
    /// The claims set (`iss`, `sub`, `aud`, `jti`, `iat`, `nbf`, `exp`, …).
    pub claims: Map<String, Value>,
}

impl Assertion {
    /// Takes a compact JWT: three base64url parts joined by dots, at most
    /// [`MAX_ASSERTION_LEN`] bytes, whose payload is a JSON object. Its `exp`, when
    /// present, must be a whole number of seconds within the range of dates.
    pub fn new(compact: impl Into<String>) -> Result<Self, AssertionError> {
        let compact = Zeroizing::new(compact.into());
        let decoded = decode(&compact)?;
        let expires_at = match decoded.claims.get("exp") {
            None => None,
            Some(exp) => Some(read_time(exp).ok_or(AssertionError::Malformed {
                what: "its `exp` is not a time",
            })?),
        };
        Ok(Assertion {
            compact,
            expires_at,
        })
    }

    /// Its `exp`, if it has one.
    pub fn expires_at(&self) -> Option<UtcDateTime> {
        self.expires_at
    }

    /// Its header and claims.
    pub fn decode(&self) -> Result<DecodedAssertion, AssertionError> {
        decode(&self.compact)
    }

    /// The compact form, to send.
    pub fn into_compact(self) -> Zeroizing<String> {
        self.compact
    }

    /// Whether a request formed at `now` may carry it: it must have an `exp` after `now`
    /// (RFC 7523 §3 requires `exp`).
    pub(crate) fn check_usable(&self, now: UtcDateTime) -> Result<(), AssertionError> {
        match self.expires_at {
            None => Err(AssertionError::Malformed {
                what: "it has no `exp`",
            }),
            Some(expired_at) if expired_at <= now => Err(AssertionError::Expired { expired_at }),
            Some(_) => Ok(()),
        }
    }
}

/// Splits and decodes a compact JWT's header and claims.
fn decode(compact: &str) -> Result<DecodedAssertion, AssertionError> {
    let malformed = |what| AssertionError::Malformed { what };
    if compact.is_empty() {
        return Err(malformed("it is empty"));
    }
    if compact.len() > MAX_ASSERTION_LEN {
        return Err(malformed("it is longer than 16 KiB"));
    }
    let mut parts = compact.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("it is not three dot-separated parts"));
    };
    let base64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if header.is_empty() || claims.is_empty() || signature.is_empty() {
        return Err(malformed("one of its parts is empty"));
    }
    if !(base64url(header) && base64url(claims) && base64url(signature)) {
        return Err(malformed("a part is not base64url"));
    }
    let object = |part: &str, what| {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| malformed(what))?,
        );
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(malformed(what)),
        }
    };
    Ok(DecodedAssertion {
        header: object(header, "its header is not a JSON object")?,
        claims: object(claims, "its claims are not a JSON object")?,
    })
}

/// A NumericDate (RFC 7519 §2): whole seconds since the epoch, within the range of dates.
fn read_time(value: &Value) -> Option<UtcDateTime> {
    let seconds = value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15)
            .map(|f| f as i64)
    })?;
    UtcDateTime::from_unix_timestamp(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, claims: &str) -> String {
        let e = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.c2ln", e(header), e(claims))
    }

    #[test]
    fn a_jwt_is_read_for_its_expiry_and_parts() {
        let assertion = Assertion::new(jwt(r#"{"alg":"ES256"}"#, r#"{"exp":1700000000}"#)).unwrap();
        assert_eq!(
            assertion.expires_at(),
            Some(UtcDateTime::from_unix_timestamp(1_700_000_000).unwrap())
        );
        let decoded = assertion.decode().unwrap();
        assert_eq!(decoded.header["alg"], "ES256");
        let now = UtcDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert!(matches!(
            assertion.check_usable(now),
            Err(AssertionError::Expired { .. })
        ));
        assert!(assertion.check_usable(now - time::Duration::SECOND).is_ok());
    }

    /// Every way a supplied assertion can be unreadable is a typed error, never a panic.
    #[test]
    fn malformed_assertions_are_typed_errors() {
        let cases = [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            "..".into(),
            "a.b.c".into(),
            "e30.e30.!!".into(),
            jwt("[]", "{}"),
            jwt("{}", "\"x\""),
            jwt("{}", r#"{"exp":"soon"}"#),
            jwt("{}", r#"{"exp":1e300}"#),
            jwt("{}", r#"{"exp":253402300800000}"#),
            jwt("{}", r#"{"exp":1.5}"#),
            "a".repeat(MAX_ASSERTION_LEN + 1),
        ];
        for case in cases {
            assert!(
                matches!(
                    Assertion::new(case.clone()),
                    Err(AssertionError::Malformed { .. })
                ),
                "{case:.40}"
            );
        }
        let no_exp = Assertion::new(jwt("{}", "{}")).unwrap();
        assert!(matches!(
            no_exp.check_usable(UtcDateTime::UNIX_EPOCH),
            Err(AssertionError::Malformed { .. })
        ));
    }

    #[test]
    fn debug_shows_no_fragment() {
        let text = jwt(r#"{"alg":"HS256"}"#, r#"{"exp":1700000000,"sub":"x"}"#);
        let shown = format!("{:?}", Assertion::new(text.clone()).unwrap());
        for part in text.split('.') {
            assert!(!shown.contains(part), "{shown}");
        }
    }
}
