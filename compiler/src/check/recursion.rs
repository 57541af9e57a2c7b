//! Types that contain themselves with nothing optional in between could never
//! be written out: every value would need another value inside it, forever.

use crate::diagnostic::Diagnostic;
use crate::ir::{Schema, Type, TypeDef, TypeDefKind, TypeRef};
use std::collections::{HashMap, HashSet};

pub(super) fn check(schema: &Schema, diagnostics: &mut Vec<Diagnostic>) {
    let defs: HashMap<TypeRef, &TypeDef> = schema
        .packages
        .iter()
        .flat_map(|p| {
            p.types.iter().map(move |t| {
                (
                    TypeRef {
                        package: p.name.clone(),
                        name: t.name.clone(),
                    },
                    t,
                )
            })
        })
        .collect();
    // Least fixpoint: a type is finite once some value of it can be written
    // using only types already known to be finite.
    let mut finite: HashSet<&TypeRef> = HashSet::new();
    loop {
        let before = finite.len();
        for (reference, def) in &defs {
            if finite.contains(reference) {
                continue;
            }
            let writable = |ty: &Type| can_terminate(ty, &defs, &finite);
            let ok = match &def.kind {
                TypeDefKind::Enum(_) => true,
                TypeDefKind::Struct(fields) => fields.iter().all(|f| writable(&f.ty)),
                TypeDefKind::Union(variants) => variants.iter().any(|v| v.fields.iter().all(|f| writable(&f.ty))),
            };
            if ok {
                finite.insert(reference);
            }
        }
        if finite.len() == before {
            break;
        }
    }
    let mut infinite: Vec<(&TypeRef, &&TypeDef)> = defs.iter().filter(|(r, _)| !finite.contains(r)).collect();
    infinite.sort_by_key(|(_, def)| (def.span.file, def.span.start));
    for (reference, def) in infinite {
        // Empty unions are reported on their own; they are not a recursion problem.
        if matches!(&def.kind, TypeDefKind::Union(v) if v.is_empty()) {
            continue;
        }
        let mut d = Diagnostic::error(
            "E0080",
            format!("`{}` contains itself with no list, map or optional between", reference.name),
        )
        .at(def.span, "no value of this type could ever be written")
        .with_help("make the recursive field optional (`T?`) or a list (`[T]`)");
        if let Some(path) = cycle(reference, &defs) {
            d = d.with_note(format!("cycle: {}", path.join(" → ")));
        }
        diagnostics.push(d);
    }
}

fn can_terminate(ty: &Type, defs: &HashMap<TypeRef, &TypeDef>, finite: &HashSet<&TypeRef>) -> bool {
    match ty {
        Type::List(_) | Type::Map(_, _) | Type::Optional(_) => true,
        // A reference to a type that failed to resolve has been reported already.
        Type::Named(r) => finite.contains(r) || !defs.contains_key(r),
        _ => true,
    }
}

/// A path of direct (non-optional, non-collection) fields from `start` back to itself.
fn cycle(start: &TypeRef, defs: &HashMap<TypeRef, &TypeDef>) -> Option<Vec<String>> {
    fn direct(def: &TypeDef) -> Vec<(String, TypeRef)> {
        let fields: Vec<&crate::ir::Field> = match &def.kind {
            TypeDefKind::Struct(fields) => fields.iter().collect(),
            TypeDefKind::Union(variants) => variants.iter().flat_map(|v| v.fields.iter()).collect(),
            TypeDefKind::Enum(_) => Vec::new(),
        };
        fields
            .into_iter()
            .filter_map(|f| match &f.ty {
                Type::Named(r) => Some((f.name.clone(), r.clone())),
                _ => None,
            })
            .collect()
    }
    let mut stack = vec![(start.clone(), vec![start.name.clone()])];
    let mut seen = HashSet::new();
    while let Some((current, path)) = stack.pop() {
        let def = defs.get(&current)?;
        for (field, next) in direct(def) {
            let step = format!("{}.{field}", current.name);
            let mut next_path = path.clone();
            next_path.pop();
            next_path.push(step);
            next_path.push(next.name.clone());
            if &next == start {
                return Some(next_path);
            }
            if seen.insert(next.clone()) {
                stack.push((next, next_path));
            }
        }
    }
    None
}
