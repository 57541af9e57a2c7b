//! The state every connection of a server shares, whatever its package:
//! the registry of live connections, the rooms and the drain's progress.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_channel::mpsc;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::config::ServerConfig;
use super::member::ConnectionState;
use super::metrics::Recorder;
use super::rooms::Rooms;
use crate::Encoding;
use crate::control::Control;
use crate::frame::to_message;

/// Where a server is in its life.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DrainPhase {
    /// Serving normally: health 200.
    Serving,
    /// Health 503, waiting out the grace period.
    Grace,
    /// Sending drain notices and closing, batch by batch.
    Closing,
    /// Every connection is gone (or the deadline passed).
    Done(DrainReport),
}

/// What a drain did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DrainReport {
    /// Connections open when the drain started.
    pub connections_at_start: usize,
    /// Connections sent a drain notice.
    pub notified: usize,
    /// Connections still open at the hard deadline (closed with 1001).
    pub cut_at_deadline: usize,
    /// From the drain's start to the first notice.
    pub grace: Duration,
    /// From the first notice to the last connection gone.
    pub closing: Duration,
    /// From start to done.
    pub total: Duration,
}

/// Open SSE sessions by token, for the POST route.
#[derive(Debug, Default)]
pub(crate) struct SseSessions {
    inbound: Mutex<HashMap<String, mpsc::Sender<Message>>>,
}

impl SseSessions {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<Message>>> {
        self.inbound.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug)]
pub(crate) struct Core {
    /// Connections counted against `limits.max_connections` and
    /// `max_connections_per_address`.
    pub(crate) admission: Arc<super::admission::Admission>,
    pub(crate) config: ServerConfig,
    pub(crate) rooms: Arc<Rooms>,
    connections: Mutex<HashMap<u64, Arc<ConnectionState>>>,
    count: watch::Sender<usize>,
    next_id: AtomicU64,
    /// Panics of application code caught so far (each closed one
    /// connection with 1011).
    panics: Arc<AtomicU64>,
    /// What the server records for Prometheus (nothing unless asked).
    pub(crate) metrics: Arc<Recorder>,
    /// Who watches which connection's frames (the inspector).
    pub(crate) tap: Arc<super::tap::Tap>,
    draining: AtomicBool,
    pub(crate) phase: watch::Sender<DrainPhase>,
    pub(crate) sse: SseSessions,
    /// Ping slots are multiples of `heartbeat.coalesce` since this moment.
    epoch: Instant,
    /// The ping frame in each encoding, encoded once: a ping copies no bytes.
    ping_text: Message,
    ping_binary: Message,
}

impl Core {
    /// `panics` is the count the rooms add to as well.
    pub(crate) fn new(
        config: ServerConfig,
        rooms: Arc<Rooms>,
        panics: Arc<AtomicU64>,
        metrics: Arc<Recorder>,
    ) -> Self {
        Core {
            admission: Arc::new(super::admission::Admission::new(
                config.limits.max_connections,
                config.limits.max_connections_per_address,
            )),
            config,
            rooms,
            connections: Mutex::new(HashMap::new()),
            count: watch::Sender::new(0),
            next_id: AtomicU64::new(1),
            panics,
            metrics,
            tap: Arc::default(),
            draining: AtomicBool::new(false),
            phase: watch::Sender::new(DrainPhase::Serving),
            sse: SseSessions::default(),
            epoch: Instant::now(),
            ping_text: to_message(&Control::Ping, Encoding::Text),
            ping_binary: to_message(&Control::Ping, Encoding::Binary),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<ConnectionState>>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The first ping slot at or after `due`. Connections open at random
    /// moments; left alone, each ping would wake the runtime on its own.
    /// Rounding every ping up to a shared grid batches them, which is most
    /// of the heartbeat's cost (docs/BENCHMARKS.md, idle connections).
    pub(crate) fn ping_slot(&self, due: Instant) -> Instant {
        let hb = &self.config.heartbeat;
        // Never more than a tenth of the interval, so short test intervals
        // keep their shape.
        let grid = hb.coalesce.min(hb.ping_interval / 10).as_nanos();
        if grid == 0 {
            return due;
        }
        let since = due.saturating_duration_since(self.epoch).as_nanos();
        let slots = since.div_ceil(grid);
        let offset = u64::try_from(slots.saturating_mul(grid)).unwrap_or(u64::MAX);
        self.epoch + Duration::from_nanos(offset)
    }

    pub(crate) fn ping_frame(&self, encoding: Encoding) -> Message {
        match encoding {
            Encoding::Text => self.ping_text.clone(),
            Encoding::Binary => self.ping_binary.clone(),
        }
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn count_panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn panics(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Turns health to 503 and refuses new connections; true the first time.
    pub(crate) fn set_draining(&self) -> bool {
        !self.draining.swap(true, Ordering::SeqCst)
    }

    // The count is published while the map is still locked: published
    // after unlocking, two connections' counts could arrive in the wrong
    // order and leave a stale one (a drained server reporting 17
    // connections, runtime_deploy under load).
    pub(crate) fn register(&self, conn: Arc<ConnectionState>) {
        let mut map = self.lock();
        map.insert(conn.id, conn);
        self.count.send_replace(map.len());
    }

    pub(crate) fn unregister(&self, id: u64) {
        let mut map = self.lock();
        map.remove(&id);
        self.count.send_replace(map.len());
    }

    pub(crate) fn connection_count(&self) -> usize {
        *self.count.borrow()
    }

    /// Live connections in the order they connected.
    pub(crate) fn snapshot(&self) -> Vec<Arc<ConnectionState>> {
        let mut all: Vec<_> = self.lock().values().cloned().collect();
        all.sort_by_key(|c| c.id);
        all
    }

    /// Resolves when no connection is left.
    pub(crate) async fn all_closed(&self) {
        let mut rx = self.count.subscribe();
        // The sender lives in `self`, so `wait_for` cannot fail here.
        let _ = rx.wait_for(|n| *n == 0).await;
    }
}

/// What the metrics read at scrape time: the same state `ServerHandle`
/// reports.
impl super::metrics::Node for Core {
    fn recorder(&self) -> &Recorder {
        &self.metrics
    }

    fn panics(&self) -> u64 {
        Core::panics(self)
    }

    fn backend_connected(&self) -> bool {
        matches!(
            *self.rooms.backend().state().borrow(),
            super::backend::BackendState::Connected
        )
    }

    fn drain_phase(&self) -> &'static str {
        match *self.phase.borrow() {
            DrainPhase::Serving => "serving",
            DrainPhase::Grace => "grace",
            DrainPhase::Closing => "closing",
            DrainPhase::Done(_) => "done",
        }
    }

    fn draining_left(&self) -> usize {
        if self.is_draining() {
            self.connection_count()
        } else {
            0
        }
    }
}
