//! Discovery: a [`Standard`](crate::dialect::Standard) configuration from an issuer's published metadata (OpenID
//! Connect Discovery 1.0 and RFC 8414), sans-IO.
//!
//! Discovery is one request and one response. [`Discovery`] checks the issuer and builds
//! the `GET` of its metadata document; the caller sends it with whatever transport it
//! brings and hands the response to [`Discovery::read`], which checks it and returns
//! the [`ServerMetadata`]. [`ServerMetadata::standard`] turns that into a
//! [`StandardBuilder`](crate::dialect::StandardBuilder) with the token and revocation endpoints set and the client
//! authentication chosen from what the server supports.
//!
//! ```
//! use oauth_lifecycle::dialect::discovery::Discovery;
//!
//! let discovery = Discovery::new("https://auth.example.com")?;
//! let request = discovery.request();
//! assert_eq!(
//!     request.uri(),
//!     "https://auth.example.com/.well-known/openid-configuration"
//! );
//!
//! // …send `request` with your HTTP client, then hand back its response:
//! let response = http::Response::builder().status(200).body(
//!     br#"{
//!         "issuer": "https://auth.example.com",
//!         "token_endpoint": "https://auth.example.com/oauth/token",
//!         "revocation_endpoint": "https://auth.example.com/oauth/revoke",
//!         "token_endpoint_auth_methods_supported": ["client_secret_post"],
//!         "grant_types_supported": ["client_credentials", "refresh_token"]
//!     }"#
//!     .to_vec(),
//! )?;
//! let metadata = discovery.read(&response)?;
//! assert!(metadata.supports_grant("client_credentials"));
//!
//! let dialect = metadata
//!     .standard("my-client", Some("s3cret"))? // client_secret_post: all it supports
//!     .scope("api:read")
//!     .build()?;
//! assert_eq!(dialect.token_endpoint().uri(), "https://auth.example.com/oauth/token");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is checked, and why:
//!
//! - The metadata's `issuer` must equal the issuer asked for, byte for byte (RFC 8414
//!   §3.3, OpenID Connect Discovery §4.3): a document served for another issuer would
//!   send the client's credentials where an attacker chooses (the mix-up attack).
//! - Every endpoint passes the rule every dialect's endpoints pass ([`Endpoint::parse`]):
//!   `https`, or plain `http` on a loopback host only.
//! - The status must be 200 and the body at most [`MAX_METADATA_BYTES`]; a larger body is
//!   an error, never read in part.
//! - Unknown fields are ignored; a known field of the wrong type is an error naming the
//!   field. A field whose value is JSON `null` is read as absent.
//!
//! Errors quote nothing from the server but short excerpts (at most [`MAX_EXCERPT`]
//! characters, printable ASCII only): a forged document cannot flood a log or forge its
//! lines.

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{StatusCode, Uri};
use serde_json::Value;
use time::Duration;

use self::error::excerpt;
use super::request::JSON;
use super::url::Endpoint;
use crate::error::ConfigError;

/// The largest metadata document read, in bytes. Real documents are a few KiB; a larger
/// body is refused whole ([`DiscoveryError::TooLarge`]).
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// The longest issuer [`Discovery`] takes, in bytes.
pub const MAX_ISSUER_BYTES: usize = 2048;

/// The most characters of a server's text an error quotes (then `...` if it was cut).
pub const MAX_EXCERPT: usize = 64;

/// The most supported methods [`DiscoveryError::UnsupportedClientAuth`] names.
pub const MAX_LISTED_METHODS: usize = 8;

/// The most characters of one method's name [`DiscoveryError::UnsupportedClientAuth`]
/// quotes (then `...` if it was cut).
pub const MAX_METHOD_EXCERPT: usize = 32;

/// The longest wait [`DiscoveryError::retry_at`] lets a server's `Retry-After` ask for.
pub const MAX_RETRY_AFTER: Duration = Duration::hours(1);

