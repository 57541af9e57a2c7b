//! A Redis outage end to end (docs/SCALE.md, "Redis outages"): two Tagwire
//! nodes whose rooms go through one redis-server of the test's own, with Rust
//! clients in both encodings, raw WebSocket peers (what the servers sent,
//! before any client drops a duplicate) and the TypeScript client in a
//! Node.js process as members of three rooms, all publishing and echoing,
//! while that Redis is killed (SIGKILL) and started again without
//! persistence, with an fsynced append-only file, or from a snapshot taken
//! before the kill, or stopped (SIGSTOP) and continued (SIGCONT).
//!
//! Asserted through each: the clients stay connected and their echoes
//! (direct sends, which never touch Redis) keep coming back; every publish
//! ends within the command timeout in a position or a typed refusal; the
//! nodes report the outage and recover; a room joined during the outage is
//! subscribed once Redis is back; every member gets every acknowledged
//! message once and in order, or a typed gap before what it lost; no
//! position names two messages; nothing arrives twice; nothing in the
//! runtime panics. The figures are printed (`--nocapture`) for docs/SCALE.md.
//!
//! Needs redis-server (`scripts/services start` installs it), node 20+ and
//! npm. The scenarios run one at a time, and beside no other test of this
//! binary (`crate::alone`), so that their timings do not depend on another
//! test's load.

use crate::runtime_support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use runtime_support::{Got, decode, decode_room, handshake};
use tagwire::Encoding;
use tagwire::Protocol;
use tagwire::client::{Client, ClientConfig, Event};
use tagwire::control::{Control, GapNotice, GapReason};
use tagwire::server::backend::{BackendError, BackendState, Position, RedisBackend, RedisConfig};
use tagwire::server::{Connection, Handler, PublishError, Server, ServerConfig, ServerHandle};
use tagwire_compiler::codegen::typescript::{TsOptions, generate_typescript_files};
use tagwire_compiler::{FrontEnd, LockMode};
use tagwire_tests::fleet::wait_until;
use tagwire_tests::node_script::NodeScript;
use tagwire_tests::process::{Proc, lock};
use tagwire_tests::redis_server::{Persistence, RedisServer};
use tagwire_tests::relay::{
    self, ClientMessage, DeliveredV1, EchoV1, JoinV1, PublishV1, ServerMessage,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const ROOMS: [&str; 3] = ["r0", "r1", "r2"];
/// Joined by a member of node A 50 ms into the outage, and published to at
/// once: the publish waits for the room's subscription, which Redis cannot
/// answer (with SIGSTOP, before the node noticed anything).
const LATE_ROOM: &str = "late";
/// Joined by another member of node A once the node reports the outage: the
/// subscription, and so the publish held for it, is refused at once.
const LATER_ROOM: &str = "later";
/// Each publishing member publishes this often, to the rooms in turn.
const PUBLISH_EVERY: Duration = Duration::from_millis(20);
/// Each member sends an echo this often.
const ECHO_EVERY: Duration = Duration::from_millis(25);
/// Traffic before the outage, and after the nodes are back.
const TRAFFIC: Duration = Duration::from_millis(600);
/// How long Redis stays away.
const OUTAGE: Duration = Duration::from_millis(1500);

/// The backend's timings: short, so that the test takes seconds. The
/// command timeout is what a stopped Redis meets.
fn redis_config(url: String) -> RedisConfig {
    let mut config = RedisConfig::new(url).with_prefix("outage");
    config.response_timeout = Duration::from_millis(400);
    config.connect_timeout = Duration::from_millis(400);
    config.health_interval = Duration::from_millis(200);
    config.reconnect_min = Duration::from_millis(20);
    config.reconnect_max = Duration::from_millis(200);
    config
}

/// A loaded machine's scheduling delays.
const SLACK: Duration = Duration::from_millis(300);

/// The longest a publish may take: a stalled one meets the command timeout,
/// once (not once more for each batch queued behind it).
fn publish_limit(config: &RedisConfig) -> Duration {
    config.response_timeout + SLACK
}

/// The longest a publish held for [`LATE_ROOM`]'s subscription may take:
/// the subscription meets the timeout first.
fn held_limit(config: &RedisConfig) -> Duration {
    config.response_timeout * 2 + SLACK
}

/// The longest a publish held for [`LATER_ROOM`]'s subscription may take.
const REFUSED_AT_ONCE: Duration = Duration::from_millis(150);

/// Panics outside the tests' own code, recorded by a hook: the runtime's
/// tasks must not panic, and a tokio task's panic would otherwise go unseen.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_panics() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let file = info.location().map_or("", |l| l.file());
            if !file.starts_with("tests/") && !file.contains("/tests/") {
                lock(&PANICS).push(info.to_string());
            }
            previous(info);
        }));
    });
}

