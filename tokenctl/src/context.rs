//! What every command works with: the profile, where its session is kept, whether it
//! may prompt, how long it may wait.

use std::time::{Duration, Instant};

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::Policy;

use crate::cli::Global;
use crate::config::{self, Locations, Profile};
use crate::failure::{Exit, Failure};
use crate::secrets::Prompting;
use crate::session_file::SessionFile;

/// One command's setting.
pub(crate) struct Context {
    pub(crate) name: String,
    pub(crate) profile: Profile,
    pub(crate) locations: Locations,
    pub(crate) prompting: Prompting,
    pub(crate) timeout: Duration,
    pub(crate) dry_run: bool,
    /// When the command started; its waits end at `started + timeout`.
    started: Instant,
}

impl Context {
    /// Reads the config file and picks the profile.
    pub(crate) fn load(global: &Global) -> Result<Self, Failure> {
        let locations = Locations::resolve(global.config.clone(), global.state_dir.clone())?;
        let mut config = config::load(&locations.config_file)?;
        let name = global.profile.clone();
        let profile = config.profiles.remove(&name).ok_or_else(|| {
            let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
            Failure::new(
                Exit::Config,
                format!(
                    "no profile `{name}` in {} (profiles: {})",
                    locations.config_file.display(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            )
            .fix(format!("run: tokenctl init -p {name}, or pick one with -p"))
        })?;
        check_timeout(global.timeout)?;
        Ok(Context {
            name,
            profile,
            locations,
            prompting: Prompting::new(global.non_interactive),
            timeout: global.timeout,
            dry_run: global.dry_run,
            started: Instant::now(),
        })
    }

    /// The session for `scope` (the profile's, with `None`).
    pub(crate) fn session_file(&self, scope: Option<&str>) -> SessionFile {
        SessionFile::locate(&self.locations.state_dir, &self.name, &self.profile, scope)
    }

    /// Refuses a `--scope` the profile's provider cannot ask for: only one with a
    /// `scope` setting (a standard OAuth server) takes one. A usage error, before anything is read or sent.
    pub(crate) fn check_scope(&self, scope: Option<&str>) -> Result<(), Failure> {
        let Some(scope) = scope else {
            return Ok(());
        };
        if !self.profile.provider.takes("scope") {
            return Err(Failure::new(
                Exit::Usage,
                format!(
                    "--scope: provider `{}` of profile `{}` takes no scope",
                    self.profile.provider.name(),
                    self.name
                ),
            )
            .fix("leave out --scope"));
        }
        if scope.split_whitespace().next().is_none() {
            return Err(Failure::new(Exit::Usage, "--scope is empty")
                .fix("give one or more scopes, separated by spaces, or leave out --scope"));
        }
        Ok(())
    }

    /// The moment every wait of this command ends.
    pub(crate) fn deadline(&self) -> Instant {
        self.started + self.timeout
    }

    /// The core's defaults, with no token request outliving the command's timeout (a
    /// manager shutting down waits for the request under way).
    pub(crate) fn policy(&self) -> Policy {
        policy(self.timeout)
    }
}

/// Refuses `--timeout 0s`: a usage error, before anything is read or sent.
pub(crate) fn check_timeout(timeout: Duration) -> Result<(), Failure> {
    if timeout.is_zero() {
        return Err(
            Failure::new(Exit::Usage, "--timeout 0s leaves no time for anything")
                .fix("give --timeout of at least 1s (default 30s)"),
        );
    }
    Ok(())
}

/// The core's defaults, with no request outliving `timeout` (the command's `--timeout`)
/// and none given less than a second.
pub(crate) fn policy(timeout: Duration) -> Policy {
    let mut policy = Policy::default();
    let timeout =
        oauth_lifecycle::time::Duration::try_from(timeout).unwrap_or(policy.response_timeout);
    policy.response_timeout = policy
        .response_timeout
        .min(timeout)
        .max(oauth_lifecycle::time::Duration::SECOND);
    policy
}

/// The system clock, as the core reads time.
pub(crate) fn now() -> UtcDateTime {
    oauth_lifecycle_adapter::transport::now()
}
