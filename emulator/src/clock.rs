//! Where an emulator served over a socket gets `now` from: the system clock, or a clock
//! the test drives.

use std::sync::{Arc, Mutex, PoisonError};

use time::{Duration, UtcDateTime};

/// The time source of an [`HttpFront`](crate::HttpFront).
///
/// The emulators are sans-IO and take `now` with every request; over a socket something
/// has to supply it. [`Clock::System`] reads the system clock on each request;
/// [`Clock::Driven`] reads a [`DrivenClock`] that the test moves, so simulated time runs
/// over real sockets.
#[derive(Debug, Clone)]
pub enum Clock {
    /// The system clock, read on each request.
    System,
    /// A clock only the test moves.
    Driven(DrivenClock),
}

impl Clock {
    /// The current time by this clock.
    pub fn now(&self) -> UtcDateTime {
        match self {
            Clock::System => UtcDateTime::now(),
            Clock::Driven(clock) => clock.now(),
        }
    }
}

impl From<DrivenClock> for Clock {
    fn from(clock: DrivenClock) -> Self {
        Clock::Driven(clock)
    }
}

/// A clock that stands still until the test sets or advances it.
///
/// Clones share one time: keep a clone in the test and hand another to the front.
///
/// ```
/// use oauth_lifecycle_emulator::DrivenClock;
/// use time::macros::utc_datetime;
/// use time::Duration;
///
/// let clock = DrivenClock::new(utc_datetime!(2026-01-01 00:00));
/// let seen_by_the_server = clock.clone();
/// clock.advance(Duration::minutes(90));
/// assert_eq!(seen_by_the_server.now(), utc_datetime!(2026-01-01 01:30));
/// ```
#[derive(Debug, Clone)]
pub struct DrivenClock {
    now: Arc<Mutex<UtcDateTime>>,
}

impl DrivenClock {
    /// A clock showing `start`.
    pub fn new(start: UtcDateTime) -> Self {
        DrivenClock {
            now: Arc::new(Mutex::new(start)),
        }
    }

    /// The time it shows.
    pub fn now(&self) -> UtcDateTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes it show `at`, earlier or later.
    pub fn set(&self, at: UtcDateTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves it by `by` (backwards when negative), stopping at the ends of the
    /// representable range.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by);
    }
}
