//! Announcements of new revisions: a thread subscribed to the account's channel records
//! the newest revision announced and wakes the managers that asked, so followers adopt a
//! renewal at once. Missed ones (a reconnect, a cluster) are covered by the managers'
//! polls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use crate::server::Link;

/// What the subscriber thread shares with the store.
#[derive(Default)]
pub(crate) struct Announcements {
    newest: AtomicU64,
    wakers: Mutex<Vec<Arc<dyn Fn() + Send + Sync>>>,
}

/// How long the thread waits for a message before checking that the store still
/// exists, and between reconnections.
const PACE: Duration = Duration::from_secs(1);

impl Announcements {
    pub(crate) fn newest(&self) -> u64 {
        self.newest.load(Ordering::Acquire)
    }

    pub(crate) fn add_waker(&self, wake: Arc<dyn Fn() + Send + Sync>) {
        self.wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(wake);
    }

    fn announce(&self, revision: u64) {
        self.newest.fetch_max(revision, Ordering::AcqRel);
        let wakers = self
            .wakers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for wake in wakers {
            wake();
        }
    }
}

/// Listens on `channel` for as long as the store (`link`, `announcements`) exists:
/// the thread ends within [`PACE`] of the store being dropped.
pub(crate) fn listen(link: Weak<Link>, announcements: Weak<Announcements>, channel: String) {
    let spawned = std::thread::Builder::new()
        .name("oauth-redis-sub".into())
        .spawn(move || {
            // Bounded by the store's life: every pass waits at least PACE or a message.
            loop {
                let Some(strong) = link.upgrade() else {
                    return;
                };
                let connection = strong.connect_node();
                drop(strong);
                let mut connection = match connection {
                    Ok(Some(connection)) => connection,
                    // A cluster: no announcements, the managers poll.
                    Ok(None) => return,
                    Err(error) => {
                        tracing::debug!(kind = ?error.kind(), "redis: cannot subscribe yet");
                        std::thread::sleep(PACE);
                        continue;
                    }
                };
                let mut pubsub = connection.as_pubsub();
                if pubsub.subscribe(&channel).is_err()
                    || pubsub.set_read_timeout(Some(PACE)).is_err()
                {
                    std::thread::sleep(PACE);
                    continue;
                }
                loop {
                    match pubsub.get_message() {
                        Ok(message) => {
                            let Some(announcements) = announcements.upgrade() else {
                                return;
                            };
                            if let Ok(revision) = message.get_payload::<u64>() {
                                announcements.announce(revision);
                            }
                        }
                        Err(error) if error.is_timeout() => {
                            if announcements.strong_count() == 0 {
                                return;
                            }
                        }
                        Err(_) => break,
                    }
                }
                std::thread::sleep(PACE);
            }
        });
    if let Err(error) = spawned {
        tracing::warn!(%error, "redis: no thread for announcements; relying on polls");
    }
}
