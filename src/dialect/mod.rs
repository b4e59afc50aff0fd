//! Provider dialects: how to phrase login, refresh and revocation requests for one kind of
//! server, and how to read its answers.
//!
//! A dialect is configuration plus pure functions. It holds the endpoints and credentials,
//! builds [`http::Request`]s and parses [`http::Response`]s; the session owns time, state
//! and every decision.
//!
//! | dialect | provider |
//! |---|---|
//! | [`Standard`] | any RFC 6749 / 7009 server |
//! | [`ConvirzaV2`] | Convirza V2: password grant, rate-limited token endpoint |
//! | [`ConvirzaV3`] | Convirza V3: JSON login, absolute expiries, sliding tokens, single-use rotation |
//! | [`Convercus`] | Convercus through Keycloak: a realm per program |
//! | [`ConvercusLegacy`] | Convercus legacy login: a 24-hour token, no refresh |
//! | [`Standard`] from [`discovery`] | any server publishing RFC 8414 or OpenID Connect Discovery metadata |
//!
//! [`authorization`] holds the authorization code grant's pieces (RFC 6749 §4.1 with PKCE,
//! RFC 8252 loopback redirects, RFC 9207 `iss`): the URL to open, the redirect to read,
//! the code that [`Dialect::code_exchange_request`] exchanges. [`device`] reads the device
//! authorization grant's answer (RFC 8628).
//!
//! `docs/providers.md` says, provider by provider, what each document leaves open and
//! which default this crate chose.
//!
//! Every provider is a row of [`providers!`](crate::providers) below, and its dialect
//! implements [`Provider`]: its name in configuration, its settings, and how it builds
//! from them. A new provider is its file, its `mod` and `pub use` lines, and its row.

pub mod assertion;
pub mod authorization;
mod convercus;
mod convercus_legacy;
mod convirza_v2;
mod convirza_v3;
pub mod device;
mod discovered;
pub mod discovery;
mod provider;
mod quote;
mod request;
mod response;
mod rfc6749;
mod url;

use std::fmt::Debug;
use std::sync::Arc;

use oauth2::RefreshToken;
use serde::{de::DeserializeOwned, Serialize};
use time::{Duration, UtcDateTime};

pub use self::convercus::{Convercus, ConvercusBuilder, Environment, KeycloakExtra};
pub use self::convercus_legacy::{ConvercusLegacy, ConvercusLegacyBuilder, TokenLocation};
pub use self::convirza_v2::{ConvirzaV2, ConvirzaV2Builder};
pub use self::convirza_v3::{ConvirzaUser, ConvirzaV3, ConvirzaV3Builder, ConvirzaV3Extra};
pub use self::provider::{check, Need, Provider, Setting, Settings};
pub use self::response::{error_failure, StandardTokenBody};
pub use self::rfc6749::{ClientAuth, Grant, Standard, StandardBuilder};
pub use self::url::Endpoint;
pub use crate::echo::Secrets;
use crate::error::Failure;
use crate::policy::{LoginCredentials, RequestBudget};
use crate::request::{Purpose, TokenKind};
use crate::token::TokenGrant;

/// Calls `$callback! { Name: path, ... }` with every provider the crate speaks, one row
/// each: the name of its dialect type and the type's path. Everything else about a
/// provider comes from its [`Provider`](crate::dialect::Provider) impl.
///
/// ```
/// use oauth_lifecycle::dialect::Provider;
///
/// macro_rules! names {
///     ($($name:ident: $dialect:path),* $(,)?) => {
///         [$(<$dialect as Provider>::NAME),*]
///     };
/// }
/// let names = oauth_lifecycle::providers!(names);
/// assert!(names.contains(&"convercus-legacy"));
/// ```
#[macro_export]
macro_rules! providers {
    ($callback:ident) => {
        $callback! {
            Standard: $crate::dialect::Standard,
            ConvirzaV2: $crate::dialect::ConvirzaV2,
            ConvirzaV3: $crate::dialect::ConvirzaV3,
            Convercus: $crate::dialect::Convercus,
            ConvercusLegacy: $crate::dialect::ConvercusLegacy,
        }
    };
}

