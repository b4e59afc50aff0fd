//! What callers report about the tokens they used — a 401, a successful call — handed to
//! the background task without a lock: the newest generation reported of each kind is kept
//! in an atomic, and the task is woken only when none was pending.
//!
//! Only the newest generation matters: the core ignores a report about a token that is no
//! longer current, so coalescing reports loses nothing.

use std::sync::atomic::{AtomicU64, Ordering};

use oauth_lifecycle::Generation;
use tokio::sync::Notify;

/// The reports pending for the task, and its wake-up.
#[derive(Debug, Default)]
pub(crate) struct Reports {
    /// The newest generation reported rejected; 0 when none is pending (generations
    /// start at 1).
    unauthorized: AtomicU64,
    /// The newest generation a call succeeded with; 0 when none is pending.
    succeeded: AtomicU64,
    /// Wakes the task: a report arrived, or the clock moved.
    wake: Notify,
}

impl Reports {
    /// Records that `generation` was rejected; wakes the task if nothing was pending.
    pub(crate) fn unauthorized(&self, generation: Generation) {
        self.record(&self.unauthorized, generation);
    }

    /// Records a successful call with `generation`; wakes the task if nothing was pending.
    pub(crate) fn succeeded(&self, generation: Generation) {
        self.record(&self.succeeded, generation);
    }

    fn record(&self, slot: &AtomicU64, generation: Generation) {
        let reported = generation.get();
        if reported == 0 {
            return;
        }
        if slot.fetch_max(reported, Ordering::AcqRel) == 0 {
            self.wake.notify_one();
        }
    }

    /// Wakes the task without a report: to re-read the clock.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Resolves when the task was woken since it last took its reports.
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    /// Takes the pending 401 report, if any.
    pub(crate) fn take_unauthorized(&self) -> Option<Generation> {
        take(&self.unauthorized)
    }

    /// Takes the pending success report, if any.
    pub(crate) fn take_succeeded(&self) -> Option<Generation> {
        take(&self.succeeded)
    }
}

fn take(slot: &AtomicU64) -> Option<Generation> {
    match slot.swap(0, Ordering::AcqRel) {
        0 => None,
        reported => Some(Generation::new(reported)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_survive_the_atomic_round_trip() {
        let reports = Reports::default();
        assert_eq!(reports.take_unauthorized(), None);
        for n in [3, 7, 5] {
            reports.unauthorized(Generation::new(n));
        }
        assert_eq!(reports.take_unauthorized().map(Generation::get), Some(7));
        assert_eq!(reports.take_unauthorized(), None);
        reports.succeeded(Generation::new(1));
        assert_eq!(reports.take_succeeded().map(Generation::get), Some(1));
    }
}
