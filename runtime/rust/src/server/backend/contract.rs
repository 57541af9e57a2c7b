//! What a backend and its subscriber promise each other: the trait
//! [`Backend`], the trait [`Subscriber`] and the values they exchange.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;

use super::presence::{PresenceConfig, PresenceSnapshot};
use crate::control::RoomPosition as Position;

/// A boxed future, so that [`Backend`] stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One room message as published: opaque bytes at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMessage {
    /// The room.
    pub room: Arc<str>,
    /// Its place in the room's order.
    pub position: Position,
    /// What the publisher gave, unchanged.
    pub payload: Bytes,
}

/// Messages that can no longer be had: the client (or node) must refetch the
/// room's state and go on from `current`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The room.
    pub room: Arc<str>,
    /// The position asked after (or the last delivered to the node).
    pub after: Position,
    /// The room's position when the gap was found; what follows it is
    /// delivered as usual.
    pub current: Position,
    /// Why.
    pub kind: GapKind,
}

/// Why a [`Gap`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapKind {
    /// The history window no longer reaches back to the position: the oldest
    /// message still held is `oldest` (`None`: none is held any more).
    Trimmed {
        /// Sequence number of the oldest message held.
        oldest: Option<u64>,
    },
    /// The position belongs to another epoch of the room, or is ahead of it:
    /// the room started over since (restart, expiry, a Redis without its data).
    Reset,
}

/// The answer to [`Backend::history`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum History {
    /// Every message after the position, in order (empty when none came).
    Messages(Vec<RoomMessage>),
    /// Some of them are gone.
    Gap(Gap),
}

/// How far back [`Backend::history`] reaches, per room: the last
/// `max_messages` messages, and of those only the ones younger than `max_age`
/// (when set). The default is 1,000 messages and 2 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryWindow {
    /// How many messages a room keeps (0: no history, every reconnect after
    /// missed messages is a gap).
    pub max_messages: usize,
    /// How long a message is kept; `None`: as long as the room exists.
    pub max_age: Option<Duration>,
}

impl Default for HistoryWindow {
    fn default() -> Self {
        Self {
            max_messages: 1000,
            max_age: Some(Duration::from_secs(120)),
        }
    }
}

/// Whether the backend can reach its engine, for the application (health,
/// metrics) through [`Backend::state`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendState {
    /// Publishing, delivering and history work.
    Connected,
    /// The connection was lost (or never made) and the backend is retrying:
    /// publishes fail with [`BackendError::Unavailable`] meanwhile.
    Reconnecting {
        /// When the connection was lost (or the first attempt failed).
        since: Instant,
        /// The last error.
        error: String,
        /// Failed attempts since.
        attempts: u32,
    },
    /// The backend was shut down (all its handles dropped).
    Closed,
}

/// Why a backend operation failed. A publish that fails was not delivered by
/// this backend, except [`BackendError::Uncertain`], which may have been.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendError {
    /// No connection to the engine now: nothing was done.
    Unavailable {
        /// Since when.
        since: Instant,
        /// The error that broke or refused the connection.
        error: String,
    },
    /// The request went out but its reply did not come back (the connection
    /// broke, or the response timeout passed): it may or may not have taken
    /// effect.
    Uncertain {
        /// What happened.
        error: String,
    },
    /// The engine refused the request.
    Refused {
        /// Its error.
        error: String,
    },
    /// Too many publishes wait for the engine: this one was not queued.
    Overloaded {
        /// How many may wait.
        limit: usize,
    },
    /// The backend was shut down.
    Closed,
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable { since, error } => write!(
                f,
                "broadcast backend unavailable for {:.1?} ({error}); nothing was published",
                since.elapsed()
            ),
            Self::Uncertain { error } => write!(
                f,
                "broadcast backend lost the reply ({error}); the message may or may not have been published"
            ),
            Self::Refused { error } => write!(f, "broadcast backend refused the request: {error}"),
            Self::Overloaded { limit } => write!(
                f,
                "broadcast backend overloaded: {limit} publishes already wait; this one was not queued"
            ),
            Self::Closed => f.write_str("broadcast backend shut down"),
        }
    }
}

