//! `tokenctl` with JWT assertions (RFC 7523) against the standard emulator over HTTP on
//! 127.0.0.1: a client that authenticates with its private key (`private-key-jwt`) or its
//! secret (`client-secret-jwt`), and the JWT bearer grant with an assertion the platform
//! writes to a file. The private key file must be its owner's only; a dry run shows an
//! assertion's header and claims, never its signature, the key, or the JWT itself.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use oauth_lifecycle::dialect::assertion::{AssertionClaims, AssertionSource as _};
use oauth_lifecycle::time::{Duration, UtcDateTime};
use oauth_lifecycle_emulator::{
    AssertionKey, Clock, Emulator as _, HttpFront, ServerStats, StandardServer,
    StandardServerConfig,
};
use oauth_lifecycle_jwt::{Algorithm, JwtSigner};
use oauth_lifecycle_testkit::STANDARD_CLIENT;
use serde_json::Value;
use support::Lab;

type Front = HttpFront<StandardServer>;

/// The client that signs its assertions with its private key.
const KEY_CLIENT: &str = "jwt-client";
/// The `kid` its public key is registered under.
const KEY_ID: &str = "jwt-client-key-1";
/// The client that signs its assertions with its secret (HS256).
const SECRET_CLIENT: &str = "hs-client";
/// That secret: 40 bytes, more than the 32 HS256 needs.
const CLIENT_SECRET: &str = "hs-client-secret-0123456789-abcdefghijkl";
/// The issuer of the platform's assertions the JWT bearer grant trusts, and the subject
/// they name.
const PLATFORM: &str = "https://ci.example.com";
const SUBJECT: &str = "repo:acme/app:ref:refs/heads/main";

fn front(config: StandardServerConfig) -> Front {
    HttpFront::start(StandardServer::new(config), Clock::System).expect("the emulator listens")
}

fn stats(front: &Front) -> ServerStats {
    front.with_emulator(|emulator| emulator.stats().clone())
}

fn valid(front: &Front, token: &str) -> bool {
    let now = oauth_lifecycle_adapter::transport::now();
    front.with_emulator(|emulator| emulator.is_access_token_valid(token, now))
}

