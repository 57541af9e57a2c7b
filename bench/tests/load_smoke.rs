//! Every load benchmark, run end to end at a tiny size: a change to the wire
//! or the runtime that leaves one counting nothing fails here, not in the next
//! `scripts/bench` (the room-message envelope once left `fan-out` measuring
//! zero deliveries for a day). Nothing is timed: the checks are that each run
//! succeeds and counted what it measures.

use std::process::Command;

const RUNTIME_LOAD: &str = env!("CARGO_BIN_EXE_runtime-load");

/// Runs `runtime-load ARGS…` and returns its table's rows, each a list of
/// (column header, cell).
fn table(args: &[&str]) -> Vec<Vec<(String, String)>> {
    table_of(RUNTIME_LOAD, args)
}

fn table_of(binary: &str, args: &[&str]) -> Vec<Vec<(String, String)>> {
    let out = Command::new(binary)
        .args(args)
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
    rows
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
    let rows = table(&FAN_OUT);
    for row in &rows {
        assert!(number(row, "deliveries/s") > 0.0, "{row:?}");
        assert_eq!(number(row, "slow consumers"), 0.0, "{row:?}");
    }
}

#[test]
fn fan_out_counts_deliveries_through_redis() {
    let redis = tagwire_tests::services::redis_url();
    let rows = table(&[&FAN_OUT[..], &["--redis", &redis]].concat());
    for row in &rows {
        assert!(number(row, "deliveries/s") > 0.0, "{row:?}");
    }
}

#[test]
fn echo_counts_messages_for_both_servers() {
    let rows = table(&[
        "echo",
        "--cases",
        "4x20/2",
        "--secs",
        "0.3",
        "--warmup-secs",
        "0.1",
    ]);
    // Text and binary, each against Tagwire and tokio-tungstenite.
    assert_eq!(rows.len(), 4, "{rows:?}");
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
    let rows = table_of(
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
}
