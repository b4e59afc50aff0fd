//! Every public error of the adapter reads as a sentence, says which file or setting is
//! wrong, and its chain never repeats itself.

use std::io;
use std::path::PathBuf;

use oauth_lifecycle::http::StatusCode;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{ConfigError, Error, Failure, FailureKind, Generation, Status, WaitReason};
use oauth_lifecycle_adapter::origin::{AllowedOrigins, Origin};
use oauth_lifecycle_adapter::{
    Closed, FileStore, FileStoreOptions, SessionStore, StartError, StoreError, StoreKey, WaitError,
};
use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};

const AT: UtcDateTime = utc_datetime!(2026-12-06 9:49:19.257_010_562);

/// A path under the temporary directory that does not exist.
fn missing_directory(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "oauth-lifecycle-error-messages-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&path);
    path
}

fn statuses() -> Vec<Status> {
    let reasons = [
        WaitReason::Backoff,
        WaitReason::Throttled,
        WaitReason::RequestBudget,
        WaitReason::UnauthorizedSpacing,
        WaitReason::MinRenewalInterval,
        WaitReason::Rejected {
            attempts_left: Some(2),
        },
        WaitReason::Rejected {
            attempts_left: None,
        },
    ];
    let mut statuses = vec![
        Status::Ready,
        Status::Renewing,
        Status::Revoked,
        Status::NeedsLogin {
            error: ConfigError::NoCredentials.into(),
        },
    ];
    statuses.extend(reasons.into_iter().map(|reason| Status::Waiting {
        retry_at: AT,
        reason,
    }));
    statuses
}

fn wait_errors() -> Vec<WaitError> {
    let mut errors: Vec<WaitError> = statuses()
        .into_iter()
        .map(|status| WaitError::Timeout { status })
        .collect();
    errors.extend([
        WaitError::NeedsLogin {
            error: Error::Rejected {
                failure: Failure::new(FailureKind::Status, Some(StatusCode::UNAUTHORIZED)),
            },
        },
        WaitError::NeedsLogin {
            error: ConfigError::NoCredentials.into(),
        },
        WaitError::Rejected {
            error: Error::Rejected {
                failure: Failure::new(FailureKind::Status, Some(StatusCode::BAD_REQUEST)),
            },
            retry_at: AT,
        },
        WaitError::Revoked,
        WaitError::Closed,
    ]);
    errors
}

fn store_errors() -> Vec<StoreError> {
    vec![
        StoreError::Unavailable(io::Error::other("redis: IoError (connection refused)")),
        StoreError::Unreadable {
            reason: "a session sealed with another key, or altered",
        },
        StoreError::Directory {
            path: "/srv/missing".into(),
            // ENOENT, as the operating system says it.
            error: io::Error::from_raw_os_error(2),
        },
        StoreError::File {
            operation: "write the session file",
            path: "/srv/app/session.json".into(),
            // EACCES.
            error: io::Error::from_raw_os_error(13),
        },
        StoreError::InvalidKey {
            setting: "SESSION_KEY".into(),
            reason: "not valid base64",
        },
    ]
}

