//! Every row of the transition table (`TRANSITIONS`, in `src/session/table.rs`), driven
//! through every method it names with the public typestate API, against the provider
//! emulators in simulated time: each lands where its row says.
//!
//! The scenarios are kept in a registry keyed by `(from, method, to)`. A row's method
//! without a scenario fails, and so does a scenario for a row the table does not have:
//! the table and the code it describes cannot drift apart.

// The closures below return what the typestate methods return: a refusal hands the
// session back by value, as the crate's API does.
#![allow(clippy::result_large_err)]

mod support;

use oauth_lifecycle::dialect::authorization::IssParameter;
use oauth_lifecycle::dialect::{ConvirzaV3, Grant, Standard};
use oauth_lifecycle::token::TokenGrant;
use oauth_lifecycle::{
    Active, ApprovalStep, AuthorizingDevice, AwaitingApproval, AwaitingRedirect, ConfigError,
    DeviceAuthorizationOutcome, Dialect, Error, ExchangingCode, Expiring, ExpiringStep, Generation,
    LoggingIn, LoginOutcome, Policy, Purpose, RedirectRefusal, Refreshing, Refused, RenewOutcome,
    Revocation, RevocationStep, Revoking, Session, State, Step, TokenKind, TokenRequest,
    TransportError, Unauthenticated,
};
use oauth_lifecycle_emulator::{
    ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator, InjectedFailure, ResponseFlavor,
    StandardServer, StandardServerConfig,
};
use time::macros::utc_datetime;
use time::UtcDateTime;

use support::transition_table::{rows, Row};

const START: UtcDateTime = utc_datetime!(2026-08-01 09:00:00);
const LOCAL: &str = "http://127.0.0.1";
const TOKEN_URL: &str = "http://127.0.0.1/token";
const REVOCATION_URL: &str = "http://127.0.0.1/revoke";
/// The standard emulator's client and user.
const CLIENT: (&str, &str) = ("emulated-client", "emulated-secret");
const USER: (&str, &str) = ("alice", "alice-password");

// ---------------------------------------------------------------------------------------
// Where a method leaves the session

/// The state a method's result leaves the session in, as the table names it (its type);
/// or why the method moved nothing (it refused, or nothing was due).
trait Landed {
    fn landed(&self) -> Result<&'static str, String>;
}

impl<S: State, D: Dialect> Landed for Session<S, D> {
    fn landed(&self) -> Result<&'static str, String> {
        Ok(S::STATE.type_name())
    }
}

/// A state that came with the request to send.
impl<S: State, D: Dialect> Landed for (Session<S, D>, TokenRequest) {
    fn landed(&self) -> Result<&'static str, String> {
        self.0.landed()
    }
}

impl<T: Landed, U> Landed for Result<T, Refused<U>> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            Ok(next) => next.landed(),
            Err(refused) => Err(format!("refused: {}", refused.error)),
        }
    }
}

impl<T: Landed, U> Landed for Result<T, (U, ConfigError)> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            Ok(next) => next.landed(),
            Err((_, error)) => Err(format!("refused: {error}")),
        }
    }
}

impl<Same: Landed, Next: Landed> Landed for Step<Same, Next> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            Step::Next(next) => next.landed(),
            Step::Same(same) => Err(format!(
                "nothing was due: still {}",
                same.landed().unwrap_or("?")
            )),
        }
    }
}

impl<D: Dialect> Landed for LoginOutcome<D> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            LoginOutcome::LoggedIn(session) => session.landed(),
            LoginOutcome::Failed(session, _) => session.landed(),
        }
    }
}

impl<D: Dialect> Landed for RenewOutcome<D> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            RenewOutcome::Renewed(session, _) => session.landed(),
            RenewOutcome::Failed(session, _) => session.landed(),
        }
    }
}

impl<D: Dialect> Landed for ExpiringStep<D> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            ExpiringStep::Waiting(session) => session.landed(),
            ExpiringStep::Renewing(session, _) => session.landed(),
            ExpiringStep::Halted(session) => session.landed(),
        }
    }
}

impl<D: Dialect> Landed for Revocation<D> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            Revocation::Pending(session, _) => session.landed(),
            Revocation::Awaiting(session) | Revocation::Retrying(session) => session.landed(),
            Revocation::Done(session) => session.landed(),
        }
    }
}

impl<D: Dialect> Landed for RevocationStep<D> {
    fn landed(&self) -> Result<&'static str, String> {
        self.next.landed()
    }
}

impl<D: Dialect> Landed for DeviceAuthorizationOutcome<D> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            DeviceAuthorizationOutcome::Prompted(session) => session.landed(),
            DeviceAuthorizationOutcome::Failed(session, _) => session.landed(),
        }
    }
}

impl<D: Dialect> Landed for ApprovalStep<D> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            ApprovalStep::Polling(session, _) | ApprovalStep::Waiting(session) => session.landed(),
            ApprovalStep::LoggedIn(session) => session.landed(),
            ApprovalStep::Ended(session, _) => session.landed(),
        }
    }
}

impl<T: Landed, D: Dialect> Landed for Result<T, RedirectRefusal<D>> {
    fn landed(&self) -> Result<&'static str, String> {
        match self {
            Ok(next) => next.landed(),
            Err(RedirectRefusal::Ended(session, _) | RedirectRefusal::Unsent(session, _)) => {
                session.landed()
            }
            Err(RedirectRefusal::Ignored(_, error)) => Err(format!("ignored: {error}")),
        }
    }
}

/// What driving one method did: the state the scenario built, and where the method left
/// it.
struct Landing {
    from: &'static str,
    to: Result<&'static str, String>,
}