/// Implements the [`Dialect`] methods of a provider that speaks RFC 6749 through its
/// `standard` field, with credentials configured (it can always log in).
macro_rules! delegate_to_standard {
    () => {
        fn login_request(&self) -> Option<http::Request<Vec<u8>>> {
            self.standard.login_request()
        }

        fn can_login(&self) -> bool {
            true
        }

        fn refresh_request(&self, refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>> {
            self.standard.refresh_request(refresh_token)
        }

        fn refresh_token_use(&self) -> RefreshTokenUse {
            self.standard.refresh_token_use()
        }

        fn secrets(&self) -> &$crate::dialect::Secrets {
            self.standard.secrets()
        }

        fn login_credentials(&self) -> LoginCredentials {
            self.standard.login_credentials()
        }

        fn person_login(&self) -> Option<$crate::dialect::PersonLogin> {
            self.standard.person_login()
        }

        fn device_authorization_request(&self) -> Option<http::Request<Vec<u8>>> {
            self.standard.device_authorization_request()
        }

        fn device_token_request(&self, device_code: &str) -> Option<http::Request<Vec<u8>>> {
            self.standard.device_token_request(device_code)
        }

        fn authorization_request(
            &self,
            redirect_uri: &str,
        ) -> Option<$crate::dialect::authorization::AuthorizationRequestBuilder> {
            self.standard.authorization_request(redirect_uri)
        }

        fn code_exchange_request(
            &self,
            code: &$crate::dialect::authorization::AuthorizationCode,
        ) -> Option<http::Request<Vec<u8>>> {
            self.standard.code_exchange_request(code)
        }

        fn add_assertions(
            &self,
            request: &mut http::Request<Vec<u8>>,
            purpose: $crate::Purpose,
            now: time::UtcDateTime,
        ) -> Result<bool, $crate::dialect::assertion::AssertionError> {
            self.standard.add_assertions(request, purpose, now)
        }
    };
}
use delegate_to_standard;

/// Whether a refresh token may be presented more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefreshTokenUse {
    /// Spent the moment its request is sent, even if the response is lost: never resent.
    /// After a refresh whose outcome is unknown, the session logs in again instead. The
    /// safe choice for servers that rotate refresh tokens and punish reuse by revoking the
    /// whole grant (RFC 9700 §4.14.2).
    SingleUse,
    /// Stays valid until it expires or the server issues a replacement: a failed refresh
    /// may be retried with it.
    Reusable,
}

/// The login a person performs, for a dialect configured for one
/// ([`Dialect::person_login`]): the session never starts it by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PersonLogin {
    /// The device authorization grant (RFC 8628): the person enters a code on another
    /// device.
    DeviceCode,
    /// The authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636): the person logs
    /// in in a browser, which comes back to a loopback redirect URI (RFC 8252).
    AuthorizationCode,
}

