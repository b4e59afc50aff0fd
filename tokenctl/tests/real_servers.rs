//! `tokenctl` against real OAuth servers written by others, on 127.0.0.1: panva's
//! oidc-provider (client credentials, `client_secret_post`, a scope, RFC 7009
//! revocation) and django-oauth-toolkit (password grant, rotating refresh tokens).

mod support;

use oauth_lifecycle_testkit::{
    start_django_oauth_toolkit, start_oidc_provider, Peer, DOT_PASSWORD_CLIENT, DOT_USER,
    OIDC_POST_CLIENT,
};
use serde_json::Value;
use support::Lab;

/// Token lifetime at the servers: long enough that nothing renews by itself mid-test.
const TTL_SECONDS: u32 = 300;

#[track_caller]
fn assert_dead(peer: &Peer, refresh_token: &str) {
    let (status, body) = peer.dot_refresh(refresh_token);
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}

/// The refresh token of the (plaintext) stored session.
fn stored_refresh_token(lab: &Lab) -> String {
    let file = &lab.session_files()[0];
    let json: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    json["snapshot"]["state"]["tokens"]["refresh_token"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

#[test]
fn oidc_provider_token_inspect_refresh_exec_dry_run_and_revoke() {
    let mut peer = Some(start_oidc_provider(TTL_SECONDS));
    let oidc = peer.as_ref().unwrap();
    let lab = Lab::new();
    let (id, secret) = OIDC_POST_CLIENT;
    lab.profile(
        "oidc",
        &format!(
            "provider = \"standard\"\ntoken_url = \"{}\"\nrevocation_url = \"{}\"\nclient_id = \"{id}\"\nclient_secret_env = \"OIDC_SECRET\"\nclient_auth = \"post\"\nscope = \"api:read\"\nplaintext_storage = true",
            oidc.url("/token"),
            oidc.url("/token/revocation")
        ),
    );
    lab.secret("OIDC_SECRET", secret);

    let json: Value = serde_json::from_str(
        lab.run(&["token", "-p", "oidc", "--format", "json"])
            .ok()
            .line(),
    )
    .unwrap();
    let first = json["access_token"].as_str().unwrap().to_owned();
    assert!(oidc.oidc_token_active(&first));
    assert_eq!(json["scope"], "api:read");
    assert_eq!(
        lab.run(&["token", "-p", "oidc"]).ok().line(),
        first,
        "reused"
    );

    let inspected: Value =
        serde_json::from_str(lab.run(&["inspect", "-p", "oidc", "--json"]).ok().line()).unwrap();
    assert_eq!(inspected["session"]["status"], "ready");
    assert_eq!(inspected["session"]["token"]["scope"], "api:read");

    let shown = lab.run(&["refresh", "-p", "oidc", "--dry-run"]).ok().stdout;
    assert!(shown.contains("grant_type=client_credentials"), "{shown}");
    assert!(shown.contains("client_secret=[redacted]"), "{shown}");

    assert!(lab
        .run(&["refresh", "-p", "oidc"])
        .ok()
        .stdout
        .starts_with("renewed: generation 2"));
    let second = lab.run(&["token", "-p", "oidc"]).ok().line().to_owned();
    assert_ne!(second, first);
    assert!(oidc.oidc_token_active(&second));

    let out = lab.path().join("token");
    lab.run_with(
        &[
            "exec",
            "-p",
            "oidc",
            "--",
            "sh",
            "-c",
            "printf %s \"$ACCESS_TOKEN\" > \"$OUT\"",
        ],
        &[("OUT", out.to_str().unwrap())],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), second);

    lab.run(&["revoke", "-p", "oidc"]).ok();
    assert!(!oidc.oidc_token_active(&second), "revoked at the server");
    lab.run(&["token", "-p", "oidc"]).expect(8);

    // A wrong secret: the server refuses the client.
    lab.run(&["logout", "-p", "oidc"]).ok();
    let rejected = lab
        .run_with(
            &["token", "-p", "oidc"],
            &[("OIDC_SECRET", "not-the-secret")],
        )
        .expect(5);
    assert!(
        rejected.stderr.contains("invalid_client"),
        "{}",
        rejected.stderr
    );
    // The same wrong secret is not sent again: the rejection is an earlier attempt's.
    let again = lab
        .run_with(
            &["token", "-p", "oidc"],
            &[("OIDC_SECRET", "not-the-secret")],
        )
        .expect(5);
    assert!(
        again.stderr.contains("in an earlier attempt"),
        "{}",
        again.stderr
    );
    // The secret fixed: tried at once.
    lab.run(&["token", "-p", "oidc"]).ok();
    lab.run(&["login", "-p", "oidc"]).ok();

    // The server goes down: a clear failure, exit 7.
    drop(peer.take());
    let down = lab
        .run(&["token", "-p", "oidc", "--force-refresh"])
        .expect(7);
    assert!(down.stderr.starts_with("error: "), "{}", down.stderr);
}

#[test]
fn django_oauth_toolkit_password_grant_rotation_and_revocation() {
    let mut peer = Some(start_django_oauth_toolkit(TTL_SECONDS));
    let dot = peer.as_ref().unwrap();
    let lab = Lab::new();
    let (id, secret) = DOT_PASSWORD_CLIENT;
    lab.profile(
        "dot",
        &format!(
            "provider = \"standard\"\ntoken_url = \"{}\"\nrevocation_url = \"{}\"\nclient_id = \"{id}\"\nclient_secret_env = \"DOT_SECRET\"\ngrant = \"password\"\nusername = \"{}\"\npassword_env = \"DOT_PASSWORD\"\nplaintext_storage = true",
            dot.url("/o/token/"),
            dot.url("/o/revoke_token/"),
            DOT_USER.0
        ),
    );
    lab.secret("DOT_SECRET", secret);
    lab.secret("DOT_PASSWORD", DOT_USER.1);

    let first = lab.run(&["token", "-p", "dot"]).ok().line().to_owned();
    let first_refresh = stored_refresh_token(&lab);
    let inspected: Value =
        serde_json::from_str(lab.run(&["inspect", "-p", "dot", "--json"]).ok().line()).unwrap();
    assert_eq!(inspected["session"]["token"]["refresh_token"], true);

    // The renewal goes by refresh token: shown redacted, then done; the server rotates.
    let shown = lab.run(&["refresh", "-p", "dot", "--dry-run"]).ok().stdout;
    assert!(shown.contains("grant_type=refresh_token"), "{shown}");
    assert!(shown.contains("refresh_token=[redacted]"), "{shown}");
    lab.run(&["refresh", "-p", "dot"]).ok();
    let second = lab.run(&["token", "-p", "dot"]).ok().line().to_owned();
    assert_ne!(second, first);
    // Without the password at hand, renewal still goes by refresh token.
    let second_refresh = stored_refresh_token(&lab);
    let third = lab
        .run_with(
            &["token", "-p", "dot", "--force-refresh"],
            &[("DOT_PASSWORD", "")],
        )
        .ok();
    assert_ne!(third.line(), second);

    let out = lab.path().join("token");
    lab.run_with(
        &[
            "exec",
            "-p",
            "dot",
            "--",
            "sh",
            "-c",
            "printf %s \"$ACCESS_TOKEN\" > \"$OUT\"",
        ],
        &[("OUT", out.to_str().unwrap())],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), third.line());

    let third_refresh = stored_refresh_token(&lab);
    lab.run(&["logout", "-p", "dot"]).ok();
    // Revoked at logout; the earlier ones were spent by rotation. (Checked last: the
    // server takes a spent token presented again for theft, and ends the whole grant.)
    assert_dead(dot, &third_refresh);
    assert_dead(dot, &second_refresh);
    assert_dead(dot, &first_refresh);

    // A wrong password: the server refuses the grant.
    lab.run_with(
        &["token", "-p", "dot"],
        &[("DOT_PASSWORD", "wrong-password")],
    )
    .expect(5);
    lab.run(&["login", "-p", "dot"]).ok();

    drop(peer.take());
    lab.run(&["token", "-p", "dot", "--force-refresh"])
        .expect(7);
}
