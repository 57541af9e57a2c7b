//! The SSE fallback (SPEC §9.5) over real loopback sockets, spoken by hand:
//! a session event, frames as `id:`/`data:` lines, frames in by POST, the
//! close event, and the same heartbeat, drain and rooms as WebSockets.

use crate::runtime_support;

use std::net::SocketAddr;
use std::time::Duration;

use runtime_support::*;
use tagwire::Protocol;
use tagwire::control::{Control, Hello};
use tagwire::server::ServerConfig;
use tagwire_tests::relay::{ClientMessage, JoinV1, PublishV1, ServerMessage};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn start(config: ServerConfig) -> (RelayServer, SocketAddr) {
    let (server, _) = server(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    (server, addr)
}

/// One SSE event: its `event:` name (empty for frames), `id:` and `data:`.
#[derive(Debug, Default, PartialEq)]
struct Event {
    name: String,
    id: String,
    data: String,
}

struct SseStream {
    status: u16,
    lines: BufReader<TcpStream>,
}

impl SseStream {
    /// Opens `GET /sse` as HTTP/1.0 so the body is close-delimited.
    async fn open(addr: SocketAddr) -> SseStream {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("GET /sse HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.expect("write");
        let mut lines = BufReader::new(tcp);
        let mut status_line = String::new();
        lines.read_line(&mut status_line).await.expect("status");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        loop {
            let mut header = String::new();
            if lines.read_line(&mut header).await.expect("header") == 0 || header == "\r\n" {
                break;
            }
        }
        SseStream { status, lines }
    }

    async fn event(&mut self) -> Option<Event> {
        let mut event = Event::default();
        loop {
            let mut line = String::new();
            if self.lines.read_line(&mut line).await.ok()? == 0 {
                return None;
            }
            let line = line.trim_end_matches('\n');
            if line.is_empty() {
                return Some(event);
            }
            let (field, value) = line.split_once(": ").unwrap_or((line, ""));
            match field {
                "event" => event.name = value.to_string(),
                "id" => event.id = value.to_string(),
                "data" => event.data = value.to_string(),
                other => panic!("unexpected field {other:?}"),
            }
        }
    }

    /// The next frame that is not a ping or the welcome.
    async fn next_data(&mut self) -> Option<Event> {
        loop {
            let e = self.event().await?;
            if e.data == "_a" || e.data.starts_with("_d|") {
                continue;
            }
            return Some(e);
        }
    }
}

async fn post(addr: SocketAddr, path: &str, body: &str) -> u16 {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn hello() -> String {
    Control::Hello(Hello {
        package: "relay".into(),
        fingerprint: tagwire_tests::relay::PROTOCOL_FINGERPRINT.into(),
        headers: String::new(),
    })
    .to_text()
}

#[tokio::test]
async fn a_session_exchanges_frames_both_ways() {
    let (server, addr) = start(ServerConfig::default()).await;
    let mut sse = SseStream::open(addr).await;
    assert_eq!(sse.status, 200);
    let session = sse.event().await.expect("session event");
    assert_eq!(session.name, "session");
    assert_eq!(session.data.len(), 32, "{session:?}");
    let welcome = sse.event().await.expect("welcome");
    assert_eq!(welcome.id, "1");
    assert_eq!(
        welcome.data,
        format!(
            "_d|relay|{}|30000",
            tagwire_tests::relay::PROTOCOL_FINGERPRINT
        )
    );

    // Hello, join and publish in one POST: processed in order.
    let join = ClientMessage::JoinV1(JoinV1 { room: "r".into() }).to_text();
    let publish = ClientMessage::PublishV1(PublishV1 {
        room: "r".into(),
        seq: 1,
        body: "line | with\nnewline".into(),
    })
    .to_text();
    let path = format!("/sse/{}", session.data);
    assert_eq!(
        post(addr, &path, &format!("{}\n{join}\n{publish}\n", hello())).await,
        204
    );
    let delivered = sse.next_data().await.expect("delivered");
    assert_eq!(delivered.id, "2");
    // A room message (`_h`, SPEC §9.7): the first of room `r`.
    let (room, position, inner) =
        tagwire::control::RoomEnvelope::split_text(&delivered.data, &tagwire::Limits::default())
            .expect("a room envelope");
    assert_eq!((room.as_str(), position.seq), ("r", 1));
    match ServerMessage::decode_text(inner).expect("decodes") {
        ServerMessage::DeliveredV1(d) => assert_eq!(d.body, "line | with\nnewline"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.handle().connection_count(), 1);

    // An echo, then a bad frame answered with an error event.
    assert_eq!(post(addr, &path, &echo(5).to_text()).await, 204);
    assert_eq!(sse.next_data().await.expect("echo").data, "ae|5|echo 5");
    assert_eq!(post(addr, &path, "zz").await, 204);
    assert!(
        sse.next_data()
            .await
            .expect("error")
            .data
            .starts_with("_f|1|")
    );
}

#[tokio::test]
async fn posts_to_unknown_sessions_and_oversized_frames_are_refused() {
    let mut config = ServerConfig::default();
    config.limits.max_frame_bytes = 100;
    let (_, addr) = start(config).await;
    assert_eq!(
        post(addr, "/sse/00000000000000000000000000000000", "_b").await,
        404
    );
    let mut sse = SseStream::open(addr).await;
    let token = sse.event().await.expect("session").data;
    let path = format!("/sse/{token}");
    assert_eq!(post(addr, &path, &"x".repeat(101)).await, 413);
    let many = vec!["_b"; 65].join("\n");
    assert_eq!(post(addr, &path, &many).await, 413);
    assert_eq!(post(addr, &path, "_b").await, 204);
}

#[tokio::test]
async fn websocket_and_sse_clients_share_rooms() {
    let (_, addr) = start(ServerConfig::default()).await;
    let mut sse = SseStream::open(addr).await;
    let token = sse.event().await.expect("session").data;
    let path = format!("/sse/{token}");
    let join = ClientMessage::JoinV1(JoinV1 {
        room: "both".into(),
    })
    .to_text();
    assert_eq!(post(addr, &path, &join).await, 204);
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut ws = handshake(tcp, &format!("ws://{addr}/ws"), Some("tagwire.binary"))
        .await
        .expect("handshake");
    send(
        &mut ws,
        &ClientMessage::JoinV1(JoinV1 {
            room: "both".into(),
        }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let publish = ClientMessage::PublishV1(PublishV1 {
        room: "both".into(),
        seq: 3,
        body: "from sse".into(),
    });
    assert_eq!(post(addr, &path, &publish.to_text()).await, 204);
    match next_data(&mut ws).await {
        Got::Message(ServerMessage::DeliveredV1(d)) => assert_eq!(d.body, "from sse"),
        other => panic!("{other:?}"),
    }
    assert!(
        sse.next_data()
            .await
            .expect("own publish")
            .data
            .contains("from sse")
    );
}

#[tokio::test]
async fn a_drain_ends_sessions_with_the_notice_and_a_close_event_and_refuses_new_ones() {
    let mut config = ServerConfig::default();
    config.drain.grace = Duration::from_millis(200);
    config.drain.window = Duration::from_millis(100);
    let (server, addr) = start(config).await;
    let mut sse = SseStream::open(addr).await;
    let _token = sse.event().await.expect("session");
    server.handle().drain();
    assert_eq!(SseStream::open(addr).await.status, 503);
    let notice = sse.next_data().await.expect("notice");
    assert_eq!(notice.data, "_e|Server updating|5000|2");
    let close = sse.next_data().await.expect("close event");
    assert_eq!(close.name, "close");
    assert_eq!(close.data, "4001|Server updating");
    assert_eq!(
        sse.event().await,
        None,
        "the response ends after the close event"
    );
    server.handle().drained().await;
}

#[tokio::test]
async fn a_session_that_never_pongs_is_closed_with_4000() {
    let mut config = ServerConfig::default();
    config.heartbeat.ping_interval = Duration::from_millis(100);
    config.heartbeat.pong_timeout = Duration::from_millis(300);
    let (_, addr) = start(config).await;
    let mut sse = SseStream::open(addr).await;
    let _token = sse.event().await.expect("session");
    let mut pings = 0;
    let close = loop {
        let e = sse.event().await.expect("event");
        if e.data == "_a" {
            pings += 1;
        } else if e.name == "close" {
            break e;
        }
    };
    assert!(pings >= 2);
    assert!(close.data.starts_with("4000|"), "{close:?}");
}

#[tokio::test]
async fn pongs_by_post_keep_a_session_alive() {
    let mut config = ServerConfig::default();
    config.heartbeat.ping_interval = Duration::from_millis(50);
    config.heartbeat.pong_timeout = Duration::from_millis(200);
    let (server, addr) = start(config).await;
    let mut sse = SseStream::open(addr).await;
    let token = sse.event().await.expect("session").data;
    let path = format!("/sse/{token}");
    let mut pings = 0;
    while pings < 8 {
        let e = sse.event().await.expect("event");
        assert_ne!(e.name, "close", "closed although it ponged: {e:?}");
        if e.data == "_a" {
            pings += 1;
            assert_eq!(post(addr, &path, "_b").await, 204);
        }
    }
    assert_eq!(server.handle().connection_count(), 1);
}
