//! A rolling deploy behind a real HAProxy (docs/SCALE.md): nodes A and B
//! (processes of the `scale-node` binary, rooms shared through Redis) behind an
//! HAProxy that health-checks `/health` every 5 s and takes a node out after 4
//! failures; 500 Tagwire clients in 20 rooms connected through it, a steady
//! stream of room messages published through the nodes. A drains (SIGTERM)
//! while C starts in its own slot, then B while D starts. Measured and
//! asserted:
//!
//! - (a) every client got every room message from its first one on, in
//!   order, none twice, each the message Redis sequenced under that number:
//!   what a client missed while it moved was replayed by its next node
//!   (counted);
//! - (b) HAProxy reported each draining node DOWN before the node sent its
//!   first drain notice, and the new node UP before then;
//! - (c) the reconnects of each step spread over the notice window plus the
//!   reconnect window (no tenth of it holds more than 40 % of them);
//! - (d) the deploy took what the configuration implies (grace, window,
//!   reconnect window; the grace being above check interval × fall).
//!
//! This is the suite's longest real-time test (about 80 s): HAProxy's checks
//! run on its own clock. The nodes, HAProxy, clients and checks are
//! tagwire_tests's `fleet` and `haproxy`, shared with tests/tests/scale/node_kill.rs.
//! Needs `scripts/services start && . target/services/env`
//! (TAGWIRE_REDIS_URL, TAGWIRE_HAPROXY); fails without them. Node and HAProxy
//! logs go to `$CARGO_TARGET_TMPDIR/rolling_deploy/`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tagwire::client::ClientConfig;
use tagwire_tests::fleet::{
    Cluster, Fleet, Publishers, Seen, connected, deploys, opens, secs, tenths, wait_until,
};
use tagwire_tests::haproxy::{CHECK_INTER, FALL, Haproxy, RISE};
use tagwire_tests::process::{Proc, free_port};
use tagwire_tests::services::service;

const CLIENTS: usize = 500;
const ROOMS: usize = 20;
const PUBLISHERS: usize = 2;
/// Each publisher publishes to the next room this often: 40 messages a
/// second in all, 2 per room, 1,000 deliveries a second.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// Above CHECK_INTER × FALL (20 s) with a 5 s margin: the node is out of
/// HAProxy before any notice goes out.
const GRACE: Duration = Duration::from_secs(25);
/// Shorter than the defaults (10 s, 5 s) to keep the test near a minute and
/// a half; the spread is the same shape.
const WINDOW: Duration = Duration::from_secs(5);
const BATCHES: u32 = 10;
const RECONNECT_WINDOW: Duration = Duration::from_secs(5);

/// What one drain-and-replace step measured.
struct Step {
    old: &'static str,
    new: &'static str,
    sigterm: Instant,
    down: Duration,
    new_up: Duration,
    notices: Duration,
    first_client_notice: Duration,
    exited: Duration,
    moved: usize,
    reopen_first: Duration,
    reopen_last: Duration,
    buckets: Vec<usize>,
    done: Instant,
}

