//! The driver's behaviour, scenario by scenario, with hand-written server answers and
//! simulated time.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::error::RetryAfter;
use oauth_lifecycle::{
    Driver, Error, Event, FailureKind, Generation, Misuse, Output, Policy, Purpose, Status,
    TokenKind, TokenRequest, TransportError, Unauthorized, Withdrawal,
};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-05-01 08:00:00);

struct Harness {
    driver: Driver<Standard>,
    now: UtcDateTime,
    events: Vec<Event>,
    /// Persistence points seen, counted as the outputs came.
    persisted: usize,
}

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_fraction = 0.0;
    policy
}

fn password_dialect() -> Standard {
    Standard::builder("https://auth.example.com/token", "client")
        .client_secret("client-secret")
        .password("alice", "alice-password")
        .revocation_url("https://auth.example.com/revoke")
        .build()
        .unwrap()
}

fn token(access: &str, refresh: Option<&str>, expires_in: u32) -> http::Response<Vec<u8>> {
    let refresh = refresh
        .map(|r| format!(r#","refresh_token":"{r}""#))
        .unwrap_or_default();
    let body = format!(
        r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{expires_in}{refresh}}}"#
    );
    http::Response::builder()
        .status(200)
        .body(body.into_bytes())
        .unwrap()
}

