//! A person's browser login (the authorization code grant with PKCE, RFC 8252 loopback
//! redirect) through the blocking loopback listener, against real servers on 127.0.0.1:
//! panva's oidc-provider and django-oauth-toolkit. The session is the core's driver, its
//! requests sent over real sockets; the person is the testkit's, posting each server's
//! own login and consent forms; the browser's last step, the redirect, reaches the
//! listener over a real socket.
//!
//! Against both servers: a whole login (a forged redirect first, ignored; the real one
//! exchanged once), refresh afterwards, revocation, and the same redirect replayed (never
//! exchanged again); and a person who cancels: the error redirect ends the login, typed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::thread;

use oauth_lifecycle::dialect::discovery::{Discovery, ServerMetadata, WellKnown};
use oauth_lifecycle::dialect::{Dialect, Grant, Standard};
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    Driver, Error, Event, LoginPrompt, Misuse, Output, PersonLoginEnd, Policy, Purpose,
    RedirectRefused, TransportError,
};
use oauth_lifecycle_blocking::{LoopbackRedirect, RedirectListener};
use oauth_lifecycle_testkit::browser::Browser;
use oauth_lifecycle_testkit::people::{dot_browser_login, oidc_browser_login, Choice};
use oauth_lifecycle_testkit::{send, start_django_oauth_toolkit, start_oidc_provider, Peer};

/// oidc-provider's public native client (tests/peers/oidc/server.mjs).
const OIDC_PUBLIC_CLIENT: &str = "lifecycle-public";
/// django-oauth-toolkit's confidential client (tests/peers/dot/serve.py).
const DOT_CODE_CLIENT: (&str, &str) = ("dot-code", "dot-code-secret-0123");

#[derive(Clone, Copy, PartialEq)]
enum Server {
    Oidc,
    Dot,
}

fn metadata(server: Server, peer: &Peer) -> ServerMetadata {
    let discovery = match server {
        Server::Oidc => Discovery::new(&peer.base_url).unwrap(),
        Server::Dot => {
            Discovery::with_well_known(&peer.url("/o"), WellKnown::OAuthAuthorizationServer)
                .unwrap()
        }
    };
    let response = send(&discovery.request()).expect("the server answers");
    discovery.read(&response).expect("usable metadata")
}

fn dialect(server: Server, metadata: &ServerMetadata) -> Standard {
    let builder = match server {
        Server::Oidc => metadata
            .standard(OIDC_PUBLIC_CLIENT, None)
            .unwrap()
            .scope("openid offline_access"),
        Server::Dot => metadata
            .standard(DOT_CODE_CLIENT.0, Some(DOT_CODE_CLIENT.1))
            .unwrap()
            .scope("read"),
    };
    builder.grant(Grant::AuthorizationCode).build().unwrap()
}

/// 64 bytes from the operating system's random source.
fn entropy() -> [u8; 64] {
    let mut entropy = [0u8; 64];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut entropy))
        .expect("the operating system's random source");
    entropy
}

/// The browser's last step: GET `location` from the listener, over a real socket, on a
/// thread (the listener accepts on this one). Returns the page's status line.
fn browser_arrives(location: &str) -> thread::JoinHandle<String> {
    let url = location.to_owned();
    thread::spawn(move || {
        let rest = url
            .strip_prefix("http://")
            .expect("a loopback http redirect");
        let (authority, target) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(authority).expect("the listener accepts");
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer.lines().next().unwrap_or_default().to_owned()
    })
}

/// Hands `location` to the listener as a browser would and the received target to the
/// session.
fn redirect(
    listener: &mut RedirectListener,
    driver: &mut Driver<Standard>,
    location: &str,
) -> Result<(), RedirectRefused> {
    let browser = browser_arrives(location);
    let received = listener
        .accept()
        .expect("the redirect reaches the listener");
    assert_eq!(browser.join().unwrap(), "HTTP/1.1 200 OK");
    driver.handle_redirect(received.target(), UtcDateTime::now())
}

/// The drain loop over real sockets; the events it saw.
fn run(driver: &mut Driver<Standard>) -> Vec<Event> {
    let mut events = Vec::new();
    for _ in 0..32 {
        let now = UtcDateTime::now();
        match driver.poll_output() {
            Output::Request(request) => match send(request.request()) {
                Ok(answer) => driver.handle_response(request.id(), &answer, now).unwrap(),
                Err(_) => driver
                    .handle_transport_error(request.id(), TransportError::OutcomeUnknown, now)
                    .unwrap(),
            },
            Output::Event(event) => events.push(event),
            Output::Persist => {}
            Output::Timeout(_) | Output::Idle => return events,
        }
    }
    panic!("the driver never settled: {events:?}");
}

