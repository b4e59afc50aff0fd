//! Persistence: a serde form of the session that round-trips exactly.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::states::Halt;
use super::stored::{Form, Parts, Persist, REDACTED};
// The states' forms, as the state list names them.
use super::table::{stored_states, StateName};
use super::transitions::forms::*;
use super::{
    Active, AnySession, AuthorizingDevice, AwaitingApproval, AwaitingRedirect, Core,
    ExchangingCode, Expiring, LoggingIn, Refreshing, Revoked, Revoking, Session, Shared,
    Unauthenticated,
};
use crate::bearer::Generation;
use crate::dialect::Dialect;
use crate::error::ConfigError;
use crate::output::Event;
use crate::policy::{BudgetLog, Policy};

const FORMAT: u32 = 2;

/// A serializable picture of a session: state, tokens with their generation and
/// withdrawal, expiries, backoff, request budget and the request in flight, so a process
/// can stop and resume exactly where it was. Events and persistence points not yet
/// drained are not part of it: they were about the past. The dialect and policy are configuration
/// and are supplied again on [`restore`](AnySession::restore).
///
/// Secrets are included only when asked for with
/// [`AnySession::snapshot_with_secrets`]; [`AnySession::snapshot_redacted`] replaces
/// every token with `[redacted]` (for diagnostics) and cannot be restored. `Debug` is
/// always redacted.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
pub struct Snapshot<E> {
    format: u32,
    secrets: bool,
    next_id: u64,
    /// The generation of the last token the session obtained.
    generation: Generation,
    /// When recent logins and refreshes were sent (dialects with a request budget).
    #[serde(default, skip_serializing_if = "BudgetLog::is_empty")]
    budget: BudgetLog,
    /// When recent logins and refreshes were sent (the policy's own request budget).
    #[serde(default, skip_serializing_if = "BudgetLog::is_empty")]
    pace: BudgetLog,
    /// How many tokens in a row a reported 401 rejected young.
    #[serde(default, skip_serializing_if = "is_zero")]
    rejected_young: u32,
    state: SnapshotState<E>,
}

/// Generates the snapshot's state enum from the state list in `table.rs`: a variant per
/// state, holding the state's form, tagged with the state's name; and the two matches
/// that write a session into it and read one back.
macro_rules! snapshot_state {
    ($($state:ident: $form:ty),*) => {
        #[derive(Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "state", rename_all = "snake_case")]
        #[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
        enum SnapshotState<E> {
            $($state($form),)*
        }

        impl<E> SnapshotState<E> {
            fn state(&self) -> StateName {
                match self {
                    $(SnapshotState::$state(_) => StateName::$state,)*
                }
            }

            fn form(&mut self) -> &mut dyn Form<E> {
                match self {
                    $(SnapshotState::$state(form) => form,)*
                }
            }
        }

        impl<D: Dialect> AnySession<D> {
            fn stored_state(&self, secrets: bool) -> SnapshotState<D::Extra> {
                match self {
                    $(AnySession::$state(s) => SnapshotState::$state(s.store(secrets)),)*
                }
            }

            fn from_stored_state(core: Core<D>, state: SnapshotState<D::Extra>) -> Self {
                match state {
                    $(SnapshotState::$state(form) => {
                        Session::<$state, D>::restore(core, form).into()
                    })*
                }
            }
        }
    };
}
stored_states!(snapshot_state);

impl<E> Snapshot<E> {
    /// Whether the snapshot holds the secrets (and can be restored).
    pub fn has_secrets(&self) -> bool {
        self.secrets
    }

    /// The generation of the last token the session obtained.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The state's name.
    pub fn state_name(&self) -> &'static str {
        self.state().words()
    }

    /// The state, as the transition table names it.
    pub fn state(&self) -> StateName {
        self.state.state()
    }
}

/// Highest request id a snapshot may carry: 2^53, exact in every JSON reader and more
/// requests than a session sends in centuries. Beyond it, ids could repeat.
const MAX_REQUEST_ID: u64 = 1 << 53;

fn is_zero(count: &u32) -> bool {
    *count == 0
}

impl<E> Snapshot<E> {
    /// Checks that the snapshot agrees with itself, and re-derives the moments the policy
    /// computes from others (refresh moment, hard expiry), so a corrupted or edited
    /// snapshot cannot reuse request ids or stretch a token's life.
    fn check(&mut self, policy: &Policy) -> Result<(), ConfigError> {
        let inconsistent = |reason| Err(ConfigError::InconsistentSnapshot { reason });
        if self.next_id == 0 || self.next_id > MAX_REQUEST_ID {
            return inconsistent("request counter out of range");
        }
        let generation = self.generation;
        let form = self.state.form();
        form.check().or_else(inconsistent)?;
        let Parts { tokens, flight, .. } = form.parts();
        if let Some(flight) = flight {
            if flight.id.get() >= self.next_id {
                return inconsistent("a request in flight with an id not yet issued");
            }
            if flight.deadline < flight.sent_at
                || flight.deadline - flight.sent_at
                    > policy.response_timeout.max(time::Duration::DAY)
            {
                return inconsistent("a response deadline out of range");
            }
        }
        if let Some(tokens) = tokens {
            if tokens.generation.get() == 0 || tokens.generation > generation {
                return inconsistent("a token generation out of range");
            }
            let lifetime = tokens.expires_at - tokens.issued_at;
            // Ten years at most: `max_lifetime` may have been lowered since the token came.
            if !lifetime.is_positive() || lifetime > crate::policy::MAX_LIFETIME {
                return inconsistent("a token lifetime out of range");
            }
            // Derived moments are computed again, never trusted.
            (tokens.refresh_at, tokens.hard_expiry) = policy.moments(
                tokens.issued_at,
                tokens.expires_at,
                tokens.bearer.secret().as_bytes(),
            );
        }
        Ok(())
    }

