//! The loopback redirect listener of the authorization code grant for native apps
//! (RFC 8252 §7.3), without its I/O: what to listen on, how to read a request's head,
//! what to answer. The blocking and the tokio runtimes each add the sockets
//! (`oauth_lifecycle_blocking::RedirectListener`, `oauth_lifecycle_tokio::RedirectListener`).
//!
//! The flow: the application binds a listener on `127.0.0.1` ([`LoopbackRedirect`]),
//! builds its [`AuthorizationRequest`](oauth_lifecycle::dialect::authorization::AuthorizationRequest)
//! with the listener's redirect URI (`http://127.0.0.1:<port>/callback`), opens the
//! request's URL in the person's browser, and waits in `accept`. The authorization
//! server redirects the browser to the listener; the listener answers the browser with a
//! short page and hands the request target it received (`/callback?code=…&state=…`,
//! exactly as received) to the application, which gives it to
//! [`read_redirect`](oauth_lifecycle::dialect::authorization::AuthorizationRequest::read_redirect).
//!
//! The contract:
//!
//! - **One redirect per `accept`.** A `GET` whose path is the configured path, byte for
//!   byte, is a redirect: it gets the page ([`Answer`], 200) and `accept` returns it
//!   ([`ReceivedRedirect`]), whatever its query holds: judging it is the core's job. If
//!   the core says it does not answer this request
//!   ([`answers_this_request`](oauth_lifecycle::dialect::authorization::RedirectError::answers_this_request)
//!   is `false`: a stale tab, a forgery), call `accept` again: the listener keeps
//!   listening, within the same deadline. Anything else does not count: another path
//!   (the browser's `/favicon.ico`) gets a 404, another method a 405, a malformed request
//!   a 400 (a head longer than [`MAX_HEAD_BYTES`], a 431), and the listener keeps
//!   waiting.
//! - **The port**: by default the operating system picks a free one (port 0): RFC 8252
//!   §7.3 requires servers to allow any port in a loopback redirect URI. A fixed
//!   port ([`LoopbackRedirect::port`]) exists for the servers that compare redirect URIs
//!   exactly, port included, against the RFC: register that one URI with them. Binding
//!   fails ([`ListenerError::Bind`]) when another program holds the port.
//! - **Only `127.0.0.1`**: the listener binds the IPv4 loopback address, never a public
//!   interface, and the redirect URI names it as an IP literal (RFC 8252 §8.3: not
//!   `localhost`).
//! - **Opening the browser is the application's job**: the listener never starts a
//!   process; it only waits.
//! - **The page** says that the response was received and the window can be closed; it
//!   never echoes the query, the code or the `state`, loads nothing, and is sent with
//!   `Cache-Control: no-store` and `Referrer-Policy: no-referrer` (the page's own URL
//!   holds the code).
//! - **Bounded**: `accept` gives up after the timeout ([`LoopbackRedirect::timeout`],
//!   5 minutes by default, counted from the first call to `accept`) with
//!   [`ListenerError::TimedOut`]; a connection has [`MAX_HEAD_WAIT`] to send its head;
//!   a listener serves at most [`MAX_CONNECTIONS`] connections
//!   ([`ListenerError::TooManyConnections`]), so a flood cannot keep it forever.
//! - **Secrets**: the bytes read and the [`ReceivedRedirect`] are wiped when dropped;
//!   `Debug` and the error messages never show the query.
//!
//! The pieces a runtime puts together, for each connection it accepts: a [`HeadReader`]
//! to read into until [`HeadReader::read`] is no longer [`HeadRead::NeedMore`] (closing
//! the connection without an answer when the peer closes first, or after
//! [`MAX_HEAD_WAIT`]); then the [`Answer`] written, the write side shut down, and either
//! the redirect returned or the connection drained ([`MAX_DRAIN_BYTES`], [`DRAIN_WAIT`])
//! so that closing it does not reset the answer away.
//!
//! ```
//! use oauth_lifecycle_adapter::redirect_listener::{HeadRead, HeadReader, LoopbackRedirect};
//!
//! let config = LoopbackRedirect::default().port(8765);
//! assert_eq!(config.redirect_uri(8765), "http://127.0.0.1:8765/callback");
//!
//! let mut reader = HeadReader::new();
//! for chunk in [&b"GET /callback?code=abc&state=xyz HTTP/1.1\r\n"[..], b"Host: 127.0.0.1\r\n\r\n"] {
//!     reader.unfilled()[..chunk.len()].copy_from_slice(chunk);
//!     reader.advance(chunk.len());
//! }
//! let HeadRead::Complete(head) = reader.read(&config) else { panic!("a whole head") };
//! let answer = head.answer();
//! assert_eq!(answer.status(), 200);
//! assert!(!answer.body().contains("abc"));
//! let redirect = head.into_redirect().expect("the redirect");
//! assert_eq!(redirect.target(), "/callback?code=abc&state=xyz");
//! assert!(!format!("{redirect:?}").contains("abc"));
//! ```