/// A new ES256 key in `lab`'s directory as `name` (PKCS#8 PEM) with `mode`, its signer
/// named `kid`; every line of the key is a secret of the lab.
fn key_file(lab: &Lab, name: &str, mode: u32) -> (PathBuf, JwtSigner) {
    let (signer, pem) = JwtSigner::generate(Algorithm::Es256).expect("an ES256 key");
    let path = lab.path().join(name);
    std::fs::write(&path, pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    lab.remember(&pem);
    for line in pem.lines().filter(|line| !line.starts_with("-----")) {
        lab.remember(line);
    }
    (path, signer.with_key_id(KEY_ID))
}

/// A server knowing `KEY_CLIENT` by the public key of `signer`.
fn key_server(signer: &JwtSigner) -> Front {
    let jwk = signer.public_jwk().expect("an ES256 key has a public JWK");
    front(StandardServerConfig::default().assertion_client(KEY_CLIENT, AssertionKey::jwk(jwk)))
}

/// The profile of `KEY_CLIENT` at `front`, its key in `key`.
fn key_profile(front: &Front, key: &Path) -> String {
    format!(
        "provider = \"standard\"\ntoken_url = \"{}\"\nclient_id = \"{KEY_CLIENT}\"\nclient_auth = \"private-key-jwt\"\nprivate_key_file = \"{}\"\nkey_id = \"{KEY_ID}\"\nplaintext_storage = true",
        front.url("/token"),
        key.display()
    )
}

/// The longest run of base64url characters in `text`: a signature (86 characters for
/// ES256), a key or a compact JWT would be one of at least 40.
fn longest_base64url_run(text: &str) -> usize {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .map(str::len)
        .max()
        .unwrap_or(0)
}

/// The decoded header and claims a dry run shows for the assertion in field `field`.
fn shown_assertion(stdout: &str, field: &str) -> (Value, Value) {
    let marker = format!("{field}=[assertion: header ");
    let start = stdout
        .find(&marker)
        .unwrap_or_else(|| panic!("no {field} shown:\n{stdout}"))
        + marker.len();
    let rest = &stdout[start..];
    let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    let header = values.next().unwrap().unwrap();
    let after = &rest[values.byte_offset()..];
    let after = after
        .strip_prefix(" claims ")
        .unwrap_or_else(|| panic!("no claims after the header:\n{stdout}"));
    let claims = serde_json::Deserializer::from_str(after)
        .into_iter::<Value>()
        .next()
        .unwrap()
        .unwrap();
    (header, claims)
}

/// A profile signing with its private key gets a token, and the same key file readable
/// by others is refused, before anything is sent, with the fix.
#[test]
fn private_key_jwt_gets_a_token_and_a_key_others_may_read_is_refused() {
    let lab = Lab::new();
    let (key, signer) = key_file(&lab, "client-key.pem", 0o600);
    let front = key_server(&signer);
    lab.profile("p", &key_profile(&front, &key));

    let token = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert!(valid(&front, &token), "the emulator issued {token}");
    let accepted = stats(&front).assertions_accepted;
    assert!(accepted >= 1, "{:?}", stats(&front));
    assert_eq!(stats(&front).assertions_refused, 0);
    // The stored token serves without the key being read again.
    assert_eq!(lab.run(&["token", "-p", "p"]).ok().line(), token);

    // Readable by its group: refused, whatever the command that would sign with it.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let expected = format!(
        "error: profile `p`: private key file {} may be read by others",
        key.display()
    );
    let fix = format!("run: chmod 600 {}", key.display());
    for args in [
        &["login", "-p", "p"][..],
        &["token", "-p", "p", "--force-refresh"],
        &["login", "-p", "p", "--dry-run"],
    ] {
        let refused = lab.run(args).expect(3);
        assert!(
            refused.stderr.contains(&expected),
            "{args:?}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains(&fix),
            "{args:?}: {}",
            refused.stderr
        );
    }
    assert_eq!(
        stats(&front).assertions_accepted,
        accepted,
        "nothing was sent"
    );
    // The stored session is still read, without the key.
    lab.run(&["inspect", "-p", "p"]).ok();
    assert_eq!(lab.run(&["token", "-p", "p"]).ok().line(), token);
    // Owner-only again: it signs.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
    let renewed = lab
        .run(&["token", "-p", "p", "--force-refresh"])
        .ok()
        .line()
        .to_owned();
    assert_ne!(renewed, token);
    assert!(valid(&front, &renewed), "the emulator issued {renewed}");
    assert_eq!(stats(&front).assertions_accepted, accepted + 1);
}

/// A key file that is no key, or no file: a config error naming the file, never its
/// content.
#[test]
fn a_private_key_file_that_is_no_key_is_a_config_error() {
    let lab = Lab::new();
    let (_, signer) = key_file(&lab, "unused.pem", 0o600);
    let front = key_server(&signer);
    let garbage = lab.path().join("garbage.pem");
    let content = "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LWJ1dC1hLXNlY3JldC1hbnl3YXk=\n-----END PRIVATE KEY-----\n";
    std::fs::write(&garbage, content).unwrap();
    std::fs::set_permissions(&garbage, std::fs::Permissions::from_mode(0o600)).unwrap();
    lab.remember("bm90LWEta2V5LWJ1dC1hLXNlY3JldC1hbnl3YXk=");
    lab.profile("garbage", &key_profile(&front, &garbage));
    let missing = lab.path().join("missing.pem");
    lab.profile("missing", &key_profile(&front, &missing));
    for (profile, path) in [("garbage", &garbage), ("missing", &missing)] {
        let refused = lab.run(&["token", "-p", profile]).expect(3);
        let said = format!(
            "error: profile `{profile}`: private key file {}: ",
            path.display()
        );
        assert!(refused.stderr.contains(&said), "{}", refused.stderr);
        assert!(
            refused.stderr.contains("private_key_file"),
            "{}",
            refused.stderr
        );
    }
    assert_eq!(
        stats(&front).assertions_accepted + stats(&front).assertions_refused,
        0
    );
}

