//! Misuse that must not compile: each case calls a method on a state that lacks it.

#[test]
fn misuse_does_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
