//! Every public error of the tokio manager reads as a sentence, and its chain (as
//! anyhow's `{:#}` prints it) never repeats itself.

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::{ConfigError, Policy};
use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};
use oauth_lifecycle_tokio::{StartError, StoreError, TokenManager};

/// A token endpoint nothing listens on: every request fails unsent, and the session
/// backs off.
const NOWHERE: &str = "http://127.0.0.1:9/token";

fn dialect() -> Standard {
    Standard::builder(NOWHERE, "client")
        .client_secret("client-secret")
        .build()
        .unwrap()
}

/// The error of a client that cannot be built: its TLS configuration failed.
fn reqwest_error() -> reqwest::Error {
    let garbage = reqwest::Certificate::from_der(b"not a certificate").unwrap();
    reqwest::Client::builder()
        .add_root_certificate(garbage)
        .build()
        .unwrap_err()
}

#[test]
fn every_start_error_reads_as_a_sentence() {
    let errors = [
        StartError::Session(ConfigError::NoCredentials.into()),
        StartError::Session(
            StoreError::Unreadable {
                reason: "not a session file",
            }
            .into(),
        ),
        StartError::NoRuntime,
        StartError::Client(reqwest_error()),
    ];
    for error in &errors {
        assert_reads_as_sentence(error);
    }
}

#[test]
fn a_client_that_cannot_be_built_says_why_once() {
    let cause = reqwest_error().to_string();
    let error = StartError::Client(reqwest_error());
    let shown = alternate(&error);
    assert!(
        shown.starts_with(&format!("the HTTP client could not be built: {cause}")),
        "{shown}"
    );
    assert_eq!(shown.matches(cause.as_str()).count(), 1, "{shown}");
}

#[test]
fn a_start_outside_a_runtime_says_so() {
    let error = TokenManager::start(dialect(), Policy::default()).unwrap_err();
    assert!(matches!(error, StartError::NoRuntime), "{error:?}");
    assert_reads_as_sentence(&error);
}

#[cfg(feature = "middleware")]
mod middleware {
    use std::time::Duration;

    use oauth_lifecycle::time::macros::utc_datetime;
    use oauth_lifecycle::{Error, Failure, FailureKind, Policy, Status, WaitReason};
    use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};
    use oauth_lifecycle_tokio::{BearerAuth, BearerAuthError, TokenManager, WaitError};

    use super::dialect;

    fn wait_errors() -> Vec<WaitError> {
        vec![
            WaitError::Timeout {
                status: Status::Renewing,
            },
            WaitError::Timeout {
                status: Status::Waiting {
                    retry_at: utc_datetime!(2026-12-06 9:49:19.257_010_562),
                    reason: WaitReason::Throttled,
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

    #[test]
    fn every_bearer_auth_error_reads_as_a_sentence_and_says_its_wait_error_once() {
        for wait_error in wait_errors() {
            let text = wait_error.to_string();
            let error = BearerAuthError::NoToken(wait_error);
            assert_reads_as_sentence(&error);
            let shown = alternate(&error);
            assert_eq!(shown.matches(text.as_str()).count(), 1, "{shown}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_without_a_token_says_why_once() {
        let manager = TokenManager::start(dialect(), Policy::default()).unwrap();
        let auth = BearerAuth::new(manager.clone(), "http://127.0.0.1:9")
            .unwrap()
            .wait(Duration::from_millis(200));
        let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
            .with(auth)
            .build();
        let error = client
            .get("http://127.0.0.1:9/orders")
            .send()
            .await
            .unwrap_err();
        manager.shutdown().await;
        let shown = alternate(&error);
        assert!(
            shown.contains("no access token to send: no token within the timeout; the session "),
            "{shown}"
        );
        assert_eq!(
            shown.matches("no token within the timeout").count(),
            1,
            "{shown}"
        );
        assert!(!shown.contains('{'), "{shown}");
        assert_reads_as_sentence(&error);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_origin_that_is_none_reads_as_a_sentence() {
        let manager = TokenManager::start(dialect(), Policy::default()).unwrap();
        for origin in ["", "api.example.com"] {
            let error = BearerAuth::new(manager.clone(), origin).unwrap_err();
            assert_reads_as_sentence(&error);
        }
        manager.shutdown().await;
    }
}
