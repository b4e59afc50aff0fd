//! Tracing output captured as text, for tests that read what the managers logged.

use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing_subscriber::fmt::MakeWriter;

/// A buffer a `tracing_subscriber::fmt` subscriber writes into: give it to
/// `.with_writer(buffer.clone())`, then read what was traced.
#[derive(Clone, Default)]
pub struct TraceBuffer(Arc<Mutex<Vec<u8>>>);

impl TraceBuffer {
    /// The buffer of this test binary's one subscriber, at TRACE (`ureq_proto`'s raw bytes
    /// at DEBUG only), installed on the first call: a manager traces from its own thread,
    /// so the subscriber is global, and every test of the binary shares the buffer.
    pub fn global() -> TraceBuffer {
        static BUFFER: OnceLock<TraceBuffer> = OnceLock::new();
        BUFFER
            .get_or_init(|| {
                use tracing_subscriber::filter::{LevelFilter, Targets};
                use tracing_subscriber::layer::SubscriberExt as _;
                use tracing_subscriber::util::SubscriberInitExt as _;
                let buffer = TraceBuffer::default();
                tracing_subscriber::registry()
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_ansi(false)
                            .with_writer(buffer.clone()),
                    )
                    .with(
                        Targets::new()
                            .with_default(LevelFilter::TRACE)
                            .with_target("ureq_proto", LevelFilter::DEBUG),
                    )
                    .try_init()
                    .expect("the only subscriber of this test binary");
                buffer
            })
            .clone()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }

    /// The lines that mention `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }
}

/// Panics if `output` holds a fragment of any of `assertions` (their claims or
/// signature: the header is common to many) or a 16-character piece of the key in `pem`.
/// `assertions` are the compact JWTs the requests carried, as the testkit's
/// [`Recorder`](crate::recorder::Recorder) keeps them (the strings starting `eyJ`).
#[track_caller]
pub fn assert_no_assertion_or_key(output: &str, assertions: &[String], pem: &str) {
    let assertions: Vec<&String> = assertions.iter().filter(|s| s.starts_with("eyJ")).collect();
    assert!(!assertions.is_empty(), "no assertion was recorded");
    for assertion in assertions {
        for part in assertion.split('.').skip(1) {
            assert!(
                !output.contains(part),
                "a part of an assertion in the output"
            );
        }
    }
    let key: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    for piece in key.as_bytes().chunks(16) {
        let piece = std::str::from_utf8(piece).expect("PEM is ASCII");
        assert!(!output.contains(piece), "a piece of the key in the output");
    }
}

impl io::Write for TraceBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for TraceBuffer {
    type Writer = TraceBuffer;

    fn make_writer(&'a self) -> TraceBuffer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_subscriber_traces_can_be_read_back() {
        let buffer = TraceBuffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(buffer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(generation = 7, "token issued");
            tracing::info!("something else");
        });
        let lines = buffer.lines_with("token issued");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("generation=7"), "{lines:?}");
        assert!(buffer.text().contains("something else"));
    }
}
