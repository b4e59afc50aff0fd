//! The drain loop every manager shares, driven by hand against an in-process emulator:
//! it publishes, persists, resumes from its store, and two pumps sharing a store never
//! both spend one refresh token.

use std::sync::Arc;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{Policy, Purpose, Status, TransportError};
use oauth_lifecycle_adapter::{Command, MemoryStore, Next, Pump, SessionStore, TokenCell};
use oauth_lifecycle_emulator::{Emulator, StandardServer, StandardServerConfig};

const START: UtcDateTime = utc_datetime!(2026-10-01 08:00:00);

fn dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .revocation_url("http://127.0.0.1/revoke")
        .build()
        .unwrap()
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_fraction = 0.0;
    policy
}

fn start(store: &Arc<MemoryStore>, now: UtcDateTime) -> Pump<Standard> {
    let store: Arc<dyn SessionStore> = Arc::clone(store) as Arc<dyn SessionStore>;
    Pump::start(
        dialect(),
        policy(),
        Arc::new(TokenCell::new()),
        Some(store),
        now,
    )
    .unwrap()
}

/// Sends whatever the pump asks to the emulator until it waits; returns the deadline
/// and the purposes of what was sent.
fn run(
    pump: &mut Pump<Standard>,
    server: &mut StandardServer,
    now: UtcDateTime,
) -> (Option<UtcDateTime>, Vec<Purpose>) {
    let mut sent = Vec::new();
    for _ in 0..32 {
        match pump.next(now) {
            Next::Send(request) => {
                sent.push(request.purpose());
                let response = server.handle(request.request(), now);
                pump.handle_response(request.id(), &response, now);
            }
            Next::Wait(deadline) => return (deadline, sent),
        }
    }
    panic!("the pump never settled");
}

#[test]
fn the_pump_publishes_the_token_and_the_status() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut pump = start(&store, START);
    let (deadline, sent) = run(&mut pump, &mut server, START);
    assert_eq!(sent, [Purpose::Login]);
    let cell = Arc::clone(pump.cell());
    let generation = cell.generation().expect("a published token");
    assert_eq!(cell.status(), Status::Ready);
    assert!(deadline.is_some());
    // A 401 withdraws it at once, for every reader, and a renewal follows.
    pump.handle(Command::Unauthorized(generation), START);
    let (_, sent) = run(&mut pump, &mut server, START);
    assert_eq!(sent, [Purpose::Refresh]);
    assert_eq!(cell.generation().map(|g| g > generation), Some(true));
    assert_eq!(server.stats().token_requests, 2);
}

#[test]
fn a_restarted_pump_resumes_from_its_store_without_logging_in() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut first = start(&store, START);
    run(&mut first, &mut server, START);
    let token = first.cell().with(|t| t.secret().to_owned());
    drop(first);

    let later = START + Duration::minutes(5);
    let mut second = start(&store, later);
    let (_, sent) = run(&mut second, &mut server, later);
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(second.cell().with(|t| t.secret().to_owned()), token);
    assert_eq!(server.stats().logins, 1);
}

#[test]
fn a_pump_restarted_after_sending_a_single_use_refresh_logs_in_instead() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut first = start(&store, START);
    let (deadline, _) = run(&mut first, &mut server, START);
    let due = deadline.unwrap();
    first.handle_timeout(due);
    let Next::Send(refresh) = first.next(due) else {
        panic!("the refresh was due");
    };
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    // The server receives it and rotates; the process dies before the answer.
    let _ = server.handle(refresh.request(), due);
    drop(first);

    let restarted = due + Duration::seconds(2);
    let mut second = start(&store, restarted);
    let (deadline, mut sent) = run(&mut second, &mut server, restarted);
    // The lost refresh counts as a failure: the login follows its short backoff.
    let retry_at = deadline.unwrap();
    assert!(retry_at <= restarted + Duration::seconds(1), "{retry_at}");
    second.handle_timeout(retry_at);
    sent.extend(run(&mut second, &mut server, retry_at).1);
    assert_eq!(
        sent,
        [Purpose::Login],
        "the spent refresh token is never resent"
    );
    assert_eq!(server.stats().refresh_token_reuses, 0);
    assert_eq!(second.cell().status(), Status::Ready);
}

/// Two processes sharing one store reach the refresh moment together: the one whose
/// write-ahead save lands first refreshes; the other adopts its state, sends nothing, and
/// later adopts the new token.
#[test]
fn two_pumps_sharing_a_store_never_both_spend_one_refresh_token() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut a = start(&store, START);
    let (deadline, _) = run(&mut a, &mut server, START);
    let mut b = start(&store, START);
    run(&mut b, &mut server, START);
    assert_eq!(
        server.stats().logins,
        1,
        "the second process adopted the first's login"
    );

    let due = deadline.unwrap();
    a.handle_timeout(due);
    b.handle_timeout(due);
    let Next::Send(refresh) = a.next(due) else {
        panic!("a refreshes");
    };
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    let (_, sent_by_b) = run(&mut b, &mut server, due);
    assert!(
        sent_by_b.is_empty(),
        "b spent the refresh token too: {sent_by_b:?}"
    );
    let response = server.handle(refresh.request(), due);
    a.handle_response(refresh.id(), &response, due);
    run(&mut a, &mut server, due);
    let renewed = a.cell().generation().unwrap();

    // b waits on a's request, which it cannot see answered; past the response deadline it
    // learns from the store that a moved on, and publishes a's token.
    let later = due + Duration::seconds(31);
    b.handle_timeout(later);
    let (_, sent_by_b) = run(&mut b, &mut server, later);
    assert!(sent_by_b.is_empty(), "{sent_by_b:?}");
    assert_eq!(b.cell().generation(), Some(renewed));
    assert_eq!(
        b.cell().with(|t| t.secret().to_owned()),
        a.cell().with(|t| t.secret().to_owned())
    );
    assert_eq!(server.stats().refreshes, 1);
    assert_eq!(server.stats().refresh_token_reuses, 0);
}

#[test]
fn a_transport_error_before_sending_keeps_the_refresh_token_for_the_retry() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut pump = start(&store, START);
    let (deadline, _) = run(&mut pump, &mut server, START);
    let due = deadline.unwrap();
    pump.handle_timeout(due);
    let Next::Send(refresh) = pump.next(due) else {
        panic!("the refresh was due");
    };
    pump.handle_transport_error(refresh.id(), TransportError::NotSent, due);
    let Next::Wait(Some(retry_at)) = pump.next(due) else {
        panic!("a backoff");
    };
    pump.handle_timeout(retry_at);
    let Next::Send(retry) = pump.next(retry_at) else {
        panic!("the retry");
    };
    assert_eq!(retry.purpose(), Purpose::Refresh);
    assert_eq!(retry.request().body(), refresh.request().body());
}