// ---------------------------------------------------------------------------
// The nodes.

/// What a node's handler recorded of one publish.
#[derive(Debug, Clone)]
struct Published {
    room: String,
    body: String,
    started: Instant,
    took: Duration,
    outcome: Result<Position, BackendError>,
}

#[derive(Default)]
struct Ledger {
    started: AtomicUsize,
    done: Mutex<Vec<Published>>,
}

/// The relay, with each publish's outcome recorded, and echoes answered with
/// `stop` once traffic is to end (how the TypeScript client learns it).
struct App {
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
}

impl Handler<relay::Package> for App {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: ClientMessage) {
        match message {
            ClientMessage::PublishV1(p) => {
                let delivered = ServerMessage::DeliveredV1(DeliveredV1 {
                    room: p.room.clone(),
                    from: conn.id().to_string(),
                    seq: p.seq,
                    body: p.body.clone(),
                });
                let started = Instant::now();
                self.ledger.started.fetch_add(1, Ordering::SeqCst);
                // Started here, so this connection's publishes keep their
                // order; awaited apart, so that one waiting on Redis holds
                // up nothing else the connection sends (its echoes).
                let publish = conn.publish(&p.room, &delivered);
                let ledger = self.ledger.clone();
                tokio::spawn(async move {
                    let outcome = publish.await.map_err(|error| match error {
                        PublishError::Backend(error) => error,
                        other => panic!("a relay message breaks no constraint: {other}"),
                    });
                    lock(&ledger.done).push(Published {
                        room: p.room,
                        body: p.body,
                        started,
                        took: started.elapsed(),
                        outcome,
                    });
                });
            }
            ClientMessage::EchoV1(mut echo) if self.stop.load(Ordering::SeqCst) => {
                echo.body = "stop".to_owned();
                let _ = conn.send(echo);
            }
            other => tagwire_tests::relay_app::relay(conn, other),
        }
    }
}

