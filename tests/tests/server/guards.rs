//! Guards (docs/RUNTIME.md "Guards"): the Origin allow-list and the
//! authentication hook over real loopback sockets; per-message authorization;
//! messages clients may never send; rate limits per connection and per
//! message version under tokio's paused clock, with a well-behaved second
//! client whose frames all keep flowing.

use crate::runtime_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use runtime_support::*;
use tagwire::control::{Control, ErrorNotice, error_code};
use tagwire::server::{
    Authenticate, ConnectRequest, Connection, Denied, Handler, OriginConfig, RateLimits, Server,
    ServerConfig,
};
use tagwire::{Header, Package, Protocol, Quota};
use tagwire_tests::relay::{
    self, ClientMessage, DeliveredV1, EchoV1, JoinV1, PublishV1, ServerMessage,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// Who a connection belongs to, as the authentication hook found out.
#[derive(Debug, Clone, PartialEq)]
struct User {
    name: String,
    admin: bool,
}

/// Tokens `?token=` or cookie `session=`: `alice`, or `root` (an admin).
fn auth() -> impl Authenticate<Context = User> {
    |request: &ConnectRequest| {
        let token = request
            .query("token")
            .or_else(|| request.cookie("session"))
            .map(str::to_owned);
        let transport = request.transport;
        async move {
            match token.as_deref() {
                Some("alice") => Ok(User {
                    name: format!("alice over {transport:?}"),
                    admin: false,
                }),
                Some("root") => Ok(User {
                    name: "root".into(),
                    admin: true,
                }),
                Some(_) => Err(Denied::new("unknown token")),
                None => Err(Denied::new("no token")),
            }
        }
    }
}

type UserConn = Connection<relay::Package, User>;

/// Echoes with the user's name; only admins may join `admins`; counts
/// what reached application code.
#[derive(Default)]
struct Guarded {
    authorized: AtomicUsize,
    handled: AtomicUsize,
}

impl Handler<relay::Package, User> for Guarded {
    async fn authorize(&self, conn: &UserConn, message: &ClientMessage) -> Result<(), Denied> {
        self.authorized.fetch_add(1, Ordering::SeqCst);
        match message {
            ClientMessage::JoinV1(join) if join.room == "admins" && !conn.context().admin => {
                Err(Denied::new("admins only"))
            }
            _ => Ok(()),
        }
    }

    async fn on_message(&self, conn: &UserConn, message: ClientMessage) {
        self.handled.fetch_add(1, Ordering::SeqCst);
        match message {
            ClientMessage::EchoV1(echo) => {
                let body = format!("{}: {}", conn.context().name, echo.body);
                let _ = conn.send(EchoV1 {
                    seq: echo.seq,
                    body,
                });
            }
            ClientMessage::JoinV1(join) => {
                conn.join(&join.room);
                let _ = conn.send(EchoV1 {
                    seq: 0,
                    body: format!("joined {}", join.room),
                });
            }
            _ => {}
        }
    }
}

async fn listen<S>(serve: impl FnOnce(TcpListener) -> S) -> SocketAddr
where
    S: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(serve(listener));
    addr
}

async fn start_guarded(config: ServerConfig) -> (Arc<Guarded>, SocketAddr) {
    let app = Arc::new(Guarded::default());
    let server = Server::with_auth(app.clone(), auth(), config);
    let addr = listen(move |l| server.serve(l)).await;
    (app, addr)
}

fn error_notice(got: Got) -> ErrorNotice {
    match got {
        Got::Control(Control::Error(e)) => e,
        other => panic!("expected an error notice, got {other:?}"),
    }
}

fn echo_body(got: Got) -> String {
    match got {
        Got::Message(ServerMessage::EchoV1(e)) => e.body,
        other => panic!("expected an echo, got {other:?}"),
    }
}

