//! People's logins on the standard server: metadata (RFC 8414, OpenID Connect
//! Discovery), the device authorization grant (RFC 8628) and the authorization code grant
//! with S256 PKCE (RFC 7636), loopback redirects (RFC 8252) and `iss` (RFC 9207); in
//! process, and over HTTP as a device and a browser would.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use base64::Engine as _;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION};
use oauth_lifecycle_emulator::{
    AuthorizationDecision, DrivenClock, EmulatedClient, Emulator, HttpFront, Reply, StandardServer,
    StandardServerConfig,
};
use oauth_lifecycle_testkit::{PATIENCE, STANDARD_CLIENT};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-03-01 08:00:00);
const BASE: &str = "http://127.0.0.1";
const PUBLIC: &str = "emulated-public-client";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const VERIFIER: &str = "a-verifier-of-at-least-43-unreserved-characters.~_";
const CALLBACK: &str = "http://127.0.0.1:49152/callback";

// ---- in process ------------------------------------------------------------------------

fn basic((id, secret): (&str, &str)) -> String {
    let credentials = format!("{id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A form POST to `path` at 127.0.0.1, with the standard client's Basic credentials
/// when `confidential`.
fn post(path: &str, pairs: &[(&str, &str)], confidential: bool) -> http::Request<Vec<u8>> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("{BASE}{path}"))
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
    if confidential {
        builder = builder.header(AUTHORIZATION, basic(STANDARD_CLIENT));
    }
    builder.body(form(pairs).into_bytes()).unwrap()
}

fn get(uri: &str) -> http::Request<Vec<u8>> {
    http::Request::builder().uri(uri).body(Vec::new()).unwrap()
}

fn body(reply: &Reply) -> Value {
    serde_json::from_slice(reply.body()).unwrap_or_else(|_| {
        panic!(
            "a JSON body, not {:?} ({})",
            String::from_utf8_lossy(reply.body()),
            reply.status()
        )
    })
}

/// The `error` of a 400 answer.
fn error(reply: &Reply) -> String {
    assert_eq!(
        reply.status(),
        400,
        "{:?}",
        String::from_utf8_lossy(reply.body())
    );
    body(reply)["error"].as_str().unwrap().to_owned()
}

fn server() -> StandardServer {
    StandardServer::new(StandardServerConfig::default())
}

/// A device authorization for the public client; its answer.
fn authorize_device(server: &mut StandardServer, now: UtcDateTime) -> Value {
    let reply = server.handle(
        &post(
            "/device_authorization",
            &[("client_id", PUBLIC), ("scope", "api")],
            false,
        ),
        now,
    );
    assert_eq!(reply.status(), 200, "{:?}", body(&reply));
    assert_eq!(reply.headers()["cache-control"], "no-store");
    body(&reply)
}

