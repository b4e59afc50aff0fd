//! Two honest inputs, so that no adapter has to invent a transport error:
//!
//! - a session restored from a snapshot treats the request it had in flight as lost by
//!   itself: the first time it is shown the time, the request fails as
//!   `TransportError::OutcomeUnknown` would, and a single-use refresh token it carried is
//!   never presented again;
//! - `Driver::handle_refresh_token_spent_elsewhere` says that another process or tool may
//!   have used the refresh token: it is never presented again, the access token is still
//!   served, and the session logs in (with credentials) or halts (without).
//!
//! Against the standard server emulator: single-use refresh tokens, rotated on every
//! refresh, and a reused one revokes the whole grant. Simulated time.

use oauth_lifecycle::dialect::{Grant, RefreshTokenUse, Standard};
use oauth_lifecycle::{
    AnySession, Dialect, Driver, Error, Event, FailureKind, Misuse, Output, Policy, Purpose,
    RequestId, Session, Status, TokenKind, TokenRequest, TransportError,
};
use oauth_lifecycle_emulator::{Emulator, ResponseFlavor, StandardServer, StandardServerConfig};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-10-01 09:00:00);
const TOKEN_URL: &str = "http://127.0.0.1/token";
const REVOCATION_URL: &str = "http://127.0.0.1/revoke";

fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.jitter_fraction = 0.0;
    policy
}

/// What the session may renew with besides its refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credentials {
    /// A user's password: it can log in again.
    Password,
    /// Nothing: tokens obtained elsewhere, renewed with the refresh token only.
    RefreshOnly,
}

use Credentials::{Password, RefreshOnly};

fn dialect(credentials: Credentials) -> Standard {
    let builder = Standard::builder(TOKEN_URL, "emulated-client")
        .client_secret("emulated-secret")
        .revocation_url(REVOCATION_URL)
        .refresh_token_use(RefreshTokenUse::SingleUse);
    match credentials {
        Password => builder.password("alice", "alice-password"),
        RefreshOnly => builder.grant(Grant::RefreshOnly),
    }
    .build()
    .unwrap()
}

/// The refresh token a refresh request presents.
fn presented(request: &TokenRequest) -> Option<String> {
    if request.purpose() != Purpose::Refresh {
        return None;
    }
    form_urlencoded::parse(request.request().body())
        .find(|(key, _)| key == "refresh_token")
        .map(|(_, value)| value.into_owned())
}

/// A request the driver emitted, as the test remembers it.
#[derive(Debug)]
struct Sent {
    purpose: Purpose,
    /// The refresh token it presented, for a refresh.
    refresh_token: Option<String>,
}

/// A driver, the emulated provider it talks to, and the simulated time.
struct World {
    driver: Driver<Standard>,
    server: StandardServer,
    now: UtcDateTime,
    /// Every request polled from the driver, in order.
    sent: Vec<Sent>,
    events: Vec<Event>,
    persisted: usize,
    /// The request in flight has reached the server, whose answer is held here: lost
    /// with the process, or handed back late.
    unanswered: Option<(RequestId, http::Response<Vec<u8>>)>,
    /// The refresh token the refresh in flight presents (sent or not yet polled).
    presenting: Option<String>,
}

impl World {
    /// A session with no token yet, and no input so far.
    fn fresh(credentials: Credentials, config: StandardServerConfig) -> Self {
        World {
            driver: Driver::new(dialect(credentials), policy()).unwrap(),
            server: StandardServer::new(config),
            now: START,
            sent: Vec::new(),
            events: Vec::new(),
            persisted: 0,
            unanswered: None,
            presenting: None,
        }
    }

    /// Logged in at `START`: with the password, or, without credentials, with tokens the
    /// provider minted for a login elsewhere, adopted.
    fn logged_in(credentials: Credentials) -> Self {
        Self::logged_in_at(credentials, StandardServerConfig::default())
    }

    fn logged_in_at(credentials: Credentials, config: StandardServerConfig) -> Self {
        let mut world = World::fresh(credentials, config);
        match credentials {
            Password => {
                world.driver.handle_timeout(world.now);
                let login = world.next_request();
                assert_eq!(login.purpose(), Purpose::Login);
                world.answer(&login);
            }
            RefreshOnly => {
                let elsewhere = dialect(Password);
                let login = elsewhere.login_request().unwrap();
                let response = world.server.handle(&login, world.now);
                let grant = elsewhere
                    .parse_token_response(Purpose::Login, &response)
                    .unwrap();
                assert!(grant.refresh_token.is_some());
                let session = Session::new(dialect(RefreshOnly), policy())
                    .unwrap()
                    .adopt(grant, world.now)
                    .unwrap();
                world.driver = Driver::from_session(session.into());
            }
        }
        world.drain();
        assert!(world.refresh_token().is_some(), "with a refresh token");
        world
    }

