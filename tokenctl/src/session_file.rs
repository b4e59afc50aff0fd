//! Where a profile's session is kept between invocations: one encrypted (or, if the
//! profile says so, plaintext) file per profile and scope in the state directory, the
//! lock that lets one invocation at a time renew it, and the record of the last
//! failure.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_lifecycle_adapter::trace::fingerprint;
use oauth_lifecycle_adapter::{FileStore, FileStoreOptions, SessionStore, StoreKey};
use serde::{Deserialize, Serialize};

use crate::config::Profile;
use crate::failure::{Exit, Failure};

/// The files of one profile's session for one scope.
#[derive(Debug, Clone)]
pub(crate) struct SessionFile {
    path: PathBuf,
}

/// The last failure of a command, kept beside the session for `inspect`. Its message
/// is the core's scrubbed error: it holds no secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecordedFailure {
    pub(crate) at: String,
    pub(crate) message: String,
}

impl SessionFile {
    /// The session of profile `name` for `scope` (the profile's, if `None`) under
    /// `state_dir`. The file name carries a fingerprint of the account and the scope, so
    /// another scope, or an edited account, is another session.
    pub(crate) fn locate(
        state_dir: &Path,
        name: &str,
        profile: &Profile,
        scope: Option<&str>,
    ) -> Self {
        let scope = scope.or(profile.scope.as_deref()).unwrap_or("");
        let key = fingerprint(&format!("{}\n{scope}", profile.identity()));
        SessionFile {
            path: state_dir
                .join("sessions")
                .join(format!("{name}-{key}.session")),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(suffix);
        self.path.with_file_name(name)
    }

    /// The store over the session file, with the key the profile names.
    pub(crate) fn store(
        &self,
        name: &str,
        profile: &Profile,
    ) -> Result<Arc<dyn SessionStore>, Failure> {
        self.create_dir()?;
        let options = if profile.plaintext_storage {
            FileStoreOptions::plaintext()
        } else {
            FileStoreOptions::encrypted(key(name, profile)?)
        };
        Ok(Arc::new(FileStore::new(&self.path, options)))
    }

    fn create_dir(&self) -> Result<(), Failure> {
        private_dir(self.path.parent().unwrap_or(Path::new(".")), Exit::Store)
    }

    /// Waits, at most `timeout`, until no other invocation uses the session, and keeps
    /// it until the returned lock is dropped: one invocation renews, the others then
    /// find its result.
    pub(crate) fn lock(&self, timeout: Duration) -> Result<SessionLock, Failure> {
        self.create_dir()?;
        let path = self.sibling(".in-use");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .map_err(|error| {
                Failure::new(
                    Exit::Store,
                    format!("cannot open {}: {error}", path.display()),
                )
            })?;
        let deadline = Instant::now() + timeout;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(SessionLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Failure::new(
                        Exit::Unavailable,
                        format!(
                            "another tokenctl has been using this session for over {}",
                            crate::time_format::span(timeout.as_secs() as i64)
                        ),
                    )
                    .fix("wait for it, or give a longer --timeout"))
                }
                Err(std::fs::TryLockError::Error(error)) => {
                    return Err(Failure::new(
                        Exit::Store,
                        format!("cannot lock {}: {error}", path.display()),
                    ))
                }
            }
        }
    }

    /// Deletes the session and the files beside it.
    pub(crate) fn remove(&self) -> Result<(), Failure> {
        for path in [
            self.path.clone(),
            self.sibling(".lock"),
            self.sibling(".failure"),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(Failure::new(
                        Exit::Store,
                        format!("cannot delete {}: {error}", path.display()),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Records the last failure (or, with `None`, that the last command succeeded).
    /// Best effort: a record that cannot be written changes no outcome.
    pub(crate) fn record_failure(&self, failure: Option<RecordedFailure>) {
        let path = self.sibling(".failure");
        match failure {
            None => {
                let _ = std::fs::remove_file(path);
            }
            Some(failure) => {
                let Ok(json) = serde_json::to_vec(&failure) else {
                    return;
                };
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .write(true)
                    .mode(0o600)
                    .open(&path);
                if let Ok(mut file) = file {
                    let _ = file.write_all(&json);
                }
            }
        }
    }

    /// The last failure recorded, if any.
    pub(crate) fn last_failure(&self) -> Option<RecordedFailure> {
        let text = std::fs::read(self.sibling(".failure")).ok()?;
        serde_json::from_slice(&text).ok()
    }
}

/// Held while an invocation uses a session; released when dropped (or when the process
/// ends, however it ends).
pub(crate) struct SessionLock {
    _file: File,
}

/// The session key the profile names.
fn key(name: &str, profile: &Profile) -> Result<StoreKey, Failure> {
    if let Some(variable) = &profile.key_env {
        let value = std::env::var(variable).map_err(|_| {
            Failure::new(
                Exit::Config,
                format!("the session key for profile `{name}` is not at hand: {variable} is not set"),
            )
            .fix(format!(
                "set {variable} to 32 random bytes in base64, e.g. export {variable}=$(head -c 32 /dev/urandom | base64)"
            ))
        })?;
        return StoreKey::from_base64(value.trim()).map_err(|_| {
            Failure::new(
                Exit::Config,
                format!("{variable} is not a session key (base64 of 32 bytes)"),
            )
            .fix(format!(
                "set {variable} to 32 random bytes in base64, e.g. export {variable}=$(head -c 32 /dev/urandom | base64)"
            ))
        });
    }
    let path = profile.key_file.as_deref().unwrap_or(Path::new(""));
    let unreadable = |reason: String| {
        Failure::new(
            Exit::Config,
            format!("key file {}: {reason}", path.display()),
        )
        .fix(format!(
            "write a new one with: tokenctl init -p {name} --generate-key (the stored session is then discarded)"
        ))
    };
    let metadata = std::fs::metadata(path).map_err(|error| unreadable(error.to_string()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(Failure::new(
            Exit::Config,
            format!("key file {} may be read by others", path.display()),
        )
        .fix(format!("run: chmod 600 {}", path.display())));
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|error| unreadable(error.to_string()))?,
    );
    StoreKey::from_base64(text.trim()).map_err(|_| unreadable("not base64 of 32 bytes".into()))
}

/// Writes a new random key to `path`, readable by its owner only; refuses to replace one.
pub(crate) fn write_new_key(path: &Path) -> Result<(), Failure> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        private_dir(dir, Exit::Config)?;
    }
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| {
            Failure::new(
                Exit::Config,
                format!("cannot create the key file {}: {error}", path.display()),
            )
        })?;
    let key = StoreKey::generate().to_base64();
    file.write_all(key.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|error| {
            Failure::new(
                Exit::Config,
                format!("cannot write {}: {error}", path.display()),
            )
        })
}

/// Creates `dir` (and its parents) for its owner only, if missing.
fn private_dir(dir: &Path, exit: Exit) -> Result<(), Failure> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|error| {
            Failure::new(
                exit,
                format!("cannot create the directory {}: {error}", dir.display()),
            )
            .fix("give a writable directory (--state-dir, --config)")
        })
}
