//! Writes the `restore` target's seed corpus: a snapshot of every state each provider
//! of the core's registry reaches in a short scripted life (login, renewal due, refresh
//! in flight, backoff, revocation), one file each, prefixed with the byte that selects
//! the provider and its configuration (`Variant::from_selector`).
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_snapshots -- fuzz/corpus/restore`

use std::path::{Path, PathBuf};

use oauth_lifecycle::dialect::Need;
use oauth_lifecycle::{Dialect, Policy};
use oauth_lifecycle_fuzz::drive::{Run, Step};
use oauth_lifecycle_fuzz::{
    Answer, BodyChoice, ErrorCode, Field, HeaderChoice, Provider, StatusChoice, Value, Variant,
    START,
};

fn token(lifetime: i64) -> Step {
    Step::Answer(Answer {
        status: StatusChoice::Ok,
        headers: vec![HeaderChoice::Date(0)],
        body: BodyChoice::Object(vec![
            (Field::AccessToken, Value::Minted),
            (Field::TokenType, Value::Bearer),
            (Field::ExpiresIn, Value::Int(lifetime)),
            (Field::RefreshToken, Value::Minted),
            (Field::Token, Value::Minted),
        ]),
    })
}

fn script() -> Vec<Step> {
    let unavailable = Step::Answer(Answer {
        status: StatusChoice::Unavailable,
        headers: vec![HeaderChoice::RetryAfterSeconds(30)],
        body: BodyChoice::Empty,
    });
    let invalid_grant = Step::Answer(Answer {
        status: StatusChoice::BadRequest,
        headers: vec![],
        body: BodyChoice::Object(vec![(Field::Error, Value::Code(ErrorCode::InvalidGrant))]),
    });
    vec![
        Step::Login,
        unavailable.clone(),
        Step::Advance(60),
        token(3600),
        Step::Advance(3300),
        Step::TransportError { sent: true },
        Step::Advance(120),
        invalid_grant,
        Step::Advance(5),
        token(3600),
        Step::Unauthorized { stale: false },
        token(3600),
        Step::Revoke,
        unavailable,
        Step::Advance(600),
    ]
}

fn snapshots<D: Dialect>(make: impl Fn() -> D + 'static) -> Vec<Vec<u8>> {
    let mut run = Run::new(make, Policy::default(), START);
    run.keep_snapshots();
    for step in script() {
        run.step(&step);
    }
    run.snapshots().to_vec()
}

/// Each provider as the examples configure it, then with each optional setting flipped
/// in turn, where a selector byte names that and the life differs from every one
/// written for the provider before.
fn variants(provider: Provider) -> impl Iterator<Item = (u8, Variant)> {
    let optional = provider
        .settings()
        .iter()
        .filter(|setting| setting.need == Need::Optional)
        .count()
        .min(32);
    std::iter::once(0)
        .chain((0..optional).map(|bit| 1 << bit))
        .map(move |toggles| Variant {
            provider,
            toggles,
            grant: 0,
            client_auth: 0,
            assertion: 0,
        })
        .filter_map(|variant| Some((variant.selector()?, variant)))
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "corpus/restore".into()),
    );
    std::fs::create_dir_all(&out).expect("a corpus directory");
    let mut written = 0;
    for &provider in Provider::ALL {
        let mut lives: Vec<Vec<Vec<u8>>> = Vec::new();
        for (selector, variant) in variants(provider) {
            let life = oauth_lifecycle_fuzz::with_dialect!(variant, |make| snapshots(make));
            if lives.contains(&life) {
                continue;
            }
            for (n, json) in life.iter().enumerate() {
                let mut bytes = vec![selector];
                bytes.extend_from_slice(json);
                write(&out.join(format!("{selector}-{n:02}.json")), &bytes);
            }
            println!("{selector:3}: {variant:?}, {} snapshots", life.len());
            written += life.len();
            lives.push(life);
        }
    }
    println!("{written} snapshots in {}", out.display());
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("writable corpus");
}
