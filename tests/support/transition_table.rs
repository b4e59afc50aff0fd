//! The transition table (`oauth_lifecycle::TRANSITIONS`) as rows of owned strings, so
//! that every test checking against it sees the same rows.
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
    oauth_lifecycle::TRANSITIONS
        .iter()
        .map(|transition| {
            let row = Row {
                from: transition.from.type_name().to_owned(),
                input: transition.on.to_owned(),
                methods: transition.methods.iter().map(|m| (*m).to_owned()).collect(),
                to: transition.to.type_name().to_owned(),
            };
            assert_eq!(
                row.to_string(),
                transition.to_string(),
                "rows read back alike"
            );
            row
        })
        .collect()
}
