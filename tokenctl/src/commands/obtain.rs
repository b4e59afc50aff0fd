//! Getting a token that satisfies the user: from the stored session when it will do,
//! else by running the manager over it, one invocation at a time.

use std::sync::Arc;

use oauth_lifecycle::{Dialect, Generation, Status, WaitReason};
use oauth_lifecycle_adapter::SessionStore;
use oauth_lifecycle_blocking::PublishedToken;

use crate::cli::Want;
use crate::commands::prepare::{self, Act};
use crate::context::{now, Context};
use crate::credentials::{self, Rejection};
use crate::dialects::{self, with_dialect};
use crate::failure::{Exit, Failure};
use crate::limited::Sends;
use crate::secrets::{self, PasswordUse, Secrets};
use crate::session::{self, Issued, Running, Stored};
use crate::session_file::SessionFile;
use crate::time_format::{rfc3339, span};

/// What `obtain` came back with.
pub(crate) enum Obtained {
    /// A token.
    Token(Issued),
    /// `--dry-run`: what would have been sent.
    DryRun(String),
}

/// What a run of the manager is asked to do.
#[derive(Debug, Clone, Copy)]
enum Goal {
    /// A token: the stored one, or whatever the session does by itself to get one.
    Any,
    /// A token newer than this generation; `ask`: the session must be asked to renew
    /// (it would not by itself yet).
    Newer { generation: Generation, ask: bool },
    /// An explicit login now, whatever the session was waiting for; then a token newer
    /// than this generation.
    Login { generation: Generation },
}

/// A token with at least `want.min_ttl` left (renewed if `want.force_refresh`).
///
/// Invocations on one session take turns (the session file's lock): the first renews,
/// the others then find its token in the store and send nothing. A single-use refresh
/// token is therefore spent once, however many run at once.
pub(crate) fn obtain(context: &Context, want: &Want) -> Result<Obtained, Failure> {
    check_want(context, want)?;
    let scope = want.scope.scope.as_deref();
    let file = context.session_file(scope);
    let _turn = file.lock(context.timeout)?;
    obtain_in_turn(context, want, &file)
}

/// What the command line asks that no session can give: refused before anything is
/// read or sent.
fn check_want(context: &Context, want: &Want) -> Result<(), Failure> {
    context.check_scope(want.scope.scope.as_deref())?;
    if let Some(min_ttl) = want.min_ttl {
        let longest = context.policy().max_lifetime;
        if oauth_lifecycle::time::Duration::try_from(min_ttl).is_ok_and(|min| min >= longest) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--min-ttl {} is more than any token lasts here (at most {})",
                    span(min_ttl.as_secs() as i64),
                    span(longest.whole_seconds())
                ),
            )
            .fix("ask for a shorter --min-ttl"));
        }
    }
    Ok(())
}

