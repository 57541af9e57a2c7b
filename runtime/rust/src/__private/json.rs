//! Canonical JSON (SPEC §8) for generated `to_canonical_json` /
//! `from_canonical_json` functions (the `json` feature).
//!
//! Encoding helpers build a [`Json`], our own tree whose objects are a list
//! of members kept in the order they were pushed. Generated code pushes
//! fields in schema order and map entries from the `BTreeMap` (ascending
//! keys, so integer keys in numeric order), and [`to_canonical_string`]
//! writes members in that order and numbers as SPEC §3.4 does. The order
//! therefore never depends on `serde_json`'s map: without its
//! `preserve_order` feature that map sorts members by key, and which way it
//! goes is decided by whatever crate in the build enables the feature.
//! Enabling it from here instead would turn every `serde_json::Map` of the
//! program into an insertion-ordered one (Cargo features unify), a change
//! to code that has nothing to do with Tagwire.
//!
//! Decoding helpers read a [`Value`], where member order does not matter,
//! strictly, and report where a problem is as a JSON path
//! (`value.shapes[3].circle.radius`), built lazily from [`Path`] links so a
//! successful decode formats nothing.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Index;

pub use serde_json::{Map, Number, Value};

use super::base64url;
use super::text::parse_decimal;

/// A JSON value that does not fit its schema type, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// Like `value.shapes[3].circle.radius`; empty for the value itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl JsonError {
    /// An error at `path`.
    #[must_use]
    pub fn new(path: &Path<'_>, message: impl Into<String>) -> Self {
        JsonError {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for JsonError {}

/// Where a value sits, as a chain of links to its parent.
#[derive(Debug, Clone, Copy)]
pub enum Path<'a> {
    /// The value itself, named (`value`) or not (empty).
    Root(&'a str),
    /// A property of an object: `parent.name`.
    Field(&'a Path<'a>, &'a str),
    /// An element of an array: `parent[3]`.
    Index(&'a Path<'a>, usize),
    /// A member of a map: `parent["key"]`.
    Key(&'a Path<'a>, &'a str),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(name) => f.write_str(name),
            Path::Field(parent, name) => {
                if matches!(parent, Path::Root("")) {
                    f.write_str(name)
                } else {
                    write!(f, "{parent}.{name}")
                }
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
            Path::Key(parent, key) => {
                write!(f, "{parent}[{}]", Value::String((*key).to_owned()))
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected<T>(p: &Path<'_>, what: &str, v: &Value) -> Result<T, JsonError> {
    Err(JsonError::new(
        p,
        format!("expected {what}, found {}", kind(v)),
    ))
}

/// Canonical JSON as written (SPEC §8): like [`Value`], but an object is
/// its members in order, so the canonical order generated code builds is
/// the order [`to_canonical_string`] (and `Display`) writes.
///
/// `Value::from` turns it into a `serde_json` value for reading or for
/// `from_canonical_json`; that value's member order is `serde_json`'s.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in the order written. Generated code never
    /// repeats a key.
    Object(Members),
}

/// An object's members, in order.
pub type Members = Vec<(String, Json)>;

static NULL: Json = Json::Null;

impl Json {
    /// The value of member `key` of an object (the last, were it repeated).
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string, if this is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is one that is a `u64`.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Json::Number(n) => n.as_u64(),
            _ => None,
        }
    }
}

/// `json["message"]`, as on a [`Value`]: [`Json::Null`] when there is no
/// such member.
impl Index<&str> for Json {
    type Output = Json;

    fn index(&self, key: &str) -> &Json {
        self.get(key).unwrap_or(&NULL)
    }
}

/// The canonical text, as [`to_canonical_string`].
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_canonical_string(self))
    }
}

impl From<Json> for Value {
    fn from(v: Json) -> Value {
        match v {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Number(n) => Value::Number(n),
            Json::String(s) => Value::String(s),
            Json::Array(items) => Value::Array(items.into_iter().map(Value::from).collect()),
            Json::Object(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, Value::from(v)))
                    .collect(),
            ),
        }
    }
}

