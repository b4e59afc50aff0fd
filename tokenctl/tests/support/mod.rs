//! Runs the built `tokenctl` binary as a user would, in a sandbox of its own (config
//! file, state directory, environment), and checks after every run that no secret
//! reached its output or the config file.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use oauth_lifecycle_testkit::{eventually, STANDARD_CLIENT};

pub mod terminal;
use serde_json::Value;

/// A sandbox: its own config file and state directory, and the secrets it knows.
pub struct Lab {
    dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    env: Mutex<Vec<(String, String)>>,
    /// Passwords, client secrets, keys: never in any output.
    secrets: Mutex<BTreeSet<String>>,
    /// Tokens seen (access and refresh): never on stderr; refresh tokens never on stdout.
    refresh_tokens: Mutex<BTreeSet<String>>,
    access_tokens: Mutex<BTreeSet<String>>,
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Asserts the exit code, showing the output if it differs.
    #[track_caller]
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn ok(self) -> Self {
        self.expect(0)
    }

    /// The single line printed on stdout.
    pub fn line(&self) -> &str {
        self.stdout.trim_end_matches('\n')
    }
}

impl Lab {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config = dir.path().join("config").join("config.toml");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "").unwrap();
        let state = dir.path().join("state");
        Lab {
            config,
            state,
            dir,
            env: Mutex::new(Vec::new()),
            secrets: Mutex::new(BTreeSet::new()),
            refresh_tokens: Mutex::new(BTreeSet::new()),
            access_tokens: Mutex::new(BTreeSet::new()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds profile `name` to the config file.
    pub fn profile(&self, name: &str, body: &str) {
        let mut text = std::fs::read_to_string(&self.config).unwrap();
        text.push_str(&format!("\n[profiles.{name}]\n{body}\n"));
        std::fs::write(&self.config, text).unwrap();
    }

    /// Adds profile `name` for the standard emulator's client (client credentials) at
    /// `token_url`, with its secret in `EMULATED_SECRET`, stored in plaintext.
    pub fn standard_profile(&self, name: &str, token_url: &str) {
        let (id, secret) = STANDARD_CLIENT;
        self.profile(
            name,
            &format!(
                "provider = \"standard\"\ntoken_url = \"{token_url}\"\nclient_id = \"{id}\"\nclient_secret_env = \"EMULATED_SECRET\"\nplaintext_storage = true"
            ),
        );
        self.secret("EMULATED_SECRET", secret);
    }

    /// Sets `variable` for every run, and remembers `value` as a secret.
    pub fn secret(&self, variable: &str, value: &str) {
        self.secrets.lock().unwrap().insert(value.to_owned());
        self.set(variable, value);
    }

    /// Remembers `value` as a secret (a key, an assertion) that no run may show, nor
    /// the config file hold.
    pub fn remember(&self, value: &str) {
        self.secrets.lock().unwrap().insert(value.to_owned());
    }

    /// Sets `variable` for every run.
    pub fn set(&self, variable: &str, value: &str) {
        let mut env = self.env.lock().unwrap();
        env.retain(|(name, _)| name != variable);
        env.push((variable.to_owned(), value.to_owned()));
    }

    /// Leaves `variable` out of every run from now on (its value stays a secret).
    pub fn unset(&self, variable: &str) {
        self.env
            .lock()
            .unwrap()
            .retain(|(name, _)| name != variable);
    }

    /// Runs `script` with `sh -c`, in the lab's environment, with `$TOKENCTL` naming the
    /// binary: for pipelines as a user types them. Nothing in its output may be a
    /// secret or a token.
    pub fn shell(&self, script: &str) -> Outcome {
        let template = self.command(&[], &[]);
        let mut shell = Command::new("sh");
        shell
            .args(["-c", script])
            .env_clear()
            .envs(template.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .env("TOKENCTL", env!("CARGO_BIN_EXE_tokenctl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let outcome = run_bounded(shell);
        self.check_no_leaks(&outcome, false);
        outcome
    }

    /// Every file in the state directory's `sessions` directory.
    pub fn state_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.state.join("sessions"))
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default()
    }

    /// Runs `tokenctl args…` (non-interactive: stdin is not a terminal). Only `token`
    /// may print an access token, on stdout.
    pub fn run(&self, args: &[&str]) -> Outcome {
        self.run_with(args, &[])
    }

    pub fn run_with(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Outcome {
        let outcome = run_bounded(self.command(args, extra_env));
        let prints_token = args.first() == Some(&"token") && !args.contains(&"--dry-run");
        if prints_token && outcome.code == 0 {
            if let Some(token) = token_in(&outcome.stdout) {
                self.access_tokens.lock().unwrap().insert(token);
            }
        }
        self.check_no_leaks(&outcome, prints_token);
        outcome
    }

    /// The command, for running several at once.
    pub fn command(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tokenctl"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("TOKENCTL_CONFIG", &self.config)
            .env("TOKENCTL_STATE_DIR", &self.state)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in self.env.lock().unwrap().iter() {
            command.env(name, value);
        }
        for (name, value) in extra_env {
            command.env(name, value);
        }
        command
    }

    /// Checks an outcome of a command run outside [`run`](Self::run).
    pub fn check(&self, outcome: &Outcome, prints_token: bool) {
        self.check_no_leaks(outcome, prints_token);
    }

    /// Every secret, and every token in a plaintext session file now, checked against
    /// the outputs and the config file.
    fn check_no_leaks(&self, outcome: &Outcome, prints_token: bool) {
        self.harvest_tokens();
        let config = std::fs::read_to_string(&self.config).unwrap_or_default();
        for secret in self.secrets.lock().unwrap().iter() {
            for (place, text) in [
                ("stdout", &outcome.stdout),
                ("stderr", &outcome.stderr),
                ("config file", &config),
            ] {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret in {place}:\n{text}"
                );
            }
        }
        for token in self.refresh_tokens.lock().unwrap().iter() {
            for (place, text) in [
                ("stdout", &outcome.stdout),
                ("stderr", &outcome.stderr),
                ("config file", &config),
            ] {
                assert!(
                    !text.contains(token.as_str()),
                    "a refresh token in {place}:\n{text}"
                );
            }
        }
        for token in self.access_tokens.lock().unwrap().iter() {
            assert!(
                !outcome.stderr.contains(token.as_str()),
                "an access token on stderr:\n{}",
                outcome.stderr
            );
            assert!(
                !config.contains(token.as_str()),
                "an access token in the config file"
            );
            if !prints_token {
                assert!(
                    !outcome.stdout.contains(token.as_str()),
                    "an access token on stdout:\n{}",
                    outcome.stdout
                );
            }
        }
    }

    /// Collects the tokens in every plaintext session file of the state directory.
    fn harvest_tokens(&self) {
        let Ok(entries) = std::fs::read_dir(self.state.join("sessions")) else {
            return;
        };
        for entry in entries.flatten() {
            let Ok(text) = std::fs::read(entry.path()) else {
                continue;
            };
            let Ok(json) = serde_json::from_slice::<Value>(&text) else {
                continue;
            };
            collect(&json, &mut |key, token| {
                let set = match key {
                    "access_token" => &self.access_tokens,
                    _ => &self.refresh_tokens,
                };
                set.lock().unwrap().insert(token.to_owned());
            });
        }
    }

    /// The session files of the state directory.
    pub fn session_files(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.state.join("sessions"))
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "session"))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn collect(value: &Value, found: &mut impl FnMut(&str, &str)) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    (
                        "access_token" | "refresh_token" | "frontend_token" | "id_token",
                        Value::String(token),
                    ) => found(key, token),
                    ("sent", Value::Array(tokens)) => {
                        for token in tokens.iter().filter_map(Value::as_str) {
                            found("refresh_token", token);
                        }
                    }
                    _ => collect(value, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect(item, found)),
        _ => {}
    }
}

/// The token in `token`'s output, whatever the format.
fn token_in(stdout: &str) -> Option<String> {
    let line = stdout.lines().next()?.trim();
    if let Ok(json) = serde_json::from_str::<Value>(line) {
        return json["access_token"]
            .as_str()
            .or(json["status"]["token"].as_str())
            .map(str::to_owned);
    }
    let token = line
        .trim_start_matches("header = \"")
        .trim_end_matches('"')
        .trim_start_matches("Authorization: Bearer ");
    (!token.is_empty()).then(|| token.to_owned())
}

/// A child process killed if it is still running when dropped: when a test fails.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Runs `command` to its end, killing it after [`PATIENCE`](oauth_lifecycle_testkit::PATIENCE).
pub fn run_bounded(mut command: Command) -> Outcome {
    let mut child = Running(command.spawn().expect("tokenctl starts"));
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let status = eventually("tokenctl to end", || child.0.try_wait().expect("wait"));
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
