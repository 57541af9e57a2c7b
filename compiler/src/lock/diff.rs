//! Words for what changed: between two shapes of a message, and between two locks.

use super::file::LockFile;

/// One line saying how a message's shape changed, from the top-level fields
/// down to the first type it uses that differs.
pub(super) fn summary(old: &str, new: &str) -> String {
    let (old_fields, old_defs) = split(old);
    let (new_fields, new_defs) = split(new);
    if old_fields != new_fields {
        let names = |fields: &[String]| -> Vec<String> {
            fields
                .iter()
                .map(|f| f.split(':').next().unwrap_or("").trim().to_string())
                .collect()
        };
        let (old_names, new_names) = (names(&old_fields), names(&new_fields));
        let added: Vec<&String> = new_names
            .iter()
            .filter(|n| !old_names.contains(n))
            .collect();
        let removed: Vec<&String> = old_names
            .iter()
            .filter(|n| !new_names.contains(n))
            .collect();
        let mut parts = Vec::new();
        if !added.is_empty() {
            parts.push(format!("added {}", list(&added)));
        }
        if !removed.is_empty() {
            parts.push(format!("removed {}", list(&removed)));
        }
        for field in &new_fields {
            let name = field.split(':').next().unwrap_or("").trim();
            if let Some(before) = old_fields
                .iter()
                .find(|f| f.split(':').next().unwrap_or("").trim() == name)
                && before != field
            {
                let ty = |f: &str| {
                    f.split_once(':')
                        .map_or(String::new(), |(_, t)| t.trim().to_string())
                };
                parts.push(format!(
                    "`{name}` changed from `{}` to `{}`",
                    ty(before),
                    ty(field)
                ));
            }
        }
        if parts.is_empty() {
            parts.push("fields reordered".to_string());
        }
        return parts.join("; ");
    }
    for def in &new_defs {
        let name = def.split(" = ").next().unwrap_or("");
        match old_defs
            .iter()
            .find(|d| d.split(" = ").next() == Some(name))
        {
            Some(before) if before != def => return format!("the type `{name}` it uses changed"),
            None => return format!("now uses the type `{name}`"),
            _ => {}
        }
    }
    "the wire shape changed".to_string()
}

#[cfg(feature = "lsp")]
/// The top-level fields of `new` that are not in `old` as they are there
/// (added or changed), by name: where an editor points at a breaking change.
pub(crate) fn changed_fields(old: &str, new: &str) -> Vec<String> {
    let (old_fields, _) = split(old);
    let (new_fields, _) = split(new);
    new_fields
        .iter()
        .filter(|f| !old_fields.contains(f))
        .map(|f| field_name(f).to_string())
        .collect()
}

#[cfg(feature = "lsp")]
/// The top-level fields of a shape as written there: `name: type @constraint`.
pub(crate) fn fields(shape: &str) -> Vec<String> {
    split(shape).0
}

#[cfg(feature = "lsp")]
fn field_name(field: &str) -> &str {
    field.split(':').next().unwrap_or("").trim()
}

fn list(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The top-level fields and the named-type definitions of a shape string.
fn split(shape: &str) -> (Vec<String>, Vec<String>) {
    let mut parts = shape.split("; ");
    let head = parts.next().unwrap_or("");
    let inner = head
        .strip_prefix('{')
        .and_then(|h| h.strip_suffix('}'))
        .unwrap_or(head);
    let mut fields = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in inner.chars() {
        match c {
            '{' | '[' | '<' => depth += 1,
            '}' | ']' | '>' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.trim().is_empty() {
        fields.push(current.trim().to_string());
    }
    (fields, parts.map(str::to_string).collect())
}

/// Lines describing how `new` differs from `old`, one per message version.
pub(super) fn entries(old: &LockFile, new: &LockFile) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in &new.entries {
        let label = format!("{}.{} v{}", entry.package, entry.message, entry.version);
        let before = old.entries.iter().find(|e| {
            e.package == entry.package && e.message == entry.message && e.version == entry.version
        });
        match before {
            None => lines.push(format!("would add `{label}` on header `{}`", entry.header)),
            Some(b) if !b.removed && entry.removed => {
                lines.push(format!("would mark `{label}` as removed"))
            }
            Some(b) if b.removed && !entry.removed => {
                lines.push(format!("would restore `{label}`"))
            }
            Some(b) if b != entry => lines.push(format!("would update `{label}`")),
            Some(_) => {}
        }
    }
    lines
}
