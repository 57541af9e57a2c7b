//! Every schema in `tests/fixtures/invalid/` (at the repository root) must be
//! refused with at least one coded error; the rendered diagnostics of each are
//! snapshotted, so any change to wording, position or ordering is reviewed.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Once;
use tagwire_compiler::DiagnosticCode;
use tagwire_compiler::diagnostic::Severity;
use tagwire_compiler::{FrontEnd, LockMode};

mod support;
use support::repo_root;

/// Diagnostics name files relative to the working directory, so every test in
/// this binary runs from the repository root: snapshots then read
/// `tests/fixtures/invalid/…` on any machine, as a user at the root would see them.
fn at_repo_root() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_current_dir(repo_root()).unwrap());
}

fn fixtures() -> Vec<PathBuf> {
    let dir = repo_root().join("tests/fixtures/invalid");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "schema"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

#[test]
fn corpus_is_large_enough() {
    let count = fixtures().len();
    assert!(count >= 30, "only {count} invalid fixtures");
}

#[test]
fn every_fixture_starts_with_a_comment_saying_what_it_shows() {
    let dir = repo_root().join("tests/fixtures/invalid");
    let mut all = fixtures();
    all.extend(
        std::fs::read_dir(dir.join("support"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "schema")),
    );
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().next().unwrap_or("");
        assert!(
            first.starts_with("// ") && first.len() > 10,
            "{} must start with a `//` comment saying what it shows",
            path.display()
        );
    }
}

#[test]
fn every_invalid_fixture_is_refused_with_coded_errors() {
    at_repo_root();
    let mut failures = Vec::new();
    for path in fixtures() {
        let name = stem(&path);
        let relative = path.strip_prefix(repo_root()).unwrap().to_path_buf();
        let output = FrontEnd::new()
            .schema(&relative)
            .lock_mode(LockMode::Preview)
            .run();
        if !output.has_errors() {
            failures.push(format!("{name}: accepted"));
            continue;
        }
        assert!(
            output.schema.is_none(),
            "{name}: a schema was returned despite errors"
        );
        let errors: Vec<_> = output
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        for d in &errors {
            let code = d.code.as_str();
            assert!(
                code.len() == 5
                    && code.starts_with('E')
                    && code[1..].chars().all(|c| c.is_ascii_digit()),
                "{name}: error without a proper code: {code:?}"
            );
            assert!(d.span.is_some(), "{name}: error {code} points nowhere");
        }
        // Diagnostics come sorted by file then position.
        let positions: Vec<_> = output
            .diagnostics
            .iter()
            .filter_map(|d| d.span.map(|s| (s.file, s.start)))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] <= w[1]),
            "{name}: diagnostics out of order: {positions:?}"
        );
        let text = output.render_text();
        assert!(
            text.contains("error[E"),
            "{name}: rendered text has no error code:\n{text}"
        );
        assert!(
            !text.contains(&repo_root().display().to_string()),
            "{name}: absolute path in output:\n{text}"
        );
        insta::assert_snapshot!(name.as_str(), text);
    }
    assert!(
        failures.is_empty(),
        "fixtures that should fail but did not: {failures:#?}"
    );
}

/// Fixtures with more than one problem report them all in one run.
#[test]
fn several_errors_are_reported_in_one_run() {
    at_repo_root();
    let output = FrontEnd::new()
        .schema("tests/fixtures/invalid/many_errors_sorted.schema")
        .lock_mode(LockMode::Preview)
        .run();
    let codes: Vec<&str> = output.diagnostics.iter().map(|d| d.code.as_str()).collect();
    for expected in ["E0050", "E0060", "E0041", "E0043", "E0073", "E0030"] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
}

