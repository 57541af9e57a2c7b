//! Presence across nodes (SPEC §9.8, docs/RUNTIME.md "Presence"): two
//! `Server`s on loopback sharing one in-process backend (a
//! `LocalBackend::node()` each), Rust clients on both, raw peers for the
//! exact frames. Joins bring a snapshot, updates are coalesced, a leave is
//! seen at once, a closed connection lingers, a member back within the
//! linger is not seen leaving, a killed node's members vanish within the
//! lease, and what presence refuses is refused. One of them runs again
//! between two servers on Redis, Redis Cluster and NATS (the services of
//! `scripts/services`), since what the rooms layer and the clients do must
//! not depend on the engine.
//!
//! Real sockets and real (short) time: the linger and the lease are a few
//! hundred milliseconds, configured.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tagwire::client::{Client, ClientConfig, Event, Events, PresenceChange, Status};
use tagwire::control::{Control, Hello, error_code};

use tagwire::server::backend::{Backend, HistoryWindow, LocalBackend, PresenceConfig};
use tagwire::server::{Connection, DrainConfig, Handler, Server, ServerConfig};
use tagwire::{Encoding, Header, Package, Protocol};
use tagwire_tests::engine::{self, EngineSpec};
use tagwire_tests::relay::{self, ClientMessage, EchoV1, ServerMessage};
use tagwire_tests::services;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

use crate::runtime_support::handshake;

const WAIT: Duration = Duration::from_secs(10);

/// The relay protocol with `Echo` declared its presence message: what the
/// compiler generates for a `presence` declaration.
struct Present;

impl Package for Present {
    type Client = ClientMessage;
    type Server = ServerMessage;
    const NAME: &'static str = <relay::Package as Package>::NAME;
    const FINGERPRINT: &'static str = <relay::Package as Package>::FINGERPRINT;
    const HEADERS: &'static [(Header, &'static str, u32, &'static str)] =
        <relay::Package as Package>::HEADERS;
    const PRESENCE: &'static [Header] = &[relay::ECHO_V1];
}

/// A room application with presence. A publish whose body is
/// `join <member> <state>` makes the connection a present member of the
/// room; `set <state>` sets its state; `watch` joins without presence;
/// `say <text>` broadcasts an ordinary room message.
/// Refusals come back as an echo `refused: …`.
struct App;

fn state(body: &str) -> ServerMessage {
    ServerMessage::EchoV1(EchoV1 {
        seq: 0,
        body: body.to_owned(),
    })
}

impl Handler<Present> for App {
    async fn on_message(&self, conn: &Connection<Present>, message: ClientMessage) {
        let outcome = match message {
            ClientMessage::PublishV1(p) => {
                let mut words = p.body.splitn(3, ' ');
                match (words.next(), words.next(), words.next()) {
                    (Some("join"), Some(member), Some(body)) => conn
                        .join_presence(&p.room, member, &state(body))
                        .await
                        .map_err(|e| e.to_string()),
                    (Some("set"), Some(body), None) => conn
                        .set_presence(&p.room, &state(body))
                        .map_err(|e| e.to_string()),
                    (Some("watch"), None, None) => {
                        conn.join(&p.room);
                        Ok(())
                    }
                    (Some("say"), Some(body), None) => {
                        conn.broadcast(&p.room, &state(body));
                        Ok(())
                    }
                    (Some("delivered"), None, None) => conn
                        .join_presence(
                            &p.room,
                            "odd",
                            &ServerMessage::DeliveredV1(relay::DeliveredV1 {
                                room: p.room.clone(),
                                from: String::new(),
                                seq: 0,
                                body: String::new(),
                            }),
                        )
                        .await
                        .map_err(|e| e.to_string()),
                    _ => Err(format!("unknown command {:?}", p.body)),
                }
            }
            ClientMessage::LeaveV1(leave) => {
                conn.leave(&leave.room);
                Ok(())
            }
            ClientMessage::JoinV1(join) => {
                conn.join(&join.room);
                Ok(())
            }
            ClientMessage::EchoV1(echo) => {
                let _ = conn.send(ServerMessage::EchoV1(echo));
                Ok(())
            }
        };
        if let Err(error) = outcome {
            let _ = conn.send(ServerMessage::EchoV1(EchoV1 {
                seq: 0,
                body: format!("refused: {error}"),
            }));
        }
    }
}

