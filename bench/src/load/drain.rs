//! Drain: N real `tagwire::client::Client`s connected to server A, which
//! drains (as for a deploy) while new connections go to server B, as a load
//! balancer would send them once A's health check fails. Measured: how long
//! the drain takes, and when the clients land on B, per 100 ms (a thundering
//! herd is every client reconnecting in the same instant).
//!
//! Two variants, each with fresh servers and a fresh client process:
//! - **spread** (Tagwire's drain): notices in `batches` batches over
//!   `window`, and each client reconnects at a random moment within the
//!   notice's `reconnect_window`;
//! - **herd** (for contrast: what a plain restart does): every connection
//!   is told at once, with a reconnect window of 0, so every client comes
//!   back at once (the client's own backoff jitter still applies to
//!   failed attempts).
//!
//! Process roles: `drain` (the driver, and both servers) → `drain-clients`.

use std::error::Error;
use std::fmt::Write as _;
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use tagwire::client::{Client, ClientConfig, Connector, Event, ReconnectReason, Status};
use tagwire::server::{CloseReport, Connection, DrainReport, Handler, ServerConfig, ServerHandle};
use tagwire_bench::child::{LineChild, say, serve_stdin};
use tagwire_bench::contenders;
use tagwire_bench::measure::load_average;
use tagwire_bench::net;
use tagwire_bench::record::Record;
use tagwire_tests::relay;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::{ClientOpts, thousands};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Variant {
    Spread,
    Herd,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Spread => "spread",
            Variant::Herd => "herd",
        }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Connected clients when the drain starts.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// Variants, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "spread,herd")]
    variant: Vec<Variant>,
    /// `drain.grace`: health 503 before the first notice.
    #[arg(long, default_value_t = 1000)]
    grace_ms: u64,
    /// `drain.window`: the notices are spread over it (spread variant).
    #[arg(long, default_value_t = 5000)]
    window_ms: u64,
    /// `drain.batches` (spread variant).
    #[arg(long, default_value_t = 20)]
    batches: u32,
    /// `drain.reconnect_window`, announced in the notice (spread variant).
    #[arg(long, default_value_t = 5000)]
    reconnect_window_ms: u64,
    /// Histogram bucket.
    #[arg(long, default_value_t = 100)]
    bucket_ms: u64,
    #[command(flatten)]
    client: ClientOpts,
}

#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// Server A, then server B.
    #[arg(long, value_delimiter = ',')]
    servers: Vec<SocketAddr>,
    #[arg(long)]
    clients: usize,
    #[command(flatten)]
    client: ClientOpts,
}

/// Moments at which connections opened or closed, on one server.
#[derive(Debug, Default)]
struct Timeline {
    opened: Mutex<Vec<Instant>>,
    closed: Mutex<Vec<Instant>>,
}

