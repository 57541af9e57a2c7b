//! The client process (`idle-connections clients`): opens N WebSocket
//! connections with plain tokio-tungstenite, as a browser would, and keeps
//! them idle, answering each Tagwire ping (`_a`) with a pong (`_b`).
//!
//! Protocol with the parent on stdin/stdout, one line each:
//! - out `ready <n> <seconds>` once all n connections are open (or
//!   `error <text>` and exit 1);
//! - in `stats`, out `stats open=<n> pongs=<n> closed=<n>` (counts since start);
//! - end of stdin: exit, which closes every connection.

use std::error::Error;
use std::io::BufRead;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tagwire_bench::net::{self, Ws};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::ClientsArgs;

#[derive(Debug, Default)]
struct Counters {
    open: AtomicU64,
    pongs: AtomicU64,
    closed: AtomicU64,
}

/// Runs the client process until stdin closes.
pub fn run(args: &ClientsArgs) -> Result<(), Box<dyn Error>> {
    let counters = Arc::new(Counters::default());
    let stdin_counters = Arc::clone(&counters);
    // Commands from the parent; the process ends with its stdin.
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "stats" {
                println!(
                    "stats open={} pongs={} closed={}",
                    stdin_counters.open.load(Ordering::Relaxed),
                    stdin_counters.pongs.load(Ordering::Relaxed),
                    stdin_counters.closed.load(Ordering::Relaxed),
                );
            }
        }
        std::process::exit(0);
    });
    // Not measured, but it must keep up: at a 1 s ping interval, 10,000
    // connections are 10,000 pongs a second.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client.client_threads.max(1))
        .enable_all()
        .build()?;
    match rt.block_on(open_all(args, &counters)) {
        Ok(seconds) => println!("ready {} {seconds:.2}", args.connections),
        Err(e) => {
            println!("error {e}");
            std::process::exit(1);
        }
    }
    // Keep answering pings until the stdin thread exits the process.
    rt.block_on(std::future::pending::<()>());
    Ok(())
}

async fn open_all(args: &ClientsArgs, counters: &Arc<Counters>) -> Result<f64, Box<dyn Error>> {
    let started = Instant::now();
    let server: SocketAddr = args.server;
    let path: Arc<str> = Arc::from(args.path.as_str());
    let hello = (!args.client.no_hello).then(|| Utf8Bytes::from(net::hello_frame()));
    let in_flight = Arc::new(Semaphore::new(args.client.concurrency.max(1)));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let pace = Duration::from_secs_f64(args.client.connect_over_secs.unwrap_or(0.0).max(0.0))
        .checked_div(u32::try_from(args.connections).unwrap_or(u32::MAX))
        .unwrap_or_default();
    let paced_from = tokio::time::Instant::now();
    for i in 0..args.connections {
        if !pace.is_zero() {
            let nth = u32::try_from(i).unwrap_or(u32::MAX);
            tokio::time::sleep_until(paced_from + pace * nth).await;
        }
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let source = net::source_addr(i, args.client.source_addrs);
        let path = Arc::clone(&path);
        let hello = hello.clone();
        let counters = Arc::clone(counters);
        let done_tx = done_tx.clone();
        tokio::spawn(async move {
            let ws = match connect(source, server, &path, hello).await {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = done_tx.send(Err(format!("connection {i} from {source}: {e}")));
                    return;
                }
            };
            drop(permit);
            counters.open.fetch_add(1, Ordering::Relaxed);
            let _ = done_tx.send(Ok(()));
            hold(ws, &counters).await;
            counters.open.fetch_sub(1, Ordering::Relaxed);
            counters.closed.fetch_add(1, Ordering::Relaxed);
        });
    }
    for _ in 0..args.connections {
        done_rx.recv().await.ok_or("connection tasks ended")??;
    }
    Ok(started.elapsed().as_secs_f64())
}

async fn connect(
    source: SocketAddrV4,
    server: SocketAddr,
    path: &str,
    hello: Option<Utf8Bytes>,
) -> Result<Ws, net::BoxError> {
    net::connect(
        source,
        server,
        path,
        net::client_ws_config(4096, 64 * 1024),
        hello,
    )
    .await
}

/// Reads until the connection ends, answering pings in the encoding they came in.
async fn hold(mut ws: Ws, counters: &Counters) {
    while let Some(frame) = ws.next().await {
        let pong = match frame {
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(ping) if net::is_ping(&ping) => net::pong_for(&ping),
            Ok(_) => continue,
        };
        if ws.send(pong).await.is_err() {
            break;
        }
        counters.pongs.fetch_add(1, Ordering::Relaxed);
    }
}
