//! Where the store's Redis is, and a connection to it that heals: a command that fails
//! drops the connection, and the next one connects again (bounded by the timeouts).
//! One node, a Sentinel-managed master (found again after a failover), or a Cluster.

use std::sync::Mutex;

use oauth_lifecycle_adapter::StoreError;
use redis::{ConnectionLike, RedisError, RedisResult};

use crate::sentinel::Sentinels;
use crate::timeouts::Timeouts;

/// How to reach Redis: [`Server::node`], [`Server::sentinel`] or [`Server::cluster`].
pub struct Server(Topology);

enum Topology {
    /// One server (`redis://host:port/db`, `rediss://` for TLS when the crate's TLS
    /// features are on).
    Node(redis::Client),
    /// The master a set of Sentinels names for a service; asked again after every
    /// failure, so a failover is followed.
    Sentinel(Sentinels),
    /// A Redis Cluster. The account's keys share a hash tag (one slot). Announcements are
    /// not received on a cluster: followers poll.
    Cluster(redis::cluster::ClusterClient),
}

impl Server {
    /// One server, from a URL: `redis://[:password@]host:port/db`.
    pub fn node(url: &str) -> RedisResult<Server> {
        Ok(Server(Topology::Node(redis::Client::open(url)?)))
    }

    /// The master that `sentinels` (URLs of Sentinel servers, asked in order) name for
    /// `service`, reached with no password and database 0.
    pub fn sentinel(sentinels: &[&str], service: &str) -> RedisResult<Server> {
        Server::sentinel_with_master(sentinels, service, redis::RedisConnectionInfo::default())
    }

    /// The master that `sentinels` name for `service`, reached with `master`'s
    /// username, password and database (its address is the Sentinels' answer):
    /// `RedisConnectionInfo::default().set_password(…)`.
    pub fn sentinel_with_master(
        sentinels: &[&str],
        service: &str,
        master: redis::RedisConnectionInfo,
    ) -> RedisResult<Server> {
        Ok(Server(Topology::Sentinel(Sentinels::new(
            sentinels, service, master,
        )?)))
    }

    /// A cluster, from the URLs of some of its nodes.
    pub fn cluster(nodes: &[&str]) -> RedisResult<Server> {
        Ok(Server(Topology::Cluster(
            redis::cluster::ClusterClient::new(nodes.to_vec())?,
        )))
    }

    /// Whether this is a cluster, where the store hears no announcements.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.0, Topology::Cluster(_))
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Connection details may hold a password: only the kind is shown.
        f.write_str(match self.0 {
            Topology::Node(_) => "Server::Node",
            Topology::Sentinel(_) => "Server::Sentinel",
            Topology::Cluster(_) => "Server::Cluster",
        })
    }
}

/// A connection kept between commands.
pub(crate) struct Link {
    server: Server,
    timeouts: Timeouts,
    held: Mutex<Option<Box<dyn ConnectionLike + Send>>>,
}

impl Link {
    pub(crate) fn new(server: Server, timeouts: Timeouts) -> Self {
        Link {
            server,
            timeouts,
            held: Mutex::new(None),
        }
    }

    pub(crate) fn server(&self) -> &Server {
        &self.server
    }

    /// A fresh connection to a node that takes plain commands (the master, for
    /// Sentinel), with the timeouts set: for subscribing. None on a cluster.
    pub(crate) fn connect_node(&self) -> RedisResult<Option<redis::Connection>> {
        match &self.server.0 {
            Topology::Node(client) => self.timeouts.connect_to(client).map(Some),
            Topology::Sentinel(sentinels) => sentinels.master(self.timeouts).map(Some),
            Topology::Cluster(_) => Ok(None),
        }
    }

    /// A fresh connection for commands, with the timeouts set: to the node (or the
    /// master the Sentinels name now), or to the cluster, which routes each command to
    /// the account's slot.
    fn connect(&self) -> RedisResult<Box<dyn ConnectionLike + Send>> {
        Ok(match &self.server.0 {
            Topology::Node(client) => Box::new(self.timeouts.connect_to(client)?),
            Topology::Sentinel(sentinels) => Box::new(sentinels.master(self.timeouts)?),
            Topology::Cluster(client) => {
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(self.timeouts.connect)
                    .set_response_timeout(self.timeouts.command);
                Box::new(client.get_connection_with_config(config)?)
            }
        })
    }

    /// Runs `command` on the held connection (connecting first if none is held); on
    /// failure the connection is dropped, and the failure says only what kind it was.
    pub(crate) fn run<T>(
        &self,
        command: impl FnOnce(&mut dyn ConnectionLike) -> RedisResult<T>,
    ) -> Result<T, StoreError> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut connection = match held.take() {
            Some(connection) => connection,
            None => self.connect().map_err(unavailable)?,
        };
        let answer = command(connection.as_mut()).map_err(unavailable)?;
        // Kept only after a success: a failed connection is dropped, and the next command
        // connects again.
        *held = Some(connection);
        Ok(answer)
    }
}

/// A Redis failure as a store error. Redis's own message may quote the command (with
/// the snapshot) or the URL (with a password): only its kind and category are kept.
pub(crate) fn unavailable(error: RedisError) -> StoreError {
    StoreError::Unavailable(std::io::Error::other(format!(
        "redis: {:?}{}",
        error.kind(),
        if error.is_timeout() {
            " (timed out)"
        } else if error.is_connection_refusal() {
            " (connection refused)"
        } else {
            ""
        }
    )))
}
