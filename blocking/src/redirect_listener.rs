//! The loopback redirect listener over `std::net`: the sockets around
//! [`oauth_lifecycle_adapter::redirect_listener`], which decides what is read and
//! answered. [`RedirectListener`]'s docs say how it waits.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use oauth_lifecycle_adapter::redirect_listener::{
    is_transient_accept_error, Answer, HeadRead, HeadReader, ListenerError, LoopbackRedirect,
    ReceivedRedirect, DRAIN_WAIT, MAX_ANSWER_WAIT, MAX_CONNECTIONS, MAX_DRAIN_BYTES, MAX_HEAD_WAIT,
};

/// How long [`RedirectListener::accept`] sleeps when neither the listening socket nor a
/// connection had anything to do.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// A one-shot listener on `127.0.0.1` for the redirect of an authorization code grant
/// (RFC 8252 §7.3): [`bind`](Self::bind) it, put its [`redirect_uri`](Self::redirect_uri)
/// in the authorization request, open the request's URL in the browser (the
/// application's job), and [`accept`](Self::accept) the redirect. The contract (one
/// redirect per `accept`, the port, the page, the bounds) is
/// [`oauth_lifecycle_adapter::redirect_listener`]'s, which decides what is read and
/// answered; this type only moves the bytes.
///
/// `std`'s listener has no accept with a timeout, so `accept` polls: the listening
/// socket and every open connection are non-blocking, and when none of them had
/// anything to do the calling thread sleeps 10 ms (never past the deadline) before
/// looking again. For a wait of minutes on a person's browser the delay is nothing and
/// the cost a hundred wake-ups a second at most; no other thread is started. Every
/// connection is served from the calling thread, several at once, so that a browser's
/// idle preconnection never holds up the redirect. Answers are written with the socket
/// blocking again, bounded by a write timeout (they are a few hundred bytes: the
/// socket's buffer takes them at once).
///
/// ```
/// use oauth_lifecycle::dialect::authorization::AuthorizationRequest;
/// use oauth_lifecycle_blocking::{LoopbackRedirect, RedirectListener};
///
/// let mut listener = RedirectListener::bind(&LoopbackRedirect::default())?;
/// let mut entropy = [0u8; 64]; // from a CSPRNG
/// # for (i, byte) in entropy.iter_mut().enumerate() { *byte = (i as u8).wrapping_mul(151) ^ 0x5c; }
/// let request = AuthorizationRequest::builder(
///     "https://auth.example.com/authorize",
///     "my-app",
///     listener.redirect_uri(), // http://127.0.0.1:<the port>/callback
/// )
/// .build(&mut entropy)?;
///
/// // Open `request.url()` in the person's browser (the application's job), then wait:
/// # let browser = {
/// #     use std::io::{Read, Write};
/// #     let (port, state) = (listener.port(), request.state().to_owned());
/// #     std::thread::spawn(move || {
/// #         let mut tab = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
/// #         write!(tab, "GET /callback?code=SplxlOBeZQQYbYS6WxSbIA&state={state} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
/// #         let mut page = String::new();
/// #         tab.read_to_string(&mut page).unwrap();
/// #     })
/// # };
/// let redirect = listener.accept()?;
/// let code = request.read_redirect(redirect.target())?;
/// // …exchange the code (`Standard::code_exchange_request`).
/// # browser.join().unwrap();
/// # let _ = code;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct RedirectListener {
    listener: TcpListener,
    config: LoopbackRedirect,
    port: u16,
    redirect_uri: String,
    /// Set by the first `accept`.
    deadline: Option<Instant>,
    accepted: usize,
    connections: Vec<Connection>,
}