/// The dry run shows the assertion's decoded header and claims, and no fragment of its
/// signature, of the key, or of the JWT; it sends nothing.
#[test]
fn a_dry_run_shows_the_assertion_decoded_and_never_its_signature_or_key() {
    let lab = Lab::new();
    let (key, signer) = key_file(&lab, "client-key.pem", 0o600);
    let front = key_server(&signer);
    lab.profile("p", &key_profile(&front, &key));

    let shown = lab.run(&["token", "-p", "p", "--dry-run"]).ok().stdout;
    assert!(shown.contains("would send (login)"), "{shown}");
    assert!(shown.contains("grant_type=client_credentials"), "{shown}");
    assert!(
        shown.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"),
        "{shown}"
    );
    let (header, claims) = shown_assertion(&shown, "client_assertion");
    assert_eq!(header["alg"], "ES256", "{shown}");
    assert_eq!(header["kid"], KEY_ID, "{shown}");
    assert_eq!(header["typ"], "JWT", "{shown}");
    assert_eq!(claims["iss"], KEY_CLIENT, "{shown}");
    assert_eq!(claims["sub"], KEY_CLIENT, "{shown}");
    assert_eq!(claims["aud"], front.url("/token"), "{shown}");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 60, "the default lifetime: {shown}");
    assert!(
        claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16),
        "{shown}"
    );
    assert!(shown.contains("signature redacted]"), "{shown}");
    // No signature, key or compact JWT: every one is a long base64url run.
    assert!(longest_base64url_run(&shown) < 40, "{shown}");
    assert!(
        !shown.contains("authorization:"),
        "a JWT client sends no Basic: {shown}"
    );
    let sent = stats(&front);
    assert_eq!(
        sent.assertions_accepted + sent.assertions_refused + sent.logins,
        0,
        "{sent:?}"
    );
    assert!(lab.session_files().is_empty(), "a dry run stores nothing");
}

/// The JWT bearer grant with the assertion a platform writes to a file: a token, and a
/// dry run showing the platform's claims, never the assertion.
#[test]
fn jwt_bearer_with_the_platforms_assertion_file_gets_a_token() {
    let lab = Lab::new();
    let (platform, _) = JwtSigner::generate(Algorithm::EdDsa).expect("an Ed25519 key");
    let platform = platform.with_key_id("ci-key");
    let jwk = platform.public_jwk().unwrap();
    let front =
        front(StandardServerConfig::default().trust_issuer(PLATFORM, AssertionKey::jwk(jwk)));
    let now = UtcDateTime::now();
    let claims = AssertionClaims {
        issuer: PLATFORM.into(),
        subject: SUBJECT.into(),
        audience: front.url("/token"),
        issued_at: now,
        expires_at: now + Duration::minutes(10),
    };
    let compact = platform.assertion(&claims).unwrap().into_compact();
    let file = lab.path().join("oidc-token");
    std::fs::write(&file, format!("{}\n", compact.as_str())).unwrap();
    // A projected service-account token is often readable by the group: that is the
    // platform's to decide, and no key.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    lab.remember(&compact);
    for part in compact.split('.') {
        lab.remember(part);
    }
    let (client, _) = STANDARD_CLIENT;
    lab.profile(
        "ci",
        &format!(
            "provider = \"standard\"\ntoken_url = \"{}\"\nclient_id = \"{client}\"\ngrant = \"jwt-bearer\"\nassertion_issuer = \"{PLATFORM}\"\nassertion_subject = \"{SUBJECT}\"\nclient_assertion_file = \"{}\"\nplaintext_storage = true",
            front.url("/token"),
            file.display()
        ),
    );

    let shown = lab.run(&["token", "-p", "ci", "--dry-run"]).ok().stdout;
    assert!(
        shown.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"),
        "{shown}"
    );
    let (header, shown_claims) = shown_assertion(&shown, "assertion");
    assert_eq!(header["alg"], "EdDSA", "{shown}");
    assert_eq!(header["kid"], "ci-key", "{shown}");
    assert_eq!(shown_claims["iss"], PLATFORM, "{shown}");
    assert_eq!(shown_claims["sub"], SUBJECT, "{shown}");
    assert_eq!(
        shown_claims["exp"],
        (now + Duration::minutes(10)).unix_timestamp(),
        "{shown}"
    );
    assert!(longest_base64url_run(&shown) < 40, "{shown}");
    assert_eq!(
        stats(&front).assertions_accepted,
        0,
        "a dry run sends nothing"
    );

    let token = lab.run(&["token", "-p", "ci"]).ok().line().to_owned();
    assert!(valid(&front, &token), "the emulator issued {token}");
    let stats = stats(&front);
    assert_eq!(
        (stats.assertions_accepted, stats.assertions_refused),
        (1, 0),
        "{stats:?}"
    );
    let inspected = lab.run(&["inspect", "-p", "ci", "--json"]).ok().stdout;
    let inspected: Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(inspected["session"]["status"], "ready", "{inspected}");
}

