//! Every wrapper of a dialect forwards every method of the `Dialect` trait.
//!
//! A defaulted trait method that a wrapper forgets falls back silently to the default in
//! every session that uses the wrapper, while the wrapped dialect's own tests still pass.
//! The wrappers: `Arc<D>` (a dialect shared by many sessions), tokenctl's `Limited` (a
//! dialect that may not send some requests), and the provider dialects that speak
//! through a `Standard` (`delegate_to_standard!`). The check reads their sources, so a
//! method added to the trait tomorrow is checked too.

/// The block of `source` that starts at the line beginning with `header` and ends at the
/// first line that is a lone closing brace.
fn block<'a>(source: &'a str, header: &str) -> &'a str {
    let start = source
        .find(header)
        .unwrap_or_else(|| panic!("no `{header}` in the source"));
    let rest = &source[start..];
    let end = rest.find("\n}\n").map_or(rest.len(), |end| end + 3);
    &rest[..end]
}

/// The names of the functions a block defines (`fn name(` or `fn name<`).
fn methods(block: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in block.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        if let Some(at) = code.find("fn ") {
            let name: String = code[at + 3..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

const DIALECT_MOD: &str = include_str!("../src/dialect/mod.rs");

fn trait_methods() -> Vec<String> {
    let methods = methods(block(DIALECT_MOD, "pub trait Dialect:"));
    assert!(methods.len() >= 12, "the trait was read: {methods:?}");
    methods
}

fn missing(wrapper: &[String], required: &[String]) -> Vec<String> {
    required
        .iter()
        .filter(|method| !wrapper.contains(method))
        .cloned()
        .collect()
}

#[test]
fn a_shared_dialect_forwards_every_method() {
    let arc = methods(block(DIALECT_MOD, "impl<D: Dialect> Dialect for Arc<D>"));
    assert_eq!(missing(&arc, &trait_methods()), Vec::<String>::new());
}

#[test]
fn tokenctls_limited_dialect_forwards_every_method() {
    let source = include_str!("../tokenctl/src/limited.rs");
    let limited = methods(block(source, "impl<D: Dialect> Dialect for Limited<D>"));
    assert_eq!(missing(&limited, &trait_methods()), Vec::<String>::new());
}

#[test]
fn dialects_speaking_through_standard_forward_what_standard_overrides() {
    let standard = methods(block(
        include_str!("../src/dialect/rfc6749.rs"),
        "impl Dialect for Standard",
    ));
    let delegated = methods(block(DIALECT_MOD, "macro_rules! delegate_to_standard"));
    for (name, source, header) in [
        (
            "Convercus",
            include_str!("../src/dialect/convercus.rs"),
            "impl Dialect for Convercus",
        ),
        (
            "ConvirzaV2",
            include_str!("../src/dialect/convirza_v2.rs"),
            "impl Dialect for ConvirzaV2",
        ),
    ] {
        let own = methods(block(source, header));
        assert!(
            source.contains("delegate_to_standard!()"),
            "{name} delegates"
        );
        let covered: Vec<String> = own.into_iter().chain(delegated.iter().cloned()).collect();
        assert_eq!(
            missing(&covered, &standard),
            Vec::<String>::new(),
            "{name} falls back to the trait's default where Standard does not"
        );
    }
}

#[test]
fn the_reader_sees_methods_and_ignores_comments() {
    let sample = "impl X for Y {\n    // fn hidden(\n    fn shown(&self) {}\n    fn generic<T>(&self) {}\n}\nfn after() {}\n";
    assert_eq!(methods(block(sample, "impl X for Y")), ["shown", "generic"]);
}