fn error(status: u16, code: &str) -> http::Response<Vec<u8>> {
    let body = format!(r#"{{"error":"{code}","error_description":"described"}}"#);
    http::Response::builder()
        .status(status)
        .body(body.into_bytes())
        .unwrap()
}

fn field(request: &TokenRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(request.request().body())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

impl Harness {
    fn new(dialect: Standard) -> Self {
        Harness {
            driver: Driver::new(dialect, policy()).unwrap(),
            now: START,
            events: Vec::new(),
            persisted: 0,
        }
    }

    /// Drains outputs; returns the requests and the next deadline.
    fn drain(&mut self) -> (Vec<TokenRequest>, Option<UtcDateTime>) {
        let mut requests = Vec::new();
        for _ in 0..32 {
            match self.driver.poll_output() {
                Output::Request(request) => requests.push(request),
                Output::Event(event) => self.events.push(event),
                Output::Persist => self.persisted += 1,
                Output::Timeout(at) => return (requests, Some(at)),
                Output::Idle => return (requests, None),
            }
        }
        panic!("the driver never settled");
    }

    fn tick(&mut self, by: Duration) -> (Vec<TokenRequest>, Option<UtcDateTime>) {
        self.now += by;
        self.driver.handle_timeout(self.now);
        self.drain()
    }

    /// Advances from deadline to deadline until a request comes; expects exactly one.
    fn next_request(&mut self) -> TokenRequest {
        let (mut requests, mut deadline) = self.drain();
        for _ in 0..4 {
            if !requests.is_empty() {
                break;
            }
            self.now = deadline.expect("a deadline").max(self.now);
            self.driver.handle_timeout(self.now);
            (requests, deadline) = self.drain();
        }
        assert_eq!(requests.len(), 1, "exactly one request in flight");
        requests.pop().unwrap()
    }

    fn answer(&mut self, request: &TokenRequest, response: http::Response<Vec<u8>>) {
        self.driver
            .handle_response(request.id(), &response, self.now)
            .unwrap();
    }

    fn token(&self) -> Option<String> {
        self.driver
            .access_token(self.now)
            .map(|t| t.secret().to_owned())
    }

    /// The generation of the token handed out now.
    fn generation(&self) -> Generation {
        self.driver
            .access_token(self.now)
            .expect("a token is handed out")
            .generation()
    }

    fn take_events(&mut self) -> Vec<Event> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    /// Logs in and returns the login request.
    fn logged_in(dialect: Standard, access: &str, refresh: Option<&str>) -> Self {
        let mut harness = Harness::new(dialect);
        harness.driver.handle_timeout(harness.now);
        let login = harness.next_request();
        assert_eq!(login.purpose(), Purpose::Login);
        harness.answer(&login, token(access, refresh, 3600));
        harness.take_events();
        harness
    }
}

#[test]
fn logs_in_on_the_first_input_and_hands_out_the_token() {
    let mut h = Harness::new(password_dialect());
    assert!(matches!(h.driver.poll_output(), Output::Timeout(_)));
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    assert_eq!(field(&login, "grant_type").as_deref(), Some("password"));
    assert_eq!(h.token(), None);
    h.answer(&login, token("at-1", Some("rt-1"), 3600));
    assert_eq!(h.token().as_deref(), Some("at-1"));
    assert!(
        matches!(h.take_events()[..], [Event::TokenIssued { expires_at, renewal: false, via: Purpose::Login, generation, .. }]
            if expires_at == START + Duration::hours(1) && generation.get() == 1)
    );
}

#[test]
fn refreshes_at_eighty_percent_and_rotates_the_refresh_token() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let (requests, deadline) = h.drain();
    assert!(requests.is_empty());
    assert_eq!(deadline, Some(START + Duration::seconds(2880)));

    let refresh = h.next_request();
    assert_eq!(h.now, START + Duration::seconds(2880));
    assert_eq!(field(&refresh, "refresh_token").as_deref(), Some("rt-1"));
    assert!(
        !refresh.is_resend_safe(),
        "a single-use refresh must not be resent"
    );
    assert_eq!(h.token().as_deref(), Some("at-1"), "stale-while-refresh");
    h.answer(&refresh, token("at-2", Some("rt-2"), 3600));
    assert_eq!(h.token().as_deref(), Some("at-2"));

    let refresh = h.next_request();
    assert_eq!(field(&refresh, "refresh_token").as_deref(), Some("rt-2"));
}

/// RFC 6749 §6: the client replaces its refresh token only when a new one is issued. The
/// rotation setting only decides whether a refresh whose outcome is unknown may be resent.
#[test]
fn a_refresh_token_is_kept_when_the_server_issues_no_new_one_whatever_the_rotation_setting() {
    use oauth_lifecycle::dialect::RefreshTokenUse;
    for (refresh_token_use, resend_safe) in [
        (RefreshTokenUse::SingleUse, false),
        (RefreshTokenUse::Reusable, true),
    ] {
        let dialect = Standard::builder("https://auth.example.com/token", "client")
            .client_secret("client-secret")
            .password("alice", "alice-password")
            .refresh_token_use(refresh_token_use)
            .build()
            .unwrap();
        let mut h = Harness::logged_in(dialect, "at-1", Some("rt-1"));
        for access_token in ["at-2", "at-3", "at-4"] {
            let refresh = h.next_request();
            assert_eq!(refresh.purpose(), Purpose::Refresh, "{refresh_token_use:?}");
            assert_eq!(
                refresh.is_resend_safe(),
                resend_safe,
                "{refresh_token_use:?}"
            );
            assert_eq!(field(&refresh, "refresh_token").as_deref(), Some("rt-1"));
            h.answer(&refresh, token(access_token, None, 3600));
            assert_eq!(h.token().as_deref(), Some(access_token));
        }
    }
}

#[test]
fn a_401_stops_handing_out_the_token_and_renews_at_once() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    h.now += Duration::minutes(1);
    let generation = h.generation();
    assert_eq!(
        h.driver.handle_unauthorized(generation, h.now),
        Unauthorized::Withdrawn
    );
    assert_eq!(h.token(), None);
    let (requests, _) = h.drain();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].purpose(), Purpose::Refresh);
    assert!(h.events.contains(&Event::RenewalDue { unauthorized: true }));
    h.answer(&requests[0], token("at-2", Some("rt-2"), 3600));
    assert_eq!(h.token().as_deref(), Some("at-2"));
}

#[test]
fn a_failed_refresh_keeps_serving_the_valid_token_and_never_resends_the_spent_one() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let refresh = h.next_request();
    h.answer(&refresh, error(503, "temporarily_unavailable"));
    assert_eq!(h.token().as_deref(), Some("at-1"));
    let events = h.take_events();
    let retry_at = match &events[1..] {
        [Event::RetryScheduled {
            purpose: Purpose::Refresh,
            error,
        }] => error.retry_at().unwrap(),
        other => panic!("{other:?}"),
    };
    assert!(retry_at > h.now);
    let (early, _) = h.tick(Duration::ZERO);
    assert!(early.is_empty(), "no request before the backoff ends");

    let retry = h.next_request();
    assert_eq!(h.now, retry_at);
    assert_eq!(
        retry.purpose(),
        Purpose::Login,
        "the spent refresh token is replaced by a login"
    );
    assert_eq!(field(&retry, "refresh_token"), None);
}

