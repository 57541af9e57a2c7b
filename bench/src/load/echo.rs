//! Echo throughput: N connections each keep `depth` frames of `size` bytes
//! in flight; the server sends every one back. The same frame (the `relay`
//! protocol's `Echo` in the text encoding) goes to both contenders:
//!
//! - **tagwire**: `tagwire::server::Server` (default config, `Server::serve`
//!   over axum and hyper) whose handler answers `Echo` with `conn.send`:
//!   the frame is decoded, handed to the handler, encoded, queued and
//!   written, as an application's reply would be;
//! - **tokio-tungstenite**: `accept_async` with its default config, one
//!   task per connection sending every data frame back as it came.
//!
//! Process roles: `echo` (driver) → `echo-serve` (one server, measured) →
//! `echo-clients` (the load).

use std::error::Error;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use futures_util::{FutureExt, SinkExt, StreamExt};
use tagwire::Protocol;
use tagwire::server::{Connection, Handler};
use tagwire_bench::child::{LineChild, say, serve_stdin};
use tagwire_bench::contenders;
use tagwire_bench::figures;
use tagwire_bench::measure::{cpu_time, load_average};
use tagwire_bench::net::{self, Ws};
use tagwire_bench::record::Record;
use tagwire_tests::relay;
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use crate::{ClientOpts, thousands};

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Contender {
    Tagwire,
    TokioTungstenite,
}

impl Contender {
    fn name(self) -> &'static str {
        match self {
            Contender::Tagwire => "tagwire",
            Contender::TokioTungstenite => "tokio-tungstenite",
        }
    }
}

/// The frames' encoding (the same bytes go to both contenders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Encoding {
    Text,
    Binary,
}

impl Encoding {
    fn name(self) -> &'static str {
        match self {
            Encoding::Text => "text",
            Encoding::Binary => "binary",
        }
    }
}

/// `CONNECTIONSxSIZE/DEPTH`: connections, frame bytes, frames in flight
/// per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub connections: usize,
    pub size: usize,
    pub depth: usize,
}

impl FromStr for Case {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected CONNECTIONSxSIZE/DEPTH (e.g. 100x20/8), got {s:?}");
        let (n, rest) = s.split_once('x').ok_or_else(bad)?;
        let (size, depth) = rest.split_once('/').unwrap_or((rest, "1"));
        Ok(Case {
            connections: n.parse().map_err(|_| bad())?,
            size: size.parse().map_err(|_| bad())?,
            depth: depth.parse().map_err(|_| bad())?,
        })
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Cases, comma-separated: CONNECTIONSxSIZE/DEPTH.
    #[arg(long, value_delimiter = ',', default_value = "100x20/8,500x16384/2")]
    cases: Vec<Case>,
    /// Contenders, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "tagwire,tokio-tungstenite"
    )]
    contender: Vec<Contender>,
    /// Encodings, comma-separated; each is a separate measurement.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "text,binary")]
    encoding: Vec<Encoding>,
    #[command(flatten)]
    timing: Timing,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Clone, Args)]
pub struct Timing {
    /// The Tagwire server's `limits.read_buffer_bytes` (its default when
    /// absent), for experiments: it is also the most one read takes.
    #[arg(long)]
    tagwire_read_buffer: Option<usize>,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10.0)]
    secs: f64,
    /// Seconds of load before the measurement starts.
    #[arg(long, default_value_t = 2.0)]
    warmup_secs: f64,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[arg(long, value_enum)]
    contender: Contender,
    #[arg(long)]
    case: Case,
    #[arg(long, value_enum)]
    encoding: Encoding,
    #[command(flatten)]
    timing: Timing,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Args)]
pub struct ClientsArgs {
    #[arg(long)]
    server: SocketAddr,
    #[arg(long)]
    case: Case,
    #[arg(long, value_enum)]
    encoding: Encoding,
    /// Send the Tagwire hello first (the Tagwire server waits for none, but
    /// a real client sends it).
    #[arg(long)]
    hello: bool,
    #[command(flatten)]
    client: ClientOpts,
}

