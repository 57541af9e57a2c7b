//! The canonical JSON mapping (SPEC §8): a small JSON tree that keeps member
//! order and numbers' exact text, a strict parser, and the conversions
//! between JSON and [`Value`] for a schema type. What JSON a value becomes
//! (number spelling, escaping) is the runtime's canonical JSON, the one the
//! generated `to_canonical_json` uses.
//!
//! serde_json is not used for values: without `preserve_order` it sorts
//! object members (SPEC wants field order, and integer map keys in numeric
//! order), without `float_roundtrip` it may misround decimal input, and it
//! silently keeps the last of duplicate members.

use std::collections::BTreeMap;

use tagwire::__private::json as canonical;
use tagwire::__private::{Reader as _, TextReader};
use tagwire::{DecodeError, DecodeErrorKind, Limits};

use super::value::{Key, Value};
use crate::check::constraints::describe as type_name;
use crate::ir::{Field, Schema, Type, TypeDefKind};

/// A JSON value. Objects keep member order; numbers keep their text.
///
/// Values become JSON through the runtime's canonical JSON
/// (`tagwire::__private::json`, SPEC §8), which spells their numbers,
/// bytes and 64-bit integers; this tree holds its result as text, and also
/// what [`parse`] read, exactly as written, for the strict reading of
/// numbers against the wire grammar.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// The number exactly as written (always in JSON's number grammar).
    Number(String),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Deepest JSON nesting the parser accepts (a recursion bound, far above
/// what the default decoding depth of 64 can produce).
pub const MAX_JSON_DEPTH: usize = 512;

impl Json {
    /// Compact canonical text: no spaces, members in order, numbers as held,
    /// strings escaped by the runtime's canonical JSON writer.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => canonical::write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.render_into(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical::write_string(k, out);
                    out.push(':');
                    v.render_into(out);
                }
                out.push('}');
            }
        }
    }

    /// The same value as `serde_json` (whose objects may reorder members).
    pub fn to_serde(&self) -> serde_json::Value {
        use serde_json::Value as S;
        match self {
            Json::Null => S::Null,
            Json::Bool(b) => S::Bool(*b),
            Json::Number(n) => serde_json::from_str(n).unwrap_or(S::Null),
            Json::String(s) => S::String(s.clone()),
            Json::Array(items) => S::Array(items.iter().map(Json::to_serde).collect()),
            Json::Object(members) => S::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_serde()))
                    .collect(),
            ),
        }
    }

    /// A short description for error messages: `a string`, `null`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

/// Canonical JSON the runtime built, as this tree: a number takes the text
/// the runtime's writer gives it, so its spelling stays the runtime's.
impl From<canonical::Json> for Json {
    fn from(j: canonical::Json) -> Json {
        match j {
            canonical::Json::Null => Json::Null,
            canonical::Json::Bool(b) => Json::Bool(b),
            n @ canonical::Json::Number(_) => Json::Number(canonical::to_canonical_string(&n)),
            canonical::Json::String(s) => Json::String(s),
            canonical::Json::Array(items) => {
                Json::Array(items.into_iter().map(Json::from).collect())
            }
            canonical::Json::Object(members) => Json::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, Json::from(v)))
                    .collect(),
            ),
        }
    }
}

