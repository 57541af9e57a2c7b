//! What the scale-out tests behind HAProxy share (tests/tests/scale/rolling_deploy.rs,
//! tests/tests/scale/node_kill.rs): `scale-node` processes on one Redis, a fleet of
//! relay clients recording what they see, publishers, the ground truth of
//! what Redis sequenced, and the check that every client got every room
//! message once and in order.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tagwire::Protocol as _;
use tagwire::client::{Client, ClientConfig, Event, ReconnectReason, Status};
use tagwire::server::backend::{Backend, Gap, RedisBackend, RedisConfig, RoomMessage, Subscriber};

use crate::process::{Proc, lock};
use crate::relay::{self, ClientMessage, JoinV1, PublishV1, ServerMessage};

/// Seconds with one decimal, as the reports print them.
#[must_use]
pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Polls `done` every 20 ms.
///
/// # Panics
///
/// When `done` is still false after `limit`, naming `what`.
pub async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many of `times` fall in each tenth of `span`; later ones count in the
/// last tenth.
#[must_use]
pub fn tenths(times: &[Duration], span: Duration) -> Vec<usize> {
    let mut buckets = vec![0usize; 10];
    for t in times {
        let tenth = (t.as_secs_f64() / span.as_secs_f64() * 10.0) as usize;
        buckets[tenth.min(9)] += 1;
    }
    buckets
}

/// `scale-node` processes in named slots (a name and a port each), sharing
/// rooms through one Redis under a key prefix of their own.
#[derive(Debug)]
pub struct Cluster {
    redis: String,
    prefix: String,
    slots: Vec<(&'static str, u16)>,
    logs: PathBuf,
    binary: &'static str,
    args: Vec<String>,
}

impl Cluster {
    /// A cluster of `binary` (the test's `env!("CARGO_BIN_EXE_scale-node")`)
    /// on `redis`, node logs in `logs`, each node started with `args` after
    /// its address and Redis flags. The key prefix is unique to this run.
    #[must_use]
    pub fn new(
        binary: &'static str,
        redis: String,
        slots: Vec<(&'static str, u16)>,
        logs: PathBuf,
        args: Vec<String>,
    ) -> Cluster {
        let prefix = format!(
            "tagwire-test:{}:{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        Cluster {
            redis,
            prefix,
            slots,
            logs,
            binary,
            args,
        }
    }

    /// The slots, for HAProxy's configuration.
    #[must_use]
    pub fn slots(&self) -> &[(&'static str, u16)] {
        &self.slots
    }

    /// The port of slot `name`.
    ///
    /// # Panics
    ///
    /// When there is no such slot.
    #[must_use]
    pub fn port(&self, name: &str) -> u16 {
        self.slots
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("no slot {name}"))
    }

    /// Starts the node of slot `name` and waits until it listens (it has
    /// connected to Redis by then).
    ///
    /// # Panics
    ///
    /// When it does not listen within 30 s.
    pub async fn start(&self, name: &str) -> Proc {
        let mut command = Command::new(self.binary);
        command
            .arg(format!("127.0.0.1:{}", self.port(name)))
            .args(["--redis", &self.redis, "--prefix", &self.prefix])
            .args(&self.args);
        let node = Proc::spawn(
            &format!("node {name}"),
            command,
            &self.logs.join(format!("node-{name}.log")),
        );
        node.wait_line("listening on", Duration::from_secs(30))
            .await;
        node
    }

    /// The test's own subscriber to `rooms` rooms (`r0`, `r1`, ...),
    /// subscribed before anything is published.
    ///
    /// # Panics
    ///
    /// When Redis refuses.
    pub async fn observe(&self, rooms: usize) -> Observer {
        let truth = Arc::new(Truth::default());
        let backend = RedisBackend::connect(
            RedisConfig::new(self.redis.clone()).with_prefix(self.prefix.clone()),
        )
        .await
        .expect("the test's own Redis connection");
        // The backend holds its subscriber weakly; `truth` keeps it alive.
        let subscriber: Arc<dyn Subscriber> = truth.clone();
        backend.attach(Arc::downgrade(&subscriber));
        for room in 0..rooms {
            backend
                .subscribe(&room_name(room))
                .await
                .expect("subscribe");
        }
        Observer {
            truth,
            _backend: backend,
        }
    }
}

fn room_name(room: usize) -> String {
    format!("r{room}")
}

/// One room message as Redis sequenced it.
#[derive(Debug, Clone)]
pub struct Sequenced {
    /// Its position.
    pub epoch: u64,
    /// Its position.
    pub seq: u64,
    /// The publisher's body (unique across rooms).
    pub body: String,
    /// When the test's own subscriber got it.
    pub at: Instant,
}

/// The ground truth: every room message Redis sequenced, seen by a
/// subscriber of the test's own.
#[derive(Debug, Default)]
pub struct Truth {
    rooms: Mutex<HashMap<String, Vec<Sequenced>>>,
    gaps: Mutex<Vec<String>>,
}

impl Subscriber for Truth {
    fn message(&self, message: &RoomMessage) {
        let body = match relay::ServerMessage::decode_binary(&message.payload) {
            Ok(ServerMessage::DeliveredV1(d)) => d.body,
            other => format!("undecodable: {other:?}"),
        };
        lock(&self.rooms)
            .entry(message.room.to_string())
            .or_default()
            .push(Sequenced {
                epoch: message.position.epoch,
                seq: message.position.seq,
                body,
                at: Instant::now(),
            });
    }

