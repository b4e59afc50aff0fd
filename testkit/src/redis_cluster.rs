//! A real Redis Cluster of three masters on 127.0.0.1, made by `redis-cli --cluster
//! create`: the slots are spread over the three, so an account's slot lives on one of
//! them and commands sent elsewhere are redirected.

use crate::eventually;
use crate::redis_server::{RedisServer, Role};
use std::process::{Command, Stdio};

/// Three `redis-server` cluster nodes; dropping it stops them.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts three nodes, joins them and waits (at most 30 s) until every node says the
    /// cluster is up.
    pub fn start() -> RedisCluster {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| {
                RedisServer::start_as(
                    Role::ClusterNode {
                        bus: crate::free_port(),
                    },
                    None,
                )
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli (installed with redis-server)");
        assert!(created.success(), "redis-cli --cluster create failed");
        eventually("every node to say the cluster is up", || {
            nodes
                .iter()
                .all(|node| node.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        });
        RedisCluster { nodes }
    }

    /// The nodes' URLs, `redis://127.0.0.1:<port>/`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The slot `key` hashes to, as the cluster computes it.
    pub fn slot(&self, key: &str) -> u16 {
        let slot = self.nodes[0].cli(&["CLUSTER", "KEYSLOT", key]);
        slot.trim().parse().expect("a slot number")
    }
}
