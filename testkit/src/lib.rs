//! What the workspace's tests share, written once:
//!
//! - bounded waits: [`PATIENCE`], the one bound on any wait; [`eventually`] (and, with
//!   the `tokio` feature, [`eventually_async`] and [`bounded`]) to wait for a condition
//!   instead of sleeping;
//! - the emulators' default accounts and each provider's dialect pointed at an emulator
//!   ([`fixtures`]);
//! - the drain loop of a sans-IO driver against an in-process emulator ([`drain()`],
//!   [`collect`]), or on a simulated clock against a closure ([`Clocked`]);
//! - tracing output captured as text ([`TraceBuffer`]);
//! - real OAuth servers written by others and real Redis topologies, started on
//!   127.0.0.1, and a tiny blocking HTTP/1.1 transport to talk to them;
//! - the person at those servers' own pages: a [`browser`], and the device logins a
//!   person approves or denies ([`people`]).
//!
//! Each server is a fresh process with in-memory or temporary state. Its stdin is a pipe
//! held by [`Peer`]: when the peer is dropped, or the test process ends for any reason,
//! the pipe closes and the server exits by itself. `bash scripts/prepare-peers.sh`
//! installs them (pinned versions).

#![forbid(unsafe_code)]

pub mod adopted;
pub mod assertion_clients;
pub mod authlib_server;
pub mod browser;
pub mod clocked;
pub mod drain;
pub mod echo;
pub mod errors;
pub mod fixtures;
pub mod people;
pub mod providers;
pub mod recorder;
mod redis_cluster;
mod redis_sentinels;
mod redis_server;
mod traces;
pub mod transport;
mod wait;

pub use crate::redis_cluster::RedisCluster;
pub use crate::redis_sentinels::{RedisSentinels, SENTINEL_MASTER_PASSWORD, SENTINEL_SERVICE};
pub use crate::redis_server::RedisServer;

pub use crate::clocked::{reply, token_answer, Clocked};
pub use crate::drain::{collect, drain, Drained};
pub use crate::errors::assert_reads_as_sentence;
pub use crate::fixtures::*;
pub use crate::traces::{assert_no_assertion_or_key, TraceBuffer};
#[cfg(feature = "tokio")]
pub use crate::wait::{bounded, eventually_async};
pub use crate::wait::{eventually, eventually_within, Probe, PATIENCE};
/// The emulators, for the rows of [`providers!`].
pub use oauth_lifecycle_emulator as emulator;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

pub use crate::transport::send;

/// oidc-provider's confidential client authenticating with HTTP Basic.
pub const OIDC_BASIC_CLIENT: (&str, &str) = ("lifecycle-basic", "basic-secret-0123456789");
/// oidc-provider's confidential client authenticating in the body.
pub const OIDC_POST_CLIENT: (&str, &str) = ("lifecycle-post", "post-secret-0123456789");
/// django-oauth-toolkit's client for the password grant.
pub const DOT_PASSWORD_CLIENT: (&str, &str) = ("dot-password", "dot-password-secret-0123");
/// django-oauth-toolkit's client for client credentials.
pub const DOT_MACHINE_CLIENT: (&str, &str) = ("dot-machine", "dot-machine-secret-0123");
/// django-oauth-toolkit's user; the password has every character form encoding must get right.
pub const DOT_USER: (&str, &str) = ("alice", "p&ss=w+rd %\"é");
/// oidc-provider's public native client for the device authorization grant (RFC 8628): no
/// secret, grant types `urn:ietf:params:oauth:grant-type:device_code` and
/// `refresh_token`, scopes `openid offline_access api:read`.
pub const OIDC_DEVICE_CLIENT: &str = "lifecycle-device";
/// django-oauth-toolkit's public client for the device authorization grant (RFC 8628): no
/// secret; the toolkit's default scopes (`read write`) when the device asks for none.
pub const DOT_DEVICE_CLIENT: &str = "dot-device";

/// A running server; dropping it stops the server.
pub struct Peer {
    pub base_url: String,
    port: u16,
    child: Child,
}

impl Peer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Revokes `token` at oidc-provider (RFC 7009, as [`OIDC_POST_CLIENT`]): from then on
    /// its introspection says inactive.
    pub fn oidc_revoke(&self, token: &str) {
        let (id, secret) = OIDC_POST_CLIENT;
        let request = form(
            &self.url("/token/revocation"),
            &[
                ("token", token),
                ("client_id", id),
                ("client_secret", secret),
            ],
        );
        let response = send(&request).expect("oidc-provider answers");
        assert_eq!(response.status(), 200);
    }

    /// Whether oidc-provider says `token` is active (RFC 7662 introspection, as
    /// [`OIDC_POST_CLIENT`]).
    pub fn oidc_token_active(&self, token: &str) -> bool {
        let (id, secret) = OIDC_POST_CLIENT;
        let request = form(
            &self.url("/token/introspection"),
            &[
                ("token", token),
                ("client_id", id),
                ("client_secret", secret),
            ],
        );
        let response = send(&request).expect("oidc-provider answers");
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
        body["active"].as_bool().expect("an active field")
    }

    /// What django-oauth-toolkit answers to a refresh with `refresh_token` (as
    /// [`DOT_PASSWORD_CLIENT`]): its status and body. A live token is spent by it.
    pub fn dot_refresh(&self, refresh_token: &str) -> (u16, serde_json::Value) {
        let (id, secret) = DOT_PASSWORD_CLIENT;
        let request = form(
            &self.url("/o/token/"),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", id),
                ("client_secret", secret),
            ],
        );
        let response = send(&request).expect("django-oauth-toolkit answers");
        let body = serde_json::from_slice(response.body()).unwrap_or(serde_json::Value::Null);
        (response.status().as_u16(), body)
    }
}

