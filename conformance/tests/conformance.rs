//! The behaviour every runtime of the manager shares (`docs/adapters.md`, "One behaviour
//! table"), proven once per runtime over real sockets against the emulators' HTTP front.
//! Every scenario is a function of the [`Runtime`]; `per_runtime!` runs each one against
//! the blocking and the tokio manager.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::{Duration as Span, UtcDateTime};
use oauth_lifecycle::{FailureKind, Policy, Status, WaitReason};
use oauth_lifecycle_adapter::{
    Closed, FileStore, FileStoreOptions, MemoryStore, SessionStore, StoreKey,
};
use oauth_lifecycle_conformance::{system_now, Runtime, Setup};
use oauth_lifecycle_emulator::{
    Clock, DrivenClock, Emulator as _, HttpFront, HttpFrontConfig, InjectedFailure, StandardServer,
    StandardServerConfig, TransportFault,
};
use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};
use oauth_lifecycle_testkit::{eventually, standard, PATIENCE};

oauth_lifecycle_conformance::per_runtime!(
    reports_of_one_rejection_cause_one_renewal,
    a_command_returns_once_applied,
    commands_are_applied_while_a_request_is_out,
    a_valid_stored_token_is_readable_as_soon_as_start_returns,
    dropping_the_last_handle_shuts_down_in_the_background,
    a_moved_clock_is_noticed_without_being_told,
    shutdown_awaits_a_single_use_refresh_and_stores_its_result,
    a_connection_never_accepted_is_not_sent_and_keeps_the_refresh_token,
    two_second_tokens_are_served_until_their_hard_expiry,
    ten_second_tokens_are_served_until_their_hard_expiry,
    forty_second_tokens_are_served_until_their_hard_expiry,
    a_store_directory_that_does_not_exist_is_named,
);

const START: UtcDateTime = utc_datetime!(2026-10-01 08:00:00);

/// The default policy, with 401-driven renewals allowed back to back (these scenarios
/// report 401s in real time).
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = Span::ZERO;
    policy
}

fn front() -> HttpFront<StandardServer> {
    HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .expect("the emulator's front starts")
}

/// 400 reports of one 401 from 8 threads renew once; late reports about that token, and
/// one about its successor, renew once more: the core's generation rule is the only
/// merging there is.
fn reports_of_one_rejection_cause_one_renewal(runtime: Runtime) {
    let front = front();
    let manager = runtime.start(Setup::new(standard(&front), policy()));
    let first = manager.token(PATIENCE).unwrap().generation();
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..50 {
                    manager.report_unauthorized(first);
                }
            });
        }
    });
    let second = manager
        .token_newer_than(first, PATIENCE)
        .unwrap()
        .generation();
    assert_eq!(front.stats().auth_requests, 2, "login, and one renewal");
    for _ in 0..20 {
        manager.report_unauthorized(first);
    }
    manager.report_unauthorized(second);
    let third = manager
        .token_newer_than(second, PATIENCE)
        .unwrap()
        .generation();
    assert!(third > second);
    assert_eq!(front.stats().auth_requests, 3, "one more renewal, no more");
    manager.shutdown();
}

/// `login`, `renew` and `revoke` return once the session applied them: what a caller
/// reads right after already shows it. After shutdown they fail with `Closed`.
fn a_command_returns_once_applied(runtime: Runtime) {
    let front = front();
    // The first login is refused: the session would try again only in a minute; an
    // explicit login goes at once.
    front.with_emulator(|server| {
        server.fail_next(InjectedFailure::OAuthError {
            status: 401,
            code: "invalid_client".into(),
        })
    });
    let manager = runtime.start(Setup::new(standard(&front), policy()));
    let rejected = |status: &Status| {
        matches!(
            status,
            Status::Waiting {
                reason: WaitReason::Rejected { .. },
                ..
            }
        )
    };
    eventually("the refused login to be retried slowly", || {
        rejected(&manager.status())
    });
    manager.login().unwrap();
    assert!(!rejected(&manager.status()), "{:?}", manager.status());
    let token = manager.token(PATIENCE).unwrap();
    manager.revoke().unwrap();
    assert_eq!(manager.status(), Status::Revoked);
    assert!(manager.generation().is_none());
    let clone = manager.clone();
    manager.shutdown();
    assert!(clone.is_closed());
    assert_eq!(clone.renew(), Err(Closed));
    assert_eq!(clone.login(), Err(Closed));
    drop(token);
}

