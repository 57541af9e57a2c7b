//! Fan-out: one room of N subscribers; the server process calls
//! `ServerHandle::broadcast(room, &msg)` in a loop with a `Delivered`
//! message of about 100 bytes, and the client process counts what every
//! subscriber receives.
//!
//! Flow control, so that the broadcaster neither idles nor overruns the
//! per-connection queues (256 frames by default, beyond which a client is
//! a slow consumer): the client process reports, on one extra connection
//! outside the room, the number of broadcasts every subscriber has
//! received (an `Echo` whose `seq` is the minimum, every 2 ms); the
//! broadcaster keeps at most `window` broadcasts beyond it.
//!
//! Process roles: `fan-out` (driver) → `fan-out-serve` (the server and the
//! broadcaster, measured) → `fan-out-clients` (the subscribers).

use std::error::Error;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use tagwire::Protocol;
use tagwire::server::backend::{HistoryWindow, PresenceConfig};
use tagwire::server::{Connection, Handler, ServerConfig, ServerHandle};
use tagwire_bench::child::{LineChild, say, serve_stdin};
use tagwire_bench::contenders;
use tagwire_bench::figures;
use tagwire_bench::measure::{cpu_time, load_average};
use tagwire_bench::net::{self, Ws};
use tagwire_bench::record::Record;
use tagwire_tests::engine::{self, EngineSpec};
use tagwire_tests::relay;
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::{ClientOpts, thousands};

const ROOM: &str = "fan";

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Subscriber counts, comma-separated; one measurement each.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    subscribers: Vec<usize>,
    #[command(flatten)]
    opts: Opts,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Clone, Args)]
pub struct Opts {
    /// Bytes of each broadcast frame (text encoding), about.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Broadcasts the server may be ahead of the slowest subscriber.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Seconds of broadcasting before the measurement starts.
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
    /// Rooms go through this engine (`redis:URL`,
    /// `redis-cluster:URL,URL,...`, `nats:URL`, see `tagwire_tests::engine`) instead of the in-process backend, so each
    /// broadcast makes the round trip a scaled-out node's does: publish to
    /// the engine, back by its fan-out, decode, deliver. The engine's own
    /// CPU is not counted.
    #[arg(long, value_name = "SPEC")]
    engine: Option<EngineSpec>,
}

impl Opts {
    fn to_args(&self) -> Vec<String> {
        vec![
            "--size".into(),
            self.size.to_string(),
            "--window".into(),
            self.window.to_string(),
            "--secs".into(),
            self.secs.to_string(),
            "--warmup-secs".into(),
            self.warmup_secs.to_string(),
        ]
        .into_iter()
        .chain(
            self.engine
                .iter()
                .flat_map(|spec| ["--engine".to_owned(), spec.to_string()]),
        )
        .collect()
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long)]
    subscribers: usize,
    #[command(flatten)]
    opts: Opts,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Args)]
pub struct ClientsArgs {
    #[arg(long)]
    server: SocketAddr,
    #[arg(long)]
    subscribers: usize,
    #[command(flatten)]
    client: ClientOpts,
}

