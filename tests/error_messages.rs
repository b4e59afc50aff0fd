//! Every public error of the core reads as a sentence (lowercase start, no trailing
//! period, no `Debug` formatting, times in RFC 3339), and its chain never repeats itself.

use oauth2::basic::BasicErrorResponseType;
use oauth_lifecycle::error::Malformed;
use oauth_lifecycle::http::StatusCode;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{
    ConfigError, Error, Failure, FailureKind, Misuse, Purpose, Refused, RequestId, TokenKind,
    TransportError,
};
use oauth_lifecycle_testkit::errors::{alternate, assert_reads_as_sentence};

const AT: UtcDateTime = utc_datetime!(2026-12-06 9:49:19.257_010_562);

/// Every way a body can be malformed.
const MALFORMED: [Malformed; 6] = [
    Malformed::NotJson,
    Malformed::MissingAccessToken,
    Malformed::UnsupportedTokenType,
    Malformed::UnreadableExpiry,
    Malformed::LifetimeOutOfRange,
    Malformed::InvalidAccessToken,
];

/// Every kind of evidence, with what each comes with in practice.
fn failures() -> Vec<Failure> {
    let malformed = MALFORMED;
    let mut failures = vec![
        Failure::transport(TransportError::OutcomeUnknown),
        Failure::transport(TransportError::NotSent),
        Failure::new(FailureKind::Timeout, None),
        Failure::oauth(
            StatusCode::BAD_REQUEST,
            BasicErrorResponseType::InvalidGrant,
            Some("The refresh token is expired."),
        ),
        Failure::oauth(
            StatusCode::UNAUTHORIZED,
            BasicErrorResponseType::InvalidClient,
            None,
        ),
        Failure::oauth(
            StatusCode::BAD_REQUEST,
            BasicErrorResponseType::Extension("slow_down".into()),
            Some("Too many requests. Wait { a while }"),
        ),
        Failure::new(FailureKind::Status, Some(StatusCode::SERVICE_UNAVAILABLE)),
        Failure::new(FailureKind::Status, Some(StatusCode::TOO_MANY_REQUESTS)).with_retry_after(
            oauth_lifecycle::error::RetryAfter::parse("Sun, 06 Dec 2026 09:49:19 GMT"),
        ),
        Failure::new(FailureKind::TooLarge, Some(StatusCode::OK)),
        Failure::new(FailureKind::SpentElsewhere, None),
    ];
    failures.extend(
        malformed
            .into_iter()
            .map(|m| Failure::new(FailureKind::Malformed(m), Some(StatusCode::OK))),
    );
    failures
}

fn config_errors() -> Vec<ConfigError> {
    vec![
        ConfigError::InvalidUrl { endpoint: "token" },
        ConfigError::InsecureUrl {
            endpoint: "revocation",
        },
        ConfigError::NoCredentials,
        ConfigError::InconsistentSnapshot {
            reason: "a request in flight with an id not yet issued",
        },
        ConfigError::InvalidSetting {
            setting: "client_id",
            reason: "must not be empty",
        },
    ]
}

fn errors() -> Vec<Error> {
    let mut errors = Vec::new();
    for failure in failures() {
        errors.push(Error::Retry {
            retry_at: AT,
            failure: failure.clone(),
        });
        errors.push(Error::Throttled {
            retry_at: AT,
            failure: failure.clone(),
        });
        errors.push(Error::Reauthenticate {
            failure: failure.clone(),
        });
        errors.push(Error::Rejected { failure });
    }
    errors.extend(config_errors().into_iter().map(Error::from));
    errors
}

fn misuses() -> Vec<Misuse> {
    let id: RequestId = serde_json::from_str("7").unwrap();
    let mut misuses = vec![
        Misuse::UnknownRequest { id },
        Misuse::Revoked,
        Misuse::WrongState {
            operation: "log in",
            state: "logging in",
        },
        Misuse::NoCredentials,
    ];
    for purpose in [
        Purpose::Login,
        Purpose::Refresh,
        Purpose::Revoke(TokenKind::Access),
        Purpose::Revoke(TokenKind::Refresh),
    ] {
        misuses.push(Misuse::TooEarly {
            purpose,
            retry_at: AT,
        });
    }
    misuses
}

#[test]
fn every_error_reads_as_a_sentence() {
    for error in errors() {
        assert_reads_as_sentence(&error);
    }
    for error in config_errors() {
        assert_reads_as_sentence(&error);
    }
    for error in misuses() {
        assert_reads_as_sentence(&error);
        assert_reads_as_sentence(&Refused { session: (), error });
    }
    for malformed in MALFORMED {
        assert_reads_as_sentence(&malformed);
    }
    for error in [TransportError::NotSent, TransportError::OutcomeUnknown] {
        assert_reads_as_sentence(&error);
    }
}

#[test]
fn times_read_as_rfc_3339() {
    let failure = Failure::new(FailureKind::Status, Some(StatusCode::SERVICE_UNAVAILABLE));
    let retry = Error::Retry {
        retry_at: AT,
        failure: failure.clone(),
    };
    assert_eq!(
        retry.to_string(),
        "endpoint error, status 503; retrying at 2026-12-06T09:49:19.257Z"
    );
    let throttled = Error::Throttled {
        retry_at: AT,
        failure: Failure::new(FailureKind::Status, Some(StatusCode::TOO_MANY_REQUESTS)),
    };
    assert_eq!(
        throttled.to_string(),
        "endpoint error, status 429; throttled until 2026-12-06T09:49:19.257Z"
    );
    let too_early = Misuse::TooEarly {
        purpose: Purpose::Refresh,
        retry_at: AT,
    };
    assert_eq!(
        too_early.to_string(),
        "the next refresh may not be sent before 2026-12-06T09:49:19.257Z"
    );
    for message in [retry, throttled]
        .iter()
        .map(ToString::to_string)
        .chain([too_early.to_string()])
    {
        assert!(!message.contains("+00"), "{message}");
    }
}

#[test]
fn a_servers_description_is_quoted_so_its_period_ends_no_message() {
    let error = Error::Reauthenticate {
        failure: Failure::oauth(
            StatusCode::BAD_REQUEST,
            BasicErrorResponseType::InvalidGrant,
            Some("The refresh token is expired."),
        ),
    };
    assert_eq!(
        error.to_string(),
        "re-authentication required: endpoint error, status 400, error invalid_grant: \
         \"The refresh token is expired.\""
    );
}

#[test]
fn a_configuration_error_is_said_once() {
    let error = Error::from(ConfigError::NoCredentials);
    assert_eq!(
        alternate(&error),
        "no credentials configured to log in with"
    );
}
