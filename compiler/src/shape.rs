//! Wire shapes: what a message version looks like on the wire, as text a
//! person can read (stored in the lock, shown in diagnostics) and as a
//! fingerprint that ignores type names, so renaming a struct is not a change.

use crate::ir::{Checks, Field, MessageVersion, Schema, Type, TypeDef, TypeDefKind, TypeRef};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;

#[derive(Debug)]
pub struct Shapes<'a> {
    defs: HashMap<TypeRef, &'a TypeDef>,
}

impl<'a> Shapes<'a> {
    pub fn new(schema: &'a Schema) -> Self {
        let defs = schema
            .packages
            .iter()
            .flat_map(|p| {
                p.types.iter().map(|t| {
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
        Shapes { defs }
    }

    /// (readable shape, fingerprint) of one message version.
    pub fn message(&self, message: &MessageVersion) -> (String, String) {
        let mut walk = Walk {
            display: String::new(),
            canonical: String::new(),
            order: Vec::new(),
        };
        walk.fields(&message.fields);
        // Named types follow the fields, each once, in order of first use; the
        // list grows while it is walked because definitions refer to more types.
        let mut next = 0;
        while next < walk.order.len() {
            let reference = walk.order[next].clone();
            if let Some(def) = self.defs.get(&reference) {
                walk.both(
                    &format!("; {} = ", display_name(&reference)),
                    &format!(";#{next}="),
                );
                walk.definition(def);
            }
            next += 1;
        }
        let fingerprint = fingerprint(walk.canonical.as_bytes());
        (walk.display, fingerprint)
    }
}

/// First 16 hex digits of SHA-256: 64 bits is plenty to tell shapes apart
/// and short enough to read in a lock file.
pub fn fingerprint(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(16);
    for byte in digest.iter().take(8) {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn display_name(reference: &TypeRef) -> String {
    format!("{}.{}", reference.package, reference.name)
}

struct Walk {
    display: String,
    canonical: String,
    order: Vec<TypeRef>,
}

impl Walk {
    fn both(&mut self, display: &str, canonical: &str) {
        self.display.push_str(display);
        self.canonical.push_str(canonical);
    }

    fn fields(&mut self, fields: &[Field]) {
        self.both("{", "{");
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.both(", ", ",");
            }
            self.both(&field.name, &field.name);
            self.both(": ", ":");
            self.ty(&field.ty, Some(&field.checks), true);
        }
        self.both("}", "}");
    }

    /// Constraints follow their type (` @len(1..=64)`); an optional's, which
    /// are its inner value's, follow the `?`.
    fn ty(&mut self, ty: &Type, checks: Option<&Checks>, own: bool) {
        fn sub(c: Option<&Checks>, pick: fn(&Checks) -> &Option<Box<Checks>>) -> Option<&Checks> {
            c.and_then(|c| pick(c).as_deref())
        }
        match ty {
            Type::List(inner) => {
                self.both("[", "[");
                self.ty(inner, sub(checks, |c| &c.element), true);
                self.both("]", "]");
            }
            Type::Map(key, value) => {
                self.both("map<", "map<");
                self.ty(key, sub(checks, |c| &c.key), true);
                self.both(", ", ",");
                self.ty(value, sub(checks, |c| &c.value), true);
                self.both(">", ">");
            }
            Type::Optional(inner) => {
                self.ty(inner, checks, false);
                self.both("?", "?");
            }
            Type::Named(reference) => {
                let index = match self.order.iter().position(|r| r == reference) {
                    Some(i) => i,
                    None => {
                        self.order.push(reference.clone());
                        self.order.len() - 1
                    }
                };
                let name = display_name(reference);
                self.both(&name, &format!("#{index}"));
            }
            primitive => {
                let name = primitive.primitive_name().unwrap_or_default();
                self.both(name, name);
            }
        }
        if own && let Some(checks) = checks {
            for constraint in &checks.own {
                let text = constraint.to_string();
                self.both(" ", "");
                self.both(&text, &text);
            }
        }
    }

    fn definition(&mut self, def: &TypeDef) {
        match &def.kind {
            TypeDefKind::Struct(fields) => {
                self.both("struct ", "struct");
                self.fields(fields);
            }
            TypeDefKind::Enum(variants) => {
                self.both("enum {", "enum{");
                for (i, v) in variants.iter().enumerate() {
                    if i > 0 {
                        self.both(", ", ",");
                    }
                    let text = format!("{} = {}", v.name, v.value);
                    let canonical = format!("{}={}", v.name, v.value);
                    self.both(&text, &canonical);
                }
                self.both("}", "}");
            }
            TypeDefKind::Union(variants) => {
                self.both("union {", "union{");
                for (i, v) in variants.iter().enumerate() {
                    if i > 0 {
                        self.both(", ", ",");
                    }
                    self.both(&v.name, &v.name);
                    if !v.fields.is_empty() {
                        self.both(" ", "");
                        self.fields(&v.fields);
                    }
                }
                self.both("}", "}");
            }
        }
    }
}