/// A form-encoded POST of `fields` to `url`.
pub fn form(url: &str, fields: &[(&str, &str)]) -> http::Request<Vec<u8>> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.into_bytes())
        .expect("a valid request")
}

/// Percent-encodes everything but unreserved characters.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    listener.local_addr().expect("an address").port()
}

fn require(path: &Path) {
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/prepare-peers.sh` (or `bash scripts/test.sh`) first",
        path.display()
    );
}

/// Starts `program args… <port>` (on a free port unless one is given) with `env`, and
/// waits (at most [`PATIENCE`]) for it to print `READY <port>`.
fn start(program: &Path, args: &[&Path], port: Option<u16>, env: &[(&str, String)]) -> Peer {
    let port = port.unwrap_or_else(free_port);
    let mut child = Command::new(program)
        .args(args)
        .arg(port.to_string())
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let stdout = child.stdout.take().expect("a stdout pipe");
    let (ready, wait) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("READY ") {
                let _ = ready.send(());
            }
        }
    });
    if wait.recv_timeout(PATIENCE).is_err() {
        let _ = child.kill();
        panic!(
            "{} did not become ready within {PATIENCE:?}",
            program.display()
        );
    }
    Peer {
        base_url: format!("http://127.0.0.1:{port}"),
        port,
        child,
    }
}

/// How to start oidc-provider.
#[derive(Debug, Clone)]
pub struct OidcProvider {
    /// Lifetime of its access tokens, in seconds.
    pub ttl_seconds: u32,
    /// The port; a free one when `None`. Give a stopped peer's [`Peer::port`] to restart
    /// a server where its clients expect it.
    pub port: Option<u16>,
    /// Whether it knows the test clients. Without them it rejects every client with its
    /// own `401 invalid_client`, as a server restarted before its clients were loaded.
    pub with_clients: bool,
    /// Lifetime of its device codes (RFC 8628 `expires_in`), in seconds; the server's
    /// 600 when `None`. A few seconds lets a test see `expired_token`.
    pub device_code_ttl_seconds: Option<u32>,
}

impl OidcProvider {
    /// A fresh oidc-provider on a free port, with the test clients.
    pub fn new(ttl_seconds: u32) -> Self {
        OidcProvider {
            ttl_seconds,
            port: None,
            with_clients: true,
            device_code_ttl_seconds: None,
        }
    }

    /// Starts it.
    pub fn start(&self) -> Peer {
        let dir = peers_dir().join("oidc");
        require(&dir.join("node_modules/oidc-provider"));
        let clients = if self.with_clients { "all" } else { "none" };
        let mut env = vec![
            ("ACCESS_TOKEN_TTL", self.ttl_seconds.to_string()),
            ("CLIENTS", clients.to_owned()),
        ];
        if let Some(seconds) = self.device_code_ttl_seconds {
            env.push(("DEVICE_CODE_TTL", seconds.to_string()));
        }
        start(
            Path::new("node"),
            &[&dir.join("server.mjs")],
            self.port,
            &env,
        )
    }
}

/// A fresh panva oidc-provider (paths `/token`, `/token/revocation`).
pub fn start_oidc_provider(ttl_seconds: u32) -> Peer {
    OidcProvider::new(ttl_seconds).start()
}

/// A fresh django-oauth-toolkit (paths `/o/token/`, `/o/revoke_token/`).
pub fn start_django_oauth_toolkit(ttl_seconds: u32) -> Peer {
    DjangoOauthToolkit::new(ttl_seconds).start()
}

/// How to start django-oauth-toolkit.
#[derive(Debug, Clone)]
pub struct DjangoOauthToolkit {
    /// Lifetime of its access tokens, in seconds.
    pub ttl_seconds: u32,
    /// Lifetime of its device codes (RFC 8628 `expires_in`), in seconds; oauthlib's 1800
    /// when `None` (the toolkit has no setting of its own: tests/peers/dot/urls.py).
    pub device_code_ttl_seconds: Option<u32>,
    /// The polling interval its device authorization responses announce (`interval`), in
    /// seconds; the toolkit's 5 when `None`. The toolkit does not enforce it.
    pub device_interval_seconds: Option<u32>,
}

impl DjangoOauthToolkit {
    /// A fresh django-oauth-toolkit with its defaults for the device flow.
    pub fn new(ttl_seconds: u32) -> Self {
        DjangoOauthToolkit {
            ttl_seconds,
            device_code_ttl_seconds: None,
            device_interval_seconds: None,
        }
    }

    /// Starts it, on a free port, with a fresh database.
    pub fn start(&self) -> Peer {
        let dir = peers_dir();
        let python = dir.join(".venv/bin/python");
        require(&python);
        let mut env = vec![("ACCESS_TOKEN_TTL", self.ttl_seconds.to_string())];
        if let Some(seconds) = self.device_code_ttl_seconds {
            env.push(("DEVICE_CODE_TTL", seconds.to_string()));
        }
        if let Some(seconds) = self.device_interval_seconds {
            env.push(("DEVICE_FLOW_INTERVAL", seconds.to_string()));
        }
        start(&python, &[&dir.join("dot/serve.py")], None, &env)
    }
}

/// Mints a genuine refresh token at oidc-provider, as if a user had completed the
/// authorization code flow for `client_id`.
pub fn mint_oidc_refresh_token(peer: &Peer, client_id: &str) -> String {
    let request = http::Request::builder()
        .method("POST")
        .uri(peer.url(&format!("/test/mint-refresh-token?client_id={client_id}")))
        .body(Vec::new())
        .expect("a valid request");
    let response = send(&request).expect("the peer answers");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
    body["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}
