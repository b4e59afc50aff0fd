//! The engine every manager runs, played by hand against an in-process emulator. The
//! runtime here is a few lines: store calls run inline, and requests are answered when
//! the test says so, while the engine keeps being polled. It publishes, persists and
//! resumes from its store; two engines sharing a store never both spend one refresh
//! token; time, reports and commands reach the core while a request is out; a stop
//! awaits the request in flight.

use std::sync::Arc;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{
    Generation, Policy, Purpose, Status, TokenKind, TokenRequest, TransportError,
};
use oauth_lifecycle_adapter::{
    Action, ClockSource, Closed, Command, Engine, MemoryStore, SessionStore, StoreCall,
    SUPPLIED_CLOCK_RECHECK,
};
use oauth_lifecycle_emulator::{Emulator, InjectedFailure, StandardServer, StandardServerConfig};
use oauth_lifecycle_testkit::{standard, TraceBuffer, IN_PROCESS};
use proptest::prelude::*;

const START: UtcDateTime = utc_datetime!(2026-10-01 08:00:00);

fn dialect() -> Standard {
    standard(IN_PROCESS)
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_fraction = 0.0;
    policy
}

fn start_with(
    policy: Policy,
    store: Option<&Arc<MemoryStore>>,
    now: UtcDateTime,
) -> Engine<Standard> {
    let store = store.map(|store| Arc::clone(store) as Arc<dyn SessionStore>);
    Engine::start(
        dialect(),
        policy,
        store,
        Arc::new(|| {}),
        ClockSource::Supplied,
        now,
        StoreCall::run,
    )
    .expect("the engine starts")
}

fn start(store: &Arc<MemoryStore>, now: UtcDateTime) -> Engine<Standard> {
    start_with(policy(), Some(store), now)
}

/// The runtime's step: polls, running each store call inline and handing its answer back
/// before polling again, until the engine sends, waits or stops. A request it sends is
/// the caller's to answer, now or later.
fn step(engine: &mut Engine<Standard>, now: UtcDateTime) -> Action {
    for _ in 0..64 {
        match engine.poll(now) {
            Action::Store(call) => engine.handle_store_answer(call.run(), now),
            action => return action,
        }
    }
    panic!("the engine kept asking for the store");
}

/// Plays the runtime until the engine waits or stops, every request answered by the
/// emulator at once. Returns the purposes of what was sent.
fn run(
    engine: &mut Engine<Standard>,
    server: &mut StandardServer,
    now: UtcDateTime,
) -> Vec<Purpose> {
    let mut sent = Vec::new();
    for _ in 0..32 {
        match step(engine, now) {
            Action::Send(request) => {
                sent.push(request.purpose());
                let response = server.handle(request.request(), now);
                engine.handle_response(request.id(), &response, now);
            }
            Action::Wait(_) | Action::Stop => return sent,
            Action::Store(_) => unreachable!("stores run inline"),
        }
    }
    panic!("the engine never settled");
}

/// Steps once, expecting the engine to send.
fn sent(engine: &mut Engine<Standard>, now: UtcDateTime) -> TokenRequest {
    match step(engine, now) {
        Action::Send(request) => request,
        other => panic!("expected a request, got {other:?}"),
    }
}

/// Steps once, expecting the engine to wait.
fn waits(engine: &mut Engine<Standard>, now: UtcDateTime) -> UtcDateTime {
    match step(engine, now) {
        Action::Wait(moment) => moment,
        other => panic!("expected a wait, got {other:?}"),
    }
}

/// Logs in at `START` and returns the engine with its first token published.
fn logged_in(store: Option<&Arc<MemoryStore>>, server: &mut StandardServer) -> Engine<Standard> {
    let mut engine = start_with(policy(), store, START);
    assert_eq!(run(&mut engine, server, START), [Purpose::Login]);
    assert_eq!(engine.cell().generation(), Some(Generation::new(1)));
    engine
}

/// The access token a token response carries.
fn issued_access_token(response: &oauth_lifecycle::http::Response<Vec<u8>>) -> String {
    let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
    body["access_token"].as_str().expect("a token").to_owned()
}

