//! Every request each provider dialect emits: snapshotted field by field, and compared
//! with the providers' own curl and HTTPie examples, quoted below as the documents give
//! them, with the documents' example credentials.

mod support;

use std::collections::BTreeMap;

use oauth_lifecycle::dialect::{
    Convercus, ConvercusLegacy, ConvirzaV2, ConvirzaV3, Dialect, Environment, TokenLocation,
};
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{
    AccessToken, Policy, RefreshToken, Revocation, Session, TokenKind, TokenRequest,
};
use support::render::render;
use time::macros::utc_datetime;
use time::UtcDateTime;

const NOW: UtcDateTime = utc_datetime!(2026-03-01 09:00:00);

/// A password with every character form and JSON encoding must get right.
const AWKWARD: &str = "p&ss=w+rd %\"é\n\\'ü\u{1F512}";

// ---------------------------------------------------------------------------------------
// The documents' examples, verbatim.

const V2_LOGIN: &str = r#"curl --location --request POST 'https://apicfa.convirza.com/oauth/token' \
--data-urlencode 'grant_type=password' \
--data-urlencode 'username=user@convirza.com' \
--data-urlencode 'password=mySecurePassword123' \
--data-urlencode 'client_id=system' \
--data-urlencode 'client_secret=f558ba166258089b2ef322c340554c'"#;

const V3_LOGIN: &str = r#"curl --location --request POST 'https://platform-oauth.convirza.com/oauth/token' \
--header 'Content-Type: application/json' \
--data-raw '{
    "email": "user@example.com",
    "password": "SecurePassword123!"
}'"#;

const V3_REFRESH: &str = r#"curl --location --request POST 'https://platform-oauth.convirza.com/oauth/refresh-token' \
--header 'Content-Type: application/json' \
--data-raw '{
    "refresh_token": "xyz789refresh012345678901234567890"
}'"#;

const KEYCLOAK_CLIENT_CREDENTIALS_STAGING: &str = r#"http --form POST https://auth-staging.convercus.io/realms/ENTERPROGRAM-staging/protocol/openid-connect/token \
grant_type='client_credentials' \
client_id='machine-2-machine' \
client_secret='ENTERCLIENTSECRET' \
scope=openid"#;

const KEYCLOAK_CLIENT_CREDENTIALS_PRODUCTION: &str = r#"http --form POST https://auth.convercus.io/realms/ENTERPROGRAM/protocol/openid-connect/token \
grant_type='client_credentials' \
client_id='machine-2-machine' \
client_secret='ENTERCLIENTSECRET' \
scope=openid"#;

const KEYCLOAK_PASSWORD_STAGING: &str = r#"http --form POST https://auth-staging.convercus.io/realms/ENTERPROGRAM-staging/protocol/openid-connect/token \
grant_type='password' \
client_id='machine-2-machine' \
client_secret='ENTERCLIENTSECRET' \
username='ENTERUSERNAME' \
password='ENTERPASSWORD' \
scope=openid"#;

const KEYCLOAK_PASSWORD_PRODUCTION: &str = r#"http --form POST https://auth.convercus.io/realms/ENTERPROGRAM/protocol/openid-connect/token \
grant_type='password' \
client_id='machine-2-machine' \
client_secret='ENTERCLIENTSECRET' \
username='ENTERUSERNAME' \
password='ENTERPASSWORD' \
scope=openid"#;

const KEYCLOAK_REFRESH_STAGING: &str = r#"http --form POST https://auth-staging.convercus.io/realms/ENTERPROGRAM-staging/protocol/openid-connect/token \
grant_type='refresh_token' \
client_id='machine-2-machine' \
client_secret='ENTERCLIENTSECRET' \
refresh_token='ENTERREFRESHTOKEN' \
scope=openid"#;

const KEYCLOAK_REFRESH_PRODUCTION: &str = r#"http --form POST https://auth.convercus.io/realms/ENTERPROGRAM/protocol/openid-connect/token \
grant_type=client_credentials \
client_id='machine-2-machine' \
client_secret='ENTERCLIENTSECRET' \
scope=openid"#;

const LEGACY_LOGIN: &str = r#"curl --location --request POST '{{api_url}}/auth/login' \
--header 'Content-Type: application/json' \
--data-raw '{
  "org": "{{org}}",
  "userName": "{{userName}}",
  "password": "{{password}}"
}'"#;

