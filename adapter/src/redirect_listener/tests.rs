//! The head reader and the answers, case by case.

use super::answer::Page;
use super::*;

const REDIRECT: &[u8] = b"GET /callback?code=SECRETCODE&state=SECRETSTATE HTTP/1.1\r\n\
    Host: 127.0.0.1:8765\r\nUser-Agent: test\r\n\r\n";

fn config() -> LoopbackRedirect {
    LoopbackRedirect::default()
}

/// The status answered, and the target if it is the redirect.
type Outcome = (u16, Option<String>);

/// What `read` says; `None` for `NeedMore`.
fn outcome(read: HeadRead) -> Option<Outcome> {
    match read {
        HeadRead::NeedMore => None,
        HeadRead::Complete(head) => {
            let status = head.answer().status();
            Some((status, head.into_redirect().map(|r| r.target().to_owned())))
        }
        HeadRead::Invalid(answer) => Some((answer.status(), None)),
    }
}

fn read_all(bytes: &[u8]) -> Option<Outcome> {
    let mut reader = HeadReader::new();
    let take = bytes.len().min(reader.unfilled().len());
    reader.unfilled()[..take].copy_from_slice(&bytes[..take]);
    reader.advance(take);
    let by_reader = outcome(reader.read(&config()));
    assert_eq!(by_reader, outcome(config().read_head(bytes)), "{bytes:?}");
    by_reader
}

#[test]
fn the_redirect_in_one_read() {
    assert_eq!(
        read_all(REDIRECT),
        Some((
            200,
            Some("/callback?code=SECRETCODE&state=SECRETSTATE".to_owned())
        ))
    );
}

#[test]
fn split_reads_need_more_until_the_blank_line() {
    for chunk in [1, 2, 3, 7, 64] {
        let mut reader = HeadReader::new();
        let mut result = None;
        for (index, piece) in REDIRECT.chunks(chunk).enumerate() {
            assert!(result.is_none(), "complete before the end ({chunk})");
            reader.unfilled()[..piece.len()].copy_from_slice(piece);
            reader.advance(piece.len());
            let last = (index + 1) * chunk >= REDIRECT.len();
            match outcome(reader.read(&config())) {
                None => assert!(!last, "still needs more at the end ({chunk})"),
                Some(done) => result = Some(done),
            }
        }
        assert_eq!(
            result,
            Some((
                200,
                Some("/callback?code=SECRETCODE&state=SECRETSTATE".to_owned())
            )),
            "chunks of {chunk}"
        );
    }
}