#[test]
fn a_lost_refresh_response_spends_the_refresh_token() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let refresh = h.next_request();
    h.driver
        .handle_transport_error(refresh.id(), TransportError::OutcomeUnknown, h.now)
        .unwrap();
    assert_eq!(h.token().as_deref(), Some("at-1"));
    let retry = h.next_request();
    assert_eq!(retry.purpose(), Purpose::Login);
}

#[test]
fn invalid_grant_on_refresh_logs_in_again_with_the_credentials() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let refresh = h.next_request();
    h.answer(&refresh, error(400, "invalid_grant"));
    let (requests, _) = h.drain();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].purpose(), Purpose::Login);
    assert!(h
        .events
        .iter()
        .any(|e| matches!(e, Event::Reauthenticating { .. })));
    assert_eq!(h.token().as_deref(), Some("at-1"));
    h.answer(&requests[0], token("at-2", Some("rt-2"), 3600));
    let expected = h.now + Duration::hours(1);
    assert!(h.take_events().iter().any(|e| matches!(e,
        Event::TokenIssued { via: Purpose::Login, renewal: true, expires_at, .. } if *expires_at == expected)));
}

#[test]
fn invalid_grant_without_credentials_requires_reauthentication() {
    let dialect = Standard::builder("https://auth.example.com/token", "client")
        .grant(oauth_lifecycle::dialect::Grant::RefreshOnly)
        .build()
        .unwrap();
    let session = oauth_lifecycle::Session::new(dialect, policy()).unwrap();
    let grant = oauth_lifecycle::token::TokenGrant {
        access_token: oauth_lifecycle::AccessToken::new("at-1".into()),
        refresh_token: Some(oauth_lifecycle::RefreshToken::new("rt-1".into())),
        expires: oauth_lifecycle::token::Expiry::In(3600),
        refresh_expires: None,
        scope: None,
        extra: (),
    };
    let active = session.adopt(grant, START).unwrap();
    let mut h = Harness {
        driver: Driver::from_session(active.into()),
        now: START,
        events: Vec::new(),
        persisted: 0,
    };
    let refresh = h.next_request();
    h.answer(&refresh, error(400, "invalid_grant"));
    assert_eq!(
        h.token().as_deref(),
        Some("at-1"),
        "still valid: still served"
    );
    let events = h.take_events();
    assert!(
        matches!(
            &events[..],
            [
                Event::TokenIssued { renewal: false, .. },
                Event::RenewalDue { .. },
                Event::ReauthenticationRequired {
                    error: Error::Reauthenticate { .. }
                }
            ]
        ),
        "{events:?}"
    );
    // At hard expiry the session has nothing left.
    let (requests, deadline) = h.drain();
    assert!(requests.is_empty());
    h.now = deadline.unwrap();
    h.driver.handle_timeout(h.now);
    assert_eq!(h.token(), None);
    assert_eq!(h.driver.session().state_name(), "unauthenticated");
    assert!(
        matches!(h.drain(), (r, None) if r.is_empty()),
        "idle: nothing will happen by itself"
    );
}

#[test]
fn invalid_client_halts_logins_until_asked_once_the_attempts_are_spent() {
    let mut policy = policy();
    policy.rejected_login_retry.password_attempts = Some(0);
    let mut h = Harness::new(password_dialect());
    h.driver = Driver::new(password_dialect(), policy).unwrap();
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    h.answer(&login, error(401, "invalid_client"));
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Rejected { error: Error::Rejected { failure } }] if failure.status().map(|s| s.as_u16()) == Some(401))
    );
    assert!(matches!(h.tick(Duration::hours(5)), (r, None) if r.is_empty()));
    h.driver.login(h.now).unwrap();
    assert_eq!(h.drain().0.len(), 1);
}

