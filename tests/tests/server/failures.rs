//! Application code fails: a hook that panics, a handler that awaits slow
//! work. The runtime contains each failure to the connection it ran for
//! (docs/RUNTIME.md, "When application code fails"; docs/SECURITY.md).
//!
//! The panics run over loopback sockets on the real clock (each takes
//! milliseconds). The slow handler runs on tokio's paused clock, since it is
//! about the heartbeat's 30 s and 45 s: its timed test over in-memory pipes
//! (see [`pipe`]), the other over loopback.

use crate::runtime_support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::SinkExt;
use runtime_support::*;
use tagwire::Protocol as _;
use tagwire::control::{Control, error_code};
use tagwire::server::{
    CloseReport, ConnectRequest, Denied, Handler, Server, ServerConfig, ServerHandle,
};
use tagwire_tests::relay::{self, ClientMessage, EchoV1, JoinV1, ServerMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

/// Where [`Faulty`] fails.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Hook {
    /// Nowhere: the relay application.
    None,
    Open,
    Authorize,
    Close,
}

/// The relay application with a bug in one hook, an echo of `slow` that
/// awaits a minute of "database", and a record of what it handled.
struct Faulty {
    panic_in: Hook,
    handled: Mutex<Vec<String>>,
    closes: Mutex<Vec<CloseReport>>,
    opened: AtomicUsize,
}

impl Faulty {
    fn new(panic_in: Hook) -> Arc<Faulty> {
        Arc::new(Faulty {
            panic_in,
            handled: Mutex::new(Vec::new()),
            closes: Mutex::new(Vec::new()),
            opened: AtomicUsize::new(0),
        })
    }

    fn fail_if(&self, hook: Hook) {
        if self.panic_in == hook {
            panic!("{PANIC_TEXT}");
        }
    }

    fn closes(&self) -> Vec<CloseReport> {
        self.closes.lock().expect("closes").clone()
    }

    fn handled(&self) -> Vec<String> {
        self.handled.lock().expect("handled").clone()
    }
}

/// How long the slow echo's "database" takes: longer than the pong timeout.
const SLOW: Duration = Duration::from_secs(60);

impl Handler<relay::Package> for Faulty {
    async fn on_open(&self, _conn: &Conn) {
        self.opened.fetch_add(1, Ordering::SeqCst);
        self.fail_if(Hook::Open);
    }

    async fn authorize(&self, _conn: &Conn, _message: &ClientMessage) -> Result<(), Denied> {
        self.fail_if(Hook::Authorize);
        Ok(())
    }

    async fn on_message(&self, conn: &Conn, message: ClientMessage) {
        if let ClientMessage::EchoV1(echo) = &message {
            self.handled
                .lock()
                .expect("handled")
                .push(echo.body.clone());
            if echo.body == "panic" {
                panic!("{PANIC_TEXT}");
            }
            if echo.body == "slow" {
                tokio::time::sleep(SLOW).await;
            }
        }
        tagwire_tests::relay_app::relay(conn, message);
    }

    async fn on_close(&self, _conn: &Conn, report: &CloseReport) {
        self.closes.lock().expect("closes").push(report.clone());
        self.fail_if(Hook::Close);
    }
}

type Handle = ServerHandle<relay::Package>;

/// A server on a loopback port.
async fn serve(server: Server<relay::Package, Arc<Faulty>, impl AuthHook>) -> (Handle, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let handle = server.handle();
    tokio::spawn(async move { server.serve(listener).await });
    (handle, addr)
}

trait AuthHook: tagwire::server::Authenticate<Context = ()> {}
impl<T: tagwire::server::Authenticate<Context = ()>> AuthHook for T {}

async fn peer(addr: SocketAddr) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    handshake(tcp, &format!("ws://{addr}/ws"), None)
        .await
        .expect("handshake")
}

fn say(body: &str, seq: u64) -> ClientMessage {
    ClientMessage::EchoV1(EchoV1 {
        seq,
        body: body.into(),
    })
}