use std::fmt;
use std::io;
use std::time::Duration;

use oauth_lifecycle::dialect::authorization::MAX_REDIRECT_BYTES;
use zeroize::Zeroizing;

/// The path a [`LoopbackRedirect`] listens on unless told otherwise.
pub const DEFAULT_PATH: &str = "/callback";

/// How long `accept` waits for the redirect unless told otherwise: 5 minutes, for a
/// person to log in.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// The longest timeout taken: a day. A longer one is taken as this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The longest path taken, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// The longest request head read, in bytes (request line and header lines, up to the
/// blank line): a redirect target the core reads whole ([`MAX_REDIRECT_BYTES`]) and
/// 8 KiB of header lines. A longer head gets a 431 and does not count.
pub const MAX_HEAD_BYTES: usize = MAX_REDIRECT_BYTES + 8 * 1024;

/// The most connections a listener serves over its life. When that many came without
/// the redirect, `accept` fails with [`ListenerError::TooManyConnections`].
pub const MAX_CONNECTIONS: usize = 64;

/// How long a connection has, from its acceptance, to send its whole head; then it is
/// closed without an answer (a browser's idle preconnection, a stalled client).
pub const MAX_HEAD_WAIT: Duration = Duration::from_secs(10);

/// How long writing an answer may take.
pub const MAX_ANSWER_WAIT: Duration = Duration::from_secs(10);

/// How long a connection refused an answer is read from, and discarded, before it is
/// closed: closing a socket with unread bytes resets the connection, which can take the
/// answer away from the client before it read it.
pub const DRAIN_WAIT: Duration = Duration::from_secs(1);

/// The most bytes read, and discarded, from a connection refused an answer before it is
/// closed.
pub const MAX_DRAIN_BYTES: usize = 64 * 1024;

/// What a loopback redirect listener listens on, and for how long.
///
/// ```
/// use std::time::Duration;
///
/// use oauth_lifecycle_adapter::redirect_listener::LoopbackRedirect;
///
/// let config = LoopbackRedirect::default()
///     .port(8765)
///     .path("/cb")
///     .timeout(Duration::from_secs(120));
/// assert_eq!(config.check(), Ok(()));
/// assert_eq!(config.redirect_uri(8765), "http://127.0.0.1:8765/cb");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopbackRedirect {
    port: u16,
    path: String,
    timeout: Duration,
}