/// Whether `sent` revokes both kinds of token, and sends nothing else.
fn revocations_only(sent: &[Purpose]) -> bool {
    sent.contains(&Purpose::Revoke(TokenKind::Refresh))
        && sent.contains(&Purpose::Revoke(TokenKind::Access))
        && sent
            .iter()
            .all(|purpose| matches!(purpose, Purpose::Revoke(_)))
}

/// The refresh moment: the core's own next moment, not the engine's capped wait.
fn refresh_moment(engine: &Engine<Standard>) -> UtcDateTime {
    engine.driver().next_deadline().expect("a refresh moment")
}

/// Shows a logged-in engine its refresh moment; returns the refresh it sends, and when.
fn refresh_out(engine: &mut Engine<Standard>) -> (TokenRequest, UtcDateTime) {
    let due = refresh_moment(engine);
    engine.handle_timeout(due);
    (sent(engine, due), due)
}

#[test]
fn the_engine_publishes_the_token_and_the_status() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut engine = start(&store, START);
    assert_eq!(run(&mut engine, &mut server, START), [Purpose::Login]);
    let cell = Arc::clone(engine.cell());
    let generation = cell.generation().expect("a published token");
    assert_eq!(cell.status(), Status::Ready);
    assert_eq!(
        store.load().unwrap().map(|stored| stored.generation),
        Some(generation)
    );
    // The core waits for its refresh moment; the engine asks for a supplied clock to be
    // read again sooner.
    assert!(refresh_moment(&engine) > START + Duration::minutes(30));
    assert_eq!(waits(&mut engine, START), START + SUPPLIED_CLOCK_RECHECK);
    // A 401 withdraws it at once, for every reader, and a renewal follows (once the
    // token is a second old: `Policy::unauthorized_spacing`).
    let reported = START + Duration::seconds(1);
    engine.mailbox().report_unauthorized(generation);
    assert_eq!(run(&mut engine, &mut server, reported), [Purpose::Refresh]);
    assert_eq!(cell.generation().map(|g| g > generation), Some(true));
    assert_eq!(cell.status(), Status::Ready);
    assert_eq!(server.stats().token_requests, 2);
}

#[test]
fn a_restarted_engine_resumes_from_its_store_without_logging_in() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let first = logged_in(Some(&store), &mut server);
    let token = first.cell().with(|t| t.secret().to_owned());
    drop(first);

    let later = START + Duration::minutes(5);
    let mut second = start(&store, later);
    let sent = run(&mut second, &mut server, later);
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(second.cell().with(|t| t.secret().to_owned()), token);
    assert_eq!(server.stats().logins, 1);
}

/// A second engine over the same store: the stored token is published, with its status,
/// before `start` returns, and nothing is sent for it.
#[test]
fn start_publishes_a_valid_stored_token_before_returning() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let first = logged_in(Some(&store), &mut server);

    let later = START + Duration::minutes(1);
    let mut second = start(&store, later);
    assert_eq!(second.cell().generation(), first.cell().generation());
    assert_eq!(
        second.cell().with(|t| t.secret().to_owned()),
        first.cell().with(|t| t.secret().to_owned())
    );
    assert_eq!(second.cell().status(), Status::Ready);
    waits(&mut second, later);
    assert_eq!(server.stats().token_requests, 1);
}

