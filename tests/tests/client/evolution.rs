//! Protocol evolution with the Rust client: a client generated from package
//! `live` v1 (tests/fixtures/evolution) against a server built from v2,
//! running the live-room application of `tagwire_tests::evolution::app`. First
//! over loopback TCP in real time (short waits, nothing timed), then the
//! deploy from a v1 server to a v2 server under tokio's paused clock, over
//! in-memory pipes, where the drain's grace period and the reconnect window
//! are exact. And first of all, that the fixtures are what they claim: v2's
//! lock is v1's, extended by `tagwire lock`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tagwire::client::{Client, ClientConfig, Event, Events, ReconnectReason, Status};
use tagwire::control::OutdatedNotice;
use tagwire::server::{Server, ServerConfig};
use tagwire_tests::evolution::app::{LiveV1, LiveV2, Observer};
use tagwire_tests::evolution::v1::live as v1;
use tagwire_tests::evolution::v2::live as v2;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// Real-time waits over loopback: generous, since nothing there is timed.
const WAIT: Duration = Duration::from_secs(10);

/// Waits under the paused clock: longer than the drain, so a hang becomes a
/// failed `expect` instead of a stuck test.
const LONG: Duration = Duration::from_secs(3_600);

/// What the application's handler received, as values-file lines.
struct Handled(mpsc::UnboundedReceiver<String>, Duration);

fn observer(wait: Duration) -> (Observer, Handled) {
    let (tx, rx) = mpsc::unbounded_channel();
    let observe: Observer = Box::new(move |line| {
        // The test may have finished reading.
        let _ = tx.send(line);
    });
    (observe, Handled(rx, wait))
}

impl Handled {
    async fn next(&mut self) -> Value {
        let line = timeout(self.1, self.0.recv())
            .await
            .expect("the handler receives a message in time")
            .expect("the server is running");
        serde_json::from_str(&line).expect("the observer gets JSON lines")
    }
}

/// A client and what it heard besides messages and statuses.
struct Peer<P: tagwire::Package> {
    client: Client<P>,
    events: Events<P>,
    mismatches: Vec<String>,
    wait: Duration,
}

impl<P: tagwire::Package> Peer<P> {
    fn new((client, events): (Client<P>, Events<P>), wait: Duration) -> Self {
        Peer {
            client,
            events,
            mismatches: Vec::new(),
            wait,
        }
    }

    async fn event(&mut self) -> Event<P> {
        timeout(self.wait, self.events.next())
            .await
            .expect("an event in time")
            .expect("the client is running")
    }

    /// The next message, error or outdated notice; statuses are skipped and
    /// protocol mismatches recorded.
    async fn notable(&mut self) -> Event<P> {
        loop {
            match self.event().await {
                Event::Status(_) => {}
                Event::ProtocolMismatch {
                    server_fingerprint, ..
                } => self.mismatches.push(server_fingerprint),
                other => return other,
            }
        }
    }

    async fn message(&mut self) -> P::Server {
        match self.notable().await {
            // A room message (`_h`, SPEC §9.7) or a message to this connection.
            Event::Message(m) | Event::RoomMessage { message: m, .. } => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    async fn outdated(&mut self) -> OutdatedNotice {
        match self.notable().await {
            Event::Outdated(notice) => notice,
            other => panic!("expected an outdated notice, got {other:?}"),
        }
    }

    async fn status(&mut self) -> Status {
        loop {
            if let Event::Status(s) = self.event().await {
                return s;
            }
        }
    }
}

fn say_v1(text: &str) -> v1::SayV1 {
    v1::SayV1 {
        room: "lobby".into(),
        text: text.into(),
    }
}

fn post_v1(text: &str) -> v1::ServerMessage {
    v1::ServerMessage::PostV1(v1::PostV1 {
        room: "lobby".into(),
        text: text.into(),
    })
}

/// The notice without its human-readable reason, which is checked apart.
fn which(notice: &OutdatedNotice) -> (&str, &str, u32) {
    (&notice.header, &notice.message, notice.version)
}

/// The promise every other test here rests on: the v2 schema locked over
/// v1's lock keeps v1's headers, tombstones Typing with the warning, and
/// gives exactly the committed v2 lock.
#[test]
fn v2_lock_is_v1_lock_extended_with_the_tombstone_warning() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/evolution");
    let dir = tempfile::tempdir().expect("temporary directory");
    for (from, to) in [
        ("v2/live.schema", "live.schema"),
        ("v1/tagwire.lock", "tagwire.lock"),
    ] {
        std::fs::copy(fixtures.join(from), dir.path().join(to)).expect("copy a fixture");
    }
    let output = tagwire_compiler::FrontEnd::new()
        .schema(dir.path().join("live.schema"))
        .lock_mode(tagwire_compiler::LockMode::Update)
        .run();
    let rendered = output.render_text();
    assert!(!output.has_errors(), "{rendered}");
    assert!(
        rendered
            .contains("warning[W0090]: `Typing v1` was removed; its header `ad` stays reserved"),
        "{rendered}"
    );
    assert!(
        rendered.contains(&format!(
            "clients generated before protocol {} get \"protocol outdated\"",
            v2::PROTOCOL_FINGERPRINT
        )),
        "{rendered}"
    );
    output.write_locks().expect("write the lock");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("tagwire.lock")).expect("the written lock"),
        std::fs::read_to_string(fixtures.join("v2/tagwire.lock")).expect("the committed lock"),
    );
}

