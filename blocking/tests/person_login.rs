//! A person's login through the blocking manager, over real sockets on 127.0.0.1: the
//! standard emulator's HTTP front in simulated time, the manager's loopback listener,
//! and the test as the person (approving a device code) and as the browser (a plain
//! `TcpStream` that GETs the authorization URL, takes the `Location`, and GETs it from
//! the listener).

mod support;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use oauth_lifecycle::dialect::authorization::{
    AuthorizationErrorCode, IssParameter, RedirectError,
};
use oauth_lifecycle::dialect::{Grant, Standard};
use oauth_lifecycle::{DevicePrompt, Error, LoginPrompt, PersonLoginEnd, Policy, Status};
use oauth_lifecycle_blocking::{LoopbackRedirect, PersonLoginError, PublishedToken, TokenManager};
use oauth_lifecycle_emulator::{
    AuthorizationDecision, DrivenClock, Emulator, HttpFront, ServerStats, StandardServer,
    StandardServerConfig,
};
use oauth_lifecycle_testkit::TraceBuffer;
use support::{call_api, eventually, lock, shared, PATIENCE, START};

const PUBLIC: &str = "emulated-public-client";

/// The standard emulator, recording every secret it hands out.
type Recorder = oauth_lifecycle_testkit::recorder::Recorder<StandardServer>;

/// The emulator on 127.0.0.1 in simulated time, and the prompts a manager showed.
struct World {
    clock: DrivenClock,
    front: HttpFront<Recorder>,
    prompts: Arc<Mutex<Vec<LoginPrompt>>>,
}

impl World {
    fn new() -> Self {
        let clock = DrivenClock::new(START);
        let recorder = Recorder::new(StandardServer::new(StandardServerConfig::default()));
        let front = HttpFront::start(recorder, clock.clone()).expect("a front");
        World {
            clock,
            front,
            prompts: shared(Vec::new()),
        }
    }

    fn device_dialect(&self) -> Standard {
        Standard::builder(self.front.url("/token"), PUBLIC)
            .grant(Grant::DeviceCode)
            .device_authorization_url(self.front.url("/device_authorization"))
            .scope("api")
            .build()
            .expect("a device dialect")
    }

    fn browser_dialect(&self) -> Standard {
        Standard::builder(self.front.url("/token"), PUBLIC)
            .grant(Grant::AuthorizationCode)
            .authorization_url(self.front.url("/authorize"))
            .issuer(self.front.base_url(), IssParameter::IfPresent)
            .scope("api")
            .build()
            .expect("a browser dialect")
    }

    /// A manager on the simulated clock whose prompts land in `self.prompts`.
    fn manager(&self, dialect: Standard) -> TokenManager {
        let clock = self.clock.clone();
        let prompts = Arc::clone(&self.prompts);
        TokenManager::builder(dialect, policy())
            .clock(move || clock.now())
            .on_login_prompt(move |prompt| lock(&prompts).push(prompt.clone()))
            .start()
            .expect("a manager")
    }

    fn stats(&self) -> ServerStats {
        self.front
            .with_emulator(|recorder| recorder.server.stats().clone())
    }

    fn secrets(&self) -> Vec<String> {
        self.front
            .with_emulator(|recorder| recorder.secrets.clone())
    }

    /// The device prompt the callback was shown.
    fn device_prompt(&self) -> DevicePrompt {
        eventually("the device prompt", || {
            lock(&self.prompts).iter().find_map(|prompt| match prompt {
                LoginPrompt::EnterCode(prompt) => Some(prompt.clone()),
                _ => None,
            })
        })
    }

    /// The authorization URL the callback was shown.
    fn browser_url(&self) -> String {
        eventually("the browser prompt", || {
            lock(&self.prompts).iter().find_map(|prompt| match prompt {
                LoginPrompt::OpenBrowser(prompt) => Some(prompt.url().to_string()),
                _ => None,
            })
        })
    }

    /// Moves simulated time on, a second at a time, until `login` has returned: the
    /// session polls on its own deadlines.
    fn until_done<T>(&self, login: JoinHandle<T>) -> T {
        eventually("the login to return", || {
            self.clock.advance(time::Duration::SECOND);
            login.is_finished()
        });
        login.join().expect("the login's thread")
    }
}

/// A GET of `url` (on 127.0.0.1 only) as a browser that follows no redirect: the status
/// and the `Location`, if any.
fn browse(url: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("a plain http URL");
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port: u16 = authority
        .strip_prefix("127.0.0.1:")
        .expect("a loopback URL")
        .parse()
        .expect("a port");
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: text/html\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).expect("read the answer");
    let answer = String::from_utf8_lossy(&answer);
    let (head, _) = answer.split_once("\r\n\r\n").expect("a whole head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("a status line");
    let location = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location")
            .then(|| value.trim().to_owned())
    });
    (status, location)
}

/// Acts as the browser: opens the authorization URL at the emulator, and brings the
/// redirect it answers with to the listener. The listener's status.
fn bring_redirect(world: &World) -> u16 {
    let (status, location) = browse(&world.browser_url());
    assert_eq!(status, 302, "the authorization endpoint redirects");
    let location = location.expect("a Location");
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    browse(&location).0
}

