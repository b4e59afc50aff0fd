//! `tokenctl` against real OAuth servers written by others, on 127.0.0.1: panva's
//! oidc-provider (client credentials, `client_secret_post`, a scope, RFC 7009
//! revocation) and django-oauth-toolkit (password grant, rotating refresh tokens), each
//! also configured by `init --issuer` from the metadata it publishes.

mod support;

use oauth_lifecycle_testkit::{
    start_django_oauth_toolkit, start_oidc_provider, Peer, DOT_MACHINE_CLIENT, DOT_PASSWORD_CLIENT,
    DOT_USER, OIDC_BASIC_CLIENT, OIDC_POST_CLIENT,
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

/// `init --issuer` at oidc-provider: its OpenID Connect metadata gives the token and
/// revocation endpoints and `client_secret_basic`, as its basic client is registered;
/// its post client says `--client-auth post`, which wins over the discovered method.
#[test]
fn oidc_provider_init_from_discovery_then_token_and_revoke() {
    let oidc = start_oidc_provider(TTL_SECONDS);
    let lab = Lab::new();
    let issuer = oidc.base_url.clone();
    for ((id, secret), name, extra) in [
        (OIDC_BASIC_CLIENT, "basic", &[][..]),
        (OIDC_POST_CLIENT, "post", &["--client-auth", "post"][..]),
    ] {
        let variable = format!("OIDC_{}_SECRET", name.to_uppercase());
        lab.secret(&variable, secret);
        let mut args = vec![
            "init",
            "-p",
            name,
            "--provider",
            "standard",
            "--issuer",
            &issuer,
            "--client-id",
            id,
            "--client-secret-env",
            &variable,
            "--scope",
            "api:read",
            "--plaintext-storage",
        ];
        args.extend_from_slice(extra);
        let written = lab.run(&args).ok().stdout;
        assert!(
            written.contains(&format!(
                "discovered {issuer} at {issuer}/.well-known/openid-configuration (OpenID Connect Discovery)"
            )),
            "{written}"
        );
        let expected_auth = match name {
            "basic" => "client_auth = basic (discovered: the server supports client_secret_basic)",
            _ => "client_auth = post (given on the command line; discovered: basic)",
        };
        assert!(written.contains(expected_auth), "{written}");
        let config = std::fs::read_to_string(&lab.config).unwrap();
        assert!(
            config.contains(&format!("token_url = \"{}\"", oidc.url("/token")))
                && config.contains(&format!(
                    "revocation_url = \"{}\"",
                    oidc.url("/token/revocation")
                )),
            "{config}"
        );

        let json: Value = serde_json::from_str(
            lab.run(&["token", "-p", name, "--format", "json"])
                .ok()
                .line(),
        )
        .unwrap();
        let token = json["access_token"].as_str().unwrap().to_owned();
        assert!(oidc.oidc_token_active(&token), "{name}");
        assert_eq!(json["scope"], "api:read");
        lab.run(&["revoke", "-p", name]).ok();
        assert!(
            !oidc.oidc_token_active(&token),
            "{name}: revoked at the server"
        );
    }
}

/// `init --issuer` at django-oauth-toolkit, mounted under /o/: its OpenID Connect
/// location answers 404, so RFC 8414's is asked, and its client-credentials client logs
/// in with what it says.
#[test]
fn django_oauth_toolkit_init_from_rfc_8414_metadata_then_token() {
    let dot = start_django_oauth_toolkit(TTL_SECONDS);
    let lab = Lab::new();
    let issuer = dot.url("/o");
    let (id, secret) = DOT_MACHINE_CLIENT;
    lab.secret("DOT_SECRET", secret);
    let written = lab
        .run(&[
            "init",
            "-p",
            "dot",
            "--issuer",
            &issuer,
            "--client-id",
            id,
            "--client-secret-env",
            "DOT_SECRET",
            "--plaintext-storage",
        ])
        .ok()
        .stdout;
    let rfc8414 = dot.url("/.well-known/oauth-authorization-server/o");
    assert!(
        written.contains(&format!(
            "discovered {issuer} at {rfc8414} (RFC 8414; {issuer}/.well-known/openid-configuration answered 404)"
        )),
        "{written}"
    );
    let config = std::fs::read_to_string(&lab.config).unwrap();
    assert!(
        config.contains(&format!("# discovered from {issuer} ({rfc8414})")),
        "{config}"
    );
    assert!(
        config.contains(&format!("token_url = \"{}\"", dot.url("/o/token/"))),
        "{config}"
    );
    let token = lab.run(&["token", "-p", "dot"]).ok().line().to_owned();
    assert!(!token.is_empty());
    lab.run(&["revoke", "-p", "dot"]).ok();
}
