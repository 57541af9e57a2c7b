//! The lint allowances each generated item needs, and only those: a schema's
//! names and shapes can trip rustc's naming lints and a few of clippy's, and
//! generated code must stay warning-free wherever it is `include!`d, without
//! a wall of attributes on items that trip nothing.
//!
//! Each check follows the lint's own rule, erring towards allowing.

use super::Context;
use crate::check::pascal_case;
use crate::ir::{Field, Type, TypeDefKind, TypeRef, UnionVariant};
use proc_macro2::TokenStream;
use quote::quote;
use std::collections::HashSet;

/// clippy's `type_complexity` threshold.
const TYPE_COMPLEXITY_THRESHOLD: u32 = 250;
/// clippy's `large_enum_variant` threshold, in bytes.
const LARGE_VARIANT_BYTES: u32 = 200;
/// clippy's `enum-variant-name-threshold`: fewer variants are not checked.
const VARIANT_NAME_THRESHOLD: usize = 3;

/// Lints to allow on one item; empty when none applies.
#[derive(Default)]
pub(super) struct Allow(Vec<TokenStream>);

impl Allow {
    fn add(&mut self, when: bool, lint: TokenStream) {
        if when {
            self.0.push(lint);
        }
    }

    pub(super) fn attribute(&self) -> TokenStream {
        if self.0.is_empty() {
            return TokenStream::new();
        }
        let lints = &self.0;
        quote!(#[allow(#(#lints),*)])
    }
}

impl Context<'_> {
    /// For a struct or message version named `name` with these fields.
    pub(super) fn struct_allow(&self, owner: &TypeRef, name: &str, fields: &[Field]) -> Allow {
        let mut allow = Allow::default();
        allow.add(!is_camel_case(name), quote!(non_camel_case_types));
        allow.add(!fields_snake_case(fields), quote!(non_snake_case));
        allow.add(
            self.fields_complex(owner, fields),
            quote!(clippy::type_complexity),
        );
        allow
    }

    /// For an enum named `name` with these variants.
    pub(super) fn enum_allow(name: &str, variants: &[&str]) -> Allow {
        let rust: Vec<String> = variants.iter().map(|v| pascal_case(v)).collect();
        let mut allow = Allow::default();
        allow.add(!is_camel_case(name), quote!(non_camel_case_types));
        allow.add(
            variant_names_alike(name, &rust),
            quote!(clippy::enum_variant_names),
        );
        allow.add(
            std::iter::once(name)
                .chain(rust.iter().map(String::as_str))
                .any(is_acronym),
            quote!(clippy::upper_case_acronyms),
        );
        allow
    }

    /// For a union named `name`: an enum's allowances, and those its fields need.
    pub(super) fn union_allow(
        &self,
        owner: &TypeRef,
        name: &str,
        variants: &[UnionVariant],
    ) -> Allow {
        let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
        let mut allow = Self::enum_allow(name, &names);
        allow.add(
            !variants.iter().all(|v| fields_snake_case(&v.fields)),
            quote!(non_snake_case),
        );
        allow.add(
            variants
                .iter()
                .any(|v| self.fields_complex(owner, &v.fields)),
            quote!(clippy::type_complexity),
        );
        let large = variants.iter().any(|v| {
            let size: u32 = v
                .fields
                .iter()
                .map(|f| self.size_bound(owner, &f.ty, &mut HashSet::new()))
                .sum();
            size >= LARGE_VARIANT_BYTES
        });
        allow.add(large, quote!(clippy::large_enum_variant));
        allow
    }

    fn fields_complex(&self, owner: &TypeRef, fields: &[Field]) -> bool {
        fields.iter().any(|f| {
            let boxed = self.needs_box(owner, &f.ty);
            complexity(&f.ty, 1, boxed) >= TYPE_COMPLEXITY_THRESHOLD
        })
    }

    /// An upper bound of a value's size in Rust, in bytes: every scalar
    /// counted at 8 so padding is covered, a type reached again (which Rust
    /// must box) at a pointer's 8.
    fn size_bound(&self, owner: &TypeRef, ty: &Type, seen: &mut HashSet<TypeRef>) -> u32 {
        match ty {
            Type::String | Type::Bytes | Type::List(_) | Type::Map(..) => 24,
            Type::Optional(inner) => 8 + self.size_bound(owner, inner, seen),
            Type::Named(r) => {
                if self.needs_box(owner, ty) || !seen.insert(r.clone()) {
                    return 8;
                }
                let size = match self.schema.type_def(r).map(|d| &d.kind) {
                    Some(TypeDefKind::Struct(fields)) => {
                        fields.iter().map(|f| self.size_bound(r, &f.ty, seen)).sum()
                    }
                    Some(TypeDefKind::Union(variants)) => {
                        8 + variants
                            .iter()
                            .map(|v| {
                                v.fields
                                    .iter()
                                    .map(|f| self.size_bound(r, &f.ty, seen))
                                    .sum::<u32>()
                            })
                            .max()
                            .unwrap_or(0)
                    }
                    Some(TypeDefKind::Enum(_)) | None => 8,
                };
                seen.remove(r);
                size
            }
            _ => 8,
        }
    }
}

