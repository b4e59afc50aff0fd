//! The authorization code grant's pure pieces: the authorization URL, every kind of
//! redirect read to its typed outcome, the code exchange request for each client
//! authentication, snapshots of both, and hostile redirects that never panic nor leak a
//! secret into a message.

mod support;

use base64::Engine as _;
use oauth_lifecycle::dialect::authorization::{
    AuthorizationCode, AuthorizationErrorCode, AuthorizationRequest, AuthorizationRequestError,
    IssParameter, RedirectError, RedirectUriProblem, ENTROPY_BYTES, MAX_CODE_BYTES,
    MAX_REDIRECT_BYTES, MAX_URL_BYTES,
};
use oauth_lifecycle::dialect::discovery::{Discovery, IssuerProblem};
use oauth_lifecycle::dialect::{ClientAuth, Dialect, Grant, Standard};
use oauth_lifecycle::{Policy, Purpose, Session};
use oauth_lifecycle_testkit::errors::assert_reads_as_sentence;
use proptest::prelude::*;
use support::render::render_http;
use time::macros::utc_datetime;

const ENDPOINT: &str = "https://auth.example.com/authorize?tenant=acme";
const ISSUER: &str = "https://auth.example.com";
const REDIRECT_URI: &str = "http://127.0.0.1:49152/callback";
const CLIENT_ID: &str = "my-app";
const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";

/// RFC 7636 Appendix B: the 32 octets of the example's code verifier, its base64url form
/// and its S256 challenge.
const APPENDIX_B_OCTETS: [u8; 32] = [
    116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186, 22, 212, 37, 77,
    105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121,
];
const APPENDIX_B_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const APPENDIX_B_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// Entropy as a test can repeat: the Appendix B octets for the verifier, and a state
/// of bytes that vary with `seed`. A real program fills it from a CSPRNG.
fn entropy(seed: u8) -> [u8; ENTROPY_BYTES] {
    let mut entropy = [0u8; ENTROPY_BYTES];
    entropy[..32].copy_from_slice(&APPENDIX_B_OCTETS);
    for (i, byte) in entropy[32..].iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(151).wrapping_add(seed);
    }
    entropy
}

fn builder() -> oauth_lifecycle::dialect::authorization::AuthorizationRequestBuilder {
    AuthorizationRequest::builder(ENDPOINT, CLIENT_ID, REDIRECT_URI)
        .scope("openid")
        .scope("api:read")
        .param("prompt", "consent")
}

fn request(iss: Option<IssParameter>) -> AuthorizationRequest {
    let builder = match iss {
        Some(iss) => builder().issuer(ISSUER, iss),
        None => builder(),
    };
    builder.build(&mut entropy(7)).unwrap()
}

fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The query of a redirect that answers `request`, with `extra` appended.
fn answer(request: &AuthorizationRequest, extra: &str) -> String {
    format!(
        "code={CODE}&state={}&iss={}{extra}",
        request.state(),
        encode(ISSUER)
    )
}

#[test]
fn rfc_7636_appendix_b_verifier_and_challenge() {
    let request = request(None);
    assert_eq!(request.code_challenge(), APPENDIX_B_CHALLENGE);
    let url = request.url().to_string();
    assert!(
        url.contains(&format!(
            "&code_challenge={APPENDIX_B_CHALLENGE}&code_challenge_method=S256"
        )),
        "{url}"
    );
    assert!(!url.contains(APPENDIX_B_VERIFIER), "{url}");
    let code = request
        .read_redirect(&format!("/callback?code={CODE}&state={}", request.state()))
        .unwrap();
    assert_eq!(code.code_verifier(), APPENDIX_B_VERIFIER);
    let exchange = public_dialect()
        .code_exchange_request(&code)
        .expect("the dialect exchanges codes");
    assert!(fields(&exchange).contains(&("code_verifier".into(), APPENDIX_B_VERIFIER.into())));
}

#[test]
fn the_url_appends_every_parameter_to_the_endpoints_query() {
    let request = request(Some(IssParameter::Required));
    let url = request.url();
    assert_eq!(url.scheme_str(), Some("https"));
    assert_eq!(url.host(), Some("auth.example.com"));
    assert_eq!(url.path(), "/authorize");
    let query: Vec<(String, String)> = form_urlencoded::parse(url.query().unwrap().as_bytes())
        .into_owned()
        .collect();
    let expected = [
        ("tenant", "acme"),
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid api:read"),
        ("state", request.state()),
        ("code_challenge", APPENDIX_B_CHALLENGE),
        ("code_challenge_method", "S256"),
        ("prompt", "consent"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()));
    assert_eq!(query, expected);
    // Form-urlencoded, as RFC 6749 Appendix B says: `:` and `/` escaped, spaces as `+`.
    let raw = url.query().unwrap();
    assert!(raw.contains("&redirect_uri=http%3A%2F%2F127.0.0.1%3A49152%2Fcallback&"));
    assert!(raw.contains("&scope=openid+api%3Aread&"));
    // The state: 43 base64url characters (32 bytes).
    assert_eq!(request.state().len(), 43);
    assert!(request
        .state()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));

    for (endpoint, starts) in [
        (
            "https://a.example/authorize",
            "https://a.example/authorize?response_type=code&",
        ),
        (
            "https://a.example/authorize?",
            "https://a.example/authorize?response_type=code&",
        ),
        (
            "https://a.example/authorize?x=1&",
            "https://a.example/authorize?x=1&response_type=code&",
        ),
        (
            "http://127.0.0.1:8080/o/authorize/",
            "http://127.0.0.1:8080/o/authorize/?response_type=code&",
        ),
    ] {
        let url = AuthorizationRequest::builder(endpoint, CLIENT_ID, REDIRECT_URI)
            .build(&mut entropy(1))
            .unwrap()
            .url()
            .to_string();
        assert!(url.starts_with(starts), "{endpoint}: {url}");
        assert!(!url.contains("scope="), "{url}");
    }
}

