//! `tokenctl`: OAuth access tokens from the command line, for people who integrate with
//! Convirza, Convercus or any standard OAuth 2.0 server by hand. Built on
//! `oauth-lifecycle`'s blocking manager: the same lifecycle, persistence and safety a
//! service embedding the library gets. `docs/tokenctl.md` is the manual.

#![forbid(unsafe_code)]
#![warn(rust_2018_idioms, unreachable_pub)]

mod assertion;
mod browser;
mod cli;
mod commands;
mod config;
mod context;
mod credentials;
mod dialects;
mod discover;
mod events;
mod failure;
mod formats;
mod limited;
mod person;
mod private_file;
mod providers;
mod redact;
mod secrets;
mod session;
mod session_file;
mod time_format;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::events::StatusLine;
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status_line = StatusLine::default();
    let watching = matches!(cli.command, Command::Watch(_));
    events::install(cli.global.verbose, watching.then(|| status_line.clone()));
    match run(&cli, &status_line) {
        Ok(code) => code,
        Err(failure) => {
            // For a person: moments in local time.
            eprintln!("{}", time_format::localize(&failure.to_string()));
            failure.exit.code()
        }
    }
}

fn run(cli: &Cli, status_line: &StatusLine) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "tokenctl",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Init(args) => commands::init::init(&cli.global, args),
        command => {
            let context = Context::load(&cli.global)?;
            match command {
                Command::Token(args) => commands::token::token(&context, args),
                Command::Exec(args) => commands::token::exec(&context, args),
                Command::Inspect(args) => commands::inspect::inspect(&context, args),
                Command::Login(args) => commands::lifecycle::login(&context, args),
                Command::Refresh(args) => commands::lifecycle::refresh(&context, args),
                Command::Revoke(args) => commands::lifecycle::revoke(&context, args, false),
                Command::Logout(args) => commands::lifecycle::revoke(&context, args, true),
                Command::Watch(args) => commands::watch::watch(&context, args, status_line),
                Command::Completions { .. } | Command::Init(_) => unreachable!("handled above"),
            }
        }
    }
}
