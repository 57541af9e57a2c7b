//! A standalone relay server: what `Server::serve` gives an application in
//! one call (drain on SIGTERM/SIGINT, health route, heartbeat). Used by the
//! signal test and handy for poking at the runtime by hand:
//!
//! ```text
//! cargo run -p tagwire-tests --bin relay-server -- 127.0.0.1:8080 --grace-ms 20000
//! ```

use tagwire::server::{Connection, Handler, Server};
use tagwire_tests::relay::{self, ClientMessage};
use tagwire_tests::test_server::{self, ServerArgs};

struct Relay;

impl Handler<relay::Package> for Relay {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: ClientMessage) {
        tagwire_tests::relay_app::relay(conn, message);
    }
}

/// The relay protocol's test server.
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli: Cli = test_server::start();
    let listener = cli.server.listen().await?;
    Server::new(Relay, cli.server.config())
        .serve(listener)
        .await?;
    println!("drained");
    Ok(())
}
