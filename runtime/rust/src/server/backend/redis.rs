//! The Redis backend (feature `redis`): rooms across server nodes.
//!
//! Per room, names under the configured prefix (`tagwire`), each holding the
//! room as a Redis Cluster hash tag, so that a room's keys and channel share
//! one slot (a script may only touch keys of one slot):
//! - `tagwire:{room}:m`, a hash: the room's `epoch` and last `seq`;
//! - `tagwire:{room}:l`, a stream: the window's messages, entry IDs `{seq}-0`,
//!   fields `t` (Redis time in ms) and `p` (the payload);
//! - `tagwire:{room}:p`, a hash: presence, member ->
//!   `{node}:{conn}:{linger deadline ms, 0 while held}:{state}`;
//! - `tagwire:{room}:n`, a hash: presence leases, node -> deadline (ms);
//! - `tagwire:{room}:r`, the pub/sub channel: `{epoch}:{seq}:{payload}`
//!   (sharded on a Redis Cluster: `SSUBSCRIBE`, `SPUBLISH`).
//!
//! Redis takes the hash tag from the first `{` to the first `}` after it, and
//! hashes the whole key when nothing is between them. So the prefix may hold
//! no brace, and the room is written with `%` as `%25` and `}` as `%7D` (a
//! `{` inside the tag is harmless), and the empty room as a lone `%`, which
//! no other room's escape gives ([`room_tag`]).
//!
//! A publish is one Lua script (`publish.lua`): HINCRBY the sequence, XADD
//! with an exact MAXLEN (and a trim of what left the time window), PEXPIRE,
//! PUBLISH (SPUBLISH on a cluster). Redis runs scripts one at a time, so
//! sequence numbers are one total order per room whichever node published,
//! and every node's connection receives the channel's messages in that order.
//!
//! Presence is `presence.lua`, which like `publish.lua` is loaded after
//! `room.lua` and publishes its events with the same function, so they take
//! the room's order. Each node renews a lease per room it holds members in,
//! and sweeps the rooms with presence it is subscribed to, every
//! `renew_every`.
//!
//! Each node keeps one multiplexed RESP3 connection (commands, scripts and
//! pub/sub pushes together; on a cluster, redis-rs's cluster connection,
//! which routes each command by its key) owned by a supervisor task, which
//! also tracks, per subscribed room, the last position delivered: a message
//! that does not follow it (after a reconnect, or a push lost with a
//! connection) is caught up from the stream, or becomes a [`Gap`]. Publishes go through a second task
//! that sends whatever is queued as one pipeline, in call order.
//!
//! Every command has the response timeout: a Redis that stops answering
//! without closing its socket (stopped, or a network that drops packets)
//! fails the first command that waits for it, and that failure drops the
//! connection at once (whichever task met it), so later publishes are
//! refused as `Unavailable` instead of each waiting out the timeout again.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisError,
    Script, Value,
};
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::time::Instant;

use super::contract::{
    Backend, BackendError, BackendState, BoxFuture, Gap, GapKind, History, HistoryWindow,
    RoomMessage, Subscriber, reaches_back,
};
use super::presence::{
    PRESENCE_MARK, PresenceConfig, PresenceEntry, PresenceSnapshot, check_member_key,
};
use crate::control::RoomPosition as Position;

/// How a [`RedisBackend`] connects and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisConfig {
    /// `redis://host:port/db` (RESP3 is asked for whatever the URL says);
    /// for a cluster, its first node.
    pub url: String,
    /// A Redis Cluster's nodes to start from (`redis://host:port` each; any
    /// few of them, the client learns the rest), or empty for one Redis at
    /// `url`. On a cluster, pub/sub is sharded (`SSUBSCRIBE`, `SPUBLISH`,
    /// Redis 7), so a room's traffic stays on its slot's shard.
    pub cluster_nodes: Vec<String>,
    /// Prefix of every key and channel, so several applications can share a
    /// Redis (`tagwire`). It may not hold `{` or `}`: the room's hash tag
    /// must be the first braces of each key.
    pub prefix: String,
    /// How much history each room keeps in its stream.
    pub window: HistoryWindow,
    /// A room's keys expire after this long without a publish (24 h); the
    /// room then starts a new epoch. Keep it above the window's `max_age`.
    pub key_ttl: Duration,
    /// How long any command (a publish's script, a subscription, a history
    /// read, the health PING) may wait for its reply (2 s). A command that
    /// meets it fails ([`BackendError::Uncertain`] for a publish: Redis may
    /// still run it) and the connection is dropped and made again, so a Redis
    /// that stops answering without closing its socket is noticed within this
    /// long of the first command sent to it, and publishes are refused at
    /// once from then on. Redis answers in well under a millisecond; this
    /// only needs to be above its worst pause (a fork for a snapshot, a slow
    /// script).
    pub response_timeout: Duration,
    /// How long a connection attempt may take, handshake included (2 s): a
    /// stopped Redis still accepts TCP connections (the kernel does), so
    /// only this ends an attempt to reach it.
    pub connect_timeout: Duration,
    /// How often the supervisor checks the connection with a PING when
    /// nothing else is sent (1 s): an idle node notices a silent Redis within
    /// `health_interval + response_timeout`.
    pub health_interval: Duration,
    /// The first delay between reconnection attempts (100 ms), doubled after
    /// each failure up to `reconnect_max` (2 s).
    pub reconnect_min: Duration,
    /// The longest delay between reconnection attempts.
    pub reconnect_max: Duration,
    /// How many publishes may wait for Redis before `publish` fails with
    /// [`BackendError::Overloaded`] (4,096).
    pub publish_queue: usize,
    /// How presence is kept: the same for every node on this Redis.
    pub presence: PresenceConfig,
}

impl RedisConfig {
    /// The defaults, for the Redis at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            cluster_nodes: Vec::new(),
            prefix: "tagwire".to_owned(),
            window: HistoryWindow::default(),
            key_ttl: Duration::from_secs(24 * 3600),
            response_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            health_interval: Duration::from_secs(1),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            publish_queue: 4096,
            presence: PresenceConfig::default(),
        }
    }

    /// With another presence configuration (every node of a deployment
    /// must use the same).
    pub fn with_presence(mut self, presence: PresenceConfig) -> Self {
        self.presence = presence;
        self
    }

    /// The defaults, for the Redis Cluster these nodes belong to (any few
    /// of its nodes; redis-rs learns the rest and follows its slots).
    pub fn cluster<T: Into<String>>(nodes: impl IntoIterator<Item = T>) -> Self {
        let cluster_nodes: Vec<String> = nodes.into_iter().map(Into::into).collect();
        let mut config = Self::new(cluster_nodes.first().cloned().unwrap_or_default());
        config.cluster_nodes = cluster_nodes;
        config
    }

    /// With another history window.
    pub fn with_window(mut self, window: HistoryWindow) -> Self {
        self.window = window;
        self
    }

    /// With another key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// The Redis broadcast backend. Cloning shares it; when the last clone is
/// dropped its tasks end and its connection closes.
#[derive(Clone)]
pub struct RedisBackend {
    core: Arc<Core>,
    commands: mpsc::UnboundedSender<Command>,
    publishes: mpsc::Sender<Job>,
}