#[tokio::test]
async fn a_v1_client_talks_to_a_v2_server_over_loopback() {
    let (observe, mut handled) = observer(WAIT);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("ws://{}/ws", listener.local_addr().expect("address"));
    let server = Server::new(LiveV2::new(observe), ServerConfig::default());
    let handle = server.handle();
    tokio::spawn(server.serve(listener));

    let mut old = Peer::new(
        Client::<v1::Package>::connect(url.clone(), ClientConfig::default()),
        WAIT,
    );
    let mut new = Peer::new(
        Client::<v2::Package>::connect(
            url,
            ClientConfig::default().with_encoding(tagwire::Encoding::Binary),
        ),
        WAIT,
    );

    // The old client's Say v1 reaches the handler as Say v2 (the generated
    // upgrade: the schema's default mood, no reply), and the Post v2 the
    // handler broadcasts reaches it as Post v1 (the generated downgrade).
    old.client.send(say_v1("from last week")).expect("send");
    assert_eq!(
        handled.next().await,
        json!({"message": "Say", "version": 2, "value": {"room": "lobby", "text": "from last week", "mood": "calm"}})
    );
    assert_eq!(old.message().await, post_v1("from last week"));

    // A client generated from v2 says what v2 can say; it arrives intact,
    // and the room hears it in each one's version.
    new.client
        .send(v2::SayV2 {
            room: "lobby".into(),
            text: "from this week".into(),
            mood: v2::Mood::Excited,
            reply_to: Some(7),
        })
        .expect("send");
    assert_eq!(
        handled.next().await,
        json!({"message": "Say", "version": 2, "value": {"room": "lobby", "text": "from this week", "mood": "excited", "reply_to": "7"}})
    );
    let v2::ServerMessage::PostV2(post) = new.message().await else {
        panic!("the new client gets Post v2");
    };
    assert_eq!((post.text.as_str(), post.edited), ("from this week", false));
    assert_eq!(old.message().await, post_v1("from this week"));

    // Reaction has no older version: the old client hears it is outdated,
    // the new one gets it.
    new.client
        .send(v2::SayV2 {
            room: "lobby".into(),
            text: "/react 🎉".into(),
            mood: v2::Mood::Calm,
            reply_to: None,
        })
        .expect("send");
    handled.next().await;
    assert_eq!(
        new.message().await,
        v2::ServerMessage::ReactionV1(v2::ReactionV1 {
            room: "lobby".into(),
            emoji: "🎉".into()
        })
    );
    let notice = old.outdated().await;
    assert_eq!(
        which(&notice),
        (v2::ReactionV1::HEADER.as_str(), "Reaction", 1)
    );
    assert!(notice.reason.contains("Reaction v1"), "{}", notice.reason);

    // Score v2 → v1 is the application's: a score that fits in u32 is
    // converted, a larger one is declined (outdated, the connection stays).
    old.client.send(say_v1("/score 7")).expect("send");
    handled.next().await;
    let v1::ServerMessage::ScoreV1(score) = old.message().await else {
        panic!("the old client gets Score v1");
    };
    assert_eq!(score.points, 7);
    old.client.send(say_v1("/score 4294967296")).expect("send");
    handled.next().await;
    let notice = old.outdated().await;
    assert_eq!(which(&notice), (v2::ScoreV2::HEADER.as_str(), "Score", 2));

    // Typing was removed from v2: the handler never sees it.
    old.client
        .send(v1::TypingV1 {
            room: "lobby".into(),
        })
        .expect("send");
    let notice = old.outdated().await;
    assert_eq!(which(&notice), (v1::TypingV1::HEADER.as_str(), "Typing", 1));
    assert!(notice.reason.contains("removed"), "{}", notice.reason);

    // Move v1 → v2 is the application's upgrade; the handler's answer comes
    // back converted. It is also the next thing the handler saw after the
    // scores: the Typing frame never reached it.
    old.client.send(v1::MoveV1 { x: 3, y: 4 }).expect("send");
    assert_eq!(
        handled.next().await,
        json!({"message": "Move", "version": 2, "value": {"x": 3.5, "y": 4.5}})
    );
    assert_eq!(
        old.message().await,
        v1::ServerMessage::PostV1(v1::PostV1 {
            room: String::new(),
            text: "moved to 3.5, 4.5".into()
        })
    );

    assert_eq!(old.mismatches, [v2::PROTOCOL_FINGERPRINT]);
    assert!(new.mismatches.is_empty());
    old.client.close().await;
    new.client.close().await;
    handle.drain();
    timeout(WAIT, handle.drained()).await.expect("drained");
}

/// Which server a new connection reaches: the load balancer of the deploy.
#[derive(Clone)]
struct Deploy {
    old: Server<v1::Package, LiveV1>,
    new: Server<v2::Package, LiveV2>,
    deployed: Arc<AtomicBool>,
}