/// A device poll by the public client.
fn poll(server: &mut StandardServer, device_code: &str, now: UtcDateTime) -> Reply {
    server.handle(
        &post(
            "/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        now,
    )
}

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// `/authorize?…` for `client_id` with the usual parameters, then `extra` (which
/// replace those of the same name; an empty value drops one).
fn authorize_uri(client_id: &str, extra: &[(&str, &str)]) -> String {
    let challenge = challenge(VERIFIER);
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", CALLBACK),
        ("state", "st&te=1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "openid api"),
    ];
    for (name, value) in extra {
        pairs.retain(|(n, _)| n != name);
        if !value.is_empty() {
            pairs.push((name, value));
        }
    }
    format!("/authorize?{}", form(&pairs))
}

/// The query parameters of a redirect's `Location`, and the URI before them.
fn redirected(reply: &Reply) -> (String, HashMap<String, String>) {
    assert_eq!(
        reply.status(),
        302,
        "{:?}",
        String::from_utf8_lossy(reply.body())
    );
    let location = reply.headers()[LOCATION].to_str().unwrap();
    let (uri, query) = location.split_once('?').unwrap();
    let parameters = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    (uri.to_owned(), parameters)
}

/// Runs the authorization request `uri` at `now`: the code, after checking the
/// redirect's state and `iss`.
fn code_for(server: &mut StandardServer, uri: &str, now: UtcDateTime) -> String {
    let (to, parameters) = redirected(&server.handle(&get(&format!("{BASE}{uri}")), now));
    assert_eq!(to, CALLBACK);
    assert_eq!(parameters["state"], "st&te=1");
    assert_eq!(parameters["iss"], BASE);
    parameters["code"].clone()
}

/// The token request for `code` by the public client.
fn exchange_code(
    server: &mut StandardServer,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
    now: UtcDateTime,
) -> Reply {
    server.handle(
        &post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        now,
    )
}

#[test]
fn metadata_names_the_issuer_the_client_used_and_every_endpoint() {
    let mut server = server();
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let reply = server.handle(&get(&format!("http://127.0.0.1:8080{path}")), NOW);
        assert_eq!(reply.status(), 200);
        let metadata = body(&reply);
        assert_eq!(metadata["issuer"], "http://127.0.0.1:8080");
        for (field, path) in [
            ("token_endpoint", "/token"),
            ("revocation_endpoint", "/revoke"),
            ("device_authorization_endpoint", "/device_authorization"),
            ("authorization_endpoint", "/authorize"),
        ] {
            assert_eq!(metadata[field], format!("http://127.0.0.1:8080{path}"));
        }
        assert_eq!(
            metadata["grant_types_supported"],
            serde_json::json!([
                "authorization_code",
                DEVICE_GRANT,
                "refresh_token",
                "client_credentials",
                "password"
            ])
        );
        assert_eq!(
            metadata["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
        );
        assert_eq!(
            metadata["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(
            metadata["response_types_supported"],
            serde_json::json!(["code"])
        );
        assert_eq!(
            metadata["authorization_response_iss_parameter_supported"],
            true
        );
    }

    // An origin-form request, as the HTTP front passes it: the Host header says where.
    let origin_form = http::Request::builder()
        .uri("/.well-known/openid-configuration")
        .header(HOST, "localhost:9000")
        .body(Vec::new())
        .unwrap();
    let reply = server.handle(&origin_form, NOW);
    assert_eq!(body(&reply)["issuer"], "http://localhost:9000");
    assert_eq!(
        body(&reply)["token_endpoint"],
        "http://localhost:9000/token"
    );
    let https = server.handle(
        &get("https://auth.example/.well-known/openid-configuration"),
        NOW,
    );
    assert_eq!(body(&https)["issuer"], "https://auth.example");

    // Nowhere to say, or nonsense: an error, not a made-up issuer.
    for host in [None, Some("a b"), Some("user@host"), Some("")] {
        let mut request = http::Request::builder().uri("/.well-known/openid-configuration");
        if let Some(host) = host {
            request = request.header(HOST, host);
        }
        let reply = server.handle(&request.body(Vec::new()).unwrap(), NOW);
        assert_eq!(error(&reply), "invalid_request", "{host:?}");
    }
    let post = server.handle(&post("/.well-known/openid-configuration", &[], false), NOW);
    assert_eq!(post.status(), 405);
    assert_eq!(server.stats().metadata_requests, 4);

    let mut fixed = StandardServerConfig::default();
    fixed.base_url = Some("https://login.example/".into());
    let mut fixed = StandardServer::new(fixed);
    let reply = fixed.handle(
        &get("http://127.0.0.1/.well-known/openid-configuration"),
        NOW,
    );
    assert_eq!(body(&reply)["issuer"], "https://login.example");
}

#[test]
fn keycloak_serves_its_metadata_under_the_realm() {
    let mut server = StandardServer::new(StandardServerConfig::keycloak("abc"));
    let realm = "http://127.0.0.1:8443/realms/abc";
    for path in [
        "/realms/abc/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/realms/abc",
        "/realms/abc/.well-known/oauth-authorization-server",
    ] {
        let reply = server.handle(&get(&format!("http://127.0.0.1:8443{path}")), NOW);
        assert_eq!(reply.status(), 200, "{path}");
        let metadata = body(&reply);
        assert_eq!(metadata["issuer"], realm);
        let endpoint = |name: &str| format!("{realm}/protocol/openid-connect/{name}");
        assert_eq!(metadata["token_endpoint"], endpoint("token"));
        assert_eq!(metadata["revocation_endpoint"], endpoint("revoke"));
        assert_eq!(metadata["authorization_endpoint"], endpoint("auth"));
        assert_eq!(
            metadata["device_authorization_endpoint"],
            endpoint("auth/device")
        );
        assert_eq!(
            metadata["subject_types_supported"],
            serde_json::json!(["public"])
        );
        // The realm's only client is confidential.
        assert_eq!(
            metadata["token_endpoint_auth_methods_supported"],
            serde_json::json!(["client_secret_basic", "client_secret_post"])
        );
    }
    for elsewhere in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/realms/other/.well-known/openid-configuration",
    ] {
        let reply = server.handle(&get(&format!("http://127.0.0.1:8443{elsewhere}")), NOW);
        assert_eq!(reply.status(), 404, "{elsewhere}");
    }

    // Its device login and code login work at its paths, with the realm as issuer.
    let keycloak_client = ("machine-2-machine", "convercus-secret");
    let device = server.handle(
        &http::Request::builder()
            .method("POST")
            .uri("http://127.0.0.1:8443/realms/abc/protocol/openid-connect/auth/device")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(AUTHORIZATION, basic(keycloak_client))
            .body(Vec::new())
            .unwrap(),
        NOW,
    );
    assert_eq!(body(&device)["verification_uri"], format!("{realm}/device"));
    let uri = authorize_uri("machine-2-machine", &[])
        .replace("/authorize", "/realms/abc/protocol/openid-connect/auth");
    let (_, parameters) =
        redirected(&server.handle(&get(&format!("http://127.0.0.1:8443{uri}")), NOW));
    assert_eq!(parameters["iss"], realm);
    assert!(parameters.contains_key("code"));
}

#[test]
fn convirza_v2_has_no_login_for_people() {
    let mut server = StandardServer::new(StandardServerConfig::convirza_v2());
    for uri in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/device",
        &authorize_uri("system", &[]),
    ] {
        assert_eq!(
            server.handle(&get(&format!("{BASE}{uri}")), NOW).status(),
            404
        );
    }
    let device = server.handle(&post("/device_authorization", &[], true), NOW);
    assert_eq!(device.status(), 404);
    let grant = server.handle(
        &post(
            "/oauth/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", "x"),
                ("client_id", "system"),
                ("client_secret", "convirza-v2-secret"),
            ],
            false,
        ),
        NOW,
    );
    assert_eq!(error(&grant), "unsupported_grant_type");
}

