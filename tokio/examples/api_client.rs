//! Keep an access token fresh and call an API with it through reqwest-middleware.
//!
//! The provider here is the emulated standard OAuth server, served over HTTP on
//! 127.0.0.1 (token endpoint `/token`, revocation `/revoke`, an API under `/api/`). To
//! use this against a real provider, drop the emulator and put in its URLs and your
//! credentials.
//!
//! Run it with `cargo run -p oauth-lifecycle-tokio --example api_client --features middleware`.

use std::error::Error;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::Policy;
use oauth_lifecycle_emulator::{Clock, Emulator, HttpFront, StandardServer, StandardServerConfig};
use oauth_lifecycle_tokio::{BearerAuth, TokenManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();

    // A stand-in provider on 127.0.0.1.
    let provider = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )?;

    // The session: who we are, and how the provider wants to be spoken to.
    let dialect = Standard::builder(provider.url("/token"), "emulated-client")
        .client_secret("emulated-secret")
        .password("alice", "alice-password")
        .revocation_url(provider.url("/revoke"))
        .build()?;
    let tokens = TokenManager::builder(dialect, Policy::default())
        .name("example")
        .revoke_on_shutdown(true)
        .start()?;

    // An API client that carries the token to the API's origin, and nowhere else.
    let auth = BearerAuth::new(tokens.clone(), &provider.base_url())?;
    let api = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(auth)
        .build();

    let me = provider.url("/api/me");
    let response = api.get(&me).send().await?;
    println!("GET /api/me -> {}", response.status());

    // The provider ends every session: the next call meets a 401, the middleware reports
    // it, the manager renews, and the call is retried once with the new token.
    provider.with_emulator(|server| server.revoke_all());
    let response = api.get(&me).send().await?;
    println!(
        "GET /api/me after the provider ended the session -> {} (token generation {:?})",
        response.status(),
        tokens.with_token(|token| token.generation().get()),
    );

    // Revoke the session at the provider and stop the background task.
    tokens.shutdown().await;
    Ok(())
}