#[test]
fn the_url_is_snapshotted() {
    insta::assert_snapshot!(request(Some(IssParameter::Required)).url().to_string());
}

#[test]
fn entropy_is_consumed_and_weak_entropy_refused() {
    let mut bytes = entropy(3);
    let first = builder().build(&mut bytes).unwrap();
    assert_eq!(bytes, [0; ENTROPY_BYTES], "wiped after use");
    assert_eq!(
        builder().build(&mut bytes),
        Err(AuthorizationRequestError::WeakEntropy),
        "the same array cannot make a second request"
    );
    let mut halves = [0u8; ENTROPY_BYTES];
    halves[..32].copy_from_slice(&APPENDIX_B_OCTETS);
    halves[32..].copy_from_slice(&APPENDIX_B_OCTETS);
    assert_eq!(
        builder().build(&mut halves),
        Err(AuthorizationRequestError::WeakEntropy)
    );
    let mut repeated = entropy(3);
    repeated[32..].fill(0xa5);
    assert_eq!(
        builder().build(&mut repeated),
        Err(AuthorizationRequestError::WeakEntropy)
    );
    // Two requests from two fills differ in state.
    let second = builder().build(&mut entropy(4)).unwrap();
    assert_ne!(first.state(), second.state());
    assert_ne!(first, second);
}

#[test]
fn configurations_are_refused_for_what_is_wrong_with_them() {
    use AuthorizationRequestError as E;
    use RedirectUriProblem as P;
    let build = |endpoint: &str, client_id: &str, redirect_uri: &str| {
        AuthorizationRequest::builder(endpoint, client_id, redirect_uri).build(&mut entropy(9))
    };
    let redirect = |uri: &str| build(ENDPOINT, CLIENT_ID, uri).map(|_| ());
    for ok in [
        "http://127.0.0.1:49152/callback",
        "http://127.0.0.1/",
        "http://127.9.9.9:1/cb",
        "http://[::1]:49152/callback",
        "https://app.example/oauth/callback",
        "https://app.example/cb?app=1",
        "https://localhost/cb",
    ] {
        assert_eq!(redirect(ok), Ok(()), "{ok}");
    }
    for (uri, problem) in [
        ("http://localhost:49152/callback", P::LoopbackByName),
        ("http://app.example/callback", P::Insecure),
        ("http://10.0.0.1/callback", P::Insecure),
        ("https://app.example/cb#done", P::Fragment),
        ("https://user@app.example/cb", P::UserInfo),
        ("http://127.0.0.1:0/callback", P::PortZero),
        ("com.example.app:/oauth2redirect", P::NotAbsolute),
        ("ftp://app.example/cb", P::UnsupportedScheme),
        ("/callback", P::NotAbsolute),
        (
            "https://app.example/cb?state=1",
            P::ResponseParameterInQuery,
        ),
        ("https://app.example/cb?iss=1", P::ResponseParameterInQuery),
    ] {
        assert_eq!(
            redirect(uri),
            Err(E::InvalidRedirectUri { problem }),
            "{uri}"
        );
    }
    let long = format!("https://app.example/{}", "a".repeat(4096));
    assert_eq!(
        redirect(&long),
        Err(E::InvalidRedirectUri {
            problem: P::TooLong
        })
    );

    assert_eq!(
        build("http://auth.example.com/authorize", CLIENT_ID, REDIRECT_URI),
        Err(E::InsecureAuthorizationEndpoint)
    );
    for endpoint in [
        "/authorize",
        "https://a.example/authorize#x",
        "not a url",
        "",
    ] {
        assert_eq!(
            build(endpoint, CLIENT_ID, REDIRECT_URI),
            Err(E::InvalidAuthorizationEndpoint),
            "{endpoint}"
        );
    }
    assert_eq!(
        build(
            "https://a.example/authorize?response_type=token",
            CLIENT_ID,
            REDIRECT_URI
        ),
        Err(E::ReservedParameter {
            name: "response_type".into()
        })
    );
    for client_id in ["", "my\napp", "é"] {
        assert_eq!(
            build(ENDPOINT, client_id, REDIRECT_URI),
            Err(E::InvalidClientId),
            "{client_id:?}"
        );
    }
    for scope in ["", "a b", "a\"b", "a\\b", "é"] {
        assert_eq!(
            builder().scope(scope).build(&mut entropy(9)),
            Err(E::InvalidScope),
            "{scope:?}"
        );
    }
    for name in [
        "state",
        "code_challenge",
        "code_challenge_method",
        "redirect_uri",
    ] {
        assert_eq!(
            builder().param(name, "x").build(&mut entropy(9)),
            Err(E::ReservedParameter { name: name.into() })
        );
    }
    // Extra parameters may repeat (RFC 8707 `resource`).
    assert!(builder()
        .param("resource", "https://a.example/")
        .param("resource", "https://b.example/")
        .build(&mut entropy(9))
        .is_ok());
    for (issuer, reason) in [
        ("http://auth.example.com", IssuerProblem::Insecure),
        ("https://auth.example.com?x", IssuerProblem::Query),
        ("auth.example.com", IssuerProblem::NotAbsolute),
    ] {
        assert_eq!(
            builder()
                .issuer(issuer, IssParameter::Required)
                .build(&mut entropy(9)),
            Err(E::InvalidIssuer { reason }),
            "{issuer}"
        );
    }
    let huge = "x".repeat(MAX_URL_BYTES);
    assert_eq!(
        builder().param("login_hint", huge).build(&mut entropy(9)),
        Err(E::UrlTooLong {
            limit: MAX_URL_BYTES
        })
    );
}

