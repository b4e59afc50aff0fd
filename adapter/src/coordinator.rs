//! The fleet protocol as a state machine, like the core: it never touches the store.
//! It emits store operations ([`StoreOp`]) and decisions about the session's requests
//! ([`Coordination`]), and takes the store's answers ([`StoreAnswer`]) and `now` as
//! inputs. The pump runs it against any [`SessionStore`](crate::SessionStore) that
//! coordinates a fleet.
//!
//! - **Renewal under the lease.** A token request leaves only while this process holds
//!   the store's renewal lease for longer than the request may take. Taking it, the
//!   process re-reads the store: if another process stored since, it adopts that session
//!   and renews only if the adopted one still needs it. Its write-ahead snapshot (a
//!   single-use refresh token in flight) and its result land by compare-and-swap on the
//!   revision it read; then it gives the lease up.
//! - **Followers** keep serving their token and adopt a newer generation when one is
//!   announced, or at their next poll. A renewal of theirs is held until the lease ends
//!   or a poll interval passes, whichever comes first.
//! - **A holder that died** is replaced when its lease ends: the next holder adopts the
//!   stored session, whose refresh is in flight, counts it lost, and logs in instead of
//!   sending that refresh token again.
//! - **A late holder** whose compare-and-swap fails (its lease ended and another process
//!   moved on) drops the tokens it obtained, with an event, and adopts the store's.
//! - **The store unreachable:** the process detaches. It never spends a single-use
//!   refresh token (the store may know it spent); it logs in by itself if it has
//!   credentials, and otherwise serves its valid token; it polls the store and rejoins
//!   when it answers, storing its own session if no one stored meanwhile (or the store
//!   came back empty) and adopting the store's otherwise.
//!
//! The request budget of a provider (Convirza V2) is in the stored session: every holder
//! starts from it, so the whole fleet spends one budget.

use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{Generation, Purpose};

use crate::store::{FleetSettings, Lease, Saved, StoreError, StoredSession};

/// An operation for the store; its answer goes back through [`Coordinator::answer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Take the renewal lease, or extend this process's.
    TakeLease,
    /// Read the stored session.
    Load,
    /// Store the session's current snapshot by compare-and-swap on `expected`.
    Store {
        /// The revision last read or written; `None` for an empty store.
        expected: Option<u64>,
    },
    /// Give the lease up.
    ReleaseLease,
}

/// The store's answer to a [`StoreOp`].
#[derive(Debug)]
pub enum StoreAnswer {
    /// To [`StoreOp::TakeLease`].
    Lease(Lease),
    /// To [`StoreOp::Load`].
    Loaded(Option<StoredSession>),
    /// To [`StoreOp::Store`].
    Saved(Saved),
    /// To [`StoreOp::ReleaseLease`].
    Released,
    /// The store could not be reached (or read).
    Failed(StoreError),
}

/// What the coordinator asks of whoever runs it.
#[derive(Debug)]
#[must_use = "run the operation, or act on the decision"]
pub enum Coordination {
    /// Run this operation on the store and hand its answer to [`Coordinator::answer`].
    Store(StoreOp),
    /// Send the request the session wants to send.
    Send,
    /// Keep the request back; [`Coordinator::retry_held`] says when to ask again.
    Hold,
    /// Replace the session by this stored one, counting a request it has in flight
    /// lost (its sender is gone, or not this process); the request this process wanted
    /// to send, if any, goes with the old session.
    Adopt(StoredSession),
    /// Report the request the session wants to send lost without sending it: a
    /// single-use refresh token the store cannot vouch for stays unspent, and the
    /// session logs in instead where it can.
    CountLost,
    /// Nothing to do.
    Done,
}

/// A request the session wants to send, as the coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKind {
    /// Why it is sent.
    pub purpose: Purpose,
    /// Whether it may be sent twice (a single-use refresh may not).
    pub resend_safe: bool,
}

