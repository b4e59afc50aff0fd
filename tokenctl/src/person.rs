//! A person's login: the device grant (a code entered on another device) and the
//! authorization code grant (a browser that comes back to a loopback listener). Each runs
//! on a fresh session, driven here with the blocking transport, that replaces the stored
//! one only once it has its token: a login that fails leaves the stored session as it
//! was.
//!
//! What a person must see goes to stderr: the device grant's code and address, or the
//! URL to open. Nothing else of the login is shown: not the device code, not the
//! authorization code, not the PKCE verifier, not a token.

use std::time::{Duration, Instant};

use oauth_lifecycle::dialect::authorization::ENTROPY_BYTES;
use oauth_lifecycle::dialect::PersonLogin;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    BrowserPrompt, DevicePrompt, Dialect, Driver, Error, Event, LoginPrompt, Output,
    PersonLoginEnd, Policy, RedirectRefused, TokenRequest,
};
use oauth_lifecycle_adapter::{Saved, SessionStore};
use oauth_lifecycle_blocking::{ureq, ListenerError, LoopbackRedirect, RedirectListener};
use zeroize::Zeroizing;

use crate::context::{now, Context};
use crate::failure::{Exit, Failure};
use crate::session::Issued;
use crate::session_file::SessionFile;
use crate::time_format::{local, span};

/// How a person logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    /// The device grant: a code entered on another device.
    Device,
    /// The authorization code grant in a browser; `open`: open one (else only print the
    /// URL); `port`: the listener's fixed port (else one the system picks).
    Browser { open: bool, port: Option<u16> },
}

/// What a profile's dialect can do of a person's login.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Abilities {
    /// The person login its grant is, if any.
    pub(crate) grant: Option<PersonLogin>,
    /// It has a device authorization endpoint.
    pub(crate) device: bool,
    /// It has an authorization endpoint.
    pub(crate) browser: bool,
}

/// A redirect URI to ask a dialect whether it builds authorization requests at all.
const PROBE_REDIRECT: &str = "http://127.0.0.1/callback";

impl Abilities {
    /// What `dialect` can do; it sends nothing.
    pub(crate) fn of<D: Dialect>(dialect: &D) -> Self {
        Abilities {
            grant: dialect.person_login(),
            device: dialect.device_authorization_request().is_some(),
            browser: dialect.authorization_request(PROBE_REDIRECT).is_some(),
        }
    }
}

/// The person login `login`'s flags and the profile ask for: `--device` and `--browser`
/// force one (refused when the dialect cannot do it), else the profile's grant says;
/// `None` for a profile whose grant needs no person.
pub(crate) fn choose(
    context: &Context,
    abilities: Abilities,
    device: bool,
    browser: bool,
    no_browser: bool,
) -> Result<Option<Flow>, Failure> {
    let name = &context.name;
    let grant = match context.profile.get("grant") {
        Some(grant) => format!("its grant is `{grant}`"),
        None => "it has the provider's default grant".to_owned(),
    };
    let cannot = |flag: &str, what: &str, setting: &str, value: &str| {
        Failure::new(
            Exit::Usage,
            format!("{flag}: profile `{name}` cannot log in {what} ({grant})"),
        )
        .fix(format!(
            "leave out {flag}, or give the profile `grant = \"{value}\"` and `{setting}` (tokenctl init --issuer URL --grant {value} finds it)"
        ))
    };
    let flow = if device {
        if !abilities.device {
            return Err(cannot(
                "--device",
                "with a code on another device",
                "device_authorization_url",
                "device",
            ));
        }
        Some(Flow::Device)
    } else if browser {
        if !abilities.browser {
            return Err(cannot(
                "--browser",
                "in a browser",
                "authorization_url",
                crate::config::BROWSER_GRANT,
            ));
        }
        Some(browser_flow(context, no_browser))
    } else {
        match abilities.grant {
            Some(PersonLogin::DeviceCode) => Some(Flow::Device),
            Some(PersonLogin::AuthorizationCode) => Some(browser_flow(context, no_browser)),
            _ => None,
        }
    };
    if no_browser && !matches!(flow, Some(Flow::Browser { .. })) {
        return Err(Failure::new(
            Exit::Usage,
            format!("--no-browser: profile `{name}` does not log in in a browser"),
        )
        .fix("leave out --no-browser"));
    }
    Ok(flow)
}

fn browser_flow(context: &Context, no_browser: bool) -> Flow {
    Flow::Browser {
        open: !no_browser,
        port: context.profile.redirect_port,
    }
}

