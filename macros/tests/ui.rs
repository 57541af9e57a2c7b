//! Every derive error, with its expected message and span (`.stderr` files).
//! Regenerate with `TRYBUILD=overwrite cargo test -p tagwire-macros`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
