//! The runtime's own messages (SPEC §9): ping, pong, hello, welcome, drain
//! notice, error and outdated notice, on the reserved `_` headers.
//!
//! They use the same text and binary encodings as application messages, so
//! a peer decodes every frame with one codec and dispatches on the header's
//! first byte: `_` goes here, anything else to the application's protocol.

use crate::__private::{BinaryReader, BinaryWriter, TextReader, TextWriter};
use crate::{DecodeError, Header, Limits, Protocol};

/// `_a`: the server's heartbeat; the client answers with [`Control::Pong`].
pub const PING: Header = Header::new(*b"_a");
/// `_b`: the client's answer to a ping.
pub const PONG: Header = Header::new(*b"_b");
/// `_c`: the client's first frame, naming the protocol it was built from.
pub const HELLO: Header = Header::new(*b"_c");
/// `_d`: the server's first frame, naming its protocol and heartbeat.
pub const WELCOME: Header = Header::new(*b"_d");
/// `_e`: the server is going away (deploy); reconnect inside the window.
pub const DRAIN: Header = Header::new(*b"_e");
/// `_f`: a frame was refused; the connection stays open.
pub const ERROR: Header = Header::new(*b"_f");
/// `_g`: the peer's protocol is too old for a message (protocol evolution).
pub const OUTDATED: Header = Header::new(*b"_g");

/// One control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Server → client heartbeat.
    Ping,
    /// Client → server answer to [`Control::Ping`].
    Pong,
    /// Client → server, first frame of a connection.
    Hello(Hello),
    /// Server → client, first frame of a connection.
    Welcome(Welcome),
    /// Server → client: the server is draining for a deploy.
    Drain(DrainNotice),
    /// Server → client: a frame was refused.
    Error(ErrorNotice),
    /// Server → client: a message could not be exchanged with this client's
    /// version of the protocol (SPEC §9.6); the page should reload.
    Outdated(OutdatedNotice),
}

/// What a client says about itself when it connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Hello {
    /// The schema package the client was generated from (`ui`).
    pub package: String,
    /// The client's `PROTOCOL_FINGERPRINT`.
    pub fingerprint: String,
    /// Every header the client was generated with, concatenated (`aaabac`),
    /// so a server can tell which message versions the peer understands.
    pub headers: String,
}

/// What the server says about itself when a client connects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Welcome {
    /// The schema package the server was generated from.
    pub package: String,
    /// The server's `PROTOCOL_FINGERPRINT`.
    pub fingerprint: String,
    /// How often the server pings, so the client's watchdog can match it.
    pub ping_interval_ms: u32,
}

/// The drain notice: sent just before the server closes the connection
/// with [`crate::CloseCode::DRAIN`].
#[derive(Debug, Clone, PartialEq)]
pub struct DrainNotice {
    /// Human-readable, for logs and UIs ("Server updating").
    pub reason: String,
    /// The client reconnects at a uniformly random moment within this many
    /// milliseconds of the notice.
    pub window_ms: u32,
    /// Factor applied to the client's backoff for reconnects that follow
    /// this notice (the article's "double the exponential backoff").
    pub backoff_multiplier: f64,
}

/// A refused frame: the connection survives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNotice {
    /// One of the [`error_code`] values.
    pub code: u16,
    /// Human-readable detail (what and where).
    pub message: String,
}

/// A message this client's protocol cannot carry: the server would have sent
/// a version the client does not know and has no conversion to one it knows,
/// or the client sent a version the server's schema removed. The connection
/// stays open; other messages keep flowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutdatedNotice {
    /// The 2-character header at issue (`ad`): the server's newest version
    /// when the server could not send, the client's frame's when it sent a
    /// removed version.
    pub header: String,
    /// The message's name in the schema (`Typing`); empty when unknown.
    pub message: String,
    /// The version `header` stands for.
    pub version: u32,
    /// Human-readable detail, for logs and UIs.
    pub reason: String,
}

