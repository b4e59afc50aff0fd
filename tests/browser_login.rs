//! The authorization code grant with PKCE as the session runs it: the URL to open, the
//! redirect checked (`state`, RFC 9207 `iss`), the code exchanged once and persisted
//! before it is sent, an error redirect as a typed end, the deadline, and renewal by
//! refresh afterwards. Against the standard emulator (its `/authorize` answers as a
//! person's browser would be redirected) and against scripted answers.

use oauth_lifecycle::dialect::authorization::{AuthorizationRequest, IssParameter, RedirectError};
use oauth_lifecycle::dialect::{Dialect, Grant, Standard};
use oauth_lifecycle::{
    AnySession, Driver, Error, Event, LoginPrompt, Misuse, Output, PersonLoginEnd, Policy, Purpose,
    RedirectRefused, Status, TransportError,
};
use oauth_lifecycle_testkit::emulator::{
    AuthorizationDecision, Emulator, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_testkit::{collect, drain, reply, Drained};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const NOW: UtcDateTime = utc_datetime!(2026-03-01 08:00:00);
const PUBLIC: &str = "emulated-public-client";
const ISSUER: &str = "http://127.0.0.1";
const REDIRECT_URI: &str = "http://127.0.0.1:49152/callback";

fn dialect() -> Standard {
    Standard::builder("http://127.0.0.1/token", PUBLIC)
        .grant(Grant::AuthorizationCode)
        .authorization_url("http://127.0.0.1/authorize")
        .issuer(ISSUER, IssParameter::Required)
        .revocation_url("http://127.0.0.1/revoke")
        .scope("api")
        .build()
        .expect("a valid configuration")
}

/// Entropy as a CSPRNG would give it, distinct per `seed`.
fn entropy(seed: u8) -> [u8; 64] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(151) ^ seed)
}

fn request(seed: u8) -> AuthorizationRequest {
    dialect()
        .authorization_request(REDIRECT_URI)
        .expect("the dialect has an authorization endpoint")
        .build(&mut entropy(seed))
        .expect("a valid request")
}

/// A driver awaiting the redirect of a fresh request; the URL to open.
fn started() -> (Driver<Standard>, String) {
    let mut driver = Driver::new(dialect(), Policy::default()).unwrap();
    driver
        .authorize(request(7), NOW)
        .expect("a browser login starts");
    let drained = collect(&mut driver);
    let url = drained
        .events
        .iter()
        .find_map(|event| match event {
            Event::LoginPrompt(LoginPrompt::OpenBrowser(prompt)) => Some(prompt.url().to_string()),
            _ => None,
        })
        .expect("the URL to open");
    assert!(
        drained.persists >= 1,
        "the request is persisted before the browser opens"
    );
    (driver, url)
}

/// What the emulator's `/authorize` redirects the browser to.
fn browse(server: &mut StandardServer, url: &str) -> String {
    let answer = server.handle(&http::Request::get(url).body(Vec::new()).unwrap(), NOW);
    assert_eq!(
        answer.status(),
        302,
        "{:?}",
        String::from_utf8_lossy(answer.body())
    );
    answer.headers()["location"].to_str().unwrap().to_owned()
}

fn ended_with(drained: &Drained) -> Option<PersonLoginEnd> {
    drained.events.iter().find_map(|event| match event {
        Event::PersonLoginEnded {
            error: Error::PersonLogin { ended, .. },
        } => *ended,
        _ => None,
    })
}

#[test]
fn a_browser_login_exchanges_the_code_once_then_refreshes() {
    let mut server = StandardServer::new(StandardServerConfig::default());
    let (mut driver, url) = started();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(matches!(
        driver.status(),
        Status::AwaitingPerson {
            prompt: LoginPrompt::OpenBrowser(_)
        }
    ));
    assert_eq!(
        driver.next_deadline(),
        Some(NOW + Policy::default().person_login_timeout)
    );

    let redirect = browse(&mut server, &url);
    driver
        .handle_redirect(&redirect, NOW)
        .expect("the code is exchanged");
    // The exchange is persisted before it is sent.
    assert!(matches!(driver.poll_output(), Output::Persist));
    let drained = drain(&mut driver, &mut server, NOW);
    let exchange = &drained.requests[0];
    assert!(!exchange.is_resend_safe(), "a code is single-use");
    assert!(drained.events.iter().any(|e| matches!(
        e,
        Event::TokenIssued {
            via: Purpose::Login,
            ..
        }
    )));
    assert!(driver.access_token(NOW).is_some());

    // The same redirect again: nothing awaits it; the code is never sent twice.
    assert!(matches!(
        driver.handle_redirect(&redirect, NOW),
        Err(RedirectRefused::Misuse(Misuse::WrongState { .. }))
    ));
    assert!(collect(&mut driver).requests.is_empty());

    let refresh_at = driver.next_deadline().unwrap();
    driver.handle_timeout(refresh_at);
    let drained = drain(&mut driver, &mut server, refresh_at);
    assert!(drained.events.iter().any(|e| matches!(
        e,
        Event::TokenIssued {
            via: Purpose::Refresh,
            ..
        }
    )));
}

