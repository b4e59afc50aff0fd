//! The JWT bearer grant (RFC 7523 §2.1) against the standard emulator, in simulated time:
//! each login carries a fresh assertion and renewal is a new login, paced by the policy;
//! an assertion a platform writes into a file is read for each login, and a file that is
//! missing or holds an expired token is a typed failure retried on the backoff, never
//! sent and never in a hot loop; and the emulator's refusals (a wrong key, a wrong
//! audience) are typed verdicts retried slowly, never a storm.

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionAudience, AssertionClaims, AssertionError, AssertionSource,
    JWT_BEARER_GRANT,
};
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Driver, Error, Event, Failure, FailureKind, Policy, Purpose, TokenRequest};
use oauth_lifecycle_emulator::{AssertionKey, Emulator, StandardServer, StandardServerConfig};
use oauth_lifecycle_jwt::{Algorithm, AssertionFile, JwtSigner};
use serde_json::{Map, Value};
use support::pace::assert_no_token_endpoint_storm;
use support::{drain, STANDARD_CLIENT};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-05-01 06:00:00);
const TOKEN_URL: &str = "http://127.0.0.1/token";
/// The issuer and subject of the assertions the application signs.
const ISSUER: &str = "https://workload.example";
const SUBJECT: &str = "workload-42";
/// The issuer of the platform's tokens (a Kubernetes projected service-account token).
const PLATFORM: &str = "https://kubernetes.default.svc.cluster.local";
const SERVICE_ACCOUNT: &str = "system:serviceaccount:apps:worker";
/// The most deadlines one run follows before it calls the driver a hot loop.
const MOST_DEADLINES: usize = 10_000;

/// A driver and the emulator it talks to, in simulated time: requests are answered when
/// emitted, deadlines are jumped to.
struct Sim {
    driver: Driver<Standard>,
    server: StandardServer,
    now: UtcDateTime,
    /// Every request sent, with when.
    sent: Vec<(UtcDateTime, TokenRequest)>,
    /// Every event, with when.
    events: Vec<(UtcDateTime, Event)>,
}

impl Sim {
    fn start(dialect: Standard, server: StandardServer) -> Self {
        let mut sim = Sim {
            driver: Driver::new(dialect, Policy::default()).expect("a valid policy"),
            server,
            now: START,
            sent: Vec::new(),
            events: Vec::new(),
        };
        sim.driver.handle_timeout(START);
        sim.settle();
        sim
    }

    /// Answers what the driver emits at `now` until it waits; its next deadline, which
    /// is always strictly after `now`.
    #[track_caller]
    fn settle(&mut self) -> Option<UtcDateTime> {
        let drained = drain(&mut self.driver, &mut self.server, self.now);
        let now = self.now;
        self.sent
            .extend(drained.requests.into_iter().map(|request| (now, request)));
        self.events
            .extend(drained.events.into_iter().map(|event| (now, event)));
        if let Some(at) = drained.deadline {
            assert!(
                at > now,
                "a deadline at {at}, not after now ({now}): a hot loop"
            );
        }
        drained.deadline
    }

