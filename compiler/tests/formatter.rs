//! `tagwire fmt`: canonical layout, comments kept, idempotent.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use tagwire_compiler::formatter::{format_source, meaning};

mod support;
use support::all_schemas;

fn format(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    format_source(path, &text).unwrap_or_else(|output| panic!("{}", output.render_text()))
}

#[test]
fn messy_file_gets_the_canonical_layout() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt/messy.schema");
    insta::assert_snapshot!(format(&path));
}

#[test]
fn every_comment_survives() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt/messy.schema");
    let source = std::fs::read_to_string(&path).unwrap();
    let formatted = format(&path);
    for line in source.lines() {
        if let Some(at) = line.find("//") {
            let comment = line[at..].trim_end();
            let comment = comment.trim_start_matches('/').trim();
            assert!(
                formatted.contains(comment),
                "lost comment {comment:?}:\n{formatted}"
            );
        }
    }
}

#[test]
fn formatting_is_idempotent_and_keeps_the_meaning() {
    let mut schemas =
        vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fmt/messy.schema")];
    schemas.extend(all_schemas());
    assert!(schemas.len() >= 3, "expected the example schemas");
    for path in schemas {
        let once = format(&path);
        let twice = format_source(&path, &once).unwrap_or_else(|o| panic!("{}", o.render_text()));
        assert_eq!(
            once,
            twice,
            "formatting {} twice changed it",
            path.display()
        );
        let before = meaning(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let after = meaning(&once).unwrap();
        assert_eq!(
            before,
            after,
            "formatting {} changed its meaning",
            path.display()
        );
    }
}

#[test]
fn committed_schemas_are_formatted() {
    for path in all_schemas() {
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(format(&path), text, "run `tagwire fmt {}`", path.display());
    }
}

#[test]
fn a_file_with_a_syntax_error_is_reported_not_formatted() {
    let error = format_source(Path::new("broken.schema"), "package p;\nstruct {").unwrap_err();
    assert!(
        error.render_text().contains("broken.schema:2:8"),
        "{}",
        error.render_text()
    );
}
