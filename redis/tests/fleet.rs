//! The fleet end to end: real processes (this test binary run again as a worker), each a
//! blocking `TokenManager` with a `RedisStore` on a real `redis-server`, and many tasks
//! taking tokens, against a provider's emulator over HTTP on 127.0.0.1. The emulator
//! counts every token request and every refresh-token reuse.
//!
//! The figures (token requests per rotation, recovery times) are printed with
//! `--nocapture` and recorded in `docs/fleet.md`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth_lifecycle::time::{Duration as Span, UtcDateTime};
use oauth_lifecycle::{Dialect, Policy};
use oauth_lifecycle_adapter::StoreKey;
use oauth_lifecycle_blocking::TokenManager;
use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator, HttpFront, ServerStats,
    StandardServer, StandardServerConfig,
};
use oauth_lifecycle_redis::{redis, RedisStore, Server};
use oauth_lifecycle_testkit::{
    convercus_client, convirza_v2, convirza_v3, eventually, RedisServer, PATIENCE,
};

const KEY: [u8; 32] = [42; 32];
const ACCOUNT: &str = "fleet-test";
/// The manager's response timeout in the workers, and the lease, which outlasts it (short,
/// for the crash test: a holder that dies is replaced within the lease).
const RESPONSE_TIMEOUT: Span = Span::seconds(2);
const LEASE: Span = Span::seconds(4);

/// The fleet tests run one at a time: each starts hundreds of threads, and their
/// timings are what they measure.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

type Front = HttpFront<Box<dyn Emulator + Send>>;

fn front(emulator: impl Emulator + Send + 'static) -> Front {
    HttpFront::start(
        Box::new(emulator) as Box<dyn Emulator + Send>,
        Clock::System,
    )
    .unwrap()
}

fn stats(front: &Front) -> ServerStats {
    front.with_emulator(|emulator| emulator.stats().clone())
}

fn unix_ms(at: SystemTime) -> u128 {
    at.duration_since(UNIX_EPOCH).unwrap().as_millis()
}

// ---------------------------------------------------------------------------------------
// The worker

/// One process of the fleet (run by the tests below as a child; ignored otherwise).
#[test]
#[ignore = "a worker the fleet tests start as a child process"]
fn fleet_worker() {
    // The test that started this worker holds its stdin: end of input means it is gone.
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(3);
    });
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name}"));
    let provider = env("FLEET_PROVIDER");
    let base = env("FLEET_FRONT");
    let index: u64 = env("FLEET_INDEX").parse().unwrap();
    let tasks: usize = env("FLEET_TASKS").parse().unwrap();
    let run_for = Duration::from_secs(env("FLEET_SECONDS").parse().unwrap());
    match provider.as_str() {
        "convirza-v3" => work(convirza_v3(&base), index, tasks, run_for),
        "convercus" => work(
            convercus_client(&base).build().unwrap(),
            index,
            tasks,
            run_for,
        ),
        "convirza-v2" => work(convirza_v2(&base), index, tasks, run_for),
        other => panic!("unknown provider {other}"),
    }
}

