//! What the commands prepare alike: the secrets a request may carry (and so which
//! requests may leave), what the stored session says, and a dry run.

use oauth_lifecycle::{Dialect, Driver, Generation, Status};
use oauth_lifecycle_adapter::SessionStore;

use crate::context::{now, Context};
use crate::credentials;
use crate::dialects::{self, with_dialect};
use crate::failure::Failure;
use crate::limited::Sends;
use crate::secrets::{self, PasswordUse, Secrets};
use crate::session;
use crate::session_file::SessionFile;

/// The secrets for requests, and which requests they allow: without the password (not
/// in its variable, and not asked for) a session refreshes but does not log in.
pub(crate) fn secrets(
    context: &Context,
    password: PasswordUse,
) -> Result<(Secrets, Sends), Failure> {
    let secrets = secrets::resolve(&context.name, &context.profile, context.prompting, password)?;
    let sends = if context.profile.logs_in_as_user() && secrets.get("password").is_none() {
        Sends::NoLogin
    } else {
        Sends::Everything
    };
    Ok((secrets, sends))
}

/// The stored session's status and generation, read without any secret; `None` when
/// nothing is stored.
pub(crate) fn stored_status(
    context: &Context,
    scope: Option<&str>,
    store: &dyn SessionStore,
) -> Result<Option<(Status, Generation)>, Failure> {
    let policy = context.policy();
    let reading = dialects::build(&context.name, &context.profile, &Secrets::default(), scope)?;
    with_dialect!(reading, Sends::Nothing, |dialect| {
        session::driver(dialect, &policy, store).map(|(driver, stored)| {
            stored.then(|| (driver.status(), driver.session().generation()))
        })
    })
}

/// After a run of the manager with `secrets`: keeps the record of a rejection of the
/// credentials in step with the stored session ([`credentials::settle`]). A session that
/// cannot be read now leaves the record as it is.
pub(crate) fn settle_rejection(
    context: &Context,
    scope: Option<&str>,
    store: &dyn SessionStore,
    file: &SessionFile,
    secrets: &Secrets,
) {
    if let Ok(stored) = stored_status(context, scope, store) {
        let status = stored.map(|(status, _)| status);
        credentials::settle(
            file,
            &context.name,
            &context.profile,
            secrets,
            status.as_ref(),
        );
    }
}

/// What a command would make the session do, for `--dry-run`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Act {
    /// Whatever is due now.
    Timeout,
    /// Renew now.
    Renew,
    /// Log in now (a session already logged in sends nothing).
    Login,
    /// Revoke.
    Revoke,
    /// Start a person's login with the device grant (from a fresh session).
    AuthorizeDevice,
}

impl Act {
    fn apply<D: Dialect>(self, driver: &mut Driver<D>, now: oauth_lifecycle::time::UtcDateTime) {
        match self {
            Act::Timeout => driver.handle_timeout(now),
            Act::Renew => {
                let _ = driver.renew(now);
            }
            Act::Login => {
                driver.handle_timeout(now);
                let _ = driver.login(now);
            }
            Act::Revoke => driver.revoke(now),
            Act::AuthorizeDevice => {
                let _ = driver.authorize_device(now);
            }
        }
    }
}

/// The request `act` would send first from the session in `store`, secrets redacted;
/// sends nothing and needs no secret.
pub(crate) fn dry_run(
    context: &Context,
    scope: Option<&str>,
    store: &dyn SessionStore,
    act: Act,
) -> Result<String, Failure> {
    let policy = context.policy();
    let secrets = Secrets::for_dry_run(&context.name, &context.profile)?;
    let dialect = dialects::build(&context.name, &context.profile, &secrets, scope)?;
    with_dialect!(dialect, Sends::Everything, |dialect| session::dry_run(
        dialect,
        &policy,
        store,
        now(),
        |driver, now| act.apply(driver, now)
    ))
}
