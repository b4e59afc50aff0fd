//! How the runtime form, [`AnySession`], reaches a state: each state's file implements
//! [`Route`] for the inputs it accepts and the getters it has something for; an input a
//! state does not take gets the default here (refused, or nothing happens). `AnySession`
//! runs every input through `each_state!` and checks the move against the table, so a new
//! state adds no routing code: only its row in `table.rs` and its own file.

use time::UtcDateTime;

use super::table::AnySession;
use super::{RedirectRefused, Refused, Session, State};
use crate::bearer::{CurrentToken, Generation};
use crate::dialect::authorization::AuthorizationRequest;
use crate::dialect::Dialect;
use crate::error::Misuse;
use crate::output::Unauthorized;
use crate::request::{Purpose, RequestId, TokenRequest, TransportError};
use crate::token::TokenSet;

/// A routed transition's result: the session after it, and the request it emitted.
pub(crate) type Routed<D> = (AnySession<D>, Option<TokenRequest>);

/// A routed input the state refused: the session, unchanged, and why.
pub(crate) type RoutedRefusal<D> = Refused<AnySession<D>>;

/// What a state does as part of [`AnySession`]. The defaults are those of a state that
/// does not take the input: a response or transport error names a request it does not
/// await, a login is refused, and anything else leaves it where it is.
pub(crate) trait Route<D: Dialect>: Sized + Into<AnySession<D>> {
    /// The typestate method a routed login calls (as the transition table names it).
    const LOGIN_BY: &'static str = "login";
    /// The typestate method a routed renewal calls.
    const RENEW_BY: &'static str = Self::LOGIN_BY;

    // Getters.

    /// The access token, if one may be handed out at `now`.
    fn current_token(&self, _now: UtcDateTime) -> Option<CurrentToken<'_>> {
        None
    }

    /// The token set, in the states that hold one.
    fn token_set(&self) -> Option<&TokenSet<D::Extra>> {
        None
    }

    /// The request in flight, if any, and why it was sent.
    fn request_in_flight(&self) -> Option<(RequestId, Purpose)> {
        None
    }

    /// When the session next needs to be shown the time, if ever.
    fn next_deadline(&self) -> Option<UtcDateTime> {
        None
    }

    // Inputs.

    /// One step of showing the session the time; the flag says whether it moved.
    fn route_timeout(self, _now: UtcDateTime) -> (Routed<D>, bool) {
        ((self.into(), None), false)
    }

    /// The response to request `id`.
    fn route_response(
        self,
        id: RequestId,
        _response: &http::Response<Vec<u8>>,
        _now: UtcDateTime,
    ) -> Result<Routed<D>, RoutedRefusal<D>> {
        Err(unknown_request(self, id))
    }

    /// Request `id` failed in transport.
    fn route_transport_error(
        self,
        id: RequestId,
        _error: TransportError,
        _now: UtcDateTime,
    ) -> Result<Routed<D>, RoutedRefusal<D>> {
        Err(unknown_request(self, id))
    }

    /// A resource server rejected token `generation`.
    fn route_unauthorized(
        self,
        _generation: Generation,
        _now: UtcDateTime,
    ) -> (AnySession<D>, Unauthorized) {
        (self.into(), Unauthorized::Stale)
    }

    /// A call authenticated with token `generation` succeeded.
    fn route_call_succeeded(self, _generation: Generation, _now: UtcDateTime) -> AnySession<D> {
        self.into()
    }

    /// The refresh token may have been spent elsewhere.
    fn route_refresh_token_spent_elsewhere(self, _now: UtcDateTime) -> AnySession<D> {
        self.into()
    }

    /// A login asked for now, clearing a halt.
    fn route_login(
        self,
        _now: UtcDateTime,
    ) -> Result<(AnySession<D>, TokenRequest), RoutedRefusal<D>> {
        Err(wrong_state(self, "log in"))
    }

    /// A renewal asked for now: by default, what a login does.
    fn route_renew(self, now: UtcDateTime) -> Result<Routed<D>, RoutedRefusal<D>> {
        self.route_login(now)
            .map(|(session, request)| (session, Some(request)))
    }

    /// A revocation asked for now.
    fn route_revoke(self, _now: UtcDateTime) -> Routed<D> {
        (self.into(), None)
    }

    /// A device login asked for now.
    fn route_authorize_device(self, _now: UtcDateTime) -> Result<Routed<D>, RoutedRefusal<D>> {
        Err(wrong_state(self, "start a device login"))
    }

    /// A browser login asked for now, with its authorization request.
    fn route_authorize(
        self,
        _request: AuthorizationRequest,
        _now: UtcDateTime,
    ) -> Result<AnySession<D>, RoutedRefusal<D>> {
        Err(wrong_state(self, "start a browser login"))
    }

    /// The redirect of a browser login.
    fn route_redirect(
        self,
        _target: &str,
        _now: UtcDateTime,
    ) -> Result<Routed<D>, (AnySession<D>, RedirectRefused)> {
        let session: AnySession<D> = self.into();
        let error = RedirectRefused::not_awaited(session.state_name());
        Err((session, error))
    }

    /// A person's login abandoned.
    fn route_cancel(self, _now: UtcDateTime) -> Result<AnySession<D>, RoutedRefusal<D>> {
        Err(wrong_state(self, "cancel a person's login"))
    }
}