/// What the handles and the two tasks share.
struct Core {
    config: RedisConfig,
    client: Client,
    /// The live connection, `None` while (re)connecting.
    conn: Mutex<Option<Live>>,
    /// Woken when a task other than the supervisor found the connection
    /// broken and dropped it ([`Core::lose`]).
    lost: Notify,
    state: watch::Sender<BackendState>,
    subscriber: RwLock<Option<Weak<dyn Subscriber>>>,
    publish_script: Script,
    history_script: Script,
    presence_script: Script,
    /// This node's name in the rooms' lease hashes: random per backend, so
    /// a restarted node never renews the lease of the one it replaced.
    node: String,
    /// The members this node set and still holds, per room and member: the
    /// node renews its lease in these rooms. A member another node took
    /// over stays here until it leaves or lingers: renewing a lease no
    /// member needs only delays its expiry.
    held: Mutex<HashMap<Arc<str>, HashMap<String, u64>>>,
    /// Subscribed rooms that have presence (an event was delivered, or a
    /// snapshot taken): the node sweeps them every `renew_every`.
    swept: Mutex<HashSet<Arc<str>>>,
}

/// What a history read starts from.
#[derive(Debug, Clone, Copy)]
enum After {
    /// Only the room's position is wanted (a new subscription).
    Nothing,
    /// A position a client presented (a resume): it proves nothing.
    Claimed(Position),
    /// The last position this node delivered, which Redis gave it. A room
    /// of that epoch now behind it lost writes, and its sequence numbers
    /// would be given again to other messages: the script drops its state.
    Delivered(Position),
}

/// The connection in use, and which one it is: a failure met on a connection
/// the supervisor already replaced must not drop the new one.
#[derive(Clone)]
struct Live {
    generation: u64,
    conn: Conn,
}

/// Where connections come from.
enum Client {
    Single(redis::Client),
    /// The cluster's nodes, as parsed: a client is built per connection,
    /// each with its own push channel.
    Cluster(Vec<redis::ConnectionInfo>),
}

