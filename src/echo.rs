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
//! every copy kept here is overwritten with zeros when dropped. It scans with `memchr` for
//! the forms' first bytes (vectorised, and given only those bytes, never a form), passes
//! over a position whose next byte fits no form, and compares forms only where one may
//! start. The bench group `secret_search` compares it with `aho-corasick` on the texts a
//! session checks (`docs/performance.md`).

use std::fmt;

use zeroize::Zeroize;

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
    /// Every secret as given and every form of it, end to end: one allocation, sized
    /// before it is written (so no partial copy is left in a freed one) and wiped when
    /// the set is dropped.
    text: String,
    /// Where each secret as given lies in `text`.
    raw: Vec<Span>,
    /// Where each form lies in `text`, ordered by first byte, longest first within one:
    /// the first form that matches at a position is the longest there.
    forms: Vec<Span>,
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

/// Where a secret or a form lies in [`Secrets::text`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    len: usize,
}

/// The empty set, for owners that hold no secret.
static NONE: Secrets = Secrets::EMPTY;

impl Secrets {
    const EMPTY: Secrets = Secrets {
        text: String::new(),
        raw: Vec::new(),
        forms: Vec::new(),
        pairs: [0; 64],
        singles: [0; 4],
        firsts: Vec::new(),
        shortest: usize::MAX,
    };

    /// The set of `secrets` (empty ones are skipped), with their forms computed now.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let secrets: Vec<&str> = secrets.into_iter().collect();
        let mut set = Secrets::EMPTY;
        set.text = String::with_capacity(secrets.iter().map(|secret| forms_len(secret)).sum());
        for secret in secrets {
            set.insert(secret);
        }
        set
    }

    /// Adds `secret` and its forms. An empty secret is skipped: it would match anything.
    pub fn insert(&mut self, secret: &str) {
        if secret.is_empty() || self.iter().any(|held| held == secret) {
            return;
        }
        let need = forms_len(secret);
        if self.text.capacity() - self.text.len() < need {
            // A larger buffer, and the old one wiped: never a reallocation that leaves a
            // copy behind.
            let mut grown = String::with_capacity(self.text.len() + need);
            grown.push_str(&self.text);
            self.text.zeroize();
            self.text = grown;
        }
        let start = self.text.len();
        self.text.push_str(secret);
        self.raw.push(Span {
            start,
            len: secret.len(),
        });
        self.add_form(Span {
            start,
            len: secret.len(),
        });
        write_forms(secret, &mut self.text);
        debug_assert_eq!(
            self.text.len(),
            start + need,
            "the forms' lengths are exact"
        );
        // `write_forms` appended the eight encoded forms; each is one span.
        let mut at = start + secret.len();
        for len in encoded_lens(secret) {
            self.add_form(Span { start: at, len });
            at += len;
        }
        let text = self.text.as_bytes();
        self.forms
            .sort_unstable_by_key(|form| (text[form.start], std::cmp::Reverse(form.len)));
    }

    /// Records `span` as a form, unless an equal form is already recorded.
    fn add_form(&mut self, span: Span) {
        let form = self.bytes(span);
        if self.forms.iter().any(|held| self.bytes(*held) == form) {
            return;
        }
        let (first, second) = (form[0], form.get(1).copied());
        match second {
            Some(second) => set_bit(&mut self.pairs, pair(first, second)),
            None => set_bit(&mut self.singles, usize::from(first)),
        }
        if !self.firsts.contains(&first) {
            self.firsts.push(first);
        }
        self.shortest = self.shortest.min(span.len);
        self.forms.push(span);
    }

    /// The bytes of `span`.
    fn bytes(&self, span: Span) -> &[u8] {
        &self.text.as_bytes()[span.start..span.start + span.len]
    }

    /// Whether the set holds no secret.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The secrets as given, for a caller that checks its own output for them.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.raw
            .iter()
            .map(|span| &self.text[span.start..span.start + span.len])
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
            .partition_point(|form| self.bytes(*form)[0] < first);
        let rest = &text.as_bytes()[at..];
        self.forms[from..]
            .iter()
            .map(|form| self.bytes(*form))
            .take_while(|form| form[0] == first)
            .find(|form| rest.starts_with(form))
            .map_or(0, <[u8]>::len)
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

