//! The drain loop of a sans-IO [`Driver`], for tests: take its outputs until it waits,
//! answering its requests from an in-process emulator ([`drain`]) or leaving them to the
//! test ([`collect`]). Both are bounded: a driver that never settles fails the test.

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Driver, Event, Output, TokenRequest};
use oauth_lifecycle_emulator::Emulator;

/// The most outputs one drain takes before it calls the driver unsettled. A drain that
/// answers a login, a refresh and a revocation sees fewer than twenty.
const MOST_OUTPUTS: usize = 64;

/// Everything one drain saw.
#[derive(Debug, Default)]
pub struct Drained {
    /// The kind of every output, in order: `"request"`, `"event"` or `"persist"`.
    pub outputs: Vec<&'static str>,
    /// The requests the driver emitted, in order. [`drain`] has answered them already.
    pub requests: Vec<TokenRequest>,
    /// The events, in order.
    pub events: Vec<Event>,
    /// How many persistence points the driver asked for.
    pub persists: usize,
    /// The driver's deadline when it stopped ([`Output::Timeout`]); `None` when it is
    /// idle.
    pub deadline: Option<UtcDateTime>,
}

impl Drained {
    /// The only request emitted. Panics if there was none or more than one.
    #[track_caller]
    pub fn only_request(mut self) -> TokenRequest {
        assert_eq!(
            self.requests.len(),
            1,
            "one request expected: {:?}",
            self.requests
        );
        self.requests.remove(0)
    }
}

/// Takes the driver's outputs until it waits, sending nothing: the requests are the
/// test's to answer (or not).
#[track_caller]
pub fn collect<D: Dialect>(driver: &mut Driver<D>) -> Drained {
    run(driver, |_, _| {})
}

/// Takes the driver's outputs until it waits, handing every request to `server` at
/// `now` and its answer back to the driver, whatever its status.
#[track_caller]
pub fn drain<D: Dialect, E: Emulator + ?Sized>(
    driver: &mut Driver<D>,
    server: &mut E,
    now: UtcDateTime,
) -> Drained {
    run(driver, |driver, request| {
        let answer = server.handle(request.request(), now);
        driver
            .handle_response(request.id(), &answer, now)
            .expect("the request just emitted is in flight");
    })
}

#[track_caller]
fn run<D: Dialect>(
    driver: &mut Driver<D>,
    mut send: impl FnMut(&mut Driver<D>, &TokenRequest),
) -> Drained {
    let mut drained = Drained::default();
    for _ in 0..MOST_OUTPUTS {
        match driver.poll_output() {
            Output::Request(request) => {
                drained.outputs.push("request");
                send(driver, &request);
                drained.requests.push(request);
            }
            Output::Event(event) => {
                drained.outputs.push("event");
                drained.events.push(event);
            }
            Output::Persist => {
                drained.outputs.push("persist");
                drained.persists += 1;
            }
            Output::Timeout(at) => {
                drained.deadline = Some(at);
                return drained;
            }
            Output::Idle => return drained,
        }
    }
    panic!(
        "the driver never settled: {MOST_OUTPUTS} outputs, the last ones {:?}",
        &drained.outputs[drained.outputs.len() - 8..]
    );
}

#[cfg(test)]
mod tests {
    use oauth_lifecycle::{Policy, Purpose};
    use oauth_lifecycle_emulator::{StandardServer, StandardServerConfig};
    use time::macros::utc_datetime;

    use super::*;
    use crate::fixtures::{standard, IN_PROCESS};

    const NOW: UtcDateTime = utc_datetime!(2026-01-01 00:00:00);

    #[test]
    fn a_drain_answers_the_login_and_stops_at_the_next_deadline() {
        let mut server = StandardServer::new(StandardServerConfig::default());
        let mut driver = Driver::new(standard(IN_PROCESS), Policy::default()).unwrap();
        driver.handle_timeout(NOW);
        let drained = drain(&mut driver, &mut server, NOW);
        assert_eq!(drained.requests.len(), 1);
        assert_eq!(drained.requests[0].purpose(), Purpose::Login);
        assert!(drained
            .events
            .iter()
            .any(|event| matches!(event, Event::TokenIssued { .. })));
        assert!(drained.persists >= 1);
        assert!(drained.deadline.is_some_and(|at| at > NOW));
        assert_eq!(server.stats().logins, 1);
        assert!(driver.access_token(NOW).is_some());
    }

    #[test]
    fn a_collection_sends_nothing() {
        let mut driver = Driver::new(standard(IN_PROCESS), Policy::default()).unwrap();
        driver.handle_timeout(NOW);
        let drained = collect(&mut driver);
        assert_eq!(drained.outputs.last(), Some(&"request"));
        assert_eq!(drained.only_request().purpose(), Purpose::Login);
        assert!(driver.access_token(NOW).is_none());
    }
}