/// Applies `method` to `session` and reports both ends.
fn drive<S: State, D: Dialect, T: Landed>(
    session: Session<S, D>,
    method: impl FnOnce(Session<S, D>) -> T,
) -> Landing {
    let from = S::STATE.type_name();
    Landing {
        from,
        to: method(session).landed(),
    }
}

// ---------------------------------------------------------------------------------------
// The world a scenario runs in

/// An emulated provider and the simulated time.
struct World<E> {
    server: E,
    now: UtcDateTime,
}

impl World<StandardServer> {
    fn standard() -> Self {
        World {
            server: StandardServer::new(StandardServerConfig::default()),
            now: START,
        }
    }
}

impl World<ConvirzaV3Server> {
    fn convirza_v3() -> Self {
        World {
            server: ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
            now: START,
        }
    }
}

impl<E: Emulator> World<E> {
    /// The provider's answer to a request the session emitted.
    fn answer(&mut self, request: &TokenRequest) -> http::Response<Vec<u8>> {
        self.server.handle(request.request(), self.now)
    }

    /// The status of an API call authenticated with `token`.
    fn call_api(&mut self, token: &str) -> u16 {
        let request = http::Request::builder()
            .uri("http://127.0.0.1/api/me")
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Vec::new())
            .expect("a valid request");
        self.server
            .resource_request(&request, self.now)
            .status()
            .as_u16()
    }
}

/// The resource owner's password grant: tokens come with a refresh token. Without a
/// revocation endpoint when `revocation_url` is `None`.
fn password_dialect(revocation_url: Option<&str>) -> Standard {
    let builder = Standard::builder(TOKEN_URL, CLIENT.0)
        .client_secret(CLIENT.1)
        .password(USER.0, USER.1);
    match revocation_url {
        Some(url) => builder.revocation_url(url),
        None => builder,
    }
    .build()
    .expect("a valid dialect")
}

/// No credentials to log in with: the session lives on tokens obtained elsewhere and
/// renews them with the refresh token only.
fn refresh_only_dialect() -> Standard {
    Standard::builder(TOKEN_URL, CLIENT.0)
        .client_secret(CLIENT.1)
        .grant(Grant::RefreshOnly)
        .revocation_url(REVOCATION_URL)
        .build()
        .expect("a valid dialect")
}

/// Convirza V3 on loopback: its access tokens' expiry slides with each successful call.
fn convirza_v3_dialect() -> ConvirzaV3 {
    let dialect = ConvirzaV3::builder("user@example.com", "SecurePassword123!")
        .base_url(LOCAL)
        .build()
        .expect("a valid dialect");
    assert!(dialect.sliding_lifetime().is_some(), "a sliding expiry");
    dialect
}

fn expect_next<Same, Next>(step: Step<Same, Next>, what: &str) -> Next {
    step.into_next()
        .unwrap_or_else(|_| panic!("{what}, yet nothing was due"))
}

// ---------------------------------------------------------------------------------------
// The states, built through the public API

fn unauthenticated<D: Dialect>(dialect: D) -> Session<Unauthenticated, D> {
    Session::new(dialect, Policy::default()).expect("the default policy is valid")
}

/// A password login in flight.
fn logging_in(world: &World<StandardServer>) -> (Session<LoggingIn, Standard>, TokenRequest) {
    let (session, login) = unauthenticated(password_dialect(Some(REVOCATION_URL)))
        .login(world.now)
        .expect("a login is allowed");
    assert_eq!(login.purpose(), Purpose::Login);
    (session, login)
}

/// Logged in at the provider.
fn active<D: Dialect, E: Emulator>(dialect: D, world: &mut World<E>) -> Session<Active, D> {
    let (session, login) = unauthenticated(dialect)
        .login(world.now)
        .expect("a login is allowed");
    let response = world.answer(&login);
    match session.on_response(login.id(), &response, world.now) {
        Ok(LoginOutcome::LoggedIn(session)) => session,
        Ok(LoginOutcome::Failed(_, error)) => panic!("the login failed: {error}"),
        Err(refused) => panic!("the login's response was refused: {refused}"),
    }
}

/// Logged in, and the refresh moment came.
fn expiring<D: Dialect, E: Emulator>(dialect: D, world: &mut World<E>) -> Session<Expiring, D> {
    let session = active(dialect, world);
    world.now = session.refresh_at();
    expect_next(session.on_timeout(world.now), "the refresh moment came")
}

/// A refresh in flight, with the refresh token the provider issued at login.
fn refreshing(world: &mut World<StandardServer>) -> (Session<Refreshing, Standard>, TokenRequest) {
    let session = expiring(password_dialect(Some(REVOCATION_URL)), world);
    let (session, refresh) = session.refresh(world.now).expect("a refresh is allowed");
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    (session, refresh)
}

/// Tokens from a password grant run outside any session, as another flow (an
/// authorization code, a device flow) would hand them over.
fn grant_from_elsewhere(world: &mut World<StandardServer>) -> TokenGrant<()> {
    let elsewhere = password_dialect(None);
    let login = elsewhere.login_request().expect("credentials");
    let response = world.server.handle(&login, world.now);
    let grant = elsewhere
        .parse_token_response(Purpose::Login, &response)
        .expect("the provider granted tokens");
    assert!(grant.refresh_token.is_some(), "with a refresh token");
    grant
}

