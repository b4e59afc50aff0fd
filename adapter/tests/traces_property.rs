//! Property test: random credentials, and the tokens the server issued, echoed by the
//! server in its refusals (the description, across its length cut, or the error code;
//! raw, percent-encoded or base64), never show in the adapters' tracing output at TRACE
//! level — nor any 8-byte fragment of any of their forms.

use std::sync::Arc;

use oauth_lifecycle::dialect::Standard;
use oauth_lifecycle::time::macros::utc_datetime;
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle::Policy;
use oauth_lifecycle_adapter::{Action, ClockSource, Command, Engine, StoreCall};
use oauth_lifecycle_emulator::{
    EmulatedClient, Emulator, InjectedFailure, StandardServer, StandardServerConfig,
};
use oauth_lifecycle_testkit::echo::{echo_forms, ECHO_FORMS};
use oauth_lifecycle_testkit::TraceBuffer;
use proptest::prelude::*;

const START: UtcDateTime = utc_datetime!(2026-10-01 08:00:00);

/// Plays the runtime until the engine waits: store calls run inline (there is no store
/// here), every request is answered by the emulator at once.
fn run(engine: &mut Engine<Standard>, server: &mut StandardServer, now: UtcDateTime) {
    for _ in 0..32 {
        match engine.poll(now) {
            Action::Send(request) => {
                let response = server.handle(request.request(), now);
                engine.handle_response(request.id(), &response, now);
            }
            Action::Store(call) => engine.handle_store_answer(call.run(), now),
            Action::Wait(_) | Action::Stop => return,
        }
    }
    panic!("the engine never settled");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn echoed_secrets_never_reach_the_traces(
        client_secret in "[A-Za-z0-9._~-]{16,32}",
        password in "[ -~]{12,32}",
        echoes in proptest::collection::vec((0_usize..4, 0..ECHO_FORMS, any::<bool>(), 0_usize..300), 1..4),
    ) {
        let mut config = StandardServerConfig::default();
        config.clients = vec![EmulatedClient {
            client_id: "traced-client".into(),
            client_secret: client_secret.clone(),
            grants: vec!["password".into(), "refresh_token".into()],
        }];
        config.users = vec![("alice".into(), password.clone())];
        let mut server = StandardServer::new(config);
        let dialect = Standard::builder("http://127.0.0.1/token", "traced-client")
            .client_secret(&client_secret)
            .password("alice", &password)
            .revocation_url("http://127.0.0.1/revoke")
            .build()
            .unwrap();
        let buffer = TraceBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(buffer.clone())
            .finish();
        let mut secrets = vec![client_secret.clone(), password.clone()];
        tracing::subscriber::with_default(subscriber, || {
            let mut engine = Engine::start(
                dialect,
                Policy::default(),
                None,
                Arc::new(|| {}),
                ClockSource::Supplied,
                START,
                StoreCall::run,
            )
            .unwrap();
            let mut now = START;
            run(&mut engine, &mut server, now);
            for (which, encoding, in_code, padding) in &echoes {
                // What the session holds now: the credentials and its tokens.
                let mut held = vec![client_secret.clone(), password.clone()];
                if let Some(tokens) = engine.driver().session().tokens() {
                    held.push(tokens.access_token().to_owned());
                    held.extend(tokens.refresh_token().map(|t| t.secret().clone()));
                }
                secrets.extend(held[2..].iter().cloned());
                let echoed = &echo_forms(&held[which % held.len()])[*encoding];
                let text = format!("echo:{}{echoed} refused", "x".repeat(*padding));
                let body = if *in_code {
                    serde_json::json!({ "error": text })
                } else {
                    serde_json::json!({ "error": "invalid_request", "error_description": text })
                };
                server.fail_next(InjectedFailure::Answer { status: 400, body: body.to_string() });
                // The next renewal meets the echo: a dead grant, then a login.
                now += Duration::hours(1);
                let generation = engine.driver().session().generation();
                engine.mailbox().report_call_succeeded(generation);
                engine.handle_timeout(now);
                run(&mut engine, &mut server, now);
            }
            let revoked = engine.mailbox().command(Command::Revoke);
            run(&mut engine, &mut server, now);
            assert_eq!(revoked.outcome(), Some(Ok(())), "the revocation was applied");
        });
        let output = buffer.text();
        // The refusals reached the traces (a code that held a secret is replaced whole).
        prop_assert!(
            output.contains("echo:") || output.contains("error [redacted]"),
            "the echoes were traced: {output}"
        );
        for secret in &secrets {
            for form in echo_forms(secret) {
                let bytes = form.as_bytes();
                for window in bytes.windows(8.min(bytes.len())) {
                    let fragment = String::from_utf8_lossy(window);
                    prop_assert!(
                        !output.contains(fragment.as_ref()),
                        "{fragment:?} of a secret in the traces:\n{output}"
                    );
                }
            }
        }
    }
}
