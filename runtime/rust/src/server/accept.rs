//! The standalone server's accept loop: HTTP/1 connections with a deadline
//! on the request head.
//!
//! `axum::serve` builds hyper's connections without a timer, and hyper
//! applies `header_read_timeout` only when it has one, so a client sending
//! one header line every few seconds held a socket, a task and hyper's read
//! buffer forever (slowloris). Serving each connection with hyper's own
//! builder and a tokio timer bounds the head to
//! [`super::ConnectionLimits::handshake_timeout`]. Sockets get
//! `TCP_NODELAY`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// Serves one accepted TCP connection: its HTTP requests, and the
/// WebSocket it may upgrade to (which then runs as its own task).
pub(super) async fn serve_http(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    head_timeout: Duration,
) {
    // Realtime frames should leave at once, not wait for the peer's ACK of
    // the previous segment (Nagle against delayed ACKs stalls a 16 KiB echo
    // by tens of ms); the runtime already gathers what is queued into one
    // write, so this costs no extra segments. Node's `ws` does the same.
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%peer, %error, "TCP_NODELAY not set");
    }
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // What `into_make_service_with_connect_info` would have added.
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    if let Err(error) = connection.await {
        tracing::debug!(%peer, %error, "HTTP connection ended with an error");
    }
}

/// What to do after `accept` failed: errors of one connection (reset
/// before it was accepted) cost nothing, but running out of descriptors
/// would spin the loop, so those wait a second for connections to close
/// (as `axum::serve` does).
pub(super) async fn pause_after(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accept failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// `serve_io`'s handshake took longer than the head may.
pub(super) fn handshake_timed_out(limit: Duration) -> tokio_tungstenite::tungstenite::Error {
    tokio_tungstenite::tungstenite::Error::Io(io::Error::new(
        io::ErrorKind::TimedOut,
        format!(
            "the WebSocket handshake did not complete within {} ms",
            limit.as_millis()
        ),
    ))
}