impl std::error::Error for BackendError {}

/// What a node does with what its backend delivers: typically its rooms,
/// which fan each message out to local members.
///
/// Calls for one room come in order and never at the same time; calls for
/// different rooms may be concurrent. They must not block: the in-process
/// backend calls `message` from `publish`, under the room's lock, and the
/// Redis backend from the task that reads Redis.
pub trait Subscriber: Send + Sync + 'static {
    /// The next message of a subscribed room: its sequence number follows the
    /// one before (or a [`Gap`]'s `current`), in the same epoch.
    fn message(&self, message: &RoomMessage);

    /// As [`Subscriber::message`], and returns how many local members
    /// accepted the message, for a backend that delivers inside `publish`
    /// to report it ([`Backend::publish_counted`]). The default delivers
    /// and counts nothing.
    fn deliver(&self, message: &RoomMessage) -> usize {
        self.message(message);
        0
    }

    /// Messages of a subscribed room were lost for this node (after a Redis
    /// outage longer than the window, or a Redis restart): local members must
    /// be told, and delivery goes on after `gap.current`.
    fn gap(&self, gap: &Gap);
}

/// A broadcast backend: see the module documentation.
pub trait Backend: Send + Sync + fmt::Debug + 'static {
    /// Sets where messages of subscribed rooms go. A backend serves one node:
    /// attaching again replaces the subscriber. Weak, because the subscriber
    /// (the node's rooms) usually owns the backend.
    fn attach(&self, subscriber: Weak<dyn Subscriber>);

    /// Publishes a room message to every node subscribed to the room, this one
    /// included, and returns its position. Publishes made by one caller, each
    /// started after the previous `publish` call returned its future, are
    /// ordered as called even if the futures are awaited later.
    fn publish(
        &self,
        room: &str,
        payload: Bytes,
    ) -> BoxFuture<'static, Result<Position, BackendError>>;

    /// As [`Backend::publish`], and how many members accepted the message
    /// on every node when the backend delivers inside the call (the sum of
    /// [`Subscriber::deliver`]); 0 when delivery comes later. The default
    /// publishes and counts nothing.
    fn publish_counted(
        &self,
        room: &str,
        payload: Bytes,
    ) -> (BoxFuture<'static, Result<Position, BackendError>>, usize) {
        (self.publish(room, payload), 0)
    }

    /// Starts delivering the room's messages to the subscriber, and returns the
    /// room's position at that moment: every message after it will be
    /// delivered (messages at or before it are not). Subscribing twice is
    /// subscribing once.
    fn subscribe(&self, room: &str) -> BoxFuture<'static, Result<Position, BackendError>>;

    /// Stops delivering the room's messages.
    fn unsubscribe(&self, room: &str);

    /// The room's messages after `after`, within the window, or the gap.
    fn history(
        &self,
        room: &str,
        after: Position,
    ) -> BoxFuture<'static, Result<History, BackendError>>;

    /// The connection state, as it changes.
    fn state(&self) -> watch::Receiver<BackendState>;

    /// The history window.
    fn window(&self) -> HistoryWindow;

    /// How this backend keeps presence.
    fn presence_config(&self) -> PresenceConfig {
        PresenceConfig::default()
    }

    /// Makes `member` present in the room with `state`, owned by connection
    /// `conn` of this node, and publishes what changed as a presence event
    /// (a room message, [`super::PresenceEvent`]): a join when the member
    /// is not present, an update when it is and its state differs. Setting
    /// a member that lingers, or that another connection or node owns,
    /// takes it over: an update when the state differs, no event when it
    /// does not. Returns the event's position, `None` when none was needed.
    ///
    /// Refused ([`BackendError::Refused`]) when the room already holds
    /// [`PresenceConfig::max_members`] other members, or the state is
    /// longer than [`PresenceConfig::max_state_bytes`]. From the first
    /// member it owns in a room to the last, the node renews its lease
    /// there. The default keeps no presence and refuses.
    fn presence_set(
        &self,
        room: &str,
        member: &str,
        conn: u64,
        state: Bytes,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        let _ = (room, member, conn, state);
        Box::pin(async { Err(no_presence()) })
    }

    /// The member's connection `conn` closed without leaving: the member
    /// stays present for [`PresenceConfig::linger`], then any node that
    /// sweeps the room removes it with a leave event, unless it was set
    /// again meanwhile. Does nothing when `conn` of this node no longer
    /// owns the member.
    fn presence_linger(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<(), BackendError>> {
        let _ = (room, member, conn);
        Box::pin(async { Err(no_presence()) })
    }

    /// Removes the member at once and publishes a leave event, when
    /// connection `conn` of this node owns it; returns the event's
    /// position, `None` when it did not own it.
    fn presence_leave(
        &self,
        room: &str,
        member: &str,
        conn: u64,
    ) -> BoxFuture<'static, Result<Option<Position>, BackendError>> {
        let _ = (room, member, conn);
        Box::pin(async { Err(no_presence()) })
    }

    /// The room's presence and the position it stands at (removing, first,
    /// the members whose linger or node lease ran out).
    fn presence_snapshot(
        &self,
        room: &str,
    ) -> BoxFuture<'static, Result<PresenceSnapshot, BackendError>> {
        let _ = room;
        Box::pin(async { Err(no_presence()) })
    }
}

