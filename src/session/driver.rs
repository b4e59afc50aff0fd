//! A poll-style driver over [`AnySession`]: inputs in, outputs out. It routes each input
//! to the state's transition and queues what comes out; it decides nothing.

use std::mem;
use std::sync::Arc;

use time::UtcDateTime;
use zeroize::Zeroize;

use super::route::Routed;
use super::{AnySession, RedirectRefused, Refused, Session};
use crate::bearer::{CurrentToken, Generation};
use crate::dialect::Dialect;
use crate::error::{ConfigError, Misuse};
use crate::output::{Output, Status, Unauthorized};
use crate::policy::Policy;
use crate::request::{RequestId, TokenRequest, TransportError};

/// Runs a session: logs in, renews when due, retries with backoff, revokes on request.
///
/// Getters (`access_token`, `status`, `next_deadline`, `policy`, `session`) read; inputs
/// are the `handle_*` methods plus `login` and `revoke`, each taking `now`; outputs come
/// from [`poll_output`](Driver::poll_output), in order. The drain loop every adapter
/// follows:
///
/// 1. Call an input (`handle_timeout(now)` to start).
/// 2. Call `poll_output()` until it returns [`Output::Timeout`] or [`Output::Idle`]:
///    - [`Output::Request`]: send it, with a timeout no later than its
///      [`deadline`](TokenRequest::deadline), and hand back **every** response (4xx and
///      5xx included) with `handle_response`, or the failure with
///      `handle_transport_error`, saying whether the request left;
///    - [`Output::Event`]: publish the token it carries ([`Event::TokenIssued`](crate::Event::TokenIssued),
///      [`TokenExtended`](crate::Event::TokenExtended), [`TokenWithdrawn`](crate::Event::TokenWithdrawn)), log the rest;
///    - [`Output::Persist`]: save `session().snapshot_with_secrets()` before going on.
/// 3. Wait until the timeout, a response, or a need of the application (a 401 seen, a
///    revoke); feed it in with the matching input; go to 2.
///
/// A session restored from a snapshot whose request was in flight treats that request as
/// lost by itself: the first input (`handle_timeout(now)` to start) fails it as
/// [`TransportError::OutcomeUnknown`] would, so a single-use refresh token it carried is
/// never sent again. Adapters need not report it; one that still does, with
/// `handle_transport_error(id, OutcomeUnknown, now)` for the id
/// [`in_flight`](Driver::in_flight) names before any other input, is accepted.
///
/// A refresh token that another process or tool may have spent (a fleet's store that
/// cannot vouch for it, a session restored from a copy someone else may have used) is
/// reported with [`handle_refresh_token_spent_elsewhere`](Driver::handle_refresh_token_spent_elsewhere):
/// it is never presented again.
///
/// Extra `handle_timeout` calls are harmless. Inputs that do not fit the state (a response
/// for a request no longer in flight) return a [`Misuse`] and change nothing.
#[derive(Debug)]
pub struct Driver<D: Dialect> {
    session: AnySession<D>,
    /// The request emitted and not yet polled. At most one request is ever in flight; a
    /// newer one supersedes an unsent one, which is no longer in flight.
    request: Option<Box<TokenRequest>>,
}

/// How many transitions time alone may cause in one input: enough for the longest chain
/// (active → expiring → halted → unauthenticated → logging in), with room to spare.
const MAX_STEPS: usize = 8;

// Construction and getters.
impl<D: Dialect> Driver<D> {
    /// A driver for a new, unauthenticated session. It logs in on the first input.
    pub fn new(dialect: D, policy: Policy) -> Result<Self, ConfigError> {
        Ok(Self::from_session(Session::new(dialect, policy)?.into()))
    }

    /// A driver for an existing session (a restored snapshot, an adopted token).
    pub fn from_session(session: AnySession<D>) -> Self {
        Driver {
            session,
            request: None,
        }
    }

    /// The session.
    pub fn session(&self) -> &AnySession<D> {
        &self.session
    }

    /// Takes the session out, dropping pending outputs.
    pub fn into_session(self) -> AnySession<D> {
        self.session
    }

    /// The access token, if one may be handed out at `now`: the secret, its generation,
    /// and until when. Never allocates.
    #[inline]
    pub fn access_token(&self, now: UtcDateTime) -> Option<CurrentToken<'_>> {
        self.session.access_token(now)
    }

    /// Where the session stands.
    pub fn status(&self) -> Status {
        self.session.status()
    }

    /// When the driver next needs [`handle_timeout`](Driver::handle_timeout), if ever.
    /// The same moment [`poll_output`](Driver::poll_output) ends with, without draining.
    pub fn next_deadline(&self) -> Option<UtcDateTime> {
        self.session.deadline()
    }

    /// The timing policy: the response timeout and the body-size cap a transport should
    /// apply.
    pub fn policy(&self) -> &Policy {
        self.session.policy()
    }

    /// The request in flight, if any, and why it was sent.
    pub fn in_flight(&self) -> Option<(RequestId, crate::Purpose)> {
        self.session.in_flight()
    }
}

