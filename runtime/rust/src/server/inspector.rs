//! The live inspector (docs/OPERATING.md, "The live inspector"): a page,
//! a JSON view of the node's connections and rooms, and the frames of one
//! chosen connection as they pass, both ways.
//!
//! The frame tap costs a connection one relaxed atomic load per frame while
//! nobody watches: the frame is described (decoded again, its `Debug` text
//! taken) only for a connection someone watches. A watcher's memory is
//! bounded: a channel of `watcher_buffer` events, each with its text cut at
//! [`MAX_TEXT`] bytes; events that find it full are dropped and counted, and
//! at most `max_watchers` watch at once.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::backend::BackendState;
use super::core::{Core, DrainPhase};
use super::guard::{Authenticate, TransportKind};
use super::handler::Handler;
use super::shared::Shared;
use crate::__private::{base64url_encode, push_json_string};
use crate::control::{ROOM, RoomEnvelope};
use crate::frame::{Incoming, Payload, decode};
use crate::{Encoding, Header, Limits, Package, Protocol};

/// The page: one static file, no build step (a server never needs Node).
const PAGE: &str = include_str!("inspector.html");

/// Longest `value` and `raw` text of one frame event; longer ones are cut
/// (marked `truncated`), so a watcher's buffer is bounded in bytes.
pub(crate) const MAX_TEXT: usize = 4096;

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

crate::setters::setters!(InspectorConfig {
    with_max_watchers: max_watchers: usize,
    with_watcher_buffer: watcher_buffer: usize,
});

/// Which way a frame went.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dir {
    In,
    Out,
}

struct Watcher {
    id: u64,
    conn: u64,
    tx: mpsc::Sender<String>,
    /// Events this watcher's full channel refused.
    dropped: u64,
    seq: u64,
}

