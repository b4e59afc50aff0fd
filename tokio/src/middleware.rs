//! A [`reqwest_middleware`] layer that puts the manager's token on the requests to the
//! APIs it is meant for, tells the manager what the API said, and retries a rejected
//! request once with the renewed token.

use std::fmt;
use std::time::Duration;

use oauth_lifecycle::http;
use oauth_lifecycle::Generation;
use oauth_lifecycle_adapter::origin::{AllowedOrigins, Origin, Verdict};
use oauth_lifecycle_adapter::WaitError;
use reqwest::header::AUTHORIZATION;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

use crate::manager::TokenManager;

pub use oauth_lifecycle_adapter::origin::InvalidOrigin;

/// Attaches `Authorization: Bearer …` from a [`TokenManager`] to requests for the origins
/// it is configured with, and recovers from a rejected token once.
///
/// It is made with the first origin to send the token to ([`new`](Self::new));
/// [`allow_origin`](Self::allow_origin) adds more. There is no way to build one that
/// sends the token nowhere.
///
/// For a request to an allowed origin (scheme, host and port; a port not written is the
/// scheme's default; see [`Origin`]):
///
/// 1. The current token goes into `Authorization` (marked sensitive), replacing any
///    header the request had. With no token yet, the request waits for one at most
///    [`wait`](Self::wait) and fails with [`BearerAuthError`] if none comes.
/// 2. The answer is classified ([`Origin::verdict`], with
///    [`classify`](oauth_lifecycle::resource::classify)'s rules). A rejected token
///    ([`TokenRejected`](Verdict::TokenRejected)) is reported with its generation;
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
/// let auth = BearerAuth::new(tokens, "https://api.example.com")?;
/// let api = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(auth)
///     .build();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    manager: TokenManager,
    origins: AllowedOrigins,
    wait: Duration,
}

/// Why a request was not sent: no token came in time, or none will.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BearerAuthError {
    /// No token to send: the wait's reason, with the session's status or the core's
    /// reason why none will come. The message says it; it is not repeated as a source.
    #[error("no access token to send: {0}")]
    NoToken(WaitError),
}

/// The default bound on waiting for a token.
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

impl BearerAuth {
    /// A layer that sends the token of `manager` to `origin`: its scheme, host and port
    /// (the scheme's default port when none is written); a path is ignored.
    /// `https://api.example.com` allows `https://api.example.com:443/…` and nothing else.
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

    /// The allowed origin `url` belongs to, if any.
    fn origin_of(&self, url: &Url) -> Option<&Origin> {
        self.origins
            .origin_of_parts(url.scheme(), url.host_str()?, url.port())
    }
}

/// Whether `url` belongs to `origin`; never for a URL without a host (`data:`, `file:`…).
fn belongs(url: &Url, origin: &Origin) -> bool {
    url.host_str()
        .is_some_and(|host| origin.matches_parts(url.scheme(), host, url.port()))
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
        if self.verdict(&response, origin, generation) != Verdict::TokenRejected {
            return Ok(response);
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

impl BearerAuth {
    /// Classifies `response` to a request for `origin` sent with token `generation`, and
    /// reports it.
    fn verdict(&self, response: &Response, origin: &Origin, generation: Generation) -> Verdict {
        // After a redirect to another origin the token was not sent (reqwest removes it):
        // that answer says nothing about it.
        let verdict = Verdict::of(
            belongs(response.url(), origin),
            response.status(),
            response.headers(),
        );
        match verdict {
            Verdict::Accepted => self.manager.report_call_succeeded(generation),
            Verdict::TokenRejected => {
                tracing::debug!(
                    generation = generation.get(),
                    status = response.status().as_u16(),
                    "token rejected by the API"
                );
                self.manager.report_unauthorized(generation);
            }
            _ => {}
        }
        verdict
    }
}
