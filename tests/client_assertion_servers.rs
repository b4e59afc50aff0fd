//! Client authentication by JWT assertion (RFC 7523 §2.2) against a real server on
//! 127.0.0.1: panva's oidc-provider, with `private_key_jwt` clients registered for RS256,
//! PS256, ES256 and EdDSA and a `client_secret_jwt` client for HS256, their keys generated
//! at each start (`testkit/src/assertion_clients.rs`). The session runs in a `Driver`
//! over real sockets (the testkit's drain loop, `OverHttp`), and every assertion it sent
//! is read back from the request bodies as they left.
//!
//! Each algorithm logs in (client credentials), refreshes and revokes. Every assertion is
//! fresh (its own `jti`), names the client as `iss` and `sub`, the token endpoint as
//! `aud` (on revocation too), and lives exactly the configured lifetime. The server's
//! refusals (a key it does not know, an expired assertion, a replayed `jti`, a wrong
//! `aud`) are each `Error::Rejected` with `invalid_client`, and the session, left alone
//! for a simulated hour afterwards, tries again only as slowly as
//! `RejectedLoginRetry` says. The issuer as `aud` is accepted.
//!
//! Time is the real clock where the server must accept an assertion, because the
//! server's is. After a refusal the session is driven on a simulated clock, jumping to
//! each of its deadlines; its retries then carry times the server's clock has not reached
//! (or, for the expired assertion, long passed), so they are refused too, which is what
//! is measured: how often a refused client comes back.

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use support::claims::{self, claim_time};
use support::refused::{self, INVALID_CLIENT};

use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionAudience, AssertionClaims, AssertionError, AssertionMethod,
    AssertionSource, DecodedAssertion, CLIENT_ASSERTION_TYPE,
};
use oauth_lifecycle::dialect::authorization::IssParameter;
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Driver, Event, Policy, Purpose, TokenKind};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use oauth_lifecycle_testkit::assertion_clients::{
    client_assertion, AssertionClient, AssertionServer, OverHttp,
};
use oauth_lifecycle_testkit::{drain, Drained};
use time::{Duration, UtcDateTime};

/// The lifetime the sessions here give their assertions: not the default (60 s), so that
/// `exp - iat` shows the configuration was followed.
const LIFETIME: Duration = Duration::seconds(30);

fn now() -> UtcDateTime {
    UtcDateTime::now()
}

/// The default policy, except that a reported 401 renews at once: the tests use a 401 to
/// make the session refresh (or log in again) against the server, in real time.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = Duration::ZERO;
    policy
}

fn driver(dialect: Standard) -> Driver<Standard> {
    Driver::new(dialect, policy()).expect("a valid policy")
}

/// A session adopted from a refresh token obtained elsewhere (the authorization code flow).
fn adopted(dialect: Standard, refresh_token: String) -> Driver<Standard> {
    Driver::from_session(oauth_lifecycle_testkit::adopted::adopted(
        dialect,
        policy(),
        refresh_token,
        now(),
    ))
}

fn issued(drained: &Drained, via: Purpose) -> bool {
    drained
        .events
        .iter()
        .any(|event| matches!(event, Event::TokenIssued { via: v, .. } if *v == via))
}

