//! What the server records for Prometheus (feature `metrics`;
//! docs/RUNTIME.md, Metrics).
//!
//! The connection loop, the rooms and the guards call a [`Recorder`]
//! whatever the features: without `metrics` it is an empty struct whose
//! methods do nothing, so the plain server links no metrics code and the
//! call sites need no `cfg`. With it, a server whose configuration does not
//! ask for metrics holds `None` and pays one branch per call.
//!
//! Every series a frame touches is resolved when the server starts: one
//! slot per message version of the package (from `Package::HEADERS`,
//! reached by the header's index), each slot holding its counters, which
//! are shared atomics. A frame costs a table lookup and an atomic add,
//! never a hash of its labels.

use tokio::time::Instant;

#[cfg(feature = "metrics")]
use crate::CloseCode;
use crate::control::GapReason;
use crate::{DecodeErrorKind, Encoding, Header};

use super::guard::TransportKind;

/// Why a connection request or a frame was refused: the `reason` label of
/// `tagwire_refusals_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// A browser page of an origin the configuration does not allow (403).
    Origin,
    /// The authentication hook said no (4004).
    Auth,
    /// A frame over a rate quota, or behind too many waiting frames.
    RateLimit,
    /// The handler's `authorize` said no to a message.
    Authorization,
    /// `limits.max_connections` or `max_connections_per_address` (503).
    ConnectionLimit,
    /// A client sent a message only servers send.
    WrongDirection,
    /// The node is draining (503).
    Draining,
}

/// A version conversion's direction, for `tagwire_conversions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conversion {
    /// A server message converted down for a client of an older protocol.
    Down,
    /// A client message of an older version upgraded for the handler.
    Up,
}

/// How a connection ended, as the close metrics count it: read by the
/// caller from the connection's `CloseReport`, the one source of both.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct Ended {
    pub(crate) code: Option<crate::CloseCode>,
    pub(crate) by_server: bool,
    pub(crate) undelivered: usize,
    pub(crate) unhandled: usize,
}

/// What the metrics read from the server at scrape time, so that they have
/// one source with `ServerHandle` (panics, drain, backend). The server's
/// core implements it; the metrics never name the core, so neither module
/// imports the other back.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) trait Node: Send + Sync {
    fn recorder(&self) -> &Recorder;
    fn panics(&self) -> u64;
    fn backend_connected(&self) -> bool;
    /// `serving`, `grace`, `closing` or `done`.
    fn drain_phase(&self) -> &'static str;
    /// Connections still open while draining; 0 when not draining.
    fn draining_left(&self) -> usize;
}

/// The frame's header, when its first two bytes are one.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn header_of(bytes: &[u8]) -> Option<Header> {
    Header::from_bytes([*bytes.first()?, *bytes.get(1)?])
}

#[cfg(not(feature = "metrics"))]
pub(crate) use off::Recorder;
#[cfg(feature = "metrics")]
pub(crate) use on::Recorder;
#[cfg(feature = "metrics")]
pub use on::{Metrics, OPENMETRICS_CONTENT_TYPE};

#[cfg(not(feature = "metrics"))]
mod off {
    use tokio_tungstenite::tungstenite::Message;

    use super::*;
    use crate::Package;
    use crate::server::config::ServerConfig;

    /// Records nothing: the crate was built without feature `metrics`.
    #[derive(Debug, Default)]
    pub(crate) struct Recorder;

    #[allow(clippy::unused_self)]
    impl Recorder {
        // Same signature as the recording one, so the call site has no `cfg`.
        #[allow(clippy::extra_unused_type_parameters)]
        pub(crate) fn new<P: Package>(_: &ServerConfig) -> Self {
            Recorder
        }
        #[inline]
        pub(crate) fn opened(&self, _: TransportKind, _: Encoding) {}
        #[inline]
        pub(crate) fn outdated_hello(&self, _: TransportKind, _: Encoding) {}
        #[inline]
        pub(crate) fn closed(&self, _: TransportKind, _: Encoding, _: bool, _: Ended) {}
        #[inline]
        pub(crate) fn frame_in(&self, _: &Message) {}
        #[inline]
        pub(crate) fn frame_out(&self, _: &Message) {}
        #[inline]
        pub(crate) fn decode_error(&self, _: DecodeErrorKind) {}
        #[inline]
        pub(crate) fn refused(&self, _: Reason) {}
        #[inline]
        pub(crate) fn written(&self, _: usize) {}
        #[inline]
        pub(crate) fn clock(&self) -> Option<Instant> {
            None
        }
        #[inline]
        pub(crate) fn handled(&self, _: Option<Instant>) {}
        #[inline]
        pub(crate) fn broadcast(&self) {}
        #[inline]
        pub(crate) fn fanned_out(&self, _: Option<Instant>, _: usize) {}
        #[inline]
        pub(crate) fn published(&self, _: Option<Instant>) {}
        #[inline]
        pub(crate) fn replayed(&self) {}
        #[inline]
        pub(crate) fn gap(&self, _: GapReason) {}
        #[inline]
        pub(crate) fn presence_event(&self, _: crate::control::PresenceKind) {}
        #[inline]
        pub(crate) fn converted(&self, _: Header, _: Conversion) {}
        #[inline]
        pub(crate) fn outdated_notice(&self, _: Header) {}
    }
}