/// A connection to one Redis, or to a cluster (redis-rs routes each
/// command, a script by its first key, to the slot's primary, and refreshes
/// its slot map on a MOVED reply).
#[derive(Clone)]
enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            Conn::Single(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

impl Conn {
    /// Subscribes to room channels: `SUBSCRIBE` on one Redis, `SSUBSCRIBE`
    /// per channel on a cluster (one command may not span slots).
    async fn listen(&mut self, channels: &[String]) -> Result<(), RedisError> {
        match self {
            Conn::Single(conn) => conn.subscribe(channels).await,
            Conn::Cluster(conn) => {
                for channel in channels {
                    conn.ssubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }

    async fn unlisten(&mut self, channels: &[String]) -> Result<(), RedisError> {
        match self {
            Conn::Single(conn) => conn.unsubscribe(channels).await,
            Conn::Cluster(conn) => {
                for channel in channels {
                    conn.sunsubscribe(channel).await?;
                }
                Ok(())
            }
        }
    }
}

enum Command {
    Subscribe {
        room: Arc<str>,
        reply: oneshot::Sender<Result<Position, BackendError>>,
    },
    Unsubscribe {
        room: Arc<str>,
    },
}

struct Job {
    room: Arc<str>,
    payload: Bytes,
    reply: oneshot::Sender<Result<Position, BackendError>>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("url", &self.core.config.url)
            .field("prefix", &self.core.config.prefix)
            .field("state", &*self.core.state.borrow())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RedisBackend {
    /// Starts the backend's tasks (on the current tokio runtime) and returns
    /// at once, in [`BackendState::Reconnecting`] until the first connection
    /// is made. Fails only on a URL that does not parse, or a prefix that
    /// holds a brace.
    pub fn new(config: RedisConfig) -> Result<Self, BackendError> {
        if config.prefix.contains(['{', '}']) {
            // The room's hash tag must be the first `{...}` of every key.
            return Err(BackendError::Refused {
                error: format!(
                    "redis key prefix {:?}: a prefix may not hold `{{` or `}}`",
                    config.prefix
                ),
            });
        }
        let parse = |url: &str| {
            url.into_connection_info()
                .map_err(|error| BackendError::Refused {
                    error: format!("redis URL {url:?}: {error}"),
                })
        };
        let client = if config.cluster_nodes.is_empty() {
            let info = parse(&config.url)?;
            // Pub/sub pushes and commands share one connection only with RESP3.
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            Client::Single(
                redis::Client::open(info.set_redis_settings(settings)).map_err(|error| {
                    BackendError::Refused {
                        error: format!("redis URL {:?}: {error}", config.url),
                    }
                })?,
            )
        } else {
            let nodes = config
                .cluster_nodes
                .iter()
                .map(|url| parse(url))
                .collect::<Result<Vec<_>, _>>()?;
            // Refused here rather than at every connection attempt.
            cluster_builder(&config, nodes.clone())
                .build()
                .map_err(|error| BackendError::Refused {
                    error: format!("redis cluster {:?}: {error}", config.cluster_nodes),
                })?;
            Client::Cluster(nodes)
        };
        let (state, _) = watch::channel(BackendState::Reconnecting {
            since: Instant::now(),
            error: "not connected yet".to_owned(),
            attempts: 0,
        });
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (publishes, publish_rx) = mpsc::channel(config.publish_queue.max(1));
        let core = Arc::new(Core {
            config,
            client,
            conn: Mutex::new(None),
            lost: Notify::new(),
            state,
            subscriber: RwLock::new(None),
            publish_script: Script::new(concat!(
                include_str!("room.lua"),
                include_str!("publish.lua")
            )),
            history_script: Script::new(include_str!("history.lua")),
            presence_script: Script::new(concat!(
                include_str!("room.lua"),
                include_str!("presence.lua")
            )),
            node: format!("{:016x}", StdRng::from_os_rng().random::<u64>()),
            held: Mutex::new(HashMap::new()),
            swept: Mutex::new(HashSet::new()),
        });
        tokio::spawn(supervise(core.clone(), command_rx));
        tokio::spawn(publish_batches(core.clone(), publish_rx));
        tokio::spawn(presence_ticks(Arc::downgrade(&core)));
        Ok(Self {
            core,
            commands,
            publishes,
        })
    }

    /// [`RedisBackend::new`], then waits for the first connection: fails with
    /// [`BackendError::Unavailable`] (and stops) when the first attempt fails,
    /// so that a node does not start without its Redis.
    pub async fn connect(config: RedisConfig) -> Result<Self, BackendError> {
        let backend = Self::new(config)?;
        let mut state = backend.state();
        loop {
            match &*state.borrow_and_update() {
                BackendState::Connected => return Ok(backend),
                BackendState::Reconnecting {
                    since,
                    error,
                    attempts,
                } if *attempts > 0 => {
                    return Err(BackendError::Unavailable {
                        since: *since,
                        error: error.clone(),
                    });
                }
                BackendState::Closed => return Err(BackendError::Closed),
                BackendState::Reconnecting { .. } => {}
            }
            if state.changed().await.is_err() {
                return Err(BackendError::Closed);
            }
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.core.config
    }
}

impl Core {
    /// The name of one of the room's keys (or its channel): `kind` is `m`,
    /// `l`, `r` ... (see the module documentation).
    fn room_key(&self, room: &str, kind: char) -> String {
        format!("{}:{{{}}}:{kind}", self.config.prefix, room_tag(room))
    }

    fn channel(&self, room: &str) -> String {
        self.room_key(room, 'r')
    }

    fn meta_key(&self, room: &str) -> String {
        self.room_key(room, 'm')
    }

    fn log_key(&self, room: &str) -> String {
        self.room_key(room, 'l')
    }

    /// The room a channel of this prefix names.
    fn channel_room(&self, channel: &[u8]) -> Option<String> {
        let tag = channel
            .strip_prefix(self.config.prefix.as_bytes())?
            .strip_prefix(b":{")?
            .strip_suffix(b"}:r")?;
        room_from_tag(std::str::from_utf8(tag).ok()?)
    }

    /// The command that publishes to a room's channel: sharded on a
    /// cluster, so that a message goes only to its shard's nodes.
    fn publish_command(&self) -> &'static str {
        match self.client {
            Client::Single(_) => "PUBLISH",
            Client::Cluster(_) => "SPUBLISH",
        }
    }

    /// The keys' time to live: never below the window's age.
    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.config.key_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(self.max_age_ms())
            .max(1)
    }

    /// EVALSHA of one of the room scripts (room.lua's `room_of`): the
    /// room's meta and log keys, then those of `more` kinds, then the
    /// room's channel and settings; the caller adds the script's own
    /// arguments.
    fn room_script(&self, script: &Script, room: &str, more: &[char]) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(script.get_hash())
            .arg(2 + more.len())
            .arg(self.meta_key(room))
            .arg(self.log_key(room));
        for kind in more {
            cmd.arg(self.room_key(room, *kind));
        }
        cmd.arg(self.channel(room))
            .arg(self.publish_command())
            .arg(self.config.window.max_messages)
            .arg(self.max_age_ms())
            .arg(self.ttl_ms());
        cmd
    }

    /// presence.lua's `op` for a room (see its header for the arguments).
    fn presence_cmd(
        &self,
        room: &str,
        op: &str,
        member: &str,
        conn: u64,
        state: &[u8],
    ) -> redis::Cmd {
        let presence = &self.config.presence;
        let mut cmd = self.room_script(&self.presence_script, room, &['p', 'n']);
        cmd.arg(op)
            .arg(&self.node)
            .arg(millis(presence.lease))
            .arg(millis(presence.linger))
            .arg(presence.max_members)
            .arg(member)
            .arg(conn)
            .arg(state);
        cmd
    }

    /// Runs a presence operation on the live connection; a reply lost with
    /// the connection drops it, as a publish's does.
    async fn presence(&self, cmd: redis::Cmd) -> Result<Value, BackendError> {
        let Live {
            generation,
            mut conn,
        } = self.connection()?;
        let mut result = cmd.query_async::<Value>(&mut conn).await;
        if let Err(error) = &result
            && error.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
        {
            // A Redis that lost its script cache since the connection was
            // made (a restart behind a proxy, a promoted replica).
            if let Err(error) = self
                .presence_script
                .prepare_invoke()
                .load_async(&mut conn)
                .await
            {
                self.lose_on(generation, &error);
                return Err(failure(&error));
            }
            result = cmd.query_async::<Value>(&mut conn).await;
        }
        result.map_err(|error| {
            self.lose_on(generation, &error);
            failure(&error)
        })
    }

    /// Renews this node's lease in the rooms where it holds members and
    /// sweeps the rooms with presence it is subscribed to: one script per
    /// room, in one pipeline.
    async fn presence_tick(&self) {
        let rooms: Vec<(Arc<str>, bool)> = {
            let held = lock(&self.held);
            let swept = lock(&self.swept);
            held.iter()
                .filter(|(_, members)| !members.is_empty())
                .map(|(room, _)| (room.clone(), true))
                .chain(
                    swept
                        .iter()
                        .filter(|room| held.get(*room).is_none_or(HashMap::is_empty))
                        .map(|room| (room.clone(), false)),
                )
                .collect()
        };
        if rooms.is_empty() {
            return;
        }
        let Ok(Live {
            generation,
            mut conn,
        }) = self.connection()
        else {
            return;
        };
        let commands = rooms
            .iter()
            .map(|(room, holds)| {
                let holds = if *holds { "1" } else { "0" };
                (room.clone(), self.presence_cmd(room, "tick", holds, 0, b""))
            })
            .collect();
        for (_, result) in run_batch(&conn, commands).await {
            match result {
                Ok(replies) => {
                    for error in replies.into_iter().filter_map(Result::err) {
                        if error.kind()
                            == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
                        {
                            // Loaded for the next round.
                            let _ = self
                                .presence_script
                                .prepare_invoke()
                                .load_async(&mut conn)
                                .await;
                            break;
                        }
                        tracing::warn!(%error, "redis backend: a presence sweep failed");
                    }
                }
                Err(error) => {
                    self.lose_on(generation, &error);
                    tracing::warn!(%error, "redis backend: presence leases not renewed");
                }
            }
        }
    }

    fn max_age_ms(&self) -> u64 {
        self.config.window.max_age.map_or(0, |age| {
            u64::try_from(age.as_millis()).unwrap_or(u64::MAX).max(1)
        })
    }

    fn connection(&self) -> Result<Live, BackendError> {
        lock(&self.conn).clone().ok_or_else(|| self.unavailable())
    }

    /// Drops connection `generation` if it is still the live one: from now
    /// on publishes, subscriptions and history reads are refused at once,
    /// and the supervisor makes a new connection.
    fn lose(&self, generation: u64, error: String) {
        {
            let mut conn = lock(&self.conn);
            if conn
                .as_ref()
                .is_none_or(|live| live.generation != generation)
            {
                return;
            }
            *conn = None;
        }
        tracing::warn!(url = %self.config.url, %error, "redis backend lost its connection; reconnecting");
        self.state.send_replace(BackendState::Reconnecting {
            since: Instant::now(),
            error,
            attempts: 0,
        });
        self.lost.notify_one();
    }

    /// [`Core::lose`] when `error` says the connection (not the request) is
    /// at fault: it broke, or did not answer in time.
    fn lose_on(&self, generation: u64, error: &RedisError) {
        if connection_failed(error) {
            self.lose(generation, error.to_string());
        }
    }

    fn unavailable(&self) -> BackendError {
        match &*self.state.borrow() {
            BackendState::Reconnecting { since, error, .. } => BackendError::Unavailable {
                since: *since,
                error: error.clone(),
            },
            BackendState::Closed => BackendError::Closed,
            BackendState::Connected => BackendError::Unavailable {
                since: Instant::now(),
                error: "the connection is being replaced".to_owned(),
            },
        }
    }

    fn subscriber(&self) -> Option<Arc<dyn Subscriber>> {
        self.subscriber
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(Weak::upgrade)
    }

    /// The room's position and, unless `after` is `Nothing`, what follows it.
    async fn history(
        &self,
        conn: &mut Conn,
        room: &Arc<str>,
        after: After,
    ) -> Result<(Position, History), RedisError> {
        let (from, delivered) = match after {
            After::Nothing => (None, false),
            After::Claimed(position) => (Some(position), false),
            After::Delivered(position) => (Some(position), true),
        };
        let reply: Vec<Value> = self
            .history_script
            .key(self.meta_key(room))
            .key(self.log_key(room))
            .arg(from.map_or(-1, |after| i64::try_from(after.seq).unwrap_or(i64::MAX)))
            .arg(from.map_or(0, |after| after.epoch))
            .arg(self.max_age_ms())
            .arg(u8::from(delivered))
            .invoke_async(conn)
            .await?;
        let after = from.unwrap_or(Position::START);
        let mut reply = reply.into_iter();
        let epoch = match reply.next() {
            Some(Value::BulkString(word)) if word.as_slice() == b"rollback" => {
                let seq = number(&reply.next().unwrap_or(Value::Nil))?;
                tracing::warn!(%room, delivered = %after, now = seq, "redis backend: the room went back in time (Redis restored from an older snapshot, or a replica that missed writes); its state was dropped so that the next publish starts a new epoch");
                None
            }
            other => other,
        };
        let Some(epoch) = epoch else {
            // No state: never published, expired, a Redis that lost it, or
            // dropped above.
            let history = if after.is_start() {
                History::Messages(Vec::new())
            } else {
                History::Gap(Gap {
                    room: room.clone(),
                    after,
                    current: Position::START,
                    kind: GapKind::Reset,
                })
            };
            return Ok((Position::START, history));
        };
        let current = Position {
            epoch: number(&epoch)?,
            seq: number(&reply.next().unwrap_or(Value::Nil))?,
        };
        let oldest = match reply.next() {
            Some(Value::Int(oldest)) if oldest >= 0 => u64::try_from(oldest).ok(),
            _ => None,
        };
        let payloads: Vec<Value> = reply.collect();
        let history = match reaches_back(after, current, oldest) {
            Ok(()) if payloads.len() as u64 == current.seq - after.seq => History::Messages(
                payloads
                    .into_iter()
                    .zip(after.seq + 1..)
                    .map(|(payload, seq)| {
                        Ok(RoomMessage {
                            room: room.clone(),
                            position: Position {
                                epoch: current.epoch,
                                seq,
                            },
                            payload: bytes(payload)?,
                        })
                    })
                    .collect::<Result<_, RedisError>>()?,
            ),
            // The script gives every message from after+1 when it gives any.
            Ok(()) => History::Gap(Gap {
                room: room.clone(),
                after,
                current,
                kind: GapKind::Trimmed { oldest },
            }),
            Err(kind) => History::Gap(Gap {
                room: room.clone(),
                after,
                current,
                kind,
            }),
        };
        Ok((current, history))
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Renews the node's leases and sweeps its rooms every `renew_every`, until
/// the backend is dropped (its last handle and tasks gone).
async fn presence_ticks(core: Weak<Core>) {
    let Some(every) = core.upgrade().map(|core| {
        core.config
            .presence
            .renew_every()
            .max(Duration::from_millis(1))
    }) else {
        return;
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(core) = core.upgrade() else {
            return;
        };
        if matches!(*core.state.borrow(), BackendState::Closed) {
            return;
        }
        core.presence_tick().await;
    }
}

/// A cluster client with the backend's timeouts, RESP3, and no retries of
/// its own: a script whose reply was lost (its node died mid-flight) would
/// run twice if retried, publishing one message at two positions; the
/// backend reports it `Uncertain` instead. A MOVED reply still makes
/// redis-rs refresh its slot map, so the next command goes to the new
/// primary.
fn cluster_builder(
    config: &RedisConfig,
    nodes: Vec<redis::ConnectionInfo>,
) -> ClusterClientBuilder {
    ClusterClient::builder(nodes)
        .use_protocol(ProtocolVersion::RESP3)
        .connection_timeout(config.connect_timeout)
        .response_timeout(config.response_timeout)
        .retries(0)
}

/// The room as its keys' hash tag: the room itself, with `%` written `%25`
/// and `}` written `%7D` (a `}` would end the tag early), and the empty room
/// as `%` (an empty tag would hash each key whole, putting them in different
/// slots). Distinct rooms get distinct tags.
fn room_tag(room: &str) -> std::borrow::Cow<'_, str> {
    if room.is_empty() {
        return "%".into();
    }
    if !room.contains(['%', '}']) {
        return room.into();
    }
    let mut tag = String::with_capacity(room.len() + 8);
    for c in room.chars() {
        match c {
            '%' => tag.push_str("%25"),
            '}' => tag.push_str("%7D"),
            c => tag.push(c),
        }
    }
    tag.into()
}

/// The room a tag stands for ([`room_tag`] undone); `None` for a tag it
/// does not give.
fn room_from_tag(tag: &str) -> Option<String> {
    if tag == "%" {
        return Some(String::new());
    }
    let mut room = String::with_capacity(tag.len());
    let mut rest = tag;
    while let Some(at) = rest.find('%') {
        room.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3)?;
        room.push(match escape {
            "%25" => '%',
            "%7D" => '}',
            _ => return None,
        });
        rest = &rest[at + 3..];
    }
    room.push_str(rest);
    Some(room)
}

fn malformed(what: &str) -> RedisError {
    RedisError::from((
        redis::ErrorKind::Parse,
        "unexpected reply from a Tagwire script",
        what.to_owned(),
    ))
}

fn number(value: &Value) -> Result<u64, RedisError> {
    match value {
        Value::Int(n) => u64::try_from(*n).map_err(|_| malformed("a negative number")),
        Value::BulkString(text) => std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| malformed("not a number")),
        Value::SimpleString(text) => text.parse().map_err(|_| malformed("not a number")),
        _ => Err(malformed("not a number")),
    }
}

fn bytes(value: Value) -> Result<Bytes, RedisError> {
    match value {
        Value::BulkString(data) => Ok(Bytes::from(data)),
        _ => Err(malformed("not a payload")),
    }
}

/// Whether a command failed because of its connection: its reply may have
/// been lost, and the connection is no longer to be trusted.
fn connection_failed(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
}

/// What a failed command means for the caller.
fn failure(error: &RedisError) -> BackendError {
    use redis::ServerErrorKind as Server;
    if let redis::ErrorKind::Server(
        Server::Moved
        | Server::Ask
        | Server::TryAgain
        | Server::ClusterDown
        | Server::MasterDown
        | Server::BusyLoading,
    ) = error.kind()
    {
        // The command did not run: its slot moved (a failover, a
        // resharding) or the shard has no primary yet. redis-rs refreshes
        // its slot map; a later attempt goes to the new primary.
        return BackendError::Unavailable {
            since: Instant::now(),
            error: error.to_string(),
        };
    }
    if connection_failed(error) {
        BackendError::Uncertain {
            error: error.to_string(),
        }
    } else {
        BackendError::Refused {
            error: error.to_string(),
        }
    }
}

/// Parses a channel message: `{epoch}:{seq}:{payload}`.
fn parse_message(data: Vec<u8>) -> Option<(Position, Bytes)> {
    let data = Bytes::from(data);
    let first = data.iter().position(|&b| b == b':')?;
    let second = first + 1 + data[first + 1..].iter().position(|&b| b == b':')?;
    let epoch = std::str::from_utf8(&data[..first]).ok()?.parse().ok()?;
    let seq = std::str::from_utf8(&data[first + 1..second])
        .ok()?
        .parse()
        .ok()?;
    Some((Position { epoch, seq }, data.slice(second + 1..)))
}

/// How a channel message relates to the last position delivered for its room.
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Deliver,
    Duplicate,
    CatchUp,
}

fn next(last: Position, message: Position) -> Next {
    if last.is_start() || last.epoch != message.epoch {
        // A first message, or another epoch.
        if (last.is_start() || last.seq == 0) && message.seq == 1 {
            return Next::Deliver;
        }
        return Next::CatchUp;
    }
    match message.seq {
        seq if seq <= last.seq => Next::Duplicate,
        seq if seq == last.seq + 1 => Next::Deliver,
        _ => Next::CatchUp,
    }
}

/// Why the connected loop ended.
enum End {
    /// The connection is gone or unusable.
    Lost(String),
    /// Every handle was dropped.
    Closed,
}

/// The supervisor: connects, resubscribes and catches up, delivers channel
/// messages, serves subscriptions, checks the connection, reconnects.
async fn supervise(core: Arc<Core>, mut commands: mpsc::UnboundedReceiver<Command>) {
    // Subscribed rooms and the last position delivered in each.
    let mut rooms: HashMap<Arc<str>, Position> = HashMap::new();
    let mut since = Instant::now();
    let mut attempts = 0u32;
    let mut delay = core.config.reconnect_min;
    let mut generation = 0u64;
    loop {
        let error = match connecting(&core, &mut rooms, &mut commands).await {
            Attempt::Closed => break,
            Attempt::Failed(error) => error,
            Attempt::Made(mut conn, mut pushes) => {
                generation += 1;
                *lock(&core.conn) = Some(Live {
                    generation,
                    conn: conn.clone(),
                });
                core.state.send_replace(BackendState::Connected);
                tracing::info!(url = %core.config.url, rooms = rooms.len(), "redis backend connected");
                attempts = 0;
                delay = core.config.reconnect_min;
                let end = connected(
                    &core,
                    generation,
                    &mut conn,
                    &mut pushes,
                    &mut commands,
                    &mut rooms,
                )
                .await;
                match end {
                    End::Closed => break,
                    End::Lost(error) => {
                        // A publish or a history read may have dropped it
                        // first: then its error and time stand.
                        core.lose(generation, error);
                        since = match &*core.state.borrow() {
                            BackendState::Reconnecting { since, .. } => *since,
                            _ => Instant::now(),
                        };
                        // Try again at once: a connection that broke is
                        // often made again on the first try.
                        continue;
                    }
                }
            }
        };
        attempts += 1;
        tracing::warn!(url = %core.config.url, %error, attempts, retry_in = ?delay, "redis backend could not connect");
        core.state.send_replace(BackendState::Reconnecting {
            since,
            error,
            attempts,
        });
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => break,
                command = commands.recv() => match command {
                    None => {
                        core.state.send_replace(BackendState::Closed);
                        return;
                    }
                    Some(Command::Subscribe { reply, .. }) => {
                        let _ = reply.send(Err(core.unavailable()));
                    }
                    Some(Command::Unsubscribe { room }) => {
                        rooms.remove(&room);
                    }
                },
            }
        }
        delay = (delay * 2).min(core.config.reconnect_max);
    }
    *lock(&core.conn) = None;
    core.state.send_replace(BackendState::Closed);
}

