//! What generated code needs, and nothing else. Not a stable API: only the
//! compiler of the same version may rely on it.
//!
//! Generated code for a struct `Point { x: i32, y: Option<String> }` is:
//!
//! ```
//! # use tagwire::__private::*;
//! # use tagwire::DecodeError;
//! # struct Point { x: i32, y: Option<String> }
//! impl Point {
//!     fn encode_text_fields(&self, w: &mut TextWriter<'_>) {
//!         w.i32(self.x);
//!         w.optional(&self.y, |w, v| w.str(v));
//!     }
//!     fn decode_text_fields(r: &mut TextReader<'_>) -> Result<Self, DecodeError> {
//!         Ok(Point { x: r.i32()?, y: r.optional(|r| r.string())? })
//!     }
//! }
//! ```
//!
//! and the same with `BinaryWriter`/`BinaryReader`, whose methods have the
//! same names and shapes. A struct-typed field is written
//! `self.pos.encode_text_fields(w)` and read
//! `r.nested(|r| Point::decode_text_fields(r))?`; an optional struct uses
//! `optional_struct`. Field initialisers in a struct expression run in the
//! order written, which is what keeps decoding in schema order.

mod base64url;
mod binary;
mod constraint;
pub mod derive;
#[cfg(feature = "json")]
pub mod json;
mod scan;
mod text;

use std::collections::BTreeMap;

pub use binary::{BinaryReader, BinaryWriter};
pub use constraint::{
    Regex, char_count, check_float, check_int, check_len, check_pattern, compile_pattern,
    key_violation, quote_key, within,
};
pub use text::{TextReader, TextWriter};

use crate::{DecodeError, DecodeErrorKind, Position};

/// An enum value or union variant index as read, with where it was read, so
/// the generated `match` can report an unknown one at the right place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The number on the wire.
    pub value: u32,
    /// Where it started.
    pub position: Position,
}

impl Tag {
    /// For the `_` arm of an enum's `match`.
    #[must_use]
    pub fn unknown_enum_value(self) -> DecodeError {
        DecodeError::with_value(
            DecodeErrorKind::UnknownEnumValue,
            self.position,
            self.value.into(),
        )
    }

    /// For the `_` arm of a union's `match`.
    #[must_use]
    pub fn unknown_variant(self) -> DecodeError {
        DecodeError::with_value(
            DecodeErrorKind::UnknownVariant,
            self.position,
            self.value.into(),
        )
    }
}

fn depth_exceeded(at: Position) -> DecodeError {
    DecodeError::new(DecodeErrorKind::TooDeep, at)
}

/// Keys arrive in ascending order, so the map's current last key is the
/// previous key: comparing with it is the whole canonical-order check.
fn check_key_order<K: Ord, V>(
    map: &BTreeMap<K, V>,
    key: &K,
    at: Position,
) -> Result<(), DecodeError> {
    match map.last_key_value() {
        Some((last, _)) if key == last => {
            Err(DecodeError::new(DecodeErrorKind::DuplicateMapKey, at))
        }
        Some((last, _)) if key < last => {
            Err(DecodeError::new(DecodeErrorKind::UnsortedMapKeys, at))
        }
        _ => Ok(()),
    }
}
