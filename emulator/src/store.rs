//! What every emulated provider shares: issued tokens with families, rotation and reuse
//! detection, revocation, sliding expiry, a rate limit, injected failures, a clock offset
//! and statistics.

use std::collections::{HashMap, VecDeque};

use http::header::{AUTHORIZATION, CONTENT_TYPE, DATE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use time::{Duration, UtcDateTime};

/// An emulated provider: token endpoints on one side, a resource server on the other,
/// with knobs for tests. Every emulator in this module implements it, so a test can run
/// one scenario against each.
pub trait Emulator {
    /// Handles a request to one of the provider's authentication endpoints at `now`;
    /// anything else is 404.
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply;

    /// Answers an API call as the provider's resource server: 200 with a live bearer
    /// token, 401 otherwise. Providers with sliding expiry extend the token's life.
    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply;

    /// Whether `token` is a live access token at `now`.
    fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool;

    /// Makes the next authentication request meet `failure` (queued, in order).
    fn fail_next(&mut self, failure: InjectedFailure);

    /// Revokes every token, as an administrator ending all sessions would.
    fn revoke_all(&mut self);

    /// What the server has seen.
    fn stats(&self) -> &ServerStats;
}

/// A boxed emulator is one too, so that emulators of different kinds can be held and
/// served alike, as `Box<dyn Emulator + Send>`.
impl<E: Emulator + ?Sized> Emulator for Box<E> {
    fn handle(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        (**self).handle(request, now)
    }

    fn resource_request(&mut self, request: &http::Request<Vec<u8>>, now: UtcDateTime) -> Reply {
        (**self).resource_request(request, now)
    }

    fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool {
        (**self).is_access_token_valid(token, now)
    }

    fn fail_next(&mut self, failure: InjectedFailure) {
        (**self).fail_next(failure);
    }

    fn revoke_all(&mut self) {
        (**self).revoke_all();
    }

    fn stats(&self) -> &ServerStats {
        (**self).stats()
    }
}

/// Implements the [`Emulator`] methods every emulator answers from its `store` field.
macro_rules! delegate_to_store {
    () => {
        fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool {
            self.store.is_access_token_valid(token, now)
        }

        fn fail_next(&mut self, failure: InjectedFailure) {
            self.store.fail_next(failure);
        }

        fn revoke_all(&mut self) {
            self.store.revoke_all();
        }

        fn stats(&self) -> &ServerStats {
            &self.store.stats
        }
    };
}
pub(crate) use delegate_to_store;

/// A response from an emulator.
pub type Reply = http::Response<Vec<u8>>;

/// A failure the next authentication request meets instead of normal service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InjectedFailure {
    /// An empty response with this status and optional `Retry-After` value.
    Status {
        /// The status code.
        status: u16,
        /// The `Retry-After` header's value, if any.
        retry_after: Option<String>,
    },
    /// An RFC 6749 §5.2 error object with this status.
    OAuthError {
        /// The status code (200 emulates servers that report errors with a success status).
        status: u16,
        /// The `error` code.
        code: String,
    },
    /// Status 200 with a body that is not JSON.
    Garbage,
    /// An answer the test writes itself, for a provider misbehaving in ways no other
    /// failure covers (a 200 without `access_token`, a token type other than Bearer…).
    /// A body starting with `{` is labelled JSON.
    Answer {
        /// The status code.
        status: u16,
        /// The body.
        body: String,
    },
}