/// A command that arrives while a request is out is applied at once, not after the
/// answer: a revocation while a refresh hangs withdraws the token right away.
fn commands_are_applied_while_a_request_is_out(runtime: Runtime) {
    const HANG: Duration = Duration::from_secs(20);
    let mut front = front();
    let manager = runtime.start(Setup::new(standard(&front), policy()));
    manager.token(PATIENCE).unwrap();
    front.inject(TransportFault::Hang(HANG));
    manager.renew().unwrap();
    eventually("the refresh to be out", || front.stats().auth_requests == 2);
    let asked = Instant::now();
    manager.revoke().unwrap();
    let took = asked.elapsed();
    assert_eq!(manager.status(), Status::Revoked);
    assert!(manager.generation().is_none());
    assert!(
        took < HANG / 2,
        "the revocation waited for the answer: {took:?}"
    );
    // Cut the hang short; the stop then finds nothing left to await.
    front.shutdown();
    manager.shutdown();
}

/// A restarted manager hands out the stored token as soon as `start` returns, with the
/// status `Ready`, and sends nothing.
fn a_valid_stored_token_is_readable_as_soon_as_start_returns(runtime: Runtime) {
    let front = front();
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let first = runtime.start(Setup::new(standard(&front), policy()).store(store.clone()));
    let token = first.token(PATIENCE).unwrap();
    first.shutdown();
    let second = runtime.start(Setup::new(standard(&front), policy()).store(store));
    assert_eq!(second.generation(), Some(token.generation()));
    assert_eq!(second.status(), Status::Ready);
    assert_eq!(front.stats().auth_requests, 1, "no new login");
    second.shutdown();
}

/// Dropping the last handle starts the shutdown `shutdown` would run, revocation
/// included, without waiting for it.
fn dropping_the_last_handle_shuts_down_in_the_background(runtime: Runtime) {
    let front = front();
    let manager = runtime.start(Setup::new(standard(&front), policy()).revoke_on_shutdown());
    manager.token(PATIENCE).unwrap();
    drop(manager);
    eventually("the revocation after the drop", || {
        front.with_emulator(|server| server.stats().revocations) >= 1
    });
}

/// A supplied clock moved without a word is noticed within moments: the renewal that
/// came due is sent.
fn a_moved_clock_is_noticed_without_being_told(runtime: Runtime) {
    let clock = DrivenClock::new(START);
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        clock.clone(),
    )
    .unwrap();
    let manager = runtime.start(Setup::new(standard(&front), policy()).clock(&clock));
    let first = manager.token(PATIENCE).unwrap();
    clock.advance(Span::minutes(59));
    let second = manager
        .token_newer_than(first.generation(), PATIENCE)
        .unwrap();
    assert!(second.valid_until() > first.valid_until());
    // Past the new token's hard expiry, with the provider down: it is withdrawn.
    front.with_emulator(|server| {
        for _ in 0..16 {
            server.fail_next(InjectedFailure::Status {
                status: 503,
                retry_after: None,
            });
        }
    });
    clock.set(second.valid_until() + Span::SECOND);
    eventually("the expired token to be withdrawn", || {
        manager.generation() != Some(second.generation())
    });
    manager.shutdown();
}

