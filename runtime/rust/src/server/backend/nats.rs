//! The NATS JetStream backend (feature `nats`): rooms across server nodes
//! on a nats-server with JetStream (2.9 or later).
//!
//! One stream per room, `{prefix}_{room token}`, capturing the subject
//! `{prefix}.r.{room token}`: the stream's sequence number IS the room's
//! sequence number (JetStream assigns it, one total order whichever node
//! published, consecutive from 1), and the room's epoch is the stream's
//! creation time in microseconds, so a stream that is gone and made again
//! (a nats-server with memory storage restarted, an operator who deleted
//! it) is a new epoch. The stream's own limits (`max_msgs`, `max_age`) are
//! the history window, so JetStream trims it and a replay beyond it is a
//! `Trimmed` gap.
//!
//! Room names are free text, and NATS forbids `.`, `*`, `>` and white space
//! in subject tokens and `/` in stream names (they are directories in file
//! storage). So a room is encoded as a token: `a`–`z`, `0`–`9` and `-` as
//! they are, every other byte as `_` and two lowercase hexadecimal digits
//! (upper case too, so two names never differ only by case on a
//! case-insensitive file system). A token longer than 160 characters is cut
//! to 140 and given `=` and the 64-bit FNV-1a hash of the room name, so a
//! stream name stays far below a file name's 255 bytes.
//!
//! Delivery to a node: a push consumer per subscribed room (no
//! acknowledgements, idle heartbeats), starting after the last position
//! delivered, so what it delivers is the catch-up and the live messages in
//! one. A sequence number that skips some (dropped by this client, or gone
//! from the stream), or a consumer gone silent, makes the node catch the
//! room up from the stream (the messages, or a gap) and follow it again.
//! After a reconnect every room is caught up before the state is
//! `Connected` again.
//!
//! Presence: two key-value buckets. `{prefix}_presence` holds one entry per
//! member, key `{room token}.{member token}`, value `node 0x1F conn 0x1F
//! flag 0x1F member 0x1F state` (flag `a` active, `l` lingering since the
//! entry's time); `{prefix}_leases` holds one entry per (room, node) that
//! owns members there, key `{room token}.{node}`, put every `renew_every`;
//! the bucket's `max_age` is the lease, so JetStream itself removes the
//! lease of a node that stopped renewing, by the server's clock. A linger
//! runs from the entry's time (the server's) and each node measures the
//! server's clock against its own every `renew_every`, so the nodes'
//! clocks do not matter. Events are
//! published into the room's stream like messages. Every write is a
//! compare-and-set on the entry's revision, so two nodes sweeping one room
//! at once remove a member (and publish its leave) once.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};
use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::AckPolicy;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::push;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv;
use async_nats::jetstream::stream::{self, DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use async_nats::{Client, ConnectOptions, Event};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::contract::{
    Backend, BackendError, BackendState, BoxFuture, Gap, GapKind, History, HistoryWindow,
    RoomMessage, Subscriber, reaches_back,
};
use super::presence::{
    PresenceConfig, PresenceEntry, PresenceEvent, PresenceKind, PresenceSnapshot, check_member_key,
};
use crate::control::RoomPosition as Position;

/// Where the room streams and presence buckets keep their data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatsStorage {
    /// In the server's memory (the default): a restarted nats-server comes
    /// back without them, and every room starts a new epoch (a `Reset` gap),
    /// as a Redis without persistence does. Replay needs no more.
    Memory,
    /// On the server's disk: a restarted nats-server comes back with every
    /// room, in the same epoch, and nodes catch up without a gap.
    File,
}

/// How a [`NatsBackend`] connects and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NatsConfig {
    /// `nats://host:port` (several, comma-separated, for a cluster).
    pub url: String,
    /// Prefix of every stream, subject and bucket (`tagwire`): ASCII letters,
    /// digits, `-` and `_`.
    pub prefix: String,
    /// How much history each room's stream keeps.
    pub window: HistoryWindow,
    /// How presence is kept (the lease is the lease bucket's `max_age`, set
    /// when the bucket is made: every node of a deployment must agree).
    pub presence: PresenceConfig,
    /// Memory or file storage for the streams and buckets.
    pub storage: NatsStorage,
    /// Replicas of each stream in a JetStream cluster (1).
    pub replicas: usize,
    /// How long a JetStream request (a publish's acknowledgement, a stream
    /// lookup, a key-value write) may wait for its answer (2 s); a publish
    /// that meets it is [`BackendError::Uncertain`].
    pub response_timeout: Duration,
    /// How long a connection attempt may take (2 s).
    pub connect_timeout: Duration,
    /// How often the client pings the server (1 s): a server that stops
    /// answering without closing its socket is noticed when a third ping
    /// goes out with two unanswered, about three intervals.
    pub ping_interval: Duration,
    /// How often JetStream tells a node following a quiet room that the
    /// room's consumer lives (5 s). A consumer silent for two of these and
    /// the response timeout (its stream deleted, the consumer lost) is made
    /// again after the room is caught up from its stream (a `Reset` gap
    /// when the stream is gone).
    pub idle_heartbeat: Duration,
    /// The first delay between reconnection attempts (100 ms), doubled up to
    /// `reconnect_max` (2 s).
    pub reconnect_min: Duration,
    /// The longest delay between reconnection attempts.
    pub reconnect_max: Duration,
    /// How many publishes may wait for JetStream before `publish` fails with
    /// [`BackendError::Overloaded`] (4,096).
    pub publish_queue: usize,
}

impl NatsConfig {
    /// The defaults, for the nats-server at `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "tagwire".to_owned(),
            window: HistoryWindow::default(),
            presence: PresenceConfig::default(),
            storage: NatsStorage::Memory,
            replicas: 1,
            response_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(2),
            ping_interval: Duration::from_secs(1),
            idle_heartbeat: Duration::from_secs(5),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(2),
            publish_queue: 4096,
        }
    }

    /// With another history window.
    pub fn with_window(mut self, window: HistoryWindow) -> Self {
        self.window = window;
        self
    }

    /// With another prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// With another presence configuration.
    pub fn with_presence(mut self, presence: PresenceConfig) -> Self {
        self.presence = presence;
        self
    }

    /// With another storage.
    pub fn with_storage(mut self, storage: NatsStorage) -> Self {
        self.storage = storage;
        self
    }
}

