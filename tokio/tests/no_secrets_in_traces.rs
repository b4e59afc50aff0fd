//! Everything the manager, its task, its middleware and reqwest trace at TRACE level,
//! captured across the scenarios a user meets (logins, renewals, rotation, failures, a
//! refused client, 401s, sliding, revocation, shutdown, a real server), holds no secret:
//! no client secret, no password, no access or refresh token. Tokens appear by their
//! fingerprint instead.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;

use oauth_lifecycle::dialect::{ConvirzaV3, Standard};
use oauth_lifecycle::time::Duration;
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_emulator::{
    ConvirzaV3Server, ConvirzaV3ServerConfig, DrivenClock, Emulator, HttpFront, InjectedFailure,
    StandardServer, StandardServerConfig, TransportFault,
};
use oauth_lifecycle_testkit::{start_django_oauth_toolkit, DOT_PASSWORD_CLIENT, DOT_USER};
use oauth_lifecycle_tokio::{fingerprint, MemoryStore, PublishedToken, SessionStore, TokenManager};
use support::capture;
use support::*;

/// Every secret seen, to look for in the output.
#[derive(Default)]
struct Secrets {
    credentials: BTreeSet<String>,
    /// Access tokens as the manager handed them out.
    access: BTreeSet<String>,
    /// Every token the stores held: access, refresh, ID tokens.
    tokens: BTreeSet<String>,
}

impl Secrets {
    fn credential(&mut self, secret: &str) {
        self.credentials.insert(secret.to_owned());
    }

    /// The manager's current access token and the store's refresh token.
    fn collect(&mut self, manager: &TokenManager, store: &MemoryStore) {
        if let Some(secret) = secret(manager) {
            self.access.insert(secret.clone());
            self.tokens.insert(secret);
        }
        if let Some(stored) = store.load().unwrap() {
            let snapshot: serde_json::Value = serde_json::from_slice(&stored.snapshot).unwrap();
            collect_tokens(&snapshot, &mut self.tokens);
        }
    }
}

/// Every string under a key naming a token.
fn collect_tokens(value: &serde_json::Value, into: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map {
                match value {
                    serde_json::Value::String(token) if key.ends_with("token") => {
                        into.insert(token.clone());
                    }
                    other => collect_tokens(other, into),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_tokens(v, into)),
        _ => {}
    }
}

enum Fault {
    Provider(InjectedFailure),
    Transport(TransportFault),
}

/// Lets renewal fall due, and moves the clock to each retry the session schedules until
/// a token newer than `after` comes.
async fn renew_through(
    manager: &TokenManager,
    clock: &DrivenClock,
    after: oauth_lifecycle::Generation,
) -> Arc<PublishedToken> {
    advance(clock, manager, Duration::minutes(50));
    for _ in 0..5 {
        let retry = eventually("a retry or a new token", || {
            if generation(manager) > Some(after.get()) {
                return Some(None);
            }
            match manager.status() {
                Status::Waiting { retry_at, .. } if retry_at > clock.now() => Some(Some(retry_at)),
                _ => None,
            }
        })
        .await;
        match retry {
            Some(retry_at) => {
                clock.set(retry_at);
                manager.clock_moved();
            }
            None => break,
        }
    }
    manager.token_newer_than(after, PATIENCE).await.unwrap()
}