/// A client authenticating with an HS256 JWT over its secret gets a token; a secret too
/// short for HS256 is refused without being shown; the dry run shows the claims with a
/// stand-in signing, never the secret.
#[test]
fn client_secret_jwt_gets_a_token() {
    let lab = Lab::new();
    let front = front(
        StandardServerConfig::default()
            .assertion_client(SECRET_CLIENT, AssertionKey::hs256(CLIENT_SECRET.as_bytes())),
    );
    lab.profile(
        "hs",
        &format!(
            "provider = \"standard\"\ntoken_url = \"{}\"\nclient_id = \"{SECRET_CLIENT}\"\nclient_secret_env = \"HS_SECRET\"\nclient_auth = \"client-secret-jwt\"\nassertion_lifetime = \"30\"\nplaintext_storage = true",
            front.url("/token")
        ),
    );
    lab.secret("HS_SECRET", CLIENT_SECRET);

    let shown = lab.run(&["token", "-p", "hs", "--dry-run"]).ok().stdout;
    let (header, claims) = shown_assertion(&shown, "client_assertion");
    assert_eq!(header["alg"], "HS256", "{shown}");
    assert_eq!(claims["iss"], SECRET_CLIENT, "{shown}");
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert_eq!(exp - iat, 30, "assertion_lifetime: {shown}");
    assert!(longest_base64url_run(&shown) < 40, "{shown}");
    assert!(!shown.contains("client_secret="), "{shown}");

    let token = lab.run(&["token", "-p", "hs"]).ok().line().to_owned();
    assert!(valid(&front, &token), "the emulator issued {token}");
    assert_eq!(stats(&front).assertions_accepted, 1);

    // 31 bytes: refused before anything is sent, the secret never shown.
    let short = "short-secret-of-31-bytes-xxxxxx";
    assert_eq!(short.len(), 31);
    let refused = lab
        .run_with(&["login", "-p", "hs"], &[("HS_SECRET", short)])
        .expect(3);
    assert!(!refused.stderr.contains(short), "{}", refused.stderr);
    assert!(refused.stderr.contains("too short"), "{}", refused.stderr);
    assert!(
        !refused.stderr.contains("248"),
        "its length is not told: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("set HS_SECRET"),
        "{}",
        refused.stderr
    );
    assert_eq!(stats(&front).assertions_accepted, 1);
}

