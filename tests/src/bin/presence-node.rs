//! A server node reduced to its broadcast backend, as a process of its own
//! so that a test can kill it with SIGKILL: it connects to an engine, makes
//! members present in a room, prints `ready`, and waits to be killed. The
//! other nodes must then remove its members once its lease runs out
//! (tests/tests/scale/engines/kill.rs).
//!
//! ```text
//! presence-node redis:redis://127.0.0.1:26379 --prefix try --room lobby --members 3 --lease-ms 600
//! ```

use std::time::Duration;

use tagwire::server::backend::{Bytes, HistoryWindow, PresenceConfig};
use tagwire_tests::engine::{EngineSpec, connect};

#[derive(Debug, clap::Parser)]
struct Args {
    /// `redis:URL` (see tagwire_tests::engine).
    engine: EngineSpec,
    #[arg(long)]
    prefix: String,
    #[arg(long)]
    room: String,
    /// Members `m0`, `m1`, … each with state `s`.
    #[arg(long)]
    members: usize,
    #[arg(long)]
    lease_ms: u64,
    #[arg(long)]
    linger_ms: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Args = clap::Parser::parse();
    let presence = PresenceConfig {
        lease: Duration::from_millis(args.lease_ms),
        linger: Duration::from_millis(args.linger_ms),
        ..PresenceConfig::default()
    };
    let node = connect(
        &args.engine,
        &args.prefix,
        HistoryWindow::default(),
        presence,
    )
    .await?;
    for (conn, i) in (0..args.members).enumerate() {
        node.presence_set(
            &args.room,
            &format!("m{i}"),
            conn as u64,
            Bytes::from_static(b"s"),
        )
        .await?;
    }
    println!("ready");
    // Renewing leases is the backend's own task; the node only waits.
    std::future::pending::<()>().await;
    Ok(())
}
