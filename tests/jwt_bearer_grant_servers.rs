//! The JWT bearer grant (RFC 7523 §2.1) against a verifier the crate did not write:
//! Authlib's `JWTBearerGrant` in a small Flask app on 127.0.0.1
//! (`tests/peers/authlib/server.py`, `testkit/src/authlib_server.rs`), the keys generated
//! at each start. The session runs in a `Driver` over real sockets (the testkit's drain
//! loop, `OverHttp`), and every assertion it sent is read back from the request bodies as
//! they left.
//!
//! ES256 and RS256 log in, renew before expiry with a new login carrying a new assertion,
//! and revoke. Authlib's refusals (a key it does not trust, an audience it is not, an
//! expired assertion, and EdDSA, which its JOSE library does not accept by default) are
//! each `Error::Reauthenticate` with `invalid_grant`, and the session, left alone for a
//! simulated hour afterwards, tries again only as slowly as `RejectedLoginRetry` says.
//! `private_key_jwt` client authentication is checked by Authlib's
//! `JWTBearerClientAssertion` on a client credentials login and its revocation.
//!
//! Time is the real clock where Authlib must accept an assertion, because its clock is.
//! After a refusal the session is driven on a simulated clock, jumping to each of its
//! deadlines; its retries then carry times Authlib's clock has not reached (or, for the
//! expired assertion, long passed), so they are refused too, which is what is measured:
//! how often a refused session comes back.

mod support;

use std::collections::HashSet;
use support::claims::{self, claim_str, claim_time};
use support::refused::{self, INVALID_GRANT};

use oauth_lifecycle::dialect::assertion::{
    Assertion, AssertionAudience, DecodedAssertion, CLIENT_ASSERTION_TYPE, JWT_BEARER_GRANT,
};
use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Driver, Event, Policy, Purpose, TokenKind};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use oauth_lifecycle_testkit::assertion_clients::{client_assertion, OverHttp};
use oauth_lifecycle_testkit::authlib_server::{
    AuthlibServer, GrantIssuer, AUTHLIB_PKJWT_CLIENT, AUTHLIB_SUBJECT,
};
use oauth_lifecycle_testkit::{drain, eventually, Drained};
use time::{Duration, UtcDateTime};

/// The lifetime the sessions here give their assertions: not the default (60 s), so that
/// `exp - iat` shows the configuration was followed.
const LIFETIME: Duration = Duration::seconds(30);

/// How long the access tokens live in the renewal tests: short, since renewal happens on
/// the real clock, which is the one Authlib checks the assertions against.
const SHORT_TTL: u32 = 3;

fn now() -> UtcDateTime {
    UtcDateTime::now()
}

/// The default policy, except that renewal starts halfway through a token's life, and
/// may once the token is a second old (the default waits 5 s, longer than
/// [`SHORT_TTL`]): a [`SHORT_TTL`] token is renewed about 1.5 s before it expires, a
/// margin a busy machine keeps.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.refresh_fraction = 0.5;
    policy.min_renewal_interval = Duration::SECOND;
    policy
}

fn driver(dialect: Standard) -> Driver<Standard> {
    Driver::new(dialect, policy()).expect("a valid policy")
}