/// `operation`, refused in the session's state.
fn wrong_state<D: Dialect>(
    session: impl Into<AnySession<D>>,
    operation: &'static str,
) -> RoutedRefusal<D> {
    let session: AnySession<D> = session.into();
    let state = session.state_name();
    Refused {
        session,
        error: Misuse::WrongState { operation, state },
    }
}

/// The typestate method a routed login calls on `session`'s state.
pub(crate) fn login_by<D: Dialect, R: Route<D>>(_session: &R) -> &'static str {
    R::LOGIN_BY
}

/// The typestate method a routed renewal calls on `session`'s state.
pub(crate) fn renew_by<D: Dialect, R: Route<D>>(_session: &R) -> &'static str {
    R::RENEW_BY
}

fn unknown_request<D: Dialect>(
    session: impl Into<AnySession<D>>,
    id: RequestId,
) -> RoutedRefusal<D> {
    Refused {
        session: session.into(),
        error: Misuse::UnknownRequest { id },
    }
}

/// A refusal by a state's own transition, as `AnySession` returns it.
pub(crate) fn erase<S, D>(refused: Refused<Session<S, D>>) -> RoutedRefusal<D>
where
    S: State,
    D: Dialect,
    AnySession<D>: From<Session<S, D>>,
{
    Refused {
        session: refused.session.into(),
        error: refused.error,
    }
}

/// The [`Route`] getters of a state that holds a token set and may hand it out; for the
/// state's `impl Route`.
macro_rules! routes_of_a_token_holder {
    () => {
        fn current_token(&self, now: time::UtcDateTime) -> Option<crate::bearer::CurrentToken<'_>> {
            self.access_token(now)
        }

        fn token_set(&self) -> Option<&crate::token::TokenSet<D::Extra>> {
            Some(self.tokens())
        }
    };
}
pub(crate) use routes_of_a_token_holder;

/// The [`Route`] getter and inputs of a state awaiting the response to its request: the
/// time, the response and a transport error go to the state's own transitions; for the
/// state's `impl Route`.
macro_rules! routes_of_a_request_in_flight {
    () => {
        fn request_in_flight(
            &self,
        ) -> Option<(crate::request::RequestId, crate::request::Purpose)> {
            self.awaited()
        }

        fn route_timeout(self, now: time::UtcDateTime) -> (crate::session::route::Routed<D>, bool) {
            self.routed_timeout(now)
        }

        fn route_response(
            self,
            id: crate::request::RequestId,
            response: &http::Response<Vec<u8>>,
            now: time::UtcDateTime,
        ) -> Result<crate::session::route::Routed<D>, crate::session::route::RoutedRefusal<D>> {
            self.on_response(id, response, now)
                .map(Into::into)
                .map_err(crate::session::route::erase)
        }

        fn route_transport_error(
            self,
            id: crate::request::RequestId,
            error: crate::request::TransportError,
            now: time::UtcDateTime,
        ) -> Result<crate::session::route::Routed<D>, crate::session::route::RoutedRefusal<D>> {
            self.routed_transport_error(id, error, now)
        }
    };
}
pub(crate) use routes_of_a_request_in_flight;

/// The [`Route`] of a login awaiting its answer (a login, a device authorization, a code
/// exchange): its request's getter and inputs, its response deadline, a renewal asked
/// meanwhile that is this login, and a revocation; for the state's `impl Route`.
macro_rules! routes_of_a_login_in_flight {
    () => {
        crate::session::route::routes_of_a_request_in_flight!();

        fn next_deadline(&self) -> Option<time::UtcDateTime> {
            Some(self.response_deadline())
        }

        fn route_renew(
            self,
            _now: time::UtcDateTime,
        ) -> Result<crate::session::route::Routed<D>, crate::session::route::RoutedRefusal<D>> {
            Ok((self.into(), None))
        }

        fn route_revoke(self, now: time::UtcDateTime) -> crate::session::route::Routed<D> {
            self.revoke(now).into()
        }
    };
}
pub(crate) use routes_of_a_login_in_flight;

/// The [`Route`] inputs of a state a person's login starts from (the unauthenticated one,
/// a halted expiring one): its own `authorize_device` and `authorize`; for the state's
/// `impl Route`.
macro_rules! routes_of_a_person_login_start {
    () => {
        fn route_authorize_device(
            self,
            now: time::UtcDateTime,
        ) -> Result<crate::session::route::Routed<D>, crate::session::route::RoutedRefusal<D>> {
            self.authorize_device(now)
                .map(|(s, request)| (s.into(), Some(request)))
                .map_err(crate::session::route::erase)
        }

        fn route_authorize(
            self,
            request: crate::dialect::authorization::AuthorizationRequest,
            now: time::UtcDateTime,
        ) -> Result<crate::session::AnySession<D>, crate::session::route::RoutedRefusal<D>> {
            self.authorize(request, now)
                .map(Into::into)
                .map_err(crate::session::route::erase)
        }
    };
}
pub(crate) use routes_of_a_person_login_start;