/// The code each fixture is about: a rename or a lost check shows up here by name.
#[test]
fn fixtures_report_their_own_code() {
    at_repo_root();
    let expected: &[(&str, &str)] = &[
        ("duplicate_type", "E0031"),
        ("unknown_type", "E0041"),
        ("foreign_type_name", "E0041"),
        ("map_key_float", "E0043"),
        ("map_key_struct", "E0043"),
        ("recursive_struct", "E0080"),
        ("recursive_struct_cycle", "E0080"),
        ("recursion_through_union_without_exit", "E0080"),
        ("enum_value_collision", "E0063"),
        ("enum_value_overflow", "E0062"),
        ("enum_value_out_of_range", "E0062"),
        ("empty_enum", "E0060"),
        ("empty_union", "E0064"),
        ("optional_of_optional", "E0042"),
        ("header_malformed", "E0072"),
        ("header_reserved", "E0073"),
        ("header_pinned_twice", "E0074"),
        ("duplicate_field", "E0050"),
        ("duplicate_version", "E0071"),
        ("version_zero", "E0070"),
        ("version_too_large", "E0070"),
        ("message_as_field_type", "E0040"),
        ("lowercase_type_name", "E0030"),
        ("reserved_type_name", "E0030"),
        ("invalid_package_name", "E0022"),
        ("unescapable_field_name", "E0051"),
        ("variant_case_collision", "E0061"),
        ("duplicate_variant", "E0061"),
        ("generated_name_collision", "E0033"),
        ("missing_package", "E0020"),
        ("two_packages", "E0021"),
        ("package_after_item", "E0023"),
        ("import_after_item", "E0024"),
        ("import_missing_file", "E0013"),
        ("import_cycle_a", "E0011"),
        ("import_name_clash", "E0034"),
        ("syntax_missing_brace", "E0003"),
        ("syntax_semicolon_separator", "E0003"),
        ("syntax_missing_colon", "E0003"),
        ("syntax_bad_token", "E0003"),
        ("syntax_unterminated_string", "E0003"),
        ("syntax_block_comment", "E0003"),
        ("syntax_direction_before_version", "E0003"),
        ("too_deep", "E0002"),
    ];
    let names: Vec<String> = fixtures().iter().map(|p| stem(p)).collect();
    for (fixture, code) in expected {
        assert!(
            names.iter().any(|n| n == fixture),
            "fixture {fixture} is missing"
        );
        let path = format!("tests/fixtures/invalid/{fixture}.schema");
        let output = FrontEnd::new()
            .schema(&path)
            .lock_mode(LockMode::Preview)
            .run();
        let codes: Vec<&str> = output
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.code.as_str())
            .collect();
        assert!(
            codes.contains(code),
            "{fixture}: expected {code}, got {codes:?}"
        );
    }
}

/// Codes the invalid corpus cannot show: each needs a lock file next to the
/// schema, a file system error, a 16 MiB input, or is a warning (every
/// fixture here must fail). `lock_evolution.rs`, `hostile.rs` and `cli.rs`
/// assert each of them by code. The list must shrink when a fixture starts to
/// produce one of them.
const NOT_IN_CORPUS: &[&str] = &[
    "E0001", "E0010", "E0012", "E0090", "E0091", "E0093", "E0094", "E0095", "E0096", "E0098",
    "E0099", "W0001", "W0090", "W0091",
];

#[test]
fn every_code_is_produced_by_the_corpus_or_listed_as_not() {
    at_repo_root();
    let mut produced = std::collections::BTreeSet::new();
    for path in fixtures() {
        let relative = path.strip_prefix(repo_root()).unwrap().to_path_buf();
        let output = FrontEnd::new()
            .schema(&relative)
            .lock_mode(LockMode::Preview)
            .run();
        produced.extend(output.diagnostics.iter().map(|d| d.code.as_str()));
    }
    for &code in DiagnosticCode::ALL {
        let code = code.as_str();
        let listed = NOT_IN_CORPUS.contains(&code);
        assert!(
            produced.contains(code) != listed,
            "{code}: {}",
            if listed {
                "a fixture produces it now; remove it from NOT_IN_CORPUS"
            } else {
                "no invalid fixture produces it; add one, or list it in NOT_IN_CORPUS with why"
            }
        );
    }
}
