//! The command line itself: help, completions, `init`, and a clear message, a one-line
//! fix and the documented exit code for every misconfiguration, each a row of a table.

mod support;

use std::os::unix::fs::PermissionsExt as _;

use oauth_lifecycle_emulator::{Clock, HttpFront, StandardServer, StandardServerConfig};
use support::Lab;

#[test]
fn help_shows_examples_for_every_provider_and_the_exit_codes() {
    let lab = Lab::new();
    let help = lab.run(&["--help"]).ok().stdout;
    for provider in [
        "standard",
        "convirza-v2",
        "convirza-v3",
        "convercus",
        "convercus-legacy",
    ] {
        assert!(
            help.contains(&format!("provider = \"{provider}\"")),
            "{provider}:\n{help}"
        );
    }
    assert!(help.contains("Exit codes"), "{help}");
    for command in [
        "token",
        "exec",
        "inspect",
        "login",
        "refresh",
        "revoke",
        "logout",
        "watch",
        "init",
        "completions",
    ] {
        assert!(
            lab.run(&[command, "--help"])
                .ok()
                .stdout
                .contains("Usage: tokenctl"),
            "{command}"
        );
    }
}

#[test]
fn completions_for_each_shell() {
    let lab = Lab::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = lab.run(&["completions", shell]).ok().stdout;
        assert!(
            script.contains("tokenctl") && script.contains("force-refresh"),
            "{shell}"
        );
    }
}