/// What a backend without presence answers.
fn no_presence() -> BackendError {
    BackendError::Refused {
        error: "this broadcast backend keeps no presence".to_owned(),
    }
}

/// Whether the messages after `after` can all be had from a room whose
/// position is `current` and whose oldest message held (in the window) is
/// `oldest`. `Ok(())`: they are the held messages with a sequence number
/// above `after.seq` (none when `after` is `current`).
pub(crate) fn reaches_back(
    after: Position,
    current: Position,
    oldest: Option<u64>,
) -> Result<(), GapKind> {
    if after.epoch == 0 {
        // Epoch 0 is only START; anything else there came from no backend.
        if after.seq != 0 {
            return Err(GapKind::Reset);
        }
    } else if after.epoch != current.epoch || after.seq > current.seq {
        return Err(GapKind::Reset);
    }
    if after.seq == current.seq {
        return Ok(());
    }
    match oldest {
        Some(oldest) if oldest <= after.seq + 1 => Ok(()),
        _ => Err(GapKind::Trimmed { oldest }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: u64, seq: u64) -> Position {
        Position { epoch, seq }
    }

    #[test]
    fn reaches_back_decides_gaps() {
        // Same epoch: up to date, in the window, trimmed.
        assert_eq!(reaches_back(at(7, 10), at(7, 10), None), Ok(()));
        assert_eq!(reaches_back(at(7, 4), at(7, 10), Some(5)), Ok(()));
        assert_eq!(reaches_back(at(7, 4), at(7, 10), Some(3)), Ok(()));
        assert_eq!(
            reaches_back(at(7, 3), at(7, 10), Some(5)),
            Err(GapKind::Trimmed { oldest: Some(5) })
        );
        assert_eq!(
            reaches_back(at(7, 3), at(7, 10), None),
            Err(GapKind::Trimmed { oldest: None })
        );
        // Another epoch, or ahead of the room: reset.
        assert_eq!(
            reaches_back(at(6, 3), at(7, 10), Some(1)),
            Err(GapKind::Reset)
        );
        assert_eq!(
            reaches_back(at(7, 11), at(7, 10), Some(1)),
            Err(GapKind::Reset)
        );
        assert_eq!(
            reaches_back(at(7, 1), Position::START, None),
            Err(GapKind::Reset)
        );
        // A position of epoch 0 other than START is not one a backend gives.
        assert_eq!(
            reaches_back(at(0, 3), at(7, 10), Some(1)),
            Err(GapKind::Reset)
        );
        // START: everything of the current epoch, if seq 1 is still held.
        assert_eq!(reaches_back(Position::START, Position::START, None), Ok(()));
        assert_eq!(reaches_back(Position::START, at(7, 0), None), Ok(()));
        assert_eq!(reaches_back(Position::START, at(7, 3), Some(1)), Ok(()));
        assert_eq!(
            reaches_back(Position::START, at(7, 3), Some(2)),
            Err(GapKind::Trimmed { oldest: Some(2) })
        );
    }
}
