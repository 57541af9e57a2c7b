//! `generate`: seeded random values for every message version of a schema,
//! as a values file (SPEC §8), by walking the IR.

use tagwire_compiler::dynamic::Json;
use tagwire_compiler::ir::{Field, MessageVersion, Package, Schema, Type, TypeDefKind};

/// splitmix64: tiny, seedable, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n as u64)).unwrap_or(0)
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const STRING_PIECES: &[&str] = &[
    "a",
    "Z",
    "0",
    " ",
    "|",
    "\\",
    "\r",
    "\n",
    "\r\n",
    "~",
    "+",
    "-",
    "\t",
    "\"",
    "\u{0}",
    "\u{1f}",
    "é",
    "ß",
    "中",
    "文",
    "😀",
    "👍🏽",
    "𝄞",
    "\u{10FFFF}",
    "\u{FFFD}",
    "\u{200B}",
    "<div>",
    "a|b",
    "\\|",
    "~~",
    "=",
    "_",
];

const F64_EDGES: &[f64] = &[
    0.0,
    -0.0,
    1.0,
    -1.5,
    0.1,
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    -5e-324,
    2.225_073_858_507_201e-308,
    1e21,
    1e-7,
    123_456_789_012_345_680_000.0,
    9_007_199_254_740_993.0,
];

const F32_EDGES: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    0.1,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    f32::MIN,
    f32::MIN_POSITIVE,
    1e-45,
    -1e-45,
    16_777_217.0,
];

fn float_json(v: f64) -> Json {
    if v.is_nan() {
        Json::String("NaN".into())
    } else if v == f64::INFINITY {
        Json::String("Infinity".into())
    } else if v == f64::NEG_INFINITY {
        Json::String("-Infinity".into())
    } else if v == 0.0 && v.is_sign_negative() {
        Json::String("-0".into())
    } else {
        Json::Number(ryu_js::Buffer::new().format(v).to_owned())
    }
}

pub struct Generator<'s> {
    schema: &'s Schema,
    rng: Rng,
}

impl<'s> Generator<'s> {
    pub fn new(schema: &'s Schema, seed: u64) -> Self {
        Generator {
            schema,
            rng: Rng::new(seed),
        }
    }

    /// One values-file line for a random message version of `package`.
    pub fn line(&mut self, package: &'s Package) -> Option<String> {
        let messages: Vec<&MessageVersion> = package
            .messages
            .iter()
            .filter(|m| m.header.is_some())
            .collect();
        if messages.is_empty() {
            return None;
        }
        let m = *self.rng.pick(&messages);
        let value = self.fields(&m.fields, 4);
        Some(
            Json::Object(vec![
                ("message".into(), Json::String(m.name.clone())),
                ("version".into(), Json::Number(m.version.to_string())),
                ("value".into(), value),
            ])
            .render(),
        )
    }

    fn fields(&mut self, fields: &[Field], depth: u32) -> Json {
        let mut members = Vec::new();
        for f in fields {
            match &f.ty {
                Type::Optional(inner) => {
                    if self.rng.chance(if depth == 0 { 90 } else { 30 }) {
                        // Absent: usually left out, sometimes null.
                        if self.rng.chance(15) {
                            members.push((f.name.clone(), Json::Null));
                        }
                    } else {
                        members.push((f.name.clone(), self.value(inner, depth)));
                    }
                }
                ty => members.push((f.name.clone(), self.value(ty, depth))),
            }
        }
        Json::Object(members)
    }

    fn int(&mut self, min: i128, max: i128) -> i128 {
        match self.rng.below(6) {
            0 => min,
            1 => max,
            2 => 0.clamp(min, max),
            _ => {
                let span = u128::try_from(max - min).unwrap_or(0) + 1;
                let r = (u128::from(self.rng.next()) << 64 | u128::from(self.rng.next())) % span;
                min + i128::try_from(r).unwrap_or(0)
            }
        }
    }

