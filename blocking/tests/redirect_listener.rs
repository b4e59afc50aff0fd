//! The loopback redirect listener over real sockets on 127.0.0.1: the browser is a plain
//! `TcpStream` that writes one HTTP/1.1 request and reads the whole answer.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use oauth_lifecycle::dialect::authorization::AuthorizationRequest;
use oauth_lifecycle_adapter::redirect_listener::{MAX_CONNECTIONS, MAX_HEAD_BYTES};
use oauth_lifecycle_blocking::{
    ListenerError, LoopbackRedirect, ReceivedRedirect, RedirectListener, RedirectPathProblem,
};

/// Longer than any wait these tests mean: a hung listener fails the test.
const PATIENCE: Duration = Duration::from_secs(30);

const REDIRECT: &str = "/callback?code=SECRETCODE&state=SECRETSTATE";

type Waiting = JoinHandle<(RedirectListener, Result<ReceivedRedirect, ListenerError>)>;

fn config() -> LoopbackRedirect {
    LoopbackRedirect::default().timeout(PATIENCE)
}

/// Starts waiting for the redirect on another thread.
fn wait(mut listener: RedirectListener) -> Waiting {
    thread::spawn(move || {
        let result = listener.accept();
        (listener, result)
    })
}

/// The listener's outcome.
fn outcome(waiting: Waiting) -> (RedirectListener, Result<ReceivedRedirect, ListenerError>) {
    waiting.join().expect("the listener's thread")
}

/// Opens a connection to the listener, as a browser would.
fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends `request` on a new connection and reads the whole answer.
fn exchange(port: u16, request: &[u8]) -> String {
    let mut stream = connect(port);
    stream.write_all(request).expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    String::from_utf8(answer).expect("a UTF-8 answer")
}

/// A GET of `target` as a browser sends it.
fn get(port: u16, target: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\
         Accept: text/html\r\n\r\n"
    )
    .into_bytes()
}

fn status(answer: &str) -> &str {
    answer.split("\r\n").next().unwrap_or("")
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

#[test]
fn os_picked_port() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    assert_ne!(port, 0);
    assert_eq!(
        listener.redirect_uri(),
        format!("http://127.0.0.1:{port}/callback")
    );
    let mut entropy = [0u8; 64];
    for (i, byte) in entropy.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(151) ^ 0x5c;
    }
    let request = AuthorizationRequest::builder(
        "https://auth.example.com/authorize",
        "my-app",
        listener.redirect_uri(),
    )
    .build(&mut entropy)
    .unwrap();
    let waiting = wait(listener);

    let target = format!("/callback?code=SECRETCODE&state={}", request.state());
    let answer = exchange(port, &get(port, &target));
    assert_eq!(status(&answer), "HTTP/1.1 200 OK");
    assert!(answer.contains("\r\nCache-Control: no-store\r\n"));
    assert!(answer.contains("\r\nReferrer-Policy: no-referrer\r\n"));
    assert!(answer.contains("\r\nConnection: close\r\n"));
    assert!(body(&answer).contains("You can close this window."));
    for secret in ["SECRETCODE", request.state(), "code="] {
        assert!(!answer.contains(secret), "the page quotes {secret}");
    }

    let (_, redirect) = outcome(waiting);
    let redirect = redirect.unwrap();
    assert_eq!(redirect.target(), target);
    let shown = format!("{redirect:?}");
    assert!(!shown.contains("SECRETCODE"), "{shown}");
    assert!(!shown.contains(request.state()), "{shown}");
    let code = request.read_redirect(redirect.target()).unwrap();
    assert!(!format!("{code:?}").contains("SECRETCODE"));
}

#[test]
fn fixed_port() {
    let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);

    let fixed = config().port(port).path("/cb");
    let listener = RedirectListener::bind(&fixed).unwrap();
    assert_eq!(listener.port(), port);
    assert_eq!(
        listener.redirect_uri(),
        format!("http://127.0.0.1:{port}/cb")
    );

    // The port is held now: a second listener cannot have it.
    match RedirectListener::bind(&fixed) {
        Err(ListenerError::Bind { port: refused, .. }) => assert_eq!(refused, port),
        other => panic!("expected Bind, got {other:?}"),
    }

    let waiting = wait(listener);
    let answer = exchange(port, &get(port, "/callback?code=SECRETCODE"));
    assert!(status(&answer).starts_with("HTTP/1.1 404 "), "{answer}");
    let answer = exchange(port, &get(port, "/cb?code=SECRETCODE&state=SECRETSTATE"));
    assert_eq!(status(&answer), "HTTP/1.1 200 OK");
    let (_, redirect) = outcome(waiting);
    assert_eq!(
        redirect.unwrap().target(),
        "/cb?code=SECRETCODE&state=SECRETSTATE"
    );
}