/// The driver: one `echo-serve` process per case and contender.
pub fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let load_before = load_average()?;
    let mut results = Vec::new();
    for &case in &args.cases {
        for &encoding in &args.encoding {
            for &contender in &args.contender {
                eprintln!(
                    "echo: {} × {} connections, {} B {} frames, {} in flight …",
                    contender.name(),
                    case.connections,
                    case.size,
                    encoding.name(),
                    case.depth
                );
                let mut command = vec![
                    "echo-serve".to_owned(),
                    "--contender".into(),
                    contender.name().into(),
                    "--case".into(),
                    format!("{}x{}/{}", case.connections, case.size, case.depth),
                    "--encoding".into(),
                    encoding.name().into(),
                    "--secs".into(),
                    args.timing.secs.to_string(),
                    "--warmup-secs".into(),
                    args.timing.warmup_secs.to_string(),
                ];
                if let Some(bytes) = args.timing.tagwire_read_buffer {
                    command.extend(["--tagwire-read-buffer".to_owned(), bytes.to_string()]);
                }
                command.extend(args.client.to_args());
                let mut child = LineChild::spawn_self("echo-serve", &command)?;
                let record = Record::parse(&child.expect("result")?)?;
                child.finish()?;
                eprintln!("echo: {}", record.to_line());
                results.push((case, encoding, contender, record));
            }
        }
    }
    let load_after = load_average()?;
    println!("{}", table(&results));
    println!(
        "Load average {load_before} before, {load_after} after; {} s measured after {} s of \
         warm-up per row; client process on {} thread(s).",
        args.timing.secs, args.timing.warmup_secs, args.client.client_threads
    );
    Ok(())
}

fn table(results: &[(Case, Encoding, Contender, Record)]) -> String {
    let mut out = String::new();
    out.push_str(
        "| connections × frame | encoding | in flight per connection | server | messages/s | MB/s | \
         × tokio-tungstenite | server CPU | server CPU per message | client CPU per message |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    let mut verdicts = Vec::new();
    for (case, encoding, contender, r) in results {
        let rate = r.num("messages") / r.num("secs").max(1e-9);
        let mb = rate * case.size as f64 / 1e6;
        let baseline = results
            .iter()
            .find(|(c, e, k, _)| c == case && e == encoding && *k == Contender::TokioTungstenite)
            .map(|(_, _, _, b)| b.num("messages") / b.num("secs").max(1e-9));
        let ratio = match (contender, baseline) {
            (Contender::Tagwire, Some(b)) if b > 0.0 => {
                let ratio = rate / b;
                figures::record(
                    &format!(
                        "echo.{}.{}x{}.vs.tokio-tungstenite",
                        encoding.name(),
                        case.connections,
                        case.size
                    ),
                    ratio,
                );
                verdicts.push(format!(
                    "{} × {} {}: **{ratio:.2}×** ({})",
                    case.connections,
                    size_label(case.size),
                    encoding.name(),
                    if ratio >= 1.1 { "met" } else { "missed" }
                ));
                format!("**{ratio:.2}×**")
            }
            (Contender::TokioTungstenite, _) => "1".to_owned(),
            _ => "–".to_owned(),
        };
        let per = |key: &str| r.num(key) / r.num("messages").max(1.0);
        let _ = writeln!(
            out,
            "| {} × {} | {} | {} | {} | {} | {:.1} | {} | {:.0} % | {:.2} µs | {:.2} µs |",
            case.connections,
            size_label(case.size),
            encoding.name(),
            case.depth,
            contender.name(),
            thousands(rate),
            mb,
            ratio,
            100.0 * r.num("server_cpu_us") / (r.num("secs") * 1e6).max(1.0),
            per("server_cpu_us"),
            per("client_cpu_us"),
        );
    }
    if !verdicts.is_empty() {
        let _ = write!(
            out,
            "\nTarget (at least 1.1× tokio-tungstenite's messages/s): {}.",
            verdicts.join("; ")
        );
    }
    out
}

fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// The Tagwire server's application: sends every `Echo` back.
#[derive(Debug)]
struct EchoBack;

impl Handler<relay::Package> for EchoBack {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: relay::ClientMessage) {
        if let relay::ClientMessage::EchoV1(echo) = message {
            let _ = conn.send(echo);
        }
    }
}

