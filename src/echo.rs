//! Secrets a server may echo back: every form a secret can travel in, computed once, and
//! one pass over a server's text that finds or redacts all of them.
//!
//! A server may quote what it was sent: a client secret in an `error_description`, a
//! refresh token in a granted `scope`. [`Secrets`] holds the secrets of one owner (a
//! dialect's credentials, one token set) with their encoded forms, built when the owner is
//! configured or the token arrives, so checking a response costs one pass over its text
//! and no allocation.
//!
//! The search is written here rather than taken from a multi-pattern crate such as
//! `aho-corasick`, because its tables would hold the forms where nothing can wipe them:
//! every copy kept here is overwritten with zeros when dropped. The bench group
//! `secret_search` compares the two on the texts a session checks.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// What replaces a secret found in a server's text.
pub(crate) const REDACTED: &str = "[redacted]";

/// A set of secrets with every form a server may echo them in: raw, percent-encoded
/// (form or URI style, either hex case) and base64-encoded (standard or URL-safe, with or
/// without padding).
///
/// Built once, when the secrets are configured: checking a text is then a single pass
/// with no allocation. Every copy, the forms included, is wiped when the set is dropped;
/// `Debug` shows only how many secrets it holds.
///
/// ```
/// use oauth_lifecycle::dialect::Secrets;
///
/// let secrets = Secrets::new(["s3cret/+"]);
/// assert!(secrets.is_echoed_in("invalid client secret s3cret%2F%2B"));
/// assert_eq!(secrets.redact("got czNjcmV0Lys="), "got [redacted]");
/// assert!(!secrets.is_echoed_in("invalid client"));
/// ```
#[derive(Clone)]
pub struct Secrets {
    /// The secrets as given.
    raw: Vec<Zeroizing<String>>,
    /// Every form of every secret, ordered by first byte, longest first within one: the
    /// first form that matches at a position is the longest there.
    forms: Vec<Zeroizing<String>>,
    /// Which pairs of bytes some form starts with, hashed to one of 4,096 bits: a
    /// position where a first byte occurs is passed over on one lookup unless the byte
    /// after it fits too.
    pairs: [u64; 64],
    /// The bytes that are a whole form (of a one-character secret), one bit each.
    singles: [u64; 4],
    /// The same bytes as a list, for `memchr`'s vectorised scans: a text is searched
    /// three first bytes at a time, and only where one occurs are forms compared.
    firsts: Vec<u8>,
    /// The length of the shortest form: a shorter text holds none.
    shortest: usize,
}

/// The empty set, for owners that hold no secret.
static NONE: Secrets = Secrets::EMPTY;

impl Secrets {
    const EMPTY: Secrets = Secrets {
        raw: Vec::new(),
        forms: Vec::new(),
        pairs: [0; 64],
        singles: [0; 4],
        firsts: Vec::new(),
        shortest: usize::MAX,
    };