/// One provider's way of speaking OAuth.
///
/// Implementations are immutable configuration; the session shares one behind an `Arc`.
pub trait Dialect: Debug + Send + Sync + 'static {
    /// Provider-specific fields of a token response, kept with the token set.
    type Extra: ExtraFields;

    /// The request that logs in with the configured credentials, or `None` when the
    /// dialect has none (a session adopted from tokens obtained elsewhere).
    fn login_request(&self) -> Option<http::Request<Vec<u8>>>;

    /// Whether [`login_request`](Dialect::login_request) produces a request. Override when
    /// building one is costly.
    fn can_login(&self) -> bool {
        self.login_request().is_some()
    }

    /// Whose secret the login presents: a person's password is retried less after a
    /// rejection, to spare the account's lockout ([`RejectedLoginRetry`](crate::RejectedLoginRetry)).
    /// The default, [`LoginCredentials::Client`], suits grants that present only the
    /// client's own credentials.
    fn login_credentials(&self) -> LoginCredentials {
        LoginCredentials::Client
    }

    /// The request that exchanges `refresh_token` for a new token, or `None` when the
    /// provider has no refresh (renewal is then a new login).
    fn refresh_request(&self, refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>>;

    /// Whether the provider's refresh tokens may be presented twice.
    fn refresh_token_use(&self) -> RefreshTokenUse {
        RefreshTokenUse::SingleUse
    }

    /// Whether a refresh token stays in use after a successful refresh whose answer carries
    /// no new one. The default, `true`, is RFC 6749 §6: the client replaces its refresh
    /// token only when the server issues a new one, whatever
    /// [`refresh_token_use`](Dialect::refresh_token_use) says (that setting only decides
    /// whether a refresh whose outcome is unknown may be sent again). A provider whose
    /// documents say a refresh token never serves twice returns `false`, and the next
    /// renewal is then a login.
    fn refresh_token_outlives_refresh(&self) -> bool {
        true
    }

    /// The request that revokes `token`, or `None` when the provider has no revocation.
    fn revocation_request(&self, token: &str, kind: TokenKind) -> Option<http::Request<Vec<u8>>>;

    /// Reads the response to a login or refresh request (`purpose` says which: some
    /// providers answer both with the same status for different reasons).
    ///
    /// Errors are evidence only; the session decides what they mean. The body has already
    /// been checked against the size cap.
    fn parse_token_response(
        &self,
        purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<Self::Extra>, Failure>;

    /// Reads a revocation response. The default accepts any 2xx (RFC 7009 §2.2: the
    /// content is ignored) and reads anything else as an error.
    fn parse_revocation_response(&self, response: &http::Response<Vec<u8>>) -> Result<(), Failure> {
        if response.status().is_success() {
            Ok(())
        } else {
            Err(error_failure(response))
        }
    }

    /// For providers whose access token's expiry slides forward with each authenticated
    /// call: the lifetime a successful call grants. `None` (the default) for fixed expiry.
    fn sliding_lifetime(&self) -> Option<Duration> {
        None
    }

    /// Every credential the dialect holds (passwords, client secrets), with the forms a
    /// server might echo them in: the session keeps them out of the error descriptions
    /// and granted scopes it shows. Build the set once, when the dialect is configured
    /// ([`Secrets::new`]); the default, [`Secrets::none`], is for dialects that hold none.
    fn secrets(&self) -> &Secrets {
        Secrets::none()
    }

    /// The cap on the session's own logins and refreshes, for providers that rate-limit
    /// their token endpoint. `None` (the default) for no cap.
    fn request_budget(&self) -> Option<RequestBudget> {
        None
    }

    /// The login a person performs, when the dialect is configured for one: the session
    /// then never logs in by itself, and its status says a person must
    /// ([`Error::PersonLogin`](crate::Error::PersonLogin)). `None` (the default) for
    /// dialects that log in with configured credentials, or not at all.
    fn person_login(&self) -> Option<PersonLogin> {
        None
    }

    /// The device authorization request (RFC 8628 §3.1), or `None` without a device
    /// authorization endpoint. Its answer is read by
    /// [`device::read_device_authorization`].
    fn device_authorization_request(&self) -> Option<http::Request<Vec<u8>>> {
        None
    }

    /// The token request that polls with `device_code` (RFC 8628 §3.4), or `None`
    /// without the device grant. Its answer is read by
    /// [`parse_token_response`](Dialect::parse_token_response) as a login's.
    fn device_token_request(&self, device_code: &str) -> Option<http::Request<Vec<u8>>> {
        let _ = device_code;
        None
    }

    /// The authorization request (RFC 6749 §4.1.1) to `redirect_uri`, to finish with the
    /// caller's entropy, or `None` without an authorization endpoint.
    fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Option<authorization::AuthorizationRequestBuilder> {
        let _ = redirect_uri;
        None
    }

    /// The request that exchanges `code` for tokens (RFC 6749 §4.1.3 with the PKCE
    /// `code_verifier`, RFC 7636 §4.5), or `None` without the authorization code grant.
    /// Its answer is read by [`parse_token_response`](Dialect::parse_token_response) as a
    /// login's.
    ///
    /// A code is single-use and is not resend-safe: send the request once (a server that
    /// sees a code twice should revoke the tokens it issued for it, RFC 6749 §4.1.2).
    fn code_exchange_request(
        &self,
        code: &authorization::AuthorizationCode,
    ) -> Option<http::Request<Vec<u8>>> {
        let _ = code;
        None
    }

    /// Adds what a request can carry only once it is sent: a client assertion
    /// (`private_key_jwt`, `client_secret_jwt`) and the JWT bearer grant's assertion
    /// ([`assertion`]). The session calls it on every request it emits, at the moment it
    /// emits it, with that `now`; a retry is a new request and gets a new assertion.
    ///
    /// Returns whether the request now carries an assertion: it is then never resend-safe
    /// (a resend would present its `jti` twice). An error means no assertion could be
    /// had: the session does not send the request and retries on its backoff. The
    /// default adds nothing, for dialects whose requests are complete when built.
    fn add_assertions(
        &self,
        request: &mut http::Request<Vec<u8>>,
        purpose: Purpose,
        now: UtcDateTime,
    ) -> Result<bool, assertion::AssertionError> {
        let _ = (request, purpose, now);
        Ok(false)
    }
}

/// A dialect's extra token-response fields: stored with the token set, persisted in
/// snapshots.
pub trait ExtraFields:
    Clone + Debug + PartialEq + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Replaces every secret the fields hold with a placeholder, for a snapshot that can
    /// be logged. The default does nothing: for fields that hold no secret.
    fn redact(&mut self) {}
}

