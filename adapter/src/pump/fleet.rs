//! The fleet protocol: processes sharing one session through a store that coordinates
//! them ([`SessionStore::fleet`]) renew it one at a time.
//!
//! - **Renewal under the lease.** A token request leaves only while this process holds
//!   the store's renewal lease for longer than the request may take. Taking it, the
//!   process re-reads the store: if another process stored since, it adopts that session
//!   and renews only if the adopted one still needs it. Its write-ahead snapshot (a
//!   single-use refresh token in flight) and its result land by compare-and-swap on the
//!   revision it read; then it gives the lease up.
//! - **Followers** keep serving their token and adopt a newer generation when one is
//!   announced, or at their next poll. A renewal of theirs waits, held, until the lease
//!   ends or a newer session arrives, whichever comes first.
//! - **A holder that died** is replaced when its lease ends: the next holder adopts the
//!   stored session, whose refresh is in flight, counts it lost, and logs in instead of
//!   sending that refresh token again.
//! - **A late holder** whose compare-and-swap fails (its lease ended and another process
//!   moved on) drops the tokens it obtained, with an event, and adopts the store's.
//! - **The store unreachable:** the process detaches. It never spends a single-use
//!   refresh token (the store may know it spent); it logs in by itself if it has
//!   credentials, and otherwise serves its valid token; it polls the store and rejoins
//!   when it answers, storing its own session if no one stored meanwhile and adopting the
//!   store's otherwise.
//!
//! The request budget of a provider (Convirza V2) is in the stored session: every holder
//! starts from it, so the whole fleet spends one budget.

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Purpose, TokenRequest, TransportError};

use super::Pump;
use crate::store::{FleetSettings, Lease, Saved, StoreError, StoredSession};

/// What this process knows of the fleet.
#[derive(Debug)]
pub(super) struct Fleet {
    settings: FleetSettings,
    /// Until when this process holds the lease, as far as it knows.
    lease_until: Option<UtcDateTime>,
    /// A renewal waiting for the lease, and until when it waits at most.
    held: Option<(TokenRequest, UtcDateTime)>,
    /// When to read the store next, announcement or not.
    next_poll: UtcDateTime,
    /// Whether the store is unreachable.
    detached: bool,
    /// A persistence point the store has not seen: written once the lease is held.
    unsaved: bool,
    /// The stored session last read or written.
    synced: Option<StoredSession>,
}

impl Fleet {
    pub(super) fn new(
        settings: FleetSettings,
        synced: Option<StoredSession>,
        now: UtcDateTime,
    ) -> Self {
        Fleet {
            next_poll: now.saturating_add(settings.poll),
            settings,
            lease_until: None,
            held: None,
            detached: false,
            unsaved: false,
            synced,
        }
    }

    fn synced_revision(&self) -> Option<u64> {
        self.synced.as_ref().map(|stored| stored.revision)
    }

    /// The moment the manager must drain again at the latest, for the fleet's sake.
    pub(super) fn deadline(&self) -> UtcDateTime {
        match &self.held {
            Some((_, until)) => (*until).min(self.next_poll),
            None => self.next_poll,
        }
    }
}

impl<D: Dialect> Pump<D> {
    fn fleet_mut(&mut self) -> &mut Fleet {
        self.fleet.as_mut().expect("called in fleet mode only")
    }

    /// Whether this process holds the lease long enough to send a request now.
    fn holds_lease(&self, now: UtcDateTime) -> bool {
        let fleet = self.fleet.as_ref().expect("fleet mode");
        let needed = now.saturating_add(self.policy.response_timeout);
        fleet.lease_until.is_some_and(|until| until > needed)
    }

