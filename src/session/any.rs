//! The runtime form of a session, [`AnySession`] (declared with the states in
//! `table.rs`): its getters, and each input routed to the state's own transition through
//! [`Route`], which each state's file implements. No input or getter here names a
//! state (only `is_revoked` and the driver's placeholder name the terminal one): each
//! runs `each_state!`, and every move is checked against the table.

use time::UtcDateTime;

use super::route::{login_by, renew_by, Route, Routed, RoutedRefusal};
use super::table::{check, each_state, AnySession, StateName};
use super::{Core, RedirectRefused, Refused, Revoked, Session};
use crate::bearer::{CurrentToken, Generation};
use crate::dialect::authorization::AuthorizationRequest;
use crate::dialect::Dialect;
use crate::output::{Notice, Status, Unauthorized};
use crate::request::{Purpose, RequestId, TokenRequest, TransportError};
use crate::token::TokenSet;

// Getters.
impl<D: Dialect> AnySession<D> {
    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        self.state().words()
    }

    /// The state, as the transition table names it.
    pub fn state(&self) -> StateName {
        each_state!(self, s => s.state())
    }

    /// The access token, if one may be handed out at `now`. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<CurrentToken<'_>> {
        each_state!(self, s => s.current_token(now))
    }

    /// The token set, in the states that hold one.
    pub fn tokens(&self) -> Option<&TokenSet<D::Extra>> {
        each_state!(self, s => s.token_set())
    }

    /// The generation of the last token the session obtained (0 before the first).
    pub fn generation(&self) -> Generation {
        self.core().generation
    }

    /// The request in flight, if any, and why it was sent.
    pub fn in_flight(&self) -> Option<(RequestId, Purpose)> {
        each_state!(self, s => s.request_in_flight())
    }

    /// The dialect.
    pub fn dialect(&self) -> &D {
        &self.core().shared.dialect
    }

    /// The timing policy.
    pub fn policy(&self) -> &crate::Policy {
        &self.core().shared.policy
    }

    /// Whether the session is revoked (terminal).
    pub fn is_revoked(&self) -> bool {
        matches!(self, AnySession::Revoked(_))
    }

    /// Where the session stands: each state says ([`Session::status`]).
    pub fn status(&self) -> Status {
        each_state!(self, s => s.status())
    }

    /// When the session next needs to be shown the time, if ever: a renewal or login
    /// falling due, a request's response deadline, or the current token's hard expiry.
    pub fn deadline(&self) -> Option<UtcDateTime> {
        each_state!(self, s => s.next_deadline())
    }

    /// The next event or persistence point the transitions queued.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.core_mut().notices.pop_front()
    }

    pub(crate) fn core(&self) -> &Core<D> {
        each_state!(self, s => &s.core)
    }

    pub(crate) fn core_mut(&mut self) -> &mut Core<D> {
        each_state!(self, s => &mut s.core)
    }
}

// Inputs, routed to the state's transition. Each takes the session by value and returns
// the next one; the driver holds the result.
impl<D: Dialect> AnySession<D> {
    /// One step of showing the session the time. The flag says whether it moved.
    pub(crate) fn on_timeout(self, now: UtcDateTime) -> (Routed<D>, bool) {
        let from = self.state();
        let result = each_state!(self, s => s.route_timeout(now));
        check(from, "on_timeout", result.0 .0.state());
        result
    }

