//! The drain loop every manager runs, once: it drains the driver's outputs, publishes the
//! token from events, persists at the core's persistence points, adopts a newer session
//! from the store, traces everything, and stops at what needs the manager's runtime: a
//! request to send, or a moment to wait for.

use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    Dialect, Driver, Event, Generation, Output, Policy, RequestId, TokenRequest, TransportError,
};
use zeroize::Zeroizing;

mod fleet;

use crate::published::TokenCell;
use crate::store::{Saved, SessionStore, StoreError, StoredSession};
use crate::trace;

/// What the manager must do next.
#[derive(Debug)]
#[must_use = "send the request, or wait until the deadline or the next command"]
// Returned once per drain and moved straight into the client: boxing the request would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Next {
    /// Send this request with the manager's HTTP client, then hand back its response or
    /// its transport error.
    Send(TokenRequest),
    /// Nothing to do before this moment (or, with `None`, before the next command): wait
    /// for it or for a command, whichever comes first.
    Wait(Option<UtcDateTime>),
}

/// What callers ask of a manager, forwarded to the session by its driving thread or task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command {
    /// A resource server rejected token `generation`.
    Unauthorized(Generation),
    /// A call with token `generation` succeeded (sliding expiry).
    CallSucceeded(Generation),
    /// Log in now, clearing a halt.
    Login,
    /// Renew now, ahead of the refresh moment; the current token is served until the new
    /// one arrives.
    Renew,
    /// Revoke the session.
    Revoke,
}

