//! What the test-server binaries (relay-server, evolution-server, scale-node)
//! share: the address and the drain and heartbeat flags, and the way they
//! start. Tests find the port by reading the `listening on ADDR` line, and
//! know the drain finished by reading `drained`.

use std::time::Duration;

use tagwire::server::ServerConfig;

/// Parses a binary's flags (exiting with its usage on bad ones) and sends
/// tracing to stderr, since stdout is read by the tests.
pub fn start<Cli: clap::Parser>() -> Cli {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    cli
}

/// The flags every test server takes; `#[command(flatten)]` it into the
/// binary's own parser.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Address to listen on; `127.0.0.1:0` picks a free port.
    pub addr: String,
    /// How long /health reports 503 before the first drain notice.
    #[arg(long = "grace-ms", value_name = "MS", value_parser = millis)]
    pub grace: Option<Duration>,
    /// The span after the grace over which drain notices are spread.
    #[arg(long = "window-ms", value_name = "MS", value_parser = millis)]
    pub window: Option<Duration>,
    /// How many batches that span is cut into.
    #[arg(long)]
    pub batches: Option<u32>,
    /// Announced in the notice: clients reconnect at a random moment within it.
    #[arg(long = "reconnect-window-ms", value_name = "MS", value_parser = millis)]
    pub reconnect_window: Option<Duration>,
    /// From the drain's start: connections still open then are closed.
    #[arg(long = "deadline-ms", value_name = "MS", value_parser = millis)]
    pub deadline: Option<Duration>,
    /// The heartbeat's ping interval.
    #[arg(long = "ping-ms", value_name = "MS", value_parser = millis)]
    pub ping_interval: Option<Duration>,
}

fn millis(value: &str) -> Result<Duration, std::num::ParseIntError> {
    value.parse().map(Duration::from_millis)
}

impl ServerArgs {
    /// The default configuration with the flags given applied.
    pub fn config(&self) -> ServerConfig {
        let mut config = ServerConfig::default();
        let drain = &mut config.drain;
        drain.grace = self.grace.unwrap_or(drain.grace);
        drain.window = self.window.unwrap_or(drain.window);
        drain.batches = self.batches.unwrap_or(drain.batches);
        drain.reconnect_window = self.reconnect_window.unwrap_or(drain.reconnect_window);
        drain.deadline = self.deadline.unwrap_or(drain.deadline);
        config.heartbeat.ping_interval =
            self.ping_interval.unwrap_or(config.heartbeat.ping_interval);
        config
    }

    /// Binds the address and prints `listening on ADDR`.
    pub async fn listen(&self) -> std::io::Result<tokio::net::TcpListener> {
        let listener = tokio::net::TcpListener::bind(&self.addr).await?;
        println!("listening on {}", listener.local_addr()?);
        Ok(listener)
    }
}
