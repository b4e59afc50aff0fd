//! The manager against real OAuth servers written by others, started on 127.0.0.1:
//! panva's oidc-provider and django-oauth-toolkit. Real clock, real sockets.

mod support;

use std::sync::Arc;

use oauth_lifecycle::dialect::{ClientAuth, Grant, Standard};
use oauth_lifecycle::{Dialect, Error, Policy, RefreshToken, Status};
use oauth_lifecycle_adapter::transport::now;
use oauth_lifecycle_testkit::{
    mint_oidc_refresh_token, send, start_django_oauth_toolkit, start_oidc_provider,
    DOT_PASSWORD_CLIENT, DOT_USER, OIDC_BASIC_CLIENT, OIDC_POST_CLIENT,
};
use oauth_lifecycle_tokio::{MemoryStore, SessionStore, TokenManager, WaitError};
use support::*;

/// The refresh token the stored session holds.
fn stored_refresh_token(store: &MemoryStore) -> Option<String> {
    fn find(value: &serde_json::Value) -> Option<String> {
        match value {
            serde_json::Value::Object(map) => map.iter().find_map(|(key, value)| match value {
                serde_json::Value::String(token) if key == "refresh_token" => Some(token.clone()),
                other => find(other),
            }),
            serde_json::Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    let stored = store.load().unwrap()?;
    find(&serde_json::from_slice(&stored.snapshot).unwrap())
}

/// A store holding a session that adopted `refresh_token`, obtained elsewhere (the
/// authorization code flow): how a manager takes over such a grant.
fn store_adopting(dialect: Standard, refresh_token: String) -> Arc<MemoryStore> {
    let session =
        oauth_lifecycle_testkit::adopted::adopted(dialect, policy(), refresh_token, now());
    let snapshot = session.snapshot_with_secrets();
    let store = Arc::new(MemoryStore::new());
    store
        .save(
            None,
            snapshot.generation(),
            &serde_json::to_vec(&snapshot).unwrap(),
        )
        .unwrap();
    store
}

/// Replays `refresh_token` at the server: its status.
fn replay(dialect: &Standard, refresh_token: &str) -> u16 {
    let request = dialect
        .refresh_request(&RefreshToken::new(refresh_token.to_owned()))
        .unwrap();
    send(&request).unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_client_credentials_renewal_and_revocation() {
    let peer = start_oidc_provider(300);
    for ((id, secret), auth) in [
        (OIDC_BASIC_CLIENT, ClientAuth::Basic),
        (OIDC_POST_CLIENT, ClientAuth::Post),
    ] {
        let dialect = Standard::builder(peer.url("/token"), id)
            .client_secret(secret)
            .client_auth(auth)
            .scope("api:read")
            .revocation_url(peer.url("/token/revocation"))
            .build()
            .unwrap();
        let manager = TokenManager::start(dialect, policy()).unwrap();
        let first = manager.token(PATIENCE).await.unwrap();
        assert_eq!(first.generation().get(), 1, "{auth:?}");
        let lifetime = first.valid_until() - now();
        assert!(lifetime.whole_seconds() > 250, "{auth:?}: {lifetime}");

        // A 401 from an API: client credentials renew by a new login.
        manager.report_unauthorized(first.generation());
        let second = manager
            .token_newer_than(first.generation(), PATIENCE)
            .await
            .unwrap();
        assert_ne!(second.secret(), first.secret(), "{auth:?}");

        manager.revoke().await.unwrap();
        eventually("the revocation", || {
            (manager.status() == Status::Revoked).then_some(())
        })
        .await;
        assert_eq!(
            manager.token(PATIENCE).await.unwrap_err(),
            WaitError::Revoked
        );
        manager.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_refuses_a_wrong_secret_with_a_typed_reason() {
    let peer = start_oidc_provider(300);
    let dialect = Standard::builder(peer.url("/token"), OIDC_BASIC_CLIENT.0)
        .client_secret("wrong-secret")
        .build()
        .unwrap();
    let manager = TokenManager::start(dialect, policy()).unwrap();
    let error = manager.token(PATIENCE).await.unwrap_err();
    let WaitError::Rejected {
        error: Error::Rejected { failure },
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(failure.code().map(|c| c.as_ref()), Some("invalid_client"));
    assert!(!format!("{error:?} {error}").contains("wrong-secret"));
    manager.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_refresh_rotation_and_revocation_of_an_adopted_grant() {
    let peer = start_oidc_provider(300);
    let (id, secret) = OIDC_BASIC_CLIENT;
    let dialect = || {
        Standard::builder(peer.url("/token"), id)
            .client_secret(secret)
            .grant(Grant::RefreshOnly)
            .revocation_url(peer.url("/token/revocation"))
            .build()
            .unwrap()
    };
    let minted = mint_oidc_refresh_token(&peer, id);
    let store = store_adopting(dialect(), minted.clone());
    let manager = TokenManager::builder(dialect(), policy())
        .store(Arc::clone(&store) as Arc<dyn SessionStore>)
        .start()
        .unwrap();
    let adopted = manager.token(PATIENCE).await.unwrap();
    assert_eq!(adopted.secret(), "obtained-elsewhere");

    // The API refuses the adopted token: the manager refreshes, the server rotates.
    manager.report_unauthorized(adopted.generation());
    let renewed = manager
        .token_newer_than(adopted.generation(), PATIENCE)
        .await
        .unwrap();
    assert_ne!(renewed.secret(), "obtained-elsewhere");
    // Persisted right after it is published.
    let rotated = eventually("the rotated refresh token persisted", || {
        stored_refresh_token(&store).filter(|stored| *stored != minted)
    })
    .await;
    assert_eq!(
        replay(&dialect(), &minted),
        400,
        "the minted token is spent"
    );

    // Revocation of both tokens: the rotated refresh token is dead afterwards.
    manager.revoke().await.unwrap();
    eventually("the revocation", || {
        (manager.status() == Status::Revoked).then_some(())
    })
    .await;
    bounded("shutdown", manager.shutdown()).await;
    assert_eq!(
        replay(&dialect(), &rotated),
        400,
        "a revoked refresh token is dead"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_oauth_toolkit_password_grant_rotation_reuse_and_revocation() {
    let peer = start_django_oauth_toolkit(300);
    let (id, secret) = DOT_PASSWORD_CLIENT;
    let dialect = || {
        Standard::builder(peer.url("/o/token/"), id)
            .client_secret(secret)
            .password(DOT_USER.0, DOT_USER.1)
            .revocation_url(peer.url("/o/revoke_token/"))
            .build()
            .unwrap()
    };
    let store = Arc::new(MemoryStore::new());
    let manager = TokenManager::builder(dialect(), policy())
        .store(Arc::clone(&store) as Arc<dyn SessionStore>)
        .revoke_on_shutdown(true)
        .start()
        .unwrap();
    // The awkward password logs in.
    let first = manager.token(PATIENCE).await.unwrap();
    let first_refresh = eventually("the session persisted", || stored_refresh_token(&store)).await;

    // A 401: refreshed, and rotated.
    manager.report_unauthorized(first.generation());
    let second = manager
        .token_newer_than(first.generation(), PATIENCE)
        .await
        .unwrap();
    assert_ne!(second.secret(), first.secret());
    let second_refresh = eventually("the rotated refresh token persisted", || {
        stored_refresh_token(&store).filter(|stored| *stored != first_refresh)
    })
    .await;

    // Someone replays the spent refresh token: the server revokes the family, so the
    // manager's next refresh fails and it logs in again with the password.
    assert_eq!(replay(&dialect(), &first_refresh), 400);
    manager.report_unauthorized(second.generation());
    let third = manager
        .token_newer_than(second.generation(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(third.generation().get(), 3);
    let third_refresh = eventually("the new grant's refresh token persisted", || {
        stored_refresh_token(&store).filter(|stored| *stored != second_refresh)
    })
    .await;

    // Shutdown revokes before the task ends.
    bounded("shutdown", manager.shutdown()).await;
    assert_eq!(
        replay(&dialect(), &third_refresh),
        400,
        "revoked at shutdown"
    );
}

/// The default policy, except that a reported 401 renews at once: these tests use 401s to
/// make the session refresh against the real servers, in real time.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = oauth_lifecycle::time::Duration::ZERO;
    policy
}
