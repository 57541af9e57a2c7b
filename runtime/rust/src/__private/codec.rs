//! The one codec shape: a value writes itself to a [`Writer`] and reads
//! itself from a [`Reader`], and the text and binary encodings are the two
//! implementations of each.
//!
//! Generated code, `#[derive(tagwire::Codec)]` and the runtime's control
//! messages each implement [`Codec`] once per type; the compiler's
//! monomorphisation then gives each encoding its own straight-line code, so
//! one body costs nothing over two hand-specialised ones.

use std::collections::BTreeMap;

use super::tag::{Tag, check_key_order};
use crate::{DecodeError, Header, Position};

/// What every decoding step returns.
pub type Result<T> = std::result::Result<T, DecodeError>;

/// Appends tokens (text) or bytes (binary) to a frame whose header is
/// already written. Every method writes one value in the shape SPEC §3–4
/// give it; composites take closures for their parts.
pub trait Writer: Sized {
    fn bool(&mut self, v: bool);
    fn u8(&mut self, v: u8);
    fn u16(&mut self, v: u16);
    fn u32(&mut self, v: u32);
    fn u64(&mut self, v: u64);
    fn i8(&mut self, v: i8);
    fn i16(&mut self, v: i16);
    fn i32(&mut self, v: i32);
    fn i64(&mut self, v: i64);
    fn f32(&mut self, v: f32);
    fn f64(&mut self, v: f64);
    fn str(&mut self, v: &str);
    fn bytes(&mut self, v: &[u8]);
    /// A collection's element count.
    fn count(&mut self, len: usize);
    /// What precedes an optional: whether it is present, marked as a struct
    /// needs (text has no token of its own for a struct).
    fn presence(&mut self, present: bool, is_struct: bool);

    /// An enum's number on the wire.
    #[inline]
    fn enum_value(&mut self, v: u32) {
        self.u32(v);
    }

    /// A union's variant index; the variant's fields follow.
    #[inline]
    fn variant(&mut self, index: u32) {
        self.u32(index);
    }

    /// Count, then each element through `each`.
    #[inline]
    fn list<T>(&mut self, items: &[T], mut each: impl FnMut(&mut Self, &T)) {
        self.count(items.len());
        for item in items {
            each(self, item);
        }
    }

    /// Count, then key and value per entry. A `BTreeMap` iterates in the
    /// SPEC's key order, so the output is canonical without sorting here.
    fn map<K, V>(
        &mut self,
        map: &BTreeMap<K, V>,
        mut key: impl FnMut(&mut Self, &K),
        mut value: impl FnMut(&mut Self, &V),
    ) {
        self.count(map.len());
        for (k, v) in map {
            key(self, k);
            value(self, v);
        }
    }

    /// Absent, or the value's own tokens (for any `T` but a struct).
    #[inline]
    fn optional<T>(&mut self, v: &Option<T>, present: impl FnOnce(&mut Self, &T)) {
        self.presence(v.is_some(), false);
        if let Some(v) = v {
            present(self, v);
        }
    }

    /// Absent, or a presence marker then the fields.
    #[inline]
    fn optional_struct<T>(&mut self, v: &Option<T>, present: impl FnOnce(&mut Self, &T)) {
        self.presence(v.is_some(), true);
        if let Some(v) = v {
            present(self, v);
        }
    }

    /// A value of a schema type (struct, enum or union) or a message version.
    #[inline]
    fn value<T: Codec>(&mut self, v: &T) {
        v.encode(self);
    }

    /// An optional schema type: the marker a struct needs, or none.
    #[inline]
    fn optional_value<T: Codec>(&mut self, v: &Option<T>) {
        if T::IS_STRUCT {
            self.optional_struct(v, |w, v| v.encode(w));
        } else {
            self.optional(v, |w, v| v.encode(w));
        }
    }
}

