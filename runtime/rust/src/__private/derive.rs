//! What `#[derive(tagwire::Codec)]` and `#[derive(tagwire::Protocol)]`
//! expand to call, besides the readers and writers generated code uses.
//!
//! A derived type implements [`Codec`], as generated code does, and
//! [`Describe`]: a static description of its wire shape ([`TypeDef`]) from
//! which [`SchemaExport::schema`] writes `.schema` text.

use super::codec::{Codec, Reader, Result, Writer};
use crate::Header;
use std::fmt::Write as _;

/// A derived type's wire shape, beside its [`Codec`] implementation.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Tagwire type",
    label = "not a Tagwire field type",
    note = "field types are bool, integers, f32, f64, String, Vec<u8> (bytes), Vec<T>, Option<T>, BTreeMap/HashMap<String or integer, T>, Box<T>, and types with #[derive(tagwire::Codec)]"
)]
pub trait Describe: Codec {
    /// The type's wire shape, for [`SchemaExport::schema`].
    fn type_def() -> &'static TypeDef;

    // The expansion reads and writes derived fields through this trait, by
    // its qualified path, so a field type that is not derived gets one
    // error, at the field, however many times the expansion uses it.

    /// [`Writer::value`].
    #[inline]
    fn write(&self, w: &mut impl Writer) {
        w.value(self);
    }

    /// [`Reader::value`].
    ///
    /// # Errors
    ///
    /// As [`Reader::value`].
    #[inline]
    fn read(r: &mut impl Reader) -> Result<Self> {
        r.value()
    }

    /// [`Writer::optional_value`].
    #[inline]
    fn write_optional(v: &Option<Self>, w: &mut impl Writer) {
        w.optional_value(v);
    }

    /// [`Reader::optional_value`].
    ///
    /// # Errors
    ///
    /// As [`Reader::optional_value`].
    #[inline]
    fn read_optional(r: &mut impl Reader) -> Result<Option<Self>> {
        r.optional_value()
    }
}

/// Implemented by derived structs only: a protocol's newtype variant must
/// hold a struct, whose fields become the message's fields.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a struct with #[derive(tagwire::Codec)]",
    label = "a newtype message variant must hold a struct deriving tagwire::Codec",
    note = "the struct's fields become the message's fields; enums and unions cannot be messages"
)]
pub trait StructCodec: Describe {}

/// Compile-time check that `T` is a derived struct (the expansion calls it
/// with the payload type of each newtype message variant).
pub const fn assert_struct<T: StructCodec>() {}

