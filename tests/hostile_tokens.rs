//! Hostile access tokens and snapshots get typed errors, never a header that says more
//! than the server meant, a panic, a reused request id or a token handed out for years.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::error::Malformed;
use oauth_lifecycle::{AccessToken, AnySession, BearerToken, ConfigError, Driver, Output, Policy};
use oauth_lifecycle_testkit::collect;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

/// RFC 6750 §2.1 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
#[test]
fn access_tokens_outside_b64token_syntax_are_refused() {
    let accepted = [
        "abc",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln-_~+/",
        "YWJj==",
        "a.b.c",
        "9f3c1b2e-4c5d-4e6f-8a9b-0c1d2e3f4a5b",
    ];
    for token in accepted {
        assert!(
            BearerToken::new(AccessToken::new(token.into())).is_ok(),
            "{token:?}"
        );
    }
    let refused = [
        "abc def, Basic Zm9vOmJhcg==",
        "abc def",
        "abc,def",
        "\"abc\"",
        "abc\r\nX-Injected: 1",
        "abc\tdef",
        "jeton-é",
        "abc;def",
        "=abc",
        "=",
        "abc=def",
        "abc\0",
        "[redacted]",
    ];
    for token in refused {
        assert_eq!(
            BearerToken::new(AccessToken::new(token.into())).err(),
            Some(Malformed::InvalidAccessToken),
            "{token:?}"
        );
    }
}

/// A server answering with such a token is refused like any malformed answer: the
/// session retries later and nothing lands in an `Authorization` header.
#[test]
fn a_login_answered_with_a_hostile_token_is_refused_and_retried() {
    let dialect = Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .build()
        .unwrap();
    let mut driver = Driver::new(dialect, Policy::default()).unwrap();
    driver.handle_timeout(START);
    let Output::Request(login) = driver.poll_output() else {
        panic!("a login");
    };
    let body =
        r#"{"access_token":"abc def, Basic Zm9vOmJhcg==","token_type":"Bearer","expires_in":60}"#;
    let response = http::Response::new(body.as_bytes().to_vec());
    driver
        .handle_response(login.id(), &response, START)
        .unwrap();
    assert!(driver.access_token(START).is_none());
    assert!(matches!(
        driver.status(),
        oauth_lifecycle::Status::Waiting { .. }
    ));
}

fn dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .password("alice", "alice-password")
        .build()
        .unwrap()
}

/// A snapshot of a session logged in at `START`, with a refresh in flight, as JSON.
fn refreshing_snapshot() -> serde_json::Value {
    let mut driver = Driver::new(dialect(), Policy::default()).unwrap();
    driver.handle_timeout(START);
    let Output::Request(login) = driver.poll_output() else {
        panic!("a login");
    };
    let body =
        r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}"#;
    driver
        .handle_response(
            login.id(),
            &http::Response::new(body.as_bytes().to_vec()),
            START,
        )
        .unwrap();
    let due = START + Duration::minutes(50);
    driver.handle_timeout(due);
    collect(&mut driver);
    assert!(driver.in_flight().is_some());
    serde_json::to_value(driver.session().snapshot_with_secrets()).unwrap()
}

fn restore(json: &serde_json::Value) -> Result<AnySession<Standard>, ConfigError> {
    let snapshot = serde_json::from_value(json.clone()).expect("well-formed JSON");
    AnySession::restore(dialect(), Policy::default(), snapshot)
}

/// Each corruption of a valid snapshot, and the typed error it gets.
#[test]
fn inconsistent_snapshots_are_refused_with_a_typed_error() {
    let valid = refreshing_snapshot();
    assert!(restore(&valid).is_ok());
    type Corruption = fn(&mut serde_json::Value);
    let cases: [(&str, Corruption); 8] = [
        ("request counter near u64::MAX", |s| {
            s["next_id"] = u64::MAX.into()
        }),
        ("request counter zero", |s| s["next_id"] = 0.into()),
        ("id in flight not yet issued", |s| {
            let id = s["state"]["flight"]["id"].as_u64().unwrap();
            s["next_id"] = id.into();
        }),
        ("generation behind its token", |s| {
            s["generation"] = 0.into()
        }),
        ("token generation zero", |s| {
            s["state"]["tokens"]["generation"] = 0.into()
        }),
        ("expiry before issue", |s| {
            s["state"]["tokens"]["expires_at"] = "2026-08-01 00:00:00.0".into()
        }),
        ("a lifetime of centuries", |s| {
            s["state"]["tokens"]["expires_at"] = "2526-08-01 00:00:00.0".into()
        }),
        ("a response deadline a year out", |s| {
            s["state"]["flight"]["deadline"] = "2027-09-01 00:00:00.0".into()
        }),
    ];
    for (name, corrupt) in cases {
        let mut snapshot = valid.clone();
        corrupt(&mut snapshot);
        let error = restore(&snapshot).err();
        assert!(
            matches!(error, Some(ConfigError::InconsistentSnapshot { .. })),
            "{name}: {error:?}"
        );
    }
}