impl Default for LoopbackRedirect {
    /// Port 0 (the operating system picks one), [`DEFAULT_PATH`], [`DEFAULT_TIMEOUT`].
    fn default() -> Self {
        LoopbackRedirect {
            port: 0,
            path: DEFAULT_PATH.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl LoopbackRedirect {
    /// The default configuration ([`Default`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The port to bind on `127.0.0.1`; 0, the default, lets the operating system pick
    /// a free one. Fix one only for a server that matches redirect URIs exactly, port
    /// included (RFC 8252 §7.3 asks servers not to).
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The path of the redirect URI, [`DEFAULT_PATH`] by default: it starts with `/`,
    /// holds printable ASCII without `?` or `#`, and is at most [`MAX_PATH_BYTES`] long
    /// ([`check`](Self::check) says; binding checks it). A redirect's path must equal
    /// it byte for byte.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// How long `accept` waits for the redirect, from its first call; 5 minutes by
    /// default, at most [`MAX_TIMEOUT`] (a longer one is taken as that).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// The port asked for; 0 when the operating system picks it.
    pub fn requested_port(&self) -> u16 {
        self.port
    }

    /// The path of the redirect URI.
    pub fn redirect_path(&self) -> &str {
        &self.path
    }

    /// How long `accept` waits for the redirect.
    pub fn wait_timeout(&self) -> Duration {
        self.timeout
    }

    /// The redirect URI of a listener bound to `port`: `http://127.0.0.1:{port}{path}`.
    pub fn redirect_uri(&self, port: u16) -> String {
        format!("http://127.0.0.1:{port}{}", self.path)
    }

    /// Whether the path can be listened on.
    pub fn check(&self) -> Result<(), RedirectPathProblem> {
        let path = self.path.as_bytes();
        if path.len() > MAX_PATH_BYTES {
            Err(RedirectPathProblem::TooLong)
        } else if path.first() != Some(&b'/') {
            Err(RedirectPathProblem::NotAbsolute)
        } else if path.contains(&b'?') || path.contains(&b'#') {
            Err(RedirectPathProblem::QueryOrFragment)
        } else if !path.iter().all(u8::is_ascii_graphic) {
            Err(RedirectPathProblem::NotPrintableAscii)
        } else {
            Ok(())
        }
    }

    /// Reads `received`, the bytes a connection sent so far, as a request head: whether
    /// more are needed, the head, or an answer refusing it. At most [`MAX_HEAD_BYTES`]
    /// are read; a runtime reads with a [`HeadReader`], which also wipes them.
    pub fn read_head(&self, received: &[u8]) -> HeadRead {
        read_head(received, head_end(received, 0), &self.path)
    }
}

/// Why a [`LoopbackRedirect`]'s path cannot be listened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectPathProblem {
    /// It does not start with `/`.
    #[error("does not start with '/'")]
    NotAbsolute,
    /// It holds a `?` or a `#`.
    #[error("holds a '?' or a '#'")]
    QueryOrFragment,
    /// It holds a space, a control character or a byte outside ASCII (percent-encode
    /// them: the browser sends them so).
    #[error("holds a character other than printable ASCII")]
    NotPrintableAscii,
    /// It is longer than [`MAX_PATH_BYTES`].
    #[error("is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
}

/// Why a loopback redirect listener gave no redirect. Messages never hold a query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ListenerError {
    /// The configured path cannot be listened on.
    #[error("the redirect path {0}")]
    InvalidPath(#[from] RedirectPathProblem),
    /// The port could not be bound: held by another program (a fixed port), or no port
    /// free.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for; 0 when the operating system was to pick it.
        port: u16,
        /// What the operating system said.
        source: io::Error,
    },
    /// No redirect came within the timeout.
    #[error("no redirect came within {after:?}")]
    TimedOut {
        /// The timeout.
        after: Duration,
    },
    /// The listening socket failed.
    #[error("the redirect listener failed: {0}")]
    Io(#[from] io::Error),
    /// [`MAX_CONNECTIONS`] connections came, none of them the redirect.
    #[error("{MAX_CONNECTIONS} connections came without the redirect")]
    TooManyConnections,
}

/// Whether an error accepting a connection concerns that connection only (it was
/// aborted or reset before it was accepted, or the call was interrupted): the listener
/// keeps listening. Any other error is the listening socket's.
pub fn is_transient_accept_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}

/// A redirect received: the request target (path and query) exactly as the browser
/// sent it, for
/// [`read_redirect`](oauth_lifecycle::dialect::authorization::AuthorizationRequest::read_redirect).
///
/// It carries the authorization code: it is wiped when dropped, and `Debug` shows its
/// path only.
pub struct ReceivedRedirect {
    target: Zeroizing<String>,
}

impl ReceivedRedirect {
    /// The request target, `/callback?code=…&state=…`, as received.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path of the target (the configured path).
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }
}

impl fmt::Debug for ReceivedRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("ReceivedRedirect");
        debug.field("path", &self.path());
        if self.target.contains('?') {
            debug.field("query", &"[redacted]");
        }
        debug.finish()
    }
}

/// What the bytes a connection sent so far are.
#[derive(Debug)]
pub enum HeadRead {
    /// Not a whole head yet: read more (and close without an answer if the peer closes
    /// first).
    NeedMore,
    /// A whole, well-formed head: send its [`answer`](RequestHead::answer); it is the
    /// redirect when [`into_redirect`](RequestHead::into_redirect) says so.
    Complete(RequestHead),
    /// Not a request this listener reads (malformed, too long, another HTTP version):
    /// send this answer and close. It does not count as the redirect.
    Invalid(Answer),
}

/// A well-formed request head: the redirect, or a request for something else.
#[derive(Debug)]
pub struct RequestHead {
    kind: HeadKind,
}

#[derive(Debug)]
enum HeadKind {
    /// A `GET` of the configured path.
    Redirect(ReceivedRedirect),
    /// A `GET` of another path.
    OtherPath,
    /// Another method; `HEAD` gets no body.
    OtherMethod { head: bool },
}

