//! The checked schema: names resolved, values computed, everything the lock
//! and the generators need and nothing they must re-validate.

pub use crate::header::Header;
use crate::source::{FileId, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Sorted by name.
    pub packages: Vec<Package>,
}

/// `Package::default()` has no name and nothing in it: what lowering fills in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Package {
    pub name: String,
    pub docs: Vec<String>,
    /// Structs, enums and unions of every file of this package, in file then declaration order.
    pub types: Vec<TypeDef>,
    /// Message versions declared in the root files, in file then declaration order.
    pub messages: Vec<MessageVersion>,
    /// Packages whose types this one refers to.
    pub dependencies: Vec<String>,
    /// Stable hash of the protocol's wire shape; set by the lock pass.
    pub fingerprint: String,
    /// Versions removed from the schema whose headers the lock keeps
    /// (tombstones), in header order; set by the lock pass.
    pub removed: Vec<Removed>,
}

/// A message version removed from the schema: its header stays reserved, and
/// peers generated before the removal get "protocol outdated" for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub header: Header,
    pub name: String,
    pub version: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TypeDef {
    pub name: String,
    pub docs: Vec<String>,
    pub kind: TypeDefKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TypeDefKind {
    Struct(Vec<Field>),
    Enum(Vec<EnumVariant>),
    Union(Vec<UnionVariant>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub docs: Vec<String>,
    pub ty: Type,
    pub span: Span,
    /// `@len`, `@range`, `@pattern` on the field's type and the types inside it.
    pub checks: Checks,
    /// `= literal` from the schema: what a generated upgrade fills in when the
    /// older version lacks the field. Not part of the wire shape.
    pub default: Option<DefaultValue>,
}

/// A field's declared default, of the field's kind (checked against its type
/// and constraints).
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    Bool(bool),
    /// Any integer type; within the type's range.
    Int(i128),
    /// `f32` or `f64`; an `f32` default is already rounded to `f32`.
    Float(f64),
    String(String),
    /// The variant's name as written in the schema.
    Enum(String),
}

impl DefaultValue {
    /// As the schema writes it, for a field of type `ty` (an `f32` prints its
    /// shortest `f32` form: `0.1`, not the `f64` it is stored as).
    pub fn text(&self, ty: &Type) -> String {
        match self {
            DefaultValue::Bool(b) => b.to_string(),
            DefaultValue::Int(i) => i.to_string(),
            #[allow(clippy::cast_possible_truncation)]
            DefaultValue::Float(x) if *ty == Type::F32 => format!("{:?}", *x as f32),
            DefaultValue::Float(x) => format!("{x:?}"),
            DefaultValue::String(s) => format!("{s:?}"),
            DefaultValue::Enum(v) => v.clone(),
        }
    }
}

/// The constraints on values of one type, shaped like the type: an optional
/// is transparent (its constraints apply to the value inside, when present),
/// a list has its elements', a map its keys' and values'.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checks {
    /// On the value itself, in a fixed order: `len`, `range`, `pattern`.
    pub own: Vec<Constraint>,
    /// A list's elements.
    pub element: Option<Box<Checks>>,
    /// A map's keys.
    pub key: Option<Box<Checks>>,
    /// A map's values.
    pub value: Option<Box<Checks>>,
}

impl Checks {
    /// Nothing to check, here or below.
    pub fn is_empty(&self) -> bool {
        self.own.is_empty()
            && [&self.element, &self.key, &self.value]
                .iter()
                .all(|c| c.as_ref().is_none_or(|c| c.is_empty()))
    }
}

/// One constraint on a value (SPEC §6.4).
#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    /// Length between `min` and `max` inclusive: Unicode scalar values of a
    /// string, bytes of `bytes`, elements of a list, entries of a map.
    Len { min: u64, max: Option<u64> },
    /// A number between `min` and `max` inclusive (NaN is outside every range).
    Range {
        min: Option<Bound>,
        max: Option<Bound>,
    },
    /// A string containing a match of the regular expression (see `pattern`).
    Pattern(String),
}