/// Profiles whose assertion settings do not fit are refused by name when read, before
/// anything is read or sent.
#[test]
fn assertion_settings_that_do_not_fit_are_refused_by_name() {
    let lab = Lab::new();
    let base = "provider = \"standard\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"c\"\nplaintext_storage = true";
    let table: &[(&str, &str)] = &[
        (
            "client_auth = \"private-key-jwt\"",
            "missing setting `private_key_file` or `client_assertion_file`",
        ),
        (
            "client_auth = \"private-key-jwt\"\nprivate_key_file = \"/k\"\nclient_assertion_file = \"/t\"",
            "give one of `private_key_file` and `client_assertion_file`, not both",
        ),
        (
            "private_key_file = \"/k\"",
            "setting `private_key_file` is used only when `client_auth` is `private-key-jwt`",
        ),
        (
            "client_auth = \"client-secret-jwt\"",
            "give `client_secret_env` too",
        ),
        (
            "client_auth = \"client-secret-jwt\"\nclient_secret_env = \"S\"\nprivate_key_file = \"/k\"",
            "setting `private_key_file` is not used with `client_auth = \"client-secret-jwt\"`",
        ),
        (
            "grant = \"jwt-bearer\"\nclient_assertion_file = \"/t\"",
            "missing setting `assertion_issuer`",
        ),
        (
            "grant = \"jwt-bearer\"\nassertion_issuer = \"i\"\nassertion_subject = \"s\"\nclient_assertion_file = \"/t\"\nkey_id = \"k\"",
            "setting `key_id` is used only with `private_key_file`",
        ),
        (
            "grant = \"jwt-bearer\"\nassertion_issuer = \"i\"\nassertion_subject = \"s\"\nclient_auth = \"private-key-jwt\"\nprivate_key_file = \"/k\"",
            "would take two assertions",
        ),
        (
            "client_auth = \"private-key-jwt\"\nprivate_key_file = \"/k\"\nassertion_audience = \"anyone\"",
            "setting `assertion_audience` takes one of: token-endpoint, issuer",
        ),
    ];
    for (index, (body, expected)) in table.iter().enumerate() {
        let name = format!("p{index}");
        let config = lab.config.clone();
        std::fs::write(&config, "").unwrap();
        lab.profile(&name, &format!("{base}\n{body}"));
        let refused = lab.run(&["token", "-p", &name]).expect(3);
        assert!(
            refused.stderr.contains(expected),
            "{body}:\n{}",
            refused.stderr
        );
    }
    // A lifetime out of range: the core's words, when the dialect is built.
    std::fs::write(&lab.config, "").unwrap();
    lab.profile(
        "life",
        &format!("{base}\nclient_auth = \"private-key-jwt\"\nprivate_key_file = \"/k\"\nassertion_lifetime = \"7200\""),
    );
    let refused = lab.run(&["token", "-p", "life"]).expect(3);
    assert!(
        refused.stderr.contains("assertion_lifetime"),
        "{}",
        refused.stderr
    );
}

/// `init --generate-private-key` writes a key only its owner may read and prints its
/// public JWK; registered with the server, the profile gets a token.
#[test]
fn init_generates_a_key_whose_public_jwk_the_server_accepts() {
    let lab = Lab::new();
    let front = front(StandardServerConfig::default());
    let key = lab.path().join("keys").join("client.pem");
    let written = lab
        .run(&[
            "init",
            "-p",
            "gen",
            "--provider",
            "standard",
            "--token-url",
            &front.url("/token"),
            "--client-id",
            KEY_CLIENT,
            "--client-auth",
            "private-key-jwt",
            "--private-key-file",
            key.to_str().unwrap(),
            "--key-id",
            KEY_ID,
            "--generate-private-key",
            "--plaintext-storage",
        ])
        .ok()
        .stdout;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let pem = std::fs::read_to_string(&key).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!written.contains(&pem), "{written}");
    for line in pem.lines().filter(|line| !line.starts_with("-----")) {
        assert!(!written.contains(line), "{written}");
    }
    let jwk_line = written
        .lines()
        .find(|line| line.starts_with('{'))
        .unwrap_or_else(|| panic!("no JWK printed:\n{written}"));
    let jwk: Value = serde_json::from_str(jwk_line).unwrap();
    assert_eq!(
        (jwk["kty"].as_str(), jwk["alg"].as_str()),
        (Some("EC"), Some("ES256")),
        "{jwk}"
    );
    assert_eq!(jwk["kid"], KEY_ID, "{jwk}");
    assert!(
        jwk.get("d").is_none(),
        "the private part is never printed: {jwk}"
    );
    let config = std::fs::read_to_string(&lab.config).unwrap();
    assert!(
        config.contains("client_auth = \"private-key-jwt\""),
        "{config}"
    );
    assert!(
        config.contains(&format!("private_key_file = \"{}\"", key.display())),
        "{config}"
    );

    // The server learns the public key.
    front.with_emulator(|emulator| {
        *emulator = StandardServer::new(
            StandardServerConfig::default().assertion_client(KEY_CLIENT, AssertionKey::jwk(jwk)),
        )
    });
    let token = lab.run(&["token", "-p", "gen"]).ok().line().to_owned();
    assert!(valid(&front, &token), "the emulator issued {token}");

    // Never over a key that is there.
    let again = lab
        .run(&[
            "init",
            "-p",
            "gen2",
            "--provider",
            "standard",
            "--token-url",
            &front.url("/token"),
            "--client-id",
            KEY_CLIENT,
            "--client-auth",
            "private-key-jwt",
            "--private-key-file",
            key.to_str().unwrap(),
            "--generate-private-key",
            "--plaintext-storage",
        ])
        .expect(2);
    assert!(
        again.stderr.contains("tokenctl never replaces a key"),
        "{}",
        again.stderr
    );
    assert_eq!(std::fs::read_to_string(&key).unwrap(), pem);
}