#[test]
fn a_device_login_waits_slows_down_and_yields_tokens_once() {
    let mut server = server();
    let device = authorize_device(&mut server, NOW);
    let device_code = device["device_code"].as_str().unwrap();
    let user_code = device["user_code"].as_str().unwrap().to_owned();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code
        .chars()
        .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)));
    assert_eq!(device["verification_uri"], "http://127.0.0.1/device");
    assert_eq!(
        device["verification_uri_complete"],
        format!("http://127.0.0.1/device?user_code={user_code}")
    );
    assert_eq!(
        (device["expires_in"].as_i64(), device["interval"].as_i64()),
        (Some(600), Some(5))
    );
    assert_eq!(server.pending_user_codes(), vec![user_code.clone()]);

    let mut at = NOW;
    assert_eq!(
        error(&poll(&mut server, device_code, at)),
        "authorization_pending"
    );
    at += Duration::seconds(5);
    assert_eq!(
        error(&poll(&mut server, device_code, at)),
        "authorization_pending"
    );
    // Too fast: slow down, and the interval is 10 s from now on, then 15 s.
    at += Duration::seconds(4);
    assert_eq!(error(&poll(&mut server, device_code, at)), "slow_down");
    at += Duration::seconds(9);
    assert_eq!(error(&poll(&mut server, device_code, at)), "slow_down");
    at += Duration::seconds(14);
    assert_eq!(error(&poll(&mut server, device_code, at)), "slow_down");
    at += Duration::seconds(20);
    assert_eq!(
        error(&poll(&mut server, device_code, at)),
        "authorization_pending"
    );

    // The person approves, typing the code as people do.
    assert!(server.approve_user_code(&user_code.to_lowercase().replace('-', " ")));
    assert!(!server.approve_user_code(&user_code), "decided already");
    assert!(server.pending_user_codes().is_empty());
    at += Duration::seconds(20);
    let tokens = poll(&mut server, device_code, at);
    assert_eq!(tokens.status(), 200);
    let tokens = body(&tokens);
    assert_eq!(tokens["scope"], "api");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(server.is_access_token_valid(access, at));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = server.handle(
        &post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        at,
    );
    assert_eq!(refreshed.status(), 200);

    // Once only.
    at += Duration::seconds(20);
    assert_eq!(error(&poll(&mut server, device_code, at)), "invalid_grant");

    let stats = server.stats();
    assert_eq!(stats.device_authorizations, 1);
    assert_eq!(stats.device_polls, 8);
    assert_eq!(stats.slow_downs, 3);
    assert_eq!(stats.logins, 1);
}

#[test]
fn a_denied_device_login_is_access_denied() {
    let mut server = server();
    let device = authorize_device(&mut server, NOW);
    let device_code = device["device_code"].as_str().unwrap();
    assert!(server.deny_user_code(device["user_code"].as_str().unwrap()));
    assert!(!server.deny_user_code("BBBB-BBBB"));
    assert!(!server.approve_user_code(&"B".repeat(100_000)));
    assert_eq!(error(&poll(&mut server, device_code, NOW)), "access_denied");
    let later = NOW + Duration::seconds(5);
    assert_eq!(
        error(&poll(&mut server, device_code, later)),
        "access_denied"
    );
}

