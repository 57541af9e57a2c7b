//! Server settings. The defaults are docs/SPEC.md §9.2's (ping every 30 s,
//! 45 s timeouts, a 20 s drain grace for a load balancer checking every 5 s).

use std::sync::Arc;
use std::time::Duration;

use super::admission::IpRange;
use super::backend::Backend;

use super::guard::OriginConfig;
use super::rate::RateLimits;
use crate::Limits;
use crate::setters::setters;

/// Everything a [`super::Server`] can be told; `Default` gives the figures of
/// docs/SPEC.md §9.2 and memory bounds sized for tens of thousands of idle
/// clients. Each field has a `with_*` setter, and so do the nested
/// configurations, so a configuration is one expression:
///
/// ```
/// use std::time::Duration;
/// use tagwire::server::{ConnectionLimits, DrainConfig, HeartbeatConfig, ServerConfig};
///
/// let config = ServerConfig::default()
///     .with_ws_path("/socket")
///     .with_heartbeat(HeartbeatConfig::default().with_ping_interval(Duration::from_secs(20)))
///     .with_drain(DrainConfig::default().with_grace(Duration::from_secs(10)).with_reason("Deploying"))
///     .with_limits(ConnectionLimits::default().with_max_connections(10_000));
/// assert_eq!(config.ws_path, "/socket");
/// assert_eq!(config.heartbeat.pong_timeout, Duration::from_secs(45));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Route of the WebSocket endpoint.
    pub ws_path: String,
    /// Route of the health check: 200 while serving, 503 while draining.
    pub health_path: String,
    /// Route of the Server-Sent Events fallback (SPEC §9.5), with
    /// `POST {sse_path}/{token}` for client frames; `None` turns it off.
    pub sse_path: Option<String>,
    /// Ping cadence and timeouts.
    pub heartbeat: HeartbeatConfig,
    /// How a deploy moves clients away.
    pub drain: DrainConfig,
    /// Per-connection memory and frame bounds, and how many connections
    /// the node takes.
    pub limits: ConnectionLimits,
    /// The proxies whose `X-Forwarded-For` is believed (default none).
    /// Behind them, the client's address is the first one of that list,
    /// read from the right, that is not a trusted proxy's; it is what the
    /// per-address limit counts, what [`super::ConnectRequest::peer`] and
    /// [`super::Connection::peer_addr`] say. Anyone else's header is
    /// ignored, so list exactly the proxies in front of this server.
    pub trusted_proxies: Vec<IpRange>,
    /// Which browser origins may connect (default: pages of the same host;
    /// clients that send no `Origin` too).
    pub origins: OriginConfig,
    /// Token buckets per connection and per message version (default:
    /// none, besides the package's own).
    pub rate_limits: RateLimits,
    /// The broadcast backend rooms go through (docs/SCALE.md): `None` (the
    /// default) gives each server its own in-process
    /// [`LocalBackend`](super::backend::LocalBackend) with the default
    /// history window. Servers sharing rooms in one process each take a
    /// [`LocalBackend::node`](super::backend::LocalBackend::node) of one
    /// backend; servers in several processes, a `RedisBackend` each.
    pub backend: Option<Arc<dyn Backend>>,
    /// Route of the Prometheus metrics (feature `metrics`; docs/RUNTIME.md,
    /// Metrics), in the OpenMetrics text format; `None` (the default)
    /// serves none. Setting it turns the metrics on. Anyone who can reach
    /// the route reads them: put it behind the application's own router
    /// and authentication instead when the port is public
    /// ([`super::ServerHandle::metrics`]).
    #[cfg(feature = "metrics")]
    pub metrics_path: Option<String>,
    /// Records the metrics without serving a route, for an application
    /// that exposes them itself through [`super::ServerHandle::metrics`]
    /// (default false: a server records nothing unless asked).
    #[cfg(feature = "metrics")]
    pub metrics: bool,
    /// The live inspector (docs/OPERATING.md, "The live inspector"): a
    /// page with this node's connections and rooms and the frames of one
    /// connection as they pass. `None` (the default) turns it off: no
    /// route, no per-connection counters, no frame tap.
    pub inspector: Option<InspectorConfig>,
    /// How often one connection's presence state in one room goes to the
    /// backend at most (default 50 ms): a client's `_k` frames within it
    /// are coalesced, the last state winning (SPEC §9.8).
    pub presence_interval: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            ws_path: crate::DEFAULT_WS_PATH.into(),
            health_path: "/health".into(),
            sse_path: Some("/sse".into()),
            heartbeat: HeartbeatConfig::default(),
            drain: DrainConfig::default(),
            limits: ConnectionLimits::default(),
            trusted_proxies: Vec::new(),
            origins: OriginConfig::default(),
            rate_limits: RateLimits::default(),
            backend: None,
            #[cfg(feature = "metrics")]
            metrics_path: None,
            #[cfg(feature = "metrics")]
            metrics: false,
            inspector: None,
            presence_interval: Duration::from_millis(50),
        }
    }
}