impl RedirectListener {
    /// Binds `127.0.0.1` on the configured port (one the operating system picks when it
    /// is 0).
    ///
    /// Fails with [`ListenerError::InvalidPath`] for a path that cannot be listened on,
    /// and with [`ListenerError::Bind`] when the port is held by another program.
    pub fn bind(config: &LoopbackRedirect) -> Result<Self, ListenerError> {
        config.check()?;
        let requested = config.requested_port();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, requested)).map_err(|source| {
            ListenerError::Bind {
                port: requested,
                source,
            }
        })?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        Ok(RedirectListener {
            listener,
            redirect_uri: config.redirect_uri(port),
            config: config.clone(),
            port,
            deadline: None,
            accepted: 0,
            connections: Vec::new(),
        })
    }

    /// The redirect URI to put in the authorization request:
    /// `http://127.0.0.1:<port><path>`, with the port bound.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Waits for the redirect: answers every request that reaches the listener, and
    /// returns the first `GET` of the configured path, with its target exactly as
    /// received.
    ///
    /// The timeout runs from the first call; a later call (after a redirect the core
    /// said does not answer the request) waits within the same deadline, and connections
    /// still open go on being served. Fails with [`ListenerError::TimedOut`] past the
    /// deadline, [`ListenerError::TooManyConnections`] when
    /// [`MAX_CONNECTIONS`] came without a redirect, and [`ListenerError::Io`] when the
    /// listening socket fails.
    pub fn accept(&mut self) -> Result<ReceivedRedirect, ListenerError> {
        let timeout = self.config.wait_timeout();
        let deadline = *self
            .deadline
            .get_or_insert_with(|| Instant::now() + timeout);
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(ListenerError::TimedOut { after: timeout });
            }
            let mut busy = false;
            if self.accepted < MAX_CONNECTIONS {
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        busy = true;
                        self.accepted += 1;
                        // A connection that cannot be made non-blocking is dropped.
                        if stream.set_nonblocking(true).is_ok() {
                            self.connections.push(Connection::new(stream, now));
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) if is_transient_accept_error(&error) => busy = true,
                    Err(error) => return Err(ListenerError::Io(error)),
                }
            } else if self.connections.is_empty() {
                return Err(ListenerError::TooManyConnections);
            }
            let mut index = 0;
            while index < self.connections.len() {
                match self.connections[index].step(&self.config, now, deadline) {
                    Step::Idle => index += 1,
                    Step::Progress => {
                        busy = true;
                        index += 1;
                    }
                    Step::Closed => {
                        busy = true;
                        self.connections.swap_remove(index);
                    }
                    Step::Redirect(redirect) => {
                        self.connections.swap_remove(index);
                        return Ok(redirect);
                    }
                }
            }
            if !busy {
                std::thread::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(now)));
            }
        }
    }
}

/// One accepted connection, non-blocking.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    state: State,
}

#[derive(Debug)]
enum State {
    /// Reading the head, until the moment it must be whole.
    Reading { reader: HeadReader, until: Instant },
    /// Answered and refused: discarding what the client still sends until it closes.
    Draining { until: Instant, drained: usize },
}

/// What one look at a connection did.
enum Step {
    /// Nothing to read.
    Idle,
    /// Read something; the connection stays.
    Progress,
    /// Done with: drop it.
    Closed,
    /// The redirect, answered.
    Redirect(ReceivedRedirect),
}

impl Connection {
    fn new(stream: TcpStream, now: Instant) -> Self {
        Connection {
            stream,
            state: State::Reading {
                reader: HeadReader::new(),
                until: now + MAX_HEAD_WAIT,
            },
        }
    }

    /// Reads what the connection has, and answers once its head is whole.
    fn step(&mut self, config: &LoopbackRedirect, now: Instant, deadline: Instant) -> Step {
        match &mut self.state {
            State::Reading { reader, until } => {
                let mut progressed = false;
                loop {
                    match self.stream.read(reader.unfilled()) {
                        // Closed before a whole head: nothing to answer.
                        Ok(0) => return Step::Closed,
                        Ok(read) => {
                            progressed = true;
                            reader.advance(read);
                            let (answer, redirect) = match reader.read(config) {
                                HeadRead::NeedMore => continue,
                                HeadRead::Complete(head) => (head.answer(), head.into_redirect()),
                                HeadRead::Invalid(answer) => (answer, None),
                            };
                            let answered = write_answer(&mut self.stream, answer, now, deadline);
                            if let Some(redirect) = redirect {
                                // The redirect counts even if the browser left before
                                // its page.
                                return Step::Redirect(redirect);
                            }
                            if answered.is_err() {
                                return Step::Closed;
                            }
                            self.state = State::Draining {
                                until: now + DRAIN_WAIT,
                                drained: 0,
                            };
                            return Step::Progress;
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            return if now >= *until {
                                Step::Closed
                            } else if progressed {
                                Step::Progress
                            } else {
                                Step::Idle
                            };
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Step::Closed,
                    }
                }
            }
            State::Draining { until, drained } => {
                let mut scratch = [0u8; 4096];
                let mut progressed = false;
                loop {
                    match self.stream.read(&mut scratch) {
                        Ok(0) => return Step::Closed,
                        Ok(read) => {
                            progressed = true;
                            *drained += read;
                            if *drained > MAX_DRAIN_BYTES {
                                return Step::Closed;
                            }
                        }
                        Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                            return if now >= *until {
                                Step::Closed
                            } else if progressed {
                                Step::Progress
                            } else {
                                Step::Idle
                            };
                        }
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => return Step::Closed,
                    }
                }
            }
        }
    }
}

/// Writes `answer` (blocking, bounded), and shuts the write side: the client reads the
/// page to its end. The stream is non-blocking again after.
fn write_answer(
    stream: &mut TcpStream,
    answer: Answer,
    now: Instant,
    deadline: Instant,
) -> io::Result<()> {
    let wait = MAX_ANSWER_WAIT
        .min(deadline.saturating_duration_since(now))
        .max(Duration::from_millis(1));
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(wait))?;
    stream.write_all(&answer.to_bytes())?;
    stream.shutdown(Shutdown::Write)?;
    stream.set_nonblocking(true)
}
