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

use clap::{Parser, ValueEnum};
use tagwire::server::Server;
use tagwire_tests::evolution::app::{LiveV1, LiveV2, Observer};
use tagwire_tests::test_server::{self, ServerArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Protocol {
    V1,
    V2,
}

/// The live-room server of either week.
#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// Which week's schema the server is built from.
    #[arg(long)]
    protocol: Protocol,
}

fn print_handled() -> Observer {
    Box::new(|line| println!("handled {line}"))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli: Cli = test_server::start();
    let config = cli.server.config();
    let listener = cli.server.listen().await?;
    match cli.protocol {
        Protocol::V1 => {
            Server::new(LiveV1::new(print_handled()), config)
                .serve(listener)
                .await?
        }
        Protocol::V2 => {
            Server::new(LiveV2::new(print_handled()), config)
                .serve(listener)
                .await?
        }
    }
    println!("drained");
    Ok(())
}
