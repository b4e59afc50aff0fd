//! The pump's side of the fleet protocol: it runs the [`Coordinator`] against the store
//! and applies its decisions to the session. The protocol itself, and what it
//! guarantees, is in `coordinator.rs`.

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, TokenRequest, TransportError};

use super::Pump;
use crate::coordinator::{Coordination, Coordinator, RequestKind, StoreAnswer, StoreOp};
use crate::store::{FleetSettings, Saved, StoreError, StoredSession};

/// Upper bound on store operations in one coordination: far above the longest sequence
/// (take the lease, re-read, store, release).
const MAX_OPERATIONS: usize = 8;

/// The coordinator, and the request it holds back for the lease.
#[derive(Debug)]
pub(super) struct Fleet {
    coordinator: Coordinator,
    held: Option<TokenRequest>,
}

impl Fleet {
    /// The fleet side of a process that read `stored` at start, or could not reach the
    /// store (`Err`): then it starts detached.
    pub(super) fn new(
        settings: FleetSettings,
        response_timeout: oauth_lifecycle::time::Duration,
        stored: Result<Option<&StoredSession>, &StoreError>,
        now: UtcDateTime,
    ) -> Self {
        let coordinator = match stored {
            Ok(stored) => {
                let synced = stored.map(|stored| (stored.revision, stored.generation));
                Coordinator::new(settings, response_timeout, synced, now)
            }
            Err(error) => Coordinator::detached(settings, response_timeout, error, now),
        };
        Fleet {
            coordinator,
            held: None,
        }
    }

    pub(super) fn deadline(&self) -> UtcDateTime {
        self.coordinator.deadline()
    }
}

impl<D: Dialect> Pump<D> {
    fn fleet_mut(&mut self) -> &mut Fleet {
        self.fleet.as_mut().expect("called in fleet mode only")
    }

    fn announced(&self) -> Option<u64> {
        self.store.as_ref().and_then(|store| store.announced())
    }

    /// Reads the store when a newer revision was announced or the poll is due, and
    /// adopts a newer session; then asks again about a request held for the lease.
    /// Returns that request if it may leave now.
    pub(super) fn fleet_sync(&mut self, now: UtcDateTime) -> Option<TokenRequest> {
        let announced = self.announced();
        let sending = self.driver.in_flight().is_some();
        let step = self.fleet_mut().coordinator.sync(announced, sending, now);
        // A sync ends adopting or doing nothing; no request hangs on it.
        let _ = self.coordinate(step, now);
        let request = self.fleet_mut().held.take()?;
        let still_wanted = self.driver.in_flight().map(|(id, _)| id) == Some(request.id());
        let retry = self
            .fleet_mut()
            .coordinator
            .retry_held(announced, still_wanted, now);
        match retry {
            Some(_) => self.fleet_clear(request, now),
            None => {
                if still_wanted && self.fleet_mut().coordinator.is_holding() {
                    self.fleet_mut().held = Some(request);
                }
                None
            }
        }
    }

    /// Decides about a request the session wants to send: `Some` to send it now, `None`
    /// when it is held for the lease, counted lost, or dropped with a session replaced
    /// from the store.
    pub(super) fn fleet_clear(
        &mut self,
        request: TokenRequest,
        now: UtcDateTime,
    ) -> Option<TokenRequest> {
        let kind = RequestKind {
            purpose: request.purpose(),
            resend_safe: request.is_resend_safe(),
        };
        let step = self.fleet_mut().coordinator.request(kind, now);
        match self.coordinate(step, now) {
            Coordination::Send => Some(request),
            Coordination::Hold => {
                self.fleet_mut().held = Some(request);
                None
            }
            Coordination::CountLost => {
                let _ = self.driver.handle_transport_error(
                    request.id(),
                    TransportError::OutcomeUnknown,
                    now,
                );
                None
            }
            _ => None,
        }
    }

    /// A persistence point: written to the store while this process holds the lease,
    /// kept for later otherwise.
    pub(super) fn fleet_persist(&mut self, now: UtcDateTime) {
        let step = self.fleet_mut().coordinator.persist();
        // A persistence point ends stored, adopted, or kept for later.
        let _ = self.coordinate(step, now);
    }

    /// Runs the coordinator's store operations until it decides; a session to adopt is
    /// adopted here (then `Done`).
    fn coordinate(&mut self, mut step: Coordination, now: UtcDateTime) -> Coordination {
        for _ in 0..MAX_OPERATIONS {
            match step {
                Coordination::Store(op) => {
                    let answer = self.execute(op, now);
                    let generation = self.driver.session().generation();
                    let in_flight = self.driver.in_flight().is_some();
                    step = self
                        .fleet_mut()
                        .coordinator
                        .answer(answer, generation, in_flight, now);
                }
                Coordination::Adopt(stored) => {
                    self.fleet_mut().held = None;
                    self.adopt_with(&stored, now, true);
                    return Coordination::Done;
                }
                decision => return decision,
            }
        }
        tracing::error!("fleet: the coordination did not settle");
        Coordination::Done
    }

    /// Runs one store operation.
    fn execute(&mut self, op: StoreOp, now: UtcDateTime) -> StoreAnswer {
        let store = self.store.clone().expect("a store in fleet mode");
        let answered = match op {
            StoreOp::TakeLease => store.take_lease(now).map(StoreAnswer::Lease),
            StoreOp::Load => store.load().map(StoreAnswer::Loaded),
            StoreOp::ReleaseLease => store.release_lease().map(|()| StoreAnswer::Released),
            StoreOp::Store { expected } => {
                let Some(bytes) = self.snapshot_bytes() else {
                    return StoreAnswer::Failed(crate::store::StoreError::Unreadable {
                        reason: "a session that cannot be serialized",
                    });
                };
                let generation = self.driver.session().generation();
                let saved = store.save(expected, generation, &bytes);
                if let Ok(Saved::Stored { revision }) = &saved {
                    self.revision = Some(*revision);
                }
                saved.map(StoreAnswer::Saved)
            }
        };
        answered.unwrap_or_else(StoreAnswer::Failed)
    }

    fn snapshot_bytes(&self) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let snapshot = self.driver.session().snapshot_with_secrets();
        match serde_json::to_vec(&snapshot) {
            Ok(bytes) => Some(zeroize::Zeroizing::new(bytes)),
            Err(error) => {
                tracing::error!(%error, "could not serialize the session");
                None
            }
        }
    }
}
