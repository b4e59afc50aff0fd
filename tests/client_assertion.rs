//! Assertions as the session forms them (RFC 7523): every request that authenticates the
//! client carries a fresh client assertion, formed from the `now` the request was emitted
//! at; the JWT bearer grant's login carries a fresh grant assertion; a request whose
//! source fails is never sent and is retried on the backoff; no assertion is ever shown.
//!
//! The source here is a test mint whose assertions are unsigned (the session never reads
//! a signature). The signing crate and the real servers have their own suites
//! (`jwt/`, `tests/client_assertion_servers.rs`, `tests/jwt_bearer_grant.rs`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionAudience, AssertionClaims, AssertionError, AssertionMethod,
    AssertionSource, CLIENT_ASSERTION_TYPE, JWT_BEARER_GRANT,
};
use oauth_lifecycle::dialect::{ClientAuth, Grant, Provider, Settings, Standard};
use oauth_lifecycle::{
    AssertionFailure, ConfigError, Driver, Error, Event, FailureKind, Misuse, Policy, Purpose,
    TokenRequest, TransportError,
};
use oauth_lifecycle_testkit::{collect, reply};
use serde_json::{Map, Value};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-03-01 08:00:00);
const TOKEN_URL: &str = "http://127.0.0.1/token";
const CLIENT: &str = "assertion-client";
const TOKEN: &str =
    r#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}"#;

/// Mints unsigned assertions for the claims it is given, each with a new `jti`, and
/// fails with `failure` while one is set.
#[derive(Debug, Default)]
struct Mint {
    minted: AtomicU64,
    failure: Mutex<Option<AssertionError>>,
    method: Option<AssertionMethod>,
}

impl Mint {
    fn fail_with(&self, failure: Option<AssertionError>) {
        *self.failure.lock().unwrap() = failure;
    }

    fn minted(&self) -> u64 {
        self.minted.load(Ordering::SeqCst)
    }
}

fn jwt(header: &str, claims: &[u8]) -> String {
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.{}",
        encode(header.as_bytes()),
        encode(claims),
        encode(b"not-a-signature")
    )
}

impl AssertionSource for Mint {
    fn method(&self) -> AssertionMethod {
        self.method.unwrap_or(AssertionMethod::PrivateKeyJwt)
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        if let Some(failure) = self.failure.lock().unwrap().clone() {
            return Err(failure);
        }
        let n = self.minted.fetch_add(1, Ordering::SeqCst);
        Assertion::new(jwt(
            r#"{"alg":"ES256","typ":"JWT"}"#,
            &claims.to_json(&format!("jti-{n}")),
        ))
    }
}

fn form(request: &TokenRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(request.request().body())
        .into_owned()
        .collect()
}

