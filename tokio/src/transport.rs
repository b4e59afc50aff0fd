//! The glue between the core's requests and reqwest: a request goes out as it was built,
//! within the time the core gives it; every answer, whatever its status, comes back as a
//! response with its body read no further than the policy's cap; a failure says whether
//! the request may have left.

use std::time::Duration;

use oauth_lifecycle::http;
use oauth_lifecycle::{Policy, TransportError};
use oauth_lifecycle_adapter::transport::{connect_timeout, CappedBody};

/// The client a manager sends token requests with when it is given none, under the
/// adapters' one transport policy ([`oauth_lifecycle_adapter::transport`]): no redirect
/// (a 3xx goes back to the core as an answer, and a form body holding credentials is
/// never re-sent elsewhere), a connect timeout shorter than the request's deadline (a
/// server that never accepts the connection is known not to have the request), and no
/// idle connection kept (a request on a pooled connection the server has just closed
/// would have an unknown outcome, spending a single-use refresh token).
pub fn default_client(policy: &Policy) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout(policy))
        .pool_max_idle_per_host(0)
        .build()
}

/// Sends `request` with `client` and reads the whole answer within `timeout`.
///
/// Every status, 4xx and 5xx included, is an `Ok` response: the core decides what it
/// means. The body is read in chunks and kept up to one byte past `max_body_bytes` (the
/// core refuses a longer body and needs no more to know). The request goes out exactly
/// as built: a token request's headers and form body are the core's.
///
/// Redirects are followed only if `client` follows them; the manager's default client
/// follows none, so a token endpoint's 3xx reaches the core as an answer.
///
/// A failure is classified by [`classify`]; running out of `timeout` at any point is
/// [`TransportError::OutcomeUnknown`], since the request may have been written.
pub async fn send(
    client: &reqwest::Client,
    request: http::Request<Vec<u8>>,
    timeout: Duration,
    max_body_bytes: usize,
) -> Result<http::Response<Vec<u8>>, TransportError> {
    let mut request = reqwest::Request::try_from(request).map_err(|error| classify(&error))?;
    // The core's deadline, whatever the client's own default timeout says.
    *request.timeout_mut() = Some(timeout);
    // reqwest's timeout covers the body too; this one makes sure of it.
    tokio::time::timeout(timeout, exchange(client, request, max_body_bytes))
        .await
        .unwrap_or(Err(TransportError::OutcomeUnknown))
}

async fn exchange(
    client: &reqwest::Client,
    request: reqwest::Request,
    max_body_bytes: usize,
) -> Result<http::Response<Vec<u8>>, TransportError> {
    let mut response = client
        .execute(request)
        .await
        .map_err(|error| classify(&error))?;
    let mut body = CappedBody::new(max_body_bytes);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if !body.push(&chunk) {
                    break;
                }
            }
            Ok(None) => break,
            // The request was answered, but the answer could not be read whole.
            Err(_) => return Err(TransportError::OutcomeUnknown),
        }
    }
    let mut answer = http::Response::new(body.into_bytes());
    *answer.status_mut() = response.status();
    *answer.version_mut() = response.version();
    *answer.headers_mut() = std::mem::take(response.headers_mut());
    Ok(answer)
}

/// Whether a request that failed with `error` may have reached the server.
///
/// | reqwest error                                                   | verdict         |
/// |-----------------------------------------------------------------|-----------------|
/// | a builder error (bad URL, bad header), found before sending     | [`NotSent`]     |
/// | a connect error: refused, unresolved, TLS handshake, connect timeout | [`NotSent`] |
/// | anything else: a reset, a timeout after connecting, a broken or unreadable answer, too many redirects | [`OutcomeUnknown`] |
///
/// [`NotSent`]: TransportError::NotSent
/// [`OutcomeUnknown`]: TransportError::OutcomeUnknown
pub fn classify(error: &reqwest::Error) -> TransportError {
    if error.is_builder() || error.is_connect() {
        TransportError::NotSent
    } else {
        TransportError::OutcomeUnknown
    }
}
