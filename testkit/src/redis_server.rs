//! A real `redis-server` on 127.0.0.1, in a temporary directory, with no persistence:
//! started, stopped and started again on the same port by the tests. The same process
//! serves as a Cluster node, a replica or a Sentinel for the topology tests
//! ([`crate::RedisCluster`], [`crate::RedisSentinels`]).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// What a `redis-server` process is.
#[derive(Debug, Clone)]
pub(crate) enum Role {
    /// One server on its own.
    Standalone,
    /// A node of a Redis Cluster (its slots are given by [`crate::RedisCluster`]), with
    /// its cluster bus on `bus` (the default, port + 10000, may not exist).
    ClusterNode { bus: u16 },
    /// A replica of the master on this port.
    Replica { of: u16 },
    /// A Sentinel watching the master on this port as `service`, with quorum 1, giving
    /// the master and replicas `auth_pass` when there is one.
    Sentinel {
        service: String,
        master: u16,
        auth_pass: Option<String>,
    },
}

/// A `redis-server` the test controls. Dropping it stops the server.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    role: Role,
    /// The password clients must give (`requirepass`), and replicas give their master.
    password: Option<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts `redis-server` on a free loopback port; waits (at most 20 s) until it
    /// answers `PING`.
    pub fn start() -> RedisServer {
        RedisServer::start_as(Role::Standalone, None)
    }

    pub(crate) fn start_as(role: Role, password: Option<&str>) -> RedisServer {
        let port = crate::free_port();
        let dir = std::env::temp_dir().join(format!(
            "oauth-lifecycle-redis-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("a directory for redis-server");
        let mut server = RedisServer {
            port,
            dir,
            role,
            password: password.map(str::to_owned),
            child: None,
        };
        server.start_again();
        server
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server at once (SIGKILL), as a crash would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port, empty.
    pub fn start_again(&mut self) {
        self.stop();
        let mut command = Command::new("redis-server");
        match &self.role {
            Role::Sentinel {
                service,
                master,
                auth_pass,
            } => {
                // A Sentinel rewrites its configuration file: each start gets a new one.
                let config = self.dir.join("sentinel.conf");
                let mut text = sentinel_config(&self.dir, service, *master);
                if let Some(password) = auth_pass {
                    text.push_str(&format!("sentinel auth-pass {service} {password}\n"));
                }
                std::fs::write(&config, text).expect("a Sentinel configuration file");
                command.arg(&config).arg("--sentinel");
            }
            Role::Standalone | Role::ClusterNode { .. } | Role::Replica { .. } => {
                command
                    .args(["--save", "", "--appendonly", "no", "--dir"])
                    .arg(&self.dir);
            }
        }
        match &self.role {
            Role::ClusterNode { bus } => {
                let _ = std::fs::remove_file(self.dir.join("nodes.conf"));
                command
                    .args(["--cluster-enabled", "yes", "--cluster-port"])
                    .arg(bus.to_string())
                    .args(["--cluster-config-file", "nodes.conf"])
                    .args(["--cluster-node-timeout", "2000"]);
            }
            Role::Replica { of } => {
                command.args(["--replicaof", "127.0.0.1", &of.to_string()]);
            }
            Role::Standalone | Role::Sentinel { .. } => {}
        }
        if let Some(password) = &self.password {
            command.args(["--requirepass", password, "--masterauth", password]);
        }
        let child = command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): run `bash scripts/prepare-peers.sh` first")
            });
        self.child = Some(child);
        crate::eventually("redis-server to answer", || self.answers());
    }

    /// Whether it answers `PING` now (or refuses it for want of the password).
    pub fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut answer = [0u8; 7];
        stream.read_exact(&mut answer).is_ok() && (&answer == b"+PONG\r\n" || &answer == b"-NOAUTH")
    }

    /// What `redis-cli` prints for `args` sent to this server (empty if it cannot run).
    pub fn cli(&self, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(
                self.password
                    .iter()
                    .flat_map(|password| ["--no-auth-warning", "-a", password]),
            )
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
            .unwrap_or_default()
    }
}

/// A Sentinel that declares the master down after one second without an answer and
/// fails over on its own say-so (quorum 1).
fn sentinel_config(dir: &Path, service: &str, master: u16) -> String {
    format!(
        "dir {dir}\n\
         sentinel monitor {service} 127.0.0.1 {master} 1\n\
         sentinel down-after-milliseconds {service} 1000\n\
         sentinel failover-timeout {service} 10000\n",
        dir = dir.display()
    )
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
