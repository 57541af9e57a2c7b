//! The cases every engine passes (see the module above).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tagwire::server::backend::{
    Backend, BackendError, BackendState, Bytes, Gap, GapKind, History, HistoryWindow, Position,
    PresenceConfig,
};

use super::{Engine, PrivateEngine, Recorder, eventually, state_becomes};

fn roomy() -> HistoryWindow {
    HistoryWindow {
        max_messages: 10_000,
        max_age: None,
    }
}

fn seqs(history: &History) -> Vec<u64> {
    match history {
        History::Messages(messages) => messages.iter().map(|m| m.position.seq).collect(),
        History::Gap(gap) => panic!("expected messages, got {gap:?}"),
    }
}

/// Four publishers on two nodes (two each, every publish awaited before the
/// next) and a fifth that queues 150 publishes before awaiting any: every
/// room has one order, the same on both nodes, with every sequence number
/// once, each where its publisher was told, and the history replays it.
pub async fn one_order_per_room(engine: &dyn Engine) {
    let deployment = engine.deployment("order", roomy(), PresenceConfig::default());
    let a = deployment.node().await;
    let b = deployment.node().await;
    let (seen_a, seen_b) = (Recorder::attach(&a), Recorder::attach(&b));
    // Names each engine must encode: NATS forbids `.`, `*`, `>` and spaces
    // in subjects and folds case on some file systems; Redis Cluster's hash
    // tag is the first `{…}`.
    let rooms = ["lobby.1 *", "Room>2", "{r}3"];
    for room in rooms {
        a.subscribe(room).await.expect("subscribe on A");
        b.subscribe(room).await.expect("subscribe on B");
    }
    let mut publishers = Vec::new();
    for (p, backend) in [&a, &b, &a, &b].into_iter().enumerate() {
        let backend = backend.clone();
        publishers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for i in 0..60 {
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
    let mut batches = Vec::new();
    for publisher in publishers {
        batches.push(publisher.await.expect("publisher"));
    }
    batches.push(burst.await.expect("burst"));
    for batch in batches {
        // One caller's publishes of a room keep its call order.
        for room in rooms {
            let seqs: Vec<u64> = batch
                .iter()
                .filter(|(r, ..)| *r == room)
                .map(|(_, p, _)| p.seq)
                .collect();
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{room}: {seqs:?}");
        }
        sent.extend(batch);
    }
    let per_room = sent.len() / 3;
    eventually("both nodes to receive every message", || {
        rooms.iter().all(|room| {
            seen_a.in_room(room).len() >= per_room && seen_b.in_room(room).len() >= per_room
        })
    })
    .await;
    for room in rooms {
        let on_a = seen_a.in_room(room);
        assert_eq!(
            on_a,
            seen_b.in_room(room),
            "{room}: both nodes see one order"
        );
        let seqs: Vec<u64> = on_a.iter().map(|m| m.position.seq).collect();
        assert_eq!(
            seqs,
            (1..=per_room as u64).collect::<Vec<_>>(),
            "{room}: every number once"
        );
        let told: HashMap<u64, &Bytes> = sent
            .iter()
            .filter(|(r, ..)| *r == room)
            .map(|(_, position, payload)| (position.seq, payload))
            .collect();
        for m in &on_a {
            assert_eq!(told.get(&m.position.seq), Some(&&m.payload), "{room}");
        }
        let epoch = on_a[0].position.epoch;
        assert!(epoch != 0 && epoch < 1 << 53, "{room}: epoch {epoch}");
        assert!(on_a.iter().all(|m| m.position.epoch == epoch));
        let History::Messages(replayed) = b.history(room, Position::START).await.expect("history")
        else {
            panic!("{room}: the window holds everything");
        };
        assert_eq!(replayed, on_a, "{room}: the history replays the same");
    }
    assert!(seen_a.gaps().is_empty() && seen_b.gaps().is_empty());

    // Unsubscribed: no more deliveries to that node.
    a.unsubscribe(rooms[0]);
    let last = b
        .publish(rooms[0], Bytes::from_static(b"after"))
        .await
        .expect("publish");
    assert_eq!(last.seq, per_room as u64 + 1);
    eventually("node B to receive it", || {
        seen_b.in_room(rooms[0]).len() == per_room + 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(seen_a.in_room(rooms[0]).len(), per_room, "A unsubscribed");
}

/// A node subscribes while another publishes without pause: it is
/// delivered exactly the messages after the position `subscribe` returned,
/// and the history up to that position plus the live ones are every
/// message once (what a member's replay does on a node that just
/// subscribed).
pub async fn replay_meets_live_delivery(engine: &dyn Engine) {
    let deployment = engine.deployment("seam", roomy(), PresenceConfig::default());
    let publisher = deployment.node().await;
    let late = deployment.node().await;
    let seen = Recorder::attach(&late);
    const TOTAL: u64 = 300;
    let publishing = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let mut last = Position::START;
            for n in 1..=TOTAL {
                last = publisher
                    .publish("seam", Bytes::from(format!("m{n}")))
                    .await
                    .expect("publish");
                // Slow enough that the subscribe lands mid-stream even on an
                // engine whose publish returns at once.
                if n % 4 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            last
        })
    };
    // Subscribe in the middle of the stream.
    let mut joined = Position::START;
    for _ in 0..2000 {
        if let Ok(History::Messages(m)) = late.history("seam", Position::START).await
            && m.len() >= 40
        {
            joined = late.subscribe("seam").await.expect("subscribe");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert!(
        joined.seq >= 40 && joined.seq < TOTAL,
        "subscribed mid-stream, at {joined:?}"
    );
    let last = publishing.await.expect("publisher");
    assert_eq!(last.seq, TOTAL);
    eventually("every live message after the seam", || {
        seen.in_room("seam").last().map(|m| m.position.seq) == Some(TOTAL)
    })
    .await;
    let live = seen.in_room("seam");
    let live_seqs: Vec<u64> = live.iter().map(|m| m.position.seq).collect();
    assert_eq!(
        live_seqs,
        (joined.seq + 1..=TOTAL).collect::<Vec<_>>(),
        "live delivery starts right after the subscribe position"
    );
    // A member that had seen 10 messages: its replay up to the seam, then live.
    let History::Messages(mut replay) = late
        .history(
            "seam",
            Position {
                epoch: last.epoch,
                seq: 10,
            },
        )
        .await
        .expect("history")
    else {
        panic!("the window holds everything");
    };
    replay.retain(|m| m.position.seq <= joined.seq);
    replay.extend(live);
    let all: Vec<(u64, Bytes)> = replay
        .into_iter()
        .map(|m| (m.position.seq, m.payload))
        .collect();
    let expected: Vec<(u64, Bytes)> = (11..=TOTAL)
        .map(|n| (n, Bytes::from(format!("m{n}"))))
        .collect();
    assert_eq!(
        all, expected,
        "every message after the member's position once"
    );
    assert!(seen.gaps().is_empty());
}

/// A window of 10 messages: history within it, a trimmed gap beyond.
pub async fn trimmed_gaps(engine: &dyn Engine) {
    let window = HistoryWindow {
        max_messages: 10,
        max_age: None,
    };
    let deployment = engine.deployment("trim", window, PresenceConfig::default());
    let a = deployment.node().await;
    let b = deployment.node().await;
    assert_eq!(b.window(), window);
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
    assert!(seqs(&b.history("r", at(25)).await.expect("history")).is_empty());
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
}

/// A window of 500 ms: messages older than that leave it (real time,
/// 1.2 s), a subscribed room keeps its epoch and numbering, and a replay
/// from before them is a trimmed gap.
pub async fn time_window_trims_by_age(engine: &dyn Engine) {
    let window = HistoryWindow {
        max_messages: 100,
        max_age: Some(Duration::from_millis(500)),
    };
    let deployment = engine.deployment("aged", window, PresenceConfig::default());
    let a = deployment.node().await;
    a.subscribe("t").await.expect("subscribe");
    let mut first = Position::START;
    for n in 1..=3 {
        first = a
            .publish("t", Bytes::from(format!("old{n}")))
            .await
            .expect("publish");
    }
    assert_eq!(
        seqs(&a.history("t", Position::START).await.expect("history")),
        vec![1, 2, 3]
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let mut last = Position::START;
    for n in 4..=5 {
        last = a
            .publish("t", Bytes::from(format!("new{n}")))
            .await
            .expect("publish");
    }
    assert_eq!(
        (last.epoch, last.seq),
        (first.epoch, 5),
        "a room whose messages aged out keeps its epoch and numbering"
    );
    let at = |seq| Position {
        epoch: last.epoch,
        seq,
    };
    assert_eq!(
        seqs(&a.history("t", at(3)).await.expect("history")),
        vec![4, 5]
    );
    assert_eq!(
        a.history("t", at(1)).await.expect("history"),
        History::Gap(Gap {
            room: Arc::from("t"),
            after: at(1),
            current: at(5),
            kind: GapKind::Trimmed { oldest: Some(4) },
        })
    );
}

/// A position of another epoch, or ahead of the room, or in a room with no
/// state: a reset gap at the room's current position.
pub async fn reset_gaps(engine: &dyn Engine) {
    let deployment = engine.deployment("reset", roomy(), PresenceConfig::default());
    let a = deployment.node().await;
    let mut last = Position::START;
    for n in 1..=3 {
        last = a
            .publish("r", Bytes::from(format!("m{n}")))
            .await
            .expect("publish");
    }
    for after in [
        Position {
            epoch: last.epoch,
            seq: 4,
        },
        Position {
            epoch: last.epoch + 1,
            seq: 2,
        },
        Position { epoch: 0, seq: 2 },
    ] {
        assert_eq!(
            a.history("r", after).await.expect("history"),
            History::Gap(Gap {
                room: Arc::from("r"),
                after,
                current: last,
                kind: GapKind::Reset,
            }),
            "after {after:?}"
        );
    }
    assert_eq!(
        a.history("nobody", Position::START).await.expect("history"),
        History::Messages(Vec::new())
    );
    assert!(matches!(
        a.history("nobody", last).await.expect("history"),
        History::Gap(Gap {
            kind: GapKind::Reset,
            current: Position::START,
            ..
        })
    ));
}

/// The engine is killed under two subscribed nodes and started again: both
/// report `Reconnecting`, publishes, subscriptions and history reads fail
/// `Unavailable` (nothing published) meanwhile, then `Connected`; the rooms
/// go on where they were (an engine that keeps its data) or each node gets
/// a reset gap and the room a new epoch (one that starts empty).
pub async fn engine_away_and_back(engine: &mut dyn PrivateEngine) {
    let deployment = engine.deployment("outage", roomy(), PresenceConfig::default());
    let a = deployment.node().await;
    let b = deployment.node().await;
    let (seen_a, seen_b) = (Recorder::attach(&a), Recorder::attach(&b));
    a.subscribe("r").await.expect("subscribe");
    b.subscribe("r").await.expect("subscribe");
    let mut last = Position::START;
    for n in 1..=3 {
        last = a
            .publish("r", Bytes::from(format!("m{n}")))
            .await
            .expect("publish");
    }
    eventually("3 messages on both nodes", || {
        seen_a.in_room("r").len() == 3 && seen_b.in_room("r").len() == 3
    })
    .await;

    engine.kill();
    for node in [&a, &b] {
        state_becomes(node, "reconnecting", |s| {
            matches!(s, BackendState::Reconnecting { .. })
        })
        .await;
    }
    let refused = a
        .publish("r", Bytes::from_static(b"lost"))
        .await
        .expect_err("no engine");
    assert!(
        matches!(refused, BackendError::Unavailable { .. }),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("nothing was published"),
        "{refused}"
    );
    assert!(matches!(
        b.history("r", Position::START).await,
        Err(BackendError::Unavailable { .. })
    ));
    assert!(matches!(
        b.subscribe("other").await,
        Err(BackendError::Unavailable { .. })
    ));

    engine.start().await;
    for node in [&a, &b] {
        state_becomes(node, "connected again", |s| *s == BackendState::Connected).await;
    }
    let again = b
        .publish("r", Bytes::from_static(b"again"))
        .await
        .expect("publish after the restart");
    if engine.keeps_data() {
        assert_eq!(
            again,
            Position {
                epoch: last.epoch,
                seq: 4
            },
            "the room goes on where it was"
        );
    } else {
        assert_eq!(again.seq, 1, "an empty engine starts the room over");
        assert_ne!(again.epoch, last.epoch, "in a new epoch");
    }
    for seen in [&seen_a, &seen_b] {
        eventually("the message after the restart", || {
            seen.in_room("r").last().map(|m| m.position) == Some(again)
        })
        .await;
        let gaps = seen.gaps();
        if engine.keeps_data() {
            assert!(gaps.is_empty(), "{gaps:?}");
            assert_eq!(seen.in_room("r").len(), 4, "nothing lost or doubled");
        } else {
            assert_eq!(
                gaps,
                vec![Gap {
                    room: Arc::from("r"),
                    after: last,
                    current: Position::START,
                    kind: GapKind::Reset,
                }]
            );
        }
    }
}

/// Presence settings short enough for real-time tests: members linger
/// 400 ms, leases last 1.2 s (renewed and swept every 400 ms), three
/// members per room, 16-byte states. A renewal may come 800 ms late before
/// a live node's members are swept: a whole test run shares two cores, and
/// a 600 ms lease once lost a live node's members under that load.
pub fn quick_presence() -> PresenceConfig {
    PresenceConfig {
        linger: Duration::from_millis(400),
        lease: Duration::from_millis(1200),
        max_members: 3,
        max_state_bytes: 16,
    }
}

type Members = Vec<(String, Vec<u8>)>;

async fn members(node: &Arc<dyn Backend>, room: &str) -> (Position, Members) {
    let snapshot = node.presence_snapshot(room).await.expect("snapshot");
    let members = snapshot
        .members
        .into_iter()
        .map(|e| (e.member.to_string(), e.state.to_vec()))
        .collect();
    (snapshot.position, members)
}

fn entry(member: &str, state: &[u8]) -> (String, Vec<u8>) {
    (member.to_owned(), state.to_vec())
}

/// Members set on two nodes: join, update and leave events are room
/// messages in the room's one order (between application messages), the
/// same on both nodes and in the history; snapshots agree; only the owning
/// connection removes a member; setting an unchanged state publishes
/// nothing.
pub async fn presence_events_travel_in_the_room_order(engine: &dyn Engine) {
    let deployment = engine.deployment("presence", roomy(), quick_presence());
    let a = deployment.node().await;
    let b = deployment.node().await;
    let (seen_a, seen_b) = (Recorder::attach(&a), Recorder::attach(&b));
    a.subscribe("p").await.expect("subscribe");
    b.subscribe("p").await.expect("subscribe");

    let ann = a
        .presence_set("p", "ann", 1, Bytes::from_static(b"x1"))
        .await
        .expect("ann joins")
        .expect("an event");
    let hello = b
        .publish("p", Bytes::from_static(b"aa|hello"))
        .await
        .expect("publish");
    let bob = b
        .presence_set("p", "bob", 7, Bytes::from_static(b"y1"))
        .await
        .expect("bob joins")
        .expect("an event");
    assert_eq!((ann.seq, hello.seq, bob.seq), (1, 2, 3), "one order");
    assert_eq!(
        a.presence_set("p", "ann", 1, Bytes::from_static(b"x1"))
            .await
            .expect("same state"),
        None,
        "an unchanged state publishes nothing"
    );
    let moved = a
        .presence_set("p", "ann", 1, Bytes::from_static(b"x2"))
        .await
        .expect("ann moves")
        .expect("an event");
    assert_eq!(moved.seq, 4);
    assert_eq!(
        a.presence_leave("p", "bob", 1)
            .await
            .expect("not the owner"),
        None,
        "only the owning connection of the owning node removes a member"
    );
    assert_eq!(
        a.presence_leave("p", "bob", 7)
            .await
            .expect("not the owner"),
        None,
        "connection 7 of another node is not the owner either"
    );
    let (at, now) = members(&a, "p").await;
    assert_eq!(at, moved, "the snapshot stands at the last event");
    assert_eq!(now, vec![entry("ann", b"x2"), entry("bob", b"y1")]);
    let left = b
        .presence_leave("p", "bob", 7)
        .await
        .expect("bob leaves")
        .expect("an event");
    assert_eq!(left.seq, 5);

    let expected = vec![
        (1, 'j', "ann".to_owned(), b"x1".to_vec()),
        (3, 'j', "bob".to_owned(), b"y1".to_vec()),
        (4, 'u', "ann".to_owned(), b"x2".to_vec()),
        (5, 'l', "bob".to_owned(), Vec::new()),
    ];
    for seen in [&seen_a, &seen_b] {
        eventually("every presence event", || seen.in_room("p").len() == 5).await;
        assert_eq!(seen.presence("p"), expected);
    }
    assert_eq!(
        seen_a.in_room("p"),
        seen_b.in_room("p"),
        "both nodes see one order"
    );
    let History::Messages(history) = b.history("p", Position::START).await.expect("history") else {
        panic!("the window holds everything");
    };
    assert_eq!(history, seen_a.in_room("p"), "the history replays presence");
    let (at, now) = members(&b, "p").await;
    assert_eq!(at, left);
    assert_eq!(now, vec![entry("ann", b"x2")]);
}

/// A member whose connection closed lingers: taken over within the linger
/// (a client back after a deploy, on another node), the others see no
/// leave and no join; left alone, it leaves once the linger ran out.
pub async fn presence_lingers_and_is_taken_over(engine: &dyn Engine) {
    let config = quick_presence();
    let deployment = engine.deployment("linger", roomy(), config);
    let a = deployment.node().await;
    let b = deployment.node().await;
    let seen = Recorder::attach(&b);
    a.subscribe("p").await.expect("subscribe");
    b.subscribe("p").await.expect("subscribe");
    a.presence_set("p", "ann", 1, Bytes::from_static(b"x1"))
        .await
        .expect("join");
    a.presence_linger("p", "ann", 1).await.expect("linger");
    tokio::time::sleep(config.linger / 2).await;
    assert_eq!(
        b.presence_set("p", "ann", 2, Bytes::from_static(b"x1"))
            .await
            .expect("taken over"),
        None,
        "taken over with the same state: nothing to tell"
    );
    // Long past the linger: still present, owned by B's connection 2.
    tokio::time::sleep(config.linger + config.lease).await;
    let (_, now) = members(&a, "p").await;
    assert_eq!(now, vec![entry("ann", b"x1")]);
    // A's connection no longer owns it: its linger does nothing.
    a.presence_linger("p", "ann", 1).await.expect("linger");
    tokio::time::sleep(config.linger + config.renew_every() * 2).await;
    assert_eq!(members(&a, "p").await.1, vec![entry("ann", b"x1")]);
    assert_eq!(seen.presence("p").len(), 1, "{:?}", seen.presence("p"));

    // B's connection closes: the member leaves once the linger ran out.
    let closed = Instant::now();
    b.presence_linger("p", "ann", 2).await.expect("linger");
    eventually("the leave after the linger", || {
        seen.presence("p").len() == 2
    })
    .await;
    let after = closed.elapsed();
    assert_eq!(seen.presence("p")[1].1, 'l');
    assert!(
        after >= config.linger,
        "left after {after:?}, before the linger"
    );
    assert!(members(&a, "p").await.1.is_empty());
}

/// A node that goes away without a word (every handle of its backend
/// dropped: no leave, no linger) stops renewing its lease, and another
/// node's sweep removes its members within the lease and one renewal.
/// Returns how long that took.
pub async fn presence_of_a_vanished_node_is_removed(engine: &dyn Engine) -> Duration {
    let config = quick_presence();
    let deployment = engine.deployment("vanish", roomy(), config);
    let doomed = deployment.node().await;
    let survivor = deployment.node().await;
    let seen = Recorder::attach(&survivor);
    survivor.subscribe("p").await.expect("subscribe");
    for (member, conn) in [("ann", 1), ("bob", 2)] {
        doomed
            .presence_set("p", member, conn, Bytes::from_static(b"s"))
            .await
            .expect("join");
    }
    survivor
        .presence_set("p", "cy", 3, Bytes::from_static(b"s"))
        .await
        .expect("join");
    eventually("three joins", || seen.presence("p").len() == 3).await;
    // Outlives a few renewals first: a live node's members stay.
    tokio::time::sleep(config.lease * 2).await;
    assert_eq!(seen.presence("p").len(), 3, "{:?}", seen.presence("p"));
    let gone = Instant::now();
    drop(doomed);
    eventually("the vanished node's members to leave", || {
        seen.presence("p").len() == 5
    })
    .await;
    let took = gone.elapsed();
    let mut leaves: Vec<(char, String)> = seen.presence("p")[3..]
        .iter()
        .map(|(_, kind, member, _)| (*kind, member.clone()))
        .collect();
    leaves.sort();
    assert_eq!(leaves, vec![('l', "ann".into()), ('l', "bob".into())]);
    let bound = config.lease + config.renew_every() * 2 + Duration::from_millis(500);
    assert!(
        took <= bound,
        "members vanished after {took:?}, over {bound:?}"
    );
    assert_eq!(members(&survivor, "p").await.1, vec![entry("cy", b"s")]);
    took
}

/// A room holds at most `max_members`, states at most `max_state_bytes`,
/// and member keys are checked: each refusal is an error, not a silent
/// drop, and a refused join leaves nothing behind.
pub async fn presence_is_bounded(engine: &dyn Engine) {
    let deployment = engine.deployment("bounds", roomy(), quick_presence());
    let a = deployment.node().await;
    for (i, member) in ["m1", "m2", "m3"].into_iter().enumerate() {
        a.presence_set("p", member, i as u64, Bytes::from_static(b"s"))
            .await
            .expect("within the limit");
    }
    let refused = |result: Result<Option<Position>, BackendError>, what: &str| match result {
        Err(BackendError::Refused { error }) => error,
        other => panic!("{what}: expected a refusal, got {other:?}"),
    };
    let full = refused(
        a.presence_set("p", "m4", 9, Bytes::from_static(b"s")).await,
        "a fourth member",
    );
    assert!(full.contains('3'), "the error names the limit: {full}");
    // Members already present still update.
    a.presence_set("p", "m1", 0, Bytes::from_static(b"t"))
        .await
        .expect("an update of a member present");
    let big = refused(
        a.presence_set("p", "m1", 0, Bytes::from(vec![b'x'; 17]))
            .await,
        "a 17-byte state",
    );
    assert!(big.contains("16"), "the error names the limit: {big}");
    for key in ["", "a\nb"] {
        refused(
            a.presence_set("q", key, 1, Bytes::from_static(b"s")).await,
            "a bad member key",
        );
    }
    assert!(members(&a, "q").await.1.is_empty());
    a.presence_leave("p", "m2", 1).await.expect("leave");
    a.presence_set("p", "m4", 9, Bytes::from_static(b"s"))
        .await
        .expect("room again");
    let names: Vec<String> = members(&a, "p")
        .await
        .1
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert_eq!(names, ["m1", "m3", "m4"]);
}
