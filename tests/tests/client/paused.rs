//! The WebSocket client under tokio's paused clock: every connection is an
//! in-memory pipe (`tokio::io::duplex`) whose server end is driven by hand
//! with tokio-tungstenite, so heartbeat, backoff and drain timings are
//! exact.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tagwire::client::{
    Backoff, Client, ClientConfig, Connector, Event, QueueFull, ReconnectReason, SendError, Status,
};
use tagwire::control::{Control, DrainNotice, ErrorNotice, Welcome};
use tagwire::{CloseCode, Protocol};
use tagwire_tests::relay;
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

type Ws = WebSocketStream<DuplexStream>;
type Ev = Event<relay::Package>;

/// Longer than anything a test waits for: under the paused clock a hang
/// turns into a failed `expect` instead of a stuck test.
const LONG: Duration = Duration::from_secs(3_600);

/// The test's side of the client's connector.
struct Net {
    /// Server ends of accepted pipes.
    conns: mpsc::UnboundedReceiver<DuplexStream>,
    /// When the client tried to connect, and whether it was refused.
    attempts: mpsc::UnboundedReceiver<(Instant, bool)>,
    /// While set, connection attempts fail with "connection refused".
    refuse: Arc<AtomicBool>,
}

fn network() -> (impl Connector, Net) {
    let (conn_tx, conns) = mpsc::unbounded_channel();
    let (attempt_tx, attempts) = mpsc::unbounded_channel();
    let refuse = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&refuse);
    let connector = move || {
        let refused = flag.load(Ordering::SeqCst);
        let _ = attempt_tx.send((Instant::now(), refused));
        let result = if refused {
            Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "refused by the test",
            ))
        } else {
            let (client, server) = tokio::io::duplex(64 * 1024);
            let _ = conn_tx.send(server);
            Ok(client)
        };
        async move { result }
    };
    (
        connector,
        Net {
            conns,
            attempts,
            refuse,
        },
    )
}

impl Net {
    /// Accepts the next connection, echoing the subprotocol the client
    /// asked for; returns it too.
    async fn accept(&mut self) -> (Ws, Option<String>) {
        let stream = timeout(LONG, self.conns.recv())
            .await
            .expect("the client connects")
            .expect("the connector is alive");
        let mut asked = None;
        // The handshake callback's error type is tungstenite's, not ours.
        #[allow(clippy::result_large_err)]
        let ws = tokio_tungstenite::accept_hdr_async(stream, |req: &Request, mut res: Response| {
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

    /// Accepts the next connection and reads its hello.
    async fn accept_hello(&mut self) -> Ws {
        let (mut ws, _) = self.accept().await;
        let hello = text(&mut ws).await;
        assert!(hello.starts_with("_c|relay|"), "{hello}");
        ws
    }

    async fn attempt(&mut self) -> (Instant, bool) {
        timeout(LONG, self.attempts.recv())
            .await
            .expect("the client tries to connect")
            .expect("the connector is alive")
    }

    fn refuse(&self, refuse: bool) {
        self.refuse.store(refuse, Ordering::SeqCst);
    }
}

/// The next data frame as text (pongs included); panics on anything else.
async fn text(ws: &mut Ws) -> String {
    match next(ws).await {
        Message::Text(t) => t.as_str().to_owned(),
        other => panic!("expected a text frame, got {other:?}"),
    }
}

async fn next(ws: &mut Ws) -> Message {
    timeout(LONG, ws.next())
        .await
        .expect("a frame in time")
        .expect("the connection is open")
        .expect("a valid frame")
}

async fn send(ws: &mut Ws, frame: impl Into<String>) {
    ws.send(Message::text(frame.into())).await.expect("send");
}

async fn close(ws: &mut Ws, code: u16, reason: &str) {
    ws.close(Some(CloseFrame {
        code: code.into(),
        reason: reason.into(),
    }))
    .await
    .expect("close");
    // Read the client's answer to the close frame.
    let _ = timeout(LONG, async { while let Some(Ok(_)) = ws.next().await {} }).await;
}

/// The client's events with the (virtual) time each arrived.
fn collect(
    mut events: tagwire::client::Events<relay::Package>,
) -> mpsc::UnboundedReceiver<(Instant, Ev)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            let _ = tx.send((Instant::now(), event));
        }
    });
    rx
}

async fn event(events: &mut mpsc::UnboundedReceiver<(Instant, Ev)>) -> (Instant, Ev) {
    timeout(LONG, events.recv())
        .await
        .expect("an event in time")
        .expect("the client is running")
}