/// What the server has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Requests to the authentication endpoints, including failed ones.
    pub token_requests: u32,
    /// Successful logins.
    pub logins: u32,
    /// Successful refreshes.
    pub refreshes: u32,
    /// Presentations of an already-used refresh token.
    pub refresh_token_reuses: u32,
    /// Revocation requests that revoked something.
    pub revocations: u32,
    /// Requests refused with 429 because the rate limit was exceeded (injected failures
    /// not counted).
    pub rate_limited: u32,
    /// API calls that extended a sliding expiry.
    pub slides: u32,
    /// Device authorizations granted (RFC 8628 §3.2): device and user codes issued.
    pub device_authorizations: u32,
    /// Token requests with the device grant from an authenticated client, whatever
    /// their answer.
    pub device_polls: u32,
    /// Device polls answered `slow_down` because they came faster than the interval.
    pub slow_downs: u32,
    /// Authorization codes issued (RFC 6749 §4.1.2).
    pub authorization_codes: u32,
    /// Authorization codes exchanged for tokens.
    pub code_exchanges: u32,
    /// Presentations of an authorization code already exchanged; each revokes the
    /// tokens issued from it.
    pub code_replays: u32,
    /// Authorization server metadata documents served.
    pub metadata_requests: u32,
    /// JWT assertions (RFC 7523) accepted: the JWT bearer grant's and clients'.
    pub assertions_accepted: u32,
    /// JWT assertions refused, whatever the reason (signature, claims, replay).
    pub assertions_refused: u32,
}

/// A token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Access,
    Refresh,
    /// An OpenID Connect ID token: informational, never accepted as an access token.
    Id,
}

/// One issued token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) kind: Kind,
    /// The client (or user) it was issued to.
    pub(crate) owner: String,
    /// Tokens descending from one login share a family.
    pub(crate) family: u64,
    pub(crate) expires_at: UtcDateTime,
    pub(crate) revoked: bool,
    pub(crate) used: bool,
    pub(crate) scope: Option<String>,
}

/// Why a refresh token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefreshRefusal {
    /// Unknown, of another kind or owner, revoked or expired.
    Invalid,
    /// Already used: the whole family has been revoked.
    Reused,
}

/// At most `requests` in any window of `per`.
#[derive(Debug, Clone)]
pub(crate) struct RateLimit {
    requests: usize,
    per: Duration,
    seen: VecDeque<UtcDateTime>,
}

/// The shared state of an emulated provider.
#[derive(Debug)]
pub(crate) struct TokenStore {
    issued: HashMap<String, Issued>,
    counter: u64,
    failures: VecDeque<InjectedFailure>,
    clock_offset: Duration,
    rate_limit: Option<RateLimit>,
    pub(crate) stats: ServerStats,
}

impl TokenStore {
    /// A store; `rate_limit` is `(requests, per)`.
    pub(crate) fn new(rate_limit: Option<(u32, Duration)>) -> Self {
        TokenStore {
            issued: HashMap::new(),
            counter: 0,
            failures: VecDeque::new(),
            clock_offset: Duration::ZERO,
            rate_limit: rate_limit.map(|(requests, per)| RateLimit {
                requests: requests as usize,
                per,
                seen: VecDeque::new(),
            }),
            stats: ServerStats::default(),
        }
    }

    pub(crate) fn fail_next(&mut self, failure: InjectedFailure) {
        self.failures.push_back(failure);
    }

    pub(crate) fn set_clock_offset(&mut self, offset: Duration) {
        self.clock_offset = offset;
    }

    /// Counts an authentication request and decides whether it gets normal service: an
    /// injected failure or a 429 from the rate limit comes back instead.
    pub(crate) fn admit(&mut self, now: UtcDateTime) -> Result<(), Reply> {
        if let Some(limit) = &mut self.rate_limit {
            while limit.seen.front().is_some_and(|&at| at <= now - limit.per) {
                limit.seen.pop_front();
            }
            if limit.seen.len() >= limit.requests {
                self.stats.token_requests += 1;
                self.stats.rate_limited += 1;
                let wait = limit
                    .seen
                    .front()
                    .map_or(limit.per, |&oldest| oldest + limit.per - now);
                let seconds = wait.whole_seconds().max(1);
                let mut reply = json_error(StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
                if let Ok(value) = HeaderValue::try_from(seconds.to_string()) {
                    reply.headers_mut().insert(RETRY_AFTER, value);
                }
                return Err(reply);
            }
            limit.seen.push_back(now);
        }
        self.admit_unlimited()
    }

    /// Like [`admit`](Self::admit), for an endpoint the rate limit does not cover.
    pub(crate) fn admit_unlimited(&mut self) -> Result<(), Reply> {
        self.stats.token_requests += 1;
        match self.failures.pop_front() {
            Some(failure) => Err(injected(failure)),
            None => Ok(()),
        }
    }

    /// A new token family (one per login).
    pub(crate) fn new_family(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A fresh string that looks random but is reproducible, for codes that are not
    /// tokens (device codes, authorization codes).
    pub(crate) fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:016x}{:08x}", mix(self.counter), self.counter)
    }