impl RequestHead {
    /// Whether it is the redirect.
    pub fn is_redirect(&self) -> bool {
        matches!(self.kind, HeadKind::Redirect(_))
    }

    /// What to answer: the page for the redirect (200), 404 for another path, 405 for
    /// another method.
    pub fn answer(&self) -> Answer {
        match self.kind {
            HeadKind::Redirect(_) => Answer::new(Page::Received),
            HeadKind::OtherPath => Answer::new(Page::NotFound),
            HeadKind::OtherMethod { head } => Answer {
                page: Page::MethodNotAllowed,
                with_body: !head,
            },
        }
    }

    /// The redirect, if it is one.
    pub fn into_redirect(self) -> Option<ReceivedRedirect> {
        match self.kind {
            HeadKind::Redirect(redirect) => Some(redirect),
            _ => None,
        }
    }
}

/// An answer to a browser: a status, a short HTML page that quotes nothing from the
/// request, and headers that keep it out of caches and referrers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    page: Page,
    /// `false` for an answer to `HEAD`.
    with_body: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Received,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    VersionNotSupported,
}

impl Answer {
    fn new(page: Page) -> Self {
        Answer {
            page,
            with_body: true,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        match self.page {
            Page::Received => 200,
            Page::BadRequest => 400,
            Page::NotFound => 404,
            Page::MethodNotAllowed => 405,
            Page::TooLarge => 431,
            Page::VersionNotSupported => 505,
        }
    }

    /// The reason phrase.
    pub fn reason(&self) -> &'static str {
        match self.page {
            Page::Received => "OK",
            Page::BadRequest => "Bad Request",
            Page::NotFound => "Not Found",
            Page::MethodNotAllowed => "Method Not Allowed",
            Page::TooLarge => "Request Header Fields Too Large",
            Page::VersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// The HTML page (sent unless the request was a `HEAD`).
    pub fn body(&self) -> String {
        let (title, text) = match self.page {
            Page::Received => (
                "Response received",
                "The application received the response of the authorization server. \
                 You can close this window.",
            ),
            Page::BadRequest => ("Bad request", "This request could not be read."),
            Page::NotFound => (
                "Not found",
                "The application waits for the authorization server's redirect at another address.",
            ),
            Page::MethodNotAllowed => (
                "Method not allowed",
                "The application accepts the redirect as a GET request only.",
            ),
            Page::TooLarge => (
                "Request too large",
                "This request is longer than the application reads.",
            ),
            Page::VersionNotSupported => (
                "HTTP version not supported",
                "The application reads HTTP/1.0 and HTTP/1.1 only.",
            ),
        };
        format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
             <title>{title}</title></head>\n<body><h1>{title}</h1><p>{text}</p></body>\n</html>\n"
        )
    }

    /// The whole answer: status line, headers, and the page unless the request was a
    /// `HEAD`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let body = self.body();
        let mut answer = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Cache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Content-Security-Policy: default-src 'none'\r\n\
             Connection: close\r\n",
            self.status(),
            self.reason(),
            body.len(),
        );
        if self.page == Page::MethodNotAllowed {
            answer.push_str("Allow: GET\r\n");
        }
        answer.push_str("\r\n");
        if self.with_body {
            answer.push_str(&body);
        }
        answer.into_bytes()
    }
}

/// The bytes of one connection's request head, in a buffer of [`MAX_HEAD_BYTES`] that
/// is wiped when dropped (it holds the code) and never reallocated.
///
/// Read into [`unfilled`](Self::unfilled), say how much with
/// [`advance`](Self::advance), then ask [`read`](Self::read); each call scans only what
/// came since the last one for the end of the head.
pub struct HeadReader {
    buffer: Zeroizing<Vec<u8>>,
    filled: usize,
    /// Where the search for the end of the head resumes.
    scanned: usize,
}

impl Default for HeadReader {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for HeadReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeadReader")
            .field("filled", &self.filled)
            .finish_non_exhaustive()
    }
}

impl HeadReader {
    /// An empty reader.
    pub fn new() -> Self {
        HeadReader {
            buffer: Zeroizing::new(vec![0; MAX_HEAD_BYTES]),
            filled: 0,
            scanned: 0,
        }
    }

    /// Where to read the next bytes; empty once [`MAX_HEAD_BYTES`] were read (and then
    /// [`read`](Self::read) already said [`HeadRead::Invalid`]).
    pub fn unfilled(&mut self) -> &mut [u8] {
        &mut self.buffer[self.filled..]
    }

