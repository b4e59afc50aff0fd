//! HTTP/1.1 framing: reading one request off a socket within limits and a deadline, and
//! writing a reply back.
//!
//! A request is consumed from the socket up to, and not including, its last byte, which
//! is only peeked at: the caller then either consumes it (normal service) or leaves it
//! unread and closes the socket, which makes the kernel answer with a TCP reset. Nothing
//! beyond the request is ever consumed, so pipelined requests wait in the socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};

use crate::Reply;

/// How much a request may be.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Request line and headers, terminator included.
    pub(super) max_head: usize,
    /// The body.
    pub(super) max_body: u64,
    /// How many header fields.
    pub(super) max_headers: usize,
}

/// A request read off the socket, all but its last byte consumed.
#[derive(Debug)]
pub(super) struct Incoming {
    pub(super) request: http::Request<Vec<u8>>,
    /// Whether the connection may carry another request after the answer.
    pub(super) keep_alive: bool,
}

/// Why no request came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The client closed, failed or stayed silent before a request began: nothing to
    /// answer.
    Gone,
    /// The request is unacceptable: answer with this status and close.
    Reject(StatusCode),
}

/// Why a read with a deadline stopped.
enum Stop {
    TimedOut,
    Failed,
}

/// Reads the next request from `stream`, which must arrive whole before `deadline`.
pub(super) fn read_request(
    stream: &TcpStream,
    limits: &Limits,
    deadline: Instant,
) -> Result<Incoming, Failure> {
    // Bytes of this request consumed from the socket, then (while looking for the end of
    // the head) those only peeked at after them.
    let mut buf = Vec::new();
    let mut scratch = vec![0; 8 * 1024];
    let incomplete = |buf: &Vec<u8>, stop: Stop| match (buf.is_empty(), stop) {
        (true, _) | (false, Stop::Failed) => Failure::Gone,
        (false, Stop::TimedOut) => Failure::Reject(StatusCode::REQUEST_TIMEOUT),
    };

    let head_len = loop {
        let peeked = within(stream, deadline, |s| s.peek(&mut scratch))
            .map_err(|stop| incomplete(&buf, stop))?;
        if peeked == 0 {
            return Err(ended_early(&buf));
        }
        let consumed = buf.len();
        buf.extend_from_slice(&scratch[..peeked]);
        if let Some(end) = head_end(&buf, consumed.saturating_sub(2)) {
            if end > limits.max_head {
                return Err(Failure::Reject(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
            }
            // Keep only what was consumed; the rest of the head is read again below.
            buf.truncate(consumed);
            break end;
        }
        if buf.len() > limits.max_head {
            return Err(Failure::Reject(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE));
        }
        // All of it belongs to the head: consume it so the next peek waits for more.
        let mut taken = vec![0; peeked];
        within(stream, deadline, |mut s| s.read_exact(&mut taken))
            .map_err(|stop| incomplete(&buf, stop))?;
    };

    // `buf` lacks part of the head now; parse it from what was peeked.
    let head = {
        let mut whole = buf.clone();
        whole.extend_from_slice(&scratch[..head_len - buf.len()]);
        parse_head(&whole, limits.max_headers).map_err(Failure::Reject)?
    };
    if head.content_length > limits.max_body {
        return Err(Failure::Reject(StatusCode::PAYLOAD_TOO_LARGE));
    }
    if head.expect_continue && head.content_length > 0 {
        let mut out = stream;
        out.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .map_err(|_| Failure::Gone)?;
    }

    // Consume everything but the last byte, then peek at that one.
    let total = head_len.saturating_add(usize::try_from(head.content_length).unwrap_or(usize::MAX));
    while buf.len() + 1 < total {
        let want = (total - 1 - buf.len()).min(scratch.len());
        let read = within(stream, deadline, |mut s| s.read(&mut scratch[..want]))
            .map_err(|stop| incomplete(&buf, stop))?;
        if read == 0 {
            return Err(ended_early(&buf));
        }
        buf.extend_from_slice(&scratch[..read]);
    }
    let mut last = [0; 1];
    let peeked =
        within(stream, deadline, |s| s.peek(&mut last)).map_err(|stop| incomplete(&buf, stop))?;
    if peeked == 0 {
        return Err(ended_early(&buf));
    }
    buf.push(last[0]);

    let body = buf.split_off(head_len);
    let mut request = http::Request::new(body);
    *request.method_mut() = head.method;
    *request.uri_mut() = head.uri;
    *request.version_mut() = head.version;
    *request.headers_mut() = head.headers;
    Ok(Incoming {
        request,
        keep_alive: head.keep_alive,
    })
}

/// Consumes the request's last byte, which [`read_request`] left in the socket.
pub(super) fn consume_last_byte(stream: &TcpStream) -> io::Result<()> {
    let mut last = [0; 1];
    let mut stream = stream;
    stream.read_exact(&mut last)
}

/// The client closed its side in the middle of a request.
fn ended_early(buf: &[u8]) -> Failure {
    if buf.is_empty() {
        Failure::Gone
    } else {
        Failure::Reject(StatusCode::BAD_REQUEST)
    }
}

/// Runs a read on `stream` with whatever time is left before `deadline`.
fn within<T>(
    stream: &TcpStream,
    deadline: Instant,
    mut read: impl FnMut(&TcpStream) -> io::Result<T>,
) -> Result<T, Stop> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            return Err(Stop::TimedOut);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|_| Stop::Failed)?;
        match read(stream) {
            Ok(value) => return Ok(value),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(Stop::TimedOut)
            }
            Err(_) => return Err(Stop::Failed),
        }
    }
}