/// The frame tap: who watches which connection.
#[derive(Default)]
pub(crate) struct Tap {
    /// Watchers now; the only thing a frame looks at while this is 0.
    active: AtomicUsize,
    watchers: Mutex<Vec<Watcher>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tap")
            .field("active", &self.active.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Tap {
    /// Whether anyone watches any connection. Relaxed: a frame passing as
    /// a watcher arrives may or may not be shown, either is right.
    #[inline]
    pub(crate) fn watching(&self) -> bool {
        self.active.load(Ordering::Relaxed) != 0
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Watcher>> {
        self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands the frame `describe` gives to the watchers of `conn`, if any;
    /// `describe` runs only then, outside the lock.
    pub(crate) fn capture(&self, conn: u64, describe: impl FnOnce() -> String) {
        if !self.lock().iter().any(|w| w.conn == conn) {
            return;
        }
        let event = describe();
        let mut watchers = self.lock();
        watchers.retain_mut(|w| {
            if w.conn != conn {
                return true;
            }
            w.seq += 1;
            let line = format!("{{\"seq\":{},\"dropped\":{},{event}}}", w.seq, w.dropped);
            match w.tx.try_send(line) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    w.dropped += 1;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        self.active.store(watchers.len(), Ordering::Relaxed);
    }

    /// A new watcher of `conn`, unless `max` watch already.
    fn watch(
        self: &Arc<Self>,
        conn: u64,
        max: usize,
        buffer: usize,
    ) -> Option<(WatchGuard, mpsc::Receiver<String>)> {
        let mut watchers = self.lock();
        if watchers.len() >= max {
            return None;
        }
        let (tx, rx) = mpsc::channel(buffer.max(1));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        watchers.push(Watcher {
            id,
            conn,
            tx,
            dropped: 0,
            seq: 0,
        });
        self.active.store(watchers.len(), Ordering::Relaxed);
        Some((
            WatchGuard {
                tap: self.clone(),
                id,
            },
            rx,
        ))
    }

    pub(crate) fn watchers(&self) -> usize {
        self.lock().len()
    }
}

/// Removes its watcher when the frame stream ends (the page went away).
struct WatchGuard {
    tap: Arc<Tap>,
    id: u64,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut watchers = self.tap.lock();
        watchers.retain(|w| w.id != self.id);
        self.tap.active.store(watchers.len(), Ordering::Relaxed);
    }
}

/// Bounds for decoding a frame again for the inspector: what was sent or
/// accepted already, so only a sanity bound applies.
fn lenient() -> Limits {
    Limits {
        max_frame_bytes: 64 * 1024 * 1024,
        max_collection_len: usize::MAX,
        max_string_bytes: usize::MAX,
        ..Limits::default()
    }
}

fn payload(frame: &Message) -> Option<Payload<'_>> {
    match frame {
        Message::Text(text) => Some(Payload::Text(text.as_str())),
        Message::Binary(bytes) => Some(Payload::Binary(bytes)),
        _ => None,
    }
}

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary.
fn cut(text: &str) -> (&str, bool) {
    if text.len() <= MAX_TEXT {
        return (text, false);
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (&text[..end], true)
}

/// What a decoded frame is: its message's header, name, version and
/// `Debug` text, or the control message, or why it did not decode.
struct Described {
    header: Option<Header>,
    name: Option<String>,
    version: Option<u32>,
    value: String,
}

fn message<P: Package, M: Protocol + std::fmt::Debug>(m: &M, prefix: &str) -> Described {
    let header = m.header();
    let named = P::describe(header);
    Described {
        header: Some(header),
        name: named.map(|(n, _)| n.to_string()),
        version: named.map(|(_, v)| v),
        value: format!("{prefix}{m:?}"),
    }
}

fn decoded<P: Package, M: Protocol + std::fmt::Debug>(
    payload: Payload<'_>,
    prefix: &str,
) -> Described {
    match decode::<M>(payload, &lenient()) {
        Ok(Incoming::Message(m)) => message::<P, M>(&m, prefix),
        Ok(Incoming::Control(control)) => {
            let value = format!("{prefix}{control:?}");
            // The variant's name (`Hello`, `Ping`…) names a control message.
            let name = value[prefix.len()..]
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .map(str::to_string);
            Described {
                header: Some(control.header()),
                name,
                version: None,
                value,
            }
        }
        Err(error) => Described {
            header: None,
            name: None,
            version: None,
            value: format!("{prefix}(did not decode: {error})"),
        },
    }
}

/// The JSON fields of one frame event (all but `seq` and `dropped`).
/// Runs only for a watched connection.
pub(crate) fn describe<P: Package>(
    dir: Dir,
    frame: &Message,
    since: Option<std::time::Instant>,
) -> String {
    let Some(payload) = payload(frame) else {
        return "\"dir\":\"none\"".into();
    };
    let d = match (dir, payload) {
        (Dir::In, p) => decoded::<P, P::Client>(p, ""),
        (Dir::Out, Payload::Text(t)) if t.starts_with("_h") => {
            match RoomEnvelope::split_text(t, &lenient()) {
                Ok((room, at, inner)) => {
                    decoded::<P, P::Server>(Payload::Text(inner), &format!("room {room} @{at}: "))
                }
                Err(e) => decoded::<P, P::Server>(payload, &format!("(bad envelope: {e}) ")),
            }
        }
        (Dir::Out, Payload::Binary(b)) if b.starts_with(&ROOM.to_bytes()) => {
            match RoomEnvelope::split_binary(b, &lenient()) {
                Ok((room, at, inner)) => {
                    decoded::<P, P::Server>(Payload::Binary(inner), &format!("room {room} @{at}: "))
                }
                Err(e) => decoded::<P, P::Server>(payload, &format!("(bad envelope: {e}) ")),
            }
        }
        (Dir::Out, p) => decoded::<P, P::Server>(p, ""),
    };
    let mut out = String::with_capacity(256);
    out.push_str(match dir {
        Dir::In => "\"dir\":\"in\"",
        Dir::Out => "\"dir\":\"out\"",
    });
    out.push_str(",\"header\":");
    let wire_header = match payload {
        Payload::Text(t) => t.get(..2).map(str::to_string),
        Payload::Binary(b) => b.get(..2).map(|h| String::from_utf8_lossy(h).into_owned()),
    };
    match d.header.map(|h| h.to_string()).or(wire_header) {
        Some(h) => push_json_string(&h, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"name\":");
    match &d.name {
        Some(n) => push_json_string(n, &mut out),
        None => out.push_str("null"),
    }
    out.push_str(",\"version\":");
    match d.version {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("null"),
    }
    let (value, value_cut) = cut(&d.value);
    out.push_str(",\"value\":");
    push_json_string(value, &mut out);
    let (raw, binary, raw_cut) = match payload {
        Payload::Text(t) => {
            let (raw, c) = cut(t);
            (raw.to_string(), false, c)
        }
        Payload::Binary(b) => {
            let mut raw = String::new();
            let keep = b.len().min(MAX_TEXT / 4 * 3);
            base64url_encode(&b[..keep], &mut raw);
            (raw, true, keep < b.len())
        }
    };
    out.push_str(",\"raw\":");
    push_json_string(&raw, &mut out);
    let _ = write!(
        out,
        ",\"binary\":{binary},\"bytes\":{},\"truncated\":{}",
        frame.len(),
        value_cut || raw_cut
    );
    if let Some(since) = since {
        let _ = write!(out, ",\"t_ms\":{}", since.elapsed().as_millis());
    }
    out
}

/// Whether the request carries `token`, compared in constant time.
fn authorized(expected: &str, query: Option<&str>, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let from_query = query_param(query, "token");
    let mut ok = false;
    for given in [bearer, from_query].into_iter().flatten() {
        ok |= constant_time_eq(given.as_bytes(), expected.as_bytes());
    }
    // An empty token would let anyone in.
    ok && !expected.is_empty()
}

/// Equal bytes, in a time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
                continue;
            }
            (None, b'+') => out.push(b' '),
            (None, b) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parameter of the query, decoded.
fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .map(percent_decode)
}

fn refused() -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "inspector: token required\n").into_response();
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
}

/// The request's query and headers, checked against the configured token
/// (none configured: the application guards the route itself).
fn allowed(core: &Core, query: Option<&str>, headers: &HeaderMap) -> bool {
    match core
        .config
        .inspector
        .as_ref()
        .and_then(|c| c.token.as_deref())
    {
        Some(token) => authorized(token, query, headers),
        None => true,
    }
}

pub(crate) async fn page<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if !allowed(&shared.core, uri.query(), &headers) {
        return refused();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        PAGE,
    )
        .into_response()
}

pub(crate) async fn state<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if !allowed(&shared.core, uri.query(), &headers) {
        return refused();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        state_json::<P>(&shared.core),
    )
        .into_response()
}

