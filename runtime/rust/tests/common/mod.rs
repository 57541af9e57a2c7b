//! A hand-written protocol, shaped like the compiler's output: each type
//! implements the runtime's `Codec` once for both encodings; the message enum
//! implements `Protocol`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use tagwire::__private::{Codec, Reader, Writer};
use tagwire::{DecodeError, Header, Protocol};

type R<T> = Result<T, DecodeError>;

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

impl Codec for Point {
    const IS_STRUCT: bool = true;
    fn encode(&self, w: &mut impl Writer) {
        w.i32(self.x);
        w.i32(self.y);
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        Ok(Point {
            x: r.i32()?,
            y: r.i32()?,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Empty {}

impl Codec for Empty {
    const IS_STRUCT: bool = true;
    fn encode(&self, _w: &mut impl Writer) {}
    fn decode(_r: &mut impl Reader) -> R<Self> {
        Ok(Empty {})
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Color {
    Red = 1,
    Green = 2,
    Blue = 7,
}

impl Codec for Color {
    fn encode(&self, w: &mut impl Writer) {
        w.enum_value(*self as u32);
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        r.enum_of(|value| match value {
            1 => Some(Color::Red),
            2 => Some(Color::Green),
            7 => Some(Color::Blue),
            _ => None,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Empty,
    Circle { r: f32 },
    Rect { w: u8, h: u8 },
}

impl Codec for Shape {
    fn encode(&self, w: &mut impl Writer) {
        match self {
            Shape::Empty => w.variant(0),
            Shape::Circle { r } => {
                w.variant(1);
                w.f32(*r);
            }
            Shape::Rect { w: width, h } => {
                w.variant(2);
                w.u8(*width);
                w.u8(*h);
            }
        }
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        r.union(|r, tag| match tag.value {
            0 => Ok(Shape::Empty),
            1 => Ok(Shape::Circle { r: r.f32()? }),
            2 => Ok(Shape::Rect {
                w: r.u8()?,
                h: r.u8()?,
            }),
            _ => Err(tag.unknown_variant()),
        })
    }
}

/// Recursive, to exercise `max_depth`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    pub label: String,
    pub children: Vec<Tree>,
}

impl Codec for Tree {
    const IS_STRUCT: bool = true;
    fn encode(&self, w: &mut impl Writer) {
        w.str(&self.label);
        w.list(&self.children, |w, c| c.encode(w));
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        Ok(Tree {
            label: r.string()?,
            children: r.list(|r| r.nested(Tree::decode))?,
        })
    }
}

/// RENDER_UI, whose fields are all strings (docs/SPEC.md §3.8).
#[derive(Clone, Debug, PartialEq)]
pub struct RenderUi {
    pub id: String,
    pub tree: String,
}

impl RenderUi {
    pub const HEADER: Header = Header::new(*b"aa");
}

impl Codec for RenderUi {
    fn encode(&self, w: &mut impl Writer) {
        w.str(&self.id);
        w.str(&self.tree);
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        Ok(RenderUi {
            id: r.string()?,
            tree: r.string()?,
        })
    }
}

/// SPEC §3.7's `Demo`.
#[derive(Clone, Debug, PartialEq)]
pub struct Demo {
    pub flag: bool,
    pub pos: Point,
    pub tags: Vec<String>,
    pub note: Option<String>,
}

impl Demo {
    pub const HEADER: Header = Header::new(*b"ab");
}

impl Codec for Demo {
    fn encode(&self, w: &mut impl Writer) {
        w.bool(self.flag);
        self.pos.encode(w);
        w.list(&self.tags, |w, v| w.str(v));
        w.optional(&self.note, |w, v| w.str(v));
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        Ok(Demo {
            flag: r.bool()?,
            pos: r.nested(Point::decode)?,
            tags: r.list(|r| r.string())?,
            note: r.optional(|r| r.string())?,
        })
    }
}

/// One field of every kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Everything {
    pub b: bool,
    pub u8: u8,
    pub u16: u16,
    pub u32: u32,
    pub u64: u64,
    pub i8: i8,
    pub i16: i16,
    pub i32: i32,
    pub i64: i64,
    pub f32: f32,
    pub f64: f64,
    pub s: String,
    pub bytes: Vec<u8>,
    pub list: Vec<u16>,
    pub smap: BTreeMap<String, u8>,
    pub imap: BTreeMap<i32, bool>,
    pub opt: Option<u32>,
    pub opt_s: Option<String>,
    pub opt_b: Option<Vec<u8>>,
    pub opt_p: Option<Point>,
    pub opt_e: Option<Empty>,
    pub color: Color,
    pub shape: Shape,
    pub empties: Vec<Empty>,
    pub points: Vec<Option<Point>>,
    pub empty: Empty,
    pub tree: Tree,
}

impl Everything {
    pub const HEADER: Header = Header::new(*b"ac");
}

impl Codec for Everything {
    fn encode(&self, w: &mut impl Writer) {
        w.bool(self.b);
        w.u8(self.u8);
        w.u16(self.u16);
        w.u32(self.u32);
        w.u64(self.u64);
        w.i8(self.i8);
        w.i16(self.i16);
        w.i32(self.i32);
        w.i64(self.i64);
        w.f32(self.f32);
        w.f64(self.f64);
        w.str(&self.s);
        w.bytes(&self.bytes);
        w.list(&self.list, |w, v| w.u16(*v));
        w.map(&self.smap, |w, k| w.str(k), |w, v| w.u8(*v));
        w.map(&self.imap, |w, k| w.i32(*k), |w, v| w.bool(*v));
        w.optional(&self.opt, |w, v| w.u32(*v));
        w.optional(&self.opt_s, |w, v| w.str(v));
        w.optional(&self.opt_b, |w, v| w.bytes(v));
        w.optional_struct(&self.opt_p, |w, v| v.encode(w));
        w.optional_struct(&self.opt_e, |w, v| v.encode(w));
        self.color.encode(w);
        self.shape.encode(w);
        w.list(&self.empties, |w, v| v.encode(w));
        w.list(&self.points, |w, v| {
            w.optional_struct(v, |w, p| p.encode(w))
        });
        self.empty.encode(w);
        self.tree.encode(w);
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        Ok(Everything {
            b: r.bool()?,
            u8: r.u8()?,
            u16: r.u16()?,
            u32: r.u32()?,
            u64: r.u64()?,
            i8: r.i8()?,
            i16: r.i16()?,
            i32: r.i32()?,
            i64: r.i64()?,
            f32: r.f32()?,
            f64: r.f64()?,
            s: r.string()?,
            bytes: r.bytes()?,
            list: r.list(|r| r.u16())?,
            smap: r.map(|r| r.string(), |r| r.u8())?,
            imap: r.map(|r| r.i32(), |r| r.bool())?,
            opt: r.optional(|r| r.u32())?,
            opt_s: r.optional(|r| r.string())?,
            opt_b: r.optional(|r| r.bytes())?,
            opt_p: r.optional_struct(Point::decode)?,
            opt_e: r.optional_struct(Empty::decode)?,
            color: Color::decode(r)?,
            shape: Shape::decode(r)?,
            empties: r.list(|r| r.nested(Empty::decode))?,
            points: r.list(|r| r.optional_struct(Point::decode))?,
            empty: r.nested(Empty::decode)?,
            tree: r.nested(Tree::decode)?,
        })
    }
}

/// The protocol: what the compiler will generate for a schema with these
/// three messages.
#[derive(Clone, Debug, PartialEq)]
pub enum Msg {
    RenderUi(RenderUi),
    Demo(Demo),
    Everything(Box<Everything>),
}

impl Protocol for Msg {
    fn header(&self) -> Header {
        match self {
            Msg::RenderUi(_) => RenderUi::HEADER,
            Msg::Demo(_) => Demo::HEADER,
            Msg::Everything(_) => Everything::HEADER,
        }
    }
}

impl Codec for Msg {
    fn encode(&self, w: &mut impl Writer) {
        match self {
            Msg::RenderUi(m) => m.encode(w),
            Msg::Demo(m) => m.encode(w),
            Msg::Everything(m) => m.encode(w),
        }
    }
    fn decode(r: &mut impl Reader) -> R<Self> {
        Ok(match r.header() {
            RenderUi::HEADER => Msg::RenderUi(RenderUi::decode(r)?),
            Demo::HEADER => Msg::Demo(Demo::decode(r)?),
            Everything::HEADER => Msg::Everything(Box::new(Everything::decode(r)?)),
            _ => return Err(r.unknown_header()),
        })
    }
}

/// A value with something interesting in every field.
pub fn sample() -> Everything {
    Everything {
        b: true,
        u8: 255,
        u16: 300,
        u32: u32::MAX,
        u64: u64::MAX,
        i8: i8::MIN,
        i16: -1,
        i32: -150,
        i64: i64::MIN,
        f32: 0.1,
        f64: -0.0,
        s: "~a|b\\c\r\n🎉".into(),
        bytes: vec![0xDE, 0xAD, 0xBE, 0xEF],
        list: vec![1, 300],
        smap: [
            ("b".to_owned(), 2),
            ("a".to_owned(), 1),
            ("é".to_owned(), 3),
        ]
        .into(),
        imap: [(10, true), (-5, false)].into(),
        opt: None,
        opt_s: Some("~".into()),
        opt_b: Some(vec![]),
        opt_p: Some(Point { x: 1, y: -1 }),
        opt_e: Some(Empty {}),
        color: Color::Blue,
        shape: Shape::Rect { w: 3, h: 4 },
        empties: vec![Empty {}, Empty {}],
        points: vec![None, Some(Point { x: 0, y: 0 })],
        empty: Empty {},
        tree: Tree {
            label: "root".into(),
            children: vec![Tree {
                label: String::new(),
                children: vec![],
            }],
        },
    }
}