/// `init` checks a key file that is there as a request would read it, notes one not
/// there yet, and refuses the file settings where no assertion uses them.
#[test]
fn init_checks_the_key_file_and_the_assertion_settings() {
    let lab = Lab::new();
    let (key, _) = key_file(&lab, "shared.pem", 0o644);
    let init = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "init",
            "-p",
            name,
            "--provider",
            "standard",
            "--token-url",
            "http://127.0.0.1:9/token",
            "--client-id",
            "c",
            "--plaintext-storage",
        ];
        args.extend_from_slice(extra);
        lab.run(&args)
    };
    let refused = init(
        "open",
        &[
            "--client-auth",
            "private-key-jwt",
            "--private-key-file",
            key.to_str().unwrap(),
        ],
    )
    .expect(3);
    assert!(
        refused.stderr.contains(&format!(
            "private key file {} may be read by others",
            key.display()
        )),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("chmod 600"), "{}", refused.stderr);
    assert!(!std::fs::read_to_string(&lab.config)
        .unwrap()
        .contains("open"));

    let later = lab.path().join("later.pem");
    let noted = init(
        "later",
        &[
            "--client-auth",
            "private-key-jwt",
            "--private-key-file",
            later.to_str().unwrap(),
        ],
    )
    .ok();
    assert!(
        noted.stderr.contains("is not there yet"),
        "{}",
        noted.stderr
    );

    let refused = init("unused", &["--private-key-file", "/k"]).expect(2);
    assert!(
        refused
            .stderr
            .contains("--private-key-file is used only with --client-auth private-key-jwt"),
        "{}",
        refused.stderr
    );
    let refused = init(
        "both",
        &[
            "--client-auth",
            "private-key-jwt",
            "--private-key-file",
            later.to_str().unwrap(),
            "--client-assertion-file",
            "/t",
        ],
    )
    .expect(2);
    assert!(refused.stderr.contains("not both"), "{}", refused.stderr);
    let refused = init("nofile", &["--client-auth", "private-key-jwt"]).expect(3);
    assert!(
        refused
            .stderr
            .contains("missing setting `private_key_file` or `client_assertion_file`"),
        "{}",
        refused.stderr
    );
    // The JWT bearer grant with the platform's file: the file need not be there yet.
    init(
        "ci",
        &[
            "--grant",
            "jwt-bearer",
            "--assertion-issuer",
            PLATFORM,
            "--assertion-subject",
            SUBJECT,
            "--client-assertion-file",
            "/var/run/secrets/tokens/oauth-token",
        ],
    )
    .ok();
}

