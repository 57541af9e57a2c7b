//! Decode errors and limits.

use std::fmt;

/// Why a frame was rejected.
///
/// The names are part of the wire contract: every Tagwire implementation
/// reports the same kinds (as snake_case strings outside Rust, see
/// [`DecodeErrorKind::as_str`]), so conformance vectors can compare them.
/// Non-exhaustive because control messages may need new kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The frame ended while a value still needed bytes or tokens.
    Truncated,
    /// Bytes or tokens are left after the last field.
    TrailingData,
    /// The header is not alphabet symbols or not a message of this protocol.
    UnknownHeader,
    /// A string's bytes are not UTF-8.
    InvalidUtf8,
    /// An overlong varint, or one longer than its type allows.
    InvalidVarint,
    /// A well-formed number outside its type's range.
    OutOfRange,
    /// An enum value that names no variant.
    UnknownEnumValue,
    /// A union variant index past the last variant.
    UnknownVariant,
    /// A text token that does not match its type's grammar.
    InvalidToken,
    /// A bool or presence marker other than 0/1.
    InvalidBool,
    /// A bad escape sequence in a string token.
    InvalidEscape,
    /// A bytes token that is not canonical unpadded base64url.
    InvalidBase64,
    /// A map key equal to the previous one.
    DuplicateMapKey,
    /// A map key smaller than the previous one.
    UnsortedMapKeys,
    /// The frame exceeds `max_frame_bytes`.
    FrameTooLarge,
    /// A list or map count exceeds `max_collection_len`.
    CollectionTooLong,
    /// A string or bytes value exceeds `max_string_bytes`.
    StringTooLong,
    /// Nesting exceeds `max_depth`.
    TooDeep,
    /// The byte after a text frame's header is not `|`.
    MissingSeparator,
    /// The frame decoded, but a value breaks a constraint of the schema
    /// (`@len`, `@range`, `@pattern`); [`DecodeError::violation`] says which.
    ConstraintViolation,
}

impl DecodeErrorKind {
    /// The language-neutral name used in SPEC.md, JSON and other runtimes.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Truncated => "truncated",
            Self::TrailingData => "trailing_data",
            Self::UnknownHeader => "unknown_header",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidVarint => "invalid_varint",
            Self::OutOfRange => "out_of_range",
            Self::UnknownEnumValue => "unknown_enum_value",
            Self::UnknownVariant => "unknown_variant",
            Self::InvalidToken => "invalid_token",
            Self::InvalidBool => "invalid_bool",
            Self::InvalidEscape => "invalid_escape",
            Self::InvalidBase64 => "invalid_base64",
            Self::DuplicateMapKey => "duplicate_map_key",
            Self::UnsortedMapKeys => "unsorted_map_keys",
            Self::FrameTooLarge => "frame_too_large",
            Self::CollectionTooLong => "collection_too_long",
            Self::StringTooLong => "string_too_long",
            Self::TooDeep => "too_deep",
            Self::MissingSeparator => "missing_separator",
            Self::ConstraintViolation => "constraint_violation",
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Human form of the canonical name: "unknown_enum_value" → "unknown enum value".
        for (i, word) in self.as_str().split('_').enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(word)?;
        }
        Ok(())
    }
}

/// Where in a frame decoding failed (SPEC §6.2).
///
/// Text frames carry both a token index, which is what a person counting `|`
/// pieces wants, and a byte offset, which is what an editor or hex dump wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Position {
    /// Offset of the first byte of the item being decoded in a binary frame.
    Byte(usize),
    /// A text token: `index` 0 is the header; `byte` is where the token starts
    /// (the frame length when the token is missing).
    Token {
        /// Which `|`-separated piece, counting the header as 0.
        index: usize,
        /// Byte offset of the token's first byte.
        byte: usize,
    },
}

impl Position {
    /// The byte offset, whichever encoding the frame used.
    #[must_use]
    pub const fn byte_offset(self) -> usize {
        match self {
            Position::Byte(b) | Position::Token { byte: b, .. } => b,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Position::Byte(b) => write!(f, "byte {b}"),
            Position::Token { index, byte } => write!(f, "token {index} (byte {byte})"),
        }
    }
}

