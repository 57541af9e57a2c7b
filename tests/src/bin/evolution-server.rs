//! The live-room server (tagwire_tests::evolution::app) built from either
//! week's protocol, for the deploy tests in
//! tests/typescript/test/evolution.test.ts: start it with `--protocol v1`,
//! drain it with SIGTERM, start it again with `--protocol v2` behind the same
//! address.
//!
//! ```text
//! cargo run -p tagwire-tests --bin evolution-server -- 127.0.0.1:8080 --protocol v2
//! ```
//!
//! Prints `listening on ADDR`, then `handled {json line}` for each message
//! the handler receives, and `drained` when it has drained.

use std::time::Duration;

use tagwire::server::{Server, ServerConfig};
use tagwire_tests::evolution::app::{LiveV1, LiveV2, Observer};

fn usage() -> ! {
    eprintln!(
        "usage: evolution-server ADDR --protocol v1|v2 [--grace-ms N] [--window-ms N] [--reconnect-window-ms N]"
    );
    std::process::exit(2)
}

fn millis(value: Option<String>) -> Duration {
    match value.and_then(|v| v.parse().ok()) {
        Some(ms) => Duration::from_millis(ms),
        None => usage(),
    }
}

fn print_handled() -> Observer {
    Box::new(|line| println!("handled {line}"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else { usage() };
    let mut config = ServerConfig::default();
    let mut protocol = None;
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--protocol" => protocol = args.next(),
            "--grace-ms" => config.drain.grace = millis(args.next()),
            "--window-ms" => config.drain.window = millis(args.next()),
            "--reconnect-window-ms" => config.drain.reconnect_window = millis(args.next()),
            _ => usage(),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // The test reads this line to learn the port.
    println!("listening on {}", listener.local_addr()?);
    match protocol.as_deref() {
        Some("v1") => {
            Server::new(LiveV1::new(print_handled()), config)
                .serve(listener)
                .await?
        }
        Some("v2") => {
            Server::new(LiveV2::new(print_handled()), config)
                .serve(listener)
                .await?
        }
        _ => usage(),
    }
    println!("drained");
    Ok(())
}