#[test]
fn an_engine_restarted_after_sending_a_single_use_refresh_logs_in_instead() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut first = logged_in(Some(&store), &mut server);
    let due = refresh_moment(&first);
    first.handle_timeout(due);
    let refresh = sent(&mut first, due);
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    assert!(!refresh.is_resend_safe());
    // The server receives it and rotates; the process dies before the answer.
    let _ = server.handle(refresh.request(), due);
    drop(first);

    let restarted = due + Duration::seconds(2);
    let mut second = start(&store, restarted);
    let mut sent = run(&mut second, &mut server, restarted);
    // The lost refresh counts as a failure: the login follows its short backoff.
    let retry_at = refresh_moment(&second);
    assert!(retry_at <= restarted + Duration::seconds(1), "{retry_at}");
    second.handle_timeout(retry_at);
    sent.extend(run(&mut second, &mut server, retry_at));
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
fn two_engines_sharing_a_store_never_both_spend_one_refresh_token() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut a = logged_in(Some(&store), &mut server);
    let mut b = start(&store, START);
    run(&mut b, &mut server, START);
    assert_eq!(
        server.stats().logins,
        1,
        "the second process adopted the first's login"
    );

    let due = refresh_moment(&a);
    a.handle_timeout(due);
    b.handle_timeout(due);
    let refresh = sent(&mut a, due);
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    let sent_by_b = run(&mut b, &mut server, due);
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
    let sent_by_b = run(&mut b, &mut server, later);
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
    let mut engine = logged_in(Some(&store), &mut server);
    let (refresh, due) = refresh_out(&mut engine);
    engine.handle_transport_error(refresh.id(), TransportError::NotSent, due);
    waits(&mut engine, due);
    let retry_at = refresh_moment(&engine);
    assert!(retry_at > due, "a backoff");
    engine.handle_timeout(retry_at);
    let retry = sent(&mut engine, retry_at);
    assert_eq!(retry.purpose(), Purpose::Refresh);
    assert_eq!(retry.request().body(), refresh.request().body());
}

/// A token whose hard expiry comes while its renewal is out is served until that moment
/// and withdrawn at it, by the core's own event, with the request still out; the late
/// answer then publishes the new token.
#[test]
fn time_runs_while_a_request_is_out() {
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = Duration::seconds(20);
    let mut server = StandardServer::new(config);
    let mut policy = policy();
    policy.response_timeout = Duration::seconds(30);
    let mut engine = start_with(policy, None, START);
    assert_eq!(run(&mut engine, &mut server, START), [Purpose::Login]);
    let (first, hard_expiry) = engine
        .cell()
        .with(|t| (t.generation(), t.valid_until()))
        .expect("a published token");
    let refresh_at = refresh_moment(&engine);
    assert!(refresh_at < hard_expiry);
    engine.handle_timeout(refresh_at);
    let refresh = sent(&mut engine, refresh_at);
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    assert!(
        refresh.deadline() > hard_expiry,
        "the renewal is still out at the hard expiry"
    );
    assert_eq!(engine.driver().next_deadline(), Some(hard_expiry));

    // The runtime waits on the engine's moments while the request is out, as it must.
    let mut now = refresh_at;
    let mut withdrawn_at = None;
    for _ in 0..10_000 {
        if now > hard_expiry + Duration::seconds(1) {
            break;
        }
        let moment = waits(&mut engine, now);
        assert!(moment > now && moment <= now + SUPPLIED_CLOCK_RECHECK);
        now = moment;
        engine.handle_timeout(now);
        waits(&mut engine, now);
        let core = engine.driver().access_token(now).map(|t| t.generation());
        assert_eq!(engine.cell().generation(), core, "at {now}");
        assert_eq!(
            engine.driver().in_flight().map(|(id, _)| id),
            Some(refresh.id()),
            "the renewal is still out at {now}"
        );
        if now < hard_expiry {
            assert_eq!(core, Some(first), "served until its hard expiry");
        } else if withdrawn_at.is_none() {
            assert_eq!(core, None);
            withdrawn_at = Some(now);
        }
    }
    assert_eq!(withdrawn_at, Some(hard_expiry), "withdrawn at that moment");
    assert_eq!(engine.cell().status(), Status::Renewing);

    // The late answer publishes the new token.
    let late = now + Duration::seconds(2);
    assert!(late < refresh.deadline());
    let response = server.handle(refresh.request(), late);
    engine.handle_response(refresh.id(), &response, late);
    assert!(run(&mut engine, &mut server, late).is_empty());
    assert_eq!(engine.cell().generation(), Some(Generation::new(2)));
    assert_eq!(engine.cell().status(), Status::Ready);
    assert_eq!(server.stats().refresh_token_reuses, 0);
}