fn field(request: &oauth_lifecycle::http::Request<Vec<u8>>, name: &str) -> Option<String> {
    form_urlencoded::parse(request.body())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The grant's `assertion` a request carries, decoded (the signature is Authlib's to
/// check).
#[track_caller]
fn grant_assertion(request: &oauth_lifecycle::http::Request<Vec<u8>>) -> DecodedAssertion {
    let compact = field(request, "assertion").expect("the request carries `assertion`");
    Assertion::new(compact)
        .expect("a JWT")
        .decode()
        .expect("a JWT decodes")
}

/// Checks what a grant assertion says: signed with `issuer`'s algorithm and key id, by
/// the issuer about [`AUTHLIB_SUBJECT`], for `audience`, valid for [`LIFETIME`] from
/// `iat`; returns its `jti`.
#[track_caller]
fn check_grant_assertion(
    assertion: &DecodedAssertion,
    issuer: &GrantIssuer,
    audience: &str,
) -> String {
    claims::check(
        assertion,
        &claims::Expected {
            algorithm: issuer.algorithm.as_str(),
            key_id: Some(&issuer.key_id),
            issuer: &issuer.issuer,
            subject: AUTHLIB_SUBJECT,
            audience,
            lifetime: LIFETIME,
        },
    )
}

/// The one token a drain's login issued: when it expires (the session's clock), whether it
/// replaced a live one, and its secret.
#[track_caller]
fn issued_token(drained: &Drained) -> (UtcDateTime, bool, String) {
    let issued: Vec<_> = drained
        .events
        .iter()
        .filter_map(|event| match event {
            Event::TokenIssued {
                token,
                expires_at,
                via: Purpose::Login,
                renewal,
                ..
            } => Some((*expires_at, *renewal, token.secret().to_owned())),
            _ => None,
        })
        .collect();
    let [token] = &issued[..] else {
        panic!("one token issued: {:?}", drained.events);
    };
    token.clone()
}

/// Logs in with the grant as the issuer of `algorithm`, lets the session renew twice on
/// the real clock, waking it at its own deadlines, then revokes: every login is accepted,
/// each renewal is a new login sent before the token it replaces expires, and each carried
/// a fresh, well-formed assertion.
fn logs_in_renews_and_revokes(algorithm: Algorithm) {
    let server = AuthlibServer::start(SHORT_TTL, &[algorithm]);
    let issuer = server.issuer(algorithm);
    let mut http = OverHttp::new(&server.peer);
    let dialect = server
        .grant_builder(algorithm)
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    let mut session = driver(dialect);

    let at = now();
    session.handle_timeout(at);
    let login = drain(&mut session, &mut http, at);
    let (mut expires_at, renewal, token) = issued_token(&login);
    assert!(!renewal);
    assert!(server.token_active(&token));
    let mut tokens = vec![token];
    let mut sent_at = vec![at];
    let mut deadline = login.deadline.expect("a renewal is scheduled");
    for _ in 0..2 {
        assert!(deadline < expires_at, "renewal scheduled before expiry");
        let at = eventually("the session's renewal deadline", || {
            let at = now();
            (at >= deadline).then_some(at)
        });
        session.handle_timeout(at);
        let renewed = drain(&mut session, &mut http, at);
        assert_eq!(renewed.requests.len(), 1, "{:?}", renewed.events);
        assert_eq!(renewed.requests[0].purpose(), Purpose::Login);
        assert!(
            at < expires_at,
            "renewed at {at}, the token expiring at {expires_at}"
        );
        let (next_expiry, renewal, token) = issued_token(&renewed);
        assert!(renewal, "replaced a live token");
        assert!(server.token_active(&token));
        expires_at = next_expiry;
        tokens.push(token);
        sent_at.push(at);
        deadline = renewed.deadline.expect("a renewal is scheduled");
    }
    let distinct: HashSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), 3, "a new token per login");

    let at = now();
    session.revoke(at);
    let revoked = drain(&mut session, &mut http, at);
    assert_eq!(
        revoked.only_request().purpose(),
        Purpose::Revoke(TokenKind::Access)
    );
    assert!(!server.token_active(&tokens[2]), "revoked at Authlib");

    // Every login as it left: the grant, the public client named, no secret and no client
    // assertion, a fresh assertion formed when the request was.
    let logins = &http.sent[..3];
    let mut jtis = HashSet::new();
    for (request, at) in logins.iter().zip(&sent_at) {
        assert_eq!(
            field(request, "grant_type").as_deref(),
            Some(JWT_BEARER_GRANT)
        );
        assert_eq!(
            field(request, "client_id").as_deref(),
            Some(issuer.client_id.as_str())
        );
        assert_eq!(field(request, "client_secret"), None);
        assert!(client_assertion(request).is_none());
        assert!(request.headers().get("authorization").is_none());
        let assertion = grant_assertion(request);
        assert_eq!(claim_time(&assertion, "iat"), at.unix_timestamp());
        assert!(jtis.insert(check_grant_assertion(
            &assertion,
            issuer,
            &server.token_url()
        )));
    }
    assert_eq!(http.sent.len(), 4, "three logins and a revocation");
}