async fn drain_and_replace(
    cluster: &Cluster,
    old: &mut Proc,
    old_name: &'static str,
    new_name: &'static str,
    haproxy: &Haproxy,
    fleet: &Fleet,
) -> (Proc, Step) {
    {
        let health = haproxy.health();
        let stat = health.server(old_name).expect("the old node's slot");
        assert!(stat.up(), "{old_name} is not up before its drain: {stat:?}");
    }
    let deploys_before: Vec<usize> = (0..fleet.len()).map(|i| deploys(&fleet.seen(i))).collect();
    let sigterm = Instant::now();
    old.terminate();
    let new = cluster.start(new_name).await;

    let exited = old
        .wait_exit(GRACE + WINDOW + Duration::from_secs(20))
        .await;
    let notices = old
        .line("phase closing")
        .unwrap_or_else(|| panic!("{old_name} printed no closing phase"));
    // Everyone the old node told to leave is back (on another node).
    wait_until(
        &format!("{old_name}'s clients to reconnect"),
        RECONNECT_WINDOW + Duration::from_secs(20),
        || fleet.all(|seen| connected(seen) && opens(seen) > deploys(seen)),
    )
    .await;
    let done = Instant::now();

    let mut moved = 0;
    let mut first_client_notice = None::<Instant>;
    let mut reopens = Vec::new();
    for (i, before) in deploys_before.iter().enumerate() {
        let seen = fleet.seen(i);
        let mut deploys_seen = 0;
        let mut in_step = false;
        for s in seen.iter() {
            match s {
                Seen::Down { at, deploy: true } => {
                    deploys_seen += 1;
                    if deploys_seen > *before {
                        in_step = true;
                        moved += 1;
                        first_client_notice = Some(first_client_notice.map_or(*at, |f| f.min(*at)));
                    }
                }
                Seen::Open(at) if in_step => {
                    reopens.push(at.duration_since(notices));
                    in_step = false;
                }
                _ => {}
            }
        }
    }
    let first_client_notice =
        first_client_notice.unwrap_or_else(|| panic!("no client of {old_name} got a drain notice"));
    reopens.sort();
    assert_eq!(reopens.len(), moved, "every moved client reopened once");

    let (down, new_up) = {
        let health = haproxy.health();
        let down = health
            .down_at(old_name, sigterm)
            .unwrap_or_else(|| panic!("HAProxy never reported {old_name} DOWN"));
        let up = health
            .up_at(new_name, sigterm)
            .unwrap_or_else(|| panic!("HAProxy never reported {new_name} UP"));
        (down, up)
    };
    let buckets = tenths(&reopens, WINDOW + RECONNECT_WINDOW);
    let step = Step {
        old: old_name,
        new: new_name,
        sigterm,
        down: down.duration_since(sigterm),
        new_up: new_up.duration_since(sigterm),
        notices: notices.duration_since(sigterm),
        first_client_notice: first_client_notice.duration_since(sigterm),
        exited: exited.duration_since(sigterm),
        moved,
        reopen_first: reopens.first().copied().unwrap_or_default(),
        reopen_last: reopens.last().copied().unwrap_or_default(),
        buckets,
        done,
    };
    (new, step)
}