/// Equal when `Value::from` of it is: member order is not compared, as
/// [`Value`]'s own equality does not compare it.
impl PartialEq<Value> for Json {
    // Converting defines the comparison, repeated keys included (the last
    // one counts, as in a map); it serves tests and assertions, where the
    // copy costs nothing that matters.
    #[allow(clippy::cmp_owned)]
    fn eq(&self, other: &Value) -> bool {
        Value::from(self.clone()) == *other
    }
}

impl PartialEq<Json> for Value {
    fn eq(&self, other: &Json) -> bool {
        other == self
    }
}

impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}

impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::String(v)
    }
}

macro_rules! from_ints {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(v: $t) -> Json {
                Json::Number(Number::from(v))
            }
        }
    )*};
}

from_ints!(u8, u16, u32, i8, i16, i32);

// Value → JSON

/// `u64` as a decimal string.
#[must_use]
pub fn u64(v: u64) -> Json {
    Json::String(v.to_string())
}

/// `i64` as a decimal string.
#[must_use]
pub fn i64(v: i64) -> Json {
    Json::String(v.to_string())
}

/// A number, or `"-0"`, `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[must_use]
pub fn f64(v: f64) -> Json {
    if v.is_nan() {
        Json::String("NaN".into())
    } else if v == f64::INFINITY {
        Json::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Json::String("-Infinity".into())
    } else if v == 0.0 && v.is_sign_negative() {
        Json::String("-0".into())
    } else {
        Number::from_f64(v).map_or(Json::Null, Json::Number)
    }
}

/// As [`f64`], the value held exactly as an `f64`.
#[must_use]
pub fn f32(v: f32) -> Json {
    f64(f64::from(v))
}

/// Unpadded base64url.
#[must_use]
pub fn bytes(v: &[u8]) -> Json {
    let mut out = String::new();
    base64url::encode(v, &mut out);
    Json::String(out)
}

/// Compact JSON text with numbers spelled as SPEC §3.4 (JavaScript's
/// `Number#toString`) and strings escaped as `JSON.stringify` does, members
/// in the order the [`Json`] holds them (for generated code, SPEC §8's):
/// equal to what the TypeScript runtime writes.
#[must_use]
pub fn to_canonical_string(v: &Json) -> String {
    let mut out = String::new();
    write_value(v, &mut out);
    out
}

fn write_value(v: &Json, out: &mut String) {
    match v {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push_str(&u.to_string());
            } else if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else if let Some(f) = n.as_f64() {
                out.push_str(ryu_js::Buffer::new().format(f));
            }
        }
        Json::String(s) => write_string(s, out),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Json::Object(members) => {
            out.push('{');
            for (i, (k, v)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(k, out);
                out.push(':');
                write_value(v, out);
            }
            out.push('}');
        }
    }
}

/// Appends `s` as a JSON string, escaped as canonical JSON escapes it; for
/// writers of JSON text outside this module (the compiler's schema-driven
/// codec), so that strings have one escaper.
pub fn write_string(s: &str, out: &mut String) {
    super::constraint::push_json_string(s, out);
}

// JSON → value

/// `true` or `false`.
///
/// # Errors
///
/// Anything else.
pub fn bool(v: &Value, p: &Path<'_>) -> Result<bool, JsonError> {
    match v {
        Value::Bool(b) => Ok(*b),
        other => expected(p, "true or false", other),
    }
}

fn small_int(v: &Value, p: &Path<'_>, name: &str, min: i64, max: i64) -> Result<i64, JsonError> {
    let Value::Number(n) = v else {
        return expected(p, "an integer", v);
    };
    let wide = if let Some(i) = n.as_i64() {
        i128::from(i)
    } else if let Some(u) = n.as_u64() {
        i128::from(u)
    } else {
        return Err(JsonError::new(p, format!("{n} is not an integer")));
    };
    if wide < i128::from(min) || wide > i128::from(max) {
        return Err(JsonError::new(p, format!("{n} is out of range for {name}")));
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(wide as i64)
}

fn decimal(text: &str, p: &Path<'_>, name: &str, min: i128, max: i128) -> Result<i128, JsonError> {
    match parse_decimal(text) {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) | Err(crate::DecodeErrorKind::OutOfRange) => Err(JsonError::new(
            p,
            format!("{text} is out of range for {name}"),
        )),
        Err(_) => Err(JsonError::new(
            p,
            format!(
                "{} is not an integer (decimal digits, optional `-`, no leading zeros)",
                Value::String(text.to_owned())
            ),
        )),
    }
}