/// A revocation asked for while a refresh is out is applied at the next poll: the token
/// goes and the status is Revoked at once, and the command is acknowledged before the
/// refresh is answered. The tokens that answer brings are revoked in turn.
#[test]
fn a_command_during_a_send_is_applied_at_once() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut engine = logged_in(Some(&store), &mut server);
    let (refresh, due) = refresh_out(&mut engine);
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    let held = engine.cell().with(|t| t.secret().to_owned()).unwrap();

    let ack = engine.mailbox().command(Command::Revoke);
    assert_eq!(ack.outcome(), None, "applied at the next poll");
    waits(&mut engine, due);
    assert_eq!(ack.outcome(), Some(Ok(())));
    assert_eq!(engine.cell().status(), Status::Revoked);
    assert_eq!(engine.cell().generation(), None);
    assert_eq!(
        engine.driver().in_flight().map(|(id, _)| id),
        Some(refresh.id()),
        "acknowledged before the refresh is answered"
    );

    let later = due + Duration::seconds(1);
    let response = server.handle(refresh.request(), later);
    let issued = issued_access_token(&response);
    engine.handle_response(refresh.id(), &response, later);
    let sent = run(&mut engine, &mut server, later);
    // The tokens the session held, and the ones the answer brought.
    assert!(revocations_only(&sent), "{sent:?}");
    assert_eq!(engine.cell().generation(), None);
    assert_eq!(engine.cell().status(), Status::Revoked);
    assert!(server.stats().revocations >= 1);
    assert!(!server.is_access_token_valid(&held, later));
    assert!(!server.is_access_token_valid(&issued, later));
}

/// A command's acknowledgement completes once the status it led to is published, not
/// when the command is taken: a renewal's write-ahead save comes in between.
#[test]
fn the_ack_of_a_command_completes_only_after_its_status_is_published() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut engine = logged_in(Some(&store), &mut server);
    let now = START + Duration::minutes(1);
    engine.handle_timeout(now);
    let ack = engine.mailbox().command(Command::Renew);
    let mut saves = 0;
    for _ in 0..16 {
        match engine.poll(now) {
            Action::Store(call) => {
                saves += 1;
                assert_eq!(ack.outcome(), None, "acknowledged before its status");
                assert_eq!(engine.cell().status(), Status::Ready);
                engine.handle_store_answer(call.run(), now);
            }
            Action::Send(request) => {
                assert_eq!(request.purpose(), Purpose::Refresh);
                assert_eq!(engine.cell().status(), Status::Renewing);
                assert_eq!(ack.outcome(), Some(Ok(())));
                assert!(saves >= 1, "a single-use refresh is saved before it leaves");
                return;
            }
            other => panic!("expected the renewal, got {other:?}"),
        }
    }
    panic!("the renewal never left");
}

/// A stop while a single-use refresh is out awaits its answer, stores the result, and
/// only then stops; commands after the stop are refused.
#[test]
fn a_stop_awaits_the_refresh_out_and_stores_its_result() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut engine = logged_in(Some(&store), &mut server);
    let (refresh, due) = refresh_out(&mut engine);

    engine.mailbox().stop(false);
    assert_eq!(
        engine.mailbox().command(Command::Renew).outcome(),
        Some(Err(Closed))
    );
    waits(&mut engine, due);
    assert!(!engine.is_stopped());
    assert!(!engine.cell().is_closed());
    assert_eq!(engine.cell().generation(), Some(Generation::new(1)));

    let later = due + Duration::seconds(1);
    let response = server.handle(refresh.request(), later);
    engine.handle_response(refresh.id(), &response, later);
    let sent = run(&mut engine, &mut server, later);
    assert!(sent.is_empty(), "{sent:?}");
    assert!(engine.is_stopped());
    assert!(matches!(engine.poll(later), Action::Stop));
    assert!(engine.cell().is_closed());
    assert_eq!(engine.cell().generation(), None);
    let stored = store.load().unwrap().expect("a stored session");
    assert_eq!(stored.generation, Generation::new(2));

    // The next start resumes from it.
    let mut next = start(&store, later);
    assert_eq!(next.cell().generation(), Some(Generation::new(2)));
    assert!(run(&mut next, &mut server, later).is_empty());
    assert_eq!(server.stats().refresh_token_reuses, 0);
}