    /// Counts `count` more bytes read into [`unfilled`](Self::unfilled) (at most its
    /// length).
    pub fn advance(&mut self, count: usize) {
        self.filled = self.filled.saturating_add(count).min(self.buffer.len());
    }

    /// The bytes read so far.
    pub fn received(&self) -> &[u8] {
        &self.buffer[..self.filled]
    }

    /// What the bytes read so far are; see [`LoopbackRedirect::read_head`].
    pub fn read(&mut self, config: &LoopbackRedirect) -> HeadRead {
        let received = &self.buffer[..self.filled];
        let end = head_end(received, self.scanned);
        // The blank line may begin in the last two bytes: look at them again.
        self.scanned = self.filled.saturating_sub(2);
        read_head(received, end, &config.path)
    }
}

/// Where the head in `received` ends (just past its blank line), looking for it from
/// `from`: a line feed followed by a line feed, or by a carriage return and a line feed.
fn head_end(received: &[u8], from: usize) -> Option<usize> {
    let mut index = from;
    while index < received.len() {
        let offset = received[index..].iter().position(|&b| b == b'\n')?;
        let at = index + offset;
        match received.get(at + 1..) {
            Some([b'\n', ..]) => return Some(at + 2),
            Some([b'\r', b'\n', ..]) => return Some(at + 3),
            _ => index = at + 1,
        }
    }
    None
}

/// What `received` is, its head ending at `end` if it does.
fn read_head(received: &[u8], end: Option<usize>, path: &str) -> HeadRead {
    match end {
        Some(end) if end <= MAX_HEAD_BYTES => judge(&received[..end], path),
        Some(_) => HeadRead::Invalid(Answer::new(Page::TooLarge)),
        None if received.len() >= MAX_HEAD_BYTES => HeadRead::Invalid(Answer::new(Page::TooLarge)),
        None => HeadRead::NeedMore,
    }
}

/// What a whole head is. Header fields are checked for their form only: the listener
/// needs none of them.
fn judge(head: &[u8], path: &str) -> HeadRead {
    let invalid = |page| HeadRead::Invalid(Answer::new(page));
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let Some(request_line) = lines.next() else {
        return invalid(Page::BadRequest);
    };
    // Visible ASCII and single spaces: a target is never sent with anything else.
    if !request_line
        .iter()
        .all(|&b| b == b' ' || b.is_ascii_graphic())
    {
        return invalid(Page::BadRequest);
    }
    let Ok(request_line) = std::str::from_utf8(request_line) else {
        return invalid(Page::BadRequest);
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return invalid(Page::BadRequest);
    };
    if method.is_empty() || !method.bytes().all(is_tchar) {
        return invalid(Page::BadRequest);
    }
    match version {
        "HTTP/1.1" | "HTTP/1.0" => {}
        _ if is_http_version(version) => return invalid(Page::VersionNotSupported),
        _ => return invalid(Page::BadRequest),
    }
    // Origin-form only (RFC 9112 §3.2.1): a browser sends nothing else to a server it
    // reaches directly.
    if !target.starts_with('/') || target.contains('#') {
        return invalid(Page::BadRequest);
    }
    for line in lines.take_while(|line| !line.is_empty()) {
        let name = line
            .iter()
            .position(|&b| b == b':')
            .map(|colon| &line[..colon]);
        // No name, or a folded line (obsolete, RFC 9112 §5.2).
        if !name.is_some_and(|name| !name.is_empty() && name.iter().copied().all(is_tchar)) {
            return invalid(Page::BadRequest);
        }
    }
    let kind = if method != "GET" {
        HeadKind::OtherMethod {
            head: method == "HEAD",
        }
    } else if target.split_once('?').map_or(target, |(p, _)| p) == path {
        HeadKind::Redirect(ReceivedRedirect {
            target: Zeroizing::new(target.to_owned()),
        })
    } else {
        HeadKind::OtherPath
    };
    HeadRead::Complete(RequestHead { kind })
}

/// `HTTP/<digit>.<digit>`.
fn is_http_version(version: &str) -> bool {
    matches!(
        version.as_bytes(),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit()
    )
}

/// A character of an HTTP token (RFC 9110 §5.6.2).
fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
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
        let HeadRead::Complete(head) = config().read_head(b"HEAD /callback HTTP/1.1\r\n\r\n")
        else {
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
}
