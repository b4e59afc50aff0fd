//! A streaming reader for one `WWW-Authenticate` field line (RFC 9110 §11.6.1):
//!
//! ```text
//! WWW-Authenticate = #challenge
//! challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
//! auth-param       = token BWS "=" BWS ( token / quoted-string )
//! token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//! ```
//!
//! An element that is `token BWS "="` is a parameter of the challenge before it; any other
//! element starts a new challenge. Empty list elements (`a, , b`) are skipped, as RFC 9110
//! §5.6.1 asks of recipients. The reader works on bytes (a field value need not be UTF-8),
//! never allocates, reads each byte at most twice, and stops for good at the first syntax
//! error. It yields an element only once a comma or the end of the line follows it (a
//! scheme together with its first parameter or token68), so what it yielded stands and
//! the malformed element and the rest of the line are ignored.

/// One piece of a challenge list, in the order it appears.
pub(super) enum Item<'a> {
    /// A challenge starts; its parameters follow.
    Scheme(&'a [u8]),
    /// A parameter of the latest challenge.
    Param { name: &'a [u8], value: Value<'a> },
    /// The latest challenge carries a token68 instead of parameters.
    Token68,
}

/// A parameter's value as written. Deliberately not `Debug`: a value may be a server's
/// free text (an `error_description`), which is never printed.
#[derive(Clone, Copy)]
pub(super) enum Value<'a> {
    /// A bare token.
    Token(&'a [u8]),
    /// The inside of a quoted-string, backslash escapes still in place.
    Quoted(&'a [u8]),
}

impl Value<'_> {
    /// Whether the value, once unescaped, is exactly `expected` (byte for byte).
    pub(super) fn is(&self, expected: &[u8]) -> bool {
        match *self {
            Value::Token(token) => token == expected,
            Value::Quoted(raw) => {
                let mut unescaped = Unescaped(raw);
                expected.iter().all(|&b| unescaped.next() == Some(b)) && unescaped.next().is_none()
            }
        }
    }
}

/// The bytes of a quoted-string's inside with the escapes removed.
struct Unescaped<'a>(&'a [u8]);

impl Iterator for Unescaped<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.0.split_first()?;
        self.0 = rest;
        if first != b'\\' {
            return Some(first);
        }
        // The reader only hands over well-formed insides: a backslash is never last.
        let (&escaped, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(escaped)
    }
}

/// Reads the challenges of one field line; see the module documentation.
pub(super) fn challenges(line: &[u8]) -> Challenges<'_> {
    Challenges {
        rest: line,
        state: State::Start,
        pending: None,
    }
}

/// The iterator [`challenges`] returns.
pub(super) struct Challenges<'a> {
    rest: &'a [u8],
    state: State,
    /// The first parameter or token68 of a challenge whose scheme was just yielded.
    pending: Option<Item<'a>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing read yet: no challenge to attach a parameter to.
    Start,
    /// After an item of a challenge that takes parameters (its scheme or one of them).
    Params,
    /// After a token68: the challenge is complete.
    Closed,
    /// End of line or a syntax error.
    Done,
}

impl<'a> Iterator for Challenges<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if let Some(item) = self.pending.take() {
            return Some(item);
        }
        if self.state == State::Done {
            return None;
        }
        let item = self.element();
        if item.is_none() {
            self.state = State::Done;
        }
        item
    }
}

impl<'a> Challenges<'a> {
    /// The next list element: a parameter of the current challenge or a new challenge.
    /// Every element yielded was followed by a comma or the end of the line.
    fn element(&mut self) -> Option<Item<'a>> {
        loop {
            self.skip_whitespace();
            if !self.eat(b',') {
                break;
            }
        }
        let token = self.token()?;
        let spaced = self.skip_whitespace();
        if self.eat(b'=') {
            if self.state != State::Params {
                return None;
            }
            return self.param(token);
        }
        if self.at_element_end() {
            self.state = State::Params;
        } else if spaced {
            self.pending = Some(self.token68_or_param()?);
        } else {
            return None;
        }
        Some(Item::Scheme(token))
    }

    /// What follows a scheme and its whitespace: a first parameter, else a token68.
    fn token68_or_param(&mut self) -> Option<Item<'a>> {
        let start = self.rest;
        if let Some(name) = self.token() {
            self.skip_whitespace();
            if self.eat(b'=') {
                if let Some(param) = self.param(name) {
                    self.state = State::Params;
                    return Some(param);
                }
            }
        }
        self.rest = start;
        self.take_while(is_token68_char)?;
        let _padding = self.take_while(|b| b == b'=');
        if !self.at_element_end() {
            return None;
        }
        self.state = State::Closed;
        Some(Item::Token68)
    }

    /// A parameter's value, its name and `=` read, and the end of the element.
    fn param(&mut self, name: &'a [u8]) -> Option<Item<'a>> {
        self.skip_whitespace();
        let value = self.value()?;
        self.at_element_end().then_some(Item::Param { name, value })
    }

    /// Skips whitespace; tells whether a comma or the end of the line follows.
    fn at_element_end(&mut self) -> bool {
        self.skip_whitespace();
        matches!(self.rest.first(), None | Some(b','))
    }

    fn value(&mut self) -> Option<Value<'a>> {
        if self.eat(b'"') {
            self.quoted_inside().map(Value::Quoted)
        } else {
            self.token().map(Value::Token)
        }
    }

    /// The inside of a quoted-string whose opening quote was just read; consumes the
    /// closing quote. `None` if the string is unterminated or holds a control byte.
    fn quoted_inside(&mut self) -> Option<&'a [u8]> {
        let line = self.rest;
        let mut at = 0;
        loop {
            match *line.get(at)? {
                b'"' => {
                    self.rest = line.get(at + 1..)?;
                    return line.get(..at);
                }
                b'\\' if line.get(at + 1).copied().is_some_and(is_quoted_char) => at += 2,
                b if b != b'\\' && is_quoted_char(b) => at += 1,
                _ => return None,
            }
        }
    }

    fn token(&mut self) -> Option<&'a [u8]> {
        self.take_while(is_token_char)
    }

    /// The longest non-empty prefix whose bytes match, or `None`.
    fn take_while(&mut self, matches: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let length = self.rest.iter().take_while(|&&b| matches(b)).count();
        if length == 0 {
            return None;
        }
        let (taken, rest) = self.rest.split_at(length);
        self.rest = rest;
        Some(taken)
    }

    /// Skips optional whitespace; tells whether there was any.
    fn skip_whitespace(&mut self) -> bool {
        self.take_while(|b| b == b' ' || b == b'\t').is_some()
    }

    fn eat(&mut self, byte: u8) -> bool {
        match self.rest.split_first() {
            Some((&first, rest)) if first == byte => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }
}

