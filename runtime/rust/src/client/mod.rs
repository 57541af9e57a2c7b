//! The WebSocket client (feature `client`): see docs/RUNTIME.md.
//!
//! [`Client::connect`] spawns one task that owns the connection and returns
//! at once with a cheap [`Client`] handle (send, close) and an [`Events`]
//! stream (messages, status, protocol mismatch, refused frames). The task
//! implements SPEC §9 on the client side:
//!
//! - it asks for the subprotocol of [`ClientConfig::encoding`] and sends a
//!   hello (`P::NAME`, `P::FINGERPRINT`, every header) as its first frame;
//! - it answers every ping with a pong, and closes with 4000 and reconnects
//!   when no ping arrived for [`ClientConfig::ping_timeout`];
//! - after a close it follows [`CloseCode::action`](crate::CloseCode::action):
//!   exponential backoff with full jitter ([`Backoff`]), a random moment
//!   inside a drain notice's window then the backoff times the notice's
//!   multiplier, or [`Status::Closed`];
//! - messages sent while disconnected wait in a bounded queue and go out in
//!   order after the next hello. Messages are sent at most once: one that
//!   was written to a connection that then dropped is not re-sent.
//!
//! The retry counter (and a drain's backoff factor) resets once the server
//! has sent a frame on a connection, not at the handshake, so a server that
//! accepts and at once closes still gets a growing backoff.
//!
//! The server must echo the subprotocol (tungstenite refuses a handshake
//! whose response lacks the one it asked for); the Tagwire server does.

mod backoff;
mod config;
mod connection;
mod connector;
mod event;
mod outbox;
mod presence;

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;

use crate::Package;

pub use backoff::Backoff;
pub use config::{ClientConfig, QueueFull};
pub use connector::Connector;
pub use event::{Event, ReconnectReason, SendError, Status};
pub use presence::PresenceChange;

use connection::Task;
use connector::{ConnectorDial, Dial, UrlDial};
use outbox::Outbox;
use presence::{MAX_PRESENCE_ROOMS, PresenceMaps};

/// A handle on a client connection: cheap to clone, usable from any task.
///
/// The connection task runs until [`Client::close`], a close code that says
/// stop, or until every handle is dropped (which closes with 1000 too).
pub struct Client<P: Package> {
    handle: Arc<Handle<P>>,
}

/// Closes the connection when the last [`Client`] clone goes away.
struct Handle<P: Package> {
    outbox: Arc<Outbox<P::Client>>,
    presence: Arc<PresenceMaps<P::Server>>,
}

impl<P: Package> Drop for Handle<P> {
    fn drop(&mut self) {
        self.outbox.request_close();
    }
}

impl<P: Package> Clone for Client<P> {
    fn clone(&self) -> Self {
        Client {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<P: Package> fmt::Debug for Client<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("package", &P::NAME)
            .field("finished", &self.handle.outbox.is_finished())
            .finish_non_exhaustive()
    }
}

impl<P: Package> Client<P> {
    /// Connects to a `ws://` URL over TCP, reconnecting as SPEC §9.4 says.
    /// Returns at once; the connection runs on a spawned tokio task, so
    /// this must be called inside a tokio runtime.
    pub fn connect(url: impl Into<String>, config: ClientConfig) -> (Client<P>, Events<P>) {
        Self::spawn(UrlDial(vec![url.into()]), config)
    }

    /// Like [`Client::connect`], to any of several nodes without a load
    /// balancer in front: the first attempt goes to one of `urls` chosen at
    /// random (so clients spread), and every attempt after it (after a
    /// failure, a drain or a dropped connection) to the next in turn, so a
    /// node that is going away is not asked again first.
    ///
    /// With no URL at all the client closes at once, saying so.
    pub fn connect_any<U: Into<String>>(
        urls: impl IntoIterator<Item = U>,
        config: ClientConfig,
    ) -> (Client<P>, Events<P>) {
        Self::spawn(UrlDial(urls.into_iter().map(Into::into).collect()), config)
    }

