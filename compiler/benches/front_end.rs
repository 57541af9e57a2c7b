//! Parse, check and header assignment for a large generated schema:
//! 4,000 message versions (2,000 messages × 2 versions) with 20,000 fields.

mod common;

use common::large_schema;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tagwire_compiler::{FrontEnd, LockMode};

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