/// While stopping, a login or refresh the session wants is told it was not sent: here the
/// refresh out meets a dead grant, and the login that would follow never leaves.
#[test]
fn a_stop_sends_no_login_or_refresh() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut engine = logged_in(Some(&store), &mut server);
    let (refresh, due) = refresh_out(&mut engine);
    engine.mailbox().stop(false);
    waits(&mut engine, due);

    server.fail_next(InjectedFailure::OAuthError {
        status: 400,
        code: "invalid_grant".into(),
    });
    let later = due + Duration::seconds(1);
    let response = server.handle(refresh.request(), later);
    engine.handle_response(refresh.id(), &response, later);
    let sent = run(&mut engine, &mut server, later);
    assert!(sent.is_empty(), "sent while stopping: {sent:?}");
    assert!(engine.is_stopped());
    assert_eq!(server.stats().token_requests, 2);
}

/// `stop(true)` while a refresh is out: the answer is awaited, then the tokens it brought
/// are revoked, then the engine stops.
#[test]
fn a_stop_with_revocation_revokes_before_stopping() {
    let store = Arc::new(MemoryStore::new());
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut engine = logged_in(Some(&store), &mut server);
    let (refresh, due) = refresh_out(&mut engine);
    let held = engine.cell().with(|t| t.secret().to_owned()).unwrap();
    engine.mailbox().stop(true);
    waits(&mut engine, due);
    assert!(!engine.is_stopped());
    assert_eq!(engine.cell().generation(), None, "withdrawn at once");

    let later = due + Duration::seconds(1);
    let response = server.handle(refresh.request(), later);
    let issued = issued_access_token(&response);
    engine.handle_response(refresh.id(), &response, later);
    let sent = run(&mut engine, &mut server, later);
    // The tokens the session held, and the ones the answer brought.
    assert!(revocations_only(&sent), "{sent:?}");
    assert!(engine.is_stopped(), "stopped after the revocations");
    assert!(engine.cell().is_closed());
    assert!(server.stats().revocations >= 1);
    assert!(!server.is_access_token_valid(&held, later));
    assert!(!server.is_access_token_valid(&issued, later));
}

/// The core's answers to the 401s the engine handed it, from the traces.
fn answers(buffer: &TraceBuffer) -> Vec<String> {
    let output = buffer.text();
    output
        .lines()
        .filter(|line| line.contains("401 reported"))
        .filter_map(|line| line.split("answer=").nth(1))
        .map(|answer| answer.split_whitespace().next().unwrap_or("").to_owned())
        .collect()
}

/// Reports reach the core one by one, and the core's generation rule answers them: a
/// second 401 about the same token (taken after the first) is `AlreadyWithdrawn` and
/// starts no second renewal; one about an older token is `Stale` and changes nothing.
#[test]
fn a_401_reported_twice_reaches_the_core_twice_and_its_rule_answers() {
    let buffer = TraceBuffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(buffer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let mut server = StandardServer::new(StandardServerConfig::default());
        let mut engine = logged_in(None, &mut server);
        let first = Generation::new(1);
        let now = START + Duration::minutes(1);
        engine.handle_timeout(now);

        engine.mailbox().report_unauthorized(first);
        let renewal = sent(&mut engine, now);
        assert_eq!(renewal.purpose(), Purpose::Refresh);
        assert_eq!(engine.cell().generation(), None);
        engine.mailbox().report_unauthorized(first);
        waits(&mut engine, now);
        // A burst before the next poll is one report.
        engine.mailbox().report_unauthorized(first);
        engine.mailbox().report_unauthorized(first);
        waits(&mut engine, now);
        assert_eq!(
            answers(&buffer),
            ["Withdrawn", "AlreadyWithdrawn", "AlreadyWithdrawn"]
        );

        let response = server.handle(renewal.request(), now);
        engine.handle_response(renewal.id(), &response, now);
        assert!(run(&mut engine, &mut server, now).is_empty());
        let second = Generation::new(2);
        assert_eq!(engine.cell().generation(), Some(second));

        engine.mailbox().report_unauthorized(first);
        waits(&mut engine, now);
        assert_eq!(answers(&buffer).last().map(String::as_str), Some("Stale"));
        assert_eq!(engine.cell().generation(), Some(second));
        assert_eq!(engine.cell().status(), Status::Ready);
        assert_eq!(server.stats().token_requests, 2, "one renewal only");
    });
}

