//! A node killed without a drain, behind a real HAProxy: nodes A and B
//! (processes of the `scale-node` binary, rooms shared through Redis) behind
//! docs/SCALE.md's HAProxy settings; 300 Tagwire clients in 20 rooms
//! connected through it (leastconn puts about half on each node, so every
//! room has members on both); two publishers connected to B itself, so the
//! stream of room messages goes on through the node that survives. Then A
//! gets SIGKILL: no drain, no notice, its sockets closed by the kernel.
//! Measured and asserted:
//!
//! - (a) every client that was on A is back, on B, within the bound the
//!   client's backoff and HAProxy's behaviour give ([`bound`]); the clients
//!   on B never noticed;
//! - (b) their reconnects are spread by the backoff's jitter: no tenth of
//!   the first retry's jitter window holds more than twice its fair share
//!   (20 % of them);
//! - (c) every client got every room message from its first one on, in
//!   order, none twice, each the message Redis sequenced under that number,
//!   or a typed gap event for the ones it could not get (with a 2-minute
//!   window, none): what a client on A missed was replayed by B (counted).
//!
//! HAProxy still counts A UP for 15-20 s after the kill (4 failed checks at
//! 5 s); what moves the clients sooner is `option redispatch`: leastconn
//! sends each reconnect to the empty A first, A refuses at once, and HAProxy
//! retries on B at once. Real time (HAProxy runs its own clock), about 6 s.
//! Needs `scripts/services start && . target/services/env`
//! (TAGWIRE_REDIS_URL, TAGWIRE_HAPROXY); fails without them. Node and
//! HAProxy logs go to `$CARGO_TARGET_TMPDIR/node_kill/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tagwire::client::{Backoff, ClientConfig};
use tagwire_tests::fleet::{
    Cluster, Fleet, Publishers, Seen, connected, opens, secs, tenths, wait_until,
};
use tagwire_tests::haproxy::{CHECK_INTER, Haproxy};
use tagwire_tests::process::free_port;
use tagwire_tests::services::service;

const CLIENTS: usize = 300;
const ROOMS: usize = 20;
const PUBLISHERS: usize = 2;
/// Each publisher publishes to the next room this often: 40 messages a
/// second in all, 2 per room, 600 deliveries a second.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// The clients' backoff here: a connection that worked and then dropped is
/// retried after a uniformly random delay in [0, 3 s] (full jitter), later
/// failures within 6 s, then 12 s. The default starts at 500 ms and doubles
/// to 30 s; a first ceiling of 3 s makes each tenth of the window 300 ms,
/// well above the scheduling stalls of a loaded 2-core machine, so the
/// spread measured is the jitter's, and keeps the test short.
const BACKOFF: Backoff = Backoff {
    initial: Duration::from_secs(3),
    max: Duration::from_secs(12),
    multiplier: 2.0,
};

/// What a reconnect costs beyond its jitter: the kernel's close reaching the
/// client through HAProxy, A's refused connect, the redispatched one to B
/// and the upgrade, on a shared 2-core machine. Without the redispatch
/// HAProxy would retry A twice, 1 s apart (its turn-around), then answer
/// 503, and the client would back off again (up to 6 s), until the checks
/// take A out 15-20 s after the kill: far past this.
const RECONNECT_COST: Duration = Duration::from_millis(1000);

