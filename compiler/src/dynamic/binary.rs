//! Binary frames (SPEC §4) through the schema walk.

use std::cell::Cell;

use tagwire::__private::{BinaryReader, BinaryWriter, Reader as _};
use tagwire::{DecodeError, Limits};

use super::value::Value;
use super::walk::{read_fields, write_fields};
use super::{Mismatch, find_header};
use crate::ir::{MessageVersion, Package, Schema};

/// Decodes a binary frame of `package`'s protocol.
pub fn decode<'s>(
    schema: &'s Schema,
    package: &'s Package,
    frame: &[u8],
    limits: &Limits,
) -> Result<(&'s MessageVersion, Value), DecodeError> {
    let mut r = BinaryReader::new(frame, limits)?;
    let Some(message) = find_header(package, r.header().to_bytes()) else {
        return Err(r.unknown_header());
    };
    let fields = read_fields(schema, &message.fields, &mut r)?;
    r.finish()?;
    Ok((message, Value::Struct(fields)))
}

/// Encodes a message version's value (a `Value::Struct` of its fields).
pub fn encode(
    schema: &Schema,
    message: &MessageVersion,
    value: &Value,
) -> Result<Vec<u8>, Mismatch> {
    let (Some(header), Value::Struct(fields)) = (message.header, value) else {
        return Err(Mismatch);
    };
    let mut out = Vec::new();
    let bad = Cell::new(false);
    let mut w = BinaryWriter::new(&mut out, header);
    write_fields(schema, &message.fields, fields, &mut w, &bad);
    if bad.get() { Err(Mismatch) } else { Ok(out) }
}
