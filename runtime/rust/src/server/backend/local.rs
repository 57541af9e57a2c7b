//! The in-process backend: a counter and a ring buffer per room, for one
//! node or for several nodes (servers) in one process.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use bytes::Bytes;
use rand::{Rng, SeedableRng, rngs::StdRng};
use tokio::sync::watch;
use tokio::time::Instant;

use super::contract::{
    Backend, BackendError, BackendState, BoxFuture, Gap, History, HistoryWindow, RoomMessage,
    Subscriber, reaches_back,
};
use super::presence::{
    PresenceConfig, PresenceEntry, PresenceEvent, PresenceKind, PresenceSnapshot, check_member_key,
};
use crate::control::RoomPosition as Position;

/// Rooms below this count are never swept: sweeping a small map buys nothing.
const SWEEP_FLOOR: usize = 64;

/// Epochs stay below 2⁵³ (JavaScript numbers).
const EPOCH_MASK: u64 = (1 << 53) - 1;

/// The in-process broadcast backend, the default: publishing delivers at once,
/// on the publisher's thread, to the subscribers of this process; history
/// comes from a ring buffer per room. Cloning shares it (the same node).
///
/// Several servers in one process (the demo's instances, tests of "many
/// nodes" without Redis) share rooms through [`LocalBackend::node`]: each
/// node handle has its own subscriber and subscriptions over the same rooms,
/// sequence numbers and history.
///
/// A room's state (counter, ring) is kept while the room is subscribed or
/// holds a message younger than the window's `max_age`; without a `max_age`,
/// while it is subscribed. A room dropped and used again starts a new epoch, so
/// a client's old position yields [`GapKind::Reset`](super::GapKind::Reset),
/// as it does after the process restarts (epochs are random per process).
///
/// Presence ([`LocalBackend::with_presence`]) follows the engine contract
/// with the room's lock for atomicity: each node holds a lease per room it
/// has members in, renewed by a task of that node every
/// [`PresenceConfig::renew_every`] for as long as a handle of the node
/// lives and it was not [`kill`](LocalBackend::kill)ed; the same task
/// sweeps every room with presence, so a node that stops leaves its members
/// to the others' sweeps.
#[derive(Clone)]
pub struct LocalBackend {
    inner: Arc<Inner>,
    /// This handle's node: its number, and whether it still lives (the
    /// lease renewer holds it weakly).
    life: Arc<NodeLife>,
}

/// One node's liveness, shared by the node's handles.
struct NodeLife {
    node: usize,
    /// Set by [`LocalBackend::kill`].
    killed: AtomicBool,
    /// The node's lease renewer was started.
    renewing: AtomicBool,
}

struct Inner {
    window: HistoryWindow,
    rooms: Mutex<Rooms>,
    /// Each node's subscriber, by node number (a node is a handle made by
    /// [`LocalBackend::new`] or [`LocalBackend::node`]).
    subscribers: RwLock<Vec<Option<Weak<dyn Subscriber>>>>,
    state: watch::Sender<BackendState>,
    next_epoch: AtomicU64,
    /// Shared by every node: a deployment keeps presence one way.
    presence: RwLock<PresenceConfig>,
}

#[derive(Default)]
struct Rooms {
    map: HashMap<Arc<str>, Arc<Mutex<Room>>>,
    /// Sweep when the map reaches this many rooms (twice what the last sweep
    /// left, so sweeping costs O(1) per room created).
    sweep_at: usize,
}

struct Room {
    name: Arc<str>,
    epoch: u64,
    seq: u64,
    /// The nodes subscribed to the room (usually one).
    subscribed: Vec<usize>,
    /// The window's messages, oldest first, with consecutive sequence numbers.
    log: VecDeque<Entry>,
    /// Only rooms that had a member present pay for it.
    presence: Option<Box<Presence>>,
}

/// A room's presence: the members (ordered by key, as snapshots give
/// them) and the lease of each node that owns one.
#[derive(Default)]
struct Presence {
    members: BTreeMap<Arc<str>, Present>,
    /// Node → lease deadline.
    leases: HashMap<usize, Instant>,
}

struct Present {
    state: Bytes,
    /// The owner: a node and one of its connections.
    node: usize,
    conn: u64,
    /// Set when the owner's connection closed without leaving: removed
    /// at this deadline, whatever the owner's lease.
    linger: Option<Instant>,
}

struct Entry {
    seq: u64,
    at: Instant,
    payload: Bytes,
}

impl fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalBackend")
            .field("window", &self.inner.window)
            .field("rooms", &self.inner.lock_rooms().map.len())
            .finish()
    }
}