struct Node {
    /// The in-process backend's handle, to kill the node with; `None` on
    /// an engine of its own process.
    local: Option<LocalBackend>,
    addr: SocketAddr,
    server: Server<Present, App>,
}

async fn node(backend: LocalBackend) -> Node {
    node_on(std::sync::Arc::new(backend.clone()), Some(backend)).await
}

async fn node_on(backend: Arc<dyn Backend>, local: Option<LocalBackend>) -> Node {
    let drain = DrainConfig::default()
        .with_grace(Duration::ZERO)
        .with_window(Duration::from_millis(40))
        .with_reconnect_window(Duration::from_millis(50));
    let config = ServerConfig::default()
        .with_backend(backend)
        .with_drain(drain);
    let server = Server::new(App, config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    Node {
        local,
        addr,
        server,
    }
}

/// Two Tagwire servers on one engine that runs as processes of its own
/// (a key prefix of their own), keeping presence with `config`.
async fn two_nodes_on(spec: EngineSpec, config: PresenceConfig) -> (Node, Node) {
    let prefix = crate::engines::unique("presence-nodes");
    let mut nodes = Vec::new();
    for _ in 0..2 {
        let backend = engine::connect(&spec, &prefix, HistoryWindow::default(), config)
            .await
            .unwrap_or_else(|error| panic!("connecting to {spec}: {error}"));
        nodes.push(node_on(backend, None).await);
    }
    let b = nodes.pop().expect("two nodes");
    let a = nodes.pop().expect("two nodes");
    (a, b)
}

/// Two nodes on one in-process backend keeping presence with `config`.
async fn two_nodes(config: PresenceConfig) -> (Node, Node) {
    two_nodes_with(config, HistoryWindow::default()).await
}

async fn two_nodes_with(config: PresenceConfig, window: HistoryWindow) -> (Node, Node) {
    let backend = LocalBackend::new(window).with_presence(config);
    let other = backend.node();
    (node(backend).await, node(other).await)
}

fn short(max_members: usize) -> PresenceConfig {
    PresenceConfig {
        linger: Duration::from_millis(300),
        lease: Duration::from_millis(900),
        max_members,
        max_state_bytes: 64,
    }
}

type Events_ = Events<Present>;

async fn connect(addr: SocketAddr, encoding: Encoding) -> (Client<Present>, Events_) {
    connect_any(&[addr], encoding).await
}

/// A client given several nodes: the first attempt goes to one at random,
/// the next ones to the others in turn.
async fn connect_any(addrs: &[SocketAddr], encoding: Encoding) -> (Client<Present>, Events_) {
    let config = ClientConfig::default().with_encoding(encoding);
    let urls = addrs.iter().map(|addr| format!("ws://{addr}/ws"));
    let (client, mut events) = Client::<Present>::connect_any(urls, config);
    opened(&mut events).await;
    (client, events)
}

async fn opened(events: &mut Events_) {
    loop {
        match next(events).await {
            Event::Status(Status::Open) => return,
            Event::Status(Status::Closed { reason, .. }) => panic!("closed: {reason}"),
            _ => {}
        }
    }
}

/// Drains the client's node (the other one takes it) and waits for the
/// client to be open again.
async fn move_client(node: &Node, events: &mut Events_) {
    node.server.handle().drain();
    loop {
        match next(events).await {
            Event::Status(Status::Open) => return,
            Event::Status(Status::Closed { reason, .. }) => panic!("closed: {reason}"),
            _ => {}
        }
    }
}

async fn next(events: &mut Events_) -> Event<Present> {
    timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the client runs")
}

fn command(client: &Client<Present>, room: &str, body: &str) {
    client
        .send(ClientMessage::PublishV1(relay::PublishV1 {
            room: room.into(),
            seq: 0,
            body: body.into(),
        }))
        .expect("send");
}

/// Waits for the room's next presence change (other events are skipped;
/// an echo `refused: …` fails the test).
async fn change(events: &mut Events_) -> PresenceChange<ServerMessage> {
    loop {
        match next(events).await {
            Event::Presence { change, .. } => return change,
            Event::Message(ServerMessage::EchoV1(echo)) if echo.body.starts_with("refused") => {
                panic!("{}", echo.body)
            }
            _ => {}
        }
    }
}

/// The next echo (an application refusal) or error event's text.
async fn refusal(events: &mut Events_) -> String {
    loop {
        match next(events).await {
            Event::Message(ServerMessage::EchoV1(echo)) => return echo.body,
            Event::Error(error) => {
                assert_eq!(error.code, error_code::REFUSED, "{}", error.message);
                return format!("error: {}", error.message);
            }
            _ => {}
        }
    }
}

fn body(message: &ServerMessage) -> &str {
    match message {
        ServerMessage::EchoV1(echo) => &echo.body,
        other => panic!("not a presence state: {other:?}"),
    }
}

fn bodies(members: &BTreeMap<String, ServerMessage>) -> Vec<(String, String)> {
    members
        .iter()
        .map(|(m, s)| (m.clone(), body(s).to_owned()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

fn joined(change: &PresenceChange<ServerMessage>) -> Option<(&str, &str)> {
    match change {
        PresenceChange::Join { member, state } => Some((member, body(state))),
        _ => None,
    }
}

/// Collects the presence changes that arrive within `quiet` of each other.
async fn drain_changes(
    events: &mut Events_,
    quiet: Duration,
) -> Vec<PresenceChange<ServerMessage>> {
    let mut out = Vec::new();
    while let Ok(Some(event)) = timeout(quiet, events.next()).await {
        if let Event::Presence { change, .. } = event {
            out.push(change);
        }
    }
    out
}

#[tokio::test]
async fn members_on_two_nodes_get_snapshots_updates_and_leaves() {
    let _guard = crate::shared().await;
    let (a, b) = two_nodes(short(100)).await;
    snapshots_updates_and_leaves(a, b).await;
}

/// The same between two Tagwire servers on each engine that runs as a
/// process: what the rooms layer and the clients do does not depend on
/// the engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_on_two_nodes_of_each_engine_get_snapshots_updates_and_leaves() {
    let _guard = crate::shared().await;
    for spec in [
        EngineSpec::Redis(services::redis_url()),
        EngineSpec::RedisCluster(services::redis_cluster_urls()),
        EngineSpec::Nats(services::nats_url()),
    ] {
        let (a, b) = two_nodes_on(spec, short(100)).await;
        snapshots_updates_and_leaves(a, b).await;
    }
}

/// Members on nodes `a` and `b`: snapshots on join, updates set by a
/// client (coalesced) and by the application, a leave.
async fn snapshots_updates_and_leaves(a: Node, b: Node) {
    let (ann, mut ann_events) = connect(a.addr, Encoding::Binary).await;
    command(&ann, "lobby", "join ann a0");
    assert_eq!(
        change(&mut ann_events).await,
        PresenceChange::Snapshot { members: 1 }
    );
    assert_eq!(bodies(&ann.presence("lobby")), pairs(&[("ann", "a0")]));

    // A text client on the other node: its snapshot holds both, and the
    // first sees it join.
    let (bob, mut bob_events) = connect(b.addr, Encoding::Text).await;
    command(&bob, "lobby", "join bob b0");
    assert_eq!(
        change(&mut bob_events).await,
        PresenceChange::Snapshot { members: 2 }
    );
    assert_eq!(
        bodies(&bob.presence("lobby")),
        pairs(&[("ann", "a0"), ("bob", "b0")])
    );
    assert_eq!(joined(&change(&mut ann_events).await), Some(("bob", "b0")));

    // The client sets its own state (`_k`): the others see an update.
    bob.set_presence(
        "lobby",
        ClientMessage::EchoV1(EchoV1 {
            seq: 1,
            body: "b1".into(),
        }),
    )
    .expect("set");
    match change(&mut ann_events).await {
        PresenceChange::Update { member, state } => {
            assert_eq!((member.as_str(), body(&state)), ("bob", "b1"));
        }
        other => panic!("expected an update, got {other:?}"),
    }
    // Many states at once are coalesced (client and server side), the
    // last one winning.
    for n in 2..=40 {
        bob.set_presence(
            "lobby",
            ClientMessage::EchoV1(EchoV1 {
                seq: n,
                body: format!("b{n}"),
            }),
        )
        .expect("set");
    }
    let updates = drain_changes(&mut ann_events, Duration::from_millis(400)).await;
    assert!(
        !updates.is_empty() && updates.len() <= 4,
        "39 states in a burst reach the others as a few updates: {updates:?}"
    );
    println!(
        "39 presence states in a burst reached another node's client as {} update(s)",
        updates.len()
    );
    assert_eq!(
        bodies(&ann.presence("lobby")),
        pairs(&[("ann", "a0"), ("bob", "b40")])
    );
    // An application set from the server side, then a leave.
    command(&ann, "lobby", "set a1");
    let seen = change(&mut bob_events).await;
    let seen = if matches!(&seen, PresenceChange::Update { member, .. } if member == "bob") {
        // Its own updates come back too.
        loop {
            let c = change(&mut bob_events).await;
            if !matches!(&c, PresenceChange::Update { member, .. } if member == "bob") {
                break c;
            }
        }
    } else {
        seen
    };
    assert!(
        matches!(&seen, PresenceChange::Update { member, state } if member == "ann" && body(state) == "a1"),
        "{seen:?}"
    );
    bob.send(ClientMessage::LeaveV1(relay::LeaveV1 {
        room: "lobby".into(),
    }))
    .expect("leave");
    let left = loop {
        let c = change(&mut ann_events).await;
        if !matches!(c, PresenceChange::Update { .. }) {
            break c;
        }
    };
    assert_eq!(
        left,
        PresenceChange::Leave {
            member: "bob".into()
        }
    );
    assert_eq!(bodies(&ann.presence("lobby")), pairs(&[("ann", "a1")]));
    ann.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_closed_connection_lingers_then_leaves() {
    let _guard = crate::shared().await;
    let config = short(100);
    let (a, b) = two_nodes(config).await;
    let (ann, mut ann_events) = connect(a.addr, Encoding::Binary).await;
    command(&ann, "lobby", "join ann a0");
    change(&mut ann_events).await;
    let (bob, mut bob_events) = connect(b.addr, Encoding::Binary).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    assert_eq!(joined(&change(&mut ann_events).await), Some(("bob", "b0")));
    let closed = Instant::now();
    bob.close().await;
    let left = change(&mut ann_events).await;
    let after = closed.elapsed();
    assert_eq!(
        left,
        PresenceChange::Leave {
            member: "bob".into()
        }
    );
    // Not before the linger; by the next sweep after it (with slack for a
    // loaded machine).
    assert!(
        after >= config.linger - Duration::from_millis(20),
        "{after:?}"
    );
    assert!(
        after <= config.linger + config.renew_every() + Duration::from_millis(700),
        "{after:?}"
    );
    println!(
        "closed connection's member left after {after:?} (linger {:?})",
        config.linger
    );
    ann.close().await;
}

#[tokio::test]
async fn a_member_back_within_the_linger_is_not_seen_leaving() {
    let _guard = crate::shared().await;
    let config = PresenceConfig {
        linger: Duration::from_secs(3),
        ..short(100)
    };
    let (a, b) = two_nodes(config).await;
    let (ann, mut ann_events) = connect(a.addr, Encoding::Binary).await;
    command(&ann, "lobby", "join ann a0");
    change(&mut ann_events).await;
    let (bob, mut bob_events) = connect(b.addr, Encoding::Binary).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    assert_eq!(joined(&change(&mut ann_events).await), Some(("bob", "b0")));
    // Bob's connection to node b ends (a deploy moving it); it comes back
    // through node a with the same key and state.
    bob.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (bob, mut bob_events) = connect(a.addr, Encoding::Text).await;
    command(&bob, "lobby", "join bob b0");
    assert_eq!(
        change(&mut bob_events).await,
        PresenceChange::Snapshot { members: 2 }
    );
    // Past the linger and several sweeps: ann saw nothing of it.
    let seen = drain_changes(&mut ann_events, config.linger + Duration::from_millis(800)).await;
    assert!(seen.is_empty(), "no leave, no join: {seen:?}");
    assert_eq!(
        bodies(&ann.presence("lobby")),
        pairs(&[("ann", "a0"), ("bob", "b0")])
    );
    ann.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_killed_nodes_members_vanish_within_the_lease() {
    let _guard = crate::shared().await;
    let config = short(100);
    let (a, b) = two_nodes(config).await;
    let (ann, mut ann_events) = connect(a.addr, Encoding::Binary).await;
    command(&ann, "lobby", "join ann a0");
    change(&mut ann_events).await;
    let (bob, mut bob_events) = connect(b.addr, Encoding::Binary).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    assert_eq!(joined(&change(&mut ann_events).await), Some(("bob", "b0")));
    // A few lease periods: node b renews, nothing happens.
    let quiet = drain_changes(&mut ann_events, config.lease * 3).await;
    assert!(quiet.is_empty(), "{quiet:?}");
    // Node b dies without a drain: its lease is no longer renewed.
    let killed = Instant::now();
    b.local.as_ref().expect("an in-process node").kill();
    let left = change(&mut ann_events).await;
    let after = killed.elapsed();
    assert_eq!(
        left,
        PresenceChange::Leave {
            member: "bob".into()
        }
    );
    let bound = config.lease + config.renew_every();
    assert!(
        after <= bound + Duration::from_millis(500),
        "{after:?} > {bound:?}"
    );
    println!("killed node's member left after {after:?} (lease + renew_every = {bound:?})");
    ann.close().await;
    drop(bob);
}

#[tokio::test]
async fn presence_refuses_what_it_cannot_take() {
    let _guard = crate::shared().await;
    let (a, _b) = two_nodes(short(2)).await;
    let (ann, mut ann_events) = connect(a.addr, Encoding::Binary).await;
    let (bob, mut bob_events) = connect(a.addr, Encoding::Text).await;
    let (cy, mut cy_events) = connect(a.addr, Encoding::Binary).await;

    // `_k` from a connection that is not a present member.
    cy.set_presence(
        "lobby",
        ClientMessage::EchoV1(EchoV1 {
            seq: 1,
            body: "x".into(),
        }),
    )
    .expect("set");
    let refused = refusal(&mut cy_events).await;
    assert!(refused.contains("not a present member"), "{refused}");

    command(&ann, "lobby", "join ann a0");
    change(&mut ann_events).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    // The room is full.
    command(&cy, "lobby", "join cy c0");
    let refused = refusal(&mut cy_events).await;
    assert!(refused.contains("holds 2 present members"), "{refused}");
    // A state over the size bound, from the application and from a client.
    let big = "x".repeat(100);
    command(&cy, "other", &format!("join cy {big}"));
    let refused = refusal(&mut cy_events).await;
    assert!(refused.contains("at most 64 bytes"), "{refused}");
    bob.set_presence(
        "lobby",
        ClientMessage::EchoV1(EchoV1 {
            seq: 2,
            body: big.clone(),
        }),
    )
    .expect("set");
    let refused = refusal(&mut bob_events).await;
    assert!(refused.contains("at most 64 bytes"), "{refused}");
    // Not a presence message, and a bad member key.
    command(&cy, "other", "delivered");
    let refused = refusal(&mut cy_events).await;
    assert!(refused.contains("is not a presence message"), "{refused}");
    command(&cy, "other", "join \u{7} c0");
    let refused = refusal(&mut cy_events).await;
    assert!(refused.contains("control characters"), "{refused}");
    // Another member key on a connection present already.
    command(&ann, "lobby", "join other a0");
    let refused = refusal(&mut ann_events).await;
    assert!(refused.contains("present in the room already"), "{refused}");
    // None of it changed the room.
    assert_eq!(
        bodies(&ann.presence("lobby")),
        pairs(&[("ann", "a0"), ("bob", "b0")])
    );
    for client in [ann, bob, cy] {
        client.close().await;
    }
}

/// The exact frames (SPEC §9.8) a raw text peer gets and sends.
#[tokio::test]
async fn a_raw_peer_sees_the_spec_frames() {
    let _guard = crate::shared().await;
    let (a, b) = two_nodes(short(100)).await;
    let tcp = TcpStream::connect(a.addr).await.expect("connect");
    let mut raw = handshake(tcp, &format!("ws://{}/ws", a.addr), Some("tagwire.text"))
        .await
        .expect("handshake");
    let hello = Control::Hello(Hello {
        package: Present::NAME.into(),
        fingerprint: Present::FINGERPRINT.into(),
        headers: String::new(),
    });
    raw.send(Message::text(hello.to_text()))
        .await
        .expect("hello");
    // A `_k` before the application made it present: refused, code 4.
    raw.send(Message::text("_k|lobby|ae|1|x"))
        .await
        .expect("set");
    let refused = read_text(&mut raw).await;
    assert!(
        refused.starts_with("_f|4|presence set for room `lobby` refused"),
        "{refused}"
    );
    let join = ClientMessage::PublishV1(relay::PublishV1 {
        room: "lobby".into(),
        seq: 0,
        body: "join ann hi".into(),
    });
    raw.send(Message::text(join.to_text())).await.expect("join");
    let snapshot = read_text(&mut raw).await;
    let member = read_text(&mut raw).await;
    let parts: Vec<&str> = snapshot.split('|').collect();
    assert_eq!(
        (parts[0], parts[1], parts.len()),
        ("_m", "lobby", 5),
        "{snapshot}"
    );
    assert_eq!(parts[4], "1");
    assert_eq!(member, "_n|lobby|ann|ae|0|hi");
    // Another node's member joins, sets a state and leaves.
    let (bob, mut bob_events) = connect(b.addr, Encoding::Binary).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    let event = read_text(&mut raw).await;
    let (envelope, inner) = event.split_at(event.find("|_l|").expect("an _l inside") + 1);
    assert!(envelope.starts_with("_h|lobby|"), "{event}");
    assert_eq!(inner, "_l|join|bob|ae|0|b0");
    // The raw peer's own `_k` (now a present member): an update for the others.
    raw.send(Message::text("_k|lobby|ae|7|there"))
        .await
        .expect("set");
    let own = read_text(&mut raw).await;
    assert!(own.ends_with("|_l|update|ann|ae|7|there"), "{own}");
    bob.send(ClientMessage::LeaveV1(relay::LeaveV1 {
        room: "lobby".into(),
    }))
    .expect("leave");
    let left = read_text(&mut raw).await;
    assert!(left.ends_with("|_l|leave|bob"), "{left}");
    // The positions run on from the snapshot's (ann's own join): bob's
    // join, ann's update, bob's leave.
    let seq = |frame: &str| -> u64 {
        frame
            .split('|')
            .nth(3)
            .and_then(|s| s.parse().ok())
            .expect("a seq")
    };
    assert_eq!(seq(&event), seq(&snapshot) + 1);
    assert_eq!(seq(&own), seq(&event) + 1);
    assert_eq!(seq(&left), seq(&own) + 1);
    bob.close().await;
}

/// A member moved by a deploy resumes on the other node: the replay brings
/// what it missed (presence events included) with no snapshot, and the
/// others never see it leave.
#[tokio::test]
async fn a_drained_member_resumes_in_step_on_the_other_node() {
    let _guard = crate::shared().await;
    let config = PresenceConfig {
        linger: Duration::from_secs(5),
        ..short(100)
    };
    let (a, b) = two_nodes(config).await;
    let (ann, mut ann_events) = connect_any(&[a.addr, b.addr], Encoding::Binary).await;
    command(&ann, "lobby", "join ann a0");
    assert_eq!(
        change(&mut ann_events).await,
        PresenceChange::Snapshot { members: 1 }
    );
    // Bob on the node ann is not on, which is not drained.
    let ann_on = usize::from(a.server.handle().connection_count() == 0);
    let (bob, mut bob_events) = connect([&a, &b][1 - ann_on].addr, Encoding::Text).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    assert_eq!(joined(&change(&mut ann_events).await), Some(("bob", "b0")));

    move_client([&a, &b][ann_on], &mut ann_events).await;
    // While ann rejoins: bob changes its state.
    command(&bob, "lobby", "set b1");
    command(&ann, "lobby", "join ann a0");
    let mut seen = Vec::new();
    while !matches!(seen.last(), Some(PresenceChange::Update { member, .. }) if member == "bob") {
        seen.push(change(&mut ann_events).await);
    }
    assert!(
        !seen
            .iter()
            .any(|c| matches!(c, PresenceChange::Snapshot { .. })),
        "a resume brings no snapshot: {seen:?}"
    );
    assert_eq!(
        bodies(&ann.presence("lobby")),
        pairs(&[("ann", "a0"), ("bob", "b1")])
    );
    let others = drain_changes(&mut bob_events, Duration::from_millis(800)).await;
    assert!(
        others
            .iter()
            .all(|c| matches!(c, PresenceChange::Update { member, .. } if member == "bob")),
        "bob saw ann neither leave nor join: {others:?}"
    );
    ann.close().await;
    bob.close().await;
}

/// A member that comes back after more than the history window holds gets
/// the gap, then a fresh snapshot.
#[tokio::test]
async fn a_gap_brings_a_fresh_snapshot() {
    let _guard = crate::shared().await;
    let config = PresenceConfig {
        linger: Duration::from_secs(5),
        ..short(100)
    };
    let window = HistoryWindow {
        max_messages: 4,
        max_age: None,
    };
    let (a, b) = two_nodes_with(config, window).await;
    let (ann, mut ann_events) = connect_any(&[a.addr, b.addr], Encoding::Binary).await;
    command(&ann, "lobby", "join ann a0");
    change(&mut ann_events).await;
    let ann_on = usize::from(a.server.handle().connection_count() == 0);
    let other = [&a, &b][1 - ann_on];
    let (bob, mut bob_events) = connect(other.addr, Encoding::Binary).await;
    command(&bob, "lobby", "join bob b0");
    change(&mut bob_events).await;
    assert_eq!(joined(&change(&mut ann_events).await), Some(("bob", "b0")));
    move_client([&a, &b][ann_on], &mut ann_events).await;
    // More than the window while ann is away, and a state that changed.
    for n in 0..6 {
        command(&bob, "lobby", &format!("say m{n}"));
    }
    command(&bob, "lobby", "set b9");
    tokio::time::sleep(Duration::from_millis(200)).await;
    command(&ann, "lobby", "join ann a0");
    let gap = loop {
        match next(&mut ann_events).await {
            Event::Gap { room, .. } => break room,
            Event::Presence { change, .. } => panic!("a change before the gap: {change:?}"),
            _ => {}
        }
    };
    assert_eq!(gap, "lobby");
    assert_eq!(
        change(&mut ann_events).await,
        PresenceChange::Snapshot { members: 2 }
    );
    assert_eq!(
        bodies(&ann.presence("lobby")),
        pairs(&[("ann", "a0"), ("bob", "b9")])
    );
    ann.close().await;
    bob.close().await;
}

/// A presence message with two versions, for peers generated before the
/// second: hand-written as an application writes what the compiler does
/// not generate (the `presence` keyword marks both versions).
mod versions {
    use tagwire::{Downgrade, Header, Package};

    #[derive(tagwire::Codec, Debug, Clone, PartialEq)]
    pub struct CursorV1 {
        pub x: u32,
    }

    #[derive(tagwire::Codec, Debug, Clone, PartialEq)]
    pub struct CursorV2 {
        pub x: u32,
        pub name: String,
    }

    #[derive(tagwire::Codec, Debug, Clone, PartialEq)]
    pub struct JoinV1 {
        pub room: String,
        pub member: String,
        pub x: u32,
    }

    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "server", package = "cursors")]
    pub enum ServerMsg {
        #[tagwire(name = "Cursor", version = 1, header = "aa")]
        CursorV1(CursorV1),
        #[tagwire(name = "Cursor", version = 2, header = "ab")]
        CursorV2(CursorV2),
    }

    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "client", package = "cursors")]
    pub enum ClientMsg {
        #[tagwire(name = "Cursor", version = 1, header = "aa")]
        CursorV1(CursorV1),
        #[tagwire(name = "Cursor", version = 2, header = "ab")]
        CursorV2(CursorV2),
        #[tagwire(name = "Join", version = 1, header = "ca")]
        JoinV1(JoinV1),
    }

    impl Downgrade<CursorV1> for CursorV2 {
        fn downgrade(&self) -> Option<CursorV1> {
            Some(CursorV1 { x: self.x })
        }
    }

    pub struct Cursors;

    impl Package for Cursors {
        type Client = ClientMsg;
        type Server = ServerMsg;
        const NAME: &'static str = "cursors";
        const FINGERPRINT: &'static str = "c200000000000002";
        const HEADERS: &'static [(Header, &'static str, u32, &'static str)] = &[
            (Header::new(*b"aa"), "Cursor", 1, "both"),
            (Header::new(*b"ab"), "Cursor", 2, "both"),
            (Header::new(*b"ca"), "Join", 1, "client"),
        ];
        const PRESENCE: &'static [Header] = &[Header::new(*b"aa"), Header::new(*b"ab")];

        fn downgrade(message: &ServerMsg) -> Option<ServerMsg> {
            match message {
                ServerMsg::CursorV2(m) => {
                    Downgrade::<CursorV1>::downgrade(m).map(ServerMsg::CursorV1)
                }
                ServerMsg::CursorV1(_) => None,
            }
        }
    }

    /// Joins the member with a Cursor v2 named after it.
    pub struct App;

    impl tagwire::server::Handler<Cursors> for App {
        async fn on_message(
            &self,
            conn: &tagwire::server::Connection<Cursors>,
            message: ClientMsg,
        ) {
            if let ClientMsg::JoinV1(join) = message {
                let state = ServerMsg::CursorV2(CursorV2 {
                    x: join.x,
                    name: join.member.clone(),
                });
                if let Err(error) = conn.join_presence(&join.room, &join.member, &state).await {
                    panic!("join refused: {error}");
                }
            }
        }
    }
}