#[tokio::test]
async fn a_page_of_another_origin_gets_403_on_every_route_and_same_host_pages_and_tools_connect() {
    let (app, addr) = start_guarded(ServerConfig::default()).await;
    let evil = ("origin", "https://evil.example");
    assert_eq!(
        refused_status(ws(addr, "/ws?token=alice", &[evil]).await),
        403
    );
    let (status, _) = http(
        addr,
        "GET",
        "/sse?token=alice",
        &["Origin: https://evil.example"],
    )
    .await;
    assert_eq!(status, 403, "GET /sse");
    let (status, _) = http(addr, "POST", "/sse/0123", &["Origin: https://evil.example"]).await;
    assert_eq!(status, 403, "POST /sse/<token> from another site");
    assert_eq!(app.handled.load(Ordering::SeqCst), 0);

    // The same host (a page served by this server), and no Origin at all.
    let own = format!("http://{addr}");
    let mut page = ws(addr, "/ws?token=alice", &[("origin", &own)])
        .await
        .expect("same-host page");
    let mut tool = ws(addr, "/ws?token=alice", &[]).await.expect("no Origin");
    for peer in [&mut page, &mut tool] {
        send(peer, &echo(1)).await;
        assert_eq!(
            echo_body(next_data(peer).await),
            "alice over WebSocket: echo 1"
        );
    }
}

#[tokio::test]
async fn an_allow_list_admits_its_origins_only_and_can_require_one() {
    let mut config = ServerConfig::default();
    config.origins = OriginConfig::list(["https://app.example.com"]);
    config.origins.allow_missing = false;
    let (_, addr) = start_guarded(config).await;
    let own = format!("http://{addr}");
    assert_eq!(
        refused_status(ws(addr, "/ws?token=alice", &[("origin", &own)]).await),
        403
    );
    assert_eq!(refused_status(ws(addr, "/ws?token=alice", &[]).await), 403);
    let mut peer = ws(
        addr,
        "/ws?token=alice",
        &[("origin", "https://app.example.com")],
    )
    .await
    .expect("listed origin");
    send(&mut peer, &echo(7)).await;
    assert_eq!(
        echo_body(next_data(&mut peer).await),
        "alice over WebSocket: echo 7"
    );
}

#[tokio::test]
async fn a_refused_client_is_closed_with_4004_and_the_reason_before_any_handler_code() {
    let (app, addr) = start_guarded(ServerConfig::default()).await;
    for (path, headers, reason) in [
        ("/ws", vec![], "no token"),
        ("/ws?token=mallory", vec![], "unknown token"),
        ("/ws", vec![("cookie", "session=eve")], "unknown token"),
    ] {
        let mut peer = ws(addr, path, &headers)
            .await
            .expect("the upgrade is accepted");
        assert_eq!(
            next(&mut peer).await,
            Got::Close(Some(4004), reason.into()),
            "{path}"
        );
    }
    // A cookie is as good as a query parameter.
    let mut peer = ws(addr, "/ws", &[("cookie", "theme=dark; session=root")])
        .await
        .expect("root");
    send(&mut peer, &echo(1)).await;
    assert_eq!(echo_body(next_data(&mut peer).await), "root: echo 1");
    assert_eq!(app.handled.load(Ordering::SeqCst), 1, "only root's echo");

    // SSE: the stream opens, says 4004 and why, and ends.
    let (status, response) = http(addr, "GET", "/sse?token=mallory", &[]).await;
    assert_eq!(status, 200);
    assert!(
        response.contains("event: close\ndata: 4004|unknown token\n\n"),
        "{response}"
    );
    assert!(!response.contains("event: session"), "{response}");
    // And an accepted SSE session carries its context too.
    let (status, response) = sse_first_events(addr, "/sse?token=alice").await;
    assert_eq!(status, 200);
    assert!(response.contains("event: session"), "{response}");
}

/// Opens an SSE stream and reads its first events (the session token and
/// the welcome), then drops it.
async fn sse_first_events(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains("data: _d") {
        let n = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut chunk))
            .await
            .expect("the stream answers")
            .expect("read");
        assert!(
            n > 0,
            "stream ended: {}",
            String::from_utf8_lossy(&response)
        );
        response.extend_from_slice(&chunk[..n]);
    }
    let response = String::from_utf8_lossy(&response).into_owned();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, response)
}