#[test]
fn a_429_is_honoured_with_and_without_retry_after() {
    let mut h = Harness::new(password_dialect());
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    let throttled = http::Response::builder()
        .status(429)
        .header("retry-after", "120")
        .body(Vec::new())
        .unwrap();
    h.answer(&login, throttled);
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::RetryScheduled { error: Error::Throttled { retry_at, failure }, .. }]
        if *retry_at == START + Duration::seconds(120) && failure.retry_after() == Some(RetryAfter::Seconds(120)))
    );
    assert!(h.tick(Duration::seconds(119)).0.is_empty());
    assert!(matches!(
        h.driver.login(h.now),
        Err(Misuse::TooEarly { .. })
    ));
    let retry = h.next_request();
    assert_eq!(h.now, START + Duration::seconds(120));

    let bare = http::Response::builder()
        .status(429)
        .body(Vec::new())
        .unwrap();
    h.answer(&retry, bare);
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::RetryScheduled { error: Error::Throttled { retry_at, .. }, .. }] if *retry_at > h.now)
    );
}

#[test]
fn an_error_object_with_status_200_is_an_error() {
    let mut h = Harness::new(password_dialect());
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    h.answer(&login, error(200, "invalid_grant"));
    assert_eq!(h.token(), None);
    let events = h.take_events();
    assert!(
        matches!(
            &events[..],
            [Event::RejectedRetryScheduled {
                error: Error::Reauthenticate { .. },
                ..
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn garbage_and_non_bearer_tokens_are_retried_not_accepted() {
    let mut h = Harness::new(password_dialect());
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    h.answer(&login, http::Response::new(b"\xff<html>".to_vec()));
    let retry = h.next_request();
    let mac = r#"{"access_token":"x","token_type":"mac","expires_in":60}"#;
    h.answer(&retry, http::Response::new(mac.as_bytes().to_vec()));
    assert_eq!(h.token(), None);
    let kinds: Vec<_> = h
        .take_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::RetryScheduled { error, .. } => error.failure().map(|f| f.kind()),
            _ => None,
        })
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.iter().all(|k| matches!(k, FailureKind::Malformed(_))));
}

#[test]
fn oversized_bodies_are_refused() {
    let mut h = Harness::new(password_dialect());
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    let mut body = br#"{"access_token":"a","token_type":"Bearer","expires_in":60,"pad":""#.to_vec();
    body.extend(std::iter::repeat_n(b'x', 70_000));
    body.extend(br#""}"#);
    h.answer(&login, http::Response::new(body));
    assert_eq!(h.token(), None);
    assert!(h.take_events().iter().any(|e| matches!(e, Event::RetryScheduled { error, .. } if error.failure().map(|f| f.kind()) == Some(FailureKind::TooLarge))));
}

#[test]
fn a_stale_or_unknown_request_id_changes_nothing() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let refresh = h.next_request();
    let before = h.driver.session().snapshot_with_secrets();
    let wrong = oauth_lifecycle::RequestId::clone(&refresh.id());
    let stale = h.driver.handle_response(
        oauth_lifecycle::Session::new(password_dialect(), policy())
            .unwrap()
            .next_request_id(),
        &token("evil", Some("evil"), 3600),
        h.now,
    );
    assert!(matches!(stale, Err(Misuse::UnknownRequest { .. })));
    assert_eq!(h.driver.session().snapshot_with_secrets(), before);
    h.answer(&refresh, token("at-2", None, 3600));
    // The same id again: no longer in flight.
    let again = h
        .driver
        .handle_response(wrong, &token("evil", None, 3600), h.now);
    assert!(matches!(again, Err(Misuse::UnknownRequest { .. })));
    assert_eq!(h.token().as_deref(), Some("at-2"));
}

#[test]
fn a_request_without_an_answer_times_out() {
    let mut h = Harness::new(password_dialect());
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    let (_, deadline) = h.drain();
    assert_eq!(deadline, Some(START + Duration::seconds(30)));
    let retry = h.next_request();
    assert_ne!(retry.id(), login.id());
    assert!(h.events.iter().any(|e| matches!(e, Event::RetryScheduled { error, .. } if error.failure().map(|f| f.kind()) == Some(FailureKind::Timeout))));
    // The late answer to the first login is refused.
    let late = h
        .driver
        .handle_response(login.id(), &token("late", None, 3600), h.now);
    assert!(matches!(late, Err(Misuse::UnknownRequest { .. })));
}

#[test]
fn the_token_is_never_handed_out_past_its_hard_expiry() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let refresh = h.next_request();
    h.driver
        .handle_transport_error(refresh.id(), TransportError::OutcomeUnknown, h.now)
        .unwrap();
    // Keep failing until past expiry.
    for _ in 0..20 {
        let request = h.next_request();
        h.answer(&request, error(500, "server_error"));
        if h.now >= START + Duration::hours(1) {
            break;
        }
    }
    assert!(h.now >= START + Duration::hours(1) - Duration::seconds(5));
    assert_eq!(h.token(), None);
    assert!(h.take_events().contains(&Event::TokenWithdrawn {
        generation: h.driver.session().generation(),
        reason: Withdrawal::Expired
    }));
}

#[test]
fn revoke_sends_refresh_then_access_revocation_retries_and_is_terminal() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    h.driver.revoke(h.now);
    assert_eq!(h.token(), None);
    let first = h.next_request();
    assert_eq!(first.purpose(), Purpose::Revoke(TokenKind::Refresh));
    assert_eq!(field(&first, "token").as_deref(), Some("rt-1"));
    h.answer(&first, http::Response::new(Vec::new()));
    let second = h.next_request();
    assert_eq!(second.purpose(), Purpose::Revoke(TokenKind::Access));
    assert_eq!(field(&second, "token").as_deref(), Some("at-1"));
    // A temporary failure is retried after a backoff, `revocation_attempts` times in
    // all, and only then reported.
    let sent_at = h.now;
    h.answer(&second, error(503, "temporarily_unavailable"));
    let mut last = second;
    for _ in 1..oauth_lifecycle::Policy::default().revocation_attempts {
        let again = h.next_request();
        assert!(h.now > sent_at, "sent again only after a backoff");
        assert_eq!(again.purpose(), Purpose::Revoke(TokenKind::Access));
        assert_eq!(field(&again, "token").as_deref(), Some("at-1"));
        assert_ne!(again.id(), last.id());
        h.answer(&again, error(503, "temporarily_unavailable"));
        last = again;
    }
    let second = last;
    let events = h.take_events();
    assert!(
        matches!(
            &events[..],
            [
                Event::TokenWithdrawn {
                    reason: Withdrawal::Revoked,
                    ..
                },
                Event::RetryScheduled { .. },
                Event::RetryScheduled { .. },
                Event::RevocationFailed {
                    kind: TokenKind::Access,
                    ..
                },
                Event::Revoked
            ]
        ),
        "{events:?}"
    );
    assert!(matches!(h.tick(Duration::days(400)), (r, None) if r.is_empty()));
    assert!(h.driver.session().is_revoked());
    assert!(h
        .driver
        .handle_transport_error(second.id(), TransportError::OutcomeUnknown, h.now)
        .is_err());
    assert_eq!(
        h.driver.handle_unauthorized(Generation::default(), h.now),
        Unauthorized::Stale
    );
    assert_eq!(h.driver.login(h.now), Err(Misuse::Revoked));
    assert_eq!(h.token(), None);
}

