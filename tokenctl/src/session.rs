//! The operations on a stored session that every command is made of, generic over the
//! dialect: read it without sending anything, run the blocking manager over it until a
//! token comes, and show what would be sent instead of sending it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    AnySession, Dialect, Driver, Error, Event, FailureKind, Generation, Output, Policy, Status,
    WaitReason,
};
use oauth_lifecycle_adapter::{SessionStore, WaitError};
use oauth_lifecycle_blocking::{PublishedToken, TokenManager};
use zeroize::Zeroizing;

use crate::failure::{Exit, Failure};
use crate::limited::Sends;
use crate::redact;

/// A token handed to the user, with what the formats print about it.
pub(crate) struct Issued {
    pub(crate) secret: Zeroizing<String>,
    pub(crate) valid_until: UtcDateTime,
    pub(crate) generation: Generation,
    pub(crate) scope: Option<String>,
}

impl Issued {
    pub(crate) fn from_published(token: &PublishedToken, scope: Option<String>) -> Self {
        Issued {
            secret: Zeroizing::new(token.secret().to_owned()),
            valid_until: token.valid_until(),
            generation: token.generation(),
            scope,
        }
    }
}

/// The stored session, read without sending anything: what it offers, and where it
/// stands.
pub(crate) struct Reading {
    /// What it offers.
    pub(crate) stored: Stored,
    /// Its status; `None` when nothing is stored.
    pub(crate) status: Option<Status>,
    /// The generation of its last token (0 before the first).
    pub(crate) generation: Generation,
    /// How long its token may be handed out, from issue to hard expiry: what the
    /// provider's tokens last, as far as the session knows.
    pub(crate) token_life: Option<oauth_lifecycle::time::Duration>,
}

/// What the stored session offers, read without sending anything.
pub(crate) enum Stored {
    /// Nothing usable: no session, or one without a token.
    Nothing,
    /// A token good enough for what was asked, and what the user should know about the
    /// session.
    Good {
        issued: Issued,
        warning: Option<String>,
    },
    /// A renewal is needed but may not be sent before `retry_at`: the provider
    /// throttled the session, or it backs off after a failure.
    Waiting {
        retry_at: UtcDateTime,
        throttled: bool,
    },
    /// A token that must be renewed first: by the session itself (its renewal is due),
    /// or on request (`ask`: too little left, or a renewal asked for).
    Renew {
        /// The token's generation: the renewed one is newer.
        generation: Generation,
        /// Whether the session must be asked to renew (it would not by itself yet).
        ask: bool,
    },
}

/// A driver over the session in `store`, restored under `dialect`, or over a new one
/// when the store holds none; and whether one was stored.
pub(crate) fn driver<D: Dialect>(
    dialect: D,
    policy: &Policy,
    store: &dyn SessionStore,
) -> Result<(Driver<D>, bool), Failure> {
    match store.load()? {
        Some(stored) => {
            let session: AnySession<D> = stored.restore(dialect, policy.clone())?;
            Ok((Driver::from_session(session), true))
        }
        None => {
            let driver = Driver::new(dialect, policy.clone())
                .map_err(|error| Failure::new(Exit::Config, error.to_string()))?;
            Ok((driver, false))
        }
    }
}

/// Reads the stored session and says whether its token will do: at least `min_ttl`
/// left, no renewal due, none asked for. `dialect` should send nothing.
pub(crate) fn read<D: Dialect>(
    dialect: D,
    policy: &Policy,
    store: &dyn SessionStore,
    min_ttl: Option<Duration>,
    force: bool,
    profile: &str,
    now: UtcDateTime,
) -> Result<Reading, Failure> {
    let (driver, stored) = driver(dialect, policy, store)?;
    if !stored {
        return Ok(Reading {
            stored: Stored::Nothing,
            status: None,
            generation: Generation::default(),
            token_life: None,
        });
    }
    let status = driver.status();
    if status == Status::Revoked {
        return Err(revoked(profile));
    }
    let offers = offers(&driver, min_ttl, force, profile, now);
    Ok(Reading {
        stored: offers,
        status: Some(status),
        generation: driver.session().generation(),
        token_life: driver
            .session()
            .tokens()
            .map(|tokens| tokens.hard_expiry() - tokens.issued_at()),
    })
}