/// A schema type (SPEC §2), as the derive saw it in a field's Rust type.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// A fixed-size primitive, by its schema name (`u32`), which is also its
    /// Rust name.
    Scalar(&'static str),
    String,
    Bytes,
    List(&'static Ty),
    Map(&'static Ty, &'static Ty),
    Optional(&'static Ty),
    /// A derived type; a function so recursive types can refer to themselves.
    Named(fn() -> &'static TypeDef),
}

/// A named field.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    /// The wire-visible name (`rename`, else the Rust name without `r#`).
    pub name: &'static str,
    pub ty: Ty,
}

/// A union variant.
#[derive(Debug, Clone, Copy)]
pub struct VariantDef {
    pub name: &'static str,
    pub fields: &'static [FieldDef],
}

/// What kind of type a [`TypeDef`] describes.
#[derive(Debug, Clone, Copy)]
pub enum TypeKind {
    Struct(&'static [FieldDef]),
    /// `(name, value)` per variant.
    Enum(&'static [(&'static str, u32)]),
    Union(&'static [VariantDef]),
}

/// A derived struct, enum or union.
#[derive(Debug)]
pub struct TypeDef {
    /// The Rust type's name, which is also its schema name.
    pub name: &'static str,
    /// Doc comment lines.
    pub docs: &'static [&'static str],
    pub kind: TypeKind,
}

/// How a message version's fields were written.
#[derive(Debug, Clone, Copy)]
pub enum MessageFields {
    /// Named fields or a unit variant.
    Inline(&'static [FieldDef]),
    /// A newtype variant: the fields of this struct.
    Struct(fn() -> &'static TypeDef),
}

/// One message version of a derived protocol.
#[derive(Debug, Clone, Copy)]
pub struct MessageDef {
    pub name: &'static str,
    pub version: u32,
    pub header: Header,
    /// Whether `#[tagwire(header = "..")]` pinned it.
    pub pinned: bool,
    /// `"server"`, `"client"` or `"both"`.
    pub direction: &'static str,
    pub docs: &'static [&'static str],
    pub fields: MessageFields,
}

/// A protocol defined in Rust with `#[derive(tagwire::Protocol)]`, seen as a
/// schema: its package name, message versions and headers, and the
/// `.schema` text that describes it, for `tagwire check`, `tagwire lock` and
/// `tagwire gen ts`.
pub trait SchemaExport {
    /// The package the exported schema declares (`#[tagwire(package = "..")]`,
    /// else the enum's name in snake_case).
    const PACKAGE: &'static str;

    /// Every message version, in declaration order.
    const MESSAGES: &'static [MessageDef];

    /// `(header, message name, version, direction)` per message version, in
    /// header order, like generated code's `HEADERS`.
    #[must_use]
    fn headers() -> Vec<(Header, &'static str, u32, &'static str)> {
        let mut out: Vec<_> = Self::MESSAGES
            .iter()
            .map(|m| (m.header, m.name, m.version, m.direction))
            .collect();
        out.sort_by_key(|m| m.0);
        out
    }

    /// The protocol as `.schema` text, every header pinned (`@"xy"`), so that
    /// `tagwire check` against the committed lock fails when a header the
    /// derive uses differs from the lock's, as well as on breaking changes to
    /// a version's fields.
    #[must_use]
    fn schema() -> String {
        render_schema(Self::PACKAGE, Self::MESSAGES, true)
    }

    /// As [`SchemaExport::schema`], but pinning only the headers pinned with
    /// `#[tagwire(header = "..")]`: the compiler, run without a lock, then
    /// assigns the others, and gives the same headers as the derive.
    #[must_use]
    fn schema_unpinned() -> String {
        render_schema(Self::PACKAGE, Self::MESSAGES, false)
    }
}

/// Writes `.schema` text for a package: the derived types the messages use
/// (in the order first reached), then the messages.
#[must_use]
pub fn render_schema(package: &str, messages: &[MessageDef], pin_all: bool) -> String {
    let mut types: Vec<&'static TypeDef> = Vec::new();
    for m in messages {
        match m.fields {
            MessageFields::Inline(fields) => collect_fields(fields, &mut types),
            // The struct's fields are the message's; the struct itself is
            // declared only if a field uses it.
            MessageFields::Struct(def) => {
                if let TypeKind::Struct(fields) = def().kind {
                    collect_fields(fields, &mut types);
                }
            }
        }
    }
    let mut out = String::new();
    out.push_str("// Exported by #[derive(tagwire::Protocol)]: regenerate, do not edit.\n");
    let _ = writeln!(out, "package {package};");
    for def in &types {
        out.push('\n');
        docs(&mut out, def.docs);
        match def.kind {
            TypeKind::Struct(fields) => {
                let _ = writeln!(out, "struct {} {}", def.name, field_list(fields));
            }
            TypeKind::Enum(variants) => {
                let list: Vec<String> =
                    variants.iter().map(|(n, v)| format!("{n} = {v}")).collect();
                let _ = writeln!(out, "enum {} {{ {} }}", def.name, list.join(", "));
            }
            TypeKind::Union(variants) => {
                let _ = writeln!(out, "union {} {{", def.name);
                for v in variants {
                    if v.fields.is_empty() {
                        let _ = writeln!(out, "  {},", v.name);
                    } else {
                        let _ = writeln!(out, "  {} {},", v.name, field_list(v.fields));
                    }
                }
                out.push_str("}\n");
            }
        }
    }
    for m in messages {
        out.push('\n');
        docs(&mut out, m.docs);
        let _ = write!(out, "message {} v{}", m.name, m.version);
        if m.direction != "both" {
            let _ = write!(out, " from {}", m.direction);
        }
        if pin_all || m.pinned {
            let _ = write!(out, " @\"{}\"", m.header.as_str());
        }
        let fields = match m.fields {
            MessageFields::Inline(fields) => fields,
            MessageFields::Struct(def) => match def().kind {
                TypeKind::Struct(fields) => fields,
                // `assert_struct` in the expansion rules these out.
                TypeKind::Enum(_) | TypeKind::Union(_) => &[],
            },
        };
        let _ = writeln!(out, " {}", field_list(fields));
    }
    out
}

fn docs(out: &mut String, lines: &[&str]) {
    for line in lines {
        let _ = writeln!(out, "///{line}");
    }
}

fn field_list(fields: &[FieldDef]) -> String {
    if fields.is_empty() {
        return "{}".to_owned();
    }
    let list: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {}", f.name, type_text(&f.ty)))
        .collect();
    format!("{{ {} }}", list.join(", "))
}

fn type_text(ty: &Ty) -> String {
    match ty {
        Ty::Scalar(name) => (*name).into(),
        Ty::String => "string".into(),
        Ty::Bytes => "bytes".into(),
        Ty::List(t) => format!("[{}]", type_text(t)),
        Ty::Map(k, v) => format!("map<{}, {}>", type_text(k), type_text(v)),
        Ty::Optional(t) => format!("{}?", type_text(t)),
        Ty::Named(def) => def().name.to_owned(),
    }
}

fn collect_fields(fields: &[FieldDef], types: &mut Vec<&'static TypeDef>) {
    for f in fields {
        collect_ty(&f.ty, types);
    }
}

fn collect_ty(ty: &Ty, types: &mut Vec<&'static TypeDef>) {
    match ty {
        Ty::List(t) | Ty::Optional(t) => collect_ty(t, types),
        Ty::Map(k, v) => {
            collect_ty(k, types);
            collect_ty(v, types);
        }
        Ty::Named(def) => collect_type(def(), types),
        _ => {}
    }
}

fn collect_type(def: &'static TypeDef, types: &mut Vec<&'static TypeDef>) {
    if types.iter().any(|t| std::ptr::eq(*t, def)) {
        return;
    }
    types.push(def);
    match def.kind {
        TypeKind::Struct(fields) => collect_fields(fields, types),
        TypeKind::Enum(_) => {}
        TypeKind::Union(variants) => {
            for v in variants {
                collect_fields(v.fields, types);
            }
        }
    }
}