fn obtain_in_turn(context: &Context, want: &Want, file: &SessionFile) -> Result<Obtained, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = want.scope.scope.as_deref();
    let store = file.store(name, profile)?;
    let policy = context.policy();
    let now = now();

    // The stored session, read without any secret.
    let reading = dialects::build(name, profile, &Secrets::default(), scope)?;
    let reading = with_dialect!(reading, Sends::Nothing, |dialect| session::read(
        dialect,
        &policy,
        &*store,
        want.min_ttl,
        want.force_refresh,
        name,
        now
    ))?;
    // The provider's tokens, as the stored one shows them, cannot last --min-ttl: a
    // usage error, found before anything is sent.
    if let (Some(min_ttl), Some(life)) = (want.min_ttl, reading.token_life) {
        if oauth_lifecycle::time::Duration::try_from(min_ttl).is_ok_and(|min| min >= life) {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--min-ttl {} is more than the provider's tokens last: {} from issue (nothing was sent)",
                    span(min_ttl.as_secs() as i64),
                    span(life.whole_seconds())
                ),
            )
            .fix(format!(
                "ask for less than --min-ttl {}",
                span(life.whole_seconds())
            )));
        }
    }
    if context.dry_run {
        let act = match reading.stored {
            Stored::Renew { .. } => Act::Renew,
            Stored::Good { .. } | Stored::Nothing | Stored::Waiting { .. } => Act::Timeout,
        };
        return prepare::dry_run(context, scope, &*store, act).map(Obtained::DryRun);
    }

    // A rejection of the credentials that an earlier attempt met.
    if let Some(status) = reading
        .status
        .as_ref()
        .filter(|status| credentials::is_rejection(status))
    {
        let rejection = Rejection::load(file);
        let at_hand = secrets::at_hand(profile);
        if rejection
            .as_ref()
            .is_some_and(|rejection| rejection.changed(name, profile, &at_hand))
        {
            // The credentials changed since: tried at once, whatever the session was
            // waiting for.
            let goal = Goal::Login {
                generation: reading.generation,
            };
            return attempt(context, file, want, goal).map(Obtained::Token);
        }
        if let Some(stale) = stale_rejection(context, file, status, rejection.as_ref(), now) {
            // The same credentials: not sent again before the session's own retry.
            return match reading.stored {
                Stored::Good { issued, .. } => {
                    eprintln!(
                        "warning: {}; the token stored before it is still valid\n{}",
                        crate::time_format::localize(&stale.message),
                        stale.fix.as_deref().unwrap_or_default()
                    );
                    Ok(Obtained::Token(issued))
                }
                _ => Err(stale),
            };
        }
    }

    let goal = match reading.stored {
        Stored::Good { issued, warning } => {
            if let Some(warning) = warning {
                eprintln!("{}", crate::time_format::localize(&warning));
            }
            return Ok(Obtained::Token(issued));
        }
        Stored::Waiting {
            retry_at,
            throttled,
        } => {
            let at = rfc3339(retry_at);
            let (exit, message) = if throttled {
                (
                    Exit::Throttled,
                    format!("the provider throttled this session until {at}"),
                )
            } else {
                (
                    Exit::Unavailable,
                    format!("renewal failed; the next attempt is allowed at {at}"),
                )
            };
            let message = match file.last_failure() {
                Some(last) => format!("{message} (last failure: {})", last.message),
                None => message,
            };
            return Err(Failure::new(exit, message).fix(format!("try again after {at}")));
        }
        Stored::Nothing => Goal::Any,
        Stored::Renew { generation, ask } => Goal::Newer { generation, ask },
    };
    attempt(context, file, want, goal).map(Obtained::Token)
}

/// The failure to report for a rejection an earlier attempt met, if the session is not
/// about to try again by itself (`None` then: let it). Its message is in UTC, as every
/// recorded message is.
fn stale_rejection(
    context: &Context,
    file: &SessionFile,
    status: &Status,
    rejection: Option<&Rejection>,
    now: oauth_lifecycle::time::UtcDateTime,
) -> Option<Failure> {
    let name = &context.name;
    let then = match status {
        Status::Waiting {
            retry_at,
            reason: WaitReason::Rejected { attempts_left },
        } => {
            if *retry_at <= now {
                // Its own retry is due: the session tries again by itself.
                return None;
            }
            session::retry_clause(*retry_at, *attempts_left)
        }
        Status::NeedsLogin { error } => {
            // A dead refresh token without a rejected login is no rejection of the
            // credentials: the session says it needs a login.
            let login = rejection.is_some_and(|rejection| rejection.purpose == "login");
            if !matches!(error, oauth_lifecycle::Error::Rejected { .. }) && !login {
                return None;
            }
            "the session stopped trying them by itself".to_owned()
        }
        _ => return None,
    };
    let at = rejection.and_then(Rejection::at).or_else(|| {
        file.last_failure()
            .and_then(|failure| crate::time_format::parse_rfc3339(&failure.at))
    });
    let evidence = match (rejection, status) {
        (Some(rejection), _) => format!(" ({})", rejection.evidence),
        (None, Status::NeedsLogin { error }) => format!(" ({error})"),
        (None, _) => String::new(),
    };
    let when = match at {
        Some(at) => format!("at {}, in an earlier attempt", rfc3339(at)),
        None => "in an earlier attempt".to_owned(),
    };
    Some(
        Failure::new(
            Exit::Rejected,
            format!(
                "the provider rejected the credentials of profile `{name}` {when}{evidence}; nothing was sent now, and {then}"
            ),
        )
        .fix(format!(
            "fix the account or the secrets it names (changed ones are tried at once), or run: tokenctl login -p {name} to try the same ones again now"
        )),
    )
}