fn field(request: &TokenRequest, name: &str) -> Option<String> {
    form(request)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// The claims of the assertion in `name`.
fn claims_in(request: &TokenRequest, name: &str) -> Map<String, Value> {
    let text = field(request, name).unwrap_or_else(|| panic!("no {name} in {:?}", form(request)));
    Assertion::new(text).unwrap().decode().unwrap().claims
}

fn builder(mint: &Arc<Mint>) -> oauth_lifecycle::dialect::StandardBuilder {
    Standard::builder(TOKEN_URL, CLIENT)
        .client_secret("never-sent-client-secret")
        .client_assertion(Arc::clone(mint))
        .revocation_url("http://127.0.0.1/revoke")
        .device_authorization_url("http://127.0.0.1/device_authorization")
        .authorization_url("http://127.0.0.1/authorize")
}

fn driver_with(dialect: Standard) -> Driver<Standard> {
    Driver::new(dialect, Policy::default()).unwrap()
}

/// Checks one request's client assertion: present, typed, about this client, for the
/// token endpoint, valid from `at` for the configured lifetime; no secret beside it.
#[track_caller]
fn check_client_assertion(request: &TokenRequest, at: UtcDateTime, lifetime: i64) -> String {
    assert_eq!(
        field(request, "client_assertion_type").as_deref(),
        Some(CLIENT_ASSERTION_TYPE)
    );
    assert_eq!(field(request, "client_id").as_deref(), Some(CLIENT));
    assert!(field(request, "client_secret").is_none());
    assert!(request.request().headers().get("authorization").is_none());
    assert!(
        !request.is_resend_safe(),
        "a request with an assertion is never resent"
    );
    let claims = claims_in(request, "client_assertion");
    assert_eq!(claims["iss"], CLIENT);
    assert_eq!(claims["sub"], CLIENT);
    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(claims["iat"], at.unix_timestamp());
    assert_eq!(claims["nbf"], at.unix_timestamp());
    assert_eq!(claims["exp"], at.unix_timestamp() + lifetime);
    claims["jti"].as_str().unwrap().to_owned()
}

/// Every kind of request that authenticates the client carries its own client
/// assertion: the login, the refresh, both revocations, the device authorization and its
/// poll, and the code exchange. No two share a `jti`.
#[test]
fn every_request_that_authenticates_the_client_carries_a_fresh_assertion() {
    let mint = Arc::new(Mint::default());
    let mut jtis = HashSet::new();
    let mut seen = |jti: String| assert!(jtis.insert(jti.clone()), "{jti} sent twice");

    // Login, refresh, revocation of both tokens.
    let mut driver = driver_with(builder(&mint).build().unwrap());
    driver.handle_timeout(NOW);
    let login = collect(&mut driver).only_request();
    assert_eq!(
        field(&login, "grant_type").as_deref(),
        Some("client_credentials")
    );
    seen(check_client_assertion(&login, NOW, 60));
    driver
        .handle_response(login.id(), &reply(200, TOKEN), NOW)
        .unwrap();
    collect(&mut driver);
    let later = NOW + Duration::minutes(50);
    driver.renew(later).unwrap();
    let refresh = collect(&mut driver).only_request();
    assert_eq!(
        field(&refresh, "grant_type").as_deref(),
        Some("refresh_token")
    );
    seen(check_client_assertion(&refresh, later, 60));
    driver
        .handle_response(refresh.id(), &reply(200, TOKEN), later)
        .unwrap();
    collect(&mut driver);
    driver.revoke(later);
    for _ in 0..2 {
        let revocation = collect(&mut driver).only_request();
        assert!(field(&revocation, "token").is_some());
        seen(check_client_assertion(&revocation, later, 60));
        driver
            .handle_response(revocation.id(), &reply(200, ""), later)
            .unwrap();
    }

    // The device authorization and its poll.
    let device = builder(&mint).grant(Grant::DeviceCode).build().unwrap();
    let mut driver = driver_with(device);
    driver.authorize_device(NOW).unwrap();
    let authorization = collect(&mut driver).only_request();
    seen(check_client_assertion(&authorization, NOW, 60));
    let answer = r#"{"device_code":"dc-secret-device-code","user_code":"ABCD-EFGH","verification_uri":"http://127.0.0.1/device","expires_in":600,"interval":5}"#;
    driver
        .handle_response(authorization.id(), &reply(200, answer), NOW)
        .unwrap();
    let poll_at = collect(&mut driver).deadline.unwrap();
    driver.handle_timeout(poll_at);
    let poll = collect(&mut driver).only_request();
    seen(check_client_assertion(&poll, poll_at, 60));

    // The code exchange.
    let code = builder(&mint)
        .grant(Grant::AuthorizationCode)
        .build()
        .unwrap();
    let redirect = "http://127.0.0.1:8765/callback";
    let request = code
        .authorization_request_for(redirect)
        .unwrap()
        .build(&mut std::array::from_fn(|i| i as u8))
        .unwrap();
    let state = request.state().to_owned();
    let mut driver = driver_with(code);
    driver.authorize(request, NOW).unwrap();
    collect(&mut driver);
    driver
        .handle_redirect(&format!("/callback?code=the-code&state={state}"), NOW)
        .unwrap();
    let exchange = collect(&mut driver).only_request();
    assert_eq!(field(&exchange, "code").as_deref(), Some("the-code"));
    seen(check_client_assertion(&exchange, NOW, 60));
}

trait AuthorizationRequestFor {
    fn authorization_request_for(
        &self,
        redirect: &str,
    ) -> Option<oauth_lifecycle::dialect::authorization::AuthorizationRequestBuilder>;
}

impl AuthorizationRequestFor for Standard {
    fn authorization_request_for(
        &self,
        redirect: &str,
    ) -> Option<oauth_lifecycle::dialect::authorization::AuthorizationRequestBuilder> {
        oauth_lifecycle::Dialect::authorization_request(self, redirect)
    }
}

/// A retry is a new request with a new assertion, whatever made the first one fail: a
/// 5xx, a lost response, a timeout.
#[test]
fn a_retry_carries_a_new_assertion() {
    let mint = Arc::new(Mint::default());
    let mut driver = driver_with(builder(&mint).build().unwrap());
    let mut now = NOW;
    driver.handle_timeout(now);
    let mut jtis = HashSet::new();
    for failure in ["503", "lost", "timeout", "503"] {
        let request = collect(&mut driver).only_request();
        assert!(jtis.insert(check_client_assertion(&request, now, 60)));
        match failure {
            "503" => driver
                .handle_response(request.id(), &reply(503, ""), now)
                .unwrap(),
            "lost" => driver
                .handle_transport_error(request.id(), TransportError::OutcomeUnknown, now)
                .unwrap(),
            _ => {
                now = request.deadline();
                driver.handle_timeout(now);
            }
        }
        let next = collect(&mut driver).deadline.unwrap();
        assert!(next > now);
        now = next;
        driver.handle_timeout(now);
    }
    assert_eq!(jtis.len(), 4);
    assert_eq!(
        mint.minted(),
        5,
        "one assertion per request, the pending one included"
    );
}

/// A source that cannot supply an assertion: the request is not sent, the failure is
/// typed (`FailureKind::Assertion`, its reason quoted), the session backs off, and a
/// still-valid token is served throughout. No storm: over an hour the source is asked a
/// bounded number of times, each deadline strictly after the moment it was set.
#[test]
fn a_failing_source_sends_nothing_backs_off_and_keeps_the_token() {
    let mint = Arc::new(Mint::default());
    let mut driver = driver_with(builder(&mint).build().unwrap());
    driver.handle_timeout(NOW);
    let login = collect(&mut driver).only_request();
    let short = r#"{"access_token":"at-1","token_type":"Bearer","expires_in":600}"#;
    driver
        .handle_response(login.id(), &reply(200, short), NOW)
        .unwrap();
    let drained = collect(&mut driver);
    let valid_until = drained
        .events
        .iter()
        .find_map(|event| match event {
            Event::TokenIssued { valid_until, .. } => Some(*valid_until),
            _ => None,
        })
        .unwrap();
    let mut now = drained.deadline.unwrap();

    mint.fail_with(Some(AssertionError::Unavailable {
        reason: "/var/run/secrets/token: not found".into(),
    }));
    let before = mint.minted();
    let mut attempts = 0;
    let mut reasons = Vec::new();
    for _ in 0..200 {
        if now > NOW + Duration::hours(1) {
            break;
        }
        driver.handle_timeout(now);
        let drained = collect(&mut driver);
        assert!(
            drained.requests.is_empty(),
            "nothing is sent without an assertion"
        );
        for event in &drained.events {
            if let Event::RetryScheduled {
                error: Error::Retry { failure, .. },
                ..
            } = event
            {
                assert_eq!(
                    failure.kind(),
                    FailureKind::Assertion(AssertionFailure::Unavailable)
                );
                assert!(!failure.may_have_reached_server());
                reasons.push(failure.to_string());
                attempts += 1;
            }
        }
        if now < valid_until {
            assert!(
                driver.access_token(now).is_some(),
                "the token is still served"
            );
        }
        let next = drained.deadline.expect("a retry is scheduled");
        assert!(next > now, "no wake-up at or before now");
        now = next;
    }
    assert_eq!(mint.minted(), before, "a failing source mints nothing");
    assert!(
        (3..=30).contains(&attempts),
        "{attempts} attempts in an hour: bounded, and still trying"
    );
    assert!(reasons[0].contains("not found"), "{}", reasons[0]);

    // The source recovers: the next attempt logs in.
    mint.fail_with(None);
    driver.handle_timeout(now);
    let request = collect(&mut driver).only_request();
    check_client_assertion(&request, now, 60);
}

/// An explicit login whose assertion cannot be had is refused with the reason, typed.
#[test]
fn an_explicit_login_without_an_assertion_is_refused_with_the_reason() {
    let mint = Arc::new(Mint::default());
    mint.fail_with(Some(AssertionError::Signing {
        reason: "the key is unusable".into(),
    }));
    let mut driver = driver_with(builder(&mint).build().unwrap());
    match driver.login(NOW) {
        Err(Misuse::NoAssertion {
            purpose,
            kind,
            reason,
        }) => {
            assert_eq!(purpose, Purpose::Login);
            assert_eq!(kind, AssertionFailure::Signing);
            assert!(reason.contains("the key is unusable"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(collect(&mut driver).requests.is_empty());
}

/// A supplied assertion that is expired at the moment of the request, has no `exp`, or is
/// not a JWT is refused before sending, each with its typed reason.
#[test]
fn an_unusable_supplied_assertion_is_never_sent() {
    let expired = format!(r#"{{"exp":{}}}"#, NOW.unix_timestamp());
    let cases: [(&str, String, AssertionFailure, &str); 3] = [
        (
            "expired",
            jwt("{}", expired.as_bytes()),
            AssertionFailure::Expired,
            "expired",
        ),
        (
            "no exp",
            jwt("{}", br#"{"sub":"x"}"#),
            AssertionFailure::Malformed,
            "no `exp`",
        ),
        (
            "not a JWT",
            "not-a-jwt".into(),
            AssertionFailure::Malformed,
            "three",
        ),
    ];
    for (name, text, want, words) in cases {
        let supplied = oauth_lifecycle::dialect::assertion::from_fn("platform", move |_| {
            Assertion::new(text.clone())
        });
        let dialect = Standard::builder(TOKEN_URL, CLIENT)
            .client_assertion(supplied)
            .build()
            .unwrap();
        let mut driver = driver_with(dialect);
        match driver.login(NOW) {
            Err(Misuse::NoAssertion { kind, reason, .. }) => {
                assert_eq!(kind, want, "{name}");
                assert!(reason.contains(words), "{name}: {reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

/// The JWT bearer grant: each login presents a fresh assertion issued by the configured
/// issuer about the subject, for the token endpoint; renewal is a new login.
#[test]
fn the_jwt_bearer_grant_logs_in_with_a_fresh_assertion_each_time() {
    let mint = Arc::new(Mint::default());
    let dialect = Standard::builder(TOKEN_URL, CLIENT)
        .jwt_bearer(Arc::clone(&mint), "robot@example.com", "user@example.com")
        .scope("api")
        .assertion_lifetime(Duration::seconds(30))
        .build()
        .unwrap();
    let mut driver = driver_with(dialect);
    let mut now = NOW;
    let mut jtis = HashSet::new();
    for round in 0..3 {
        driver.handle_timeout(now);
        let login = collect(&mut driver).only_request();
        assert_eq!(
            field(&login, "grant_type").as_deref(),
            Some(JWT_BEARER_GRANT)
        );
        assert_eq!(field(&login, "scope").as_deref(), Some("api"));
        assert!(field(&login, "client_assertion").is_none());
        let claims = claims_in(&login, "assertion");
        assert_eq!(claims["iss"], "robot@example.com");
        assert_eq!(claims["sub"], "user@example.com");
        assert_eq!(claims["aud"], TOKEN_URL);
        assert_eq!(claims["exp"], now.unix_timestamp() + 30);
        assert!(jtis.insert(claims["jti"].as_str().unwrap().to_owned()));
        let grant = r#"{"access_token":"at","token_type":"Bearer","expires_in":600}"#;
        driver
            .handle_response(login.id(), &reply(200, grant), now)
            .unwrap();
        let drained = collect(&mut driver);
        assert!(drained.events.iter().any(|event| matches!(
            event,
            Event::TokenIssued { renewal, .. } if *renewal == (round > 0)
        )));
        now = drained.deadline.expect("renewal is scheduled");
        assert!(now < NOW + Duration::seconds(600) * (round + 1));
    }
}

/// The audience follows the configured rule, and a lifetime out of bounds, an issuer
/// audience without an issuer, or a JWT method without a source are configuration
/// errors.
#[test]
fn the_audience_and_lifetime_are_configured_and_bounded() {
    let mint = Arc::new(Mint::default());
    for (audience, expected) in [
        (AssertionAudience::Issuer, "http://127.0.0.1"),
        (
            AssertionAudience::Custom("https://aud.example".into()),
            "https://aud.example",
        ),
    ] {
        let dialect = builder(&mint)
            .issuer(
                "http://127.0.0.1",
                oauth_lifecycle::dialect::authorization::IssParameter::IfPresent,
            )
            .assertion_audience(audience)
            .build()
            .unwrap();
        let mut driver = driver_with(dialect);
        driver.handle_timeout(NOW);
        let login = collect(&mut driver).only_request();
        assert_eq!(claims_in(&login, "client_assertion")["aud"], expected);
    }
    let refusals = [
        builder(&mint).assertion_lifetime(Duration::seconds(4)),
        builder(&mint).assertion_lifetime(Duration::hours(2)),
        builder(&mint).assertion_audience(AssertionAudience::Issuer),
        Standard::builder(TOKEN_URL, CLIENT).client_auth(ClientAuth::PrivateKeyJwt),
    ];
    for refused in refusals {
        assert!(
            matches!(refused.build(), Err(ConfigError::InvalidSetting { .. })),
            "refused"
        );
    }
}

/// The provider settings: each JWT configuration needs its source, the file settings
/// are refused without a use for them, and one source cannot serve both the grant and
/// the client.
#[test]
fn settings_configure_assertions_and_refuse_what_does_not_fit() {
    let mint: Arc<dyn AssertionSource> = Arc::new(Mint::default());
    let secret_mint: Arc<dyn AssertionSource> = Arc::new(Mint {
        method: Some(AssertionMethod::ClientSecretJwt),
        ..Mint::default()
    });
    let base = || {
        Settings::new()
            .with("token_url", TOKEN_URL)
            .with("client_id", CLIENT)
    };
    let cases: Vec<(&str, Settings<'_>, Result<ClientAuth, &str>)> = vec![
        (
            "private-key-jwt",
            base()
                .with("client_auth", "private-key-jwt")
                .with("private_key_file", "/k.pem")
                .with_assertion_source(Arc::clone(&mint)),
            Ok(ClientAuth::PrivateKeyJwt),
        ),
        (
            "client-secret-jwt",
            base()
                .with("client_auth", "client-secret-jwt")
                .with("client_secret", "a-secret")
                .with_assertion_source(Arc::clone(&secret_mint)),
            Ok(ClientAuth::ClientSecretJwt),
        ),
        (
            "jwt-bearer",
            base()
                .with("grant", "jwt-bearer")
                .with("assertion_issuer", "robot")
                .with("assertion_subject", "robot")
                .with("client_assertion_file", "/token")
                .with_assertion_source(Arc::clone(&mint)),
            Ok(ClientAuth::Basic),
        ),
        (
            "no source",
            base().with("client_auth", "private-key-jwt"),
            Err("missing setting `private_key_file`"),
        ),
        (
            "no secret",
            base().with("client_auth", "client-secret-jwt"),
            Err("missing setting `client_secret`"),
        ),
        (
            "a source of another method",
            base()
                .with("client_auth", "client-secret-jwt")
                .with_assertion_source(Arc::clone(&mint)),
            Err("serves another method"),
        ),
        (
            "a key file without a use",
            base().with("private_key_file", "/k.pem"),
            Err("`private_key_file` is used only when `client_auth` is `private-key-jwt`"),
        ),
        (
            "both",
            base()
                .with("client_auth", "private-key-jwt")
                .with("grant", "jwt-bearer")
                .with("assertion_issuer", "robot")
                .with("assertion_subject", "robot")
                .with_assertion_source(Arc::clone(&mint)),
            Err("two assertion sources"),
        ),
        (
            "a lifetime that is not a number",
            base()
                .with("client_auth", "private-key-jwt")
                .with("assertion_lifetime", "soon")
                .with_assertion_source(Arc::clone(&mint)),
            Err("whole number of seconds"),
        ),
        (
            "the bearer grant without its issuer",
            base()
                .with("grant", "jwt-bearer")
                .with("assertion_subject", "robot")
                .with_assertion_source(Arc::clone(&mint)),
            Err("assertion_issuer"),
        ),
    ];
    for (name, settings, want) in cases {
        match (Standard::configure(&settings), want) {
            (Ok(dialect), Ok(auth)) => assert_eq!(dialect.client_auth(), auth, "{name}"),
            (Err(error), Err(words)) => {
                assert!(error.to_string().contains(words), "{name}: {error}")
            }
            (Ok(_), Err(words)) => panic!("{name}: configured, wanted {words}"),
            (Err(error), Ok(_)) => panic!("{name}: {error}"),
        }
    }
}

/// No fragment of an assertion appears in anything the session shows: the request's
/// `Debug`, a server's error quoting it, the events and status, a redacted snapshot.
#[test]
fn no_assertion_is_ever_shown() {
    let mint = Arc::new(Mint::default());
    let mut driver = driver_with(builder(&mint).build().unwrap());
    driver.handle_timeout(NOW);
    let login = collect(&mut driver).only_request();
    let assertion = field(&login, "client_assertion").unwrap();
    let quoted = format!(
        r#"{{"error":"invalid_client","error_description":"assertion {assertion} was replayed"}}"#
    );
    driver
        .handle_response(login.id(), &reply(401, &quoted), NOW)
        .unwrap();
    let drained = collect(&mut driver);
    let mut shown = format!("{login:?} {:?} {:?}", drained.events, driver.status());
    for event in &drained.events {
        if let Event::Rejected { error } | Event::RetryScheduled { error, .. } = event {
            shown.push_str(&error.to_string());
        }
    }
    shown.push_str(&serde_json::to_string(&driver.session().snapshot_redacted()).unwrap());
    shown.push_str(&format!("{driver:?}"));
    for part in assertion.split('.') {
        assert!(
            !shown.contains(part),
            "a fragment of the assertion in {shown}"
        );
    }
    assert!(shown.contains("[redacted]"), "{shown}");
    assert!(!shown.contains("never-sent-client-secret"));
}

/// A person's login whose request cannot carry its client assertion: the device
/// authorization is refused with the reason and nothing is sent; a code whose exchange
/// cannot carry one is never sent, and the login ends as lost.
#[test]
fn a_persons_login_without_an_assertion_sends_nothing() {
    let mint = Arc::new(Mint::default());
    let down = || {
        Some(AssertionError::Unavailable {
            reason: "the signer is down".into(),
        })
    };

    let device = builder(&mint).grant(Grant::DeviceCode).build().unwrap();
    let mut driver = driver_with(device);
    mint.fail_with(down());
    match driver.authorize_device(NOW) {
        Err(Misuse::NoAssertion { kind, reason, .. }) => {
            assert_eq!(kind, AssertionFailure::Unavailable);
            assert!(reason.contains("the signer is down"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(collect(&mut driver).requests.is_empty());
    mint.fail_with(None);
    driver
        .authorize_device(NOW)
        .expect("the login starts once it can");
    assert_eq!(collect(&mut driver).requests.len(), 1);

    let code = builder(&mint)
        .grant(Grant::AuthorizationCode)
        .build()
        .unwrap();
    let request = code
        .authorization_request_for("http://127.0.0.1:8765/callback")
        .unwrap()
        .build(&mut std::array::from_fn(|i| i as u8))
        .unwrap();
    let state = request.state().to_owned();
    let mut driver = driver_with(code);
    driver.authorize(request, NOW).unwrap();
    collect(&mut driver);
    mint.fail_with(down());
    let refused = driver
        .handle_redirect(&format!("/callback?code=the-code&state={state}"), NOW)
        .unwrap_err();
    assert!(
        matches!(
            refused,
            oauth_lifecycle::RedirectRefused::Misuse(Misuse::NoAssertion { .. })
        ),
        "{refused:?}"
    );
    let drained = collect(&mut driver);
    assert!(drained.requests.is_empty(), "the code is never sent");
    assert!(drained.events.iter().any(|event| matches!(
        event,
        Event::PersonLoginEnded {
            error: Error::PersonLogin {
                ended: Some(oauth_lifecycle::PersonLoginEnd::Lost),
                ..
            }
        }
    )));
}
