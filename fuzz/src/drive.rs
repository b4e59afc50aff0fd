//! Drives a session through a script of inputs the way an adapter would (the drain loop),
//! checking the crate's promises after every step:
//!
//! - every drain ends: `poll_output` runs dry, and a deadline at or before `now` is
//!   cleared by `handle_timeout(now)` within a few rounds (no hot loop);
//! - request ids are never reused;
//! - a token handed out is valid now (`valid_until > now`);
//! - no configured credential and no minted token shows in the `Debug` or `Display` of any
//!   output, status, error or redacted snapshot;
//! - every snapshot the session asks to persist restores;
//! - a refresh token reported spent elsewhere is never presented again by a login or a
//!   refresh (until the session holds a newer token).

use arbitrary::Arbitrary;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    AnySession, Dialect, Driver, Event, Generation, Output, Policy, Purpose, RequestId,
    TransportError,
};

use crate::{assert_no_secret, moment, Answer, Server};

/// Rounds of drain-then-timeout a settle may take before it counts as a hot loop.
const SETTLE_ROUNDS: usize = 16;

/// Where a browser login's redirect comes back to.
const REDIRECT_URI: &str = "http://127.0.0.1:49152/callback";
/// Outputs one drain may produce before it counts as one that never runs dry.
const DRAIN_OUTPUTS: usize = 256;

/// One input to the session.
#[derive(Arbitrary, Debug, Clone)]
pub enum Step {
    /// Time passes: this many seconds.
    Advance(u16),
    /// The clock jumps, backwards too: this many seconds.
    Jump(i32),
    /// The server answers the request in flight.
    Answer(Answer),
    /// The request in flight fails in transport; `sent` says whether it left.
    TransportError {
        /// Whether the request may have reached the server.
        sent: bool,
    },
    /// An answer for a request the session no longer waits for (ids are opaque, so only
    /// ids it issued can be named): which of them.
    WrongId(u64),
    /// A resource server rejected the current token, or (`stale`) the one before it.
    Unauthorized {
        /// Whether the report is about an older generation.
        stale: bool,
    },
    /// A resource server accepted the current token.
    CallSucceeded,
    /// The caller revokes the session.
    Revoke,
    /// The caller asks for a login.
    Login,
    /// The refresh token may have been spent by another process: never present it.
    RefreshTokenSpentElsewhere,
    /// The caller starts a device login (RFC 8628).
    AuthorizeDevice,
    /// The caller starts a browser login, with entropy made of this byte.
    Authorize(u8),
    /// A redirect comes back: with the request's `state` (`own_state`) and the fuzzer's
    /// query, or the fuzzer's text whole.
    Redirect {
        /// Whether the query carries the `state` of the login under way.
        own_state: bool,
        /// The rest of the query, or the whole target.
        text: String,
    },
    /// The caller abandons a person's login.
    CancelLogin,
}

/// A session being driven, with what the checks need to know.
pub struct Run<D: Dialect> {
    driver: Driver<D>,
    make_dialect: Box<dyn Fn() -> D>,
    now: UtcDateTime,
    server: Server,
    in_flight: Option<RequestId>,
    highest_id: Option<u64>,
    /// Every request id the session issued, oldest first.
    sent: Vec<RequestId>,
    /// The dialect's credentials and every minted token the session has held: the
    /// secrets it must never show.
    held: Vec<String>,
    /// Every snapshot the session asked to persist, as JSON, when kept.
    snapshots: Option<Vec<Vec<u8>>>,
    /// Refresh tokens the fuzzed server minted that were reported spent elsewhere, with
    /// the generation of the token set that held them.
    spent: Vec<(String, Generation)>,
    /// The `state` of the browser login under way, if one was started.
    state: Option<String>,
    /// Every assertion a request carried: none may be carried twice.
    assertions: std::collections::HashSet<String>,
}