/// A stop while a single-use refresh is out waits for its answer and stores it: the
/// next start serves the renewed token without a request.
fn shutdown_awaits_a_single_use_refresh_and_stores_its_result(runtime: Runtime) {
    let mut config = HttpFrontConfig::default();
    config.auth_latency = Duration::from_secs(1);
    let front = HttpFront::start_with(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
        config,
    )
    .unwrap();
    let store = Arc::new(MemoryStore::new());
    let manager = runtime.start(Setup::new(standard(&front), policy()).store(store.clone()));
    let first = manager.token(PATIENCE).unwrap();
    manager.renew().unwrap();
    manager.shutdown();
    let stored = store.load().unwrap().expect("a stored session");
    assert!(
        stored.generation > first.generation(),
        "the renewal's result was stored"
    );
    let stats = front.with_emulator(|server| server.stats().clone());
    assert_eq!((stats.refreshes, stats.refresh_token_reuses), (1, 0));
    let restarted = runtime.start(Setup::new(standard(&front), policy()).store(store));
    assert_eq!(restarted.generation(), Some(stored.generation));
    restarted.shutdown();
    assert_eq!(front.stats().auth_requests, 2, "login and refresh only");
}

/// A token endpoint whose listen queue is full never accepts the connection: the
/// default transport's connect timeout says the refresh was not sent, so the session
/// keeps its single-use refresh token, and presents it on the retry once the endpoint
/// accepts.
fn a_connection_never_accepted_is_not_sent_and_keeps_the_refresh_token(runtime: Runtime) {
    let front = front();
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let first = runtime.start(Setup::new(standard(&front), policy()).store(store.clone()));
    let token = first.token(PATIENCE).unwrap();
    first.shutdown();

    let jammed = Jammed::new();
    let mut policy = policy();
    // A connect timeout of a second (a third of it), well inside the request's deadline.
    policy.response_timeout = Span::seconds(3);
    let second = runtime.start(Setup::new(standard(&jammed.base_url()), policy).store(store));
    assert_eq!(second.generation(), Some(token.generation()));
    second.renew().unwrap();
    eventually("the refresh to fail before leaving", || {
        second.last_failure().is_some()
    });
    let failure = second.last_failure().unwrap();
    assert_eq!(
        failure.failure().map(|failure| failure.kind()),
        Some(FailureKind::NotSent),
        "{failure}"
    );
    // The endpoint now accepts: the retry presents the same refresh token, once.
    jammed.forward_to(front.addr());
    let renewed = second
        .token_newer_than(token.generation(), PATIENCE)
        .unwrap();
    assert!(renewed.generation() > token.generation());
    let stats = front.with_emulator(|server| server.stats().clone());
    assert_eq!(
        (stats.logins, stats.refreshes),
        (1, 1),
        "the refresh token was kept"
    );
    assert_eq!(stats.refresh_token_reuses, 0);
    second.shutdown();
}

fn two_second_tokens_are_served_until_their_hard_expiry(runtime: Runtime) {
    stale_while_refresh(runtime, 2, Duration::from_secs(8));
}

fn ten_second_tokens_are_served_until_their_hard_expiry(runtime: Runtime) {
    stale_while_refresh(runtime, 10, Duration::from_secs(16));
}

fn forty_second_tokens_are_served_until_their_hard_expiry(runtime: Runtime) {
    stale_while_refresh(runtime, 40, Duration::from_secs(42));
}

