//! The performance targets a `scripts/bench` run is held to, each checked
//! against the figures the benchmarks recorded in that same run
//! ([`crate::figures`]). Every target is a ratio against a baseline measured
//! in the run, or a bound on the run's own figure, so the verdicts mean the
//! same on a loaded machine as on a quiet one (within the noise the
//! per-section tables show).

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How a figure is compared with its bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
    Below(f64),
}

/// How a figure is shown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Ratio,
    KiB,
    PerSecond,
    Millis,
}

/// What a target reads from the figures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Source {
    /// One figure.
    Key(&'static str),
    /// The largest of the figures whose key starts with the prefix (the
    /// worst of several sizes, for a figure that must hold at every size).
    MaxOf(&'static str),
}

/// One row of the targets table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub measure: &'static str,
    /// The figure when the target was set.
    pub before: &'static str,
    pub source: Source,
    pub bound: Bound,
    pub unit: Unit,
}

/// What each benchmark must reach: a ratio against its baseline in the same
/// run, or a bound on its own figure. `before` is the figure when the bar was
/// set, so the table shows how far each has moved.
pub const TARGETS: &[Target] = &[
    Target {
        measure: "Rust binary encode vs serde_json",
        before: "11.5×",
        source: Source::Key("rust.binary.encode.vs.serde_json"),
        bound: Bound::AtLeast(15.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "Rust binary encode vs postcard",
        before: "3.07×",
        source: Source::Key("rust.binary.encode.vs.postcard"),
        bound: Bound::AtLeast(3.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "Rust binary encode vs prost",
        before: "2.66×",
        source: Source::Key("rust.binary.encode.vs.prost"),
        bound: Bound::AtLeast(3.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "Rust binary decode vs postcard (Tagwire's borrowed decode, `decode_binary_ref`, vs postcard's owned decode)",
        before: "0.90×",
        source: Source::Key("rust.binary_ref.decode.vs.postcard"),
        bound: Bound::AtLeast(1.5),
        unit: Unit::Ratio,
    },
    Target {
        measure: "Rust text encode vs serde_json",
        before: "2.55×",
        source: Source::Key("rust.text.encode.vs.serde_json"),
        bound: Bound::AtLeast(3.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "Rust text decode vs serde_json",
        before: "1.95×",
        source: Source::Key("rust.text.decode.vs.serde_json"),
        bound: Bound::AtLeast(3.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "TypeScript text encode vs JSON.stringify",
        before: "1.44×",
        source: Source::Key("ts.text.encode.vs.json"),
        bound: Bound::AtLeast(2.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "TypeScript text decode vs JSON.parse + validation",
        before: "2.88×",
        source: Source::Key("ts.text.decode.vs.json_validated"),
        bound: Bound::AtLeast(3.0),
        unit: Unit::Ratio,
    },
    Target {
        measure: "echo, 500 connections × 16 KiB text frames, vs tokio-tungstenite",
        before: "0.30×",
        source: Source::Key("echo.text.500x16384.vs.tokio-tungstenite"),
        bound: Bound::AtLeast(1.1),
        unit: Unit::Ratio,
    },
    Target {
        measure: "echo, 100 connections × 20 B text, vs tokio-tungstenite",
        before: "2.36×",
        source: Source::Key("echo.text.100x20.vs.tokio-tungstenite"),
        bound: Bound::AtLeast(2.3),
        unit: Unit::Ratio,
    },
    Target {
        measure: "echo, 100 connections × 20 B binary, vs tokio-tungstenite",
        before: "2.54×",
        source: Source::Key("echo.binary.100x20.vs.tokio-tungstenite"),
        bound: Bound::AtLeast(2.3),
        unit: Unit::Ratio,
    },
    Target {
        measure: "heap per idle connection (the largest over the run's sizes)",
        before: "4.1 KiB",
        source: Source::MaxOf("idle.heap_per_connection."),
        bound: Bound::AtMost(3.0 * 1024.0),
        unit: Unit::KiB,
    },
    Target {
        measure: "fan-out, 10,000 subscribers, in-process: deliveries per server CPU-second",
        before: "836k",
        source: Source::Key("fanout.local.10000.per_server_cpu_second"),
        bound: Bound::AtLeast(1_000_000.0),
        unit: Unit::PerSecond,
    },
    Target {
        measure: "fan-out, 10,000 subscribers, through Redis: deliveries per server CPU-second",
        before: "–",
        source: Source::Key("fanout.redis.10000.per_server_cpu_second"),
        bound: Bound::AtLeast(700_000.0),
        unit: Unit::PerSecond,
    },
    Target {
        measure: "schema front end, 4,000 message versions (parse, check, assign)",
        before: "165 ms",
        source: Source::Key("front_end.ms"),
        bound: Bound::Below(100.0),
        unit: Unit::Millis,
    },
];

impl Target {
    /// The run's figure for this target, if the run measured it.
    pub fn measured(&self, figures: &BTreeMap<String, f64>) -> Option<f64> {
        match self.source {
            Source::Key(key) => figures.get(key).copied(),
            Source::MaxOf(prefix) => figures
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .map(|(_, value)| *value)
                .reduce(f64::max),
        }
    }

    pub fn met_by(&self, value: f64) -> bool {
        match self.bound {
            Bound::AtLeast(bound) => value >= bound,
            Bound::AtMost(bound) => value <= bound,
            Bound::Below(bound) => value < bound,
        }
    }

    fn bound_text(&self) -> String {
        let (sign, bound) = match self.bound {
            Bound::AtLeast(b) => ("≥", b),
            Bound::AtMost(b) => ("≤", b),
            Bound::Below(b) => ("<", b),
        };
        format!("{sign} {}", self.unit.show(bound))
    }
}

impl Unit {
    fn show(self, value: f64) -> String {
        match self {
            Unit::Ratio => format!("{value:.2}×"),
            Unit::KiB => format!("{:.1} KiB", value / 1024.0),
            Unit::PerSecond if value >= 1e6 => format!("{:.2}M", value / 1e6),
            Unit::PerSecond => format!("{:.0}k", value / 1e3),
            Unit::Millis => format!("{value:.1} ms"),
        }
    }
}

/// The targets table in Markdown, with a count of the targets met.
pub fn table(targets: &[Target], figures: &BTreeMap<String, f64>) -> String {
    let mut out = String::from(
        "| measure | when set | target | this run | |\n| --- | ---: | ---: | ---: | --- |\n",
    );
    let mut met = 0;
    for target in targets {
        let (value, verdict) = match target.measured(figures) {
            Some(value) if target.met_by(value) => {
                met += 1;
                (target.unit.show(value), "met")
            }
            Some(value) => (target.unit.show(value), "**missed**"),
            None => ("–".to_owned(), "**not measured**"),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {value} | {verdict} |",
            target.measure,
            target.before,
            target.bound_text()
        );
    }
    let _ = write!(out, "\n{met} of {} targets met.", targets.len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_says_met_missed_or_not_measured() {
        let figures = BTreeMap::from([
            ("rust.binary.encode.vs.serde_json".to_owned(), 15.0),
            ("rust.binary.encode.vs.postcard".to_owned(), 2.9),
            ("idle.heap_per_connection.1000".to_owned(), 2900.0),
            ("idle.heap_per_connection.5000".to_owned(), 3100.0),
            ("front_end.ms".to_owned(), 99.9),
        ]);
        let table = table(TARGETS, &figures);
        let row = |measure: &str| {
            table
                .lines()
                .find(|line| line.starts_with(&format!("| {measure} |")))
                .unwrap_or_default()
                .to_owned()
        };
        assert!(row("Rust binary encode vs serde_json").ends_with("| 15.00× | met |"));
        assert!(row("Rust binary encode vs postcard").ends_with("| 2.90× | **missed** |"));
        assert!(row("Rust binary encode vs prost").ends_with("| – | **not measured** |"));
        // The worst size decides: 3.0 KiB at one size is not enough.
        assert!(
            row("heap per idle connection (the largest over the run's sizes)")
                .ends_with("| 3.0 KiB | **missed** |")
        );
        assert!(
            row("schema front end, 4,000 message versions (parse, check, assign)")
                .ends_with("| 99.9 ms | met |")
        );
        assert!(table.ends_with(&format!("2 of {} targets met.", TARGETS.len())));
    }
}
