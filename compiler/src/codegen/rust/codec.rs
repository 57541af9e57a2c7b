//! The `tw::Codec` implementation of every type and message version (SPEC
//! §3–4): one `encode` and one `decode`, a straight sequence of calls in
//! schema order that the runtime's text and binary writers and readers both
//! implement.
//!
//! Depth (SPEC §6.3): lists, maps, optionals and unions open their level
//! inside the runtime; every struct value opens one in `Reader::value`, also
//! as a list element, map value or present optional.

use super::{Context, ident};
use crate::check::pascal_case;
use crate::ir::{Field, Type, UnionVariant};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// How the value being encoded is reachable.
#[derive(Clone)]
enum Val {
    /// `self.x`: a place of type `T`.
    Field(TokenStream),
    /// `v`: a binding of type `&T`.
    Ref(Ident),
}

impl Val {
    /// An expression of type `T` (for `Copy` types).
    fn copy(&self) -> TokenStream {
        match self {
            Val::Field(e) => e.clone(),
            Val::Ref(i) => quote!(*#i),
        }
    }
    /// An expression of type `&T`.
    fn by_ref(&self) -> TokenStream {
        match self {
            Val::Field(e) => quote!(&#e),
            Val::Ref(i) => quote!(#i),
        }
    }
}

/// The writer and reader method of a fixed-size primitive, named as the type is.
fn primitive_method(ty: &Type) -> Option<Ident> {
    ty.scalar_name().map(|name| format_ident!("{name}"))
}

/// A statement writing `val` of type `ty` with writer `w`.
fn encode(ty: &Type, val: &Val) -> TokenStream {
    if let Some(m) = primitive_method(ty) {
        let v = val.copy();
        return quote!(w.#m(#v));
    }
    let v = val.by_ref();
    match ty {
        Type::String => quote!(w.str(#v)),
        Type::Bytes => quote!(w.bytes(#v)),
        Type::List(inner) => {
            let each = encode(inner, &Val::Ref(format_ident!("v")));
            quote!(w.list(#v, |w, v| #each))
        }
        Type::Map(k, value) => {
            let key = encode(k, &Val::Ref(format_ident!("k")));
            let value = encode(value, &Val::Ref(format_ident!("v")));
            quote!(w.map(#v, |w, k| #key, |w, v| #value))
        }
        Type::Optional(inner) if matches!(**inner, Type::Named(_)) => {
            quote!(w.optional_value(#v))
        }
        Type::Optional(inner) => {
            let present = encode(inner, &Val::Ref(format_ident!("v")));
            quote!(w.optional(#v, |w, v| #present))
        }
        // Boxed fields too: `Box<T>` encodes as `T`.
        Type::Named(_) => quote!(w.value(#v)),
        _ => unreachable!("primitives handled above"),
    }
}

/// An expression of type `tw::Result<T>` reading `ty` with reader `r`.
fn read(ty: &Type) -> TokenStream {
    if let Some(m) = primitive_method(ty) {
        return quote!(r.#m());
    }
    match ty {
        Type::String => quote!(r.string()),
        Type::Bytes => quote!(r.bytes()),
        Type::List(inner) => {
            let each = read(inner);
            quote!(r.list(|r| #each))
        }
        Type::Map(k, v) => {
            let (key, value) = (read(k), read(v));
            quote!(r.map(|r| #key, |r| #value))
        }
        Type::Optional(inner) if matches!(**inner, Type::Named(_)) => quote!(r.optional_value()),
        Type::Optional(inner) => {
            let present = read(inner);
            quote!(r.optional(|r| #present))
        }
        // The field's type (boxed or not) tells `value` what to read.
        Type::Named(_) => quote!(r.value()),
        _ => unreachable!("primitives handled above"),
    }
}

/// `name: r.u8()?, …` for a struct expression, in schema order (field
/// initialisers run in the order written).
fn field_inits(fields: &[Field]) -> TokenStream {
    let inits = fields.iter().map(|f| {
        let name = ident(&f.name);
        let read = read(&f.ty);
        quote!(#name: #read?,)
    });
    quote!(#(#inits)*)
}

/// `impl tw::Codec for #name` with the given bodies; `w`/`r` are named
/// `_w`/`_r` where a body does not use them.
fn codec_impl(
    name: &Ident,
    is_struct: bool,
    (uses_w, encode): (bool, TokenStream),
    (uses_r, decode): (bool, TokenStream),
) -> TokenStream {
    let w = if uses_w { quote!(w) } else { quote!(_w) };
    let r = if uses_r { quote!(r) } else { quote!(_r) };
    let is_struct = is_struct.then(|| {
        quote!(
            const IS_STRUCT: bool = true;
        )
    });
    quote! {
        impl tw::Codec for #name {
            #is_struct
            fn encode(&self, #w: &mut impl tw::Writer) { #encode }
            fn decode(#r: &mut impl tw::Reader) -> tw::Result<Self> { #decode }
        }
    }
}

impl Context<'_> {
    /// The codec of a struct (`is_struct`) or message version: its fields in order.
    pub(super) fn struct_codec(name: &Ident, fields: &[Field], is_struct: bool) -> TokenStream {
        let writes = fields.iter().map(|f| {
            let field = ident(&f.name);
            encode(&f.ty, &Val::Field(quote!(self.#field)))
        });
        let inits = field_inits(fields);
        let used = !fields.is_empty();
        codec_impl(
            name,
            is_struct,
            (used, quote!(#( #writes; )*)),
            (used, quote!(Ok(Self { #inits }))),
        )
    }

    /// The codec of an enum: its number on the wire.
    pub(super) fn enum_codec(name: &Ident) -> TokenStream {
        codec_impl(
            name,
            false,
            (true, quote!(w.enum_value(self.value());)),
            (true, quote!(r.enum_of(Self::from_value))),
        )
    }

    /// The codec of a union: variant index, then its fields.
    pub(super) fn union_codec(name: &Ident, variants: &[UnionVariant]) -> TokenStream {
        let any_fields = variants.iter().any(|v| !v.fields.is_empty());
        let encode_arms = variants.iter().map(|v| {
            let variant = format_ident!("{}", pascal_case(&v.name));
            let index = Literal::u32_unsuffixed(v.index);
            if v.fields.is_empty() {
                return quote!(Self::#variant => w.variant(#index),);
            }
            let names: Vec<Ident> = v.fields.iter().map(|f| ident(&f.name)).collect();
            let bindings: Vec<Ident> = (0..v.fields.len()).map(|i| format_ident!("f{i}")).collect();
            let writes = v
                .fields
                .iter()
                .zip(&bindings)
                .map(|(f, b)| encode(&f.ty, &Val::Ref(b.clone())));
            quote! {
                Self::#variant { #( #names: #bindings ),* } => {
                    w.variant(#index);
                    #( #writes; )*
                }
            }
        });
        let decode_arms = variants.iter().map(|v| {
            let variant = format_ident!("{}", pascal_case(&v.name));
            let index = Literal::u32_unsuffixed(v.index);
            if v.fields.is_empty() {
                quote!(#index => Ok(Self::#variant),)
            } else {
                let inits = field_inits(&v.fields);
                quote!(#index => Ok(Self::#variant { #inits }),)
            }
        });
        let r = if any_fields { quote!(r) } else { quote!(_) };
        codec_impl(
            name,
            false,
            (true, quote!(match self { #( #encode_arms )* })),
            (
                true,
                quote! {
                    r.union(|#r, tag| match tag.value {
                        #( #decode_arms )*
                        _ => Err(tag.unknown_variant()),
                    })
                },
            ),
        )
    }
}
