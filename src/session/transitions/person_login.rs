//! A person's login, from the session's side: how one starts from [`Unauthenticated`]
//! (the device grant, the authorization code grant) and how one ends without a token.
//! The states in between have their own files: `authorizing_device.rs`,
//! `awaiting_approval.rs`, `awaiting_redirect.rs`, `exchanging_code.rs`.

use time::UtcDateTime;

use crate::bearer::Withdrawal;
use crate::dialect::authorization::AuthorizationRequest;
use crate::dialect::{Dialect, Secrets};
use crate::error::{Error, Failure, FailureKind, Misuse, PersonLoginEnd};
use crate::output::Event;
use crate::prompt::{BrowserPrompt, LoginPrompt};
use crate::request::{Purpose, TokenRequest};
use crate::session::states::{Backoff, Halt};
use crate::session::{
    AuthorizingDevice, AwaitingRedirect, Core, Expiring, Refused, Session, State, Unauthenticated,
};

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
        self,
        now: UtcDateTime,
    ) -> Result<(Session<AuthorizingDevice, D>, TokenRequest), Refused<Self>> {
        match device_authorization(&self.core, now) {
            Ok(request) => {
                let mut session = self;
                match session.core.emit_asked(Purpose::Login, request, true, now) {
                    Ok((flight, request)) => {
                        Ok((session.with(AuthorizingDevice { flight }, ()), request))
                    }
                    Err(error) => Err(Refused { session, error }),
                }
            }
            Err(error) => Err(Refused {
                session: self,
                error,
            }),
        }
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
        self,
        request: AuthorizationRequest,
        now: UtcDateTime,
    ) -> Result<Session<AwaitingRedirect, D>, Refused<Self>> {
        match browser_login(&self.core, &request) {
            Ok(()) => Ok(self.start_browser(request, now)),
            Err(error) => Err(Refused {
                session: self,
                error,
            }),
        }
    }

    /// Announces `request`'s URL and waits for its redirect.
    fn start_browser(
        mut self,
        request: AuthorizationRequest,
        now: UtcDateTime,
    ) -> Session<AwaitingRedirect, D> {
        let expires_at = now.saturating_add(self.core.shared.policy.person_login_timeout);
        self.core
            .notify(Event::LoginPrompt(LoginPrompt::OpenBrowser(
                BrowserPrompt {
                    url: request.url().clone(),
                    expires_at,
                },
            )));
        self.core.persist();
        self.with(
            AwaitingRedirect {
                request: Box::new(request),
                expires_at,
            },
            (),
        )
    }
}

/// The device authorization request, if a device login may start now: the dialect has
/// the device grant and the request budget allows it.
fn device_authorization<D: Dialect>(
    core: &Core<D>,
    now: UtcDateTime,
) -> Result<http::Request<Vec<u8>>, Misuse> {
    core.check_budget(Purpose::Login, now)?;
    core.shared
        .dialect
        .device_authorization_request()
        .ok_or(Misuse::PersonLoginUnsupported {
            login: "the device grant",
        })
}

/// Whether a browser login with `request` may start: the dialect can exchange a code.
fn browser_login<D: Dialect>(core: &Core<D>, request: &AuthorizationRequest) -> Result<(), Misuse> {
    match core
        .shared
        .dialect
        .authorization_request(request.redirect_uri())
    {
        Some(_) => Ok(()),
        None => Err(Misuse::PersonLoginUnsupported {
            login: "the authorization code grant",
        }),
    }
}

/// A person's login in place of a session whose refresh grant is dead: the status said a
/// person must log in, and one is there.
impl<D: Dialect> Session<Expiring, D> {
    /// Starts the device grant in place of a halted session (its refresh grant dead, or
    /// spent elsewhere): the token, which it still served until its hard expiry, is
    /// withdrawn ([`Withdrawal::NewLogin`]) and the login starts as
    /// [`Session::<Unauthenticated, D>::authorize_device`] does. Refused, the session
    /// unchanged, when it is not halted (it renews by itself), when the dialect has no
    /// device grant, and while the request budget is spent.
    pub fn authorize_device(
        self,
        now: UtcDateTime,
    ) -> Result<(Session<AuthorizingDevice, D>, TokenRequest), Refused<Self>> {
        let ready = self
            .ready_for_person_login("start a device login")
            .and_then(|()| device_authorization(&self.core, now));
        match ready {
            // The token gives way only once the request is formed.
            Ok(request) => {
                let mut session = self;
                match session.core.emit_asked(Purpose::Login, request, true, now) {
                    Ok((flight, request)) => Ok((
                        session.give_way().with(AuthorizingDevice { flight }, ()),
                        request,
                    )),
                    Err(error) => Err(Refused { session, error }),
                }
            }
            Err(error) => Err(Refused {
                session: self,
                error,
            }),
        }
    }

    /// Starts the authorization code grant in place of a halted session, as
    /// [`authorize_device`](Self::authorize_device) does the device grant.
    pub fn authorize(
        self,
        request: AuthorizationRequest,
        now: UtcDateTime,
    ) -> Result<Session<AwaitingRedirect, D>, Refused<Self>> {
        let ready = self
            .ready_for_person_login("start a browser login")
            .and_then(|()| browser_login(&self.core, &request));
        match ready {
            Ok(()) => Ok(self.give_way().start_browser(request, now)),
            Err(error) => Err(Refused {
                session: self,
                error,
            }),
        }
    }

    /// Whether a person's login may replace this session: only once it halted.
    fn ready_for_person_login(&self, operation: &'static str) -> Result<(), Misuse> {
        if self.state.halt.is_some() {
            Ok(())
        } else {
            Err(Misuse::WrongState {
                operation,
                state: "expiring, renewing by itself",
            })
        }
    }

    /// The session without its token, withdrawn, ready for a person's login.
    fn give_way(mut self) -> Session<Unauthenticated, D> {
        self.core.withdraw(&mut self.tokens, Withdrawal::NewLogin);
        let state = Unauthenticated {
            backoff: Backoff::default(),
            halt: None,
        };
        self.with(state, ())
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
            FailureKind::Transport
                | FailureKind::NotSent
                | FailureKind::Timeout
                | FailureKind::Assertion(_)
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
