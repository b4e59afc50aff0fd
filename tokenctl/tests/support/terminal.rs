//! A real pseudo-terminal (util-linux `script`) for the commands that behave differently
//! on one: hidden prompts, live status lines, `init`'s questions.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use oauth_lifecycle_testkit::{eventually, PATIENCE};

use super::Lab;

/// `tokenctl ARGS` on a pseudo-terminal; once the screen shows `prompt` (if any), the
/// keyboard types `input`.
pub fn on_terminal(lab: &Lab, args: &str, prompt: Option<&str>, input: &str) -> super::Outcome {
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
    super::Outcome {
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