    /// A fresh number that looks random but is reproducible.
    pub(crate) fn fresh_number(&mut self) -> u64 {
        self.counter += 1;
        mix(self.counter)
    }

    /// Issues a token.
    pub(crate) fn mint(
        &mut self,
        kind: Kind,
        owner: &str,
        family: u64,
        expires_at: UtcDateTime,
        scope: &Option<String>,
    ) -> String {
        self.counter += 1;
        let prefix = match kind {
            Kind::Access => "at",
            Kind::Refresh => "rt",
            Kind::Id => "id",
        };
        let token = format!("{prefix}-{:016x}{:08x}", mix(self.counter), self.counter);
        self.issued.insert(
            token.clone(),
            Issued {
                kind,
                owner: owner.to_owned(),
                family,
                expires_at,
                revoked: false,
                used: false,
                scope: scope.clone(),
            },
        );
        token
    }

    /// Checks a presented refresh token and, when `rotate`, marks it used. Reuse of a
    /// used one is a sign of theft: the whole family is revoked.
    pub(crate) fn spend_refresh_token(
        &mut self,
        token: &str,
        owner: Option<&str>,
        rotate: bool,
        now: UtcDateTime,
    ) -> Result<Issued, RefreshRefusal> {
        let issued = self
            .issued
            .get(token)
            .cloned()
            .ok_or(RefreshRefusal::Invalid)?;
        if issued.kind != Kind::Refresh || owner.is_some_and(|owner| issued.owner != owner) {
            return Err(RefreshRefusal::Invalid);
        }
        if issued.used {
            self.stats.refresh_token_reuses += 1;
            self.revoke_family(issued.family);
            return Err(RefreshRefusal::Reused);
        }
        if issued.revoked || now >= issued.expires_at {
            return Err(RefreshRefusal::Invalid);
        }
        if rotate {
            if let Some(old) = self.issued.get_mut(token) {
                old.used = true;
            }
        }
        self.stats.refreshes += 1;
        Ok(issued)
    }

    /// Revokes `token` if `owner` (when given) holds it; a refresh token takes its whole
    /// family along. Unknown tokens are ignored. Whether something was revoked.
    pub(crate) fn revoke(&mut self, token: &str, owner: Option<&str>) -> bool {
        let Some(issued) = self.issued.get_mut(token) else {
            return false;
        };
        if issued.revoked || owner.is_some_and(|owner| issued.owner != owner) {
            return false;
        }
        issued.revoked = true;
        let (kind, family) = (issued.kind, issued.family);
        if kind == Kind::Refresh {
            self.revoke_family(family);
        }
        self.stats.revocations += 1;
        true
    }

    pub(crate) fn revoke_family(&mut self, family: u64) {
        for issued in self.issued.values_mut().filter(|t| t.family == family) {
            issued.revoked = true;
        }
    }

    pub(crate) fn revoke_all(&mut self) {
        for issued in self.issued.values_mut() {
            issued.revoked = true;
        }
    }

    pub(crate) fn is_access_token_valid(&self, token: &str, now: UtcDateTime) -> bool {
        self.issued
            .get(token)
            .is_some_and(|t| t.kind == Kind::Access && !t.revoked && now < t.expires_at)
    }

