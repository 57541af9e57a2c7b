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
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tagwire::Protocol;
use tagwire::control::{Control, Hello};
use tokio::net::TcpSocket;
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
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

/// The frame a Tagwire client sends first: hello for the `relay` package.
fn hello_frame() -> String {
    use tagwire::Package as _;
    type Relay = tagwire_tests::relay::Package;
    let headers: String = Relay::headers().iter().map(|h| h.as_str()).collect();
    Control::Hello(Hello {
        package: Relay::NAME.into(),
        fingerprint: Relay::FINGERPRINT.into(),
        headers,
    })
    .to_text()
}

async fn open_all(args: &ClientsArgs, counters: &Arc<Counters>) -> Result<f64, Box<dyn Error>> {
    let started = Instant::now();
    let server: SocketAddr = args.server;
    let url = format!("ws://{server}{}", args.path);
    let hello = (!args.client.no_hello).then(|| Utf8Bytes::from(hello_frame()));
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
        // Spread the clients over 127.0.0.1 … 127.0.0.k so that no source
        // address runs out of ephemeral ports (28k each by default).
        let host = u8::try_from(1 + i % args.client.source_addrs.clamp(1, 254))?;
        let source = SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, host), 0);
        let url = url.clone();
        let hello = hello.clone();
        let counters = Arc::clone(counters);
        let done_tx = done_tx.clone();
        tokio::spawn(async move {
            let ws = match connect(source, server, &url, hello).await {
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

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn connect(
    source: SocketAddrV4,
    server: SocketAddr,
    url: &str,
    hello: Option<Utf8Bytes>,
) -> Result<Ws, Box<dyn Error + Send + Sync>> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(source.into())?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    // Small buffers: the client's memory is not what is measured, and 15k
    // connections at tungstenite's default 128 KiB would be 2 GB of address space.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024);
    let (mut ws, _response) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    if let Some(hello) = hello {
        ws.send(Message::Text(hello)).await?;
    }
    Ok(ws)
}

/// Reads until the connection ends, answering pings in the encoding they came in.
async fn hold(mut ws: Ws, counters: &Counters) {
    while let Some(frame) = ws.next().await {
        let pong = match frame {
            Ok(Message::Text(text)) if text.as_str() == "_a" => Message::text("_b"),
            Ok(Message::Binary(bytes)) if &bytes[..] == b"_a" => Message::binary(b"_b".as_slice()),
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        if ws.send(pong).await.is_err() {
            break;
        }
        counters.pongs.fetch_add(1, Ordering::Relaxed);
    }
}
