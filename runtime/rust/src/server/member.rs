//! What the registry, the rooms and the drain know of one connection: its
//! id, encoding, queue and peer version. Nothing here reaches back to the
//! server: the application's handle (`super::connection`) carries that in
//! the context.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use tokio_tungstenite::tungstenite::Message;

use super::guard::{SERVER_ERROR_REASON, TransportKind};
use super::outbox::{Closing, Outbox, SendError};
use super::peers::PeerHello;
use crate::{CloseCode, Encoding};

/// What the inspector shows of a connection that nothing else keeps.
#[derive(Debug)]
pub(crate) struct Stats {
    pub(crate) opened: std::time::Instant,
    pub(crate) transport: TransportKind,
    /// Data frames read from the client (control frames among them).
    pub(crate) frames_in: AtomicU64,
    /// Data frames written to the client.
    pub(crate) frames_out: AtomicU64,
}

impl Stats {
    pub(crate) fn new(transport: TransportKind) -> Self {
        Stats {
            opened: std::time::Instant::now(),
            transport,
            frames_in: AtomicU64::new(0),
            frames_out: AtomicU64::new(0),
        }
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
    /// Only when the inspector is on: a server without it keeps one
    /// pointer per connection for it, and counts nothing.
    pub(crate) stats: Option<Box<Stats>>,
    /// What the application's handle needs besides (last: it is unsized
    /// in the registry's view).
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
            reason: SERVER_ERROR_REASON.into(),
            notice: None,
        });
    }

    /// The peer's hello when it is not current (does not know every
    /// message version); `None` for current peers and before the hello.
    pub(crate) fn outdated_peer(&self) -> Option<&PeerHello> {
        self.hello.get().map(|p| &**p).filter(|p| !p.is_current())
    }
}

#[cfg(test)]
mod tests {
    use std::mem::size_of;

    use super::*;

    /// Every connection pays for this struct, idle or not: it holds its
    /// queue and its hello, and no more (its rooms are the rooms' to keep).
    #[test]
    fn an_idle_connection_pays_for_its_fields_only() {
        let fields = size_of::<u64>()
            + size_of::<Encoding>()
            + size_of::<Option<SocketAddr>>()
            + size_of::<Outbox>()
            + size_of::<OnceLock<Arc<PeerHello>>>()
            + size_of::<Option<Box<Stats>>>();
        // Up to one word of padding.
        assert!(size_of::<ConnectionState<()>>() < fields + size_of::<usize>());
    }
}