    fn refresh_token(&self) -> Option<String> {
        let tokens = self.driver.session().tokens()?;
        Some(tokens.refresh_token()?.secret().to_owned())
    }

    fn access_token(&self) -> Option<(String, u64)> {
        let token = self.driver.access_token(self.now)?;
        Some((token.secret().to_owned(), token.generation().get()))
    }

    /// Polls every output; returns the requests.
    fn drain(&mut self) -> (Vec<TokenRequest>, Option<UtcDateTime>) {
        let mut requests = Vec::new();
        for _ in 0..64 {
            match self.driver.poll_output() {
                Output::Request(request) => {
                    self.sent.push(Sent {
                        purpose: request.purpose(),
                        refresh_token: presented(&request),
                    });
                    requests.push(request);
                }
                Output::Event(event) => self.events.push(event),
                Output::Persist => self.persisted += 1,
                Output::Timeout(at) => return (requests, Some(at)),
                Output::Idle => return (requests, None),
            }
        }
        panic!("the driver never settled");
    }

    /// Jumps from deadline to deadline until a request comes.
    fn next_request(&mut self) -> TokenRequest {
        for _ in 0..8 {
            let (mut requests, deadline) = self.drain();
            if let Some(request) = requests.pop() {
                assert!(requests.is_empty(), "one request at a time");
                return request;
            }
            self.now = deadline.expect("a deadline").max(self.now);
            self.driver.handle_timeout(self.now);
        }
        panic!("no request came");
    }

    fn answer(&mut self, request: &TokenRequest) {
        let response = self.server.handle(request.request(), self.now);
        self.driver
            .handle_response(request.id(), &response, self.now)
            .unwrap();
    }

    /// The request reaches the server; its answer is held back.
    fn hold_answer(&mut self, request: &TokenRequest) {
        let response = self.server.handle(request.request(), self.now);
        self.unanswered = Some((request.id(), response));
        self.presenting = presented(request);
    }

    /// Lets `span` of simulated time pass, answering every request at once.
    fn run_for(&mut self, span: Duration) {
        let until = self.now + span;
        for _ in 0..1_000 {
            let (requests, deadline) = self.drain();
            for request in &requests {
                self.answer(request);
            }
            if !requests.is_empty() {
                continue;
            }
            let next = deadline.map_or(until, |at| at.min(until));
            // A deadline already passed is shown a second later, never in a busy loop.
            self.now = next.max(self.now + Duration::SECOND).min(until);
            self.driver.handle_timeout(self.now);
            if self.now >= until {
                let (requests, _) = self.drain();
                for request in &requests {
                    self.answer(request);
                }
                return;
            }
        }
        panic!("time never reached {until}");
    }

    /// The logins and refreshes polled from `from` on.
    fn renewals_since(&self, from: usize) -> Vec<Purpose> {
        self.sent[from..]
            .iter()
            .map(|sent| sent.purpose)
            .filter(|purpose| matches!(purpose, Purpose::Login | Purpose::Refresh))
            .collect()
    }