#[test]
fn a_device_code_expires() {
    let mut config = StandardServerConfig::default();
    config.device_code_lifetime = Duration::seconds(30);
    config.device_poll_interval = Duration::seconds(2);
    let mut server = StandardServer::new(config);
    let device = authorize_device(&mut server, NOW);
    assert_eq!(
        (device["expires_in"].as_i64(), device["interval"].as_i64()),
        (Some(30), Some(2))
    );
    let device_code = device["device_code"].as_str().unwrap();
    let user_code = device["user_code"].as_str().unwrap();
    let expiry = NOW + Duration::seconds(30);
    assert_eq!(
        error(&poll(
            &mut server,
            device_code,
            expiry - Duration::seconds(1)
        )),
        "authorization_pending"
    );
    assert_eq!(
        error(&poll(&mut server, device_code, expiry)),
        "expired_token"
    );
    // Approving it now is too late for the device.
    assert!(server.approve_user_code(user_code));
    let later = expiry + Duration::minutes(5);
    assert_eq!(
        error(&poll(&mut server, device_code, later)),
        "expired_token"
    );
    // The verification page refuses an expired code.
    let other = authorize_device(&mut server, NOW);
    let other_code = other["user_code"].as_str().unwrap();
    let act = |server: &mut StandardServer, at: UtcDateTime| {
        server.handle(
            &post(
                "/device",
                &[("user_code", other_code), ("decision", "approve")],
                false,
            ),
            at,
        )
    };
    assert_eq!(error(&act(&mut server, expiry)), "invalid_request");
    assert_eq!(
        act(&mut server, expiry - Duration::seconds(1)).status(),
        200
    );
}

#[test]
fn device_codes_belong_to_their_client() {
    let mut server = server();
    // The confidential client authenticates; the public one names itself.
    let confidential = server.handle(&post("/device_authorization", &[], true), NOW);
    let device_code = body(&confidential)["device_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        error(&poll(&mut server, &device_code, NOW)),
        "invalid_grant"
    );
    let own = server.handle(
        &post(
            "/token",
            &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
            true,
        ),
        NOW,
    );
    assert_eq!(error(&own), "authorization_pending");
    assert_eq!(error(&poll(&mut server, "dc-forged", NOW)), "invalid_grant");

    // Unknown clients, and confidential ones without their secret, are refused.
    for pairs in [
        [("client_id", "nobody")],
        [("client_id", "emulated-client")],
    ] {
        let reply = server.handle(&post("/device_authorization", &pairs, false), NOW);
        assert_eq!(reply.status(), 401);
        assert_eq!(body(&reply)["error"], "invalid_client");
    }
    // A client without the grant may not start one.
    let mut config = StandardServerConfig::default();
    config.clients[0].grants = vec!["client_credentials".into()];
    let mut limited = StandardServer::new(config);
    let reply = limited.handle(&post("/device_authorization", &[], true), NOW);
    assert_eq!(error(&reply), "unauthorized_client");
}

#[test]
fn the_verification_page_approves_and_denies_like_a_person() {
    let mut server = server();
    let first = authorize_device(&mut server, NOW);
    let second = authorize_device(&mut server, NOW);
    let (first_code, second_code) = (
        first["user_code"].as_str().unwrap(),
        second["user_code"].as_str().unwrap(),
    );
    assert_ne!(first_code, second_code);
    assert_eq!(server.pending_user_codes(), vec![first_code, second_code]);

    let page = server.handle(
        &get(first["verification_uri_complete"].as_str().unwrap()),
        NOW,
    );
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    let html = String::from_utf8(page.body().clone()).unwrap();
    assert!(html.contains(&format!("value=\"{first_code}\"")), "{html}");
    assert!(html.contains("action=\"/device\""));
    let hostile = server.handle(
        &get("http://127.0.0.1/device?user_code=%22%3E%3Cscript%3E"),
        NOW,
    );
    let html = String::from_utf8(hostile.body().clone()).unwrap();
    assert!(!html.contains("<script>") && html.contains("&quot;&gt;&lt;script&gt;"));

    let act = |server: &mut StandardServer, code: &str, decision: &str| {
        server.handle(
            &post(
                "/device",
                &[("user_code", code), ("decision", decision)],
                false,
            ),
            NOW,
        )
    };
    assert_eq!(act(&mut server, first_code, "approve").status(), 200);
    assert_eq!(act(&mut server, second_code, "deny").status(), 200);
    assert_eq!(
        error(&act(&mut server, second_code, "approve")),
        "invalid_request"
    );
    assert_eq!(
        error(&act(&mut server, "ZZZZ-ZZZZ", "approve")),
        "invalid_request"
    );
    assert_eq!(
        error(&act(&mut server, first_code, "maybe")),
        "invalid_request"
    );
    let first_device = first["device_code"].as_str().unwrap();
    let second_device = second["device_code"].as_str().unwrap();
    assert_eq!(poll(&mut server, first_device, NOW).status(), 200);
    assert_eq!(
        error(&poll(&mut server, second_device, NOW)),
        "access_denied"
    );
}

