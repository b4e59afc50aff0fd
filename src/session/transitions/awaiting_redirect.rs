//! AwaitingRedirect: a person logs in in a browser; the session waits for the redirect.

use time::UtcDateTime;

use crate::dialect::authorization::{AuthorizationErrorCode, RedirectError};
use crate::dialect::Dialect;
use crate::error::{Misuse, PersonLoginEnd};
use crate::output::Status;
use crate::prompt::{BrowserPrompt, LoginPrompt};
use crate::request::{Purpose, TokenRequest};
use crate::session::{AwaitingRedirect, ExchangingCode, RedirectRefused, Session, Unauthenticated};

/// A redirect the session did not exchange, with the session after it.
#[derive(Debug)]
#[must_use = "the session moved into the returned value"]
pub enum RedirectRefusal<D: Dialect> {
    /// The redirect is not shown to answer this request (a wrong `state`, another
    /// path): ignored, and the session still waits for the real one.
    Ignored(Session<AwaitingRedirect, D>, RedirectError),
    /// The redirect answered this request, unusably (an error redirect, a wrong `iss`, no
    /// code): the login ended.
    Ended(Session<Unauthenticated, D>, RedirectError),
    /// The code's exchange could not carry its client assertion and was not sent
    /// ([`Misuse::NoAssertion`]): the login ended ([`PersonLoginEnd::Lost`]).
    Unsent(Session<Unauthenticated, D>, Misuse),
}

impl<D: Dialect> Session<AwaitingRedirect, D> {
    /// Where the session stands: awaiting the person, who logs in in a browser.
    pub fn status(&self) -> Status {
        Status::AwaitingPerson {
            prompt: LoginPrompt::OpenBrowser(self.prompt()),
        }
    }

    /// The URL to open, and until when the redirect is waited for.
    pub fn prompt(&self) -> BrowserPrompt {
        BrowserPrompt {
            url: self.state.request.url().clone(),
            expires_at: self.state.expires_at,
        }
    }

    /// The redirect URI the person's browser comes back to.
    pub fn redirect_uri(&self) -> &str {
        self.state.request.redirect_uri()
    }

    /// Hands back the redirect: its request target (`/callback?code=…&state=…`) or the
    /// whole URI, as the application's listener received it.
    ///
    /// Checked as [`AuthorizationRequest::read_redirect`](crate::dialect::authorization::AuthorizationRequest::read_redirect)
    /// does (the redirect URI, `state`, RFC 9207 `iss`, the code's syntax and size). A
    /// code is exchanged at once: the exchange is persisted before it is sent
    /// ([`Output::Persist`](crate::Output::Persist) comes first), and whatever happens to
    /// it, it is never sent again. An error redirect with this request's `state` ends the
    /// login ([`PersonLoginEnd::Denied`] for `access_denied`, else
    /// [`PersonLoginEnd::Redirect`]); a redirect not shown to be this request's answer is
    /// ignored ([`RedirectRefusal::Ignored`]).
    pub fn on_redirect(
        mut self,
        target: &str,
        now: UtcDateTime,
    ) -> Result<(Session<ExchangingCode, D>, TokenRequest), RedirectRefusal<D>> {
        let code = match self.state.request.read_redirect(target) {
            Ok(code) => code,
            Err(error) if !error.answers_this_request() => {
                return Err(RedirectRefusal::Ignored(self, error))
            }
            Err(error) => {
                let ended = match &error {
                    RedirectError::Denied {
                        error: AuthorizationErrorCode::AccessDenied,
                        ..
                    } => PersonLoginEnd::Denied,
                    _ => PersonLoginEnd::Redirect,
                };
                let (session, _) = self.end_person_login(ended, None);
                return Err(RedirectRefusal::Ended(session, error));
            }
        };
        let Some(request) = self.core.shared.dialect.code_exchange_request(&code) else {
            // `authorize` checked the dialect: only a dialect that changed its mind.
            let (session, _) = self.end_person_login(PersonLoginEnd::Refused, None);
            return Err(RedirectRefusal::Ended(session, RedirectError::MissingCode));
        };
        let sent = Box::new(code.secrets());
        let (flight, request) = self.core.emit(Purpose::Login, request, false, now);
        self.core.persist();
        let session = self.with(ExchangingCode { flight, sent }, ());
        match request {
            Ok(request) => Ok((session, request)),
            Err(failure) => {
                let error = failure.no_assertion(Purpose::Login);
                // Nothing reached the server: no answer can echo the code.
                let (session, _) = session.end_person_login_on(failure, &[], now);
                Err(RedirectRefusal::Unsent(session, error))
            }
        }
    }