/// Codes carried by [`ErrorNotice::code`] (SPEC §9.3).
pub mod error_code {
    /// The frame's header is not a message the receiver accepts.
    pub const UNKNOWN_HEADER: u16 = 1;
    /// The frame could not be decoded (the message names the position).
    pub const MALFORMED: u16 = 2;
    /// The message exists but may not be sent in this direction.
    pub const WRONG_DIRECTION: u16 = 3;
    /// The application refused the message.
    pub const REFUSED: u16 = 4;
    /// The client is over a rate limit; the frame was dropped unhandled.
    pub const RATE_LIMITED: u16 = 5;
    /// The client may not send this message (authorization denied).
    pub const FORBIDDEN: u16 = 6;
    /// A value decoded but breaks a constraint of the schema.
    pub const INVALID: u16 = 7;

    /// The code's name in SPEC §9.3 (`rate_limited`); `unknown` for codes
    /// this runtime does not know (newer servers may send more).
    #[must_use]
    pub fn name(code: u16) -> &'static str {
        match code {
            UNKNOWN_HEADER => "unknown_header",
            MALFORMED => "malformed",
            WRONG_DIRECTION => "wrong_direction",
            REFUSED => "refused",
            RATE_LIMITED => "rate_limited",
            FORBIDDEN => "forbidden",
            INVALID => "invalid",
            _ => "unknown",
        }
    }
}

impl ErrorNotice {
    /// The code's name ([`error_code::name`]).
    #[must_use]
    pub fn name(&self) -> &'static str {
        error_code::name(self.code)
    }
}

impl Control {
    /// Whether `header` belongs to the runtime rather than the application.
    #[must_use]
    pub fn is_control(header: Header) -> bool {
        header.is_reserved()
    }
}

impl Protocol for Control {
    fn header(&self) -> Header {
        match self {
            Control::Ping => PING,
            Control::Pong => PONG,
            Control::Hello(_) => HELLO,
            Control::Welcome(_) => WELCOME,
            Control::Drain(_) => DRAIN,
            Control::Error(_) => ERROR,
            Control::Outdated(_) => OUTDATED,
        }
    }

    fn encode_text(&self, out: &mut String) {
        let mut w = TextWriter::new(out, self.header());
        match self {
            Control::Ping | Control::Pong => {}
            Control::Hello(h) => {
                w.str(&h.package);
                w.str(&h.fingerprint);
                w.str(&h.headers);
            }
            Control::Welcome(h) => {
                w.str(&h.package);
                w.str(&h.fingerprint);
                w.u32(h.ping_interval_ms);
            }
            Control::Drain(d) => {
                w.str(&d.reason);
                w.u32(d.window_ms);
                w.f64(d.backoff_multiplier);
            }
            Control::Error(e) => {
                w.u16(e.code);
                w.str(&e.message);
            }
            Control::Outdated(o) => {
                w.str(&o.header);
                w.str(&o.message);
                w.u32(o.version);
                w.str(&o.reason);
            }
        }
    }

    fn encode_binary(&self, out: &mut Vec<u8>) {
        let mut w = BinaryWriter::new(out, self.header());
        match self {
            Control::Ping | Control::Pong => {}
            Control::Hello(h) => {
                w.str(&h.package);
                w.str(&h.fingerprint);
                w.str(&h.headers);
            }
            Control::Welcome(h) => {
                w.str(&h.package);
                w.str(&h.fingerprint);
                w.u32(h.ping_interval_ms);
            }
            Control::Drain(d) => {
                w.str(&d.reason);
                w.u32(d.window_ms);
                w.f64(d.backoff_multiplier);
            }
            Control::Error(e) => {
                w.u16(e.code);
                w.str(&e.message);
            }
            Control::Outdated(o) => {
                w.str(&o.header);
                w.str(&o.message);
                w.u32(o.version);
                w.str(&o.reason);
            }
        }
    }

    fn decode_text_with(frame: &str, limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = TextReader::new(frame, limits)?;
        let message = match r.header() {
            PING => Control::Ping,
            PONG => Control::Pong,
            HELLO => Control::Hello(Hello {
                package: r.string()?,
                fingerprint: r.string()?,
                headers: r.string()?,
            }),
            WELCOME => Control::Welcome(Welcome {
                package: r.string()?,
                fingerprint: r.string()?,
                ping_interval_ms: r.u32()?,
            }),
            DRAIN => Control::Drain(DrainNotice {
                reason: r.string()?,
                window_ms: r.u32()?,
                backoff_multiplier: r.f64()?,
            }),
            ERROR => Control::Error(ErrorNotice {
                code: r.u16()?,
                message: r.string()?,
            }),
            OUTDATED => Control::Outdated(OutdatedNotice {
                header: r.string()?,
                message: r.string()?,
                version: r.u32()?,
                reason: r.string()?,
            }),
            _ => return Err(r.unknown_header()),
        };
        r.finish()?;
        Ok(message)
    }

