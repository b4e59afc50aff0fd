//! How an error quotes text a server or a redirect sent: short, and printable.

/// The first `max` characters of `text`, each one but printable ASCII and the space
/// replaced by `?` (so it can forge no log line, and `"` too, so it breaks no quoting),
/// and `...` appended when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let mut shown: String = text
        .chars()
        .take(max)
        .map(|c| {
            if c == ' ' || (c.is_ascii_graphic() && c != '"') {
                c
            } else {
                '?'
            }
        })
        .collect();
    if text.chars().nth(max).is_some() {
        shown.push_str("...");
    }
    shown
}
