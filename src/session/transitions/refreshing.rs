//! Refreshing: the renewal in flight, the old token served meanwhile.

use time::UtcDateTime;

use super::{spent_elsewhere, RenewOutcome};
use crate::bearer::Generation;
use crate::dialect::{Dialect, RefreshTokenUse};
use crate::error::{Error, Failure};
use crate::output::Status;
use crate::output::{Event, Unauthorized};
use crate::request::{Purpose, RequestId};
use crate::session::common::earlier;
use crate::session::states::{Backoff, Halt, WaitCause};
use crate::session::{Active, Expiring, Refreshing, Refused, Session, Step};

impl<D: Dialect> Session<Refreshing, D> {
    /// Where the session stands: renewing, the old token still served.
    pub fn status(&self) -> Status {
        Status::Renewing
    }

    /// What the request in flight is: a refresh, or a login standing in for one.
    pub fn purpose(&self) -> Purpose {
        self.state.flight.purpose
    }

    /// Hands back the renewal response.
    pub fn on_response(
        mut self,
        id: RequestId,
        response: &http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) -> Result<RenewOutcome<D>, Refused<Self>> {
        let flight = self.state.flight;
        if let Err(error) = flight.check(id) {
            return Err(Refused {
                session: self,
                error,
            });
        }
        let mut tokens = match self
            .core
            .accept(&flight, response, now, Some(&mut self.tokens))
        {
            Ok(tokens) => tokens,
            Err(failure) => return Ok(self.fail(failure, now)),
        };
        let outlives = self.core.shared.dialect.refresh_token_outlives_refresh();
        if flight.purpose == Purpose::Refresh && tokens.refresh_token.is_none() && outlives {
            // RFC 6749 §6: no new refresh token means the old one stays in use.
            tokens.keep_refresh_token(&mut self.tokens);
        }
        self.core.issue(&mut tokens, flight.purpose, true);
        Ok(RenewOutcome::Renewed(
            Session {
                core: self.core,
                state: Active { _private: () },
                tokens,
            },
            flight.purpose,
        ))
    }

    /// Reports a 401 from a resource server about token `generation`: if it is the
    /// current (old) token, it is no longer handed out while the renewal is in flight.
    pub fn on_unauthorized(&mut self, generation: Generation, _now: UtcDateTime) -> Unauthorized {
        self.core.reject(&mut self.tokens, generation)
    }

    /// Reports that a call authenticated with token `generation` succeeded at `now`: for
    /// dialects with sliding expiry this extends the current token's life.
    pub fn on_call_succeeded(&mut self, generation: Generation, now: UtcDateTime) {
        self.slide(generation, now);
    }

    /// When showing the session the time next matters: the response deadline, or the old
    /// token's hard expiry if that comes first.
    pub fn deadline(&self) -> UtcDateTime {
        let expiry = self
            .tokens
            .withdrawn
            .is_none()
            .then_some(self.tokens.hard_expiry);
        let due = self.state.flight.due();
        earlier(expiry, Some(due)).unwrap_or(due)
    }

    pub(super) fn fail(self, failure: Failure, now: UtcDateTime) -> RenewOutcome<D> {
        let (session, error) = self.fail_to(failure, now);
        RenewOutcome::Failed(session, error)
    }

    /// The renewal failed: back to [`Expiring`], backing off, logging in again at once or
    /// halted; the old token is still served until its hard expiry.
    pub(super) fn fail_to(
        mut self,
        failure: Failure,
        now: UtcDateTime,
    ) -> (Session<Expiring, D>, Error) {
        let mut tokens = self.tokens;
        let reached_server = failure.may_have_reached_server();
        let mut failures = self.state.failures.saturating_add(1);
        let error = self.core.verdict(
            self.state.flight.purpose,
            failure,
            failures,
            &[tokens.secrets()],
            now,
        );
        let dialect = &self.core.shared.dialect;
        let mut refresh_token_dropped = false;
        if self.state.flight.purpose == Purpose::Refresh && tokens.refresh_token.is_some() {
            // A refusal of the client (`invalid_client`) or of the pace (throttling) is an
            // answer that the grant was not exchanged; anything else that may have
            // reached the server may have spent a single-use token.
            let unspent = matches!(error, Error::Rejected { .. } | Error::Throttled { .. });
            let spent = dialect.refresh_token_use() == RefreshTokenUse::SingleUse
                && reached_server
                && !unspent;
            if spent || matches!(error, Error::Reauthenticate { .. }) {
                // Never presented again: the server may have consumed it.
                refresh_token_dropped = tokens.forget_refresh_token();
            }
        }
        let renewable = self.core.refresh_token_usable(&tokens, now) || dialect.can_login();
        let purpose = self.state.flight.purpose;
        let mut rejections = self.state.rejections;
        let (retry_at, halt, cause) = match &error {
            // A dead refresh token with credentials at hand: log in again at once.
            Error::Reauthenticate { failure } if renewable && purpose == Purpose::Refresh => {
                self.core.notify(Event::Reauthenticating {
                    cause: failure.clone(),
                });
                (None, None, WaitCause::Failure)
            }
            Error::Retry { failure, .. } | Error::Throttled { failure, .. } if !renewable => {
                let halt = Halt::Reauthenticate(failure.clone());
                self.core.halted(halt.to_error());
                (None, Some(Box::new(halt)), WaitCause::Failure)
            }
            // The credentials or the client rejected: retried slowly, a bounded number of
            // times, then halted. Counted apart from temporary failures.
            Error::Rejected { .. } | Error::Reauthenticate { .. } if renewable => {
                rejections = rejections.saturating_add(1);
                failures = self.state.failures;
                let (retry_at, halt) = self.core.rejected(purpose, &error, rejections, now);
                (retry_at, halt, WaitCause::Rejected)
            }
            _ => {
                let halt = Halt::from_error(&error);
                match &halt {
                    Some(halt) => self.core.halted(halt.to_error()),
                    None => self.core.retry_scheduled(purpose, error.clone()),
                }
                (error.retry_at(), halt, WaitCause::of(&error))
            }
        };
        if refresh_token_dropped {
            self.core.persist();
        }
        // A re-login after a dead grant is a fresh start, not one more failure.
        let failures = if retry_at.is_none() && halt.is_none() {
            0
        } else {
            failures
        };
        let session = Session {
            core: self.core,
            state: Expiring {
                backoff: Backoff::new(failures, rejections, retry_at, cause),
                halt,
            },
            tokens,
        };
        (session, error)
    }
}

