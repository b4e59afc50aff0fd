//! The device authorization grant (RFC 8628) as the session runs it: the prompt, polling on
//! its own deadlines, `authorization_pending`, `slow_down`, `expired_token`,
//! `access_denied`, every number the server sends bounded, polling within the request
//! budget, and the device code kept secret. Against the standard emulator for the whole
//! flow, and against scripted answers for every class of answer a server may give.

use oauth_lifecycle::dialect::{Grant, Standard};
use oauth_lifecycle::{
    Driver, Error, Event, LoginPrompt, Output, PersonLoginEnd, Policy, Purpose, Status,
    TokenRequest, TransportError, MIN_POLL_INTERVAL, SLOW_DOWN_STEP,
};
use oauth_lifecycle_testkit::emulator::{StandardServer, StandardServerConfig};
use oauth_lifecycle_testkit::{collect, drain, reply, Drained};
use proptest::prelude::*;
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-03-01 08:00:00);
const PUBLIC: &str = "emulated-public-client";
const DEVICE_CODE: &str = "device-code-0123456789-secret";

fn dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", PUBLIC)
        .grant(Grant::DeviceCode)
        .device_authorization_url("http://127.0.0.1/device_authorization")
        .revocation_url("http://127.0.0.1/revoke")
        .scope("api")
        .build()
        .expect("a valid configuration")
}

fn driver() -> Driver<Standard> {
    Driver::new(dialect(), Policy::default()).expect("a valid policy")
}

