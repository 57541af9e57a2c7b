//! A derive-defined mirror of `schemas/everything/everything.schema`
//! (`#[derive(tagwire::Protocol)]`): the same package, types, field order,
//! enum values, union variants and pinned headers (those of
//! `schemas/everything/tagwire.lock`), with conversions from the generated
//! `everything` types.
//!
//! The derive takes one direction per protocol enum, and the schema mixes
//! them, so the mirror is three enums sharing the package (as DERIVE.md
//! describes): `ServerMsg` (Scalars, Composites), `ClientMsg` (Collections,
//! CursorMove) and `BothMsg` (Optionals, Nothing). Shared by
//! tests/tests/derive/everything.rs and the fuzz target `derive`, which
//! compare it with the generated code.

use std::collections::BTreeMap;

use crate::everything as g;
/// Values with gaps, and the largest value an enum can have.
#[derive(tagwire::Codec, Debug, Clone, Copy, PartialEq)]
#[repr(u32)]
pub enum Color {
    Red = 1,
    Green = 2,
    Blue = 7,
    Max = 4_294_967_295,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Point {
    x: i32,
    y: i32,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Empty {}

/// Recursion through a list.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Tree {
    label: String,
    children: Vec<Tree>,
}

/// Recursion through an optional: Rust needs a `Box` here.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Chain {
    value: u8,
    next: Option<Box<Chain>>,
}

/// A union with a unit variant, fields, and recursion through a list.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub enum Shape {
    Empty,
    Circle {
        r: f32,
    },
    Rect {
        w: u8,
        h: u8,
    },
    Group {
        shapes: Vec<Shape>,
        origin: Option<Point>,
    },
}

/// Recursion through a union: `neg` and `add` hold an `Expr` directly.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub enum Expr {
    Lit { value: i64 },
    Neg { inner: Box<Expr> },
    Add { left: Box<Expr>, right: Box<Expr> },
    Maybe { inner: Option<Box<Expr>> },
}

