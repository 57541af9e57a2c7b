//! The hostile-input matrix (docs/SECURITY.md): a running server attacked
//! over real loopback sockets. For every attack the test checks the exact
//! error notice (`_f` code) or close code, that the server stays up (a
//! fresh client still gets its echo, `/health` is 200), that the live heap
//! the attack added stays under a stated bound during and after it, and
//! that a well-behaved client (the witness) keeps exchanging numbered
//! messages through the attack with none lost or reordered.
//!
//! Every test runs server, attacker and witness on one current-thread
//! runtime, so `allocation-counter` (thread-local, exact) sees all of their
//! allocations; see `hostile_support`. Attacks about time (half frames, half
//! upgrade requests, silence) run on tokio's paused clock with the default
//! timeouts; the others run in real time and take milliseconds.
#![allow(clippy::unwrap_used)]

use crate::hostile_support;
use crate::runtime_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hostile_support::*;
use runtime_support::{Relay, health, quiet_expected_panics, server};
use tagwire::control::error_code;
use tagwire::server::{
    ConnectRequest, Connection, Denied, Handler, OriginConfig, RateLimits, Server, ServerConfig,
    ServerHandle,
};
use tagwire::{Protocol, Quota};
use tagwire_tests::everything as ev;
use tagwire_tests::relay::{self, ClientMessage, JoinV1, PublishV1, ServerMessage};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::time::Instant;

const KIB: usize = 1024;

/// Heap an attacker may leave behind once its connection is gone. It is
/// measured while the witness still runs, so it holds the runtime's slabs
/// and whatever is in flight to the witness: after the slow-consumer flood
/// of 16 KiB room messages (20,000 of them, 320 MiB offered), that is a
/// few of those frames — four (about 66 KiB), because room messages go
/// through the broadcast backend, which leaves the witness one message
/// further behind than a direct send would. A leak would scale with the
/// flood, not stay at a handful of frames.
const RETAINED: i64 = 96 * KIB as i64;

/// How a test server decides who may connect.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Auth {
    /// Everyone (`Server::new`).
    Open,
    /// An authentication hook that refuses requests carrying an
    /// `X-Token` other than `good` (the witness sends none).
    Token,
}

async fn start(config: ServerConfig, auth: Auth) -> (Handle, Arc<Relay>, SocketAddr) {
    // Measured without room history: the witness's own room messages would
    // fill the replay window (1,000 messages by default, bounded by
    // `HistoryWindow`, docs/SCALE.md) while an attack is measured.
    let no_history = tagwire::server::backend::HistoryWindow {
        max_messages: 0,
        max_age: None,
    };
    let config = config.with_backend(Arc::new(tagwire::server::backend::LocalBackend::new(
        no_history,
    )));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (handle, app) = match auth {
        Auth::Open => {
            let (server, app) = server(config);
            let handle = server.handle();
            tokio::spawn(async move { server.serve(listener).await });
            (handle, app)
        }
        Auth::Token => {
            let app = Arc::new(Relay::default());
            let hook = |request: &ConnectRequest| {
                let token = request.header("x-token").map(str::to_owned);
                async move {
                    match token.as_deref() {
                        None | Some("good") => Ok(()),
                        Some(_) => Err(Denied::new("token refused")),
                    }
                }
            };
            let server = Server::with_auth(app.clone(), hook, config);
            let handle = server.handle();
            tokio::spawn(async move { server.serve(listener).await });
            (handle, app)
        }
    };
    (handle, app, addr)
}

type Handle = ServerHandle<relay::Package>;

/// The relay witness: joins room `w`, publishes `seq` to it, waits for its
/// own delivery. Attackers that join `w` receive these too.
const RELAY: Script = Script {
    setup: Some(|| ClientMessage::JoinV1(JoinV1 { room: "w".into() }).to_text()),
    request: |seq| {
        ClientMessage::PublishV1(PublishV1 {
            room: "w".into(),
            seq,
            body: "witness".into(),
        })
        .to_text()
    },
    reply: |text| match ServerMessage::decode_text(text) {
        Ok(ServerMessage::DeliveredV1(d)) if d.body == "witness" => Some(d.seq),
        _ => None,
    },
};

/// What an attack gets to work with.
struct Target {
    server: Handle,
    app: Arc<Relay>,
    addr: SocketAddr,
    witness: Witness,
}

