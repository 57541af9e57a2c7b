//! How the client opens a byte stream: a URL (TCP via tokio-tungstenite),
//! or any [`Connector`] (in-memory pipes in tests, custom transports).

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{DEFAULT_WS_PATH, Encoding};

/// Opens the byte stream of one connection attempt; the client then
/// performs the WebSocket handshake on it (asking for the subprotocol of
/// its encoding). Used with [`Client::connect_with`](super::Client::connect_with).
///
/// Closures `FnMut() -> impl Future<Output = io::Result<S>>` are
/// connectors, with the handshake URL `ws://localhost/ws`: the server's
/// default route ([`DEFAULT_WS_PATH`]). A server on another path needs a
/// connector type whose [`Connector::url`] names it.
pub trait Connector: Send + 'static {
    /// The byte stream (a TCP stream, a TLS stream, `tokio::io::DuplexStream`).
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Opens a new stream; called once per connection attempt.
    fn connect(&mut self) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// The URL of the handshake request (its host and path); by default
    /// the server's default route on `localhost`.
    fn url(&self) -> String {
        format!("ws://localhost{DEFAULT_WS_PATH}")
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
    /// The server (or a proxy) answered the upgrade with 503: full, or
    /// draining. Back off as after a deploy, around its `Retry-After`.
    Unavailable {
        /// The status and what the body says, for the application.
        reason: String,
        /// The `Retry-After` in seconds, when there is one.
        retry_after: Option<Duration>,
    },
}

/// One connection attempt up to an open WebSocket.
pub(crate) trait Dial: Send + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    fn dial(
        &mut self,
        request: Request,
        config: WebSocketConfig,
    ) -> impl Future<Output = Result<WebSocketStream<Self::Stream>, WsError>> + Send;

    /// Where attempts go, in turn: each one after the first tries the next.
    fn urls(&self) -> Vec<String>;
}

/// TCP through `tokio_tungstenite::connect_async_with_config`, to one of
/// the URLs.
#[derive(Debug)]
pub(crate) struct UrlDial(pub(crate) Vec<String>);

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

    fn urls(&self) -> Vec<String> {
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

    fn urls(&self) -> Vec<String> {
        vec![self.0.url()]
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
            let mut reason = format!("handshake refused with HTTP {}", response.status());
            if let Some(said) = response.body().as_deref().and_then(first_line) {
                reason.push_str(": ");
                reason.push_str(&said);
            }
            if response.status() == 404 {
                // A path the server does not serve stays unserved: retrying
                // would back off forever without a word.
                reason.push_str(" (the server's default WebSocket route is ");
                reason.push_str(DEFAULT_WS_PATH);
                reason.push(')');
                DialError::Fatal(reason)
            } else if response.status() == 503 {
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after);
                DialError::Unavailable {
                    reason,
                    retry_after,
                }
            } else {
                DialError::Retry(reason)
            }
        }
        other => DialError::Retry(other.to_string()),
    }
}

/// Longest piece of a refusal's body put in a reason: enough for a
/// sentence naming the limit, not a page a proxy might send.
const MAX_SAID: usize = 160;

/// The first line of a refusal's body, printable and bounded; `None` when
/// there is nothing to show (the body may also be cut short: only what
/// arrived with the head is there).
fn first_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next()?.trim();
    let said: String = line
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_SAID)
        .collect();
    (!said.is_empty()).then_some(said)
}

/// `Retry-After` in delta-seconds; an HTTP date (which needs a clock the
/// server and client agree on) or anything else is not read.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // Past u64 seconds is "a very long time", which the client caps anyway.
    Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::Response;

    fn refused(status: u16, headers: &[(&str, &str)], body: Option<&[u8]>) -> DialError {
        let mut builder = Response::builder().status(status);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let response = builder
            .body(body.map(<[u8]>::to_vec))
            .expect("a valid response");
        classify(WsError::Http(Box::new(response)))
    }

    #[test]
    fn a_503_is_unavailable_with_its_retry_after_and_what_the_body_says() {
        match refused(
            503,
            &[("retry-after", "10")],
            Some(b"server is at its connection limit (limits.max_connections); retry later\n"),
        ) {
            DialError::Unavailable {
                reason,
                retry_after,
            } => {
                assert_eq!(
                    reason,
                    "handshake refused with HTTP 503 Service Unavailable: server is at its connection limit (limits.max_connections); retry later"
                );
                assert_eq!(retry_after, Some(Duration::from_secs(10)));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn odd_retry_afters_and_bodies_are_read_safely() {
        for (value, expected) in [
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("-5", None),
            ("1.5", None),
            ("", None),
            (" 7 ", Some(Duration::from_secs(7))),
            (
                "99999999999999999999999",
                Some(Duration::from_secs(u64::MAX)),
            ),
        ] {
            match refused(503, &[("retry-after", value)], None) {
                DialError::Unavailable {
                    retry_after,
                    reason,
                } => {
                    assert_eq!(retry_after, expected, "{value:?}");
                    assert_eq!(
                        reason,
                        "handshake refused with HTTP 503 Service Unavailable"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        let long = "x".repeat(10_000);
        match refused(
            503,
            &[],
            Some(format!("\u{1b}[31m{long}\nsecond line").as_bytes()),
        ) {
            DialError::Unavailable {
                reason,
                retry_after,
            } => {
                assert_eq!(retry_after, None);
                assert!(
                    reason.ends_with(&format!(": [31m{}", "x".repeat(MAX_SAID - 4))),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        // A path the server does not serve is given up on, saying why.
        assert!(
            matches!(refused(404, &[], None), DialError::Fatal(r) if r == "handshake refused with HTTP 404 Not Found (the server's default WebSocket route is /ws)")
        );
        // Other refusals are retried as before.
        assert!(
            matches!(refused(403, &[], Some(b"no")), DialError::Retry(r) if r == "handshake refused with HTTP 403 Forbidden: no")
        );
    }
}
