//! Rooms: named sets of connections that receive a broadcast, on this node
//! and, through the broadcast backend, on every node sharing it (docs/SCALE.md,
//! docs/RUNTIME.md "Rooms across nodes").
//!
//! A broadcast publishes one canonical binary frame to the backend and
//! returns; the backend hands every subscribed node (this one included)
//! each room message with its position, in order, and the node fans it out
//! to its members as `_h` envelopes (SPEC §9.7), converted per peer version.
//! A member that joined with a resume position (`_i`) is first sent what it
//! missed from the backend's history; live messages that arrive meanwhile
//! wait in its replay buffer, so none is sent twice or out of order.
//!
//! While the node's subscription to a room is being made (a round trip to
//! Redis), this node's own publishes to it are held and published once the
//! subscription is in effect: a member that joined and then sees the
//! application broadcast gets the broadcast, with either backend.
//!
//! Presence (SPEC §9.8) lives in the backend; the rooms keep only which of
//! this node's connections are present in which room, as whom. A present
//! member's join is a presence set, then a snapshot (`_m` + `_n`) and the
//! room's messages after the snapshot's position through the replay
//! machinery; presence events come from the backend as room messages and go
//! out as `_h` + `_l`. A closed connection's members linger; a leave
//! removes them at once.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::{Bytes as WsBytes, Message};

use super::backend::{
    Backend, BackendError, BoxFuture, Bytes, Gap, GapKind, History, InvalidMemberKey, Position,
    PresenceEvent, PresenceSnapshot, RoomMessage, Subscriber,
};
use super::downgrade::{Converted, Older};
use super::member::ConnectionState;
use super::metrics::{Conversion, Recorder};
use crate::control::{
    Control, ErrorNotice, GapNotice, GapReason, PresenceHead, PresenceSnapshotNotice, RoomEnvelope,
    error_code,
};
use crate::frame::{Prefix, to_message};
use crate::{Encoding, Header, Limits, Package, Protocol, Violation};

/// Live messages held for one member while its replay is read: beyond this,
/// the replay ends in a gap (the member's queue would overflow anyway).
const MAX_PENDING: usize = 4096;

/// Publishes one room may hold while its subscription is on its way (as
/// many as the Redis backend queues): beyond, a publish is refused with
/// `Overloaded` rather than kept in a list without bound.
const MAX_HELD: usize = 4096;

/// The marker of a payload that names a connection to skip
/// ([`Rooms::publish`] with `except`): no header starts with a zero byte.
const EXCEPT_MARK: u8 = 0;

