//! Constraint checks (SPEC §6.4): `validate()` on every message version whose
//! values can break a constraint, and a hidden `__validate()` on every struct
//! and union that can; types without constraints get no code, so schemas
//! without constraints generate exactly what they did before.
//!
//! A check costs nothing when it passes but the comparisons: the path of a
//! violation (`shapes[3].circle.radius`) is only built, by a closure, when a
//! value fails, and a nested type's path is prefixed on its way out.

use super::{Context, ident};
use crate::check::pascal_case;
use crate::codegen::validate::{needs, path_template};
use crate::ir::{Bound, Checks, Constraint, Field, Type, TypeDefKind, TypeRef};
use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

/// One step of a path from the value being validated: list indices and map
/// keys are held in these bindings.
type Step = crate::codegen::validate::Step<Ident>;

/// `format!("shapes[{}].circle", i0)` for a path, or `String::from("name")`.
fn path_expr(path: &[Step]) -> TokenStream {
    let mut args = Vec::new();
    let text = path_template(path, |binding, quoted| {
        args.push(if quoted {
            quote!(::tagwire::__private::quote_key(#binding))
        } else {
            quote!(#binding)
        });
        "{}".to_string()
    });
    if args.is_empty() {
        quote!(::std::string::String::from(#text))
    } else {
        quote!(::std::format!(#text, #(#args),*))
    }
}

/// A number as a Rust literal (through parsing, so negative numbers are a `-` and a literal).
fn number(text: String) -> TokenStream {
    text.parse().unwrap_or_else(|_| quote!(0))
}

fn bound_int(b: Option<Bound>) -> TokenStream {
    match b {
        Some(Bound::Int(i)) => {
            let n = number(i.to_string());
            quote!(::std::option::Option::Some(#n))
        }
        Some(Bound::Float(_)) | None => quote!(::std::option::Option::None),
    }
}

fn bound_float(b: Option<Bound>) -> TokenStream {
    match b {
        Some(b) => {
            let n = number(format!("{:?}", b.as_f64()));
            quote!(::std::option::Option::Some(#n))
        }
        None => quote!(::std::option::Option::None),
    }
}

impl Context<'_> {
    fn needs(&self, ty: &Type, checks: &Checks) -> bool {
        needs(&self.constrained, ty, checks)
    }

    /// Whether the named type has a `__validate`.
    pub(super) fn is_constrained(&self, r: &TypeRef) -> bool {
        self.constrained.contains(r)
    }

    /// Whether any field of a message version can break a constraint.
    pub(super) fn fields_constrained(&self, fields: &[Field]) -> bool {
        fields.iter().any(|f| self.needs(&f.ty, &f.checks))
    }

    /// The statements checking the fields bound by `binding(field)`, each
    /// under `prefix` then the field's name.
    fn fields_checks(
        &self,
        fields: &[Field],
        prefix: &[Step],
        binding: &dyn Fn(&Field) -> TokenStream,
    ) -> TokenStream {
        let mut out = TokenStream::new();
        for field in fields.iter().filter(|f| self.needs(&f.ty, &f.checks)) {
            let mut path = prefix.to_vec();
            path.push(Step::Name(field.name.clone()));
            let value = binding(field);
            let checks = self.value_checks(&field.ty, &field.checks, &quote!(v), &path, 0);
            out.extend(quote!({ let v = #value; #checks }));
        }
        out
    }

    /// `pub fn __validate` for a struct or union, when it has constraints.
    pub(super) fn validate_type(&self, def_ref: &TypeRef, kind: &TypeDefKind) -> TokenStream {
        let Some(body) = self.validate_type_body(def_ref, kind) else {
            return TokenStream::new();
        };
        let name = ident(&def_ref.name);
        Self::hidden_validate(quote!(#name), &body)
    }

    /// `pub fn __validate` on `target` (a struct or union, or its borrowed
    /// view) with the checks `body`.
    pub(super) fn hidden_validate(target: TokenStream, body: &TokenStream) -> TokenStream {
        quote! {
            impl #target {
                #[doc(hidden)]
                #[allow(clippy::single_match, clippy::match_single_binding, clippy::collapsible_if)]
                pub fn __validate(&self) -> ::std::result::Result<(), ::tagwire::Violation> {
                    #body
                    ::std::result::Result::Ok(())
                }
            }
        }
    }

    /// The checks of a struct or union with constraints, on `self`'s fields:
    /// the same statements serve the owned type and its borrowed view.
    pub(super) fn validate_type_body(
        &self,
        def_ref: &TypeRef,
        kind: &TypeDefKind,
    ) -> Option<TokenStream> {
        if !self.is_constrained(def_ref) {
            return None;
        }
        let body = match kind {
            TypeDefKind::Struct(fields) => self.fields_checks(fields, &[], &|f| {
                let field = ident(&f.name);
                quote!(&self.#field)
            }),
            TypeDefKind::Union(variants) => {
                let arms = variants
                    .iter()
                    .filter(|v| self.fields_constrained(&v.fields))
                    .map(|v| {
                        let variant = format_ident!("{}", pascal_case(&v.name));
                        let bound: Vec<Ident> = v
                            .fields
                            .iter()
                            .filter(|f| self.needs(&f.ty, &f.checks))
                            .map(|f| ident(&f.name))
                            .collect();
                        let checks =
                            self.fields_checks(&v.fields, &[Step::Name(v.name.clone())], &|f| {
                                let field = ident(&f.name);
                                quote!(#field)
                            });
                        quote!(Self::#variant { #(#bound,)* .. } => { #checks })
                    });
                quote! {
                    match self {
                        #(#arms)*
                        #[allow(unreachable_patterns)]
                        _ => {}
                    }
                }
            }
            TypeDefKind::Enum(_) => return None,
        };
        Some(body)
    }

    /// `pub fn validate` for a message version, when it has constraints.
    pub(super) fn validate_message(&self, type_name: &str, fields: &[Field]) -> TokenStream {
        if !self.fields_constrained(fields) {
            return TokenStream::new();
        }
        let name = ident(type_name);
        Self::message_validate(quote!(#name), &self.message_checks(fields))
    }

    /// The checks of a message version's fields on `self`: the same
    /// statements serve the owned version and its borrowed view.
    pub(super) fn message_checks(&self, fields: &[Field]) -> TokenStream {
        self.fields_checks(fields, &[], &|f| {
            let field = ident(&f.name);
            quote!(&self.#field)
        })
    }

    /// `pub fn validate` on `target` (a message version or its borrowed
    /// view) with the checks `body`.
    pub(super) fn message_validate(target: TokenStream, body: &TokenStream) -> TokenStream {
        quote! {
            impl #target {
                /// Checks the constraints of the schema (SPEC §6.4): the first
                /// value that breaks one, with its path from this message.
                /// Decoders call it on every frame; `try_encode_text` and
                /// `try_encode_binary` before encoding.
                ///
                /// # Errors
                ///
                /// The first violation, in schema order.
                #[allow(clippy::collapsible_if)]
                pub fn validate(&self) -> ::std::result::Result<(), ::tagwire::Violation> {
                    #body
                    ::std::result::Result::Ok(())
                }
            }
        }
    }

    /// Statements checking `value` (an expression of type `&T`, or a
    /// binding of it) of type `ty`; a violation returns from the function.
    fn value_checks(
        &self,
        ty: &Type,
        checks: &Checks,
        value: &TokenStream,
        path: &[Step],
        depth: usize,
    ) -> TokenStream {
        if let Type::Optional(inner) = ty {
            let x = format_ident!("x{depth}");
            let inner_checks = self.value_checks(inner, checks, &quote!(#x), path, depth + 1);
            return quote! {
                if let ::std::option::Option::Some(#x) = #value { #inner_checks }
            };
        }
        let mut out = TokenStream::new();
        let at = path_expr(path);
        for constraint in &checks.own {
            let check = own_check(ty, constraint, value, &at);
            out.extend(quote!(#check?;));
        }
        match ty {
            Type::List(element) => {
                let element_checks = checks.element.as_deref().cloned().unwrap_or_default();
                if self.needs(element, &element_checks) {
                    let (i, x) = (format_ident!("i{depth}"), format_ident!("x{depth}"));
                    let mut inner_path = path.to_vec();
                    inner_path.push(Step::Index(i.clone()));
                    let inner = self.value_checks(
                        element,
                        &element_checks,
                        &quote!(#x),
                        &inner_path,
                        depth + 1,
                    );
                    out.extend(quote! {
                        for (#i, #x) in #value.iter().enumerate() { #inner }
                    });
                }
            }
            Type::Map(key_ty, value_ty) => {
                let key_checks = checks.key.as_deref().cloned().unwrap_or_default();
                let value_checks = checks.value.as_deref().cloned().unwrap_or_default();
                let string_key = **key_ty == Type::String;
                let check_values = self.needs(value_ty, &value_checks);
                let k = format_ident!("k{depth}");
                let x = if check_values {
                    format_ident!("x{depth}")
                } else {
                    format_ident!("_")
                };
                let mut body = TokenStream::new();
                if !key_checks.own.is_empty() {
                    let key_text = if string_key {
                        quote!(::tagwire::__private::quote_key(#k))
                    } else {
                        quote!(#k.to_string())
                    };
                    for constraint in &key_checks.own {
                        let check = own_check(key_ty, constraint, &quote!(#k), &at);
                        body.extend(quote! {
                            #check.map_err(|e| ::tagwire::__private::key_violation(#key_text, e))?;
                        });
                    }
                }
                if check_values {
                    let mut inner_path = path.to_vec();
                    inner_path.push(Step::Key(k.clone(), string_key));
                    body.extend(self.value_checks(
                        value_ty,
                        &value_checks,
                        &quote!(#x),
                        &inner_path,
                        depth + 1,
                    ));
                }
                if !body.is_empty() {
                    out.extend(quote! {
                        for (#k, #x) in #value { #body }
                    });
                }
            }
            Type::Named(r) if self.is_constrained(r) => {
                out.extend(quote! {
                    if let ::std::result::Result::Err(e) = #value.__validate() {
                        return ::std::result::Result::Err(::tagwire::__private::within(#at, e));
                    }
                });
            }
            _ => {}
        }
        out
    }
}

/// An expression checking one constraint on `value` (a binding of `&T`):
/// `Result<(), Violation>`, the violation at the path `at` builds.
fn own_check(
    ty: &Type,
    constraint: &Constraint,
    value: &TokenStream,
    at: &TokenStream,
) -> TokenStream {
    let range = constraint.bounds_text().unwrap_or_default();
    match constraint {
        Constraint::Len { min, max } => {
            let count = if *ty == Type::String {
                quote!(::tagwire::__private::char_count(#value))
            } else {
                quote!(#value.len())
            };
            let max = match max {
                Some(m) => quote!(::std::option::Option::Some(#m)),
                None => quote!(::std::option::Option::None),
            };
            quote!(::tagwire::__private::check_len(#count, #min, #max, #range, || #at))
        }
        Constraint::Range { min, max } => {
            if matches!(ty, Type::F32 | Type::F64) {
                let (min, max) = (bound_float(*min), bound_float(*max));
                let number = if *ty == Type::F32 {
                    quote!(f64::from(*#value))
                } else {
                    quote!(*#value)
                };
                quote!(::tagwire::__private::check_float(#number, #min, #max, #range, || #at))
            } else {
                let (min, max) = (bound_int(*min), bound_int(*max));
                quote!(::tagwire::__private::check_int(i128::from(*#value), #min, #max, #range, || #at))
            }
        }
        Constraint::Pattern(pattern) => {
            let quoted = serde_json::to_string(pattern).unwrap_or_default();
            quote! {
                {
                    static PATTERN: ::std::sync::LazyLock<::std::option::Option<::tagwire::__private::Regex>> =
                        ::std::sync::LazyLock::new(|| ::tagwire::__private::compile_pattern(#pattern));
                    ::tagwire::__private::check_pattern(&PATTERN, #value, #quoted, || #at)
                }
            }
        }
    }
}
