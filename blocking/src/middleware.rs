//! A [`ureq`] agent that puts the manager's token on the requests to the APIs it is
//! meant for, tells the manager what the API said, and retries a rejected request once
//! with the renewed token: the rules of the tokio manager's `BearerAuth`, over ureq 3.

use std::fmt;
use std::io::{self, Cursor, Read};
use std::sync::{Arc, Weak};
use std::time::Duration;

use oauth_lifecycle::Generation;
use oauth_lifecycle_adapter::origin::{AllowedOrigins, Origin, Verdict};
use oauth_lifecycle_adapter::{PublishedToken, WaitError};
use ureq::config::{ConfigBuilder, RedirectAuthHeaders};
use ureq::http::header::{AUTHORIZATION, CONTENT_LENGTH, TRANSFER_ENCODING};
use ureq::http::{self, HeaderMap, HeaderValue, Method, Request, Response, Uri, Version};
use ureq::middleware::{Middleware, MiddlewareNext};
use ureq::typestate::AgentScope;
use ureq::{Agent, Body, ResponseExt, SendBody};

use crate::manager::TokenManager;

pub use oauth_lifecycle_adapter::origin::InvalidOrigin;

/// Sends the token of a [`TokenManager`] to the origins it is given, and recovers from a
/// rejected token once: the [`ureq::Agent`] it builds ([`agent`](Self::agent)) applies
/// these rules to every request.
///
/// It is made with the first origin to send the token to; [`allow_origin`](Self::allow_origin)
/// adds more. There is no way to build one that sends the token nowhere.
///
/// For a request to an allowed origin (scheme, host and port; a port not written is the
/// scheme's default):
///
/// 1. The current token goes into `Authorization` (marked sensitive), replacing any
///    header the request had. With no token yet, the request waits for one at most
///    [`wait`](Self::wait) (10 seconds unless set) and fails with [`BearerAuthError`]
///    if none comes.
/// 2. The answer is classified ([`Origin::verdict`], with
///    [`classify`](oauth_lifecycle::resource::classify)'s rules). A rejected token is
///    reported with its generation
///    ([`report_unauthorized`](TokenManager::report_unauthorized)); if the request can
///    be sent again, it is sent **once** more with a newer token (waiting at most
///    [`wait`](Self::wait) for it). Whatever that second answer is, it is returned: a
///    second 401 is never retried. A request that cannot be sent again, or no newer
///    token in time, gets the first 401.
/// 3. A successful answer (2xx) is reported
///    ([`report_call_succeeded`](TokenManager::report_call_succeeded)), which slides the
///    expiry of tokens that live longer with use (Convirza V3) and costs nothing for the
///    others.
///
/// Requests to any other origin pass through untouched, without the token.
///
/// # Which requests are sent again
///
/// ureq's [`SendBody`] can be neither cloned nor looked at without being read. So:
///
/// - A request whose method ureq sends with a body (`POST`, `PUT`, `PATCH`) is left as
///   it is and never sent again, even with an empty body.
/// - The body of any other request (`GET`, `HEAD`, `DELETE`, `OPTIONS`, …) is read
///   before it is sent. Normally it has none, and the request is sent again with none.
///   A body given to such a request anyway (ureq's `force_send_body`) is kept in memory
///   and sent again, with its `Content-Length`, up to 64 KiB; a longer one is sent once,
///   chunked, and never again.
///
/// # Redirects
///
/// The token never follows a redirect, even within its origin, whatever the agent's
/// [`redirect_auth_headers`](ureq::config::ConfigBuilder::redirect_auth_headers) says
/// (ureq's `SameHost` would keep it on another port of the same host): the requests that
/// carry the token are configured with [`RedirectAuthHeaders::Never`]. The answer that
/// follows a redirect therefore says nothing about the token: it is not classified, not
/// reported and never retried. To tell, those requests keep their redirect history
/// ([`ResponseExt::get_redirect_history`] is `Some` for their answers).
///
/// # The agent
///
/// A ureq middleware can forward a request only once, so the retry is a second run of
/// the agent itself, which the middleware reaches through a weak reference: keep the
/// [`Arc`] that [`agent`](Self::agent) returns (or clones of it) while you send. A
/// [`ureq::Agent`] cloned out of it, used after every `Arc` is gone, fails each request
/// for an allowed origin with [`BearerAuthError::AgentDropped`].
///
/// The middleware runs first in the agent's chain; middleware added in
/// [`agent`](Self::agent)'s closure runs after it, and once more for the retry. For the
/// requests that carry the token the agent's own
/// [`http_status_as_error`](ureq::config::ConfigBuilder::http_status_as_error) applies,
/// not a request's: the middleware needs a 401's `WWW-Authenticate` challenge, and turns
/// a 4xx or 5xx into [`ureq::Error::StatusCode`] itself once it is done.
///
/// ```no_run
/// # fn f(tokens: oauth_lifecycle_blocking::TokenManager) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// use oauth_lifecycle_blocking::BearerAuth;
///
/// let api = BearerAuth::new(tokens, "https://api.example.com")?
///     .wait(Duration::from_secs(5))
///     .agent(|config| config.http_status_as_error(false));
/// let response = api.get("https://api.example.com/v1/me").call()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    manager: TokenManager,
    origins: AllowedOrigins,
    wait: Duration,
}

