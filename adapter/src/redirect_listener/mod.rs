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

mod answer;
mod head;
#[cfg(test)]
mod tests;

pub use self::answer::Answer;
pub use self::head::{HeadRead, HeadReader, RequestHead};

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
