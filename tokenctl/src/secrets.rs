//! The secrets a profile names: read from environment variables, or asked for on the
//! terminal without echo. Never from the command line, never from the config file.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use crate::config::Profile;
use crate::failure::{Exit, Failure};

/// The secrets at hand for one command. Wiped from memory when dropped.
#[derive(Default)]
pub(crate) struct Secrets {
    pub(crate) client_secret: Option<Zeroizing<String>>,
    pub(crate) password: Option<Zeroizing<String>>,
}

/// Whether tokenctl may ask a person.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prompting {
    allowed: bool,
}

impl Prompting {
    /// Prompts only if not told otherwise and stdin is a terminal.
    pub(crate) fn new(non_interactive: bool) -> Self {
        Prompting {
            allowed: !non_interactive && std::io::stdin().is_terminal(),
        }
    }

    pub(crate) fn allowed(self) -> bool {
        self.allowed
    }
}

/// When the user's password is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordUse {
    /// A login is wanted: ask for the password if no variable holds it.
    Login,
    /// Only if a variable holds it: renewals go by refresh token, and a login that
    /// turns out necessary fails with a fix.
    IfAtHand,
}

/// Reads the secrets `profile` needs for requests: the client secret always (every
/// token request authenticates the client), the password as `password` says.
pub(crate) fn resolve(
    name: &str,
    profile: &Profile,
    prompting: Prompting,
    password: PasswordUse,
) -> Result<Secrets, Failure> {
    let client_secret = match &profile.client_secret_env {
        Some(variable) => Some(
            from_env(variable)
                .map(Ok)
                .unwrap_or_else(|| ask(name, variable, "client secret", prompting))?,
        ),
        None => None,
    };
    let password = if profile.logs_in_as_user() {
        let variable = profile.password_env.as_deref();
        match variable.and_then(from_env) {
            Some(value) => Some(value),
            None if password == PasswordUse::Login => Some(ask(
                name,
                variable.unwrap_or("password_env"),
                "password",
                prompting,
            )?),
            None => None,
        }
    } else {
        None
    };
    Ok(Secrets {
        client_secret,
        password,
    })
}

/// The secrets `profile` names that are in their variables now: never asks, never
/// fails. For comparing with what a rejected attempt had.
pub(crate) fn at_hand(profile: &Profile) -> Secrets {
    Secrets {
        client_secret: profile.client_secret_env.as_deref().and_then(from_env),
        password: if profile.logs_in_as_user() {
            profile.password_env.as_deref().and_then(from_env)
        } else {
            None
        },
    }
}

fn from_env(variable: &str) -> Option<Zeroizing<String>> {
    std::env::var(variable)
        .ok()
        .filter(|value| !value.is_empty())
        .map(Zeroizing::new)
}

fn ask(
    profile: &str,
    variable: &str,
    what: &str,
    prompting: Prompting,
) -> Result<Zeroizing<String>, Failure> {
    if !prompting.allowed() {
        return Err(Failure::new(
            Exit::NeedsLogin,
            format!("the {what} for profile `{profile}` is not at hand: {variable} is not set and tokenctl may not prompt"),
        )
        .fix(format!(
            "set {variable}, or run: tokenctl login -p {profile} on a terminal"
        )));
    }
    let value = rpassword::prompt_password(format!("{what} for profile `{profile}`: ")).map_err(
        |error| Failure::new(Exit::Internal, format!("cannot read the {what}: {error}")),
    )?;
    let value = Zeroizing::new(value);
    if value.is_empty() {
        return Err(Failure::new(Exit::NeedsLogin, format!("no {what} given")));
    }
    Ok(value)
}