/// The heartbeat (SPEC §9.2, step 3).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HeartbeatConfig {
    /// How often the server pings each connection (default 30 s).
    pub ping_interval: Duration,
    /// A connection with no pong for this long is closed with 4000
    /// (default 45 s).
    pub pong_timeout: Duration,
    /// Pings are rounded up to multiples of this (default 1 s), so the
    /// pings of connections opened at different moments go out together
    /// and wake the runtime once per slot rather than once per connection.
    /// A ping may come up to this much later than `ping_interval`; zero
    /// turns the rounding off. Capped at a tenth of `ping_interval`.
    pub coalesce: Duration,
    /// The idle timeout of the proxies in front of the server (default 60 s,
    /// nginx's `proxy_read_timeout`); the server warns at start-up when the
    /// ping interval is not below it, because the proxy would cut idle
    /// connections between pings. `None` skips the check.
    pub proxy_idle_timeout: Option<Duration>,
}

impl Default for HeartbeatConfig {
    fn default() -> Self {
        HeartbeatConfig {
            ping_interval: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(45),
            coalesce: Duration::from_secs(1),
            proxy_idle_timeout: Some(Duration::from_secs(60)),
        }
    }
}

/// The drain for zero-downtime deploys (SPEC §9.2, step 4).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DrainConfig {
    /// Between the health route turning 503 and the first drain notice
    /// (default 20 s: a load balancer checking every 5 s needs 4 failures).
    pub grace: Duration,
    /// The drain notices and closes are spread over this window after the
    /// grace period (default 10 s).
    pub window: Duration,
    /// How many batches the window is cut into (default 20, one every
    /// 500 ms with the default window).
    pub batches: u32,
    /// Announced in the notice: each client reconnects at a random moment
    /// within this long (default 5 s).
    pub reconnect_window: Duration,
    /// Announced in the notice: clients multiply their backoff by this for
    /// the reconnects that follow (default 2: the backoff doubles).
    pub backoff_multiplier: f64,
    /// Announced in the notice, for people ("Server updating").
    pub reason: String,
    /// Counted from the start of the drain: connections still open then
    /// are closed with 1001 and the server returns (default 60 s).
    pub deadline: Duration,
    /// How long a closing connection waits for the client's close frame
    /// before dropping the socket (default 5 s).
    pub close_timeout: Duration,
}

