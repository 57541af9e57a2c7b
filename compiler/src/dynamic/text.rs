//! Text frames (SPEC §3) through the schema walk.

use std::cell::Cell;

use tagwire::__private::{Reader as _, TextReader, TextWriter};
use tagwire::{DecodeError, DecodeErrorKind, Limits, Position};

use super::value::Value;
use super::walk::{read_fields, write_fields};
use super::{Mismatch, find_header};
use crate::ir::{MessageVersion, Package, Schema};

/// Decodes a text frame of `package`'s protocol.
pub fn decode<'s>(
    schema: &'s Schema,
    package: &'s Package,
    frame: &str,
    limits: &Limits,
) -> Result<(&'s MessageVersion, Value), DecodeError> {
    let mut r = TextReader::new(frame, limits)?;
    let Some(message) = find_header(package, r.header().to_bytes()) else {
        return Err(r.unknown_header());
    };
    let fields = read_fields(schema, &message.fields, &mut r)?;
    r.finish()?;
    Ok((message, Value::Struct(fields)))
}

/// Decodes a text frame received as bytes: after the size check, bytes that
/// are not UTF-8 are `invalid_utf8` at the token holding the first bad byte
/// (SPEC §6.1, §7), then the frame decodes as text.
pub fn decode_bytes<'s>(
    schema: &'s Schema,
    package: &'s Package,
    frame: &[u8],
    limits: &Limits,
) -> Result<(&'s MessageVersion, Value), DecodeError> {
    if frame.len() > limits.max_frame_bytes {
        let at = Position::Token { index: 0, byte: 0 };
        return Err(DecodeError::new(DecodeErrorKind::FrameTooLarge, at));
    }
    match std::str::from_utf8(frame) {
        Ok(text) => decode(schema, package, text, limits),
        Err(e) => {
            let bad = e.valid_up_to();
            let before = &frame[..bad];
            let index = before.iter().filter(|&&b| b == b'|').count();
            let byte = before.iter().rposition(|&b| b == b'|').map_or(0, |i| i + 1);
            Err(DecodeError::new(
                DecodeErrorKind::InvalidUtf8,
                Position::Token { index, byte },
            ))
        }
    }
}

/// Encodes a message version's value (a `Value::Struct` of its fields).
pub fn encode(
    schema: &Schema,
    message: &MessageVersion,
    value: &Value,
) -> Result<String, Mismatch> {
    let (Some(header), Value::Struct(fields)) = (message.header, value) else {
        return Err(Mismatch);
    };
    let mut out = String::new();
    let bad = Cell::new(false);
    let mut w = TextWriter::new(&mut out, header);
    write_fields(schema, &message.fields, fields, &mut w, &bad);
    if bad.get() { Err(Mismatch) } else { Ok(out) }
}
