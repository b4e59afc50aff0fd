//! Opening a URL in the person's browser, the platform's way, without waiting for it.

use std::process::{Command, Stdio};

/// Opens `url` in the person's browser, without waiting for it: whether a browser could
/// be started. On Linux and the BSDs only with a display to show it on.
pub(crate) fn open(url: &str) -> bool {
    let mut command = if cfg!(target_os = "macos") {
        let mut command = Command::new("open");
        command.arg(url);
        command
    } else if cfg!(windows) {
        // Not `cmd /C start`: cmd would read the `&` of the query as its own.
        let mut command = Command::new("rundll32");
        command.args(["url.dll,FileProtocolHandler", url]);
        command
    } else {
        let display = ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
        if !display {
            return false;
        }
        let mut command = Command::new("xdg-open");
        command.arg(url);
        command
    };
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reaped on a thread of its own: the login never waits for it.
            let _ = std::thread::Builder::new()
                .name("browser".into())
                .spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}
