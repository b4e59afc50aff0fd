//! The standard dialect against real OAuth servers written by others, started on
//! 127.0.0.1: panva's oidc-provider and django-oauth-toolkit. Time is the real clock here,
//! because the servers' is.

mod support;

use oauth_lifecycle::dialect::{ClientAuth, Grant, Standard};
use oauth_lifecycle::{
    Driver, Error, Event, Output, Policy, Purpose, RefreshToken, TokenKind, TransportError,
    Withdrawal,
};
use support::*;
use time::UtcDateTime;

fn now() -> UtcDateTime {
    UtcDateTime::now()
}

/// A request as sent: its purpose and its form body.
type Sent = (Purpose, Vec<(String, String)>);

/// Sends every request the driver emits and feeds back the responses, until it waits.
/// Returns the events seen and the requests sent.
fn run(driver: &mut Driver<Standard>) -> (Vec<Event>, Vec<Sent>) {
    let mut events = Vec::new();
    let mut sent = Vec::new();
    for _ in 0..32 {
        match driver.poll_output() {
            Output::Request(request) => {
                let form = form_urlencoded::parse(request.request().body())
                    .into_owned()
                    .collect();
                sent.push((request.purpose(), form));
                match send(request.request()) {
                    Ok(response) => driver
                        .handle_response(request.id(), &response, now())
                        .unwrap(),
                    Err(error) => {
                        let error = if error.kind() == std::io::ErrorKind::ConnectionRefused {
                            TransportError::NotSent
                        } else {
                            TransportError::OutcomeUnknown
                        };
                        driver
                            .handle_transport_error(request.id(), error, now())
                            .unwrap()
                    }
                }
            }
            Output::Event(event) => events.push(event),
            Output::Persist => {}
            Output::Timeout(_) | Output::Idle => return (events, sent),
        }
    }
    panic!("the driver never settled");
}

fn token(driver: &Driver<Standard>) -> String {
    driver
        .access_token(now())
        .expect("a token")
        .secret()
        .to_owned()
}

/// The default policy, except that a reported 401 renews at once: these tests use 401s
/// to make the session refresh against the real servers, in real time.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = time::Duration::ZERO;
    policy
}

/// The session's current refresh token.
fn refresh_token(driver: &Driver<Standard>) -> String {
    let tokens = driver.session().tokens().expect("tokens");
    tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone()
}

/// Reports a 401 from the API, which makes the session refresh at once with
/// `refresh_token`; checks the refresh succeeded.
fn refresh_after_401(driver: &mut Driver<Standard>, refresh_token: &str) {
    let generation = driver.session().generation();
    let _ = driver.handle_unauthorized(generation, now());
    let (events, sent) = run(driver);
    let renewed = |e: &Event| {
        matches!(
            e,
            Event::TokenIssued {
                via: Purpose::Refresh,
                renewal: true,
                ..
            }
        )
    };
    assert!(events.iter().any(renewed), "{events:?}");
    assert_eq!(param(&sent[0].1, "refresh_token"), Some(refresh_token));
}

