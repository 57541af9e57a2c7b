//! Broadcast backends: how a room message published on one server node reaches
//! the nodes with members in that room, in one order, with a history to
//! replay from (docs/SCALE.md).
//!
//! A [`Backend`] serves one node. The node [`attach`](Backend::attach)es a
//! [`Subscriber`] (its rooms), [`subscribe`](Backend::subscribe)s to a room when
//! the room's first local member joins and
//! [`unsubscribe`](Backend::unsubscribe)s when the last one leaves, and
//! [`publish`](Backend::publish)es room messages as opaque bytes. Every message
//! gets a [`Position`] at publish time: the room's *epoch* and a *sequence
//! number*, one total order per room whichever node published. The subscriber
//! receives the messages of its rooms in that order, each once, or a [`Gap`]
//! where some were lost for good. [`history`](Backend::history) answers a
//! reconnecting client's "what came after this position" within the
//! [`HistoryWindow`].
//!
//! Three implementations:
//! - [`LocalBackend`], in-process, the default: one node, nothing to install,
//!   a ring buffer per room;
//! - `RedisBackend` (feature `redis`): many nodes on one Redis or a Redis
//!   Cluster, pub/sub for fan-out, a stream per room for history, Lua
//!   scripts for presence, reconnecting by itself.
//!
//! The trait is object-safe (`Arc<dyn Backend>`) so that the server can take
//! either, or another engine (NATS) later, chosen at construction.

mod contract;
mod local;
#[cfg(feature = "nats")]
mod nats;
mod presence;
#[cfg(feature = "redis")]
mod redis;

pub use bytes::Bytes;

pub use self::contract::{
    Backend, BackendError, BackendState, BoxFuture, Gap, GapKind, History, HistoryWindow,
    RoomMessage, Subscriber,
};
pub use self::local::LocalBackend;
#[cfg(feature = "nats")]
pub use self::nats::{NatsBackend, NatsConfig, NatsStorage};
pub use self::presence::{
    InvalidMemberKey, MAX_MEMBER_KEY, PRESENCE_MARK, PresenceConfig, PresenceEntry, PresenceEvent,
    PresenceKind, PresenceSnapshot, check_member_key,
};
#[cfg(feature = "redis")]
pub use self::redis::{RedisBackend, RedisConfig};

/// Where a message stands in its room (the wire's type: SPEC §9.7).
pub use crate::control::RoomPosition as Position;
