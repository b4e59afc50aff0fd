//! The device authorization grant's answer (RFC 8628 §3.2): the device code the session
//! polls with, and what the person must see.

use std::fmt;

use serde::Deserialize;

use super::response::Lifetime;
use crate::error::{Failure, FailureKind, Malformed};
use crate::wipe::WipedString;

/// The longest device code taken, in bytes.
pub const MAX_DEVICE_CODE_BYTES: usize = 4096;

/// The longest user code taken, in characters: it is shown to a person, who types it.
pub const MAX_USER_CODE_CHARS: usize = 64;

/// The longest verification URI taken, in bytes.
pub const MAX_VERIFICATION_URI_BYTES: usize = 2048;

/// The interval a server that names none is polled at (RFC 8628 §3.2), in seconds.
pub const DEFAULT_INTERVAL_SECONDS: i64 = 5;

/// A device authorization response (RFC 8628 §3.2), read and checked: every text is
/// bounded, the user code and the URIs are printable, the URIs are `http(s)`, and the
/// numbers are kept as the server sent them for the session to bound.
///
/// The device code is a secret (it polls for the person's tokens): wiped when dropped,
/// never shown by `Debug`.
pub struct DeviceAuthorization {
    pub(crate) device_code: WipedString,
    /// The code the person enters.
    pub user_code: String,
    /// Where the person enters it.
    pub verification_uri: String,
    /// A URI that carries the user code, for a link or a QR code.
    pub verification_uri_complete: Option<String>,
    /// `expires_in`, in seconds, as sent (positive).
    pub expires_in: i64,
    /// `interval`, in seconds, as sent; [`DEFAULT_INTERVAL_SECONDS`] when absent.
    pub interval: i64,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"[redacted]")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

impl DeviceAuthorization {
    /// The device code, to poll with. Send it only to the token endpoint.
    pub fn device_code(&self) -> &str {
        &self.device_code.0
    }
}

/// The body as sent; every field optional, so a missing one is reported precisely.
#[derive(Deserialize)]
struct Body {
    device_code: Option<String>,
    user_code: Option<String>,
    verification_uri: Option<String>,
    /// Some servers (Google's, early drafts) name it so.
    verification_url: Option<String>,
    verification_uri_complete: Option<String>,
    expires_in: Option<Lifetime>,
    interval: Option<Lifetime>,
}

/// Reads a device authorization response: a 2xx with the RFC 8628 §3.2 body, or an
/// RFC 6749 §5.2 error (whatever the status).
pub fn read_device_authorization(
    response: &http::Response<Vec<u8>>,
) -> Result<DeviceAuthorization, Failure> {
    let status = response.status();
    if !status.is_success() {
        return Err(super::error_failure(response));
    }
    let malformed = |what| Failure::new(FailureKind::Malformed(what), Some(status));
    // A 200 carrying an error object is an error (RFC 6749 §5.2 servers do that).
    let error_object = || Some(super::error_failure(response)).filter(|f| f.code().is_some());
    let body: Body = serde_json::from_slice(response.body())
        .map_err(|_| error_object().unwrap_or_else(|| malformed(Malformed::NotJson)))?;
    if body.device_code.is_none() {
        if let Some(failure) = error_object() {
            return Err(failure);
        }
    }
    let invalid = || malformed(Malformed::InvalidDeviceAuthorization);
    let device_code = body
        .device_code
        .map(WipedString)
        .filter(|code| {
            !code.0.is_empty()
                && code.0.len() <= MAX_DEVICE_CODE_BYTES
                && code.0.bytes().all(|b| (0x20..=0x7e).contains(&b))
        })
        .ok_or_else(invalid)?;
    let user_code = body
        .user_code
        .filter(|code| {
            !code.trim().is_empty()
                && code.chars().count() <= MAX_USER_CODE_CHARS
                && !code.chars().any(char::is_control)
        })
        .ok_or_else(invalid)?;
    let verification_uri = body
        .verification_uri
        .or(body.verification_url)
        .filter(|uri| is_web_uri(uri))
        .ok_or_else(invalid)?;
    let verification_uri_complete = match body.verification_uri_complete {
        Some(uri) if is_web_uri(&uri) => Some(uri),
        Some(_) => return Err(invalid()),
        None => None,
    };
    let expires_in = match body.expires_in {
        Some(Lifetime::Seconds(seconds)) if seconds > 0 => seconds,
        _ => return Err(invalid()),
    };
    let interval = match body.interval {
        None => DEFAULT_INTERVAL_SECONDS,
        Some(Lifetime::Seconds(seconds)) if seconds >= 0 => seconds,
        Some(_) => return Err(invalid()),
    };
    Ok(DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in,
        interval,
    })
}

