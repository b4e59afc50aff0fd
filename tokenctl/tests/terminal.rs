//! tokenctl on a terminal: the hidden password prompt and `watch`'s live status line,
//! through a real pseudo-terminal (util-linux `script`), and `--verbose`.

mod support;

use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, HttpFront, StandardServer,
    StandardServerConfig,
};
use support::terminal::on_terminal;
use support::Lab;

#[test]
fn login_asks_for_the_password_without_echo_on_a_terminal() {
    let front = HttpFront::start(
        ConvirzaV3Server::new(ConvirzaV3ServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let lab = Lab::new();
    lab.profile(
        "v3",
        &format!(
            "provider = \"convirza-v3\"\nbase_url = \"{}\"\nusername = \"user@example.com\"\npassword_env = \"V3_PASSWORD\"\nplaintext_storage = true",
            front.base_url()
        ),
    );
    let typed = on_terminal(
        &lab,
        "login -p v3",
        Some("password for profile `v3`: "),
        "SecurePassword123!\n",
    );
    lab.check(&typed, false);
    assert_eq!(typed.code, 0, "{typed:?}");
    assert!(
        typed.stdout.contains("password for profile `v3`: "),
        "{}",
        typed.stdout
    );
    assert!(
        !typed.stdout.contains("SecurePassword123!"),
        "echoed:\n{}",
        typed.stdout
    );
    assert!(
        typed
            .stdout
            .contains("logged in (convirza-v3): generation 1"),
        "{}",
        typed.stdout
    );
    // The session is stored: later runs, without a terminal or the password, use it.
    lab.run(&["token", "-p", "v3"]).ok();
}

#[test]
fn watch_keeps_a_live_status_line_on_a_terminal() {
    let mut config = StandardServerConfig::default();
    config.access_token_lifetime = oauth_lifecycle::time::Duration::seconds(6);
    let front = HttpFront::start(StandardServer::new(config), Clock::System).unwrap();
    let lab = Lab::new();
    lab.standard_profile("w", &front.url("/token"));
    let watched = on_terminal(&lab, "watch -p w --renewals 1 --for 30s", None, "");
    lab.check(&watched, false);
    assert_eq!(watched.code, 0, "{watched:?}");
    let screen = &watched.stdout;
    assert!(
        screen.contains("\r\x1b[2Kgeneration 1 · ready · renewal in "),
        "{screen:?}"
    );
    assert!(screen.contains("token issued"), "{screen:?}");
    assert!(
        screen.contains("watch ended after 1 renewal(s)"),
        "{screen:?}"
    );
}

#[test]
fn verbose_shows_requests_and_answers_without_secrets() {
    let front = HttpFront::start(
        StandardServer::new(StandardServerConfig::default()),
        Clock::System,
    )
    .unwrap();
    let lab = Lab::new();
    lab.standard_profile("v", &front.url("/token"));
    let run = lab.run(&["token", "-p", "v", "--verbose"]).ok();
    assert!(
        run.stderr.contains("sending token request"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("uri={}", front.url("/token"))),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("token endpoint answered") && run.stderr.contains("status=200"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("token issued"), "{}", run.stderr);
    // The lab checked that neither the secret nor the token is on stderr.
    let quiet = lab
        .run_with(&["token", "-p", "v", "--force-refresh"], &[])
        .ok();
    assert!(quiet.stderr.is_empty(), "{}", quiet.stderr);
}