#[tokio::test]
async fn authorization_denies_one_message_with_forbidden_and_the_connection_goes_on() {
    let (app, addr) = start_guarded(ServerConfig::default()).await;
    let mut alice = ws(addr, "/ws?token=alice", &[]).await.expect("alice");
    let join = |room: &str| ClientMessage::JoinV1(JoinV1 { room: room.into() });
    send(&mut alice, &join("admins")).await;
    let e = error_notice(next_data(&mut alice).await);
    assert_eq!(e.code, error_code::FORBIDDEN);
    assert_eq!(e.name(), "forbidden");
    assert_eq!(e.message, "`aa` refused: admins only");
    send(&mut alice, &join("lobby")).await;
    assert_eq!(echo_body(next_data(&mut alice).await), "joined lobby");
    send(&mut alice, &echo(2)).await;
    assert_eq!(
        echo_body(next_data(&mut alice).await),
        "alice over WebSocket: echo 2"
    );

    let mut root = ws(addr, "/ws?token=root", &[]).await.expect("root");
    send(&mut root, &join("admins")).await;
    assert_eq!(echo_body(next_data(&mut root).await), "joined admins");
    assert_eq!(app.authorized.load(Ordering::SeqCst), 4);
    assert_eq!(
        app.handled.load(Ordering::SeqCst),
        3,
        "the denied join never arrived"
    );
}

#[tokio::test]
async fn server_only_messages_and_reserved_headers_are_refused_before_any_application_code() {
    let (app, addr) = start_guarded(ServerConfig::default()).await;
    let mut peer = ws(addr, "/ws?token=alice", &[]).await.expect("alice");
    let delivered = ServerMessage::DeliveredV1(DeliveredV1 {
        room: "r".into(),
        from: "1".into(),
        seq: 1,
        body: "forged".into(),
    });
    let frames = [
        (delivered.to_text(), error_code::WRONG_DIRECTION),
        (Control::Ping.to_text(), error_code::WRONG_DIRECTION),
        (
            Control::Error(ErrorNotice {
                code: 1,
                message: "x".into(),
            })
            .to_text(),
            error_code::WRONG_DIRECTION,
        ),
        // `_g` is the outdated notice (servers send it); `_z` is unassigned.
        ("_g|aa|Post|1|x".to_owned(), error_code::WRONG_DIRECTION),
        ("_z".to_owned(), error_code::UNKNOWN_HEADER),
        ("__|x".to_owned(), error_code::UNKNOWN_HEADER),
    ];
    for (frame, code) in &frames {
        peer.send(Message::text(frame.as_str()))
            .await
            .expect("send");
        let e = error_notice(next_data(&mut peer).await);
        assert_eq!(e.code, *code, "{frame}: {}", e.message);
    }
    // Binary frames the same.
    peer.send(Message::binary(delivered.to_binary()))
        .await
        .expect("send");
    assert_eq!(
        error_notice(next_data(&mut peer).await).code,
        error_code::WRONG_DIRECTION
    );
    assert_eq!(app.authorized.load(Ordering::SeqCst), 0);
    assert_eq!(app.handled.load(Ordering::SeqCst), 0);
    send(&mut peer, &echo(3)).await;
    assert_eq!(
        echo_body(next_data(&mut peer).await),
        "alice over WebSocket: echo 3"
    );
}

// ---- rate limits (paused clock, in-memory pipes) ----

/// A raw peer over an in-memory pipe served by any server.
async fn pipe<P, H, A>(server: &Server<P, H, A>) -> WebSocketStream<tokio::io::DuplexStream>
where
    P: Package,
    A: Authenticate,
    H: Handler<P, A::Context>,
{
    let (client_end, server_end) = tokio::io::duplex(256 * 1024);
    let s = server.clone();
    tokio::spawn(async move {
        let _ = s.serve_io(server_end, None).await;
    });
    handshake(client_end, "ws://pipe/ws", None)
        .await
        .expect("handshake over a pipe")
}

fn limited(limits: RateLimits) -> ServerConfig {
    let mut config = ServerConfig::default();
    config.rate_limits = limits;
    config
}

async fn expect_echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>, seq: u64) {
    assert_eq!(echo_body(next_data(ws).await), format!("echo {seq}"));
}

async fn expect_rate_limited<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
) -> ErrorNotice {
    let e = error_notice(next_data(ws).await);
    assert_eq!(e.code, error_code::RATE_LIMITED, "{}", e.message);
    assert_eq!(e.name(), "rate_limited");
    e
}