/// The NATS JetStream broadcast backend. Cloning shares it; when the last
/// clone is dropped its tasks end and its connection closes.
#[derive(Clone)]
pub struct NatsBackend {
    core: Arc<Core>,
    publishes: mpsc::Sender<Job>,
    _guard: Arc<Guard>,
}

/// Ends the backend's tasks when the last handle goes.
struct Guard {
    core: Arc<Core>,
    tasks: Vec<AbortHandle>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        for room in lock(&self.core.rooms).drain() {
            room.1.stop();
        }
        self.core.state.send_replace(BackendState::Closed);
    }
}

struct Core {
    config: NatsConfig,
    /// This node's name in leases and member entries.
    node: String,
    client: Client,
    js: Context,
    state: watch::Sender<BackendState>,
    subscriber: RwLock<Option<Weak<dyn Subscriber>>>,
    /// Subscribed rooms.
    rooms: Mutex<HashMap<Arc<str>, Arc<Room>>>,
    /// Streams known to exist on this connection, with their epoch.
    epochs: Mutex<HashMap<Arc<str>, u64>>,
    /// Rooms where this node owns members: it renews its lease there. The
    /// number counts presence sets, so that a sweep that began before a
    /// set (and found none of this node's members) does not stop the
    /// renewals the set needs.
    owned: Mutex<HashMap<Arc<str>, u64>>,
    /// Bumped on every disconnection: a room follower of an older
    /// connection delivers nothing more.
    connection: AtomicU64,
    /// The server's clock minus this node's, in ms, as last measured: a
    /// linger runs out by the server's time, whatever the nodes' clocks.
    clock_offset: AtomicI64,
}

/// A subscribed room: the last position delivered, and the task that
/// follows its stream.
struct Room {
    name: Arc<str>,
    /// The last position delivered, and the generation of the follower
    /// allowed to deliver.
    last: Mutex<(Position, u64)>,
    follower: Mutex<Option<AbortHandle>>,
}

impl Room {
    fn stop(&self) {
        if let Some(task) = lock(&self.follower).take() {
            task.abort();
        }
    }
}

struct Job {
    room: Arc<str>,
    payload: Bytes,
    reply: oneshot::Sender<Result<Position, BackendError>>,
}

impl fmt::Debug for NatsBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsBackend")
            .field("url", &self.core.config.url)
            .field("prefix", &self.core.config.prefix)
            .field("node", &self.core.node)
            .field("state", &*self.core.state.borrow())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A name as a NATS token (see the module documentation).
pub(crate) fn token(name: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        match byte {
            b'a'..=b'z' | b'0'..=b'9' | b'-' => out.push(char::from(byte)),
            _ => {
                out.push('_');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 15)]));
            }
        }
    }
    if out.is_empty() {
        // The empty room still needs a token; `_` alone is no escape.
        out.push('_');
    }
    if out.len() > 160 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for &byte in name.as_bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // Cut on a character boundary: the token is ASCII.
        out.truncate(140);
        out.push_str(&format!("={hash:016x}"));
    }
    out
}

fn epoch_of(created: time::OffsetDateTime) -> u64 {
    u64::try_from(created.unix_timestamp_nanos() / 1000).unwrap_or(0)
}

fn unix_ms(time: time::OffsetDateTime) -> i128 {
    time.unix_timestamp_nanos() / 1_000_000
}

fn now_ms() -> i128 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i128::try_from(d.as_millis()).unwrap_or(i128::MAX))
}

fn uncertain(error: impl fmt::Display) -> BackendError {
    BackendError::Uncertain {
        error: error.to_string(),
    }
}

fn refused(error: impl fmt::Display) -> BackendError {
    BackendError::Refused {
        error: error.to_string(),
    }
}

/// A member's entry in the presence bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MemberEntry {
    node: String,
    conn: u64,
    lingering: bool,
    member: String,
    state: Bytes,
}

const SEP: u8 = 0x1f;

impl MemberEntry {
    fn encode(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(40 + self.member.len() + self.state.len());
        out.put_slice(self.node.as_bytes());
        out.put_u8(SEP);
        out.put_slice(self.conn.to_string().as_bytes());
        out.put_u8(SEP);
        out.put_u8(if self.lingering { b'l' } else { b'a' });
        out.put_u8(SEP);
        out.put_slice(self.member.as_bytes());
        out.put_u8(SEP);
        out.put_slice(&self.state);
        out.freeze()
    }

    fn decode(value: &Bytes) -> Option<Self> {
        let mut parts = value.splitn(5, |&b| b == SEP);
        let node = std::str::from_utf8(parts.next()?).ok()?.to_owned();
        let conn = std::str::from_utf8(parts.next()?).ok()?.parse().ok()?;
        let lingering = match parts.next()? {
            b"l" => true,
            b"a" => false,
            _ => return None,
        };
        let member = std::str::from_utf8(parts.next()?).ok()?.to_owned();
        let state = parts.next()?;
        let offset = value.len() - state.len();
        Some(Self {
            node,
            conn,
            lingering,
            member,
            state: value.slice(offset..),
        })
    }
}

/// One key's last entry, as a listing of a bucket reads it.
struct Listed {
    key: String,
    value: Bytes,
    revision: u64,
    created: time::OffsetDateTime,
}

/// An ephemeral push consumer without acknowledgements, read from a
/// subscription made before the consumer, so that nothing it pushes at once
/// is missed. Deleted when dropped.
struct Reader {
    subscription: async_nats::Subscriber,
    js: Context,
    stream: stream::Stream,
    consumer: String,
    /// How many messages the consumer had to deliver when it was made.
    pending: u64,
}