#[test]
fn a_pkce_login_redirects_with_code_state_and_iss_then_yields_tokens() {
    let mut server = server();
    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    let reply = exchange_code(&mut server, &code, CALLBACK, VERIFIER, NOW);
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["cache-control"], "no-store");
    let tokens = body(&reply);
    assert_eq!(tokens["scope"], "openid api");
    assert!(server.is_access_token_valid(tokens["access_token"].as_str().unwrap(), NOW));
    assert!(tokens["refresh_token"].is_string());

    // A confidential client authenticates as well.
    let code = code_for(&mut server, &authorize_uri("emulated-client", &[]), NOW);
    let confidential = server.handle(
        &post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
            true,
        ),
        NOW,
    );
    assert_eq!(confidential.status(), 200);
    let stats = server.stats();
    assert_eq!(
        (
            stats.authorization_codes,
            stats.code_exchanges,
            stats.logins
        ),
        (2, 2, 2)
    );
}

#[test]
fn a_wrong_verifier_or_redirect_uri_spends_the_code() {
    let mut server = server();
    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    let other = "another-verifier-of-at-least-43-unreserved-chars";
    assert_eq!(
        error(&exchange_code(&mut server, &code, CALLBACK, other, NOW)),
        "invalid_grant"
    );
    assert_eq!(
        error(&exchange_code(&mut server, &code, CALLBACK, VERIFIER, NOW)),
        "invalid_grant",
        "spent"
    );

    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    let elsewhere = "http://127.0.0.1:49153/callback";
    assert_eq!(
        error(&exchange_code(&mut server, &code, elsewhere, VERIFIER, NOW)),
        "invalid_grant"
    );
    assert_eq!(
        error(&exchange_code(&mut server, &code, CALLBACK, VERIFIER, NOW)),
        "invalid_grant"
    );

    // A malformed request changes nothing: the code still works afterwards.
    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    for verifier in ["short", &"v".repeat(129), &format!("{VERIFIER}+/=")] {
        let reply = exchange_code(&mut server, &code, CALLBACK, verifier, NOW);
        assert_eq!(error(&reply), "invalid_request", "{verifier}");
    }
    let missing = server.handle(
        &post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        NOW,
    );
    assert_eq!(error(&missing), "invalid_request");
    // Another client cannot use it, nor spend it.
    let stolen = server.handle(
        &post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
            true,
        ),
        NOW,
    );
    assert_eq!(error(&stolen), "invalid_grant");
    assert_eq!(
        exchange_code(&mut server, &code, CALLBACK, VERIFIER, NOW).status(),
        200
    );
    assert_eq!(server.stats().code_replays, 0);
}