/// A `@range` bound, of the field's kind of number. Float bounds of `f32`
/// fields are already rounded to `f32`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    Int(i128),
    Float(f64),
}

impl Bound {
    pub fn as_f64(self) -> f64 {
        match self {
            #[allow(clippy::cast_precision_loss)]
            Bound::Int(i) => i as f64,
            Bound::Float(f) => f,
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bound::Int(i) => write!(f, "{i}"),
            Bound::Float(x) => write!(f, "{x:?}"),
        }
    }
}

impl Constraint {
    pub fn name(&self) -> &'static str {
        match self {
            Constraint::Len { .. } => "len",
            Constraint::Range { .. } => "range",
            Constraint::Pattern(_) => "pattern",
        }
    }

    /// The argument as the formatter and the lock write it: `1..=64`, `..=20`, `0..`, `"^a"`.
    pub fn argument(&self) -> String {
        fn range(min: Option<String>, max: Option<String>) -> String {
            match (min, max) {
                (Some(a), Some(b)) if a == b => a,
                (Some(a), Some(b)) => format!("{a}..={b}"),
                (Some(a), None) => format!("{a}.."),
                (None, Some(b)) => format!("..={b}"),
                (None, None) => "..".to_string(),
            }
        }
        match self {
            Constraint::Len { min, max } => {
                let min = (*min > 0 || max.is_none()).then(|| min.to_string());
                range(min, max.map(|m| m.to_string()))
            }
            Constraint::Range { min, max } => {
                range(min.map(|b| b.to_string()), max.map(|b| b.to_string()))
            }
            Constraint::Pattern(p) => format!("\"{p}\""),
        }
    }
}

impl Constraint {
    /// The range a violation message quotes, the same in every implementation
    /// (SPEC §6.4): always `lo..=hi`, `lo..` or `..=hi`, numbers as the text
    /// encoding writes them (`100`, `0.5`); `None` for a pattern.
    pub fn bounds_text(&self) -> Option<String> {
        fn number(b: Bound) -> String {
            match b {
                Bound::Int(i) => i.to_string(),
                Bound::Float(f) => float_text(f),
            }
        }
        let (min, max) = match self {
            Constraint::Len { min, max } => (
                (*min > 0).then(|| min.to_string()),
                max.map(|m| m.to_string()),
            ),
            Constraint::Range { min, max } => (min.map(number), max.map(number)),
            Constraint::Pattern(_) => return None,
        };
        Some(format!(
            "{}..{}",
            min.unwrap_or_default(),
            max.map(|m| format!("={m}")).unwrap_or_default()
        ))
    }
}

/// A float as the text encoding writes it (JavaScript's `Number#toString`).
pub fn float_text(v: f64) -> String {
    let mut s = String::new();
    let mut w = tagwire::__private::TextWriter::new(&mut s, tagwire::Header::new(*b"aa"));
    tagwire::__private::Writer::f64(&mut w, v);
    s.split_off(3)
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "@{}({})", self.name(), self.argument())
    }
}

