//! The NATS JetStream broadcast backend against a real nats-server: two
//! backends on one server are two server nodes (docs/SCALE.md, "NATS
//! JetStream").
//!
//! Needs `scripts/services start` first (it writes target/services/env with
//! TAGWIRE_NATS_URL); without it every test fails saying so. Each test uses
//! a prefix of its own; the restart tests use a nats-server of their own
//! (`tagwire_tests::nats_server`).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tagwire::server::backend::{
    Backend, BackendError, BackendState, Bytes, Gap, GapKind, HistoryWindow, NatsBackend,
    NatsConfig, NatsStorage, Position, PresenceConfig, PresenceEvent, PresenceKind, RoomMessage,
    Subscriber,
};
use tagwire_tests::nats_server::NatsServer;
use tagwire_tests::services::nats_url;

/// A prefix no other test or run uses.
fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("tt{}x{nanos}_{test}", std::process::id())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One node's view: what its backend delivered.
#[derive(Default)]
struct Node {
    messages: Mutex<Vec<RoomMessage>>,
    gaps: Mutex<Vec<Gap>>,
}

impl Subscriber for Node {
    fn message(&self, message: &RoomMessage) {
        lock(&self.messages).push(message.clone());
    }
    fn gap(&self, gap: &Gap) {
        lock(&self.gaps).push(gap.clone());
    }
}

impl Node {
    fn in_room(&self, room: &str) -> Vec<(Position, Bytes)> {
        lock(&self.messages)
            .iter()
            .filter(|m| &*m.room == room)
            .map(|m| (m.position, m.payload.clone()))
            .collect()
    }

    fn presence(&self, room: &str) -> Vec<(PresenceKind, String, Vec<u8>)> {
        lock(&self.messages)
            .iter()
            .filter(|m| &*m.room == room)
            .filter_map(|m| {
                PresenceEvent::parse(&m.payload)
                    .map(|e| (e.kind, e.member.to_owned(), e.state.to_vec()))
            })
            .collect()
    }
}

