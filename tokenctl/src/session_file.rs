//! Where a profile's session is kept between invocations: one encrypted (or, if the
//! profile says so, plaintext) file per profile and scope in the state directory, the
//! lock that lets one invocation at a time renew it, and the record of the last
//! failure.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth_lifecycle_adapter::trace::fingerprint;
use oauth_lifecycle_adapter::{FileStore, FileStoreOptions, SessionStore, StoreKey};
use serde::{Deserialize, Serialize};

use crate::config::Profile;
use crate::failure::{Exit, Failure};
use crate::private_file::owner_only;

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
        let scope = scope.or(profile.get("scope")).unwrap_or("");
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

    /// The record of the last rejection of the credentials (see [`crate::credentials`]).
    pub(crate) fn rejection_path(&self) -> PathBuf {
        self.sibling(".rejection")
    }

    /// Waits, at most `timeout`, until no other invocation uses the session, and keeps
    /// it until the returned lock is dropped: one invocation renews, the others then
    /// find its result.
    ///
    /// The lock is taken on the file `….session.in-use`, which `logout` deletes while it
    /// holds the lock: an invocation that was waiting then holds a lock on a file no
    /// longer there, which excludes nobody, so it checks that the path still names the
    /// file it locked, and starts again if not.
    pub(crate) fn lock(&self, timeout: Duration) -> Result<SessionLock, Failure> {
        self.create_dir()?;
        let path = self.lock_path();
        let deadline = Instant::now() + timeout;
        // Bounded: every pass either returns, or waits 10 ms, until the deadline; a file
        // deleted under a waiter is opened again (once per logout that deletes it).
        loop {
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
            loop {
                match file.try_lock() {
                    Ok(()) => break,
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
            if names(&path, &file) {
                return Ok(SessionLock { _file: file });
            }
            // Deleted (and perhaps made again) while we waited: take it afresh.
        }
    }

    fn lock_path(&self) -> PathBuf {
        self.sibling(".in-use")
    }

    /// Deletes the session and the records beside it; the lock file stays, for the
    /// invocation that holds it to go on using the session.
    pub(crate) fn discard(&self) -> Result<(), Failure> {
        delete(&[
            self.path.clone(),
            self.sibling(".lock"),
            self.sibling(".failure"),
            self.rejection_path(),
        ])
    }

    /// Deletes the session and every file beside it, the lock file included: what
    /// `logout` leaves is nothing. Call it holding the lock (`_lock`), as the last use of
    /// the session: no other invocation holds the lock then, and those waiting for it
    /// notice that its file is gone and take it afresh ([`lock`](Self::lock)).
    pub(crate) fn remove(&self, _lock: &SessionLock) -> Result<(), Failure> {
        self.discard()?;
        delete(&[self.lock_path()])
    }

    /// Records how a command that went to the provider ended, for `inspect` and the next
    /// run's messages: its failure, or (`Ok`) that it succeeded. A usage error is no
    /// outcome of the session's and is never recorded. Best effort: a record that cannot
    /// be written changes no outcome.
    pub(crate) fn record_outcome(&self, outcome: Result<(), &Failure>) {
        let path = self.sibling(".failure");
        match outcome {
            Ok(()) => {
                let _ = std::fs::remove_file(path);
            }
            Err(failure) if failure.exit == Exit::Usage => {}
            Err(failure) => {
                let record = RecordedFailure {
                    at: crate::time_format::rfc3339(oauth_lifecycle_adapter::transport::now()),
                    message: failure.message.clone(),
                };
                write_private(&path, &record);
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

/// Deletes `paths`; one already gone is fine.
fn delete(paths: &[PathBuf]) -> Result<(), Failure> {
    for path in paths {
        match std::fs::remove_file(path) {
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

/// Whether `path` still names the open `file` (the same inode on the same device).
fn names(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(named), Ok(open)) => named.dev() == open.dev() && named.ino() == open.ino(),
        _ => false,
    }
}

/// Writes `value` as JSON to `path`, readable by its owner only. Best effort.
pub(crate) fn write_private(path: &Path, value: &impl Serialize) {
    let Ok(json) = serde_json::to_vec(value) else {
        return;
    };
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path);
    if let Ok(mut file) = file {
        let _ = file.write_all(&json);
    }
}

/// The material the session key gives a keyed hash: its base64 form, or `None` for a
/// plaintext session.
pub(crate) fn key_material(
    name: &str,
    profile: &Profile,
) -> Result<Option<zeroize::Zeroizing<String>>, Failure> {
    if profile.plaintext_storage {
        return Ok(None);
    }
    key(name, profile).map(|key| Some(key.to_base64()))
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
    owner_only("key file", path, &metadata)?;
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|error| unreadable(error.to_string()))?,
    );
    StoreKey::from_base64(text.trim()).map_err(|_| unreadable("not base64 of 32 bytes".into()))
}

/// Writes a new random key to `path`, readable by its owner only; refuses to replace one.
pub(crate) fn write_new_key(path: &Path) -> Result<(), Failure> {
    let key = StoreKey::generate().to_base64();
    let mut line = zeroize::Zeroizing::new(Vec::with_capacity(key.len() + 1));
    line.extend_from_slice(key.as_bytes());
    line.push(b'\n');
    write_new_private(path, "key file", &line)
}

/// Writes `contents` to a new file at `path` (a `what`: `key file`), readable by its
/// owner only, creating its directory for its owner only if missing; refuses to replace
/// a file.
pub(crate) fn write_new_private(path: &Path, what: &str, contents: &[u8]) -> Result<(), Failure> {
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
                format!("cannot create the {what} {}: {error}", path.display()),
            )
        })?;
    file.write_all(contents)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn session_file(dir: &Path) -> SessionFile {
        SessionFile {
            path: dir.join("sessions").join("p-0.session"),
        }
    }

    /// `logout` deletes the lock file while it holds the lock: an invocation that was
    /// waiting for it takes the lock afresh, on a file that excludes the next one.
    #[test]
    fn a_lock_file_deleted_under_a_waiter_is_taken_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let file = session_file(dir.path());
        let held = file.lock(Duration::from_secs(1)).unwrap();
        let lock_path = file.lock_path();
        let open_on_lock_file = || {
            std::fs::read_dir("/proc/self/fd")
                .unwrap()
                .flatten()
                .filter(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to == lock_path))
                .count()
        };
        let waiter = std::thread::spawn({
            let file = file.clone();
            move || file.lock(Duration::from_secs(20))
        });
        // The waiter has the file open and waits for the lock.
        oauth_lifecycle_testkit::eventually("the waiter to open the lock file", || {
            open_on_lock_file() == 2
        });
        file.remove(&held).unwrap();
        assert!(!file.lock_path().exists());
        drop(held);
        let second = waiter.join().unwrap().unwrap();
        // The waiter's lock is on the file that exists now: a third invocation waits.
        assert!(file.lock_path().exists());
        let third = file.lock(Duration::from_millis(50));
        assert!(third.is_err(), "two invocations held the session at once");
        drop(second);
        file.lock(Duration::from_millis(50)).unwrap();
    }
}