/// Where the coordinator is in a sequence of store operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    /// Clearing a request to leave: taking the lease, re-reading, storing what waited.
    Clearing(RequestKind, Step),
    /// Storing a persistence point (under the lease), then giving the lease up.
    Persisting,
    /// Reading the store for a newer session (or to rejoin).
    Syncing,
    /// Giving the lease up.
    Releasing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    TakingLease,
    Loading,
    Storing,
}

/// One process's side of the fleet protocol.
#[derive(Debug)]
pub struct Coordinator {
    settings: FleetSettings,
    response_timeout: Duration,
    phase: Phase,
    /// Until when this process holds the lease, as far as it knows.
    lease_until: Option<UtcDateTime>,
    /// A request held back for the lease, and until when.
    held: Option<(RequestKind, UtcDateTime)>,
    /// When to read the store next, announcement or not.
    next_poll: UtcDateTime,
    /// Whether the store is unreachable or unreadable.
    detached: bool,
    /// A persistence point the store has not seen: written once the lease is held.
    unsaved: bool,
    /// The revision and generation last read or written.
    synced: Option<(u64, Generation)>,
    /// The newest announced revision the store was read for: each announcement is
    /// read once, whether or not it held anything to adopt (a holder's write-ahead, an
    /// empty store).
    looked_at: Option<u64>,
}

impl Coordinator {
    /// A coordinator for a process whose store holds `synced` (revision, generation),
    /// with requests that may take up to `response_timeout`.
    pub fn new(
        settings: FleetSettings,
        response_timeout: Duration,
        synced: Option<(u64, Generation)>,
        now: UtcDateTime,
    ) -> Self {
        Coordinator {
            next_poll: now.saturating_add(settings.poll),
            settings,
            response_timeout,
            phase: Phase::Idle,
            lease_until: None,
            held: None,
            detached: false,
            unsaved: false,
            synced,
            looked_at: None,
        }
    }

    /// A coordinator for a process whose store could not be read at start (`error`):
    /// it starts detached, works alone, and rejoins when the store answers.
    pub fn detached(
        settings: FleetSettings,
        response_timeout: Duration,
        error: &StoreError,
        now: UtcDateTime,
    ) -> Self {
        let mut coordinator = Coordinator::new(settings, response_timeout, None, now);
        coordinator.detach(error);
        coordinator
    }

    fn synced_revision(&self) -> Option<u64> {
        self.synced.map(|(revision, _)| revision)
    }

    /// Whether `announced` names a revision this process has neither read nor written.
    fn is_news(&self, announced: Option<u64>) -> bool {
        announced.is_some_and(|revision| {
            Some(revision) > self.synced_revision() && Some(revision) > self.looked_at
        })
    }

    /// The moment to look at the fleet again at the latest: a held request's retry, or
    /// the next poll.
    pub fn deadline(&self) -> UtcDateTime {
        match self.held {
            Some((_, until)) => until.min(self.next_poll),
            None => self.next_poll,
        }
    }

    /// Whether the store is unreachable or unreadable.
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    fn holds_lease(&self, now: UtcDateTime) -> bool {
        let needed = now.saturating_add(self.response_timeout);
        self.lease_until.is_some_and(|until| until > needed)
    }

    /// The session wants to send a request of `kind`.
    pub fn request(&mut self, kind: RequestKind, now: UtcDateTime) -> Coordination {
        if self.detached {
            return detached(kind);
        }
        if !self.holds_lease(now) {
            self.phase = Phase::Clearing(kind, Step::TakingLease);
            return Coordination::Store(StoreOp::TakeLease);
        }
        self.cleared(kind)
    }

    /// The lease is held: store what waited for it, then send.
    fn cleared(&mut self, kind: RequestKind) -> Coordination {
        if self.unsaved {
            self.phase = Phase::Clearing(kind, Step::Storing);
            return Coordination::Store(StoreOp::Store {
                expected: self.synced_revision(),
            });
        }
        self.phase = Phase::Idle;
        Coordination::Send
    }