/// Parses one JSON text (RFC 8259), strictly: no trailing content, no
/// duplicate member names, no lone surrogates in `\u` escapes.
///
/// # Errors
///
/// A message naming the problem and its 1-based column (in characters).
pub fn parse(text: &str) -> Result<Json, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
    };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("unexpected text after the JSON value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> String {
        let column = self
            .text
            .get(..self.i)
            .map_or(self.i, |t| t.chars().count())
            + 1;
        format!("invalid JSON at column {column}: {what}")
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.s.get(self.i) == Some(&b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, String> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err("expected a value"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_JSON_DEPTH {
            return Err(self.err("nested too deeply"));
        }
        match self.s.get(self.i) {
            None => Err(self.err("expected a value, found the end")),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b']') {
                    return Ok(Json::Array(items));
                }
                loop {
                    self.ws();
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    if self.eat(b']') {
                        return Ok(Json::Array(items));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected `,` or `]`"));
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members: Vec<(String, Json)> = Vec::new();
                self.ws();
                if self.eat(b'}') {
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.s.get(self.i) != Some(&b'"') {
                        return Err(self.err("expected a property name"));
                    }
                    let at = self.i;
                    let name = self.string()?;
                    if members.iter().any(|(k, _)| *k == name) {
                        self.i = at;
                        return Err(self.err(&format!("duplicate property {}", quote(&name))));
                    }
                    self.ws();
                    if !self.eat(b':') {
                        return Err(self.err("expected `:`"));
                    }
                    self.ws();
                    let v = self.value(depth + 1)?;
                    members.push((name, v));
                    self.ws();
                    if self.eat(b'}') {
                        return Ok(Json::Object(members));
                    }
                    if !self.eat(b',') {
                        return Err(self.err("expected `,` or `}`"));
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.err("expected a value")),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        self.eat(b'-');
        let int_start = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            self.i = start;
            return Err(self.err("invalid number"));
        }
        if self.eat(b'.') && self.digits() == 0 {
            self.i = start;
            return Err(self.err("invalid number"));
        }
        if self.eat(b'e') || self.eat(b'E') {
            let _ = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                self.i = start;
                return Err(self.err("invalid number"));
            }
        }
        Ok(Json::Number(self.text[start..self.i].to_owned()))
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .text
            .get(self.i..self.i + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.err("expected 4 hex digits after \\u"))?;
        self.i += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.err("bad \\u escape"))
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        let mut start = self.i;
        loop {
            match self.s.get(self.i) {
                None => return Err(self.err("unterminated string")),
                Some(b'"') => {
                    out.push_str(&self.text[start..self.i]);
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    out.push_str(&self.text[start..self.i]);
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.i += 1;
                            let at = self.i - 2;
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                let lo = if self.s[self.i..].starts_with(b"\\u") {
                                    self.i += 2;
                                    self.hex4()?
                                } else {
                                    0
                                };
                                if !(0xDC00..0xE000).contains(&lo) {
                                    self.i = at;
                                    return Err(self.err(
                                        "lone UTF-16 surrogate (a string holds Unicode scalar values only)",
                                    ));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            let Some(c) = char::from_u32(code) else {
                                self.i = at;
                                return Err(self.err(
                                    "lone UTF-16 surrogate (a string holds Unicode scalar values only)",
                                ));
                            };
                            out.push(c);
                            start = self.i;
                            continue;
                        }
                        _ => return Err(self.err("invalid escape")),
                    };
                    out.push(c);
                    self.i += 1;
                    start = self.i;
                }
                Some(&b) if b < 0x20 => {
                    return Err(self.err("raw control character in a string (escape it)"));
                }
                Some(_) => self.i += 1,
            }
        }
    }
}

/// `"name"` with JSON escaping, for messages.
pub(crate) use tagwire::__private::quote_key as quote;

// ---------------------------------------------------------------------------
// Value → JSON

