//! A dialect limited to the requests tokenctl has the secrets for: reading a stored
//! session needs none, a renewal by refresh token needs no password, a login needs all.

use std::fmt;

use oauth_lifecycle::dialect::RefreshTokenUse;
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::token::TokenGrant;
use oauth_lifecycle::{http, Dialect, Failure, Purpose, RefreshToken, RequestBudget, TokenKind};

/// Which requests a [`Limited`] dialect produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sends {
    /// None: the session is only read (`inspect`, and a stored token good enough).
    Nothing,
    /// Refreshes and revocations, no login: the password is not at hand. A session that
    /// needs a login stops with [`Status::NeedsLogin`](oauth_lifecycle::Status::NeedsLogin).
    NoLogin,
    /// Every request.
    Everything,
}

/// `inner`, producing only the requests `sends` allows. Everything else (parsing,
/// rotation, budgets, the secrets to scrub) is `inner`'s.
pub(crate) struct Limited<D> {
    inner: D,
    sends: Sends,
}

impl<D> Limited<D> {
    pub(crate) fn new(inner: D, sends: Sends) -> Self {
        Limited { inner, sends }
    }
}

impl<D: fmt::Debug> fmt::Debug for Limited<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Limited")
            .field("inner", &self.inner)
            .field("sends", &self.sends)
            .finish()
    }
}

impl<D: Dialect> Dialect for Limited<D> {
    type Extra = D::Extra;

    fn login_request(&self) -> Option<http::Request<Vec<u8>>> {
        match self.sends {
            Sends::Everything => self.inner.login_request(),
            Sends::NoLogin | Sends::Nothing => None,
        }
    }

    fn can_login(&self) -> bool {
        self.sends == Sends::Everything && self.inner.can_login()
    }

    fn login_credentials(&self) -> oauth_lifecycle::LoginCredentials {
        self.inner.login_credentials()
    }

    fn refresh_request(&self, refresh_token: &RefreshToken) -> Option<http::Request<Vec<u8>>> {
        match self.sends {
            Sends::Everything | Sends::NoLogin => self.inner.refresh_request(refresh_token),
            Sends::Nothing => None,
        }
    }

    fn refresh_token_use(&self) -> RefreshTokenUse {
        self.inner.refresh_token_use()
    }

    fn refresh_token_outlives_refresh(&self) -> bool {
        self.inner.refresh_token_outlives_refresh()
    }

    fn revocation_request(&self, token: &str, kind: TokenKind) -> Option<http::Request<Vec<u8>>> {
        match self.sends {
            Sends::Everything | Sends::NoLogin => self.inner.revocation_request(token, kind),
            Sends::Nothing => None,
        }
    }

    fn parse_token_response(
        &self,
        purpose: Purpose,
        response: &http::Response<Vec<u8>>,
    ) -> Result<TokenGrant<Self::Extra>, Failure> {
        self.inner.parse_token_response(purpose, response)
    }

    fn parse_revocation_response(&self, response: &http::Response<Vec<u8>>) -> Result<(), Failure> {
        self.inner.parse_revocation_response(response)
    }

    fn sliding_lifetime(&self) -> Option<Duration> {
        self.inner.sliding_lifetime()
    }

    fn for_each_secret(&self, visit: &mut dyn FnMut(&str)) {
        self.inner.for_each_secret(visit)
    }

    fn request_budget(&self) -> Option<RequestBudget> {
        self.inner.request_budget()
    }
}