    /// The session reached a persistence point.
    pub fn persist(&mut self) -> Coordination {
        self.unsaved = true;
        if self.lease_until.is_some() && !self.detached {
            self.phase = Phase::Persisting;
            return Coordination::Store(StoreOp::Store {
                expected: self.synced_revision(),
            });
        }
        Coordination::Done
    }

    /// Looks at the store when a newer revision was `announced` or the poll is due.
    /// `sending`: this process has a request out (a holder waits for its answer).
    pub fn sync(
        &mut self,
        announced: Option<u64>,
        sending: bool,
        now: UtcDateTime,
    ) -> Coordination {
        let newer = self.is_news(announced);
        if !newer && now < self.next_poll {
            return Coordination::Done;
        }
        self.looked_at = self.looked_at.max(announced);
        self.next_poll = now.saturating_add(self.settings.poll);
        if self.lease_until.is_some() && self.held.is_none() && sending {
            return Coordination::Done;
        }
        self.phase = Phase::Syncing;
        Coordination::Store(StoreOp::Load)
    }

    /// Whether the held request should be asked about again now (its wait is over, or
    /// a newer session was announced). `still_wanted`: the session still has it in
    /// flight (it may have given up on it). Returns its kind, for [`request`](Self::request).
    pub fn retry_held(
        &mut self,
        announced: Option<u64>,
        still_wanted: bool,
        now: UtcDateTime,
    ) -> Option<RequestKind> {
        let (kind, until) = self.held?;
        if !still_wanted {
            self.held = None;
            return None;
        }
        let newer = self.is_news(announced);
        if now < until && !newer {
            return None;
        }
        self.held = None;
        Some(kind)
    }

    /// Whether a request is held back.
    pub fn is_holding(&self) -> bool {
        self.held.is_some()
    }

    /// The store's answer to the last operation. `generation`: the session's current
    /// generation; `in_flight`: whether it has a request out.
    pub fn answer(
        &mut self,
        answer: StoreAnswer,
        generation: Generation,
        in_flight: bool,
        now: UtcDateTime,
    ) -> Coordination {
        let phase = std::mem::replace(&mut self.phase, Phase::Idle);
        if let StoreAnswer::Failed(error) = &answer {
            self.detach(error);
            return match phase {
                Phase::Clearing(kind, _) => detached(kind),
                _ => Coordination::Done,
            };
        }
        match (phase, answer) {
            (
                Phase::Clearing(kind, Step::TakingLease),
                StoreAnswer::Lease(Lease::Held { until }),
            ) => {
                let until = until.min(now.saturating_add(self.settings.poll));
                tracing::debug!(%until, purpose = %kind.purpose, "fleet: another process renews; waiting");
                self.held = Some((kind, until));
                Coordination::Hold
            }
            (
                Phase::Clearing(kind, Step::TakingLease),
                StoreAnswer::Lease(Lease::Taken { until }),
            ) => {
                tracing::debug!(%until, "fleet: lease taken");
                self.lease_until = Some(until);
                self.phase = Phase::Clearing(kind, Step::Loading);
                Coordination::Store(StoreOp::Load)
            }
            (Phase::Clearing(kind, Step::Loading), StoreAnswer::Loaded(stored)) => match stored {
                // Someone stored since: start from that, and renew only if it still
                // needs it.
                Some(stored) if Some(stored.revision) != self.synced_revision() => {
                    self.adopt(stored)
                }
                _ => self.cleared(kind),
            },
            (Phase::Clearing(_, Step::Storing) | Phase::Persisting, StoreAnswer::Saved(saved)) => {
                let clearing = matches!(phase, Phase::Clearing(..));
                self.saved(saved, generation, in_flight, clearing)
            }
            (Phase::Syncing, StoreAnswer::Loaded(stored)) if self.detached => {
                self.rejoin(stored, generation)
            }
            (Phase::Syncing, StoreAnswer::Loaded(Some(stored)))
                if stored.generation > generation =>
            {
                tracing::info!(
                    generation = stored.generation.get(),
                    revision = stored.revision,
                    "fleet: adopting the session another process stored"
                );
                self.adopt(stored)
            }
            (Phase::Releasing, StoreAnswer::Released)
            | (Phase::Syncing, StoreAnswer::Loaded(_)) => Coordination::Done,
            (phase, answer) => {
                tracing::error!(?phase, ?answer, "fleet: an answer to no operation; ignored");
                Coordination::Done
            }
        }
    }