/// What `--dry-run` says of a browser login: nothing is sent before the browser comes
/// back, and its URL carries a fresh `state`, so none is made.
pub(crate) fn dry_run_browser(port: Option<u16>) -> String {
    let port = port.map_or_else(|| "a port the system picks".to_owned(), |p| p.to_string());
    format!(
        "would listen on 127.0.0.1 ({port}) and open the authorization URL in a browser; nothing is sent before the browser comes back, and nothing is sent now"
    )
}

/// Runs the person's login `flow` on a fresh session over `dialect`, and stores the
/// session in `store` (under the session file's lock) once it has its token.
pub(crate) fn log_in<D: Dialect>(
    context: &Context,
    dialect: D,
    flow: Flow,
    file: &SessionFile,
    store: &dyn SessionStore,
) -> Result<Issued, Failure> {
    let policy = context.policy();
    let mut login = Login {
        agent: oauth_lifecycle_blocking::default_agent(&policy),
        policy: policy.clone(),
        profile: &context.name,
        open: matches!(flow, Flow::Browser { open: true, .. }),
        done: false,
    };
    let mut driver = Driver::new(dialect, policy)
        .map_err(|error| Failure::new(Exit::Config, error.to_string()))?;
    match flow {
        Flow::Device => login.device(&mut driver)?,
        Flow::Browser { port, .. } => login.browser(&mut driver, port)?,
    }
    let issued = issued(&driver)?;
    let _turn = file.lock(context.timeout)?;
    save(&driver, file, store)?;
    Ok(issued)
}

/// One login under way.
struct Login<'a> {
    agent: ureq::Agent,
    policy: Policy,
    profile: &'a str,
    /// Open a browser (else only print the URL).
    open: bool,
    /// A token came.
    done: bool,
}

/// What a run of the session's outputs stopped at.
enum Stop {
    /// A token came.
    Token,
    /// The session waits for the browser's redirect.
    Redirect,
}

