//! The `BearerAuth` agent over real loopback sockets: the token goes to the allowed
//! origins only, a rejected token is renewed and the request retried once, never twice,
//! never with a body that cannot be sent again, never across a redirect; successful
//! calls slide a Convirza V3 token; waiting for a token is bounded.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{Error, Policy};
use oauth_lifecycle_blocking::ureq::config::RedirectAuthHeaders;
use oauth_lifecycle_blocking::ureq::middleware::MiddlewareNext;
use oauth_lifecycle_blocking::ureq::{self, Agent, SendBody};
use oauth_lifecycle_blocking::{BearerAuth, BearerAuthError, TokenManager, WaitError};
use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator as _, HttpFront, StandardServer,
    StandardServerConfig, TransportFault,
};
use support::{convirza_v3, eventually, lock, Sim, PATIENCE};

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

/// The agent the tests send with: statuses are answers, nothing waits longer than the
/// test's patience.
fn agent(auth: BearerAuth) -> Arc<Agent> {
    auth.agent(|config| {
        config
            .http_status_as_error(false)
            .timeout_global(Some(PATIENCE))
    })
}

fn bearer(secret: &str) -> Option<String> {
    Some(format!("Bearer {secret}"))
}

const REJECTED: (&str, &str) = ("www-authenticate", r#"Bearer error="invalid_token""#);

fn rejected() -> Answer {
    Answer::status(401).header(REJECTED.0, REJECTED.1)
}

#[test]
fn the_token_goes_to_allowed_origins_only() {
    let Provider { manager, front: _f } = provider();
    let api = Loopback::start(|_| Answer::status(200));
    let other = Loopback::start(|_| Answer::status(200));
    let client = agent(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
    let token = manager.token(PATIENCE).unwrap();

    let response = client.get(api.url("/orders")).call().unwrap();
    assert_eq!(response.status(), 200);
    // A header of the caller's own is replaced.
    client
        .get(api.url("/orders"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .call()
        .unwrap();
    // Another port of the same host is another origin.
    let response = client.get(other.url("/orders")).call().unwrap();
    assert_eq!(response.status(), 200);
    // A request's own Authorization for another origin passes untouched.
    client
        .get(other.url("/basic"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .call()
        .unwrap();

    let (api_seen, other_seen) = (api.seen(), other.seen());
    assert_eq!(api_seen[0].authorization(), bearer(token.secret()));
    assert_eq!(api_seen[1].authorization(), bearer(token.secret()));
    assert_eq!(api_seen[1].headers_named("authorization"), 1);
    assert_eq!(other_seen[0].authorization(), None);
    assert_eq!(
        other_seen[1].authorization().as_deref(),
        Some("Basic dXNlcjpwYXNz")
    );
    assert!(token.header_value().is_sensitive());
    // Requests to other origins keep ureq's own behaviour: no redirect history.
    let response = client.get(other.url("/orders")).call().unwrap();
    assert!(ureq::ResponseExt::get_redirect_history(&response).is_none());
}

#[test]
fn a_rejected_token_is_renewed_and_the_request_retried_once_with_the_new_one() {
    let Provider { manager, front } = provider();
    let first = manager.token(PATIENCE).unwrap();
    // The API rejects the first token only.
    let first_header = bearer(first.secret());
    let api = Loopback::start(move |seen| {
        if seen.authorization() == first_header {
            rejected()
        } else {
            Answer::status(200).body(b"orders")
        }
    });
    // Middleware added after BearerAuth sees the retry as a request of its own.
    let passes = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&passes);
    let client = BearerAuth::new(manager.clone(), &api.origin())
        .unwrap()
        .agent(move |config| {
            config
                .http_status_as_error(false)
                .timeout_global(Some(PATIENCE))
                .middleware(
                    move |request: ureq::http::Request<SendBody<'_>>, next: MiddlewareNext<'_>| {
                        counter.fetch_add(1, Ordering::AcqRel);
                        next.handle(request)
                    },
                )
        });

    let mut response = client.get(api.url("/orders")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body_mut().read_to_string().unwrap(), "orders");

    let seen = api.seen();
    assert_eq!(seen.len(), 2, "one retry");
    let second = manager.token(PATIENCE).unwrap();
    assert_eq!(second.generation().get(), 2, "one renewal");
    assert_eq!(seen[0].authorization(), bearer(first.secret()));
    assert_eq!(seen[1].authorization(), bearer(second.secret()));
    assert_eq!(
        (seen[1].method.as_str(), seen[1].path.as_str()),
        ("GET", "/orders")
    );
    assert_eq!(front.stats().auth_requests, 2, "login, and one renewal");
    assert_eq!(passes.load(Ordering::Acquire), 2);
}

#[test]
fn a_token_the_provider_revoked_is_replaced_within_the_call() {
    // The emulator's own API: its administrator revokes every token.
    let Provider { manager, front } = provider();
    let client = agent(BearerAuth::new(manager.clone(), &front.base_url()).unwrap());
    let first = manager.token(PATIENCE).unwrap();
    let response = client.get(front.url("/api/profile")).call().unwrap();
    assert_eq!(response.status(), 200);
    let before = front.stats();

    front.with_emulator(|server| server.revoke_all());
    let response = client.get(front.url("/api/profile")).call().unwrap();
    assert_eq!(response.status(), 200, "retried with the renewed token");

    let after = front.stats();
    assert_eq!(after.api_requests - before.api_requests, 2, "one retry");
    assert_eq!(
        after.auth_requests - before.auth_requests,
        2,
        "the revoked refresh token refused, then one new login"
    );
    assert_eq!(front.with_emulator(|server| server.stats().logins), 2);
    let second = manager.token(PATIENCE).unwrap();
    assert!(second.generation() > first.generation());
}

#[test]
fn a_second_rejection_is_returned_as_is() {
    let Provider { manager, front: _f } = provider();
    let api = Loopback::start(|_| rejected());
    let client = agent(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
    let first = manager.token(PATIENCE).unwrap();

    let response = client.get(api.url("/orders")).call().unwrap();
    assert_eq!(response.status(), 401);
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "one retry, no loop");
    assert_eq!(seen[0].authorization(), bearer(first.secret()));
    assert_ne!(seen[1].authorization(), bearer(first.secret()));
    assert!(seen[1].authorization().is_some());
}

#[test]
fn with_ureqs_default_the_final_401_is_an_error_after_the_retry() {
    let Provider { manager, front: _f } = provider();
    let api = Loopback::start(|_| rejected());
    let strict = BearerAuth::new(manager, &api.origin())
        .unwrap()
        .agent(|config| config.timeout_global(Some(PATIENCE)));

    let error = strict.get(api.url("/orders")).call().unwrap_err();
    assert!(matches!(error, ureq::Error::StatusCode(401)), "{error:?}");
    assert_eq!(api.count(), 2, "retried before the error");
}

#[test]
fn a_body_that_cannot_be_sent_again_is_never_retried() {
    type Send = fn(&Agent, String) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>;
    // ureq's bodies can be neither cloned nor looked at: those of a POST, PUT or PATCH
    // are sent once, streamed, in memory or empty.
    let cases: [(Send, &[u8], Option<&str>); 3] = [
        (
            |client, url| client.post(url).send("once, only"),
            b"once, only",
            Some("10"),
        ),
        (
            |client, url| {
                client
                    .put(url)
                    .send(SendBody::from_owned_reader(&b"streamed"[..]))
            },
            b"streamed",
            None,
        ),
        (|client, url| client.patch(url).send_empty(), b"", Some("0")),
    ];
    for (send, body, length) in cases {
        let Provider { manager, front: _f } = provider();
        let api = Loopback::start(|_| rejected());
        let client = agent(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
        let first = manager.token(PATIENCE).unwrap();

        let response = send(&client, api.url("/upload")).unwrap();
        assert_eq!(response.status(), 401);
        let seen = api.seen();
        assert_eq!(seen.len(), 1, "not sent again");
        assert_eq!(seen[0].body, body);
        assert_eq!(seen[0].header("content-length"), length);
        // The rejection was still reported: the manager renews for the next request.
        let second = manager
            .token_newer_than(first.generation(), PATIENCE)
            .unwrap();
        assert_eq!(second.generation().get(), 2);
    }
}

#[test]
fn a_body_forced_on_a_get_is_sent_again_from_memory_up_to_64_kib() {
    let Provider { manager, front: _f } = provider();
    let first = manager.token(PATIENCE).unwrap();
    let first_header = bearer(first.secret());
    let api = Loopback::start(move |seen| {
        if seen.path == "/search" && seen.authorization() != first_header {
            Answer::status(200)
        } else {
            rejected()
        }
    });
    let client = agent(BearerAuth::new(manager.clone(), &api.origin()).unwrap());

    let response = client
        .get(api.url("/search"))
        .force_send_body()
        .send("status=open")
        .unwrap();
    assert_eq!(response.status(), 200);
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "one retry");
    for request in &seen {
        assert_eq!(request.body, b"status=open");
        assert_eq!(request.header("content-length"), Some("11"));
        assert_eq!(request.header("transfer-encoding"), None);
    }

    // A longer one is sent once, chunked, and never again.
    let large = vec![b'x'; 70 * 1024];
    let response = client
        .delete(api.url("/bulk"))
        .force_send_body()
        .send(&large[..])
        .unwrap();
    assert_eq!(response.status(), 401);
    let seen = api.seen();
    assert_eq!(seen.len(), 3, "not sent again");
    assert_eq!(seen[2].body, large);
    assert_eq!(seen[2].header("transfer-encoding"), Some("chunked"));
}

#[test]
fn a_redirect_to_another_origin_carries_no_token() {
    let Provider { manager, front: _f } = provider();
    // Both origins are allowed, on one host, and the agent asks ureq to keep the header
    // across redirects to the same host: the token still does not follow.
    let elsewhere = Loopback::start(|_| rejected());
    let target = elsewhere.url("/landing");
    let api = Loopback::start(move |_| Answer::status(302).header("location", &target));
    let client = BearerAuth::new(manager.clone(), &api.origin())
        .unwrap()
        .allow_origin(&elsewhere.origin())
        .unwrap()
        .agent(|config| {
            config
                .http_status_as_error(false)
                .timeout_global(Some(PATIENCE))
                .redirect_auth_headers(RedirectAuthHeaders::SameHost)
        });
    let token = manager.token(PATIENCE).unwrap();

    let response = client.get(api.url("/orders")).call().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(api.seen()[0].authorization(), bearer(token.secret()));
    assert_eq!(
        elsewhere.seen()[0].authorization(),
        None,
        "the token crossed origins"
    );
    // The other origin's 401 says nothing about a token it never saw: no retry.
    assert_eq!((api.count(), elsewhere.count()), (1, 1));
}

#[test]
fn a_redirect_within_the_origin_carries_no_token_either() {
    let Provider { manager, front: _f } = provider();
    let api = Loopback::start(|seen| match seen.path.as_str() {
        "/moved" => Answer::status(302).header("location", "/landing"),
        _ => rejected(),
    });
    let client = agent(BearerAuth::new(manager.clone(), &api.origin()).unwrap());
    let token = manager.token(PATIENCE).unwrap();

    let response = client.get(api.url("/moved")).call().unwrap();
    assert_eq!(response.status(), 401);
    let history = ureq::ResponseExt::get_redirect_history(&response).unwrap();
    assert_eq!(history.len(), 2);
    let seen = api.seen();
    assert_eq!(seen.len(), 2, "the redirect, and no retry");
    assert_eq!(seen[0].authorization(), bearer(token.secret()));
    assert_eq!(
        (seen[1].path.as_str(), seen[1].authorization()),
        ("/landing", None)
    );
}

#[test]
fn the_wait_for_a_token_is_bounded_and_ends_in_a_typed_error() {
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    // The provider never answers the login.
    front.inject(TransportFault::Hang(Duration::from_secs(60)));
    let manager =
        TokenManager::start(oauth_lifecycle_testkit::standard(&front), Policy::default()).unwrap();
    let api = Loopback::start(|_| Answer::status(200));
    let wait = Duration::from_millis(300);
    let client = agent(BearerAuth::new(manager, &api.origin()).unwrap().wait(wait));

    let started = Instant::now();
    let error = client.get(api.url("/orders")).call().unwrap_err();
    let waited = started.elapsed();
    assert!(waited >= wait && waited < PATIENCE, "{waited:?}");
    let bearer_error = BearerAuthError::of(&error).unwrap_or_else(|| panic!("{error:?}"));
    assert!(
        matches!(
            bearer_error,
            BearerAuthError::NoToken(WaitError::Timeout { .. })
        ),
        "{bearer_error:?}"
    );
    // A sentence with its reason, said once however the chain is printed.
    let message = bearer_error.to_string();
    assert!(
        message.starts_with("no access token to send: no token within the timeout"),
        "{message}"
    );
    assert!(std::error::Error::source(bearer_error).is_none());
    let chain = format!("{:#}", Chain(&error));
    assert_eq!(
        chain.matches("no token within the timeout").count(),
        1,
        "{chain}"
    );
    assert_eq!(api.count(), 0);
}

#[test]
fn credentials_the_provider_refuses_are_a_typed_error_not_a_request() {
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
    let api = Loopback::start(|_| Answer::status(200));
    let client = agent(BearerAuth::new(manager, &api.origin()).unwrap());

    let error = client.get(api.url("/orders")).call().unwrap_err();
    let bearer_error = BearerAuthError::of(&error).unwrap_or_else(|| panic!("{error:?}"));
    // Told at once, not kept waiting for the session's slow retry of a rejection.
    assert!(
        matches!(
            bearer_error,
            BearerAuthError::NoToken(WaitError::Rejected {
                error: Error::Rejected { .. },
                ..
            })
        ),
        "{bearer_error:?}"
    );
    assert!(!format!("{error} {error:?}").contains("not-the-secret"));
    assert_eq!(api.count(), 0);
}

#[test]
fn an_agent_cloned_out_of_its_arc_cannot_send_the_token_once_the_arc_is_gone() {
    let Provider { manager, front: _f } = provider();
    let api = Loopback::start(|_| Answer::status(200));
    let other = Loopback::start(|_| Answer::status(200));
    let client = agent(BearerAuth::new(manager, &api.origin()).unwrap());
    let plain: Agent = Agent::clone(&client);
    drop(client);

    let error = plain.get(api.url("/orders")).call().unwrap_err();
    assert_eq!(
        BearerAuthError::of(&error),
        Some(&BearerAuthError::AgentDropped)
    );
    assert_eq!(api.count(), 0);
    // Requests without the token are not the middleware's business.
    assert_eq!(plain.get(other.url("/")).call().unwrap().status(), 200);
}

#[test]
fn an_empty_origin_is_refused_when_the_middleware_is_made() {
    let Provider { manager, front: _f } = provider();
    let error = BearerAuth::new(manager.clone(), "api.example.com").unwrap_err();
    assert_eq!(
        error.to_string(),
        "not an origin (scheme, host and port): \"api.example.com\""
    );
    let auth = BearerAuth::new(manager, "https://api.example.com/v1").unwrap();
    assert!(auth.allow_origin("").is_err());
}

#[test]
fn successful_calls_slide_a_convirza_v3_token() {
    let sim = Sim::new(ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()));
    let manager = sim
        .manager(convirza_v3(&sim.front), Policy::default())
        .start()
        .unwrap();
    let client = agent(BearerAuth::new(manager.clone(), &sim.front.base_url()).unwrap());
    let first = manager.token(PATIENCE).unwrap();
    for day in 1..=3 {
        sim.advance(time::Duration::days(1));
        let response = client.get(sim.front.url("/api/profile")).call().unwrap();
        assert_eq!(response.status(), 200, "day {day}");
        let slid = sim.clock.now() + time::Duration::days(7) - Policy::default().skew_allowance;
        eventually(&format!("the expiry slides on day {day}"), || {
            manager.with_token(|t| t.valid_until()) == Some(slid)
        });
    }
    assert_eq!(
        manager.with_token(|t| t.generation()),
        Some(first.generation()),
        "slid, never renewed"
    );
    assert_eq!(sim.stats().slides, 3);
}

/// Prints an error and its sources as anyhow's `{:#}` does: `a: b: c`.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(error) = source {
            write!(f, ": {error}")?;
            source = error.source();
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// A small HTTP/1.1 server on 127.0.0.1 for the API side: it answers with a function of
// the request and records what it saw. Keep-alive, `Content-Length` and chunked request
// bodies; bounded sizes and waits. Dropping it stops accepting.

/// A request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn headers_named(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    fn authorization(&self) -> Option<String> {
        self.header("authorization").map(str::to_owned)
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn status(status: u16) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn body(mut self, body: &[u8]) -> Self {
        self.body = body.to_vec();
        self
    }
}

type Handler = Arc<dyn Fn(&Seen) -> Answer + Send + Sync>;

struct Loopback {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    count: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 1024 * 1024;

impl Loopback {
    fn start(handler: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let addr = listener.local_addr().expect("an address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Handler = Arc::new(handler);
        let acceptor = thread::spawn({
            let (seen, count, stop) = (Arc::clone(&seen), Arc::clone(&count), Arc::clone(&stop));
            move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (handler, seen, count) =
                        (Arc::clone(&handler), Arc::clone(&seen), Arc::clone(&count));
                    thread::spawn(move || serve(stream, &*handler, &seen, &count));
                }
            }
        });
        Loopback {
            addr,
            seen,
            count,
            stop,
            acceptor: Some(acceptor),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request answered so far.
    fn seen(&self) -> Vec<Seen> {
        lock(&self.seen).clone()
    }

    /// How many requests were answered.
    fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the acceptor, which sees the flag and returns.
        let _ = TcpStream::connect(self.addr);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves one connection until the client closes it, or is idle for the test's patience.
fn serve(
    stream: TcpStream,
    handler: &dyn Fn(&Seen) -> Answer,
    seen: &Mutex<Vec<Seen>>,
    count: &AtomicUsize,
) {
    let _ = stream.set_read_timeout(Some(PATIENCE));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let answer = handler(&request);
        lock(seen).push(request);
        count.fetch_add(1, Ordering::AcqRel);
        let mut head = format!("HTTP/1.1 {} X\r\n", answer.status);
        for (name, value) in &answer.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", answer.body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(&answer.body);
        if writer.write_all(&bytes).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Seen> {
    let mut line = String::new();
    let mut head = reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        head += reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
        if head > MAX_HEAD {
            return None;
        }
        let field = line.trim_end_matches(['\r', '\n']);
        if field.is_empty() {
            break;
        }
        let (name, value) = field.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Seen {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            reader.read_line(&mut line).ok()?;
            let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
            if request.body.len() + size > MAX_BODY {
                return None;
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            reader.read_exact(&mut request.body[start..]).ok()?;
            line.clear();
            reader.read_line(&mut line).ok()?;
            if size == 0 {
                break;
            }
        }
    } else if let Some(length) = request.header("content-length") {
        let length: usize = length.parse().ok()?;
        if length > MAX_BODY {
            return None;
        }
        request.body.resize(length, 0);
        reader.read_exact(&mut request.body).ok()?;
    }
    Some(request)
}
