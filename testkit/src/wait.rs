//! Bounded waits: no test sleeps in the hope that something has happened by then; it
//! waits for the thing itself, and fails when it does not come within [`PATIENCE`].

use std::time::{Duration, Instant};

/// The longest any single wait in a test may take before the test fails: a token, a
/// renewal, a condition, a socket read, a whole `tokenctl` run.
///
/// One bound for every crate's tests, the largest any of them needs: a `tokenctl`
/// invocation that starts a process and logs in to a real server, or a renewal on a
/// machine busy with the rest of the suite. It only costs time when a test fails; a
/// passing test waits only as long as its condition takes.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The first pause between two probes; it doubles after every probe that finds
/// nothing, up to [`LONGEST_PAUSE`], so quick conditions are seen at once and slow,
/// costly probes (a process run, a network round trip) are not repeated in a tight loop.
const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The longest pause between two probes: short enough that a state lasting a few
/// milliseconds is still seen.
const LONGEST_PAUSE: Duration = Duration::from_millis(10);

/// What a probe of [`eventually`] answers: `bool` (whether the condition holds), or
/// `Option<T>` (the value once it is there).
pub trait Probe {
    /// What the wait returns once the probe succeeds.
    type Output;

    /// `Some` once the condition holds.
    fn settled(self) -> Option<Self::Output>;
}

impl Probe for bool {
    type Output = ();

    fn settled(self) -> Option<()> {
        self.then_some(())
    }
}

impl<T> Probe for Option<T> {
    type Output = T;

    fn settled(self) -> Option<T> {
        self
    }
}

/// Calls `probe` until it succeeds (`true`, or `Some(value)`), pausing briefly between
/// calls; returns what it gave. Panics, naming `what`, after [`PATIENCE`].
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let done = Arc::new(AtomicBool::new(false));
/// let worker = std::thread::spawn({
///     let done = Arc::clone(&done);
///     move || done.store(true, Ordering::SeqCst)
/// });
/// oauth_lifecycle_testkit::eventually("the worker is done", || done.load(Ordering::SeqCst));
/// let three = oauth_lifecycle_testkit::eventually("a value", || Some(3));
/// assert_eq!(three, 3);
/// worker.join().unwrap();
/// ```
#[track_caller]
pub fn eventually<P: Probe>(what: &str, probe: impl FnMut() -> P) -> P::Output {
    eventually_within(what, PATIENCE, probe)
}

/// [`eventually`] with another bound than [`PATIENCE`]: for tests of the waiting itself.
#[track_caller]
pub fn eventually_within<P: Probe>(
    what: &str,
    patience: Duration,
    mut probe: impl FnMut() -> P,
) -> P::Output {
    let deadline = Instant::now() + patience;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(value) = probe().settled() {
            return value;
        }
        let now = Instant::now();
        assert!(
            now < deadline,
            "timed out after {patience:?} waiting for {what}"
        );
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// The async form of [`eventually`], for tokio tests: pauses with the runtime's timer, so
/// that the tasks it waits for run meanwhile.
#[cfg(feature = "tokio")]
#[track_caller]
pub fn eventually_async<P: Probe>(
    what: &str,
    mut probe: impl FnMut() -> P,
) -> impl std::future::Future<Output = P::Output> {
    let caller = std::panic::Location::caller();
    let what = what.to_owned();
    async move {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut pause = FIRST_PAUSE;
        loop {
            if let Some(value) = probe().settled() {
                return value;
            }
            let now = tokio::time::Instant::now();
            assert!(
                now < deadline,
                "timed out after {PATIENCE:?} waiting for {what} (at {caller})"
            );
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }
}

/// Runs `future` with [`PATIENCE`] as its bound; panics, naming `what`, if it takes
/// longer.
#[cfg(feature = "tokio")]
#[track_caller]
pub fn bounded<F: std::future::Future>(
    what: &str,
    future: F,
) -> impl std::future::Future<Output = F::Output> {
    let caller = std::panic::Location::caller();
    let what = what.to_owned();
    async move {
        tokio::time::timeout(PATIENCE, future)
            .await
            .unwrap_or_else(|_| panic!("timed out after {PATIENCE:?}: {what} (at {caller})"))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn a_condition_that_comes_ends_the_wait_with_its_value() {
        let probes = Cell::new(0);
        eventually("the third probe", || {
            probes.set(probes.get() + 1);
            probes.get() == 3
        });
        assert_eq!(probes.get(), 3);
        let value = eventually("a value", || (probes.get() == 3).then_some("there"));
        assert_eq!(value, "there");
    }

    #[test]
    #[should_panic(expected = "timed out after 20ms waiting for what never comes")]
    fn a_condition_that_never_comes_fails_the_test() {
        eventually_within("what never comes", Duration::from_millis(20), || false);
    }

    #[test]
    fn pauses_grow_but_stay_short() {
        let started = Instant::now();
        let probes = Cell::new(0);
        eventually_within("ten probes", Duration::from_secs(10), || {
            probes.set(probes.get() + 1);
            probes.get() == 10
        });
        // 1 + 2 + 4 + 8 + 10 + … ms at most: well under a second.
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[cfg(feature = "tokio")]
    #[tokio::test]
    async fn the_async_wait_lets_other_tasks_run() {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;

        let done = Arc::new(AtomicBool::new(false));
        tokio::spawn({
            let done = Arc::clone(&done);
            async move { done.store(true, Ordering::SeqCst) }
        });
        eventually_async("the task ran", || done.load(Ordering::SeqCst)).await;
        assert_eq!(bounded("a ready future", async { 7 }).await, 7);
    }
}
