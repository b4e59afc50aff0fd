//! Persistence across real processes: this test binary runs itself again as a child
//! process (the ignored test `child_process`, its role chosen by an environment
//! variable), which runs a manager with an encrypted `FileStore` against a front this
//! process owns. Children are restarted, killed with SIGKILL right after sending a
//! single-use refresh token, and run two at a time on one file.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_lifecycle::dialect::{ConvirzaV3, Standard};
use oauth_lifecycle::{Dialect, Policy};
use oauth_lifecycle_adapter::trace::fingerprint;
use oauth_lifecycle_blocking::{FileStore, FileStoreOptions, StoreKey, TokenManager};
use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator, HttpFront, StandardServer,
    StandardServerConfig, TransportFault,
};
use support::{call_api, eventually, CLIENT, PATIENCE, USER};

const ROLE: &str = "OAUTH_LIFECYCLE_BLOCKING_CHILD_ROLE";
const FRONT: &str = "OAUTH_LIFECYCLE_BLOCKING_CHILD_FRONT";
const STORE: &str = "OAUTH_LIFECYCLE_BLOCKING_CHILD_STORE";
const KEY: &str = "OAUTH_LIFECYCLE_BLOCKING_CHILD_KEY";

// ---------------------------------------------------------------------------------------
// The child.

/// What a child process runs; see the roles below. Not a test of its own: the tests
/// below run it in child processes.
#[test]
#[ignore = "the child process of the persistence tests, which run it"]
fn child_process() {
    let role = std::env::var(ROLE).expect("a role");
    let front = std::env::var(FRONT).expect("a front");
    let store = FileStore::new(
        std::env::var(STORE).expect("a store path"),
        FileStoreOptions::encrypted(
            StoreKey::from_base64(&std::env::var(KEY).expect("a key")).expect("a valid key"),
        ),
    );
    let store = Arc::new(store);
    match role.as_str() {
        // Logs in or resumes, says which token it holds, calls the API, exits.
        "standard" => {
            let dialect = Standard::builder(format!("{front}/token"), CLIENT.0)
                .client_secret(CLIENT.1)
                .password(USER.0, USER.1)
                .build()
                .unwrap();
            let tokens = start(dialect, Policy::default(), store);
            let token = tokens.token(PATIENCE).expect("a token");
            say("TOKEN", &token);
            assert_eq!(call_api(&format!("{front}/api/profile"), &token), 200);
            // Dropping the manager does not wait for its thread (nor for the store write
            // that follows the token's publication): a process that means to resume
            // next time shuts down.
            tokens.shutdown();
        }
        "v3-resume" => {
            let tokens = start(v3(&front), Policy::default(), store);
            let token = tokens.token(PATIENCE).expect("a token");
            say("TOKEN", &token);
            assert_eq!(call_api(&format!("{front}/api/profile"), &token), 200);
            tokens.shutdown();
        }
        // Logs in, then on `GO` reports a 401, which sends the single-use refresh token;
        // then waits to be killed.
        "v3-refresh" => {
            let tokens = start(v3(&front), Policy::default(), store);
            let token = tokens.token(PATIENCE).expect("a token");
            say("READY", &token);
            assert_eq!(hear(), Some("GO".into()));
            tokens.report_unauthorized(token.generation());
            println!("CHILD REPORTED");
            while hear().is_some() {}
        }
        // Logs in or resumes; on `GO` reports a 401 and waits for the renewed token.
        "v3-share" => {
            let mut policy = Policy::default();
            policy.response_timeout = time::Duration::seconds(3);
            let tokens = start(v3(&front), policy, store);
            let token = tokens.token(PATIENCE).expect("a token");
            say("READY", &token);
            assert_eq!(hear(), Some("GO".into()));
            tokens.report_unauthorized(token.generation());
            let renewed = tokens
                .token_newer_than(token.generation(), PATIENCE)
                .expect("a renewed token");
            let status = call_api(&format!("{front}/api/profile"), &renewed);
            println!(
                "CHILD RENEWED {} {} {status}",
                renewed.generation().get(),
                fingerprint(renewed.secret())
            );
            while hear().is_some() {}
        }
        other => panic!("no role {other}"),
    }
}

fn start<D: Dialect>(dialect: D, policy: Policy, store: Arc<FileStore>) -> TokenManager {
    TokenManager::builder(dialect, policy)
        .store(store)
        .name("child")
        .start()
        .expect("the manager starts")
}

fn v3(front: &str) -> ConvirzaV3 {
    support::convirza_v3(front)
}

/// Tells the parent which token the child holds: its generation and fingerprint.
fn say(what: &str, token: &oauth_lifecycle_blocking::PublishedToken) {
    println!(
        "CHILD {what} {} {}",
        token.generation().get(),
        fingerprint(token.secret())
    );
}

/// The parent's next line; `None` once it closed the pipe.
fn hear() -> Option<String> {
    let mut line = String::new();
    match std::io::stdin().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}

