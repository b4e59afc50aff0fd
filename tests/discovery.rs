//! Discovery (RFC 8414, OpenID Connect Discovery): hostile and broken metadata responses
//! each read as their typed error, never a panic, with bounded messages; and discovery
//! against real servers on 127.0.0.1 (panva's oidc-provider, django-oauth-toolkit),
//! through to a token issued with the configuration it built.

use oauth_lifecycle::dialect::discovery::{
    Discovery, DiscoveryError, Expected, IssuerProblem, ServerMetadata, WellKnown, MAX_EXCERPT,
    MAX_METADATA_BYTES,
};
use oauth_lifecycle::dialect::{ClientAuth, Standard};
use oauth_lifecycle::error::RetryAfter;
use oauth_lifecycle::{Dialect, Driver, Event, Output, Policy, Purpose, TokenKind, TransportError};
use oauth_lifecycle_testkit::errors::assert_reads_as_sentence;
use oauth_lifecycle_testkit::{
    send, start_django_oauth_toolkit, start_oidc_provider, DOT_MACHINE_CLIENT, OIDC_BASIC_CLIENT,
    OIDC_POST_CLIENT,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use time::UtcDateTime;

const ISSUER: &str = "https://auth.example.com";

/// The longest message any discovery error may print: fixed text, a few excerpts.
const MAX_MESSAGE: usize = 512;

fn response(status: u16, body: impl Into<Vec<u8>>) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.into())
        .unwrap()
}

fn metadata_json(extra: Value) -> Vec<u8> {
    let mut document = json!({
        "issuer": ISSUER,
        "token_endpoint": "https://auth.example.com/token",
        "revocation_endpoint": "https://auth.example.com/revoke",
    });
    for (key, value) in extra.as_object().expect("an object") {
        document[key] = value.clone();
    }
    serde_json::to_vec(&document).unwrap()
}

fn read(response: &http::Response<Vec<u8>>) -> Result<ServerMetadata, DiscoveryError> {
    Discovery::new(ISSUER).unwrap().read(response)
}

/// Holds every message to the rules: bounded, one line of printable text.
#[track_caller]
fn assert_bounded(error: &DiscoveryError) {
    let message = error.to_string();
    assert!(
        message.len() <= MAX_MESSAGE,
        "{} bytes: {message}",
        message.len()
    );
    assert!(
        !message.chars().any(char::is_control),
        "a control character in {message:?}"
    );
}