// Inputs.
impl<D: Dialect> Driver<D> {
    /// Shows the driver the time: starts due logins and renewals, expires lost requests,
    /// withdraws a token at its hard expiry.
    pub fn handle_timeout(&mut self, now: UtcDateTime) {
        self.advance(now);
    }

    /// Hands back the response to request `id`, whatever its status.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<(), Misuse> {
        self.answer(now, |session| session.on_response(id, response, now))
    }

    /// Reports that request `id` failed in transport, saying whether it may have reached
    /// the server.
    pub fn handle_transport_error(
        &mut self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) -> Result<(), Misuse> {
        self.answer(now, |session| session.on_transport_error(id, error, now))
    }

    /// Reports that a resource server rejected token `generation` (a 401, or a 403 with
    /// `invalid_token`; see [`resource::classify`](crate::resource::classify)). The first
    /// report about the current token withdraws it and starts a renewal; any further
    /// report about it, or one about an earlier token, changes nothing, and the answer
    /// says so.
    pub fn handle_unauthorized(
        &mut self,
        generation: Generation,
        now: UtcDateTime,
    ) -> Unauthorized {
        let answer = self.transition(|session| {
            let (session, answer) = session.on_unauthorized(generation, now);
            ((session, None), answer)
        });
        self.advance(now);
        answer
    }

    /// Reports that a call authenticated with token `generation` succeeded (sliding-expiry
    /// dialects extend the token's life).
    pub fn handle_call_succeeded(&mut self, generation: Generation, now: UtcDateTime) {
        self.transition(|session| ((session.on_call_succeeded(generation, now), None), ()));
        self.advance(now);
    }

    /// Reports that the refresh token may have been spent elsewhere (a fleet process whose
    /// shared store cannot vouch for a single-use refresh token, a tool restoring a
    /// session another process may have used): it is dropped and wiped, and never
    /// presented again. The access token is still served until its hard expiry, and the
    /// session persists ([`Output::Persist`](crate::Output::Persist)).
    ///
    /// Renewal then logs in, or, without credentials to log in with, the session halts
    /// with [`Status::NeedsLogin`] at once ([`Error::Reauthenticate`](crate::Error::Reauthenticate),
    /// [`FailureKind::SpentElsewhere`](crate::FailureKind::SpentElsewhere)). A refresh
    /// emitted or in flight is abandoned — never sent if not yet polled, its answer
    /// refused as [`Misuse::UnknownRequest`] — and the session logs in at once, or halts.
    /// A login in flight is kept. Without a refresh token (no token yet, a login in
    /// flight, revoking or revoked) nothing changes. Announced with
    /// [`Event::RefreshTokenSpentElsewhere`](crate::Event::RefreshTokenSpentElsewhere).
    pub fn handle_refresh_token_spent_elsewhere(&mut self, now: UtcDateTime) {
        self.transition(|session| ((session.on_refresh_token_spent_elsewhere(now), None), ()));
        self.advance(now);
    }

    /// Asks for a login (or renewal) now, clearing a halt: after new credentials were
    /// configured, or to retry a permanent failure deliberately. Backoffs still apply.
    pub fn login(&mut self, now: UtcDateTime) -> Result<(), Misuse> {
        let result = self.transition(|session| match session.login(now) {
            Ok((session, request)) => ((session, Some(request)), Ok(())),
            Err(Refused { session, error }) => ((session, None), Err(error)),
        });
        self.advance(now);
        result
    }

    /// Asks for a new token now, ahead of the refresh moment (an operator forcing a
    /// renewal, or a caller that needs more time left than the current token has). The
    /// current token is still handed out until its replacement arrives. Without a token,
    /// this logs in as [`login`](Self::login) does; with a login or refresh in flight it
    /// changes nothing. Backoffs and request budgets still apply.
    pub fn renew(&mut self, now: UtcDateTime) -> Result<(), Misuse> {
        self.answer(now, |session| session.renew(now))
    }

    /// Starts a person's login with the device authorization grant (RFC 8628), from an
    /// unauthenticated session: the device authorization request goes out, then
    /// [`Event::LoginPrompt`](crate::Event::LoginPrompt) carries the code and address to
    /// show the person, and the session polls the token endpoint on its own deadlines
    /// until the person approves ([`Event::TokenIssued`](crate::Event::TokenIssued)), or
    /// the login ends ([`Event::PersonLoginEnded`](crate::Event::PersonLoginEnded)).
    /// Polls count against the request budget.
    pub fn authorize_device(&mut self, now: UtcDateTime) -> Result<(), Misuse> {
        self.answer(now, |session| session.authorize_device(now))
    }

    /// Starts a person's login with the authorization code grant and PKCE, from an
    /// unauthenticated session. `request` is built from the dialect's
    /// [`authorization_request`](crate::Dialect::authorization_request) for the redirect
    /// URI the application listens on, with 64 fresh bytes from a CSPRNG.
    /// [`Event::LoginPrompt`](crate::Event::LoginPrompt) carries the URL to open; hand the
    /// redirect back with [`handle_redirect`](Self::handle_redirect).
    pub fn authorize(
        &mut self,
        request: crate::dialect::authorization::AuthorizationRequest,
        now: UtcDateTime,
    ) -> Result<(), Misuse> {
        self.answer(now, |session| {
            session
                .authorize(request, now)
                .map(|session| (session, None))
        })
    }

    /// Hands back the redirect of a browser login: its request target, as the loopback
    /// listener received it. A code is exchanged at once, and never sent twice
    /// ([`Output::Persist`] comes before the exchange). A redirect that answers this
    /// request unusably (an error redirect, a wrong `iss`) ends the login; one not shown to
    /// be its answer (a wrong `state`) is ignored, and the session still waits.
    pub fn handle_redirect(
        &mut self,
        target: &str,
        now: UtcDateTime,
    ) -> Result<(), RedirectRefused> {
        let result = self.transition(|session| match session.on_redirect(target, now) {
            Ok(routed) => (routed, Ok(())),
            Err((session, error)) => ((session, None), Err(error)),
        });
        self.advance(now);
        result
    }

    /// Abandons a person's login that waits for them (the listener timed out, the person
    /// went away): the session is unauthenticated again, with
    /// [`Event::PersonLoginEnded`](crate::Event::PersonLoginEnded).
    pub fn cancel_login(&mut self, now: UtcDateTime) -> Result<(), Misuse> {
        self.answer(now, |session| {
            session.cancel(now).map(|session| (session, None))
        })
    }

    /// Revokes the session: the token is withdrawn at once, RFC 7009 requests for the
    /// refresh and access tokens follow, then [`Event::Revoked`](crate::Event::Revoked).
    /// Already revoking or revoked: nothing happens.
    pub fn revoke(&mut self, now: UtcDateTime) {
        self.transition(|session| (session.revoke(now), ()));
    }
}

