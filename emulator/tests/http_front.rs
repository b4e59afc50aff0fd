//! The HTTP front over real sockets on 127.0.0.1: every provider reachable, simulated
//! time, transport faults, hostile input, keep-alive, concurrency and shutdown. Every
//! socket has a timeout, so a broken front fails a test instead of hanging it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use oauth_lifecycle_emulator::{
    Clock, ConvercusLegacyServer, ConvercusLegacyServerConfig, ConvirzaV3Server,
    ConvirzaV3ServerConfig, DrivenClock, Emulator, HttpFront, HttpFrontConfig, InjectedFailure,
    StandardServer, StandardServerConfig, TransportFault,
};
// The standard server's default client (Basic credentials), and the bound on every
// socket operation.
use oauth_lifecycle_testkit::{PATIENCE, STANDARD_CLIENT as CLIENT};
use serde_json::{json, Value};
use time::macros::utc_datetime;

/// An answer as a client reads it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// One client connection, which may carry several requests.
struct Connection {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("the front accepts connections");
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        Connection {
            addr,
            reader: BufReader::new(stream),
        }
    }

    fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        let mut stream = self.stream();
        stream.write_all(bytes).expect("the front reads requests");
    }

    /// Writes a request with `Host` and `Content-Length` added.
    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let request = raw_request(self.addr, method, path, headers, body);
        self.send_raw(&request);
    }

    fn read_head(&mut self) -> io::Result<(u16, Vec<(String, String)>)> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("a status line, not {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let field = line.trim_end_matches(['\r', '\n']);
            if field.is_empty() {
                return Ok((status, headers));
            }
            let (name, value) = field.split_once(':').expect("a header field");
            headers.push((name.to_owned(), value.trim().to_owned()));
        }
    }

    /// Reads one whole answer framed by `Content-Length`.
    fn read(&mut self) -> io::Result<Answer> {
        let (status, headers) = self.read_head()?;
        let mut answer = Answer {
            status,
            headers,
            body: Vec::new(),
        };
        let length: usize = answer
            .header("content-length")
            .map_or(0, |v| v.parse().expect("a numeric Content-Length"));
        answer.body.resize(length, 0);
        self.reader.read_exact(&mut answer.body)?;
        Ok(answer)
    }

    fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Answer {
        self.send(method, path, headers, body);
        self.read().expect("an answer")
    }

    /// Whether the front has closed the connection: reading finds end of stream (or a
    /// reset) with nothing before it.
    fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest.is_empty(),
            Err(e) => e.kind() == io::ErrorKind::ConnectionReset,
        }
    }
}

fn raw_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    request
}

/// One request on a connection of its own, closed afterwards.
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut headers = headers.to_vec();
    headers.push(("Connection", "close"));
    Connection::open(addr).request(method, path, &headers, body)
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
        .into_bytes()
}

fn basic((id, secret): (&str, &str)) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");
const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A client-credentials login at the standard server's `/token`.
fn client_credentials(addr: SocketAddr) -> Answer {
    let authorization = basic(CLIENT);
    exchange(
        addr,
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[("grant_type", "client_credentials")]),
    )
}

