//! The schema-driven type walk, written once for both encodings.
//!
//! `TextReader`/`BinaryReader` (and the writers) have the same method names
//! and shapes but no common trait, so [`Reader`] and [`Writer`] give them one;
//! the walk over `ir::Type` below is this codec's own (nesting levels, the
//! optional-struct marker, union and enum lookups, flattening), while the
//! tokens and bytes of each primitive come from the runtime.

use std::cell::Cell;
use std::collections::BTreeMap;

use tagwire::__private::{BinaryReader, BinaryWriter, Tag, TextReader, TextWriter};
use tagwire::DecodeError;

use super::value::{Key, Value};
use crate::ir::{Field, Schema, Type, TypeDefKind};

pub(crate) type R<T> = Result<T, DecodeError>;

pub(crate) trait Reader: Sized {
    fn bool(&mut self) -> R<bool>;
    fn u8(&mut self) -> R<u8>;
    fn u16(&mut self) -> R<u16>;
    fn u32(&mut self) -> R<u32>;
    fn u64(&mut self) -> R<u64>;
    fn i8(&mut self) -> R<i8>;
    fn i16(&mut self) -> R<i16>;
    fn i32(&mut self) -> R<i32>;
    fn i64(&mut self) -> R<i64>;
    fn f32(&mut self) -> R<f32>;
    fn f64(&mut self) -> R<f64>;
    fn string(&mut self) -> R<String>;
    fn bytes(&mut self) -> R<Vec<u8>>;
    fn enum_value(&mut self) -> R<Tag>;
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T>;
    fn union<T>(&mut self, f: impl FnOnce(&mut Self, Tag) -> R<T>) -> R<T>;
    fn list<T>(&mut self, each: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>>;
    fn map<K: Ord, V>(
        &mut self,
        key: impl FnMut(&mut Self) -> R<K>,
        value: impl FnMut(&mut Self) -> R<V>,
    ) -> R<BTreeMap<K, V>>;
    fn optional<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>>;
    fn optional_struct<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>>;
}

pub(crate) trait Writer: Sized {
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
    fn enum_value(&mut self, v: u32);
    fn variant(&mut self, v: u32);
    fn list<T>(&mut self, items: &[T], each: impl FnMut(&mut Self, &T));
    fn map<K, V>(
        &mut self,
        map: &BTreeMap<K, V>,
        key: impl FnMut(&mut Self, &K),
        value: impl FnMut(&mut Self, &V),
    );
    fn optional<T>(&mut self, v: &Option<T>, present: impl FnOnce(&mut Self, &T));
    fn optional_struct<T>(&mut self, v: &Option<T>, present: impl FnOnce(&mut Self, &T));
}

macro_rules! forward_reader {
    ($ty:ident) => {
        impl Reader for $ty<'_> {
            fn bool(&mut self) -> R<bool> {
                $ty::bool(self)
            }
            fn u8(&mut self) -> R<u8> {
                $ty::u8(self)
            }
            fn u16(&mut self) -> R<u16> {
                $ty::u16(self)
            }
            fn u32(&mut self) -> R<u32> {
                $ty::u32(self)
            }
            fn u64(&mut self) -> R<u64> {
                $ty::u64(self)
            }
            fn i8(&mut self) -> R<i8> {
                $ty::i8(self)
            }
            fn i16(&mut self) -> R<i16> {
                $ty::i16(self)
            }
            fn i32(&mut self) -> R<i32> {
                $ty::i32(self)
            }
            fn i64(&mut self) -> R<i64> {
                $ty::i64(self)
            }
            fn f32(&mut self) -> R<f32> {
                $ty::f32(self)
            }
            fn f64(&mut self) -> R<f64> {
                $ty::f64(self)
            }
            fn string(&mut self) -> R<String> {
                $ty::string(self)
            }
            fn bytes(&mut self) -> R<Vec<u8>> {
                $ty::bytes(self)
            }
            fn enum_value(&mut self) -> R<Tag> {
                $ty::enum_value(self)
            }
            fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<T> {
                $ty::nested(self, f)
            }
            fn union<T>(&mut self, f: impl FnOnce(&mut Self, Tag) -> R<T>) -> R<T> {
                $ty::union(self, f)
            }
            fn list<T>(&mut self, each: impl FnMut(&mut Self) -> R<T>) -> R<Vec<T>> {
                $ty::list(self, each)
            }
            fn map<K: Ord, V>(
                &mut self,
                key: impl FnMut(&mut Self) -> R<K>,
                value: impl FnMut(&mut Self) -> R<V>,
            ) -> R<BTreeMap<K, V>> {
                $ty::map(self, key, value)
            }
            fn optional<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>> {
                $ty::optional(self, f)
            }
            fn optional_struct<T>(&mut self, f: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>> {
                $ty::optional_struct(self, f)
            }
        }
    };
}

macro_rules! forward_writer {
    ($ty:ident) => {
        impl Writer for $ty<'_> {
            fn bool(&mut self, v: bool) {
                $ty::bool(self, v)
            }
            fn u8(&mut self, v: u8) {
                $ty::u8(self, v)
            }
            fn u16(&mut self, v: u16) {
                $ty::u16(self, v)
            }
            fn u32(&mut self, v: u32) {
                $ty::u32(self, v)
            }
            fn u64(&mut self, v: u64) {
                $ty::u64(self, v)
            }
            fn i8(&mut self, v: i8) {
                $ty::i8(self, v)
            }
            fn i16(&mut self, v: i16) {
                $ty::i16(self, v)
            }
            fn i32(&mut self, v: i32) {
                $ty::i32(self, v)
            }
            fn i64(&mut self, v: i64) {
                $ty::i64(self, v)
            }
            fn f32(&mut self, v: f32) {
                $ty::f32(self, v)
            }
            fn f64(&mut self, v: f64) {
                $ty::f64(self, v)
            }
            fn str(&mut self, v: &str) {
                $ty::str(self, v)
            }
            fn bytes(&mut self, v: &[u8]) {
                $ty::bytes(self, v)
            }
            fn enum_value(&mut self, v: u32) {
                $ty::enum_value(self, v)
            }
            fn variant(&mut self, v: u32) {
                $ty::variant(self, v)
            }
            fn list<T>(&mut self, items: &[T], each: impl FnMut(&mut Self, &T)) {
                $ty::list(self, items, each)
            }
            fn map<K, V>(
                &mut self,
                map: &BTreeMap<K, V>,
                key: impl FnMut(&mut Self, &K),
                value: impl FnMut(&mut Self, &V),
            ) {
                $ty::map(self, map, key, value)
            }
            fn optional<T>(&mut self, v: &Option<T>, present: impl FnOnce(&mut Self, &T)) {
                $ty::optional(self, v, present)
            }
            fn optional_struct<T>(&mut self, v: &Option<T>, present: impl FnOnce(&mut Self, &T)) {
                $ty::optional_struct(self, v, present)
            }
        }
    };
}