/// Runs `attack` against a relay server with `config`, with a witness in
/// room `w`; then checks the heap bound, that the attacker's connections
/// are gone, that the witness kept going with nothing lost, and that the
/// server still serves.
fn relay_attack<F, Fut>(
    name: &str,
    paused: bool,
    config: ServerConfig,
    heap_bound: usize,
    attack: F,
) where
    F: FnOnce(Arc<Target>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    relay_attack_with(name, paused, config, Auth::Open, heap_bound, attack);
}

/// [`relay_attack`] against a server with the given authentication.
fn relay_attack_with<F, Fut>(
    name: &str,
    paused: bool,
    config: ServerConfig,
    auth: Auth,
    heap_bound: usize,
    attack: F,
) where
    F: FnOnce(Arc<Target>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = runtime(paused);
    let target = rt.block_on(async {
        if paused {
            tick();
        }
        let (server, app, addr) = start(config, auth).await;
        let pace = if paused {
            Duration::from_millis(50)
        } else {
            Duration::ZERO
        };
        let witness = Witness::start(addr, RELAY, pace).await;
        witness.advance(3).await;
        Arc::new(Target {
            server,
            app,
            addr,
            witness,
        })
    });
    let t = target.clone();
    let ((), info) = measured(&rt, async move {
        let before = t.witness.count();
        attack(t.clone()).await;
        // The attacker's connections end; the witness is the only one left.
        let started = Instant::now();
        while t.server.connection_count() > 1 {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "{} connections still open after the attack",
                t.server.connection_count()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        t.witness.advance(10).await;
        assert!(t.witness.count() >= before + 10);
    });
    let target = Arc::try_unwrap(target).unwrap_or_else(|_| panic!("target still shared"));
    let exchanged = rt.block_on(async {
        assert_serving(target.addr).await;
        target.witness.finish().await
    });
    check_heap(name, &info, heap_bound, exchanged);
}

/// On the paused clock, tokio jumps to the next timer whenever every task
/// waits, and a task waiting for loopback I/O counts as waiting. Without a
/// near timer, a witness's pong still in flight could be overtaken by a
/// jump to the server's pong deadline. A 10 ms ticker bounds every jump.
fn tick() {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

/// The application's own bug, ten thousand times: a handler that panics on
/// one message. Each connection is closed with 1011 (the panic's text is
/// not sent), taken out of the registry and its rooms, and gives back its
/// memory: the server's heap ends where it started.
#[test]
fn ten_thousand_connections_whose_handler_panics_leave_the_heap_where_it_started() {
    quiet_expected_panics();
    const CONNECTIONS: usize = 10_000;
    const AT_ONCE: usize = 50;
    relay_attack(
        "handler panics",
        false,
        ServerConfig::default(),
        3 * 1024 * KIB,
        |t| async move {
            let before = t.server.handler_panics();
            for _ in 0..CONNECTIONS / AT_ONCE {
                let batch = (0..AT_ONCE).map(|_| async {
                    let mut raw = Raw::open(t.addr).await;
                    raw.text(&join_text("p")).await;
                    raw.text("ae|1|panic").await;
                    let reason = raw.expect_close(1011).await;
                    assert_eq!(reason, "internal server error");
                });
                futures_util::future::join_all(batch).await;
            }
            assert_eq!(t.server.handler_panics() - before, CONNECTIONS as u64);
            // Each waits up to the close timeout for a close reply the raw
            // peer never sends, then leaves the registry and its room.
            let started = Instant::now();
            while t.server.connection_count() > 1 {
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "connections left"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(
                t.server.room_len("p"),
                0,
                "no panicked connection is left in a room"
            );
            // Every one was reported to on_close as a panic. The relay keeps
            // each report: that is the application's memory, not the
            // server's, so it is let go before the heap is read.
            let mut closes = t.app.closes.lock().unwrap();
            assert_eq!(
                closes
                    .iter()
                    .filter(|c| c.panicked && c.code.map(|c| c.0) == Some(1011))
                    .count(),
                CONNECTIONS
            );
            *closes = Vec::new();
        },
    );
}

/// A fresh client gets its echo back and the health check says 200.
async fn assert_serving(addr: SocketAddr) {
    let mut probe = Raw::open(addr).await;
    probe.text("ae|1|alive").await;
    assert_eq!(
        probe.next_within(Duration::from_secs(10)).await,
        Seen::Data(b"ae|1|alive".to_vec())
    );
    assert_eq!(health(addr).await, Some(200));
}

fn join_text(room: &str) -> String {
    ClientMessage::JoinV1(JoinV1 { room: room.into() }).to_text()
}

// ---------------------------------------------------------------- frames

#[test]
fn oversized_frames_are_closed_with_1009_before_their_payload_is_read() {
    // Prepared before measuring: the attacker's own buffer is not the
    // server's memory.
    let real = frame(TEXT, format!("ae|1|{}", "x".repeat(200 * KIB)).as_bytes());
    let mut claim = frame_header(BINARY, true, 1 << 40);
    claim.extend_from_slice(&[0u8; 1024]);
    relay_attack(
        "oversized",
        false,
        ServerConfig::default(),
        256 * KIB,
        |t| async move {
            for attack in [&real, &claim] {
                let mut raw = Raw::open(t.addr).await;
                raw.write(attack).await;
                let reason = raw.expect_close(1009).await;
                assert!(reason.contains("65536"), "{reason}");
            }
        },
    );
}

#[test]
fn a_flood_of_frames_just_under_the_limit_is_answered_one_by_one() {
    // 200 frames of 64 KiB minus a little, each with an unknown header:
    // 12.8 MB through a 64 KiB frame limit.
    let one = frame(BINARY, &{
        let mut f = b"zz".to_vec();
        f.resize(64 * KIB - 16, b'x');
        f
    });
    let flood: Vec<u8> = one.iter().copied().cycle().take(one.len() * 200).collect();
    relay_attack(
        "flood under the limit",
        false,
        ServerConfig::default(),
        512 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            let write = async {
                for chunk in flood.chunks(256 * KIB) {
                    raw.tcp.write_all(chunk).await.expect("flood");
                }
            };
            let ((), ()) = tokio::join!(write, t.witness.advance(10));
            for _ in 0..200 {
                raw.expect_error(error_code::UNKNOWN_HEADER).await;
            }
        },
    );
}

#[test]
fn a_flood_that_never_reads_its_replies_is_closed_as_a_slow_consumer() {
    // Echoes of 60 KiB: the replies fill the socket, then the outbox
    // (1 MiB), then the server gives up on the client.
    let one = frame(
        TEXT,
        ClientMessage::EchoV1(relay::EchoV1 {
            seq: 1,
            body: "x".repeat(60 * KIB),
        })
        .to_text()
        .as_bytes(),
    );
    let mut config = ServerConfig::default();
    config.limits.write_timeout = Duration::from_millis(300);
    relay_attack(
        "echo flood, never read",
        false,
        config,
        2048 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            let write = async {
                // Until the server stops reading and then closes the socket.
                for _ in 0..2_000 {
                    if !raw.write(&one).await {
                        break;
                    }
                }
            };
            let deadline = tokio::time::timeout(Duration::from_secs(20), write);
            let (_, ()) = tokio::join!(deadline, t.witness.advance(10));
            let closes = t.app.closes.lock().unwrap().clone();
            let attacker = closes
                .iter()
                .find(|c| c.undelivered > 0 || c.code == Some(tagwire::CloseCode::SLOW_CONSUMER));
            let attacker = attacker.unwrap_or_else(|| panic!("no slow-consumer close: {closes:?}"));
            assert_eq!(
                attacker.code,
                Some(tagwire::CloseCode::SLOW_CONSUMER),
                "{closes:?}"
            );
            drop(raw);
        },
    );
}

#[test]
fn a_burst_of_small_messages_loses_none() {
    // 100 echoes in one write: they arrive together, and the server reads
    // frames that have already arrived in batches before writing replies.
    let burst: Vec<u8> = (0..100u64)
        .flat_map(|seq| frame(TEXT, format!("ae|{seq}|b").as_bytes()))
        .collect();
    relay_attack(
        "burst",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.write(&burst).await;
            raw.text("ae|100|end").await;
            let mut got = Vec::new();
            loop {
                match raw.next_within(Duration::from_secs(10)).await {
                    Seen::Data(d) if d == b"ae|100|end" => break,
                    Seen::Data(d) => got.push(String::from_utf8(d).unwrap()),
                    other => panic!("{other:?}"),
                }
            }
            let want: Vec<String> = (0..100).map(|seq| format!("ae|{seq}|b")).collect();
            let missing: Vec<&String> = want.iter().filter(|w| !got.contains(w)).collect();
            assert!(
                missing.is_empty(),
                "{} of 100 echoes lost: {missing:?}",
                missing.len()
            );
            assert_eq!(got, want, "out of order");
        },
    );
}

