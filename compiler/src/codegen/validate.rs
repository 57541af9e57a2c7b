//! What the Rust and TypeScript constraint checks (SPEC §6.4) share: which
//! types can break a constraint, and the text of a violation's path.

use crate::ir::{Checks, Field, Schema, Type, TypeDefKind, TypeRef};
use std::collections::HashSet;

/// One step of a path from the value being validated; `B` is how the
/// generated code holds a list index or map key (a binding's name).
#[derive(Clone)]
pub(crate) enum Step<B> {
    /// A field or variant name.
    Name(String),
    /// A list index held in this binding.
    Index(B),
    /// A map key held in this binding: a string (quoted as JSON) or an integer.
    Key(B, bool),
}

/// A path's text, `shapes[…].circle`: names joined by dots, and for each
/// index or key what `hole(binding, quoted)` returns (a placeholder the
/// generated code fills in) in brackets; `quoted` is true for string keys,
/// which the path shows as JSON.
pub(crate) fn path_template<B>(
    path: &[Step<B>],
    mut hole: impl FnMut(&B, bool) -> String,
) -> String {
    let mut text = String::new();
    for step in path {
        match step {
            Step::Name(name) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(name);
            }
            Step::Index(binding) | Step::Key(binding, false) => {
                text.push_str(&format!("[{}]", hole(binding, false)));
            }
            Step::Key(binding, true) => {
                text.push_str(&format!("[{}]", hole(binding, true)));
            }
        }
    }
    text
}

/// The structs and unions whose values can break a constraint, directly or
/// through the types they hold.
pub(crate) fn constrained_types(schema: &Schema) -> HashSet<TypeRef> {
    let mut out: HashSet<TypeRef> = HashSet::new();
    loop {
        let mut grew = false;
        for package in &schema.packages {
            for def in &package.types {
                let r = TypeRef {
                    package: package.name.clone(),
                    name: def.name.clone(),
                };
                if out.contains(&r) {
                    continue;
                }
                let fields: Vec<&Field> = match &def.kind {
                    TypeDefKind::Struct(fields) => fields.iter().collect(),
                    TypeDefKind::Union(variants) => {
                        variants.iter().flat_map(|v| &v.fields).collect()
                    }
                    TypeDefKind::Enum(_) => Vec::new(),
                };
                if fields.iter().any(|f| needs(&out, &f.ty, &f.checks)) {
                    out.insert(r);
                    grew = true;
                }
            }
        }
        if !grew {
            return out;
        }
    }
}

/// Whether a value of `ty` under `checks` has anything to check.
pub(crate) fn needs(constrained: &HashSet<TypeRef>, ty: &Type, checks: &Checks) -> bool {
    if !checks.own.is_empty() {
        return true;
    }
    let sub = |c: &Option<Box<Checks>>| -> Checks { c.as_deref().cloned().unwrap_or_default() };
    match ty {
        Type::Optional(inner) => needs(constrained, inner, checks),
        Type::List(inner) => needs(constrained, inner, &sub(&checks.element)),
        Type::Map(k, v) => {
            needs(constrained, k, &sub(&checks.key)) || needs(constrained, v, &sub(&checks.value))
        }
        Type::Named(r) => constrained.contains(r),
        _ => false,
    }
}