    fn saved(
        &mut self,
        saved: Saved,
        generation: Generation,
        in_flight: bool,
        clearing: bool,
    ) -> Coordination {
        match saved {
            Saved::Stored { revision } => {
                tracing::debug!(
                    revision,
                    generation = generation.get(),
                    "fleet: session stored"
                );
                self.unsaved = false;
                self.synced = Some((revision, generation));
                if clearing {
                    return Coordination::Send;
                }
                if !in_flight {
                    self.lease_until = None;
                    self.phase = Phase::Releasing;
                    return Coordination::Store(StoreOp::ReleaseLease);
                }
                Coordination::Done
            }
            Saved::Newer(stored) => {
                tracing::warn!(
                    ours = generation.get(),
                    theirs = stored.generation.get(),
                    "fleet: another process stored first (this lease had ended); dropping this process's tokens"
                );
                self.lease_until = None;
                self.adopt(stored)
            }
        }
    }

    fn adopt(&mut self, stored: StoredSession) -> Coordination {
        self.held = None;
        self.unsaved = false;
        self.synced = Some((stored.revision, stored.generation));
        self.phase = Phase::Idle;
        Coordination::Adopt(stored)
    }

    fn detach(&mut self, error: &StoreError) {
        if !self.detached {
            match error {
                StoreError::Unreadable { .. } => {
                    tracing::warn!(%error, "fleet: the stored session is unreadable; detached (serving the valid token, logging in by itself where it can, never overwriting the store)")
                }
                _ => {
                    tracing::warn!(%error, "fleet: the store is unreachable; detached (serving the valid token, logging in by itself where it can)")
                }
            }
        }
        self.detached = true;
        self.lease_until = None;
        self.phase = Phase::Idle;
        // A request held for the lease is decided again, under the detached rules, at
        // the next look.
        if let Some((_, until)) = self.held.as_mut() {
            *until = UtcDateTime::MIN;
        }
    }

    /// The store answers again: store this process's session if no one stored meanwhile
    /// (or the store came back empty) and it moved on, else adopt the store's.
    fn rejoin(&mut self, stored: Option<StoredSession>, generation: Generation) -> Coordination {
        tracing::info!("fleet: the store answers again; rejoined");
        self.detached = false;
        let synced_generation = self.synced.map(|(_, generation)| generation);
        let untouched = stored.as_ref().map(|s| s.revision) == self.synced_revision();
        let moved_on = Some(generation) > synced_generation;
        match stored {
            None => self.store_now(),
            Some(_) if untouched && moved_on => self.store_now(),
            Some(_) if untouched => Coordination::Done,
            Some(stored) => {
                if moved_on {
                    tracing::warn!(
                        ours = generation.get(),
                        theirs = stored.generation.get(),
                        "fleet: another process stored while this one was detached; dropping this process's tokens"
                    );
                }
                self.adopt(stored)
            }
        }
    }

    /// What this process obtained alone becomes the fleet's (unless another process
    /// stores first: then the compare-and-swap hands it the store's).
    fn store_now(&mut self) -> Coordination {
        self.phase = Phase::Persisting;
        Coordination::Store(StoreOp::Store {
            expected: self.synced_revision(),
        })
    }
}