impl Default for LocalBackend {
    fn default() -> Self {
        Self::new(HistoryWindow::default())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl LocalBackend {
    /// A backend keeping `window` of history per room.
    pub fn new(window: HistoryWindow) -> Self {
        let (state, _) = watch::channel(BackendState::Connected);
        // Random per process, so that positions from before a restart are
        // recognised as another epoch's.
        let first_epoch = StdRng::from_os_rng().random_range(1..=EPOCH_MASK / 2);
        Self {
            inner: Arc::new(Inner {
                window,
                rooms: Mutex::new(Rooms {
                    map: HashMap::new(),
                    sweep_at: SWEEP_FLOOR,
                }),
                subscribers: RwLock::new(vec![None]),
                state,
                next_epoch: AtomicU64::new(first_epoch),
                presence: RwLock::new(PresenceConfig::default()),
            }),
            life: Arc::new(NodeLife::new(0)),
        }
    }

    /// Keeps presence with `config` (the default otherwise), on every node
    /// of this backend.
    #[must_use]
    pub fn with_presence(self, config: PresenceConfig) -> Self {
        *self
            .inner
            .presence
            .write()
            .unwrap_or_else(PoisonError::into_inner) = config;
        self
    }

    /// Stops this node as a crash would (every handle of it): its leases
    /// are no longer renewed, so the other nodes remove its members once
    /// the lease ran out, and its presence calls fail with
    /// [`BackendError::Closed`]. Dropping every handle of a node does the
    /// same. For tests of failures without a second process.
    pub fn kill(&self) {
        self.life.killed.store(true, Ordering::SeqCst);
    }

    fn node_number(&self) -> usize {
        self.life.node
    }

    /// A handle for another node on the same rooms: its own subscriber
    /// ([`Backend::attach`]) and subscriptions, the same sequence numbers and
    /// history. Give each server in a process its own node.
    #[must_use]
    pub fn node(&self) -> LocalBackend {
        let mut subscribers = self
            .inner
            .subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        subscribers.push(None);
        let node = subscribers.len() - 1;
        drop(subscribers);
        LocalBackend {
            inner: self.inner.clone(),
            life: Arc::new(NodeLife::new(node)),
        }
    }

    /// How many rooms hold state (subscribed, or with history in the window).
    pub fn room_count(&self) -> usize {
        self.inner.lock_rooms().map.len()
    }

    /// Publishes synchronously: the same as [`Backend::publish`] without the
    /// future. The subscriber has received the message when this returns.
    pub fn publish_now(&self, room: &str, payload: Bytes) -> Position {
        self.inner.publish(room, payload).0
    }

    /// [`Backend::history`] without the future.
    pub fn history_now(&self, room: &str, after: Position) -> History {
        self.inner.history(room, after)
    }

    /// [`Backend::subscribe`] without the future.
    pub fn subscribe_now(&self, room: &str) -> Position {
        let room = self.inner.room(room);
        let mut room = lock(&room);
        let node = self.node_number();
        if !room.subscribed.contains(&node) {
            room.subscribed.push(node);
        }
        room.position()
    }
}

impl NodeLife {
    fn new(node: usize) -> Self {
        NodeLife {
            node,
            killed: AtomicBool::new(false),
            renewing: AtomicBool::new(false),
        }
    }

    fn alive(&self) -> bool {
        !self.killed.load(Ordering::SeqCst)
    }
}

impl Inner {
    fn lock_rooms(&self) -> MutexGuard<'_, Rooms> {
        lock(&self.rooms)
    }

    /// The room's state, created (with a new epoch) if it has none.
    fn room(&self, name: &str) -> Arc<Mutex<Room>> {
        let mut rooms = self.lock_rooms();
        if let Some(room) = rooms.map.get(name) {
            return room.clone();
        }
        if rooms.map.len() >= rooms.sweep_at {
            self.sweep(&mut rooms);
        }
        let name: Arc<str> = Arc::from(name);
        let epoch = (self.next_epoch.fetch_add(1, Ordering::Relaxed) & EPOCH_MASK).max(1);
        let room = Arc::new(Mutex::new(Room {
            name: name.clone(),
            epoch,
            seq: 0,
            subscribed: Vec::new(),
            log: VecDeque::new(),
            presence: None,
        }));
        rooms.map.insert(name, room.clone());
        room
    }

    /// Drops the rooms that are neither subscribed nor hold history.
    fn sweep(&self, rooms: &mut Rooms) {
        let now = Instant::now();
        rooms.map.retain(|_, room| {
            let mut room = lock(room);
            room.expire(&self.window, now);
            room.keep(&self.window)
        });
        rooms.sweep_at = (rooms.map.len() * 2).max(SWEEP_FLOOR);
    }

    /// Publishes and delivers; the position, and how many members accepted
    /// the message on every node.
    fn publish(&self, name: &str, payload: Bytes) -> (Position, usize) {
        let room = self.room(name);
        let mut room = lock(&room);
        self.append(&mut room, payload)
    }

    /// Gives `payload` the room's next position, keeps it in the window and
    /// delivers it to the subscribed nodes; the caller holds the room's lock.
    fn append(&self, room: &mut Room, payload: Bytes) -> (Position, usize) {
        room.seq += 1;
        let position = room.position();
        if self.window.max_messages > 0 {
            let now = Instant::now();
            room.expire(&self.window, now);
            if room.log.len() == self.window.max_messages {
                room.log.pop_front();
            }
            room.log.push_back(Entry {
                seq: position.seq,
                at: now,
                payload: payload.clone(),
            });
        }
        // Delivered under the room's lock: concurrent publishers of one room
        // reach each subscriber in sequence order.
        let mut accepted = 0;
        if !room.subscribed.is_empty() {
            let message = RoomMessage {
                room: room.name.clone(),
                position,
                payload,
            };
            for &node in &room.subscribed {
                if let Some(subscriber) = self.subscriber(node) {
                    accepted += subscriber.deliver(&message);
                }
            }
        }
        (position, accepted)
    }

    fn history(&self, name: &str, after: Position) -> History {
        let Some(room) = self.lock_rooms().map.get(name).cloned() else {
            // No state: nothing was published here since this process started
            // or since the room was dropped.
            return if after.is_start() {
                History::Messages(Vec::new())
            } else {
                History::Gap(Gap {
                    room: Arc::from(name),
                    after,
                    current: Position::START,
                    kind: super::GapKind::Reset,
                })
            };
        };
        let mut room = lock(&room);
        room.expire(&self.window, Instant::now());
        let current = room.position();
        let oldest = room.log.front().map(|entry| entry.seq);
        match reaches_back(after, current, oldest) {
            Ok(()) => History::Messages(
                room.log
                    .iter()
                    .filter(|entry| entry.seq > after.seq)
                    .map(|entry| RoomMessage {
                        room: room.name.clone(),
                        position: Position {
                            epoch: room.epoch,
                            seq: entry.seq,
                        },
                        payload: entry.payload.clone(),
                    })
                    .collect(),
            ),
            Err(kind) => History::Gap(Gap {
                room: room.name.clone(),
                after,
                current,
                kind,
            }),
        }
    }

    fn presence_config(&self) -> PresenceConfig {
        *self.presence.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes the members whose linger or owner's lease ran out, each
    /// with a leave event in the room's order. Under the room's lock, so
    /// two nodes sweeping at once remove (and announce) a member once.
    fn sweep_presence(&self, room: &mut Room, now: Instant) {
        let Some(presence) = room.presence.as_mut() else {
            return;
        };
        let leases = &presence.leases;
        let gone: Vec<Arc<str>> = presence
            .members
            .iter()
            .filter(|(_, p)| match p.linger {
                Some(deadline) => deadline <= now,
                None => leases.get(&p.node).is_none_or(|&deadline| deadline <= now),
            })
            .map(|(member, _)| member.clone())
            .collect();
        for member in &gone {
            presence.members.remove(member);
        }
        let owners: Vec<usize> = presence
            .members
            .values()
            .filter(|p| p.linger.is_none())
            .map(|p| p.node)
            .collect();
        presence.leases.retain(|node, _| owners.contains(node));
        if presence.members.is_empty() {
            room.presence = None;
        }
        for member in gone {
            self.announce(room, PresenceKind::Leave, &member, b"");
        }
    }

    /// Publishes a presence event in the room (under its lock).
    fn announce(
        &self,
        room: &mut Room,
        kind: PresenceKind,
        member: &str,
        state: &[u8],
    ) -> Position {
        let payload = PresenceEvent {
            kind,
            member,
            state,
        }
        .to_payload();
        self.append(room, payload).0
    }

    /// What a node's renewer does every `renew_every`: renews the node's
    /// lease in each room where it owns a member, and sweeps every room
    /// with presence.
    fn renew(&self, node: usize) {
        let lease = self.presence_config().lease;
        let rooms: Vec<Arc<Mutex<Room>>> = self.lock_rooms().map.values().cloned().collect();
        let now = Instant::now();
        for room in rooms {
            let mut room = lock(&room);
            let Some(presence) = room.presence.as_mut() else {
                continue;
            };
            if presence
                .members
                .values()
                .any(|p| p.node == node && p.linger.is_none())
            {
                presence.leases.insert(node, now + lease);
            }
            self.sweep_presence(&mut room, now);
        }
    }

    fn unsubscribe(&self, name: &str, node: usize) {
        let mut rooms = self.lock_rooms();
        let Some(room) = rooms.map.get(name) else {
            return;
        };
        let keep = {
            let mut room = lock(room);
            room.subscribed.retain(|&n| n != node);
            room.expire(&self.window, Instant::now());
            room.keep(&self.window)
        };
        if !keep {
            rooms.map.remove(name);
        }
    }

    fn subscriber(&self, node: usize) -> Option<Arc<dyn Subscriber>> {
        self.subscribers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(node)
            .and_then(Option::as_ref)
            .and_then(Weak::upgrade)
    }
}

impl Room {
    fn position(&self) -> Position {
        Position {
            epoch: self.epoch,
            seq: self.seq,
        }
    }

    /// Drops the messages older than the window's `max_age`.
    fn expire(&mut self, window: &HistoryWindow, now: Instant) {
        let Some(max_age) = window.max_age else {
            return;
        };
        while let Some(entry) = self.log.front() {
            if now.saturating_duration_since(entry.at) <= max_age {
                break;
            }
            self.log.pop_front();
        }
    }

    /// Whether the room's state is still worth keeping (after `expire`).
    fn keep(&self, window: &HistoryWindow) -> bool {
        !self.subscribed.is_empty()
            || self.presence.is_some()
            || (window.max_age.is_some() && !self.log.is_empty())
    }
}

impl Backend for LocalBackend {
    fn attach(&self, subscriber: Weak<dyn Subscriber>) {
        let mut subscribers = self
            .inner
            .subscribers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = subscribers.get_mut(self.node_number()) {
            if slot.as_ref().is_some_and(|old| {
                old.strong_count() > 0 && !std::ptr::addr_eq(old.as_ptr(), subscriber.as_ptr())
            }) {
                tracing::error!(
                    node = self.node_number(),
                    "a LocalBackend node attached twice: the first server no longer receives its rooms; give each server its own LocalBackend::node()"
                );
            }
            *slot = Some(subscriber);
        }
    }

    fn publish(
        &self,
        room: &str,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<Position, BackendError>> {
        self.publish_counted(room, payload).0
    }

    fn publish_counted(
        &self,
        room: &str,
        payload: Bytes,
    ) -> (BoxFuture<'static, Result<Position, BackendError>>, usize) {
        let (position, accepted) = self.inner.publish(room, payload);
        (Box::pin(std::future::ready(Ok(position))), accepted)
    }

    fn subscribe(&self, room: &str) -> BoxFuture<'static, Result<Position, BackendError>> {
        Box::pin(std::future::ready(Ok(self.subscribe_now(room))))
    }

    fn unsubscribe(&self, room: &str) {
        self.inner.unsubscribe(room, self.node_number());
    }

    fn history(
        &self,
        room: &str,
        after: Position,
    ) -> BoxFuture<'static, Result<History, BackendError>> {
        Box::pin(std::future::ready(Ok(self.inner.history(room, after))))
    }

    fn state(&self) -> watch::Receiver<BackendState> {
        self.inner.state.subscribe()
    }

    fn window(&self) -> HistoryWindow {
        self.inner.window
    }

    fn presence_config(&self) -> PresenceConfig {
        self.inner.presence_config()
    }

    fn presence_set(
        &self,
        room: &str,
        member: &str,
        conn: u64,
        state: Bytes,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        Box::pin(std::future::ready(
            self.presence_set_now(room, member, conn, state),
        ))
    }

    fn presence_linger(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        Box::pin(std::future::ready(
            self.presence_owned(room, member, conn, |inner, room, member| {
                let linger = inner.presence_config().linger;
                if let Some(present) = room
                    .presence
                    .as_mut()
                    .and_then(|p| p.members.get_mut(member))
                {
                    present.linger = Some(Instant::now() + linger);
                }
            })
            .map(|_| ()),
        ))
    }

    fn presence_leave(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        Box::pin(std::future::ready(self.presence_owned(
            room,
            member,
            conn,
            |inner, room, member| {
                if let Some(presence) = room.presence.as_mut() {
                    presence.members.remove(member);
                    if presence.members.is_empty() {
                        room.presence = None;
                    }
                }
                inner.announce(room, PresenceKind::Leave, member, b"")
            },
        )))
    }

    fn presence_snapshot(
        &self,
        room: &str,
    ) -> BoxFuture<'static, Result<PresenceSnapshot, BackendError>> {
        Box::pin(std::future::ready(self.presence_snapshot_now(room)))
    }
}

