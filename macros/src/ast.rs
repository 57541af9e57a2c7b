//! The derive input read into what the checks and the expansion need: named
//! fields with their wire names and classified types, variants with their
//! shapes and attributes.

use crate::attr::{self, Attrs, Position};
use crate::ctxt::Ctxt;
use syn::ext::IdentExt;
use syn::{GenericArgument, Ident, PathArguments, Type};

/// The fixed-size primitives: each is spelled the same as a Rust type, as a
/// schema type and as the runtime's reader and writer method for it.
const SCALARS: [&str; 11] = [
    "bool", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64",
];

/// A fixed-size primitive schema type, by its one spelling.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prim(&'static str);

impl Prim {
    fn from_name(name: &str) -> Option<Prim> {
        SCALARS.iter().find(|s| **s == name).map(|s| Prim(s))
    }

    /// The schema type's name, which is also the reader and writer method.
    pub(crate) fn name(self) -> &'static str {
        self.0
    }

    fn is_integer(self) -> bool {
        !matches!(self.0, "bool" | "f32" | "f64")
    }
}

/// A field's Rust type as a schema type.
#[derive(Clone)]
pub(crate) enum FieldTy {
    Prim(Prim),
    String,
    /// `Vec<u8>`.
    Bytes,
    List(Box<FieldTy>),
    /// `BTreeMap<K, V>`, or `HashMap<K, V>` (whose Rust type is kept to collect into).
    Map(Box<FieldTy>, Box<FieldTy>, Option<Type>),
    Option(Box<FieldTy>),
    /// `Box<T>`: the same schema type as `T`.
    Boxed(Box<FieldTy>),
    /// Any other type: must implement `Codec` (checked by the compiler, at the field).
    Named(Type),
}

impl FieldTy {
    /// The type under any `Box`es.
    pub(crate) fn unboxed(&self) -> &FieldTy {
        match self {
            FieldTy::Boxed(inner) => inner.unboxed(),
            other => other,
        }
    }

    /// Reads a field type; records a spanned error and returns `None` when it
    /// has no schema type.
    pub(crate) fn classify(cx: &Ctxt, ty: &Type, u8_list: bool) -> Option<FieldTy> {
        match ty {
            Type::Group(g) => Self::classify(cx, &g.elem, u8_list),
            Type::Paren(p) => Self::classify(cx, &p.elem, u8_list),
            Type::Path(p) if p.qself.is_none() => {
                let Some(last) = p.path.segments.last() else {
                    cx.error_spanned_by(ty, "unsupported field type");
                    return None;
                };
                let name = last.ident.to_string();
                let args: Vec<&Type> = match &last.arguments {
                    PathArguments::None => Vec::new(),
                    PathArguments::AngleBracketed(a) => {
                        let mut types = Vec::new();
                        for arg in &a.args {
                            match arg {
                                GenericArgument::Type(t) => types.push(t),
                                other => {
                                    cx.error_spanned_by(
                                        other,
                                        "tagwire field types take type arguments only",
                                    );
                                    return None;
                                }
                            }
                        }
                        types
                    }
                    PathArguments::Parenthesized(_) => {
                        cx.error_spanned_by(ty, "function types are not Tagwire field types");
                        return None;
                    }
                };
                Self::classify_path(cx, ty, &name, &args, u8_list)
            }
            Type::Reference(_) => {
                cx.error_spanned_by(ty, "references are not Tagwire field types: use an owned type (String, Vec<T>, ...)");
                None
            }
            Type::Tuple(t) if t.elems.is_empty() => {
                cx.error_spanned_by(
                    ty,
                    "`()` is not a Tagwire field type: leave the field out, or use a unit variant",
                );
                None
            }
            Type::Tuple(_) => {
                cx.error_spanned_by(ty, "tuples are not Tagwire field types: declare a struct with #[derive(tagwire::Codec)]");
                None
            }
            Type::Array(_) | Type::Slice(_) => {
                cx.error_spanned_by(
                    ty,
                    "arrays and slices are not Tagwire field types: use Vec<T> (Vec<u8> for bytes)",
                );
                None
            }
            _ => {
                cx.error_spanned_by(ty, "unsupported field type: Tagwire fields are bool, integers, f32, f64, String, Vec<u8>, Vec<T>, Option<T>, BTreeMap/HashMap, Box<T> or #[derive(tagwire::Codec)] types");
                None
            }
        }
    }

