//! Connection limits (docs/RUNTIME.md, "Connection limits"): per node and
//! per client address, WebSocket and SSE counted together, refused before
//! the upgrade with 503 and `Retry-After`; the client's address behind
//! trusted proxies; `serve_io`; slots given back however a connection
//! ends; and the Rust client backing off from a full server under tokio's
//! paused clock.

use crate::runtime_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime_support::*;
use tagwire::client::{Client, ClientConfig, Event, ReconnectReason, Status};
use tagwire::server::{
    Authenticate, ConnectRequest, ConnectionLimits, Denied, Handler, Server, ServerConfig,
};
use tagwire_tests::relay::{self, ClientMessage, ServerMessage};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;

/// Relays like the other tests' server, and remembers the client address
/// each side of the API was given: the authentication hook's
/// `ConnectRequest::peer`, and `Connection::peer_addr` when a message
/// arrives.
#[derive(Default)]
struct Seen {
    connect: Mutex<Vec<Option<SocketAddr>>>,
    handled: Mutex<Vec<Option<SocketAddr>>>,
}

#[derive(Clone)]
struct App(Arc<Seen>);

impl Handler<relay::Package> for App {
    async fn on_message(&self, conn: &Conn, message: ClientMessage) {
        if let Ok(mut seen) = self.0.handled.lock() {
            seen.push(conn.peer_addr());
        }
        tagwire_tests::relay_app::relay(conn, message);
    }
}

type LimitedServer = Server<relay::Package, App, Recorder>;

/// The authentication hook of these tests: lets everyone in and records
/// the address it was told.
struct Recorder(Arc<Seen>);

impl Authenticate for Recorder {
    type Context = ();

    fn authenticate(
        &self,
        request: &ConnectRequest,
    ) -> impl std::future::Future<Output = Result<(), Denied>> + Send {
        if let Ok(mut connect) = self.0.connect.lock() {
            connect.push(request.peer);
        }
        std::future::ready(Ok(()))
    }
}

fn limited(config: ServerConfig) -> (LimitedServer, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let server = Server::with_auth(App(seen.clone()), Recorder(seen.clone()), config);
    (server, seen)
}

async fn start(config: ServerConfig) -> (LimitedServer, Arc<Seen>, SocketAddr) {
    let (server, seen) = limited(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    (server, seen, addr)
}

fn config(limits: ConnectionLimits) -> ServerConfig {
    ServerConfig::default().with_limits(limits)
}

/// The refusal a handshake got: status, `Retry-After`, `Connection` and
/// the body, as the client library read them.
fn refusal<T>(
    result: Result<T, tokio_tungstenite::tungstenite::Error>,
) -> (u16, String, String, String) {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned()
            };
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            (
                response.status().as_u16(),
                header("retry-after"),
                header("connection"),
                body,
            )
        }
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, the handshake succeeded"),
    }
}

const NODE_FULL: &str = "server is at its connection limit (limits.max_connections); retry later\n";
const ADDRESS_FULL: &str =
    "too many connections from this address (limits.max_connections_per_address); retry later\n";

/// A raw request's whole response (the server closes after a refusal).
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    let read =
        tokio::time::timeout(Duration::from_secs(5), tcp.read_to_string(&mut response)).await;
    assert!(
        read.is_ok(),
        "the refusal did not end the connection: {response:?}"
    );
    response
}

fn upgrade_request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

/// An SSE session's stream (`GET /sse` as HTTP/1.0, left open), or the
/// refusal's whole response.
enum Sse {
    Open(BufReader<TcpStream>),
    Refused(String),
}

async fn sse(addr: SocketAddr, extra: &str) -> Sse {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET /sse HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{extra}\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut lines = BufReader::new(tcp);
    let mut status = String::new();
    lines.read_line(&mut status).await.expect("status line");
    if !status.contains(" 200 ") {
        let mut rest = String::new();
        lines.read_to_string(&mut rest).await.expect("the refusal");
        return Sse::Refused(status + &rest);
    }
    // Headers, then the session event: the session is counted by then.
    let mut blank_lines = 0;
    while blank_lines < 2 {
        let mut line = String::new();
        assert!(
            lines.read_line(&mut line).await.expect("read") > 0,
            "stream ended"
        );
        if line == "\r\n" || line == "\n" {
            blank_lines += 1;
        }
    }
    Sse::Open(lines)
}

