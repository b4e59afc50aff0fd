//! Serves every emulated provider over HTTP on 127.0.0.1, with the system clock, until
//! stdin closes (or for `--for SECONDS`): a local stand-in for the real providers, to
//! try `tokenctl` or any client against.
//!
//! ```text
//! cargo run -p oauth-lifecycle-emulator --example serve -- [--lifetime SECONDS] [--for SECONDS]
//! ```
//!
//! `--lifetime` shortens every access token's life (default: each provider's own), so
//! renewals come within seconds. Each provider's line gives its URL and the built-in
//! account (the emulators' documented test credentials).

use std::io::Read as _;
use std::time::Duration as StdDuration;

use oauth_lifecycle_emulator::{
    Clock, ConvercusLegacyServer, ConvercusLegacyServerConfig, ConvirzaV3Server,
    ConvirzaV3ServerConfig, Emulator, HttpFront, StandardServer, StandardServerConfig,
};
use time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut lifetime, mut serve_for) = (None, None);
    while let Some(arg) = args.next() {
        let value: Option<u64> = args.next().and_then(|v| v.parse().ok());
        match (arg.as_str(), value) {
            ("--lifetime", Some(seconds)) => lifetime = Some(Duration::seconds(seconds as i64)),
            ("--for", Some(seconds)) => serve_for = Some(StdDuration::from_secs(seconds)),
            _ => return Err("usage: serve [--lifetime SECONDS] [--for SECONDS]".into()),
        }
    }

    let mut standard = StandardServerConfig::default();
    let mut v2 = StandardServerConfig::convirza_v2();
    let mut keycloak = StandardServerConfig::keycloak("abc-staging");
    let mut v3 = ConvirzaV3ServerConfig::default();
    let mut legacy = ConvercusLegacyServerConfig::default();
    if let Some(lifetime) = lifetime {
        standard.access_token_lifetime = lifetime;
        v2.access_token_lifetime = lifetime;
        keycloak.access_token_lifetime = lifetime;
        v3.access_token_lifetime = lifetime;
        legacy.token_lifetime = lifetime;
    }
    let fronts = [
        ("standard", "/token, /revoke, /authorize, /device_authorization, /device, /.well-known/openid-configuration; client emulated-client / emulated-secret, public client emulated-public-client, user alice / alice-password", start(StandardServer::new(standard))?),
        ("convirza-v2", "/oauth/token; client system / convirza-v2-secret, user user@convirza.com / mySecurePassword123", start(StandardServer::new(v2))?),
        ("convirza-v3", "/oauth/token; user user@example.com / SecurePassword123!", start(ConvirzaV3Server::new(v3))?),
        ("convercus", "realm abc-staging; client machine-2-machine / convercus-secret", start(StandardServer::new(keycloak))?),
        ("convercus-legacy", "/auth/login; org ACME, user api-user / api-password", start(ConvercusLegacyServer::new(legacy))?),
    ];
    for (name, what, front) in &fronts {
        println!("{name} {} {what}", front.base_url());
    }
    println!("READY");
    match serve_for {
        Some(duration) => std::thread::sleep(duration),
        None => {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
    }
    Ok(())
}

fn start(emulator: impl Emulator + Send + 'static) -> std::io::Result<HttpFront> {
    HttpFront::start(
        Box::new(emulator) as Box<dyn Emulator + Send>,
        Clock::System,
    )
}
