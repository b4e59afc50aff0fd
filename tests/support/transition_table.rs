//! The transition table at the top of `src/session/transitions.rs`, read from the source
//! itself, so that every test checking against it sees the same rows.
//!
//! Each row reads `From --input / method, method--> To`.

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The state the transition starts from, as its type name.
    pub from: String,
    /// What happens, in words (`failure`, `revoke, awaiting the login`).
    pub input: String,
    /// The typestate methods that perform the transition, in the order the row names them.
    pub methods: Vec<String>,
    /// The state the transition lands in, as its type name.
    pub to: String,
}

impl Row {
    /// The row's label as written: `input / method, method`.
    pub fn label(&self) -> String {
        format!("{} / {}", self.input, self.methods.join(", "))
    }
}

impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} --{}--> {}", self.from, self.label(), self.to)
    }
}

/// The rows, in table order.
pub fn rows() -> Vec<Row> {
    const START: &str = "//! TRANSITIONS:";
    const END: &str = "//! END TRANSITIONS";
    let source = include_str!("../../src/session/transitions.rs");
    let start = source.find(START).expect("table start") + START.len();
    let end = source.find(END).expect("table end");
    source[start..end]
        .lines()
        .map(|line| line.trim_start_matches("//!").trim())
        .filter(|line| !line.is_empty())
        .map(parse)
        .collect()
}

/// Reads one row. Strict about the separators, so that the row printed back from its
/// parts is exactly the text of the table.
fn parse(text: &str) -> Row {
    let shape = "from --input / method, method--> to";
    let (from, rest) = text
        .split_once(" --")
        .unwrap_or_else(|| panic!("`{text}` is not `{shape}`"));
    let (label, to) = rest
        .rsplit_once("--> ")
        .unwrap_or_else(|| panic!("`{text}` is not `{shape}`"));
    let (input, methods) = label
        .rsplit_once(" / ")
        .unwrap_or_else(|| panic!("`{text}` names no method: `{shape}`"));
    let row = Row {
        from: from.to_owned(),
        input: input.to_owned(),
        methods: methods.split(", ").map(str::to_owned).collect(),
        to: to.to_owned(),
    };
    for method in &row.methods {
        assert!(
            !method.is_empty()
                && method
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "`{method}` in `{text}` is not a method name (methods are separated by `, `)"
        );
    }
    assert_eq!(row.to_string(), text, "the row reads back as written");
    row
}
