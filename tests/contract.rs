//! The contract adapters rely on: generations, the read side, transport errors that say
//! whether a request left, write-ahead persistence, and the getters a transport sets its
//! timeouts from. Against the standard server emulator, in simulated time.

use oauth_lifecycle::dialect::{Grant, RefreshTokenUse, Standard};
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{
    AccessToken, AnySession, Driver, Event, Generation, Output, Policy, Purpose, RefreshToken,
    Session, Snapshot, Status, TokenRequest, TransportError, Unauthorized, WaitReason, Withdrawal,
};
use oauth_lifecycle_emulator::{Emulator, StandardServer, StandardServerConfig};
use oauth_lifecycle_testkit::{collect, standard_client, IN_PROCESS, STANDARD_USER};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-08-01 09:00:00);

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_fraction = 0.0;
    policy
}

fn password_dialect(refresh_token_use: RefreshTokenUse) -> Standard {
    let (username, password) = STANDARD_USER;
    standard_client(IN_PROCESS)
        .password(username, password)
        .revocation_url(format!("{IN_PROCESS}/revoke"))
        .refresh_token_use(refresh_token_use)
        .build()
        .unwrap()
}

fn refresh_only_dialect(refresh_token_use: RefreshTokenUse) -> Standard {
    standard_client(IN_PROCESS)
        .grant(Grant::RefreshOnly)
        .refresh_token_use(refresh_token_use)
        .build()
        .unwrap()
}

/// A driver and the emulated server it talks to.
struct World {
    driver: Driver<Standard>,
    server: StandardServer,
    now: UtcDateTime,
}

impl World {
    fn logged_in(dialect: Standard) -> Self {
        let mut world = World {
            driver: Driver::new(dialect, policy()).unwrap(),
            server: StandardServer::new(StandardServerConfig::default()),
            now: START,
        };
        world.driver.handle_timeout(world.now);
        let login = world.next_request();
        assert_eq!(login.purpose(), Purpose::Login);
        world.answer(login);
        world
    }

    fn adopted(dialect: Standard) -> Self {
        // A refresh token minted by the server for a password login, adopted as if it
        // came from an authorization code flow.
        let mut server = StandardServer::new(StandardServerConfig::default());
        let mut minting = Driver::new(password_dialect(RefreshTokenUse::SingleUse), policy())
            .expect("a valid dialect");
        minting.handle_timeout(START);
        let login = collect(&mut minting).requests.remove(0);
        let response = server.handle(login.request(), START);
        let body: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
        let grant = TokenGrant {
            access_token: AccessToken::new(body["access_token"].as_str().unwrap().into()),
            refresh_token: Some(RefreshToken::new(
                body["refresh_token"].as_str().unwrap().into(),
            )),
            expires: Expiry::In(3600),
            refresh_expires: None,
            scope: None,
            extra: (),
        };
        let active = Session::new(dialect, policy())
            .unwrap()
            .adopt(grant, START)
            .unwrap();
        World {
            driver: Driver::from_session(active.into()),
            server,
            now: START,
        }
    }

    /// Drains, jumping to deadlines, until exactly one request comes.
    fn next_request(&mut self) -> TokenRequest {
        for _ in 0..8 {
            let mut drained = collect(&mut self.driver);
            if let Some(request) = drained.requests.pop() {
                assert!(drained.requests.is_empty(), "one request at a time");
                return request;
            }
            self.now = drained.deadline.expect("a deadline").max(self.now);
            self.driver.handle_timeout(self.now);
        }
        panic!("no request came");
    }

    fn answer(&mut self, request: TokenRequest) {
        let response = self.server.handle(request.request(), self.now);
        self.driver
            .handle_response(request.id(), &response, self.now)
            .unwrap();
    }

    fn generation(&self) -> Generation {
        self.driver
            .access_token(self.now)
            .expect("a token is handed out")
            .generation()
    }

    fn token(&self) -> Option<String> {
        self.driver
            .access_token(self.now)
            .map(|t| t.secret().to_owned())
    }
}

fn refresh_token_of(request: &TokenRequest) -> Option<String> {
    form_urlencoded::parse(request.request().body())
        .find(|(k, _)| k == "refresh_token")
        .map(|(_, v)| v.into_owned())
}

// ---------------------------------------------------------------------------------------
// Generations