/// Runs the manager for `goal`, with the password if it is at hand, else by refresh
/// token alone, asking for the password only if a login turns out necessary; records
/// how it went, and checks the token against `want`.
fn attempt(
    context: &Context,
    file: &SessionFile,
    want: &Want,
    goal: Goal,
) -> Result<Issued, Failure> {
    let password = match goal {
        Goal::Login { .. } => PasswordUse::Login,
        Goal::Any | Goal::Newer { .. } => PasswordUse::IfAtHand,
    };
    let (secrets, sends) = prepare::secrets(context, password)?;
    let result = match run(context, file, &secrets, sends, want, goal) {
        Err(failure)
            if failure.exit == Exit::NeedsLogin
                && sends == Sends::NoLogin
                && context.prompting.allowed() =>
        {
            let (secrets, sends) = prepare::secrets(context, PasswordUse::Login)?;
            run(context, file, &secrets, sends, want, goal)
        }
        result => result,
    };
    // What the provider last said, for `inspect` and for the next run's messages.
    file.record_outcome(result.as_ref().map(|_| ()));
    let issued = result?;
    let left = issued.valid_until - now();
    if let Some(min_ttl) = want.min_ttl {
        if left < min_ttl {
            // The session has its new token: only the request is wrong.
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "the provider's new token has only {} left, less than --min-ttl {}",
                    span(left.whole_seconds()),
                    span(min_ttl.as_secs() as i64)
                ),
            )
            .fix("ask for a shorter --min-ttl"));
        }
    }
    Ok(issued)
}

/// Runs the manager over the stored session for `goal`, and settles the record of a
/// rejection of the credentials by what the session says afterwards.
fn run(
    context: &Context,
    file: &SessionFile,
    secrets: &Secrets,
    sends: Sends,
    want: &Want,
    goal: Goal,
) -> Result<Issued, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = want.scope.scope.as_deref();
    let store = file.store(name, profile)?;
    let policy = context.policy();
    let dialect = dialects::build(name, profile, secrets, scope)?;
    let token = with_dialect!(dialect, sends, |dialect| drive(
        context,
        dialect,
        sends,
        store.clone(),
        goal
    ));
    prepare::settle_rejection(context, scope, &*store, file, secrets);
    let token = token?;
    let reading = dialects::build(name, profile, &Secrets::default(), scope)?;
    let scope = with_dialect!(reading, Sends::Nothing, |dialect| session::granted_scope(
        dialect,
        &policy,
        &*store,
        token.generation()
    ));
    Ok(Issued::from_published(&token, scope))
}

/// Starts the manager over the session in `store` and waits for the token `goal` asks
/// for. The manager stops (and stores the session as it ends) before this returns.
fn drive<D: Dialect>(
    context: &Context,
    dialect: D,
    sends: Sends,
    store: Arc<dyn SessionStore>,
    goal: Goal,
) -> Result<Arc<PublishedToken>, Failure> {
    let running = Running::start(dialect, sends, context.policy(), store, &context.name)?;
    match goal {
        Goal::Any => running.token(None, context.deadline()),
        Goal::Newer { generation, ask } => {
            if ask {
                // The stored token is published first; then the renewal is asked for.
                let current = running.token(None, context.deadline())?;
                if current.generation() == generation {
                    running.manager.renew().map_err(Failure::closed)?;
                }
            }
            running.token(Some(generation), context.deadline())
        }
        Goal::Login { generation } => {
            running.manager.login().map_err(Failure::closed)?;
            running.token(Some(generation), context.deadline())
        }
    }
}
