//! Every timing input a server sends is bounded before it is obeyed: `Retry-After`,
//! lifetimes from 1 second to "never expires", implausible `Date` headers, and resource
//! servers that reject every token. Each class is a table of server behaviours run for
//! ten simulated minutes against the drain loop, counting token-endpoint requests.

use oauth_lifecycle::dialect::{ConvirzaV3, Standard};
use oauth_lifecycle::{Driver, Event, Output, Policy, Purpose, Status, TokenRequest, WaitReason};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-09-01 00:00:00);
const TEN_MINUTES: Duration = Duration::minutes(10);

fn standard() -> Standard {
    Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("client-secret")
        .password("alice", "alice-password")
        .build()
        .unwrap()
}

/// A server that answers every token request with what `answer` returns, and a caller
/// that follows the drain loop for `length` of simulated time.
struct Run {
    requests: Vec<(UtcDateTime, Purpose)>,
    events: Vec<Event>,
    /// Whether a token could be had right after each successful answer.
    handed_out_after_issue: Vec<bool>,
}

fn run<D: oauth_lifecycle::Dialect>(
    mut driver: Driver<D>,
    length: Duration,
    mut answer: impl FnMut(&TokenRequest, UtcDateTime, usize) -> http::Response<Vec<u8>>,
    mut after_step: impl FnMut(&mut Driver<D>, UtcDateTime),
) -> Run {
    let end = START + length;
    let mut now = START;
    let mut run = Run {
        requests: Vec::new(),
        events: Vec::new(),
        handed_out_after_issue: Vec::new(),
    };
    driver.handle_timeout(now);
    for _ in 0..100_000 {
        match driver.poll_output() {
            Output::Request(request) => {
                run.requests.push((now, request.purpose()));
                let response = answer(&request, now, run.requests.len());
                driver
                    .handle_response(request.id(), &response, now)
                    .unwrap();
                after_step(&mut driver, now);
            }
            Output::Event(event) => {
                if matches!(event, Event::TokenIssued { .. }) {
                    run.handed_out_after_issue
                        .push(driver.access_token(now).is_some());
                }
                run.events.push(event);
            }
            Output::Persist => {}
            Output::Timeout(at) if at < end => {
                assert!(at >= now, "a deadline in the past: {at} at {now}");
                now = at;
                driver.handle_timeout(now);
                after_step(&mut driver, now);
            }
            Output::Timeout(_) | Output::Idle => return run,
        }
    }
    panic!("the drain loop never settled");
}

fn token_body(expires_in: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "access_token": "at-token",
        "token_type": "Bearer",
        "expires_in": expires_in,
        "refresh_token": "rt-token",
    })
    .to_string()
    .into_bytes()
}

fn respond(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(body).unwrap()
}

/// `Retry-After` never shortens the growing backoff and never parks the session: a table
/// of throttling answers, each repeated for ten minutes.
#[test]
fn retry_after_never_shortens_backoff_and_never_parks_the_client() {
    let slow_down = br#"{"error":"slow_down"}"#.to_vec();
    let cases: [(&str, u16, Option<&str>, Vec<u8>); 8] = [
        ("429, Retry-After 0", 429, Some("0"), Vec::new()),
        ("429, Retry-After 1", 429, Some("1"), Vec::new()),
        ("503, Retry-After 0", 503, Some("0"), Vec::new()),
        (
            "429, a past date",
            429,
            Some("Thu, 01 Jan 1970 00:00:00 GMT"),
            Vec::new(),
        ),
        ("429, no Retry-After", 429, None, Vec::new()),
        ("400 slow_down, Retry-After 0", 400, Some("0"), slow_down),
        (
            "429, Retry-After 4294967295",
            429,
            Some("4294967295"),
            Vec::new(),
        ),
        (
            "429, a year-9999 date",
            429,
            Some("Fri, 31 Dec 9999 23:59:59 GMT"),
            Vec::new(),
        ),
    ];
    let policy = Policy::default();
    for (name, status, retry_after, body) in cases {
        let driver = Driver::new(standard(), policy.clone()).unwrap();
        let mut longest_wait = Duration::ZERO;
        let run = run(
            driver,
            TEN_MINUTES,
            |_, _, _| {
                let headers: Vec<(&str, &str)> =
                    retry_after.iter().map(|v| ("retry-after", *v)).collect();
                respond(status, &headers, body.clone())
            },
            |driver, now| {
                if let Status::Waiting { retry_at, .. } = driver.status() {
                    longest_wait = longest_wait.max(retry_at - now);
                }
            },
        );
        // The backoff doubles from 1 s to its 5-minute cap: 1+2+4+…+256 s is past ten
        // minutes after ten attempts, jitter (at most a quarter) included. A huge
        // Retry-After holds the session for `max_retry_after` (an hour): one request.
        let sent = run.requests.len();
        assert!(
            (1..=12).contains(&sent),
            "{name}: {sent} requests in ten minutes"
        );
        assert!(
            longest_wait <= policy.max_retry_after,
            "{name}: parked for {longest_wait}"
        );
        // Consecutive attempts never come closer than the first backoff (less jitter).
        for pair in run.requests.windows(2) {
            assert!(
                pair[1].0 - pair[0].0 >= policy.backoff_initial * 0.75,
                "{name}: attempts {pair:?}"
            );
        }
    }
}