    fn gap(&self, gap: &Gap) {
        lock(&self.gaps).push(format!("{gap:?}"));
    }
}

/// The test's own subscriber and what it saw.
#[derive(Debug)]
pub struct Observer {
    truth: Arc<Truth>,
    _backend: RedisBackend,
}

impl Observer {
    /// Every room's messages so far.
    #[must_use]
    pub fn rooms(&self) -> HashMap<String, Vec<Sequenced>> {
        lock(&self.truth.rooms).clone()
    }

    /// Each room's last sequence number so far.
    #[must_use]
    pub fn finals(&self) -> HashMap<String, u64> {
        lock(&self.truth.rooms)
            .iter()
            .map(|(room, messages)| (room.clone(), messages.last().map_or(0, |m| m.seq)))
            .collect()
    }

    /// Checks that the observer saw no gap and that Redis sequenced each
    /// room 1, 2, 3... with every body once; returns how many messages.
    ///
    /// # Panics
    ///
    /// On a gap, a hole or a body sequenced twice.
    pub fn check_sequenced(&self) -> usize {
        let gaps = lock(&self.truth.gaps).clone();
        assert!(gaps.is_empty(), "the observer saw gaps: {gaps:?}");
        let rooms = self.rooms();
        let mut bodies = HashSet::new();
        for messages in rooms.values() {
            for (i, m) in messages.iter().enumerate() {
                assert_eq!(m.seq, i as u64 + 1, "Redis sequenced a room without holes");
                assert!(bodies.insert(m.body.clone()), "published twice: {}", m.body);
            }
        }
        bodies.len()
    }
}

/// What one client saw, in order.
#[derive(Debug, Clone)]
pub enum Seen {
    /// A connection opened.
    Open(Instant),
    /// The connection went away; `deploy` when by a drain notice (or 4001),
    /// not when it dropped.
    Down {
        /// When the client said so.
        at: Instant,
        /// Whether the server asked it to move.
        deploy: bool,
    },
    /// A room message.
    Message {
        /// Its position.
        epoch: u64,
        /// Its position.
        seq: u64,
        /// The publisher's body.
        body: String,
    },
    /// The room's history did not reach back to the client's position: room
    /// messages go on after this one.
    Gap {
        /// `Trimmed` or `Reset`.
        kind: String,
        /// The room's position when the gap was found.
        epoch: u64,
        /// The room's position when the gap was found.
        seq: u64,
    },
    /// Something a room member should never get (a room message outside its
    /// envelope).
    Unexpected(String),
}

/// Relay clients in `rooms` rooms (client `i` in room `i % rooms`), each
/// joining its room whenever a connection opens, and recording what it saw.
#[derive(Debug)]
pub struct Fleet {
    rooms: usize,
    clients: Vec<Client<relay::Package>>,
    seen: Vec<Arc<Mutex<Vec<Seen>>>>,
}

impl Fleet {
    /// Connects `count` clients to `url`, 50 at a time, half of them binary;
    /// `config` is each one's configuration before its seed (its index) and
    /// encoding are set.
    pub async fn connect(url: &str, count: usize, rooms: usize, config: &ClientConfig) -> Fleet {
        let mut fleet = Fleet {
            rooms,
            clients: Vec::with_capacity(count),
            seen: Vec::with_capacity(count),
        };
        for i in 0..count {
            let config = config.clone().with_seed(i as u64);
            let config = if i.is_multiple_of(2) {
                config
            } else {
                config.with_encoding(tagwire::Encoding::Binary)
            };
            let (client, seen) = spawn_client(url, config, fleet.room_of(i));
            fleet.clients.push(client);
            fleet.seen.push(seen);
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        fleet
    }

    /// How many clients.
    #[must_use]
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Client `i`'s room.
    #[must_use]
    pub fn room_of(&self, i: usize) -> String {
        room_name(i % self.rooms)
    }

    /// What client `i` saw so far.
    pub fn seen(&self, i: usize) -> MutexGuard<'_, Vec<Seen>> {
        lock(&self.seen[i])
    }

