//! The Redis broadcast backend against a real redis-server: two backends on one
//! Redis are two server nodes (docs/SCALE.md).
//!
//! Needs `scripts/services start` first (it writes target/services/env with
//! TAGWIRE_REDIS_URL); without it every test fails saying so. Each test uses a
//! key prefix of its own; the restart test takes the Redis away, so it runs
//! alone (`crate::alone`, which every other test of this binary waits for).

use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tagwire_tests::services::redis_url;

use tagwire::server::backend::{
    Backend, BackendError, BackendState, Bytes, Gap, HistoryWindow, RedisBackend, RedisConfig,
    RoomMessage, Subscriber,
};

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

/// What the engines suite cannot see: the stream is trimmed exactly to the
/// window (not approximately, as `MAXLEN ~` would), in the room's slot, and
/// the room's keys expire after `key_ttl`.
#[tokio::test]
async fn the_stream_is_trimmed_exactly_to_the_window_and_its_keys_expire() {
    let _shared = crate::shared().await;
    let config = RedisConfig::new(redis_url())
        .with_prefix(prefix("window"))
        .with_window(HistoryWindow {
            max_messages: 10,
            max_age: None,
        });
    let (a, _) = node(config.clone()).await;
    for n in 1..=25 {
        a.publish("r", Bytes::from(format!("m{n}")))
            .await
            .expect("publish");
    }
    let log = format!("{}:{{r}}:l", config.prefix);
    assert_eq!(redis_cli(&["XLEN", &log]), "10");
    let ttl: i64 = redis_cli(&["PTTL", &log]).parse().expect("PTTL");
    assert!(ttl > 23 * 3600 * 1000, "{ttl}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connections_reconnect_resubscribe_and_catch_up_from_the_streams() {
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

    // The nodes' connections are cut while the publisher goes on: each
    // reconnects, resubscribes and catches up from the stream; nothing is
    // lost or doubled. (Redis killed and started again empty is the engines
    // suite's outage case.)
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