fn field(request: &oauth_lifecycle::http::Request<Vec<u8>>, name: &str) -> Option<String> {
    form_urlencoded::parse(request.body())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Checks what an assertion says: signed with the client's algorithm (and key id), about
/// and by the client, for `audience`, valid for [`LIFETIME`] from `iat`; returns its
/// `jti`.
#[track_caller]
fn check_assertion(
    assertion: &DecodedAssertion,
    client: &AssertionClient,
    audience: &str,
) -> String {
    claims::check(
        assertion,
        &claims::Expected {
            algorithm: client.algorithm.as_str(),
            key_id: client.key_id.as_deref(),
            issuer: &client.client_id,
            subject: &client.client_id,
            audience,
            lifetime: LIFETIME,
        },
    )
}

/// Logs in with client credentials, revokes that token, then adopts a minted refresh
/// token, refreshes with it and revokes both tokens: each step succeeds, and every
/// request carried a fresh, well-formed assertion.
fn login_refresh_and_revocation(algorithm: Algorithm) {
    let server = AssertionServer::start(&[algorithm]);
    let client = server.client(algorithm);
    let mut http = OverHttp::new(&server.peer);
    let dialect = || {
        client
            .builder(&server.peer)
            .assertion_lifetime(LIFETIME)
            .build()
            .expect("a valid configuration")
    };

    // Login: client credentials, authenticated by the assertion alone.
    let mut session = driver(dialect());
    let at = now();
    session.handle_timeout(at);
    let login = drain(&mut session, &mut http, at);
    assert!(issued(&login, Purpose::Login), "{:?}", login.events);
    let access = session
        .access_token(at)
        .expect("a token")
        .secret()
        .to_owned();
    assert!(server.peer.oidc_token_active(&access));
    let request = login.only_request();
    assert_eq!(
        field(request.request(), "client_assertion_type").as_deref(),
        Some(CLIENT_ASSERTION_TYPE)
    );
    assert_eq!(field(request.request(), "client_secret"), None);
    assert!(request.request().headers().get("authorization").is_none());
    let assertion = client_assertion(request.request()).expect("an assertion");
    assert_eq!(claim_time(&assertion, "iat"), at.unix_timestamp());

    // Revocation of the client credentials token.
    let at = now();
    session.revoke(at);
    let revoked = drain(&mut session, &mut http, at);
    assert!(
        revoked
            .events
            .iter()
            .any(|event| matches!(event, Event::Revoked)),
        "{:?}",
        revoked.events
    );
    assert!(!server.peer.oidc_token_active(&access), "revoked");

    // Refresh: a minted refresh token, presented because the API said 401.
    let minted = server.mint_refresh_token(algorithm);
    let mut session = adopted(dialect(), minted.clone());
    let at = now();
    let generation = session.session().generation();
    let _ = session.handle_unauthorized(generation, at);
    let refreshed = drain(&mut session, &mut http, at);
    assert!(
        issued(&refreshed, Purpose::Refresh),
        "{:?}",
        refreshed.events
    );
    let refresh = refreshed.only_request();
    assert_eq!(
        field(refresh.request(), "refresh_token").as_deref(),
        Some(minted.as_str())
    );
    let rotated = session
        .session()
        .tokens()
        .expect("tokens")
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();
    assert_ne!(rotated, minted, "oidc-provider rotates refresh tokens");

    // Revocation of both.
    let at = now();
    session.revoke(at);
    let revoked = drain(&mut session, &mut http, at);
    assert_eq!(
        revoked
            .requests
            .iter()
            .map(|request| request.purpose())
            .collect::<Vec<_>>(),
        [
            Purpose::Revoke(TokenKind::Refresh),
            Purpose::Revoke(TokenKind::Access)
        ]
    );
    assert!(
        matches!(revoked.events.last(), Some(Event::Revoked)),
        "{:?}",
        revoked.events
    );
    assert!(!server.peer.oidc_token_active(&rotated), "revoked");

    // Every request as it left: login, revocation, refresh, two revocations; each with
    // its own assertion, naming the token endpoint even at the revocation endpoint.
    assert_eq!(http.sent.len(), 5);
    let token_url = server.token_url();
    let mut jtis = HashSet::new();
    for (request, assertion) in http.sent.iter().zip(http.client_assertions()) {
        let assertion = assertion.unwrap_or_else(|| panic!("no assertion: {}", request.uri()));
        assert!(jtis.insert(check_assertion(&assertion, client, &token_url)));
    }
    assert_eq!(jtis.len(), 5, "a fresh jti per request");
}

#[test]
fn private_key_jwt_rs256_logs_in_refreshes_and_revokes() {
    login_refresh_and_revocation(Algorithm::Rs256);
}

#[test]
fn private_key_jwt_ps256_logs_in_refreshes_and_revokes() {
    login_refresh_and_revocation(Algorithm::Ps256);
}

#[test]
fn private_key_jwt_es256_logs_in_refreshes_and_revokes() {
    login_refresh_and_revocation(Algorithm::Es256);
}

#[test]
fn private_key_jwt_eddsa_logs_in_refreshes_and_revokes() {
    login_refresh_and_revocation(Algorithm::EdDsa);
}

#[test]
fn client_secret_jwt_hs256_logs_in_refreshes_and_revokes() {
    login_refresh_and_revocation(Algorithm::Hs256);
}

/// The refusal in `drained`: `Error::Rejected`, 401 `invalid_client`, retried by itself
/// later; returns when.
#[track_caller]
fn assert_refused(drained: &Drained) -> UtcDateTime {
    refused::assert_refused(drained, INVALID_CLIENT).0
}

/// Leaves a refused session alone for an hour: no storm ([`refused::left_alone_for_an_hour`]).
#[track_caller]
fn left_alone_for_an_hour(
    session: &mut Driver<Standard>,
    http: &mut OverHttp<'_>,
    start: UtcDateTime,
    retry_at: UtcDateTime,
) {
    refused::left_alone_for_an_hour(session, http, &policy(), start, retry_at, INVALID_CLIENT);
}

/// Logs `client` in with `dialect` at `at` (the session's clock), expects the server's
/// typed refusal, checks the one assertion sent (naming `audience`), and leaves the
/// session alone for an hour: no storm. Returns the assertion.
fn refused_then_left_alone(
    server: &AssertionServer,
    client: &AssertionClient,
    dialect: Standard,
    at: UtcDateTime,
    audience: &str,
) -> DecodedAssertion {
    let mut http = OverHttp::new(&server.peer);
    let mut session = driver(dialect);
    session.handle_timeout(at);
    let refused = drain(&mut session, &mut http, at);
    let retry_at = assert_refused(&refused);
    let assertion = client_assertion(refused.only_request().request()).expect("sent");
    check_assertion(&assertion, client, audience);
    left_alone_for_an_hour(&mut session, &mut http, at, retry_at);
    assertion
}

/// A key the server does not know, under the registered key's id (ES256), and a secret
/// it does not know (HS256): refused as `invalid_client`, and no storm.
#[test]
fn a_key_the_server_does_not_know_is_refused_without_a_storm() {
    let server = AssertionServer::start(&[Algorithm::Es256, Algorithm::Hs256]);
    let es256 = server.client(Algorithm::Es256);
    let (impostor, _pem) = JwtSigner::generate(Algorithm::Es256).expect("a key");
    let impostor = impostor.with_key_id(es256.key_id.clone().expect("a key id"));
    let wrong_secret =
        JwtSigner::client_secret("not-the-registered-secret-0123456789-abcdef").expect("a secret");
    for (client, source) in [
        (es256, impostor),
        (server.client(Algorithm::Hs256), wrong_secret),
    ] {
        let dialect = client
            .builder_signed_by(&server.peer, source)
            .assertion_lifetime(LIFETIME)
            .build()
            .expect("a valid configuration");
        refused_then_left_alone(&server, client, dialect, now(), &server.token_url());
    }
}

/// A session whose clock is two hours behind the server's: its assertion expired long
/// before the server reads it (`exp` plus oidc-provider's 15 s of tolerance is past).
#[test]
fn an_expired_assertion_is_refused_without_a_storm() {
    let server = AssertionServer::start(&[Algorithm::Es256]);
    let client = server.client(Algorithm::Es256);
    let dialect = client
        .builder(&server.peer)
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    // The simulated hour ends an hour before the server's clock: every retry expired too.
    let behind = now() - Duration::hours(2);
    let assertion = refused_then_left_alone(&server, client, dialect, behind, &server.token_url());
    assert!(claim_time(&assertion, "exp") < now().unix_timestamp() - 15);
}

/// Returns the same assertion for its first two requests, then fresh ones: the second
/// request replays the first one's `jti`.
#[derive(Debug)]
struct ReplayOnce {
    signer: Arc<JwtSigner>,
    first: Mutex<Option<String>>,
    calls: AtomicUsize,
}

impl AssertionSource for ReplayOnce {
    fn method(&self) -> AssertionMethod {
        self.signer.method()
    }

    fn assertion(&self, claims: &AssertionClaims) -> Result<Assertion, AssertionError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call >= 2 {
            return self.signer.assertion(claims);
        }
        let mut first = self.first.lock().expect("not poisoned");
        if first.is_none() {
            let assertion = self.signer.assertion(claims)?;
            *first = Some(assertion.into_compact().to_string());
        }
        Assertion::new(first.clone().expect("just set"))
    }
}