fn access_token(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.json()["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// An API call with `token`; the status.
fn api_call(addr: SocketAddr, token: &str) -> u16 {
    let authorization = format!("Bearer {token}");
    exchange(
        addr,
        "GET",
        "/api/profile",
        &[("Authorization", &authorization)],
        b"",
    )
    .status
}

fn standard() -> StandardServer {
    StandardServer::new(StandardServerConfig::default())
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[test]
fn a_client_credentials_login_over_the_socket_yields_a_token_the_api_accepts() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let login = client_credentials(front.addr());
    assert_eq!(login.header("content-type"), Some("application/json"));
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert_eq!(login.json()["token_type"], "Bearer");
    let token = access_token(&login);

    assert_eq!(api_call(front.addr(), &token), 200);
    let refused = exchange(
        front.addr(),
        "GET",
        "/api/profile",
        &[("Authorization", "Bearer at-garbage")],
        b"",
    );
    assert_eq!(refused.status, 401);
    assert!(refused
        .header("www-authenticate")
        .is_some_and(|v| v.contains("invalid_token")));

    let stats = front.stats();
    assert_eq!((stats.auth_requests, stats.api_requests), (1, 2));
    assert_eq!((stats.rejected_requests, stats.faults), (0, 0));
    let (token_requests, logins) =
        front.with_emulator(|e| (e.stats().token_requests, e.stats().logins));
    assert_eq!((token_requests, logins), (1, 1));
}

/// A provider to reach over the socket: how to log in and where the token comes back.
struct Provider {
    name: &'static str,
    emulator: Box<dyn Emulator + Send>,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    token_field: &'static str,
}

#[test]
fn every_provider_is_reachable_over_the_socket() {
    let keycloak = StandardServerConfig::keycloak("acme-staging");
    let keycloak_token = keycloak.token_path.clone();
    let keycloak_login = form(&[
        ("grant_type", "password"),
        ("username", "api-user"),
        ("password", "api-password"),
        ("client_id", "machine-2-machine"),
        ("client_secret", "convercus-secret"),
    ]);
    let providers = vec![
        Provider {
            name: "standard",
            emulator: Box::new(standard()),
            path: "/token".into(),
            headers: vec![
                (FORM.0, FORM.1.to_owned()),
                ("Authorization", basic(CLIENT)),
            ],
            body: form(&[("grant_type", "client_credentials")]),
            token_field: "access_token",
        },
        Provider {
            name: "convirza v2",
            emulator: Box::new(StandardServer::new(StandardServerConfig::convirza_v2())),
            path: "/oauth/token".into(),
            headers: vec![(FORM.0, FORM.1.to_owned())],
            body: form(&[
                ("grant_type", "password"),
                ("username", "user@convirza.com"),
                ("password", "mySecurePassword123"),
                ("client_id", "system"),
                ("client_secret", "convirza-v2-secret"),
            ]),
            token_field: "access_token",
        },
        Provider {
            name: "convirza v3",
            emulator: Box::new(ConvirzaV3Server::new(ConvirzaV3ServerConfig::default())),
            path: "/oauth/token".into(),
            headers: vec![(JSON.0, JSON.1.to_owned())],
            body: json!({"email": "user@example.com", "password": "SecurePassword123!"})
                .to_string()
                .into_bytes(),
            token_field: "access_token",
        },
        Provider {
            name: "keycloak realm",
            emulator: Box::new(StandardServer::new(keycloak)),
            path: keycloak_token,
            headers: vec![(FORM.0, FORM.1.to_owned())],
            body: keycloak_login,
            token_field: "access_token",
        },
        Provider {
            name: "convercus legacy",
            emulator: Box::new(ConvercusLegacyServer::new(
                ConvercusLegacyServerConfig::default(),
            )),
            path: "/auth/login".into(),
            headers: vec![(JSON.0, JSON.1.to_owned())],
            body: json!({"org": "ACME", "userName": "api-user", "password": "api-password"})
                .to_string()
                .into_bytes(),
            token_field: "token",
        },
    ];
    for provider in providers {
        let name = provider.name;
        let front: HttpFront = HttpFront::start(provider.emulator, Clock::System).unwrap();
        let headers: Vec<(&str, &str)> = provider
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        let login = exchange(
            front.addr(),
            "POST",
            &provider.path,
            &headers,
            &provider.body,
        );
        assert_eq!(login.status, 200, "{name}: {login:?}");
        let token = login.json()[provider.token_field]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: a token"))
            .to_owned();
        assert_eq!(api_call(front.addr(), &token), 200, "{name}");
        assert_eq!(api_call(front.addr(), "at-forged"), 401, "{name}");
        assert_eq!(
            front.with_emulator(|e| e.stats().logins),
            1,
            "{name}: the emulator logged one in"
        );
    }
}

#[test]
fn the_keycloak_realm_revokes_over_its_realm_path() {
    let config = StandardServerConfig::keycloak("acme-staging");
    let revoke_path = config.revocation_path.clone().unwrap();
    let front = HttpFront::start(StandardServer::new(config), Clock::System).unwrap();
    let client = [
        ("client_id", "machine-2-machine"),
        ("client_secret", "convercus-secret"),
    ];
    let mut login = vec![
        ("grant_type", "password"),
        ("username", "api-user"),
        ("password", "api-password"),
    ];
    login.extend(client);
    let answer = exchange(
        front.addr(),
        "POST",
        "/realms/acme-staging/protocol/openid-connect/token",
        &[FORM],
        &form(&login),
    );
    let token = access_token(&answer);
    assert_eq!(answer.json()["refresh_expires_in"], 604_799);

    let mut revoke = vec![("token", token.as_str())];
    revoke.extend(client);
    let revoked = exchange(front.addr(), "POST", &revoke_path, &[FORM], &form(&revoke));
    assert_eq!(revoked.status, 200);
    assert_eq!(api_call(front.addr(), &token), 401);
    assert_eq!(
        exchange(
            front.addr(),
            "POST",
            "/realms/other/protocol/openid-connect/token",
            &[FORM],
            b""
        )
        .status,
        404,
        "another realm's path is not this realm's"
    );
}

#[test]
fn the_driven_clock_runs_simulated_time_over_the_socket() {
    let start = utc_datetime!(2026-03-01 08:00:00);
    let clock = DrivenClock::new(start);
    let front = HttpFront::start(standard(), clock.clone()).unwrap();
    let login = client_credentials(front.addr());
    assert_eq!(login.header("date"), Some("Sun, 01 Mar 2026 08:00:00 GMT"));
    let token = access_token(&login);

    clock.advance(time::Duration::minutes(59));
    assert_eq!(api_call(front.addr(), &token), 200);
    clock.advance(time::Duration::minutes(1));
    assert_eq!(
        api_call(front.addr(), &token),
        401,
        "an hour on, the token has expired"
    );
    clock.set(start);
    assert_eq!(
        api_call(front.addr(), &token),
        200,
        "set back, it is live again"
    );
    assert!(matches!(front.clock(), Clock::Driven(c) if c.now() == start));
}

#[test]
fn the_system_clock_stamps_answers_with_the_real_time() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let login = client_credentials(front.addr());
    let date = httpdate::parse_http_date(login.header("date").expect("a Date header")).unwrap();
    let now = SystemTime::now();
    let apart = now.duration_since(date).unwrap_or_else(|e| e.duration());
    assert!(apart < Duration::from_secs(5), "{apart:?} apart");
}

#[test]
fn the_emulator_can_be_steered_while_it_serves() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let token = access_token(&client_credentials(front.addr()));
    front.with_emulator(|e| e.revoke_all());
    assert_eq!(api_call(front.addr(), &token), 401);

    front.with_emulator(|e| {
        e.fail_next(InjectedFailure::Status {
            status: 503,
            retry_after: Some("7".into()),
        })
    });
    let refused = client_credentials(front.addr());
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("7"));
    assert_eq!(client_credentials(front.addr()).status, 200);
}

