//! The Redis broadcast backend against a real redis-server: two backends on one
//! Redis are two server nodes (docs/SCALE.md).
//!
//! Needs `scripts/services start` first (it writes target/services/env with
//! TAGWIRE_REDIS_URL); without it every test fails saying so. Each test uses a
//! key prefix of its own; the restart test takes the Redis away, so it runs
//! alone (`crate::alone`, which every other test of this binary waits for).

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tagwire_tests::services::redis_url;

use tagwire::server::backend::{
    Backend, BackendError, BackendState, Bytes, Gap, GapKind, History, HistoryWindow, Position,
    RedisBackend, RedisConfig, RoomMessage, Subscriber,
};

fn services_script() -> String {
    format!("{}/../scripts/services", env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn redis_cli(args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .arg("-u")
        .arg(redis_url())
        .args(args)
        .output()
        .expect("redis-cli runs (scripts/services installs it)");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A key prefix no other test or run uses.
pub(crate) fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("tagwire-test:{}:{nanos}:{test}", std::process::id())
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One node's view: what its backend delivered.
#[derive(Default)]
pub(crate) struct Node {
    pub(crate) messages: Mutex<Vec<RoomMessage>>,
    pub(crate) gaps: Mutex<Vec<Gap>>,
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
    pub(crate) fn in_room(&self, room: &str) -> Vec<(u64, Bytes)> {
        lock(&self.messages)
            .iter()
            .filter(|m| &*m.room == room)
            .map(|m| (m.position.seq, m.payload.clone()))
            .collect()
    }
}

pub(crate) async fn node(config: RedisConfig) -> (RedisBackend, Arc<Node>) {
    let backend = RedisBackend::connect(config)
        .await
        .unwrap_or_else(|error| panic!("connecting to {}: {error}", redis_url()));
    let node = Arc::new(Node::default());
    let subscriber: Arc<dyn Subscriber> = node.clone();
    backend.attach(Arc::downgrade(&subscriber));
    // The backend holds it weakly; the test keeps it alive through `node`.
    (backend, node)
}

pub(crate) async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn state_becomes(backend: &RedisBackend, what: &str, test: impl Fn(&BackendState) -> bool) {
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

fn seqs(history: &History) -> Vec<u64> {
    match history {
        History::Messages(messages) => messages.iter().map(|m| m.position.seq).collect(),
        History::Gap(gap) => panic!("expected messages, got {gap:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_publishers_on_two_nodes_give_one_order_per_room() {
    let _shared = crate::shared().await;
    one_order_per_room_across_two_nodes(RedisConfig::new(redis_url()).with_prefix(prefix("order")))
        .await;
}

/// 4 publishers on 2 nodes and a burst over 3 rooms: one order per room,
/// the same on both nodes and in the history (one Redis, or a cluster).
pub(crate) async fn one_order_per_room_across_two_nodes(config: RedisConfig) {
    let (a, node_a) = node(config.clone()).await;
    let (b, node_b) = node(config).await;
    let rooms = ["r0", "r1", "r2"];
    for room in rooms {
        assert_eq!(a.subscribe(room).await.expect("subscribe"), Position::START);
        assert_eq!(b.subscribe(room).await.expect("subscribe"), Position::START);
    }

    // Four publishers, two per node, each awaiting its publishes one by one,
    // and a fifth that queues 150 before awaiting any (one pipeline).
    let mut publishers = Vec::new();
    for (p, backend) in [&a, &b, &a, &b].into_iter().enumerate() {
        let backend = backend.clone();
        publishers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..90 {
                let room = rooms[i % 3];
                let payload = Bytes::from(format!("p{p}-{i}"));
                let position = backend
                    .publish(room, payload.clone())
                    .await
                    .expect("publish");
                sent.push((room, position, payload));
            }
            sent
        }));
    }
    let burst = {
        let b = b.clone();
        tokio::spawn(async move {
            let futures: Vec<_> = (0..150)
                .map(|i| {
                    let payload = Bytes::from(format!("burst-{i}"));
                    (
                        rooms[i % 3],
                        payload.clone(),
                        b.publish(rooms[i % 3], payload),
                    )
                })
                .collect();
            let mut sent = Vec::new();
            for (room, payload, future) in futures {
                sent.push((room, future.await.expect("publish"), payload));
            }
            sent
        })
    };
    let mut sent = Vec::new();
    for publisher in publishers {
        let mine = publisher.await.expect("publisher");
        // One publisher's messages of a room are in its order.
        for room in rooms {
            let seqs: Vec<u64> = mine
                .iter()
                .filter(|(r, ..)| *r == room)
                .map(|(_, p, _)| p.seq)
                .collect();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{room}: {seqs:?}");
        }
        sent.extend(mine);
    }
    let burst = burst.await.expect("burst");
    for room in rooms {
        let seqs: Vec<u64> = burst
            .iter()
            .filter(|(r, ..)| *r == room)
            .map(|(_, p, _)| p.seq)
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "queued publishes keep call order: {seqs:?}"
        );
    }
    sent.extend(burst);
    assert_eq!(sent.len(), 4 * 90 + 150);

    let per_room = sent.len() / 3;
    eventually("both nodes to receive every message", || {
        rooms.iter().all(|room| {
            node_a.in_room(room).len() >= per_room && node_b.in_room(room).len() >= per_room
        })
    })
    .await;
    for room in rooms {
        let seen_a = node_a.in_room(room);
        let seen_b = node_b.in_room(room);
        assert_eq!(seen_a, seen_b, "{room}: both nodes see one order");
        let seqs: Vec<u64> = seen_a.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(
            seqs,
            (1..=per_room as u64).collect::<Vec<_>>(),
            "{room}: every number once"
        );
        // What each publisher was told is where its message was delivered.
        let told: HashMap<u64, Bytes> = sent
            .iter()
            .filter(|(r, ..)| *r == room)
            .map(|(_, position, payload)| (position.seq, payload.clone()))
            .collect();
        for (seq, payload) in &seen_a {
            assert_eq!(told.get(seq), Some(payload), "{room} #{seq}");
        }
        // One epoch per room, the same for every message.
        let epochs: Vec<u64> = lock(&node_a.messages)
            .iter()
            .filter(|m| &*m.room == room)
            .map(|m| m.position.epoch)
            .collect();
        assert!(epochs.windows(2).all(|w| w[0] == w[1]) && epochs[0] != 0);
        // The history (default window: 1,000) replays the same.
        let history = b.history(room, Position::START).await.expect("history");
        let History::Messages(replayed) = history else {
            panic!("expected messages");
        };
        let replayed: Vec<(u64, Bytes)> = replayed
            .into_iter()
            .map(|m| (m.position.seq, m.payload))
            .collect();
        assert_eq!(replayed, seen_a);
    }
    assert!(lock(&node_a.gaps).is_empty() && lock(&node_b.gaps).is_empty());

    // Unsubscribed: no more deliveries to that node.
    a.unsubscribe("r0");
    let last = b
        .publish("r0", Bytes::from_static(b"after"))
        .await
        .expect("publish");
    eventually("node B to receive it", || {
        node_b.in_room("r0").len() == per_room + 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(node_a.in_room("r0").len(), per_room);
    assert_eq!(last.seq, per_room as u64 + 1);
}

#[tokio::test]
async fn history_replays_after_a_sequence_within_the_window_and_a_gap_beyond() {
    let _shared = crate::shared().await;
    let window = HistoryWindow {
        max_messages: 10,
        max_age: None,
    };
    let config = RedisConfig::new(redis_url())
        .with_prefix(prefix("window"))
        .with_window(window);
    let (a, _) = node(config.clone()).await;
    let (b, _) = node(config.clone()).await;
    let mut last = Position::START;
    for n in 1..=25 {
        last = a
            .publish("r", Bytes::from(format!("m{n}")))
            .await
            .expect("publish");
    }
    assert_eq!(last.seq, 25);
    let at = |seq| Position {
        epoch: last.epoch,
        seq,
    };
    // From the other node: the stream holds 16..=25.
    let history = b.history("r", at(20)).await.expect("history");
    assert_eq!(seqs(&history), vec![21, 22, 23, 24, 25]);
    let History::Messages(messages) = &history else {
        unreachable!()
    };
    assert_eq!(messages[0].payload, Bytes::from_static(b"m21"));
    assert_eq!(&*messages[0].room, "r");
    assert_eq!(
        seqs(&b.history("r", at(15)).await.expect("history")),
        (16..=25).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&b.history("r", at(25)).await.expect("history")),
        Vec::<u64>::new()
    );
    assert_eq!(
        b.history("r", at(14)).await.expect("history"),
        History::Gap(Gap {
            room: Arc::from("r"),
            after: at(14),
            current: at(25),
            kind: GapKind::Trimmed { oldest: Some(16) },
        })
    );
    assert!(matches!(
        b.history("r", Position::START).await.expect("history"),
        History::Gap(Gap {
            kind: GapKind::Trimmed { oldest: Some(16) },
            ..
        })
    ));
    // Ahead of the room, or of another epoch: reset.
    for after in [
        at(26),
        Position {
            epoch: last.epoch + 1,
            seq: 3,
        },
    ] {
        assert!(matches!(
            b.history("r", after).await.expect("history"),
            History::Gap(Gap { kind: GapKind::Reset, current, .. }) if current == last
        ));
    }
    // A room with no state.
    assert_eq!(
        b.history("nobody", Position::START).await.expect("history"),
        History::Messages(Vec::new())
    );
    assert!(matches!(
        b.history("nobody", at(3)).await.expect("history"),
        History::Gap(Gap {
            kind: GapKind::Reset,
            current: Position::START,
            ..
        })
    ));
    // The stream is trimmed exactly to the window, and the keys expire.
    let log = format!("{}:{{r}}:l", config.prefix);
    assert_eq!(redis_cli(&["XLEN", &log]), "10");
    let ttl: i64 = redis_cli(&["PTTL", &log]).parse().expect("PTTL");
    assert!(ttl > 23 * 3600 * 1000, "{ttl}");

    // A time window: messages older than max_age leave it (real time, 1.2 s).
    let timed = RedisConfig::new(redis_url())
        .with_prefix(prefix("window-time"))
        .with_window(HistoryWindow {
            max_messages: 100,
            max_age: Some(Duration::from_millis(1000)),
        });
    let (t, _) = node(timed).await;
    for n in 1..=3 {
        t.publish("r", Bytes::from(format!("old{n}")))
            .await
            .expect("publish");
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut last = Position::START;
    for n in 4..=5 {
        last = t
            .publish("r", Bytes::from(format!("new{n}")))
            .await
            .expect("publish");
    }
    let at = |seq| Position {
        epoch: last.epoch,
        seq,
    };
    assert_eq!(
        seqs(&t.history("r", at(3)).await.expect("history")),
        vec![4, 5]
    );
    assert_eq!(
        t.history("r", at(1)).await.expect("history"),
        History::Gap(Gap {
            room: Arc::from("r"),
            after: at(1),
            current: at(5),
            kind: GapKind::Trimmed { oldest: Some(4) },
        })
    );
}

/// Kills the connections of the nodes that subscribe (not the publisher's).
pub(crate) fn kill_subscribed_connections() -> usize {
    let list = redis_cli(&["CLIENT", "LIST"]);
    let ids: Vec<String> = list
        .lines()
        .filter(|line| {
            line.split(' ')
                .any(|field| field.starts_with("sub=") && field != "sub=0")
        })
        .filter_map(|line| {
            line.split(' ')
                .find_map(|f| f.strip_prefix("id="))
                .map(str::to_owned)
        })
        .collect();
    for id in &ids {
        redis_cli(&["CLIENT", "KILL", "ID", id]);
    }
    ids.len()
}

/// Starts redis-server again (scripts/services start) when dropped, so that a
/// failed assertion does not leave the other tests without Redis.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let status = Command::new(services_script()).arg("start").output();
        if !matches!(&status, Ok(output) if output.status.success()) {
            eprintln!("scripts/services start failed: {status:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_loss_and_redis_restart_are_reported_and_delivery_resumes() {
    let _alone = crate::alone().await;
    let mut config = RedisConfig::new(redis_url()).with_prefix(prefix("restart"));
    config.reconnect_max = Duration::from_millis(200);
    let (a, node_a) = node(config.clone()).await;
    let (b, node_b) = node(config.clone()).await;
    let (publisher, _) = node(config).await;
    a.subscribe("r").await.expect("subscribe");
    b.subscribe("r").await.expect("subscribe");
    for n in 1..=3 {
        publisher
            .publish("r", Bytes::from(format!("m{n}")))
            .await
            .expect("publish");
    }
    eventually("3 messages on both nodes", || {
        node_a.in_room("r").len() == 3 && node_b.in_room("r").len() == 3
    })
    .await;

    // 1. The nodes' connections are cut while the publisher goes on: each
    // reconnects, resubscribes and catches up from the stream; nothing is
    // lost or doubled.
    let mut state_a = a.state();
    state_a.borrow_and_update();
    assert_eq!(kill_subscribed_connections(), 2);
    let mut sent = 3;
    let deadline = Instant::now() + Duration::from_secs(15);
    while sent < 40 || !state_a.has_changed().unwrap_or(false) {
        assert!(Instant::now() < deadline, "node A never noticed");
        sent += 1;
        publisher
            .publish("r", Bytes::from(format!("m{sent}")))
            .await
            .expect("publish");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    state_becomes(&a, "connected", |s| *s == BackendState::Connected).await;
    state_becomes(&b, "connected", |s| *s == BackendState::Connected).await;
    let expected: Vec<(u64, Bytes)> = (1..=sent)
        .map(|n| (n, Bytes::from(format!("m{n}"))))
        .collect();
    eventually("every message on both nodes", || {
        node_a.in_room("r").len() >= sent as usize && node_b.in_room("r").len() >= sent as usize
    })
    .await;
    assert_eq!(node_a.in_room("r"), expected);
    assert_eq!(node_b.in_room("r"), expected);
    assert!(lock(&node_a.gaps).is_empty(), "{:?}", lock(&node_a.gaps));

    // 2. redis-server dies: the nodes report it, publishes fail loudly.
    let restart = Restart;
    let epoch = lock(&node_a.messages)[0].position.epoch;
    redis_cli(&["SHUTDOWN", "NOSAVE"]);
    for backend in [&a, &b, &publisher] {
        state_becomes(
            backend,
            "reconnecting",
            |s| matches!(s, BackendState::Reconnecting { attempts, .. } if *attempts > 0),
        )
        .await;
    }
    let BackendState::Reconnecting { error, .. } = a.state().borrow().clone() else {
        unreachable!()
    };
    assert!(!error.is_empty());
    let refused = publisher
        .publish("r", Bytes::from_static(b"lost"))
        .await
        .expect_err("no Redis");
    assert!(
        matches!(refused, BackendError::Unavailable { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("nothing was published"),
        "{refused}"
    );
    assert!(matches!(
        a.history("r", Position::START).await,
        Err(BackendError::Unavailable { .. })
    ));
    assert!(matches!(
        a.subscribe("other").await,
        Err(BackendError::Unavailable { .. })
    ));

    // 3. It comes back empty (no persistence): the nodes reconnect, resubscribe,
    // and tell their subscriber that the room started over; then delivery resumes.
    drop(restart);
    for backend in [&a, &b, &publisher] {
        state_becomes(backend, "connected again", |s| {
            *s == BackendState::Connected
        })
        .await;
    }
    for node in [&node_a, &node_b] {
        eventually("the gap", || !lock(&node.gaps).is_empty()).await;
        let gaps = lock(&node.gaps).clone();
        assert_eq!(
            gaps,
            vec![Gap {
                room: Arc::from("r"),
                after: Position { epoch, seq: sent },
                current: Position::START,
                kind: GapKind::Reset,
            }]
        );
    }
    let resumed = publisher
        .publish("r", Bytes::from_static(b"again"))
        .await
        .expect("publish");
    assert_eq!(resumed.seq, 1);
    assert_ne!(resumed.epoch, epoch, "a new epoch");
    for node in [&node_a, &node_b] {
        eventually("the message after the restart", || {
            node.in_room("r").len() == sent as usize + 1
        })
        .await;
        let last = lock(&node.messages).last().cloned().expect("a message");
        assert_eq!(
            (last.position, last.payload),
            (resumed, Bytes::from_static(b"again"))
        );
    }
}

#[tokio::test]
async fn connecting_to_no_redis_fails_clearly() {
    let _shared = crate::shared().await;
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let error = RedisBackend::connect(RedisConfig::new(format!("redis://127.0.0.1:{port}")))
        .await
        .expect_err("nothing listens");
    assert!(
        matches!(error, BackendError::Unavailable { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("unavailable"), "{error}");
    // The URL is still read first: this test needs the services too.
    let _ = redis_url();
}