/// How a redirect should come out.
#[derive(Debug)]
enum Expect {
    Code,
    Error(RedirectError),
}

/// Which request a redirect is read by: its `iss` required, checked if present, or not
/// known.
#[derive(Debug, Clone, Copy)]
enum Iss {
    Required,
    IfPresent,
    Unknown,
}

/// A redirect written as a template: `{S}` is the request's state, `{W}` a wrong one,
/// `{I}` the encoded issuer, `{C}` the code, `{OK}` a whole good answer, `{R}` the
/// redirect URI.
fn redirect(template: &str, request: &AuthorizationRequest) -> String {
    let state = request.state();
    let wrong = format!(
        "{}{}",
        if state.starts_with('A') { "B" } else { "A" },
        &state[1..]
    );
    template
        .replace("{OK}", "code={C}&state={S}&iss={I}")
        .replace("{S}", state)
        .replace("{W}", &wrong)
        .replace("{I}", &encode(ISSUER))
        .replace("{C}", CODE)
        .replace("{R}", REDIRECT_URI)
}

#[test]
fn every_redirect_reads_to_its_typed_outcome() {
    use Expect::{Code, Error};
    use Iss::{IfPresent, Required, Unknown};
    use RedirectError as E;
    let long_code = format!(
        "code={}&state={{S}}&iss={{I}}",
        "c".repeat(MAX_CODE_BYTES + 1)
    );
    let longest_code = format!("code={}&state={{S}}&iss={{I}}", "c".repeat(MAX_CODE_BYTES));
    let too_long = format!("/callback?{{OK}}&pad={}", "p".repeat(MAX_REDIRECT_BYTES));
    let denied = |error, description: Option<&str>, uri: Option<&str>| {
        Error(E::Denied {
            error,
            description: description.map(str::to_owned),
            uri: uri.map(str::to_owned),
        })
    };
    let mismatch = |found: &str| {
        Error(E::IssuerMismatch {
            found: found.to_owned(),
        })
    };
    let duplicate = |parameter| Error(E::Duplicate { parameter });

    let cases: Vec<(&str, Iss, &str, Expect)> = vec![
        // Codes.
        ("the whole URL", Required, "{R}?{OK}", Code),
        (
            "a listener's request target",
            Required,
            "/callback?{OK}",
            Code,
        ),
        ("the query alone", Required, "{OK}", Code),
        ("the query with its ?", Required, "?{OK}", Code),
        (
            "unknown parameters",
            Required,
            "/callback?x=1&{OK}&session_state=a",
            Code,
        ),
        (
            "a fragment beside the query",
            Required,
            "/callback?{OK}#_=_",
            Code,
        ),
        (
            "the scheme in capitals",
            Required,
            "HTTP://127.0.0.1:49152/callback?{OK}",
            Code,
        ),
        ("the longest code", Required, &longest_code, Code),
        (
            "a code with a space (VSCHAR)",
            Required,
            "code=a+b&state={S}&iss={I}",
            Code,
        ),
        (
            "no iss, when optional",
            IfPresent,
            "code={C}&state={S}",
            Code,
        ),
        (
            "an iss no issuer checks",
            Unknown,
            "code={C}&state={S}&iss=x",
            Code,
        ),
        // Not shown to be this request's answer.
        (
            "a wrong state",
            Required,
            "code={C}&state={W}&iss={I}",
            Error(E::StateMismatch),
        ),
        (
            "a missing state",
            Required,
            "code={C}&iss={I}",
            Error(E::MissingState),
        ),
        (
            "an empty state",
            Required,
            "code={C}&state=&iss={I}",
            Error(E::StateMismatch),
        ),
        ("nothing at all", Required, "", Error(E::MissingState)),
        (
            "an error redirect with a wrong state",
            Required,
            "error=access_denied&state={W}&iss={I}",
            Error(E::StateMismatch),
        ),
        (
            "an error redirect without a state",
            Required,
            "error=access_denied",
            Error(E::MissingState),
        ),
        (
            "a duplicate state",
            Required,
            "{OK}&state={S}",
            duplicate("state"),
        ),
        (
            "a wrong path",
            Required,
            "/other?{OK}",
            Error(E::WrongRedirectUri),
        ),
        (
            "a favicon",
            Required,
            "/favicon.ico",
            Error(E::WrongRedirectUri),
        ),
        (
            "a wrong port",
            Required,
            "http://127.0.0.1:49153/callback?{OK}",
            Error(E::WrongRedirectUri),
        ),
        (
            "a wrong host",
            Required,
            "http://localhost:49152/callback?{OK}",
            Error(E::WrongRedirectUri),
        ),
        (
            "a wrong scheme",
            Required,
            "https://127.0.0.1:49152/callback?{OK}",
            Error(E::WrongRedirectUri),
        ),
        (
            "user information",
            Required,
            "http://u@127.0.0.1:49152/callback?{OK}",
            Error(E::WrongRedirectUri),
        ),
        (
            "the fragment instead of the query",
            Required,
            "{R}#{OK}",
            Error(E::ResponseInFragment),
        ),
        (
            "too long",
            Required,
            &too_long,
            Error(E::TooLong {
                limit: MAX_REDIRECT_BYTES,
            }),
        ),
        // Refused.
        (
            "an error redirect with the right state",
            Required,
            "error=access_denied&error_description=The+user+said+no.\
             &error_uri=https%3A%2F%2Fauth.example.com%2Fhelp&state={S}&iss={I}",
            denied(
                AuthorizationErrorCode::AccessDenied,
                Some("The user said no."),
                Some("https://auth.example.com/help"),
            ),
        ),
        (
            "an unknown error code",
            Required,
            "error=login_required&state={S}&iss={I}",
            denied(
                AuthorizationErrorCode::Other("login_required".into()),
                None,
                None,
            ),
        ),
        // This request's answer, unusable.
        (
            "an error redirect without the required iss",
            Required,
            "error=server_error&state={S}",
            Error(E::MissingIssuer),
        ),
        (
            "a missing iss when required",
            Required,
            "code={C}&state={S}",
            Error(E::MissingIssuer),
        ),
        (
            "a wrong iss",
            Required,
            "code={C}&state={S}&iss=https%3A%2F%2Fevil.example",
            mismatch("https://evil.example"),
        ),
        (
            "an iss with a trailing slash",
            IfPresent,
            "code={C}&state={S}&iss={I}%2F",
            mismatch("https://auth.example.com/"),
        ),
        (
            "a duplicate iss",
            Required,
            "{OK}&iss={I}",
            duplicate("iss"),
        ),
        (
            "a duplicate code",
            Required,
            "{OK}&code=other",
            duplicate("code"),
        ),
        (
            "a code too long",
            Required,
            &long_code,
            Error(E::CodeTooLong {
                limit: MAX_CODE_BYTES,
            }),
        ),
        (
            "an encoded control character in the code",
            Required,
            "code=abc%0Adef&state={S}&iss={I}",
            Error(E::InvalidCode),
        ),
        (
            "a raw control character in the code",
            Required,
            "code=abc\u{1}def&state={S}&iss={I}",
            Error(E::InvalidCode),
        ),
        (
            "a non-ASCII code",
            Required,
            "code=%C3%A9t%C3%A9&state={S}&iss={I}",
            Error(E::InvalidCode),
        ),
        (
            "an empty code",
            Required,
            "code=&state={S}&iss={I}",
            Error(E::InvalidCode),
        ),
        (
            "no code",
            Required,
            "state={S}&iss={I}",
            Error(E::MissingCode),
        ),
    ];
    let requests = [
        request(Some(IssParameter::Required)),
        request(Some(IssParameter::IfPresent)),
        request(None),
    ];
    for (name, iss, template, expect) in cases {
        let request = &requests[iss as usize];
        let outcome = request.read_redirect(&redirect(template, request));
        match (&outcome, &expect) {
            (Ok(code), Code) => {
                assert!(!code.secret().is_empty(), "{name}");
                assert_eq!(code.redirect_uri(), REDIRECT_URI);
                assert_eq!(code.client_id(), CLIENT_ID);
                assert_eq!(code.code_verifier(), APPENDIX_B_VERIFIER);
            }
            (Err(error), Error(expected)) => {
                assert_eq!(error, expected, "{name}");
                assert_reads_as_sentence(error);
                let shown = format!("{error} {error:?}");
                assert!(!shown.contains(request.state()), "{name}: {shown}");
                assert!(!shown.contains(APPENDIX_B_VERIFIER), "{name}: {shown}");
                assert!(!shown.contains(CODE), "{name}: {shown}");
            }
            _ => panic!("{name}: expected {expect:?}, got {outcome:?}"),
        }
    }
    let required = &requests[0];
    let code = required.read_redirect(&redirect("{OK}", required)).unwrap();
    assert_eq!(code.secret(), CODE);
    assert_eq!(code.issuer(), Some(ISSUER));
    let spaced = redirect("code=a+b&state={S}&iss={I}", required);
    assert_eq!(required.read_redirect(&spaced).unwrap().secret(), "a b");
}