impl<D: Dialect> Run<D> {
    /// Every assertion a request carries is new: never one an earlier request carried,
    /// a retry's included; and a request that carries one is never resend-safe.
    fn check_assertions_fresh(&mut self, request: &oauth_lifecycle::TokenRequest) {
        for (name, value) in form_urlencoded_pairs(request.request().body()) {
            if name == "client_assertion" || name == "assertion" {
                assert!(!request.is_resend_safe(), "an assertion may be resent");
                assert!(
                    self.assertions.insert(value),
                    "an assertion was carried twice"
                );
            }
        }
    }

    /// A fresh session of the dialect `make_dialect` builds, at `now`.
    pub fn new(make_dialect: impl Fn() -> D + 'static, policy: Policy, now: UtcDateTime) -> Self {
        let driver = Driver::new(make_dialect(), policy).expect("a valid policy");
        Self::with_driver(driver, make_dialect, now)
    }

    /// Drives an existing session (for example a restored one).
    pub fn with_driver(
        driver: Driver<D>,
        make_dialect: impl Fn() -> D + 'static,
        now: UtcDateTime,
    ) -> Self {
        let mut run = Run {
            in_flight: driver.in_flight().map(|(id, _)| id),
            highest_id: driver.in_flight().map(|(id, _)| id.get()),
            sent: driver.in_flight().map(|(id, _)| id).into_iter().collect(),
            driver,
            make_dialect: Box::new(make_dialect),
            now,
            server: Server::default(),
            snapshots: None,
            held: Vec::new(),
            spent: Vec::new(),
            state: None,
            assertions: std::collections::HashSet::new(),
        };
        // The credentials this dialect holds (a client-credentials dialect holds no
        // password: a server echoing one is echoing nothing secret of this session).
        let credentials = run.driver.session().dialect().secrets();
        run.held.extend(credentials.iter().map(str::to_owned));
        run.held.push(crate::ASSERTION_SIGNATURE.to_owned());
        run.settle();
        run
    }

    /// Keeps every snapshot the session asks to persist from now on (for seed corpora).
    pub fn keep_snapshots(&mut self) {
        self.snapshots.get_or_insert_with(Vec::new);
    }

    /// The snapshots kept since [`Run::keep_snapshots`], as JSON, oldest first.
    pub fn snapshots(&self) -> &[Vec<u8>] {
        self.snapshots.as_deref().unwrap_or_default()
    }

