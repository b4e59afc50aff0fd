//! Persistence: a session stops and resumes exactly; secrets serialize only on request.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{AnySession, Driver, Output, Policy, Snapshot, TransportError};
use oauth_lifecycle_testkit::collect;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-07-01 10:00:00);

fn dialect() -> Standard {
    Standard::builder("https://auth.example.com/token", "client")
        .client_secret("client-secret-value")
        .password("alice", "password-value")
        .revocation_url("https://auth.example.com/revoke")
        .build()
        .unwrap()
}

fn token_response() -> http::Response<Vec<u8>> {
    http::Response::new(
        br#"{"access_token":"access-token-value","refresh_token":"refresh-token-value","token_type":"Bearer","expires_in":600}"#
            .to_vec(),
    )
}

/// A driver that logged in at `NOW`, its outputs drained.
fn logged_in() -> Driver<Standard> {
    let mut driver = Driver::new(dialect(), Policy::default()).unwrap();
    driver.handle_timeout(NOW);
    let Output::Request(login) = driver.poll_output() else {
        panic!("login expected")
    };
    driver
        .handle_response(login.id(), &token_response(), NOW)
        .unwrap();
    collect(&mut driver);
    driver
}

/// A driver that logged in, reached its refresh moment and has the refresh in flight.
fn refreshing() -> (Driver<Standard>, oauth_lifecycle::RequestId) {
    let mut driver = logged_in();
    driver.handle_timeout(NOW + Duration::minutes(9));
    let refresh = collect(&mut driver).only_request();
    (driver, refresh.id())
}

#[test]
fn a_session_resumes_with_its_request_in_flight() {
    let (driver, refresh_id) = refreshing();
    let snapshot = driver.session().snapshot_with_secrets();
    let json = serde_json::to_string(&snapshot).unwrap();

    let restored: Snapshot<()> = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, snapshot);
    let session = AnySession::restore(dialect(), Policy::default(), restored).unwrap();
    assert_eq!(session.snapshot_with_secrets(), snapshot);
    assert_eq!(session.state_name(), "refreshing");

    // The request sent before the restart is lost, and the session says so the first
    // time it is shown the time; until then, a response for it is still accepted (a
    // restore within the process that sent it may still receive one).
    let mut resumed = Driver::from_session(session);
    let now = NOW + Duration::minutes(9);
    assert_eq!(
        resumed.access_token(now).map(|t| t.secret()),
        Some("access-token-value")
    );
    let renewed = http::Response::new(
        br#"{"access_token":"access-token-2","token_type":"Bearer","expires_in":600}"#.to_vec(),
    );
    resumed.handle_response(refresh_id, &renewed, now).unwrap();
    assert_eq!(
        resumed.access_token(now).map(|t| t.secret()),
        Some("access-token-2")
    );
}

#[test]
fn request_ids_keep_increasing_across_a_restore() {
    let (driver, refresh_id) = refreshing();
    let session = AnySession::restore(
        dialect(),
        Policy::default(),
        driver.session().snapshot_with_secrets(),
    )
    .unwrap();
    let mut resumed = Driver::from_session(session);
    resumed.revoke(NOW);
    // The refresh in flight is awaited first; report it lost, then revocation starts.
    resumed
        .handle_transport_error(refresh_id, TransportError::OutcomeUnknown, NOW)
        .unwrap();
    let revoke = collect(&mut resumed).only_request();
    assert!(revoke.id() > refresh_id);
}

#[test]
fn a_redacted_snapshot_holds_no_secret_and_cannot_be_restored() {
    let (driver, _) = refreshing();
    let snapshot = driver.session().snapshot_redacted();
    let json = serde_json::to_string(&snapshot).unwrap();
    for secret in [
        "access-token-value",
        "refresh-token-value",
        "client-secret-value",
        "password-value",
    ] {
        assert!(!json.contains(secret), "{json}");
    }
    assert!(json.contains("[redacted]"));
    assert!(!snapshot.has_secrets());
    assert!(AnySession::restore(dialect(), Policy::default(), snapshot).is_err());
}

#[test]
fn debug_of_sessions_and_snapshots_is_redacted() {
    let (driver, _) = refreshing();
    let shown = format!(
        "{driver:?} {:?} {:?}",
        driver.session(),
        driver.session().snapshot_with_secrets()
    );
    for secret in [
        "access-token-value",
        "refresh-token-value",
        "client-secret-value",
        "password-value",
    ] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

#[test]
fn snapshots_of_an_unknown_format_are_refused() {
    let (driver, _) = refreshing();
    let mut json: serde_json::Value =
        serde_json::to_value(driver.session().snapshot_with_secrets()).unwrap();
    json["format"] = 99.into();
    let snapshot: Snapshot<()> = serde_json::from_value(json).unwrap();
    assert!(AnySession::restore(dialect(), Policy::default(), snapshot).is_err());
}

/// A stored token is announced on restore only if it may still be handed out when the
/// driver first sees the time: one the store held past its hard expiry is never
/// announced (a reader between the announcement and the withdrawal would get a dead
/// token), in every state that holds a token, and the driver renews at once.
#[test]
fn a_token_restored_past_its_hard_expiry_is_never_announced() {
    // (state, driver with a token, how long after NOW the restore happens)
    let active = logged_in();
    let rows = [("active", active), ("refreshing", refreshing().0)];
    for (state, driver) in rows {
        let snapshot = driver.session().snapshot_with_secrets();
        for (later, announced) in [
            (Duration::minutes(5), true),
            (Duration::minutes(10), false),
            (Duration::days(3), false),
        ] {
            let session =
                AnySession::restore(dialect(), Policy::default(), snapshot.clone()).unwrap();
            let mut resumed = Driver::from_session(session);
            if let Some((id, _)) = resumed.in_flight() {
                resumed
                    .handle_transport_error(id, TransportError::OutcomeUnknown, NOW + later)
                    .unwrap();
            }
            resumed.handle_timeout(NOW + later);
            let drained = collect(&mut resumed);
            let (events, requests) = (drained.events, drained.requests.len());
            let restored = events
                .iter()
                .any(|e| matches!(e, oauth_lifecycle::Event::TokenRestored { .. }));
            let withdrawn = events
                .iter()
                .any(|e| matches!(e, oauth_lifecycle::Event::TokenWithdrawn { .. }));
            assert_eq!(restored, announced, "{state}, {later}: {events:?}");
            assert!(
                !withdrawn || announced,
                "{state}, {later}: nothing to withdraw: {events:?}"
            );
            assert_eq!(
                resumed.access_token(NOW + later).is_some(),
                announced,
                "{state}, {later}"
            );
            // (A refresh in flight at the stop is lost: the session backs off first.)
            if !announced && state == "active" {
                assert_eq!(requests, 1, "{state}, {later}: renews at once");
            }
        }
    }
}