    /// The set of `secrets` (empty ones are skipped), with their forms computed now.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut set = Secrets::EMPTY;
        for secret in secrets {
            set.insert(secret);
        }
        set
    }

    /// Adds `secret` and its forms. An empty secret is skipped: it would match anything.
    pub fn insert(&mut self, secret: &str) {
        if secret.is_empty() || self.raw.iter().any(|held| held.as_str() == secret) {
            return;
        }
        self.raw.push(Zeroizing::new(secret.to_owned()));
        for form in encoded_forms(secret) {
            if self.forms.iter().any(|held| **held == *form) {
                continue;
            }
            let first = form.as_bytes()[0];
            match form.as_bytes().get(1) {
                Some(&second) => set_bit(&mut self.pairs, pair(first, second)),
                None => set_bit(&mut self.singles, usize::from(first)),
            }
            if !self.firsts.contains(&first) {
                self.firsts.push(first);
            }
            self.shortest = self.shortest.min(form.len());
            self.forms.push(form);
        }
        self.forms.sort_unstable_by(|a, b| {
            (a.as_bytes()[0], std::cmp::Reverse(a.len()))
                .cmp(&(b.as_bytes()[0], std::cmp::Reverse(b.len())))
        });
    }

    /// Whether the set holds no secret.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The secrets as given, for a caller that checks its own output for them.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.raw.iter().map(|secret| secret.as_str())
    }

    /// Whether `text` holds any of the secrets in any of its forms.
    pub fn is_echoed_in(&self, text: &str) -> bool {
        if text.len() < self.shortest {
            return false;
        }
        let bytes = text.as_bytes();
        let found = |at: usize| self.longest_at(text, at) > 0;
        self.firsts.chunks(3).any(|firsts| match *firsts {
            [a, b, c] => memchr::memchr3_iter(a, b, c, bytes).any(found),
            [a, b] => memchr::memchr2_iter(a, b, bytes).any(found),
            [a] => memchr::memchr_iter(a, bytes).any(found),
            _ => false,
        })
    }

    /// `text` with every occurrence of every form replaced by `[redacted]`; occurrences
    /// that overlap or touch are replaced by one marker.
    pub fn redact(&self, text: &str) -> String {
        redact(text, &[self], usize::MAX).unwrap_or_else(|| text.to_owned())
    }

    /// The length of the longest form that occurs in `text` at byte `at`, or 0.
    fn longest_at(&self, text: &str, at: usize) -> usize {
        let Some(&first) = text.as_bytes().get(at) else {
            return 0;
        };
        let second = text.as_bytes().get(at + 1);
        let candidate = bit(&self.singles, usize::from(first))
            || second.is_some_and(|&second| bit(&self.pairs, pair(first, second)));
        if !candidate {
            return 0;
        }
        let from = self
            .forms
            .partition_point(|form| form.as_bytes()[0] < first);
        let rest = &text.as_bytes()[at..];
        self.forms[from..]
            .iter()
            .take_while(|form| form.as_bytes()[0] == first)
            .find(|form| rest.starts_with(form.as_bytes()))
            .map_or(0, |form| form.len())
    }
}

impl Secrets {
    /// The empty set: nothing is ever found in any text.
    pub fn none() -> &'static Secrets {
        &NONE
    }
}

impl Default for Secrets {
    fn default() -> Self {
        Secrets::EMPTY
    }
}

/// The first bytes are wiped too; the strings wipe themselves.
impl Drop for Secrets {
    fn drop(&mut self) {
        self.pairs.zeroize();
        self.singles.zeroize();
        self.firsts.zeroize();
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} redacted)", self.raw.len())
    }
}

/// The bit of the pair `first`, `second` in [`Secrets::pairs`].
fn pair(first: u8, second: u8) -> usize {
    ((usize::from(first) << 4) ^ usize::from(second)) & 4095
}

fn set_bit(bits: &mut [u64], at: usize) {
    bits[at / 64] |= 1 << (at % 64);
}

fn bit(bits: &[u64], at: usize) -> bool {
    bits[at / 64] & (1 << (at % 64)) != 0
}

/// `text` with every occurrence of a form of any of `sets` replaced by `[redacted]`, or
/// `None` when it holds none and is returned whole. Overlapping and touching occurrences become one marker, so
/// no byte of any occurrence is left.
///
/// The pass stops, and the result ends, once more than `limit` bytes are written outside
/// a marker: a caller that keeps only the first `limit` bytes pays for no more of a long
/// text, and every byte returned has been checked.
pub(crate) fn redact(text: &str, sets: &[&Secrets], limit: usize) -> Option<String> {
    // Most texts hold no secret: a vectorised look first, the position-by-position
    // pass only when it finds one.
    if !sets.iter().any(|set| set.is_echoed_in(text)) {
        return None;
    }
    let mut out: Option<String> = None;
    // Bytes before `next` are in `out`, copied or under a marker.
    let mut next = 0;
    // Where the last marker's occurrences end.
    let mut marker_end: Option<usize> = None;
    for at in 0..text.len() {
        let longest = sets
            .iter()
            .map(|set| set.longest_at(text, at))
            .max()
            .unwrap_or(0);
        if longest > 0 {
            let out = out.get_or_insert_with(|| String::with_capacity(text.len().min(limit)));
            let end = match marker_end {
                Some(end) if at <= end => end.max(at + longest),
                _ => {
                    out.push_str(&text[next..at]);
                    out.push_str(REDACTED);
                    at + longest
                }
            };
            marker_end = Some(end);
            next = end;
        } else if at >= next && text.is_char_boundary(at) {
            let written = out.as_ref().map_or(0, String::len) + (at - next);
            if written > limit {
                let mut out = out.unwrap_or_default();
                out.push_str(&text[next..at]);
                return Some(out);
            }
        }
    }
    let mut out = out?;
    out.push_str(&text[next..]);
    Some(out)
}

