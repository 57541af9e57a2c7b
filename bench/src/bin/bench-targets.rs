//! Prints the targets table of a `scripts/bench` run: every target of
//! `tagwire_bench::targets::TARGETS` against the figures the run's
//! benchmarks recorded (`TAGWIRE_BENCH_FIGURES`), and the schema front
//! end's time from criterion's estimates.

use std::error::Error;
use std::path::{Path, PathBuf};

use clap::Parser;
use tagwire_bench::{figures, targets};

#[derive(Debug, Parser)]
struct Args {
    /// The figures file the run's benchmarks appended to.
    #[arg(long)]
    figures: PathBuf,
    /// Criterion's output directory, holding the front end's estimates.
    #[arg(long)]
    criterion: Option<PathBuf>,
}

/// The compiler's front-end benchmark (compiler/benches/front_end.rs).
const FRONT_END: &str = "front_end/parse_check_assign_4000_versions_20000_fields";

fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let mut figures = if args.figures.exists() {
        figures::read(&args.figures)?
    } else {
        Default::default()
    };
    if let Some(dir) = &args.criterion
        && let Some(ns) = criterion_median_ns(dir, FRONT_END)?
    {
        figures.insert("front_end.ms".to_owned(), ns / 1e6);
    }
    println!("{}", targets::table(targets::TARGETS, &figures));
    Ok(())
}

/// A criterion benchmark's median, in nanoseconds; `None` when it has not run.
fn criterion_median_ns(dir: &Path, id: &str) -> Result<Option<f64>, Box<dyn Error>> {
    let path = dir.join(id).join("new").join("estimates.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let estimates: serde_json::Value = serde_json::from_str(&text)
        .map_err(|err| format!("{}: not criterion's estimates: {err}", path.display()))?;
    Ok(estimates["median"]["point_estimate"].as_f64())
}
