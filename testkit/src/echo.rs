//! The forms a server may echo a secret in, built here independently of the crate's own
//! search: tests echo each one back and check that no output shows it.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

/// How many forms [`echo_forms`] returns.
pub const ECHO_FORMS: usize = 9;

/// Every form a server may echo `secret` in: raw; form-urlencoded and URI-style percent
/// encoding, each with upper- and lower-case hex digits; base64 in the standard and
/// URL-safe alphabets, each with and without padding.
pub fn echo_forms(secret: &str) -> Vec<String> {
    let form: String = form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let uri = form.replace('+', "%20");
    let forms = vec![
        secret.to_owned(),
        lower_hex(&form),
        lower_hex(&uri),
        form,
        uri,
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
        URL_SAFE.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
    ];
    debug_assert_eq!(forms.len(), ECHO_FORMS);
    forms
}

/// `encoded` with the hex digits of its percent-escapes in lower case.
fn lower_hex(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut escape: u8 = 0;
    for c in encoded.chars() {
        out.push(if escape > 0 {
            c.to_ascii_lowercase()
        } else {
            c
        });
        escape = if c == '%' {
            2
        } else {
            escape.saturating_sub(1)
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forms_of_an_awkward_secret() {
        assert_eq!(
            echo_forms("a b/é"),
            [
                "a b/é",
                "a+b%2f%c3%a9",
                "a%20b%2f%c3%a9",
                "a+b%2F%C3%A9",
                "a%20b%2F%C3%A9",
                "YSBiL8Op",
                "YSBiL8Op",
                "YSBiL8Op",
                "YSBiL8Op",
            ]
        );
    }
}
