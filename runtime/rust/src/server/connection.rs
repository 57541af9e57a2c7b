//! The handle through which the application talks to one client.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use tokio_tungstenite::tungstenite::Message;

use super::outbox::{Closing, Outbox};
use super::rooms::Rooms;
use crate::control::Hello;
use crate::frame::to_message;
use crate::{CloseCode, Encoding, Package};

/// Why a message could not be queued for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The connection is closing or closed (drain, close, peer gone).
    Closed,
    /// The client did not keep up: its queue overflowed and the connection
    /// is being closed with 4002.
    SlowConsumer,
    /// The message breaks one of the schema's constraints, so the client's
    /// decoder would reject it; nothing was queued.
    Invalid(crate::Violation),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the connection is closed"),
            SendError::SlowConsumer => {
                f.write_str("the client is not reading; its connection is being closed (4002)")
            }
            SendError::Invalid(violation) => write!(f, "not sent: {violation}"),
        }
    }
}

impl std::error::Error for SendError {}

/// Per-connection state shared by the loop, the handle and the rooms.
/// `Connection<P, C>` holds it with its context type; rooms and the
/// registry hold it as `ConnectionState` (the context behind `dyn Any`), so
/// they serve connections of any package and context without a second
/// allocation for the context.
#[derive(Debug)]
pub(crate) struct ConnectionState<C: ?Sized = dyn Any + Send + Sync> {
    pub(crate) id: u64,
    pub(crate) encoding: Encoding,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) outbox: Outbox,
    pub(crate) hello: OnceLock<Hello>,
    /// Rooms this connection is in, so leaving all of them on close does
    /// not scan every room. Empty (no allocation) for most connections.
    pub(crate) rooms: Mutex<Vec<Arc<str>>>,
    pub(crate) room_registry: Arc<Rooms>,
    /// What authentication said about the client (last: it is unsized in
    /// the registry's view).
    pub(crate) context: C,
}

impl<C: ?Sized> ConnectionState<C> {
    pub(crate) fn push(&self, frame: Message) -> Result<(), SendError> {
        self.outbox.push(frame)
    }
}

/// One client's connection: send to it, put it in rooms, close it, read
/// its context (`C`, from [`super::Authenticate`]; `()` without one).
/// Cheap to clone; clones refer to the same connection.
pub struct Connection<P: Package, C: Send + Sync + 'static = ()> {
    pub(crate) state: Arc<ConnectionState<C>>,
    _package: PhantomData<fn() -> P>,
}

impl<P: Package, C: Send + Sync + 'static> Clone for Connection<P, C> {
    fn clone(&self) -> Self {
        Connection::new(self.state.clone())
    }
}

impl<P: Package, C: Send + Sync + 'static> fmt::Debug for Connection<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.state.id)
            .field("encoding", &self.state.encoding)
            .field("peer", &self.state.peer)
            .finish_non_exhaustive()
    }
}

impl<P: Package, C: Send + Sync + 'static> Connection<P, C> {
    pub(crate) fn new(state: Arc<ConnectionState<C>>) -> Self {
        Connection {
            state,
            _package: PhantomData,
        }
    }

    /// The registry's and the rooms' view of this connection.
    pub(crate) fn member(&self) -> Arc<ConnectionState> {
        self.state.clone()
    }

    /// What the server's [`super::Authenticate`] hook said about this
    /// client when it connected (a user, a session…).
    #[must_use]
    pub fn context(&self) -> &C {
        &self.state.context
    }

    /// A number unique among this server's connections.
    #[must_use]
    pub fn id(&self) -> u64 {
        self.state.id
    }

    /// The encoding the client chose; every frame to it uses it.
    #[must_use]
    pub fn encoding(&self) -> Encoding {
        self.state.encoding
    }

    /// The client's address, when the server knows it.
    #[must_use]
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.state.peer
    }

    /// The client's hello (its package and fingerprint), once it arrived.
    #[must_use]
    pub fn hello(&self) -> Option<&Hello> {
        self.state.hello.get()
    }

    /// Whether the client's fingerprint equals the server's: `None` until
    /// its hello arrived.
    #[must_use]
    pub fn same_protocol(&self) -> Option<bool> {
        self.hello().map(|h| h.fingerprint == P::FINGERPRINT)
    }

    /// Queues `message` for this client. Never waits: a client whose queue
    /// is full is a slow consumer and gets closed with 4002.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the connection is closing (the frame was
    /// not accepted); [`SendError::SlowConsumer`] when this frame overflowed
    /// the queue.
    pub fn send(&self, message: impl Into<P::Server>) -> Result<(), SendError> {
        let message: P::Server = message.into();
        crate::Protocol::validate(&message).map_err(SendError::Invalid)?;
        self.state.push(to_message(&message, self.state.encoding))
    }

    /// Closes the connection with `code` after writing what is queued.
    pub fn close(&self, code: CloseCode, reason: &str) {
        self.state.outbox.close(Closing::Close {
            code,
            reason: reason.to_string(),
            notice: None,
        });
    }

    /// Whether the connection is closing or closed.
    #[must_use]
    pub fn is_closing(&self) -> bool {
        self.state.outbox.is_closing()
    }

    /// Adds this connection to `room` (no effect if it is in it already).
    pub fn join(&self, room: &str) {
        self.state.room_registry.join(&self.member(), room);
    }

    /// Removes this connection from `room`.
    pub fn leave(&self, room: &str) {
        self.state.room_registry.leave(&self.member(), room);
    }

    /// Sends `message` to every connection in `room`, this one included if
    /// it is a member; returns how many accepted it.
    pub fn broadcast(&self, room: &str, message: &P::Server) -> usize {
        self.state.room_registry.broadcast(room, message, None)
    }

    /// As [`Connection::broadcast`], skipping this connection.
    pub fn broadcast_to_others(&self, room: &str, message: &P::Server) -> usize {
        self.state
            .room_registry
            .broadcast(room, message, Some(self.state.id))
    }
}