/// The default policy, but for a response timeout longer than the simulated seconds a
/// test moves the clock on while a device poll is out.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.response_timeout = time::Duration::minutes(10);
    policy
}

fn listener() -> LoopbackRedirect {
    LoopbackRedirect::default().timeout(PATIENCE)
}

fn in_browser(tokens: &TokenManager) -> JoinHandle<Result<Arc<PublishedToken>, PersonLoginError>> {
    let tokens = tokens.clone();
    thread::spawn(move || tokens.login_in_browser(&listener(), PATIENCE))
}

fn with_device(tokens: &TokenManager) -> JoinHandle<Result<Arc<PublishedToken>, PersonLoginError>> {
    let tokens = tokens.clone();
    thread::spawn(move || tokens.login_with_device(PATIENCE))
}

#[test]
fn a_device_login_approved_publishes_the_token_and_renewals_refresh_it() {
    let world = World::new();
    let tokens = world.manager(world.device_dialect());
    assert!(matches!(
        tokens.status(),
        Status::NeedsLogin {
            error: Error::PersonLogin { ended: None, .. }
        }
    ));
    let login = with_device(&tokens);

    let prompt = world.device_prompt();
    assert!(prompt.verification_uri.starts_with(&world.front.base_url()));
    // The prompt is in the status too, while the session waits.
    eventually("the prompt in the status", || {
        tokens.status()
            == Status::AwaitingPerson {
                prompt: LoginPrompt::EnterCode(prompt.clone()),
            }
    });
    assert!(world
        .front
        .with_emulator(|r| r.server.approve_user_code(&prompt.user_code)));

    let token = world.until_done(login).expect("a token");
    assert_eq!(token.generation().get(), 1);
    assert_eq!(tokens.token(PATIENCE).unwrap().secret(), token.secret());
    assert_eq!(tokens.status(), Status::Ready);
    assert_eq!(call_api(&world.front.url("/api/profile"), &token), 200);
    assert_eq!(lock(&world.prompts).len(), 1, "one prompt");

    // From then on the session renews by itself, with the refresh token.
    // Simulated time jumps once, past the refresh moment and short of the token's hard
    // expiry, and stands still while the refresh is out.
    world
        .clock
        .set(token.valid_until() - time::Duration::seconds(30));
    let renewed = tokens
        .token_newer_than(token.generation(), PATIENCE)
        .expect("the refreshed token");
    assert_ne!(renewed.secret(), token.secret());
    let stats = world.stats();
    assert_eq!((stats.logins, stats.refreshes), (1, 1));

    // A session that holds a token takes no person's login.
    match tokens.login_with_device(PATIENCE) {
        Err(PersonLoginError::AlreadyLoggedIn { valid_until }) => {
            assert_eq!(valid_until, renewed.valid_until())
        }
        other => panic!("refused as logged in, not {other:?}"),
    }
    assert_eq!(world.stats().device_authorizations, 1);

    // The server ends every session: the refresh grant is dead, the status says a person
    // must log in, and a person's login replaces the halted session at once.
    world.front.with_emulator(|r| r.server.revoke_all());
    tokens.renew().unwrap();
    eventually("the session to halt", || {
        matches!(
            tokens.status(),
            Status::NeedsLogin {
                error: Error::Reauthenticate { .. }
            }
        )
        .then_some(())
    });
    lock(&world.prompts).clear();
    let login = with_device(&tokens);
    let prompt = world.device_prompt();
    assert!(world
        .front
        .with_emulator(|r| r.server.approve_user_code(&prompt.user_code)));
    let again = world.until_done(login).expect("a token from the new login");
    assert!(again.generation() > renewed.generation());
    assert_eq!(world.stats().device_authorizations, 2);
    tokens.shutdown();
}

#[test]
fn a_device_login_denied_ends_with_a_typed_error() {
    let world = World::new();
    let tokens = world.manager(world.device_dialect());
    let login = with_device(&tokens);
    let prompt = world.device_prompt();
    assert!(world
        .front
        .with_emulator(|r| r.server.deny_user_code(&prompt.user_code)));

    match world.until_done(login) {
        Err(PersonLoginError::Ended {
            ended: PersonLoginEnd::Denied,
            error: Error::PersonLogin { .. },
        }) => {}
        other => panic!("denied, not {other:?}"),
    }
    assert!(matches!(
        tokens.status(),
        Status::NeedsLogin {
            error: Error::PersonLogin {
                ended: Some(PersonLoginEnd::Denied),
                ..
            }
        }
    ));
    assert!(tokens.with_token(|_| ()).is_none());

    // The dialect has no authorization endpoint: no browser login, and nothing changed.
    assert!(matches!(
        tokens.login_in_browser(&listener(), PATIENCE),
        Err(PersonLoginError::Unsupported(
            oauth_lifecycle::Misuse::PersonLoginUnsupported { .. }
        ))
    ));
    tokens.shutdown();
}

