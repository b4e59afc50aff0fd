//! A driver wired to an emulated provider in simulated time: requests are answered as soon
//! as they are emitted, deadlines are jumped to.

use oauth_lifecycle::dialect::Dialect;
use oauth_lifecycle::{Driver, Event, Output, Policy, Purpose, TokenRequest, TransportError};
use oauth_lifecycle_emulator::Emulator;
use time::{Duration, UtcDateTime};

/// How the next emitted request fares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Answered normally.
    Answered,
    /// Reaches the server, but the response is lost.
    ResponseLost,
    /// Never reaches the server.
    Dropped,
}

pub struct Harness<D: Dialect, E: Emulator> {
    pub driver: Driver<D>,
    pub server: E,
    pub now: UtcDateTime,
    pub events: Vec<Event>,
    pub requests: Vec<(UtcDateTime, Purpose)>,
    pub next_fate: Fate,
    /// How many persistence points the driver asked for.
    pub persisted: usize,
}

impl<D: Dialect, E: Emulator> Harness<D, E> {
    pub fn new(dialect: D, server: E, now: UtcDateTime) -> Self {
        let mut policy = Policy::default();
        policy.jitter_seed = 7;
        Self::with_policy(dialect, server, now, policy)
    }

    pub fn with_policy(dialect: D, server: E, now: UtcDateTime, policy: Policy) -> Self {
        let mut harness = Harness {
            driver: Driver::new(dialect, policy).unwrap(),
            server,
            now,
            events: Vec::new(),
            requests: Vec::new(),
            next_fate: Fate::Answered,
            persisted: 0,
        };
        harness.driver.handle_timeout(now);
        harness.drain();
        harness
    }

    fn send(&mut self, request: TokenRequest) {
        self.requests.push((self.now, request.purpose()));
        let fate = std::mem::replace(&mut self.next_fate, Fate::Answered);
        match fate {
            Fate::Answered => {
                let response = self.server.handle(request.request(), self.now);
                self.driver
                    .handle_response(request.id(), &response, self.now)
                    .unwrap();
            }
            Fate::ResponseLost => {
                let _ = self.server.handle(request.request(), self.now);
                self.driver
                    .handle_transport_error(request.id(), TransportError::OutcomeUnknown, self.now)
                    .unwrap();
            }
            Fate::Dropped => self
                .driver
                .handle_transport_error(request.id(), TransportError::NotSent, self.now)
                .unwrap(),
        }
    }

    /// Handles outputs until the driver waits; returns its deadline, if any.
    pub fn drain(&mut self) -> Option<UtcDateTime> {
        for _ in 0..64 {
            match self.driver.poll_output() {
                Output::Request(request) => self.send(request),
                Output::Event(event) => self.events.push(event),
                Output::Persist => self.persisted += 1,
                Output::Timeout(deadline) => return Some(deadline),
                Output::Idle => return None,
            }
        }
        panic!("the driver never settled");
    }

    /// Lets simulated time run to `until`, jumping from deadline to deadline.
    pub fn run_until(&mut self, until: UtcDateTime) {
        for _ in 0..10_000 {
            let deadline = self.drain();
            let next = match deadline {
                Some(deadline) if deadline <= until => deadline.max(self.now),
                _ => until,
            };
            // A deadline already passed is retried a second later, never in a busy loop.
            self.now = if next <= self.now && next < until {
                self.now + Duration::SECOND
            } else {
                next
            };
            self.driver.handle_timeout(self.now);
            if self.now >= until {
                self.drain();
                return;
            }
        }
        panic!("time never reached {until}");
    }

    /// Makes an API call with the current token, as an application would, and reports
    /// the outcome. The status, or `None` when there was no token to call with.
    pub fn call_api(&mut self) -> Option<u16> {
        let current = self.driver.access_token(self.now)?;
        let (token, generation) = (current.secret().to_owned(), current.generation());
        let request = http::Request::builder()
            .uri("https://api.example/v3/auth/profile")
            .header("authorization", format!("Bearer {token}"))
            .body(Vec::new())
            .unwrap();
        let status = self.server.resource_request(&request, self.now).status();
        if status == 401 {
            let _ = self.driver.handle_unauthorized(generation, self.now);
        } else if status.is_success() {
            self.driver.handle_call_succeeded(generation, self.now);
        }
        self.drain();
        Some(status.as_u16())
    }

    /// Requests emitted for `purpose`.
    pub fn count(&self, purpose: Purpose) -> usize {
        self.requests.iter().filter(|(_, p)| *p == purpose).count()
    }

    /// The most token-endpoint requests (logins and refreshes) in any window of `window`.
    pub fn busiest(&self, window: Duration) -> usize {
        let times: Vec<_> = self
            .requests
            .iter()
            .filter(|(_, p)| matches!(p, Purpose::Login | Purpose::Refresh))
            .map(|(at, _)| *at)
            .collect();
        times
            .iter()
            .map(|start| {
                times
                    .iter()
                    .filter(|t| **t >= *start && **t < *start + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}
