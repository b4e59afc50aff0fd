use base64::Engine as _;
use time::macros::utc_datetime;

use super::*;
use crate::store::system_time;
use crate::Emulator;
use http::header::{CONTENT_TYPE, DATE, RETRY_AFTER};

const NOW: UtcDateTime = utc_datetime!(2026-02-01 00:00:00);

fn post(path: &str, body: &str, basic: Option<(&str, &str)>) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1{path}"))
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        );
    if let Some((id, secret)) = basic {
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = format!("{}:{}", encode(id), encode(secret));
        let value = base64::engine::general_purpose::STANDARD.encode(credentials);
        builder = builder.header(AUTHORIZATION, format!("Basic {value}"));
    }
    builder.body(body.as_bytes().to_vec()).unwrap()
}

fn json_body(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(reply.body()).unwrap()
}

fn error_code(reply: &Reply) -> String {
    json_body(reply)["error"].as_str().unwrap().to_owned()
}

const CLIENT: Option<(&str, &str)> = Some(("emulated-client", "emulated-secret"));

fn server() -> StandardServer {
    StandardServer::new(StandardServerConfig::default())
}

fn password_login(server: &mut StandardServer) -> serde_json::Value {
    let reply = server.handle(
        &post(
            "/token",
            "grant_type=password&username=alice&password=alice-password",
            CLIENT,
        ),
        NOW,
    );
    assert_eq!(reply.status(), 200);
    json_body(&reply)
}

#[test]
fn client_credentials_with_basic_and_with_post() {
    let mut server = server();
    let reply = server.handle(
        &post("/token", "grant_type=client_credentials&scope=api", CLIENT),
        NOW,
    );
    assert_eq!(reply.status(), 200);
    let body = json_body(&reply);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "api");
    assert!(body.get("refresh_token").is_none());
    assert_eq!(reply.headers()[CACHE_CONTROL], "no-store");
    assert!(reply.headers().contains_key(DATE));

    let body =
        "grant_type=client_credentials&client_id=emulated-client&client_secret=emulated-secret";
    assert_eq!(
        server.handle(&post("/token", body, None), NOW).status(),
        200
    );
}

#[test]
fn client_authentication_failures() {
    let mut server = server();
    let reply = server.handle(
        &post(
            "/token",
            "grant_type=client_credentials",
            Some(("emulated-client", "wrong")),
        ),
        NOW,
    );
    assert_eq!(reply.status(), 401);
    assert_eq!(error_code(&reply), "invalid_client");
    assert!(reply.headers().contains_key(WWW_AUTHENTICATE));

    let both =
        "grant_type=client_credentials&client_id=emulated-client&client_secret=emulated-secret";
    let reply = server.handle(&post("/token", both, CLIENT), NOW);
    assert_eq!(
        (reply.status().as_u16(), error_code(&reply)),
        (400, "invalid_request".into())
    );

    let reply = server.handle(&post("/token", "grant_type=client_credentials", None), NOW);
    assert_eq!(reply.status(), 401);
}

#[test]
fn basic_credentials_are_form_decoded() {
    let mut config = StandardServerConfig::default();
    config
        .clients
        .push(EmulatedClient::new("id:with colon", "sécret+&="));
    let mut server = StandardServer::new(config);
    let reply = server.handle(
        &post(
            "/token",
            "grant_type=client_credentials",
            Some(("id:with colon", "sécret+&=")),
        ),
        NOW,
    );
    assert_eq!(reply.status(), 200);
}

#[test]
fn grant_errors() {
    let mut server = server();
    let bad = "grant_type=password&username=alice&password=nope";
    assert_eq!(
        error_code(&server.handle(&post("/token", bad, CLIENT), NOW)),
        "invalid_grant"
    );
    let missing = "grant_type=password&username=alice";
    assert_eq!(
        error_code(&server.handle(&post("/token", missing, CLIENT), NOW)),
        "invalid_request"
    );
    assert_eq!(
        error_code(&server.handle(&post("/token", "grant_type=magic", CLIENT), NOW)),
        "unsupported_grant_type"
    );

    let mut config = StandardServerConfig::default();
    config.clients[0].grants = vec!["client_credentials".into()];
    let mut limited = StandardServer::new(config);
    let login = "grant_type=password&username=alice&password=alice-password";
    assert_eq!(
        error_code(&limited.handle(&post("/token", login, CLIENT), NOW)),
        "unauthorized_client"
    );
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let mut server = server();
    let first = password_login(&mut server);
    let rt1 = first["refresh_token"].as_str().unwrap().to_owned();
    let reply = server.handle(
        &post(
            "/token",
            &format!("grant_type=refresh_token&refresh_token={rt1}"),
            CLIENT,
        ),
        NOW,
    );
    assert_eq!(reply.status(), 200);
    let second = json_body(&reply);
    let rt2 = second["refresh_token"].as_str().unwrap().to_owned();
    let at2 = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2);
    assert!(server.is_access_token_valid(&at2, NOW));

    let reuse = server.handle(
        &post(
            "/token",
            &format!("grant_type=refresh_token&refresh_token={rt1}"),
            CLIENT,
        ),
        NOW,
    );
    assert_eq!(error_code(&reuse), "invalid_grant");
    assert!(
        !server.is_access_token_valid(&at2, NOW),
        "the whole grant dies"
    );
    let newer = server.handle(
        &post(
            "/token",
            &format!("grant_type=refresh_token&refresh_token={rt2}"),
            CLIENT,
        ),
        NOW,
    );
    assert_eq!(error_code(&newer), "invalid_grant");
    assert_eq!(server.stats().refresh_token_reuses, 1);
}

