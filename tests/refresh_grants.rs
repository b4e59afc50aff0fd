//! Refresh grants are kept while the server keeps them and recovered when they die: a
//! refresh refused by the server is a dead grant whatever the server calls it (only
//! `invalid_client` and throttling are not), and a session holding credentials logs in
//! again once, stopping only if that login is refused.

use oauth_lifecycle::dialect::{Grant, Standard};
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{
    AccessToken, AnySession, Driver, Error, Event, Policy, Purpose, RefreshToken, Session, Status,
    TokenRequest, WaitReason,
};
use oauth_lifecycle_testkit::{collect, reply, Drained};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

fn password_dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .password("alice", "alice-password")
        .build()
        .unwrap()
}

fn refresh_only_dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .grant(Grant::RefreshOnly)
        .build()
        .unwrap()
}

/// A session holding tokens obtained elsewhere, with renewal due at `START`.
fn adopted(dialect: Standard) -> Driver<Standard> {
    let grant = TokenGrant {
        access_token: AccessToken::new("at-0".into()),
        refresh_token: Some(RefreshToken::new("rt-0".into())),
        expires: Expiry::In(100),
        refresh_expires: None,
        scope: None,
        extra: (),
    };
    let session = Session::new(dialect, Policy::default())
        .unwrap()
        .adopt(grant, START - Duration::seconds(90))
        .unwrap();
    Driver::from_session(AnySession::from(session))
}

fn token(access: &str, refresh: Option<&str>) -> http::Response<Vec<u8>> {
    let mut body = serde_json::json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 3600,
    });
    if let Some(refresh) = refresh {
        body["refresh_token"] = refresh.into();
    }
    reply(200, &body.to_string())
}

/// A session with renewal due whose refresh is answered with `status` and `body`: the
/// driver, and what it did next.
fn refresh_answered(
    dialect: Standard,
    status: u16,
    body: &str,
) -> (Driver<Standard>, Vec<TokenRequest>, Vec<Event>) {
    let mut driver = adopted(dialect);
    driver.handle_timeout(START);
    let requests = collect(&mut driver).requests;
    assert_eq!(requests[0].purpose(), Purpose::Refresh);
    driver
        .handle_response(requests[0].id(), &reply(status, body), START)
        .unwrap();
    let Drained {
        requests, events, ..
    } = collect(&mut driver);
    (driver, requests, events)
}

/// The refusals a server may answer a dead refresh token with.
const DEAD_GRANT_ANSWERS: [(&str, u16, &str); 8] = [
    ("invalid_grant", 400, r#"{"error":"invalid_grant"}"#),
    ("invalid_request", 400, r#"{"error":"invalid_request"}"#),
    (
        "invalid_request with a description",
        400,
        r#"{"error":"invalid_request","error_description":"refresh token expired"}"#,
    ),
    ("an empty 400", 400, ""),
    ("an empty 401", 401, ""),
    (
        "a 400 without an error code",
        400,
        r#"{"message":"bad token"}"#,
    ),
    (
        "unauthorized_client",
        400,
        r#"{"error":"unauthorized_client"}"#,
    ),
    ("a 403 page", 403, "<html>forbidden</html>"),
];

#[test]
fn a_refused_refresh_is_a_dead_grant_and_a_session_with_credentials_logs_in_once() {
    for (name, status, body) in DEAD_GRANT_ANSWERS {
        let (mut driver, requests, events) = refresh_answered(password_dialect(), status, body);
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Reauthenticating { .. })),
            "{name}: {events:?}"
        );
        assert_eq!(requests.len(), 1, "{name}: one login, at once");
        assert_eq!(requests[0].purpose(), Purpose::Login, "{name}");
        assert!(
            driver.access_token(START).is_some(),
            "{name}: the valid token is still served"
        );
        driver
            .handle_response(requests[0].id(), &token("at-1", Some("rt-1")), START)
            .unwrap();
        collect(&mut driver);
        assert_eq!(driver.status(), Status::Ready, "{name}");
        assert_eq!(driver.access_token(START).unwrap().secret(), "at-1");
    }
}

