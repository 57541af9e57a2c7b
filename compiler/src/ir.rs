//! The checked schema: names resolved, values computed, everything the lock
//! and the generators need and nothing they must re-validate.

use crate::header::Header;
use crate::source::{FileId, Span};

#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// Sorted by name.
    pub packages: Vec<Package>,
}

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeRef {
    pub package: String,
    pub name: String,
}

impl Type {
    pub fn primitive(name: &str) -> Option<Type> {
        Some(match name {
            "bool" => Type::Bool,
            "u8" => Type::U8,
            "u16" => Type::U16,
            "u32" => Type::U32,
            "u64" => Type::U64,
            "i8" => Type::I8,
            "i16" => Type::I16,
            "i32" => Type::I32,
            "i64" => Type::I64,
            "f32" => Type::F32,
            "f64" => Type::F64,
            "string" => Type::String,
            "bytes" => Type::Bytes,
            _ => return None,
        })
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
