//! What both readers share: a decoded tag (an enum value or a union
//! variant, with where it was read) and the checks of nesting and map keys.

use std::collections::BTreeMap;

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

pub(super) fn depth_exceeded(at: Position) -> DecodeError {
    DecodeError::new(DecodeErrorKind::TooDeep, at)
}

/// Keys arrive in ascending order, so the map's current last key is the
/// previous key: comparing with it is the whole canonical-order check.
pub(super) fn check_key_order<K: Ord, V>(
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
