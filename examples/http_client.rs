//! The drain loop with a real HTTP client (ureq) against a real socket: a provider
//! emulator served on 127.0.0.1. The server's clock is driven by the example, so an hour
//! of token life passes in a moment: where a program would sleep until the deadline,
//! this one moves both clocks there.
//!
//! ```sh
//! cargo run --example http_client
//! ```
//!
//! It shows everything a transport owes the session: a timeout no later than the
//! request's deadline, a body read no further than the policy's cap, every response
//! handed back whatever its status, and transport errors that say whether the request
//! left. The token goes on API calls as the ready-made `Authorization` header value, and
//! a 401 is reported with the generation of the token that met it.

use std::io::Read;
use std::time::Duration as StdDuration;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::resource::{classify_response, ResourceVerdict};
use oauth_lifecycle::{Driver, Event, Output, Policy, TokenRequest, TransportError};
use oauth_lifecycle_emulator::{DrivenClock, HttpFront, StandardServer, StandardServerConfig};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clock = DrivenClock::new(utc_datetime!(2026-01-01 09:00:00));
    let server = StandardServer::new(StandardServerConfig::default());
    let front = HttpFront::start(server, clock.clone())?;
    println!("emulated OAuth server on {}", front.base_url());

    let dialect = Standard::builder(front.url("/token"), "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .revocation_url(front.url("/revoke"))
        .build()?;
    let mut driver = Driver::new(dialect, Policy::default())?;
    // Every HTTP status is an answer for the session: never an error of the client.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();

    let mut renewals = 0;
    driver.handle_timeout(clock.now());
    for _ in 0..100 {
        match driver.poll_output() {
            Output::Request(request) => {
                println!("→ {} {}", request.purpose(), request.request().uri());
                let cap = driver.policy().max_body_bytes;
                match send(&agent, &request, clock.now(), cap) {
                    Ok(response) => {
                        println!("← {}", response.status());
                        driver.handle_response(request.id(), &response, clock.now())?;
                    }
                    Err(error) => {
                        println!("← no answer: {error}");
                        driver.handle_transport_error(request.id(), error, clock.now())?;
                    }
                }
            }
            Output::Event(Event::TokenIssued {
                generation,
                valid_until,
                renewal,
                ..
            }) => {
                println!("  {generation}, handed out until {valid_until}");
                renewals += usize::from(renewal);
            }
            Output::Event(event) => println!("  {event:?}"),
            Output::Persist => {
                // A real program writes this to its store before going on.
                let snapshot = driver.session().snapshot_with_secrets();
                let state = snapshot.state_name();
                println!("  persist ({state}, {})", snapshot.generation());
            }
            Output::Timeout(deadline) => {
                if renewals == 2 {
                    break;
                }
                call_api(&agent, &front.url("/api/profile"), &mut driver, clock.now())?;
                // Sleep until the deadline: here, move the server's clock and ours there.
                let now = clock.now();
                clock.set(deadline.max(now + Duration::SECOND));
                driver.handle_timeout(clock.now());
            }
            Output::Idle => break,
        }
    }

    // The resource server ends every session: the next call meets a 401.
    front.with_emulator(oauth_lifecycle_emulator::Emulator::revoke_all);
    call_api(&agent, &front.url("/api/profile"), &mut driver, clock.now())?;
    driver.revoke(clock.now());
    for _ in 0..20 {
        match driver.poll_output() {
            Output::Request(request) => {
                println!("→ {} {}", request.purpose(), request.request().uri());
                let cap = driver.policy().max_body_bytes;
                match send(&agent, &request, clock.now(), cap) {
                    Ok(response) => driver.handle_response(request.id(), &response, clock.now())?,
                    Err(error) => {
                        driver.handle_transport_error(request.id(), error, clock.now())?
                    }
                }
            }
            Output::Event(event) => println!("  {event:?}"),
            Output::Persist => {}
            Output::Timeout(_) | Output::Idle => break,
        }
    }
    println!("status: {:?}", driver.status());
    Ok(())
}

/// Calls the API with the current token, and tells the session what the answer means.
fn call_api<D: oauth_lifecycle::Dialect>(
    agent: &ureq::Agent,
    url: &str,
    driver: &mut Driver<D>,
    now: UtcDateTime,
) -> Result<(), Box<dyn std::error::Error>> {
    let Some(token) = driver.access_token(now) else {
        return Ok(());
    };
    let generation = token.generation();
    let call = http::Request::get(url)
        .header(http::header::AUTHORIZATION, token.header_value().clone())
        .body(())?;
    let response = agent.run(call)?;
    println!("  API call with {generation}: {}", response.status());
    match classify_response(&response) {
        ResourceVerdict::TokenRejected => {
            let answer = driver.handle_unauthorized(generation, now);
            println!("  reported the 401: {answer:?}");
        }
        ResourceVerdict::Accepted => driver.handle_call_succeeded(generation, now),
        _ => {}
    }
    Ok(())
}

/// Sends one token request with ureq: the timeout from the request's deadline, the body
/// read up to one byte past the cap (the session refuses anything longer), and each
/// failure sorted by whether the request may have reached the server.
fn send(
    agent: &ureq::Agent,
    request: &TokenRequest,
    now: UtcDateTime,
    max_body_bytes: usize,
) -> Result<http::Response<Vec<u8>>, TransportError> {
    let timeout = StdDuration::try_from(request.deadline() - now).unwrap_or(StdDuration::ZERO);
    let http = request.request().clone();
    let outgoing = agent
        .configure_request(http)
        .timeout_global(Some(timeout))
        .build();
    let response = agent.run(outgoing).map_err(|error| match error {
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => TransportError::NotSent,
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportError::NotSent
        }
        ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
            TransportError::NotSent
        }
        _ => TransportError::OutcomeUnknown,
    })?;
    let (parts, body) = response.into_parts();
    let mut bytes = Vec::new();
    body.into_reader()
        .take(max_body_bytes as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| TransportError::OutcomeUnknown)?;
    Ok(http::Response::from_parts(parts, bytes))
}