/// The events of a revocation that went through: the token withdrawn, then revoked.
fn assert_revoked(events: &[Event]) {
    assert!(
        matches!(
            events,
            [
                Event::TokenWithdrawn {
                    reason: Withdrawal::Revoked,
                    ..
                },
                Event::Revoked
            ]
        ),
        "{events:?}"
    );
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A session adopted from a refresh token obtained elsewhere (the authorization code flow).
fn adopted(dialect: Standard, refresh_token: String) -> Driver<Standard> {
    Driver::from_session(oauth_lifecycle_testkit::adopted::adopted(
        dialect,
        policy(),
        refresh_token,
        now(),
    ))
}

#[test]
fn oidc_provider_client_credentials_with_basic_and_post_auth() {
    let peer = start_oidc_provider(300);
    for ((id, secret), auth) in [
        (OIDC_BASIC_CLIENT, ClientAuth::Basic),
        (OIDC_POST_CLIENT, ClientAuth::Post),
    ] {
        let dialect = Standard::builder(peer.url("/token"), id)
            .client_secret(secret)
            .client_auth(auth)
            .scope("api:read")
            .build()
            .unwrap();
        let mut driver = Driver::new(dialect, policy()).unwrap();
        driver.handle_timeout(now());
        let (events, _) = run(&mut driver);
        assert!(
            matches!(events[..], [Event::TokenIssued { renewal: false, .. }]),
            "{auth:?}: {events:?}"
        );
        assert!(!token(&driver).is_empty());
        let tokens = driver.session().tokens().unwrap();
        assert_eq!(tokens.scope(), Some("api:read"));
        let lifetime = tokens.expires_at() - tokens.issued_at();
        assert_eq!(lifetime.whole_seconds(), 300);
    }
}

#[test]
fn oidc_provider_rejects_a_wrong_secret_as_invalid_client() {
    let peer = start_oidc_provider(300);
    let dialect = Standard::builder(peer.url("/token"), OIDC_BASIC_CLIENT.0)
        .client_secret("wrong-secret")
        .build()
        .unwrap();
    let mut driver = Driver::new(dialect, policy()).unwrap();
    driver.handle_timeout(now());
    let (events, _) = run(&mut driver);
    // The client's own credentials: tried again by itself in a minute, without limit.
    let [Event::RejectedRetryScheduled {
        error: Error::Rejected { failure },
        attempts_left: None,
        ..
    }] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(failure.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(failure.code().map(|c| c.as_ref()), Some("invalid_client"));
    assert!(!format!("{events:?}").contains("wrong-secret"));
    assert!(matches!(driver.poll_output(), Output::Timeout(_)));
}

#[test]
fn oidc_provider_refresh_rotation_reuse_detection_and_revocation() {
    let peer = start_oidc_provider(300);
    let (id, secret) = OIDC_BASIC_CLIENT;
    let dialect = || {
        Standard::builder(peer.url("/token"), id)
            .client_secret(secret)
            .grant(Grant::RefreshOnly)
            .revocation_url(peer.url("/token/revocation"))
            .build()
            .unwrap()
    };
    let first_refresh_token = mint_oidc_refresh_token(&peer, id);
    let mut driver = adopted(dialect(), first_refresh_token.clone());

    // A 401 from the API makes the session refresh at once; the server rotates.
    refresh_after_401(&mut driver, &first_refresh_token);
    let rotated = refresh_token(&driver);
    assert_ne!(rotated, first_refresh_token);
    let access = token(&driver);
    assert_ne!(access, "obtained-elsewhere");

    // Presenting the spent refresh token again is refused, and ends the whole grant.
    let replay = dialect().refresh_request_for_test(&first_refresh_token);
    let reused = send(&replay).unwrap();
    assert_eq!(reused.status(), 400);
    assert!(String::from_utf8_lossy(reused.body()).contains("invalid_grant"));

    // The session's own next refresh meets invalid_grant: with no credentials to log in
    // with, it asks for re-authentication and keeps serving the still-valid token.
    let generation = driver.session().generation();
    let _ = driver.handle_unauthorized(generation, now());
    let (events, _) = run(&mut driver);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::ReauthenticationRequired {
                error: Error::Reauthenticate { .. }
            }
        )),
        "{events:?}"
    );

    // Revocation: both tokens, answered 200, then terminal.
    let minted = mint_oidc_refresh_token(&peer, id);
    let mut driver = adopted(dialect(), minted.clone());
    refresh_after_401(&mut driver, &minted);
    let refresh_token = refresh_token(&driver);
    driver.revoke(now());
    let (events, sent) = run(&mut driver);
    assert_eq!(
        sent.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [
            Purpose::Revoke(TokenKind::Refresh),
            Purpose::Revoke(TokenKind::Access)
        ]
    );
    assert_revoked(&events);
    let after = send(&dialect().refresh_request_for_test(&refresh_token)).unwrap();
    assert_eq!(after.status(), 400, "a revoked refresh token is dead");
}