/// Reads one frame value by value, checking each strictly; errors say what
/// was wrong and where (SPEC §6–7). The caller reads the fields in schema
/// order, then the frame's end is checked.
pub trait Reader: Sized {
    /// The frame's header, checked for shape but not for membership.
    fn header(&self) -> Header;
    /// The error for a header the protocol does not know.
    fn unknown_header(&self) -> DecodeError;
    /// Where the next value starts, for errors found after reading it.
    fn position(&self) -> Position;
    /// Opens a nesting level: `too_deep` past `Limits::max_depth`.
    fn enter(&mut self) -> Result<()>;
    /// Closes the level [`Reader::enter`] opened.
    fn leave(&mut self);
    /// A collection's element count, at most `Limits::max_collection_len`.
    fn count(&mut self) -> Result<usize>;
    /// Bytes left in the frame: an upper bound on how many elements a count
    /// can honestly announce, so a lying count cannot reserve memory.
    fn remaining(&self) -> usize;
    /// Whether the optional that follows is present (see [`Writer::presence`]).
    fn present(&mut self, is_struct: bool) -> Result<bool>;
    fn bool(&mut self) -> Result<bool>;
    fn u8(&mut self) -> Result<u8>;
    fn u16(&mut self) -> Result<u16>;
    fn u32(&mut self) -> Result<u32>;
    fn u64(&mut self) -> Result<u64>;
    fn i8(&mut self) -> Result<i8>;
    fn i16(&mut self) -> Result<i16>;
    fn i32(&mut self) -> Result<i32>;
    fn i64(&mut self) -> Result<i64>;
    fn f32(&mut self) -> Result<f32>;
    fn f64(&mut self) -> Result<f64>;
    fn string(&mut self) -> Result<String>;
    fn bytes(&mut self) -> Result<Vec<u8>>;

    /// Runs `f` one nesting level deeper, bounded by `Limits::max_depth`.
    /// Lists, maps, optionals and unions open their own level; every struct
    /// read as a value opens one through here.
    #[inline]
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.enter()?;
        let out = f(self);
        self.leave();
        out
    }

    /// An enum's number, with where it was read.
    #[inline]
    fn enum_value(&mut self) -> Result<Tag> {
        let position = self.position();
        let value = self.u32()?;
        Ok(Tag { value, position })
    }

    /// Reads a variant index, then `f` reads that variant's fields or
    /// returns [`Tag::unknown_variant`].
    fn union<T>(&mut self, f: impl FnOnce(&mut Self, Tag) -> Result<T>) -> Result<T> {
        self.nested(|r| {
            let tag = r.enum_value()?;
            f(r, tag)
        })
    }

    /// Count, then elements.
    fn list<T>(&mut self, mut each: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.nested(|r| {
            let n = r.count()?;
            let mut out = Vec::with_capacity(n.min(r.remaining()));
            for _ in 0..n {
                out.push(each(r)?);
            }
            Ok(out)
        })
    }

    /// Count, then entries whose keys must arrive strictly ascending (SPEC §5).
    fn map<K: Ord, V>(
        &mut self,
        mut key: impl FnMut(&mut Self) -> Result<K>,
        mut value: impl FnMut(&mut Self) -> Result<V>,
    ) -> Result<BTreeMap<K, V>> {
        self.nested(|r| {
            let n = r.count()?;
            let mut out = BTreeMap::new();
            for _ in 0..n {
                let at = r.position();
                let k = key(r)?;
                check_key_order(&out, &k, at)?;
                let v = value(r)?;
                out.insert(k, v);
            }
            Ok(out)
        })
    }

    /// Absent, or the value (for any `T` but a struct).
    #[inline]
    fn optional<T>(&mut self, present: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        self.nested(|r| {
            if r.present(false)? {
                present(r).map(Some)
            } else {
                Ok(None)
            }
        })
    }

    /// As [`Reader::optional`], with the marker a present struct carries.
    #[inline]
    fn optional_struct<T>(
        &mut self,
        present: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<Option<T>> {
        self.nested(|r| {
            if r.present(true)? {
                present(r).map(Some)
            } else {
                Ok(None)
            }
        })
    }

    /// An enum through its `from_value`, or `unknown_enum_value` where it
    /// was read.
    #[inline]
    fn enum_of<T>(&mut self, from_value: impl FnOnce(u32) -> Option<T>) -> Result<T> {
        let tag = self.enum_value()?;
        from_value(tag.value).ok_or_else(|| tag.unknown_enum_value())
    }

    /// A value of a schema type as a field: a struct one level deeper.
    #[inline]
    fn value<T: Codec>(&mut self) -> Result<T> {
        if T::IS_STRUCT {
            self.nested(T::decode)
        } else {
            T::decode(self)
        }
    }

    /// An optional schema type, with the marker a struct needs; a present
    /// struct opens its own level inside the optional's.
    #[inline]
    fn optional_value<T: Codec>(&mut self) -> Result<Option<T>> {
        if T::IS_STRUCT {
            self.optional_struct(Self::value)
        } else {
            self.optional(Self::value)
        }
    }

    /// A message version's fields, at the frame's top level.
    #[inline]
    fn message<T: Codec>(&mut self) -> Result<T> {
        T::decode(self)
    }
}

