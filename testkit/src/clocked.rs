//! A sans-IO driver on a simulated clock, its token endpoint a closure that answers every
//! request at once: for tests of what happens over minutes or days of time, in
//! microseconds.

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Driver, Event, Output, Purpose, TokenRequest};

/// How many outputs one settle takes before it calls the driver unsettled.
const MOST_OUTPUTS: usize = 64;
/// How many deadlines one [`Clocked::advance`] follows before it calls the driver a hot
/// loop.
const MOST_DEADLINES: usize = 100_000;

/// What the token endpoint answers to the `n`-th request (counting from 1), sent at `now`.
pub type Answer = Box<dyn FnMut(&TokenRequest, UtcDateTime, usize) -> http::Response<Vec<u8>>>;

/// A driver, a clock the test moves, and a token endpoint that answers at once.
pub struct Clocked<D: Dialect> {
    /// The driver under test.
    pub driver: Driver<D>,
    /// The simulated time.
    pub now: UtcDateTime,
    /// Every token request sent: when, and why.
    pub sent: Vec<(UtcDateTime, Purpose)>,
    /// Every event, in order.
    pub events: Vec<Event>,
    answer: Answer,
}

impl<D: Dialect> Clocked<D> {
    /// Starts `driver` at `start`: shows it the time and answers what it sends.
    pub fn start(
        driver: Driver<D>,
        start: UtcDateTime,
        answer: impl FnMut(&TokenRequest, UtcDateTime, usize) -> http::Response<Vec<u8>> + 'static,
    ) -> Self {
        let mut clocked = Clocked {
            driver,
            now: start,
            sent: Vec::new(),
            events: Vec::new(),
            answer: Box::new(answer),
        };
        clocked.driver.handle_timeout(start);
        clocked.settle();
        clocked
    }

    /// Replaces the token endpoint's answers from now on.
    pub fn answer_with(
        &mut self,
        answer: impl FnMut(&TokenRequest, UtcDateTime, usize) -> http::Response<Vec<u8>> + 'static,
    ) {
        self.answer = Box::new(answer);
    }

    /// Takes the driver's outputs, answering every request at `now`, until it waits;
    /// returns its deadline (`None` when idle).
    #[track_caller]
    pub fn settle(&mut self) -> Option<UtcDateTime> {
        for _ in 0..MOST_OUTPUTS {
            match self.driver.poll_output() {
                Output::Request(request) => {
                    self.sent.push((self.now, request.purpose()));
                    let answer = (self.answer)(&request, self.now, self.sent.len());
                    self.driver
                        .handle_response(request.id(), &answer, self.now)
                        .expect("the request just emitted is in flight");
                }
                Output::Event(event) => self.events.push(event),
                Output::Persist => {}
                Output::Timeout(at) => return Some(at),
                Output::Idle => return None,
            }
        }
        panic!("the driver never settled");
    }

    /// Moves the clock to `to`, showing the driver every deadline on the way.
    #[track_caller]
    pub fn advance(&mut self, to: UtcDateTime) {
        for _ in 0..MOST_DEADLINES {
            match self.settle() {
                Some(at) if at <= to => {
                    self.now = at.max(self.now);
                    self.driver.handle_timeout(self.now);
                }
                _ => {
                    self.now = to.max(self.now);
                    self.driver.handle_timeout(self.now);
                    self.settle();
                    return;
                }
            }
        }
        panic!("a hot loop: {MOST_DEADLINES} deadlines before {to}");
    }

    /// A call with the current token answered 401 (RFC 6750 `invalid_token`), if a token
    /// is handed out.
    pub fn report_unauthorized(&mut self) {
        if let Some(token) = self.driver.access_token(self.now) {
            let generation = token.generation();
            let _ = self.driver.handle_unauthorized(generation, self.now);
            self.settle();
        }
    }
}

/// A token response: `access_token` `at-{n}`, valid for `expires_in` seconds.
pub fn token_answer(n: usize, expires_in: i64) -> http::Response<Vec<u8>> {
    let body =
        format!(r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":{expires_in}}}"#);
    reply(200, &body)
}

/// An answer with `status` and `body`, no headers.
pub fn reply(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .expect("a valid response")
}
