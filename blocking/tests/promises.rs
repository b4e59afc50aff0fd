//! The manager's promises to many threads at once: one renewal however many callers ask,
//! no wait for callers holding a valid token, 401 recovery by generation, and a shutdown
//! that leaves no thread behind.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_blocking::{Closed, WaitError};
use oauth_lifecycle_emulator::{InjectedFailure, StandardServer, StandardServerConfig};
use support::*;
use time::Duration as Span;

const CALLERS: usize = 64;

fn standard_sim() -> Sim<StandardServer> {
    Sim::new(StandardServer::new(StandardServerConfig::default()))
}

/// Runs `during` while the provider is held: a token request that reaches it stays in
/// flight, unanswered, until `during` returns.
fn while_provider_holds<R>(sim: &Sim<StandardServer>, during: impl FnOnce() -> R) -> R {
    let (held, is_held) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    thread::scope(|scope| {
        scope.spawn(move || {
            sim.front.with_emulator(|_| {
                held.send(()).unwrap();
                let _ = released.recv_timeout(PATIENCE);
            })
        });
        is_held
            .recv_timeout(PATIENCE)
            .expect("the provider is held");
        let result = during();
        let _ = release.send(());
        result
    })
}

/// Waits (bounded) until no thread of this process bears `name`. A joined thread's entry
/// in /proc may outlive the join by a moment: the kernel wakes the joiner before it
/// removes the entry.
fn no_thread_named(name: &str) {
    eventually(&format!("no thread is named {name}"), || {
        threads_named(name) == 0
    });
}

/// How many threads of this process bear `name`.
fn threads_named(name: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("Linux's /proc")
        .filter_map(Result::ok)
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.trim_end() == name)
        })
        .count()
}

