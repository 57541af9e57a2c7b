//! The impls: `Codec` for structs, enums and unions, `Protocol` and
//! `SchemaExport` for protocol enums. Every read and write is a call into
//! `tagwire::__private` exactly as the schema compiler's Rust generator
//! writes it (`compiler/src/codegen/rust/codec.rs`), in field order.

use crate::ast::{FieldTy, Shape, Variant, snake_case};
use crate::attr::{self, Attrs, Position};
use crate::check;
use crate::ctxt::Ctxt;
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Ident};

#[derive(Clone, Copy)]
enum Enc {
    Text,
    Binary,
}

impl Enc {
    /// `Codec` encoder, decoder and field reader names; writer and reader types.
    fn names(self) -> (Ident, Ident, Ident, TokenStream, TokenStream) {
        match self {
            Enc::Text => (
                format_ident!("encode_text"),
                format_ident!("decode_text"),
                format_ident!("read_text"),
                quote!(::tagwire::__private::TextWriter<'_>),
                quote!(::tagwire::__private::TextReader<'_>),
            ),
            Enc::Binary => (
                format_ident!("encode_binary"),
                format_ident!("decode_binary"),
                format_ident!("read_binary"),
                quote!(::tagwire::__private::BinaryWriter<'_>),
                quote!(::tagwire::__private::BinaryReader<'_>),
            ),
        }
    }
}

const CODEC: fn() -> TokenStream = || quote!(::tagwire::__private::derive::Codec);
const DERIVE: fn() -> TokenStream = || quote!(::tagwire::__private::derive);

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

/// The `Codec` path of the derived type an optional holds, if it holds one
/// (structs need `optional_struct`).
fn named_inner(ty: &FieldTy) -> Option<&syn::Type> {
    match ty.unboxed() {
        FieldTy::Named(t) => Some(t),
        _ => None,
    }
}

/// A statement writing `val` with writer `w`.
fn encode(ty: &FieldTy, val: &Val, enc: Enc) -> TokenStream {
    let (encode_fn, ..) = enc.names();
    let codec = CODEC();
    let v = val.by_ref();
    match ty {
        FieldTy::Prim(p) => {
            let m = format_ident!("{}", p.method());
            let v = val.copy();
            quote!(w.#m(#v))
        }
        FieldTy::String => quote!(w.str(#v)),
        FieldTy::Bytes => quote!(w.bytes(#v)),
        FieldTy::List(inner) => {
            let each = encode(inner, &Val::Ref(quote!(v)), enc);
            quote!(w.list(#v, |w, v| #each))
        }
        FieldTy::Map(k, value, None) => {
            let key = encode(k, &Val::Ref(quote!(k)), enc);
            let value = encode(value, &Val::Ref(quote!(v)), enc);
            quote!(w.map(#v, |w, k| #key, |w, v| #value))
        }
        FieldTy::Map(k, value, Some(_)) => {
            // SPEC §5: entries in ascending key order, which a HashMap lacks.
            let key = encode(k, &Val::Ref(quote!(*k)), enc);
            let value = encode(value, &Val::Ref(quote!(*v)), enc);
            quote!({
                let sorted: ::std::collections::BTreeMap<_, _> = ::std::iter::Iterator::collect((#v).iter());
                w.map(&sorted, |w, k| #key, |w, v| #value)
            })
        }
        FieldTy::Option(inner) => {
            let present = encode(inner, &Val::Ref(quote!(v)), enc);
            match named_inner(inner) {
                Some(t) => quote!(if <#t as #codec>::IS_STRUCT {
                    w.optional_struct(#v, |w, v| #present)
                } else {
                    w.optional(#v, |w, v| #present)
                }),
                None => quote!(w.optional(#v, |w, v| #present)),
            }
        }
        FieldTy::Boxed(inner) => {
            let unboxed = match val {
                Val::Place(e) => Val::Ref(quote!(&*#e)),
                Val::Ref(e) => Val::Ref(quote!(&**#e)),
            };
            encode(inner, &unboxed, enc)
        }
        FieldTy::Named(t) => quote!(<#t as #codec>::#encode_fn(#v, w)),
    }
}

/// An expression of type `Result<T, DecodeError>` reading with reader `r`.
fn read(ty: &FieldTy, enc: Enc) -> TokenStream {
    let codec = CODEC();
    match ty {
        FieldTy::Prim(p) => {
            let m = format_ident!("{}", p.method());
            quote!(r.#m())
        }
        FieldTy::String => quote!(r.string()),
        FieldTy::Bytes => quote!(r.bytes()),
        FieldTy::List(inner) => {
            let each = reader_fn(inner, enc);
            quote!(r.list(#each))
        }
        FieldTy::Map(k, v, hash) => {
            let key = reader_fn(k, enc);
            let value = reader_fn(v, enc);
            match hash {
                None => quote!(r.map(#key, #value)),
                Some(t) => {
                    quote!(r.map(#key, #value).map(|m| ::std::iter::Iterator::collect::<#t>(::std::iter::IntoIterator::into_iter(m))))
                }
            }
        }
        FieldTy::Option(inner) => {
            let present = reader_fn(inner, enc);
            match named_inner(inner) {
                Some(t) => quote!(if <#t as #codec>::IS_STRUCT {
                    r.optional_struct(#present)
                } else {
                    r.optional(#present)
                }),
                None => quote!(r.optional(#present)),
            }
        }
        FieldTy::Boxed(inner) => {
            let inner = read(inner, enc);
            quote!(#inner.map(::std::boxed::Box::new))
        }
        FieldTy::Named(t) => {
            let (_, _, read, ..) = enc.names();
            quote!(<#t as #codec>::#read(r))
        }
    }
}

/// Something callable as `FnMut(&mut Reader) -> Result<T, DecodeError>`.
fn reader_fn(ty: &FieldTy, enc: Enc) -> TokenStream {
    match ty {
        FieldTy::Named(t) => {
            let (_, _, read, ..) = enc.names();
            let codec = CODEC();
            quote!(<#t as #codec>::#read)
        }
        _ => {
            let read = read(ty, enc);
            quote!(|r| #read)
        }
    }
}

/// The `Ty` constant describing a field type.
fn ty_desc(ty: &FieldTy) -> TokenStream {
    let d = DERIVE();
    let codec = CODEC();
    match ty {
        FieldTy::Prim(p) => {
            let v = format_ident!("{}", p.ty_variant());
            quote!(#d::Ty::#v)
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
        FieldTy::Named(t) => quote!(#d::Ty::Named(<#t as #codec>::type_def)),
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
fn field_inits(fields: &[crate::ast::Field<'_>], enc: Enc) -> TokenStream {
    let inits = fields.iter().filter_map(|f| {
        let ident = f.ident;
        let read = read(f.ty.as_ref()?, enc);
        Some(quote!(#ident: #read?,))
    });
    quote!(#(#inits)*)
}

/// Writes of named fields bound as `f0`, `f1`, … (references).
fn bound_writes(fields: &[crate::ast::Field<'_>], enc: Enc) -> (TokenStream, Vec<TokenStream>) {
    let members: Vec<&Ident> = fields.iter().map(|f| f.ident).collect();
    let bindings: Vec<Ident> = (0..fields.len()).map(|i| format_ident!("f{i}")).collect();
    let writes = fields
        .iter()
        .zip(&bindings)
        .filter_map(|(f, b)| Some(encode(f.ty.as_ref()?, &Val::Ref(quote!(#b)), enc)))
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
            let fns = [Enc::Text, Enc::Binary].map(|enc| {
                let (encode, decode, _, writer, reader) = enc.names();
                let writes = fields.iter().filter_map(|f| {
                    let ident = f.ident;
                    Some(encode_stmt(f.ty.as_ref()?, quote!(self.#ident), enc))
                });
                let inits = field_inits(fields, enc);
                quote! {
                    fn #encode(&self, w: &mut #writer) { #( #writes; )* }
                    fn #decode(r: &mut #reader) -> ::core::result::Result<Self, ::tagwire::DecodeError> {
                        ::core::result::Result::Ok(Self { #inits })
                    }
                }
            });
            quote! {
                #[automatically_derived]
                #[allow(unused_variables, clippy::needless_borrow)]
                impl #codec_path for #name {
                    const IS_STRUCT: bool = true;
                    fn type_def() -> &'static #d::TypeDef {
                        static DEF: #d::TypeDef = #d::TypeDef {
                            name: #type_name,
                            docs: #docs,
                            kind: #d::TypeKind::Struct(#descs),
                        };
                        &DEF
                    }
                    #( #fns )*
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

fn encode_stmt(ty: &FieldTy, place: TokenStream, enc: Enc) -> TokenStream {
    encode(ty, &Val::Place(place), enc)
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
    let fns = [Enc::Text, Enc::Binary].map(|enc| {
        let (encode, decode, _, writer, reader) = enc.names();
        quote! {
            fn #encode(&self, w: &mut #writer) {
                w.enum_value(match self { #( Self::#idents => #lits, )* });
            }
            fn #decode(r: &mut #reader) -> ::core::result::Result<Self, ::tagwire::DecodeError> {
                let tag = r.enum_value()?;
                match tag.value {
                    #( #lits => ::core::result::Result::Ok(Self::#idents), )*
                    _ => ::core::result::Result::Err(tag.unknown_enum_value()),
                }
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #codec_path for #name {
            const IS_STRUCT: bool = false;
            fn type_def() -> &'static #d::TypeDef {
                static DEF: #d::TypeDef = #d::TypeDef {
                    name: #type_name,
                    docs: #docs,
                    kind: #d::TypeKind::Enum(&[#( (#wire_names, #lits) ),*]),
                };
                &DEF
            }
            #( #fns )*
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
    let fns = [Enc::Text, Enc::Binary].map(|enc| {
        let (encode, decode, _, writer, reader) = enc.names();
        let encode_arms = variants.iter().enumerate().map(|(i, v)| {
            let ident = v.ident;
            let index = Literal::u32_unsuffixed(u32::try_from(i).unwrap_or(u32::MAX));
            match &v.shape {
                Shape::Named(fields) => {
                    let (pattern, writes) = bound_writes(fields, enc);
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
                    let inits = field_inits(fields, enc);
                    quote!(#index => ::core::result::Result::Ok(Self::#ident { #inits }),)
                }
                _ => quote!(#index => ::core::result::Result::Ok(Self::#ident),),
            }
        });
        quote! {
            fn #encode(&self, w: &mut #writer) {
                match self { #( #encode_arms )* }
            }
            fn #decode(r: &mut #reader) -> ::core::result::Result<Self, ::tagwire::DecodeError> {
                r.union(|r, tag| match tag.value {
                    #( #decode_arms )*
                    _ => ::core::result::Result::Err(tag.unknown_variant()),
                })
            }
        }
    });
    let variant_descs = variants.iter().zip(wire_names).map(|(v, n)| {
        let fields = field_descs(v.shape.fields());
        quote!(#d::VariantDef { name: #n, fields: #fields })
    });
    quote! {
        #[automatically_derived]
        #[allow(unused_variables)]
        impl #codec_path for #name {
            const IS_STRUCT: bool = false;
            fn type_def() -> &'static #d::TypeDef {
                static DEF: #d::TypeDef = #d::TypeDef {
                    name: #type_name,
                    docs: #docs,
                    kind: #d::TypeKind::Union(&[#( #variant_descs ),*]),
                };
                &DEF
            }
            #( #fns )*
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
    let encoders = [Enc::Text, Enc::Binary].map(|enc| {
        let (encode, _, _, _, _) = enc.names();
        let (fn_name, out_ty, writer) = match enc {
            Enc::Text => (
                quote!(encode_text),
                quote!(::std::string::String),
                quote!(::tagwire::__private::TextWriter),
            ),
            Enc::Binary => (
                quote!(encode_binary),
                quote!(::std::vec::Vec<u8>),
                quote!(::tagwire::__private::BinaryWriter),
            ),
        };
        let arms = variants.iter().map(|v| {
            let ident = v.ident;
            match &v.shape {
                Shape::Named(fields) => {
                    let (pattern, writes) = bound_writes(fields, enc);
                    quote!(Self::#ident #pattern => { #( #writes; )* })
                }
                Shape::Newtype(f) => {
                    let ty = &f.ty;
                    quote!(Self::#ident(m) => <#ty as #codec>::#encode(m, w),)
                }
                _ => quote!(Self::#ident { .. } => {}),
            }
        });
        quote! {
            fn #fn_name(&self, out: &mut #out_ty) {
                let w = &mut #writer::new(out, ::tagwire::Protocol::header(self));
                match self { #( #arms )* }
            }
        }
    });
    let decoders = [Enc::Text, Enc::Binary].map(|enc| {
        let (_, decode, _, _, _) = enc.names();
        let (fn_name, frame_ty, reader) = match enc {
            Enc::Text => (quote!(decode_text_with), quote!(&str), quote!(::tagwire::__private::TextReader)),
            Enc::Binary => (quote!(decode_binary_with), quote!(&[u8]), quote!(::tagwire::__private::BinaryReader)),
        };
        let arms = variants.iter().zip(&header_names).map(|(v, h)| {
            let ident = v.ident;
            match &v.shape {
                Shape::Named(fields) => {
                    let inits = field_inits(fields, enc);
                    quote!(#h => Self::#ident { #inits },)
                }
                Shape::Newtype(f) => {
                    let ty = &f.ty;
                    quote!(#h => Self::#ident(<#ty as #codec>::#decode(r)?),)
                }
                _ => quote!(#h => Self::#ident,),
            }
        });
        quote! {
            fn #fn_name(frame: #frame_ty, limits: &::tagwire::Limits) -> ::core::result::Result<Self, ::tagwire::DecodeError> {
                #( #header_consts )*
                let mut reader = #reader::new(frame, limits)?;
                let r = &mut reader;
                let message = match r.header() {
                    #( #arms )*
                    _ => return ::core::result::Result::Err(r.unknown_header()),
                };
                reader.finish()?;
                ::core::result::Result::Ok(message)
            }
        }
    });
    let message_descs = variants.iter().zip(&messages).map(|(v, m)| {
        let (mname, version, pinned) = (&m.name, m.version, m.pinned);
        let text = Literal::byte_string(check::header_text(m.header).as_bytes());
        let docs = docs_desc(&v.docs);
        let fields = match &v.shape {
            Shape::Newtype(f) => {
                let ty = &f.ty;
                quote!(#d::MessageFields::Struct(<#ty as #codec>::type_def))
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
            #( #encoders )*
            #( #decoders )*
        }
        #[automatically_derived]
        impl #d::SchemaExport for #name {
            const PACKAGE: &'static str = #package;
            const MESSAGES: &'static [#d::MessageDef] = &[#( #message_descs ),*];
        }
    })
}