impl<D: Dialect> Session<Refreshing, D> {
    /// Reports that the refresh token may have been spent elsewhere: it is dropped and
    /// wiped, never presented again, and the session persists. The access token is still
    /// served until its hard expiry.
    ///
    /// A refresh in flight presented that token: it is abandoned (its answer is refused
    /// from now on as [`Misuse::UnknownRequest`]) and the session goes back to
    /// [`Expiring`] with no new backoff — the server did not fail — to log in at once,
    /// or, without credentials, halted ([`Step::Next`]). A login standing in for the
    /// refresh is kept ([`Step::Same`]).
    ///
    /// [`Misuse::UnknownRequest`]: crate::error::Misuse::UnknownRequest
    pub fn on_refresh_token_spent_elsewhere(
        mut self,
        _now: UtcDateTime,
    ) -> Step<Self, Session<Expiring, D>> {
        let dropped = self.core.forget_spent_refresh_token(&mut self.tokens);
        if self.state.flight.purpose != Purpose::Refresh {
            if dropped {
                self.core.persist();
            }
            return Step::Same(self);
        }
        let backoff = Backoff {
            failures: self.state.failures,
            ..Backoff::default()
        };
        let halt = if self.core.shared.dialect.can_login() {
            self.core.persist();
            None
        } else {
            let error = spent_elsewhere();
            let halt = Halt::from_error(&error);
            self.core.halted(error);
            halt
        };
        Step::Next(self.with_tokens(Expiring { backoff, halt }))
    }
}

// As part of `AnySession`: awaits its response and still hands out the old token; a
// renewal asked meanwhile is this one.
mod route {
    use time::UtcDateTime;

    use crate::bearer::Generation;
    use crate::dialect::Dialect;
    use crate::output::Unauthorized;

    use crate::session::route::{
        routes_of_a_request_in_flight, routes_of_a_token_holder, Route, Routed, RoutedRefusal,
    };
    use crate::session::{AnySession, Refreshing, Session, Step};

    impl<D: Dialect> Route<D> for Session<Refreshing, D> {
        routes_of_a_token_holder!();
        routes_of_a_request_in_flight!();

        fn next_deadline(&self) -> Option<UtcDateTime> {
            Some(self.deadline())
        }

        fn route_unauthorized(
            mut self,
            generation: Generation,
            now: UtcDateTime,
        ) -> (AnySession<D>, Unauthorized) {
            let answer = self.on_unauthorized(generation, now);
            (self.into(), answer)
        }

        fn route_call_succeeded(
            mut self,
            generation: Generation,
            now: UtcDateTime,
        ) -> AnySession<D> {
            self.on_call_succeeded(generation, now);
            self.into()
        }

        fn route_refresh_token_spent_elsewhere(self, now: UtcDateTime) -> AnySession<D> {
            match self.on_refresh_token_spent_elsewhere(now) {
                Step::Same(s) => s.into(),
                Step::Next(s) => s.into(),
            }
        }

        fn route_renew(self, _now: UtcDateTime) -> Result<Routed<D>, RoutedRefusal<D>> {
            Ok((self.into(), None))
        }

        fn route_revoke(self, now: UtcDateTime) -> Routed<D> {
            self.revoke(now).into()
        }
    }
}

// In a snapshot: the token set, the renewal in flight (lost on restore) and the failure
// counts.
mod stored {
    use serde::{Deserialize, Serialize};

    use crate::dialect::Dialect;
    use crate::session::states::Flight;
    use crate::session::stored::{stored_tokens, Form, Parts, Persist};
    use crate::session::{Core, Refreshing, Session};
    use crate::token::TokenSet;

    /// A refreshing session's part of a snapshot.
    #[derive(Clone, PartialEq, Serialize, Deserialize)]
    #[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
    pub(crate) struct RefreshingForm<E> {
        tokens: TokenSet<E>,
        flight: Flight,
        failures: u32,
        #[serde(default)]
        rejections: u32,
    }

    impl<E> Form<E> for RefreshingForm<E> {
        fn parts(&mut self) -> Parts<'_, E> {
            Parts {
                tokens: Some(&mut self.tokens),
                flight: Some(&self.flight),
                ..Parts::default()
            }
        }
    }

    impl<D: Dialect> Persist<D> for Session<Refreshing, D> {
        type Form = RefreshingForm<D::Extra>;

        fn store(&self, secrets: bool) -> Self::Form {
            RefreshingForm {
                tokens: stored_tokens(&self.tokens, secrets),
                flight: self.state.flight.stored(),
                failures: self.state.failures,
                rejections: self.state.rejections,
            }
        }

        fn restore(core: Core<D>, form: Self::Form) -> Self {
            Session {
                core,
                state: Refreshing {
                    flight: Flight {
                        lost: true,
                        ..form.flight
                    },
                    failures: form.failures,
                    rejections: form.rejections,
                },
                tokens: form.tokens,
            }
        }
    }
}
pub(crate) use stored::RefreshingForm;
