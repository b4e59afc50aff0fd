//! The authorization code grant's pure pieces (RFC 6749 §4.1): the URL a person's browser
//! opens, the reading of the redirect it comes back with, and the code that the token
//! endpoint exchanges ([`Dialect::code_exchange_request`](crate::Dialect::code_exchange_request)).
//!
//! The grant is always protected by PKCE with `S256` (RFC 7636; `plain` is never sent),
//! takes loopback redirect URIs as RFC 8252 §7.3 describes them, and checks the `iss`
//! parameter of RFC 9207 against the issuer the request was made to, defeating the
//! mix-up attack. Like the rest of the crate it performs no I/O, reads no clock and
//! reads no random source: the randomness of `state` and of the code verifier is the
//! caller's, 64 bytes handed to [`AuthorizationRequestBuilder::build`].
//!
//! ```
//! use oauth_lifecycle::dialect::authorization::{AuthorizationRequest, IssParameter};
//! use oauth_lifecycle::dialect::{Dialect, Grant, Standard};
//! use oauth_lifecycle::{Policy, Purpose, Session};
//!
//! // 64 bytes from a CSPRNG, fresh for every request (`getrandom::fill(&mut entropy)`,
//! // `rand::rngs::OsRng.fill_bytes(&mut entropy)`…).
//! let mut entropy = [0u8; 64];
//! # for (i, byte) in entropy.iter_mut().enumerate() { *byte = (i as u8).wrapping_mul(151) ^ 0x5c; }
//! let request = AuthorizationRequest::builder(
//!     "https://auth.example.com/authorize",
//!     "my-app",
//!     "http://127.0.0.1:49152/callback", // where the app's loopback listener waits
//! )
//! .scope("api:read")
//! .issuer("https://auth.example.com", IssParameter::Required)
//! .build(&mut entropy)?;
//! assert_eq!(entropy, [0; 64]); // consumed: the same bytes never serve twice
//!
//! // Open `request.url()` in the person's browser; the redirect comes back to the
//! // listener as its request target:
//! # let redirect = format!(
//! #     "/callback?code=SplxlOBeZQQYbYS6WxSbIA&state={}&iss=https%3A%2F%2Fauth.example.com",
//! #     request.state()
//! # );
//! let code = request.read_redirect(&redirect)?;
//!
//! // Exchange the code: the response is a login's.
//! let dialect = Standard::builder("https://auth.example.com/token", "my-app")
//!     .grant(Grant::RefreshOnly)
//!     .build()?;
//! let exchange = dialect.code_exchange_request(&code).expect("the dialect exchanges codes");
//! assert_eq!(exchange.uri(), "https://auth.example.com/token");
//! // …send `exchange`, then read its response:
//! # let response = http::Response::builder().status(200).body(
//! #     br#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"refresh_token":"rt"}"#
//! #         .to_vec(),
//! # )?;
//! let grant = dialect
//!     .parse_token_response(Purpose::Login, &response)
//!     .map_err(|failure| failure.to_string())?; // evidence, for a session to judge
//! let now = time::UtcDateTime::now(); // the caller's clock
//! let session = Session::new(dialect, Policy::default())?
//!     .adopt(grant, now)
//!     .map_err(|(_, error)| error)?;
//! # let _ = session;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What is checked, and why:
//!
//! - **The redirect URI** must be absolute: `https`, or plain `http` on the loopback IP
//!   literals `127.0.0.1` (any `127.0.0.0/8` address) or `[::1]` (RFC 8252 §7.3; the name
//!   `localhost` is refused, §8.3), with no fragment, no user information, no port 0 and
//!   no response parameter in its query.
//! - **The redirect** is read only if it is to that URI: the same scheme, host and port
//!   (the scheme and host in any case, a default port written or not) and the same path,
//!   byte for byte. Give the port the listener was bound to when the request is built:
//!   the redirect comes back to that one.
//!   Its `state` must equal the request's, compared in constant time; an error redirect
//!   whose `state` is wrong is a [`StateMismatch`](RedirectError::StateMismatch), not a
//!   denial, since anyone can send one.
//! - **The issuer** (RFC 9207): when the request knows its issuer, an `iss` in the
//!   redirect must equal it, byte for byte, error redirects included; when the server
//!   promises to send `iss` ([`IssParameter::Required`], which
//!   [`AuthorizationRequest::from_metadata`] chooses from the server's
//!   `authorization_response_iss_parameter_supported`), a redirect without one is refused.
//! - **Every length** is bounded: the redirect ([`MAX_REDIRECT_BYTES`]), the code
//!   ([`MAX_CODE_BYTES`], RFC 6749 `VSCHAR`s only), the text an error quotes
//!   ([`MAX_EXCERPT`], [`MAX_DESCRIPTION_EXCERPT`]). A parameter sent twice is refused
//!   (RFC 6749 §3.1); parameters the client does not know are ignored (§4.1.2).
//!
//! Errors never quote the code, the `state` or the code verifier, even when a server
//! echoes them in its `error_description`: they are redacted before the excerpt is cut.
//! `Debug` shows none of them, and every copy this module holds is wiped when dropped.
//! [`AuthorizationRequest`] and [`AuthorizationCode`] serialize with their secrets, for a
//! snapshot that lets another process (or a restart) go on with the flow: store them as
//! you would store tokens.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use http::Uri;
use oauth2::{PkceCodeChallenge, PkceCodeVerifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use super::discovery::{Discovery, DiscoveryError, IssuerProblem, ServerMetadata};
use super::url::Endpoint;
use super::Secrets;
use crate::error::ConfigError;
use crate::wipe::{wipe_secret, WipedString};

/// How many bytes of entropy an [`AuthorizationRequest`] takes: the first 32 make the
/// PKCE code verifier, the last 32 the `state`.
pub const ENTROPY_BYTES: usize = 64;

/// The longest authorization code read from a redirect, in bytes.
pub const MAX_CODE_BYTES: usize = 4096;

/// The longest redirect [`AuthorizationRequest::read_redirect`] reads, in bytes: room for
/// a code of [`MAX_CODE_BYTES`] percent-encoded whole, an issuer and a description.
pub const MAX_REDIRECT_BYTES: usize = 32 * 1024;

/// The longest authorization URL built, in bytes: what every browser opens.
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// The longest redirect URI taken, in bytes.
pub const MAX_REDIRECT_URI_BYTES: usize = 2048;

/// The most characters of an error code, an issuer or a parameter's name an error
/// quotes (then `...` if it was cut).
pub const MAX_EXCERPT: usize = 64;

/// The most characters of an `error_description` or an `error_uri` an error quotes (then
/// `...` if it was cut).
pub const MAX_DESCRIPTION_EXCERPT: usize = 256;

/// The length of the code verifier and of `state`: 32 bytes in base64url without
/// padding (RFC 7636 §4.1).
const SECRET_CHARS: usize = 43;

/// What a redacted copy holds instead of a secret.
const REDACTED: &str = "[redacted]";

/// The parameters the authorization request sets itself: an endpoint's query or an
/// extra parameter may not set them again (RFC 6749 §3.1).
const REQUEST_PARAMETERS: [&str; 7] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
];

