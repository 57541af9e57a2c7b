//! `tagwire tap SCHEMA URL`: connects to a server like a client of the
//! schema's package, answers its heartbeat, sends the values read on stdin
//! and prints every frame it receives as one JSON line (or a table row).
//!
//! Part of the `tagwire` binary, not of the library.
//!
//! It runs its own small loop over tokio-tungstenite instead of the
//! runtime's `tagwire::client::Client`: that client is generic over a
//! compile-time `Package` (constant name and fingerprint, generated message
//! enums) and reconnects by itself, while a tap knows its protocol only at
//! run time and should show, not hide, that the connection ended. What it
//! shares with the runtime is everything on the wire: the control messages
//! (`tagwire::control`), the room envelope, the close-code table and the
//! limits, and the schema-driven codec behind `tagwire decode` / `encode`.

use std::io::{BufRead, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::handshake::client::Request;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use tagwire::__private::json as canonical;
use tagwire::control::{self, Control, Hello, PresenceHead, RoomEnvelope, RoomPosition};
use tagwire::{CloseCode, Encoding, Limits, Protocol as _};
use tagwire_compiler::Output;
use tagwire_compiler::dynamic::{Frame, Json, decode_frame, encode_values_line, pick_package};
use tagwire_compiler::ir::{Package, Schema};

/// How long a connection attempt (TCP and handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Without a ping for this long the server is taken for gone (the
/// runtime client's default `ping_timeout`), unless its welcome announces
/// a slower heartbeat.
const PING_TIMEOUT: Duration = Duration::from_secs(45);
/// How long the closing handshake may take before the tap gives up on it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// Lines of stdin waiting to be sent; the reader blocks beyond it.
const STDIN_QUEUE: usize = 64;

/// What the tap prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TapFormat {
    /// One JSON object per line.
    Json,
    /// Aligned columns for a person.
    Table,
}

/// `tagwire tap`'s settings, from the command line.
#[derive(Debug)]
pub struct TapArgs {
    pub url: String,
    pub package: Option<String>,
    pub encoding: Encoding,
    pub format: TapFormat,
    pub pings: bool,
    pub close_on_eof: bool,
}

/// Runs the tap to its end: 0 after a clean close, 1 on a connection or
/// protocol error (or any stdin line that could not be sent), 2 on usage
/// errors (a URL that is not one, no package to pick).
pub fn run(output: &Output, args: &TapArgs) -> ExitCode {
    let Some(schema) = output.schema.as_ref().filter(|_| !output.has_errors()) else {
        eprint!("{}", output.render_text());
        return ExitCode::from(1);
    };
    let package = match pick_package(schema, args.package.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let request = match request(&args.url, args.encoding) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let limits = Limits::default();
    let lines = read_stdin(4 * limits.max_frame_bytes);
    let tap = Tap {
        schema,
        package,
        args,
        limits,
        printer: Printer::new(args.format),
        failed: false,
    };
    let code = runtime.block_on(tap.run(request, lines));
    // The stdin reader may still be blocked in a read: do not wait for it.
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// The handshake request: the URL plus the subprotocol naming the encoding.
fn request(url: &str, encoding: Encoding) -> Result<Request, String> {
    let mut request = url
        .into_client_request()
        .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(encoding.subprotocol()),
    );
    Ok(request)
}

/// One line of stdin: its number and text, or why it cannot be used.
enum Line {
    Text(usize, String),
    Bad(usize, String),
    Eof,
}

/// Reads stdin on a thread of its own (std's stdin blocks), one line at a
/// time, each at most `max` bytes: a longer line is skipped, not buffered.
fn read_stdin(max: usize) -> mpsc::Receiver<Line> {
    let (tx, rx) = mpsc::channel(STDIN_QUEUE);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        let mut n = 0;
        loop {
            n += 1;
            let mut buf = Vec::new();
            let line = match read_line(&mut input, &mut buf, max) {
                Ok(None) => Line::Eof,
                Ok(Some(true)) => match String::from_utf8(buf) {
                    Ok(text) => Line::Text(n, text),
                    Err(_) => Line::Bad(n, "the line is not UTF-8".into()),
                },
                Ok(Some(false)) => Line::Bad(n, format!("the line is longer than {max} bytes")),
                Err(e) => Line::Bad(n, format!("cannot read stdin: {e}")),
            };
            let last = matches!(line, Line::Eof);
            if tx.blocking_send(line).is_err() || last {
                return;
            }
        }
    });
    rx
}