/// Fields whose names are Rust keywords or not snake_case.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Awkward {
    r#type: String,
    r#match: u8,
    #[tagwire(rename = "camelCase")]
    camel_case: bool,
    r: u8,
    w: u8,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Scalars {
    b: bool,
    u_8: u8,
    u_16: u16,
    u_32: u32,
    u_64: u64,
    i_8: i8,
    i_16: i16,
    i_32: i32,
    i_64: i64,
    f_32: f32,
    f_64: f64,
    s: String,
    raw: Vec<u8>,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Collections {
    #[tagwire(rename = "list")]
    numbers: Vec<u16>,
    strings: Vec<String>,
    nested: Vec<Vec<i8>>,
    blobs: Vec<Vec<u8>>,
    smap: BTreeMap<String, u8>,
    imap: BTreeMap<i32, bool>,
    // A HashMap is written in key order too.
    umap: std::collections::HashMap<u64, String>,
    bmap: BTreeMap<i8, Vec<u8>>,
    points: BTreeMap<String, Point>,
    shapes: BTreeMap<u16, Shape>,
    trees: Vec<Tree>,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Optionals {
    o_bool: Option<bool>,
    o_u64: Option<u64>,
    o_i64: Option<i64>,
    o_f32: Option<f32>,
    o_f64: Option<f64>,
    o_string: Option<String>,
    o_bytes: Option<Vec<u8>>,
    o_point: Option<Point>,
    o_empty: Option<Empty>,
    o_color: Option<Color>,
    o_shape: Option<Shape>,
    /// `[u8]?`, not `bytes?`.
    #[tagwire(list)]
    o_list: Option<Vec<u8>>,
    o_map: Option<BTreeMap<String, i32>>,
    list_of_opt: Vec<Option<String>>,
    deep: Vec<Option<Vec<Option<Shape>>>>,
    o_chain: Option<Chain>,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
pub struct Composites {
    color: Color,
    shape: Shape,
    point: Point,
    empty: Empty,
    empties: Vec<Empty>,
    points: Vec<Option<Point>>,
    tree: Tree,
    chain: Chain,
    expr: Expr,
    awkward: Awkward,
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "server", package = "everything")]
pub enum ServerMsg {
    /// Every scalar type.
    #[tagwire(header = "aa")]
    Scalars(Scalars),
    /// Structs, enums, unions and recursion as fields.
    #[tagwire(header = "ad")]
    Composites(Composites),
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "client", package = "everything")]
#[allow(clippy::large_enum_variant)]
pub enum ClientMsg {
    /// Lists and maps of every kind of element and key.
    #[tagwire(header = "ab")]
    Collections(Collections),
    /// A realtime-shaped message for the codec benchmark.
    #[tagwire(header = "af")]
    CursorMove {
        user: u32,
        x: f32,
        y: f32,
        buttons: u8,
    },
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(package = "everything")]
#[allow(clippy::large_enum_variant)]
pub enum BothMsg {
    /// An optional of every kind.
    #[tagwire(header = "ac")]
    Optionals(Optionals),
    /// No fields at all: the frame is the header alone.
    #[tagwire(header = "ae")]
    Nothing,
}

// Conversions from the generated types.

fn map<T, U: for<'a> From<&'a T>>(v: &[T]) -> Vec<U> {
    v.iter().map(U::from).collect()
}

impl From<&g::Color> for Color {
    fn from(c: &g::Color) -> Self {
        match c {
            g::Color::Red => Self::Red,
            g::Color::Green => Self::Green,
            g::Color::Blue => Self::Blue,
            g::Color::Max => Self::Max,
        }
    }
}

impl From<&g::Point> for Point {
    fn from(p: &g::Point) -> Self {
        Self { x: p.x, y: p.y }
    }
}

impl From<&g::Empty> for Empty {
    fn from(_: &g::Empty) -> Self {
        Self {}
    }
}

impl From<&g::Tree> for Tree {
    fn from(t: &g::Tree) -> Self {
        Self {
            label: t.label.clone(),
            children: map(&t.children),
        }
    }
}

impl From<&g::Chain> for Chain {
    fn from(c: &g::Chain) -> Self {
        Self {
            value: c.value,
            next: c.next.as_deref().map(|n| Box::new(n.into())),
        }
    }
}

impl From<&g::Shape> for Shape {
    fn from(s: &g::Shape) -> Self {
        match s {
            g::Shape::Empty => Self::Empty,
            g::Shape::Circle { r } => Self::Circle { r: *r },
            g::Shape::Rect { w, h } => Self::Rect { w: *w, h: *h },
            g::Shape::Group { shapes, origin } => Self::Group {
                shapes: map(shapes),
                origin: origin.as_ref().map(Point::from),
            },
        }
    }
}

impl From<&g::Expr> for Expr {
    fn from(e: &g::Expr) -> Self {
        let boxed = |e: &g::Expr| Box::new(Self::from(e));
        match e {
            g::Expr::Lit { value } => Self::Lit { value: *value },
            g::Expr::Neg { inner } => Self::Neg {
                inner: boxed(inner),
            },
            g::Expr::Add { left, right } => Self::Add {
                left: boxed(left),
                right: boxed(right),
            },
            g::Expr::Maybe { inner } => Self::Maybe {
                inner: inner.as_deref().map(boxed),
            },
        }
    }
}

impl From<&g::Awkward> for Awkward {
    fn from(a: &g::Awkward) -> Self {
        Self {
            r#type: a.r#type.clone(),
            r#match: a.r#match,
            camel_case: a.camelCase,
            r: a.r,
            w: a.w,
        }
    }
}

impl From<&g::ScalarsV1> for Scalars {
    fn from(m: &g::ScalarsV1) -> Self {
        Self {
            b: m.b,
            u_8: m.u_8,
            u_16: m.u_16,
            u_32: m.u_32,
            u_64: m.u_64,
            i_8: m.i_8,
            i_16: m.i_16,
            i_32: m.i_32,
            i_64: m.i_64,
            f_32: m.f_32,
            f_64: m.f_64,
            s: m.s.clone(),
            raw: m.raw.clone(),
        }
    }
}

impl From<&g::CollectionsV1> for Collections {
    fn from(m: &g::CollectionsV1) -> Self {
        Self {
            numbers: m.list.clone(),
            strings: m.strings.clone(),
            nested: m.nested.clone(),
            blobs: m.blobs.clone(),
            smap: m.smap.clone(),
            imap: m.imap.clone(),
            umap: m.umap.clone().into_iter().collect(),
            bmap: m.bmap.clone(),
            points: m
                .points
                .iter()
                .map(|(k, v)| (k.clone(), v.into()))
                .collect(),
            shapes: m.shapes.iter().map(|(k, v)| (*k, v.into())).collect(),
            trees: map(&m.trees),
        }
    }
}

impl From<&g::OptionalsV1> for Optionals {
    fn from(m: &g::OptionalsV1) -> Self {
        Self {
            o_bool: m.o_bool,
            o_u64: m.o_u64,
            o_i64: m.o_i64,
            o_f32: m.o_f32,
            o_f64: m.o_f64,
            o_string: m.o_string.clone(),
            o_bytes: m.o_bytes.clone(),
            o_point: m.o_point.as_ref().map(Point::from),
            o_empty: m.o_empty.as_ref().map(Empty::from),
            o_color: m.o_color.as_ref().map(Color::from),
            o_shape: m.o_shape.as_ref().map(Shape::from),
            o_list: m.o_list.clone(),
            o_map: m.o_map.clone(),
            list_of_opt: m.list_of_opt.clone(),
            deep: m
                .deep
                .iter()
                .map(|l| {
                    l.as_ref()
                        .map(|l| l.iter().map(|s| s.as_ref().map(Shape::from)).collect())
                })
                .collect(),
            o_chain: m.o_chain.as_ref().map(Chain::from),
        }
    }
}

impl From<&g::CompositesV1> for Composites {
    fn from(m: &g::CompositesV1) -> Self {
        Self {
            color: (&m.color).into(),
            shape: (&m.shape).into(),
            point: (&m.point).into(),
            empty: (&m.empty).into(),
            empties: map(&m.empties),
            points: m
                .points
                .iter()
                .map(|p| p.as_ref().map(Point::from))
                .collect(),
            tree: (&m.tree).into(),
            chain: (&m.chain).into(),
            expr: (&m.expr).into(),
            awkward: (&m.awkward).into(),
        }
    }
}