fn offers<D: Dialect>(
    driver: &Driver<D>,
    min_ttl: Option<Duration>,
    force: bool,
    profile: &str,
    now: UtcDateTime,
) -> Stored {
    let due = driver
        .next_deadline()
        .is_some_and(|deadline| deadline <= now);
    let Some(token) = driver.access_token(now) else {
        return Stored::Nothing;
    };
    let generation = token.generation();
    let left = token.valid_until() - now;
    let short = min_ttl.is_some_and(|min| left < min);
    let warning = match driver.status() {
        // A session that stopped renewing still has its valid token: hand it out, and
        // say what to do before it expires.
        Status::NeedsLogin { error } => Some(format!(
            "warning: the session cannot renew by itself ({error}); before the token expires, run: tokenctl login -p {profile}"
        )),
        Status::Ready if !due => None,
        // Waiting after a failure or a 429: the valid token serves meanwhile; a renewal
        // cannot come before the moment the session (or the provider) set.
        Status::Waiting { retry_at, reason } if retry_at > now => {
            if force || short {
                let throttled = reason.is_throttled();
                return Stored::Waiting { retry_at, throttled };
            }
            None
        }
        _ => {
            return Stored::Renew {
                generation,
                ask: false,
            }
        }
    };
    if force || short {
        return Stored::Renew {
            generation,
            ask: true,
        };
    }
    let issued = Issued {
        secret: Zeroizing::new(token.secret().to_owned()),
        valid_until: token.valid_until(),
        generation,
        scope: scope_of(driver),
    };
    Stored::Good { issued, warning }
}

/// The scope the provider granted with token `generation`, read from the store.
pub(crate) fn granted_scope<D: Dialect>(
    dialect: D,
    policy: &Policy,
    store: &dyn SessionStore,
    generation: Generation,
) -> Option<String> {
    let (driver, _) = driver(dialect, policy, store).ok()?;
    let stored = driver.session().tokens()?.generation();
    (stored == generation).then(|| scope_of(&driver)).flatten()
}

fn scope_of<D: Dialect>(driver: &Driver<D>) -> Option<String> {
    driver
        .session()
        .tokens()
        .and_then(|tokens| tokens.scope())
        .map(str::to_owned)
}

pub(crate) fn revoked(profile: &str) -> Failure {
    Failure::new(
        Exit::Revoked,
        format!("the session of profile `{profile}` is revoked"),
    )
    .fix(format!("run: tokenctl login -p {profile}"))
}

/// How soon a retry must come for a command to wait for it rather than fail.
const QUICK_RETRY: Duration = Duration::from_secs(2);

/// A running manager over the stored session, shut down (and so persisted) when dropped.
pub(crate) struct Running {
    pub(crate) manager: TokenManager,
    sends: Sends,
    profile: String,
    /// The profile's grant is a person's login: the session never logs in by itself.
    person: bool,
}

impl Running {
    /// Starts the blocking manager over `store`: it resumes the stored session, or logs
    /// in if there is none.
    pub(crate) fn start<D: Dialect>(
        dialect: D,
        sends: Sends,
        policy: Policy,
        store: Arc<dyn SessionStore>,
        profile: &str,
    ) -> Result<Self, Failure> {
        let person = dialect.person_login().is_some();
        let manager = TokenManager::builder(dialect, policy)
            .store(store)
            .name("tokenctl")
            .start()
            .map_err(|error| match error {
                oauth_lifecycle_blocking::StartError::Session(
                    oauth_lifecycle_adapter::StartError::Store(error),
                ) => Failure::from(error),
                other => Failure::new(Exit::Config, other.to_string()),
            })?;
        Ok(Running {
            manager,
            sends,
            profile: profile.to_owned(),
            person,
        })
    }