/// A huge `Retry-After` is cut to `max_retry_after`: the next attempt is scheduled within
/// it, not in the year 2162.
#[test]
fn a_huge_retry_after_is_capped_by_the_policy() {
    for value in ["4294967295", "Fri, 31 Dec 9999 23:59:59 GMT"] {
        for max in [Duration::minutes(1), Duration::hours(1)] {
            let mut policy = Policy::default();
            policy.max_retry_after = max;
            let mut driver = Driver::new(standard(), policy).unwrap();
            driver.handle_timeout(START);
            let Output::Request(login) = driver.poll_output() else {
                panic!("a login");
            };
            let answer = respond(429, &[("retry-after", value)], Vec::new());
            driver.handle_response(login.id(), &answer, START).unwrap();
            let Status::Waiting { retry_at, reason } = driver.status() else {
                panic!("waiting");
            };
            assert_eq!(reason, WaitReason::Throttled);
            assert_eq!(retry_at, START + max, "{value} with a cap of {max}");
        }
    }
}

/// Lifetimes of 1 to 10 seconds: each token is handed out for its usable life, and the
/// renewals keep a sane pace instead of running back to back.
#[test]
fn short_lifetimes_are_handed_out_and_renewed_at_a_sane_pace() {
    let policy = Policy::default();
    for lifetime in 1..=10 {
        let driver = Driver::new(standard(), policy.clone()).unwrap();
        let run = run(
            driver,
            TEN_MINUTES,
            |_, _, _| respond(200, &[], token_body(lifetime.into())),
            |_, _| {},
        );
        let sent = run.requests.len();
        // At most one renewal per `min_renewal_interval` (5 s) and within the policy's
        // own budget (12 a minute): 120 in ten minutes at most.
        let by_interval = (TEN_MINUTES / policy.min_renewal_interval) as usize + 1;
        let by_budget = 10 * policy.token_request_budget.requests() as usize;
        assert!(
            sent <= by_interval.min(by_budget),
            "{lifetime} s tokens: {sent} requests in ten minutes"
        );
        assert!(sent >= 60, "{lifetime} s tokens: renewed only {sent} times");
        assert!(
            run.handed_out_after_issue.iter().all(|handed| *handed),
            "{lifetime} s tokens were not handed out"
        );
        for pair in run.requests.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= policy.min_renewal_interval);
        }
    }
}

/// "Never expires" is clamped to `max_lifetime`, not refused.
#[test]
fn a_never_expiring_token_is_clamped_to_the_maximum_lifetime() {
    let never: [serde_json::Value; 4] = [
        2_147_483_647.into(),
        i64::MAX.into(),
        u64::MAX.into(),
        "9223372036854775807".into(),
    ];
    for expires_in in never {
        let mut driver = Driver::new(standard(), Policy::default()).unwrap();
        driver.handle_timeout(START);
        let Output::Request(login) = driver.poll_output() else {
            panic!("a login");
        };
        let answer = respond(200, &[], token_body(expires_in.clone()));
        driver.handle_response(login.id(), &answer, START).unwrap();
        let tokens = driver
            .session()
            .tokens()
            .unwrap_or_else(|| panic!("expires_in {expires_in} refused: {:?}", driver.status()));
        assert_eq!(
            tokens.expires_at(),
            START + Policy::default().max_lifetime,
            "{expires_in}"
        );
        assert!(driver.access_token(START + Duration::days(20)).is_some());
    }
}

