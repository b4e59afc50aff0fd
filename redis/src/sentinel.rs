//! Finding the master that a set of Sentinels names for a service, with the store's
//! timeouts on every connection: a Sentinel or master that accepts connections and
//! never answers costs one command timeout, never a stalled store.

use redis::{
    Client, Connection, ErrorKind, IntoConnectionInfo, RedisConnectionInfo, RedisError,
    RedisResult, Role,
};

use crate::timeouts::Timeouts;

/// The Sentinels to ask, in order, the service they monitor, and how to log in to the
/// master they name.
pub(crate) struct Sentinels {
    sentinels: Vec<Client>,
    service: String,
    master: RedisConnectionInfo,
}

impl Sentinels {
    pub(crate) fn new(
        sentinels: &[&str],
        service: &str,
        master: RedisConnectionInfo,
    ) -> RedisResult<Sentinels> {
        if sentinels.is_empty() {
            return Err(RedisError::from((
                ErrorKind::EmptySentinelList,
                "no Sentinel to ask",
            )));
        }
        Ok(Sentinels {
            sentinels: sentinels
                .iter()
                .map(|url| Client::open(*url))
                .collect::<RedisResult<_>>()?,
            service: service.to_owned(),
            master,
        })
    }

    /// A connection to the master the first Sentinel that answers names, checked to
    /// be a master now (a failover may have demoted it since the Sentinel answered).
    pub(crate) fn master(&self, timeouts: Timeouts) -> RedisResult<Connection> {
        let mut last = RedisError::from((ErrorKind::EmptySentinelList, "no Sentinel to ask"));
        for sentinel in &self.sentinels {
            match self.ask(sentinel, timeouts) {
                Ok(master) => return Ok(master),
                Err(error) => last = error,
            }
        }
        Err(last)
    }

    fn ask(&self, sentinel: &Client, timeouts: Timeouts) -> RedisResult<Connection> {
        let mut asked = timeouts.connect_to(sentinel)?;
        let named: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(&self.service)
            .query(&mut asked)?;
        let Some(address) = named else {
            return Err(RedisError::from((
                ErrorKind::MasterNameNotFoundBySentinel,
                "the Sentinel knows no such service",
            )));
        };
        let named = address
            .into_connection_info()?
            .set_redis_settings(self.master.clone());
        let mut master = timeouts.connect_to(&Client::open(named)?)?;
        match redis::cmd("ROLE").query(&mut master)? {
            Role::Primary { .. } => Ok(master),
            _ => Err(RedisError::from((
                ErrorKind::Server(redis::ServerErrorKind::MasterDown),
                "the named master is no master",
            ))),
        }
    }
}
