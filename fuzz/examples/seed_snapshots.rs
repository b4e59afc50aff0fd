//! Writes the `restore` target's seed corpus: a snapshot of every state each dialect
//! reaches in a short scripted life (login, renewal due, refresh in flight, backoff,
//! revocation), one file each, prefixed with the byte that selects the dialect.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_snapshots -- fuzz/corpus/restore`

use std::path::{Path, PathBuf};

use oauth_lifecycle::{Dialect, Policy};
use oauth_lifecycle_fuzz::drive::{Run, Step};
use oauth_lifecycle_fuzz::{
    Answer, BodyChoice, ErrorCode, Field, HeaderChoice, Provider, StatusChoice, Value, START,
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

fn seeds<D: Dialect>(make: fn() -> D, selector: u8, out: &Path) -> usize {
    let mut run = Run::new(make, Policy::default(), START);
    run.keep_snapshots();
    for step in script() {
        run.step(&step);
    }
    for (n, json) in run.snapshots().iter().enumerate() {
        let mut bytes = vec![selector];
        bytes.extend_from_slice(json);
        std::fs::write(out.join(format!("{selector}-{n:02}.json")), bytes)
            .expect("writable corpus");
    }
    run.snapshots().len()
}

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "corpus/restore".into()),
    );
    std::fs::create_dir_all(&out).expect("a corpus directory");
    let mut written = 0;
    for (selector, provider) in [
        (0, Provider::Standard),
        (1, Provider::StandardReusable),
        (2, Provider::ConvirzaV2),
        (3, Provider::ConvirzaV3),
        (4, Provider::Convercus),
        (5, Provider::ConvercusLegacy),
    ] {
        written +=
            oauth_lifecycle_fuzz::with_dialect!(provider, |make| seeds(make, selector, &out));
    }
    println!("{written} snapshots in {}", out.display());
}