#[test]
fn a_replayed_code_is_refused_and_revokes_its_tokens() {
    let mut server = server();
    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    let tokens = body(&exchange_code(&mut server, &code, CALLBACK, VERIFIER, NOW));
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert!(server.is_access_token_valid(access, NOW));

    let later = NOW + Duration::seconds(10);
    assert_eq!(
        error(&exchange_code(
            &mut server,
            &code,
            CALLBACK,
            VERIFIER,
            later
        )),
        "invalid_grant"
    );
    assert!(!server.is_access_token_valid(access, later));
    let refreshed = server.handle(
        &post(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        later,
    );
    assert_eq!(error(&refreshed), "invalid_grant");
    // Even once the code has expired.
    let much_later = NOW + Duration::hours(2);
    assert_eq!(
        error(&exchange_code(
            &mut server,
            &code,
            CALLBACK,
            VERIFIER,
            much_later
        )),
        "invalid_grant"
    );
    assert_eq!(server.stats().code_replays, 2);
    assert_eq!(server.stats().code_exchanges, 1);
}

#[test]
fn a_code_expires() {
    let mut server = server();
    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    let expiry = NOW + Duration::seconds(60);
    assert_eq!(
        error(&exchange_code(
            &mut server,
            &code,
            CALLBACK,
            VERIFIER,
            expiry
        )),
        "invalid_grant"
    );

    let mut config = StandardServerConfig::default();
    config.authorization_code_lifetime = Duration::minutes(10);
    let mut server = StandardServer::new(config);
    let code = code_for(&mut server, &authorize_uri(PUBLIC, &[]), NOW);
    let reply = exchange_code(
        &mut server,
        &code,
        CALLBACK,
        VERIFIER,
        NOW + Duration::minutes(9),
    );
    assert_eq!(reply.status(), 200);
}

#[test]
fn authorization_errors_redirect_with_state_and_iss() {
    let mut server = server();
    let refused = |server: &mut StandardServer, extra: &[(&str, &str)]| {
        let reply = server.handle(
            &get(&format!("{BASE}{}", authorize_uri(PUBLIC, extra))),
            NOW,
        );
        let (to, parameters) = redirected(&reply);
        assert_eq!(to, CALLBACK);
        assert_eq!(parameters["iss"], BASE);
        assert!(!parameters.contains_key("code"));
        (
            parameters["error"].clone(),
            parameters.get("state").cloned(),
        )
    };
    let good = challenge(VERIFIER);
    for (extra, expected) in [
        (
            vec![
                ("code_challenge_method", "plain"),
                ("code_challenge", VERIFIER),
            ],
            "invalid_request",
        ),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge", "too-short")], "invalid_request"),
        (
            vec![("code_challenge", &format!("{good}="))],
            "invalid_request",
        ),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (vec![("response_type", "")], "invalid_request"),
    ] {
        assert_eq!(
            refused(&mut server, &extra),
            (expected.to_owned(), Some("st&te=1".to_owned())),
            "{extra:?}"
        );
    }
    let (code, state) = refused(&mut server, &[("state", ""), ("response_type", "token")]);
    assert_eq!((code.as_str(), state), ("unsupported_response_type", None));

    server.set_authorization_decision(AuthorizationDecision::Deny);
    assert_eq!(refused(&mut server, &[]).0, "access_denied");
    server.set_authorization_decision(AuthorizationDecision::Approve);
    assert_eq!(server.stats().authorization_codes, 0);

    // A client not allowed codes is told so at its redirect URI.
    let mut config = StandardServerConfig::default();
    config.clients[0].grants = vec!["client_credentials".into()];
    let mut limited = StandardServer::new(config);
    let reply = limited.handle(
        &get(&format!("{BASE}{}", authorize_uri("emulated-client", &[]))),
        NOW,
    );
    assert_eq!(redirected(&reply).1["error"], "unauthorized_client");

    // No redirect when the client or the redirect URI is in doubt (RFC 6749 §4.1.2.1).
    for extra in [
        vec![("client_id", "nobody")],
        vec![("client_id", "")],
        vec![("redirect_uri", "http://evil.example/callback")],
        vec![("redirect_uri", "http://127.0.0.1:49152/callback#frag")],
        vec![("redirect_uri", "")],
        vec![("state", &"s".repeat(2000))],
    ] {
        let reply = server.handle(
            &get(&format!("{BASE}{}", authorize_uri(PUBLIC, &extra))),
            NOW,
        );
        assert_eq!(error(&reply), "invalid_request", "{extra:?}");
        assert!(!reply.headers().contains_key(LOCATION));
    }
    let repeated = format!("{BASE}{}&state=again", authorize_uri(PUBLIC, &[]));
    assert_eq!(
        error(&server.handle(&get(&repeated), NOW)),
        "invalid_request"
    );
    let post = server.handle(&post("/authorize", &[], false), NOW);
    assert_eq!(post.status(), 405);
}

#[test]
fn loopback_redirects_match_on_any_port_unless_configured_exact() {
    let mut server = server();
    for redirect_uri in [
        "http://127.0.0.1:1/callback",
        "http://127.0.0.1:65535/callback",
        "http://127.0.0.1/callback",
        "http://[::1]:50000/callback",
    ] {
        let uri = authorize_uri(PUBLIC, &[("redirect_uri", redirect_uri)]);
        let reply = server.handle(&get(&format!("{BASE}{uri}")), NOW);
        assert_eq!(reply.status(), 302, "{redirect_uri}");
        let code = &redirected(&reply).1["code"];
        let tokens = exchange_code(&mut server, code, redirect_uri, VERIFIER, NOW);
        assert_eq!(tokens.status(), 200, "{redirect_uri}");
    }
    for not_registered in [
        "http://127.0.0.1:49152/other",
        "http://localhost:49152/callback",
        "https://127.0.0.1:49152/callback",
    ] {
        let uri = authorize_uri(PUBLIC, &[("redirect_uri", not_registered)]);
        assert_eq!(
            error(&server.handle(&get(&format!("{BASE}{uri}")), NOW)),
            "invalid_request"
        );
    }

    let mut config = StandardServerConfig::default();
    config.loopback_any_port = false;
    config
        .redirect_uris
        .push((PUBLIC.into(), "http://127.0.0.1:8000/callback".into()));
    let mut exact = StandardServer::new(config);
    let uri = authorize_uri(PUBLIC, &[]);
    assert_eq!(
        error(&exact.handle(&get(&format!("{BASE}{uri}")), NOW)),
        "invalid_request"
    );
    let uri = authorize_uri(
        PUBLIC,
        &[("redirect_uri", "http://127.0.0.1:8000/callback")],
    );
    assert_eq!(
        exact.handle(&get(&format!("{BASE}{uri}")), NOW).status(),
        302
    );
    let uri = authorize_uri(PUBLIC, &[("redirect_uri", "http://127.0.0.1/callback")]);
    assert_eq!(
        exact.handle(&get(&format!("{BASE}{uri}")), NOW).status(),
        302
    );

    // Registrations with a query and other clients' public constructors work alike.
    let mut config = StandardServerConfig::default();
    config.clients.push(EmulatedClient::public("cli"));
    config
        .redirect_uris
        .push(("cli".into(), "https://app.example/cb?tenant=1".into()));
    let mut custom = StandardServer::new(config);
    let uri = authorize_uri(
        "cli",
        &[("redirect_uri", "https://app.example/cb?tenant=1")],
    );
    let reply = custom.handle(&get(&format!("{BASE}{uri}")), NOW);
    let location = reply.headers()[LOCATION].to_str().unwrap();
    assert!(
        location.starts_with("https://app.example/cb?tenant=1&code="),
        "{location}"
    );
}

#[test]
fn hostile_requests_get_oauth_errors_not_panics() {
    let mut server = server();
    let long = "x".repeat(5000);
    let huge_query = format!("{BASE}/authorize?state={}", "s".repeat(20_000));
    let garbage: Vec<u8> = (0..=255).collect();
    let requests = vec![
        get(&huge_query),
        get(&format!("{BASE}/authorize?%ff%fe=%00&client_id={PUBLIC}")),
        get(&format!("{BASE}/device?user_code={long}")),
        get(&format!("{BASE}/device?user_code=a&user_code=b")),
        post(
            "/device",
            &[("user_code", &long), ("decision", "approve")],
            false,
        ),
        post("/device", &[("decision", "approve")], false),
        post(
            "/device_authorization",
            &[("client_id", PUBLIC), ("scope", &long)],
            false,
        ),
        post(
            "/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", &long),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        post(
            "/token",
            &[("grant_type", DEVICE_GRANT), ("client_id", PUBLIC)],
            false,
        ),
        post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &long),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        post(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", "c"),
                ("redirect_uri", &long),
                ("code_verifier", VERIFIER),
                ("client_id", PUBLIC),
            ],
            false,
        ),
        post(
            "/token",
            &[("grant_type", "client_credentials"), ("client_id", PUBLIC)],
            false,
        ),
        http::Request::builder()
            .method("POST")
            .uri(format!("{BASE}/device"))
            .body(garbage.clone())
            .unwrap(),
        http::Request::builder()
            .method("POST")
            .uri(format!("{BASE}/device_authorization"))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(garbage)
            .unwrap(),
    ];
    for request in &requests {
        let reply = server.handle(request, NOW);
        assert!(
            reply.status().is_client_error(),
            "{request:?}: {}",
            reply.status()
        );
        let error = body(&reply);
        assert!(error["error"].is_string(), "{request:?}: {error}");
    }
    assert_eq!(server.stats().authorization_codes, 0);
    assert_eq!(server.stats().device_authorizations, 0);
}