/// Why a request was not sent.
///
/// It reaches the caller as [`ureq::Error::Other`]; [`BearerAuthError::of`] finds it
/// there. The message carries the reason why no token came, since a [`ureq::Error`]
/// passes no source on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerAuthError {
    /// No token to send: the wait's reason, with the session's status or the core's
    /// reason why none will come.
    #[error("no access token to send: {0}")]
    NoToken(WaitError),
    /// The agent [`BearerAuth::agent`] built is gone (every `Arc` of it dropped) while a
    /// [`ureq::Agent`] cloned out of it sends: the middleware could not send a rejected
    /// request again.
    #[error(
        "the agent built by BearerAuth::agent is dropped: keep its Arc while sending, \
         not a ureq::Agent cloned out of it"
    )]
    AgentDropped,
}

impl BearerAuthError {
    /// The `BearerAuthError` in a [`ureq::Error`] (an [`Other`](ureq::Error::Other)),
    /// if it is one.
    pub fn of(error: &ureq::Error) -> Option<&BearerAuthError> {
        match error {
            ureq::Error::Other(error) => error.downcast_ref(),
            _ => None,
        }
    }

    fn into_ureq(self) -> ureq::Error {
        ureq::Error::Other(Box::new(self))
    }
}

/// The default bound on waiting for a token.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// The longest body of a request without one by its method (`GET`, `DELETE`, …) that is
/// kept in memory to be sent again.
const REPLAY_LIMIT: u64 = 64 * 1024;

impl BearerAuth {
    /// Sends the token of `manager` to `origin`: its scheme, host and port (the scheme's
    /// default port when none is written); a path is ignored. `https://api.example.com`
    /// allows `https://api.example.com:443/…` and nothing else.
    pub fn new(manager: TokenManager, origin: &str) -> Result<Self, InvalidOrigin> {
        Ok(BearerAuth {
            manager,
            origins: AllowedOrigins::new(origin)?,
            wait: DEFAULT_WAIT,
        })
    }

    /// Sends the token to `origin` too, by the same rules as [`new`](Self::new).
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, InvalidOrigin> {
        self.origins.allow(origin)?;
        Ok(self)
    }

    /// Waits at most `wait` for a token when there is none, and as long again for a newer
    /// one after a rejection. Default 10 seconds.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The manager it takes tokens from.
    pub fn manager(&self) -> &TokenManager {
        &self.manager
    }

    /// The origins it sends the token to.
    pub fn origins(&self) -> &AllowedOrigins {
        &self.origins
    }

