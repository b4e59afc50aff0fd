//! Everything the manager traces, at TRACE level, through a real `tracing` subscriber:
//! logins, refreshes, a 401, failures, a slide, revocations. No secret appears in the
//! output, and the tokens' fingerprints do.

mod support;

use std::time::Duration;

use oauth_lifecycle::{Policy, Status, WaitReason};
use oauth_lifecycle_adapter::trace::fingerprint;
use oauth_lifecycle_emulator::{
    ConvirzaV3Server, ConvirzaV3ServerConfig, InjectedFailure, StandardServer,
    StandardServerConfig, TransportFault,
};
use oauth_lifecycle_testkit::TraceBuffer;
use support::*;
use time::Duration as Span;

/// The test binary's trace output.
fn capture() -> TraceBuffer {
    TraceBuffer::global()
}

/// The Basic credentials header value of a client.
fn basic(id: &str, secret: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{id}:{secret}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[test]
fn traces_at_trace_level_show_fingerprints_and_never_a_secret() {
    let output = capture();
    let mut secrets = vec![
        CLIENT.1.to_owned(),
        USER.1.to_owned(),
        basic(CLIENT.0, CLIENT.1),
        "SecurePassword123!".to_owned(),
    ];
    let mut handed_out = Vec::new();

    // The standard dialect: login, refresh, a 401, failures of every kind, revocation.
    let mut policy = Policy::default();
    policy.response_timeout = time::Duration::seconds(1);
    // Every renewal below is driven by a 401, back to back, a score of them within one
    // simulated minute.
    policy.unauthorized_renewal_spacing = time::Duration::ZERO;
    policy.token_request_budget =
        oauth_lifecycle::RequestBudget::per_window(100, time::Duration::minutes(1));
    let sim = Sim::new(StandardServer::new(StandardServerConfig::default()));
    let tokens = sim
        .manager(standard(&sim.front), policy.clone())
        .name("traced-standard")
        .revoke_on_shutdown(true)
        .start()
        .unwrap();
    let mut token = tokens.token(PATIENCE).unwrap();
    handed_out.push(token.secret().to_owned());
    let mut renew = |setup: &dyn Fn()| {
        setup();
        let renewed = tokens
            .token_newer_than(token.generation(), PATIENCE)
            .expect("renewed");
        assert_eq!(sim.call_api(&renewed), 200);
        handed_out.push(renewed.secret().to_owned());
        token = renewed;
    };
    // Refresh at its moment.
    renew(&|| sim.advance(Span::minutes(55)));
    // A 401.
    renew(&|| tokens.report_unauthorized(tokens.with_token(|t| t.generation()).unwrap()));
    // invalid_grant: the grant is dead, a login follows.
    renew(&|| {
        sim.fail_next(InjectedFailure::OAuthError {
            status: 400,
            code: "invalid_grant".into(),
        });
        sim.advance(Span::minutes(55));
    });
    // A server that echoes the credentials and the token it holds, raw and encoded, in
    // its refusal of a refresh: the grant is dead, a login follows, and the traces of
    // that refusal show none of them.
    renew(&|| {
        let access_token = tokens
            .with_token(|t| t.secret().to_owned())
            .unwrap_or_default();
        let echo = format!(
            "{} {} {} {} {}",
            CLIENT.1,
            USER.1,
            basic(CLIENT.0, CLIENT.1),
            form_urlencoded::byte_serialize(USER.1.as_bytes()).collect::<String>(),
            access_token,
        );
        sim.fail_next(InjectedFailure::Answer {
            status: 400,
            body: serde_json::json!({ "error": "invalid_request", "error_description": echo })
                .to_string(),
        });
        sim.advance(Span::minutes(55));
    });
    // Failures that back off: a 500, a 429, a reset, a truncated body, a gateway's page,
    // a hang past the timeout, a body past the cap; each followed by a retry.
    for fault in [
        Err(InjectedFailure::Status {
            status: 500,
            retry_after: None,
        }),
        Err(InjectedFailure::Status {
            status: 429,
            retry_after: Some("30".into()),
        }),
        Ok(TransportFault::ResetAfterRequest),
        Ok(TransportFault::TruncatedBody),
        Ok(TransportFault::HtmlErrorPage(502)),
        Ok(TransportFault::Hang(Duration::from_secs(5))),
        Ok(TransportFault::OversizedBody(
            policy.max_body_bytes as u64 + 1,
        )),
    ] {
        renew(&|| {
            match fault.clone() {
                Err(failure) => sim.fail_next(failure),
                Ok(fault) => sim.front.inject(fault),
            }
            tokens.report_unauthorized(tokens.with_token(|t| t.generation()).unwrap());
            eventually("the session backs off", || {
                matches!(tokens.status(), Status::Waiting { .. })
            });
            let Status::Waiting { retry_at, .. } = tokens.status() else {
                unreachable!()
            };
            sim.clock.set(retry_at);
        });
    }
    // invalid_client: the session retries it slowly; an explicit login goes at once.
    sim.fail_next(InjectedFailure::OAuthError {
        status: 401,
        code: "invalid_client".into(),
    });
    renew(&|| {
        tokens.report_unauthorized(tokens.with_token(|t| t.generation()).unwrap_or_default());
        eventually("the session retries the rejection slowly", || {
            matches!(
                tokens.status(),
                Status::Waiting {
                    reason: WaitReason::Rejected { .. },
                    ..
                }
            )
        });
        tokens.login().unwrap();
    });
    tokens.shutdown();
    assert!(sim.stats().revocations >= 1);
    secrets.extend(sim.issued());

    // Convirza V3: JSON credentials, sliding expiry, single-use rotation, revocation.
    let v3 = Sim::new(ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()));
    let tokens = v3
        .manager(convirza_v3(&v3.front), Policy::default())
        .name("traced-v3")
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).unwrap();
    handed_out.push(first.secret().to_owned());
    v3.advance(Span::days(1));
    assert_eq!(v3.call_api(&first), 200);
    let before = tokens.with_token(|t| t.valid_until()).unwrap();
    tokens.report_call_succeeded(first.generation());
    eventually("the expiry slides", || {
        tokens.with_token(|t| t.valid_until()).unwrap() > before
    });
    v3.advance(Span::days(6));
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .unwrap();
    handed_out.push(second.secret().to_owned());
    tokens.revoke().unwrap();
    tokens.shutdown();
    secrets.extend(v3.issued());

    let output = output.text();
    assert!(secrets.len() > 20, "{} secrets", secrets.len());
    // Not even a piece of one: any 12 characters in a row of a secret.
    for secret in &secrets {
        let chars: Vec<char> = secret.chars().collect();
        for piece in chars.windows(12.min(chars.len())) {
            let piece: String = piece.iter().collect();
            assert!(
                !output.contains(&piece),
                "a piece of a secret leaked: {piece:?} of {secret:?}"
            );
        }
    }
    // Tokens are told apart by their fingerprints.
    for token in &handed_out {
        let print = fingerprint(token);
        assert!(output.contains(&print), "no fingerprint {print}");
    }
    // The spans name their manager, and everything a reader of logs needs is there.
    for expected in [
        "token_manager{name=traced-standard}",
        "token_manager{name=traced-v3}",
        "token_request{request=",
        "token issued",
        "token extended",
        "renewal due",
        "backing off",
        "rejected by the token endpoint",
        "401 reported",
        "session revoked",
        "token manager shutting down",
    ] {
        assert!(output.contains(expected), "no {expected:?} in the traces");
    }
}