/// `@rate(COUNT/PERIOD, burst N)` on a message a client sends: how many the
/// runtime lets one connection send (a token bucket). Not part of the wire shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per period.
    pub count: u32,
    /// The period in seconds: 1 (`/s`), 60 (`/m`) or 3600 (`/h`).
    pub period_secs: u32,
    /// Bucket size: how many may arrive at once (`count` unless given).
    pub burst: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EnumVariant {
    pub name: String,
    pub docs: Vec<String>,
    pub value: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct UnionVariant {
    pub name: String,
    pub docs: Vec<String>,
    /// Position in the union: the variant's tag on the wire.
    pub index: u32,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Only the server sends it.
    Server,
    /// Only the client sends it.
    Client,
    /// Either side may send it.
    Both,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Server => "server",
            Direction::Client => "client",
            Direction::Both => "both",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "server" => Some(Direction::Server),
            "client" => Some(Direction::Client),
            "both" => Some(Direction::Both),
            _ => None,
        }
    }

    pub fn server_sends(self) -> bool {
        self != Direction::Client
    }

    pub fn client_sends(self) -> bool {
        self != Direction::Server
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageVersion {
    pub name: String,
    pub version: u32,
    pub docs: Vec<String>,
    pub direction: Direction,
    /// `@"xy"` from the schema, if any.
    pub pinned: Option<Header>,
    /// The header in force; set by the lock pass.
    pub header: Option<Header>,
    pub fields: Vec<Field>,
    /// `@rate(…)` from the schema, if any.
    pub rate: Option<Rate>,
    /// Declared with `presence`: a room member's state (direction `Both`),
    /// which the runtimes accept in presence frames and nowhere else there.
    pub presence: bool,
    pub file: FileId,
    pub span: Span,
    /// Human-readable wire shape (as stored in the lock).
    pub shape: String,
    /// Hash of the name-independent wire shape.
    pub fingerprint: String,
}

impl MessageVersion {
    /// `RenderUiV2`: the name generated code gives this version.
    pub fn type_name(&self) -> String {
        format!("{}V{}", self.name, self.version)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Type {
    Bool,
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    String,
    Bytes,
    List(Box<Type>),
    Map(Box<Type>, Box<Type>),
    Optional(Box<Type>),
    Named(TypeRef),
}

/// The primitive types and their spelling in a schema. Generated code and
/// messages use the same words (the runtimes' `w.u16(…)`, `key_u16`,
/// "overflows u16"), so this table is the only place that spells them.
const PRIMITIVES: [(&str, Type); 13] = [
    ("bool", Type::Bool),
    ("u8", Type::U8),
    ("u16", Type::U16),
    ("u32", Type::U32),
    ("u64", Type::U64),
    ("i8", Type::I8),
    ("i16", Type::I16),
    ("i32", Type::I32),
    ("i64", Type::I64),
    ("f32", Type::F32),
    ("f64", Type::F64),
    ("string", Type::String),
    ("bytes", Type::Bytes),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeRef {
    pub package: String,
    pub name: String,
}

impl Type {
    /// The primitive type a schema spells `name`.
    pub fn primitive(name: &str) -> Option<Type> {
        PRIMITIVES
            .iter()
            .find(|(spelling, _)| *spelling == name)
            .map(|(_, ty)| ty.clone())
    }

    /// How a schema spells this primitive type; `None` for lists, maps,
    /// optionals and named types.
    pub fn primitive_name(&self) -> Option<&'static str> {
        PRIMITIVES
            .iter()
            .find(|(_, ty)| ty == self)
            .map(|(spelling, _)| *spelling)
    }

    /// The name of a primitive other than `string` and `bytes`: those are
    /// fixed-size values passed by copy, and the runtimes name the writer and
    /// reader methods for them after the type (`w.u16(x)`, `r.f32()`).
    pub fn scalar_name(&self) -> Option<&'static str> {
        match self {
            Type::String | Type::Bytes => None,
            scalar => scalar.primitive_name(),
        }
    }

    /// Every primitive type's spelling, in the schema language's order.
    pub fn primitive_names() -> impl Iterator<Item = &'static str> {
        PRIMITIVES.iter().map(|(spelling, _)| *spelling)
    }

    pub fn is_integer(&self) -> bool {
        matches!(
            self,
            Type::U8
                | Type::U16
                | Type::U32
                | Type::U64
                | Type::I8
                | Type::I16
                | Type::I32
                | Type::I64
        )
    }

    /// Map keys must have a total order every language agrees on.
    pub fn is_valid_map_key(&self) -> bool {
        self.is_integer() || *self == Type::String
    }
}

impl Schema {
    pub fn package(&self, name: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.name == name)
    }

    pub fn type_def(&self, r: &TypeRef) -> Option<&TypeDef> {
        self.package(&r.package)?
            .types
            .iter()
            .find(|t| t.name == r.name)
    }
}
