//! The transport glue, row by row over real loopback sockets: every HTTP answer comes
//! back as a response, bodies stop one byte past the cap, and each failure says whether
//! the request may have left.

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use oauth_lifecycle::http;
use oauth_lifecycle::{Policy, TransportError};
use oauth_lifecycle_emulator::{
    Clock, HttpFront, InjectedFailure, StandardServer, StandardServerConfig, TransportFault,
};
use oauth_lifecycle_tokio::transport::{default_client, send};
use support::loopback::{Answer, Loopback};

/// A client-credentials token request, as the core would build one, to `url`.
fn token_request(url: &str) -> http::Request<Vec<u8>> {
    http::Request::builder()
        .method("POST")
        .uri(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            b"grant_type=client_credentials&client_id=emulated-client&client_secret=emulated-secret"
                .to_vec(),
        )
        .unwrap()
}

/// What a row expects.
#[derive(Debug)]
enum Expect {
    /// A response with this status and a body of this many bytes (`None`: any length).
    Response(u16, Option<usize>),
    Failed(TransportError),
}

/// What the token endpoint does in a row.
enum Setup {
    Fault(TransportFault),
    Provider(InjectedFailure),
    Served,
    /// A port nobody listens on.
    Refused,
    /// A URL reqwest refuses to send to.
    BadScheme,
}

const CAP: usize = 1024;
const TIMEOUT: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_is_a_response_and_every_failure_says_whether_the_request_left() {
    use Expect::*;
    use TransportError::*;
    let rows: Vec<(&str, Setup, Expect)> = vec![
        ("a token", Setup::Served, Response(200, None)),
        (
            "a 503 with Retry-After",
            Setup::Provider(InjectedFailure::Status {
                status: 503,
                retry_after: Some("30".into()),
            }),
            Response(503, Some(0)),
        ),
        (
            "an OAuth error",
            Setup::Provider(InjectedFailure::OAuthError {
                status: 400,
                code: "invalid_grant".into(),
            }),
            Response(400, None),
        ),
        (
            "a gateway's HTML page",
            Setup::Fault(TransportFault::HtmlErrorPage(502)),
            Response(502, None),
        ),
        (
            "a body past the cap, read one byte past it",
            Setup::Fault(TransportFault::OversizedBody(10 * 1024 * 1024)),
            Response(200, Some(CAP + 1)),
        ),
        (
            "a body exactly at the cap",
            Setup::Fault(TransportFault::OversizedBody(CAP as u64)),
            Response(200, Some(CAP)),
        ),
        ("a refused connection", Setup::Refused, Failed(NotSent)),
        (
            "a scheme reqwest cannot send",
            Setup::BadScheme,
            Failed(NotSent),
        ),
        (
            "a reset after the request",
            Setup::Fault(TransportFault::ResetAfterRequest),
            Failed(OutcomeUnknown),
        ),
        (
            "a truncated body",
            Setup::Fault(TransportFault::TruncatedBody),
            Failed(OutcomeUnknown),
        ),
        (
            "a hang past the timeout",
            Setup::Fault(TransportFault::Hang(Duration::from_secs(5))),
            Failed(OutcomeUnknown),
        ),
    ];
    let client = default_client(&Policy::default()).unwrap();
    for (name, setup, expect) in rows {
        let front = HttpFront::start(
            StandardServer::new(StandardServerConfig::default()),
            Clock::System,
        )
        .unwrap();
        let mut url = front.url("/token");
        match setup {
            Setup::Fault(fault) => front.inject(fault),
            Setup::Provider(failure) => front.with_emulator(|s| {
                use oauth_lifecycle_emulator::Emulator as _;
                s.fail_next(failure)
            }),
            Setup::Served => {}
            Setup::Refused => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                url = format!("http://{}/token", listener.local_addr().unwrap());
            }
            Setup::BadScheme => url = url.replace("http://", "ftp://"),
        }
        let started = Instant::now();
        let outcome = send(&client, token_request(&url), TIMEOUT, CAP).await;
        let elapsed = started.elapsed();
        match (&expect, &outcome) {
            (Response(status, length), Ok(response)) => {
                assert_eq!(response.status().as_u16(), *status, "{name}");
                if let Some(length) = length {
                    assert_eq!(response.body().len(), *length, "{name}");
                }
            }
            (Failed(expected), Err(error)) => assert_eq!(error, expected, "{name}"),
            _ => panic!("{name}: expected {expect:?}, got {outcome:?}"),
        }
        // Nothing waits past its timeout (with room for a loaded machine).
        assert!(
            elapsed < TIMEOUT + Duration::from_secs(2),
            "{name}: {elapsed:?}"
        );
        if name == "a hang past the timeout" {
            assert!(elapsed >= TIMEOUT, "{name}: {elapsed:?}");
        }
    }
}

/// A 307 from the token endpoint would re-send the form body, credentials and all, to
/// wherever it points: the default client hands the 307 back instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_client_follows_no_redirect() {
    let elsewhere = Loopback::start(|_| Answer::status(200)).await;
    let target = elsewhere.url("/collect");
    let endpoint = Loopback::start(move |_| Answer::status(307).header("location", &target)).await;
    let response = send(
        &default_client(&Policy::default()).unwrap(),
        token_request(&endpoint.url("/token")),
        Duration::from_secs(5),
        CAP,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(endpoint.count(), 1);
    assert_eq!(
        elsewhere.count(),
        0,
        "the credentials followed the redirect"
    );
}

/// The request goes out exactly as the core built it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_goes_out_as_built() {
    let endpoint = Loopback::start(|_| Answer::status(200).body(b"{}")).await;
    let request = token_request(&endpoint.url("/token?x=1"));
    let body = request.body().clone();
    send(
        &default_client(&Policy::default()).unwrap(),
        request,
        Duration::from_secs(5),
        CAP,
    )
    .await
    .unwrap();
    let seen = &endpoint.seen()[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/token?x=1");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body, body);
}
