//! Tagwire frames as WebSocket messages: what the server and the client
//! share below their connection loops.

use tokio_tungstenite::tungstenite::{Bytes, Message, Utf8Bytes};

use crate::control::Control;
#[cfg(feature = "server")]
use crate::control::RoomEnvelope;
use crate::{DecodeError, Encoding, Header, Limits, Protocol};

/// Encodes one value as a WebSocket message in `encoding`.
pub(crate) fn to_message<T: Protocol>(value: &T, encoding: Encoding) -> Message {
    match encoding {
        Encoding::Text => Message::Text(Utf8Bytes::from(value.to_text())),
        Encoding::Binary => Message::Binary(Bytes::from(value.to_binary())),
    }
}

/// Encodes one value as a room message (SPEC §9.7): the `_h` envelope,
/// then the value's frame, in one buffer. Only servers send them.
#[cfg(feature = "server")]
pub(crate) fn to_room_message<T: Protocol>(
    value: &T,
    encoding: Encoding,
    envelope: &RoomEnvelope<'_>,
) -> Message {
    match encoding {
        Encoding::Text => {
            let mut out = String::new();
            envelope.write_text_prefix(&mut out);
            value.encode_text(&mut out);
            Message::Text(Utf8Bytes::from(out))
        }
        Encoding::Binary => {
            let mut out = Vec::new();
            envelope.write_binary_prefix(&mut out);
            value.encode_binary(&mut out);
            Message::Binary(Bytes::from(out))
        }
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
