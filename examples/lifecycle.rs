//! Whole token lifecycles against the in-process emulators, in simulated time, one run per
//! provider. Each prints a timeline: login, proactive renewal, the provider's quirks
//! (a 401 after the server ended every session, failures with backoff, a rate limit, a
//! restarted server rejecting the client until it heals, sliding expiry, daily
//! re-logins), and a revoke. Two more runs log a person in: with the device grant (the
//! person approves the code on "another device") and with the authorization code grant
//! and PKCE (the person's "browser" follows the URL to the emulator and back). A last run
//! authenticates the client with a key (`private_key_jwt`): every request carries a fresh
//! signed assertion, which the emulator verifies.
//!
//! Run it with `cargo run --example lifecycle`.

use std::collections::VecDeque;

use oauth_lifecycle::dialect::authorization::IssParameter;
use oauth_lifecycle::dialect::{
    Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Dialect, Environment, Grant, Standard,
};
use oauth_lifecycle::resource::{classify_response, ResourceVerdict};
use oauth_lifecycle::{Driver, Event, LoginPrompt, Output, Policy};
use oauth_lifecycle_emulator::{
    AssertionKey, ConvercusLegacyServer, ConvercusLegacyServerConfig, ConvirzaV3Server,
    ConvirzaV3ServerConfig, Emulator, InjectedFailure, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-01-01 09:00:00);
/// The emulators answer in process; the URLs only need to be well formed.
const LOCAL: &str = "http://127.0.0.1";

/// What the application (or the provider) does, and when.
#[derive(Debug, Clone)]
enum Action {
    CallApi,
    ServerEndsAllSessions,
    ServerFails(Vec<InjectedFailure>),
    Revoke,
    /// The application starts a device login.
    StartDeviceLogin,
    /// The application starts a browser login.
    StartBrowserLogin,
    /// The person approves the device login, on another device.
    PersonApproves,
    /// The person's browser opens the URL, logs in and comes back to the redirect URI.
    BrowserComesBack,
}

/// The person of a login, at the provider: only the standard emulator has one.
trait Person {
    /// Approves the pending device login, if there is one.
    fn approve(&mut self) -> bool {
        false
    }
}

impl Person for StandardServer {
    fn approve(&mut self) -> bool {
        let pending = self.pending_user_codes();
        pending
            .first()
            .is_some_and(|code| self.approve_user_code(code))
    }
}
impl Person for ConvirzaV3Server {}
impl Person for ConvercusLegacyServer {}