    /// Shows the session the time: past the deadline, the login ends
    /// ([`PersonLoginEnd::Expired`]).
    pub fn on_timeout(self, now: UtcDateTime) -> crate::Step<Self, Session<Unauthenticated, D>> {
        if now < self.state.expires_at {
            return crate::Step::Same(self);
        }
        crate::Step::Next(self.end_person_login(PersonLoginEnd::Expired, None).0)
    }

    /// Abandons the login (the listener timed out, the person went away): the session
    /// waits, unauthenticated, for a new one.
    pub fn cancel(self, _now: UtcDateTime) -> Session<Unauthenticated, D> {
        self.end_person_login(PersonLoginEnd::Cancelled, None).0
    }
}

impl<D: Dialect> RedirectRefusal<D> {
    /// The refusal as the driver reports it.
    pub(crate) fn error(&self) -> RedirectRefused {
        match self {
            RedirectRefusal::Ignored(_, error) => RedirectRefused::Redirect {
                error: error.clone(),
                ended: false,
            },
            RedirectRefusal::Ended(_, error) => RedirectRefused::Redirect {
                error: error.clone(),
                ended: true,
            },
            RedirectRefusal::Unsent(_, misuse) => RedirectRefused::Misuse(misuse.clone()),
        }
    }
}

// As part of `AnySession`: takes the redirect, the time, a cancel and a revocation.
mod route {
    use time::UtcDateTime;

    use super::RedirectRefusal;
    use crate::dialect::Dialect;
    use crate::session::route::{Route, Routed, RoutedRefusal};
    use crate::session::{AnySession, AwaitingRedirect, RedirectRefused, Session, Step};

    impl<D: Dialect> Route<D> for Session<AwaitingRedirect, D> {
        fn next_deadline(&self) -> Option<UtcDateTime> {
            Some(self.state.expires_at)
        }

        fn route_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
            match self.on_timeout(now) {
                Step::Same(s) => ((s.into(), None), false),
                Step::Next(s) => ((s.into(), None), true),
            }
        }

        fn route_redirect(
            self,
            target: &str,
            now: UtcDateTime,
        ) -> Result<Routed<D>, (AnySession<D>, RedirectRefused)> {
            match self.on_redirect(target, now) {
                Ok((s, request)) => Ok((s.into(), Some(request))),
                Err(refusal) => {
                    let error = refusal.error();
                    let session = match refusal {
                        RedirectRefusal::Ignored(s, _) => s.into(),
                        RedirectRefusal::Ended(s, _) | RedirectRefusal::Unsent(s, _) => s.into(),
                    };
                    Err((session, error))
                }
            }
        }

        fn route_renew(self, _now: UtcDateTime) -> Result<Routed<D>, RoutedRefusal<D>> {
            Ok((self.into(), None))
        }

        fn route_cancel(self, now: UtcDateTime) -> Result<AnySession<D>, RoutedRefusal<D>> {
            Ok(self.cancel(now).into())
        }

        fn route_revoke(self, now: UtcDateTime) -> Routed<D> {
            self.revoke(now).into()
        }
    }
}

// In a snapshot: the authorization request (its `state` and PKCE verifier are secrets)
// and the deadline.
mod stored {
    use serde::{Deserialize, Serialize};
    use time::UtcDateTime;

    use crate::dialect::authorization::AuthorizationRequest;
    use crate::dialect::Dialect;
    use crate::session::stored::{Form, Persist};
    use crate::session::{AwaitingRedirect, Core, Session};

    /// A session awaiting a browser login's redirect: its part of a snapshot. Redacted,
    /// it keeps no request.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct AwaitingRedirectForm {
        request: Option<Box<AuthorizationRequest>>,
        expires_at: UtcDateTime,
    }

    impl<E> Form<E> for AwaitingRedirectForm {
        fn check(&self) -> Result<(), &'static str> {
            if self.request.is_none() {
                return Err("a redacted snapshot cannot be restored");
            }
            Ok(())
        }
    }

    impl<D: Dialect> Persist<D> for Session<AwaitingRedirect, D> {
        type Form = AwaitingRedirectForm;

        fn store(&self, secrets: bool) -> AwaitingRedirectForm {
            AwaitingRedirectForm {
                request: secrets.then(|| self.state.request.clone()),
                expires_at: self.state.expires_at,
            }
        }

        fn restore(core: Core<D>, form: AwaitingRedirectForm) -> Self {
            let request = form
                .request
                .expect("a snapshot is checked before it is restored");
            Session {
                core,
                state: AwaitingRedirect {
                    request,
                    expires_at: form.expires_at,
                },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::AwaitingRedirectForm;
