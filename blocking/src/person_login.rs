//! A person's login through the blocking manager: the device grant, and the
//! authorization code grant with the loopback listener. The caller's thread binds,
//! listens and waits; the background thread applies the commands; the core decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_lifecycle_adapter::redirect_listener::{ListenerError, LoopbackRedirect};
use oauth_lifecycle_adapter::{
    Command, PersonLoginCommand, PersonLoginError, PublishedToken, RedirectTarget,
};

use crate::manager::TokenManager;
use crate::redirect_listener::RedirectListener;

impl TokenManager {
    /// Logs a person in with the device authorization grant (RFC 8628): starts the
    /// login, then waits, at most `timeout`, for the token or the login's end.
    ///
    /// The prompt — the code and where to enter it — goes to the callback given to
    /// [`on_login_prompt`](crate::TokenManagerBuilder::on_login_prompt) as soon as the
    /// server answered, and stays in [`status`](Self::status)
    /// ([`Status::AwaitingPerson`](oauth_lifecycle::Status::AwaitingPerson)) while the
    /// session polls. The token is published as any other: readers see it, and the
    /// session renews it by itself from then on.
    ///
    /// A person's login starts only from a session without a token:
    /// [`PersonLoginError::AlreadyLoggedIn`] while one is held (even one whose renewal
    /// halted: the session takes a new login once it reached its hard expiry), and
    /// [`PersonLoginError::LoginInProgress`] while another login waits for a person.
    /// Past `timeout` the login is cancelled ([`PersonLoginError::TimedOut`]); a token
    /// that came meanwhile is returned all the same. The person denying, the code
    /// expiring or the server refusing end it with [`PersonLoginError::Ended`];
    /// [`PersonLoginError::Unsupported`] when the dialect has no device authorization
    /// endpoint.
    pub fn login_with_device(
        &self,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, PersonLoginError> {
        let deadline = Instant::now().checked_add(timeout);
        self.start_person_login(PersonLoginCommand::StartDevice)?;
        self.await_person_login(deadline)
    }

    /// Logs a person in with the authorization code grant and PKCE, in their browser,
    /// with a one-shot loopback listener configured by `listener` (RFC 8252 §7.3).
    ///
    /// In order: binds the listener (so that the redirect URI carries the real port),
    /// builds the authorization request from the dialect with fresh entropy from the
    /// operating system, starts the login — the URL goes to the callback given to
    /// [`on_login_prompt`](crate::TokenManagerBuilder::on_login_prompt) and stays in
    /// [`status`](Self::status): opening the person's browser on it is the
    /// application's job — then accepts redirects on this thread until one is taken or
    /// ends the login. A redirect that is not this login's answer (a wrong `state`) is
    /// ignored, and the listener goes on, within its own timeout
    /// ([`LoopbackRedirect::timeout`]); once it is past, the login is cancelled
    /// ([`PersonLoginError::TimedOut`]). Once a redirect is taken, waits at most
    /// `timeout` for the code's exchange.
    ///
    /// An error redirect (`access_denied`, a wrong `iss`) ends the login with
    /// [`PersonLoginError::Redirect`]; a listener that cannot bind or fails, with
    /// [`PersonLoginError::Listener`]. Refused as [`login_with_device`](Self::login_with_device)
    /// is while the session holds a token or another login is under way;
    /// [`PersonLoginError::Unsupported`] when the dialect has no authorization endpoint.
    pub fn login_in_browser(
        &self,
        listener: &LoopbackRedirect,
        timeout: Duration,
    ) -> Result<Arc<PublishedToken>, PersonLoginError> {
        let mut listener = RedirectListener::bind(listener)?;
        let request = self
            .inner
            .authorization_requests
            .build(listener.redirect_uri())?;
        self.start_person_login(PersonLoginCommand::StartBrowser(Box::new(request)))?;
        loop {
            let redirect = match listener.accept() {
                Ok(redirect) => redirect,
                Err(error) => return self.abandon_person_login(Some(error)),
            };
            let ack = self
                .inner
                .mailbox
                .person_login(PersonLoginCommand::Redirect(RedirectTarget::from(
                    redirect.target(),
                )));
            drop(redirect);
            ack.wait_blocking()?;
            if PersonLoginError::after_redirect(ack.refusal(), self.inner.cell.status())? {
                break;
            }
        }
        self.await_person_login(Instant::now().checked_add(timeout))
    }

    /// Abandons a person's login that waits for the person (from another thread than
    /// the one waiting in [`login_with_device`](Self::login_with_device) or
    /// [`login_in_browser`](Self::login_in_browser), when the person went away): it ends
    /// as [`PersonLoginEnd::Cancelled`](oauth_lifecycle::PersonLoginEnd::Cancelled), the
    /// waiting call returns [`PersonLoginError::Ended`] (a browser login's at its next
    /// redirect, or once its listener times out), and the session waits for a new
    /// login. Returns once applied; without such a login, nothing changes.
    pub fn cancel_person_login(&self) -> Result<(), oauth_lifecycle_adapter::Closed> {
        self.inner
            .mailbox
            .person_login(PersonLoginCommand::Cancel)
            .wait_blocking()
    }

    /// Asks the background thread to start a person's login; its refusal, typed.
    fn start_person_login(&self, command: PersonLoginCommand) -> Result<(), PersonLoginError> {
        let ack = self.inner.mailbox.person_login(command);
        ack.wait_blocking()?;
        match ack.refusal() {
            None => Ok(()),
            Some(refusal) => Err(refusal.into()),
        }
    }

    /// Waits until `deadline` for the token or the login's end; past it, cancels.
    fn await_person_login(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Arc<PublishedToken>, PersonLoginError> {
        let remaining = deadline.map_or(Duration::MAX, |at| {
            at.saturating_duration_since(Instant::now())
        });
        match self.inner.cell.wait_blocking(None, remaining) {
            Ok(token) => {
                // Returns once the status is published too: a caller reads it as ready.
                let _ = self.inner.mailbox.command(Command::Flush).wait_blocking();
                Ok(token)
            }
            Err(oauth_lifecycle_adapter::WaitError::Timeout { .. }) => {
                self.abandon_person_login(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Cancels the login after a timeout or a failed listener. A token that came
    /// meanwhile is returned; a login that ended meanwhile says how.
    fn abandon_person_login(
        &self,
        listener: Option<ListenerError>,
    ) -> Result<Arc<PublishedToken>, PersonLoginError> {
        let ack = self.inner.mailbox.person_login(PersonLoginCommand::Cancel);
        ack.wait_blocking()?;
        PersonLoginError::after_cancel(&self.inner.cell, ack.refusal().is_some(), listener)
    }
}
