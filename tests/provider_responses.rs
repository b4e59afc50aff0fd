//! The providers' documented responses: each example body parses to the expected token
//! set, expiries and extras, and each documented error status leads to the right decision.

use oauth_lifecycle::dialect::{
    Convercus, ConvercusLegacy, ConvirzaUser, ConvirzaV2, ConvirzaV3, Dialect, Environment,
    TokenLocation,
};
use oauth_lifecycle::error::RetryAfter;
use oauth_lifecycle::{
    Active, Error, Expiring, LoginOutcome, Policy, RenewOutcome, Session, Step, TokenSet,
    WaitReason,
};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-03-30 12:00:00);

const V2_BODY: &str = r#"{
    "access_token": "946e347b-48ce-41d1-aae6-756ddc552d18",
    "refresh_token": "e46d437e-346b-4de4-a2a3-5f4b610cdfe1",
    "expires_in": 3600,
    "status": "success",
    "token_type": "Bearer"
}"#;

const V3_BODY: &str = r#"{
    "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbklkIjoiYWJjZDEyMzQtZWY1Ni03ODkwLWFiY2QtMTIzNDU2Nzg5MGFiIiwiaWF0IjoxNzA5NTU1NTU1LCJleHAiOjE3MDk1OTg3NTV9.xyz123",
    "frontend_token": "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6",
    "refresh_token": "xyz789refresh012345678901234567890",
    "token_type": "Bearer",
    "expires_in": "2026-04-06T12:34:56.789Z",
    "refresh_expires_in": "2026-10-06T12:34:56.789Z",
    "user": {
        "user_id": 12345,
        "email": "user@example.com",
        "role_id": 2,
        "org_unit_id": 1001
    }
}"#;

// The document elides the access token as `eyJhbGc…`; an ellipsis is no RFC 6750
// `b64token` (and is refused, as any token that cannot travel in a header is), so the
// fixture elides it with ASCII dots.
const KEYCLOAK_CLIENT_CREDENTIALS_BODY: &str = r#"{
  "access_token": "eyJhbGc...",
  "expires_in": 1800,
  "refresh_expires_in": 0,
  "token_type": "Bearer",
  "id_token": "eyJhbGci…",
  "not-before-policy": 0,
  "scope": "openid profile userId authorities organization partnerId sub Source email"
}"#;

const KEYCLOAK_PASSWORD_BODY: &str = r#"{
  "access_token": "eyJhbGc...",
  "expires_in": 1800,
  "refresh_expires_in": 604799,
  "refresh_token": "eyJhbGc...",
  "token_type": "Bearer",
  "id_token": "eyJhbGc...",
  "not-before-policy": 0,
  "session_state": "683...",
  "scope": "openid sub authorities Source profile organization email"
}"#;

fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn v2() -> ConvirzaV2 {
    ConvirzaV2::builder("system", "secret", "user@convirza.com", "pw")
        .build()
        .unwrap()
}

fn v3() -> ConvirzaV3 {
    ConvirzaV3::builder("user@example.com", "pw")
        .build()
        .unwrap()
}

fn keycloak(password: bool) -> Convercus {
    let builder = Convercus::builder("abc", Environment::Staging, "secret");
    if password {
        builder.password("user", "pw")
    } else {
        builder
    }
    .build()
    .unwrap()
}

fn legacy(location: TokenLocation) -> ConvercusLegacy {
    ConvercusLegacy::builder("ORG", "user", "pw", Environment::Staging)
        .token_location(location)
        .build()
        .unwrap()
}

/// Logs in and answers with `response` at `NOW`.
fn login<D: Dialect>(dialect: D, response: &http::Response<Vec<u8>>) -> LoginOutcome<D> {
    let (session, request) = Session::new(dialect, Policy::default())
        .unwrap()
        .login(NOW)
        .unwrap();
    session.on_response(request.id(), response, NOW).unwrap()
}

fn logged_in<D: Dialect>(dialect: D, body: &str) -> Session<Active, D> {
    match login(dialect, &response(200, body)) {
        LoginOutcome::LoggedIn(session) => session,
        LoginOutcome::Failed(_, error) => panic!("the documented body failed: {error}"),
    }
}

