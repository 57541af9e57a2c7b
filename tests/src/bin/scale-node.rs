//! One node of a scaled-out relay (issue 11): a Tagwire server whose rooms
//! reach every node through Redis, for the rolling-deploy test behind HAProxy
//! (tests/tests/rolling_deploy.rs) and for trying a deploy by hand.
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
use tagwire::server::{Connection, DrainPhase, Handler, Server, ServerConfig};
use tagwire_tests::relay::{self, ClientMessage, DeliveredV1, ServerMessage};

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

fn usage() -> ! {
    eprintln!(
        "usage: scale-node ADDR --redis URL [--prefix P] [--grace-ms N] [--window-ms N] \
         [--batches N] [--reconnect-window-ms N] [--deadline-ms N]"
    );
    std::process::exit(2)
}

fn number<T: std::str::FromStr>(value: Option<String>) -> T {
    match value.and_then(|v| v.parse().ok()) {
        Some(n) => n,
        None => usage(),
    }
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
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args().skip(1);
    let Some(addr) = args.next() else { usage() };
    let mut config = ServerConfig::default();
    let mut redis_url = None;
    let mut prefix = String::from("tagwire");
    while let Some(flag) = args.next() {
        let ms = |value| Duration::from_millis(number(value));
        match flag.as_str() {
            "--redis" => redis_url = args.next(),
            "--prefix" => prefix = args.next().unwrap_or_else(|| usage()),
            "--grace-ms" => config.drain.grace = ms(args.next()),
            "--window-ms" => config.drain.window = ms(args.next()),
            "--batches" => config.drain.batches = number(args.next()),
            "--reconnect-window-ms" => config.drain.reconnect_window = ms(args.next()),
            "--deadline-ms" => config.drain.deadline = ms(args.next()),
            _ => usage(),
        }
    }
    let Some(redis_url) = redis_url else { usage() };

    let redis = RedisConfig::new(redis_url)
        .with_prefix(prefix)
        .with_window(HistoryWindow::default());
    let backend: Arc<dyn Backend> = Arc::new(
        RedisBackend::connect(redis)
            .await
            .map_err(|e| std::io::Error::other(format!("redis: {e}")))?,
    );
    let server = Server::new(Node, config.with_backend(backend));
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

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    // The test reads this line to learn the port.
    println!("listening on {}", listener.local_addr()?);
    server.serve(listener).await?;
    println!("drained");
    Ok(())
}
