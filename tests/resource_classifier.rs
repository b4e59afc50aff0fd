//! The resource-server classifier (RFC 6750 §3): a table of named answers with their
//! verdicts, then property tests against a model of challenge lists.

use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use oauth_lifecycle::resource::{classify, classify_response, ResourceVerdict};
use proptest::prelude::*;

use ResourceVerdict::{Accepted, InsufficientScope, NotTokenRelated, TokenRejected};

fn headers<L: AsRef<[u8]>>(lines: &[L]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        let value = HeaderValue::from_bytes(line.as_ref()).expect("a valid field value");
        headers.append(WWW_AUTHENTICATE, value);
    }
    headers
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).expect("a status code")
}

// ---------------------------------------------------------------------------------------
// The table

struct Case {
    name: &'static str,
    status: u16,
    lines: &'static [&'static [u8]],
    expected: ResourceVerdict,
}

const fn case(
    name: &'static str,
    status: u16,
    lines: &'static [&'static [u8]],
    expected: ResourceVerdict,
) -> Case {
    Case {
        name,
        status,
        lines,
        expected,
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // invalid_token: the token was refused, on 401 or 403.
    case("401 invalid_token", 401, &[br#"Bearer realm="api", error="invalid_token""#], TokenRejected),
    case("403 invalid_token", 403, &[br#"Bearer error="invalid_token""#], TokenRejected),
    case("invalid_token as a bare token", 403, &[b"Bearer error=invalid_token"], TokenRejected),
    case("RFC 6750 example with description", 401,
        &[br#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#],
        TokenRejected),
    // A bare 401.
    case("401 without WWW-Authenticate", 401, &[], TokenRejected),
    case("401 with an empty WWW-Authenticate", 401, &[b""], TokenRejected),
    case("401 Bearer alone", 401, &[b"Bearer"], TokenRejected),
    case("401 Bearer without error", 401, &[br#"Bearer realm="api", scope="read""#], TokenRejected),
    case("401 only Basic", 401, &[br#"Basic realm="x""#], TokenRejected),
    case("401 only a token68 challenge", 401, &[b"Negotiate abc=="], TokenRejected),
    case("401 Bearer with a token68, no error", 401, &[b"Bearer invalid_token"], TokenRejected),
    // insufficient_scope: not a token problem.
    case("403 insufficient_scope", 403, &[br#"Bearer error="insufficient_scope", scope="write""#], InsufficientScope),
    case("401 insufficient_scope", 401, &[br#"Bearer error="insufficient_scope""#], InsufficientScope),
    // Anything else.
    case("403 without WWW-Authenticate", 403, &[], NotTokenRelated),
    case("403 Bearer without error", 403, &[br#"Bearer realm="api""#], NotTokenRelated),
    case("403 only Basic", 403, &[br#"Basic realm="x""#], NotTokenRelated),
    case("401 invalid_request", 401, &[br#"Bearer error="invalid_request""#], NotTokenRelated),
    case("401 unknown error code", 401, &[br#"Bearer error="token_expired""#], NotTokenRelated),
    case("401 empty error code", 401, &[br#"Bearer error="""#], NotTokenRelated),
    case("error codes are case-sensitive", 401, &[br#"Bearer error="Invalid_Token""#], NotTokenRelated),
    case("200 with invalid_token", 200, &[br#"Bearer error="invalid_token""#], Accepted),
    case("204 bare", 204, &[], Accepted),
    case("206 partial content", 206, &[], Accepted),
    case("304 not modified", 304, &[], NotTokenRelated),
    case("404 not found", 404, &[], NotTokenRelated),
    case("400 invalid_request", 400, &[br#"Bearer error="invalid_request""#], NotTokenRelated),
    case("407 proxy challenge", 407, &[br#"Bearer error="invalid_token""#], NotTokenRelated),
    case("500 with invalid_token", 500, &[br#"Bearer error="invalid_token""#], NotTokenRelated),
    case("503 bare", 503, &[], NotTokenRelated),
    // Several challenges, several lines, and which wins.
    case("Basic then Bearer in one line", 403,
        &[br#"Basic realm="x", Bearer realm="api", error="invalid_token", error_description="The access token expired""#],
        TokenRejected),
    case("challenges on separate lines", 403, &[br#"Basic realm="x""#, br#"Bearer error="insufficient_scope""#], InsufficientScope),
    case("invalid_token wins over insufficient_scope", 403,
        &[br#"Bearer error="insufficient_scope""#, br#"Bearer error="invalid_token""#], TokenRejected),
    case("insufficient_scope wins over another code", 401,
        &[br#"Bearer error="invalid_request", Bearer error="insufficient_scope""#], InsufficientScope),
    case("any error parameter counts", 403, &[br#"Bearer error="invalid_request", error="invalid_token""#], TokenRejected),
    case("token68 challenge before Bearer", 403, &[br#"Negotiate abc==, Bearer error="invalid_token""#], TokenRejected),
    case("padded token68 then Bearer", 403, &[br#"Negotiate abc= , Bearer error="insufficient_scope""#], InsufficientScope),
    // Only Bearer challenges count.
    case("error of another scheme", 403, &[br#"Basic error="invalid_token""#], NotTokenRelated),
    case("error of another scheme before Bearer", 403, &[br#"Basic error="invalid_token", Bearer realm="x""#], NotTokenRelated),
    case("error of another scheme after Bearer", 403,
        &[br#"Bearer realm="x", Basic realm="y", error="invalid_token""#], NotTokenRelated),
    case("scheme that starts with Bearer", 403, &[br#"Bearerx error="invalid_token""#], NotTokenRelated),
    case("DPoP is another scheme", 401, &[br#"DPoP error="invalid_request""#], TokenRejected),
    case("a parameter named bearer", 403, &[br#"Basic bearer=1, error="invalid_token""#], NotTokenRelated),
    // Case, whitespace, escapes, empty elements.
    case("scheme in any case", 403, &[br#"bEaReR error="invalid_token""#], TokenRejected),
    case("parameter name in any case", 403, &[br#"Bearer ERROR="invalid_token""#], TokenRejected),
    case("escaped value", 403, &[br#"Bearer error="inv\alid_tok\en""#], TokenRejected),
    case("whitespace around = and commas", 403, &[b"  Bearer \t realm = \"a\" ,error =\t\"invalid_token\"  ,  "], TokenRejected),
    case("tab after the scheme", 403, &[b"Bearer\terror=\"invalid_token\""], TokenRejected),
    case("empty list elements", 403, &[br#", ,Bearer ,, error="invalid_token","#], TokenRejected),
    case("description mentions invalid_token", 403,
        &[br#"Bearer error="insufficient_scope", error_description="not invalid_token, error=\"invalid_token\"""#],
        InsufficientScope),
    case("description with a comma and a challenge inside", 401,
        &[br#"Bearer error_description="a, Bearer error=\"x\"", realm="y""#], TokenRejected),
    // Malformed lines count up to their first syntax error.
    case("401 unterminated quote", 401, &[br#"Bearer error="invalid_token"#], TokenRejected),
    case("403 unterminated quote", 403, &[br#"Bearer error="insufficient_scope"#], NotTokenRelated),
    case("unterminated quote after the error", 403,
        &[br#"Bearer error="invalid_token", error_description="oops"#], TokenRejected),
    case("trailing backslash", 403, &[b"Bearer error=\"invalid_token\", error_description=\"x\\"], TokenRejected),
    case("garbage right after a value", 403, &[br#"Bearer error="invalid_token"x"#], NotTokenRelated),
    case("garbage ends the line", 403, &[br#"Basic realm="x" junk, Bearer error="invalid_token""#], NotTokenRelated),
    case("parameter before any scheme", 403, &[br#"error="invalid_token""#], NotTokenRelated),
    case("parameter after a token68", 403, &[br#"Bearer abc, error="invalid_token""#], NotTokenRelated),
    case("a token68 that reads like a parameter", 403, &[b"Bearer error="], NotTokenRelated),
    case("quote right after the scheme", 401, &[br#"Bearer"error""#], TokenRejected),
    case("one bad line, one good line", 403, &[b"\xff garbage \"", br#"Bearer error="invalid_token""#], TokenRejected),
    // Bytes that are not UTF-8.
    case("obs-text in a description", 403, &[b"Bearer error=\"invalid_token\", error_description=\"caf\xe9\""], TokenRejected),
    case("401 non-UTF-8 garbage", 401, &[b"\xff\xfe\x80"], TokenRejected),
    case("403 non-UTF-8 garbage", 403, &[b"\xff\xfe\x80"], NotTokenRelated),
    case("obs-text in a token", 403, &[b"Bearer error=invalid_t\xf6ken"], NotTokenRelated),
];

#[test]
fn every_case_of_the_table() {
    assert!(CASES.len() >= 30);
    let mut failures = Vec::new();
    for case in CASES {
        let headers = headers(case.lines);
        let verdict = classify(status(case.status), &headers);
        if verdict != case.expected {
            failures.push(format!(
                "{}: {verdict:?}, expected {:?}",
                case.name, case.expected
            ));
        }
        let mut response = Response::new(());
        *response.status_mut() = status(case.status);
        *response.headers_mut() = headers;
        assert_eq!(classify_response(&response), verdict, "{}", case.name);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn case_names_are_unique() {
    let mut names: Vec<_> = CASES.iter().map(|case| case.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), CASES.len());
}

#[test]
fn the_verdict_shows_nothing_of_the_description() {
    let secret = "eyJhbGciOiJub25lIn0.secret-token";
    let line = format!(r#"Bearer error="invalid_token", error_description="{secret}""#);
    let verdict = classify(StatusCode::UNAUTHORIZED, &headers(&[line]));
    assert_eq!(verdict, TokenRejected);
    assert!(!format!("{verdict:?}").contains("secret"));
}

#[test]
fn long_headers_take_linear_time() {
    // Many challenges, many escapes, a long unterminated quote: each is read once.
    let challenges =
        "Basic realm=\"\\\"x\\\"\", ".repeat(20_000) + r#"Bearer error="invalid_token""#;
    let unterminated = format!("Bearer error_description=\"{}", "\\\"".repeat(100_000));
    let lines = [challenges, unterminated];
    assert_eq!(
        classify(StatusCode::FORBIDDEN, &headers(&lines)),
        TokenRejected
    );
}

// ---------------------------------------------------------------------------------------
// The model: challenge lists as structures, rendered with random case, whitespace, escapes
// and empty list elements.

/// A name in canonical lower case and which of its letters to write in upper case.
#[derive(Debug, Clone)]
struct Cased {
    canonical: String,
    upper: u64,
}

impl Cased {
    fn render(&self) -> String {
        self.canonical
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if self.upper >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Param {
    name: Cased,
    /// The value, unescaped.
    value: String,
    /// Write a token-shaped value as a quoted-string anyway.
    quote: bool,
    /// Which characters of a quoted value to escape without need.
    escape: u64,
    before_equals: String,
    after_equals: String,
}

#[derive(Debug, Clone)]
enum Body {
    Nothing,
    Token68(String),
    Params(Vec<Param>),
}

#[derive(Debug, Clone)]
struct Challenge {
    scheme: Cased,
    /// Whitespace between the scheme and its body.
    space: String,
    body: Body,
}

/// One field line: its challenges, and the separators around and between them.
#[derive(Debug, Clone)]
struct Line {
    challenges: Vec<Challenge>,
    lead: String,
    separators: Vec<String>,
    trail: String,
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

impl Param {
    fn render(&self) -> String {
        let token_shaped = !self.value.is_empty() && self.value.chars().all(is_tchar);
        let value = if token_shaped && !self.quote {
            self.value.clone()
        } else {
            let mut quoted = String::from('"');
            for (i, c) in self.value.chars().enumerate() {
                if c == '"' || c == '\\' || self.escape >> (i % 64) & 1 == 1 {
                    quoted.push('\\');
                }
                quoted.push(c);
            }
            quoted.push('"');
            quoted
        };
        format!(
            "{}{}={}{}",
            self.name.render(),
            self.before_equals,
            self.after_equals,
            value
        )
    }
}

impl Challenge {
    fn render(&self, separator: &str) -> String {
        let scheme = self.scheme.render();
        match &self.body {
            Body::Params(params) if !params.is_empty() => {
                let params: Vec<String> = params.iter().map(Param::render).collect();
                format!("{scheme}{}{}", self.space, params.join(separator))
            }
            Body::Token68(token68) => format!("{scheme}{}{token68}", self.space),
            Body::Nothing | Body::Params(_) => scheme,
        }
    }

    fn is_bearer(&self) -> bool {
        self.scheme.canonical == "bearer"
    }
}

impl Line {
    fn render(&self) -> String {
        let mut line = self.lead.clone();
        for (i, challenge) in self.challenges.iter().enumerate() {
            let separator = &self.separators[i % self.separators.len()];
            if i > 0 {
                line.push_str(separator);
            }
            line.push_str(&challenge.render(separator));
        }
        line.push_str(&self.trail);
        line
    }
}

/// The rules of RFC 6750 §3 as `classify` documents them, over the structure.
fn model(status: StatusCode, lines: &[Line]) -> ResourceVerdict {
    let errors: Vec<&str> = lines
        .iter()
        .flat_map(|line| &line.challenges)
        .filter(|challenge| challenge.is_bearer())
        .flat_map(|challenge| match &challenge.body {
            Body::Params(params) => params.as_slice(),
            _ => &[],
        })
        .filter(|param| param.name.canonical == "error")
        .map(|param| param.value.as_str())
        .collect();
    let has = |code: &str| errors.contains(&code);
    match status.as_u16() {
        200..=299 => Accepted,
        401 | 403 if has("invalid_token") => TokenRejected,
        401 | 403 if has("insufficient_scope") => InsufficientScope,
        401 | 403 if !errors.is_empty() => NotTokenRelated,
        401 => TokenRejected,
        _ => NotTokenRelated,
    }
}

fn render(lines: &[Line]) -> HeaderMap {
    let rendered: Vec<String> = lines.iter().map(Line::render).collect();
    headers(&rendered)
}

fn whitespace(min: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(prop_oneof![Just(' '), Just('\t')], min..min + 3)
        .prop_map(|chars| chars.into_iter().collect())
}

/// A comma with optional whitespace and empty list elements around it.
fn separator() -> impl Strategy<Value = String> {
    (whitespace(0), 0..3usize, whitespace(0))
        .prop_map(|(before, empty, after)| format!("{before},{}{after}", " ,".repeat(empty)))
}

/// Leading or trailing whitespace and empty list elements.
fn edge() -> impl Strategy<Value = String> {
    prop_oneof![
        whitespace(0),
        (whitespace(0), 1..3usize)
            .prop_map(|(space, commas)| format!("{space}{}", ",".repeat(commas))),
    ]
}

fn cased(canonical: impl Strategy<Value = String>) -> impl Strategy<Value = Cased> {
    (canonical, any::<u64>()).prop_map(|(canonical, upper)| Cased { canonical, upper })
}

fn param_name() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("error".to_owned()),
        1 => Just("realm".to_owned()),
        1 => Just("scope".to_owned()),
        1 => Just("error_description".to_owned()),
        1 => Just("error_uri".to_owned()),
        1 => Just("bearer".to_owned()),
        1 => "[a-z][a-z0-9_.-]{0,6}",
    ]
}

fn param_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("invalid_token".to_owned()),
        2 => Just("insufficient_scope".to_owned()),
        1 => Just("invalid_request".to_owned()),
        1 => Just(String::new()),
        1 => Just(r#"error="invalid_token", Bearer error=invalid_token"#.to_owned()),
        2 => "[ -~\t]{0,12}",
        1 => "[a-z_\"\\\\,= é]{0,12}",
    ]
}

fn param() -> impl Strategy<Value = Param> {
    (
        cased(param_name()),
        param_value(),
        any::<bool>(),
        prop_oneof![Just(0u64), any::<u64>()],
        whitespace(0),
        whitespace(0),
    )
        .prop_map(
            |(name, value, quote, escape, before_equals, after_equals)| Param {
                name,
                value,
                quote,
                escape,
                before_equals,
                after_equals,
            },
        )
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        1 => Just(Body::Nothing),
        1 => "[A-Za-z0-9._~+/-]{1,10}={0,2}".prop_map(Body::Token68),
        4 => proptest::collection::vec(param(), 0..4).prop_map(Body::Params),
    ]
}

fn challenge(scheme: impl Strategy<Value = String>) -> impl Strategy<Value = Challenge> {
    (cased(scheme), whitespace(1), body()).prop_map(|(scheme, space, body)| Challenge {
        scheme,
        space,
        body,
    })
}

fn other_scheme() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("basic".to_owned()),
        Just("digest".to_owned()),
        Just("negotiate".to_owned()),
        Just("dpop".to_owned()),
        Just("bearerx".to_owned()),
        "[a-z][a-z0-9-]{0,6}".prop_filter("not bearer", |s| s != "bearer"),
    ]
}

fn any_scheme() -> impl Strategy<Value = String> {
    prop_oneof![2 => Just("bearer".to_owned()), 1 => other_scheme()]
}

fn line(challenges: impl Strategy<Value = Vec<Challenge>>) -> impl Strategy<Value = Line> {
    (
        challenges,
        edge(),
        proptest::collection::vec(separator(), 1..4),
        edge(),
    )
        .prop_map(|(challenges, lead, separators, trail)| Line {
            challenges,
            lead,
            separators,
            trail,
        })
}

fn lines() -> impl Strategy<Value = Vec<Line>> {
    proptest::collection::vec(
        line(proptest::collection::vec(challenge(any_scheme()), 0..4)),
        0..4,
    )
}

fn any_status() -> impl Strategy<Value = StatusCode> {
    prop_oneof![
        3 => Just(StatusCode::UNAUTHORIZED),
        3 => Just(StatusCode::FORBIDDEN),
        1 => (100u16..=999).prop_map(status),
    ]
}

/// Bytes a field value may hold, biased towards the syntax of challenges.
fn field_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"Bearer".to_vec()),
        Just(b"bearer ".to_vec()),
        Just(b"Basic".to_vec()),
        Just(b"error".to_vec()),
        Just(b"invalid_token".to_vec()),
        Just(b"insufficient_scope".to_vec()),
        Just(b"=".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(b",".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\t".to_vec()),
        Just(b"abc==".to_vec()),
        Just(b"\xe9".to_vec()),
        Just(b"\xff".to_vec()),
        prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff].prop_map(|b| vec![b]),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(
        status in (100u16..=999).prop_map(status),
        lines in proptest::collection::vec(field_bytes(), 0..4),
    ) {
        let headers = headers(&lines);
        let verdict = classify(status, &headers);
        if status.is_success() {
            prop_assert_eq!(verdict, Accepted);
        } else if status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN {
            prop_assert_eq!(verdict, NotTokenRelated);
        }
    }

    #[test]
    fn generated_challenges_classify_as_their_model(status in any_status(), lines in lines()) {
        prop_assert_eq!(classify(status, &render(&lines)), model(status, &lines));
    }

    #[test]
    fn other_schemes_never_change_the_verdict(
        status in any_status(),
        lines in lines(),
        insertions in proptest::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), challenge(other_scheme())),
            1..4,
        ),
        extra_lines in proptest::collection::vec(
            line(proptest::collection::vec(challenge(other_scheme()), 0..3)),
            0..2,
        ),
    ) {
        let before = classify(status, &render(&lines));
        let mut more = lines.clone();
        for (line, at, challenge) in insertions {
            if more.is_empty() {
                break;
            }
            let line = line.index(more.len());
            let challenges = &mut more[line].challenges;
            challenges.insert(at.index(challenges.len() + 1), challenge);
        }
        for extra in extra_lines {
            more.insert(0, extra);
        }
        prop_assert_eq!(classify(status, &render(&more)), before);
    }

    #[test]
    fn damaged_challenges_never_panic(
        status in any_status(),
        lines in lines(),
        cut in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff],
    ) {
        for line in &lines {
            let mut bytes = line.render().into_bytes();
            let at = cut.index(bytes.len() + 1);
            let truncated = bytes[..at].to_vec();
            bytes.insert(at, byte);
            let _ = classify(status, &headers(&[truncated, bytes]));
        }
    }
}
