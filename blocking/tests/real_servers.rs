//! The manager against real OAuth servers written by others, started on 127.0.0.1:
//! panva's oidc-provider and django-oauth-toolkit. Time is the real clock here, because
//! the servers' is; short token lifetimes make renewals come within seconds.

use std::sync::Arc;

use oauth_lifecycle::dialect::{ClientAuth, Standard};
use oauth_lifecycle::{Policy, Status};
use oauth_lifecycle_blocking::{MemoryStore, SessionStore, TokenManager, WaitError};
use oauth_lifecycle_testkit::{
    eventually, start_django_oauth_toolkit, start_oidc_provider, Peer, DOT_PASSWORD_CLIENT,
    DOT_USER, OIDC_POST_CLIENT, PATIENCE,
};
use serde_json::Value;

/// Token lifetime at the servers. Renewal starts at least the policy's 10-second margin
/// before expiry, so about 5 seconds after each token is issued.
const TTL_SECONDS: u32 = 15;

#[test]
fn oidc_provider_client_credentials_renewal_and_revocation() {
    let peer = start_oidc_provider(TTL_SECONDS);
    let (id, secret) = OIDC_POST_CLIENT;
    let dialect = Standard::builder(peer.url("/token"), id)
        .client_secret(secret)
        .client_auth(ClientAuth::Post)
        .scope("api:read")
        .revocation_url(peer.url("/token/revocation"))
        .build()
        .unwrap();
    let tokens = TokenManager::builder(dialect, policy())
        .revoke_on_shutdown(true)
        .name("oidc-provider")
        .start()
        .unwrap();

    let first = tokens.token(PATIENCE).expect("a token");
    assert!(peer.oidc_token_active(first.secret()));
    assert_eq!(tokens.status(), Status::Ready);

    // Client credentials bring no refresh token: renewal is a new login, before expiry.
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .expect("a renewed token");
    assert_ne!(second.secret(), first.secret());
    assert!(peer.oidc_token_active(second.secret()));
    assert!(
        peer.oidc_token_active(first.secret()),
        "renewed before expiry"
    );

    // Shutdown revokes the session at the server before it returns.
    tokens.shutdown();
    assert_eq!(tokens.token(PATIENCE).unwrap_err(), WaitError::Closed);
    assert!(
        !peer.oidc_token_active(second.secret()),
        "revoked at the server"
    );
}

/// The refresh token in a stored session's snapshot, if any.
fn stored_refresh_token(store: &MemoryStore) -> Option<String> {
    fn find(value: &Value) -> Option<String> {
        match value {
            Value::Object(map) => map.iter().find_map(|(key, value)| match value {
                Value::String(token) if key == "refresh_token" => Some(token.clone()),
                _ => find(value),
            }),
            Value::Array(items) => items.iter().find_map(find),
            _ => None,
        }
    }
    let stored = store.load().unwrap()?;
    let snapshot: Value = serde_json::from_slice(&stored.snapshot).unwrap();
    find(&snapshot)
}

/// Waits (bounded) until the store holds a refresh token other than `other`: the
/// manager persists a token right after publishing it.
fn refresh_token_after(store: &MemoryStore, other: Option<&str>) -> String {
    eventually("a new refresh token stored", || {
        stored_refresh_token(store).filter(|token| Some(token.as_str()) != other)
    })
}

fn dot_dialect(peer: &Peer) -> Standard {
    let (id, secret) = DOT_PASSWORD_CLIENT;
    Standard::builder(peer.url("/o/token/"), id)
        .client_secret(secret)
        .password(DOT_USER.0, DOT_USER.1)
        .revocation_url(peer.url("/o/revoke_token/"))
        .build()
        .unwrap()
}

#[test]
fn django_oauth_toolkit_password_grant_rotation_and_revocation() {
    let peer = start_django_oauth_toolkit(TTL_SECONDS);

    // Renewal by refresh: the server rotates the refresh token, and the one the session
    // spent is dead (a new login would have left it alive).
    let store = Arc::new(MemoryStore::new());
    let tokens = TokenManager::builder(dot_dialect(&peer), policy())
        .store(store.clone())
        .name("django-oauth-toolkit")
        .start()
        .unwrap();
    let first = tokens
        .token(PATIENCE)
        .expect("a token from the password grant");
    let first_refresh = refresh_token_after(&store, None);
    let second = tokens
        .token_newer_than(first.generation(), PATIENCE)
        .expect("a renewed token");
    assert_ne!(second.secret(), first.secret());
    let second_refresh = refresh_token_after(&store, Some(&first_refresh));
    assert_ne!(second_refresh, first_refresh, "rotated");
    tokens.shutdown();
    let (status, body) = peer.dot_refresh(&first_refresh);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    // Revocation on shutdown: the refresh token the session held is dead at the server.
    let store = Arc::new(MemoryStore::new());
    let tokens = TokenManager::builder(dot_dialect(&peer), policy())
        .store(store.clone())
        .revoke_on_shutdown(true)
        .name("django-oauth-toolkit")
        .start()
        .unwrap();
    tokens.token(PATIENCE).expect("a token");
    let held = refresh_token_after(&store, None);
    tokens.shutdown();
    let (status, body) = peer.dot_refresh(&held);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// The default policy, except that a reported 401 renews at once: these tests use 401s to
/// make the session refresh against the real servers, in real time.
fn policy() -> Policy {
    let mut policy = Policy::default();
    policy.unauthorized_renewal_spacing = oauth_lifecycle::time::Duration::ZERO;
    policy
}
