//! The loopback redirect listener over tokio: the sockets around
//! [`oauth_lifecycle_adapter::redirect_listener`], which decides what is read and
//! answered.

use std::sync::Arc;

use oauth_lifecycle_adapter::redirect_listener::{
    is_transient_accept_error, HeadRead, HeadReader, ListenerError, LoopbackRedirect,
    ReceivedRedirect, DRAIN_WAIT, MAX_ANSWER_WAIT, MAX_CONNECTIONS, MAX_DRAIN_BYTES, MAX_HEAD_WAIT,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{timeout, timeout_at, Instant};

/// A one-shot listener on `127.0.0.1` for the redirect of an authorization code grant
/// (RFC 8252 §7.3): [`bind`](Self::bind) it, put its [`redirect_uri`](Self::redirect_uri)
/// in the authorization request, open the request's URL in the browser (the
/// application's job), and [`accept`](Self::accept) the redirect. The contract (one
/// redirect per `accept`, the port, the page, the bounds) is
/// [`oauth_lifecycle_adapter::redirect_listener`]'s, which decides what is read and
/// answered; this type only moves the bytes.
///
/// Each connection is served by a task of its own, so that a browser's idle
/// preconnection never holds up the redirect; the tasks belong to the listener and are
/// aborted when it is dropped. `accept` is cancel safe: a redirect a task already read
/// is kept for the next call.
///
/// ```
/// use oauth_lifecycle::dialect::authorization::AuthorizationRequest;
/// use oauth_lifecycle_tokio::{LoopbackRedirect, RedirectListener};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut listener = RedirectListener::bind(&LoopbackRedirect::default()).await?;
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
/// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// #     let (port, state) = (listener.port(), request.state().to_owned());
/// #     tokio::spawn(async move {
/// #         let mut tab = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
/// #         let get = format!("GET /callback?code=SplxlOBeZQQYbYS6WxSbIA&state={state} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
/// #         tab.write_all(get.as_bytes()).await.unwrap();
/// #         let mut page = String::new();
/// #         tab.read_to_string(&mut page).await.unwrap();
/// #     })
/// # };
/// let redirect = listener.accept().await?;
/// let code = request.read_redirect(redirect.target())?;
/// // …exchange the code (`Standard::code_exchange_request`).
/// # browser.await?;
/// # let _ = code;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct RedirectListener {
    listener: TcpListener,
    config: Arc<LoopbackRedirect>,
    port: u16,
    redirect_uri: String,
    /// Set by the first `accept`.
    deadline: Option<Instant>,
    accepted: usize,
    connections: JoinSet<Option<ReceivedRedirect>>,
}

impl RedirectListener {
    /// Binds `127.0.0.1` on the configured port (one the operating system picks when it
    /// is 0).
    ///
    /// Fails with [`ListenerError::InvalidPath`] for a path that cannot be listened on,
    /// and with [`ListenerError::Bind`] when the port is held by another program.
    pub async fn bind(config: &LoopbackRedirect) -> Result<Self, ListenerError> {
        config.check()?;
        let requested = config.requested_port();
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, requested))
            .await
            .map_err(|source| ListenerError::Bind {
                port: requested,
                source,
            })?;
        let port = listener.local_addr()?.port();
        Ok(RedirectListener {
            listener,
            redirect_uri: config.redirect_uri(port),
            config: Arc::new(config.clone()),
            port,
            deadline: None,
            accepted: 0,
            connections: JoinSet::new(),
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
    pub async fn accept(&mut self) -> Result<ReceivedRedirect, ListenerError> {
        let after = self.config.wait_timeout();
        let deadline = *self.deadline.get_or_insert_with(|| Instant::now() + after);
        timeout_at(deadline, self.serve())
            .await
            .unwrap_or(Err(ListenerError::TimedOut { after }))
    }

    /// Accepts connections and collects what their tasks read, until a redirect.
    async fn serve(&mut self) -> Result<ReceivedRedirect, ListenerError> {
        let RedirectListener {
            listener,
            config,
            accepted,
            connections,
            ..
        } = self;
        loop {
            tokio::select! {
                result = listener.accept(), if *accepted < MAX_CONNECTIONS => match result {
                    Ok((stream, _)) => {
                        *accepted += 1;
                        connections.spawn(serve_connection(stream, Arc::clone(config)));
                    }
                    Err(error) if is_transient_accept_error(&error) => {}
                    Err(error) => return Err(ListenerError::Io(error)),
                },
                Some(done) = connections.join_next() => {
                    if let Ok(Some(redirect)) = done {
                        return Ok(redirect);
                    }
                }
                else => return Err(ListenerError::TooManyConnections),
            }
        }
    }
}

/// Serves one connection: reads its head, answers, and gives the redirect if it is one.
async fn serve_connection(
    mut stream: TcpStream,
    config: Arc<LoopbackRedirect>,
) -> Option<ReceivedRedirect> {
    let mut reader = HeadReader::new();
    let read = timeout(MAX_HEAD_WAIT, async {
        loop {
            // Closed (or failed) before a whole head: nothing to answer.
            let count = stream.read(reader.unfilled()).await.ok()?;
            if count == 0 {
                return None;
            }
            reader.advance(count);
            match reader.read(&config) {
                HeadRead::NeedMore => {}
                HeadRead::Complete(head) => return Some((head.answer(), head.into_redirect())),
                HeadRead::Invalid(answer) => return Some((answer, None)),
            }
        }
    })
    .await;
    drop(reader);
    let (answer, redirect) = read.ok().flatten()?;
    let answered = timeout(MAX_ANSWER_WAIT, async {
        stream.write_all(&answer.to_bytes()).await?;
        stream.shutdown().await
    })
    .await;
    if redirect.is_some() {
        // The redirect counts even if the browser left before its page.
        return redirect;
    }
    if matches!(answered, Ok(Ok(()))) {
        // Closing with unread bytes would reset the connection, and could take the
        // answer away from the client before it read it.
        let _ = timeout(DRAIN_WAIT, async {
            let mut scratch = [0u8; 4096];
            let mut drained = 0;
            while drained <= MAX_DRAIN_BYTES {
                match stream.read(&mut scratch).await {
                    Ok(0) | Err(_) => break,
                    Ok(count) => drained += count,
                }
            }
        })
        .await;
    }
    None
}