    /// Whether every client passes `test`.
    pub fn all(&self, test: impl Fn(&[Seen]) -> bool) -> bool {
        self.seen.iter().all(|s| test(&lock(s)))
    }

    /// Waits until every client has had one connection open.
    pub async fn wait_open(&self, limit: Duration) {
        wait_until("every client open", limit, || {
            self.all(|seen| opens(seen) == 1)
        })
        .await;
    }

    /// Waits until every client has its first room message.
    pub async fn wait_first_message(&self, limit: Duration) {
        wait_until("every client's first message", limit, || {
            self.all(|seen| seen.iter().any(|s| matches!(s, Seen::Message { .. })))
        })
        .await;
    }

    /// Waits until every client's last room message is its room's last in
    /// `finals`.
    ///
    /// # Panics
    ///
    /// When some are still behind after `limit`, with a few of them.
    pub async fn wait_up_to_date(&self, finals: &HashMap<String, u64>, limit: Duration) {
        let behind = || -> Vec<String> {
            (0..self.len())
                .filter_map(|i| {
                    let seen = self.seen(i);
                    let last = seen.iter().rev().find_map(|s| match s {
                        Seen::Message { seq, .. } | Seen::Gap { seq, .. } => Some(*seq),
                        _ => None,
                    });
                    let room = self.room_of(i);
                    let want = finals.get(&room).copied();
                    (last != want).then(|| {
                        format!(
                            "client {i} in {room} at {last:?} of {want:?}, {} opens",
                            opens(&seen)
                        )
                    })
                })
                .collect()
        };
        let start = Instant::now();
        while !behind().is_empty() && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let lagging = behind();
        assert!(
            lagging.is_empty(),
            "{} clients not up to date after {limit:?}, e.g. {:?}",
            lagging.len(),
            &lagging[..lagging.len().min(5)]
        );
    }

