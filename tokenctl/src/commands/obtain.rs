//! Getting a token that satisfies the user: from the stored session when it will do,
//! else by running the manager over it, one invocation at a time.

use crate::cli::Want;
use crate::commands::prepare::{self, Act};
use crate::context::{now, Context};
use crate::dialects::{self, with_dialect};
use crate::failure::{Exit, Failure};
use crate::limited::Sends;
use crate::secrets::{PasswordUse, Secrets};
use crate::session::{self, Issued, Running, Stored};
use crate::session_file::{RecordedFailure, SessionFile};

/// What `obtain` came back with.
pub(crate) enum Obtained {
    /// A token.
    Token(Issued),
    /// `--dry-run`: what would have been sent.
    DryRun(String),
}

/// A token with at least `want.min_ttl` left (renewed if `want.force_refresh`).
///
/// Invocations on one session take turns (the session file's lock): the first renews,
/// the others then find its token in the store and send nothing. A single-use refresh
/// token is therefore spent once, however many run at once.
pub(crate) fn obtain(context: &Context, want: &Want) -> Result<Obtained, Failure> {
    let scope = want.scope.scope.as_deref();
    let file = context.session_file(scope);
    let _turn = file.lock(context.timeout)?;
    obtain_in_turn(context, want, &file)
}

fn obtain_in_turn(context: &Context, want: &Want, file: &SessionFile) -> Result<Obtained, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = want.scope.scope.as_deref();
    let store = context.session_file(scope).store(name, profile)?;
    let policy = context.policy();

    // The stored session, read without any secret.
    let reading = dialects::build(name, profile, &Secrets::default(), scope)?;
    let stored = with_dialect!(reading, Sends::Nothing, |dialect| session::read(
        dialect,
        &policy,
        &*store,
        want.min_ttl,
        want.force_refresh,
        name,
        now()
    ))?;
    let renew_from = match stored {
        Stored::Good { issued, warning } if !context.dry_run => {
            if let Some(warning) = warning {
                eprintln!("{warning}");
            }
            return Ok(Obtained::Token(issued));
        }
        Stored::Waiting {
            retry_at,
            throttled,
        } if !context.dry_run => {
            let at = crate::time_format::rfc3339(retry_at);
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
        Stored::Good { .. } | Stored::Nothing | Stored::Waiting { .. } => None,
        Stored::Renew { generation, ask } => Some((generation, ask)),
    };
    if context.dry_run {
        let act = if renew_from.is_some() {
            Act::Renew
        } else {
            Act::Timeout
        };
        return prepare::dry_run(context, scope, &*store, act).map(Obtained::DryRun);
    }

    // A request is needed: with the password if it is at hand, else by refresh token
    // alone, asking for the password only if a login turns out necessary.
    let (secrets, sends) = prepare::secrets(context, PasswordUse::IfAtHand)?;
    let result = match renew(context, &secrets, sends, want, renew_from) {
        Err(failure)
            if failure.exit == Exit::NeedsLogin
                && sends == Sends::NoLogin
                && context.prompting.allowed() =>
        {
            let (secrets, sends) = prepare::secrets(context, PasswordUse::Login)?;
            renew(context, &secrets, sends, want, renew_from)
        }
        result => result,
    };
    // What the provider last said, for `inspect` and for the next run's messages.
    file.record_failure(result.as_ref().err().map(|failure| RecordedFailure {
        at: crate::time_format::rfc3339(now()),
        message: failure.message.clone(),
    }));
    result.map(Obtained::Token)
}

/// Runs the manager over the stored session until it hands out a token newer than
/// `renew_from`'s generation (any token, with `None`), asking for the renewal if
/// `renew_from` says the session would not renew by itself.
fn renew(
    context: &Context,
    secrets: &Secrets,
    sends: Sends,
    want: &Want,
    renew_from: Option<(oauth_lifecycle::Generation, bool)>,
) -> Result<Issued, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = want.scope.scope.as_deref();
    let store = context.session_file(scope).store(name, profile)?;
    let policy = context.policy();
    let dialect = dialects::build(name, profile, secrets, scope)?;
    let token = with_dialect!(dialect, sends, |dialect| {
        let running = Running::start(dialect, sends, policy.clone(), store.clone(), name)?;
        if let Some((generation, true)) = renew_from {
            // The stored token is published first; then the renewal is asked for.
            let current = running.token(None, context.deadline())?;
            if current.generation() == generation {
                running.manager.renew().map_err(Failure::closed)?;
            }
        }
        running.token(
            renew_from.map(|(generation, _)| generation),
            context.deadline(),
        )
    })?;
    let left = token.valid_until() - now();
    if let Some(min_ttl) = want.min_ttl {
        if left < min_ttl {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "the provider's new token has only {} left, less than --min-ttl {}",
                    crate::time_format::span(left.whole_seconds()),
                    crate::time_format::span(min_ttl.as_secs() as i64)
                ),
            )
            .fix("ask for a shorter --min-ttl"));
        }
    }
    let reading = dialects::build(name, profile, &Secrets::default(), scope)?;
    let scope = with_dialect!(reading, Sends::Nothing, |dialect| session::granted_scope(
        dialect,
        &policy,
        &*store,
        token.generation()
    ));
    Ok(Issued::from_published(&token, scope))
}
