//! A service heals by itself, against a real OAuth server (panva's oidc-provider on
//! 127.0.0.1) whose introspection is the resource server's verdict:
//!
//! - tokens revoked twice within the policy's 401 spacing: the second revocation is
//!   renewed at once, not after the spacing;
//! - a server restarted into a state where it rejects the client, then accepts it again:
//!   the session logs in by itself within the configured pace, without a hot loop.
//!
//! Each scenario runs once per runtime and prints `FIGURE` lines (the outage, the calls
//! that failed) for `docs/performance.md`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use oauth_lifecycle::dialect::{ClientAuth, Standard};
use oauth_lifecycle::time::Duration as Span;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_conformance::{Manager, Runtime, Setup};
use oauth_lifecycle_testkit::{eventually, OidcProvider, Peer, OIDC_POST_CLIENT, PATIENCE};

oauth_lifecycle_conformance::per_runtime!(
    a_second_revocation_soon_after_the_first_is_healed_at_once,
    a_server_restarted_into_rejecting_the_client_is_healed_within_the_pace,
);

/// The callers of the protected API, as in the report: 200, each calling every 100 ms and
/// waiting at most 10 s for a token (`BearerAuth`'s default).
const CALLERS: usize = 200;
const CALL_EVERY: Duration = Duration::from_millis(100);
const TOKEN_WAIT: Duration = Duration::from_secs(10);

fn dialect(peer: &Peer) -> Standard {
    let (id, secret) = OIDC_POST_CLIENT;
    Standard::builder(peer.url("/token"), id)
        .client_secret(secret)
        .client_auth(ClientAuth::Post)
        .build()
        .unwrap()
}

/// A resource server that asks oidc-provider whether a token is active (RFC 7662), and
/// keeps each answer for 250 ms, as resource servers cache introspection.
struct Introspecting<'p> {
    peer: &'p Peer,
    answers: Mutex<HashMap<String, (bool, Instant)>>,
}