macro_rules! keys {
    ($($name:ident $key:ident),*) => {$(
        #[doc = concat!("A map key (decimal text) that is a `", stringify!($name), "`.")]
        ///
        /// # Errors
        ///
        /// Not in the integer grammar, or out of range.
        pub fn $key(key: &str, p: &Path<'_>) -> Result<$name, JsonError> {
            let n = decimal(key, p, stringify!($name), $name::MIN.into(), $name::MAX.into())?;
            $name::try_from(n).map_err(|_| JsonError::new(p, "out of range"))
        }
    )*};
}

keys!(u8 key_u8, u16 key_u16, u32 key_u32, i8 key_i8, i16 key_i16, i32 key_i32, u64 key_u64, i64 key_i64);

macro_rules! small_ints {
    ($($name:ident),*) => {$(
        #[doc = concat!("A JSON number that is a `", stringify!($name), "`.")]
        ///
        /// # Errors
        ///
        /// Not an integer, or out of range.
        pub fn $name(v: &Value, p: &Path<'_>) -> Result<$name, JsonError> {
            let n = small_int(v, p, stringify!($name), $name::MIN.into(), $name::MAX.into())?;
            $name::try_from(n).map_err(|_| JsonError::new(p, "out of range"))
        }
    )*};
}

small_ints!(u8, u16, u32, i8, i16, i32);

/// A decimal string that is a `u64` (SPEC §3.3 grammar).
///
/// # Errors
///
/// Not a string in the grammar, or out of range.
pub fn u64_string(v: &Value, p: &Path<'_>) -> Result<u64, JsonError> {
    match v {
        Value::String(s) => key_u64(s, p),
        Value::Number(n) => Err(JsonError::new(
            p,
            format!("u64 values are decimal strings (\"{n}\"), found a number"),
        )),
        other => expected(p, "a decimal string", other),
    }
}

/// A decimal string that is an `i64` (SPEC §3.3 grammar).
///
/// # Errors
///
/// Not a string in the grammar, or out of range.
pub fn i64_string(v: &Value, p: &Path<'_>) -> Result<i64, JsonError> {
    match v {
        Value::String(s) => key_i64(s, p),
        Value::Number(n) => Err(JsonError::new(
            p,
            format!("i64 values are decimal strings (\"{n}\"), found a number"),
        )),
        other => expected(p, "a decimal string", other),
    }
}

/// A number or one of `"-0"`, `"NaN"`, `"Infinity"`, `"-Infinity"`.
///
/// # Errors
///
/// Anything else.
pub fn f64_value(v: &Value, p: &Path<'_>) -> Result<f64, JsonError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| JsonError::new(p, format!("{n} is not a number"))),
        Value::String(s) => match s.as_str() {
            "-0" => Ok(-0.0),
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => Err(JsonError::new(
                p,
                format!(
                    "expected a number or one of \"-0\", \"NaN\", \"Infinity\", \"-Infinity\", found {v}"
                ),
            )),
        },
        other => expected(p, "a number", other),
    }
}

/// As [`f64_value`], rounded to the nearest `f32`.
///
/// # Errors
///
/// As [`f64_value`], and finite numbers beyond `f32`'s range.
pub fn f32_value(v: &Value, p: &Path<'_>) -> Result<f32, JsonError> {
    let wide = f64_value(v, p)?;
    #[allow(clippy::cast_possible_truncation)]
    let narrow = wide as f32;
    if narrow.is_infinite() && wide.is_finite() {
        return Err(JsonError::new(p, format!("{wide} overflows f32")));
    }
    Ok(narrow)
}

/// A string.
///
/// # Errors
///
/// Anything else.
pub fn string(v: &Value, p: &Path<'_>) -> Result<String, JsonError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => expected(p, "a string", other),
    }
}