/// clippy's `type_complexity` score of the Rust type a field gets: each
/// type path counts ten times its nesting depth.
fn complexity(ty: &Type, nest: u32, boxed: bool) -> u32 {
    if boxed {
        return 10 * nest + complexity(ty, nest + 1, false);
    }
    10 * nest
        + match ty {
            Type::List(inner) | Type::Optional(inner) => complexity(inner, nest + 1, false),
            Type::Map(k, v) => complexity(k, nest + 1, false) + complexity(v, nest + 1, false),
            // `Vec<u8>`
            Type::Bytes => 10 * (nest + 1),
            _ => 0,
        }
}

fn fields_snake_case(fields: &[Field]) -> bool {
    fields
        .iter()
        .all(|f| is_snake_case(f.name.trim_start_matches("r#")))
}

/// rustc's `non_snake_case` rule: no uppercase, no doubled underscore.
fn is_snake_case(name: &str) -> bool {
    let name = name.trim_matches('_');
    !name.chars().any(char::is_uppercase) && !name.contains("__")
}

/// rustc's `non_camel_case_types` rule: no leading lowercase letter, no
/// doubled underscore, no underscore next to a letter.
fn is_camel_case(name: &str) -> bool {
    let name = name.trim_matches('_');
    let chars: Vec<char> = name.chars().collect();
    !chars.first().is_some_and(|c| c.is_lowercase())
        && !name.contains("__")
        && !chars
            .windows(2)
            .any(|w| (w[0] == '_' && w[1].is_alphabetic()) || (w[1] == '_' && w[0].is_alphabetic()))
}

/// clippy's `upper_case_acronyms` (not in its aggressive mode): a name of
/// two or more letters, all capitals.
fn is_acronym(name: &str) -> bool {
    name.chars().filter(|c| c.is_alphabetic()).count() > 1 && !name.chars().any(char::is_lowercase)
}

/// clippy's `enum_variant_names`: from three variants on, a variant that
/// starts or ends with the enum's name, or a first or last word all share.
fn variant_names_alike(name: &str, variants: &[String]) -> bool {
    if variants.len() < VARIANT_NAME_THRESHOLD {
        return false;
    }
    let has_name = variants
        .iter()
        .any(|v| v.starts_with(name) || v.ends_with(name));
    let all_same = |word: fn(&str) -> &str| {
        let first = word(&variants[0]);
        variants.iter().all(|v| word(v) == first)
    };
    has_name || all_same(first_word) || all_same(last_word)
}

/// `Post` of `PostV1`: up to the second capital.
fn first_word(name: &str) -> &str {
    let end = name
        .char_indices()
        .skip(1)
        .find(|(_, c)| c.is_uppercase())
        .map_or(name.len(), |(i, _)| i);
    &name[..end]
}

/// `V1` of `PostV1`: from the last capital.
fn last_word(name: &str) -> &str {
    let start = name
        .char_indices()
        .rfind(|(_, c)| c.is_uppercase())
        .map_or(0, |(i, _)| i);
    &name[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naming_rules() {
        assert!(is_snake_case("sent_ms") && !is_snake_case("sentMs") && !is_snake_case("a__b"));
        assert!(is_camel_case("PostV1") && !is_camel_case("My_Type") && !is_camel_case("point"));
        assert!(is_acronym("HTTP") && !is_acronym("Http") && !is_acronym("A"));
        let alike = |v: &[&str]| {
            let v: Vec<String> = v.iter().map(|s| (*s).to_string()).collect();
            variant_names_alike("Body", &v)
        };
        assert!(!alike(&["Text", "Sticker", "Deleted"]));
        assert!(alike(&["TextPart", "StickerPart", "DeletedPart"]));
        assert!(alike(&["BodyText", "Sticker", "Deleted"]));
        assert!(!alike(&["BodyText", "Sticker"]));
    }
}