#[test]
fn a_redirect_with_another_state_is_ignored_and_the_real_one_still_taken() {
    let mut server = StandardServer::new(StandardServerConfig::default());
    let (mut driver, url) = started();
    let redirect = browse(&mut server, &url);
    let forged = redirect.replace("state=", "state=x");
    let refused = driver.handle_redirect(&forged, NOW).unwrap_err();
    assert_eq!(
        refused,
        RedirectRefused::Redirect {
            error: RedirectError::StateMismatch,
            ended: false
        }
    );
    assert!(collect(&mut driver).requests.is_empty());
    assert!(matches!(driver.status(), Status::AwaitingPerson { .. }));
    driver.handle_redirect(&redirect, NOW).unwrap();
    assert_eq!(collect(&mut driver).requests.len(), 1);
}

#[test]
fn error_redirects_and_a_wrong_issuer_end_the_login_with_their_reason() {
    let mut server = StandardServer::new(StandardServerConfig::default());
    server.set_authorization_decision(AuthorizationDecision::Deny);
    let (mut driver, url) = started();
    let redirect = browse(&mut server, &url);
    let refused = driver.handle_redirect(&redirect, NOW).unwrap_err();
    assert!(matches!(
        refused,
        RedirectRefused::Redirect {
            error: RedirectError::Denied { .. },
            ended: true
        }
    ));
    assert_eq!(
        ended_with(&collect(&mut driver)),
        Some(PersonLoginEnd::Denied)
    );
    assert!(matches!(
        driver.status(),
        Status::NeedsLogin {
            error: Error::PersonLogin {
                ended: Some(PersonLoginEnd::Denied),
                ..
            }
        }
    ));
    assert!(
        driver.next_deadline().is_none(),
        "no automatic login follows"
    );

    let (mut driver, url) = started();
    server.set_authorization_decision(AuthorizationDecision::Approve);
    let redirect = browse(&mut server, &url).replace("iss=http", "iss=https");
    let refused = driver.handle_redirect(&redirect, NOW).unwrap_err();
    assert!(matches!(
        refused,
        RedirectRefused::Redirect {
            error: RedirectError::IssuerMismatch { .. },
            ended: true
        }
    ));
    assert_eq!(
        ended_with(&collect(&mut driver)),
        Some(PersonLoginEnd::Redirect)
    );
}

#[test]
fn no_redirect_by_the_deadline_ends_the_login_as_expired_and_a_cancel_as_cancelled() {
    let (mut driver, _) = started();
    let deadline = driver.next_deadline().unwrap();
    driver.handle_timeout(deadline - Duration::SECOND);
    assert!(matches!(driver.status(), Status::AwaitingPerson { .. }));
    driver.handle_timeout(deadline);
    assert_eq!(
        ended_with(&collect(&mut driver)),
        Some(PersonLoginEnd::Expired)
    );

    let (mut driver, _) = started();
    driver.cancel_login(NOW).unwrap();
    assert_eq!(
        ended_with(&collect(&mut driver)),
        Some(PersonLoginEnd::Cancelled)
    );
}

