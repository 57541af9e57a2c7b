//! Encode and decode functions for both encodings (SPEC §3–4), as straight
//! sequences of calls into `tagwire::__private` in schema order.
//!
//! Depth (SPEC §6.3): lists, maps, optionals and unions open their level
//! inside the runtime; every struct value opens one through `nested`, also
//! as a list element, map value or present optional.

use super::{Context, ident, type_path};
use crate::check::pascal_case;
use crate::ir::{Field, Type, TypeRef, UnionVariant};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

#[derive(Clone, Copy)]
pub(super) enum Enc {
    Text,
    Binary,
}

impl Enc {
    /// Encoder name, decoder name, writer type, reader type.
    pub(super) fn names(self) -> (Ident, Ident, TokenStream, TokenStream) {
        match self {
            Enc::Text => (
                format_ident!("__encode_text"),
                format_ident!("__decode_text"),
                quote!(::tagwire::__private::TextWriter<'_>),
                quote!(::tagwire::__private::TextReader<'_>),
            ),
            Enc::Binary => (
                format_ident!("__encode_binary"),
                format_ident!("__decode_binary"),
                quote!(::tagwire::__private::BinaryWriter<'_>),
                quote!(::tagwire::__private::BinaryReader<'_>),
            ),
        }
    }
}

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
    /// A method receiver.
    fn recv(&self) -> TokenStream {
        match self {
            Val::Field(e) => e.clone(),
            Val::Ref(i) => quote!(#i),
        }
    }
}

impl Context<'_> {
    fn primitive_method(ty: &Type) -> Option<&'static str> {
        Some(match ty {
            Type::Bool => "bool",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::I8 => "i8",
            Type::I16 => "i16",
            Type::I32 => "i32",
            Type::I64 => "i64",
            Type::F32 => "f32",
            Type::F64 => "f64",
            _ => return None,
        })
    }

    /// A statement writing `val` of type `ty` with writer `w`.
    fn encode(&self, ty: &Type, val: &Val, enc: Enc) -> TokenStream {
        let (encode, ..) = enc.names();
        if let Some(m) = Self::primitive_method(ty) {
            let m = format_ident!("{m}");
            let v = val.copy();
            return quote!(w.#m(#v));
        }
        let v = val.by_ref();
        match ty {
            Type::String => quote!(w.str(#v)),
            Type::Bytes => quote!(w.bytes(#v)),
            Type::List(inner) => {
                let each = self.encode(inner, &Val::Ref(format_ident!("v")), enc);
                quote!(w.list(#v, |w, v| #each))
            }
            Type::Map(k, value) => {
                let key = self.encode(k, &Val::Ref(format_ident!("k")), enc);
                let value = self.encode(value, &Val::Ref(format_ident!("v")), enc);
                quote!(w.map(#v, |w, k| #key, |w, v| #value))
            }
            Type::Optional(inner) => {
                let present = self.encode(inner, &Val::Ref(format_ident!("v")), enc);
                let method = if self.is_struct_type(inner) {
                    quote!(optional_struct)
                } else {
                    quote!(optional)
                };
                quote!(w.#method(#v, |w, v| #present))
            }
            Type::Named(_) => {
                let recv = val.recv();
                quote!(#recv.#encode(w))
            }
            _ => unreachable!("primitives handled above"),
        }
    }

    fn is_struct_type(&self, ty: &Type) -> bool {
        matches!(ty, Type::Named(r) if self.is_struct(r))
    }

    /// An expression of type `Result<T, DecodeError>` reading `ty` with reader `r`.
    fn read(&self, package: &str, ty: &Type, enc: Enc, boxed: bool) -> TokenStream {
        let (_, decode, ..) = enc.names();
        if let Some(m) = Self::primitive_method(ty) {
            let m = format_ident!("{m}");
            return quote!(r.#m());
        }
        match ty {
            Type::String => quote!(r.string()),
            Type::Bytes => quote!(r.bytes()),
            Type::List(inner) => {
                let each = self.reader_fn(package, inner, enc);
                quote!(r.list(#each))
            }
            Type::Map(k, v) => {
                let key = self.reader_fn(package, k, enc);
                let value = self.reader_fn(package, v, enc);
                quote!(r.map(#key, #value))
            }
            Type::Optional(inner) => {
                let method = if self.is_struct_type(inner) {
                    quote!(optional_struct)
                } else {
                    quote!(optional)
                };
                let present = if boxed {
                    let read = self.read(package, inner, enc, true);
                    quote!(|r| #read)
                } else {
                    self.reader_fn(package, inner, enc)
                };
                quote!(r.#method(#present))
            }
            Type::Named(reference) => {
                let path = type_path(package, reference);
                let read = if self.is_struct(reference) {
                    quote!(r.nested(#path::#decode))
                } else {
                    quote!(#path::#decode(r))
                };
                if boxed {
                    quote!(#read.map(Box::new))
                } else {
                    read
                }
            }
            _ => unreachable!("primitives handled above"),
        }
    }

    /// Something callable as `FnMut(&mut Reader) -> Result<T, DecodeError>`.
    fn reader_fn(&self, package: &str, ty: &Type, enc: Enc) -> TokenStream {
        let (_, decode, ..) = enc.names();
        match ty {
            // A path, not `|r| Path::decode(r)`: clippy's redundant_closure.
            Type::Named(reference) if !self.is_struct(reference) => {
                let path = type_path(package, reference);
                quote!(#path::#decode)
            }
            _ => {
                let read = self.read(package, ty, enc, false);
                quote!(|r| #read)
            }
        }
    }

    /// `name: r.u8()?, …` for a struct expression, in schema order (field
    /// initialisers run in the order written).
    fn field_inits(
        &self,
        package: &str,
        owner: &TypeRef,
        fields: &[Field],
        enc: Enc,
    ) -> TokenStream {
        let inits = fields.iter().map(|f| {
            let name = ident(&f.name);
            let read = self.read(package, &f.ty, enc, self.needs_box(owner, &f.ty));
            quote!(#name: #read?,)
        });
        quote!(#(#inits)*)
    }

    /// The four codec functions of a struct or message version.
    pub(super) fn struct_codec(
        &self,
        package: &str,
        owner: &TypeRef,
        name: &Ident,
        fields: &[Field],
    ) -> TokenStream {
        let functions = [Enc::Text, Enc::Binary].map(|enc| {
            let (encode, decode, writer, reader) = enc.names();
            let writes = fields.iter().map(|f| {
                let field = ident(&f.name);
                self.encode(&f.ty, &Val::Field(quote!(self.#field)), enc)
            });
            let inits = self.field_inits(package, owner, fields, enc);
            let (w, r) = if fields.is_empty() {
                (format_ident!("_w"), format_ident!("_r"))
            } else {
                (format_ident!("w"), format_ident!("r"))
            };
            quote! {
                #[doc(hidden)]
                pub fn #encode(&self, #w: &mut #writer) {
                    #( #writes; )*
                }
                #[doc(hidden)]
                pub fn #decode(#r: &mut #reader) -> Result<Self, ::tagwire::DecodeError> {
                    Ok(Self { #inits })
                }
            }
        });
        quote! {
            #[allow(dead_code, non_snake_case)]
            impl #name {
                #( #functions )*
            }
        }
    }

    /// The four codec functions of a union: variant index, then its fields.
    pub(super) fn union_codec(
        &self,
        package: &str,
        owner: &TypeRef,
        name: &Ident,
        variants: &[UnionVariant],
    ) -> TokenStream {
        let any_fields = variants.iter().any(|v| !v.fields.is_empty());
        let functions = [Enc::Text, Enc::Binary].map(|enc| {
            let (encode, decode, writer, reader) = enc.names();
            let encode_arms = variants.iter().map(|v| {
                let variant = format_ident!("{}", pascal_case(&v.name));
                let index = Literal::u32_unsuffixed(v.index);
                if v.fields.is_empty() {
                    return quote!(Self::#variant => w.variant(#index),);
                }
                let names: Vec<Ident> = v.fields.iter().map(|f| ident(&f.name)).collect();
                let bindings: Vec<Ident> =
                    (0..v.fields.len()).map(|i| format_ident!("f{i}")).collect();
                let writes = v
                    .fields
                    .iter()
                    .zip(&bindings)
                    .map(|(f, b)| self.encode(&f.ty, &Val::Ref(b.clone()), enc));
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
                    let inits = self.field_inits(package, owner, &v.fields, enc);
                    quote!(#index => Ok(Self::#variant { #inits }),)
                }
            });
            let r = if any_fields { quote!(r) } else { quote!(_) };
            quote! {
                #[doc(hidden)]
                pub fn #encode(&self, w: &mut #writer) {
                    match self { #( #encode_arms )* }
                }
                #[doc(hidden)]
                pub fn #decode(r: &mut #reader) -> Result<Self, ::tagwire::DecodeError> {
                    r.union(|#r, tag| match tag.value {
                        #( #decode_arms )*
                        _ => Err(tag.unknown_variant()),
                    })
                }
            }
        });
        quote! {
            #[allow(dead_code, non_snake_case)]
            impl #name {
                #( #functions )*
            }
        }
    }
}
