//! A rolling deploy behind a real HAProxy (issue 11): nodes A and B (processes
//! of the `scale-node` binary, rooms shared through Redis) behind an HAProxy
//! that health-checks `/health` every 5 s and takes a node out after 4
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
//! This is the suite's one deliberately real-time test (about 80 s): HAProxy's
//! checks run on its own clock. Needs `scripts/services start && .
//! target/services/env` (TAGWIRE_REDIS_URL, TAGWIRE_HAPROXY); fails without
//! them. Node logs go to `$CARGO_TARGET_TMPDIR/rolling_deploy/`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tagwire::Protocol as _;
use tagwire::client::{Client, ClientConfig, Event, ReconnectReason, Status};
use tagwire::server::backend::{Backend, Gap, RedisBackend, RedisConfig, RoomMessage, Subscriber};
use tagwire_tests::relay::{self, ClientMessage, JoinV1, PublishV1, ServerMessage};
use tagwire_tests::services::service;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CLIENTS: usize = 500;
const ROOMS: usize = 20;
const PUBLISHERS: usize = 2;
/// Each publisher publishes to the next room this often: 40 messages a
/// second in all, 2 per room, 1,000 deliveries a second.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// HAProxy's check: docs/SCALE.md's sample.
const CHECK_INTER: Duration = Duration::from_secs(5);
const FALL: u32 = 4;
const RISE: u32 = 2;
/// Above CHECK_INTER × FALL (20 s) with a 5 s margin: the node is out of
/// HAProxy before any notice goes out.
const GRACE: Duration = Duration::from_secs(25);
/// Shorter than the defaults (10 s, 5 s) to keep the test near a minute and
/// a half; the spread is the same shape.
const WINDOW: Duration = Duration::from_secs(5);
const BATCHES: u32 = 10;
const RECONNECT_WINDOW: Duration = Duration::from_secs(5);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// A child process killed when dropped (a failing test leaves nothing behind),
/// with its stdout lines and when each was read.
struct Proc {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Proc {
    fn spawn(name: &str, mut command: Command, log: &Path) -> Proc {
        let log = std::fs::File::create(log).expect("log file");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                lock(&sink).push((Instant::now(), line));
            }
        });
        Proc {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// When the first line starting with `prefix` was read.
    fn line(&self, prefix: &str) -> Option<Instant> {
        lock(&self.lines)
            .iter()
            .find(|(_, l)| l.starts_with(prefix))
            .map(|(at, _)| *at)
    }

    async fn wait_line(&self, prefix: &str, limit: Duration) -> Instant {
        let start = Instant::now();
        loop {
            if let Some(at) = self.line(prefix) {
                return at;
            }
            assert!(
                start.elapsed() < limit,
                "{} printed no `{prefix}` within {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -TERM {}", self.name);
    }

    async fn wait_exit(&mut self, limit: Duration) -> Instant {
        let start = Instant::now();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    assert!(status.success(), "{} exited with {status}", self.name);
                    return Instant::now();
                }
                Ok(None) => {}
                Err(e) => panic!("waiting for {}: {e}", self.name),
            }
            assert!(
                start.elapsed() < limit,
                "{} still running after {limit:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration docs/SCALE.md recommends, on loopback ports, with a
/// stats socket to watch the checks and the slots A–D.
fn haproxy_config(front: u16, slots: &[(&str, u16)], socket: &Path) -> String {
    let mut servers = String::new();
    for (name, port) in slots {
        let _ = writeln!(servers, "    server {name} 127.0.0.1:{port}");
    }
    format!(
        "global
    # 502 connections, two sockets each: HAProxy raises its open-file
    # limit to about 2 x maxconn and refuses to start if the hard limit is lower.
    maxconn 1500
    stats socket {socket} mode 600 level admin

defaults
    mode http
    option redispatch
    retries 2
    timeout connect 5s
    timeout http-request 10s
    timeout http-keep-alive 10s
    timeout client 75s
    timeout server 75s
    # Above the server's 30 s ping interval: only dead tunnels are reaped.
    timeout tunnel 1h
    timeout client-fin 10s
    timeout server-fin 10s

frontend tagwire
    bind 127.0.0.1:{front}
    default_backend tagwire_nodes

backend tagwire_nodes
    balance leastconn
    option httpchk
    http-check send meth GET uri /health
    http-check expect status 200
    default-server check inter {inter}s fall {FALL} rise {RISE} maxconn 5000
{servers}",
        socket = socket.display(),
        inter = CHECK_INTER.as_secs(),
    )
}

/// One server's line of `show stat`.
#[derive(Debug, Clone)]
struct ServerStat {
    status: String,
    sessions: u64,
}

impl ServerStat {
    /// `DOWN`, or `DOWN 1/2` on the way up: HAProxy sends it nothing.
    fn down(&self) -> bool {
        self.status.starts_with("DOWN")
    }

    /// `UP`, or `UP 1/4` on the way down: still taking connections.
    fn up(&self) -> bool {
        self.status.starts_with("UP")
    }
}

async fn show_stat(socket: &Path) -> std::io::Result<HashMap<String, ServerStat>> {
    let mut stream = tokio::net::UnixStream::connect(socket).await?;
    stream.write_all(b"show stat\n").await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let column = |name: &str| header.iter().position(|h| *h == name);
    let (Some(px), Some(sv), Some(scur), Some(status)) = (
        column("pxname"),
        column("svname"),
        column("scur"),
        column("status"),
    ) else {
        return Err(std::io::Error::other(format!("unexpected stats: {text}")));
    };
    let mut servers = HashMap::new();
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.get(px) == Some(&"tagwire_nodes")
            && let Some(name) = fields.get(sv).filter(|n| n.len() == 1)
        {
            servers.insert(
                (*name).to_owned(),
                ServerStat {
                    status: fields.get(status).copied().unwrap_or_default().to_owned(),
                    sessions: fields.get(scur).and_then(|s| s.parse().ok()).unwrap_or(0),
                },
            );
        }
    }
    Ok(servers)
}

/// Every change of a server's status as the stats socket showed it (polled
/// every 50 ms).
#[derive(Default)]
struct Health {
    changes: Vec<(Instant, String, String)>,
    last: HashMap<String, ServerStat>,
}

impl Health {
    /// When `server` was first seen down at or after `since`.
    fn down_at(&self, server: &str, since: Instant) -> Option<Instant> {
        self.changes
            .iter()
            .find(|(at, s, status)| *at >= since && s == server && status.starts_with("DOWN"))
            .map(|(at, _, _)| *at)
    }

    /// When `server` was first seen up at or after `since`.
    fn up_at(&self, server: &str, since: Instant) -> Option<Instant> {
        self.changes
            .iter()
            .find(|(at, s, status)| *at >= since && s == server && status.starts_with("UP"))
            .map(|(at, _, _)| *at)
    }
}

fn watch_health(socket: PathBuf) -> Arc<Mutex<Health>> {
    let health = Arc::new(Mutex::new(Health::default()));
    let sink = health.clone();
    tokio::spawn(async move {
        loop {
            if let Ok(stats) = show_stat(&socket).await {
                let now = Instant::now();
                let mut health = lock(&sink);
                for (name, stat) in &stats {
                    if health.last.get(name).map(|s| &s.status) != Some(&stat.status) {
                        health
                            .changes
                            .push((now, name.clone(), stat.status.clone()));
                    }
                }
                health.last = stats;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    health
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ground truth: every room message Redis sequenced, seen by a
/// subscriber of the test's own.
#[derive(Debug, Clone)]
struct Sequenced {
    epoch: u64,
    seq: u64,
    body: String,
    /// When the test's own subscriber got it.
    at: Instant,
}

#[derive(Default)]
struct Truth {
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

/// What one client saw, in order.
#[derive(Debug, Clone)]
enum Seen {
    Open(Instant),
    /// The connection went away; `deploy` when by a drain notice (or 4001).
    Down {
        at: Instant,
        deploy: bool,
    },
    Message {
        epoch: u64,
        seq: u64,
        body: String,
    },
    /// The room's history did not reach back to the client's position.
    Gap(String),
}

fn room_of(client: usize) -> String {
    format!("r{}", client % ROOMS)
}

fn spawn_client(i: usize, url: &str) -> (Client<relay::Package>, Arc<Mutex<Vec<Seen>>>) {
    let config = ClientConfig::default().with_seed(i as u64);
    let config = if i.is_multiple_of(2) {
        config
    } else {
        config.with_encoding(tagwire::Encoding::Binary)
    };
    let (client, mut events) = Client::<relay::Package>::connect(url.to_owned(), config);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let joiner = client.clone();
    let room = room_of(i);
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
                Event::Gap {
                    room,
                    kind,
                    position,
                } => {
                    lock(&sink).push(Seen::Gap(format!("{room}: {kind:?} at {position:?}")));
                }
                // Room messages come in envelopes, never bare.
                Event::Message(m) => lock(&sink).push(Seen::Gap(format!("a bare message {m:?}"))),
                _ => {}
            }
        }
    });
    (client, seen)
}

fn opens(seen: &[Seen]) -> usize {
    seen.iter().filter(|s| matches!(s, Seen::Open(_))).count()
}

fn deploys(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| matches!(s, Seen::Down { deploy: true, .. }))
        .count()
}

/// Whether the client's last connection change was opening.
fn connected(seen: &[Seen]) -> bool {
    matches!(
        seen.iter()
            .rev()
            .find(|s| matches!(s, Seen::Open(_) | Seen::Down { .. })),
        Some(Seen::Open(_))
    )
}

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

struct Cluster {
    redis: String,
    prefix: String,
    slots: Vec<(&'static str, u16)>,
    logs: PathBuf,
    binary: &'static str,
}

impl Cluster {
    async fn start(&self, name: &'static str) -> Proc {
        let port = self
            .slots
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p)
            .expect("a slot");
        let mut command = Command::new(self.binary);
        command.args([
            format!("127.0.0.1:{port}"),
            "--redis".into(),
            self.redis.clone(),
            "--prefix".into(),
            self.prefix.clone(),
            "--grace-ms".into(),
            GRACE.as_millis().to_string(),
            "--window-ms".into(),
            WINDOW.as_millis().to_string(),
            "--batches".into(),
            BATCHES.to_string(),
            "--reconnect-window-ms".into(),
            RECONNECT_WINDOW.as_millis().to_string(),
        ]);
        let node = Proc::spawn(
            &format!("node {name}"),
            command,
            &self.logs.join(format!("node-{name}.log")),
        );
        node.wait_line("listening on", Duration::from_secs(30))
            .await;
        node
    }
}

#[allow(clippy::too_many_arguments)]
async fn drain_and_replace(
    cluster: &Cluster,
    old: &mut Proc,
    old_name: &'static str,
    new_name: &'static str,
    health: &Arc<Mutex<Health>>,
    clients: &[Arc<Mutex<Vec<Seen>>>],
) -> (Proc, Step) {
    {
        let health = lock(health);
        let stat = health.last.get(old_name).expect("the old node's slot");
        assert!(stat.up(), "{old_name} is not up before its drain: {stat:?}");
    }
    let deploys_before: Vec<usize> = clients.iter().map(|c| deploys(&lock(c))).collect();
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
        || {
            clients.iter().all(|c| {
                let seen = lock(c);
                connected(&seen) && opens(&seen) > deploys(&seen)
            })
        },
    )
    .await;
    let done = Instant::now();

    let mut moved = 0;
    let mut first_client_notice = None::<Instant>;
    let mut reopens = Vec::new();
    for (client, before) in clients.iter().zip(&deploys_before) {
        let seen = lock(client);
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
        let health = lock(health);
        let down = health
            .down_at(old_name, sigterm)
            .unwrap_or_else(|| panic!("HAProxy never reported {old_name} DOWN"));
        let up = health
            .up_at(new_name, sigterm)
            .unwrap_or_else(|| panic!("HAProxy never reported {new_name} UP"));
        (down, up)
    };
    let span = WINDOW + RECONNECT_WINDOW;
    let mut buckets = vec![0usize; 10];
    for r in &reopens {
        let tenth = (r.as_secs_f64() / span.as_secs_f64() * 10.0) as usize;
        buckets[tenth.min(9)] += 1;
    }
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

/// (a) per client: from its first room message on, every one, in order, none
/// twice, each the message Redis sequenced under that number, up to date at
/// the end. Returns the deliveries and how many of them were replays (the
/// message was sequenced before the connection it arrived on opened).
fn check_delivery(
    clients: &[Arc<Mutex<Vec<Seen>>>],
    truth: &HashMap<String, Vec<Sequenced>>,
) -> (usize, usize) {
    let mut delivered = 0;
    let mut replayed = 0;
    for (i, client) in clients.iter().enumerate() {
        let seen = lock(client);
        let room = truth.get(&room_of(i)).expect("the room has messages");
        let last = room.last().expect("a message");
        let by_seq: HashMap<u64, &Sequenced> = room
            .iter()
            .filter(|m| m.epoch == last.epoch)
            .map(|m| (m.seq, m))
            .collect();
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
                Seen::Gap(gap) => panic!("client {i}: {gap} (the window is 2 minutes)"),
                Seen::Message { epoch, seq, body } => {
                    delivered += 1;
                    assert_eq!(*epoch, last.epoch, "client {i}: a message of another epoch");
                    let sequenced = by_seq
                        .get(seq)
                        .unwrap_or_else(|| panic!("client {i}: seq {seq} was never sequenced"));
                    assert_eq!(
                        &sequenced.body, body,
                        "client {i}: seq {seq} is not the message Redis sequenced"
                    );
                    if opened.is_some_and(|o| sequenced.at < o) && reopened {
                        replayed += 1;
                    }
                    if let Some(p) = previous {
                        assert!(
                            *seq > p,
                            "client {i}: seq {seq} after {p} (doubled or out of order)"
                        );
                        assert_eq!(
                            *seq,
                            p + 1,
                            "client {i}: missed {} message(s) before seq {seq}{}",
                            seq - p - 1,
                            if reopened {
                                " across a reconnect"
                            } else {
                                " while connected"
                            }
                        );
                    }
                    previous = Some(*seq);
                }
            }
        }
        assert_eq!(previous, Some(last.seq), "client {i} is not up to date");
    }
    (delivered, replayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_deploy_behind_haproxy() {
    let redis = service("TAGWIRE_REDIS_URL");
    let haproxy = service("TAGWIRE_HAPROXY");
    let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("rolling_deploy");
    std::fs::create_dir_all(&logs).expect("log dir");
    let prefix = format!(
        "tagwire-test:{}:{}:deploy",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );

    // HAProxy's four slots; A and B run from the start, C and D are down
    // until their nodes start.
    let front = free_port();
    let slots: Vec<(&'static str, u16)> = ["A", "B", "C", "D"]
        .into_iter()
        .map(|n| (n, free_port()))
        .collect();
    // Under /tmp: a Unix socket's path must stay short (108 bytes).
    let socket = std::env::temp_dir().join(format!("tagwire-haproxy-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket);
    let config = logs.join("haproxy.cfg");
    std::fs::write(&config, haproxy_config(front, &slots, &socket)).expect("haproxy.cfg");

    // The ground truth, subscribed before anything is published.
    let truth = Arc::new(Truth::default());
    let observer =
        RedisBackend::connect(RedisConfig::new(redis.clone()).with_prefix(prefix.clone()))
            .await
            .expect("the test's own Redis connection");
    let subscriber: Arc<dyn Subscriber> = truth.clone();
    observer.attach(Arc::downgrade(&subscriber));
    for room in 0..ROOMS {
        observer
            .subscribe(&format!("r{room}"))
            .await
            .expect("subscribe");
    }

    let cluster = Cluster {
        redis,
        prefix,
        slots: slots.clone(),
        logs: logs.clone(),
        binary: env!("CARGO_BIN_EXE_scale-node"),
    };
    let mut node_a = cluster.start("A").await;
    let mut node_b = cluster.start("B").await;
    // HAProxy after A and B, so they start UP; C and D fail their first check.
    let mut command = Command::new(&haproxy);
    command.arg("-db").arg("-f").arg(&config);
    let _haproxy = Proc::spawn("haproxy", command, &logs.join("haproxy.log"));
    wait_until("haproxy's stats socket", Duration::from_secs(10), || {
        socket.exists()
    })
    .await;
    let health = watch_health(socket.clone());
    wait_until(
        "HAProxy to see A and B up, C and D down",
        Duration::from_secs(20),
        || {
            let h = lock(&health);
            let state = |n: &str| h.last.get(n).cloned();
            matches!((state("A"), state("B"), state("C"), state("D")),
                (Some(a), Some(b), Some(c), Some(d))
                    if a.status == "UP" && b.status == "UP" && c.down() && d.down())
        },
    )
    .await;

    // 500 clients through HAProxy, half of them binary.
    let url = format!("ws://127.0.0.1:{front}/ws");
    let mut handles = Vec::new();
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (client, seen) = spawn_client(i, &url);
        handles.push(client);
        clients.push(seen);
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    wait_until("every client open", Duration::from_secs(30), || {
        clients.iter().all(|c| opens(&lock(c)) == 1)
    })
    .await;

    // The publishers, through HAProxy too: they move with the deploy.
    let stop = Arc::new(AtomicBool::new(false));
    let published = Arc::new(AtomicU64::new(0));
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let (client, mut events) = Client::<relay::Package>::connect(
            url.clone(),
            ClientConfig::default().with_seed(10_000 + p as u64),
        );
        tokio::spawn(async move { while events.next().await.is_some() {} });
        let stop = stop.clone();
        let published = published.clone();
        let publisher = client.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PUBLISH_EVERY);
            let mut k = 0u64;
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                k += 1;
                let room = format!("r{}", (k as usize * PUBLISHERS + p) % ROOMS);
                let message = PublishV1 {
                    room,
                    seq: k,
                    body: format!("p{p}:{k}"),
                };
                if publisher.send(ClientMessage::PublishV1(message)).is_ok() {
                    published.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        publishers.push(client);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    {
        let h = lock(&health);
        let a = h.last.get("A").map_or(0, |s| s.sessions);
        let b = h.last.get("B").map_or(0, |s| s.sessions);
        assert!(
            a >= 100 && b >= 100,
            "clients should be spread over A and B: A {a}, B {b}"
        );
        println!("before the deploy: A holds {a} connections, B {b}");
    }
    wait_until(
        "every client's first message",
        Duration::from_secs(10),
        || {
            clients
                .iter()
                .all(|c| lock(c).iter().any(|s| matches!(s, Seen::Message { .. })))
        },
    )
    .await;

    // The deploy: A → C, then B → D.
    let (node_c, step1) =
        drain_and_replace(&cluster, &mut node_a, "A", "C", &health, &clients).await;
    let (node_d, step2) =
        drain_and_replace(&cluster, &mut node_b, "B", "D", &health, &clients).await;
    let total = step2.done.duration_since(step1.sigterm);

    // Let the stream run on C and D, then stop it and let it settle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let finals: HashMap<String, u64> = lock(&truth.rooms)
        .iter()
        .map(|(room, messages)| (room.clone(), messages.last().map_or(0, |m| m.seq)))
        .collect();
    let behind = || -> Vec<String> {
        clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let seen = lock(c);
                let last = seen.iter().rev().find_map(|s| match s {
                    Seen::Message { seq, .. } => Some(*seq),
                    _ => None,
                });
                let room = room_of(i);
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
    let settle = Instant::now();
    while !behind().is_empty() && settle.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let lagging = behind();
    assert!(
        lagging.is_empty(),
        "{} clients not up to date, e.g. {:?}",
        lagging.len(),
        &lagging[..lagging.len().min(5)]
    );

    let truth_rooms = lock(&truth.rooms).clone();
    assert!(
        lock(&truth.gaps).is_empty(),
        "the observer saw gaps: {:?}",
        lock(&truth.gaps)
    );
    let sequenced: usize = truth_rooms.values().map(Vec::len).sum();
    let mut bodies = std::collections::HashSet::new();
    for messages in truth_rooms.values() {
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.seq, i as u64 + 1, "Redis sequenced a room without holes");
            assert!(bodies.insert(m.body.clone()), "published twice: {}", m.body);
        }
    }
    let (delivered, replayed) = check_delivery(&clients, &truth_rooms);
    let (c, d) = {
        let h = lock(&health);
        let sessions = |n: &str| h.last.get(n).map_or(0, |s| s.sessions);
        (sessions("C"), sessions("D"))
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
         {sequenced} room messages sequenced ({} sent by publishers), {delivered} deliveries, \
         {replayed} of them replayed after a reconnect",
        secs(total),
        secs(expected),
        secs(at_least),
        published.load(Ordering::SeqCst),
    );
    println!("{report}");

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

    for client in handles.iter().chain(&publishers) {
        client.close().await;
    }
    let _ = std::fs::remove_file(&socket);
    drop((node_c, node_d, subscriber));
}
