//! What the hostile-input matrix (`server/hostile.rs`) needs besides the
//! shared runtime support: a hand-written WebSocket peer that can send what
//! no library would (invalid UTF-8, lying lengths, half frames, half
//! upgrade requests), a well-behaved witness that keeps exchanging numbered
//! messages during an attack, and the heap accounting.
//!
//! Memory is measured with `allocation-counter` (it replaces this test
//! binary's global allocator): every test runs the server, the attacker and
//! the witness on one current-thread runtime, so all of their allocations
//! happen on the measuring thread and `bytes_max` is the exact peak of live
//! heap the attack added, with no sampling and no noise from other tests.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use allocation_counter::AllocationInfo;
use futures_util::{SinkExt, StreamExt};
use tagwire::Protocol;
use tagwire::control::Control;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

/// WebSocket opcodes (RFC 6455 §5.2).
pub const CONTINUATION: u8 = 0x0;
pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

/// A current-thread runtime, so the server, attacker and witness all
/// allocate on the thread that measures.
pub fn runtime(paused: bool) -> tokio::runtime::Runtime {
    let mut builder = tokio::runtime::Builder::new_current_thread();
    builder.enable_all();
    if paused {
        builder.start_paused(true);
    }
    builder.build().expect("runtime")
}

/// Runs `future` on `rt` and returns its output with the allocations made
/// meanwhile (peak live heap added: `bytes_max`; still held at the end:
/// `bytes_current`).
pub fn measured<T>(
    rt: &tokio::runtime::Runtime,
    future: impl Future<Output = T>,
) -> (T, AllocationInfo) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(rt.block_on(future)));
    (out.expect("the future ran"), info)
}

/// Header and payload of one frame a client sends: masked, as RFC 6455
/// requires of clients, with the all-zero key (legal, and it leaves the
/// payload as written, so a test can append "payload" bytes by hand).
pub fn frame_header(opcode: u8, fin: bool, len: u64) -> Vec<u8> {
    let mut out = vec![u8::from(fin) << 7 | opcode];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(&[0, 0, 0, 0]);
    out
}

/// One whole client frame.
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = frame_header(opcode, true, payload.len() as u64);
    out.extend_from_slice(payload);
    out
}

/// What a raw peer reads, decoded as far as the tests care.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// An error control message (`_f`): code and message.
    Error(u16, String),
    /// Any other control message.
    Control(Control),
    /// An application frame, as sent.
    Data(Vec<u8>),
    /// A WebSocket pong.
    Pong,
    /// A close frame: code and reason.
    Close(Option<u16>, String),
    /// The TCP stream ended (or failed) without a close frame.
    End,
}

/// A WebSocket client written by hand over a loopback socket.
#[derive(Debug)]
pub struct Raw {
    pub tcp: TcpStream,
    buf: Vec<u8>,
}

