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
use crate::dialects::{self, with_dialect};
use crate::events::StatusLine;
use crate::failure::Failure;
use crate::limited::Sends;
use crate::secrets::{PasswordUse, Secrets};
use crate::session::{self, Running};
use crate::time_format::{rfc3339, span};

/// How often the status is looked at (and the status line redrawn).
const TICK: Duration = Duration::from_millis(250);

pub(crate) fn watch(
    context: &Context,
    args: &WatchArgs,
    status_line: &StatusLine,
) -> Result<ExitCode, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = args.scope.scope.as_deref();
    let file = context.session_file(scope);
    let store = file.store(name, profile)?;
    let policy = context.policy();
    if context.dry_run {
        println!(
            "{}",
            prepare::dry_run(context, scope, &*store, Act::Timeout)?
        );
        return Ok(ExitCode::SUCCESS);
    }
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
            Status::NeedsLogin { error } => {
                status_line.clear();
                return Err(Failure::from_error(&error, name));
            }
            Status::Revoked => {
                status_line.clear();
                return Err(session::revoked(name));
            }
            status if live => {
                let now = now();
                let line = format!(
                    "generation {} · {} · {}",
                    seen.map_or("none".into(), |g| g.get().to_string()),
                    session::describe(&status),
                    match next_renewal.map(|(_, at)| at) {
                        Some(at) if at > now =>
                            format!("renewal in {}", span((at - now).whole_seconds())),
                        Some(at) => format!("renewal due since {}", rfc3339(at)),
                        None if seen.is_none() => "no token yet".into(),
                        None => "renewal time not stored yet".into(),
                    }
                );
                status_line.show(&line);
            }
            _ => {}
        }
    }
    status_line.clear();
    drop(running);
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "watch ended after {renewals} renewal(s)");
    Ok(ExitCode::SUCCESS)
}