/// How a connection attempt ended.
enum Attempt {
    Made(Conn, Pushes),
    Failed(String),
    /// Every handle was dropped meanwhile.
    Closed,
}

/// [`connect`], answering commands meanwhile: an attempt can last
/// `connect_timeout` and more (a stopped Redis accepts the TCP connection
/// and never answers), and a room's subscription must not wait for it, nor
/// the publishes its node holds until that subscription answers. So
/// subscriptions are refused at once, as during the backoff (the rooms
/// layer subscribes again when the state changes), and rooms left
/// meanwhile are unsubscribed once the attempt is over.
async fn connecting(
    core: &Core,
    rooms: &mut HashMap<Arc<str>, Position>,
    commands: &mut mpsc::UnboundedReceiver<Command>,
) -> Attempt {
    let mut left: Vec<Arc<str>> = Vec::new();
    let result = {
        let attempt = connect(core, rooms);
        tokio::pin!(attempt);
        loop {
            tokio::select! {
                result = &mut attempt => break result,
                command = commands.recv() => match command {
                    None => return Attempt::Closed,
                    Some(Command::Subscribe { reply, .. }) => {
                        let _ = reply.send(Err(core.unavailable()));
                    }
                    Some(Command::Unsubscribe { room }) => left.push(room),
                },
            }
        }
    };
    let channels: Vec<String> = left
        .iter()
        .filter(|room| rooms.remove(*room).is_some())
        .map(|room| core.channel(room))
        .collect();
    match result {
        Err(error) => Attempt::Failed(error),
        Ok((mut conn, pushes)) => {
            if !channels.is_empty()
                && let Err(error) = conn.unlisten(&channels).await
            {
                return Attempt::Failed(format!("unsubscribing: {error}"));
            }
            Attempt::Made(conn, pushes)
        }
    }
}