#[test]
fn callers_without_a_token_during_a_renewal_cause_one_token_request() {
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();
    assert_eq!(sim.front.stats().auth_requests, 1);
    // Old enough that a 401 renews it at once (`Policy::unauthorized_spacing`).
    sim.advance(Span::SECOND);

    let asked = AtomicUsize::new(0);
    let answers = thread::scope(|scope| {
        let callers: Vec<_> = while_provider_holds(&sim, || {
            // The API rejects the token: it is withdrawn and a renewal starts, held.
            tokens.report_unauthorized(first.generation());
            eventually("the renewal reaches the provider", || {
                sim.front.stats().auth_requests == 2
            });
            assert!(tokens.with_token(|_| ()).is_none());
            let callers: Vec<_> = (0..CALLERS)
                .map(|_| {
                    scope.spawn(|| {
                        (0..100)
                            .map(|_| {
                                asked.fetch_add(1, Ordering::SeqCst);
                                // Every caller met the 401 too: a stale report by now.
                                tokens.report_unauthorized(first.generation());
                                tokens.token(PATIENCE).map(|t| t.generation())
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            eventually("every caller asks", || {
                asked.load(Ordering::SeqCst) >= CALLERS
            });
            // All of them are waiting for the one renewal.
            assert_eq!(tokens.status(), Status::Renewing);
            assert_eq!(sim.front.stats().auth_requests, 2);
            callers
        });
        callers
            .into_iter()
            .flat_map(|caller| caller.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(answers.len(), CALLERS * 100);
    for answer in answers {
        assert!(answer.expect("a token") > first.generation());
    }
    assert_eq!(sim.front.stats().auth_requests, 2, "exactly one renewal");
    assert_eq!(sim.stats().token_requests, 2);
}

#[test]
fn callers_with_a_valid_token_never_wait_while_it_is_renewed() {
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();
    while_provider_holds(&sim, || {
        // The refresh falls due and hangs at the provider.
        sim.advance(Span::minutes(50));
        eventually("the renewal reaches the provider", || {
            sim.front.stats().auth_requests == 2
        });
        assert_eq!(tokens.status(), Status::Renewing);
        thread::scope(|scope| {
            for _ in 0..CALLERS {
                scope.spawn(|| {
                    for _ in 0..1_000 {
                        let read = tokens.with_token(|t| t.generation());
                        assert_eq!(read, Some(first.generation()));
                        // No time to wait, and none needed.
                        let token = tokens.token(Duration::ZERO).expect("the valid token");
                        assert_eq!(token.secret(), first.secret());
                    }
                });
            }
        });
        assert_eq!(
            tokens.status(),
            Status::Renewing,
            "still renewing throughout"
        );
    });
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .unwrap();
    assert_eq!(sim.call_api(&second), 200);
    assert_eq!(sim.front.stats().auth_requests, 2);
}

#[test]
fn a_401_renews_once_per_generation_and_stale_reports_change_nothing() {
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();
    // Old enough that a 401 renews it at once (`Policy::unauthorized_spacing`).
    sim.advance(Span::SECOND);

    // Fifty threads meet a 401 with the same token at once.
    let start = std::sync::Barrier::new(50);
    thread::scope(|scope| {
        for _ in 0..50 {
            scope.spawn(|| {
                start.wait();
                tokens.report_unauthorized(first.generation());
            });
        }
    });
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .unwrap();
    assert_eq!(sim.call_api(&second), 200);
    assert_eq!(
        sim.front.stats().auth_requests,
        2,
        "one renewal for fifty reports"
    );

    eventually("the renewal settles", || tokens.status() == Status::Ready);

    // Late reports about the first token change nothing.
    thread::scope(|scope| {
        for _ in 0..50 {
            scope.spawn(|| tokens.report_unauthorized(first.generation()));
        }
    });
    // Once the manager applied them: every one reached the session, which said stale.
    tokens.flush().unwrap();
    assert_eq!(
        tokens.with_token(|t| t.generation()),
        Some(second.generation())
    );
    assert_eq!(tokens.status(), Status::Ready);
    assert_eq!(sim.front.stats().auth_requests, 2);

    // A report about the current token renews it, once: a token that lived the policy's
    // spacing is renewed at once.
    sim.advance(Policy::default().unauthorized_renewal_spacing);
    for _ in 0..50 {
        tokens.report_unauthorized(second.generation());
    }
    let third = tokens
        .token_newer_than(second.generation(), PATIENCE)
        .unwrap();
    assert_eq!(sim.call_api(&third), 200);
    assert_eq!(sim.front.stats().auth_requests, 3);
    assert_eq!(sim.stats().refresh_token_reuses, 0);
}

#[test]
fn shutdown_revokes_and_joins_the_thread_while_clones_remain() {
    const NAME: &str = "drop-joins";
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .revoke_on_shutdown(true)
        .name(NAME)
        .start()
        .unwrap();
    let token = tokens.token(PATIENCE).unwrap();
    assert_eq!(threads_named(NAME), 1);

    let clone = tokens.clone();
    drop(tokens);
    // Other clones keep the manager running.
    assert_eq!(threads_named(NAME), 1);
    assert_eq!(
        clone.token(Duration::ZERO).unwrap().secret(),
        token.secret()
    );
    assert_eq!(sim.stats().revocations, 0);

    // Readers on other threads while the last clone goes.
    let reading = std::sync::Arc::new(AtomicUsize::new(0));
    let readers: Vec<_> = (0..8)
        .map(|_| {
            let clone = clone.clone();
            let reading = std::sync::Arc::clone(&reading);
            thread::spawn(move || {
                let deadline = Instant::now() + PATIENCE;
                let mut first = true;
                while Instant::now() < deadline {
                    match clone.token(PATIENCE) {
                        Ok(_) => {
                            if std::mem::take(&mut first) {
                                reading.fetch_add(1, Ordering::SeqCst);
                            }
                            thread::yield_now();
                        }
                        Err(error) => return error,
                    }
                }
                panic!("the manager never closed");
            })
        })
        .collect();
    eventually("every reader reads", || reading.load(Ordering::SeqCst) == 8);
    clone.shutdown();
    drop(clone);
    for reader in readers {
        let error = reader.join().unwrap();
        assert!(
            matches!(error, WaitError::Closed | WaitError::Revoked),
            "{error:?}"
        );
    }
    // By the time shutdown returned, the revocations were done and the thread was gone.
    assert!(sim.stats().revocations >= 1, "{:?}", sim.stats());
    assert_eq!(sim.call_api(&token), 401);
    no_thread_named(NAME);
}

/// Dropping the last clone stops the thread by itself, as `shutdown` would, without
/// waiting for it.
#[test]
fn drop_without_revocation_leaves_the_session_valid_and_no_thread() {
    const NAME: &str = "drop-keeps";
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .name(NAME)
        .start()
        .unwrap();
    let token = tokens.token(PATIENCE).unwrap();
    drop(tokens);
    no_thread_named(NAME);
    assert_eq!(sim.stats().revocations, 0);
    assert_eq!(
        sim.call_api(&token),
        200,
        "the session outlives the process"
    );
}

#[test]
fn shutdown_fails_every_waiter_at_once_and_later_calls_are_closed() {
    const NAME: &str = "shutdown-waits";
    let sim = standard_sim();
    // No token for an hour: the provider is down for maintenance.
    sim.fail_next(InjectedFailure::Status {
        status: 503,
        retry_after: Some("3600".into()),
    });
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .name(NAME)
        .start()
        .unwrap();
    eventually("the session waits an hour", || {
        matches!(tokens.status(), Status::Waiting { .. })
    });
    let error = tokens.token(Duration::from_millis(10)).unwrap_err();
    assert!(
        matches!(error, WaitError::Timeout { status: Status::Waiting { retry_at, .. } } if retry_at == START + Span::hours(1)),
        "{error:?}"
    );

    let waiters: Vec<_> = (0..CALLERS)
        .map(|_| {
            let tokens = tokens.clone();
            thread::spawn(move || {
                let started = Instant::now();
                (tokens.token(PATIENCE), started.elapsed())
            })
        })
        .collect();
    eventually("every waiter waits", || tokens.waiters() == CALLERS);
    tokens.shutdown();
    for waiter in waiters {
        let (answer, waited) = waiter.join().unwrap();
        assert_eq!(answer.unwrap_err(), WaitError::Closed);
        assert!(waited < PATIENCE / 2, "waited {waited:?}");
    }
    no_thread_named(NAME);
    // Everything after shutdown is closed, and harmless.
    assert_eq!(tokens.token(PATIENCE).unwrap_err(), WaitError::Closed);
    assert!(tokens.with_token(|_| ()).is_none());
    assert_eq!(tokens.login(), Err(Closed));
    assert_eq!(tokens.revoke(), Err(Closed));
    tokens.shutdown();
    assert_eq!(sim.front.stats().auth_requests, 1);
}

#[test]
fn a_name_the_system_cannot_give_a_thread_still_starts_a_manager() {
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .name("with\0a NUL and far more than fifteen bytes")
        .start()
        .expect("the manager starts");
    assert_eq!(sim.call_api(&tokens.token(PATIENCE).unwrap()), 200);
}

#[test]
fn renew_replaces_the_token_early_and_serves_the_old_one_meanwhile() {
    let sim = standard_sim();
    let tokens = sim
        .manager(standard(&sim.front), Policy::default())
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();
    // Long before the refresh moment, the renewal is held at the provider: the old
    // token is still handed out.
    while_provider_holds(&sim, || {
        tokens.renew().unwrap();
        eventually("the renewal reaches the provider", || {
            sim.front.stats().auth_requests == 2
        });
        let served = tokens.token(Duration::ZERO).expect("the valid token");
        assert_eq!(served.generation(), first.generation());
    });
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .unwrap();
    assert_eq!(sim.call_api(&second), 200);
    assert_eq!(second.generation().get(), 2);
    eventually("the renewal settles", || tokens.status() == Status::Ready);
    assert_eq!(sim.front.stats().auth_requests, 2, "one renewal");
}