async fn join(ws: &mut WebSocketStream<TcpStream>, room: &str) {
    send(ws, &ClientMessage::JoinV1(JoinV1 { room: room.into() })).await;
}

/// Waits (real time, bounded) until `done` holds.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// The close a peer gets, skipping pings and the welcome.
async fn close_of(ws: &mut WebSocketStream<TcpStream>) -> (Option<u16>, String) {
    let got = tokio::time::timeout(Duration::from_secs(10), next_data(ws))
        .await
        .expect("a close within 10 s");
    match got {
        Got::Close(code, reason) => {
            // Sends tungstenite's close reply, so the server need not wait
            // its close timeout for it.
            let _ = ws.flush().await;
            (code, reason)
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn a_handler_that_panics_on_one_message_closes_only_its_connection_with_1011() {
    quiet_expected_panics();
    let app = Faulty::new(Hook::None);
    let (handle, addr) = serve(Server::new(app.clone(), ServerConfig::default())).await;
    let mut bad = peer(addr).await;
    let mut good = peer(addr).await;
    join(&mut bad, "r").await;
    join(&mut good, "r").await;
    eventually("both joined", || handle.room_len("r") == 2).await;

    send(&mut bad, &say("panic", 1)).await;
    let (code, reason) = close_of(&mut bad).await;
    assert_eq!(code, Some(1011), "{reason}");
    assert_eq!(reason, "internal server error");
    assert!(!reason.contains(PANIC_TEXT));

    // Gone from the registry and its room, on_close told why.
    eventually("the panicked connection is gone", || {
        handle.connection_count() == 1
    })
    .await;
    assert_eq!(handle.room_len("r"), 1);
    let delivered = handle.broadcast(
        "r",
        &ServerMessage::EchoV1(EchoV1 {
            seq: 7,
            body: "to the room".into(),
        }),
    );
    assert_eq!(delivered, 1, "a broadcast reaches the live member only");
    assert_eq!(handle.handler_panics(), 1);
    eventually("on_close ran", || !app.closes().is_empty()).await;
    let report = &app.closes()[0];
    assert_eq!(report.code, Some(tagwire::CloseCode::INTERNAL_ERROR));
    assert!(report.by_server && report.panicked, "{report:?}");

    // The other connection never noticed.
    assert_eq!(
        next_data(&mut good).await,
        Got::Message(ServerMessage::EchoV1(EchoV1 {
            seq: 7,
            body: "to the room".into()
        }))
    );
    send(&mut good, &say("still here", 2)).await;
    assert_eq!(
        next_data(&mut good).await,
        Got::Message(ServerMessage::EchoV1(EchoV1 {
            seq: 2,
            body: "still here".into()
        }))
    );

    // A deploy right after waits for nobody: the drain is done as soon as
    // the live client leaves, not at its 60 s deadline.
    good.close(None).await.expect("close");
    eventually("the good client is gone", || handle.connection_count() == 0).await;
    let started = Instant::now();
    handle.drain();
    let report = tokio::time::timeout(Duration::from_secs(5), handle.drained())
        .await
        .expect("the drain finished at once");
    assert_eq!(report.connections_at_start, 0);
    assert_eq!(report.cut_at_deadline, 0);
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// `on_open`, `authorize` and `on_close` are application code too: a panic
/// in any of them ends its own connection only, cleaned up and counted.
#[tokio::test]
async fn a_panic_in_any_hook_ends_only_its_connection() {
    quiet_expected_panics();
    for hook in [Hook::Open, Hook::Authorize, Hook::Close] {
        let app = Faulty::new(hook);
        let (handle, addr) = serve(Server::new(app.clone(), ServerConfig::default())).await;
        let mut ws = peer(addr).await;
        join(&mut ws, "r").await;
        send(&mut ws, &say("hello", 1)).await;
        if hook == Hook::Close {
            // It gets its echo; the panic comes once it leaves.
            assert_eq!(
                next_data(&mut ws).await,
                Got::Message(ServerMessage::EchoV1(EchoV1 {
                    seq: 1,
                    body: "hello".into()
                }))
            );
            ws.close(None).await.expect("close");
        } else {
            let (code, reason) = close_of(&mut ws).await;
            assert_eq!(code, Some(1011), "{hook:?}: {reason}");
            assert!(!reason.contains(PANIC_TEXT));
        }
        eventually("the connection is gone", || {
            handle.connection_count() == 0 && handle.room_len("r") == 0
        })
        .await;
        eventually("the panic is counted", || handle.handler_panics() == 1).await;
        assert_eq!(app.closes().len(), 1, "{hook:?}: on_close ran once");
        let report = &app.closes()[0];
        assert_eq!(report.panicked, hook != Hook::Close, "{hook:?}: {report:?}");
        if hook == Hook::Open {
            // The join that opened the connection was never handled.
            assert!(report.unhandled >= 1, "{report:?}");
        }
        // The server goes on serving.
        let mut next = peer(addr).await;
        if hook == Hook::Close {
            send(&mut next, &say("next", 2)).await;
            assert!(matches!(next_data(&mut next).await, Got::Message(_)));
        } else {
            send(&mut next, &say("next", 2)).await;
            assert_eq!(close_of(&mut next).await.0, Some(1011), "{hook:?}");
        }
    }
}

/// An authentication hook that panics refuses the client with 1011 (it may
/// retry; 4004 would tell it to stop), and the server lives on.
#[tokio::test]
async fn a_panicking_authentication_hook_refuses_with_1011() {
    quiet_expected_panics();
    let hook = |request: &ConnectRequest| {
        let crash = request.header("x-crash").is_some();
        async move {
            if crash {
                panic!("{PANIC_TEXT}");
            }
            Ok::<(), Denied>(())
        }
    };
    let app = Faulty::new(Hook::None);
    let (handle, addr) = serve(Server::with_auth(
        app.clone(),
        hook,
        ServerConfig::default(),
    ))
    .await;
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{addr}/ws"
        ))
        .expect("request");
    request
        .headers_mut()
        .insert("x-crash", "1".parse().expect("header"));
    let (mut crashed, _) = tokio_tungstenite::client_async(request, tcp)
        .await
        .expect("upgraded, then closed");
    let (code, reason) = close_of(&mut crashed).await;
    assert_eq!(code, Some(1011));
    assert_eq!(reason, "internal server error");
    assert_eq!(handle.handler_panics(), 1);
    assert_eq!(app.opened.load(Ordering::SeqCst), 0, "no handler code ran");

    let mut fine = peer(addr).await;
    send(&mut fine, &say("ok", 1)).await;
    assert!(matches!(next_data(&mut fine).await, Got::Message(_)));
}

/// The paused clock jumps to the next timer whenever every task waits,
/// and a task waiting on a pipe counts as waiting; a 10 ms ticker keeps a
/// peer's pong in flight from being overtaken by a jump to a deadline.
fn tick() {
    tokio::spawn(async {
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
}

/// A client over an in-memory pipe, served by `serve_io`. The paused clock
/// races ahead while a loopback socket's real delays (a delayed ACK) pass,
/// so the tests that time the heartbeat use pipes, as `server/heartbeat.rs`
/// does.
async fn pipe(
    server: &Server<relay::Package, Arc<Faulty>>,
) -> WebSocketStream<tokio::io::DuplexStream> {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let s = server.clone();
    tokio::spawn(async move {
        let _ = s.serve_io(server_end, None).await;
    });
    handshake(client_end, "ws://pipe/ws", None)
        .await
        .expect("handshake")
}

/// A handler awaiting a minute of slow work (past the 45 s pong timeout):
/// the heartbeat goes on, so its healthy client is not dropped; the frames
/// the client sends meanwhile wait, in order, up to `inbound_queue_frames`,
/// and those past it are refused at once with `rate_limited`; another
/// connection is not delayed at all.
#[tokio::test(start_paused = true)]
async fn a_slow_handler_keeps_its_clients_heartbeat_and_queues_its_frames_in_order() {
    tick();
    let mut config = ServerConfig::default();
    config.limits.inbound_queue_frames = 8;
    let app = Faulty::new(Hook::None);
    let server = Server::new(app.clone(), config);
    let handle = server.handle();
    let start = Instant::now();
    let mut slow = pipe(&server).await;
    send(&mut slow, &say("slow", 0)).await;
    for seq in 1..=10 {
        send(&mut slow, &say(&format!("after {seq}"), seq)).await;
    }

    // Another connection meanwhile: answered at once.
    let mut other = pipe(&server).await;
    send(&mut other, &say("quick", 1)).await;
    assert!(matches!(next_data(&mut other).await, Got::Message(_)));
    assert!(start.elapsed() < Duration::from_secs(1), "not delayed");
    let other_reader = spawn_reader(other, start);

    // The slow connection's client: answers pings, records the rest.
    let mut pings = Vec::new();
    let mut refused = Vec::new();
    let mut echoes = Vec::new();
    while echoes.len() < 9 {
        let got = tokio::time::timeout(Duration::from_secs(120), next(&mut slow))
            .await
            .expect("the server keeps talking");
        match got {
            Got::Control(Control::Ping) => {
                pings.push(start.elapsed());
                slow.send(Message::text(Control::Pong.to_text()))
                    .await
                    .expect("pong");
            }
            Got::Control(Control::Welcome(_)) => {}
            Got::Control(Control::Error(error)) => {
                assert_eq!(error.code, error_code::RATE_LIMITED, "{error:?}");
                assert!(error.message.contains("still handling"), "{error:?}");
                refused.push((start.elapsed(), error.message));
            }
            Got::Message(ServerMessage::EchoV1(echo)) => echoes.push((start.elapsed(), echo)),
            other => panic!("unexpected {other:?}"),
        }
    }
    // Past the bound (8 waiting), frames 9 and 10 were refused at once.
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused.iter().all(|(at, _)| *at < Duration::from_secs(1)),
        "{refused:?}"
    );
    assert!(
        refused[0].1.contains("ae"),
        "names the header: {}",
        refused[0].1
    );
    // The heartbeat went on while the handler waited: pings at 30 s (and
    // every 30 s after), answered, so no 4000 at 45 s.
    assert!(
        pings
            .first()
            .is_some_and(|at| *at >= Duration::from_secs(30) && *at < SLOW),
        "{pings:?}"
    );
    // Then the slow echo and the eight that waited, in order.
    let bodies: Vec<&str> = echoes.iter().map(|(_, e)| e.body.as_str()).collect();
    assert_eq!(
        bodies,
        [
            "slow", "after 1", "after 2", "after 3", "after 4", "after 5", "after 6", "after 7",
            "after 8"
        ]
    );
    assert!(echoes[0].0 >= SLOW);
    assert_eq!(
        app.handled().len(),
        1 + 1 + 8,
        "the quick one, the slow one, the eight that waited"
    );
    assert_eq!(handle.connection_count(), 2, "neither client was dropped");
    let _ = slow.close(None).await;
    drop(other_reader);
}

/// A client that sends behind a slow handler and then leaves still has
/// what it sent handled, in order, before `on_close`.
#[tokio::test(start_paused = true)]
async fn frames_sent_before_a_close_are_handled_even_behind_a_slow_handler() {
    tick();
    let app = Faulty::new(Hook::None);
    let (handle, addr) = serve(Server::new(app.clone(), ServerConfig::default())).await;
    let mut ws = peer(addr).await;
    send(&mut ws, &say("slow", 0)).await;
    send(&mut ws, &say("last words", 1)).await;
    ws.close(None).await.expect("close");
    drop(ws);
    // The session ends once the slow handler is done (virtual time).
    let started = Instant::now();
    while app.closes().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "on_close never ran"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= SLOW - Duration::from_secs(1));
    assert_eq!(handle.connection_count(), 0);
    assert_eq!(app.handled(), ["slow", "last words"]);
    let closes = app.closes();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].unhandled, 0, "{:?}", closes[0]);
    assert!(!closes[0].by_server);
}