/// On a terminal, `init` offers `client_auth = "private-key-jwt"` to a client without a
/// secret, then asks for the key file and its `kid`, and not for the settings the key
/// makes unused (the platform's file, a username).
#[test]
fn init_on_a_terminal_asks_for_the_key_of_a_private_key_jwt_client() {
    let lab = Lab::new();
    let (key, _) = key_file(&lab, "client-key.pem", 0o600);
    let answers = [
        "http://127.0.0.1:9/token", // token_url
        "my-client",                // client_id
        "",                         // client_secret_env: none
        "private-key-jwt",          // client_auth, the one choice left
        "",                         // grant: client credentials
        "",                         // issuer
        key.to_str().unwrap(),      // private_key_file
        KEY_ID,                     // key_id
        "",                         // assertion_algorithm
        "",                         // assertion_audience
        "",                         // assertion_lifetime
        "",                         // scope
        "",                         // revocation_url
        "",                         // refresh_token_use
    ];
    let mut input = answers.join("\n");
    input.push('\n');
    let typed = support::terminal::on_terminal(
        &lab,
        "init -p term --provider standard --plaintext-storage",
        None,
        &input,
    );
    let (screen, code) = (typed.stdout, typed.code);
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("client_auth, how the client authenticates")
            && screen.contains("(private-key-jwt) (empty: none)"),
        "{screen}"
    );
    assert!(
        screen.contains("private_key_file, the PEM or JWK file")
            && screen.contains("(empty: the platform writes the assertions to a file, asked next)"),
        "{screen}"
    );
    assert!(screen.contains("key_id, the `kid`"), "{screen}");
    assert!(!screen.contains("client_assertion_file,"), "{screen}");
    assert!(!screen.contains("assertion_issuer,"), "{screen}");
    let config = std::fs::read_to_string(&lab.config).unwrap();
    for line in [
        "client_auth = \"private-key-jwt\"".to_owned(),
        format!("private_key_file = \"{}\"", key.display()),
        format!("key_id = \"{KEY_ID}\""),
    ] {
        assert!(config.contains(&line), "{line}:\n{config}");
    }
    assert!(!config.contains("client_assertion_file"), "{config}");
    // The profile reads back and signs: its dry run shows the assertion.
    let shown = lab.run(&["token", "-p", "term", "--dry-run"]).ok().stdout;
    let (header, _) = shown_assertion(&shown, "client_assertion");
    assert_eq!(header["kid"], KEY_ID, "{shown}");
}

/// A key the server does not know is rejected; run again with the same key, nothing is
/// sent; the key file replaced by the registered key, it is tried at once. The record of
/// the rejection holds a keyed hash of the key, never the key.
#[test]
fn a_replaced_key_is_tried_at_once_after_a_rejection() {
    let lab = Lab::new();
    let (key, _unknown) = key_file(&lab, "client-key.pem", 0o600);
    let (registered, signer) = key_file(&lab, "registered.pem", 0o600);
    let front = key_server(&signer);
    lab.profile("p", &key_profile(&front, &key));
    let sent = || front.stats().auth_requests;

    let rejected = lab.run(&["token", "-p", "p"]).expect(5);
    assert!(
        rejected.stderr.contains("error invalid_client"),
        "{}",
        rejected.stderr
    );
    assert_eq!(sent(), 1);
    assert_eq!(stats(&front).assertions_refused, 1);
    let again = lab.run(&["token", "-p", "p"]).expect(5);
    assert!(
        again.stderr.contains("in an earlier attempt")
            && again.stderr.contains("nothing was sent now"),
        "{}",
        again.stderr
    );
    assert_eq!(sent(), 1, "the same key is not sent again");
    let record = lab
        .state_files()
        .into_iter()
        .find(|path| path.to_string_lossy().ends_with(".session.rejection"))
        .expect("a record of the rejection");
    let record: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(
        record["private_key_file"].as_str().map(str::len),
        Some(64),
        "{record}"
    );

    std::fs::write(&key, std::fs::read(&registered).unwrap()).unwrap();
    let token = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert_eq!(sent(), 2, "the new key is tried at once");
    assert!(valid(&front, &token));
    let shown = lab.run(&["inspect", "-p", "p"]).ok().stdout;
    assert!(shown.contains("active (ready), generation 1"), "{shown}");
}