pub(crate) async fn frames<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let core = &shared.core;
    if !allowed(core, uri.query(), &headers) {
        return refused();
    }
    let Some(conn) = query_param(uri.query(), "conn").and_then(|c| c.parse::<u64>().ok()) else {
        return (StatusCode::BAD_REQUEST, "inspector: ?conn=ID is required\n").into_response();
    };
    let Some(config) = core.config.inspector.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some((guard, rx)) = core
        .tap
        .watch(conn, config.max_watchers, config.watcher_buffer)
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "inspector: too many frame streams open\n",
        )
            .into_response();
    };
    let hello = format!("event: ready\ndata: {{\"conn\":{conn}}}\n\n");
    let events = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let line = rx.recv().await?;
        Some((
            Ok::<_, std::convert::Infallible>(format!("data: {line}\n\n")),
            (rx, guard),
        ))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok(hello) }),
        events,
    );
    let mut response = Response::new(Body::from_stream(body));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn drain_phase(phase: &DrainPhase) -> &'static str {
    match phase {
        DrainPhase::Serving => "serving",
        DrainPhase::Grace => "grace",
        DrainPhase::Closing => "closing",
        DrainPhase::Done(_) => "done",
    }
}

/// The node's state as JSON: connections, rooms, drain, backend.
pub(crate) fn state_json<P: Package>(core: &Core) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str("{\"package\":");
    push_json_string(P::NAME, &mut out);
    out.push_str(",\"fingerprint\":");
    push_json_string(P::FINGERPRINT, &mut out);
    let phase = drain_phase(&core.phase.borrow());
    let _ = write!(
        out,
        ",\"drain\":\"{phase}\",\"connection_count\":{},\"panics\":{},\"watchers\":{}",
        core.connection_count(),
        core.panics(),
        core.tap.watchers()
    );
    out.push_str(",\"backend\":");
    match &*core.rooms.backend().state().borrow() {
        BackendState::Connected => out.push_str("{\"state\":\"connected\"}"),
        BackendState::Reconnecting {
            since,
            error,
            attempts,
        } => {
            let _ = write!(
                out,
                "{{\"state\":\"reconnecting\",\"for_ms\":{},\"attempts\":{attempts},\"error\":",
                since.elapsed().as_millis()
            );
            push_json_string(error, &mut out);
            out.push('}');
        }
        BackendState::Closed => out.push_str("{\"state\":\"closed\"}"),
    }
    let rooms = core.rooms.inspect();
    out.push_str(",\"connections\":[");
    for (i, c) in core.snapshot().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":{},\"peer\":", c.id);
        match c.peer {
            Some(p) => push_json_string(&p.to_string(), &mut out),
            None => out.push_str("null"),
        }
        let encoding = match c.encoding {
            Encoding::Text => "text",
            Encoding::Binary => "binary",
        };
        let _ = write!(out, ",\"encoding\":\"{encoding}\"");
        let (frames, bytes) = c.outbox.queued();
        let _ = write!(out, ",\"queued_frames\":{frames},\"queued_bytes\":{bytes}");
        match &c.stats {
            Some(s) => {
                let transport = match s.transport {
                    TransportKind::WebSocket => "websocket",
                    TransportKind::Sse => "sse",
                };
                let _ = write!(
                    out,
                    ",\"transport\":\"{transport}\",\"age_ms\":{},\"frames_in\":{},\"frames_out\":{}",
                    s.opened.elapsed().as_millis(),
                    s.frames_in.load(Ordering::Relaxed),
                    s.frames_out.load(Ordering::Relaxed)
                );
            }
            None => out.push_str(",\"transport\":null"),
        }
        out.push_str(",\"client\":");
        match c.hello.get() {
            Some(peer) => {
                out.push_str("{\"package\":");
                push_json_string(&peer.hello.package, &mut out);
                out.push_str(",\"fingerprint\":");
                push_json_string(&peer.hello.fingerprint, &mut out);
                out.push('}');
            }
            None => out.push_str("null"),
        }
        let _ = write!(out, ",\"outdated\":{}", c.outdated_peer().is_some());
        out.push_str(",\"rooms\":[");
        for (j, r) in rooms.joined.get(&c.id).into_iter().flatten().enumerate() {
            if j > 0 {
                out.push(',');
            }
            push_json_string(r, &mut out);
        }
        out.push_str("]}");
    }
    out.push_str("],\"rooms\":[");
    for (i, r) in rooms.rooms.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"name\":");
        push_json_string(&r.name, &mut out);
        let _ = write!(
            out,
            ",\"subscription\":\"{}\",\"held\":{},\"members\":[",
            r.subscription, r.held
        );
        for (j, (id, at)) in r.members.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "{{\"id\":{id},\"position\":\"{at}\"}}");
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_read_from_the_query_or_the_bearer_header() {
        let none = HeaderMap::new();
        assert!(authorized("a b", Some("conn=1&token=a%20b"), &none));
        assert!(authorized("a b", Some("token=a+b"), &none));
        assert!(!authorized("a b", Some("token=a"), &none));
        assert!(!authorized("a b", Some("xtoken=a+b"), &none));
        assert!(!authorized("", Some("token="), &none));
        let mut bearer = HeaderMap::new();
        bearer.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer a b"),
        );
        assert!(authorized("a b", None, &bearer));
        assert!(!authorized("a c", None, &bearer));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn an_unwatched_connection_is_never_described() {
        let tap = Arc::new(Tap::default());
        assert!(!tap.watching());
        tap.capture(1, || unreachable!("nobody watches"));
        let (_guard, _rx) = tap.watch(2, 4, 8).expect("a watcher");
        assert!(tap.watching());
        // Someone watches another connection: this one is still not described.
        tap.capture(1, || unreachable!("nobody watches connection 1"));
    }

    #[test]
    fn a_slow_watcher_loses_frames_counted_and_watchers_are_capped() {
        let tap = Arc::new(Tap::default());
        let (guard, mut rx) = tap.watch(1, 2, 2).expect("a watcher");
        let (second, _rx2) = tap.watch(1, 2, 2).expect("a second watcher");
        assert!(tap.watch(1, 2, 2).is_none(), "at most 2 watchers");
        for n in 0..5 {
            tap.capture(1, || format!("\"n\":{n}"));
        }
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("{\"seq\":1,\"dropped\":0,\"n\":0}")
        );
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("{\"seq\":2,\"dropped\":0,\"n\":1}")
        );
        assert!(rx.try_recv().is_err(), "the rest were dropped, not queued");
        tap.capture(1, || "\"n\":5".into());
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("{\"seq\":6,\"dropped\":3,\"n\":5}")
        );
        drop(second);
        assert_eq!(tap.watchers(), 1);
        drop(guard);
        assert!(!tap.watching(), "a closed stream stops the tap");
    }

    #[test]
    fn long_text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT);
        let (cut_text, truncated) = cut(&long);
        assert!(truncated && cut_text.len() <= MAX_TEXT && cut_text.chars().all(|c| c == 'é'));
        assert_eq!(cut("short"), ("short", false));
    }
}