/// One measurement: the server in this process, the load in a child.
pub fn serve(args: &ServeArgs) -> Result<(), Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (running, addr) = rt.block_on(async {
        let listener = net::listen()?;
        let addr = listener.local_addr()?;
        let running = match args.contender {
            Contender::Tagwire => {
                let mut config = tagwire::server::ServerConfig::default();
                // Room for the largest case's frames.
                config.limits.max_frame_bytes = config.limits.max_frame_bytes.max(args.case.size);
                if let Some(bytes) = args.timing.tagwire_read_buffer {
                    config.limits.read_buffer_bytes = bytes;
                }
                contenders::tagwire(EchoBack, config, listener, true).0
            }
            Contender::TokioTungstenite => contenders::baseline(listener, None),
        };
        Ok::<_, Box<dyn Error>>((running, addr))
    })?;
    let mut command = vec![
        "echo-clients".to_owned(),
        "--server".into(),
        addr.to_string(),
        "--case".into(),
        format!(
            "{}x{}/{}",
            args.case.connections, args.case.size, args.case.depth
        ),
        "--encoding".into(),
        args.encoding.name().into(),
    ];
    if args.contender == Contender::Tagwire {
        command.push("--hello".into());
    }
    command.extend(args.client.to_args());
    let mut clients = LineChild::spawn_self("echo-clients", &command)?;
    clients.expect("ready")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while running.connections() < args.case.connections && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    clients.send("go")?;
    std::thread::sleep(Duration::from_secs_f64(args.timing.warmup_secs));
    let before = Record::parse(&clients.ask("stats", "stats")?)?;
    let cpu_before = cpu_time()?;
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(args.timing.secs));
    let after = Record::parse(&clients.ask("stats", "stats")?)?;
    let cpu_after = cpu_time()?;
    let secs = started.elapsed().as_secs_f64();
    let open = running.connections();
    clients.finish()?;
    drop(running);
    rt.shutdown_timeout(Duration::from_secs(1));

    let mut r = Record::new();
    r.set("contender", args.contender.name())
        .set("encoding", args.encoding.name())
        .set("connections", args.case.connections)
        .set("open", open)
        .set("size", args.case.size)
        .set("depth", args.case.depth)
        .set("secs", format!("{secs:.3}"))
        .set("messages", after.num("echoes") - before.num("echoes"))
        .set(
            "server_cpu_us",
            cpu_after.saturating_sub(cpu_before).as_micros(),
        )
        .set("client_cpu_us", after.num("cpu_us") - before.num("cpu_us"));
    say(&format!("result {}", r.to_line()));
    Ok(())
}

#[derive(Debug, Default)]
struct Counters {
    echoes: AtomicU64,
}

/// The client load: connects, then on `go` keeps `depth` frames in flight
/// on every connection; `stats` reports the echoes received so far.
pub fn clients(args: &ClientsArgs) -> Result<(), Box<dyn Error>> {
    let counters = Arc::new(Counters::default());
    let (go_tx, go_rx) = watch::channel(false);
    let stdin_counters = Arc::clone(&counters);
    serve_stdin(move |line| match line {
        "go" => {
            let _ = go_tx.send(true);
        }
        "stats" => {
            let cpu = cpu_time().map_or(0, |d| d.as_micros());
            say(&format!(
                "stats echoes={} cpu_us={cpu}",
                stdin_counters.echoes.load(Ordering::Relaxed)
            ));
        }
        _ => {}
    });
    let rt = args.client.runtime()?;
    let frame = echo_frame(args.case.size, args.encoding)?;
    match rt.block_on(open_all(args, &frame, &counters, &go_rx)) {
        Ok(()) => say(&format!("ready {}", args.case.connections)),
        Err(e) => {
            say(&format!("error {e}"));
            std::process::exit(1);
        }
    }
    rt.block_on(std::future::pending::<()>());
    Ok(())
}