impl LocalBackend {
    /// [`Backend::presence_set`] without the future.
    pub fn presence_set_now(
        &self,
        name: &str,
        member: &str,
        conn: u64,
        state: Bytes,
    ) -> Result<Option<Position>, BackendError> {
        if !self.life.alive() {
            return Err(BackendError::Closed);
        }
        check_member_key(member).map_err(|error| BackendError::Refused {
            error: error.to_string(),
        })?;
        let config = self.inner.presence_config();
        if state.len() > config.max_state_bytes {
            return Err(BackendError::Refused {
                error: format!(
                    "a presence state is at most {} bytes, not {}",
                    config.max_state_bytes,
                    state.len()
                ),
            });
        }
        let node = self.node_number();
        let room = self.inner.room(name);
        let mut room = lock(&room);
        let now = Instant::now();
        self.inner.sweep_presence(&mut room, now);
        let presence = room.presence.get_or_insert_with(Box::default);
        let kind = match presence.members.get_mut(member) {
            Some(present) => {
                present.node = node;
                present.conn = conn;
                present.linger = None;
                if present.state == state {
                    None
                } else {
                    present.state = state.clone();
                    Some(PresenceKind::Update)
                }
            }
            None => {
                if presence.members.len() >= config.max_members {
                    if presence.members.is_empty() {
                        room.presence = None;
                    }
                    return Err(BackendError::Refused {
                        error: format!(
                            "room `{name}` holds {} present members already, the most it may",
                            config.max_members
                        ),
                    });
                }
                presence.members.insert(
                    Arc::from(member),
                    Present {
                        state: state.clone(),
                        node,
                        conn,
                        linger: None,
                    },
                );
                Some(PresenceKind::Join)
            }
        };
        presence.leases.insert(node, now + config.lease);
        let position = kind.map(|kind| self.inner.announce(&mut room, kind, member, &state));
        drop(room);
        self.start_renewing(config);
        Ok(position)
    }

