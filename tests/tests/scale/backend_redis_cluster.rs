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
    Backend, BackendError, BackendState, Bytes, Gap, GapKind, History, HistoryWindow, Position,
    RedisBackend, RedisConfig, RoomMessage, Subscriber,
};
use tagwire_tests::redis_cluster::RedisCluster;
use tagwire_tests::services::redis_cluster_urls;

use crate::backend_redis::{lock, node, one_order_per_room_across_two_nodes, prefix};
use crate::presence_redis::{
    a_dropped_nodes_members_leave_within_lease_and_renewal,
    presence_events_are_caught_up_after_a_reconnect, presence_is_one_set_across_two_nodes,
};

fn config(test: &str) -> RedisConfig {
    RedisConfig::cluster(redis_cluster_urls()).with_prefix(prefix(test))
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
fn kill_subscribed_connections() -> usize {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_concurrent_publishers_on_two_nodes_give_one_order_per_room() {
    let _shared = crate::shared().await;
    one_order_per_room_across_two_nodes(config("cluster-order")).await;
}

/// Each room's keys are in one slot, and the test's rooms are spread over
/// more than one shard (so the other tests cross shards).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_rooms_keys_share_one_slot_and_rooms_spread_over_shards() {
    let _shared = crate::shared().await;
    let config = config("cluster-slots");
    let (a, _) = node(config.clone()).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_history_replays_within_the_window_and_gaps_beyond() {
    let _shared = crate::shared().await;
    let config = config("cluster-window").with_window(HistoryWindow {
        max_messages: 10,
        max_age: None,
    });
    let (a, _) = node(config.clone()).await;
    let (b, node_b) = node(config).await;
    let rooms = ["r0", "r1", "r2"];
    let mut positions: HashMap<&str, Vec<Position>> = HashMap::new();
    for room in rooms {
        b.subscribe(room).await.expect("subscribe");
    }
    for i in 0..15 {
        for room in rooms {
            let position = a
                .publish(room, Bytes::from(format!("{room}-{i}")))
                .await
                .expect("publish");
            positions.entry(room).or_default().push(position);
        }
    }
    for room in rooms {
        let at = |seq: u64| Position {
            seq,
            ..positions[room][0]
        };
        match b.history(room, at(7)).await.expect("history") {
            History::Messages(messages) => {
                let seqs: Vec<u64> = messages.iter().map(|m| m.position.seq).collect();
                assert_eq!(seqs, (8..=15).collect::<Vec<_>>());
                assert_eq!(&messages[0].payload[..], format!("{room}-7").as_bytes());
            }
            History::Gap(gap) => panic!("{room}: {gap:?}"),
        }
        assert_eq!(
            b.history(room, at(2)).await.expect("history"),
            History::Gap(Gap {
                room: room.into(),
                after: at(2),
                current: at(15),
                kind: GapKind::Trimmed { oldest: Some(6) },
            })
        );
        let other_epoch = Position {
            epoch: at(1).epoch - 1,
            seq: 3,
        };
        assert!(matches!(
            b.history(room, other_epoch).await.expect("history"),
            History::Gap(Gap {
                kind: GapKind::Reset,
                ..
            })
        ));
    }
    crate::backend_redis::eventually("B to receive all 45", || {
        rooms.iter().all(|room| node_b.in_room(room).len() == 15)
    })
    .await;
    assert!(lock(&node_b.gaps).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_presence_is_one_set_across_two_nodes() {
    let _shared = crate::shared().await;
    presence_is_one_set_across_two_nodes(config("cluster-presence")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_a_killed_nodes_members_leave_within_the_lease() {
    let _alone = crate::alone().await;
    let took =
        a_dropped_nodes_members_leave_within_lease_and_renewal(config("cluster-lease")).await;
    eprintln!(
        "figures: redis cluster: a dropped node's members left after {took:?} (lease 300 ms, renew every 100 ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_presence_events_survive_a_reconnect_in_order() {
    let _alone = crate::alone().await;
    presence_events_are_caught_up_after_a_reconnect(
        config("cluster-presence-reconnect"),
        kill_subscribed_connections,
    )
    .await;
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
    crate::backend_redis::eventually("both nodes to see the last messages", || {
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
