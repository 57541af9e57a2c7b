//! The impls: `Codec` and `Describe` for structs, enums and unions;
//! `Protocol`, `Codec` and `SchemaExport` for protocol enums. Every read and
//! write is a call on the runtime's `Writer` or `Reader` as the schema
//! compiler's Rust generator writes it (`compiler/src/codegen/rust/codec.rs`),
//! in field order, so one body serves both encodings.

use crate::ast::{FieldTy, Shape, Variant, snake_case};
use crate::attr::{self, Attrs, Position};
use crate::check;
use crate::ctxt::Ctxt;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Ident};

const CODEC: fn() -> TokenStream = || quote!(::tagwire::__private::Codec);
const DERIVE: fn() -> TokenStream = || quote!(::tagwire::__private::derive);
/// The signatures of `Codec::encode` and `Codec::decode`.
const ENCODE: fn() -> TokenStream =
    || quote!(fn encode(&self, w: &mut impl ::tagwire::__private::Writer));
const DECODE: fn() -> TokenStream = || quote!(fn decode(r: &mut impl ::tagwire::__private::Reader) -> ::tagwire::__private::Result<Self>);

/// How the value being written is reachable.
enum Val {
    /// A place of type `T` (`self.x`).
    Place(TokenStream),
    /// An expression of type `&T` (a binding).
    Ref(TokenStream),
}