impl ExtraFields for () {}

/// A dialect shared by many sessions: configure once, `Arc::clone` per session.
impl<D: Dialect> Dialect for Arc<D> {
    type Extra = D::Extra;

    fn login_request(&self) -> Option<http::Request<Vec<u8>>> {
        (**self).login_request()
    }

    fn can_login(&self) -> bool {
        (**self).can_login()
    }

    fn login_credentials(&self) -> LoginCredentials {
        (**self).login_credentials()
    }

    fn refresh_request(&self, refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>> {
        (**self).refresh_request(refresh_token)
    }

    fn refresh_token_use(&self) -> RefreshTokenUse {
        (**self).refresh_token_use()
    }

    fn refresh_token_outlives_refresh(&self) -> bool {
        (**self).refresh_token_outlives_refresh()
    }

    fn revocation_request(&self, token: &str, kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        (**self).revocation_request(token, kind)
    }

    fn parse_token_response(
        &self,
        purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<Self::Extra>, Failure> {
        (**self).parse_token_response(purpose, response)
    }

    fn parse_revocation_response(&self, response: &http::Response<Vec<u8>>) -> Result<(), Failure> {
        (**self).parse_revocation_response(response)
    }

    fn sliding_lifetime(&self) -> Option<Duration> {
        (**self).sliding_lifetime()
    }

    fn request_budget(&self) -> Option<RequestBudget> {
        (**self).request_budget()
    }

    fn secrets(&self) -> &Secrets {
        (**self).secrets()
    }

    fn person_login(&self) -> Option<PersonLogin> {
        (**self).person_login()
    }

    fn device_authorization_request(&self) -> Option<http::Request<Vec<u8>>> {
        (**self).device_authorization_request()
    }

    fn device_token_request(&self, device_code: &str) -> Option<http::Request<Vec<u8>>> {
        (**self).device_token_request(device_code)
    }

    fn authorization_request(
        &self,
        redirect_uri: &str,
    ) -> Option<authorization::AuthorizationRequestBuilder> {
        (**self).authorization_request(redirect_uri)
    }

    fn code_exchange_request(
        &self,
        code: &authorization::AuthorizationCode,
    ) -> Option<http::Request<Vec<u8>>> {
        (**self).code_exchange_request(code)
    }

    fn add_assertions(
        &self,
        request: &mut http::Request<Vec<u8>>,
        purpose: Purpose,
        now: UtcDateTime,
    ) -> Result<bool, assertion::AssertionError> {
        (**self).add_assertions(request, purpose, now)
    }
}