/// Unpadded, canonical base64url.
///
/// # Errors
///
/// Not a string, or not canonical base64url.
pub fn bytes_value(v: &Value, p: &Path<'_>) -> Result<Vec<u8>, JsonError> {
    match v {
        Value::String(s) => base64url::decode(s.as_bytes())
            .ok_or_else(|| JsonError::new(p, format!("{v} is not unpadded base64url"))),
        other => expected(p, "a base64url string", other),
    }
}

/// An array.
///
/// # Errors
///
/// Anything else.
pub fn array<'v>(v: &'v Value, p: &Path<'_>) -> Result<&'v Vec<Value>, JsonError> {
    match v {
        Value::Array(items) => Ok(items),
        other => expected(p, "an array", other),
    }
}

/// An object used as a map.
///
/// # Errors
///
/// Anything else.
pub fn members<'v>(v: &'v Value, p: &Path<'_>) -> Result<&'v Map<String, Value>, JsonError> {
    match v {
        Value::Object(members) => Ok(members),
        other => expected(p, "an object", other),
    }
}

/// Adds a decoded map member, refusing a key seen before.
///
/// # Errors
///
/// A duplicate key.
pub fn insert<K: Ord, V>(
    out: &mut BTreeMap<K, V>,
    key: K,
    value: V,
    p: &Path<'_>,
) -> Result<(), JsonError> {
    if out.insert(key, value).is_some() {
        return Err(JsonError::new(p, "duplicate map key"));
    }
    Ok(())
}

/// An object with no properties but `fields` (the fields of a struct,
/// message or union variant, named `owner` in messages).
///
/// # Errors
///
/// Not an object, or an unknown property.
pub fn object<'v>(
    v: &'v Value,
    p: &Path<'_>,
    owner: &str,
    fields: &[&str],
) -> Result<&'v Map<String, Value>, JsonError> {
    let Value::Object(members) = v else {
        return expected(p, &format!("an object ({owner})"), v);
    };
    for key in members.keys() {
        if !fields.contains(&key.as_str()) {
            return Err(JsonError::new(
                &Path::Field(p, key),
                format!("unknown property ({owner} has no field {key})"),
            ));
        }
    }
    Ok(members)
}

/// A required property.
///
/// # Errors
///
/// When it is missing (or null).
pub fn required<'v>(
    members: &'v Map<String, Value>,
    name: &str,
    p: &Path<'_>,
) -> Result<&'v Value, JsonError> {
    match members.get(name) {
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(JsonError::new(&Path::Field(p, name), "missing property")),
    }
}

/// An optional property: `None` when missing or null.
#[must_use]
pub fn optional<'v>(members: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    members.get(name).filter(|v| !v.is_null())
}

/// An enum value: the variant's name.
///
/// # Errors
///
/// Not a string.
pub fn enum_name<'v>(v: &'v Value, p: &Path<'_>) -> Result<&'v str, JsonError> {
    match v {
        Value::String(s) => Ok(s),
        other => expected(p, "an enum variant's name", other),
    }
}

/// For the `_` arm of an enum's `match`.
#[must_use]
pub fn unknown_enum(p: &Path<'_>, owner: &str, name: &str) -> JsonError {
    JsonError::new(p, format!("{owner} has no variant {:?}", name))
}

/// A union value: an object with exactly one property, the variant's name.
///
/// # Errors
///
/// Anything else.
pub fn union<'v>(
    v: &'v Value,
    p: &Path<'_>,
    owner: &str,
) -> Result<(&'v str, &'v Value), JsonError> {
    match v {
        Value::Object(members) if members.len() == 1 => {
            let (name, body) = members
                .iter()
                .next()
                .ok_or_else(|| JsonError::new(p, "empty"))?;
            Ok((name, body))
        }
        Value::Object(_) => Err(JsonError::new(
            p,
            format!("a {owner} value is an object with exactly one property, the variant's name"),
        )),
        other => expected(p, &format!("an object ({owner})"), other),
    }
}

/// For the `_` arm of a union's `match`.
#[must_use]
pub fn unknown_variant(p: &Path<'_>, owner: &str, name: &str) -> JsonError {
    JsonError::new(
        &Path::Field(p, name),
        format!("{owner} has no variant {name}"),
    )
}