    /// Hands back the response to request `id`.
    pub(crate) fn on_response(
        self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<Routed<D>, RoutedRefusal<D>> {
        let from = self.state();
        let result = each_state!(self, s => s.route_response(id, response, now));
        if let Ok((session, _)) = &result {
            check(from, "on_response", session.state());
        }
        result
    }

    /// Reports that request `id` failed in transport.
    pub(crate) fn on_transport_error(
        self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) -> Result<Routed<D>, RoutedRefusal<D>> {
        let from = self.state();
        let result = each_state!(self, s => s.route_transport_error(id, error, now));
        if let Ok((session, _)) = &result {
            check(from, "on_transport_error", session.state());
        }
        result
    }

    /// Reports that a resource server rejected token `generation`.
    pub(crate) fn on_unauthorized(
        self,
        generation: Generation,
        now: UtcDateTime,
    ) -> (Self, Unauthorized) {
        let from = self.state();
        let result = each_state!(self, s => s.route_unauthorized(generation, now));
        check(from, "on_unauthorized", result.0.state());
        result
    }

    /// Reports that a call authenticated with token `generation` succeeded.
    pub(crate) fn on_call_succeeded(self, generation: Generation, now: UtcDateTime) -> Self {
        let from = self.state();
        let result = each_state!(self, s => s.route_call_succeeded(generation, now));
        check(from, "on_call_succeeded", result.state());
        result
    }

    /// Reports that the refresh token may have been spent elsewhere: dropped in the states
    /// that hold one (a refresh in flight with it is abandoned); nothing changes in the
    /// others.
    pub(crate) fn on_refresh_token_spent_elsewhere(self, now: UtcDateTime) -> Self {
        let from = self.state();
        let result = each_state!(self, s => s.route_refresh_token_spent_elsewhere(now));
        check(from, "on_refresh_token_spent_elsewhere", result.state());
        result
    }

    /// Asks for a login now, clearing a halt: each state says what a login is to it (an
    /// expiring session refreshes).
    pub(crate) fn login(self, now: UtcDateTime) -> Result<(Self, TokenRequest), Refused<Self>> {
        let from = self.state();
        let by = each_state!(&self, s => login_by(s));
        let result = each_state!(self, s => s.route_login(now));
        if let Ok((session, _)) = &result {
            check(from, by, session.state());
        }
        result
    }

    /// Starts a renewal now: each state says what a renewal is to it (an active session
    /// moves to expiring with the renewal due at once; one with a request in flight is
    /// already renewing; any other logs in, as [`login`](Self::login) does).
    pub(crate) fn renew(self, now: UtcDateTime) -> Result<Routed<D>, Refused<Self>> {
        let from = self.state();
        let by = each_state!(&self, s => renew_by(s));
        let result = each_state!(self, s => s.route_renew(now));
        if let Ok((session, _)) = &result {
            check(from, by, session.state());
        }
        result
    }

    /// Starts a device login.
    pub(crate) fn authorize_device(self, now: UtcDateTime) -> Result<Routed<D>, Refused<Self>> {
        let from = self.state();
        let result = each_state!(self, s => s.route_authorize_device(now));
        if let Ok((session, _)) = &result {
            check(from, "authorize_device", session.state());
        }
        result
    }

    /// Starts a browser login with `request`.
    pub(crate) fn authorize(
        self,
        request: AuthorizationRequest,
        now: UtcDateTime,
    ) -> Result<Self, Refused<Self>> {
        let from = self.state();
        let result = each_state!(self, s => s.route_authorize(request, now));
        if let Ok(session) = &result {
            check(from, "authorize", session.state());
        }
        result
    }

    /// Hands back a browser login's redirect.
    pub(crate) fn on_redirect(
        self,
        target: &str,
        now: UtcDateTime,
    ) -> Result<Routed<D>, (Self, RedirectRefused)> {
        let from = self.state();
        let result = each_state!(self, s => s.route_redirect(target, now));
        let to = match &result {
            Ok((session, _)) | Err((session, _)) => session.state(),
        };
        check(from, "on_redirect", to);
        result
    }

    /// Abandons a person's login.
    pub(crate) fn cancel(self, now: UtcDateTime) -> Result<Self, Refused<Self>> {
        let from = self.state();
        let result = each_state!(self, s => s.route_cancel(now));
        if let Ok(session) = &result {
            check(from, "cancel", session.state());
        }
        result
    }

    /// Starts revoking; nothing happens if already revoking or revoked.
    pub(crate) fn revoke(self, now: UtcDateTime) -> Routed<D> {
        let from = self.state();
        let result = each_state!(self, s => s.route_revoke(now));
        check(from, "revoke", result.0.state());
        result
    }
}

impl<D: Dialect> AnySession<D> {
    /// A revoked session sharing `shared`: what a driver holds for the instant a
    /// transition moves its session by value.
    pub(crate) fn placeholder(shared: std::sync::Arc<super::Shared<D>>) -> Self {
        Session {
            core: Core::new(shared, 0, Generation::default()),
            state: Revoked { _private: () },
            tokens: (),
        }
        .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::Standard;
    use crate::session::{Expiring, Refreshing};

    /// A session moves by value at every transition: a person's login keeps its large
    /// parts (the authorization request, the prompt, the echo forms of a code) boxed, so no
    /// state makes the runtime form larger than a state that holds a token.
    #[test]
    fn no_state_is_larger_than_the_token_holding_ones() {
        let largest = std::mem::size_of::<Session<Refreshing, Standard>>()
            .max(std::mem::size_of::<Session<Expiring, Standard>>());
        assert!(std::mem::size_of::<AnySession<Standard>>() <= largest + 8);
    }
}
