//! `tagwire tap` against a real relay server on a real socket: the tap
//! joins a room through a stdin line, a separate client publishes into it,
//! and the tap's JSON lines must be what that client received from the
//! same broadcast.
// The shared support module unwraps: a test that cannot find its files fails.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tagwire::Encoding;
use tagwire::client::{Client, ClientConfig, Event};
use tagwire::server::{Connection, Handler, Server, ServerConfig};

/// Long enough for a loaded CI machine; every wait below ends as soon as
/// its condition holds.
const WAIT: Duration = Duration::from_secs(20);

/// schemas/relay/relay.schema as a Rust-first protocol, with the lock's
/// headers pinned: the server and the publisher speak exactly what the tap
/// reads from the schema.
#[derive(tagwire::Protocol, Debug)]
#[tagwire(direction = "client", package = "relay")]
enum ClientMessage {
    #[tagwire(header = "aa")]
    Join { room: String },
    #[tagwire(header = "ac")]
    Publish {
        room: String,
        seq: u64,
        body: String,
    },
    #[tagwire(header = "ae")]
    Echo { seq: u64, body: String },
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "server", package = "relay")]
enum ServerMessage {
    #[tagwire(header = "ad")]
    Delivered {
        room: String,
        from: String,
        seq: u64,
        body: String,
    },
    #[tagwire(header = "ae")]
    Echo { seq: u64, body: String },
}

/// The schema's protocol fingerprint (checked against the compiler's in
/// `the_fingerprint_is_the_schemas`), so the tap sees no mismatch.
const FINGERPRINT: &str = "b23a420d218cb494";

struct Relay;

impl tagwire::Package for Relay {
    type Client = ClientMessage;
    type Server = ServerMessage;
    const NAME: &'static str = "relay";
    const FINGERPRINT: &'static str = FINGERPRINT;
}

struct App;

impl Handler<Relay> for App {
    async fn on_message(&self, conn: &Connection<Relay>, message: ClientMessage) {
        match message {
            ClientMessage::Join { room } => conn.join(&room),
            ClientMessage::Publish { room, seq, body } => {
                let delivered = ServerMessage::Delivered {
                    room: room.clone(),
                    from: conn.id().to_string(),
                    seq,
                    body,
                };
                conn.broadcast(&room, &delivered);
            }
            ClientMessage::Echo { seq, body } => {
                let _ = conn.send(ServerMessage::Echo { seq, body });
            }
        }
    }
}

/// A relay server on a free port, running until the test ends.
fn start_server() -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a free port");
    let addr = listener.local_addr().expect("the bound address");
    rt.spawn(Server::new(App, ServerConfig::default()).serve(listener));
    (rt, format!("ws://{addr}/ws"))
}

fn relay_schema() -> String {
    support::schemas_dir()
        .join("relay/relay.schema")
        .display()
        .to_string()
}

/// A running `tagwire tap`, its stdout read line by line on a thread.
struct Tap {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Tap {
    fn start(url: &str, extra: &[&str]) -> Tap {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tagwire"))
            .args([
                "tap",
                &relay_schema(),
                url,
                "--format",
                "json",
                "--close-on-eof",
            ])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("tagwire runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stdin = child.stdin.take();
        Tap {
            child,
            stdin,
            lines,
        }
    }

    fn send(&mut self, line: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("the tap reads stdin");
        stdin.flush().expect("the tap reads stdin");
    }

    /// The next line the tap printed, parsed.
    fn next(&self) -> Value {
        let line = self
            .lines
            .recv_timeout(WAIT)
            .expect("the tap printed a line in time");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"))
    }

    /// Closes stdin (the tap then closes the connection) and waits for it
    /// to exit: its status and stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + WAIT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("waiting on the tap") {
                break status;
            }
            assert!(Instant::now() < deadline, "the tap did not exit");
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut stderr = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            e.read_to_string(&mut stderr).expect("stderr");
        }
        (status.code(), stderr)
    }
}

#[test]
fn the_fingerprint_is_the_schemas() {
    let mut front_end = tagwire_compiler::FrontEnd::new();
    front_end.schema(relay_schema());
    let output = front_end
        .lock_mode(tagwire_compiler::LockMode::Locked)
        .run();
    let schema = output.schema.expect("the relay schema checks");
    assert_eq!(schema.packages[0].fingerprint, FINGERPRINT);
}