impl Login<'_> {
    /// The device grant: the code is shown, and the session polls until the person
    /// approves, denies or the code expires (the session's own deadline, which the
    /// policy bounds). The wait here is bounded by it too, with room for the last poll.
    fn device<D: Dialect>(&mut self, driver: &mut Driver<D>) -> Result<(), Failure> {
        driver
            .authorize_device(now())
            .map_err(|misuse| self.refused_start(&misuse))?;
        let bound = self.policy.person_login_timeout + self.policy.response_timeout * 2;
        let deadline = Instant::now() + Duration::try_from(bound).unwrap_or(Duration::MAX);
        match self.pump(driver, deadline)? {
            Stop::Token => Ok(()),
            Stop::Redirect => Err(Failure::new(
                Exit::Internal,
                "the device login waits for a redirect",
            )),
        }
    }

    /// The authorization code grant: the listener bound, the request built with the
    /// system's random bytes, the URL shown (and opened), then the redirect taken and the
    /// code exchanged. A redirect that does not answer this request (another `state`) is
    /// ignored and the listener waits on, within the same deadline.
    fn browser<D: Dialect>(
        &mut self,
        driver: &mut Driver<D>,
        port: Option<u16>,
    ) -> Result<(), Failure> {
        let wait = Duration::try_from(self.policy.person_login_timeout)
            .unwrap_or(Duration::from_secs(15 * 60));
        let config = LoopbackRedirect::default()
            .port(port.unwrap_or(0))
            .timeout(wait);
        let mut listener =
            RedirectListener::bind(&config).map_err(|error| self.unbound(port, &error))?;
        let request = driver
            .session()
            .dialect()
            .authorization_request(listener.redirect_uri())
            .ok_or_else(|| Failure::new(Exit::Usage, "the profile cannot log in in a browser"))?;
        let mut entropy = Zeroizing::new([0u8; ENTROPY_BYTES]);
        getrandom::fill(&mut *entropy).map_err(|error| {
            Failure::new(
                Exit::Internal,
                format!("the system gave no random bytes: {error}"),
            )
        })?;
        let request = request.build(&mut entropy).map_err(|error| {
            Failure::new(Exit::Config, format!("cannot build the login URL: {error}")).fix(format!(
                "check `authorization_url` and `scope` in profile `{}`",
                self.profile
            ))
        })?;
        driver
            .authorize(request, now())
            .map_err(|misuse| self.refused_start(&misuse))?;
        let deadline = Instant::now() + wait + Duration::from_secs(5);
        if let Stop::Token = self.pump(driver, deadline)? {
            return Ok(());
        }
        eprintln!(
            "Waiting for the browser to come back to {} (until {})…",
            listener.redirect_uri(),
            local(now().saturating_add(self.policy.person_login_timeout))
        );
        loop {
            let redirect = match listener.accept() {
                Ok(redirect) => redirect,
                Err(error) => {
                    let _ = driver.cancel_login(now());
                    return Err(match error {
                        ListenerError::TimedOut { after } => Failure::new(
                            Exit::NeedsLogin,
                            format!(
                                "the login expired: no browser came back within {}; run tokenctl login -p {} again",
                                span(after.as_secs() as i64),
                                self.profile
                            ),
                        ),
                        other => Failure::new(
                            Exit::Internal,
                            format!("the redirect listener stopped: {other}"),
                        )
                        .fix(format!("run tokenctl login -p {} again", self.profile)),
                    });
                }
            };
            match driver.handle_redirect(redirect.target(), now()) {
                Ok(()) => break,
                // Not shown to answer this login (another `state`): the listener waits on.
                Err(RedirectRefused::Redirect {
                    ended: false,
                    error,
                }) => {
                    tracing::debug!(%error, "a request to the listener that does not answer this login: ignored");
                }
                Err(RedirectRefused::Redirect { ended: true, .. }) => break,
                Err(other) => return Err(Failure::new(Exit::Internal, other.to_string())),
            }
        }
        drop(listener);
        match self.pump(driver, deadline)? {
            Stop::Token => Ok(()),
            Stop::Redirect => Err(Failure::new(
                Exit::Internal,
                "the session still waits for a redirect",
            )),
        }
    }

    /// Acts on the session's outputs until a token comes (and is followed by the next
    /// deadline), the session waits for a redirect, or the login ends; sends each request
    /// as it comes and sleeps until each deadline, never past `deadline`.
    fn pump<D: Dialect>(
        &mut self,
        driver: &mut Driver<D>,
        deadline: Instant,
    ) -> Result<Stop, Failure> {
        loop {
            match driver.poll_output() {
                Output::Request(request) => self.send(driver, request)?,
                Output::Event(event) => self.on_event(event)?,
                // The session is stored once it has its token, and only then.
                Output::Persist => {}
                Output::Timeout(at) => {
                    if self.done {
                        return Ok(Stop::Token);
                    }
                    if matches!(
                        driver.status(),
                        oauth_lifecycle::Status::AwaitingPerson {
                            prompt: LoginPrompt::OpenBrowser(_)
                        }
                    ) {
                        return Ok(Stop::Redirect);
                    }
                    self.sleep_until(driver, at, deadline)?;
                }
                Output::Idle if self.done => return Ok(Stop::Token),
                Output::Idle => {
                    return Err(match driver.status() {
                        oauth_lifecycle::Status::NeedsLogin { error } => self.ended_with(&error),
                        status => Failure::new(
                            Exit::Internal,
                            format!(
                                "the login stopped without a token; the session is {}",
                                crate::session::describe(&status)
                            ),
                        ),
                    })
                }
            }
        }
    }

    /// Sleeps until the session's deadline `at`; past `deadline`, the login is
    /// abandoned.
    fn sleep_until<D: Dialect>(
        &self,
        driver: &mut Driver<D>,
        at: UtcDateTime,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = driver.cancel_login(now());
            return Err(Failure::new(
                Exit::NeedsLogin,
                format!(
                    "the login expired: nobody approved it in time; run tokenctl login -p {} again",
                    self.profile
                ),
            ));
        }
        let wait = Duration::try_from(at - now()).unwrap_or(Duration::ZERO);
        std::thread::sleep(wait.min(left));
        driver.handle_timeout(now());
        Ok(())
    }

    /// Sends `request` and hands its answer, or its failure, to the session.
    fn send<D: Dialect>(
        &self,
        driver: &mut Driver<D>,
        request: TokenRequest,
    ) -> Result<(), Failure> {
        let id = request.id();
        let timeout = Duration::try_from(request.deadline() - now())
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(1));
        tracing::debug!(request = id.get(), purpose = %request.purpose(), "token request");
        let answer = oauth_lifecycle_blocking::send_request(
            &self.agent,
            request.into_request(),
            timeout,
            self.policy.max_body_bytes,
        );
        let handled = match answer {
            Ok(response) => {
                tracing::debug!(
                    request = id.get(),
                    status = response.status().as_u16(),
                    "answer"
                );
                driver.handle_response(id, &response, now())
            }
            Err(error) => {
                tracing::debug!(request = id.get(), %error, "no answer");
                driver.handle_transport_error(id, error, now())
            }
        };
        handled.map_err(|misuse| Failure::new(Exit::Internal, misuse.to_string()))
    }

    /// Shows a prompt, notes a token, ends on a login that ended.
    fn on_event(&mut self, event: Event) -> Result<(), Failure> {
        match event {
            Event::LoginPrompt(LoginPrompt::EnterCode(prompt)) => show_code(&prompt),
            Event::LoginPrompt(LoginPrompt::OpenBrowser(prompt)) => self.show_url(&prompt),
            Event::TokenIssued { .. } => self.done = true,
            Event::PersonLoginEnded { error } => return Err(self.ended_with(&error)),
            // Logged by the session itself, as it sees fit (never a secret).
            _ => {}
        }
        Ok(())
    }

    /// Shows the URL to open, and opens it in a browser where one can be.
    fn show_url(&self, prompt: &BrowserPrompt) {
        let url = prompt.url().to_string();
        if self.open && crate::browser::open(&url) {
            eprintln!(
                "Opening your browser…\n  {url}\n(if it does not open, open that URL yourself)"
            );
        } else {
            eprintln!("To log in, open this URL in your browser:\n  {url}");
        }
    }

    /// The session refused to start the login.
    fn refused_start(&self, misuse: &oauth_lifecycle::Misuse) -> Failure {
        Failure::new(
            Exit::Usage,
            format!(
                "cannot start the login of profile `{}`: {misuse}",
                self.profile
            ),
        )
    }

    /// The listener could not be bound.
    fn unbound(&self, port: Option<u16>, error: &ListenerError) -> Failure {
        match port {
            Some(port) => Failure::new(
                Exit::Config,
                format!("cannot listen on 127.0.0.1:{port} for the browser: {error}"),
            )
            .fix(format!(
                "free the port, or change or remove `redirect_port` in profile `{}`",
                self.profile
            )),
            None => Failure::new(
                Exit::Internal,
                format!("cannot listen on 127.0.0.1 for the browser: {error}"),
            ),
        }
    }

    /// The login ended without a token, with `error`: one line, its reason and the fix.
    fn ended_with(&self, error: &Error) -> Failure {
        ended(error, self.profile)
    }
}