    /// A token newer than `after` (any, with `None`), waiting at most until `deadline`.
    /// A failure whose retry comes within [`QUICK_RETRY`] is waited for; any other fails
    /// the command at once, with what to do about it.
    pub(crate) fn token(
        &self,
        after: Option<Generation>,
        deadline: Instant,
    ) -> Result<Arc<PublishedToken>, Failure> {
        // Bounded: every pass waits up to 100 ms, and the loop ends at the deadline.
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Failure::new(
                    Exit::Unavailable,
                    format!(
                        "no token in time; the session is {}",
                        describe(&self.manager.status())
                    ),
                )
                .fix("try again, or give a longer --timeout"));
            }
            let slice = left.min(Duration::from_millis(100));
            let waited = match after {
                Some(generation) => self.manager.token_newer_than(generation, slice),
                None => self.manager.token(slice),
            };
            match waited {
                Ok(token) => return Ok(token),
                Err(WaitError::NeedsLogin { error }) => return Err(self.needs_login(&error)),
                Err(WaitError::Rejected { error, retry_at }) => {
                    let evidence = error
                        .failure()
                        .map_or_else(|| error.to_string(), ToString::to_string);
                    return Err(self.rejected(retry_at, Some(evidence)));
                }
                Err(WaitError::Revoked) => return Err(revoked(&self.profile)),
                Err(WaitError::Timeout { .. }) => {
                    // A failure whose retry comes within moments (the first backoff, or
                    // the loss of a request a previous run left in flight) is waited
                    // for; a longer wait fails the command now, with its reason.
                    let now = crate::context::now();
                    let soon = now + QUICK_RETRY.min(left);
                    if let Status::Waiting {
                        retry_at,
                        reason: WaitReason::Rejected { .. },
                    } = self.manager.status()
                    {
                        // The credentials rejected: the session tries again by itself,
                        // slowly; the command does not wait for that.
                        if retry_at > soon {
                            return Err(self.rejected(retry_at, None));
                        }
                    }
                    if let Some(error) = self.manager.last_failure() {
                        if self.person && is_dead_grant(&error) {
                            return Err(person_login_needed(&error, &self.profile));
                        }
                        if error.retry_at().is_none_or(|at| at > soon) {
                            return Err(Failure::from_error(&error, &self.profile));
                        }
                    }
                }
                Err(other) => return Err(Failure::new(Exit::Internal, other.to_string())),
            }
        }
    }

    /// The provider rejected the credentials (or the client) just now; the session tries
    /// again by itself at `retry_at`.
    /// `evidence`: what the provider answered, if the manager said.
    fn rejected(&self, retry_at: UtcDateTime, evidence: Option<String>) -> Failure {
        let attempts_left = match self.manager.status() {
            Status::Waiting {
                reason: WaitReason::Rejected { attempts_left },
                ..
            } => attempts_left,
            _ => None,
        };
        let evidence = evidence
            .or_else(|| crate::limited::last_refusal().map(|refusal| refusal.evidence))
            .unwrap_or_else(|| "no details".to_owned());
        Failure::new(
            Exit::Rejected,
            format!(
                "the provider refused the credentials ({evidence}); {}",
                retry_clause(retry_at, attempts_left)
            ),
        )
        .fix(format!(
            "check the account in profile `{0}` and the secrets it names (a changed one is tried at once), or run: tokenctl login -p {0}",
            self.profile
        ))
    }

    /// Why the session stopped, told apart: without a password at hand a login is what
    /// is missing; with one, the provider refused it.
    fn needs_login(&self, error: &Error) -> Failure {
        let login = format!("run: tokenctl login -p {}", self.profile);
        if self.person {
            return person_login_needed(error, &self.profile);
        }
        match (self.sends, error) {
            (Sends::NoLogin | Sends::Nothing, _) => Failure::new(
                Exit::NeedsLogin,
                format!("the session needs a new login ({error})"),
            )
            .fix(login),
            (Sends::Everything, Error::Reauthenticate { .. }) => Failure::new(
                Exit::Rejected,
                format!("the provider refused the credentials: {error}"),
            )
            .fix(format!(
                "check the username in the profile and the password, then {login}"
            )),
            (Sends::Everything, error) => Failure::from_error(error, &self.profile),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.manager.shutdown();
    }
}

