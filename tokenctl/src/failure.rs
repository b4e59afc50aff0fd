//! What a command that failed tells the person or script that ran it: a one-line
//! message, a one-line fix, and an exit code that says what kind of failure it was.

use std::fmt;
use std::process::ExitCode;

use oauth_lifecycle::{AssertionFailure, Error, FailureKind};

/// The documented exit codes (`docs/tokenctl.md`, `tokenctl --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Something unexpected: a bug, or the operating system refused something.
    Internal = 1,
    /// The command line is wrong (clap's own code).
    Usage = 2,
    /// The config file or a profile is wrong, or a secret it names is not set.
    Config = 3,
    /// A person must act: log in (again), or give a secret that cannot be prompted for.
    NeedsLogin = 4,
    /// The provider rejected the credentials or the client.
    Rejected = 5,
    /// The provider asked us to slow down; the message says until when.
    Throttled = 6,
    /// The provider could not be reached or failed (network down, 5xx, timeout).
    Unavailable = 7,
    /// The session is revoked.
    Revoked = 8,
    /// The stored session cannot be read or written.
    Store = 9,
}

impl Exit {
    /// The code as the process reports it.
    pub(crate) fn code(self) -> ExitCode {
        ExitCode::from(self as u8)
    }
}

/// A failed command. Neither part ever holds a secret: they are built from profile
/// fields, paths and the core's scrubbed errors.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) message: String,
    /// One line saying what to do about it, if there is something to do.
    pub(crate) fix: Option<String>,
}

impl Failure {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Failure {
            exit,
            message: message.into(),
            fix: None,
        }
    }

    /// The manager stopped while a command was running: a bug, never a user's error.
    pub(crate) fn closed(closed: oauth_lifecycle_blocking::Closed) -> Self {
        Failure::new(Exit::Internal, closed.to_string())
    }

    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// What the core's verdict on a token request means for the person at the terminal.
    /// `profile` names the profile, for the fix.
    pub(crate) fn from_error(error: &Error, profile: &str) -> Self {
        let login = format!("run: tokenctl login -p {profile}");
        match error {
            Error::Throttled { retry_at, .. } => Failure::new(Exit::Throttled, error.to_string())
                .fix(format!(
                    "try again after {}",
                    crate::time_format::rfc3339(*retry_at)
                )),
            Error::Retry { failure, .. } => match failure.kind() {
                // The request was never formed: its assertion (RFC 7523) is the fault.
                FailureKind::Assertion(AssertionFailure::Malformed) => {
                    Failure::new(Exit::Config, error.to_string()).fix(format!(
                        "the file named by `client_assertion_file` in profile `{profile}` must hold one JWT with an `exp`"
                    ))
                }
                FailureKind::Assertion(AssertionFailure::Signing) => {
                    Failure::new(Exit::Config, error.to_string()).fix(format!(
                        "check the key named by `private_key_file` in profile `{profile}`"
                    ))
                }
                FailureKind::Assertion(_) => Failure::new(Exit::Unavailable, error.to_string())
                    .fix(format!(
                        "check the file named by `client_assertion_file` in profile `{profile}`, and what writes it; the session tries again by itself"
                    )),
                _ => Failure::new(Exit::Unavailable, error.to_string()).fix(
                    "check the network and the provider's URL in the profile, then try again",
                ),
            },
            Error::Reauthenticate { .. } | Error::PersonLogin { .. } => {
                Failure::new(Exit::NeedsLogin, error.to_string()).fix(login)
            }
            Error::Rejected { .. } => Failure::new(Exit::Rejected, error.to_string()).fix(format!(
                "check the profile's client id and the secrets it names, then {login}"
            )),
            Error::Config(config) => Failure::new(Exit::Config, config.to_string())
                .fix(format!("fix profile `{profile}` in the config file")),
            other => Failure::new(Exit::Internal, other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n{fix}")?;
        }
        Ok(())
    }
}

impl From<oauth_lifecycle_adapter::StoreError> for Failure {
    fn from(error: oauth_lifecycle_adapter::StoreError) -> Self {
        Failure::new(Exit::Store, error.to_string())
            .fix("check the key the profile names, or discard the session with: tokenctl logout")
    }
}