impl Timeline {
    fn take(list: &Mutex<Vec<Instant>>) -> Vec<Instant> {
        std::mem::take(&mut *list.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Handler<relay::Package> for Timeline {
    async fn on_open(&self, _conn: &Connection<relay::Package>) {
        let now = Instant::now();
        self.opened
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(now);
    }

    async fn on_message(&self, _conn: &Connection<relay::Package>, _m: relay::ClientMessage) {}

    async fn on_close(&self, _conn: &Connection<relay::Package>, _report: &CloseReport) {
        let now = Instant::now();
        self.closed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(now);
    }
}

/// What one variant measured.
#[derive(Debug)]
struct Outcome {
    variant: Variant,
    config: ServerConfig,
    report: DrainReport,
    /// From the drain's start until the last client was back on B.
    all_back: Option<Duration>,
    back: usize,
    /// Offsets from the drain's start.
    closed_on_a: Vec<Duration>,
    opened_on_b: Vec<Duration>,
    /// When the clients chose to reconnect (see `Counts::scheduled`).
    scheduled: Vec<Duration>,
    clients: Record,
}

pub fn run(args: &RunArgs) -> Result<(), Box<dyn Error>> {
    let load_before = load_average()?;
    let mut outcomes = Vec::new();
    for &variant in &args.variant {
        eprintln!("drain: {} × {} clients …", variant.name(), args.clients);
        let outcome = one_drain(args, variant)?;
        eprintln!(
            "drain: {}: {:?}, all back after {:?}",
            variant.name(),
            outcome.report,
            outcome.all_back
        );
        outcomes.push(outcome);
    }
    let load_after = load_average()?;
    print!("{}", report(args, &outcomes));
    println!(
        "\nLoad average {load_before} before, {load_after} after; client process on {} \
         thread(s).",
        args.client.client_threads
    );
    Ok(())
}

fn drain_config(args: &RunArgs, variant: Variant) -> ServerConfig {
    let mut config = ServerConfig::default();
    let d = &mut config.drain;
    d.grace = Duration::from_millis(args.grace_ms);
    match variant {
        Variant::Spread => {
            d.window = Duration::from_millis(args.window_ms);
            d.batches = args.batches;
            d.reconnect_window = Duration::from_millis(args.reconnect_window_ms);
        }
        Variant::Herd => {
            d.window = Duration::ZERO;
            d.batches = 1;
            d.reconnect_window = Duration::ZERO;
        }
    }
    d.deadline = d.grace + d.window + d.reconnect_window + Duration::from_secs(30);
    config
}

fn one_drain(args: &RunArgs, variant: Variant) -> Result<Outcome, Box<dyn Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let config = drain_config(args, variant);
    let a_timeline = Arc::new(Timeline::default());
    let b_timeline = Arc::new(Timeline::default());
    let (a, b, addrs) = rt.block_on(async {
        let (la, lb) = (net::listen()?, net::listen()?);
        let addrs = [la.local_addr()?, lb.local_addr()?];
        let (_, a) = contenders::tagwire(Arc::clone(&a_timeline), config.clone(), la, true);
        let (_, b) =
            contenders::tagwire(Arc::clone(&b_timeline), ServerConfig::default(), lb, true);
        Ok::<_, Box<dyn Error>>((a, b, addrs))
    })?;
    let mut command = vec![
        "drain-clients".to_owned(),
        "--servers".into(),
        format!("{},{}", addrs[0], addrs[1]),
        "--clients".into(),
        args.clients.to_string(),
    ];
    command.extend(args.client.to_args());
    let mut clients = LineChild::spawn_self("drain-clients", &command)?;
    clients.expect("ready")?;
    wait_for(&a, args.clients, Duration::from_secs(30));
    if a.connection_count() < args.clients {
        return Err(format!(
            "only {} of {} clients connected to A",
            a.connection_count(),
            args.clients
        )
        .into());
    }
    Timeline::take(&b_timeline.opened);
    // The balancer takes A out: new connections go to B from now on.
    clients.ask("switch", "switched")?;
    let started = Instant::now();
    let report = rt.block_on(async {
        a.drain();
        a.drained().await
    });
    let limit = config.drain.reconnect_window + Duration::from_secs(30);
    wait_for(&b, args.clients, limit.saturating_sub(started.elapsed()));
    let back = b.connection_count();
    let opened = Timeline::take(&b_timeline.opened);
    let all_back = (back >= args.clients)
        .then(|| opened.iter().max().map(|t| t.duration_since(started)))
        .flatten();
    let stats = Record::parse(&clients.ask("stats", "stats")?)?;
    let scheduled = stats
        .get("scheduled_ms")
        .unwrap_or_default()
        .split(',')
        .filter_map(|ms| ms.parse().ok())
        .map(Duration::from_millis)
        .collect();
    clients.finish()?;
    rt.shutdown_timeout(Duration::from_secs(2));
    let offsets = |moments: Vec<Instant>| -> Vec<Duration> {
        moments
            .into_iter()
            .filter(|t| *t >= started)
            .map(|t| t.duration_since(started))
            .collect()
    };
    Ok(Outcome {
        variant,
        config,
        report,
        all_back,
        back,
        closed_on_a: offsets(Timeline::take(&a_timeline.closed)),
        opened_on_b: offsets(opened),
        scheduled,
        clients: stats,
    })
}

fn wait_for(server: &ServerHandle<relay::Package>, n: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while server.connection_count() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn histogram(offsets: &[Duration], bucket: Duration, buckets: usize) -> Vec<usize> {
    let mut counts = vec![0; buckets];
    for offset in offsets {
        let i = (offset.as_nanos() / bucket.as_nanos().max(1)) as usize;
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    counts
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn report(args: &RunArgs, outcomes: &[Outcome]) -> String {
    let bucket = Duration::from_millis(args.bucket_ms.max(1));
    let mut out = String::new();
    out.push_str(
        "| variant | clients | grace | notices over | reconnect window | drain done (A empty) \
         | last client on B | reconnects wanted, peak per 100 ms | reconnects served on B, \
         peak per 100 ms | busiest second on B | failed attempts |\n",
    );
    out.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for o in outcomes {
        let d = &o.config.drain;
        let hist = histogram(&o.opened_on_b, Duration::from_millis(100), 2000);
        let per_second = histogram(&o.opened_on_b, Duration::from_secs(1), 200);
        let wanted = histogram(&o.scheduled, Duration::from_millis(100), 2000);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            o.variant.name(),
            thousands(o.report.connections_at_start as f64),
            secs(d.grace),
            if d.window.is_zero() {
                "at once".to_owned()
            } else {
                format!("{} in {} batches", secs(d.window), d.batches)
            },
            secs(d.reconnect_window),
            secs(o.report.total),
            o.all_back.map_or_else(
                || format!("{} of {} back", o.back, o.report.connections_at_start),
                secs
            ),
            thousands(wanted.iter().copied().max().unwrap_or(0) as f64),
            thousands(hist.iter().copied().max().unwrap_or(0) as f64),
            thousands(per_second.iter().copied().max().unwrap_or(0) as f64),
            thousands(o.clients.num("failed")),
        );
    }
    out.push_str(
        "\nTimes from the drain's start (`ServerHandle::drain`). *Drain done* is A's \
         `DrainReport::total`. *Wanted*: the moments the clients chose to reconnect at (when a \
         client learns of the drain, the moment it reports plus the delay it picked): the load \
         the protocol sends the next server. *Served*: connections B opened (its `on_open`), \
         which also shows what this machine's client process and servers could keep up with. \
         *Failed attempts* are connection attempts the clients had to retry.\n",
    );
    for o in outcomes {
        let end = o
            .closed_on_a
            .iter()
            .chain(&o.opened_on_b)
            .chain(&o.scheduled)
            .max()
            .copied()
            .unwrap_or_default();
        let buckets = (end.as_nanos() / bucket.as_nanos().max(1)) as usize + 1;
        let closed = histogram(&o.closed_on_a, bucket, buckets);
        let opened = histogram(&o.opened_on_b, bucket, buckets);
        let wanted = histogram(&o.scheduled, bucket, buckets);
        let peak = opened
            .iter()
            .chain(&wanted)
            .copied()
            .max()
            .unwrap_or(0)
            .max(1);
        let _ = writeln!(
            out,
            "\n{}: per {} ms, connections closed on A, reconnects the clients wanted, and \
             connections opened on B (one `#` ≈ {} opened on B)\n",
            o.variant.name(),
            args.bucket_ms,
            peak.div_ceil(50)
        );
        out.push_str("```text\n    from  closed on A       wanted  opened on B\n");
        let first = closed
            .iter()
            .zip(&opened)
            .zip(&wanted)
            .position(|((c, o), w)| c + o + w > 0)
            .unwrap_or(0);
        for i in first..buckets {
            let bar = "#".repeat(opened[i].div_ceil(peak.div_ceil(50)));
            let _ = writeln!(
                out,
                "{:>6.1} s {:>12} {:>12} {:>12}  {bar}",
                (i as u64 * args.bucket_ms) as f64 / 1000.0,
                closed[i],
                wanted[i],
                opened[i]
            );
        }
        out.push_str("```\n");
    }
    out
}

/// Dials server A, or B once told to switch: the load balancer.
#[derive(Debug)]
struct Dialer {
    servers: Arc<Vec<SocketAddr>>,
    target: Arc<AtomicUsize>,
    source: SocketAddrV4,
}

impl Connector for Dialer {
    type Stream = TcpStream;

    fn connect(&mut self) -> impl Future<Output = std::io::Result<TcpStream>> + Send {
        let i = self.target.load(Ordering::Relaxed);
        let server = self.servers[i.min(self.servers.len() - 1)];
        let source = self.source;
        async move { net::tcp_from(source, server).await }
    }

    fn url(&self) -> String {
        "ws://127.0.0.1/ws".to_owned()
    }
}

#[derive(Debug, Default)]
struct Counts {
    open: AtomicI64,
    opens: AtomicU64,
    failed: AtomicU64,
    deploys: AtomicU64,
    /// When the balancer switched to B (the drain starts right after).
    switched: Mutex<Option<Instant>>,
    /// When each client, told of the drain, chose to reconnect: the moment
    /// of its `Status::Reconnecting` plus its delay, in ms since the switch.
    scheduled: Mutex<Vec<u64>>,
}

pub fn clients(args: &ClientsArgs) -> Result<(), Box<dyn Error>> {
    if args.servers.is_empty() {
        return Err("no servers".into());
    }
    let counts = Arc::new(Counts::default());
    let target = Arc::new(AtomicUsize::new(0));
    let (stdin_counts, stdin_target) = (Arc::clone(&counts), Arc::clone(&target));
    serve_stdin(move |line| match line {
        "switch" => {
            *stdin_counts
                .switched
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            stdin_target.fetch_add(1, Ordering::Relaxed);
            say("switched");
        }
        "stats" => {
            let c = &stdin_counts;
            let scheduled = c
                .scheduled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            say(&format!(
                "stats open={} opens={} failed={} deploys={} scheduled_ms={scheduled}",
                c.open.load(Ordering::Relaxed),
                c.opens.load(Ordering::Relaxed),
                c.failed.load(Ordering::Relaxed),
                c.deploys.load(Ordering::Relaxed),
            ));
        }
        _ => {}
    });
    let rt = args.client.runtime()?;
    let servers = Arc::new(args.servers.clone());
    rt.block_on(async {
        let in_flight = Arc::new(Semaphore::new(args.client.concurrency.max(1)));
        for i in 0..args.clients {
            let permit = Arc::clone(&in_flight).acquire_owned().await?;
            let dialer = Dialer {
                servers: Arc::clone(&servers),
                target: Arc::clone(&target),
                source: net::source_addr(i, args.client.source_addrs),
            };
            let config = ClientConfig::default().with_seed(i as u64);
            let (client, mut events) = Client::<relay::Package>::connect_with(dialer, config);
            let counts = Arc::clone(&counts);
            tokio::spawn(async move {
                let _client = client;
                let mut permit = Some(permit);
                let mut open = false;
                while let Some(event) = events.next().await {
                    let Event::Status(status) = event else {
                        continue;
                    };
                    match status {
                        Status::Open => {
                            permit.take();
                            open = true;
                            counts.open.fetch_add(1, Ordering::Relaxed);
                            counts.opens.fetch_add(1, Ordering::Relaxed);
                        }
                        Status::Reconnecting { reason, delay } => {
                            let at = Instant::now() + delay;
                            let switched = *counts
                                .switched
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner);
                            if let (Some(switched), ReconnectReason::Deploy { .. }) =
                                (switched, &reason)
                            {
                                let ms = at.saturating_duration_since(switched).as_millis();
                                counts
                                    .scheduled
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .push(u64::try_from(ms).unwrap_or(u64::MAX));
                            }
                            if open {
                                open = false;
                                counts.open.fetch_sub(1, Ordering::Relaxed);
                            }
                            match reason {
                                ReconnectReason::Deploy { .. } => {
                                    counts.deploys.fetch_add(1, Ordering::Relaxed);
                                }
                                ReconnectReason::Network(_) => {
                                    counts.failed.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {}
                            }
                        }
                        Status::Closed { .. } => break,
                        Status::Connecting { .. } => {}
                    }
                }
            });
        }
        // Every client open (or given up on) before `ready`.
        let _ = in_flight
            .acquire_many(u32::try_from(args.client.concurrency.max(1))?)
            .await?;
        Ok::<_, Box<dyn Error>>(())
    })?;
    say(&format!("ready {}", args.clients));
    rt.block_on(std::future::pending::<()>());
    Ok(())
}
