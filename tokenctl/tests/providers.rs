//! `tokenctl` end to end against every provider row of the testkit, its emulator over
//! HTTP on 127.0.0.1 and a profile written from the row's settings: the same walk
//! through every command for each.

mod support;

use oauth_lifecycle_emulator::{Clock, Emulator, HttpFront, ServerStats};
use oauth_lifecycle_testkit::providers::{Facts, RowSettings};
use serde_json::Value;
use support::{closed_port, Lab};

type Front = HttpFront<Box<dyn Emulator + Send>>;

/// One provider row of the testkit (`oauth_lifecycle_testkit::providers!`): its emulator
/// behind an HTTP front, and a profile written from the row's settings.
struct Provider {
    /// The row's name.
    name: &'static str,
    /// The provider's name in profiles.
    provider: &'static str,
    front: Front,
    /// The settings of the row's dialect, given the emulator's base URL.
    settings: RowSettings,
    /// Which of them are secrets: the profile names a variable for each.
    secret_keys: Vec<&'static str>,
    /// The variable holding the secret the provider checks at login.
    secret: String,
    /// Whether the provider has revocation (else revoking forgets the tokens locally).
    revokes: bool,
    /// Whether renewal goes by refresh token (else by a new login).
    refreshes: bool,
}

impl Provider {
    fn new<D: oauth_lifecycle::dialect::Provider>(
        row: &'static str,
        front: Front,
        _dialect: impl Fn(&str) -> D,
        facts: Facts,
    ) -> Self {
        let secret_keys: Vec<&'static str> = D::SETTINGS
            .iter()
            .filter(|setting| setting.secret)
            .map(|setting| setting.key)
            .collect();
        let keys: Vec<&str> = (facts.settings)("")
            .into_iter()
            .map(|(key, _)| key)
            .collect();
        // A user's password where the provider logs in with one, else the client's.
        let checked = if keys.contains(&"password") {
            "password"
        } else {
            "client_secret"
        };
        assert!(keys.contains(&checked), "{row}: a secret checked at login");
        Provider {
            name: row,
            provider: facts.name,
            front,
            settings: facts.settings,
            secret_keys,
            secret: variable(checked),
            revokes: facts.revocable(),
            refreshes: facts.refreshes,
        }
    }

    /// The profile for the emulator at `base`: the row's settings, a secret by the
    /// variable that holds it.
    fn profile(&self, base: &str) -> String {
        let mut lines = vec![format!("provider = \"{}\"", self.provider)];
        for (key, value) in (self.settings)(base) {
            if self.secret_keys.contains(&key) {
                lines.push(format!("{key}_env = \"{}\"", variable(key)));
            } else {
                lines.push(format!("{key} = \"{value}\""));
            }
        }
        lines.push("plaintext_storage = true".into());
        lines.join("\n")
    }

    /// The secrets' variables and values.
    fn secrets(&self) -> Vec<(String, String)> {
        (self.settings)("")
            .into_iter()
            .filter(|(key, _)| self.secret_keys.contains(key))
            .map(|(key, value)| (variable(key), value))
            .collect()
    }
}

/// The variable a profile names for secret setting `key`.
fn variable(key: &str) -> String {
    format!("ROW_{}", key.to_uppercase())
}

fn front(emulator: impl Emulator + Send + 'static) -> Front {
    HttpFront::start(
        Box::new(emulator) as Box<dyn Emulator + Send>,
        Clock::System,
    )
    .expect("the emulator listens")
}

/// Every row of the testkit, its emulator started.
fn providers() -> Vec<Provider> {
    let mut rows = Vec::new();
    macro_rules! row {
        ($name:ident, $emulator:expr, $dialect:expr, $facts:expr) => {
            rows.push(Provider::new(
                stringify!($name),
                front($emulator),
                $dialect,
                $facts,
            ));
        };
    }
    oauth_lifecycle_testkit::providers!(row);
    rows
}

fn stats(front: &Front) -> ServerStats {
    front.with_emulator(|emulator| emulator.stats().clone())
}

fn valid(front: &Front, token: &str) -> bool {
    let now = oauth_lifecycle_adapter::transport::now();
    front.with_emulator(|emulator| emulator.is_access_token_valid(token, now))
}

