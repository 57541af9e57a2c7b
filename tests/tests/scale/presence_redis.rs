//! Presence in the Redis backend against a real redis-server: two backends on
//! one Redis are two server nodes (docs/SCALE.md, "Presence in Redis").
//!
//! Needs `scripts/services start` first, as `backend_redis` does. Short
//! leases and lingers (300 ms) so the expiry tests take about a second of
//! real time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tagwire::server::backend::{
    Backend, BackendError, Bytes, Position, PresenceConfig, PresenceEntry, PresenceEvent,
    PresenceKind, RedisBackend, RedisConfig,
};
use tagwire_tests::services::redis_url;

use crate::backend_redis::{Node, eventually, lock, node, prefix};

/// The presence events a node was delivered in a room, in order:
/// (seq, kind, member, state).
pub(crate) fn events(node: &Node, room: &str) -> Vec<(u64, PresenceKind, String, Vec<u8>)> {
    node.in_room(room)
        .into_iter()
        .filter_map(|(seq, payload)| {
            PresenceEvent::parse(&payload)
                .map(|e| (seq, e.kind, e.member.to_owned(), e.state.to_vec()))
        })
        .collect()
}

fn short(lease_ms: u64, linger_ms: u64) -> PresenceConfig {
    PresenceConfig {
        lease: Duration::from_millis(lease_ms),
        linger: Duration::from_millis(linger_ms),
        max_members: 4,
        max_state_bytes: 16,
    }
}

fn entry(member: &str, state: &'static [u8]) -> PresenceEntry {
    PresenceEntry {
        member: Arc::from(member),
        state: Bytes::from_static(state),
    }
}

/// Joins, updates, take-overs, leaves, limits and snapshots across two
/// nodes; `config` gives each node's configuration (one Redis, or a
/// cluster).
pub(crate) async fn presence_is_one_set_across_two_nodes(config: RedisConfig) {
    let config = config.with_presence(short(10_000, 300));
    let (a, node_a) = node(config.clone()).await;
    let (b, node_b) = node(config).await;
    let room = "cursors";
    a.subscribe(room).await.expect("subscribe");
    b.subscribe(room).await.expect("subscribe");

    let set = |backend: &RedisBackend, member: &str, conn: u64, state: &'static [u8]| {
        backend.presence_set(room, member, conn, Bytes::from_static(state))
    };
    let p1 = set(&a, "ann", 1, b"a1")
        .await
        .expect("join")
        .expect("an event");
    assert_eq!(p1.seq, 1);
    assert_eq!(set(&a, "ann", 1, b"a1").await.expect("same state"), None);
    let p2 = set(&a, "ann", 1, b"a2")
        .await
        .expect("update")
        .expect("an event");
    assert_eq!(p2, Position { seq: 2, ..p1 });
    set(&b, "bob", 7, b"b1")
        .await
        .expect("join")
        .expect("an event");
    // An application message between them keeps its place in the order.
    a.publish(room, Bytes::from_static(b"hello"))
        .await
        .expect("publish");

    // Limits: state size, member keys, members per room.
    for refused in [
        set(&a, "cat", 1, b"seventeen bytes!!").await,
        set(&a, "", 1, b"x").await,
        set(&a, "a\nb", 1, b"x").await,
    ] {
        assert!(
            matches!(refused, Err(BackendError::Refused { .. })),
            "{refused:?}"
        );
    }
    set(&b, "cat", 8, b"c1").await.expect("join");
    set(&b, "dan", 9, b"d1").await.expect("join");
    let full = set(&a, "eve", 2, b"e1").await;
    assert!(
        matches!(&full, Err(BackendError::Refused { error }) if error.contains('4')),
        "{full:?}"
    );
    // A member already present may still change its state at the limit.
    set(&b, "dan", 9, b"d2")
        .await
        .expect("update")
        .expect("an event");

    // Only the owning connection of the owning node leaves or lingers it.
    assert_eq!(
        a.presence_leave(room, "bob", 7).await.expect("not A's"),
        None
    );
    assert_eq!(
        b.presence_leave(room, "bob", 6)
            .await
            .expect("not conn 6's"),
        None
    );
    let left = b
        .presence_leave(room, "bob", 7)
        .await
        .expect("leave")
        .expect("an event");

    // Take-over within the linger: no leave, an update only when the state
    // differs, and the linger no longer applies.
    b.presence_linger(room, "cat", 8).await.expect("linger");
    assert_eq!(set(&a, "cat", 3, b"c1").await.expect("take over"), None);
    b.presence_linger(room, "dan", 9).await.expect("linger");
    set(&a, "dan", 4, b"d3")
        .await
        .expect("take over")
        .expect("an update");

    let snapshot = b.presence_snapshot(room).await.expect("snapshot");
    assert_eq!(
        snapshot.members,
        vec![
            entry("ann", b"a2"),
            entry("cat", b"c1"),
            entry("dan", b"d3")
        ]
    );
    assert!(snapshot.position.seq > left.seq);

    // A lingering member nobody takes over leaves once the linger passed,
    // swept by a node (here the snapshot's sweep; the ticks do it too).
    a.presence_linger(room, "ann", 1).await.expect("linger");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let snapshot = a.presence_snapshot(room).await.expect("snapshot");
    assert_eq!(
        snapshot.members,
        vec![entry("cat", b"c1"), entry("dan", b"d3")]
    );

    // Both nodes saw the same events in the same order, at the snapshot's
    // position at the latest.
    let upto = snapshot.position.seq;
    eventually("both nodes to reach the snapshot", || {
        node_a
            .in_room(room)
            .last()
            .is_some_and(|(seq, _)| *seq == upto)
            && node_b
                .in_room(room)
                .last()
                .is_some_and(|(seq, _)| *seq == upto)
    })
    .await;
    let seen = events(&node_a, room);
    assert_eq!(seen, events(&node_b, room));
    let kinds: Vec<(PresenceKind, &str)> =
        seen.iter().map(|(_, k, m, _)| (*k, m.as_str())).collect();
    use PresenceKind::{Join, Leave, Update};
    assert_eq!(
        kinds,
        vec![
            (Join, "ann"),
            (Update, "ann"),
            (Join, "bob"),
            (Join, "cat"),
            (Join, "dan"),
            (Update, "dan"),
            (Leave, "bob"),
            (Update, "dan"),
            (Leave, "ann"),
        ]
    );
    // Every seq once, application messages among them, no gap.
    let seqs: Vec<u64> = node_b.in_room(room).iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=upto).collect::<Vec<_>>());
    assert!(lock(&node_a.gaps).is_empty() && lock(&node_b.gaps).is_empty());
}