fn assert_refused_on_the_wire(response: &str, body: &str) {
    let lower = response.to_ascii_lowercase();
    assert!(
        response.starts_with("HTTP/1.1 503 ") || response.starts_with("HTTP/1.0 503 "),
        "{response}"
    );
    assert!(lower.contains("\r\nretry-after: 10\r\n"), "{response}");
    assert!(lower.contains("\r\nconnection: close\r\n"), "{response}");
    assert!(response.ends_with(body), "{response}");
}

/// Retries a WebSocket handshake until one succeeds: a slot is given back
/// when the connection's task has seen the close, a moment after the peer.
async fn ws_once_free(
    addr: SocketAddr,
    headers: &[(&'static str, &str)],
) -> WebSocketStream<TcpStream> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match ws(addr, "/ws", headers).await {
            Ok(ws) => return ws,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(short(20)).await;
            }
            Err(e) => panic!("no slot was given back: {e}"),
        }
    }
}

/// Sends an echo and waits for it: the connection is served.
async fn echoes<S>(peer: &mut WebSocketStream<S>, seq: u64)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    send(peer, &echo(seq)).await;
    match tokio::time::timeout(Duration::from_secs(5), next_data(peer)).await {
        Ok(Got::Message(ServerMessage::EchoV1(e))) => assert_eq!(e.seq, seq),
        other => panic!("expected the echo {seq}, got {other:?}"),
    }
}

#[tokio::test]
async fn websockets_and_sse_sessions_share_the_node_limit_and_a_closed_one_frees_its_slot() {
    let mut c = config(ConnectionLimits::default().with_max_connections(2));
    // Short pings, so an SSE session notices at once that its stream is gone.
    c.heartbeat.ping_interval = short(100);
    c.heartbeat.pong_timeout = Duration::from_secs(30);
    let (_server, _, addr) = start(c).await;
    let mut first = ws(addr, "/ws", &[]).await.expect("room for a WebSocket");
    echoes(&mut first, 1).await;
    let Sse::Open(stream) = sse(addr, "").await else {
        panic!("room for an SSE session");
    };
    // Full: a third of either kind is refused before any upgrade or stream.
    let (status, retry_after, connection, body) = refusal(ws(addr, "/ws", &[]).await);
    assert_eq!(
        (status, retry_after.as_str(), connection.as_str()),
        (503, "10", "close")
    );
    assert_eq!(body, NODE_FULL);
    assert_refused_on_the_wire(&raw(addr, &upgrade_request(addr, "")).await, NODE_FULL);
    match sse(addr, "").await {
        Sse::Refused(response) => assert_refused_on_the_wire(&response, NODE_FULL),
        Sse::Open(_) => panic!("an SSE session past the limit"),
    }

    // A closed WebSocket gives its slot back.
    first.close(None).await.expect("close");
    drop(first);
    let mut second = ws_once_free(addr, &[]).await;
    echoes(&mut second, 2).await;
    assert!(matches!(refusal(ws(addr, "/ws", &[]).await), (503, ..)));

    // So does an SSE session whose client went away.
    drop(stream);
    let mut third = ws_once_free(addr, &[]).await;
    echoes(&mut third, 3).await;
    // Refusals held nothing: still exactly two.
    assert!(matches!(refusal(ws(addr, "/ws", &[]).await), (503, ..)));
    drop((second, third));
}

