//! The live inspector (docs/OPERATING.md, "The live inspector"): a page,
//! a JSON view of the node's connections and rooms, and the frames of one
//! chosen connection as they pass, both ways, from the [`super::tap`].
//! Only the router reaches it.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::backend::BackendState;
use super::core::{Core, DrainPhase};
use super::guard::{Authenticate, TransportKind};
use super::handler::Handler;
use super::shared::Shared;
use super::sse::event_stream;
use crate::__private::push_json_string;
use crate::{Encoding, Package};

/// The page: one static file, no build step (a server never needs Node).
const PAGE: &str = include_str!("inspector.html");

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
    uncached("text/html; charset=utf-8", PAGE)
}

pub(crate) async fn state<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if !allowed(&shared.core, uri.query(), &headers) {
        return refused();
    }
    uncached("application/json", state_json::<P>(&shared.core))
}

/// The node's live state changes from one request to the next: nothing may cache it.
fn uncached(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
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
    event_stream(Body::from_stream(body))
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
            ",\"subscription\":\"{}\",\"held\":{},\"present\":{},\"members\":[",
            r.subscription, r.held, r.present
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
}
