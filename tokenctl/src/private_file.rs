//! Files of key material a profile names (the session's `key_file`, the client's
//! `private_key_file`): tokenctl uses one only if no one but its owner may read it.

use std::fs::Metadata;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::failure::{Exit, Failure};

/// A file of key material that others than its owner may read or write (its mode has a
/// bit of `0o077`): refused, whatever it holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} {} may be read by others", path.display())]
pub(crate) struct ReadableByOthers {
    /// What the file is, as messages name it: `key file`, `private key file`.
    pub(crate) what: &'static str,
    pub(crate) path: PathBuf,
}

impl ReadableByOthers {
    /// What to do about it.
    pub(crate) fn fix(&self) -> String {
        format!("run: chmod 600 {}", self.path.display())
    }
}

impl From<ReadableByOthers> for Failure {
    fn from(error: ReadableByOthers) -> Self {
        let fix = error.fix();
        Failure::new(Exit::Config, error.to_string()).fix(fix)
    }
}

/// Refuses the file at `path`, whose metadata is `metadata`, if others than its owner
/// may read or write it (mode 0600 or stricter passes). `what` names it in the message.
pub(crate) fn owner_only(
    what: &'static str,
    path: &Path,
    metadata: &Metadata,
) -> Result<(), ReadableByOthers> {
    if metadata.permissions().mode() & 0o077 != 0 {
        return Err(ReadableByOthers {
            what,
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_owner_only_modes_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "x").unwrap();
        for (mode, passes) in [
            (0o600, true),
            (0o400, true),
            (0o700, true),
            (0o640, false),
            (0o604, false),
            (0o644, false),
            (0o620, false),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let metadata = std::fs::metadata(&path).unwrap();
            let result = owner_only("private key file", &path, &metadata);
            assert_eq!(result.is_ok(), passes, "{mode:o}");
            if let Err(error) = result {
                assert_eq!(
                    error.to_string(),
                    format!("private key file {} may be read by others", path.display())
                );
                assert_eq!(error.fix(), format!("run: chmod 600 {}", path.display()));
            }
        }
    }
}