impl Default for DrainConfig {
    fn default() -> Self {
        DrainConfig {
            grace: Duration::from_secs(20),
            window: Duration::from_secs(10),
            batches: 20,
            reconnect_window: Duration::from_secs(5),
            backoff_multiplier: 2.0,
            reason: "Server updating".into(),
            deadline: Duration::from_secs(60),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Bounds that keep each connection's memory small and fixed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionLimits {
    /// Largest frame (and WebSocket message) accepted; larger ones close
    /// the connection with 1009 (default 64 KiB).
    pub max_frame_bytes: usize,
    /// Initial capacity of each connection's read buffer (default 512 B);
    /// it grows only while a larger frame is being read. It is also the most
    /// one read hands tungstenite, but a frame that spans reads is read
    /// ahead in 32 KiB chunks (`read_ahead.rs`), so a small buffer costs a
    /// `memcpy` per chunk, not a `recv`.
    pub read_buffer_bytes: usize,
    /// Frames queued for one client before it counts as a slow consumer
    /// and is closed with 4002 (default 256).
    pub outbound_queue_frames: usize,
    /// Bytes queued for one client before it counts as a slow consumer
    /// (default 1 MiB).
    pub outbound_queue_bytes: usize,
    /// A write that cannot complete for this long means the client stopped
    /// reading: closed with 4002 (default 10 s).
    pub write_timeout: Duration,
    /// Frames a client may send while the handler is still busy with an
    /// earlier one (default 64). They wait, in order, for their turn; the
    /// heartbeat and the outbox keep going meanwhile. A frame past this is
    /// dropped unhandled and the client gets error 5, `rate_limited`
    /// (docs/RUNTIME.md, Slow handlers).
    pub inbound_queue_frames: usize,
    /// Bytes of frames waiting for a busy handler (default 256 KiB); past
    /// this, as past `inbound_queue_frames`.
    pub inbound_queue_bytes: usize,
    /// Bounds for decoding each frame (SPEC §6.3); `max_frame_bytes` above
    /// is applied on top.
    pub decode: Limits,
    /// Time a client has to send a complete HTTP request head (and, on
    /// `serve_io`, to finish the WebSocket handshake); slower clients are
    /// cut off, so partial requests cannot hold sockets forever (default
    /// 10 s; also the idle limit between requests on a kept-alive HTTP
    /// connection).
    pub handshake_timeout: Duration,
    /// How long the server waits for a client's first frame (its hello)
    /// before running [`super::Handler::on_open`] without it (default 5 s).
    /// Tagwire clients send the hello at once; the wait is for clients
    /// that send nothing first (docs/RUNTIME.md, Protocol evolution).
    pub hello_timeout: Duration,
    /// WebSocket connections and SSE sessions open at once on this node
    /// (default 50,000, the top of docs/DEPLOYMENT.md's sizing for a node).
    /// Past it, upgrades and SSE streams are refused with 503 and
    /// `Retry-After` before any work is done for them. Counted from the
    /// request to the end of the connection.
    pub max_connections: usize,
    /// Connections open at once from one client address (IPv6: one /64),
    /// or `None` for no such limit (the default: behind a proxy that is not
    /// in [`ServerConfig::trusted_proxies`] every connection comes from the
    /// proxy's address, and a default limit would cap the whole node).
    /// Refused like `max_connections`. Connections whose address is
    /// unknown count towards `max_connections` only.
    pub max_connections_per_address: Option<usize>,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_frame_bytes: 64 * 1024,
            read_buffer_bytes: 512,
            outbound_queue_frames: 256,
            outbound_queue_bytes: 1024 * 1024,
            write_timeout: Duration::from_secs(10),
            inbound_queue_frames: 64,
            inbound_queue_bytes: 256 * 1024,
            decode: Limits::default(),
            handshake_timeout: Duration::from_secs(10),
            hello_timeout: Duration::from_secs(5),
            max_connections: 50_000,
            max_connections_per_address: None,
        }
    }
}

setters!(into ServerConfig {
    with_ws_path: ws_path: String,
    with_health_path: health_path: String,
});

