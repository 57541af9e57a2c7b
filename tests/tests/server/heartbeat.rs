//! The server's heartbeat under tokio's paused clock, over in-memory pipes:
//! ping cadence, the 45 s closure of a silent client, and what keeps a
//! connection alive.

use crate::runtime_support;

use std::time::Duration;

use runtime_support::*;
use tagwire::control::Control;
use tagwire::server::ServerConfig;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn the_first_frame_is_the_welcome_with_the_ping_interval() {
    let (server, _) = server(ServerConfig::default());
    let mut peer = pipe_peer(&server, None).await;
    match next(&mut peer).await {
        Got::Control(Control::Welcome(w)) => {
            assert_eq!(w.package, "relay");
            assert_eq!(w.fingerprint, tagwire_tests::relay::PROTOCOL_FINGERPRINT);
            assert_eq!(w.ping_interval_ms, 30_000);
        }
        other => panic!("expected the welcome, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn pings_come_every_30_s_to_a_client_that_answers() {
    let (server, _) = server(ServerConfig::default());
    let mut peer = pipe_peer(&server, None).await;
    let start = Instant::now();
    let mut ping_times = Vec::new();
    while ping_times.len() < 5 {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => {
                ping_times.push(start.elapsed());
                send_control(&mut peer, &Control::Pong).await;
            }
            Got::Control(Control::Welcome(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected: Vec<Duration> = (1..=5).map(|i| 30 * i * SECOND).collect();
    assert_eq!(ping_times, expected);
    assert_eq!(server.handle().connection_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_answers_is_closed_at_45_s_with_4000() {
    let (server, app) = server(ServerConfig::default());
    let mut peer = pipe_peer(&server, None).await;
    let start = Instant::now();
    let mut pings = 0;
    let (code, at) = loop {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => pings += 1,
            Got::Control(Control::Welcome(_)) => {}
            Got::Close(code, _) => break (code, start.elapsed()),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, Some(4000));
    assert_eq!(at, 45 * SECOND, "closed at {at:?}");
    assert_eq!(pings, 1, "one ping at 30 s went unanswered");
    drop(peer);
    tokio::time::sleep(SECOND).await;
    assert_eq!(server.handle().connection_count(), 0);
    let closes = app.closes.lock().expect("lock").clone();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].code, Some(tagwire::CloseCode::HEARTBEAT_TIMEOUT));
    assert!(closes[0].by_server);
}

#[tokio::test(start_paused = true)]
async fn a_late_pong_counts_from_when_it_arrives() {
    let (server, _) = server(ServerConfig::default());
    let mut peer = pipe_peer(&server, None).await;
    let start = Instant::now();
    // Answer the 30 s ping 10 s late (at 40 s): the next deadline is 85 s,
    // so the 60 s ping is left unanswered and the close comes at 85 s.
    loop {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => break,
            Got::Control(Control::Welcome(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    tokio::time::sleep(10 * SECOND).await;
    send_control(&mut peer, &Control::Pong).await;
    let closed_at = loop {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => {}
            Got::Close(Some(4000), _) => break start.elapsed(),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(closed_at, 85 * SECOND);
}

#[tokio::test(start_paused = true)]
async fn application_traffic_does_not_stand_in_for_pongs() {
    let (server, _) = server(ServerConfig::default());
    let mut peer = pipe_peer(&server, None).await;
    let start = Instant::now();
    // An echo every 10 s, but no pongs: still closed at 45 s.
    let mut seq = 0;
    let closed_at = loop {
        tokio::select! {
            got = next(&mut peer) => match got {
                Got::Close(Some(4000), _) => break start.elapsed(),
                Got::Close(other, reason) => panic!("closed with {other:?} {reason}"),
                _ => {}
            },
            () = tokio::time::sleep(10 * SECOND) => {
                seq += 1;
                send(&mut peer, &echo(seq)).await;
            }
        }
    };
    assert_eq!(closed_at, 45 * SECOND);
}

#[tokio::test(start_paused = true)]
async fn intervals_are_configurable() {
    let mut config = ServerConfig::default();
    config.heartbeat.ping_interval = 5 * SECOND;
    config.heartbeat.pong_timeout = 12 * SECOND;
    let (server, _) = server(config);
    let mut peer = pipe_peer(&server, None).await;
    let start = Instant::now();
    let mut pings = Vec::new();
    let closed_at = loop {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => pings.push(start.elapsed()),
            Got::Control(Control::Welcome(w)) => assert_eq!(w.ping_interval_ms, 5_000),
            Got::Close(Some(4000), _) => break start.elapsed(),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(pings, vec![5 * SECOND, 10 * SECOND]);
    assert_eq!(closed_at, 12 * SECOND);
}

#[tokio::test(start_paused = true)]
async fn pings_of_connections_opened_at_different_moments_share_one_second_slots() {
    let (server, _) = server(ServerConfig::default());
    let start = Instant::now();
    let mut peers = Vec::new();
    for i in 0..5u64 {
        tokio::time::sleep(Duration::from_millis(150 + 100 * i)).await;
        peers.push(pipe_peer(&server, None).await);
    }
    // Opened at 0.15, 0.40, 0.75, 1.20 and 1.75 s: first pings at 31, 31,
    // 31, 32 and 32 s (30 s later, rounded up to the next whole second).
    let mut first_pings = Vec::new();
    for peer in &mut peers {
        loop {
            match next(peer).await {
                Got::Control(Control::Ping) => {
                    first_pings.push(start.elapsed());
                    break;
                }
                Got::Control(Control::Welcome(_)) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(first_pings, [31, 31, 31, 32, 32].map(|s| s * SECOND));
}

#[tokio::test(start_paused = true)]
async fn coalescing_can_be_turned_off() {
    let mut config = ServerConfig::default();
    config.heartbeat.coalesce = Duration::ZERO;
    let (server, _) = server(config);
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(250)).await;
    let mut peer = pipe_peer(&server, None).await;
    loop {
        match next(&mut peer).await {
            Got::Control(Control::Ping) => break,
            Got::Control(Control::Welcome(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(start.elapsed(), 30 * SECOND + Duration::from_millis(250));
}
