//! The fleet protocol as a property: N processes share one Convirza V3 session
//! (single-use refresh tokens) through a simulated coordinating store, in simulated time,
//! under random interleavings, crashes, lost answers, missed notifications and store
//! outages. Each process is a real `Engine` over the real core, driven as a runtime drives
//! it: store calls run inline, and timeouts, reports and answers reach it whether or not a
//! request is out, so a process may have more than one request out (an old one its session
//! gave up on, or left with a session it replaced). The provider is the in-process
//! emulator, which counts refresh-token reuses.
//!
//! Checked after every step:
//! - no refresh token is ever presented twice (the provider counts reuses);
//! - every token a process hands out is valid at the provider;
//! - while the store is up, renewals never overlap (one process renews at a time, a dead
//!   holder's request included until its lease is over, and any request a live process
//!   still has out), and each starts from the session the store holds: at most one
//!   renewal per stored generation;
//! - when the store comes back, every process rejoins the stored session.

use std::sync::{Arc, Mutex};

use oauth_lifecycle::dialect::ConvirzaV3;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{Generation, Policy, Purpose, TokenRequest, TransportError};
use oauth_lifecycle_adapter::{
    compare_and_store, Action, ClockSource, Command, Engine, FleetSettings, Lease, Saved,
    SessionStore, StoreCall, StoreError, StoredSession, TokenCell,
};
use oauth_lifecycle_emulator::{ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator};
use oauth_lifecycle_testkit::{convirza_v3, IN_PROCESS};
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
    /// How many loads the processes ran.
    loads: usize,
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
        let mut shared = self.shared.lock().unwrap();
        shared.loads += 1;
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
    engine: Engine<ConvirzaV3>,
    cell: Arc<TokenCell>,
    /// Every request out at the provider, oldest first: the one the session awaits, and
    /// any it gave up on that the transport has not given up on yet.
    out: Vec<Out>,
}

#[derive(Debug, Clone)]
enum Step {
    /// Time passes; every process is woken and polled, whether or not it has a request
    /// out.
    Tick(u32),
    /// The provider answers process `i`'s oldest request out.
    Deliver(usize),
    /// The provider processes process `i`'s oldest request out; the answer is lost.
    LoseAnswer(usize),
    /// Process `i` dies (its requests out, if any, processed by the provider or not) and
    /// a new process starts in its place.
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
    convirza_v3(IN_PROCESS)
}

/// Process number `n` of the fleet, started at `now` over the shared store. A process
/// whose store is down at start starts detached, with a new session.
fn start_engine(shared: &Arc<Mutex<Shared>>, n: u32, now: UtcDateTime) -> Engine<ConvirzaV3> {
    let store = Arc::new(SimStore {
        shared: Arc::clone(shared),
        settings: FleetSettings {
            holder: format!("process-{n}"),
            lease: LEASE,
            poll: POLL,
        },
    });
    let mut policy = Policy::default();
    policy.jitter_seed = u64::from(n);
    Engine::start(
        dialect(),
        policy,
        Some(store as Arc<dyn SessionStore>),
        Arc::new(|| {}),
        ClockSource::Supplied,
        now,
        StoreCall::run,
    )
    .expect("a fleet process starts, detached if the store is down")
}

impl World {
    fn new(processes: usize, notifies: bool) -> Self {
        let mut config = ConvirzaV3ServerConfig::default();
        config.access_token_lifetime = Duration::minutes(10);
        config.login_rate_limit = None;
        let shared = shared_store(notifies);
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
        let engine = start_engine(&self.shared, self.started, self.now);
        let cell = Arc::clone(engine.cell());
        Process {
            engine,
            cell,
            out: Vec::new(),
        }
    }

    fn store_up(&self) -> bool {
        self.shared.lock().unwrap().up
    }

    fn stored(&self) -> Option<StoredSession> {
        self.shared.lock().unwrap().held.clone()
    }

    /// Polls process `i`'s engine until it waits, as its runtime would: store calls run
    /// inline, answered before the next poll; requests are sent (kept out until a step
    /// answers them).
    fn drain(&mut self, i: usize) {
        for _ in 0..64 {
            let now = self.now;
            match self.processes[i].engine.poll(now) {
                Action::Store(call) => {
                    let answer = call.run();
                    self.processes[i].engine.handle_store_answer(answer, now);
                }
                Action::Send(request) => {
                    let coordinated = self.store_up() && !self.outage_seen;
                    if coordinated {
                        self.check_alone(i);
                        // Every renewal starts from the session the store holds.
                        let base = self.processes[i].engine.driver().session().generation();
                        if let Some(stored) = self.stored() {
                            assert_eq!(
                                base, stored.generation,
                                "process {i} renews from a stale session"
                            );
                        }
                    }
                    let deadline = request.deadline();
                    self.processes[i].out.push(Out {
                        request,
                        deadline,
                        coordinated,
                    });
                }
                Action::Wait(_) => return,
                Action::Stop => panic!("process {i} stopped unasked"),
            }
        }
        panic!("process {i} never waited: it kept asking for the store");
    }

