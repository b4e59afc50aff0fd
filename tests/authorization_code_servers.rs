//! The authorization code grant with PKCE against real servers on 127.0.0.1, as a person
//! logs in with a browser: panva's oidc-provider (its built-in login and consent pages)
//! and django-oauth-toolkit (Django's login form, then the toolkit's authorization
//! form). No mocks: the browser is plain HTTP over loopback from this file, keeping
//! cookies and posting forms as a browser does, and stopping at the last redirect, the
//! one to the app's loopback listener, whose `Location` is what `read_redirect` reads.
//!
//! Each server is asked, where it can do it, for:
//!
//! - a whole login: discovery, the request from the metadata, the person signing in and
//!   consenting, the redirect read, the code exchanged, the grant adopted by a session,
//!   a refresh when the session's deadline comes, and revocation;
//! - a redirect whose `state` or `iss` (RFC 9207) was tampered with, refused before any
//!   exchange;
//! - the person saying no: the error redirect read as the typed denial;
//! - the code exchanged with another verifier (PKCE checked by the server), then twice
//!   (single use): `invalid_grant`, read by the dialect as the crate's typed failure.
//!
//! Time is the real clock, because the servers' is, except where the session's own
//! deadline is handed back to it: a real drain loop sleeps until then; these tests do not
//! wait for it, since the servers do not read the client's clock.

use std::io::Read as _;
use std::net::TcpListener;

use base64::Engine as _;
use oauth2::basic::BasicErrorResponseType;
use oauth_lifecycle::dialect::authorization::{
    AuthorizationCode, AuthorizationErrorCode, AuthorizationRequest, IssParameter, RedirectError,
    ENTROPY_BYTES,
};
use oauth_lifecycle::dialect::discovery::{Discovery, ServerMetadata, WellKnown};
use oauth_lifecycle::dialect::{ClientAuth, Dialect, Grant, Standard};
use oauth_lifecycle::{
    Driver, Event, Failure, FailureKind, Output, Policy, Purpose, Session, TokenKind,
    TransportError,
};
use oauth_lifecycle_testkit::browser::{body_text, value, Browser};
use oauth_lifecycle_testkit::people::{dot_browser_login, oidc_browser_login, Choice};
use oauth_lifecycle_testkit::{send, start_django_oauth_toolkit, start_oidc_provider, Peer};
use time::UtcDateTime;

/// oidc-provider's public native client (`token_endpoint_auth_method: 'none'`), for
/// which the server requires PKCE (tests/peers/oidc/server.mjs).
const OIDC_PUBLIC_CLIENT: &str = "lifecycle-public";
/// oidc-provider's confidential native client, authenticating with HTTP Basic.
const OIDC_CODE_CLIENT: (&str, &str) = ("lifecycle-code", "code-secret-0123456789");
/// django-oauth-toolkit's confidential client for the authorization code grant
/// (tests/peers/dot/serve.py).
const DOT_CODE_CLIENT: (&str, &str) = ("dot-code", "dot-code-secret-0123");

fn now() -> UtcDateTime {
    UtcDateTime::now()
}

/// 64 bytes from the operating system's random source, fresh for each request: what a
/// real program hands to `build`.
fn fresh_entropy() -> [u8; ENTROPY_BYTES] {
    let mut entropy = [0u8; ENTROPY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut entropy))
        .expect("the operating system's random source");
    entropy
}

// The app's side.

/// The app's loopback listener, bound to an ephemeral port as a native app's is: the
/// redirect URI names that port. The browser is never let to reach it; it is held so that
/// no other process takes the port while a test runs.
struct Listener {
    _socket: TcpListener,
    redirect_uri: String,
}

fn listener() -> Listener {
    let socket = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = socket.local_addr().expect("an address").port();
    Listener {
        _socket: socket,
        redirect_uri: format!("http://127.0.0.1:{port}/callback"),
    }
}

/// Sends the discovery request over a real socket and reads the answer.
fn discover(discovery: &Discovery) -> ServerMetadata {
    let response = send(&discovery.request()).expect("the server answers");
    discovery.read(&response).expect("the server's metadata")
}