/// Why a room message could not be published ([`super::Connection::publish`],
/// [`super::ServerHandle::publish`]).
#[derive(Debug, Clone, PartialEq)]
pub enum PublishError {
    /// The message breaks one of the schema's constraints, so every
    /// member's decoder would reject it; nothing was published.
    Invalid(crate::Violation),
    /// The broadcast backend failed (see [`BackendError`] for whether it
    /// may have been published anyway).
    Backend(BackendError),
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PublishError::Invalid(violation) => write!(f, "not published: {violation}"),
            PublishError::Backend(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PublishError {}

/// Why a presence call was refused ([`super::Connection::join_presence`],
/// [`super::Connection::set_presence`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PresenceError {
    /// The value is not of a presence message version (the schema's
    /// `presence` declarations, `Package::PRESENCE`): its header.
    NotPresence(Header),
    /// The state breaks one of the schema's constraints.
    Invalid(Violation),
    /// The member key is not one presence accepts.
    Member(InvalidMemberKey),
    /// The state's binary frame is longer than the backend's
    /// `max_state_bytes`.
    TooLarge {
        /// Its length.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The connection is not a present member of the room
    /// (`set_presence` before `join_presence`).
    NotPresent,
    /// The connection is present in the room already, as this member.
    AlreadyPresent {
        /// The member it is present as.
        member: String,
    },
    /// The connection is closing.
    Closed,
    /// The backend refused (a full room) or failed.
    Backend(BackendError),
}

impl fmt::Display for PresenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresenceError::NotPresence(header) => write!(
                f,
                "message {header} is not a presence message (declare it with `presence` in the schema)"
            ),
            PresenceError::Invalid(violation) => write!(f, "presence state refused: {violation}"),
            PresenceError::Member(invalid) => invalid.fmt(f),
            PresenceError::TooLarge { len, max } => write!(
                f,
                "a presence state is at most {max} bytes in binary, not {len}"
            ),
            PresenceError::NotPresent => {
                f.write_str("the connection is not a present member of the room")
            }
            PresenceError::AlreadyPresent { member } => write!(
                f,
                "the connection is present in the room already, as `{member}`"
            ),
            PresenceError::Closed => f.write_str("the connection is closing"),
            PresenceError::Backend(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for PresenceError {}

/// Sends one frame (a room message's, or a presence state's) after
/// `prefix` to members: `fan_out::<P>` for the server's package.
type FanOut =
    fn(&Prefix<'_>, &[u8], &[Arc<ConnectionState>], &Limits, &AtomicU64, &Recorder) -> usize;

/// The frames of one connection's presence snapshot, `_m` then the `_n`s:
/// `snapshot_frames::<P>` for the server's package.
type SnapshotFrames =
    fn(&str, &PresenceSnapshot, &ConnectionState, &AtomicU64, &Recorder) -> Vec<Message>;

/// One room as the inspector shows it.
#[derive(Debug)]
pub(crate) struct RoomView {
    pub(crate) name: String,
    /// Members by connection id, with the last position each was sent.
    pub(crate) members: Vec<(u64, Position)>,
    pub(crate) subscription: &'static str,
    /// Publishes waiting for the subscription.
    pub(crate) held: usize,
    /// This node's connections present in the room.
    pub(crate) present: usize,
}

/// [`Rooms::inspect`]: the rooms, and the rooms of each connection in any.
#[derive(Debug)]
pub(crate) struct RoomsView {
    pub(crate) rooms: Vec<RoomView>,
    pub(crate) joined: HashMap<u64, Vec<String>>,
}

/// Every room of one server (one node).
pub(crate) struct Rooms {
    /// Itself, for the backend's calls (which come by reference) that start
    /// tasks.
    me: Weak<Rooms>,
    rooms: Mutex<Table>,
    backend: Arc<dyn Backend>,
    fan_out: FanOut,
    snapshot_frames: SnapshotFrames,
    /// [`super::ServerConfig::presence_interval`].
    presence_interval: Duration,
    /// Random per node: with a connection id, names the connection a
    /// `broadcast_to_others` skips, whichever node delivers.
    node: u64,
    /// The server's count of application panics (a version conversion
    /// that panicked for a member counts).
    panics: Arc<AtomicU64>,
    /// The server's metrics.
    metrics: Arc<Recorder>,
}

impl std::fmt::Debug for Rooms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rooms")
            .field("rooms", &self.lock().rooms.len())
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

/// Most rooms a connection may hold resume positions (`_i`) for.
pub(crate) const MAX_RESUMES: usize = 64;

/// Rooms and the positions a client resumes them from.
type Resumes = Vec<(Box<str>, Position)>;

/// The rooms and their members, both ways, under one lock: each room's
/// members, and each connection's rooms (kept with them, so a closed
/// connection leaves its rooms without a scan of every room).
#[derive(Default)]
struct Table {
    rooms: HashMap<Arc<str>, Room>,
    /// Only connections in a room or holding a resume position have an
    /// entry: an idle connection costs the rooms nothing.
    connections: HashMap<u64, Memberships>,
    /// The rooms each connection is present in; only connections with
    /// presence have an entry.
    presence: HashMap<u64, Vec<Present>>,
}

/// One connection's presence in one room.
#[derive(Debug)]
struct Present {
    room: Arc<str>,
    member: Arc<str>,
    /// A state set while the last one's interval runs: sent when it ends
    /// (a newer one replaces it).
    pending: Option<Bytes>,
    /// A set went to the backend less than an interval ago.
    busy: bool,
}

impl Table {
    fn present(&mut self, id: u64, room: &str) -> Option<&mut Present> {
        self.presence
            .get_mut(&id)?
            .iter_mut()
            .find(|p| &*p.room == room)
    }

    /// Forgets the connection's presence in `room`: the member, if any.
    fn forget_present(&mut self, id: u64, room: &str) -> Option<Arc<str>> {
        let list = self.presence.get_mut(&id)?;
        let at = list.iter().position(|p| &*p.room == room)?;
        let gone = list.swap_remove(at);
        if list.is_empty() {
            self.presence.remove(&id);
        }
        Some(gone.member)
    }

    fn has_presence(&self, id: u64, room: &str) -> bool {
        self.presence
            .get(&id)
            .is_some_and(|list| list.iter().any(|p| &*p.room == room))
    }
}

/// The rooms of one connection, and the positions its client resumes from.
#[derive(Debug, Default)]
struct Memberships {
    /// Rooms this connection is in (the same as the rooms whose members
    /// hold it).
    joined: Vec<Arc<str>>,
    /// `_i` positions not yet used by a join. Boxed: a connection whose
    /// client sends none pays a pointer.
    resume: Option<Box<Resumes>>,
}

impl Memberships {
    /// The resume position for `room`, which a join uses up.
    fn take_resume(&mut self, room: &str) -> Option<Position> {
        let resume = self.resume.as_mut()?;
        let at = resume.iter().position(|(r, _)| &**r == room)?;
        let (_, position) = resume.swap_remove(at);
        if resume.is_empty() {
            self.resume = None;
        }
        Some(position)
    }

    /// Keeps `position` for `room` (replacing an earlier one); false when
    /// [`MAX_RESUMES`] rooms are held already.
    fn set_resume(&mut self, room: &str, position: Position) -> bool {
        let resume = self.resume.get_or_insert_with(Box::default);
        if let Some(slot) = resume.iter_mut().find(|(r, _)| **r == *room) {
            slot.1 = position;
            return true;
        }
        if resume.len() >= MAX_RESUMES {
            return false;
        }
        resume.push((room.into(), position));
        true
    }

    fn is_empty(&self) -> bool {
        self.joined.is_empty() && self.resume.is_none()
    }
}

struct Room {
    members: HashMap<u64, Member>,
    subscription: Subscription,
    /// This node's publishes waiting for the subscription (see
    /// [`Subscription::holds`]), published in order when it answers.
    held: Vec<Held>,
}

impl Room {
    fn new() -> Self {
        Room {
            members: HashMap::new(),
            subscription: Subscription::Unsubscribed,
            held: Vec::new(),
        }
    }
}

/// A publish waiting for the room's subscription, and its caller.
struct Held {
    payload: Bytes,
    reply: oneshot::Sender<Result<Position, BackendError>>,
}

/// Where the node's subscription to one room is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subscription {
    /// Not in effect and no `subscribe` call on its way: a room no member
    /// joined yet, or one whose last attempt failed and waits to retry
    /// (publishes go to the backend meanwhile, and fail as they would have
    /// without the wait).
    Unsubscribed,
    /// `subscribe` was called and has not answered yet.
    Subscribing,
    Subscribed,
    /// The last member left and `unsubscribe` is being called; a member
    /// joining meanwhile makes the leaver subscribe again. `hold`: a
    /// subscription is wanted (a member joined meanwhile, or the one being
    /// made had not answered), so publishes wait.
    Unsubscribing {
        hold: bool,
    },
}

impl Subscription {
    /// Whether this node's publishes to the room wait for the subscription.
    fn holds(self) -> bool {
        matches!(
            self,
            Subscription::Subscribing | Subscription::Unsubscribing { hold: true }
        )
    }

    /// A `subscribe` call is (or is about to be) on its way.
    fn start_attempt(&mut self) {
        match *self {
            Subscription::Unsubscribed => *self = Subscription::Subscribing,
            Subscription::Unsubscribing { .. } => {
                *self = Subscription::Unsubscribing { hold: true }
            }
            Subscription::Subscribing | Subscription::Subscribed => {}
        }
    }

    /// The `subscribe` call answered (or failed): publishes go through.
    fn end_attempt(&mut self) {
        match *self {
            Subscription::Subscribing => *self = Subscription::Unsubscribed,
            Subscription::Unsubscribing { .. } => {
                *self = Subscription::Unsubscribing { hold: false };
            }
            Subscription::Unsubscribed | Subscription::Subscribed => {}
        }
    }
}

struct Member {
    conn: Arc<ConnectionState>,
    /// The last position sent to (or replayed for) this member.
    last: Position,
    /// Only while its resume is being replayed.
    replay: Option<Box<Replay>>,
}

struct Replay {
    after: Position,
    /// The history read has been started (or, for a member waiting for its
    /// presence snapshot, must not be yet).
    started: bool,
    /// Live messages delivered while the history is read.
    pending: Vec<RoomMessage>,
    overflow: bool,
    /// The node was subscribed when the member started waiting for its
    /// presence snapshot: every message after the snapshot's position is
    /// in `pending`, and no history needs reading.
    covered: bool,
}

/// What follows a member's presence snapshot ([`Rooms::finish_snapshot`]).
enum AfterSnapshot {
    /// Nothing now: the member is gone, or the subscription's settling
    /// reads its history.
    Wait,
    /// Deliver what was held meanwhile.
    Deliver,
    /// Read the history after the snapshot, then deliver what was held.
    Read,
}

impl Replay {
    /// A member whose live messages are held until its presence snapshot
    /// is sent; `started` keeps the subscription's settling from reading
    /// its history before the snapshot gives the position.
    fn awaiting_snapshot(subscribed: bool) -> Box<Self> {
        Box::new(Replay {
            after: Position::START,
            started: true,
            pending: Vec::new(),
            overflow: false,
            covered: subscribed,
        })
    }
}

/// Decodes at most this large a frame from the backend: it was encoded by a
/// server, not a client, so only a sanity bound applies.
fn backend_limits() -> Limits {
    Limits {
        max_frame_bytes: 64 * 1024 * 1024,
        max_collection_len: usize::MAX,
        max_string_bytes: usize::MAX,
        ..Limits::default()
    }
}

impl Rooms {
    pub(crate) fn new<P: Package>(
        backend: Arc<dyn Backend>,
        panics: Arc<AtomicU64>,
        metrics: Arc<Recorder>,
        presence_interval: Duration,
    ) -> Arc<Self> {
        let rooms = Arc::new_cyclic(|me| Rooms {
            me: me.clone(),
            rooms: Mutex::new(Table::default()),
            backend,
            fan_out: fan_out::<P>,
            snapshot_frames: snapshot_frames::<P>,
            presence_interval,
            node: rand::random(),
            panics,
            metrics,
        });
        let weak = Arc::downgrade(&(rooms.clone() as Arc<dyn Subscriber>));
        rooms.backend.attach(weak);
        rooms
    }

    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn join(self: &Arc<Self>, conn: &Arc<ConnectionState>, room: &str) {
        self.join_as(conn, room, false);
    }

    /// Joins the room; with `snapshot`, a member without a resume position
    /// waits (its live messages held) for a presence snapshot. Returns
    /// whether the connection was in the room already, and whether it waits
    /// for a snapshot.
    fn join_as(
        self: &Arc<Self>,
        conn: &Arc<ConnectionState>,
        room: &str,
        snapshot: bool,
    ) -> (bool, bool) {
        let (name, subscribe, replay, waits) = {
            let mut table = self.lock();
            let Table {
                rooms, connections, ..
            } = &mut *table;
            let name = match rooms.get_key_value(room) {
                Some((name, _)) => name.clone(),
                None => Arc::from(room),
            };
            let entry = rooms.entry(name.clone()).or_insert_with(Room::new);
            let subscribed = entry.subscription == Subscription::Subscribed;
            if let Some(member) = entry.members.get_mut(&conn.id) {
                // In the room already: a snapshot unless a replay (which
                // brings presence in step) is under way.
                let waits = snapshot && member.replay.is_none();
                if waits {
                    member.replay = Some(Replay::awaiting_snapshot(subscribed));
                }
                return (true, waits);
            }
            let memberships = connections.entry(conn.id).or_default();
            let resume = memberships.take_resume(room);
            memberships.joined.push(name.clone());
            let waits = snapshot && resume.is_none();
            let subscribe =
                entry.members.is_empty() && entry.subscription == Subscription::Unsubscribed;
            let replay = resume.is_some() && entry.subscription == Subscription::Subscribed;
            // Publishes wait from now on, until the subscription is in
            // effect (a room being unsubscribed is subscribed again by its
            // leaver).
            if subscribe || matches!(entry.subscription, Subscription::Unsubscribing { .. }) {
                entry.subscription.start_attempt();
            }
            let replay = if waits {
                Some(Replay::awaiting_snapshot(subscribed))
            } else {
                resume.map(|after| {
                    Box::new(Replay {
                        after,
                        started: replay,
                        pending: Vec::new(),
                        overflow: false,
                        covered: false,
                    })
                })
            };
            let replays = replay.as_ref().is_some_and(|r| r.started) && !waits;
            entry.members.insert(
                conn.id,
                Member {
                    conn: conn.clone(),
                    last: Position::START,
                    replay,
                },
            );
            (name, subscribe, replays, waits)
        };
        if subscribe {
            self.run(settle(self.clone(), name));
        } else if replay {
            self.run(replay_one(self.clone(), name, conn.clone()));
        }
        (false, waits)
    }

    /// Makes the connection a present member of the room as `member` with
    /// `state` (a presence message's binary frame): joins the room, sets the
    /// member in the backend, then (unless a resume replay brings presence
    /// in step) sends the snapshot and the room's messages after it.
    pub(crate) async fn join_presence(
        self: &Arc<Self>,
        conn: &Arc<ConnectionState>,
        room: &str,
        member: &str,
        state: Bytes,
    ) -> Result<(), PresenceError> {
        if conn.outbox.is_closing() {
            return Err(PresenceError::Closed);
        }
        {
            let mut table = self.lock();
            if let Some(present) = table.present(conn.id, room) {
                if &*present.member != member {
                    return Err(PresenceError::AlreadyPresent {
                        member: present.member.to_string(),
                    });
                }
                drop(table);
                return self.set_presence(conn, room, state);
            }
            table.presence.entry(conn.id).or_default().push(Present {
                room: Arc::from(room),
                member: Arc::from(member),
                pending: None,
                busy: true,
            });
        }
        let (was_in, waits) = self.join_as(conn, room, true);
        let set = self
            .backend
            .presence_set(room, member, conn.id, state)
            .await;
        let refused = match set {
            Err(error) => Some(PresenceError::Backend(error)),
            Ok(_) => self.recheck(conn, room, member).await,
        };
        if let Some(error) = refused {
            self.lock().forget_present(conn.id, room);
            if was_in {
                self.end_snapshot_wait(room, conn);
            } else {
                self.leave(conn.id, room);
            }
            return Err(error);
        }
        // A state set while joining goes out now.
        let pending = self.lock().present(conn.id, room).and_then(|present| {
            let pending = present.pending.take();
            present.busy = pending.is_some();
            pending.map(|state| (present.room.clone(), present.member.clone(), state))
        });
        if let Some((room, member, state)) = pending {
            self.run(flush_presence(
                self.clone(),
                conn.clone(),
                room,
                member,
                state,
            ));
        }
        if waits {
            snapshot_one(self.clone(), Arc::from(room), conn.clone()).await;
        }
        Ok(())
    }

    /// After a presence set reached the backend: `None` when the
    /// connection is still present in the room as `member`. Otherwise it
    /// closed or left meanwhile, and its linger or leave may have reached
    /// the backend before the set (which undid it): done again, so that no
    /// member stays present for a connection that is gone.
    async fn recheck(
        &self,
        conn: &ConnectionState,
        room: &str,
        member: &str,
    ) -> Option<PresenceError> {
        let present = self
            .lock()
            .present(conn.id, room)
            .is_some_and(|p| &*p.member == member);
        if conn.outbox.is_closing() {
            if let Err(error) = self.backend.presence_linger(room, member, conn.id).await {
                tracing::warn!(room, member, %error, "presence linger failed; the node's lease removes the member");
            }
            return Some(PresenceError::Closed);
        }
        if present {
            return None;
        }
        if let Err(error) = self.backend.presence_leave(room, member, conn.id).await {
            tracing::warn!(room, member, %error, "presence leave failed; the member lingers out instead");
        }
        Some(PresenceError::NotPresent)
    }

    /// Sets the state of the connection's member in the room, at most once
    /// per presence interval: a state set meanwhile waits, and a newer one
    /// replaces it.
    pub(crate) fn set_presence(
        self: &Arc<Self>,
        conn: &Arc<ConnectionState>,
        room: &str,
        state: Bytes,
    ) -> Result<(), PresenceError> {
        let start = {
            let mut table = self.lock();
            let Some(present) = table.present(conn.id, room) else {
                return Err(PresenceError::NotPresent);
            };
            if present.busy {
                present.pending = Some(state);
                return Ok(());
            }
            present.busy = true;
            Some((present.room.clone(), present.member.clone()))
        };
        if let Some((room, member)) = start {
            self.run(flush_presence(
                self.clone(),
                conn.clone(),
                room,
                member,
                state,
            ));
        }
        Ok(())
    }

    /// A member that waited for a snapshot that will not come goes live.
    fn end_snapshot_wait(self: &Arc<Self>, room: &str, conn: &Arc<ConnectionState>) {
        let room: Arc<str> = Arc::from(room);
        match self.finish_snapshot(&room, conn, None) {
            AfterSnapshot::Wait => {}
            AfterSnapshot::Deliver => {
                self.finish_replay(&room, conn, Ok(History::Messages(Vec::new())))
            }
            AfterSnapshot::Read => self.run(replay_one(self.clone(), room, conn.clone())),
        }
    }

    /// Sends the snapshot (when there is one) and sets the member's replay
    /// to start at its position: what comes next.
    fn finish_snapshot(
        &self,
        room: &str,
        conn: &Arc<ConnectionState>,
        snapshot: Option<PresenceSnapshot>,
    ) -> AfterSnapshot {
        let mut table = self.lock();
        let Some(entry) = table.rooms.get_mut(room) else {
            return AfterSnapshot::Wait;
        };
        let subscribed = entry.subscription == Subscription::Subscribed;
        let Some(member) = entry.members.get_mut(&conn.id) else {
            return AfterSnapshot::Wait;
        };
        let Some(replay) = member.replay.as_mut() else {
            return AfterSnapshot::Wait;
        };
        match snapshot {
            Some(snapshot) => {
                let frames =
                    (self.snapshot_frames)(room, &snapshot, conn, &self.panics, &self.metrics);
                let _ = conn.outbox.push_all(frames);
                replay.after = snapshot.position;
            }
            None => {
                // Live from the first message held (none were sent).
                replay.after = replay.pending.first().map_or(member.last, |m| Position {
                    epoch: m.position.epoch,
                    seq: m.position.seq.saturating_sub(1),
                });
            }
        }
        if replay.covered {
            // Everything after the snapshot was delivered to this node
            // since the member started waiting: no history to read.
            AfterSnapshot::Deliver
        } else if subscribed {
            replay.started = true;
            AfterSnapshot::Read
        } else {
            // The subscription's settling reads it once in effect.
            replay.started = false;
            AfterSnapshot::Wait
        }
    }

    /// The client's last position in a room (`_i`, SPEC §9.7). Kept for
    /// the join that replays from it when the connection is not in the
    /// room; false when [`MAX_RESUMES`] positions are kept already.
    ///
    /// For a room the connection is already in (the application joined it
    /// in `on_open`, before the client's `_i` arrived): replayed as at a
    /// join while nothing was sent to the member yet; otherwise the
    /// messages in between would come after later ones, so the client is
    /// told the gap instead.
    pub(crate) fn resume(
        self: &Arc<Self>,
        conn: &Arc<ConnectionState>,
        room: &str,
        after: Position,
    ) -> bool {
        let (name, start, gap) = {
            let mut table = self.lock();
            let Table {
                rooms, connections, ..
            } = &mut *table;
            let joined = rooms
                .get_key_value(room)
                .filter(|(_, entry)| entry.members.contains_key(&conn.id))
                .map(|(name, _)| name.clone());
            let (Some(name), Some(entry)) = (joined, rooms.get_mut(room)) else {
                return connections
                    .entry(conn.id)
                    .or_default()
                    .set_resume(room, after);
            };
            let subscribed = entry.subscription == Subscription::Subscribed;
            let Some(member) = entry.members.get_mut(&conn.id) else {
                return true;
            };
            if member.replay.is_some() {
                return true;
            }
            if member.last.is_start() {
                member.replay = Some(Box::new(Replay {
                    after,
                    started: subscribed,
                    pending: Vec::new(),
                    overflow: false,
                    covered: false,
                }));
                (name, subscribed, None)
            } else if after.epoch == member.last.epoch && after.seq >= member.last.seq {
                return true;
            } else {
                (name, false, Some(member.last))
            }
        };
        if let Some(current) = gap {
            push_gap(&self.metrics, conn, &name, GapReason::Trimmed, current);
        } else if start {
            self.run(replay_one(self.clone(), name, conn.clone()));
        }
        true
    }

    /// Runs `future` now if it completes at once (the in-process backend),
    /// else on the runtime.
    fn run(&self, future: impl Future<Output = ()> + Send + 'static) {
        let mut future = Box::pin(future);
        if (&mut future).now_or_never().is_some() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(future);
            }
            Err(_) => tracing::error!("rooms: a backend call needs a tokio runtime; dropped"),
        }
    }

    pub(crate) fn leave(self: &Arc<Self>, id: u64, room: &str) {
        let (emptied, member) = {
            let mut table = self.lock();
            let member = table.forget_present(id, room);
            let Table {
                rooms, connections, ..
            } = &mut *table;
            if let Some(memberships) = connections.get_mut(&id) {
                memberships.joined.retain(|r| &**r != room);
                if memberships.is_empty() {
                    connections.remove(&id);
                }
            }
            let name = rooms.get_key_value(room).map(|(name, _)| name.clone());
            match (name, rooms.get_mut(room)) {
                (Some(name), Some(entry)) => {
                    entry.members.remove(&id);
                    (Self::emptied(&name, entry), member)
                }
                _ => (None, member),
            }
        };
        if let Some(member) = member {
            let left = self.backend.presence_leave(room, &member, id);
            let room: Arc<str> = Arc::from(room);
            self.run(async move {
                if let Err(error) = left.await {
                    tracing::warn!(room = %room, member = %member, %error, "presence leave failed; the member lingers out instead");
                }
            });
        }
        if let Some(name) = emptied {
            self.unsubscribe(name);
        }
    }

    /// Removes a closed connection from every room it was in, and drops
    /// the positions it kept.
    pub(crate) fn leave_all(self: &Arc<Self>, id: u64) {
        let mut emptied = Vec::new();
        let present = {
            let mut table = self.lock();
            let present = table.presence.remove(&id).unwrap_or_default();
            let Table {
                rooms, connections, ..
            } = &mut *table;
            let Some(memberships) = connections.remove(&id) else {
                return self.linger(id, present);
            };
            for name in memberships.joined {
                if let Some(entry) = rooms.get_mut(&name) {
                    entry.members.remove(&id);
                    emptied.extend(Self::emptied(&name, entry));
                }
            }
            present
        };
        self.linger(id, present);
        for name in emptied {
            self.unsubscribe(name);
        }
    }

    /// A closed connection's members stay present for the backend's linger
    /// time: a client moved by a deploy comes back as the same member
    /// without the others seeing it leave.
    fn linger(&self, id: u64, present: Vec<Present>) {
        for Present { room, member, .. } in present {
            let lingered = self.backend.presence_linger(&room, &member, id);
            self.run(async move {
                if let Err(error) = lingered.await {
                    tracing::warn!(room = %room, member = %member, %error, "presence linger failed; the node's lease removes the member");
                }
            });
        }
    }

    /// Whether the room just lost its last member and must be unsubscribed.
    fn emptied(name: &Arc<str>, entry: &mut Room) -> Option<Arc<str>> {
        if !entry.members.is_empty()
            || matches!(entry.subscription, Subscription::Unsubscribing { .. })
        {
            return None;
        }
        entry.subscription = Subscription::Unsubscribing {
            hold: entry.subscription.holds(),
        };
        Some(name.clone())
    }

    /// Unsubscribes outside the lock (the backend delivers under its own
    /// locks, into ours), then drops the room or, if someone joined
    /// meanwhile, subscribes again.
    fn unsubscribe(self: &Arc<Self>, name: Arc<str>) {
        self.backend.unsubscribe(&name);
        let again = {
            let mut table = self.lock();
            let rooms = &mut table.rooms;
            match rooms.get_mut(&name) {
                Some(entry) if entry.members.is_empty() => {
                    // A subscription still on its way finds no room and
                    // releases nothing: what it held goes out now.
                    if let Some(room) = rooms.remove(&name) {
                        drop(table);
                        self.release(&name, room.held);
                    }
                    false
                }
                Some(entry) => {
                    entry.subscription = Subscription::Subscribing;
                    true
                }
                None => false,
            }
        };
        if again {
            self.run(settle(self.clone(), name));
        }
    }

    /// Whether the node's subscription to the room is in effect.
    pub(crate) fn is_subscribed(&self, room: &str) -> bool {
        self.lock()
            .rooms
            .get(room)
            .is_some_and(|r| r.subscription == Subscription::Subscribed)
    }

    /// Every room of this node with its members (id and last position
    /// sent), its subscription's state, and each connection's rooms: what
    /// the inspector shows, read under one lock so the two views agree.
    pub(crate) fn inspect(&self) -> RoomsView {
        let table = self.lock();
        let mut rooms: Vec<RoomView> = table
            .rooms
            .iter()
            .map(|(name, room)| {
                let mut members: Vec<(u64, Position)> =
                    room.members.iter().map(|(id, m)| (*id, m.last)).collect();
                members.sort_by_key(|(id, _)| *id);
                RoomView {
                    name: name.to_string(),
                    members,
                    subscription: match room.subscription {
                        Subscription::Unsubscribed => "unsubscribed",
                        Subscription::Subscribing => "subscribing",
                        Subscription::Subscribed => "subscribed",
                        Subscription::Unsubscribing { .. } => "unsubscribing",
                    },
                    held: room.held.len(),
                    present: room
                        .members
                        .keys()
                        .filter(|id| table.has_presence(**id, name))
                        .count(),
                }
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        let joined = table
            .connections
            .iter()
            .map(|(id, m)| (*id, m.joined.iter().map(|r| r.to_string()).collect()))
            .collect();
        RoomsView { rooms, joined }
    }

    pub(crate) fn len(&self, room: &str) -> usize {
        self.lock().rooms.get(room).map_or(0, |r| r.members.len())
    }

    /// The payload of a broadcast: the message's binary frame, preceded
    /// when a connection is to be skipped by a zero byte, this node's id
    /// and the connection's id.
    fn payload(&self, frame: Vec<u8>, except: Option<u64>) -> Bytes {
        match except {
            None => Bytes::from(frame),
            Some(id) => {
                let mut out = Vec::with_capacity(frame.len() + 17);
                out.push(EXCEPT_MARK);
                out.extend_from_slice(&self.node.to_le_bytes());
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&frame);
                Bytes::from(out)
            }
        }
    }

    /// Publishes `message` to the room on every node; the returned future
    /// gives its position. The publish is started before this returns (so
    /// one caller's publishes keep their order); with the in-process
    /// backend the members have their frames by then.
    pub(crate) fn publish<P: Package>(
        &self,
        room: &str,
        message: &P::Server,
        except: Option<u64>,
    ) -> impl Future<Output = Result<Position, PublishError>> + Send + 'static + use<P> {
        let started = self.start::<P>(room, message, except);
        async move {
            let (published, _) = started.map_err(PublishError::Invalid)?;
            published.await.map_err(PublishError::Backend)
        }
    }

    /// Starts a publish: its future, and how many members accepted the
    /// message if the backend delivered it at once. Counted and, with
    /// metrics on, timed to its position.
    fn start<P: Package>(
        &self,
        room: &str,
        message: &P::Server,
        except: Option<u64>,
    ) -> Result<(BoxFuture<'static, Result<Position, BackendError>>, usize), Violation> {
        let started = self.metrics.clock();
        let (future, delivered) = self.start_publish::<P>(room, message, except)?;
        self.metrics.broadcast();
        if started.is_none() {
            return Ok((future, delivered));
        }
        let metrics = Arc::clone(&self.metrics);
        let timed = async move {
            let published = future.await;
            if published.is_ok() {
                metrics.published(started);
            }
            published
        };
        Ok((Box::pin(timed), delivered))
    }

    fn start_publish<P: Package>(
        &self,
        room: &str,
        message: &P::Server,
        except: Option<u64>,
    ) -> Result<(BoxFuture<'static, Result<Position, BackendError>>, usize), Violation> {
        // Every member's decoder would reject a value that breaks a schema
        // constraint: refuse it once, loudly, rather than per member.
        message.validate()?;
        let payload = self.payload(message.to_binary(), except);
        if let Some(entry) = self.lock().rooms.get_mut(room)
            && entry.subscription.holds()
        {
            if entry.held.len() >= MAX_HELD {
                let refused = Err(BackendError::Overloaded { limit: MAX_HELD });
                return Ok((Box::pin(std::future::ready(refused)), 0));
            }
            let (reply, result) = oneshot::channel();
            entry.held.push(Held { payload, reply });
            let waiting: BoxFuture<'static, _> =
                Box::pin(async move { result.await.unwrap_or(Err(BackendError::Closed)) });
            return Ok((waiting, 0));
        }
        Ok(self.backend.publish_counted(room, payload))
    }

    /// Publishes held messages in order, each caller getting its result.
    fn release(&self, room: &str, held: Vec<Held>) {
        for Held { payload, reply } in held {
            let published = self.backend.publish(room, payload);
            self.run(async move {
                let _ = reply.send(published.await);
            });
        }
    }

    /// Ends a subscription attempt: publishes what it held (and what is
    /// held meanwhile), then lets publishes through and runs `settled` on
    /// the room under the same lock. `None` when the room is gone.
    fn end_attempt<R>(&self, name: &Arc<str>, settled: impl FnOnce(&mut Room) -> R) -> Option<R> {
        loop {
            let held = {
                let mut table = self.lock();
                let rooms = &mut table.rooms;
                let entry = rooms.get_mut(name)?;
                if entry.held.is_empty() {
                    entry.subscription.end_attempt();
                    return Some(settled(entry));
                }
                std::mem::take(&mut entry.held)
            };
            self.release(name, held);
        }
    }

    /// Publishes, and returns how many members accepted the message if the
    /// backend delivered it at once (the in-process one: on every node
    /// sharing it); 0 when delivery comes later (Redis) or the publish
    /// failed (logged).
    pub(crate) fn broadcast<P: Package>(
        &self,
        room: &str,
        message: &P::Server,
        except: Option<u64>,
    ) -> usize {
        let (mut future, delivered) = match self.start::<P>(room, message, except) {
            Ok(started) => started,
            Err(violation) => {
                tracing::error!(room, %violation, "broadcast refused: the message breaks a constraint");
                return 0;
            }
        };
        match (&mut future).now_or_never() {
            Some(Ok(_)) => delivered,
            Some(Err(error)) => {
                tracing::error!(room, %error, "broadcast not published");
                0
            }
            None => {
                let room: Arc<str> = Arc::from(room);
                let watch = async move {
                    if let Err(error) = future.await {
                        tracing::error!(room = %room, %error, "broadcast not published");
                    }
                };
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        runtime.spawn(watch);
                    }
                    Err(_) => {
                        tracing::error!("broadcast outside a tokio runtime: its outcome is unknown")
                    }
                }
                0
            }
        }
    }

    /// After the history of `member`'s resume was read: sends what it
    /// missed, then what arrived live meanwhile, and makes it live.
    fn finish_replay(
        self: &Arc<Self>,
        room: &Arc<str>,
        conn: &Arc<ConnectionState>,
        history: Result<History, BackendError>,
    ) {
        if self.replayed(room, conn, history) {
            self.run(snapshot_one(self.clone(), room.clone(), conn.clone()));
        }
    }

    /// [`Rooms::finish_replay`] under the lock: whether the replay ended in
    /// a gap for a member with presence, which then waits for a fresh
    /// snapshot.
    fn replayed(
        &self,
        room: &Arc<str>,
        conn: &Arc<ConnectionState>,
        history: Result<History, BackendError>,
    ) -> bool {
        let limits = backend_limits();
        let mut table = self.lock();
        let present = table.has_presence(conn.id, room);
        let rooms = &mut table.rooms;
        let Some(entry) = rooms.get_mut(room) else {
            return false;
        };
        let subscribed = entry.subscription == Subscription::Subscribed;
        let Some(member) = entry.members.get_mut(&conn.id) else {
            return false;
        };
        let Some(replay) = member.replay.take() else {
            return false;
        };
        let targets = std::slice::from_ref(conn);
        // Pushed under the rooms' lock: a live message delivered after the
        // member turns live must not overtake the replay.
        let mut last = replay.after;
        let mut gap = false;
        match history {
            Ok(History::Messages(messages)) => {
                last = self.deliver_after(&messages, last, targets, &limits);
            }
            Ok(History::Gap(lost)) => {
                push_gap(&self.metrics, conn, room, reason(lost.kind), lost.current);
                last = lost.current;
                gap = true;
            }
            Err(error) => {
                gap = true;
                tracing::warn!(room = %room, %error, "replay failed: the client is told it has a gap");
                let current = replay.pending.first().map_or(replay.after, |m| Position {
                    epoch: m.position.epoch,
                    seq: m.position.seq.saturating_sub(1),
                });
                push_gap(&self.metrics, conn, room, GapReason::Reset, current);
                last = current;
            }
        }
        if replay.overflow {
            let current = replay.pending.last().map_or(last, |m| m.position);
            push_gap(&self.metrics, conn, room, GapReason::Trimmed, current);
            last = current;
            gap = true;
        } else {
            last = self.deliver_after(&replay.pending, last, targets, &limits);
        }
        member.last = last;
        if gap && present {
            member.replay = Some(Replay::awaiting_snapshot(subscribed));
        }
        gap && present
    }

    /// Delivers to `targets` the messages past `last`, in order (a replay
    /// and the live messages that waited for it may overlap); the position
    /// of the last one delivered, or `last`.
    fn deliver_after(
        &self,
        messages: &[RoomMessage],
        mut last: Position,
        targets: &[Arc<ConnectionState>],
        limits: &Limits,
    ) -> Position {
        for message in messages {
            if message.position.is_seen_by(last) {
                continue;
            }
            self.deliver_message(message, self.skip_of(&message.payload), targets, limits);
            last = message.position;
        }
        last
    }

    /// Sends one room message's frame to `targets` in its `_h` envelope;
    /// a presence event as `_h` + `_l`. How many accepted it.
    fn deliver_message(
        &self,
        message: &RoomMessage,
        frame: &[u8],
        targets: &[Arc<ConnectionState>],
        limits: &Limits,
    ) -> usize {
        let envelope = RoomEnvelope {
            room: &message.room,
            position: message.position,
        };
        let event = PresenceEvent::parse(frame);
        let head = event.map(|event| {
            self.metrics.presence_event(event.kind);
            PresenceHead::Event {
                kind: event.kind,
                member: event.member,
            }
        });
        let prefix = Prefix::room(&envelope, head.as_ref());
        let frame = event.map_or(frame, |event| event.state);
        (self.fan_out)(&prefix, frame, targets, limits, &self.panics, &self.metrics)
    }

    /// The `except` part of a payload: the connection id to skip when it
    /// is this node's, and the frame.
    fn skip_of<'p>(&self, payload: &'p [u8]) -> &'p [u8] {
        split_payload(payload, self.node).1
    }
}

