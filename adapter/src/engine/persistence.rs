//! The engine's side of the store: persistence points saved by compare-and-swap, a newer
//! session adopted, and, with a store that coordinates a fleet, the [`Coordinator`] run
//! against it. Every store operation leaves as an [`Action::Store`] and its answer comes
//! back through [`Engine::handle_store_answer`]; what the answer continues is kept here.

use std::fmt;
use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Driver, Generation, Policy, TokenRequest};
use zeroize::Zeroizing;

use super::{Action, Engine, StartError};
use crate::coordinator::{Coordination, Coordinator, RequestKind, StoreAnswer, StoreOp};
use crate::store::{Saved, SessionStore, StoreError, StoredSession};

/// A store operation for the runtime to run: [`run`](StoreCall::run) it where blocking
/// is allowed (a thread of its own, or `spawn_blocking`), and hand the answer back.
pub struct StoreCall {
    store: Arc<dyn SessionStore>,
    operation: Operation,
}

enum Operation {
    Load,
    Save {
        expected: Option<u64>,
        generation: Generation,
        snapshot: Zeroizing<Vec<u8>>,
    },
    TakeLease {
        now: UtcDateTime,
    },
    ReleaseLease,
}

impl StoreCall {
    /// Runs the operation against the store; a failure is an answer too.
    pub fn run(self) -> StoreAnswer {
        let store = &*self.store;
        let answered = match self.operation {
            Operation::Load => store.load().map(StoreAnswer::Loaded),
            Operation::Save {
                expected,
                generation,
                snapshot,
            } => store
                .save(expected, generation, &snapshot)
                .map(StoreAnswer::Saved),
            Operation::TakeLease { now } => store.take_lease(now).map(StoreAnswer::Lease),
            Operation::ReleaseLease => store.release_lease().map(|()| StoreAnswer::Released),
        };
        answered.unwrap_or_else(StoreAnswer::Failed)
    }
}

impl fmt::Debug for StoreCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operation = match &self.operation {
            Operation::Load => "load",
            Operation::Save { .. } => "save",
            Operation::TakeLease { .. } => "take lease",
            Operation::ReleaseLease => "release lease",
        };
        f.debug_struct("StoreCall")
            .field("operation", &operation)
            .finish_non_exhaustive()
    }
}

/// Tries at saving one persistence point while the store keeps moving.
const SAVE_TRIES: u8 = 3;

/// Upper bound on store operations one coordination chains: far above the longest
/// sequence (take the lease, re-read, store, release).
const MAX_COORDINATION_STEPS: u8 = 8;

/// The store, what this process last read or wrote of it, and the operation out.
pub(super) struct Persistence {
    store: Option<Arc<dyn SessionStore>>,
    /// The store's revision this process last loaded or saved.
    revision: Option<u64>,
    fleet: Option<Fleet>,
    /// The operation out, and what its answer continues.
    out: Option<Flow>,
    /// What the next poll continues with, before anything else.
    next: Option<Resume>,
}

/// The coordinator, and the request it holds back for the lease.
struct Fleet {
    coordinator: Coordinator,
    held: Option<TokenRequest>,
}

/// What an operation out belongs to.
enum Flow {
    /// A persistence point outside a fleet, at its `tries`-th try.
    Save { tries: u8 },
    /// A coordination, then `then`; `steps` operations so far.
    Coordinating { then: Then, steps: u8 },
}

enum Resume {
    SaveAgain { tries: u8 },
    Coordinate(Coordination, Then, u8),
}

/// What a coordination was for.
enum Then {
    /// A look at the store; then a held request is asked about again.
    Sync,
    /// A request the session wants to send (boxed: it is far larger than the rest).
    Clear(Box<TokenRequest>),
    /// A persistence point.
    Persist,
}

/// Whether an adopted session's request in flight is lost (its sender is gone) or
/// being answered to a live process that stores the result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sender {
    Gone,
    Alive,
}