#[test]
fn a_late_401_for_a_replaced_token_keeps_its_successor_and_sends_nothing() {
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::SingleUse));
    let first = world.generation();
    let refresh = world.next_request();
    world.answer(refresh);
    let second = world.generation();
    assert_eq!(second.get(), first.get() + 1);
    let token = world.token();
    collect(&mut world.driver);

    assert_eq!(
        world.driver.handle_unauthorized(first, world.now),
        Unauthorized::Stale
    );
    let drained = collect(&mut world.driver);
    assert!(drained.requests.is_empty(), "a stale 401 sent something");
    assert!(drained.events.is_empty(), "{:?}", drained.events);
    assert_eq!(world.token(), token, "the successor is still handed out");
    assert_eq!(world.driver.status(), Status::Ready);
}

#[test]
fn fifty_reports_for_one_generation_cause_one_renewal() {
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::SingleUse));
    let generation = world.generation();
    // Old enough that a first rejection is renewed at once (`Policy::unauthorized_spacing`).
    world.now += Duration::SECOND;
    let mut answers = Vec::new();
    for _ in 0..50 {
        answers.push(world.driver.handle_unauthorized(generation, world.now));
    }
    assert_eq!(answers[0], Unauthorized::Withdrawn);
    assert!(answers[1..]
        .iter()
        .all(|a| *a == Unauthorized::AlreadyWithdrawn));
    let drained = collect(&mut world.driver);
    assert_eq!(drained.requests.len(), 1, "exactly one renewal");
    assert_eq!(
        drained
            .events
            .iter()
            .filter(|e| matches!(
                e,
                Event::TokenWithdrawn {
                    reason: Withdrawal::Rejected,
                    ..
                }
            ))
            .count(),
        1
    );
    // Reports keep arriving while the renewal is in flight: still one request.
    for _ in 0..50 {
        let _ = world.driver.handle_unauthorized(generation, world.now);
    }
    assert!(collect(&mut world.driver).requests.is_empty());
    world.answer(drained.requests.into_iter().next().unwrap());
    assert_eq!(world.generation().get(), generation.get() + 1);
    assert_eq!(world.server.stats().token_requests, 2);
}

#[test]
fn a_report_before_any_token_or_after_revocation_is_stale() {
    let mut driver = Driver::new(password_dialect(RefreshTokenUse::SingleUse), policy()).unwrap();
    assert_eq!(
        driver.handle_unauthorized(Generation::default(), START),
        Unauthorized::Stale
    );
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::SingleUse));
    let generation = world.generation();
    world.driver.revoke(world.now);
    assert_eq!(
        world.driver.handle_unauthorized(generation, world.now),
        Unauthorized::Stale
    );
}

// ---------------------------------------------------------------------------------------
// Transport errors: whether the request left

/// Every combination of how a refresh failed in transport, how the dialect treats its
/// refresh tokens, and whether it can log in: what the next renewal is.
#[test]
fn a_transport_error_spends_a_single_use_refresh_token_only_if_it_may_have_left() {
    let cases = [
        // (refresh token use, can log in, transport error, next renewal)
        (
            RefreshTokenUse::SingleUse,
            false,
            TransportError::NotSent,
            Some(Purpose::Refresh),
        ),
        (
            RefreshTokenUse::SingleUse,
            false,
            TransportError::OutcomeUnknown,
            None,
        ),
        (
            RefreshTokenUse::SingleUse,
            true,
            TransportError::NotSent,
            Some(Purpose::Refresh),
        ),
        (
            RefreshTokenUse::SingleUse,
            true,
            TransportError::OutcomeUnknown,
            Some(Purpose::Login),
        ),
        (
            RefreshTokenUse::Reusable,
            false,
            TransportError::NotSent,
            Some(Purpose::Refresh),
        ),
        (
            RefreshTokenUse::Reusable,
            false,
            TransportError::OutcomeUnknown,
            Some(Purpose::Refresh),
        ),
        (
            RefreshTokenUse::Reusable,
            true,
            TransportError::OutcomeUnknown,
            Some(Purpose::Refresh),
        ),
    ];
    for (refresh_token_use, can_login, error, expected) in cases {
        let case = format!("{refresh_token_use:?}, can log in: {can_login}, {error:?}");
        let mut world = if can_login {
            World::logged_in(password_dialect(refresh_token_use))
        } else {
            World::adopted(refresh_only_dialect(refresh_token_use))
        };
        let token = world.token();
        let refresh = world.next_request();
        assert_eq!(refresh.purpose(), Purpose::Refresh, "{case}");
        let presented = refresh_token_of(&refresh);
        world
            .driver
            .handle_transport_error(refresh.id(), error, world.now)
            .unwrap();
        let drained = collect(&mut world.driver);
        assert_eq!(world.token(), token, "{case}: the valid token is kept");
        let halted = drained
            .events
            .iter()
            .any(|e| matches!(e, Event::ReauthenticationRequired { .. }));
        match expected {
            None => {
                assert!(halted, "{case}: {:?}", drained.events);
                assert!(matches!(world.driver.status(), Status::NeedsLogin { .. }));
            }
            Some(purpose) => {
                assert!(!halted, "{case}: a network blip logged the user out");
                let retry = world.next_request();
                assert_eq!(retry.purpose(), purpose, "{case}");
                if purpose == Purpose::Refresh {
                    assert_eq!(refresh_token_of(&retry), presented, "{case}");
                }
                // It comes after a backoff, not at once.
                assert!(world.now > START, "{case}");
                world.answer(retry);
                assert_ne!(world.token(), token, "{case}: renewed");
            }
        }
        assert_eq!(world.server.stats().refresh_token_reuses, 0, "{case}");
    }
}