    /// Applies `step`, settles the session and checks every promise.
    pub fn step(&mut self, step: &Step) {
        let now = self.now;
        match step {
            Step::Advance(seconds) => self.now = moment(now, i64::from(*seconds)),
            Step::Jump(seconds) => self.now = moment(now, i64::from(*seconds)),
            Step::Answer(answer) => {
                if let Some(id) = self.in_flight.take() {
                    let waiting = self.is_waiting_for(id);
                    let response = self.server.respond(answer, now);
                    let handled = self.driver.handle_response(id, &response, now);
                    self.check_handled(waiting, handled);
                }
            }
            Step::TransportError { sent } => {
                if let Some(id) = self.in_flight.take() {
                    let error = if *sent {
                        TransportError::OutcomeUnknown
                    } else {
                        TransportError::NotSent
                    };
                    let waiting = self.is_waiting_for(id);
                    let handled = self.driver.handle_transport_error(id, error, now);
                    self.check_handled(waiting, handled);
                }
            }
            Step::WrongId(pick) => {
                let past = self
                    .sent
                    .iter()
                    .copied()
                    .filter(|id| Some(*id) != self.in_flight);
                let count = past.clone().count();
                if let Some(id) = past.clone().nth((*pick % count.max(1) as u64) as usize) {
                    let misuse = self
                        .driver
                        .handle_response(id, &http_ok(), now)
                        .expect_err("an answer for a request that is not in flight is refused");
                    assert_no_secret(&format!("{misuse:?} {misuse}"), &self.held);
                }
            }
            Step::Unauthorized { stale } => {
                let generation = self.driver.session().generation();
                let generation = if *stale {
                    oauth_lifecycle::Generation::new(generation.get().saturating_sub(1))
                } else {
                    generation
                };
                let _ = self.driver.handle_unauthorized(generation, now);
            }
            Step::CallSucceeded => {
                let generation = self.driver.session().generation();
                self.driver.handle_call_succeeded(generation, now);
            }
            Step::Revoke => self.driver.revoke(now),
            Step::Login => {
                if let Err(misuse) = self.driver.login(now) {
                    assert_no_secret(&format!("{misuse:?} {misuse}"), &self.held);
                }
            }
            Step::RefreshTokenSpentElsewhere => {
                let held = self.driver.session().tokens().and_then(|tokens| {
                    let token = tokens.refresh_token()?.secret();
                    let minted = self.server.minted().iter().any(|minted| minted == token);
                    minted.then(|| (token.clone(), tokens.generation()))
                });
                self.spent.extend(held);
                self.driver.handle_refresh_token_spent_elsewhere(now);
                if let Some(tokens) = self.driver.session().tokens() {
                    assert!(
                        tokens.refresh_token().is_none(),
                        "a refresh token spent elsewhere is still held"
                    );
                }
            }
            Step::AuthorizeDevice => {
                if let Err(misuse) = self.driver.authorize_device(now) {
                    assert_no_secret(&format!("{misuse:?} {misuse}"), &self.held);
                }
            }
            Step::Authorize(seed) => {
                let built = self
                    .driver
                    .session()
                    .dialect()
                    .authorization_request(REDIRECT_URI)
                    .map(|builder| {
                        builder.build(&mut std::array::from_fn(|i| {
                            (i as u8).wrapping_mul(151) ^ seed
                        }))
                    });
                if let Some(Ok(request)) = built {
                    let state = request.state().to_owned();
                    if self.driver.authorize(request, now).is_ok() {
                        self.held.push(state.clone());
                        self.state = Some(state);
                    }
                }
            }
            Step::Redirect { own_state, text } => {
                let target = match (&self.state, own_state) {
                    (Some(state), true) => format!("/callback?state={state}&{text}"),
                    _ => text.clone(),
                };
                if let Err(refused) = self.driver.handle_redirect(&target, now) {
                    assert_no_secret(&format!("{refused:?} {refused}"), &self.held);
                }
            }
            Step::CancelLogin => {
                if let Err(misuse) = self.driver.cancel_login(now) {
                    assert_no_secret(&format!("{misuse:?} {misuse}"), &self.held);
                }
            }
        }
        self.settle();
    }

    /// Whether the session still waits for `id`: it stops waiting when the request's
    /// deadline passes or a revoke overtakes it, and the adapter may learn that late.
    fn is_waiting_for(&self, id: RequestId) -> bool {
        self.driver
            .in_flight()
            .is_some_and(|(waiting, _)| waiting == id)
    }

    /// The answer for a request the session waits for is taken; a late one is refused
    /// with a typed error that shows no secret.
    fn check_handled(&self, waiting: bool, handled: Result<(), oauth_lifecycle::Misuse>) {
        match handled {
            Ok(()) => assert!(
                waiting,
                "an answer for a request no longer awaited was taken"
            ),
            Err(misuse) => {
                assert!(
                    !waiting,
                    "the answer for the request in flight was refused: {misuse}"
                );
                assert_no_secret(&format!("{misuse:?} {misuse}"), &self.held);
            }
        }
    }

    /// The drain loop, with the hot-loop check.
    fn settle(&mut self) {
        for _ in 0..SETTLE_ROUNDS {
            self.drain();
            self.check();
            match self.driver.next_deadline() {
                Some(deadline) if deadline <= self.now => self.driver.handle_timeout(self.now),
                _ => return,
            }
        }
        panic!(
            "the session keeps asking for a timeout at or before {}: a hot loop",
            self.now
        );
    }

    /// Learns the tokens the session holds now: from here on they must never show.
    fn learn_held(&mut self) {
        if let Some(tokens) = self.driver.session().tokens() {
            let access = tokens.access_token();
            let refresh = tokens.refresh_token().map(|token| token.secret().as_str());
            // Only tokens the fuzzed server minted: an arbitrary text the fuzzer made a
            // token of ("Bearer", "]") shows up in `Debug` output by coincidence.
            for secret in std::iter::once(access).chain(refresh) {
                let minted = self.server.minted().iter().any(|minted| minted == secret);
                if minted && !self.held.iter().any(|held| held == secret) {
                    self.held.push(secret.to_owned());
                }
            }
        }
    }