fn oidc_metadata(peer: &Peer) -> ServerMetadata {
    let metadata = discover(&Discovery::new(&peer.base_url).unwrap());
    assert!(metadata.supports_grant("authorization_code"));
    assert!(metadata.supports_pkce_s256());
    assert!(metadata.authorization_response_iss_parameter_supported());
    metadata
}

/// The toolkit's issuer has a path (it is mounted under /o/): its metadata is at the
/// RFC 8414 location.
fn dot_metadata(peer: &Peer) -> ServerMetadata {
    let issuer = peer.url("/o");
    let metadata = discover(
        &Discovery::with_well_known(&issuer, WellKnown::OAuthAuthorizationServer).unwrap(),
    );
    assert_eq!(metadata.issuer(), issuer);
    assert!(metadata.supports_grant("authorization_code"));
    assert!(metadata.supports_pkce_s256());
    // COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS, set in tests/peers/dot/settings.py.
    assert!(metadata.authorization_response_iss_parameter_supported());
    metadata
}

/// The request a person's browser opens, from the server's metadata: `iss` required,
/// since the metadata promises it.
fn request_from(
    metadata: &ServerMetadata,
    client_id: &str,
    listener: &Listener,
    scopes: &[&str],
) -> AuthorizationRequest {
    let mut builder =
        AuthorizationRequest::from_metadata(metadata, client_id, &listener.redirect_uri).unwrap();
    for scope in scopes {
        builder = builder.scope(*scope);
    }
    // oidc-provider keeps `offline_access` (a refresh token) only when consent is asked
    // for; the toolkit ignores the parameter.
    let request = builder
        .param("prompt", "consent")
        .build(&mut fresh_entropy())
        .unwrap();
    assert_eq!(request.iss_parameter(), Some(IssParameter::Required));
    assert_eq!(request.issuer(), Some(metadata.issuer()));
    let query = query_of(&request.url().to_string());
    assert_eq!(value(&query, "code_challenge_method"), Some("S256"));
    assert_eq!(
        value(&query, "code_challenge"),
        Some(request.code_challenge())
    );
    assert_eq!(
        value(&query, "redirect_uri"),
        Some(listener.redirect_uri.as_str())
    );
    request
}

/// The dialect that exchanges the code and then keeps the session fresh: configured from
/// the metadata, renewing with its refresh token only.
fn dialect(metadata: &ServerMetadata, client_id: &str, secret: Option<&str>) -> Standard {
    metadata
        .standard(client_id, secret)
        .unwrap()
        .grant(Grant::RefreshOnly)
        .build()
        .unwrap()
}

/// Sends the code's exchange over a real socket.
fn exchange(dialect: &Standard, code: &AuthorizationCode) -> http::Response<Vec<u8>> {
    send(
        &dialect
            .code_exchange_request(code)
            .expect("the dialect exchanges codes"),
    )
    .expect("the token endpoint answers")
}

/// The typed failure a refused exchange reads as: `invalid_grant`, a 400, and no secret
/// of the code's quoted.
#[track_caller]
fn assert_invalid_grant(
    dialect: &Standard,
    response: &http::Response<Vec<u8>>,
    code: &AuthorizationCode,
) {
    let failure: Failure = dialect
        .parse_token_response(Purpose::Login, response)
        .err()
        .unwrap_or_else(|| panic!("refused, yet read as a grant: {}", body_text(response)));
    assert_eq!(failure.kind(), FailureKind::OAuth, "{failure:?}");
    assert_eq!(failure.status(), Some(http::StatusCode::BAD_REQUEST));
    assert_eq!(
        failure.code(),
        Some(&BasicErrorResponseType::InvalidGrant),
        "{failure:?}"
    );
    let shown = format!("{failure} {failure:?}");
    assert!(
        !code.secrets().is_echoed_in(&shown),
        "the failure shows a secret of the code: {shown}"
    );
}

/// What one drain of the driver saw.
#[derive(Debug, Default)]
struct Drained {
    sent: Vec<Purpose>,
    events: Vec<Event>,
    deadline: Option<UtcDateTime>,
}