impl Reader {
    async fn open(
        core: &Core,
        stream: &stream::Stream,
        filter_subject: String,
        deliver_policy: DeliverPolicy,
        idle_heartbeat: Duration,
    ) -> Result<Self, BackendError> {
        let inbox = core.client.new_inbox();
        let subscription = core
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|error| uncertain(format!("subscribing: {error}")))?;
        let consumer = stream
            .create_consumer(push::Config {
                deliver_subject: inbox,
                deliver_policy,
                filter_subject,
                ack_policy: AckPolicy::None,
                memory_storage: true,
                idle_heartbeat,
                // Left behind by a node that vanished: gone after this.
                inactive_threshold: Duration::from_secs(30),
                ..Default::default()
            })
            .await
            .map_err(|error| uncertain(format!("making a consumer: {error}")))?;
        let info = consumer.cached_info();
        Ok(Self {
            subscription,
            js: core.js.clone(),
            stream: stream.clone(),
            consumer: info.name.clone(),
            pending: info.num_pending,
        })
    }

    /// The next message, within `timeout` if one is given.
    async fn next(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<jetstream::Message, BackendError> {
        loop {
            let next = match timeout {
                Some(timeout) => tokio::time::timeout(timeout, self.subscription.next()).await,
                None => Ok(self.subscription.next().await),
            };
            let message = match next {
                Ok(Some(message)) => message,
                Ok(None) => return Err(uncertain("the consumer's subscription ended")),
                Err(_) => return Err(uncertain("no message from the consumer in time")),
            };
            // Heartbeats and flow control are not asked for; skip any
            // status message all the same.
            if message.status.is_some() {
                continue;
            }
            return Ok(jetstream::Message {
                message,
                context: self.js.clone(),
            });
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let stream = self.stream.clone();
        let consumer = std::mem::take(&mut self.consumer);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = stream.delete_consumer(&consumer).await;
            });
        }
    }
}