impl Persistence {
    /// Reads the store (through `run`) at start: what it holds, and the fleet side.
    pub(super) fn start(
        store: Option<Arc<dyn SessionStore>>,
        policy: &Policy,
        run: &mut impl FnMut(StoreCall) -> StoreAnswer,
        now: UtcDateTime,
    ) -> Result<(Self, Option<StoredSession>), StartError> {
        let mut persistence = Persistence {
            store,
            revision: None,
            fleet: None,
            out: None,
            next: None,
        };
        let Some(store) = persistence.store.clone() else {
            return Ok((persistence, None));
        };
        let settings = store.fleet().cloned();
        let answer = run(StoreCall {
            store,
            operation: Operation::Load,
        });
        let loaded = match answer {
            StoreAnswer::Loaded(stored) => Ok(stored),
            StoreAnswer::Failed(error) => Err(error),
            other => {
                tracing::error!(answer = ?other, "the store answered a load with something else");
                Err(StoreError::Unreadable {
                    reason: "the store answered a load with something else",
                })
            }
        };
        // A fleet's store that cannot be reached is no reason not to start: the process
        // works alone until it answers. Anything else the store says stops the start.
        let (stored, unreachable) = match loaded {
            Ok(stored) => (stored, None),
            Err(error @ StoreError::Unavailable(_)) if settings.is_some() => (None, Some(error)),
            Err(error) => return Err(error.into()),
        };
        persistence.fleet = settings.map(|settings| {
            let coordinator = match &unreachable {
                None => {
                    let synced = stored.as_ref().map(|s| (s.revision, s.generation));
                    Coordinator::new(settings, policy.response_timeout, synced, now)
                }
                Some(error) => Coordinator::detached(settings, policy.response_timeout, error, now),
            };
            Fleet {
                coordinator,
                held: None,
            }
        });
        persistence.revision = stored.as_ref().map(|stored| stored.revision);
        Ok((persistence, stored))
    }

    pub(super) fn store(&self) -> Option<&Arc<dyn SessionStore>> {
        self.store.as_ref()
    }

    pub(super) fn is_waiting_for_store(&self) -> bool {
        self.out.is_some()
    }
}

impl fmt::Debug for Persistence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Persistence")
            .field("store", &self.store.is_some())
            .field("revision", &self.revision)
            .field(
                "fleet",
                &self.fleet.as_ref().map(|fleet| &fleet.coordinator),
            )
            .field("waiting_for_store", &self.out.is_some())
            .finish()
    }
}

impl<D: Dialect> Engine<D> {
    /// The moment the fleet wants a look at the store at the latest, if in a fleet.
    pub(super) fn fleet_deadline(&self) -> Option<UtcDateTime> {
        let fleet = self.persistence.fleet.as_ref()?;
        Some(fleet.coordinator.deadline())
    }

    /// A persistence point of the core: saved outside a fleet; in a fleet, written while
    /// this process holds the lease and kept for later otherwise.
    pub(super) fn persist(&mut self, now: UtcDateTime) -> Option<Action> {
        self.persistence.store.as_ref()?;
        match self.persistence.fleet.as_mut() {
            Some(fleet) => {
                let step = fleet.coordinator.persist();
                self.coordinate(step, Then::Persist, 0, now)
            }
            None => self.save(1, now),
        }
    }

    fn save(&mut self, tries: u8, now: UtcDateTime) -> Option<Action> {
        let call = self.store_call(
            StoreOp::Store {
                expected: self.persistence.revision,
            },
            now,
        )?;
        self.persistence.out = Some(Flow::Save { tries });
        Some(Action::Store(call))
    }

    /// The answer to the operation out.
    pub(super) fn store_answered(&mut self, answer: StoreAnswer, now: UtcDateTime) {
        match self.persistence.out.take() {
            None => tracing::error!(answer = ?answer, "a store answer to no operation; ignored"),
            Some(Flow::Save { tries }) => self.saved(answer, tries, now),
            Some(Flow::Coordinating { then, steps }) => {
                if let StoreAnswer::Saved(Saved::Stored { revision }) = &answer {
                    self.persistence.revision = Some(*revision);
                }
                let generation = self.driver.session().generation();
                let in_flight = self.driver.in_flight().is_some();
                let Some(fleet) = self.persistence.fleet.as_mut() else {
                    return;
                };
                let step = fleet.coordinator.answer(answer, generation, in_flight, now);
                self.persistence.next = Some(Resume::Coordinate(step, then, steps));
            }
        }
    }

