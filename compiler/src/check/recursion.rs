//! Types that contain themselves with nothing optional in between could never
//! be written out: every value would need another value inside it, forever.
//!
//! Both the analysis and the cycles shown in notes take time linear in the
//! size of the schema, so thousands of mutually recursive types are reported
//! as quickly as two.

use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::ir::{Field, Schema, Type, TypeDef, TypeDefKind, TypeRef};
use std::collections::HashMap;

/// Longest cycle spelled out in full in a note; longer ones are shortened.
const MAX_CYCLE_STEPS: usize = 12;

pub(super) fn check(schema: &Schema, diagnostics: &mut Vec<Diagnostic>) {
    let defs: Vec<(TypeRef, &TypeDef)> = schema
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
    let index: HashMap<&TypeRef, usize> =
        defs.iter().enumerate().map(|(i, (r, _))| (r, i)).collect();
    // A field whose type is a defined type written directly (not in a list,
    // map or optional) needs a value of that type. References to types that
    // failed to resolve have been reported already and count as writable.
    let direct = |field: &Field| match &field.ty {
        Type::Named(r) => index.get(r).copied(),
        _ => None,
    };

    // Least fixpoint by counting: a struct (or union variant) becomes finite
    // once every type it directly needs is finite; a union once any variant is.
    // Each group is a struct's fields or one union variant's fields.
    let mut group_owner: Vec<usize> = Vec::new();
    let mut group_pending: Vec<usize> = Vec::new();
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); defs.len()];
    let mut finite = vec![false; defs.len()];
    let mut queue = Vec::new();
    for (i, (_, def)) in defs.iter().enumerate() {
        let groups: Vec<Vec<&Field>> = match &def.kind {
            TypeDefKind::Enum(_) => Vec::new(),
            TypeDefKind::Struct(fields) => vec![fields.iter().collect()],
            TypeDefKind::Union(variants) => {
                variants.iter().map(|v| v.fields.iter().collect()).collect()
            }
        };
        if matches!(def.kind, TypeDefKind::Enum(_)) {
            finite[i] = true;
            queue.push(i);
            continue;
        }
        for fields in groups {
            let group = group_owner.len();
            group_owner.push(i);
            let needs: Vec<usize> = fields.iter().filter_map(|f| direct(f)).collect();
            group_pending.push(needs.len());
            for need in needs {
                needed_by[need].push(group);
            }
            if group_pending[group] == 0 && !finite[i] {
                finite[i] = true;
                queue.push(i);
            }
        }
    }
    while let Some(done) = queue.pop() {
        for &group in &needed_by[done] {
            group_pending[group] -= 1;
            let owner = group_owner[group];
            if group_pending[group] == 0 && !finite[owner] {
                finite[owner] = true;
                queue.push(owner);
            }
        }
    }

    // Each infinite type needs at least one infinite type directly: the first
    // such field is its step. Following steps from any infinite type ends in a
    // cycle; every type on one is shown that cycle, starting from itself.
    let step: Vec<Option<(usize, &str)>> = defs
        .iter()
        .enumerate()
        .map(|(i, (_, def))| {
            if finite[i] {
                return None;
            }
            let fields: Box<dyn Iterator<Item = &Field>> = match &def.kind {
                TypeDefKind::Struct(fields) => Box::new(fields.iter()),
                TypeDefKind::Union(variants) => {
                    Box::new(variants.iter().flat_map(|v| v.fields.iter()))
                }
                TypeDefKind::Enum(_) => Box::new(std::iter::empty()),
            };
            fields
                .filter_map(|f| direct(f).map(|next| (next, f.name.as_str())))
                .find(|(next, _)| !finite[*next])
        })
        .collect();
    let cycles = cycles(&step);

    let mut infinite: Vec<usize> = (0..defs.len()).filter(|i| !finite[*i]).collect();
    infinite.sort_by_key(|&i| (defs[i].1.span.file, defs[i].1.span.start));
    for i in infinite {
        let (reference, def) = &defs[i];
        // Empty unions are reported on their own; they are not a recursion problem.
        if matches!(&def.kind, TypeDefKind::Union(v) if v.is_empty()) {
            continue;
        }
        let mut d = Diagnostic::error(
            DiagnosticCode::InfiniteRecursion,
            format!(
                "`{}` contains itself with no list, map or optional between",
                reference.name
            ),
        )
        .at(def.span, "no value of this type could ever be written")
        .with_help("make the recursive field optional (`T?`) or a list (`[T]`)");
        if let Some((cycle, position)) = cycles.get(&i) {
            d = d.with_note(describe(&defs, &step, cycle, *position));
        }
        diagnostics.push(d);
    }
}

/// The cycles of the step graph (each node has at most one step), and for each
/// node on one, which cycle and where on it the node is.
fn cycles(step: &[Option<(usize, &str)>]) -> HashMap<usize, (std::rc::Rc<Vec<usize>>, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; step.len()];
    let mut found = HashMap::new();
    for start in 0..step.len() {
        let mut path = Vec::new();
        let mut current = Some(start);
        while let Some(node) = current {
            match state[node] {
                State::Done => break,
                State::OnPath => {
                    let from = path.iter().position(|&n| n == node).unwrap_or(0);
                    let cycle = std::rc::Rc::new(path[from..].to_vec());
                    for (position, &member) in cycle.iter().enumerate() {
                        found.insert(member, (cycle.clone(), position));
                    }
                    break;
                }
                State::New => {
                    state[node] = State::OnPath;
                    path.push(node);
                    current = step[node].map(|(next, _)| next);
                }
            }
        }
        for node in path {
            state[node] = State::Done;
        }
    }
    found
}

/// `cycle: A.b → B.a → A`, starting from the node at `position`, shortened when long.
fn describe(
    defs: &[(TypeRef, &TypeDef)],
    step: &[Option<(usize, &str)>],
    cycle: &[usize],
    position: usize,
) -> String {
    let steps: Vec<String> = cycle
        .iter()
        .cycle()
        .skip(position)
        .take(cycle.len().min(MAX_CYCLE_STEPS))
        .map(|&node| {
            let field = step[node].map_or("", |(_, field)| field);
            format!("{}.{field}", defs[node].0.name)
        })
        .collect();
    let start = &defs[cycle[position]].0.name;
    if cycle.len() > MAX_CYCLE_STEPS {
        format!(
            "cycle: {} → … ({} more) → {start}",
            steps.join(" → "),
            cycle.len() - MAX_CYCLE_STEPS
        )
    } else {
        format!("cycle: {} → {start}", steps.join(" → "))
    }
}
