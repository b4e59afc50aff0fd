//! tokenctl on a terminal: the hidden password prompt and `watch`'s live status line,
//! through a real pseudo-terminal (util-linux `script`), and `--verbose`.

mod support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use oauth_lifecycle_emulator::{
    Clock, ConvirzaV3Server, ConvirzaV3ServerConfig, HttpFront, StandardServer,
    StandardServerConfig,
};
use oauth_lifecycle_testkit::{eventually, PATIENCE};
use support::Lab;

/// `tokenctl ARGS` on a pseudo-terminal; once the screen shows `prompt` (if any), the
/// keyboard types `input`.
fn on_terminal(lab: &Lab, args: &str, prompt: Option<&str>, input: &str) -> support::Outcome {
    let command_line = format!("{} {args}", env!("CARGO_BIN_EXE_tokenctl"));
    let template = lab.command(&[], &[]);
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec", &command_line, "/dev/null"])
        .env_clear()
        .envs(template.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("script(1) runs");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (chunks, screen) = std::sync::mpsc::channel::<Vec<u8>>();
    let reader = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buffer) {
            let _ = chunks.send(buffer[..n].to_vec());
        }
    });
    let mut shown = Vec::new();
    if let Some(prompt) = prompt {
        let deadline = std::time::Instant::now() + PATIENCE;
        while !String::from_utf8_lossy(&shown).contains(prompt) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match screen.recv_timeout(left) {
                Ok(chunk) => shown.extend(chunk),
                Err(_) => panic!(
                    "no prompt {prompt:?}: {:?}",
                    String::from_utf8_lossy(&shown)
                ),
            }
        }
    }
    if prompt.is_some() {
        // The prompt is printed just before echo is turned off: a person types after
        // reading it, when echo is off; so does this keyboard.
        let script = child.id();
        eventually("the terminal to stop echoing", || {
            terminal_of(script).is_some_and(|terminal| echoes(&terminal) == Some(false))
        });
    }
    stdin.write_all(input.as_bytes()).unwrap();
    // The keyboard stays open while the command runs (script ends when it closes).
    let status = eventually("the command to end", || child.try_wait().unwrap());
    drop(stdin);
    reader.join().unwrap();
    shown.extend(screen.try_iter().flatten());
    support::Outcome {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&shown).into_owned(),
        stderr: String::new(),
    }
}

/// The pseudo-terminal `script` (process `script`) runs the command on: what its
/// children read from.
fn terminal_of(script: u32) -> Option<PathBuf> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (comm) state ppid …`: the command name may hold spaces and parentheses.
            let parent: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let terminal = std::fs::read_link(entry.path().join("fd/0")).ok()?;
            (parent == script && terminal.starts_with("/dev/pts")).then_some(terminal)
        })
}

/// Whether `terminal` echoes what is typed, as `stty` reads its settings.
fn echoes(terminal: &Path) -> Option<bool> {
    let output = std::process::Command::new("stty")
        .arg("-F")
        .arg(terminal)
        .arg("-a")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let settings = String::from_utf8_lossy(&output.stdout);
    settings.split_whitespace().find_map(|flag| match flag {
        "echo" => Some(true),
        "-echo" => Some(false),
        _ => None,
    })
}

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
