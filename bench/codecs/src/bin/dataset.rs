//! Writes the benchmark's dataset as JSON lines (SPEC §8 values file: one
//! `{"message", "version", "value"}` per line), so the TypeScript script
//! encodes and decodes exactly the values the Rust benchmark uses.
//!
//! Usage: `dataset [PATH]` (default: stdout). Prints frame-size statistics
//! to stderr.

use std::io::Write as _;
use tagwire::Protocol;
use tagwire_bench_codecs::{LEN, generate, median_mean};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let messages = generate(LEN);
    let mut out = String::new();
    for m in &messages {
        out.push_str(&tagwire::__private::json::to_canonical_string(
            &m.to_json_line(),
        ));
        out.push('\n');
    }
    match std::env::args().nth(1) {
        Some(path) => std::fs::write(path, &out)?,
        None => std::io::stdout().write_all(out.as_bytes())?,
    }
    let (text_median, text_mean) = median_mean(messages.iter().map(|m| m.to_text().len()));
    let (bin_median, bin_mean) = median_mean(messages.iter().map(|m| m.to_binary().len()));
    let mut by_type: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for m in &messages {
        let json = m.to_json_line();
        let name = json["message"].as_str().unwrap_or("?").to_owned();
        by_type.entry(name).or_default().push(m.to_text().len());
    }
    for (name, sizes) in by_type {
        let n = sizes.len();
        let (median, mean) = median_mean(sizes);
        eprintln!("  {name:<11} {n:>5} messages, text frames median {median} B, mean {mean:.1} B");
    }
    eprintln!(
        "dataset: {} messages; text frames median {text_median} B, mean {text_mean:.1} B; \
         binary frames median {bin_median} B, mean {bin_mean:.1} B",
        messages.len()
    );
    Ok(())
}
