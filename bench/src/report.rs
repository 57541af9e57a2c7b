//! One measurement, as the `serve` process prints it (`result key=value …`)
//! and the driver reads it back, and the Markdown table of several.

use std::error::Error;
use std::fmt::Write as _;

/// What one server process measured for one contender.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measurement {
    pub contender: String,
    /// The server's ping interval; 0 when the contender sends no pings.
    pub ping_interval_ms: u64,
    pub connections: u64,
    /// Connections the server counted as open after settling and at the end.
    pub open_after_connect: u64,
    pub open_after_window: u64,
    /// Live heap bytes before connecting, after settling, after the window.
    pub heap_before: u64,
    pub heap_connected: u64,
    pub heap_after_window: u64,
    /// Resident bytes at the same three moments.
    pub rss_before: u64,
    pub rss_connected: u64,
    pub rss_after_window: u64,
    /// CPU time the server process used during the window, and the window.
    pub cpu_us: u64,
    pub window_us: u64,
    /// Pongs the clients sent during the window, and connections they saw closed.
    pub pongs_in_window: u64,
    pub closed_by_server: u64,
    /// Seconds the client process took to open every connection.
    pub connect_secs: f64,
    /// Seconds over which the clients were asked to spread their connects.
    pub connect_over_secs: f64,
}

impl Measurement {
    /// `result contender=… ping_interval_ms=… …` on one line.
    pub fn to_line(&self) -> String {
        format!(
            "result contender={} ping_interval_ms={} connections={} open_after_connect={} \
             open_after_window={} heap_before={} heap_connected={} heap_after_window={} \
             rss_before={} rss_connected={} rss_after_window={} cpu_us={} window_us={} \
             pongs_in_window={} closed_by_server={} connect_secs={:.2} connect_over_secs={}",
            self.contender,
            self.ping_interval_ms,
            self.connections,
            self.open_after_connect,
            self.open_after_window,
            self.heap_before,
            self.heap_connected,
            self.heap_after_window,
            self.rss_before,
            self.rss_connected,
            self.rss_after_window,
            self.cpu_us,
            self.window_us,
            self.pongs_in_window,
            self.closed_by_server,
            self.connect_secs,
            self.connect_over_secs,
        )
    }

    /// Reads back [`Measurement::to_line`]; `None` for other lines.
    pub fn from_line(line: &str) -> Option<Result<Self, Box<dyn Error>>> {
        let rest = line.strip_prefix("result ")?;
        Some(Self::parse_fields(rest))
    }

    fn parse_fields(rest: &str) -> Result<Self, Box<dyn Error>> {
        let mut m = Measurement::default();
        for field in rest.split_whitespace() {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("result field without '=': {field}"))?;
            let n = || value.parse::<u64>();
            match key {
                "contender" => m.contender = value.to_owned(),
                "ping_interval_ms" => m.ping_interval_ms = n()?,
                "connections" => m.connections = n()?,
                "open_after_connect" => m.open_after_connect = n()?,
                "open_after_window" => m.open_after_window = n()?,
                "heap_before" => m.heap_before = n()?,
                "heap_connected" => m.heap_connected = n()?,
                "heap_after_window" => m.heap_after_window = n()?,
                "rss_before" => m.rss_before = n()?,
                "rss_connected" => m.rss_connected = n()?,
                "rss_after_window" => m.rss_after_window = n()?,
                "cpu_us" => m.cpu_us = n()?,
                "window_us" => m.window_us = n()?,
                "pongs_in_window" => m.pongs_in_window = n()?,
                "closed_by_server" => m.closed_by_server = n()?,
                "connect_secs" => m.connect_secs = value.parse()?,
                "connect_over_secs" => m.connect_over_secs = value.parse()?,
                _ => return Err(format!("unknown result field {key}").into()),
            }
        }
        Ok(m)
    }

    fn per_connection(&self, before: u64, after: u64) -> f64 {
        (after as f64 - before as f64) / self.connections.max(1) as f64
    }

    /// Heap bytes per connection once every connection is open and settled.
    pub fn heap_per_connection(&self) -> f64 {
        self.per_connection(self.heap_before, self.heap_connected)
    }

    /// Heap bytes per connection at the end of the window (after heartbeats).
    pub fn heap_per_connection_after_window(&self) -> f64 {
        self.per_connection(self.heap_before, self.heap_after_window)
    }

    /// Resident bytes per connection at the end of the window.
    pub fn rss_per_connection(&self) -> f64 {
        self.per_connection(self.rss_before, self.rss_after_window)
    }

    /// CPU time during the window as a percentage of one core.
    pub fn cpu_percent(&self) -> f64 {
        100.0 * self.cpu_us as f64 / self.window_us.max(1) as f64
    }

    /// Server CPU time per heartbeat (one ping sent, one pong read), in
    /// microseconds: the window's CPU time over the pongs the clients sent
    /// in it (on a loaded machine a server or client that falls behind
    /// sends fewer pings or pongs than the interval schedules). `None`
    /// without heartbeats.
    pub fn cpu_us_per_ping(&self) -> Option<f64> {
        if self.ping_interval_ms == 0 || self.pongs_in_window == 0 {
            return None;
        }
        Some(self.cpu_us as f64 / self.pongs_in_window as f64)
    }

    /// What makes this measurement suspect, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.open_after_connect != self.connections || self.open_after_window != self.connections
        {
            problems.push(format!(
                "server held {}/{} connections",
                self.open_after_connect.min(self.open_after_window),
                self.connections
            ));
        }
        // Shorter windows may fall between two pings of every connection.
        if self.ping_interval_ms > 0 && self.window_us / 1000 >= self.ping_interval_ms {
            let scheduled = self.connections as f64 * self.window_us as f64
                / 1000.0
                / self.ping_interval_ms as f64;
            if (self.pongs_in_window as f64) < 0.95 * scheduled {
                problems.push(format!(
                    "{:.0} % of the scheduled pongs: machine overloaded",
                    100.0 * self.pongs_in_window as f64 / scheduled
                ));
            }
        }
        if self.closed_by_server > 0 {
            problems.push(format!("{} closed by the server", self.closed_by_server));
        }
        problems
    }
}