#[test]
fn invalid_utf8_in_a_text_frame_is_closed_with_1007() {
    relay_attack(
        "invalid UTF-8",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.write(&frame(TEXT, b"ae|1|\xff\xfe")).await;
            raw.expect_close(1007).await;
            // Split inside a character across two fragments: still 1007.
            let mut raw = Raw::open(t.addr).await;
            raw.write(&frame_header(TEXT, false, 6)).await;
            raw.write(b"ae|1|\xc3").await;
            raw.write(&frame(CONTINUATION, b"(")).await;
            raw.expect_close(1007).await;
        },
    );
}

#[test]
fn truncated_messages_get_malformed_and_the_connection_stays() {
    relay_attack(
        "truncated",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            // Publish without its seq and body.
            raw.text("ac|w").await;
            let m = raw.expect_error(error_code::MALFORMED).await;
            assert!(m.contains("truncated"), "{m}");
            // Binary echo: seq, then a body length of 5 with no bytes.
            raw.binary(b"ae\x01\x05").await;
            let m = raw.expect_error(error_code::MALFORMED).await;
            assert!(m.contains("truncated at byte 3"), "{m}");
            // Shorter than a header.
            raw.text("a").await;
            let m = raw.expect_error(error_code::MALFORMED).await;
            assert!(m.contains("truncated"), "{m}");
            raw.text("ae|2|still here").await;
            assert_eq!(raw.next().await, Seen::Data(b"ae|2|still here".to_vec()));
        },
    );
}

