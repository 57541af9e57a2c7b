//! The server's frame and control-message handling: one connection of a
//! relay server, run by `Server::serve_io` over an in-memory pipe on a
//! current-thread runtime with tokio's paused clock, after a valid upgrade.
//! The fuzz input is what the client sends next.
//!
//! Input: the first byte picks the mode. Even: the rest goes to the socket
//! as it is (WebSocket framing itself is attacked). Odd: the rest is a
//! sequence of `[flags, len, payload…]` records, each sent as one masked
//! client frame with opcode `flags & 0x0F` and FIN `flags & 0x80`, so the
//! fuzzer reaches Tagwire's control messages without first having to learn
//! WebSocket framing.
//!
//! What must hold: no panic (the server's task is awaited, so a panic in it
//! is a crash here); once the client has sent everything and closed its
//! side, the connection ends within the server's own timeouts; every frame
//! the server writes is a well-formed unmasked WebSocket frame, and every
//! data frame decodes as a control message or a relay `ServerMessage`, the
//! latter possibly inside a room-message envelope (`_h`, SPEC §9.7).
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use tagwire::Protocol;
use tagwire::control::{Control, RoomEnvelope};
use tagwire::server::{Connection, Handler, Server, ServerConfig};
use tagwire_tests::relay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Relay;

impl Handler<relay::Package> for Relay {
    async fn on_message(&self, conn: &Connection<relay::Package>, message: relay::ClientMessage) {
        tagwire_tests::relay_app::relay(conn, message);
    }
}

const UPGRADE: &[u8] = b"GET /ws HTTP/1.1\r\nHost: fuzz\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// The client's bytes for `data` (see the module comment).
fn client_bytes(data: &[u8]) -> Vec<u8> {
    let Some((&mode, rest)) = data.split_first() else {
        return Vec::new();
    };
    if mode % 2 == 0 {
        return rest.to_vec();
    }
    let mut out = Vec::new();
    let mut rest = rest;
    while let [flags, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        out.push(flags & 0x8F);
        // Masked, with the all-zero key: the payload goes as it is.
        if n < 126 {
            out.push(0x80 | n as u8);
        } else {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(payload);
        rest = next;
    }
    out
}

/// Checks the server's output after the handshake's response head.
fn check_output(mut out: &[u8]) {
    let limits = tagwire::Limits::default();
    while out.len() >= 2 {
        assert_eq!(out[1] & 0x80, 0, "the server masked a frame");
        let (len, at) = match out[1] & 0x7F {
            126 if out.len() >= 4 => (usize::from(u16::from_be_bytes([out[2], out[3]])), 4),
            127 if out.len() >= 10 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&out[2..10]);
                (usize::try_from(u64::from_be_bytes(b)).expect("length"), 10)
            }
            126 | 127 => return,
            n => (usize::from(n), 2),
        };
        // The last frame may be cut off where the client stopped reading.
        let Some(payload) = out.get(at..at + len) else {
            return;
        };
        match out[0] & 0x0F {
            0x1 => {
                let text = std::str::from_utf8(payload).expect("server text frame is UTF-8");
                let ok = if text.starts_with("_h") {
                    // A room message (SPEC §9.7): the envelope, then the
                    // message's own frame.
                    RoomEnvelope::split_text(text, &limits)
                        .is_ok_and(|(_, _, inner)| relay::ServerMessage::decode_text(inner).is_ok())
                } else if text.starts_with('_') {
                    Control::decode_text(text).is_ok()
                } else {
                    relay::ServerMessage::decode_text(text).is_ok()
                };
                assert!(ok, "the server wrote an undecodable frame {text:?}");
            }
            0x2 => {
                let ok = if payload.starts_with(b"_h") {
                    RoomEnvelope::split_binary(payload, &limits).is_ok_and(|(_, _, inner)| {
                        relay::ServerMessage::decode_binary(inner).is_ok()
                    })
                } else if payload.first() == Some(&b'_') {
                    Control::decode_binary(payload).is_ok()
                } else {
                    relay::ServerMessage::decode_binary(payload).is_ok()
                };
                assert!(ok, "the server wrote an undecodable frame {payload:?}");
            }
            0x8 | 0x9 | 0xA => {}
            other => panic!("the server wrote opcode {other}"),
        }
        out = &out[at + len..];
    }
}

fuzz_target!(|data: &[u8]| {
    let input = client_bytes(data);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let mut config = ServerConfig::default();
        // Small enough that the fuzzer reaches the frame limit.
        config.limits.max_frame_bytes = 512;
        let server = Server::new(Relay, config);
        let (mut client, server_end) = tokio::io::duplex(4096);
        let serving = tokio::spawn(async move { server.serve_io(server_end, None).await });
        client.write_all(UPGRADE).await.expect("upgrade request");
        // A client may send frames only once it has the 101 (tungstenite
        // refuses bytes after the request as JunkAfterRequest).
        let mut head = Vec::new();
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut chunk = [0u8; 256];
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => panic!("no handshake response: {head:?}"),
                Ok(n) => head.extend_from_slice(&chunk[..n]),
            }
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "upgrade refused");
        let (mut read, mut write) = tokio::io::split(client);
        let reader = tokio::spawn(async move {
            let mut out = head;
            let _ = read.read_to_end(&mut out).await;
            out
        });
        let _ = write.write_all(&input).await;
        let _ = write.shutdown().await;
        // Heartbeat (45 s) and close timeouts (5 s) bound every connection.
        let ended = tokio::time::timeout(Duration::from_secs(120), serving).await;
        match ended {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Ok(Err(e)) => panic!("server task failed: {e}"),
            Err(_) => panic!("the connection outlived every server timeout"),
        }
        drop(write);
        let out = reader.await.expect("reader");
        let head_end = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("the handshake response");
        check_output(&out[head_end + 4..]);
    });
});
