//! Presence in the Redis backend through a reconnect, on one Redis and on
//! a cluster: the subscribed node's connections are killed while the other
//! node sets presence, and the catch-up delivers every presence event once,
//! in order, like any room message (docs/SCALE.md). The other presence
//! cases run for every engine (`engines::cases`).
//!
//! Needs `scripts/services start` first, as `backend_redis` does.

use std::sync::Arc;
use std::time::Duration;

use tagwire::server::backend::{Backend, Bytes, Position, RedisBackend, RedisConfig};
use tagwire_tests::services::{redis_cluster_urls, redis_url};

use crate::engines::{Recorder, eventually, unique};

async fn presence_events_are_caught_up_after_a_reconnect(
    config: RedisConfig,
    kill: impl Fn() -> usize,
) {
    let node = || async {
        let backend: Arc<dyn Backend> = Arc::new(
            RedisBackend::connect(config.clone())
                .await
                .unwrap_or_else(|error| panic!("connecting to {}: {error}", config.url)),
        );
        backend
    };
    let a = node().await;
    let b = node().await;
    let seen_b = Recorder::attach(&b);
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
        seen_b.in_room(room).last().map(|m| m.position) == Some(last)
    })
    .await;
    let seen = seen_b.presence(room);
    assert_eq!(seen.len(), 60);
    for (i, (seq, kind, member, state)) in seen.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1);
        let expected = if i < 3 { 'j' } else { 'u' };
        assert_eq!(*kind, expected);
        assert_eq!(member, &format!("m{}", i % 3));
        assert_eq!(state, format!("s{i}").as_bytes());
    }
    assert!(seen_b.gaps().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_events_survive_a_reconnect_in_order() {
    let _alone = crate::alone().await;
    presence_events_are_caught_up_after_a_reconnect(
        RedisConfig::new(redis_url()).with_prefix(unique("presence-reconnect")),
        crate::backend_redis::kill_subscribed_connections,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_presence_events_survive_a_reconnect_in_order() {
    let _alone = crate::alone().await;
    presence_events_are_caught_up_after_a_reconnect(
        RedisConfig::cluster(redis_cluster_urls()).with_prefix(unique("presence-reconnect")),
        crate::backend_redis_cluster::kill_subscribed_connections,
    )
    .await;
}

/// States are the presence message's binary frame: any bytes (NUL, newline,
/// `:` and bytes above 127 among them) come back from a snapshot exactly,
/// and setting the same bytes again is no change.
async fn binary_states_are_kept_exactly(config: RedisConfig) {
    let backend: Arc<dyn Backend> = Arc::new(
        RedisBackend::connect(config.clone())
            .await
            .unwrap_or_else(|error| panic!("connecting to {}: {error}", config.url)),
    );
    let room = "binary";
    let states: [&'static [u8]; 3] = [b"\0", b"a\n\0:b\xff:", b":0:1:\r\n"];
    for (i, state) in states.iter().enumerate() {
        let event = backend
            .presence_set(room, "ann", 1, Bytes::from_static(state))
            .await
            .expect("set");
        assert!(event.is_some(), "state {i} is a change");
        assert_eq!(
            backend
                .presence_set(room, "ann", 2, Bytes::from_static(state))
                .await
                .expect("set again"),
            None,
            "state {i} set again (another connection) is no change"
        );
        let members = backend
            .presence_snapshot(room)
            .await
            .expect("snapshot")
            .members;
        assert_eq!(members.len(), 1);
        assert_eq!(&members[0].state[..], *state, "state {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_presence_states_are_kept_exactly() {
    let _shared = crate::shared().await;
    binary_states_are_kept_exactly(RedisConfig::new(redis_url()).with_prefix(unique("binary")))
        .await;
    binary_states_are_kept_exactly(
        RedisConfig::cluster(redis_cluster_urls()).with_prefix(unique("binary")),
    )
    .await;
}