/// A session with no credentials of its own whose refresh the provider refused with
/// `invalid_grant` (an administrator ended every session): it halts, serving its token
/// until the token's hard expiry.
fn halted(world: &mut World<StandardServer>) -> Session<Expiring, Standard> {
    let grant = grant_from_elsewhere(world);
    let session = unauthenticated(refresh_only_dialect())
        .adopt(grant, world.now)
        .expect("usable tokens");
    world.now = session.refresh_at();
    let session = expect_next(session.on_timeout(world.now), "the refresh moment came");
    world.server.revoke_all();
    let ExpiringStep::Renewing(session, refresh) = session.on_timeout(world.now) else {
        panic!("the renewal was due");
    };
    assert_eq!(refresh.purpose(), Purpose::Refresh);
    let response = world.answer(&refresh);
    assert_eq!(response.status(), 400, "invalid_grant");
    let session = match session.on_response(refresh.id(), &response, world.now) {
        Ok(RenewOutcome::Failed(session, Error::Reauthenticate { .. })) => session,
        other => panic!("the refresh should have failed for good: {other:?}"),
    };
    assert!(session.halted().is_some(), "no credentials to log in with");
    assert!(
        session.access_token(world.now).is_some(),
        "still served until its hard expiry"
    );
    session
}

/// Revoking a password grant's tokens: the refresh token's request is in flight, the
/// access token's is still to come.
fn revoking_first(
    world: &mut World<StandardServer>,
) -> (Session<Revoking, Standard>, TokenRequest) {
    let session = active(password_dialect(Some(REVOCATION_URL)), world);
    let Revocation::Pending(session, request) = session.revoke(world.now) else {
        panic!("a revocation request to send");
    };
    assert_eq!(request.purpose(), Purpose::Revoke(TokenKind::Refresh));
    assert_eq!(
        session.pending().len(),
        1,
        "the access token still to revoke"
    );
    (session, request)
}

/// The same once the refresh token's revocation was answered: the access token's request,
/// the last one, is in flight.
/// Fails the revocation `request` temporarily until one attempt is left, waiting out
/// each retry: the session and the request of that last attempt.
fn last_attempt(
    world: &mut World<StandardServer>,
    mut session: Session<Revoking, Standard>,
    mut request: TokenRequest,
) -> (Session<Revoking, Standard>, TokenRequest) {
    for _ in 1..Policy::default().revocation_attempts {
        let step = session
            .on_transport_error(request.id(), TransportError::NotSent, world.now)
            .expect("the request in flight");
        let Revocation::Retrying(waiting) = step.next else {
            panic!("a temporary failure is retried");
        };
        world.now = waiting.retry_at().expect("a retry moment");
        let Step::Next(step) = waiting.on_timeout(world.now) else {
            panic!("sent again at the retry moment");
        };
        let Revocation::Pending(again, resent) = step.next else {
            panic!("the same revocation again");
        };
        (session, request) = (again, resent);
    }
    (session, request)
}

fn revoking_last(world: &mut World<StandardServer>) -> (Session<Revoking, Standard>, TokenRequest) {
    let (session, first) = revoking_first(world);
    let response = world.answer(&first);
    let step = session
        .on_response(first.id(), &response, world.now)
        .expect("the answer to the request in flight");
    assert!(step.failure.is_none(), "{:?}", step.failure);
    let Revocation::Pending(session, request) = step.next else {
        panic!("the access token still to revoke");
    };
    assert_eq!(request.purpose(), Purpose::Revoke(TokenKind::Access));
    assert!(session.pending().is_empty(), "nothing after it");
    (session, request)
}

/// A renewal by login standing in for a refresh, with a refresh token the session still
/// holds: the provider states its refresh tokens' lifetime (`refresh_expires_in`), and
/// this one is dead by the refresh moment.
fn logging_in_for_a_refresh() -> (World<StandardServer>, Session<Refreshing, Standard>) {
    let mut config = StandardServerConfig::default();
    config.flavor = ResponseFlavor::Keycloak;
    config.refresh_token_lifetime = Some(time::Duration::minutes(30));
    let mut world = World {
        server: StandardServer::new(config),
        now: START,
    };
    let session = expiring(password_dialect(Some(REVOCATION_URL)), &mut world);
    let refresh_expires_at = session.tokens().refresh_expires_at();
    assert!(
        refresh_expires_at.is_some_and(|at| at <= world.now),
        "the refresh token is dead at the refresh moment"
    );
    assert!(session.tokens().refresh_token().is_some(), "yet still held");
    let (session, login) = session.refresh(world.now).expect("a renewal is allowed");
    assert_eq!(login.purpose(), Purpose::Login, "a login stands in");
    (world, session)
}

