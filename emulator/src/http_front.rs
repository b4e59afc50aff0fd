//! Any emulator served over HTTP/1.1 on 127.0.0.1, with transport faults on demand.

mod connection;
mod fault;
mod wire;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use self::fault::TransportFault;
use crate::{Clock, Emulator};

/// How an [`HttpFront`] serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpFrontConfig {
    /// Requests whose path starts with this go to the emulator's resource server
    /// ([`Emulator::resource_request`]); all others go to its authentication endpoints
    /// ([`Emulator::handle`]). Default `/api/`.
    pub api_prefix: String,
    /// At most this many connections are served at once, one thread each; further
    /// clients wait in the listen queue until one closes. Default 256.
    pub max_connections: usize,
    /// The longest request head (request line and headers) accepted; longer gets 431.
    /// Default 64 KiB.
    pub max_head_bytes: usize,
    /// The longest request body accepted; longer gets 413. Default 1 MiB.
    pub max_body_bytes: u64,
    /// The most header fields accepted; more gets 431. Default 256.
    pub max_headers: usize,
    /// How long a whole request may take to arrive, counted from when the connection
    /// starts waiting for it, so this is also how long an idle keep-alive connection is
    /// kept. A request still incomplete then gets 408; an idle connection is closed.
    /// Default 10 seconds.
    pub request_timeout: Duration,
    /// How long one write to a client that does not read may block before the
    /// connection is dropped. Default 10 seconds.
    pub write_timeout: Duration,
    /// How long every request to the authentication endpoints waits, once read, before
    /// the emulator handles it (at the clock's time then): a slow provider. Default none.
    pub auth_latency: Duration,
}

impl Default for HttpFrontConfig {
    fn default() -> Self {
        HttpFrontConfig {
            api_prefix: "/api/".into(),
            max_connections: 256,
            max_head_bytes: 64 * 1024,
            max_body_bytes: 1024 * 1024,
            max_headers: 256,
            request_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            auth_latency: Duration::ZERO,
        }
    }
}

/// What an [`HttpFront`] has seen, as counted on the wire (the emulator's own
/// [`ServerStats`](crate::ServerStats) count what reached it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrontStats {
    /// Connections accepted.
    pub connections: u64,
    /// Whole requests received for the authentication endpoints, including those that
    /// met a transport fault.
    pub auth_requests: u64,
    /// Whole requests received under the API prefix.
    pub api_requests: u64,
    /// Requests the front refused itself (malformed, too large, chunked, too slow).
    pub rejected_requests: u64,
    /// Transport faults carried out.
    pub faults: u64,
}

/// An [`Emulator`] served over HTTP/1.1 on `127.0.0.1`, so real HTTP clients, blocking
/// or async, can be tested against any provider over the network.
///
/// It listens on a free loopback port, serves each connection on a thread of its own
/// (with keep-alive, `Content-Length` bodies and bounded sizes and times), reads `now`
/// from its [`Clock`], and on demand breaks the transport in ways no provider does by
/// itself: see [`inject`](Self::inject). Dropping it shuts it down.
///
/// The emulators route on the request path alone, so a request reaches them as it
/// arrived: with its target (normally origin-form, `/token?…`, not rebuilt into an
/// absolute URI), its method, version and headers (`Host` included) and its body.
///
/// ```
/// use std::io::{Read, Write};
/// use std::net::TcpStream;
///
/// use oauth_lifecycle_emulator::{
///     Clock, Emulator as _, HttpFront, StandardServer, StandardServerConfig,
/// };
///
/// let server = StandardServer::new(StandardServerConfig::default());
/// let front = HttpFront::start(server, Clock::System)?;
///
/// let body = "grant_type=client_credentials&client_id=emulated-client&client_secret=emulated-secret";
/// let mut stream = TcpStream::connect(front.addr())?;
/// write!(
///     stream,
///     "POST /token HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
///      Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
///     front.addr(),
///     body.len(),
/// )?;
/// let mut answer = String::new();
/// stream.read_to_string(&mut answer)?;
///
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.contains(r#""token_type":"Bearer""#));
/// assert_eq!(front.stats().auth_requests, 1);
/// assert_eq!(front.with_emulator(|server| server.stats().logins), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct HttpFront<E = Box<dyn Emulator + Send>> {
    addr: SocketAddr,
    shared: Arc<Shared<E>>,
    acceptor: Option<JoinHandle<()>>,
}