// ---------------------------------------------------------------------------------------
// Reading the examples.

/// A request as an example describes it.
#[derive(Debug, PartialEq)]
struct Described {
    method: String,
    url: String,
    content_type: String,
    body: BTreeMap<String, String>,
}

/// Splits a shell command line into words: single quotes, backslash-newline continuations.
fn words(command: &str) -> Vec<String> {
    let command = command.replace("\\\n", " ");
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    for c in command.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// Reads a `curl` or `http --form` example.
fn describe(command: &str) -> Described {
    let words = words(command);
    let mut described = Described {
        method: "GET".into(),
        url: String::new(),
        content_type: String::new(),
        body: BTreeMap::new(),
    };
    let mut rest = words[1..].iter();
    if words[0] == "http" {
        for word in rest {
            match word.as_str() {
                "--form" => described.content_type = "application/x-www-form-urlencoded".into(),
                "POST" => described.method = "POST".into(),
                url if url.starts_with("https://") => described.url = url.into(),
                field => {
                    let (name, value) = field.split_once('=').expect("a name=value field");
                    described.body.insert(name.into(), value.into());
                }
            }
        }
        return described;
    }
    while let Some(word) = rest.next() {
        match word.as_str() {
            "--location" => {}
            "--request" => described.method = rest.next().unwrap().clone(),
            "--header" => {
                let (name, value) = rest.next().unwrap().split_once(": ").unwrap();
                if name.eq_ignore_ascii_case("content-type") {
                    described.content_type = value.into();
                }
            }
            "--data-urlencode" => {
                described.content_type = "application/x-www-form-urlencoded".into();
                let (name, value) = rest.next().unwrap().split_once('=').unwrap();
                described.body.insert(name.into(), value.into());
            }
            "--data-raw" => {
                let json: BTreeMap<String, String> =
                    serde_json::from_str(rest.next().unwrap()).expect("a JSON object of strings");
                described.body.extend(json);
            }
            url => described.url = url.into(),
        }
    }
    described
}

/// Reads one of our requests the same way.
fn describe_request(request: &TokenRequest) -> Described {
    let http = request.request();
    let content_type = http.headers()["content-type"].to_str().unwrap().to_owned();
    let body = if content_type == "application/json" {
        serde_json::from_slice(http.body()).expect("a JSON object of strings")
    } else {
        form_urlencoded::parse(http.body()).into_owned().collect()
    };
    Described {
        method: http.method().to_string(),
        url: http.uri().to_string(),
        content_type,
        body,
    }
}

// ---------------------------------------------------------------------------------------
// Our requests.

/// Login, refresh (with `refresh_token`), then the revocation of both tokens.
fn requests<D: Dialect>(make: impl Fn() -> D, refresh_token: &str) -> Vec<TokenRequest>
where
    D::Extra: Default,
{
    let mut out = Vec::new();
    let (_, login) = Session::new(make(), Policy::default())
        .unwrap()
        .login(NOW)
        .unwrap();
    out.push(login);
    let grant = TokenGrant {
        access_token: AccessToken::new("test-access-token".into()),
        refresh_token: Some(RefreshToken::new(refresh_token.into())),
        expires: Expiry::In(3600),
        refresh_expires: None,
        scope: None,
        extra: D::Extra::default(),
    };
    let active = Session::new(make(), Policy::default())
        .unwrap()
        .adopt(grant, NOW)
        .unwrap();
    let expiring = support::typestate::renewal_due(active, NOW);
    let (refreshing, refresh) = expiring.refresh(NOW).unwrap();
    out.push(refresh);
    let Revocation::Awaiting(revoking) = refreshing.revoke(NOW) else {
        panic!("a revoke during a refresh awaits it");
    };
    // The refresh fails; both old tokens remain to be revoked (when the dialect can).
    let failed = http::Response::builder()
        .status(503)
        .body(Vec::new())
        .unwrap();
    let awaited = revoking.request_id();
    let mut step = revoking.on_response(awaited, &failed, NOW).unwrap().next;
    for _ in 0..4 {
        match step {
            Revocation::Pending(session, request) => {
                let id = request.id();
                out.push(request);
                let ok = http::Response::new(Vec::new());
                step = session.on_response(id, &ok, NOW).unwrap().next;
            }
            Revocation::Done(_) => break,
            Revocation::Awaiting(_) | Revocation::Retrying(_) => {
                panic!("nothing else is in flight, and every revocation succeeded")
            }
        }
    }
    out
}

fn v2(password: &str) -> ConvirzaV2 {
    ConvirzaV2::builder(
        "system",
        "f558ba166258089b2ef322c340554c",
        "user@convirza.com",
        password,
    )
    .build()
    .unwrap()
}

fn v3(password: &str) -> ConvirzaV3 {
    ConvirzaV3::builder("user@example.com", password)
        .build()
        .unwrap()
}

fn keycloak(environment: Environment, password: Option<&str>) -> Convercus {
    let builder = Convercus::builder("ENTERPROGRAM", environment, "ENTERCLIENTSECRET");
    match password {
        Some(password) => builder.password("ENTERUSERNAME", password),
        None => builder,
    }
    .build()
    .unwrap()
}

fn legacy(password: &str) -> ConvercusLegacy {
    ConvercusLegacy::builder("{{org}}", "{{userName}}", password, Environment::Staging)
        .build()
        .unwrap()
}

/// The documents write the program in capitals; realms are lower case.
fn lower_program(mut described: Described) -> Described {
    described.url = described.url.replace("ENTERPROGRAM", "enterprogram");
    described
}

#[test]
fn convirza_v2_matches_its_curl_example() {
    let ours = requests(
        || v2("mySecurePassword123"),
        "e46d437e-346b-4de4-a2a3-5f4b610cdfe1",
    );
    assert_eq!(describe_request(&ours[0]), describe(V2_LOGIN));
    // Refresh: the standard grant on the same endpoint, client credentials in the body.
    let refresh = describe_request(&ours[1]);
    assert_eq!(refresh.url, "https://apicfa.convirza.com/oauth/token");
    assert_eq!(refresh.body["grant_type"], "refresh_token");
    assert_eq!(
        refresh.body["client_secret"],
        "f558ba166258089b2ef322c340554c"
    );
    assert_eq!(ours.len(), 2, "V2 has no revocation endpoint");
    insta::assert_snapshot!(ours.iter().map(render).collect::<Vec<_>>().join("\n"));
}

#[test]
fn convirza_v3_matches_its_curl_examples() {
    let ours = requests(
        || v3("SecurePassword123!"),
        "xyz789refresh012345678901234567890",
    );
    assert_eq!(describe_request(&ours[0]), describe(V3_LOGIN));
    assert_eq!(describe_request(&ours[1]), describe(V3_REFRESH));
    assert!(
        !ours[1].is_resend_safe(),
        "a single-use refresh is never resent"
    );
    let revocations: Vec<_> = ours[2..].iter().map(describe_request).collect();
    assert_eq!(revocations.len(), 2);
    for (described, (token, kind)) in revocations.iter().zip([
        ("xyz789refresh012345678901234567890", "refresh"),
        ("test-access-token", "access"),
    ]) {
        assert_eq!(
            described.url,
            "https://platform-oauth.convirza.com/oauth/revoke-token"
        );
        assert_eq!(described.content_type, "application/json");
        assert_eq!(described.body["token"], token);
        assert_eq!(described.body["token_type"], kind);
    }
    for request in &ours {
        assert!(request.request().headers().get("authorization").is_none());
    }
    insta::assert_snapshot!(ours.iter().map(render).collect::<Vec<_>>().join("\n"));
}

#[test]
fn convercus_matches_its_httpie_examples() {
    for (environment, client_credentials, password, refresh) in [
        (
            Environment::Staging,
            KEYCLOAK_CLIENT_CREDENTIALS_STAGING,
            KEYCLOAK_PASSWORD_STAGING,
            KEYCLOAK_REFRESH_STAGING,
        ),
        (
            Environment::Production,
            KEYCLOAK_CLIENT_CREDENTIALS_PRODUCTION,
            KEYCLOAK_PASSWORD_PRODUCTION,
            // The production refresh example repeats the client credentials request
            // (renewal without a refresh token), so it is compared as such.
            KEYCLOAK_REFRESH_PRODUCTION,
        ),
    ] {
        let machine = requests(|| keycloak(environment, None), "ENTERREFRESHTOKEN");
        assert_eq!(
            describe_request(&machine[0]),
            lower_program(describe(client_credentials))
        );
        let user = requests(
            || keycloak(environment, Some("ENTERPASSWORD")),
            "ENTERREFRESHTOKEN",
        );
        assert_eq!(
            describe_request(&user[0]),
            lower_program(describe(password))
        );
        if environment == Environment::Staging {
            assert_eq!(describe_request(&user[1]), lower_program(describe(refresh)));
        } else {
            assert_eq!(
                describe_request(&machine[0]),
                lower_program(describe(refresh))
            );
        }
        let revoke = describe_request(&user[2]);
        assert!(revoke.url.ends_with("/protocol/openid-connect/revoke"));
        assert_eq!(revoke.body["token"], "ENTERREFRESHTOKEN");
        assert_eq!(revoke.body["token_type_hint"], "refresh_token");
        assert_eq!(revoke.body["client_id"], "machine-2-machine");
    }
    let staging = requests(
        || keycloak(Environment::Staging, Some("ENTERPASSWORD")),
        "ENTERREFRESHTOKEN",
    );
    insta::assert_snapshot!(staging.iter().map(render).collect::<Vec<_>>().join("\n"));
    // Production: the realm is the program itself, on auth.convercus.io.
    let production = requests(
        || keycloak(Environment::Production, Some("ENTERPASSWORD")),
        "ENTERREFRESHTOKEN",
    );
    assert_eq!(
        production[0].request().uri(),
        "https://auth.convercus.io/realms/enterprogram/protocol/openid-connect/token"
    );
    insta::assert_snapshot!(
        "convercus_production_realm",
        production.iter().map(render).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn convercus_legacy_matches_its_curl_example() {
    let ours = requests(|| legacy("{{password}}"), "unused");
    let example = describe(&LEGACY_LOGIN.replace("{{api_url}}", "https://staging.convercus.io"));
    assert_eq!(describe_request(&ours[0]), example);
    // No refresh: renewal is a new login. No revocation.
    assert_eq!(ours[1].purpose(), oauth_lifecycle::Purpose::Login);
    assert_eq!(ours.len(), 2);
    let production = ConvercusLegacy::builder("o", "u", "p", Environment::Production)
        .token_location(TokenLocation::json_field("data.token"))
        .build()
        .unwrap();
    assert_eq!(
        production.login_request().unwrap().uri(),
        "https://api.convercus.io/auth/login"
    );
    insta::assert_snapshot!(ours.iter().map(render).collect::<Vec<_>>().join("\n"));
}

#[test]
fn awkward_passwords_survive_form_and_json_encoding_exactly() {
    let form_password = |request: http::Request<Vec<u8>>| {
        form_urlencoded::parse(request.body())
            .find(|(name, _)| name == "password")
            .map(|(_, value)| value.into_owned())
    };
    let json_password = |request: http::Request<Vec<u8>>| {
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        body["password"].as_str().map(str::to_owned)
    };
    let awkward = Some(AWKWARD.to_owned());
    assert_eq!(form_password(v2(AWKWARD).login_request().unwrap()), awkward);
    assert_eq!(
        form_password(
            keycloak(Environment::Staging, Some(AWKWARD))
                .login_request()
                .unwrap()
        ),
        awkward
    );
    assert_eq!(json_password(v3(AWKWARD).login_request().unwrap()), awkward);
    assert_eq!(
        json_password(legacy(AWKWARD).login_request().unwrap()),
        awkward
    );
}

#[test]
fn revocation_kinds_name_the_token() {
    let dialect = v3("x");
    for (kind, name) in [
        (TokenKind::Access, "access"),
        (TokenKind::Refresh, "refresh"),
    ] {
        let request = dialect.revocation_request("t", kind).unwrap();
        let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
        assert_eq!(body["token_type"], name);
    }
    let renamed = ConvirzaV3::builder("a@b.c", "x")
        .revocation_token_field("access_token")
        .build()
        .unwrap();
    let request = renamed.revocation_request("t", TokenKind::Access).unwrap();
    let body: serde_json::Value = serde_json::from_slice(request.body()).unwrap();
    assert_eq!(body["access_token"], "t");
}
