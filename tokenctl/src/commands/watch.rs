//! `tokenctl watch`: keeps the session fresh in the foreground, printing each event of
//! the session as it happens, with a live status line on a terminal.

use std::io::{IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::Status;
use oauth_lifecycle_adapter::WaitError;

use crate::cli::WatchArgs;
use crate::commands::prepare::{self, Act};
use crate::context::{now, Context};
use crate::credentials::{self, Rejection};
use crate::dialects::{self, with_dialect};
use crate::events::StatusLine;
use crate::failure::Failure;
use crate::limited::Sends;
use crate::secrets::{self, PasswordUse, Secrets};
use crate::session::{self, Running};
use crate::time_format::{local, localize, span};

/// How often the status is looked at (and the status line redrawn).
const TICK: Duration = Duration::from_millis(250);

pub(crate) fn watch(
    context: &Context,
    args: &WatchArgs,
    status_line: &StatusLine,
) -> Result<ExitCode, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = args.scope.scope.as_deref();
    context.check_scope(scope)?;
    let file = context.session_file(scope);
    let store = file.store(name, profile)?;
    let policy = context.policy();
    if context.dry_run {
        println!(
            "{}",
            localize(&prepare::dry_run(context, scope, &*store, Act::Timeout)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Credentials rejected by an earlier attempt, and changed since: tried at once.
    let retry_now = prepare::stored_status(context, scope, &*store)?.is_some_and(|(status, _)| {
        credentials::is_rejection(&status)
            && Rejection::load(&file).is_some_and(|rejection| {
                rejection.changed(name, profile, &secrets::at_hand(profile))
            })
    });
    // A long watch may need a login: ask for the password up front, if we may ask.
    let password = if context.prompting.allowed() {
        PasswordUse::Login
    } else {
        PasswordUse::IfAtHand
    };
    let (secrets, sends) = prepare::secrets(context, password)?;
    // When the stored session renews next, read from the store without secrets.
    let renewal_at = || {
        let reading = dialects::build(name, profile, &Secrets::default(), scope).ok()?;
        with_dialect!(reading, Sends::Nothing, |dialect| {
            let (driver, _) = session::driver(dialect, &policy, &*store).ok()?;
            driver
                .session()
                .tokens()
                .map(|tokens| (tokens.generation(), tokens.refresh_at()))
        })
    };
    let dialect = dialects::build(name, profile, &secrets, scope)?;
    let running = with_dialect!(dialect, sends, |dialect| Running::start(
        dialect,
        sends,
        policy.clone(),
        store.clone(),
        name
    ))?;
    if retry_now {
        running.manager.login().map_err(Failure::closed)?;
    }
    let ended = keep_fresh(context, args, status_line, &running, renewal_at);
    status_line.clear();
    drop(running);
    // How it went, for `inspect` and the next run: stored as the session ended.
    prepare::settle_rejection(context, scope, &*store, &file, &secrets);
    file.record_outcome(ended.as_ref().map(|_| ()));
    let renewals = ended?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "watch ended after {renewals} renewal(s)");
    Ok(ExitCode::SUCCESS)
}

/// Prints the session's life until `args` says to stop; how many renewals it saw.
fn keep_fresh(
    context: &Context,
    args: &WatchArgs,
    status_line: &StatusLine,
    running: &Running,
    renewal_at: impl Fn() -> Option<(oauth_lifecycle::Generation, UtcDateTime)>,
) -> Result<u64, Failure> {
    let name = &context.name;
    let live = std::io::stdout().is_terminal();
    let until = args.duration.map(|duration| Instant::now() + duration);
    let mut seen: Option<oauth_lifecycle::Generation> = None;
    let mut renewals = 0u64;
    // When the token seen renews: read from the store once it holds that token.
    let mut next_renewal: Option<(oauth_lifecycle::Generation, UtcDateTime)> = None;
    // Bounded by `--for` and `--renewals`; otherwise it runs until interrupted, as a
    // foreground watcher does. Every pass waits at least one tick.
    loop {
        if until.is_some_and(|until| Instant::now() >= until) {
            break;
        }
        let waited = match seen {
            Some(generation) => running.manager.token_newer_than(generation, TICK),
            None => running.manager.token(TICK),
        };
        match waited {
            Ok(token) => {
                if seen.is_some() {
                    renewals += 1;
                }
                seen = Some(token.generation());
                if args.renewals.is_some_and(|limit| renewals >= limit) {
                    break;
                }
            }
            Err(WaitError::Timeout { .. }) => {}
            // Answered at once: wait the tick here.
            Err(_) => std::thread::sleep(TICK),
        }
        if seen.is_some() && next_renewal.map(|(generation, _)| generation) != seen {
            next_renewal = renewal_at().filter(|(generation, _)| Some(*generation) == seen);
        }
        match running.manager.status() {
            Status::NeedsLogin { error } => return Err(Failure::from_error(&error, name)),
            Status::Revoked => return Err(session::revoked(name)),
            status if live => {
                let now = now();
                let line = format!(
                    "generation {} · {} · {}",
                    seen.map_or("none".into(), |g| g.get().to_string()),
                    localize(&session::describe(&status)),
                    match next_renewal.map(|(_, at)| at) {
                        Some(at) if at > now =>
                            format!("renewal in {}", span((at - now).whole_seconds())),
                        Some(at) => format!("renewal due since {}", local(at)),
                        None if seen.is_none() => "no token yet".into(),
                        None => "renewal time not stored yet".into(),
                    }
                );
                status_line.show(&line);
            }
            _ => {}
        }
    }
    Ok(renewals)
}
