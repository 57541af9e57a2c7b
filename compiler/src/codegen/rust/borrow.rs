//! Borrowed views for the borrowing binary decode (docs/RUNTIME.md,
//! Borrowed decoding): `RowRef<'a>` beside `Row`, `ChatV1Ref<'a>` beside
//! `ChatV1`, `ServerMessageRef<'a>` beside `ServerMessage`, holding `&'a str`
//! and `&'a [u8]` where the owned types hold `String` and `Vec<u8>`.
//!
//! Only types that hold a string or bytes, directly or through their fields,
//! get a view: any other type is its own view, read with its `Codec`, so a
//! view never copies what the owned type would not allocate for either.
//! Lists and maps stay `Vec` and `BTreeMap` (of views): their elements are
//! checked as they are read, which is what keeps the decode strict.
//!
//! Each view implements the runtime's `tw::DecodeRef` with the same calls in
//! the same order as the owned type's `Codec::decode`, with `str_ref`,
//! `bytes_ref` and `value_ref` where the owned decode copies, and
//! `into_owned` builds the owned value field by field.

use super::{Context, doc_attrs, ident, type_path};
use crate::check::pascal_case;
use crate::ir::{Field, MessageVersion, Package, Schema, Type, TypeDef, TypeDefKind, TypeRef};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};
use std::collections::HashSet;

/// Structs and unions that hold a string or bytes, directly or through a
/// field of any depth: the types that get a borrowed view.
pub(super) fn borrowing_types(schema: &Schema) -> HashSet<TypeRef> {
    let mut set = HashSet::new();
    // Grows to a fixed point, so recursive types are settled too.
    loop {
        let before = set.len();
        for package in &schema.packages {
            for def in &package.types {
                let fields: Vec<&Field> = match &def.kind {
                    TypeDefKind::Struct(fields) => fields.iter().collect(),
                    TypeDefKind::Union(variants) => {
                        variants.iter().flat_map(|v| &v.fields).collect()
                    }
                    TypeDefKind::Enum(_) => Vec::new(),
                };
                if fields.iter().any(|f| type_borrows(&set, &f.ty)) {
                    set.insert(TypeRef {
                        package: package.name.clone(),
                        name: def.name.clone(),
                    });
                }
            }
        }
        if set.len() == before {
            return set;
        }
    }
}

fn type_borrows(set: &HashSet<TypeRef>, ty: &Type) -> bool {
    match ty {
        Type::String | Type::Bytes => true,
        Type::List(inner) | Type::Optional(inner) => type_borrows(set, inner),
        Type::Map(k, v) => type_borrows(set, k) || type_borrows(set, v),
        Type::Named(r) => set.contains(r),
        _ => false,
    }
}

/// The name of a type's or message version's view: `RowRef`.
fn ref_ident(name: &str) -> Ident {
    format_ident!("{name}Ref")
}