fn work<D: Dialect>(dialect: D, index: u64, tasks: usize, run_for: Duration) {
    // The manager's traces (no secrets: fingerprints only), for the test to show when
    // an assertion fails.
    if let Ok(path) = std::env::var("FLEET_LOG") {
        let file = std::fs::File::create(path).unwrap();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(Mutex::new(file))
            .try_init();
    }
    // The timeouts: the test's own when it gives them (a test with many processes on
    // a busy machine needs room), the short defaults otherwise.
    let (response_timeout, lease) = match std::env::var("FLEET_TIMEOUT_SECONDS") {
        Ok(seconds) => {
            let seconds: i64 = seconds.parse().unwrap();
            (Span::seconds(seconds), Span::seconds(seconds * 2))
        }
        Err(_) => (RESPONSE_TIMEOUT, LEASE),
    };
    let store = RedisStore::builder(
        Server::node(&std::env::var("FLEET_REDIS").unwrap()).unwrap(),
        ACCOUNT,
    )
    .encrypted(StoreKey::from_bytes(KEY))
    .holder(format!("worker-{index}"))
    .lease(lease)
    .poll(Span::seconds(2))
    .timeouts(Duration::from_millis(300), Duration::from_millis(500))
    .build()
    .unwrap();
    let mut policy = Policy::default();
    policy.jitter_seed = index;
    policy.response_timeout = response_timeout;
    let tokens = TokenManager::builder(dialect, policy)
        .store(Arc::new(store))
        .name(format!("worker-{index}"))
        .start()
        .unwrap();
    println!("WORKER READY");
    // token → the last moment a task got it; and every task's failures.
    let seen: Mutex<HashMap<String, u128>> = Mutex::new(HashMap::new());
    let failures = Mutex::new(Vec::new());
    let deadline = Instant::now() + run_for;
    std::thread::scope(|scope| {
        for _ in 0..tasks {
            scope.spawn(|| {
                let mut mine: HashMap<String, u128> = HashMap::new();
                while Instant::now() < deadline {
                    match tokens.token(Duration::from_secs(10)) {
                        Ok(token) => {
                            mine.insert(token.secret().to_owned(), unix_ms(SystemTime::now()));
                        }
                        Err(error) => failures.lock().unwrap().push(error.to_string()),
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let mut seen = seen.lock().unwrap();
                for (token, at) in mine {
                    let last = seen.entry(token).or_insert(at);
                    *last = (*last).max(at);
                }
            });
        }
    });
    tokens.shutdown();
    for (token, at) in seen.into_inner().unwrap() {
        println!("WORKER TOKEN {token} {at}");
    }
    for failure in failures.into_inner().unwrap() {
        println!("WORKER FAILURE {failure}");
    }
    println!("WORKER DONE");
}

// ---------------------------------------------------------------------------------------
// The fleet, from the test's side

/// What a worker reports: each token its tasks got, with the last moment one got it
/// (Unix milliseconds), and its tasks' failures.
type Report = (Vec<(String, u128)>, Vec<String>);

struct Worker {
    child: Child,
    lines: Receiver<String>,
}

impl Worker {
    fn spawn(
        provider: &str,
        front: &str,
        redis: &str,
        index: u64,
        tasks: usize,
        seconds: u64,
        roomy: bool,
    ) -> Worker {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "fleet_worker",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("FLEET_PROVIDER", provider)
            .env("FLEET_FRONT", front)
            .env("FLEET_REDIS", redis)
            .env("FLEET_INDEX", index.to_string())
            .env("FLEET_TASKS", tasks.to_string())
            .env("FLEET_LOG", log_path(index))
            .envs(roomy.then_some(("FLEET_TIMEOUT_SECONDS", "10")))
            .env("FLEET_SECONDS", seconds.to_string())
            // Held by the test: when it ends, however it ends, the worker reads end of
            // input and exits (no worker outlives the test that started it).
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the test binary runs again");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(at) = line.find("WORKER ") {
                    let _ = send.send(line[at + "WORKER ".len()..].to_owned());
                }
            }
        });
        Worker { child, lines }
    }

    fn wait_ready(&self) {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) if line == "READY" => return,
                Ok(_) => {}
                Err(_) => panic!("a worker did not start"),
            }
        }
    }

    /// Everything it reported when done: the tokens it handed out (with the last
    /// moment), and its tasks' failures.
    fn report(mut self, patience: Duration) -> Report {
        let deadline = Instant::now() + patience;
        let (mut tokens, mut failures) = (Vec::new(), Vec::new());
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line == "DONE" => break,
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("TOKEN ") {
                        let (token, at) = rest.split_once(' ').unwrap();
                        tokens.push((token.to_owned(), at.parse().unwrap()));
                    } else if let Some(failure) = line.strip_prefix("FAILURE ") {
                        failures.push(failure.to_owned());
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    panic!("a worker did not finish in time");
                }
            }
        }
        let _ = self.child.wait();
        (tokens, failures)
    }

    fn kill(mut self) {
        let _ = self.child.kill(); // SIGKILL
        let _ = self.child.wait();
    }
}

