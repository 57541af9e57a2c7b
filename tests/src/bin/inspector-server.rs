//! The relay server with the live inspector on at `/_inspect`, its token
//! given as a flag (docs/OPERATING.md, "The live inspector"). Started by
//! the browser test tests/browser/test/inspector.test.mjs:
//!
//! ```text
//! cargo run -p tagwire-tests --bin inspector-server -- 127.0.0.1:0 --token secret
//! ```

use tagwire::server::{Connection, Handler, InspectorConfig, Server};
use tagwire_tests::relay::{self, ClientMessage};
use tagwire_tests::test_server::{self, ServerArgs};

struct Relay;

impl Handler<relay::Package> for Relay {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: ClientMessage) {
        tagwire_tests::relay_app::relay(conn, message);
    }
}

/// The relay protocol's test server, inspected.
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// The inspector's token.
    #[arg(long)]
    token: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli: Cli = test_server::start();
    let listener = cli.server.listen().await?;
    let config = cli
        .server
        .config()
        .with_inspector(Some(InspectorConfig::new("/_inspect", cli.token)));
    Server::new(Relay, config).serve(listener).await?;
    println!("drained");
    Ok(())
}