/// A node: a relay server on its own `RedisBackend`, on a loopback port,
/// with every state its backend reported and when.
struct Node {
    name: &'static str,
    handle: ServerHandle<relay::Package>,
    addr: SocketAddr,
    states: Arc<Mutex<Vec<(Instant, BackendState)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Node {
    async fn start(name: &'static str, config: RedisConfig, app: App) -> Node {
        let backend = RedisBackend::connect(config)
            .await
            .unwrap_or_else(|e| panic!("node {name}: connecting to Redis: {e}"));
        let server = Server::new(app, ServerConfig::default().with_backend(Arc::new(backend)));
        let handle = server.handle();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let states = Arc::new(Mutex::new(vec![(Instant::now(), BackendState::Connected)]));
        let mut watch = handle.backend_state();
        let sink = states.clone();
        let watcher = tokio::spawn(async move {
            while watch.changed().await.is_ok() {
                let state = watch.borrow_and_update().clone();
                lock(&sink).push((Instant::now(), state));
            }
        });
        let serving = tokio::spawn(async move {
            let _ = server.serve(listener).await;
        });
        Node {
            name,
            handle,
            addr,
            states,
            tasks: vec![watcher, serving],
        }
    }

    fn url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// When the backend first reported `test` after `since`.
    fn reported(&self, since: Instant, test: impl Fn(&BackendState) -> bool) -> Option<Instant> {
        lock(&self.states)
            .iter()
            .find(|(at, state)| *at >= since && test(state))
            .map(|(at, _)| *at)
    }

    async fn wait_reported(
        &self,
        since: Instant,
        what: &str,
        limit: Duration,
        test: impl Fn(&BackendState) -> bool,
    ) -> Duration {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(at) = self.reported(since, &test) {
                return at.saturating_duration_since(since);
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not report {what} within {limit:?}; its states: {:?}",
                self.name,
                lock(&self.states)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

// ---------------------------------------------------------------------------
// The members, and what each saw.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Message { position: Position, body: String },
    Gap { reset: bool, position: Position },
}

/// One member's view: per room, what arrived, in order; when each echo came
/// back (wall clock: the TypeScript client's are from another process) and
/// how long it took; its connection's statuses.
#[derive(Default)]
struct Seen {
    rooms: Mutex<HashMap<String, Vec<Item>>>,
    echoes: Mutex<Vec<(SystemTime, Duration)>>,
    statuses: Mutex<Vec<String>>,
}

impl Seen {
    fn push(&self, room: &str, item: Item) {
        lock(&self.rooms)
            .entry(room.to_owned())
            .or_default()
            .push(item);
    }

    fn items(&self, room: &str) -> Vec<Item> {
        lock(&self.rooms).get(room).cloned().unwrap_or_default()
    }
}

/// Echoes in flight: sequence number and when it was sent.
type InFlight = Arc<Mutex<HashMap<u64, Instant>>>;

/// A member: a Rust client or a raw peer in this process.
struct Member {
    name: String,
    seen: Arc<Seen>,
    /// A Rust client, and its echoes in flight (the traffic sends them).
    client: Option<(Client<relay::Package>, InFlight)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Member {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

fn join(room: &str) -> ClientMessage {
    ClientMessage::JoinV1(JoinV1 { room: room.into() })
}

fn echo(seq: u64, body: &str) -> ClientMessage {
    ClientMessage::EchoV1(EchoV1 {
        seq,
        body: body.into(),
    })
}

fn publish(room: &str, seq: u64, body: String) -> ClientMessage {
    ClientMessage::PublishV1(PublishV1 {
        room: room.into(),
        seq,
        body,
    })
}

async fn joined(name: &str, mut joined: watch::Receiver<bool>) {
    tokio::time::timeout(Duration::from_secs(10), joined.wait_for(|j| *j))
        .await
        .unwrap_or_else(|_| panic!("{name} did not join its rooms within 10 s"))
        .expect("the member's task runs");
}

/// A Rust client (`tagwire::client`) in every room.
async fn rust_member(name: &str, node: &Node, encoding: Encoding) -> Member {
    let config = ClientConfig::default().with_encoding(encoding);
    let (client, mut events) = Client::<relay::Package>::connect(node.url(), config);
    let seen = Arc::new(Seen::default());
    let in_flight = InFlight::default();
    let (joined_tx, joined_rx) = watch::channel(false);
    let (record, echoes) = (seen.clone(), in_flight.clone());
    let task = tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::RoomMessage {
                    room,
                    position,
                    message: ServerMessage::DeliveredV1(d),
                } => record.push(
                    &room,
                    Item::Message {
                        position,
                        body: d.body,
                    },
                ),
                Event::Gap {
                    room,
                    kind,
                    position,
                } => record.push(
                    &room,
                    Item::Gap {
                        reset: kind == GapReason::Reset,
                        position,
                    },
                ),
                Event::Message(ServerMessage::EchoV1(e)) if e.seq == 0 => {
                    let _ = joined_tx.send(true);
                }
                Event::Message(ServerMessage::EchoV1(e)) => {
                    if let Some(sent) = lock(&echoes).remove(&e.seq) {
                        lock(&record.echoes).push((SystemTime::now(), sent.elapsed()));
                    }
                }
                Event::Status(status) => lock(&record.statuses).push(format!("{status:?}")),
                _ => {}
            }
        }
    });
    for room in ROOMS {
        client.send(join(room)).expect("queued");
    }
    // Frames are handled in order: when this comes back, the joins are done.
    client.send(echo(0, "joined")).expect("queued");
    joined(name, joined_rx).await;
    Member {
        name: name.to_owned(),
        seen,
        client: Some((client, in_flight)),
        tasks: vec![task],
    }
}

/// A raw WebSocket peer (text, no hello) in every room: what the server put
/// on the wire, each frame as it came, before any client drops a duplicate.
async fn raw_member(name: &str, node: &Node) -> Member {
    let tcp = TcpStream::connect(node.addr).await.expect("tcp");
    let mut ws = handshake(tcp, &node.url(), None).await.expect("handshake");
    for room in ROOMS {
        ws.send(Message::text(join(room).to_text()))
            .await
            .expect("join");
    }
    ws.send(Message::text(echo(0, "joined").to_text()))
        .await
        .expect("echo");
    let seen = Arc::new(Seen::default());
    let record = seen.clone();
    let (joined_tx, joined_rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        while let Some(Ok(frame)) = ws.next().await {
            if let Some((room, position, ServerMessage::DeliveredV1(d))) = decode_room(&frame) {
                record.push(
                    &room,
                    Item::Message {
                        position,
                        body: d.body,
                    },
                );
                continue;
            }
            match decode(&frame) {
                Some(Got::Control(Control::Gap(GapNotice {
                    room,
                    kind,
                    position,
                }))) => record.push(
                    &room,
                    Item::Gap {
                        reset: kind == GapReason::Reset,
                        position,
                    },
                ),
                Some(Got::Message(ServerMessage::EchoV1(e))) if e.seq == 0 => {
                    let _ = joined_tx.send(true);
                }
                Some(Got::Close(..) | Got::End) => {
                    lock(&record.statuses).push("closed".to_owned());
                    break;
                }
                _ => {}
            }
        }
    });
    joined(name, joined_rx).await;
    Member {
        name: name.to_owned(),
        seen,
        client: None,
        tasks: vec![task],
    }
}

