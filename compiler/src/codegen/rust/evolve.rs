//! Conversions between versions of a message (docs/EVOLUTION.md): generated
//! `tagwire::Downgrade` / `tagwire::Upgrade` impls where [`crate::evolve`]
//! finds them safe, and the `Package` items that walk them. A step the
//! compiler cannot generate is still called, so a missing application impl is
//! a compile error naming the impl to write.

use super::{Context, ident, type_path};
use crate::check::pascal_case;
use crate::evolve::{self, Conversions, FieldSource, Step};
use crate::ir::{DefaultValue, MessageVersion, Package, Type, TypeDefKind};
use proc_macro2::TokenStream;
use quote::quote;
use std::str::FromStr;

/// What the evolution items add to a package's file and to its `Package` impl.
pub(super) struct Evolution {
    /// Module items: the generated impls and `REMOVED`.
    pub items: TokenStream,
    /// Items of `impl ::tagwire::Package for Package`.
    pub package_items: TokenStream,
}

impl Context<'_> {
    pub(super) fn evolution(&self, package: &Package) -> Evolution {
        let conversions = evolve::analyze(package);
        let convert = !self.options.codec_only;
        let mut items = TokenStream::new();
        if convert {
            for step in conversions.downgrades.iter().chain(&conversions.upgrades) {
                items.extend(self.conversion_impl(package, step));
            }
        }
        let removed = package.removed.iter().map(|r| {
            let header = proc_macro2::Literal::byte_string(r.header.to_string().as_bytes());
            let name = &r.name;
            let version = proc_macro2::Literal::u32_unsuffixed(r.version);
            quote!((::tagwire::Header::new(*#header), #name, #version))
        });
        items.extend(quote! {
            /// Versions removed from this package (its lock's tombstones):
            /// `(header, message name, version)`. Their headers are never reused.
            #[allow(dead_code)]
            pub const REMOVED: &[(::tagwire::Header, &str, u32)] = &[ #(#removed),* ];
        });
        // The package's description (this constant, `HEADERS`,
        // `PROTOCOL_FINGERPRINT`, `Package`) may go unused: an application
        // can use a package only for its types, as another package's import.
        let mut package_items = quote! {
            const REMOVED: &'static [(::tagwire::Header, &'static str, u32)] = REMOVED;
        };
        if convert {
            package_items.extend(downgrade_fn(&conversions));
            package_items.extend(upgrade_fn(&conversions));
        }
        Evolution {
            items,
            package_items,
        }
    }

    /// The generated impl of one step, or nothing when the application supplies it.
    fn conversion_impl(&self, package: &Package, step: &Step<'_>) -> TokenStream {
        let Ok(plan) = &step.plan else {
            return TokenStream::new();
        };
        let from = ident(&step.from.type_name());
        let to = ident(&step.to.type_name());
        let down = step.way == evolve::Way::Down;
        let fields = plan.iter().map(|(field, source)| {
            let name = ident(&field.name);
            let value = match source {
                FieldSource::Same | FieldSource::WrapSome => {
                    let copy = self.is_copy(&field.ty);
                    let read = if down && !copy {
                        quote!(self.#name.clone())
                    } else {
                        quote!(self.#name)
                    };
                    if *source == FieldSource::WrapSome {
                        quote!(Some(#read))
                    } else {
                        read
                    }
                }
                FieldSource::Absent => quote!(None),
                FieldSource::Default(value) => default_expr(&package.name, &field.ty, value),
            };
            quote!(#name: #value)
        });
        let body = quote!(#to { #(#fields),* });
        if down {
            let doc = format!(
                " `{} v{}` for peers that only know `{} v{}`: the fields they know, \
                 unchanged (fields they lack are dropped).",
                step.from.name, step.from.version, step.to.name, step.to.version
            );
            quote! {
                #[doc = #doc]
                impl ::tagwire::Downgrade<#to> for #from {
                    fn downgrade(&self) -> Option<#to> {
                        Some(#body)
                    }
                }
            }
        } else {
            let doc = format!(
                " `{} v{}` as `{} v{}`: new fields are `None` or their schema default.",
                step.from.name, step.from.version, step.to.name, step.to.version
            );
            quote! {
                #[doc = #doc]
                impl ::tagwire::Upgrade<#to> for #from {
                    fn upgrade(self) -> #to {
                        #body
                    }
                }
            }
        }
    }

    /// Values Rust copies rather than clones (`.clone()` on them is a lint).
    fn is_copy(&self, ty: &Type) -> bool {
        match ty {
            Type::Optional(inner) => self.is_copy(inner),
            Type::Named(r) => matches!(
                self.schema.type_def(r).map(|d| &d.kind),
                Some(TypeDefKind::Enum(_))
            ),
            // The scalars are the fixed-size primitives; strings, bytes,
            // lists and maps own heap data.
            other => other.scalar_name().is_some(),
        }
    }
}

/// `Package::downgrade`: one step down from every server-sendable version
/// that has a previous one.
fn downgrade_fn(conversions: &Conversions<'_>) -> TokenStream {
    if conversions.downgrades.is_empty() {
        return TokenStream::new();
    }
    let arms = conversions.downgrades.iter().map(|step| {
        let from = ident(&step.from.type_name());
        let to = ident(&step.to.type_name());
        quote! {
            ServerMessage::#from(m) => ::tagwire::Downgrade::<#to>::downgrade(m).map(ServerMessage::#to),
        }
    });
    quote! {
        fn downgrade(message: &ServerMessage) -> Option<ServerMessage> {
            match message {
                #(#arms)*
                _ => None,
            }
        }
    }
}

/// `Package::upgrade`: every step up, to the newest version a client may send.
fn upgrade_fn(conversions: &Conversions<'_>) -> TokenStream {
    if conversions.upgrades.is_empty() {
        return TokenStream::new();
    }
    let arms = conversions.upgrades.iter().map(|first| {
        let from = ident(&first.from.type_name());
        let mut calls = TokenStream::new();
        let mut step = Some(first);
        let mut newest: &MessageVersion = first.from;
        while let Some(current) = step {
            let to = ident(&current.to.type_name());
            calls.extend(quote! {
                let m = ::tagwire::Upgrade::<#to>::upgrade(m);
            });
            newest = current.to;
            step = conversions.upgrade_from(current.to);
        }
        let newest = ident(&newest.type_name());
        quote! {
            ClientMessage::#from(m) => {
                #calls
                ClientMessage::#newest(m)
            }
        }
    });
    quote! {
        fn upgrade(message: ClientMessage) -> ClientMessage {
            match message {
                #(#arms)*
                other => other,
            }
        }
    }
}

/// A default as a Rust expression of the field's type: `3u8`, `0.5f32`,
/// `String::from("x")`, `Mood::Calm`.
fn default_expr(package: &str, ty: &Type, value: &DefaultValue) -> TokenStream {
    let typed = |text: String| TokenStream::from_str(&text).unwrap_or_default();
    match (value, ty) {
        (DefaultValue::Bool(b), _) => quote!(#b),
        (DefaultValue::Int(i), t) => {
            let suffix = t.primitive_name().unwrap_or_default();
            typed(format!("{i}{suffix}"))
        }
        #[allow(clippy::cast_possible_truncation)]
        (DefaultValue::Float(x), Type::F32) => typed(format!("{:?}f32", *x as f32)),
        (DefaultValue::Float(x), _) => typed(format!("{x:?}f64")),
        (DefaultValue::String(s), _) => quote!(::std::string::String::from(#s)),
        (DefaultValue::Enum(variant), Type::Named(r)) => {
            let path = type_path(package, r);
            let variant = ident(&pascal_case(variant));
            quote!(#path::#variant)
        }
        // The checker only lets an enum default onto an enum field.
        (DefaultValue::Enum(_), _) => TokenStream::new(),
    }
}