/// `tchar` (RFC 9110 §5.6.2).
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

/// What may stand in a quoted-string, escaped or not: HTAB, SP, VCHAR, obs-text.
fn is_quoted_char(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A readable rendering of what the reader saw; values unescaped.
    fn read(line: &str) -> Vec<String> {
        challenges(line.as_bytes())
            .map(|item| match item {
                Item::Scheme(scheme) => format!("scheme {}", String::from_utf8_lossy(scheme)),
                Item::Token68 => "token68".to_owned(),
                Item::Param { name, value } => {
                    let value: Vec<u8> = match value {
                        Value::Token(token) => token.to_vec(),
                        Value::Quoted(raw) => Unescaped(raw).collect(),
                    };
                    format!(
                        "{}={}",
                        String::from_utf8_lossy(name),
                        String::from_utf8_lossy(&value)
                    )
                }
            })
            .collect()
    }

    #[test]
    fn several_challenges_in_one_line() {
        assert_eq!(
            read(r#"Basic realm="x", Bearer realm="api", error="invalid_token""#),
            [
                "scheme Basic",
                "realm=x",
                "scheme Bearer",
                "realm=api",
                "error=invalid_token"
            ]
        );
    }

    #[test]
    fn token68_closes_its_challenge() {
        assert_eq!(
            read("Negotiate abc==, Bearer"),
            ["scheme Negotiate", "token68", "scheme Bearer"]
        );
        assert_eq!(read("Negotiate abc= "), ["scheme Negotiate", "token68"]);
        // A parameter cannot follow a token68.
        assert_eq!(read("Negotiate abc, a=b"), ["scheme Negotiate", "token68"]);
    }

    #[test]
    fn whitespace_empty_elements_and_escapes() {
        assert_eq!(
            read("\t, ,Bearer \t a \t= \t\"q\\\"\\\\\" ,, b=c ,"),
            ["scheme Bearer", "a=q\"\\", "b=c"]
        );
    }

    #[test]
    fn stops_at_the_first_syntax_error() {
        assert_eq!(read(r#"Bearer error="abc"#), Vec::<String>::new());
        assert_eq!(read(r#"Bearer a=b, c=d e"#), ["scheme Bearer", "a=b"]);
        assert_eq!(read(r#"Bearer a=b c=d"#), Vec::<String>::new());
        assert_eq!(read(r#"Basic, Bearer error="x"y"#), ["scheme Basic"]);
        assert_eq!(read(r#"Bearer"x""#), Vec::<String>::new());
        assert_eq!(read(r#"a=b, Bearer"#), Vec::<String>::new());
        assert_eq!(read("Basic, Bearer a=\"\\"), ["scheme Basic"]);
        assert_eq!(read("Bearer, a=\"\u{1}\""), ["scheme Bearer"]);
        assert_eq!(read("Bearer, a=\"\\\u{1}\""), ["scheme Bearer"]);
        assert_eq!(read("Bearer, a=\u{e9}"), ["scheme Bearer"]);
    }

    #[test]
    fn matches_unescaped_values_exactly() {
        let quoted = Value::Quoted(br"inv\alid_\token");
        assert!(quoted.is(b"invalid_token"));
        assert!(!quoted.is(b"invalid_toke"));
        assert!(!quoted.is(b"invalid_tokens"));
        assert!(Value::Token(b"x").is(b"x"));
        assert!(!Value::Token(b"X").is(b"x"));
        assert!(Value::Quoted(b"").is(b""));
    }
}
