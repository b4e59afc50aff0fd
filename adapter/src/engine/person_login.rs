//! A person's login through the engine: the commands that start, feed and cancel one,
//! the application's prompt callback, the request builder the runtimes call with fresh
//! entropy, the refusals a command's caller reads back, and the one error every manager
//! returns for a person's login.
//!
//! The core decides everything about the login; the engine routes the commands to its
//! driver and sorts a refusal by what the session holds; a runtime binds the listener,
//! hands the redirect over, and waits on the read side: for a token, or for
//! [`Status::NeedsLogin`] with [`Error::PersonLogin`] and `ended: Some(_)`.

use std::fmt;
use std::sync::Arc;

use oauth_lifecycle::dialect::authorization::{
    AuthorizationRequest, AuthorizationRequestBuilder, AuthorizationRequestError, RedirectError,
    ENTROPY_BYTES,
};
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    Dialect, Error, LoginPrompt, Misuse, PersonLoginEnd, RedirectRefused, StateName, Status,
};
use zeroize::Zeroizing;

use super::Engine;
use crate::published::{PublishedToken, Readiness, TokenCell, WaitError};
use crate::redirect_listener::ListenerError;

/// The application's prompt callback: called with every
/// [`Event::LoginPrompt`](oauth_lifecycle::Event::LoginPrompt) the session emits (the
/// device grant's code and address, or the browser's authorization URL).
///
/// It runs on the manager's driving thread or task, between two steps of the engine:
/// return quickly (print the code, hand the URL to a browser launcher, post to a
/// channel), never block on the person, and never call back into the manager and wait
/// for it. A panic in it is caught and traced; the login goes on. The prompt also stays
/// visible in the manager's status ([`Status::AwaitingPerson`]) until the login ends.
pub type LoginPromptCallback = Arc<dyn Fn(&LoginPrompt) + Send + Sync>;

/// A command of a person's login, queued with [`Mailbox::person_login`](crate::Mailbox::person_login)
/// and applied by the engine at its next poll. Read [`Ack::refusal`](crate::Ack::refusal)
/// once it is acknowledged: the session may refuse it (traced, never with a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PersonLoginCommand {
    /// Start a person's login with the device authorization grant (RFC 8628), from a
    /// session without a token. The prompt (the code and where to enter it) goes to the
    /// prompt callback and stays in the status ([`Status::AwaitingPerson`]); the session
    /// polls by itself until a token is issued or the login ends
    /// ([`Status::NeedsLogin`] with [`Error::PersonLogin`] and `ended: Some(_)`).
    StartDevice,
    /// Start a person's login with the authorization code grant and PKCE, with this
    /// request (built for the listener's redirect URI with fresh entropy:
    /// [`AuthorizationRequests::build`]). The URL to open goes to the prompt callback and
    /// stays in the status.
    StartBrowser(Box<AuthorizationRequest>),
    /// Hand over the redirect of a browser login, as the listener received it; wiped
    /// once applied. The refusal says whether it was ignored (keep listening:
    /// [`Refusal::RedirectIgnored`]) or ended the login ([`Refusal::RedirectEnded`]).
    Redirect(RedirectTarget),
    /// Abandon a person's login that waits for the person (the listener timed out, the
    /// person went away): it ends as [`PersonLoginEnd::Cancelled`].
    Cancel,
}

/// The request target of a browser login's redirect (`/callback?code=…&state=…`), as the
/// loopback listener received it, on its way to the engine
/// ([`PersonLoginCommand::Redirect`]).
///
/// It carries the authorization code and the `state`: it is wiped when dropped, and
/// `Debug` shows its path only.
#[derive(Clone, PartialEq, Eq)]
pub struct RedirectTarget(Zeroizing<String>);

impl RedirectTarget {
    /// Wraps `target`, which is wiped with this value.
    pub fn new(target: String) -> Self {
        RedirectTarget(Zeroizing::new(target))
    }

    /// The target, as received.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.0
            .split_once('?')
            .map_or(self.0.as_str(), |(path, _)| path)
    }
}

impl From<&str> for RedirectTarget {
    fn from(target: &str) -> Self {
        RedirectTarget::new(target.to_owned())
    }
}

impl fmt::Debug for RedirectTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RedirectTarget");
        debug.field("path", &self.path());
        if self.0.contains('?') {
            debug.field("query", &"[redacted]");
        }
        debug.finish()
    }
}