#[test]
fn a_failed_or_lost_exchange_is_never_sent_again() {
    /// What the exchange gets: an answer, or none (lost in transport).
    type Answer = Option<http::Response<Vec<u8>>>;
    let cases: [(&str, Answer, PersonLoginEnd); 4] = [
        (
            "invalid_grant",
            Some(reply(400, r#"{"error":"invalid_grant"}"#)),
            PersonLoginEnd::Refused,
        ),
        ("503", Some(reply(503, "")), PersonLoginEnd::Refused),
        ("malformed", Some(reply(200, "{}")), PersonLoginEnd::Refused),
        ("lost", None, PersonLoginEnd::Lost),
    ];
    for (name, answer, end) in cases {
        let mut server = StandardServer::new(StandardServerConfig::default());
        let (mut driver, url) = started();
        driver
            .handle_redirect(&browse(&mut server, &url), NOW)
            .unwrap();
        let exchange = collect(&mut driver).only_request();
        match answer {
            Some(answer) => driver.handle_response(exchange.id(), &answer, NOW).unwrap(),
            None => driver
                .handle_transport_error(exchange.id(), TransportError::OutcomeUnknown, NOW)
                .unwrap(),
        }
        let drained = collect(&mut driver);
        assert_eq!(ended_with(&drained), Some(end), "{name}");
        assert!(drained.requests.is_empty(), "{name}: never resent");
        assert!(driver.next_deadline().is_none(), "{name}");
    }
}

#[test]
fn a_restart_during_the_exchange_never_sends_the_code_again() {
    let mut server = StandardServer::new(StandardServerConfig::default());
    let (mut driver, url) = started();
    driver
        .handle_redirect(&browse(&mut server, &url), NOW)
        .unwrap();
    // The persistence point before the exchange: the snapshot a crash would leave.
    assert!(matches!(driver.poll_output(), Output::Persist));
    let snapshot = serde_json::to_string(&driver.session().snapshot_with_secrets()).unwrap();
    let exchange = collect(&mut driver).only_request();
    let code = exchange.request().body().clone();
    let restored = AnySession::restore(
        dialect(),
        Policy::default(),
        serde_json::from_str(&snapshot).unwrap(),
    )
    .unwrap();
    let mut driver = Driver::from_session(restored);
    driver.handle_timeout(NOW);
    let drained = collect(&mut driver);
    assert_eq!(ended_with(&drained), Some(PersonLoginEnd::Lost));
    assert!(drained.requests.is_empty());
    assert!(
        !snapshot.contains(std::str::from_utf8(&code).unwrap()),
        "the code is not kept"
    );
}

#[test]
fn a_restart_while_awaiting_the_redirect_still_takes_it() {
    let mut server = StandardServer::new(StandardServerConfig::default());
    let (driver, url) = started();
    let snapshot = serde_json::to_string(&driver.session().snapshot_with_secrets()).unwrap();
    let redacted = serde_json::to_string(&driver.session().snapshot_redacted()).unwrap();
    let state = url
        .split("state=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    assert!(
        !redacted.contains(state),
        "a redacted snapshot keeps no state"
    );
    assert!(
        !format!("{driver:?}").contains(state),
        "Debug shows no state"
    );
    let restored = AnySession::restore(
        dialect(),
        Policy::default(),
        serde_json::from_str(&snapshot).unwrap(),
    )
    .unwrap();
    let mut driver = Driver::from_session(restored);
    driver
        .handle_redirect(&browse(&mut server, &url), NOW)
        .unwrap();
    drain(&mut driver, &mut server, NOW);
    assert!(driver.access_token(NOW).is_some());
}

#[test]
fn a_dialect_without_the_authorization_code_grant_refuses_to_start_one() {
    let other = Standard::builder("http://127.0.0.1/token", "client")
        .client_secret("secret")
        .build()
        .unwrap();
    let mut driver = Driver::new(other, Policy::default()).unwrap();
    assert!(matches!(
        driver.authorize(request(1), NOW),
        Err(Misuse::PersonLoginUnsupported { .. })
    ));
    assert!(Standard::builder("http://127.0.0.1/token", "client")
        .grant(Grant::AuthorizationCode)
        .build()
        .is_err());
}

#[test]
fn every_configured_scope_is_asked_for_in_the_authorization_request() {
    for scopes in [&["openid"][..], &["openid", "offline_access", "api:read"]] {
        let mut builder = Standard::builder("http://127.0.0.1/token", PUBLIC)
            .grant(Grant::AuthorizationCode)
            .authorization_url("http://127.0.0.1/authorize");
        for scope in scopes {
            builder = builder.scope(*scope);
        }
        let request = builder
            .build()
            .unwrap()
            .authorization_request(REDIRECT_URI)
            .unwrap()
            .build(&mut entropy(3))
            .expect("a request with every scope");
        assert_eq!(request.scope(), Some(scopes.join(" ").as_str()));
    }
}