    fn classify_path(
        cx: &Ctxt,
        ty: &Type,
        name: &str,
        args: &[&Type],
        u8_list: bool,
    ) -> Option<FieldTy> {
        let arity = |n: usize, shape: &str| {
            if args.len() == n {
                true
            } else {
                cx.error_spanned_by(ty, format!("expected `{shape}`"));
                false
            }
        };
        if let Some(prim) = Prim::from_name(name) {
            return args.is_empty().then_some(FieldTy::Prim(prim)).or_else(|| {
                cx.error_spanned_by(ty, "unexpected type arguments");
                None
            });
        }
        match name {
            "usize" | "isize" => {
                cx.error_spanned_by(
                    ty,
                    format!("`{name}` has no fixed width on the wire: use u32/u64 (i32/i64)"),
                );
                None
            }
            "u128" | "i128" => {
                cx.error_spanned_by(
                    ty,
                    format!("`{name}` is wider than any Tagwire integer (64 bits at most)"),
                );
                None
            }
            "char" | "str" => {
                cx.error_spanned_by(
                    ty,
                    format!("`{name}` is not a Tagwire field type: use String"),
                );
                None
            }
            "String" if args.is_empty() => Some(FieldTy::String),
            "Vec" => {
                if !arity(1, "Vec<T>") {
                    return None;
                }
                if !u8_list && Self::peek_prim(args[0]).is_some_and(|p| p.name() == "u8") {
                    return Some(FieldTy::Bytes);
                }
                Some(FieldTy::List(Box::new(Self::classify(
                    cx, args[0], u8_list,
                )?)))
            }
            "Option" => {
                if !arity(1, "Option<T>") {
                    return None;
                }
                let inner = Self::classify(cx, args[0], u8_list)?;
                if matches!(inner.unboxed(), FieldTy::Option(_)) {
                    cx.error_spanned_by(ty, "`Option<Option<T>>` has no schema type (T?? is refused: two kinds of absent cannot be told apart)");
                    return None;
                }
                Some(FieldTy::Option(Box::new(inner)))
            }
            "Box" => {
                if !arity(1, "Box<T>") {
                    return None;
                }
                Some(FieldTy::Boxed(Box::new(Self::classify(
                    cx, args[0], u8_list,
                )?)))
            }
            "BTreeMap" | "HashMap" => {
                let ok = if name == "HashMap" {
                    // A third argument is the hasher, which does not change the wire.
                    args.len() == 2 || args.len() == 3 || arity(2, "HashMap<K, V>")
                } else {
                    arity(2, "BTreeMap<K, V>")
                };
                if !ok {
                    return None;
                }
                let key = Self::classify(cx, args[0], u8_list);
                let value = Self::classify(cx, args[1], u8_list);
                let key = match key? {
                    k @ (FieldTy::String | FieldTy::Prim(_)) if k.is_map_key() => k,
                    _ => {
                        cx.error_spanned_by(args[0], "map keys are String or an integer type (only those have an order every language agrees on)");
                        return None;
                    }
                };
                let hash = (name == "HashMap").then(|| ty.clone());
                Some(FieldTy::Map(Box::new(key), Box::new(value?), hash))
            }
            _ if args.is_empty() => Some(FieldTy::Named(ty.clone())),
            _ => {
                cx.error_spanned_by(ty, format!("`{name}<..>` is not a Tagwire field type: generic types other than Vec, Option, Box, BTreeMap and HashMap are not supported"));
                None
            }
        }
    }

    fn is_map_key(&self) -> bool {
        match self {
            FieldTy::String => true,
            FieldTy::Prim(p) => p.is_integer(),
            _ => false,
        }
    }

    fn peek_prim(ty: &Type) -> Option<Prim> {
        match ty {
            Type::Path(p) if p.qself.is_none() => {
                let last = p.path.segments.last()?;
                if !last.arguments.is_none() {
                    return None;
                }
                Prim::from_name(&last.ident.to_string())
            }
            Type::Group(g) => Self::peek_prim(&g.elem),
            Type::Paren(p) => Self::peek_prim(&p.elem),
            _ => None,
        }
    }
}

/// A named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    /// `rename`, else the Rust name without `r#`.
    pub(crate) wire_name: String,
    /// `None` when the type was refused (the error is recorded).
    pub(crate) ty: Option<FieldTy>,
}

/// How a variant (or struct) holds its data.
pub(crate) enum Shape<'a> {
    Unit,
    Named(Vec<Field<'a>>),
    /// One unnamed field.
    Newtype(&'a syn::Field),
    /// Several unnamed fields.
    Tuple(&'a syn::FieldsUnnamed),
}

impl<'a> Shape<'a> {
    pub(crate) fn read(cx: &Ctxt, fields: &'a syn::Fields) -> Shape<'a> {
        match fields {
            syn::Fields::Unit => Shape::Unit,
            syn::Fields::Named(named) => {
                Shape::Named(named.named.iter().map(|f| Field::read(cx, f)).collect())
            }
            syn::Fields::Unnamed(u) if u.unnamed.len() == 1 => Shape::Newtype(&u.unnamed[0]),
            syn::Fields::Unnamed(u) => Shape::Tuple(u),
        }
    }

    /// The named fields; none for the other shapes.
    pub(crate) fn fields(&self) -> &[Field<'a>] {
        match self {
            Shape::Named(fields) => fields,
            _ => &[],
        }
    }
}

impl<'a> Field<'a> {
    fn read(cx: &Ctxt, field: &'a syn::Field) -> Field<'a> {
        let attrs = Attrs::parse(cx, &field.attrs, Position::Field);
        #[allow(clippy::expect_used)]
        let ident = field.ident.as_ref().expect("named fields have names");
        let wire_name = attrs
            .str("rename")
            .map_or_else(|| ident.unraw().to_string(), syn::LitStr::value);
        Field {
            ident,
            wire_name,
            ty: FieldTy::classify(cx, &field.ty, attrs.flag("list")),
        }
    }
}

/// A variant of the derive's enum.
pub(crate) struct Variant<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: Attrs,
    pub(crate) docs: Vec<String>,
    pub(crate) shape: Shape<'a>,
    pub(crate) original: &'a syn::Variant,
}

impl<'a> Variant<'a> {
    pub(crate) fn read(cx: &Ctxt, variant: &'a syn::Variant, position: Position) -> Variant<'a> {
        Variant {
            ident: &variant.ident,
            attrs: Attrs::parse(cx, &variant.attrs, position),
            docs: attr::docs(&variant.attrs),
            shape: Shape::read(cx, &variant.fields),
            original: variant,
        }
    }
}

/// `RenderUi` → `render_ui`, `HTTPCode` → `http_code`: the default wire name
/// of enum and union variants (the compiler turns schema names back into
/// PascalCase for Rust) and of a protocol's package.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) => {
                    p.is_lowercase()
                        || p.is_ascii_digit()
                        || (p.is_uppercase() && next.is_some_and(|n| n.is_lowercase()))
                }
                None => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