/// The platform's file missing, or its assertion expired: nothing is sent, the command
/// says why and what to check (exit 7: the session tries again by itself), and a dry run
/// says why no request could be formed.
#[test]
fn a_missing_or_expired_platform_assertion_is_said_and_nothing_is_sent() {
    let lab = Lab::new();
    let (platform, _) = JwtSigner::generate(Algorithm::Es256).unwrap();
    let jwk = platform.public_jwk().unwrap();
    let front =
        front(StandardServerConfig::default().trust_issuer(PLATFORM, AssertionKey::jwk(jwk)));
    let file = lab.path().join("oidc-token");
    let (client, _) = STANDARD_CLIENT;
    let profile = |name: &str| {
        lab.profile(
            name,
            &format!(
                "provider = \"standard\"\ntoken_url = \"{}\"\nclient_id = \"{client}\"\ngrant = \"jwt-bearer\"\nassertion_issuer = \"{PLATFORM}\"\nassertion_subject = \"{SUBJECT}\"\nclient_assertion_file = \"{}\"\nplaintext_storage = true",
                front.url("/token"),
                file.display()
            ),
        )
    };
    profile("missing");
    let shown = lab
        .run(&["token", "-p", "missing", "--dry-run"])
        .ok()
        .stdout;
    assert!(
        shown.contains("nothing would be sent now")
            && shown.contains("the request could not be formed")
            && shown.contains(&file.display().to_string()),
        "{shown}"
    );
    let failed = lab.run(&["token", "-p", "missing"]).expect(7);
    assert!(
        failed
            .stderr
            .contains(&format!("cannot read {}", file.display()))
            && failed
                .stderr
                .contains("check the file named by `client_assertion_file` in profile `missing`"),
        "{}",
        failed.stderr
    );

    // Expired an hour ago.
    let then = UtcDateTime::now() - Duration::hours(2);
    let claims = AssertionClaims {
        issuer: PLATFORM.into(),
        subject: SUBJECT.into(),
        audience: front.url("/token"),
        issued_at: then,
        expires_at: then + Duration::hours(1),
    };
    let compact = platform.assertion(&claims).unwrap().into_compact();
    std::fs::write(&file, compact.as_bytes()).unwrap();
    lab.remember(&compact);
    profile("expired");
    let failed = lab.run(&["token", "-p", "expired"]).expect(7);
    assert!(failed.stderr.contains("expired"), "{}", failed.stderr);
    assert!(
        longest_base64url_run(&failed.stderr) < 40,
        "{}",
        failed.stderr
    );
    let sent = stats(&front);
    assert_eq!(
        sent.assertions_accepted + sent.assertions_refused,
        0,
        "{sent:?}"
    );
    assert_eq!(front.stats().auth_requests, 0);
}

/// An RSA key signs PS256 when the profile says so (RS256 otherwise), and the server
/// that registered the key for PS256 issues a token.
#[test]
fn an_rsa_key_signs_with_the_algorithm_the_profile_names() {
    let lab = Lab::new();
    let (signer, pem) = JwtSigner::generate(Algorithm::Ps256).expect("an RSA key");
    let path = lab.path().join("rsa-key.pem");
    std::fs::write(&path, pem.as_bytes()).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    lab.remember(&pem);
    for line in pem.lines().filter(|line| !line.starts_with("-----")) {
        lab.remember(line);
    }
    let front = key_server(&signer.with_key_id(KEY_ID));
    let profile = key_profile(&front, &path);
    lab.profile("rs", &profile);
    let shown = lab.run(&["token", "-p", "rs", "--dry-run"]).ok().stdout;
    assert_eq!(
        shown_assertion(&shown, "client_assertion").0["alg"],
        "RS256"
    );

    lab.profile("ps", &format!("{profile}\nassertion_algorithm = \"PS256\""));
    let shown = lab.run(&["token", "-p", "ps", "--dry-run"]).ok().stdout;
    assert_eq!(
        shown_assertion(&shown, "client_assertion").0["alg"],
        "PS256"
    );
    lab.run(&["token", "-p", "ps"]).ok();
    assert_eq!(stats(&front).assertions_accepted, 1);
}