/// A Rust client's traffic until `stop`: a publish to the rooms in turn
/// every [`PUBLISH_EVERY`], an echo every [`ECHO_EVERY`].
fn rust_traffic(member: &Member, mut stop: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    let (client, in_flight) = member.client.clone().expect("a Rust client");
    let name = member.name.clone();
    tokio::spawn(async move {
        let mut publishes = tokio::time::interval(PUBLISH_EVERY);
        let mut echoes = tokio::time::interval(ECHO_EVERY);
        let (mut published, mut echoed) = (0u64, 0u64);
        loop {
            tokio::select! {
                _ = publishes.tick() => {
                    published += 1;
                    let room = ROOMS[usize::try_from(published).unwrap_or(0) % ROOMS.len()];
                    let _ = client.send(publish(room, published, format!("{name}-{published}")));
                }
                _ = echoes.tick() => {
                    echoed += 1;
                    lock(&in_flight).insert(echoed, Instant::now());
                    let _ = client.send(echo(echoed, "ping"));
                }
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    })
}

/// The TypeScript client, compiled once per run of this file.
fn ts_script() -> &'static NodeScript {
    static SCRIPT: OnceLock<NodeScript> = OnceLock::new();
    SCRIPT.get_or_init(|| {
        let schema =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../schemas/relay/relay.schema");
        let mut front_end = FrontEnd::new();
        front_end.schema(&schema);
        let output = front_end.lock_mode(LockMode::Locked).run();
        let generated = generate_typescript_files(&output, &TsOptions::default())
            .unwrap_or_else(|e| panic!("generating the relay package's TypeScript: {}", e.message));
        NodeScript::build(
            &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("redis-outage-ts"),
            "redis-outage-client",
            &generated,
        )
    })
}

/// The TypeScript client in a Node.js process, member of every room of
/// `node`, publishing and echoing from the moment it joined; what it sees
/// goes to `events`.
async fn ts_member(name: &str, node: &Node, events: &Path, log: &Path) -> Proc {
    let mut command = ts_script().command();
    command
        .arg(node.url())
        .arg(name)
        .arg(ROOMS.join(","))
        .arg(PUBLISH_EVERY.as_millis().to_string())
        .arg(ECHO_EVERY.as_millis().to_string())
        .arg(events);
    let ts = Proc::spawn(name, command, log);
    ts.wait_line("joined", Duration::from_secs(20)).await;
    ts
}

fn position(line: &serde_json::Value) -> Position {
    let number = |field: &str| {
        line[field]
            .as_str()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{field} of {line}"))
    };
    Position {
        epoch: number("epoch"),
        seq: number("seq"),
    }
}

/// What the TypeScript client wrote to `events` so far, as a member's view.
fn ts_seen(events: &Path) -> Seen {
    let seen = Seen::default();
    let text = std::fs::read_to_string(events).unwrap_or_default();
    // The last line may be half written.
    for line in text.lines().filter(|line| line.ends_with('}')) {
        let line: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("the TypeScript client wrote {line:?}: {e}"));
        let text = |field: &str| line[field].as_str().unwrap_or_default().to_owned();
        match line["event"].as_str() {
            Some("message") => seen.push(
                &text("room"),
                Item::Message {
                    position: position(&line),
                    body: text("body"),
                },
            ),
            Some("gap") => seen.push(
                &text("room"),
                Item::Gap {
                    reset: text("kind") == "reset",
                    position: position(&line),
                },
            ),
            Some("echo") => {
                let ms = |field: &str| line[field].as_f64().unwrap_or(0.0) / 1000.0;
                lock(&seen.echoes).push((
                    SystemTime::UNIX_EPOCH + Duration::from_secs_f64(ms("at")),
                    Duration::from_secs_f64(ms("rtt_ms")),
                ));
            }
            Some("status") => lock(&seen.statuses).push(text("state")),
            _ => {}
        }
    }
    seen
}

// ---------------------------------------------------------------------------
// The checks.

/// What the publishers were told, from the nodes' ledger.
struct Told {
    /// Acknowledged publishes by body: their room and position.
    acked: HashMap<String, (String, Position)>,
    /// Bodies whose publish was refused as `Uncertain`: Redis may have run
    /// it anyway, so it may be delivered (once).
    uncertain: HashSet<String>,
}

impl Told {
    fn new(ledger: &[Published]) -> Told {
        let mut acked = HashMap::new();
        let mut at: HashMap<(String, Position), String> = HashMap::new();
        let mut uncertain = HashSet::new();
        for p in ledger {
            match &p.outcome {
                Ok(position) => {
                    if let Some(other) = at.insert((p.room.clone(), *position), p.body.clone()) {
                        panic!(
                            "{}: position {position} was given to two messages, {other:?} and {:?}",
                            p.room, p.body
                        );
                    }
                    acked.insert(p.body.clone(), (p.room.clone(), *position));
                }
                Err(BackendError::Uncertain { .. }) => {
                    uncertain.insert(p.body.clone());
                }
                Err(_) => {}
            }
        }
        Told { acked, uncertain }
    }
}

