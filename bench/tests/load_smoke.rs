//! Every load benchmark, run end to end at a tiny size: a change to the wire
//! or the runtime that leaves one counting nothing fails here, not in the next
//! `scripts/bench` (the room-message envelope once left `fan-out` measuring
//! zero deliveries for a day). Nothing is timed: the checks are that each run
//! succeeds, counted what it measures and recorded the figures its targets
//! are checked against.

use std::collections::BTreeMap;
use std::process::Command;

use tagwire_bench::figures::{self, FIGURES_ENV};
use tagwire_bench::targets::{self, TARGETS};

const RUNTIME_LOAD: &str = env!("CARGO_BIN_EXE_runtime-load");

type Rows = Vec<Vec<(String, String)>>;

/// Runs `runtime-load ARGS…` and returns its table's rows, each a list of
/// (column header, cell).
fn table(args: &[&str]) -> Rows {
    table_of(RUNTIME_LOAD, args).0
}

/// Runs a benchmark binary; returns its table's rows and the figures it
/// recorded for the targets table.
fn table_of(binary: &str, args: &[&str]) -> (Rows, BTreeMap<String, f64>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let figures_file = dir.path().join("figures");
    let out = Command::new(binary)
        .args(args)
        .env(FIGURES_ENV, &figures_file)
        .output()
        .unwrap_or_else(|e| panic!("start {binary}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{binary} {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Table lines, without the `| --- |` rule under the header.
    let mut lines = stdout
        .lines()
        .filter(|l| l.starts_with('|') && !l.starts_with("| ---"));
    let cells = |line: &str| -> Vec<String> {
        line.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_owned())
            .collect()
    };
    let header = cells(lines.next().expect("a table"));
    let rows: Vec<_> = lines
        .map(|line| header.iter().cloned().zip(cells(line)).collect())
        .collect();
    assert!(!rows.is_empty(), "no rows in:\n{stdout}");
    let figures = if figures_file.exists() {
        figures::read(&figures_file).unwrap_or_else(|e| panic!("{e}"))
    } else {
        BTreeMap::new()
    };
    (rows, figures)
}

/// The targets table's row for a measure, as `bench-targets` prints it.
fn target_row(figures: &BTreeMap<String, f64>, measure: &str) -> String {
    let table = targets::table(TARGETS, figures);
    table
        .lines()
        .find(|line| line.starts_with(&format!("| {measure} |")))
        .unwrap_or_else(|| panic!("no target {measure:?} in:\n{table}"))
        .to_owned()
}

/// Asserts that a target was measured (met or missed, not "not measured").
fn assert_measured(figures: &BTreeMap<String, f64>, measure: &str) {
    let row = target_row(figures, measure);
    assert!(
        row.ends_with("| met |") || row.ends_with("| **missed** |"),
        "{row}\nfigures: {figures:?}"
    );
}

/// The number in a cell such as `**702,513**`, `4.38 s` or `96 %`.
fn number(row: &[(String, String)], column: &str) -> f64 {
    let (_, cell) = row
        .iter()
        .find(|(h, _)| h == column)
        .unwrap_or_else(|| panic!("no column {column:?} in {row:?}"));
    let digits: String = cell
        .trim_matches('*')
        .split_whitespace()
        .next()
        .unwrap_or("")
        .replace(',', "");
    digits
        .parse()
        .unwrap_or_else(|_| panic!("{column}: {cell:?} is not a number"))
}

/// One room of 20 subscribers, half a second measured.
const FAN_OUT: [&str; 7] = [
    "fan-out",
    "--subscribers",
    "20",
    "--secs",
    "0.5",
    "--warmup-secs",
    "0.2",
];

#[test]
fn fan_out_counts_deliveries_through_the_in_process_backend() {
    let (rows, figures) = table_of(RUNTIME_LOAD, &FAN_OUT);
    assert!(
        figures.get("fanout.local.20.per_server_cpu_second") > Some(&0.0),
        "{figures:?}"
    );
    for row in &rows {
        assert!(number(row, "deliveries/s") > 0.0, "{row:?}");
        assert_eq!(number(row, "slow consumers"), 0.0, "{row:?}");
    }
}

#[test]
fn fan_out_counts_deliveries_through_redis() {
    let redis = tagwire_tests::services::redis_url();
    let (rows, figures) = table_of(
        RUNTIME_LOAD,
        &[&FAN_OUT[..], &["--engine", &format!("redis:{redis}")]].concat(),
    );
    assert!(
        figures.get("fanout.redis.20.per_server_cpu_second") > Some(&0.0),
        "{figures:?}"
    );
    for row in &rows {
        assert!(number(row, "deliveries/s") > 0.0, "{row:?}");
    }
}

#[test]
fn echo_counts_messages_for_both_servers() {
    let (rows, figures) = table_of(
        RUNTIME_LOAD,
        &[
            "echo",
            "--cases",
            "4x20/2",
            "--secs",
            "0.3",
            "--warmup-secs",
            "0.1",
        ],
    );
    // Text and binary, each against Tagwire and tokio-tungstenite.
    assert_eq!(rows.len(), 4, "{rows:?}");
    for encoding in ["text", "binary"] {
        let key = format!("echo.{encoding}.4x20.vs.tokio-tungstenite");
        assert!(figures.get(&key) > Some(&0.0), "{key}: {figures:?}");
    }
    for row in &rows {
        assert!(number(row, "messages/s") > 0.0, "{row:?}");
    }
}

#[test]
fn drain_moves_every_client_without_a_failed_attempt() {
    let rows = table(&[
        "drain",
        "--clients",
        "50",
        "--grace-ms",
        "100",
        "--window-ms",
        "300",
        "--reconnect-window-ms",
        "300",
    ]);
    // The spread and herd variants.
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(number(row, "clients"), 50.0, "{row:?}");
        assert!(number(row, "last client on B") > 0.0, "{row:?}");
        assert_eq!(number(row, "failed attempts"), 0.0, "{row:?}");
    }
}

