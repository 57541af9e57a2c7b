//! The schema-driven type walk, written once for both encodings.
//!
//! The walk over `ir::Type` below is this codec's own (nesting levels, the
//! optional-struct marker, union and enum lookups, flattening); it runs over
//! the runtime's [`Reader`] and [`Writer`], which both encodings implement,
//! so the tokens and bytes of each primitive come from the runtime.

use std::cell::Cell;

pub(crate) use tagwire::__private::{Reader, Writer};
use tagwire::DecodeError;

use super::value::{Key, Value};
use crate::ir::{Field, Schema, Type, TypeDefKind};

pub(crate) type R<T> = Result<T, DecodeError>;

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
