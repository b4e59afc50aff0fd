//! Persistence: a serde form of the session that round-trips exactly.

use std::fmt;
use std::sync::Arc;

use oauth2::RefreshToken;
use serde::{Deserialize, Serialize};

use super::states::{Backoff, Flight, Halt, PendingRevocation};
use super::table::StateName;
use super::{
    Active, AnySession, Core, Expiring, LoggingIn, Refreshing, Revoked, Revoking, Session, Shared,
    Unauthenticated,
};
use crate::bearer::{BearerToken, Generation};
use crate::dialect::Dialect;
use crate::error::ConfigError;
use crate::output::Event;
use crate::policy::{BudgetLog, Policy};
use crate::token::TokenSet;

const FORMAT: u32 = 2;
const REDACTED: &str = "[redacted]";

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

#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[serde(bound(serialize = "E: Serialize", deserialize = "E: Deserialize<'de>"))]
enum SnapshotState<E> {
    Unauthenticated {
        backoff: Backoff,
        halt: Option<Box<Halt>>,
    },
    LoggingIn {
        flight: Flight,
        failures: u32,
        #[serde(default)]
        rejections: u32,
    },
    Active {
        tokens: TokenSet<E>,
    },
    Expiring {
        tokens: TokenSet<E>,
        backoff: Backoff,
        halt: Option<Box<Halt>>,
    },
    Refreshing {
        tokens: TokenSet<E>,
        flight: Flight,
        failures: u32,
        #[serde(default)]
        rejections: u32,
    },
    Revoking {
        flight: Flight,
        pending: PendingRevocation,
        /// The tokens sent for revocation so far, the one in flight last.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        sent: Vec<String>,
        /// Failed attempts at the last one, and when it is sent again.
        #[serde(default)]
        retry: Backoff,
    },
    Revoked,
}

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
        match self.state {
            SnapshotState::Unauthenticated { .. } => StateName::Unauthenticated,
            SnapshotState::LoggingIn { .. } => StateName::LoggingIn,
            SnapshotState::Active { .. } => StateName::Active,
            SnapshotState::Expiring { .. } => StateName::Expiring,
            SnapshotState::Refreshing { .. } => StateName::Refreshing,
            SnapshotState::Revoking { .. } => StateName::Revoking,
            SnapshotState::Revoked => StateName::Revoked,
        }
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
        let (tokens, flight) = match &mut self.state {
            SnapshotState::Unauthenticated { .. } | SnapshotState::Revoked => (None, None),
            SnapshotState::LoggingIn { flight, .. } => (None, Some(*flight)),
            SnapshotState::Active { tokens } | SnapshotState::Expiring { tokens, .. } => {
                (Some(tokens), None)
            }
            SnapshotState::Refreshing { tokens, flight, .. } => (Some(tokens), Some(*flight)),
            SnapshotState::Revoking { flight, retry, .. } => {
                // Only a revocation is retried. (Which token is known only to snapshots
                // that list the tokens sent; without that list, the session moves on.)
                let revoking = matches!(flight.purpose, crate::request::Purpose::Revoke(_));
                if retry.retry_at.is_some() && !revoking {
                    return inconsistent("a retry of a request that is no revocation");
                }
                (None, Some(*flight))
            }
        };
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
        let (halt, tokens) = match &mut self.state {
            SnapshotState::Unauthenticated { halt, .. } => (halt, None),
            SnapshotState::Expiring { halt, tokens, .. } => (halt, Some(tokens)),
            _ => return,
        };
        let Some(halt) = halt.as_deref_mut() else {
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

fn redact<E: crate::dialect::ExtraFields>(tokens: &TokenSet<E>) -> TokenSet<E> {
    let mut tokens = tokens.clone();
    tokens.bearer = BearerToken::redacted();
    tokens.refresh_token = tokens
        .refresh_token
        .take()
        .map(|_| RefreshToken::new(REDACTED.to_owned()));
    tokens.extra.redact();
    tokens
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
        let tokens = |tokens: &TokenSet<D::Extra>| {
            if secrets {
                tokens.clone()
            } else {
                redact(tokens)
            }
        };
        let secret = |value: &String| {
            if secrets {
                value.clone()
            } else {
                REDACTED.to_owned()
            }
        };
        let state = match self {
            AnySession::Unauthenticated(s) => SnapshotState::Unauthenticated {
                backoff: s.state.backoff,
                halt: s.state.halt.clone(),
            },
            AnySession::LoggingIn(s) => SnapshotState::LoggingIn {
                flight: s.state.flight.stored(),
                failures: s.state.failures,
                rejections: s.state.rejections,
            },
            AnySession::Active(s) => SnapshotState::Active {
                tokens: tokens(&s.tokens),
            },
            AnySession::Expiring(s) => SnapshotState::Expiring {
                tokens: tokens(&s.tokens),
                backoff: s.state.backoff,
                halt: s.state.halt.clone(),
            },
            AnySession::Refreshing(s) => SnapshotState::Refreshing {
                tokens: tokens(&s.tokens),
                flight: s.state.flight.stored(),
                failures: s.state.failures,
                rejections: s.state.rejections,
            },
            AnySession::Revoking(s) => SnapshotState::Revoking {
                flight: s.state.flight.stored(),
                sent: s.state.sent.iter().map(secret).collect(),
                retry: s.state.retry,
                pending: PendingRevocation {
                    queue: s
                        .tokens
                        .queue
                        .iter()
                        .map(|(kind, token)| (*kind, secret(token)))
                        .collect(),
                },
            },
            AnySession::Revoked(_) => SnapshotState::Revoked,
        };
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
        let mut session: AnySession<D> = match snapshot.state {
            SnapshotState::Unauthenticated { backoff, halt } => Session {
                core,
                state: Unauthenticated { backoff, halt },
                tokens: (),
            }
            .into(),
            SnapshotState::LoggingIn {
                flight,
                failures,
                rejections,
            } => Session {
                core,
                state: LoggingIn {
                    flight: Flight {
                        lost: true,
                        ..flight
                    },
                    failures,
                    rejections,
                },
                tokens: (),
            }
            .into(),
            SnapshotState::Active { tokens } => Session {
                core,
                state: Active { _private: () },
                tokens,
            }
            .into(),
            SnapshotState::Expiring {
                tokens,
                backoff,
                halt,
            } => Session {
                core,
                state: Expiring { backoff, halt },
                tokens,
            }
            .into(),
            SnapshotState::Refreshing {
                tokens,
                flight,
                failures,
                rejections,
            } => Session {
                core,
                state: Refreshing {
                    flight: Flight {
                        lost: true,
                        ..flight
                    },
                    failures,
                    rejections,
                },
                tokens,
            }
            .into(),
            SnapshotState::Revoking {
                flight,
                pending,
                sent,
                retry,
            } => Session {
                core,
                state: Revoking {
                    // While a retry waits, the flight is the failed request, answered.
                    flight: Flight {
                        lost: retry.retry_at.is_none(),
                        ..flight
                    },
                    sent,
                    retry,
                },
                tokens: pending,
            }
            .into(),
            SnapshotState::Revoked => Session {
                core,
                state: Revoked { _private: () },
                tokens: (),
            }
            .into(),
        };
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
