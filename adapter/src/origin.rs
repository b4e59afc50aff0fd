//! Where a bearer token may go, and what an API's answer says about it: the rules the
//! `BearerAuth` middlewares of the blocking and the tokio managers share.
//!
//! - [`AllowedOrigins`]: the origins (scheme, host and port) a middleware sends the
//!   token to. It is never empty: it is made from a first origin
//!   ([`AllowedOrigins::new`]), so a middleware cannot be built to send the token
//!   nowhere without saying so. A request to any other origin gets no token.
//! - [`Origin::verdict`]: what the answer to a request that carried the token means for
//!   it, once redirects are followed: [`Verdict::TokenRejected`] (report the 401 with the
//!   token's generation, then retry once with a newer token), [`Verdict::Accepted`]
//!   (report a successful call) or [`Verdict::Other`]. An answer from another origin than
//!   the one the token went to says nothing about the token.
//!
//! Everything works on [`http::Uri`](oauth_lifecycle::http::Uri): a client with another
//! URL type converts the origin part (scheme, host, port) of its URLs.
//!
//! ```
//! use oauth_lifecycle::http::{HeaderMap, StatusCode, Uri};
//! use oauth_lifecycle_adapter::origin::{AllowedOrigins, Verdict};
//!
//! let mut origins = AllowedOrigins::new("https://api.example.com")?;
//! origins.allow("http://127.0.0.1:8080")?;
//!
//! let request: Uri = "https://api.example.com:443/v1/orders".parse()?;
//! let origin = origins.origin_of(&request).expect("an allowed origin");
//! assert!(origins.origin_of(&"http://api.example.com/v1".parse()?).is_none());
//!
//! let verdict = origin.verdict(&request, StatusCode::UNAUTHORIZED, &HeaderMap::new());
//! assert_eq!(verdict, Verdict::TokenRejected);
//! let elsewhere: Uri = "https://login.example.com/".parse()?;
//! let verdict = origin.verdict(&elsewhere, StatusCode::UNAUTHORIZED, &HeaderMap::new());
//! assert_eq!(verdict, Verdict::Other);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use oauth_lifecycle::http::{HeaderMap, StatusCode, Uri};
use oauth_lifecycle::resource::{classify, ResourceVerdict};

/// Scheme, host and port: where a token may go.
///
/// Parsed from a URL ([`FromStr`], [`Origin::of`]): the scheme and the host are
/// compared without regard to ASCII case, an IPv6 address in its canonical form; a port
/// not written is the scheme's default (80 for `http` and `ws`, 443 for `https` and
/// `wss`); user information, path, query and fragment are ignored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Lowercase.
    scheme: String,
    /// Lowercase; an IPv6 address in brackets, in its canonical form.
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute URI; `None` for a relative one, or for a scheme
    /// without a known default port when no port is written.
    pub fn of(uri: &Uri) -> Option<Origin> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = normalized_host(uri.host()?)?;
        let port = match uri.port_u16() {
            Some(port) => port,
            None => default_port(&scheme)?,
        };
        Some(Origin { scheme, host, port })
    }

    /// The scheme, in lowercase.
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The host, in lowercase; an IPv6 address in brackets (`[::1]`).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, written or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether `uri` belongs to this origin: same scheme, host and port.
    pub fn matches(&self, uri: &Uri) -> bool {
        match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => self.matches_parts(scheme, host, uri.port_u16()),
            _ => false,
        }
    }

    /// Whether a URL of `scheme`, `host` and `port` (`None`: the scheme's default)
    /// belongs to this origin, for clients whose URL type is not an [`Uri`]: no
    /// allocation, no parsing.
    pub fn matches_parts(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        if !scheme.eq_ignore_ascii_case(&self.scheme) {
            return false;
        }
        let same_host = if host.starts_with('[') {
            normalized_host(host).is_some_and(|host| host == self.host)
        } else {
            host.eq_ignore_ascii_case(&self.host)
        };
        same_host && port.or_else(|| default_port(&self.scheme)) == Some(self.port)
    }

    /// What an answer means for a token sent to this origin.
    ///
    /// `answered_by` is the URI that gave the answer, after any redirects. An answer from
    /// another origin says nothing about the token, which did not go there:
    /// [`Verdict::Other`]. Otherwise the status and the `WWW-Authenticate` challenges
    /// decide, as [`classify`] reads them.
    ///
    /// A client that drops the token on a redirect even within the origin must not ask
    /// about the answer that followed such a redirect: that request carried no token.
    pub fn verdict(&self, answered_by: &Uri, status: StatusCode, headers: &HeaderMap) -> Verdict {
        Verdict::of(self.matches(answered_by), status, headers)
    }
}