/// The forms a server may echo `secret` in: raw, form and URI percent-encoding (each in
/// both hex cases), and the four base64 alphabets. Each buffer is sized before it is
/// written, so no partial copy is left behind in a freed allocation.
fn encoded_forms(secret: &str) -> Vec<Zeroizing<String>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine as _;

    let mut form = Zeroizing::new(String::with_capacity(secret.len() * 3));
    for piece in form_urlencoded::byte_serialize(secret.as_bytes()) {
        form.push_str(piece);
    }
    let mut uri = Zeroizing::new(String::with_capacity(form.len() * 3));
    for c in form.chars() {
        if c == '+' {
            uri.push_str("%20");
        } else {
            uri.push(c);
        }
    }
    let mut forms = vec![Zeroizing::new(secret.to_owned())];
    for encoded in [form, uri] {
        let lower = lowercase_hex(&encoded);
        forms.push(encoded);
        forms.push(lower);
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        let mut encoded = Zeroizing::new(String::with_capacity(secret.len().div_ceil(3) * 4));
        engine.encode_string(secret, &mut encoded);
        forms.push(encoded);
    }
    forms
}

/// `encoded` with the hex digits of its percent-escapes in lower case.
fn lowercase_hex(encoded: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(encoded.len()));
    let mut escape = 0;
    for c in encoded.chars() {
        if escape > 0 {
            out.push(c.to_ascii_lowercase());
            escape -= 1;
        } else {
            if c == '%' {
                escape = 2;
            }
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_found_and_redacted() {
        let secrets = Secrets::new(["a b/c+é"]);
        for form in [
            "a b/c+é",
            "a+b%2Fc%2B%C3%A9",
            "a+b%2fc%2b%c3%a9",
            "a%20b%2Fc%2B%C3%A9",
            "a%20b%2fc%2b%c3%a9",
            "YSBiL2Mrw6k=",
            "YSBiL2Mrw6k",
            "YSBiL2Mrw6k=",
            "YSBiL2Mrw6k",
        ] {
            let text = format!("x {form} y");
            assert!(secrets.is_echoed_in(&text), "{form}");
            assert_eq!(secrets.redact(&text), "x [redacted] y", "{form}");
        }
    }

    #[test]
    fn overlapping_and_touching_occurrences_leave_no_byte() {
        let secrets = Secrets::new(["abc", "cde"]);
        assert_eq!(secrets.redact("xabcdex"), "x[redacted]x");
        assert_eq!(secrets.redact("abcabc"), "[redacted]");
        assert_eq!(secrets.redact("abc-abc"), "[redacted]-[redacted]");
    }

    #[test]
    fn the_limit_bounds_the_pass_but_never_cuts_a_marker() {
        let secrets = Secrets::new(["secret"]);
        let text = format!("{}secret{}", "a".repeat(10), "é".repeat(1000));
        for limit in 0..40 {
            let out = redact(&text, &[&secrets], limit).unwrap();
            assert!(
                !out.contains("secr") && out.len() <= limit + 12,
                "{limit}: {out}"
            );
        }
        let out = redact(&text, &[&secrets], 12).unwrap();
        assert!(out.starts_with("aaaaaaaaaa[redacted]"), "{out}");
        assert!(out.len() < 100, "{}", out.len());
    }

    #[test]
    fn nothing_is_found_in_nothing() {
        assert!(!Secrets::none().is_echoed_in("anything"));
        assert!(!Secrets::new([""]).is_echoed_in("anything"));
        assert_eq!(redact("text", &[], 10), None);
        assert!(!format!("{:?}", Secrets::new(["hidden"])).contains("hidden"));
    }
}
