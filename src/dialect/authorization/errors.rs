//! What a configuration, a redirect URI or a redirect is refused for.

use super::*;

/// What is wrong with a redirect URI given to an [`AuthorizationRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RedirectUriProblem {
    /// It is not an absolute URL.
    NotAbsolute,
    /// Its scheme is neither `https` nor `http` (private-use schemes, RFC 8252 §7.1, are
    /// not supported).
    UnsupportedScheme,
    /// It is plain `http` on a host that is not a loopback IP literal.
    Insecure,
    /// It is plain `http` on `localhost`: RFC 8252 §8.3 asks for `127.0.0.1` or `[::1]`,
    /// which no resolver or firewall rule can send elsewhere.
    LoopbackByName,
    /// It has a fragment (RFC 6749 §3.1.2).
    Fragment,
    /// It has user information (`user:password@`).
    UserInfo,
    /// Its port is 0: bind the listener first and give the port it was given.
    PortZero,
    /// Its query holds a parameter of the authorization response (`code`, `state`,
    /// `iss`, `error`, `error_description`, `error_uri`).
    ResponseParameterInQuery,
    /// It is longer than [`MAX_REDIRECT_URI_BYTES`].
    TooLong,
}

impl fmt::Display for RedirectUriProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RedirectUriProblem::NotAbsolute => "is not an absolute URL",
            RedirectUriProblem::UnsupportedScheme => "must use https, or http on loopback",
            RedirectUriProblem::Insecure => {
                "must use https (plain http is allowed only on 127.0.0.1 or [::1], RFC 8252)"
            }
            RedirectUriProblem::LoopbackByName => {
                "must name the loopback address 127.0.0.1 or [::1], not localhost (RFC 8252 §8.3)"
            }
            RedirectUriProblem::Fragment => "must have no fragment",
            RedirectUriProblem::UserInfo => "must have no user information",
            RedirectUriProblem::PortZero => "has port 0: give the port the listener was bound to",
            RedirectUriProblem::ResponseParameterInQuery => {
                "has a parameter of the authorization response in its query"
            }
            RedirectUriProblem::TooLong => {
                return write!(f, "is longer than {MAX_REDIRECT_URI_BYTES} bytes");
            }
        })
    }
}

/// Why an [`AuthorizationRequest`] could not be made, sorted by what the caller does
/// about it:
///
/// - **Fix the configuration**: every variant but the two below.
/// - **Fix the program**: [`WeakEntropy`](AuthorizationRequestError::WeakEntropy):
///   the entropy is not fresh from a CSPRNG.
/// - **The stored request is corrupt**:
///   [`InvalidStoredSecret`](AuthorizationRequestError::InvalidStoredSecret), from
///   deserializing only: start a new request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizationRequestError {
    // Fix the configuration.
    /// The authorization endpoint is not an absolute URL, or has a fragment.
    #[error("the authorization endpoint is not a valid absolute URL without a fragment")]
    InvalidAuthorizationEndpoint,
    /// The authorization endpoint is plain `http` on a host that is not loopback.
    #[error(
        "the authorization endpoint must use https (plain http is allowed only on loopback hosts)"
    )]
    InsecureAuthorizationEndpoint,
    /// The server's metadata has no `authorization_endpoint`.
    #[error("the server's metadata has no authorization_endpoint")]
    NoAuthorizationEndpoint,
    /// The server's metadata lists `code_challenge_methods_supported` without `S256`, the
    /// only method this crate sends.
    #[error("the server does not support PKCE with S256, the only method this crate sends")]
    PkceS256Unsupported,
    /// The client id is empty or not printable ASCII.
    #[error("the client_id is empty or has characters outside printable ASCII")]
    InvalidClientId,
    /// The redirect URI cannot be used.
    #[error("the redirect URI {problem}")]
    InvalidRedirectUri {
        /// What is wrong with it.
        problem: RedirectUriProblem,
    },
    /// A scope is empty or has a character RFC 6749 §3.3 does not allow in one.
    #[error(
        "a scope is empty or has a character a scope cannot have (a space, a quote, a backslash or a non-ASCII character)"
    )]
    InvalidScope,
    /// An extra parameter, or the endpoint's own query, sets a parameter the request
    /// sets itself.
    #[error("the parameter \"{name}\" is one the authorization request sets itself")]
    ReservedParameter {
        /// The parameter's name (at most [`MAX_EXCERPT`] characters of it).
        name: String,
    },
    /// The issuer cannot be checked against.
    #[error("the issuer {reason}")]
    InvalidIssuer {
        /// What is wrong with it.
        reason: IssuerProblem,
    },
    /// The URL would be longer than [`MAX_URL_BYTES`]: fewer scopes or parameters.
    #[error("the authorization URL would be longer than {limit} bytes")]
    UrlTooLong {
        /// The limit, in bytes.
        limit: usize,
    },

    // Fix the program.
    /// The entropy is not what a random source gives: a half of one repeated byte (all
    /// zeros: never filled, or already used), or two equal halves. Fill it from a CSPRNG
    /// for every request.
    #[error(
        "the entropy is not random (a repeated byte, or equal halves): fill it from a CSPRNG for every request"
    )]
    WeakEntropy,

    // The stored request is corrupt.
    /// A deserialized request's `state` or code verifier is not what this module makes
    /// (43 base64url characters), or it requires `iss` without an issuer.
    #[error("the stored authorization request's secrets are not ones this crate makes")]
    InvalidStoredSecret,
}