/// One input of the runtime or a caller.
#[derive(Debug, Clone)]
enum Input {
    /// Time passes, by this many seconds; the runtime wakes at every moment the engine
    /// or a transport timeout asks for on the way.
    Tick(u32),
    /// Time passes to the next moment the engine or a transport timeout asks for.
    Due,
    /// The answer to a request out (chosen by index) comes.
    Deliver(usize),
    /// A request out fails in transport: never sent (`true`), or processed by the server
    /// and its answer lost on the way (`false`).
    Fail(usize, bool),
    /// The server processes a request out and the answer never comes: the runtime says
    /// nothing, the core's own deadline gives it up.
    Lose(usize),
    /// A 401 about the current token, or the one before it.
    Unauthorized {
        older: bool,
    },
    Command(Command),
    /// The server's next answer is this failure.
    ServerFails(usize),
}

fn inputs() -> impl Strategy<Value = Vec<Input>> {
    let command = prop_oneof![
        3 => Just(Command::Renew),
        2 => Just(Command::Login),
        1 => Just(Command::Revoke),
    ];
    let input = prop_oneof![
        4 => (0u32..200).prop_map(Input::Tick),
        3 => Just(Input::Due),
        4 => (0usize..4).prop_map(Input::Deliver),
        1 => ((0usize..4), any::<bool>()).prop_map(|(i, never)| Input::Fail(i, never)),
        1 => (0usize..4).prop_map(Input::Lose),
        2 => any::<bool>().prop_map(|older| Input::Unauthorized { older }),
        1 => command.prop_map(Input::Command),
        1 => (0usize..6).prop_map(Input::ServerFails),
    ];
    proptest::collection::vec(input, 1..80)
}

fn failure(which: usize) -> InjectedFailure {
    match which {
        0 => InjectedFailure::Status {
            status: 503,
            retry_after: None,
        },
        1 => InjectedFailure::Status {
            status: 429,
            retry_after: Some("7".into()),
        },
        2 => InjectedFailure::OAuthError {
            status: 400,
            code: "invalid_grant".into(),
        },
        3 => InjectedFailure::OAuthError {
            status: 401,
            code: "invalid_client".into(),
        },
        4 => InjectedFailure::Garbage,
        _ => InjectedFailure::Status {
            status: 500,
            retry_after: None,
        },
    }
}

/// The runtime and its world for the property: one engine, its store, the emulator, the
/// requests out (several, when the session gave up on one that is still out).
struct Played {
    engine: Engine<Standard>,
    server: StandardServer,
    now: UtcDateTime,
    out: Vec<TokenRequest>,
}

impl Played {
    fn new() -> Self {
        let mut config = StandardServerConfig::default();
        config.access_token_lifetime = Duration::minutes(2);
        let store = Arc::new(MemoryStore::new());
        let mut played = Played {
            engine: start_with(policy(), Some(&store), START),
            server: StandardServer::new(config),
            now: START,
            out: Vec::new(),
        };
        played.check("at start");
        played.poll();
        played
    }

    /// The read side shows what the core says: the token it hands out at `now`, and its
    /// status.
    fn check(&self, at: &str) {
        let driver = self.engine.driver();
        let cell = self.engine.cell();
        let core = driver
            .access_token(self.now)
            .map(|t| (t.generation(), t.secret().to_owned()));
        let published = cell.with(|t| (t.generation(), t.secret().to_owned()));
        assert_eq!(
            published.as_ref().map(|(g, _)| *g),
            core.as_ref().map(|(g, _)| *g),
            "{at}: the cell's generation is not the core's at {}",
            self.now
        );
        assert_eq!(published, core, "{at}: the cell's token is not the core's");
        assert_eq!(cell.status(), driver.status(), "{at}: the cell's status");
    }