/// Checks that answering the refresh token's revocation moved on to the access token's.
fn access_token_next<D: Dialect>(step: &RevocationStep<D>) {
    match &step.next {
        Revocation::Pending(_, request) => {
            assert_eq!(request.purpose(), Purpose::Revoke(TokenKind::Access));
        }
        other => panic!("the access token's revocation should come next: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The registry

/// A scenario: builds its `from` state through the public API, applies one method, and
/// reports where the session landed.
struct Scenario {
    from: &'static str,
    method: &'static str,
    to: &'static str,
    run: fn() -> Landing,
}

#[derive(Default)]
struct Registry(Vec<Scenario>);

impl Registry {
    fn add(
        &mut self,
        from: &'static str,
        method: &'static str,
        to: &'static str,
        run: fn() -> Landing,
    ) {
        self.0.push(Scenario {
            from,
            method,
            to,
            run,
        });
    }

    fn find(&self, row: &Row, method: &str) -> Vec<&Scenario> {
        self.0
            .iter()
            .filter(|s| s.from == row.from && s.method == method && s.to == row.to)
            .collect()
    }
}

fn scenarios() -> Registry {
    let mut r = Registry::default();

    // Unauthenticated --login--> LoggingIn
    r.add("Unauthenticated", "login", "LoggingIn", || {
        let world = World::standard();
        drive(unauthenticated(password_dialect(None)), |s| {
            s.login(world.now)
        })
    });
    r.add("Unauthenticated", "on_timeout", "LoggingIn", || {
        let world = World::standard();
        drive(unauthenticated(password_dialect(None)), |s| {
            s.on_timeout(world.now)
        })
    });

    // Unauthenticated --adopt--> Active
    r.add("Unauthenticated", "adopt", "Active", || {
        let mut world = World::standard();
        let grant = grant_from_elsewhere(&mut world);
        drive(unauthenticated(refresh_only_dialect()), |s| {
            s.adopt(grant, world.now)
        })
    });

    // LoggingIn --success--> Active
    r.add("LoggingIn", "on_response", "Active", || {
        let mut world = World::standard();
        let (session, login) = logging_in(&world);
        let response = world.answer(&login);
        assert_eq!(response.status(), 200);
        drive(session, |s| s.on_response(login.id(), &response, world.now))
    });

    // LoggingIn --failure--> Unauthenticated
    r.add("LoggingIn", "on_response", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, login) = logging_in(&world);
        world.server.fail_next(InjectedFailure::Status {
            status: 503,
            retry_after: None,
        });
        let response = world.answer(&login);
        assert_eq!(response.status(), 503);
        drive(session, |s| s.on_response(login.id(), &response, world.now))
    });
    r.add("LoggingIn", "on_transport_error", "Unauthenticated", || {
        let world = World::standard();
        let (session, login) = logging_in(&world);
        drive(session, |s| {
            s.on_transport_error(login.id(), TransportError::NotSent, world.now)
        })
    });
    r.add("LoggingIn", "on_timeout", "Unauthenticated", || {
        let world = World::standard();
        let (session, _login) = logging_in(&world);
        let lost = world.now + session.policy().response_timeout;
        drive(session, |s| s.on_timeout(lost))
    });

    // Active --refresh moment--> Expiring
    r.add("Active", "on_timeout", "Expiring", || {
        let mut world = World::standard();
        let session = active(password_dialect(None), &mut world);
        let due = session.refresh_at();
        drive(session, |s| s.on_timeout(due))
    });

    // Active --401 reported--> Expiring
    r.add("Active", "on_unauthorized", "Expiring", || {
        let mut world = World::standard();
        let session = active(password_dialect(None), &mut world);
        let token = session
            .access_token(world.now)
            .expect("a token to call with");
        let (secret, generation) = (token.secret().to_owned(), token.generation());
        assert_eq!(generation, session.tokens().generation());
        world.server.revoke_all();
        assert_eq!(world.call_api(&secret), 401);
        drive(session, |s| s.on_unauthorized(generation, world.now))
    });

    // Active --renewal asked--> Expiring: before the refresh moment, and the token is
    // still handed out until its replacement arrives.
    r.add("Active", "renew", "Expiring", || {
        let mut world = World::standard();
        let session = active(password_dialect(None), &mut world);
        assert!(world.now < session.refresh_at());
        drive(session, |s| {
            let expiring = s.renew(world.now);
            assert!(expiring.access_token(world.now).is_some());
            assert!(expiring.retry_at().is_none(), "the renewal is due at once");
            expiring
        })
    });

    // Expiring --renewal--> Refreshing
    r.add("Expiring", "refresh", "Refreshing", || {
        let mut world = World::standard();
        let session = expiring(password_dialect(None), &mut world);
        drive(session, |s| s.refresh(world.now))
    });
    r.add("Expiring", "on_timeout", "Refreshing", || {
        let mut world = World::standard();
        let session = expiring(password_dialect(None), &mut world);
        drive(session, |s| s.on_timeout(world.now))
    });

    // Expiring --call succeeded, expiry slid--> Active
    r.add("Expiring", "on_call_succeeded", "Active", || {
        let mut world = World::convirza_v3();
        let session = expiring(convirza_v3_dialect(), &mut world);
        let token = session
            .access_token(world.now)
            .expect("a token to call with");
        let (secret, generation): (String, Generation) =
            (token.secret().to_owned(), token.generation());
        assert_eq!(world.call_api(&secret), 200);
        drive(session, |s| s.on_call_succeeded(generation, world.now))
    });

    // Expiring --halted past hard expiry--> Unauthenticated
    r.add("Expiring", "on_timeout", "Unauthenticated", || {
        let mut world = World::standard();
        let session = halted(&mut world);
        let expired = session.tokens().hard_expiry();
        drive(session, |s| s.on_timeout(expired))
    });

    // Refreshing --success--> Active
    r.add("Refreshing", "on_response", "Active", || {
        let mut world = World::standard();
        let (session, refresh) = refreshing(&mut world);
        let response = world.answer(&refresh);
        assert_eq!(response.status(), 200);
        drive(session, |s| {
            s.on_response(refresh.id(), &response, world.now)
        })
    });

    // Refreshing --failure--> Expiring
    r.add("Refreshing", "on_response", "Expiring", || {
        let mut world = World::standard();
        let (session, refresh) = refreshing(&mut world);
        world.server.fail_next(InjectedFailure::Status {
            status: 503,
            retry_after: None,
        });
        let response = world.answer(&refresh);
        assert_eq!(response.status(), 503);
        drive(session, |s| {
            s.on_response(refresh.id(), &response, world.now)
        })
    });
    r.add("Refreshing", "on_transport_error", "Expiring", || {
        let mut world = World::standard();
        let (session, refresh) = refreshing(&mut world);
        drive(session, |s| {
            s.on_transport_error(refresh.id(), TransportError::OutcomeUnknown, world.now)
        })
    });
    r.add("Refreshing", "on_timeout", "Expiring", || {
        let mut world = World::standard();
        let (session, _refresh) = refreshing(&mut world);
        let lost = world.now + session.policy().response_timeout;
        drive(session, |s| s.on_timeout(lost))
    });

    // Revocation from every state that holds or awaits a token.
    r.add("Unauthenticated", "revoke", "Revoked", || {
        let world = World::standard();
        let session = unauthenticated(password_dialect(Some(REVOCATION_URL)));
        drive(session, |s| s.revoke(world.now))
    });
    r.add("LoggingIn", "revoke", "Revoking", || {
        let world = World::standard();
        let (session, _login) = logging_in(&world);
        drive(session, |s| {
            let revocation = s.revoke(world.now);
            assert!(
                matches!(revocation, Revocation::Awaiting(_)),
                "{revocation:?}"
            );
            revocation
        })
    });
    r.add("Active", "revoke", "Revoking", || {
        let mut world = World::standard();
        let session = active(password_dialect(Some(REVOCATION_URL)), &mut world);
        drive(session, |s| s.revoke(world.now))
    });
    r.add("Active", "revoke", "Revoked", || {
        let mut world = World::standard();
        let session = active(password_dialect(None), &mut world);
        drive(session, |s| s.revoke(world.now))
    });
    r.add("Expiring", "revoke", "Revoking", || {
        let mut world = World::standard();
        let session = expiring(password_dialect(Some(REVOCATION_URL)), &mut world);
        drive(session, |s| s.revoke(world.now))
    });
    r.add("Expiring", "revoke", "Revoked", || {
        let mut world = World::standard();
        let session = expiring(password_dialect(None), &mut world);
        drive(session, |s| s.revoke(world.now))
    });
    r.add("Refreshing", "revoke", "Revoking", || {
        let mut world = World::standard();
        let (session, _refresh) = refreshing(&mut world);
        drive(session, |s| {
            let revocation = s.revoke(world.now);
            assert!(
                matches!(revocation, Revocation::Awaiting(_)),
                "{revocation:?}"
            );
            revocation
        })
    });

    // Revoking --answer, more to revoke, or a retry--> Revoking
    r.add("Revoking", "on_response", "Revoking", || {
        let mut world = World::standard();
        let (session, request) = revoking_first(&mut world);
        let response = world.answer(&request);
        assert_eq!(response.status(), 200);
        drive(session, |s| {
            let step = s.on_response(request.id(), &response, world.now);
            if let Ok(step) = &step {
                assert!(step.failure.is_none(), "{:?}", step.failure);
                access_token_next(step);
            }
            step
        })
    });
    r.add("Revoking", "on_transport_error", "Revoking", || {
        let mut world = World::standard();
        let (session, request) = revoking_first(&mut world);
        let (session, request) = last_attempt(&mut world, session, request);
        drive(session, |s| {
            let step = s.on_transport_error(request.id(), TransportError::NotSent, world.now);
            if let Ok(step) = &step {
                assert!(step.failure.is_some(), "the failure is reported");
                access_token_next(step);
            }
            step
        })
    });
    r.add("Revoking", "on_timeout", "Revoking", || {
        let mut world = World::standard();
        let (session, request) = revoking_first(&mut world);
        let (session, _request) = last_attempt(&mut world, session, request);
        let lost = world.now + session.policy().response_timeout;
        drive(session, |s| {
            let step = s.on_timeout(lost);
            if let Step::Next(step) = &step {
                assert!(step.failure.is_some(), "the failure is reported");
                access_token_next(step);
            }
            step
        })
    });

    // A refresh token spent elsewhere: dropped, never presented again; the access token
    // is still served.
    r.add(
        "Active",
        "on_refresh_token_spent_elsewhere",
        "Active",
        || {
            let mut world = World::standard();
            let session = active(password_dialect(None), &mut world);
            assert!(session.tokens().refresh_token().is_some());
            drive(session, |s| {
                match s.on_refresh_token_spent_elsewhere(world.now) {
                    Step::Same(s) => {
                        assert!(s.tokens().refresh_token().is_none(), "dropped");
                        assert!(s.access_token(world.now).is_some(), "still served");
                        s
                    }
                    Step::Next(s) => panic!("credentials to log in with, yet it moved: {s:?}"),
                }
            })
        },
    );
    r.add(
        "Active",
        "on_refresh_token_spent_elsewhere",
        "Expiring",
        || {
            let mut world = World::standard();
            let grant = grant_from_elsewhere(&mut world);
            let session = unauthenticated(refresh_only_dialect())
                .adopt(grant, world.now)
                .expect("usable tokens");
            drive(session, |s| {
                let step = s.on_refresh_token_spent_elsewhere(world.now);
                if let Step::Next(s) = &step {
                    assert!(s.halted().is_some(), "no credentials: halted at once");
                    assert!(s.access_token(world.now).is_some(), "still served");
                }
                step
            })
        },
    );
    r.add(
        "Expiring",
        "on_refresh_token_spent_elsewhere",
        "Expiring",
        || {
            let mut world = World::standard();
            let session = expiring(password_dialect(None), &mut world);
            drive(session, |mut s| {
                s.on_refresh_token_spent_elsewhere(world.now);
                assert!(s.tokens().refresh_token().is_none(), "dropped");
                assert!(s.halted().is_none(), "it logs in instead");
                s
            })
        },
    );
    r.add(
        "Refreshing",
        "on_refresh_token_spent_elsewhere",
        "Expiring",
        || {
            let mut world = World::standard();
            let (session, _refresh) = refreshing(&mut world);
            drive(session, |s| {
                let step = s.on_refresh_token_spent_elsewhere(world.now);
                if let Step::Next(s) = &step {
                    assert!(s.tokens().refresh_token().is_none(), "dropped");
                    assert!(s.retry_at().is_none(), "no new backoff");
                }
                step
            })
        },
    );
    r.add(
        "Refreshing",
        "on_refresh_token_spent_elsewhere",
        "Refreshing",
        || {
            let (world, session) = logging_in_for_a_refresh();
            drive(session, |s| {
                match s.on_refresh_token_spent_elsewhere(world.now) {
                    Step::Same(s) => {
                        assert_eq!(s.purpose(), Purpose::Login, "the login is kept");
                        assert!(s.tokens().refresh_token().is_none(), "dropped");
                        s
                    }
                    Step::Next(s) => panic!("the login standing in was abandoned: {s:?}"),
                }
            })
        },
    );

    // Revoking --last answer--> Revoked
    r.add("Revoking", "on_response", "Revoked", || {
        let mut world = World::standard();
        let (session, request) = revoking_last(&mut world);
        let response = world.answer(&request);
        assert_eq!(response.status(), 200);
        drive(session, |s| {
            s.on_response(request.id(), &response, world.now)
        })
    });
    r.add("Revoking", "on_transport_error", "Revoked", || {
        let mut world = World::standard();
        let (session, request) = revoking_last(&mut world);
        let (session, request) = last_attempt(&mut world, session, request);
        drive(session, |s| {
            s.on_transport_error(request.id(), TransportError::OutcomeUnknown, world.now)
        })
    });
    r.add("Revoking", "on_timeout", "Revoked", || {
        let mut world = World::standard();
        let (session, request) = revoking_last(&mut world);
        let (session, _request) = last_attempt(&mut world, session, request);
        let lost = world.now + session.policy().response_timeout;
        drive(session, |s| s.on_timeout(lost))
    });

    person_login_scenarios(&mut r);
    r
}

// ---------------------------------------------------------------------------------------
// A person's login: the device grant and the authorization code grant

/// The standard emulator's public client, logging in with the device grant.
fn device_dialect() -> Standard {
    Standard::builder(TOKEN_URL, "emulated-public-client")
        .grant(Grant::DeviceCode)
        .device_authorization_url(format!("{LOCAL}/device_authorization"))
        .revocation_url(REVOCATION_URL)
        .build()
        .expect("a valid configuration")
}

/// The standard emulator's public client, logging in with the authorization code grant.
fn browser_dialect() -> Standard {
    Standard::builder(TOKEN_URL, "emulated-public-client")
        .grant(Grant::AuthorizationCode)
        .authorization_url(format!("{LOCAL}/authorize"))
        .issuer(LOCAL, IssParameter::Required)
        .revocation_url(REVOCATION_URL)
        .build()
        .expect("a valid configuration")
}

fn authorizing_device(
    world: &World<StandardServer>,
) -> (Session<AuthorizingDevice, Standard>, TokenRequest) {
    unauthenticated(device_dialect())
        .authorize_device(world.now)
        .expect("a device login starts")
}

/// Awaiting approval, the emulator's user code, with `world.now` at the first poll.
fn awaiting_approval(
    world: &mut World<StandardServer>,
) -> (Session<AwaitingApproval, Standard>, String) {
    let (session, request) = authorizing_device(world);
    let answer = world.answer(&request);
    let Ok(DeviceAuthorizationOutcome::Prompted(session)) =
        session.on_response(request.id(), &answer, world.now)
    else {
        panic!("the device authorization should prompt")
    };
    world.now = session.poll_at();
    let user_code = session.prompt().user_code.clone();
    (session, user_code)
}

/// Awaiting approval with a poll in flight.
fn polling(
    world: &mut World<StandardServer>,
) -> (Session<AwaitingApproval, Standard>, TokenRequest, String) {
    let (session, user_code) = awaiting_approval(world);
    match expect_next(session.on_timeout(world.now), "the first poll") {
        ApprovalStep::Polling(session, poll) => (session, poll, user_code),
        other => panic!("a poll should go out: {other:?}"),
    }
}

/// Awaiting the redirect; the redirect the emulator's `/authorize` sends the browser to.
fn awaiting_redirect(
    world: &mut World<StandardServer>,
) -> (Session<AwaitingRedirect, Standard>, String) {
    let dialect = browser_dialect();
    let request = dialect
        .authorization_request("http://127.0.0.1:49152/callback")
        .expect("an authorization endpoint")
        .build(&mut std::array::from_fn(|i| {
            (i as u8).wrapping_mul(151) ^ 0x5c
        }))
        .expect("a valid request");
    let session = unauthenticated(dialect)
        .authorize(request, world.now)
        .expect("a browser login starts");
    let url = session.prompt().url().to_string();
    let answer = world.server.handle(
        &http::Request::get(url).body(Vec::new()).unwrap(),
        world.now,
    );
    assert_eq!(answer.status(), 302);
    let redirect = answer.headers()["location"].to_str().unwrap().to_owned();
    (session, redirect)
}

fn exchanging_code(
    world: &mut World<StandardServer>,
) -> (Session<ExchangingCode, Standard>, TokenRequest) {
    let (session, redirect) = awaiting_redirect(world);
    match session.on_redirect(&redirect, world.now) {
        Ok(next) => next,
        Err(refusal) => panic!("the redirect should be taken: {refusal:?}"),
    }
}

/// A session logged in by a person whose refresh grant then died: halted, its token still
/// served. Its dialect can start either person's login.
fn halted_after_a_persons_login(world: &mut World<StandardServer>) -> Session<Expiring, Standard> {
    let dialect = Standard::builder(TOKEN_URL, "emulated-public-client")
        .grant(Grant::DeviceCode)
        .device_authorization_url(format!("{LOCAL}/device_authorization"))
        .authorization_url(format!("{LOCAL}/authorize"))
        .build()
        .expect("a valid configuration");
    let (session, request) = unauthenticated(dialect)
        .authorize_device(world.now)
        .unwrap();
    let answer = world.answer(&request);
    let Ok(DeviceAuthorizationOutcome::Prompted(session)) =
        session.on_response(request.id(), &answer, world.now)
    else {
        panic!("the device authorization should prompt")
    };
    assert!(world.server.approve_user_code(&session.prompt().user_code));
    world.now = session.poll_at();
    let ApprovalStep::Polling(session, poll) = expect_next(session.on_timeout(world.now), "a poll")
    else {
        panic!("a poll should go out")
    };
    let answer = world.answer(&poll);
    let Ok(ApprovalStep::LoggedIn(session)) = session.on_response(poll.id(), &answer, world.now)
    else {
        panic!("the person approved")
    };
    world.server.revoke_all();
    let (session, refresh) = session.renew(world.now).refresh(world.now).unwrap();
    let answer = world.answer(&refresh);
    match session.on_response(refresh.id(), &answer, world.now) {
        Ok(RenewOutcome::Failed(session, Error::Reauthenticate { .. })) => session,
        other => panic!("the refresh grant should be dead: {other:?}"),
    }
}

fn person_login_scenarios(r: &mut Registry) {
    r.add("Expiring", "authorize_device", "AuthorizingDevice", || {
        let mut world = World::standard();
        let session = halted_after_a_persons_login(&mut world);
        assert!(session.halted().is_some());
        drive(session, |s| s.authorize_device(world.now))
    });
    r.add("Expiring", "authorize", "AwaitingRedirect", || {
        let mut world = World::standard();
        let session = halted_after_a_persons_login(&mut world);
        let request = session
            .dialect()
            .authorization_request("http://127.0.0.1:49152/callback")
            .expect("an authorization endpoint")
            .build(&mut std::array::from_fn(|i| (i as u8).wrapping_mul(31) ^ 9))
            .expect("a valid request");
        drive(session, |s| s.authorize(request, world.now))
    });
    r.add(
        "Unauthenticated",
        "authorize_device",
        "AuthorizingDevice",
        || {
            let world = World::standard();
            drive(unauthenticated(device_dialect()), |s| {
                s.authorize_device(world.now)
            })
        },
    );
    r.add(
        "AuthorizingDevice",
        "on_response",
        "AwaitingApproval",
        || {
            let mut world = World::standard();
            let (session, request) = authorizing_device(&world);
            let answer = world.answer(&request);
            drive(session, |s| s.on_response(request.id(), &answer, world.now))
        },
    );
    r.add(
        "AuthorizingDevice",
        "on_response",
        "Unauthenticated",
        || {
            let mut world = World::standard();
            let (session, request) = authorizing_device(&world);
            world.server.fail_next(InjectedFailure::Status {
                status: 503,
                retry_after: None,
            });
            let answer = world.answer(&request);
            drive(session, |s| s.on_response(request.id(), &answer, world.now))
        },
    );
    r.add(
        "AuthorizingDevice",
        "on_transport_error",
        "Unauthenticated",
        || {
            let world = World::standard();
            let (session, request) = authorizing_device(&world);
            drive(session, |s| {
                s.on_transport_error(request.id(), TransportError::OutcomeUnknown, world.now)
            })
        },
    );
    r.add("AuthorizingDevice", "on_timeout", "Unauthenticated", || {
        let world = World::standard();
        let (session, _) = authorizing_device(&world);
        let lost = session.response_deadline();
        drive(session, |s| s.on_timeout(lost))
    });
    r.add("AuthorizingDevice", "revoke", "Revoked", || {
        let world = World::standard();
        let (session, _) = authorizing_device(&world);
        drive(session, |s| s.revoke(world.now))
    });

    // Polling: a poll goes out, the answer is pending, a lost poll waits the interval.
    r.add("AwaitingApproval", "on_timeout", "AwaitingApproval", || {
        let mut world = World::standard();
        let (session, _) = awaiting_approval(&mut world);
        drive(session, |s| s.on_timeout(world.now))
    });
    r.add(
        "AwaitingApproval",
        "on_response",
        "AwaitingApproval",
        || {
            let mut world = World::standard();
            let (session, poll, _) = polling(&mut world);
            let answer = world.answer(&poll);
            assert_eq!(answer.status(), 400, "authorization_pending");
            drive(session, |s| s.on_response(poll.id(), &answer, world.now))
        },
    );
    r.add(
        "AwaitingApproval",
        "on_transport_error",
        "AwaitingApproval",
        || {
            let mut world = World::standard();
            let (session, poll, _) = polling(&mut world);
            drive(session, |s| {
                s.on_transport_error(poll.id(), TransportError::OutcomeUnknown, world.now)
            })
        },
    );
    r.add("AwaitingApproval", "on_response", "Active", || {
        let mut world = World::standard();
        let (session, poll, user_code) = polling(&mut world);
        assert!(world.server.approve_user_code(&user_code));
        let answer = world.answer(&poll);
        drive(session, |s| s.on_response(poll.id(), &answer, world.now))
    });
    r.add("AwaitingApproval", "on_response", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, poll, user_code) = polling(&mut world);
        assert!(world.server.deny_user_code(&user_code));
        let answer = world.answer(&poll);
        drive(session, |s| s.on_response(poll.id(), &answer, world.now))
    });
    r.add("AwaitingApproval", "on_timeout", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, _) = awaiting_approval(&mut world);
        let expired = session.prompt().expires_at;
        drive(session, |s| s.on_timeout(expired))
    });
    r.add("AwaitingApproval", "cancel", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, _) = awaiting_approval(&mut world);
        drive(session, |s| s.cancel(world.now))
    });
    r.add("AwaitingApproval", "revoke", "Revoked", || {
        let mut world = World::standard();
        let (session, _) = awaiting_approval(&mut world);
        drive(session, |s| s.revoke(world.now))
    });
    r.add("AwaitingApproval", "revoke", "Revoking", || {
        let mut world = World::standard();
        let (session, _, _) = polling(&mut world);
        drive(session, |s| s.revoke(world.now))
    });

    // The browser.
    r.add("Unauthenticated", "authorize", "AwaitingRedirect", || {
        let world = World::standard();
        let dialect = browser_dialect();
        let request = dialect
            .authorization_request("http://127.0.0.1:49152/callback")
            .expect("an authorization endpoint")
            .build(&mut std::array::from_fn(|i| (i as u8).wrapping_mul(73) ^ 7))
            .expect("a valid request");
        drive(unauthenticated(dialect), |s| {
            s.authorize(request, world.now)
        })
    });
    r.add("AwaitingRedirect", "on_redirect", "ExchangingCode", || {
        let mut world = World::standard();
        let (session, redirect) = awaiting_redirect(&mut world);
        drive(session, |s| s.on_redirect(&redirect, world.now))
    });
    r.add("AwaitingRedirect", "on_redirect", "Unauthenticated", || {
        let mut world = World::standard();
        world
            .server
            .set_authorization_decision(oauth_lifecycle_emulator::AuthorizationDecision::Deny);
        let (session, redirect) = awaiting_redirect(&mut world);
        drive(session, |s| s.on_redirect(&redirect, world.now))
    });
    r.add("AwaitingRedirect", "on_timeout", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, _) = awaiting_redirect(&mut world);
        let expired = session.prompt().expires_at;
        drive(session, |s| s.on_timeout(expired))
    });
    r.add("AwaitingRedirect", "cancel", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, _) = awaiting_redirect(&mut world);
        drive(session, |s| s.cancel(world.now))
    });
    r.add("AwaitingRedirect", "revoke", "Revoked", || {
        let mut world = World::standard();
        let (session, _) = awaiting_redirect(&mut world);
        drive(session, |s| s.revoke(world.now))
    });
    r.add("ExchangingCode", "on_response", "Active", || {
        let mut world = World::standard();
        let (session, exchange) = exchanging_code(&mut world);
        let answer = world.answer(&exchange);
        drive(session, |s| {
            s.on_response(exchange.id(), &answer, world.now)
        })
    });
    r.add("ExchangingCode", "on_response", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, exchange) = exchanging_code(&mut world);
        // The code already spent: the replay is refused.
        let _first = world.answer(&exchange);
        let replay = world.answer(&exchange);
        assert_eq!(replay.status(), 400);
        drive(session, |s| {
            s.on_response(exchange.id(), &replay, world.now)
        })
    });
    r.add(
        "ExchangingCode",
        "on_transport_error",
        "Unauthenticated",
        || {
            let mut world = World::standard();
            let (session, exchange) = exchanging_code(&mut world);
            drive(session, |s| {
                s.on_transport_error(exchange.id(), TransportError::OutcomeUnknown, world.now)
            })
        },
    );
    r.add("ExchangingCode", "on_timeout", "Unauthenticated", || {
        let mut world = World::standard();
        let (session, _) = exchanging_code(&mut world);
        let lost = session.response_deadline();
        drive(session, |s| s.on_timeout(lost))
    });
    r.add("ExchangingCode", "revoke", "Revoking", || {
        let mut world = World::standard();
        let (session, _) = exchanging_code(&mut world);
        drive(session, |s| s.revoke(world.now))
    });
}

