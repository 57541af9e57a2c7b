//! What the compiler's benchmarks share: the large generated schema.

use std::fmt::Write as _;

/// 4,000 message versions (2,000 messages × 2 versions) with 20,000 fields
/// of every kind of type, a doc comment on each version.
pub fn large_schema() -> String {
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
