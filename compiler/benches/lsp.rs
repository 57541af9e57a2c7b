//! `tagwire lsp` against the front end, measured in the same run: the time
//! from an edit sent over stdio to its diagnostics received, for an edit of
//! the large schema (4,000 message versions) and for an edit of a small
//! schema beside it (which must not parse the large one again).
#![allow(clippy::unwrap_used)]

#[path = "../tests/support/lsp.rs"]
#[allow(dead_code)]
mod client;
mod common;

use client::{Client, uri};
use common::large_schema;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};
use tagwire_compiler::{FrontEnd, LockMode};

const SMALL: &str = "package small;\nmessage Ping { at: u64 }\n";

fn lsp(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let large = root.join("bench.schema");
    let small = root.join("small.schema");
    let text = large_schema();
    std::fs::write(&large, &text).unwrap();
    std::fs::write(&small, SMALL).unwrap();
    // Locked, as a real project is: diagnostics are then only real problems.
    let locked = std::process::Command::new(env!("CARGO_BIN_EXE_tagwire"))
        .args(["lock", "bench.schema", "small.schema"])
        .current_dir(&root)
        .output()
        .unwrap();
    assert!(locked.status.success(), "{locked:?}");

    let mut group = c.benchmark_group("lsp");
    group.sample_size(10);
    group.bench_function("front_end_4000_versions", |b| {
        b.iter(|| {
            let output = FrontEnd::new()
                .schema(&large)
                .schema(&small)
                .lock_mode(LockMode::Preview)
                .run();
            assert!(!output.has_errors(), "{}", output.render_text());
            black_box(output.schema)
        })
    });

    let mut lsp = Client::initialized(&root, false);
    lsp.open(&large, &text);
    lsp.open(&small, SMALL);
    lsp.diagnostics(&uri(&small), Some(1));
    let mut version = 1;
    let mut edit = |lsp: &mut Client, path: &Path, base: &str| {
        version += 1;
        // A comment that differs each time: the file's text changes, its meaning not.
        let changed = format!("{base}// edit {version}\n");
        lsp.change(path, version, &changed);
        let diagnostics = lsp.diagnostics(&uri(path), Some(version));
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
    };
    let status = |lsp: &mut Client, key: &str| {
        lsp.request("tagwire/status", serde_json::Value::Null)
            .unwrap()[key]
            .as_u64()
            .unwrap()
    };
    let declarations = status(&mut lsp, "declarations");
    let mut edits = 0;
    group.bench_function("lsp_edit_of_the_4000_version_schema", |b| {
        b.iter_custom(|iters| {
            edits += iters;
            timed(iters, || edit(&mut lsp, &large, &text))
        })
    });
    assert_eq!(
        status(&mut lsp, "declarations") - declarations,
        edits,
        "an edit of the large file parses only the piece it changed"
    );
    let before = status(&mut lsp, "parses");
    let mut edits = 0;
    group.bench_function("lsp_edit_of_a_small_schema_beside_it", |b| {
        b.iter_custom(|iters| {
            edits += iters;
            timed(iters, || edit(&mut lsp, &small, SMALL))
        })
    });
    let after = status(&mut lsp, "parses");
    assert_eq!(after - before, edits, "only the small file is parsed again");
    group.finish();
    assert!(lsp.shutdown().success());
}

fn timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed()
}

criterion_group!(benches, lsp);
criterion_main!(benches);