/// Where the head ends (just past the empty line), searching from `from`. Lines end with
/// CRLF or, leniently, a bare LF.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(offset) = bytes.get(at..)?.iter().position(|&b| b == b'\n') {
        let newline = at + offset;
        match bytes.get(newline + 1..) {
            Some([b'\n', ..]) => return Some(newline + 2),
            Some([b'\r', b'\n', ..]) => return Some(newline + 3),
            _ => at = newline + 1,
        }
    }
    None
}

/// A parsed request head.
#[derive(Debug)]
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    content_length: u64,
    keep_alive: bool,
    expect_continue: bool,
}

/// Parses a request head (RFC 9112 §2–§6), refusing what it cannot frame safely.
fn parse_head(head: &[u8], max_headers: usize) -> Result<Head, StatusCode> {
    let bad = StatusCode::BAD_REQUEST;
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    // RFC 9112 §2.2: empty lines before the request line are ignored.
    let request_line = lines.by_ref().find(|line| !line.is_empty()).ok_or(bad)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    let method = Method::from_bytes(method).map_err(|_| bad)?;
    if target.is_empty() {
        return Err(bad);
    }
    let uri = Uri::try_from(target).map_err(|_| bad)?;
    let version = match version {
        b"HTTP/1.1" => Version::HTTP_11,
        b"HTTP/1.0" => Version::HTTP_10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(StatusCode::HTTP_VERSION_NOT_SUPPORTED)
        }
        _ => return Err(bad),
    };

    let mut headers = HeaderMap::new();
    for line in lines.filter(|line| !line.is_empty()) {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // Obsolete line folding (RFC 9112 §5.2).
            return Err(bad);
        }
        let colon = line.iter().position(|&b| b == b':').ok_or(bad)?;
        let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| bad)?;
        let value = line[colon + 1..].trim_ascii();
        let value = HeaderValue::from_bytes(value).map_err(|_| bad)?;
        if headers.len() >= max_headers {
            return Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        }
        headers
            .try_append(name, value)
            .map_err(|_| StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)?;
    }

    if version == Version::HTTP_11 && headers.get_all(HOST).iter().count() != 1 {
        // RFC 9112 §3.2: exactly one Host.
        return Err(bad);
    }
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter().peekable();
    if codings.peek().is_some() {
        let chunked = codings.any(|value| tokens(value).any(|t| t.eq_ignore_ascii_case("chunked")));
        return Err(if chunked {
            StatusCode::LENGTH_REQUIRED
        } else {
            StatusCode::NOT_IMPLEMENTED
        });
    }
    let content_length = content_length(&headers).ok_or(bad)?;
    let connection = |option: &str| {
        headers
            .get_all(CONNECTION)
            .iter()
            .any(|value| tokens(value).any(|t| t.eq_ignore_ascii_case(option)))
    };
    let keep_alive =
        !connection("close") && (version == Version::HTTP_11 || connection("keep-alive"));
    let expect_continue = headers.get_all(EXPECT).iter().any(|value| {
        value
            .as_bytes()
            .trim_ascii()
            .eq_ignore_ascii_case(b"100-continue")
    });
    Ok(Head {
        method,
        uri,
        version,
        headers,
        content_length,
        keep_alive,
        expect_continue,
    })
}

/// The comma-separated tokens of a header value.
fn tokens(value: &HeaderValue) -> impl Iterator<Item = &str> {
    value
        .to_str()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The body's length: 0 without `Content-Length`, `None` when the field is malformed or
/// its values disagree (RFC 9112 §6.3).
fn content_length(headers: &HeaderMap) -> Option<u64> {
    let mut length = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let item = item.trim_ascii();
            if item.is_empty() || item.len() > 19 || !item.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let parsed: u64 = std::str::from_utf8(item).ok()?.parse().ok()?;
            if length.is_some_and(|seen| seen != parsed) {
                return None;
            }
            length = Some(parsed);
        }
    }
    Some(length.unwrap_or(0))
}