/// A request while the store is unreachable: a single-use refresh token stays unspent
/// (the store may know it spent); anything else goes.
fn detached(kind: RequestKind) -> Coordination {
    if kind.purpose == Purpose::Refresh && !kind.resend_safe {
        tracing::warn!("fleet: store unreachable; the shared refresh token is not spent, logging in instead where possible");
        return Coordination::CountLost;
    }
    Coordination::Send
}

#[cfg(test)]
mod tests {
    use oauth_lifecycle::time::macros::utc_datetime;
    use zeroize::Zeroizing;

    use super::*;

    const NOW: UtcDateTime = utc_datetime!(2026-11-01 12:00:00);

    fn coordinator(synced: Option<(u64, u64)>) -> Coordinator {
        let settings = FleetSettings {
            holder: "me".into(),
            lease: Duration::seconds(45),
            poll: Duration::seconds(30),
        };
        let synced = synced.map(|(r, g)| (r, Generation::new(g)));
        Coordinator::new(settings, Duration::seconds(30), synced, NOW)
    }

    fn stored(revision: u64, generation: u64) -> StoredSession {
        StoredSession {
            revision,
            generation: Generation::new(generation),
            snapshot: Zeroizing::new(b"{}".to_vec()),
        }
    }

    const REFRESH: RequestKind = RequestKind {
        purpose: Purpose::Refresh,
        resend_safe: false,
    };
    const LOGIN: RequestKind = RequestKind {
        purpose: Purpose::Login,
        resend_safe: true,
    };

    /// Each announced revision is read once, whether or not the store held anything to
    /// adopt: an empty store announcing revision 0, or a holder's write-ahead of the
    /// generation this process already has, would otherwise be read at every look.
    #[test]
    fn an_announcement_with_nothing_to_adopt_is_read_once() {
        let mut fleet = coordinator(Some((3, 1)));
        for (announced, stored_now) in [(Some(4), Some(stored(4, 1))), (Some(5), None)] {
            assert!(matches!(
                fleet.sync(announced, false, NOW),
                Coordination::Store(StoreOp::Load)
            ));
            assert!(matches!(
                fleet.answer(
                    StoreAnswer::Loaded(stored_now),
                    Generation::new(1),
                    false,
                    NOW
                ),
                Coordination::Done
            ));
            for _ in 0..3 {
                assert!(matches!(
                    fleet.sync(announced, false, NOW),
                    Coordination::Done
                ));
            }
        }
        // An empty store that announces revision 0 is read once too.
        let mut fresh = coordinator(None);
        assert!(matches!(
            fresh.sync(Some(0), false, NOW),
            Coordination::Store(StoreOp::Load)
        ));
        assert!(matches!(
            fresh.answer(StoreAnswer::Loaded(None), Generation::new(0), false, NOW),
            Coordination::Done
        ));
        assert!(matches!(
            fresh.sync(Some(0), false, NOW),
            Coordination::Done
        ));
    }

    fn down() -> StoreAnswer {
        StoreAnswer::Failed(StoreError::Unavailable(std::io::Error::other("down")))
    }

    fn taken() -> StoreAnswer {
        StoreAnswer::Lease(Lease::Taken {
            until: NOW + Duration::seconds(45),
        })
    }