#[test]
fn revoking_while_refreshing_awaits_the_refresh_and_revokes_what_it_minted() {
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    let refresh = h.next_request();
    h.driver.revoke(h.now);
    assert_eq!(h.token(), None);
    assert!(h.drain().0.is_empty(), "one request in flight at a time");
    h.answer(&refresh, token("at-2", Some("rt-2"), 3600));
    assert_eq!(
        h.token(),
        None,
        "a token minted after revoke is never handed out"
    );
    let mut revoked = Vec::new();
    for _ in 0..8 {
        let (requests, _) = h.drain();
        let Some(request) = requests.into_iter().next() else {
            break;
        };
        revoked.push((request.purpose(), field(&request, "token").unwrap()));
        h.answer(&request, http::Response::new(Vec::new()));
    }
    let refresh = Purpose::Revoke(TokenKind::Refresh);
    let access = Purpose::Revoke(TokenKind::Access);
    assert_eq!(
        revoked,
        [
            (refresh, "rt-1"),
            (refresh, "rt-2"),
            (access, "at-1"),
            (access, "at-2")
        ]
        .map(|(p, t)| (p, t.to_owned()))
    );
    assert!(h.take_events().contains(&Event::Revoked));
}

#[test]
fn client_credentials_renews_by_logging_in_again() {
    let dialect = Standard::builder("https://auth.example.com/token", "client")
        .client_secret("client-secret")
        .build()
        .unwrap();
    let mut h = Harness::logged_in(dialect, "at-1", None);
    let renewal = h.next_request();
    assert_eq!(renewal.purpose(), Purpose::Login);
    assert!(renewal.is_resend_safe());
    assert_eq!(
        field(&renewal, "grant_type").as_deref(),
        Some("client_credentials")
    );
}