    /// Panics if a refresh polled from `from` on presents `token`.
    fn never_presents(&self, from: usize, token: &str, what: &str) {
        for sent in &self.sent[from..] {
            assert_ne!(
                sent.refresh_token.as_deref(),
                Some(token),
                "{what}: the refresh token was presented again"
            );
        }
        assert_eq!(
            self.server.stats().refresh_token_reuses,
            0,
            "{what}: the provider saw a refresh token twice"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Where a session may stop

/// A state reached through the driver against the emulator. A request in flight there
/// has reached the provider (which spent a refresh token it carried); its answer is held
/// back.
struct Stop {
    name: &'static str,
    /// The dialects the state can be reached with.
    credentials: &'static [Credentials],
    build: fn(Credentials) -> World,
}

fn stops() -> Vec<Stop> {
    const BOTH: &[Credentials] = &[Password, RefreshOnly];
    vec![
        Stop {
            name: "unauthenticated, after a login that never left",
            credentials: &[Password],
            build: |credentials| {
                let mut world = World::fresh(credentials, StandardServerConfig::default());
                world.driver.handle_timeout(world.now);
                let login = world.next_request();
                world
                    .driver
                    .handle_transport_error(login.id(), TransportError::NotSent, world.now)
                    .unwrap();
                world.drain();
                assert_eq!(world.driver.session().state_name(), "unauthenticated");
                world
            },
        },
        Stop {
            name: "logging in",
            credentials: &[Password],
            build: |credentials| {
                let mut world = World::fresh(credentials, StandardServerConfig::default());
                world.driver.handle_timeout(world.now);
                let login = world.next_request();
                world.hold_answer(&login);
                world
            },
        },
        Stop {
            name: "active",
            credentials: BOTH,
            build: World::logged_in,
        },
        Stop {
            name: "expiring, after a refresh that never left",
            credentials: BOTH,
            build: |credentials| {
                let mut world = World::logged_in(credentials);
                let refresh = world.next_request();
                assert_eq!(refresh.purpose(), Purpose::Refresh);
                world
                    .driver
                    .handle_transport_error(refresh.id(), TransportError::NotSent, world.now)
                    .unwrap();
                world.drain();
                assert_eq!(world.driver.session().state_name(), "expiring");
                assert!(world.refresh_token().is_some(), "kept: it never left");
                world
            },
        },
        Stop {
            name: "refreshing, the refresh emitted and not yet polled",
            credentials: BOTH,
            build: |credentials| {
                let mut world = World::logged_in(credentials);
                let (_, deadline) = world.drain();
                world.now = deadline.unwrap();
                world.driver.handle_timeout(world.now);
                // No poll: the refresh is still inside the driver.
                assert_eq!(
                    world.driver.in_flight().map(|(_, purpose)| purpose),
                    Some(Purpose::Refresh)
                );
                world.presenting = world.refresh_token();
                world
            },
        },
        Stop {
            name: "refreshing, the refresh sent",
            credentials: BOTH,
            build: |credentials| {
                let mut world = World::logged_in(credentials);
                let refresh = world.next_request();
                assert_eq!(refresh.purpose(), Purpose::Refresh);
                world.hold_answer(&refresh);
                world
            },
        },
        Stop {
            name: "refreshing, a login standing in for a dead refresh token",
            credentials: &[Password],
            build: |credentials| {
                // The provider states its refresh tokens' lifetime, shorter than the
                // access token's: the refresh token is dead by the refresh moment.
                let mut config = StandardServerConfig::default();
                config.flavor = ResponseFlavor::Keycloak;
                config.refresh_token_lifetime = Some(Duration::minutes(30));
                let mut world = World::logged_in_at(credentials, config);
                let login = world.next_request();
                assert_eq!(login.purpose(), Purpose::Login);
                assert!(world.refresh_token().is_some(), "still held, though dead");
                world.hold_answer(&login);
                world
            },
        },
        Stop {
            name: "revoking, awaiting the refresh",
            credentials: BOTH,
            build: |credentials| {
                let mut world = World::logged_in(credentials);
                let refresh = world.next_request();
                world.hold_answer(&refresh);
                world.driver.revoke(world.now);
                world.drain();
                assert_eq!(world.driver.session().state_name(), "revoking");
                world
            },
        },
        Stop {
            name: "revoking the refresh token",
            credentials: BOTH,
            build: |credentials| {
                let mut world = World::logged_in(credentials);
                world.driver.revoke(world.now);
                let revocation = world.next_request();
                assert_eq!(revocation.purpose(), Purpose::Revoke(TokenKind::Refresh));
                world.hold_answer(&revocation);
                world
            },
        },
        Stop {
            name: "revoked",
            credentials: BOTH,
            build: |credentials| {
                let mut world = World::logged_in(credentials);
                world.driver.revoke(world.now);
                world.run_for(Duration::minutes(1));
                assert!(world.driver.session().is_revoked());
                world
            },
        },
    ]
}

// ---------------------------------------------------------------------------------------
// A restored request in flight is lost

#[test]
fn a_restored_refresh_in_flight_is_lost_without_being_reported() {
    let mut world = World::logged_in(Password);
    let generation = world.driver.session().generation();
    let refresh = world.next_request();
    let spent = presented(&refresh).expect("a refresh presents its token");
    // Sent, and the provider rotates the token; the process dies before the answer. The
    // store holds the snapshot written ahead of the refresh.
    world.hold_answer(&refresh);
    let stored = serde_json::to_string(&world.driver.session().snapshot_with_secrets()).unwrap();

    let restored = AnySession::restore(
        dialect(Password),
        policy(),
        serde_json::from_str(&stored).unwrap(),
    )
    .unwrap();
    let driver = Driver::from_session(restored);
    assert_eq!(
        driver.in_flight(),
        Some((refresh.id(), Purpose::Refresh)),
        "restored as it was"
    );
    world.now += Duration::seconds(3);
    assert!(
        driver.next_deadline().is_some_and(|at| at <= world.now),
        "the lost request is due at once"
    );
    world.driver = driver;
    let from = world.sent.len();

    // The first input, and nothing reported: the session knows the request is lost.
    world.driver.handle_timeout(world.now);
    assert_ne!(
        world.driver.in_flight().map(|(id, _)| id),
        Some(refresh.id())
    );
    let (answer_id, late) = world.unanswered.take().unwrap();
    assert_eq!(
        world.driver.handle_response(answer_id, &late, world.now),
        Err(Misuse::UnknownRequest { id: refresh.id() }),
        "its answer, were it to come now, is refused"
    );
    let renewal = world.next_request();
    assert_eq!(
        renewal.purpose(),
        Purpose::Login,
        "the single-use refresh token that may have left is never sent again"
    );
    world.answer(&renewal);
    world.run_for(Duration::hours(2));
    world.never_presents(from, &spent, "restored");
    assert_eq!(world.driver.status(), Status::Ready);
    assert!(world.driver.session().generation() > generation);
}

/// Adapters used to report the restored request themselves; that is still accepted, and
/// whatever error they report, its outcome counts as unknown: the request left with the
/// process that sent it.
#[test]
fn reporting_the_restored_request_lost_is_still_accepted_and_never_keeps_its_token() {
    for error in [TransportError::OutcomeUnknown, TransportError::NotSent] {
        let mut world = World::logged_in(Password);
        let refresh = world.next_request();
        let spent = presented(&refresh).unwrap();
        world.hold_answer(&refresh);
        let snapshot = world.driver.session().snapshot_with_secrets();
        let restored = AnySession::restore(dialect(Password), policy(), snapshot).unwrap();
        world.driver = Driver::from_session(restored);
        let from = world.sent.len();

        let (id, purpose) = world.driver.in_flight().expect("still named in flight");
        assert_eq!((id, purpose), (refresh.id(), Purpose::Refresh));
        world
            .driver
            .handle_transport_error(id, error, world.now)
            .unwrap();
        let next = world.next_request();
        assert_eq!(next.purpose(), Purpose::Login, "{error:?}");
        world.answer(&next);
        world.run_for(Duration::hours(2));
        world.never_presents(from, &spent, &format!("{error:?}"));
    }
}

/// Until it is shown the time, a restored session still accepts the answer to its
/// request (a restore within the process that sent it may still receive one).
#[test]
fn a_restored_request_answered_before_the_session_is_shown_the_time_is_accepted() {
    let mut world = World::logged_in(Password);
    let refresh = world.next_request();
    world.hold_answer(&refresh);
    let snapshot = world.driver.session().snapshot_with_secrets();
    world.driver =
        Driver::from_session(AnySession::restore(dialect(Password), policy(), snapshot).unwrap());
    let (id, response) = world.unanswered.take().unwrap();
    world
        .driver
        .handle_response(id, &response, world.now)
        .unwrap();
    world.drain();
    assert_eq!(world.driver.status(), Status::Ready);
    assert_eq!(world.driver.session().generation().get(), 2, "renewed");
}

/// For every state a session may stop in, with and without credentials, and whatever
/// the clock says when it is first shown the time (the same moment, a second later, an
/// hour earlier): restored from its snapshot, it never presents again a refresh token
/// its request in flight carried, and it recovers: a token again with credentials, a halt
/// that says a login is needed without, revoked if it was revoking.
#[test]
fn restoring_with_a_request_in_flight_never_resends_a_single_use_refresh_token_in_any_state() {
    let mut checked = 0;
    for stop in stops() {
        for &credentials in stop.credentials {
            for shown in [Duration::ZERO, Duration::SECOND, -Duration::HOUR] {
                let what = format!("{}, {credentials:?}, shown {shown} later", stop.name);
                let mut world = (stop.build)(credentials);
                let in_flight = world.driver.in_flight();
                let spent = world.presenting.clone();
                let stored =
                    serde_json::to_string(&world.driver.session().snapshot_with_secrets()).unwrap();
                let restored = AnySession::restore(
                    dialect(credentials),
                    policy(),
                    serde_json::from_str(&stored).unwrap(),
                )
                .unwrap();
                world.driver = Driver::from_session(restored);
                world.now += shown;
                if in_flight.is_some() {
                    assert_eq!(world.driver.in_flight(), in_flight, "{what}");
                    assert!(
                        world
                            .driver
                            .next_deadline()
                            .is_some_and(|at| at <= world.now),
                        "{what}: the lost request is due at once"
                    );
                }
                let from = world.sent.len();
                world.driver.handle_timeout(world.now);
                if let Some((id, _)) = in_flight {
                    assert_ne!(
                        world.driver.in_flight().map(|(id, _)| id),
                        Some(id),
                        "{what}: lost"
                    );
                    let late = http::Response::new(Vec::new());
                    assert_eq!(
                        world.driver.handle_response(id, &late, world.now),
                        Err(Misuse::UnknownRequest { id }),
                        "{what}"
                    );
                }
                world.run_for(Duration::hours(3));
                if let Some(spent) = &spent {
                    world.never_presents(from, spent, &what);
                }
                assert_eq!(
                    world.server.stats().refresh_token_reuses,
                    0,
                    "{what}: the provider saw a refresh token twice"
                );
                let status = world.driver.status();
                if stop.name.starts_with("revok") {
                    assert_eq!(status, Status::Revoked, "{what}");
                } else if credentials == Password || spent.is_none() {
                    assert!(
                        world.driver.access_token(world.now).is_some(),
                        "{what}: renewed, {status:?}"
                    );
                } else {
                    assert!(
                        matches!(status, Status::NeedsLogin { .. }),
                        "{what}: the refresh token may have been spent: {status:?}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 45, "{checked} cases");
}

// ---------------------------------------------------------------------------------------
// A refresh token spent elsewhere

/// Another process sharing the session's store used its refresh token; this process
/// learns the store cannot vouch for it, and says so. The token is never sent; the access
/// token is still served; the renewal is a login.
#[test]
fn a_refresh_token_spent_elsewhere_is_never_sent() {
    let mut world = World::logged_in(Password);
    let spent = world.refresh_token().unwrap();
    let (access, generation) = world.access_token().unwrap();
    // The other process refreshes with it: the provider rotates it.
    let elsewhere = dialect(Password)
        .refresh_request(&oauth_lifecycle::RefreshToken::new(spent.clone()))
        .unwrap();
    assert_eq!(world.server.handle(&elsewhere, world.now).status(), 200);

    let persisted = world.persisted;
    world.driver.handle_refresh_token_spent_elsewhere(world.now);
    world.drain();
    assert!(world.events.contains(&Event::RefreshTokenSpentElsewhere {
        generation: oauth_lifecycle::Generation::new(generation),
    }));
    assert!(world.persisted > persisted, "the session persists");
    assert!(world.refresh_token().is_none(), "dropped");
    assert_eq!(
        world.access_token(),
        Some((access, generation)),
        "still served"
    );
    assert_eq!(world.driver.status(), Status::Ready);

    let from = world.sent.len();
    let renewal = world.next_request();
    assert_eq!(renewal.purpose(), Purpose::Login, "renewal comes: a login");
    world.answer(&renewal);
    world.run_for(Duration::hours(3));
    world.never_presents(from, &spent, "spent elsewhere");
    assert_eq!(world.driver.status(), Status::Ready);
}

/// The input in every state a session may stop in, with and without credentials: a
/// refresh token the session held is never presented again (a refresh emitted or in
/// flight with it is abandoned: never sent if still inside the driver, its answer
/// refused); a valid access token is still served; the session logs in (with
/// credentials) or halts saying the refresh token may have been spent elsewhere
/// (without). States without a refresh token to spend change nothing.
#[test]
fn a_refresh_token_spent_elsewhere_is_never_sent_in_any_state() {
    let mut checked = 0;
    for stop in stops() {
        for &credentials in stop.credentials {
            let what = format!("{}, {credentials:?}", stop.name);
            let mut world = (stop.build)(credentials);
            let state = world.driver.session().state_name();
            let holds = matches!(state, "active" | "expiring" | "refreshing");
            let held = world.refresh_token().or_else(|| world.presenting.clone());
            let served = world.access_token();
            let in_flight = world.driver.in_flight();
            let abandoned = state == "refreshing"
                && in_flight.is_some_and(|(_, purpose)| purpose == Purpose::Refresh);
            let status = world.driver.status();
            let (events, persisted, from) = (world.events.len(), world.persisted, world.sent.len());

            world.driver.handle_refresh_token_spent_elsewhere(world.now);

            assert_eq!(world.access_token(), served, "{what}: still served");
            if holds {
                assert!(world.refresh_token().is_none(), "{what}: dropped");
            }
            let (requests, _) = world.drain();
            let announced = world.events[events..]
                .iter()
                .any(|event| matches!(event, Event::RefreshTokenSpentElsewhere { .. }));
            if holds && held.is_some() {
                assert!(announced, "{what}: announced");
                assert!(world.persisted > persisted, "{what}: persisted");
            } else {
                assert!(!announced, "{what}: nothing to drop");
                assert_eq!(world.persisted, persisted, "{what}: nothing to persist");
                assert_eq!(world.driver.status(), status, "{what}: unchanged");
                assert_eq!(world.driver.in_flight(), in_flight, "{what}: unchanged");
            }
            if holds && held.is_some() {
                match credentials {
                    Password if abandoned => {
                        let purposes: Vec<Purpose> =
                            requests.iter().map(TokenRequest::purpose).collect();
                        assert_eq!(purposes, [Purpose::Login], "{what}: logs in at once");
                    }
                    Password => {
                        assert!(requests.is_empty(), "{what}: {requests:?}");
                    }
                    RefreshOnly => {
                        assert!(requests.is_empty(), "{what}: nothing to send");
                        match world.driver.status() {
                            Status::NeedsLogin {
                                error: Error::Reauthenticate { failure },
                            } => assert_eq!(failure.kind(), FailureKind::SpentElsewhere),
                            other => panic!("{what}: halted, not {other:?}"),
                        }
                    }
                }
            }
            // The answer held back comes now: refused for an abandoned refresh, taken
            // otherwise.
            if let Some((id, response)) = world.unanswered.take() {
                let handled = world.driver.handle_response(id, &response, world.now);
                if abandoned {
                    assert_eq!(handled, Err(Misuse::UnknownRequest { id }), "{what}");
                } else {
                    assert_eq!(handled, Ok(()), "{what}");
                }
            }
            for request in &requests {
                world.answer(request);
            }
            world.run_for(Duration::hours(3));
            if let Some(held) = &held {
                world.never_presents(from, held, &what);
            }
            let renewals = world.renewals_since(from);
            if holds && held.is_some() {
                match credentials {
                    Password => assert_eq!(
                        renewals.first(),
                        Some(&Purpose::Login),
                        "{what}: the renewal is a login"
                    ),
                    RefreshOnly => assert!(renewals.is_empty(), "{what}: {renewals:?}"),
                }
            }
            if state.starts_with("revok") {
                assert_eq!(world.driver.status(), Status::Revoked, "{what}");
            } else if credentials == Password {
                assert!(world.driver.access_token(world.now).is_some(), "{what}");
            } else if held.is_some() {
                assert!(
                    matches!(world.driver.status(), Status::NeedsLogin { .. }),
                    "{what}"
                );
                assert!(world.driver.access_token(world.now).is_none(), "{what}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} cases");
}

/// Without credentials, the token is still served until its hard expiry, and then the
/// session stays halted with the reason.
#[test]
fn without_credentials_a_session_whose_refresh_token_was_spent_elsewhere_serves_until_its_hard_expiry(
) {
    let mut world = World::logged_in(RefreshOnly);
    let hard_expiry = world.driver.session().tokens().unwrap().hard_expiry();
    world.driver.handle_refresh_token_spent_elsewhere(world.now);
    world.drain();
    assert!(world.events.iter().any(|event| matches!(
        event,
        Event::ReauthenticationRequired {
            error: Error::Reauthenticate { failure }
        } if failure.kind() == FailureKind::SpentElsewhere
    )));
    let from = world.sent.len();
    world.run_for(hard_expiry - world.now - Duration::SECOND);
    assert!(world.driver.access_token(world.now).is_some());
    world.run_for(Duration::hours(1));
    assert!(world.driver.access_token(world.now).is_none());
    assert!(world.renewals_since(from).is_empty(), "nothing sent");
    match world.driver.status() {
        Status::NeedsLogin {
            error: Error::Reauthenticate { failure },
        } => {
            assert_eq!(failure.kind(), FailureKind::SpentElsewhere);
            assert_eq!(
                failure.to_string(),
                "refresh token may have been spent elsewhere"
            );
        }
        other => panic!("halted, not {other:?}"),
    }
}