/// Whether a reply with this status has a body at all (RFC 9110 §6.4.1).
pub(super) fn carries_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// A reply's head: status line, the reply's headers, `Content-Length: body_len` (for a
/// status that carries a body) and the `Connection` option, if any. Framing fields the
/// reply brings itself are dropped: the front frames the message.
pub(super) fn head(
    status: StatusCode,
    headers: &HeaderMap,
    body_len: u64,
    connection: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(name) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if carries_body(status) {
        out.extend_from_slice(format!("content-length: {body_len}\r\n").as_bytes());
    }
    if let Some(option) = connection {
        out.extend_from_slice(b"connection: ");
        out.extend_from_slice(option.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Writes `reply` whole; with `head_only` (an answer to HEAD) without the body.
pub(super) fn write_reply(
    out: &mut impl Write,
    reply: &Reply,
    head_only: bool,
    connection: Option<&str>,
) -> io::Result<()> {
    let body = reply.body();
    let mut message = head(
        reply.status(),
        reply.headers(),
        body.len() as u64,
        connection,
    );
    if carries_body(reply.status()) && !head_only {
        message.extend_from_slice(body);
    }
    out.write_all(&message)?;
    out.flush()
}

/// The front's own answer to a request it refuses.
pub(super) fn rejection(status: StatusCode) -> Reply {
    let text = format!(
        "{} {}\n",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    );
    let mut reply = http::Response::new(text.into_bytes());
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    reply
}

/// Ends the connection after an answer: sends FIN, then reads and drops what the client
/// is still sending, for a bounded time and amount, so that the close does not turn into
/// a reset that could destroy the answer before the client reads it.
pub(super) fn close_gracefully(stream: &TcpStream) {
    const LINGER: Duration = Duration::from_millis(500);
    const DRAIN: usize = 1 << 20;
    if stream.shutdown(Shutdown::Write).is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut scratch = vec![0; 16 * 1024];
    let mut drained = 0;
    while drained < DRAIN {
        match within(stream, deadline, |mut s| s.read(&mut scratch)) {
            Ok(0) | Err(_) => break,
            Ok(read) => drained += read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_ends_at_the_first_empty_line() {
        assert_eq!(
            head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 0),
            Some(27)
        );
        assert_eq!(head_end(b"GET / HTTP/1.1\nHost: a\n\nrest", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: a\r\n\r", 0), None);
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n", 0), None);
        assert_eq!(head_end(b"", 0), None);
        assert_eq!(head_end(b"\n\n", 5), None);
    }

    fn parse(head: &str) -> Result<Head, StatusCode> {
        parse_head(head.as_bytes(), 8)
    }

    #[test]
    fn heads_parse_into_requests() {
        let head = parse(
            "\r\nPOST /token?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\nX-A:  b \r\n\r\n",
        )
        .unwrap();
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.uri.path(), "/token");
        assert_eq!(head.uri.query(), Some("x=1"));
        assert_eq!(head.content_length, 5);
        assert_eq!(head.headers["x-a"], "b");
        assert!(head.keep_alive);
        let old = parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(old.keep_alive);
        assert!(!parse("GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(
            !parse("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                .unwrap()
                .keep_alive
        );
        let expecting = parse("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n\r\n").unwrap();
        assert!(expecting.expect_continue);
    }

    #[test]
    fn heads_that_cannot_be_framed_safely_are_refused() {
        for (head, status) in [
            ("GET /\r\n\r\n", 400),
            ("GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("G@T / HTTP/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
            ("GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n folded\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nA: b\u{1}c\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 2\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", 411),
            ("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
            ("GET / HTTP/1.1\r\nHost: h\r\na:1\r\nb:1\r\nc:1\r\nd:1\r\ne:1\r\nf:1\r\ng:1\r\nh:1\r\n\r\n", 431),
        ] {
            assert_eq!(parse(head).map(|_| ()).unwrap_err(), status, "{head:?}");
        }
    }

    #[test]
    fn replies_are_framed_by_the_front() {
        let mut reply = rejection(StatusCode::NOT_FOUND);
        reply
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("999"));
        let mut out = Vec::new();
        write_reply(&mut out, &reply, false, Some("close")).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 404 Not Found\r\ncontent-type: text/plain; charset=utf-8\r\n\
             content-length: 14\r\nconnection: close\r\n\r\n404 Not Found\n"
        );
        let mut out = Vec::new();
        write_reply(&mut out, &reply, true, None).unwrap();
        assert!(out.ends_with(b"content-length: 14\r\n\r\n"));
        let no_content = head(StatusCode::NO_CONTENT, &HeaderMap::new(), 0, None);
        assert_eq!(no_content, b"HTTP/1.1 204 No Content\r\n\r\n");
    }
}
