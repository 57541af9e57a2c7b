//! The figures a `scripts/bench` run checks against its targets.
//!
//! Each benchmark appends `key value` lines to the file named by
//! `TAGWIRE_BENCH_FIGURES` (when set) as it reports; `bench-targets` reads
//! them back once every benchmark has run. A plain file keeps the codec
//! benchmarks (criterion, Node) and the runtime ones (separate processes)
//! on one channel without any of them knowing about the others.

use std::collections::BTreeMap;
use std::error::Error;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::Path;

/// The variable naming the figures file.
pub const FIGURES_ENV: &str = "TAGWIRE_BENCH_FIGURES";

/// Appends `key value` to the figures file, if a run asked for one.
///
/// A figure that is not finite is left out: a missing figure shows as
/// "not measured" in the targets table, which is what it is.
pub fn record(key: &str, value: f64) {
    let Some(path) = std::env::var_os(FIGURES_ENV) else {
        return;
    };
    if !value.is_finite() {
        return;
    }
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "{key} {value}"));
    if let Err(err) = written {
        eprintln!(
            "figures: could not append {key} to {}: {err}",
            Path::new(&path).display()
        );
    }
}

/// Reads a figures file; a key recorded twice keeps its last value.
pub fn read(path: &Path) -> Result<BTreeMap<String, f64>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("reading {}: {err}", path.display()))?;
    parse(&text).map_err(|err| format!("{}: {err}", path.display()).into())
}

fn parse(text: &str) -> Result<BTreeMap<String, f64>, String> {
    let mut figures = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once(' ')
            .ok_or_else(|| format!("line {}: expected `key value`, found {line:?}", number + 1))?;
        let value: f64 = value
            .trim()
            .parse()
            .map_err(|_| format!("line {}: {value:?} is not a number", number + 1))?;
        figures.insert(key.to_owned(), value);
    }
    Ok(figures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_value_of_a_key_wins_and_bad_lines_are_named() {
        let figures = parse("a 1\n\nb 2.5\na 3\n").map_err(|e| e.to_string());
        assert_eq!(
            figures,
            Ok(BTreeMap::from([
                ("a".to_owned(), 3.0),
                ("b".to_owned(), 2.5)
            ]))
        );
        assert_eq!(
            parse("a 1\nb x\n"),
            Err("line 2: \"x\" is not a number".to_owned())
        );
        assert_eq!(
            parse("lonely\n"),
            Err("line 1: expected `key value`, found \"lonely\"".to_owned())
        );
    }
}
