//! Every public error of the blocking manager reads as a sentence, and its chain (as
//! anyhow's `{:#}` prints it) never repeats itself.

use std::io;
use std::time::Duration;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::{ConfigError, Error, Failure, FailureKind, Policy, Status, WaitReason};
use oauth_lifecycle_blocking::{
    BearerAuth, BearerAuthError, StartError, StoreError, TokenManager, WaitError,
};
use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};

/// A token endpoint nothing listens on: every request fails unsent, and the session
/// backs off.
const NOWHERE: &str = "http://127.0.0.1:9/token";

fn dialect() -> Standard {
    Standard::builder(NOWHERE, "client")
        .client_secret("client-secret")
        .build()
        .unwrap()
}

fn wait_errors() -> Vec<WaitError> {
    vec![
        WaitError::Timeout {
            status: Status::Renewing,
        },
        WaitError::Timeout {
            status: Status::Waiting {
                retry_at: utc_datetime!(2026-12-06 9:49:19.257_010_562),
                reason: WaitReason::Backoff,
            },
        },
        WaitError::NeedsLogin {
            error: Error::Reauthenticate {
                failure: Failure::new(FailureKind::SpentElsewhere, None),
            },
        },
        WaitError::Revoked,
        WaitError::Closed,
    ]
}

fn start_errors() -> Vec<StartError> {
    vec![
        StartError::Session(ConfigError::NoCredentials.into()),
        StartError::Session(
            StoreError::Unreadable {
                reason: "not a session file",
            }
            .into(),
        ),
        StartError::Thread(io::Error::from_raw_os_error(11)),
    ]
}

#[test]
fn every_error_reads_as_a_sentence() {
    for error in start_errors() {
        assert_reads_as_sentence(&error);
    }
    for error in wait_errors() {
        assert_reads_as_sentence(&BearerAuthError::NoToken(error));
    }
    assert_reads_as_sentence(&BearerAuthError::AgentDropped);
}

#[test]
fn a_thread_that_cannot_start_says_why_once() {
    let error = StartError::Thread(io::Error::from_raw_os_error(11));
    assert_eq!(
        error.to_string(),
        "could not start the token manager's thread"
    );
    let shown = alternate(&error);
    assert!(
        shown.starts_with("could not start the token manager's thread: "),
        "{shown}"
    );
    assert_eq!(shown.matches("could not start").count(), 1, "{shown}");
}

#[test]
fn a_wait_error_is_said_once_by_bearer_auth() {
    // A real one: the manager cannot reach its endpoint and backs off.
    let manager = TokenManager::start(dialect(), Policy::default()).unwrap();
    let wait_error = manager.token(Duration::from_millis(200)).unwrap_err();
    manager.shutdown();
    assert!(
        matches!(wait_error, WaitError::Timeout { .. }),
        "{wait_error:?}"
    );
    assert!(!wait_error.to_string().contains('{'), "{wait_error}");
    let waited = wait_error.to_string();

    for wait_error in [wait_error].into_iter().chain(wait_errors()) {
        let text = wait_error.to_string();
        let error = BearerAuthError::NoToken(wait_error);
        let shown = alternate(&error);
        assert_eq!(shown.matches(text.as_str()).count(), 1, "{shown}");
        assert_reads_as_sentence(&error);
    }
    assert!(waited.starts_with("no token within the timeout; the session "));
}

#[test]
fn an_origin_that_is_none_reads_as_a_sentence() {
    let manager = TokenManager::start(dialect(), Policy::default()).unwrap();
    for origin in ["", "api.example.com"] {
        let error = BearerAuth::new(manager.clone(), origin).unwrap_err();
        assert_reads_as_sentence(&error);
    }
    manager.shutdown();
}