/// The drain loop, with a real socket: sends every request the driver emits at `at` and
/// hands back every answer, until the driver waits.
fn run(driver: &mut Driver<Standard>, at: UtcDateTime) -> Drained {
    let mut drained = Drained::default();
    for _ in 0..32 {
        match driver.poll_output() {
            Output::Request(request) => {
                drained.sent.push(request.purpose());
                match send(request.request()) {
                    Ok(response) => driver.handle_response(request.id(), &response, at).unwrap(),
                    Err(_) => driver
                        .handle_transport_error(request.id(), TransportError::OutcomeUnknown, at)
                        .unwrap(),
                }
            }
            Output::Event(event) => drained.events.push(event),
            Output::Persist => {}
            Output::Timeout(deadline) => {
                drained.deadline = Some(deadline);
                return drained;
            }
            Output::Idle => return drained,
        }
    }
    panic!("the driver never settled: {drained:?}");
}

/// The tokens a whole lifecycle went through.
struct Lifecycle {
    first_access: String,
    first_refresh: String,
    second_access: String,
    second_refresh: String,
}

/// From the exchange's answer to a revoked session: the session adopts the grant, its
/// drain loop refreshes when the refresh moment comes, then revokes. `active` says
/// whether the server still takes an access token.
fn adopt_refresh_revoke(
    dialect: Standard,
    response: &http::Response<Vec<u8>>,
    active: impl Fn(&str) -> bool,
) -> Lifecycle {
    assert_eq!(response.status(), 200, "{}", body_text(response));
    let grant = dialect
        .parse_token_response(Purpose::Login, response)
        .unwrap_or_else(|failure| panic!("the exchange's answer: {failure}"));
    assert!(grant.refresh_token.is_some(), "no refresh token issued");
    let adopted = now();
    let session = Session::new(dialect, Policy::default())
        .unwrap()
        .adopt(grant, adopted)
        .map_err(|(_, error)| error)
        .unwrap();
    let tokens = session.tokens();
    let first_access = tokens.access_token().to_owned();
    let first_refresh = tokens.refresh_token().unwrap().secret().to_owned();
    let refresh_at = tokens.refresh_at();
    assert!(active(&first_access));

    // The adopted grant is announced; the session then waits for its refresh moment.
    let mut driver = Driver::from_session(session.into());
    let drained = run(&mut driver, adopted);
    assert!(drained.sent.is_empty(), "{drained:?}");
    assert!(
        matches!(
            drained.events[..],
            [Event::TokenIssued {
                via: Purpose::Login,
                renewal: false,
                ..
            }]
        ),
        "{drained:?}"
    );
    assert_eq!(drained.deadline, Some(refresh_at));

    // The refresh moment: the session refreshes with the refresh token the code bought.
    driver.handle_timeout(refresh_at);
    let drained = run(&mut driver, refresh_at);
    assert_eq!(drained.sent, [Purpose::Refresh], "{drained:?}");
    assert!(
        drained.events.iter().any(|event| matches!(
            event,
            Event::TokenIssued {
                via: Purpose::Refresh,
                renewal: true,
                ..
            }
        )),
        "{drained:?}"
    );
    let tokens = driver.session().tokens().expect("a renewed token");
    let second_access = tokens.access_token().to_owned();
    let second_refresh = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .to_owned();
    assert_ne!(second_access, first_access);
    assert_ne!(
        second_refresh, first_refresh,
        "both servers rotate refresh tokens"
    );
    assert_eq!(
        driver.access_token(refresh_at).unwrap().secret(),
        second_access
    );
    assert!(active(&second_access));

    // Revocation: both tokens, then the session is revoked.
    driver.revoke(refresh_at);
    let drained = run(&mut driver, refresh_at);
    let mut sent = drained.sent.clone();
    sent.sort_by_key(|purpose| format!("{purpose:?}"));
    assert_eq!(
        sent,
        [
            Purpose::Revoke(TokenKind::Access),
            Purpose::Revoke(TokenKind::Refresh)
        ],
        "{drained:?}"
    );
    assert!(
        matches!(drained.events.last(), Some(Event::Revoked)),
        "{drained:?}"
    );
    assert!(driver.access_token(refresh_at).is_none());
    assert!(!active(&second_access));
    Lifecycle {
        first_access,
        first_refresh,
        second_access,
        second_refresh,
    }
}

// Redirects, as an attacker (or a mix-up) would alter them.

/// The decoded query of a URL.
fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, query)| query);
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