#[test]
fn a_browser_login_exchanges_the_redirect_the_browser_brings() {
    let world = World::new();
    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);

    let url = world.browser_url();
    assert!(url.starts_with(&world.front.url("/authorize?")), "{url}");
    assert!(matches!(
        tokens.status(),
        Status::AwaitingPerson {
            prompt: LoginPrompt::OpenBrowser(_)
        }
    ));
    assert_eq!(
        bring_redirect(&world),
        200,
        "the listener thanks the browser"
    );

    let token = login.join().unwrap().expect("a token");
    assert_eq!(tokens.status(), Status::Ready);
    assert_eq!(call_api(&world.front.url("/api/profile"), &token), 200);
    let stats = world.stats();
    assert_eq!((stats.authorization_codes, stats.code_exchanges), (1, 1));
    tokens.shutdown();
}

#[test]
fn an_error_redirect_ends_the_browser_login_with_a_typed_error() {
    let world = World::new();
    world.front.with_emulator(|r| {
        r.server
            .set_authorization_decision(AuthorizationDecision::Deny)
    });
    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    bring_redirect(&world);

    match login.join().unwrap() {
        Err(PersonLoginError::Redirect {
            error:
                RedirectError::Denied {
                    error: AuthorizationErrorCode::AccessDenied,
                    ..
                },
            ended: PersonLoginEnd::Denied,
        }) => {}
        other => panic!("denied, not {other:?}"),
    }
    assert!(matches!(
        tokens.status(),
        Status::NeedsLogin {
            error: Error::PersonLogin {
                ended: Some(PersonLoginEnd::Denied),
                ..
            }
        }
    ));
    assert_eq!(world.stats().code_exchanges, 0);
    tokens.shutdown();
}

#[test]
fn a_redirect_with_another_state_is_ignored_and_the_real_one_taken() {
    let world = World::new();
    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    let (status, location) = browse(&world.browser_url());
    assert_eq!(status, 302);
    let location = location.unwrap();

    // A forged redirect reaches the listener first: the session ignores it (had it
    // ended the login, the login would fail), and the listener goes on listening for
    // the real one.
    let (base, _) = location.split_once('?').unwrap();
    let forged = format!("{base}?code=forged-code&state=not-this-login");
    assert_eq!(browse(&forged).0, 200);
    assert_eq!(browse(&location).0, 200);

    let token = login.join().unwrap().expect("a token");
    assert_eq!(call_api(&world.front.url("/api/profile"), &token), 200);
    assert_eq!(
        world.stats().code_exchanges,
        1,
        "the forged code was never sent"
    );
    tokens.shutdown();
}

#[test]
fn a_listener_that_times_out_cancels_the_login() {
    let world = World::new();
    let tokens = world.manager(world.browser_dialect());
    let short = LoopbackRedirect::default().timeout(Duration::from_millis(200));
    match tokens.login_in_browser(&short, PATIENCE) {
        Err(PersonLoginError::TimedOut {
            status:
                Status::NeedsLogin {
                    error:
                        Error::PersonLogin {
                            ended: Some(PersonLoginEnd::Cancelled),
                            ..
                        },
                },
        }) => {}
        other => panic!("timed out and cancelled, not {other:?}"),
    }
    assert_eq!(lock(&world.prompts).len(), 1, "the URL was shown");
    assert!(tokens.with_token(|_| ()).is_none());

    // The session takes a new login at once.
    let login = in_browser(&tokens);
    eventually("the second prompt", || lock(&world.prompts).len() == 2);
    let url = world.browser_url_at(1);
    let (_, location) = browse(&url);
    assert_eq!(browse(&location.unwrap()).0, 200);
    login.join().unwrap().expect("a token");
    tokens.shutdown();
}

impl World {
    /// The authorization URL of the `index`th prompt.
    fn browser_url_at(&self, index: usize) -> String {
        match &lock(&self.prompts)[index] {
            LoginPrompt::OpenBrowser(prompt) => prompt.url().to_string(),
            other => panic!("a browser prompt, not {other:?}"),
        }
    }
}

/// The test binary's trace output.
fn capture() -> TraceBuffer {
    TraceBuffer::global()
}

#[test]
fn no_secret_of_a_persons_login_appears_in_traces() {
    let output = capture();
    let world = World::new();

    let tokens = world.manager(world.device_dialect());
    let login = with_device(&tokens);
    let prompt = world.device_prompt();
    world
        .front
        .with_emulator(|r| r.server.approve_user_code(&prompt.user_code));
    let token = world.until_done(login).expect("a device login");
    tokens.shutdown();

    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    bring_redirect(&world);
    let second = login.join().unwrap().expect("a browser login");
    tokens.shutdown();

    let secrets = world.secrets();
    // Two access tokens, two refresh tokens, a device code, a code and a state.
    assert!(secrets.len() >= 7, "{secrets:?}");
    assert!(secrets.contains(&token.secret().to_owned()));
    assert!(secrets.contains(&second.secret().to_owned()));
    let text = output.text();
    assert!(text.contains("token issued"), "the logins were traced");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret in the traces");
    }
}