    /// Reads the store if a newer revision was announced or the poll is due, and adopts
    /// a newer session. A detached process rejoins here.
    pub(super) fn fleet_sync(&mut self, now: UtcDateTime) {
        let store = self.store.clone().expect("a store in fleet mode");
        let fleet = self.fleet_mut();
        let announced = store
            .announced()
            .is_some_and(|revision| Some(revision) > fleet.synced_revision());
        if !announced && now < fleet.next_poll {
            return;
        }
        fleet.next_poll = now.saturating_add(fleet.settings.poll);
        // A holder with its request out waits for the answer: what it stores wins.
        let sending = fleet.lease_until.is_some() && fleet.held.is_none();
        if sending && self.driver.in_flight().is_some() {
            return;
        }
        match store.load() {
            Err(error) => self.detach(&error),
            Ok(stored) if self.fleet_mut().detached => self.rejoin(stored, now),
            Ok(Some(stored)) if stored.generation > self.driver.session().generation() => {
                tracing::info!(
                    generation = stored.generation.get(),
                    revision = stored.revision,
                    "fleet: adopting the session another process stored"
                );
                self.adopt_shared(stored, now);
            }
            Ok(_) => {}
        }
    }

    /// Decides about a request the driver wants to send: `Some` to send it now, `None`
    /// when it waits for the lease, or was dropped with a session replaced from the
    /// store.
    pub(super) fn fleet_clear(
        &mut self,
        request: TokenRequest,
        now: UtcDateTime,
    ) -> Option<TokenRequest> {
        if self.fleet_mut().detached {
            return self.detached_request(request, now);
        }
        if !self.holds_lease(now) {
            let store = self.store.clone().expect("a store in fleet mode");
            match store.take_lease(now) {
                Err(error) => {
                    self.detach(&error);
                    return self.detached_request(request, now);
                }
                Ok(Lease::Held { until }) => {
                    let fleet = self.fleet_mut();
                    let until = until.min(now.saturating_add(fleet.settings.poll));
                    tracing::debug!(%until, purpose = %request.purpose(), "fleet: another process renews; waiting");
                    fleet.held = Some((request, until));
                    return None;
                }
                Ok(Lease::Taken { until }) => {
                    tracing::debug!(%until, "fleet: lease taken");
                    let fleet = self.fleet_mut();
                    fleet.lease_until = Some(until);
                    match store.load() {
                        Err(error) => {
                            self.detach(&error);
                            return self.detached_request(request, now);
                        }
                        Ok(stored) => {
                            let fleet = self.fleet_mut();
                            if stored.as_ref().map(|s| s.revision) != fleet.synced_revision() {
                                // Someone stored since: start from that, and renew only if
                                // it still needs it (this request goes with the old one).
                                if let Some(stored) = stored {
                                    self.adopt_shared(stored, now);
                                    return None;
                                }
                            }
                        }
                    }
                }
            }
        }
        if self.fleet_mut().unsaved && !self.save_shared(now) {
            return None;
        }
        Some(request)
    }

    /// A request while the store is unreachable: a single-use refresh token stays unspent
    /// (the store may know it spent); anything else goes.
    fn detached_request(
        &mut self,
        request: TokenRequest,
        now: UtcDateTime,
    ) -> Option<TokenRequest> {
        if request.purpose() == Purpose::Refresh && !request.is_resend_safe() {
            tracing::warn!("fleet: store unreachable; the shared refresh token is not spent, logging in instead where possible");
            // Counted as spent: the session logs in if it can, or serves its valid token.
            let _ = self.driver.handle_transport_error(
                request.id(),
                TransportError::OutcomeUnknown,
                now,
            );
            return None;
        }
        Some(request)
    }

    /// A persistence point: written to the store while this process holds the lease,
    /// kept for later otherwise.
    pub(super) fn fleet_persist(&mut self, now: UtcDateTime) {
        let holds = self.fleet_mut().lease_until.is_some() && !self.fleet_mut().detached;
        self.fleet_mut().unsaved = true;
        if holds {
            self.save_shared(now);
        }
    }

