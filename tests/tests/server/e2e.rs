//! The server over real loopback sockets with raw WebSocket peers: health
//! and refusals over HTTP, the heartbeat in real (short) time, and what
//! happens to bad frames.

use crate::runtime_support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::SinkExt;
use runtime_support::*;
use tagwire::Protocol;
use tagwire::control::{Control, ErrorNotice, error_code};
use tagwire::server::ServerConfig;
use tagwire_tests::relay::{ClientMessage, DeliveredV1, JoinV1, ServerMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

async fn start(config: ServerConfig) -> (RelayServer, std::sync::Arc<Relay>, SocketAddr) {
    let (server, app) = server(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    (server, app, addr)
}

async fn connect(
    addr: SocketAddr,
    subprotocol: Option<&str>,
) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    handshake(tcp, &format!("ws://{addr}/ws"), subprotocol)
        .await
        .expect("handshake")
}

/// A plain HTTP/1.1 GET; returns the status code.
async fn get_status(addr: SocketAddr, path: &str) -> u16 {
    http(addr, "GET", path, &[]).await.0
}

fn error_notice(got: &Got) -> Option<&ErrorNotice> {
    match got {
        Got::Control(Control::Error(e)) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn health_is_200_then_503_at_once_when_the_drain_starts_and_upgrades_are_refused() {
    let (server, _, addr) = start(ServerConfig::default()).await;
    assert_eq!(get_status(addr, "/health").await, 200);
    let _peer = connect(addr, None).await;
    server.handle().drain();
    let (status, response) = http(addr, "GET", "/health", &[]).await;
    assert_eq!(status, 503);
    assert!(
        response.to_ascii_lowercase().contains("connection: close"),
        "a draining node closes kept-alive connections: {response}"
    );
    let tcp = TcpStream::connect(addr).await.expect("connect");
    match handshake(tcp, &format!("ws://{addr}/ws"), None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503)
        }
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    assert_eq!(get_status(addr, "/ws").await, 503, "plain GET during drain");
}

#[tokio::test]
async fn a_plain_get_on_the_websocket_route_is_told_to_upgrade() {
    let (_, _, addr) = start(ServerConfig::default()).await;
    assert_eq!(get_status(addr, "/ws").await, 426);
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_closed_by_the_server() {
    let mut config = ServerConfig::default();
    config.heartbeat.ping_interval = Duration::from_millis(100);
    config.heartbeat.pong_timeout = Duration::from_millis(300);
    let (server, _, addr) = start(config).await;
    let mut peer = connect(addr, None).await;
    let started = std::time::Instant::now();
    let mut pings = 0;
    let code = loop {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => pings += 1,
            Got::Close(code, _) => break code,
            Got::End => panic!("dropped without a close frame"),
            _ => {}
        }
    };
    assert_eq!(code, Some(4000));
    assert!(pings >= 2, "{pings} pings");
    // The server counts from the upgrade, a little before `started`.
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    drop(peer);
    tokio::time::timeout(Duration::from_secs(5), async {
        while server.handle().connection_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("connection released");
}

#[tokio::test]
async fn bad_frames_get_an_error_message_and_the_connection_survives() {
    let (_, _, addr) = start(ServerConfig::default()).await;
    let mut peer = connect(addr, None).await;
    // Unknown header.
    peer.send(Message::text("zz|1")).await.expect("send");
    let got = next_data(&mut peer).await;
    let e = error_notice(&got).unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.code, error_code::UNKNOWN_HEADER);
    assert!(e.message.contains("zz"), "{}", e.message);
    // A server-only message (Delivered, header `ad`) sent by a client.
    let server_only = ServerMessage::DeliveredV1(DeliveredV1 {
        room: "r".into(),
        from: "me".into(),
        seq: 1,
        body: "x".into(),
    });
    peer.send(Message::text(server_only.to_text()))
        .await
        .expect("send");
    let got = next_data(&mut peer).await;
    let e = error_notice(&got).unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.code, error_code::WRONG_DIRECTION, "{}", e.message);
    // A known header with a malformed body.
    peer.send(Message::text("ae|notanumber|x"))
        .await
        .expect("send");
    let got = next_data(&mut peer).await;
    let e = error_notice(&got).unwrap_or_else(|| panic!("{got:?}"));
    assert_eq!(e.code, error_code::MALFORMED);
    assert!(e.message.contains("token 1"), "{}", e.message);
    // Still open: an echo comes back.
    send(&mut peer, &echo(7)).await;
    assert_eq!(
        next_data(&mut peer).await,
        Got::Message(ServerMessage::EchoV1(tagwire_tests::relay::EchoV1 {
            seq: 7,
            body: "echo 7".into()
        }))
    );
}

#[tokio::test]
async fn an_oversized_frame_closes_the_connection_with_1009() {
    let mut config = ServerConfig::default();
    config.limits.max_frame_bytes = 1024;
    let (_, _, addr) = start(config).await;
    let mut peer = connect(addr, None).await;
    let big = ClientMessage::EchoV1(tagwire_tests::relay::EchoV1 {
        seq: 1,
        body: "x".repeat(4096),
    });
    peer.send(Message::text(big.to_text())).await.expect("send");
    match next_data(&mut peer).await {
        Got::Close(code, reason) => {
            assert_eq!(code, Some(1009));
            assert!(reason.contains("1024"), "{reason}");
        }
        other => panic!("expected a close, got {other:?}"),
    }
}

#[tokio::test]
async fn binary_is_negotiated_by_subprotocol_and_rooms_cross_encodings() {
    let (_, _, addr) = start(ServerConfig::default()).await;
    let mut text_peer = connect(addr, None).await;
    let mut binary_peer = connect(addr, Some("tagwire.binary")).await;
    for peer in [&mut text_peer, &mut binary_peer] {
        send(peer, &ClientMessage::JoinV1(JoinV1 { room: "r".into() })).await;
    }
    // The welcome came in the binary encoding.
    use futures_util::StreamExt;
    match binary_peer.next().await {
        Some(Ok(Message::Binary(b))) => assert_eq!(&b[..2], b"_d"),
        other => panic!("expected a binary welcome, got {other:?}"),
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let publish = ClientMessage::PublishV1(tagwire_tests::relay::PublishV1 {
        room: "r".into(),
        seq: 9,
        body: "héllo | all".into(),
    });
    send(&mut text_peer, &publish).await;
    for peer in [&mut text_peer, &mut binary_peer] {
        match next_data(peer).await {
            Got::Message(ServerMessage::DeliveredV1(d)) => {
                assert_eq!((d.seq, d.body.as_str()), (9, "héllo | all"));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_slow_consumer_on_a_real_socket_is_closed_with_4002() {
    let mut config = ServerConfig::default();
    config.limits.outbound_queue_frames = 64;
    config.limits.write_timeout = Duration::from_millis(500);
    let (server, app, addr) = start(config).await;
    let mut peer = connect(addr, None).await;
    send(
        &mut peer,
        &ClientMessage::JoinV1(JoinV1 { room: "r".into() }),
    )
    .await;
    tokio::time::timeout(Duration::from_secs(5), async {
        while server.handle().room_len("r") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("joined");
    // The peer never reads: socket buffers fill, then the queue.
    let body = "x".repeat(16 * 1024);
    let mut refused_at = None;
    for seq in 0..10_000u64 {
        let m = ServerMessage::DeliveredV1(DeliveredV1 {
            room: "r".into(),
            from: "test".into(),
            seq,
            body: body.clone(),
        });
        if server.handle().broadcast("r", &m) == 0 {
            refused_at = Some(seq);
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(
        refused_at.is_some(),
        "the server kept accepting frames for a client that never reads"
    );
    tokio::time::timeout(Duration::from_secs(10), async {
        while server.handle().connection_count() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("slow consumer closed");
    let closes = app.closes.lock().expect("lock").clone();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].code, Some(tagwire::CloseCode::SLOW_CONSUMER));
    drop(peer);
}

#[tokio::test]
async fn the_routes_mount_into_an_existing_axum_router() {
    let (server, _) = server(ServerConfig::default());
    let app = axum::Router::new()
        .route(
            "/hello",
            axum::routing::get(|| async { "hello from the app" }),
        )
        .merge(server.router());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    assert_eq!(get_status(addr, "/hello").await, 200);
    assert_eq!(get_status(addr, "/health").await, 200);
    let mut peer = connect(addr, None).await;
    send(&mut peer, &echo(1)).await;
    assert!(matches!(
        next_data(&mut peer).await,
        Got::Message(ServerMessage::EchoV1(_))
    ));
    let peers = server.handle().connection_count();
    assert_eq!(peers, 1);
}
