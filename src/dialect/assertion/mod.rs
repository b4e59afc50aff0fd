//! Assertions (RFC 7523): JWTs a request carries to authenticate the client
//! (`private_key_jwt`, `client_secret_jwt`, RFC 7523 §2.2) or as the grant itself (the JWT
//! bearer grant, §2.1).
//!
//! The core sets what an assertion says and when, and never holds a key: for every
//! request it sends it builds [`AssertionClaims`] from the `now` it was given and asks an
//! [`AssertionSource`] for a fresh [`Assertion`]. The source signs one (the
//! `oauth-lifecycle-jwt` crate: RS256, PS256, ES256, EdDSA, HS256) or supplies one the
//! platform issued (a Kubernetes projected service-account token, a CI system's OIDC
//! token), and adds the `jti`: a unique id needs a random source, which the core does
//! not read.
//!
//! # The rules the core keeps
//! - **A fresh assertion per request.** Each request the session emits is formed when it
//!   is emitted; a retry is a new request with a new assertion, never a resend
//!   ([`TokenRequest::is_resend_safe`](crate::TokenRequest::is_resend_safe) is `false`
//!   for a request that carries one).
//! - **Short-lived.** `iat` and `nbf` are `now`, `exp` is `now` plus the configured
//!   lifetime, bounded by [`MIN_LIFETIME`] and [`MAX_LIFETIME`] (default
//!   [`DEFAULT_LIFETIME`]).
//! - **Audience.** `aud` is the token endpoint's URL (RFC 7523 §3), or the issuer where
//!   the server wants that ([`AssertionAudience`]), on every request, revocation and
//!   device authorization included.
//! - **A supplied assertion is checked before it is sent.** Its own `exp` is read; one
//!   already expired, unreadable or missing is an [`AssertionError`], and the request
//!   fails before it leaves: the session retries on its backoff, never at once.
//! - **Never shown.** [`Assertion`]'s `Debug` names its length only; a server that
//!   quotes a JWT in an error has it replaced with `[redacted]`.

mod audience;
mod jwt;

use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use time::{Duration, UtcDateTime};
use zeroize::Zeroizing;

pub use self::audience::AssertionAudience;
pub use self::jwt::{Assertion, DecodedAssertion};
pub use crate::error::AssertionFailure;
use crate::timestamp::Rfc3339;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// `grant_type` of the JWT bearer grant (RFC 7523 §2.1).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The lifetime of an assertion the session asks for unless configured otherwise.
pub const DEFAULT_LIFETIME: Duration = Duration::seconds(60);

/// The shortest lifetime accepted: shorter would expire on the way.
pub const MIN_LIFETIME: Duration = Duration::seconds(5);

/// The longest lifetime accepted: an assertion is a one-request credential.
pub const MAX_LIFETIME: Duration = Duration::hours(1);

/// The most bytes of a supplied assertion the core accepts.
pub const MAX_ASSERTION_LEN: usize = 16 * 1024;

/// The `token_endpoint_auth_method` a source's assertions serve (RFC 7523 §2.2, OpenID
/// Connect Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssertionMethod {
    /// Signed with the client's private key (RS256, PS256, ES256, EdDSA, …).
    PrivateKeyJwt,
    /// Signed with HMAC over the client secret (HS256).
    ClientSecretJwt,
}

impl AssertionMethod {
    /// The method's name in RFC 8414 metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            AssertionMethod::PrivateKeyJwt => "private_key_jwt",
            AssertionMethod::ClientSecretJwt => "client_secret_jwt",
        }
    }
}