#[test]
fn django_oauth_toolkit_password_grant_rotation_reuse_and_revocation() {
    let peer = start_django_oauth_toolkit(300);
    let (id, secret) = DOT_PASSWORD_CLIENT;
    let dialect = || {
        Standard::builder(peer.url("/o/token/"), id)
            .client_secret(secret)
            .password(DOT_USER.0, DOT_USER.1)
            .revocation_url(peer.url("/o/revoke_token/"))
            .build()
            .unwrap()
    };
    let mut driver = Driver::new(dialect(), policy()).unwrap();
    driver.handle_timeout(now());
    let (events, sent) = run(&mut driver);
    assert!(
        matches!(events[..], [Event::TokenIssued { renewal: false, .. }]),
        "{events:?}"
    );
    assert_eq!(
        param(&sent[0].1, "password"),
        Some(DOT_USER.1),
        "the awkward password arrives intact"
    );
    let first_access = token(&driver);
    let first_refresh = refresh_token(&driver);

    refresh_after_401(&mut driver, &first_refresh);
    let second_access = token(&driver);
    let second_refresh = refresh_token(&driver);
    assert_ne!(second_access, first_access);
    assert_ne!(second_refresh, first_refresh);

    // Reuse of the rotated refresh token: invalid_grant, and the family is revoked, so
    // the session's next refresh fails too and it logs in again with the password.
    let reused = send(&dialect().refresh_request_for_test(&first_refresh)).unwrap();
    assert_eq!(reused.status(), 400);
    assert!(String::from_utf8_lossy(reused.body()).contains("invalid_grant"));
    let generation = driver.session().generation();
    let _ = driver.handle_unauthorized(generation, now());
    let (events, sent) = run(&mut driver);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Reauthenticating { .. })),
        "{events:?}"
    );
    assert_eq!(
        sent.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [Purpose::Refresh, Purpose::Login]
    );
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::TokenIssued {
                via: Purpose::Login,
                renewal: true,
                ..
            }
        )),
        "{events:?}"
    );

    driver.revoke(now());
    let (events, sent) = run(&mut driver);
    assert_eq!(sent.len(), 2);
    assert_revoked(&events);
    assert!(driver.access_token(now()).is_none());
}

#[test]
fn django_oauth_toolkit_client_credentials_and_bad_user_password() {
    let peer = start_django_oauth_toolkit(300);
    let (id, secret) = DOT_MACHINE_CLIENT;
    let dialect = Standard::builder(peer.url("/o/token/"), id)
        .client_secret(secret)
        .client_auth(ClientAuth::Post)
        .build()
        .unwrap();
    let mut driver = Driver::new(dialect, policy()).unwrap();
    driver.handle_timeout(now());
    let (events, _) = run(&mut driver);
    assert!(
        matches!(events[..], [Event::TokenIssued { renewal: false, .. }]),
        "{events:?}"
    );
    assert!(driver.session().tokens().unwrap().refresh_token().is_none());

    let (id, secret) = DOT_PASSWORD_CLIENT;
    let dialect = Standard::builder(peer.url("/o/token/"), id)
        .client_secret(secret)
        .password(DOT_USER.0, "not-the-password")
        .build()
        .unwrap();
    let mut driver = Driver::new(dialect, policy()).unwrap();
    driver.handle_timeout(now());
    let (events, _) = run(&mut driver);
    // A person's password: tried again by itself, three times at most.
    let [Event::RejectedRetryScheduled {
        error: Error::Reauthenticate { failure },
        attempts_left: Some(2),
        ..
    }] = &events[..]
    else {
        panic!("{events:?}");
    };
    assert_eq!(failure.code().map(|c| c.as_ref()), Some("invalid_grant"));
}

/// Builds a refresh request for an arbitrary refresh token, to replay a spent one.
trait ReplayRefresh {
    fn refresh_request_for_test(&self, refresh_token: &str) -> http::Request<Vec<u8>>;
}

impl ReplayRefresh for Standard {
    fn refresh_request_for_test(&self, refresh_token: &str) -> http::Request<Vec<u8>> {
        use oauth_lifecycle::Dialect;
        self.refresh_request(&RefreshToken::new(refresh_token.to_owned()))
            .unwrap()
    }
}
