//! Snapshot restore fed arbitrary bytes (seeded with real snapshots of every state, so
//! mutations stay close to valid ones). Invariants: no panic; a snapshot that restores
//! is then driven through timeouts, a late answer and a revoke under the `drive` checks.
//! The first byte selects the provider and its configuration (`Variant::from_selector`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_lifecycle::{AnySession, Driver, Policy};
use oauth_lifecycle_fuzz::drive::{Run, Step};
use oauth_lifecycle_fuzz::{with_dialect, Variant, START};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    with_dialect!(Variant::from_selector(selector), |make| {
        let Ok(snapshot) = serde_json::from_slice(json) else {
            return;
        };
        let Ok(session) = AnySession::restore(make(), Policy::default(), snapshot) else {
            return;
        };
        let mut run = Run::with_driver(Driver::from_session(session), make, START);
        for step in [
            Step::TransportError { sent: true },
            Step::Advance(u16::MAX),
            Step::Unauthorized { stale: false },
            Step::Jump(i32::MAX),
            Step::Revoke,
            Step::Jump(i32::MIN),
        ] {
            run.step(&step);
        }
    });
});
