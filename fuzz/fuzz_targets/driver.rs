//! The driver fed arbitrary input sequences, for every provider of the core's registry
//! in every configuration a `Variant` names: the invariants of
//! `oauth_lifecycle_fuzz::drive` are checked after every step.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use oauth_lifecycle::Policy;
use oauth_lifecycle_fuzz::drive::{Run, Step};
use oauth_lifecycle_fuzz::{with_dialect, Variant, START};

/// Steps one input may run: enough for several renewals, few enough to stay fast.
const MAX_STEPS: usize = 256;

#[derive(Arbitrary, Debug)]
struct Script {
    variant: Variant,
    jitter_seed: u64,
    steps: Vec<Step>,
}

fuzz_target!(|script: Script| {
    let mut policy = Policy::default();
    policy.jitter_seed = script.jitter_seed;
    with_dialect!(script.variant, |make| {
        let mut run = Run::new(make, policy, START);
        for step in script.steps.iter().take(MAX_STEPS) {
            run.step(step);
        }
    });
});
