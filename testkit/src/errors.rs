//! Error messages that read as sentences, and error chains that say each thing once.
//!
//! [`assert_reads_as_sentence`] walks an error's [`source`](Error::source) chain and holds
//! every level to the Rust convention for error messages: a lowercase start (an acronym,
//! an identifier or a quoted value may start it instead), no trailing period, nothing
//! printed with `Debug`, times in RFC 3339. It also checks what anyhow's `{:#}` shows,
//! `a: b: c`: no level repeats the next one, as a type that prints its source and also
//! returns it from `source()` would (`a: b: b`).

use std::error::Error;

/// Words an error message may start with in capitals: acronyms and proper names.
const CAPITALISED_STARTS: &[&str] = &[
    "HTTP",
    "HTTPS",
    "OAuth",
    "URL",
    "URI",
    "TLS",
    "JSON",
    "RFC",
    "API",
    "ID",
    "IO",
    "TCP",
    "DNS",
    "Redis",
    "BearerAuth",
    "TokenManager",
    "StoreKey",
];

/// Fragments that only `Debug` formatting prints.
const DEBUG_FRAGMENTS: &[&str] = &["{ ", " }", "Some(", "Ok(", "Err("];

/// The messages of `error` and of each of its sources, outermost first.
pub fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = Vec::new();
    let mut level = Some(error);
    while let Some(error) = level {
        messages.push(error.to_string());
        level = error.source();
    }
    messages
}

/// `error` as anyhow's `{:#}` prints it: each level's message, joined with `": "`.
pub fn alternate(error: &(dyn Error + 'static)) -> String {
    chain(error).join(": ")
}

/// Asserts that `error` and every error in its source chain reads as a sentence, and
/// that the chain printed as anyhow's `{:#}` does ([`alternate`]) never repeats itself.
///
/// A level that is a [`std::io::Error`] is the operating system's text ("No such file
/// or directory"): it is only checked for being non-empty and not repeated.
#[track_caller]
pub fn assert_reads_as_sentence(error: &(dyn Error + 'static)) {
    let messages = chain(error);
    let shown = messages.join(": ");
    let mut level = Some(error);
    for message in &messages {
        let current = level.expect("one error per message");
        if let Err(problem) = check_sentence(message, current.is::<std::io::Error>()) {
            panic!("{problem}: {message:?}\n  in the chain {shown:?}\n  of {error:?}");
        }
        level = current.source();
    }
    for pair in messages.windows(2) {
        let (outer, inner) = (&pair[0], &pair[1]);
        assert!(
            !outer.contains(inner.as_str()),
            "{outer:?} repeats its source {inner:?}: {{:#}} shows {shown:?}\n  of {error:?}"
        );
    }
}

/// Whether `message` reads as a sentence; `foreign` relaxes the rules to what text
/// written by others (the operating system) can promise.
fn check_sentence(message: &str, foreign: bool) -> Result<(), &'static str> {
    if message.trim().is_empty() {
        return Err("an empty message");
    }
    if foreign {
        return Ok(());
    }
    if message.trim() != message {
        return Err("a message with whitespace around it");
    }
    if !starts_as_a_sentence(message) {
        return Err("a message that starts with a capital (not an acronym or a quoted value)");
    }
    if message.ends_with('.') {
        return Err("a message with a trailing period");
    }
    // A quoted value is someone else's text (a server's description, a refused input).
    let own = without_quoted(message);
    if DEBUG_FRAGMENTS
        .iter()
        .any(|fragment| own.contains(fragment))
        || has_word(&own, "None")
    {
        return Err("a message with Debug formatting in it");
    }
    if has_non_rfc3339_time(&own) {
        return Err("a time not written in RFC 3339 (as UtcDateTime's Display prints it)");
    }
    Ok(())
}

/// A lowercase first letter, a digit, a quote or a known acronym.
fn starts_as_a_sentence(message: &str) -> bool {
    let Some(first) = message.chars().next() else {
        return false;
    };
    if !first.is_uppercase() {
        return true;
    }
    let first_word: &str = message
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default();
    CAPITALISED_STARTS.contains(&first_word)
        // An identifier (an environment variable's name, a type): SESSION_KEY, StoreKey.
        || (first_word.len() > 1 && first_word.chars().all(|c| c.is_uppercase() || c.is_ascii_digit() || c == '_'))
}

/// `text` with each `"…"` it quotes replaced by `""`.
fn without_quoted(text: &str) -> String {
    text.split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join("\"\"")
}

/// Whether `word` occurs in `text` as a whole word.
fn has_word(text: &str, word: &str) -> bool {
    text.split(|c: char| !c.is_alphanumeric() && c != '_')
        .any(|part| part == word)
}

/// Whether `text` holds a time as `time`'s Display prints it: `9:49:19.257010562 +00`,
/// `2026-12-06 9:49:19 +00:00:00`: a time of day followed by a space and an offset.
fn has_non_rfc3339_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.windows(4).enumerate().any(|(at, window)| {
        let offset_follows = window[0] == b' '
            && (window[1] == b'+' || window[1] == b'-')
            && window[2].is_ascii_digit()
            && window[3].is_ascii_digit();
        // …and a time of day (a colon among the few bytes) before it.
        offset_follows
            && text[..at]
                .rsplit(' ')
                .next()
                .is_some_and(|t| t.contains(':'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Message(&'static str, Option<Box<Message>>);

    impl std::fmt::Display for Message {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Message {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn fails(error: Message) -> bool {
        std::panic::catch_unwind(|| assert_reads_as_sentence(&error)).is_err()
    }

    #[test]
    fn sentences_pass() {
        assert_reads_as_sentence(&Message(
            "no token within the timeout; the session is waiting until 2026-12-06T09:49:19.257Z",
            None,
        ));
        assert_reads_as_sentence(&Message(
            "could not start",
            Some(Box::new(Message("HTTP client failed", None))),
        ));
        assert_reads_as_sentence(&Message("SESSION_KEY is not base64", None));
        assert_reads_as_sentence(&Message("\"x\" is not an origin", None));
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("cannot open /x")
            }
        }
        impl Error for Wrapper {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                Some(&self.0)
            }
        }
        assert_reads_as_sentence(&Wrapper(io));
    }

    #[test]
    fn what_is_no_sentence_fails() {
        assert!(fails(Message("", None)));
        assert!(fails(Message("The store failed", None)));
        assert!(fails(Message("the store failed.", None)));
        assert!(fails(Message("the store failed ", None)));
        assert!(fails(Message(
            "the session is Waiting { retry_at: 1 }",
            None
        )));
        assert!(fails(Message("reason: Some(3)", None)));
        assert!(fails(Message("reason: None", None)));
        assert!(fails(Message("reason: Some(\"x\")", None)));
        assert_reads_as_sentence(&Message("the server said: \"Wait { a while }.\"", None));
        assert!(fails(Message(
            "retrying at 2026-12-06 9:49:19.257010562 +00",
            None
        )));
        assert!(fails(Message(
            "no token: down",
            Some(Box::new(Message("down", None)))
        )));
        assert!(fails(Message(
            "fine",
            Some(Box::new(Message("The cause.", None)))
        )));
    }
}