/// Why the engine did not apply a command as asked: read it with
/// [`Ack::refusal`](crate::Ack::refusal) once the command is acknowledged. The session
/// is unchanged, except where a redirect ended the login
/// ([`RedirectEnded`](Refusal::RedirectEnded)).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A person's login was asked for, but the session holds a token that renews by
    /// itself (it is active, expiring or refreshing). A session whose renewal halted
    /// (its refresh grant is dead, [`Status::NeedsLogin`] while the token is still
    /// served) takes one: its token gives way.
    #[error("the session already holds a token (valid until {})", oauth_lifecycle::Rfc3339(*.valid_until))]
    AlreadyLoggedIn {
        /// The last moment the session's token may be handed out.
        valid_until: UtcDateTime,
    },
    /// A person's login was asked for while another is under way: the person has a
    /// prompt already ([`Status::AwaitingPerson`]), or its answer is being exchanged.
    #[error("a person's login is already under way")]
    LoginInProgress,
    /// The session refused the command: the dialect is not configured for that login
    /// ([`Misuse::PersonLoginUnsupported`]), the request budget is spent
    /// ([`Misuse::TooEarly`]), no login awaits a redirect or a cancel
    /// ([`Misuse::WrongState`]), the session is revoked.
    #[error(transparent)]
    Misuse(Misuse),
    /// The redirect is not shown to answer the login's request (a wrong `state`, another
    /// path): ignored, and the session still waits for the real one. Keep listening.
    #[error("the redirect was ignored: {error}")]
    RedirectIgnored {
        /// Why it was not taken.
        error: RedirectError,
    },
    /// The redirect answered the login's request unusably (an error redirect such as
    /// `access_denied`, a wrong `iss`, no code): the login ended.
    #[error("the redirect ended the login: {error}")]
    RedirectEnded {
        /// Why it was refused.
        error: RedirectError,
        /// How the login ended, as the session says: [`PersonLoginEnd::Denied`] for
        /// `access_denied`, else [`PersonLoginEnd::Redirect`].
        ended: PersonLoginEnd,
    },
}

// The engine's side: the commands routed to the driver, refusals traced and sorted.
impl<D: Dialect> Engine<D> {
    /// Applies a command of a person's login; returns why the session refused it, if it
    /// did. Traces never show a secret: no URL query, no code, no `state`.
    pub(super) fn apply_person_login(
        &mut self,
        command: PersonLoginCommand,
        now: UtcDateTime,
    ) -> Option<Refusal> {
        match command {
            PersonLoginCommand::StartDevice => {
                tracing::info!("a person's login with the device grant asked for");
                let refused = self.driver.authorize_device(now).err()?;
                Some(self.start_refused(refused, "device login refused"))
            }
            PersonLoginCommand::StartBrowser(request) => {
                tracing::info!(
                    redirect_uri = request.redirect_uri(),
                    "a person's login in a browser asked for"
                );
                let refused = self.driver.authorize(*request, now).err()?;
                Some(self.start_refused(refused, "browser login refused"))
            }
            PersonLoginCommand::Redirect(target) => {
                let result = self.driver.handle_redirect(target.as_str(), now);
                let path = target.path().to_owned();
                // Wiped here: the code and the state go no further.
                drop(target);
                match result {
                    Ok(()) => {
                        tracing::info!(%path, "redirect taken; exchanging the code");
                        None
                    }
                    Err(refused) => Some(self.redirect_refused(refused, &path)),
                }
            }
            PersonLoginCommand::Cancel => {
                tracing::info!("cancelling the person's login");
                let misuse = self.driver.cancel_login(now).err()?;
                tracing::info!(%misuse, "no person's login to cancel");
                Some(Refusal::Misuse(misuse))
            }
        }
    }

    /// A start refused: sorted by what the session holds, and traced.
    fn start_refused(&self, misuse: Misuse, message: &'static str) -> Refusal {
        let session = self.driver.session();
        let valid_until = session.tokens().map(|tokens| tokens.hard_expiry());
        let refusal = sort_start_refusal(misuse, session.state(), valid_until);
        tracing::warn!(refusal = %refusal, "{message}");
        refusal
    }