/// The `error` of an error redirect (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthorizationErrorCode {
    /// `access_denied`: the person (or the server's policy) said no.
    AccessDenied,
    /// `invalid_request`: the request is malformed.
    InvalidRequest,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_response_type`: the server issues no codes this way.
    UnsupportedResponseType,
    /// `invalid_scope`: a scope asked for is unknown or not allowed.
    InvalidScope,
    /// `server_error`: the server failed.
    ServerError,
    /// `temporarily_unavailable`: the server is overloaded or in maintenance.
    TemporarilyUnavailable,
    /// Any other code (OpenID Connect's `login_required`…): at most [`MAX_EXCERPT`]
    /// characters of it, printable ASCII.
    Other(String),
}

impl AuthorizationErrorCode {
    pub(super) fn read(code: &str, secrets: &Secrets) -> Self {
        match code {
            "access_denied" => AuthorizationErrorCode::AccessDenied,
            "invalid_request" => AuthorizationErrorCode::InvalidRequest,
            "unauthorized_client" => AuthorizationErrorCode::UnauthorizedClient,
            "unsupported_response_type" => AuthorizationErrorCode::UnsupportedResponseType,
            "invalid_scope" => AuthorizationErrorCode::InvalidScope,
            "server_error" => AuthorizationErrorCode::ServerError,
            "temporarily_unavailable" => AuthorizationErrorCode::TemporarilyUnavailable,
            other => AuthorizationErrorCode::Other(quote(other, secrets, MAX_EXCERPT)),
        }
    }

    /// The code as the server wrote it (an excerpt, for [`Other`](Self::Other)).
    pub fn as_str(&self) -> &str {
        match self {
            AuthorizationErrorCode::AccessDenied => "access_denied",
            AuthorizationErrorCode::InvalidRequest => "invalid_request",
            AuthorizationErrorCode::UnauthorizedClient => "unauthorized_client",
            AuthorizationErrorCode::UnsupportedResponseType => "unsupported_response_type",
            AuthorizationErrorCode::InvalidScope => "invalid_scope",
            AuthorizationErrorCode::ServerError => "server_error",
            AuthorizationErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            AuthorizationErrorCode::Other(code) => code,
        }
    }

    /// Whether asking again later may succeed (`server_error`,
    /// `temporarily_unavailable`).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            AuthorizationErrorCode::ServerError | AuthorizationErrorCode::TemporarilyUnavailable
        )
    }
}

impl fmt::Display for AuthorizationErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Bounded again: the field is public.
            AuthorizationErrorCode::Other(code) => write!(f, "\"{}\"", excerpt(code, MAX_EXCERPT)),
            known => f.write_str(known.as_str()),
        }
    }
}

/// Why a redirect gave no code, sorted by what the caller does about it
/// ([`answers_this_request`](RedirectError::answers_this_request) tells the first group
/// from the others):
///
/// - **Not shown to be this request's answer: ignore it, keep waiting** (a stray request
///   to the listener, a stale browser tab, a forgery): [`TooLong`](RedirectError::TooLong)
///   to [`StateMismatch`](RedirectError::StateMismatch), and a
///   [`Duplicate`](RedirectError::Duplicate) `state`. A
///   [`ResponseInFragment`](RedirectError::ResponseInFragment) that keeps coming is a
///   configuration problem (the server's `response_mode`).
/// - **The server refused: show it, start over**: [`Denied`](RedirectError::Denied)
///   ([`AuthorizationErrorCode::is_temporary`] says whether later may do).
/// - **This request's answer, unusable: start a new request, and suspect an attack**:
///   [`MissingIssuer`](RedirectError::MissingIssuer) and
///   [`IssuerMismatch`](RedirectError::IssuerMismatch) (the mix-up attack, RFC 9207), the
///   other [`Duplicate`](RedirectError::Duplicate)s,
///   [`MissingCode`](RedirectError::MissingCode) to
///   [`CodeTooLong`](RedirectError::CodeTooLong).
///
/// Messages never quote the code, the `state` or the verifier, and quote a server's
/// text only as excerpts of printable ASCII ([`MAX_EXCERPT`],
/// [`MAX_DESCRIPTION_EXCERPT`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectError {
    // Ignore it, keep waiting.
    /// The redirect is longer than [`MAX_REDIRECT_BYTES`].
    #[error("the redirect is longer than {limit} bytes")]
    TooLong {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The redirect is not to the request's redirect URI (scheme, host, port or path).
    #[error("the redirect is not to this request's redirect URI")]
    WrongRedirectUri,
    /// The response is in the redirect's fragment, not its query: the server was asked
    /// (or chose) a `response_mode` this module does not read.
    #[error("the authorization response is in the redirect's fragment, not its query")]
    ResponseInFragment,
    /// The redirect has no `state`.
    #[error("the redirect has no state parameter")]
    MissingState,
    /// The redirect's `state` is not this request's: an answer to another request, or a
    /// forgery (RFC 6749 §10.12).
    #[error("the redirect's state is not this request's")]
    StateMismatch,
    /// A parameter of the response is sent more than once (RFC 6749 §3.1).
    #[error("the redirect has more than one {parameter} parameter")]
    Duplicate {
        /// The parameter's name.
        parameter: &'static str,
    },

    // The server refused.
    /// An error redirect with this request's `state` (RFC 6749 §4.1.2.1).
    #[error(
        "the authorization server refused the request with error {error}{}{}",
        Quoted(": ", description.as_deref(), MAX_DESCRIPTION_EXCERPT),
        Quoted(", see ", uri.as_deref(), MAX_DESCRIPTION_EXCERPT)
    )]
    Denied {
        /// `error`.
        error: AuthorizationErrorCode,
        /// An excerpt of `error_description` (at most [`MAX_DESCRIPTION_EXCERPT`]
        /// characters, printable ASCII, secrets redacted).
        description: Option<String>,
        /// An excerpt of `error_uri`, as `description` is.
        uri: Option<String>,
    },

    // This request's answer, unusable.
    /// The redirect has no `iss`, which the server promises to send (RFC 9207 §2.4).
    ///
    /// Some servers that advertise `iss` leave it out of error redirects
    /// (django-oauth-toolkit 3.4.1 does, when the person cancels): RFC 9207 asks that
    /// such an answer be refused, so a person's "no" reads as this. For such a server,
    /// build the request with [`IssParameter::IfPresent`](super::IssParameter::IfPresent):
    /// an `iss` that is sent is still checked.
    #[error(
        "the redirect has no iss parameter, which the authorization server promises (RFC 9207)"
    )]
    MissingIssuer,
    /// The redirect's `iss` is not the issuer the request was made to: the response may
    /// come from another server (the mix-up attack, RFC 9207 §2.4).
    #[error("the redirect's iss \"{found}\" is not the issuer the request was made to (RFC 9207)")]
    IssuerMismatch {
        /// An excerpt of the `iss` found (at most [`MAX_EXCERPT`] characters).
        found: String,
    },
    /// The redirect has this request's `state` but neither a `code` nor an `error`.
    #[error("the redirect has no code parameter")]
    MissingCode,
    /// The code is empty or has a character outside printable ASCII (RFC 6749
    /// Appendix A.11).
    #[error("the redirect's code is empty or has characters outside printable ASCII")]
    InvalidCode,
    /// The code is longer than [`MAX_CODE_BYTES`].
    #[error("the redirect's code is longer than {limit} bytes")]
    CodeTooLong {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl RedirectError {
    /// Whether the redirect carried this request's `state`: `true` means the request is
    /// spent (it was answered, if unusably) and a new one must be made; `false` means
    /// the redirect is not shown to be its answer, and the request may still be
    /// answered.
    pub fn answers_this_request(&self) -> bool {
        match self {
            RedirectError::TooLong { .. }
            | RedirectError::WrongRedirectUri
            | RedirectError::ResponseInFragment
            | RedirectError::MissingState
            | RedirectError::StateMismatch => false,
            RedirectError::Duplicate { parameter } => *parameter != "state",
            RedirectError::Denied { .. }
            | RedirectError::MissingIssuer
            | RedirectError::IssuerMismatch { .. }
            | RedirectError::MissingCode
            | RedirectError::InvalidCode
            | RedirectError::CodeTooLong { .. } => true,
        }
    }
}

/// An optional quoted excerpt after a separator, as [`RedirectError::Denied`] shows it.
pub(super) struct Quoted<'a>(&'a str, Option<&'a str>, usize);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            // Bounded again: the fields are public.
            Some(text) => write!(f, "{}\"{}\"", self.0, excerpt(text, self.2)),
            None => Ok(()),
        }
    }
}