/// The wait [`DiscoveryError::retry_at`] suggests when an unavailable server sent no
/// `Retry-After`.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::seconds(30);

/// Where an issuer publishes its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WellKnown {
    /// OpenID Connect Discovery 1.0 §4: `{issuer}/.well-known/openid-configuration`, the
    /// issuer's trailing slash, if any, dropped before the join. Served by OpenID
    /// providers, and by most OAuth servers whatever else they serve. The default.
    #[default]
    OpenIdConfiguration,
    /// RFC 8414 §3.1: `/.well-known/oauth-authorization-server` inserted between the
    /// issuer's host and its path: the issuer `https://a.example/tenant` publishes at
    /// `https://a.example/.well-known/oauth-authorization-server/tenant`.
    OAuthAuthorizationServer,
}

impl WellKnown {
    /// The registered well-known name (RFC 8615).
    pub fn name(self) -> &'static str {
        match self {
            WellKnown::OpenIdConfiguration => "openid-configuration",
            WellKnown::OAuthAuthorizationServer => "oauth-authorization-server",
        }
    }
}

/// One discovery of one issuer: the request to send and the reading of its response.
///
/// Immutable: build it once, send [`request`](Discovery::request) as often as needed
/// (after a [temporary failure](DiscoveryError::retry_at), say), read each response with
/// [`read`](Discovery::read).
///
/// ```
/// use oauth_lifecycle::dialect::discovery::{Discovery, WellKnown};
///
/// let discovery =
///     Discovery::with_well_known("https://a.example/tenant", WellKnown::OAuthAuthorizationServer)?;
/// assert_eq!(
///     discovery.url(),
///     "https://a.example/.well-known/oauth-authorization-server/tenant"
/// );
/// let request = discovery.request();
/// assert_eq!(request.method(), http::Method::GET);
/// assert_eq!(request.headers()["accept"], "application/json");
/// # Ok::<(), oauth_lifecycle::dialect::discovery::DiscoveryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovery {
    issuer: String,
    well_known: WellKnown,
    url: Uri,
}

impl Discovery {
    /// Discovery of `issuer` at its OpenID Connect location
    /// ([`WellKnown::OpenIdConfiguration`]).
    ///
    /// The issuer must be an absolute `https` URL (plain `http` only on a loopback host),
    /// with no query, no fragment and no user information, at most [`MAX_ISSUER_BYTES`]
    /// long; otherwise [`DiscoveryError::InvalidIssuer`]. It is kept exactly as given: the
    /// metadata's `issuer` must equal it byte for byte, so give it as the server writes
    /// it (with or without its trailing slash).
    pub fn new(issuer: &str) -> Result<Self, DiscoveryError> {
        Self::with_well_known(issuer, WellKnown::default())
    }

    /// Discovery of `issuer` at the given location; the issuer is checked as
    /// [`new`](Discovery::new) checks it.
    pub fn with_well_known(issuer: &str, well_known: WellKnown) -> Result<Self, DiscoveryError> {
        let invalid = |reason| DiscoveryError::InvalidIssuer { reason };
        if issuer.len() > MAX_ISSUER_BYTES {
            return Err(invalid(IssuerProblem::TooLong));
        }
        // `http::Uri` drops a fragment silently: look at the text itself.
        if issuer.contains('#') {
            return Err(invalid(IssuerProblem::Fragment));
        }
        if issuer.contains('?') {
            return Err(invalid(IssuerProblem::Query));
        }
        let endpoint = Endpoint::parse(issuer, "issuer").map_err(|error| match error {
            ConfigError::InsecureUrl { .. } => invalid(IssuerProblem::Insecure),
            _ => invalid(IssuerProblem::NotAbsolute),
        })?;
        let uri = endpoint.uri();
        let authority = uri.authority().ok_or(invalid(IssuerProblem::NotAbsolute))?;
        if authority.as_str().contains('@') {
            return Err(invalid(IssuerProblem::UserInfo));
        }
        let url = match well_known {
            WellKnown::OpenIdConfiguration => {
                let base = issuer.strip_suffix('/').unwrap_or(issuer);
                format!("{base}/.well-known/openid-configuration")
            }
            WellKnown::OAuthAuthorizationServer => {
                let path = uri.path();
                let path = path.strip_suffix('/').unwrap_or(path);
                let scheme = uri.scheme_str().unwrap_or("https");
                format!("{scheme}://{authority}/.well-known/oauth-authorization-server{path}")
            }
        };
        let url = url
            .parse::<Uri>()
            .map_err(|_| invalid(IssuerProblem::NotAbsolute))?;
        Ok(Discovery {
            issuer: issuer.to_owned(),
            well_known,
            url,
        })
    }