impl<E: Emulator + Send + 'static> HttpFront<E> {
    /// Serves `emulator` on a free port of `127.0.0.1` with the default configuration,
    /// reading `now` from `clock` (a [`Clock`] or a [`DrivenClock`](crate::DrivenClock)).
    pub fn start(emulator: E, clock: impl Into<Clock>) -> io::Result<Self> {
        Self::start_with(emulator, clock, HttpFrontConfig::default())
    }

    /// Like [`start`](Self::start), configured.
    pub fn start_with(
        emulator: E,
        clock: impl Into<Clock>,
        config: HttpFrontConfig,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            emulator: Mutex::new(emulator),
            clock: clock.into(),
            config,
            faults: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
            stopping: AtomicBool::new(false),
            pause_lock: Mutex::new(()),
            woken: Condvar::new(),
            open: Mutex::new(Registry::default()),
            slot_freed: Condvar::new(),
        });
        let acceptor = thread::Builder::new()
            .name(format!("http-front-{}", addr.port()))
            .spawn({
                let shared = Arc::clone(&shared);
                move || accept_loop(&shared, &listener)
            })?;
        Ok(HttpFront {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Runs `f` on the emulator, between requests: to inject provider failures, read
    /// its statistics, revoke everything, move its clock offset.
    pub fn with_emulator<R>(&self, f: impl FnOnce(&mut E) -> R) -> R {
        f(&mut lock(&self.shared.emulator))
    }
}

impl<E> HttpFront<E> {
    /// The address it listens on, always on `127.0.0.1`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of `path` on this front: `url("/token")` is `http://127.0.0.1:PORT/token`
    /// (a missing leading slash is added).
    pub fn url(&self, path: &str) -> String {
        let slash = if path.starts_with('/') { "" } else { "/" };
        format!("http://{}{slash}{path}", self.addr)
    }

    /// The clock it reads `now` from.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Makes the next request to the authentication endpoints meet `fault` (queued, in
    /// order, one request each; API requests pass untouched).
    pub fn inject(&self, fault: TransportFault) {
        lock(&self.shared.faults).push_back(fault);
    }

    /// What it has seen so far.
    pub fn stats(&self) -> FrontStats {
        let counters = &self.shared.counters;
        FrontStats {
            connections: counters.connections.get(),
            auth_requests: counters.auth_requests.get(),
            api_requests: counters.api_requests.get(),
            rejected_requests: counters.rejected_requests.get(),
            faults: counters.faults.get(),
        }
    }

    /// Stops accepting, closes every open connection (cutting short any
    /// [`Hang`](TransportFault::Hang)) and joins every thread, so that the port refuses
    /// connections and the emulator is left alone when it returns; the emulator stays
    /// reachable through [`with_emulator`](Self::with_emulator). Calling it again does
    /// nothing.
    pub fn shutdown(&mut self) {
        let Some(acceptor) = self.acceptor.take() else {
            return;
        };
        self.shared.stop();
        // Wake the accept loop with a connection of its own; should that fail, leave
        // the thread to end at its next connection rather than block here for ever.
        let woken = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if woken || acceptor.is_finished() {
            let _ = acceptor.join();
        }
        let open: Vec<OpenConnection> = lock(&self.shared.open)
            .connections
            .drain()
            .map(|(_, open)| open)
            .collect();
        for connection in &open {
            let _ = connection.stream.shutdown(Shutdown::Both);
        }
        for connection in open {
            if let Some(thread) = connection.thread {
                let _ = thread.join();
            }
        }
    }
}

impl<E> Drop for HttpFront<E> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<E> fmt::Debug for HttpFront<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFront")
            .field("addr", &self.addr)
            .field("config", &self.shared.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// What the accept loop, the connection threads and the handle share.
struct Shared<E> {
    emulator: Mutex<E>,
    clock: Clock,
    config: HttpFrontConfig,
    faults: Mutex<VecDeque<TransportFault>>,
    counters: Counters,
    stopping: AtomicBool,
    /// With `woken`: pauses that end early when the front stops.
    pause_lock: Mutex<()>,
    woken: Condvar,
    open: Mutex<Registry>,
    /// Signalled when a connection closes or the front stops.
    slot_freed: Condvar,
}

impl<E> Shared<E> {
    fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Taking each lock before notifying orders this after any waiter's last check.
        drop(lock(&self.pause_lock));
        self.woken.notify_all();
        drop(lock(&self.open));
        self.slot_freed.notify_all();
    }

    /// Sleeps for `duration`, or less if the front stops.
    fn pause(&self, duration: Duration) {
        let guard = lock(&self.pause_lock);
        let _ = self
            .woken
            .wait_timeout_while(guard, duration, |_| !self.is_stopping());
    }

    /// Waits until fewer than the maximum connections are open; false if the front
    /// stops first.
    fn wait_for_slot(&self) -> bool {
        let max = self.config.max_connections.max(1);
        let mut open = lock(&self.open);
        while open.connections.len() >= max && !self.is_stopping() {
            open = self
                .slot_freed
                .wait(open)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !self.is_stopping()
    }

    fn limits(&self) -> wire::Limits {
        wire::Limits {
            max_head: self.config.max_head_bytes,
            max_body: self.config.max_body_bytes,
            max_headers: self.config.max_headers,
        }
    }
}

/// The connections being served.
#[derive(Default)]
struct Registry {
    next_id: u64,
    connections: HashMap<u64, OpenConnection>,
}

/// A connection being served: a second handle on its socket, to close it from outside,
/// and its thread.
struct OpenConnection {
    stream: TcpStream,
    thread: Option<JoinHandle<()>>,
}

/// Takes a connection off the registry when its thread ends, even by a panic.
struct Leave<'a, E> {
    shared: &'a Shared<E>,
    id: u64,
}

impl<E> Drop for Leave<'_, E> {
    fn drop(&mut self) {
        lock(&self.shared.open).connections.remove(&self.id);
        self.shared.slot_freed.notify_all();
    }
}

