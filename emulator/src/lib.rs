//! Emulators of the OAuth servers `oauth-lifecycle` speaks to, for testing integrations
//! offline.
//!
//! Emulators are sans-IO, like the `oauth-lifecycle` core: they take an [`http::Request`] and
//! the current (simulated) time and return an [`http::Response`]. They keep their state
//! in memory, are deterministic, and never panic on any input: a hostile request gets an
//! error response.
//!
//! | emulator | provider |
//! |---|---|
//! | [`StandardServer`] | any RFC 6749 / 6750 / 7009 server |
//! | [`StandardServer`] with [`StandardServerConfig::convirza_v2`] | Convirza V2, 10 requests per minute |
//! | [`ConvirzaV3Server`] | Convirza V3: JSON, absolute expiries, sliding tokens, single-use rotation |
//! | [`StandardServer`] with [`StandardServerConfig::keycloak`] | a Convercus Keycloak realm |
//! | [`ConvercusLegacyServer`] | Convercus legacy login, 24-hour tokens |
//!
//! All of them implement [`Emulator`], so one test can drive each in turn.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]
// A refusal is the finished error response (`Reply`) the emulator answers with; it is
// returned once per request, so its size costs nothing worth a box.
#![allow(clippy::result_large_err)]

mod clock;
mod convirza;
mod legacy;
mod server;
mod store;

pub use self::clock::{Clock, DrivenClock};
pub use self::convirza::{ConvirzaAccount, ConvirzaV3Server, ConvirzaV3ServerConfig};
pub use self::legacy::{ConvercusLegacyServer, ConvercusLegacyServerConfig, LegacyTokenShape};
pub use self::server::{EmulatedClient, ResponseFlavor, StandardServer, StandardServerConfig};
pub use self::store::{Emulator, InjectedFailure, Reply, ServerStats};