    /// Outside a fleet: the answer to a save. A newer session saved by another process
    /// since is adopted; an older or unreadable one is overwritten, a few times at most.
    fn saved(&mut self, answer: StoreAnswer, tries: u8, now: UtcDateTime) {
        let stored = match answer {
            StoreAnswer::Saved(Saved::Stored { revision }) => {
                tracing::debug!(revision, "session persisted");
                self.persistence.revision = Some(revision);
                return;
            }
            StoreAnswer::Saved(Saved::Newer(stored)) => stored,
            StoreAnswer::Failed(error) => {
                tracing::error!(%error, "could not persist the session");
                return;
            }
            other => {
                tracing::error!(answer = ?other, "the store answered a save with something else");
                return;
            }
        };
        let generation = self.driver.session().generation();
        // The process that saved it is alive and stores the answer to its request.
        if stored.generation >= generation && self.adopt(&stored, Sender::Alive, now) {
            return;
        }
        tracing::info!(
            theirs = stored.generation.get(),
            ours = generation.get(),
            "the store held an older or unreadable session; overwriting it"
        );
        self.persistence.revision = Some(stored.revision);
        if tries < SAVE_TRIES {
            self.persistence.next = Some(Resume::SaveAgain { tries: tries + 1 });
        } else {
            tracing::error!("the store kept moving; the session was not persisted");
        }
    }

    /// Continues what the last store answer left to do.
    pub(super) fn resume(&mut self, now: UtcDateTime) -> Option<Action> {
        match self.persistence.next.take()? {
            Resume::SaveAgain { tries } => self.save(tries, now),
            Resume::Coordinate(step, then, steps) => self.coordinate(step, then, steps, now),
        }
    }

    /// In a fleet: reads the store when a newer revision was announced or the poll is
    /// due, adopting a newer session; then asks again about a request held for the
    /// lease.
    pub(super) fn fleet_sync(&mut self, now: UtcDateTime) -> Option<Action> {
        let announced = self.announced();
        let sending = self.driver.in_flight().is_some();
        let fleet = self.persistence.fleet.as_mut()?;
        let step = fleet.coordinator.sync(announced, sending, now);
        self.coordinate(step, Then::Sync, 0, now)
    }

    /// A request the session wants to send: sent at once outside a fleet, decided by the
    /// coordinator in one.
    pub(super) fn clear_for_fleet(
        &mut self,
        request: TokenRequest,
        now: UtcDateTime,
    ) -> Option<Action> {
        let Some(fleet) = self.persistence.fleet.as_mut() else {
            return Some(self.send(request));
        };
        let kind = RequestKind {
            purpose: request.purpose(),
            resend_safe: request.is_resend_safe(),
        };
        let step = fleet.coordinator.request(kind, now);
        self.coordinate(step, Then::Clear(Box::new(request)), 0, now)
    }

    fn announced(&self) -> Option<u64> {
        self.persistence.store.as_ref()?.announced()
    }

    /// Acts on a coordination step: an operation leaves, a session is adopted, or the
    /// decision applies to what the coordination was for.
    fn coordinate(
        &mut self,
        step: Coordination,
        then: Then,
        steps: u8,
        now: UtcDateTime,
    ) -> Option<Action> {
        match step {
            Coordination::Store(op) if steps < MAX_COORDINATION_STEPS => {
                let Some(call) = self.store_call(op, now) else {
                    // The session cannot be serialized: as if the store had failed.
                    let failed = StoreAnswer::Failed(StoreError::Unreadable {
                        reason: "a session that cannot be serialized",
                    });
                    self.persistence.out = Some(Flow::Coordinating { then, steps });
                    self.store_answered(failed, now);
                    return self.resume(now);
                };
                self.persistence.out = Some(Flow::Coordinating {
                    then,
                    steps: steps + 1,
                });
                Some(Action::Store(call))
            }
            Coordination::Store(_) => {
                tracing::error!("fleet: the coordination did not settle");
                None
            }
            Coordination::Adopt(stored) => {
                if let Some(fleet) = self.persistence.fleet.as_mut() {
                    fleet.held = None;
                }
                // The request this process wanted to send goes with the old session.
                self.adopt(&stored, Sender::Gone, now);
                None
            }
            decision => self.decided(decision, then, now),
        }
    }