/// Whether a gap at `gap`, followed by a first message of epoch
/// `next_epoch` (if any), tells the member that `lost` is gone: it is of
/// an older epoch, or at or before the gap's position in the same one.
fn covers(gap: Position, next_epoch: Option<u64>, lost: Position) -> bool {
    if gap.is_start() {
        return next_epoch.is_none_or(|epoch| lost.epoch < epoch);
    }
    lost.epoch < gap.epoch || (lost.epoch == gap.epoch && lost.seq <= gap.seq)
}

/// Acknowledged publishes (position, body) a member does not have.
type Missing = Vec<(Position, String)>;

/// The acknowledged publishes of `room` that `items` neither holds nor
/// covers with a gap.
fn missing(items: &[Item], room: &str, told: &Told) -> Missing {
    let delivered: HashSet<&str> = items
        .iter()
        .filter_map(|item| match item {
            Item::Message { body, .. } => Some(body.as_str()),
            Item::Gap { .. } => None,
        })
        .collect();
    let gaps: Vec<(Position, Option<u64>)> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            Item::Gap { position, .. } => {
                let next = items[i + 1..].iter().find_map(|later| match later {
                    Item::Message { position, .. } => Some(position.epoch),
                    Item::Gap { .. } => None,
                });
                Some((*position, next))
            }
            Item::Message { .. } => None,
        })
        .collect();
    let mut missing: Missing = told
        .acked
        .iter()
        .filter(|(body, (r, position))| {
            r == room
                && !delivered.contains(body.as_str())
                && !gaps
                    .iter()
                    .any(|(gap, next)| covers(*gap, *next, *position))
        })
        .map(|(body, (_, position))| (*position, body.clone()))
        .collect();
    missing.sort_by_key(|(position, _)| (position.epoch, position.seq));
    missing
}

/// Every check of one member's room; returns how many gaps it got there.
fn check_room(member: &str, room: &str, items: &[Item], told: &Told) -> usize {
    // In order: each message follows the one before, or the gap before it
    // (after a gap with no position, a new epoch starts at 1).
    let mut last: Option<Position> = None;
    for item in items {
        match item {
            Item::Message { position, body } => {
                if let Some(last) = last {
                    let follows = if last.is_start() {
                        position.seq == 1
                    } else {
                        position.epoch == last.epoch && position.seq == last.seq + 1
                    };
                    assert!(
                        follows,
                        "{member} {room}: {body:?} at {position} after {last} with no gap between"
                    );
                }
                last = Some(*position);
            }
            Item::Gap { reset, position } => {
                assert!(*reset, "{member} {room}: a trimmed gap at {position}");
                last = Some(*position);
            }
        }
    }
    // Once, and where the publisher was told; never one refused as not
    // published.
    let mut bodies = HashSet::new();
    for item in items {
        if let Item::Message { position, body } = item {
            assert!(
                bodies.insert(body.as_str()),
                "{member} {room}: {body:?} delivered twice"
            );
            match told.acked.get(body) {
                Some((r, told)) => assert!(
                    r == room && told == position,
                    "{member} {room}: {body:?} arrived at {position}, its publisher was told {r} {told}"
                ),
                None => assert!(
                    told.uncertain.contains(body),
                    "{member} {room}: {body:?} arrived at {position} but was refused as not published"
                ),
            }
        }
    }
    items
        .iter()
        .filter(|item| matches!(item, Item::Gap { .. }))
        .count()
}

/// Every member's view: those in this process, and the TypeScript client's.
fn views<'a>(members: &'a [Member], ts: &'a Seen) -> Vec<(&'a str, &'a Seen)> {
    members
        .iter()
        .map(|m| (m.name.as_str(), &*m.seen))
        .chain([("ts-b", ts)])
        .collect()
}

/// Per member and room, the acknowledged publishes not yet there (and not
/// behind a gap); empty when everything arrived.
fn owed(views: &[(&str, &Seen)], told: &Told) -> Vec<(String, &'static str, Missing)> {
    views
        .iter()
        .flat_map(|(name, seen)| {
            ROOMS.iter().map(move |room| {
                (
                    (*name).to_owned(),
                    *room,
                    missing(&seen.items(room), room, told),
                )
            })
        })
        .filter(|(_, _, missing)| !missing.is_empty())
        .collect()
}

/// How long to wait for the last deliveries after traffic stopped.
const SETTLE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// The scenario.

#[derive(Debug, Clone, Copy)]
enum Outage {
    /// SIGKILL, then redis-server again on the same port with what it
    /// persisted; with `snapshot`, a SAVE 300 ms before the kill (so the
    /// snapshot misses the publishes of those 300 ms).
    Kill {
        persistence: Persistence,
        snapshot: bool,
    },
    /// SIGSTOP, then SIGCONT.
    Pause,
}