    /// Polls until the engine waits, keeping what it sends out; checks after every send
    /// and wait.
    fn poll(&mut self) {
        for _ in 0..64 {
            match self.engine.poll(self.now) {
                // A store call leaves in the middle of a drain (a write-ahead save comes
                // before its request): the status is published when the drain ends, at
                // the send or the wait.
                Action::Store(call) => {
                    self.engine.handle_store_answer(call.run(), self.now);
                }
                Action::Send(request) => {
                    self.check("sending");
                    self.out.push(request);
                }
                Action::Wait(moment) => {
                    self.check("waiting");
                    assert!(moment > self.now && moment <= self.now + SUPPLIED_CLOCK_RECHECK);
                    return;
                }
                Action::Stop => panic!("stopped unasked"),
            }
        }
        panic!("the engine never waited");
    }

    /// The next moment the engine or a transport timeout asks for, if any.
    fn next_moment(&self) -> Option<UtcDateTime> {
        let transport = self.out.iter().map(TokenRequest::deadline).min();
        [self.engine.driver().next_deadline(), transport]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time passes to `to`: the runtime wakes at every moment on the way, its transport
    /// gives up on the requests whose deadline passed, and the engine sees the time.
    fn advance(&mut self, to: UtcDateTime) {
        for _ in 0..64 {
            let Some(moment) = self.next_moment().filter(|moment| *moment <= to) else {
                break;
            };
            self.now = moment.max(self.now);
            self.wake();
        }
        self.now = to.max(self.now);
        self.wake();
    }

    fn wake(&mut self) {
        let now = self.now;
        let (due, out): (Vec<_>, Vec<_>) = std::mem::take(&mut self.out)
            .into_iter()
            .partition(|request| request.deadline() <= now);
        self.out = out;
        for request in due {
            self.engine
                .handle_transport_error(request.id(), TransportError::OutcomeUnknown, now);
            self.poll();
        }
        self.engine.handle_timeout(now);
        self.poll();
    }

    fn take_out(&mut self, i: usize) -> Option<TokenRequest> {
        if self.out.is_empty() {
            return None;
        }
        let i = i % self.out.len();
        Some(self.out.remove(i))
    }

    fn apply(&mut self, input: &Input) {
        let now = self.now;
        match *input {
            Input::Tick(seconds) => self.advance(now + Duration::seconds(i64::from(seconds))),
            Input::Due => {
                if let Some(moment) = self.next_moment() {
                    self.advance(moment);
                }
            }
            Input::Deliver(i) => {
                let Some(request) = self.take_out(i) else {
                    return;
                };
                let response = self.server.handle(request.request(), now);
                self.engine.handle_response(request.id(), &response, now);
                self.poll();
            }
            Input::Fail(i, never) => {
                let Some(request) = self.take_out(i) else {
                    return;
                };
                let error = if never {
                    TransportError::NotSent
                } else {
                    let _ = self.server.handle(request.request(), now);
                    TransportError::OutcomeUnknown
                };
                self.engine.handle_transport_error(request.id(), error, now);
                self.poll();
            }
            Input::Lose(i) => {
                if let Some(request) = self.take_out(i) {
                    let _ = self.server.handle(request.request(), now);
                }
            }
            Input::Unauthorized { older } => {
                let current = self.engine.driver().session().generation().get();
                let reported = if older {
                    current.saturating_sub(1)
                } else {
                    current
                };
                self.engine
                    .mailbox()
                    .report_unauthorized(Generation::new(reported));
                self.poll();
            }
            Input::Command(command) => {
                let ack = self.engine.mailbox().command(command);
                self.poll();
                assert_eq!(ack.outcome(), Some(Ok(())), "{command:?} applied");
            }
            Input::ServerFails(which) => self.server.fail_next(failure(which)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever happens, after every poll that ends a drain (a send or a wait) the read
    /// side shows exactly what the core says: the token it hands out now (none when it
    /// hands out none) and its status.
    #[test]
    fn the_read_side_changes_only_with_the_core(inputs in inputs()) {
        let mut played = Played::new();
        for input in &inputs {
            played.apply(input);
        }
        prop_assert_eq!(played.server.stats().refresh_token_reuses, 0);
    }
}