    /// Each row: a history of inputs and the decision it must end in. `g` is the
    /// session's generation, `f` whether it has a request out.
    #[test]
    fn every_path_of_a_request_ends_in_its_decision() {
        let g = Generation::new(3);
        // Another holds the lease: held until the lease ends, asked again then.
        let mut c = coordinator(Some((7, 3)));
        assert!(matches!(
            c.request(REFRESH, NOW),
            Coordination::Store(StoreOp::TakeLease)
        ));
        let held = StoreAnswer::Lease(Lease::Held {
            until: NOW + Duration::seconds(10),
        });
        assert!(matches!(c.answer(held, g, true, NOW), Coordination::Hold));
        assert_eq!(c.deadline(), NOW + Duration::seconds(10));
        assert_eq!(c.retry_held(None, true, NOW + Duration::seconds(5)), None);
        assert_eq!(
            c.retry_held(Some(8), true, NOW + Duration::seconds(5)),
            Some(REFRESH),
            "announced"
        );

        // Taken, nothing newer, a persistence point waiting: stored, then sent.
        let mut c = coordinator(Some((7, 3)));
        assert!(
            matches!(c.persist(), Coordination::Done),
            "no lease yet: kept"
        );
        assert!(matches!(
            c.request(REFRESH, NOW),
            Coordination::Store(StoreOp::TakeLease)
        ));
        assert!(matches!(
            c.answer(taken(), g, true, NOW),
            Coordination::Store(StoreOp::Load)
        ));
        let step = c.answer(StoreAnswer::Loaded(Some(stored(7, 3))), g, true, NOW);
        assert!(matches!(
            step,
            Coordination::Store(StoreOp::Store { expected: Some(7) })
        ));
        let step = c.answer(
            StoreAnswer::Saved(Saved::Stored { revision: 8 }),
            g,
            true,
            NOW,
        );
        assert!(matches!(step, Coordination::Send));
        // Its answer is a persistence point: stored, and the lease given up.
        let step = c.persist();
        assert!(matches!(
            step,
            Coordination::Store(StoreOp::Store { expected: Some(8) })
        ));
        let step = c.answer(
            StoreAnswer::Saved(Saved::Stored { revision: 9 }),
            Generation::new(4),
            false,
            NOW,
        );
        assert!(matches!(step, Coordination::Store(StoreOp::ReleaseLease)));
        assert!(matches!(
            c.answer(StoreAnswer::Released, g, false, NOW),
            Coordination::Done
        ));

        // Taken, but another process stored since: adopt, the request goes with it.
        let mut c = coordinator(Some((7, 3)));
        assert!(matches!(
            c.request(REFRESH, NOW),
            Coordination::Store(StoreOp::TakeLease)
        ));
        assert!(matches!(
            c.answer(taken(), g, true, NOW),
            Coordination::Store(StoreOp::Load)
        ));
        let step = c.answer(StoreAnswer::Loaded(Some(stored(9, 4))), g, true, NOW);
        assert!(matches!(step, Coordination::Adopt(s) if s.revision == 9));

        // A late holder: its compare-and-swap fails, it adopts the store's.
        let step = c.persist();
        assert!(
            matches!(
                step,
                Coordination::Store(StoreOp::Store { expected: Some(9) })
            ),
            "{step:?}"
        );
        let step = c.answer(
            StoreAnswer::Saved(Saved::Newer(stored(11, 5))),
            Generation::new(5),
            false,
            NOW,
        );
        assert!(matches!(step, Coordination::Adopt(s) if s.revision == 11));

        // The store down: a single-use refresh is counted lost, a login goes.
        let mut c = coordinator(Some((7, 3)));
        assert!(matches!(
            c.request(REFRESH, NOW),
            Coordination::Store(StoreOp::TakeLease)
        ));
        assert!(matches!(
            c.answer(down(), g, true, NOW),
            Coordination::CountLost
        ));
        assert!(c.is_detached());
        assert!(matches!(c.request(LOGIN, NOW), Coordination::Send));
        assert!(matches!(c.request(REFRESH, NOW), Coordination::CountLost));
    }