/// The secrets, their forms and their first bytes are wiped.
impl Drop for Secrets {
    fn drop(&mut self) {
        self.text.zeroize();
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

/// `text` with every compact JWT in it replaced by `[redacted]`, or `None` when it holds
/// none. A JWT is found by its shape, not known in advance: assertions are formed per
/// request and never held in a [`Secrets`] set. Its header is a base64url JSON object,
/// so it starts `eyJ`; then come base64url characters, a dot, more, a dot, and more (the
/// signature, possibly empty). One pass; no allocation when there is none.
pub(crate) fn redact_jwts(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    // The end of the JWT starting at `at`, if one does.
    let jwt_at = |at: usize| -> Option<usize> {
        let mut end = at;
        for part in 0..3 {
            let start = end;
            while end < bytes.len() && base64url(bytes[end]) {
                end += 1;
            }
            if part < 2 {
                // A text cut short inside one (a bounded description) hides its end.
                if end == bytes.len() && end - at >= 8 {
                    return Some(end);
                }
                if end == start || bytes.get(end) != Some(&b'.') {
                    return None;
                }
                end += 1;
            }
        }
        Some(end)
    };
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = memchr::memmem::find(&bytes[at..], b"eyJ") {
        let start = at + found;
        // Inside a longer base64url run it is not a header's start.
        let inside = start > 0 && base64url(bytes[start - 1]);
        match jwt_at(start).filter(|_| !inside) {
            Some(end) => {
                let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                out.push_str(&text[copied..start]);
                out.push_str(REDACTED);
                copied = end;
                at = end;
            }
            None => at = start + 3,
        }
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
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

/// The percent-encoded length of one byte: form style writes a space as `+`, URI style
/// as `%20`; the bytes `form_urlencoded` leaves alone stay as they are.
fn escaped_len(byte: u8, uri: bool) -> usize {
    match byte {
        b'*' | b'-' | b'.' | b'_' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' => 1,
        b' ' if !uri => 1,
        _ => 3,
    }
}

/// The lengths of the eight encoded forms [`write_forms`] appends, in its order.
fn encoded_lens(secret: &str) -> [usize; 8] {
    let bytes = secret.as_bytes();
    let form = bytes.iter().map(|&b| escaped_len(b, false)).sum();
    let uri = bytes.iter().map(|&b| escaped_len(b, true)).sum();
    let padded = secret.len().div_ceil(3) * 4;
    let unpadded = (secret.len() * 4).div_ceil(3);
    [form, form, uri, uri, padded, unpadded, padded, unpadded]
}

/// How many bytes `secret` and all its forms take.
fn forms_len(secret: &str) -> usize {
    secret.len() + encoded_lens(secret).iter().sum::<usize>()
}

/// Appends the forms a server may echo `secret` in to `text`, in the order of
/// [`encoded_lens`]: form-urlencoded in upper- and lower-case hex, URI style in both, and
/// the four base64 alphabets. `text` must have room: it is never reallocated here.
fn write_forms(secret: &str, text: &mut String) {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    use base64::Engine as _;

    for (uri, lower) in [(false, false), (false, true), (true, false), (true, true)] {
        for piece in form_urlencoded::byte_serialize(secret.as_bytes()) {
            let piece = if uri && piece == "+" { "%20" } else { piece };
            if lower && piece.starts_with('%') {
                text.extend(piece.chars().map(|c| c.to_ascii_lowercase()));
            } else {
                text.push_str(piece);
            }
        }
    }
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        engine.encode_string(secret, text);
    }
}

#[cfg(test)]
mod tests {
    /// A JWT is redacted by its shape wherever it stands, and text without one is left
    /// whole.
    #[test]
    fn jwts_are_redacted_by_shape() {
        let cases = [
            (
                "assertion eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl was replayed",
                Some("assertion [redacted] was replayed"),
            ),
            ("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", Some("[redacted]")),
            (
                "a,eyJh.eyJz.c2ln;eyJh.eyJz.c2ln",
                Some("a,[redacted];[redacted]"),
            ),
            (
                "cut short: eyJhbGciOiJFUzI1NiJ9.eyJzdW",
                Some("cut short: [redacted]"),
            ),
            ("no jwt: eyJ is a prefix, eyJx.y", None),
            ("xeyJh.eyJz.c2ln is inside a word", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(redact_jwts(text).as_deref(), want, "{text}");
        }
    }

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