pub fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let load_before = load_average()?;
    let mut results = Vec::new();
    for &n in &args.subscribers {
        eprintln!("fan-out: {n} subscribers …");
        let mut command = vec![
            "fan-out-serve".to_owned(),
            "--subscribers".into(),
            n.to_string(),
        ];
        command.extend(args.opts.to_args());
        command.extend(args.client.to_args());
        let mut child = LineChild::spawn_self("fan-out-serve", &command)?;
        let record = Record::parse(&child.expect("result")?)?;
        child.finish()?;
        eprintln!("fan-out: {}", record.to_line());
        // A benchmark whose clients count nothing measures nothing: fail
        // rather than print a table of zeros (a change in what the clients
        // receive, such as the room-message envelope, can make them count
        // nothing without any error).
        if record.num("deliveries") == 0.0 {
            return Err(format!(
                "fan-out to {n} subscribers: the clients counted no deliveries (the broadcaster \
                 sent {} in all; the slowest subscriber acknowledged {})",
                record.num("sent_total"),
                record.num("acked"),
            )
            .into());
        }
        results.push(record);
    }
    let load_after = load_average()?;
    let mut out = String::new();
    out.push_str(
        "| subscribers | frame | broadcasts/s | deliveries/s | server CPU | deliveries per \
         server CPU-second | client CPU per delivery | slow consumers |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let mut verdicts = Vec::new();
    for r in &results {
        let secs = r.num("secs").max(1e-9);
        let deliveries = r.num("deliveries");
        let server_cpu = r.num("server_cpu_us") / 1e6;
        let per_core = deliveries / server_cpu.max(1e-9);
        figures::record(
            &format!(
                "fanout.{}.{}.per_server_cpu_second",
                args.opts.engine.as_ref().map_or("local", EngineSpec::name),
                r.num("subscribers")
            ),
            per_core,
        );
        verdicts.push(format!(
            "{}: **{}** per server core-second ({})",
            thousands(r.num("subscribers")),
            thousands(per_core),
            if per_core >= 150_000.0 {
                "met"
            } else {
                "missed"
            }
        ));
        let _ = writeln!(
            out,
            "| {} | {} B | {} | {} | {:.0} % | **{}** | {:.2} µs | {} |",
            thousands(r.num("subscribers")),
            r.num("frame_bytes"),
            thousands(r.num("broadcasts") / secs),
            thousands(deliveries / secs),
            100.0 * server_cpu / secs,
            thousands(per_core),
            r.num("client_cpu_us") / deliveries.max(1.0),
            r.num("slow_consumers"),
        );
    }
    println!("{out}");
    println!(
        "Target (at least 150,000 deliveries per second per core, 100-byte messages): {}.\n",
        verdicts.join("; ")
    );
    println!(
        "Load average {load_before} before, {load_after} after; {} s measured after {} s of \
         warm-up; at most {} broadcasts ahead of the slowest subscriber; client process on {} \
         thread(s).",
        args.opts.secs, args.opts.warmup_secs, args.opts.window, args.client.client_threads
    );
    match &args.opts.engine {
        Some(spec) => println!(
            "Backend: {} (the engine's own CPU not counted; slow consumers not counted, since \
             `broadcast` returns before delivery).",
            spec.name()
        ),
        None => println!("Backend: in-process (LocalBackend, the default)."),
    }
    Ok(())
}

/// The server's application: joins rooms, and takes the client process's
/// progress reports (`Echo` with the slowest subscriber's count).
#[derive(Debug, Default)]
struct FanOut {
    acked: AtomicU64,
    progress: Notify,
}

impl Handler<relay::Package> for FanOut {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: relay::ClientMessage) {
        match message {
            relay::ClientMessage::JoinV1(join) => conn.join(&join.room),
            relay::ClientMessage::EchoV1(echo) => {
                self.acked.fetch_max(echo.seq, Ordering::Relaxed);
                self.progress.notify_waiters();
            }
            _ => {}
        }
    }
}

/// The broadcast message: about `size` bytes in the text encoding.
fn delivered(seq: u64, body: &str) -> relay::ServerMessage {
    relay::ServerMessage::DeliveredV1(relay::DeliveredV1 {
        room: ROOM.to_owned(),
        from: "bench".to_owned(),
        seq,
        body: body.to_owned(),
    })
}

fn body_for(size: usize) -> String {
    // With a six-digit sequence number, as most of a run's are.
    let empty = delivered(100_000, "").to_text().len();
    "x".repeat(size.saturating_sub(empty))
}

/// Broadcasts until `stop`, at most `window` ahead of the acknowledgements.
/// Adds to `short` the members that did not take a broadcast; `None`
/// through Redis, where `broadcast` returns before delivery.
async fn broadcast_loop(
    handle: ServerHandle<relay::Package>,
    state: Arc<FanOut>,
    body: String,
    window: u64,
    sent: Arc<AtomicU64>,
    short: Option<Arc<AtomicU64>>,
    stop: Arc<AtomicBool>,
) {
    let subscribers = handle.room_len(ROOM);
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        loop {
            let notified = state.progress.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if seq < state.acked.load(Ordering::Relaxed) + window {
                break;
            }
            if tokio::time::timeout(Duration::from_millis(200), notified)
                .await
                .is_err()
                && stop.load(Ordering::Relaxed)
            {
                return;
            }
        }
        seq += 1;
        let accepted = handle.broadcast(ROOM, &delivered(seq, &body));
        if let Some(short) = short.as_ref().filter(|_| accepted < subscribers) {
            short.fetch_add((subscribers - accepted) as u64, Ordering::Relaxed);
        }
        sent.store(seq, Ordering::Relaxed);
    }
}

