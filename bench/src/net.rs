//! Sockets and frames the benchmark processes share: a listener with a deep
//! backlog, client connections spread over 127.0.0.x, and the `relay`
//! protocol's hello as a plain tokio-tungstenite client sends it.

use std::error::Error;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use futures_util::SinkExt;
use tagwire::Protocol;
use tagwire::control::{Control, Hello};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub type Ws = WebSocketStream<TcpStream>;
pub type BoxError = Box<dyn Error + Send + Sync>;

/// 127.0.0.1 on a free port, with a backlog that absorbs the clients' bursts.
pub fn listen() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    socket.listen(4096)
}

/// The source address of client `i` of a process spreading its clients
/// over 127.0.0.1 … 127.0.0.k, so that no source address runs out of
/// ephemeral ports (28k each by default).
pub fn source_addr(i: usize, k: usize) -> SocketAddrV4 {
    let host = u8::try_from(1 + i % k.clamp(1, 254)).unwrap_or(1);
    SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, host), 0)
}

/// A TCP connection from `source` to `server`, Nagle off.
pub async fn tcp_from(source: SocketAddrV4, server: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(source.into())?;
    let stream = socket.connect(server).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The client side's WebSocket settings: small buffers, since the clients'
/// memory is not what is measured and 15k connections at tungstenite's
/// default 128 KiB would be 2 GB of address space. `max_frame` bounds
/// messages both ways.
pub fn client_ws_config(read_buffer: usize, max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(read_buffer)
        .write_buffer_size(0)
        .max_write_buffer_size(max_frame.saturating_mul(2).max(64 * 1024))
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// Opens a WebSocket from `source` to `ws://{server}{path}` and, unless
/// `hello` is `None`, sends it as the first frame.
pub async fn connect(
    source: SocketAddrV4,
    server: SocketAddr,
    path: &str,
    config: WebSocketConfig,
    hello: Option<Utf8Bytes>,
) -> Result<Ws, BoxError> {
    let stream = tcp_from(source, server).await?;
    let url = format!("ws://{server}{path}");
    let (mut ws, _response) =
        tokio_tungstenite::client_async_with_config(url, stream, Some(config)).await?;
    if let Some(hello) = hello {
        ws.send(Message::Text(hello)).await?;
    }
    Ok(ws)
}

/// The frame a Tagwire client sends first: hello for the `relay` package.
pub fn hello_frame() -> String {
    use tagwire::Package as _;
    type Relay = tagwire_tests::relay::Package;
    let headers: String = Relay::headers().iter().map(|h| h.as_str()).collect();
    Control::Hello(Hello {
        package: Relay::NAME.into(),
        fingerprint: Relay::FINGERPRINT.into(),
        headers,
    })
    .to_text()
}

/// Whether a text or binary frame is the Tagwire ping (`_a`).
pub fn is_ping(message: &Message) -> bool {
    match message {
        Message::Text(text) => text.as_str() == "_a",
        Message::Binary(bytes) => &bytes[..] == b"_a",
        _ => false,
    }
}

/// The pong answering `ping`, in its encoding.
pub fn pong_for(ping: &Message) -> Message {
    match ping {
        Message::Binary(_) => Message::binary(b"_b".as_slice()),
        _ => Message::text("_b"),
    }
}
