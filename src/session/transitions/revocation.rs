//! Revocation: from every state that is not already revoking.

use time::UtcDateTime;
use zeroize::Zeroize;

use super::in_flight::awaiting;
use super::{Revocation, RevocationStep};
use crate::bearer::Withdrawal;
use crate::dialect::{Dialect, Secrets};
use crate::error::{Failure, Misuse};
use crate::output::Event;
use crate::output::Status;
use crate::request::{Purpose, RequestId};
use crate::session::states::{Backoff, Flight, PendingRevocation, WaitCause};
use crate::session::State;
use crate::session::{
    Active, AuthorizingDevice, AwaitingApproval, AwaitingRedirect, ExchangingCode, Expiring,
    LoggingIn, Refreshing, Refused, Revoked, Revoking, Session, Unauthenticated,
};
use crate::token::TokenSet;

/// States a revocation can start from: every state but [`Revoking`] and [`Revoked`].
pub trait Revocable: State + sealed::IntoRevocation {}

impl<S: State + sealed::IntoRevocation> Revocable for S {}

mod sealed {
    use super::{Flight, PendingRevocation, State};

    pub trait IntoRevocation: State + Sized {
        /// The tokens the state holds, to revoke, and the login or refresh in flight, to
        /// await.
        fn into_revocation<E>(self, tokens: Self::Tokens<E>)
            -> (PendingRevocation, Option<Flight>);

        /// The token the state hands out, if any.
        fn tokens<E>(tokens: &mut Self::Tokens<E>) -> Option<&mut super::TokenSet<E>>;
    }
}

impl sealed::IntoRevocation for Unauthenticated {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), None)
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for LoggingIn {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), Some(self.flight))
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for AuthorizingDevice {
    /// A device authorization mints no token: nothing to await.
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), None)
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for AwaitingApproval {
    /// A poll in flight may mint the person's tokens: it is awaited, and they are revoked.
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (
            PendingRevocation::default(),
            self.awaiting_poll.then_some(self.poll),
        )
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for AwaitingRedirect {
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), None)
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for ExchangingCode {
    /// The exchange may mint the person's tokens: it is awaited, and they are revoked.
    fn into_revocation<E>(self, (): ()) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::default(), Some(self.flight))
    }

    fn tokens<E>((): &mut ()) -> Option<&mut TokenSet<E>> {
        None
    }
}

impl sealed::IntoRevocation for Active {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::of(tokens), None)
    }

    fn tokens<E>(tokens: &mut TokenSet<E>) -> Option<&mut TokenSet<E>> {
        Some(tokens)
    }
}

impl sealed::IntoRevocation for Expiring {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::of(tokens), None)
    }

    fn tokens<E>(tokens: &mut TokenSet<E>) -> Option<&mut TokenSet<E>> {
        Some(tokens)
    }
}

impl sealed::IntoRevocation for Refreshing {
    fn into_revocation<E>(self, tokens: TokenSet<E>) -> (PendingRevocation, Option<Flight>) {
        (PendingRevocation::of(tokens), Some(self.flight))
    }

    fn tokens<E>(tokens: &mut TokenSet<E>) -> Option<&mut TokenSet<E>> {
        Some(tokens)
    }
}

impl<S: Revocable, D: Dialect> Session<S, D> {
    /// Starts revoking: the token is withdrawn at once. RFC 7009 requests go out one at a
    /// time, refresh tokens first, then access tokens.
    ///
    /// A login or refresh in flight is awaited first ([`Revocation::Awaiting`]): hand back
    /// its response as usual, and any token it minted is revoked too.
    pub fn revoke(mut self, now: UtcDateTime) -> Revocation<D> {
        if let Some(tokens) = <S as sealed::IntoRevocation>::tokens(&mut self.tokens) {
            self.core.withdraw(tokens, Withdrawal::Revoked);
        }
        let (pending, in_flight) = sealed::IntoRevocation::into_revocation(self.state, self.tokens);
        match in_flight {
            Some(flight) => Revocation::Awaiting(Session {
                core: self.core,
                state: Revoking {
                    flight,
                    sent: Vec::new(),
                    retry: Backoff::default(),
                },
                tokens: pending,
            }),
            None => Session {
                core: self.core,
                state: Revoked { _private: () },
                tokens: (),
            }
            .next_revocation(pending, Vec::new(), now),
        }
    }
}

impl<D: Dialect> Session<Revoked, D> {
    /// Where the session stands: revoked, for good.
    pub fn status(&self) -> Status {
        Status::Revoked
    }

