//! The read path every API call takes: reading the published token. Measured on one
//! thread and on two threads at once, borrowing (`TokenCell::with`, the managers' fast
//! path) and, for comparison, cloning the shared token (`TokenCell::token`), next to a
//! control that shares nothing: what two busy cores of the machine give independent work.
//!
//! `cargo bench -p oauth-lifecycle-adapter --bench read`

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::{Driver, Event, Policy};
use oauth_lifecycle_adapter::TokenCell;
use oauth_lifecycle_emulator::{StandardServer, StandardServerConfig};
use oauth_lifecycle_testkit::{drain, standard_client, IN_PROCESS};

/// A cell holding a token a real session obtained from the emulator.
fn published() -> Arc<TokenCell> {
    let mut server = StandardServer::new(StandardServerConfig::default());
    let dialect = standard_client(IN_PROCESS)
        .build()
        .expect("a valid dialect");
    let mut driver = Driver::new(dialect, Policy::default()).expect("a valid policy");
    let now = utc_datetime!(2026-01-01 00:00:00);
    let cell = Arc::new(TokenCell::new());
    driver.handle_timeout(now);
    let issued = drain(&mut driver, &mut server, now)
        .events
        .into_iter()
        .find(|event| matches!(event, Event::TokenIssued { .. }))
        .expect("a token was issued");
    cell.apply(&issued);
    cell
}

/// What a caller takes from the cell: the header value's address and the generation.
#[inline]
fn borrow(cell: &TokenCell) -> Option<(*const u8, u64)> {
    cell.with(|token| {
        (
            token.header_value().as_bytes().as_ptr(),
            token.generation().get(),
        )
    })
}

#[inline]
fn clone(cell: &TokenCell) -> Option<(*const u8, u64)> {
    cell.token().map(|token| {
        (
            token.header_value().as_bytes().as_ptr(),
            token.generation().get(),
        )
    })
}

/// Per-call time when `threads` threads read at once, each `iterations` times; the
/// slowest thread's time counts.
fn concurrent(
    cell: &Arc<TokenCell>,
    threads: usize,
    iterations: u64,
    read: fn(&TokenCell) -> Option<(*const u8, u64)>,
) -> Duration {
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let cell = Arc::clone(cell);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let began = Instant::now();
                for _ in 0..iterations {
                    black_box(read(black_box(&cell)));
                }
                began.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|handle| handle.join().expect("a reader thread"))
        .max()
        .unwrap_or_default()
}

/// Touches nothing shared: what two cores of this machine give independent work.
#[inline]
fn nothing_shared(_: &TokenCell) -> Option<(*const u8, u64)> {
    let mut x = black_box(0x9e37_79b9_u64);
    for _ in 0..4 {
        x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).rotate_left(17);
    }
    Some((std::ptr::null(), x))
}

fn read_path(c: &mut Criterion) {
    let cell = published();
    let mut group = c.benchmark_group("published_token");
    for (name, read) in [
        ("borrow", borrow as fn(&TokenCell) -> _),
        ("clone_arc", clone as fn(&TokenCell) -> _),
        ("nothing_shared", nothing_shared as fn(&TokenCell) -> _),
    ] {
        group.bench_function(format!("{name}/one_thread"), |b| {
            b.iter_custom(|iterations| concurrent(&cell, 1, iterations, read))
        });
        group.bench_function(format!("{name}/two_threads"), |b| {
            b.iter_custom(|iterations| concurrent(&cell, 2, iterations, read))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = read_path
}
criterion_main!(benches);