#[cfg(feature = "metrics")]
mod on {
    use std::fmt::{self, Write as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Weak};

    use prometheus_client::collector::Collector;
    use prometheus_client::encoding::{
        DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet,
    };
    use prometheus_client::metrics::MetricType;
    use prometheus_client::metrics::counter::{ConstCounter, Counter};
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
    use prometheus_client::registry::{Registry, Unit};
    use tokio_tungstenite::tungstenite::Message;

    use super::*;
    use crate::Package;
    use crate::server::config::ServerConfig;

    /// The `Content-Type` of the metrics route: OpenMetrics text, which
    /// Prometheus asks for and parses.
    pub const OPENMETRICS_CONTENT_TYPE: &str =
        "application/openmetrics-text; version=1.0.0; charset=utf-8";

    /// Header indexes: `Header::index` is below 4,096.
    const HEADER_INDEXES: usize = 4096;
    /// The slot of the runtime's own frames (`_` headers): pings, hellos,
    /// room envelopes, errors.
    const CONTROL: u16 = 0;
    /// The slot of frames whose header is no message of the package.
    const UNKNOWN: u16 = 1;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct MessageLabels {
        message: String,
        version: String,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ConversionLabels {
        message: String,
        version: String,
        direction: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ConnectionLabels {
        transport: &'static str,
        encoding: &'static str,
        version: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct OpenedLabels {
        transport: &'static str,
        encoding: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ClosedLabels {
        code: &'static str,
        by: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct KindLabel {
        kind: &'static str,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct ReasonLabel {
        reason: &'static str,
    }

    /// A histogram of atomics: observing takes no lock (prometheus-client's
    /// own takes a mutex per observation, and the handler histogram is
    /// observed once per message on every core). Values are recorded in an
    /// integer unit (nanoseconds, frames) and exposed in the base unit.
    #[derive(Debug)]
    struct Histogram {
        /// Upper bounds, in the recorded unit, ascending.
        bounds: &'static [u64],
        /// One count per bound, then `+Inf`; not cumulative.
        counts: Box<[AtomicU64]>,
        sum: AtomicU64,
        /// Exposed value of one recorded unit (1e-9 for nanoseconds).
        scale: f64,
    }

    impl Histogram {
        fn new(bounds: &'static [u64], scale: f64) -> Self {
            Histogram {
                bounds,
                counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
                sum: AtomicU64::new(0),
                scale,
            }
        }

        fn observe(&self, value: u64) {
            let i = self.bounds.partition_point(|&b| b < value);
            if let Some(count) = self.counts.get(i) {
                count.fetch_add(1, Ordering::Relaxed);
            }
            self.sum.fetch_add(value, Ordering::Relaxed);
        }

        fn since(&self, started: Instant) {
            let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.observe(nanos);
        }
    }

    impl EncodeMetric for Histogram {
        fn encode(&self, mut encoder: MetricEncoder<'_>) -> fmt::Result {
            // Per bucket, as prometheus-client's encoder sums them itself.
            let mut count = 0;
            let mut buckets = Vec::with_capacity(self.counts.len());
            for (i, in_bucket) in self.counts.iter().enumerate() {
                let n = in_bucket.load(Ordering::Relaxed);
                count += n;
                let bound = self
                    .bounds
                    .get(i)
                    .map_or(f64::INFINITY, |&b| b as f64 * self.scale);
                buckets.push((bound, n));
            }
            let sum = self.sum.load(Ordering::Relaxed) as f64 * self.scale;
            encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
        }

        fn metric_type(&self) -> MetricType {
            MetricType::Histogram
        }
    }

    const NANOS: f64 = 1e-9;
    /// Handler time: 50 µs to 10 s.
    const HANDLER_NS: &[u64] = &[
        50_000,
        100_000,
        250_000,
        500_000,
        1_000_000,
        2_500_000,
        5_000_000,
        10_000_000,
        25_000_000,
        50_000_000,
        100_000_000,
        250_000_000,
        1_000_000_000,
        10_000_000_000,
    ];
    /// Fan-out of one room message to a node's members: 5 µs to 1 s.
    const FANOUT_NS: &[u64] = &[
        5_000,
        10_000,
        25_000,
        50_000,
        100_000,
        250_000,
        500_000,
        1_000_000,
        2_500_000,
        10_000_000,
        100_000_000,
        1_000_000_000,
    ];
    /// A publish to the backend until it gave a position: 10 µs to 5 s.
    const PUBLISH_NS: &[u64] = &[
        10_000,
        100_000,
        250_000,
        500_000,
        1_000_000,
        2_500_000,
        5_000_000,
        10_000_000,
        25_000_000,
        100_000_000,
        1_000_000_000,
        5_000_000_000,
    ];
    /// Frames a connection found queued when it came to write.
    const DEPTH_FRAMES: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

    /// The counters of one message version (or of the control and unknown
    /// slots), each present only where it can count: frames in for what
    /// clients send, out for what servers send.
    #[derive(Debug, Default)]
    struct PerMessage {
        frames_in: Option<Counter>,
        bytes_in: Option<Counter>,
        frames_out: Option<Counter>,
        bytes_out: Option<Counter>,
        down: Option<Counter>,
        up: Option<Counter>,
        outdated: Option<Counter>,
    }

    const TRANSPORTS: [(TransportKind, &str); 2] = [
        (TransportKind::WebSocket, "websocket"),
        (TransportKind::Sse, "sse"),
    ];
    const ENCODINGS: [(Encoding, &str); 2] =
        [(Encoding::Text, "text"), (Encoding::Binary, "binary")];

    fn transport_index(t: TransportKind) -> usize {
        match t {
            TransportKind::WebSocket => 0,
            TransportKind::Sse => 1,
        }
    }

    fn encoding_index(e: Encoding) -> usize {
        match e {
            Encoding::Text => 0,
            Encoding::Binary => 1,
        }
    }

    /// Every [`DecodeErrorKind`], in the order of `decode_errors`.
    const DECODE_KINDS: [(DecodeErrorKind, &str); 20] = [
        (DecodeErrorKind::Truncated, "truncated"),
        (DecodeErrorKind::TrailingData, "trailing_data"),
        (DecodeErrorKind::UnknownHeader, "unknown_header"),
        (DecodeErrorKind::InvalidUtf8, "invalid_utf8"),
        (DecodeErrorKind::InvalidVarint, "invalid_varint"),
        (DecodeErrorKind::OutOfRange, "out_of_range"),
        (DecodeErrorKind::UnknownEnumValue, "unknown_enum_value"),
        (DecodeErrorKind::UnknownVariant, "unknown_variant"),
        (DecodeErrorKind::InvalidToken, "invalid_token"),
        (DecodeErrorKind::InvalidBool, "invalid_bool"),
        (DecodeErrorKind::InvalidEscape, "invalid_escape"),
        (DecodeErrorKind::InvalidBase64, "invalid_base64"),
        (DecodeErrorKind::DuplicateMapKey, "duplicate_map_key"),
        (DecodeErrorKind::UnsortedMapKeys, "unsorted_map_keys"),
        (DecodeErrorKind::FrameTooLarge, "frame_too_large"),
        (DecodeErrorKind::CollectionTooLong, "collection_too_long"),
        (DecodeErrorKind::StringTooLong, "string_too_long"),
        (DecodeErrorKind::TooDeep, "too_deep"),
        (DecodeErrorKind::MissingSeparator, "missing_separator"),
        (DecodeErrorKind::ConstraintViolation, "constraint_violation"),
    ];

    /// A kind's place in [`DECODE_KINDS`]. A `match`, so a kind added to
    /// the enum without a name here fails to compile.
    fn decode_index(kind: DecodeErrorKind) -> usize {
        match kind {
            DecodeErrorKind::Truncated => 0,
            DecodeErrorKind::TrailingData => 1,
            DecodeErrorKind::UnknownHeader => 2,
            DecodeErrorKind::InvalidUtf8 => 3,
            DecodeErrorKind::InvalidVarint => 4,
            DecodeErrorKind::OutOfRange => 5,
            DecodeErrorKind::UnknownEnumValue => 6,
            DecodeErrorKind::UnknownVariant => 7,
            DecodeErrorKind::InvalidToken => 8,
            DecodeErrorKind::InvalidBool => 9,
            DecodeErrorKind::InvalidEscape => 10,
            DecodeErrorKind::InvalidBase64 => 11,
            DecodeErrorKind::DuplicateMapKey => 12,
            DecodeErrorKind::UnsortedMapKeys => 13,
            DecodeErrorKind::FrameTooLarge => 14,
            DecodeErrorKind::CollectionTooLong => 15,
            DecodeErrorKind::StringTooLong => 16,
            DecodeErrorKind::TooDeep => 17,
            DecodeErrorKind::MissingSeparator => 18,
            DecodeErrorKind::ConstraintViolation => 19,
        }
    }

    const REFUSALS: [(Reason, &str); 7] = [
        (Reason::Origin, "origin"),
        (Reason::Auth, "auth"),
        (Reason::RateLimit, "rate_limit"),
        (Reason::Authorization, "authorization"),
        (Reason::ConnectionLimit, "connection_limit"),
        (Reason::WrongDirection, "wrong_direction"),
        (Reason::Draining, "draining"),
    ];

    /// The close codes that get a label of their own; any other code a
    /// peer sends is `other`, so a client cannot mint series.
    const CLOSE_CODES: [(CloseCode, &str); 13] = [
        (CloseCode::NORMAL, "1000"),
        (CloseCode::GOING_AWAY, "1001"),
        (CloseCode::PROTOCOL_ERROR, "1002"),
        (CloseCode::INVALID_PAYLOAD, "1007"),
        (CloseCode::POLICY, "1008"),
        (CloseCode::TOO_BIG, "1009"),
        (CloseCode::INTERNAL_ERROR, "1011"),
        (CloseCode::HEARTBEAT_TIMEOUT, "4000"),
        (CloseCode::DRAIN, "4001"),
        (CloseCode::SLOW_CONSUMER, "4002"),
        (CloseCode::PROTOCOL_MISMATCH, "4003"),
        (CloseCode::UNAUTHORIZED, "4004"),
        (CloseCode::RATE_LIMITED, "4005"),
    ];

    /// Everything recorded, resolved at start.
    #[derive(Debug)]
    struct Inner {
        /// Slot of each header index; `UNKNOWN` for headers of no message.
        slots: Box<[u16]>,
        messages: Box<[PerMessage]>,
        frames_in: Family<MessageLabels, Counter>,
        bytes_in: Family<MessageLabels, Counter>,
        frames_out: Family<MessageLabels, Counter>,
        bytes_out: Family<MessageLabels, Counter>,
        conversions: Family<ConversionLabels, Counter>,
        outdated: Family<MessageLabels, Counter>,
        /// By transport, encoding, then current (0) or outdated (1).
        open: [[[Gauge; 2]; 2]; 2],
        open_family: Family<ConnectionLabels, Gauge>,
        opened: [[Counter; 2]; 2],
        opened_family: Family<OpenedLabels, Counter>,
        closed: Family<ClosedLabels, Counter>,
        heartbeat_timeouts: Counter,
        slow_consumers: Counter,
        undelivered: Counter,
        unhandled: Counter,
        decode_errors: Vec<Counter>,
        decode_family: Family<KindLabel, Counter>,
        refusals: Vec<Counter>,
        refusal_family: Family<ReasonLabel, Counter>,
        outbox_depth: Histogram,
        handler: Histogram,
        broadcasts: Counter,
        deliveries: Counter,
        fanout: Histogram,
        publish: Histogram,
        replays: Counter,
        gaps: [Counter; 2],
        gap_family: Family<KindLabel, Counter>,
        presence: [Counter; 3],
        presence_family: Family<KindLabel, Counter>,
    }

    /// What the server records; `None` unless the configuration asks for
    /// metrics.
    #[derive(Debug, Default)]
    pub(crate) struct Recorder(Option<Box<Inner>>);

    impl Recorder {
        pub(crate) fn new<P: Package>(config: &ServerConfig) -> Self {
            if !config.metrics && config.metrics_path.is_none() {
                return Recorder(None);
            }
            Recorder(Some(Box::new(Inner::new::<P>())))
        }

        fn on(&self) -> Option<&Inner> {
            self.0.as_deref()
        }

        pub(crate) fn opened(&self, transport: TransportKind, encoding: Encoding) {
            if let Some(m) = self.on() {
                let (t, e) = (transport_index(transport), encoding_index(encoding));
                m.opened[t][e].inc();
                m.open[t][e][0].inc();
            }
        }

        /// The client's hello says it is of an older protocol.
        pub(crate) fn outdated_hello(&self, transport: TransportKind, encoding: Encoding) {
            if let Some(m) = self.on() {
                let (t, e) = (transport_index(transport), encoding_index(encoding));
                m.open[t][e][0].dec();
                m.open[t][e][1].inc();
            }
        }

        /// A connection ended: `outdated` as last told to
        /// [`Recorder::outdated_hello`]. Its `CloseReport` is the one
        /// source of the close metrics.
        pub(crate) fn closed(
            &self,
            transport: TransportKind,
            encoding: Encoding,
            outdated: bool,
            report: Ended,
        ) {
            let Some(m) = self.on() else { return };
            let (t, e) = (transport_index(transport), encoding_index(encoding));
            m.open[t][e][usize::from(outdated)].dec();
            let code = match report.code {
                None => "none",
                Some(code) => CLOSE_CODES
                    .iter()
                    .find(|(c, _)| *c == code)
                    .map_or("other", |(_, name)| name),
            };
            let by = if report.by_server { "server" } else { "client" };
            // Once per connection, not per frame: the hash is affordable.
            m.closed.get_or_create(&ClosedLabels { code, by }).inc();
            if report.by_server {
                if report.code == Some(CloseCode::HEARTBEAT_TIMEOUT) {
                    m.heartbeat_timeouts.inc();
                } else if report.code == Some(CloseCode::SLOW_CONSUMER) {
                    m.slow_consumers.inc();
                }
            }
            m.undelivered.inc_by(report.undelivered as u64);
            m.unhandled.inc_by(report.unhandled as u64);
        }

        fn slot(m: &Inner, header: Option<Header>) -> Option<&PerMessage> {
            let slot = match header {
                Some(h) if h.is_reserved() => CONTROL,
                Some(h) => m
                    .slots
                    .get(usize::from(h.index()))
                    .copied()
                    .unwrap_or(UNKNOWN),
                None => UNKNOWN,
            };
            m.messages.get(usize::from(slot))
        }

        pub(crate) fn frame_in(&self, frame: &Message) {
            let Some(m) = self.on() else { return };
            let header = match frame {
                Message::Text(text) => header_of(text.as_bytes()),
                Message::Binary(bytes) => header_of(bytes),
                _ => return,
            };
            if let Some(slot) = Self::slot(m, header) {
                inc(slot.frames_in.as_ref(), 1);
                inc(slot.bytes_in.as_ref(), frame.len() as u64);
            }
        }

        pub(crate) fn frame_out(&self, frame: &Message) {
            let Some(m) = self.on() else { return };
            let header = match frame {
                Message::Text(text) => header_of(text.as_bytes()),
                Message::Binary(bytes) => header_of(bytes),
                _ => return,
            };
            if let Some(slot) = Self::slot(m, header) {
                inc(slot.frames_out.as_ref(), 1);
                inc(slot.bytes_out.as_ref(), frame.len() as u64);
            }
        }

        pub(crate) fn decode_error(&self, kind: DecodeErrorKind) {
            if let Some(counter) = self
                .on()
                .and_then(|m| m.decode_errors.get(decode_index(kind)))
            {
                counter.inc();
            }
        }

        pub(crate) fn refused(&self, refusal: Reason) {
            let Some(m) = self.on() else { return };
            if let Some(i) = REFUSALS.iter().position(|(r, _)| *r == refusal)
                && let Some(counter) = m.refusals.get(i)
            {
                counter.inc();
            }
        }

        /// A connection wrote `frames` it found queued in one go.
        pub(crate) fn written(&self, frames: usize) {
            if let Some(m) = self.on() {
                m.outbox_depth.observe(frames as u64);
            }
        }

        /// Now, when metrics are on: what the timed operations start from
        /// (no clock read otherwise).
        pub(crate) fn clock(&self) -> Option<Instant> {
            self.on().map(|_| Instant::now())
        }

        pub(crate) fn handled(&self, started: Option<Instant>) {
            if let (Some(m), Some(started)) = (self.on(), started) {
                m.handler.since(started);
            }
        }

        pub(crate) fn broadcast(&self) {
            if let Some(m) = self.on() {
                m.broadcasts.inc();
            }
        }

        /// One room message fanned out on this node: to `accepted` members.
        pub(crate) fn fanned_out(&self, started: Option<Instant>, accepted: usize) {
            if let (Some(m), Some(started)) = (self.on(), started) {
                m.fanout.since(started);
                m.deliveries.inc_by(accepted as u64);
            }
        }

        /// A publish the backend answered with a position.
        pub(crate) fn published(&self, started: Option<Instant>) {
            if let (Some(m), Some(started)) = (self.on(), started) {
                m.publish.since(started);
            }
        }

        pub(crate) fn replayed(&self) {
            if let Some(m) = self.on() {
                m.replays.inc();
            }
        }

        pub(crate) fn gap(&self, kind: GapReason) {
            if let Some(m) = self.on() {
                let i = match kind {
                    GapReason::Trimmed => 0,
                    _ => 1,
                };
                m.gaps[i].inc();
            }
        }

        /// One presence event fanned out on this node.
        pub(crate) fn presence_event(&self, kind: crate::control::PresenceKind) {
            if let Some(m) = self.on() {
                let i = match kind {
                    crate::control::PresenceKind::Join => 0,
                    crate::control::PresenceKind::Update => 1,
                    crate::control::PresenceKind::Leave => 2,
                };
                m.presence[i].inc();
            }
        }

        pub(crate) fn converted(&self, header: Header, direction: Conversion) {
            let Some(slot) = self.on().and_then(|m| Self::slot(m, Some(header))) else {
                return;
            };
            let counter = match direction {
                Conversion::Down => slot.down.as_ref(),
                Conversion::Up => slot.up.as_ref(),
            };
            inc(counter, 1);
        }

        pub(crate) fn outdated_notice(&self, header: Header) {
            if let Some(slot) = self.on().and_then(|m| Self::slot(m, Some(header))) {
                inc(slot.outdated.as_ref(), 1);
            }
        }
    }

    fn inc(counter: Option<&Counter>, by: u64) {
        if let Some(counter) = counter {
            counter.inc_by(by);
        }
    }

    impl Inner {
        fn new<P: Package>() -> Self {
            let frames_in = Family::<MessageLabels, Counter>::default();
            let bytes_in = Family::<MessageLabels, Counter>::default();
            let frames_out = Family::<MessageLabels, Counter>::default();
            let bytes_out = Family::<MessageLabels, Counter>::default();
            let conversions = Family::<ConversionLabels, Counter>::default();
            let outdated = Family::<MessageLabels, Counter>::default();
            let labels = |message: &str, version: String| MessageLabels {
                message: message.to_owned(),
                version,
            };
            let get = |family: &Family<MessageLabels, Counter>, l: &MessageLabels| {
                Some(family.get_or_create(l).clone())
            };
            // The runtime's own frames and the unknown ones: counted both
            // ways, under a name no schema message can have.
            let both = |name: &str| {
                let l = labels(name, String::new());
                PerMessage {
                    frames_in: get(&frames_in, &l),
                    bytes_in: get(&bytes_in, &l),
                    frames_out: get(&frames_out, &l),
                    bytes_out: get(&bytes_out, &l),
                    ..PerMessage::default()
                }
            };
            let mut messages = vec![both("_control"), both("_unknown")];
            let mut slots = vec![UNKNOWN; HEADER_INDEXES].into_boxed_slice();
            for &(header, name, version, direction) in P::HEADERS {
                let l = labels(name, version.to_string());
                let from_client = direction != "server";
                let from_server = direction != "client";
                let conversion = |direction: &'static str| {
                    Some(
                        conversions
                            .get_or_create(&ConversionLabels {
                                message: name.to_owned(),
                                version: version.to_string(),
                                direction,
                            })
                            .clone(),
                    )
                };
                let entry = PerMessage {
                    frames_in: from_client.then(|| get(&frames_in, &l)).flatten(),
                    bytes_in: from_client.then(|| get(&bytes_in, &l)).flatten(),
                    frames_out: from_server.then(|| get(&frames_out, &l)).flatten(),
                    bytes_out: from_server.then(|| get(&bytes_out, &l)).flatten(),
                    down: from_server.then(|| conversion("down")).flatten(),
                    up: from_client.then(|| conversion("up")).flatten(),
                    outdated: from_server.then(|| get(&outdated, &l)).flatten(),
                };
                place(&mut slots, &mut messages, header, entry);
            }
            // Removed versions: an old client that sends one is told it
            // is outdated.
            for &(header, name, version) in P::REMOVED {
                let entry = PerMessage {
                    outdated: get(&outdated, &labels(name, version.to_string())),
                    ..PerMessage::default()
                };
                place(&mut slots, &mut messages, header, entry);
            }

            let open_family = Family::<ConnectionLabels, Gauge>::default();
            let opened_family = Family::<OpenedLabels, Counter>::default();
            let open = TRANSPORTS.map(|(_, transport)| {
                ENCODINGS.map(|(_, encoding)| {
                    ["current", "outdated"].map(|version| {
                        open_family
                            .get_or_create(&ConnectionLabels {
                                transport,
                                encoding,
                                version,
                            })
                            .clone()
                    })
                })
            });
            let opened = TRANSPORTS.map(|(_, transport)| {
                ENCODINGS.map(|(_, encoding)| {
                    opened_family
                        .get_or_create(&OpenedLabels {
                            transport,
                            encoding,
                        })
                        .clone()
                })
            });
            let decode_family = Family::<KindLabel, Counter>::default();
            let decode_errors = DECODE_KINDS
                .iter()
                .map(|(_, kind)| decode_family.get_or_create(&KindLabel { kind }).clone())
                .collect();
            let refusal_family = Family::<ReasonLabel, Counter>::default();
            let refusals = REFUSALS
                .iter()
                .map(|(_, reason)| {
                    refusal_family
                        .get_or_create(&ReasonLabel { reason })
                        .clone()
                })
                .collect();
            let gap_family = Family::<KindLabel, Counter>::default();
            let gaps = ["trimmed", "reset"]
                .map(|kind| gap_family.get_or_create(&KindLabel { kind }).clone());
            let presence_family = Family::<KindLabel, Counter>::default();
            let presence = ["join", "update", "leave"]
                .map(|kind| presence_family.get_or_create(&KindLabel { kind }).clone());
            Inner {
                slots,
                messages: messages.into_boxed_slice(),
                frames_in,
                bytes_in,
                frames_out,
                bytes_out,
                conversions,
                outdated,
                open,
                open_family,
                opened,
                opened_family,
                closed: Family::default(),
                heartbeat_timeouts: Counter::default(),
                slow_consumers: Counter::default(),
                undelivered: Counter::default(),
                unhandled: Counter::default(),
                decode_errors,
                decode_family,
                refusals,
                refusal_family,
                outbox_depth: Histogram::new(DEPTH_FRAMES, 1.0),
                handler: Histogram::new(HANDLER_NS, NANOS),
                broadcasts: Counter::default(),
                deliveries: Counter::default(),
                fanout: Histogram::new(FANOUT_NS, NANOS),
                publish: Histogram::new(PUBLISH_NS, NANOS),
                replays: Counter::default(),
                gaps,
                gap_family,
                presence,
                presence_family,
            }
        }
    }

    fn place(slots: &mut [u16], messages: &mut Vec<PerMessage>, header: Header, entry: PerMessage) {
        let Ok(slot) = u16::try_from(messages.len()) else {
            return;
        };
        if let Some(s) = slots.get_mut(usize::from(header.index())) {
            *s = slot;
            messages.push(entry);
        }
    }

    /// A server's metrics, for an application that runs its own exporter:
    /// register it in the application's `prometheus_client` registry
    /// (`registry.register_collector(Box::new(metrics))`), or read the
    /// OpenMetrics text with [`Metrics::encode`]. What
    /// [`ServerConfig::metrics_path`] serves. Obtained from
    /// [`super::super::ServerHandle::metrics`].
    #[derive(Debug, Clone)]
    pub struct Metrics {
        node: Weak<dyn Node>,
    }

    impl fmt::Debug for dyn Node {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Node")
        }
    }

    impl Metrics {
        pub(crate) fn of<N: Node + 'static>(node: &Arc<N>) -> Option<Metrics> {
            let weak: Weak<dyn Node> = Arc::downgrade(node) as Weak<dyn Node>;
            node.recorder().on().map(|_| Metrics { node: weak })
        }

        /// The OpenMetrics text exposition of these metrics alone (ending
        /// with `# EOF`); empty once the server is gone.
        #[must_use]
        pub fn encode(&self) -> String {
            let mut registry = Registry::default();
            registry.register_collector(Box::new(self.clone()));
            let mut out = String::new();
            if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
                out.clear();
                let _ = out.write_str("# EOF\n");
            }
            out
        }
    }

    /// The drain's phases as one gauge family, 1 for the current phase.
    struct PhaseGauge(&'static str);

    impl EncodeMetric for PhaseGauge {
        fn encode(&self, mut encoder: MetricEncoder<'_>) -> fmt::Result {
            for name in ["serving", "grace", "closing", "done"] {
                encoder
                    .encode_family(&[("phase", name)])?
                    .encode_gauge(&i64::from(name == self.0))?;
            }
            Ok(())
        }

        fn metric_type(&self) -> MetricType {
            MetricType::Gauge
        }
    }

    impl Collector for Metrics {
        fn encode(&self, mut e: DescriptorEncoder<'_>) -> fmt::Result {
            let Some(node) = self.node.upgrade() else {
                return Ok(());
            };
            let Some(m) = node.recorder().on() else {
                return Ok(());
            };
            let seconds = Some(&Unit::Seconds);
            let bytes = Some(&Unit::Bytes);
            // Read from the server's own state at scrape time: one source
            // with `ServerHandle::handler_panics`, `phase` and
            // `backend_state`.
            let panics = ConstCounter::new(node.panics());
            let backend = ConstGauge::new(i64::from(node.backend_connected()));
            let phase = PhaseGauge(node.drain_phase());
            let left = ConstGauge::new(i64::try_from(node.draining_left()).unwrap_or(i64::MAX));
            // Name, help, unit and the metric, in the order of the exposition.
            let families: [(&str, &str, Option<&Unit>, &dyn EncodeMetric); 28] = [
                (
                    "tagwire_connections",
                    "Connections open, by transport, encoding and whether the client's protocol is older than the server's.",
                    None,
                    &m.open_family,
                ),
                (
                    "tagwire_connections_opened",
                    "Connections opened.",
                    None,
                    &m.opened_family,
                ),
                (
                    "tagwire_connections_closed",
                    "Connections closed, by close code (`none` when the peer vanished; `other` for codes the runtime does not use) and by whom.",
                    None,
                    &m.closed,
                ),
                (
                    "tagwire_frames_received",
                    "Data frames received, by message and version (`_control` for the runtime's own, `_unknown` for no message of the package).",
                    None,
                    &m.frames_in,
                ),
                (
                    "tagwire_received",
                    "Bytes of data frames received, by message and version.",
                    bytes,
                    &m.bytes_in,
                ),
                (
                    "tagwire_frames_sent",
                    "Data frames written to clients, by message and version.",
                    None,
                    &m.frames_out,
                ),
                (
                    "tagwire_sent",
                    "Bytes of data frames written to clients, by message and version.",
                    bytes,
                    &m.bytes_out,
                ),
                (
                    "tagwire_decode_errors",
                    "Client frames that did not decode, by kind.",
                    None,
                    &m.decode_family,
                ),
                (
                    "tagwire_refusals",
                    "Connection requests and frames refused, by reason.",
                    None,
                    &m.refusal_family,
                ),
                (
                    "tagwire_heartbeat_timeouts",
                    "Connections closed for want of a pong (4000).",
                    None,
                    &m.heartbeat_timeouts,
                ),
                (
                    "tagwire_slow_consumer_closes",
                    "Connections closed because their client did not read (4002).",
                    None,
                    &m.slow_consumers,
                ),
                (
                    "tagwire_undelivered_frames",
                    "Frames accepted for clients that never received them.",
                    None,
                    &m.undelivered,
                ),
                (
                    "tagwire_unhandled_frames",
                    "Frames clients sent that were read but never handled.",
                    None,
                    &m.unhandled,
                ),
                (
                    "tagwire_outbox_depth_frames",
                    "Frames a connection found queued each time it came to write.",
                    None,
                    &m.outbox_depth,
                ),
                (
                    "tagwire_handler_duration",
                    "Time from a client message's decoding to the end of its handling (upgrade, authorize, on_message).",
                    seconds,
                    &m.handler,
                ),
                (
                    "tagwire_broadcasts",
                    "Room messages published from this node.",
                    None,
                    &m.broadcasts,
                ),
                (
                    "tagwire_broadcast_deliveries",
                    "Room messages queued for members on this node.",
                    None,
                    &m.deliveries,
                ),
                (
                    "tagwire_fanout_duration",
                    "Time to queue one room message for this node's members.",
                    seconds,
                    &m.fanout,
                ),
                (
                    "tagwire_backend_publish_duration",
                    "Time from a publish to the position the backend gave it.",
                    seconds,
                    &m.publish,
                ),
                (
                    "tagwire_backend_replays",
                    "Room histories read for resuming members.",
                    None,
                    &m.replays,
                ),
                (
                    "tagwire_backend_gaps",
                    "Gap notices sent to members, by kind.",
                    None,
                    &m.gap_family,
                ),
                (
                    "tagwire_presence_events",
                    "Presence events this node fanned out to its members, by kind.",
                    None,
                    &m.presence_family,
                ),
                (
                    "tagwire_conversions",
                    "Messages converted between versions for clients of another protocol version, by message, version converted from and direction.",
                    None,
                    &m.conversions,
                ),
                (
                    "tagwire_outdated_notices",
                    "Outdated notices sent, by the message version the client could not have.",
                    None,
                    &m.outdated,
                ),
                (
                    "tagwire_panics",
                    "Panics of application code caught (each closed one connection with 1011).",
                    None,
                    &panics,
                ),
                (
                    "tagwire_backend_connected",
                    "Whether the broadcast backend reaches its engine (1) or not (0).",
                    None,
                    &backend,
                ),
                (
                    "tagwire_drain_phase",
                    "The drain's phase: 1 for the current one.",
                    None,
                    &phase,
                ),
                (
                    "tagwire_drain_connections_remaining",
                    "Connections still open while draining (0 when not draining).",
                    None,
                    &left,
                ),
            ];
            for (name, help, unit, metric) in families {
                let inner = e.encode_descriptor(name, help, unit, metric.metric_type())?;
                metric.encode(inner)?;
            }
            Ok(())
        }
    }
}
