//! The WebSocket server (feature `server`): typed handlers over axum and
//! tokio, with the heartbeat, drain and memory bounds of SPEC §9 and
//! docs/RUNTIME.md.
//!
//! ```no_run
//! # // What a schema's generated module gives (`tagwire::include_protocol!`),
//! # // derived here so the example compiles on its own.
//! # mod ui {
//! #     #[derive(tagwire::Protocol, Debug)]
//! #     #[tagwire(direction = "client", package = "ui")]
//! #     pub enum ClientMessage { Click { id: String } }
//! #     #[derive(tagwire::Protocol, Debug)]
//! #     #[tagwire(direction = "server", package = "ui")]
//! #     pub enum ServerMessage { Render { id: String } }
//! #     pub struct Package;
//! #     impl tagwire::Package for Package {
//! #         type Client = ClientMessage;
//! #         type Server = ServerMessage;
//! #         const NAME: &'static str = "ui";
//! #         const FINGERPRINT: &'static str = "example";
//! #         fn headers() -> Vec<tagwire::Header> { Vec::new() }
//! #     }
//! # }
//! use tagwire::server::{Connection, Handler, Server, ServerConfig};
//!
//! struct App;
//!
//! impl Handler<ui::Package> for App {
//!     async fn on_message(&self, conn: &Connection<ui::Package>, message: ui::ClientMessage) {
//!         // …
//! #       let _ = (conn, message);
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = Server::new(App, ServerConfig::default());
//! let app = axum::Router::new().merge(server.router()); // GET /ws and GET /health
//! # let _ = app;
//! // or, standalone, draining on SIGTERM/SIGINT:
//! server.serve(tokio::net::TcpListener::bind("0.0.0.0:8080").await?).await?;
//! # Ok(())
//! # }
//! ```

mod accept;
mod admission;
pub mod backend;
mod config;
mod connection;
mod core;
mod downgrade;
mod drain;
mod guard;
mod handler;
mod inspector;
mod member;
mod metrics;
mod outbox;
mod peers;
mod rate;
mod read_ahead;
mod rooms;
mod session;
mod shared;
mod sse;
mod tap;
mod upgrade;

use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};

pub use self::admission::{InvalidIpRange, IpRange};
pub use self::config::InspectorConfig;
pub use self::config::{ConnectionLimits, DrainConfig, HeartbeatConfig, ServerConfig};
pub use self::connection::Connection;
use self::core::Core;
pub use self::core::{DrainPhase, DrainReport};
pub use self::guard::{
    Authenticate, ConnectRequest, Denied, NoAuth, OriginConfig, OriginPolicy, TransportKind,
};
pub use self::handler::{CloseReport, Handler};
#[cfg(feature = "metrics")]
pub use self::metrics::{Metrics, OPENMETRICS_CONTENT_TYPE};
pub use self::outbox::SendError;
pub use self::rate::RateLimits;
pub use self::rooms::{PresenceError, PublishError};
use self::shared::Shared;
use crate::Package;

/// A Tagwire WebSocket server for package `P` with handler `H`, whose
/// clients are let in by `A` ([`NoAuth`] unless built with
/// [`Server::with_auth`]).
pub struct Server<P: Package, H, A: Authenticate = NoAuth> {
    shared: Arc<Shared<P, H, A>>,
}

impl<P: Package, A: Authenticate, H: Handler<P, A::Context>> Clone for Server<P, H, A> {
    fn clone(&self) -> Self {
        Server {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Package, A: Authenticate, H: Handler<P, A::Context>> std::fmt::Debug for Server<P, H, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("package", &P::NAME)
            .field("connections", &self.shared.core.connection_count())
            .finish_non_exhaustive()
    }
}

impl<P: Package, H: Handler<P>> Server<P, H, NoAuth> {
    /// A server that lets every client in (subject to
    /// [`ServerConfig::origins`]) and hands client messages to `handler`.
    /// Logs a warning for each of [`ServerConfig::warnings`].
    pub fn new(handler: H, config: ServerConfig) -> Self {
        Server::with_auth(handler, NoAuth, config)
    }
}

impl<P: Package, A: Authenticate, H: Handler<P, A::Context>> Server<P, H, A> {
    /// A server that asks `auth` about every connection request (WebSocket
    /// upgrade or SSE `GET`) and gives each connection the context it
    /// returns (`conn.context()` in the handler). A refused client is
    /// closed with 4004 and the reason.
    pub fn with_auth(handler: H, auth: A, config: ServerConfig) -> Self {
        for warning in config.warnings() {
            tracing::warn!("{warning}");
        }
        Server {
            shared: Arc::new(Shared::new(handler, auth, config)),
        }
    }