fn lab(provider: &Provider) -> Lab {
    let lab = Lab::new();
    lab.profile("p", &provider.profile(&provider.front.base_url()));
    for (variable, value) in provider.secrets() {
        lab.secret(&variable, &value);
    }
    lab
}

#[test]
fn every_command_against_every_provider() {
    for provider in providers() {
        walk(&provider);
    }
}

fn walk(provider: &Provider) {
    let name = provider.name;
    let lab = lab(provider);
    let front = &provider.front;

    // token: logs in once, then reuses the stored session.
    let first = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert!(valid(front, &first), "{name}: a live token");
    assert_eq!(stats(front).logins, 1, "{name}");
    let again = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert_eq!(again, first, "{name}: the stored token is reused");
    assert_eq!(stats(front).token_requests, 1, "{name}: nothing sent");

    // The formats.
    let json: Value = serde_json::from_str(
        lab.run(&["token", "-p", "p", "--format", "json"])
            .ok()
            .line(),
    )
    .unwrap();
    assert_eq!(json["access_token"], first.as_str(), "{name}");
    assert_eq!(json["token_type"], "Bearer");
    assert_eq!(json["generation"], 1);
    let expires = oauth_lifecycle::time::OffsetDateTime::parse(
        json["expires_at"].as_str().unwrap(),
        &oauth_lifecycle::time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(json["expires_at_epoch"], expires.unix_timestamp(), "{name}");
    assert_eq!(
        lab.run(&["token", "-p", "p", "--format", "header"])
            .ok()
            .line(),
        format!("Authorization: Bearer {first}")
    );
    assert_eq!(
        lab.run(&["token", "-p", "p", "--format", "curl-config"])
            .ok()
            .line(),
        format!("header = \"Authorization: Bearer {first}\"")
    );
    let credential: Value = serde_json::from_str(
        lab.run(&["token", "-p", "p", "--format", "exec-credential"])
            .ok()
            .line(),
    )
    .unwrap();
    assert_eq!(credential["kind"], "ExecCredential");
    assert_eq!(credential["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(credential["status"]["token"], first.as_str());
    assert_eq!(
        credential["status"]["expirationTimestamp"],
        json["expires_at"]
    );

    // inspect, as text and JSON, without a secret (the lab checks every output).
    let shown = lab.run(&["inspect", "-p", "p"]).ok().stdout;
    assert!(
        shown.contains("active (ready), generation 1"),
        "{name}:\n{shown}"
    );
    assert!(shown.contains("renewal"), "{name}:\n{shown}");
    let inspected: Value =
        serde_json::from_str(lab.run(&["inspect", "-p", "p", "--json"]).ok().line()).unwrap();
    assert_eq!(inspected["session"]["state"], "active", "{name}");
    assert_eq!(
        inspected["session"]["token"]["refresh_token"], provider.refreshes,
        "{name}"
    );
    assert!(inspected["session"]["token"]["renewal_reason"]["rule"].is_string());

    // exec: the token in the environment, not in argv.
    let out = lab.path().join("exec-token");
    lab.run_with(
        &[
            "exec",
            "-p",
            "p",
            "--",
            "sh",
            "-c",
            "printf %s \"$ACCESS_TOKEN\" > \"$OUT\"; exit 3",
        ],
        &[("OUT", out.to_str().unwrap())],
    )
    .expect(3);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        first,
        "{name}: exec passes the token"
    );
    lab.run_with(
        &[
            "exec",
            "-p",
            "p",
            "--env-var",
            "API_TOKEN",
            "--",
            "sh",
            "-c",
            "printf %s \"$API_TOKEN\" > \"$OUT\"",
        ],
        &[("OUT", out.to_str().unwrap())],
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), first);

    // --dry-run shows the renewal and sends nothing.
    let before = stats(front).token_requests;
    let shown = lab
        .run(&["token", "-p", "p", "--force-refresh", "--dry-run"])
        .ok()
        .stdout;
    assert!(shown.starts_with("would send"), "{name}:\n{shown}");
    assert!(shown.contains("POST http://127.0.0.1:"), "{name}:\n{shown}");
    assert!(shown.contains("[redacted]"), "{name}:\n{shown}");
    assert_eq!(
        stats(front).token_requests,
        before,
        "{name}: a dry run sends nothing"
    );

    // refresh: a new generation, by refresh token where the provider has them.
    let renewed = lab.run(&["refresh", "-p", "p"]).ok().stdout;
    assert!(
        renewed.starts_with("renewed: generation 2"),
        "{name}: {renewed}"
    );
    let second = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert_ne!(second, first, "{name}");
    let stats_now = stats(front);
    assert_eq!(
        stats_now.refreshes,
        u32::from(provider.refreshes),
        "{name}: {stats_now:?}"
    );
    assert_eq!(stats_now.refresh_token_reuses, 0, "{name}");
    // --min-ttl beyond any token's life, or beyond what this provider's tokens last (the
    // stored one shows it): refused before anything is sent, with a clear message.
    let before = stats(front).token_requests;
    let short = lab
        .run(&["token", "-p", "p", "--min-ttl", "300d"])
        .expect(2);
    assert!(
        short
            .stderr
            .contains("--min-ttl 7200h is more than any token lasts"),
        "{name}: {}",
        short.stderr
    );
    let short = lab.run(&["token", "-p", "p", "--min-ttl", "8d"]).expect(2);
    assert!(
        short
            .stderr
            .contains("--min-ttl 192h is more than the provider's tokens last"),
        "{name}: {}",
        short.stderr
    );
    assert_eq!(
        stats(front).token_requests,
        before,
        "{name}: nothing sent for a usage error"
    );
    assert_eq!(
        lab.run(&["token", "-p", "p", "--min-ttl", "1m"])
            .ok()
            .line(),
        second,
        "{name}: enough left for --min-ttl 1m"
    );

    // revoke: revoked at the provider where it can be; the session stays, revoked.
    let third = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert!(lab
        .run(&["revoke", "-p", "p"])
        .ok()
        .stdout
        .contains("revoked"));
    if provider.revokes {
        assert!(!valid(front, &third), "{name}: revoked at the provider");
    }
    let refused = lab.run(&["token", "-p", "p"]).expect(8);
    assert!(
        refused.stderr.contains("run: tokenctl login -p p"),
        "{name}: {}",
        refused.stderr
    );
    // login after a revocation starts a new session.
    let logged_in = lab.run(&["login", "-p", "p"]).ok().stdout;
    assert!(logged_in.starts_with("logged in"), "{name}: {logged_in}");
    let fresh = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
    assert!(valid(front, &fresh));
    // logout: revoked and deleted.
    lab.run(&["logout", "-p", "p"]).ok();
    assert!(lab.session_files().is_empty(), "{name}: deleted");
    if provider.revokes {
        assert!(!valid(front, &fresh), "{name}: revoked at logout");
    }

    // A wrong secret: rejected, exit 5, with a fix, and the stored session untouched.
    let variable = provider.secret.as_str();
    let rejected = lab
        .run_with(&["token", "-p", "p"], &[(variable, "wrong-secret-value")])
        .expect(5);
    assert!(
        rejected.stderr.contains("error: "),
        "{name}: {}",
        rejected.stderr
    );
    assert_eq!(
        rejected.stderr.lines().count(),
        2,
        "{name}: one message, one fix:\n{}",
        rejected.stderr
    );
    assert!(!rejected.stderr.contains("wrong-secret-value"));
}

/// A provider that is down: a clear failure at once, exit 7, and nothing stored lost.
#[test]
fn a_provider_that_is_down_fails_at_once_with_exit_7() {
    for provider in providers() {
        let lab = lab(&provider);
        let down = format!("http://127.0.0.1:{}", closed_port());
        lab.profile("down", &provider.profile(&down));
        let started = std::time::Instant::now();
        let failed = lab.run(&["token", "-p", "down"]).expect(7);
        assert!(
            failed.stderr.contains("error: "),
            "{}: {}",
            provider.name,
            failed.stderr
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{}: fails fast",
            provider.name
        );
        let inspected = lab.run(&["inspect", "-p", "down"]).ok().stdout;
        assert!(
            inspected.contains("last failure 20"),
            "{}: {inspected}",
            provider.name
        );
    }
}

/// What a failing renewal does to the command and to the stored token, per kind of
/// failure, for every provider: the exit code, and the still-valid token kept.
#[test]
fn failing_renewals_exit_with_their_code_and_keep_the_valid_token() {
    use oauth_lifecycle_emulator::InjectedFailure;
    // (name, the failure, how many times in a row, exit code, the fix's words): a quick
    // retry (the first backoffs, under two seconds) is waited for; a longer wait fails.
    let rows: &[(&str, InjectedFailure, usize, i32, &str)] = &[
        (
            "429 with Retry-After",
            InjectedFailure::Status {
                status: 429,
                retry_after: Some("120".into()),
            },
            1,
            6,
            "try again after",
        ),
        (
            "503, three times",
            InjectedFailure::Status {
                status: 503,
                retry_after: None,
            },
            3,
            7,
            "check the network",
        ),
        (
            "garbage, three times",
            InjectedFailure::Garbage,
            3,
            7,
            "check the network",
        ),
        (
            "one 503, retried at once",
            InjectedFailure::Status {
                status: 503,
                retry_after: None,
            },
            1,
            0,
            "",
        ),
    ];
    // A fresh emulator for each row: the rows' logins would trip Convirza's rate limits.
    for (name, failure, times, code, fix) in rows {
        for provider in providers() {
            let lab = lab(&provider);
            let first = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
            for _ in 0..*times {
                provider
                    .front
                    .with_emulator(|emulator| emulator.fail_next(failure.clone()));
            }
            let failed = lab.run(&["token", "-p", "p", "--force-refresh"]);
            assert_eq!(
                failed.code, *code,
                "{} / {name}: {}",
                provider.name, failed.stderr
            );
            if *code == 0 {
                assert_ne!(failed.line(), first, "{} / {name}: renewed", provider.name);
                continue;
            }
            assert!(
                failed.stderr.lines().nth(1).unwrap_or("").contains(fix),
                "{} / {name}: {}",
                provider.name,
                failed.stderr
            );
            // The stored token is still handed out.
            assert_eq!(
                lab.run(&["token", "-p", "p"]).ok().line(),
                first,
                "{} / {name}",
                provider.name
            );
            let inspected = lab.run(&["inspect", "-p", "p"]).ok().stdout;
            assert!(
                inspected.contains("last failure 20"),
                "{} / {name}:\n{inspected}",
                provider.name
            );
        }
    }
}

/// Rejected credentials stop the session's renewals, not its valid token: with the same
/// credentials it is handed out with a warning that the rejection is an earlier
/// attempt's; changed credentials are tried at once, and so is an explicit `login`.
#[test]
fn a_rejected_renewal_keeps_the_token_until_the_credentials_change() {
    for provider in providers() {
        let name = provider.name;
        let lab = lab(&provider);
        let first = lab.run(&["token", "-p", "p"]).ok().line().to_owned();
        let variable = provider.secret.as_str();
        let wrong = [(variable, "wrong-secret-value")];
        // Renewal by refresh token needs no password: reject the refresh itself.
        provider.front.with_emulator(|emulator| {
            emulator.fail_next(oauth_lifecycle_emulator::InjectedFailure::OAuthError {
                status: 401,
                code: "invalid_client".into(),
            })
        });
        lab.run_with(&["token", "-p", "p", "--force-refresh"], &wrong)
            .expect(5);
        // The same credentials: nothing sent; the valid token, with a warning.
        let before = stats(&provider.front).token_requests;
        let served = lab.run_with(&["token", "-p", "p"], &wrong).ok();
        assert_eq!(served.line(), first, "{name}: the valid token is kept");
        assert!(
            served
                .stderr
                .starts_with("warning: the provider rejected the credentials of profile `p` at 20")
                && served.stderr.contains("in an earlier attempt"),
            "{name}: {}",
            served.stderr
        );
        assert!(served.stderr.contains("run: tokenctl login -p p"), "{name}");
        let forced = lab
            .run_with(&["token", "-p", "p", "--force-refresh"], &wrong)
            .expect(5);
        assert!(
            forced.stderr.contains("in an earlier attempt"),
            "{name}: {}",
            forced.stderr
        );
        assert_eq!(stats(&provider.front).token_requests, before, "{name}");
        // The credentials fixed: tried at once, a new token.
        let renewed = lab.run(&["token", "-p", "p"]).ok();
        assert_ne!(renewed.line(), first, "{name}");
        assert!(renewed.stderr.is_empty(), "{name}: {}", renewed.stderr);
        // An explicit login always tries at once.
        let logged_in = lab.run(&["login", "-p", "p"]).ok().stdout;
        assert!(logged_in.contains("logged in"), "{name}: {logged_in}");
    }
}
