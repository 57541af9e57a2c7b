//! Rust type definitions: structs, enums, unions and message versions.

use super::{Context, doc_attrs, ident, screaming_snake, type_ref};
use crate::check::pascal_case;
use crate::ir::{Field, MessageVersion, Package, TypeDef, TypeDefKind, TypeRef};
use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote};

impl Context<'_> {
    /// Derives every generated type gets, plus serde when asked.
    pub(super) fn derives(&self, extra: TokenStream) -> TokenStream {
        let serde = if self.options.serde {
            quote!(, ::serde::Serialize, ::serde::Deserialize)
        } else {
            TokenStream::new()
        };
        quote!(#[derive(Debug, Clone, PartialEq #extra #serde)])
    }

    pub(super) fn type_def(&self, package: &Package, def: &TypeDef) -> TokenStream {
        let name = ident(&def.name);
        let docs = doc_attrs(&def.docs);
        let attrs = self.options.attributes_for(&package.name, &[&def.name]);
        let owner = type_ref(&package.name, &def.name);
        match &def.kind {
            TypeDefKind::Struct(fields) => {
                let derives = self.derives(TokenStream::new());
                let field_list = self.struct_fields(&package.name, &owner, fields, true);
                let codec = Self::struct_codec(&name, fields, true);
                let allow = self.struct_allow(&owner, &def.name, fields).attribute();
                quote! {
                    #docs
                    #derives
                    #attrs
                    #allow
                    pub struct #name { #field_list }
                    #codec
                }
            }
            TypeDefKind::Enum(variants) => {
                let derives = self.derives(quote!(, Copy, Eq, Hash));
                let names: Vec<_> = variants
                    .iter()
                    .map(|v| format_ident!("{}", pascal_case(&v.name)))
                    .collect();
                let values: Vec<_> = variants
                    .iter()
                    .map(|v| Literal::u32_unsuffixed(v.value))
                    .collect();
                let variant_docs = variants.iter().map(|v| {
                    let mut docs = v.docs.clone();
                    if !docs.is_empty() {
                        docs.push(String::new());
                    }
                    docs.push(format!("`{}` = {} on the wire.", v.name, v.value));
                    doc_attrs(&docs)
                });
                let codec = Self::enum_codec(&name);
                let variant_names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                let allow = Self::enum_allow(&def.name, &variant_names).attribute();
                quote! {
                    #docs
                    #derives
                    #attrs
                    #allow
                    pub enum #name {
                        #( #variant_docs #names, )*
                    }
                    impl #name {
                        /// The variant's number on the wire.
                        pub const fn value(&self) -> u32 {
                            match self { #( Self::#names => #values, )* }
                        }
                        /// The variant with this number on the wire, if any.
                        pub const fn from_value(value: u32) -> Option<Self> {
                            match value {
                                #( #values => Some(Self::#names), )*
                                _ => None,
                            }
                        }
                    }
                    #codec
                }
            }
            TypeDefKind::Union(variants) => {
                let derives = self.derives(TokenStream::new());
                let arms = variants.iter().map(|v| {
                    let variant = format_ident!("{}", pascal_case(&v.name));
                    let docs = doc_attrs(&v.docs);
                    if v.fields.is_empty() {
                        quote!(#docs #variant,)
                    } else {
                        let fields = self.struct_fields(&package.name, &owner, &v.fields, false);
                        quote!(#docs #variant { #fields },)
                    }
                });
                let codec = Self::union_codec(&name, variants);
                let allow = self.union_allow(&owner, &def.name, variants).attribute();
                quote! {
                    #docs
                    #derives
                    #attrs
                    #allow
                    pub enum #name { #(#arms)* }
                    #codec
                }
            }
        }
    }

    /// `pub name: Type,` for each field (no `pub` in enum variants).
    fn struct_fields(
        &self,
        package: &str,
        owner: &TypeRef,
        fields: &[Field],
        public: bool,
    ) -> TokenStream {
        let fields = fields.iter().map(|f| {
            let name = ident(&f.name);
            let ty = self.field_type(package, owner, &f.ty);
            let docs = doc_attrs(&f.docs);
            let vis = if public {
                quote!(pub)
            } else {
                TokenStream::new()
            };
            quote!(#docs #vis #name: #ty,)
        });
        quote!(#(#fields)*)
    }

    pub(super) fn message(&self, package: &Package, message: &MessageVersion) -> TokenStream {
        let type_name = message.type_name();
        let name = ident(&type_name);
        let header = message
            .header
            .map_or_else(|| "??".to_string(), |h| h.to_string());
        let constant = format_ident!("{}_V{}", screaming_snake(&message.name), message.version);
        let header_bytes = proc_macro2::Literal::byte_string(header.as_bytes());
        let mut docs = message.docs.clone();
        if !docs.is_empty() {
            docs.push(String::new());
        }
        let sender = match message.direction {
            crate::ir::Direction::Server => "sent by the server",
            crate::ir::Direction::Client => "sent by the client",
            crate::ir::Direction::Both => "sent by either side",
        };
        docs.push(format!(
            "Message `{}` version {}, header `{header}`, {sender}.",
            message.name, message.version
        ));
        let docs = doc_attrs(&docs);
        let const_doc = format!(" Header of [`{type_name}`].");
        let attrs = self
            .options
            .attributes_for(&package.name, &[&message.name, &type_name]);
        let derives = self.derives(TokenStream::new());
        // Message versions are never referred to by other types, so they never need boxes.
        let owner = type_ref(&package.name, &type_name);
        let fields = self.struct_fields(&package.name, &owner, &message.fields, true);
        let codec = Self::struct_codec(&name, &message.fields, false);
        let allow = self
            .struct_allow(&owner, &type_name, &message.fields)
            .attribute();
        quote! {
            #[doc = #const_doc]
            pub const #constant: ::tagwire::Header = ::tagwire::Header::new(*#header_bytes);

            #docs
            #derives
            #attrs
            #allow
            pub struct #name { #fields }

            impl #name {
                /// This version's header.
                pub const HEADER: ::tagwire::Header = #constant;
            }

            #codec
        }
    }
}