    /// The WebSocket route and the health route, to merge into an
    /// application's axum `Router`. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` so connections
    /// know their peer's address.
    pub fn router(&self) -> Router {
        let config = &self.shared.core.config;
        let mut router = Router::new()
            .route(&config.ws_path, get(upgrade::websocket::<P, A, H>))
            .route(&config.health_path, get(upgrade::health::<P, A, H>));
        if let Some(sse) = &config.sse_path {
            router = router.route(sse, get(sse::open::<P, A, H>)).route(
                &format!("{sse}/{{token}}"),
                axum::routing::post(sse::post::<P, A, H>),
            );
        }
        #[cfg(feature = "metrics")]
        if let Some(path) = &config.metrics_path {
            router = router.route(path, get(upgrade::metrics::<P, A, H>));
        }
        // Without a token the application guards the inspector itself
        // (`inspector_router`): never served open by default.
        let mut router = router.with_state(self.shared.clone());
        if config.inspector.as_ref().is_some_and(|c| c.token.is_some()) {
            router = router.merge(self.inspector_router());
        }
        router
    }

    /// The inspector's routes (docs/OPERATING.md, "The live inspector"):
    /// the page at [`InspectorConfig::path`], `{path}/state` and
    /// `{path}/frames?conn=ID`; empty unless [`ServerConfig::inspector`] is
    /// set. [`Server::router`] includes them when the configuration has a
    /// token; without one, mount these behind the application's own
    /// authentication (an axum middleware on this router).
    pub fn inspector_router(&self) -> Router {
        let Some(config) = &self.shared.core.config.inspector else {
            return Router::new();
        };
        let path = config.path.trim_end_matches('/');
        let page = if path.is_empty() { "/" } else { path };
        Router::new()
            .route(page, get(inspector::page::<P, A, H>))
            .route(&format!("{path}/state"), get(inspector::state::<P, A, H>))
            .route(&format!("{path}/frames"), get(inspector::frames::<P, A, H>))
            .with_state(self.shared.clone())
    }

    /// A handle to drain the server, count connections and broadcast.
    #[must_use]
    pub fn handle(&self) -> ServerHandle<P> {
        ServerHandle {
            core: self.shared.core.clone(),
            _package: PhantomData,
        }
    }

    /// Serves [`Server::router`] on `listener` until a drain completes. A
    /// SIGTERM or SIGINT starts the drain (as does
    /// [`ServerHandle::drain`]); the call returns once the last connection
    /// is gone or the drain's deadline passed.
    ///
    /// # Errors
    ///
    /// When the listener fails.
    pub async fn serve(self, listener: TcpListener) -> io::Result<()> {
        let router = self.router();
        self.serve_router(router, listener).await
    }

    /// [`Server::serve`] for an application that serves its own routes
    /// too (its pages, its API): `app` merged with [`Server::router`], on
    /// the same accept loop (`TCP_NODELAY`, the request-head deadline) and
    /// with the same drain on SIGTERM or SIGINT. `app`'s routes must not
    /// overlap the server's (`ws_path`, `health_path`, `sse_path`).
    ///
    /// # Errors
    ///
    /// When the listener fails.
    pub async fn serve_with(self, app: Router, listener: TcpListener) -> io::Result<()> {
        let router = app.merge(self.router());
        self.serve_router(router, listener).await
    }

