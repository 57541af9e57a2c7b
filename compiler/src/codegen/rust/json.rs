//! Canonical JSON (SPEC §8) for generated Rust, when
//! [`super::RustOptions::canonical_json`] is on: `to_canonical_json` and
//! `from_canonical_json` on every struct, enum, union and message version,
//! and `to_json_line` / `from_json_line` on the protocol enums. The code
//! calls `tagwire::__private::json` (the runtime's `json` feature), which
//! holds the strict rules and builds JSON paths for errors.
//!
//! Writing builds the runtime's `Json`, whose objects are member lists:
//! fields are pushed in schema order and map entries in the `BTreeMap`'s
//! ascending key order, so the canonical order is in the value itself and
//! owes nothing to how `serde_json`'s map orders keys. Reading takes a
//! `serde_json::Value`, where order does not matter.

use super::{Context, ident, type_path, type_ref};
use crate::check::pascal_case;
use crate::ir::{Field, MessageVersion, Package, Type, TypeDef, TypeDefKind, TypeRef};
use proc_macro2::{Ident, Literal, TokenStream};
use quote::{format_ident, quote};

/// How a value being written is reachable: a place (`self.x`) or a
/// reference binding (`v`).
enum Val {
    Place(TokenStream),
    Ref(Ident),
}