// ---- over HTTP ---------------------------------------------------------------------------

/// An answer read off the socket.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// One request on a connection of its own, as a device, a browser or a client sends it.
fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("the front accepts connections");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.to_owned(), value.trim().to_owned()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_owned(),
    }
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// The path and query of an absolute URL on the front.
fn target(url: &str, base: &str) -> String {
    url.strip_prefix(base)
        .expect("a URL on the front")
        .to_owned()
}

#[test]
fn a_device_login_over_http_approved_on_the_verification_page() {
    let clock = DrivenClock::new(NOW);
    let front = HttpFront::start(server(), clock.clone()).unwrap();
    let addr = front.addr();
    let base = front.base_url();

    let metadata = send(addr, "GET", "/.well-known/openid-configuration", &[], "").json();
    assert_eq!(metadata["issuer"], base.as_str());
    let device_endpoint = metadata["device_authorization_endpoint"].as_str().unwrap();
    let token_endpoint = target(metadata["token_endpoint"].as_str().unwrap(), &base);

    let device = send(
        addr,
        "POST",
        &target(device_endpoint, &base),
        &[FORM],
        &form(&[("client_id", PUBLIC)]),
    );
    assert_eq!(device.status, 200, "{}", device.body);
    let device = device.json();
    let device_code = device["device_code"].as_str().unwrap();
    let poll = || {
        send(
            addr,
            "POST",
            &token_endpoint,
            &[FORM],
            &form(&[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", PUBLIC),
            ]),
        )
    };
    let pending = poll();
    assert_eq!(
        (pending.status, pending.json()["error"].as_str()),
        (400, Some("authorization_pending"))
    );

    // The person opens the link on another device and approves.
    let complete = device["verification_uri_complete"].as_str().unwrap();
    let page = send(addr, "GET", &target(complete, &base), &[], "");
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let user_code = device["user_code"].as_str().unwrap();
    assert!(page.body.contains(user_code));
    let verification = target(device["verification_uri"].as_str().unwrap(), &base);
    let approved = send(
        addr,
        "POST",
        &verification,
        &[FORM],
        &form(&[("user_code", user_code), ("decision", "approve")]),
    );
    assert_eq!(approved.status, 200, "{}", approved.body);

    clock.advance(Duration::seconds(5));
    let tokens = poll();
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let access = tokens.json()["access_token"].as_str().unwrap().to_owned();
    let authorization = format!("Bearer {access}");
    let api = send(
        addr,
        "GET",
        "/api/me",
        &[("Authorization", &authorization)],
        "",
    );
    assert_eq!(api.status, 200);
    clock.advance(Duration::seconds(5));
    assert_eq!(poll().json()["error"], "invalid_grant");

    let stats = front.with_emulator(|server| server.stats().clone());
    assert_eq!(
        (
            stats.device_authorizations,
            stats.device_polls,
            stats.logins
        ),
        (1, 3, 1)
    );
}

