//! A decoded value, shaped by the schema type it was read with.
//!
//! Values are positional (struct fields in schema order, union variants by
//! index, enums by numeric value): names come from the schema when the value
//! is turned into JSON, so a `Value` never disagrees with its type about
//! them.

use std::collections::BTreeMap;

/// One value of some schema type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    /// `u8`, `u16`, `u32` or `u64`.
    UInt(u64),
    /// `i8`, `i16`, `i32` or `i64`.
    Int(i64),
    F32(f32),
    F64(f64),
    String(String),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    /// Entries in SPEC §5 order (what `Key`'s `Ord` gives).
    Map(BTreeMap<Key, Value>),
    Optional(Option<Box<Value>>),
    /// The variant's numeric value (always one the enum declares).
    Enum(u32),
    /// Fields in schema order; also a message version's fields.
    Struct(Vec<Value>),
    /// The variant's index (declaration order) and its fields in order.
    Union {
        index: u32,
        fields: Vec<Value>,
    },
}

/// A map key. Within one map every key has the same variant, so the derived
/// order is SPEC §5's: numeric for integers, bytewise for strings (`str`'s
/// `Ord` compares UTF-8 bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Int(i128),
    Str(String),
}
