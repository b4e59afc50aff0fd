//! The timeouts every connection the store makes has: connecting, and each command.

use std::time::Duration;

use redis::{Client, Connection, RedisResult};

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) command: Duration,
}

impl Timeouts {
    /// A connection to `client`'s server, bounded by both timeouts.
    pub(crate) fn connect_to(&self, client: &Client) -> RedisResult<Connection> {
        let connection = client.get_connection_with_timeout(self.connect)?;
        connection.set_read_timeout(Some(self.command))?;
        connection.set_write_timeout(Some(self.command))?;
        Ok(connection)
    }
}