setters!(ServerConfig {
    with_sse_path: sse_path: Option<String>,
    with_heartbeat: heartbeat: HeartbeatConfig,
    with_drain: drain: DrainConfig,
    with_limits: limits: ConnectionLimits,
    with_origins: origins: OriginConfig,
    with_rate_limits: rate_limits: RateLimits,
    with_inspector: inspector: Option<InspectorConfig>,
    with_presence_interval: presence_interval: Duration,
});

#[cfg(feature = "metrics")]
setters!(ServerConfig {
    with_metrics_path: metrics_path: Option<String>,
    with_metrics: metrics: bool,
});

setters!(HeartbeatConfig {
    with_ping_interval: ping_interval: Duration,
    with_pong_timeout: pong_timeout: Duration,
    with_coalesce: coalesce: Duration,
    with_proxy_idle_timeout: proxy_idle_timeout: Option<Duration>,
});

setters!(into DrainConfig {
    with_reason: reason: String,
});

setters!(DrainConfig {
    with_grace: grace: Duration,
    with_window: window: Duration,
    with_batches: batches: u32,
    with_reconnect_window: reconnect_window: Duration,
    with_backoff_multiplier: backoff_multiplier: f64,
    with_deadline: deadline: Duration,
    with_close_timeout: close_timeout: Duration,
});

setters!(ConnectionLimits {
    with_max_frame_bytes: max_frame_bytes: usize,
    with_read_buffer_bytes: read_buffer_bytes: usize,
    with_outbound_queue_frames: outbound_queue_frames: usize,
    with_outbound_queue_bytes: outbound_queue_bytes: usize,
    with_write_timeout: write_timeout: Duration,
    with_inbound_queue_frames: inbound_queue_frames: usize,
    with_inbound_queue_bytes: inbound_queue_bytes: usize,
    with_decode: decode: Limits,
    with_handshake_timeout: handshake_timeout: Duration,
    with_hello_timeout: hello_timeout: Duration,
    with_max_connections: max_connections: usize,
    with_max_connections_per_address: max_connections_per_address: Option<usize>,
});

impl ServerConfig {
    /// Sets [`ServerConfig::backend`].
    #[must_use]
    pub fn with_backend(mut self, backend: Arc<dyn Backend>) -> Self {
        self.backend = Some(backend);
        self
    }