#[test]
fn hostile_and_broken_responses_each_give_their_typed_error() {
    let too_large = {
        let mut body = metadata_json(json!({}));
        body.resize(MAX_METADATA_BYTES + 1, b' ');
        body
    };
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let html = http::Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .body(b"<html>sign in: password=hunter2</html>".to_vec())
        .unwrap();
    let retry = http::Response::builder()
        .status(503)
        .header("retry-after", "120")
        .body(b"down".to_vec())
        .unwrap();
    let wrong_type = |field: &'static str, expected| DiscoveryError::WrongType { field, expected };
    let cases: Vec<(&str, http::Response<Vec<u8>>, DiscoveryError)> = vec![
        (
            "not found",
            response(404, "<h1>Not Found</h1>"),
            DiscoveryError::Status {
                status: http::StatusCode::NOT_FOUND,
            },
        ),
        (
            "a redirect",
            response(302, ""),
            DiscoveryError::Status {
                status: http::StatusCode::FOUND,
            },
        ),
        (
            "another success status",
            response(203, metadata_json(json!({}))),
            DiscoveryError::Status {
                status: http::StatusCode::NON_AUTHORITATIVE_INFORMATION,
            },
        ),
        (
            "unavailable, with Retry-After",
            retry,
            DiscoveryError::Unavailable {
                status: http::StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(RetryAfter::Seconds(120)),
            },
        ),
        (
            "rate-limited",
            response(429, ""),
            DiscoveryError::Unavailable {
                status: http::StatusCode::TOO_MANY_REQUESTS,
                retry_after: None,
            },
        ),
        (
            "a body one byte too large",
            response(200, too_large),
            DiscoveryError::TooLarge {
                limit: MAX_METADATA_BYTES,
            },
        ),
        (
            "an HTML page",
            html,
            DiscoveryError::NotJson {
                content_type: Some("text/html; charset=utf-8".into()),
            },
        ),
        (
            "an empty body",
            response(200, ""),
            DiscoveryError::NotJson { content_type: None },
        ),
        (
            "JSON nested past the parser's depth",
            response(200, deep),
            DiscoveryError::NotJson { content_type: None },
        ),
        (
            "an array",
            response(200, r#"[{"issuer":"https://auth.example.com"}]"#),
            DiscoveryError::NotAnObject,
        ),
        (
            "a string",
            response(200, r#""https://auth.example.com""#),
            DiscoveryError::NotAnObject,
        ),
        ("null", response(200, "null"), DiscoveryError::NotAnObject),
        (
            "no issuer",
            response(
                200,
                r#"{"token_endpoint":"https://auth.example.com/token"}"#,
            ),
            DiscoveryError::MissingField { field: "issuer" },
        ),
        (
            "a numeric issuer",
            response(200, metadata_json(json!({"issuer": 1}))),
            wrong_type("issuer", Expected::String),
        ),
        (
            "another server's issuer",
            response(
                200,
                metadata_json(json!({"issuer": "https://evil.example.com"})),
            ),
            DiscoveryError::IssuerMismatch {
                found: "https://evil.example.com".into(),
                only_trailing_slash: false,
            },
        ),
        (
            "the issuer with a trailing slash",
            response(
                200,
                metadata_json(json!({"issuer": "https://auth.example.com/"})),
            ),
            DiscoveryError::IssuerMismatch {
                found: "https://auth.example.com/".into(),
                only_trailing_slash: true,
            },
        ),
        (
            "the issuer in capitals",
            response(
                200,
                metadata_json(json!({"issuer": "https://AUTH.example.com"})),
            ),
            DiscoveryError::IssuerMismatch {
                found: "https://AUTH.example.com".into(),
                only_trailing_slash: false,
            },
        ),
        (
            "a long issuer with a forged log line",
            response(
                200,
                metadata_json(json!({
                    "issuer": format!("https://e.example/\n[ERROR] forged \"{}", "x".repeat(10_000))
                })),
            ),
            DiscoveryError::IssuerMismatch {
                found: format!(
                    "https://e.example/?[ERROR] forged ?{}...",
                    "x".repeat(MAX_EXCERPT - 35)
                ),
                only_trailing_slash: false,
            },
        ),
        (
            "no token endpoint",
            response(200, r#"{"issuer":"https://auth.example.com"}"#),
            DiscoveryError::MissingField {
                field: "token_endpoint",
            },
        ),
        (
            "a null token endpoint",
            response(200, metadata_json(json!({"token_endpoint": null}))),
            DiscoveryError::MissingField {
                field: "token_endpoint",
            },
        ),
        (
            "a plain-http token endpoint on a remote host",
            response(
                200,
                metadata_json(json!({"token_endpoint": "http://auth.example.com/token"})),
            ),
            DiscoveryError::InsecureEndpoint {
                field: "token_endpoint",
            },
        ),
        (
            "a plain-http revocation endpoint on a look-alike of localhost",
            response(
                200,
                metadata_json(json!({"revocation_endpoint": "http://localhost.evil.com/r"})),
            ),
            DiscoveryError::InsecureEndpoint {
                field: "revocation_endpoint",
            },
        ),
        (
            "a relative device authorization endpoint",
            response(
                200,
                metadata_json(json!({"device_authorization_endpoint": "/device"})),
            ),
            DiscoveryError::InvalidEndpoint {
                field: "device_authorization_endpoint",
            },
        ),
        (
            "a numeric authorization endpoint",
            response(200, metadata_json(json!({"authorization_endpoint": 42}))),
            wrong_type("authorization_endpoint", Expected::String),
        ),
        (
            "methods as one string",
            response(
                200,
                metadata_json(
                    json!({"token_endpoint_auth_methods_supported": "client_secret_basic"}),
                ),
            ),
            wrong_type("token_endpoint_auth_methods_supported", Expected::Strings),
        ),
        (
            "a grant type that is a number",
            response(
                200,
                metadata_json(json!({"grant_types_supported": ["client_credentials", 1]})),
            ),
            wrong_type("grant_types_supported", Expected::Strings),
        ),
        (
            "scopes as an object",
            response(200, metadata_json(json!({"scopes_supported": {}}))),
            wrong_type("scopes_supported", Expected::Strings),
        ),
        (
            "revocation methods as a number",
            response(
                200,
                metadata_json(json!({"revocation_endpoint_auth_methods_supported": 1})),
            ),
            wrong_type(
                "revocation_endpoint_auth_methods_supported",
                Expected::Strings,
            ),
        ),
        (
            "PKCE methods as a boolean",
            response(
                200,
                metadata_json(json!({"code_challenge_methods_supported": true})),
            ),
            wrong_type("code_challenge_methods_supported", Expected::Strings),
        ),
        (
            "the RFC 9207 flag as a string",
            response(
                200,
                metadata_json(json!({"authorization_response_iss_parameter_supported": "true"})),
            ),
            wrong_type(
                "authorization_response_iss_parameter_supported",
                Expected::Boolean,
            ),
        ),
    ];
    for (name, response, expected) in cases {
        let error = read(&response).expect_err(name);
        assert_eq!(error, expected, "{name}");
        assert_reads_as_sentence(&error);
        assert_bounded(&error);
        let shown = format!("{error} {error:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("Not Found") && !shown.contains("down"),
            "{name}: the body is quoted in {shown}"
        );
    }
}

#[test]
fn a_document_of_exactly_the_limit_is_read_and_unknown_fields_are_ignored() {
    let mut body = metadata_json(json!({
        "mtls_endpoint_aliases": {"token_endpoint": 7},
        "x-vendor": [null, {"a": []}],
        "introspection_endpoint": "http://anything.example/",
        "scopes_supported": ["openid", "api:read"],
        "authorization_response_iss_parameter_supported": true,
        "code_challenge_methods_supported": ["plain", "S256"],
        "device_authorization_endpoint": "https://auth.example.com/device",
        "authorization_endpoint": null,
    }));
    body.resize(MAX_METADATA_BYTES, b' ');
    let metadata = read(&response(200, body)).unwrap();
    assert_eq!(metadata.issuer(), ISSUER);
    assert_eq!(
        metadata.token_endpoint().uri(),
        "https://auth.example.com/token"
    );
    assert_eq!(
        metadata.revocation_endpoint().unwrap().uri(),
        "https://auth.example.com/revoke"
    );
    assert_eq!(
        metadata.device_authorization_endpoint().unwrap().uri(),
        "https://auth.example.com/device"
    );
    assert!(metadata.authorization_endpoint().is_none());
    assert_eq!(
        metadata.scopes_supported(),
        Some(&["openid".to_owned(), "api:read".to_owned()][..])
    );
    assert!(metadata.supports_pkce_s256());
    assert!(metadata.authorization_response_iss_parameter_supported());
    assert!(metadata.supports_grant("authorization_code"));
    assert!(!metadata.supports_grant("client_credentials"));
}

#[test]
fn the_configuration_follows_the_servers_client_authentication() {
    let metadata = |methods: Value| {
        read(&response(
            200,
            metadata_json(json!({ "token_endpoint_auth_methods_supported": methods })),
        ))
        .unwrap()
    };
    let build = |metadata: &ServerMetadata, secret| {
        metadata
            .standard("client", secret)
            .map(|builder| builder.build().expect("a valid configuration"))
    };

    let basic = build(&metadata(json!(["none", "client_secret_basic"])), Some("s")).unwrap();
    assert_eq!(basic.client_auth(), ClientAuth::Basic);
    assert_eq!(
        basic.token_endpoint().uri(),
        "https://auth.example.com/token"
    );
    let post = build(&metadata(json!(["client_secret_post"])), Some("s")).unwrap();
    assert_eq!(post.client_auth(), ClientAuth::Post);
    let public = build(&metadata(json!(["none"])), None).unwrap();
    let login = public.login_request().unwrap();
    assert!(login.headers().get("authorization").is_none());
    assert!(String::from_utf8_lossy(login.body()).contains("client_id=client"));
    // The revocation endpoint is configured too.
    assert!(public.revocation_request("t", TokenKind::Access).is_some());

    let error = build(
        &metadata(json!(["private_key_jwt", "tls_client_auth"])),
        Some("s"),
    )
    .expect_err("no secret-based method");
    assert_eq!(
        error.to_string(),
        "unsupported client authentication: a client with a secret needs \
         client_secret_basic or client_secret_post, and the server supports only \
         private_key_jwt, tls_client_auth"
    );
    assert_reads_as_sentence(&error);
    let error = build(&metadata(json!(["client_secret_basic"])), None).expect_err("no none");
    assert_eq!(
        error.to_string(),
        "unsupported client authentication: a client without a secret needs the method \
         none, and the server supports only client_secret_basic"
    );
    let error = build(&metadata(json!([])), Some("s")).expect_err("nothing listed");
    assert!(error.to_string().ends_with("the server lists no method"));

    // A long hostile list is named in part.
    let many: Vec<String> = (0..200)
        .map(|i| format!("method-{i}-{}\n", "y".repeat(200)))
        .collect();
    let error = build(&metadata(json!(many)), Some("s")).expect_err("none usable");
    let DiscoveryError::UnsupportedClientAuth {
        supported, more, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((supported.len(), *more), (8, 192));
    assert!(error.to_string().ends_with(" and 192 more"));
    assert_bounded(&error);
}

#[test]
fn every_error_reads_as_a_sentence() {
    let errors = [
        Discovery::new("http://auth.example.com").unwrap_err(),
        Discovery::new("https://auth.example.com/?tenant=1").unwrap_err(),
        Discovery::new("https://auth.example.com/#x").unwrap_err(),
        Discovery::new("https://me:pw@auth.example.com").unwrap_err(),
        Discovery::new("auth.example.com").unwrap_err(),
        Discovery::new(&format!("https://a.example/{}", "x".repeat(4096))).unwrap_err(),
    ];
    for error in &errors {
        assert!(
            matches!(error, DiscoveryError::InvalidIssuer { .. }),
            "{error:?}"
        );
        assert_reads_as_sentence(error);
        assert_bounded(error);
    }
    assert_eq!(
        errors[0],
        DiscoveryError::InvalidIssuer {
            reason: IssuerProblem::Insecure
        }
    );
    assert!(!errors[3].to_string().contains("pw"));
}

/// Arbitrary JSON documents biased towards the metadata's own fields and plausible values.
fn arbitrary_metadata() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("issuer".to_owned()),
        Just("token_endpoint".to_owned()),
        Just("revocation_endpoint".to_owned()),
        Just("device_authorization_endpoint".to_owned()),
        Just("authorization_endpoint".to_owned()),
        Just("token_endpoint_auth_methods_supported".to_owned()),
        Just("revocation_endpoint_auth_methods_supported".to_owned()),
        Just("code_challenge_methods_supported".to_owned()),
        Just("grant_types_supported".to_owned()),
        Just("scopes_supported".to_owned()),
        Just("authorization_response_iss_parameter_supported".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        Just(json!(ISSUER)),
        Just(json!("https://auth.example.com/")),
        Just(json!("https://auth.example.com/token")),
        Just(json!("http://127.0.0.1:9/token")),
        Just(json!("http://auth.example.com/token")),
        Just(json!("client_secret_basic")),
        Just(json!("client_secret_post")),
        Just(json!("none")),
        Just(json!("S256")),
        ".{0,24}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(2, 16, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..3)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    });
    let fields = proptest::collection::vec((key, value), 0..12);
    // Most documents start from a valid one, so the checks past the issuer are reached.
    (proptest::bool::weighted(0.75), fields).prop_map(|(from_valid, fields)| {
        let mut document = if from_valid {
            json!({"issuer": ISSUER, "token_endpoint": "https://auth.example.com/token"})
        } else {
            json!({})
        };
        let overrides = if from_valid { 1 } else { fields.len() };
        for (key, value) in fields.into_iter().take(overrides) {
            document[key] = value;
        }
        document
    })
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        8 => Just(200u16),
        1 => 100u16..600,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_messages_stay_bounded(
        status in status(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
        content_type in proptest::option::of(proptest::collection::vec(32u8..127, 0..200)),
    ) {
        let mut builder = http::Response::builder().status(status);
        if let Some(content_type) = content_type {
            builder = builder.header("content-type", content_type);
        }
        let response = builder.body(body).unwrap();
        if let Err(error) = read(&response) {
            assert_bounded(&error);
        }
    }

    #[test]
    fn arbitrary_metadata_is_read_or_refused_and_messages_stay_bounded(
        document in arbitrary_metadata(),
        secret in proptest::option::of(Just("s3cret")),
    ) {
        let response = response(200, serde_json::to_vec(&document).unwrap());
        match read(&response) {
            Ok(metadata) => {
                prop_assert_eq!(metadata.issuer(), ISSUER);
                prop_assert_eq!(document["issuer"].as_str(), Some(ISSUER));
                let scheme = metadata.token_endpoint().uri().scheme_str();
                prop_assert!(scheme == Some("https") || scheme == Some("http"));
                match metadata.standard("client", secret) {
                    Ok(builder) => {
                        prop_assert!(builder.build().is_ok());
                    }
                    Err(error) => {
                        let is_unsupported =
                            matches!(error, DiscoveryError::UnsupportedClientAuth { .. });
                        prop_assert!(is_unsupported, "{:?}", error);
                        assert_bounded(&error);
                    }
                }
            }
            Err(error) => assert_bounded(&error),
        }
    }
}

// Real servers on 127.0.0.1. Time is the real clock, because the servers' is.

fn now() -> UtcDateTime {
    UtcDateTime::now()
}

/// Sends the discovery request over a real socket and reads the answer.
fn discover(discovery: &Discovery) -> Result<ServerMetadata, DiscoveryError> {
    let response = send(&discovery.request()).expect("the server answers");
    discovery.read(&response)
}

/// Sends every request the driver emits and feeds back the responses until it waits;
/// returns the events and the purposes of the requests sent.
fn run(driver: &mut Driver<Standard>) -> (Vec<Event>, Vec<Purpose>) {
    let mut events = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..32 {
        match driver.poll_output() {
            Output::Request(request) => {
                sent.push(request.purpose());
                match send(request.request()) {
                    Ok(response) => driver
                        .handle_response(request.id(), &response, now())
                        .unwrap(),
                    Err(_) => driver
                        .handle_transport_error(request.id(), TransportError::OutcomeUnknown, now())
                        .unwrap(),
                }
            }
            Output::Event(event) => events.push(event),
            Output::Persist => {}
            Output::Timeout(_) | Output::Idle => return (events, sent),
        }
    }
    panic!("the driver never settled");
}

/// Logs in with `dialect` and returns the driver holding the token.
fn logged_in(dialect: Standard) -> Driver<Standard> {
    let mut driver = Driver::new(dialect, Policy::default()).unwrap();
    driver.handle_timeout(now());
    let (events, sent) = run(&mut driver);
    assert_eq!(sent, [Purpose::Login]);
    assert!(
        matches!(events[..], [Event::TokenIssued { renewal: false, .. }]),
        "{events:?}"
    );
    driver
}

#[test]
fn oidc_provider_is_discovered_and_its_configuration_logs_in_and_revokes() {
    let peer = start_oidc_provider(300);
    let metadata = discover(&Discovery::new(&peer.base_url).unwrap()).unwrap();
    assert_eq!(metadata.issuer(), peer.base_url);
    assert_eq!(metadata.token_endpoint().uri(), peer.url("/token").as_str());
    assert_eq!(
        metadata.revocation_endpoint().map(|e| e.uri().to_string()),
        Some(peer.url("/token/revocation"))
    );
    assert!(metadata.supports_grant("client_credentials"));
    assert!(metadata.supports_pkce_s256());
    assert!(metadata.authorization_response_iss_parameter_supported());
    assert!(metadata.supports_token_endpoint_auth("none"));

    // RFC 8414's location serves the same document for an issuer without a path.
    let rfc8414 =
        Discovery::with_well_known(&peer.base_url, WellKnown::OAuthAuthorizationServer).unwrap();
    assert_eq!(discover(&rfc8414).unwrap(), metadata);

    // A client registered for client_secret_basic: the server's first choice.
    let (id, secret) = OIDC_BASIC_CLIENT;
    let builder = metadata.standard(id, Some(secret)).unwrap();
    let dialect = builder.scope("api:read").build().unwrap();
    assert_eq!(dialect.client_auth(), ClientAuth::Basic);
    let mut driver = logged_in(dialect);
    let token = driver.access_token(now()).unwrap().secret().to_owned();
    assert!(peer.oidc_token_active(&token));
    assert_eq!(driver.session().tokens().unwrap().scope(), Some("api:read"));

    // The revocation endpoint came from the metadata too.
    driver.revoke(now());
    let (events, sent) = run(&mut driver);
    assert_eq!(sent, [Purpose::Revoke(TokenKind::Access)]);
    assert!(matches!(events.last(), Some(Event::Revoked)), "{events:?}");
    assert!(!peer.oidc_token_active(&token));

    // A client registered for client_secret_post says so, once the server supports it.
    let (id, secret) = OIDC_POST_CLIENT;
    assert!(metadata.supports_token_endpoint_auth("client_secret_post"));
    let dialect = metadata
        .standard(id, Some(secret))
        .unwrap()
        .client_auth(ClientAuth::Post)
        .build()
        .unwrap();
    let driver = logged_in(dialect);
    assert!(driver.access_token(now()).is_some());
}

#[test]
fn oidc_provider_metadata_for_another_issuer_is_refused() {
    let peer = start_oidc_provider(300);
    // The same server reached by another name: its metadata names 127.0.0.1.
    let other = format!("http://localhost:{}", peer.port());
    let error = discover(&Discovery::new(&other).unwrap()).unwrap_err();
    assert_eq!(
        error,
        DiscoveryError::IssuerMismatch {
            found: peer.base_url.clone(),
            only_trailing_slash: false,
        }
    );
    assert_reads_as_sentence(&error);
    // The issuer with a trailing slash finds the document, and is told what differs.
    let slashed = format!("{}/", peer.base_url);
    let discovery = Discovery::new(&slashed).unwrap();
    assert_eq!(
        discovery.url().to_string(),
        peer.url("/.well-known/openid-configuration")
    );
    let error = discover(&discovery).unwrap_err();
    assert!(
        matches!(
            error,
            DiscoveryError::IssuerMismatch {
                only_trailing_slash: true,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("trailing slash"));
}

#[test]
fn django_oauth_toolkit_is_discovered_at_the_rfc_8414_location() {
    let peer = start_django_oauth_toolkit(300);
    // The issuer has a path (the toolkit is mounted under /o/): RFC 8414 puts its
    // metadata at /.well-known/oauth-authorization-server/o.
    let issuer = peer.url("/o");
    let discovery =
        Discovery::with_well_known(&issuer, WellKnown::OAuthAuthorizationServer).unwrap();
    assert_eq!(
        discovery.url().to_string(),
        peer.url("/.well-known/oauth-authorization-server/o")
    );
    let metadata = discover(&discovery).unwrap();
    assert_eq!(metadata.issuer(), issuer);
    assert_eq!(
        metadata.token_endpoint().uri(),
        peer.url("/o/token/").as_str()
    );
    assert_eq!(
        metadata.revocation_endpoint().map(|e| e.uri().to_string()),
        Some(peer.url("/o/revoke_token/"))
    );
    assert!(metadata.supports_grant("client_credentials"));
    assert!(metadata.supports_grant("password"));
    assert!(metadata.supports_pkce_s256());

    let (id, secret) = DOT_MACHINE_CLIENT;
    let dialect = metadata
        .standard(id, Some(secret))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(dialect.client_auth(), ClientAuth::Basic);
    let mut driver = logged_in(dialect);
    driver.revoke(now());
    let (events, sent) = run(&mut driver);
    assert_eq!(sent, [Purpose::Revoke(TokenKind::Access)]);
    assert!(matches!(events.last(), Some(Event::Revoked)), "{events:?}");

    // Without OpenID Connect enabled, the toolkit has no openid-configuration: a 404.
    let error = discover(&Discovery::new(&issuer).unwrap()).unwrap_err();
    assert_eq!(
        error,
        DiscoveryError::Status {
            status: http::StatusCode::NOT_FOUND
        }
    );
}
