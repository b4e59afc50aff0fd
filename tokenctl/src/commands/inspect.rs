//! `tokenctl inspect`: the stored session without its secrets: where it stands, its
//! token's times and why renewal comes when it does, and the last failure.

use std::process::ExitCode;

use oauth_lifecycle::time::UtcDateTime;
use oauth_lifecycle::{Dialect, Driver, Policy, Status, WaitReason};
use serde_json::{json, Value};

use crate::cli::InspectArgs;
use crate::context::{now, Context};
use crate::credentials::Rejection;
use crate::dialects::{self, with_dialect};
use crate::failure::Failure;
use crate::limited::Sends;
use crate::secrets::{self, Secrets};
use crate::session;
use crate::time_format::{localize, rfc3339, span};

pub(crate) fn inspect(context: &Context, args: &InspectArgs) -> Result<ExitCode, Failure> {
    let (name, profile) = (&context.name, &context.profile);
    let scope = args.scope.scope.as_deref();
    context.check_scope(scope)?;
    let file = context.session_file(scope);
    let store = file.store(name, profile)?;
    let policy = context.policy();
    let now = now();
    // Read as it stands: the dialect sends nothing, and holds no secret.
    let reading = dialects::build(name, profile, &Secrets::default(), scope)?;
    let session = with_dialect!(reading, Sends::Nothing, |dialect| {
        session::driver(dialect, &policy, &*store)
            .map(|(driver, stored)| stored.then(|| describe(&driver, &policy, now)))
    })?;
    let rejection = Rejection::load(&file).map(|rejection| {
        json!({
            "at": rejection.at,
            "purpose": rejection.purpose,
            "evidence": rejection.evidence,
            "changed_since": rejection.changed(name, profile, &secrets::at_hand(profile)),
        })
    });
    let report = json!({
        "profile": name,
        "provider": profile.provider.name(),
        "account": profile.account(),
        "file": file.path().display().to_string(),
        "encrypted": !profile.plaintext_storage,
        "session": session,
        "credentials_rejected": rejection,
        "last_failure": file.last_failure().map(|failure| json!({
            "at": failure.at,
            "message": failure.message,
        })),
    });
    if args.json {
        println!("{report}");
    } else {
        print!("{}", text(&report, now));
    }
    Ok(ExitCode::SUCCESS)
}

/// The session's facts, as JSON (moments in UTC). Never a secret: only times, counts
/// and states.
fn describe<D: Dialect>(driver: &Driver<D>, policy: &Policy, now: UtcDateTime) -> Value {
    let session = driver.session();
    let status = driver.status();
    let (status_name, retry_at, waiting, stopped) = match &status {
        Status::Ready => ("ready", None, None, None),
        Status::Renewing => ("renewing", None, None, None),
        Status::Waiting { retry_at, reason } => (
            match reason {
                WaitReason::Backoff => "backing off",
                WaitReason::Throttled | WaitReason::RequestBudget => "throttled",
                WaitReason::Rejected { .. } => "credentials rejected",
                _ => "waiting",
            },
            Some(rfc3339(*retry_at)),
            Some(reason.to_string()),
            None,
        ),
        Status::NeedsLogin { error } => ("needs login", None, None, Some(error.to_string())),
        Status::Revoked => ("revoked", None, None, None),
        _ => ("unknown", None, None, None),
    };
    let token = session.tokens().map(|tokens| {
        let renewal = renewal_reason(
            policy,
            tokens.issued_at(),
            tokens.expires_at(),
            tokens.refresh_at(),
        );
        json!({
            "handed_out": driver.access_token(now).is_some(),
            "issued_at": rfc3339(tokens.issued_at()),
            "expires_at": rfc3339(tokens.expires_at()),
            "hard_expiry": rfc3339(tokens.hard_expiry()),
            "renewal_at": rfc3339(tokens.refresh_at()),
            "renewal_in_seconds": (tokens.refresh_at() - now).whole_seconds(),
            "renewal_reason": renewal,
            "scope": tokens.scope(),
            "refresh_token": tokens.refresh_token().is_some(),
            "refresh_token_expires_at": tokens.refresh_expires_at().map(rfc3339),
        })
    });
    json!({
        "state": session.state_name(),
        "status": status_name,
        "retry_at": retry_at,
        "wait_reason": waiting,
        "stopped_because": stopped,
        "generation": session.generation().get(),
        "token": token,
    })
}