/// A raw text peer of `addr` that says it was generated with `headers`.
async fn raw_text_peer(
    addr: SocketAddr,
    fingerprint: &str,
    headers: &str,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut raw = handshake(tcp, &format!("ws://{addr}/ws"), Some("tagwire.text"))
        .await
        .expect("handshake");
    let hello = Control::Hello(Hello {
        package: "cursors".into(),
        fingerprint: fingerprint.into(),
        headers: headers.into(),
    });
    raw.send(Message::text(hello.to_text()))
        .await
        .expect("hello");
    raw
}

/// The next text frame other than the welcome and pings.
async fn read_text(raw: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> String {
    loop {
        let frame = timeout(WAIT, raw.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        if let Message::Text(text) = frame {
            let text = text.to_string();
            if !text.starts_with("_d") && !text.starts_with("_a") {
                return text;
            }
        }
    }
}

/// Presence states reach a peer generated before their version converted
/// to one it knows, in snapshots and in events, and its own older state
/// reaches current peers as it is.
#[tokio::test]
async fn presence_states_are_converted_for_older_peers() {
    use versions::{App as CursorApp, Cursors};
    let _guard = crate::shared().await;
    let server = Server::new(CursorApp, ServerConfig::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });

    let mut current = raw_text_peer(addr, Cursors::FINGERPRINT, "aaabca").await;
    current
        .send(Message::text("ca|r|ann|2"))
        .await
        .expect("join");
    assert_eq!(read_text(&mut current).await.split('|').nth(4), Some("1"));
    assert_eq!(read_text(&mut current).await, "_n|r|ann|ab|2|ann");

    // Generated before Cursor v2: it gets v1, in its snapshot and in events.
    let mut old = raw_text_peer(addr, "c100000000000001", "aaca").await;
    old.send(Message::text("ca|r|old|1")).await.expect("join");
    let snapshot = read_text(&mut old).await;
    assert!(
        snapshot.starts_with("_m|r|") && snapshot.ends_with("|2"),
        "{snapshot}"
    );
    assert_eq!(read_text(&mut old).await, "_n|r|ann|aa|2");
    assert_eq!(read_text(&mut old).await, "_n|r|old|aa|1");
    let joined = read_text(&mut current).await;
    assert!(joined.ends_with("|_l|join|old|ab|1|old"), "{joined}");
    // The current peer's v2 state, converted for the old one.
    current
        .send(Message::text("_k|r|ab|5|ann"))
        .await
        .expect("set");
    let update = read_text(&mut old).await;
    assert!(update.ends_with("|_l|update|ann|aa|5"), "{update}");
    // The old peer's own v1 state goes to the current one as v1.
    old.send(Message::text("_k|r|aa|9")).await.expect("set");
    loop {
        let frame = read_text(&mut current).await;
        if frame.contains("|_l|update|old|") {
            assert!(frame.ends_with("|_l|update|old|aa|9"), "{frame}");
            break;
        }
    }
}
