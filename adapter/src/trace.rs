//! `tracing` output for everything a manager does: requests, answers, renewals, backoffs,
//! rejections and state changes. Tokens are identified by a short fingerprint, never
//! shown: nothing here prints a secret.

use std::fmt::Write as _;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Event, RequestId, Rfc3339, Status, TokenRequest, TransportError};
use sha2::{Digest, Sha256};

/// A short, stable identifier of a token for logs: the first 8 hex digits of its
/// SHA-256. Enough to tell tokens apart in a log, far too little to recover one.
pub fn fingerprint(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(8);
    for byte in &digest[..4] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Traces one event of the core, at a level that says how much it matters.
pub(crate) fn event(event: &Event, now: UtcDateTime) {
    match event {
        Event::TokenIssued {
            token,
            generation,
            valid_until,
            via,
            renewal,
            ..
        } => tracing::info!(
            generation = generation.get(),
            token = %fingerprint(token.secret()),
            valid_until = %Rfc3339(*valid_until),
            via = %via,
            renewal,
            "token issued"
        ),
        Event::TokenRestored {
            token,
            generation,
            valid_until,
            ..
        } => tracing::info!(
            generation = generation.get(),
            token = %fingerprint(token.secret()),
            valid_until = %Rfc3339(*valid_until),
            "token restored"
        ),
        Event::TokenExtended {
            generation,
            valid_until,
            ..
        } => tracing::debug!(
            generation = generation.get(),
            valid_until = %Rfc3339(*valid_until),
            "token extended"
        ),
        Event::TokenWithdrawn { generation, reason } => {
            tracing::info!(generation = generation.get(), reason = %reason, "token withdrawn")
        }
        Event::RenewalDue { unauthorized } => {
            tracing::info!(unauthorized, "renewal due")
        }
        Event::Reauthenticating { cause } => {
            tracing::warn!(cause = %cause, "refresh grant dead; logging in again")
        }
        Event::ReauthenticationRequired { error } => {
            tracing::error!(error = %error, "re-authentication required")
        }
        Event::Rejected { error } => {
            tracing::error!(error = %error, "rejected by the token endpoint")
        }
        Event::RejectedRetryScheduled {
            purpose,
            error,
            retry_at,
            attempts_left,
        } => {
            // An error, not a warning: a rejection usually needs a person, even though
            // the session tries again by itself.
            tracing::error!(
                purpose = %purpose,
                retry_at = %Rfc3339(*retry_at),
                attempts_left = attempts_left.map_or(-1, i64::from),
                error = %error,
                "rejected by the token endpoint; trying again slowly"
            )
        }
        Event::RetryScheduled { purpose, error } => {
            let delay = error
                .retry_at()
                .map(|at| (at - now).whole_milliseconds())
                .unwrap_or_default();
            tracing::warn!(
                purpose = %purpose,
                delay_ms = delay as i64,
                retry_at = %error.retry_at().map(Rfc3339).map(|at| at.to_string()).unwrap_or_default(),
                error = %error,
                "backing off"
            )
        }
        Event::RevocationFailed { kind, error } => {
            tracing::warn!(kind = ?kind, error = %error, "revocation failed")
        }
        Event::Revoked => tracing::info!("session revoked"),
        Event::RefreshTokenSpentElsewhere { generation } => tracing::warn!(
            generation = generation.get(),
            "refresh token dropped unsent: it may have been spent elsewhere"
        ),
        Event::ServerDateIgnored { offset } => tracing::warn!(
            offset_s = offset.whole_seconds(),
            "implausible Date header from the token endpoint ignored"
        ),
        other => tracing::debug!(event = ?other, "session event"),
    }
}

/// Traces a request as it leaves.
pub(crate) fn request(request: &TokenRequest) {
    tracing::debug!(
        request = request.id().get(),
        purpose = %request.purpose(),
        method = %request.request().method(),
        uri = %request.request().uri(),
        resend_safe = request.is_resend_safe(),
        "sending token request"
    );
}

/// Traces the answer to a request: its status only (a body may echo secrets).
pub(crate) fn response(id: RequestId, status: u16) {
    tracing::debug!(request = id.get(), status, "token endpoint answered");
}

/// Traces a transport failure.
pub(crate) fn transport_error(id: RequestId, error: TransportError) {
    tracing::warn!(request = id.get(), error = %error, "token request failed in transport");
}

/// Traces a change of status.
pub(crate) fn status(status: &Status) {
    tracing::debug!(status = %status, "session status");
}