/// Whether `error` says the session's grant is dead: only a new login brings a token.
fn is_dead_grant(error: &Error) -> bool {
    matches!(
        error,
        Error::Reauthenticate { .. } | Error::PersonLogin { .. }
    )
}

/// A session whose grant is a person's login cannot renew by itself: one line saying
/// so, and the command to run. A session that never logged in says that instead.
pub(crate) fn person_login_needed(error: &Error, profile: &str) -> Failure {
    let message = match error {
        Error::PersonLogin {
            ended: None,
            failure: None,
        } => format!("profile `{profile}` is not logged in; run: tokenctl login -p {profile}"),
        _ => format!("the login expired; run: tokenctl login -p {profile}"),
    };
    Failure::new(Exit::NeedsLogin, message)
}

/// When a session whose credentials were rejected tries again by itself, in a clause.
pub(crate) fn retry_clause(retry_at: UtcDateTime, attempts_left: Option<u32>) -> String {
    let at = crate::time_format::rfc3339(retry_at);
    match attempts_left {
        Some(0) => format!("the session tries them once more by itself at {at}, and then no more"),
        Some(1) => {
            format!("the session tries them again by itself at {at}, and once more after that")
        }
        Some(left) => format!(
            "the session tries them again by itself at {at}, and {left} more times after that"
        ),
        None => format!("the session tries them again by itself at {at}, and slowly after that"),
    }
}

/// How a status reads in a sentence.
pub(crate) fn describe(status: &Status) -> String {
    match status {
        Status::Ready => "ready".into(),
        Status::Renewing => "renewing".into(),
        Status::Waiting { retry_at, reason } => format!(
            "waiting until {}: {reason}",
            crate::time_format::rfc3339(*retry_at)
        ),
        Status::NeedsLogin { error } => format!("stopped: {error}"),
        Status::Revoked => "revoked".into(),
        other => format!("{other:?}"),
    }
}

/// What the session would send first after `act`, rendered with secrets redacted, or
/// why it would send nothing. Sends nothing. `dialect` may hold stand-ins for secrets.
pub(crate) fn dry_run<D: Dialect>(
    dialect: D,
    policy: &Policy,
    store: &dyn SessionStore,
    now: UtcDateTime,
    act: impl FnOnce(&mut Driver<D>, UtcDateTime),
) -> Result<String, Failure> {
    // A request the stored session had in flight is lost: the core says so itself at
    // the first input.
    let (mut driver, _) = driver(dialect, policy, store)?;
    driver.handle_timeout(now);
    act(&mut driver, now);
    // Why a request could not be formed (its assertion), to say with what is due next.
    let mut unformed: Option<String> = None;
    for _ in 0..64 {
        match driver.poll_output() {
            Output::Request(request) => {
                let credentials = driver.session().dialect().secrets();
                let mut secrets: Vec<String> = credentials.iter().map(str::to_owned).collect();
                if let Some(tokens) = driver.session().tokens() {
                    secrets.push(tokens.access_token().to_owned());
                    if let Some(refresh) = tokens.refresh_token() {
                        secrets.push(refresh.secret().to_owned());
                    }
                }
                let rendered = redact::request(&request, &secrets);
                return Ok(format!(
                    "would send ({}), and sends nothing:\n{rendered}",
                    request.purpose()
                ));
            }
            Output::Timeout(at) => {
                let because = unformed
                    .map(|error| format!("\nthe request could not be formed: {error}"))
                    .unwrap_or_default();
                return Ok(format!(
                    "nothing would be sent now; the session is {}, next due at {}{because}",
                    describe(&driver.status()),
                    crate::time_format::rfc3339(at)
                ));
            }
            Output::Idle => {
                return Ok(format!(
                    "nothing would be sent; the session is {}",
                    describe(&driver.status())
                ))
            }
            Output::Event(Event::RetryScheduled { error, .. })
                if error
                    .failure()
                    .is_some_and(|failure| matches!(failure.kind(), FailureKind::Assertion(_))) =>
            {
                unformed = Some(error.to_string());
            }
            Output::Event(_) | Output::Persist => {}
        }
    }
    Err(Failure::new(Exit::Internal, "the session never settled"))
}
