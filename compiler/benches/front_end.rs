//! Parse, check and header assignment for a large generated schema:
//! 4,000 message versions (2,000 messages × 2 versions) with 20,000 fields.

use criterion::{Criterion, criterion_group, criterion_main};
use std::fmt::Write as _;
use std::hint::black_box;
use tagwire_compiler::{FrontEnd, LockMode};

fn large_schema() -> String {
    let mut text = String::from("package bench;\n\n");
    text.push_str("enum Mood { calm, busy = 4, away }\n");
    text.push_str("struct Point { x: f64, y: f64 }\n");
    text.push_str("union Shape { dot { at: Point }, line { points: [Point] }, none }\n\n");
    let types = [
        "string",
        "u64?",
        "[Point]",
        "map<string, i32>",
        "Mood",
        "Shape",
        "bytes",
        "f32",
        "[string?]",
        "bool",
    ];
    for m in 0..2_000 {
        for version in 1..=2 {
            let _ = writeln!(text, "/// Message {m}, version {version}.");
            let direction = ["from server", "from client", ""][m % 3];
            let _ = write!(text, "message Message{m} v{version} {direction} {{ ");
            for f in 0..5 {
                let _ = write!(
                    text,
                    "field_{f}: {}, ",
                    types[(m + f + version) % types.len()]
                );
            }
            text.push_str("}\n");
        }
    }
    text
}

fn front_end(c: &mut Criterion) {
    let text = large_schema();
    let path = std::env::temp_dir().join("tagwire-bench-front-end/bench.schema");
    let mut group = c.benchmark_group("front_end");
    group.sample_size(20);
    group.bench_function("parse_check_assign_4000_versions_20000_fields", |b| {
        b.iter(|| {
            let output = FrontEnd::new()
                .schema_text(&path, black_box(text.clone()))
                .lock_mode(LockMode::Preview)
                .run();
            assert!(!output.has_errors(), "{}", output.render_text());
            black_box(output.schema)
        })
    });
    group.finish();
}

criterion_group!(benches, front_end);
criterion_main!(benches);