/// `location` with its parameter `name` set to `to`, or removed.
fn with_param(location: &str, name: &str, to: Option<&str>) -> String {
    let base = location.split('?').next().unwrap();
    let mut query = query_of(location);
    query.retain(|(key, _)| key != name);
    if let Some(to) = to {
        query.push((name.to_owned(), to.to_owned()));
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&query)
        .finish();
    format!("{base}?{query}")
}

/// `location` with its parameter `name` appended once more, with `to`.
fn with_second(location: &str, name: &str, to: &str) -> String {
    let extra: String = form_urlencoded::Serializer::new(String::new())
        .append_pair(name, to)
        .finish();
    format!("{location}&{extra}")
}

/// Another `state`, as a forger or a stale tab would send: the request's own with its
/// last character changed.
fn another_state(state: &str) -> String {
    let (head, last) = state.split_at(state.len() - 1);
    format!("{head}{}", if last == "A" { "B" } else { "A" })
}

/// Every tampering of the redirect of `request` that must be refused before any
/// exchange, then the genuine redirect, still good: reading is not spending.
fn assert_tampering_is_refused(request: &AuthorizationRequest, location: &str, issuer: &str) {
    let query = query_of(location);
    assert_eq!(value(&query, "iss"), Some(issuer), "{location}");
    assert_eq!(value(&query, "state"), Some(request.state()));

    let forged = with_param(location, "state", Some(&another_state(request.state())));
    let error = request.read_redirect(&forged).unwrap_err();
    assert_eq!(error, RedirectError::StateMismatch);
    assert!(!error.answers_this_request(), "a forgery spends nothing");
    assert_eq!(
        request.read_redirect(&with_param(location, "state", None)),
        Err(RedirectError::MissingState)
    );

    // RFC 9207: the code came from another server, or the response was altered.
    let elsewhere = "http://127.0.0.1:1";
    let error = request
        .read_redirect(&with_param(location, "iss", Some(elsewhere)))
        .unwrap_err();
    assert_eq!(
        error,
        RedirectError::IssuerMismatch {
            found: elsewhere.to_owned()
        }
    );
    assert!(error.answers_this_request());
    // The same server by another name is another issuer, byte for byte.
    let by_name = issuer.replace("127.0.0.1", "localhost");
    assert!(matches!(
        request.read_redirect(&with_param(location, "iss", Some(&by_name))),
        Err(RedirectError::IssuerMismatch { .. })
    ));
    assert_eq!(
        request.read_redirect(&with_param(location, "iss", None)),
        Err(RedirectError::MissingIssuer)
    );
    assert_eq!(
        request.read_redirect(&with_second(location, "iss", elsewhere)),
        Err(RedirectError::Duplicate { parameter: "iss" })
    );
    assert_eq!(
        request.read_redirect(&with_second(location, "code", "another-code")),
        Err(RedirectError::Duplicate { parameter: "code" })
    );
    // Another port: the listener's, not any loopback port.
    let port = location
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    let moved = location.replacen(&format!(":{port}/"), ":1/", 1);
    assert_eq!(
        request.read_redirect(&moved),
        Err(RedirectError::WrongRedirectUri)
    );
}

// The person at each server: the testkit's `people`, driving each server's own pages.

fn oidc_person(browser: &mut Browser, request: &AuthorizationRequest, choice: Choice) -> String {
    oidc_browser_login(browser, &request.url().to_string(), choice)
}

fn dot_person(browser: &mut Browser, request: &AuthorizationRequest, choice: Choice) -> String {
    let (location, carried) = dot_browser_login(browser, &request.url().to_string(), choice);
    // The toolkit carries the request in hidden fields: the challenge among them.
    assert_eq!(
        value(&carried, "code_challenge"),
        Some(request.code_challenge())
    );
    assert_eq!(value(&carried, "code_challenge_method"), Some("S256"));
    assert_eq!(value(&carried, "state"), Some(request.state()));
    location
}

/// Whether oidc-provider takes `token` (introspection as a confidential client).
fn oidc_active(peer: &Peer) -> impl Fn(&str) -> bool + '_ {
    |token| peer.oidc_token_active(token)
}