impl Val {
    fn copy(&self) -> TokenStream {
        match self {
            Val::Place(e) => e.clone(),
            Val::Ref(i) => quote!(*#i),
        }
    }
    fn by_ref(&self) -> TokenStream {
        match self {
            Val::Place(e) => quote!(&#e),
            Val::Ref(i) => quote!(#i),
        }
    }
}

fn j() -> TokenStream {
    quote!(::tagwire::__private::json)
}

impl Context<'_> {
    /// An expression of type `Json` for `val` of type `ty`.
    fn json_write(&self, package: &str, ty: &Type, val: &Val) -> TokenStream {
        let j = j();
        match ty {
            Type::Bool => {
                let v = val.copy();
                quote!(#j::Json::Bool(#v))
            }
            Type::U8 | Type::U16 | Type::U32 | Type::I8 | Type::I16 | Type::I32 => {
                let v = val.copy();
                quote!(#j::Json::from(#v))
            }
            Type::U64 | Type::I64 | Type::F32 | Type::F64 => {
                let f = format_ident!("{}", ty.primitive_name().unwrap_or_default());
                let v = val.copy();
                quote!(#j::#f(#v))
            }
            Type::String => {
                let v = val.by_ref();
                quote!(#j::Json::String(::std::string::String::clone(#v)))
            }
            Type::Bytes => {
                let v = val.by_ref();
                quote!(#j::bytes(#v))
            }
            Type::List(inner) => {
                let v = val.by_ref();
                let each = self.json_writer_fn(package, inner);
                quote!(#j::list(#v, #each))
            }
            Type::Map(_, value) => {
                let v = val.by_ref();
                let each = self.json_writer_fn(package, value);
                quote!(#j::map(#v, ::std::string::ToString::to_string, #each))
            }
            Type::Optional(inner) => {
                let v = val.by_ref();
                let each = self.json_writer_fn(package, inner);
                quote!(#j::nullable(#v, #each))
            }
            Type::Named(r) => {
                let path = type_path(package, r);
                let v = val.by_ref();
                quote!(#path::to_canonical_json(#v))
            }
        }
    }

    /// Something callable as `FnMut(&T) -> Json`.
    fn json_writer_fn(&self, package: &str, ty: &Type) -> TokenStream {
        match ty {
            Type::Named(r) => {
                let path = type_path(package, r);
                quote!(#path::to_canonical_json)
            }
            _ => {
                let write = self.json_write(package, ty, &Val::Ref(format_ident!("v")));
                quote!(|v| #write)
            }
        }
    }

    /// An expression of type `Result<T, JsonError>` reading `v` at path `p`.
    fn json_read(&self, package: &str, ty: &Type, boxed: bool) -> TokenStream {
        let j = j();
        match ty {
            Type::List(inner) => {
                let each = self.json_reader_fn(package, inner, false);
                quote!(#j::list_from(v, p, #each))
            }
            Type::Map(k, value) => {
                let key = match k.as_ref() {
                    Type::String => quote!(#j::key_string),
                    other => {
                        let f = format_ident!("key_{}", other.primitive_name().unwrap_or_default());
                        quote!(#j::#f)
                    }
                };
                let each = self.json_reader_fn(package, value, false);
                quote!(#j::map_from(v, p, #key, #each))
            }
            Type::Optional(inner) => {
                let each = self.json_reader_fn(package, inner, boxed);
                quote!(#j::nullable_from(v, p, #each))
            }
            Type::Named(r) => {
                let path = type_path(package, r);
                if boxed {
                    quote!(#path::__from_json(v, p).map(Box::new))
                } else {
                    quote!(#path::__from_json(v, p))
                }
            }
            _ => {
                let f = self.json_reader_fn(package, ty, false);
                quote!(#f(v, p))
            }
        }
    }

    /// Something callable as `FnOnce(&Value, &Path) -> Result<T, JsonError>`.
    fn json_reader_fn(&self, package: &str, ty: &Type, boxed: bool) -> TokenStream {
        let j = j();
        let Some(name) = ty.primitive_name() else {
            if let Type::Named(r) = ty
                && !boxed
            {
                let path = type_path(package, r);
                return quote!(#path::__from_json);
            }
            let read = self.json_read(package, ty, boxed);
            return quote!(|v, p| #read);
        };
        // The runtime's readers are named after the type; 64-bit integers
        // come as decimal strings, floats and bytes from their own values.
        let f = match ty {
            Type::U64 | Type::I64 => format_ident!("{name}_string"),
            Type::F32 | Type::F64 | Type::Bytes => format_ident!("{name}_value"),
            _ => format_ident!("{name}"),
        };
        quote!(#j::#f)
    }

    /// `name: J::field(o, "name", p, …)?,` for each field.
    fn json_field_inits(&self, package: &str, owner: &TypeRef, fields: &[Field]) -> TokenStream {
        let j = j();
        let inits = fields.iter().map(|f| {
            let name = ident(&f.name);
            let key = &f.name;
            let boxed = self.needs_box(owner, &f.ty);
            match &f.ty {
                Type::Optional(inner) => {
                    let read = self.json_reader_fn(package, inner, boxed);
                    quote!(#name: #j::optional_field(o, #key, p, #read)?,)
                }
                ty => {
                    let read = self.json_reader_fn(package, ty, boxed);
                    quote!(#name: #j::field(o, #key, p, #read)?,)
                }
            }
        });
        quote!(#(#inits)*)
    }

    /// Statements pushing each field onto `m`, in schema order (optionals
    /// only when present).
    fn json_field_inserts(&self, package: &str, fields: &[(Val, &Field)]) -> TokenStream {
        let inserts = fields.iter().map(|(val, f)| {
            let key = &f.name;
            match &f.ty {
                Type::Optional(inner) => {
                    let v = val.by_ref();
                    let write = self.json_write(package, inner, &Val::Ref(format_ident!("v")));
                    quote!(if let Some(v) = #v { m.push((#key.to_owned(), #write)); })
                }
                ty => {
                    let write = self.json_write(package, ty, val);
                    quote!(m.push((#key.to_owned(), #write));)
                }
            }
        });
        quote!(#(#inserts)*)
    }

    fn json_struct(
        &self,
        package: &str,
        owner: &TypeRef,
        name: &Ident,
        label: &str,
        fields: &[Field],
    ) -> TokenStream {
        let j = j();
        let vals: Vec<(Val, &Field)> = fields
            .iter()
            .map(|f| {
                let field = ident(&f.name);
                (Val::Place(quote!(self.#field)), f)
            })
            .collect();
        let inserts = self.json_field_inserts(package, &vals);
        let inits = self.json_field_inits(package, owner, fields);
        let names = fields.iter().map(|f| &f.name);
        let (m, o, members) = if fields.is_empty() {
            (
                quote!(m),
                format_ident!("_o"),
                quote!(::std::vec::Vec::new()),
            )
        } else {
            let n = Literal::usize_unsuffixed(fields.len());
            (
                quote!(mut m),
                format_ident!("o"),
                quote!(::std::vec::Vec::with_capacity(#n)),
            )
        };
        // Members are pushed one statement per field, required or optional
        // alike, so clippy's preference for `vec![…]` is turned off here.
        quote! {
            #[allow(dead_code, non_snake_case, clippy::vec_init_then_push)]
            impl #name {
                /// This value as canonical JSON (SPEC §8), members in
                /// field order.
                pub fn to_canonical_json(&self) -> #j::Json {
                    let #m: #j::Members = #members;
                    #inserts
                    #j::Json::Object(m)
                }
                /// Reads canonical JSON (SPEC §8) strictly: unknown and
                /// missing properties are errors; `null` is an absent optional.
                ///
                /// # Errors
                ///
                /// What does not fit, with its JSON path.
                pub fn from_canonical_json(v: &#j::Value) -> Result<Self, #j::JsonError> {
                    Self::__from_json(v, &#j::Path::Root(""))
                }
                #[doc(hidden)]
                pub fn __from_json(v: &#j::Value, p: &#j::Path<'_>) -> Result<Self, #j::JsonError> {
                    let #o = #j::object(v, p, #label, &[#(#names),*])?;
                    Ok(Self { #inits })
                }
            }
        }
    }

    /// `to_canonical_json` / `from_canonical_json` for a schema type.
    pub(super) fn json_type_def(&self, package: &Package, def: &TypeDef) -> TokenStream {
        let j = j();
        let name = ident(&def.name);
        let owner = type_ref(&package.name, &def.name);
        let label = &def.name;
        match &def.kind {
            TypeDefKind::Struct(fields) => {
                self.json_struct(&package.name, &owner, &name, label, fields)
            }
            TypeDefKind::Enum(variants) => {
                let idents: Vec<_> = variants
                    .iter()
                    .map(|v| format_ident!("{}", pascal_case(&v.name)))
                    .collect();
                let names: Vec<_> = variants.iter().map(|v| Literal::string(&v.name)).collect();
                // `&self` like every other type's, though enums are `Copy`:
                // generated code calls them all alike.
                quote! {
                    #[allow(dead_code, clippy::wrong_self_convention)]
                    impl #name {
                        /// The variant's name, as canonical JSON (SPEC §8).
                        pub fn to_canonical_json(&self) -> #j::Json {
                            #j::Json::String(match self { #( Self::#idents => #names, )* }.to_owned())
                        }
                        /// Reads a variant's name.
                        ///
                        /// # Errors
                        ///
                        /// Not a string naming a variant.
                        pub fn from_canonical_json(v: &#j::Value) -> Result<Self, #j::JsonError> {
                            Self::__from_json(v, &#j::Path::Root(""))
                        }
                        #[doc(hidden)]
                        pub fn __from_json(v: &#j::Value, p: &#j::Path<'_>) -> Result<Self, #j::JsonError> {
                            match #j::enum_name(v, p)? {
                                #( #names => Ok(Self::#idents), )*
                                other => Err(#j::unknown_enum(p, #label, other)),
                            }
                        }
                    }
                }
            }
            TypeDefKind::Union(variants) => {
                let write_arms = variants.iter().map(|v| {
                    let variant = format_ident!("{}", pascal_case(&v.name));
                    let key = &v.name;
                    if v.fields.is_empty() {
                        return quote!(Self::#variant => #j::variant(#key, ::std::vec::Vec::new()),);
                    }
                    let names: Vec<Ident> = v.fields.iter().map(|f| ident(&f.name)).collect();
                    let bindings: Vec<Ident> =
                        (0..v.fields.len()).map(|i| format_ident!("f{i}")).collect();
                    let vals: Vec<(Val, &Field)> = v
                        .fields
                        .iter()
                        .zip(&bindings)
                        .map(|(f, b)| (Val::Ref(b.clone()), f))
                        .collect();
                    let inserts = self.json_field_inserts(&package.name, &vals);
                    let n = Literal::usize_unsuffixed(v.fields.len());
                    quote! {
                        Self::#variant { #( #names: #bindings ),* } => {
                            let mut m: #j::Members = ::std::vec::Vec::with_capacity(#n);
                            #inserts
                            #j::variant(#key, m)
                        }
                    }
                });
                let read_arms = variants.iter().map(|v| {
                    let variant = format_ident!("{}", pascal_case(&v.name));
                    let key = &v.name;
                    let variant_label = format!("{}.{}", def.name, v.name);
                    let names = v.fields.iter().map(|f| &f.name);
                    if v.fields.is_empty() {
                        quote! {
                            #key => {
                                #j::object(body, p, #variant_label, &[])?;
                                Ok(Self::#variant)
                            }
                        }
                    } else {
                        let inits = self.json_field_inits(&package.name, &owner, &v.fields);
                        quote! {
                            #key => {
                                let o = #j::object(body, p, #variant_label, &[#(#names),*])?;
                                Ok(Self::#variant { #inits })
                            }
                        }
                    }
                });
                quote! {
                    #[allow(dead_code, non_snake_case, clippy::vec_init_then_push)]
                    impl #name {
                        /// This value as canonical JSON (SPEC §8): `{"variant": {fields}}`,
                        /// fields in schema order.
                        pub fn to_canonical_json(&self) -> #j::Json {
                            match self { #( #write_arms )* }
                        }
                        /// Reads canonical JSON (SPEC §8) strictly.
                        ///
                        /// # Errors
                        ///
                        /// What does not fit, with its JSON path.
                        pub fn from_canonical_json(v: &#j::Value) -> Result<Self, #j::JsonError> {
                            Self::__from_json(v, &#j::Path::Root(""))
                        }
                        #[doc(hidden)]
                        pub fn __from_json(v: &#j::Value, parent: &#j::Path<'_>) -> Result<Self, #j::JsonError> {
                            let (name, body) = #j::union(v, parent, #label)?;
                            let p = &#j::Path::Field(parent, name);
                            match name {
                                #( #read_arms )*
                                other => Err(#j::unknown_variant(parent, #label, other)),
                            }
                        }
                    }
                }
            }
        }
    }

    /// `to_canonical_json` / `from_canonical_json` for a message version.
    pub(super) fn json_message(&self, package: &Package, message: &MessageVersion) -> TokenStream {
        let type_name = message.type_name();
        let name = ident(&type_name);
        let owner = type_ref(&package.name, &type_name);
        let label = format!("{} v{}", message.name, message.version);
        self.json_struct(&package.name, &owner, &name, &label, &message.fields)
    }

    /// `to_json_line` / `from_json_line` on `ServerMessage` and `ClientMessage`.
    pub(super) fn json_protocol(&self, package: &Package) -> TokenStream {
        let j = j();
        let mut out = TokenStream::new();
        for (enum_name, server) in [("ServerMessage", true), ("ClientMessage", false)] {
            let enum_name = format_ident!("{enum_name}");
            let messages: Vec<&MessageVersion> = package
                .messages
                .iter()
                .filter(|m| {
                    if server {
                        m.direction.server_sends()
                    } else {
                        m.direction.client_sends()
                    }
                })
                .collect();
            let variants: Vec<Ident> = messages.iter().map(|m| ident(&m.type_name())).collect();
            let names: Vec<&str> = messages.iter().map(|m| m.name.as_str()).collect();
            let versions: Vec<Literal> = messages
                .iter()
                .map(|m| Literal::u32_unsuffixed(m.version))
                .collect();
            let (to_body, from_body) = if messages.is_empty() {
                (
                    quote!(match *self {}),
                    quote! {
                        let _ = value;
                        Err(#j::unknown_message(message, version))
                    },
                )
            } else {
                (
                    quote! {
                        match self {
                            #( Self::#variants(m) => #j::line(#names, #versions, m.to_canonical_json()), )*
                        }
                    },
                    quote! {
                        let p = &#j::Path::Root("value");
                        match (message, version) {
                            #( (#names, #versions) => #variants::__from_json(value, p).map(Self::#variants), )*
                            _ => Err(#j::unknown_message(message, version)),
                        }
                    },
                )
            };
            out.extend(quote! {
                #[allow(dead_code)]
                impl #enum_name {
                    /// This message as a values-file line (SPEC §8):
                    /// `{"message": …, "version": …, "value": {…}}`.
                    pub fn to_json_line(&self) -> #j::Json {
                        #to_body
                    }
                    /// The message `message` v`version` from its canonical JSON
                    /// `value`; error paths start at `value`.
                    ///
                    /// # Errors
                    ///
                    /// No such message goes this way, or the value does not fit.
                    pub fn from_json_line(message: &str, version: u32, value: &#j::Value) -> Result<Self, #j::JsonError> {
                        #from_body
                    }
                }
            });
        }
        out
    }
}
