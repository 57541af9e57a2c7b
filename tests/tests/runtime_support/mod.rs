//! What the server tests share: a relay application and raw WebSocket
//! peers (tokio-tungstenite, no Tagwire client) that do exactly what a
//! test tells them, over in-memory pipes or loopback sockets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tagwire::Protocol;
use tagwire::control::{Control, RoomEnvelope, RoomPosition};
use tagwire::server::{CloseReport, Connection, Handler, Server, ServerConfig};
use tagwire_tests::relay::{self, ClientMessage, EchoV1, ServerMessage};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub type Conn = Connection<relay::Package>;

/// Joins rooms, relays publishes to them, echoes echoes; remembers closes.
#[derive(Default)]
pub struct Relay {
    pub closes: Mutex<Vec<CloseReport>>,
}

impl Handler<relay::Package> for Relay {
    async fn on_message(&self, conn: &Conn, message: ClientMessage) {
        match message {
            ClientMessage::EchoV1(echo) if echo.body == "hang" => {
                // A handler stuck on slow work: what the drain deadline is for.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            ClientMessage::EchoV1(echo) if echo.body == "panic" => {
                // The everyday bug, as an unwrap on a missing row would panic.
                panic!("{PANIC_TEXT}");
            }
            other => tagwire_tests::relay_app::relay(conn, other),
        }
    }

    async fn on_close(&self, _conn: &Conn, report: &CloseReport) {
        if let Ok(mut closes) = self.closes.lock() {
            closes.push(report.clone());
        }
    }
}

/// What the relay's handler panics with on an echo of `panic`: it stands
/// for a secret (a query with a password in it) that must reach the
/// server's log only, never the client.
pub const PANIC_TEXT: &str = "secret-db-password-in-panic-text";

/// Keeps the expected panics (those carrying [`PANIC_TEXT`]) off stderr,
/// where thousands of them would bury a real failure; any other panic is
/// reported as usual.
pub fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !text.contains(PANIC_TEXT) {
                default(info);
            }
        }));
    });
}

pub type RelayServer = Server<relay::Package, Arc<Relay>>;

pub fn server(config: ServerConfig) -> (RelayServer, Arc<Relay>) {
    let app = Arc::new(Relay::default());
    (Server::new(app.clone(), config), app)
}

/// A raw client over an in-memory pipe served by `server.serve_io`.
pub async fn pipe_peer(
    server: &RelayServer,
    subprotocol: Option<&str>,
) -> WebSocketStream<DuplexStream> {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let s = server.clone();
    tokio::spawn(async move {
        let _ = s.serve_io(server_end, None).await;
    });
    handshake(client_end, "ws://pipe/ws", subprotocol)
        .await
        .expect("handshake over a pipe")
}

pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    url: &str,
    subprotocol: Option<&str>,
) -> Result<WebSocketStream<S>, tokio_tungstenite::tungstenite::Error> {
    match subprotocol {
        Some(p) => handshake_with(io, url, &[("sec-websocket-protocol", p)]).await,
        None => handshake_with(io, url, &[]).await,
    }
}

/// A WebSocket handshake over `io` with extra request headers; a name
/// given twice is sent twice (as a proxy appends `X-Forwarded-For`).
pub async fn handshake_with<S: AsyncRead + AsyncWrite + Unpin>(
    io: S,
    url: &str,
    headers: &[(&'static str, &str)],
) -> Result<WebSocketStream<S>, tokio_tungstenite::tungstenite::Error> {
    let mut request = url.into_client_request()?;
    for (name, value) in headers {
        request
            .headers_mut()
            .append(*name, HeaderValue::from_str(value).expect("ascii"));
    }
    let (ws, _) = tokio_tungstenite::client_async(request, io).await?;
    Ok(ws)
}

/// A WebSocket handshake on `path` over a loopback socket, with extra
/// request headers.
pub async fn ws(
    addr: SocketAddr,
    path: &str,
    headers: &[(&'static str, &str)],
) -> Result<WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    handshake_with(tcp, &format!("ws://{addr}{path}"), headers).await
}

/// The HTTP status a refused upgrade got; panics on any other outcome.
pub fn refused_status<T>(result: Result<T, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the upgrade succeeded"),
    }
}

/// Serves the server's router on loopback with axum's own loop, which goes
/// on answering after a drain, so what a drain leaves can still be read.
pub async fn serve_router(server: &RelayServer) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = server
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// One plain HTTP/1.1 request with extra header lines (a `POST` carries a
/// two-byte body); the status and the whole response.
pub async fn http(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    if method == "POST" {
        request.push_str("Content-Length: 2\r\n\r\n_b");
    } else {
        request.push_str("\r\n");
    }
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut response)).await;
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    (status, response)
}

