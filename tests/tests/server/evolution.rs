//! Protocol evolution in the server (SPEC §9.6, docs/RUNTIME.md) over real
//! loopback sockets, with a hand-written `Package`: the server runs "week
//! 2" of a small protocol (Post v1–v3, Score v1–v2, Reaction v1 new, Say
//! v1→v2, Typing v1 removed); raw peers and the Rust client say in their
//! hello that they were generated from week 1, or from a build in between.
//! The conversions are written by hand here, as an application writes the
//! ones the compiler cannot derive.

use crate::hostile_support;

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tagwire::client::{Client, ClientConfig, Event, Events};
use tagwire::control::{Control, Hello, OutdatedNotice, error_code};
use tagwire::server::{
    Connection, ConnectionLimits, Denied, Handler, SendError, Server, ServerConfig,
};
use tagwire::{Downgrade, Encoding, Header, Package, Protocol, Upgrade};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const WAIT: Duration = Duration::from_secs(10);

// ---- the protocol, week 2 (the server's) ----

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct PostV1 {
    room: String,
    body: String,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct PostV2 {
    room: String,
    body: String,
    pinned: bool,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct PostV3 {
    room: String,
    body: String,
    pinned: bool,
    tags: Vec<String>,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct ScoreV1 {
    points: u32,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct ScoreV2 {
    points: u64,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct ReactionV1 {
    emoji: String,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct JoinV1 {
    room: String,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct SayV1 {
    room: String,
    text: String,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct SayV2 {
    room: String,
    text: String,
    mood: String,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct TypingV1 {
    room: String,
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "server", package = "evo")]
enum ServerMsg {
    #[tagwire(name = "Post", version = 1, header = "aa")]
    PostV1(PostV1),
    #[tagwire(name = "Post", version = 2, header = "ab")]
    PostV2(PostV2),
    #[tagwire(name = "Score", version = 1, header = "ac")]
    ScoreV1(ScoreV1),
    #[tagwire(name = "Score", version = 2, header = "ad")]
    ScoreV2(ScoreV2),
    #[tagwire(name = "Reaction", version = 1, header = "ae")]
    ReactionV1(ReactionV1),
    #[tagwire(name = "Post", version = 3, header = "af")]
    PostV3(PostV3),
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "client", package = "evo")]
enum ClientMsg {
    #[tagwire(name = "Join", version = 1, header = "ca")]
    JoinV1(JoinV1),
    #[tagwire(name = "Say", version = 1, header = "cb")]
    SayV1(SayV1),
    #[tagwire(name = "Say", version = 2, header = "cc")]
    SayV2(SayV2),
}

thread_local! {
    /// Post conversions made on this thread (broadcasts run on the caller's).
    static POST_STEPS: Cell<usize> = const { Cell::new(0) };
}

impl Downgrade<PostV2> for PostV3 {
    fn downgrade(&self) -> Option<PostV2> {
        POST_STEPS.set(POST_STEPS.get() + 1);
        Some(PostV2 {
            room: self.room.clone(),
            body: self.body.clone(),
            pinned: self.pinned,
        })
    }
}

impl Downgrade<PostV1> for PostV2 {
    fn downgrade(&self) -> Option<PostV1> {
        POST_STEPS.set(POST_STEPS.get() + 1);
        Some(PostV1 {
            room: self.room.clone(),
            body: self.body.clone(),
        })
    }
}

/// A score whose conversion hits a bug in the application's code.
const CURSED_POINTS: u64 = 131_313;

/// Declines what week 1's `u32` cannot hold.
impl Downgrade<ScoreV1> for ScoreV2 {
    fn downgrade(&self) -> Option<ScoreV1> {
        assert_ne!(
            self.points, CURSED_POINTS,
            "a bug in a hand-written conversion"
        );
        u32::try_from(self.points)
            .ok()
            .map(|points| ScoreV1 { points })
    }
}

impl Upgrade<SayV2> for SayV1 {
    fn upgrade(self) -> SayV2 {
        assert_ne!(self.text, "panic", "a bug in a hand-written conversion");
        SayV2 {
            room: self.room,
            text: self.text,
            mood: "calm".into(),
        }
    }
}

/// Every live header of week 2: (header, message, version).
const HEADERS: &[(Header, &str, u32)] = &[
    (Header::new(*b"aa"), "Post", 1),
    (Header::new(*b"ab"), "Post", 2),
    (Header::new(*b"ac"), "Score", 1),
    (Header::new(*b"ad"), "Score", 2),
    (Header::new(*b"ae"), "Reaction", 1),
    (Header::new(*b"af"), "Post", 3),
    (Header::new(*b"ca"), "Join", 1),
    (Header::new(*b"cb"), "Say", 1),
    (Header::new(*b"cc"), "Say", 2),
];

const TYPING: Header = Header::new(*b"cd");

struct Evo;

impl Package for Evo {
    type Client = ClientMsg;
    type Server = ServerMsg;
    const NAME: &'static str = "evo";
    const FINGERPRINT: &'static str = "e200000000000002";
    const REMOVED: &'static [(Header, &'static str, u32)] = &[(TYPING, "Typing", 1)];

    fn headers() -> Vec<Header> {
        HEADERS.iter().map(|(h, ..)| *h).collect()
    }

    fn downgrade(message: &ServerMsg) -> Option<ServerMsg> {
        match message {
            ServerMsg::PostV3(m) => Downgrade::<PostV2>::downgrade(m).map(ServerMsg::PostV2),
            ServerMsg::PostV2(m) => Downgrade::<PostV1>::downgrade(m).map(ServerMsg::PostV1),
            ServerMsg::ScoreV2(m) => Downgrade::<ScoreV1>::downgrade(m).map(ServerMsg::ScoreV1),
            _ => None,
        }
    }

    fn upgrade(message: ClientMsg) -> ClientMsg {
        match message {
            ClientMsg::SayV1(m) => ClientMsg::SayV2(m.upgrade()),
            other => other,
        }
    }

    fn describe(header: Header) -> Option<(&'static str, u32)> {
        HEADERS
            .iter()
            .find(|(h, ..)| *h == header)
            .map(|(_, name, version)| (*name, *version))
    }
}

/// Week 1's hello: Post v1, Score v1, Join v1, Say v1, Typing v1.
const WEEK1_HEADERS: &str = "aaaccacbcd";
/// A build between the weeks: it knows Post v2 but not v3, nor Score v2.
const MID_HEADERS: &str = "aaabaccacbcd";

fn hello(fingerprint: &str, headers: &str) -> Hello {
    Hello {
        package: "evo".into(),
        fingerprint: fingerprint.into(),
        headers: headers.into(),
    }
}

fn week1() -> Hello {
    hello(week1::FINGERPRINT, WEEK1_HEADERS)
}

fn mid() -> Hello {
    hello("e15000000000000f", MID_HEADERS)
}

fn current() -> Hello {
    let headers: String = HEADERS.iter().map(|(h, ..)| h.as_str()).collect();
    hello(Evo::FINGERPRINT, &headers)
}

/// Week 1 as its own build would have it, for the Rust client.
mod week1 {
    use super::{Header, JoinV1, Package, PostV1, SayV1, ScoreV1, TypingV1};

    pub const FINGERPRINT: &str = "e100000000000001";

    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "server", package = "evo")]
    pub enum ServerMsg {
        #[tagwire(name = "Post", version = 1, header = "aa")]
        PostV1(PostV1),
        #[tagwire(name = "Score", version = 1, header = "ac")]
        ScoreV1(ScoreV1),
    }

    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "client", package = "evo")]
    pub enum ClientMsg {
        #[tagwire(name = "Join", version = 1, header = "ca")]
        JoinV1(JoinV1),
        #[tagwire(name = "Say", version = 1, header = "cb")]
        SayV1(SayV1),
        #[tagwire(name = "Typing", version = 1, header = "cd")]
        TypingV1(TypingV1),
    }

    pub struct Week1;

    impl Package for Week1 {
        type Client = ClientMsg;
        type Server = ServerMsg;
        const NAME: &'static str = "evo";
        const FINGERPRINT: &'static str = FINGERPRINT;

        fn headers() -> Vec<Header> {
            super::WEEK1_HEADERS
                .as_bytes()
                .chunks(2)
                .map(|p| Header::new([p[0], p[1]]))
                .collect()
        }
    }
}

// ---- the application ----

type Conn = Connection<Evo>;

/// Greets every client with a Score v2 from `on_open`, joins rooms, says to
/// rooms; keeps what `authorize` and `on_message` were handed.
#[derive(Default)]
struct App {
    joined: Mutex<Vec<(String, Conn)>>,
    authorized: Mutex<Vec<ClientMsg>>,
    handled: Mutex<Vec<ClientMsg>>,
    greeted: Mutex<Vec<Result<(), SendError>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl App {
    /// The connection that joined `room` first.
    fn conn(&self, room: &str) -> Conn {
        lock(&self.joined)
            .iter()
            .find(|(r, _)| r == room)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| panic!("nobody joined {room}"))
    }
}

impl Handler<Evo> for App {
    async fn on_open(&self, conn: &Conn) {
        let greeting = conn.send(ServerMsg::ScoreV2(ScoreV2 { points: 1 }));
        lock(&self.greeted).push(greeting);
    }

    async fn authorize(&self, _conn: &Conn, message: &ClientMsg) -> Result<(), Denied> {
        lock(&self.authorized).push(message.clone());
        match message {
            ClientMsg::SayV2(say) if say.text == "forbidden" => Err(Denied::new("not that")),
            _ => Ok(()),
        }
    }

    async fn on_message(&self, conn: &Conn, message: ClientMsg) {
        lock(&self.handled).push(message.clone());
        match message {
            ClientMsg::JoinV1(join) => {
                conn.join(&join.room);
                lock(&self.joined).push((join.room.clone(), conn.clone()));
                let _ = conn.send(ServerMsg::PostV3(PostV3 {
                    room: join.room,
                    body: "joined".into(),
                    pinned: false,
                    tags: Vec::new(),
                }));
            }
            ClientMsg::SayV2(say) => {
                let post = ServerMsg::PostV3(PostV3 {
                    room: say.room.clone(),
                    body: format!("{} ({})", say.text, say.mood),
                    pinned: true,
                    tags: vec![say.mood],
                });
                conn.broadcast(&say.room, &post);
            }
            ClientMsg::SayV1(_) => panic!("Say v1 reached the handler: {message:?}"),
        }
    }
}

type EvoServer = Server<Evo, Arc<App>>;

async fn start_with(config: ServerConfig) -> (EvoServer, Arc<App>, SocketAddr) {
    let app = Arc::new(App::default());
    let server = Server::new(app.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let s = server.clone();
    tokio::spawn(async move { s.serve(listener).await });
    (server, app, addr)
}

async fn start() -> (EvoServer, Arc<App>, SocketAddr) {
    start_with(ServerConfig::default()).await
}

// ---- a raw WebSocket peer ----

#[derive(Debug, PartialEq)]
enum Got {
    Message(ServerMsg),
    Control(Control),
    Closed,
}

struct Raw<S> {
    ws: WebSocketStream<S>,
    encoding: Encoding,
}

async fn connect(addr: SocketAddr, encoding: Encoding, hello: Option<Hello>) -> Raw<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    Raw::handshake(tcp, &format!("ws://{addr}/ws"), encoding, hello).await
}

impl<S: AsyncRead + AsyncWrite + Unpin> Raw<S> {
    async fn handshake(io: S, url: &str, encoding: Encoding, hello: Option<Hello>) -> Raw<S> {
        let mut request = url.into_client_request().expect("request");
        let subprotocol = match encoding {
            Encoding::Text => "tagwire.text",
            Encoding::Binary => "tagwire.binary",
        };
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(subprotocol),
        );
        let (ws, _) = tokio_tungstenite::client_async(request, io)
            .await
            .expect("handshake");
        let mut raw = Raw { ws, encoding };
        if let Some(hello) = hello {
            raw.send(&Control::Hello(hello)).await;
        }
        raw
    }

    async fn send<T: Protocol>(&mut self, value: &T) {
        let frame = match self.encoding {
            Encoding::Text => Message::text(value.to_text()),
            Encoding::Binary => Message::binary(value.to_binary()),
        };
        self.ws.send(frame).await.expect("send");
    }

    async fn send_client(&mut self, message: ClientMsg) {
        self.send(&message).await;
    }

    /// The next frame that is not a ping or the welcome, checking it came in
    /// the connection's encoding.
    async fn next(&mut self) -> Got {
        loop {
            let message = match timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
            {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Got::Closed,
                Some(Ok(m)) => m,
            };
            let bytes: &[u8] = match (&message, self.encoding) {
                (Message::Text(t), Encoding::Text) => t.as_bytes(),
                (Message::Binary(b), Encoding::Binary) => b,
                (Message::Ping(_) | Message::Pong(_), _) => continue,
                (other, encoding) => panic!("{other:?} on a {encoding:?} connection"),
            };
            // A room message (`_h`, SPEC §9.7) is read as the message it carries.
            let limits = tagwire::Limits::default();
            let bytes: &[u8] = if bytes.starts_with(b"_h") {
                match self.encoding {
                    Encoding::Text => {
                        let text = std::str::from_utf8(bytes).expect("utf-8");
                        let (_, _, inner) =
                            tagwire::control::RoomEnvelope::split_text(text, &limits)
                                .expect("a room envelope");
                        inner.as_bytes()
                    }
                    Encoding::Binary => {
                        tagwire::control::RoomEnvelope::split_binary(bytes, &limits)
                            .expect("a room envelope")
                            .2
                    }
                }
            } else {
                bytes
            };
            let got = if bytes.first() == Some(&b'_') {
                let control = match self.encoding {
                    Encoding::Text => {
                        Control::decode_text(std::str::from_utf8(bytes).expect("utf-8"))
                    }
                    Encoding::Binary => Control::decode_binary(bytes),
                };
                Got::Control(control.expect("a control message"))
            } else {
                let decoded = match self.encoding {
                    Encoding::Text => {
                        ServerMsg::decode_text(std::str::from_utf8(bytes).expect("utf-8"))
                    }
                    Encoding::Binary => ServerMsg::decode_binary(bytes),
                };
                Got::Message(decoded.expect("a server message"))
            };
            match got {
                Got::Control(Control::Ping | Control::Welcome(_)) => {}
                other => return other,
            }
        }
    }

    /// The code of the close frame the server sends (skipping the rest).
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            match timeout(WAIT, self.ws.next())
                .await
                .expect("a close in time")
            {
                Some(Ok(Message::Close(frame))) => {
                    // Sends tungstenite's reply at once.
                    let _ = self.ws.flush().await;
                    return frame.map(|f| u16::from(f.code));
                }
                None | Some(Err(_)) => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Joins `room` and reads the greeting and the join's reply.
    async fn join(&mut self, room: &str) -> (Got, Got) {
        let greeting = self.next().await;
        self.send_client(ClientMsg::JoinV1(JoinV1 { room: room.into() }))
            .await;
        (greeting, self.next().await)
    }
}

fn outdated(got: Got) -> OutdatedNotice {
    match got {
        Got::Control(Control::Outdated(notice)) => notice,
        other => panic!("expected an outdated notice, got {other:?}"),
    }
}

fn post_v3(room: &str, body: &str) -> ServerMsg {
    ServerMsg::PostV3(PostV3 {
        room: room.into(),
        body: body.into(),
        pinned: true,
        tags: vec!["news".into()],
    })
}

fn got_post(version: u32, room: &str, body: &str, pinned: bool, tags: &[&str]) -> Got {
    Got::Message(match version {
        1 => ServerMsg::PostV1(PostV1 {
            room: room.into(),
            body: body.into(),
        }),
        2 => ServerMsg::PostV2(PostV2 {
            room: room.into(),
            body: body.into(),
            pinned,
        }),
        _ => ServerMsg::PostV3(PostV3 {
            room: room.into(),
            body: body.into(),
            pinned,
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }),
    })
}

fn score(version: u32, points: u64) -> Got {
    Got::Message(match version {
        1 => ServerMsg::ScoreV1(ScoreV1 {
            points: u32::try_from(points).expect("fits"),
        }),
        _ => ServerMsg::ScoreV2(ScoreV2 { points }),
    })
}

// ---- server → client ----

#[tokio::test]
async fn sends_reach_each_client_as_the_newest_version_it_knows() {
    let (_server, app, addr) = start().await;
    let mut alice = connect(addr, Encoding::Text, Some(current())).await;
    let mut bob = connect(addr, Encoding::Binary, Some(week1())).await;
    let mut carol = connect(addr, Encoding::Text, Some(mid())).await;

    // The greeting from `on_open` (Score v2) ran after each hello arrived,
    // so it is converted for the old clients; so is the join's Post v3.
    assert_eq!(
        alice.join("alice").await,
        (score(2, 1), got_post(3, "alice", "joined", false, &[]))
    );
    assert_eq!(
        bob.join("bob").await,
        (score(1, 1), got_post(1, "bob", "joined", false, &[]))
    );
    assert_eq!(
        carol.join("carol").await,
        (score(1, 1), got_post(2, "carol", "joined", false, &[]))
    );
    assert!(lock(&app.greeted).iter().all(Result::is_ok));

    let (a, b, c) = (app.conn("alice"), app.conn("bob"), app.conn("carol"));
    let v3 = Header::new(*b"af");
    assert!(a.knows(v3) && !b.knows(v3) && !c.knows(v3));
    assert!(b.knows(Header::new(*b"aa")) && !b.knows(Header::new(*b"ab")));
    assert_eq!(b.hello().map(|h| h.headers.as_str()), Some(WEEK1_HEADERS));
    assert_eq!(b.same_protocol(), Some(false));

    for conn in [&a, &b, &c] {
        assert_eq!(conn.send(post_v3("x", "hello")), Ok(()));
        // A version the client knows goes as it is.
        assert_eq!(
            conn.send(ServerMsg::PostV1(PostV1 {
                room: "x".into(),
                body: "plain".into()
            })),
            Ok(())
        );
    }
    assert_eq!(
        alice.next().await,
        got_post(3, "x", "hello", true, &["news"])
    );
    assert_eq!(bob.next().await, got_post(1, "x", "hello", true, &[]));
    assert_eq!(carol.next().await, got_post(2, "x", "hello", true, &[]));
    for peer in [&mut alice, &mut carol] {
        assert_eq!(peer.next().await, got_post(1, "x", "plain", false, &[]));
    }
    assert_eq!(bob.next().await, got_post(1, "x", "plain", false, &[]));
}

#[tokio::test]
async fn without_a_conversion_the_client_gets_the_outdated_notice_and_send_says_why() {
    let (_server, app, addr) = start().await;
    let mut alice = connect(addr, Encoding::Binary, Some(current())).await;
    let mut bob = connect(addr, Encoding::Text, Some(week1())).await;
    alice.join("alice").await;
    bob.join("bob").await;
    let (a, b) = (app.conn("alice"), app.conn("bob"));

    // Reaction is new: nothing older to send.
    let reaction = ServerMsg::ReactionV1(ReactionV1 {
        emoji: "🎉".into()
    });
    let ae = Header::new(*b"ae");
    assert_eq!(b.send(reaction.clone()), Err(SendError::Outdated(ae)));
    let notice = outdated(bob.next().await);
    assert_eq!(
        (
            notice.header.as_str(),
            notice.message.as_str(),
            notice.version
        ),
        ("ae", "Reaction", 1)
    );
    assert!(notice.reason.contains("Reaction v1"), "{}", notice.reason);
    let error = SendError::Outdated(ae).to_string();
    assert!(
        error.contains("ae") && error.contains("outdated"),
        "{error}"
    );

    // Score v2 above u32::MAX: the application's conversion declines.
    let big = ServerMsg::ScoreV2(ScoreV2 {
        points: 5_000_000_000,
    });
    let ad = Header::new(*b"ad");
    assert_eq!(b.send(big.clone()), Err(SendError::Outdated(ad)));
    let notice = outdated(bob.next().await);
    assert_eq!(
        (
            notice.header.as_str(),
            notice.message.as_str(),
            notice.version
        ),
        ("ad", "Score", 2)
    );

    // The connection goes on, and a convertible value still converts.
    assert_eq!(b.send(ServerMsg::ScoreV2(ScoreV2 { points: 9 })), Ok(()));
    assert_eq!(bob.next().await, score(1, 9));

    // A current client gets both as they are.
    assert_eq!(a.send(reaction.clone()), Ok(()));
    assert_eq!(a.send(big.clone()), Ok(()));
    assert_eq!(alice.next().await, Got::Message(reaction));
    assert_eq!(alice.next().await, Got::Message(big));
}

#[tokio::test]
async fn a_broadcast_converts_once_per_version_and_encoding_and_counts_only_deliveries() {
    let (server, _app, addr) = start().await;
    let mut peers = vec![
        (connect(addr, Encoding::Text, Some(current())).await, 3),
        (connect(addr, Encoding::Binary, Some(current())).await, 3),
        (connect(addr, Encoding::Text, Some(week1())).await, 1),
        (connect(addr, Encoding::Binary, Some(week1())).await, 1),
        (connect(addr, Encoding::Text, Some(mid())).await, 2),
        // No hello at all: trusted to be current.
        (connect(addr, Encoding::Binary, None).await, 3),
    ];
    for (peer, version) in &mut peers {
        let (greeting, joined) = peer.join("lobby").await;
        assert_eq!(greeting, score(if *version == 3 { 2 } else { 1 }, 1));
        assert_eq!(joined, got_post(*version, "lobby", "joined", false, &[]));
    }
    let handle = server.handle();
    assert_eq!(handle.room_len("lobby"), 6);

    // Three old members in two encodings and two versions: two conversion
    // steps in all (v3→v2 once, v2→v1 once), not one walk per member.
    POST_STEPS.set(0);
    assert_eq!(handle.broadcast("lobby", &post_v3("lobby", "news")), 6);
    assert_eq!(POST_STEPS.get(), 2);
    for (peer, version) in &mut peers {
        assert_eq!(
            peer.next().await,
            got_post(*version, "lobby", "news", true, &["news"])
        );
    }

    // Only the current members can take a Reaction: three deliveries, and
    // the notice (not counted) for the others.
    let reaction = ServerMsg::ReactionV1(ReactionV1 {
        emoji: "👍".into()
    });
    assert_eq!(handle.broadcast("lobby", &reaction), 3);
    let big = ServerMsg::ScoreV2(ScoreV2 { points: u64::MAX });
    assert_eq!(handle.broadcast("lobby", &big), 3);
    assert_eq!(
        handle.broadcast("lobby", &ServerMsg::ScoreV2(ScoreV2 { points: 4 })),
        6
    );
    for (peer, version) in &mut peers {
        if *version == 3 {
            assert_eq!(peer.next().await, Got::Message(reaction.clone()));
            assert_eq!(peer.next().await, Got::Message(big.clone()));
        } else {
            assert_eq!(outdated(peer.next().await).header, "ae");
            assert_eq!(outdated(peer.next().await).header, "ad");
        }
        assert_eq!(
            peer.next().await,
            score(if *version == 3 { 2 } else { 1 }, 4)
        );
    }
}

/// Hand-written conversions are application code too: one that panics
/// closes only the clients it was converting for, with 1011, and not the
/// task that broadcast; everyone else gets the message and the server goes
/// on.
#[tokio::test]
async fn a_conversion_that_panics_closes_only_the_clients_it_was_for() {
    let (server, _app, addr) = start().await;
    let handle = server.handle();
    let mut new = connect(addr, Encoding::Text, Some(current())).await;
    let mut old = connect(addr, Encoding::Binary, Some(week1())).await;
    new.join("lobby").await;
    old.join("lobby").await;

    let cursed = ServerMsg::ScoreV2(ScoreV2 {
        points: CURSED_POINTS,
    });
    assert_eq!(
        handle.broadcast("lobby", &cursed),
        1,
        "the current member only"
    );
    assert_eq!(new.next().await, Got::Message(cursed));
    assert_eq!(old.close_code().await, Some(1011));
    let started = std::time::Instant::now();
    while handle.room_len("lobby") != 1 {
        assert!(started.elapsed() < WAIT, "the old client left the room");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(handle.handler_panics(), 1);

    // The other way: an upgrade that panics on a week-1 client's message.
    let mut sender = connect(addr, Encoding::Text, Some(week1())).await;
    sender.join("lobby").await;
    sender
        .send_client(ClientMsg::SayV1(SayV1 {
            room: "lobby".into(),
            text: "panic".into(),
        }))
        .await;
    assert_eq!(sender.close_code().await, Some(1011));
    assert_eq!(handle.handler_panics(), 2);

    assert_eq!(
        handle.broadcast("lobby", &ServerMsg::ScoreV2(ScoreV2 { points: 4 })),
        1
    );
    assert_eq!(new.next().await, score(2, 4));
}

// ---- client → server ----

#[tokio::test]
async fn old_client_messages_are_upgraded_before_authorize_and_on_message() {
    let (_server, app, addr) = start().await;
    let mut bob = connect(addr, Encoding::Binary, Some(week1())).await;
    bob.join("up").await;
    bob.send_client(ClientMsg::SayV1(SayV1 {
        room: "up".into(),
        text: "hi".into(),
    }))
    .await;
    // The handler saw Say v2 (mood: calm) and broadcast a Post v3, which
    // reaches bob as v1.
    assert_eq!(bob.next().await, got_post(1, "up", "hi (calm)", true, &[]));
    let upgraded = ClientMsg::SayV2(SayV2 {
        room: "up".into(),
        text: "hi".into(),
        mood: "calm".into(),
    });
    assert_eq!(lock(&app.authorized).last(), Some(&upgraded));
    assert_eq!(lock(&app.handled).last(), Some(&upgraded));

    // A refusal names the header the client sent.
    bob.send_client(ClientMsg::SayV1(SayV1 {
        room: "up".into(),
        text: "forbidden".into(),
    }))
    .await;
    match bob.next().await {
        Got::Control(Control::Error(e)) => {
            assert_eq!(e.code, error_code::FORBIDDEN);
            assert_eq!(e.message, "`cb` refused: not that");
        }
        other => panic!("{other:?}"),
    }
    let authorized = lock(&app.authorized).clone();
    assert_eq!(authorized.len(), 3, "{authorized:?}");
    assert!(
        authorized.iter().all(|m| !matches!(m, ClientMsg::SayV1(_))),
        "{authorized:?}"
    );
    assert_eq!(
        lock(&app.handled).len(),
        2,
        "the refused Say was not handled"
    );
}

#[tokio::test]
async fn a_removed_version_gets_the_outdated_notice_not_an_error() {
    let (_server, app, addr) = start().await;
    for encoding in [Encoding::Text, Encoding::Binary] {
        let mut bob = connect(addr, encoding, Some(week1())).await;
        bob.join("typing").await;
        let handled = lock(&app.handled).len();
        bob.send(&week1::ClientMsg::TypingV1(TypingV1 {
            room: "typing".into(),
        }))
        .await;
        let notice = outdated(bob.next().await);
        assert_eq!(
            (
                notice.header.as_str(),
                notice.message.as_str(),
                notice.version
            ),
            ("cd", "Typing", 1)
        );
        assert!(notice.reason.contains("removed"), "{}", notice.reason);
        // A header the server never had is still an error.
        let zz = match encoding {
            Encoding::Text => Message::text("zz"),
            Encoding::Binary => Message::binary(b"zz".to_vec()),
        };
        bob.ws.send(zz).await.expect("send");
        match bob.next().await {
            Got::Control(Control::Error(e)) => assert_eq!(e.code, error_code::UNKNOWN_HEADER),
            other => panic!("{other:?}"),
        }
        assert_eq!(lock(&app.handled).len(), handled);
        bob.send_client(ClientMsg::JoinV1(JoinV1 { room: "t2".into() }))
            .await;
        assert_eq!(bob.next().await, got_post(1, "t2", "joined", false, &[]));
    }
}

// ---- on_open and the hello (paused clock, in-memory pipes) ----

async fn pipe(server: &EvoServer, hello: Option<Hello>) -> Raw<tokio::io::DuplexStream> {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let s = server.clone();
    tokio::spawn(async move {
        let _ = s.serve_io(server_end, None).await;
    });
    Raw::handshake(client_end, "ws://pipe/ws", Encoding::Text, hello).await
}

#[tokio::test(start_paused = true)]
async fn on_open_waits_for_the_first_frame_or_the_hello_timeout() {
    let mut limits = ConnectionLimits::default();
    limits.hello_timeout = Duration::from_secs(3);
    let mut config = ServerConfig::default();
    config.limits = limits;
    let app = Arc::new(App::default());
    let server: EvoServer = Server::new(app.clone(), config);

    // Hello first: the greeting is converted, at once.
    let start = Instant::now();
    let mut old = pipe(&server, Some(week1())).await;
    assert_eq!(old.next().await, score(1, 1));
    assert_eq!(start.elapsed(), Duration::ZERO);

    // A first frame that is not a hello opens the connection before it is
    // handled: greeting first, then the join's reply.
    let mut raw = pipe(&server, None).await;
    raw.send_client(ClientMsg::JoinV1(JoinV1 { room: "r".into() }))
        .await;
    assert_eq!(raw.next().await, score(2, 1));
    assert_eq!(raw.next().await, got_post(3, "r", "joined", false, &[]));
    assert_eq!(start.elapsed(), Duration::ZERO);

    // A client that says nothing is opened after the hello timeout.
    let mut silent = pipe(&server, None).await;
    assert_eq!(silent.next().await, score(2, 1));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(lock(&app.greeted).len(), 3);
}

// ---- SSE ----

struct Sse {
    lines: BufReader<TcpStream>,
}

impl Sse {
    async fn open(addr: SocketAddr) -> (Sse, String) {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let request =
            format!("GET /sse HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n");
        tcp.write_all(request.as_bytes()).await.expect("write");
        let mut sse = Sse {
            lines: BufReader::new(tcp),
        };
        loop {
            let line = sse.line().await;
            if line.is_empty() {
                break;
            }
        }
        assert_eq!(sse.line().await, "event: session");
        let token = sse
            .line()
            .await
            .strip_prefix("data: ")
            .expect("the token")
            .to_owned();
        (sse, token)
    }

    async fn line(&mut self) -> String {
        let mut line = String::new();
        timeout(WAIT, self.lines.read_line(&mut line))
            .await
            .expect("a line in time")
            .expect("read");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    /// The next frame's text that is not a ping or the welcome.
    async fn next(&mut self) -> String {
        loop {
            let line = self.line().await;
            if let Some(frame) = line.strip_prefix("data: ")
                && frame != "_a"
                && !frame.starts_with("_d|")
            {
                return frame.to_owned();
            }
        }
    }
}

async fn post(addr: SocketAddr, token: &str, frames: &[String]) {
    let body = frames.join("\n");
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /sse/{token} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
}

#[tokio::test]
async fn sse_sessions_convert_both_ways_too() {
    let (_server, app, addr) = start().await;
    let (mut sse, token) = Sse::open(addr).await;
    post(
        addr,
        &token,
        &[
            Control::Hello(week1()).to_text(),
            ClientMsg::JoinV1(JoinV1 { room: "s".into() }).to_text(),
            ClientMsg::SayV1(SayV1 {
                room: "s".into(),
                text: "over sse".into(),
            })
            .to_text(),
            week1::ClientMsg::TypingV1(TypingV1 { room: "s".into() }).to_text(),
        ],
    )
    .await;
    let frames = [
        sse.next().await,
        sse.next().await,
        sse.next().await,
        sse.next().await,
    ];
    // The broadcast is a room message (`_h`, SPEC §9.7): the first of room `s`.
    let (room, position, post) =
        tagwire::control::RoomEnvelope::split_text(&frames[2], &tagwire::Limits::default())
            .expect("a room envelope");
    assert_eq!((room.as_str(), position.seq), ("s", 1));
    assert_eq!(
        [frames[0].as_str(), frames[1].as_str(), post],
        [
            ServerMsg::ScoreV1(ScoreV1 { points: 1 }).to_text(),
            ServerMsg::PostV1(PostV1 {
                room: "s".into(),
                body: "joined".into()
            })
            .to_text(),
            ServerMsg::PostV1(PostV1 {
                room: "s".into(),
                body: "over sse (calm)".into()
            })
            .to_text(),
        ]
    );
    assert!(frames[3].starts_with("_g|cd|Typing|1|"), "{}", frames[3]);
    let conn = app.conn("s");
    assert_eq!(
        conn.send(ServerMsg::ReactionV1(ReactionV1 { emoji: "x".into() })),
        Err(SendError::Outdated(Header::new(*b"ae")))
    );
    assert!(sse.next().await.starts_with("_g|ae|Reaction|1|"));
}

// ---- the Rust client ----

async fn event(events: &mut Events<week1::Week1>) -> Event<week1::Week1> {
    loop {
        let event = timeout(WAIT, events.next())
            .await
            .expect("an event in time")
            .expect("the client runs");
        match event {
            Event::Status(_) | Event::ProtocolMismatch { .. } => {}
            other => return other,
        }
    }
}

#[tokio::test]
async fn the_rust_client_gets_converted_messages_and_typed_outdated_events() {
    let (_server, app, addr) = start().await;
    let (client, mut events) =
        Client::<week1::Week1>::connect(format!("ws://{addr}/ws"), ClientConfig::default());
    // Its hello listed week 1's headers: the greeting arrives as Score v1.
    match event(&mut events).await {
        Event::Message(week1::ServerMsg::ScoreV1(s)) => assert_eq!(s.points, 1),
        other => panic!("{other:?}"),
    }
    client
        .send(week1::ClientMsg::JoinV1(JoinV1 { room: "rc".into() }))
        .expect("send");
    match event(&mut events).await {
        Event::Message(week1::ServerMsg::PostV1(p)) => assert_eq!(p.body, "joined"),
        other => panic!("{other:?}"),
    }
    let conn = app.conn("rc");
    assert_eq!(
        conn.hello().map(|h| h.headers.as_str()),
        Some(WEEK1_HEADERS)
    );

    client
        .send(week1::ClientMsg::TypingV1(TypingV1 { room: "rc".into() }))
        .expect("send");
    match event(&mut events).await {
        Event::Outdated(notice) => {
            assert_eq!((notice.header.as_str(), notice.version), ("cd", 1));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        conn.send(ServerMsg::ReactionV1(ReactionV1 { emoji: "x".into() })),
        Err(SendError::Outdated(Header::new(*b"ae")))
    );
    match event(&mut events).await {
        Event::Outdated(notice) => {
            assert_eq!(
                (notice.header.as_str(), notice.message.as_str()),
                ("ae", "Reaction")
            );
        }
        other => panic!("{other:?}"),
    }
    // Still connected: Say v1 goes up as v2 and comes back as Post v1.
    client
        .send(week1::ClientMsg::SayV1(SayV1 {
            room: "rc".into(),
            text: "still here".into(),
        }))
        .expect("send");
    match event(&mut events).await {
        // A broadcast: a room message (`_h`, SPEC §9.7).
        Event::RoomMessage {
            message: week1::ServerMsg::PostV1(p),
            ..
        } => assert_eq!(p.body, "still here (calm)"),
        other => panic!("{other:?}"),
    }
    client.close().await;
}

// ---- hostile hellos ----

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Hellos nobody generated: random printable bytes of random lengths, odd
/// ones included, some past what the server shares. Each connection still
/// works (it gets its reply, converted or as a notice) and the memory the
/// server keeps about hellos stays under its bound however many arrive.
#[test]
fn random_hellos_are_read_defensively_and_the_memory_they_leave_is_bounded() {
    const CONNECTIONS: usize = 300;
    let rt = hostile_support::runtime(false);
    let mut rng = Rng(0x5eed_1e55_0bad_cafe);
    let (sent, info) = hostile_support::measured(&rt, async {
        let (server, app, addr) = start().await;
        let mut sent = 0usize;
        for i in 0..CONNECTIONS {
            let len = if i % 10 == 0 {
                rng.below(50_000)
            } else {
                rng.below(8_000)
            };
            let headers: String = (0..len)
                .map(|_| char::from(0x21 + u8::try_from(rng.below(0x5e)).expect("small")))
                .collect();
            sent += headers.len();
            let fingerprint = format!("{:016x}", rng.next());
            let mut raw = connect(addr, Encoding::Text, Some(hello(&fingerprint, &headers))).await;
            let (greeting, joined) = raw.join(&format!("h{i}")).await;
            for got in [greeting, joined] {
                match got {
                    Got::Message(_) | Got::Control(Control::Outdated(_)) => {}
                    other => panic!("hello {i}: {other:?}"),
                }
            }
            raw.ws.close(None).await.expect("close");
            while raw.ws.next().await.is_some() {}
            // The application keeps the connections that joined: drop them,
            // so what remains is what the server keeps.
            lock(&app.joined).clear();
        }
        let deadline = Instant::now() + WAIT;
        while server.handle().connection_count() > 0 {
            assert!(Instant::now() < deadline, "connections linger");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        sent
    });
    eprintln!(
        "{CONNECTIONS} random hellos, {} KiB of header lists: {} KiB still held",
        sent / 1024,
        info.bytes_current / 1024
    );
    assert!(sent > 1024 * 1024, "the test sends megabytes of hellos");
    // The server shares at most 256 KiB of hellos; the rest is the server
    // itself (routes, registry, rooms of the joined connections are gone).
    assert!(
        info.bytes_current < 640 * 1024,
        "{} bytes still held after {CONNECTIONS} hellos",
        info.bytes_current
    );
}