/// For a values line naming no message of the protocol.
#[must_use]
pub fn unknown_message(message: &str, version: u32) -> JsonError {
    JsonError {
        path: "message".into(),
        message: format!("no message {message} v{version} goes this way"),
    }
}

/// A list: `[` each item `]`.
pub fn list<T>(items: &[T], each: impl FnMut(&T) -> Json) -> Json {
    Json::Array(items.iter().map(each).collect())
}

/// A map: an object keyed by each key's text, in the map's (ascending)
/// order, which for integer keys is numeric order.
pub fn map<K, V>(
    entries: &BTreeMap<K, V>,
    key: impl Fn(&K) -> String,
    mut value: impl FnMut(&V) -> Json,
) -> Json {
    Json::Object(entries.iter().map(|(k, v)| (key(k), value(v))).collect())
}

/// An optional list element or map value: `null` when absent.
pub fn nullable<T>(v: &Option<T>, present: impl FnOnce(&T) -> Json) -> Json {
    v.as_ref().map_or(Json::Null, present)
}

/// A values-file line: `{"message": …, "version": …, "value": …}`.
#[must_use]
pub fn line(message: &str, version: u32, value: Json) -> Json {
    Json::Object(vec![
        ("message".into(), Json::String(message.into())),
        ("version".into(), Json::Number(version.into())),
        ("value".into(), value),
    ])
}

/// A union value: `{"variant": {fields}}`.
#[must_use]
pub fn variant(name: &str, fields: Members) -> Json {
    Json::Object(vec![(name.into(), Json::Object(fields))])
}

/// A string map key.
///
/// # Errors
///
/// Never; the signature matches the integer key readers.
pub fn key_string(key: &str, _p: &Path<'_>) -> Result<String, JsonError> {
    Ok(key.to_owned())
}

/// An array, each element read by `each` (with its index in the path).
///
/// # Errors
///
/// Not an array, or the first element `each` refuses.
pub fn list_from<T>(
    v: &Value,
    p: &Path<'_>,
    mut each: impl FnMut(&Value, &Path<'_>) -> Result<T, JsonError>,
) -> Result<Vec<T>, JsonError> {
    let items = array(v, p)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        out.push(each(item, &Path::Index(p, i))?);
    }
    Ok(out)
}

