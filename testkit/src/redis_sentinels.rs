//! A real Sentinel-managed Redis on 127.0.0.1: a master, its replica, and one Sentinel
//! that fails over to the replica when the master stops answering for a second. The
//! master and the replica require a password, as production ones do.

use crate::eventually;
use crate::redis_server::{RedisServer, Role};

/// The service name the Sentinel monitors.
pub const SENTINEL_SERVICE: &str = "lifecycle";
/// The password the master and the replica require (the Sentinel requires none).
pub const SENTINEL_MASTER_PASSWORD: &str = "master-password-0123";

/// A master, a replica and a Sentinel; dropping it stops them.
pub struct RedisSentinels {
    servers: Vec<RedisServer>,
    sentinel: RedisServer,
}

impl RedisSentinels {
    /// Starts the master and its replica, waits until the replica is in sync, then starts
    /// the Sentinel and waits until it knows the replica (at most 30 s in all).
    pub fn start() -> RedisSentinels {
        let password = Some(SENTINEL_MASTER_PASSWORD);
        let master = RedisServer::start_as(Role::Standalone, password);
        let replica = RedisServer::start_as(Role::Replica { of: master.port() }, password);
        eventually("the replica to be in sync", || {
            replica
                .cli(&["INFO", "replication"])
                .contains("master_link_status:up")
        });
        let sentinel = RedisServer::start_as(
            Role::Sentinel {
                service: SENTINEL_SERVICE.into(),
                master: master.port(),
                auth_pass: password.map(str::to_owned),
            },
            None,
        );
        eventually("the Sentinel to know the replica", || {
            sentinel
                .cli(&["SENTINEL", "REPLICAS", SENTINEL_SERVICE])
                .contains(&replica.port().to_string())
        });
        RedisSentinels {
            servers: vec![master, replica],
            sentinel,
        }
    }

    /// The Sentinel's URL, `redis://127.0.0.1:<port>/`.
    pub fn sentinel_url(&self) -> String {
        self.sentinel.url()
    }

    /// The port of the master the Sentinel names now.
    pub fn master_port(&self) -> u16 {
        let answer = self
            .sentinel
            .cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_SERVICE]);
        answer
            .lines()
            .nth(1)
            .and_then(|port| port.trim().parse().ok())
            .expect("the Sentinel names a master")
    }

    /// The server the Sentinel names as master now.
    pub fn master(&self) -> &RedisServer {
        let port = self.master_port();
        self.servers
            .iter()
            .find(|server| server.port() == port)
            .expect("the master is one of the two servers")
    }

    /// Waits (at most 30 s) until every write the master took is on the replica.
    pub fn wait_replicated(&self) {
        let master = self.master();
        let offset = |server: &RedisServer, field: &str| -> Option<u64> {
            server
                .cli(&["INFO", "replication"])
                .lines()
                .find_map(|line| line.trim().strip_prefix(field)?.parse().ok())
        };
        let written = offset(master, "master_repl_offset:").expect("the master's offset");
        let replica = self
            .servers
            .iter()
            .find(|server| server.port() != master.port())
            .expect("a replica");
        eventually("the replica to catch up", || {
            offset(replica, "slave_repl_offset:").is_some_and(|taken| taken >= written)
        });
    }

    /// Kills the master (SIGKILL) and waits (at most 30 s) until the Sentinel has
    /// promoted the replica. Returns the new master's port.
    pub fn fail_over(&mut self) -> u16 {
        let old = self.master_port();
        if let Some(master) = self.servers.iter_mut().find(|s| s.port() == old) {
            master.stop();
        }
        eventually("the Sentinel to promote the replica", || {
            self.master_port() != old
        });
        let new = self.master_port();
        eventually("the promoted replica to take writes", || {
            self.master()
                .cli(&["INFO", "replication"])
                .contains("role:master")
        });
        new
    }
}
