//! The derive macro's decoders (`#[derive(tagwire::Protocol)]`, a separate
//! code path from the compiler's generated code) against the generated ones:
//! a derive mirror of `schemas/everything` (as in
//! tests/tests/derive_everything.rs) must accept exactly the frames the
//! generated `everything` decoders accept, in both encodings, and re-encode
//! them to the same bytes. Never a panic on either side.
#![no_main]
#![allow(dead_code)]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use tagwire::Protocol;
use tagwire_tests::everything as g;

/// Values with gaps, and the largest value an enum can have.
#[derive(tagwire::Codec, Debug, Clone, Copy, PartialEq)]
#[repr(u32)]
enum Color {
    Red = 1,
    Green = 2,
    Blue = 7,
    Max = 4_294_967_295,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Empty {}

/// Recursion through a list.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Tree {
    label: String,
    children: Vec<Tree>,
}

/// Recursion through an optional: Rust needs a `Box` here.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Chain {
    value: u8,
    next: Option<Box<Chain>>,
}

/// A union with a unit variant, fields, and recursion through a list.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
enum Shape {
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
enum Expr {
    Lit { value: i64 },
    Neg { inner: Box<Expr> },
    Add { left: Box<Expr>, right: Box<Expr> },
    Maybe { inner: Option<Box<Expr>> },
}

/// Fields whose names are Rust keywords or not snake_case.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Awkward {
    r#type: String,
    r#match: u8,
    #[tagwire(rename = "camelCase")]
    camel_case: bool,
    r: u8,
    w: u8,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Scalars {
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
struct Collections {
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
struct Optionals {
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
struct Composites {
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
enum ServerMsg {
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
enum ClientMsg {
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
enum BothMsg {
    /// An optional of every kind.
    #[tagwire(header = "ac")]
    Optionals(Optionals),
    /// No fields at all: the frame is the header alone.
    #[tagwire(header = "ae")]
    Nothing,
}

/// The derive side's verdict on a frame: its re-encoding if one of the
/// three enums accepts it.
fn derive_binary(frame: &[u8]) -> Option<Vec<u8>> {
    if let Ok(m) = ServerMsg::decode_binary(frame) {
        return Some(m.to_binary());
    }
    if let Ok(m) = ClientMsg::decode_binary(frame) {
        return Some(m.to_binary());
    }
    BothMsg::decode_binary(frame).ok().map(|m| m.to_binary())
}

fn derive_text(frame: &str) -> Option<String> {
    if let Ok(m) = ServerMsg::decode_text(frame) {
        return Some(m.to_text());
    }
    if let Ok(m) = ClientMsg::decode_text(frame) {
        return Some(m.to_text());
    }
    BothMsg::decode_text(frame).ok().map(|m| m.to_text())
}

/// Server and client enums of the generated module together cover every
/// message (`Optionals` and `Nothing` are in both).
fn generated_binary(frame: &[u8]) -> Option<Vec<u8>> {
    if let Ok(m) = g::ServerMessage::decode_binary(frame) {
        return Some(m.to_binary());
    }
    g::ClientMessage::decode_binary(frame)
        .ok()
        .map(|m| m.to_binary())
}

fn generated_text(frame: &str) -> Option<String> {
    if let Ok(m) = g::ServerMessage::decode_text(frame) {
        return Some(m.to_text());
    }
    g::ClientMessage::decode_text(frame)
        .ok()
        .map(|m| m.to_text())
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        derive_binary(data),
        generated_binary(data),
        "derive and generated binary decoders disagree"
    );
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(
            derive_text(text),
            generated_text(text),
            "derive and generated text decoders disagree"
        );
    }
});