impl NatsBackend {
    /// Connects to the nats-server, makes the presence buckets and starts the
    /// backend's tasks. Fails with [`BackendError::Unavailable`] when the
    /// first connection attempt fails (a node should not start without its
    /// NATS), and [`BackendError::Refused`] on a prefix NATS cannot take or a
    /// server without JetStream.
    pub async fn connect(config: NatsConfig) -> Result<Self, BackendError> {
        if config.prefix.is_empty()
            || !config
                .prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(refused(format!(
                "NATS prefix {:?}: use ASCII letters, digits, '-' and '_'",
                config.prefix
            )));
        }
        let since = Instant::now();
        let (state, _) = watch::channel(BackendState::Reconnecting {
            since,
            error: "not connected yet".to_owned(),
            attempts: 0,
        });
        let (events_tx, events) = mpsc::unbounded_channel();
        let retry = events_tx.clone();
        let attempts = Arc::new(AtomicU32::new(0));
        let (min, max) = (config.reconnect_min, config.reconnect_max);
        let attempts_seen = attempts.clone();
        let client = ConnectOptions::new()
            .connection_timeout(config.connect_timeout)
            .request_timeout(Some(config.response_timeout))
            .ping_interval(config.ping_interval)
            .max_reconnects(None)
            .reconnect_delay_callback(move |attempt| {
                attempts_seen.store(
                    u32::try_from(attempt).unwrap_or(u32::MAX),
                    Ordering::Relaxed,
                );
                if attempt <= 1 {
                    return Duration::ZERO;
                }
                let shift = u32::try_from(attempt - 2).unwrap_or(u32::MAX).min(16);
                min.saturating_mul(1 << shift).min(max)
            })
            .event_callback(move |event| {
                let events_tx = events_tx.clone();
                async move {
                    let _ = events_tx.send(event);
                }
            })
            .connect(config.url.as_str())
            .await
            .map_err(|error| BackendError::Unavailable {
                since,
                error: format!("connecting to {}: {error}", config.url),
            })?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(config.response_timeout);
        let core = Arc::new(Core {
            node: format!("{:016x}", rand::random::<u64>()),
            client,
            js,
            state,
            subscriber: RwLock::new(None),
            rooms: Mutex::new(HashMap::new()),
            epochs: Mutex::new(HashMap::new()),
            owned: Mutex::new(HashMap::new()),
            connection: AtomicU64::new(0),
            clock_offset: AtomicI64::new(0),
            config,
        });
        core.ensure_buckets().await?;
        core.measure_clock().await?;
        core.state.send_replace(BackendState::Connected);
        let (publishes, publish_rx) = mpsc::channel(core.config.publish_queue.max(1));
        let tasks = vec![
            tokio::spawn(supervise(core.clone(), events, retry, attempts)).abort_handle(),
            tokio::spawn(publish_jobs(core.clone(), publish_rx)).abort_handle(),
            tokio::spawn(renew_and_sweep(core.clone(), publishes.downgrade())).abort_handle(),
        ];
        Ok(Self {
            _guard: Arc::new(Guard {
                core: core.clone(),
                tasks,
            }),
            core,
            publishes,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NatsConfig {
        &self.core.config
    }

    /// The stream that holds `room` (for operators and tests).
    pub fn stream_name(&self, room: &str) -> String {
        self.core.stream_name(room)
    }

    /// Publishes a presence event (or any payload) through the ordered
    /// publish queue.
    fn enqueue(
        &self,
        room: Arc<str>,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<Position, BackendError>> {
        enqueue(&self.core, &self.publishes, room, payload)
    }
}

fn enqueue(
    core: &Core,
    publishes: &mpsc::Sender<Job>,
    room: Arc<str>,
    payload: Bytes,
) -> BoxFuture<'static, Result<Position, BackendError>> {
    if let Err(error) = core.available() {
        return Box::pin(std::future::ready(Err(error)));
    }
    let (reply, result) = oneshot::channel();
    if let Err(error) = publishes.try_send(Job {
        room,
        payload,
        reply,
    }) {
        let error = match error {
            mpsc::error::TrySendError::Full(_) => BackendError::Overloaded {
                limit: core.config.publish_queue,
            },
            mpsc::error::TrySendError::Closed(_) => BackendError::Closed,
        };
        return Box::pin(std::future::ready(Err(error)));
    }
    Box::pin(async move { result.await.unwrap_or(Err(BackendError::Closed)) })
}

impl Core {
    fn stream_name(&self, room: &str) -> String {
        format!("{}_{}", self.config.prefix, token(room))
    }

    fn subject(&self, room: &str) -> String {
        format!("{}.r.{}", self.config.prefix, token(room))
    }

    fn members_bucket(&self) -> String {
        format!("{}_presence", self.config.prefix)
    }

    fn leases_bucket(&self) -> String {
        format!("{}_leases", self.config.prefix)
    }

    fn storage(&self) -> StorageType {
        match self.config.storage {
            NatsStorage::Memory => StorageType::Memory,
            NatsStorage::File => StorageType::File,
        }
    }

    fn available(&self) -> Result<(), BackendError> {
        match &*self.state.borrow() {
            BackendState::Connected => Ok(()),
            BackendState::Reconnecting { since, error, .. } => Err(BackendError::Unavailable {
                since: *since,
                error: error.clone(),
            }),
            BackendState::Closed => Err(BackendError::Closed),
        }
    }

    fn subscriber(&self) -> Option<Arc<dyn Subscriber>> {
        self.subscriber
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(Weak::upgrade)
    }

    /// Makes the presence buckets (idempotent: the same configuration is
    /// accepted again).
    async fn ensure_buckets(&self) -> Result<(), BackendError> {
        for (bucket, max_age) in [
            (self.members_bucket(), Duration::ZERO),
            (self.leases_bucket(), self.config.presence.lease),
        ] {
            if self.js.get_key_value(bucket.as_str()).await.is_ok() {
                continue;
            }
            // The bucket's stream as async-nats would make it, made here:
            // its `create_key_value` first reads account fields that
            // nats-server 2.9 does not send.
            self.js
                .get_or_create_stream(stream::Config {
                    name: format!("KV_{bucket}"),
                    subjects: vec![format!("$KV.{bucket}.>")],
                    max_messages_per_subject: 1,
                    max_age,
                    storage: self.storage(),
                    num_replicas: self.config.replicas.max(1),
                    discard: DiscardPolicy::New,
                    allow_rollup: true,
                    deny_delete: true,
                    allow_direct: true,
                    duplicate_window: if max_age.is_zero() {
                        Duration::from_secs(120)
                    } else {
                        max_age.min(Duration::from_secs(120))
                    },
                    ..Default::default()
                })
                .await
                .map_err(|error| refused(format!("making the bucket {bucket}: {error}")))?;
        }
        Ok(())
    }

    async fn bucket(&self, bucket: String) -> Result<kv::Store, BackendError> {
        self.js
            .get_key_value(bucket.as_str())
            .await
            .map_err(|error| uncertain(format!("opening the bucket {bucket}: {error}")))
    }

    fn stream_config(&self, room: &str) -> stream::Config {
        let window = self.config.window;
        let max_age = window.max_age.unwrap_or(Duration::ZERO);
        stream::Config {
            name: self.stream_name(room),
            subjects: vec![self.subject(room)],
            // JetStream keeps at least one message; `history` hides it when
            // the window keeps none.
            max_messages: i64::try_from(window.max_messages.max(1)).unwrap_or(i64::MAX),
            max_age,
            storage: self.storage(),
            num_replicas: self.config.replicas.max(1),
            discard: DiscardPolicy::Old,
            // Tagwire sends no message IDs; JetStream wants the window no
            // longer than max_age.
            duplicate_window: if max_age.is_zero() {
                Duration::from_secs(1)
            } else {
                max_age.min(Duration::from_secs(1))
            },
            ..Default::default()
        }
    }

    /// The room's stream, made if missing.
    async fn ensure_stream(&self, room: &str) -> Result<stream::Info, BackendError> {
        let info = match self.js.get_or_create_stream(self.stream_config(room)).await {
            Ok(stream) => stream.cached_info().clone(),
            // Made by another node meanwhile, or with another window.
            Err(_) => self
                .js
                .get_stream(self.stream_name(room))
                .await
                .map_err(|error| uncertain(format!("the stream of room {room:?}: {error}")))?
                .cached_info()
                .clone(),
        };
        lock(&self.epochs).insert(Arc::from(room), epoch_of(info.created));
        Ok(info)
    }

    /// The room's stream if it exists.
    async fn find_stream(&self, room: &str) -> Result<Option<stream::Stream>, BackendError> {
        match self.js.get_stream(self.stream_name(room)).await {
            Ok(stream) => Ok(Some(stream)),
            Err(error) => match error.kind() {
                jetstream::context::GetStreamErrorKind::JetStream(js)
                    if js.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
                {
                    Ok(None)
                }
                _ => Err(uncertain(format!("the stream of room {room:?}: {error}"))),
            },
        }
    }

    async fn epoch(&self, room: &Arc<str>) -> Result<u64, BackendError> {
        if let Some(epoch) = lock(&self.epochs).get(room) {
            return Ok(*epoch);
        }
        Ok(epoch_of(self.ensure_stream(room).await?.created))
    }

    /// The messages of `stream` from `from` to `to` (sequence numbers), as
    /// held: messages that left the stream are missing from the answer.
    async fn read(
        &self,
        stream: &stream::Stream,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Bytes)>, BackendError> {
        let mut reader = Reader::open(
            self,
            stream,
            String::new(),
            DeliverPolicy::ByStartSequence {
                start_sequence: from,
            },
            Duration::ZERO,
        )
        .await?;
        let mut out = Vec::new();
        if reader.pending == 0 {
            return Ok(out);
        }
        loop {
            let message = reader.next(Some(self.config.response_timeout)).await?;
            let (seq, pending) = match message.info() {
                Ok(info) => (info.stream_sequence, info.pending),
                Err(error) => return Err(uncertain(format!("reading the stream: {error}"))),
            };
            if seq > to {
                break;
            }
            out.push((seq, message.message.payload.clone()));
            if seq == to || pending == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// The room's position and what follows `after` (or the gap).
    async fn history(&self, room: &Arc<str>, after: Position) -> Result<History, BackendError> {
        let Some(stream) = self.find_stream(room).await? else {
            return Ok(if after.is_start() {
                History::Messages(Vec::new())
            } else {
                History::Gap(Gap {
                    room: room.clone(),
                    after,
                    current: Position::START,
                    kind: GapKind::Reset,
                })
            });
        };
        self.history_of(room, &stream, stream.cached_info(), after)
            .await
    }

    async fn history_of(
        &self,
        room: &Arc<str>,
        stream: &stream::Stream,
        info: &stream::Info,
        after: Position,
    ) -> Result<History, BackendError> {
        if info.state.last_sequence == 0 {
            // A stream nothing was published to holds no room state yet,
            // as no stream: whichever node made it first (a subscription,
            // a catch-up after a restart), the answer is the same.
            return Ok(if after.seq == 0 {
                History::Messages(Vec::new())
            } else {
                History::Gap(Gap {
                    room: room.clone(),
                    after,
                    current: Position::START,
                    kind: GapKind::Reset,
                })
            });
        }
        let current = Position {
            epoch: epoch_of(info.created),
            seq: info.state.last_sequence,
        };
        let max = u64::try_from(self.config.window.max_messages).unwrap_or(u64::MAX);
        let oldest = if info.state.messages == 0 || max == 0 {
            None
        } else {
            Some(
                info.state
                    .first_sequence
                    .max((current.seq + 1).saturating_sub(max)),
            )
        };
        let gap = |kind| {
            History::Gap(Gap {
                room: room.clone(),
                after,
                current,
                kind,
            })
        };
        if let Err(kind) = reaches_back(after, current, oldest) {
            return Ok(gap(kind));
        }
        if after.seq == current.seq {
            return Ok(History::Messages(Vec::new()));
        }
        let held = self.read(stream, after.seq + 1, current.seq).await?;
        // Messages may have left the stream since its info was read.
        if held.first().map(|(seq, _)| *seq) != Some(after.seq + 1)
            || held.len() as u64 != current.seq - after.seq
        {
            return Ok(gap(GapKind::Trimmed {
                oldest: held.first().map(|(seq, _)| *seq),
            }));
        }
        Ok(History::Messages(
            held.into_iter()
                .map(|(seq, payload)| RoomMessage {
                    room: room.clone(),
                    position: Position {
                        epoch: current.epoch,
                        seq,
                    },
                    payload,
                })
                .collect(),
        ))
    }

    /// Brings a subscribed room up to its stream: delivers what came after
    /// its last position (or a gap), then follows the stream from there.
    async fn catch_up(self: &Arc<Self>, room: &Arc<Room>) -> Result<(), BackendError> {
        room.stop();
        let generation = {
            let mut last = lock(&room.last);
            last.1 += 1;
            last.1
        };
        let after = lock(&room.last).0;
        // A stream that is gone (a server without its data) is a reset to
        // nothing; it is made again below, in a new epoch, and followed
        // from its first message.
        let history = match self.find_stream(&room.name).await? {
            Some(stream) => {
                self.history_of(&room.name, &stream, stream.cached_info(), after)
                    .await?
            }
            None if after.is_start() => History::Messages(Vec::new()),
            None => History::Gap(Gap {
                room: room.name.clone(),
                after,
                current: Position::START,
                kind: GapKind::Reset,
            }),
        };
        {
            let mut last = lock(&room.last);
            if last.1 != generation {
                return Ok(());
            }
            let subscriber = self.subscriber();
            match history {
                History::Messages(messages) => {
                    for message in messages {
                        if let Some(subscriber) = &subscriber {
                            subscriber.message(&message);
                        }
                        last.0 = message.position;
                    }
                }
                History::Gap(gap) => {
                    tracing::warn!(room = %gap.room, after = %gap.after, current = %gap.current, kind = ?gap.kind, "nats backend: messages lost for this node");
                    if let Some(subscriber) = &subscriber {
                        subscriber.gap(&gap);
                    }
                    last.0 = gap.current;
                }
            }
        }
        self.ensure_stream(&room.name).await?;
        let stream = self
            .js
            .get_stream(self.stream_name(&room.name))
            .await
            .map_err(|error| uncertain(format!("the stream of {:?}: {error}", room.name)))?;
        self.follow(room, stream, generation);
        Ok(())
    }

    /// [`Core::catch_up`] in a task of its own (it stops the follower that
    /// asks for it).
    fn catch_up_later(self: &Arc<Self>, room: &Arc<Room>) {
        let core = self.clone();
        let room = room.clone();
        tokio::spawn(async move {
            if let Err(error) = core.catch_up(&room).await {
                tracing::warn!(room = %room.name, %error, "nats backend: catching up failed; caught up on reconnect");
            }
        });
    }

    /// Starts the task that delivers the room's stream after its last
    /// position.
    fn follow(self: &Arc<Self>, room: &Arc<Room>, stream: stream::Stream, generation: u64) {
        let core = self.clone();
        let task_room = room.clone();
        let task = tokio::spawn(async move {
            let room = task_room;
            let epoch = epoch_of(stream.cached_info().created);
            let last = lock(&room.last).0;
            // After a reset to nothing (START), the new epoch from its first
            // message.
            let start = if last.epoch == epoch { last.seq + 1 } else { 1 };
            let mut reader = match Reader::open(
                &core,
                &stream,
                String::new(),
                DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                },
                core.config.idle_heartbeat,
            )
            .await
            {
                Ok(reader) => reader,
                Err(error) => {
                    tracing::warn!(room = %room.name, %error, "nats backend: following the room's stream failed; caught up on reconnect");
                    return;
                }
            };
            // Heartbeats come while the consumer lives, messages or not.
            let silence = (!core.config.idle_heartbeat.is_zero())
                .then(|| core.config.idle_heartbeat * 2 + core.config.response_timeout);
            loop {
                let message = match reader.next(silence).await {
                    Ok(message) => message,
                    Err(error) => {
                        if core.available().is_ok() {
                            tracing::warn!(room = %room.name, %error, "nats backend: the room's consumer went silent; catching the room up");
                            core.catch_up_later(&room);
                        }
                        // Else the reconnection catches every room up.
                        return;
                    }
                };
                let Ok(seq) = message.info().map(|info| info.stream_sequence) else {
                    continue;
                };
                if !core.offer(&room, generation, epoch, seq, &message.message.payload) {
                    // Messages skipped (this client dropped some, or they
                    // left the stream): catch up from the stream, which
                    // follows it again from there.
                    core.catch_up_later(&room);
                    return;
                }
            }
        });
        if let Some(older) = lock(&room.follower).replace(task.abort_handle()) {
            older.abort();
        }
    }

    /// Delivers one message the room's follower received; `false` when it
    /// does not follow the last one delivered (nothing delivered: the
    /// room must be caught up from its stream).
    fn offer(&self, room: &Room, generation: u64, epoch: u64, seq: u64, payload: &Bytes) -> bool {
        let mut last = lock(&room.last);
        let same_epoch = last.0.epoch == epoch;
        if last.1 != generation || (same_epoch && seq <= last.0.seq) {
            return true;
        }
        let next = if same_epoch { last.0.seq + 1 } else { 1 };
        if seq != next {
            return false;
        }
        let message = RoomMessage {
            room: room.name.clone(),
            position: Position { epoch, seq },
            payload: payload.clone(),
        };
        if let Some(subscriber) = self.subscriber() {
            subscriber.message(&message);
        }
        last.0 = message.position;
        true
    }

    /// The last entry of every key under `filter` in a bucket's stream
    /// (deleted keys left out).
    async fn list(&self, bucket: &str, keys: &str) -> Result<Vec<Listed>, BackendError> {
        let stream = self
            .js
            .get_stream(format!("KV_{bucket}"))
            .await
            .map_err(|error| uncertain(format!("the bucket {bucket}: {error}")))?;
        let prefix = format!("$KV.{bucket}.");
        let mut reader = Reader::open(
            self,
            &stream,
            format!("{prefix}{keys}"),
            DeliverPolicy::LastPerSubject,
            Duration::ZERO,
        )
        .await?;
        let mut out = Vec::new();
        if reader.pending == 0 {
            return Ok(out);
        }
        loop {
            let message = reader.next(Some(self.config.response_timeout)).await?;
            let info = message
                .info()
                .map_err(|error| uncertain(format!("listing {bucket}: {error}")))?;
            let (revision, created, pending) = (info.stream_sequence, info.published, info.pending);
            let deleted = message
                .message
                .headers
                .as_ref()
                .and_then(|headers| headers.get("KV-Operation"))
                .is_some_and(|op| op.as_str() == "DEL" || op.as_str() == "PURGE");
            if !deleted && let Some(key) = message.message.subject.strip_prefix(prefix.as_str()) {
                out.push(Listed {
                    key: key.to_owned(),
                    value: message.message.payload.clone(),
                    revision,
                    created,
                });
            }
            if pending == 0 {
                break;
            }
        }
        Ok(out)
    }

    async fn members(&self, room: &str) -> Result<Vec<(Listed, MemberEntry)>, BackendError> {
        let listed = self
            .list(&self.members_bucket(), &format!("{}.*", token(room)))
            .await?;
        Ok(listed
            .into_iter()
            .filter_map(|entry| MemberEntry::decode(&entry.value).map(|member| (entry, member)))
            .collect())
    }

    /// Measures the server's clock against this node's: puts `_clock.{node}`
    /// in the lease bucket (no room's token starts `_c` followed by a letter
    /// past `f`, so no room's lease listing sees it) and reads the time the
    /// server gave it.
    async fn measure_clock(&self) -> Result<(), BackendError> {
        let leases = self.bucket(self.leases_bucket()).await?;
        let key = format!("_clock.{}", self.node);
        let before = now_ms();
        leases
            .put(key.as_str(), Bytes::new())
            .await
            .map_err(|error| uncertain(format!("reading the server's clock: {error}")))?;
        let after = now_ms();
        let entry = leases
            .entry(key.as_str())
            .await
            .map_err(|error| uncertain(format!("reading the server's clock: {error}")))?
            .ok_or_else(|| uncertain("reading the server's clock: the entry is gone"))?;
        let offset = unix_ms(entry.created) - (before + after) / 2;
        self.clock_offset
            .store(i64::try_from(offset).unwrap_or(0), Ordering::Relaxed);
        Ok(())
    }

    async fn renew(&self, room: &str) -> Result<(), BackendError> {
        let leases = self.bucket(self.leases_bucket()).await?;
        leases
            .put(format!("{}.{}", token(room), self.node), Bytes::new())
            .await
            .map_err(|error| uncertain(format!("renewing the lease: {error}")))?;
        Ok(())
    }

    /// Removes the members whose node's lease or whose linger ran out, each
    /// with a leave event; compare-and-delete, so one sweeper wins per
    /// member. Returns whether this node still owns an active member here.
    async fn sweep(
        &self,
        publishes: &mpsc::Sender<Job>,
        room: &Arc<str>,
    ) -> Result<bool, BackendError> {
        let members = self.members(room).await?;
        if members.is_empty() {
            return Ok(false);
        }
        let prefix = format!("{}.", token(room));
        let alive: HashSet<String> = self
            .list(&self.leases_bucket(), &format!("{}.*", token(room)))
            .await?
            .into_iter()
            .filter_map(|lease| lease.key.strip_prefix(prefix.as_str()).map(str::to_owned))
            .collect();
        let store = self.bucket(self.members_bucket()).await?;
        let now = now_ms() + i128::from(self.clock_offset.load(Ordering::Relaxed));
        let linger = i128::try_from(self.config.presence.linger.as_millis()).unwrap_or(i128::MAX);
        let mut owns = false;
        for (listed, member) in members {
            let expired = if member.lingering {
                unix_ms(listed.created) + linger <= now
            } else {
                !alive.contains(&member.node)
            };
            if !expired {
                owns |= member.node == self.node && !member.lingering;
                continue;
            }
            if store
                .delete_expect_revision(&listed.key, Some(listed.revision))
                .await
                .is_ok()
            {
                let payload = PresenceEvent {
                    kind: PresenceKind::Leave,
                    member: &member.member,
                    state: b"",
                }
                .to_payload();
                if let Err(error) = enqueue(self, publishes, room.clone(), payload).await {
                    tracing::warn!(%room, member = %member.member, %error, "nats backend: a member was removed but its leave event was not published");
                }
            }
        }
        Ok(owns)
    }
}

/// Follows the client's connection events: `Reconnecting` while it is
/// away, and on its return every room caught up before `Connected`.
async fn supervise(
    core: Arc<Core>,
    mut events: mpsc::UnboundedReceiver<Event>,
    retry: mpsc::UnboundedSender<Event>,
    attempts: Arc<AtomicU32>,
) {
    while let Some(event) = events.recv().await {
        match event {
            Event::Disconnected => {
                core.connection.fetch_add(1, Ordering::Relaxed);
                lock(&core.epochs).clear();
                for room in lock(&core.rooms).values() {
                    room.stop();
                    lock(&room.last).1 += 1;
                }
                tracing::warn!(url = %core.config.url, "nats backend lost its connection; reconnecting");
                core.state.send_replace(BackendState::Reconnecting {
                    since: Instant::now(),
                    error: "the connection to nats-server was lost".to_owned(),
                    attempts: attempts.load(Ordering::Relaxed),
                });
            }
            Event::Connected => {
                if matches!(*core.state.borrow(), BackendState::Connected) {
                    continue;
                }
                let connection = core.connection.load(Ordering::Relaxed);
                let caught_up = async {
                    core.ensure_buckets().await?;
                    let rooms: Vec<Arc<Room>> = lock(&core.rooms).values().cloned().collect();
                    for room in rooms {
                        core.catch_up(&room).await?;
                    }
                    Ok::<(), BackendError>(())
                }
                .await;
                match caught_up {
                    // Not if the connection was lost again meanwhile.
                    Ok(()) if core.connection.load(Ordering::Relaxed) == connection => {
                        attempts.store(0, Ordering::Relaxed);
                        tracing::info!(url = %core.config.url, "nats backend connected");
                        core.state.send_replace(BackendState::Connected);
                    }
                    Ok(()) => {}
                    Err(error) => {
                        tracing::warn!(%error, "nats backend: catching up after a reconnect failed");
                        core.state.send_modify(|state| {
                            if let BackendState::Reconnecting { error: last, .. } = state {
                                *last = error.to_string();
                            }
                        });
                        // The client stays connected: try again shortly.
                        let retry = retry.clone();
                        let delay = core.config.reconnect_min;
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = retry.send(Event::Connected);
                        });
                    }
                }
            }
            Event::Closed => {
                core.state.send_replace(BackendState::Closed);
                return;
            }
            Event::ClientError(error) => {
                tracing::debug!(%error, "nats backend: client error");
            }
            other => tracing::debug!(event = %other, "nats backend: connection event"),
        }
        let seen = attempts.load(Ordering::Relaxed);
        core.state.send_if_modified(|state| match state {
            BackendState::Reconnecting { attempts, .. } if *attempts != seen => {
                *attempts = seen;
                true
            }
            _ => false,
        });
    }
}

/// Publishes queued jobs one after another (each waits only for the send,
/// not for its acknowledgement), so they reach the stream in call order.
async fn publish_jobs(core: Arc<Core>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::new();
    while jobs.recv_many(&mut batch, 256).await > 0 {
        for job in batch.drain(..) {
            if let Err(error) = core.available() {
                let _ = job.reply.send(Err(error));
                continue;
            }
            let epoch = match core.epoch(&job.room).await {
                Ok(epoch) => epoch,
                Err(error) => {
                    let _ = job.reply.send(Err(error));
                    continue;
                }
            };
            match core.js.publish(core.subject(&job.room), job.payload).await {
                Ok(ack) => {
                    let core = core.clone();
                    tokio::spawn(async move {
                        let result = match ack.await {
                            Ok(ack) => Ok(Position {
                                epoch,
                                seq: ack.sequence,
                            }),
                            Err(error) => Err(match error.kind() {
                                PublishErrorKind::StreamNotFound => {
                                    lock(&core.epochs).remove(&job.room);
                                    BackendError::Refused {
                                        error: format!(
                                            "the room's stream is gone; nothing was published ({error})"
                                        ),
                                    }
                                }
                                PublishErrorKind::MaxPayloadExceeded => refused(error),
                                _ => uncertain(error),
                            }),
                        };
                        let _ = job.reply.send(result);
                    });
                }
                Err(error) => {
                    let _ = job.reply.send(Err(uncertain(error)));
                }
            }
        }
    }
}

/// Every `renew_every`: renews this node's lease in each room where it owns
/// members, and sweeps each subscribed room.
async fn renew_and_sweep(core: Arc<Core>, publishes: mpsc::WeakSender<Job>) {
    let mut tick = tokio::time::interval(core.config.presence.renew_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if core.available().is_err() {
            continue;
        }
        let Some(publishes) = publishes.upgrade() else {
            return;
        };
        if let Err(error) = core.measure_clock().await {
            tracing::warn!(%error, "nats backend: reading the server's clock failed");
        }
        let owned: Vec<(Arc<str>, u64)> = lock(&core.owned)
            .iter()
            .map(|(room, sets)| (room.clone(), *sets))
            .collect();
        for (room, _) in &owned {
            if let Err(error) = core.renew(room).await {
                tracing::warn!(%room, %error, "nats backend: renewing a lease failed");
            }
        }
        let mut rooms: HashMap<Arc<str>, Option<u64>> = lock(&core.rooms)
            .keys()
            .map(|room| (room.clone(), None))
            .collect();
        rooms.extend(owned.into_iter().map(|(room, sets)| (room, Some(sets))));
        for (room, sets) in rooms {
            let sets = sets.or_else(|| lock(&core.owned).get(&room).copied());
            match core.sweep(&publishes, &room).await {
                Ok(false) => {
                    let mut owned = lock(&core.owned);
                    if owned.get(&room).copied() == sets {
                        owned.remove(&room);
                    }
                }
                Ok(true) => {}
                Err(error) => tracing::warn!(%room, %error, "nats backend: sweeping failed"),
            }
        }
    }
}

impl Backend for NatsBackend {
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
        self.enqueue(Arc::from(room), payload)
    }