fn kib(bytes: f64) -> String {
    format!("{:.1} KiB", bytes / 1024.0)
}

/// The Markdown table of every measurement, in order.
pub fn table(measurements: &[Measurement]) -> String {
    let mut out = String::new();
    out.push_str(
        "| contender | ping interval | connections | connects | heap / conn | heap / conn after \
         window | heap vs baseline | RSS / conn | CPU, % of one core | CPU per ping | pongs in \
         window | notes |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for m in measurements {
        let baseline = measurements
            .iter()
            .find(|b| b.contender == "baseline" && b.connections == m.connections)
            .or_else(|| {
                measurements
                    .iter()
                    .find(|b| b.contender == "baseline-ping" && b.connections == m.connections)
            })
            .map(Measurement::heap_per_connection_after_window);
        let ratio = match baseline {
            Some(b) if b > 0.0 => format!("{:.3}×", m.heap_per_connection_after_window() / b),
            _ => "–".to_owned(),
        };
        let interval = if m.ping_interval_ms == 0 {
            "none".to_owned()
        } else {
            format!("{} s", m.ping_interval_ms as f64 / 1000.0)
        };
        let mut notes = m.problems();
        notes.push(format!(
            "window {:.0} s; connect {:.1} s",
            m.window_us as f64 / 1e6,
            m.connect_secs
        ));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.3} | {} | {} | {} |",
            m.contender,
            interval,
            m.connections,
            if m.connect_over_secs > 0.0 {
                format!("over {} s", m.connect_over_secs)
            } else {
                "at once".to_owned()
            },
            kib(m.heap_per_connection()),
            kib(m.heap_per_connection_after_window()),
            ratio,
            kib(m.rss_per_connection()),
            m.cpu_percent(),
            m.cpu_us_per_ping()
                .map_or_else(|| "–".to_owned(), |us| format!("{us:.1} µs")),
            m.pongs_in_window,
            notes.join("; "),
        );
    }
    out
}

/// The targets, checked against the measurements that bear on them.
pub fn verdicts(measurements: &[Measurement]) -> String {
    let mut out = String::new();
    for m in measurements.iter().filter(|m| m.contender == "tagwire") {
        let heap = m.heap_per_connection_after_window();
        if let Some(b) = measurements
            .iter()
            .find(|b| b.contender == "baseline" && b.connections == m.connections)
        {
            let times = b.heap_per_connection_after_window() / heap.max(1.0);
            let met = heap <= 8.0 * 1024.0 && times >= 10.0;
            let _ = writeln!(
                out,
                "- Heap target (at most 8 KiB per idle connection, at least 10× better than \
                 tokio-tungstenite's defaults), {} connections: {}, {times:.0}× better: **{}**.",
                m.connections,
                kib(heap),
                if met { "met" } else { "missed" }
            );
        }
        if m.ping_interval_ms == 30_000 && m.connections >= 10_000 && m.pongs_in_window > 0 {
            let cpu = m.cpu_percent();
            let versus = measurements
                .iter()
                .find(|b| {
                    b.contender == "baseline-ping"
                        && b.ping_interval_ms == m.ping_interval_ms
                        && b.connections == m.connections
                        && (b.connect_over_secs > 0.0) == (m.connect_over_secs > 0.0)
                })
                .map_or_else(String::new, |b| {
                    format!(
                        " (a tokio interval per connection: {:.2} %, {:.1}× as much)",
                        b.cpu_percent(),
                        b.cpu_percent() / cpu.max(1e-9)
                    )
                });
            let _ = writeln!(
                out,
                "- Heartbeat target (under 1 % of a core for {} connections at 30 s), connects {}: \
                 {cpu:.2} %{versus}: **{}**.",
                m.connections,
                if m.connect_over_secs > 0.0 {
                    "spread over the interval"
                } else {
                    "at once"
                },
                if cpu < 1.0 { "met" } else { "missed" }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_round_trip() {
        let m = Measurement {
            contender: "tagwire".into(),
            ping_interval_ms: 30_000,
            connections: 10_000,
            open_after_connect: 10_000,
            open_after_window: 10_000,
            heap_before: 1,
            heap_connected: 2,
            heap_after_window: 3,
            rss_before: 4,
            rss_connected: 5,
            rss_after_window: 6,
            cpu_us: 7,
            window_us: 8,
            pongs_in_window: 9,
            closed_by_server: 0,
            connect_secs: 1.5,
            connect_over_secs: 30.0,
        };
        let back = Measurement::from_line(&m.to_line()).map(|r| r.map_err(|e| e.to_string()));
        assert_eq!(back, Some(Ok(m)));
        assert!(Measurement::from_line("ready 10").is_none());
    }
}