/// A clock at the ends of time (a broken RTC, a hostile test) never panics, and the
/// driver still gives what a user relies on: every drain ends; every request it emits is
/// awaited; shown the same moment again and again, it sends a handful of requests at
/// most (the request budget holds even with a stuck clock); it hands out a token only
/// while the token is valid; it always has a status; it waits for a moment in the future
/// whenever there is one; and a revoke ends in silence.
#[test]
fn extreme_clock_values_never_panic() {
    let budget = policy().token_request_budget.requests() as usize;
    let starts = [
        UtcDateTime::MIN,
        UtcDateTime::MIN + Duration::SECOND,
        UtcDateTime::MAX - Duration::SECOND,
        UtcDateTime::MAX,
    ];
    for start in starts {
        let mut h = Harness::new(password_dialect());
        h.now = start;
        let mut requests = 0;
        let mut statuses = Vec::new();
        // An adapter's loop with the clock stuck at `start`: every request answered with
        // a fresh token, the time shown again and again; now and then a 401 for the
        // current token and a successful call.
        for round in 0..50 {
            match round % 10 {
                3 => {
                    if let Some(token) = h.driver.access_token(h.now) {
                        let _ = h.driver.handle_unauthorized(token.generation(), h.now);
                    }
                }
                6 => {
                    let generation = h.driver.session().generation();
                    h.driver.handle_call_succeeded(generation, h.now);
                }
                _ => h.driver.handle_timeout(h.now),
            }
            let (sent, _) = h.drain();
            for request in &sent {
                requests += 1;
                let access = format!("at-{requests}");
                let refresh = format!("rt-{requests}");
                h.answer(request, token(&access, Some(&refresh), 3600));
            }
            h.drain();
            if let Some(token) = h.driver.access_token(h.now) {
                assert!(
                    token.valid_until() > h.now,
                    "{start}: a token handed out past its validity"
                );
            }
            statuses.push(h.driver.status());
        }
        assert!(
            requests <= budget,
            "{start}: {requests} requests with the clock stuck: a storm"
        );
        assert!(
            !statuses.contains(&Status::Revoked),
            "{start}: {statuses:?}"
        );
        if start < UtcDateTime::MAX {
            assert!(
                requests >= 1,
                "{start}: the session logged in, time permitting"
            );
            let deadline = h.driver.next_deadline().expect("something to wait for");
            assert!(
                deadline > h.now,
                "{start}: due at {deadline} while stuck at {}: a hot loop",
                h.now
            );
        }

        // Revoking ends in silence: revoked, no token, nothing more to wait for.
        h.driver.revoke(h.now);
        let mut revocations = 0;
        for _ in 0..8 {
            let (sent, deadline) = h.drain();
            for request in &sent {
                revocations += 1;
                h.answer(request, http::Response::new(Vec::new()));
            }
            if sent.is_empty() && deadline.is_some_and(|at| at <= h.now) {
                h.driver.handle_timeout(h.now);
            }
        }
        assert!(revocations <= 2, "{start}: {revocations} revocations");
        assert_eq!(h.driver.status(), Status::Revoked, "{start}");
        assert!(h.driver.access_token(h.now).is_none(), "{start}");
        let (sent, deadline) = h.drain();
        assert!(sent.is_empty(), "{start}: {sent:?}");
        assert_eq!(deadline, None, "{start}: idle");
    }
}