// ---------------------------------------------------------------------------------------
// The parent.

/// A directory of its own for a test's store, removed at the end.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "oauth-lifecycle-blocking-{}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn store(&self) -> PathBuf {
        self.0.join("session.json")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process running [`child_process`] in a role.
struct ChildProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl ChildProcess {
    fn spawn(role: &str, front: &str, store: &Path, key: &StoreKey) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_process",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(ROLE, role)
            .env(FRONT, front)
            .env(STORE, store)
            .env(KEY, key.to_base64().as_str())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the test binary runs again");
        let stdout = child.stdout.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // The test harness may print on the same line before it.
                if let Some(at) = line.find("CHILD ") {
                    let _ = send.send(line[at + "CHILD ".len()..].to_owned());
                }
            }
        });
        ChildProcess {
            stdin: child.stdin.take(),
            child,
            lines,
        }
    }

    /// The words of the child's next line starting with `what`, waiting at most
    /// [`PATIENCE`].
    fn expect(&self, what: &str) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the child never said {what}"));
            let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            if words.first().map(String::as_str) == Some(what) {
                return words[1..].to_vec();
            }
        }
    }

    fn tell(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the pipe is open");
        writeln!(stdin, "{line}").expect("the child listens");
    }

    /// Closes the child's input and waits (bounded) for it to exit.
    fn finish(mut self) -> ExitStatus {
        self.stdin = None;
        eventually("the child to exit", || self.child.try_wait().unwrap())
    }

    /// SIGKILL: the process gets no chance to do anything more.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn a_restarted_process_resumes_without_logging_in_again() {
    let scratch = Scratch::new("restart");
    let key = StoreKey::generate();
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();

    let first = ChildProcess::spawn("standard", &front.base_url(), &scratch.store(), &key);
    let held = first.expect("TOKEN");
    assert!(first.finish().success());
    assert_eq!(front.with_emulator(|e| e.stats().logins), 1);
    // The session on disk is encrypted: no token in it.
    let on_disk = std::fs::read_to_string(scratch.store()).unwrap();
    assert!(!on_disk.contains("access_token"), "{on_disk}");

    let second = ChildProcess::spawn("standard", &front.base_url(), &scratch.store(), &key);
    assert_eq!(second.expect("TOKEN"), held, "the same token, resumed");
    assert!(second.finish().success());
    let stats = front.with_emulator(|e| e.stats().clone());
    assert_eq!((stats.token_requests, stats.logins), (1, 1), "{stats:?}");
}

#[test]
fn a_process_killed_after_sending_a_single_use_refresh_token_never_resends_it() {
    let scratch = Scratch::new("killed");
    let key = StoreKey::generate();
    let front = HttpFront::start(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        Clock::System,
    )
    .unwrap();

    let mut doomed = ChildProcess::spawn("v3-refresh", &front.base_url(), &scratch.store(), &key);
    let held = doomed.expect("READY");
    // The server will take the refresh, rotate the token, and never answer.
    front.inject(TransportFault::Hang(Duration::from_secs(60)));
    doomed.tell("GO");
    doomed.expect("REPORTED");
    eventually("the server rotated the refresh token", || {
        front.with_emulator(|e| e.stats().refreshes) == 1
    });
    doomed.kill();

    let restarted = ChildProcess::spawn("v3-resume", &front.base_url(), &scratch.store(), &key);
    let now_held = restarted.expect("TOKEN");
    assert!(restarted.finish().success());
    assert_ne!(now_held, held);
    let stats = front.with_emulator(|e| e.stats().clone());
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    assert_eq!((stats.logins, stats.refreshes), (2, 1), "{stats:?}");
    assert_eq!(front.stats().auth_requests, 3, "login, refresh, login");
}

#[test]
fn two_processes_sharing_one_file_never_both_spend_a_refresh_token() {
    let scratch = Scratch::new("shared");
    let key = StoreKey::generate();
    let front = HttpFront::start(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        Clock::System,
    )
    .unwrap();

    let mut first = ChildProcess::spawn("v3-share", &front.base_url(), &scratch.store(), &key);
    let held = first.expect("READY");
    let mut second = ChildProcess::spawn("v3-share", &front.base_url(), &scratch.store(), &key);
    assert_eq!(
        second.expect("READY"),
        held,
        "the second resumed the first's session"
    );
    assert_eq!(front.with_emulator(|e| e.stats().logins), 1);

    // Both meet a 401 with the same token at once: both want to spend the same refresh
    // token.
    first.tell("GO");
    second.tell("GO");
    for child in [&first, &second] {
        let renewed = child.expect("RENEWED");
        assert_eq!(renewed[2], "200", "the renewed token works");
    }
    assert!(first.finish().success());
    assert!(second.finish().success());
    let stats = front.with_emulator(|e| e.stats().clone());
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
    assert!(stats.refreshes <= 1, "{stats:?}");
}