    fn range(ty: &Type) -> (i128, i128) {
        match ty {
            Type::U8 => (0, u8::MAX.into()),
            Type::U16 => (0, u16::MAX.into()),
            Type::U32 => (0, u32::MAX.into()),
            Type::U64 => (0, u64::MAX.into()),
            Type::I8 => (i8::MIN.into(), i8::MAX.into()),
            Type::I16 => (i16::MIN.into(), i16::MAX.into()),
            Type::I32 => (i32::MIN.into(), i32::MAX.into()),
            _ => (i64::MIN.into(), i64::MAX.into()),
        }
    }

    fn string(&mut self) -> String {
        let n = self.rng.below(7);
        (0..n)
            .map(|_| *self.rng.pick(STRING_PIECES))
            .collect::<String>()
    }

    fn bytes(&mut self) -> Json {
        let n = self.rng.below(9);
        let bytes: Vec<u8> = (0..n).map(|_| (self.rng.next() & 0xFF) as u8).collect();
        match tagwire::__private::json::bytes(&bytes) {
            tagwire::__private::json::Json::String(s) => Json::String(s),
            _ => Json::String(String::new()),
        }
    }

    fn count(&mut self, depth: u32) -> usize {
        if depth == 0 { 0 } else { self.rng.below(4) }
    }

    fn key(&mut self, ty: &Type) -> String {
        match ty {
            Type::String => self.string(),
            _ => {
                let (min, max) = Self::range(ty);
                self.int(min, max).to_string()
            }
        }
    }

    fn value(&mut self, ty: &Type, depth: u32) -> Json {
        match ty {
            Type::Bool => Json::Bool(self.rng.chance(50)),
            Type::U64 | Type::I64 => {
                let (min, max) = Self::range(ty);
                Json::String(self.int(min, max).to_string())
            }
            Type::U8 | Type::U16 | Type::U32 | Type::I8 | Type::I16 | Type::I32 => {
                let (min, max) = Self::range(ty);
                Json::Number(self.int(min, max).to_string())
            }
            Type::F64 => {
                let v = if self.rng.chance(40) {
                    *self.rng.pick(F64_EDGES)
                } else {
                    f64::from_bits(self.rng.next())
                };
                float_json(v)
            }
            Type::F32 => {
                let v = if self.rng.chance(40) {
                    *self.rng.pick(F32_EDGES)
                } else {
                    #[allow(clippy::cast_possible_truncation)]
                    f32::from_bits(self.rng.next() as u32)
                };
                float_json(f64::from(v))
            }
            Type::String => Json::String(self.string()),
            Type::Bytes => self.bytes(),
            Type::List(inner) => {
                let n = self.count(depth);
                Json::Array((0..n).map(|_| self.value(inner, depth - 1)).collect())
            }
            Type::Map(k, v) => {
                let n = self.count(depth);
                let mut members: Vec<(String, Json)> = Vec::new();
                for _ in 0..n {
                    let key = self.key(k);
                    if members.iter().all(|(existing, _)| *existing != key) {
                        let value = self.value(v, depth - 1);
                        members.push((key, value));
                    }
                }
                Json::Object(members)
            }
            Type::Optional(inner) => {
                if depth == 0 || self.rng.chance(30) {
                    Json::Null
                } else {
                    self.value(inner, depth)
                }
            }
            Type::Named(r) => {
                let Some(def) = self.schema.type_def(r) else {
                    return Json::Null;
                };
                match &def.kind {
                    TypeDefKind::Struct(fields) => self.fields(fields, depth.saturating_sub(1)),
                    TypeDefKind::Enum(variants) => {
                        Json::String(self.rng.pick(variants).name.clone())
                    }
                    TypeDefKind::Union(variants) => {
                        let variant = if depth == 0 {
                            // The variant least likely to recurse.
                            variants
                                .iter()
                                .min_by_key(|v| {
                                    v.fields
                                        .iter()
                                        .filter(|f| matches!(f.ty, Type::Named(_)))
                                        .count()
                                        * 100
                                        + v.fields.len()
                                })
                                .unwrap_or(&variants[0])
                        } else {
                            self.rng.pick(variants)
                        };
                        Json::Object(vec![(
                            variant.name.clone(),
                            self.fields(&variant.fields, depth.saturating_sub(1)),
                        )])
                    }
                }
            }
        }
    }
}
