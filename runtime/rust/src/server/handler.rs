//! The application's side of a server: what it does with each connection.

use std::future::Future;

use super::connection::Connection;
use super::guard::Denied;
use crate::{CloseCode, Package};

/// How a connection ended, for [`Handler::on_close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReport {
    /// The close code (none when the connection dropped without one).
    pub code: Option<CloseCode>,
    /// The close reason.
    pub reason: String,
    /// Whether the server closed it (drain, heartbeat, slow consumer…).
    pub by_server: bool,
    /// Frames the application sent that the client never received (a slow
    /// consumer's queue, or frames queued when the peer vanished).
    pub undelivered: usize,
    /// Frames the client sent that were read but never handled: they
    /// waited behind a busy handler when the server closed the connection.
    pub unhandled: usize,
    /// Application code panicked while serving this connection (the close
    /// is then 1011; the panic was logged, not sent to the client).
    pub panicked: bool,
}

/// The application's typed message handler.
///
/// Each connection's messages are handled one at a time, in order; a
/// handler that awaits slow work delays only its own connection. Implement
/// the methods with `async fn`.
///
/// `C` is the per-connection context an [`super::Authenticate`] hook gives
/// each connection (`conn.context()`); `()` when the server authenticates
/// nobody ([`super::Server::new`]), so handlers without authentication
/// write `impl Handler<chat::Package> for Chat`.
///
/// ```
/// use tagwire::server::{Connection, Handler};
/// # // What a schema's generated module gives (`tagwire::include_protocol!`),
/// # // derived here so the example compiles on its own.
/// # mod chat {
/// #     #[derive(tagwire::Protocol, Debug)]
/// #     #[tagwire(direction = "client", package = "chat")]
/// #     pub enum ClientMessage { Say { room: String, text: String } }
/// #     #[derive(tagwire::Protocol, Debug)]
/// #     #[tagwire(direction = "server", package = "chat")]
/// #     pub enum ServerMessage { Said { room: String, text: String } }
/// #     pub struct Package;
/// #     impl tagwire::Package for Package {
/// #         type Client = ClientMessage;
/// #         type Server = ServerMessage;
/// #         const NAME: &'static str = "chat";
/// #         const FINGERPRINT: &'static str = "example";
/// #         fn headers() -> Vec<tagwire::Header> { Vec::new() }
/// #     }
/// # }
///
/// struct Chat;
///
/// impl Handler<chat::Package> for Chat {
///     async fn on_message(&self, conn: &Connection<chat::Package>, message: chat::ClientMessage) {
///         match message {
///             chat::ClientMessage::Say { room, text } => {
///                 conn.join(&room);
///                 conn.broadcast(&room, &chat::ServerMessage::Said { room: room.clone(), text });
///             }
///         }
///     }
/// }
/// ```
pub trait Handler<P: Package, C: Send + Sync + 'static = ()>: Send + Sync + 'static {
    /// A client connected. Runs once per connection, before any other
    /// method for it: when its first frame arrives (after recording it, if
    /// it is the hello, so sends made here reach a client generated from an
    /// older protocol converted), or after
    /// [`super::ConnectionLimits::hello_timeout`] for a client that sends
    /// nothing, or when the connection ends first.
    fn on_open(&self, conn: &Connection<P, C>) -> impl Future<Output = ()> + Send {
        let _ = conn;
        async {}
    }

    /// Whether this client may send `message`, called before
    /// [`Handler::on_message`] for every decoded client message (never for
    /// control messages, or frames already refused). `Err` drops the
    /// message and tells the client with an error (code 6, `forbidden`,
    /// with the reason); the connection stays open. Allows everything by
    /// default.
    fn authorize(
        &self,
        conn: &Connection<P, C>,
        message: &P::Client,
    ) -> impl Future<Output = Result<(), Denied>> + Send {
        let _ = (conn, message);
        async { Ok(()) }
    }

    /// A client sent `message`.
    fn on_message(
        &self,
        conn: &Connection<P, C>,
        message: P::Client,
    ) -> impl Future<Output = ()> + Send;

    /// The connection ended; `report` says how, and how many accepted
    /// frames could not be delivered.
    fn on_close(
        &self,
        conn: &Connection<P, C>,
        report: &CloseReport,
    ) -> impl Future<Output = ()> + Send {
        let _ = (conn, report);
        async {}
    }
}

/// A shared handler serves too, so the application can keep an `Arc` to
/// its own state.
impl<P: Package, C: Send + Sync + 'static, H: Handler<P, C>> Handler<P, C> for std::sync::Arc<H> {
    fn on_open(&self, conn: &Connection<P, C>) -> impl Future<Output = ()> + Send {
        (**self).on_open(conn)
    }

    fn authorize(
        &self,
        conn: &Connection<P, C>,
        message: &P::Client,
    ) -> impl Future<Output = Result<(), Denied>> + Send {
        (**self).authorize(conn, message)
    }

    fn on_message(
        &self,
        conn: &Connection<P, C>,
        message: P::Client,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_message(conn, message)
    }

    fn on_close(
        &self,
        conn: &Connection<P, C>,
        report: &CloseReport,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_close(conn, report)
    }
}
