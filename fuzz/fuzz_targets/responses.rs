//! Every dialect's response parsers, and the resource-server challenge classifier, fed
//! arbitrary answers. Invariants: no panic; an accepted token is non-empty; a refusal's
//! `Display` and `Debug` are bounded. (Scrubbing echoed secrets is the session's work: the
//! `driver` target checks it.)
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use oauth_lifecycle::{resource, Dialect, Purpose};
use oauth_lifecycle_fuzz::{with_dialect, Answer, Server, Variant, START};

/// Longest `Display` of a refusal: the description cap plus the words around it.
const MAX_SHOWN: usize = 4096;

#[derive(Arbitrary, Debug)]
struct Input {
    variant: Variant,
    refresh: bool,
    answer: Answer,
}

fuzz_target!(|input: Input| {
    let mut server = Server::default();
    let response = server.respond(&input.answer, START);
    let purpose = if input.refresh {
        Purpose::Refresh
    } else {
        Purpose::Login
    };
    with_dialect!(input.variant, |make| {
        let dialect = make();
        match dialect.parse_token_response(purpose, &response) {
            Ok(grant) => assert!(!grant.access_token.secret().is_empty()),
            Err(failure) => {
                let shown = format!("{failure} {failure:?}");
                assert!(
                    shown.len() <= MAX_SHOWN,
                    "an unbounded refusal: {} bytes",
                    shown.len()
                );
            }
        }
        if let Err(failure) = dialect.parse_revocation_response(&response) {
            let shown = format!("{failure} {failure:?}");
            assert!(
                shown.len() <= MAX_SHOWN,
                "an unbounded refusal: {} bytes",
                shown.len()
            );
        }
    });
    let _ = resource::classify(response.status(), response.headers());
});