    /// The issuer, as given.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the metadata is looked for.
    pub fn well_known(&self) -> WellKnown {
        self.well_known
    }

    /// The metadata document's URL.
    pub fn url(&self) -> &Uri {
        &self.url
    }

    /// The request to send: a `GET` of [`url`](Discovery::url) accepting JSON, with no
    /// body and no credentials.
    ///
    /// The transport should not follow redirects: [`read`](Discovery::read) takes only
    /// a 200, and the metadata's `issuer` must be the one asked for wherever it was served.
    pub fn request(&self) -> http::Request<Vec<u8>> {
        let mut request = http::Request::new(Vec::new());
        *request.method_mut() = http::Method::GET;
        *request.uri_mut() = self.url.clone();
        request.headers_mut().insert(ACCEPT, JSON);
        request
    }

    /// Reads the response to [`request`](Discovery::request).
    ///
    /// The status must be 200 (429 and 5xx are [`DiscoveryError::Unavailable`], worth a
    /// retry; any other status is [`DiscoveryError::Status`]), the body a JSON object of at
    /// most [`MAX_METADATA_BYTES`] whose `issuer` is exactly this discovery's issuer, with
    /// a `token_endpoint`, and every endpoint `https` (or `http` on loopback). Whatever
    /// the response holds, this returns a typed error or the metadata; it never panics.
    pub fn read(
        &self,
        response: &http::Response<Vec<u8>>,
    ) -> Result<ServerMetadata, DiscoveryError> {
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            return Err(DiscoveryError::Unavailable {
                status,
                retry_after: super::response::retry_after(response),
            });
        }
        if status != StatusCode::OK {
            return Err(DiscoveryError::Status { status });
        }
        let body = response.body();
        if body.len() > MAX_METADATA_BYTES {
            return Err(DiscoveryError::TooLarge {
                limit: MAX_METADATA_BYTES,
            });
        }
        let document: Value =
            serde_json::from_slice(body).map_err(|_| DiscoveryError::NotJson {
                content_type: response
                    .headers()
                    .get(CONTENT_TYPE)
                    .map(|value| excerpt(&String::from_utf8_lossy(value.as_bytes()))),
            })?;
        let Value::Object(fields) = document else {
            return Err(DiscoveryError::NotAnObject);
        };
        ServerMetadata::from_fields(&self.issuer, &fields)
    }
}

mod error;
mod metadata;