    /// An agent that sends every request by these rules. `configure` sets up the rest
    /// of the agent (timeouts, TLS, proxy, further middleware, which runs after this
    /// one); `|config| config` keeps ureq's defaults.
    ///
    /// Keep the returned [`Arc`] (or clones of it) while sending: see
    /// [the agent](Self#the-agent).
    pub fn agent(
        self,
        configure: impl FnOnce(ConfigBuilder<AgentScope>) -> ConfigBuilder<AgentScope>,
    ) -> Arc<Agent> {
        Arc::new_cyclic(|agent| {
            let layer = Layer {
                auth: self,
                agent: agent.clone(),
            };
            configure(Agent::config_builder().middleware(layer))
                .build()
                .new_agent()
        })
    }
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("origins", &self.origins)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// The middleware in the agent: the rules, and the agent to send a retry with.
struct Layer {
    auth: BearerAuth,
    /// Weak, since the agent holds the middleware.
    agent: Weak<Agent>,
}

/// Marks the one retry of a rejected request, with the newer token to send. Travels in
/// the request's extensions through the agent's second run.
#[derive(Clone)]
struct Retry(Arc<PublishedToken>);

impl Middleware for Layer {
    fn handle(
        &self,
        mut request: Request<SendBody<'_>>,
        next: MiddlewareNext<'_>,
    ) -> Result<Response<Body>, ureq::Error> {
        let retry = request.extensions_mut().remove::<Retry>();
        let Some(origin) = self.auth.origins.origin_of(request.uri()) else {
            return next.handle(request);
        };
        let Some(agent) = self.agent.upgrade() else {
            return Err(BearerAuthError::AgentDropped.into_ureq());
        };
        let manager = &self.auth.manager;
        let (token, retrying) = match retry {
            Some(Retry(newer)) => (newer, true),
            None => {
                let token = manager
                    .token(self.auth.wait)
                    .map_err(|error| BearerAuthError::NoToken(error).into_ureq())?;
                (token, false)
            }
        };
        let generation = token.generation();

        let (mut parts, body) = request.into_parts();
        parts
            .headers
            .insert(AUTHORIZATION, token.header_value().clone());
        drop(token);
        // Whatever the agent says, the token follows no redirect, the history tells
        // whether there was one, and a 401 comes back as an answer with its challenge.
        let (parts, ()) = agent
            .configure_request(Request::from_parts(parts, ()))
            .redirect_auth_headers(RedirectAuthHeaders::Never)
            .save_redirect_history(true)
            .http_status_as_error(false)
            .build()
            .into_parts();
        let mut request = Request::from_parts(parts, ());
        let outgoing = if retrying {
            Outgoing::Untouched(body)
        } else {
            Outgoing::read(request.method(), body).map_err(ureq::Error::Io)?
        };
        outgoing.frame(request.headers_mut());
        // Kept for the one retry, if the body can be sent again.
        let again = match (&outgoing, retrying) {
            (Outgoing::Buffered(bytes), false) => Some(Again {
                head: Head::of(&request),
                body: Arc::clone(bytes),
            }),
            _ => None,
        };
        let uri = request.uri().clone();
        let response = outgoing.send(request, next)?;

        match verdict(origin, &uri, &response) {
            Verdict::Accepted => manager.report_call_succeeded(generation),
            Verdict::TokenRejected => {
                tracing::debug!(
                    generation = generation.get(),
                    status = response.status().as_u16(),
                    "token rejected by the API"
                );
                manager.report_unauthorized(generation);
                if let Some(again) = again {
                    return self.retry(&agent, again, generation, response);
                }
                if !retrying {
                    tracing::debug!(
                        generation = generation.get(),
                        "token rejected; the request's body cannot be sent again"
                    );
                }
            }
            _ => {}
        }
        status_as_error(&agent, response)
    }
}

impl Layer {
    /// Sends `again` once more with a token newer than `rejected`, through the whole
    /// agent, or returns `response` (the rejection) if none comes in time.
    fn retry(
        &self,
        agent: &Agent,
        again: Again,
        rejected: Generation,
        response: Response<Body>,
    ) -> Result<Response<Body>, ureq::Error> {
        let newer = match self.auth.manager.token_newer_than(rejected, self.auth.wait) {
            Ok(newer) => newer,
            Err(error) => {
                tracing::debug!(
                    generation = rejected.get(),
                    %error,
                    "token rejected; no newer token to retry with"
                );
                return status_as_error(agent, response);
            }
        };
        tracing::debug!(
            rejected = rejected.get(),
            generation = newer.generation().get(),
            "retrying once with the renewed token"
        );
        drop(response);
        let Again { head, body } = again;
        let retry = Retry(newer);
        if body.is_empty() {
            agent.run(head.request((), retry))
        } else {
            agent.run(head.request(&body[..], retry))
        }
    }
}

/// What the answer to a request for `origin` sent to `uri` means for its token.
fn verdict(origin: &Origin, uri: &Uri, response: &Response<Body>) -> Verdict {
    // The history is the request's URI, then every redirect's (saved for these
    // requests). None when a later middleware answered by itself.
    let history = response.get_redirect_history().unwrap_or_default();
    if history.len() > 1 {
        // The token was dropped at the first redirect: that answer is not about it.
        return Verdict::Other;
    }
    let answered_by = history.last().unwrap_or(uri);
    origin.verdict(answered_by, response.status(), response.headers())
}

/// `response`, or the [`ureq::Error::StatusCode`] the agent's configuration makes of a
/// 4xx or 5xx.
fn status_as_error(agent: &Agent, response: Response<Body>) -> Result<Response<Body>, ureq::Error> {
    let status = response.status();
    if agent.config().http_status_as_error()
        && (status.is_client_error() || status.is_server_error())
    {
        return Err(ureq::Error::StatusCode(status.as_u16()));
    }
    Ok(response)
}

/// A request's body as the middleware sends it.
enum Outgoing<'a> {
    /// As the caller gave it: sent once.
    Untouched(SendBody<'a>),
    /// Read whole (often empty): sent, and sent again if need be, from memory.
    Buffered(Arc<[u8]>),
    /// Longer than [`REPLAY_LIMIT`]: what was read of it, then the rest; sent once.
    Partial(Vec<u8>, Box<dyn Read + 'a>),
}

impl<'a> Outgoing<'a> {
    /// Reads the body of a request whose `method` has none by default (everything but
    /// `POST`, `PUT` and `PATCH`), which is normally empty, so that it can be sent again.
    fn read(method: &Method, body: SendBody<'a>) -> io::Result<Self> {
        if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            return Ok(Outgoing::Untouched(body));
        }
        let mut reader = body.into_reader();
        let mut head = Vec::new();
        (&mut reader)
            .take(REPLAY_LIMIT + 1)
            .read_to_end(&mut head)?;
        Ok(if head.len() as u64 > REPLAY_LIMIT {
            Outgoing::Partial(head, Box::new(reader))
        } else {
            Outgoing::Buffered(head.into())
        })
    }

    /// Gives a body read whole the `Content-Length` ureq would have given it, unless the
    /// request frames its body itself.
    fn frame(&self, headers: &mut HeaderMap) {
        if let Outgoing::Buffered(bytes) = self {
            if !bytes.is_empty()
                && !headers.contains_key(CONTENT_LENGTH)
                && !headers.contains_key(TRANSFER_ENCODING)
            {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            }
        }
    }

    /// Sends `request` with this body down the rest of the chain.
    fn send(
        self,
        request: Request<()>,
        next: MiddlewareNext<'_>,
    ) -> Result<Response<Body>, ureq::Error> {
        let (parts, ()) = request.into_parts();
        match self {
            Outgoing::Untouched(body) => next.handle(Request::from_parts(parts, body)),
            Outgoing::Buffered(bytes) if bytes.is_empty() => {
                next.handle(Request::from_parts(parts, SendBody::none()))
            }
            Outgoing::Buffered(bytes) => {
                let body = SendBody::from_owned_reader(Cursor::new(bytes));
                next.handle(Request::from_parts(parts, body))
            }
            Outgoing::Partial(head, rest) => {
                let mut whole = Cursor::new(head).chain(rest);
                next.handle(Request::from_parts(
                    parts,
                    SendBody::from_reader(&mut whole),
                ))
            }
        }
    }
}

/// What is needed to send a request again.
struct Again {
    head: Head,
    body: Arc<[u8]>,
}

/// A request without its body.
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: http::Extensions,
}

impl Head {
    fn of<B>(request: &Request<B>) -> Head {
        Head {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
            extensions: request.extensions().clone(),
        }
    }

    /// The request again with `body`, marked as the retry.
    fn request<B>(self, body: B, retry: Retry) -> Request<B> {
        let mut request = Request::new(body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        *request.extensions_mut() = self.extensions;
        request.extensions_mut().insert(retry);
        request
    }
}