/// Reads up to the next LF into `buf` (without it or a CR before it).
/// `None` at the end of input; `Some(false)` when the line was longer than
/// `max` (the rest of it is read and dropped).
fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    let mut fits = true;
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(any.then_some(fits));
        }
        any = true;
        let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if fits && buf.len() + part.len() <= max {
            buf.extend_from_slice(part);
        } else {
            fits = false;
            buf.clear();
        }
        let used = done.unwrap_or(part.len());
        input.consume(used);
        if done.is_some() {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            return Ok(Some(fits));
        }
    }
}

struct Tap<'a> {
    schema: &'a Schema,
    package: &'a Package,
    args: &'a TapArgs,
    limits: Limits,
    printer: Printer,
    /// A stdin line could not be sent or a frame did not decode: exit 1.
    failed: bool,
}

/// How a connection ended, for the exit status.
enum End {
    /// The tap closed it (stdin's end, Ctrl-C, stdout gone), or the server
    /// did with a code that ends a session on purpose.
    Clean,
    /// What went wrong, for stderr.
    Error(String),
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl Tap<'_> {
    async fn run(mut self, request: Request, mut lines: mpsc::Receiver<Line>) -> u8 {
        let url = self.args.url.clone();
        let max = self.limits.max_frame_bytes;
        // A hostile or broken server cannot make the tap buffer more than
        // one frame of the runtime's maximum size.
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let mut ws = match timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok((ws, _response))) => ws,
            Ok(Err(e)) => {
                eprintln!("error: cannot connect to {url}: {e}");
                return 1;
            }
            Err(_) => {
                eprintln!("error: cannot connect to {url}: no answer within {CONNECT_TIMEOUT:?}");
                return 1;
            }
        };
        let end = self.session(&mut ws, &mut lines).await;
        match end {
            End::Clean if !self.failed => 0,
            End::Clean => 1,
            End::Error(e) => {
                eprintln!("error: {url}: {e}");
                1
            }
        }
    }

    /// The hello the generated code of this package would send: its name,
    /// fingerprint and every header, in header order.
    fn hello(&self) -> Control {
        let mut messages: Vec<_> = self
            .package
            .messages
            .iter()
            .filter_map(|m| m.header)
            .collect();
        messages.sort_by_key(|h| h.index());
        Control::Hello(Hello {
            package: self.package.name.clone(),
            fingerprint: self.package.fingerprint.clone(),
            headers: messages.iter().map(ToString::to_string).collect(),
        })
    }

    fn message(&self, text: String, binary: Vec<u8>) -> Message {
        match self.args.encoding {
            Encoding::Text => Message::Text(Utf8Bytes::from(text)),
            Encoding::Binary => Message::Binary(Bytes::from(binary)),
        }
    }

    fn control(&self, control: &Control) -> Message {
        self.message(control.to_text(), control.to_binary())
    }

    async fn session(&mut self, ws: &mut Ws, lines: &mut mpsc::Receiver<Line>) -> End {
        if let Err(e) = ws.send(self.control(&self.hello())).await {
            return End::Error(format!("cannot send the hello: {e}"));
        }
        let mut ping_timeout = PING_TIMEOUT;
        let watchdog = sleep_until(Instant::now() + ping_timeout);
        tokio::pin!(watchdog);
        let interrupt = tokio::signal::ctrl_c();
        tokio::pin!(interrupt);
        let mut stdin_open = true;
        loop {
            tokio::select! {
                received = ws.next() => {
                    let message = match received {
                        None => return End::Error("the connection closed without a close frame".into()),
                        Some(Err(e)) => return End::Error(format!("connection error: {e}")),
                        Some(Ok(message)) => message,
                    };
                    let frame = match &message {
                        Message::Text(text) => Frame::Text(text.as_str()),
                        Message::Binary(bytes) => Frame::Binary(bytes),
                        Message::Close(frame) => {
                            let end = self.closed_by_server(frame.as_ref());
                            finish_closing(ws).await;
                            return end;
                        }
                        // WebSocket pings are answered by tungstenite.
                        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                    };
                    let row = match self.read(frame) {
                        Ok(row) => row,
                        Err(e) => {
                            self.failed = true;
                            eprintln!("error: a frame that does not decode ({}): {e}", excerpt(frame));
                            continue;
                        }
                    };
                    if let Row::Control { name: "ping", .. } = row {
                        watchdog.as_mut().reset(Instant::now() + ping_timeout);
                        if let Err(e) = ws.send(self.control(&Control::Pong)).await {
                            return End::Error(format!("cannot answer a ping: {e}"));
                        }
                        if !self.args.pings {
                            continue;
                        }
                    }
                    if let Row::Control { name: "welcome", interval: Some(interval), .. } = row {
                        // A server that pings less often than the default
                        // timeout is not dropped for it.
                        ping_timeout = PING_TIMEOUT.max(interval + interval / 2);
                        watchdog.as_mut().reset(Instant::now() + ping_timeout);
                        self.check_fingerprint(&row);
                    }
                    if self.printer.print(&row).is_err() {
                        // stdout is gone (`tagwire tap … | head`): nobody is
                        // watching any more.
                        return close(ws, CloseCode::NORMAL, "").await;
                    }
                }
                line = lines.recv(), if stdin_open => match line {
                    Some(Line::Text(n, text)) => {
                        if text.trim().is_empty() {
                            continue;
                        }
                        match encode_values_line(self.schema, Some(&self.package.name), &text) {
                            Ok((text, binary)) => {
                                if let Err(e) = ws.send(self.message(text, binary)).await {
                                    return End::Error(format!("cannot send stdin line {n}: {e}"));
                                }
                            }
                            Err(e) => {
                                self.failed = true;
                                eprintln!("error: stdin line {n}: {e}");
                            }
                        }
                    }
                    Some(Line::Bad(n, e)) => {
                        self.failed = true;
                        eprintln!("error: stdin line {n}: {e}");
                    }
                    Some(Line::Eof) | None => {
                        stdin_open = false;
                        if self.args.close_on_eof {
                            return close(ws, CloseCode::NORMAL, "").await;
                        }
                    }
                },
                () = &mut watchdog => {
                    close(ws, CloseCode::HEARTBEAT_TIMEOUT, "no ping").await;
                    return End::Error(format!("no ping from the server for {ping_timeout:?}; closed with 4000"));
                }
                _ = &mut interrupt => {
                    return close(ws, CloseCode::NORMAL, "").await;
                }
            }
        }
    }

    /// Prints the server's close frame; the session ended cleanly when the
    /// server meant to end it (1000, 1001 or a drain's 4001).
    fn closed_by_server(&mut self, frame: Option<&CloseFrame>) -> End {
        let (code, reason) = frame.map_or((CloseCode(1005), ""), |f| {
            (CloseCode(u16::from(f.code)), f.reason.as_str())
        });
        let row = Row::Control {
            name: "close",
            fields: vec![
                ("code".into(), Json::Number(code.0.to_string())),
                ("name".into(), Json::String(code.name().into())),
                ("reason".into(), Json::String(reason.into())),
            ],
            interval: None,
        };
        // A close is the last thing to show; a closed stdout changes nothing now.
        let _ = self.printer.print(&row);
        if matches!(code.0, 1000 | 1001 | 4001) {
            End::Clean
        } else if reason.is_empty() {
            End::Error(format!("the server closed the connection with {code}"))
        } else {
            End::Error(format!(
                "the server closed the connection with {code}: {reason}"
            ))
        }
    }

    fn check_fingerprint(&self, welcome: &Row) {
        let Row::Control { fields, .. } = welcome else {
            return;
        };
        let theirs = fields.iter().find_map(|(k, v)| match (k.as_str(), v) {
            ("fingerprint", Json::String(f)) => Some(f.as_str()),
            _ => None,
        });
        if let Some(theirs) = theirs
            && theirs != self.package.fingerprint
        {
            eprintln!(
                "warning: the server's protocol fingerprint is {theirs}, the schema's {}: \
                 frames of message versions the two do not share will not decode",
                self.package.fingerprint
            );
        }
    }

    /// Decodes one received frame into what gets printed.
    fn read(&self, frame: Frame<'_>) -> Result<Row, String> {
        let bytes = match frame {
            Frame::Text(t) => t.as_bytes(),
            Frame::TextBytes(b) | Frame::Binary(b) => b,
        };
        if bytes.starts_with(control::ROOM.as_str().as_bytes()) {
            let (room, position, decoded) = match frame {
                Frame::Text(t) => {
                    let (room, position, inner) =
                        RoomEnvelope::split_text(t, &self.limits).map_err(|e| e.to_string())?;
                    (room, position, self.decode_inner(Frame::Text(inner))?)
                }
                Frame::TextBytes(b) | Frame::Binary(b) => {
                    let (room, position, inner) =
                        RoomEnvelope::split_binary(b, &self.limits).map_err(|e| e.to_string())?;
                    (room, position, self.decode_inner(Frame::Binary(inner))?)
                }
            };
            let mut row = decoded;
            match &mut row {
                Row::Message { room: slot, .. } => *slot = Some((room, position)),
                Row::Presence {
                    room: slot,
                    position: at,
                    ..
                } => {
                    *slot = Some(room);
                    *at = Some(position);
                }
                Row::Control { .. } => {}
            }
            return Ok(row);
        }
        if bytes.starts_with(control::PRESENCE_MEMBER.as_str().as_bytes()) {
            return self.presence(frame);
        }
        if bytes.first() == Some(&b'_') {
            let control = match frame {
                Frame::Text(t) => Control::decode_text_with(t, &self.limits),
                Frame::TextBytes(b) | Frame::Binary(b) => {
                    Control::decode_binary_with(b, &self.limits)
                }
            };
            return control.map(control_row).map_err(|e| e.to_string());
        }
        self.decode(frame)
    }

    /// An `_h`'s inner frame: an application message, or a presence event.
    fn decode_inner(&self, frame: Frame<'_>) -> Result<Row, String> {
        let bytes = match frame {
            Frame::Text(t) => t.as_bytes(),
            Frame::TextBytes(b) | Frame::Binary(b) => b,
        };
        if bytes.starts_with(control::PRESENCE_EVENT.as_str().as_bytes()) {
            self.presence(frame)
        } else {
            self.decode(frame)
        }
    }

    /// `_l` (an event) or `_n` (a snapshot's member), with the member's
    /// state decoded as the message it is.
    fn presence(&self, frame: Frame<'_>) -> Result<Row, String> {
        let (head, state) = match frame {
            Frame::Text(t) => {
                let (head, state) =
                    PresenceHead::split_text(t, &self.limits).map_err(|e| e.to_string())?;
                (head, Frame::Text(state))
            }
            Frame::TextBytes(b) | Frame::Binary(b) => {
                let (head, state) =
                    PresenceHead::split_binary(b, &self.limits).map_err(|e| e.to_string())?;
                (head, Frame::Binary(state))
            }
        };
        let state = if head.has_state() {
            Some(Box::new(self.decode(state)?))
        } else {
            None
        };
        let (kind, room, member) = match head {
            PresenceHead::Event { kind, member } => (kind.as_str(), None, member),
            PresenceHead::Member { room, member } => ("member", Some(room), member),
            PresenceHead::Set { .. } => return Err("a presence set (`_k`) from the server".into()),
        };
        Ok(Row::Presence {
            kind,
            room,
            position: None,
            member,
            state,
        })
    }

    fn decode(&self, frame: Frame<'_>) -> Result<Row, String> {
        let d = decode_frame(self.schema, Some(&self.package.name), frame, &self.limits)
            .map_err(|e| e.to_string())?;
        Ok(Row::Message {
            header: d.header,
            message: d.message,
            version: d.version,
            room: None,
            value: d.json,
        })
    }
}