#[test]
fn init_writes_a_commented_profile_and_a_private_key_file_that_work() {
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let lab = Lab::new();
    lab.secret("IDP_SECRET", "emulated-secret");
    let token_url = front.url("/token");
    let written = lab
        .run(&[
            "init",
            "-p",
            "idp",
            "--provider",
            "standard",
            "--token-url",
            &token_url,
            "--client-id",
            "emulated-client",
            "--client-secret-env",
            "IDP_SECRET",
        ])
        .ok()
        .stdout;
    assert!(written.contains("wrote profile `idp`"), "{written}");
    let config = std::fs::read_to_string(&lab.config).unwrap();
    assert!(
        config.contains("# the environment variable holding the client secret"),
        "{config}"
    );
    let key = lab.config.with_file_name("idp.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    lab.secret("UNUSED", std::fs::read_to_string(&key).unwrap().trim());
    // The profile works as written: a token, stored encrypted with the new key.
    lab.run(&["token", "-p", "idp"]).ok();
    // init never overwrites a profile.
    let again = lab
        .run(&["init", "-p", "idp", "--provider", "standard"])
        .expect(3);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    // Without a terminal, init asks nothing and says what is missing.
    let missing = lab
        .run(&["init", "-p", "other", "--provider", "convirza-v3"])
        .expect(3);
    assert!(missing.stderr.contains("username"), "{}", missing.stderr);
}

/// Every misconfiguration: the exit code, a message naming the problem, a fix line.
#[test]
fn misconfigurations_fail_with_the_documented_exit_code_and_a_fix() {
    struct Row {
        name: &'static str,
        profile: &'static str,
        env: &'static [(&'static str, &'static str)],
        code: i32,
        message: &'static str,
        fix: &'static str,
    }
    let rows = [
        Row {
            name: "a secret in the config file",
            profile: "provider = \"convirza-v3\"\nusername = \"u@example.com\"\npassword = \"hunter2-in-the-file\"\nplaintext_storage = true",
            env: &[],
            code: 3,
            message: "`password` may not be in the config file",
            fix: "edit the config file",
        },
        Row {
            name: "a missing secret, not on a terminal",
            profile: "provider = \"standard\"\ntoken_url = \"http://127.0.0.1:9/token\"\nclient_id = \"c\"\nclient_secret_env = \"NOT_SET\"\nplaintext_storage = true",
            env: &[],
            code: 4,
            message: "NOT_SET is not set",
            fix: "run: tokenctl login -p p",
        },
        Row {
            name: "a password needed for a login, not on a terminal",
            profile: "provider = \"convirza-v3\"\nbase_url = \"http://127.0.0.1:9\"\nusername = \"u@example.com\"\npassword_env = \"NOT_SET\"\nplaintext_storage = true",
            env: &[],
            code: 4,
            message: "needs a new login",
            fix: "run: tokenctl login -p p",
        },
        Row {
            name: "a session key not set",
            profile: "provider = \"convirza-v3\"\nusername = \"u@example.com\"\nkey_env = \"NO_KEY\"",
            env: &[],
            code: 3,
            message: "NO_KEY is not set",
            fix: "set NO_KEY",
        },
        Row {
            name: "a session key that is no key",
            profile: "provider = \"convirza-v3\"\nusername = \"u@example.com\"\nkey_env = \"BAD_KEY\"",
            env: &[("BAD_KEY", "c2hvcnQ=")],
            code: 3,
            message: "BAD_KEY is not a session key",
            fix: "set BAD_KEY",
        },
        Row {
            name: "a missing key file",
            profile: "provider = \"convirza-v3\"\nusername = \"u@example.com\"\nkey_file = \"/nonexistent/tokenctl.key\"",
            env: &[],
            code: 3,
            message: "key file /nonexistent/tokenctl.key",
            fix: "--generate-key",
        },
        Row {
            name: "an invalid URL",
            profile: "provider = \"standard\"\ntoken_url = \"not a url\"\nclient_id = \"c\"\nplaintext_storage = true",
            env: &[],
            code: 3,
            message: "profile `p`",
            fix: "edit the profile",
        },
    ];
    for row in rows {
        let lab = Lab::new();
        lab.profile("p", row.profile);
        for (name, value) in row.env {
            lab.set(name, value);
        }
        let failed = lab.run(&["token", "-p", "p"]);
        assert_eq!(failed.code, row.code, "{}: {}", row.name, failed.stderr);
        let mut lines = failed.stderr.lines();
        let (message, fix) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
        assert!(
            message.starts_with("error: ") && message.contains(row.message),
            "{}: {message}",
            row.name
        );
        assert!(fix.contains(row.fix), "{}: {fix}", row.name);
        assert!(
            lines.next().is_none(),
            "{}: two lines:\n{}",
            row.name,
            failed.stderr
        );
        assert!(!failed.stderr.contains("hunter2"), "{}", row.name);
        assert!(failed.stdout.is_empty(), "{}: nothing on stdout", row.name);
    }
    // An unknown profile and a missing config file.
    let lab = Lab::new();
    let unknown = lab.run(&["token", "-p", "nope"]).expect(3);
    assert!(
        unknown.stderr.contains("no profile `nope`"),
        "{}",
        unknown.stderr
    );
    let missing = lab
        .run(&["token", "--config", "/nonexistent/config.toml"])
        .expect(3);
    assert!(
        missing.stderr.contains("run: tokenctl init"),
        "{}",
        missing.stderr
    );
}

/// `watch` on a provider with 6-second tokens: each event on its own line (stdout is no
/// terminal here), and it stops after the renewals asked for.
#[test]
fn watch_prints_each_event_and_stops_when_asked() {
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = oauth_lifecycle::time::Duration::seconds(6);
    let front = HttpFront::start(StandardServer::new(config), Clock::System).unwrap();
    let lab = Lab::new();
    lab.standard_profile("w", &front.url("/token"));
    let watched = lab
        .run(&["watch", "-p", "w", "--renewals", "1", "--for", "40s"])
        .ok()
        .stdout;
    let issued = watched
        .lines()
        .filter(|line| line.contains("token issued"))
        .count();
    assert_eq!(issued, 2, "a login and one renewal:\n{watched}");
    assert!(
        watched.lines().any(|line| line.contains("renewal due")),
        "{watched}"
    );
    assert!(
        watched
            .trim_end()
            .ends_with("watch ended after 1 renewal(s)"),
        "{watched}"
    );
    assert!(
        !watched.contains('\r'),
        "no status line off a terminal:\n{watched}"
    );
    // --dry-run on watch sends nothing.
    let before = front.stats().auth_requests;
    lab.run(&["watch", "-p", "w", "--dry-run"]).ok();
    assert_eq!(front.stats().auth_requests, before);
}

/// A session stored with one key and read with another is refused with exit 9, and left
/// as it was: the right key still opens it.
#[test]
fn a_session_under_another_key_is_refused_not_overwritten() {
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let lab = Lab::new();
    lab.profile(
        "k",
        &format!(
            "provider = \"standard\"\ntoken_url = \"{}\"\nclient_id = \"emulated-client\"\nclient_secret_env = \"K_SECRET\"\nkey_env = \"K_KEY\"",
            front.url("/token")
        ),
    );
    lab.secret("K_SECRET", "emulated-secret");
    let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    let other = "HxscGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA/Pz8=";
    lab.secret("K_KEY", key);
    let first = lab.run(&["token", "-p", "k"]).ok().line().to_owned();
    let stored = std::fs::read(&lab.session_files()[0]).unwrap();
    let refused = lab
        .run_with(&["token", "-p", "k"], &[("K_KEY", other)])
        .expect(9);
    assert!(refused.stderr.contains("unreadable"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("tokenctl logout"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read(&lab.session_files()[0]).unwrap(),
        stored,
        "untouched"
    );
    assert_eq!(lab.run(&["token", "-p", "k"]).ok().line(), first);
    // A damaged file: the same.
    std::fs::write(&lab.session_files()[0], b"{not json").unwrap();
    lab.run(&["token", "-p", "k"]).expect(9);
    lab.run(&["inspect", "-p", "k"]).expect(9);
    // logout discards what cannot be read.
    lab.run(&["logout", "-p", "k"]).ok();
    assert!(lab.session_files().is_empty());
    lab.run(&["token", "-p", "k"]).ok();
}
