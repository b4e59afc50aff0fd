//! `login`, `refresh`, `revoke` and `logout`: the session's life, by hand.

use std::process::ExitCode;
use std::sync::Arc;

use oauth_lifecycle::{Dialect, Generation, Status, WaitReason};
use oauth_lifecycle_adapter::{MemoryStore, SessionStore};

use crate::cli::{LoginArgs, ScopeArg, Want};
use crate::commands::obtain::{obtain, Obtained};
use crate::commands::prepare::{self, Act};
use crate::context::Context;
use crate::dialects::{self, with_dialect};
use crate::failure::{Exit, Failure};
use crate::limited::Sends;
use crate::person;
use crate::secrets::{PasswordUse, Secrets};
use crate::session::{Issued, Running};
use crate::time_format::local;

fn summary(issued: &Issued) -> String {
    format!(
        "generation {}, valid until {}",
        issued.generation.get(),
        local(issued.valid_until)
    )
}

/// Logs in with the profile's credentials (asking for the password on a terminal) and
/// stores the session. A session still logged in is kept; a revoked one is replaced; one
/// that stopped, or waits to try rejected credentials again, logs in now.
///
/// A person's login (`--device`, `--browser`, or the profile's grant) starts from a
/// fresh session, whatever is stored, and replaces the stored one when it succeeds.
pub(crate) fn login(context: &Context, args: &LoginArgs) -> Result<ExitCode, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = args.scope.scope.as_deref();
    context.check_scope(scope)?;
    let probe = dialects::build(name, profile, &Secrets::default(), scope)?;
    // Asked of the dialect as it would send: nothing is sent.
    let abilities = with_dialect!(probe, Sends::Everything, |dialect| {
        person::Abilities::of(&dialect)
    });
    if let Some(flow) = person::choose(
        context,
        abilities,
        args.device,
        args.browser,
        args.no_browser,
    )? {
        return person_login(context, scope, flow);
    }
    let file = context.session_file(scope);
    let _turn = file.lock(context.timeout)?;
    let store = file.store(name, profile)?;

    let stored = prepare::stored_status(context, scope, &*store)?;
    let status = stored.as_ref().map(|(status, _)| status.clone());
    if status == Some(Status::Revoked) && !context.dry_run {
        // A revoked session has nothing left to keep.
        file.discard()?;
    }
    if context.dry_run {
        // A revoked session would be deleted first: the login starts from nothing.
        let store: Arc<dyn SessionStore> = if status == Some(Status::Revoked) {
            Arc::new(MemoryStore::new())
        } else {
            store.clone()
        };
        println!(
            "{}",
            crate::time_format::localize(&prepare::dry_run(context, scope, &*store, Act::Login)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let (secrets, sends) = prepare::secrets(context, PasswordUse::Login)?;
    let dialect = dialects::build(name, profile, &secrets, scope)?;
    let restart = matches!(
        &stored,
        Some((
            Status::NeedsLogin { .. }
                | Status::Waiting {
                    reason: WaitReason::Rejected { .. },
                    ..
                },
            _
        ))
    );
    let after = stored.as_ref().map(|(_, generation)| *generation);
    let issued = with_dialect!(dialect, sends, |dialect| log_in(
        context,
        dialect,
        sends,
        store.clone(),
        restart.then_some(after).flatten()
    ));
    prepare::settle_rejection(context, scope, &*store, &file, &secrets);
    file.record_outcome(issued.as_ref().map(|_| ()));
    let issued = issued?;
    let already =
        matches!(stored, Some((Status::Ready, generation)) if generation == issued.generation);
    println!(
        "{} ({}): {}",
        if already {
            "already logged in"
        } else {
            "logged in"
        },
        context.profile.provider.name(),
        summary(&issued)
    );
    Ok(ExitCode::SUCCESS)
}

/// A person's login, `flow`, on a fresh session: stored when it succeeds.
fn person_login(
    context: &Context,
    scope: Option<&str>,
    flow: person::Flow,
) -> Result<ExitCode, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    if context.dry_run {
        let shown = match flow {
            // What the fresh session would send first.
            person::Flow::Device => {
                prepare::dry_run(context, scope, &MemoryStore::new(), Act::AuthorizeDevice)?
            }
            person::Flow::Browser { port, .. } => person::dry_run_browser(port),
        };
        println!("{}", crate::time_format::localize(&shown));
        return Ok(ExitCode::SUCCESS);
    }
    let file = context.session_file(scope);
    let store = file.store(name, profile)?;
    let (secrets, sends) = prepare::secrets(context, PasswordUse::Login)?;
    let dialect = dialects::build(name, profile, &secrets, scope)?;
    let issued = with_dialect!(dialect, sends, |dialect| person::log_in(
        context, dialect, flow, &file, &*store
    ));
    match &issued {
        // Stored: what the provider last said is this success.
        Ok(_) => {
            prepare::settle_rejection(context, scope, &*store, &file, &secrets);
            file.record_outcome(Ok(()));
        }
        // The stored session is as it was; a usage error is no outcome of it.
        Err(failure) if failure.exit != Exit::Usage => file.record_outcome(Err(failure)),
        Err(_) => {}
    }
    let issued = issued?;
    println!(
        "logged in ({}): {}",
        context.profile.provider.name(),
        summary(&issued)
    );
    Ok(ExitCode::SUCCESS)
}

/// Starts the manager over the session in `store`; with `restart` (the generation the
/// session is at), logs in now, whatever the session was waiting for, and waits for a
/// newer token; otherwise for any token. The manager stops (and stores the session)
/// before this returns.
fn log_in<D: Dialect>(
    context: &Context,
    dialect: D,
    sends: Sends,
    store: Arc<dyn SessionStore>,
    restart: Option<Generation>,
) -> Result<Issued, Failure> {
    let running = Running::start(dialect, sends, context.policy(), store, &context.name)?;
    // A session stopped for want of a login, or waiting to try rejected credentials
    // again, logs in now; one without a token logs in by itself; one that is fine stays
    // as it is.
    if restart.is_some() {
        running.manager.login().map_err(Failure::closed)?;
    }
    running
        .token(restart, context.deadline())
        .map(|token| Issued::from_published(&token, None))
}

/// Renews the token now and says what came.
pub(crate) fn refresh(context: &Context, args: &ScopeArg) -> Result<ExitCode, Failure> {
    let want = Want {
        scope: args.clone(),
        min_ttl: None,
        force_refresh: true,
    };
    match obtain(context, &want)? {
        Obtained::DryRun(shown) => println!("{}", crate::time_format::localize(&shown)),
        Obtained::Token(issued) => println!("renewed: {}", summary(&issued)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Revokes the session at the provider (where it has revocation) and keeps it stored as
/// revoked; with `forget` (`logout`), deletes it and every file beside it.
pub(crate) fn revoke(
    context: &Context,
    args: &ScopeArg,
    forget: bool,
) -> Result<ExitCode, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = args.scope.as_deref();
    context.check_scope(scope)?;
    let file = context.session_file(scope);
    let turn = file.lock(context.timeout)?;
    let store = file.store(name, profile)?;
    let policy = context.policy();

    let status = prepare::stored_status(context, scope, &*store)
        .map(|stored| stored.map(|(status, _)| status));
    let status = match status {
        Ok(status) => status,
        // Logging out of a session that cannot be read: delete it all the same.
        Err(failure) if forget && failure.exit == crate::failure::Exit::Store => {
            if !context.dry_run {
                file.remove(&turn)?;
            }
            println!("logged out (the stored session could not be read, so it was not revoked at the provider)");
            return Ok(ExitCode::SUCCESS);
        }
        Err(failure) => return Err(failure),
    };
    if context.dry_run {
        println!(
            "{}",
            crate::time_format::localize(&prepare::dry_run(context, scope, &*store, Act::Revoke)?)
        );
        return Ok(ExitCode::SUCCESS);
    }
    match status {
        None if forget => {
            // Nothing to revoke or delete; what a failed first login left beside it (its
            // record, the lock file) goes all the same.
            file.remove(&turn)?;
            println!("no stored session for profile `{name}`: nothing to log out of");
            return Ok(ExitCode::SUCCESS);
        }
        None => println!("no stored session for profile `{name}`: nothing to revoke"),
        Some(Status::Revoked) => println!("the session was already revoked"),
        Some(_) => {
            let (secrets, sends) = prepare::secrets(context, PasswordUse::IfAtHand)?;
            let dialect = dialects::build(name, profile, &secrets, scope)?;
            with_dialect!(dialect, sends, |dialect| {
                let running = Running::start(dialect, sends, policy.clone(), store.clone(), name)?;
                running.manager.revoke().map_err(Failure::closed)?;
                // Dropping it waits for the revocation requests.
                drop(running);
                Ok::<(), Failure>(())
            })?;
            println!("revoked");
        }
    }
    if forget {
        file.remove(&turn)?;
        println!("logged out: the stored session is deleted");
    }
    Ok(ExitCode::SUCCESS)
}