/// Whether `uri` is an absolute `http(s)` URI a person may be sent to: bounded, printable
/// ASCII, with a host.
fn is_web_uri(uri: &str) -> bool {
    uri.len() <= MAX_VERIFICATION_URI_BYTES
        && uri.bytes().all(|b| (0x21..=0x7e).contains(&b))
        && uri.parse::<http::Uri>().is_ok_and(|parsed| {
            matches!(parsed.scheme_str(), Some("https" | "http")) && parsed.host().is_some()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(status: u16, body: &str) -> Result<DeviceAuthorization, Failure> {
        let response = http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap();
        read_device_authorization(&response)
    }

    const GOOD: &str = r#"{"device_code":"dc","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":1800}"#;

    #[test]
    fn a_complete_answer_is_read_with_the_default_interval() {
        let read = read(200, GOOD).unwrap();
        assert_eq!(read.device_code(), "dc");
        assert_eq!(read.user_code, "WDJB-MJHT");
        assert_eq!(read.interval, DEFAULT_INTERVAL_SECONDS);
        assert_eq!(read.expires_in, 1800);
        assert!(!format!("{read:?}").contains("\"dc\""));
    }

    #[test]
    fn unusable_answers_are_malformed_and_errors_are_oauth_errors() {
        let cases = [
            r#"{"user_code":"A","verification_uri":"https://e.com/d","expires_in":1}"#,
            r#"{"device_code":"","user_code":"A","verification_uri":"https://e.com/d","expires_in":1}"#,
            r#"{"device_code":"d","user_code":"A\u001b[2J","verification_uri":"https://e.com/d","expires_in":1}"#,
            r#"{"device_code":"d","user_code":"A","verification_uri":"javascript:alert(1)","expires_in":1}"#,
            r#"{"device_code":"d","user_code":"A","verification_uri":"https://e.com/d","expires_in":0}"#,
            r#"{"device_code":"d","user_code":"A","verification_uri":"https://e.com/d","expires_in":"soon"}"#,
            r#"{"device_code":"d","user_code":"A","verification_uri":"https://e.com/d","expires_in":9,"interval":-1}"#,
            r#"{"device_code":"d","user_code":"A","verification_uri":"https://e.com/d","verification_uri_complete":"ftp://x","expires_in":9}"#,
            r#"[]"#,
        ];
        for body in cases {
            let failure = read(200, body).unwrap_err();
            assert!(
                matches!(failure.kind(), FailureKind::Malformed(_)),
                "{body}: {failure}"
            );
        }
        let failure = read(400, r#"{"error":"invalid_client"}"#).unwrap_err();
        assert_eq!(failure.kind(), FailureKind::OAuth);
        let failure = read(200, r#"{"error":"unauthorized_client"}"#).unwrap_err();
        assert_eq!(failure.kind(), FailureKind::OAuth);
    }

    #[test]
    fn google_spelling_and_string_numbers_are_read() {
        let read = read(
            200,
            r#"{"device_code":"d","user_code":"A","verification_url":"https://e.com/d","expires_in":"30","interval":"0"}"#,
        )
        .unwrap();
        assert_eq!(read.verification_uri, "https://e.com/d");
        assert_eq!((read.expires_in, read.interval), (30, 0));
    }
}