    fn decided(&mut self, decision: Coordination, then: Then, now: UtcDateTime) -> Option<Action> {
        match then {
            Then::Persist => None,
            Then::Sync => self.retry_held(now),
            Then::Clear(request) => match decision {
                Coordination::Send => Some(self.send(*request)),
                Coordination::Hold => {
                    if let Some(fleet) = self.persistence.fleet.as_mut() {
                        fleet.held = Some(*request);
                    }
                    None
                }
                Coordination::CountLost => {
                    tracing::info!(
                        request = request.id().get(),
                        "fleet: the store cannot vouch for the refresh token; not sending it"
                    );
                    self.driver.handle_refresh_token_spent_elsewhere(now);
                    None
                }
                _ => None,
            },
        }
    }

    /// Asks the coordinator again about the request held for the lease, if any.
    fn retry_held(&mut self, now: UtcDateTime) -> Option<Action> {
        let announced = self.announced();
        let in_flight = self.driver.in_flight().map(|(id, _)| id);
        let fleet = self.persistence.fleet.as_mut()?;
        let request = fleet.held.take()?;
        let still_wanted = in_flight == Some(request.id());
        match fleet.coordinator.retry_held(announced, still_wanted, now) {
            Some(_) => self.clear_for_fleet(request, now),
            None => {
                if still_wanted && fleet.coordinator.is_holding() {
                    fleet.held = Some(request);
                }
                None
            }
        }
    }

    /// The call for `op`, with the session's snapshot for a store.
    fn store_call(&self, op: StoreOp, now: UtcDateTime) -> Option<StoreCall> {
        let store = Arc::clone(self.persistence.store.as_ref()?);
        let operation = match op {
            StoreOp::Load => Operation::Load,
            StoreOp::ReleaseLease => Operation::ReleaseLease,
            StoreOp::TakeLease => Operation::TakeLease { now },
            StoreOp::Store { expected } => {
                let snapshot = self.driver.session().snapshot_with_secrets();
                let generation = snapshot.generation();
                let bytes = match serde_json::to_vec(&snapshot) {
                    Ok(bytes) => Zeroizing::new(bytes),
                    Err(error) => {
                        tracing::error!(%error, "could not serialize the session");
                        return None;
                    }
                };
                Operation::Save {
                    expected,
                    generation,
                    snapshot: bytes,
                }
            }
        };
        Some(StoreCall { store, operation })
    }

    /// Replaces the session by the store's newer one, if it can be read. Whatever the
    /// old one was about to send is dropped with it: the newer session knows better.
    fn adopt(&mut self, stored: &StoredSession, sender: Sender, now: UtcDateTime) -> bool {
        let dialect = Arc::clone(self.driver.session().dialect());
        let policy = self.driver.policy().clone();
        let restored = match sender {
            Sender::Gone => stored.restore(dialect, policy),
            Sender::Alive => stored.restore_answered_elsewhere(dialect, policy),
        };
        let session = match restored {
            Ok(session) => session,
            Err(error) => {
                tracing::error!(%error, "the store holds an unreadable session");
                return false;
            }
        };
        tracing::info!(
            revision = stored.revision,
            generation = stored.generation.get(),
            "another process moved the session on; adopting its state"
        );
        self.driver = Driver::from_session(session);
        self.persistence.revision = Some(stored.revision);
        self.driver.handle_timeout(now);
        // The old session's token goes unless the new one announces its own in its
        // place (at this drain): the old driver is gone and would never withdraw it.
        if self.driver.access_token(now).is_none() {
            self.cell.withdraw();
        }
        true
    }
}
