//! Every phase of the drain under tokio's paused clock, over in-memory
//! pipes: 503 at once, no notice before the grace period, notices in
//! batches across the window, queued frames flushed before the close,
//! refusals during the drain, and the hard deadline.

use crate::runtime_support;

use std::time::Duration;

use runtime_support::*;
use tagwire::control::{Control, DrainNotice};
use tagwire::server::{DrainPhase, ServerConfig};
use tagwire_tests::relay::{ClientMessage, DeliveredV1, JoinV1, ServerMessage};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn delivered(seq: u64) -> ServerMessage {
    ServerMessage::DeliveredV1(DeliveredV1 {
        room: "all".into(),
        from: "server".into(),
        seq,
        body: format!("message {seq}"),
    })
}

async fn joined_peers(
    server: &RelayServer,
    n: usize,
) -> Vec<tokio_tungstenite::WebSocketStream<tokio::io::DuplexStream>> {
    let mut peers = Vec::new();
    for i in 0..n {
        let subprotocol = if i % 2 == 0 {
            None
        } else {
            Some("tagwire.binary")
        };
        let mut peer = pipe_peer(server, subprotocol).await;
        send(
            &mut peer,
            &ClientMessage::JoinV1(JoinV1 { room: "all".into() }),
        )
        .await;
        peers.push(peer);
    }
    // Let the server handle the joins.
    while server.handle().room_len("all") < n {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    peers
}

#[tokio::test(start_paused = true)]
async fn drain_flushes_queued_frames_then_notifies_in_batches_after_the_grace_period() {
    let (server, app) = server(ServerConfig::default());
    let handle = server.handle();
    let peers = joined_peers(&server, 40).await;
    let start = Instant::now();
    let readers: Vec<_> = peers.into_iter().map(|p| spawn_reader(p, start)).collect();

    // Accepted just before the drain: must arrive before the notice.
    for seq in 1..=3 {
        assert_eq!(handle.broadcast("all", &delivered(seq)), 40);
    }
    handle.drain();
    assert!(handle.is_draining(), "health turns 503 at once");
    assert_eq!(handle.phase(), DrainPhase::Grace);

    let report = handle.drained().await;
    assert_eq!(report.connections_at_start, 40);
    assert_eq!(report.notified, 40);
    assert_eq!(report.cut_at_deadline, 0);
    assert_eq!(report.grace, 20 * SECOND);

    let mut notice_times = Vec::new();
    for reader in readers {
        let log = reader.await.expect("reader");
        let data: Vec<&Got> = log
            .iter()
            .map(|(_, g)| g)
            .filter(|g| !matches!(g, Got::Control(Control::Welcome(_) | Control::Ping)))
            .collect();
        assert_eq!(
            data,
            [
                &Got::Message(delivered(1)),
                &Got::Message(delivered(2)),
                &Got::Message(delivered(3)),
                &Got::Control(Control::Drain(DrainNotice {
                    reason: "Server updating".into(),
                    window_ms: 5_000,
                    backoff_multiplier: 2.0,
                })),
                &Got::Close(Some(4001), "Server updating".into()),
            ]
        );
        let (at, _) = log
            .iter()
            .find(|(_, g)| matches!(g, Got::Control(Control::Drain(_))))
            .expect("notice");
        notice_times.push(*at);
    }
    // No notice before the grace period; all within the 10 s window after
    // it, 20 batches of 2, one batch every 500 ms.
    notice_times.sort();
    assert_eq!(notice_times[0], 20 * SECOND);
    assert_eq!(notice_times[39], 20 * SECOND + Duration::from_millis(9_500));
    for (i, pair) in notice_times.chunks(2).enumerate() {
        let expected = 20 * SECOND + Duration::from_millis(500 * i as u64);
        assert_eq!(pair, [expected, expected], "batch {i}");
    }
    assert_eq!(handle.connection_count(), 0);
    let closes = app.closes.lock().expect("lock").clone();
    assert_eq!(closes.len(), 40);
    assert!(
        closes
            .iter()
            .all(|c| c.undelivered == 0 && c.code == Some(tagwire::CloseCode::DRAIN))
    );
}

#[tokio::test(start_paused = true)]
async fn new_connections_are_refused_with_503_during_the_drain() {
    let (server, _) = server(ServerConfig::default());
    let handle = server.handle();
    let _peer = pipe_peer(&server, None).await;
    handle.drain();
    let (client_end, server_end) = tokio::io::duplex(4096);
    let s = server.clone();
    let served = tokio::spawn(async move { s.serve_io(server_end, None).await });
    let refused = handshake(client_end, "ws://pipe/ws", None).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    assert!(served.await.expect("task").is_err());
    assert_eq!(handle.connection_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_drain_with_no_connections_ends_at_once() {
    let (server, _) = server(ServerConfig::default());
    let handle = server.handle();
    let start = Instant::now();
    handle.drain();
    let report = handle.drained().await;
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(report.notified, 0);
}

#[tokio::test(start_paused = true)]
async fn the_drain_ends_early_when_every_client_left_during_the_grace_period() {
    let (server, _) = server(ServerConfig::default());
    let handle = server.handle();
    let mut peers = joined_peers(&server, 3).await;
    let start = Instant::now();
    handle.drain();
    tokio::time::sleep(3 * SECOND).await;
    for peer in &mut peers {
        let _ = peer.close(None).await;
    }
    drop(peers);
    let report = handle.drained().await;
    assert!(start.elapsed() < 4 * SECOND, "{:?}", start.elapsed());
    assert_eq!(report.notified, 0);
}

#[tokio::test(start_paused = true)]
async fn the_hard_deadline_ends_the_drain_even_with_a_stuck_handler() {
    let mut config = ServerConfig::default();
    config.drain.deadline = 40 * SECOND;
    config.drain.close_timeout = 2 * SECOND;
    let (server, _) = server(config);
    let handle = server.handle();
    let mut stuck = pipe_peer(&server, None).await;
    send(
        &mut stuck,
        &ClientMessage::EchoV1(tagwire_tests::relay::EchoV1 {
            seq: 1,
            body: "hang".into(),
        }),
    )
    .await;
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(10)).await;
    handle.drain();
    let report = handle.drained().await;
    assert_eq!(report.cut_at_deadline, 1);
    // The deadline, then the close timeout for the 1001 close.
    assert_eq!(report.total, 42 * SECOND);
    assert_eq!(start.elapsed(), 42 * SECOND + Duration::from_millis(10));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_closed_as_a_slow_consumer() {
    let mut config = ServerConfig::default();
    config.limits.outbound_queue_frames = 16;
    let (server, app) = server(config);
    let handle = server.handle();
    let mut peers = joined_peers(&server, 1).await;
    // Queue more than the bound before the connection's task can write.
    let accepted: usize = (1..=20)
        .map(|seq| handle.broadcast("all", &delivered(seq)))
        .sum();
    assert_eq!(accepted, 16);
    let mut got = Vec::new();
    loop {
        match next_data(&mut peers[0]).await {
            Got::Close(code, _) => {
                got.push(Got::Close(code, String::new()));
                break;
            }
            Got::End => break,
            other => got.push(other),
        }
    }
    assert_eq!(got, [Got::Close(Some(4002), String::new())]);
    drop(peers);
    tokio::time::sleep(SECOND).await;
    let closes = app.closes.lock().expect("lock").clone();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].code, Some(tagwire::CloseCode::SLOW_CONSUMER));
    assert_eq!(
        closes[0].undelivered, 17,
        "16 queued plus the one that overflowed"
    );
}