#[test]
fn which_errors_spend_the_request() {
    let request = request(Some(IssParameter::Required));
    let state = request.state().to_owned();
    let spends = |redirect: String| {
        request
            .read_redirect(&redirect)
            .unwrap_err()
            .answers_this_request()
    };
    assert!(!spends("/other".into()));
    assert!(!spends(format!("code=1&state=x{state}")));
    assert!(!spends(format!("code=1&state={state}&state={state}")));
    assert!(spends(format!("code=1&code=2&state={state}")));
    assert!(spends(format!(
        "error=access_denied&state={state}&iss={}",
        encode(ISSUER)
    )));
    assert!(spends(format!(
        "code=1&state={state}&iss=https%3A%2F%2Fevil.example"
    )));
    // The request is not consumed: a stray redirect leaves it able to read its answer.
    assert!(request.read_redirect(&answer(&request, "")).is_ok());
}

#[test]
fn a_servers_description_never_shows_a_secret() {
    let request = request(Some(IssParameter::IfPresent));
    let state = request.state().to_owned();
    let code = "the-code-echo-1234";
    let description = format!(
        "bad state {state}, verifier {}, code {code} as {}",
        APPENDIX_B_VERIFIER,
        encode(&encode(code))
    );
    let redirect = format!(
        "code={code}&error=invalid_request&error_description={}&error_uri={}&state={state}",
        encode(&description),
        encode(&format!("https://a.example/?s={state}"))
    );
    let error = request.read_redirect(&redirect).unwrap_err();
    let RedirectError::Denied {
        description: Some(shown),
        uri: Some(uri),
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(
        shown,
        "bad state [redacted], verifier [redacted], code [redacted] as [redacted]"
    );
    assert_eq!(uri, "https://a.example/?s=[redacted]");
    // A description is cut and cleaned: no line of a log can be forged with it.
    let long = format!(
        "error=server_error&error_description={}&state={state}",
        encode(&format!("line\r\nforged {}", "x".repeat(10_000)))
    );
    let error = request.read_redirect(&long).unwrap_err().to_string();
    assert!(error.len() < 400, "{}", error.len());
    assert!(
        !error.contains('\n') && error.contains("line??forged"),
        "{error}"
    );
}

fn dialect(auth: Option<ClientAuth>) -> Standard {
    let mut builder = Standard::builder("https://auth.example.com/oauth/token", CLIENT_ID)
        .scope("not-sent")
        .param("audience", "not-sent");
    if let Some(auth) = auth {
        builder = builder
            .client_secret("test-client-secret")
            .client_auth(auth);
    }
    builder.build().unwrap()
}

fn public_dialect() -> Standard {
    Standard::builder("https://auth.example.com/oauth/token", CLIENT_ID)
        .grant(Grant::RefreshOnly)
        .build()
        .unwrap()
}

fn code() -> AuthorizationCode {
    let request = request(Some(IssParameter::Required));
    request.read_redirect(&answer(&request, "")).unwrap()
}

fn fields(request: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

#[test]
fn code_exchange_with_basic_auth() {
    let request = dialect(Some(ClientAuth::Basic))
        .code_exchange_request(&code())
        .expect("the dialect exchanges codes");
    assert!(request.headers()["authorization"].is_sensitive());
    insta::assert_snapshot!(render_http(&request));
}

#[test]
fn code_exchange_with_post_auth() {
    insta::assert_snapshot!(render_http(
        &dialect(Some(ClientAuth::Post))
            .code_exchange_request(&code())
            .expect("the dialect exchanges codes")
    ));
}

#[test]
fn code_exchange_of_a_public_client() {
    insta::assert_snapshot!(render_http(
        &dialect(None)
            .code_exchange_request(&code())
            .expect("the dialect exchanges codes")
    ));
}

#[test]
fn the_exchange_sends_exactly_its_fields_and_the_redirect_uri_as_given() {
    for (auth, client_fields) in [
        (Some(ClientAuth::Basic), &[][..]),
        (Some(ClientAuth::Post), &["client_id", "client_secret"][..]),
        (None, &["client_id"][..]),
    ] {
        let request = dialect(auth)
            .code_exchange_request(&code())
            .expect("the dialect exchanges codes");
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "https://auth.example.com/oauth/token");
        assert_eq!(
            request.headers()["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            request.headers().contains_key("authorization"),
            auth == Some(ClientAuth::Basic)
        );
        let fields = fields(&request);
        let names: Vec<&str> = fields.iter().map(|(name, _)| name.as_str()).collect();
        let mut expected = vec!["grant_type", "code", "redirect_uri", "code_verifier"];
        expected.extend(client_fields);
        assert_eq!(names, expected, "{auth:?}");
        assert_eq!(fields[2].1, REDIRECT_URI);
    }
}

#[test]
fn the_exchanges_response_is_a_logins_and_a_session_adopts_it() {
    let dialect = public_dialect();
    let exchange = dialect
        .code_exchange_request(&code())
        .expect("the dialect exchanges codes");
    assert_eq!(fields(&exchange)[0].1, "authorization_code");
    let response = http::Response::builder()
        .status(200)
        .body(
            br#"{"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1"}"#
                .to_vec(),
        )
        .unwrap();
    let grant = dialect
        .parse_token_response(Purpose::Login, &response)
        .unwrap();
    let now = utc_datetime!(2026-03-01 09:00:00);
    let session = Session::new(dialect, Policy::default())
        .unwrap()
        .adopt(grant, now)
        .map_err(|(_, error)| error)
        .unwrap();
    assert_eq!(session.access_token(now).unwrap().secret(), "at-1");

    // An invalid_grant (a code spent or expired) is a failure like a login's.
    let refused = http::Response::builder()
        .status(400)
        .body(br#"{"error":"invalid_grant"}"#.to_vec())
        .unwrap();
    assert!(public_dialect()
        .parse_token_response(Purpose::Login, &refused)
        .is_err());
}

#[test]
fn requests_and_codes_round_trip_through_serde_with_their_secrets() {
    let request = request(Some(IssParameter::Required));
    let json = serde_json::to_string(&request).unwrap();
    assert!(json.contains(request.state()) && json.contains(APPENDIX_B_VERIFIER));
    let restored: AuthorizationRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, request);
    assert_eq!(restored.url(), request.url());
    assert_eq!(restored.iss_parameter(), Some(IssParameter::Required));
    let code = restored.read_redirect(&answer(&request, "")).unwrap();

    let json = serde_json::to_string(&code).unwrap();
    assert!(json.contains(CODE) && json.contains(APPENDIX_B_VERIFIER));
    let restored: AuthorizationCode = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, code);
    assert_eq!(
        public_dialect()
            .code_exchange_request(&restored)
            .expect("the dialect exchanges codes")
            .body(),
        public_dialect()
            .code_exchange_request(&code)
            .expect("the dialect exchanges codes")
            .body()
    );

    // Tampered snapshots are refused, and the messages quote no secret.
    let value: serde_json::Value = serde_json::to_value(&request).unwrap();
    let tamper = |field: &str, to: serde_json::Value| {
        let mut value = value.clone();
        value[field] = to;
        serde_json::from_value::<AuthorizationRequest>(value)
            .unwrap_err()
            .to_string()
    };
    let state = request.state().to_owned();
    for (field, to) in [
        ("code_verifier", serde_json::json!("short")),
        ("code_verifier", serde_json::json!(state)),
        ("state", serde_json::json!(format!("{}!", &state[1..]))),
        ("redirect_uri", serde_json::json!("http://app.example/cb")),
        (
            "authorization_endpoint",
            serde_json::json!("http://auth.example.com/a"),
        ),
        ("issuer", serde_json::json!(null)),
    ] {
        let error = tamper(field, to.clone());
        assert!(
            !error.contains(&state) && !error.contains(APPENDIX_B_VERIFIER),
            "{field}: {error}"
        );
        if field == "issuer" {
            // `iss` required of no issuer.
            assert!(error.contains("secrets are not ones"), "{error}");
        }
    }
    let code_value = serde_json::to_value(&code).unwrap();
    for (field, to) in [
        ("code", serde_json::json!("")),
        ("code", serde_json::json!("a\nb")),
        ("code", serde_json::json!("c".repeat(MAX_CODE_BYTES + 1))),
        ("code_verifier", serde_json::json!("[redacted]")),
        ("redirect_uri", serde_json::json!("http://localhost/cb")),
        ("client_id", serde_json::json!("")),
    ] {
        let mut value = code_value.clone();
        value[field] = to;
        let error = serde_json::from_value::<AuthorizationCode>(value)
            .unwrap_err()
            .to_string();
        assert!(
            !error.contains(CODE) && !error.contains(APPENDIX_B_VERIFIER),
            "{field}: {error}"
        );
    }
}

#[test]
fn redacted_copies_hold_no_secret_read_nothing_and_cannot_be_restored() {
    let request = request(Some(IssParameter::Required));
    let redacted = request.redacted();
    assert!(redacted.is_redacted() && !request.is_redacted());
    let json = serde_json::to_string(&redacted).unwrap();
    assert!(
        !json.contains(request.state()) && !json.contains(APPENDIX_B_VERIFIER),
        "{json}"
    );
    assert!(!redacted.url().to_string().contains(request.state()));
    assert!(serde_json::from_str::<AuthorizationRequest>(&json).is_err());
    assert_eq!(
        redacted.read_redirect(&answer(&request, "")),
        Err(RedirectError::StateMismatch)
    );
    assert_eq!(
        redacted.read_redirect("code=1&state=[redacted]"),
        Err(RedirectError::StateMismatch)
    );

    let code = code().redacted();
    assert!(code.is_redacted());
    let json = serde_json::to_string(&code).unwrap();
    assert!(
        !json.contains(CODE) && !json.contains(APPENDIX_B_VERIFIER),
        "{json}"
    );
    assert!(serde_json::from_str::<AuthorizationCode>(&json).is_err());
}

#[test]
fn debug_shows_no_secret() {
    let request = request(Some(IssParameter::Required));
    let code = code();
    let shown = format!(
        "{:?} {request:?} {code:?} {:?} {:?}",
        builder(),
        request.redacted(),
        code.redacted()
    );
    for secret in [request.state(), APPENDIX_B_VERIFIER, CODE] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(
        shown.contains(APPENDIX_B_CHALLENGE),
        "the challenge is public"
    );
    assert!(format!("{:?}", code.secrets()).contains("2 redacted"));
    assert!(code.secrets().is_echoed_in(&format!("echo {CODE}")));
    assert!(request
        .secrets()
        .is_echoed_in(&format!("echo {}", request.state())));
}

#[test]
fn from_metadata_takes_the_endpoint_the_issuer_and_its_iss_promise() {
    let discovery = Discovery::new(ISSUER).unwrap();
    let metadata = |extra: &str| {
        let body = format!(r#"{{"issuer":"{ISSUER}","token_endpoint":"{ISSUER}/token"{extra}}}"#);
        discovery
            .read(
                &http::Response::builder()
                    .status(200)
                    .body(body.into_bytes())
                    .unwrap(),
            )
            .unwrap()
    };
    let full = metadata(
        r#","authorization_endpoint":"https://auth.example.com/authorize",
           "code_challenge_methods_supported":["plain","S256"],
           "authorization_response_iss_parameter_supported":true"#,
    );
    let request = AuthorizationRequest::from_metadata(&full, CLIENT_ID, REDIRECT_URI)
        .unwrap()
        .build(&mut entropy(5))
        .unwrap();
    assert_eq!(request.issuer(), Some(ISSUER));
    assert_eq!(request.iss_parameter(), Some(IssParameter::Required));
    assert_eq!(
        request.authorization_endpoint().uri(),
        "https://auth.example.com/authorize"
    );
    assert_eq!(
        request.read_redirect(&format!("code=1&state={}", request.state())),
        Err(RedirectError::MissingIssuer)
    );

    let quiet = metadata(r#","authorization_endpoint":"https://auth.example.com/authorize""#);
    let request = AuthorizationRequest::from_metadata(&quiet, CLIENT_ID, REDIRECT_URI)
        .unwrap()
        .build(&mut entropy(5))
        .unwrap();
    assert_eq!(request.iss_parameter(), Some(IssParameter::IfPresent));
    assert!(request
        .read_redirect(&format!("code=1&state={}", request.state()))
        .is_ok());

    assert_eq!(
        AuthorizationRequest::from_metadata(&metadata(""), CLIENT_ID, REDIRECT_URI).unwrap_err(),
        AuthorizationRequestError::NoAuthorizationEndpoint
    );
    let plain_only = metadata(
        r#","authorization_endpoint":"https://auth.example.com/authorize",
           "code_challenge_methods_supported":["plain"]"#,
    );
    assert_eq!(
        AuthorizationRequest::from_metadata(&plain_only, CLIENT_ID, REDIRECT_URI).unwrap_err(),
        AuthorizationRequestError::PkceS256Unsupported
    );
}

#[test]
fn every_error_reads_as_a_sentence() {
    use AuthorizationRequestError as E;
    let problems = [
        RedirectUriProblem::NotAbsolute,
        RedirectUriProblem::UnsupportedScheme,
        RedirectUriProblem::Insecure,
        RedirectUriProblem::LoopbackByName,
        RedirectUriProblem::Fragment,
        RedirectUriProblem::UserInfo,
        RedirectUriProblem::PortZero,
        RedirectUriProblem::ResponseParameterInQuery,
        RedirectUriProblem::TooLong,
    ];
    let mut errors = vec![
        E::InvalidAuthorizationEndpoint,
        E::InsecureAuthorizationEndpoint,
        E::NoAuthorizationEndpoint,
        E::PkceS256Unsupported,
        E::InvalidClientId,
        E::InvalidScope,
        E::ReservedParameter {
            name: "state".into(),
        },
        E::InvalidIssuer {
            reason: IssuerProblem::Insecure,
        },
        E::UrlTooLong {
            limit: MAX_URL_BYTES,
        },
        E::WeakEntropy,
        E::InvalidStoredSecret,
    ];
    errors.extend(problems.map(|problem| E::InvalidRedirectUri { problem }));
    for error in &errors {
        assert_reads_as_sentence(error);
    }
    let denied = RedirectError::Denied {
        error: AuthorizationErrorCode::TemporarilyUnavailable,
        description: Some("Try again.".into()),
        uri: None,
    };
    assert_reads_as_sentence(&denied);
    assert_eq!(
        denied.to_string(),
        "the authorization server refused the request with error temporarily_unavailable: \"Try again.\""
    );
    for error in [
        RedirectError::TooLong { limit: 1 },
        RedirectError::WrongRedirectUri,
        RedirectError::ResponseInFragment,
        RedirectError::MissingState,
        RedirectError::StateMismatch,
        RedirectError::Duplicate { parameter: "code" },
        RedirectError::MissingIssuer,
        RedirectError::IssuerMismatch { found: "x".into() },
        RedirectError::MissingCode,
        RedirectError::InvalidCode,
        RedirectError::CodeTooLong { limit: 1 },
    ] {
        assert_reads_as_sentence(&error);
    }
}

/// Pieces hostile redirects are made of: the parts of a real answer, separators,
/// encodings and junk.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("code=".to_owned()),
        Just("state=".to_owned()),
        Just("iss=".to_owned()),
        Just("error=".to_owned()),
        Just("error_description=".to_owned()),
        Just("error_uri=".to_owned()),
        Just("&".to_owned()),
        Just("?".to_owned()),
        Just("#".to_owned()),
        Just("=".to_owned()),
        Just("%".to_owned()),
        Just("%0A".to_owned()),
        Just("%C3".to_owned()),
        Just("+".to_owned()),
        Just("/callback".to_owned()),
        Just(REDIRECT_URI.to_owned()),
        Just("http://[::1]:49152".to_owned()),
        Just(encode(ISSUER)),
        Just(CODE.to_owned()),
        Just(APPENDIX_B_VERIFIER.to_owned()),
        Just(STATE_MARK.to_owned()),
        ".{0,12}",
        "[a-z_]{1,8}",
    ]
}

/// Stands for the request's state in generated pieces.
const STATE_MARK: &str = "<STATE>";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any text at all: a typed outcome, never a panic, a bounded message.
    #[test]
    fn arbitrary_redirects_never_panic(redirect in ".{0,300}") {
        let request = request(Some(IssParameter::Required));
        if let Err(error) = request.read_redirect(&redirect) {
            let shown = error.to_string();
            prop_assert!(shown.len() <= 1024);
            prop_assert!(!shown.contains(request.state()));
            prop_assert!(!shown.contains(APPENDIX_B_VERIFIER));
        }
    }

    /// Redirects assembled from the parts of real answers (the request's own state
    /// among them): every message is bounded and quotes no secret, the code included.
    #[test]
    fn hostile_redirects_never_leak(pieces in prop::collection::vec(piece(), 0..40)) {
        let request = request(Some(IssParameter::IfPresent));
        let redirect = pieces.concat().replace(STATE_MARK, request.state());
        match request.read_redirect(&redirect) {
            Ok(code) => {
                prop_assert!(code.secret().len() <= MAX_CODE_BYTES);
                prop_assert!(code.secret().bytes().all(|b| (0x20..=0x7e).contains(&b)));
            }
            Err(error) => {
                let shown = format!("{error} {error:?}");
                prop_assert!(error.to_string().len() <= 1024);
                prop_assert!(!shown.contains(request.state()), "{}", shown);
                prop_assert!(!shown.contains(APPENDIX_B_VERIFIER), "{}", shown);
            }
        }
    }

    /// An error redirect with the request's state, whose texts echo the code, the state
    /// and the verifier in any form: the denial quotes none of them.
    #[test]
    fn denials_never_quote_a_secret(
        code in "[A-Za-z0-9_-]{12,40}",
        before in ".{0,40}",
        after in ".{0,40}",
        which in 0..3usize,
        encoded in any::<bool>(),
    ) {
        let request = request(None);
        let secret = [code.as_str(), request.state(), APPENDIX_B_VERIFIER][which];
        let echoed = if encoded {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        } else {
            secret.to_owned()
        };
        let text = format!("{before}{echoed}{after}");
        let redirect = format!(
            "code={code}&state={}&error={}&error_description={}&error_uri={}",
            request.state(),
            encode(&text),
            encode(&text),
            encode(&text),
        );
        let error = request.read_redirect(&redirect).unwrap_err();
        prop_assert!(matches!(error, RedirectError::Denied { .. }), "{:?}", error);
        let shown = format!("{error} {error:?}");
        prop_assert!(error.to_string().len() <= 1024);
        for secret in [code.as_str(), request.state(), APPENDIX_B_VERIFIER] {
            prop_assert!(!shown.contains(secret), "{}", shown);
        }
    }
}
