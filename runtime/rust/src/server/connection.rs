//! The handle through which the application talks to one client.

use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use super::backend::Position;
use super::backend::{Bytes, check_member_key};
use super::core::Core;
use super::downgrade::{Converted, Older, cannot_send};
use super::member::ConnectionState;
use super::metrics::Conversion;
use super::outbox::{Closing, SendError};
use super::rooms::{PresenceError, PublishError};
use crate::control::Hello;
use crate::frame::to_message;
use crate::{CloseCode, Encoding, Header, Package, Protocol};

/// What a connection's state carries for the application's handle: the
/// server it belongs to (its rooms, its counters) and what authentication
/// said about the client. The rooms hold the state and so the server: the
/// connection's task breaks that cycle when it ends, by leaving its rooms
/// (`super::session`'s drop guard).
#[derive(Debug)]
pub(crate) struct Served<C> {
    pub(crate) core: Arc<Core>,
    pub(crate) context: C,
}

/// One client's connection: send to it, put it in rooms, close it, read
/// its context (`C`, from [`super::Authenticate`]; `()` without one).
/// Cheap to clone; clones refer to the same connection.
pub struct Connection<P: Package, C: Send + Sync + 'static = ()> {
    pub(crate) state: Arc<ConnectionState<Served<C>>>,
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
    pub(crate) fn new(state: Arc<ConnectionState<Served<C>>>) -> Self {
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
        &self.state.context.context
    }

    /// The server this connection belongs to.
    pub(crate) fn core(&self) -> &Arc<Core> {
        &self.state.context.core
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
            Converted::Frame(frame) => {
                self.core()
                    .metrics
                    .converted(message.header(), Conversion::Down);
                return self.state.push(frame);
            }
            Converted::Outdated => {}
            Converted::Panicked => {
                self.core().count_panic();
                self.state.close_after_panic();
                return Err(SendError::Closed);
            }
        }
        let header = message.header();
        self.core().metrics.outdated_notice(header);
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
        self.core().rooms.join(&self.member(), room);
    }

    /// Removes this connection from `room`, and its member from the
    /// room's presence at once (the others see it leave).
    pub fn leave(&self, room: &str) {
        self.core().rooms.leave(self.state.id, room);
    }

    /// Joins `room` (as [`Connection::join`]) as a present member
    /// (SPEC §9.8): `member` is the key the others see (a user id, a
    /// session; at most 128 bytes, no control characters), `state` a
    /// presence message (the schema's `presence` declarations). The other
    /// members get a join (or, for a member key present already, for
    /// instance still lingering after a reconnect, an update or nothing);
    /// this client gets the room's presence snapshot, then the room's
    /// messages after it. With a resume position from the client, the
    /// replay brings its presence in step instead.
    ///
    /// Until [`Connection::leave`], the member stays present while the
    /// connection is open; once it closes (a deploy, a dropped network),
    /// it lingers for the backend's `PresenceConfig::linger`, so a client
    /// that comes back in time is not seen leaving.
    ///
    /// # Errors
    ///
    /// [`PresenceError::NotPresence`], [`PresenceError::Invalid`],
    /// [`PresenceError::TooLarge`] and [`PresenceError::Member`] for a
    /// state or key presence does not take;
    /// [`PresenceError::AlreadyPresent`] when the connection is present in
    /// the room as another member; [`PresenceError::Backend`] when the
    /// backend refused (the room holds its most members) or failed, and
    /// [`PresenceError::Closed`] when the connection closed: then it is not
    /// left in the room.
    pub async fn join_presence(
        &self,
        room: &str,
        member: &str,
        state: &P::Server,
    ) -> Result<(), PresenceError> {
        check_member_key(member).map_err(PresenceError::Member)?;
        let state = self.presence_state(state)?;
        self.core()
            .rooms
            .join_presence(&self.member(), room, member, state)
            .await
    }

    /// Sets this connection's presence state in `room`, where
    /// [`Connection::join_presence`] made it present. At most one state
    /// per `ServerConfig::presence_interval` goes to the backend; a state
    /// set meanwhile waits, and a newer one replaces it (the last wins).
    /// A state the backend refuses is reported to the client as an error
    /// (`_f`, code 4).
    ///
    /// # Errors
    ///
    /// As [`Connection::join_presence`] for the state, and
    /// [`PresenceError::NotPresent`] when the connection is not present in
    /// the room.
    pub fn set_presence(&self, room: &str, state: &P::Server) -> Result<(), PresenceError> {
        let state = self.presence_state(state)?;
        self.core().rooms.set_presence(&self.member(), room, state)
    }

    /// The state's binary frame, when presence takes it.
    fn presence_state(&self, state: &P::Server) -> Result<Bytes, PresenceError> {
        presence_frame::<P>(
            state,
            self.core()
                .rooms
                .backend()
                .presence_config()
                .max_state_bytes,
        )
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
        self.core().rooms.broadcast::<P>(room, message, None)
    }

    /// As [`Connection::broadcast`], skipping this connection.
    pub fn broadcast_to_others(&self, room: &str, message: &P::Server) -> usize {
        self.core()
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
        self.core().rooms.publish::<P>(room, message, None)
    }
}

/// A presence state's binary frame, checked: a presence message version,
/// its constraints, at most `max` bytes.
pub(crate) fn presence_frame<P: Package>(
    state: &impl Protocol,
    max: usize,
) -> Result<Bytes, PresenceError> {
    let header = state.header();
    if !P::PRESENCE.contains(&header) {
        return Err(PresenceError::NotPresence(header));
    }
    state.validate().map_err(PresenceError::Invalid)?;
    let frame = state.to_binary();
    if frame.len() > max {
        return Err(PresenceError::TooLarge {
            len: frame.len(),
            max,
        });
    }
    Ok(Bytes::from(frame))
}