#[test]
fn the_grant_with_es256_logs_in_renews_before_expiry_and_revokes() {
    logs_in_renews_and_revokes(Algorithm::Es256);
}

#[test]
fn the_grant_with_rs256_logs_in_renews_before_expiry_and_revokes() {
    logs_in_renews_and_revokes(Algorithm::Rs256);
}

/// The refusal in `drained`: `Error::Reauthenticate`, 400 `invalid_grant`, retried by
/// itself later; returns when, and Authlib's description.
#[track_caller]
fn assert_refused(drained: &Drained) -> (UtcDateTime, String) {
    let (retry_at, failure) = refused::assert_refused(drained, INVALID_GRANT);
    (
        retry_at,
        failure.description().unwrap_or_default().to_owned(),
    )
}

/// Leaves a refused session alone for an hour: no storm
/// ([`refused::left_alone_for_an_hour`]), and a new assertion on every attempt.
#[track_caller]
fn left_alone_for_an_hour(
    session: &mut Driver<Standard>,
    http: &mut OverHttp<'_>,
    start: UtcDateTime,
    retry_at: UtcDateTime,
) {
    refused::left_alone_for_an_hour(session, http, &policy(), start, retry_at, INVALID_GRANT);
    let jtis: HashSet<_> = http
        .sent
        .iter()
        .map(|request| claim_str(&grant_assertion(request), "jti").to_owned())
        .collect();
    assert_eq!(jtis.len(), http.sent.len(), "a new assertion per attempt");
}

/// Logs in with `dialect` at `at` (the session's clock), expects Authlib's typed refusal,
/// checks the one assertion sent (as `issuer`'s, naming `audience`), and leaves the
/// session alone for an hour: no storm. Returns the assertion and Authlib's description.
fn refused_then_left_alone(
    server: &AuthlibServer,
    issuer: &GrantIssuer,
    dialect: Standard,
    at: UtcDateTime,
    audience: &str,
) -> (DecodedAssertion, String) {
    let mut http = OverHttp::new(&server.peer);
    let mut session = driver(dialect);
    session.handle_timeout(at);
    let refused = drain(&mut session, &mut http, at);
    let (retry_at, description) = assert_refused(&refused);
    let assertion = grant_assertion(refused.only_request().request());
    check_grant_assertion(&assertion, issuer, audience);
    left_alone_for_an_hour(&mut session, &mut http, at, retry_at);
    assert!(session.access_token(now()).is_none());
    (assertion, description)
}

/// A key Authlib does not trust for the issuer, under the trusted key's id: the signature
/// does not verify.
#[test]
fn a_key_the_server_does_not_trust_is_refused_without_a_storm() {
    let server = AuthlibServer::start(300, &[Algorithm::Es256]);
    let issuer = server.issuer(Algorithm::Es256);
    let (impostor, _pem) = JwtSigner::generate(Algorithm::Es256).expect("a key");
    let impostor = impostor.with_key_id(issuer.key_id.clone());
    let dialect = server
        .grant_builder_signed_by(Algorithm::Es256, impostor)
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    // Authlib gives no reason here: joserfc's BadSignatureError has no description.
    refused_then_left_alone(&server, issuer, dialect, now(), &server.token_url());
}

/// An audience Authlib is not: refused.
#[test]
fn a_wrong_audience_is_refused_without_a_storm() {
    const WRONG: &str = "http://127.0.0.1:1/wrong";
    let server = AuthlibServer::start(300, &[Algorithm::Es256]);
    let issuer = server.issuer(Algorithm::Es256);
    let dialect = server
        .grant_builder(Algorithm::Es256)
        .assertion_lifetime(LIFETIME)
        .assertion_audience(AssertionAudience::Custom(WRONG.to_owned()))
        .build()
        .expect("a valid configuration");
    let (_, description) = refused_then_left_alone(&server, issuer, dialect, now(), WRONG);
    assert!(description.contains("aud"), "{description}");
}