#[test]
fn idle_connections_measures_heap_for_both_contenders() {
    let (rows, figures) = table_of(
        env!("CARGO_BIN_EXE_idle-connections"),
        &[
            "--connections",
            "50",
            "--contender",
            "baseline,tagwire",
            "--ping-interval-ms",
            "30000",
            "--window-secs",
            "0.5",
            "--settle-secs",
            "0.2",
            "--connect-over-secs",
            "0",
        ],
    );
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(number(row, "connections"), 50.0, "{row:?}");
        assert!(number(row, "heap / conn") > 0.0, "{row:?}");
    }
    assert_measured(
        &figures,
        "heap per idle connection (the largest over the run's sizes)",
    );
}

/// `bench-targets` over a figures file and a criterion directory, as
/// `scripts/bench` runs it: the front end's median comes from criterion's
/// estimates, everything else from the figures.
#[test]
fn bench_targets_reads_figures_and_criterion_estimates() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let figures_file = dir.path().join("figures");
    std::fs::write(
        &figures_file,
        "rust.text.encode.vs.serde_json 3.5\nrust.text.decode.vs.serde_json 2.5\n",
    )
    .expect("write figures");
    let estimates = dir
        .path()
        .join("criterion/front_end/parse_check_assign_4000_versions_20000_fields/new");
    std::fs::create_dir_all(&estimates).expect("criterion directory");
    std::fs::write(
        estimates.join("estimates.json"),
        r#"{"mean":{"point_estimate":91000000.0},"median":{"point_estimate":90500000.0}}"#,
    )
    .expect("write estimates");
    let out = Command::new(env!("CARGO_BIN_EXE_bench-targets"))
        .arg("--figures")
        .arg(&figures_file)
        .arg("--criterion")
        .arg(dir.path().join("criterion"))
        .output()
        .expect("start bench-targets");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let row = |measure: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(&format!("| {measure} |")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        row("Rust text encode vs serde_json").ends_with("| 3.50× | met |"),
        "{stdout}"
    );
    assert!(
        row("Rust text decode vs serde_json").ends_with("| 2.50× | **missed** |"),
        "{stdout}"
    );
    assert!(
        row("schema front end, 4,000 message versions (parse, check, assign)")
            .ends_with("| 90.5 ms | met |"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("2 of {} targets met.", TARGETS.len())),
        "{stdout}"
    );
    // A figures file that is not one is an error that names it, not a table.
    std::fs::write(&figures_file, "rust.text.encode.vs.serde_json fast\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_bench-targets"))
        .arg("--figures")
        .arg(&figures_file)
        .output()
        .expect("start bench-targets");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&figures_file.display().to_string()) && stderr.contains("line 1"),
        "{stderr}"
    );
}
