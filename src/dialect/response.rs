//! Reading RFC 6749 responses: §5.1 success bodies and §5.2 error bodies.

use std::borrow::Cow;
use std::fmt;

use oauth2::basic::BasicErrorResponse;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use oauth2::AccessToken;

use crate::bearer::access_token_with_room;
use crate::error::{Failure, FailureKind, Malformed, RetryAfter};
use crate::token::Expiry;

/// An RFC 6749 §5.1 success body (or a §5.2 error sent with status 200), borrowing from
/// the response bytes. Unknown fields are ignored.
#[derive(Deserialize, Default)]
#[non_exhaustive]
pub struct StandardTokenBody<'a> {
    /// `access_token`.
    #[serde(borrow, default, deserialize_with = "token_text")]
    pub access_token: Option<Cow<'a, str>>,
    /// `token_type`.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub token_type: Option<Cow<'a, str>>,
    /// `expires_in`, as a number or a numeric string.
    #[serde(default)]
    pub expires_in: Option<Lifetime>,
    /// `refresh_token`.
    #[serde(borrow, default, deserialize_with = "token_text")]
    pub refresh_token: Option<Cow<'a, str>>,
    /// `refresh_expires_in` (a common extension: Keycloak sends it).
    #[serde(default)]
    pub refresh_expires_in: Option<Lifetime>,
    /// `scope`.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub scope: Option<Cow<'a, str>>,
    /// `error`, when a server reports an error with status 200.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub error: Option<Cow<'a, str>>,
    /// `error_description`.
    #[serde(borrow, default, deserialize_with = "borrowed")]
    pub error_description: Option<Cow<'a, str>>,
    /// `id_token` (OpenID Connect Core §3.1.3.3), unverified: a JWT about the user.
    #[serde(borrow, default, deserialize_with = "token_text")]
    pub id_token: Option<Cow<'a, str>>,
}

/// An optional string that borrows from the body unless it holds escapes. (`serde`'s own
/// `Cow<str>` always copies inside an `Option`.)
pub(crate) fn borrowed<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    deserializer.deserialize_option(OptionalText { raw: false })
}

/// An optional token: read as the raw bytes between the quotes (escapes resolved), which
/// skips the JSON parser's per-byte control-character scan, then checked to be UTF-8.
/// Tokens are long and a token's own syntax (RFC 6750 `b64token`, checked when it
/// becomes a [`BearerToken`](crate::BearerToken)) is stricter than JSON's.
pub(crate) fn token_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Cow<'de, str>>, D::Error> {
    deserializer.deserialize_option(OptionalText { raw: true })
}

/// Reads an optional string, borrowing it where the body allows; `raw` reads it as bytes.
struct OptionalText {
    raw: bool,
}

impl<'v> Visitor<'v> for OptionalText {
    type Value = Option<Cow<'v, str>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'v [u8]) -> Result<Self::Value, E> {
        std::str::from_utf8(v)
            .map(|text| Some(Cow::Borrowed(text)))
            .map_err(E::custom)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        std::str::from_utf8(v)
            .map(|text| Some(Cow::Owned(text.to_owned())))
            .map_err(E::custom)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'v str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Cow::Owned(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'v>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        if self.raw {
            deserializer.deserialize_bytes(self)
        } else {
            deserializer.deserialize_str(self)
        }
    }
}

impl<'a> StandardTokenBody<'a> {
    /// Parses `body`; anything that is not a JSON object of this shape is malformed.
    pub fn parse(body: &'a [u8], status: http::StatusCode) -> Result<Self, Failure> {
        serde_json::from_slice(body)
            .map_err(|_| Failure::new(FailureKind::Malformed(Malformed::NotJson), Some(status)))
    }

    /// Fails with the server's error if the body is an error object sent with a success
    /// status.
    pub fn reject_error(&self, status: http::StatusCode) -> Result<(), Failure> {
        match &self.error {
            Some(code) => Err(Failure::oauth(
                status,
                error_code(code),
                self.error_description.as_deref(),
            )),
            None => Ok(()),
        }
    }

    /// Checks that `token_type` is Bearer, compared case-insensitively (RFC 6749 §5.1).
    pub fn require_bearer(&self, status: http::StatusCode) -> Result<(), Failure> {
        match self.token_type.as_deref() {
            Some(kind) if kind.eq_ignore_ascii_case("bearer") => Ok(()),
            _ => Err(malformed(Malformed::UnsupportedTokenType, status)),
        }
    }

    /// The access token, required and non-empty, in a buffer with room for the header's
    /// `Bearer ` prefix ([`access_token_with_room`]).
    pub fn take_access_token(&mut self, status: http::StatusCode) -> Result<AccessToken, Failure> {
        match self.access_token.take() {
            Some(token) if !token.is_empty() => Ok(access_token_with_room(&token)),
            _ => Err(malformed(Malformed::MissingAccessToken, status)),
        }
    }

    /// `expires_in` as an [`Expiry`]; absent means unstated.
    pub fn expires(&self, status: http::StatusCode) -> Result<Expiry, Failure> {
        match self.expires_in {
            None => Ok(Expiry::Unstated),
            Some(Lifetime::Seconds(seconds)) => Ok(Expiry::In(seconds)),
            Some(Lifetime::Unreadable) => Err(malformed(Malformed::UnreadableExpiry, status)),
        }
    }
}

