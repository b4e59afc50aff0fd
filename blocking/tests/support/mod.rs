//! What the manager's tests share: the providers' dialects pointed at an emulator served
//! on 127.0.0.1, simulated time driven over real sockets, API calls, a tap on the
//! emulator's answers, and bounded waits.

#![allow(dead_code, unreachable_pub)]

use std::sync::{Arc, Mutex, PoisonError};

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{http, Dialect, Policy};
use oauth_lifecycle_blocking::{PublishedToken, TokenManagerBuilder};
use oauth_lifecycle_emulator::{
    DrivenClock, Emulator, HttpFront, InjectedFailure, Reply, ServerStats,
};
use serde_json::Value;
use time::macros::utc_datetime;

// The dialects the scenarios use, pointed at an emulator and taking the front that
// serves it: `standard` for a `StandardServer` with its default configuration (password
// grant, client secret, revocation), `convirza_v3` against `ConvirzaV3Server` (every
// provider's lifecycle runs from the testkit's rows, in `providers.rs`); the wait for a
// condition; the standard emulator's default client and user; the bound on every wait.
#[allow(unused_imports)] // each test uses some
pub use oauth_lifecycle_testkit::{
    convirza_v3, eventually, standard, PATIENCE, STANDARD_CLIENT as CLIENT, STANDARD_USER as USER,
};

/// Where simulated time starts.
pub const START: UtcDateTime = utc_datetime!(2026-04-01 08:00:00);

/// An emulator served on 127.0.0.1 in simulated time, for a manager reading the same
/// clock.
pub struct Sim<E: Emulator + Send + 'static> {
    pub clock: DrivenClock,
    pub front: HttpFront<Tap<E>>,
}

impl<E: Emulator + Send + 'static> Sim<E> {
    pub fn new(emulator: E) -> Self {
        let clock = DrivenClock::new(START);
        let front = HttpFront::start(Tap::new(emulator), clock.clone()).expect("a front");
        Sim { clock, front }
    }

    /// A manager on this clock.
    pub fn manager<D: Dialect>(&self, dialect: D, policy: Policy) -> TokenManagerBuilder<D> {
        let clock = self.clock.clone();
        oauth_lifecycle_blocking::TokenManager::builder(dialect, policy).clock(move || clock.now())
    }

    /// Moves simulated time on by `by`.
    pub fn advance(&self, by: time::Duration) {
        self.clock.advance(by);
    }

    /// The emulator's statistics.
    pub fn stats(&self) -> ServerStats {
        self.front.with_emulator(|tap| tap.stats().clone())
    }

    /// Makes the emulator's next authentication request meet `failure`.
    pub fn fail_next(&self, failure: InjectedFailure) {
        self.front.with_emulator(|tap| tap.fail_next(failure));
    }

    /// Every token the emulator has issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.front.with_emulator(|tap| tap.issued.clone())
    }

    /// An API call to the emulator's resource server with `token`: its status.
    pub fn call_api(&self, token: &PublishedToken) -> u16 {
        call_api(&self.front.url("/api/profile"), token)
    }
}

/// An API call with `token`'s `Authorization` header: its status.
pub fn call_api(url: &str, token: &PublishedToken) -> u16 {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PATIENCE))
        .build()
        .into();
    agent
        .get(url)
        .header("authorization", token.header_value())
        .call()
        .expect("the resource server answers")
        .status()
        .as_u16()
}

/// An emulator with a tap on its token responses: it records every token issued.
/// Everything else is the emulator's own behaviour.
pub struct Tap<E> {
    pub inner: E,
    pub issued: Vec<String>,
}

impl<E> Tap<E> {
    pub fn new(inner: E) -> Self {
        Tap {
            inner,
            issued: Vec::new(),
        }
    }
}

/// Collects every string under a key that names a token (`token_type` aside).
fn collect_tokens(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                let key = key.to_ascii_lowercase();
                match value {
                    Value::String(token) if key.contains("token") && key != "token_type" => {
                        into.push(token.clone());
                    }
                    _ => collect_tokens(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_tokens(item, into)),
        _ => {}
    }
}

impl<E: Emulator> Emulator for Tap<E> {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        let reply = self.inner.handle(request, now);
        if let Ok(json) = serde_json::from_slice::<Value>(reply.body()) {
            collect_tokens(&json, &mut self.issued);
        }
        reply
    }

    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        self.inner.resource_request(request, now)
    }

    fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool {
        self.inner.is_access_token_valid(token, now)
    }

    fn fail_next(&mut self, failure: InjectedFailure) {
        self.inner.fail_next(failure);
    }

    fn revoke_all(&mut self) {
        self.inner.revoke_all();
    }

    fn stats(&self) -> &ServerStats {
        self.inner.stats()
    }
}

/// A value shared between threads of a test.
pub fn shared<T>(value: T) -> Arc<Mutex<T>> {
    Arc::new(Mutex::new(value))
}

/// Locks a test's shared value, whatever a panicking thread left.
pub fn lock<T>(value: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    value.lock().unwrap_or_else(PoisonError::into_inner)
}