impl Verdict {
    /// The verdict on an answer to a token sent to an origin, given whether the answer
    /// came from that origin ([`Origin::matches_parts`] tells).
    pub fn of(from_the_origin: bool, status: StatusCode, headers: &HeaderMap) -> Verdict {
        if !from_the_origin {
            return Verdict::Other;
        }
        match classify(status, headers) {
            ResourceVerdict::TokenRejected => Verdict::TokenRejected,
            ResourceVerdict::Accepted => Verdict::Accepted,
            _ => Verdict::Other,
        }
    }
}

impl FromStr for Origin {
    type Err = InvalidOrigin;

    fn from_str(origin: &str) -> Result<Self, Self::Err> {
        origin
            .parse::<Uri>()
            .ok()
            .and_then(|uri| Origin::of(&uri))
            .ok_or_else(|| InvalidOrigin::new(origin))
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The origins a middleware sends the token to; never empty.
#[derive(Clone, PartialEq, Eq)]
pub struct AllowedOrigins {
    /// Never empty, no duplicates, in the order they were allowed.
    origins: Vec<Origin>,
}

impl AllowedOrigins {
    /// Allows `origin` (see [`Origin`] for what counts), the first of any number.
    /// `https://api.example.com` allows `https://api.example.com:443/…` and nothing
    /// else.
    pub fn new(origin: &str) -> Result<Self, InvalidOrigin> {
        Ok(AllowedOrigins {
            origins: vec![origin.parse()?],
        })
    }

    /// Allows `origin` too. Allowing one twice changes nothing.
    pub fn allow(&mut self, origin: &str) -> Result<(), InvalidOrigin> {
        let origin: Origin = origin.parse()?;
        if !self.origins.contains(&origin) {
            self.origins.push(origin);
        }
        Ok(())
    }

    /// The allowed origin `uri` belongs to, if any: the one to send the token to.
    pub fn origin_of(&self, uri: &Uri) -> Option<&Origin> {
        self.origins.iter().find(|origin| origin.matches(uri))
    }

    /// The allowed origin a URL of `scheme`, `host` and `port` belongs to, if any: see
    /// [`Origin::matches_parts`].
    pub fn origin_of_parts(&self, scheme: &str, host: &str, port: Option<u16>) -> Option<&Origin> {
        self.origins
            .iter()
            .find(|origin| origin.matches_parts(scheme, host, port))
    }

    /// The allowed origins, in the order they were allowed.
    pub fn iter(&self) -> impl Iterator<Item = &Origin> {
        self.origins.iter()
    }
}

impl fmt::Debug for AllowedOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.origins).finish()
    }
}

/// What the answer to a request that carried the token means for the token; see
/// [`Origin::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// The API refused the token itself: report the rejection with the token's
    /// generation (which withdraws it and starts a renewal), then send the request once
    /// more with a newer token if the request can be sent again. An answer to that
    /// second request is never retried.
    TokenRejected,
    /// A success (2xx): report the successful call, which slides the expiry of tokens
    /// that live longer with use.
    Accepted,
    /// Nothing for or against the token (an error of another kind, a lacking scope, an
    /// answer from another origin): the answer goes back to the caller as it is.
    Other,
}

/// A string that does not name an origin: not an absolute URL with a host, or a
/// scheme without a known default port and no port written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an origin (scheme, host and port): \"{input}\"")]
pub struct InvalidOrigin {
    /// The string, without any user information (`user:password@`) it held.
    input: String,
}

