//! The fleet protocol as a property: N processes share one Convirza V3 session
//! (single-use refresh tokens) through a simulated coordinating store, in simulated time,
//! under random interleavings, crashes, lost answers, missed notifications and store
//! outages. Each process is a real `Pump` over the real core; the provider is the
//! in-process emulator, which counts refresh-token reuses.
//!
//! Checked after every step:
//! - no refresh token is ever presented twice (the provider counts reuses);
//! - every token a process hands out is valid at the provider;
//! - while the store is up, renewals never overlap (one process renews at a time, a dead
//!   holder's request included until its lease is over), and each starts from the
//!   session the store holds: at most one renewal per stored generation;
//! - when the store comes back, every process rejoins the stored session.

use std::sync::{Arc, Mutex};

use oauth_lifecycle::dialect::ConvirzaV3;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{Generation, Policy, TokenRequest, TransportError};
use oauth_lifecycle_adapter::{
    compare_and_store, FleetSettings, Lease, Next, Pump, Saved, SessionStore, StoreError,
    StoredSession, TokenCell,
};
use oauth_lifecycle_emulator::{ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator};
use proptest::prelude::*;

const START: UtcDateTime = utc_datetime!(2026-10-01 08:00:00);
const LEASE: Duration = Duration::seconds(45);
const POLL: Duration = Duration::seconds(60);

/// What every process's store handle shares: the store itself.
#[derive(Default)]
struct Shared {
    held: Option<StoredSession>,
    lease: Option<(String, UtcDateTime)>,
    up: bool,
    /// The newest revision announced (published) by a save.
    announced: u64,
    /// Whether announcements reach the processes (else they poll).
    notifies: bool,
}

/// One process's handle on the simulated store.
struct SimStore {
    shared: Arc<Mutex<Shared>>,
    settings: FleetSettings,
}

fn down() -> StoreError {
    StoreError::Unavailable(std::io::Error::other("store down"))
}

impl SessionStore for SimStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        let shared = self.shared.lock().unwrap();
        if !shared.up {
            return Err(down());
        }
        Ok(shared.held.clone())
    }

    fn save(
        &self,
        expected: Option<u64>,
        generation: Generation,
        snapshot: &[u8],
    ) -> Result<Saved, StoreError> {
        let mut shared = self.shared.lock().unwrap();
        if !shared.up {
            return Err(down());
        }
        let saved = compare_and_store(&mut shared.held, expected, generation, snapshot)?;
        if let Saved::Stored { revision } = saved {
            shared.announced = revision;
        }
        Ok(saved)
    }

    fn fleet(&self) -> Option<&FleetSettings> {
        Some(&self.settings)
    }

    fn take_lease(&self, now: UtcDateTime) -> Result<Lease, StoreError> {
        let mut shared = self.shared.lock().unwrap();
        if !shared.up {
            return Err(down());
        }
        match &shared.lease {
            Some((holder, until)) if *until > now && *holder != self.settings.holder => {
                Ok(Lease::Held { until: *until })
            }
            _ => {
                let until = now + self.settings.lease;
                shared.lease = Some((self.settings.holder.clone(), until));
                Ok(Lease::Taken { until })
            }
        }
    }

    fn release_lease(&self) -> Result<(), StoreError> {
        let mut shared = self.shared.lock().unwrap();
        if !shared.up {
            return Err(down());
        }
        if shared
            .lease
            .as_ref()
            .is_some_and(|(holder, _)| *holder == self.settings.holder)
        {
            shared.lease = None;
        }
        Ok(())
    }

    fn announced(&self) -> Option<u64> {
        let shared = self.shared.lock().unwrap();
        (shared.notifies && shared.up).then_some(shared.announced)
    }
}

/// A request out at the provider, and until when it may still be answered.
struct Out {
    request: TokenRequest,
    /// The manager's timeout for it.
    deadline: UtcDateTime,
    /// Sent while the store was up (so it counts in the no-overlap check).
    coordinated: bool,
}

struct Process {
    pump: Pump<ConvirzaV3>,
    cell: Arc<TokenCell>,
    out: Option<Out>,
    wait: Option<UtcDateTime>,
}

#[derive(Debug, Clone)]
enum Step {
    /// Time passes; every process drains (its manager woke).
    Tick(u32),
    /// The provider answers process `i`'s request.
    Deliver(usize),
    /// The provider processes process `i`'s request; the answer is lost.
    LoseAnswer(usize),
    /// Process `i` dies (its request, if any, processed by the provider or not) and a
    /// new process starts in its place.
    Crash(usize, bool),
    StoreDown,
    StoreUp,
}

