//! Property test: snapshots of every state, mutated at any field with hostile values,
//! then restored and driven. A snapshot restores or is refused with a typed error; one
//! that restores never panics, never loops, never reuses a request id and never hands a
//! token out past its expiry.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{AnySession, Driver, Policy, RequestId};
use oauth_lifecycle_testkit::collect;
use oauth_lifecycle_testkit::reply;
use proptest::prelude::*;
use serde_json::Value;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

fn dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .password("alice", "alice-password")
        .revocation_url("http://127.0.0.1/revoke")
        .build()
        .unwrap()
}

fn token_body(n: u32) -> String {
    format!(
        r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{n}"}}"#
    )
}

/// Drains until the driver waits; the request in flight and the deadline.
fn settle(
    driver: &mut Driver<Standard>,
) -> (Option<oauth_lifecycle::TokenRequest>, Option<UtcDateTime>) {
    let mut drained = collect(driver);
    (drained.requests.pop(), drained.deadline)
}

/// Snapshots of a session in every state it passes through in a short life: logging
/// in, backing off, active, expiring, refreshing, revoking (awaiting a refresh, retrying),
/// revoked.
fn snapshots() -> Vec<Value> {
    // Each step answers the request in flight (or revokes); time then moves to the next
    // deadline when nothing is in flight. A snapshot is taken after every move.
    let steps: [(u16, String); 8] = [
        (503, String::new()),
        (200, token_body(1)),
        (500, String::new()),
        (0, String::new()), // revoke, while the refresh is in flight
        (503, String::new()),
        (503, String::new()),
        (200, String::new()),
        (200, String::new()),
    ];
    let mut out = Vec::new();
    let mut driver = Driver::new(dialect(), Policy::default()).unwrap();
    let mut now = START;
    driver.handle_timeout(now);
    let (mut in_flight, _) = settle(&mut driver);
    let snapshot = |driver: &Driver<Standard>| {
        serde_json::to_value(driver.session().snapshot_with_secrets()).unwrap()
    };
    out.push(snapshot(&driver));
    for (status, body) in steps {
        if status == 0 {
            driver.revoke(now);
        } else if let Some(request) = in_flight.take() {
            driver
                .handle_response(request.id(), &reply(status, &body), now)
                .unwrap();
        }
        let (request, deadline) = settle(&mut driver);
        out.push(snapshot(&driver));
        in_flight = request;
        if in_flight.is_none() {
            if let Some(at) = deadline {
                now = at.max(now);
                driver.handle_timeout(now);
                in_flight = settle(&mut driver).0;
                out.push(snapshot(&driver));
            }
        }
    }
    let states: std::collections::BTreeSet<String> = out
        .iter()
        .map(|s| s["state"]["state"].as_str().unwrap().to_owned())
        .collect();
    assert!(states.len() >= 7, "states covered: {states:?}");
    out
}

/// Every path to a leaf of `value`.
fn leaves(value: &Value, path: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let mut path = path.clone();
                path.push(key.clone());
                leaves(child, path, out);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                let mut path = path.clone();
                path.push(index.to_string());
                leaves(child, path, out);
            }
        }
        _ => out.push(path),
    }
}

fn set(value: &mut Value, path: &[String], new: Value) {
    let mut at = value;
    for key in path {
        at = match at {
            Value::Object(map) => map.get_mut(key).unwrap(),
            Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
            _ => unreachable!("paths lead through objects and arrays"),
        };
    }
    *at = new;
}

fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::from(u64::MAX)),
        Just(Value::from(u64::MAX - 1)),
        Just(Value::from(i64::MIN)),
        Just(Value::from(0)),
        Just(Value::from(1)),
        Just(Value::from(u32::MAX)),
        Just(Value::Null),
        Just(Value::from("")),
        Just(Value::from("-9999-01-01 00:00:00.0")),
        Just(Value::from("9999-12-31 23:59:59.999999999")),
        Just(Value::from("1970-01-01 00:00:00.0")),
        Just(Value::from("2026-09-01 00:00:00.0")),
        Just(Value::from("2026-08-31 23:00:00.0")),
        Just(Value::from("abc def, Basic Zm9v")),
        Just(Value::from("refresh")),
        Just(Value::from(true)),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::from),
    ]
}

#[derive(Debug, Clone)]
enum Input {
    Timeout(i64),
    Answer(u16),
    Lost,
    Unauthorized,
    Login,
    Revoke,
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        prop_oneof![0_i64..120, 0_i64..86_400, Just(400 * 86_400)].prop_map(Input::Timeout),
        prop_oneof![Just(200_u16), Just(400), Just(429), Just(503)].prop_map(Input::Answer),
        Just(Input::Lost),
        Just(Input::Unauthorized),
        Just(Input::Login),
        Just(Input::Revoke),
    ]
}

/// 2,000 cases by default; `PROPTEST_CASES` overrides.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn mutated_snapshots_restore_or_are_refused_and_never_misbehave(
        which in any::<prop::sample::Index>(),
        field in any::<prop::sample::Index>(),
        value in hostile_value(),
        inputs in proptest::collection::vec(input(), 1..12),
    ) {
        let all = snapshots();
        let mut snapshot = which.get(all.as_slice()).clone();
        let mut paths = Vec::new();
        leaves(&snapshot, Vec::new(), &mut paths);
        let path: &Vec<String> = field.get(&paths);
        set(&mut snapshot, path, value);
        let Ok(parsed) = serde_json::from_value(snapshot) else {
            return Ok(());
        };
        let Ok(session) = AnySession::restore(dialect(), Policy::default(), parsed) else {
            return Ok(());
        };
        let mut driver = Driver::from_session(session);
        let mut now = START + Duration::hours(2);
        let mut issued: Vec<RequestId> = driver.in_flight().map(|(id, _)| id).into_iter().collect();
        let mut n = 100;
        for input in inputs {
            match input {
                Input::Timeout(seconds) => {
                    now += Duration::seconds(seconds);
                    driver.handle_timeout(now);
                }
                Input::Answer(status) => {
                    if let Some((id, _)) = driver.in_flight() {
                        n += 1;
                        let body = if status == 200 { token_body(n) } else { String::new() };
                        driver.handle_response(id, &reply(status, &body), now).unwrap();
                    }
                }
                Input::Lost => {
                    if let Some((id, _)) = driver.in_flight() {
                        driver
                            .handle_transport_error(id, oauth_lifecycle::TransportError::OutcomeUnknown, now)
                            .unwrap();
                    }
                }
                Input::Unauthorized => {
                    let generation = driver.session().generation();
                    let _ = driver.handle_unauthorized(generation, now);
                }
                Input::Login => {
                    let _ = driver.login(now);
                }
                Input::Revoke => driver.revoke(now),
            }
            // The drain loop, with a bound: a deadline at or before `now` is cleared by
            // showing the session the time, within a few rounds.
            for round in 0.. {
                prop_assert!(round < 16, "a hot loop at {now}");
                let (request, deadline) = settle(&mut driver);
                if let Some(request) = request {
                    prop_assert!(!issued.contains(&request.id()), "request id reused");
                    issued.push(request.id());
                }
                match deadline {
                    Some(at) if at <= now => driver.handle_timeout(now),
                    _ => break,
                }
            }
            if let Some(token) = driver.access_token(now) {
                prop_assert!(token.valid_until() > now);
                let tokens = driver.session().tokens().unwrap();
                prop_assert!(token.valid_until() <= tokens.expires_at());
            }
        }
    }
}