#[test]
fn a_websocket_frame_cut_off_by_the_peer_ends_only_that_connection() {
    relay_attack(
        "cut-off frame",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.write(&frame_header(TEXT, true, 100)).await;
            raw.write(b"ae|1|only ten").await;
            raw.tcp.shutdown().await.expect("shutdown");
            // The stream ended inside a frame: tungstenite calls that a reset
            // without closing handshake, the server reports a 1002 it closed
            // with, and the peer gets no close frame (the socket is done).
            assert_eq!(raw.next_within(Duration::from_secs(10)).await, Seen::End);
            let started = Instant::now();
            while t.app.closes.lock().unwrap().is_empty() {
                assert!(started.elapsed() < Duration::from_secs(10));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let report = t.app.closes.lock().unwrap()[0].clone();
            assert_eq!(report.code, Some(tagwire::CloseCode(1002)), "{report:?}");
            assert!(
                report.by_server && report.reason.contains("without closing handshake"),
                "{report:?}"
            );
        },
    );
}

#[test]
fn unknown_headers_get_error_1() {
    relay_attack(
        "unknown headers",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.text("zz|1").await;
            let m = raw.expect_error(error_code::UNKNOWN_HEADER).await;
            assert!(m.contains("zz"), "{m}");
            // Not alphabet symbols at all.
            raw.binary(&[0x00, 0xff, 1, 2, 3]).await;
            raw.expect_error(error_code::UNKNOWN_HEADER).await;
            raw.text("!!").await;
            raw.expect_error(error_code::UNKNOWN_HEADER).await;
        },
    );
}

#[test]
fn messages_only_servers_send_get_error_3() {
    relay_attack(
        "server-only messages",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            let delivered = ServerMessage::DeliveredV1(relay::DeliveredV1 {
                room: "w".into(),
                from: "forged".into(),
                seq: 0,
                body: "witness".into(),
            });
            raw.text(&delivered.to_text()).await;
            let m = raw.expect_error(error_code::WRONG_DIRECTION).await;
            assert!(m.contains("ad"), "{m}");
            raw.binary(&delivered.to_binary()).await;
            raw.expect_error(error_code::WRONG_DIRECTION).await;
        },
    );
}

#[test]
fn reserved_control_headers_from_a_client_are_refused_or_ignored() {
    relay_attack(
        "reserved control headers",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            // Control messages only servers send: ping, welcome, drain,
            // error, outdated.
            for frame in [
                "_a",
                "_d|relay|0000000000000000|1",
                "_e|bye|1|2",
                "_f|1|forged",
                "_g|ae|Echo|1|forged",
            ] {
                raw.text(frame).await;
                let m = raw.expect_error(error_code::WRONG_DIRECTION).await;
                assert!(m.contains(&frame[..2]), "{frame}: {m}");
            }
            // Reserved for later control messages: unknown today.
            for frame in ["_y", "__|x", "_z"] {
                raw.text(frame).await;
                raw.expect_error(error_code::UNKNOWN_HEADER).await;
            }
            // A malformed hello, then a second hello: the first valid one
            // stands (no header list: a current client) and nothing is
            // answered. Had the second stood, the client would know only
            // `ab` and get the outdated notice instead of the echo.
            raw.text("_c|relay").await;
            raw.expect_error(error_code::MALFORMED).await;
            raw.text("_c|relay|f|").await;
            raw.text("_c|other|g|ab").await;
            raw.text("ae|3|after hellos").await;
            assert_eq!(raw.next().await, Seen::Data(b"ae|3|after hellos".to_vec()));
        },
    );
}

