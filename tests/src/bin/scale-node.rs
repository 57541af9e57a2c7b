//! One node of a scaled-out relay (docs/SCALE.md): a Tagwire server whose
//! rooms reach every node through Redis, for the rolling-deploy test behind
//! HAProxy (tests/tests/scale/rolling_deploy.rs) and for trying a deploy by hand.
//!
//! ```text
//! scripts/services start && . target/services/env
//! cargo run -p tagwire-tests --bin scale-node -- 127.0.0.1:8081 --redis "$TAGWIRE_REDIS_URL" \
//!     --prefix try --grace-ms 25000 --window-ms 5000 --reconnect-window-ms 5000
//! ```
//!
//! Clients speak the relay protocol: `Join` a room, `Publish` to it. A publish
//! goes to Redis (one order per room across nodes) and comes back to every
//! node subscribed to the room, which delivers it to its members as
//! `Delivered { room, from: the publishing connection, seq: the publisher's
//! own counter, body }` in a room-message envelope with its position.
//! SIGTERM drains the node (health 503, grace, notices over the window).
//!
//! Prints `listening on ADDR` once connected to Redis, `phase NAME
//! UNIX_MS` at each drain phase, and `drained` at the end.
//!
//! The node's rooms go through a `RedisBackend` (`ServerConfig::backend`):
//! each room message gets its position from Redis, reaches the room's members
//! on every node in one order, and a client that a drain moved presents its
//! last position on its next node, which replays what it missed from the
//! room's stream.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tagwire::server::backend::{Backend, HistoryWindow, RedisBackend, RedisConfig};
use tagwire::server::{Connection, DrainPhase, Handler, Server};
use tagwire_tests::relay::{self, ClientMessage, DeliveredV1, ServerMessage};
use tagwire_tests::test_server::{self, ServerArgs};

/// The relay, with publishes awaited so that a refused one is logged here
/// (Redis away: `Unavailable`; a lost reply: `Uncertain`).
struct Node;

impl Handler<relay::Package> for Node {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: ClientMessage) {
        match message {
            ClientMessage::PublishV1(p) => {
                let delivered = ServerMessage::DeliveredV1(DeliveredV1 {
                    room: p.room.clone(),
                    from: conn.id().to_string(),
                    seq: p.seq,
                    body: p.body,
                });
                // Awaited here: one connection's publishes stay in its order.
                if let Err(error) = conn.publish(&p.room, &delivered).await {
                    eprintln!("publish to {} refused: {error}", p.room);
                }
            }
            other => tagwire_tests::relay_app::relay(conn, other),
        }
    }
}

/// One node of the scaled-out relay.
#[derive(Debug, clap::Parser)]
struct Cli {
    #[command(flatten)]
    server: ServerArgs,
    /// The Redis server the rooms go through.
    #[arg(long, value_name = "URL")]
    redis: String,
    /// Prefix of this cluster's Redis keys and channels.
    #[arg(long, default_value = "tagwire")]
    prefix: String,
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

fn phase_name(phase: &DrainPhase) -> &'static str {
    match phase {
        DrainPhase::Serving => "serving",
        DrainPhase::Grace => "grace",
        DrainPhase::Closing => "closing",
        DrainPhase::Done(_) => "done",
        _ => "other",
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli: Cli = test_server::start();
    let redis = RedisConfig::new(cli.redis)
        .with_prefix(cli.prefix)
        .with_window(HistoryWindow::default());
    let backend: Arc<dyn Backend> = Arc::new(
        RedisBackend::connect(redis)
            .await
            .map_err(|e| std::io::Error::other(format!("redis: {e}")))?,
    );
    let server = Server::new(Node, cli.server.config().with_backend(backend));
    let handle = server.handle();

    tokio::spawn(async move {
        let mut last = "serving";
        loop {
            let name = phase_name(&handle.phase());
            if name != last {
                println!("phase {name} {}", unix_ms());
                last = name;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });

    let listener = cli.server.listen().await?;
    server.serve(listener).await?;
    println!("drained");
    Ok(())
}
