//! The WebSocket client over real sockets on loopback, against a raw
//! tokio-tungstenite server written in the test. Real time: few tests,
//! short timeouts.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tagwire::client::{Client, ClientConfig, Event, Events, ReconnectReason, Status};
use tagwire::control::{Control, Hello, Welcome};
use tagwire::{Encoding, Protocol};
use tagwire_tests::relay;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

type Ws = WebSocketStream<TcpStream>;

const WAIT: Duration = Duration::from_secs(10);

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/ws", listener.local_addr().expect("address"));
    (listener, url)
}

/// Accepts one WebSocket, echoing the subprotocol; returns it too.
async fn accept(listener: &TcpListener) -> (Ws, Option<String>) {
    let (stream, _) = timeout(WAIT, listener.accept())
        .await
        .expect("the client connects")
        .expect("accept");
    let mut asked = None;
    // The handshake callback's error type is tungstenite's, not ours.
    #[allow(clippy::result_large_err)]
    let ws = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, mut res: Response| {
        assert_eq!(req.uri().path(), "/ws");
        if let Some(protocol) = req.headers().get("Sec-WebSocket-Protocol") {
            asked = protocol.to_str().ok().map(str::to_owned);
            res.headers_mut()
                .insert("Sec-WebSocket-Protocol", protocol.clone());
        }
        Ok(res)
    })
    .await
    .expect("handshake");
    (ws, asked)
}

async fn next(ws: &mut Ws) -> Message {
    timeout(WAIT, ws.next())
        .await
        .expect("a frame in time")
        .expect("the connection is open")
        .expect("a valid frame")
}

async fn control(ws: &mut Ws) -> Control {
    match next(ws).await {
        Message::Text(t) => Control::decode_text(&t).expect("a control frame"),
        Message::Binary(b) => Control::decode_binary(&b).expect("a control frame"),
        other => panic!("expected a data frame, got {other:?}"),
    }
}

async fn event(events: &mut Events<relay::Package>) -> Event<relay::Package> {
    timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("the client is running")
}

/// The next event that is not a Connecting/Open status.
async fn notable(events: &mut Events<relay::Package>) -> Event<relay::Package> {
    loop {
        match event(events).await {
            Event::Status(Status::Connecting { .. } | Status::Open) => {}
            other => return other,
        }
    }
}

/// Closes the client while the server side answers the closing handshake.
async fn close(client: Client<relay::Package>, mut ws: Ws) {
    let server = tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
    timeout(WAIT, client.close()).await.expect("close returns");
    timeout(WAIT, server)
        .await
        .expect("the server side ends")
        .expect("no panic");
}

fn hello() -> Control {
    Control::Hello(Hello {
        package: "relay".into(),
        fingerprint: relay::PROTOCOL_FINGERPRINT.into(),
        headers: relay::HEADERS.iter().map(|(h, ..)| h.as_str()).collect(),
    })
}

fn delivered() -> relay::ServerMessage {
    relay::ServerMessage::from(relay::DeliveredV1 {
        room: "lobby".into(),
        from: "bob".into(),
        seq: 1,
        body: "hello".into(),
    })
}

#[tokio::test]
async fn text_hello_is_the_first_frame_and_carries_the_fingerprint() {
    let (listener, url) = listen().await;
    let (client, mut events) = Client::<relay::Package>::connect(url, ClientConfig::default());
    client
        .send(relay::JoinV1 {
            room: "lobby".into(),
        })
        .expect("send");
    let (mut ws, asked) = accept(&listener).await;
    assert_eq!(asked.as_deref(), Some("tagwire.text"));
    match next(&mut ws).await {
        Message::Text(t) => {
            assert_eq!(t.as_str(), hello().to_text());
            assert!(t.as_str().contains(relay::PROTOCOL_FINGERPRINT));
        }
        other => panic!("expected the text hello, got {other:?}"),
    }
    // Then the message queued before the connection was open.
    match next(&mut ws).await {
        Message::Text(t) => assert_eq!(t.as_str(), "aa|lobby"),
        other => panic!("expected the join, got {other:?}"),
    }
    ws.send(Message::text(delivered().to_text()))
        .await
        .expect("send");
    match notable(&mut events).await {
        Event::Message(m) => assert_eq!(m, delivered()),
        other => panic!("expected a message, got {other:?}"),
    }
    close(client, ws).await;
}

