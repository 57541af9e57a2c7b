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

use tagwire::server::backend::{
    Backend, Bytes, Gap, GapKind, History, HistoryWindow, Position, RedisConfig,
};
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