#[test]
fn refused_connections_never_log_a_refresh_only_session_out() {
    let mut world = World::adopted(refresh_only_dialect(RefreshTokenUse::SingleUse));
    let mut retries = 0;
    // The server is unreachable for a while: every attempt is refused before it leaves.
    while world.now < START + Duration::minutes(55) {
        let refresh = world.next_request();
        assert_eq!(refresh.purpose(), Purpose::Refresh);
        world
            .driver
            .handle_transport_error(refresh.id(), TransportError::NotSent, world.now)
            .unwrap();
        retries += 1;
        assert!(retries < 100, "backoff keeps the attempts few");
    }
    assert!(!matches!(world.driver.status(), Status::NeedsLogin { .. }));
    // The server comes back: the same refresh token works.
    let refresh = world.next_request();
    world.answer(refresh);
    assert_eq!(world.driver.status(), Status::Ready);
    assert_eq!(world.server.stats().refreshes, 1);
}

// ---------------------------------------------------------------------------------------
// Write-ahead persistence

#[test]
fn persistence_comes_after_each_token_change_and_before_spending_a_refresh_token() {
    let mut world = World {
        driver: Driver::new(password_dialect(RefreshTokenUse::SingleUse), policy()).unwrap(),
        server: StandardServer::new(StandardServerConfig::default()),
        now: START,
    };
    world.driver.handle_timeout(world.now);
    let drained = collect(&mut world.driver);
    assert_eq!(drained.outputs, ["request"], "a login is safe to resend");
    world.answer(drained.requests.into_iter().next().unwrap());
    let drained = collect(&mut world.driver);
    assert_eq!(
        drained.outputs,
        ["event", "persist"],
        "issued, then persisted"
    );

    world.now = drained.deadline.unwrap();
    world.driver.handle_timeout(world.now);
    let drained = collect(&mut world.driver);
    assert_eq!(
        drained.outputs,
        ["event", "persist", "request"],
        "renewal due, then persisted, then the single-use refresh"
    );
    assert!(!drained.requests[0].is_resend_safe());

    // A reusable refresh token needs no write-ahead.
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::Reusable));
    collect(&mut world.driver);
    let refresh = world.next_request();
    assert!(refresh.is_resend_safe());
}

/// The program crashes right after sending a single-use refresh; it restarts from the
/// snapshot it saved at the persistence point before it.
#[test]
fn a_crash_after_sending_a_single_use_refresh_never_resends_it() {
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::SingleUse));
    world.now += Duration::minutes(48);
    world.driver.handle_timeout(world.now);
    let mut saved: Option<String> = None;
    let refresh = loop {
        match world.driver.poll_output() {
            Output::Persist => {
                let snapshot = world.driver.session().snapshot_with_secrets();
                saved = Some(serde_json::to_string(&snapshot).unwrap());
            }
            Output::Request(request) => break request,
            Output::Event(_) => {}
            other => panic!("{other:?}"),
        }
    };
    let saved = saved.expect("a persistence point before the refresh");
    // Sent; the server rotates the refresh token; the process dies before the answer.
    let _lost = world.server.handle(refresh.request(), world.now);
    drop(world.driver);

    let snapshot: Snapshot<()> = serde_json::from_str(&saved).unwrap();
    let session = AnySession::restore(
        password_dialect(RefreshTokenUse::SingleUse),
        policy(),
        snapshot,
    )
    .unwrap();
    let mut driver = Driver::from_session(session);
    let (id, purpose) = driver.in_flight().expect("the refresh was in flight");
    assert_eq!((id, purpose), (refresh.id(), Purpose::Refresh));
    world.now += Duration::seconds(3);
    driver
        .handle_transport_error(id, TransportError::OutcomeUnknown, world.now)
        .unwrap();
    world.driver = driver;
    let renewal = world.next_request();
    assert_eq!(
        renewal.purpose(),
        Purpose::Login,
        "the spent refresh token is never sent again"
    );
    world.answer(renewal);
    assert_eq!(world.server.stats().refresh_token_reuses, 0);
    assert_eq!(world.driver.status(), Status::Ready);
}

