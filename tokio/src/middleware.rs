//! A [`reqwest_middleware`] layer that puts the manager's token on the requests to the
//! APIs it is meant for, tells the manager what the API said, and retries a rejected
//! request once with the renewed token.

use std::fmt;
use std::time::Duration;

use oauth_lifecycle::http;
use oauth_lifecycle::resource::{classify, ResourceVerdict};
use oauth_lifecycle::Generation;
use oauth_lifecycle_adapter::WaitError;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

use crate::manager::TokenManager;

/// Attaches `Authorization: Bearer …` from a [`TokenManager`] to requests for the origins
/// it is configured with, and recovers from a rejected token once.
///
/// For a request to an allowed origin (scheme, host and port, as
/// [`allow_origin`](Self::allow_origin) was given them):
///
/// 1. The current token goes into `Authorization` (marked sensitive), replacing any
///    header the request had. With no token yet, the request waits for one at most
///    [`wait`](Self::wait) and fails with [`BearerAuthError`] if none comes.
/// 2. The answer is classified with
///    [`classify_response`](oauth_lifecycle::resource::classify_response). A rejected token
///    ([`TokenRejected`](ResourceVerdict::TokenRejected)) is reported with its generation;
///    if the request's body can be cloned, the request is sent **once** more with a newer
///    token (waiting at most [`wait`](Self::wait) for it). Whatever that second answer
///    is, it is returned: a second 401 is never retried. A request with a streaming body,
///    or no newer token in time, gets the first 401.
/// 3. A successful answer (2xx) is reported, which slides the expiry of tokens that live
///    longer with use (Convirza V3) and costs nothing for the others.
///
/// Requests to any other origin pass through untouched, without the token. Redirects are
/// reqwest's: it removes `Authorization` when a redirect leaves the origin (scheme, host
/// or port), and an answer from another origin than the request's is never taken as the
/// token's rejection.
///
/// ```no_run
/// # fn f(tokens: oauth_lifecycle_tokio::TokenManager) -> Result<(), Box<dyn std::error::Error>> {
/// use oauth_lifecycle_tokio::BearerAuth;
///
/// let auth = BearerAuth::new(tokens).allow_origin("https://api.example.com")?;
/// let api = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(auth)
///     .build();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    manager: TokenManager,
    origins: Vec<Origin>,
    wait: Duration,
}

/// Why a request was not sent: no token came in time, or none will.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerAuthError {
    /// No token to send: the wait's reason, with the session's status or the core's
    /// reason why none will come.
    #[error("no access token to send: {0}")]
    NoToken(#[source] WaitError),
}

/// A URL that cannot name an origin (no host, or a scheme without a known port).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an origin: {0}")]
pub struct InvalidOrigin(String);

/// Scheme, host and port: where a token may go.
#[derive(Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Origin> {
        Some(Origin {
            scheme: url.scheme().to_owned(),
            host: url.host_str()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }

    fn matches(&self, url: &Url) -> bool {
        url.scheme() == self.scheme
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == Some(self.port)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

/// The default bound on waiting for a token.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

impl BearerAuth {
    /// A layer over `manager` that sends the token nowhere until origins are allowed.
    pub fn new(manager: TokenManager) -> Self {
        BearerAuth {
            manager,
            origins: Vec::new(),
            wait: DEFAULT_WAIT,
        }
    }

    /// Sends the token to `origin`: its scheme, host and port (a default port when none is
    /// written); a path is ignored. `https://api.example.com` allows
    /// `https://api.example.com:443/…` and nothing else.
    pub fn allow_origin(mut self, origin: &str) -> Result<Self, InvalidOrigin> {
        let parsed = Url::parse(origin)
            .ok()
            .and_then(|url| Origin::of(&url))
            .ok_or_else(|| InvalidOrigin(origin.to_owned()))?;
        if !self.origins.contains(&parsed) {
            self.origins.push(parsed);
        }
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

    /// The allowed origin `url` belongs to, if any.
    fn origin_of(&self, url: &Url) -> Option<&Origin> {
        self.origins.iter().find(|origin| origin.matches(url))
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

#[async_trait::async_trait]
impl Middleware for BearerAuth {
    async fn handle(
        &self,
        mut request: Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let Some(origin) = self.origin_of(request.url()) else {
            return next.run(request, extensions).await;
        };
        let token = self.manager.token(self.wait).await.map_err(|error| {
            reqwest_middleware::Error::middleware(BearerAuthError::NoToken(error))
        })?;
        let generation = token.generation();
        // Kept for the one retry; a streaming body cannot be, and is never retried.
        let retry = request.try_clone();
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.header_value().clone());
        drop(token);
        let response = next.clone().run(request, extensions).await?;
        match self.verdict(&response, origin, generation) {
            Verdict::Rejected => {}
            Verdict::Done => return Ok(response),
        }
        let Some(mut retry) = retry else {
            tracing::debug!(
                generation = generation.get(),
                "token rejected; the request's body cannot be sent again"
            );
            return Ok(response);
        };
        let newer = match self.manager.token_newer_than(generation, self.wait).await {
            Ok(newer) => newer,
            Err(error) => {
                tracing::debug!(generation = generation.get(), %error, "token rejected; no newer token to retry with");
                return Ok(response);
            }
        };
        tracing::debug!(
            rejected = generation.get(),
            generation = newer.generation().get(),
            "retrying once with the renewed token"
        );
        let generation = newer.generation();
        retry
            .headers_mut()
            .insert(AUTHORIZATION, newer.header_value().clone());
        drop(newer);
        drop(response);
        let response = next.run(retry, extensions).await?;
        // Reported like any answer, but never retried again.
        let _ = self.verdict(&response, origin, generation);
        Ok(response)
    }
}

/// What an API's answer means for the middleware.
enum Verdict {
    /// The token was rejected (and reported).
    Rejected,
    /// Anything else: the answer goes back to the caller.
    Done,
}

impl BearerAuth {
    /// Classifies `response` to a request for `origin` sent with token `generation`, and
    /// reports it.
    fn verdict(&self, response: &Response, origin: &Origin, generation: Generation) -> Verdict {
        // After a redirect to another origin the token was not sent (reqwest removes it):
        // that answer says nothing about it.
        if !origin.matches(response.url()) {
            return Verdict::Done;
        }
        match classify(response.status(), response.headers()) {
            ResourceVerdict::Accepted => {
                self.manager.report_call_succeeded(generation);
                Verdict::Done
            }
            ResourceVerdict::TokenRejected => {
                tracing::debug!(
                    generation = generation.get(),
                    status = response.status().as_u16(),
                    "token rejected by the API"
                );
                self.manager.report_unauthorized(generation);
                Verdict::Rejected
            }
            _ => Verdict::Done,
        }
    }
}