fn watch_a_room(encoding: Encoding) {
    let (rt, url) = start_server();
    let mut tap = Tap::start(
        &url,
        if encoding == Encoding::Binary {
            &["--binary"]
        } else {
            &[]
        },
    );
    let welcome = tap.next();
    assert_eq!(welcome["control"], "welcome", "{welcome}");
    assert_eq!(welcome["package"], "relay");
    assert_eq!(welcome["fingerprint"], FINGERPRINT);

    // Join, then an echo: once the echo is back the join was handled too
    // (a connection's messages are handled in order).
    tap.send(&json!({"message": "Join", "value": {"room": "lobby"}}));
    tap.send(&json!({"message": "Echo", "value": {"seq": "1", "body": "joined?"}}));
    assert_eq!(
        tap.next(),
        json!({"header": "ae", "message": "Echo", "version": 1,
               "value": {"seq": "1", "body": "joined?"}})
    );

    // Another client joins and publishes; it receives its own broadcasts,
    // which are what the tap must print.
    let received = rt.block_on(async {
        let (client, mut events) =
            Client::<Relay>::connect(url.clone(), ClientConfig::default().with_encoding(encoding));
        let sends = [
            ClientMessage::Join {
                room: "lobby".into(),
            },
            ClientMessage::Publish {
                room: "lobby".into(),
                seq: 1,
                body: "hello".into(),
            },
            ClientMessage::Publish {
                room: "lobby".into(),
                seq: 2,
                body: "a|b\\c ✓".into(),
            },
        ];
        for m in sends {
            client.send(m).expect("queued");
        }
        let mut received = Vec::new();
        tokio::time::timeout(WAIT, async {
            while received.len() < 2 {
                match events.next().await {
                    Some(Event::RoomMessage {
                        room,
                        position,
                        message,
                    }) => received.push((room, position, message)),
                    Some(_) => {}
                    None => panic!("the publisher stopped"),
                }
            }
        })
        .await
        .expect("the publisher got its broadcasts");
        client.close().await;
        received
    });

    for (room, position, message) in received {
        let ServerMessage::Delivered {
            room: in_room,
            from,
            seq,
            body,
        } = message
        else {
            panic!("not a Delivered: {message:?}");
        };
        assert_eq!(
            tap.next(),
            json!({
                "header": "ad", "message": "Delivered", "version": 1,
                "room": room,
                "position": {"epoch": position.epoch, "seq": position.seq},
                "value": {"room": in_room, "from": from, "seq": seq.to_string(), "body": body},
            })
        );
    }

    let (code, stderr) = tap.finish();
    assert_eq!(stderr, "");
    assert_eq!(code, Some(0));
}

#[test]
fn tap_prints_the_room_messages_a_client_publishes_text() {
    watch_a_room(Encoding::Text);
}

#[test]
fn tap_prints_the_room_messages_a_client_publishes_binary() {
    watch_a_room(Encoding::Binary);
}

#[test]
fn a_stdin_line_that_does_not_encode_is_named_and_fails_the_run() {
    let (_rt, url) = start_server();
    let mut tap = Tap::start(&url, &[]);
    assert_eq!(tap.next()["control"], "welcome");
    tap.send(&json!({"message": "Shout", "value": {}}));
    tap.send(&json!({"message": "Echo", "value": {"seq": "7", "body": "still here"}}));
    assert_eq!(tap.next()["value"]["body"], "still here");
    let (code, stderr) = tap.finish();
    assert_eq!(
        stderr,
        "error: stdin line 1: message: package relay has no message \"Shout\" \
         (messages: Join, Leave, Publish, Delivered, Echo)\n"
    );
    assert_eq!(code, Some(1));
}

#[test]
fn a_refused_connection_is_exit_1_with_the_reason() {
    // A port that was just free and is not listened on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("ws://127.0.0.1:{port}/ws");
    let output = support::tagwire()
        .args(["tap", &relay_schema(), &url])
        .timeout(WAIT)
        .output()
        .expect("tagwire runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: cannot connect to {url}: "))
            && stderr.contains("refused"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
