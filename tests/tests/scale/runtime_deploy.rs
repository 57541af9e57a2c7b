//! A deploy over real loopback sockets: 200 Tagwire clients behind a
//! health-checking TCP load balancer move from server A to server B while
//! A drains. Checks every promise of the drain: 503 at once, nobody closed
//! before the grace period, everything A accepted delivered, every client
//! on B at the end, and reconnects spread across the window.

use crate::runtime_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use runtime_support::*;
use tagwire::client::{Client, ClientConfig, Event, Status};
use tagwire::server::ServerConfig;
use tagwire_tests::relay::{self, ClientMessage, DeliveredV1, JoinV1, ServerMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;

const CLIENTS: usize = 200;

/// One backend as the load balancer sees it.
struct Backend {
    addr: SocketAddr,
    up: AtomicBool,
}

/// A TCP load balancer that health-checks its backends, as the drain's grace
/// period assumes (SPEC §9.2; here every 100 ms, out after 2 failures), and
/// sends each new connection to the first backend that is up.
struct Balancer {
    backends: Mutex<Vec<Arc<Backend>>>,
}

impl Balancer {
    async fn add(&self, addr: SocketAddr) {
        let backend = Arc::new(Backend {
            addr,
            up: AtomicBool::new(false),
        });
        self.backends.lock().await.push(backend.clone());
        tokio::spawn(async move {
            let mut failures = 0;
            loop {
                if health(backend.addr).await == Some(200) {
                    failures = 0;
                    backend.up.store(true, Ordering::SeqCst);
                } else {
                    failures += 1;
                    if failures >= 2 {
                        backend.up.store(false, Ordering::SeqCst);
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    async fn pick(&self) -> Option<SocketAddr> {
        let backends = self.backends.lock().await;
        backends
            .iter()
            .find(|b| b.up.load(Ordering::SeqCst))
            .map(|b| b.addr)
    }

    async fn serve(self: Arc<Self>, listener: TcpListener) {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let lb = self.clone();
            tokio::spawn(async move {
                let Some(addr) = lb.pick().await else { return };
                if let Ok(mut outbound) = TcpStream::connect(addr).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    }
}

async fn start_server(config: ServerConfig) -> (RelayServer, SocketAddr) {
    let (server, _) = server(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    (server, addr)
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What one client saw: room messages in order, and when it reopened.
#[derive(Default)]
struct Seen {
    seqs: Vec<u64>,
    opens: Vec<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_move_to_a_new_server_during_a_drain() {
    let _alone = crate::alone().await;
    let mut config = ServerConfig::default();
    config.drain.grace = Duration::from_millis(1000);
    config.drain.window = Duration::from_millis(1000);
    config.drain.batches = 10;
    config.drain.reconnect_window = Duration::from_millis(1000);
    config.drain.deadline = Duration::from_secs(20);
    config.drain.close_timeout = Duration::from_secs(2);

    let (server_a, addr_a) = start_server(config.clone()).await;
    let lb = Arc::new(Balancer {
        backends: Mutex::new(Vec::new()),
    });
    lb.add(addr_a).await;
    let lb_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let lb_addr = lb_listener.local_addr().expect("addr");
    tokio::spawn(lb.clone().serve(lb_listener));
    wait_until("A healthy", Duration::from_secs(5), || {
        futures_util::FutureExt::now_or_never(lb.pick())
            .flatten()
            .is_some()
    })
    .await;

    // 200 clients, each joining the room whenever it (re)opens.
    let mut seen = Vec::new();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let config = ClientConfig::default().with_seed(i as u64);
        let config = if i % 2 == 0 {
            config
        } else {
            config.with_encoding(tagwire::Encoding::Binary)
        };
        let (client, mut events) =
            Client::<relay::Package>::connect(format!("ws://{lb_addr}/ws"), config);
        let log = Arc::new(std::sync::Mutex::new(Seen::default()));
        let sink = log.clone();
        let joiner = client.clone();
        tokio::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    Event::Status(Status::Open) => {
                        sink.lock().expect("lock").opens.push(Instant::now());
                        let _ = joiner.send(ClientMessage::JoinV1(JoinV1 { room: "all".into() }));
                    }
                    // Room messages (`_h`, SPEC §9.7) carry their room and position.
                    Event::RoomMessage {
                        message: ServerMessage::DeliveredV1(d),
                        ..
                    } => sink.lock().expect("lock").seqs.push(d.seq),
                    _ => {}
                }
            }
        });
        seen.push(log);
        clients.push(client);
    }
    let handle_a = server_a.handle();
    wait_until("every client in A's room", Duration::from_secs(30), || {
        handle_a.room_len("all") == CLIENTS
    })
    .await;

    // The new server comes up and becomes healthy.
    let (server_b, addr_b) = start_server(config.clone()).await;
    lb.add(addr_b).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Accepted by A before the drain: every client must get all of them.
    for seq in 1..=5 {
        let m = ServerMessage::DeliveredV1(DeliveredV1 {
            room: "all".into(),
            from: "A".into(),
            seq,
            body: format!("before the drain {seq}"),
        });
        assert_eq!(handle_a.broadcast("all", &m), CLIENTS);
    }
    let drain_started = Instant::now();
    handle_a.drain();
    assert_eq!(health(addr_a).await, Some(503), "health turns 503 at once");

    // Nobody is told to leave before the grace period ends.
    tokio::time::sleep(config.drain.grace - Duration::from_millis(150)).await;
    assert_eq!(
        handle_a.connection_count(),
        CLIENTS,
        "a client was closed during the grace period"
    );

    let report = handle_a.drained().await;
    assert_eq!(report.notified, CLIENTS);
    assert_eq!(report.cut_at_deadline, 0);
    let handle_b = server_b.handle();
    wait_until("every client in B's room", Duration::from_secs(30), || {
        handle_b.room_len("all") == CLIENTS
    })
    .await;
    assert_eq!(handle_b.connection_count(), CLIENTS);
    assert_eq!(handle_a.connection_count(), 0);

    // Every message A accepted arrived, once, in order.
    let mut reopen_offsets = Vec::new();
    for (i, log) in seen.iter().enumerate() {
        let log = log.lock().expect("lock");
        assert_eq!(log.seqs, [1, 2, 3, 4, 5], "client {i}");
        assert_eq!(
            log.opens.len(),
            2,
            "client {i} opened {} times",
            log.opens.len()
        );
        reopen_offsets.push(log.opens[1].duration_since(drain_started));
    }

    // Reconnects are spread: over 100 ms slices of the notice window plus the
    // reconnect window, no slice holds more than 4× its fair share (batches
    // convolved with uniform jitter peak near 2×; a herd would be 10–20×).
    reopen_offsets.sort();
    let first = reopen_offsets[0];
    let last = reopen_offsets[CLIENTS - 1];
    assert!(
        first >= config.drain.grace,
        "reconnect before the grace period ended: {first:?}"
    );
    let span = config.drain.window + config.drain.reconnect_window;
    let slices = (span.as_millis() / 100) as usize;
    let slots = slices + 10;
    let mut counts = vec![0usize; slots];
    for offset in &reopen_offsets {
        let slice = ((*offset - config.drain.grace).as_millis() / 100) as usize;
        counts[slice.min(slots - 1)] += 1;
    }
    let fair = CLIENTS as f64 / slices as f64;
    let busiest = counts.iter().copied().max().unwrap_or(0);
    assert!(
        busiest as f64 <= 4.0 * fair,
        "busiest 100 ms slice had {busiest} reconnects (fair share {fair:.0}); slices: {counts:?}"
    );
    println!(
        "reconnects from {first:?} to {last:?} after the drain started; busiest 100 ms slice {busiest} (fair share {fair:.0}); drain report {report:?}"
    );
    for client in &clients {
        client.close().await;
    }
}