/// `renew` asks for a new token ahead of the refresh moment, in every state, as a table:
/// an active session refreshes at once and serves its token until the new one arrives;
/// one already renewing sends nothing more; one without a token logs in; a revoked one
/// refuses.
#[test]
fn renew_asks_for_a_new_token_now_in_every_state() {
    // Active, before the refresh moment: a refresh now, the old token still served.
    let mut h = Harness::logged_in(password_dialect(), "at-1", Some("rt-1"));
    h.now += Duration::minutes(1);
    h.driver.renew(h.now).unwrap();
    let (requests, _) = h.drain();
    assert_eq!(requests.len(), 1, "one renewal, sent at once");
    assert_eq!(requests[0].purpose(), Purpose::Refresh);
    assert_eq!(
        field(&requests[0], "refresh_token").as_deref(),
        Some("rt-1")
    );
    assert_eq!(h.token().as_deref(), Some("at-1"), "served until replaced");

    // Refreshing: asking again sends nothing more.
    h.driver.renew(h.now).unwrap();
    assert!(h.drain().0.is_empty(), "a renewal is already in flight");
    h.answer(&requests[0], token("at-2", Some("rt-2"), 3600));
    assert_eq!(h.token().as_deref(), Some("at-2"));
    assert_eq!(h.generation().get(), 2);

    // Without a token (a halted login): renew logs in, as login does.
    let mut h = Harness::new(password_dialect());
    h.driver.handle_timeout(h.now);
    let login = h.next_request();
    h.answer(&login, error(401, "invalid_client"));
    assert!(h.drain().0.is_empty(), "invalid_client halts");
    h.driver.renew(h.now).unwrap();
    let (requests, _) = h.drain();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].purpose(), Purpose::Login);

    // Revoked: refused, nothing sent.
    let mut h = Harness::logged_in(password_dialect(), "at-1", None);
    h.driver.revoke(h.now);
    let (revocations, _) = h.drain();
    for revocation in &revocations {
        h.answer(revocation, http::Response::new(Vec::new()));
    }
    assert!(matches!(h.driver.renew(h.now), Err(Misuse::Revoked)));
    assert!(h.drain().0.is_empty());
}

/// Every temporary failure is a persistence point, so a process that stops right after
/// it resumes with the backoff or `Retry-After` instead of trying again at once, and
/// knows the request was answered, for each purpose and kind of failure: a table.
#[test]
fn a_restart_after_a_temporary_failure_keeps_its_backoff() {
    let throttled = || {
        http::Response::builder()
            .status(429)
            .header("retry-after", "120")
            .body(Vec::new())
            .unwrap()
    };
    // (name, whether the failing request is a refresh, the answer, the retry's purpose:
    // a refresh answered 429 was not processed, so its token is not spent; one answered
    // 500 may have been, so the retry is a login).
    type Answer = fn() -> http::Response<Vec<u8>>;
    let rows: [(&str, bool, Answer, Purpose); 4] = [
        (
            "login, 429 with Retry-After",
            false,
            throttled,
            Purpose::Login,
        ),
        (
            "login, 503",
            false,
            || error(503, "temporarily_unavailable"),
            Purpose::Login,
        ),
        (
            "refresh, 429 with Retry-After",
            true,
            throttled,
            Purpose::Refresh,
        ),
        (
            "refresh, 500",
            true,
            || error(500, "server_error"),
            Purpose::Login,
        ),
    ];
    for (name, refresh, answer, expected) in rows {
        let mut h = if refresh {
            Harness::logged_in(password_dialect(), "at-1", Some("rt-1"))
        } else {
            Harness::new(password_dialect())
        };
        h.driver.handle_timeout(h.now);
        let request = h.next_request();
        let persisted = h.persisted;
        h.answer(&request, answer());
        let events = h.take_events();
        let retry_at = events
            .iter()
            .find_map(|event| match event {
                Event::RetryScheduled { error, .. } => error.retry_at(),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: {events:?}"));
        assert_eq!(
            h.persisted,
            persisted + 1,
            "{name}: persisted after the failure"
        );

        // A new process resumes from the snapshot taken there.
        let snapshot = h.driver.session().snapshot_with_secrets();
        let session =
            oauth_lifecycle::AnySession::restore(password_dialect(), policy(), snapshot).unwrap();
        let mut resumed = Harness::new(password_dialect());
        resumed.driver = Driver::from_session(session);
        resumed.now = h.now;
        assert_eq!(
            resumed.driver.in_flight(),
            None,
            "{name}: answered, not lost"
        );
        let (requests, deadline) = resumed.tick(Duration::ZERO);
        assert!(
            requests.is_empty(),
            "{name}: nothing before the retry moment"
        );
        assert!(deadline.is_some_and(|at| at <= retry_at), "{name}");
        let retried = resumed.next_request();
        assert!(
            resumed.now >= retry_at,
            "{name}: retried at {} < {retry_at}",
            resumed.now
        );
        assert_eq!(retried.purpose(), expected, "{name}");
    }
}
