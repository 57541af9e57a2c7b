//! The borrowing binary decode: generated `…Ref<'a>` types hold `&'a str`
//! and `&'a [u8]` pointing into the frame instead of owned copies, so a
//! handler that only reads a message pays for no string or bytes allocation.
//!
//! Only the binary encoding offers it: a binary string is its UTF-8 bytes
//! verbatim, so validating them is the whole decode; a text string may carry
//! escapes that must be undone into new memory (docs/RUNTIME.md, Borrowed
//! decoding). Checks, limits and errors are exactly those of the owned
//! decode: the same [`BinaryReader`] reads the same bytes in the same order.

use super::binary::BinaryReader;
use super::codec::{Reader, Result};
use crate::{DecodeError, Limits, Position, Violation};

/// A borrowed view of a schema type, message version or protocol enum that
/// reads itself from a binary frame, borrowing its strings and bytes.
///
/// Generated for every type that holds a string or bytes, directly or
/// through its fields; a type without any is its own view and is read with
/// [`super::Codec`].
pub trait DecodeRef<'a>: Sized {
    /// As [`super::Codec::IS_STRUCT`]: a struct opens a nesting level when
    /// read as a value (SPEC §6.3).
    const IS_STRUCT: bool = false;

    /// Reads what the owned type's `Codec::encode` writes, at the reader's
    /// current level (a protocol enum: chooses the version by the header).
    ///
    /// # Errors
    ///
    /// Any decoding error of the binary encoding (SPEC §7).
    fn decode_ref(r: &mut BinaryReader<'a>) -> Result<Self>;

    /// The schema's constraints, as the owned type's `validate`; a protocol
    /// enum's view overrides it when a version has constraints.
    ///
    /// # Errors
    ///
    /// The first violation, in schema order.
    fn validate(&self) -> std::result::Result<(), Violation> {
        Ok(())
    }
}

impl<'a, T: DecodeRef<'a>> DecodeRef<'a> for Box<T> {
    const IS_STRUCT: bool = T::IS_STRUCT;

    #[inline]
    fn decode_ref(r: &mut BinaryReader<'a>) -> Result<Self> {
        T::decode_ref(r).map(Box::new)
    }
}

/// Decodes one binary frame into a borrowed view, then checks the schema's
/// constraints: what `Protocol::decode_binary_with` does, without copying
/// strings and bytes out of `frame`.
///
/// # Errors
///
/// As `Protocol::decode_binary_with`.
#[inline]
pub fn decode_binary_ref<'a, T: DecodeRef<'a>>(
    frame: &'a [u8],
    limits: &Limits,
) -> std::result::Result<T, DecodeError> {
    let mut r = BinaryReader::new(frame, limits)?;
    let message = T::decode_ref(&mut r)?;
    r.finish()?;
    message
        .validate()
        .map_err(|v| DecodeError::constraint(Position::Byte(0), v))?;
    Ok(message)
}

impl<'a> BinaryReader<'a> {
    /// A borrowed view of a schema type as a field: a struct one level
    /// deeper, as [`Reader::value`].
    #[inline]
    pub fn value_ref<T: DecodeRef<'a>>(&mut self) -> Result<T> {
        if T::IS_STRUCT {
            self.nested(T::decode_ref)
        } else {
            T::decode_ref(self)
        }
    }

    /// An optional borrowed view, as [`Reader::optional_value`].
    #[inline]
    pub fn optional_value_ref<T: DecodeRef<'a>>(&mut self) -> Result<Option<T>> {
        if T::IS_STRUCT {
            self.optional_struct(Self::value_ref)
        } else {
            self.optional(Self::value_ref)
        }
    }
}