#[test]
fn every_error_reads_as_a_sentence() {
    for error in wait_errors() {
        assert_reads_as_sentence(&error);
    }
    for error in store_errors() {
        assert_reads_as_sentence(&error);
        assert_reads_as_sentence(&StartError::from(error));
    }
    assert_reads_as_sentence(&StartError::from(ConfigError::InvalidSetting {
        setting: "client_id",
        reason: "must not be empty",
    }));
    assert_reads_as_sentence(&Closed);
    for input in [
        "",
        "api.example.com",
        "ftp://user:hunter2@files.example.com",
    ] {
        let error = AllowedOrigins::new(input).unwrap_err();
        assert_reads_as_sentence(&error);
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
    assert_reads_as_sentence(&"custom://host".parse::<Origin>().unwrap_err());
}

#[test]
fn a_timeout_says_the_sessions_status_in_words() {
    let error = WaitError::Timeout {
        status: Status::Waiting {
            retry_at: AT,
            reason: WaitReason::Backoff,
        },
    };
    let message = error.to_string();
    assert_eq!(
        message,
        "no token within the timeout; the session is waiting until 2026-12-06T09:49:19.257Z: \
         backing off after a temporary failure"
    );
    assert!(!message.contains('{'), "{message}");
    for error in statuses()
        .into_iter()
        .map(|status| WaitError::Timeout { status })
    {
        let message = error.to_string();
        assert!(!message.contains('{'), "{message}");
        assert!(!message.contains("is needs"), "{message}");
    }
}

#[test]
fn a_store_directory_that_does_not_exist_is_named() {
    let directory = missing_directory("no-dir");
    let store = FileStore::new(
        directory.join("session.json"),
        FileStoreOptions::plaintext(),
    );
    let error = store.load().unwrap_err();
    assert!(matches!(error, StoreError::Directory { .. }), "{error:?}");
    let message = alternate(&error);
    assert!(
        message.starts_with(&format!(
            "cannot open the session store directory {}: ",
            directory.display()
        )),
        "{message}"
    );
    assert_reads_as_sentence(&error);
    let error = store.save(None, Generation::new(1), b"{}").unwrap_err();
    assert!(
        error.to_string().contains(&directory.display().to_string()),
        "{error}"
    );
    assert_reads_as_sentence(&error);
    // Through a manager's start too.
    assert_reads_as_sentence(&StartError::from(error));
}

#[test]
fn a_session_file_that_cannot_be_read_is_named() {
    let directory = missing_directory("unreadable-file");
    // The session's path is a directory: opened, but not read.
    let file = directory.join("session.json");
    std::fs::create_dir_all(&file).unwrap();
    let store = FileStore::new(&file, FileStoreOptions::plaintext());
    let error = store.load().unwrap_err();
    let _ = std::fs::remove_dir_all(&directory);
    assert!(matches!(error, StoreError::File { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with(&format!(
            "cannot read the session file {}: ",
            file.display()
        )),
        "{error}"
    );
    assert_reads_as_sentence(&error);
}

/// Opens the file store at `path` as a program configured with a key setting would.
fn open_with_key(
    path: &std::path::Path,
    setting: &str,
    value: &str,
) -> Result<FileStore, StoreError> {
    let key = StoreKey::from_setting(setting, value)?;
    Ok(FileStore::new(path, FileStoreOptions::encrypted(key)))
}

#[test]
fn a_key_that_is_not_base64_is_a_bad_setting_not_an_unreadable_session() {
    // A sound session file, sealed with a good key.
    let directory = missing_directory("bad-key");
    std::fs::create_dir_all(&directory).unwrap();
    let file = directory.join("session.json");
    let good = StoreKey::generate();
    let stored = open_with_key(&file, "SESSION_KEY", &good.to_base64()).unwrap();
    stored.save(None, Generation::new(1), b"{}").unwrap();

    let error = StoreKey::from_base64("not base64!").unwrap_err();
    assert!(matches!(error, StoreError::InvalidKey { .. }), "{error:?}");
    let message = alternate(&error);
    assert!(
        message.starts_with("the session key setting is not valid base64"),
        "{message}"
    );
    assert!(!message.contains("unreadable"), "{message}");
    assert!(
        !message.contains("not base64!"),
        "the value is never shown: {message}"
    );
    assert_reads_as_sentence(&error);

    let error = open_with_key(&file, "SESSION_KEY", "not base64!").unwrap_err();
    let message = alternate(&error);
    let _ = std::fs::remove_dir_all(&directory);
    assert!(
        message.starts_with("the SESSION_KEY setting is not valid base64"),
        "{message}"
    );
    assert!(!message.contains("unreadable"), "{message}");
    assert_reads_as_sentence(&error);

    let error = StoreKey::from_setting("SESSION_KEY", "c2hvcnQ=").unwrap_err();
    assert_eq!(
        error.to_string(),
        "the SESSION_KEY setting is not 32 bytes long once decoded; \
         a session key is 32 random bytes in standard base64"
    );
    assert_reads_as_sentence(&error);
}

#[test]
fn a_store_cause_is_said_once() {
    for error in store_errors() {
        let shown = alternate(&error);
        if let StoreError::Unavailable(cause) = &error {
            assert_eq!(shown.matches(&cause.to_string()).count(), 1, "{shown}");
        }
        assert!(std::error::Error::source(&error).is_none(), "{shown}");
        assert_eq!(alternate(&StartError::from(error)), shown);
    }
}
