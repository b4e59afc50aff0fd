//! What tokenctl shows of the manager's tracing: with `--verbose`, every request and
//! answer on stderr; in `watch`, each event of the session on stdout, one line each,
//! under a status line kept live on a terminal. The managers' traces carry token
//! fingerprints, never a secret.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer};

/// The bottom line of a terminal, redrawn in place; events print above it. Shared by
/// the event printer and the watch loop, so their writes never interleave.
#[derive(Clone, Default)]
pub(crate) struct StatusLine {
    shown: Arc<Mutex<Option<String>>>,
}

impl StatusLine {
    /// Shows `line` as the status (on a terminal only).
    pub(crate) fn show(&self, line: &str) {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stdout = std::io::stdout().lock();
        let _ = write!(stdout, "\r\x1b[2K{line}");
        let _ = stdout.flush();
        *shown = Some(line.to_owned());
    }

    /// Removes the status line.
    pub(crate) fn clear(&self) {
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        if shown.take().is_some() {
            let mut stdout = std::io::stdout().lock();
            let _ = write!(stdout, "\r\x1b[2K");
            let _ = stdout.flush();
        }
    }

    /// Prints `text` as a line above the status line, and redraws the status.
    fn print_above(&self, text: &str) {
        let shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        let mut stdout = std::io::stdout().lock();
        if shown.is_some() {
            let _ = write!(stdout, "\r\x1b[2K");
        }
        let _ = writeln!(stdout, "{text}");
        if let Some(line) = shown.as_deref() {
            let _ = write!(stdout, "{line}");
        }
        let _ = stdout.flush();
    }
}

/// Prints the session's events (INFO and above from the crates of this workspace) as
/// plain lines: `08:00:01 token issued generation=2 token=1a2b3c4d …`, in local time.
struct EventLines {
    out: StatusLine,
}

impl<S: Subscriber> Layer<S> for EventLines {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let metadata = event.metadata();
        if *metadata.level() > Level::INFO || !metadata.target().starts_with("oauth_lifecycle") {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        // For a person: the local time of day, and every moment in local time.
        let clock = crate::time_format::local_clock(crate::context::now());
        let text = crate::time_format::localize(&format!("{}{}", line.message, line.fields));
        self.out.print_above(&format!("{clock} {text}"));
    }
}

#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}

/// Standard error, with every moment in what is written (the traces' own timestamps, and
/// the moments in their fields) in local time: `--verbose` is read by a person. The fmt
/// layer writes each event whole, so no moment is split between writes.
struct LocalStderr;

impl std::io::Write for LocalStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = crate::time_format::localize(&String::from_utf8_lossy(buf));
        std::io::stderr().lock().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().lock().flush()
    }
}

/// Installs what the command shows: `verbose` sends the managers' debug traces to
/// stderr; `events` prints the session's events to stdout through `status_line`.
pub(crate) fn install(verbose: bool, events: Option<StatusLine>) {
    let stderr = verbose.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(|| LocalStderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .with_filter(EnvFilter::new(
                "oauth_lifecycle=debug,oauth_lifecycle_adapter=debug,oauth_lifecycle_blocking=debug,tokenctl=debug",
            ))
    });
    let events = events.map(|out| EventLines { out });
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(events)
        .try_init();
}