/// The login's error, and whether the session treats it as a rejection: halted, or
/// retried only at the slow pace of rejections (`Policy::rejected_login_retry`).
fn login_error<D: Dialect>(dialect: D, response: &http::Response<Vec<u8>>) -> (Error, bool) {
    match login(dialect, response) {
        LoginOutcome::LoggedIn(_) => panic!("an error response logged in"),
        LoginOutcome::Failed(session, error) => {
            let rejected = matches!(session.wait_reason(), Some(WaitReason::Rejected { .. }));
            (error, session.halted().is_some() || rejected)
        }
    }
}

/// Logs in with `body`, lets renewal come due (at the returned moment), and answers the
/// refresh with `response`.
fn refresh<D: Dialect>(
    dialect: D,
    body: &str,
    response: &http::Response<Vec<u8>>,
) -> (Session<Expiring, D>, Error, TokenSet<D::Extra>, UtcDateTime) {
    let active = logged_in(dialect, body);
    let before = active.tokens().clone();
    let due = active.refresh_at();
    let Step::Next(expiring) = active.on_timeout(due) else {
        panic!("renewal is due at the refresh moment");
    };
    let (refreshing, request) = expiring.refresh(due).unwrap();
    assert_eq!(request.purpose(), oauth_lifecycle::Purpose::Refresh);
    match refreshing.on_response(request.id(), response, due).unwrap() {
        RenewOutcome::Failed(session, error) => (session, error, before, due),
        RenewOutcome::Renewed(..) => panic!("an error response renewed"),
    }
}

#[test]
fn convirza_v2_example_response_parses() {
    let session = logged_in(v2(), V2_BODY);
    let tokens = session.tokens();
    assert_eq!(
        tokens.access_token(),
        "946e347b-48ce-41d1-aae6-756ddc552d18"
    );
    assert_eq!(
        tokens.refresh_token().unwrap().secret(),
        "e46d437e-346b-4de4-a2a3-5f4b610cdfe1"
    );
    assert_eq!(tokens.expires_at(), NOW + Duration::hours(1));
    assert_eq!(tokens.refresh_expires_at(), None);
}