    /// A redirect refused: ignored, or the end of the login as the session says.
    fn redirect_refused(&self, refused: RedirectRefused, path: &str) -> Refusal {
        match refused {
            RedirectRefused::Redirect {
                error,
                ended: false,
            } => {
                tracing::warn!(%path, %error, "redirect ignored: not this login's answer");
                Refusal::RedirectIgnored { error }
            }
            RedirectRefused::Redirect { error, ended: true } => {
                let ended = match self.driver.status() {
                    Status::NeedsLogin {
                        error:
                            Error::PersonLogin {
                                ended: Some(ended), ..
                            },
                    } => ended,
                    _ => PersonLoginEnd::Redirect,
                };
                tracing::warn!(%path, %error, %ended, "the redirect ended the person's login");
                Refusal::RedirectEnded { error, ended }
            }
            RedirectRefused::Misuse(misuse) => {
                tracing::warn!(%path, %misuse, "redirect refused");
                Refusal::Misuse(misuse)
            }
            other => {
                tracing::warn!(%path, refused = %other, "redirect refused");
                Refusal::Misuse(Misuse::WrongState {
                    operation: "take a redirect",
                    state: self.driver.session().state_name(),
                })
            }
        }
    }
}

/// Shows the application a prompt through its callback; a panic in it is traced, and
/// the engine goes on.
pub(super) fn show(callback: &LoginPromptCallback, prompt: &LoginPrompt) {
    let shown = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(prompt)));
    if shown.is_err() {
        tracing::error!("the login prompt callback panicked");
    }
}

/// What a start of a person's login refused for its state means: the session holds a
/// token, or a login is under way; anything else stays the core's misuse.
pub(crate) fn sort_start_refusal(
    misuse: Misuse,
    state: StateName,
    valid_until: Option<UtcDateTime>,
) -> Refusal {
    if !matches!(misuse, Misuse::WrongState { .. }) {
        return Refusal::Misuse(misuse);
    }
    match state {
        StateName::AuthorizingDevice
        | StateName::AwaitingApproval
        | StateName::AwaitingRedirect
        | StateName::ExchangingCode => Refusal::LoginInProgress,
        StateName::Active | StateName::Expiring | StateName::Refreshing => match valid_until {
            Some(valid_until) => Refusal::AlreadyLoggedIn { valid_until },
            None => Refusal::Misuse(misuse),
        },
        _ => Refusal::Misuse(misuse),
    }
}

/// Builds the authorization requests of browser logins for the engine's dialect, each
/// with 64 fresh bytes from the operating system's CSPRNG: what a runtime calls once its
/// listener is bound and the redirect URI known. [`Engine::authorization_requests`](crate::Engine::authorization_requests)
/// hands one out; clones share the dialect.
#[derive(Clone)]
pub struct AuthorizationRequests {
    build: Arc<RequestFor>,
}

/// The dialect's authorization request to a redirect URI, before its entropy.
type RequestFor = dyn Fn(&str) -> Option<AuthorizationRequestBuilder> + Send + Sync;

impl AuthorizationRequests {
    pub(crate) fn of<D: Dialect>(dialect: Arc<D>) -> Self {
        AuthorizationRequests {
            build: Arc::new(move |redirect_uri| dialect.authorization_request(redirect_uri)),
        }
    }

    /// The authorization request to `redirect_uri`, its `state` and PKCE verifier made
    /// from fresh operating-system entropy (wiped once used).
    ///
    /// Fails with [`PersonLoginError::Unsupported`] when the dialect has no authorization
    /// endpoint, [`PersonLoginError::Entropy`] when the operating system gives no random
    /// bytes, and [`PersonLoginError::Request`] when the request cannot be built (a
    /// redirect URI or scope it refuses).
    pub fn build(&self, redirect_uri: &str) -> Result<AuthorizationRequest, PersonLoginError> {
        let builder = (self.build)(redirect_uri).ok_or(PersonLoginError::Unsupported(
            Misuse::PersonLoginUnsupported {
                login: "the authorization code grant",
            },
        ))?;
        let mut entropy = Zeroizing::new([0u8; ENTROPY_BYTES]);
        getrandom::fill(entropy.as_mut_slice()).map_err(PersonLoginError::Entropy)?;
        builder
            .build(&mut entropy)
            .map_err(PersonLoginError::Request)
    }
}

impl fmt::Debug for AuthorizationRequests {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequests")
            .finish_non_exhaustive()
    }
}