pub fn serve(args: &ServeArgs) -> Result<(), Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let state = Arc::new(FanOut::default());
    let (running, handle, addr) = rt.block_on(async {
        let listener = net::listen()?;
        let addr = listener.local_addr()?;
        let mut config = ServerConfig::default();
        if let Some(spec) = &args.opts.engine {
            // A prefix of its own, so runs never see each other's rooms.
            let backend = engine::connect(
                spec,
                &format!("bench-fanout-{}", std::process::id()),
                HistoryWindow::default(),
                PresenceConfig::default(),
            )
            .await?;
            config = config.with_backend(backend);
        }
        let (running, handle) = contenders::tagwire(Arc::clone(&state), config, listener, true);
        Ok::<_, Box<dyn Error>>((running, handle, addr))
    })?;
    let mut command = vec![
        "fan-out-clients".to_owned(),
        "--server".into(),
        addr.to_string(),
        "--subscribers".into(),
        args.subscribers.to_string(),
    ];
    command.extend(args.client.to_args());
    let mut clients = LineChild::spawn_self("fan-out-clients", &command)?;
    clients.expect("ready")?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while handle.room_len(ROOM) < args.subscribers && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let members = handle.room_len(ROOM);
    if members < args.subscribers {
        return Err(format!("only {members} of {} subscribers joined", args.subscribers).into());
    }
    let body = body_for(args.opts.size);
    let frame_bytes = delivered(100_000, &body).to_text().len();
    let sent = Arc::new(AtomicU64::new(0));
    let short = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let broadcaster = rt.spawn(broadcast_loop(
        handle.clone(),
        Arc::clone(&state),
        body,
        args.opts.window,
        Arc::clone(&sent),
        args.opts.engine.is_none().then(|| Arc::clone(&short)),
        Arc::clone(&stop),
    ));
    std::thread::sleep(Duration::from_secs_f64(args.opts.warmup_secs));
    let before = Record::parse(&clients.ask("stats", "stats")?)?;
    let cpu_before = cpu_time()?;
    let sent_before = sent.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.opts.secs));
    let after = Record::parse(&clients.ask("stats", "stats")?)?;
    let cpu_after = cpu_time()?;
    let sent_after = sent.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = rt.block_on(broadcaster);
    clients.finish()?;
    drop(running);
    rt.shutdown_timeout(Duration::from_secs(1));

    let mut r = Record::new();
    r.set("subscribers", args.subscribers)
        .set("frame_bytes", frame_bytes)
        .set("secs", format!("{secs:.3}"))
        .set("broadcasts", sent_after - sent_before)
        .set(
            "deliveries",
            after.num("deliveries") - before.num("deliveries"),
        )
        .set(
            "server_cpu_us",
            cpu_after.saturating_sub(cpu_before).as_micros(),
        )
        .set("client_cpu_us", after.num("cpu_us") - before.num("cpu_us"))
        .set("slow_consumers", short.load(Ordering::Relaxed))
        // For the error when nothing was counted: a broadcaster stuck at
        // its window with nothing acknowledged lost its first burst.
        .set("sent_total", sent_after)
        .set("acked", state.acked.load(Ordering::Relaxed));
    say(&format!("result {}", r.to_line()));
    Ok(())
}

/// Broadcasts each subscriber has received.
struct Progress {
    received: Vec<AtomicU64>,
}

impl Progress {
    fn total(&self) -> u64 {
        self.received
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .sum()
    }

    fn slowest(&self) -> u64 {
        self.received
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0)
    }
}

pub fn clients(args: &ClientsArgs) -> Result<(), Box<dyn Error>> {
    let progress = Arc::new(Progress {
        received: (0..args.subscribers).map(|_| AtomicU64::new(0)).collect(),
    });
    let stdin_progress = Arc::clone(&progress);
    serve_stdin(move |line| {
        if line == "stats" {
            let cpu = cpu_time().map_or(0, |d| d.as_micros());
            say(&format!(
                "stats deliveries={} cpu_us={cpu}",
                stdin_progress.total()
            ));
        }
    });
    let rt = args.client.runtime()?;
    match rt.block_on(open_all(args, &progress)) {
        Ok(()) => say(&format!("ready {}", args.subscribers)),
        Err(e) => {
            say(&format!("error {e}"));
            std::process::exit(1);
        }
    }
    rt.block_on(std::future::pending::<()>());
    Ok(())
}