#[test]
fn a_restored_session_keeps_its_generation_and_announces_nothing_twice() {
    let mut world = World::adopted(refresh_only_dialect(RefreshTokenUse::SingleUse));
    let generation = world.generation();
    // The server refuses the refresh for good: halted, then past the hard expiry.
    let refresh = world.next_request();
    let refused = http::Response::builder()
        .status(400)
        .body(br#"{"error":"invalid_grant"}"#.to_vec())
        .unwrap();
    world
        .driver
        .handle_response(refresh.id(), &refused, world.now)
        .unwrap();
    collect(&mut world.driver);
    world.now = START + Duration::hours(1) - Duration::seconds(5);
    world.driver.handle_timeout(world.now);
    let drained = collect(&mut world.driver);
    assert!(drained.events.contains(&Event::TokenWithdrawn {
        generation,
        reason: Withdrawal::Expired
    }));

    let snapshot = world.driver.session().snapshot_with_secrets();
    assert_eq!(snapshot.generation(), generation);
    let json = serde_json::to_string(&snapshot).unwrap();
    let restored = AnySession::restore(
        refresh_only_dialect(RefreshTokenUse::SingleUse),
        policy(),
        serde_json::from_str(&json).unwrap(),
    )
    .unwrap();
    assert_eq!(restored.generation(), generation);
    let mut driver = Driver::from_session(restored);
    driver.handle_timeout(world.now + Duration::seconds(1));
    let drained = collect(&mut driver);
    assert!(
        drained.events.is_empty(),
        "announced again after a restore: {:?}",
        drained.events
    );
}

// ---------------------------------------------------------------------------------------
// Deadlines and getters

#[test]
fn the_deadline_includes_the_hard_expiry_while_a_renewal_is_in_flight() {
    // A 40-second token: renewal at 32 s (80 %; the margin shrinks to 8 s for so short a
    // life), hard expiry at 36 s (the skew allowance shrinks to 4 s), the renewal's
    // response deadline at 62 s.
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = Duration::seconds(40);
    let mut world = World {
        driver: Driver::new(password_dialect(RefreshTokenUse::SingleUse), policy()).unwrap(),
        server: StandardServer::new(config),
        now: START,
    };
    world.driver.handle_timeout(world.now);
    let login = world.next_request();
    world.answer(login);
    let generation = world.generation();
    let refresh = world.next_request();
    assert_eq!(world.now, START + Duration::seconds(32));
    assert_eq!(refresh.deadline(), START + Duration::seconds(62));
    let hard_expiry = START + Duration::seconds(36);
    assert_eq!(world.driver.next_deadline(), Some(hard_expiry));
    assert_eq!(collect(&mut world.driver).deadline, Some(hard_expiry));
    assert!(world.token().is_some(), "stale-while-refresh");

    world.now = hard_expiry;
    world.driver.handle_timeout(world.now);
    let drained = collect(&mut world.driver);
    assert_eq!(
        drained.events,
        [Event::TokenWithdrawn {
            generation,
            reason: Withdrawal::Expired
        }]
    );
    assert!(world.token().is_none());
    assert_eq!(world.driver.status(), Status::Renewing);
    assert_eq!(drained.deadline, Some(refresh.deadline()));
    // The renewal lands late: the new token is handed out.
    world.answer(refresh);
    assert!(world.token().is_some());
}

#[test]
fn getters_tell_a_transport_what_it_needs_without_draining() {
    let mut driver = Driver::new(password_dialect(RefreshTokenUse::SingleUse), policy()).unwrap();
    assert_eq!(driver.policy().response_timeout, Duration::seconds(30));
    assert_eq!(driver.policy().max_body_bytes, 64 * 1024);
    assert_eq!(driver.status(), Status::Renewing);
    driver.handle_timeout(START);
    assert_eq!(driver.status(), Status::Renewing);
    let expected_deadline = driver.next_deadline();
    let drained = collect(&mut driver);
    assert_eq!(drained.deadline, expected_deadline);
    let login = &drained.requests[0];
    assert_eq!(login.deadline(), START + Duration::seconds(30));
    assert_eq!(expected_deadline, Some(login.deadline()));

    let mut server = StandardServer::new(StandardServerConfig::default());
    let response = server.handle(login.request(), START);
    driver
        .handle_response(login.id(), &response, START)
        .unwrap();
    assert_eq!(driver.status(), Status::Ready);
    let deadline = driver.next_deadline();
    assert_eq!(collect(&mut driver).deadline, deadline);

    // A failed renewal: waiting, with the moment of the next attempt.
    let at = deadline.unwrap();
    driver.handle_timeout(at);
    let refresh = collect(&mut driver).requests.remove(0);
    let unavailable = http::Response::builder()
        .status(503)
        .body(Vec::new())
        .unwrap();
    driver
        .handle_response(refresh.id(), &unavailable, at)
        .unwrap();
    let Status::Waiting {
        retry_at,
        reason: WaitReason::Backoff,
    } = driver.status()
    else {
        panic!("{:?}", driver.status());
    };
    assert!(retry_at > at);
    assert_eq!(driver.next_deadline(), Some(retry_at));

    // A 429: waiting too, because the endpoint asked.
    driver.handle_timeout(retry_at);
    let login = collect(&mut driver).requests.remove(0);
    let slow_down = http::Response::builder()
        .status(429)
        .header("retry-after", "120")
        .body(Vec::new())
        .unwrap();
    driver
        .handle_response(login.id(), &slow_down, retry_at)
        .unwrap();
    assert_eq!(
        driver.status(),
        Status::Waiting {
            retry_at: retry_at + Duration::seconds(120),
            reason: WaitReason::Throttled,
        }
    );
    let retry_at = retry_at + Duration::seconds(120);

    // A rejected client: tried again by itself, slowly, and the status says why.
    driver.handle_timeout(retry_at);
    let login = collect(&mut driver).requests.remove(0);
    let rejected = http::Response::builder()
        .status(401)
        .body(br#"{"error":"invalid_client"}"#.to_vec())
        .unwrap();
    driver
        .handle_response(login.id(), &rejected, retry_at)
        .unwrap();
    assert!(
        matches!(
            driver.status(),
            Status::Waiting {
                reason: WaitReason::Rejected { .. },
                ..
            }
        ),
        "{:?}",
        driver.status()
    );

    driver.revoke(retry_at);
    assert_eq!(driver.status(), Status::Revoked);
}

#[test]
fn the_read_side_shares_the_token_bytes_and_a_sensitive_header() {
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::SingleUse));
    let drained = collect(&mut world.driver);
    let Some(Event::TokenIssued {
        token, generation, ..
    }) = drained.events.first()
    else {
        panic!("{:?}", drained.events);
    };
    let current = world.driver.access_token(world.now).unwrap();
    assert!(token.ptr_eq(current.bearer()), "one allocation, shared");
    assert_eq!(*generation, current.generation());
    assert_eq!(
        current.header_value().to_str().unwrap(),
        format!("Bearer {}", current.secret())
    );
    assert!(current.header_value().is_sensitive());
    assert!(!format!("{token:?} {current:?}").contains(current.secret()));
}

#[test]
fn a_restored_session_announces_its_token_once_for_a_fresh_read_side() {
    let mut world = World::logged_in(password_dialect(RefreshTokenUse::SingleUse));
    collect(&mut world.driver);
    let generation = world.generation();
    let snapshot = world.driver.session().snapshot_with_secrets();
    let restored = AnySession::restore(
        password_dialect(RefreshTokenUse::SingleUse),
        policy(),
        snapshot,
    )
    .unwrap();
    let mut driver = Driver::from_session(restored);
    let drained = collect(&mut driver);
    let [Event::TokenRestored {
        token,
        generation: announced,
        valid_until,
        ..
    }] = &drained.events[..]
    else {
        panic!("{:?}", drained.events);
    };
    let current = driver.access_token(world.now).unwrap();
    assert_eq!(*announced, generation);
    assert_eq!(token.secret(), current.secret());
    assert_eq!(*valid_until, current.valid_until());
    assert!(collect(&mut driver).events.is_empty(), "announced once");
}
