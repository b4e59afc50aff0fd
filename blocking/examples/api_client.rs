//! A program calling an OAuth-protected API from several threads with one
//! `TokenManager`: copy `call_api` into yours. It runs against an emulated provider on
//! 127.0.0.1, whose administrator ends every session halfway through, so you can watch
//! the 401 recovery.
//!
//! ```sh
//! cargo run -p oauth-lifecycle-blocking --example api_client
//! ```

use std::error::Error;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::resource::{classify_response, ResourceVerdict};
use oauth_lifecycle::Policy;
use oauth_lifecycle_blocking::{MemoryStore, TokenManager};
use oauth_lifecycle_emulator::{Clock, Emulator, HttpFront, StandardServer, StandardServerConfig};

/// How long a call may wait for a token before it gives up.
const TOKEN_WAIT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn Error>> {
    // Stands in for your provider.
    let provider = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )?;
    println!("emulated provider on {}", provider.base_url());

    let dialect = Standard::builder(provider.url("/token"), "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .revocation_url(provider.url("/revoke"))
        .build()?;
    // A real program keeps its session in a FileStore, to resume it after a restart.
    let tokens = TokenManager::builder(dialect, Policy::default())
        .store(Arc::new(MemoryStore::new()))
        .revoke_on_shutdown(true)
        .name("example-api")
        .start()?;
    let api: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = provider.url("/api/profile");

    thread::scope(|scope| {
        for worker in 0..4 {
            let (tokens, api, url) = (&tokens, &api, &url);
            scope.spawn(move || {
                for call in 0..5 {
                    match call_api(tokens, api, url) {
                        Ok(status) => println!("worker {worker}, call {call}: {status}"),
                        Err(error) => println!("worker {worker}, call {call}: {error}"),
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            });
        }
        // Halfway through, the provider's administrator ends every session.
        thread::sleep(Duration::from_millis(50));
        provider.with_emulator(|server| server.revoke_all());
        println!("-- the provider revoked every token --");
    });

    println!("status: {:?}", tokens.status());
    // Revokes the session (as configured) and stops the background thread.
    tokens.shutdown();
    let stats = provider.with_emulator(|server| server.stats().clone());
    println!(
        "the provider saw {} login(s), {} refresh(es), {} revocation(s)",
        stats.logins, stats.refreshes, stats.revocations
    );
    Ok(())
}

/// One API call with the current token. A 401 that rejects the token is reported with
/// the token's generation, and the call is retried once with the renewed token: however
/// many threads meet the 401, the session renews once.
fn call_api(tokens: &TokenManager, api: &ureq::Agent, url: &str) -> Result<u16, Box<dyn Error>> {
    let mut token = tokens.token(TOKEN_WAIT)?;
    for _ in 0..2 {
        let response = api
            .get(url)
            .header("authorization", token.header_value())
            .call()?;
        match classify_response(&response) {
            ResourceVerdict::TokenRejected => {
                tokens.report_unauthorized(token.generation());
                token = tokens.token_newer_than(token.generation(), TOKEN_WAIT)?;
            }
            ResourceVerdict::Accepted => {
                // Slides the expiry for providers that have one; free otherwise.
                tokens.report_call_succeeded(token.generation());
                return Ok(response.status().as_u16());
            }
            _ => return Ok(response.status().as_u16()),
        }
    }
    Err("the renewed token was rejected too".into())
}