    /// No other token request is out while process `i` sends one: none of another
    /// process, and none this process still has out.
    fn check_alone(&self, i: usize) {
        for (j, other) in self.processes.iter().enumerate() {
            for out in &other.out {
                if j == i {
                    assert!(
                        !out.coordinated,
                        "process {i} renews while an earlier request of its own is out"
                    );
                } else {
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
                // Every transport's timeouts first (they fire at their own moments, all
                // before now), then every engine sees the time and is polled, with
                // requests out or not.
                let now = self.now;
                for process in &mut self.processes {
                    let (due, out) = std::mem::take(&mut process.out)
                        .into_iter()
                        .partition::<Vec<_>, _>(|out| out.deadline <= now);
                    process.out = out;
                    for out in due {
                        // Never answered.
                        process.engine.handle_transport_error(
                            out.request.id(),
                            TransportError::OutcomeUnknown,
                            out.deadline,
                        );
                    }
                }
                for i in 0..n {
                    self.processes[i].engine.handle_timeout(now);
                    self.drain(i);
                }
            }
            Step::Deliver(i) | Step::LoseAnswer(i) => {
                let i = i % n;
                if self.processes[i].out.is_empty() {
                    return;
                }
                let out = self.processes[i].out.remove(0);
                let answer = self.provider.handle(out.request.request(), self.now);
                let process = &mut self.processes[i];
                if matches!(step, Step::Deliver(_)) {
                    process
                        .engine
                        .handle_response(out.request.id(), &answer, self.now);
                } else {
                    process.engine.handle_transport_error(
                        out.request.id(),
                        TransportError::OutcomeUnknown,
                        self.now,
                    );
                }
                self.drain(i);
            }
            Step::Crash(i, processed) => {
                let i = i % n;
                for out in std::mem::take(&mut self.processes[i].out) {
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
                for _ in 0..self.processes[i].out.len() {
                    self.apply(&Step::Deliver(i));
                }
            }
            self.apply(&Step::Tick(POLL.whole_seconds() as u32));
            self.check();
            if self.processes.iter().any(|p| !p.out.is_empty()) {
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
        if world.store_up() && world.outage_seen && world.processes.iter().all(|p| p.out.is_empty())
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

/// What a runtime's polls came to: a request to send, or a wait; `None` if the engine
/// still asked for the store after `MAX_POLLS` polls.
fn poll_engine(engine: &mut Engine<ConvirzaV3>, now: UtcDateTime) -> Option<Action> {
    const MAX_POLLS: usize = 64;
    for _ in 0..MAX_POLLS {
        match engine.poll(now) {
            Action::Store(call) => engine.handle_store_answer(call.run(), now),
            action => return Some(action),
        }
    }
    None
}

fn loads(shared: &Mutex<Shared>) -> usize {
    shared.lock().unwrap().loads
}

fn shared_store(notifies: bool) -> Arc<Mutex<Shared>> {
    Arc::new(Mutex::new(Shared {
        up: true,
        notifies,
        ..Shared::default()
    }))
}

/// A store with notifications that has announced nothing yet says revision 0, as the
/// Redis store does before its first announcement. The first process of a fleet over it
/// logs in; it does not read the empty store again and again.
#[test]
fn a_fleet_process_over_a_store_that_announced_nothing_yet_logs_in() {
    let shared = shared_store(true);
    let mut engine = start_engine(&shared, 1, START);
    let action = poll_engine(&mut engine, START);
    assert!(
        matches!(&action, Some(Action::Send(request)) if request.purpose() == Purpose::Login),
        "{action:?}, after {} loads of an empty store",
        loads(&shared)
    );
}

/// A holder's write-ahead save (a new revision, the same generation) is announced while
/// its refresh is out. A follower reads it once, finds nothing newer to adopt, and waits
/// for the result: it does not read the store at every poll.
#[test]
fn a_follower_notified_of_a_renewal_under_way_reads_the_store_once_and_waits() {
    let shared = shared_store(false);
    let mut provider = ConvirzaV3Server::new(ConvirzaV3ServerConfig::default());
    let mut holder = start_engine(&shared, 1, START);
    let Some(Action::Send(login)) = poll_engine(&mut holder, START) else {
        panic!("the first process logs in");
    };
    let answer = provider.handle(login.request(), START);
    holder.handle_response(login.id(), &answer, START);
    assert!(matches!(
        poll_engine(&mut holder, START),
        Some(Action::Wait(_))
    ));
    let mut follower = start_engine(&shared, 2, START);
    assert_eq!(follower.cell().generation(), Some(Generation::new(1)));
    assert!(matches!(
        poll_engine(&mut follower, START),
        Some(Action::Wait(_))
    ));
    shared.lock().unwrap().notifies = true;

    let now = START + Duration::minutes(1);
    let _ack = holder.mailbox().command(Command::Renew);
    let Some(Action::Send(refresh)) = poll_engine(&mut holder, now) else {
        panic!("the holder renews");
    };
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    let stored = shared.lock().unwrap().held.clone().unwrap();
    assert_eq!(stored.generation, Generation::new(1), "the write-ahead");

    follower.handle_timeout(now);
    let before = loads(&shared);
    let action = poll_engine(&mut follower, now);
    let read = loads(&shared) - before;
    assert!(
        matches!(action, Some(Action::Wait(_))),
        "{action:?}, after {read} loads of revision {}",
        stored.revision
    );
    assert_eq!(read, 1);
    assert_eq!(follower.cell().generation(), Some(Generation::new(1)));
}
