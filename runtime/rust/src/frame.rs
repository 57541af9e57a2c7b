//! Tagwire frames as WebSocket messages: what the server and the client
//! share below their connection loops.

use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use crate::control::Control;
#[cfg(feature = "server")]
use crate::control::{PresenceHead, RoomEnvelope};
use crate::{DecodeError, Encoding, Header, Limits, Protocol};

/// Encodes one value as a WebSocket message in `encoding`.
pub(crate) fn to_message<T: Protocol>(value: &T, encoding: Encoding) -> Message {
    match encoding {
        Encoding::Text => Message::Text(Utf8Bytes::from(value.to_text())),
        Encoding::Binary => Message::Binary(Bytes::from(value.to_binary())),
    }
}

/// What goes before a value's frame in a wrapped server frame: an `_h`
/// envelope (SPEC §9.7), with a presence event's `_l` fields after it, or
/// an `_n` snapshot member's fields (§9.8). Written straight into each
/// frame's buffer, so a room message costs no allocation beyond its frames.
/// Only servers send them.
#[cfg(feature = "server")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefix<'a> {
    envelope: Option<&'a RoomEnvelope<'a>>,
    head: Option<&'a PresenceHead<&'a str>>,
}

#[cfg(feature = "server")]
impl<'a> Prefix<'a> {
    /// A room message's envelope, and the presence event it carries if any.
    pub(crate) fn room(
        envelope: &'a RoomEnvelope<'a>,
        event: Option<&'a PresenceHead<&'a str>>,
    ) -> Self {
        Prefix {
            envelope: Some(envelope),
            head: event,
        }
    }

    /// A presence head sent on its own (`_n`).
    pub(crate) fn presence(head: &'a PresenceHead<&'a str>) -> Self {
        Prefix {
            envelope: None,
            head: Some(head),
        }
    }

    /// Whether a value's frame follows the prefix: not after a leave event.
    pub(crate) fn takes_value(&self) -> bool {
        self.head.is_none_or(PresenceHead::has_state)
    }

    fn text(&self, out: &mut String) {
        if let Some(envelope) = self.envelope {
            envelope.write_text_prefix(out);
        }
        if let Some(head) = self.head {
            head.write_text_prefix(out);
        }
    }

    fn binary(&self, out: &mut Vec<u8>) {
        if let Some(envelope) = self.envelope {
            envelope.write_binary_prefix(out);
        }
        if let Some(head) = self.head {
            head.write_binary_prefix(out);
        }
    }

    /// The prefix alone, as a whole frame (a leave event).
    pub(crate) fn alone(&self, encoding: Encoding) -> Message {
        match encoding {
            Encoding::Text => {
                let mut out = String::new();
                self.text(&mut out);
                Message::Text(Utf8Bytes::from(out))
            }
            Encoding::Binary => {
                let mut out = Vec::new();
                self.binary(&mut out);
                Message::Binary(Bytes::from(out))
            }
        }
    }

    /// The prefix and `value`'s frame, in one buffer.
    pub(crate) fn message<T: Protocol>(&self, value: &T, encoding: Encoding) -> Message {
        match encoding {
            Encoding::Text => {
                let mut out = String::new();
                self.text(&mut out);
                value.encode_text(&mut out);
                Message::Text(Utf8Bytes::from(out))
            }
            Encoding::Binary => {
                let mut out = Vec::new();
                self.binary(&mut out);
                value.encode_binary(&mut out);
                Message::Binary(Bytes::from(out))
            }
        }
    }

    /// The prefix and a binary frame already encoded, as it is.
    pub(crate) fn binary_with(&self, frame: &[u8]) -> Message {
        let mut out = Vec::with_capacity(frame.len() + 48);
        self.binary(&mut out);
        out.extend_from_slice(frame);
        Message::Binary(Bytes::from(out))
    }
}

/// A received data frame, split by who handles it.
#[derive(Debug)]
pub(crate) enum Incoming<T> {
    /// A control message (reserved header).
    Control(Control),
    /// An application message.
    Message(T),
}

/// The payload of a text or binary WebSocket message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    Text(&'a str),
    Binary(&'a [u8]),
}

impl Payload<'_> {
    /// The frame's 2 header bytes, if it has them (for error messages).
    pub(crate) fn header_text(&self) -> String {
        let bytes = match self {
            Payload::Text(s) => s.as_bytes(),
            Payload::Binary(b) => b,
        };
        match bytes {
            [a, b, ..] => Header::from_bytes([*a, *b]).map_or_else(
                || format!("{:?}", String::from_utf8_lossy(&[*a, *b])),
                |h| h.to_string(),
            ),
            _ => "(none)".to_string(),
        }
    }

    fn is_control(&self) -> bool {
        let first = match self {
            Payload::Text(s) => s.as_bytes().first(),
            Payload::Binary(b) => b.first(),
        };
        first == Some(&b'_')
    }
}

/// Decodes a frame: reserved headers as [`Control`], the rest as `T`.
pub(crate) fn decode<T: Protocol>(
    payload: Payload<'_>,
    limits: &Limits,
) -> Result<Incoming<T>, DecodeError> {
    Ok(match (payload.is_control(), payload) {
        (true, Payload::Text(s)) => Incoming::Control(Control::decode_text_with(s, limits)?),
        (true, Payload::Binary(b)) => Incoming::Control(Control::decode_binary_with(b, limits)?),
        (false, Payload::Text(s)) => Incoming::Message(T::decode_text_with(s, limits)?),
        (false, Payload::Binary(b)) => Incoming::Message(T::decode_binary_with(b, limits)?),
    })
}
