//! The HTTP side: the checks every accept path makes before a handshake
//! ([`admit`]), the WebSocket upgrade (done by hand so the connection loop
//! runs over any byte stream) and the health route.

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

use super::admission::{Refusal, Slot, client_addr};
use super::core::Core;
use super::guard::{Authenticate, ConnectRequest, TransportKind};
use super::handler::Handler;
use super::metrics::Reason;
use super::read_ahead::ReadAhead;
use super::shared::Shared;
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

/// What a connection request that passed every check made before its
/// handshake gets.
pub(crate) struct Admitted {
    /// Its place under the connection limits: held from here, through the
    /// authentication hook, to the connection's end.
    pub(crate) slot: Slot,
    /// The encoding the client asked for.
    pub(crate) encoding: Encoding,
    /// The WebSocket subprotocol to echo.
    pub(crate) subprotocol: Option<&'static str>,
    /// What the authentication hook sees, with the client's address as the
    /// limits counted it.
    pub(crate) connect: ConnectRequest,
}

/// Why a connection request is refused before its handshake.
#[derive(Debug)]
pub(crate) enum Refused {
    /// 503 with `Retry-After`: draining, or a connection limit reached.
    Unavailable(Unavailable),
    /// 403: a browser page of an origin the configuration does not allow.
    Origin(String),
    /// Not a WebSocket upgrade this server can answer. tungstenite checks
    /// the same before `serve_io`'s callback, so only the route meets it.
    Malformed(StatusCode, &'static str),
}

impl Refused {
    /// The refusal as the routes answer it.
    pub(crate) fn response(self) -> Response {
        match self {
            Refused::Unavailable(unavailable) => unavailable.response(),
            Refused::Origin(why) => {
                tracing::debug!(%why, "origin refused");
                (StatusCode::FORBIDDEN, why).into_response()
            }
            Refused::Malformed(status, why) => refuse(status, why),
        }
    }

    /// The refusal as `serve_io`'s handshake writes it.
    pub(crate) fn handshake_refusal(self) -> ErrorResponse {
        let (status, body) = match self {
            Refused::Unavailable(unavailable) => return unavailable.handshake_refusal(),
            Refused::Origin(why) => (StatusCode::FORBIDDEN, why),
            Refused::Malformed(status, why) => (status, why.to_owned()),
        };
        let mut refusal = ErrorResponse::new(Some(body));
        *refusal.status_mut() = status;
        refusal
    }
}

/// Every check a connection request meets before its handshake, in order,
/// on every accept path (the WebSocket route, `serve_io`, and the SSE
/// route with `TransportKind::Sse`): the drain, the origin, the upgrade's
/// own headers, then the connection limits for the client behind `peer`
/// (by `X-Forwarded-For` when `peer` is a trusted proxy), and the encoding.
/// Each path answers a refusal its own way.
pub(crate) fn admit<B>(
    core: &Core,
    request: &axum::http::Request<B>,
    peer: Option<SocketAddr>,
    transport: TransportKind,
) -> Result<Admitted, Refused> {
    if core.is_draining() {
        core.metrics.refused(Reason::Draining);
        return Err(Refused::Unavailable(Unavailable::Draining));
    }
    let headers = request.headers();
    core.config.origins.check(headers).map_err(|why| {
        core.metrics.refused(Reason::Origin);
        Refused::Origin(why)
    })?;
    let (encoding, subprotocol) = match transport {
        TransportKind::WebSocket => {
            well_formed(headers)?;
            choose_encoding(headers, request.uri().query())
        }
        // An SSE session always uses the text encoding.
        TransportKind::Sse => (Encoding::Text, None),
    };
    let client = client_addr(peer, headers, &core.config.trusted_proxies);
    // Before the hook, so a flood past the limits never reaches it.
    let slot = core
        .admission
        .admit(client.map(|c| c.ip()))
        .map_err(|full| {
            core.metrics.refused(Reason::ConnectionLimit);
            Refused::Unavailable(Unavailable::Full(full))
        })?;
    Ok(Admitted {
        slot,
        encoding,
        subprotocol,
        connect: ConnectRequest {
            method: request.method().clone(),
            uri: request.uri().clone(),
            headers: headers.clone(),
            peer: client,
            transport,
        },
    })
}

/// Whether `headers` ask for a WebSocket this server speaks.
fn well_formed(headers: &HeaderMap) -> Result<(), Refused> {
    if !has_token(headers, header::UPGRADE, "websocket")
        || !has_token(headers, header::CONNECTION, "upgrade")
    {
        return Err(Refused::Malformed(
            StatusCode::UPGRADE_REQUIRED,
            "this route speaks WebSocket only\n",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(HeaderValue::as_bytes)
        != Some(b"13")
    {
        return Err(Refused::Malformed(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Version must be 13\n",
        ));
    }
    if headers.get(header::SEC_WEBSOCKET_KEY).is_none() {
        return Err(Refused::Malformed(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key is missing\n",
        ));
    }
    Ok(())
}

pub(crate) fn peer_of(request: &Request) -> Option<SocketAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

pub(crate) async fn websocket<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
    mut request: Request,
) -> Response {
    let Admitted {
        slot,
        encoding,
        subprotocol,
        connect,
    } = match admit(
        &shared.core,
        &request,
        peer_of(&request),
        TransportKind::WebSocket,
    ) {
        Ok(admitted) => admitted,
        Err(refusal) => return refusal.response(),
    };
    let accept = request
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| derive_accept_key(key.as_bytes()))
        .unwrap_or_default();
    let client = connect.peer;
    // Before the 101, so a slow hook holds only an HTTP request; a refusal
    // still upgrades, to close with 4004 (browsers cannot read the status
    // of a refused upgrade, and 4004 tells clients to stop).
    let auth = super::session::authenticate(&shared, &connect).await;
    drop(connect);
    let on_upgrade = hyper::upgrade::on(&mut request);
    // One task per outcome, so a served connection's task holds neither
    // the refusal nor its future: it is part of every idle connection. The
    // WebSocket settings are made inside it for the same reason (what a
    // task captures stays in it until it ends).
    // Each task owns the slot: however it ends (done, panicked, aborted),
    // dropping it gives the slot back.
    match auth {
        Ok(context) => {
            tokio::spawn(async move {
                let _slot = slot;
                // Not `if let`: its scrutinee would live across `run`, a
                // second copy of the WebSocket in every connection's task.
                let Some(mut ws) = upgraded(on_upgrade, shared.ws_config()).await else {
                    return;
                };
                let conn =
                    shared.new_connection(encoding, client, context, TransportKind::WebSocket);
                super::session::run(shared, &mut ws, conn, TransportKind::WebSocket).await;
            });
        }
        Err(denied) => {
            tokio::spawn(async move {
                let _slot = slot;
                let Some(ws) = upgraded(on_upgrade, shared.ws_config()).await else {
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

/// The metrics route (feature `metrics`, `ServerConfig::metrics_path`).
#[cfg(feature = "metrics")]
pub(crate) async fn metrics<P: Package, A: Authenticate, H: Handler<P, A::Context>>(
    State(shared): State<Arc<Shared<P, H, A>>>,
) -> Response {
    let text = super::metrics::Metrics::of(&shared.core)
        .map(|m| m.encode())
        .unwrap_or_default();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(super::metrics::OPENMETRICS_CONTENT_TYPE),
        )],
        text,
    )
        .into_response()
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