forward_reader!(TextReader);
forward_reader!(BinaryReader);
forward_writer!(TextWriter);
forward_writer!(BinaryWriter);

/// Whether `ty` names a struct (which needs the `+` marker when optional in text).
pub(crate) fn is_struct(schema: &Schema, ty: &Type) -> bool {
    matches!(ty, Type::Named(r)
        if matches!(schema.type_def(r).map(|d| &d.kind), Some(TypeDefKind::Struct(_))))
}

/// The fields of a message version or struct, in order, at the current level.
pub(crate) fn read_fields<Rd: Reader>(
    schema: &Schema,
    fields: &[Field],
    r: &mut Rd,
) -> R<Vec<Value>> {
    let mut out = Vec::with_capacity(fields.len());
    for f in fields {
        out.push(read(schema, &f.ty, r)?);
    }
    Ok(out)
}

/// One value of type `ty`. Every list, map, optional, struct and union
/// opens a nesting level (SPEC §6.3): the collections, optionals and unions
/// in the runtime, structs here.
pub(crate) fn read<Rd: Reader>(schema: &Schema, ty: &Type, r: &mut Rd) -> R<Value> {
    Ok(match ty {
        Type::Bool => Value::Bool(r.bool()?),
        Type::U8 => Value::UInt(r.u8()?.into()),
        Type::U16 => Value::UInt(r.u16()?.into()),
        Type::U32 => Value::UInt(r.u32()?.into()),
        Type::U64 => Value::UInt(r.u64()?),
        Type::I8 => Value::Int(r.i8()?.into()),
        Type::I16 => Value::Int(r.i16()?.into()),
        Type::I32 => Value::Int(r.i32()?.into()),
        Type::I64 => Value::Int(r.i64()?),
        Type::F32 => Value::F32(r.f32()?),
        Type::F64 => Value::F64(r.f64()?),
        Type::String => Value::String(r.string()?),
        Type::Bytes => Value::Bytes(r.bytes()?),
        Type::List(inner) => Value::List(r.list(|r| read(schema, inner, r))?),
        Type::Map(k, v) => Value::Map(r.map(|r| read_key(k, r), |r| read(schema, v, r))?),
        Type::Optional(inner) => {
            let present = |r: &mut Rd| read(schema, inner, r).map(Box::new);
            Value::Optional(if is_struct(schema, inner) {
                r.optional_struct(present)?
            } else {
                r.optional(present)?
            })
        }
        Type::Named(reference) => {
            // A checked schema resolves every name; an unresolved one reads as
            // an empty struct rather than panicking.
            let Some(def) = schema.type_def(reference) else {
                return Ok(Value::Struct(Vec::new()));
            };
            match &def.kind {
                TypeDefKind::Struct(fields) => {
                    Value::Struct(r.nested(|r| read_fields(schema, fields, r))?)
                }
                TypeDefKind::Enum(variants) => {
                    let tag = r.enum_value()?;
                    if !variants.iter().any(|v| v.value == tag.value) {
                        return Err(tag.unknown_enum_value());
                    }
                    Value::Enum(tag.value)
                }
                TypeDefKind::Union(variants) => {
                    r.union(
                        |r, tag| match variants.iter().find(|v| v.index == tag.value) {
                            Some(v) => Ok(Value::Union {
                                index: tag.value,
                                fields: read_fields(schema, &v.fields, r)?,
                            }),
                            None => Err(tag.unknown_variant()),
                        },
                    )?
                }
            }
        }
    })
}