/// A session whose clock is two hours behind Authlib's: its assertion expired long before
/// Authlib reads it (`exp` plus Authlib's 60 s of leeway is past).
#[test]
fn an_expired_assertion_is_refused_without_a_storm() {
    let server = AuthlibServer::start(300, &[Algorithm::Es256]);
    let issuer = server.issuer(Algorithm::Es256);
    let dialect = server
        .grant_builder(Algorithm::Es256)
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    // The simulated hour ends an hour before Authlib's clock: every retry expired too.
    let behind = now() - Duration::hours(2);
    let (assertion, description) =
        refused_then_left_alone(&server, issuer, dialect, behind, &server.token_url());
    assert!(claim_time(&assertion, "exp") < now().unix_timestamp() - 60);
    assert!(description.contains("expired"), "{description}");
}

/// Authlib 1.9 verifies with joserfc's default algorithms (RS256, ES256, HS256): an EdDSA
/// assertion, though signed by the trusted key, is refused, as a typed verdict and without
/// a storm. A server configured with EdDSA allowed would accept it; Authlib's grant has no
/// setting for that.
#[test]
fn eddsa_is_refused_by_authlibs_default_algorithms_without_a_storm() {
    let server = AuthlibServer::start(300, &[Algorithm::EdDsa]);
    let issuer = server.issuer(Algorithm::EdDsa);
    let dialect = server
        .grant_builder(Algorithm::EdDsa)
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    let (_, description) =
        refused_then_left_alone(&server, issuer, dialect, now(), &server.token_url());
    assert!(description.contains("EdDSA"), "{description}");
}

/// `private_key_jwt` (ES256), checked by Authlib's `JWTBearerClientAssertion`: a client
/// credentials login and the revocation of its token, each authenticated by a fresh
/// assertion naming the token endpoint.
#[test]
fn private_key_jwt_logs_in_and_revokes() {
    let server = AuthlibServer::start(300, &[]);
    let mut http = OverHttp::new(&server.peer);
    let dialect = server
        .pkjwt_builder()
        .assertion_lifetime(LIFETIME)
        .build()
        .expect("a valid configuration");
    let mut session = driver(dialect);
    let at = now();
    session.handle_timeout(at);
    let login = drain(&mut session, &mut http, at);
    let (_, _, token) = issued_token(&login);
    assert!(server.token_active(&token));

    let at = now();
    session.revoke(at);
    let revoked = drain(&mut session, &mut http, at);
    assert!(
        matches!(revoked.events.last(), Some(Event::Revoked)),
        "{:?}",
        revoked.events
    );
    assert!(!server.token_active(&token), "revoked at Authlib");

    assert_eq!(http.sent.len(), 2);
    let mut jtis = HashSet::new();
    for request in &http.sent {
        assert_eq!(
            field(request, "client_assertion_type").as_deref(),
            Some(CLIENT_ASSERTION_TYPE)
        );
        assert!(request.headers().get("authorization").is_none());
        let assertion = client_assertion(request).expect("a client assertion");
        assert_eq!(assertion.header["alg"], "ES256");
        assert_eq!(claim_str(&assertion, "iss"), AUTHLIB_PKJWT_CLIENT);
        assert_eq!(claim_str(&assertion, "sub"), AUTHLIB_PKJWT_CLIENT);
        assert_eq!(claim_str(&assertion, "aud"), server.token_url());
        assert_eq!(
            claim_time(&assertion, "exp") - claim_time(&assertion, "iat"),
            LIFETIME.whole_seconds()
        );
        assert!(jtis.insert(claim_str(&assertion, "jti").to_owned()));
    }
    assert_eq!(
        field(&http.sent[0], "grant_type").as_deref(),
        Some("client_credentials")
    );
}