    /// Per client: from its first room message on, every one, in order, none
    /// twice, each the message Redis sequenced under that number, or a typed
    /// gap covering the ones it skips; up to date at the end.
    ///
    /// # Panics
    ///
    /// When a room has no messages in `truth`.
    #[must_use]
    pub fn check_delivery(&self, truth: &HashMap<String, Vec<Sequenced>>) -> Delivery {
        let mut d = Delivery::default();
        for i in 0..self.len() {
            let seen = self.seen(i);
            let room = truth.get(&self.room_of(i)).expect("the room has messages");
            let last = room.last().expect("a message");
            let by_seq: HashMap<u64, &Sequenced> = room
                .iter()
                .filter(|m| m.epoch == last.epoch)
                .map(|m| (m.seq, m))
                .collect();
            let mut problem = |text: String| d.problems.push(format!("client {i}: {text}"));
            let mut previous: Option<u64> = None;
            let mut opened = None;
            let mut reopened = false;
            for s in seen.iter() {
                match s {
                    Seen::Open(at) => {
                        opened = Some(*at);
                        reopened = previous.is_some();
                    }
                    Seen::Down { .. } => {}
                    Seen::Unexpected(what) => problem(what.clone()),
                    Seen::Gap { kind, epoch, seq } => {
                        d.gaps += 1;
                        if *epoch == last.epoch
                            && let Some(p) = previous
                            && *seq > p
                        {
                            d.skipped += seq - p;
                        }
                        if *epoch != last.epoch {
                            problem(format!("a {kind} gap into another epoch"));
                        }
                        previous = Some(*seq);
                    }
                    Seen::Message { epoch, seq, body } => {
                        d.delivered += 1;
                        if *epoch != last.epoch {
                            problem(format!("seq {seq} of another epoch"));
                            continue;
                        }
                        match by_seq.get(seq) {
                            None => problem(format!("seq {seq} was never sequenced")),
                            Some(sequenced) if &sequenced.body != body => {
                                problem(format!("seq {seq} is not the message Redis sequenced"));
                            }
                            Some(sequenced) => {
                                // Sequenced before the connection it came on
                                // opened: the new node replayed it.
                                if reopened && opened.is_some_and(|o| sequenced.at < o) {
                                    d.replayed += 1;
                                }
                            }
                        }
                        match previous {
                            Some(p) if *seq <= p => {
                                d.duplicates += 1;
                                problem(format!("seq {seq} after {p} (doubled or out of order)"));
                            }
                            Some(p) if *seq > p + 1 => {
                                d.missed += seq - p - 1;
                                problem(format!(
                                    "missed {} message(s) before seq {seq}{}",
                                    seq - p - 1,
                                    if reopened {
                                        " across a reconnect"
                                    } else {
                                        " while connected"
                                    }
                                ));
                            }
                            _ => {}
                        }
                        previous = Some(previous.map_or(*seq, |p| p.max(*seq)));
                    }
                }
            }
            if previous != Some(last.seq) {
                problem(format!("ends at {previous:?}, the room at {}", last.seq));
            }
        }
        d
    }