    /// A failure kept in a snapshot is a server's words: it is scrubbed again of every
    /// secret the dialect holds and of the snapshot's tokens, and cut to size, as it was
    /// when first judged, so an edited snapshot cannot smuggle a secret into `Debug`.
    fn scrub_halts<D: Dialect>(&mut self, dialect: &D) {
        let Parts { halt, tokens, .. } = self.state.form().parts();
        let Some(halt) = halt else {
            return;
        };
        let (Halt::Reauthenticate(failure) | Halt::Rejected(failure)) = halt else {
            return;
        };
        match tokens {
            Some(tokens) => failure.scrub(&[dialect.secrets(), tokens.secrets()]),
            None => failure.scrub(&[dialect.secrets()]),
        }
        failure.seal();
    }
}

impl<E> fmt::Debug for Snapshot<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("format", &self.format)
            .field("secrets", &if self.secrets { REDACTED } else { "none" })
            .field("next_id", &self.next_id)
            .field("generation", &self.generation)
            .field("state", &self.state_name())
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> AnySession<D> {
    /// A snapshot holding the tokens in clear, to persist the session. Store it as you
    /// would store the tokens themselves.
    pub fn snapshot_with_secrets(&self) -> Snapshot<D::Extra> {
        self.snapshot(true)
    }

    /// A snapshot with every token replaced by `[redacted]`: safe to log, not restorable.
    pub fn snapshot_redacted(&self) -> Snapshot<D::Extra> {
        self.snapshot(false)
    }

    fn snapshot(&self, secrets: bool) -> Snapshot<D::Extra> {
        let state = self.stored_state(secrets);
        Snapshot {
            format: FORMAT,
            secrets,
            next_id: self.core().next_id,
            generation: self.core().generation,
            budget: self.core().budget.clone(),
            pace: self.core().pace.clone(),
            rejected_young: self.core().rejected_young,
            state,
        }
    }

    /// Rebuilds a session from a snapshot made with its secrets, with the dialect and
    /// policy it runs under. A token that may still be handed out is announced with
    /// [`Event::TokenRestored`], so a read side built from events alone learns it.
    ///
    /// A request that was in flight is lost: the process that sent it is gone, and its
    /// answer with it. The session says so itself: its deadline is due at once, and the
    /// next time the session is shown the time (any [`Driver`](crate::Driver) input, or
    /// `on_timeout`) the request fails as [`TransportError::OutcomeUnknown`] would — a
    /// single-use refresh token it carried is never presented again. Until then the
    /// request is still [`in_flight`](AnySession::in_flight): a response for it is still
    /// accepted (a restore within the process that sent it may still receive one), and
    /// reporting it with a transport error, as adapters did before, is accepted too and
    /// counts as `OutcomeUnknown` whatever the error says. Afterwards its id is refused
    /// as [`Misuse::UnknownRequest`](crate::Misuse::UnknownRequest), as every answered
    /// request's is.
    ///
    /// [`TransportError::OutcomeUnknown`]: crate::TransportError::OutcomeUnknown
    pub fn restore(
        dialect: D,
        policy: Policy,
        snapshot: Snapshot<D::Extra>,
    ) -> Result<Self, ConfigError> {
        policy.validate()?;
        let invalid = |reason| ConfigError::InvalidSetting {
            setting: "snapshot",
            reason,
        };
        if snapshot.format != FORMAT {
            return Err(invalid("unknown snapshot format"));
        }
        if !snapshot.secrets {
            return Err(invalid("a redacted snapshot cannot be restored"));
        }
        let mut snapshot = snapshot;
        snapshot.check(&policy)?;
        snapshot.scrub_halts(&dialect);
        let mut core = Core::new(
            Arc::new(Shared { dialect, policy }),
            snapshot.next_id,
            snapshot.generation,
        );
        core.budget = snapshot.budget;
        core.pace = snapshot.pace;
        core.rejected_young = snapshot.rejected_young;
        let mut session = AnySession::from_stored_state(core, snapshot.state);
        // A read side starting with this session learns its token from events too.
        let restored = session
            .tokens()
            .filter(|tokens| tokens.withdrawn.is_none())
            .map(|tokens| Event::TokenRestored {
                token: tokens.bearer.clone(),
                generation: tokens.generation,
                valid_until: tokens.hard_expiry,
                expires_at: tokens.expires_at,
            });
        if let Some(event) = restored {
            session.core_mut().notify(event);
        }
        Ok(session)
    }

    /// Like [`restore`](AnySession::restore), for a session another process is running
    /// right now (read from a store they share): a request it has in flight is being
    /// answered to that process, which stores the result. It is not lost, then: it stays
    /// awaited until its deadline, and counts as timed out only if no newer session
    /// replaces this one by then. A single-use refresh token it carries is not presented
    /// meanwhile either way.
    pub fn restore_answered_elsewhere(
        dialect: D,
        policy: Policy,
        snapshot: Snapshot<D::Extra>,
    ) -> Result<Self, ConfigError> {
        let mut session = Self::restore(dialect, policy, snapshot)?;
        let flight = match &mut session {
            AnySession::LoggingIn(s) => Some(&mut s.state.flight),
            AnySession::Refreshing(s) => Some(&mut s.state.flight),
            AnySession::Revoking(s) => Some(&mut s.state.flight),
            _ => None,
        };
        if let Some(flight) = flight {
            flight.lost = false;
        }
        Ok(session)
    }
}
