//! What a [`Client`](super::Client) can be told before it connects.

use std::time::Duration;

use crate::setters::setters;
use crate::{Encoding, Limits};

use super::backoff::Backoff;

/// What [`Client::send`](super::Client::send) does when `queue_limit`
/// messages are already waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueFull {
    /// Refuse the new message with [`SendError::Full`](super::SendError::Full)
    /// (the default): the application decides what to drop.
    #[default]
    Reject,
    /// Drop the oldest queued message to make room, for state-like streams
    /// where only the latest messages matter.
    DropOldest,
}

/// Settings of a [`Client`](super::Client). `ClientConfig::default()` has
/// the defaults of SPEC §9; the `with_*` methods change one field.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The encoding asked for with the WebSocket subprotocol
    /// (`tagwire.text` / `tagwire.binary`) and used for every frame sent.
    pub encoding: Encoding,
    /// Drop the connection (close 4000) and reconnect when no ping arrived
    /// for this long (default 45 s). Kept as configured whatever ping
    /// interval the server's welcome announces; the client logs a warning
    /// when the announced interval is not below it.
    pub ping_timeout: Duration,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// Factor applied to the backoff after a "reconnect later" close (1012,
    /// 1013, 4001, 4005) that no drain notice announced (default 2: the
    /// backoff doubles); a notice's own `backoff_multiplier` wins.
    pub later_multiplier: f64,
    /// Most messages [`Client::send`](super::Client::send) holds while they
    /// wait for a connection (default 1024).
    pub queue_limit: usize,
    /// What happens to a message sent while the queue is full.
    pub when_full: QueueFull,
    /// Most events buffered for [`Events`](super::Events) (default 256).
    /// When the application stops reading, the client stops reading the
    /// socket (backpressure) instead of buffering without bound.
    pub event_buffer: usize,
    /// Decoding limits for received frames; `max_frame_bytes` also bounds
    /// WebSocket messages and frames.
    pub limits: Limits,
    /// Give up a connection attempt (TCP connect and handshake) after this
    /// long (default 10 s).
    pub connect_timeout: Duration,
    /// Seed of the jitter RNG, for reproducible tests; `None` seeds from
    /// the operating system.
    pub seed: Option<u64>,
    /// Most members the client keeps in one room's presence map (default
    /// 10,000); a join beyond is ignored (logged), so a server cannot grow
    /// the client's memory without bound.
    pub max_presence_members: usize,
    /// At most one presence state per room goes out per interval (default
    /// 50 ms); a state set meanwhile replaces the one waiting (SPEC §9.8).
    pub presence_interval: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            encoding: Encoding::Text,
            ping_timeout: Duration::from_secs(45),
            backoff: Backoff::default(),
            later_multiplier: 2.0,
            queue_limit: 1024,
            when_full: QueueFull::Reject,
            event_buffer: 256,
            limits: Limits::default(),
            connect_timeout: Duration::from_secs(10),
            seed: None,
            max_presence_members: 10_000,
            presence_interval: Duration::from_millis(50),
        }
    }
}

setters!(ClientConfig {
    with_encoding: encoding: Encoding,
    with_ping_timeout: ping_timeout: Duration,
    with_backoff: backoff: Backoff,
    with_later_multiplier: later_multiplier: f64,
    with_event_buffer: event_buffer: usize,
    with_limits: limits: Limits,
    with_connect_timeout: connect_timeout: Duration,
    with_max_presence_members: max_presence_members: usize,
    with_presence_interval: presence_interval: Duration,
});

impl ClientConfig {
    /// Sets [`ClientConfig::queue_limit`] and [`ClientConfig::when_full`].
    #[must_use]
    pub fn with_queue(mut self, limit: usize, when_full: QueueFull) -> Self {
        self.queue_limit = limit;
        self.when_full = when_full;
        self
    }

    /// Sets [`ClientConfig::seed`].
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
}