type Pushes = mpsc::UnboundedReceiver<PushInfo>;

/// Opens a connection, loads the scripts, resubscribes every room and
/// delivers what each missed.
async fn connect(
    core: &Core,
    rooms: &mut HashMap<Arc<str>, Position>,
) -> Result<(Conn, Pushes), String> {
    let (push_tx, pushes) = mpsc::unbounded_channel();
    let mut conn = match &core.client {
        Client::Single(client) => {
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(core.config.connect_timeout))
                .set_response_timeout(Some(core.config.response_timeout))
                .set_push_sender(push_tx);
            Conn::Single(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(|error| error.to_string())?,
            )
        }
        Client::Cluster(nodes) => {
            let client = cluster_builder(&core.config, nodes.clone())
                .push_sender(push_tx)
                .build()
                .map_err(|error| error.to_string())?;
            let connecting = client.get_async_connection();
            Conn::Cluster(
                tokio::time::timeout(core.config.connect_timeout, connecting)
                    .await
                    .map_err(|_| "connecting to the cluster timed out".to_owned())?
                    .map_err(|error| error.to_string())?,
            )
        }
    };
    // Loaded once per connection (a restarted Redis has none), so that
    // publishes are EVALSHA and never meet NOSCRIPT.
    for script in [
        &core.publish_script,
        &core.history_script,
        &core.presence_script,
    ] {
        script
            .prepare_invoke()
            .load_async(&mut conn)
            .await
            .map_err(|error| format!("loading a script: {error}"))?;
    }
    if !rooms.is_empty() {
        let channels: Vec<String> = rooms.keys().map(|room| core.channel(room)).collect();
        conn.listen(&channels)
            .await
            .map_err(|error| format!("resubscribing: {error}"))?;
        let names: Vec<Arc<str>> = rooms.keys().cloned().collect();
        for room in names {
            let last = rooms.get(&room).copied().unwrap_or_default();
            let (_, history) = core
                .history(&mut conn, &room, After::Delivered(last))
                .await
                .map_err(|error| format!("catching up {room:?}: {error}"))?;
            let delivered = deliver(core, history, last);
            rooms.insert(room, delivered);
        }
    }
    Ok((conn, pushes))
}

