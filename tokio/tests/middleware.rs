//! The `BearerAuth` middleware over real loopback sockets: the token goes to the allowed
//! origins only, a rejected token is renewed and the request retried once, never twice,
//! never with a body that cannot be sent again, never across a redirect to another
//! origin; successful calls slide a Convirza V3 token.

#![cfg(feature = "middleware")]

mod support;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::{Error, Policy};
use oauth_lifecycle_emulator::{
    Clock, DrivenClock, HttpFront, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_tokio::{BearerAuth, BearerAuthError, TokenManager, WaitError};
use reqwest_middleware::ClientWithMiddleware;
use support::loopback::{Answer, Loopback, Seen};
use support::*;

/// A provider to get tokens from, on the system clock.
struct Provider {
    front: HttpFront<StandardServer>,
    manager: TokenManager,
}

fn provider() -> Provider {
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let manager =
        TokenManager::start(oauth_lifecycle_testkit::standard(&front), Policy::default()).unwrap();
    Provider { front, manager }
}

fn client(auth: BearerAuth) -> ClientWithMiddleware {
    let http = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    reqwest_middleware::ClientBuilder::new(http)
        .with(auth)
        .build()
}

fn authorization(seen: &Seen) -> Option<String> {
    seen.header("authorization").map(str::to_owned)
}

fn bearer(secret: &str) -> Option<String> {
    Some(format!("Bearer {secret}"))
}

const REJECTED: (&str, &str) = ("www-authenticate", r#"Bearer error="invalid_token""#);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_goes_to_allowed_origins_only() {
    let Provider {
        manager,
        front: _front,
    } = provider();
    let api = Loopback::start(|_| Answer::status(200)).await;
    let other = Loopback::start(|_| Answer::status(200)).await;
    let api_client = client(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
    let token = manager.token(PATIENCE).await.unwrap();

    let response = api_client.get(api.url("/orders")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Another port of the same host is another origin.
    let response = api_client.get(other.url("/orders")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // A request's own Authorization for another origin passes untouched.
    api_client
        .get(other.url("/basic"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();

    assert_eq!(authorization(&api.seen()[0]), bearer(token.secret()));
    assert_eq!(authorization(&other.seen()[0]), None);
    assert_eq!(
        authorization(&other.seen()[1]).as_deref(),
        Some("Basic dXNlcjpwYXNz")
    );
    assert!(token.header_value().is_sensitive());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_renewed_and_the_request_retried_once_with_the_new_one() {
    let Provider { manager, front } = provider();
    let first = manager.token(PATIENCE).await.unwrap();
    // The API rejects the first token only.
    let rejected = bearer(first.secret());
    let api = Loopback::start(move |seen| {
        if authorization(seen) == rejected {
            Answer::status(401).header(REJECTED.0, REJECTED.1)
        } else {
            Answer::status(200).body(b"orders")
        }
    })
    .await;
    let api_client = client(BearerAuth::new(manager.clone(), &api.origin()).unwrap());

    let response = api_client
        .post(api.url("/orders"))
        .body("a body that can be sent again")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "orders");

    let seen = api.seen();
    assert_eq!(seen.len(), 2, "one retry");
    let second = manager.token(PATIENCE).await.unwrap();
    assert_eq!(second.generation().get(), 2, "one renewal");
    assert_eq!(authorization(&seen[0]), bearer(first.secret()));
    assert_eq!(authorization(&seen[1]), bearer(second.secret()));
    assert_eq!(seen[1].body, b"a body that can be sent again");
    assert_eq!(front.stats().auth_requests, 2, "login, and one renewal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rejection_is_returned_as_is() {
    let Provider {
        manager,
        front: _front,
    } = provider();
    let api = Loopback::start(|_| Answer::status(401).header(REJECTED.0, REJECTED.1)).await;
    let api_client = client(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
    let first = manager.token(PATIENCE).await.unwrap();

    let response = api_client.get(api.url("/orders")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "one retry, no loop");
    assert_eq!(authorization(&seen[0]), bearer(first.secret()));
    assert_ne!(authorization(&seen[1]), bearer(first.secret()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_body_is_never_retried() {
    let Provider {
        manager,
        front: _front,
    } = provider();
    let api = Loopback::start(|_| Answer::status(401).header(REJECTED.0, REJECTED.1)).await;
    let api_client = client(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
    let first = manager.token(PATIENCE).await.unwrap();

    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![Ok(b"once, "), Ok(b"only")];
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = api_client
        .post(api.url("/upload"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "a streamed body cannot be sent again");
    assert_eq!(seen[0].body, b"once, only");
    // The rejection was still reported: the manager renews for the next request.
    let second = manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(second.generation().get(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_carries_no_token() {
    let Provider {
        manager,
        front: _front,
    } = provider();
    // Both origins are allowed: the token still does not follow a redirect from one to
    // the other, since reqwest strips it when the origin changes.
    let elsewhere = Loopback::start(|_| Answer::status(401).header(REJECTED.0, REJECTED.1)).await;
    let target = elsewhere.url("/landing");
    let api = Loopback::start(move |_| Answer::status(302).header("location", &target)).await;
    let api_client = client(
        BearerAuth::new(manager.clone(), &api.origin())
            .unwrap()
            .allow_origin(&elsewhere.origin())
            .unwrap(),
    );
    let token = manager.token(PATIENCE).await.unwrap();

    let response = api_client.get(api.url("/orders")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(authorization(&api.seen()[0]), bearer(token.secret()));
    assert_eq!(
        authorization(&elsewhere.seen()[0]),
        None,
        "the token crossed origins"
    );
    // The other origin's 401 says nothing about a token it never saw: no retry.
    assert_eq!((api.count(), elsewhere.count()), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_a_typed_error_not_a_request() {
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let dialect = Standard::builder(front.url("/token"), "emulated-client")
        .client_secret("not-the-secret")
        .build()
        .unwrap();
    let manager = TokenManager::start(dialect, Policy::default()).unwrap();
    let api = Loopback::start(|_| Answer::status(200)).await;
    let api_client = client(BearerAuth::new(manager, &api.origin()).unwrap());

    let error = api_client.get(api.url("/orders")).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(error) = error else {
        panic!("{error:?}");
    };
    let error = error.downcast::<BearerAuthError>().unwrap();
    // Told at once, not kept waiting for the session's slow retry of a rejection.
    assert!(
        matches!(
            error,
            BearerAuthError::NoToken(WaitError::Rejected {
                error: Error::Rejected { .. },
                ..
            })
        ),
        "{error:?}"
    );
    assert!(!format!("{error} {error:?}").contains("not-the-secret"));
    assert_eq!(api.count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_calls_slide_a_convirza_v3_token() {
    let clock = DrivenClock::new(START);
    let (front, manager) = convirza_v3(&clock);
    let api_client = client(BearerAuth::new(manager.clone(), &front.base_url()).unwrap());
    manager.token(PATIENCE).await.unwrap();
    for day in 1..=3 {
        advance(&clock, &manager, Duration::days(1));
        let response = api_client.get(front.url("/api/me")).send().await.unwrap();
        assert_eq!(response.status(), 200, "day {day}");
        let expected = clock.now() + Duration::days(7) - Duration::seconds(5);
        eventually("the slide", || {
            manager
                .with_token(|t| t.valid_until())
                .filter(|valid_until| *valid_until == expected)
        })
        .await;
    }
    assert_eq!(generation(&manager), Some(1), "slid, never renewed");
    assert_eq!(
        front.with_emulator(|s| {
            use oauth_lifecycle_emulator::Emulator as _;
            s.stats().slides
        }),
        3
    );
}