impl Deploy {
    /// A connector that sends each attempt to the current server over a pipe.
    fn connector(
        &self,
    ) -> impl FnMut() -> std::future::Ready<std::io::Result<tokio::io::DuplexStream>> + Send + 'static
    {
        let deploy = self.clone();
        move || {
            let (client, server) = tokio::io::duplex(64 * 1024);
            if deploy.deployed.load(Ordering::SeqCst) {
                let s = deploy.new.clone();
                tokio::spawn(async move { s.serve_io(server, None).await });
            } else {
                let s = deploy.old.clone();
                tokio::spawn(async move { s.serve_io(server, None).await });
            }
            std::future::ready(Ok(client))
        }
    }
}

#[tokio::test(start_paused = true)]
async fn the_v1_client_keeps_talking_across_a_deploy_to_v2() {
    let (observe_old, mut handled_old) = observer(LONG);
    let (observe_new, mut handled_new) = observer(LONG);
    // The defaults: 20 s grace, notices over 10 s, reconnect within 5 s.
    // Both servers share one broadcast backend (a node each), as a deploy's
    // nodes do: a client's room positions mean the same on both (SPEC §9.7).
    let rooms = tagwire::server::backend::LocalBackend::default();
    let config = |node: tagwire::server::backend::LocalBackend| {
        ServerConfig::default().with_backend(Arc::new(node))
    };
    let deploy = Deploy {
        old: Server::new(LiveV1::new(observe_old), config(rooms.node())),
        new: Server::new(LiveV2::new(observe_new), config(rooms.node())),
        deployed: Arc::new(AtomicBool::new(false)),
    };
    let mut old = Peer::new(
        Client::<v1::Package>::connect_with(
            deploy.connector(),
            ClientConfig::default().with_seed(10),
        ),
        LONG,
    );

    old.client.send(say_v1("before the deploy")).expect("send");
    assert_eq!(
        handled_old.next().await,
        json!({"message": "Say", "version": 1, "value": {"room": "lobby", "text": "before the deploy"}})
    );
    assert_eq!(old.message().await, post_v1("before the deploy"));

    let start = Instant::now();
    deploy.deployed.store(true, Ordering::SeqCst);
    deploy.old.handle().drain();
    let Status::Reconnecting { reason, delay } = old.status().await else {
        panic!("the drain notice makes the client reconnect");
    };
    assert_eq!(
        reason,
        ReconnectReason::Deploy {
            reason: "Server updating".into()
        }
    );
    // One connection: its notice goes in the first batch, right after the
    // grace period; the client picks its moment within the 5 s window.
    assert_eq!(start.elapsed(), Duration::from_secs(20));
    assert!(delay < Duration::from_secs(5), "{delay:?}");
    let report = deploy.old.handle().drained().await;
    assert_eq!(report.notified, 1);
    assert!(matches!(old.status().await, Status::Connecting { .. }));
    assert!(matches!(old.status().await, Status::Open));
    assert_eq!(start.elapsed(), Duration::from_secs(20) + delay);

    // On v2 now, with a client generated from v2 beside it.
    let mut new = Peer::new(
        Client::<v2::Package>::connect_with(deploy.connector(), ClientConfig::default()),
        LONG,
    );
    new.client
        .send(v2::SayV2 {
            room: "lobby".into(),
            text: "I am new".into(),
            mood: v2::Mood::Sad,
            reply_to: None,
        })
        .expect("send");
    handled_new.next().await;
    assert!(matches!(new.message().await, v2::ServerMessage::PostV2(_)));

    old.client.send(say_v1("after the deploy")).expect("send");
    assert_eq!(
        handled_new.next().await,
        json!({"message": "Say", "version": 2, "value": {"room": "lobby", "text": "after the deploy", "mood": "calm"}})
    );
    // Saying joins the room again: the old client presented its position
    // (`_i`, SPEC §9.7), so it first gets what it missed while it moved (the
    // new client's line, converted to Post v1), then its own.
    assert_eq!(old.message().await, post_v1("I am new"));
    assert_eq!(old.message().await, post_v1("after the deploy"));
    let v2::ServerMessage::PostV2(post) = new.message().await else {
        panic!("the new client gets Post v2");
    };
    assert_eq!(post.text, "after the deploy");

    new.client
        .send(v2::SayV2 {
            room: "lobby".into(),
            text: "/react 👍".into(),
            mood: v2::Mood::Calm,
            reply_to: None,
        })
        .expect("send");
    handled_new.next().await;
    let notice = old.outdated().await;
    assert_eq!(
        which(&notice),
        (v2::ReactionV1::HEADER.as_str(), "Reaction", 1)
    );
    assert!(matches!(
        new.message().await,
        v2::ServerMessage::ReactionV1(_)
    ));

    // And it keeps exchanging afterwards.
    old.client.send(say_v1("still here")).expect("send");
    handled_new.next().await;
    assert_eq!(old.message().await, post_v1("still here"));
    assert_eq!(old.mismatches, [v2::PROTOCOL_FINGERPRINT]);
    assert!(new.mismatches.is_empty());
}
