//! Every request the standard dialect emits, snapshotted field by field.
//!
//! Secrets are fixed test values so the snapshots are stable and reviewable.

mod support;

use oauth_lifecycle::dialect::{ClientAuth, Grant, Standard};
use oauth_lifecycle::token::{Expiry, TokenGrant};
use oauth_lifecycle::{
    AccessToken, Policy, Purpose, RefreshToken, Revocation, Session, TokenRequest, TransportError,
};
use support::render::render;
use time::macros::utc_datetime;
use time::UtcDateTime;

const NOW: UtcDateTime = utc_datetime!(2026-03-01 09:00:00);

fn dialect(auth: ClientAuth, password: bool) -> Standard {
    let builder = Standard::builder("https://auth.example.com/oauth/token", "test-client")
        .client_secret("test-client-secret")
        .client_auth(auth)
        .scope("api:read")
        .scope("api:write")
        .param("audience", "https://api.example.com")
        .revocation_url("https://auth.example.com/oauth/revoke");
    let builder = if password {
        builder.password("alice@example.com", "p&ss=w+rd %\"é\n")
    } else {
        builder
    };
    builder.build().unwrap()
}

fn grant() -> TokenGrant<()> {
    TokenGrant {
        access_token: AccessToken::new("test-access-token".into()),
        refresh_token: Some(RefreshToken::new("test-refresh-token".into())),
        expires: Expiry::In(3600),
        refresh_expires: None,
        scope: None,
        extra: (),
    }
}

fn requests(auth: ClientAuth, password: bool) -> Vec<TokenRequest> {
    requests_of(|| dialect(auth, password))
}

/// Login (when the dialect can), refresh and revocations, in that order.
fn requests_of(make: impl Fn() -> Standard) -> Vec<TokenRequest> {
    let mut out = Vec::new();
    let session = Session::new(make(), Policy::default()).unwrap();
    if let Ok((_, login)) = session.login(NOW) {
        out.push(login);
    }

    let session = Session::new(make(), Policy::default()).unwrap();
    let active = session.adopt(grant(), NOW).unwrap();
    let expiring = support::typestate::renewal_due(active, NOW);
    let (refreshing, refresh) = expiring.refresh(NOW).unwrap();
    out.push(refresh);

    let Revocation::Awaiting(revoking) = refreshing.revoke(NOW) else {
        panic!("the refresh in flight is awaited first");
    };
    let refresh_id = revoking.request_id();
    let mut revocation = revoking
        .on_transport_error(refresh_id, TransportError::OutcomeUnknown, NOW)
        .unwrap()
        .next;
    while let Revocation::Pending(session, request) = revocation {
        let id = request.id();
        out.push(request);
        let ok = http::Response::new(Vec::new());
        revocation = session.on_response(id, &ok, NOW).unwrap().next;
    }
    out
}

#[test]
fn client_credentials_with_basic_auth() {
    insta::assert_snapshot!(requests(ClientAuth::Basic, false)
        .iter()
        .map(render)
        .collect::<Vec<_>>()
        .join("\n"));
}

#[test]
fn client_credentials_with_post_auth() {
    insta::assert_snapshot!(requests(ClientAuth::Post, false)
        .iter()
        .map(render)
        .collect::<Vec<_>>()
        .join("\n"));
}

#[test]
fn password_grant_with_basic_auth() {
    insta::assert_snapshot!(requests(ClientAuth::Basic, true)
        .iter()
        .map(render)
        .collect::<Vec<_>>()
        .join("\n"));
}

#[test]
fn password_grant_with_post_auth() {
    insta::assert_snapshot!(requests(ClientAuth::Post, true)
        .iter()
        .map(render)
        .collect::<Vec<_>>()
        .join("\n"));
}

#[test]
fn awkward_password_survives_form_encoding_exactly() {
    let requests = requests(ClientAuth::Post, true);
    let body = requests[0].request().body();
    let password = form_urlencoded::parse(body)
        .find(|(name, _)| name == "password")
        .map(|(_, value)| value.into_owned());
    assert_eq!(password.as_deref(), Some("p&ss=w+rd %\"é\n"));
}

#[test]
fn request_debug_shows_no_secret() {
    for request in requests(ClientAuth::Basic, true)
        .iter()
        .chain(&requests(ClientAuth::Post, true))
    {
        let shown = format!("{request:?}");
        for secret in [
            "test-client-secret",
            "p&ss",
            "test-access-token",
            "test-refresh-token",
            "Basic",
        ] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}

/// Every combination of client authentication, grant, scopes, scope on refresh and extra
/// parameters: each request's form body holds exactly the fields it should, none empty.
#[test]
fn every_configuration_emits_well_formed_form_bodies() {
    let auths = [
        (Some(ClientAuth::Basic), "basic"),
        (Some(ClientAuth::Post), "post"),
        (None, "public client"),
    ];
    let mut checked = 0;
    for (auth, auth_name) in auths {
        for grant in [None, Some(Grant::RefreshOnly), Some(password_grant())] {
            for scopes in [&[][..], &["a"][..], &["a", "b:c"][..]] {
                for scope_on_refresh in [false, true] {
                    for param in [false, true] {
                        let make = || {
                            let mut builder =
                                Standard::builder("https://auth.example.com/token", "client")
                                    .revocation_url("https://auth.example.com/revoke")
                                    .scope_on_refresh(scope_on_refresh);
                            if let Some(auth) = auth {
                                builder = builder.client_secret("secret").client_auth(auth);
                            }
                            if let Some(grant) = grant.clone() {
                                builder = builder.grant(grant);
                            }
                            for scope in scopes {
                                builder = builder.scope(*scope);
                            }
                            if param {
                                builder = builder.param("audience", "api");
                            }
                            builder.build().unwrap()
                        };
                        let case = format!(
                            "{auth_name}, {grant:?}, scopes {scopes:?}, scope on refresh \
                             {scope_on_refresh}, param {param}"
                        );
                        for request in requests_of(make) {
                            let raw = String::from_utf8(request.request().body().clone()).unwrap();
                            assert!(raw.split('&').all(|pair| !pair.is_empty()), "{case}: {raw}");
                            let fields: Vec<String> = form_urlencoded::parse(raw.as_bytes())
                                .map(|(name, _)| name.into_owned())
                                .collect();
                            let has = |name: &str| fields.iter().any(|f| f == name);
                            let in_body = auth != Some(ClientAuth::Basic);
                            assert_eq!(has("client_id"), in_body, "{case}: {raw}");
                            assert_eq!(
                                has("client_secret"),
                                auth == Some(ClientAuth::Post),
                                "{case}: {raw}"
                            );
                            let scoped = !scopes.is_empty();
                            match request.purpose() {
                                Purpose::Login => {
                                    assert_eq!(has("scope"), scoped, "{case}: {raw}");
                                    assert_eq!(has("audience"), param, "{case}: {raw}");
                                }
                                Purpose::Refresh => assert_eq!(
                                    has("scope"),
                                    scoped && scope_on_refresh,
                                    "{case}: {raw}"
                                ),
                                _ => assert!(has("token") && has("token_type_hint")),
                            }
                            let mut unique = fields.clone();
                            unique.sort();
                            unique.dedup();
                            assert_eq!(unique.len(), fields.len(), "{case}: a repeated field");
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 300, "{checked}");
}

fn password_grant() -> Grant {
    Grant::Password {
        username: oauth2::ResourceOwnerUsername::new("alice".into()),
        password: oauth2::ResourceOwnerPassword::new("p&ss".into()),
    }
}
