//! What every connection of one server shares: the core, the handler, the
//! authentication hook and what was read once from the package.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::backend::LocalBackend;
use super::config::ServerConfig;
use super::connection::{Connection, Served};
use super::core::Core;
use super::guard::Authenticate;
use super::guard::TransportKind;
use super::member::{ConnectionState, Stats};
use super::metrics::Recorder;
use super::outbox::Outbox;
use super::peers::Hellos;
use super::rate;
use super::rooms::Rooms;
use crate::{Encoding, Header, Package, Quota};

/// Bytes of queued frames tungstenite gathers before writing them, so the
/// frames one wake-up of a connection writes go out in one `sendto` rather
/// than one each (runtime-load fan-out: docs/BENCHMARKS.md).
const WRITE_BATCH_BYTES: usize = 4 * 1024;

/// What every connection of one server shares.
pub(crate) struct Shared<P: Package, H, A> {
    pub(crate) core: Arc<Core>,
    pub(crate) handler: H,
    pub(crate) auth: A,
    /// This package's headers, sorted, to tell server-only messages from
    /// unknown ones.
    pub(crate) headers: Vec<Header>,
    /// Quotas per message version (the package's, overridden by the
    /// configuration's), sorted by header.
    pub(crate) message_quotas: Vec<(Header, Quota)>,
    /// Hellos read once and shared by the connections that sent them.
    pub(crate) hellos: Hellos,
    _package: PhantomData<fn() -> P>,
}

impl<P: Package, H, A: Authenticate> Shared<P, H, A> {
    /// The server's state: its rooms on the configured backend (the
    /// in-process one unless set), and what the package says once.
    pub(crate) fn new(handler: H, auth: A, config: ServerConfig) -> Self {
        let mut headers = P::headers();
        headers.sort();
        let message_quotas = rate::merged(P::rate_limits(), &config.rate_limits);
        let backend = config
            .backend
            .clone()
            .unwrap_or_else(|| Arc::new(LocalBackend::default()));
        let panics = Arc::default();
        let metrics = Arc::new(Recorder::new::<P>(&config));
        let rooms = Rooms::new::<P>(
            backend,
            Arc::clone(&panics),
            Arc::clone(&metrics),
            config.presence_interval,
        );
        Shared {
            core: Arc::new(Core::new(config, rooms, panics, metrics)),
            handler,
            auth,
            headers,
            message_quotas,
            hellos: Hellos::default(),
            _package: PhantomData,
        }
    }

    pub(crate) fn ws_config(&self) -> WebSocketConfig {
        let limits = &self.core.config.limits;
        WebSocketConfig::default()
            .read_buffer_size(limits.read_buffer_bytes)
            // Frames fed together (the outbox's, between two flushes) leave
            // in one write up to this much; no 128 KiB buffer per connection:
            // the outbox is the queue.
            .write_buffer_size(WRITE_BATCH_BYTES)
            .max_write_buffer_size(limits.max_frame_bytes.saturating_mul(2).max(64 * 1024))
            .max_message_size(Some(limits.max_frame_bytes))
            .max_frame_size(Some(limits.max_frame_bytes))
    }

    pub(crate) fn new_connection(
        &self,
        encoding: Encoding,
        peer: Option<SocketAddr>,
        context: A::Context,
        transport: TransportKind,
    ) -> Connection<P, A::Context> {
        let limits = &self.core.config.limits;
        Connection::new(Arc::new(ConnectionState {
            id: self.core.next_id(),
            encoding,
            peer,
            outbox: Outbox::new(limits.outbound_queue_frames, limits.outbound_queue_bytes),
            hello: OnceLock::new(),
            stats: self
                .core
                .config
                .inspector
                .is_some()
                .then(|| Box::new(Stats::new(transport))),
            context: Served {
                core: self.core.clone(),
                context,
            },
        }))
    }
}