/// Why a person's login through a manager gave no token, sorted by what the caller does
/// about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersonLoginError {
    // The person: ask them again, if they want to.
    /// The login ended without a token: the person denied it
    /// ([`PersonLoginEnd::Denied`]), did not finish before the code expired
    /// ([`Expired`](PersonLoginEnd::Expired)), the server refused the code
    /// ([`Refused`](PersonLoginEnd::Refused)), the exchange was lost in transport
    /// ([`Lost`](PersonLoginEnd::Lost)), or it was cancelled
    /// ([`Cancelled`](PersonLoginEnd::Cancelled)). The session waits, unauthenticated,
    /// for a new login.
    #[error("the person's login ended without a token: {error}")]
    Ended {
        /// How it ended.
        ended: PersonLoginEnd,
        /// The core's error ([`Error::PersonLogin`]), with the server's answer if it gave
        /// one.
        error: Error,
    },
    /// The browser came back with a redirect that answered the request unusably (an
    /// error redirect such as `access_denied`, a wrong `iss`, no code): the login ended.
    #[error("the login's redirect was refused: {error}")]
    Redirect {
        /// Why the redirect was refused.
        error: RedirectError,
        /// How the login ended: [`PersonLoginEnd::Denied`] for `access_denied`, else
        /// [`PersonLoginEnd::Redirect`].
        ended: PersonLoginEnd,
    },
    /// No token within the caller's timeout, or no redirect before the listener's: the
    /// login was cancelled (unless it ended meanwhile), and `status` says where the
    /// session stands now.
    #[error("the person's login gave no token in time; the session: {status}")]
    TimedOut {
        /// Where the session stood once the wait ended.
        status: Status,
    },

    // The machine: fix the listener's configuration, or try another port.
    /// The loopback redirect listener failed (the port is taken, the path is invalid, the
    /// socket failed, too many connections came without the redirect). A login started
    /// was cancelled.
    #[error(transparent)]
    Listener(ListenerError),
    /// The operating system gave no random bytes for the request's `state` and PKCE
    /// verifier.
    #[error("no entropy for the authorization request: {0}")]
    Entropy(getrandom::Error),
    /// The authorization request could not be built for the listener's redirect URI.
    #[error(transparent)]
    Request(AuthorizationRequestError),

    // The program: nothing to log in for, or not now.
    /// The session holds a token that renews by itself (see
    /// [`Refusal::AlreadyLoggedIn`]). Nothing changed.
    #[error("the session already holds a token (valid until {})", oauth_lifecycle::Rfc3339(*.valid_until))]
    AlreadyLoggedIn {
        /// The last moment the session's token may be handed out.
        valid_until: UtcDateTime,
    },
    /// Another person's login is under way. Nothing changed.
    #[error("a person's login is already under way")]
    LoginInProgress,
    /// The dialect is not configured for this login
    /// ([`Misuse::PersonLoginUnsupported`]). Nothing changed.
    #[error(transparent)]
    Unsupported(Misuse),
    /// The session refused the login for another reason (the request budget is spent:
    /// [`Misuse::TooEarly`]). Nothing changed.
    #[error(transparent)]
    Refused(Misuse),
    /// The session needs a login for another reason than this login's end (new
    /// credentials, a rejected client).
    #[error("the session needs a new login: {error}")]
    NeedsLogin {
        /// The core's reason.
        error: Error,
    },
    /// The session is revoked: it will never log in again.
    #[error("the session is revoked")]
    Revoked,
    /// The manager is shut down.
    #[error("the token manager is shut down")]
    Closed,
}

impl PersonLoginError {
    /// How the login ended, when it ended ([`Ended`](Self::Ended),
    /// [`Redirect`](Self::Redirect)).
    pub fn ended(&self) -> Option<PersonLoginEnd> {
        match self {
            PersonLoginError::Ended { ended, .. } | PersonLoginError::Redirect { ended, .. } => {
                Some(*ended)
            }
            _ => None,
        }
    }

