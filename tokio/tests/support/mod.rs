//! What the manager's tests share: bounded waits, simulated time over real sockets, an
//! emulator that can be told to answer one token request its own way, and API calls.

#![allow(dead_code)]

pub mod capture;
pub mod loopback;

use std::future::Future;
use std::time::Duration;

use oauth_lifecycle::dialect::ConvirzaV3;
use oauth_lifecycle::http;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::Policy;
use oauth_lifecycle_emulator::{ConvirzaV3Server, ConvirzaV3ServerConfig, DrivenClock, HttpFront};
use oauth_lifecycle_tokio::TokenManager;
use time::macros::utc_datetime;

/// Where simulated time starts.
pub const START: UtcDateTime = utc_datetime!(2026-04-01 08:00:00);

/// The longest any wait in a test may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `probe` every few milliseconds until it gives a value; fails the test after
/// [`PATIENCE`].
pub async fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Runs `future` with [`PATIENCE`] as its bound.
pub async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

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
    let dialect = ConvirzaV3::builder("user@example.com", "SecurePassword123!")
        .base_url(front.base_url())
        .build()
        .expect("a valid dialect");
    let manager = TokenManager::builder(dialect, Policy::default())
        .clock(reading(clock))
        .start()
        .expect("the manager starts");
    (front, manager)
}