/// The canonical JSON of a value of type `ty` (SPEC §8).
pub fn to_json(schema: &Schema, ty: &Type, v: &Value) -> Json {
    match (ty, v) {
        (_, Value::Bool(b)) => Json::Bool(*b),
        (Type::U64, Value::UInt(x)) => canonical::u64(*x).into(),
        (Type::I64, Value::Int(x)) => canonical::i64(*x).into(),
        (_, Value::UInt(x)) => canonical::Json::Number((*x).into()).into(),
        (_, Value::Int(x)) => canonical::Json::Number((*x).into()).into(),
        (_, Value::F32(x)) => canonical::f32(*x).into(),
        (_, Value::F64(x)) => canonical::f64(*x).into(),
        (_, Value::String(s)) => Json::String(s.clone()),
        (_, Value::Bytes(b)) => canonical::bytes(b).into(),
        (Type::List(inner), Value::List(items)) => {
            Json::Array(items.iter().map(|i| to_json(schema, inner, i)).collect())
        }
        (Type::Map(_, vt), Value::Map(map)) => Json::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Key::Int(n) => n.to_string(),
                        Key::Str(s) => s.clone(),
                    };
                    (key, to_json(schema, vt, v))
                })
                .collect(),
        ),
        (Type::Optional(_), Value::Optional(None)) => Json::Null,
        (Type::Optional(inner), Value::Optional(Some(v))) => to_json(schema, inner, v),
        (Type::Named(r), _) => match (schema.type_def(r).map(|d| &d.kind), v) {
            (Some(TypeDefKind::Struct(fields)), Value::Struct(values)) => {
                fields_json(schema, fields, values)
            }
            (Some(TypeDefKind::Enum(variants)), Value::Enum(x)) => variants
                .iter()
                .find(|v| v.value == *x)
                .map_or(Json::Number(x.to_string()), |v| {
                    Json::String(v.name.clone())
                }),
            (Some(TypeDefKind::Union(variants)), Value::Union { index, fields }) => {
                match variants.iter().find(|v| v.index == *index) {
                    Some(variant) => Json::Object(vec![(
                        variant.name.clone(),
                        fields_json(schema, &variant.fields, fields),
                    )]),
                    None => Json::Null,
                }
            }
            _ => Json::Null,
        },
        _ => Json::Null,
    }
}

/// An object keyed by field name, in field order, absent optionals left out.
pub fn fields_json(schema: &Schema, fields: &[Field], values: &[Value]) -> Json {
    Json::Object(
        fields
            .iter()
            .zip(values)
            .filter(|(_, v)| !matches!(v, Value::Optional(None)))
            .map(|(f, v)| (f.name.clone(), to_json(schema, &f.ty, v)))
            .collect(),
    )
}

// ---------------------------------------------------------------------------
// JSON → Value

/// A JSON value that does not fit its schema type, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JsonError {
    /// Like `value.shapes[3].circle.radius`.
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

fn fail<T>(path: &str, message: impl Into<String>) -> Result<T, JsonError> {
    Err(JsonError {
        path: path.to_owned(),
        message: message.into(),
    })
}

