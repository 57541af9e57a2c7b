//! Plain-text and JSON views of a checked schema: the header table users read,
//! and an IR listing used by snapshot tests and `tagwire headers`.

use crate::check::pascal_case;
use crate::ir::{Field, Package, Schema, Type, TypeDefKind};
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Debug, Serialize)]
pub struct HeaderRow {
    pub header: String,
    pub package: String,
    pub message: String,
    pub version: u32,
    pub direction: &'static str,
}

/// One row per message version, in header order within each package.
pub fn header_rows(schema: &Schema) -> Vec<HeaderRow> {
    let mut rows = Vec::new();
    for package in &schema.packages {
        let mut messages: Vec<_> = package.messages.iter().collect();
        messages.sort_by_key(|m| m.header.map(|h| h.index()));
        for m in messages {
            rows.push(HeaderRow {
                header: m.header.map_or_else(|| "??".into(), |h| h.to_string()),
                package: package.name.clone(),
                message: m.name.clone(),
                version: m.version,
                direction: m.direction.as_str(),
            });
        }
    }
    rows
}

pub fn header_table(schema: &Schema) -> String {
    let rows = header_rows(schema);
    let width = rows
        .iter()
        .map(|r| r.package.len() + 1 + r.message.len())
        .chain(std::iter::once("MESSAGE".len()))
        .max()
        .unwrap_or(7);
    let mut out = format!(
        "{:<6}  {:<width$}  {:<7}  DIRECTION\n",
        "HEADER", "MESSAGE", "VERSION"
    );
    for r in rows {
        let name = format!("{}.{}", r.package, r.message);
        let _ = writeln!(
            out,
            "{:<6}  {name:<width$}  {:<7}  {}",
            r.header,
            format!("v{}", r.version),
            r.direction
        );
    }
    out
}

/// A readable listing of the whole checked schema.
pub fn dump(schema: &Schema) -> String {
    let mut out = String::new();
    for package in &schema.packages {
        dump_package(&mut out, package);
    }
    out
}

fn dump_package(out: &mut String, package: &Package) {
    let _ = writeln!(
        out,
        "package {} (fingerprint {})",
        package.name, package.fingerprint
    );
    docs(out, "  ", &package.docs);
    if !package.dependencies.is_empty() {
        let _ = writeln!(out, "  uses {}", package.dependencies.join(", "));
    }
    for def in &package.types {
        docs(out, "  ", &def.docs);
        match &def.kind {
            TypeDefKind::Struct(fields) => {
                let _ = writeln!(out, "  struct {}", def.name);
                dump_fields(out, "    ", fields);
            }
            TypeDefKind::Enum(variants) => {
                let _ = writeln!(out, "  enum {}", def.name);
                for v in variants {
                    docs(out, "    ", &v.docs);
                    let _ = writeln!(
                        out,
                        "    {} = {} (Rust {})",
                        v.name,
                        v.value,
                        pascal_case(&v.name)
                    );
                }
            }
            TypeDefKind::Union(variants) => {
                let _ = writeln!(out, "  union {}", def.name);
                for v in variants {
                    docs(out, "    ", &v.docs);
                    let _ = writeln!(
                        out,
                        "    #{} {} (Rust {})",
                        v.index,
                        v.name,
                        pascal_case(&v.name)
                    );
                    dump_fields(out, "      ", &v.fields);
                }
            }
        }
    }
    for m in &package.messages {
        docs(out, "  ", &m.docs);
        let header = m.header.map_or_else(|| "??".into(), |h| h.to_string());
        let pinned = if m.pinned.is_some() { " (pinned)" } else { "" };
        let _ = writeln!(
            out,
            "  {} {} v{} from {} header {header}{pinned} as {}",
            if m.presence { "presence" } else { "message" },
            m.name,
            m.version,
            m.direction.as_str(),
            m.type_name()
        );
        dump_fields(out, "    ", &m.fields);
        if let Some(rate) = m.rate {
            let unit = match rate.period_secs {
                1 => "s",
                60 => "m",
                _ => "h",
            };
            let _ = writeln!(out, "    rate {}/{unit}, burst {}", rate.count, rate.burst);
        }
        let _ = writeln!(out, "    shape {} = {}", m.fingerprint, m.shape);
    }
    for r in &package.removed {
        let _ = writeln!(
            out,
            "  removed {} v{} header {}",
            r.name, r.version, r.header
        );
    }
}

fn dump_fields(out: &mut String, indent: &str, fields: &[Field]) {
    for f in fields {
        docs(out, indent, &f.docs);
        let default = f
            .default
            .as_ref()
            .map(|d| format!(" = {}", d.text(&f.ty)))
            .unwrap_or_default();
        let _ = writeln!(out, "{indent}{}: {}{default}", f.name, type_name(&f.ty));
    }
}

fn docs(out: &mut String, indent: &str, docs: &[String]) {
    for line in docs {
        let _ = writeln!(out, "{indent}/// {line}");
    }
}

/// The type as a schema author would write it (named types qualified by package).
pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::List(inner) => format!("[{}]", type_name(inner)),
        Type::Map(k, v) => format!("map<{}, {}>", type_name(k), type_name(v)),
        Type::Optional(inner) => format!("{}?", type_name(inner)),
        Type::Named(r) => format!("{}.{}", r.package, r.name),
        primitive => primitive.primitive_name().unwrap_or_default().to_string(),
    }
}