/// Binds the listener, starts the session's browser login, and has the person log in;
/// the redirect the server sent the browser to.
fn start(
    server: Server,
    peer: &Peer,
    choice: Choice,
) -> (RedirectListener, Driver<Standard>, String) {
    let metadata = metadata(server, peer);
    let dialect = dialect(server, &metadata);
    let listener = RedirectListener::bind(&LoopbackRedirect::default()).expect("a loopback port");
    // oidc-provider keeps `offline_access` (a refresh token) only when consent is asked.
    let request = dialect
        .authorization_request(listener.redirect_uri())
        .expect("an authorization endpoint from the metadata")
        .param("prompt", "consent")
        .build(&mut entropy())
        .unwrap();
    let mut driver = Driver::new(dialect, Policy::default()).unwrap();
    driver.authorize(request, UtcDateTime::now()).unwrap();
    let url = run(&mut driver)
        .into_iter()
        .find_map(|event| match event {
            Event::LoginPrompt(LoginPrompt::OpenBrowser(prompt)) => Some(prompt.url().to_string()),
            _ => None,
        })
        .expect("the URL to open");
    let mut browser = Browser::new(listener.redirect_uri());
    let location = match server {
        Server::Oidc => oidc_browser_login(&mut browser, &url, choice),
        Server::Dot => dot_browser_login(&mut browser, &url, choice).0,
    };
    assert!(location.starts_with(listener.redirect_uri()), "{location}");
    (listener, driver, location)
}

fn whole_login(server: Server) {
    let peer = match server {
        Server::Oidc => start_oidc_provider(300),
        Server::Dot => start_django_oauth_toolkit(300),
    };
    let (mut listener, mut driver, location) = start(server, &peer, Choice::Allow);

    // A redirect with another state first (another tab, a forgery): ignored.
    let forged = location.replacen("state=", "state=x", 1);
    assert!(matches!(
        redirect(&mut listener, &mut driver, &forged),
        Err(RedirectRefused::Redirect { ended: false, .. })
    ));
    assert!(
        run(&mut driver).is_empty(),
        "nothing sent for a forged redirect"
    );

    // The real one: exchanged once.
    redirect(&mut listener, &mut driver, &location).expect("the code is exchanged");
    let events = run(&mut driver);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::TokenIssued {
                via: Purpose::Login,
                ..
            }
        )),
        "{events:?}"
    );
    let first = driver
        .access_token(UtcDateTime::now())
        .unwrap()
        .secret()
        .to_owned();

    // Replayed: the session awaits no redirect and never sends the code again.
    assert!(matches!(
        driver.handle_redirect(&location, UtcDateTime::now()),
        Err(RedirectRefused::Misuse(Misuse::WrongState { .. }))
    ));
    assert!(run(&mut driver).is_empty());

    // Refresh afterwards, then revocation.
    driver.renew(UtcDateTime::now()).unwrap();
    let events = run(&mut driver);
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::TokenIssued {
                via: Purpose::Refresh,
                ..
            }
        )),
        "{events:?}"
    );
    assert_ne!(
        driver.access_token(UtcDateTime::now()).unwrap().secret(),
        first
    );
    driver.revoke(UtcDateTime::now());
    let events = run(&mut driver);
    assert!(events.contains(&Event::Revoked), "{events:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::RevocationFailed { .. })),
        "{events:?}"
    );
}

fn cancelled_login(server: Server) {
    let peer = match server {
        Server::Oidc => start_oidc_provider(300),
        Server::Dot => start_django_oauth_toolkit(300),
    };
    let (mut listener, mut driver, location) = start(server, &peer, Choice::Deny);
    let refused = redirect(&mut listener, &mut driver, &location).unwrap_err();
    assert!(
        matches!(refused, RedirectRefused::Redirect { ended: true, .. }),
        "{refused}"
    );
    let events = run(&mut driver);
    let ended = events.iter().find_map(|e| match e {
        Event::PersonLoginEnded {
            error: Error::PersonLogin { ended, .. },
        } => *ended,
        _ => None,
    });
    // oidc-provider's error redirect carries `iss`: a denial. django-oauth-toolkit leaves
    // `iss` out of error redirects though its metadata promises it (RFC 9207 §2.4 says to
    // refuse such an answer): a redirect refused.
    let expected = match server {
        Server::Oidc => PersonLoginEnd::Denied,
        Server::Dot => PersonLoginEnd::Redirect,
    };
    assert_eq!(ended, Some(expected), "{events:?}");
    assert!(
        driver.next_deadline().is_none(),
        "no login follows by itself"
    );
}

#[test]
fn oidc_provider_browser_login_through_the_listener_then_refresh_and_revocation() {
    whole_login(Server::Oidc);
}

#[test]
fn django_oauth_toolkit_browser_login_through_the_listener_then_refresh_and_revocation() {
    whole_login(Server::Dot);
}

#[test]
fn oidc_provider_cancelled_browser_login_ends_typed() {
    cancelled_login(Server::Oidc);
}

#[test]
fn django_oauth_toolkit_cancelled_browser_login_ends_typed() {
    cancelled_login(Server::Dot);
}