/// Reads one token with the runtime's text reader, so JSON numbers and
/// decimal strings obey exactly the wire grammar and ranges (SPEC §3.3–3.4).
fn token<T>(
    token: &str,
    read: impl FnOnce(&mut TextReader<'_>) -> Result<T, DecodeError>,
) -> Result<T, DecodeErrorKind> {
    let frame = format!("aa|{token}");
    let limits = Limits {
        max_frame_bytes: usize::MAX,
        max_collection_len: usize::MAX,
        max_string_bytes: usize::MAX,
        max_depth: usize::MAX,
    };
    let mut r = TextReader::new(&frame, &limits).map_err(|e| e.kind)?;
    let v = read(&mut r).map_err(|e| e.kind)?;
    r.finish().map_err(|e| e.kind)?;
    Ok(v)
}

fn integer(ty: &Type, path: &str, j: &Json, as_key: bool) -> Result<i128, JsonError> {
    let wide = matches!(ty, Type::U64 | Type::I64);
    let text = match j {
        Json::String(s) if wide || as_key => s,
        Json::Number(n) if !wide && !as_key => n,
        Json::Number(n) => {
            return fail(
                path,
                format!(
                    "{} values are decimal strings (\"{n}\"), found a number",
                    if matches!(ty, Type::U64) {
                        "u64"
                    } else {
                        "i64"
                    }
                ),
            );
        }
        other => {
            let want = if wide {
                "a decimal string"
            } else {
                "an integer"
            };
            return fail(path, format!("expected {want}, found {}", other.kind()));
        }
    };
    let parsed = match ty {
        Type::U8 => token(text, |r| r.u8()).map(i128::from),
        Type::U16 => token(text, |r| r.u16()).map(i128::from),
        Type::U32 => token(text, |r| r.u32()).map(i128::from),
        Type::U64 => token(text, |r| r.u64()).map(i128::from),
        Type::I8 => token(text, |r| r.i8()).map(i128::from),
        Type::I16 => token(text, |r| r.i16()).map(i128::from),
        Type::I32 => token(text, |r| r.i32()).map(i128::from),
        _ => token(text, |r| r.i64()).map(i128::from),
    };
    let name = ty.primitive_name().unwrap_or_default();
    match parsed {
        Ok(n) => Ok(n),
        Err(DecodeErrorKind::OutOfRange) => {
            fail(path, format!("{text} is out of range for {name}"))
        }
        Err(_) => fail(
            path,
            format!(
                "{} is not an integer (decimal digits, optional `-`, no leading zeros)",
                quote(text)
            ),
        ),
    }
}

fn float(ty: &Type, path: &str, j: &Json) -> Result<f64, JsonError> {
    let f32_type = matches!(ty, Type::F32);
    let text = match j {
        Json::Number(n) => n.as_str(),
        Json::String(s) if matches!(s.as_str(), "-0" | "NaN" | "Infinity" | "-Infinity") => {
            s.as_str()
        }
        Json::String(s) => {
            return fail(
                path,
                format!(
                    "expected a number or one of \"-0\", \"NaN\", \"Infinity\", \"-Infinity\", found {}",
                    quote(s)
                ),
            );
        }
        other => return fail(path, format!("expected a number, found {}", other.kind())),
    };
    let parsed = if f32_type {
        token(text, |r| r.f32()).map(f64::from)
    } else {
        token(text, |r| r.f64())
    };
    parsed.or_else(|_| {
        fail(
            path,
            format!(
                "{text} overflows {}",
                ty.primitive_name().unwrap_or_default()
            ),
        )
    })
}

/// The value of type `ty` that `j` stands for (SPEC §8's input rules).
///
/// # Errors
///
/// What does not fit, with its path below `path`.
pub fn from_json(schema: &Schema, ty: &Type, j: &Json, path: &str) -> Result<Value, JsonError> {
    Ok(match ty {
        Type::Bool => match j {
            Json::Bool(b) => Value::Bool(*b),
            other => {
                return fail(
                    path,
                    format!("expected true or false, found {}", other.kind()),
                );
            }
        },
        Type::U8 | Type::U16 | Type::U32 | Type::U64 => {
            Value::UInt(u64::try_from(integer(ty, path, j, false)?).unwrap_or_default())
        }
        Type::I8 | Type::I16 | Type::I32 | Type::I64 => {
            Value::Int(i64::try_from(integer(ty, path, j, false)?).unwrap_or_default())
        }
        #[allow(clippy::cast_possible_truncation)]
        Type::F32 => Value::F32(float(ty, path, j)? as f32),
        Type::F64 => Value::F64(float(ty, path, j)?),
        Type::String => match j {
            Json::String(s) => Value::String(s.clone()),
            other => return fail(path, format!("expected a string, found {}", other.kind())),
        },
        Type::Bytes => match j {
            Json::String(s) => match token(s, |r| r.bytes()) {
                Ok(b) => Value::Bytes(b),
                Err(_) => {
                    return fail(
                        path,
                        format!("{} is not unpadded base64url (A-Z a-z 0-9 - _)", quote(s)),
                    );
                }
            },
            other => {
                return fail(
                    path,
                    format!("expected a base64url string, found {}", other.kind()),
                );
            }
        },
        Type::List(inner) => match j {
            Json::Array(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| from_json(schema, inner, item, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            other => return fail(path, format!("expected an array, found {}", other.kind())),
        },
        Type::Map(kt, vt) => match j {
            Json::Object(members) => {
                let mut map = BTreeMap::new();
                for (k, v) in members {
                    let at = format!("{path}[{}]", quote(k));
                    let key = if matches!(**kt, Type::String) {
                        Key::Str(k.clone())
                    } else {
                        Key::Int(integer(kt, &at, &Json::String(k.clone()), true)?)
                    };
                    let value = from_json(schema, vt, v, &at)?;
                    if map.insert(key, value).is_some() {
                        return fail(&at, "duplicate map key");
                    }
                }
                Value::Map(map)
            }
            other => {
                return fail(
                    path,
                    format!(
                        "expected an object ({}), found {}",
                        type_name(ty),
                        other.kind()
                    ),
                );
            }
        },
        Type::Optional(inner) => match j {
            Json::Null => Value::Optional(None),
            j => Value::Optional(Some(Box::new(from_json(schema, inner, j, path)?))),
        },
        Type::Named(r) => {
            let Some(def) = schema.type_def(r) else {
                return fail(path, format!("unknown type {}", r.name));
            };
            match &def.kind {
                TypeDefKind::Struct(fields) => {
                    Value::Struct(fields_from_json(schema, &def.name, fields, j, path)?)
                }
                TypeDefKind::Enum(variants) => {
                    let names = || listed(variants.iter().map(|v| v.name.as_str()));
                    match j {
                        Json::String(s) => match variants.iter().find(|v| v.name == *s) {
                            Some(v) => Value::Enum(v.value),
                            None => {
                                return fail(
                                    path,
                                    format!(
                                        "{} is not a variant of {} ({})",
                                        quote(s),
                                        def.name,
                                        names()
                                    ),
                                );
                            }
                        },
                        other => {
                            return fail(
                                path,
                                format!(
                                    "expected a variant name of {} ({}), found {}",
                                    def.name,
                                    names(),
                                    other.kind()
                                ),
                            );
                        }
                    }
                }
                TypeDefKind::Union(variants) => {
                    let names = || listed(variants.iter().map(|v| v.name.as_str()));
                    let (name, inner) = match j {
                        Json::Object(members) if members.len() == 1 => {
                            (&members[0].0, &members[0].1)
                        }
                        _ => {
                            return fail(
                                path,
                                format!(
                                    "expected an object with one property, the variant of {} ({}), found {}",
                                    def.name,
                                    names(),
                                    describe(j)
                                ),
                            );
                        }
                    };
                    let at = format!("{path}.{name}");
                    let Some(variant) = variants.iter().find(|v| v.name == *name) else {
                        return fail(
                            &at,
                            format!(
                                "{} is not a variant of {} ({})",
                                quote(name),
                                def.name,
                                names()
                            ),
                        );
                    };
                    let owner = format!("{}.{}", def.name, variant.name);
                    Value::Union {
                        index: variant.index,
                        fields: fields_from_json(schema, &owner, &variant.fields, inner, &at)?,
                    }
                }
            }
        }
    })
}

/// Names joined by commas, for messages that list what a value could be.
fn listed<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

fn describe(j: &Json) -> String {
    match j {
        Json::Object(m) => format!("an object with {} properties", m.len()),
        other => other.kind().to_owned(),
    }
}

/// Fields of a struct, message version or union variant from an object:
/// unknown properties and missing non-optional fields are errors; an
/// optional field may be left out or `null`.
///
/// # Errors
///
/// The first problem, with its path.
pub fn fields_from_json(
    schema: &Schema,
    owner: &str,
    fields: &[Field],
    j: &Json,
    path: &str,
) -> Result<Vec<Value>, JsonError> {
    let Json::Object(members) = j else {
        return fail(
            path,
            format!("expected an object ({owner}), found {}", j.kind()),
        );
    };
    for (k, _) in members {
        if !fields.iter().any(|f| f.name == *k) {
            let known: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let known = if known.is_empty() {
                format!("{owner} has no fields")
            } else {
                format!("fields of {owner}: {}", known.join(", "))
            };
            return fail(
                &format!("{path}.{k}"),
                format!("unknown property ({known})"),
            );
        }
    }
    fields
        .iter()
        .map(|f| {
            let at = format!("{path}.{}", f.name);
            match members.iter().find(|(k, _)| *k == f.name) {
                Some((_, v)) => from_json(schema, &f.ty, v, &at),
                None if matches!(f.ty, Type::Optional(_)) => Ok(Value::Optional(None)),
                None => fail(
                    &at,
                    format!("missing property (a {} is required)", type_name(&f.ty)),
                ),
            }
        })
        .collect()
}
