//! The state diagram in docs/architecture.md is generated from the transition table in
//! src/session/transitions.rs; this test keeps the two in step.

mod support;

use support::transition_table::rows;

fn table() -> Vec<String> {
    rows()
        .iter()
        .map(|row| format!("    {} --> {}: {}", row.from, row.to, row.label()))
        .collect()
}

fn diagram() -> Vec<String> {
    let doc = include_str!("../docs/architecture.md");
    let start = doc
        .find("<!-- BEGIN GENERATED DIAGRAM -->")
        .expect("diagram start");
    let end = doc
        .find("<!-- END GENERATED DIAGRAM -->")
        .expect("diagram end");
    doc[start..end]
        .lines()
        .filter(|line| line.contains(" --> ") && !line.contains("[*]"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn state_diagram_matches_the_transition_table() {
    let expected = table();
    assert!(expected.len() > 10, "the table was found and read");
    assert_eq!(
        diagram(),
        expected,
        "regenerate the diagram in docs/architecture.md from the table"
    );
}

#[test]
fn every_state_in_the_table_is_a_type() {
    let states = [
        "Unauthenticated",
        "LoggingIn",
        "Active",
        "Expiring",
        "Refreshing",
        "Revoking",
        "Revoked",
    ];
    for row in table() {
        let row = row.trim();
        let from = row.split(' ').next().unwrap();
        assert!(states.contains(&from), "{from}");
        let to = row
            .split(" --> ")
            .nth(1)
            .unwrap()
            .split(':')
            .next()
            .unwrap();
        assert!(states.contains(&to), "{to}");
    }
    // Each of those names is exported as a type.
    fn exists<T>() {}
    exists::<oauth_lifecycle::Unauthenticated>();
    exists::<oauth_lifecycle::LoggingIn>();
    exists::<oauth_lifecycle::Active>();
    exists::<oauth_lifecycle::Expiring>();
    exists::<oauth_lifecycle::Refreshing>();
    exists::<oauth_lifecycle::Revoking>();
    exists::<oauth_lifecycle::Revoked>();
}