#[test]
fn ping_floods_cost_no_memory_and_get_no_more_than_one_answer_each() {
    let ws_pings: Vec<u8> = frame(PING, &[7u8; 125])
        .iter()
        .copied()
        .cycle()
        .take(frame(PING, &[7u8; 125]).len() * 10_000)
        .collect();
    let pongs: Vec<u8> = frame(TEXT, b"_b")
        .iter()
        .copied()
        .cycle()
        .take(6 * 10_000)
        .collect();
    relay_attack(
        "ping floods",
        false,
        ServerConfig::default(),
        256 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            // 10,000 WebSocket pings, never reading the pongs; then 10,000
            // Tagwire pongs (no answer at all); then 300 Tagwire pings, which
            // only servers send.
            let flood = async {
                raw.tcp.write_all(&ws_pings).await.expect("pings");
                raw.tcp.write_all(&pongs).await.expect("pongs");
                for _ in 0..300 {
                    raw.text("_a").await;
                }
                raw.text("ae|4|after the floods").await;
            };
            let ((), ()) = tokio::join!(flood, t.witness.advance(10));
            let (mut ws_pongs, mut refusals) = (0, 0);
            loop {
                match raw.next_within(Duration::from_secs(10)).await {
                    Seen::Pong => ws_pongs += 1,
                    Seen::Error(code, _) => {
                        assert_eq!(code, error_code::WRONG_DIRECTION);
                        refusals += 1;
                    }
                    Seen::Data(d) => {
                        assert_eq!(d, b"ae|4|after the floods");
                        break;
                    }
                    other => panic!("{other:?}"),
                }
            }
            assert_eq!(refusals, 300);
            assert!((1..=10_000).contains(&ws_pongs), "{ws_pongs} pongs");
            eprintln!("ping flood: 10000 WebSocket pings answered by {ws_pongs} pongs");
        },
    );
}

// ------------------------------------------------------- nesting, counts

/// Echoes `Optionals` back: the witness of the `everything` server.
#[derive(Debug)]
struct Mirror;

impl Handler<ev::Package> for Mirror {
    async fn on_message(&self, conn: &Connection<ev::Package>, message: ev::ClientMessage) {
        if let ev::ClientMessage::OptionalsV1(o) = message {
            let _ = conn.send(o);
        }
    }
}

fn optionals(seq: Option<u64>, chain: Option<ev::Chain>) -> ev::OptionalsV1 {
    ev::OptionalsV1 {
        o_bool: None,
        o_u64: seq,
        o_i64: None,
        o_f32: None,
        o_f64: None,
        o_string: None,
        o_bytes: None,
        o_point: None,
        o_empty: None,
        o_color: None,
        o_shape: None,
        o_list: None,
        o_map: None,
        list_of_opt: Vec::new(),
        deep: Vec::new(),
        o_chain: chain,
    }
}

const MIRROR: Script = Script {
    setup: None,
    request: |seq| ev::ClientMessage::OptionalsV1(optionals(Some(seq), None)).to_text(),
    reply: |text| match ev::ServerMessage::decode_text(text) {
        Ok(ev::ServerMessage::OptionalsV1(o)) => o.o_u64,
        _ => None,
    },
};

fn chain(depth: usize) -> Option<ev::Chain> {
    let mut next = None;
    for _ in 0..depth {
        next = Some(ev::Chain {
            value: 7,
            next: next.map(Box::new),
        });
    }
    next
}

/// `Optionals` in binary with a chain `depth` links long, written by hand
/// so it can be far deeper than a value the test could build and drop
/// (recursively) on its stack.
fn deep_binary(depth: usize) -> Vec<u8> {
    let mut f = b"ac".to_vec();
    f.extend_from_slice(&[0; 13]); // 13 absent optionals
    f.extend_from_slice(&[0, 0]); // two empty lists
    for _ in 0..depth {
        f.extend_from_slice(&[1, 7]); // present, value 7
    }
    f.push(0); // the last link has no next
    f
}