/// Whether django-oauth-toolkit takes the access token `token` (RFC 7662 introspection,
/// as the code client). The toolkit introspects access tokens only.
fn dot_active(peer: &Peer) -> impl Fn(&str) -> bool + '_ {
    |token| {
        let (id, secret) = DOT_CODE_CLIENT;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let request = http::Request::post(peer.url("/o/introspect/"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", format!("Basic {basic}"))
            .body(body.into_bytes())
            .unwrap();
        let response = send(&request).expect("django-oauth-toolkit answers");
        assert_eq!(response.status(), 200, "{}", body_text(&response));
        let body: serde_json::Value = serde_json::from_slice(response.body()).expect("JSON");
        body["active"].as_bool().expect("an active field")
    }
}

// oidc-provider.

#[test]
fn oidc_provider_logs_a_person_in_with_pkce_and_the_session_refreshes_and_revokes() {
    let peer = start_oidc_provider(300);
    let metadata = oidc_metadata(&peer);
    let listener = listener();
    let request = request_from(
        &metadata,
        OIDC_PUBLIC_CLIENT,
        &listener,
        &["openid", "offline_access"],
    );
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = oidc_person(&mut browser, &request, Choice::Allow);
    assert!(location.starts_with(&listener.redirect_uri), "{location}");

    let code = request.read_redirect(&location).unwrap();
    assert_eq!(code.issuer(), Some(peer.base_url.as_str()));
    assert_eq!(code.client_id(), OIDC_PUBLIC_CLIENT);
    assert_eq!(code.redirect_uri(), listener.redirect_uri);

    // A public client: `none` at the token endpoint, the verifier its only proof.
    let dialect = dialect(&metadata, OIDC_PUBLIC_CLIENT, None);
    let sent = dialect
        .code_exchange_request(&code)
        .expect("the dialect exchanges codes");
    assert!(sent.headers().get("authorization").is_none());
    let fields = query_of(&format!("?{}", String::from_utf8_lossy(sent.body())));
    assert_eq!(value(&fields, "client_id"), Some(OIDC_PUBLIC_CLIENT));
    assert_eq!(value(&fields, "code_verifier"), Some(code.code_verifier()));
    let response = exchange(&dialect, &code);
    let lifecycle = adopt_refresh_revoke(dialect, &response, oidc_active(&peer));
    // The rotated refresh token is spent, its successor revoked with the session.
    assert!(!peer.oidc_token_active(&lifecycle.first_refresh));
    assert!(!peer.oidc_token_active(&lifecycle.second_refresh));
    assert_ne!(lifecycle.first_access, lifecycle.second_access);
}

#[test]
fn oidc_provider_redirects_with_a_tampered_state_or_iss_are_refused_unspent() {
    let peer = start_oidc_provider(300);
    let metadata = oidc_metadata(&peer);
    let listener = listener();
    let request = request_from(&metadata, OIDC_CODE_CLIENT.0, &listener, &["openid"]);
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = oidc_person(&mut browser, &request, Choice::Allow);

    // oidc-provider sends `iss` in every authorization response (RFC 9207), as its
    // metadata says: every tampering is refused, and nothing is exchanged.
    assert_tampering_is_refused(&request, &location, &peer.base_url);

    // The genuine redirect is still this request's answer, and its code still good.
    let code = request.read_redirect(&location).unwrap();
    let (id, secret) = OIDC_CODE_CLIENT;
    let dialect = dialect(&metadata, id, Some(secret));
    assert_eq!(dialect.client_auth(), ClientAuth::Basic);
    let response = exchange(&dialect, &code);
    assert_eq!(response.status(), 200, "{}", body_text(&response));
    let grant = dialect
        .parse_token_response(Purpose::Login, &response)
        .unwrap();
    assert!(peer.oidc_token_active(grant.access_token.secret()));
}

#[test]
fn oidc_provider_a_person_who_cancels_is_a_typed_denial() {
    let peer = start_oidc_provider(300);
    let metadata = oidc_metadata(&peer);
    let listener = listener();
    let request = request_from(&metadata, OIDC_PUBLIC_CLIENT, &listener, &["openid"]);
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = oidc_person(&mut browser, &request, Choice::Deny);

    // The error redirect carries `iss` too (RFC 9207 §2), checked as a success's is.
    let query = query_of(&location);
    assert_eq!(value(&query, "iss"), Some(peer.base_url.as_str()));
    assert!(value(&query, "code").is_none());
    let error = request.read_redirect(&location).unwrap_err();
    assert_eq!(
        error,
        RedirectError::Denied {
            error: AuthorizationErrorCode::AccessDenied,
            description: Some("End-User aborted interaction".to_owned()),
            uri: None,
        }
    );
    assert!(error.answers_this_request());
    assert!(!error.to_string().contains(request.state()));

    // An error redirect with another state is anyone's: not a denial of this request.
    let forged = with_param(&location, "state", Some(&another_state(request.state())));
    assert_eq!(
        request.read_redirect(&forged),
        Err(RedirectError::StateMismatch)
    );
    let error = request
        .read_redirect(&with_param(&location, "iss", Some("http://127.0.0.1:1")))
        .unwrap_err();
    assert!(
        matches!(error, RedirectError::IssuerMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn oidc_provider_binds_the_code_to_its_verifier_and_spends_it_once() {
    let peer = start_oidc_provider(300);
    let metadata = oidc_metadata(&peer);
    let listener = listener();
    let request = request_from(
        &metadata,
        OIDC_CODE_CLIENT.0,
        &listener,
        &["openid", "offline_access"],
    );
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = oidc_person(&mut browser, &request, Choice::Allow);
    let code = request.read_redirect(&location).unwrap();
    let (id, secret) = OIDC_CODE_CLIENT;
    let dialect = dialect(&metadata, id, Some(secret));

    // A stolen code is worth nothing without the verifier: the server checks it (PKCE),
    // and refuses the exchange before spending the code.
    let stolen = with_another_verifier(&code);
    assert_invalid_grant(&dialect, &exchange(&dialect, &stolen), &stolen);

    let first = exchange(&dialect, &code);
    assert_eq!(first.status(), 200, "{}", body_text(&first));
    let grant = dialect
        .parse_token_response(Purpose::Login, &first)
        .unwrap();
    let access = grant.access_token.secret().to_owned();
    let refresh = grant
        .refresh_token
        .expect("a refresh token")
        .secret()
        .to_owned();
    assert!(peer.oidc_token_active(&access));

    // The code again: refused, and what it bought is revoked (RFC 6749 §4.1.2).
    let replay = exchange(&dialect, &code);
    assert_invalid_grant(&dialect, &replay, &code);
    assert!(!peer.oidc_token_active(&access));
    assert!(!peer.oidc_token_active(&refresh));
}

/// `code` with a verifier that is not its request's, as a thief who saw the redirect
/// but not the app's memory would send: a snapshot edited and read back.
fn with_another_verifier(code: &AuthorizationCode) -> AuthorizationCode {
    let mut snapshot = serde_json::to_value(code).unwrap();
    let other = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&fresh_entropy()[..32]);
    assert_ne!(other, code.code_verifier());
    snapshot["code_verifier"] = other.into();
    serde_json::from_value(snapshot).unwrap()
}

// django-oauth-toolkit.

#[test]
fn django_oauth_toolkit_logs_a_person_in_with_pkce_and_the_session_refreshes_and_revokes() {
    let peer = start_django_oauth_toolkit(300);
    let metadata = dot_metadata(&peer);
    let listener = listener();
    let (id, secret) = DOT_CODE_CLIENT;
    let request = request_from(&metadata, id, &listener, &["read"]);
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = dot_person(&mut browser, &request, Choice::Allow);
    assert_eq!(value(&query_of(&location), "iss"), Some(metadata.issuer()));

    let code = request.read_redirect(&location).unwrap();
    assert_eq!(code.issuer(), Some(metadata.issuer()));
    let dialect = dialect(&metadata, id, Some(secret));
    assert_eq!(dialect.client_auth(), ClientAuth::Basic);
    let response = exchange(&dialect, &code);
    let lifecycle = adopt_refresh_revoke(dialect, &response, dot_active(&peer));
    // Nothing the code bought is taken any more: the first access token went with the
    // refresh (the toolkit replaces it), the second with the revocation.
    assert!(!dot_active(&peer)(&lifecycle.first_access));
    assert_ne!(lifecycle.first_refresh, lifecycle.second_refresh);
}

#[test]
fn django_oauth_toolkit_redirects_with_a_tampered_state_or_iss_are_refused_unspent() {
    let peer = start_django_oauth_toolkit(300);
    let metadata = dot_metadata(&peer);
    let listener = listener();
    let (id, secret) = DOT_CODE_CLIENT;
    let request = request_from(&metadata, id, &listener, &["read"]);
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = dot_person(&mut browser, &request, Choice::Allow);

    // The toolkit sends `iss` in a successful response once
    // COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS is on (tests/peers/dot/settings.py).
    assert_tampering_is_refused(&request, &location, metadata.issuer());

    let code = request.read_redirect(&location).unwrap();
    let dialect = dialect(&metadata, id, Some(secret));
    let response = exchange(&dialect, &code);
    assert_eq!(response.status(), 200, "{}", body_text(&response));
    let grant = dialect
        .parse_token_response(Purpose::Login, &response)
        .unwrap();
    assert!(dot_active(&peer)(grant.access_token.secret()));
}

#[test]
fn django_oauth_toolkit_a_person_who_cancels_is_a_denial_without_iss() {
    let peer = start_django_oauth_toolkit(300);
    let metadata = dot_metadata(&peer);
    let listener = listener();
    let (id, _) = DOT_CODE_CLIENT;

    // The toolkit 3.4.1 adds `iss` to successful responses only: its error redirect is
    // built without it, though RFC 9207 §2 asks for it in error responses too. A request
    // made from its metadata, which promises `iss`, must refuse such a redirect (RFC 9207
    // §2.4): the denial reads as a missing issuer, the request spent.
    let request = request_from(&metadata, id, &listener, &["read"]);
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = dot_person(&mut browser, &request, Choice::Deny);
    let query = query_of(&location);
    assert_eq!(value(&query, "error"), Some("access_denied"));
    assert_eq!(
        value(&query, "iss"),
        None,
        "the toolkit now sends iss: {location}"
    );
    let error = request.read_redirect(&location).unwrap_err();
    assert_eq!(error, RedirectError::MissingIssuer);
    assert!(error.answers_this_request());

    // Told that `iss` may be absent, the same denial reads as the person's no.
    let endpoint = metadata.authorization_endpoint().unwrap().uri().to_string();
    let request = AuthorizationRequest::builder(endpoint, id, &listener.redirect_uri)
        .scope("read")
        .issuer(metadata.issuer(), IssParameter::IfPresent)
        .build(&mut fresh_entropy())
        .unwrap();
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = dot_person(&mut browser, &request, Choice::Deny);
    let error = request.read_redirect(&location).unwrap_err();
    assert!(
        matches!(
            &error,
            RedirectError::Denied {
                error: AuthorizationErrorCode::AccessDenied,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.answers_this_request());
    // A forged state is still no denial, and an `iss` that is there is still checked.
    let forged = with_param(&location, "state", Some(&another_state(request.state())));
    assert_eq!(
        request.read_redirect(&forged),
        Err(RedirectError::StateMismatch)
    );
    assert!(matches!(
        request.read_redirect(&with_param(&location, "iss", Some("http://127.0.0.1:1"))),
        Err(RedirectError::IssuerMismatch { .. })
    ));
}

#[test]
fn django_oauth_toolkit_binds_the_code_to_its_verifier_and_spends_it_once() {
    let peer = start_django_oauth_toolkit(300);
    let metadata = dot_metadata(&peer);
    let listener = listener();
    let (id, secret) = DOT_CODE_CLIENT;
    let request = request_from(&metadata, id, &listener, &["read"]);
    let mut browser = Browser::new(&listener.redirect_uri);
    let location = dot_person(&mut browser, &request, Choice::Allow);
    let code = request.read_redirect(&location).unwrap();
    let dialect = dialect(&metadata, id, Some(secret));

    let stolen = with_another_verifier(&code);
    assert_invalid_grant(&dialect, &exchange(&dialect, &stolen), &stolen);

    let first = exchange(&dialect, &code);
    assert_eq!(first.status(), 200, "{}", body_text(&first));
    let grant = dialect
        .parse_token_response(Purpose::Login, &first)
        .unwrap();
    let access = grant.access_token.secret().to_owned();

    let replay = exchange(&dialect, &code);
    assert_invalid_grant(&dialect, &replay, &code);
    // Unlike oidc-provider, the toolkit leaves what the code bought alone when the code
    // comes again (it deletes a code once spent, and so cannot tell a replay from an
    // unknown code): RFC 6749 §4.1.2 says it SHOULD revoke it.
    assert!(dot_active(&peer)(&access));
}