fn standard(front: &HttpFront<StandardServer>, secret: &str) -> Standard {
    Standard::builder(front.url("/token"), "emulated-client")
        .client_secret(secret)
        .password("alice", "alice-password")
        .revocation_url(front.url("/revoke"))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_traces() {
    let capture = capture::install();
    let mut secrets = Secrets::default();

    // The standard dialect: login, a refresh, a 500 and a 429 on the way, a reset, a
    // 401, revocation at shutdown.
    let clock = DrivenClock::new(START);
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        clock.clone(),
    )
    .unwrap();
    secrets.credential("emulated-secret");
    secrets.credential("alice-password");
    let store = Arc::new(MemoryStore::new());
    let manager = TokenManager::builder(standard(&front, "emulated-secret"), renew_on_401())
        .clock(reading(&clock))
        .store(Arc::clone(&store) as Arc<dyn SessionStore>)
        .name("standard")
        .revoke_on_shutdown(true)
        .start()
        .unwrap();
    let mut current = manager.token(PATIENCE).await.unwrap();
    secrets.collect(&manager, &store);
    for fault in [
        Fault::Provider(InjectedFailure::Status {
            status: 500,
            retry_after: None,
        }),
        Fault::Provider(InjectedFailure::Status {
            status: 429,
            retry_after: Some("5".into()),
        }),
        Fault::Transport(TransportFault::TruncatedBody),
    ] {
        match fault {
            Fault::Provider(failure) => front.with_emulator(|s| s.fail_next(failure)),
            Fault::Transport(fault) => front.inject(fault),
        }
        current = renew_through(&manager, &clock, current.generation()).await;
        secrets.collect(&manager, &store);
    }
    // A server that echoes the credentials and the token it holds in its refusal of a
    // refresh: the grant is dead, a login follows, and the traces show none of them.
    let echo = format!("emulated-secret alice-password {}", current.secret());
    let refusal = serde_json::json!({ "error": "invalid_request", "error_description": echo });
    front.with_emulator(|s| {
        s.fail_next(InjectedFailure::Answer {
            status: 400,
            body: refusal.to_string(),
        })
    });
    current = renew_through(&manager, &clock, current.generation()).await;
    secrets.collect(&manager, &store);
    manager.report_unauthorized(current.generation());
    let after_401 = manager
        .token_newer_than(current.generation(), PATIENCE)
        .await
        .unwrap();
    secrets.collect(&manager, &store);
    #[cfg(feature = "middleware")]
    {
        // Through the middleware: the provider ends every session, the API's 401 renews.
        let auth =
            oauth_lifecycle_tokio::BearerAuth::new(manager.clone(), &front.base_url()).unwrap();
        let api = reqwest_middleware::ClientBuilder::new(api_client())
            .with(auth)
            .build();
        front.with_emulator(|s| s.revoke_all());
        let response = api.get(front.url("/api/me")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(generation(&manager) > Some(after_401.generation().get()));
        secrets.collect(&manager, &store);
    }
    drop(after_401);
    bounded("shutdown", manager.shutdown()).await;

    // A refused client secret.
    let wrong = "a-wrong-client-secret-4711";
    secrets.credential(wrong);
    let refused = TokenManager::start(standard(&front, wrong), Policy::default()).unwrap();
    assert!(refused.token(PATIENCE).await.is_err());
    refused.shutdown().await;

    // Convirza V3: rotation of single-use refresh tokens, sliding, revocation.
    let v3_front = HttpFront::start(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        clock.clone(),
    )
    .unwrap();
    secrets.credential("SecurePassword123!");
    let v3_store = Arc::new(MemoryStore::new());
    let v3 = TokenManager::builder(
        ConvirzaV3::builder("user@example.com", "SecurePassword123!")
            .base_url(v3_front.base_url())
            .build()
            .unwrap(),
        Policy::default(),
    )
    .clock(reading(&clock))
    .store(Arc::clone(&v3_store) as Arc<dyn SessionStore>)
    .name("convirza-v3")
    .start()
    .unwrap();
    let first = v3.token(PATIENCE).await.unwrap();
    secrets.collect(&v3, &v3_store);
    // A day later a call succeeds: the token slides (before the clock moves on).
    advance(&clock, &v3, Duration::days(1));
    v3.report_call_succeeded(first.generation());
    let slid = clock.now() + Duration::days(7) - Duration::seconds(5);
    eventually("the slide", || {
        v3.with_token(|t| t.valid_until())
            .filter(|until| *until == slid)
    })
    .await;
    advance(&clock, &v3, Duration::days(6));
    v3.token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    secrets.collect(&v3, &v3_store);
    v3.revoke().await.unwrap();
    eventually("the revocation", || {
        (v3.status() == Status::Revoked).then_some(())
    })
    .await;
    v3.shutdown().await;

    // A real server: django-oauth-toolkit, an awkward password, rotation, revocation.
    let peer = start_django_oauth_toolkit(300);
    secrets.credential(DOT_PASSWORD_CLIENT.1);
    secrets.credential(DOT_USER.1);
    let dot_store = Arc::new(MemoryStore::new());
    let dot = TokenManager::builder(
        Standard::builder(peer.url("/o/token/"), DOT_PASSWORD_CLIENT.0)
            .client_secret(DOT_PASSWORD_CLIENT.1)
            .password(DOT_USER.0, DOT_USER.1)
            .revocation_url(peer.url("/o/revoke_token/"))
            .build()
            .unwrap(),
        Policy::default(),
    )
    .store(Arc::clone(&dot_store) as Arc<dyn SessionStore>)
    .name("django-oauth-toolkit")
    .revoke_on_shutdown(true)
    .start()
    .unwrap();
    let first = dot.token(PATIENCE).await.unwrap();
    eventually("the session persisted", || dot_store.load().unwrap()).await;
    secrets.collect(&dot, &dot_store);
    dot.report_unauthorized(first.generation());
    dot.token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    eventually("the rotation persisted", || {
        let mut tokens = BTreeSet::new();
        let stored = dot_store.load().unwrap()?;
        collect_tokens(
            &serde_json::from_slice(&stored.snapshot).unwrap(),
            &mut tokens,
        );
        (!tokens.is_subset(&secrets.tokens)).then_some(())
    })
    .await;
    secrets.collect(&dot, &dot_store);
    bounded("shutdown", dot.shutdown()).await;

    let output = capture.text();
    assert!(
        output.lines().count() > 100,
        "too little traced to prove anything"
    );
    assert!(output.contains("TRACE") || output.contains("DEBUG"));
    for name in ["standard", "convirza-v3", "django-oauth-toolkit"] {
        assert!(
            output.contains(&format!("token_manager{{name={name}}}")),
            "{name}"
        );
    }
    assert!(
        secrets.tokens.len() >= 12,
        "{} tokens",
        secrets.tokens.len()
    );
    for secret in secrets.credentials.iter().chain(&secrets.tokens) {
        assert!(
            secret.len() >= 8,
            "too short to search for: {} bytes",
            secret.len()
        );
        assert!(
            !output.contains(secret.as_str()),
            "a secret ({} bytes, fingerprint {}) appears in the traces",
            secret.len(),
            fingerprint(secret)
        );
    }
    // Access tokens are named by their fingerprint.
    assert!(
        secrets.access.len() >= 8,
        "{} access tokens",
        secrets.access.len()
    );
    for token in &secrets.access {
        assert!(
            output.contains(&fingerprint(token)),
            "no trace names the token {}",
            fingerprint(token)
        );
    }
}

/// The default policy, except that every 401 renews at once: the scenarios above drive
/// renewals with back-to-back 401s.
fn renew_on_401() -> Policy {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = oauth_lifecycle::time::Duration::ZERO;
    policy
}

/// A client that authenticates with a key (`private_key_jwt`): through a login, a
/// refresh and the revocations, nothing the manager, its task or reqwest traces holds a
/// fragment of an assertion any request carried, nor of the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_a_key_traces_no_assertion_and_no_key() {
    use oauth_lifecycle_emulator::AssertionKey;
    use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
    use oauth_lifecycle_testkit::recorder::Recorder;

    let capture = capture::install();
    let (signer, pem) = JwtSigner::generate(Algorithm::EdDsa).unwrap();
    let key = AssertionKey::jwk(signer.public_jwk().unwrap());
    let config = StandardServerConfig::default().assertion_client("emulated-client", key);
    let clock = DrivenClock::new(START);
    let front =
        HttpFront::start(Recorder::new(StandardServer::new(config)), clock.clone()).unwrap();
    let dialect = Standard::builder(front.url("/token"), "emulated-client")
        .client_assertion(signer)
        .password("alice", "alice-password")
        .revocation_url(front.url("/revoke"))
        .build()
        .unwrap();
    let manager = TokenManager::builder(dialect, Policy::default())
        .clock(reading(&clock))
        .name("traced-assertions")
        .start()
        .unwrap();
    let first = manager.token(PATIENCE).await.unwrap();
    advance(&clock, &manager, Duration::minutes(54));
    manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    manager.revoke().await.unwrap();
    manager.shutdown().await;

    let assertions = front.with_emulator(|recorder| recorder.secrets.clone());
    assert!(
        assertions.iter().filter(|s| s.starts_with("eyJ")).count() >= 4,
        "login, refresh, two revocations"
    );
    let output = capture.text();
    assert!(output.contains("traced-assertions"));
    oauth_lifecycle_testkit::assert_no_assertion_or_key(&output, &assertions, &pem);
}