fn mirror_attack<F, Fut>(name: &str, heap_bound: usize, attack: F)
where
    F: FnOnce(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = runtime(false);
    let (server, addr, witness) = rt.block_on(async {
        let server = Server::new(Mirror, ServerConfig::default());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let s = server.clone();
        tokio::spawn(async move { s.serve(listener).await });
        let witness = Witness::start(addr, MIRROR, Duration::ZERO).await;
        witness.advance(3).await;
        (server, addr, witness)
    });
    let ((), info) = measured(&rt, async {
        attack(addr).await;
        while server.handle().connection_count() > 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        witness.advance(10).await;
    });
    let exchanged = rt.block_on(async {
        assert_eq!(health(addr).await, Some(200));
        witness.finish().await
    });
    check_heap(name, &info, heap_bound, exchanged);
}

#[test]
fn deep_nesting_gets_malformed_too_deep_at_level_65() {
    assert_eq!(
        deep_binary(3),
        ev::ClientMessage::OptionalsV1(optionals(None, chain(3))).to_binary(),
        "the hand-written frame is what the encoder writes"
    );
    let text = ev::ClientMessage::OptionalsV1(optionals(None, chain(100))).to_text();
    let binary = deep_binary(30_000);
    // The 60 KB frame itself sits in the read buffer while it is decoded.
    mirror_attack("deep nesting", 256 * KIB, |addr| async move {
        let mut raw = Raw::open(addr).await;
        raw.text(&text).await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(m.contains("too deep"), "{m}");
        raw.binary(&binary).await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(m.contains("too deep"), "{m}");
        // Each link is two levels (its optional and its struct), and the
        // last link's absent `next` counts too: 31 links reach level 63 and
        // decode; 32 put that absent optional at level 65, byte 17 + 64.
        raw.binary(&deep_binary(32)).await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(m.ends_with("too deep at byte 81"), "{m}");
        raw.binary(&deep_binary(31)).await;
        match raw.next_within(Duration::from_secs(10)).await {
            Seen::Data(d) => assert_eq!(&d[..2], b"ac"),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn counts_and_lengths_claiming_billions_are_refused_before_any_allocation() {
    mirror_attack("lying counts", 128 * KIB, |addr| async move {
        let mut raw = Raw::open(addr).await;
        // Collections: a list of u16 claiming 4,294,967,295 elements.
        raw.binary(b"ab\xff\xff\xff\xff\x0f").await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(
            m.contains("collection too long") && m.contains("byte 2"),
            "{m}"
        );
        // Under the limit (99,999) but with no elements behind it.
        raw.binary(b"ab\x9f\x8d\x06").await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(m.contains("truncated"), "{m}");
        raw.text("ab|4000000000").await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(m.contains("collection too long"), "{m}");
        // Optionals: a string claiming 4 GiB.
        let mut bytes = b"ac".to_vec();
        bytes.extend_from_slice(&[0; 6]);
        bytes.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0x0f]);
        raw.binary(&bytes).await;
        let m = raw.expect_error(error_code::MALFORMED).await;
        assert!(
            m.contains("string too long") || m.contains("too long"),
            "{m}"
        );
    });
}

// ------------------------------------------------------------------ time

#[test]
fn a_half_sent_frame_is_closed_by_the_heartbeat_after_45_s() {
    relay_attack(
        "slowloris frame",
        true,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            let opened = Instant::now();
            raw.write(&frame_header(TEXT, true, 1000)).await;
            raw.write(b"ae|1|").await;
            // One byte every 10 s keeps the socket busy but no frame complete,
            // so no pong can arrive.
            let trickle = async {
                for _ in 0..10 {
                    tokio::time::sleep(Duration::from_secs(10)).await;
                    if !raw.write(b"x").await {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(44), trickle).await;
            raw.expect_close(4000).await;
            let after = opened.elapsed();
            assert!(
                after >= Duration::from_secs(45) && after <= Duration::from_secs(47),
                "{after:?}"
            );
        },
    );
}

#[test]
fn an_unfinished_fragmented_message_is_closed_by_the_heartbeat() {
    relay_attack(
        "slowloris fragments",
        true,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.write(&frame_header(TEXT, false, 5)).await;
            raw.write(b"ae|1|").await;
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(10)).await;
                raw.write(&frame_header(CONTINUATION, false, 1)).await;
                raw.write(b"x").await;
            }
            raw.expect_close(4000).await;
        },
    );
}

