//! A person's login through the tokio manager, over real sockets on 127.0.0.1: the
//! standard emulator's HTTP front in simulated time, the manager's loopback listener,
//! and the test as the person (approving a device code) and as the browser (a plain
//! `TcpStream` that GETs the authorization URL, takes the `Location`, and GETs it from
//! the listener).

mod support;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oauth_lifecycle::dialect::authorization::{
    AuthorizationErrorCode, IssParameter, RedirectError,
};
use oauth_lifecycle::dialect::{Grant, Standard};
use oauth_lifecycle::{DevicePrompt, Error, LoginPrompt, PersonLoginEnd, Policy, Status};
use oauth_lifecycle_emulator::{
    AuthorizationDecision, DrivenClock, Emulator, HttpFront, ServerStats, StandardServer,
    StandardServerConfig,
};
use oauth_lifecycle_tokio::{LoopbackRedirect, PersonLoginError, PublishedToken, TokenManager};
use support::{bounded, eventually, reading, PATIENCE, START};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

const PUBLIC: &str = "emulated-public-client";

/// The standard emulator, recording every secret it hands out.
type Recorder = oauth_lifecycle_testkit::recorder::Recorder<StandardServer>;

type Prompts = Arc<Mutex<Vec<LoginPrompt>>>;

fn lock<T>(value: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    value.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The emulator on 127.0.0.1 in simulated time, and the prompts a manager showed.
struct World {
    clock: DrivenClock,
    front: HttpFront<Recorder>,
    prompts: Prompts,
}

impl World {
    fn new() -> Self {
        let clock = DrivenClock::new(START);
        let recorder = Recorder::new(StandardServer::new(StandardServerConfig::default()));
        let front = HttpFront::start(recorder, clock.clone()).expect("a front");
        World {
            clock,
            front,
            prompts: Arc::new(Mutex::new(Vec::new())),
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
        let prompts = Arc::clone(&self.prompts);
        // A response timeout longer than the simulated seconds a test moves the clock on
        // while a device poll is out.
        let mut policy = Policy::default();
        policy.response_timeout = time::Duration::minutes(10);
        TokenManager::builder(dialect, policy)
            .clock(reading(&self.clock))
            .on_login_prompt(move |prompt| lock(&prompts).push(prompt.clone()))
            .start()
            .expect("a manager")
    }

    fn stats(&self) -> ServerStats {
        self.front
            .with_emulator(|recorder| recorder.server.stats().clone())
    }

    fn is_valid(&self, token: &PublishedToken) -> bool {
        let now = self.clock.now();
        self.front
            .with_emulator(|recorder| recorder.server.is_access_token_valid(token.secret(), now))
    }

    /// The device prompt the callback was shown.
    async fn device_prompt(&self) -> DevicePrompt {
        let prompts = Arc::clone(&self.prompts);
        eventually("the device prompt", move || {
            lock(&prompts).iter().find_map(|prompt| match prompt {
                LoginPrompt::EnterCode(prompt) => Some(prompt.clone()),
                _ => None,
            })
        })
        .await
    }

    /// The authorization URL of the `index`th prompt, once it was shown.
    async fn browser_url(&self, index: usize) -> String {
        let prompts = Arc::clone(&self.prompts);
        eventually("the browser prompt", move || {
            match lock(&prompts).get(index) {
                Some(LoginPrompt::OpenBrowser(prompt)) => Some(prompt.url().to_string()),
                _ => None,
            }
        })
        .await
    }

    /// Moves simulated time on, a second at a time, until `login` has returned: the
    /// session polls on its own deadlines.
    async fn until_done<T>(&self, login: JoinHandle<T>) -> T {
        let clock = self.clock.clone();
        eventually("the login to return", || {
            clock.advance(time::Duration::SECOND);
            login.is_finished()
        })
        .await;
        bounded("the login's task", login)
            .await
            .expect("the login's task")
    }
}

/// A GET of `url` (on 127.0.0.1 only) as a browser that follows no redirect: the status
/// and the `Location`, if any.
async fn browse(url: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("a plain http URL");
    let (authority, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port: u16 = authority
        .strip_prefix("127.0.0.1:")
        .expect("a loopback URL")
        .parse()
        .expect("a port");
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let request = format!(
            "GET {target} HTTP/1.1\r\nHost: {authority}\r\nAccept: text/html\r\n\
             Connection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .await
            .expect("read the answer");
        answer
    };
    let answer = bounded("a browser's GET", exchange).await;
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

/// Acts as the browser for the `index`th prompt: opens the authorization URL at the
/// emulator, and brings the redirect it answers with to the listener. The listener's
/// status.
async fn bring_redirect(world: &World, index: usize) -> u16 {
    let (status, location) = browse(&world.browser_url(index).await).await;
    assert_eq!(status, 302, "the authorization endpoint redirects");
    let location = location.expect("a Location");
    assert!(location.starts_with("http://127.0.0.1:"), "{location}");
    browse(&location).await.0
}

type Login = JoinHandle<Result<Arc<PublishedToken>, PersonLoginError>>;

fn in_browser(tokens: &TokenManager) -> Login {
    let tokens = tokens.clone();
    tokio::spawn(async move {
        let listener = LoopbackRedirect::default().timeout(PATIENCE);
        tokens.login_in_browser(&listener, PATIENCE).await
    })
}

fn with_device(tokens: &TokenManager) -> Login {
    let tokens = tokens.clone();
    tokio::spawn(async move { tokens.login_with_device(PATIENCE).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_login_approved_publishes_the_token_and_renewals_refresh_it() {
    let world = World::new();
    let tokens = world.manager(world.device_dialect());
    let login = with_device(&tokens);

    let prompt = world.device_prompt().await;
    assert!(prompt.verification_uri.starts_with(&world.front.base_url()));
    let status = tokens.clone();
    let expected = Status::AwaitingPerson {
        prompt: LoginPrompt::EnterCode(prompt.clone()),
    };
    eventually("the prompt in the status", move || {
        status.status() == expected
    })
    .await;
    assert!(world
        .front
        .with_emulator(|r| r.server.approve_user_code(&prompt.user_code)));

    let token = world.until_done(login).await.expect("a token");
    assert_eq!(token.generation().get(), 1);
    assert_eq!(tokens.status(), Status::Ready);
    assert!(world.is_valid(&token));

    // Simulated time jumps once, past the refresh moment and short of the token's hard
    // expiry, and stands still while the refresh is out.
    world
        .clock
        .set(token.valid_until() - time::Duration::seconds(30));
    tokens.clock_moved();
    let renewed = tokens
        .token_newer_than(token.generation(), PATIENCE)
        .await
        .expect("the refreshed token");
    assert_ne!(renewed.secret(), token.secret());
    let stats = world.stats();
    assert_eq!((stats.logins, stats.refreshes), (1, 1));

    match tokens.login_with_device(PATIENCE).await {
        Err(PersonLoginError::AlreadyLoggedIn { valid_until }) => {
            assert_eq!(valid_until, renewed.valid_until())
        }
        other => panic!("refused as logged in, not {other:?}"),
    }
    tokens.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_login_denied_ends_with_a_typed_error() {
    let world = World::new();
    let tokens = world.manager(world.device_dialect());
    let login = with_device(&tokens);
    let prompt = world.device_prompt().await;
    assert!(world
        .front
        .with_emulator(|r| r.server.deny_user_code(&prompt.user_code)));
    match world.until_done(login).await {
        Err(PersonLoginError::Ended {
            ended: PersonLoginEnd::Denied,
            error: Error::PersonLogin { .. },
        }) => {}
        other => panic!("denied, not {other:?}"),
    }
    assert!(tokens.with_token(|_| ()).is_none());
    let listener = LoopbackRedirect::default().timeout(PATIENCE);
    assert!(matches!(
        tokens.login_in_browser(&listener, PATIENCE).await,
        Err(PersonLoginError::Unsupported(_))
    ));
    tokens.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_login_exchanges_the_redirect_the_browser_brings() {
    let world = World::new();
    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    let url = world.browser_url(0).await;
    assert!(url.starts_with(&world.front.url("/authorize?")), "{url}");
    assert_eq!(bring_redirect(&world, 0).await, 200);

    let token = bounded("the login", login).await.unwrap().expect("a token");
    assert_eq!(tokens.status(), Status::Ready);
    assert!(world.is_valid(&token));
    let stats = world.stats();
    assert_eq!((stats.authorization_codes, stats.code_exchanges), (1, 1));
    tokens.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_redirect_ends_the_browser_login_with_a_typed_error() {
    let world = World::new();
    world.front.with_emulator(|r| {
        r.server
            .set_authorization_decision(AuthorizationDecision::Deny)
    });
    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    bring_redirect(&world, 0).await;
    match bounded("the login", login).await.unwrap() {
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
    assert_eq!(world.stats().code_exchanges, 0);
    tokens.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_with_another_state_is_ignored_and_the_real_one_taken() {
    let world = World::new();
    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    let (status, location) = browse(&world.browser_url(0).await).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    // A forged redirect first: ignored (had it ended the login, the login would fail).
    let (base, _) = location.split_once('?').unwrap();
    let forged = format!("{base}?code=forged-code&state=not-this-login");
    assert_eq!(browse(&forged).await.0, 200);
    assert_eq!(browse(&location).await.0, 200);
    let token = bounded("the login", login).await.unwrap().expect("a token");
    assert!(world.is_valid(&token));
    assert_eq!(
        world.stats().code_exchanges,
        1,
        "the forged code was never sent"
    );
    tokens.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_times_out_cancels_the_login() {
    let world = World::new();
    let tokens = world.manager(world.browser_dialect());
    let short = LoopbackRedirect::default().timeout(Duration::from_millis(200));
    match bounded("the login", tokens.login_in_browser(&short, PATIENCE)).await {
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
    // The session takes a new login at once.
    let login = in_browser(&tokens);
    assert_eq!(bring_redirect(&world, 1).await, 200);
    bounded("the login", login).await.unwrap().expect("a token");
    tokens.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_of_a_persons_login_appears_in_traces() {
    let output = support::capture::install();
    let world = World::new();

    let tokens = world.manager(world.device_dialect());
    let login = with_device(&tokens);
    let prompt = world.device_prompt().await;
    world
        .front
        .with_emulator(|r| r.server.approve_user_code(&prompt.user_code));
    let token = world.until_done(login).await.expect("a device login");
    tokens.shutdown().await;

    let tokens = world.manager(world.browser_dialect());
    let login = in_browser(&tokens);
    bring_redirect(&world, 1).await;
    let second = bounded("the login", login)
        .await
        .unwrap()
        .expect("a browser login");
    tokens.shutdown().await;

    let secrets = world
        .front
        .with_emulator(|recorder| recorder.secrets.clone());
    assert!(secrets.len() >= 7, "{secrets:?}");
    assert!(secrets.contains(&token.secret().to_owned()));
    assert!(secrets.contains(&second.secret().to_owned()));
    let text = output.text();
    assert!(text.contains("token issued"), "the logins were traced");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "a secret in the traces");
    }
}
