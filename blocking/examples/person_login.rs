//! A person logs in through the blocking `TokenManager`: first with the device grant
//! (RFC 8628: a code to enter on another device), then in a browser (the authorization
//! code grant with PKCE, back to a loopback listener, RFC 8252). It runs against the
//! standard emulator on 127.0.0.1, over real sockets; this program plays the person too,
//! approving the code at the emulator and following the URL as a browser would.
//!
//! ```sh
//! cargo run -p oauth-lifecycle-blocking --example person_login
//! ```

use std::error::Error;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use oauth_lifecycle::dialect::authorization::IssParameter;
use oauth_lifecycle::dialect::{Grant, Standard};
use oauth_lifecycle::{LoginPrompt, Policy};
use oauth_lifecycle_blocking::{LoopbackRedirect, TokenManager};
use oauth_lifecycle_emulator::{Clock, HttpFront, StandardServer, StandardServerConfig};

/// How long the person has.
const PATIENCE: Duration = Duration::from_secs(60);

fn main() -> Result<(), Box<dyn Error>> {
    // Stands in for your provider.
    let provider = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )?;
    println!("emulated provider on {}", provider.base_url());

    // The device grant.
    let dialect = Standard::builder(provider.url("/token"), "emulated-public-client")
        .grant(Grant::DeviceCode)
        .device_authorization_url(provider.url("/device_authorization"))
        .build()?;
    let (prompts, prompted) = mpsc::channel();
    let tokens = TokenManager::builder(dialect, Policy::default())
        .on_login_prompt(move |prompt| {
            if let LoginPrompt::EnterCode(prompt) = prompt {
                println!(
                    "To log in, open {} and enter code {}",
                    prompt.verification_uri, prompt.user_code
                );
                let _ = prompts.send(prompt.user_code.clone());
            }
        })
        .start()?;
    let provider = &provider;
    let token = thread::scope(|scope| {
        scope.spawn(move || {
            // On another device, the person enters the code and approves.
            let code = prompted.recv_timeout(PATIENCE).expect("a code to enter");
            provider.with_emulator(|server| server.approve_user_code(&code));
            println!("(the person approves {code})");
        });
        tokens.login_with_device(PATIENCE)
    })?;
    println!(
        "logged in: {}, valid until {}",
        token.generation(),
        token.valid_until()
    );
    tokens.shutdown();

    // The authorization code grant, in a browser.
    let dialect = Standard::builder(provider.url("/token"), "emulated-public-client")
        .grant(Grant::AuthorizationCode)
        .authorization_url(provider.url("/authorize"))
        .issuer(provider.base_url(), IssParameter::Required)
        .build()?;
    let (urls, opened) = mpsc::channel();
    let tokens = TokenManager::builder(dialect, Policy::default())
        .on_login_prompt(move |prompt| {
            if let LoginPrompt::OpenBrowser(prompt) = prompt {
                // A real program opens it in the person's browser.
                println!("Open in your browser: {}?…", prompt.url().path());
                let _ = urls.send(prompt.url().to_string());
            }
        })
        .start()?;
    let browser = thread::spawn(move || {
        let url = opened.recv_timeout(PATIENCE).expect("a URL to open");
        // The provider logs the person in and redirects the browser to the listener.
        let location = get(&url, "Location").expect("a redirect to the app");
        println!(
            "(the browser is sent back to {})",
            location.split('?').next().unwrap_or("")
        );
        get(&location, "");
    });
    let token = tokens.login_in_browser(&LoopbackRedirect::default(), PATIENCE)?;
    browser.join().expect("the browser");
    println!(
        "logged in: {}, valid until {}",
        token.generation(),
        token.valid_until()
    );
    tokens.shutdown();
    Ok(())
}

/// GETs `url` (on 127.0.0.1) as a browser, following nothing; the value of `header` in
/// the answer, if asked for and present.
fn get(url: &str, header: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (authority, target) = rest.split_at(rest.find('/')?);
    let mut stream = TcpStream::connect(authority).ok()?;
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let prefix = format!("{}: ", header.to_ascii_lowercase());
    answer
        .lines()
        .find(|line| !header.is_empty() && line.to_ascii_lowercase().starts_with(&prefix))
        .map(|line| line[prefix.len()..].trim().to_owned())
}