    fn drain(&mut self) {
        for _ in 0..DRAIN_OUTPUTS {
            self.learn_held();
            let output = self.driver.poll_output();
            assert_no_secret(&format!("{output:?}"), &self.held);
            match output {
                Output::Request(request) => {
                    self.check_not_spent(&request);
                    self.check_assertions_fresh(&request);
                    let id = request.id().get();
                    assert!(
                        self.highest_id.is_none_or(|highest| id > highest),
                        "request id {id} reused"
                    );
                    self.highest_id = Some(id);
                    self.in_flight = Some(request.id());
                    self.sent.push(request.id());
                }
                Output::Event(event) => self.check_event(&event),
                Output::Persist => self.check_snapshot(),
                Output::Timeout(_) | Output::Idle => return,
            }
        }
        panic!("poll_output never ran dry");
    }

    /// A login or refresh never presents a refresh token reported spent elsewhere while
    /// the token set that held it is still the newest (a server may hand the same text
    /// out again later).
    fn check_not_spent(&mut self, request: &oauth_lifecycle::TokenRequest) {
        let generation = self.driver.session().generation();
        self.spent.retain(|(_, held_by)| *held_by >= generation);
        if !matches!(request.purpose(), Purpose::Login | Purpose::Refresh) {
            return;
        }
        let http = request.request();
        let body = String::from_utf8_lossy(http.body());
        let headers: Vec<&[u8]> = http.headers().values().map(|v| v.as_bytes()).collect();
        for (token, _) in &self.spent {
            assert!(
                !body.contains(token.as_str())
                    && !headers
                        .iter()
                        .any(|value| String::from_utf8_lossy(value).contains(token.as_str())),
                "a refresh token spent elsewhere was presented again"
            );
        }
    }

    fn check_event(&self, event: &Event) {
        let error = match event {
            Event::ReauthenticationRequired { error, .. }
            | Event::Rejected { error, .. }
            | Event::RetryScheduled { error, .. }
            | Event::PersonLoginEnded { error }
            | Event::RevocationFailed { error, .. } => Some(error),
            _ => None,
        };
        if let Some(error) = error {
            assert_no_secret(&error.to_string(), &self.held);
        }
    }

    fn check_snapshot(&mut self) {
        let session = self.driver.session();
        let redacted = serde_json::to_string(&session.snapshot_redacted())
            .expect("a redacted snapshot serializes");
        assert_no_secret(&redacted, &self.held);
        let json =
            serde_json::to_vec(&session.snapshot_with_secrets()).expect("a snapshot serializes");
        let snapshot = serde_json::from_slice(&json).expect("a snapshot deserializes");
        let restored = AnySession::restore(
            (self.make_dialect)(),
            self.driver.policy().clone(),
            snapshot,
        )
        .expect("a snapshot the session made restores");
        assert_eq!(restored.generation(), session.generation());
        assert_eq!(restored.state_name(), session.state_name());
        if let Some(snapshots) = &mut self.snapshots {
            snapshots.push(json);
        }
    }

    fn check(&self) {
        if let Some(token) = self.driver.access_token(self.now) {
            assert!(
                token.valid_until() > self.now,
                "a token handed out at {} is valid only until {}",
                self.now,
                token.valid_until()
            );
        }
        let status = self.driver.status();
        assert_no_secret(&format!("{status:?}"), &self.held);
        assert_no_secret(&format!("{:?}", self.driver.session()), &self.held);
    }
}

fn http_ok() -> oauth_lifecycle::http::Response<Vec<u8>> {
    oauth_lifecycle::http::Response::new(Vec::new())
}

/// The name and value pairs of a form body, percent-decoding `+` and `%XX` (enough for
/// the assertions, whose characters need no encoding).
fn form_urlencoded_pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    body.split(|&b| b == b'&').filter_map(|pair| {
        let text = std::str::from_utf8(pair).ok()?;
        let (name, value) = text.split_once('=')?;
        Some((name.to_owned(), value.to_owned()))
    })
}