#[test]
fn expired_tokens_are_refused() {
    let mut server = server();
    let body = password_login(&mut server);
    let at = body["access_token"].as_str().unwrap();
    assert!(!server.is_access_token_valid(at, NOW + Duration::hours(1)));
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let later = NOW + Duration::days(31);
    let reply = server.handle(
        &post(
            "/token",
            &format!("grant_type=refresh_token&refresh_token={rt}"),
            CLIENT,
        ),
        later,
    );
    assert_eq!(error_code(&reply), "invalid_grant");
}

#[test]
fn revocation_follows_rfc_7009() {
    let mut server = server();
    let body = password_login(&mut server);
    let at = body["access_token"].as_str().unwrap().to_owned();
    let rt = body["refresh_token"].as_str().unwrap().to_owned();
    let unknown = server.handle(
        &post(
            "/revoke",
            "token=nothing&token_type_hint=access_token",
            CLIENT,
        ),
        NOW,
    );
    assert_eq!((unknown.status().as_u16(), unknown.body().len()), (200, 0));
    let reply = server.handle(
        &post(
            "/revoke",
            &format!("token={rt}&token_type_hint=weird"),
            CLIENT,
        ),
        NOW,
    );
    assert_eq!(reply.status(), 200);
    assert!(
        !server.is_access_token_valid(&at, NOW),
        "revoking the refresh token ends its access tokens"
    );
    let bad = server.handle(
        &post("/revoke", "token=x", Some(("emulated-client", "wrong"))),
        NOW,
    );
    assert_eq!(bad.status(), 401);
}

#[test]
fn resource_requests_follow_rfc_6750() {
    let mut server = server();
    let body = password_login(&mut server);
    let at = body["access_token"].as_str().unwrap();
    let call = |token: Option<&str>| {
        let mut builder = http::Request::builder().uri("http://127.0.0.1/api");
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        builder.body(Vec::new()).unwrap()
    };
    assert_eq!(server.resource_request(&call(Some(at)), NOW).status(), 200);
    let rejected = server.resource_request(&call(Some("forged")), NOW);
    assert_eq!(rejected.status(), 401);
    assert!(rejected.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    let anonymous = server.resource_request(&call(None), NOW);
    assert!(!anonymous.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains("error"));
}

#[test]
fn injected_failures_come_in_order_then_service_resumes() {
    let mut server = server();
    server.fail_next(InjectedFailure::Status {
        status: 503,
        retry_after: Some("7".into()),
    });
    server.fail_next(InjectedFailure::OAuthError {
        status: 200,
        code: "invalid_grant".into(),
    });
    server.fail_next(InjectedFailure::Garbage);
    let request = post("/token", "grant_type=client_credentials", CLIENT);
    let first = server.handle(&request, NOW);
    assert_eq!(
        (
            first.status().as_u16(),
            first.headers()[RETRY_AFTER].to_str().unwrap()
        ),
        (503, "7")
    );
    assert_eq!(error_code(&server.handle(&request, NOW)), "invalid_grant");
    assert!(
        serde_json::from_slice::<serde_json::Value>(server.handle(&request, NOW).body()).is_err()
    );
    assert_eq!(server.handle(&request, NOW).status(), 200);
}

#[test]
fn the_date_header_shows_the_clock_offset() {
    let mut server = server();
    server.set_clock_offset(Duration::minutes(5));
    let reply = server.handle(
        &post("/token", "grant_type=client_credentials", CLIENT),
        NOW,
    );
    let date = httpdate::parse_http_date(reply.headers()[DATE].to_str().unwrap()).unwrap();
    assert_eq!(date, system_time(NOW + Duration::minutes(5)));
}

#[test]
fn hostile_requests_get_errors_not_panics() {
    let mut server = server();
    let garbage: Vec<u8> = (0..=255).collect();
    let requests = [
        http::Request::builder()
            .method("POST")
            .uri("/token")
            .body(garbage.clone())
            .unwrap(),
        http::Request::builder()
            .method("GET")
            .uri("/token")
            .body(Vec::new())
            .unwrap(),
        http::Request::builder()
            .method("POST")
            .uri("/elsewhere")
            .body(Vec::new())
            .unwrap(),
        http::Request::builder()
            .method("POST")
            .uri("/token")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(AUTHORIZATION, "Basic !!!not-base64")
            .body(garbage.clone())
            .unwrap(),
        post(
            "/token",
            "grant_type=client_credentials&grant_type=password",
            CLIENT,
        ),
        post("/revoke", "", CLIENT),
    ];
    for request in &requests {
        let reply = server.handle(request, NOW);
        assert!(reply.status().is_client_error(), "{:?}", reply.status());
    }
}