#[tokio::test]
async fn binary_encoding_is_asked_for_by_subprotocol_and_used_both_ways() {
    let (listener, url) = listen().await;
    let config = ClientConfig::default().with_encoding(Encoding::Binary);
    let (client, mut events) = Client::<relay::Package>::connect(url, config);
    let (mut ws, asked) = accept(&listener).await;
    assert_eq!(asked.as_deref(), Some("tagwire.binary"));
    match next(&mut ws).await {
        Message::Binary(b) => assert_eq!(Control::decode_binary(&b).expect("hello"), hello()),
        other => panic!("expected a binary hello, got {other:?}"),
    }
    ws.send(Message::binary(Control::Ping.to_binary()))
        .await
        .expect("ping");
    match next(&mut ws).await {
        Message::Binary(b) => assert_eq!(Control::decode_binary(&b).expect("pong"), Control::Pong),
        other => panic!("expected a binary pong, got {other:?}"),
    }
    ws.send(Message::binary(delivered().to_binary()))
        .await
        .expect("send");
    match notable(&mut events).await {
        Event::Message(m) => assert_eq!(m, delivered()),
        other => panic!("expected a message, got {other:?}"),
    }
    let echo = relay::ClientMessage::from(relay::EchoV1 {
        seq: 9,
        body: "b".into(),
    });
    client.send(echo.clone()).expect("send");
    match next(&mut ws).await {
        Message::Binary(b) => assert_eq!(b.as_ref(), echo.to_binary().as_slice()),
        other => panic!("expected a binary echo, got {other:?}"),
    }
    close(client, ws).await;
}

#[tokio::test]
async fn a_server_that_stops_pinging_is_dropped_and_the_client_reconnects() {
    let (listener, url) = listen().await;
    let ping_timeout = Duration::from_millis(300);
    let config = ClientConfig::default().with_ping_timeout(ping_timeout);
    let (client, mut events) = Client::<relay::Package>::connect(url, config);
    let (mut ws, _) = accept(&listener).await;
    assert_eq!(control(&mut ws).await, hello());
    ws.send(Message::text("_a")).await.expect("ping");
    let pinged = Instant::now();
    assert_eq!(control(&mut ws).await, Control::Pong);
    // Silence from here on.
    match next(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4000),
        other => panic!("expected close 4000, got {other:?}"),
    }
    let waited = pinged.elapsed();
    assert!(waited >= ping_timeout, "closed after {waited:?}");
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    match notable(&mut events).await {
        Event::Status(Status::Reconnecting { reason, .. }) => {
            assert_eq!(reason, ReconnectReason::Heartbeat);
        }
        other => panic!("expected Reconnecting, got {other:?}"),
    }
    // A new connection, with a new hello.
    let (mut ws, _) = accept(&listener).await;
    assert_eq!(control(&mut ws).await, hello());
    close(client, ws).await;
}

#[tokio::test]
async fn a_different_server_fingerprint_is_reported_and_the_connection_stays_open() {
    let (listener, url) = listen().await;
    let (client, mut events) = Client::<relay::Package>::connect(url, ClientConfig::default());
    let (mut ws, _) = accept(&listener).await;
    assert_eq!(control(&mut ws).await, hello());
    let welcome = Control::Welcome(Welcome {
        package: "relay".into(),
        fingerprint: "00000000deadbeef".into(),
        ping_interval_ms: 30_000,
    });
    ws.send(Message::text(welcome.to_text()))
        .await
        .expect("welcome");
    match notable(&mut events).await {
        Event::ProtocolMismatch {
            server_package,
            server_fingerprint,
        } => {
            assert_eq!(server_package, "relay");
            assert_eq!(server_fingerprint, "00000000deadbeef");
        }
        other => panic!("expected ProtocolMismatch, got {other:?}"),
    }
    ws.send(Message::text(delivered().to_text()))
        .await
        .expect("send");
    match notable(&mut events).await {
        Event::Message(m) => assert_eq!(m, delivered()),
        other => panic!("expected a message on the same connection, got {other:?}"),
    }
    // A matching welcome is no event.
    let welcome = Control::Welcome(Welcome {
        package: "relay".into(),
        fingerprint: relay::PROTOCOL_FINGERPRINT.into(),
        ping_interval_ms: 30_000,
    });
    ws.send(Message::text(welcome.to_text()))
        .await
        .expect("welcome");
    ws.send(Message::text(delivered().to_text()))
        .await
        .expect("send");
    assert!(matches!(notable(&mut events).await, Event::Message(_)));
    close(client, ws).await;
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    // Take a free port, then close it: the first attempts are refused.
    let (listener, url) = listen().await;
    let address = listener.local_addr().expect("address");
    drop(listener);
    let (client, mut events) = Client::<relay::Package>::connect(url, ClientConfig::default());
    match notable(&mut events).await {
        Event::Status(Status::Reconnecting {
            reason: ReconnectReason::Network(_),
            delay,
        }) => assert!(delay <= Duration::from_millis(500)),
        other => panic!("expected a network Reconnecting, got {other:?}"),
    }
    let listener = TcpListener::bind(address).await.expect("rebind");
    let (mut ws, _) = accept(&listener).await;
    assert_eq!(control(&mut ws).await, hello());
    close(client, ws).await;
}
