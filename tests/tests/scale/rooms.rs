//! Rooms across server nodes (docs/RUNTIME.md "Rooms across nodes"): two
//! `Server`s on loopback sharing a broadcast backend (one in-process
//! `LocalBackend`, or Redis), the `_h` room envelope, a client drained off one
//! node resuming on the other with `_i` and getting exactly what it missed,
//! gaps beyond the window, and old-version peers.
//!
//! Real sockets and real (short) time: the drain is 0 s of grace and a few
//! tens of milliseconds of window. The Redis test needs `scripts/services
//! start && . target/services/env` and fails without it.

use crate::runtime_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::SinkExt;
use runtime_support::*;
use tagwire::Protocol;
use tagwire::client::{Backoff, Client, ClientConfig, Connector, Event, Events, Status};
use tagwire::control::{Control, GapNotice, GapReason, Hello, Resume, RoomPosition};
use tagwire::server::backend::{
    Backend, BackendError, BackendState, BoxFuture, Bytes, History, HistoryWindow, LocalBackend,
    Position, RedisBackend, RedisConfig, Subscriber,
};
use tagwire::server::{DrainConfig, ServerConfig};
use tagwire::{Encoding, Limits};
use tagwire_tests::relay::{self, ClientMessage, DeliveredV1, JoinV1, ServerMessage};
use tagwire_tests::services::redis_url;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// A node: a relay server with `backend` on a loopback port.
struct Node {
    server: RelayServer,
    addr: SocketAddr,
}

fn config(backend: Arc<dyn Backend>) -> ServerConfig {
    let mut drain = DrainConfig::default();
    drain.grace = Duration::ZERO;
    drain.window = Duration::from_millis(40);
    drain.batches = 2;
    drain.reconnect_window = Duration::from_millis(50);
    drain.deadline = Duration::from_secs(5);
    drain.close_timeout = Duration::from_millis(500);
    let mut config = ServerConfig::default().with_backend(backend);
    config.drain = drain;
    config
}

async fn node(backend: Arc<dyn Backend>) -> Node {
    let (server, _app) = server(config(backend));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    Node { server, addr }
}

fn delivered(seq: u64) -> ServerMessage {
    ServerMessage::DeliveredV1(DeliveredV1 {
        room: "lobby".into(),
        from: "test".into(),
        seq,
        body: format!("message {seq}"),
    })
}

fn join(room: &str) -> ClientMessage {
    ClientMessage::JoinV1(JoinV1 { room: room.into() })
}

/// A raw WebSocket peer of `node`, speaking `subprotocol` (text without one).
async fn raw_peer(node: &Node, subprotocol: Option<&str>) -> WebSocketStream<TcpStream> {
    let url = format!("ws://{}/ws", node.addr);
    let tcp = TcpStream::connect(node.addr).await.expect("tcp");
    handshake(tcp, &url, subprotocol).await.expect("handshake")
}

/// Dials whichever node `target` names now: a load balancer in one line.
struct Switch {
    target: Arc<Mutex<SocketAddr>>,
}

impl Connector for Switch {
    type Stream = TcpStream;

    async fn connect(&mut self) -> std::io::Result<TcpStream> {
        let addr = *self.target.lock().expect("target");
        TcpStream::connect(addr).await
    }

    fn url(&self) -> String {
        "ws://127.0.0.1/ws".to_owned()
    }
}

fn client(
    target: &Arc<Mutex<SocketAddr>>,
    encoding: Encoding,
) -> (Client<relay::Package>, Events<relay::Package>) {
    let config = ClientConfig::default()
        .with_encoding(encoding)
        .with_backoff(Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            multiplier: 2.0,
        });
    Client::connect_with(
        Switch {
            target: target.clone(),
        },
        config,
    )
}

async fn event(events: &mut Events<relay::Package>) -> Event<relay::Package> {
    timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the client is running")
}

async fn until_open(events: &mut Events<relay::Package>) {
    loop {
        if let Event::Status(Status::Open) = event(events).await {
            return;
        }
    }
}

/// The next room message or gap, skipping statuses.
async fn room_event(events: &mut Events<relay::Package>) -> Event<relay::Package> {
    loop {
        match event(events).await {
            Event::Status(_) => {}
            other => return other,
        }
    }
}