#[tokio::test(start_paused = true)]
async fn a_connection_over_its_quota_gets_rate_limited_errors_then_tokens_come_back() {
    let (server, _) = server(limited(
        RateLimits::default().per_connection(Quota::per_second(10).with_burst(3)),
    ));
    let mut peer = pipe(&server).await;
    for seq in 0..5 {
        send(&mut peer, &echo(seq)).await;
    }
    for seq in 0..3 {
        expect_echo(&mut peer, seq).await;
    }
    let e = expect_rate_limited(&mut peer).await;
    assert!(
        e.message.contains("connection's rate limit") && e.message.contains("next in 100 ms"),
        "{}",
        e.message
    );
    expect_rate_limited(&mut peer).await;
    // One token per 100 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&mut peer, &echo(10)).await;
    send(&mut peer, &echo(11)).await;
    expect_echo(&mut peer, 10).await;
    expect_rate_limited(&mut peer).await;
    // A quiet second refills the burst, no more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    for seq in 20..24 {
        send(&mut peer, &echo(seq)).await;
    }
    for seq in 20..23 {
        expect_echo(&mut peer, seq).await;
    }
    expect_rate_limited(&mut peer).await;
}

#[tokio::test(start_paused = true)]
async fn a_flooding_client_is_closed_with_4005_and_another_client_loses_nothing() {
    let (server, app) = server(limited(
        RateLimits::default()
            .per_connection(Quota::per_second(20).with_burst(20))
            .close_floods_after(10, Duration::from_secs(5)),
    ));
    let mut flooder = pipe(&server).await;
    let mut calm = pipe(&server).await;
    let start = tokio::time::Instant::now();
    // The calm client sends 10 a second for 3 s, reading as it goes, while
    // the flooder sends 1,000 frames at once.
    let calm_task = tokio::spawn(async move {
        let mut got = Vec::new();
        for seq in 0..30 {
            send(&mut calm, &echo(seq)).await;
            got.push(echo_body(next_data(&mut calm).await));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        (calm, got)
    });
    for seq in 0..1000 {
        if flooder
            .send(Message::text(echo(seq).to_text()))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut echoed = 0;
    let mut refused = 0;
    let close = loop {
        match next(&mut flooder).await {
            Got::Message(ServerMessage::EchoV1(_)) => echoed += 1,
            Got::Control(Control::Error(e)) => {
                assert_eq!(e.code, error_code::RATE_LIMITED);
                refused += 1;
            }
            Got::Control(_) => {}
            other => break other,
        }
    };
    assert_eq!(
        close,
        Got::Close(
            Some(4005),
            "kept sending past the rate limit: 10 frames refused within 5 s".into()
        )
    );
    assert_eq!(echoed, 20, "the burst");
    assert_eq!(refused, 10, "every refusal was told, then the close");
    assert!(start.elapsed() < Duration::from_secs(1));

    let (_calm, got) = calm_task.await.expect("calm client");
    let want: Vec<String> = (0..30).map(|s| format!("echo {s}")).collect();
    assert_eq!(
        got, want,
        "the calm client's frames all came back, in order"
    );
    drop(flooder);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let closes = app.closes.lock().expect("closes").clone();
    let flood_close = closes
        .iter()
        .find(|c| c.code == Some(tagwire::CloseCode::RATE_LIMITED))
        .expect("the flooder's close report");
    assert!(flood_close.by_server);
    assert_eq!(
        flood_close.undelivered, 0,
        "its errors went out before the close"
    );
}

#[tokio::test(start_paused = true)]
async fn pings_and_pongs_count_so_a_control_frame_flood_is_closed_too() {
    let (server, _) = server(limited(
        RateLimits::default()
            .per_connection(Quota::per_second(5).with_burst(5))
            .close_floods_after(5, Duration::from_secs(10)),
    ));
    // WebSocket ping frames: tungstenite answers them, the bucket counts
    // them, no error frame answers each (it has no header to name).
    let mut pinger = pipe(&server).await;
    for _ in 0..50 {
        if pinger
            .send(Message::Ping(Bytes::from_static(b"x")))
            .await
            .is_err()
        {
            break;
        }
    }
    let close = loop {
        match next(&mut pinger).await {
            Got::Close(code, _) => break code,
            Got::End => panic!("dropped without a close"),
            _ => {}
        }
    };
    assert_eq!(close, Some(4005));

    // Protocol pongs: refused like any frame.
    let mut ponger = pipe(&server).await;
    for _ in 0..50 {
        if ponger
            .send(Message::text(Control::Pong.to_text()))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut refused = 0;
    let close = loop {
        match next(&mut ponger).await {
            Got::Control(Control::Error(e)) if e.code == error_code::RATE_LIMITED => refused += 1,
            Got::Close(code, _) => break code,
            Got::End => panic!("dropped without a close"),
            _ => {}
        }
    };
    assert_eq!((refused, close), (5, Some(4005)));
}

#[tokio::test(start_paused = true)]
async fn a_message_quota_limits_that_message_only() {
    let limits = RateLimits::default().message(relay::PUBLISH_V1, Quota::per_minute(2));
    let (server, _) = server(limited(limits));
    let mut peer = pipe(&server).await;
    send(
        &mut peer,
        &ClientMessage::JoinV1(JoinV1 { room: "r".into() }),
    )
    .await;
    let publish = |seq| {
        ClientMessage::PublishV1(PublishV1 {
            room: "r".into(),
            seq,
            body: "hi".into(),
        })
    };
    for seq in 0..3 {
        send(&mut peer, &publish(seq)).await;
        send(&mut peer, &echo(seq)).await;
    }
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(match next_data(&mut peer).await {
            Got::Message(ServerMessage::DeliveredV1(d)) => format!("delivered {}", d.seq),
            Got::Message(ServerMessage::EchoV1(e)) => e.body,
            Got::Control(Control::Error(e)) => {
                assert!(e.message.contains("`ac`"), "{}", e.message);
                format!("error {}", e.code)
            }
            other => panic!("{other:?}"),
        });
    }
    assert_eq!(
        got,
        [
            "delivered 0",
            "echo 0",
            "delivered 1",
            "echo 1",
            "error 5",
            "echo 2"
        ]
    );
    tokio::time::sleep(Duration::from_secs(30)).await;
    send(&mut peer, &publish(9)).await;
    assert_eq!(
        next_data(&mut peer).await,
        Got::Message(ServerMessage::DeliveredV1(DeliveredV1 {
            room: "r".into(),
            from: "1".into(),
            seq: 9,
            body: "hi".into(),
        }))
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_longer_than_one_read_batch_loses_no_frame() {
    // The loop handles up to 16 frames that have already arrived before
    // writing the replies; the 17th must wait for the next turn, not vanish.
    let (server, _) = server(ServerConfig::default());
    let mut peer = pipe(&server).await;
    for seq in 0..100 {
        send(&mut peer, &echo(seq)).await;
    }
    for seq in 0..100 {
        expect_echo(&mut peer, seq).await;
    }
}

/// The relay package with a schema-given quota on `Echo`, as the compiler
/// will generate from `@rate` (`Package::rate_limits`).
#[derive(Debug)]
struct RatedRelay;

impl Package for RatedRelay {
    type Client = ClientMessage;
    type Server = ServerMessage;
    const NAME: &'static str = relay::Package::NAME;
    const FINGERPRINT: &'static str = relay::Package::FINGERPRINT;
    fn headers() -> Vec<Header> {
        relay::Package::headers()
    }
    fn rate_limits() -> Vec<(Header, Quota)> {
        vec![(relay::ECHO_V1, Quota::per_second(1).with_burst(2))]
    }
}

struct RatedEcho;

impl Handler<RatedRelay> for RatedEcho {
    async fn on_message(&self, conn: &Connection<RatedRelay>, message: ClientMessage) {
        if let ClientMessage::EchoV1(echo) = message {
            let _ = conn.send(echo);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_packages_own_quotas_apply_and_the_configuration_overrides_them() {
    let schema_only = Server::new(RatedEcho, ServerConfig::default());
    let mut peer = pipe(&schema_only).await;
    for seq in 0..3 {
        send(&mut peer, &echo(seq)).await;
    }
    expect_echo(&mut peer, 0).await;
    expect_echo(&mut peer, 1).await;
    expect_rate_limited(&mut peer).await;

    let overridden = Server::new(
        RatedEcho,
        limited(RateLimits::default().message(relay::ECHO_V1, Quota::per_second(100))),
    );
    let mut peer = pipe(&overridden).await;
    for seq in 0..50 {
        send(&mut peer, &echo(seq)).await;
    }
    for seq in 0..50 {
        expect_echo(&mut peer, seq).await;
    }
}
