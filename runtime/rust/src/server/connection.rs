//! The handle through which the application talks to one client.

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use tokio_tungstenite::tungstenite::Message;

use super::backend::Position;
use super::core::Core;
use super::downgrade::{Converted, Older, cannot_send};
use super::outbox::{Closing, Outbox};
use super::peers::PeerHello;
use super::rooms::PublishError;
use crate::control::Hello;
use crate::frame::to_message;
use crate::{CloseCode, Encoding, Header, Package, Protocol};

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
    /// The client was generated from an older protocol: it does not know
    /// this message version (the header) and no conversion reaches one it
    /// knows (SPEC §9.6). The client was sent the outdated notice instead.
    Outdated(Header),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the connection is closed"),
            SendError::SlowConsumer => {
                f.write_str("the client is not reading; its connection is being closed (4002)")
            }
            SendError::Invalid(violation) => write!(f, "not sent: {violation}"),
            SendError::Outdated(header) => write!(
                f,
                "not sent: the client's protocol is older than message {header} and no conversion reaches a version it knows; it was told it is outdated"
            ),
        }
    }
}

impl std::error::Error for SendError {}

/// Most rooms a connection may hold resume positions (`_i`) for.
pub(crate) const MAX_RESUMES: usize = 64;

/// Rooms and the positions a client resumes them from.
type Resumes = Vec<(Box<str>, Position)>;

/// The rooms of one connection, and the positions its client resumes from.
#[derive(Debug, Default)]
pub(crate) struct Memberships {
    /// Rooms this connection is in, so leaving all of them on close does
    /// not scan every room. Empty (no allocation) for most connections.
    pub(crate) joined: Vec<Arc<str>>,
    /// `_i` positions not yet used by a join. Boxed: a connection whose
    /// client sends none pays a pointer.
    resume: Option<Box<Resumes>>,
}

impl Memberships {
    /// The resume position for `room`, which a join uses up.
    pub(crate) fn take_resume(&mut self, room: &str) -> Option<Position> {
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
    pub(crate) fn set_resume(&mut self, room: String, position: Position) -> bool {
        let resume = self.resume.get_or_insert_with(Box::default);
        if let Some(slot) = resume.iter_mut().find(|(r, _)| **r == *room) {
            slot.1 = position;
            return true;
        }
        if resume.len() >= MAX_RESUMES {
            return false;
        }
        resume.push((room.into_boxed_str(), position));
        true
    }

    pub(crate) fn is_in(&self, room: &str) -> bool {
        self.joined.iter().any(|r| &**r == room)
    }
}

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
    /// The client's hello, shared with every connection that sent the same
    /// (`super::peers`); unset means a current peer.
    pub(crate) hello: OnceLock<Arc<PeerHello>>,
    /// Rooms this connection is in and its client's resume positions.
    pub(crate) rooms: Mutex<Memberships>,
    /// The server this connection belongs to (its rooms, its counters).
    pub(crate) core: Arc<Core>,
    /// What authentication said about the client (last: it is unsized in
    /// the registry's view).
    pub(crate) context: C,
}

impl<C: ?Sized> ConnectionState<C> {
    pub(crate) fn push(&self, frame: Message) -> Result<(), SendError> {
        self.outbox.push(frame)
    }

    /// Application code panicked for this connection: it closes with 1011
    /// once what is queued has gone out (the panic's text stays in the
    /// server's log).
    pub(crate) fn close_after_panic(&self) {
        self.outbox.close(Closing::Close {
            code: CloseCode::INTERNAL_ERROR,
            reason: super::session::SERVER_ERROR_REASON.into(),
            notice: None,
        });
    }

    /// The peer's hello when it is not current (does not know every
    /// message version); `None` for current peers and before the hello.
    pub(crate) fn outdated_peer(&self) -> Option<&PeerHello> {
        self.hello.get().map(|p| &**p).filter(|p| !p.is_current())
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
        self.state.hello.get().map(|p| &p.hello)
    }