    async fn serve_router(self, router: Router, listener: TcpListener) -> io::Result<()> {
        let handle = self.handle();
        let on_signal = handle.clone();
        let signal = shutdown_signal();
        let signals = tokio::spawn(async move {
            signal.await;
            tracing::info!("shutdown signal received");
            on_signal.drain();
        });
        let head_timeout = self.shared.core.config.limits.handshake_timeout;
        let drained = handle.drained();
        tokio::pin!(drained);
        loop {
            tokio::select! {
                _ = &mut drained => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        tokio::spawn(accept::serve_http(stream, peer, router.clone(), head_timeout));
                    }
                    Err(error) => accept::pause_after(error).await,
                },
            }
        }
        signals.abort();
        Ok(())
    }

    /// Runs one connection over an already-accepted byte stream: performs
    /// the WebSocket handshake, then serves it like [`Server::router`]'s
    /// route would. For custom listeners and for tests over in-memory pipes.
    ///
    /// # Errors
    ///
    /// When the handshake fails, including refusals: 403 for an origin,
    /// 503 with `Retry-After` during a drain or past a connection limit
    /// (`peer` is the address the limits count, through
    /// [`ServerConfig::trusted_proxies`] as on the routes).
    // tungstenite's handshake callback fixes its large error type.
    #[allow(clippy::result_large_err)]
    pub async fn serve_io<S>(
        &self,
        io: S,
        peer: Option<SocketAddr>,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let shared = self.shared.clone();
        // Taken in the handshake, before the 101: its slot is held to the
        // end of this future (returning, failing or being dropped gives it
        // back).
        let mut admitted: Option<upgrade::Admitted> = None;
        let callback =
            |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
                let taken = upgrade::admit(&shared.core, request, peer, TransportKind::WebSocket)
                    .map_err(upgrade::Refused::handshake_refusal)?;
                if let Some(p) = taken.subprotocol {
                    response.headers_mut().insert(
                        axum::http::header::SEC_WEBSOCKET_PROTOCOL,
                        axum::http::HeaderValue::from_static(p),
                    );
                }
                admitted = Some(taken);
                Ok(response)
            };
        let handshake = tokio_tungstenite::accept_hdr_async_with_config(
            read_ahead::ReadAhead::new(io),
            callback,
            Some(shared.ws_config()),
        );
        let head_timeout = shared.core.config.limits.handshake_timeout;
        let mut ws = match tokio::time::timeout(head_timeout, handshake).await {
            Ok(ws) => ws?,
            Err(_) => return Err(accept::handshake_timed_out(head_timeout)),
        };
        let Some(upgrade::Admitted {
            slot,
            encoding,
            connect,
            ..
        }) = admitted
        else {
            return Ok(());
        };
        let client = connect.peer;
        let context = match session::authenticate(&shared, &connect).await {
            Ok(context) => context,
            Err(denied) => {
                session::unauthorized(&shared, ws, &denied).await;
                return Ok(());
            }
        };
        drop(connect);
        let conn = shared.new_connection(encoding, client, context, TransportKind::WebSocket);
        session::run(shared, &mut ws, conn, TransportKind::WebSocket).await;
        drop(slot);
        Ok(())
    }
}

/// Controls a running server: drain it, watch it, broadcast to its rooms.
pub struct ServerHandle<P: Package> {
    core: Arc<Core>,
    _package: PhantomData<fn() -> P>,
}

impl<P: Package> Clone for ServerHandle<P> {
    fn clone(&self) -> Self {
        ServerHandle {
            core: self.core.clone(),
            _package: PhantomData,
        }
    }
}

impl<P: Package> std::fmt::Debug for ServerHandle<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("connections", &self.core.connection_count())
            .field("draining", &self.core.is_draining())
            .finish()
    }
}

impl<P: Package> ServerHandle<P> {
    /// Starts the drain (SPEC §9.2 step 4) unless it has started: health
    /// turns 503 at once. Returns at once; see [`ServerHandle::drained`].
    /// Must be called inside a tokio runtime.
    pub fn drain(&self) {
        drain::start(&self.core);
    }