#[tokio::test]
async fn one_address_gets_its_share_and_no_more() {
    let limits = ConnectionLimits::default()
        .with_max_connections(100)
        .with_max_connections_per_address(Some(2));
    let (_, seen, addr) = start(config(limits)).await;
    let mut a = ws(addr, "/ws", &[]).await.expect("first from 127.0.0.1");
    let _b = ws(addr, "/ws", &[]).await.expect("second from 127.0.0.1");
    let (status, retry_after, connection, body) = refusal(ws(addr, "/ws", &[]).await);
    assert_eq!(
        (status, retry_after.as_str(), connection.as_str()),
        (503, "10", "close")
    );
    assert_eq!(body, ADDRESS_FULL);
    match sse(addr, "").await {
        Sse::Refused(response) => assert_refused_on_the_wire(&response, ADDRESS_FULL),
        Sse::Open(_) => panic!("an SSE session past the address's share"),
    }
    // Without trusted proxies, a client's X-Forwarded-For changes nothing.
    assert!(matches!(
        refusal(ws(addr, "/ws", &[("x-forwarded-for", "198.51.100.1")]).await),
        (503, ..)
    ));
    echoes(&mut a, 1).await;
    let peers = seen.connect.lock().expect("lock").clone();
    assert_eq!(
        peers.len(),
        2,
        "refused requests never reached the hook: {peers:?}"
    );
    assert!(
        peers
            .iter()
            .all(|p| p.is_some_and(|p| p.ip().is_loopback())),
        "{peers:?}"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_is_counted_and_seen() {
    let limits = ConnectionLimits::default().with_max_connections_per_address(Some(1));
    let c = config(limits).with_trusted_proxies(["127.0.0.1".parse().expect("an address")]);
    let (_, seen, addr) = start(c).await;
    let client_one: SocketAddr = "198.51.100.1:0".parse().expect("addr");
    let client_two: SocketAddr = "198.51.100.2:0".parse().expect("addr");

    let mut one = ws(addr, "/ws", &[("x-forwarded-for", "198.51.100.1")])
        .await
        .expect("client one");
    echoes(&mut one, 1).await;
    // The same client again: its share is taken.
    let (status, _, _, body) =
        refusal(ws(addr, "/ws", &[("x-forwarded-for", "198.51.100.1")]).await);
    assert_eq!((status, body.as_str()), (503, ADDRESS_FULL));
    // A spoofed entry left of what the proxy appended is not believed.
    let spoofed = ws(
        addr,
        "/ws",
        &[("x-forwarded-for", "203.0.113.77, 198.51.100.1")],
    )
    .await;
    assert_eq!(refusal(spoofed).0, 503);
    // Another client behind the same proxy has its own share, also over
    // a second header line and past another trusted hop.
    let mut two = ws(
        addr,
        "/ws",
        &[
            ("x-forwarded-for", "198.51.100.2"),
            ("x-forwarded-for", "127.0.0.1"),
        ],
    )
    .await
    .expect("client two");
    echoes(&mut two, 2).await;
    let Sse::Open(_three) = sse(addr, "X-Forwarded-For: 198.51.100.3\r\n").await else {
        panic!("client three over SSE");
    };
    // The proxy's own request (no header) is counted as the proxy.
    let mut own = ws(addr, "/ws", &[]).await.expect("the proxy itself");
    echoes(&mut own, 3).await;

    let connect = seen.connect.lock().expect("lock").clone();
    assert_eq!(connect.len(), 4, "{connect:?}");
    assert_eq!(
        connect[..3],
        [
            Some(client_one),
            Some(client_two),
            Some("198.51.100.3:0".parse().expect("addr"))
        ]
    );
    assert!(
        connect[3].is_some_and(|p| p.ip().is_loopback()),
        "{connect:?}"
    );
    let handled = seen.handled.lock().expect("lock").clone();
    assert_eq!(handled[..2], [Some(client_one), Some(client_two)]);
    assert!(
        handled[2].is_some_and(|p| p.ip().is_loopback()),
        "{handled:?}"
    );
}

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_the_address_it_is_counted_as() {
    let limits = ConnectionLimits::default().with_max_connections_per_address(Some(1));
    // The proxies are elsewhere: this loopback client is not one of them.
    let c = config(limits).with_trusted_proxies(["10.0.0.0/8".parse().expect("a range")]);
    let (_, seen, addr) = start(c).await;
    let mut first = ws(addr, "/ws", &[("x-forwarded-for", "198.51.100.1")])
        .await
        .expect("first");
    echoes(&mut first, 1).await;
    let (status, _, _, body) =
        refusal(ws(addr, "/ws", &[("x-forwarded-for", "198.51.100.2")]).await);
    assert_eq!((status, body.as_str()), (503, ADDRESS_FULL));
    let connect = seen.connect.lock().expect("lock").clone();
    assert_eq!(connect.len(), 1);
    assert!(
        connect[0].is_some_and(|p| p.ip().is_loopback()),
        "{connect:?}"
    );
    assert_eq!(seen.handled.lock().expect("lock").clone(), connect);
}

/// One connection over an in-memory pipe served by `serve_io` as from
/// `peer`, and the task serving it (whose result is `serve_io`'s).
fn pipe(
    server: &LimitedServer,
    peer: Option<SocketAddr>,
) -> (
    DuplexStream,
    tokio::task::JoinHandle<Result<(), tokio_tungstenite::tungstenite::Error>>,
) {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let s = server.clone();
    let done = tokio::spawn(async move { s.serve_io(server_end, peer).await });
    (client_end, done)
}

#[tokio::test]
async fn serve_io_refuses_past_the_limits_with_503_and_retry_after() {
    let limits = ConnectionLimits::default()
        .with_max_connections(2)
        .with_max_connections_per_address(Some(1));
    let c = config(limits).with_trusted_proxies(["10.0.0.0/8".parse().expect("a range")]);
    let (server, seen) = limited(c);
    let proxy: SocketAddr = "10.0.0.1:40000".parse().expect("addr");
    let direct: SocketAddr = "203.0.113.5:50000".parse().expect("addr");

    let (io, _) = pipe(&server, Some(direct));
    let mut a = handshake_with(io, "ws://pipe/ws", &[("x-forwarded-for", "198.51.100.1")])
        .await
        .expect("a");
    echoes(&mut a, 1).await;
    // The same direct peer again: its share is taken (its header ignored).
    let (io, done) = pipe(&server, Some(direct));
    let (status, retry_after, connection, body) =
        refusal(handshake_with(io, "ws://pipe/ws", &[]).await);
    assert_eq!(
        (status, retry_after.as_str(), connection.as_str()),
        (503, "10", "close")
    );
    assert_eq!(body, ADDRESS_FULL);
    assert!(matches!(
        done.await,
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(_)))
    ));
    // Through the trusted proxy, the forwarded client counts.
    let (io, _) = pipe(&server, Some(proxy));
    let mut b = handshake_with(io, "ws://pipe/ws", &[("x-forwarded-for", "198.51.100.2")])
        .await
        .expect("b");
    echoes(&mut b, 2).await;
    // The node is full now, whoever asks.
    let (io, _) = pipe(&server, None);
    let (status, _, _, body) = refusal(handshake_with(io, "ws://pipe/ws", &[]).await);
    assert_eq!((status, body.as_str()), (503, NODE_FULL));
    assert_eq!(
        seen.handled.lock().expect("lock").clone(),
        [Some(direct), Some("198.51.100.2:0".parse().expect("addr"))]
    );
    // A closed connection frees its slot.
    a.close(None).await.expect("close");
    drop(a);
    let mut c = loop {
        let (io, _) = pipe(&server, None);
        match handshake_with(io, "ws://pipe/ws", &[]).await {
            Ok(ws) => break ws,
            Err(_) => tokio::time::sleep(short(10)).await,
        }
    };
    echoes(&mut c, 3).await;
}

