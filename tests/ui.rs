//! The compile-time checks of `#[derive(KvBucket)]` and `#[derive(KvKey)]`.
//!
//! Every file under `tests/ui/` holds one mistake and must fail to compile with the message in
//! its `.stderr` (regenerate with `TRYBUILD=overwrite cargo test --test ui`, then read each one:
//! is the caret under the user's token, does the message say what to do?). Every file under
//! `tests/ui-pass/` must compile and run: they prove the generated code's hygiene.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    cases.pass("tests/ui-pass/*.rs");
}