#[test]
fn a_pkce_login_over_http_follows_the_redirect_like_a_browser() {
    let clock = DrivenClock::new(NOW);
    let front = HttpFront::start(server(), clock.clone()).unwrap();
    let addr = front.addr();
    let base = front.base_url();

    let metadata = send(
        addr,
        "GET",
        "/.well-known/oauth-authorization-server",
        &[],
        "",
    )
    .json();
    assert_eq!(metadata["issuer"], base.as_str());
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    let authorization_endpoint = metadata["authorization_endpoint"].as_str().unwrap();
    assert_eq!(authorization_endpoint, front.url("/authorize"));

    // The browser asks; the person approves at once; the answer is the redirect.
    let uri = authorize_uri("emulated-client", &[]);
    let redirect = send(addr, "GET", &uri, &[], "");
    assert_eq!(redirect.status, 302, "{}", redirect.body);
    let location = redirect.header("location").unwrap();
    let (to, query) = location.split_once('?').unwrap();
    assert_eq!(to, CALLBACK);
    let parameters: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(parameters["iss"], base);
    assert_eq!(parameters["state"], "st&te=1");

    clock.advance(Duration::seconds(2));
    let authorization = basic(STANDARD_CLIENT);
    let token = send(
        addr,
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", &parameters["code"]),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ]),
    );
    assert_eq!(token.status, 200, "{}", token.body);
    let access = token.json()["access_token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {access}");
    assert_eq!(
        send(addr, "GET", "/api/me", &[("Authorization", &bearer)], "").status,
        200
    );

    // The browser's history replays the code: refused, and the tokens die.
    let replay = send(
        addr,
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[
            ("grant_type", "authorization_code"),
            ("code", &parameters["code"]),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ]),
    );
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(
        send(addr, "GET", "/api/me", &[("Authorization", &bearer)], "").status,
        401
    );
    let stats = front.with_emulator(|server| server.stats().clone());
    assert_eq!(
        (
            stats.code_exchanges,
            stats.code_replays,
            stats.metadata_requests
        ),
        (1, 1, 1)
    );

    // The person refuses next time.
    front.with_emulator(|server| server.set_authorization_decision(AuthorizationDecision::Deny));
    let denied = send(addr, "GET", &uri, &[], "");
    assert!(denied
        .header("location")
        .unwrap()
        .contains("error=access_denied"));
}