/// The `Echo` frame in `encoding`, padded to exactly `size` bytes.
pub fn echo_frame(size: usize, encoding: Encoding) -> Result<Message, Box<dyn Error>> {
    let encode = |pad: usize| {
        let echo = relay::ClientMessage::EchoV1(relay::EchoV1 {
            seq: 0,
            body: "x".repeat(pad),
        });
        match encoding {
            Encoding::Text => Message::text(echo.to_text()),
            Encoding::Binary => Message::binary(echo.to_binary()),
        }
    };
    // The binary length prefix grows with the body: step down to fit.
    let mut pad = size.saturating_sub(encode(0).len());
    while pad > 0 && encode(pad).len() > size {
        pad -= 1;
    }
    let frame = encode(pad);
    if frame.len() != size {
        return Err(format!("no {} echo frame of exactly {size} bytes", encoding.name()).into());
    }
    Ok(frame)
}

async fn open_all(
    args: &ClientsArgs,
    frame: &Message,
    counters: &Arc<Counters>,
    go: &watch::Receiver<bool>,
) -> Result<(), Box<dyn Error>> {
    let hello = args.hello.then(|| Utf8Bytes::from(net::hello_frame()));
    let in_flight = Arc::new(Semaphore::new(args.client.concurrency.max(1)));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Result<(), String>>();
    // Large enough for a few frames: a batch of echoes goes out in one write.
    let mut config = net::client_ws_config(4096, args.case.size.max(64 * 1024));
    config = config.write_buffer_size(64 * 1024);
    for i in 0..args.case.connections {
        let permit = Arc::clone(&in_flight).acquire_owned().await?;
        let source = net::source_addr(i, args.client.source_addrs);
        let (hello, frame, counters, done_tx, go) = (
            hello.clone(),
            frame.clone(),
            Arc::clone(counters),
            done_tx.clone(),
            go.clone(),
        );
        let server = args.server;
        let depth = args.case.depth.max(1);
        // The Tagwire server picks the encoding from the query (or the
        // subprotocol); tokio-tungstenite ignores it.
        let path = match args.encoding {
            Encoding::Text => "/ws",
            Encoding::Binary => "/ws?encoding=binary",
        };
        tokio::spawn(async move {
            let ws = match net::connect(source, server, path, config, hello).await {
                Ok(ws) => ws,
                Err(e) => {
                    let _ = done_tx.send(Err(format!("connection {i} from {source}: {e}")));
                    return;
                }
            };
            drop(permit);
            let _ = done_tx.send(Ok(()));
            let _ = echo_loop(ws, frame, depth, &counters, go).await;
        });
    }
    for _ in 0..args.case.connections {
        done_rx.recv().await.ok_or("connection tasks ended")??;
    }
    Ok(())
}

/// Keeps `depth` frames in flight: every echo received is answered with
/// the next frame; what arrived together is answered in one write.
async fn echo_loop(
    mut ws: Ws,
    frame: Message,
    depth: usize,
    counters: &Counters,
    mut go: watch::Receiver<bool>,
) -> Result<(), net::BoxError> {
    // Until `go`, only answer pings.
    loop {
        tokio::select! {
            changed = async { go.wait_for(|go| *go).await.map(|_| ()) } => {
                changed?;
                break;
            }
            received = ws.next() => match received {
                Some(Ok(m)) if net::is_ping(&m) => ws.send(net::pong_for(&m)).await?,
                Some(Ok(_)) => {}
                _ => return Ok(()),
            },
        }
    }
    for _ in 0..depth {
        ws.feed(frame.clone()).await?;
    }
    ws.flush().await?;
    let header = frame.clone().into_data();
    let header = [header[0], header[1]];
    loop {
        let Some(received) = ws.next().await else {
            return Ok(());
        };
        let mut next = Some(received);
        let mut echoes = 0;
        while let Some(received) = next.take() {
            let m = received?;
            if net::is_ping(&m) {
                ws.feed(net::pong_for(&m)).await?;
            } else if (m.is_text() || m.is_binary()) && m.len() == frame.len() && {
                let data = m.clone().into_data();
                data.starts_with(&header)
            } {
                echoes += 1;
                ws.feed(frame.clone()).await?;
            } else if m.is_close() {
                return Ok(());
            }
            next = ws.next().now_or_never().flatten();
        }
        ws.flush().await?;
        counters.echoes.fetch_add(echoes, Ordering::Relaxed);
    }
}
