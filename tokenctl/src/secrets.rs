//! The secrets a profile names: read from environment variables, or asked for on the
//! terminal without echo. Never from the command line, never from the config file. With
//! them, the source of the profile's assertions (RFC 7523): the private key file it
//! names, read here, by a command that goes to the provider.

use std::io::IsTerminal;
use std::sync::Arc;

use oauth_lifecycle::dialect::assertion::AssertionSource;
use zeroize::Zeroizing;

use crate::assertion;
use crate::config::Profile;
use crate::failure::{Exit, Failure};
use crate::providers;

/// The secrets at hand for one command, by the key of the provider's setting
/// (`client_secret`, `password`; the content of the file `private_key_file` or
/// `client_assertion_file` names, as a credential whose change a record of a rejection
/// notices). Wiped from memory when dropped.
#[derive(Default)]
pub(crate) struct Secrets {
    values: Vec<(&'static str, Zeroizing<String>)>,
    /// The source of the assertions (RFC 7523) the profile calls for, made from the
    /// private key file, the platform's assertion file or the client secret.
    assertion: Option<Arc<dyn AssertionSource>>,
}

impl Secrets {
    /// The secret for setting `key`, if at hand.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(known, _)| *known == key)
            .map(|(_, value)| value.as_str())
    }

    /// The source of the profile's assertions, if it calls for some and it is at hand.
    pub(crate) fn assertion(&self) -> Option<&Arc<dyn AssertionSource>> {
        self.assertion.as_ref()
    }

    /// No secret, and the source of the assertions a `--dry-run` shows: read from the
    /// private key file or the platform's file as a request would, a stand-in signing
    /// for the client secret.
    pub(crate) fn for_dry_run(name: &str, profile: &Profile) -> Result<Self, Failure> {
        let assertion = assertion::dry_run_source(&profile.settings())
            .map_err(|error| error.failure(name, profile.variable("client_secret")))?;
        Ok(Secrets {
            values: Vec::new(),
            assertion,
        })
    }

    /// Every secret at hand, with its setting's key.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
    }

    /// Adds the secret for setting `key`.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, key: &'static str, value: &str) {
        self.push(key, Zeroizing::new(value.to_owned()));
    }

    fn push(&mut self, key: &'static str, value: Zeroizing<String>) {
        self.values.retain(|(known, _)| *known != key);
        self.values.push((key, value));
    }
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

/// When the secrets a person may type (the user's password) are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PasswordUse {
    /// A login is wanted: ask for the password if no variable holds it.
    Login,
    /// Only if a variable holds it: renewals go by refresh token, and a login that
    /// turns out necessary fails with a fix.
    IfAtHand,
}

/// Reads the secrets `profile` needs for requests: those it names a variable for
/// always (every token request authenticates the client), asking for them if the
/// variable is not set; a password (a secret a person may type) as `password` says.
pub(crate) fn resolve(
    name: &str,
    profile: &Profile,
    prompting: Prompting,
    password: PasswordUse,
) -> Result<Secrets, Failure> {
    let settings = profile.settings();
    let mut secrets = Secrets::default();
    for setting in profile.secret_settings() {
        let variable = profile.variable(setting.key);
        let what = setting.key.replace('_', " ");
        let value = if providers::is_prompted(setting.key) {
            if !profile.uses_secret(setting, &settings) {
                continue;
            }
            match variable.and_then(from_env) {
                Some(value) => Some(value),
                None if password == PasswordUse::Login => {
                    let variable = variable
                        .map(str::to_owned)
                        .unwrap_or_else(|| providers::variable_key(setting.key));
                    Some(ask(name, &variable, &what, prompting)?)
                }
                None => None,
            }
        } else {
            match variable {
                Some(variable) => Some(
                    from_env(variable)
                        .map(Ok)
                        .unwrap_or_else(|| ask(name, variable, &what, prompting))?,
                ),
                None => None,
            }
        };
        if let Some(value) = value {
            secrets.push(setting.key, value);
        }
    }
    secrets.assertion = assertion::source(&settings, secrets.get("client_secret"))
        .map_err(|error| error.failure(name, profile.variable("client_secret")))?;
    if let Some((key, content)) = assertion::file_credentials(&settings) {
        secrets.push(key, content);
    }
    Ok(secrets)
}

/// The secrets `profile` names that are in their variables now, and the content of the
/// assertions' file it names: never asks, never fails. For comparing with what a
/// rejected attempt had.
pub(crate) fn at_hand(profile: &Profile) -> Secrets {
    let mut secrets = Secrets::default();
    for setting in profile.secret_settings() {
        if let Some(value) = profile.variable(setting.key).and_then(from_env) {
            secrets.push(setting.key, value);
        }
    }
    if let Some((key, content)) = assertion::file_credentials(&profile.settings()) {
        secrets.push(key, content);
    }
    secrets
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