/// The next status event, skipping others.
async fn status(events: &mut mpsc::UnboundedReceiver<(Instant, Ev)>) -> (Instant, Status) {
    loop {
        if let (at, Event::Status(status)) = event(events).await {
            return (at, status);
        }
    }
}

/// The next `Reconnecting` status.
async fn reconnecting(
    events: &mut mpsc::UnboundedReceiver<(Instant, Ev)>,
) -> (Instant, ReconnectReason, Duration) {
    loop {
        if let (at, Status::Reconnecting { reason, delay }) = status(events).await {
            return (at, reason, delay);
        }
    }
}

fn echo(seq: u64) -> relay::ClientMessage {
    relay::ClientMessage::from(relay::EchoV1 {
        seq,
        body: format!("message {seq}"),
    })
}

fn config(seed: u64) -> ClientConfig {
    ClientConfig::default().with_seed(seed)
}

#[tokio::test(start_paused = true)]
async fn hello_is_the_first_frame_and_every_ping_gets_a_pong() {
    let (connector, mut net) = network();
    let (_client, events) = Client::<relay::Package>::connect_with(connector, config(1));
    let mut events = collect(events);
    let (mut ws, asked) = net.accept().await;
    assert_eq!(asked.as_deref(), Some("tagwire.text"));
    let headers: String = relay::HEADERS.iter().map(|(h, ..)| h.as_str()).collect();
    assert_eq!(
        text(&mut ws).await,
        format!("_c|relay|{}|{headers}", relay::PROTOCOL_FINGERPRINT)
    );
    assert_eq!(
        status(&mut events).await.1,
        Status::Connecting { attempt: 1 }
    );
    assert_eq!(status(&mut events).await.1, Status::Open);
    for _ in 0..4 {
        sleep(Duration::from_secs(30)).await;
        send(&mut ws, "_a").await;
        assert_eq!(text(&mut ws).await, "_b");
    }
    // Pinged every 30 s, the client never timed out.
    assert!(events.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stops_pinging_is_dropped_at_exactly_45_s_and_the_client_reconnects() {
    let (connector, mut net) = network();
    let (_client, events) = Client::<relay::Package>::connect_with(connector, config(2));
    let mut events = collect(events);
    let mut ws = net.accept_hello().await;
    // The timeout counts from the last ping, not from the open.
    sleep(Duration::from_secs(10)).await;
    send(&mut ws, "_a").await;
    let pinged = Instant::now();
    assert_eq!(text(&mut ws).await, "_b");

    // Silence: nothing from the client before 45 s ...
    assert!(
        timeout(Duration::from_millis(44_900), ws.next())
            .await
            .is_err(),
        "the client closed before 45 s"
    );
    // ... and a close with 4000 at exactly 45 s after the last ping.
    match next(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 4000),
        other => panic!("expected close 4000, got {other:?}"),
    }
    assert_eq!(pinged.elapsed(), Duration::from_secs(45));

    let (at, reason, delay) = reconnecting(&mut events).await;
    assert_eq!(reason, ReconnectReason::Heartbeat);
    assert!(delay <= Duration::from_millis(500), "{delay:?}");
    let _ws = net.accept_hello().await;
    assert_eq!(at.elapsed(), delay);
}

#[tokio::test(start_paused = true)]
async fn backoff_delays_stay_in_their_jitter_bounds_and_grow() {
    const RETRIES: usize = 9;
    let backoff = Backoff::default();
    let mut by_retry = vec![Vec::new(); RETRIES];
    for seed in 0..12 {
        let (connector, mut net) = network();
        net.refuse(true);
        let (client, events) = Client::<relay::Package>::connect_with(connector, config(seed));
        let mut events = collect(events);
        let (mut previous, refused) = net.attempt().await;
        assert!(refused);
        for (retry, delays) in by_retry.iter_mut().enumerate() {
            let (_, reason, delay) = reconnecting(&mut events).await;
            assert!(matches!(reason, ReconnectReason::Network(_)), "{reason:?}");
            let ceiling = backoff.ceiling(retry as u32);
            assert!(delay <= ceiling, "retry {retry}: {delay:?} > {ceiling:?}");
            let (at, _) = net.attempt().await;
            // The client sleeps exactly the delay it announced.
            assert_eq!(at - previous, delay, "retry {retry}");
            assert_eq!(
                status(&mut events).await.1,
                Status::Connecting {
                    attempt: retry as u32 + 2
                }
            );
            previous = at;
            delays.push(delay);
        }
        client.close().await;
    }
    let mean = |d: &Vec<Duration>| d.iter().sum::<Duration>() / d.len() as u32;
    let means: Vec<Duration> = by_retry.iter().map(mean).collect();
    // Full jitter over a growing ceiling: the late retries wait far longer
    // than the early ones, and the delays of one retry differ by seed.
    assert!(means[0] < means[3] && means[3] < means[7], "{means:?}");
    assert!(means[7] > Duration::from_secs(8), "{means:?}");
    for delays in &by_retry[2..] {
        assert!(
            delays.iter().any(|d| *d != delays[0]),
            "no jitter: {delays:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn after_a_drain_notice_the_reconnect_lands_inside_the_window_then_the_backoff_doubles() {
    let backoff = Backoff::default();
    let mut first_moments = Vec::new();
    let mut beyond_plain_ceiling = 0;
    for seed in 0..10 {
        let (connector, mut net) = network();
        let (client, events) = Client::<relay::Package>::connect_with(connector, config(seed));
        let mut events = collect(events);
        let mut ws = net.accept_hello().await;
        assert!(!net.attempt().await.1); // the first, accepted connection
        send(
            &mut ws,
            Control::Welcome(Welcome {
                package: "relay".into(),
                fingerprint: relay::PROTOCOL_FINGERPRINT.into(),
                ping_interval_ms: 30_000,
            })
            .to_text(),
        )
        .await;
        sleep(Duration::from_secs(3)).await;
        send(&mut ws, "_e|Server updating|5000|2").await;
        let noticed = Instant::now();
        net.refuse(true);
        close(&mut ws, 4001, "drain").await;

        let (_, reason, delay) = reconnecting(&mut events).await;
        assert_eq!(
            reason,
            ReconnectReason::Deploy {
                reason: "Server updating".into()
            }
        );
        assert!(delay <= Duration::from_millis(5_000), "{delay:?}");
        let (at, refused) = net.attempt().await;
        assert!(refused);
        let moment = at - noticed;
        assert!(moment <= Duration::from_millis(5_000), "{moment:?}");
        first_moments.push(moment);

        // The attempts that follow back off with the doubled curve.
        let mut previous = at;
        for retry in 1..6 {
            let (_, reason, delay) = reconnecting(&mut events).await;
            assert!(matches!(reason, ReconnectReason::Network(_)), "{reason:?}");
            let doubled = backoff.scaled_ceiling(retry, 2.0);
            assert_eq!(doubled, backoff.ceiling(retry) * 2);
            assert!(delay <= doubled, "retry {retry}: {delay:?} > {doubled:?}");
            if delay > backoff.ceiling(retry) {
                beyond_plain_ceiling += 1;
            }
            let (at, _) = net.attempt().await;
            assert_eq!(at - previous, delay);
            previous = at;
        }
        client.close().await;
    }
    // Spread across the window, not one moment for everyone.
    first_moments.sort();
    first_moments.dedup();
    assert!(first_moments.len() >= 8, "{first_moments:?}");
    // Doubled, not plain: about half the delays exceed the plain ceiling.
    assert!(beyond_plain_ceiling >= 10, "{beyond_plain_ceiling} of 50");
}

#[tokio::test(start_paused = true)]
async fn stop_codes_end_the_client_with_closed() {
    for code in [1008u16, 4003, 4004, 1000] {
        let (connector, mut net) = network();
        let (client, mut events) = Client::<relay::Package>::connect_with(connector, config(3));
        let mut ws = net.accept_hello().await;
        close(&mut ws, code, "go away").await;
        let mut last = None;
        while let Some(event) = timeout(LONG, events.next()).await.expect("events end") {
            last = Some(event);
        }
        match last {
            Some(Event::Status(Status::Closed {
                code: Some(closed),
                reason,
            })) => {
                assert_eq!(closed, CloseCode(code));
                assert_eq!(reason, "go away");
            }
            other => panic!("{code}: expected Closed, got {other:?}"),
        }
        assert!(client.is_closed());
        assert_eq!(client.send(echo(1)), Err(SendError::Closed));
        // And no reconnect, however long we wait.
        sleep(Duration::from_secs(600)).await;
        net.attempt().await; // the first and only attempt
        assert!(
            net.attempts.try_recv().is_err(),
            "{code}: the client reconnected"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn reconnect_codes_and_dropped_connections_reconnect() {
    let (connector, mut net) = network();
    let (_client, events) = Client::<relay::Package>::connect_with(connector, config(4));
    let mut events = collect(events);
    let mut ws = net.accept_hello().await;
    close(&mut ws, 1011, "oops").await;
    let (_, reason, _) = reconnecting(&mut events).await;
    assert_eq!(reason, ReconnectReason::Closed(CloseCode::INTERNAL_ERROR));
    let ws = net.accept_hello().await;
    drop(ws); // no close frame: abnormal closure
    let (_, reason, _) = reconnecting(&mut events).await;
    assert!(matches!(reason, ReconnectReason::Network(_)), "{reason:?}");
    let mut ws = net.accept_hello().await;
    // 4001 without a notice is still a deploy: inside the initial backoff.
    close(&mut ws, 4001, "").await;
    let (_, reason, delay) = reconnecting(&mut events).await;
    assert!(
        matches!(reason, ReconnectReason::Deploy { .. }),
        "{reason:?}"
    );
    assert!(delay <= Duration::from_millis(500));
    net.accept_hello().await;
}

#[tokio::test(start_paused = true)]
async fn messages_sent_while_disconnected_are_delivered_in_order_after_reconnecting() {
    let (connector, mut net) = network();
    let (client, events) = Client::<relay::Package>::connect_with(connector, config(5));
    let mut events = collect(events);
    let mut ws = net.accept_hello().await;
    client.send(echo(0)).expect("send while open");
    assert_eq!(text(&mut ws).await, echo(0).to_text());

    net.refuse(true);
    drop(ws);
    reconnecting(&mut events).await;
    for seq in 1..=20 {
        client.send(echo(seq)).expect("queued");
    }
    // Several refused attempts later, the server is back.
    for _ in 0..3 {
        net.attempt().await;
    }
    net.refuse(false);
    let mut ws = net.accept_hello().await;
    for seq in 1..=20 {
        assert_eq!(text(&mut ws).await, echo(seq).to_text());
    }
    assert_eq!(echo(3).to_text(), "ae|3|message 3");
}

#[tokio::test(start_paused = true)]
async fn the_send_queue_is_bounded() {
    // Reject (the default): the fourth message is refused.
    let (connector, mut net) = network();
    net.refuse(true);
    let cfg = config(6).with_queue(3, QueueFull::Reject);
    let (client, _events) = Client::<relay::Package>::connect_with(connector, cfg);
    for seq in 1..=3 {
        assert_eq!(client.send(echo(seq)), Ok(()));
    }
    assert_eq!(client.send(echo(4)), Err(SendError::Full { limit: 3 }));
    net.refuse(false);
    let mut ws = net.accept_hello().await;
    for seq in 1..=3 {
        assert_eq!(text(&mut ws).await, echo(seq).to_text());
    }

    // DropOldest: the newest three survive.
    let (connector, mut net) = network();
    net.refuse(true);
    let cfg = config(6).with_queue(3, QueueFull::DropOldest);
    let (client, _events) = Client::<relay::Package>::connect_with(connector, cfg);
    for seq in 1..=5 {
        assert_eq!(client.send(echo(seq)), Ok(()));
    }
    net.refuse(false);
    let mut ws = net.accept_hello().await;
    for seq in 3..=5 {
        assert_eq!(text(&mut ws).await, echo(seq).to_text());
    }
}

#[tokio::test(start_paused = true)]
async fn hostile_frames_are_skipped_and_errors_reported_without_dropping_the_connection() {
    let (connector, mut net) = network();
    let (client, events) = Client::<relay::Package>::connect_with(connector, config(7));
    let mut events = collect(events);
    let mut ws = net.accept_hello().await;
    for junk in [
        "",
        "z",
        "zz|1",
        "ad|room",
        "_e|x",
        "_z",
        "_a|extra",
        "ae|99999999999999999999999|x",
    ] {
        send(&mut ws, junk).await;
    }
    ws.send(Message::binary(vec![0xff, 0x00, 0x80]))
        .await
        .expect("send");
    ws.send(Message::binary(
        b"_d\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
    ))
    .await
    .expect("send");
    send(
        &mut ws,
        Control::Error(ErrorNotice {
            code: 1,
            message: "header zz is not a message this server accepts".into(),
        })
        .to_text(),
    )
    .await;
    let delivered = relay::ServerMessage::from(relay::DeliveredV1 {
        room: "lobby".into(),
        from: "ann".into(),
        seq: 7,
        body: "hi | there".into(),
    });
    send(&mut ws, delivered.to_text()).await;
    ws.send(Message::binary(delivered.to_binary()))
        .await
        .expect("send");

    let mut seen = Vec::new();
    while seen.len() < 3 {
        match event(&mut events).await.1 {
            Event::Status(Status::Connecting { .. } | Status::Open) => {}
            other => seen.push(other),
        }
    }
    assert!(
        matches!(&seen[0], Event::Error(ErrorNotice { code: 1, message }) if message.contains("zz")),
        "{seen:?}"
    );
    assert!(
        matches!(&seen[1], Event::Message(m) if *m == delivered),
        "{seen:?}"
    );
    assert!(
        matches!(&seen[2], Event::Message(m) if *m == delivered),
        "{seen:?}"
    );
    // Still the same connection: it answers pings and carries sends.
    send(&mut ws, "_a").await;
    assert_eq!(text(&mut ws).await, "_b");
    client.send(echo(1)).expect("send");
    assert_eq!(text(&mut ws).await, echo(1).to_text());
    assert!(net.attempts.try_recv().is_ok()); // the one attempt
    assert!(net.attempts.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn close_sends_the_queue_then_1000_and_stops() {
    let (connector, mut net) = network();
    let (client, mut events) = Client::<relay::Package>::connect_with(connector, config(8));
    let mut ws = net.accept_hello().await;
    client.send(echo(1)).expect("send");
    let closer = client.clone();
    let closing = tokio::spawn(async move { closer.close().await });
    assert_eq!(text(&mut ws).await, echo(1).to_text());
    match next(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected close 1000, got {other:?}"),
    }
    drop(ws);
    timeout(LONG, closing)
        .await
        .expect("close returns")
        .expect("no panic");
    let mut last = None;
    while let Some(event) = events.next().await {
        last = Some(event);
    }
    assert!(
        matches!(
            last,
            Some(Event::Status(Status::Closed {
                code: Some(CloseCode::NORMAL),
                ..
            }))
        ),
        "{last:?}"
    );
    assert_eq!(client.send(echo(2)), Err(SendError::Closed));
}

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_closes_the_connection() {
    let (connector, mut net) = network();
    let (client, _events) = Client::<relay::Package>::connect_with(connector, config(9));
    let mut ws = net.accept_hello().await;
    drop(client);
    match next(&mut ws).await {
        Message::Close(Some(frame)) => assert_eq!(u16::from(frame.code), 1000),
        other => panic!("expected close 1000, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_drain_notice_is_honoured_even_when_the_connection_just_drops() {
    let (connector, mut net) = network();
    let (_client, events) = Client::<relay::Package>::connect_with(connector, config(10));
    let mut events = collect(events);
    let mut ws = net.accept_hello().await;
    send(
        &mut ws,
        Control::Drain(DrainNotice {
            reason: "deploy 42".into(),
            window_ms: 60_000,
            backoff_multiplier: 2.0,
        })
        .to_text(),
    )
    .await;
    let noticed = Instant::now();
    drop(ws);
    let (_, reason, delay) = reconnecting(&mut events).await;
    assert_eq!(
        reason,
        ReconnectReason::Deploy {
            reason: "deploy 42".into()
        }
    );
    assert!(delay <= Duration::from_secs(60));
    net.accept_hello().await;
    assert!(noticed.elapsed() <= Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn close_returns_even_when_the_application_stopped_reading_events() {
    let (connector, mut net) = network();
    let cfg = config(11).with_event_buffer(4);
    let (client, _events) = Client::<relay::Package>::connect_with(connector, cfg);
    let mut ws = net.accept_hello().await;
    let delivered = relay::ServerMessage::from(relay::DeliveredV1 {
        room: "r".into(),
        from: "f".into(),
        seq: 1,
        body: "b".into(),
    });
    for _ in 0..50 {
        send(&mut ws, delivered.to_text()).await;
    }
    // The client is stuck handing events to nobody; close still works.
    sleep(Duration::from_secs(1)).await;
    let server = tokio::spawn(async move {
        let mut code = None;
        while let Some(Ok(message)) = ws.next().await {
            if let Message::Close(Some(frame)) = message {
                code = Some(u16::from(frame.code));
            }
        }
        code
    });
    timeout(Duration::from_secs(60), client.close())
        .await
        .expect("close returns");
    assert_eq!(server.await.expect("no panic"), Some(1000));
}