/// `processes` workers of `tasks` tasks each for `seconds`, against `front`.
fn fleet(
    roomy: bool,
    provider: &str,
    front: &Front,
    redis: &RedisServer,
    processes: u64,
    tasks: usize,
    seconds: u64,
) -> Vec<Worker> {
    (0..processes)
        .map(|i| {
            Worker::spawn(
                provider,
                &front.base_url(),
                &redis.url(),
                i,
                tasks,
                seconds,
                roomy,
            )
        })
        .collect()
}

/// Where worker `index` of this test process writes its traces.
fn log_path(index: u64) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "oauth-lifecycle-fleet-{}-{index}.log",
        std::process::id()
    ))
}

/// What the workers' traces say about renewals that went wrong (transport failures,
/// lost outcomes, logins), for an assertion's message.
fn worker_trouble(processes: u64) -> String {
    let mut lines = Vec::new();
    for index in 0..processes {
        let text = std::fs::read_to_string(log_path(index)).unwrap_or_default();
        for line in text.lines() {
            if [
                "transport",
                "outcome",
                "via=login",
                "fleet: another",
                "detached",
            ]
            .iter()
            .any(|word| line.contains(word))
            {
                lines.push(format!("worker-{index}: {line}"));
            }
        }
    }
    lines.join("\n")
}

/// The workers' reports, once each is done (each within `patience`).
fn reports(workers: impl IntoIterator<Item = Worker>, patience: Duration) -> Vec<Report> {
    workers.into_iter().map(|w| w.report(patience)).collect()
}

/// Every token in the reports was valid at the provider when a task got it. Returns
/// how many distinct tokens the tasks got.
fn assert_valid_when_handed_out(front: &Front, reports: &[Report]) -> usize {
    let mut distinct = HashMap::new();
    for (tokens, _) in reports {
        for (token, at) in tokens {
            let at = UtcDateTime::from_unix_timestamp_nanos(*at as i128 * 1_000_000).unwrap();
            let valid = front.with_emulator(|emulator| emulator.is_access_token_valid(token, at));
            assert!(valid, "a task got a token the provider did not accept then");
            distinct.insert(token.clone(), ());
        }
    }
    distinct.len()
}

/// Checks the reports: no task failed, and every token was valid at the provider when
/// handed out. Returns the distinct tokens handed out.
fn check_reports(front: &Front, reports: Vec<Report>) -> usize {
    for (_, failures) in &reports {
        assert!(failures.is_empty(), "tasks failed: {failures:?}");
    }
    assert_valid_when_handed_out(front, &reports)
}

fn lease_holder(redis: &RedisServer) -> Option<String> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().ok()?;
    redis::cmd("GET")
        .arg(format!("oauth-lifecycle:{{{ACCOUNT}}}:lease"))
        .query(&mut connection)
        .ok()?
}

fn stored_generation(redis: &RedisServer) -> Option<u64> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().ok()?;
    redis::cmd("HGET")
        .arg(format!("oauth-lifecycle:{{{ACCOUNT}}}:session"))
        .arg("generation")
        .query(&mut connection)
        .ok()?
}

/// Redis's count of calls per command since it started (`INFO commandstats`).
fn command_counts(redis: &RedisServer) -> Vec<(String, u64)> {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut connection = client.get_connection().unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut connection)
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest.split(',').find_map(|kv| kv.strip_prefix("calls="))?;
            Some((name.to_owned(), calls.parse().ok()?))
        })
        .collect()
}

fn v3_front(lifetime: Span) -> Front {
    let mut config = ConvirzaV3ServerConfig::default();
    config.access_token_lifetime = lifetime;
    front(ConvirzaV3Server::new(config))
}

// ---------------------------------------------------------------------------------------
// The tests

