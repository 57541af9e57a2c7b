//! Generated conversions compiled for real (trybuild): a schema whose steps
//! are all generated builds and converts as the schema says, and a schema
//! with a step the compiler cannot generate (`u32` → `u64`) fails to build
//! with a message naming the impl the application must write.
//!
//! The generated files the cases include are committed next to their schemas
//! (`fixtures/evolve/*.rs`) and checked against the compiler's current output
//! here, so they cannot go stale. Regenerate them with
//! `TAGWIRE_UPDATE_FIXTURES=1 cargo test -p tagwire-compiler --test evolve_ui`,
//! and the expected compiler output with `TRYBUILD=overwrite`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use tagwire_compiler::codegen::rust::{self, RustOptions};
use tagwire_compiler::{FrontEnd, LockMode};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/evolve")
}

#[test]
fn committed_generated_files_match_the_compiler() {
    let dir = fixtures();
    let mut front_end = FrontEnd::new();
    front_end
        .schema(dir.join("chatter.schema"))
        .schema(dir.join("counter.schema"));
    let output = front_end.lock_mode(LockMode::Locked).run();
    let text = output.render_text();
    assert!(!output.has_errors(), "{text}");
    // chatter's lock keeps `Typing v1` as a tombstone (removed earlier): no other diagnostic.
    assert!(output.diagnostics.is_empty(), "{text}");
    let files = rust::generate_rust_files(&output, &RustOptions::default()).unwrap();
    assert_eq!(files.len(), 2);
    let update = std::env::var_os("TAGWIRE_UPDATE_FIXTURES").is_some();
    for (name, code) in files {
        let path = dir.join(&name);
        if update {
            std::fs::write(&path, &code).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == code,
            "{} is stale: regenerate it with TAGWIRE_UPDATE_FIXTURES=1 cargo test -p tagwire-compiler --test evolve_ui",
            path.display()
        );
    }
}

#[test]
fn conversions_compile_and_missing_ones_are_named() {
    let t = trybuild::TestCases::new();
    t.pass("tests/evolve_ui/generated_conversions.rs");
    t.compile_fail("tests/evolve_ui/missing_downgrade.rs");
}

/// `codec_only` leaves the conversions out, so a schema with a step the
/// application would write (counter: `u32` → `u64`) needs no impl: what the
/// conformance harness and other codec-only programs rely on. (The harness
/// compiles such code for real in CI: conformance.schema has `Ints v2`.)
#[test]
fn codec_only_generates_no_conversions() {
    let dir = fixtures();
    let mut front_end = FrontEnd::new();
    front_end.schema(dir.join("counter.schema"));
    let output = front_end.lock_mode(LockMode::Locked).run();
    assert!(!output.has_errors(), "{}", output.render_text());
    let full = rust::generate_rust_files(&output, &RustOptions::default()).unwrap();
    let mut codec_only = RustOptions::default();
    codec_only.codec_only = true;
    let codecs = rust::generate_rust_files(&output, &codec_only).unwrap();
    let (full, codecs) = (&full[0].1, &codecs[0].1);
    assert!(
        full.contains("::tagwire::Downgrade::<CountV1>::downgrade"),
        "{full}"
    );
    for conversion in [
        "::tagwire::Downgrade",
        "::tagwire::Upgrade",
        "fn downgrade",
        "fn upgrade",
    ] {
        assert!(
            !codecs.contains(conversion),
            "`{conversion}` in codec-only output:\n{codecs}"
        );
    }
    // Everything else is the same code.
    assert!(
        codecs.contains("pub const REMOVED") && codecs.contains("const HEADERS"),
        "{codecs}"
    );
}
