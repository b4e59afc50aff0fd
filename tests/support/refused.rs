//! A session a real server refused, left alone: it comes back only as often as the
//! rejection retry policy allows, never before the retry it announced, and is refused
//! each time. What the real-server suites of RFC 7523 share.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Driver, Error, Event, Failure, LoginCredentials, Policy, Purpose};
use oauth_lifecycle_testkit::assertion_clients::OverHttp;
use oauth_lifecycle_testkit::{drain, Drained};
use time::{Duration, UtcDateTime};

/// How long a refused session is left alone.
pub const AN_HOUR: Duration = Duration::hours(1);

/// The most wake-ups of a session left alone for [`AN_HOUR`]; a well-behaved one needs
/// a handful.
pub const MOST_WAKEUPS: usize = 200;

/// What a server's refusal of a login looks like: its status and OAuth error, and the
/// session's verdict holding it.
#[derive(Clone, Copy)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// The RFC 6749 §5.2 error code.
    pub code: &'static str,
    /// The failure, if the error is the expected verdict.
    pub verdict: fn(&Error) -> Option<&Failure>,
}

/// A client refused (401 `invalid_client`): `Error::Rejected`.
pub const INVALID_CLIENT: Refusal = Refusal {
    status: 401,
    code: "invalid_client",
    verdict: |error| match error {
        Error::Rejected { failure } => Some(failure),
        _ => None,
    },
};

/// A grant refused (400 `invalid_grant`): `Error::Reauthenticate`.
pub const INVALID_GRANT: Refusal = Refusal {
    status: 400,
    code: "invalid_grant",
    verdict: |error| match error {
        Error::Reauthenticate { failure } => Some(failure),
        _ => None,
    },
};

/// The one refusal of a login in `drained`, retried by the session itself later
/// (`RejectedRetryScheduled`), with no token and no fast retry: when, and the failure.
#[track_caller]
pub fn assert_refused(drained: &Drained, expected: Refusal) -> (UtcDateTime, Failure) {
    let refusals: Vec<_> = drained
        .events
        .iter()
        .filter_map(|event| match event {
            Event::RejectedRetryScheduled {
                error,
                purpose: Purpose::Login,
                retry_at,
                ..
            } => (expected.verdict)(error).map(|failure| (failure.clone(), *retry_at)),
            _ => None,
        })
        .collect();
    let [(failure, retry_at)] = &refusals[..] else {
        panic!("one refusal expected: {:?}", drained.events);
    };
    assert_eq!(failure.status().map(|s| s.as_u16()), Some(expected.status));
    assert_eq!(
        failure.code().map(|c| c.as_ref()),
        Some(expected.code),
        "{failure:?}"
    );
    assert!(
        !drained.events.iter().any(|event| matches!(
            event,
            Event::TokenIssued { .. } | Event::RetryScheduled { .. }
        )),
        "{:?}",
        drained.events
    );
    (*retry_at, failure.clone())
}

/// How many requests a session refused at the start of `window` sends within it at
/// most, the refused one included: the first, then one after each of
/// `RejectedLoginRetry`'s doubling delays that still falls within it (6 in an hour with
/// the defaults: at 0, 1, 3, 7, 15 and 31 minutes).
pub fn most_requests_within(policy: &Policy, window: Duration) -> usize {
    let retry = policy.rejected_login_retry;
    let limit = retry.attempts(LoginCredentials::Client);
    let mut elapsed = Duration::ZERO;
    let mut requests = 1;
    for rejections in 1..=64 {
        if limit.is_some_and(|attempts| rejections > attempts) {
            break;
        }
        elapsed += retry.delay(rejections);
        if elapsed > window {
            break;
        }
        requests += 1;
    }
    requests
}

/// Leaves a session refused at `start`, announcing a retry at `retry_at`, alone for
/// [`AN_HOUR`] of simulated time, waking it at each of its deadlines, its requests sent
/// to the server; checks that it came back, but only as often as `policy`'s rejection
/// retries allow, never before its announced retry time, and was refused as `expected`
/// each time.
#[track_caller]
pub fn left_alone_for_an_hour(
    session: &mut Driver<Standard>,
    http: &mut OverHttp<'_>,
    policy: &Policy,
    start: UtcDateTime,
    retry_at: UtcDateTime,
    expected: Refusal,
) {
    assert!(retry_at > start, "a retry later, not at once");
    let sent_before = http.sent.len();
    let end = start + AN_HOUR;
    let mut at = start;
    let mut retry_at = retry_at;
    let mut retries_at = Vec::new();
    let mut refusals = 0;
    let mut settled = false;
    for _ in 0..MOST_WAKEUPS {
        session.handle_timeout(at);
        let drained = drain(session, http, at);
        if !drained.requests.is_empty() {
            assert!(at >= retry_at, "a retry at {at}, announced for {retry_at}");
            retries_at.extend(drained.requests.iter().map(|_| at));
        }
        for event in &drained.events {
            match event {
                Event::RejectedRetryScheduled {
                    retry_at: next,
                    error,
                    ..
                } => {
                    let failure = (expected.verdict)(error)
                        .unwrap_or_else(|| panic!("refused otherwise: {error:?}"));
                    assert_eq!(failure.code().map(|c| c.as_ref()), Some(expected.code));
                    retry_at = *next;
                    refusals += 1;
                }
                Event::TokenIssued { .. } => panic!("accepted at {at}: {:?}", drained.events),
                _ => {}
            }
        }
        match drained.deadline {
            Some(deadline) if deadline <= end => at = deadline.max(at),
            _ => {
                settled = true;
                break;
            }
        }
    }
    assert!(settled, "the session woke more than {MOST_WAKEUPS} times");
    let retries = http.sent.len() - sent_before;
    assert_eq!(retries, retries_at.len());
    assert_eq!(refusals, retries, "each retry refused: {retries_at:?}");
    let most = most_requests_within(policy, AN_HOUR);
    assert!(
        // At least one retry; with the refused request, at most `most`.
        (1..most).contains(&retries),
        "the refused request and {retries} retries within an hour, at most {most} allowed: \
         {retries_at:?}"
    );
}
