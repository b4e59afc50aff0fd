//! Ten `tokenctl token` processes at once on one session whose renewal is due, against
//! Convirza V3 (single-use refresh tokens) over HTTP: one renews, the others find its
//! token, and no refresh token is spent twice.

mod support;

use std::time::{Duration, Instant};

use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, Emulator, HttpFront,
};
use oauth_lifecycle_testkit::eventually;
use support::{run_bounded, Lab};

const PROCESSES: usize = 10;

#[test]
fn ten_invocations_at_once_renew_once_and_share_the_result() {
    let mut config = ConvirzaV3ServerConfig::default();
    // Renewal falls due about 6 s after each login (80 % of 8 s, less jitter).
    config.access_token_lifetime = oauth_lifecycle::time::Duration::seconds(8);
    let front = HttpFront::start(ConvirzaV3Server::new(config), Clock::System).unwrap();
    let lab = Lab::new();
    lab.profile(
        "v3",
        &format!(
            "provider = \"convirza-v3\"\nbase_url = \"{}\"\nusername = \"user@example.com\"\npassword_env = \"V3_PASSWORD\"\nkey_env = \"TOKENCTL_KEY\"",
            front.base_url()
        ),
    );
    lab.secret("V3_PASSWORD", "SecurePassword123!");
    lab.secret(
        "TOKENCTL_KEY",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    );

    let first = lab.run(&["token", "-p", "v3"]).ok().line().to_owned();
    // The session is stored encrypted: the token is not in the file in clear.
    let file = &lab.session_files()[0];
    assert!(!String::from_utf8_lossy(&std::fs::read(file).unwrap()).contains(&first));

    // Wait (bounded) until the stored token's renewal is due: until the moment it said,
    // then until it says so.
    let renewal_in = || {
        let inspected: serde_json::Value =
            serde_json::from_str(lab.run(&["inspect", "-p", "v3", "--json"]).ok().line()).unwrap();
        inspected["session"]["token"]["renewal_in_seconds"]
            .as_i64()
            .unwrap()
    };
    let due = Instant::now() + Duration::from_secs(renewal_in().max(0).unsigned_abs());
    eventually("the renewal to fall due", || {
        Instant::now() >= due && renewal_in() < 0
    });

    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            std::thread::spawn({
                let command = lab.command(&["token", "-p", "v3"], &[]);
                move || run_bounded(command)
            })
        })
        .collect();
    let outcomes: Vec<_> = children
        .into_iter()
        .map(|child| child.join().unwrap())
        .collect();
    for outcome in &outcomes {
        lab.check(outcome, true);
        assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    }
    let tokens: std::collections::BTreeSet<&str> = outcomes.iter().map(|o| o.line()).collect();
    assert_eq!(
        tokens.len(),
        1,
        "all ten print the same token: {outcomes:#?}"
    );
    assert!(!tokens.contains(first.as_str()), "a renewed token");

    let stats = front.with_emulator(|emulator| emulator.stats().clone());
    assert_eq!(
        stats.refreshes, 1,
        "one renewal for ten processes: {stats:?}"
    );
    assert_eq!(stats.logins, 1, "{stats:?}");
    assert_eq!(stats.refresh_token_reuses, 0, "{stats:?}");
}
