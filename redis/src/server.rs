//! Where the store's Redis is, and a connection to it that heals: a command that fails
//! drops the connection, and the next one connects again (bounded by the timeouts).
//! One node, a Sentinel-managed master (found again after a failover), or a Cluster.

use std::sync::Mutex;
use std::time::Duration;

use oauth_lifecycle_adapter::StoreError;
use redis::{ConnectionLike, RedisError, RedisResult};

/// How to reach Redis.
pub enum Server {
    /// One server (`redis://host:port/db`, `rediss://` for TLS when the crate's TLS
    /// features are on).
    Node(redis::Client),
    /// The master a set of Sentinels names for a service; asked again after every
    /// failure, so a failover is followed.
    Sentinel(Mutex<redis::sentinel::SentinelClient>),
    /// A Redis Cluster. The account's keys share a hash tag (one slot). Announcements are
    /// not received on a cluster: followers poll.
    Cluster(redis::cluster::ClusterClient),
}

impl Server {
    /// One server, from a URL: `redis://[:password@]host:port/db`.
    pub fn node(url: &str) -> RedisResult<Server> {
        Ok(Server::Node(redis::Client::open(url)?))
    }

    /// The master that `sentinels` (URLs of Sentinel servers) name for `service`.
    pub fn sentinel(sentinels: &[&str], service: &str) -> RedisResult<Server> {
        let client = redis::sentinel::SentinelClient::build(
            sentinels.to_vec(),
            service.to_owned(),
            None,
            redis::sentinel::SentinelServerType::Master,
        )?;
        Ok(Server::Sentinel(Mutex::new(client)))
    }

    /// A cluster, from the URLs of some of its nodes.
    pub fn cluster(nodes: &[&str]) -> RedisResult<Server> {
        Ok(Server::Cluster(redis::cluster::ClusterClient::new(
            nodes.to_vec(),
        )?))
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Connection details may hold a password: only the kind is shown.
        f.write_str(match self {
            Server::Node(_) => "Server::Node",
            Server::Sentinel(_) => "Server::Sentinel",
            Server::Cluster(_) => "Server::Cluster",
        })
    }
}

/// The timeouts of every connection: connecting, and each command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) command: Duration,
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
    /// Sentinel), with the timeouts set: for subscribing.
    pub(crate) fn connect_node(&self) -> RedisResult<Option<redis::Connection>> {
        let connection = match &self.server {
            Server::Node(client) => client.get_connection_with_timeout(self.timeouts.connect)?,
            Server::Sentinel(sentinel) => sentinel
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get_connection()?,
            Server::Cluster(_) => return Ok(None),
        };
        connection.set_read_timeout(Some(self.timeouts.command))?;
        connection.set_write_timeout(Some(self.timeouts.command))?;
        Ok(Some(connection))
    }

    fn connect(&self) -> RedisResult<Box<dyn ConnectionLike + Send>> {
        match &self.server {
            Server::Cluster(client) => {
                let connection = client.get_connection()?;
                connection.set_read_timeout(Some(self.timeouts.command))?;
                connection.set_write_timeout(Some(self.timeouts.command))?;
                Ok(Box::new(connection))
            }
            _ => Ok(Box::new(
                self.connect_node()?
                    .expect("a node connection outside a cluster"),
            )),
        }
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
        if held.is_none() {
            *held = Some(self.connect().map_err(unavailable)?);
        }
        let connection = held.as_mut().expect("connected above");
        match command(connection.as_mut()) {
            Ok(value) => Ok(value),
            Err(error) => {
                *held = None;
                Err(unavailable(error))
            }
        }
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
