//! `idle-connections`: what an idle WebSocket connection costs a server —
//! heap and RSS per connection, and the CPU its heartbeat takes — for the
//! Tagwire server and for tokio-tungstenite's defaults, measured in one run.
//!
//! Three process roles, one binary:
//! - `run` (the default): for each contender, ping interval and connection
//!   count, starts a `serve` process, collects its result line and prints a
//!   Markdown table;
//! - `serve`: runs one server in-process under a counting global allocator
//!   and measures it while a `clients` process holds N idle connections;
//! - `clients` (internal): opens the connections and answers pings.
//!
//! A separate process per measurement keeps the heap and RSS of one
//! contender out of the next one's figures. See docs/BENCHMARKS.md.

mod clients;
mod heap;
mod report;
mod serve;

use std::error::Error;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use clap::{Args, Parser, Subcommand, ValueEnum};

use report::Measurement;
use tagwire_bench::contenders::Contender;
use tagwire_bench::{figures, measure};

#[derive(Debug, Parser)]
#[command(
    name = "idle-connections",
    about = "Server heap, RSS and heartbeat CPU per idle WebSocket connection",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Measure every chosen contender in its own process and print a table (the default).
    Run(RunArgs),
    /// Measure one contender in this process and print its result line.
    Serve(ServeArgs),
    /// Open idle connections and answer pings (started by `serve`).
    #[command(hide = true)]
    Clients(ClientsArgs),
}

/// Which contenders `run` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Choice {
    /// baseline, baseline-ping and tagwire (not tagwire-io, to keep a run short).
    All,
    Baseline,
    BaselinePing,
    Tagwire,
    TagwireIo,
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Connection counts to measure, comma-separated (e.g. 1000,5000,15000).
    #[arg(long, value_delimiter = ',', default_value = "10000")]
    connections: Vec<usize>,
    /// Contenders, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "all")]
    contender: Vec<Choice>,
    /// Server ping intervals for the contenders that ping, comma-separated;
    /// each is a separate measurement.
    #[arg(long, value_delimiter = ',', default_value = "30000,1000")]
    ping_interval_ms: Vec<u64>,
    #[command(flatten)]
    timing: Timing,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Clone, Args)]
struct Timing {
    /// Seconds over which the server's CPU time is measured, once connected.
    #[arg(long, default_value_t = 60.0)]
    window_secs: f64,
    /// Seconds to wait after the last connection opened before the first reading.
    #[arg(long, default_value_t = 1.0)]
    settle_secs: f64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[arg(long, value_enum)]
    contender: Contender,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// The server's ping interval (ignored by `baseline`).
    #[arg(long, default_value_t = 30_000)]
    ping_interval_ms: u64,
    #[command(flatten)]
    timing: Timing,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Args)]
struct ClientsArgs {
    /// The server's address.
    #[arg(long)]
    server: SocketAddr,
    /// The WebSocket route.
    #[arg(long, default_value = "/ws")]
    path: String,
    #[arg(long)]
    connections: usize,
    #[command(flatten)]
    client: ClientOpts,
}

/// How the client process connects.
#[derive(Debug, Clone, Args)]
struct ClientOpts {
    /// Spread the clients over this many source addresses, 127.0.0.1 … 127.0.0.k.
    #[arg(long, default_value_t = 8)]
    source_addrs: usize,
    /// Worker threads of the client process's runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Connection handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Open the connections evenly over this many seconds. The default is
    /// one ping interval, capped at the window (0 for `baseline`): the
    /// server's pings are then spread over time as in production, where
    /// clients arrive at random moments. 0 opens them at once, so that
    /// every interval's pings come in one burst, which batches them.
    #[arg(long)]
    connect_over_secs: Option<f64>,
    /// Do not send the Tagwire hello as the first frame.
    #[arg(long)]
    no_hello: bool,
}

impl ClientOpts {
    fn append_to(&self, command: &mut Command) {
        command
            .arg("--source-addrs")
            .arg(self.source_addrs.to_string())
            .arg("--client-threads")
            .arg(self.client_threads.to_string())
            .arg("--concurrency")
            .arg(self.concurrency.to_string());
        if let Some(seconds) = self.connect_over_secs {
            command.arg("--connect-over-secs").arg(seconds.to_string());
        }
        if self.no_hello {
            command.arg("--no-hello");
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let cli = Cli::parse();
    match cli.command {
        None => run(&cli.run),
        Some(Cmd::Run(args)) => run(&args),
        Some(Cmd::Serve(args)) => {
            let measurement = serve::run(&args)?;
            println!("{}", measurement.to_line());
            Ok(())
        }
        Some(Cmd::Clients(args)) => clients::run(&args),
    }
}

/// Every (connections, contender, interval) measurement, one `serve` process each.
fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let mut contenders = Vec::new();
    for choice in &args.contender {
        let chosen: &[Contender] = match choice {
            Choice::All => &[
                Contender::Baseline,
                Contender::BaselinePing,
                Contender::Tagwire,
            ],
            Choice::Baseline => &[Contender::Baseline],
            Choice::BaselinePing => &[Contender::BaselinePing],
            Choice::Tagwire => &[Contender::Tagwire],
            Choice::TagwireIo => &[Contender::TagwireIo],
        };
        for c in chosen {
            if !contenders.contains(c) {
                contenders.push(*c);
            }
        }
    }
    let load_before = measure::load_average()?;
    let mut measurements = Vec::new();
    for &connections in &args.connections {
        for &contender in &contenders {
            let intervals: &[u64] = if contender.pings() {
                &args.ping_interval_ms
            } else {
                &[0]
            };
            for &interval in intervals {
                eprintln!(
                    "idle-connections: {} × {connections}, ping interval {interval} ms …",
                    contender.name()
                );
                let m = serve_process(args, contender, connections, interval)?;
                eprintln!("idle-connections: {}", m.to_line());
                measurements.push(m);
            }
        }
    }
    let load_after = measure::load_average()?;
    println!(
        "Command: `idle-connections {}`; load average {load_before} before, {load_after} after.\n",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    print!("{}", report::table(&measurements));
    for m in measurements.iter().filter(|m| m.contender == "tagwire") {
        figures::record(
            &format!("idle.heap_per_connection.{}", m.connections),
            m.heap_per_connection_after_window(),
        );
    }
    let verdicts = report::verdicts(&measurements);
    if !verdicts.is_empty() {
        print!("\n{verdicts}");
    }
    Ok(())
}

fn serve_process(
    args: &RunArgs,
    contender: Contender,
    connections: usize,
    ping_interval_ms: u64,
) -> Result<Measurement, Box<dyn Error>> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("serve")
        .arg("--contender")
        .arg(contender.name())
        .arg("--connections")
        .arg(connections.to_string())
        .arg("--ping-interval-ms")
        .arg(ping_interval_ms.max(1).to_string())
        .arg("--window-secs")
        .arg(args.timing.window_secs.to_string())
        .arg("--settle-secs")
        .arg(args.timing.settle_secs.to_string());
    args.client.append_to(&mut command);
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} × {connections} failed ({}): {stdout}",
            contender.name(),
            output.status
        )
        .into());
    }
    stdout
        .lines()
        .find_map(Measurement::from_line)
        .ok_or_else(|| format!("no result line from serve: {stdout}"))?
}
