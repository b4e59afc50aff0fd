//! Tracing output captured for the whole test process, for tests that read what the
//! manager logged (the task traces on the runtime's threads, not the test's).

#![allow(dead_code)]

use std::sync::OnceLock;

pub use oauth_lifecycle_testkit::TraceBuffer as Capture;

/// Installs a TRACE-level subscriber for the whole process (once) and returns its buffer.
pub fn install() -> Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(capture.clone())
                .init();
            capture
        })
        .clone()
}