/// The first assertion logs in; the same assertion again (a renewal after a 401) is
/// refused by the server's replay cache.
#[test]
fn a_replayed_jti_is_refused_without_a_storm() {
    let server = AssertionServer::start(&[Algorithm::Es256]);
    let client = server.client(Algorithm::Es256);
    let mut http = OverHttp::new(&server.peer);
    let source = ReplayOnce {
        signer: client.signer(),
        first: Mutex::new(None),
        calls: AtomicUsize::new(0),
    };
    let dialect = client
        .builder_signed_by(&server.peer, source)
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    let mut session = driver(dialect);
    let at = now();
    session.handle_timeout(at);
    let login = drain(&mut session, &mut http, at);
    assert!(issued(&login, Purpose::Login), "{:?}", login.events);

    let at = now();
    let generation = session.session().generation();
    let _ = session.handle_unauthorized(generation, at);
    let refused = drain(&mut session, &mut http, at);
    let retry_at = assert_refused(&refused);
    let assertions: Vec<_> = http
        .client_assertions()
        .into_iter()
        .map(|assertion| assertion.expect("sent"))
        .collect();
    let [first, second] = &assertions[..] else {
        panic!("two requests expected: {assertions:?}");
    };
    assert_eq!(
        check_assertion(first, client, &server.token_url()),
        check_assertion(second, client, &server.token_url()),
        "the same jti, twice"
    );
    left_alone_for_an_hour(&mut session, &mut http, at, retry_at);
}