/// What one outage measured (docs/SCALE.md, "Redis outages").
#[derive(Debug)]
struct Figures {
    /// From the signal to each node reporting `Reconnecting`.
    detect: [Duration; 2],
    /// From redis-server's restart (its spawn) or SIGCONT to each node
    /// reporting `Connected`.
    recover: [Duration; 2],
    /// From then to the first publish acknowledged.
    first_ack: Duration,
    /// How long the publishes held for the subscriptions of the rooms
    /// joined during the outage took to be refused: [`LATE_ROOM`],
    /// [`LATER_ROOM`].
    held_refused: [Duration; 2],
    /// From the restart or SIGCONT to both rooms being subscribed.
    late_subscribed: Duration,
    accepted: usize,
    /// Refused publishes by kind.
    refused: BTreeMap<&'static str, usize>,
    slowest_refusal: Duration,
    /// Gaps per member, all rooms together.
    gaps: Vec<(String, usize)>,
    /// Echoes answered while Redis was away, and the slowest of them.
    echoes_during: usize,
    slowest_echo_during: Duration,
}

impl Figures {
    fn print(&self, title: &str) {
        let ms = |d: Duration| d.as_millis();
        println!(
            "figures {title}: detect {} / {} ms; recover {} / {} ms; first ack {} ms; held publishes refused in {} / {} ms; \
             late rooms subscribed {} ms; \
             publishes accepted {}, refused {:?} (slowest refusal {} ms); gaps per member {:?}; duplicates 0; \
             echoes answered during the outage {} (slowest {} ms)",
            ms(self.detect[0]),
            ms(self.detect[1]),
            ms(self.recover[0]),
            ms(self.recover[1]),
            ms(self.first_ack),
            ms(self.held_refused[0]),
            ms(self.held_refused[1]),
            ms(self.late_subscribed),
            self.accepted,
            self.refused,
            ms(self.slowest_refusal),
            self.gaps,
            self.echoes_during,
            ms(self.slowest_echo_during),
        );
    }
}

fn kind(error: &BackendError) -> &'static str {
    match error {
        BackendError::Unavailable { .. } => "unavailable",
        BackendError::Uncertain { .. } => "uncertain",
        BackendError::Overloaded { .. } => "overloaded",
        BackendError::Refused { .. } => "refused",
        BackendError::Closed => "closed",
        _ => "other",
    }
}