async fn open_all(args: &ClientsArgs, progress: &Arc<Progress>) -> Result<(), Box<dyn Error>> {
    let hello = Utf8Bytes::from(net::hello_frame());
    let join = Utf8Bytes::from(
        relay::ClientMessage::JoinV1(relay::JoinV1 {
            room: ROOM.to_owned(),
        })
        .to_text(),
    );
    let config = net::client_ws_config(4096, 64 * 1024);
    let in_flight = Arc::new(Semaphore::new(args.client.concurrency.max(1)));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    for i in 0..args.subscribers {
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let source = net::source_addr(i, args.client.source_addrs);
        let (hello, join, progress, done_tx) = (
            hello.clone(),
            join.clone(),
            Arc::clone(progress),
            done_tx.clone(),
        );
        let server = args.server;
        tokio::spawn(async move {
            let mut ws = match net::connect(source, server, "/ws", config, Some(hello)).await {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = done_tx.send(Err(format!("connection {i} from {source}: {e}")));
                    return;
                }
            };
            if let Err(e) = ws.send(Message::Text(join)).await {
                let _ = done_tx.send(Err(format!("connection {i}: join: {e}")));
                return;
            }
            drop(permit);
            let _ = done_tx.send(Ok(()));
            subscribe(ws, &progress.received[i]).await;
        });
    }
    for _ in 0..args.subscribers {
        done_rx.recv().await.ok_or("connection tasks ended")??;
    }
    // The progress reports, on a connection of their own.
    let ack = net::connect(
        net::source_addr(0, 1),
        args.server,
        "/ws",
        config,
        Some(hello),
    )
    .await
    .map_err(|e| format!("progress connection: {e}"))?;
    tokio::spawn(report_progress(ack, Arc::clone(progress)));
    Ok(())
}

/// A room message (SPEC §9.7) of the benchmark's room carrying a
/// `Delivered`: `_h|fan|<epoch>|<seq>|` then the message's own frame.
/// Checked by hand, without decoding, so the client process stays cheap.
fn is_delivery(frame: &str) -> bool {
    frame
        .strip_prefix("_h|fan|")
        .and_then(|rest| rest.splitn(3, '|').nth(2))
        .is_some_and(|inner| inner.starts_with(relay::DELIVERED_V1.as_str()))
}

/// Counts the broadcasts one subscriber receives; answers pings.
async fn subscribe(mut ws: Ws, received: &AtomicU64) {
    while let Some(Ok(m)) = ws.next().await {
        if matches!(&m, Message::Text(t) if is_delivery(t)) {
            received.fetch_add(1, Ordering::Relaxed);
        } else if net::is_ping(&m) {
            if ws.send(net::pong_for(&m)).await.is_err() {
                return;
            }
        } else if m.is_close() {
            return;
        }
    }
}

/// Every 2 ms, tells the server how many broadcasts every subscriber has
/// received (when that changed).
async fn report_progress(mut ws: Ws, progress: Arc<Progress>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(2));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut reported = 0;
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let slowest = progress.slowest();
                if slowest > reported {
                    reported = slowest;
                    let echo = relay::ClientMessage::EchoV1(relay::EchoV1 {
                        seq: slowest,
                        body: String::new(),
                    });
                    if ws.send(Message::text(echo.to_text())).await.is_err() {
                        return;
                    }
                }
            }
            received = ws.next() => match received {
                Some(Ok(m)) if net::is_ping(&m) => {
                    if ws.send(net::pong_for(&m)).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use tagwire::Protocol;
    use tagwire::control::{RoomEnvelope, RoomPosition};

    use super::{ROOM, delivered, is_delivery};

    #[test]
    fn a_delivery_is_recognised_inside_its_room_envelope() {
        let envelope = RoomEnvelope {
            room: ROOM,
            position: RoomPosition { epoch: 7, seq: 42 },
        };
        let frame = envelope.to_text(&delivered(1, "x").to_text());
        assert!(is_delivery(&frame), "{frame}");
        assert!(!is_delivery(&delivered(1, "x").to_text()), "not enveloped");
        let other_room = RoomEnvelope {
            room: "other",
            ..envelope
        };
        assert!(!is_delivery(
            &other_room.to_text(&delivered(1, "x").to_text())
        ));
    }
}