/// What a raw peer reads, decoded.
#[derive(Debug, PartialEq)]
pub enum Got {
    Control(Control),
    Message(ServerMessage),
    Close(Option<u16>, String),
    End,
}

/// A room message's envelope (`_h`, SPEC §9.7) and the message in it.
pub fn decode_room(message: &Message) -> Option<(String, RoomPosition, ServerMessage)> {
    let limits = tagwire::Limits::default();
    match message {
        Message::Text(t) => {
            let (room, position, inner) = RoomEnvelope::split_text(t, &limits).ok()?;
            Some((room, position, ServerMessage::decode_text(inner).ok()?))
        }
        Message::Binary(b) => {
            let (room, position, inner) = RoomEnvelope::split_binary(b, &limits).ok()?;
            Some((room, position, ServerMessage::decode_binary(inner).ok()?))
        }
        _ => None,
    }
}

/// Decodes a frame; a room message (`_h`) is read as the message it
/// carries (see [`decode_room`] for its room and position).
pub fn decode(message: &Message) -> Option<Got> {
    if let Some((_, _, inner)) = decode_room(message) {
        return Some(Got::Message(inner));
    }
    match message {
        Message::Text(t) if t.starts_with('_') => Control::decode_text(t).ok().map(Got::Control),
        Message::Text(t) => ServerMessage::decode_text(t).ok().map(Got::Message),
        Message::Binary(b) if b.first() == Some(&b'_') => {
            Control::decode_binary(b).ok().map(Got::Control)
        }
        Message::Binary(b) => ServerMessage::decode_binary(b).ok().map(Got::Message),
        Message::Close(f) => Some(match f {
            Some(f) => Got::Close(Some(u16::from(f.code)), f.reason.to_string()),
            None => Got::Close(None, String::new()),
        }),
        _ => None,
    }
}

/// The next frame a peer reads, pings included.
pub async fn next<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Got {
    loop {
        match ws.next().await {
            None | Some(Err(_)) => return Got::End,
            Some(Ok(m)) => {
                if let Some(got) = decode(&m) {
                    return got;
                }
            }
        }
    }
}

/// The next frame that is not a ping or the welcome.
pub async fn next_data<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Got {
    loop {
        match next(ws).await {
            Got::Control(Control::Ping | Control::Welcome(_)) => {}
            other => return other,
        }
    }
}

pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    message: &ClientMessage,
) {
    ws.send(Message::text(message.to_text()))
        .await
        .expect("send");
}

pub async fn send_control<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    control: &Control,
) {
    ws.send(Message::text(control.to_text()))
        .await
        .expect("send");
}

pub fn echo(seq: u64) -> ClientMessage {
    ClientMessage::EchoV1(EchoV1 {
        seq,
        body: format!("echo {seq}"),
    })
}

pub fn short(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// Everything a well-behaved raw peer saw, with when (since `start`).
pub type Log = Vec<(Duration, Got)>;

/// Reads until the connection ends, answering pings; returns what it saw.
pub fn spawn_reader<S>(
    mut ws: WebSocketStream<S>,
    start: tokio::time::Instant,
) -> tokio::task::JoinHandle<Log>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut log = Vec::new();
        loop {
            let got = next(&mut ws).await;
            if got == Got::Control(Control::Ping) {
                let _ = ws.send(Message::text(Control::Pong.to_text())).await;
            }
            let end = matches!(got, Got::Close(..) | Got::End);
            log.push((start.elapsed(), got));
            if end {
                // Let tungstenite send the close reply.
                let _ = ws.close(None).await;
                return log;
            }
        }
    })
}

/// The status of `GET /health`, as a load balancer's check sees it (`None`
/// when the node does not answer).
pub async fn health(addr: std::net::SocketAddr) -> Option<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.ok()?;
    response.split(' ').nth(1)?.parse().ok()
}