    /// Stores the session by compare-and-swap on the revision last read; gives the lease
    /// up once no request is out. Returns whether it was stored (else the session was
    /// replaced by the store's, or the process detached).
    fn save_shared(&mut self, now: UtcDateTime) -> bool {
        let store = self.store.clone().expect("a store in fleet mode");
        let Some(bytes) = self.snapshot_bytes() else {
            return false;
        };
        let generation = self.driver.session().generation();
        let expected = self.fleet_mut().synced_revision();
        match store.save(expected, generation, &bytes) {
            Ok(Saved::Stored { revision }) => {
                tracing::debug!(
                    revision,
                    generation = generation.get(),
                    "fleet: session stored"
                );
                self.revision = Some(revision);
                let fleet = self.fleet_mut();
                fleet.unsaved = false;
                fleet.synced = Some(StoredSession {
                    revision,
                    generation,
                    snapshot: bytes,
                });
                if self.driver.in_flight().is_none() {
                    self.release_lease();
                }
                true
            }
            Ok(Saved::Newer(stored)) => {
                tracing::warn!(
                    ours = generation.get(),
                    theirs = stored.generation.get(),
                    "fleet: another process stored first (this lease had ended); dropping this process's tokens"
                );
                self.fleet_mut().lease_until = None;
                self.adopt_shared(stored, now);
                false
            }
            Err(error) => {
                self.detach(&error);
                false
            }
        }
    }

    fn release_lease(&mut self) {
        let store = self.store.clone().expect("a store in fleet mode");
        self.fleet_mut().lease_until = None;
        if let Err(error) = store.release_lease() {
            // It ends by itself.
            tracing::debug!(%error, "fleet: could not give the lease up");
        }
    }

    /// Replaces the session by the stored one. A request it had in flight was another
    /// process's, which is gone (this process holds the lease now): it is counted lost,
    /// so a single-use refresh token is never sent again.
    fn adopt_shared(&mut self, stored: StoredSession, now: UtcDateTime) {
        if !self.adopt_with(&stored, now, true) {
            return;
        }
        let fleet = self.fleet_mut();
        fleet.held = None;
        fleet.unsaved = false;
        fleet.synced = Some(stored);
    }

    fn detach(&mut self, error: &StoreError) {
        let fleet = self.fleet_mut();
        if !fleet.detached {
            tracing::warn!(%error, "fleet: the store is unreachable; detached (serving the valid token, logging in by itself where it can)");
        }
        fleet.detached = true;
        fleet.lease_until = None;
        // A renewal waiting for the lease is decided again, under the detached rules, at
        // the next drain.
        if let Some((_, until)) = fleet.held.as_mut() {
            *until = UtcDateTime::MIN;
        }
    }

    /// The store answers again: store this process's session if no one stored meanwhile
    /// and this one moved on, else adopt the store's.
    fn rejoin(&mut self, stored: Option<StoredSession>, now: UtcDateTime) {
        tracing::info!("fleet: the store answers again; rejoined");
        let ours = self.driver.session().generation();
        let fleet = self.fleet_mut();
        fleet.detached = false;
        let synced_generation = fleet.synced.as_ref().map(|s| s.generation);
        let untouched = stored.as_ref().map(|s| s.revision) == fleet.synced_revision();
        let moved_on = Some(ours) > synced_generation;
        if untouched || stored.is_none() {
            // (A store that came back empty, a restarted Redis without persistence,
            // gets this process's session at once.)
            if moved_on || stored.is_none() {
                // What it obtained alone becomes the fleet's (unless another process
                // stores first: then the compare-and-swap hands it the store's).
                self.save_shared(now);
            }
        } else if let Some(stored) = stored {
            if moved_on {
                tracing::warn!(
                    ours = ours.get(),
                    theirs = stored.generation.get(),
                    "fleet: another process stored while this one was detached; dropping this process's tokens"
                );
            }
            self.adopt_shared(stored, now);
        }
    }

    /// Takes the renewal held for the lease back, when its wait is over or a newer
    /// session may be there: it is decided again. `None` while it still waits.
    pub(super) fn fleet_retry_held(&mut self, now: UtcDateTime) -> Option<TokenRequest> {
        let fleet = self.fleet_mut();
        let (request, until) = fleet.held.take()?;
        let current = self.driver.in_flight().map(|(id, _)| id);
        if current != Some(request.id()) {
            // The driver gave up on it (its deadline passed) or moved on.
            return None;
        }
        let announced = self
            .store
            .as_ref()
            .and_then(|store| store.announced())
            .is_some_and(|revision| Some(revision) > self.fleet_mut().synced_revision());
        if now < until && !announced {
            self.fleet_mut().held = Some((request, until));
            return None;
        }
        self.fleet_clear(request, now)
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
