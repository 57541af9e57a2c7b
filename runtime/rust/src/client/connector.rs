//! How the client opens a byte stream: a URL (TCP via tokio-tungstenite),
//! or any [`Connector`] (in-memory pipes in tests, custom transports).

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::Encoding;

/// Opens the byte stream of one connection attempt; the client then
/// performs the WebSocket handshake on it (asking for the subprotocol of
/// its encoding). Used with [`Client::connect_with`](super::Client::connect_with).
///
/// Closures `FnMut() -> impl Future<Output = io::Result<S>>` are
/// connectors, with the handshake URL `ws://localhost/`.
pub trait Connector: Send + 'static {
    /// The byte stream (a TCP stream, a TLS stream, `tokio::io::DuplexStream`).
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Opens a new stream; called once per connection attempt.
    fn connect(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// The URL of the handshake request (its host and path).
    fn url(&self) -> String {
        "ws://localhost/".to_owned()
    }
}

impl<F, Fut, S> Connector for F
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = io::Result<S>> + Send,
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = S;

    fn connect(&mut self) -> impl Future<Output = io::Result<S>> + Send {
        self()
    }
}

/// Why a connection attempt failed.
#[derive(Debug)]
pub(crate) enum DialError {
    /// Trying again will not help (a malformed URL, `wss://` without TLS).
    Fatal(String),
    /// Network trouble or a refused handshake: back off and retry.
    Retry(String),
}

/// One connection attempt up to an open WebSocket.
pub(crate) trait Dial: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    fn dial(
        &mut self,
        request: Request,
        config: WebSocketConfig,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Stream>, WsError>> + Send;

    fn url(&self) -> String;
}

/// TCP through `tokio_tungstenite::connect_async_with_config`.
#[derive(Debug)]
pub(crate) struct UrlDial(pub(crate) String);

impl Dial for UrlDial {
    type Stream = tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>;

    async fn dial(
        &mut self,
        request: Request,
        config: WebSocketConfig,
    ) -> Result<WebSocketStream<Self::Stream>, WsError> {
        let (ws, _response) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        Ok(ws)
    }

    fn url(&self) -> String {
        self.0.clone()
    }
}

/// A [`Connector`]'s stream, then the client handshake.
#[derive(Debug)]
pub(crate) struct ConnectorDial<C>(pub(crate) C);

impl<C: Connector> Dial for ConnectorDial<C> {
    type Stream = C::Stream;

    async fn dial(
        &mut self,
        request: Request,
        config: WebSocketConfig,
    ) -> Result<WebSocketStream<C::Stream>, WsError> {
        let stream = self.0.connect().await?;
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
        Ok(ws)
    }

    fn url(&self) -> String {
        self.0.url()
    }
}

/// The handshake request: the URL plus the subprotocol naming `encoding`.
pub(crate) fn request(url: &str, encoding: Encoding) -> Result<Request, DialError> {
    let mut request = url
        .into_client_request()
        .map_err(|e| DialError::Fatal(format!("invalid URL {url:?}: {e}")))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(encoding.subprotocol()),
    );
    Ok(request)
}

/// Sorts a handshake error into retry or give up.
pub(crate) fn classify(error: WsError) -> DialError {
    match error {
        // Malformed URLs and unsupported schemes fail the same way forever.
        WsError::Url(e) => DialError::Fatal(e.to_string()),
        WsError::Http(response) => {
            DialError::Retry(format!("handshake refused with HTTP {}", response.status()))
        }
        other => DialError::Retry(other.to_string()),
    }
}