// ---------------------------------------------------------------------------------------
// The check

#[test]
fn every_row_is_driven_through_every_method_it_names() {
    let rows = rows();
    assert!(rows.len() > 10, "the table was found and read");
    let registry = scenarios();

    let mut missing = Vec::new();
    let mut ambiguous = Vec::new();
    let mut wrong = Vec::new();
    let mut driven = Vec::new();
    for row in &rows {
        for method in &row.methods {
            let pair = format!("{row}  [{method}]");
            let twins = rows
                .iter()
                .filter(|other| {
                    other.from == row.from && other.to == row.to && other.methods.contains(method)
                })
                .count();
            if twins > 1 {
                ambiguous.push(format!(
                    "{pair}: another row has the same (from, method, to)"
                ));
            }
            let scenario = match registry.find(row, method)[..] {
                [] => {
                    missing.push(pair);
                    continue;
                }
                [scenario] => scenario,
                _ => {
                    ambiguous.push(format!("{pair}: registered more than once"));
                    continue;
                }
            };
            let landing = (scenario.run)();
            if landing.from != row.from {
                wrong.push(format!("{pair}: the scenario built `{}`", landing.from));
                continue;
            }
            match landing.to {
                Ok(to) if to == row.to => driven.push(pair),
                Ok(to) => wrong.push(format!("{pair}: landed in `{to}`")),
                Err(why) => wrong.push(format!("{pair}: {why}")),
            }
        }
    }
    let orphans: Vec<String> = registry
        .0
        .iter()
        .filter(|s| {
            !rows.iter().any(|row| {
                row.from == s.from && row.to == s.to && row.methods.iter().any(|m| m == s.method)
            })
        })
        .map(|s| format!("{} --{}--> {}", s.from, s.method, s.to))
        .collect();

    let report: Vec<String> = [
        (
            &missing,
            "(row, method) pairs of the transition table have no scenario here",
        ),
        (&ambiguous, "are ambiguous"),
        (&wrong, "did not land where the table says"),
        (&orphans, "scenarios are for a row the table does not have"),
    ]
    .into_iter()
    .filter(|(items, _)| !items.is_empty())
    .map(|(items, what)| format!("{} {what}:\n  {}", items.len(), items.join("\n  ")))
    .collect();
    assert!(
        report.is_empty(),
        "\n{}\n({} pairs driven and landed as the table says)",
        report.join("\n"),
        driven.len(),
    );
    println!("driven:\n  {}", driven.join("\n  "));
}
