//! The servers under test. Each runs on the caller's tokio runtime, accepts
//! on the given listener and counts its open WebSocket connections.

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::ValueEnum;
use futures_util::{SinkExt, StreamExt};
use tagwire::server::{Connection, Handler, Server, ServerConfig, ServerHandle};
use tagwire_tests::relay;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

/// A server the benchmark can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Contender {
    /// tokio-tungstenite 0.29 `accept_async` with its default config: one
    /// task per connection that echoes data frames and sends no pings.
    Baseline,
    /// The baseline plus a hand-written Tagwire heartbeat: a tokio interval
    /// per connection sends `_a`, and a connection silent for 45 s is closed.
    BaselinePing,
    /// `tagwire::server::Server` for the `relay` package, default config but
    /// for the ping interval, served standalone (`Server::serve`: axum and hyper).
    Tagwire,
    /// The same server fed accepted sockets directly (`Server::serve_io`),
    /// without axum and hyper: what the HTTP layer costs per connection.
    TagwireIo,
}

impl Contender {
    pub fn name(self) -> &'static str {
        match self {
            Contender::Baseline => "baseline",
            Contender::BaselinePing => "baseline-ping",
            Contender::Tagwire => "tagwire",
            Contender::TagwireIo => "tagwire-io",
        }
    }

    /// Whether the contender sends heartbeats (and so runs once per interval).
    pub fn pings(self) -> bool {
        !matches!(self, Contender::Baseline)
    }
}

/// A started server: how many connections it holds right now.
pub struct Running {
    connections: Box<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("connections", &(self.connections)())
            .finish()
    }
}

impl Running {
    pub fn connections(&self) -> usize {
        (self.connections)()
    }
}

/// Starts `contender` on `listener`; must be called inside the runtime.
pub fn start(
    contender: Contender,
    ping_interval: Duration,
    listener: TcpListener,
) -> Result<Running, Box<dyn Error>> {
    match contender {
        Contender::Baseline => Ok(baseline(listener, None)),
        Contender::BaselinePing => Ok(baseline(listener, Some(ping_interval))),
        Contender::Tagwire => tagwire_server(listener, ping_interval, true),
        Contender::TagwireIo => tagwire_server(listener, ping_interval, false),
    }
}

/// The silence after which the hand-written heartbeat closes a connection
/// (Tagwire's default pong timeout).
const PONG_TIMEOUT: Duration = Duration::from_secs(45);

/// tokio-tungstenite's `accept_async` with its default config, one task
/// per connection that echoes data frames; with `ping_interval`, the
/// hand-written heartbeat of [`Contender::BaselinePing`].
pub fn baseline(listener: TcpListener, ping_interval: Option<Duration>) -> Running {
    let open = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&open);
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, usually: the run will report
                    // fewer connections than asked for.
                    eprintln!("baseline: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let counter = Arc::clone(&counter);
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                counter.fetch_add(1, Ordering::Relaxed);
                match ping_interval {
                    None => echo(ws).await,
                    Some(interval) => echo_with_heartbeat(ws, interval).await,
                }
                counter.fetch_sub(1, Ordering::Relaxed);
            });
        }
    });
    Running {
        connections: Box::new(move || open.load(Ordering::Relaxed)),
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn echo(mut ws: Ws) {
    while let Some(Ok(frame)) = ws.next().await {
        if (frame.is_text() || frame.is_binary()) && ws.send(frame).await.is_err() {
            break;
        }
    }
}

async fn echo_with_heartbeat(mut ws: Ws, interval: Duration) {
    let mut ticks = tokio::time::interval_at(Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_pong = Instant::now();
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                if last_pong.elapsed() > PONG_TIMEOUT {
                    let _ = ws.close(None).await;
                    return;
                }
                if ws.send(Message::text("_a")).await.is_err() {
                    return;
                }
            }
            frame = ws.next() => {
                let Some(Ok(frame)) = frame else { return };
                let is_pong = match &frame {
                    Message::Text(text) => text.as_str() == "_b",
                    Message::Binary(bytes) => &bytes[..] == b"_b",
                    _ => continue,
                };
                if is_pong {
                    last_pong = Instant::now();
                } else if ws.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The Tagwire server's application: accepts every message, does nothing.
#[derive(Debug)]
struct Idle;

impl Handler<relay::Package> for Idle {
    async fn on_message(&self, _conn: &Connection<relay::Package>, _message: relay::ClientMessage) {
    }
}

fn tagwire_server(
    listener: TcpListener,
    ping_interval: Duration,
    via_axum: bool,
) -> Result<Running, Box<dyn Error>> {
    let (running, _handle) = tagwire(Idle, config_with_ping(ping_interval), listener, via_axum);
    Ok(running)
}

/// The default server config with another ping interval (and a pong
/// timeout above it).
pub fn config_with_ping(ping_interval: Duration) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.heartbeat.ping_interval = ping_interval;
    if config.heartbeat.pong_timeout <= ping_interval {
        config.heartbeat.pong_timeout = ping_interval * 3 / 2;
    }
    config
}

/// The environment variable that turns the Tagwire contenders' metrics on
/// (`ServerConfig::metrics`): set to `1` for the runner, it reaches every
/// server process it starts, so one command measures either way
/// (docs/BENCHMARKS.md, "What metrics cost").
pub const METRICS_ENV: &str = "TAGWIRE_BENCH_METRICS";

/// `config` with metrics recorded when [`METRICS_ENV`] is `1`.
pub fn with_metrics(config: ServerConfig) -> ServerConfig {
    let on = std::env::var(METRICS_ENV).is_ok_and(|v| v == "1") || config.metrics;
    config.with_metrics(on)
}

/// Starts a Tagwire server for the `relay` package with `handler` on
/// `listener`: through `Server::serve` (axum and hyper, as an application
/// serves it) when `via_axum`, else fed accepted sockets through
/// `Server::serve_io`. Must be called inside the runtime.
pub fn tagwire<H: Handler<relay::Package>>(
    handler: H,
    config: ServerConfig,
    listener: TcpListener,
    via_axum: bool,
) -> (Running, ServerHandle<relay::Package>) {
    let server = Server::new(handler, with_metrics(config));
    let handle = server.handle();
    let counted = handle.clone();
    if via_axum {
        tokio::spawn(async move {
            if let Err(e) = server.serve(listener).await {
                eprintln!("tagwire: serve: {e}");
            }
        });
    } else {
        tokio::spawn(async move {
            loop {
                let (stream, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        eprintln!("tagwire-io: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let server = server.clone();
                tokio::spawn(async move {
                    let _ = server.serve_io(stream, Some(peer)).await;
                });
            }
        });
    }
    let running = Running {
        connections: Box::new(move || counted.connection_count()),
    };
    (running, handle)
}