fn check_step(step: &Step) {
    let Step { old, new, .. } = step;
    // (b) out of the balancer before anyone is told to leave; the new node in.
    assert!(
        step.down < step.notices && step.down < step.first_client_notice,
        "HAProxy marked {old} DOWN at {} but its notices began at {} (first client {})",
        secs(step.down),
        secs(step.notices),
        secs(step.first_client_notice)
    );
    assert!(
        step.down + Duration::from_secs(1) >= CHECK_INTER * (FALL - 1),
        "{old} DOWN after {}: sooner than {FALL} failed checks allow",
        secs(step.down)
    );
    assert!(
        step.new_up < step.notices,
        "{new} UP at {}, after {old}'s notices at {}",
        secs(step.new_up),
        secs(step.notices)
    );
    // The notices follow the grace period.
    assert!(
        step.notices >= GRACE && step.notices < GRACE + Duration::from_secs(3),
        "{old}'s notices at {}, grace {}",
        secs(step.notices),
        secs(GRACE)
    );
    // (c) reconnects spread over the window, no herd.
    assert!(
        step.moved >= CLIENTS / 5,
        "only {} clients moved off {old}",
        step.moved
    );
    let busiest = step.buckets.iter().copied().max().unwrap_or(0);
    assert!(
        busiest * 10 <= step.moved * 4,
        "{old}: a tenth of the window held {busiest} of {} reconnects: {:?}",
        step.moved,
        step.buckets
    );
    let used = step.buckets.iter().filter(|b| **b > 0).count();
    assert!(used >= 7, "{old}: reconnects bunched: {:?}", step.buckets);
    assert!(
        step.reopen_last <= WINDOW + RECONNECT_WINDOW + Duration::from_secs(3),
        "{old}: last reconnect {} after the notices began",
        secs(step.reopen_last)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_deploy_behind_haproxy() {
    let _alone = crate::alone().await;
    let redis = service("TAGWIRE_REDIS_URL");
    let haproxy = service("TAGWIRE_HAPROXY");
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rolling_deploy");
    std::fs::create_dir_all(&logs).expect("log dir");

    // HAProxy's four slots; A and B run from the start, C and D are down
    // until their nodes start.
    let slots: Vec<(&'static str, u16)> = ["A", "B", "C", "D"]
        .into_iter()
        .map(|n| (n, free_port()))
        .collect();
    let cluster = Cluster::new(
        env!("CARGO_BIN_EXE_scale-node"),
        redis,
        slots,
        logs.clone(),
        vec![
            "--grace-ms".into(),
            GRACE.as_millis().to_string(),
            "--window-ms".into(),
            WINDOW.as_millis().to_string(),
            "--batches".into(),
            BATCHES.to_string(),
            "--reconnect-window-ms".into(),
            RECONNECT_WINDOW.as_millis().to_string(),
        ],
    );
    // The ground truth, subscribed before anything is published.
    let observer = cluster.observe(ROOMS).await;

    let mut node_a = cluster.start("A").await;
    let mut node_b = cluster.start("B").await;
    // HAProxy after A and B, so they start UP; C and D fail their first check.
    let haproxy = Haproxy::start("deploy", &haproxy, cluster.slots(), &logs).await;
    wait_until(
        "HAProxy to see A and B up, C and D down",
        Duration::from_secs(20),
        || {
            let h = haproxy.health();
            let state = |n: &str| h.server(n).cloned();
            matches!((state("A"), state("B"), state("C"), state("D")),
                (Some(a), Some(b), Some(c), Some(d))
                    if a.status == "UP" && b.status == "UP" && c.down() && d.down())
        },
    )
    .await;

    // 500 clients through HAProxy, half of them binary.
    let url = haproxy.url();
    let fleet = Fleet::connect(&url, CLIENTS, ROOMS, &ClientConfig::default()).await;
    fleet.wait_open(Duration::from_secs(30)).await;

    // The publishers, through HAProxy too: they move with the deploy.
    let publishers = Publishers::start(&url, PUBLISHERS, PUBLISH_EVERY, ROOMS);
    tokio::time::sleep(Duration::from_secs(3)).await;
    {
        let h = haproxy.health();
        let (a, b) = (h.sessions("A"), h.sessions("B"));
        assert!(
            a >= 100 && b >= 100,
            "clients should be spread over A and B: A {a}, B {b}"
        );
        println!("before the deploy: A holds {a} connections, B {b}");
    }
    fleet.wait_first_message(Duration::from_secs(10)).await;

    // The deploy: A → C, then B → D.
    let (node_c, step1) =
        drain_and_replace(&cluster, &mut node_a, "A", "C", &haproxy, &fleet).await;
    let (node_d, step2) =
        drain_and_replace(&cluster, &mut node_b, "B", "D", &haproxy, &fleet).await;
    let total = step2.done.duration_since(step1.sigterm);

    // Let the stream run on C and D, then stop it and let it settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    publishers.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    fleet
        .wait_up_to_date(&observer.finals(), Duration::from_secs(15))
        .await;

    let sequenced = observer.check_sequenced();
    // (a) every message once and in order; the 2-minute window covers
    // every move, so no gap either.
    let delivery = fleet.check_delivery(&observer.rooms());
    let (c, d) = {
        let h = haproxy.health();
        (h.sessions("C"), h.sessions("D"))
    };

    // (d) the whole deploy: per node, the grace (itself above the checks'
    // interval × fall, and the new node's interval × rise), the notice window,
    // then each client's reconnect window.
    let per_node =
        GRACE.max(CHECK_INTER * FALL).max(CHECK_INTER * RISE) + WINDOW + RECONNECT_WINDOW;
    let expected = per_node * 2;
    let at_least = (GRACE + WINDOW * (BATCHES - 1) / BATCHES) * 2;

    let mut report = String::new();
    for step in [&step1, &step2] {
        let _ = writeln!(
            report,
            "{} -> {}: {} UP after {}, {} DOWN after {}, notices from {} (first client {}), \
             {} clients moved, reconnects {}..{} after the notices began, per tenth of {}: {:?}, \
             {} exited after {}",
            step.old,
            step.new,
            step.new,
            secs(step.new_up),
            step.old,
            secs(step.down),
            secs(step.notices),
            secs(step.first_client_notice),
            step.moved,
            secs(step.reopen_first),
            secs(step.reopen_last),
            secs(WINDOW + RECONNECT_WINDOW),
            step.buckets,
            step.old,
            secs(step.exited),
        );
    }
    let _ = writeln!(
        report,
        "deploy took {} (expected about {}, at least {}); after it C holds {c}, D {d}; \
         {sequenced} room messages sequenced ({} sent by publishers), {} deliveries, \
         {} of them replayed after a reconnect",
        secs(total),
        secs(expected),
        secs(at_least),
        publishers.sent(),
        delivery.delivered,
        delivery.replayed,
    );
    println!("{report}");

    delivery.assert_exact();
    assert_eq!(delivery.gaps, 0, "gaps with a 2-minute window");
    check_step(&step1);
    check_step(&step2);
    assert!(
        total >= at_least && total <= expected + Duration::from_secs(10),
        "the deploy took {}, expected about {}",
        secs(total),
        secs(expected)
    );
    assert_eq!(
        c + d,
        (CLIENTS + PUBLISHERS) as u64,
        "everyone on C and D at the end"
    );

    fleet.close().await;
    publishers.close().await;
    drop((node_c, node_d));
}