#[test]
fn a_hang_outlasts_the_client_timeout_and_shutdown_cuts_it_short() {
    let mut front = HttpFront::start(standard(), Clock::System).unwrap();
    front.inject(TransportFault::Hang(Duration::from_secs(60)));
    let mut hung = Connection::open(front.addr());
    hung.stream()
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let authorization = basic(CLIENT);
    hung.send(
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[("grant_type", "client_credentials")]),
    );
    let started = Instant::now();
    let error = hung.read().expect_err("no answer while the front hangs");
    assert!(is_timeout(&error), "{error:?}");
    assert!(started.elapsed() >= Duration::from_millis(150));
    // The emulator handled the request: the answer was lost on the way back.
    assert_eq!(front.with_emulator(|e| e.stats().logins), 1);
    assert_eq!(front.stats().faults, 1);

    // The fault was used up: the next login is served while the first still hangs.
    assert_eq!(client_credentials(front.addr()).status, 200);

    let started = Instant::now();
    front.shutdown();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited out the hang: {:?}",
        started.elapsed()
    );
    hung.stream().set_read_timeout(Some(PATIENCE)).unwrap();
    assert!(hung.is_closed());
}

#[test]
fn a_reset_after_the_request_reaches_the_client_as_a_connection_reset() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    front.inject(TransportFault::ResetAfterRequest);
    let mut connection = Connection::open(front.addr());
    let authorization = basic(CLIENT);
    connection.send(
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[("grant_type", "client_credentials")]),
    );
    let error = connection.read().expect_err("no answer but a reset");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset, "{error:?}");
    assert_eq!(front.with_emulator(|e| e.stats().logins), 1);
    assert_eq!(client_credentials(front.addr()).status, 200);
}

#[test]
fn a_truncated_body_is_a_short_read() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    front.inject(TransportFault::TruncatedBody);
    let mut connection = Connection::open(front.addr());
    let authorization = basic(CLIENT);
    connection.send(
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[("grant_type", "client_credentials")]),
    );
    let (status, headers) = connection.read_head().unwrap();
    assert_eq!(status, 200);
    let promised: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .expect("the real Content-Length");
    let mut body = Vec::new();
    connection.reader.read_to_end(&mut body).unwrap();
    assert!(promised > 20, "a real token answer: {promised} bytes");
    assert_eq!(body.len(), promised / 2);
    assert!(body.starts_with(b"{\"access_token\""));
    assert_eq!(front.with_emulator(|e| e.stats().logins), 1);
}

