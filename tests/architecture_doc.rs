//! The state table and the state diagram in docs/architecture.md are generated from the
//! crate's own table (`StateName`, `TRANSITIONS`); this test keeps them in step. Run it
//! with `UPDATE_DOCS=1` to write the generated blocks into the document.

mod support;

use oauth_lifecycle::{State, StateName};
use support::transition_table::rows;

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/architecture.md");

/// The table of states: what each holds, and the caller's next move.
fn state_table() -> String {
    let mut out = String::from("| state | holds | the caller's next move |\n|---|---|---|\n");
    for &state in StateName::ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            state.type_name(),
            state.holds(),
            state.next_move()
        ));
    }
    out
}

/// The mermaid diagram of every transition.
fn diagram() -> String {
    let mut out = String::from("```mermaid\nstateDiagram-v2\n    [*] --> Unauthenticated\n");
    for row in rows() {
        out.push_str(&format!(
            "    {} --> {}: {}\n",
            row.from,
            row.to,
            row.label()
        ));
    }
    out.push_str("    Revoked --> [*]\n```\n");
    out
}

/// The mermaid diagram of one person's login: the transitions between `states`, and into
/// and out of them from and to `Unauthenticated` and `Active` (revocation left out).
fn flow_diagram(states: &[&str]) -> String {
    let mut out = String::from("```mermaid\nstateDiagram-v2\n");
    let ends = ["Unauthenticated", "Active"];
    for row in rows() {
        let inside = |state: &str| states.contains(&state);
        let touches = inside(&row.from) || inside(&row.to);
        let kept = touches
            && (inside(&row.from) || ends.contains(&row.from.as_str()))
            && (inside(&row.to) || ends.contains(&row.to.as_str()));
        if kept {
            out.push_str(&format!(
                "    {} --> {}: {}\n",
                row.from,
                row.to,
                row.label()
            ));
        }
    }
    out.push_str("```\n");
    out
}

/// `doc` with the block between `<!-- BEGIN {name} -->` and `<!-- END {name} -->`
/// replaced by `content`.
fn with_block(doc: &str, name: &str, content: &str) -> String {
    let begin = format!("<!-- BEGIN {name} -->\n");
    let end = format!("<!-- END {name} -->");
    let start = doc.find(&begin).unwrap_or_else(|| panic!("no {begin}")) + begin.len();
    let stop = doc.find(&end).unwrap_or_else(|| panic!("no {end}"));
    format!("{}{content}{}", &doc[..start], &doc[stop..])
}

#[test]
fn the_state_table_and_diagram_are_generated_from_the_crates_table() {
    let doc = std::fs::read_to_string(DOC_PATH).expect("the document");
    let generated = with_block(
        &with_block(&doc, "GENERATED STATES", &state_table()),
        "GENERATED DIAGRAM",
        &diagram(),
    );
    let generated = with_block(
        &generated,
        "GENERATED DEVICE GRANT",
        &flow_diagram(&["AuthorizingDevice", "AwaitingApproval"]),
    );
    let generated = with_block(
        &generated,
        "GENERATED AUTHORIZATION CODE GRANT",
        &flow_diagram(&["AwaitingRedirect", "ExchangingCode"]),
    );
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(DOC_PATH, &generated).expect("the document is written");
    } else {
        assert!(
            doc == generated,
            "docs/architecture.md is not what the table generates: run \
             `UPDATE_DOCS=1 cargo test --test architecture_doc`"
        );
    }
}

#[test]
fn every_state_name_is_a_state_type() {
    fn words<S: State>() -> &'static str {
        S::NAME
    }
    let types = [
        words::<oauth_lifecycle::Unauthenticated>(),
        words::<oauth_lifecycle::LoggingIn>(),
        words::<oauth_lifecycle::AuthorizingDevice>(),
        words::<oauth_lifecycle::AwaitingApproval>(),
        words::<oauth_lifecycle::AwaitingRedirect>(),
        words::<oauth_lifecycle::ExchangingCode>(),
        words::<oauth_lifecycle::Active>(),
        words::<oauth_lifecycle::Expiring>(),
        words::<oauth_lifecycle::Refreshing>(),
        words::<oauth_lifecycle::Revoking>(),
        words::<oauth_lifecycle::Revoked>(),
    ];
    let names: Vec<&str> = StateName::ALL.iter().map(|state| state.words()).collect();
    assert_eq!(names, types);
    assert!(rows().len() > 20, "the table was read");
}
