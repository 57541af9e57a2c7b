//! The HTTP side: the WebSocket upgrade (done by hand so the connection
//! loop runs over any byte stream) and the health route.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::ErrorResponse;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::admission::{Refusal, Slot};
use super::guard::{Authenticate, ConnectRequest, TransportKind};
use super::read_ahead::ReadAhead;
use super::{Handler, Shared};
use crate::{Encoding, Package};

/// The encoding a client asked for, and the subprotocol to echo (SPEC §9.2).
pub(crate) fn choose_encoding(
    headers: &HeaderMap,
    query: Option<&str>,
) -> (Encoding, Option<&'static str>) {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for name in offered {
        let name = name.trim();
        if name.starts_with("tagwire.")
            && let Some(encoding) = Encoding::from_name(name)
        {
            return (encoding, Some(encoding.subprotocol()));
        }
    }
    let from_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("encoding="))
        .find_map(Encoding::from_name);
    (from_query.unwrap_or_default(), None)
}

fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn refuse(status: StatusCode, why: &'static str) -> Response {
    (status, why).into_response()
}

/// Why a connection is refused with 503 before its upgrade (or before its
/// SSE stream opens), on every accept path: the route, `serve_io` and SSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// The node is draining for a deploy.
    Draining,
    /// A connection limit is reached.
    Full(Refusal),
}

impl Unavailable {
    /// Says which limit, so whoever reads the refusal knows what to raise.
    fn body(self) -> &'static str {
        match self {
            Unavailable::Draining => "server is draining for a deploy; reconnect to another node\n",
            Unavailable::Full(Refusal::Node) => {
                "server is at its connection limit (limits.max_connections); retry later\n"
            }
            Unavailable::Full(Refusal::Address) => {
                "too many connections from this address (limits.max_connections_per_address); retry later\n"
            }
        }
    }

    /// Seconds to wait: a drained client should find another node soon; a
    /// full node frees slots only as its clients leave. Tagwire clients
    /// read it as the middle of their jitter, not a moment to meet.
    fn retry_after(self) -> HeaderValue {
        match self {
            Unavailable::Draining => HeaderValue::from_static("5"),
            Unavailable::Full(_) => HeaderValue::from_static("10"),
        }
    }

    /// The refusal as the routes answer it.
    pub(crate) fn response(self) -> Response {
        let mut response = refuse(StatusCode::SERVICE_UNAVAILABLE, self.body());
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, self.retry_after());
        close_after(response)
    }

    /// The refusal as `serve_io`'s handshake writes it (tungstenite adds no
    /// length of its own).
    pub(crate) fn handshake_refusal(self) -> ErrorResponse {
        let body = self.body();
        let mut refusal = ErrorResponse::new(Some(body.to_owned()));
        *refusal.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let h = refusal.headers_mut();
        h.insert(header::RETRY_AFTER, self.retry_after());
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        close_after(refusal)
    }
}

/// While draining or full, no kept-alive connection should keep a browser
/// (or a balancer) pinned to this node.
fn close_after<B>(mut response: axum::http::Response<B>) -> axum::http::Response<B> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A slot for a connection of `client`, or the 503 that refuses it.
pub(crate) fn admit<P: Package, H, A: Authenticate>(
    shared: &Shared<P, H, A>,
    client: Option<SocketAddr>,
) -> Result<Slot, Unavailable> {
    shared
        .core
        .admission
        .admit(client.map(|c| c.ip()))
        .map_err(Unavailable::Full)
}