/// What one assertion says, set by the session for one request from the `now` it was
/// given: who issues it, about whom, for which server, and when it is valid.
///
/// The source adds the `jti` ([`to_json`](Self::to_json)). A source that supplies a
/// platform's assertion ignores the claims: the platform set its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssertionClaims {
    /// `iss`: the client id for client authentication, the configured issuer for the
    /// JWT bearer grant.
    pub issuer: String,
    /// `sub`: the client id for client authentication, the configured subject for the
    /// JWT bearer grant.
    pub subject: String,
    /// `aud`: the token endpoint's URL or the issuer ([`AssertionAudience`]).
    pub audience: String,
    /// `iat` and `nbf`: the moment the request is formed.
    pub issued_at: UtcDateTime,
    /// `exp`: `issued_at` plus the configured lifetime.
    pub expires_at: UtcDateTime,
}

/// The claims as a JWT payload, in a fixed order.
#[derive(Serialize)]
struct Payload<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
}

impl AssertionClaims {
    /// The JWT claims set (RFC 7519 §4.1) with `jti`, as JSON: `iss`, `sub`, `aud`,
    /// `jti`, `iat`, `nbf`, `exp`, the times in seconds since the epoch.
    pub fn to_json(&self, jti: &str) -> Vec<u8> {
        let payload = Payload {
            iss: &self.issuer,
            sub: &self.subject,
            aud: &self.audience,
            jti,
            iat: self.issued_at.unix_timestamp(),
            nbf: self.issued_at.unix_timestamp(),
            exp: self.expires_at.unix_timestamp(),
        };
        // Serialising strings and integers into a Vec cannot fail.
        serde_json::to_vec(&payload).unwrap_or_default()
    }
}

/// Signs or supplies the assertions a dialect's requests carry.
///
/// Called once per request, when the session forms it, with the claims the session set.
/// Return a fresh assertion each time: a signer adds a `jti` drawn from a random source
/// (128 bits or more), so that no two requests, across retries, restarts and a fleet of
/// processes, ever carry the same one. A source that supplies a platform's assertion
/// returns the platform's current one, re-read when it changed or nears its `exp`.
///
/// Errors are the source's own: a key that cannot sign, a file that is missing or holds
/// an expired token. The session does not send the request; it retries on its backoff.
/// An error's text must hold nothing secret: it is shown in events and status.
pub trait AssertionSource: fmt::Debug + Send + Sync + 'static {
    /// The client authentication method the assertions serve.
    fn method(&self) -> AssertionMethod {
        AssertionMethod::PrivateKeyJwt
    }

    /// A fresh assertion for `claims`.
    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError>;
}

impl<S: AssertionSource + ?Sized> AssertionSource for Arc<S> {
    fn method(&self) -> AssertionMethod {
        (**self).method()
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        (**self).assertion(claims)
    }
}

/// Why no assertion could be had for a request. The request is not sent: the session
/// retries on its backoff, and keeps serving a still-valid token meanwhile.
///
/// Sorted by what the operator does: [`Unavailable`](Self::Unavailable) and
/// [`Expired`](Self::Expired) are the platform's to fix (a token file not yet written or
/// not rotated), [`Malformed`](Self::Malformed) and [`Signing`](Self::Signing) the
/// configuration's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The source has no assertion: a file that is missing or unreadable, a callback
    /// that failed. `reason` names what is missing, never a secret.
    #[error("no client assertion available: {reason}")]
    Unavailable {
        /// What is missing (a path, the callback's words).
        reason: String,
    },
    /// The assertion the source supplied expired at `expired_at`, at or before the
    /// moment of the request.
    #[error("the supplied assertion expired at {}", Rfc3339(*.expired_at))]
    Expired {
        /// Its `exp`.
        expired_at: UtcDateTime,
    },
    /// The supplied assertion is not a JWT the core can read: `what` says which part.
    #[error("the supplied assertion is malformed: {what}")]
    Malformed {
        /// The part that failed.
        what: &'static str,
    },
    /// The key could not sign.
    #[error("the client assertion could not be signed: {reason}")]
    Signing {
        /// The signer's words, never the key.
        reason: String,
    },
}