/// The parameters of an authorization response (RFC 6749 §4.1.2, RFC 9207): a redirect
/// URI's own query may not hold them.
const RESPONSE_PARAMETERS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// Whether the authorization server sends the `iss` parameter (RFC 9207) in its
/// redirects, for a request that knows its issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum IssParameter {
    /// The server promises it (`authorization_response_iss_parameter_supported`): a
    /// redirect without `iss` is refused ([`RedirectError::MissingIssuer`]).
    Required,
    /// The server may send it: when it does, it must be the issuer. The default.
    #[default]
    IfPresent,
}

mod code;
mod errors;
mod redirect;
mod request;
mod text;

pub use self::code::AuthorizationCode;
use self::code::*;
pub use self::errors::*;
use self::redirect::*;
use self::request::*;
pub use self::request::{AuthorizationRequest, AuthorizationRequestBuilder};
use self::text::*;

#[cfg(test)]
mod tests {
    use super::*;

    const APPENDIX_B_OCTETS: [u8; 32] = [
        116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37,
        77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
    ];

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = base64url(&APPENDIX_B_OCTETS);
        assert_eq!(verifier.0, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        assert_eq!(verifier.0.capacity(), SECRET_CHARS);
        assert_eq!(
            s256_challenge(&verifier.0),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn weak_entropy_is_what_no_random_source_gives() {
        let mut entropy = [0u8; ENTROPY_BYTES];
        assert!(is_weak(&entropy));
        entropy[..32].copy_from_slice(&APPENDIX_B_OCTETS);
        assert!(is_weak(&entropy), "a zero half");
        entropy[32..].copy_from_slice(&APPENDIX_B_OCTETS);
        assert!(is_weak(&entropy), "equal halves");
        entropy[63] ^= 1;
        assert!(!is_weak(&entropy));
        entropy[32..].fill(0xff);
        assert!(is_weak(&entropy), "a repeated byte");
    }

    #[test]
    fn constant_time_eq_is_eq() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn redirect_targets() {
        let target = |text: &str| RedirectTarget::parse(text);
        let ok = target("http://127.0.0.1:49152/callback").unwrap();
        assert_eq!(
            (ok.scheme, ok.host.as_str(), ok.port, ok.path.as_str()),
            ("http", "127.0.0.1", 49152, "/callback")
        );
        let ok = target("HTTPS://App.Example").unwrap();
        assert_eq!(
            (ok.scheme, ok.host.as_str(), ok.port, ok.path.as_str()),
            ("https", "app.example", 443, "/")
        );
        let ok = target("http://[::1]:8080/cb?app=1").unwrap();
        assert_eq!((ok.host.as_str(), ok.port), ("[::1]", 8080));
        assert!(ok.matches_url("http://[::1]:8080/cb"));
        assert!(!ok.matches_url("http://[::1]:8081/cb"));
        assert!(!ok.matches_url("http://127.0.0.1:8080/cb"));
        assert!(!ok.matches_url("http://u@[::1]:8080/cb"));
        assert!(target("http://127.0.0.1:80/")
            .unwrap()
            .matches_url("HTTP://127.0.0.1"));

        use RedirectUriProblem as P;
        for (text, problem) in [
            ("http://localhost:8080/cb", P::LoopbackByName),
            ("http://app.localhost/cb", P::LoopbackByName),
            ("http://app.example/cb", P::Insecure),
            ("http://127.0.0.1.evil.example/cb", P::Insecure),
            ("https://app.example/cb#x", P::Fragment),
            ("https://u:p@app.example/cb", P::UserInfo),
            ("http://127.0.0.1:0/cb", P::PortZero),
            ("com.example.app:/oauth2redirect", P::NotAbsolute),
            ("ftp://app.example/cb", P::UnsupportedScheme),
            ("/cb", P::NotAbsolute),
            ("", P::NotAbsolute),
            (
                "https://app.example/cb?state=x",
                P::ResponseParameterInQuery,
            ),
            (
                "https://app.example/cb?%63ode=x",
                P::ResponseParameterInQuery,
            ),
        ] {
            assert_eq!(target(text), Err(problem), "{text}");
        }
        let long = format!("https://app.example/{}", "a".repeat(MAX_REDIRECT_URI_BYTES));
        assert_eq!(target(&long), Err(P::TooLong));
    }

    #[test]
    fn locations() {
        let split = |text| match split_location(text) {
            (Location::Url(url), query) => ("url", url, query),
            (Location::Path(path), query) => ("path", path, query),
            (Location::Unknown, query) => ("unknown", "", query),
        };
        assert_eq!(
            split("http://h/cb?code=1"),
            ("url", "http://h/cb", "code=1")
        );
        assert_eq!(split("/cb?code=1"), ("path", "/cb", "code=1"));
        assert_eq!(split("/cb"), ("path", "/cb", ""));
        assert_eq!(split("?code=1"), ("unknown", "", "code=1"));
        assert_eq!(split("code=1&x=a://b"), ("unknown", "", "code=1&x=a://b"));
    }

    #[test]
    fn repeated_parameters_keep_no_value() {
        let read = ResponseParameters::read("code=a&code=b&state=s&x=1");
        assert!(matches!(read.code, Parameter::Repeated));
        assert!(matches!(read.state, Parameter::One(_)));
        assert_eq!(read.repeated(), Some("code"));
        assert!(read.is_response());
        assert!(!ResponseParameters::read("iss=x&other=1").is_response());
    }

    #[test]
    fn excerpts_are_short_printable_ascii() {
        assert_eq!(excerpt("a\"b\nc\u{202e}d", 64), "a?b?c?d");
        assert_eq!(excerpt(&"é".repeat(100), 3), "???...");
        let secrets = Secrets::new(["s3cret"]);
        assert_eq!(quote("x s3cret y", &secrets, 64), "x [redacted] y");
    }
}