#[test]
fn heads_table() {
    let redirect = |target: &str| Some((200, Some(target.to_owned())));
    let status = |status: u16| Some((status, None));
    let over = format!(
        "GET /callback?code={} HTTP/1.1\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES)
    );
    let unfinished = format!("GET /callback?code={}", "a".repeat(MAX_HEAD_BYTES));
    let exact = {
        let start = "GET /callback?code=";
        let end = " HTTP/1.1\r\n\r\n";
        format!(
            "{start}{}{end}",
            "a".repeat(MAX_HEAD_BYTES - start.len() - end.len())
        )
    };
    let many_headers = format!(
        "GET /callback HTTP/1.1\r\n{}\r\n",
        "X-A: b\r\n".repeat(6000)
    );
    let cases: Vec<(&[u8], Option<Outcome>, &str)> = vec![
        (b"", None, "nothing yet"),
        (
            b"GET /callback?code=1 HTTP/1.1\r\nHost: x\r\n",
            None,
            "no blank line yet",
        ),
        (
            b"GET /callback?code=1 HTTP/1.1\r\n\r",
            None,
            "half a blank line",
        ),
        (
            b"GET /callback?code=1 HTTP/1.1\r\n\r\n",
            redirect("/callback?code=1"),
            "no headers",
        ),
        (
            b"GET /callback?code=1 HTTP/1.0\n\n",
            redirect("/callback?code=1"),
            "bare line feeds",
        ),
        (
            b"GET /callback HTTP/1.1\r\n\r\n",
            redirect("/callback"),
            "no query: the core judges",
        ),
        (
            b"GET /callback?code=1 HTTP/1.1\r\n\r\nextra",
            redirect("/callback?code=1"),
            "bytes after the head",
        ),
        (
            b"GET /callback?code=1 HTTP/1.1\r\nX: \xff\xfe\r\n\r\n",
            redirect("/callback?code=1"),
            "non-UTF-8 header value",
        ),
        (
            b"GET /favicon.ico HTTP/1.1\r\nHost: x\r\n\r\n",
            status(404),
            "favicon",
        ),
        (
            b"GET /callback/ HTTP/1.1\r\n\r\n",
            status(404),
            "a trailing slash",
        ),
        (
            b"GET /CALLBACK?code=1 HTTP/1.1\r\n\r\n",
            status(404),
            "another case",
        ),
        (
            b"GET /callbackx?code=1 HTTP/1.1\r\n\r\n",
            status(404),
            "a longer path",
        ),
        (b"GET / HTTP/1.1\r\n\r\n", status(404), "the root"),
        (
            b"POST /callback HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            status(405),
            "POST",
        ),
        (
            b"HEAD /callback?code=1 HTTP/1.1\r\n\r\n",
            status(405),
            "HEAD",
        ),
        (
            b"get /callback?code=1 HTTP/1.1\r\n\r\n",
            status(405),
            "methods are case-sensitive",
        ),
        (
            b"GET http://127.0.0.1:8765/callback?code=1 HTTP/1.1\r\n\r\n",
            status(400),
            "absolute-form",
        ),
        (b"OPTIONS * HTTP/1.1\r\n\r\n", status(400), "asterisk-form"),
        (
            b"CONNECT 127.0.0.1:8765 HTTP/1.1\r\n\r\n",
            status(400),
            "authority-form",
        ),
        (
            b"GET /callback?code=1#x HTTP/1.1\r\n\r\n",
            status(400),
            "a fragment",
        ),
        (b"GET /callback?code=1\r\n\r\n", status(400), "no version"),
        (
            b"GET /callback?code=1 HTTP/2.0\r\n\r\n",
            status(505),
            "HTTP/2",
        ),
        (
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            status(505),
            "HTTP/2 prior knowledge",
        ),
        (
            b"GET /callback?code=1 http/1.1\r\n\r\n",
            status(400),
            "a lowercase version",
        ),
        (
            b"GET /callback?code=1 HTTP/1.1 \r\n\r\n",
            status(400),
            "a trailing space",
        ),
        (
            b"GET  /callback?code=1 HTTP/1.1\r\n\r\n",
            status(400),
            "two spaces",
        ),
        (
            b"GET\t/callback?code=1 HTTP/1.1\r\n\r\n",
            status(400),
            "a tab",
        ),
        (
            b"GET /callback?code=\xc3\xa9 HTTP/1.1\r\n\r\n",
            status(400),
            "UTF-8 in the target",
        ),
        (
            b"GET /callback?code=\xff HTTP/1.1\r\n\r\n",
            status(400),
            "non-UTF-8 in the target",
        ),
        (
            b"G\xffT /callback HTTP/1.1\r\n\r\n",
            status(400),
            "non-UTF-8 in the method",
        ),
        (
            b"GET /callback?code=\0 HTTP/1.1\r\n\r\n",
            status(400),
            "a NUL",
        ),
        (b"\r\n\r\n", status(400), "a blank line"),
        (
            b"\r\nGET /callback HTTP/1.1\r\n\r\n",
            status(400),
            "a leading blank line",
        ),
        (
            b"GET /callback HTTP/1.1\r\nno colon\r\n\r\n",
            status(400),
            "a header without a colon",
        ),
        (
            b"GET /callback HTTP/1.1\r\n: empty\r\n\r\n",
            status(400),
            "a header without a name",
        ),
        (
            b"GET /callback HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
            status(400),
            "a folded header",
        ),
        (
            b"GET /callback HTTP/1.1\r\nA b: c\r\n\r\n",
            status(400),
            "a space in a name",
        ),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
            status(400),
            "a TLS handshake",
        ),
        (
            over.as_bytes(),
            status(431),
            "over the bound with a blank line",
        ),
        (
            unfinished.as_bytes(),
            status(431),
            "over the bound without one",
        ),
        (
            many_headers.as_bytes(),
            status(431),
            "too many header lines",
        ),
    ];
    for (bytes, expected, name) in cases {
        assert_eq!(read_all(bytes), expected, "{name}");
    }
    assert_eq!(exact.len(), MAX_HEAD_BYTES);
    assert_eq!(
        read_all(exact.as_bytes()).map(|(s, _)| s),
        Some(200),
        "exactly the bound"
    );
}

#[test]
fn another_path() {
    let config = LoopbackRedirect::default().path("/cb");
    let read = |bytes: &[u8]| outcome(config.read_head(bytes));
    assert_eq!(
        read(b"GET /cb?code=1 HTTP/1.1\r\n\r\n"),
        Some((200, Some("/cb?code=1".to_owned())))
    );
    assert_eq!(
        read(b"GET /callback?code=1 HTTP/1.1\r\n\r\n"),
        Some((404, None))
    );
}

#[test]
fn answers() {
    for (answer, status, title) in [
        (Answer::new(Page::Received), 200, "Response received"),
        (Answer::new(Page::BadRequest), 400, "Bad request"),
        (Answer::new(Page::NotFound), 404, "Not found"),
        (
            Answer::new(Page::MethodNotAllowed),
            405,
            "Method not allowed",
        ),
        (Answer::new(Page::TooLarge), 431, "Request too large"),
        (
            Answer::new(Page::VersionNotSupported),
            505,
            "HTTP version not supported",
        ),
    ] {
        assert_eq!(answer.status(), status);
        let bytes = answer.to_bytes();
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with(&format!("HTTP/1.1 {status} {}\r\n", answer.reason())));
        for header in [
            "Content-Type: text/html; charset=utf-8",
            "Cache-Control: no-store",
            "Connection: close",
            "Referrer-Policy: no-referrer",
            &format!("Content-Length: {}", body.len()),
        ] {
            assert!(
                head.contains(&format!("\r\n{header}")),
                "{status}: {header}"
            );
        }
        assert_eq!(head.contains("\r\nAllow: GET"), status == 405);
        assert_eq!(body, answer.body());
        assert!(body.contains(&format!("<title>{title}</title>")));
    }
    let page = Answer::new(Page::Received).body();
    assert!(page.contains("You can close this window."));
}