/// A reader expression of type `tw::Result<T>` for the view of `ty`, with
/// reader `r` (a `tw::BinaryReader<'a>`).
fn read_ref(ctx: &Context<'_>, ty: &Type) -> TokenStream {
    match ty {
        Type::String => quote!(r.str_ref()),
        Type::Bytes => quote!(r.bytes_ref()),
        Type::List(inner) => {
            let each = read_ref(ctx, inner);
            quote!(r.list(|r| #each))
        }
        Type::Map(k, v) => {
            let (key, value) = (read_ref(ctx, k), read_ref(ctx, v));
            quote!(r.map(|r| #key, |r| #value))
        }
        Type::Optional(inner) => match inner.as_ref() {
            Type::Named(n) if ctx.borrowing.contains(n) => quote!(r.optional_value_ref()),
            Type::Named(_) => quote!(r.optional_value()),
            _ => {
                let present = read_ref(ctx, inner);
                quote!(r.optional(|r| #present))
            }
        },
        Type::Named(n) if ctx.borrowing.contains(n) => quote!(r.value_ref()),
        Type::Named(_) => quote!(r.value()),
        _ => match ty.scalar_name() {
            Some(name) => {
                let m = format_ident!("{name}");
                quote!(r.#m())
            }
            None => unreachable!("every type is handled above"),
        },
    }
}

impl Context<'_> {
    /// Whether a value of `ty` holds a string or bytes.
    fn borrows(&self, ty: &Type) -> bool {
        type_borrows(&self.borrowing, ty)
    }

    /// The view type of `ty` as written in package `package`: the owned
    /// type where nothing is borrowed.
    fn ref_type(&self, package: &str, ty: &Type) -> TokenStream {
        match ty {
            Type::String => quote!(&'a str),
            Type::Bytes => quote!(&'a [u8]),
            Type::List(inner) => {
                let inner = self.ref_type(package, inner);
                quote!(Vec<#inner>)
            }
            Type::Map(k, v) => {
                let k = self.ref_type(package, k);
                let v = self.ref_type(package, v);
                quote!(::std::collections::BTreeMap<#k, #v>)
            }
            Type::Optional(inner) => {
                let inner = self.ref_type(package, inner);
                quote!(Option<#inner>)
            }
            Type::Named(r) if self.borrowing.contains(r) => {
                let path = type_path(package, &ref_type_ref(r));
                quote!(#path<'a>)
            }
            _ => self.rust_type(package, ty),
        }
    }

    /// The view type of a field of `owner`, boxed where the owned field is.
    fn ref_field_type(&self, package: &str, owner: &TypeRef, ty: &Type) -> TokenStream {
        if !self.needs_box(owner, ty) {
            return self.ref_type(package, ty);
        }
        match ty {
            Type::Optional(inner) => {
                let inner = self.ref_type(package, inner);
                quote!(Option<Box<#inner>>)
            }
            _ => {
                let inner = self.ref_type(package, ty);
                quote!(Box<#inner>)
            }
        }
    }

    /// The derives of a view: those every generated type gets, with serde's
    /// when asked (a view deserializes by borrowing where the format allows
    /// it); never the user's `type_attributes`, which name owned types.
    fn ref_derives(&self) -> TokenStream {
        if self.options.serde {
            quote!(#[derive(Debug, Clone, PartialEq, ::serde::Serialize, ::serde::Deserialize)])
        } else {
            quote!(#[derive(Debug, Clone, PartialEq)])
        }
    }

    /// `#[serde(borrow)]` where serde does not borrow by itself: every
    /// borrowing field that is not a plain `&str` or `&[u8]`.
    fn serde_borrow(&self, ty: &Type) -> TokenStream {
        if self.options.serde && self.borrows(ty) && !matches!(ty, Type::String | Type::Bytes) {
            quote!(#[serde(borrow)])
        } else {
            TokenStream::new()
        }
    }

    /// `pub name: Type,` for each field of a view (no `pub` in enum variants).
    fn ref_fields(
        &self,
        package: &str,
        owner: &TypeRef,
        fields: &[Field],
        public: bool,
    ) -> TokenStream {
        let fields = fields.iter().map(|f| {
            let name = ident(&f.name);
            let ty = self.ref_field_type(package, owner, &f.ty);
            let docs = doc_attrs(&f.docs);
            let vis = public.then(|| quote!(pub));
            let borrow = self.serde_borrow(&f.ty);
            quote!(#docs #borrow #vis #name: #ty,)
        });
        quote!(#(#fields)*)
    }

    /// `name: r.str_ref()?, …` in schema order.
    fn ref_inits(&self, fields: &[Field]) -> TokenStream {
        let inits = fields.iter().map(|f| {
            let name = ident(&f.name);
            let read = read_ref(self, &f.ty);
            quote!(#name: #read?,)
        });
        quote!(#(#inits)*)
    }

    /// An expression turning `value`, a view of `ty` taken by value, into
    /// the owned value; `depth` names the closures' bindings.
    fn owned(&self, ty: &Type, value: &TokenStream, depth: usize) -> TokenStream {
        if !self.borrows(ty) {
            return value.clone();
        }
        let x = format_ident!("x{depth}");
        match ty {
            Type::String => quote!(#value.to_owned()),
            Type::Bytes => quote!(#value.to_vec()),
            Type::List(inner) => {
                let each = self.owned(inner, &quote!(#x), depth + 1);
                quote!(#value.into_iter().map(|#x| #each).collect())
            }
            Type::Map(k, v) => {
                let key_binding = format_ident!("k{depth}");
                let key = self.owned(k, &quote!(#key_binding), depth + 1);
                let each = self.owned(v, &quote!(#x), depth + 1);
                quote!(#value.into_iter().map(|(#key_binding, #x)| (#key, #each)).collect())
            }
            Type::Optional(inner) => {
                let present = self.owned(inner, &quote!(#x), depth + 1);
                quote!(#value.map(|#x| #present))
            }
            _ => quote!(#value.into_owned()),
        }
    }

    /// [`Context::owned`] for a field of `owner`, unboxing and reboxing
    /// where the field is boxed.
    fn owned_field(&self, owner: &TypeRef, ty: &Type, value: &TokenStream) -> TokenStream {
        if !self.needs_box(owner, ty) || !self.borrows(ty) {
            return self.owned(ty, value, 0);
        }
        match ty {
            Type::Optional(_) => quote!(#value.map(|x0| Box::new((*x0).into_owned()))),
            _ => quote!(Box::new((*#value).into_owned())),
        }
    }

    /// `name: conversion of self.name,` for each field.
    fn owned_inits(&self, owner: &TypeRef, fields: &[Field], on_self: bool) -> TokenStream {
        let inits = fields.iter().map(|f| {
            let name = ident(&f.name);
            let value = if on_self {
                quote!(self.#name)
            } else {
                quote!(#name)
            };
            let owned = self.owned_field(owner, &f.ty, &value);
            // A variant's binding that needs no conversion is written
            // shorthand, as clippy wants it.
            if !on_self && owned.to_string() == value.to_string() {
                return quote!(#name,);
            }
            quote!(#name: #owned,)
        });
        quote!(#(#inits)*)
    }

    /// The view of a struct or union that holds a string or bytes.
    pub(super) fn type_ref_def(&self, package: &Package, def: &TypeDef) -> TokenStream {
        let owner = super::type_ref(&package.name, &def.name);
        if !self.borrowing.contains(&owner) {
            return TokenStream::new();
        }
        let name = ident(&def.name);
        let view = ref_ident(&def.name);
        let doc = format!(
            " Borrowed view of [`{}`]: strings and bytes point into the binary frame \
             it was read from; [`{view}::into_owned`] copies them out.",
            def.name
        );
        let (item, decode, into_owned, allow) = match &def.kind {
            TypeDefKind::Struct(fields) => {
                let field_list = self.ref_fields(&package.name, &owner, fields, true);
                let inits = self.ref_inits(fields);
                let owned = self.owned_inits(&owner, fields, true);
                (
                    quote!(pub struct #view<'a> { #field_list }),
                    quote! {
                        const IS_STRUCT: bool = true;
                        fn decode_ref(r: &mut tw::BinaryReader<'a>) -> tw::Result<Self> {
                            #[allow(unused_imports)]
                            use tw::Reader as _;
                            Ok(Self { #inits })
                        }
                    },
                    quote!(#name { #owned }),
                    self.struct_allow(&owner, &def.name, fields),
                )
            }
            TypeDefKind::Union(variants) => {
                let arms = variants.iter().map(|v| {
                    let variant = format_ident!("{}", pascal_case(&v.name));
                    let docs = doc_attrs(&v.docs);
                    if v.fields.is_empty() {
                        quote!(#docs #variant,)
                    } else {
                        let fields = self.ref_fields(&package.name, &owner, &v.fields, false);
                        quote!(#docs #variant { #fields },)
                    }
                });
                let decode_arms = variants.iter().map(|v| {
                    let variant = format_ident!("{}", pascal_case(&v.name));
                    let index = Literal::u32_unsuffixed(v.index);
                    if v.fields.is_empty() {
                        quote!(#index => Ok(Self::#variant),)
                    } else {
                        let inits = self.ref_inits(&v.fields);
                        quote!(#index => Ok(Self::#variant { #inits }),)
                    }
                });
                let owned_arms = variants.iter().map(|v| {
                    let variant = format_ident!("{}", pascal_case(&v.name));
                    if v.fields.is_empty() {
                        return quote!(Self::#variant => #name::#variant,);
                    }
                    let names: Vec<Ident> = v.fields.iter().map(|f| ident(&f.name)).collect();
                    let owned = self.owned_inits(&owner, &v.fields, false);
                    quote!(Self::#variant { #(#names),* } => #name::#variant { #owned },)
                });
                let r = if variants.iter().any(|v| !v.fields.is_empty()) {
                    quote!(r)
                } else {
                    quote!(_)
                };
                (
                    quote!(pub enum #view<'a> { #(#arms)* }),
                    quote! {
                        fn decode_ref(r: &mut tw::BinaryReader<'a>) -> tw::Result<Self> {
                            #[allow(unused_imports)]
                            use tw::Reader as _;
                            r.union(|#r, tag| match tag.value {
                                #( #decode_arms )*
                                _ => Err(tag.unknown_variant()),
                            })
                        }
                    },
                    quote!(match self { #( #owned_arms )* }),
                    self.union_allow(&owner, &def.name, variants),
                )
            }
            TypeDefKind::Enum(_) => return TokenStream::new(),
        };
        let allow = allow.attribute();
        let derives = self.ref_derives();
        let validate = self
            .validate_type_body(&owner, &def.kind)
            .map(|body| Self::hidden_validate(quote!(#view<'_>), &body));
        quote! {
            #[doc = #doc]
            #derives
            #allow
            #item

            impl<'a> tw::DecodeRef<'a> for #view<'a> { #decode }

            impl #view<'_> {
                /// The owned value, with every string and bytes copied out of the frame.
                pub fn into_owned(self) -> #name { #into_owned }
            }

            impl From<#view<'_>> for #name {
                fn from(view: #view<'_>) -> Self {
                    view.into_owned()
                }
            }

            #validate
        }
    }

    /// Whether a message version gets a view.
    fn message_borrows(&self, message: &MessageVersion) -> bool {
        message.fields.iter().any(|f| self.borrows(&f.ty))
    }

    /// The view of a message version that holds a string or bytes.
    pub(super) fn message_ref(&self, package: &Package, message: &MessageVersion) -> TokenStream {
        if !self.message_borrows(message) {
            return TokenStream::new();
        }
        let type_name = message.type_name();
        let name = ident(&type_name);
        let view = ref_ident(&type_name);
        let owner = super::type_ref(&package.name, &type_name);
        let fields = &message.fields;
        let field_list = self.ref_fields(&package.name, &owner, fields, true);
        let inits = self.ref_inits(fields);
        let owned = self.owned_inits(&owner, fields, true);
        let allow = self.struct_allow(&owner, &type_name, fields).attribute();
        let doc = format!(
            " Borrowed view of [`{type_name}`]: strings and bytes point into the binary \
             frame it was read from; [`{view}::into_owned`] copies them out."
        );
        let validate = self
            .fields_constrained(fields)
            .then(|| Self::message_validate(quote!(#view<'_>), &self.message_checks(fields)));
        let derives = self.ref_derives();
        quote! {
            #[doc = #doc]
            #derives
            #allow
            pub struct #view<'a> { #field_list }

            #[allow(dead_code)]
            impl #view<'_> {
                /// This version's header.
                pub const HEADER: ::tagwire::Header = #name::HEADER;

                /// The owned value, with every string and bytes copied out of the frame.
                pub fn into_owned(self) -> #name { #name { #owned } }
            }

            impl From<#view<'_>> for #name {
                fn from(view: #view<'_>) -> Self {
                    view.into_owned()
                }
            }

            impl<'a> tw::DecodeRef<'a> for #view<'a> {
                fn decode_ref(r: &mut tw::BinaryReader<'a>) -> tw::Result<Self> {
                    #[allow(unused_imports)]
                            use tw::Reader as _;
                    Ok(Self { #inits })
                }
            }

            #validate
        }
    }

    /// The view of a protocol enum: one variant per version, holding the
    /// version's view or, where it borrows nothing, the version itself.
    pub(super) fn protocol_ref(&self, name: &str, messages: &[&MessageVersion]) -> TokenStream {
        let owned = format_ident!("{name}");
        let view = ref_ident(name);
        let variants: Vec<Ident> = messages.iter().map(|m| ident(&m.type_name())).collect();
        let payloads: Vec<TokenStream> = messages
            .iter()
            .map(|m| {
                let t = m.type_name();
                if self.message_borrows(m) {
                    let v = ref_ident(&t);
                    let borrow = self.options.serde.then(|| quote!(#[serde(borrow)]));
                    quote!(#borrow #v<'a>)
                } else {
                    let t = ident(&t);
                    quote!(#t)
                }
            })
            .collect();
        let decodes = messages.iter().zip(&variants).map(|(m, v)| {
            if self.message_borrows(m) {
                let t = ref_ident(&m.type_name());
                quote!(#v::HEADER => <#t<'a> as tw::DecodeRef<'a>>::decode_ref(r).map(Self::#v),)
            } else {
                quote!(#v::HEADER => tw::Reader::message(r).map(Self::#v),)
            }
        });
        let to_owned = messages.iter().zip(&variants).map(|(m, v)| {
            if self.message_borrows(m) {
                quote!(Self::#v(m) => #owned::#v(m.into_owned()),)
            } else {
                quote!(Self::#v(m) => #owned::#v(m),)
            }
        });
        let checked: Vec<&Ident> = messages
            .iter()
            .zip(&variants)
            .filter(|(m, _)| self.fields_constrained(&m.fields))
            .map(|(_, v)| v)
            .collect();
        let validate = (!checked.is_empty()).then(|| {
            quote! {
                fn validate(&self) -> ::std::result::Result<(), ::tagwire::Violation> {
                    match self {
                        #( Self::#checked(m) => m.validate(), )*
                        #[allow(unreachable_patterns)]
                        _ => Ok(()),
                    }
                }
            }
        });
        let variant_docs = messages.iter().map(|m| {
            let header = m.header.map_or_else(|| "??".to_string(), |h| h.to_string());
            format!(" `{}` v{} (header `{header}`).", m.name, m.version)
        });
        // No version: every frame's header is unknown (a `match` of one arm
        // is what clippy refuses).
        let decode = if messages.is_empty() {
            quote! {
                fn decode_ref(r: &mut tw::BinaryReader<'a>) -> tw::Result<Self> {
                    Err(tw::Reader::unknown_header(r))
                }
            }
        } else {
            quote! {
                fn decode_ref(r: &mut tw::BinaryReader<'a>) -> tw::Result<Self> {
                    match tw::Reader::header(r) {
                        #( #decodes )*
                        _ => Err(tw::Reader::unknown_header(r)),
                    }
                }
            }
        };
        // Where no version borrows, a variant that can never be built keeps
        // the lifetime used, so every protocol has a view of one shape.
        let any_borrows = messages.iter().any(|m| self.message_borrows(m));
        let skip = self.options.serde.then(|| quote!(#[serde(skip)]));
        let (unused, unused_arm) = if any_borrows {
            (TokenStream::new(), TokenStream::new())
        } else {
            (
                quote! {
                    #[doc(hidden)]
                    #skip
                    __Frame(::std::marker::PhantomData<&'a ()>, ::std::convert::Infallible),
                },
                quote!(Self::__Frame(_, never) => match never {},),
            )
        };
        let unused_ref_arm = if any_borrows {
            TokenStream::new()
        } else {
            quote!(Self::__Frame(_, never) => match *never {},)
        };
        let doc = format!(
            " Borrowed view of [`{name}`], read by [`{view}::decode_binary_ref`]: versions \
             holding strings or bytes are read as their views, which point into the frame, \
             the others as themselves."
        );
        let derives = self.ref_derives();
        quote! {
            #[doc = #doc]
            #derives
            #[allow(clippy::large_enum_variant, clippy::enum_variant_names)]
            pub enum #view<'a> {
                #( #[doc = #variant_docs] #variants(#payloads), )*
                #unused
            }

            #[allow(dead_code)]
            impl<'a> #view<'a> {
                /// Decodes one binary frame under caller-chosen limits, borrowing
                /// strings and bytes from `frame`, then checks the schema's
                /// constraints: as `decode_binary_with`, the same checks and errors.
                ///
                /// # Errors
                ///
                /// As `tagwire::Protocol::decode_binary_with`.
                pub fn decode_binary_ref_with(
                    frame: &'a [u8],
                    limits: &::tagwire::Limits,
                ) -> ::std::result::Result<Self, ::tagwire::DecodeError> {
                    tw::decode_binary_ref(frame, limits)
                }

                /// [`Self::decode_binary_ref_with`] under `tagwire::Limits::default()`.
                ///
                /// # Errors
                ///
                /// As `tagwire::Protocol::decode_binary`.
                pub fn decode_binary_ref(
                    frame: &'a [u8],
                ) -> ::std::result::Result<Self, ::tagwire::DecodeError> {
                    Self::decode_binary_ref_with(frame, &::tagwire::Limits::default())
                }

                /// Header of this value's message version.
                pub fn header(&self) -> ::tagwire::Header {
                    match self {
                        #( Self::#variants(_) => #variants::HEADER, )*
                        #unused_ref_arm
                    }
                }

                /// The owned message, with every string and bytes copied out of the frame.
                pub fn into_owned(self) -> #owned {
                    match self {
                        #( #to_owned )*
                        #unused_arm
                    }
                }
            }

            impl From<#view<'_>> for #owned {
                fn from(view: #view<'_>) -> Self {
                    view.into_owned()
                }
            }

            impl<'a> tw::DecodeRef<'a> for #view<'a> {
                #decode
                #validate
            }
        }
    }
}

/// The view of the named type `r`, for [`type_path`].
fn ref_type_ref(r: &TypeRef) -> TypeRef {
    TypeRef {
        package: r.package.clone(),
        name: format!("{}Ref", r.name),
    }
}