    /// Whether the client knows message version `header`: true for current
    /// clients (same fingerprint, no header list, or no hello yet), else
    /// whether its hello lists it (SPEC §9.6).
    #[must_use]
    pub fn knows(&self, header: Header) -> bool {
        self.state.outdated_peer().is_none_or(|p| p.knows(header))
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
    /// A client generated from an older protocol that does not know
    /// `message`'s version gets the newest older version it knows, converted
    /// by [`Package::downgrade`] (docs/RUNTIME.md, Protocol evolution).
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the connection is closing (the frame was
    /// not accepted); [`SendError::SlowConsumer`] when this frame overflowed
    /// the queue; [`SendError::Invalid`] for a value that breaks a
    /// constraint; [`SendError::Outdated`] when the client knows no version
    /// the message converts to (it was sent the outdated notice).
    pub fn send(&self, message: impl Into<P::Server>) -> Result<(), SendError> {
        let message: P::Server = message.into();
        message.validate().map_err(SendError::Invalid)?;
        let encoding = self.state.encoding;
        let Some(peer) = self
            .state
            .outdated_peer()
            .filter(|p| !p.knows(message.header()))
        else {
            return self.state.push(to_message(&message, encoding));
        };
        let mut older = Older::<P>::new(&message);
        match older.frame_for(peer, encoding) {
            Converted::Frame(frame) => return self.state.push(frame),
            Converted::Outdated => {}
            Converted::Panicked => {
                self.state.core.count_panic();
                self.state.close_after_panic();
                return Err(SendError::Closed);
            }
        }
        let header = message.header();
        tracing::debug!(
            connection = self.state.id,
            %header,
            "client too old for a message; sending the outdated notice"
        );
        self.state
            .push(to_message(&cannot_send::<P>(header), encoding))?;
        Err(SendError::Outdated(header))
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
    ///
    /// Returns at once. When this is the room's first member on the node,
    /// the node subscribes to the room through the backend (with Redis, a
    /// round trip); until that is in effect, this node's publishes to the
    /// room wait for it, so a broadcast made after `join` returns reaches
    /// this connection with any backend.
    pub fn join(&self, room: &str) {
        self.state.core.rooms.join(&self.member(), room);
    }

    /// Removes this connection from `room`.
    pub fn leave(&self, room: &str) {
        self.state.core.rooms.leave(&self.member(), room);
    }

    /// Sends `message` to every connection in `room` on every node sharing
    /// the server's broadcast backend, this one included if it is a member
    /// (docs/RUNTIME.md, Rooms across nodes). Each member gets it in an `_h`
    /// envelope with the message's position in the room.
    ///
    /// Returns how many members accepted it when the backend delivers at
    /// once (the in-process [`super::backend::LocalBackend`], on every
    /// server sharing it); 0 when delivery comes later (Redis) or the
    /// message was not published (logged as an error). Use
    /// [`Connection::publish`] for the position or the error.
    pub fn broadcast(&self, room: &str, message: &P::Server) -> usize {
        self.state.core.rooms.broadcast::<P>(room, message, None)
    }

    /// As [`Connection::broadcast`], skipping this connection.
    pub fn broadcast_to_others(&self, room: &str, message: &P::Server) -> usize {
        self.state
            .core
            .rooms
            .broadcast::<P>(room, message, Some(self.state.id))
    }

    /// As [`Connection::broadcast`] (this connection included if it is a
    /// member), and waits for the backend: the message's position in the
    /// room. The publish starts when this is called, so publishes started
    /// one after the other keep their order even if awaited later.
    ///
    /// # Errors
    ///
    /// [`PublishError::Invalid`] for a value that breaks a constraint,
    /// [`PublishError::Backend`] when the backend failed.
    pub fn publish(
        &self,
        room: &str,
        message: &P::Server,
    ) -> impl std::future::Future<Output = Result<Position, PublishError>> + Send + 'static + use<P, C>
    {
        self.state.core.rooms.publish::<P>(room, message, None)
    }
}
