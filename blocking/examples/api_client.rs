//! A program calling an OAuth-protected API from several threads with one
//! `TokenManager` and the agent `BearerAuth` builds over it, which attaches the token,
//! reports what the API answered and retries a rejected call once with the renewed
//! token. It runs against an emulated provider on 127.0.0.1, whose administrator ends
//! every session halfway through, so you can watch the 401 recovery.
//!
//! ```sh
//! cargo run -p oauth-lifecycle-blocking --example api_client
//! ```

use std::error::Error;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::Policy;
use oauth_lifecycle_blocking::{BearerAuth, MemoryStore, TokenManager};
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
    // The token goes to the API's origin only. Keep the Arc while sending: the retry
    // runs through it.
    let api = BearerAuth::new(tokens.clone(), &provider.base_url())?
        .wait(TOKEN_WAIT)
        .agent(|config| {
            config
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(10)))
        });
    let url = provider.url("/api/profile");

    thread::scope(|scope| {
        for worker in 0..4 {
            let (api, url) = (&api, &url);
            scope.spawn(move || {
                for call in 0..5 {
                    match api.get(url).call() {
                        Ok(response) => {
                            println!("worker {worker}, call {call}: {}", response.status())
                        }
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