/// (a) The last client on A is back on B within the first retry's jitter
/// ceiling plus what one reconnect costs.
fn bound() -> Duration {
    BACKOFF.ceiling(0) + RECONNECT_COST
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_without_a_drain_loses_no_client_and_no_room_message() {
    let _alone = crate::alone().await;
    let redis = service("TAGWIRE_REDIS_URL");
    let haproxy = service("TAGWIRE_HAPROXY");
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node_kill");
    std::fs::create_dir_all(&logs).expect("log dir");
    let started = Instant::now();

    let cluster = Cluster::new(
        env!("CARGO_BIN_EXE_scale-node"),
        redis,
        vec![("A", free_port()), ("B", free_port())],
        logs.clone(),
        Vec::new(),
    );
    // The ground truth, subscribed before anything is published.
    let observer = cluster.observe(ROOMS).await;
    let mut node_a = cluster.start("A").await;
    let node_b = cluster.start("B").await;
    let haproxy = Haproxy::start("kill", &haproxy, cluster.slots(), &logs).await;
    wait_until("HAProxy to see A and B up", Duration::from_secs(10), || {
        let h = haproxy.health();
        h.server("A").is_some_and(|s| s.up()) && h.server("B").is_some_and(|s| s.up())
    })
    .await;

    let fleet = Fleet::connect(
        &haproxy.url(),
        CLIENTS,
        ROOMS,
        &ClientConfig::default().with_backoff(BACKOFF),
    )
    .await;
    fleet.wait_open(Duration::from_secs(30)).await;
    let publishers = Publishers::start(
        &format!("ws://127.0.0.1:{}/ws", cluster.port("B")),
        PUBLISHERS,
        PUBLISH_EVERY,
        ROOMS,
    );
    fleet.wait_first_message(Duration::from_secs(10)).await;
    // A second of the steady stream before the kill, and both nodes past
    // their first check: a server HAProxy has not checked yet is one failed
    // check from DOWN (`UP 1/4`), a checked one four (`UP`), so A stays in
    // the rotation for 15-20 s after the kill, as in production.
    tokio::time::sleep(Duration::from_secs(1)).await;
    wait_until(
        "HAProxy's first check of A and B",
        CHECK_INTER + Duration::from_secs(2),
        || {
            let h = haproxy.health();
            h.server("A").is_some_and(|s| s.status == "UP")
                && h.server("B").is_some_and(|s| s.status == "UP")
        },
    )
    .await;
    let before = haproxy.stats().await;
    let on_a = before.get("A").map_or(0, |s| s.sessions);
    let on_b = before.get("B").map_or(0, |s| s.sessions);
    assert!(
        on_a as usize >= CLIENTS / 3 && on_b as usize >= CLIENTS / 3,
        "clients should be spread over A and B: A {on_a}, B {on_b}"
    );

    let killed = node_a.kill();

    // (a) Everyone whose connection dropped is back: as many drops as A
    // had connections, and every client's last change an open.
    let dropped = |seen: &[Seen]| seen.iter().any(|s| matches!(s, Seen::Down { .. }));
    let whole = || {
        (0..fleet.len())
            .filter(|i| dropped(&fleet.seen(*i)))
            .count() as u64
            >= on_a
            && fleet.all(connected)
    };
    let wait = bound() + Duration::from_secs(10);
    while !whole() {
        if killed.elapsed() > wait {
            let missing: Vec<String> = (0..fleet.len())
                .filter(|i| !connected(&fleet.seen(*i)))
                .map(|i| {
                    let seen = fleet.seen(i);
                    let downs: Vec<String> = seen
                        .iter()
                        .filter_map(|s| match s {
                            Seen::Down { at, .. } => Some(secs(at.duration_since(killed))),
                            _ => None,
                        })
                        .collect();
                    format!("client {i} down at {}", downs.join(", "))
                })
                .collect();
            panic!(
                "{} of A's {on_a} clients not back {} after the kill (bound {}), e.g. {:?}",
                missing.len(),
                secs(wait),
                secs(bound()),
                &missing[..missing.len().min(5)]
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let at_back = haproxy.stats().await;
    let a_at_back = at_back.get("A").map_or("?".into(), |s| s.status.clone());

    let mut moved = 0;
    let mut undisturbed = 0;
    let mut problems = Vec::new();
    let mut reopens = Vec::new();
    let mut drops = Vec::new();
    for i in 0..fleet.len() {
        let seen = fleet.seen(i);
        let downs: Vec<bool> = seen
            .iter()
            .filter_map(|s| match s {
                Seen::Down { deploy, .. } => Some(*deploy),
                _ => None,
            })
            .collect();
        match (downs.as_slice(), opens(&seen)) {
            ([], 1) => undisturbed += 1,
            ([false], 2) => {
                moved += 1;
                drops.extend(seen.iter().find_map(|s| match s {
                    Seen::Down { at, .. } => Some(at.duration_since(killed)),
                    _ => None,
                }));
                let reopen = seen.iter().rev().find_map(|s| match s {
                    Seen::Open(at) => Some(at.duration_since(killed)),
                    _ => None,
                });
                reopens.extend(reopen);
            }
            // A failed attempt is a second drop: HAProxy did not redispatch.
            (downs, opens) => problems.push(format!(
                "client {i}: {} drops or failed attempts ({} by a notice) and {opens} opens",
                downs.len(),
                downs.iter().filter(|d| **d).count()
            )),
        }
    }
    reopens.sort();
    drops.sort();
    let last_back = reopens.last().copied().unwrap_or_default();
    let window = BACKOFF.ceiling(0);
    let buckets = tenths(&reopens, window);

    // A second more of the stream on B alone, then stop it and let every
    // client catch up.
    tokio::time::sleep(Duration::from_secs(1)).await;
    publishers.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    fleet
        .wait_up_to_date(&observer.finals(), Duration::from_secs(10))
        .await;
    let sequenced = observer.check_sequenced();
    let delivery = fleet.check_delivery(&observer.rooms());
    let after = haproxy.stats().await;
    let a_redispatched = after.get("A").map_or(0, |s| s.redispatches);
    let b_sessions = after.get("B").map_or(0, |s| s.sessions);

    let mut report = String::new();
    let _ = writeln!(
        report,
        "before the kill: A {on_a} connections, B {on_b}; {moved} clients moved, {undisturbed} \
         undisturbed; drops seen {}..{} ms after the kill; \
         reconnects {} ms..{} ms after it (bound {}), per tenth of {}: {buckets:?}; \
         A was {a_at_back} in HAProxy when the last was back, {a_redispatched} connections \
         redispatched from A, B holds {b_sessions}",
        drops.first().map_or(0, Duration::as_millis),
        drops.last().map_or(0, Duration::as_millis),
        reopens.first().map_or(0, Duration::as_millis),
        last_back.as_millis(),
        secs(bound()),
        secs(window),
    );
    let _ = writeln!(
        report,
        "{sequenced} room messages sequenced ({} sent by publishers), {} deliveries, {} of them \
         replayed after a reconnect, {} gaps ({} messages), {} duplicates, {} missed; \
         test took {}",
        publishers.sent(),
        delivery.delivered,
        delivery.replayed,
        delivery.gaps,
        delivery.skipped,
        delivery.duplicates,
        delivery.missed,
        secs(started.elapsed()),
    );
    println!("{report}");

    // (a) the clients of A, and only they, moved once, to B, in time.
    assert!(problems.is_empty(), "clients moved oddly: {problems:?}");
    assert_eq!(
        moved as u64, on_a,
        "every client HAProxy had on A, and no other, reconnected"
    );
    assert!(
        last_back <= bound(),
        "the last client of A was back {} after the kill, over the bound {}",
        secs(last_back),
        secs(bound())
    );
    assert_eq!(b_sessions as usize, CLIENTS, "every client on B at the end");
    // What moved them was the redispatch: HAProxy still counted A in.
    assert!(
        a_at_back.starts_with("UP"),
        "A was {a_at_back} in HAProxy when the last client was back: its checks, not the \
         redispatch, took it out"
    );
    // (b) spread by the jitter, no herd.
    let busiest = buckets.iter().copied().max().unwrap_or(0);
    assert!(
        busiest * 10 <= moved * 2,
        "a tenth of the {} window held {busiest} of {moved} reconnects: {buckets:?}",
        secs(window)
    );
    // (c) every message once and in order; no gap with a 2-minute window.
    delivery.assert_exact();
    assert_eq!(delivery.gaps, 0, "gaps with a 2-minute window");
    assert!(delivery.replayed > 0, "nothing was replayed to A's clients");

    fleet.close().await;
    publishers.close().await;
    drop(node_b);
}
