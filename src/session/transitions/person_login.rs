//! A person's login, from the session's side: how one starts from [`Unauthenticated`]
//! (the device grant, the authorization code grant) and how one ends without a token.
//! The states in between have their own files: `authorizing_device.rs`,
//! `awaiting_approval.rs`, `awaiting_redirect.rs`, `exchanging_code.rs`.

use time::UtcDateTime;

use crate::dialect::authorization::{AuthorizationRequest, RedirectError};
use crate::dialect::{Dialect, Secrets};
use crate::error::{Error, Failure, FailureKind, Misuse, PersonLoginEnd};
use crate::output::Event;
use crate::prompt::{BrowserPrompt, LoginPrompt};
use crate::request::{Purpose, TokenRequest};
use crate::session::states::{Backoff, Halt};
use crate::session::{
    AuthorizingDevice, AwaitingRedirect, Refused, Session, State, Unauthenticated,
};

/// A redirect the session did not exchange
/// ([`Driver::handle_redirect`](crate::Driver::handle_redirect)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectRefused {
    /// The session awaits no redirect. Nothing changed.
    #[error(transparent)]
    Misuse(#[from] Misuse),
    /// The redirect was refused. When it carried this request's `state` it answered the
    /// request, and the login ended ([`RedirectError::answers_this_request`]); otherwise
    /// it was ignored and the session still waits for the real one.
    #[error("{error}")]
    Redirect {
        /// Why it was refused.
        error: RedirectError,
        /// Whether it ended the login.
        ended: bool,
    },
}

impl<D: Dialect> Session<Unauthenticated, D> {
    /// Starts the device authorization grant (RFC 8628): emits the device authorization
    /// request. Its answer shows the person a code
    /// ([`Event::LoginPrompt`](crate::Event::LoginPrompt)), and the session polls the token
    /// endpoint until the person approves, denies, or the code expires.
    ///
    /// Refused when the dialect has no device authorization endpoint
    /// ([`Misuse::PersonLoginUnsupported`]) and while the request budget is spent
    /// ([`Misuse::TooEarly`]): polling counts against it. A backoff of automatic logins
    /// does not apply: a person is there.
    pub fn authorize_device(
        mut self,
        now: UtcDateTime,
    ) -> Result<(Session<AuthorizingDevice, D>, TokenRequest), Refused<Self>> {
        let refuse = |session, error| Err(Refused { session, error });
        if let Err(error) = self.core.check_budget(Purpose::Login, now) {
            return refuse(self, error);
        }
        let Some(request) = self.core.shared.dialect.device_authorization_request() else {
            return refuse(
                self,
                Misuse::PersonLoginUnsupported {
                    login: "the device grant",
                },
            );
        };
        let (flight, request) = self.core.emit(Purpose::Login, request, true, now);
        Ok((self.with(AuthorizingDevice { flight }, ()), request))
    }

    /// Starts the authorization code grant with `request`: built from the dialect's
    /// [`authorization_request`](Dialect::authorization_request) for the redirect URI the
    /// application listens on, and fresh entropy. Announces the URL to open
    /// ([`Event::LoginPrompt`](crate::Event::LoginPrompt)) and persists: the request (its
    /// `state` and PKCE verifier) is in the next snapshot, so a restarted process can
    /// still take the redirect. The session then waits for the redirect
    /// ([`Session::on_redirect`]) until the policy's
    /// [`person_login_timeout`](crate::Policy::person_login_timeout).
    ///
    /// Refused when the dialect cannot exchange a code
    /// ([`Misuse::PersonLoginUnsupported`]).
    pub fn authorize(
        mut self,
        request: AuthorizationRequest,
        now: UtcDateTime,
    ) -> Result<Session<AwaitingRedirect, D>, Refused<Self>> {
        if self
            .core
            .shared
            .dialect
            .authorization_request(request.redirect_uri())
            .is_none()
        {
            return Err(Refused {
                session: self,
                error: Misuse::PersonLoginUnsupported {
                    login: "the authorization code grant",
                },
            });
        }
        let expires_at = now.saturating_add(self.core.shared.policy.person_login_timeout);
        self.core
            .notify(Event::LoginPrompt(LoginPrompt::OpenBrowser(
                BrowserPrompt {
                    url: request.url().clone(),
                    expires_at,
                },
            )));
        self.core.persist();
        Ok(self.with(
            AwaitingRedirect {
                request,
                expires_at,
            },
            (),
        ))
    }
}

impl<S: State<Tokens<D::Extra> = ()>, D: Dialect> Session<S, D> {
    /// Ends a person's login without a token: the session waits, unauthenticated, for the
    /// application to start another. Announced and persisted.
    pub(super) fn end_person_login(
        mut self,
        ended: PersonLoginEnd,
        failure: Option<Failure>,
    ) -> (Session<Unauthenticated, D>, Error) {
        let halt = Halt::PersonLogin { ended, failure };
        let error = halt.to_error();
        self.core.notify(Event::PersonLoginEnded {
            error: error.clone(),
        });
        self.core.persist();
        let state = Unauthenticated {
            backoff: Backoff::default(),
            halt: Some(Box::new(halt)),
        };
        (self.with(state, ()), error)
    }

    /// Ends a person's login on a failed exchange with the token endpoint: judged (and
    /// scrubbed of every secret) as a login's failure. A temporary failure is not retried:
    /// a code is single-use, and a device authorization is started again by the person.
    pub(super) fn end_person_login_on(
        self,
        failure: Failure,
        secrets: &[&Secrets],
        now: UtcDateTime,
    ) -> (Session<Unauthenticated, D>, Error) {
        let unanswered = matches!(
            failure.kind(),
            FailureKind::Transport | FailureKind::NotSent | FailureKind::Timeout
        );
        let error = self.core.verdict(Purpose::Login, failure, 1, secrets, now);
        let ended = if unanswered {
            PersonLoginEnd::Lost
        } else {
            PersonLoginEnd::Refused
        };
        let failure = error.failure().cloned();
        self.end_person_login(ended, failure)
    }
}
