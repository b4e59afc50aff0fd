//! The commands, one concept a file.

pub(crate) mod init;
pub(crate) mod inspect;
pub(crate) mod lifecycle;
pub(crate) mod obtain;
pub(crate) mod prepare;
pub(crate) mod token;
pub(crate) mod watch;
