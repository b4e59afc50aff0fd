//! Where the manager reads the time: the system clock, or a clock the embedding program
//! supplies (simulated time in tests, a corrected clock).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth_lifecycle::time::UtcDateTime;

/// How often, in real time, the driving thread reads a supplied clock while it waits:
/// such a clock may jump at any moment, and the thread notices within this.
pub(crate) const SUPPLIED_CLOCK_RECHECK: Duration = Duration::from_millis(5);

/// How often it reads the system clock while it waits: the wall clock may jump, and a
/// suspended machine's sleeping thread does not count the time it was suspended.
pub(crate) const SYSTEM_CLOCK_RECHECK: Duration = Duration::from_secs(1);

/// The time as the manager sees it.
#[derive(Clone)]
pub(crate) struct Clock {
    now: Arc<dyn Fn() -> UtcDateTime + Send + Sync>,
    /// The longest real-time wait before reading it again.
    pub(crate) recheck: Duration,
}

impl Clock {
    /// The system clock.
    pub(crate) fn system() -> Self {
        Clock {
            now: Arc::new(oauth_lifecycle_adapter::transport::now),
            recheck: SYSTEM_CLOCK_RECHECK,
        }
    }

    /// A clock the program supplies.
    pub(crate) fn supplied(now: Arc<dyn Fn() -> UtcDateTime + Send + Sync>) -> Self {
        Clock {
            now,
            recheck: SUPPLIED_CLOCK_RECHECK,
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
            .field("recheck", &self.recheck)
            .finish_non_exhaustive()
    }
}