    /// Sets [`ServerConfig::trusted_proxies`].
    ///
    /// ```
    /// use tagwire::server::{ConnectionLimits, ServerConfig};
    ///
    /// let config = ServerConfig::default()
    ///     .with_limits(ConnectionLimits::default().with_max_connections_per_address(Some(500)))
    ///     .with_trusted_proxies(["10.0.0.0/8".parse()?, "::1".parse()?]);
    /// assert!(config.trusted_proxies[0].contains("10.1.2.3".parse()?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_trusted_proxies(mut self, proxies: impl IntoIterator<Item = IpRange>) -> Self {
        self.trusted_proxies = proxies.into_iter().collect();
        self
    }

    /// Problems worth a warning at start-up (also logged by
    /// [`super::Server::new`]).
    #[must_use]
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let hb = &self.heartbeat;
        if let Some(idle) = hb.proxy_idle_timeout
            && hb.ping_interval >= idle
        {
            out.push(format!(
                "ping interval {:?} is not below the proxy idle timeout {:?}: proxies will cut idle connections between pings",
                hb.ping_interval, idle
            ));
        }
        if hb.pong_timeout <= hb.ping_interval + hb.coalesce.min(hb.ping_interval / 10) {
            out.push(format!(
                "pong timeout {:?} is not above the ping interval {:?} plus the coalescing slot {:?}: healthy clients will be closed",
                hb.pong_timeout, hb.ping_interval, hb.coalesce
            ));
        }
        if let Some(everyone) = self.trusted_proxies.iter().find(|r| r.prefix_len() == 0) {
            out.push(format!(
                "trusted_proxies includes {everyone}, every address: any client can choose the address it is counted as"
            ));
        }
        if let Some(inspector) = &self.inspector
            && inspector.token.as_deref() == Some("")
        {
            out.push(format!(
                "the inspector at {} has an empty token: every request to it is refused",
                inspector.path
            ));
        }
        let d = &self.drain;
        if d.deadline < d.grace + d.window {
            out.push(format!(
                "drain deadline {:?} comes before grace + window ({:?}): clients will be cut off",
                d.deadline,
                d.grace + d.window
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_articles_and_raise_no_warning() {
        let c = ServerConfig::default();
        assert_eq!(c.heartbeat.ping_interval, Duration::from_secs(30));
        assert_eq!(c.heartbeat.pong_timeout, Duration::from_secs(45));
        assert_eq!(c.drain.grace, Duration::from_secs(20));
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    }

    #[test]
    fn a_ping_interval_at_the_proxy_timeout_is_warned_about() {
        let mut c = ServerConfig::default();
        c.heartbeat.ping_interval = Duration::from_secs(60);
        c.heartbeat.pong_timeout = Duration::from_secs(90);
        let w = c.warnings();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("proxy idle timeout"), "{w:?}");
    }

    #[test]
    fn limits_and_proxies_are_set_in_one_expression() {
        let d = ServerConfig::default();
        assert_eq!(d.limits.max_connections, 50_000);
        assert_eq!(d.limits.max_connections_per_address, None);
        assert!(d.trusted_proxies.is_empty());
        let c = ServerConfig::default()
            .with_limits(
                ConnectionLimits::default()
                    .with_max_connections(10)
                    .with_max_connections_per_address(Some(2)),
            )
            .with_trusted_proxies(["10.0.0.0/8".parse().expect("a range")]);
        assert_eq!(c.limits.max_connections, 10);
        assert_eq!(c.limits.max_connections_per_address, Some(2));
        assert_eq!(c.trusted_proxies.len(), 1);
        assert!(c.warnings().is_empty(), "{:?}", c.warnings());
        let open = c.with_trusted_proxies(["0.0.0.0/0".parse().expect("a range")]);
        let w = open.warnings();
        assert!(
            w.len() == 1 && w[0].contains("any client can choose"),
            "{w:?}"
        );
    }
}

/// The inspector: where it is served and who may read it.
///
/// Setting [`super::ServerConfig::inspector`] turns it on (per-connection
/// counters, the frame tap). With a token, [`super::Server::router`] serves
/// it at `path` to requests that carry the token (`?token=` or
/// `Authorization: Bearer`). Without one, the router leaves it out and the
/// application mounts [`super::Server::inspector_router`] behind its own
/// authentication.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InspectorConfig {
    /// Route of the page; the state is at `{path}/state`, the frames at
    /// `{path}/frames?conn=ID`.
    pub path: String,
    /// The secret a request must carry, or `None` for an inspector the
    /// application guards itself.
    pub token: Option<String>,
    /// Frame streams open at once (default 4); more are refused with 503.
    pub max_watchers: usize,
    /// Frame events waiting for one slow watcher (default 256); past it
    /// frames are dropped for that watcher and counted.
    pub watcher_buffer: usize,
}

impl InspectorConfig {
    /// An inspector at `path` that asks for `token`.
    pub fn new(path: impl Into<String>, token: impl Into<String>) -> Self {
        InspectorConfig {
            path: path.into(),
            token: Some(token.into()),
            max_watchers: 4,
            watcher_buffer: 256,
        }
    }

    /// An inspector at `path` with no token: [`super::Server::router`] does
    /// not serve it; the application mounts
    /// [`super::Server::inspector_router`] behind its own authentication.
    pub fn behind_own_auth(path: impl Into<String>) -> Self {
        InspectorConfig {
            token: None,
            ..InspectorConfig::new(path, String::new())
        }
    }
}

setters!(InspectorConfig {
    with_max_watchers: max_watchers: usize,
    with_watcher_buffer: watcher_buffer: usize,
});
