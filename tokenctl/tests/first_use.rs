//! What a new user met, each fixed and checked through the built binary against the
//! provider emulators on 127.0.0.1: a rejection that outlived the fix of the password,
//! arguments checked only after a request, `inspect` misreading a session that backs
//! off, `logout` of nothing, help that put the token on a command line, no
//! `--client-auth` in `init`, and times printed in no standard form.

mod support;

use oauth_lifecycle_emulator::{
    Clock, Emulator as _, HttpFront, InjectedFailure, StandardServer, StandardServerConfig,
};
use serde_json::Value;
use support::{closed_port, Lab};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// A time zone 5 h 30 min east of UTC, as POSIX `TZ` writes it (the sign is inverted).
const EAST: &str = "XYZ-05:30";

fn standard(config: StandardServerConfig) -> HttpFront<StandardServer> {
    HttpFront::start(StandardServer::new(config), Clock::System).expect("the emulator listens")
}

/// Profile `name`: the standard emulator's password grant for alice, with the password
/// in `ALICE_PASSWORD`, stored as `storage` says.
fn password_profile(lab: &Lab, name: &str, token_url: &str, storage: &str) {
    lab.profile(
        name,
        &format!(
            "provider = \"standard\"\ntoken_url = \"{token_url}\"\nclient_id = \"emulated-client\"\nclient_secret_env = \"STANDARD_SECRET\"\ngrant = \"password\"\nusername = \"alice\"\npassword_env = \"ALICE_PASSWORD\"\n{storage}"
        ),
    );
    lab.secret("STANDARD_SECRET", "emulated-secret");
}

fn inspect_json(lab: &Lab, profile: &str) -> Value {
    serde_json::from_str(lab.run(&["inspect", "-p", profile, "--json"]).ok().line()).unwrap()
}