impl Val {
    fn copy(&self) -> TokenStream {
        match self {
            Val::Place(e) => e.clone(),
            Val::Ref(e) => quote!(*#e),
        }
    }
    fn by_ref(&self) -> TokenStream {
        match self {
            Val::Place(e) => quote!(&#e),
            Val::Ref(e) => e.clone(),
        }
    }
}

/// A statement writing `val` with writer `w`.
fn encode(ty: &FieldTy, val: &Val) -> TokenStream {
    let d = DERIVE();
    let v = val.by_ref();
    match ty {
        FieldTy::Prim(p) => {
            let m = format_ident!("{}", p.name());
            let v = val.copy();
            quote!(w.#m(#v))
        }
        FieldTy::String => quote!(w.str(#v)),
        FieldTy::Bytes => quote!(w.bytes(#v)),
        FieldTy::List(inner) => {
            let each = encode(inner, &Val::Ref(quote!(v)));
            quote!(w.list(#v, |w, v| #each))
        }
        FieldTy::Map(k, value, None) => {
            let key = encode(k, &Val::Ref(quote!(k)));
            let value = encode(value, &Val::Ref(quote!(v)));
            quote!(w.map(#v, |w, k| #key, |w, v| #value))
        }
        FieldTy::Map(k, value, Some(_)) => {
            // SPEC §5: entries in ascending key order, which a HashMap lacks.
            let key = encode(k, &Val::Ref(quote!(*k)));
            let value = encode(value, &Val::Ref(quote!(*v)));
            quote!({
                let sorted: ::std::collections::BTreeMap<_, _> = ::std::iter::Iterator::collect((#v).iter());
                w.map(&sorted, |w, k| #key, |w, v| #value)
            })
        }
        // A derived type knows whether it needs the struct marker.
        FieldTy::Option(inner) => match &**inner {
            FieldTy::Named(t) => quote!(<#t as #d::Describe>::write_optional(#v, w)),
            FieldTy::Boxed(b) if matches!(**b, FieldTy::Named(_)) => quote!(w.optional_value(#v)),
            _ => {
                let present = encode(inner, &Val::Ref(quote!(v)));
                quote!(w.optional(#v, |w, v| #present))
            }
        },
        FieldTy::Boxed(inner) => {
            let unboxed = match val {
                Val::Place(e) => Val::Ref(quote!(&*#e)),
                Val::Ref(e) => Val::Ref(quote!(&**#e)),
            };
            encode(inner, &unboxed)
        }
        FieldTy::Named(t) => quote!(<#t as #d::Describe>::write(#v, w)),
    }
}

/// An expression of type `Result<T, DecodeError>` reading with reader `r`.
fn read(ty: &FieldTy) -> TokenStream {
    let d = DERIVE();
    match ty {
        FieldTy::Prim(p) => {
            let m = format_ident!("{}", p.name());
            quote!(r.#m())
        }
        FieldTy::String => quote!(r.string()),
        FieldTy::Bytes => quote!(r.bytes()),
        FieldTy::List(inner) => {
            let each = read(inner);
            quote!(r.list(|r| #each))
        }
        FieldTy::Map(k, v, hash) => {
            let (key, value) = (read(k), read(v));
            match hash {
                None => quote!(r.map(|r| #key, |r| #value)),
                Some(t) => {
                    quote!(r.map(|r| #key, |r| #value).map(|m| ::std::iter::Iterator::collect::<#t>(::std::iter::IntoIterator::into_iter(m))))
                }
            }
        }
        FieldTy::Option(inner) => match &**inner {
            FieldTy::Named(t) => quote!(<#t as #d::Describe>::read_optional(r)),
            FieldTy::Boxed(b) if matches!(**b, FieldTy::Named(_)) => quote!(r.optional_value()),
            _ => {
                let present = read(inner);
                quote!(r.optional(|r| #present))
            }
        },
        FieldTy::Boxed(inner) => {
            let inner = read(inner);
            quote!(#inner.map(::std::boxed::Box::new))
        }
        FieldTy::Named(t) => quote!(<#t as #d::Describe>::read(r)),
    }
}

/// The `Ty` constant describing a field type.
fn ty_desc(ty: &FieldTy) -> TokenStream {
    let d = DERIVE();
    match ty {
        FieldTy::Prim(p) => {
            let name = p.name();
            quote!(#d::Ty::Scalar(#name))
        }
        FieldTy::String => quote!(#d::Ty::String),
        FieldTy::Bytes => quote!(#d::Ty::Bytes),
        FieldTy::List(inner) => {
            let inner = ty_desc(inner);
            quote!(#d::Ty::List(&#inner))
        }
        FieldTy::Map(k, v, _) => {
            let (k, v) = (ty_desc(k), ty_desc(v));
            quote!(#d::Ty::Map(&#k, &#v))
        }
        FieldTy::Option(inner) => {
            let inner = ty_desc(inner);
            quote!(#d::Ty::Optional(&#inner))
        }
        FieldTy::Boxed(inner) => ty_desc(inner),
        FieldTy::Named(t) => quote!(#d::Ty::Named(<#t as #d::Describe>::type_def)),
    }
}

fn field_descs(fields: &[crate::ast::Field<'_>]) -> TokenStream {
    let d = DERIVE();
    let descs = fields.iter().filter_map(|f| {
        let ty = ty_desc(f.ty.as_ref()?);
        let name = &f.wire_name;
        Some(quote!(#d::FieldDef { name: #name, ty: #ty }))
    });
    quote!(&[#(#descs),*])
}

/// `member: read?,` per field, in order (initialisers run in the order written).
fn field_inits(fields: &[crate::ast::Field<'_>]) -> TokenStream {
    let inits = fields.iter().filter_map(|f| {
        let ident = f.ident;
        let read = read(f.ty.as_ref()?);
        Some(quote!(#ident: #read?,))
    });
    quote!(#(#inits)*)
}

/// Writes of named fields bound as `f0`, `f1`, … (references).
fn bound_writes(fields: &[crate::ast::Field<'_>]) -> (TokenStream, Vec<TokenStream>) {
    let members: Vec<&Ident> = fields.iter().map(|f| f.ident).collect();
    let bindings: Vec<Ident> = (0..fields.len()).map(|i| format_ident!("f{i}")).collect();
    let writes = fields
        .iter()
        .zip(&bindings)
        .filter_map(|(f, b)| Some(encode(f.ty.as_ref()?, &Val::Ref(quote!(#b)))))
        .collect();
    (quote!({ #( #members: #bindings ),* }), writes)
}

fn no_generics(cx: &Ctxt, input: &DeriveInput) {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        cx.error_spanned_by(
            &input.generics,
            "tagwire derives do not support generics or lifetimes: a schema type has one fixed shape",
        );
    }
}

fn docs_desc(docs: &[String]) -> TokenStream {
    quote!(&[#(#docs),*])
}

/// `#[derive(tagwire::Codec)]`.
pub(crate) fn codec(input: &DeriveInput) -> Result<TokenStream, Vec<syn::Error>> {
    let cx = Ctxt::new();
    no_generics(&cx, input);
    let _ = Attrs::parse(&cx, &input.attrs, Position::CodecType);
    let name = &input.ident;
    let type_name = name.to_string();
    let docs = docs_desc(&attr::docs(&input.attrs));
    let d = DERIVE();
    let codec_path = CODEC();
    let body = match &input.data {
        Data::Struct(data) => {
            let shape = Shape::read(&cx, &data.fields);
            if let Shape::Newtype(_) | Shape::Tuple(_) = shape {
                cx.error_spanned_by(
                    &data.fields,
                    "tuple structs have no field names for the schema: use named fields",
                );
            }
            let fields = shape.fields();
            let descs = field_descs(fields);
            let writes = fields.iter().filter_map(|f| {
                let ident = f.ident;
                Some(encode(f.ty.as_ref()?, &Val::Place(quote!(self.#ident))))
            });
            let inits = field_inits(fields);
            let (encode_fn, decode_fn) = (ENCODE(), DECODE());
            quote! {
                #[automatically_derived]
                #[allow(unused_variables, clippy::needless_borrow)]
                impl #codec_path for #name {
                    const IS_STRUCT: bool = true;
                    #encode_fn { #( #writes; )* }
                    #decode_fn { ::core::result::Result::Ok(Self { #inits }) }
                }
                #[automatically_derived]
                impl #d::Describe for #name {
                    fn type_def() -> &'static #d::TypeDef {
                        static DEF: #d::TypeDef = #d::TypeDef {
                            name: #type_name,
                            docs: #docs,
                            kind: #d::TypeKind::Struct(#descs),
                        };
                        &DEF
                    }
                }
                #[automatically_derived]
                impl #d::StructCodec for #name {}
            }
        }
        Data::Enum(data) => {
            let variants: Vec<Variant<'_>> = data
                .variants
                .iter()
                .map(|v| Variant::read(&cx, v, Position::CodecVariant))
                .collect();
            if variants.is_empty() {
                cx.error_spanned_by(name, "a tagwire enum or union needs at least one variant");
            }
            let wire_names: Vec<String> = variants
                .iter()
                .map(|v| {
                    v.attrs
                        .str("rename")
                        .map_or_else(|| snake_case(&v.ident.to_string()), syn::LitStr::value)
                })
                .collect();
            let fieldless = variants.iter().all(|v| matches!(v.shape, Shape::Unit));
            if fieldless {
                enum_codec(&cx, name, &type_name, &docs, &variants, &wire_names)
            } else {
                union_codec(&cx, name, &type_name, &docs, &variants, &wire_names)
            }
        }
        Data::Union(u) => {
            cx.error_spanned_by(
                u.union_token,
                "Rust unions are not supported: use an enum (a Tagwire union)",
            );
            quote!()
        }
    };
    cx.check()?;
    Ok(body)
}

fn enum_codec(
    cx: &Ctxt,
    name: &Ident,
    type_name: &str,
    docs: &TokenStream,
    variants: &[Variant<'_>],
    wire_names: &[String],
) -> TokenStream {
    let d = DERIVE();
    let codec_path = CODEC();
    let values = check::enum_values(cx, variants);
    let idents: Vec<&Ident> = variants.iter().map(|v| v.ident).collect();
    let lits: Vec<Literal> = values.iter().map(|&v| Literal::u32_unsuffixed(v)).collect();
    let (encode_fn, decode_fn) = (ENCODE(), DECODE());
    quote! {
        #[automatically_derived]
        impl #codec_path for #name {
            #encode_fn {
                w.enum_value(match self { #( Self::#idents => #lits, )* });
            }
            #decode_fn {
                r.enum_of(|value| match value {
                    #( #lits => ::core::option::Option::Some(Self::#idents), )*
                    _ => ::core::option::Option::None,
                })
            }
        }
        #[automatically_derived]
        impl #d::Describe for #name {
            fn type_def() -> &'static #d::TypeDef {
                static DEF: #d::TypeDef = #d::TypeDef {
                    name: #type_name,
                    docs: #docs,
                    kind: #d::TypeKind::Enum(&[#( (#wire_names, #lits) ),*]),
                };
                &DEF
            }
        }
    }
}

fn union_codec(
    cx: &Ctxt,
    name: &Ident,
    type_name: &str,
    docs: &TokenStream,
    variants: &[Variant<'_>],
    wire_names: &[String],
) -> TokenStream {
    let d = DERIVE();
    let codec_path = CODEC();
    for v in variants {
        match &v.shape {
            Shape::Newtype(f) => cx.error_spanned_by(
                f,
                "union variants need named fields (`Circle { r: f32 }`) or none",
            ),
            Shape::Tuple(t) => cx.error_spanned_by(
                t,
                "union variants need named fields (`Circle { r: f32 }`) or none",
            ),
            Shape::Unit | Shape::Named(_) => {}
        }
        if let Some((_, e)) = &v.original.discriminant {
            cx.error_spanned_by(
                e,
                "a union's variant tags are its declaration order: remove the discriminant",
            );
        }
    }
    let encode_arms = variants.iter().enumerate().map(|(i, v)| {
        let ident = v.ident;
        let index = Literal::u32_unsuffixed(u32::try_from(i).unwrap_or(u32::MAX));
        match &v.shape {
            Shape::Named(fields) => {
                let (pattern, writes) = bound_writes(fields);
                quote!(Self::#ident #pattern => { w.variant(#index); #( #writes; )* })
            }
            _ => quote!(Self::#ident { .. } => w.variant(#index),),
        }
    });
    let decode_arms = variants.iter().enumerate().map(|(i, v)| {
        let ident = v.ident;
        let index = Literal::u32_unsuffixed(u32::try_from(i).unwrap_or(u32::MAX));
        match &v.shape {
            Shape::Named(fields) => {
                let inits = field_inits(fields);
                quote!(#index => ::core::result::Result::Ok(Self::#ident { #inits }),)
            }
            _ => quote!(#index => ::core::result::Result::Ok(Self::#ident),),
        }
    });
    let variant_descs = variants.iter().zip(wire_names).map(|(v, n)| {
        let fields = field_descs(v.shape.fields());
        quote!(#d::VariantDef { name: #n, fields: #fields })
    });
    let (encode_fn, decode_fn) = (ENCODE(), DECODE());
    quote! {
        #[automatically_derived]
        #[allow(unused_variables)]
        impl #codec_path for #name {
            #encode_fn {
                match self { #( #encode_arms )* }
            }
            #decode_fn {
                r.union(|r, tag| match tag.value {
                    #( #decode_arms )*
                    _ => ::core::result::Result::Err(tag.unknown_variant()),
                })
            }
        }
        #[automatically_derived]
        impl #d::Describe for #name {
            fn type_def() -> &'static #d::TypeDef {
                static DEF: #d::TypeDef = #d::TypeDef {
                    name: #type_name,
                    docs: #docs,
                    kind: #d::TypeKind::Union(&[#( #variant_descs ),*]),
                };
                &DEF
            }
        }
    }
}

/// `#[derive(tagwire::Protocol)]`.
pub(crate) fn protocol(input: &DeriveInput) -> Result<TokenStream, Vec<syn::Error>> {
    let cx = Ctxt::new();
    no_generics(&cx, input);
    let attrs = Attrs::parse(&cx, &input.attrs, Position::Protocol);
    let name = &input.ident;
    let Data::Enum(data) = &input.data else {
        let span = match &input.data {
            Data::Struct(s) => s.struct_token.span(),
            Data::Union(u) => u.union_token.span(),
            Data::Enum(e) => e.enum_token.span(),
        };
        cx.syn_error(syn::Error::new(
            span,
            "#[derive(tagwire::Protocol)] goes on an enum with one variant per message version",
        ));
        return Err(cx.check().err().unwrap_or_default());
    };
    let direction = match attrs.str("direction") {
        None => "both".to_owned(),
        Some(lit) => {
            let value = lit.value();
            if value != "server" && value != "client" {
                cx.error_spanned_by(lit, "direction is \"server\" or \"client\" (leave it out when both sides send these messages)");
            }
            value
        }
    };
    let package = attrs
        .str("package")
        .map_or_else(|| snake_case(&name.to_string()), syn::LitStr::value);
    if let Some(lit) = attrs.str("package") {
        let ok = package
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase())
            && package
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            cx.error_spanned_by(lit, "a package name is lowercase: [a-z][a-z0-9_]*");
        }
    }
    let variants: Vec<Variant<'_>> = data
        .variants
        .iter()
        .map(|v| Variant::read(&cx, v, Position::Message))
        .collect();
    if variants.is_empty() {
        cx.error_spanned_by(name, "a protocol needs at least one message variant");
    }
    let messages = check::messages(&cx, &variants);
    let d = DERIVE();
    let codec = CODEC();
    let header_consts: Vec<TokenStream> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let c = format_ident!("H{i}");
            let text = Literal::byte_string(check::header_text(m.header).as_bytes());
            quote!(const #c: ::tagwire::Header = ::tagwire::Header::new(*#text);)
        })
        .collect();
    let header_names: Vec<Ident> = (0..messages.len()).map(|i| format_ident!("H{i}")).collect();
    let patterns: Vec<TokenStream> = variants
        .iter()
        .map(|v| {
            let ident = v.ident;
            match v.shape {
                Shape::Unit => quote!(Self::#ident),
                Shape::Newtype(_) => quote!(Self::#ident(_)),
                _ => quote!(Self::#ident { .. }),
            }
        })
        .collect();
    let mut asserts = Vec::new();
    for v in &variants {
        if let Shape::Newtype(f) = v.shape {
            let ty = &f.ty;
            asserts.push(quote_spanned!(ty.span()=> const _: () = #d::assert_struct::<#ty>();));
        }
    }
    let encode_arms = variants.iter().map(|v| {
        let ident = v.ident;
        match &v.shape {
            Shape::Named(fields) => {
                let (pattern, writes) = bound_writes(fields);
                quote!(Self::#ident #pattern => { #( #writes; )* })
            }
            Shape::Newtype(_) => quote!(Self::#ident(m) => w.value(m),),
            _ => quote!(Self::#ident { .. } => {}),
        }
    });
    let decode_arms = variants.iter().zip(&header_names).map(|(v, h)| {
        let ident = v.ident;
        match &v.shape {
            Shape::Named(fields) => {
                let inits = field_inits(fields);
                quote!(#h => Self::#ident { #inits },)
            }
            // The struct's fields are the message's: read at the top level.
            Shape::Newtype(_) => quote!(#h => Self::#ident(r.message()?),),
            _ => quote!(#h => Self::#ident,),
        }
    });
    let (encode_fn, decode_fn) = (ENCODE(), DECODE());
    let message_descs = variants.iter().zip(&messages).map(|(v, m)| {
        let (mname, version, pinned) = (&m.name, m.version, m.pinned);
        let text = Literal::byte_string(check::header_text(m.header).as_bytes());
        let docs = docs_desc(&v.docs);
        let fields = match &v.shape {
            Shape::Newtype(f) => {
                let ty = &f.ty;
                quote!(#d::MessageFields::Struct(<#ty as #d::Describe>::type_def))
            }
            shape => {
                let descs = field_descs(shape.fields());
                quote!(#d::MessageFields::Inline(#descs))
            }
        };
        quote!(#d::MessageDef {
            name: #mname,
            version: #version,
            header: ::tagwire::Header::new(*#text),
            pinned: #pinned,
            direction: #direction,
            docs: #docs,
            fields: #fields,
        })
    });
    cx.check()?;
    Ok(quote! {
        #( #asserts )*
        #[automatically_derived]
        #[allow(unused_variables, clippy::match_single_binding)]
        impl ::tagwire::Protocol for #name {
            fn header(&self) -> ::tagwire::Header {
                #( #header_consts )*
                match self { #( #patterns => #header_names, )* }
            }
        }
        #[automatically_derived]
        #[allow(unused_variables, clippy::match_single_binding)]
        impl #codec for #name {
            #encode_fn {
                match self { #( #encode_arms )* }
            }
            #decode_fn {
                #( #header_consts )*
                ::core::result::Result::Ok(match r.header() {
                    #( #decode_arms )*
                    _ => return ::core::result::Result::Err(r.unknown_header()),
                })
            }
        }
        #[automatically_derived]
        impl #d::SchemaExport for #name {
            const PACKAGE: &'static str = #package;
            const MESSAGES: &'static [#d::MessageDef] = &[#( #message_descs ),*];
        }
    })
}