#[test]
fn an_invalid_path_is_refused() {
    let error = RedirectListener::bind(&config().path("callback")).unwrap_err();
    assert!(matches!(
        error,
        ListenerError::InvalidPath(RedirectPathProblem::NotAbsolute)
    ));
}

#[test]
fn a_favicon_then_the_redirect() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    let waiting = wait(listener);

    let answer = exchange(port, &get(port, "/favicon.ico"));
    assert!(status(&answer).starts_with("HTTP/1.1 404 "), "{answer}");
    let answer = exchange(port, &get(port, REDIRECT));
    assert_eq!(status(&answer), "HTTP/1.1 200 OK");

    let (_, redirect) = outcome(waiting);
    assert_eq!(redirect.unwrap().target(), REDIRECT);
}

#[test]
fn an_oversize_head_then_the_redirect() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    let waiting = wait(listener);

    let long = format!("/callback?code={}", "a".repeat(MAX_HEAD_BYTES + 1000));
    let answer = exchange(port, &get(port, &long));
    assert!(
        status(&answer).starts_with("HTTP/1.1 431 "),
        "{}",
        status(&answer)
    );
    let answer = exchange(port, b"NOT HTTP AT ALL\r\n\r\n");
    assert!(status(&answer).starts_with("HTTP/1.1 400 "), "{answer}");
    let answer = exchange(port, &get(port, REDIRECT));
    assert_eq!(status(&answer), "HTTP/1.1 200 OK");

    let (_, redirect) = outcome(waiting);
    assert_eq!(redirect.unwrap().target(), REDIRECT);
}

#[test]
fn another_method_gets_405() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    let waiting = wait(listener);

    let post = format!(
        "POST {REDIRECT} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 4\r\n\r\nbody"
    );
    let answer = exchange(port, post.as_bytes());
    assert!(status(&answer).starts_with("HTTP/1.1 405 "), "{answer}");
    assert!(answer.contains("\r\nAllow: GET\r\n"));
    assert!(!answer.contains("SECRET"));
    let head = format!("HEAD {REDIRECT} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let answer = exchange(port, head.as_bytes());
    assert!(status(&answer).starts_with("HTTP/1.1 405 "), "{answer}");
    assert_eq!(body(&answer), "", "an answer to HEAD has no body");
    let answer = exchange(port, &get(port, REDIRECT));
    assert_eq!(status(&answer), "HTTP/1.1 200 OK");

    let (_, redirect) = outcome(waiting);
    assert_eq!(redirect.unwrap().target(), REDIRECT);
}

#[test]
fn an_idle_connection_does_not_hold_up_the_redirect() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    let waiting = wait(listener);

    // A browser's preconnection: open, silent.
    let idle = connect(port);
    let answer = exchange(port, &get(port, REDIRECT));
    assert_eq!(status(&answer), "HTTP/1.1 200 OK");
    let (_, redirect) = outcome(waiting);
    assert_eq!(redirect.unwrap().target(), REDIRECT);
    drop(idle);
}

#[test]
fn accept_again_after_a_redirect() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    let waiting = wait(listener);
    exchange(port, &get(port, "/callback?state=STALE"));
    let (listener, stale) = outcome(waiting);
    assert_eq!(stale.unwrap().target(), "/callback?state=STALE");

    let waiting = wait(listener);
    exchange(port, &get(port, REDIRECT));
    let (_, redirect) = outcome(waiting);
    assert_eq!(redirect.unwrap().target(), REDIRECT);
}

#[test]
fn no_browser_times_out() {
    let timeout = Duration::from_millis(200);
    let mut listener = RedirectListener::bind(&config().timeout(timeout)).unwrap();
    match listener.accept() {
        Err(ListenerError::TimedOut { after }) => assert_eq!(after, timeout),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    // The deadline is the listener's: a later call has none left.
    assert!(matches!(
        listener.accept(),
        Err(ListenerError::TimedOut { .. })
    ));
}

#[test]
fn a_flood_of_connections_ends_the_wait() {
    let listener = RedirectListener::bind(&config()).unwrap();
    let port = listener.port();
    let waiting = wait(listener);
    for _ in 0..MAX_CONNECTIONS {
        let answer = exchange(port, &get(port, "/favicon.ico"));
        assert!(status(&answer).starts_with("HTTP/1.1 404 "), "{answer}");
    }
    let (_, result) = outcome(waiting);
    assert!(
        matches!(result, Err(ListenerError::TooManyConnections)),
        "{result:?}"
    );
}
