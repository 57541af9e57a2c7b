//! A hand-written protocol, shaped like the compiler's future output, used
//! by several test binaries. Each type has the four `*_fields` functions the
//! compiler will emit; the message enum implements `Protocol`.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;

use tagwire::__private::{BinaryReader, BinaryWriter, TextReader, TextWriter};
use tagwire::{DecodeError, Header, Limits, Protocol};

type R<T> = Result<T, DecodeError>;

#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

impl Point {
    pub fn encode_text_fields(&self, w: &mut TextWriter<'_>) {
        w.i32(self.x);
        w.i32(self.y);
    }
    pub fn encode_binary_fields(&self, w: &mut BinaryWriter<'_>) {
        w.i32(self.x);
        w.i32(self.y);
    }
    pub fn decode_text_fields(r: &mut TextReader<'_>) -> R<Self> {
        Ok(Point {
            x: r.i32()?,
            y: r.i32()?,
        })
    }
    pub fn decode_binary_fields(r: &mut BinaryReader<'_>) -> R<Self> {
        Ok(Point {
            x: r.i32()?,
            y: r.i32()?,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Empty {}

impl Empty {
    pub fn encode_text_fields(&self, _w: &mut TextWriter<'_>) {}
    pub fn encode_binary_fields(&self, _w: &mut BinaryWriter<'_>) {}
    pub fn decode_text_fields(_r: &mut TextReader<'_>) -> R<Self> {
        Ok(Empty {})
    }
    pub fn decode_binary_fields(_r: &mut BinaryReader<'_>) -> R<Self> {
        Ok(Empty {})
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Color {
    Red = 1,
    Green = 2,
    Blue = 7,
}

impl Color {
    pub fn encode_text(self, w: &mut TextWriter<'_>) {
        w.enum_value(self as u32);
    }
    pub fn encode_binary(self, w: &mut BinaryWriter<'_>) {
        w.enum_value(self as u32);
    }
    fn from_tag(tag: tagwire::__private::Tag) -> R<Self> {
        match tag.value {
            1 => Ok(Color::Red),
            2 => Ok(Color::Green),
            7 => Ok(Color::Blue),
            _ => Err(tag.unknown_enum_value()),
        }
    }
    pub fn decode_text(r: &mut TextReader<'_>) -> R<Self> {
        Self::from_tag(r.enum_value()?)
    }
    pub fn decode_binary(r: &mut BinaryReader<'_>) -> R<Self> {
        Self::from_tag(r.enum_value()?)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Empty,
    Circle { r: f32 },
    Rect { w: u8, h: u8 },
}

impl Shape {
    pub fn encode_text(&self, w: &mut TextWriter<'_>) {
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
    pub fn encode_binary(&self, w: &mut BinaryWriter<'_>) {
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
    pub fn decode_text(r: &mut TextReader<'_>) -> R<Self> {
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
    pub fn decode_binary(r: &mut BinaryReader<'_>) -> R<Self> {
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

impl Tree {
    pub fn encode_text_fields(&self, w: &mut TextWriter<'_>) {
        w.str(&self.label);
        w.list(&self.children, |w, c| c.encode_text_fields(w));
    }
    pub fn encode_binary_fields(&self, w: &mut BinaryWriter<'_>) {
        w.str(&self.label);
        w.list(&self.children, |w, c| c.encode_binary_fields(w));
    }
    pub fn decode_text_fields(r: &mut TextReader<'_>) -> R<Self> {
        Ok(Tree {
            label: r.string()?,
            children: r.list(|r| r.nested(Tree::decode_text_fields))?,
        })
    }
    pub fn decode_binary_fields(r: &mut BinaryReader<'_>) -> R<Self> {
        Ok(Tree {
            label: r.string()?,
            children: r.list(|r| r.nested(Tree::decode_binary_fields))?,
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
    pub fn encode_text_fields(&self, w: &mut TextWriter<'_>) {
        w.str(&self.id);
        w.str(&self.tree);
    }
    pub fn encode_binary_fields(&self, w: &mut BinaryWriter<'_>) {
        w.str(&self.id);
        w.str(&self.tree);
    }
    pub fn decode_text_fields(r: &mut TextReader<'_>) -> R<Self> {
        Ok(RenderUi {
            id: r.string()?,
            tree: r.string()?,
        })
    }
    pub fn decode_binary_fields(r: &mut BinaryReader<'_>) -> R<Self> {
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
    pub fn encode_text_fields(&self, w: &mut TextWriter<'_>) {
        w.bool(self.flag);
        self.pos.encode_text_fields(w);
        w.list(&self.tags, |w, v| w.str(v));
        w.optional(&self.note, |w, v| w.str(v));
    }
    pub fn encode_binary_fields(&self, w: &mut BinaryWriter<'_>) {
        w.bool(self.flag);
        self.pos.encode_binary_fields(w);
        w.list(&self.tags, |w, v| w.str(v));
        w.optional(&self.note, |w, v| w.str(v));
    }
    pub fn decode_text_fields(r: &mut TextReader<'_>) -> R<Self> {
        Ok(Demo {
            flag: r.bool()?,
            pos: r.nested(Point::decode_text_fields)?,
            tags: r.list(|r| r.string())?,
            note: r.optional(|r| r.string())?,
        })
    }
    pub fn decode_binary_fields(r: &mut BinaryReader<'_>) -> R<Self> {
        Ok(Demo {
            flag: r.bool()?,
            pos: r.nested(Point::decode_binary_fields)?,
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
    pub fn encode_text_fields(&self, w: &mut TextWriter<'_>) {
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
        w.optional_struct(&self.opt_p, |w, v| v.encode_text_fields(w));
        w.optional_struct(&self.opt_e, |w, v| v.encode_text_fields(w));
        self.color.encode_text(w);
        self.shape.encode_text(w);
        w.list(&self.empties, |w, v| v.encode_text_fields(w));
        w.list(&self.points, |w, v| {
            w.optional_struct(v, |w, p| p.encode_text_fields(w))
        });
        self.empty.encode_text_fields(w);
        self.tree.encode_text_fields(w);
    }
    pub fn encode_binary_fields(&self, w: &mut BinaryWriter<'_>) {
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
        w.optional_struct(&self.opt_p, |w, v| v.encode_binary_fields(w));
        w.optional_struct(&self.opt_e, |w, v| v.encode_binary_fields(w));
        self.color.encode_binary(w);
        self.shape.encode_binary(w);
        w.list(&self.empties, |w, v| v.encode_binary_fields(w));
        w.list(&self.points, |w, v| {
            w.optional_struct(v, |w, p| p.encode_binary_fields(w))
        });
        self.empty.encode_binary_fields(w);
        self.tree.encode_binary_fields(w);
    }
    pub fn decode_text_fields(r: &mut TextReader<'_>) -> R<Self> {
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
            opt_p: r.optional_struct(Point::decode_text_fields)?,
            opt_e: r.optional_struct(Empty::decode_text_fields)?,
            color: Color::decode_text(r)?,
            shape: Shape::decode_text(r)?,
            empties: r.list(|r| r.nested(Empty::decode_text_fields))?,
            points: r.list(|r| r.optional_struct(Point::decode_text_fields))?,
            empty: r.nested(Empty::decode_text_fields)?,
            tree: r.nested(Tree::decode_text_fields)?,
        })
    }
    pub fn decode_binary_fields(r: &mut BinaryReader<'_>) -> R<Self> {
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
            opt_p: r.optional_struct(Point::decode_binary_fields)?,
            opt_e: r.optional_struct(Empty::decode_binary_fields)?,
            color: Color::decode_binary(r)?,
            shape: Shape::decode_binary(r)?,
            empties: r.list(|r| r.nested(Empty::decode_binary_fields))?,
            points: r.list(|r| r.optional_struct(Point::decode_binary_fields))?,
            empty: r.nested(Empty::decode_binary_fields)?,
            tree: r.nested(Tree::decode_binary_fields)?,
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
    fn encode_text(&self, out: &mut String) {
        let mut w = TextWriter::new(out, self.header());
        match self {
            Msg::RenderUi(m) => m.encode_text_fields(&mut w),
            Msg::Demo(m) => m.encode_text_fields(&mut w),
            Msg::Everything(m) => m.encode_text_fields(&mut w),
        }
    }
    fn encode_binary(&self, out: &mut Vec<u8>) {
        let mut w = BinaryWriter::new(out, self.header());
        match self {
            Msg::RenderUi(m) => m.encode_binary_fields(&mut w),
            Msg::Demo(m) => m.encode_binary_fields(&mut w),
            Msg::Everything(m) => m.encode_binary_fields(&mut w),
        }
    }
    fn decode_text_with(frame: &str, limits: &Limits) -> R<Self> {
        let mut r = TextReader::new(frame, limits)?;
        let msg = match r.header() {
            RenderUi::HEADER => Msg::RenderUi(RenderUi::decode_text_fields(&mut r)?),
            Demo::HEADER => Msg::Demo(Demo::decode_text_fields(&mut r)?),
            Everything::HEADER => {
                Msg::Everything(Box::new(Everything::decode_text_fields(&mut r)?))
            }
            _ => return Err(r.unknown_header()),
        };
        r.finish()?;
        Ok(msg)
    }
    fn decode_binary_with(frame: &[u8], limits: &Limits) -> R<Self> {
        let mut r = BinaryReader::new(frame, limits)?;
        let msg = match r.header() {
            RenderUi::HEADER => Msg::RenderUi(RenderUi::decode_binary_fields(&mut r)?),
            Demo::HEADER => Msg::Demo(Demo::decode_binary_fields(&mut r)?),
            Everything::HEADER => {
                Msg::Everything(Box::new(Everything::decode_binary_fields(&mut r)?))
            }
            _ => return Err(r.unknown_header()),
        };
        r.finish()?;
        Ok(msg)
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