impl InvalidOrigin {
    fn new(input: &str) -> Self {
        InvalidOrigin {
            input: without_userinfo(input),
        }
    }

    /// The string that was refused, without any user information (`user:password@`)
    /// it held.
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// `input` with what looks like user information in its authority replaced by `…@`:
/// an error message must not carry a password.
fn without_userinfo(input: &str) -> String {
    let authority_start = input.find("://").map_or(0, |i| i + 3);
    let rest = &input[authority_start..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}…{}", &input[..authority_start], &rest[at..]),
        None => input.to_owned(),
    }
}

/// The host as origins compare it: lowercase, an IPv6 address in its canonical form.
fn normalized_host(host: &str) -> Option<String> {
    if host.is_empty() {
        return None;
    }
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(address) => Some(format!("[{}]", address.parse::<Ipv6Addr>().ok()?)),
        None => Some(host.to_ascii_lowercase()),
    }
}

/// The port of a scheme when none is written.
fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use oauth_lifecycle::http::header::WWW_AUTHENTICATE;
    use oauth_lifecycle::http::HeaderValue;

    use super::*;

    fn uri(text: &str) -> Uri {
        text.parse()
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    /// Allowed origin, URL, whether the URL belongs to it.
    const TABLE: &[(&str, &str, bool)] = &[
        // Default ports, written or not.
        (
            "https://api.example.com",
            "https://api.example.com/v1/orders",
            true,
        ),
        (
            "https://api.example.com",
            "https://api.example.com:443/",
            true,
        ),
        (
            "https://api.example.com:443",
            "https://api.example.com/",
            true,
        ),
        (
            "http://api.example.com",
            "http://api.example.com:80/x",
            true,
        ),
        ("http://api.example.com:80", "http://api.example.com", true),
        (
            "wss://api.example.com",
            "wss://api.example.com:443/socket",
            true,
        ),
        // Another scheme, port or host is another origin.
        ("https://api.example.com", "http://api.example.com/", false),
        ("http://api.example.com", "https://api.example.com/", false),
        (
            "https://api.example.com",
            "https://api.example.com:8443/",
            false,
        ),
        (
            "https://api.example.com:8443",
            "https://api.example.com/",
            false,
        ),
        ("https://api.example.com", "https://example.com/", false),
        (
            "https://api.example.com",
            "https://api.example.com.evil.test/",
            false,
        ),
        ("https://example.com", "https://api.example.com/", false),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8081/", false),
        ("http://127.0.0.1:8080", "http://localhost:8080/", false),
        // Case does not matter in the scheme and the host.
        ("HTTPS://API.Example.COM", "https://api.example.com/", true),
        ("https://api.example.com", "HTTPS://Api.Example.Com/X", true),
        // A path, query or fragment of the allowed origin is ignored.
        (
            "https://api.example.com/v1/",
            "https://api.example.com/v2/orders",
            true,
        ),
        (
            "https://api.example.com/v1?x=1",
            "https://api.example.com/",
            true,
        ),
        // User information is ignored, on both sides.
        (
            "https://user:secret@api.example.com",
            "https://api.example.com/",
            true,
        ),
        (
            "https://api.example.com",
            "https://someone@api.example.com/",
            true,
        ),
        (
            "https://api.example.com",
            "https://api.example.com@evil.test/",
            false,
        ),
        // IPv4 and IPv6 loopback.
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080/api", true),
        ("http://[::1]:8080", "http://[::1]:8080/api", true),
        ("http://[::1]", "http://[::1]:80/", true),
        ("http://[0:0:0:0:0:0:0:1]:8080", "http://[::1]:8080/", true),
        ("http://[::1]:8080", "http://[0::1]:8080/", true),
        ("http://[::1]:8080", "http://127.0.0.1:8080/", false),
        ("http://[::1]:8080", "http://[::2]:8080/", false),
        // A URL without an origin never matches.
        ("https://api.example.com", "/v1/orders", false),
    ];

    #[test]
    fn origins_and_urls() {
        for &(allowed, url, expected) in TABLE {
            let origins = AllowedOrigins::new(allowed).unwrap();
            let url = uri(url);
            assert_eq!(
                origins.origin_of(&url).is_some(),
                expected,
                "{allowed} allows {url}?"
            );
            // The same answer as comparing the URL's own origin.
            let origin = Origin::of(&url);
            assert_eq!(
                origin.as_ref() == origins.iter().next(),
                expected,
                "{allowed} == origin of {url} ({origin:?})?"
            );
        }
    }

    #[test]
    fn strings_that_are_not_origins() {
        for input in [
            "",
            "api.example.com",
            "/v1/orders",
            "https://",
            "http://:80",
            "not a url",
            "ftp://files.example.com",
            "custom://host",
            "http://[::1",
            "http://[not-an-address]:80",
        ] {
            let error = AllowedOrigins::new(input).unwrap_err();
            assert_eq!(error.input(), input);
            assert_eq!(
                error.to_string(),
                format!("not an origin (scheme, host and port): \"{input}\"")
            );
        }
        // A scheme without a default port is an origin with a port written.
        let origin: Origin = "custom://host:7".parse().unwrap();
        assert_eq!(origin.to_string(), "custom://host:7");
    }

    #[test]
    fn an_error_never_shows_a_password() {
        let error = AllowedOrigins::new("custom://user:hunter2@host/path").unwrap_err();
        assert_eq!(
            error.to_string(),
            "not an origin (scheme, host and port): \"custom://…@host/path\""
        );
        let error = "user:hunter2@host".parse::<Origin>().unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }

    #[test]
    fn origins_are_shown_whole_and_kept_once() {
        let mut origins = AllowedOrigins::new("HTTPS://API.example.com/v1").unwrap();
        origins.allow("https://api.example.com:443").unwrap();
        origins.allow("http://[0:0::1]:8080").unwrap();
        assert_eq!(
            format!("{origins:?}"),
            "[https://api.example.com:443, http://[::1]:8080]"
        );
        let origin = origins.iter().nth(1).unwrap();
        assert_eq!(
            (origin.scheme(), origin.host(), origin.port()),
            ("http", "[::1]", 8080)
        );
        assert!(origins.allow("nowhere").is_err());
        assert_eq!(origins.iter().count(), 2);
    }

    #[test]
    fn verdicts() {
        let origin: Origin = "https://api.example.com".parse().unwrap();
        let here = uri("https://api.example.com/orders");
        let elsewhere = uri("https://other.example.com/orders");
        let none = HeaderMap::new();
        let mut scope = HeaderMap::new();
        scope.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
        );
        let mut invalid = HeaderMap::new();
        invalid.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );

        let rows: &[(&Uri, StatusCode, &HeaderMap, Verdict)] = &[
            (
                &here,
                StatusCode::UNAUTHORIZED,
                &none,
                Verdict::TokenRejected,
            ),
            (
                &here,
                StatusCode::FORBIDDEN,
                &invalid,
                Verdict::TokenRejected,
            ),
            (&here, StatusCode::FORBIDDEN, &none, Verdict::Other),
            (&here, StatusCode::UNAUTHORIZED, &scope, Verdict::Other),
            (&here, StatusCode::OK, &none, Verdict::Accepted),
            (&here, StatusCode::NO_CONTENT, &invalid, Verdict::Accepted),
            (&here, StatusCode::FOUND, &none, Verdict::Other),
            (
                &here,
                StatusCode::INTERNAL_SERVER_ERROR,
                &none,
                Verdict::Other,
            ),
            // Another origin's answer says nothing about the token.
            (
                &elsewhere,
                StatusCode::UNAUTHORIZED,
                &invalid,
                Verdict::Other,
            ),
            (&elsewhere, StatusCode::OK, &none, Verdict::Other),
        ];
        for &(answered_by, status, headers, expected) in rows {
            assert_eq!(
                origin.verdict(answered_by, status, headers),
                expected,
                "{status} from {answered_by} with {headers:?}"
            );
        }
    }
}