    /// Moves the clock to `until`, showing the driver every deadline on the way.
    #[track_caller]
    fn run_until(&mut self, until: UtcDateTime) {
        for _ in 0..MOST_DEADLINES {
            match self.settle() {
                Some(at) if at <= until => {
                    self.now = at;
                    self.driver.handle_timeout(at);
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
        panic!("{MOST_DEADLINES} deadlines before {until}: a hot loop");
    }

    /// When each login and refresh left.
    fn token_requests(&self) -> Vec<UtcDateTime> {
        self.sent
            .iter()
            .filter(|(_, r)| matches!(r.purpose(), Purpose::Login | Purpose::Refresh))
            .map(|(at, _)| *at)
            .collect()
    }

    /// The failures of requests that were not sent for want of an assertion, with when.
    fn unsent(&self) -> Vec<(UtcDateTime, Failure)> {
        self.events
            .iter()
            .filter_map(|(at, event)| match event {
                Event::RetryScheduled {
                    purpose: Purpose::Login,
                    error: Error::Retry { failure, .. },
                } if matches!(failure.kind(), FailureKind::Assertion(_)) => {
                    Some((*at, failure.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// The verdicts on the logins the emulator refused.
    fn rejections(&self) -> Vec<Error> {
        self.events
            .iter()
            .filter_map(|(_, event)| match event {
                Event::RejectedRetryScheduled { error, .. } | Event::Rejected { error } => {
                    Some(error.clone())
                }
                _ => None,
            })
            .collect()
    }

    fn has_token(&self) -> bool {
        self.driver.access_token(self.now).is_some()
    }
}

/// The claims of the assertion a request carries in form field `field`.
fn claims_of(request: &TokenRequest, field: &str) -> Map<String, Value> {
    let value = form_urlencoded::parse(request.request().body())
        .find(|(name, _)| name == field)
        .unwrap_or_else(|| panic!("the request carries `{field}`"))
        .1
        .into_owned();
    Assertion::new(value)
        .expect("a JWT")
        .decode()
        .expect("readable")
        .claims
}

/// The value of form field `field` in a request, if it has one.
fn form_field(request: &TokenRequest, field: &str) -> Option<String> {
    form_urlencoded::parse(request.request().body())
        .find(|(name, _)| name == field)
        .map(|(_, value)| value.into_owned())
}

fn es256_signer() -> JwtSigner {
    let (signer, _pem) = JwtSigner::generate(Algorithm::Es256).expect("a key");
    signer.with_key_id("workload-key-1")
}

fn jwk(signer: &JwtSigner) -> AssertionKey {
    AssertionKey::jwk(signer.public_jwk().expect("an asymmetric key"))
}

/// The standard emulator's client, logging in with the JWT bearer grant from `source`.
fn jwt_bearer(source: impl AssertionSource, audience: AssertionAudience) -> Standard {
    Standard::builder(TOKEN_URL, STANDARD_CLIENT.0)
        .jwt_bearer(source, ISSUER, SUBJECT)
        .assertion_audience(audience)
        .scope("api")
        .build()
        .expect("a valid dialect")
}

/// A directory of this test's own, emptied.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "oauth-lifecycle-jwt-bearer-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// What the platform does: writes a token it signed into `path`, by rename (a new file,
/// as a projected volume swaps it), valid from `issued_at` for `lifetime`. Its `jti`.
fn write_platform_token(
    platform: &JwtSigner,
    path: &Path,
    issued_at: UtcDateTime,
    lifetime: Duration,
) -> String {
    let claims = AssertionClaims {
        issuer: PLATFORM.into(),
        subject: SERVICE_ACCOUNT.into(),
        audience: TOKEN_URL.into(),
        issued_at,
        expires_at: issued_at + lifetime,
    };
    let assertion = platform.assertion(&claims).expect("signed");
    let jti = assertion.decode().unwrap().claims["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let staged = path.with_extension("new");
    std::fs::write(&staged, assertion.into_compact().as_bytes()).expect("written");
    std::fs::rename(&staged, path).expect("moved into place");
    jti
}

/// A server trusting the platform's key, and a session logging in with the token file.
fn platform_sim(platform: &JwtSigner, path: &Path) -> Sim {
    let config = StandardServerConfig::default().trust_issuer(PLATFORM, jwk(platform));
    let dialect = Standard::builder(TOKEN_URL, STANDARD_CLIENT.0)
        .jwt_bearer(AssertionFile::new(path), PLATFORM, SERVICE_ACCOUNT)
        .build()
        .expect("a valid dialect");
    Sim::start(dialect, StandardServer::new(config))
}

/// Over the next simulated hour, the login that cannot carry its assertion is tried again
/// on the backoff: from a second, doubling, to the policy's cap; nothing is sent. How
/// many attempts it made, and the failure of the last.
#[track_caller]
fn retried_on_the_backoff_for_an_hour(sim: &mut Sim) -> (usize, Failure) {
    let from = sim.now;
    let before = sim.unsent().len();
    sim.run_until(from + Duration::HOUR);
    let attempts: Vec<_> = sim
        .unsent()
        .into_iter()
        .skip(before.saturating_sub(1))
        .collect();
    assert!(sim.sent.is_empty(), "nothing is sent: {:?}", sim.sent);
    assert_eq!(sim.server.stats().token_requests, 0);
    let policy = Policy::default();
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    // Jittered waits from about a second, doubling, to the cap: never shorter than half
    // the first, never longer than the cap.
    assert!(
        gaps.iter()
            .all(|gap| *gap >= policy.backoff_initial / 2 && *gap <= policy.backoff_max),
        "every wait within the backoff's bounds: {gaps:?}"
    );
    assert!(gaps[0] < Duration::seconds(2), "{gaps:?}");
    assert!(
        gaps.iter()
            .rev()
            .take(5)
            .all(|gap| *gap >= policy.backoff_max / 2),
        "at the cap by the end of the hour: {gaps:?}"
    );
    // A second doubling to five minutes: nine waits to reach the cap (8.5 minutes), then
    // one attempt every five minutes: about twenty in an hour, never hundreds.
    assert!(
        (12..=25).contains(&attempts.len()),
        "{} attempts in an hour: {gaps:?}",
        attempts.len()
    );
    let last = attempts.last().expect("attempts").1.clone();
    (attempts.len(), last)
}

#[test]
fn each_login_carries_a_fresh_assertion_and_renewal_is_a_new_login() {
    let signer = es256_signer();
    let config = StandardServerConfig::default().trust_issuer(ISSUER, jwk(&signer));
    let dialect = jwt_bearer(signer, AssertionAudience::TokenEndpoint);
    let mut sim = Sim::start(dialect, StandardServer::new(config));

    // The login: the grant, the client named, no secret, the assertion's claims.
    assert!(sim.has_token());
    let (_, login) = &sim.sent[0];
    assert_eq!(login.purpose(), Purpose::Login);
    assert_eq!(
        form_field(login, "grant_type").as_deref(),
        Some(JWT_BEARER_GRANT)
    );
    assert_eq!(
        form_field(login, "client_id").as_deref(),
        Some(STANDARD_CLIENT.0)
    );
    assert_eq!(form_field(login, "client_secret"), None);
    assert!(!login.is_resend_safe(), "an assertion is never resent");
    let claims = claims_of(login, "assertion");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], SUBJECT);
    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(claims["iat"], START.unix_timestamp());
    assert_eq!(claims["exp"], START.unix_timestamp() + 60);

    // Twelve hours: a new login before each token expires, each with its own assertion.
    sim.run_until(START + Duration::hours(12));
    let budget = Policy::default().token_request_budget;
    let times = sim.token_requests();
    for end in 1..=times.len() {
        assert_no_token_endpoint_storm(&times[..end], budget);
    }
    assert!(
        sim.sent.iter().all(|(_, r)| r.purpose() == Purpose::Login),
        "no refresh token, no refresh"
    );
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter()
            .all(|gap| (Duration::minutes(40)..Duration::HOUR).contains(gap)),
        "renewed at the policy's refresh moment of hour-long tokens: {gaps:?}"
    );
    assert!((13..=18).contains(&times.len()), "{} logins", times.len());
    let jtis: HashSet<String> = sim
        .sent
        .iter()
        .map(|(_, r)| {
            claims_of(r, "assertion")["jti"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), sim.sent.len(), "a distinct jti per login");
    for (at, request) in &sim.sent {
        let claims = claims_of(request, "assertion");
        assert_eq!(claims["iat"], at.unix_timestamp(), "formed when sent");
    }
    let stats = sim.server.stats();
    assert_eq!(stats.logins as usize, sim.sent.len());
    assert_eq!(stats.assertions_accepted as usize, sim.sent.len());
    assert_eq!((stats.assertions_refused, stats.refreshes), (0, 0));
    // The token never lapsed: every renewal replaced a live one.
    let renewals = sim
        .events
        .iter()
        .filter(|(_, e)| matches!(e, Event::TokenIssued { renewal: true, .. }))
        .count();
    assert_eq!(renewals, sim.sent.len() - 1);
    assert!(!sim
        .events
        .iter()
        .any(|(_, e)| matches!(e, Event::TokenWithdrawn { .. })));
}

#[test]
fn an_assertion_file_is_retried_on_the_backoff_while_missing_and_read_once_it_appears() {
    let dir = scratch_dir("missing");
    let path = dir.join("token");
    let platform = es256_signer();
    let mut sim = platform_sim(&platform, &path);

    // No file: the login is not sent; a typed failure, retried on the backoff.
    assert!(!sim.has_token());
    let (first_at, first) = sim.unsent().first().cloned().expect("a failure");
    assert_eq!(first_at, START);
    assert!(!first.may_have_reached_server());
    let description = first.description().unwrap_or_default();
    assert!(
        description.starts_with("no client assertion available: cannot read"),
        "{description}"
    );
    assert!(
        description.contains("token"),
        "names the file: {description}"
    );
    let (attempts, _) = retried_on_the_backoff_for_an_hour(&mut sim);
    assert!(!sim.has_token());

    // The platform writes the token: the next attempt, within the backoff's cap, logs in
    // with it.
    let appeared = sim.now;
    let jti = write_platform_token(&platform, &path, appeared, Duration::HOUR);
    sim.run_until(appeared + Duration::minutes(6));
    assert!(sim.has_token(), "recovered once the file appeared");
    assert_eq!(sim.sent.len(), 1);
    let (sent_at, login) = &sim.sent[0];
    assert!(*sent_at - appeared <= Policy::default().backoff_max + Duration::seconds(30));
    let claims = claims_of(login, "assertion");
    assert_eq!(
        (&claims["jti"], &claims["sub"]),
        (&jti.into(), &SERVICE_ACCOUNT.into())
    );
    assert_eq!(sim.unsent().len(), attempts, "no failure after it appeared");

    // The platform rotates its token before the renewal: the renewal reads the new one.
    let rotated = write_platform_token(
        &platform,
        &path,
        sent_at.to_owned() + Duration::minutes(30),
        Duration::HOUR,
    );
    sim.run_until(*sent_at + Duration::minutes(55));
    assert_eq!(sim.sent.len(), 2, "one renewal");
    assert_eq!(
        claims_of(&sim.sent[1].1, "assertion")["jti"],
        rotated.as_str()
    );
    assert_eq!(sim.server.stats().assertions_accepted, 2);
    assert!(sim.has_token());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_expired_assertion_file_is_a_typed_failure_retried_on_the_backoff() {
    let dir = scratch_dir("expired");
    let path = dir.join("token");
    let platform = es256_signer();
    let issued = START - Duration::hours(2);
    write_platform_token(&platform, &path, issued, Duration::HOUR);
    let mut sim = platform_sim(&platform, &path);

    let expired = AssertionError::Expired {
        expired_at: issued + Duration::HOUR,
    };
    let (_, first) = sim.unsent().first().cloned().expect("a failure");
    assert_eq!(first.description(), Some(expired.to_string().as_str()));
    let (_, last) = retried_on_the_backoff_for_an_hour(&mut sim);
    assert_eq!(
        last.kind(),
        FailureKind::Assertion(oauth_lifecycle::AssertionFailure::Expired)
    );
    assert_eq!(last.description(), Some(expired.to_string().as_str()));

    // A fresh token: recovered on the next attempt.
    let jti = write_platform_token(&platform, &path, sim.now, Duration::HOUR);
    sim.run_until(sim.now + Duration::minutes(6));
    assert!(sim.has_token());
    assert_eq!(sim.sent.len(), 1);
    assert_eq!(claims_of(&sim.sent[0].1, "assertion")["jti"], jti.as_str());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A session the emulator refuses, run for two days: the verdict each time, and the
/// requests sent.
fn refused_for_two_days(dialect: Standard, config: StandardServerConfig) -> Sim {
    let mut sim = Sim::start(dialect, StandardServer::new(config));
    sim.run_until(START + Duration::days(2));
    let times = sim.token_requests();
    let budget = Policy::default().token_request_budget;
    for end in 1..=times.len() {
        assert_no_token_endpoint_storm(&times[..end], budget);
    }
    // The rejected-login pace: a minute, doubling to an hour. Two days: six waits to reach
    // the hour, then one attempt an hour.
    assert_eq!(times.len(), 1 + 6 + 46, "{times:?}");
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps.iter().all(|gap| *gap >= Duration::MINUTE), "{gaps:?}");
    assert!(!sim.has_token());
    let stats = sim.server.stats();
    assert_eq!(stats.assertions_refused as usize, times.len());
    assert_eq!((stats.assertions_accepted, stats.logins), (0, 0));
    sim
}

/// Each refusal's verdict is `expected`, answered with `code` and `description`, which
/// quotes no part of the assertion sent.
#[track_caller]
fn assert_refusals(sim: &Sim, expected: fn(&Error) -> bool, code: &str, description: &str) {
    let rejections = sim.rejections();
    assert_eq!(rejections.len(), sim.sent.len());
    for error in &rejections {
        assert!(expected(error), "{error:?}");
        let failure = error.failure().expect("the endpoint's answer");
        assert_eq!(failure.code().map(|c| c.to_string()).as_deref(), Some(code));
        assert_eq!(failure.description(), Some(description));
    }
    for (_, request) in &sim.sent {
        let body = String::from_utf8_lossy(request.request().body()).into_owned();
        for part in body.split(['=', '&', '.']).filter(|p| p.len() > 16) {
            assert!(!description.contains(part));
        }
    }
    // Each attempt a new assertion: the refusals are the emulator's verdict on it, not a
    // replay of the one before.
    let jtis: HashSet<String> = sim
        .sent
        .iter()
        .map(|(_, r)| {
            let field = if form_field(r, "assertion").is_some() {
                "assertion"
            } else {
                "client_assertion"
            };
            claims_of(r, field)["jti"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(jtis.len(), sim.sent.len());
}

#[test]
fn an_assertion_signed_with_another_key_is_refused_as_a_dead_grant_without_a_storm() {
    let trusted = es256_signer();
    let config = StandardServerConfig::default().trust_issuer(ISSUER, jwk(&trusted));
    let (impostor, _) = JwtSigner::generate(Algorithm::EdDsa).unwrap();
    let sim = refused_for_two_days(
        jwt_bearer(impostor, AssertionAudience::TokenEndpoint),
        config,
    );
    assert_refusals(
        &sim,
        |e| matches!(e, Error::Reauthenticate { .. }),
        "invalid_grant",
        "the assertion's alg does not fit the key",
    );

    // The same kind of key, another key: the signature does not verify.
    let config = StandardServerConfig::default().trust_issuer(ISSUER, jwk(&trusted));
    let sim = refused_for_two_days(
        jwt_bearer(es256_signer(), AssertionAudience::TokenEndpoint),
        config,
    );
    assert_refusals(
        &sim,
        |e| matches!(e, Error::Reauthenticate { .. }),
        "invalid_grant",
        "the assertion's signature does not verify",
    );
}

#[test]
fn an_assertion_for_another_audience_is_refused_as_a_dead_grant_without_a_storm() {
    let signer = es256_signer();
    let config = StandardServerConfig::default().trust_issuer(ISSUER, jwk(&signer));
    let elsewhere = AssertionAudience::Custom("https://elsewhere.example/token".into());
    let sim = refused_for_two_days(jwt_bearer(signer, elsewhere), config);
    assert_refusals(
        &sim,
        |e| matches!(e, Error::Reauthenticate { .. }),
        "invalid_grant",
        "the assertion is meant for another audience",
    );
}

#[test]
fn a_client_assertion_with_another_key_is_rejected_without_a_storm() {
    let registered = es256_signer();
    let config = StandardServerConfig::default().assertion_client("keyed-client", jwk(&registered));
    let dialect = Standard::builder(TOKEN_URL, "keyed-client")
        .client_assertion(es256_signer())
        .build()
        .expect("a valid dialect");
    let sim = refused_for_two_days(dialect, config);
    assert_refusals(
        &sim,
        |e| matches!(e, Error::Rejected { .. }),
        "invalid_client",
        "the assertion's signature does not verify",
    );
}