fn prompt_of(drained: &Drained) -> oauth_lifecycle::DevicePrompt {
    drained
        .events
        .iter()
        .find_map(|event| match event {
            Event::LoginPrompt(LoginPrompt::EnterCode(prompt)) => Some(prompt.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a device prompt among {:?}", drained.events))
}

fn ended_with(drained: &Drained) -> Option<PersonLoginEnd> {
    drained.events.iter().find_map(|event| match event {
        Event::PersonLoginEnded {
            error: Error::PersonLogin { ended, .. },
        } => *ended,
        _ => None,
    })
}

#[test]
fn a_device_login_prompts_polls_until_approved_then_refreshes_and_revokes() {
    let mut server = StandardServer::new(StandardServerConfig::default());
    let mut driver = driver();
    driver.handle_timeout(NOW);
    assert!(
        matches!(
            driver.status(),
            Status::NeedsLogin {
                error: Error::PersonLogin { ended: None, .. }
            }
        ),
        "a person login is never started by the session: {:?}",
        driver.status()
    );
    assert!(matches!(driver.poll_output(), Output::Idle));

    driver.authorize_device(NOW).expect("a device login starts");
    let drained = drain(&mut driver, &mut server, NOW);
    let prompt = prompt_of(&drained);
    assert_eq!(server.pending_user_codes(), vec![prompt.user_code.clone()]);
    assert!(prompt.verification_uri.starts_with("http://127.0.0.1"));
    assert!(matches!(driver.status(), Status::AwaitingPerson { .. }));
    let first_poll = drained.deadline.expect("a poll is scheduled");
    assert_eq!(
        first_poll,
        NOW + Duration::seconds(5),
        "the server's interval"
    );

    // Not approved yet: authorization_pending, and the next poll one interval later.
    driver.handle_timeout(first_poll);
    let drained = drain(&mut driver, &mut server, first_poll);
    assert_eq!(drained.requests.len(), 1);
    let second_poll = drained.deadline.unwrap();
    assert_eq!(second_poll, first_poll + Duration::seconds(5));
    assert!(driver.access_token(second_poll).is_none());

    assert!(server.approve_user_code(&prompt.user_code));
    driver.handle_timeout(second_poll);
    let drained = drain(&mut driver, &mut server, second_poll);
    assert!(
        drained.events.iter().any(|e| matches!(
            e,
            Event::TokenIssued {
                via: Purpose::Login,
                ..
            }
        )),
        "{:?}",
        drained.events
    );
    assert!(driver.access_token(second_poll).is_some());
    assert_eq!(driver.status(), Status::Ready);

    // Renewal refreshes.
    let later = drained.deadline.expect("a refresh moment");
    driver.handle_timeout(later);
    let drained = drain(&mut driver, &mut server, later);
    assert!(drained.events.iter().any(|e| matches!(
        e,
        Event::TokenIssued {
            via: Purpose::Refresh,
            ..
        }
    )));

    driver.revoke(later);
    let drained = drain(&mut driver, &mut server, later);
    assert!(drained.events.contains(&Event::Revoked));
}

#[test]
fn a_denied_or_expired_device_login_ends_with_its_reason_and_no_further_polls() {
    for (deny, ended) in [
        (true, PersonLoginEnd::Denied),
        (false, PersonLoginEnd::Expired),
    ] {
        let mut server = StandardServer::new(StandardServerConfig::default());
        let mut driver = driver();
        driver.authorize_device(NOW).unwrap();
        let drained = drain(&mut driver, &mut server, NOW);
        let prompt = prompt_of(&drained);
        if deny {
            assert!(server.deny_user_code(&prompt.user_code));
        }
        let mut now = NOW;
        let mut polls = 0;
        let mut end = None;
        for _ in 0..1000 {
            let Some(deadline) = driver.next_deadline() else {
                break;
            };
            now = deadline;
            driver.handle_timeout(now);
            let drained = drain(&mut driver, &mut server, now);
            polls += drained.requests.len();
            if let Some(reason) = ended_with(&drained) {
                end = Some(reason);
                break;
            }
        }
        assert_eq!(end, Some(ended), "deny: {deny}");
        assert!(matches!(
            driver.status(),
            Status::NeedsLogin { error: Error::PersonLogin { ended: Some(e), .. } } if e == ended
        ));
        assert!(driver.next_deadline().is_none(), "no polling after the end");
        if !deny {
            // The emulator's codes live 10 minutes: about 120 polls at 5 s, never more
            // than the interval allows.
            assert!(polls <= 121, "{polls} polls");
            assert!(now <= prompt.expires_at + Duration::seconds(30));
        }
    }
}

// ---- scripted answers --------------------------------------------------------------------

fn device_answer(interval: Option<&str>, expires_in: &str) -> http::Response<Vec<u8>> {
    let interval = interval.map_or(String::new(), |i| format!(r#","interval":{i}"#));
    reply(
        200,
        &format!(
            r#"{{"device_code":"{DEVICE_CODE}","user_code":"WDJB-MJHT","verification_uri":"https://auth.example.com/device","verification_uri_complete":"https://auth.example.com/device?user_code=WDJB-MJHT","expires_in":{expires_in}{interval}}}"#
        ),
    )
}

/// A driver awaiting approval at NOW, started with `answer`; the requests it sent.
fn started(answer: http::Response<Vec<u8>>) -> (Driver<Standard>, Drained) {
    let mut driver = driver();
    driver.authorize_device(NOW).unwrap();
    let request = collect(&mut driver).only_request();
    driver.handle_response(request.id(), &answer, NOW).unwrap();
    let drained = collect(&mut driver);
    (driver, drained)
}

/// Runs the driver to its next deadline and answers the poll it sends with `answer`;
/// returns the moment and what came out after the answer.
fn poll_answered(
    driver: &mut Driver<Standard>,
    answer: &http::Response<Vec<u8>>,
) -> (UtcDateTime, TokenRequest, Drained) {
    let at = driver.next_deadline().expect("a poll is due later");
    driver.handle_timeout(at);
    let request = collect(driver).only_request();
    driver.handle_response(request.id(), answer, at).unwrap();
    (at, request, collect(driver))
}

fn oauth_error(status: u16, code: &str) -> http::Response<Vec<u8>> {
    reply(
        status,
        &format!(r#"{{"error":"{code}","error_description":"echo {DEVICE_CODE}"}}"#),
    )
}

#[test]
fn the_device_authorization_and_polls_are_the_rfc_8628_requests() {
    let mut driver = driver();
    driver.authorize_device(NOW).unwrap();
    let request = collect(&mut driver).only_request();
    assert_eq!(
        request.request().uri(),
        "http://127.0.0.1/device_authorization"
    );
    assert_eq!(
        request.request().body(),
        b"scope=api&client_id=emulated-public-client"
    );
    driver
        .handle_response(request.id(), &device_answer(Some("7"), "600"), NOW)
        .unwrap();
    let (at, poll, _) = poll_answered(&mut driver, &oauth_error(400, "authorization_pending"));
    assert_eq!(at, NOW + Duration::seconds(7));
    assert_eq!(poll.purpose(), Purpose::Login);
    assert_eq!(
        String::from_utf8_lossy(poll.request().body()),
        format!("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code={DEVICE_CODE}&client_id=emulated-public-client")
    );
}

#[test]
fn slow_down_adds_five_seconds_each_time_up_to_the_policy_bound() {
    let (mut driver, _) = started(device_answer(Some("5"), "3600"));
    let mut interval = Duration::seconds(5);
    let mut previous = NOW;
    for _ in 0..3 {
        let (at, _, _) = poll_answered(&mut driver, &oauth_error(400, "slow_down"));
        assert_eq!(at - previous, interval);
        interval += SLOW_DOWN_STEP;
        previous = at;
    }
    assert_eq!(driver.next_deadline(), Some(previous + interval));
    // Pending keeps the slower interval.
    let (at, _, _) = poll_answered(&mut driver, &oauth_error(400, "authorization_pending"));
    assert_eq!(at - previous, interval);
    assert_eq!(driver.next_deadline(), Some(at + interval));
}

#[test]
fn every_interval_and_lifetime_a_server_sends_is_bounded() {
    let policy = Policy::default();
    // (interval as sent, the wait before the first poll)
    let intervals: [(Option<&str>, Duration); 6] = [
        (None, Duration::seconds(5)),
        (Some("0"), MIN_POLL_INTERVAL),
        (Some("\"3\""), Duration::seconds(3)),
        (Some("4294967295"), policy.max_retry_after),
        (Some("9223372036854775807"), policy.max_retry_after),
        (Some("1e300"), Duration::ZERO),
    ];
    for (interval, wait) in intervals {
        let mut driver = driver();
        driver.authorize_device(NOW).unwrap();
        let request = collect(&mut driver).only_request();
        driver
            .handle_response(request.id(), &device_answer(interval, "600"), NOW)
            .unwrap();
        let drained = collect(&mut driver);
        if wait == Duration::ZERO {
            // Unreadable: the login ends, typed, and nothing is polled.
            assert_eq!(
                ended_with(&drained),
                Some(PersonLoginEnd::Refused),
                "{interval:?}"
            );
            continue;
        }
        let first = drained.deadline.expect("a poll");
        // The code lives 10 minutes: a wait beyond it is cut by the expiry.
        assert_eq!(
            first,
            (NOW + wait).min(NOW + Duration::minutes(10)),
            "{interval:?}"
        );
    }
    // expires_in: cut to the policy's person_login_timeout.
    for (expires_in, lifetime) in [
        ("600", Duration::minutes(10)),
        ("4294967295", policy.person_login_timeout),
        ("\"1800\"", policy.person_login_timeout),
    ] {
        let (_, drained) = started(device_answer(None, expires_in));
        assert_eq!(
            prompt_of(&drained).expires_at,
            NOW + lifetime,
            "{expires_in}"
        );
    }
    for expires_in in ["0", "-5", "\"soon\"", "null"] {
        let (driver, drained) = started(device_answer(None, expires_in));
        assert_eq!(
            ended_with(&drained),
            Some(PersonLoginEnd::Refused),
            "{expires_in}"
        );
        assert!(driver.next_deadline().is_none());
    }
}

#[test]
fn each_poll_answer_leads_where_rfc_8628_says() {
    enum Then {
        Waits(Duration),
        Ends(PersonLoginEnd),
        LoggedIn,
    }
    let token = reply(
        200,
        r#"{"access_token":"person-access-token","token_type":"Bearer","expires_in":3600,"refresh_token":"person-refresh-token"}"#,
    );
    let cases: Vec<(&str, http::Response<Vec<u8>>, Then)> = vec![
        (
            "pending",
            oauth_error(400, "authorization_pending"),
            Then::Waits(Duration::seconds(5)),
        ),
        (
            "slow_down",
            oauth_error(400, "slow_down"),
            Then::Waits(Duration::seconds(10)),
        ),
        (
            "expired",
            oauth_error(400, "expired_token"),
            Then::Ends(PersonLoginEnd::Expired),
        ),
        (
            "denied",
            oauth_error(400, "access_denied"),
            Then::Ends(PersonLoginEnd::Denied),
        ),
        (
            "invalid_client",
            oauth_error(401, "invalid_client"),
            Then::Ends(PersonLoginEnd::Refused),
        ),
        (
            "invalid_grant",
            oauth_error(400, "invalid_grant"),
            Then::Ends(PersonLoginEnd::Refused),
        ),
        (
            "bare 400",
            reply(400, "no"),
            Then::Ends(PersonLoginEnd::Refused),
        ),
        // Temporary: the backoff (1 s after one failure) is shorter than the interval.
        ("503", reply(503, "busy"), Then::Waits(Duration::seconds(5))),
        (
            "not json 200",
            reply(200, "<html>"),
            Then::Waits(Duration::seconds(5)),
        ),
        (
            "429 retry-after",
            {
                let mut r = reply(429, "slow");
                r.headers_mut().insert("retry-after", "60".parse().unwrap());
                r
            },
            Then::Waits(Duration::seconds(60)),
        ),
        ("tokens", token, Then::LoggedIn),
    ];
    for (name, answer, then) in cases {
        let (mut driver, _) = started(device_answer(None, "600"));
        let (at, _, drained) = poll_answered(&mut driver, &answer);
        match then {
            Then::Waits(wait) => {
                assert_eq!(driver.next_deadline(), Some(at + wait), "{name}");
                assert!(
                    matches!(driver.status(), Status::AwaitingPerson { .. }),
                    "{name}"
                );
            }
            Then::Ends(end) => {
                assert_eq!(ended_with(&drained), Some(end), "{name}");
                assert!(driver.next_deadline().is_none(), "{name}");
                let Status::NeedsLogin { error } = driver.status() else {
                    panic!("{name}: {:?}", driver.status())
                };
                assert!(!error.to_string().contains(DEVICE_CODE), "{name}: {error}");
            }
            Then::LoggedIn => assert!(driver.access_token(at).is_some(), "{name}"),
        }
    }
}

#[test]
fn a_lost_poll_is_polled_again_after_the_interval() {
    let (mut driver, _) = started(device_answer(None, "600"));
    let at = driver.next_deadline().unwrap();
    driver.handle_timeout(at);
    let poll = collect(&mut driver).only_request();
    driver
        .handle_transport_error(poll.id(), TransportError::OutcomeUnknown, at)
        .unwrap();
    assert_eq!(driver.next_deadline(), Some(at + Duration::seconds(5)));
    // No answer in time: the same.
    let at = driver.next_deadline().unwrap();
    driver.handle_timeout(at);
    let _poll = collect(&mut driver).only_request();
    let deadline = driver.next_deadline().unwrap();
    driver.handle_timeout(deadline);
    let drained = collect(&mut driver);
    assert!(drained.requests.is_empty());
    assert!(matches!(driver.status(), Status::AwaitingPerson { .. }));
}

#[test]
fn the_device_code_is_in_no_debug_event_error_or_redacted_snapshot() {
    let (mut driver, drained) = started(device_answer(None, "600"));
    let (_, _, after) = poll_answered(&mut driver, &oauth_error(400, "access_denied"));
    let shown = format!(
        "{driver:?} {:?} {:?} {} {:?}",
        drained.events,
        after.events,
        driver.status(),
        driver.session().snapshot_redacted()
    );
    assert!(!shown.contains(DEVICE_CODE), "{shown}");
    let (driver, _) = started(device_answer(None, "600"));
    let redacted = serde_json::to_string(&driver.session().snapshot_redacted()).unwrap();
    assert!(!redacted.contains(DEVICE_CODE), "{redacted}");
    assert!(format!("{:?}", driver.session())
        .find(DEVICE_CODE)
        .is_none());
}

#[test]
fn a_snapshot_taken_while_polling_resumes_the_polling() {
    let (mut driver, _) = started(device_answer(None, "600"));
    let at = driver.next_deadline().unwrap();
    driver.handle_timeout(at);
    let poll = collect(&mut driver).only_request();
    let snapshot = driver.session().snapshot_with_secrets();
    let json = serde_json::to_string(&snapshot).unwrap();
    let restored = oauth_lifecycle::AnySession::restore(
        dialect(),
        Policy::default(),
        serde_json::from_str(&json).unwrap(),
    )
    .expect("restores");
    let mut driver = Driver::from_session(restored);
    // The poll in flight went with the process: its answer is lost, and polling resumes.
    driver.handle_timeout(at);
    assert!(collect(&mut driver).requests.is_empty());
    assert!(driver
        .handle_response(poll.id(), &oauth_error(400, "authorization_pending"), at)
        .is_err());
    let next = driver.next_deadline().unwrap();
    assert_eq!(next, at + Duration::seconds(5));
    driver.handle_timeout(next);
    let again = collect(&mut driver).only_request();
    assert!(String::from_utf8_lossy(again.request().body()).contains(DEVICE_CODE));
}

#[test]
fn cancelling_ends_the_login_and_revoking_awaits_a_poll_in_flight() {
    let (mut driver, _) = started(device_answer(None, "600"));
    driver.cancel_login(NOW).unwrap();
    assert_eq!(
        ended_with(&collect(&mut driver)),
        Some(PersonLoginEnd::Cancelled)
    );
    assert!(driver.cancel_login(NOW).is_err(), "nothing to cancel");

    let (mut driver, _) = started(device_answer(None, "600"));
    let at = driver.next_deadline().unwrap();
    driver.handle_timeout(at);
    let poll = collect(&mut driver).only_request();
    driver.revoke(at);
    let token = reply(
        200,
        r#"{"access_token":"minted-meanwhile","token_type":"Bearer","expires_in":3600}"#,
    );
    driver.handle_response(poll.id(), &token, at).unwrap();
    let drained = collect(&mut driver);
    let revocation = drained.only_request();
    assert!(String::from_utf8_lossy(revocation.request().body()).contains("minted-meanwhile"));
}

#[test]
fn a_dialect_without_the_device_grant_refuses_to_start_one() {
    let dialect = Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("secret")
        .build()
        .unwrap();
    let mut driver = Driver::new(dialect, Policy::default()).unwrap();
    assert!(matches!(
        driver.authorize_device(NOW),
        Err(oauth_lifecycle::Misuse::PersonLoginUnsupported { .. })
    ));
    assert!(Standard::builder("http://127.0.0.1/token", "client")
        .grant(Grant::DeviceCode)
        .build()
        .is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever a server answers to polls, and however often the session is shown the
    /// time, polling stays within the request budget and the interval, and never loops.
    #[test]
    fn polling_never_storms(
        answers in proptest::collection::vec(0usize..7, 1..60),
        interval in 0i64..20,
        ticks in proptest::collection::vec(0i64..4000, 1..200),
    ) {
        let (mut driver, _) = started(device_answer(Some(&interval.to_string()), "900"));
        let budget = Policy::default().token_request_budget;
        let mut sent: Vec<UtcDateTime> = vec![NOW];
        let mut answers = answers.into_iter().cycle();
        let mut now = NOW;
        for tick in ticks {
            now += Duration::milliseconds(tick);
            driver.handle_timeout(now);
            for _ in 0..8 {
                match driver.poll_output() {
                    Output::Request(request) => {
                        sent.push(now);
                        let answer = match answers.next().unwrap() {
                            0 => oauth_error(400, "authorization_pending"),
                            1 => oauth_error(400, "slow_down"),
                            2 => reply(503, "busy"),
                            3 => reply(200, "{}"),
                            4 => oauth_error(400, "authorization_pending"),
                            5 => reply(500, ""),
                            _ => oauth_error(400, "authorization_pending"),
                        };
                        driver.handle_response(request.id(), &answer, now).unwrap();
                    }
                    Output::Timeout(_) | Output::Idle => break,
                    Output::Event(_) | Output::Persist => {}
                }
            }
        }
        // Never two polls within the minimum interval, never more than the budget per
        // window.
        for pair in sent.windows(2) {
            prop_assert!(pair[1] - pair[0] >= MIN_POLL_INTERVAL, "{:?}", pair);
        }
        for (i, start) in sent.iter().enumerate() {
            let within = sent[i..].iter().take_while(|t| **t - *start < budget.per()).count();
            prop_assert!(within as u32 <= budget.requests(), "{within} requests in a window");
        }
    }
}

#[test]
fn a_dead_refresh_grant_halts_without_a_loop_and_a_person_logs_in_again_before_the_hard_expiry() {
    let token = reply(
        200,
        r#"{"access_token":"person-access-token","token_type":"Bearer","expires_in":3600,"refresh_token":"person-refresh-token"}"#,
    );
    let (mut driver, _) = started(device_answer(None, "600"));
    let (at, _, _) = poll_answered(&mut driver, &token);
    assert!(driver.access_token(at).is_some());
    // A person's login does not replace a session that renews by itself.
    assert!(matches!(
        driver.authorize_device(at),
        Err(oauth_lifecycle::Misuse::WrongState { .. })
    ));

    // The refresh moment: the grant is dead.
    let refresh_at = driver.next_deadline().unwrap();
    driver.handle_timeout(refresh_at);
    let refresh = collect(&mut driver).only_request();
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    driver
        .handle_response(refresh.id(), &oauth_error(400, "invalid_grant"), refresh_at)
        .unwrap();
    let drained = collect(&mut driver);
    assert!(matches!(
        driver.status(),
        Status::NeedsLogin {
            error: Error::Reauthenticate { .. }
        }
    ));
    assert!(drained
        .events
        .iter()
        .any(|e| matches!(e, Event::ReauthenticationRequired { .. })));
    // Still served until its hard expiry; nothing is sent however often the time is shown.
    assert!(driver.access_token(refresh_at).is_some());
    let mut now = refresh_at;
    for _ in 0..100 {
        now += Duration::seconds(1);
        driver.handle_timeout(now);
        assert!(collect(&mut driver).requests.is_empty());
    }

    // The person logs in again: the old token gives way.
    driver
        .authorize_device(now)
        .expect("a halted session takes a person's login");
    let drained = collect(&mut driver);
    assert!(drained.events.iter().any(|e| matches!(
        e,
        Event::TokenWithdrawn {
            reason: oauth_lifecycle::Withdrawal::NewLogin,
            ..
        }
    )));
    assert!(driver.access_token(now).is_none());
    assert_eq!(
        drained.only_request().request().uri().path(),
        "/device_authorization"
    );
}