/// Why a manager could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The dialect or policy is invalid.
    #[error(transparent)]
    Config(#[from] oauth_lifecycle::ConfigError),
    /// The store could not be read (for a fleet's store: holds something unreadable),
    /// or holds something that is not a session of this dialect. Nothing was
    /// overwritten.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The driver, its read side and its store, drained as one.
pub struct Pump<D: Dialect> {
    driver: Driver<Arc<D>>,
    dialect: Arc<D>,
    policy: Policy,
    cell: Arc<TokenCell>,
    store: Option<Arc<dyn SessionStore>>,
    /// The store's revision this process last loaded or saved.
    revision: Option<u64>,
    /// Consecutive failed exchanges, for the traces.
    failures: u32,
    /// With a store that coordinates a fleet: the lease, the held renewal, the last
    /// revision read.
    fleet: Option<fleet::Fleet>,
}

/// Upper bound on outputs drained in one call: far above what one input produces.
const MAX_OUTPUTS: usize = 1024;

impl<D: Dialect> Pump<D> {
    /// Starts from what `store` holds, or from a new session when it holds nothing. A
    /// request the stored session had in flight is reported lost (its outcome unknown):
    /// its answer went to a process that no longer exists. A fleet's store that cannot
    /// be reached ([`StoreError::Unavailable`]) starts the process detached, with a new
    /// session; any other store failure is returned.
    pub fn start(
        dialect: D,
        policy: Policy,
        cell: Arc<TokenCell>,
        store: Option<Arc<dyn SessionStore>>,
        now: UtcDateTime,
    ) -> Result<Self, StartError> {
        let dialect = Arc::new(dialect);
        let settings = store.as_ref().and_then(|store| store.fleet()).cloned();
        // A fleet's store that cannot be reached is no reason not to start: the process
        // works alone until it answers. Anything else the store says stops the start.
        let loaded = store.as_ref().map_or(Ok(None), |store| store.load());
        let (stored, unreachable) = match loaded {
            Ok(stored) => (stored, None),
            Err(error @ StoreError::Unavailable(_)) if settings.is_some() => (None, Some(error)),
            Err(error) => return Err(error.into()),
        };
        let fleet = settings.map(|settings| {
            let read = unreachable.as_ref().map_or(Ok(stored.as_ref()), Err);
            fleet::Fleet::new(settings, policy.response_timeout, read, now)
        });
        let (driver, revision) = match stored {
            Some(stored) => {
                let session = stored.restore(Arc::clone(&dialect), policy.clone())?;
                tracing::info!(
                    revision = stored.revision,
                    generation = stored.generation.get(),
                    "session restored from the store"
                );
                (Driver::from_session(session), Some(stored.revision))
            }
            None => (Driver::new(Arc::clone(&dialect), policy.clone())?, None),
        };
        let mut pump = Pump {
            driver,
            dialect,
            policy,
            cell,
            store,
            revision,
            failures: 0,
            fleet,
        };
        if let Some((id, purpose)) = pump.driver.in_flight() {
            tracing::info!(request = id.get(), purpose = %purpose, "a request was in flight at the last stop; its outcome is unknown");
            pump.handle_transport_error(id, TransportError::OutcomeUnknown, now);
        }
        pump.driver.handle_timeout(now);
        Ok(pump)
    }

    /// The driver, for its getters.
    pub fn driver(&self) -> &Driver<Arc<D>> {
        &self.driver
    }

    /// The read side this pump publishes to.
    pub fn cell(&self) -> &Arc<TokenCell> {
        &self.cell
    }

    /// Drains the driver until it needs the manager: a request to send, or a wait.
    pub fn next(&mut self, now: UtcDateTime) -> Next {
        if self.fleet.is_some() {
            if let Some(request) = self.fleet_sync(now) {
                return self.send(request);
            }
        }
        for _ in 0..MAX_OUTPUTS {
            match self.driver.poll_output() {
                Output::Request(request) if self.fleet.is_some() => {
                    if let Some(request) = self.fleet_clear(request, now) {
                        return self.send(request);
                    }
                }
                Output::Request(request) => return self.send(request),
                Output::Event(event) => self.observe(&event, now),
                Output::Persist if self.fleet.is_some() => self.fleet_persist(now),
                Output::Persist => self.persist(now),
                Output::Timeout(deadline) => return self.settle(Some(deadline)),
                Output::Idle => return self.settle(None),
            }
        }
        self.settle(self.driver.next_deadline())
    }

    /// Hands back the answer to request `id`, whatever its status.
    pub fn handle_response(
        &mut self,
        id: RequestId,
        response: &oauth_lifecycle::http::Response<Vec<u8>>,
        now: UtcDateTime,
    ) {
        trace::response(id, response.status().as_u16());
        if let Err(misuse) = self.driver.handle_response(id, response, now) {
            // A request superseded meanwhile, or one of a session replaced by a newer one
            // from the store: its answer concerns nobody.
            tracing::debug!(request = id.get(), %misuse, "answer ignored");
        }
    }

    /// Reports that request `id` failed in transport.
    pub fn handle_transport_error(
        &mut self,
        id: RequestId,
        error: TransportError,
        now: UtcDateTime,
    ) {
        trace::transport_error(id, error);
        if let Err(misuse) = self.driver.handle_transport_error(id, error, now) {
            tracing::debug!(request = id.get(), %misuse, "transport error ignored");
        }
    }

    /// Shows the session the time.
    pub fn handle_timeout(&mut self, now: UtcDateTime) {
        self.driver.handle_timeout(now);
    }

    /// Applies a caller's command.
    pub fn handle(&mut self, command: Command, now: UtcDateTime) {
        match command {
            Command::Unauthorized(generation) => {
                let answer = self.driver.handle_unauthorized(generation, now);
                tracing::info!(generation = generation.get(), answer = ?answer, "401 reported");
            }
            Command::CallSucceeded(generation) => {
                self.driver.handle_call_succeeded(generation, now);
            }
            Command::Login => {
                if let Err(misuse) = self.driver.login(now) {
                    tracing::warn!(%misuse, "login refused");
                }
            }
            Command::Renew => {
                tracing::info!("renewal asked for");
                if let Err(misuse) = self.driver.renew(now) {
                    tracing::warn!(%misuse, "renewal refused");
                }
            }
            Command::Revoke => {
                tracing::info!("revoking the session");
                self.driver.revoke(now);
            }
        }
    }

    fn observe(&mut self, event: &Event, now: UtcDateTime) {
        match event {
            Event::TokenIssued { .. } | Event::TokenRestored { .. } => self.failures = 0,
            Event::RetryScheduled { .. } => self.failures = self.failures.saturating_add(1),
            _ => {}
        }
        trace::event(event, now, self.failures);
        self.cell.apply(event);
    }

    fn send(&mut self, request: TokenRequest) -> Next {
        trace::request(&request, self.failures.saturating_add(1));
        // While the manager waits for the answer it does not drain: a token whose hard
        // expiry comes before the answer may is withdrawn as the request leaves, so that
        // no reader gets it past its hard expiry. (Renewals start well before it; this
        // only happens to retries near the end of a token's life, and to tokens shorter
        // than the response timeout.)
        if self
            .cell
            .with(|token| token.valid_until() < request.deadline())
            .unwrap_or(false)
        {
            tracing::debug!("withdrawing the token: its hard expiry comes before the answer may");
            self.cell.withdraw();
        }
        // Callers waiting while it is in flight see the session renewing, not the status
        // it had before.
        self.publish_status();
        Next::Send(request)
    }

    fn settle(&mut self, deadline: Option<UtcDateTime>) -> Next {
        self.publish_status();
        let deadline = match &self.fleet {
            Some(fleet) => Some(deadline.map_or(fleet.deadline(), |d| d.min(fleet.deadline()))),
            None => deadline,
        };
        Next::Wait(deadline)
    }

    fn publish_status(&self) {
        let status = self.driver.status();
        trace::status(&status);
        self.cell.set_status(status);
    }

    /// Saves the session; adopts the store's instead when another process saved since.
    fn persist(&mut self, now: UtcDateTime) {
        let Some(store) = self.store.clone() else {
            return;
        };
        // A store that moves again between two of our tries is retried a few times, not
        // for ever.
        for _ in 0..3 {
            let snapshot = self.driver.session().snapshot_with_secrets();
            let generation = snapshot.generation();
            let bytes = match serde_json::to_vec(&snapshot) {
                Ok(bytes) => Zeroizing::new(bytes),
                Err(error) => {
                    tracing::error!(%error, "could not serialize the session");
                    return;
                }
            };
            let stored = match store.save(self.revision, generation, &bytes) {
                Ok(Saved::Stored { revision }) => {
                    tracing::debug!(revision, generation = generation.get(), "session persisted");
                    self.revision = Some(revision);
                    return;
                }
                Ok(Saved::Newer(stored)) => stored,
                Err(error) => {
                    tracing::error!(%error, "could not persist the session");
                    return;
                }
            };
            if stored.generation >= generation && self.adopt(&stored, now) {
                return;
            }
            // An older session, saved by a process that fell behind, or an unreadable
            // one: ours replaces it.
            tracing::info!(
                theirs = stored.generation.get(),
                ours = generation.get(),
                "the store held an older or unreadable session; overwriting it"
            );
            self.revision = Some(stored.revision);
        }
        tracing::error!("the store kept moving; the session was not persisted");
    }

    /// Replaces the session by the store's newer one, if it can be read. Whatever the old
    /// one was about to send is dropped with it: the newer session knows better.
    fn adopt(&mut self, stored: &StoredSession, now: UtcDateTime) -> bool {
        self.adopt_with(stored, now, false)
    }

    /// [`adopt`](Self::adopt); with `lost`, a request the stored session has in flight is
    /// counted lost (its sender is gone), before the session sees the time.
    fn adopt_with(&mut self, stored: &StoredSession, now: UtcDateTime, lost: bool) -> bool {
        let session = match stored.restore(Arc::clone(&self.dialect), self.policy.clone()) {
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
        self.revision = Some(stored.revision);
        if let Some((id, purpose)) = self.driver.in_flight().filter(|_| lost) {
            tracing::info!(request = id.get(), purpose = %purpose, "the stored session's request was left in flight by a holder that is gone; its outcome is unknown");
            let _ = self
                .driver
                .handle_transport_error(id, TransportError::OutcomeUnknown, now);
        }
        self.driver.handle_timeout(now);
        // The old session's token goes unless the new one announces its own in its
        // place (at this drain): the old driver is gone and would never withdraw it.
        if self.driver.access_token(now).is_none() {
            self.cell.withdraw();
        }
        true
    }
}

/// A session from its stored form.
#[cfg(test)]
mod tests {
    use oauth_lifecycle::dialect::Standard;
    use oauth_lifecycle::Status;
    use oauth_lifecycle_emulator::{Emulator, StandardServer, StandardServerConfig};
    use time::macros::utc_datetime;

    use super::*;

    /// Sends what the pump asks for to `server` until it waits.
    fn drain(pump: &mut Pump<Standard>, server: &mut StandardServer, now: UtcDateTime) {
        for _ in 0..16 {
            match pump.next(now) {
                Next::Send(request) => {
                    let response = server.handle(request.request(), now);
                    pump.handle_response(request.id(), &response, now);
                }
                Next::Wait(_) => return,
            }
        }
        panic!("the pump never waited");
    }

    #[test]
    fn the_published_status_is_renewing_while_a_renewal_is_in_flight() {
        let start = utc_datetime!(2026-01-01 00:00:00);
        let mut server = StandardServer::new(StandardServerConfig::default());
        let dialect = Standard::builder("http://127.0.0.1/token", "emulated-client")
            .client_secret("emulated-secret")
            .password("alice", "alice-password")
            .build()
            .unwrap();
        let cell = Arc::new(TokenCell::new());
        let mut pump =
            Pump::start(dialect, Policy::default(), Arc::clone(&cell), None, start).unwrap();
        drain(&mut pump, &mut server, start);
        assert_eq!(cell.status(), Status::Ready);

        let due = start + oauth_lifecycle::time::Duration::minutes(55);
        pump.handle_timeout(due);
        let Next::Send(refresh) = pump.next(due) else {
            panic!("no refresh at the refresh moment");
        };
        assert_eq!(refresh.purpose(), oauth_lifecycle::Purpose::Refresh);
        assert_eq!(cell.status(), Status::Renewing);
        let response = server.handle(refresh.request(), due);
        pump.handle_response(refresh.id(), &response, due);
        drain(&mut pump, &mut server, due);
        assert_eq!(cell.status(), Status::Ready);
    }
}