    /// Whether a drain has started.
    #[must_use]
    pub fn is_draining(&self) -> bool {
        self.core.is_draining()
    }

    /// Waits for the drain to finish and returns what it did.
    pub async fn drained(&self) -> DrainReport {
        let mut phase = self.core.phase.subscribe();
        loop {
            if let DrainPhase::Done(report) = &*phase.borrow_and_update() {
                return report.clone();
            }
            if phase.changed().await.is_err() {
                return DrainReport::default();
            }
        }
    }

    /// The drain's progress.
    #[must_use]
    pub fn phase(&self) -> DrainPhase {
        self.core.phase.borrow().clone()
    }

    /// Connections open now.
    #[must_use]
    pub fn connection_count(&self) -> usize {
        self.core.connection_count()
    }

    /// Panics of application code (a hook, an authentication hook, a
    /// version conversion) caught since the server started. Each ended only
    /// the connection it ran for, closed with 1011.
    #[must_use]
    pub fn handler_panics(&self) -> u64 {
        self.core.panics()
    }

    /// The server's metrics, to register in the application's own
    /// `prometheus_client` registry or to encode (docs/RUNTIME.md,
    /// Metrics); `None` unless [`ServerConfig::metrics`] or
    /// [`ServerConfig::metrics_path`] turned them on.
    #[cfg(feature = "metrics")]
    #[must_use]
    pub fn metrics(&self) -> Option<Metrics> {
        Metrics::of(&self.core)
    }

    /// Members of `room` now.
    #[must_use]
    pub fn room_len(&self, room: &str) -> usize {
        self.core.rooms.len(room)
    }

    /// Whether this node's subscription to `room` is in effect: messages
    /// published from now on, on any node, reach its members here. With the
    /// in-process backend, as soon as the room has a member; with Redis,
    /// once Redis has answered the subscription (a room message published
    /// earlier reaches members that resumed from a position, by replay, but
    /// not those that joined fresh).
    #[must_use]
    pub fn is_subscribed(&self, room: &str) -> bool {
        self.core.rooms.is_subscribed(room)
    }

    /// Sends `message` to every connection in `room`, on every node sharing
    /// the backend; see [`Connection::broadcast`] for what the count means.
    pub fn broadcast(&self, room: &str, message: &P::Server) -> usize {
        self.core.rooms.broadcast::<P>(room, message, None)
    }

    /// As [`ServerHandle::broadcast`], and waits for the backend: the
    /// message's position in the room (see [`Connection::publish`]).
    ///
    /// # Errors
    ///
    /// [`PublishError::Invalid`] for a value that breaks a constraint,
    /// [`PublishError::Backend`] when the backend failed.
    pub fn publish(
        &self,
        room: &str,
        message: &P::Server,
    ) -> impl std::future::Future<Output = Result<backend::Position, PublishError>>
    + Send
    + 'static
    + use<P> {
        self.core.rooms.publish::<P>(room, message, None)
    }

    /// The broadcast backend's connection state as it changes: always
    /// `Connected` for the in-process backend; `Reconnecting` while a Redis
    /// backend has lost Redis (broadcasts are not published meanwhile).
    #[must_use]
    pub fn backend_state(&self) -> tokio::sync::watch::Receiver<backend::BackendState> {
        self.core.rooms.backend().state()
    }

    /// The server's broadcast backend.
    #[must_use]
    pub fn backend(&self) -> Arc<dyn backend::Backend> {
        self.core.rooms.backend().clone()
    }
}

/// Resolves on the first SIGTERM or SIGINT. The handlers are registered
/// when this is called (not when first polled), so a signal that arrives
/// once `serve` has started is never left to the default action.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                (term, int) => {
                    tracing::warn!(
                        sigterm = term.is_ok(),
                        sigint = int.is_ok(),
                        "cannot listen for shutdown signals; only ServerHandle::drain starts a drain"
                    );
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