/// An object as a map: keys read by `key`, values by `value`.
///
/// # Errors
///
/// Not an object, a key or value refused, or two keys naming one value.
pub fn map_from<K: Ord, V>(
    v: &Value,
    p: &Path<'_>,
    key: impl Fn(&str, &Path<'_>) -> Result<K, JsonError>,
    mut value: impl FnMut(&Value, &Path<'_>) -> Result<V, JsonError>,
) -> Result<BTreeMap<K, V>, JsonError> {
    let members = members(v, p)?;
    let mut out = BTreeMap::new();
    for (k, item) in members {
        let at = Path::Key(p, k);
        let parsed = key(k, &at)?;
        let item = value(item, &at)?;
        insert(&mut out, parsed, item, &at)?;
    }
    Ok(out)
}

/// An optional list element or map value: `null` is absent.
///
/// # Errors
///
/// What `present` refuses.
pub fn nullable_from<T>(
    v: &Value,
    p: &Path<'_>,
    present: impl FnOnce(&Value, &Path<'_>) -> Result<T, JsonError>,
) -> Result<Option<T>, JsonError> {
    if v.is_null() {
        Ok(None)
    } else {
        present(v, p).map(Some)
    }
}

/// A required field of `members` (an object at `p`), read by `read`.
///
/// # Errors
///
/// Missing, or refused by `read`.
pub fn field<T>(
    members: &Map<String, Value>,
    name: &str,
    p: &Path<'_>,
    read: impl FnOnce(&Value, &Path<'_>) -> Result<T, JsonError>,
) -> Result<T, JsonError> {
    let v = required(members, name, p)?;
    read(v, &Path::Field(p, name))
}

/// An optional field: absent when missing or null.
///
/// # Errors
///
/// Refused by `read`.
pub fn optional_field<T>(
    members: &Map<String, Value>,
    name: &str,
    p: &Path<'_>,
    read: impl FnOnce(&Value, &Path<'_>) -> Result<T, JsonError>,
) -> Result<Option<T>, JsonError> {
    match optional(members, name) {
        Some(v) => read(v, &Path::Field(p, name)).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let root = Path::Root("value");
        let a = Path::Field(&root, "shapes");
        let b = Path::Index(&a, 3);
        let c = Path::Field(&b, "circle");
        let d = Path::Key(&c, "k\"");
        assert_eq!(d.to_string(), "value.shapes[3].circle[\"k\\\"\"]");
        let unnamed = Path::Root("");
        assert_eq!(Path::Field(&unnamed, "x").to_string(), "x");
    }

    #[test]
    fn specials_and_wide_integers() {
        assert_eq!(f64(-0.0), Json::String("-0".into()));
        assert_eq!(f32(f32::NEG_INFINITY), Json::String("-Infinity".into()));
        assert_eq!(u64(u64::MAX), Json::String("18446744073709551615".into()));
        let p = Path::Root("");
        assert_eq!(i64_string(&i64(i64::MIN).into(), &p), Ok(i64::MIN));
        assert!(u64_string(&Value::String("01".into()), &p).is_err());
        assert!(u64_string(&Value::String("-1".into()), &p).is_err());
        assert!(u8(&serde_json::json!(256), &p).is_err());
        assert!(u8(&serde_json::json!(1.0), &p).is_err());
        assert_eq!(i8(&serde_json::json!(-128), &p), Ok(-128));
        assert!(key_i32("-0", &p).is_err());
        assert!(f32_value(&serde_json::json!(1e300), &p).is_err());
        assert!(f64_value(&f64(f64::NAN).into(), &p).is_ok_and(f64::is_nan));
    }

    #[test]
    fn canonical_text() {
        let v = Json::Object(vec![
            (
                "b".into(),
                Json::Array(vec![
                    f64(0.1),
                    Json::from(-5),
                    Json::from("x\u{1}".to_owned()),
                ]),
            ),
            ("a".into(), f64(1e21)),
        ]);
        let text = r#"{"b":[0.1,-5,"x\u0001"],"a":1e+21}"#;
        assert_eq!(to_canonical_string(&v), text);
        assert_eq!(v.to_string(), text);
        assert_eq!(to_canonical_string(&bytes(&[0xFF])), "\"_w\"");
    }

    /// Members come out in the order written whatever `serde_json`'s map
    /// does: integer map keys in numeric order, a line's properties as SPEC
    /// §8 lists them.
    #[test]
    fn member_order_is_ours() {
        let entries = BTreeMap::from([(10, true), (-5, false), (2, true)]);
        let m = map(&entries, ToString::to_string, |b| Json::from(*b));
        assert_eq!(
            to_canonical_string(&m),
            r#"{"-5":false,"2":true,"10":true}"#
        );
        let l = line("Ping", 2, variant("empty", Vec::new()));
        assert_eq!(
            l.to_string(),
            r#"{"message":"Ping","version":2,"value":{"empty":{}}}"#
        );
        assert_eq!(l["message"].as_str(), Some("Ping"));
        assert_eq!(l["version"].as_u64(), Some(2));
        assert_eq!(l["nothing"], Json::Null);
        let value = Value::from(l.clone());
        assert_eq!(value["value"]["empty"], serde_json::json!({}));
        assert_eq!(l, value);
        assert_eq!(value, l);
        assert_ne!(l, serde_json::json!({"message": "Ping"}));
    }

    #[test]
    fn strict_objects() {
        let p = Path::Root("value");
        let v = serde_json::json!({"x": 1, "y": 2});
        let e = object(&v, &p, "Point", &["x"]).err();
        assert_eq!(e.map(|e| e.path), Some("value.y".to_string()));
        let m = serde_json::json!({"x": null});
        let members = members(&m, &p).ok();
        assert!(
            members.is_some_and(|m| optional(m, "x").is_none() && required(m, "x", &p).is_err())
        );
    }
}
