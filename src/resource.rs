//! What a resource server's answer says about the access token (RFC 6750 §3).
//!
//! Middleware that sends `Authorization: Bearer <token>` hands each API response to
//! [`classify`] (or [`classify_response`]) and, on [`ResourceVerdict::TokenRejected`],
//! tells the session with [`Driver::handle_unauthorized`](crate::Driver::handle_unauthorized)
//! so it renews the token. The classifier reads only the status and the `WWW-Authenticate`
//! challenges' schemes and `error` codes: a server's `error_description`, which may echo the
//! token, is never kept or shown.
//!
//! ```
//! use http::{header::WWW_AUTHENTICATE, Response, StatusCode};
//! use oauth_lifecycle::resource::{classify_response, ResourceVerdict};
//!
//! let response = Response::builder()
//!     .status(StatusCode::UNAUTHORIZED)
//!     .header(WWW_AUTHENTICATE, r#"Bearer realm="api", error="invalid_token""#)
//!     .body(())?;
//! assert_eq!(classify_response(&response), ResourceVerdict::TokenRejected);
//! # Ok::<(), http::Error>(())
//! ```

mod challenge;

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, Response, StatusCode};

use self::challenge::{challenges, Item};

/// What a resource server's answer means for the access token that was sent with it.
///
/// See [`classify`] for the rules.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceVerdict {
    /// The server refused the token itself (expired, revoked, malformed, unknown): renew
    /// it, e.g. with [`Driver::handle_unauthorized`](crate::Driver::handle_unauthorized).
    TokenRejected,
    /// The token is valid but lacks the scope this request needs. Renewing would bring a
    /// token with the same scope, so do not: the request or the client's configuration
    /// has to change.
    InsufficientScope,
    /// A success (2xx): the server accepted the token. For a provider with sliding
    /// expiry, the call extended it: report it with
    /// [`Driver::handle_call_succeeded`](crate::Driver::handle_call_succeeded). Other
    /// answers are not counted as accepting the token, the safe side: a call not reported
    /// only makes the session renew earlier.
    Accepted,
    /// The answer says nothing for or against the token (a server error, a bad request,
    /// a redirect, a refusal on other grounds): not the session's business.
    NotTokenRelated,
}

/// Classifies a resource server's answer by its status and `WWW-Authenticate` challenges.
///
/// Every `WWW-Authenticate` line is read, and every challenge in it (RFC 9110 §11.6.1).
/// Only challenges whose scheme is `Bearer` (in any case) count, and of those only their
/// `error` parameters (name in any case, value as a token or a quoted-string, compared
/// exactly once unescaped). A line is read up to its first syntax error: the list
/// elements before it count; the malformed one and the rest of the line do not.
///
/// The first row that matches decides:
///
/// | status    | `error` codes of the `Bearer` challenges               | verdict               |
/// |-----------|--------------------------------------------------------|-----------------------|
/// | 2xx       | anything                                               | [`Accepted`]          |
/// | 401, 403  | one is `invalid_token`                                 | [`TokenRejected`]     |
/// | 401, 403  | one is `insufficient_scope`                            | [`InsufficientScope`] |
/// | 401, 403  | others only (`invalid_request`, unknown codes, `""`)   | [`NotTokenRelated`]   |
/// | 401       | none (see below)                                       | [`TokenRejected`]     |
/// | 403       | none (see below)                                       | [`NotTokenRelated`]   |
/// | any other | anything                                               | [`NotTokenRelated`]   |
///
/// "None" is: no `WWW-Authenticate` line, `Bearer` challenges without an `error`
/// parameter, challenges of other schemes only (`Basic`, `Negotiate abc==`, …), or lines
/// unreadable from their start.
///
/// Challenges of other schemes never change the verdict. Runs in time linear in the
/// headers' size, allocates nothing, and never panics, whatever the bytes.
///
/// ```
/// use http::{header::WWW_AUTHENTICATE, HeaderMap, HeaderValue, StatusCode};
/// use oauth_lifecycle::resource::{classify, ResourceVerdict};
///
/// let mut headers = HeaderMap::new();
/// assert_eq!(
///     classify(StatusCode::UNAUTHORIZED, &headers),
///     ResourceVerdict::TokenRejected
/// );
///
/// headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="x""#));
/// headers.append(
///     WWW_AUTHENTICATE,
///     HeaderValue::from_static(r#"bearer scope="write", ERROR = "insufficient_scope""#),
/// );
/// assert_eq!(
///     classify(StatusCode::FORBIDDEN, &headers),
///     ResourceVerdict::InsufficientScope
/// );
/// assert_eq!(classify(StatusCode::OK, &headers), ResourceVerdict::Accepted);
/// assert_eq!(
///     classify(StatusCode::NOT_FOUND, &headers),
///     ResourceVerdict::NotTokenRelated
/// );
/// ```
///
/// [`Accepted`]: ResourceVerdict::Accepted
/// [`TokenRejected`]: ResourceVerdict::TokenRejected
/// [`InsufficientScope`]: ResourceVerdict::InsufficientScope
/// [`NotTokenRelated`]: ResourceVerdict::NotTokenRelated
pub fn classify(status: StatusCode, headers: &HeaderMap) -> ResourceVerdict {
    if status.is_success() {
        return ResourceVerdict::Accepted;
    }
    if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
        return ResourceVerdict::NotTokenRelated;
    }
    match bearer_errors(headers) {
        Errors {
            invalid_token: true,
            ..
        } => ResourceVerdict::TokenRejected,
        Errors {
            insufficient_scope: true,
            ..
        } => ResourceVerdict::InsufficientScope,
        Errors { other: true, .. } => ResourceVerdict::NotTokenRelated,
        _ if status == StatusCode::UNAUTHORIZED => ResourceVerdict::TokenRejected,
        _ => ResourceVerdict::NotTokenRelated,
    }
}

/// [`classify`] for a whole response, whatever its body.
///
/// ```
/// use http::{Response, StatusCode};
/// use oauth_lifecycle::resource::{classify_response, ResourceVerdict};
///
/// let response = Response::builder().status(StatusCode::FORBIDDEN).body(Vec::<u8>::new())?;
/// assert_eq!(classify_response(&response), ResourceVerdict::NotTokenRelated);
/// # Ok::<(), http::Error>(())
/// ```
pub fn classify_response<B>(response: &Response<B>) -> ResourceVerdict {
    classify(response.status(), response.headers())
}

/// Which `error` codes the `Bearer` challenges carry.
#[derive(Default)]
struct Errors {
    invalid_token: bool,
    insufficient_scope: bool,
    other: bool,
}

fn bearer_errors(headers: &HeaderMap) -> Errors {
    let mut errors = Errors::default();
    for line in headers.get_all(WWW_AUTHENTICATE) {
        let mut in_bearer = false;
        for item in challenges(line.as_bytes()) {
            match item {
                Item::Scheme(scheme) => in_bearer = scheme.eq_ignore_ascii_case(b"Bearer"),
                Item::Param { name, value } if in_bearer && name.eq_ignore_ascii_case(b"error") => {
                    if value.is(b"invalid_token") {
                        errors.invalid_token = true;
                    } else if value.is(b"insufficient_scope") {
                        errors.insufficient_scope = true;
                    } else {
                        errors.other = true;
                    }
                }
                Item::Param { .. } | Item::Token68 => {}
            }
        }
    }
    errors
}