#[tokio::test]
async fn a_connection_whose_task_is_aborted_or_panics_gives_its_slot_back() {
    let (server, _) = limited(config(ConnectionLimits::default().with_max_connections(1)));
    // A refused handshake takes no slot, so probing leaves the count as is.
    let refused = |server: &LimitedServer| {
        let (io, _) = pipe(server, None);
        async move { refusal(handshake_with(io, "ws://pipe/ws", &[]).await).0 == 503 }
    };

    // Aborted: the task running `serve_io` is cancelled mid-connection.
    let (io, task) = pipe(&server, None);
    let mut first = handshake_with(io, "ws://pipe/ws", &[]).await.expect("room");
    echoes(&mut first, 1).await;
    assert!(refused(&server).await);
    task.abort();
    assert!(task.await.expect_err("aborted").is_cancelled());

    // Panicked: the task holding the next connection unwinds. That it
    // connects at all shows the aborted one's slot came back.
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let (panic_now, panic_signal) = tokio::sync::oneshot::channel::<()>();
    let s = server.clone();
    let task = tokio::spawn(async move {
        tokio::select! {
            _ = s.serve_io(server_end, None) => {}
            _ = panic_signal => panic!("the connection's task panicked (on purpose)"),
        }
    });
    let mut second = handshake_with(client_end, "ws://pipe/ws", &[])
        .await
        .expect("the aborted slot is free");
    echoes(&mut second, 2).await;
    assert!(refused(&server).await);
    let _ = panic_now.send(());
    assert!(task.await.expect_err("it panicked").is_panic());

    // And the panicked one's.
    let (io, _) = pipe(&server, None);
    let mut third = handshake_with(io, "ws://pipe/ws", &[])
        .await
        .expect("the panicked slot is free");
    echoes(&mut third, 3).await;
}