/// Splits a payload into the connection this node must skip (if any) and
/// the frame.
fn split_payload(payload: &[u8], node: u64) -> (Option<u64>, &[u8]) {
    if payload.first() != Some(&EXCEPT_MARK) || payload.len() < 17 {
        return (None, payload);
    }
    let word = |at: usize| {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&payload[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let skip = (word(1) == node).then(|| word(9));
    (skip, &payload[17..])
}

fn reason(kind: GapKind) -> GapReason {
    match kind {
        GapKind::Trimmed { .. } => GapReason::Trimmed,
        GapKind::Reset => GapReason::Reset,
    }
}

fn push_gap(
    metrics: &Recorder,
    conn: &ConnectionState,
    room: &str,
    kind: GapReason,
    position: Position,
) {
    metrics.gap(kind);
    let notice = Control::Gap(GapNotice {
        room: room.to_owned(),
        kind,
        position,
    });
    let _ = conn.push(to_message(&notice, conn.encoding));
}

/// Subscribes a room whose first member joined (retrying while the
/// backend is unavailable and the room has members), then starts the
/// replays that waited for it.
async fn settle(rooms: Arc<Rooms>, name: Arc<str>) {
    let mut state = rooms.backend.state();
    loop {
        if let Some(entry) = rooms.lock().rooms.get_mut(&name) {
            entry.subscription.start_attempt();
        }
        let subscribed = rooms.backend.subscribe(&name).await;
        match subscribed {
            Ok(_) => break,
            Err(error) => {
                // Publishes fail while the backend is down, as they would
                // have without the wait.
                let _ = rooms.end_attempt(&name, |_| ());
                tracing::warn!(room = %name, %error, "subscribing a room failed; retrying when the backend is back");
                if matches!(error, BackendError::Closed) {
                    return;
                }
                state.borrow_and_update();
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(1), state.changed()).await;
                if rooms.len(&name) == 0 {
                    return;
                }
            }
        }
    }
    let waiting = rooms.end_attempt(&name, |entry| {
        // Not while being unsubscribed: the leaver subscribes again.
        if entry.subscription == Subscription::Unsubscribed {
            entry.subscription = Subscription::Subscribed;
        }
        entry
            .members
            .values_mut()
            .filter_map(|m| {
                let replay = m.replay.as_mut().filter(|r| !r.started)?;
                replay.started = true;
                Some(m.conn.clone())
            })
            .collect::<Vec<_>>()
    });
    let Some(waiting) = waiting else {
        // Everyone left while the subscription was on its way.
        rooms.backend.unsubscribe(&name);
        return;
    };
    for conn in waiting {
        replay_one(rooms.clone(), name.clone(), conn).await;
    }
}

/// Reads one member's history and finishes its replay.
async fn replay_one(rooms: Arc<Rooms>, name: Arc<str>, conn: Arc<ConnectionState>) {
    let after = {
        let all = rooms.lock();
        let Some(replay) = all
            .rooms
            .get(&name)
            .and_then(|entry| entry.members.get(&conn.id))
            .and_then(|m| m.replay.as_ref())
        else {
            return;
        };
        replay.after
    };
    rooms.metrics.replayed();
    let history = rooms.backend.history(&name, after).await;
    rooms.finish_replay(&name, &conn, history);
}

impl Subscriber for Rooms {
    fn message(&self, message: &RoomMessage) {
        self.deliver(message);
    }

    /// Fans the message out to this node's members: how many accepted it.
    fn deliver(&self, message: &RoomMessage) -> usize {
        let limits = backend_limits();
        let (skip, _) = split_payload(&message.payload, self.node);
        let targets: Vec<Arc<ConnectionState>> = {
            let mut table = self.lock();
            let rooms = &mut table.rooms;
            let Some(entry) = rooms.get_mut(&message.room) else {
                return 0;
            };
            entry
                .members
                .values_mut()
                .filter_map(|m| {
                    if let Some(replay) = &mut m.replay {
                        if replay.pending.len() < MAX_PENDING {
                            replay.pending.push(message.clone());
                        } else {
                            replay.overflow = true;
                        }
                        return None;
                    }
                    m.last = message.position;
                    (Some(m.conn.id) != skip).then(|| m.conn.clone())
                })
                .collect()
        };
        if targets.is_empty() {
            return 0;
        }
        let frame = split_payload(&message.payload, self.node).1;
        let started = self.metrics.clock();
        let accepted = self.deliver_message(message, frame, &targets, &limits);
        self.metrics.fanned_out(started, accepted);
        accepted
    }

    fn gap(&self, gap: &Gap) {
        let snapshots = {
            let mut table = self.lock();
            let Table {
                rooms, presence, ..
            } = &mut *table;
            let Some(entry) = rooms.get_mut(&gap.room) else {
                return;
            };
            let mut snapshots = Vec::new();
            for m in entry.members.values_mut() {
                m.last = gap.current;
                // Pushed under the lock, so that the gap comes before
                // the snapshot's frames.
                push_gap(
                    &self.metrics,
                    &m.conn,
                    &gap.room,
                    reason(gap.kind),
                    gap.current,
                );
                let present = presence
                    .get(&m.conn.id)
                    .is_some_and(|list| list.iter().any(|p| p.room == gap.room));
                if present && m.replay.is_none() {
                    m.replay = Some(Replay::awaiting_snapshot(true));
                    snapshots.push(m.conn.clone());
                }
            }
            snapshots
        };
        if snapshots.is_empty() {
            return;
        }
        // The subscriber holds no `Arc` of the rooms; the backend's weak
        // one reaches them.
        let Some(rooms) = self.me.upgrade() else {
            return;
        };
        for conn in snapshots {
            rooms.run(snapshot_one(rooms.clone(), gap.room.clone(), conn));
        }
    }
}

/// Reads the room's presence and finishes the member's wait for it
/// ([`Rooms::finish_snapshot`]), then replays from its position.
async fn snapshot_one(rooms: Arc<Rooms>, name: Arc<str>, conn: Arc<ConnectionState>) {
    let snapshot = match rooms.backend.presence_snapshot(&name).await {
        Ok(snapshot) => Some(snapshot),
        Err(error) => {
            tracing::warn!(room = %name, %error, "presence snapshot failed; the member goes live without one");
            None
        }
    };
    match rooms.finish_snapshot(&name, &conn, snapshot) {
        AfterSnapshot::Wait => {}
        AfterSnapshot::Deliver => {
            rooms.finish_replay(&name, &conn, Ok(History::Messages(Vec::new())));
        }
        AfterSnapshot::Read => replay_one(rooms, name, conn).await,
    }
}

/// Sends one connection's presence state to the backend, then every
/// presence interval the state set meanwhile (the last one), until none
/// waits or the connection is no longer present in the room.
async fn flush_presence(
    rooms: Arc<Rooms>,
    conn: Arc<ConnectionState>,
    room: Arc<str>,
    member: Arc<str>,
    mut state: Bytes,
) {
    loop {
        match rooms
            .backend
            .presence_set(&room, &member, conn.id, state)
            .await
        {
            Ok(_) => {
                if rooms.recheck(&conn, &room, &member).await.is_some() {
                    return;
                }
            }
            Err(error) => {
                tracing::debug!(room = %room, %error, "presence state refused");
                let notice = Control::Error(ErrorNotice {
                    code: error_code::REFUSED,
                    message: format!("presence state for room `{room}` refused: {error}"),
                });
                let _ = conn.push(to_message(&notice, conn.encoding));
            }
        }
        tokio::time::sleep(rooms.presence_interval).await;
        let next = {
            let mut table = rooms.lock();
            let Some(present) = table.present(conn.id, &room).filter(|p| p.member == member) else {
                return;
            };
            match present.pending.take() {
                Some(next) => next,
                None => {
                    present.busy = false;
                    return;
                }
            }
        };
        state = next;
    }
}

/// `_m` and one `_n` per member, each state converted for the peer like
/// any server message; a member whose state this peer cannot receive is
/// left out (and not counted).
fn snapshot_frames<P: Package>(
    room: &str,
    snapshot: &PresenceSnapshot,
    conn: &ConnectionState,
    panics: &AtomicU64,
    metrics: &Recorder,
) -> Vec<Message> {
    let limits = backend_limits();
    let mut frames = Vec::with_capacity(snapshot.members.len() + 1);
    frames.push(Message::Binary(WsBytes::new()));
    for entry in &snapshot.members {
        let head = PresenceHead::Member {
            room,
            member: &*entry.member,
        };
        let prefix = Prefix::presence(&head);
        if let Some(frame) = state_frame::<P>(&prefix, &entry.state, conn, &limits, panics, metrics)
        {
            frames.push(frame);
        }
    }
    let notice = Control::PresenceSnapshot(PresenceSnapshotNotice {
        room: room.to_owned(),
        position: snapshot.position,
        count: u32::try_from(frames.len() - 1).unwrap_or(u32::MAX),
    });
    frames[0] = to_message(&notice, conn.encoding);
    frames
}

/// One presence state after `prefix` for one peer: as it is for a current
/// binary peer, re-encoded for a text one, converted for an older one;
/// `None` when the peer can have none of its versions (or it does not
/// decode: a node of a newer schema wrote it).
fn state_frame<P: Package>(
    prefix: &Prefix<'_>,
    state: &[u8],
    conn: &ConnectionState,
    limits: &Limits,
    panics: &AtomicU64,
    metrics: &Recorder,
) -> Option<Message> {
    let header = header_of(state);
    let outdated = conn
        .outdated_peer()
        .filter(|p| header.is_none_or(|h| !p.knows(h)));
    if outdated.is_none() && conn.encoding == Encoding::Binary {
        return Some(prefix.binary_with(state));
    }
    let value = match P::Server::decode_binary_with(state, limits) {
        Ok(value) => value,
        Err(error) => {
            tracing::warn!(%error, "a presence state from the backend did not decode; left out");
            return None;
        }
    };
    let Some(peer) = outdated else {
        return Some(prefix.message(&value, conn.encoding));
    };
    match Older::<P>::prefixed(&value, *prefix).frame_for(peer, conn.encoding) {
        Converted::Frame(frame) => {
            if let Some(h) = header {
                metrics.converted(h, Conversion::Down);
            }
            Some(frame)
        }
        Converted::Outdated => None,
        Converted::Panicked => {
            panics.fetch_add(1, Ordering::Relaxed);
            conn.close_after_panic();
            None
        }
    }
}

fn header_of(frame: &[u8]) -> Option<Header> {
    Header::from_bytes([*frame.first()?, *frame.get(1)?])
}

/// Sends one frame after `prefix` to members (a room message's in its
/// `_h` envelope, a presence event's after `_h` + `_l`), encoded at most
/// once per encoding for current members; members generated from an older
/// protocol get the newest older version they know, converted and encoded
/// at most once per version and encoding, or the outdated notice (not
/// counted). A leave event's prefix is the whole frame. Returns how many
/// accepted it.
fn fan_out<P: Package>(
    prefix: &Prefix<'_>,
    frame: &[u8],
    members: &[Arc<ConnectionState>],
    limits: &Limits,
    panics: &AtomicU64,
    metrics: &Recorder,
) -> usize {
    if !prefix.takes_value() {
        let mut frames: [Option<Message>; 2] = [None, None];
        return members
            .iter()
            .filter(|member| {
                let slot = usize::from(member.encoding == Encoding::Binary);
                let frame = frames[slot]
                    .get_or_insert_with(|| prefix.alone(member.encoding))
                    .clone();
                member.push(frame).is_ok()
            })
            .count();
    }
    // Binary members of the newest protocol get the published frame as it
    // is; the others need the message decoded.
    let needs_value = members
        .iter()
        .any(|m| m.encoding == Encoding::Text || m.outdated_peer().is_some());
    let value = if needs_value {
        match P::Server::decode_binary_with(frame, limits) {
            Ok(value) => Some(value),
            Err(error) => {
                // A node built from a newer schema published a message
                // this one does not know (a rolling deploy in progress).
                tracing::warn!(%error, "a room message from the backend did not decode; only current binary members get it");
                None
            }
        }
    } else {
        None
    };
    let header = header_of(frame);
    let mut text: Option<Message> = None;
    let mut binary: Option<Message> = None;
    // Only allocated when a member is too old for the message.
    let mut older: Option<Box<Older<'_, P>>> = None;
    let mut accepted = 0;
    for member in members {
        let frame = match member
            .outdated_peer()
            .filter(|p| header.is_none_or(|h| !p.knows(h)))
        {
            None => match member.encoding {
                // Frames share their bytes (reference-counted), so each
                // member costs a queue slot, not a copy.
                Encoding::Binary => binary
                    .get_or_insert_with(|| prefix.binary_with(frame))
                    .clone(),
                Encoding::Text => {
                    let Some(value) = &value else { continue };
                    text.get_or_insert_with(|| prefix.message(value, Encoding::Text))
                        .clone()
                }
            },
            Some(peer) => {
                let Some(value) = &value else { continue };
                let older = older.get_or_insert_with(|| Box::new(Older::prefixed(value, *prefix)));
                match older.frame_for(peer, member.encoding) {
                    Converted::Frame(frame) => {
                        if let Some(h) = header {
                            metrics.converted(h, Conversion::Down);
                        }
                        frame
                    }
                    Converted::Outdated => {
                        if let Some(h) = header {
                            metrics.outdated_notice(h);
                        }
                        let _ = member.push(older.notice(member.encoding));
                        continue;
                    }
                    Converted::Panicked => {
                        panics.fetch_add(1, Ordering::Relaxed);
                        member.close_after_panic();
                        continue;
                    }
                }
            }
        };
        if member.push(frame).is_ok() {
            accepted += 1;
        }
    }
    accepted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_that_never_resumes_pays_one_pointer() {
        use std::mem::size_of;
        assert_eq!(
            size_of::<Memberships>(),
            size_of::<Vec<Arc<str>>>() + size_of::<usize>()
        );
        // A membership: the connection, the last position, the replay's box.
        assert_eq!(
            size_of::<Member>(),
            size_of::<Arc<ConnectionState>>() + size_of::<Position>() + size_of::<usize>()
        );
    }

    fn member(id: u64) -> Arc<ConnectionState> {
        Arc::new(ConnectionState {
            id,
            encoding: Encoding::Binary,
            peer: None,
            outbox: super::super::outbox::Outbox::new(16, 1 << 20),
            hello: std::sync::OnceLock::new(),
            stats: None,
            context: (),
        })
    }

    #[test]
    fn the_rooms_forget_a_connection_once_it_left_them_all() {
        let rooms = Arc::new_cyclic(|me| Rooms {
            me: me.clone(),
            rooms: Mutex::new(Table::default()),
            backend: Arc::new(super::super::backend::LocalBackend::default()),
            fan_out: |_, _, _, _, _, _| 0,
            snapshot_frames: |_, _, _, _, _| Vec::new(),
            presence_interval: Duration::from_millis(50),
            node: 1,
            panics: Arc::default(),
            metrics: Arc::default(),
        });
        let (one, two) = (member(1), member(2));
        rooms.join(&one, "a");
        rooms.join(&two, "a");
        rooms.join(&one, "b");
        // A position kept for a room not joined (yet).
        assert!(rooms.resume(&one, "c", Position { epoch: 1, seq: 3 }));
        assert_eq!((rooms.len("a"), rooms.len("b")), (2, 1));
        rooms.leave(2, "a");
        assert!(
            !rooms.lock().connections.contains_key(&2),
            "a connection in no room and with no position has no entry"
        );
        rooms.leave_all(1);
        let table = rooms.lock();
        assert!(
            table.connections.is_empty(),
            "positions go with the connection"
        );
        assert!(table.rooms.is_empty(), "emptied rooms are dropped");
    }

    /// Frames as the stub fan-out writes them: the prefix and the raw
    /// binary state (no package to decode it with here).
    fn raw_fan_out(
        prefix: &Prefix<'_>,
        frame: &[u8],
        members: &[Arc<ConnectionState>],
        _: &Limits,
        _: &AtomicU64,
        _: &Recorder,
    ) -> usize {
        members
            .iter()
            .filter(|m| {
                let message = if prefix.takes_value() {
                    prefix.binary_with(frame)
                } else {
                    prefix.alone(Encoding::Binary)
                };
                m.push(message).is_ok()
            })
            .count()
    }

    fn raw_snapshot(
        room: &str,
        snapshot: &PresenceSnapshot,
        _: &ConnectionState,
        _: &AtomicU64,
        _: &Recorder,
    ) -> Vec<Message> {
        let mut frames = vec![to_message(
            &Control::PresenceSnapshot(PresenceSnapshotNotice {
                room: room.to_owned(),
                position: snapshot.position,
                count: u32::try_from(snapshot.members.len()).unwrap_or(u32::MAX),
            }),
            Encoding::Binary,
        )];
        for entry in &snapshot.members {
            let head = PresenceHead::Member {
                room,
                member: &*entry.member,
            };
            frames.push(Prefix::presence(&head).binary_with(&entry.state));
        }
        frames
    }

    /// What a member was sent, in order, as `_m`/`_n`/`_l` summaries.
    fn sent(conn: &ConnectionState) -> Vec<String> {
        let limits = Limits::default();
        let mut out = Vec::new();
        while let super::super::outbox::Next::Frame(Message::Binary(bytes)) = conn.outbox.next() {
            let text = if bytes.starts_with(b"_h") {
                let (_, position, inner) =
                    RoomEnvelope::split_binary(&bytes, &limits).expect("an envelope");
                match PresenceHead::split_binary(inner, &limits) {
                    Ok((PresenceHead::Event { kind, member }, state)) => format!(
                        "{} {kind} {member} {}",
                        position.seq,
                        String::from_utf8_lossy(state)
                    ),
                    _ => format!("{} message", position.seq),
                }
            } else if bytes.starts_with(b"_n") {
                match PresenceHead::split_binary(&bytes, &limits) {
                    Ok((PresenceHead::Member { member, .. }, state)) => {
                        format!("member {member} {}", String::from_utf8_lossy(state))
                    }
                    other => panic!("{other:?}"),
                }
            } else {
                match Control::decode_binary(&bytes) {
                    Ok(Control::PresenceSnapshot(s)) => {
                        format!("snapshot {} {}", s.position.seq, s.count)
                    }
                    other => panic!("{other:?}"),
                }
            };
            out.push(text.trim_end().to_owned());
        }
        out
    }

    /// The rooms layer on the in-process backend under tokio's paused
    /// clock: a present member's join sends the snapshot then what came
    /// after it, a closed connection's member lingers for exactly the
    /// linger (plus at most one sweep), an explicit leave is at once.
    #[tokio::test(start_paused = true)]
    async fn present_members_get_snapshots_and_closed_ones_linger() {
        use super::super::backend::{LocalBackend, PresenceConfig};
        let config = PresenceConfig {
            linger: Duration::from_secs(15),
            lease: Duration::from_secs(9),
            max_members: 10,
            max_state_bytes: 64,
        };
        let backend = LocalBackend::default().with_presence(config);
        let rooms = Arc::new_cyclic(|me| Rooms {
            me: me.clone(),
            rooms: Mutex::new(Table::default()),
            backend: Arc::new(backend),
            fan_out: raw_fan_out,
            snapshot_frames: raw_snapshot,
            presence_interval: Duration::from_millis(50),
            node: 1,
            panics: Arc::default(),
            metrics: Arc::default(),
        });
        let subscriber: Arc<dyn Subscriber> = rooms.clone();
        rooms.backend.attach(Arc::downgrade(&subscriber));
        let (ann, bob, cy) = (member(1), member(2), member(3));
        rooms.join(&cy, "r");
        rooms
            .join_presence(&ann, "r", "ann", Bytes::from_static(b"a0"))
            .await
            .expect("ann joins");
        assert_eq!(sent(&ann), ["snapshot 1 1", "member ann a0"]);
        assert_eq!(
            sent(&cy),
            ["1 join ann a0"],
            "a member without presence sees events too"
        );
        rooms
            .join_presence(&bob, "r", "bob", Bytes::from_static(b"b0"))
            .await
            .expect("bob joins");
        assert_eq!(
            sent(&bob),
            ["snapshot 2 2", "member ann a0", "member bob b0"]
        );
        assert_eq!(sent(&ann), ["2 join bob b0"]);
        // Coalesced: the first state goes at once, the last of the others
        // one interval later.
        for state in [&b"b1"[..], b"b2", b"b3"] {
            rooms
                .set_presence(&bob, "r", Bytes::from_static(state))
                .expect("present");
        }
        assert_eq!(sent(&ann), ["3 update bob b1"]);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(sent(&ann), ["4 update bob b3"]);
        assert_eq!(
            rooms.set_presence(&cy, "r", Bytes::new()),
            Err(PresenceError::NotPresent)
        );
        // Bob's connection closes: it lingers 15 s, then one sweep removes it.
        rooms.leave_all(bob.id);
        let closed = tokio::time::Instant::now();
        tokio::time::sleep(Duration::from_secs(14)).await;
        assert_eq!(sent(&ann), Vec::<String>::new());
        let left = loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let seen = sent(&ann);
            if !seen.is_empty() {
                break seen;
            }
        };
        assert_eq!(left, ["5 leave bob"]);
        let after = closed.elapsed();
        assert!(
            after >= config.linger && after <= config.linger + config.renew_every(),
            "{after:?}"
        );
        // An explicit leave is seen at once.
        rooms.leave(ann.id, "r");
        assert_eq!(
            sent(&cy),
            [
                "2 join bob b0",
                "3 update bob b1",
                "4 update bob b3",
                "5 leave bob",
                "6 leave ann"
            ]
        );
        assert!(
            rooms.lock().presence.is_empty(),
            "no presence kept for gone members"
        );
    }

    #[test]
    fn payloads_name_the_connection_to_skip_only_on_their_node() {
        let rooms = Rooms {
            me: Weak::new(),
            rooms: Mutex::new(Table::default()),
            backend: Arc::new(super::super::backend::LocalBackend::default()),
            fan_out: |_, _, _, _, _, _| 0,
            snapshot_frames: |_, _, _, _, _| Vec::new(),
            presence_interval: Duration::from_millis(50),
            node: 7,
            panics: Arc::default(),
            metrics: Arc::default(),
        };
        assert_eq!(
            split_payload(&rooms.payload(b"aa|x".to_vec(), None), rooms.node),
            (None, &b"aa|x"[..])
        );
        let skipping = rooms.payload(b"aa|x".to_vec(), Some(42));
        assert_eq!(
            split_payload(&skipping, rooms.node),
            (Some(42), &b"aa|x"[..])
        );
        assert_eq!(
            split_payload(&skipping, rooms.node ^ 1),
            (None, &b"aa|x"[..]),
            "another node delivers to everyone"
        );
        // Too short to carry the ids: taken as a frame (it will not decode).
        assert_eq!(
            split_payload(&[0, 1, 2], rooms.node),
            (None, &[0u8, 1, 2][..])
        );
    }
}