    fn subscribe(&self, room: &str) -> BoxFuture<'static, Result<Position, BackendError>> {
        let core = self.core.clone();
        let name: Arc<str> = Arc::from(room);
        Box::pin(async move {
            if let Some(room) = lock(&core.rooms).get(&name) {
                return Ok(lock(&room.last).0);
            }
            core.available()?;
            let info = core.ensure_stream(&name).await?;
            let stream = core
                .js
                .get_stream(core.stream_name(&name))
                .await
                .map_err(|error| uncertain(format!("the stream of {name:?}: {error}")))?;
            let position = Position {
                epoch: epoch_of(info.created),
                seq: info.state.last_sequence,
            };
            let room = Arc::new(Room {
                name: name.clone(),
                last: Mutex::new((position, 0)),
                follower: Mutex::new(None),
            });
            {
                let mut rooms = lock(&core.rooms);
                if let Some(existing) = rooms.get(&name) {
                    return Ok(lock(&existing.last).0);
                }
                rooms.insert(name, room.clone());
            }
            core.follow(&room, stream, 0);
            Ok(position)
        })
    }

    fn unsubscribe(&self, room: &str) {
        if let Some(room) = lock(&self.core.rooms).remove(room) {
            room.stop();
        }
    }

    fn history(
        &self,
        room: &str,
        after: Position,
    ) -> BoxFuture<'static, Result<History, BackendError>> {
        let core = self.core.clone();
        let room: Arc<str> = Arc::from(room);
        Box::pin(async move {
            core.available()?;
            core.history(&room, after).await
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
        let backend = self.clone();
        let room: Arc<str> = Arc::from(room);
        let member = member.to_owned();
        Box::pin(async move {
            let core = &backend.core;
            check_member_key(&member).map_err(refused)?;
            let config = core.config.presence;
            if state.len() > config.max_state_bytes {
                return Err(refused(format!(
                    "a presence state is at most {} bytes, not {}",
                    config.max_state_bytes,
                    state.len()
                )));
            }
            core.available()?;
            // The lease first: a sweeper never sees a member of ours
            // without it.
            let renewing = {
                let mut owned = lock(&core.owned);
                let sets = owned.entry(room.clone()).or_insert(0);
                *sets += 1;
                *sets > 1
            };
            if !renewing {
                core.renew(&room).await?;
            }
            let store = core.bucket(core.members_bucket()).await?;
            let key = format!("{}.{}", token(&room), token(&member));
            let mine = MemberEntry {
                node: core.node.clone(),
                conn,
                lingering: false,
                member: member.clone(),
                state: state.clone(),
            };
            for _ in 0..16 {
                let entry = store
                    .entry(key.as_str())
                    .await
                    .map_err(|error| uncertain(format!("reading a member: {error}")))?
                    .filter(|entry| entry.operation == kv::Operation::Put);
                let current = entry
                    .as_ref()
                    .and_then(|entry| MemberEntry::decode(&entry.value));
                let kind = match &current {
                    None => {
                        let others = core.members(&room).await?;
                        if others.len() >= config.max_members {
                            return Err(refused(format!(
                                "room {room:?} already holds {} present members",
                                config.max_members
                            )));
                        }
                        Some(PresenceKind::Join)
                    }
                    Some(current) if current.state != state => Some(PresenceKind::Update),
                    Some(current) if *current == mine => return Ok(None),
                    Some(_) => None,
                };
                let written = match &entry {
                    Some(entry) => store
                        .update(key.as_str(), mine.encode(), entry.revision)
                        .await
                        .is_ok(),
                    None => store.create(key.as_str(), mine.encode()).await.is_ok(),
                };
                if !written {
                    // Another writer came between: read again.
                    continue;
                }
                let Some(kind) = kind else {
                    return Ok(None);
                };
                let payload = PresenceEvent {
                    kind,
                    member: &member,
                    state: &state,
                }
                .to_payload();
                return backend.enqueue(room, payload).await.map(Some);
            }
            Err(uncertain("the member kept changing under this write"))
        })
    }

    fn presence_linger(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let core = self.core.clone();
        let key = format!("{}.{}", token(room), token(member));
        Box::pin(async move {
            core.available()?;
            let store = core.bucket(core.members_bucket()).await?;
            for _ in 0..16 {
                let Some(entry) = store
                    .entry(key.as_str())
                    .await
                    .map_err(|error| uncertain(format!("reading a member: {error}")))?
                    .filter(|entry| entry.operation == kv::Operation::Put)
                else {
                    return Ok(());
                };
                let Some(mut current) = MemberEntry::decode(&entry.value) else {
                    return Ok(());
                };
                if current.node != core.node || current.conn != conn || current.lingering {
                    return Ok(());
                }
                current.lingering = true;
                // The entry's new time (the server's) starts the linger.
                if store
                    .update(key.as_str(), current.encode(), entry.revision)
                    .await
                    .is_ok()
                {
                    return Ok(());
                }
            }
            Err(uncertain("the member kept changing under this write"))
        })
    }

    fn presence_leave(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        let backend = self.clone();
        let room: Arc<str> = Arc::from(room);
        let member = member.to_owned();
        Box::pin(async move {
            let core = &backend.core;
            core.available()?;
            let store = core.bucket(core.members_bucket()).await?;
            let key = format!("{}.{}", token(&room), token(&member));
            for _ in 0..16 {
                let Some(entry) = store
                    .entry(key.as_str())
                    .await
                    .map_err(|error| uncertain(format!("reading a member: {error}")))?
                    .filter(|entry| entry.operation == kv::Operation::Put)
                else {
                    return Ok(None);
                };
                let Some(current) = MemberEntry::decode(&entry.value) else {
                    return Ok(None);
                };
                if current.node != core.node || current.conn != conn {
                    return Ok(None);
                }
                if store
                    .delete_expect_revision(key.as_str(), Some(entry.revision))
                    .await
                    .is_err()
                {
                    continue;
                }
                let payload = PresenceEvent {
                    kind: PresenceKind::Leave,
                    member: &member,
                    state: b"",
                }
                .to_payload();
                return backend.enqueue(room, payload).await.map(Some);
            }
            Err(uncertain("the member kept changing under this write"))
        })
    }

    fn presence_snapshot(
        &self,
        room: &str,
    ) -> BoxFuture<'static, Result<PresenceSnapshot, BackendError>> {
        let backend = self.clone();
        let room: Arc<str> = Arc::from(room);
        Box::pin(async move {
            let core = &backend.core;
            core.available()?;
            core.sweep(&backend.publishes, &room).await?;
            // The position first, then the members: see PresenceSnapshot.
            let info = core.ensure_stream(&room).await?;
            let position = Position {
                epoch: epoch_of(info.created),
                seq: info.state.last_sequence,
            };
            let mut members: Vec<PresenceEntry> = core
                .members(&room)
                .await?
                .into_iter()
                .map(|(_, member)| PresenceEntry {
                    member: Arc::from(member.member.as_str()),
                    state: member.state,
                })
                .collect();
            members.sort_by(|a, b| a.member.cmp(&b.member));
            Ok(PresenceSnapshot { position, members })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_tokens_are_valid_distinct_and_bounded() {
        assert_eq!(token("lobby"), "lobby");
        assert_eq!(token("a.b c*>"), "a_2eb_20c_2a_3e");
        assert_eq!(token("Lobby"), "_4cobby");
        assert_eq!(token("_4cobby"), "_5f4cobby");
        assert_eq!(token(""), "_");
        assert_eq!(token("é"), "_c3_a9");
        let long = "x".repeat(500);
        let cut = token(&long);
        assert_eq!(cut.len(), 140 + 17);
        assert_ne!(cut, token(&"x".repeat(501)));
        for name in ["a.b", "a b", "ä/ö", &long] {
            let t = token(name);
            assert!(
                t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_=".contains(&b)),
                "{t}"
            );
        }
    }

    #[test]
    fn member_entries_round_trip() {
        let entry = MemberEntry {
            node: "00ff".to_owned(),
            conn: 42,
            lingering: true,
            member: "ann|1".to_owned(),
            state: Bytes::from_static(b"a\x1fb\0c"),
        };
        assert_eq!(MemberEntry::decode(&entry.encode()), Some(entry));
        for bad in [
            &b""[..],
            b"n\x1f1\x1fx\x1fm\x1f",
            b"n\x1fz\x1fa\x1fm\x1f",
            b"n\x1f1\x1fa",
        ] {
            assert_eq!(
                MemberEntry::decode(&Bytes::from_static(bad)),
                None,
                "{bad:?}"
            );
        }
    }
}