/// Runs one outage under traffic and checks everything the module
/// documentation lists; `gaps_per_room` is what each member must get in
/// each room.
async fn run(outage: Outage, gaps_per_room: usize) -> Figures {
    record_panics();
    // One at a time (see the module documentation), and beside no other
    // test of this binary.
    let _alone = crate::alone().await;
    // Built before anything starts (tsc takes seconds).
    tokio::task::spawn_blocking(ts_script)
        .await
        .expect("building the TypeScript client");

    let persistence = match outage {
        Outage::Kill { persistence, .. } => persistence,
        Outage::Pause => Persistence::None,
    };
    let mut redis = RedisServer::start(persistence);
    let config = redis_config(redis.url());
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let app = || App {
        ledger: ledger.clone(),
        stop: stop.clone(),
    };
    let a = Node::start("A", config.clone(), app()).await;
    let b = Node::start("B", config.clone(), app()).await;
    let members = vec![
        rust_member("rust-a-text", &a, Encoding::Text).await,
        rust_member("rust-a-binary", &a, Encoding::Binary).await,
        rust_member("rust-b-text", &b, Encoding::Text).await,
        rust_member("rust-b-binary", &b, Encoding::Binary).await,
        raw_member("raw-a", &a).await,
        raw_member("raw-b", &b).await,
    ];
    // Every publish from now on is owed to every member.
    wait_until(
        "both nodes to subscribe to every room",
        Duration::from_secs(10),
        || {
            ROOMS
                .iter()
                .all(|room| a.handle.is_subscribed(room) && b.handle.is_subscribed(room))
        },
    )
    .await;
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let events = scratch.join(format!(
        "redis-outage-ts-{}.jsonl",
        redis.url().replace(['/', ':'], "-")
    ));
    let _ = std::fs::remove_file(&events);
    let mut ts = ts_member("ts-b", &b, &events, &scratch.join("redis-outage-ts.log")).await;
    let (stop_traffic, traffic_stops) = watch::channel(false);
    let traffic: Vec<_> = members
        .iter()
        .filter(|m| m.client.is_some())
        .map(|m| rust_traffic(m, traffic_stops.clone()))
        .collect();
    tokio::time::sleep(TRAFFIC).await;

    // Redis goes away.
    let gone = match outage {
        Outage::Kill { snapshot, .. } => {
            if snapshot {
                redis.save();
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            redis.kill()
        }
        Outage::Pause => redis.pause(),
    };
    let gone_wall = SystemTime::now();
    // A member joins a room no node subscribes to yet, and publishes to it
    // at once: the publish waits for the subscription, which Redis cannot
    // answer (with SIGSTOP, before the nodes noticed anything).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (late, _) = members[0].client.clone().expect("a Rust client");
    late.send(join(LATE_ROOM)).expect("queued");
    late.send(publish(LATE_ROOM, 1, "late-during".into()))
        .expect("queued");
    let reconnecting = |s: &BackendState| matches!(s, BackendState::Reconnecting { .. });
    let detect = [
        a.wait_reported(gone, "Reconnecting", Duration::from_secs(5), reconnecting)
            .await,
        b.wait_reported(gone, "Reconnecting", Duration::from_secs(5), reconnecting)
            .await,
    ];
    // Once node A has noticed (and the command it was waiting on, if any,
    // has met the timeout): a room joined now is refused at once.
    let noticed = gone + detect[0] + config.response_timeout + Duration::from_millis(100);
    tokio::time::sleep(noticed.saturating_duration_since(Instant::now())).await;
    let (later, _) = members[1].client.clone().expect("a Rust client");
    later.send(join(LATER_ROOM)).expect("queued");
    later
        .send(publish(LATER_ROOM, 1, "later-during".into()))
        .expect("queued");
    tokio::time::sleep((gone + OUTAGE).saturating_duration_since(Instant::now())).await;

    // It comes back.
    // From the spawn, not from its first answer to the test: the nodes,
    // retrying every 200 ms at most, may be connected by then.
    let back_wall = SystemTime::now();
    let back = match outage {
        Outage::Kill { .. } => redis.restart(),
        Outage::Pause => redis.resume(),
    };
    let connected = |s: &BackendState| *s == BackendState::Connected;
    let recover = [
        a.wait_reported(back, "Connected", Duration::from_secs(10), connected)
            .await,
        b.wait_reported(back, "Connected", Duration::from_secs(10), connected)
            .await,
    ];
    wait_until(
        "node A to subscribe to the rooms joined during the outage",
        Duration::from_secs(10),
        || a.handle.is_subscribed(LATE_ROOM) && a.handle.is_subscribed(LATER_ROOM),
    )
    .await;
    let late_subscribed = back.elapsed();
    late.send(publish(LATE_ROOM, 2, "late-after".into()))
        .expect("queued");
    later
        .send(publish(LATER_ROOM, 2, "later-after".into()))
        .expect("queued");
    tokio::time::sleep(TRAFFIC).await;

    // Traffic ends; everything acknowledged must arrive.
    let _ = stop_traffic.send(true);
    for task in traffic {
        task.await.expect("traffic task");
    }
    stop.store(true, Ordering::SeqCst);
    ts.wait_line("stopped", Duration::from_secs(5)).await;
    wait_until("every publish to end", Duration::from_secs(5), || {
        ledger.started.load(Ordering::SeqCst) == lock(&ledger.done).len()
    })
    .await;
    let published = lock(&ledger.done).clone();
    let told = Told::new(&published);
    let settle = Instant::now();
    loop {
        let ts_view = ts_seen(&events);
        let owed = owed(&views(&members, &ts_view), &told);
        if owed.is_empty() {
            break;
        }
        assert!(
            settle.elapsed() < SETTLE,
            "acknowledged publishes never arrived (member, room, how many, the first): {:?}",
            owed.iter()
                .map(|(member, room, missing)| (member, room, missing.len(), &missing[0]))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = |member: &Member, room: &str, body: &str| {
        member
            .seen
            .items(room)
            .iter()
            .any(|item| matches!(item, Item::Message { body: b, .. } if b == body))
    };
    wait_until(
        "the publishes to the rooms joined during the outage to reach their members",
        SETTLE,
        || got(&members[0], LATE_ROOM, "late-after") && got(&members[1], LATER_ROOM, "later-after"),
    )
    .await;
    ts.terminate();
    ts.wait_exit(Duration::from_secs(5)).await;
    let ts_view = ts_seen(&events);

    // The checks.
    let views = views(&members, &ts_view);
    let mut gaps = Vec::new();
    for (name, seen) in &views {
        let mut total = 0;
        for room in ROOMS {
            let items = seen.items(room);
            let n = check_room(name, room, &items, &told);
            assert_eq!(
                n,
                gaps_per_room,
                "{name} {room}: {n} gaps, {gaps_per_room} expected: {:?}",
                items
                    .iter()
                    .filter(|i| matches!(i, Item::Gap { .. }))
                    .collect::<Vec<_>>()
            );
            total += n;
        }
        check_room(name, LATE_ROOM, &seen.items(LATE_ROOM), &told);
        check_room(name, LATER_ROOM, &seen.items(LATER_ROOM), &told);
        gaps.push(((*name).to_owned(), total));
        // Connected throughout: the outage is Redis's, not the clients'.
        // (The TypeScript client was closed by the test at the end.)
        let mut statuses = lock(&seen.statuses).clone();
        if *name == "ts-b" && statuses.last().is_some_and(|s| s == "closed") {
            statuses.pop();
        }
        assert!(
            statuses.iter().all(|s| s.contains("Connecting")
                || s.contains("Open")
                || s == "connecting"
                || s == "open"),
            "{name}'s connection did not stay open: {statuses:?}"
        );
    }
    // Local traffic went on: every member that echoes got answers while
    // Redis was away, promptly.
    let mut echoes_during = 0;
    let mut slowest_echo_during = Duration::ZERO;
    for (name, seen) in views.iter().filter(|(name, _)| !name.starts_with("raw")) {
        let during: Vec<Duration> = lock(&seen.echoes)
            .iter()
            .filter(|(at, _)| *at >= gone_wall && *at <= back_wall)
            .map(|(_, rtt)| *rtt)
            .collect();
        assert!(
            !during.is_empty(),
            "{name} got no echo back while Redis was away"
        );
        let slowest = during.iter().max().copied().unwrap_or_default();
        assert!(
            slowest < Duration::from_millis(1000),
            "{name}: an echo took {slowest:?} while Redis was away"
        );
        echoes_during += during.len();
        slowest_echo_during = slowest_echo_during.max(slowest);
    }
    // Every publish ended in time, acknowledged or refused with a type
    // that says whether it may have been published.
    let mut refused: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut slowest_refusal = Duration::ZERO;
    for p in &published {
        let limit = match p.body.as_str() {
            "late-during" => held_limit(&config),
            "later-during" => REFUSED_AT_ONCE,
            _ => publish_limit(&config),
        };
        assert!(
            p.took <= limit,
            "a publish to {} took {:?} (limit {limit:?}): {:?}",
            p.room,
            p.took,
            p.outcome
        );
        if let Err(error) = &p.outcome {
            assert!(
                matches!(
                    error,
                    BackendError::Unavailable { .. }
                        | BackendError::Uncertain { .. }
                        | BackendError::Overloaded { .. }
                ),
                "a publish failed with {error:?}"
            );
            *refused.entry(kind(error)).or_default() += 1;
            slowest_refusal = slowest_refusal.max(p.took);
        }
    }
    assert!(
        !refused.is_empty(),
        "no publish was refused: the outage went unnoticed"
    );
    let held: Vec<&Published> = published
        .iter()
        .filter(|p| p.body == "late-during" || p.body == "later-during")
        .collect();
    assert!(
        held.len() == 2 && held.iter().all(|p| p.outcome.is_err()),
        "the publishes to the rooms joined during the outage: {held:?}"
    );
    let held_took = |body: &str| {
        held.iter()
            .find(|p| p.body == body)
            .map_or(Duration::ZERO, |p| p.took)
    };
    let first_ack = published
        .iter()
        .filter(|p| p.outcome.is_ok() && p.started + p.took >= back)
        .map(|p| (p.started + p.took).saturating_duration_since(back))
        .min()
        .expect("publishes were acknowledged after the outage");
    let panics = lock(&PANICS).clone();
    assert!(panics.is_empty(), "the runtime panicked: {panics:?}");
    drop(members);
    drop((a, b));
    Figures {
        detect,
        recover,
        first_ack,
        held_refused: [held_took("late-during"), held_took("later-during")],
        late_subscribed,
        accepted: told.acked.len(),
        refused,
        slowest_refusal,
        gaps,
        echoes_during,
        slowest_echo_during,
    }
}

// ---------------------------------------------------------------------------
// The outages.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_without_persistence_gives_every_member_one_reset_gap_per_room() {
    let outage = Outage::Kill {
        persistence: Persistence::None,
        snapshot: false,
    };
    run(outage, 1).await.print("SIGKILL, no persistence");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_appendfsync_always_continues_the_positions_without_a_gap() {
    let outage = Outage::Kill {
        persistence: Persistence::AppendFsyncAlways,
        snapshot: false,
    };
    run(outage, 0)
        .await
        .print("SIGKILL, AOF appendfsync always");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_after_a_snapshot_starts_new_epochs_instead_of_giving_positions_twice() {
    let outage = Outage::Kill {
        persistence: Persistence::Snapshot,
        snapshot: true,
    };
    run(outage, 1)
        .await
        .print("SIGKILL, RDB snapshot 300 ms before");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstop_meets_the_command_timeout_and_sigcont_resumes_without_a_gap() {
    run(Outage::Pause, 0)
        .await
        .print("SIGSTOP 1.5 s, then SIGCONT");
}