/// 8 processes × 200 tasks, Convirza V3 (single-use rotation), tokens of 6 seconds,
/// through several rotations: no reuse, one token request per rotation, every task's
/// every token valid. (A 10-second response timeout: 1,600 threads on a busy machine
/// must not turn a slow answer into a lost one, which would cost a login.)
#[test]
fn eight_processes_of_200_tasks_rotate_single_use_tokens_once_each() {
    let _turn = one_at_a_time();
    let redis = RedisServer::start();
    let front = v3_front(Span::seconds(6));
    let seconds = 20;
    let workers = fleet(true, "convirza-v3", &front, &redis, 8, 200, seconds);
    let reports = reports(workers, Duration::from_secs(120));
    let handed_out = check_reports(&front, reports);
    let stats = stats(&front);
    println!("FIGURE 8x200 V3: {stats:?}, distinct tokens handed out {handed_out}");
    println!(
        "FIGURE 8x200 V3 redis calls over {seconds} s: {:?}",
        command_counts(&redis)
    );
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    assert_eq!(
        stats.logins,
        1,
        "one login for the whole fleet: {stats:?}\n{}",
        worker_trouble(8)
    );
    assert!(stats.refreshes >= 2, "several rotations: {stats:?}");
    assert_eq!(
        stats.token_requests,
        stats.logins + stats.refreshes,
        "{stats:?}"
    );
    // Every token issued was handed out (the last one may come as the run ends).
    let issued = stats.token_requests as usize;
    assert!(
        handed_out == issued || handed_out + 1 == issued,
        "one token request per rotation: {stats:?}, {handed_out} handed out"
    );
}

/// The lease holder is killed (SIGKILL) while its refresh is at the provider: the fleet
/// recovers within the lease, by a login, and the spent refresh token is never sent
/// again.
#[test]
fn killing_the_lease_holder_mid_renewal_costs_one_lease_and_no_reuse() {
    let _turn = one_at_a_time();
    let redis = RedisServer::start();
    let front = v3_front(Span::seconds(8));
    let seconds = 24;
    let workers = fleet(false, "convirza-v3", &front, &redis, 4, 20, seconds);
    for worker in &workers {
        worker.wait_ready();
    }
    eventually("the first login", || stored_generation(&redis) == Some(1));
    // Hold the provider as the first refresh reaches it.
    let before = front.stats().auth_requests;
    let (held, is_held) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let holding = std::thread::scope(|scope| {
        let front = &front;
        scope.spawn(move || {
            front.with_emulator(|_| {
                let _ = held.send(());
                let _ = released.recv_timeout(PATIENCE);
            })
        });
        is_held.recv_timeout(PATIENCE).unwrap();
        eventually("the refresh to reach the provider", || {
            front.stats().auth_requests > before
        });
        let holder = lease_holder(&redis).expect("a lease holder mid-renewal");
        let _ = release.send(());
        holder
    });
    let index: usize = holding.trim_start_matches("worker-").parse().unwrap();
    let mut workers: Vec<Option<Worker>> = workers.into_iter().map(Some).collect();
    let killed_at = Instant::now();
    workers[index].take().unwrap().kill();
    eventually("a new generation", || {
        stored_generation(&redis).is_some_and(|generation| generation >= 2)
    });
    let recovery = killed_at.elapsed();
    println!("FIGURE holder killed: recovered in {recovery:?} (lease {LEASE})");
    assert!(
        recovery <= Duration::from_secs(LEASE.whole_seconds() as u64 + 3),
        "{recovery:?}"
    );
    let reports = reports(workers.into_iter().flatten(), Duration::from_secs(120));
    let stats = stats(&front);
    println!("FIGURE holder killed: {stats:?}");
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    // The survivors' tasks got valid tokens; some waited through the recovery.
    assert_valid_when_handed_out(&front, &reports);
}

