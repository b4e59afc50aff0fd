//! What the manager's tests share: bounded waits, simulated time over real sockets, an
//! emulator that can be told to answer one token request its own way, and API calls.

#![allow(dead_code)]

pub mod capture;
pub mod loopback;

use oauth_lifecycle::http;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::Policy;
use oauth_lifecycle_emulator::{ConvirzaV3Server, ConvirzaV3ServerConfig, DrivenClock, HttpFront};
use oauth_lifecycle_tokio::TokenManager;
use time::macros::utc_datetime;

/// Where simulated time starts.
pub const START: UtcDateTime = utc_datetime!(2026-04-01 08:00:00);

// The longest any wait in a test may take before the test fails; a wait for a probe to
// give a value (`eventually(what, probe).await`); a future run with that bound
// (`bounded(what, future).await`).
#[allow(unused_imports)] // each test uses some
pub use oauth_lifecycle_testkit::{bounded, eventually_async as eventually, PATIENCE};

/// The manager's clock, reading the same driven time as the front.
pub fn reading(clock: &DrivenClock) -> impl Fn() -> UtcDateTime + Send + Sync + 'static {
    let clock = clock.clone();
    move || clock.now()
}

/// Moves simulated time for the front and the manager alike, and tells the manager.
pub fn advance(clock: &DrivenClock, manager: &TokenManager, by: oauth_lifecycle::time::Duration) {
    clock.advance(by);
    manager.clock_moved();
}

/// The current token's secret, if one may be handed out.
pub fn secret(manager: &TokenManager) -> Option<String> {
    manager.with_token(|token| token.secret().to_owned())
}

/// The current token's generation number, if one may be handed out.
pub fn generation(manager: &TokenManager) -> Option<u64> {
    manager.with_token(|token| token.generation().get())
}

/// Calls `url` with the manager's current token; the status.
pub async fn call_api(client: &reqwest::Client, manager: &TokenManager, url: &str) -> u16 {
    let header = manager
        .with_token(|token| token.header_value().clone())
        .expect("a token to call the API with");
    client
        .get(url)
        .header(http::header::AUTHORIZATION, header)
        .send()
        .await
        .expect("the API answers")
        .status()
        .as_u16()
}

/// A plain client for API calls in tests.
pub fn api_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

/// A Convirza V3 emulator on 127.0.0.1 (sliding expiry, single-use rotation) and a
/// manager logged in to it, both on `clock`.
pub fn convirza_v3(clock: &DrivenClock) -> (HttpFront<ConvirzaV3Server>, TokenManager) {
    let front = HttpFront::start(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        clock.clone(),
    )
    .expect("the emulator listens on 127.0.0.1");
    let manager = TokenManager::builder(
        oauth_lifecycle_testkit::convirza_v3(&front),
        Policy::default(),
    )
    .clock(reading(clock))
    .start()
    .expect("the manager starts");
    (front, manager)
}