#[test]
fn an_html_error_page_answers_in_front_of_the_emulator() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    front.inject(TransportFault::HtmlErrorPage(502));
    let mut connection = Connection::open(front.addr());
    let authorization = basic(CLIENT);
    let login = [FORM, ("Authorization", authorization.as_str())];
    let body = form(&[("grant_type", "client_credentials")]);
    let page = connection.request("POST", "/token", &login, &body);
    assert_eq!(page.status, 502);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let text = String::from_utf8(page.body.clone()).unwrap();
    assert!(
        text.contains("<html>") && text.contains("502 Bad Gateway"),
        "{text}"
    );
    assert_eq!(front.with_emulator(|e| e.stats().token_requests), 0);

    // The connection survives, as it would behind a gateway.
    let served = connection.request("POST", "/token", &login, &body);
    assert_eq!(served.status, 200);
    assert_eq!(front.stats().connections, 1);
}

#[test]
fn an_oversized_body_has_exactly_the_size_asked_for() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let size = 3 * 1024 * 1024 + 7;
    front.inject(TransportFault::OversizedBody(size));
    let answer = client_credentials(front.addr());
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.body.len() as u64, size);
    assert!(answer.json().is_object());
    assert_eq!(front.with_emulator(|e| e.stats().token_requests), 0);
}

#[test]
fn faults_are_queued_in_order_and_spare_api_requests() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    front.inject(TransportFault::HtmlErrorPage(500));
    front.inject(TransportFault::HtmlErrorPage(503));
    assert_eq!(api_call(front.addr(), "at-forged"), 401);
    assert_eq!(client_credentials(front.addr()).status, 500);
    assert_eq!(client_credentials(front.addr()).status, 503);
    assert_eq!(client_credentials(front.addr()).status, 200);
    let stats = front.stats();
    assert_eq!(
        (stats.auth_requests, stats.api_requests, stats.faults),
        (3, 1, 2)
    );
}

/// Sends `bytes` on a connection of its own (then half-closes, if asked) and reads the
/// answer.
fn send_garbage(addr: SocketAddr, bytes: &[u8], half_close: bool) -> (Answer, Connection) {
    let mut connection = Connection::open(addr);
    connection.send_raw(bytes);
    if half_close {
        connection.stream().shutdown(Shutdown::Write).unwrap();
    }
    let answer = connection
        .read()
        .unwrap_or_else(|e| panic!("an answer to {:?}: {e}", String::from_utf8_lossy(bytes)));
    (answer, connection)
}

#[test]
fn malformed_requests_get_an_error_and_the_front_keeps_serving() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let huge_field = format!(
        "GET /token HTTP/1.1\r\nHost: h\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let cases: Vec<(&[u8], bool, u16)> =
        vec![
        (b"hello\r\n\r\n", false, 400),
        (b"GET /token HTTP/1.1\r\n\r\n", false, 400),
        (b"GET /token\r\nHost: h\r\n\r\n", false, 400),
        (b"GET /token HTTP/3.0\r\nHost: h\r\n\r\n", false, 505),
        (b"GET /to\0ken HTTP/1.1\r\nHost: h\r\n\r\n", false, 400),
        (b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n", false, 400),
        (b"\xfe\xff / HTTP/1.1\r\nHost: h\r\n\r\n", false, 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n", false, 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", false, 400),
        (b"GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n", false, 400),
        (
            b"POST /token HTTP/1.1\r\nHost: h\r\nContent-Length: ten\r\n\r\n",
            false,
            400,
        ),
        (
            b"POST /token HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            false,
            400,
        ),
        (
            b"POST /token HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            false,
            411,
        ),
        (
            b"POST /token HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n",
            false,
            413,
        ),
        (huge_field.as_bytes(), false, 431),
        // The body ends before its length: the client gave up half-way.
        (
            b"POST /token HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
            true,
            400,
        ),
        // The head never ends.
        (b"POST /token HTTP/1.1\r\nHost: h\r\n", true, 400),
    ];
    for (bytes, half_close, status) in &cases {
        let (answer, mut connection) = send_garbage(front.addr(), bytes, *half_close);
        let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(60)]).into_owned();
        assert_eq!(answer.status, *status, "{shown:?}");
        assert_eq!(answer.header("connection"), Some("close"), "{shown:?}");
        assert!(
            connection.is_closed(),
            "{shown:?}: the connection is closed"
        );
    }
    assert_eq!(front.stats().rejected_requests, cases.len() as u64);

    // Deterministic noise: none of it is a request, all of it is refused.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..64 {
        let length = 1 + (next() % 300) as usize;
        let mut noise: Vec<u8> = (0..length).map(|_| next() as u8).collect();
        noise.extend_from_slice(b"\r\n\r\n");
        let (answer, _) = send_garbage(front.addr(), &noise, false);
        assert!(
            (400..600).contains(&answer.status),
            "{noise:?}: {}",
            answer.status
        );
    }
    assert_eq!(front.stats().rejected_requests, cases.len() as u64 + 64);
    assert_eq!(
        front.stats().auth_requests,
        0,
        "nothing reached the emulator"
    );

    assert_eq!(client_credentials(front.addr()).status, 200);
}