/// The moments written in `text` (anything starting `YYYY-MM-DD`), as written.
fn moments(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 10 <= bytes.len() {
        let date = bytes[i..i + 10].iter().enumerate().all(|(k, b)| {
            if k == 4 || k == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
        if date && (i == 0 || !bytes[i - 1].is_ascii_digit()) {
            let end = text[i..]
                .find(|c: char| !(c.is_ascii_digit() || "-:.TZ+".contains(c)))
                .map_or(text.len(), |n| i + n);
            // A time crate's display (`2026-12-06 9:49:19.2 +00`) stops at its space; a
            // colon or period after a moment ends a clause.
            let moment = text[i..end].trim_end_matches([':', '.']);
            found.push(moment.to_owned());
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// Every moment in `text` is RFC 3339 ending in `suffix`; there is at least one.
#[track_caller]
fn all_moments_end_with(text: &str, suffix: &str) {
    let found = moments(text);
    assert!(!found.is_empty(), "no moment in:\n{text}");
    for moment in &found {
        assert!(
            moment.ends_with(suffix)
                && oauth_lifecycle::time::OffsetDateTime::parse(
                    moment,
                    &oauth_lifecycle::time::format_description::well_known::Rfc3339
                )
                .is_ok(),
            "{moment:?} is not RFC 3339 ending in {suffix} in:\n{text}"
        );
    }
}

/// Fix 1: a rejected password, fixed in its variable, is tried at once; the same wrong
/// password is not sent again, and the message says the rejection is from an earlier
/// attempt, and when. The stored files never hold the password.
#[test]
fn a_fixed_password_is_tried_at_once_and_an_old_rejection_says_when() {
    for storage in ["plaintext_storage = true", "key_env = \"TOKENCTL_KEY\""] {
        let front = standard(StandardServerConfig::default());
        let lab = Lab::new();
        lab.secret("TOKENCTL_KEY", KEY);
        password_profile(&lab, "p", &front.url("/token"), storage);
        let sent = || front.stats().auth_requests;

        // A wrong password: rejected, exit 5, and the session will try again slowly.
        lab.secret("ALICE_PASSWORD", "wrong-password-1");
        let rejected = lab.run(&["token", "-p", "p"]).expect(5);
        assert_eq!(sent(), 1, "{storage}");
        assert!(
            rejected.stderr.starts_with("error: the provider refused the credentials (endpoint error, status 400, error invalid_grant)")
                && rejected.stderr.contains("tries them again by itself at 20"),
            "{storage}: {}",
            rejected.stderr
        );
        assert_eq!(rejected.stderr.lines().count(), 2, "{}", rejected.stderr);

        // Run again with the same password: nothing is sent, and the message says the
        // rejection is an earlier attempt's, when (in local time), and what comes next.
        let again = lab
            .run_with(&["token", "-p", "p"], &[("TZ", EAST)])
            .expect(5);
        assert_eq!(sent(), 1, "{storage}: the same password is not sent again");
        let message = again.stderr.lines().next().unwrap();
        assert!(
            message.contains("rejected the credentials of profile `p` at 20")
                && message.contains(
                    ", in an earlier attempt (endpoint error, status 400, error invalid_grant)"
                )
                && message.contains("nothing was sent now"),
            "{storage}: {}",
            again.stderr
        );
        all_moments_end_with(&again.stderr, "+05:30");
        assert!(
            again.stderr.contains("run: tokenctl login -p p"),
            "{}",
            again.stderr
        );
        let shown = lab.run(&["inspect", "-p", "p"]).ok().stdout;
        assert!(shown.contains("(credentials rejected)"), "{shown}");
        assert!(shown.contains("rejected     login at 20"), "{shown}");

        // The stored files hold no password, in any form: a keyed hash only.
        let rejection = lab
            .state_files()
            .into_iter()
            .find(|path| path.to_string_lossy().ends_with(".session.rejection"))
            .expect("a record of the rejection");
        let record: Value = serde_json::from_slice(&std::fs::read(&rejection).unwrap()).unwrap();
        assert_eq!(
            record["password"].as_str().map(str::len),
            Some(64),
            "{record}"
        );
        for path in lab.state_files() {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            for password in ["wrong-password-1", "alice-password", "emulated-secret"] {
                assert!(!text.contains(password), "{password} in {}", path.display());
            }
        }

        // An explicit login tries at once, even the same password.
        lab.run(&["login", "-p", "p"]).expect(5);
        assert_eq!(sent(), 2, "{storage}");

        // The password fixed: tried at once, logged in.
        lab.secret("ALICE_PASSWORD", "alice-password");
        lab.run(&["token", "-p", "p"]).ok();
        assert_eq!(sent(), 3, "{storage}");
        assert_eq!(front.with_emulator(|e| e.stats().logins), 1);
        assert!(!rejection.exists(), "the record goes with the rejection");
        let shown = lab.run(&["inspect", "-p", "p"]).ok().stdout;
        assert!(shown.contains("active (ready), generation 1"), "{shown}");
        assert!(shown.contains("last failure none"), "{shown}");
    }
}

/// Fix 2: arguments no token can satisfy are refused (exit 2) before anything is sent,
/// and a usage error never becomes the session's last failure.
#[test]
fn arguments_are_checked_before_anything_is_sent() {
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = oauth_lifecycle::time::Duration::seconds(10);
    let front = standard(config);
    let lab = Lab::new();
    lab.standard_profile("s", &front.url("/token"));
    lab.run(&["token", "-p", "s"]).ok();
    let sent = || front.stats().auth_requests;
    assert_eq!(sent(), 1);

    // 10-second tokens are handed out for 9 s at most: --min-ttl 9s is refused now.
    let refused = lab.run(&["token", "-p", "s", "--min-ttl", "9s"]).expect(2);
    assert!(
        refused
            .stderr
            .contains("--min-ttl 9s is more than the provider's tokens last: 9s"),
        "{}",
        refused.stderr
    );
    assert_eq!(sent(), 1, "nothing sent");
    assert!(inspect_json(&lab, "s")["last_failure"].is_null());

    // A --min-ttl the provider's tokens can meet, with less than that left now: renewed
    // for it.
    let first = lab.run(&["token", "-p", "s"]).ok().line().to_owned();
    oauth_lifecycle_testkit::eventually("the token to have less than 8s left", || {
        let until = inspect_json(&lab, "s")["session"]["token"]["hard_expiry"]
            .as_str()
            .and_then(|at| {
                oauth_lifecycle::time::OffsetDateTime::parse(
                    at,
                    &oauth_lifecycle::time::format_description::well_known::Rfc3339,
                )
                .ok()
            })
            .expect("a stored token");
        until - oauth_lifecycle::time::OffsetDateTime::now_utc()
            < oauth_lifecycle::time::Duration::seconds(7)
    });
    let renewed = lab.run(&["token", "-p", "s", "--min-ttl", "8s"]).ok();
    assert_ne!(renewed.line(), first, "renewed for --min-ttl");
    assert_eq!(sent(), 2);

    // A real failure is recorded; a usage error after it does not replace it.
    for _ in 0..3 {
        front.with_emulator(|emulator| {
            emulator.fail_next(InjectedFailure::Status {
                status: 503,
                retry_after: None,
            })
        });
    }
    lab.run(&["token", "-p", "s", "--force-refresh"]).expect(7);
    let recorded = inspect_json(&lab, "s")["last_failure"].clone();
    assert!(recorded["message"].is_string(), "{recorded}");
    let before = sent();
    lab.run(&["token", "-p", "s", "--min-ttl", "9s"]).expect(2);
    lab.run(&["exec", "-p", "s", "--env-var", "A=B", "--", "true"])
        .expect(2);
    assert_eq!(sent(), before, "nothing sent");
    assert_eq!(inspect_json(&lab, "s")["last_failure"], recorded);

    // With nothing stored: what no session can give is refused before any file is made.
    let fresh = Lab::new();
    fresh.standard_profile("s", &format!("http://127.0.0.1:{}/token", closed_port()));
    fresh.profile(
        "v3",
        "provider = \"convirza-v3\"\nbase_url = \"http://127.0.0.1:9\"\nusername = \"u@example.com\"\nplaintext_storage = true",
    );
    for (args, words) in [
        (
            &["token", "-p", "s", "--min-ttl", "31d"][..],
            "more than any token lasts",
        ),
        (
            &["token", "-p", "s", "--scope", " "][..],
            "--scope is empty",
        ),
        (&["token", "-p", "s", "--timeout", "0s"][..], "--timeout 0s"),
        (
            &["token", "-p", "v3", "--scope", "read"][..],
            "takes no scope",
        ),
        (
            &["login", "-p", "v3", "--scope", "read"][..],
            "takes no scope",
        ),
        (
            &["inspect", "-p", "v3", "--scope", "read"][..],
            "takes no scope",
        ),
    ] {
        let refused = fresh.run(args).expect(2);
        assert!(
            refused.stderr.contains(words),
            "{args:?}: {}",
            refused.stderr
        );
        assert_eq!(refused.stderr.lines().count(), 2, "{}", refused.stderr);
        assert!(fresh.state_files().is_empty(), "{args:?}: nothing made");
    }
}

/// Fix 3: a session backing off after a refused connection inspects as backing off, with
/// the moment of its next attempt, without its secrets at hand.
#[test]
fn inspect_shows_a_session_backing_off_as_it_stands() {
    let down = format!("http://127.0.0.1:{}", closed_port());
    let lab = Lab::new();
    lab.standard_profile("cc", &format!("{down}/token"));
    lab.profile(
        "v3",
        &format!(
            "provider = \"convirza-v3\"\nbase_url = \"{down}\"\nusername = \"u@example.com\"\npassword_env = \"V3_PASSWORD\"\nkey_env = \"TOKENCTL_KEY\""
        ),
    );
    lab.secret("TOKENCTL_KEY", KEY);
    lab.secret("V3_PASSWORD", "SecurePassword123!");
    for profile in ["cc", "v3"] {
        lab.run(&["token", "-p", profile]).expect(7);
    }
    // Inspecting needs no secret.
    lab.unset("V3_PASSWORD");
    lab.unset("EMULATED_SECRET");
    for profile in ["cc", "v3"] {
        let shown = lab.run(&["inspect", "-p", profile]).ok().stdout;
        assert!(
            shown.contains("state        unauthenticated (backing off), generation 0"),
            "{profile}:\n{shown}"
        );
        assert!(shown.contains("next attempt 20"), "{profile}:\n{shown}");
        assert!(
            shown.contains("waiting      backing off after a temporary failure"),
            "{profile}:\n{shown}"
        );
        assert!(shown.contains("last failure 20"), "{profile}:\n{shown}");
        for wrong in ["needs login", "no credentials", "stopped"] {
            assert!(!shown.contains(wrong), "{profile}: {wrong}\n{shown}");
        }
        let session = &inspect_json(&lab, profile)["session"];
        assert_eq!(session["status"], "backing off", "{session}");
        assert_eq!(session["state"], "unauthenticated", "{session}");
        assert!(session["stopped_because"].is_null(), "{session}");
        let retry_at = session["retry_at"].as_str().expect("a retry_at");
        all_moments_end_with(retry_at, "Z");
    }
}

/// Fix 4: `logout` with nothing stored says so; a logout leaves no file behind, the
/// lock file included.
#[test]
fn logout_says_when_there_was_nothing_and_leaves_no_file() {
    let front = standard(StandardServerConfig::default());
    let lab = Lab::new();
    lab.standard_profile("s", &front.url("/token"));
    let nothing = lab.run(&["logout", "-p", "s"]).ok().stdout;
    assert_eq!(
        nothing.trim_end(),
        "no stored session for profile `s`: nothing to log out of"
    );
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
    assert!(lab
        .run(&["revoke", "-p", "s"])
        .ok()
        .stdout
        .contains("nothing to revoke"));

    lab.run(&["token", "-p", "s"]).ok();
    assert!(lab
        .state_files()
        .iter()
        .any(|path| path.to_string_lossy().ends_with(".session.in-use")));
    let out = lab.run(&["logout", "-p", "s"]).ok().stdout;
    assert!(
        out.ends_with("logged out: the stored session is deleted\n"),
        "{out}"
    );
    assert!(lab.state_files().is_empty(), "{:?}", lab.state_files());
    // The next command starts afresh.
    lab.run(&["token", "-p", "s"]).ok();
}

/// Fix 5: the help shows how to keep the token off command lines (and the way it shows
/// works with curl); `init --client-auth` is saved and used.
#[test]
fn help_keeps_the_token_off_command_lines_and_init_takes_client_auth() {
    let lab = Lab::new();
    let help = lab.run(&["--help"]).ok().stdout;
    assert!(
        help.contains("tokenctl token -p v3 --format header | curl -H @- https://"),
        "{help}"
    );
    assert!(
        !help.contains("Bearer $"),
        "a token on a command line:\n{help}"
    );
    let init_help = lab.run(&["init", "--help"]).ok().stdout;
    assert!(init_help.contains("--client-auth <METHOD>"), "{init_help}");

    let front = standard(StandardServerConfig::default());
    lab.secret("IDP_SECRET", "emulated-secret");
    // The header piped into curl reaches the API; without it, the API refuses.
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok()
    {
        lab.standard_profile("s", &front.url("/token"));
        let api = front.url("/api/me");
        let curl = format!("curl -sS -o /dev/null -w '%{{http_code}}' -H @- {api}");
        let piped = lab
            .shell(&format!(
                "\"$TOKENCTL\" token -p s --format header | {curl}"
            ))
            .ok();
        assert_eq!(piped.stdout, "200", "{}", piped.stderr);
        let without = lab.shell(&format!("true | {curl}")).ok();
        assert_eq!(without.stdout, "401");
    } else {
        eprintln!("no curl: the pipe from the help is not tried");
    }

    for (name, method, shown) in [
        ("post", "post", "client_secret=[redacted]"),
        ("basic", "basic", "authorization: Basic [redacted]"),
    ] {
        lab.run(&[
            "init",
            "-p",
            name,
            "--provider",
            "standard",
            "--token-url",
            &front.url("/token"),
            "--client-id",
            "emulated-client",
            "--client-secret-env",
            "IDP_SECRET",
            "--client-auth",
            method,
            "--plaintext-storage",
        ])
        .ok();
        let config = std::fs::read_to_string(&lab.config).unwrap();
        assert!(
            config.contains(&format!("[profiles.{name}]"))
                && config.contains(&format!("client_auth = \"{method}\"")),
            "{config}"
        );
        let dry = lab.run(&["token", "-p", name, "--dry-run"]).ok().stdout;
        assert!(dry.contains(shown), "{name}:\n{dry}");
        if method == "post" {
            assert!(!dry.contains("authorization:"), "{dry}");
            assert!(dry.contains("client_id=emulated-client"), "{dry}");
        }
        lab.run(&["token", "-p", name]).ok();
    }
    // Only a standard server lets the client choose.
    let refused = lab
        .run(&[
            "init",
            "-p",
            "v3",
            "--provider",
            "convirza-v3",
            "--username",
            "u@example.com",
            "--client-auth",
            "post",
        ])
        .expect(2);
    assert!(
        refused.stderr.contains("--client-auth"),
        "{}",
        refused.stderr
    );
    let refused = lab
        .run(&[
            "init",
            "-p",
            "public",
            "--provider",
            "standard",
            "--token-url",
            &front.url("/token"),
            "--client-id",
            "c",
            "--client-auth",
            "post",
        ])
        .expect(2);
    assert!(
        refused.stderr.contains("--client-secret-env"),
        "{}",
        refused.stderr
    );
}

/// Fix 6: every moment printed is RFC 3339: in local time with its offset for people
/// (messages, `login`, `inspect`, `watch`, `--verbose`), in UTC for programs (JSON).
#[test]
fn moments_are_rfc_3339_local_for_people_and_utc_for_programs() {
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = oauth_lifecycle::time::Duration::seconds(6);
    let front = standard(config);
    let lab = Lab::new();
    lab.set("TZ", EAST);
    lab.standard_profile("s", &front.url("/token"));

    let logged_in = lab.run(&["login", "-p", "s"]).ok().stdout;
    assert!(logged_in.contains("valid until 20"), "{logged_in}");
    all_moments_end_with(&logged_in, "+05:30");
    all_moments_end_with(&lab.run(&["inspect", "-p", "s"]).ok().stdout, "+05:30");
    let report = lab.run(&["inspect", "-p", "s", "--json"]).ok().stdout;
    all_moments_end_with(&report, "Z");
    let printed = lab
        .run(&["token", "-p", "s", "--format", "json"])
        .ok()
        .stdout;
    all_moments_end_with(&printed, "Z");

    // A core error in a message: the provider throttles the renewal.
    front.with_emulator(|emulator| {
        emulator.fail_next(InjectedFailure::Status {
            status: 429,
            retry_after: Some("120".into()),
        })
    });
    let throttled = lab
        .run(&["token", "-p", "s", "--force-refresh", "--verbose"])
        .expect(6);
    let (traces, failure) = throttled
        .stderr
        .rsplit_once("error: ")
        .expect("a failure after the traces");
    assert!(failure.contains("until 20"), "{failure}");
    all_moments_end_with(failure, "+05:30");
    // The traces: their own timestamps and the moments in their fields.
    assert!(traces.contains("sending token request"), "{traces}");
    all_moments_end_with(traces, "+05:30");
    // Recorded for programs in UTC; shown to people in local time.
    let recorded = inspect_json(&lab, "s");
    all_moments_end_with(recorded["last_failure"].to_string().as_str(), "Z");
    let shown = lab.run(&["inspect", "-p", "s"]).ok().stdout;
    let line = shown
        .lines()
        .find(|line| line.starts_with("last failure"))
        .unwrap();
    all_moments_end_with(line, "+05:30");

    // watch: each event's clock and fields in local time (6-second tokens renew soon).
    let other = Lab::new();
    other.set("TZ", EAST);
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = oauth_lifecycle::time::Duration::seconds(6);
    let short = standard(config);
    other.standard_profile("w", &short.url("/token"));
    let watched = other
        .run(&["watch", "-p", "w", "--renewals", "1", "--for", "40s"])
        .ok()
        .stdout;
    let issued: Vec<&str> = watched
        .lines()
        .filter(|line| line.contains("token issued"))
        .collect();
    assert_eq!(issued.len(), 2, "{watched}");
    for line in issued {
        all_moments_end_with(line, "+05:30");
        // The clock at the start of the line: local time of day, 5 h 30 min east.
        let clock = &line[..8];
        let local = oauth_lifecycle::time::OffsetDateTime::now_utc()
            .to_offset(oauth_lifecycle::time::UtcOffset::from_hms(5, 30, 0).unwrap());
        let seconds = |h: &str, m: &str, s: &str| {
            h.parse::<i64>().unwrap() * 3600
                + m.parse::<i64>().unwrap() * 60
                + s.parse::<i64>().unwrap()
        };
        let shown = seconds(&clock[0..2], &clock[3..5], &clock[6..8]);
        let now = i64::from(local.hour()) * 3600
            + i64::from(local.minute()) * 60
            + i64::from(local.second());
        let apart = (now - shown).rem_euclid(86_400);
        assert!(apart < 120, "{clock} is not local time: {line}");
    }
}
