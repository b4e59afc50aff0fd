//! Property test: arbitrary bytes and arbitrary JSON, with any status and headers, into
//! every dialect's response parsers. They never panic, and a response they accept always
//! becomes a token set with an access token and an expiry — or a typed error.

use oauth_lifecycle::dialect::{
    Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Dialect, Environment, Standard,
    TokenLocation,
};
use oauth_lifecycle::{Policy, Purpose, TokenSet};
use proptest::prelude::*;
use serde_json::{json, Value};
use time::macros::utc_datetime;
use time::UtcDateTime;

const NOW: UtcDateTime = utc_datetime!(2026-05-01 00:00:00);

/// Arbitrary JSON, biased towards the field names token responses use.
fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("access_token".to_owned()),
        Just("refresh_token".to_owned()),
        Just("token_type".to_owned()),
        Just("expires_in".to_owned()),
        Just("refresh_expires_in".to_owned()),
        Just("user".to_owned()),
        Just("frontend_token".to_owned()),
        Just("id_token".to_owned()),
        Just("not-before-policy".to_owned()),
        Just("session_state".to_owned()),
        Just("scope".to_owned()),
        Just("token".to_owned()),
        Just("error".to_owned()),
        Just("error_description".to_owned()),
        Just("message".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!("Bearer")),
        Just(json!("2026-06-01T00:00:00.000Z")),
        Just(json!("1970-01-01T00:00:00Z")),
        Just(json!("9999-12-31T23:59:59Z")),
        Just(json!("")),
        ".{0,16}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 8, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..128),
        arbitrary_json().prop_map(|value| value.to_string().into_bytes()),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        4 => Just(200_u16),
        1 => prop_oneof![Just(201_u16), Just(204), Just(400), Just(401), Just(403), Just(429), Just(500), Just(503)],
        1 => 100_u16..600,
    ]
}

fn header() -> impl Strategy<Value = Option<(&'static str, String)>> {
    prop_oneof![
        Just(None),
        "[ -~]{0,24}".prop_map(|v| Some(("authorization", v))),
        "[ -~]{0,24}".prop_map(|v| Some(("retry-after", v))),
        "[ -~]{0,32}".prop_map(|v| Some(("date", v))),
        Just(Some(("date", "Fri, 01 May 2026 00:00:00 GMT".to_owned()))),
    ]
}

/// Runs `response` through `dialect`'s parsers; checks what comes out.
fn check<D: Dialect>(dialect: &D, status: u16, header: &Option<(&str, String)>, body: &[u8]) {
    let mut response = http::Response::builder().status(status);
    if let Some((name, value)) = header {
        if let Ok(value) = http::HeaderValue::from_str(value) {
            response = response.header(*name, value);
        }
    }
    let response = response.body(body.to_vec()).unwrap();
    for purpose in [Purpose::Login, Purpose::Refresh] {
        let Ok(grant) = dialect.parse_token_response(purpose, &response) else {
            continue;
        };
        assert!((200..300).contains(&status), "a token from status {status}");
        assert!(
            !grant.access_token.secret().is_empty(),
            "a token without an access token"
        );
        if let Ok(tokens) = TokenSet::from_grant(grant, &Policy::default(), NOW, NOW, None) {
            assert!(
                tokens.expires_at() > NOW,
                "a token set without a future expiry"
            );
            assert!(tokens.hard_expiry() <= tokens.expires_at());
            assert!(tokens.refresh_at() <= tokens.expires_at());
        }
    }
    let _ = dialect.parse_revocation_response(&response);
}

fn standard() -> Standard {
    Standard::builder("https://a.example/token", "c")
        .build()
        .unwrap()
}

fn v2() -> ConvirzaV2 {
    ConvirzaV2::builder("c", "s", "u", "p").build().unwrap()
}

fn v3() -> ConvirzaV3 {
    ConvirzaV3::builder("u@example.com", "p").build().unwrap()
}

fn keycloak() -> Convercus {
    Convercus::builder("abc", Environment::Production, "s")
        .password("u", "p")
        .build()
        .unwrap()
}

fn legacy(location: TokenLocation) -> ConvercusLegacy {
    ConvercusLegacy::builder("o", "u", "p", Environment::Production)
        .token_location(location)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_parser_panics_or_yields_a_token_without_access_token_and_expiry(
        status in status(),
        header in header(),
        body in body(),
    ) {
        check(&standard(), status, &header, &body);
        check(&v2(), status, &header, &body);
        check(&v3(), status, &header, &body);
        check(&keycloak(), status, &header, &body);
        check(&legacy(TokenLocation::default()), status, &header, &body);
        check(&legacy(TokenLocation::json_field("user.token")), status, &header, &body);
        check(&legacy(TokenLocation::header(http::header::AUTHORIZATION)), status, &header, &body);
    }
}