    /// What a start command's refusal means for its caller.
    pub fn from_refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::AlreadyLoggedIn { valid_until } => {
                PersonLoginError::AlreadyLoggedIn { valid_until }
            }
            Refusal::LoginInProgress => PersonLoginError::LoginInProgress,
            Refusal::Misuse(misuse @ Misuse::PersonLoginUnsupported { .. }) => {
                PersonLoginError::Unsupported(misuse)
            }
            Refusal::Misuse(Misuse::Revoked) => PersonLoginError::Revoked,
            Refusal::Misuse(misuse) => PersonLoginError::Refused(misuse),
            Refusal::RedirectEnded { error, ended } => PersonLoginError::Redirect { error, ended },
            // Only a caller that hands a redirect over and reads this for it: the login
            // goes on.
            Refusal::RedirectIgnored { .. } => PersonLoginError::LoginInProgress,
        }
    }

    /// What a refused redirect means for its caller, the session then standing at
    /// `status`: the login ended on it ([`Redirect`](Self::Redirect)), or had ended
    /// before it came (expired, cancelled: [`Ended`](Self::Ended)), or another refusal.
    /// [`Refusal::RedirectIgnored`] is not an error: keep listening.
    pub fn from_redirect_refusal(refusal: Refusal, status: Status) -> Self {
        match refusal {
            Refusal::Misuse(Misuse::WrongState { .. }) => match Self::ended_in(status) {
                Some(ended) => ended,
                None => Self::from_refusal(refusal),
            },
            refusal => Self::from_refusal(refusal),
        }
    }

    /// The end of a person's login, if `status` says one ended
    /// ([`Status::NeedsLogin`] with [`Error::PersonLogin`] and `ended: Some(_)`).
    pub fn ended_in(status: Status) -> Option<Self> {
        match status {
            Status::NeedsLogin {
                error:
                    error @ Error::PersonLogin {
                        ended: Some(ended), ..
                    },
            } => Some(PersonLoginError::Ended { ended, error }),
            _ => None,
        }
    }

    /// What the acknowledgement of a redirect a runtime's listener received means: `Ok(true)`
    /// when the session took it (the code is being exchanged), `Ok(false)` when it ignored
    /// it (another request's, a forgery: listen again), or the login's typed end.
    pub fn after_redirect(refusal: Option<Refusal>, status: Status) -> Result<bool, Self> {
        match refusal {
            None => Ok(true),
            Some(Refusal::RedirectIgnored { .. }) => Ok(false),
            Some(refusal) => Err(Self::from_redirect_refusal(refusal, status)),
        }
    }

    /// What a login the runtime cancelled (after its own timeout, or a listener that
    /// failed) ended in, once the cancel was applied: the token, if one came meanwhile; the
    /// login's own end, if it ended by itself before the cancel (`cancel_refused`);
    /// otherwise the timeout, or the listener's failure.
    pub fn after_cancel(
        cell: &TokenCell,
        cancel_refused: bool,
        listener: Option<ListenerError>,
    ) -> Result<Arc<PublishedToken>, Self> {
        if let Readiness::Ready(token) = cell.readiness(None) {
            return Ok(token);
        }
        if cancel_refused {
            // Nothing to cancel: the login had ended by itself.
            if let Some(ended) = Self::ended_in(cell.status()) {
                return Err(ended);
            }
        }
        match listener {
            Some(ListenerError::TimedOut { .. }) | None => Err(PersonLoginError::TimedOut {
                status: cell.status(),
            }),
            Some(error) => Err(PersonLoginError::Listener(error)),
        }
    }

    /// What the end of a wait on the read side means for a person's login: its end
    /// (`NeedsLogin` with [`Error::PersonLogin`] and `ended: Some(_)`), or another reason.
    /// A timeout becomes [`TimedOut`](Self::TimedOut).
    pub fn from_wait(error: WaitError) -> Self {
        match error {
            WaitError::NeedsLogin {
                error:
                    error @ Error::PersonLogin {
                        ended: Some(ended), ..
                    },
            } => PersonLoginError::Ended { ended, error },
            WaitError::NeedsLogin { error } | WaitError::Rejected { error, .. } => {
                PersonLoginError::NeedsLogin { error }
            }
            WaitError::Timeout { status } => PersonLoginError::TimedOut { status },
            WaitError::Revoked => PersonLoginError::Revoked,
            WaitError::Closed => PersonLoginError::Closed,
        }
    }
}

impl From<Refusal> for PersonLoginError {
    fn from(refusal: Refusal) -> Self {
        PersonLoginError::from_refusal(refusal)
    }
}

impl From<WaitError> for PersonLoginError {
    fn from(error: WaitError) -> Self {
        PersonLoginError::from_wait(error)
    }
}

impl From<ListenerError> for PersonLoginError {
    fn from(error: ListenerError) -> Self {
        PersonLoginError::Listener(error)
    }
}

impl From<crate::Closed> for PersonLoginError {
    fn from(_: crate::Closed) -> Self {
        PersonLoginError::Closed
    }
}
