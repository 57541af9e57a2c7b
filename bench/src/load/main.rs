//! `runtime-load`: the Tagwire server under load, each benchmark a
//! subcommand that prints a Markdown section (docs/BENCHMARKS.md,
//! `scripts/bench`):
//!
//! - `echo`: messages per second through an echo, the Tagwire server (the
//!   `relay` protocol's `Echo`) against a plain tokio-tungstenite echo
//!   server, the same frames from the same client process;
//! - `fan-out`: deliveries per second from `ServerHandle::broadcast` to
//!   the members of one room, counted by the receiving clients;
//! - `drain`: one drain of N connected `tagwire::client::Client`s onto a
//!   second server: how long it takes, and the reconnects per 100 ms.
//!
//! Every measurement runs its server in a process of its own and the client
//! load in another (started by the server process), so that CPU time is
//! charged to the side that spent it. See docs/BENCHMARKS.md.

mod drain;
mod echo;
mod fanout;

use std::error::Error;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "runtime-load",
    about = "Echo throughput, fan-out and drain of the Tagwire server"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Echo throughput, Tagwire against tokio-tungstenite; prints a table.
    Echo(echo::RunArgs),
    /// Broadcast deliveries per second to one room; prints a table.
    FanOut(fanout::RunArgs),
    /// One drain of N connected clients onto a second server; prints a
    /// table and the reconnects per 100 ms.
    Drain(drain::RunArgs),
    #[command(hide = true)]
    EchoServe(echo::ServeArgs),
    #[command(hide = true)]
    EchoClients(echo::ClientsArgs),
    #[command(hide = true)]
    FanOutServe(fanout::ServeArgs),
    #[command(hide = true)]
    FanOutClients(fanout::ClientsArgs),
    #[command(hide = true)]
    DrainClients(drain::ClientsArgs),
}

/// How a client process connects.
#[derive(Debug, Clone, Args)]
pub struct ClientOpts {
    /// Spread the clients over this many source addresses, 127.0.0.1 … 127.0.0.k.
    #[arg(long, default_value_t = 8)]
    pub source_addrs: usize,
    /// Worker threads of the client process's runtime.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Connection handshakes in flight at once.
    #[arg(long, default_value_t = 128)]
    pub concurrency: usize,
}

impl ClientOpts {
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "--source-addrs".into(),
            self.source_addrs.to_string(),
            "--client-threads".into(),
            self.client_threads.to_string(),
            "--concurrency".into(),
            self.concurrency.to_string(),
        ]
    }

    /// The client process's runtime.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.client_threads.max(1))
            .enable_all()
            .build()
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    match Cli::parse().command {
        Cmd::Echo(args) => echo::run(&args),
        Cmd::FanOut(args) => fanout::run(&args),
        Cmd::Drain(args) => drain::run(&args),
        Cmd::EchoServe(args) => echo::serve(&args),
        Cmd::EchoClients(args) => echo::clients(&args),
        Cmd::FanOutServe(args) => fanout::serve(&args),
        Cmd::FanOutClients(args) => fanout::clients(&args),
        Cmd::DrainClients(args) => drain::clients(&args),
    }
}

/// `n` with thousands separators (12,345).
pub fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The command line this process was started with, for the report.
pub fn command_line() -> String {
    std::env::args().skip(1).collect::<Vec<_>>().join(" ")
}