/// Stale-while-refresh with short tokens: with the default policy and a provider that
/// answers after a second, readers never find the cell empty while the token they last
/// read is still valid. Counted over `run_for` of real time: the count must be 0.
fn stale_while_refresh(runtime: Runtime, lifetime_seconds: i64, run_for: Duration) {
    let mut server = StandardServerConfig::default();
    server.access_token_lifetime = Span::seconds(lifetime_seconds);
    let mut config = HttpFrontConfig::default();
    config.auth_latency = Duration::from_secs(1);
    let front = HttpFront::start_with(StandardServer::new(server), Clock::System, config).unwrap();
    let manager = runtime.start(Setup::new(standard(&front), Policy::default()));
    manager.token(PATIENCE).unwrap();
    let empty = AtomicUsize::new(0);
    let reads = AtomicUsize::new(0);
    let newest = AtomicU64::new(0);
    let until = Instant::now() + run_for;
    thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut last_valid_until = None;
                while Instant::now() < until {
                    reads.fetch_add(1, Ordering::Relaxed);
                    match manager.with_token(|token| (token.generation(), token.valid_until())) {
                        Some((generation, valid_until)) => {
                            newest.fetch_max(generation.get(), Ordering::Relaxed);
                            last_valid_until = Some(valid_until);
                        }
                        // Read after the miss: a withdrawal at the hard expiry is no miss.
                        None if last_valid_until.is_some_and(|at| system_now() < at) => {
                            empty.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {}
                    }
                    thread::sleep(Duration::from_micros(200));
                }
            });
        }
    });
    let empty = empty.into_inner();
    let renewals = newest.into_inner().saturating_sub(1);
    println!(
        "FIGURE empty-cell runtime={runtime:?} lifetime={lifetime_seconds}s reads={} renewals={renewals} empty_while_valid={empty}",
        reads.into_inner()
    );
    assert!(
        renewals >= 1,
        "no renewal in {run_for:?}: the scenario proved nothing"
    );
    assert_eq!(
        empty, 0,
        "callers found the cell empty while their token was valid"
    );
    manager.shutdown();
}

/// A listening socket whose accept queue is full: a connection to it neither succeeds
/// nor is refused, it hangs, as with a server too busy to accept. Until
/// [`forward_to`](Jammed::forward_to) makes it accept and pass each connection on.
struct Jammed {
    listener: TcpListener,
    /// The connections that fill the queue.
    fillers: Vec<TcpStream>,
}

impl Jammed {
    fn new() -> Self {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&any.into()).unwrap();
        socket.listen(0).unwrap();
        let listener: TcpListener = socket.into();
        let addr = listener.local_addr().unwrap();
        let mut fillers = Vec::new();
        // Bounded: the queue holds a connection or two before connects start to hang.
        for _ in 0..16 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(filler) => fillers.push(filler),
                Err(error) if error.kind() == io::ErrorKind::TimedOut => {
                    return Jammed { listener, fillers };
                }
                Err(error) => panic!("filling the listen queue: {error}"),
            }
        }
        panic!("the listen queue never filled");
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.listener.local_addr().unwrap())
    }

    /// Starts accepting: the fillers are closed, every other connection is passed on to
    /// `target`.
    fn forward_to(self, target: SocketAddr) {
        let fillers: Vec<SocketAddr> = self
            .fillers
            .iter()
            .map(|filler| filler.local_addr().unwrap())
            .collect();
        drop(self.fillers);
        let listener = self.listener;
        thread::spawn(move || {
            for incoming in listener.incoming() {
                let Ok(client) = incoming else { return };
                if client.peer_addr().is_ok_and(|peer| fillers.contains(&peer)) {
                    continue;
                }
                let Ok(server) = TcpStream::connect(target) else {
                    continue;
                };
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
    }
}

/// Copies `from` into `to` on a thread of its own, until `from` ends.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (mut from, mut to) = (from.try_clone().unwrap(), to.try_clone().unwrap());
    thread::spawn(move || {
        let _ = io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// A manager whose file store's directory does not exist does not start, and its error
/// names the directory, in a chain that reads as sentences.
fn a_store_directory_that_does_not_exist_is_named(runtime: Runtime) {
    let directory = std::env::temp_dir().join(format!(
        "oauth-lifecycle-conformance-no-dir-{runtime:?}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&directory);
    let store = FileStore::new(
        directory.join("session.json"),
        FileStoreOptions::encrypted(StoreKey::generate()),
    );
    let front = front();
    let setup = Setup::new(standard(&front), policy()).store(Arc::new(store));
    let Err(error) = runtime.try_start(setup) else {
        panic!("started without its store's directory");
    };
    let shown = alternate(&*error);
    let expected = format!(
        "cannot open the session store directory {}: ",
        directory.display()
    );
    assert!(shown.starts_with(&expected), "{shown}");
    assert_reads_as_sentence(&*error);
}