/// A value that breaks a constraint of the schema (SPEC §6.4): which value,
/// as a path from the message (`shapes[3].circle.radius`), and why
/// (`250 is outside 0..=100`). Decoders report it inside a [`DecodeError`] of
/// kind [`DecodeErrorKind::ConstraintViolation`]; encoders return it as is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Violation {
    /// Field names joined by `.`, list indexes and map keys in brackets
    /// (`attrs["k"]`, `scores[-1]`); an optional adds nothing.
    pub path: String,
    /// What is wrong with the value.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for Violation {}

/// A rejected frame: what was wrong and where.
///
/// `value` is kept private-ish (read through [`DecodeError::value`]) because
/// it only carries the offending number for the kinds where quoting it helps
/// (unknown enum values and variants).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// Where it was found.
    pub position: Position,
    value: Option<u64>,
    /// Boxed: constraint violations are rare, and a small error keeps every
    /// decoder's `Result` small.
    violation: Option<Box<Violation>>,
}

impl DecodeError {
    /// An error without a quoted value.
    #[must_use]
    pub const fn new(kind: DecodeErrorKind, position: Position) -> DecodeError {
        DecodeError {
            kind,
            position,
            value: None,
            violation: None,
        }
    }

    /// A [`DecodeErrorKind::ConstraintViolation`]. Its position is the
    /// frame's start (byte 0, or token 0): the violation's path says which value.
    #[must_use]
    pub fn constraint(position: Position, violation: Violation) -> DecodeError {
        DecodeError {
            kind: DecodeErrorKind::ConstraintViolation,
            position,
            value: None,
            violation: Some(Box::new(violation)),
        }
    }

    /// Which value broke which constraint, for
    /// [`DecodeErrorKind::ConstraintViolation`].
    #[must_use]
    pub fn violation(&self) -> Option<&Violation> {
        self.violation.as_deref()
    }

    /// An error quoting the offending number, e.g. an unknown enum value.
    #[must_use]
    pub const fn with_value(kind: DecodeErrorKind, position: Position, value: u64) -> DecodeError {
        DecodeError {
            kind,
            position,
            value: Some(value),
            violation: None,
        }
    }

    /// The offending number, for kinds that quote one.
    #[must_use]
    pub const fn value(&self) -> Option<u64> {
        self.value
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(violation) = &self.violation {
            return write!(f, "{}: {violation}", self.kind);
        }
        match self.value {
            Some(v) => write!(f, "{} {v} at {}", self.kind, self.position),
            None => write!(f, "{} at {}", self.kind, self.position),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Bounds that keep a hostile frame from costing more than its own size.
///
/// Fields are public so callers can tighten one limit with
/// `Limits { max_depth: 8, ..Limits::default() }`. Defaults are SPEC §6.3's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Largest accepted frame, header included, in bytes.
    pub max_frame_bytes: usize,
    /// Largest accepted list or map count.
    pub max_collection_len: usize,
    /// Largest accepted string or bytes value, in (decoded) bytes.
    pub max_string_bytes: usize,
    /// Deepest accepted nesting of lists, maps, optionals, structs and unions.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_bytes: 1 << 20,
            max_collection_len: 100_000,
            max_string_bytes: 1 << 20,
            max_depth: 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_value_and_position() {
        let e = DecodeError::with_value(DecodeErrorKind::UnknownEnumValue, Position::Byte(12), 7);
        assert_eq!(e.to_string(), "unknown enum value 7 at byte 12");
        let e = DecodeError::new(
            DecodeErrorKind::InvalidToken,
            Position::Token { index: 3, byte: 9 },
        );
        assert_eq!(e.to_string(), "invalid token at token 3 (byte 9)");
        let e = DecodeError::constraint(
            Position::Byte(2),
            Violation {
                path: "shapes[3].circle.radius".into(),
                message: "250 is outside 0..=100".into(),
            },
        );
        assert_eq!(
            e.to_string(),
            "constraint violation: shapes[3].circle.radius: 250 is outside 0..=100"
        );
        assert_eq!(
            e.violation().map(|v| v.path.as_str()),
            Some("shapes[3].circle.radius")
        );
    }
}