fn malformed(reason: Malformed, status: http::StatusCode) -> Failure {
    Failure::new(FailureKind::Malformed(reason), Some(status))
}

/// An RFC 6749 §5.2 error code from its string form (known codes map to their variants).
pub(crate) fn error_code(code: &str) -> oauth2::basic::BasicErrorResponseType {
    use oauth2::basic::BasicErrorResponseType as Code;
    match code {
        "invalid_client" => Code::InvalidClient,
        "invalid_grant" => Code::InvalidGrant,
        "invalid_request" => Code::InvalidRequest,
        "invalid_scope" => Code::InvalidScope,
        "unauthorized_client" => Code::UnauthorizedClient,
        "unsupported_grant_type" => Code::UnsupportedGrantType,
        other => Code::Extension(other.to_owned()),
    }
}

/// A lifetime in seconds as servers send it: an integer, a numeric string, or (leniently)
/// a float with no fraction. Anything else is kept as unreadable rather than failing the
/// whole body, so the session can report precisely what was wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// Seconds (possibly zero or negative: the session judges the range).
    Seconds(i64),
    /// Not a number.
    Unreadable,
}

impl<'de> Deserialize<'de> for Lifetime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LifetimeVisitor;
        impl<'v> Visitor<'v> for LifetimeVisitor {
            type Value = Lifetime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Lifetime, E> {
                Ok(Lifetime::Seconds(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Lifetime, E> {
                Ok(Lifetime::Seconds(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Lifetime, E> {
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    Ok(Lifetime::Seconds(v as i64))
                } else {
                    Ok(Lifetime::Unreadable)
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Lifetime, E> {
                Ok(v.trim()
                    .parse()
                    .map(Lifetime::Seconds)
                    .unwrap_or(Lifetime::Unreadable))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Lifetime, E> {
                Ok(Lifetime::Unreadable)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Lifetime, E> {
                Ok(Lifetime::Unreadable)
            }
            fn visit_seq<A: de::SeqAccess<'v>>(self, mut seq: A) -> Result<Lifetime, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Lifetime::Unreadable)
            }
            fn visit_map<A: de::MapAccess<'v>>(self, mut map: A) -> Result<Lifetime, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Lifetime::Unreadable)
            }
        }
        deserializer.deserialize_any(LifetimeVisitor)
    }
}

/// The evidence in an error response: status, the RFC 6749 §5.2 error object if the body
/// holds one, and `Retry-After`. The body itself is never kept.
pub fn error_failure(response: &http::Response<Vec<u8>>) -> Failure {
    let status = response.status();
    let retry_after = retry_after(response);
    let failure = match serde_json::from_slice::<BasicErrorResponse>(response.body()) {
        Ok(error) => Failure::oauth(
            status,
            error.error().clone(),
            error.error_description().map(String::as_str),
        ),
        Err(_) => Failure::new(FailureKind::Status, Some(status)),
    };
    failure.with_retry_after(retry_after)
}

/// The response's `Retry-After`, if readable.
pub(crate) fn retry_after(response: &http::Response<Vec<u8>>) -> Option<RetryAfter> {
    response
        .headers()
        .get(http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(RetryAfter::parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn lifetimes_are_read_leniently_and_judged_later() {
        let read = |json: &str| {
            serde_json::from_str::<StandardTokenBody<'_>>(json)
                .unwrap()
                .expires_in
        };
        assert_eq!(
            read(r#"{"expires_in":3600}"#),
            Some(Lifetime::Seconds(3600))
        );
        assert_eq!(
            read(r#"{"expires_in":"3600"}"#),
            Some(Lifetime::Seconds(3600))
        );
        assert_eq!(
            read(r#"{"expires_in":3600.0}"#),
            Some(Lifetime::Seconds(3600))
        );
        assert_eq!(read(r#"{"expires_in":-1}"#), Some(Lifetime::Seconds(-1)));
        assert_eq!(read(r#"{"expires_in":"soon"}"#), Some(Lifetime::Unreadable));
        assert_eq!(read(r#"{"expires_in":[1]}"#), Some(Lifetime::Unreadable));
        assert_eq!(
            read(r#"{"expires_in":{"a":1}}"#),
            Some(Lifetime::Unreadable)
        );
        assert_eq!(read(r#"{}"#), None);
    }

    #[test]
    fn error_bodies_keep_code_description_and_retry_after() {
        let response = http::Response::builder()
            .status(503)
            .header("retry-after", "7")
            .body(br#"{"error":"temporarily_unavailable","error_description":"busy"}"#.to_vec())
            .unwrap();
        let failure = error_failure(&response);
        assert_eq!(failure.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(
            failure.code().map(|c| c.as_ref()),
            Some("temporarily_unavailable")
        );
        assert_eq!(failure.description(), Some("busy"));
        assert_eq!(failure.retry_after(), Some(RetryAfter::Seconds(7)));
    }

    #[test]
    fn non_oauth_error_bodies_are_not_kept() {
        let response = http::Response::builder()
            .status(502)
            .body(b"<html>bad gateway, token=abc</html>".to_vec())
            .unwrap();
        let failure = error_failure(&response);
        assert_eq!(failure.kind(), FailureKind::Status);
        assert!(!format!("{failure} {failure:?}").contains("abc"));
    }
}