/// `redis-server` stops for 6 seconds mid-run and comes back empty: no task fails for
/// want of a token (the processes hold credentials and log in by themselves), no refresh
/// token is reused, and the fleet shares one session again afterwards.
#[test]
fn a_redis_restart_costs_no_task_a_token_and_no_reuse() {
    let _turn = one_at_a_time();
    let mut redis = RedisServer::start();
    let front = v3_front(Span::seconds(6));
    let seconds = 24;
    let workers = fleet(false, "convirza-v3", &front, &redis, 4, 20, seconds);
    for worker in &workers {
        worker.wait_ready();
    }
    eventually("the first login", || stored_generation(&redis) == Some(1));
    std::thread::sleep(Duration::from_secs(4));
    redis.stop();
    std::thread::sleep(Duration::from_secs(6));
    redis.start_again();
    let restarted = Instant::now();
    eventually("a session stored again", || {
        stored_generation(&redis).is_some()
    });
    let rejoined = restarted.elapsed();
    println!("FIGURE redis restarted: a session stored again {rejoined:?} after the restart");
    let reports = reports(workers, Duration::from_secs(120));
    check_reports(&front, reports);
    let stats = stats(&front);
    println!("FIGURE redis restarted: {stats:?}");
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    // Each process said when it lost the store and when it rejoined, in that order.
    for index in 0..4 {
        let log = std::fs::read_to_string(log_path(index)).unwrap_or_default();
        let detached = log.find("fleet: the store is unreachable; detached");
        let rejoined = log.find("fleet: the store answers again; rejoined");
        assert!(
            matches!((detached, rejoined), (Some(d), Some(r)) if d < r),
            "worker-{index}: {log}"
        );
    }
}

/// Client credentials (Convercus through Keycloak): one login per renewal for the whole
/// fleet.
#[test]
fn client_credentials_one_login_per_renewal_for_the_fleet() {
    let _turn = one_at_a_time();
    let redis = RedisServer::start();
    let mut config = StandardServerConfig::keycloak("abc-staging");
    config.access_token_lifetime = Span::seconds(6);
    let front = front(StandardServer::new(config));
    let seconds = 16;
    let workers = fleet(false, "convercus", &front, &redis, 4, 20, seconds);
    let reports = reports(workers, Duration::from_secs(120));
    let handed_out = check_reports(&front, reports);
    let stats = stats(&front);
    println!("FIGURE client credentials: {stats:?}, distinct tokens {handed_out}");
    assert_eq!(stats.token_requests, stats.logins, "{stats:?}");
    let logins = stats.logins as usize;
    assert!(
        handed_out == logins || handed_out + 1 == logins,
        "one login per renewal: {stats:?}, {handed_out} handed out"
    );
    // Renewals every 5 s at the soonest (the policy's minimum interval).
    assert!(stats.logins <= seconds as u32 / 5 + 2, "{stats:?}");
}

/// Convirza V2 allows 10 token requests a minute per account: 5-second renewals would
/// make 12, and the fleet, sharing one budget through the store, stays at 10 in any
/// 61 seconds; the provider never has to refuse one.
#[test]
fn convirza_v2_the_fleet_shares_one_request_budget() {
    let _turn = one_at_a_time();
    let redis = RedisServer::start();
    let mut config = StandardServerConfig::convirza_v2();
    config.access_token_lifetime = Span::seconds(6);
    let front = front(StandardServer::new(config));
    let seconds = 66;
    let workers = fleet(false, "convirza-v2", &front, &redis, 3, 5, seconds);
    let reports = reports(workers, Duration::from_secs(180));
    let stats = stats(&front);
    println!("FIGURE convirza v2 budget: {stats:?}");
    assert_eq!(
        stats.rate_limited, 0,
        "the provider never refused for the rate: {stats:?}"
    );
    assert!(
        stats.token_requests >= 10 && stats.token_requests <= 12,
        "{stats:?}"
    );
    assert_eq!(stats.refresh_token_reuses, 0);
    // Tasks may wait for the budget, but every token they got was valid.
    assert_valid_when_handed_out(&front, &reports);
}