#[test]
fn a_refused_login_after_a_dead_grant_is_retried_slowly_then_stops() {
    for (name, status, body) in DEAD_GRANT_ANSWERS {
        let (mut driver, requests, _) = refresh_answered(password_dialect(), status, body);
        let refused = reply(400, r#"{"error":"invalid_grant"}"#);
        driver
            .handle_response(requests[0].id(), &refused, START)
            .unwrap();
        let Drained {
            requests, events, ..
        } = collect(&mut driver);
        assert!(requests.is_empty(), "{name}: no second login at once");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::RejectedRetryScheduled { .. })),
            "{name}: {events:?}"
        );
        // A person's password: three more attempts, a minute apart and doubling, then
        // the session stops. No retry storm against a refused login.
        let mut now = START;
        let mut retries = Vec::new();
        for _ in 0..16 {
            let Some(deadline) = driver.next_deadline() else {
                break;
            };
            now = deadline.max(now);
            driver.handle_timeout(now);
            for request in collect(&mut driver).requests {
                retries.push(now);
                driver.handle_response(request.id(), &refused, now).unwrap();
            }
        }
        let gaps: Vec<_> = retries.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(retries.len(), 3, "{name}: {retries:?}");
        assert_eq!(gaps, [2, 4].map(Duration::minutes), "{name}");
        assert!(
            matches!(driver.status(), Status::NeedsLogin { .. }),
            "{name}"
        );
        driver.handle_timeout(now + Duration::hours(2));
        assert!(collect(&mut driver).requests.is_empty(), "{name}");
    }
}

#[test]
fn a_dead_grant_without_credentials_asks_for_reauthentication() {
    for (name, status, body) in DEAD_GRANT_ANSWERS {
        let (driver, requests, events) = refresh_answered(refresh_only_dialect(), status, body);
        assert!(requests.is_empty(), "{name}");
        assert!(
            events.iter().any(|e| matches!(
                e,
                Event::ReauthenticationRequired {
                    error: Error::Reauthenticate { .. }
                }
            )),
            "{name}: {events:?}"
        );
        assert!(driver.access_token(START).is_some(), "{name}: still served");
    }
}

/// `invalid_client` is about the client's own credentials and throttling about pace:
/// neither kills the refresh grant.
#[test]
fn invalid_client_and_throttling_are_not_dead_grants() {
    let cases: [(&str, u16, &str, &str); 3] = [
        (
            "invalid_client",
            401,
            r#"{"error":"invalid_client"}"#,
            "rejected",
        ),
        ("429", 429, "", "throttled"),
        ("slow_down", 400, r#"{"error":"slow_down"}"#, "throttled"),
    ];
    for (name, status, body, outcome) in cases {
        let (driver, requests, events) = refresh_answered(password_dialect(), status, body);
        assert!(requests.is_empty(), "{name}: no login");
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::Reauthenticating { .. })),
            "{name}"
        );
        match outcome {
            // The client's own credentials: retried slowly, the refresh token kept.
            "rejected" => {
                assert!(
                    events
                        .iter()
                        .any(|e| matches!(e, Event::RejectedRetryScheduled { .. })),
                    "{name}: {events:?}"
                );
                assert!(
                    matches!(
                        driver.status(),
                        Status::Waiting {
                            reason: WaitReason::Rejected {
                                attempts_left: None
                            },
                            ..
                        }
                    ),
                    "{name}: {:?}",
                    driver.status()
                );
            }
            _ => assert!(
                matches!(driver.status(), Status::Waiting { reason, .. } if reason.is_throttled()),
                "{name}: {:?}",
                driver.status()
            ),
        }
        // The refresh token survives: the next attempt presents it again.
        let refresh_token = driver.session().tokens().unwrap().refresh_token();
        let kept = refresh_token.map(|t| t.secret().as_str());
        assert_eq!(kept, Some("rt-0"), "{name}");
    }
}

/// A session adopted with only a refresh token goes on refreshing with it while the
/// server issues no replacement, instead of ending after the first refresh.
#[test]
fn an_adopted_refresh_token_serves_again_while_no_replacement_is_issued() {
    let mut driver = adopted(refresh_only_dialect());
    let mut now = START;
    for round in 1..=5 {
        driver.handle_timeout(now);
        let requests = collect(&mut driver).requests;
        assert_eq!(requests.len(), 1, "round {round}");
        assert_eq!(requests[0].purpose(), Purpose::Refresh, "round {round}");
        let body = String::from_utf8(requests[0].request().body().clone()).unwrap();
        assert!(body.contains("refresh_token=rt-0"), "round {round}: {body}");
        driver
            .handle_response(requests[0].id(), &token(&format!("at-{round}"), None), now)
            .unwrap();
        collect(&mut driver);
        assert_eq!(driver.status(), Status::Ready, "round {round}");
        now = driver.next_deadline().unwrap();
    }
}