fn status(status: u16, retry_after: Option<&str>) -> InjectedFailure {
    InjectedFailure::Status {
        status,
        retry_after: retry_after.map(str::to_owned),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let minutes = |m: i64| Duration::minutes(m);
    let hours = |h: i64| Duration::hours(h);

    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = minutes(15);
    let standard = Standard::builder(format!("{LOCAL}/token"), "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .revocation_url(format!("{LOCAL}/revoke"))
        .build()?;
    run(
        "Any RFC 6749 server (password grant, 15-minute tokens)",
        standard,
        StandardServer::new(config),
        vec![
            (minutes(20), Action::CallApi),
            (minutes(21), Action::ServerEndsAllSessions),
            (minutes(22), Action::CallApi),
            (
                minutes(30),
                Action::ServerFails(vec![status(503, None), status(502, None)]),
            ),
            (minutes(50), Action::CallApi),
            (minutes(55), Action::Revoke),
        ],
    )?;

    let v2 = ConvirzaV2::builder(
        "system",
        "convirza-v2-secret",
        "user@convirza.com",
        "mySecurePassword123",
    )
    .token_url(format!("{LOCAL}/oauth/token"))
    .build()?;
    run(
        "Convirza V2 (1-hour tokens, 10 token requests per minute)",
        v2,
        StandardServer::new(StandardServerConfig::convirza_v2()),
        vec![
            (minutes(40), Action::ServerFails(vec![status(429, None)])),
            (minutes(70), Action::CallApi),
            (minutes(71), Action::ServerEndsAllSessions),
            (minutes(72), Action::CallApi),
            (minutes(90), Action::Revoke),
        ],
    )?;

    let v3 = ConvirzaV3::builder("user@example.com", "SecurePassword123!")
        .base_url(LOCAL)
        .build()?;
    run(
        "Convirza V3 (7-day sliding tokens, single-use refresh tokens)",
        v3,
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        vec![
            (hours(24), Action::CallApi),
            (hours(48), Action::CallApi),
            (hours(200), Action::ServerEndsAllSessions),
            (hours(201), Action::CallApi),
            (hours(202), Action::Revoke),
        ],
    )?;

    let convercus = Convercus::builder("ABC", Environment::Staging, "convercus-secret")
        .auth_url(LOCAL)
        .build()?;
    // A restarted server that has not loaded its clients yet rejects the client: the
    // session tries again by itself a minute later, then two, and heals.
    let not_loaded = || InjectedFailure::OAuthError {
        status: 401,
        code: "invalid_client".into(),
    };
    run(
        "Convercus via Keycloak (client credentials, 30-minute tokens, renewed at 80 %)",
        convercus,
        StandardServer::new(StandardServerConfig::keycloak("abc-staging")),
        vec![
            (
                minutes(20),
                Action::ServerFails(vec![not_loaded(), not_loaded()]),
            ),
            (minutes(50), Action::CallApi),
            (minutes(75), Action::Revoke),
        ],
    )?;

    let legacy = ConvercusLegacy::builder("ACME", "api-user", "api-password", Environment::Staging)
        .api_url(LOCAL)
        .build()?;
    run(
        "Convercus legacy login (24-hour tokens, no refresh)",
        legacy,
        ConvercusLegacyServer::new(ConvercusLegacyServerConfig::default()),
        vec![(hours(30), Action::CallApi), (hours(40), Action::Revoke)],
    )?;

    let device = Standard::builder(format!("{LOCAL}/token"), "emulated-public-client")
        .grant(Grant::DeviceCode)
        .device_authorization_url(format!("{LOCAL}/device_authorization"))
        .revocation_url(format!("{LOCAL}/revoke"))
        .build()?;
    run(
        "A person's login with the device grant (RFC 8628), then refreshes",
        device,
        StandardServer::new(StandardServerConfig::default()),
        vec![
            (Duration::ZERO, Action::StartDeviceLogin),
            (Duration::seconds(12), Action::PersonApproves),
            (minutes(90), Action::Revoke),
        ],
    )?;

    let browser = Standard::builder(format!("{LOCAL}/token"), "emulated-public-client")
        .grant(Grant::AuthorizationCode)
        .authorization_url(format!("{LOCAL}/authorize"))
        .issuer(LOCAL, IssParameter::Required)
        .revocation_url(format!("{LOCAL}/revoke"))
        .build()?;
    run(
        "A person's login in a browser (authorization code with PKCE, RFC 8252 loopback)",
        browser,
        StandardServer::new(StandardServerConfig::default()),
        vec![
            (Duration::ZERO, Action::StartBrowserLogin),
            (Duration::seconds(20), Action::BrowserComesBack),
            (minutes(90), Action::Revoke),
        ],
    )?;

    // The server registered the client's public key; the client signs with the private
    // one, a new ES256 assertion for each request (RFC 7523).
    let (signer, _pkcs8_pem) = JwtSigner::generate(Algorithm::Es256)?;
    let signer = signer.with_key_id("demo-key-1");
    let public_key = AssertionKey::jwk(signer.public_jwk().ok_or("an ES256 key is public")?);
    let keyed = Standard::builder(format!("{LOCAL}/token"), "emulated-client")
        .client_assertion(signer)
        .revocation_url(format!("{LOCAL}/revoke"))
        .build()?;
    run(
        "A client with a key (private_key_jwt, ES256: a fresh signed assertion per request)",
        keyed,
        StandardServer::new(
            StandardServerConfig::default().assertion_client("emulated-client", public_key),
        ),
        vec![
            (minutes(50), Action::CallApi),
            (minutes(70), Action::Revoke),
        ],
    )?;
    Ok(())
}

/// Runs one provider's session against its emulator, following `script`.
fn run<D: Dialect, E: Emulator + Person>(
    title: &str,
    dialect: D,
    mut server: E,
    script: Vec<(Duration, Action)>,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== {title}");
    let mut policy = Policy::default();
    policy.jitter_seed = 7;
    let mut driver = Driver::new(dialect, policy)?;
    let mut script: VecDeque<_> = script
        .into_iter()
        .map(|(at, action)| (START + at, action))
        .collect();
    let mut now = START;
    // The URL a browser login asked the person to open.
    let mut url = None;
    driver.handle_timeout(now);
    for _ in 0..400 {
        match driver.poll_output() {
            Output::Request(request) => {
                let http = request.request();
                println!(
                    "{} → {} {} ({}, request {})",
                    clock(now),
                    http.method(),
                    http.uri().path(),
                    request.purpose(),
                    request.id()
                );
                let response = server.handle(http, now);
                println!("{} ← {}", clock(now), response.status());
                driver.handle_response(request.id(), &response, now)?;
            }
            Output::Event(event) => {
                if let Event::LoginPrompt(LoginPrompt::OpenBrowser(prompt)) = &event {
                    url = Some(prompt.url().to_string());
                }
                println!("{}   {}", clock(now), describe(&event));
            }
            Output::Persist => {
                // A real program writes this to disk (the adapters' stores do).
                let snapshot = driver.session().snapshot_with_secrets();
                let _saved = serde_json::to_vec(&snapshot)?;
                println!(
                    "{}   persisted the session ({}, {})",
                    clock(now),
                    snapshot.state_name(),
                    snapshot.generation()
                );
            }
            Output::Timeout(deadline) => {
                let deadline = deadline.max(now);
                match script.front() {
                    Some((at, _)) if *at <= deadline => {
                        let (at, action) = script.pop_front().expect("a scripted action");
                        now = at.max(now);
                        driver.handle_timeout(now);
                        act(action, &mut driver, &mut server, &mut url, now);
                    }
                    _ => {
                        now = deadline;
                        driver.handle_timeout(now);
                    }
                }
            }
            // Waiting for the application (a person's login to start): the next action.
            Output::Idle => match script.pop_front() {
                Some((at, action)) => {
                    now = at.max(now);
                    driver.handle_timeout(now);
                    act(action, &mut driver, &mut server, &mut url, now);
                }
                None => break,
            },
        }
    }
    let stats = server.stats();
    println!(
        "{} done; the provider saw logins: {}, refreshes: {}, revocations: {}, 429s caused: {}",
        clock(now),
        stats.logins,
        stats.refreshes,
        stats.revocations,
        stats.rate_limited
    );
    Ok(())
}

fn act<D: Dialect, E: Emulator + Person>(
    action: Action,
    driver: &mut Driver<D>,
    server: &mut E,
    url: &mut Option<String>,
    now: UtcDateTime,
) {
    match action {
        Action::StartDeviceLogin => {
            println!("{} app: log in with the device grant", clock(now));
            if let Err(misuse) = driver.authorize_device(now) {
                println!("{} app: refused: {misuse}", clock(now));
            }
        }
        Action::StartBrowserLogin => {
            println!("{} app: log in in a browser", clock(now));
            // 64 bytes from a CSPRNG in a real program (`getrandom::fill`); fixed here so
            // that every run prints the same timeline.
            let mut entropy: [u8; 64] = std::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ 0x5c);
            let request = driver
                .session()
                .dialect()
                .authorization_request("http://127.0.0.1:49152/callback")
                .map(|builder| builder.build(&mut entropy));
            match request {
                Some(Ok(request)) => {
                    if let Err(misuse) = driver.authorize(request, now) {
                        println!("{} app: refused: {misuse}", clock(now));
                    }
                }
                _ => println!("{} app: this dialect has no browser login", clock(now)),
            }
        }
        Action::PersonApproves => {
            let approved = server.approve();
            println!(
                "{} person: enters the code and approves: {approved}",
                clock(now)
            );
        }
        Action::BrowserComesBack => {
            let Some(open) = url.take() else {
                println!("{} browser: no URL to open", clock(now));
                return;
            };
            let request = http::Request::get(open)
                .body(Vec::new())
                .expect("a valid request");
            let answer = server.handle(&request, now);
            let Some(location) = answer.headers().get(http::header::LOCATION) else {
                println!(
                    "{} browser: the provider answered {}",
                    clock(now),
                    answer.status()
                );
                return;
            };
            let location = location.to_str().unwrap_or_default().to_owned();
            println!(
                "{} browser: logged in; redirected to {}",
                clock(now),
                location.split('?').next().unwrap_or_default()
            );
            if let Err(refused) = driver.handle_redirect(&location, now) {
                println!("{} app: redirect refused: {refused}", clock(now));
            }
        }
        Action::CallApi => {
            let Some(token) = driver.access_token(now) else {
                println!("{} app: no token to call the API with", clock(now));
                return;
            };
            let generation = token.generation();
            let call = http::Request::builder()
                .uri("http://127.0.0.1/api/profile")
                .header(http::header::AUTHORIZATION, token.header_value())
                .body(Vec::new())
                .expect("a valid request");
            let response = server.resource_request(&call, now);
            println!(
                "{} app: GET /api/profile ← {}",
                clock(now),
                response.status()
            );
            match classify_response(&response) {
                ResourceVerdict::TokenRejected => {
                    let _ = driver.handle_unauthorized(generation, now);
                }
                ResourceVerdict::Accepted => driver.handle_call_succeeded(generation, now),
                _ => {}
            }
        }
        Action::ServerEndsAllSessions => {
            println!("{} server: an administrator ends every session", clock(now));
            server.revoke_all();
        }
        Action::ServerFails(failures) => {
            println!(
                "{} server: the next {} token request(s) will fail: {:?}",
                clock(now),
                failures.len(),
                failures
            );
            for failure in failures {
                server.fail_next(failure);
            }
        }
        Action::Revoke => {
            println!("{} app: log out", clock(now));
            driver.revoke(now);
        }
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::TokenIssued {
            generation,
            expires_at,
            via,
            renewal: false,
            ..
        } => format!(
            "event: {via} gave {generation}, valid until {}",
            clock(*expires_at)
        ),
        Event::TokenIssued {
            generation,
            expires_at,
            via,
            renewal: true,
            ..
        } => format!(
            "event: renewed by {via}: {generation}, valid until {}",
            clock(*expires_at)
        ),
        Event::TokenExtended {
            generation,
            expires_at,
            ..
        } => format!("event: a call slid {generation} to {}", clock(*expires_at)),
        Event::TokenWithdrawn { generation, reason } => {
            format!("event: {generation} withdrawn: {reason}")
        }
        Event::RenewalDue { unauthorized: true } => {
            "event: the API rejected the token; renewing now".into()
        }
        Event::RenewalDue {
            unauthorized: false,
        } => "event: refresh moment reached".into(),
        Event::Reauthenticating { cause } => {
            format!("event: the grant is dead ({cause}); logging in again")
        }
        Event::RetryScheduled { purpose, error } => format!(
            "event: {purpose} failed ({}); retrying at {}",
            error.failure().map(ToString::to_string).unwrap_or_default(),
            error.retry_at().map(clock).unwrap_or_default()
        ),
        Event::RejectedRetryScheduled {
            purpose,
            error,
            retry_at,
            ..
        } => format!(
            "event: {purpose} rejected ({}); trying again by itself at {}",
            error.failure().map(ToString::to_string).unwrap_or_default(),
            clock(*retry_at)
        ),
        Event::LoginPrompt(LoginPrompt::EnterCode(prompt)) => format!(
            "event: show the person: go to {} and enter {} (until {})",
            prompt.verification_uri,
            prompt.user_code,
            clock(prompt.expires_at)
        ),
        Event::LoginPrompt(LoginPrompt::OpenBrowser(prompt)) => format!(
            "event: open {}://{}{}?… in the person's browser (until {})",
            prompt.url().scheme_str().unwrap_or_default(),
            prompt
                .url()
                .authority()
                .map(|a| a.as_str())
                .unwrap_or_default(),
            prompt.url().path(),
            clock(prompt.expires_at)
        ),
        Event::PersonLoginEnded { error } => format!("event: the person's login ended: {error}"),
        other => format!("event: {other:?}"),
    }
}

/// Simulated time as an offset from the start.
fn clock(at: UtcDateTime) -> String {
    let elapsed = at - START;
    let seconds = elapsed.whole_seconds();
    format!(
        "[+{:03}:{:02}:{:02}.{:03}]",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        elapsed.subsec_milliseconds()
    )
}
