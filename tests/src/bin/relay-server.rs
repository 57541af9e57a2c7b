//! A standalone relay server: what `Server::serve` gives an application in
//! one call (drain on SIGTERM/SIGINT, health route, heartbeat). Used by the
//! signal test and handy for poking at the runtime by hand:
//!
//! ```text
//! cargo run -p tagwire-tests --bin relay-server -- 127.0.0.1:8080 --grace-ms 20000
//! ```

use std::time::Duration;

use tagwire::server::{Connection, Handler, Server, ServerConfig};
use tagwire_tests::relay::{self, ClientMessage};

struct Relay;

impl Handler<relay::Package> for Relay {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: ClientMessage) {
        tagwire_tests::relay_app::relay(conn, message);
    }
}

fn usage() -> ! {
    eprintln!("usage: relay-server ADDR [--grace-ms N] [--window-ms N] [--ping-ms N]");
    std::process::exit(2)
}

fn millis(value: Option<String>) -> Duration {
    match value.and_then(|v| v.parse().ok()) {
        Some(ms) => Duration::from_millis(ms),
        None => usage(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else { usage() };
    let mut config = ServerConfig::default();
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--grace-ms" => config.drain.grace = millis(args.next()),
            "--window-ms" => config.drain.window = millis(args.next()),
            "--ping-ms" => config.heartbeat.ping_interval = millis(args.next()),
            _ => usage(),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // The test reads this line to learn the port.
    println!("listening on {}", listener.local_addr()?);
    Server::new(Relay, config).serve(listener).await?;
    println!("drained");
    Ok(())
}