/// A client that authenticates with a key (`private_key_jwt`): through a login, a
/// refresh and the revocations, the TRACE log holds no fragment of an assertion any
/// request carried, nor of the key.
#[test]
fn a_client_with_a_key_traces_no_assertion_and_no_key() {
    use oauth_lifecycle_emulator::AssertionKey;
    use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
    use oauth_lifecycle_testkit::recorder::Recorder;

    let output = capture();
    let (signer, pem) = JwtSigner::generate(Algorithm::Es256).unwrap();
    let key = AssertionKey::jwk(signer.public_jwk().unwrap());
    let config = StandardServerConfig::default().assertion_client(CLIENT.0, key);
    let sim = Sim::new(Recorder::new(StandardServer::new(config)));
    let dialect = oauth_lifecycle_testkit::standard_client(&sim.front)
        .client_assertion(signer)
        .password(USER.0, USER.1)
        .revocation_url(sim.front.url("/revoke"))
        .build()
        .unwrap();
    let tokens = sim
        .manager(dialect, Policy::default())
        .name("traced-assertions")
        .start()
        .unwrap();
    let first = tokens.token(PATIENCE).expect("a token");
    sim.advance(Span::minutes(54));
    tokens.clock_moved();
    tokens
        .token_newer_than(first.generation(), PATIENCE)
        .expect("a refreshed token");
    tokens.revoke().unwrap();
    eventually("revoked", || tokens.status() == Status::Revoked);
    tokens.shutdown();

    let assertions = sim.front.with_emulator(|tap| tap.inner.secrets.clone());
    assert!(
        assertions.iter().filter(|s| s.starts_with("eyJ")).count() >= 4,
        "login, refresh, two revocations"
    );
    let output = output.text();
    assert!(output.contains("traced-assertions"));
    oauth_lifecycle_testkit::assert_no_assertion_or_key(&output, &assertions, &pem);
}