/// The next room message's position and sequence number (the test's own
/// numbering, in the message).
async fn room_message(events: &mut Events<relay::Package>) -> (RoomPosition, u64) {
    match room_event(events).await {
        Event::RoomMessage {
            room,
            position,
            message: ServerMessage::DeliveredV1(d),
        } => {
            assert_eq!(room, "lobby");
            (position, d.seq)
        }
        other => panic!("expected a room message, got {other:?}"),
    }
}

/// Waits until `room` has `n` members on `node` (and, with members, the
/// node's subscription is in effect: with Redis it takes a round trip).
async fn members(node: &Node, room: &str, n: usize) {
    timeout(WAIT, async {
        let handle = node.server.handle();
        while handle.room_len(room) != n || (n > 0 && !handle.is_subscribed(room)) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{room} never had {n} members"));
}

/// Two nodes on one `LocalBackend` (each its own `node()`).
async fn local_pair(window: HistoryWindow) -> (Node, Node) {
    let shared = LocalBackend::new(window);
    let a = node(Arc::new(shared.node())).await;
    let b = node(Arc::new(shared.node())).await;
    (a, b)
}

#[tokio::test]
async fn a_client_on_node_a_receives_what_node_b_publishes_in_order_with_positions() {
    let _shared = crate::shared().await;
    let (a, b) = local_pair(HistoryWindow::default()).await;
    for encoding in [Encoding::Text, Encoding::Binary] {
        let target = Arc::new(Mutex::new(a.addr));
        let (on_a, mut events_a) = client(&target, encoding);
        until_open(&mut events_a).await;
        on_a.send(relay::JoinV1 {
            room: "lobby".into(),
        })
        .expect("send");
        members(&a, "lobby", 1).await;
        // Published on node B, where nobody is in the room.
        let before = b.server.handle().room_len("lobby");
        assert_eq!(before, 0);
        let mut first = None;
        for seq in 1..=20 {
            let position = b
                .server
                .handle()
                .publish("lobby", &delivered(seq))
                .await
                .expect("published");
            first.get_or_insert(position);
        }
        let first = first.expect("published");
        for seq in 1..=20 {
            let (position, got) = room_message(&mut events_a).await;
            assert_eq!(got, seq, "{encoding:?}: in order");
            assert_eq!(position.epoch, first.epoch);
            assert_eq!(position.seq, first.seq + seq - 1, "consecutive positions");
        }
        on_a.close().await;
        members(&a, "lobby", 0).await;
    }
}

#[tokio::test]
async fn a_room_message_is_one_envelope_per_encoding_and_a_direct_send_has_none() {
    let _shared = crate::shared().await;
    let (a, _b) = local_pair(HistoryWindow::default()).await;
    let mut text = raw_peer(&a, Some("tagwire.text")).await;
    let mut binary = raw_peer(&a, Some("tagwire.binary")).await;
    send(&mut text, &join("lobby")).await;
    binary
        .send(Message::binary(join("lobby").to_binary()))
        .await
        .expect("send");
    members(&a, "lobby", 2).await;
    let position = a
        .server
        .handle()
        .publish("lobby", &delivered(1))
        .await
        .expect("published");
    let raw_text = raw_data(&mut text).await;
    let raw_binary = raw_data(&mut binary).await;
    let Message::Text(t) = &raw_text else {
        panic!("{raw_text:?}")
    };
    assert_eq!(
        t.as_str(),
        format!(
            "_h|lobby|{}|{}|{}",
            position.epoch,
            position.seq,
            delivered(1).to_text()
        )
    );
    let Message::Binary(b) = &raw_binary else {
        panic!("{raw_binary:?}")
    };
    let (room, at, inner) =
        tagwire::control::RoomEnvelope::split_binary(b, &Limits::default()).expect("an envelope");
    assert_eq!((room.as_str(), at), ("lobby", position));
    assert_eq!(
        inner,
        delivered(1).to_binary().as_slice(),
        "the published frame, verbatim"
    );
    // Echo is a direct send: no envelope.
    send(&mut text, &echo(7)).await;
    let Message::Text(t) = raw_data(&mut text).await else {
        panic!("text")
    };
    assert!(!t.starts_with('_'), "{t}");
}

/// The next data frame, raw (pings and the welcome skipped).
async fn raw_data<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Message
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures_util::StreamExt;
    loop {
        let message = timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("open")
            .expect("a frame");
        match &message {
            Message::Text(t) if t.starts_with("_a") || t.starts_with("_d") => {}
            Message::Binary(b) if b.starts_with(b"_a") || b.starts_with(b"_d") => {}
            Message::Text(_) | Message::Binary(_) => return message,
            _ => {}
        }
    }
}

/// Moves a client from node `a` to node `b` by draining `a`: messages
/// 1..=5 before, `missed` while it is away (published on `b` before it
/// rejoins), then 5 live ones. Returns the client's room events after the
/// move, and the position of message 5.
async fn move_client(
    a: &Node,
    b: &Node,
    encoding: Encoding,
    missed: u64,
) -> (Vec<Event<relay::Package>>, RoomPosition) {
    let target = Arc::new(Mutex::new(a.addr));
    let (client, mut events) = client(&target, encoding);
    until_open(&mut events).await;
    client
        .send(relay::JoinV1 {
            room: "lobby".into(),
        })
        .expect("send");
    members(a, "lobby", 1).await;
    for seq in 1..=5 {
        b.server
            .handle()
            .publish("lobby", &delivered(seq))
            .await
            .expect("published");
    }
    let mut last = RoomPosition::START;
    for seq in 1..=5 {
        let (position, got) = room_message(&mut events).await;
        assert_eq!(got, seq);
        last = position;
    }
    // The deploy: new connections go to B, A drains its client away.
    *target.lock().expect("target") = b.addr;
    a.server.handle().drain();
    timeout(WAIT, a.server.handle().drained())
        .await
        .expect("A drained");
    for seq in 6..6 + missed {
        b.server
            .handle()
            .publish("lobby", &delivered(seq))
            .await
            .expect("published");
    }
    // Back on B, the client asks to join again; its `_i` came first.
    until_open(&mut events).await;
    client
        .send(relay::JoinV1 {
            room: "lobby".into(),
        })
        .expect("send");
    members(b, "lobby", 1).await;
    for seq in 6 + missed..11 + missed {
        b.server
            .handle()
            .publish("lobby", &delivered(seq))
            .await
            .expect("published");
    }
    let mut seen = Vec::new();
    loop {
        let event = room_event(&mut events).await;
        let done = matches!(&event, Event::RoomMessage { message: ServerMessage::DeliveredV1(d), .. } if d.seq == 10 + missed);
        seen.push(event);
        if done {
            break;
        }
    }
    client.close().await;
    (seen, last)
}

fn seqs(events: &[Event<relay::Package>]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::RoomMessage {
                message: ServerMessage::DeliveredV1(d),
                ..
            } => Some(d.seq),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_client_drained_off_node_a_gets_exactly_what_it_missed_on_node_b_then_live() {
    let _shared = crate::shared().await;
    for encoding in [Encoding::Text, Encoding::Binary] {
        let (a, b) = local_pair(HistoryWindow::default()).await;
        let (seen, last) = move_client(&a, &b, encoding, 7).await;
        // 6..=12 replayed from history, 13..=17 live: each once, in order.
        assert_eq!(seqs(&seen), (6..=17).collect::<Vec<_>>(), "{encoding:?}");
        assert!(!seen.iter().any(|e| matches!(e, Event::Gap { .. })));
        let positions: Vec<u64> = seen
            .iter()
            .filter_map(|e| match e {
                Event::RoomMessage { position, .. } => Some(position.seq),
                _ => None,
            })
            .collect();
        assert_eq!(
            positions,
            (last.seq + 1..=last.seq + 12).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_position_older_than_the_window_is_a_gap_then_live_messages() {
    let _shared = crate::shared().await;
    let window = HistoryWindow {
        max_messages: 4,
        max_age: Some(Duration::from_secs(600)),
    };
    let (a, b) = local_pair(window).await;
    let (seen, last) = move_client(&a, &b, Encoding::Text, 9).await;
    // 6..=14 were missed but only 11..=14 are held: a gap at 14, then live.
    match &seen[0] {
        Event::Gap {
            room,
            kind,
            position,
        } => {
            assert_eq!(room, "lobby");
            assert_eq!(*kind, GapReason::Trimmed);
            assert_eq!(
                *position,
                RoomPosition {
                    epoch: last.epoch,
                    seq: last.seq + 9
                }
            );
        }
        other => panic!("expected a gap, got {other:?}"),
    }
    assert_eq!(seqs(&seen[1..]), (15..=19).collect::<Vec<_>>());
}

#[tokio::test]
async fn raw_resume_frames_replay_without_duplicates_and_refuse_past_the_bound() {
    let _shared = crate::shared().await;
    let (a, b) = local_pair(HistoryWindow::default()).await;
    // Someone keeps the room subscribed on A and sees everything.
    let mut watcher = raw_peer(&a, None).await;
    send(&mut watcher, &join("lobby")).await;
    members(&a, "lobby", 1).await;
    let mut positions = Vec::new();
    for seq in 1..=6 {
        positions.push(
            b.server
                .handle()
                .publish("lobby", &delivered(seq))
                .await
                .expect("published"),
        );
    }
    // A peer that saw up to 3 resumes, joins, and gets 4, 5, 6 once, then live 7.
    let mut peer = raw_peer(&a, None).await;
    send_control(
        &mut peer,
        &Control::Hello(Hello {
            package: "relay".into(),
            fingerprint: relay::PROTOCOL_FINGERPRINT.into(),
            headers: String::new(),
        }),
    )
    .await;
    send_control(
        &mut peer,
        &Control::Resume(Resume {
            room: "lobby".into(),
            position: positions[2],
        }),
    )
    .await;
    send(&mut peer, &join("lobby")).await;
    members(&a, "lobby", 2).await;
    b.server
        .handle()
        .publish("lobby", &delivered(7))
        .await
        .expect("published");
    for (seq, position) in (4..=7).zip(positions[3..].iter().copied().chain([RoomPosition {
        epoch: positions[0].epoch,
        seq: positions[5].seq + 1,
    }])) {
        let (room, at, message) = decode_room(&raw_data(&mut peer).await).expect("a room message");
        assert_eq!((room.as_str(), at), ("lobby", position));
        assert_eq!(message, delivered(seq));
    }
    // Another epoch: a reset gap, at the room's position.
    let mut stale = raw_peer(&a, None).await;
    send_control(
        &mut stale,
        &Control::Resume(Resume {
            room: "lobby".into(),
            position: RoomPosition {
                epoch: positions[0].epoch + 1,
                seq: 2,
            },
        }),
    )
    .await;
    send(&mut stale, &join("lobby")).await;
    assert_eq!(
        next_data(&mut stale).await,
        Got::Control(Control::Gap(GapNotice {
            room: "lobby".into(),
            kind: GapReason::Reset,
            position: RoomPosition {
                epoch: positions[0].epoch,
                seq: positions[5].seq + 1
            },
        }))
    );
    // 64 rooms are kept; the 65th is refused, the connection stays.
    for i in 0..65 {
        send_control(
            &mut stale,
            &Control::Resume(Resume {
                room: format!("room {i}"),
                position: RoomPosition { epoch: 1, seq: 1 },
            }),
        )
        .await;
    }
    match next_data(&mut stale).await {
        Got::Control(Control::Error(e)) => {
            assert_eq!(e.code, tagwire::control::error_code::REFUSED);
            assert!(e.message.contains("room 64"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    send(&mut stale, &echo(1)).await;
    assert!(matches!(next_data(&mut stale).await, Got::Message(_)));
}

#[tokio::test]
async fn through_redis_a_drained_client_resumes_on_the_other_node() {
    let _shared = crate::shared().await;
    let url = redis_url();
    let prefix = format!("scale-{}", rand_suffix());
    let redis = |prefix: &str| RedisConfig::new(url.clone()).with_prefix(prefix.to_owned());
    let a_backend = RedisBackend::connect(redis(&prefix)).await.expect("redis");
    let b_backend = RedisBackend::connect(redis(&prefix)).await.expect("redis");
    let a = node(Arc::new(a_backend)).await;
    let b = node(Arc::new(b_backend)).await;
    let (seen, last) = move_client(&a, &b, Encoding::Binary, 6).await;
    assert_eq!(seqs(&seen), (6..=16).collect::<Vec<_>>());
    assert!(!seen.iter().any(|e| matches!(e, Event::Gap { .. })));
    let first = seen
        .iter()
        .find_map(|e| match e {
            Event::RoomMessage { position, .. } => Some(*position),
            _ => None,
        })
        .expect("a message");
    assert_eq!(
        first,
        RoomPosition {
            epoch: last.epoch,
            seq: last.seq + 1
        }
    );
    assert!(matches!(
        *b.server.handle().backend_state().borrow(),
        BackendState::Connected
    ));
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Join, then five publishes to the room, pipelined on one connection, in
/// rooms new to the node: the handler broadcasts each publish at once, so
/// with Redis the node's subscription is still on its way for the first
/// ones. The joiner gets all five, in order.
async fn a_join_then_broadcasts_reach_the_joiner(node: &Node) {
    let mut peer = raw_peer(node, None).await;
    for r in 0..10 {
        let room = format!("fresh-{r}");
        send(&mut peer, &join(&room)).await;
        for seq in 1..=5 {
            send(
                &mut peer,
                &ClientMessage::PublishV1(relay::PublishV1 {
                    room: room.clone(),
                    seq,
                    body: "hi".into(),
                }),
            )
            .await;
        }
        for seq in 1..=5 {
            match timeout(WAIT, next_data(&mut peer)).await {
                Ok(Got::Message(ServerMessage::DeliveredV1(d))) => {
                    assert_eq!((d.room.as_str(), d.seq), (room.as_str(), seq));
                }
                other => panic!("{room}: expected message {seq}, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn a_join_then_a_broadcast_on_one_node_reaches_the_joiner_in_process() {
    let _shared = crate::shared().await;
    let (a, _b) = local_pair(HistoryWindow::default()).await;
    a_join_then_broadcasts_reach_the_joiner(&a).await;
}

#[tokio::test]
async fn a_join_then_a_broadcast_on_one_node_reaches_the_joiner_through_redis() {
    let _shared = crate::shared().await;
    let config = RedisConfig::new(redis_url()).with_prefix(format!("held-{}", rand_suffix()));
    let backend = RedisBackend::connect(config).await.expect("redis");
    let a = node(Arc::new(backend)).await;
    a_join_then_broadcasts_reach_the_joiner(&a).await;
}

/// The in-process backend with a gate on `subscribe`: a subscription that
/// stays on its way until the test opens the gate (as with a slow Redis) or
/// fails it (as with a Redis gone), and a count of what reached the
/// backend's `publish`.
#[derive(Debug)]
struct Gated {
    inner: LocalBackend,
    gate: tokio::sync::watch::Sender<Gate>,
    published: AtomicUsize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Closed,
    Open,
    Failing,
}

impl Gated {
    fn new() -> Arc<Self> {
        Arc::new(Gated {
            inner: LocalBackend::default(),
            gate: tokio::sync::watch::Sender::new(Gate::Closed),
            published: Default::default(),
        })
    }

    fn published(&self) -> usize {
        self.published.load(Ordering::SeqCst)
    }
}

impl Backend for Gated {
    fn attach(&self, subscriber: Weak<dyn Subscriber>) {
        self.inner.attach(subscriber);
    }

    fn publish(
        &self,
        room: &str,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<Position, BackendError>> {
        self.published.fetch_add(1, Ordering::SeqCst);
        self.inner.publish(room, payload)
    }

    fn subscribe(&self, room: &str) -> BoxFuture<'static, Result<Position, BackendError>> {
        let mut gate = self.gate.subscribe();
        let (inner, room) = (self.inner.clone(), room.to_owned());
        Box::pin(async move {
            let gate = gate.wait_for(|g| *g != Gate::Closed).await.map(|g| *g);
            if !matches!(gate, Ok(Gate::Open)) {
                return Err(BackendError::Unavailable {
                    since: tokio::time::Instant::now(),
                    error: "the test's gate failed the subscription".to_owned(),
                });
            }
            inner.subscribe(&room).await
        })
    }

    fn unsubscribe(&self, room: &str) {
        self.inner.unsubscribe(room);
    }

    fn history(
        &self,
        room: &str,
        after: Position,
    ) -> BoxFuture<'static, Result<History, BackendError>> {
        self.inner.history(room, after)
    }

    fn state(&self) -> tokio::sync::watch::Receiver<BackendState> {
        self.inner.state()
    }

    fn window(&self) -> HistoryWindow {
        self.inner.window()
    }
}

async fn gated_member(room: &str) -> (Arc<Gated>, Node, WebSocketStream<TcpStream>) {
    let gated = Gated::new();
    let node = node(gated.clone()).await;
    let mut peer = raw_peer(&node, None).await;
    send(&mut peer, &join(room)).await;
    timeout(WAIT, async {
        while node.server.handle().room_len(room) != 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("joined");
    (gated, node, peer)
}

#[tokio::test]
async fn publishes_wait_for_the_rooms_subscription_then_go_out_in_order() {
    let _shared = crate::shared().await;
    let (gated, node, mut peer) = gated_member("lobby").await;
    let handle = node.server.handle();
    // Started in order now, awaited later.
    let publishes: Vec<_> = (1..=3)
        .map(|seq| handle.publish("lobby", &delivered(seq)))
        .collect();
    assert!(!handle.is_subscribed("lobby"));
    assert_eq!(
        gated.published(),
        0,
        "held while the subscription is on its way"
    );
    gated.gate.send_replace(Gate::Open);
    let mut positions = Vec::new();
    for publish in publishes {
        positions.push(
            timeout(WAIT, publish)
                .await
                .expect("in time")
                .expect("published"),
        );
    }
    assert_eq!(gated.published(), 3);
    assert!(
        positions.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "{positions:?}"
    );
    for seq in 1..=3 {
        match timeout(WAIT, next_data(&mut peer)).await {
            Ok(Got::Message(ServerMessage::DeliveredV1(d))) => assert_eq!(d.seq, seq),
            other => panic!("expected message {seq}, got {other:?}"),
        }
    }
    // Subscribed now: the next publish is not held.
    let fourth = handle.publish("lobby", &delivered(4));
    assert_eq!(gated.published(), 4);
    fourth.await.expect("published");
}

#[tokio::test]
async fn a_publish_held_for_a_room_everyone_left_still_goes_out() {
    let _shared = crate::shared().await;
    let (gated, node, mut peer) = gated_member("lobby").await;
    let handle = node.server.handle();
    let publish = handle.publish("lobby", &delivered(1));
    assert_eq!(gated.published(), 0);
    peer.close(None).await.expect("close");
    // The subscription never answers; the room empties and the publish is
    // released, not dropped.
    let position = timeout(WAIT, publish)
        .await
        .expect("in time")
        .expect("published");
    assert_eq!(position.seq, 1);
    assert_eq!(gated.published(), 1);
    assert_eq!(handle.room_len("lobby"), 0);
}

#[tokio::test]
async fn a_publish_held_by_a_subscription_that_fails_goes_out_then() {
    let _shared = crate::shared().await;
    let (gated, node, _peer) = gated_member("lobby").await;
    let handle = node.server.handle();
    let publish = handle.publish("lobby", &delivered(1));
    assert_eq!(gated.published(), 0);
    // The subscription fails (the room keeps its member, so it will be
    // retried): what it held is published, not kept until a retry succeeds.
    gated.gate.send_replace(Gate::Failing);
    timeout(WAIT, publish)
        .await
        .expect("in time")
        .expect("the in-process backend takes it");
    assert_eq!(gated.published(), 1);
    assert!(!handle.is_subscribed("lobby"));
    // Between attempts publishes go straight to the backend.
    let second = handle.publish("lobby", &delivered(2));
    assert_eq!(gated.published(), 2);
    second.await.expect("published");
}

#[tokio::test]
async fn a_room_holds_at_most_4096_publishes_then_refuses_with_overloaded() {
    let _shared = crate::shared().await;
    let (gated, node, _peer) = gated_member("lobby").await;
    let handle = node.server.handle();
    let held: Vec<_> = (1..=4096)
        .map(|seq| handle.publish("lobby", &delivered(seq)))
        .collect();
    let refused = handle.publish("lobby", &delivered(4097)).await;
    assert!(
        matches!(
            refused,
            Err(tagwire::server::PublishError::Backend(
                BackendError::Overloaded { limit: 4096 }
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(gated.published(), 0);
    gated.gate.send_replace(Gate::Open);
    let mut last = None;
    for publish in held {
        let position = timeout(WAIT, publish)
            .await
            .expect("in time")
            .expect("published");
        if let Some(last) = last {
            assert_eq!(position.seq, last + 1);
        }
        last = Some(position.seq);
    }
    assert_eq!(gated.published(), 4096);
}