    /// Like [`Client::connect`], on streams opened by `connector`: the
    /// client performs the WebSocket handshake on each one. Tests use it
    /// with `tokio::io::duplex` pipes.
    pub fn connect_with(connector: impl Connector, config: ClientConfig) -> (Client<P>, Events<P>) {
        Self::spawn(ConnectorDial(connector), config)
    }

    fn spawn<D: Dial>(dial: D, config: ClientConfig) -> (Client<P>, Events<P>) {
        let outbox = Arc::new(Outbox::new(config.queue_limit, config.when_full));
        let (events_tx, events_rx) = mpsc::channel(config.event_buffer.max(1));
        let presence = Arc::new(PresenceMaps::new(config.max_presence_members));
        let task = Task::<P, D>::new(
            dial,
            config,
            Arc::clone(&outbox),
            events_tx,
            Arc::clone(&presence),
        );
        tokio::spawn(task.run());
        (
            Client {
                handle: Arc::new(Handle { outbox, presence }),
            },
            Events { events: events_rx },
        )
    }

    /// Queues `message`; the connection task sends queued messages in
    /// order as soon as a connection is open (at once if it is).
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when `queue_limit` messages are waiting (with
    /// [`QueueFull::Reject`]); [`SendError::Closed`] once the client is
    /// closed or closing.
    pub fn send(&self, message: impl Into<P::Client>) -> Result<(), SendError> {
        self.handle.outbox.push(message.into())
    }

    /// Sets this client's presence state in `room` (SPEC §9.8): a
    /// presence message (the schema's `presence` declarations), which the
    /// server accepts once the application made this connection a present
    /// member of the room (it answers an error event otherwise). At most
    /// one state per room goes out per
    /// [`ClientConfig::presence_interval`]; a state set meanwhile replaces
    /// the one waiting, and one set while disconnected goes out after the
    /// next hello.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] when states wait for 64 rooms already;
    /// [`SendError::Closed`] once the client is closed or closing.
    pub fn set_presence(&self, room: &str, state: impl Into<P::Client>) -> Result<(), SendError> {
        self.handle
            .outbox
            .set_presence(room, state.into(), MAX_PRESENCE_ROOMS)
    }

    /// The room's presence as this client knows it: each member's state,
    /// by member key (empty when it has none). Kept across reconnects; a
    /// snapshot or the resume replay brings it in step.
    #[must_use]
    pub fn presence(&self, room: &str) -> BTreeMap<String, P::Server>
    where
        P::Server: Clone,
    {
        self.with_presence(room, |members| members.cloned().unwrap_or_default())
    }

    /// Reads the room's presence without copying it: `read` gets the
    /// members by key, `None` when the client has no presence for the room.
    pub fn with_presence<R>(
        &self,
        room: &str,
        read: impl FnOnce(Option<&BTreeMap<String, P::Server>>) -> R,
    ) -> R {
        let rooms = self.handle.presence.lock();
        read(rooms.get(room).map(|p| &p.members))
    }

    /// Sends what is queued (if connected), closes with 1000 and stops
    /// reconnecting; returns when the connection task has ended.
    pub async fn close(&self) {
        self.handle.outbox.request_close();
        self.handle.outbox.finished().await;
    }

    /// Whether the client has stopped for good ([`Status::Closed`]).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.handle.outbox.is_finished()
    }
}

/// Everything the connection reports, in order: [`Event`]s. Ends (`None`)
/// after the final [`Status::Closed`].
pub struct Events<P: Package> {
    events: mpsc::Receiver<Event<P>>,
}

impl<P: Package> fmt::Debug for Events<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("package", &P::NAME)
            .finish_non_exhaustive()
    }
}

impl<P: Package> Events<P> {
    /// The next event; `None` once the client has stopped and every event
    /// was read.
    pub async fn next(&mut self) -> Option<Event<P>> {
        self.events.recv().await
    }
}

impl<P: Package> Stream for Events<P> {
    type Item = Event<P>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event<P>>> {
        self.events.poll_recv(cx)
    }
}
