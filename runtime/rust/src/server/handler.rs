//! The application's side of a server: what it does with each connection.

use std::future::Future;

use super::{CloseReport, Connection};
use crate::Package;

/// The application's typed message handler.
///
/// Each connection's messages are handled one at a time, in order; a
/// handler that awaits slow work delays only its own connection. Implement
/// the methods with `async fn`.
///
/// ```ignore
/// struct Chat;
/// impl Handler<chat::Package> for Chat {
///     async fn on_message(&self, conn: &Connection<chat::Package>, message: chat::ClientMessage) {
///         match message {
///             chat::ClientMessage::SayV1(say) => { conn.join(&say.room); /* … */ }
///             _ => {}
///         }
///     }
/// }
/// ```
pub trait Handler<P: Package>: Send + Sync + 'static {
    /// A client connected (its hello may not have arrived yet).
    fn on_open(&self, conn: &Connection<P>) -> impl Future<Output = ()> + Send {
        let _ = conn;
        async {}
    }

    /// A client sent `message`.
    fn on_message(
        &self,
        conn: &Connection<P>,
        message: P::Client,
    ) -> impl Future<Output = ()> + Send;

    /// The connection ended; `report` says how, and how many accepted
    /// frames could not be delivered.
    fn on_close(
        &self,
        conn: &Connection<P>,
        report: &CloseReport,
    ) -> impl Future<Output = ()> + Send {
        let _ = (conn, report);
        async {}
    }
}

/// A shared handler serves too, so the application can keep an `Arc` to
/// its own state.
impl<P: Package, H: Handler<P>> Handler<P> for std::sync::Arc<H> {
    fn on_open(&self, conn: &Connection<P>) -> impl Future<Output = ()> + Send {
        (**self).on_open(conn)
    }

    fn on_message(
        &self,
        conn: &Connection<P>,
        message: P::Client,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_message(conn, message)
    }

    fn on_close(
        &self,
        conn: &Connection<P>,
        report: &CloseReport,
    ) -> impl Future<Output = ()> + Send {
        (**self).on_close(conn, report)
    }
}