fn steps(outages: bool) -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        6 => (1u32..400).prop_map(Step::Tick),
        5 => (0usize..8).prop_map(Step::Deliver),
        1 => (0usize..8).prop_map(Step::LoseAnswer),
        1 => ((0usize..8), any::<bool>()).prop_map(|(i, p)| Step::Crash(i, p)),
        (if outages { 1 } else { 0 }) => Just(Step::StoreDown),
        (if outages { 2 } else { 0 }) => Just(Step::StoreUp),
    ];
    proptest::collection::vec(step, 1..160)
}

struct World {
    now: UtcDateTime,
    provider: ConvirzaV3Server,
    shared: Arc<Mutex<Shared>>,
    processes: Vec<Process>,
    /// Requests of dead processes: until when each may still be out.
    dead_out: Vec<UtcDateTime>,
    started: u32,
    /// Whether the store was down at any time since the last full resync.
    outage_seen: bool,
}

fn dialect() -> ConvirzaV3 {
    ConvirzaV3::builder("user@example.com", "SecurePassword123!")
        .base_url("http://127.0.0.1")
        .build()
        .unwrap()
}

impl World {
    fn new(processes: usize, notifies: bool) -> Self {
        let mut config = ConvirzaV3ServerConfig::default();
        config.access_token_lifetime = Duration::minutes(10);
        config.login_rate_limit = None;
        let shared = Arc::new(Mutex::new(Shared {
            up: true,
            notifies,
            ..Shared::default()
        }));
        let mut world = World {
            now: START,
            provider: ConvirzaV3Server::new(config),
            shared,
            processes: Vec::new(),
            dead_out: Vec::new(),
            started: 0,
            outage_seen: false,
        };
        for _ in 0..processes {
            let process = world.start_process();
            world.processes.push(process);
        }
        for i in 0..world.processes.len() {
            world.drain(i);
        }
        world
    }

    fn start_process(&mut self) -> Process {
        self.started += 1;
        let store = Arc::new(SimStore {
            shared: Arc::clone(&self.shared),
            settings: FleetSettings {
                holder: format!("process-{}", self.started),
                lease: LEASE,
                poll: POLL,
            },
        });
        let mut policy = Policy::default();
        policy.jitter_seed = u64::from(self.started);
        let cell = Arc::new(TokenCell::new());
        // A process whose store is down at start starts detached, with a new session.
        let pump = Pump::start(
            dialect(),
            policy.clone(),
            Arc::clone(&cell),
            Some(store.clone()),
            self.now,
        )
        .expect("a fleet process starts, detached if the store is down");
        Process {
            pump,
            cell,
            out: None,
            wait: None,
        }
    }

    fn store_up(&self) -> bool {
        self.shared.lock().unwrap().up
    }

    fn stored(&self) -> Option<StoredSession> {
        self.shared.lock().unwrap().held.clone()
    }

    /// Runs process `i`'s pump until it sends or waits.
    fn drain(&mut self, i: usize) {
        if self.processes[i].out.is_some() {
            return;
        }
        match self.processes[i].pump.next(self.now) {
            Next::Send(request) => {
                let coordinated = self.store_up() && !self.outage_seen;
                if coordinated {
                    self.check_alone(i);
                    // Every renewal starts from the session the store holds.
                    let base = self.processes[i].pump.driver().session().generation();
                    if let Some(stored) = self.stored() {
                        assert_eq!(
                            base, stored.generation,
                            "process {i} renews from a stale session"
                        );
                    }
                }
                let deadline = request.deadline();
                self.processes[i].out = Some(Out {
                    request,
                    deadline,
                    coordinated,
                });
                self.processes[i].wait = None;
            }
            Next::Wait(deadline) => self.processes[i].wait = deadline,
        }
    }

    /// No other token request is out while process `i` sends one.
    fn check_alone(&self, i: usize) {
        for (j, other) in self.processes.iter().enumerate() {
            if j != i {
                if let Some(out) = &other.out {
                    assert!(!out.coordinated, "processes {i} and {j} renew at once");
                }
            }
        }
        assert!(
            self.dead_out.iter().all(|until| *until <= self.now),
            "process {i} renews while a dead holder's request may still be out"
        );
    }