    /// Closes every client.
    pub async fn close(&self) {
        for client in &self.clients {
            client.close().await;
        }
    }
}

/// What [`Fleet::check_delivery`] counted.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Room messages the clients got.
    pub delivered: usize,
    /// Of them, sequenced before the connection they came on opened, on a
    /// client's second or later connection.
    pub replayed: usize,
    /// Typed gap events.
    pub gaps: usize,
    /// Messages those gaps stood for.
    pub skipped: u64,
    /// Messages a client got again, or before one it already had.
    pub duplicates: usize,
    /// Messages a client never got, with no gap to say so.
    pub missed: u64,
    /// Each of the above that is wrong, per client.
    pub problems: Vec<String>,
}

impl Delivery {
    /// Asserts nothing was lost silently, doubled, reordered or wrong.
    ///
    /// # Panics
    ///
    /// With the count and the first problems.
    pub fn assert_exact(&self) {
        assert!(
            self.problems.is_empty(),
            "{} delivery problems ({} missed, {} doubled or out of order), e.g. {:?}",
            self.problems.len(),
            self.missed,
            self.duplicates,
            &self.problems[..self.problems.len().min(10)]
        );
    }
}

fn spawn_client(
    url: &str,
    config: ClientConfig,
    room: String,
) -> (Client<relay::Package>, Arc<Mutex<Vec<Seen>>>) {
    let (client, mut events) = Client::<relay::Package>::connect(url.to_owned(), config);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let joiner = client.clone();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            match event {
                Event::Status(Status::Open) => {
                    lock(&sink).push(Seen::Open(Instant::now()));
                    let _ = joiner.send(ClientMessage::JoinV1(JoinV1 { room: room.clone() }));
                }
                Event::Status(Status::Reconnecting { reason, .. }) => {
                    lock(&sink).push(Seen::Down {
                        at: Instant::now(),
                        deploy: matches!(reason, ReconnectReason::Deploy { .. }),
                    });
                }
                // Another room's message fails the check against the room's
                // sequence (bodies are unique across rooms).
                Event::RoomMessage {
                    position,
                    message: ServerMessage::DeliveredV1(d),
                    ..
                } => lock(&sink).push(Seen::Message {
                    epoch: position.epoch,
                    seq: position.seq,
                    body: d.body,
                }),
                Event::Gap { kind, position, .. } => lock(&sink).push(Seen::Gap {
                    kind: format!("{kind:?}"),
                    epoch: position.epoch,
                    seq: position.seq,
                }),
                // Room messages come in envelopes, never bare.
                Event::Message(m) => {
                    lock(&sink).push(Seen::Unexpected(format!("a bare message {m:?}")));
                }
                _ => {}
            }
        }
    });
    (client, seen)
}

/// How many connections opened.
#[must_use]
pub fn opens(seen: &[Seen]) -> usize {
    seen.iter().filter(|s| matches!(s, Seen::Open(_))).count()
}

/// How many times the server asked the client to move.
#[must_use]
pub fn deploys(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::Down { deploy: true, .. }))
        .count()
}

/// Whether the client's last connection change was opening.
#[must_use]
pub fn connected(seen: &[Seen]) -> bool {
    matches!(
        seen.iter()
            .rev()
            .find(|s| matches!(s, Seen::Open(_) | Seen::Down { .. })),
        Some(Seen::Open(_))
    )
}

/// Relay clients publishing numbered messages, each to the next room in
/// turn, at a steady rate; stopped when dropped.
#[derive(Debug)]
pub struct Publishers {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    clients: Vec<Client<relay::Package>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Publishers {
    /// `count` publishers connected to `url`, each publishing every `every`
    /// to rooms `r0`..`r{rooms - 1}` in turn (bodies `p{publisher}:{n}`,
    /// unique across rooms).
    #[must_use]
    pub fn start(url: &str, count: usize, every: Duration, rooms: usize) -> Publishers {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        let mut tasks = Vec::new();
        for p in 0..count {
            let (client, mut events) = Client::<relay::Package>::connect(
                url.to_owned(),
                ClientConfig::default().with_seed(10_000 + p as u64),
            );
            tasks.push(tokio::spawn(async move {
                while events.next().await.is_some() {}
            }));
            let stop = stop.clone();
            let sent = sent.clone();
            let publisher = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                let mut k = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    tick.tick().await;
                    k += 1;
                    let message = PublishV1 {
                        room: room_name((k as usize * count + p) % rooms),
                        seq: k,
                        body: format!("p{p}:{k}"),
                    };
                    if publisher.send(ClientMessage::PublishV1(message)).is_ok() {
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                }
            }));
            clients.push(client);
        }
        Publishers {
            stop,
            sent,
            clients,
            tasks,
        }
    }

    /// Stops publishing (at the next tick).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Messages handed to the publishers' clients so far.
    #[must_use]
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Closes the publishers' clients.
    pub async fn close(&self) {
        self.stop();
        for client in &self.clients {
            client.close().await;
        }
    }
}

impl Drop for Publishers {
    fn drop(&mut self) {
        self.stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}