async fn node(config: NatsConfig) -> (NatsBackend, Arc<Node>) {
    let url = config.url.clone();
    let backend = NatsBackend::connect(config)
        .await
        .unwrap_or_else(|error| panic!("connecting to {url}: {error}"));
    let node = Arc::new(Node::default());
    let subscriber: Arc<dyn Subscriber> = node.clone();
    backend.attach(Arc::downgrade(&subscriber));
    (backend, node)
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn state_becomes(backend: &NatsBackend, what: &str, test: impl Fn(&BackendState) -> bool) {
    let mut state = backend.state();
    let wait = state.wait_for(|s| test(s));
    match tokio::time::timeout(Duration::from_secs(15), wait).await {
        Ok(Ok(_)) => {}
        _ => panic!(
            "the backend never became {what}: {:?}",
            *backend.state().borrow()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_across_two_nodes_and_a_node_dropped_without_leaving() {
    let _shared = crate::shared().await;
    let presence = PresenceConfig {
        linger: Duration::from_millis(600),
        lease: Duration::from_millis(1200),
        max_members: 3,
        max_state_bytes: 16,
    };
    let config = NatsConfig::new(nats_url())
        .with_prefix(prefix("presence"))
        .with_presence(presence);
    let (a, node_a) = node(config.clone()).await;
    let (b, node_b) = node(config.clone()).await;
    let room = "lobby.1";
    a.subscribe(room).await.expect("subscribe");
    b.subscribe(room).await.expect("subscribe");

    // Join, update, no-op, and the events on both nodes, in the room's order.
    let join = a
        .presence_set(room, "ann", 1, Bytes::from_static(b"s1"))
        .await
        .expect("set");
    assert!(join.is_some());
    let update = a
        .presence_set(room, "ann", 1, Bytes::from_static(b"s2"))
        .await
        .expect("set");
    assert_eq!(update.map(|p| p.seq), join.map(|p| p.seq + 1));
    assert_eq!(
        a.presence_set(room, "ann", 1, Bytes::from_static(b"s2"))
            .await
            .expect("set"),
        None
    );
    b.publish(room, Bytes::from_static(b"hello"))
        .await
        .expect("publish");
    let bob = b
        .presence_set(room, "bob", 7, Bytes::from_static(b"b"))
        .await
        .expect("set");
    assert!(bob.is_some());
    let expected = vec![
        (PresenceKind::Join, "ann".to_owned(), b"s1".to_vec()),
        (PresenceKind::Update, "ann".to_owned(), b"s2".to_vec()),
        (PresenceKind::Join, "bob".to_owned(), b"b".to_vec()),
    ];
    eventually("both nodes to see the events", || {
        node_a.presence(room) == expected && node_b.presence(room) == expected
    })
    .await;

    // Snapshots, from either node, sorted, at the room's position.
    let snapshot = b.presence_snapshot(room).await.expect("snapshot");
    assert_eq!(snapshot.position, bob.expect("bob"));
    let members: Vec<(String, Bytes)> = snapshot
        .members
        .iter()
        .map(|m| (m.member.to_string(), m.state.clone()))
        .collect();
    assert_eq!(
        members,
        vec![
            ("ann".to_owned(), Bytes::from_static(b"s2")),
            ("bob".to_owned(), Bytes::from_static(b"b"))
        ]
    );

    // Refusals: bad keys, big states, a full room.
    for (member, state) in [("", &b"x"[..]), ("a\nb", b"x"), ("big", &[0u8; 17][..])] {
        let error = a
            .presence_set(room, member, 1, Bytes::copy_from_slice(state))
            .await
            .expect_err("refused");
        assert!(matches!(error, BackendError::Refused { .. }), "{error}");
    }
    a.presence_set(room, "cid", 2, Bytes::new())
        .await
        .expect("third member");
    let full = a
        .presence_set(room, "dan", 3, Bytes::new())
        .await
        .expect_err("full");
    assert!(matches!(full, BackendError::Refused { .. }), "{full}");

    // Only the owner leaves; a take-over with the same state says nothing.
    assert_eq!(b.presence_leave(room, "ann", 1).await.expect("leave"), None);
    assert_eq!(
        a.presence_leave(room, "ann", 99).await.expect("leave"),
        None
    );
    assert_eq!(
        b.presence_set(room, "ann", 5, Bytes::from_static(b"s2"))
            .await
            .expect("take over"),
        None
    );
    assert_eq!(
        a.presence_leave(room, "ann", 1).await.expect("leave"),
        None,
        "no longer a's"
    );
    let left = b.presence_leave(room, "ann", 5).await.expect("leave");
    assert!(left.is_some());

    // A lingering member goes after the linger (swept by the other node),
    // unless set again meanwhile.
    a.presence_linger(room, "cid", 2).await.expect("linger");
    let lingered = Instant::now();
    eventually("cid's leave", || {
        node_b
            .presence(room)
            .iter()
            .any(|(k, m, _)| *k == PresenceKind::Leave && m == "cid")
    })
    .await;
    let linger_took = lingered.elapsed();
    assert!(linger_took >= presence.linger, "{linger_took:?}");

    // Node b dropped without leaving: its members go once its lease passed,
    // removed (once) by node a's sweep.
    let before = node_a.presence(room).len();
    drop(b);
    let dropped = Instant::now();
    eventually("bob's leave after b's lease", || {
        node_a
            .presence(room)
            .iter()
            .any(|(k, m, _)| *k == PresenceKind::Leave && m == "bob")
    })
    .await;
    let took = dropped.elapsed();
    println!(
        "figures: linger {:?} -> leave after {linger_took:?}; node dropped -> its member gone after {took:?} (lease {:?} + renew_every {:?})",
        presence.linger,
        presence.lease,
        presence.renew_every()
    );
    // Bounded by lease + renew_every, plus one sweep's round trips.
    assert!(
        took <= presence.lease + presence.renew_every() * 2 + Duration::from_millis(300),
        "{took:?}"
    );
    tokio::time::sleep(presence.renew_every() * 2).await;
    let leaves: Vec<_> = node_a.presence(room)[before..]
        .iter()
        .filter(|(k, m, _)| *k == PresenceKind::Leave && m == "bob")
        .cloned()
        .collect();
    assert_eq!(leaves.len(), 1, "one leave for bob");
    let snapshot = a.presence_snapshot(room).await.expect("snapshot");
    assert!(snapshot.members.is_empty(), "{:?}", snapshot.members);
}

/// Kills the nats-server under two subscribed nodes and starts it again.
async fn restart_under_traffic(storage: NatsStorage) -> (Vec<Gap>, Vec<Position>) {
    let mut server = NatsServer::start();
    let mut config = NatsConfig::new(server.url())
        .with_prefix(prefix("restart"))
        .with_storage(storage);
    config.response_timeout = Duration::from_millis(500);
    config.connect_timeout = Duration::from_millis(500);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    let (a, node_a) = node(config.clone()).await;
    let (b, _) = node(config).await;
    let start = a.subscribe("room").await.expect("subscribe");
    for i in 0..5 {
        b.publish("room", Bytes::from(format!("before-{i}")))
            .await
            .expect("publish");
    }
    eventually("a to get 5", || node_a.in_room("room").len() == 5).await;

    let killed = server.kill();
    state_becomes(&a, "Reconnecting", |s| {
        matches!(s, BackendState::Reconnecting { .. })
    })
    .await;
    let noticed = killed.elapsed();
    // Until b notices too, its publish goes out and meets the ack timeout
    // (`Uncertain`): that is the contract, but not what this checks.
    state_becomes(&b, "Reconnecting", |s| {
        matches!(s, BackendState::Reconnecting { .. })
    })
    .await;
    let refused = b.publish("room", Bytes::from_static(b"during")).await;
    assert!(
        matches!(refused, Err(BackendError::Unavailable { .. })),
        "{refused:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let restarted = server.restart();
    state_becomes(&a, "Connected", |s| *s == BackendState::Connected).await;
    state_becomes(&b, "Connected", |s| *s == BackendState::Connected).await;
    let back = restarted.elapsed();
    let mut after = Vec::new();
    for i in 0..5 {
        after.push(
            b.publish("room", Bytes::from(format!("after-{i}")))
                .await
                .expect("publish"),
        );
    }
    eventually("a to get the later ones", || {
        node_a
            .in_room("room")
            .last()
            .is_some_and(|(p, _)| *p == *after.last().expect("one"))
    })
    .await;
    println!(
        "figures: {storage:?}: killed -> Reconnecting after {noticed:?}; restart -> Connected after {back:?}"
    );
    let seen = node_a.in_room("room");
    // Exactly once, in order, per epoch.
    let positions: Vec<Position> = seen.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions[..5],
        (1..=5)
            .map(|seq| Position {
                epoch: start.epoch,
                seq
            })
            .collect::<Vec<_>>()[..]
    );
    for w in positions.windows(2) {
        assert!(
            (w[1].epoch == w[0].epoch && w[1].seq == w[0].seq + 1)
                || (w[1].epoch != w[0].epoch && w[1].seq == 1),
            "{positions:?}"
        );
    }
    let gaps = lock(&node_a.gaps).clone();
    (gaps, after)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted_with_file_storage_continues_without_a_gap() {
    let _alone = crate::alone().await;
    let (gaps, after) = restart_under_traffic(NatsStorage::File).await;
    assert!(gaps.is_empty(), "{gaps:?}");
    assert_eq!(after[0].seq, 6, "the positions go on in the same epoch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_killed_and_restarted_with_memory_storage_gives_a_reset_gap() {
    let _alone = crate::alone().await;
    let (gaps, after) = restart_under_traffic(NatsStorage::Memory).await;
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].kind, GapKind::Reset);
    assert_eq!(after[0].seq, 1, "a new epoch");
    assert_ne!(after[0].epoch, gaps[0].after.epoch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_to_no_nats_fails_clearly() {
    let _shared = crate::shared().await;
    let port = tagwire_tests::process::free_port();
    let mut config = NatsConfig::new(format!("nats://127.0.0.1:{port}"));
    config.connect_timeout = Duration::from_millis(500);
    let error = NatsBackend::connect(config).await.expect_err("no server");
    assert!(matches!(error, BackendError::Unavailable { .. }), "{error}");
    let bad = NatsBackend::connect(NatsConfig::new(nats_url()).with_prefix("a.b")).await;
    assert!(matches!(bad, Err(BackendError::Refused { .. })), "{bad:?}");
}

/// A loopback TCP proxy whose connections the test cuts, and which refuses
/// new ones while it is down: one node's link to the server lost while the
/// server and the other nodes go on.
struct Cutter {
    port: u16,
    down: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Cutter {
    async fn start(upstream: String) -> Cutter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (d, l) = (down.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                lock(&l).push(link.abort_handle());
            }
        });
        Cutter {
            port,
            down,
            links,
            accept,
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection and refuses new ones until [`Cutter::up`].
    fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for link in lock(&self.links).drain(..) {
            link.abort();
        }
    }

    fn up(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Cutter {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Node a's link is cut while node b publishes: a reconnects, catches up
/// from the streams (every message once, in order, no gap) when the window
/// holds what it missed, and gets a `Trimmed` gap, then the rest, when it
/// does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_catches_up_from_the_streams_or_gets_a_trimmed_gap() {
    let _shared = crate::shared().await;
    let url = nats_url();
    let upstream = url.trim_start_matches("nats://").to_owned();
    let cutter = Cutter::start(upstream).await;
    let prefix = prefix("cut");
    let window = HistoryWindow {
        max_messages: 20,
        max_age: None,
    };
    let mut via_proxy = NatsConfig::new(cutter.url())
        .with_prefix(prefix.clone())
        .with_window(window);
    via_proxy.reconnect_min = Duration::from_millis(20);
    via_proxy.reconnect_max = Duration::from_millis(100);
    let (a, node_a) = node(via_proxy).await;
    let (b, _) = node(NatsConfig::new(url).with_prefix(prefix).with_window(window)).await;
    for room in ["held", "lost"] {
        a.subscribe(room).await.expect("subscribe");
        for i in 0..3 {
            b.publish(room, Bytes::from(format!("{room}-{i}")))
                .await
                .expect("publish");
        }
    }
    eventually("a to get 3 + 3", || {
        node_a.in_room("held").len() == 3 && node_a.in_room("lost").len() == 3
    })
    .await;

    cutter.cut();
    state_becomes(&a, "Reconnecting", |s| {
        matches!(s, BackendState::Reconnecting { .. })
    })
    .await;
    // Within the window for one room, beyond it for the other.
    for i in 3..13 {
        b.publish("held", Bytes::from(format!("held-{i}")))
            .await
            .expect("publish");
    }
    for i in 3..40 {
        b.publish("lost", Bytes::from(format!("lost-{i}")))
            .await
            .expect("publish");
    }
    cutter.up();
    state_becomes(&a, "Connected", |s| *s == BackendState::Connected).await;
    let last = b
        .publish("lost", Bytes::from_static(b"lost-40"))
        .await
        .expect("publish");
    b.publish("held", Bytes::from_static(b"held-13"))
        .await
        .expect("publish");
    eventually("a to catch up", || {
        node_a.in_room("held").len() == 14
            && node_a.in_room("lost").last().map(|m| m.0) == Some(last)
    })
    .await;
    let held: Vec<(u64, Bytes)> = node_a
        .in_room("held")
        .into_iter()
        .map(|(p, payload)| (p.seq, payload))
        .collect();
    let expected: Vec<(u64, Bytes)> = (0..14)
        .map(|i| (i + 1, Bytes::from(format!("held-{i}"))))
        .collect();
    assert_eq!(held, expected, "every message once, in order");
    let gaps = lock(&node_a.gaps).clone();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(&*gaps[0].room, "lost");
    assert_eq!(gaps[0].after.seq, 3);
    assert_eq!(gaps[0].kind, GapKind::Trimmed { oldest: Some(21) });
    let lost: Vec<u64> = node_a.in_room("lost").iter().map(|(p, _)| p.seq).collect();
    let expected: Vec<u64> = (1..=3).chain(gaps[0].current.seq + 1..=41).collect();
    assert_eq!(lost, expected, "up to the gap, then from its current on");
}

/// A nats-server stopped (SIGSTOP: its sockets stay open, nothing answers):
/// the nodes notice by their pings, a publish before that is `Uncertain`
/// within the response timeout, after it `Unavailable` at once; after
/// SIGCONT they are back, the room goes on in its epoch, nothing lost or
/// doubled, no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_stopped_is_noticed_by_pings_and_continued_without_a_gap() {
    let _alone = crate::alone().await;
    let mut server = NatsServer::start();
    let mut config = NatsConfig::new(server.url()).with_prefix(prefix("stop"));
    config.response_timeout = Duration::from_millis(500);
    config.ping_interval = Duration::from_millis(200);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    let (a, node_a) = node(config.clone()).await;
    let (b, _) = node(config.clone()).await;
    let start = a.subscribe("room").await.expect("subscribe");
    for i in 0..3 {
        b.publish("room", Bytes::from(format!("m{i}")))
            .await
            .expect("publish");
    }
    eventually("a to get 3", || node_a.in_room("room").len() == 3).await;

    let stopped = server.pause();
    let early = Instant::now();
    let first = b.publish("room", Bytes::from_static(b"early")).await;
    let early = early.elapsed();
    assert!(
        matches!(first, Err(BackendError::Uncertain { .. })),
        "{first:?}"
    );
    assert!(
        early <= config.response_timeout + Duration::from_millis(300),
        "{early:?}"
    );
    for backend in [&a, &b] {
        state_becomes(backend, "Reconnecting", |s| {
            matches!(s, BackendState::Reconnecting { .. })
        })
        .await;
    }
    let noticed = stopped.elapsed();
    let refused = Instant::now();
    let later = b.publish("room", Bytes::from_static(b"later")).await;
    assert!(
        matches!(later, Err(BackendError::Unavailable { .. })),
        "{later:?}"
    );
    assert!(refused.elapsed() < Duration::from_millis(50));
    tokio::time::sleep(Duration::from_millis(1500).saturating_sub(stopped.elapsed())).await;
    let resumed = server.resume();
    for backend in [&a, &b] {
        state_becomes(backend, "Connected", |s| *s == BackendState::Connected).await;
    }
    let back = resumed.elapsed();
    let again = b
        .publish("room", Bytes::from_static(b"again"))
        .await
        .expect("publish");
    assert_eq!(again.epoch, start.epoch, "the same epoch");
    eventually("a to get it", || {
        node_a.in_room("room").last().map(|m| m.0) == Some(again)
    })
    .await;
    println!(
        "figures: SIGSTOP: noticed after {noticed:?} (ping_interval 200 ms), the publish before that Uncertain after {early:?}; SIGCONT -> Connected after {back:?}; again at {again}"
    );
    let seqs: Vec<u64> = node_a.in_room("room").iter().map(|(p, _)| p.seq).collect();
    let expected: Vec<u64> = (1..=again.seq).collect();
    assert_eq!(seqs, expected, "every message once, in order");
    assert!(lock(&node_a.gaps).is_empty());
}

/// Deletes a stream over the NATS protocol, as an operator would.
fn delete_stream(url: &str, stream: &str) {
    use std::io::{BufRead, BufReader, Write};
    let address = url.trim_start_matches("nats://");
    let mut socket = std::net::TcpStream::connect(address).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(socket.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("INFO");
    write!(
        socket,
        "CONNECT {{\"verbose\":false}}\r\nSUB deleted 1\r\nPUB $JS.API.STREAM.DELETE.{stream} deleted 0\r\n\r\n"
    )
    .expect("send");
    loop {
        line.clear();
        reader.read_line(&mut line).expect("reply");
        if line.starts_with("MSG") {
            line.clear();
            reader.read_line(&mut line).expect("payload");
            assert!(line.contains("\"success\":true"), "{line}");
            return;
        }
    }
}

/// A stream deleted under a following node (an operator's doing): its
/// consumer goes silent, the node notices by the missing heartbeats and
/// catches the room up: a `Reset` gap, then the new epoch from 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_deleted_under_a_node_is_noticed_by_heartbeats_and_reset() {
    let _shared = crate::shared().await;
    let url = nats_url();
    let mut config = NatsConfig::new(url.clone()).with_prefix(prefix("deleted"));
    config.idle_heartbeat = Duration::from_millis(200);
    config.response_timeout = Duration::from_millis(500);
    let (a, node_a) = node(config.clone()).await;
    let (b, _) = node(config).await;
    let start = a.subscribe("room").await.expect("subscribe");
    for i in 0..3 {
        b.publish("room", Bytes::from(format!("m{i}")))
            .await
            .expect("publish");
    }
    eventually("a to get 3", || node_a.in_room("room").len() == 3).await;
    delete_stream(&url, &a.stream_name("room"));
    let deleted = Instant::now();
    eventually("a's reset gap", || !lock(&node_a.gaps).is_empty()).await;
    let noticed = deleted.elapsed();
    let gaps = lock(&node_a.gaps).clone();
    assert_eq!(
        gaps,
        vec![Gap {
            room: Arc::from("room"),
            after: Position {
                epoch: start.epoch,
                seq: 3
            },
            current: Position::START,
            kind: GapKind::Reset,
        }]
    );
    // b's next publishes land in the stream a made again (b's first may
    // find no stream yet: refused, nothing published).
    let mut sent = 0;
    while node_a
        .in_room("room")
        .last()
        .is_none_or(|(p, _)| p.epoch == start.epoch)
    {
        assert!(sent < 50, "a never got a message of the new epoch");
        let _ = b.publish("room", Bytes::from(format!("new{sent}"))).await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let new: Vec<u64> = node_a
        .in_room("room")
        .iter()
        .filter(|(p, _)| p.epoch != start.epoch)
        .map(|(p, _)| p.seq)
        .collect();
    assert_eq!(new[0], 1, "the new epoch from its first message: {new:?}");
    println!("figures: stream deleted -> Reset gap after {noticed:?} (idle_heartbeat 200 ms)");
    assert!(noticed < Duration::from_secs(3), "{noticed:?}");
}
