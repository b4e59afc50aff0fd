//! The base modules depend on each other in one direction only: each may use those
//! before it in this list, and none of the modules built on them (`dialect`, `session`,
//! `resource`). A cycle here is how a crate's structure stops being visible.

const BASE: [&str; 10] = [
    "wipe",
    "echo",
    "timestamp",
    "request",
    "error",
    "policy",
    "bearer",
    "token",
    "prompt",
    "output",
];

fn source(module: &str) -> &'static str {
    match module {
        "wipe" => include_str!("../src/wipe.rs"),
        "echo" => include_str!("../src/echo.rs"),
        "timestamp" => include_str!("../src/timestamp.rs"),
        "request" => include_str!("../src/request.rs"),
        "error" => include_str!("../src/error.rs"),
        "policy" => include_str!("../src/policy.rs"),
        "bearer" => include_str!("../src/bearer.rs"),
        "token" => include_str!("../src/token.rs"),
        "prompt" => include_str!("../src/prompt.rs"),
        "output" => include_str!("../src/output.rs"),
        other => panic!("unknown module {other}"),
    }
}

/// The crate modules a source file's code (not its comments) refers to.
fn dependencies(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !found.contains(&name) {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn each_base_module_uses_only_those_before_it() {
    let mut violations = Vec::new();
    for (position, module) in BASE.iter().enumerate() {
        for dependency in dependencies(source(module)) {
            let allowed = BASE[..position].contains(&dependency.as_str());
            if !allowed {
                violations.push(format!("{module} uses crate::{dependency}"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn the_check_sees_code_and_ignores_comments() {
    let sample = "use crate::error::Failure; // see crate::session\n/// [`x`](crate::Driver)\nfn f() -> crate::token::TokenSet {}";
    assert_eq!(dependencies(sample), ["error", "token"]);
}