#[test]
fn a_slow_or_silent_client_does_not_hold_a_thread() {
    let mut config = HttpFrontConfig::default();
    config.request_timeout = Duration::from_millis(300);
    let front = HttpFront::start_with(standard(), Clock::System, config).unwrap();

    // Half a head, then nothing: 408.
    let started = Instant::now();
    let (answer, mut connection) =
        send_garbage(front.addr(), b"POST /token HTTP/1.1\r\nHost", false);
    assert_eq!(answer.status, 408);
    assert!(connection.is_closed());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
        "{waited:?}"
    );

    // A byte every 50 ms: the deadline covers the whole request, not each read.
    let mut dribbling = Connection::open(front.addr());
    let started = Instant::now();
    let request = raw_request(front.addr(), "GET", "/api/x", &[], b"");
    let mut probe = [0; 1];
    for byte in request.iter().cycle().take(200) {
        let _ = dribbling.stream().write_all(&[*byte]);
        dribbling
            .stream()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        if dribbling.stream().peek(&mut probe).is_ok() {
            break;
        }
    }
    dribbling.stream().set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(dribbling.read().unwrap().status, 408);
    assert!(started.elapsed() < Duration::from_secs(3));

    // Connected, silent: closed without a word.
    let mut silent = Connection::open(front.addr());
    assert!(silent.is_closed());
    assert_eq!(front.stats().rejected_requests, 2);
}

#[test]
fn keep_alive_carries_several_requests_on_one_connection() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let mut connection = Connection::open(front.addr());
    let authorization = basic(CLIENT);
    let login = connection.request(
        "POST",
        "/token",
        &[FORM, ("Authorization", &authorization)],
        &form(&[("grant_type", "client_credentials")]),
    );
    assert_eq!(login.header("connection"), None, "HTTP/1.1 stays open");
    let bearer = format!("Bearer {}", access_token(&login));
    let call = connection.request("GET", "/api/me", &[("Authorization", &bearer)], b"");
    assert_eq!(call.status, 200);

    // Pipelined: both requests written before either answer is read.
    let mut both = raw_request(
        front.addr(),
        "GET",
        "/api/a",
        &[("Authorization", &bearer)],
        b"",
    );
    both.extend(raw_request(front.addr(), "GET", "/api/b", &[], b""));
    connection.send_raw(&both);
    assert_eq!(connection.read().unwrap().status, 200);
    assert_eq!(connection.read().unwrap().status, 401);

    // `Connection: close` is honoured.
    let last = connection.request("GET", "/api/c", &[("Connection", "close")], b"");
    assert_eq!(last.header("connection"), Some("close"));
    assert!(connection.is_closed());
    let stats = front.stats();
    assert_eq!((stats.connections, stats.api_requests), (1, 4));

    // HTTP/1.0 closes unless asked to keep alive.
    let mut old = Connection::open(front.addr());
    old.send_raw(b"GET /api/x HTTP/1.0\r\n\r\n");
    assert_eq!(old.read().unwrap().status, 401);
    assert!(old.is_closed());
    let mut old = Connection::open(front.addr());
    old.send_raw(b"GET /api/x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let first = old.read().unwrap();
    assert_eq!(first.header("connection"), Some("keep-alive"));
    old.send_raw(b"GET /api/y HTTP/1.0\r\n\r\n");
    assert_eq!(old.read().unwrap().status, 401);
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let mut connection = Connection::open(front.addr());
    let body = form(&[("grant_type", "client_credentials")]);
    let authorization = basic(CLIENT);
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: {authorization}\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        front.addr(),
        body.len()
    );
    connection.send_raw(head.as_bytes());
    let (status, _) = connection.read_head().unwrap();
    assert_eq!(status, 100);
    connection.send_raw(&body);
    assert_eq!(connection.read().unwrap().status, 200);
}