pub use self::error::{DiscoveryError, Expected, IssuerProblem};
pub use self::metadata::ServerMetadata;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RetryAfter;

    fn ok(body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn the_two_locations_join_paths_as_their_documents_say() {
        let openid = |issuer| Discovery::new(issuer).unwrap().url().to_string();
        let oauth = |issuer| {
            Discovery::with_well_known(issuer, WellKnown::OAuthAuthorizationServer)
                .unwrap()
                .url()
                .to_string()
        };
        assert_eq!(
            openid("https://a.example"),
            "https://a.example/.well-known/openid-configuration"
        );
        assert_eq!(
            openid("https://a.example/"),
            "https://a.example/.well-known/openid-configuration"
        );
        assert_eq!(
            openid("https://a.example/realms/x/"),
            "https://a.example/realms/x/.well-known/openid-configuration"
        );
        assert_eq!(
            oauth("https://a.example"),
            "https://a.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            oauth("https://a.example/"),
            "https://a.example/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            oauth("http://127.0.0.1:8000/o"),
            "http://127.0.0.1:8000/.well-known/oauth-authorization-server/o"
        );
        assert_eq!(
            oauth("https://a.example:8443/t/1/"),
            "https://a.example:8443/.well-known/oauth-authorization-server/t/1"
        );
    }

    #[test]
    fn issuers_are_refused_for_what_is_wrong_with_them() {
        let problem = |issuer: &str| match Discovery::new(issuer) {
            Err(DiscoveryError::InvalidIssuer { reason }) => reason,
            other => panic!("{issuer}: {other:?}"),
        };
        assert_eq!(problem("http://a.example"), IssuerProblem::Insecure);
        assert_eq!(problem("https://a.example?x=1"), IssuerProblem::Query);
        assert_eq!(problem("https://a.example#f"), IssuerProblem::Fragment);
        assert_eq!(problem("https://u:p@a.example"), IssuerProblem::UserInfo);
        assert_eq!(problem("a.example"), IssuerProblem::NotAbsolute);
        assert_eq!(problem("ftp://a.example"), IssuerProblem::NotAbsolute);
        assert_eq!(problem(""), IssuerProblem::NotAbsolute);
        let long = format!("https://a.example/{}", "x".repeat(MAX_ISSUER_BYTES));
        assert_eq!(problem(&long), IssuerProblem::TooLong);
        assert!(Discovery::new("http://localhost:3000").is_ok());
        assert!(Discovery::new("http://[::1]:3000/").is_ok());
    }

    #[test]
    fn omitted_lists_read_as_their_defaults() {
        let discovery = Discovery::new("https://a.example").unwrap();
        let metadata = discovery
            .read(&ok(
                r#"{"issuer":"https://a.example","token_endpoint":"https://a.example/t"}"#,
            ))
            .unwrap();
        assert_eq!(
            metadata.token_endpoint_auth_methods_supported(),
            ["client_secret_basic"]
        );
        assert_eq!(
            metadata.grant_types_supported(),
            ["authorization_code", "implicit"]
        );
        assert!(!metadata.supports_pkce_s256());
        assert!(metadata.scopes_supported().is_none());
        assert!(!metadata.authorization_response_iss_parameter_supported());
        assert!(metadata.revocation_endpoint().is_none());
    }

    #[test]
    fn excerpts_are_short_printable_ascii() {
        assert_eq!(excerpt("a\"b\nc\u{202e}d"), "a?b?c?d");
        let long = excerpt(&"é".repeat(1000));
        assert_eq!(long, format!("{}...", "?".repeat(MAX_EXCERPT)));
    }

    #[test]
    fn retry_at_is_bounded() {
        let now = time::macros::utc_datetime!(2026-01-01 00:00:00);
        let unavailable = |retry_after| DiscoveryError::Unavailable {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after,
        };
        assert_eq!(
            unavailable(Some(RetryAfter::Seconds(u32::MAX))).retry_at(now),
            Some(now + MAX_RETRY_AFTER)
        );
        assert_eq!(
            unavailable(Some(RetryAfter::At(now - Duration::days(1)))).retry_at(now),
            Some(now)
        );
        assert_eq!(
            unavailable(Some(RetryAfter::Seconds(7))).retry_at(now),
            Some(now + Duration::seconds(7))
        );
        assert_eq!(
            unavailable(None).retry_at(now),
            Some(now + DEFAULT_RETRY_AFTER)
        );
        assert_eq!(DiscoveryError::NotAnObject.retry_at(now), None);
    }
}