/// A hard expiry edited to disagree with the expiry is not trusted: it is derived again,
/// and the token is not handed out past its real expiry.
#[test]
fn derived_moments_are_derived_again_on_restore() {
    let mut snapshot = refreshing_snapshot();
    snapshot["state"]["tokens"]["hard_expiry"] = "2036-09-01 00:00:00.0".into();
    snapshot["state"]["tokens"]["refresh_at"] = "2036-09-01 00:00:00.0".into();
    let session = restore(&snapshot).unwrap();
    let tokens = session.tokens().unwrap();
    assert_eq!(tokens.hard_expiry(), START + Duration::seconds(3595));
    assert!(tokens.refresh_at() < tokens.hard_expiry());
    assert!(session.access_token(START + Duration::hours(2)).is_none());
}

/// A failure kept in a snapshot (why the session stopped) is a server's words: an edited
/// snapshot cannot smuggle a credential into the session's output through it.
#[test]
fn a_halt_restored_from_a_snapshot_is_scrubbed_and_cut() {
    let mut snapshot = refreshing_snapshot();
    let tokens = snapshot["state"]["tokens"].clone();
    let long = format!("{}alice-password{}", "x".repeat(100), "y".repeat(400));
    snapshot["state"] = serde_json::json!({
        "state": "expiring",
        "tokens": tokens,
        "backoff": { "failures": 1, "retry_at": null, "throttled": false },
        "halt": { "reauthenticate": {
            "kind": "o_auth", "status": 400, "code": long,
            "description": format!("{long} client-secret at-1"), "retry_after": null,
        }},
    });
    let session = restore(&snapshot).unwrap();
    let shown = format!(
        "{:?} {}",
        session,
        serde_json::to_string(&session.snapshot_redacted()).unwrap()
    );
    for secret in ["alice-password", "client-secret", "at-1"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(!shown.contains(&"y".repeat(300)), "cut to size");
}

/// The granted `scope` is the server's text and shows in `Debug` and redacted snapshots:
/// one that echoes a credential or a token is not kept.
#[test]
fn a_granted_scope_that_echoes_a_secret_is_not_kept() {
    let basic = "Y2xpZW50OmNsaWVudC1zZWNyZXQ="; // client:client-secret
    for (scope, kept) in [
        ("read write", true),
        ("read client-secret", false),
        ("alice-password", false),
        ("alice%2Dpassword", true),
        ("read at-1", false),
        ("rt-1", false),
        (basic, false),
    ] {
        let mut driver = Driver::new(dialect(), Policy::default()).unwrap();
        driver.handle_timeout(START);
        let Output::Request(login) = driver.poll_output() else {
            panic!("a login");
        };
        let body = serde_json::json!({
            "access_token": "at-1", "token_type": "Bearer", "expires_in": 3600,
            "refresh_token": "rt-1", "scope": scope,
        });
        let response = http::Response::new(body.to_string().into_bytes());
        driver
            .handle_response(login.id(), &response, START)
            .unwrap();
        let tokens = driver.session().tokens().expect("logged in");
        let expected = if kept { scope } else { "[redacted]" };
        assert_eq!(tokens.scope(), Some(expected), "{scope}");
    }
}

/// The same on a refresh: the scope may not echo the tokens being renewed, including a
/// refresh token the answer leaves in use.
#[test]
fn a_refresh_scope_that_echoes_the_tokens_being_renewed_is_not_kept() {
    let snapshot = refreshing_snapshot();
    let session = restore(&snapshot).unwrap();
    let mut driver = Driver::from_session(session);
    let (id, _) = driver.in_flight().expect("the refresh in flight");
    let body = r#"{"access_token":"at-2","token_type":"Bearer","expires_in":3600,"scope":"read rt-1 at-1"}"#;
    let now = START + Duration::minutes(50);
    driver
        .handle_response(id, &http::Response::new(body.as_bytes().to_vec()), now)
        .unwrap();
    let tokens = driver.session().tokens().expect("renewed");
    assert_eq!(tokens.access_token(), "at-2");
    assert_eq!(
        tokens.refresh_token().map(|t| t.secret().as_str()),
        Some("rt-1")
    );
    assert_eq!(tokens.scope(), Some("[redacted]"));
}