/// The one-line failure of a person's login that ended with `error`.
pub(crate) fn ended(error: &Error, profile: &str) -> Failure {
    let again = format!("run tokenctl login -p {profile} again");
    match error {
        Error::PersonLogin {
            ended: Some(end),
            failure,
        } => {
            let (exit, detail) = match end {
                PersonLoginEnd::Refused => (Exit::Rejected, failure.as_ref()),
                PersonLoginEnd::Lost => (Exit::Unavailable, None),
                _ => (Exit::NeedsLogin, None),
            };
            let detail = detail.map(|f| format!(" ({f})")).unwrap_or_default();
            Failure::new(exit, format!("the login {end}{detail}; {again}"))
        }
        other => Failure::from_error(other, profile),
    }
}

/// Shows the device grant's code and where to enter it.
fn show_code(prompt: &DevicePrompt) {
    eprintln!(
        "To log in, open {} and enter code {} (expires at {})",
        prompt.verification_uri,
        prompt.user_code,
        local(prompt.expires_at)
    );
    if let Some(complete) = &prompt.verification_uri_complete {
        eprintln!("or open {complete}, which carries the code");
    }
    eprintln!("Waiting for the login to be approved…");
}

/// The token the login got.
fn issued<D: Dialect>(driver: &Driver<D>) -> Result<Issued, Failure> {
    let token = driver
        .access_token(now())
        .ok_or_else(|| Failure::new(Exit::Internal, "the login ended without a token"))?;
    Ok(Issued {
        secret: Zeroizing::new(token.secret().to_owned()),
        valid_until: token.valid_until(),
        generation: token.generation(),
        scope: driver
            .session()
            .tokens()
            .and_then(|tokens| tokens.scope())
            .map(str::to_owned),
    })
}

/// Stores the session, replacing what `store` holds (a session that cannot be read is
/// discarded first). Call it holding the session file's lock.
fn save<D: Dialect>(
    driver: &Driver<D>,
    file: &SessionFile,
    store: &dyn SessionStore,
) -> Result<(), Failure> {
    let snapshot = driver.session().snapshot_with_secrets();
    let generation = snapshot.generation();
    let bytes = Zeroizing::new(serde_json::to_vec(&snapshot).map_err(|error| {
        Failure::new(Exit::Internal, format!("cannot write the session: {error}"))
    })?);
    let expected = match store.load() {
        Ok(held) => held.map(|stored| stored.revision),
        Err(_) => {
            file.discard()?;
            None
        }
    };
    match store.save(expected, generation, &bytes)? {
        Saved::Stored { .. } => Ok(()),
        Saved::Newer(_) => Err(Failure::new(
            Exit::Store,
            "another tokenctl stored this session while the login ran",
        )
        .fix("run the login again")),
    }
}