/// Hands a history to the subscriber; returns the last position delivered.
fn deliver(core: &Core, history: History, last: Position) -> Position {
    let subscriber = core.subscriber();
    match history {
        History::Messages(messages) => {
            let mut last = last;
            for message in messages {
                if message.payload.first() == Some(&PRESENCE_MARK) {
                    lock(&core.swept).insert(message.room.clone());
                }
                if let Some(subscriber) = &subscriber {
                    subscriber.message(&message);
                }
                last = message.position;
            }
            last
        }
        History::Gap(gap) => {
            tracing::warn!(room = %gap.room, after = %gap.after, current = %gap.current, kind = ?gap.kind, "redis backend: messages lost for this node");
            if let Some(subscriber) = &subscriber {
                subscriber.gap(&gap);
            }
            gap.current
        }
    }
}

/// Runs while the connection lives.
async fn connected(
    core: &Core,
    generation: u64,
    conn: &mut Conn,
    pushes: &mut Pushes,
    commands: &mut mpsc::UnboundedReceiver<Command>,
    rooms: &mut HashMap<Arc<str>, Position>,
) -> End {
    let mut health = tokio::time::interval(core.config.health_interval);
    health.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    health.tick().await;
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let Some(push) = push else {
                    return End::Lost("the connection's push channel closed".to_owned());
                };
                match push.kind {
                    PushKind::Disconnection => return End::Lost("connection closed".to_owned()),
                    PushKind::Message | PushKind::SMessage => {
                        if let Err(error) = on_message(core, conn, rooms, push).await {
                            return End::Lost(format!("catching up: {error}"));
                        }
                    }
                    PushKind::SUnsubscribe => {
                        // Redis drops a sharded subscription whose slot moved
                        // to another shard (a resharding); this node's own
                        // unsubscriptions are of rooms it already forgot. A
                        // room still subscribed must be subscribed again where
                        // its slot is now, and caught up: reconnecting does both.
                        if let Some(Value::BulkString(channel)) = push.data.first()
                            && let Some(room) = core.channel_room(channel)
                            && rooms.contains_key(room.as_str())
                        {
                            return End::Lost(format!("the cluster moved room {room:?} to another shard"));
                        }
                    }
                    _ => {}
                }
            }
            command = commands.recv() => match command {
                None => return End::Closed,
                Some(Command::Subscribe { room, reply }) => {
                    let result = subscribe(core, conn, rooms, room).await;
                    let lost = match &result {
                        Err(BackendError::Uncertain { error }) => Some(error.clone()),
                        _ => None,
                    };
                    let _ = reply.send(result);
                    if let Some(error) = lost {
                        return End::Lost(error);
                    }
                }
                Some(Command::Unsubscribe { room }) => {
                    if rooms.remove(&room).is_some()
                        && let Err(error) = conn.unlisten(&[core.channel(&room)]).await
                    {
                        return End::Lost(format!("unsubscribing: {error}"));
                    }
                }
            },
            _ = health.tick() => {
                if let Err(error) = redis::cmd("PING").query_async::<()>(conn).await {
                    return End::Lost(format!("health check: {error}"));
                }
            }
            () = core.lost.notified() => {
                // A wake-up left from an older connection changes nothing.
                if lock(&core.conn).as_ref().is_none_or(|live| live.generation != generation) {
                    return End::Lost("a command failed on the connection".to_owned());
                }
            }
        }
    }
}

async fn subscribe(
    core: &Core,
    conn: &mut Conn,
    rooms: &mut HashMap<Arc<str>, Position>,
    room: Arc<str>,
) -> Result<Position, BackendError> {
    if let Some(last) = rooms.get(&room) {
        return Ok(*last);
    }
    conn.listen(&[core.channel(&room)])
        .await
        .map_err(|error| failure(&error))?;
    // Read after the subscription is active: every later message arrives on
    // the channel; earlier ones still queued there are at or below this.
    match core.history(conn, &room, After::Nothing).await {
        Ok((position, _)) => {
            rooms.insert(room, position);
            Ok(position)
        }
        Err(error) => {
            let _ = conn.unlisten(&[core.channel(&room)]).await;
            Err(failure(&error))
        }
    }
}

async fn on_message(
    core: &Core,
    conn: &mut Conn,
    rooms: &mut HashMap<Arc<str>, Position>,
    push: PushInfo,
) -> Result<(), RedisError> {
    let mut data = push.data.into_iter();
    let (Some(Value::BulkString(channel)), Some(Value::BulkString(message))) =
        (data.next(), data.next())
    else {
        return Ok(());
    };
    let Some(room) = core.channel_room(&channel) else {
        return Ok(());
    };
    let Some((room, last)) = rooms
        .get_key_value(room.as_str())
        .map(|(room, last)| (room.clone(), *last))
    else {
        // Unsubscribed meanwhile.
        return Ok(());
    };
    let Some((position, payload)) = parse_message(message) else {
        tracing::error!(%room, "redis backend: a channel message not written by Tagwire's script; ignored");
        return Ok(());
    };
    let delivered = match next(last, position) {
        Next::Duplicate => return Ok(()),
        Next::Deliver => deliver(
            core,
            History::Messages(vec![RoomMessage {
                room: room.clone(),
                position,
                payload,
            }]),
            last,
        ),
        Next::CatchUp => {
            let (_, history) = core.history(conn, &room, After::Delivered(last)).await?;
            deliver(core, history, last)
        }
    };
    rooms.insert(room, delivered);
    Ok(())
}

/// The publisher: sends what is queued as one pipeline of scripts, in order.
async fn publish_batches(core: Arc<Core>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while jobs.recv_many(&mut batch, 256).await > 0 {
        let Live { generation, conn } = match core.connection() {
            Ok(live) => live,
            Err(error) => {
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(error.clone()));
                }
                continue;
            }
        };
        let commands: Vec<(Arc<str>, redis::Cmd)> = batch
            .iter()
            .map(|job| {
                let mut cmd = core.room_script(&core.publish_script, &job.room, &[]);
                cmd.arg(job.payload.as_ref());
                (job.room.clone(), cmd)
            })
            .collect();
        let mut jobs: Vec<Option<Job>> = batch.drain(..).map(Some).collect();
        for (indices, result) in run_batch(&conn, commands).await {
            let mut jobs = indices.into_iter().filter_map(|i| jobs[i].take());
            match result {
                Ok(replies) => {
                    let mut replies = replies.into_iter();
                    for job in jobs {
                        let result = match replies.next() {
                            Some(Ok(reply)) => event_position(reply)
                                .map_err(|error| failure(&error))
                                .and_then(|position| {
                                    position.ok_or_else(|| BackendError::Uncertain {
                                        error: "the publish script answered no position".to_owned(),
                                    })
                                }),
                            Some(Err(error)) => Err(failure(&error)),
                            None => Err(BackendError::Uncertain {
                                error: "fewer replies than publishes".to_owned(),
                            }),
                        };
                        let _ = job.reply.send(result);
                    }
                }
                Err(error) => {
                    // A stalled Redis: the publishes queued behind this batch
                    // are refused at once rather than each meeting the timeout.
                    core.lose_on(generation, &error);
                    let error = failure(&error);
                    for job in jobs.by_ref() {
                        let _ = job.reply.send(Err(error.clone()));
                    }
                }
            }
        }
    }
}