    /// [`Backend::presence_snapshot`] without the future.
    pub fn presence_snapshot_now(&self, name: &str) -> Result<PresenceSnapshot, BackendError> {
        if !self.life.alive() {
            return Err(BackendError::Closed);
        }
        let room = self.inner.room(name);
        let mut room = lock(&room);
        self.inner.sweep_presence(&mut room, Instant::now());
        let members = room
            .presence
            .as_ref()
            .map(|p| {
                p.members
                    .iter()
                    .map(|(member, present)| PresenceEntry {
                        member: member.clone(),
                        state: present.state.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(PresenceSnapshot {
            position: room.position(),
            members,
        })
    }

    /// Runs `then` on the room when connection `conn` of this node owns
    /// `member` there; `None` otherwise.
    fn presence_owned<T>(
        &self,
        name: &str,
        member: &str,
        conn: u64,
        then: impl FnOnce(&Inner, &mut Room, &str) -> T,
    ) -> Result<Option<T>, BackendError> {
        if !self.life.alive() {
            return Err(BackendError::Closed);
        }
        let node = self.node_number();
        let Some(room) = self.inner.lock_rooms().map.get(name).cloned() else {
            return Ok(None);
        };
        let mut room = lock(&room);
        let owned = room
            .presence
            .as_ref()
            .and_then(|p| p.members.get(member))
            .is_some_and(|p| p.node == node && p.conn == conn);
        Ok(owned.then(|| then(&self.inner, &mut room, member)))
    }

    /// Starts this node's lease renewer (once, and only inside a tokio
    /// runtime: without one nothing could await the presence calls'
    /// results either, and the leases simply run out).
    fn start_renewing(&self, config: PresenceConfig) {
        if self.life.renewing.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.life.renewing.store(false, Ordering::SeqCst);
            return;
        };
        let inner = Arc::downgrade(&self.inner);
        let life = Arc::downgrade(&self.life);
        let every = config
            .renew_every()
            .max(std::time::Duration::from_millis(1));
        runtime.spawn(async move {
            let mut tick = tokio::time::interval_at(Instant::now() + every, every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (Some(inner), Some(life)) = (inner.upgrade(), life.upgrade()) else {
                    return;
                };
                if !life.alive() {
                    return;
                }
                inner.renew(life.node);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::GapKind;
    use super::*;

    /// Records what the backend delivers.
    #[derive(Default)]
    struct Recorder {
        seen: Mutex<Vec<(String, Position, Bytes)>>,
        gaps: Mutex<Vec<Gap>>,
    }

    impl Subscriber for Recorder {
        fn message(&self, message: &RoomMessage) {
            lock(&self.seen).push((
                message.room.to_string(),
                message.position,
                message.payload.clone(),
            ));
        }
        fn gap(&self, gap: &Gap) {
            lock(&self.gaps).push(gap.clone());
        }
    }

    fn attached(window: HistoryWindow) -> (LocalBackend, Arc<Recorder>) {
        let backend = LocalBackend::new(window);
        let recorder = Arc::new(Recorder::default());
        let weak: Weak<dyn Subscriber> = Arc::downgrade(&(recorder.clone() as Arc<dyn Subscriber>));
        backend.attach(weak);
        (backend, recorder)
    }

    fn window(max_messages: usize, max_age: Option<u64>) -> HistoryWindow {
        HistoryWindow {
            max_messages,
            max_age: max_age.map(Duration::from_secs),
        }
    }

    fn payload(n: u64) -> Bytes {
        Bytes::from(n.to_string())
    }

    fn seqs(history: &History) -> Vec<u64> {
        match history {
            History::Messages(messages) => messages.iter().map(|m| m.position.seq).collect(),
            History::Gap(gap) => panic!("expected messages, got {gap:?}"),
        }
    }

    #[test]
    fn sequences_start_at_one_per_room_and_only_subscribed_rooms_are_delivered() {
        let (backend, recorder) = attached(window(10, None));
        let start = backend.subscribe_now("a");
        assert_eq!(start.seq, 0);
        assert_ne!(start.epoch, 0);
        let a1 = backend.publish_now("a", payload(1));
        let b1 = backend.publish_now("b", payload(1));
        let a2 = backend.publish_now("a", payload(2));
        assert_eq!((a1.seq, a2.seq, b1.seq), (1, 2, 1));
        assert_eq!(a1.epoch, start.epoch);
        assert_ne!(a1.epoch, b1.epoch, "each room has its own epoch");
        let seen = lock(&recorder.seen).clone();
        assert_eq!(
            seen,
            vec![
                ("a".to_owned(), a1, payload(1)),
                ("a".to_owned(), a2, payload(2))
            ]
        );
        backend.unsubscribe("a");
        backend.publish_now("a", payload(3));
        assert_eq!(lock(&recorder.seen).len(), 2, "unsubscribed: not delivered");
    }

    #[test]
    fn nodes_share_rooms_but_not_subscriptions() {
        let (a, seen_a) = attached(window(10, None));
        let b = a.node();
        let seen_b = Arc::new(Recorder::default());
        let weak: Weak<dyn Subscriber> = Arc::downgrade(&(seen_b.clone() as Arc<dyn Subscriber>));
        b.attach(weak);
        a.subscribe_now("r");
        b.subscribe_now("r");
        let first = a.publish_now("r", payload(1));
        let second = b.publish_now("r", payload(2));
        assert_eq!((first.epoch, first.seq + 1), (second.epoch, second.seq));
        let seen = |r: &Recorder| -> Vec<u64> { lock(&r.seen).iter().map(|m| m.1.seq).collect() };
        assert_eq!(seen(&seen_a), [1, 2]);
        assert_eq!(seen(&seen_b), [1, 2]);
        b.unsubscribe("r");
        a.publish_now("r", payload(3));
        assert_eq!(seen(&seen_a), [1, 2, 3]);
        assert_eq!(seen(&seen_b), [1, 2], "node b left the room");
        assert_eq!(seqs(&b.history_now("r", first)), [2, 3]);
    }

    #[test]
    fn concurrent_publishers_are_delivered_in_sequence_order() {
        let (backend, recorder) = attached(window(100_000, None));
        backend.subscribe_now("room");
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                let backend = backend.clone();
                std::thread::spawn(move || {
                    (0..2_000u64)
                        .map(|i| backend.publish_now("room", payload(t * 10_000 + i)).seq)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut assigned: Vec<u64> = Vec::new();
        for thread in threads {
            let seqs = thread.join().expect("publisher thread");
            // Each publisher's own messages are in its call order.
            assert!(seqs.windows(2).all(|w| w[0] < w[1]));
            assigned.extend(seqs);
        }
        assigned.sort_unstable();
        assert_eq!(
            assigned,
            (1..=8_000).collect::<Vec<_>>(),
            "every sequence number once"
        );
        let delivered: Vec<u64> = lock(&recorder.seen).iter().map(|(_, p, _)| p.seq).collect();
        assert_eq!(
            delivered,
            (1..=8_000).collect::<Vec<_>>(),
            "delivered in one order"
        );
        // The history holds the same order with the same payloads.
        let history = backend.history_now("room", Position::START);
        let History::Messages(messages) = history else {
            panic!("expected messages");
        };
        let delivered: Vec<Bytes> = lock(&recorder.seen)
            .iter()
            .map(|(_, _, b)| b.clone())
            .collect();
        let replayed: Vec<Bytes> = messages.into_iter().map(|m| m.payload).collect();
        assert_eq!(replayed, delivered);
    }

    #[test]
    fn history_within_the_count_window_and_the_gap_beyond() {
        let (backend, _) = attached(window(4, None));
        let start = backend.subscribe_now("r");
        for n in 1..=10 {
            backend.publish_now("r", payload(n));
        }
        let at = |seq| Position {
            epoch: start.epoch,
            seq,
        };
        // Held: 7..=10.
        assert_eq!(seqs(&backend.history_now("r", at(6))), vec![7, 8, 9, 10]);
        assert_eq!(seqs(&backend.history_now("r", at(8))), vec![9, 10]);
        assert_eq!(seqs(&backend.history_now("r", at(10))), Vec::<u64>::new());
        let History::Messages(messages) = backend.history_now("r", at(8)) else {
            panic!("expected messages");
        };
        assert_eq!(messages[0].payload, payload(9));
        assert_eq!(
            backend.history_now("r", at(5)),
            History::Gap(Gap {
                room: Arc::from("r"),
                after: at(5),
                current: at(10),
                kind: GapKind::Trimmed { oldest: Some(7) },
            })
        );
        assert!(matches!(
            backend.history_now("r", Position::START),
            History::Gap(Gap {
                kind: GapKind::Trimmed { oldest: Some(7) },
                ..
            })
        ));
    }

    #[test]
    fn another_epoch_or_a_position_ahead_is_a_reset() {
        let (backend, _) = attached(window(4, None));
        let start = backend.subscribe_now("r");
        backend.publish_now("r", payload(1));
        let other_epoch = Position {
            epoch: start.epoch + 1,
            seq: 1,
        };
        let ahead = Position {
            epoch: start.epoch,
            seq: 2,
        };
        for after in [other_epoch, ahead] {
            assert_eq!(
                backend.history_now("r", after),
                History::Gap(Gap {
                    room: Arc::from("r"),
                    after,
                    current: Position {
                        epoch: start.epoch,
                        seq: 1
                    },
                    kind: GapKind::Reset,
                })
            );
        }
        // A room this backend has no state for.
        let History::Gap(gap) = backend.history_now("never", ahead) else {
            panic!("expected a gap");
        };
        assert_eq!((gap.kind, gap.current), (GapKind::Reset, Position::START));
        assert_eq!(
            backend.history_now("never", Position::START),
            History::Messages(Vec::new())
        );
        // Another process (another backend) gives other epochs.
        let (other, _) = attached(window(4, None));
        assert_ne!(other.subscribe_now("r").epoch, start.epoch);
    }

    #[tokio::test(start_paused = true)]
    async fn history_within_the_time_window() {
        let (backend, _) = attached(window(100, Some(60)));
        let start = backend.subscribe("r").await.expect("in-process subscribe");
        let at = |seq| Position {
            epoch: start.epoch,
            seq,
        };
        for n in 1..=3 {
            backend.publish("r", payload(n)).await.expect("publish");
        }
        tokio::time::advance(Duration::from_secs(40)).await;
        for n in 4..=5 {
            backend.publish("r", payload(n)).await.expect("publish");
        }
        let history = backend.history("r", at(0)).await.expect("history");
        assert_eq!(seqs(&history), vec![1, 2, 3, 4, 5]);
        // 61 s after the first three: they left the window.
        tokio::time::advance(Duration::from_secs(21)).await;
        assert_eq!(seqs(&backend.history_now("r", at(3))), vec![4, 5]);
        assert_eq!(
            backend.history("r", at(2)).await.expect("history"),
            History::Gap(Gap {
                room: Arc::from("r"),
                after: at(2),
                current: at(5),
                kind: GapKind::Trimmed { oldest: Some(4) },
            })
        );
        // And then everything did: the window is empty, the room's position stays.
        tokio::time::advance(Duration::from_secs(40)).await;
        assert_eq!(seqs(&backend.history_now("r", at(5))), Vec::<u64>::new());
        assert!(matches!(
            backend.history_now("r", at(4)),
            History::Gap(Gap {
                kind: GapKind::Trimmed { oldest: None },
                ..
            })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn rooms_without_subscribers_or_history_are_dropped() {
        let (backend, _) = attached(window(10, Some(60)));
        let first = backend.subscribe_now("r");
        backend.publish_now("r", payload(1));
        backend.unsubscribe("r");
        // Its message is in the window: kept for replay.
        assert_eq!(backend.room_count(), 1);
        assert_eq!(
            seqs(&backend.history_now(
                "r",
                Position {
                    epoch: first.epoch,
                    seq: 0
                }
            )),
            vec![1]
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        // Creating rooms sweeps, amortized: publish to many one-off rooms.
        for n in 0..200 {
            backend.publish_now(&format!("once-{n}"), payload(n));
        }
        tokio::time::advance(Duration::from_secs(61)).await;
        for n in 0..200 {
            backend.publish_now(&format!("twice-{n}"), payload(n));
        }
        assert!(
            backend.room_count() <= 2 * 200 + SWEEP_FLOOR,
            "rooms are swept: {}",
            backend.room_count()
        );
        // "r" was dropped: a new epoch, and its old position is a reset.
        let again = backend.subscribe_now("r");
        assert_ne!(again.epoch, first.epoch);
        assert!(matches!(
            backend.history_now(
                "r",
                Position {
                    epoch: first.epoch,
                    seq: 1
                }
            ),
            History::Gap(Gap {
                kind: GapKind::Reset,
                ..
            })
        ));
        // Without history or subscribers, a room goes at once.
        backend.unsubscribe("r");
        let (counting, _) = attached(window(0, None));
        counting.subscribe_now("x");
        counting.publish_now("x", payload(1));
        assert_eq!(counting.room_count(), 1);
        counting.unsubscribe("x");
        assert_eq!(counting.room_count(), 0);
    }

    fn presence_events(recorder: &Recorder) -> Vec<(PresenceKind, String, Vec<u8>)> {
        lock(&recorder.seen)
            .iter()
            .filter_map(|(_, _, payload)| {
                let event = PresenceEvent::parse(payload)?;
                Some((event.kind, event.member.to_owned(), event.state.to_vec()))
            })
            .collect()
    }

    fn small_presence() -> PresenceConfig {
        PresenceConfig {
            linger: Duration::from_secs(15),
            lease: Duration::from_secs(9),
            max_members: 2,
            max_state_bytes: 8,
        }
    }

    fn second_node(of: &LocalBackend) -> (LocalBackend, Arc<Recorder>) {
        let node = of.node();
        let recorder = Arc::new(Recorder::default());
        let weak: Weak<dyn Subscriber> = Arc::downgrade(&(recorder.clone() as Arc<dyn Subscriber>));
        node.attach(weak);
        (node, recorder)
    }

    #[tokio::test(start_paused = true)]
    async fn presence_joins_updates_and_leaves_as_room_messages() {
        let (backend, recorder) = attached(window(100, None));
        let backend = backend.with_presence(small_presence());
        let start = backend.subscribe_now("r");
        let join = backend
            .presence_set("r", "ann", 1, Bytes::from_static(b"s1"))
            .await
            .expect("join");
        assert_eq!(join.map(|p| p.seq), Some(1), "a join takes a position");
        assert_eq!(
            backend
                .presence_set("r", "ann", 1, Bytes::from_static(b"s1"))
                .await,
            Ok(None),
            "the same state again: no event"
        );
        backend.publish_now("r", payload(7));
        let update = backend
            .presence_set("r", "ann", 1, Bytes::from_static(b"s2"))
            .await
            .expect("update");
        assert_eq!(update.map(|p| p.seq), Some(3));
        backend
            .presence_set("r", "bob", 2, Bytes::from_static(b"b"))
            .await
            .expect("second member");
        // The snapshot: the members by key, at the room's position.
        let snapshot = backend.presence_snapshot("r").await.expect("snapshot");
        assert_eq!(
            snapshot.position,
            Position {
                epoch: start.epoch,
                seq: 4
            }
        );
        let members: Vec<(&str, &[u8])> = snapshot
            .members
            .iter()
            .map(|e| (&*e.member, &e.state[..]))
            .collect();
        assert_eq!(members, [("ann", &b"s2"[..]), ("bob", &b"b"[..])]);
        // Only the owning connection leaves a member.
        assert_eq!(backend.presence_leave("r", "ann", 2).await, Ok(None));
        let left = backend.presence_leave("r", "ann", 1).await.expect("leave");
        assert_eq!(left.map(|p| p.seq), Some(5));
        assert_eq!(
            presence_events(&recorder),
            [
                (PresenceKind::Join, "ann".to_owned(), b"s1".to_vec()),
                (PresenceKind::Update, "ann".to_owned(), b"s2".to_vec()),
                (PresenceKind::Join, "bob".to_owned(), b"b".to_vec()),
                (PresenceKind::Leave, "ann".to_owned(), Vec::new()),
            ]
        );
        // The events are in the history like any message.
        let History::Messages(history) = backend.history_now("r", start) else {
            panic!("expected messages");
        };
        assert_eq!(history.len(), 5);
        assert_eq!(history[1].payload, payload(7));
    }

    #[tokio::test(start_paused = true)]
    async fn presence_is_bounded() {
        let (backend, recorder) = attached(window(100, None));
        let backend = backend.with_presence(small_presence());
        backend.subscribe_now("r");
        let refused = |r: Result<Option<Position>, BackendError>| {
            matches!(r, Err(BackendError::Refused { .. }))
        };
        assert!(refused(
            backend
                .presence_set("r", "ann", 1, Bytes::from(vec![0u8; 9]))
                .await
        ));
        assert!(refused(
            backend.presence_set("r", "", 1, Bytes::new()).await
        ));
        assert!(refused(
            backend.presence_set("r", "a\nb", 1, Bytes::new()).await
        ));
        for (conn, member) in [(1, "ann"), (2, "bob")] {
            backend
                .presence_set("r", member, conn, Bytes::new())
                .await
                .expect("room not full yet");
        }
        assert!(
            refused(backend.presence_set("r", "cy", 3, Bytes::new()).await),
            "a third member is refused"
        );
        // A member present already may still change its state.
        assert!(
            backend
                .presence_set("r", "bob", 2, Bytes::from_static(b"x"))
                .await
                .is_ok()
        );
        assert_eq!(presence_events(&recorder).len(), 3);
        // A backend without presence refuses (the contract's default).
        assert_eq!(
            backend.presence_config().max_members,
            2,
            "the configuration is the backend's"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_lingering_member_taken_over_in_time_does_not_flicker() {
        let (a, seen_a) = attached(window(100, None));
        let a = a.with_presence(small_presence());
        let (b, _) = second_node(&a);
        a.subscribe_now("r");
        a.presence_set("r", "ann", 1, Bytes::from_static(b"s"))
            .await
            .expect("join on a");
        a.presence_linger("r", "ann", 1).await.expect("linger");
        tokio::time::advance(Duration::from_secs(10)).await;
        // Back through node b within the linger, with the same state: nothing.
        assert_eq!(
            b.presence_set("r", "ann", 7, Bytes::from_static(b"s"))
                .await,
            Ok(None)
        );
        // Node a's old connection no longer owns it.
        assert_eq!(a.presence_leave("r", "ann", 1).await, Ok(None));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(
            presence_events(&seen_a),
            [(PresenceKind::Join, "ann".to_owned(), b"s".to_vec())],
            "no leave, no second join: b renews its lease"
        );
        // Lingering out: removed by a sweep after the linger, not before.
        b.presence_linger("r", "ann", 7).await.expect("linger");
        tokio::time::sleep(Duration::from_secs(14)).await;
        assert_eq!(presence_events(&seen_a).len(), 1);
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(
            presence_events(&seen_a).last(),
            Some(&(PresenceKind::Leave, "ann".to_owned(), Vec::new()))
        );
        assert!(
            a.presence_snapshot_now("r")
                .expect("snapshot")
                .members
                .is_empty()
        );
    }

    /// A node that stops (killed, or every handle dropped) has its
    /// members removed by another node's sweep within lease + renew_every,
    /// once each.
    #[tokio::test(start_paused = true)]
    async fn a_dead_nodes_members_vanish_within_the_lease() {
        for kill in [true, false] {
            let (a, seen_a) = attached(window(100, None));
            let a = a.with_presence(PresenceConfig {
                max_members: 10,
                ..small_presence()
            });
            let (b, seen_b) = second_node(&a);
            let (c, _) = second_node(&a);
            a.subscribe_now("r");
            a.presence_set("r", "ann", 1, Bytes::new())
                .await
                .expect("a");
            c.presence_set("r", "cy", 1, Bytes::new()).await.expect("c");
            b.presence_set("r", "bob", 1, Bytes::new())
                .await
                .expect("b");
            tokio::time::sleep(Duration::from_secs(20)).await;
            assert_eq!(presence_events(&seen_a).len(), 3, "live nodes renew");
            let died = Instant::now();
            if kill {
                b.kill();
                assert_eq!(
                    b.presence_set("r", "bob", 1, Bytes::new()).await,
                    Err(BackendError::Closed)
                );
            } else {
                drop(b);
                drop(seen_b);
            }
            let config = small_presence();
            let bound = config.lease + config.renew_every();
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if presence_events(&seen_a).len() == 4 {
                    break;
                }
                assert!(died.elapsed() <= bound, "bob still present after {bound:?}");
            }
            assert_eq!(
                presence_events(&seen_a).last(),
                Some(&(PresenceKind::Leave, "bob".to_owned(), Vec::new()))
            );
            // Two live sweepers, one leave.
            tokio::time::sleep(Duration::from_secs(30)).await;
            assert_eq!(presence_events(&seen_a).len(), 4);
            let members: Vec<String> = a
                .presence_snapshot_now("r")
                .expect("snapshot")
                .members
                .iter()
                .map(|e| e.member.to_string())
                .collect();
            assert_eq!(members, ["ann", "cy"]);
        }
    }

    #[test]
    fn a_dropped_subscriber_is_not_called() {
        let backend = LocalBackend::new(window(4, None));
        {
            let recorder: Arc<dyn Subscriber> = Arc::new(Recorder::default());
            backend.attach(Arc::downgrade(&recorder));
        }
        backend.subscribe_now("r");
        assert_eq!(backend.publish_now("r", payload(1)).seq, 1);
        assert_eq!(*backend.state().borrow(), BackendState::Connected);
    }
}
