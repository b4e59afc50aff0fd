//! Where the manager reads the time: the system clock, or a clock the embedding program
//! supplies (simulated time in tests, a corrected clock). How often it is read again
//! while the thread waits is the engine's decision ([`ClockSource`]).

use std::fmt;
use std::sync::Arc;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle_adapter::ClockSource;

/// The time as the manager sees it.
#[derive(Clone)]
pub(crate) struct Clock {
    now: Arc<dyn Fn() -> UtcDateTime + Send + Sync>,
    pub(crate) source: ClockSource,
}

impl Clock {
    /// The system clock.
    pub(crate) fn system() -> Self {
        Clock {
            now: Arc::new(UtcDateTime::now),
            source: ClockSource::System,
        }
    }

    /// A clock the program supplies.
    pub(crate) fn supplied(now: Arc<dyn Fn() -> UtcDateTime + Send + Sync>) -> Self {
        Clock {
            now,
            source: ClockSource::Supplied,
        }
    }

    /// The time now.
    pub(crate) fn now(&self) -> UtcDateTime {
        (self.now)()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Clock")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
