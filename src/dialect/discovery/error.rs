//! Why discovery failed, and how its messages quote a server: bounded, printable.

use std::fmt;

use http::StatusCode;
use time::UtcDateTime;

use super::{
    DEFAULT_RETRY_AFTER, MAX_EXCERPT, MAX_ISSUER_BYTES, MAX_LISTED_METHODS, MAX_METHOD_EXCERPT,
    MAX_RETRY_AFTER,
};
use crate::error::RetryAfter;

/// What an issuer given to [`Discovery`](super::Discovery) is refused for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IssuerProblem {
    /// It is not an absolute `http` or `https` URL.
    NotAbsolute,
    /// It is plain `http` on a host that is not loopback.
    Insecure,
    /// It has a query.
    Query,
    /// It has a fragment.
    Fragment,
    /// It has user information (`user:password@`).
    UserInfo,
    /// It is longer than [`MAX_ISSUER_BYTES`].
    TooLong,
}

impl fmt::Display for IssuerProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IssuerProblem::NotAbsolute => "is not an absolute URL",
            IssuerProblem::Insecure => {
                "must use https (plain http is allowed only on loopback hosts)"
            }
            IssuerProblem::Query => "must have no query",
            IssuerProblem::Fragment => "must have no fragment",
            IssuerProblem::UserInfo => "must have no user information",
            IssuerProblem::TooLong => {
                return write!(f, "is longer than {MAX_ISSUER_BYTES} bytes");
            }
        })
    }
}

/// The JSON type a metadata field should have had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Expected {
    /// A string.
    String,
    /// An array of strings.
    Strings,
    /// `true` or `false`.
    Boolean,
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expected::String => "a string",
            Expected::Strings => "an array of strings",
            Expected::Boolean => "a boolean",
        })
    }
}

/// Why discovery failed, sorted by what the caller does about it:
///
/// - **Fix the configuration**: [`InvalidIssuer`](DiscoveryError::InvalidIssuer),
///   [`UnsupportedClientAuth`](DiscoveryError::UnsupportedClientAuth). A
///   [`Status`](DiscoveryError::Status) 404 usually belongs here too: the issuer or the
///   [`WellKnown`](super::WellKnown) location is wrong.
/// - **The server answered wrongly**: [`Status`](DiscoveryError::Status) to
///   [`InsecureEndpoint`](DiscoveryError::InsecureEndpoint). Asking again gets the same
///   answer; its operator must fix it, or the issuer asked for is not this server's.
/// - **Retry later**: [`Unavailable`](DiscoveryError::Unavailable), the only one for
///   which [`retry_at`](DiscoveryError::retry_at) says when.
///
/// Messages quote a server's text only as short excerpts (at most [`MAX_EXCERPT`]
/// characters of printable ASCII each), never the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    // Fix the configuration.
    /// The issuer given to [`Discovery`](super::Discovery) cannot be discovered.
    #[error("the issuer {reason}")]
    InvalidIssuer {
        /// What is wrong with it.
        reason: IssuerProblem,
    },
    /// The server supports none of the client authentications this client can use
    /// (`client_secret_basic` or `client_secret_post` with a secret, `none` without).
    #[error(
        "unsupported client authentication: a client {} needs {}, and the server {}",
        if *with_secret { "with a secret" } else { "without a secret" },
        if *with_secret { "client_secret_basic or client_secret_post" } else { "the method none" },
        Listed(supported, *more)
    )]
    UnsupportedClientAuth {
        /// Whether the client has a secret.
        with_secret: bool,
        /// The methods the server supports: the first [`MAX_LISTED_METHODS`], each an
        /// excerpt of at most [`MAX_METHOD_EXCERPT`] characters.
        supported: Vec<String>,
        /// How many more it supports.
        more: usize,
    },

    // The server answered wrongly.
    /// The metadata request was answered with a status other than 200 (and not one
    /// worth a retry): 404 usually means the issuer or the well-known location is wrong.
    #[error("the metadata request was answered with status {}, not 200", status.as_u16())]
    Status {
        /// The status.
        status: StatusCode,
    },
    /// The body is larger than [`MAX_METADATA_BYTES`](super::MAX_METADATA_BYTES).
    #[error("the server's metadata is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The body is not JSON.
    #[error("the server's metadata is not JSON (content type {})", ContentType(content_type.as_deref()))]
    NotJson {
        /// An excerpt of the response's `Content-Type`, if it had one.
        content_type: Option<String>,
    },
    /// The body is JSON, but not an object.
    #[error("the server's metadata is not a JSON object")]
    NotAnObject,
    /// A required field is missing (`issuer`, `token_endpoint`).
    #[error("the server's metadata has no {field}")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// A known field has the wrong JSON type.
    #[error("the server's metadata field {field} is not {expected}")]
    WrongType {
        /// The field's name.
        field: &'static str,
        /// What it should have been.
        expected: Expected,
    },
    /// The metadata's `issuer` is not the issuer asked for (RFC 8414 §3.3, OpenID Connect
    /// Discovery §4.3): the document may be another server's, and nothing in it is used.
    #[error(
        "the server's metadata names the issuer \"{found}\", not the one asked for{}",
        if *only_trailing_slash { " (they differ only in a trailing slash)" } else { "" }
    )]
    IssuerMismatch {
        /// An excerpt of the issuer the metadata names.
        found: String,
        /// Whether the two differ only in trailing slashes: give the issuer exactly as
        /// the server writes it.
        only_trailing_slash: bool,
    },
    /// An endpoint URL is not a valid absolute URL.
    #[error("the server's metadata field {field} is not a valid absolute URL")]
    InvalidEndpoint {
        /// The field's name.
        field: &'static str,
    },
    /// An endpoint URL is plain `http` on a host that is not loopback.
    #[error(
        "the server's metadata field {field} must use https (plain http is allowed only on loopback hosts)"
    )]
    InsecureEndpoint {
        /// The field's name.
        field: &'static str,
    },

    // Retry later.
    /// The server is overloaded or failing (429 or 5xx): ask again later
    /// ([`retry_at`](DiscoveryError::retry_at)).
    #[error("the metadata request was answered with status {}: try again later", status.as_u16())]
    Unavailable {
        /// The status.
        status: StatusCode,
        /// The response's `Retry-After`, as sent: unbounded until
        /// [`retry_at`](DiscoveryError::retry_at) bounds it.
        retry_after: Option<RetryAfter>,
    },
}