#[test]
fn a_silent_upgraded_connection_is_closed_after_45_s() {
    relay_attack(
        "silent connection",
        true,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            let opened = Instant::now();
            raw.expect_close(4000).await;
            assert!(
                opened.elapsed() <= Duration::from_secs(47),
                "{:?}",
                opened.elapsed()
            );
        },
    );
}

#[test]
fn a_half_sent_upgrade_request_is_cut_off() {
    relay_attack(
        "slowloris upgrade",
        true,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let limit = ServerConfig::default().limits.handshake_timeout;
            let mut raw = Raw::tcp(t.addr).await;
            let opened = Instant::now();
            raw.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
                .await;
            // A header line every second, never the blank line that ends
            // them, until the server answers or hangs up.
            let mut status = None;
            for i in 0..120 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                raw.write(format!("X-Slow-{i}: 1\r\n").as_bytes()).await;
                if let Ok(s) =
                    tokio::time::timeout(Duration::from_millis(1), raw.response_head()).await
                {
                    status = Some(s);
                    break;
                }
            }
            let cut_after = opened.elapsed();
            assert!(
                matches!(status, Some(0 | 408)),
                "the server still holds a connection that has sent request headers for \
                 {cut_after:?} (no request-head deadline): {status:?}"
            );
            assert!(
                cut_after >= limit && cut_after <= limit + Duration::from_secs(2),
                "cut after {cut_after:?}, handshake_timeout {limit:?}"
            );
            eprintln!("slowloris upgrade: cut after {cut_after:?} with {status:?}");
        },
    );
}

#[test]
fn an_endless_upgrade_request_head_is_refused_with_bounded_memory() {
    relay_attack(
        "endless request head",
        false,
        ServerConfig::default(),
        1024 * KIB,
        |t| async move {
            let mut raw = Raw::tcp(t.addr).await;
            raw.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await;
            let line = format!("X-Pad: {}\r\n", "p".repeat(1000));
            for _ in 0..2_000 {
                if !raw.write(line.as_bytes()).await {
                    break;
                }
            }
            let status = raw.response_head().await;
            assert!(matches!(status, 0 | 431), "{status}");
        },
    );
}

// ----------------------------------------------------- slow consumers

#[test]
fn a_member_that_never_reads_is_closed_with_4002_and_the_room_keeps_flowing() {
    let mut config = ServerConfig::default();
    config.limits.write_timeout = Duration::from_millis(300);
    relay_attack("slow consumer", false, config, 2048 * KIB, |t| async move {
        let mut raw = Raw::open(t.addr).await;
        raw.text(&join_text("w")).await;
        while t.server.room_len("w") < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let big = ServerMessage::DeliveredV1(relay::DeliveredV1 {
            room: "w".into(),
            from: "load".into(),
            seq: 0,
            body: "y".repeat(16 * KIB),
        });
        let flood = async {
            for _ in 0..20_000 {
                if t.server.room_len("w") < 2 {
                    return;
                }
                t.server.broadcast("w", &big);
                tokio::task::yield_now().await;
            }
            panic!("the member that never reads was never dropped");
        };
        let ((), ()) = tokio::join!(flood, t.witness.advance(10));
        let started = Instant::now();
        let report = loop {
            let closes = t.app.closes.lock().unwrap().clone();
            if let Some(report) = closes.first() {
                break report.clone();
            }
            assert!(started.elapsed() < Duration::from_secs(10));
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        assert_eq!(report.code, Some(tagwire::CloseCode::SLOW_CONSUMER));
        assert!(report.by_server && report.undelivered > 0, "{report:?}");
        drop(raw);
    });
}

// ---------------------------------------------------------------- guards

/// A connection quota of 50 frames a second (burst 100); the witness,
/// paced at 20 a second on its own connection, stays under it.
fn rate_limited() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.rate_limits =
        RateLimits::default().per_connection(Quota::per_second(50).with_burst(100));
    config
}

