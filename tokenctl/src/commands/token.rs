//! `tokenctl token` prints a valid token; `tokenctl exec` hands one to a command in an
//! environment variable, so it never appears in a command line or shell history.

use std::io::Write as _;
use std::process::{Command, ExitCode};

use crate::cli::{ExecArgs, TokenArgs};
use crate::commands::obtain::{obtain, Obtained};
use crate::context::Context;
use crate::failure::{Exit, Failure};
use crate::formats;

/// The variable `exec` passes the token in when neither the command line nor the
/// profile names one.
const DEFAULT_VARIABLE: &str = "ACCESS_TOKEN";

pub(crate) fn token(context: &Context, args: &TokenArgs) -> Result<ExitCode, Failure> {
    match obtain(context, &args.want)? {
        Obtained::DryRun(shown) => println!("{}", crate::time_format::localize(&shown)),
        Obtained::Token(issued) => {
            let text = formats::render(&issued, args.format);
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .map_err(|error| {
                    Failure::new(Exit::Internal, format!("cannot write the token: {error}"))
                })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn exec(context: &Context, args: &ExecArgs) -> Result<ExitCode, Failure> {
    let variable = args
        .env_var
        .clone()
        .or_else(|| context.profile.exec_env.clone())
        .unwrap_or_else(|| DEFAULT_VARIABLE.to_owned());
    if variable.is_empty() || variable.contains('=') || variable.contains('\0') {
        return Err(Failure::new(
            Exit::Usage,
            format!(
                "`{}` cannot name an environment variable",
                variable.escape_debug()
            ),
        ));
    }
    let (program, arguments) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::new(Exit::Usage, "no command to run after `--`"))?;
    let issued = match obtain(context, &args.want)? {
        Obtained::DryRun(shown) => {
            println!("{}", crate::time_format::localize(&shown));
            return Ok(ExitCode::SUCCESS);
        }
        Obtained::Token(issued) => issued,
    };
    let status = Command::new(program)
        .args(arguments)
        .env(&variable, issued.secret.as_str())
        .status()
        .map_err(|error| {
            Failure::new(
                Exit::Usage,
                format!("cannot run {}: {error}", program.to_string_lossy()),
            )
        })?;
    // The command's own exit code, as a shell would report it; 128 + n for a signal.
    let code = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt as _;
        128 + status.signal().unwrap_or(0)
    });
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}