/// The Rust client against a node with no room, under the paused clock:
/// each refusal is a wait drawn at random below max(2 × Retry-After, the
/// deploy's doubled backoff), never in step with another client's, and the
/// client connects once a slot is free.
#[tokio::test(start_paused = true)]
async fn the_client_backs_off_with_jitter_from_a_full_server_and_connects_once_there_is_room() {
    let mut c = config(ConnectionLimits::default().with_max_connections(1));
    // Nothing times out on its own while the test waits in virtual time.
    c.heartbeat.ping_interval = Duration::from_secs(3_600);
    c.heartbeat.pong_timeout = Duration::from_secs(7_200);
    c.heartbeat.proxy_idle_timeout = None;
    let (server, _) = limited(c);
    let (io, _) = pipe(&server, None);
    let holder = handshake_with(io, "ws://pipe/ws", &[])
        .await
        .expect("the one slot");

    async fn run(
        server: &LimitedServer,
        seed: u64,
        refusals: usize,
    ) -> (
        Client<relay::Package>,
        tagwire::client::Events<relay::Package>,
        Vec<Duration>,
        Vec<Instant>,
    ) {
        let (attempt_tx, mut attempts) = mpsc::unbounded_channel();
        let s = server.clone();
        let connector = move || {
            let _ = attempt_tx.send(Instant::now());
            let (client_end, server_end) = tokio::io::duplex(64 * 1024);
            let s = s.clone();
            tokio::spawn(async move { s.serve_io(server_end, None).await });
            async move { Ok::<_, std::io::Error>(client_end) }
        };
        let (client, mut events) = Client::<relay::Package>::connect_with(
            connector,
            ClientConfig::default().with_seed(seed),
        );
        let mut delays = Vec::new();
        while delays.len() < refusals {
            match events.next().await.expect("events") {
                Event::Status(Status::Reconnecting { reason, delay }) => {
                    let ReconnectReason::Network(why) = &reason else {
                        panic!("{reason:?}");
                    };
                    assert!(
                        why.starts_with("handshake refused with HTTP 503")
                            && why.contains("limits.max_connections"),
                        "{why}"
                    );
                    delays.push(delay);
                }
                Event::Status(Status::Open) => panic!("opened on a full server"),
                _ => {}
            }
        }
        let mut at = Vec::new();
        while let Ok(t) = attempts.try_recv() {
            at.push(t);
        }
        (client, events, delays, at)
    }

    let refusals = 9;
    let (client, mut events, delays, attempts) = run(&server, 1, refusals).await;
    let (other, _, other_delays, _) = run(&server, 2, refusals).await;
    // Each wait is uniform below its ceiling: 2 × Retry-After (20 s) until
    // the doubled backoff (1 s, 2 s, … 60 s) passes it.
    let ceilings_ms = [
        20_000, 20_000, 20_000, 20_000, 20_000, 32_000, 60_000, 60_000, 60_000,
    ];
    for (i, d) in delays.iter().chain(&other_delays).enumerate() {
        assert!(
            d.as_millis() <= ceilings_ms[i % refusals],
            "wait {i}: {d:?}"
        );
    }
    // Spread around Retry-After, not in step with it or with each other.
    let ten = Duration::from_secs(10);
    assert!(
        delays[..5].iter().any(|d| *d < ten) && delays[..5].iter().any(|d| *d > ten),
        "{delays:?}"
    );
    assert_ne!(delays, other_delays);
    assert!(
        delays.iter().zip(&other_delays).all(|(a, b)| a != b),
        "{delays:?} {other_delays:?}"
    );
    // The client slept exactly what it said before each new attempt.
    for (i, d) in delays.iter().enumerate().take(attempts.len() - 1) {
        assert_eq!(attempts[i + 1] - attempts[i], *d, "attempt {}", i + 1);
    }

    // A slot comes free: the next attempt connects.
    drop(other);
    drop(holder);
    let opened = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if let Some(Event::Status(Status::Open)) = events.next().await {
                return;
            }
        }
    })
    .await;
    assert!(opened.is_ok(), "the client never connected");
    drop(client);
}