    fn apply(&mut self, step: &Step) {
        let n = self.processes.len();
        match *step {
            Step::Tick(seconds) => {
                self.now += Duration::seconds(i64::from(seconds));
                // Every manager's timeouts first (they fire at their own moments, all
                // before now), then the drains.
                for process in &mut self.processes {
                    if let Some(out) = process.out.take_if(|out| out.deadline <= self.now) {
                        // Never answered.
                        process.pump.handle_transport_error(
                            out.request.id(),
                            TransportError::OutcomeUnknown,
                            out.deadline,
                        );
                    }
                }
                for i in 0..n {
                    let process = &mut self.processes[i];
                    if process.out.is_none() {
                        process.pump.handle_timeout(self.now);
                    }
                    self.drain(i);
                }
            }
            Step::Deliver(i) | Step::LoseAnswer(i) => {
                let i = i % n;
                let Some(out) = self.processes[i].out.take() else {
                    return;
                };
                let answer = self.provider.handle(out.request.request(), self.now);
                let process = &mut self.processes[i];
                if matches!(step, Step::Deliver(_)) {
                    process
                        .pump
                        .handle_response(out.request.id(), &answer, self.now);
                } else {
                    process.pump.handle_transport_error(
                        out.request.id(),
                        TransportError::OutcomeUnknown,
                        self.now,
                    );
                }
                self.drain(i);
            }
            Step::Crash(i, processed) => {
                let i = i % n;
                if let Some(out) = self.processes[i].out.take() {
                    if processed {
                        let _ = self.provider.handle(out.request.request(), self.now);
                    }
                    if out.coordinated {
                        self.dead_out.push(out.deadline);
                    }
                }
                self.processes[i] = self.start_process();
                self.drain(i);
            }
            Step::StoreDown => {
                self.shared.lock().unwrap().up = false;
                self.outage_seen = true;
            }
            Step::StoreUp => self.shared.lock().unwrap().up = true,
        }
    }

    /// The properties that hold after every step.
    fn check(&self) {
        assert_eq!(
            self.provider.stats().refresh_token_reuses,
            0,
            "a refresh token was presented twice"
        );
        for (i, process) in self.processes.iter().enumerate() {
            if let Some((secret, valid_until)) = process
                .cell
                .with(|t| (t.secret().to_owned(), t.valid_until()))
            {
                assert!(
                    valid_until > self.now,
                    "process {i} hands out a token past its hard expiry: {valid_until} at {}",
                    self.now
                );
                assert!(
                    self.provider.is_access_token_valid(&secret, self.now),
                    "process {i} hands out a token the provider refuses"
                );
            }
        }
    }

    /// With the store up, time passing and every answer delivered, every process comes
    /// to hand out the stored session's token (within a few polls).
    fn settle(&mut self) {
        self.shared.lock().unwrap().up = true;
        let mut disagreement = String::new();
        for _ in 0..16 {
            for i in 0..self.processes.len() {
                self.apply(&Step::Deliver(i));
            }
            self.apply(&Step::Tick(POLL.whole_seconds() as u32));
            self.check();
            if self.processes.iter().any(|p| p.out.is_some()) {
                continue;
            }
            let Some(stored) = self.stored() else {
                disagreement = "nothing stored".into();
                continue;
            };
            let tokens = stored.restore(dialect(), Policy::default()).unwrap();
            let expected = tokens.access_token(self.now).map(|t| t.secret().to_owned());
            disagreement.clear();
            for (i, process) in self.processes.iter().enumerate() {
                let held = process.cell.with(|t| t.secret().to_owned());
                if expected.is_some() && held != expected {
                    disagreement = format!("process {i} holds {held:?}, the store {expected:?}");
                }
            }
            if disagreement.is_empty() {
                return;
            }
        }
        panic!("the fleet did not settle on the stored session: {disagreement}");
    }
}

fn run(processes: usize, notifies: bool, steps: &[Step]) {
    let mut world = World::new(processes, notifies);
    world.check();
    for step in steps {
        world.apply(step);
        world.check();
        if world.store_up() && world.outage_seen && world.processes.iter().all(|p| p.out.is_none())
        {
            // Back to coordinated renewals once every process has rejoined.
            world.settle();
            world.outage_seen = false;
        }
    }
    world.settle();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn one_renewal_at_a_time_and_no_refresh_token_reuse(
        processes in 2usize..6,
        notifies in any::<bool>(),
        steps in steps(false),
    ) {
        run(processes, notifies, &steps);
    }

    #[test]
    fn store_outages_never_cost_a_reuse_or_an_invalid_token(
        processes in 2usize..6,
        notifies in any::<bool>(),
        steps in steps(true),
    ) {
        run(processes, notifies, &steps);
    }
}
