//! A dialect limited to the requests tokenctl has the secrets for: reading a stored
//! session needs none, a renewal by refresh token needs no password, a login needs all.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use oauth_lifecycle::dialect::authorization::{AuthorizationCode, AuthorizationRequestBuilder};
use oauth_lifecycle::dialect::{PersonLogin, RefreshTokenUse};
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::token::TokenGrant;
use oauth_lifecycle::{
    http, Dialect, Failure, FailureKind, Purpose, RefreshToken, RequestBudget, TokenKind,
};

/// Which requests a [`Limited`] dialect produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sends {
    /// None: the session is only read (`inspect`, and a stored token good enough). It
    /// reports what the session would do with the profile's credentials (so a stored
    /// session reads as it stands, backing off or rejected, not as one that cannot log
    /// in), but never produces a request.
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
        match self.sends {
            // Read only: as the session stands with its credentials. Never driven.
            Sends::Everything | Sends::Nothing => self.inner.can_login(),
            Sends::NoLogin => false,
        }
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
        let parsed = self.inner.parse_token_response(purpose, response);
        if let Err(failure) = &parsed {
            remember_refusal(purpose, failure);
        }
        parsed
    }

    fn parse_revocation_response(&self, response: &http::Response<Vec<u8>>) -> Result<(), Failure> {
        self.inner.parse_revocation_response(response)
    }

    fn sliding_lifetime(&self) -> Option<Duration> {
        self.inner.sliding_lifetime()
    }

    fn secrets(&self) -> &oauth_lifecycle::dialect::Secrets {
        self.inner.secrets()
    }

    fn request_budget(&self) -> Option<RequestBudget> {
        self.inner.request_budget()
    }

    fn person_login(&self) -> Option<PersonLogin> {
        self.inner.person_login()
    }

    /// A person's login is a login: only with every request allowed.
    fn device_authorization_request(&self) -> Option<http::Request<Vec<u8>>> {
        match self.sends {
            Sends::Everything => self.inner.device_authorization_request(),
            Sends::NoLogin | Sends::Nothing => None,
        }
    }

    fn device_token_request(&self, device_code: &str) -> Option<http::Request<Vec<u8>>> {
        match self.sends {
            Sends::Everything => self.inner.device_token_request(device_code),
            Sends::NoLogin | Sends::Nothing => None,
        }
    }

    fn authorization_request(&self, redirect_uri: &str) -> Option<AuthorizationRequestBuilder> {
        match self.sends {
            Sends::Everything => self.inner.authorization_request(redirect_uri),
            Sends::NoLogin | Sends::Nothing => None,
        }
    }

    fn code_exchange_request(&self, code: &AuthorizationCode) -> Option<http::Request<Vec<u8>>> {
        match self.sends {
            Sends::Everything => self.inner.code_exchange_request(code),
            Sends::NoLogin | Sends::Nothing => None,
        }
    }
    fn add_assertions(
        &self,
        request: &mut http::Request<Vec<u8>>,
        purpose: Purpose,
        now: UtcDateTime,
    ) -> Result<bool, oauth_lifecycle::dialect::assertion::AssertionError> {
        self.inner.add_assertions(request, purpose, now)
    }
}

/// An answer of the token endpoint that was no token, seen by this process: when it came
/// and what it was. The core's verdict on it (a retry, a rejection) comes from the
/// session; this is the evidence a message quotes when the session keeps only the verdict
/// (a rejection it retries later by itself).
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) at: UtcDateTime,
    /// What was refused: `login`, `refresh`.
    pub(crate) purpose: String,
    /// Kind, status and error code: never the server's description, which may echo what
    /// was sent.
    pub(crate) evidence: String,
}

/// The last [`Refusal`] of this process. One command per process: a global is its
/// memory, filled on the manager's thread and read by the command's.
static LAST_REFUSAL: Mutex<Option<Refusal>> = Mutex::new(None);

fn remember_refusal(purpose: Purpose, failure: &Failure) {
    let evidence = match failure.kind() {
        FailureKind::OAuth | FailureKind::Status => {
            let mut text = "endpoint error".to_owned();
            if let Some(status) = failure.status() {
                text.push_str(&format!(", status {}", status.as_u16()));
            }
            // A code of RFC 6749 §5.2 only: any other is the server's own text.
            const STANDARD: &[&str] = &[
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
            ];
            if let Some(code) = failure
                .code()
                .map(|code| code.as_ref())
                .filter(|code| STANDARD.contains(code))
            {
                text.push_str(&format!(", error {code}"));
            }
            text
        }
        // The other kinds hold no text of the server's.
        _ => failure.to_string(),
    };
    let refusal = Refusal {
        at: crate::context::now(),
        purpose: purpose.to_string(),
        evidence,
    };
    *LAST_REFUSAL.lock().unwrap_or_else(PoisonError::into_inner) = Some(refusal);
}

/// The last answer of the token endpoint in this process that was no token.
pub(crate) fn last_refusal() -> Option<Refusal> {
    LAST_REFUSAL
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}