/// The replies of one pipeline, or its error, for the commands at these
/// indices.
type Batch = Vec<(
    Vec<usize>,
    Result<Vec<redis::RedisResult<Value>>, RedisError>,
)>;

/// Runs commands, each for a room, as pipelines: one on a single Redis; on
/// a cluster one per room, all at once (redis-rs sends a pipeline whole to
/// the node of its first key, and a room's keys are in one slot). A room's
/// commands keep their order.
async fn run_batch(conn: &Conn, commands: Vec<(Arc<str>, redis::Cmd)>) -> Batch {
    let groups: Vec<(Vec<usize>, Vec<redis::Cmd>)> = match conn {
        Conn::Single(_) => {
            let indices = (0..commands.len()).collect();
            vec![(indices, commands.into_iter().map(|(_, cmd)| cmd).collect())]
        }
        Conn::Cluster(_) => {
            let mut groups: Vec<(Vec<usize>, Vec<redis::Cmd>)> = Vec::new();
            let mut by_room: HashMap<Arc<str>, usize> = HashMap::new();
            for (i, (room, cmd)) in commands.into_iter().enumerate() {
                let group = *by_room.entry(room).or_insert_with(|| {
                    groups.push((Vec::new(), Vec::new()));
                    groups.len() - 1
                });
                groups[group].0.push(i);
                groups[group].1.push(cmd);
            }
            groups
        }
    };
    futures_util::future::join_all(groups.into_iter().map(|(indices, commands)| {
        let mut conn = conn.clone();
        async move {
            let mut pipe = redis::pipe();
            pipe.ignore_errors();
            for cmd in commands {
                pipe.add_command(cmd);
            }
            let result = pipe
                .query_async::<Vec<redis::RedisResult<Value>>>(&mut conn)
                .await;
            (indices, result)
        }
    }))
    .await
}

impl Backend for RedisBackend {
    fn attach(&self, subscriber: Weak<dyn Subscriber>) {
        *self
            .core
            .subscriber
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(subscriber);
    }

    fn publish(
        &self,
        room: &str,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<Position, BackendError>> {
        if lock(&self.core.conn).is_none() {
            return Box::pin(std::future::ready(Err(self.core.unavailable())));
        }
        let (reply, result) = oneshot::channel();
        let job = Job {
            room: Arc::from(room),
            payload,
            reply,
        };
        if let Err(error) = self.publishes.try_send(job) {
            let error = match error {
                mpsc::error::TrySendError::Full(_) => BackendError::Overloaded {
                    limit: self.core.config.publish_queue,
                },
                mpsc::error::TrySendError::Closed(_) => BackendError::Closed,
            };
            return Box::pin(std::future::ready(Err(error)));
        }
        Box::pin(async move { result.await.unwrap_or(Err(BackendError::Closed)) })
    }

    fn subscribe(&self, room: &str) -> BoxFuture<'static, Result<Position, BackendError>> {
        let (reply, result) = oneshot::channel();
        let command = Command::Subscribe {
            room: Arc::from(room),
            reply,
        };
        if self.commands.send(command).is_err() {
            return Box::pin(std::future::ready(Err(BackendError::Closed)));
        }
        Box::pin(async move { result.await.unwrap_or(Err(BackendError::Closed)) })
    }

    fn unsubscribe(&self, room: &str) {
        lock(&self.core.swept).remove(room);
        let _ = self.commands.send(Command::Unsubscribe {
            room: Arc::from(room),
        });
    }

    fn history(
        &self,
        room: &str,
        after: Position,
    ) -> BoxFuture<'static, Result<History, BackendError>> {
        let core = self.core.clone();
        let room: Arc<str> = Arc::from(room);
        Box::pin(async move {
            let Live {
                generation,
                mut conn,
            } = core.connection()?;
            core.history(&mut conn, &room, After::Claimed(after))
                .await
                .map(|(_, history)| history)
                .map_err(|error| {
                    core.lose_on(generation, &error);
                    failure(&error)
                })
        })
    }

    fn state(&self) -> watch::Receiver<BackendState> {
        self.core.state.subscribe()
    }

    fn window(&self) -> HistoryWindow {
        self.core.config.window
    }

    fn presence_config(&self) -> PresenceConfig {
        self.core.config.presence
    }

    fn presence_set(
        &self,
        room: &str,
        member: &str,
        conn: u64,
        state: Bytes,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        let core = self.core.clone();
        let room: Arc<str> = Arc::from(room);
        let member = member.to_owned();
        Box::pin(async move {
            check_member_key(&member).map_err(|error| BackendError::Refused {
                error: error.to_string(),
            })?;
            let limit = core.config.presence.max_state_bytes;
            if state.len() > limit {
                return Err(BackendError::Refused {
                    error: format!(
                        "a presence state of {} bytes is above the limit of {limit}",
                        state.len()
                    ),
                });
            }
            let reply = core
                .presence(core.presence_cmd(&room, "set", &member, conn, &state))
                .await?;
            let position = match reply {
                Value::Array(items) if items.len() == 1 => {
                    return Err(BackendError::Refused {
                        error: format!(
                            "room {room:?} already holds {} members",
                            core.config.presence.max_members
                        ),
                    });
                }
                reply => event_position(reply).map_err(|error| failure(&error))?,
            };
            lock(&core.held)
                .entry(room.clone())
                .or_default()
                .insert(member, conn);
            lock(&core.swept).insert(room);
            Ok(position)
        })
    }

    fn presence_linger(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let core = self.core.clone();
        let room: Arc<str> = Arc::from(room);
        let member = member.to_owned();
        Box::pin(async move {
            core.presence(core.presence_cmd(&room, "linger", &member, conn, b""))
                .await?;
            core.release(&room, &member, conn);
            Ok(())
        })
    }

    fn presence_leave(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        let core = self.core.clone();
        let room: Arc<str> = Arc::from(room);
        let member = member.to_owned();
        Box::pin(async move {
            let reply = core
                .presence(core.presence_cmd(&room, "leave", &member, conn, b""))
                .await?;
            core.release(&room, &member, conn);
            event_position(reply).map_err(|error| failure(&error))
        })
    }

    fn presence_snapshot(
        &self,
        room: &str,
    ) -> BoxFuture<'static, Result<PresenceSnapshot, BackendError>> {
        let core = self.core.clone();
        let room: Arc<str> = Arc::from(room);
        Box::pin(async move {
            let reply = core
                .presence(core.presence_cmd(&room, "snapshot", "", 0, b""))
                .await?;
            lock(&core.swept).insert(room);
            snapshot(reply).map_err(|error| failure(&error))
        })
    }
}