/// An audience the server is not: refused.
#[test]
fn a_wrong_audience_is_refused_without_a_storm() {
    const WRONG: &str = "http://127.0.0.1:1/wrong";
    let server = AssertionServer::start(&[Algorithm::Es256]);
    let client = server.client(Algorithm::Es256);
    let dialect = client
        .builder(&server.peer)
        .assertion_lifetime(LIFETIME)
        .assertion_audience(AssertionAudience::Custom(WRONG.to_owned()))
        .build()
        .expect("a valid configuration");
    refused_then_left_alone(&server, client, dialect, now(), WRONG);
}

/// The issuer identifier as `aud`, on the login and the revocation alike: accepted.
#[test]
fn the_issuer_as_audience_is_accepted() {
    let server = AssertionServer::start(&[Algorithm::EdDsa]);
    let client = server.client(Algorithm::EdDsa);
    let mut http = OverHttp::new(&server.peer);
    let dialect = client
        .builder(&server.peer)
        .assertion_lifetime(LIFETIME)
        .issuer(server.issuer(), IssParameter::IfPresent)
        .assertion_audience(AssertionAudience::Issuer)
        .build()
        .expect("a valid configuration");
    let mut session = driver(dialect);
    let at = now();
    session.handle_timeout(at);
    let login = drain(&mut session, &mut http, at);
    assert!(issued(&login, Purpose::Login), "{:?}", login.events);
    let at = now();
    session.revoke(at);
    let revoked = drain(&mut session, &mut http, at);
    assert!(
        matches!(revoked.events.last(), Some(Event::Revoked)),
        "{:?}",
        revoked.events
    );
    let assertions = http.client_assertions();
    assert_eq!(assertions.len(), 2);
    let jtis: HashSet<_> = assertions
        .iter()
        .map(|assertion| {
            check_assertion(assertion.as_ref().expect("sent"), client, server.issuer())
        })
        .collect();
    assert_eq!(jtis.len(), 2);
}