#[test]
fn the_page_quotes_nothing_from_the_request() {
    let HeadRead::Complete(head) = config().read_head(REDIRECT) else {
        panic!("a head");
    };
    let answer = String::from_utf8(head.answer().to_bytes()).unwrap();
    for secret in ["SECRETCODE", "SECRETSTATE", "code=", "state=", "?"] {
        assert!(!answer.contains(secret), "{secret}");
    }
}

#[test]
fn an_answer_to_head_has_no_body() {
    let HeadRead::Complete(head) = config().read_head(b"HEAD /callback HTTP/1.1\r\n\r\n") else {
        panic!("a head");
    };
    let answer = head.answer();
    let text = String::from_utf8(answer.to_bytes()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    assert!(head.contains(&format!("Content-Length: {}", answer.body().len())));
    assert_eq!(body, "");
}

#[test]
fn debug_shows_no_query() {
    let HeadRead::Complete(head) = config().read_head(REDIRECT) else {
        panic!("a head");
    };
    let shown = format!("{head:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    let redirect = head.into_redirect().unwrap();
    let shown = format!("{redirect:?}");
    assert_eq!(
        shown,
        r#"ReceivedRedirect { path: "/callback", query: "[redacted]" }"#
    );
    assert_eq!(redirect.path(), "/callback");
    let mut reader = HeadReader::new();
    reader.unfilled()[..REDIRECT.len()].copy_from_slice(REDIRECT);
    reader.advance(REDIRECT.len());
    assert!(!format!("{reader:?}").contains("SECRET"));
    assert_eq!(reader.received(), REDIRECT);
}

#[test]
fn the_reader_never_goes_past_its_bound() {
    let mut reader = HeadReader::new();
    let len = reader.unfilled().len();
    assert_eq!(len, MAX_HEAD_BYTES);
    reader.unfilled().fill(b'a');
    reader.advance(len + 10);
    assert!(reader.unfilled().is_empty());
    assert_eq!(reader.received().len(), MAX_HEAD_BYTES);
    assert_eq!(outcome(reader.read(&config())), Some((431, None)));
}

#[test]
fn paths() {
    use RedirectPathProblem as P;
    assert_eq!(config().check(), Ok(()));
    assert_eq!(config().redirect_path(), "/callback");
    assert_eq!(config().requested_port(), 0);
    assert_eq!(config().wait_timeout(), Duration::from_secs(300));
    for (path, expected) in [
        ("/", Ok(())),
        ("/oauth/callback", Ok(())),
        ("/a%20b", Ok(())),
        ("", Err(P::NotAbsolute)),
        ("callback", Err(P::NotAbsolute)),
        ("/cb?x=1", Err(P::QueryOrFragment)),
        ("/cb#x", Err(P::QueryOrFragment)),
        ("/a b", Err(P::NotPrintableAscii)),
        ("/é", Err(P::NotPrintableAscii)),
        ("/a\tb", Err(P::NotPrintableAscii)),
    ] {
        assert_eq!(config().path(path).check(), expected, "{path:?}");
    }
    let long = format!("/{}", "a".repeat(MAX_PATH_BYTES));
    assert_eq!(config().path(long).check(), Err(P::TooLong));
    let config = config().port(8765).path("/cb").timeout(Duration::MAX);
    assert_eq!(config.redirect_uri(8765), "http://127.0.0.1:8765/cb");
    assert_eq!(config.requested_port(), 8765);
    assert_eq!(config.wait_timeout(), MAX_TIMEOUT);
    assert_eq!(LoopbackRedirect::new(), LoopbackRedirect::default());
}

#[test]
fn error_messages() {
    let bind = ListenerError::Bind {
        port: 8765,
        source: io::Error::from(io::ErrorKind::AddrInUse),
    };
    assert!(bind
        .to_string()
        .starts_with("cannot listen on 127.0.0.1:8765: "));
    assert_eq!(
        ListenerError::TimedOut {
            after: Duration::from_millis(200)
        }
        .to_string(),
        "no redirect came within 200ms"
    );
    assert_eq!(
        ListenerError::TooManyConnections.to_string(),
        "64 connections came without the redirect"
    );
    assert_eq!(
        ListenerError::from(RedirectPathProblem::QueryOrFragment).to_string(),
        "the redirect path holds a '?' or a '#'"
    );
}

#[test]
fn transient_accept_errors() {
    use io::ErrorKind as K;
    for (kind, transient) in [
        (K::ConnectionAborted, true),
        (K::ConnectionReset, true),
        (K::Interrupted, true),
        (K::OutOfMemory, false),
        (K::PermissionDenied, false),
        (K::Other, false),
    ] {
        assert_eq!(
            is_transient_accept_error(&io::Error::from(kind)),
            transient,
            "{kind:?}"
        );
    }
}