impl AssertionError {
    /// The kind of failure, as the session's [`Failure`](crate::Failure) keeps it.
    pub fn kind(&self) -> AssertionFailure {
        match self {
            AssertionError::Unavailable { .. } => AssertionFailure::Unavailable,
            AssertionError::Expired { .. } => AssertionFailure::Expired,
            AssertionError::Malformed { .. } => AssertionFailure::Malformed,
            AssertionError::Signing { .. } => AssertionFailure::Signing,
        }
    }
}

/// A dialect's assertion configuration: the source, the audience rule and the lifetime,
/// and the claims' issuer and subject.
#[derive(Clone)]
pub(crate) struct AssertionConfig {
    pub(crate) source: Arc<dyn AssertionSource>,
    pub(crate) issuer: String,
    pub(crate) subject: String,
    pub(crate) audience: String,
    pub(crate) lifetime: Duration,
}

impl fmt::Debug for AssertionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssertionConfig")
            .field("source", &self.source)
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl AssertionConfig {
    /// A fresh assertion for a request formed at `now`, checked: readable, within the size
    /// cap, and not expired.
    pub(crate) fn assertion(&self, now: UtcDateTime) -> Result<Assertion, AssertionError> {
        let claims = AssertionClaims {
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            audience: self.audience.clone(),
            issued_at: now,
            expires_at: now.saturating_add(self.lifetime),
        };
        let assertion = self.source.assertion(&claims)?;
        assertion.check_usable(now)?;
        Ok(assertion)
    }

    /// Appends `&{name}={assertion}` to a form body. A JWT's characters (base64url and
    /// dots) need no form encoding.
    pub(crate) fn append(
        &self,
        body: &mut Vec<u8>,
        prefix: &[u8],
        now: UtcDateTime,
    ) -> Result<(), AssertionError> {
        let assertion = self.assertion(now)?;
        let text: Zeroizing<String> = assertion.into_compact();
        body.reserve(prefix.len() + text.len() + 1);
        if !body.is_empty() {
            body.push(b'&');
        }
        body.extend_from_slice(prefix);
        body.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// Checks a configured lifetime against [`MIN_LIFETIME`] and [`MAX_LIFETIME`].
pub(crate) fn check_lifetime(lifetime: Duration) -> Result<Duration, crate::ConfigError> {
    if (MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime) {
        Ok(lifetime)
    } else {
        Err(crate::ConfigError::InvalidSetting {
            setting: "assertion_lifetime",
            reason: "must lie between 5 seconds and 1 hour",
        })
    }
}

/// An [`AssertionSource`] that calls a function: for assertions a program obtains its own
/// way (a CI system's OIDC token service, a secrets manager, a sidecar).
///
/// ```
/// use oauth_lifecycle::dialect::assertion::{from_fn, AssertionError};
///
/// let source = from_fn("ci-oidc-token", |_claims| {
///     Err(AssertionError::Unavailable { reason: "the CI token service is down".into() })
/// });
/// assert_eq!(format!("{source:?}"), "FromFn(\"ci-oidc-token\")");
/// ```
pub fn from_fn<F>(name: &'static str, function: F) -> FromFn<F>
where
    F: Fn(&AssertionClaims) -> Result<Assertion, AssertionError> + Send + Sync + 'static,
{
    FromFn {
        name,
        function,
        method: AssertionMethod::PrivateKeyJwt,
    }
}

/// The source [`from_fn`] builds. `Debug` shows its name only.
pub struct FromFn<F> {
    name: &'static str,
    function: F,
    method: AssertionMethod,
}

impl<F> FromFn<F> {
    /// The client authentication method its assertions serve (default
    /// [`AssertionMethod::PrivateKeyJwt`]).
    pub fn method(mut self, method: AssertionMethod) -> Self {
        self.method = method;
        self
    }
}

impl<F> fmt::Debug for FromFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FromFn").field(&self.name).finish()
    }
}

impl<F> AssertionSource for FromFn<F>
where
    F: Fn(&AssertionClaims) -> Result<Assertion, AssertionError> + Send + Sync + 'static,
{
    fn method(&self) -> AssertionMethod {
        self.method
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        (self.function)(claims)
    }
}