#[test]
fn thirty_two_clients_of_ten_requests_each_are_all_answered() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let addr = front.addr();
    thread::scope(|scope| {
        let clients: Vec<_> = (0..32)
            .map(|_| {
                scope.spawn(move || {
                    let token = access_token(&client_credentials(addr));
                    (0..9).map(|_| api_call(addr, &token)).collect::<Vec<_>>()
                })
            })
            .collect();
        for client in clients {
            let statuses = client.join().expect("the client finished");
            assert_eq!(statuses, vec![200; 9]);
        }
    });
    let stats = front.stats();
    assert_eq!(
        (stats.connections, stats.auth_requests, stats.api_requests),
        (320, 32, 288)
    );
    assert_eq!(front.with_emulator(|e| e.stats().logins), 32);
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let mut config = HttpFrontConfig::default();
    config.max_connections = 2;
    let front = HttpFront::start_with(standard(), Clock::System, config).unwrap();
    let mut held: Vec<Connection> = (0..2)
        .map(|_| {
            let mut connection = Connection::open(front.addr());
            assert_eq!(connection.request("GET", "/api/x", &[], b"").status, 401);
            connection
        })
        .collect();

    let mut waiting = Connection::open(front.addr());
    waiting.send("GET", "/api/y", &[], b"");
    waiting
        .stream()
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let error = waiting
        .stream()
        .peek(&mut [0; 1])
        .expect_err("not served while two connections are open");
    assert!(is_timeout(&error), "{error:?}");

    held.pop();
    waiting.stream().set_read_timeout(Some(PATIENCE)).unwrap();
    assert_eq!(waiting.read().unwrap().status, 401);
}

#[test]
fn shutdown_closes_connections_and_frees_the_port() {
    let mut front = HttpFront::start(standard(), Clock::System).unwrap();
    let addr = front.addr();
    let mut open = Connection::open(addr);
    assert_eq!(open.request("GET", "/api/x", &[], b"").status, 401);

    let started = Instant::now();
    front.shutdown();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(open.is_closed(), "the open connection was closed");
    let refused = TcpStream::connect(addr).expect_err("nothing listens any more");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);

    // The emulator and the counts outlive the serving.
    assert_eq!(front.with_emulator(|e| e.stats().token_requests), 0);
    assert_eq!(front.stats().api_requests, 1);
    front.shutdown();

    let dropped = HttpFront::start(standard(), Clock::System).unwrap();
    let addr = dropped.addr();
    assert_eq!(api_call(addr, "at-x"), 401);
    drop(dropped);
    let refused = TcpStream::connect(addr).expect_err("dropping shuts it down");
    assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn the_api_prefix_is_configurable() {
    let mut config = HttpFrontConfig::default();
    config.api_prefix = "/v2/".into();
    let front = HttpFront::start_with(standard(), Clock::System, config).unwrap();
    let token = access_token(&client_credentials(front.addr()));
    let bearer = format!("Bearer {token}");
    let on_v2 = exchange(
        front.addr(),
        "GET",
        "/v2/x",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(on_v2.status, 200);
    let on_api = exchange(
        front.addr(),
        "GET",
        "/api/x",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(on_api.status, 404, "no longer the resource server");
    let stats = front.stats();
    assert_eq!((stats.auth_requests, stats.api_requests), (2, 1));
}

#[test]
fn urls_point_at_the_loopback_port() {
    let front = HttpFront::start(standard(), Clock::System).unwrap();
    let addr = front.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    let base = format!("http://127.0.0.1:{}", addr.port());
    assert_eq!(front.base_url(), base);
    assert_eq!(front.url("/token"), format!("{base}/token"));
    assert_eq!(front.url("api/me"), format!("{base}/api/me"));
    let uri: http::Uri = front.url("/token").parse().unwrap();
    assert_eq!(uri.port_u16(), Some(addr.port()));
}

#[test]
fn a_front_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<HttpFront<StandardServer>>();
    shareable::<HttpFront>();
    shareable::<DrivenClock>();
}