#[test]
fn a_message_flood_past_the_rate_limit_gets_error_5_then_close_4005() {
    let flood: Vec<u8> = (0..1_000u64)
        .flat_map(|seq| frame(TEXT, format!("ae|{seq}|flood").as_bytes()))
        .collect();
    relay_attack(
        "rate limit",
        true,
        rate_limited(),
        256 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.write(&flood).await;
            let (mut echoes, mut limited) = (0, 0);
            let reason = loop {
                match raw.next_within(Duration::from_secs(60)).await {
                    Seen::Data(_) => echoes += 1,
                    Seen::Error(code, m) => {
                        assert_eq!(code, error_code::RATE_LIMITED, "{m}");
                        limited += 1;
                    }
                    Seen::Close(code, reason) => {
                        assert_eq!(code, Some(4005), "{reason}");
                        break reason;
                    }
                    other => panic!("{other:?}"),
                }
            };
            eprintln!("rate limit: {echoes} echoes, {limited} errors 5, then 4005 ({reason})");
            // The burst passes, then refusals until the flood rule closes.
            assert!((100..=110).contains(&echoes), "{echoes} echoes");
            assert_eq!(limited, 20);
        },
    );
}

#[test]
fn a_websocket_ping_flood_past_the_rate_limit_is_closed_with_4005() {
    let pings: Vec<u8> = frame(PING, b"p").repeat(10_000);
    relay_attack(
        "ping flood, rate limited",
        true,
        rate_limited(),
        256 * KIB,
        |t| async move {
            let mut raw = Raw::open(t.addr).await;
            raw.write(&pings).await;
            // Pings have no header to name in an error: they count, silently.
            let reason = raw.expect_close(4005).await;
            eprintln!("ping flood, rate limited: 4005 ({reason})");
        },
    );
}

#[test]
fn a_page_of_another_origin_gets_403_before_any_upgrade() {
    relay_attack(
        "wrong Origin",
        false,
        ServerConfig::default(),
        128 * KIB,
        |t| async move {
            let (raw, status) = Raw::upgrade(t.addr, "Origin: https://evil.example\r\n").await;
            assert_eq!(status, 403);
            // Refused as plain HTTP: no WebSocket, so no handler ever ran.
            assert_eq!(
                t.server.connection_count(),
                1,
                "only the witness is connected"
            );
            drop(raw);
            // The server's own pages connect.
            let own = format!("Origin: http://{}\r\n", t.addr);
            let (_raw, status) = Raw::upgrade(t.addr, &own).await;
            assert_eq!(status, 101);
            // An allow-list refuses pages outside it just the same (checked on
            // a server of its own below).
        },
    );
    let mut config = ServerConfig::default();
    config.origins = OriginConfig::list(["https://app.example"]);
    relay_attack(
        "Origin allow-list",
        false,
        config,
        128 * KIB,
        |t| async move {
            let (_raw, status) = Raw::upgrade(t.addr, "Origin: https://app.example.evil\r\n").await;
            assert_eq!(status, 403);
            let (_raw, status) = Raw::upgrade(t.addr, "Origin: https://app.example\r\n").await;
            assert_eq!(status, 101);
        },
    );
}

#[test]
fn a_client_the_auth_hook_refuses_is_closed_with_4004_and_the_reason() {
    relay_attack_with(
        "auth refused",
        false,
        ServerConfig::default(),
        Auth::Token,
        128 * KIB,
        |t| async move {
            for _ in 0..50 {
                let (mut raw, status) = Raw::upgrade(t.addr, "X-Token: forged\r\n").await;
                assert_eq!(
                    status, 101,
                    "refused after the upgrade, so browsers see the code"
                );
                // Whatever it sends is never handled.
                raw.text("ac|w|666|intruder").await;
                let reason = raw.expect_close(4004).await;
                assert_eq!(reason, "token refused");
            }
            assert_eq!(t.server.room_len("w"), 1, "only the witness joined");
        },
    );
}

/// The heap an attack added stayed under `heap_bound` at its peak, and
/// almost none of it is still held once the attacker is gone.
fn check_heap(
    name: &str,
    info: &allocation_counter::AllocationInfo,
    heap_bound: usize,
    exchanged: u64,
) {
    eprintln!(
        "{name}: peak heap added {} KiB (bound {} KiB), retained {} B, witness {exchanged} round trips",
        info.bytes_max / 1024,
        heap_bound / KIB,
        info.bytes_current
    );
    assert!(
        info.bytes_max < heap_bound as u64,
        "{name}: the attack added {} bytes of live heap (bound {heap_bound})",
        info.bytes_max
    );
    assert!(
        info.bytes_current < RETAINED,
        "{name}: {} bytes of heap still held after the attack",
        info.bytes_current
    );
}