fn read_key<Rd: Reader>(ty: &Type, r: &mut Rd) -> R<Key> {
    Ok(match ty {
        Type::U8 => Key::Int(r.u8()?.into()),
        Type::U16 => Key::Int(r.u16()?.into()),
        Type::U32 => Key::Int(r.u32()?.into()),
        Type::U64 => Key::Int(r.u64()?.into()),
        Type::I8 => Key::Int(r.i8()?.into()),
        Type::I16 => Key::Int(r.i16()?.into()),
        Type::I32 => Key::Int(r.i32()?.into()),
        Type::I64 => Key::Int(r.i64()?.into()),
        // The checker only allows integers and strings as keys.
        _ => Key::Str(r.string()?),
    })
}

/// Writes `fields` (values in schema order); sets `bad` when a value does not
/// have its field's type.
pub(crate) fn write_fields<W: Writer>(
    schema: &Schema,
    fields: &[Field],
    values: &[Value],
    w: &mut W,
    bad: &Cell<bool>,
) {
    if fields.len() != values.len() {
        bad.set(true);
        return;
    }
    for (f, v) in fields.iter().zip(values) {
        write(schema, &f.ty, v, w, bad);
    }
}

/// Writes one value of type `ty`; sets `bad` on a value of another type.
pub(crate) fn write<W: Writer>(schema: &Schema, ty: &Type, v: &Value, w: &mut W, bad: &Cell<bool>) {
    macro_rules! narrow {
        ($m:ident, $t:ty, $x:expr) => {
            match <$t>::try_from(*$x) {
                Ok(x) => w.$m(x),
                Err(_) => bad.set(true),
            }
        };
    }
    match (ty, v) {
        (Type::Bool, Value::Bool(b)) => w.bool(*b),
        (Type::U8, Value::UInt(x)) => narrow!(u8, u8, x),
        (Type::U16, Value::UInt(x)) => narrow!(u16, u16, x),
        (Type::U32, Value::UInt(x)) => narrow!(u32, u32, x),
        (Type::U64, Value::UInt(x)) => w.u64(*x),
        (Type::I8, Value::Int(x)) => narrow!(i8, i8, x),
        (Type::I16, Value::Int(x)) => narrow!(i16, i16, x),
        (Type::I32, Value::Int(x)) => narrow!(i32, i32, x),
        (Type::I64, Value::Int(x)) => w.i64(*x),
        (Type::F32, Value::F32(x)) => w.f32(*x),
        (Type::F64, Value::F64(x)) => w.f64(*x),
        (Type::String, Value::String(s)) => w.str(s),
        (Type::Bytes, Value::Bytes(b)) => w.bytes(b),
        (Type::List(inner), Value::List(items)) => {
            w.list(items, |w, item| write(schema, inner, item, w, bad));
        }
        (Type::Map(kt, vt), Value::Map(map)) => w.map(
            map,
            |w, k| write_key(kt, k, w, bad),
            |w, v| write(schema, vt, v, w, bad),
        ),
        (Type::Optional(inner), Value::Optional(o)) => {
            #[allow(clippy::borrowed_box)] // `optional` hands out `&T` for `Option<T>`.
            let present = |w: &mut W, v: &Box<Value>| write(schema, inner, v, w, bad);
            if is_struct(schema, inner) {
                w.optional_struct(o, present);
            } else {
                w.optional(o, present);
            }
        }
        (Type::Named(reference), _) => match (schema.type_def(reference).map(|d| &d.kind), v) {
            (Some(TypeDefKind::Struct(fields)), Value::Struct(values)) => {
                write_fields(schema, fields, values, w, bad);
            }
            (Some(TypeDefKind::Enum(variants)), Value::Enum(x))
                if variants.iter().any(|v| v.value == *x) =>
            {
                w.enum_value(*x);
            }
            (Some(TypeDefKind::Union(variants)), Value::Union { index, fields }) => {
                match variants.iter().find(|v| v.index == *index) {
                    Some(variant) => {
                        w.variant(*index);
                        write_fields(schema, &variant.fields, fields, w, bad);
                    }
                    None => bad.set(true),
                }
            }
            _ => bad.set(true),
        },
        _ => bad.set(true),
    }
}

fn write_key<W: Writer>(ty: &Type, k: &Key, w: &mut W, bad: &Cell<bool>) {
    macro_rules! int {
        ($m:ident, $t:ty, $x:expr) => {
            match <$t>::try_from(*$x) {
                Ok(x) => w.$m(x),
                Err(_) => bad.set(true),
            }
        };
    }
    match (ty, k) {
        (Type::String, Key::Str(s)) => w.str(s),
        (Type::U8, Key::Int(x)) => int!(u8, u8, x),
        (Type::U16, Key::Int(x)) => int!(u16, u16, x),
        (Type::U32, Key::Int(x)) => int!(u32, u32, x),
        (Type::U64, Key::Int(x)) => int!(u64, u64, x),
        (Type::I8, Key::Int(x)) => int!(i8, i8, x),
        (Type::I16, Key::Int(x)) => int!(i16, i16, x),
        (Type::I32, Key::Int(x)) => int!(i32, i32, x),
        (Type::I64, Key::Int(x)) => int!(i64, i64, x),
        _ => bad.set(true),
    }
}