/// The start of a frame for an error message: enough to recognise it.
fn excerpt(frame: Frame<'_>) -> String {
    const SHOWN: usize = 40;
    match frame {
        Frame::Text(t) => {
            let cut: String = t.chars().take(SHOWN).collect();
            let more = if cut.len() < t.len() { "…" } else { "" };
            format!("text {cut:?}{more}")
        }
        Frame::TextBytes(b) | Frame::Binary(b) => {
            let hex: String = b.iter().take(SHOWN).map(|x| format!("{x:02x}")).collect();
            let more = if b.len() > SHOWN { "…" } else { "" };
            format!("binary {hex}{more}")
        }
    }
}

/// Sends a close frame and lets the closing handshake finish.
async fn close(ws: &mut Ws, code: CloseCode, reason: &str) -> End {
    let frame = CloseFrame {
        code: WsCloseCode::from(code.0),
        reason: reason.into(),
    };
    // A peer that is already gone cannot be told; the tap ends either way.
    let _ = timeout(CLOSE_WAIT, ws.close(Some(frame))).await;
    finish_closing(ws).await;
    End::Clean
}

/// Reads until the stream ends (tungstenite answers the peer's close frame
/// while being read), bounded by [`CLOSE_WAIT`].
async fn finish_closing(ws: &mut Ws) {
    let _ = timeout(CLOSE_WAIT, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// One received frame, as printed.
#[derive(Debug, Clone, PartialEq)]
enum Row {
    /// An application message, in a room envelope or not.
    Message {
        header: String,
        message: String,
        version: u32,
        room: Option<(String, RoomPosition)>,
        value: Json,
    },
    /// A presence event (`_l`, in its room at its position) or a member
    /// of a presence snapshot (`_n`, in its room): the member and its
    /// state (none for a leave), a [`Row::Message`].
    Presence {
        /// `join`, `update`, `leave`, or `member` for a snapshot's.
        kind: &'static str,
        room: Option<String>,
        position: Option<RoomPosition>,
        member: String,
        state: Option<Box<Row>>,
    },
    /// A control message (or the close frame): its name and fields.
    Control {
        name: &'static str,
        fields: Vec<(String, Json)>,
        /// The welcome's ping interval.
        interval: Option<Duration>,
    },
}

fn number(n: impl ToString) -> Json {
    Json::Number(n.to_string())
}

fn position_json(p: RoomPosition) -> Json {
    // Positions stay below 2^53 (SPEC §9.7): plain numbers, as the
    // TypeScript client carries them.
    Json::Object(vec![
        ("epoch".into(), number(p.epoch)),
        ("seq".into(), number(p.seq)),
    ])
}

fn control_row(control: Control) -> Row {
    let s = |v: String| Json::String(v);
    let mut interval = None;
    let (name, fields): (&'static str, Vec<(&str, Json)>) = match control {
        Control::Ping => ("ping", vec![]),
        Control::Pong => ("pong", vec![]),
        Control::Hello(h) => (
            "hello",
            vec![
                ("package", s(h.package)),
                ("fingerprint", s(h.fingerprint)),
                ("headers", s(h.headers)),
            ],
        ),
        Control::Welcome(w) => {
            interval = Some(Duration::from_millis(u64::from(w.ping_interval_ms)));
            (
                "welcome",
                vec![
                    ("package", s(w.package)),
                    ("fingerprint", s(w.fingerprint)),
                    ("ping_interval_ms", number(w.ping_interval_ms)),
                ],
            )
        }
        Control::Drain(d) => (
            "drain",
            vec![
                ("reason", s(d.reason)),
                ("window_ms", number(d.window_ms)),
                (
                    "backoff_multiplier",
                    canonical::f64(d.backoff_multiplier).into(),
                ),
            ],
        ),
        Control::Error(e) => (
            "error",
            vec![
                ("code", number(e.code)),
                ("name", s(e.name().into())),
                ("message", s(e.message)),
            ],
        ),
        Control::Outdated(o) => (
            "outdated",
            vec![
                ("header", s(o.header)),
                ("message", s(o.message)),
                ("version", number(o.version)),
                ("reason", s(o.reason)),
            ],
        ),
        Control::Resume(r) => (
            "resume",
            vec![("room", s(r.room)), ("position", position_json(r.position))],
        ),
        Control::Gap(g) => (
            "gap",
            vec![
                ("room", s(g.room)),
                ("kind", s(g.kind.as_str().into())),
                ("position", position_json(g.position)),
            ],
        ),
        Control::PresenceSnapshot(p) => (
            "presence_snapshot",
            vec![
                ("room", s(p.room)),
                ("position", position_json(p.position)),
                ("count", number(p.count)),
            ],
        ),
    };
    Row::Control {
        name,
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        interval,
    }
}

impl Row {
    /// `{"header":"ad","message":"Delivered","version":1,"room":"lobby",
    /// "position":{"epoch":1,"seq":2},"value":{…}}` or
    /// `{"control":"drain","reason":…}`.
    fn json(&self) -> Json {
        match self {
            Row::Message {
                header,
                message,
                version,
                room,
                value,
            } => {
                let mut members = vec![
                    ("header".to_owned(), Json::String(header.clone())),
                    ("message".to_owned(), Json::String(message.clone())),
                    ("version".to_owned(), number(version)),
                ];
                if let Some((room, position)) = room {
                    members.push(("room".into(), Json::String(room.clone())));
                    members.push(("position".into(), position_json(*position)));
                }
                members.push(("value".into(), value.clone()));
                Json::Object(members)
            }
            Row::Presence {
                kind,
                room,
                position,
                member,
                state,
            } => {
                let mut members = vec![("presence".to_owned(), Json::String((*kind).into()))];
                if let Some(room) = room {
                    members.push(("room".into(), Json::String(room.clone())));
                }
                if let Some(position) = position {
                    members.push(("position".into(), position_json(*position)));
                }
                members.push(("member".into(), Json::String(member.clone())));
                if let Some(state) = state
                    && let Json::Object(fields) = state.json()
                {
                    members.extend(fields);
                }
                Json::Object(members)
            }
            Row::Control { name, fields, .. } => {
                let mut members = vec![("control".to_owned(), Json::String((*name).into()))];
                members.extend(fields.iter().cloned());
                Json::Object(members)
            }
        }
    }

    /// Columns TIME, ROOM, POSITION, MESSAGE, VALUE (without TIME).
    fn columns(&self) -> [String; 4] {
        match self {
            Row::Message {
                header,
                message,
                version,
                room,
                value,
            } => {
                let (room, position) = room.as_ref().map_or_else(
                    || ("-".to_owned(), "-".to_owned()),
                    |(r, p)| (r.clone(), p.to_string()),
                );
                [
                    room,
                    position,
                    format!("{message} v{version} ({header})"),
                    value.render(),
                ]
            }
            Row::Presence {
                kind,
                room,
                position,
                member,
                state,
            } => {
                let room = room.clone().unwrap_or_else(|| "-".to_owned());
                let position = position.map_or_else(|| "-".to_owned(), |p| p.to_string());
                let (what, value) = match state.as_deref() {
                    Some(state) => {
                        let [_, _, message, value] = state.columns();
                        (format!(" {message}"), value)
                    }
                    None => (String::new(), "-".to_owned()),
                };
                [
                    room,
                    position,
                    format!("[presence {kind}] {member}{what}"),
                    value,
                ]
            }
            Row::Control { name, fields, .. } => [
                "-".into(),
                "-".into(),
                format!("[{name}]"),
                Json::Object(fields.clone()).render(),
            ],
        }
    }
}

/// Writes rows to stdout, flushing each: a tap's reader wants frames as
/// they come, not when a buffer fills.
struct Printer {
    format: TapFormat,
    header_done: bool,
}

impl Printer {
    fn new(format: TapFormat) -> Self {
        Printer {
            format,
            header_done: false,
        }
    }

    fn print(&mut self, row: &Row) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        match self.format {
            TapFormat::Json => writeln!(out, "{}", row.json().render())?,
            TapFormat::Table => {
                if !self.header_done {
                    self.header_done = true;
                    writeln!(
                        out,
                        "{:<12}  {:<12}  {:<10}  {:<24}  VALUE",
                        "TIME (UTC)", "ROOM", "POSITION", "MESSAGE"
                    )?;
                }
                let [room, position, message, value] = row.columns();
                writeln!(
                    out,
                    "{:<12}  {room:<12}  {position:<10}  {message:<24}  {value}",
                    clock()
                )?;
            }
        }
        out.flush()
    }
}

/// The wall clock as `hh:mm:ss.mmm` (UTC: the binary carries no time zones).
fn clock() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let ms = now.as_millis() % 86_400_000;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// `--format auto`: a table on a terminal, JSON lines into a pipe or file.
pub fn auto_format() -> TapFormat {
    if std::io::stdout().is_terminal() {
        TapFormat::Table
    } else {
        TapFormat::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_lose_their_terminators() -> std::io::Result<()> {
        let mut input = std::io::Cursor::new(b"ab\r\nlong line\nc".to_vec());
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut input, &mut buf, 4)?, Some(true));
        assert_eq!(buf, b"ab");
        buf.clear();
        assert_eq!(read_line(&mut input, &mut buf, 4)?, Some(false));
        assert!(buf.is_empty());
        assert_eq!(read_line(&mut input, &mut buf, 4)?, Some(true));
        assert_eq!(buf, b"c");
        buf.clear();
        assert_eq!(read_line(&mut input, &mut buf, 4)?, None);
        Ok(())
    }

    #[test]
    fn control_frames_print_with_their_fields() {
        let row = control_row(Control::Gap(control::GapNotice {
            room: "lobby".into(),
            kind: control::GapReason::Trimmed,
            position: RoomPosition { epoch: 300, seq: 7 },
        }));
        assert_eq!(
            row.json().render(),
            r#"{"control":"gap","room":"lobby","kind":"trimmed","position":{"epoch":300,"seq":7}}"#
        );
        let row = control_row(Control::Drain(control::DrainNotice {
            reason: "Server updating".into(),
            window_ms: 5000,
            backoff_multiplier: 2.0,
        }));
        assert_eq!(
            row.json().render(),
            r#"{"control":"drain","reason":"Server updating","window_ms":5000,"backoff_multiplier":2}"#
        );
        assert_eq!(row.columns()[2], "[drain]");
    }

    #[test]
    fn presence_frames_are_read_with_their_state_decoded() {
        let output = tagwire_compiler::FrontEnd::new()
            .schema_text("t.schema", "package t;\npresence Cursor { x: u16 }\n")
            .run();
        let schema = output.schema.as_ref().expect("checks");
        let args = TapArgs {
            url: "ws://127.0.0.1:1/ws".into(),
            package: None,
            encoding: Encoding::Text,
            format: TapFormat::Json,
            pings: false,
            close_on_eof: false,
        };
        let tap = Tap {
            schema,
            package: &schema.packages[0],
            args: &args,
            limits: Limits::default(),
            printer: Printer::new(TapFormat::Json),
            failed: false,
        };
        let json = |frame: &str| tap.read(Frame::Text(frame)).map(|row| row.json().render());
        assert_eq!(
            json("_h|cursors|300|8|_l|update|ann|aa|600"),
            Ok(r#"{"presence":"update","room":"cursors","position":{"epoch":300,"seq":8},"member":"ann","header":"aa","message":"Cursor","version":1,"value":{"x":600}}"#.into())
        );
        assert_eq!(
            json("_h|cursors|300|9|_l|leave|ann"),
            Ok(r#"{"presence":"leave","room":"cursors","position":{"epoch":300,"seq":9},"member":"ann"}"#.into())
        );
        assert_eq!(
            json("_n|cursors|ben|aa|7"),
            Ok(r#"{"presence":"member","room":"cursors","member":"ben","header":"aa","message":"Cursor","version":1,"value":{"x":7}}"#.into())
        );
        assert_eq!(
            json("_m|cursors|300|9|1"),
            Ok(r#"{"control":"presence_snapshot","room":"cursors","position":{"epoch":300,"seq":9},"count":1}"#.into())
        );
        assert!(json("_h|cursors|300|10|_l|wave|ann").is_err());
    }

    #[test]
    fn presence_events_and_members_print_with_their_member_and_state() {
        let state = Row::Message {
            header: "ak".into(),
            message: "Cursor".into(),
            version: 1,
            room: None,
            value: Json::Object(vec![("x".into(), number(600))]),
        };
        let join = Row::Presence {
            kind: "join",
            room: Some("cursors".into()),
            position: Some(RoomPosition { epoch: 300, seq: 8 }),
            member: "ann".into(),
            state: Some(Box::new(state.clone())),
        };
        assert_eq!(
            join.json().render(),
            r#"{"presence":"join","room":"cursors","position":{"epoch":300,"seq":8},"member":"ann","header":"ak","message":"Cursor","version":1,"value":{"x":600}}"#
        );
        assert_eq!(join.columns()[2], "[presence join] ann Cursor v1 (ak)");
        let leave = Row::Presence {
            kind: "leave",
            room: Some("cursors".into()),
            position: Some(RoomPosition { epoch: 300, seq: 9 }),
            member: "ann".into(),
            state: None,
        };
        assert_eq!(
            leave.json().render(),
            r#"{"presence":"leave","room":"cursors","position":{"epoch":300,"seq":9},"member":"ann"}"#
        );
        assert_eq!(leave.columns()[3], "-");
        let member = Row::Presence {
            kind: "member",
            room: Some("cursors".into()),
            position: None,
            member: "ben".into(),
            state: Some(Box::new(state)),
        };
        assert_eq!(
            member.columns()[..2],
            ["cursors".to_owned(), "-".to_owned()]
        );
    }
}