    /// Sends the next revocation request, if any is left; `sent` are the tokens this
    /// revocation sent before.
    fn next_revocation(
        mut self,
        mut pending: PendingRevocation,
        mut sent: Vec<String>,
        now: UtcDateTime,
    ) -> Revocation<D> {
        let dialect = &self.core.shared.dialect;
        while !pending.queue.is_empty() {
            let (kind, token) = pending.queue.remove(0);
            if let Some(request) = dialect.revocation_request(&token, kind) {
                let (flight, request) = self.core.emit(Purpose::Revoke(kind), request, true, now);
                sent.push(token);
                let session = Session {
                    core: self.core,
                    state: Revoking {
                        flight,
                        sent,
                        retry: Backoff::default(),
                    },
                    tokens: pending,
                };
                return match request {
                    Ok(request) => Revocation::Pending(session, request),
                    // Not sent: retried on the backoff, as a revocation that never left.
                    Err(failure) => session.advance(Some(failure), now).next,
                };
            }
        }
        // Done with them: wiped, not just freed.
        sent.iter_mut().for_each(Zeroize::zeroize);
        self.core.notify(Event::Revoked);
        self.core.persist();
        Revocation::Done(self)
    }
}

impl<D: Dialect> Session<Revoking, D> {
    /// Where the session stands: revoked; the revocation requests are still going out.
    pub fn status(&self) -> Status {
        Status::Revoked
    }

    /// How many tokens are still to be revoked after the request in flight.
    pub fn pending(&self) -> &PendingRevocation {
        &self.tokens
    }

    /// When a revocation that failed temporarily is sent again, if one did.
    pub fn retry_at(&self) -> Option<UtcDateTime> {
        self.state.retry.retry_at
    }

    /// When showing the session the time next matters: the retry, or the response
    /// deadline of the request in flight.
    pub fn deadline(&self) -> UtcDateTime {
        self.retry_at().unwrap_or(self.state.flight.due())
    }

    /// Hands back the response to the request in flight.
    pub fn on_response(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<RevocationStep<D>, Refused<Self>> {
        let flight = self.state.flight;
        if let Err(error) = awaiting::Fail::awaiting(&self.state)
            .ok_or(Misuse::UnknownRequest { id })
            .and_then(|flight| flight.check(id))
        {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let failure = match flight.purpose {
            Purpose::Revoke(_) => match self.core.check_size(response) {
                Ok(()) => self
                    .core
                    .shared
                    .dialect
                    .parse_revocation_response(response)
                    .err(),
                Err(failure) => Some(failure),
            },
            Purpose::Login | Purpose::Refresh => {
                // The awaited renewal: whatever it minted is revoked too, never handed out.
                if let Ok(tokens) = self.core.accept(&flight, response, now, None) {
                    self.tokens.push(tokens);
                }
                None
            }
        };
        Ok(self.advance(failure, now))
    }

    pub(super) fn advance(
        mut self,
        failure: Option<Failure>,
        now: UtcDateTime,
    ) -> RevocationStep<D> {
        let failure = match self.state.flight.purpose {
            Purpose::Revoke(kind) => match failure {
                None => None,
                Some(failure) => {
                    // Any token this revocation sent or has still to send may be echoed.
                    let echoed = Secrets::new(
                        self.state
                            .sent
                            .iter()
                            .chain(self.tokens.queue.iter().map(|(_, token)| token))
                            .map(String::as_str),
                    );
                    let attempts = self.state.retry.failures.saturating_add(1);
                    let error = self.core.verdict(
                        Purpose::Revoke(kind),
                        failure,
                        attempts,
                        &[&echoed],
                        now,
                    );
                    let allowed = self.core.shared.policy.revocation_attempts;
                    match error.retry_at() {
                        // Temporary (a 5xx, a transport error, a timeout, throttling):
                        // the same token again after the backoff, a bounded number of times.
                        Some(retry_at) if attempts < allowed => {
                            self.core.retry_scheduled(Purpose::Revoke(kind), error);
                            self.state.retry =
                                Backoff::new(attempts, 0, Some(retry_at), WaitCause::Failure);
                            return RevocationStep {
                                next: Revocation::Retrying(self),
                                failure: None,
                            };
                        }
                        _ => {
                            self.core.notify(Event::RevocationFailed {
                                kind,
                                error: error.clone(),
                            });
                            Some((kind, error))
                        }
                    }
                }
            },
            // The awaited renewal's own failure concerns nobody any more.
            Purpose::Login | Purpose::Refresh => None,
        };
        let pending = self.tokens;
        let sent = std::mem::take(&mut self.state.sent);
        let revoked = Session {
            core: self.core,
            state: Revoked { _private: () },
            tokens: (),
        };
        RevocationStep {
            next: revoked.next_revocation(pending, sent, now),
            failure,
        }
    }
}

// As part of `AnySession`: revoking awaits its answers and retries; neither revoking nor
// revoked logs in again.
mod route {
    use time::UtcDateTime;

    use crate::dialect::Dialect;
    use crate::error::Misuse;
    use crate::request::TokenRequest;
    use crate::session::route::{routes_of_a_request_in_flight, Route, RoutedRefusal};
    use crate::session::{AnySession, Refused, Revoked, Revoking, Session};

    fn revoked<D: Dialect>(session: impl Into<AnySession<D>>) -> RoutedRefusal<D> {
        Refused {
            session: session.into(),
            error: Misuse::Revoked,
        }
    }

    impl<D: Dialect> Route<D> for Session<Revoking, D> {
        routes_of_a_request_in_flight!();

        fn next_deadline(&self) -> Option<UtcDateTime> {
            Some(self.deadline())
        }

        fn route_login(
            self,
            _now: UtcDateTime,
        ) -> Result<(AnySession<D>, TokenRequest), RoutedRefusal<D>> {
            Err(revoked(self))
        }
    }

    impl<D: Dialect> Route<D> for Session<Revoked, D> {
        fn route_login(
            self,
            _now: UtcDateTime,
        ) -> Result<(AnySession<D>, TokenRequest), RoutedRefusal<D>> {
            Err(revoked(self))
        }
    }
}

// In a snapshot: the tokens left to revoke, those sent, the request in flight and its
// retry; revoked keeps nothing.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::request::Purpose;
    use crate::session::states::{Backoff, Flight, PendingRevocation};
    use crate::session::stored::{stored_secret, Form, Parts, Persist};
    use crate::session::{Core, Revoked, Revoking, Session};

    /// A revoking session's part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct RevokingForm {
        flight: Flight,
        pending: PendingRevocation,
        /// The tokens sent for revocation so far, the one in flight last.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sent: Vec<String>,
        /// Failed attempts at the last one, and when it is sent again.
        #[serde(default)]
        retry: Backoff,
    }

