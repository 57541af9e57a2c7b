//! The syntax tree of one .schema file, exactly as written, with spans.
//!
//! Nothing here is resolved or validated; `check` turns it into `ir`.

use crate::source::{FileId, Span};

/// A name as written, with where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub id: FileId,
    /// Every `package` line; `check` requires exactly one, before any item.
    pub packages: Vec<Package>,
    pub imports: Vec<Import>,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub docs: Vec<String>,
    pub name: Ident,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub docs: Vec<String>,
    /// The path as written, escapes resolved.
    pub path: String,
    pub path_span: Span,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub docs: Vec<String>,
    pub kind: ItemKind,
    /// From the keyword to the closing brace (doc comments excluded).
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemKind {
    Struct(Struct),
    Enum(Enum),
    Union(Union),
    Message(Message),
}

impl Item {
    pub fn name(&self) -> &Ident {
        match &self.kind {
            ItemKind::Struct(s) => &s.name,
            ItemKind::Enum(e) => &e.name,
            ItemKind::Union(u) => &u.name,
            ItemKind::Message(m) => &m.name,
        }
    }

    pub fn keyword(&self) -> &'static str {
        match &self.kind {
            ItemKind::Struct(_) => "struct",
            ItemKind::Enum(_) => "enum",
            ItemKind::Union(_) => "union",
            ItemKind::Message(m) if m.presence => "presence",
            ItemKind::Message(_) => "message",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Struct {
    pub name: Ident,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub docs: Vec<String>,
    pub name: Ident,
    pub ty: TypeExpr,
    /// `= literal` after the type and its constraints.
    pub default: Option<Literal>,
    pub span: Span,
}

/// A value written in the schema (a field's default), as written; `check`
/// decides what it means for the field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    pub kind: LiteralKind,
    /// The text as written, quotes and escapes included (the formatter prints it back).
    pub raw: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiteralKind {
    /// `3`, `-1`, `0.5`, `1e3`: the text as written.
    Number(String),
    /// `"none"`, escapes resolved.
    String(String),
    /// A bare word: `true`, `false` or an enum variant.
    Word(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enum {
    pub name: Ident,
    pub variants: Vec<EnumVariant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumVariant {
    pub docs: Vec<String>,
    pub name: Ident,
    /// The explicit `= N`, as written (it may be out of range; `check` says so).
    pub value: Option<(String, Span)>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Union {
    pub name: Ident,
    pub variants: Vec<UnionVariant>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnionVariant {
    pub docs: Vec<String>,
    pub name: Ident,
    /// `None` for a bare variant (`empty`), `Some` for `name { ... }`, even when empty.
    pub fields: Option<Vec<Field>>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    Server,
    Client,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub name: Ident,
    /// Declared with `presence` rather than `message`: a room member's state,
    /// which both sides send (`check` refuses a direction or a `@rate` on it).
    pub presence: bool,
    /// `vN` as written; `None` means version 1.
    pub version: Option<(String, Span)>,
    pub direction: Option<(Direction, Span)>,
    /// `@"xy"`: the pinned header as written (validated by `check`).
    pub header: Option<(String, Span)>,
    /// `@rate(10/s, burst 20)`, as written (validated by `check`).
    pub rate: Vec<Rate>,
    pub fields: Vec<Field>,
}

/// `@rate(COUNT/UNIT, burst N)` on a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    /// The count before `/`, as written.
    pub count: (String, Span),
    /// `s`, `m` or `h`.
    pub unit: String,
    /// `burst N`, as written.
    pub burst: Option<(String, Span)>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeExpr {
    pub kind: TypeExprKind,
    pub span: Span,
    /// `@len(…)`, `@range(…)`, `@pattern(…)` written after the type, in order.
    pub constraints: Vec<Constraint>,
}

/// One `@name(argument)` after a type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// The name without `@`, with the span of `@name`.
    pub name: Ident,
    pub arg: ConstraintArg,
    /// From `@` to `)`.
    pub span: Span,
}

/// The argument of a constraint, as written; `check` decides what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConstraintArg {
    /// `lo..=hi`, `lo..`, `..=hi` (and `lo..hi`, which `check` refuses).
    Range {
        low: Option<(String, Span)>,
        high: Option<(String, Span)>,
        inclusive: bool,
        span: Span,
    },
    /// A single number: `@len(32)` means exactly 32.
    Number(String, Span),
    /// A string literal's raw text between the quotes (no escapes resolved:
    /// patterns keep their backslashes).
    String(String, Span),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeExprKind {
    /// A primitive or a declared type; which one is decided by `check`.
    Named(Ident),
    List(Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    /// `T?`, with the span of the `?` so `T??` can be pointed at.
    Optional(Box<TypeExpr>, Span),
}