/// A complete upgrade request for `/ws`, with `extra` header lines
/// (each ending in `\r\n`).
pub fn upgrade_request(addr: SocketAddr, extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

impl Raw {
    /// A TCP connection that has said nothing yet.
    pub async fn tcp(addr: SocketAddr) -> Raw {
        Raw {
            tcp: TcpStream::connect(addr).await.expect("connect"),
            buf: Vec::new(),
        }
    }

    /// Upgrades with `extra` header lines; returns the peer and the HTTP
    /// status the server answered.
    pub async fn upgrade(addr: SocketAddr, extra: &str) -> (Raw, u16) {
        let mut raw = Raw::tcp(addr).await;
        raw.write(upgrade_request(addr, extra).as_bytes()).await;
        let status = raw.response_head().await;
        (raw, status)
    }

    /// Upgrades and asserts the server switched protocols.
    pub async fn open(addr: SocketAddr) -> Raw {
        let (raw, status) = Raw::upgrade(addr, "").await;
        assert_eq!(status, 101, "upgrade refused");
        raw
    }

    /// Reads an HTTP response head; returns its status (0 if the stream
    /// ended first).
    pub async fn response_head(&mut self) -> u16 {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                self.buf.drain(..end + 4);
                return head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
            }
            if !self.fill().await {
                return 0;
            }
        }
    }

    /// Writes bytes; a failed write (the server already closed) is not an
    /// error for an attacker.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.tcp.write_all(bytes).await.is_ok()
    }

    pub async fn text(&mut self, text: &str) -> bool {
        self.write(&frame(TEXT, text.as_bytes())).await
    }

    pub async fn binary(&mut self, bytes: &[u8]) -> bool {
        self.write(&frame(BINARY, bytes)).await
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next frame from the server: opcode and payload (`None` when the
    /// stream ended).
    pub async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let opcode = self.buf[0] & 0x0F;
                let (len, at) = match self.buf[1] & 0x7F {
                    126 if self.buf.len() >= 4 => {
                        (u64::from(u16::from_be_bytes([self.buf[2], self.buf[3]])), 4)
                    }
                    127 if self.buf.len() >= 10 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&self.buf[2..10]);
                        (u64::from_be_bytes(b), 10)
                    }
                    126 | 127 => (u64::MAX, 0),
                    n => (u64::from(n), 2),
                };
                if at > 0 {
                    let len = usize::try_from(len).expect("small frame");
                    if self.buf.len() >= at + len {
                        let payload = self.buf[at..at + len].to_vec();
                        self.buf.drain(..at + len);
                        return Some((opcode, payload));
                    }
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// The next frame, decoded; skips the welcome and pings (an attacker
    /// does not answer them).
    pub async fn next(&mut self) -> Seen {
        loop {
            let Some((opcode, payload)) = self.read_frame().await else {
                return Seen::End;
            };
            match opcode {
                TEXT | BINARY if payload.first() == Some(&b'_') => {
                    let control = if opcode == TEXT {
                        std::str::from_utf8(&payload)
                            .ok()
                            .and_then(|t| Control::decode_text(t).ok())
                    } else {
                        Control::decode_binary(&payload).ok()
                    };
                    match control {
                        Some(Control::Welcome(_) | Control::Ping) => {}
                        Some(Control::Error(e)) => return Seen::Error(e.code, e.message),
                        Some(other) => return Seen::Control(other),
                        None => panic!("undecodable control frame {payload:?}"),
                    }
                }
                TEXT | BINARY => return Seen::Data(payload),
                PONG => return Seen::Pong,
                CLOSE => {
                    let code =
                        (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
                    let reason =
                        String::from_utf8_lossy(payload.get(2..).unwrap_or(&[])).into_owned();
                    return Seen::Close(code, reason);
                }
                _ => {}
            }
        }
    }

    /// The next frame, within `limit` (of the runtime's clock).
    pub async fn next_within(&mut self, limit: Duration) -> Seen {
        tokio::time::timeout(limit, self.next())
            .await
            .unwrap_or_else(|_| panic!("nothing from the server within {limit:?}"))
    }

    /// Asserts the server closed with `code`; returns the reason.
    pub async fn expect_close(&mut self, code: u16) -> String {
        loop {
            match self.next_within(Duration::from_secs(60)).await {
                Seen::Close(got, reason) => {
                    assert_eq!(got, Some(code), "closed with {got:?} ({reason})");
                    return reason;
                }
                Seen::Error(..) | Seen::Data(_) | Seen::Pong => {}
                other => panic!("expected a close {code}, got {other:?}"),
            }
        }
    }

    /// Asserts the next thing the server says is an error notice with
    /// `code`; returns its message.
    pub async fn expect_error(&mut self, code: u16) -> String {
        match self.next_within(Duration::from_secs(10)).await {
            Seen::Error(got, message) => {
                assert_eq!(got, code, "error {got}: {message}");
                message
            }
            other => panic!("expected error {code}, got {other:?}"),
        }
    }
}

/// How a witness talks to one kind of server: the frame it sends for a
/// sequence number, and the sequence number in a frame it gets back (`None`
/// for frames that are not its own).
#[derive(Debug, Clone, Copy)]
pub struct Script {
    /// Sent once after connecting (joining a room), if any.
    pub setup: Option<fn() -> String>,
    pub request: fn(u64) -> String,
    pub reply: fn(&str) -> Option<u64>,
}

/// A well-behaved client that keeps sending numbered messages, one at a
/// time, and checks that each comes back, in order, none lost, while an
/// attack runs on the same server. It answers pings.
#[derive(Debug)]
pub struct Witness {
    done: Arc<AtomicU64>,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<u64, String>>,
}

impl Witness {
    /// `pace` is the pause between round trips. On the paused clock it must
    /// not be zero: a witness that always has work keeps the runtime from
    /// ever idling, so the clock would never move.
    pub async fn start(addr: SocketAddr, script: Script, pace: Duration) -> Witness {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
            .await
            .expect("witness handshake");
        let done = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let counter = done.clone();
        let task = tokio::spawn(async move {
            if let Some(setup) = script.setup {
                ws.send(Message::text(setup()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let mut seq = 0u64;
            loop {
                if *stopped.borrow_and_update() {
                    let _ = ws.close(None).await;
                    return Ok(seq);
                }
                ws.send(Message::text((script.request)(seq)))
                    .await
                    .map_err(|e| format!("witness send {seq}: {e}"))?;
                loop {
                    let message = ws.next().await;
                    let text = match message {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(f))) => {
                            return Err(format!("witness closed at {seq}: {f:?}"));
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => return Err(format!("witness read at {seq}: {e}")),
                        None => return Err(format!("witness lost its connection at {seq}")),
                    };
                    // A room message (`_h`, SPEC §9.7): the witness's own frame is inside.
                    let limits = tagwire::Limits::default();
                    let text = match tagwire::control::RoomEnvelope::split_text(&text, &limits) {
                        Ok((_, _, inner)) => inner,
                        Err(_) => text.as_str(),
                    };
                    if text.starts_with('_') {
                        match Control::decode_text(text) {
                            Ok(Control::Ping) => {
                                ws.send(Message::text(Control::Pong.to_text()))
                                    .await
                                    .map_err(|e| e.to_string())?;
                            }
                            Ok(Control::Welcome(_)) => {}
                            other => return Err(format!("witness got {other:?} at {seq}")),
                        }
                        continue;
                    }
                    match (script.reply)(text) {
                        Some(got) if got == seq => break,
                        Some(got) => {
                            return Err(format!(
                                "witness expected {seq}, got {got}: lost or reordered"
                            ));
                        }
                        None => {}
                    }
                }
                seq += 1;
                counter.store(seq, Ordering::SeqCst);
                if !pace.is_zero() {
                    tokio::time::sleep(pace).await;
                }
            }
        });
        Witness { done, stop, task }
    }

    /// Round trips completed so far.
    pub fn count(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Waits until `n` more round trips have completed (so messages flowed
    /// during whatever is going on).
    pub async fn advance(&self, n: u64) {
        let target = self.count() + n;
        let started = tokio::time::Instant::now();
        while self.count() < target {
            assert!(
                !self.task.is_finished(),
                "the witness stopped at {}",
                self.count()
            );
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the witness is stuck at {} (wanted {target})",
                self.count()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Stops it and returns how many round trips completed, all in order.
    pub async fn finish(self) -> u64 {
        let _ = self.stop.send(true);
        match tokio::time::timeout(Duration::from_secs(30), self.task).await {
            Ok(Ok(Ok(n))) => n,
            Ok(Ok(Err(e))) => panic!("the witness saw a lost, reordered or refused message: {e}"),
            Ok(Err(e)) => panic!("the witness panicked: {e}"),
            Err(_) => panic!("the witness's last message never came back"),
        }
    }
}
