//! A whole token lifecycle against the in-process standard server, in simulated time:
//! login, a proactive refresh, a 401 from the API after the server ended every session,
//! a failed refresh with backoff, and a revoke. Prints a timeline.
//!
//! Run it with `cargo run --example lifecycle`.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::emulator::{Emulator, InjectedFailure, StandardServer, StandardServerConfig};
use oauth_lifecycle::{Driver, Event, Output, Policy};
use time::macros::utc_datetime;
use time::{Duration, UtcDateTime};

const START: UtcDateTime = utc_datetime!(2026-01-01 09:00:00);

/// What the application does, and when.
#[derive(Debug, Clone, Copy)]
enum Action {
    CallApi,
    ServerEndsAllSessions,
    ServerStartsFailing,
    Revoke,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = Duration::minutes(15);
    let mut server = StandardServer::new(config);

    let dialect = Standard::builder("http://127.0.0.1/token", "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .revocation_url("http://127.0.0.1/revoke")
        .build()?;
    let mut policy = Policy::default();
    policy.jitter_seed = 7;
    let mut driver = Driver::new(dialect, policy)?;

    let mut script = vec![
        (Duration::minutes(20), Action::CallApi),
        (Duration::minutes(21), Action::ServerEndsAllSessions),
        (Duration::minutes(22), Action::CallApi),
        (Duration::minutes(30), Action::ServerStartsFailing),
        (Duration::minutes(50), Action::CallApi),
        (Duration::minutes(55), Action::Revoke),
    ]
    .into_iter()
    .map(|(at, action)| (START + at, action))
    .collect::<std::collections::VecDeque<_>>();

    let mut now = START;
    println!(
        "{} start: a session with the password grant, no token yet",
        clock(now)
    );
    driver.handle_timeout(now);
    for _ in 0..200 {
        match driver.poll_output() {
            Output::Request(request) => {
                let http = request.request();
                println!(
                    "{} → {} {} ({}, request {})",
                    clock(now),
                    http.method(),
                    http.uri().path(),
                    request.purpose(),
                    request.id()
                );
                let response = server.handle(http, now);
                println!("{} ← {}", clock(now), response.status());
                driver.handle_response(request.id(), &response, now)?;
            }
            Output::Event(event) => println!("{}   {}", clock(now), describe(&event)),
            Output::Timeout(deadline) => {
                let deadline = deadline.max(now);
                match script.front() {
                    Some(&(at, action)) if at <= deadline => {
                        script.pop_front();
                        now = at;
                        driver.handle_timeout(now);
                        act(action, &mut driver, &mut server, now);
                    }
                    _ => {
                        now = deadline;
                        driver.handle_timeout(now);
                    }
                }
            }
            Output::Idle | _ => break,
        }
    }
    let stats = server.stats();
    println!(
        "{} done; the server saw logins: {}, refreshes: {}, revocations: {}",
        clock(now),
        stats.logins,
        stats.refreshes,
        stats.revocations
    );
    Ok(())
}

fn act(
    action: Action,
    driver: &mut Driver<Standard>,
    server: &mut StandardServer,
    now: UtcDateTime,
) {
    match action {
        Action::CallApi => {
            let Some(token) = driver.access_token(now) else {
                println!("{} app: no token to call the API with", clock(now));
                return;
            };
            let call = http::Request::builder()
                .uri("http://127.0.0.1/api/profile")
                .header("authorization", format!("Bearer {}", token.secret()))
                .body(Vec::new())
                .expect("a valid request");
            let response = server.resource_request(&call, now);
            println!(
                "{} app: GET /api/profile ← {}",
                clock(now),
                response.status()
            );
            if response.status() == http::StatusCode::UNAUTHORIZED {
                driver.handle_unauthorized(now);
            } else {
                driver.handle_call_succeeded(now);
            }
        }
        Action::ServerEndsAllSessions => {
            println!("{} server: an administrator ends every session", clock(now));
            server.revoke_all();
        }
        Action::ServerStartsFailing => {
            println!(
                "{} server: the next two token requests will fail (503, then 502)",
                clock(now)
            );
            server.fail_next(InjectedFailure::Status {
                status: 503,
                retry_after: None,
            });
            server.fail_next(InjectedFailure::Status {
                status: 502,
                retry_after: None,
            });
        }
        Action::Revoke => {
            println!("{} app: log out", clock(now));
            driver.revoke(now);
        }
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::LoggedIn { expires_at } => {
            format!("event: logged in, token valid until {}", clock(*expires_at))
        }
        Event::Renewed { via, expires_at } => format!(
            "event: renewed by {via}, token valid until {}",
            clock(*expires_at)
        ),
        Event::RenewalDue { unauthorized: true } => {
            "event: the API rejected the token; renewing now".into()
        }
        Event::RenewalDue {
            unauthorized: false,
        } => "event: refresh moment reached".into(),
        Event::Reauthenticating { cause } => {
            format!("event: the grant is dead ({cause}); logging in again")
        }
        Event::RetryScheduled { purpose, error } => format!(
            "event: {purpose} failed ({}); retrying at {}",
            error.failure().map(ToString::to_string).unwrap_or_default(),
            error.retry_at().map(clock).unwrap_or_default()
        ),
        other => format!("event: {other:?}"),
    }
}

/// Simulated time as an offset from the start.
fn clock(at: UtcDateTime) -> String {
    let elapsed = at - START;
    let seconds = elapsed.whole_seconds();
    format!(
        "[+{:02}:{:02}:{:02}.{:03}]",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        elapsed.subsec_milliseconds()
    )
}