impl Core {
    /// Forgets that this node holds `member` through `conn`.
    fn release(&self, room: &Arc<str>, member: &str, conn: u64) {
        let mut held = lock(&self.held);
        if let Some(members) = held.get_mut(room) {
            if members.get(member) == Some(&conn) {
                members.remove(member);
            }
            if members.is_empty() {
                held.remove(room);
            }
        }
    }
}

/// A presence script's `{epoch, seq}` (an event was published) or `{}`.
fn event_position(reply: Value) -> Result<Option<Position>, RedisError> {
    match reply {
        Value::Array(items) if items.is_empty() => Ok(None),
        Value::Array(items) if items.len() == 2 => {
            let mut items = items.into_iter();
            let epoch = number(&items.next().unwrap_or(Value::Nil))?;
            let seq = number(&items.next().unwrap_or(Value::Nil))?;
            Ok(Some(Position { epoch, seq }))
        }
        _ => Err(malformed("not a position")),
    }
}

/// presence.lua's snapshot: `{epoch, seq, member, state, ...}`.
fn snapshot(reply: Value) -> Result<PresenceSnapshot, RedisError> {
    let Value::Array(items) = reply else {
        return Err(malformed("not a snapshot"));
    };
    let mut items = items.into_iter();
    let epoch = number(&items.next().unwrap_or(Value::Nil))?;
    let seq = number(&items.next().unwrap_or(Value::Nil))?;
    let mut members = Vec::with_capacity(items.len() / 2);
    while let (Some(member), Some(state)) = (items.next(), items.next()) {
        let member = bytes(member)?;
        let member = std::str::from_utf8(&member).map_err(|_| malformed("a member key"))?;
        members.push(PresenceEntry {
            member: Arc::from(member),
            state: bytes(state)?,
        });
    }
    members.sort_by(|a, b| a.member.cmp(&b.member));
    Ok(PresenceSnapshot {
        position: Position { epoch, seq },
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: u64, seq: u64) -> Position {
        Position { epoch, seq }
    }

    #[test]
    fn channel_messages_parse() {
        let (position, payload) =
            parse_message(b"1764460000123456:42:a:b\0c".to_vec()).expect("parses");
        assert_eq!(position, at(1_764_460_000_123_456, 42));
        assert_eq!(&payload[..], b"a:b\0c");
        assert_eq!(
            parse_message(b"1:2:".to_vec()).map(|(p, b)| (p, b.len())),
            Some((at(1, 2), 0))
        );
        for bad in [&b""[..], b"1:2", b"x:2:p", b"1:-2:p", b":2:p"] {
            assert_eq!(parse_message(bad.to_vec()), None, "{bad:?}");
        }
    }

    #[test]
    fn the_next_message_is_delivered_and_the_others_caught_up_or_dropped() {
        assert_eq!(next(Position::START, at(9, 1)), Next::Deliver);
        assert_eq!(next(Position::START, at(9, 2)), Next::CatchUp);
        assert_eq!(next(at(9, 0), at(9, 1)), Next::Deliver);
        assert_eq!(next(at(9, 4), at(9, 5)), Next::Deliver);
        assert_eq!(next(at(9, 4), at(9, 4)), Next::Duplicate);
        assert_eq!(next(at(9, 4), at(9, 2)), Next::Duplicate);
        assert_eq!(next(at(9, 4), at(9, 6)), Next::CatchUp);
        // Another epoch: the room started over, the history says how.
        assert_eq!(next(at(9, 4), at(10, 1)), Next::CatchUp);
        assert_eq!(next(at(9, 4), at(10, 5)), Next::CatchUp);
    }

    #[test]
    fn room_tags_keep_a_room_in_one_slot_and_rooms_apart() {
        let rooms = [
            "", "lobby", "a}b", "{x}", "%", "%7D", "%25", "}", "%%}}", "ü{}", "a%",
        ];
        let tags: Vec<String> = rooms.iter().map(|r| room_tag(r).into_owned()).collect();
        for (room, tag) in rooms.iter().zip(&tags) {
            assert!(!tag.is_empty() && !tag.contains('}'), "{room:?} -> {tag:?}");
            assert_eq!(room_from_tag(tag).as_deref(), Some(*room), "{tag:?}");
        }
        let distinct: std::collections::HashSet<&String> = tags.iter().collect();
        assert_eq!(distinct.len(), rooms.len(), "{tags:?}");
        assert_eq!(room_tag("lobby"), "lobby");
        assert_eq!(room_tag("a}b%"), "a%7Db%25");
        for bad in ["%7", "%41", "a%2", "%%"] {
            assert_eq!(room_from_tag(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn presence_replies_parse_and_odd_ones_are_errors_not_panics() {
        let text = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        assert_eq!(event_position(Value::Array(vec![])).ok(), Some(None));
        assert_eq!(
            event_position(Value::Array(vec![text("1764460000123456"), Value::Int(7)])).ok(),
            Some(Some(at(1_764_460_000_123_456, 7)))
        );
        for odd in [
            Value::Nil,
            Value::Int(3),
            Value::Array(vec![text("x"), Value::Int(1)]),
            Value::Array(vec![Value::Int(1), Value::Int(-1)]),
            Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
        ] {
            assert!(event_position(odd.clone()).is_err(), "{odd:?}");
        }
        let taken = snapshot(Value::Array(vec![
            text("9"),
            Value::Int(4),
            text("zed"),
            Value::BulkString(vec![0, 1, b':', 255]),
            text("ann"),
            text(""),
        ]))
        .expect("a snapshot");
        assert_eq!(taken.position, at(9, 4));
        let members: Vec<(&str, &[u8])> = taken
            .members
            .iter()
            .map(|e| (&*e.member, &e.state[..]))
            .collect();
        assert_eq!(
            members,
            vec![("ann", &b""[..]), ("zed", &[0, 1, b':', 255][..])]
        );
        for odd in [
            Value::Nil,
            Value::Array(vec![]),
            Value::Array(vec![
                text("9"),
                Value::Int(4),
                Value::BulkString(vec![0xff]),
                text("s"),
            ]),
            Value::Array(vec![text("9"), Value::Int(4), Value::Int(1), text("s")]),
        ] {
            assert!(snapshot(odd.clone()).is_err(), "{odd:?}");
        }
    }

    #[test]
    fn urls_that_do_not_parse_are_refused() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _guard = runtime.enter();
        let error = RedisBackend::new(RedisConfig::new("http://nope")).expect_err("refused");
        assert!(
            matches!(&error, BackendError::Refused { error } if error.contains("http://nope")),
            "{error}"
        );
        let error = RedisBackend::new(RedisConfig::cluster(["redis://127.0.0.1:7000", "nope://x"]))
            .expect_err("refused");
        assert!(
            matches!(&error, BackendError::Refused { error } if error.contains("nope://x")),
            "{error}"
        );
        let error = RedisBackend::new(RedisConfig::new("redis://127.0.0.1").with_prefix("a{b"))
            .expect_err("refused");
        assert!(
            matches!(&error, BackendError::Refused { error } if error.contains("a{b")),
            "{error}"
        );
    }
}