/// Why renewal comes when it does: the rule of `Policy::refresh_moment` that decided,
/// and the jitter.
fn renewal_reason(
    policy: &Policy,
    issued: UtcDateTime,
    expires: UtcDateTime,
    refresh_at: UtcDateTime,
) -> Value {
    let lifetime = (expires - issued).max(oauth_lifecycle::time::Duration::ZERO);
    let by_fraction = issued.saturating_add(lifetime * policy.refresh_fraction);
    let margin = policy
        .min_margin
        .min(lifetime * (1.0 - policy.refresh_fraction));
    let by_margin = expires.saturating_sub(margin);
    let (rule, base) = if by_fraction <= by_margin {
        (
            format!(
                "{}% of the {} lifetime",
                (policy.refresh_fraction * 100.0).round(),
                span(lifetime.whole_seconds())
            ),
            by_fraction,
        )
    } else {
        (
            format!("{} before expiry", span(margin.whole_seconds())),
            by_margin,
        )
    };
    let floor = issued.saturating_add(policy.min_renewal_interval);
    json!({
        "rule": rule,
        "jitter_seconds": (base - refresh_at).whole_seconds().max(0),
        "raised_to_min_interval": refresh_at == floor && base > floor,
    })
}

/// The report for a person: moments in local time.
fn text(report: &Value, now: UtcDateTime) -> String {
    let field = |value: &Value| match value {
        Value::String(text) => localize(text),
        Value::Null => "none".into(),
        other => other.to_string(),
    };
    let mut out = format!(
        "profile      {} ({}, {})\nstored in    {} ({})\n",
        field(&report["profile"]),
        field(&report["provider"]),
        field(&report["account"]),
        report["file"].as_str().unwrap_or_default(),
        if report["encrypted"] == Value::Bool(true) {
            "encrypted"
        } else {
            "plaintext"
        },
    );
    let session = &report["session"];
    if session.is_null() {
        out.push_str("session      none stored (tokenctl login, or tokenctl token, makes one)\n");
    } else {
        out.push_str(&format!(
            "state        {} ({}), generation {}\n",
            field(&session["state"]),
            field(&session["status"]),
            field(&session["generation"])
        ));
        if let Some(retry_at) = session["retry_at"].as_str() {
            let left = crate::time_format::parse_rfc3339(retry_at)
                .map(|at| (at - now).whole_seconds())
                .unwrap_or_default();
            out.push_str(&format!(
                "next attempt {} ({})\n",
                localize(retry_at),
                if left > 0 {
                    format!("in {}", span(left))
                } else {
                    "due".to_owned()
                }
            ));
        }
        if !session["wait_reason"].is_null() {
            out.push_str(&format!(
                "waiting      {}\n",
                field(&session["wait_reason"])
            ));
        }
        if !session["stopped_because"].is_null() {
            out.push_str(&format!(
                "stopped      {}\n",
                field(&session["stopped_because"])
            ));
        }
        let token = &session["token"];
        if token.is_null() {
            out.push_str("token        none\n");
        } else {
            let reason = &token["renewal_reason"];
            let renewal_in = token["renewal_in_seconds"].as_i64().unwrap_or_default();
            out.push_str(&format!(
                "issued       {}\nrenewal      {} ({}) by {}, jitter {}{}\nexpires      {} (handed out until {}){}\nscope        {}\nrefresh      {}\n",
                field(&token["issued_at"]),
                field(&token["renewal_at"]),
                if renewal_in >= 0 { format!("in {}", span(renewal_in)) } else { format!("due since {}", span(-renewal_in)) },
                field(&reason["rule"]),
                span(reason["jitter_seconds"].as_i64().unwrap_or_default()),
                if reason["raised_to_min_interval"] == Value::Bool(true) { ", raised to the minimum renewal interval" } else { "" },
                field(&token["expires_at"]),
                field(&token["hard_expiry"]),
                if token["handed_out"] == Value::Bool(true) { "" } else { ", not handed out any more" },
                field(&token["scope"]),
                match (&token["refresh_token"], &token["refresh_token_expires_at"]) {
                    (Value::Bool(true), Value::Null) => "a refresh token, no expiry given".to_owned(),
                    (Value::Bool(true), at) => format!("a refresh token, expires {}", field(at)),
                    _ => "no refresh token (renewal is a new login)".to_owned(),
                },
            ));
        }
    }
    let rejected = &report["credentials_rejected"];
    if !rejected.is_null() {
        out.push_str(&format!(
            "rejected     {} at {} ({}){}\n",
            field(&rejected["purpose"]),
            field(&rejected["at"]),
            field(&rejected["evidence"]),
            if rejected["changed_since"] == Value::Bool(true) {
                "; the credentials changed since: the next command tries them at once"
            } else {
                "; the same credentials are not sent again before the session's own retry"
            }
        ));
    }
    let failure = &report["last_failure"];
    if failure.is_null() {
        out.push_str("last failure none\n");
    } else {
        out.push_str(&format!(
            "last failure {}: {}\n",
            field(&failure["at"]),
            field(&failure["message"])
        ));
    }
    out
}