/// A node dropped without leaving (its process killed): the other node's
/// sweeps remove its members once its lease ran out. Returns the time from
/// the drop to the last leave seen by the other node.
pub(crate) async fn a_dropped_nodes_members_leave_within_lease_and_renewal(
    config: RedisConfig,
) -> Duration {
    let presence = short(300, 10_000);
    let config = config.with_presence(presence);
    let (a, _node_a) = node(config.clone()).await;
    let (b, node_b) = node(config).await;
    let room = "lease";
    a.subscribe(room).await.expect("subscribe");
    b.subscribe(room).await.expect("subscribe");
    for member in ["ann", "bob"] {
        a.presence_set(room, member, 1, Bytes::from_static(b"s"))
            .await
            .expect("join");
    }
    b.presence_set(room, "cat", 2, Bytes::from_static(b"s"))
        .await
        .expect("join");
    // Renewals keep A's members for several leases.
    tokio::time::sleep(presence.lease * 3).await;
    let members = b.presence_snapshot(room).await.expect("snapshot").members;
    assert_eq!(members.len(), 3, "{members:?}");

    drop(a);
    let dropped = Instant::now();
    let bound = presence.lease + presence.renew_every();
    eventually("A's members to leave", || {
        events(&node_b, room)
            .iter()
            .filter(|(_, kind, _, _)| *kind == PresenceKind::Leave)
            .count()
            == 2
    })
    .await;
    let took = dropped.elapsed();
    let leaves: Vec<String> = events(&node_b, room)
        .into_iter()
        .filter(|(_, kind, _, _)| *kind == PresenceKind::Leave)
        .map(|(_, _, member, _)| member)
        .collect();
    assert_eq!(
        {
            let mut l = leaves.clone();
            l.sort();
            l
        },
        ["ann", "bob"]
    );
    // The lease was last renewed at most renew_every before the drop, and B
    // sweeps every renew_every: both bound it, plus delivery (loopback).
    assert!(
        took <= bound + Duration::from_millis(100),
        "A's members left {took:?} after the drop; bound {bound:?}"
    );
    // No second leave from a second sweep, and B's own member stays.
    tokio::time::sleep(presence.renew_every() * 3).await;
    assert_eq!(events(&node_b, room).len(), 5);
    let members = b.presence_snapshot(room).await.expect("snapshot").members;
    assert_eq!(members, vec![entry("cat", b"s")]);
    took
}

/// Presence events travel with the room's messages through a reconnect:
/// the subscribed node's connection is killed while the other sets
/// presence, and the catch-up delivers every event once, in order.
pub(crate) async fn presence_events_are_caught_up_after_a_reconnect(
    config: RedisConfig,
    kill: impl Fn() -> usize,
) {
    let (a, _) = node(config.clone()).await;
    let (b, node_b) = node(config).await;
    let room = "catch-up";
    b.subscribe(room).await.expect("subscribe");
    let mut last = Position::START;
    for i in 0..60u64 {
        if i == 20 {
            assert!(kill() > 0, "no subscribed connection to kill");
        }
        let state = Bytes::from(format!("s{i}"));
        let result = a.presence_set(room, &format!("m{}", i % 3), 1, state).await;
        last = result.expect("A is not the one cut off").expect("an event");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eventually("B to catch up", || {
        node_b
            .in_room(room)
            .last()
            .is_some_and(|(seq, _)| *seq == last.seq)
    })
    .await;
    let seen = events(&node_b, room);
    assert_eq!(seen.len(), 60);
    for (i, (seq, kind, member, state)) in seen.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        assert_eq!(
            *kind,
            if i < 3 {
                PresenceKind::Join
            } else {
                PresenceKind::Update
            }
        );
        assert_eq!(member, &format!("m{}", i % 3));
        assert_eq!(state, format!("s{i}").as_bytes());
    }
    assert!(lock(&node_b.gaps).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_one_set_across_two_redis_nodes() {
    let _shared = crate::shared().await;
    presence_is_one_set_across_two_nodes(
        RedisConfig::new(redis_url()).with_prefix(prefix("presence")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_members_leave_every_other_node_within_the_lease() {
    let _alone = crate::alone().await;
    let took = a_dropped_nodes_members_leave_within_lease_and_renewal(
        RedisConfig::new(redis_url()).with_prefix(prefix("lease")),
    )
    .await;
    eprintln!(
        "figures: redis: a dropped node's members left after {took:?} (lease 300 ms, renew every 100 ms)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_events_survive_a_reconnect_in_order() {
    let _alone = crate::alone().await;
    presence_events_are_caught_up_after_a_reconnect(
        RedisConfig::new(redis_url()).with_prefix(prefix("presence-reconnect")),
        crate::backend_redis::kill_subscribed_connections,
    )
    .await;
}