    fn decode_binary_with(frame: &[u8], limits: &Limits) -> Result<Self, DecodeError> {
        let mut r = BinaryReader::new(frame, limits)?;
        let message = match r.header() {
            PING => Control::Ping,
            PONG => Control::Pong,
            HELLO => Control::Hello(Hello {
                package: r.string()?,
                fingerprint: r.string()?,
                headers: r.string()?,
            }),
            WELCOME => Control::Welcome(Welcome {
                package: r.string()?,
                fingerprint: r.string()?,
                ping_interval_ms: r.u32()?,
            }),
            DRAIN => Control::Drain(DrainNotice {
                reason: r.string()?,
                window_ms: r.u32()?,
                backoff_multiplier: r.f64()?,
            }),
            ERROR => Control::Error(ErrorNotice {
                code: r.u16()?,
                message: r.string()?,
            }),
            OUTDATED => Control::Outdated(OutdatedNotice {
                header: r.string()?,
                message: r.string()?,
                version: r.u32()?,
                reason: r.string()?,
            }),
            _ => return Err(r.unknown_header()),
        };
        r.finish()?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Control> {
        vec![
            Control::Ping,
            Control::Pong,
            Control::Hello(Hello {
                package: "ui".into(),
                fingerprint: "0dd77274df56ce28".into(),
                headers: "aaabac".into(),
            }),
            Control::Welcome(Welcome {
                package: "ui".into(),
                fingerprint: "0dd77274df56ce28".into(),
                ping_interval_ms: 30_000,
            }),
            Control::Drain(DrainNotice {
                reason: "Server updating".into(),
                window_ms: 5_000,
                backoff_multiplier: 2.0,
            }),
            Control::Error(ErrorNotice {
                code: error_code::UNKNOWN_HEADER,
                message: "header `zz` is not a message this server accepts".into(),
            }),
            Control::Outdated(OutdatedNotice {
                header: "ad".into(),
                message: "Typing".into(),
                version: 1,
                reason: "Typing v1 was removed from the protocol; reload to update".into(),
            }),
        ]
    }

    #[test]
    fn text_frames_match_the_spec() {
        let frames: Vec<String> = all().iter().map(Protocol::to_text).collect();
        assert_eq!(
            frames,
            [
                "_a",
                "_b",
                "_c|ui|0dd77274df56ce28|aaabac",
                "_d|ui|0dd77274df56ce28|30000",
                "_e|Server updating|5000|2",
                "_f|1|header `zz` is not a message this server accepts",
                "_g|ad|Typing|1|Typing v1 was removed from the protocol; reload to update",
            ]
        );
    }

    #[test]
    fn every_control_message_round_trips_in_both_encodings() -> Result<(), DecodeError> {
        for message in all() {
            assert_eq!(Control::decode_text(&message.to_text())?, message);
            assert_eq!(Control::decode_binary(&message.to_binary())?, message);
        }
        Ok(())
    }

    /// SPEC §9.3's table; runtime/typescript/test/control.test.ts has the
    /// same list.
    #[test]
    fn error_codes_are_the_spec_table() {
        let names: Vec<(u16, &str)> = (0..=8).map(|c| (c, error_code::name(c))).collect();
        assert_eq!(
            names,
            [
                (0, "unknown"),
                (1, "unknown_header"),
                (2, "malformed"),
                (3, "wrong_direction"),
                (4, "refused"),
                (5, "rate_limited"),
                (6, "forbidden"),
                (7, "invalid"),
                (8, "unknown"),
            ]
        );
        let notice = ErrorNotice {
            code: error_code::RATE_LIMITED,
            message: "slow down".into(),
        };
        assert_eq!(notice.name(), "rate_limited");
        assert_eq!(Control::Error(notice).to_text(), "_f|5|slow down");
    }

    #[test]
    fn application_headers_are_not_control_messages() {
        assert!(Control::decode_text("aa").is_err());
        assert!(!Control::is_control(Header::new(*b"aa")));
        assert!(Control::is_control(PING));
    }
}
