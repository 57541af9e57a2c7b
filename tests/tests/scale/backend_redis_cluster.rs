//! The Redis backend on a real Redis Cluster (three primaries, three
//! replicas): two backends on one cluster are two server nodes
//! (docs/SCALE.md, "Redis Cluster").
//!
//! Needs `scripts/services start` first (it starts the cluster and writes
//! TAGWIRE_REDIS_CLUSTER_URLS); without it every test fails saying so. The
//! failover test builds a cluster of its own (`tagwire_tests::redis_cluster`)
//! and never touches the shared one.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tagwire::server::backend::{
    Backend, BackendError, BackendState, Bytes, Gap, Position, RedisBackend, RedisConfig,
    RoomMessage, Subscriber,
};
use tagwire_tests::redis_cluster::RedisCluster;
use tagwire_tests::services::redis_cluster_urls;

use tagwire_tests::process::lock;

use crate::engines::{eventually, unique};

fn config(test: &str) -> RedisConfig {
    RedisConfig::cluster(redis_cluster_urls()).with_prefix(unique(test))
}

/// `redis-cli -u URL args...` against one node of the cluster.
fn cli(url: &str, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .arg("-u")
        .arg(url)
        .args(args)
        .output()
        .expect("redis-cli runs (scripts/services installs it)");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Kills, on every node of the cluster, the connections that hold a
/// (sharded) subscription: the subscribing backends' cluster connections.
pub(crate) fn kill_subscribed_connections() -> usize {
    let mut killed = 0;
    for url in redis_cluster_urls() {
        for line in cli(&url, &["CLIENT", "LIST"]).lines() {
            let subscribed = line.split(' ').any(|field| {
                (field.starts_with("ssub=") && field != "ssub=0")
                    || (field.starts_with("sub=") && field != "sub=0")
            });
            if let (true, Some(id)) = (
                subscribed,
                line.split(' ').find_map(|f| f.strip_prefix("id=")),
            ) {
                cli(&url, &["CLIENT", "KILL", "ID", id]);
                killed += 1;
            }
        }
    }
    killed
}

/// Each room's keys are in one slot, and the test's rooms are spread over
/// more than one shard (so the other tests cross shards).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_rooms_keys_share_one_slot_and_rooms_spread_over_shards() {
    let _shared = crate::shared().await;
    let config = config("cluster-slots");
    let a = RedisBackend::connect(config.clone())
        .await
        .expect("connects to the cluster");
    let rooms = ["r0", "r1", "r2", "lobby", "a}b", "{x}", "", "%7D"];
    for room in rooms {
        a.subscribe(room).await.expect("subscribe");
        a.presence_set(room, "ann", 1, Bytes::from_static(b"s"))
            .await
            .expect("join");
    }
    let url = &redis_cluster_urls()[0];
    let mut slots_of_rooms = HashSet::new();
    for room in rooms {
        // The keys as docs/SCALE.md names them.
        let tag = room.replace('%', "%25").replace('}', "%7D");
        let tag = if room.is_empty() { "%".to_owned() } else { tag };
        let slots: HashSet<String> = ["m", "l", "p", "n", "r"]
            .iter()
            .map(|kind| {
                let key = format!("{}:{{{tag}}}:{kind}", config.prefix);
                cli(url, &["CLUSTER", "KEYSLOT", &key])
            })
            .collect();
        assert_eq!(slots.len(), 1, "room {room:?}: {slots:?}");
        slots_of_rooms.extend(slots);
        // Each key exists where its slot lives (redis-cli -c follows MOVED).
        for kind in ["m", "l", "p", "n"] {
            let key = format!("{}:{{{tag}}}:{kind}", config.prefix);
            let exists = Command::new("redis-cli")
                .args(["-c", "-u", url, "EXISTS", &key])
                .output()
                .expect("redis-cli");
            assert_eq!(String::from_utf8_lossy(&exists.stdout).trim(), "1", "{key}");
        }
    }
    let shards: HashSet<u64> = ["r0", "r1", "r2"]
        .iter()
        .map(|room| {
            let slot: u64 = cli(url, &["CLUSTER", "KEYSLOT", &format!("{{{room}}}")])
                .parse()
                .expect("a slot");
            // Three primaries split 16,384 slots into thirds.
            slot * 3 / 16_384
        })
        .collect();
    assert!(shards.len() > 1, "r0..r2 all on one shard: {shards:?}");
}

/// What one node's backend delivered, messages and gaps in one order.
#[derive(Debug, Clone)]
enum Seen {
    Message(RoomMessage),
    Gap(Gap),
}

#[derive(Default)]
struct Log(Mutex<Vec<Seen>>);

impl Subscriber for Log {
    fn message(&self, message: &RoomMessage) {
        lock(&self.0).push(Seen::Message(message.clone()));
    }
    fn gap(&self, gap: &Gap) {
        lock(&self.0).push(Seen::Gap(gap.clone()));
    }
}