    #[test]
    fn a_detached_process_rejoins_as_the_store_says() {
        let g = Generation::new(3);
        // (what the store holds when it answers again, this session's generation, the
        // decision)
        type Row = (Option<StoredSession>, u64, &'static str);
        let rows: Vec<Row> = vec![
            (None, 3, "store"),
            (Some(stored(7, 3)), 4, "store"),
            (Some(stored(7, 3)), 3, "done"),
            (Some(stored(9, 4)), 4, "adopt"),
            (Some(stored(9, 4)), 3, "adopt"),
        ];
        for (held, generation, expected) in rows {
            let mut c = coordinator(Some((7, 3)));
            assert!(matches!(
                c.request(REFRESH, NOW),
                Coordination::Store(StoreOp::TakeLease)
            ));
            assert!(matches!(
                c.answer(down(), g, true, NOW),
                Coordination::CountLost
            ));
            assert!(c.is_detached());
            let step = c.sync(None, false, NOW + Duration::seconds(30));
            assert!(matches!(step, Coordination::Store(StoreOp::Load)));
            let step = c.answer(
                StoreAnswer::Loaded(held.clone()),
                Generation::new(generation),
                false,
                NOW,
            );
            let got = match step {
                Coordination::Store(StoreOp::Store { .. }) => "store",
                Coordination::Adopt(_) => "adopt",
                Coordination::Done => "done",
                other => panic!("{other:?}"),
            };
            assert_eq!(got, expected, "{held:?}, generation {generation}");
            assert!(!c.is_detached());
        }
    }

    #[test]
    fn followers_read_the_store_on_an_announcement_or_at_the_poll() {
        let mut c = coordinator(Some((7, 3)));
        assert!(
            matches!(c.sync(Some(7), false, NOW), Coordination::Done),
            "nothing new"
        );
        assert!(matches!(
            c.sync(Some(8), false, NOW),
            Coordination::Store(StoreOp::Load)
        ));
        let step = c.answer(
            StoreAnswer::Loaded(Some(stored(8, 4))),
            Generation::new(3),
            false,
            NOW,
        );
        assert!(matches!(step, Coordination::Adopt(_)));
        assert!(matches!(
            c.sync(None, false, NOW + Duration::seconds(10)),
            Coordination::Done
        ));
        assert!(matches!(
            c.sync(None, false, NOW + Duration::seconds(30)),
            Coordination::Store(StoreOp::Load)
        ));
        // The same generation (a write-ahead of a renewal under way) is not adopted.
        let step = c.answer(
            StoreAnswer::Loaded(Some(stored(9, 4))),
            Generation::new(4),
            false,
            NOW,
        );
        assert!(matches!(step, Coordination::Done));
    }

    /// A process that could not reach the store at start: it works alone (a login goes,
    /// a single-use refresh does not) and, when the store answers at its poll, stores its
    /// session into an empty store or adopts the one it finds.
    #[test]
    fn a_process_that_started_without_the_store_works_alone_then_joins() {
        let g = Generation::new(1);
        let settings = FleetSettings {
            holder: "me".into(),
            lease: Duration::seconds(45),
            poll: Duration::seconds(30),
        };
        let error = StoreError::Unavailable(std::io::Error::other("down"));
        let started =
            || Coordinator::detached(settings.clone(), Duration::seconds(30), &error, NOW);
        let mut c = started();
        assert!(c.is_detached());
        assert!(matches!(c.request(LOGIN, NOW), Coordination::Send));
        assert!(matches!(c.request(REFRESH, NOW), Coordination::CountLost));
        assert!(
            matches!(c.persist(), Coordination::Done),
            "nothing stored alone"
        );
        assert!(matches!(c.sync(None, false, NOW), Coordination::Done));
        let poll = NOW + Duration::seconds(30);
        assert!(matches!(
            c.sync(None, false, poll),
            Coordination::Store(StoreOp::Load)
        ));
        assert!(matches!(
            c.answer(StoreAnswer::Loaded(None), g, false, poll),
            Coordination::Store(StoreOp::Store { expected: None })
        ));
        assert!(!c.is_detached());
        let mut c = started();
        assert!(matches!(
            c.sync(None, false, poll),
            Coordination::Store(StoreOp::Load)
        ));
        assert!(matches!(
            c.answer(StoreAnswer::Loaded(Some(stored(4, 2))), g, false, poll),
            Coordination::Adopt(_)
        ));
    }
}