fn accept_loop<E: Emulator + Send + 'static>(shared: &Arc<Shared<E>>, listener: &TcpListener) {
    while shared.wait_for_slot() {
        match listener.accept() {
            Ok(_) if shared.is_stopping() => return,
            Ok((stream, _)) => admit(shared, stream),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // Out of descriptors or the like: back off rather than spin.
            Err(_) => shared.pause(Duration::from_millis(50)),
        }
    }
}

/// Registers a new connection and serves it on a thread of its own.
fn admit<E: Emulator + Send + 'static>(shared: &Arc<Shared<E>>, stream: TcpStream) {
    shared.counters.connections.bump();
    let Ok(handle) = stream.try_clone() else {
        return;
    };
    let id = {
        let mut open = lock(&shared.open);
        let id = open.next_id;
        open.next_id += 1;
        open.connections.insert(
            id,
            OpenConnection {
                stream: handle,
                thread: None,
            },
        );
        id
    };
    let spawned = thread::Builder::new()
        .name(format!("http-front-conn-{id}"))
        .spawn({
            let shared = Arc::clone(shared);
            move || {
                let _leave = Leave {
                    shared: &shared,
                    id,
                };
                connection::serve(&shared, stream);
            }
        });
    let mut open = lock(&shared.open);
    match spawned {
        Ok(thread) => {
            // Already gone if the connection ended first; then the thread is ending too.
            if let Some(connection) = open.connections.get_mut(&id) {
                connection.thread = Some(thread);
            }
        }
        Err(_) => {
            open.connections.remove(&id);
        }
    }
}

/// Counters the connection threads bump.
#[derive(Default)]
struct Counters {
    connections: Counter,
    auth_requests: Counter,
    api_requests: Counter,
    rejected_requests: Counter,
    faults: Counter,
}

#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Locks `mutex`, carrying on if a thread panicked while holding it: every value kept
/// behind these locks stays consistent between statements.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