/// One publish during the failover: when it was made, when it ended, and
/// how.
struct Sent {
    room: &'static str,
    payload: Bytes,
    at: Instant,
    result: Result<Position, BackendError>,
}

fn error_kind(error: &BackendError) -> &'static str {
    match error {
        BackendError::Unavailable { .. } => "Unavailable",
        BackendError::Uncertain { .. } => "Uncertain",
        BackendError::Refused { .. } => "Refused",
        BackendError::Overloaded { .. } => "Overloaded",
        _ => "other",
    }
}

/// A primary killed with SIGKILL during traffic on its own cluster: its
/// replica is promoted, the backends reconnect, and every acknowledged
/// publish is delivered once, in order, to both nodes, or falls in a gap;
/// no position is ever given to two messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_failover_a_killed_primary_under_traffic() {
    let _alone = crate::alone().await;
    let mut cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .expect("the cluster starts");
    let mut config = RedisConfig::cluster(cluster.urls()).with_prefix("failover");
    config.response_timeout = Duration::from_millis(400);
    config.connect_timeout = Duration::from_millis(400);
    config.health_interval = Duration::from_millis(200);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    let rooms = ["r0", "r1", "r2"];
    let mut backends = Vec::new();
    let mut logs = Vec::new();
    for _ in 0..2 {
        let backend = RedisBackend::connect(config.clone())
            .await
            .expect("connects to the cluster");
        let log = Arc::new(Log::default());
        let subscriber: Arc<dyn Subscriber> = log.clone();
        backend.attach(Arc::downgrade(&subscriber));
        for room in rooms {
            backend.subscribe(room).await.expect("subscribe");
        }
        backends.push(backend);
        logs.push(log);
    }
    let victim = cluster.primary_for("{r0}");
    let victims_rooms: Vec<&str> = rooms
        .iter()
        .copied()
        .filter(|room| cluster.primary_for(&format!("{{{room}}}")) == victim)
        .collect();

    // Each backend's states as they change.
    let states: Arc<Mutex<Vec<(usize, Instant, BackendState)>>> = Arc::default();
    for (n, backend) in backends.iter().enumerate() {
        let mut watch = backend.state();
        let states = states.clone();
        tokio::spawn(async move {
            while watch.changed().await.is_ok() {
                let state = watch.borrow_and_update().clone();
                lock(&states).push((n, Instant::now(), state));
            }
        });
    }

    // Both nodes publish, each a message every 5 ms over the three rooms.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut publishers = Vec::new();
    for (n, backend) in backends.iter().enumerate() {
        let backend = backend.clone();
        let stop = stop.clone();
        publishers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut ticks = tokio::time::interval(Duration::from_millis(5));
            let mut i = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                ticks.tick().await;
                let room = rooms[i % 3];
                let payload = Bytes::from(format!("{n}-{i}"));
                let at = Instant::now();
                let result = backend.publish(room, payload.clone()).await;
                sent.push(Sent {
                    room,
                    payload,
                    at,
                    result,
                });
                i += 1;
            }
            sent
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = cluster.pid(victim);
    let killed = cluster.kill(victim);
    // Back: both Connected after the kill, and a publish to the victim's
    // shard acknowledged.
    let deadline = killed + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let connected = backends
            .iter()
            .all(|b| *b.state().borrow() == BackendState::Connected);
        if connected
            && killed.elapsed() > Duration::from_millis(500)
            && backends[0]
                .publish("r0", Bytes::from_static(b"probe"))
                .await
                .is_ok()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not back within 20 s (killed port {victim}): last states {:?}; the cluster: {}",
            lock(&states).iter().rev().take(2).collect::<Vec<_>>(),
            cluster.cli(cluster.primary_for("{r1}"), &["CLUSTER", "NODES"])
        );
    }
    let back = killed.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sent: Vec<(usize, Sent)> = Vec::new();
    for (n, publisher) in publishers.into_iter().enumerate() {
        sent.extend(
            publisher
                .await
                .expect("publisher")
                .into_iter()
                .map(|s| (n, s)),
        );
    }
    // A last message per room, so that each node has everything before it.
    let mut last = HashMap::new();
    for room in rooms {
        last.insert(
            room,
            backends[0]
                .publish(room, Bytes::from_static(b"end"))
                .await
                .expect("publish after the failover"),
        );
    }
    eventually("both nodes to see the last messages", || {
        logs.iter().all(|log| {
            rooms.iter().all(|room| {
                lock(&log.0).iter().any(|seen| {
                    matches!(seen, Seen::Message(m) if &*m.room == *room && m.position == last[room])
                })
            })
        })
    })
    .await;

    // Each node: per room, consecutive positions or a gap between; no
    // position twice. Across nodes and publishers: one payload per position.
    let mut payload_at: HashMap<(&str, Position), Bytes> = HashMap::new();
    let mut claim = |room: &'static str, position: Position, payload: &Bytes, who: &str| {
        let before = payload_at
            .entry((room, position))
            .or_insert_with(|| payload.clone());
        assert_eq!(
            before, payload,
            "{room} {position} given to two messages ({who})"
        );
    };
    let mut gaps_seen = Vec::new();
    let mut delivered: Vec<HashMap<(&str, Position), Bytes>> = Vec::new();
    for (n, log) in logs.iter().enumerate() {
        let seen = lock(&log.0).clone();
        let mut mine = HashMap::new();
        for room in rooms {
            let mut at = Position::START;
            for event in seen.iter() {
                match event {
                    Seen::Message(m) if &*m.room == room => {
                        let follows = (m.position.epoch == at.epoch
                            && m.position.seq == at.seq + 1)
                            || (at.seq == 0 && m.position.seq == 1);
                        assert!(follows, "node {n} {room}: {} after {at}", m.position);
                        assert!(mine.insert((room, m.position), m.payload.clone()).is_none());
                        claim(room, m.position, &m.payload, "a delivery");
                        at = m.position;
                    }
                    Seen::Gap(g) if &*g.room == room => {
                        gaps_seen.push((n, room, g.kind, g.after, g.current));
                        at = g.current;
                    }
                    _ => {}
                }
            }
        }
        delivered.push(mine);
    }
    let mut acknowledged = 0;
    let mut lost_to_gaps = 0;
    let mut errors: HashMap<&str, usize> = HashMap::new();
    let (mut first_failure, mut last_failure) = (None::<Duration>, None::<Duration>);
    for (_, s) in &sent {
        match &s.result {
            Ok(position) => {
                acknowledged += 1;
                claim(s.room, *position, &s.payload, "an acknowledgement");
                for (n, mine) in delivered.iter().enumerate() {
                    if mine.get(&(s.room, *position)) == Some(&s.payload) {
                        continue;
                    }
                    let covered = gaps_seen.iter().any(|(m, room, _, after, _)| {
                        *m == n
                            && *room == s.room
                            && after.epoch == position.epoch
                            && after.seq < position.seq
                    });
                    assert!(
                        covered,
                        "node {n} never got acknowledged {} {position}, and no gap covers it",
                        s.room
                    );
                    lost_to_gaps += 1;
                }
            }
            Err(error) => {
                *errors.entry(error_kind(error)).or_default() += 1;
                let since = s.at.saturating_duration_since(killed);
                first_failure = Some(first_failure.map_or(since, |f| f.min(since)));
                last_failure = Some(last_failure.map_or(since, |l| l.max(since)));
            }
        }
    }
    // The failures are the failover's: none before the kill, none well after.
    assert!(
        sent.iter().all(|(_, s)| s.result.is_ok() || s.at >= killed),
        "a publish failed before the kill"
    );
    assert!(back < Duration::from_secs(10), "back after {back:?}");
    let states = lock(&states).clone();
    let reconnecting: Vec<Option<Duration>> = (0..2)
        .map(|n| {
            states.iter().find_map(|(m, at, state)| {
                (*m == n && matches!(state, BackendState::Reconnecting { .. }))
                    .then(|| at.saturating_duration_since(killed))
            })
        })
        .collect();
    let connected: Vec<Option<Duration>> = (0..2)
        .map(|n| {
            states.iter().rev().find_map(|(m, at, state)| {
                (*m == n && *state == BackendState::Connected)
                    .then(|| at.saturating_duration_since(killed))
            })
        })
        .collect();

    // Restore: the killed node rejoins as a replica.
    let restarted = cluster.restart(victim);
    let healthy = tokio::task::block_in_place(|| cluster.wait_ok(Duration::from_secs(20)));
    let rejoined = restarted.elapsed();
    assert_eq!(
        cluster.role(victim),
        "slave",
        "the killed primary rejoins as a replica"
    );

    eprintln!(
        "figures: redis cluster failover: killed primary pid {pid} (port {victim}, rooms {victims_rooms:?}); \
         Reconnecting after {reconnecting:?}, Connected again after {connected:?}, publishes to every shard \
         acknowledged again after {back:?}; {} publishes, {acknowledged} acknowledged, failures {errors:?} \
         from {first_failure:?} to {last_failure:?} after the kill; gaps {gaps_seen:?}; acknowledged \
         messages a node got as a gap instead: {lost_to_gaps}; duplicates 0; cluster ok again \
         {healthy:?} after the restart ({rejoined:?} with the restart)",
        sent.len()
    );
}