impl DiscoveryError {
    /// When to ask again, for an error a later attempt may not meet
    /// ([`Unavailable`](DiscoveryError::Unavailable)); `None` for every other error.
    ///
    /// The server's `Retry-After`, bounded to between `now` and `now` +
    /// [`MAX_RETRY_AFTER`]; [`DEFAULT_RETRY_AFTER`] from `now` when it sent none.
    pub fn retry_at(&self, now: UtcDateTime) -> Option<UtcDateTime> {
        let DiscoveryError::Unavailable { retry_after, .. } = self else {
            return None;
        };
        let asked = retry_after.map_or_else(
            || now.saturating_add(DEFAULT_RETRY_AFTER),
            |retry_after| retry_after.deadline(now),
        );
        Some(asked.clamp(now, now.saturating_add(MAX_RETRY_AFTER)))
    }
}

/// A bounded list of methods, as [`DiscoveryError::UnsupportedClientAuth`] shows it.
struct Listed<'a>(&'a [String], usize);

impl fmt::Display for Listed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Listed(methods, more) = *self;
        if methods.is_empty() {
            return f.write_str("lists no method");
        }
        f.write_str("supports only ")?;
        for (i, method) in methods.iter().take(MAX_LISTED_METHODS).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            // Bounded again: the fields are public.
            f.write_str(&excerpt_of(method, MAX_METHOD_EXCERPT))?;
        }
        if more > 0 {
            write!(f, " and {more} more")?;
        }
        Ok(())
    }
}

/// A response's content type, as [`DiscoveryError::NotJson`] shows it.
struct ContentType<'a>(Option<&'a str>);

impl fmt::Display for ContentType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(content_type) => write!(f, "\"{}\"", excerpt(content_type)),
            None => f.write_str("not given"),
        }
    }
}

/// The first [`MAX_EXCERPT`] characters of `text`, each one but printable ASCII and the
/// space replaced by `?` (so it can forge no log line, and `"` is replaced too so it
/// breaks no quoting), and `...` appended when cut.
pub(super) fn excerpt(text: &str) -> String {
    excerpt_of(text, MAX_EXCERPT)
}

/// The first `max` characters of `text`, as [`excerpt`] shows them.
pub(super) fn excerpt_of(text: &str, max: usize) -> String {
    crate::dialect::quote::excerpt(text, max)
}