/// A type that writes itself to either encoding and reads itself back:
/// every schema type and message version, every protocol enum, and every
/// type with `#[derive(tagwire::Codec)]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Tagwire type",
    label = "not a Tagwire field type",
    note = "field types are bool, integers, f32, f64, String, Vec<u8> (bytes), Vec<T>, Option<T>, BTreeMap/HashMap<String or integer, T>, Box<T>, and types with #[derive(tagwire::Codec)]"
)]
pub trait Codec: Sized {
    /// Structs open a nesting level when read as a value and need a
    /// presence marker when optional (SPEC §3.2).
    const IS_STRUCT: bool = false;

    /// Writes the value (a struct: its fields, no token of its own; a
    /// protocol enum: the fields after the header).
    fn encode(&self, w: &mut impl Writer);

    /// Reads what [`Codec::encode`] writes, at the reader's current level
    /// (a protocol enum: chooses the message version by the header).
    ///
    /// # Errors
    ///
    /// Any decoding error of the encoding (SPEC §7).
    fn decode(r: &mut impl Reader) -> Result<Self>;
}

/// A recursive field is boxed in Rust; on the wire it is the value itself.
impl<T: Codec> Codec for Box<T> {
    const IS_STRUCT: bool = T::IS_STRUCT;

    #[inline]
    fn encode(&self, w: &mut impl Writer) {
        (**self).encode(w);
    }

    #[inline]
    fn decode(r: &mut impl Reader) -> Result<Self> {
        T::decode(r).map(Box::new)
    }
}

/// Everything a protocol enum needs besides its definition, which follows
/// from the list of message versions it holds: `From` each version,
/// [`crate::Protocol`] (the header by variant, and `validate` for the
/// versions listed after `validate`), and [`Codec`] (the version's fields;
/// decoding chooses the version by the header). An enum with no versions
/// can never be built, and decoding rejects every header.
#[doc(hidden)]
#[macro_export]
macro_rules! __tagwire_protocol {
    ($protocol:ident {}) => {
        impl $crate::Protocol for $protocol {
            fn header(&self) -> $crate::Header {
                match *self {}
            }
        }
        impl $crate::__private::Codec for $protocol {
            fn encode(&self, _w: &mut impl $crate::__private::Writer) {
                match *self {}
            }
            fn decode(r: &mut impl $crate::__private::Reader) -> $crate::__private::Result<Self> {
                Err($crate::__private::Reader::unknown_header(r))
            }
        }
    };
    ($protocol:ident { $($version:ident),+ $(,)? } $(validate { $($checked:ident),* $(,)? })?) => {
        $(
            impl ::core::convert::From<$version> for $protocol {
                fn from(message: $version) -> Self {
                    Self::$version(message)
                }
            }
        )+
        impl $crate::Protocol for $protocol {
            fn header(&self) -> $crate::Header {
                match self {
                    $(Self::$version(_) => $version::HEADER,)+
                }
            }
            $(
                fn validate(&self) -> ::core::result::Result<(), $crate::Violation> {
                    match self {
                        $(Self::$checked(m) => m.validate(),)*
                        #[allow(unreachable_patterns)]
                        _ => Ok(()),
                    }
                }
            )?
        }
        impl $crate::__private::Codec for $protocol {
            fn encode(&self, w: &mut impl $crate::__private::Writer) {
                match self {
                    $(Self::$version(m) => $crate::__private::Writer::value(w, m),)+
                }
            }
            fn decode(r: &mut impl $crate::__private::Reader) -> $crate::__private::Result<Self> {
                match $crate::__private::Reader::header(r) {
                    $($version::HEADER => $crate::__private::Reader::message(r).map(Self::$version),)+
                    _ => Err($crate::__private::Reader::unknown_header(r)),
                }
            }
        }
    };
}