/// Redis Cluster's key slot: CRC16 (XMODEM) of the hash tag, mod 16,384.
fn slot_of(tag: &str) -> u16 {
    let mut crc: u16 = 0;
    for &byte in tag.as_bytes() {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 == 0 {
                crc << 1
            } else {
                (crc << 1) ^ 0x1021
            };
        }
    }
    crc % 16_384
}

/// A room's slot moved to another shard while two nodes are subscribed
/// (`redis-cli --cluster reshard`, which migrates the keys): Redis drops
/// the sharded subscriptions, the nodes reconnect, subscribe where the slot
/// is now and catch up; the room goes on in its epoch, every message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_rooms_slot_moved_to_another_shard_keeps_it_delivered() {
    let _alone = crate::alone().await;
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .expect("the cluster starts");
    let any = cluster.urls()[0].clone();
    let port = |url: &str| -> u16 {
        url.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    };
    // The primary that serves slot 0 gives up its first slot, slot 0.
    let nodes = cli(&any, &["CLUSTER", "NODES"]);
    let primaries: Vec<(String, bool)> = nodes
        .lines()
        .filter(|line| line.contains("master"))
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            (
                fields[0].to_owned(),
                fields[8..].iter().any(|r| r.starts_with("0-")),
            )
        })
        .collect();
    let from = primaries
        .iter()
        .find(|(_, first)| *first)
        .expect("slot 0's primary")
        .0
        .clone();
    let to = primaries
        .iter()
        .find(|(_, first)| !*first)
        .expect("another primary")
        .0
        .clone();
    let room = (0..)
        .map(|i| format!("moved-{i}"))
        .find(|room| slot_of(room) == 0)
        .expect("a room in slot 0");
    assert_eq!(
        cli(&any, &["CLUSTER", "KEYSLOT", &format!("{{{room}}}")]),
        "0"
    );

    let mut config = RedisConfig::cluster(cluster.urls()).with_prefix("reshard");
    config.reconnect_max = Duration::from_millis(200);
    let a = RedisBackend::connect(config.clone())
        .await
        .expect("connects");
    let b = RedisBackend::connect(config).await.expect("connects");
    let logs: Vec<Arc<Log>> = [&a, &b]
        .iter()
        .map(|backend| {
            let log = Arc::new(Log::default());
            let subscriber: Arc<dyn Subscriber> = log.clone();
            backend.attach(Arc::downgrade(&subscriber));
            log
        })
        .collect();
    a.subscribe(&room).await.expect("subscribe");
    b.subscribe(&room).await.expect("subscribe");
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            a.publish(&room, Bytes::from(format!("m{i}")))
                .await
                .expect("publish"),
        );
    }
    let before = cluster.primary_for(&format!("{{{room}}}"));

    // redis-cli checks the cluster first and refuses while the nodes do not
    // yet agree on its configuration (just after it was made): try again.
    let mut attempts = 0;
    loop {
        let reshard = Command::new("redis-cli")
            .args(["--cluster", "reshard", &format!("127.0.0.1:{}", port(&any))])
            .args([
                "--cluster-from",
                &from,
                "--cluster-to",
                &to,
                "--cluster-slots",
                "1",
            ])
            .arg("--cluster-yes")
            .output()
            .expect("redis-cli --cluster reshard");
        if reshard.status.success() {
            break;
        }
        attempts += 1;
        assert!(
            attempts < 20,
            "redis-cli --cluster reshard: {}",
            String::from_utf8_lossy(&reshard.stdout)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::task::block_in_place(|| cluster.wait_ok(Duration::from_secs(20)));
    let after = cluster.primary_for(&format!("{{{room}}}"));
    assert_ne!(before, after, "the room's slot moved");

    // Publishes go on (those made while a node reconnects may be refused).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut i = 5;
    while sent.len() < 10 {
        match a.publish(&room, Bytes::from(format!("m{i}"))).await {
            Ok(position) => {
                sent.push(position);
                i += 1;
            }
            Err(error) => {
                assert!(
                    Instant::now() < deadline,
                    "publishes refused for 20 s: {error}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let last = *sent.last().expect("sent");
    eventually("both nodes to get the messages after the move", || {
        logs.iter().all(|log| {
            lock(&log.0)
                .iter()
                .any(|seen| matches!(seen, Seen::Message(m) if m.position == last))
        })
    })
    .await;
    assert!(
        sent.windows(2)
            .all(|w| w[1].epoch == w[0].epoch && w[1].seq == w[0].seq + 1)
    );
    for log in &logs {
        let seen: Vec<(Position, Bytes)> = lock(&log.0)
            .iter()
            .map(|seen| match seen {
                Seen::Message(m) => (m.position, m.payload.clone()),
                Seen::Gap(gap) => panic!("a gap: {gap:?}"),
            })
            .collect();
        let expected: Vec<(Position, Bytes)> = sent
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, Bytes::from(format!("m{i}"))))
            .collect();
        assert_eq!(seen, expected);
    }
}