// Outputs.
impl<D: Dialect> Driver<D> {
    /// The next output. Call until it returns [`Output::Timeout`] or [`Output::Idle`].
    ///
    /// Events and persistence points come first, in the order they happened, then the
    /// request to send, then the deadline.
    pub fn poll_output(&mut self) -> Output {
        if let Some(notice) = self.session.poll_notice() {
            return notice.into();
        }
        if let Some(request) = self.request.take() {
            return Output::Request(*request);
        }
        match self.session.deadline() {
            Some(deadline) => Output::Timeout(deadline),
            None => Output::Idle,
        }
    }
}

// Routing.
impl<D: Dialect> Driver<D> {
    /// Moves the session through `apply` by value. While it runs, the driver holds a
    /// revoked placeholder, so even a panic inside cannot leave a half-done session
    /// behind: at worst a session that hands out nothing.
    ///
    /// An unsent request the session no longer awaits (abandoned, failed or superseded
    /// before it was polled) is never sent: its body is wiped and it is dropped.
    fn transition<T>(&mut self, apply: impl FnOnce(AnySession<D>) -> (Routed<D>, T)) -> T {
        let placeholder = AnySession::placeholder(Arc::clone(&self.session.core().shared));
        let session = mem::replace(&mut self.session, placeholder);
        let ((session, request), result) = apply(session);
        self.session = session;
        if let Some(request) = request {
            self.request = Some(Box::new(request));
        }
        let awaited = self.session.in_flight().map(|(id, _)| id);
        if let Some(stale) = self
            .request
            .take_if(|request| Some(request.id()) != awaited)
        {
            stale.into_request().into_body().zeroize();
        }
        result
    }

    fn answer(
        &mut self,
        now: UtcDateTime,
        apply: impl FnOnce(AnySession<D>) -> Result<Routed<D>, Refused<AnySession<D>>>,
    ) -> Result<(), Misuse> {
        let result = self.transition(|session| match apply(session) {
            Ok(routed) => (routed, Ok(())),
            Err(Refused { session, error }) => ((session, None), Err(error)),
        });
        if result.is_ok() {
            self.advance(now);
        }
        result
    }

    /// Applies every transition that time alone makes due. Bounded: each step moves
    /// towards a state that waits on the caller, or stops.
    fn advance(&mut self, now: UtcDateTime) {
        for _ in 0..MAX_STEPS {
            if !self.transition(|session| session.on_timeout(now)) {
                break;
            }
        }
    }
}