    /// An RFC 6750 resource check: 200 with a live bearer token, otherwise 401 with a
    /// challenge. With `slide`, a live token's expiry moves to `now + slide`.
    pub(crate) fn resource_request(
        &mut self,
        request: &http::Request<Vec<u8>>,
        now: UtcDateTime,
        slide: Option<Duration>,
    ) -> Reply {
        let token = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                let (scheme, token) = value.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        match token {
            Some(token) if self.is_access_token_valid(token, now) => {
                if let (Some(lifetime), Some(issued)) = (slide, self.issued.get_mut(token)) {
                    issued.expires_at = issued.expires_at.max(now.saturating_add(lifetime));
                    self.stats.slides += 1;
                }
                response(StatusCode::OK, b"{}".to_vec())
            }
            Some(_) => challenge(r#"Bearer realm="emulator", error="invalid_token""#),
            None => challenge(r#"Bearer realm="emulator""#),
        }
    }

    /// The server's clock at `now`: `now` plus the clock offset.
    pub(crate) fn server_time(&self, now: UtcDateTime) -> UtcDateTime {
        now.saturating_add(self.clock_offset)
    }

    /// Adds a `Date` header showing the server's clock.
    pub(crate) fn date(&self, reply: &mut Reply, now: UtcDateTime) {
        let date = httpdate::fmt_http_date(system_time(self.server_time(now)));
        if let Ok(value) = date.parse() {
            reply.headers_mut().insert(DATE, value);
        }
    }
}

fn injected(failure: InjectedFailure) -> Reply {
    match failure {
        InjectedFailure::Status {
            status,
            retry_after,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = response(status, Vec::new());
            if let Some(value) = retry_after.and_then(|v| v.parse().ok()) {
                reply.headers_mut().insert(RETRY_AFTER, value);
            }
            reply
        }
        InjectedFailure::OAuthError { status, code } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            json_error(status, &code)
        }
        InjectedFailure::Garbage => {
            response(StatusCode::OK, b"<html>upstream error</html>".to_vec())
        }
        InjectedFailure::Answer { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            response(status, body.into_bytes())
        }
    }
}

/// A response; a body starting with `{` is labelled JSON.
pub(crate) fn response(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut reply = http::Response::new(body);
    *reply.status_mut() = status;
    if reply.body().first() == Some(&b'{') {
        reply
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    reply
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Reply {
    response(status, body.to_string().into_bytes())
}

/// An RFC 6749 §5.2 error object.
pub(crate) fn json_error(status: StatusCode, code: &str) -> Reply {
    json(status, &serde_json::json!({ "error": code }))
}

/// An RFC 6749 §5.2 error object with an `error_description`.
pub(crate) fn json_error_described(status: StatusCode, code: &str, description: &str) -> Reply {
    json(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    )
}

fn challenge(value: &'static str) -> Reply {
    let mut reply = response(StatusCode::UNAUTHORIZED, Vec::new());
    reply
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
    reply
}

/// Whether the request's media type (parameters aside) is `essence`.
pub(crate) fn has_content_type(request: &http::Request<Vec<u8>>, essence: &str) -> bool {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let given = content_type.split(';').next().unwrap_or_default().trim();
    given.eq_ignore_ascii_case(essence)
}

/// The request's JSON object body, if it has one with a JSON content type.
pub(crate) fn json_request(
    request: &http::Request<Vec<u8>>,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    if !has_content_type(request, "application/json") {
        return None;
    }
    match serde_json::from_slice(request.body()) {
        Ok(serde_json::Value::Object(map)) => Some(map),
        _ => None,
    }
}

pub(crate) fn system_time(at: UtcDateTime) -> std::time::SystemTime {
    let seconds = at.unix_timestamp();
    if seconds >= 0 {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds.unsigned_abs())
    } else {
        std::time::UNIX_EPOCH
    }
}

/// SplitMix64: token strings that look random but are reproducible.
fn mix(counter: u64) -> u64 {
    let mut z = counter.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