impl<'p> Introspecting<'p> {
    fn new(peer: &'p Peer) -> Self {
        Introspecting {
            peer,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a call with `token` is answered 200 (else 401).
    fn accepts(&self, token: &str) -> bool {
        if let Some((active, at)) = self.answers.lock().unwrap().get(token) {
            if at.elapsed() < Duration::from_millis(250) {
                return *active;
            }
        }
        let active = self.peer.oidc_token_active(token);
        self.answers
            .lock()
            .unwrap()
            .insert(token.to_owned(), (active, Instant::now()));
        active
    }
}

/// The calls made, and those that failed (a 401, or no token within the wait).
#[derive(Default)]
struct Calls {
    made: AtomicU64,
    failed: AtomicU64,
}

/// One caller: asks for a token, calls the API, reports a 401.
fn call(manager: &Manager, api: &Introspecting<'_>, calls: &Calls) {
    calls.made.fetch_add(1, Ordering::Relaxed);
    match manager.token(TOKEN_WAIT) {
        Ok(token) if api.accepts(token.secret()) => {}
        Ok(token) => {
            manager.report_unauthorized(token.generation());
            calls.failed.fetch_add(1, Ordering::Relaxed);
        }
        Err(_) => {
            calls.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// 10-s tokens; the server revokes the token in use at 15 s and again at 25 s, while 200
/// callers use the API for 45 s. The second revocation comes 10 s after the first, well
/// within the policy's 30-s `unauthorized_renewal_spacing`: it is renewed at once all the
/// same, since the spacing is measured from the rejected token's age.
fn a_second_revocation_soon_after_the_first_is_healed_at_once(runtime: Runtime) {
    let peer = OidcProvider::new(10).start();
    let manager = runtime.start(Setup::new(dialect(&peer), Policy::default()));
    manager.token(PATIENCE).expect("a first token");
    let api = Introspecting::new(&peer);
    let calls = Calls::default();
    let running = AtomicBool::new(true);
    let started = Instant::now();
    let length = Duration::from_secs(45);
    // Sampled every 50 ms: how long the service had no working token.
    let (mut outage, mut longest) = (Duration::ZERO, Duration::ZERO);
    thread::scope(|scope| {
        for _ in 0..CALLERS {
            scope.spawn(|| {
                while running.load(Ordering::Relaxed) {
                    let next = Instant::now() + CALL_EVERY;
                    call(&manager, &api, &calls);
                    thread::sleep(next.saturating_duration_since(Instant::now()));
                }
            });
        }
        let mut revoked = 0;
        let step = Duration::from_millis(50);
        while started.elapsed() < length {
            let at = started.elapsed();
            let due = [15, 25]
                .iter()
                .filter(|s| at >= Duration::from_secs(**s))
                .count();
            if due > revoked {
                if let Some(token) = manager.with_token(|t| t.secret().to_owned()) {
                    peer.oidc_revoke(&token);
                }
                revoked = due;
            }
            let working = manager
                .with_token(|t| t.secret().to_owned())
                .is_some_and(|token| api.accepts(&token));
            if working {
                outage = Duration::ZERO;
            } else {
                outage += step;
                longest = longest.max(outage);
            }
            thread::sleep(step);
        }
        running.store(false, Ordering::Relaxed);
    });
    let (made, failed) = (calls.made.into_inner(), calls.failed.into_inner());
    println!(
        "FIGURE {runtime:?} two revocations 10 s apart, 10-s tokens, {CALLERS} callers: \
         longest outage {longest:?}, {failed} of {made} calls failed"
    );
    manager.shutdown();
    // A renewal when the revoked token is a second or two old, and a login's round trip.
    assert!(longest <= Duration::from_secs(4), "outage {longest:?}");
    assert!(failed * 20 <= made, "{failed} of {made} calls failed");
}

/// The server is restarted, and for a while knows no client (its own `401
/// invalid_client` to every login), then knows it again. The session, which has no
/// person to call `login()`, tries again by itself at the configured pace: it heals
/// within one step of the pace after the server accepts, and sends a handful of requests
/// meanwhile, not a storm.
fn a_server_restarted_into_rejecting_the_client_is_healed_within_the_pace(runtime: Runtime) {
    let mut options = OidcProvider::new(10);
    let peer = options.start();
    options.port = Some(peer.port());
    let mut policy = Policy::default();
    policy.rejected_login_retry.first_delay = Span::seconds(2);
    policy.rejected_login_retry.max_delay = Span::seconds(4);
    let max_delay = Duration::from_secs(4);
    let manager = runtime.start(Setup::new(dialect(&peer), policy));
    let first = manager.token(PATIENCE).expect("a first token").generation();

    // Restarted without its clients: the renewal (at about 8 s) is rejected.
    drop(peer);
    options.with_clients = false;
    let rejecting = options.start();
    eventually("the renewal is rejected", || {
        !matches!(manager.status(), Status::Ready | Status::Renewing)
    });
    let rejected_at = Instant::now();
    // The server stays in that state for 10 s.
    thread::sleep(Duration::from_secs(10));
    let waiting = manager.status();
    drop(rejecting);
    options.with_clients = true;
    let accepting = options.start();
    let fixed_at = Instant::now();
    let healed = manager.token_newer_than(first, PATIENCE);
    let heal = fixed_at.elapsed();
    let outage = rejected_at.elapsed();
    println!(
        "FIGURE {runtime:?} server rejecting the client for 10 s after a restart: \
         healed {heal:?} after the server accepted again; status while rejected: {waiting}"
    );
    let healed = healed.unwrap_or_else(|error| panic!("not healed: {error}"));
    assert!(
        heal <= max_delay + Duration::from_secs(2),
        "healed after {heal:?}"
    );
    assert!(outage < Duration::from_secs(20), "{outage:?}");
    assert!(healed.generation() > first);
    manager.shutdown();
    drop(accepting);
}