    impl<E> Form<E> for RevokingForm {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                flight: Some(&self.flight),
                ..Parts::default()
            }
        }

        fn check(&self) -> Result<(), &'static str> {
            // Only a revocation is retried. (Which token is known only to snapshots that
            // list the tokens sent; without that list, the session moves on.)
            let revoking = matches!(self.flight.purpose, Purpose::Revoke(_));
            if self.retry.retry_at.is_some() && !revoking {
                return Err("a retry of a request that is no revocation");
            }
            Ok(())
        }
    }

    impl<D: Dialect> Persist<D> for Session<Revoking, D> {
        type Form = RevokingForm;

        fn store(&self, secrets: bool) -> RevokingForm {
            RevokingForm {
                flight: self.state.flight.stored(),
                sent: self
                    .state
                    .sent
                    .iter()
                    .map(|token| stored_secret(token, secrets))
                    .collect(),
                retry: self.state.retry,
                pending: PendingRevocation {
                    queue: self
                        .tokens
                        .queue
                        .iter()
                        .map(|(kind, token)| (*kind, stored_secret(token, secrets)))
                        .collect(),
                },
            }
        }

        fn restore(core: Core<D>, form: RevokingForm) -> Self {
            Session {
                core,
                state: Revoking {
                    // While a retry waits, the flight is the failed request, answered.
                    flight: Flight {
                        lost: form.retry.retry_at.is_none(),
                        ..form.flight
                    },
                    sent: form.sent,
                    retry: form.retry,
                },
                tokens: form.pending,
            }
        }
    }

    /// A revoked session's part of a snapshot: nothing.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    pub(crate) struct RevokedForm {}

    impl<E> Form<E> for RevokedForm {}

    impl<D: Dialect> Persist<D> for Session<Revoked, D> {
        type Form = RevokedForm;

        fn store(&self, _secrets: bool) -> RevokedForm {
            RevokedForm {}
        }

        fn restore(core: Core<D>, RevokedForm {}: RevokedForm) -> Self {
            Session {
                core,
                state: Revoked { _private: () },
                tokens: (),
            }
        }
    }
}
pub(crate) use stored::{RevokedForm, RevokingForm};