/// An implausible `Date` header is ignored with an event: a correct absolute expiry is
/// read in the caller's clock instead of looking out of range.
#[test]
fn an_implausible_date_header_is_ignored_with_an_event() {
    let dialect = || {
        ConvirzaV3::builder("user@example.com", "password-1")
            .base_url("http://127.0.0.1")
            .build()
            .unwrap()
    };
    let expires = "2026-09-01T01:00:00Z";
    let body = serde_json::json!({
        "access_token": "at-token", "refresh_token": "rt-token", "token_type": "Bearer",
        "expires_in": expires, "refresh_expires_in": "2027-03-01T00:00:00Z",
    })
    .to_string()
    .into_bytes();
    // (Date header, whether it is believed)
    let cases = [
        ("Tue, 01 Sep 2026 00:00:30 GMT", true),
        ("Tue, 01 Sep 2026 00:59:00 GMT", true),
        ("Thu, 01 Jan 1970 00:00:00 GMT", false),
        ("Fri, 31 Dec 9999 23:59:59 GMT", false),
        ("Wed, 02 Sep 2026 00:00:00 GMT", false),
    ];
    for (date, believed) in cases {
        let mut driver = Driver::new(dialect(), Policy::default()).unwrap();
        driver.handle_timeout(START);
        let Output::Request(login) = driver.poll_output() else {
            panic!("a login");
        };
        let answer = respond(200, &[("date", date)], body.clone());
        driver.handle_response(login.id(), &answer, START).unwrap();
        let mut ignored = false;
        loop {
            match driver.poll_output() {
                Output::Event(Event::ServerDateIgnored { .. }) => ignored = true,
                Output::Event(_) | Output::Persist | Output::Request(_) => {}
                Output::Timeout(_) | Output::Idle => break,
            }
        }
        assert_eq!(ignored, !believed, "{date}");
        let tokens = driver.session().tokens().expect("logged in");
        if !believed {
            assert_eq!(
                tokens.expires_at(),
                utc_datetime!(2026-09-01 01:00:00),
                "{date}: the expiry is read in the caller's clock"
            );
        }
        assert!(driver.access_token(START).is_some(), "{date}");
    }
}

/// A resource server that rejects every token: each renewal waits until the token is 1 s,
/// 2 s, 4 s… old, up to the policy's spacing, so ten minutes cost about twenty-five
/// requests, not thousands.
#[test]
fn a_resource_server_rejecting_every_token_causes_no_storm() {
    let policy = Policy::default();
    let driver = Driver::new(standard(), policy.clone()).unwrap();
    let mut reports = 0;
    let run = run(
        driver,
        TEN_MINUTES,
        |_, _, n| {
            let body = serde_json::json!({
                "access_token": format!("at-{n}"), "token_type": "Bearer",
                "expires_in": 3600, "refresh_token": format!("rt-{n}"),
            });
            respond(200, &[], body.to_string().into_bytes())
        },
        |driver, now| {
            // Every API call with the current token is refused at once.
            if let Some(token) = driver.access_token(now) {
                let generation = token.generation();
                let _ = driver.handle_unauthorized(generation, now);
                reports += 1;
            }
        },
    );
    // The login, then a renewal each time the rejected token reaches its spacing.
    let mut expected = 1;
    let mut at = Duration::ZERO;
    for streak in 1.. {
        at += policy.unauthorized_spacing(streak);
        if at >= TEN_MINUTES {
            break;
        }
        expected += 1;
    }
    let sent = run.requests.len();
    assert!(
        sent <= expected,
        "{sent} requests in ten minutes, {expected} expected"
    );
    assert!(sent + 1 >= expected, "renewals stopped: {sent}");
    assert!(expected < 30, "{expected}");
    assert!(reports > 0);
}
