//! What the client tells the application: messages, status changes,
//! protocol mismatches, refused frames and outdated notices.

use std::fmt;
use std::time::Duration;

use super::presence::PresenceChange;
use crate::control::{ErrorNotice, GapReason, OutdatedNotice, RoomPosition};
use crate::{CloseCode, Package};

/// One thing that happened on the connection, in order.
pub enum Event<P: Package> {
    /// A message the server sent to this connection alone.
    Message(P::Server),
    /// A message broadcast to a room this connection is in (an `_h`
    /// envelope, SPEC §9.7), with its place in the room. Each room message
    /// comes once: duplicates (a replay overlapping what arrived before)
    /// are dropped, and the client resumes from the last position after a
    /// reconnect.
    RoomMessage {
        /// The room.
        room: String,
        /// The message's position in the room.
        position: RoomPosition,
        /// The message.
        message: P::Server,
    },
    /// Messages of a room after this client's last position can no longer
    /// be had (SPEC §9.7): refetch the room's state. Room messages go on
    /// after `position`.
    Gap {
        /// The room.
        room: String,
        /// Why: the history window was too short (`Trimmed`) or the room
        /// started over (`Reset`).
        kind: GapReason,
        /// The room's position when the gap was found.
        position: RoomPosition,
    },
    /// A room's presence changed (SPEC §9.8): a snapshot replaced it, or
    /// a member joined, changed its state or left. The client's map
    /// ([`Client::presence`](super::Client::presence)) already holds the
    /// change.
    Presence {
        /// The room.
        room: String,
        /// The event's position in the room (a snapshot's: the position
        /// it stands at).
        position: RoomPosition,
        /// What changed.
        change: PresenceChange<P::Server>,
    },
    /// The connection changed state.
    Status(Status),
    /// The server's welcome named another protocol fingerprint. The
    /// connection stays open: frames of message versions both sides know
    /// still agree (SPEC §9.1).
    ProtocolMismatch {
        /// The package the server was generated from.
        server_package: String,
        /// The server's `PROTOCOL_FINGERPRINT`.
        server_fingerprint: String,
    },
    /// The server refused one of our frames; the connection stays open.
    Error(ErrorNotice),
    /// The server runs a newer protocol and one message could not be
    /// exchanged with this client's version of it (SPEC §9.6): a message
    /// the server sent has no conversion to a version this client knows,
    /// or this client sent a version the server's schema removed. The
    /// connection stays open; the application decides whether to restart
    /// with a newer build ("a new version is available").
    Outdated(OutdatedNotice),
}

impl<P: Package> fmt::Debug for Event<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Message(m) => f.debug_tuple("Message").field(m).finish(),
            Event::RoomMessage {
                room,
                position,
                message,
            } => f
                .debug_struct("RoomMessage")
                .field("room", room)
                .field("position", position)
                .field("message", message)
                .finish(),
            Event::Gap {
                room,
                kind,
                position,
            } => f
                .debug_struct("Gap")
                .field("room", room)
                .field("kind", kind)
                .field("position", position)
                .finish(),
            Event::Presence {
                room,
                position,
                change,
            } => f
                .debug_struct("Presence")
                .field("room", room)
                .field("position", position)
                .field("change", change)
                .finish(),
            Event::Status(s) => f.debug_tuple("Status").field(s).finish(),
            Event::ProtocolMismatch {
                server_package,
                server_fingerprint,
            } => f
                .debug_struct("ProtocolMismatch")
                .field("server_package", server_package)
                .field("server_fingerprint", server_fingerprint)
                .finish(),
            Event::Error(e) => f.debug_tuple("Error").field(e).finish(),
            Event::Outdated(o) => f.debug_tuple("Outdated").field(o).finish(),
        }
    }
}

impl<P: Package> Clone for Event<P>
where
    P::Server: Clone,
{
    fn clone(&self) -> Self {
        match self {
            Event::Message(m) => Event::Message(m.clone()),
            Event::RoomMessage {
                room,
                position,
                message,
            } => Event::RoomMessage {
                room: room.clone(),
                position: *position,
                message: message.clone(),
            },
            Event::Gap {
                room,
                kind,
                position,
            } => Event::Gap {
                room: room.clone(),
                kind: *kind,
                position: *position,
            },
            Event::Presence {
                room,
                position,
                change,
            } => Event::Presence {
                room: room.clone(),
                position: *position,
                change: change.clone(),
            },
            Event::Status(s) => Event::Status(s.clone()),
            Event::ProtocolMismatch {
                server_package,
                server_fingerprint,
            } => Event::ProtocolMismatch {
                server_package: server_package.clone(),
                server_fingerprint: server_fingerprint.clone(),
            },
            Event::Error(e) => Event::Error(e.clone()),
            Event::Outdated(o) => Event::Outdated(o.clone()),
        }
    }
}

impl<P: Package> Event<P> {
    /// The server's message, sent to this connection or to a room.
    #[must_use]
    pub fn message(&self) -> Option<&P::Server> {
        match self {
            Event::Message(message) | Event::RoomMessage { message, .. } => Some(message),
            _ => None,
        }
    }

    /// As [`Event::message`], by value.
    #[must_use]
    pub fn into_message(self) -> Option<P::Server> {
        match self {
            Event::Message(message) | Event::RoomMessage { message, .. } => Some(message),
            _ => None,
        }
    }
}

/// The connection's state, for a UI that explains the gap.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Opening a connection; `attempt` counts from 1 since the last
    /// connection that the server answered.
    Connecting {
        /// 1 for the first attempt after a working connection.
        attempt: u32,
    },
    /// The WebSocket is open; the hello has been sent.
    Open,
    /// The connection is gone; the next attempt starts after `delay`.
    Reconnecting {
        /// Why the connection went away.
        reason: ReconnectReason,
        /// How long until the next attempt.
        delay: Duration,
    },
    /// The client stopped for good: a close code that says not to
    /// reconnect (SPEC §9.4), or [`Client::close`](super::Client::close).
    Closed {
        /// The close code, if the connection ended with one.
        code: Option<CloseCode>,
        /// The close frame's reason, or what ended the client.
        reason: String,
    },
}

/// Why the client is reconnecting.
#[derive(Debug, Clone, PartialEq)]
pub enum ReconnectReason {
    /// The server is being deployed (drain notice, or close 4001).
    Deploy {
        /// The drain notice's human-readable reason.
        reason: String,
    },
    /// The connection failed or dropped (connect error, handshake refused,
    /// connection reset, close without a close frame).
    Network(String),
    /// No ping arrived within `ping_timeout`; the client closed with 4000.
    Heartbeat,
    /// The server closed with a code whose action is to reconnect.
    Closed(CloseCode),
}

impl fmt::Display for ReconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconnectReason::Deploy { reason } => write!(f, "server deploy: {reason}"),
            ReconnectReason::Network(e) => write!(f, "network: {e}"),
            ReconnectReason::Heartbeat => f.write_str("no heartbeat from the server"),
            ReconnectReason::Closed(code) => write!(f, "closed by the server with {code}"),
        }
    }
}

/// Why [`Client::send`](super::Client::send) refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// `queue_limit` messages are already waiting (with
    /// [`QueueFull::Reject`](super::QueueFull::Reject)).
    Full {
        /// The configured queue limit.
        limit: usize,
    },
    /// The client stopped ([`Status::Closed`]); it will not send again.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Full { limit } => write!(f, "send queue full ({limit} messages)"),
            SendError::Closed => f.write_str("client closed"),
        }
    }
}

impl std::error::Error for SendError {}
