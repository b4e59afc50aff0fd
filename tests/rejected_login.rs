//! A login the token endpoint rejects is tried again by the session itself: slowly, a
//! bounded number of times for a person's password, without limit for the client's own
//! credentials; it heals when the server accepts again, says why it waits, and an
//! explicit login still goes at once.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::{
    AnySession, Driver, Error, Event, Policy, Purpose, Status, TokenRequest, WaitReason,
};
use oauth_lifecycle_testkit::{reply, token_answer, Clocked};
use time::macros::utc_datetime;

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);

/// How token endpoints reject a login: the server that has not loaded its clients yet
/// (an empty 400), a client it does not know, a wrong password, a bare 401, an error
/// object with status 200.
const REJECTIONS: [(&str, u16, &str); 5] = [
    ("empty 400", 400, ""),
    ("invalid_client", 401, r#"{"error":"invalid_client"}"#),
    ("invalid_grant", 400, r#"{"error":"invalid_grant"}"#),
    ("bare 401", 401, ""),
    ("error object with 200", 200, r#"{"error":"invalid_grant"}"#),
];

fn client_credentials() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .build()
        .unwrap()
}

fn password() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .password("alice", "alice-password")
        .build()
        .unwrap()
}

/// A token endpoint that rejects with `status`/`body` before `until`, and issues hour-long
/// tokens from then on.
fn rejecting_until(
    until: UtcDateTime,
    status: u16,
    body: &'static str,
) -> impl FnMut(&TokenRequest, UtcDateTime, usize) -> http::Response<Vec<u8>> {
    move |_, now, n| {
        if now < until {
            reply(status, body)
        } else {
            token_answer(n, 3600)
        }
    }
}

fn start(
    dialect: Standard,
    policy: Policy,
    answer: impl FnMut(&TokenRequest, UtcDateTime, usize) -> http::Response<Vec<u8>> + 'static,
) -> Clocked<Standard> {
    Clocked::start(Driver::new(dialect, policy).unwrap(), START, answer)
}

fn gaps(sent: &[(UtcDateTime, Purpose)]) -> Vec<Duration> {
    sent.windows(2).map(|pair| pair[1].0 - pair[0].0).collect()
}

#[test]
fn the_clients_own_credentials_are_retried_after_a_minute_doubling_to_an_hour() {
    for (name, status, body) in REJECTIONS {
        let mut sim = start(
            client_credentials(),
            Policy::default(),
            rejecting_until(UtcDateTime::MAX, status, body),
        );
        assert!(
            matches!(
                sim.driver.status(),
                Status::Waiting { retry_at, reason: WaitReason::Rejected { attempts_left: None } }
                    if retry_at == START + Duration::minutes(1)
            ),
            "{name}: {:?}",
            sim.driver.status()
        );
        sim.advance(START + Duration::days(2));
        let expected: Vec<Duration> = [1, 2, 4, 8, 16, 32]
            .into_iter()
            .map(Duration::minutes)
            .chain(std::iter::repeat(Duration::hours(1)))
            .take(sim.sent.len() - 1)
            .collect();
        assert_eq!(gaps(&sim.sent), expected, "{name}");
        // Two days: six waits to reach the hour (63 minutes), then one attempt an hour.
        assert_eq!(sim.sent.len(), 1 + 6 + 46, "{name}");
        let scheduled = sim
            .events
            .iter()
            .filter(|e| matches!(e, Event::RejectedRetryScheduled { .. }))
            .count();
        assert_eq!(
            scheduled,
            sim.sent.len(),
            "{name}: each rejection announced"
        );
    }
}

#[test]
fn a_persons_password_is_retried_three_times_then_the_session_stops() {
    for (name, status, body) in REJECTIONS {
        let mut sim = start(
            password(),
            Policy::default(),
            rejecting_until(UtcDateTime::MAX, status, body),
        );
        let mut left = Vec::new();
        for _ in 0..3 {
            let Status::Waiting {
                retry_at,
                reason: WaitReason::Rejected { attempts_left },
            } = sim.driver.status()
            else {
                panic!("{name}: {:?}", sim.driver.status());
            };
            left.push(attempts_left);
            sim.advance(retry_at);
        }
        assert_eq!(left, [Some(2), Some(1), Some(0)], "{name}");
        sim.advance(START + Duration::days(30));
        // The first attempt and three retries: under a lockout threshold of 5.
        assert_eq!(sim.sent.len(), 4, "{name}");
        assert_eq!(gaps(&sim.sent), [1, 2, 4].map(Duration::minutes), "{name}");
        assert!(
            matches!(sim.driver.status(), Status::NeedsLogin { .. }),
            "{name}: {:?}",
            sim.driver.status()
        );
        let last = sim.events.last().unwrap();
        assert!(
            matches!(
                last,
                Event::Rejected { .. } | Event::ReauthenticationRequired { .. }
            ),
            "{name}: {last:?}"
        );
        assert_eq!(sim.settle(), None, "{name}: idle, nothing more by itself");
    }
}

#[test]
fn a_server_that_rejects_then_accepts_is_healed_within_the_pace() {
    for (name, status, body) in REJECTIONS {
        for (dialect, heals_at) in [
            (client_credentials(), Duration::minutes(5)),
            (client_credentials(), Duration::hours(7)),
            (password(), Duration::minutes(2)),
            (password(), Duration::minutes(6)),
        ] {
            let until = START + heals_at;
            let mut sim = start(
                dialect,
                Policy::default(),
                rejecting_until(until, status, body),
            );
            sim.advance(START + Duration::days(1));
            let issued = sim.sent.iter().find(|(at, _)| *at >= until).unwrap().0;
            // The attempt after the server healed came within the pace's cap (and within
            // the doubled delay of the attempt before it).
            assert!(
                issued - until <= Duration::hours(1),
                "{name}: {}",
                issued - until
            );
            assert_eq!(sim.driver.status(), Status::Ready, "{name} at {heals_at}");
            assert!(sim.driver.access_token(sim.now).is_some(), "{name}");
        }
    }
}

#[test]
fn an_explicit_login_goes_at_once_and_starts_the_count_again() {
    let mut sim = start(
        password(),
        Policy::default(),
        rejecting_until(UtcDateTime::MAX, 400, r#"{"error":"invalid_grant"}"#),
    );
    sim.advance(START + Duration::seconds(10));
    assert_eq!(sim.sent.len(), 1);
    sim.driver
        .login(sim.now)
        .expect("not refused: the wait is for a person");
    sim.settle();
    assert_eq!(sim.sent.len(), 2, "sent at once");
    assert!(matches!(
        sim.driver.status(),
        Status::Waiting {
            reason: WaitReason::Rejected {
                attempts_left: Some(2)
            },
            ..
        }
    ));
    // After the attempts ran out, an explicit login still goes, with a new count.
    sim.advance(START + Duration::days(1));
    assert!(matches!(sim.driver.status(), Status::NeedsLogin { .. }));
    let before = sim.sent.len();
    sim.answer_with(|_, _, n| token_answer(n, 3600));
    sim.driver.login(sim.now).unwrap();
    sim.settle();
    assert_eq!(sim.sent.len(), before + 1);
    assert_eq!(sim.driver.status(), Status::Ready);
}

#[test]
fn the_pace_and_the_attempts_are_policy_settings() {
    let mut policy = Policy::default();
    policy.rejected_login_retry.first_delay = Duration::seconds(10);
    policy.rejected_login_retry.max_delay = Duration::seconds(25);
    policy.rejected_login_retry.client_attempts = Some(4);
    let mut sim = start(
        client_credentials(),
        policy,
        rejecting_until(UtcDateTime::MAX, 401, r#"{"error":"invalid_client"}"#),
    );
    sim.advance(START + Duration::days(1));
    assert_eq!(gaps(&sim.sent), [10, 20, 25, 25].map(Duration::seconds));
    assert!(matches!(sim.driver.status(), Status::NeedsLogin { .. }));

    let mut never = Policy::default();
    never.rejected_login_retry.password_attempts = Some(0);
    let mut sim = start(
        password(),
        never,
        rejecting_until(UtcDateTime::MAX, 400, r#"{"error":"invalid_grant"}"#),
    );
    sim.advance(START + Duration::days(1));
    assert_eq!(sim.sent.len(), 1, "a rejected password never retried");

    let mut invalid = Policy::default();
    invalid.rejected_login_retry.max_delay = Duration::seconds(1);
    assert!(Driver::new(password(), invalid).is_err());
}

#[test]
fn the_request_budget_still_paces_the_retries() {
    let mut policy = Policy::default();
    policy.rejected_login_retry.first_delay = Duration::SECOND;
    policy.rejected_login_retry.max_delay = Duration::SECOND;
    let mut sim = start(
        client_credentials(),
        policy.clone(),
        rejecting_until(UtcDateTime::MAX, 400, ""),
    );
    sim.advance(START + Duration::minutes(10));
    let budget = policy.token_request_budget;
    // Both ends of the ten minutes included.
    let most = (10 * budget.requests() + 1) as usize;
    assert!(sim.sent.len() <= most, "{} requests", sim.sent.len());
    for window in sim.sent.windows(budget.requests() as usize + 1) {
        assert!(window[window.len() - 1].0 - window[0].0 >= budget.per());
    }
}

#[test]
fn a_refresh_the_server_rejects_is_retried_slowly_and_the_token_served_meanwhile() {
    let dialect = client_credentials();
    let answer = |request: &TokenRequest, now: UtcDateTime, n: usize| {
        if request.purpose() == Purpose::Refresh {
            reply(401, r#"{"error":"invalid_client"}"#)
        } else if now == START {
            let body = format!(
                r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{n}"}}"#
            );
            reply(200, &body)
        } else {
            reply(401, r#"{"error":"invalid_client"}"#)
        }
    };
    let mut sim = Clocked::start(
        Driver::new(dialect, Policy::default()).unwrap(),
        START,
        answer,
    );
    let refresh_at = sim.driver.session().tokens().unwrap().refresh_at();
    let hard_expiry = sim.driver.session().tokens().unwrap().hard_expiry();
    sim.advance(refresh_at);
    assert!(matches!(
        sim.driver.status(),
        Status::Waiting {
            reason: WaitReason::Rejected { .. },
            ..
        }
    ));
    assert!(sim.driver.access_token(sim.now).is_some(), "still served");
    sim.advance(hard_expiry);
    // One minute, then two, four…: a handful in the token's last minutes, no hot loop.
    assert!(sim.sent.len() <= 6, "{:?}", sim.sent);
}

#[test]
fn a_restart_keeps_the_rejection_count_and_its_wait() {
    let mut sim = start(
        password(),
        Policy::default(),
        rejecting_until(UtcDateTime::MAX, 400, r#"{"error":"invalid_grant"}"#),
    );
    let first = sim.driver.status();
    let Status::Waiting { retry_at, .. } = first else {
        panic!("{first:?}");
    };
    sim.advance(retry_at);
    let status = sim.driver.status();
    let snapshot = sim.driver.session().snapshot_with_secrets();
    let json = serde_json::to_string(&snapshot).unwrap();
    assert!(!json.contains("alice-password"));
    let restored = AnySession::restore(
        password(),
        Policy::default(),
        serde_json::from_str(&json).unwrap(),
    )
    .unwrap();
    let restored = Driver::from_session(restored);
    assert_eq!(restored.status(), status, "the same wait, the same count");
    assert!(matches!(
        status,
        Status::Waiting {
            reason: WaitReason::Rejected {
                attempts_left: Some(1)
            },
            ..
        }
    ));
}

#[test]
fn a_rejection_is_reported_with_its_error() {
    let sim = start(
        password(),
        Policy::default(),
        rejecting_until(UtcDateTime::MAX, 400, r#"{"error":"invalid_grant"}"#),
    );
    let event = sim
        .events
        .iter()
        .find(|e| matches!(e, Event::RejectedRetryScheduled { .. }))
        .unwrap();
    let Event::RejectedRetryScheduled {
        purpose,
        error,
        retry_at,
        attempts_left,
    } = event
    else {
        unreachable!()
    };
    assert_eq!(*purpose, Purpose::Login);
    assert!(matches!(error, Error::Reauthenticate { .. }));
    assert_eq!(*retry_at, START + Duration::minutes(1));
    assert_eq!(*attempts_left, Some(2));
}

#[test]
fn temporary_failures_between_rejections_neither_reset_the_count_nor_slow_the_pace() {
    // A server that rejects the password and, between rejections, is unavailable.
    let mut sim = start(password(), Policy::default(), |_, _, n| {
        if n % 2 == 1 {
            reply(400, r#"{"error":"invalid_grant"}"#)
        } else {
            reply(503, "")
        }
    });
    sim.advance(START + Duration::days(2));
    let rejected = sim
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::RejectedRetryScheduled { .. } | Event::ReauthenticationRequired { .. }
            )
        })
        .count();
    // The first rejection and three retries, each seen by the account: never more.
    assert_eq!(rejected, 4, "{:?}", sim.sent);
    assert!(matches!(sim.driver.status(), Status::NeedsLogin { .. }));
    // A 503 after rejections is retried after the usual short backoff (one failure),
    // not one grown by the rejections before it.
    let gaps = gaps(&sim.sent);
    assert!(gaps[1] <= Policy::default().backoff_initial, "{gaps:?}");
}