#[test]
fn convirza_v2_error_statuses() {
    let invalid_grant =
        r#"{"error":"invalid_grant","error_description":"Invalid user credentials"}"#;
    let (error, halted) = login_error(v2(), &response(400, invalid_grant));
    assert!(
        matches!(error, Error::Reauthenticate { .. }) && halted,
        "{error:?}"
    );
    let (error, halted) = login_error(v2(), &response(401, r#"{"error":"invalid_client"}"#));
    assert!(
        matches!(error, Error::Rejected { .. }) && halted,
        "{error:?}"
    );
    let (error, halted) = login_error(v2(), &response(500, ""));
    let retry_at = error.retry_at().expect("a temporary failure");
    assert!(
        retry_at > NOW && retry_at <= NOW + Duration::seconds(1),
        "{retry_at}"
    );
    assert!(!halted);

    // 429 with Retry-After: honoured; without: a whole budget window.
    let mut limited = response(429, "");
    limited
        .headers_mut()
        .insert("retry-after", "17".parse().unwrap());
    let (error, _) = login_error(v2(), &limited);
    assert!(matches!(error, Error::Throttled { .. }));
    assert_eq!(error.retry_at(), Some(NOW + Duration::seconds(17)));
    assert_eq!(
        error.failure().and_then(|f| f.retry_after()),
        Some(RetryAfter::Seconds(17))
    );
    let (error, _) = login_error(v2(), &response(429, ""));
    assert_eq!(error.retry_at(), Some(NOW + Duration::seconds(61)));

    // A 429 on refresh keeps the still-valid token.
    let (session, error, before, due) = refresh(v2(), V2_BODY, &response(429, ""));
    assert!(matches!(error, Error::Throttled { .. }));
    assert_eq!(session.retry_at(), Some(due + Duration::seconds(61)));
    assert_eq!(
        session.access_token(due).map(|t| t.secret()),
        Some(before.access_token())
    );
}

#[test]
fn convirza_v3_example_response_parses_with_absolute_expiries_and_user() {
    let session = logged_in(v3(), V3_BODY);
    let tokens = session.tokens();
    assert!(tokens.access_token().starts_with("eyJhbGciOiJIUzI1NiIs"));
    assert_eq!(
        tokens.refresh_token().unwrap().secret(),
        "xyz789refresh012345678901234567890"
    );
    let expires = utc_datetime!(2026-04-06 12:34:56.789);
    assert_eq!(tokens.expires_at(), expires);
    assert_eq!(
        tokens.refresh_expires_at(),
        Some(utc_datetime!(2026-10-06 12:34:56.789))
    );
    let extra = tokens.extra();
    let user: &ConvirzaUser = extra.user.as_ref().expect("the user object");
    assert_eq!(
        (
            user.user_id,
            user.email.as_str(),
            user.role_id,
            user.org_unit_id
        ),
        (12345, "user@example.com", 2, 1001)
    );
    assert_eq!(
        extra.frontend_token.as_deref(),
        Some("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6")
    );
    let shown = format!("{tokens:?}");
    assert!(
        !shown.contains("a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"),
        "{shown}"
    );

    // The server's clock runs two minutes ahead: its timestamps are corrected.
    let mut dated = response(200, V3_BODY);
    let server_now = httpdate::fmt_http_date(
        std::time::UNIX_EPOCH
            + std::time::Duration::from_secs((NOW + Duration::minutes(2)).unix_timestamp() as u64),
    );
    dated
        .headers_mut()
        .insert("date", server_now.parse().unwrap());
    let LoginOutcome::LoggedIn(session) = login(v3(), &dated) else {
        panic!("the dated body failed");
    };
    assert_eq!(
        session.tokens().expires_at(),
        expires - Duration::minutes(2)
    );

    // Timestamps without fraction or with an offset.
    for (stamp, expected) in [
        ("2026-04-06T12:34:56Z", utc_datetime!(2026-04-06 12:34:56)),
        (
            "2026-04-06T14:34:56+02:00",
            utc_datetime!(2026-04-06 12:34:56),
        ),
        ("2026-04-06T12:34:56", utc_datetime!(2026-04-06 12:34:56)),
    ] {
        let body = V3_BODY.replace("2026-04-06T12:34:56.789Z", stamp);
        assert_eq!(
            logged_in(v3(), &body).tokens().expires_at(),
            expected,
            "{stamp}"
        );
    }
}

#[test]
fn convirza_v3_error_statuses() {
    let (error, halted) = login_error(v3(), &response(401, r#"{"message":"Invalid credentials"}"#));
    assert!(
        matches!(error, Error::Reauthenticate { .. }) && halted,
        "{error:?}"
    );
    let (error, halted) = login_error(v3(), &response(400, r#"{"message":"email is required"}"#));
    assert!(
        matches!(error, Error::Rejected { .. }) && halted,
        "{error:?}"
    );
    let (error, halted) = login_error(v3(), &response(500, r#"{"message":"oops"}"#));
    assert!(matches!(error, Error::Retry { .. }) && !halted, "{error:?}");

    // A refused refresh: the spent token is dropped and a login follows at once.
    for status in [400, 401] {
        let (session, error, before, due) = refresh(
            v3(),
            V3_BODY,
            &response(status, r#"{"message":"Invalid refresh token"}"#),
        );
        assert!(matches!(error, Error::Reauthenticate { .. }), "{error:?}");
        assert!(session.tokens().refresh_token().is_none());
        assert_eq!(session.retry_at(), None);
        assert!(session.halted().is_none());
        assert_eq!(
            session.access_token(due).map(|t| t.secret()),
            Some(before.access_token())
        );
        let (_, next) = session.refresh(due).unwrap();
        assert_eq!(next.purpose(), oauth_lifecycle::Purpose::Login);
    }
    // A 500 on refresh: the single-use token is spent all the same; the next try logs in.
    let (session, error, _, _) = refresh(v3(), V3_BODY, &response(500, ""));
    assert!(matches!(error, Error::Retry { .. }));
    assert!(session.tokens().refresh_token().is_none());
}

#[test]
fn convercus_example_responses_parse_with_keycloak_extras() {
    let machine = logged_in(keycloak(false), KEYCLOAK_CLIENT_CREDENTIALS_BODY);
    let tokens = machine.tokens();
    assert_eq!(tokens.access_token(), "eyJhbGc...");
    assert_eq!(tokens.expires_at(), NOW + Duration::seconds(1800));
    assert!(tokens.refresh_token().is_none());
    assert_eq!(tokens.refresh_expires_at(), None, "0 means none");
    assert_eq!(tokens.extra().id_token.as_deref(), Some("eyJhbGci…"));
    assert_eq!(tokens.extra().not_before_policy, Some(0));
    assert_eq!(tokens.extra().session_state, None);
    assert_eq!(
        tokens.scope(),
        Some("openid profile userId authorities organization partnerId sub Source email")
    );
    // Renewal at 80 % of validity, less at most 5 % jitter.
    let lifetime = Duration::seconds(1800);
    assert!(tokens.refresh_at() <= NOW + lifetime * 0.8);
    assert!(tokens.refresh_at() >= NOW + lifetime * 0.75);

    let user = logged_in(keycloak(true), KEYCLOAK_PASSWORD_BODY);
    let tokens = user.tokens();
    assert_eq!(tokens.refresh_token().unwrap().secret(), "eyJhbGc...");
    assert_eq!(
        tokens.refresh_expires_at(),
        Some(NOW + Duration::seconds(604_799))
    );
    assert_eq!(tokens.extra().session_state.as_deref(), Some("683..."));
    assert!(!format!("{tokens:?}").contains("eyJhbGc..."));
}

#[test]
fn convercus_error_statuses() {
    let invalid_grant = r#"{"error":"invalid_grant","error_description":"Token is not active"}"#;
    let (session, error, _, _) = refresh(
        keycloak(true),
        KEYCLOAK_PASSWORD_BODY,
        &response(400, invalid_grant),
    );
    assert!(matches!(error, Error::Reauthenticate { .. }));
    assert_eq!(session.retry_at(), None, "logs in again at once");
    let unauthorized =
        r#"{"error":"unauthorized_client","error_description":"Invalid client secret"}"#;
    let (error, halted) = login_error(keycloak(false), &response(401, unauthorized));
    assert!(matches!(error, Error::Rejected { .. }) && halted);
    let (error, halted) = login_error(keycloak(false), &response(503, ""));
    assert!(matches!(error, Error::Retry { .. }) && !halted);
}

#[test]
fn convercus_legacy_reads_the_token_where_configured() {
    let json = logged_in(
        legacy(TokenLocation::default()),
        r#"{"token":"legacy-token"}"#,
    );
    assert_eq!(json.tokens().access_token(), "legacy-token");
    assert_eq!(json.tokens().expires_at(), NOW + Duration::hours(24));
    assert!(json.tokens().refresh_token().is_none());
    assert!(json.refresh_at() <= NOW + Duration::hours(24) * 0.8);

    let nested = logged_in(
        legacy(TokenLocation::json_field("data.jwt")),
        r#"{"data":{"jwt":"nested-token"}}"#,
    );
    assert_eq!(nested.tokens().access_token(), "nested-token");

    let mut headed = response(200, "{}");
    headed
        .headers_mut()
        .insert("authorization", "Bearer header-token".parse().unwrap());
    let LoginOutcome::LoggedIn(session) = login(
        legacy(TokenLocation::header(http::header::AUTHORIZATION)),
        &headed,
    ) else {
        panic!("the header token was not read");
    };
    assert_eq!(session.tokens().access_token(), "header-token");

    // The token is missing where it was looked for: a typed, temporary error.
    let (error, halted) = login_error(
        legacy(TokenLocation::default()),
        &response(200, r#"{"jwt":"x"}"#),
    );
    assert!(matches!(error, Error::Retry { .. }) && !halted, "{error:?}");
    assert!(error.to_string().contains("access token"), "{error}");
}

#[test]
fn convercus_legacy_error_statuses() {
    let (error, halted) = login_error(legacy(TokenLocation::default()), &response(401, ""));
    assert!(matches!(error, Error::Reauthenticate { .. }) && halted);
    let (error, halted) = login_error(legacy(TokenLocation::default()), &response(500, ""));
    assert!(matches!(error, Error::Retry { .. }) && !halted);
}