/// The client behind `peer`, by the request's `X-Forwarded-For` when `peer`
/// is a trusted proxy (`ServerConfig::trusted_proxies`).
pub(crate) fn client_of<P: Package, H, A: Authenticate>(
    shared: &Shared<P, H, A>,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Option<SocketAddr> {
    super::admission::client_addr(peer, headers, &shared.core.config.trusted_proxies)
}

/// The 403 for a browser page of an origin the configuration does not
/// allow (before any upgrade or session); `None` when it may connect.
pub(crate) fn refuse_origin<P: Package, H, A: Authenticate>(
    shared: &Shared<P, H, A>,
    headers: &HeaderMap,
) -> Option<Response> {
    let why = shared.core.config.origins.check(headers).err()?;
    tracing::debug!(%why, "origin refused");
    Some((StatusCode::FORBIDDEN, why).into_response())
}

pub(crate) fn peer_of(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

/// The parts of `request` the authentication hook sees, with the client's
/// address as [`client_of`] found it.
pub(crate) fn connect_request(
    request: &Request,
    client: Option<SocketAddr>,
    transport: TransportKind,
) -> ConnectRequest {
    ConnectRequest {
        method: request.method().clone(),
        uri: request.uri().clone(),
        headers: request.headers().clone(),
        peer: client,
        transport,
    }
}

pub(crate) async fn websocket<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    mut request: Request,
) -> Response {
    if shared.core.is_draining() {
        return Unavailable::Draining.response();
    }
    if let Some(refusal) = refuse_origin(&shared, request.headers()) {
        return refusal;
    }
    let headers = request.headers();
    if !has_token(headers, header::UPGRADE, "websocket")
        || !has_token(headers, header::CONNECTION, "upgrade")
    {
        return refuse(
            StatusCode::UPGRADE_REQUIRED,
            "this route speaks WebSocket only\n",
        );
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Version must be 13\n",
        );
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return refuse(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing\n");
    };
    let accept = derive_accept_key(key.as_bytes());
    let (encoding, subprotocol) = choose_encoding(headers, request.uri().query());
    let client = client_of(&shared, peer_of(&request), headers);
    // Before the hook, so a flood past the limits never reaches it; the
    // slot is held from here, through the hook, to the connection's end.
    let slot = match admit(&shared, client) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.response(),
    };
    // Before the 101, so a slow hook holds only an HTTP request; a refusal
    // still upgrades, to close with 4004 (browsers cannot read the status
    // of a refused upgrade, and 4004 tells clients to stop).
    let auth = shared
        .authenticate(&connect_request(&request, client, TransportKind::WebSocket))
        .await;
    let on_upgrade = hyper::upgrade::on(&mut request);
    let ws_config = shared.ws_config();
    // One task per outcome, so a served connection's task holds neither
    // the refusal nor its future: it is part of every idle connection.
    // Each task owns the slot: however it ends (done, panicked, aborted),
    // dropping it gives the slot back.
    match auth {
        Ok(context) => {
            tokio::spawn(async move {
                let _slot = slot;
                // Not `if let`: its scrutinee would live across `run`, a
                // second copy of the WebSocket in every connection's task.
                let Some(ws) = upgraded(on_upgrade, ws_config).await else {
                    return;
                };
                let conn = shared.new_connection(encoding, client, context);
                super::session::run(shared, ws, conn).await;
            });
        }
        Err(denied) => {
            tokio::spawn(async move {
                let _slot = slot;
                let Some(ws) = upgraded(on_upgrade, ws_config).await else {
                    return;
                };
                super::session::unauthorized(&shared, ws, &denied).await;
            });
        }
    }
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    match HeaderValue::from_str(&accept) {
        Ok(v) => {
            h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
        }
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "accept key\n"),
    }
    if let Some(p) = subprotocol {
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(p));
    }
    response
}

/// The WebSocket over the upgraded connection, once hyper hands it over.
async fn upgraded(
    on_upgrade: hyper::upgrade::OnUpgrade,
    config: tokio_tungstenite::tungstenite::protocol::WebSocketConfig,
) -> Option<WebSocketStream<ReadAhead<TokioIo<hyper::upgrade::Upgraded>>>> {
    match on_upgrade.await {
        Ok(upgraded) => {
            let io = ReadAhead::new(TokioIo::new(upgraded));
            Some(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
        }
        Err(error) => {
            tracing::debug!(%error, "WebSocket upgrade failed");
            None
        }
    }
}

pub(crate) async fn health<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
) -> Response {
    if shared.core.is_draining() {
        close_after((StatusCode::SERVICE_UNAVAILABLE, "draining\n").into_response())
    } else {
        (StatusCode::OK, "ok\n").into_response()
    }
}
