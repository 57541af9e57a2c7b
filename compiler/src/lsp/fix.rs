//! Code actions: the quick fix that turns a breaking edit into a new
//! message version.

use super::Failure;
use super::diagnostics::breaking_of;
use super::rename::broken_with;
use super::requests::path_of;
use super::world::{Project, World, span_range};
use crate::diagnostic::DiagnosticCode;
use crate::ir::Direction;
use crate::source::SourceFile;
use lsp_types::*;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

pub(super) fn code_actions(
    world: &World,
    p: CodeActionParams,
) -> Result<Option<CodeActionResponse>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let Some(project) = world.project_of(&path) else {
        return Ok(None);
    };
    let Some(id) = project.file(&path) else {
        return Ok(None);
    };
    let Some(text) = world.text(&path) else {
        return Ok(None);
    };
    let mut actions = Vec::new();
    for d in &project.analysis.output.diagnostics {
        if d.code != DiagnosticCode::BreakingChange {
            continue;
        }
        let Some(found) = breaking_of(project, d) else {
            continue;
        };
        let decl = &project.index().decls[found.decl];
        if decl.file != id {
            continue;
        }
        let range = project.range(decl.item_span);
        if range.end < p.range.start || range.start > p.range.end {
            continue;
        }
        if let Some(action) = new_version(world, project, &path, &text, &found) {
            actions.push(CodeActionOrCommand::CodeAction(action));
        }
    }
    Ok(Some(actions))
}

/// The quick fix for a breaking edit: the edited message becomes the next
/// version, and the locked version is written back as the lock recorded it,
/// so the lock stays valid. Offered only when the result checks clean
/// against the lock.
fn new_version(
    world: &World,
    project: &Project,
    path: &Path,
    text: &str,
    found: &super::diagnostics::Breaking<'_>,
) -> Option<CodeAction> {
    let entry = found.entry;
    let message = found.message;
    // The shape records the message's fields; the types they use are only
    // restorable when they did not change too.
    let defs = |shape: &str| shape.split_once("; ").map(|(_, d)| d.to_string());
    if defs(&entry.shape) != defs(&message.shape) {
        return None;
    }
    let decl = &project.index().decls[found.decl];
    let item = project
        .analysis
        .loaded
        .files
        .iter()
        .flat_map(|f| &f.items)
        .find(|i| i.span == decl.item_span)?;
    let crate::ast::ItemKind::Message(ast) = &item.kind else {
        return None;
    };
    let fields: Vec<String> = crate::lock::shape_fields(&entry.shape)
        .iter()
        .map(|f| unqualify(f))
        .collect();
    let keyword = if entry.presence {
        "presence"
    } else {
        "message"
    };
    let mut restored = format!("{keyword} {}", entry.message);
    if entry.version > 1 {
        restored.push_str(&format!(" v{}", entry.version));
    }
    match entry.direction {
        Direction::Server => restored.push_str(" from server"),
        Direction::Client => restored.push_str(" from client"),
        Direction::Both => {}
    }
    for rate in &ast.rate {
        restored.push(' ');
        restored.push_str(text.get(rate.span.start..rate.span.end)?);
    }
    if fields.is_empty() {
        restored.push_str(" {}\n\n");
    } else {
        restored.push_str(&format!(" {{ {} }}\n\n", fields.join(", ")));
    }
    let schema = project.analysis.schema()?;
    let highest = schema
        .package(&decl.package)
        .into_iter()
        .flat_map(|p| &p.messages)
        .filter(|m| m.name == message.name)
        .map(|m| m.version)
        .chain(
            project
                .lock
                .iter()
                .flat_map(|l| &l.entries)
                .filter(|e| e.package == decl.package && e.message == message.name)
                .map(|e| e.version),
        )
        .max()
        .unwrap_or(message.version);
    let next = highest + 1;
    // Edits by byte range, applied from the end.
    let mut edits: Vec<(usize, usize, String)> = vec![(item.span.start, item.span.start, restored)];
    match &ast.version {
        Some((_, span)) => edits.push((span.start, span.end, format!("v{next}"))),
        None => edits.push((ast.name.span.end, ast.name.span.end, format!(" v{next}"))),
    }
    if let Some((_, span)) = &ast.header {
        // The pinned header stays with the locked version.
        let start = if text[..span.start].ends_with(' ') {
            span.start - 1
        } else {
            span.start
        };
        edits.push((start, span.end, String::new()));
    }
    let mut after = text.to_string();
    let mut sorted = edits.clone();
    sorted.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (start, end, new) in &sorted {
        after.get(*start..*end)?;
        after.replace_range(*start..*end, new);
    }
    let mut files = (*world.files).clone();
    files.insert(path.to_path_buf(), after);
    if !broken_with(world, Arc::new(files), std::iter::once(path)).is_empty() {
        return None;
    }
    let file = SourceFile::new(path, text.to_string());
    let uri = world.uri(path)?;
    let text_edits = edits
        .into_iter()
        .map(|(start, end, new)| TextEdit::new(span_range(&file, start, end), new))
        .collect();
    Some(CodeAction {
        title: format!(
            "Make this `{} v{next}` and keep `{} v{}` as locked",
            message.name, message.name, entry.version
        ),
        kind: Some(CodeActionKind::QUICKFIX),
        edit: Some(WorkspaceEdit {
            changes: Some(HashMap::from([(uri, text_edits)])),
            ..WorkspaceEdit::default()
        }),
        is_preferred: Some(true),
        ..CodeAction::default()
    })
}

/// A shape's field as a schema writes it: `chat.Author` is `Author` there
/// (imports bring names in unqualified). Strings are left as they are.
fn unqualify(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut chars = field.char_indices().peekable();
    let bytes = field.as_bytes();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            out.push(c);
            let mut escaped = false;
            for (_, c) in chars.by_ref() {
                out.push(c);
                if c == '"' && !escaped {
                    break;
                }
                escaped = c == '\\' && !escaped;
            }
            continue;
        }
        if c.is_ascii_lowercase() && (i == 0 || !is_word(bytes[i - 1])) {
            let end = field[i..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(field.len(), |n| i + n);
            let qualified = field[end..].starts_with('.')
                && field[end + 1..].starts_with(|c: char| c.is_ascii_uppercase());
            if qualified {
                while chars.peek().is_some_and(|(j, _)| *j <= end) {
                    chars.next();
                }
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::unqualify;

    #[test]
    fn unqualify_drops_package_names_only() {
        assert_eq!(unqualify("author: chat.Author"), "author: Author");
        assert_eq!(
            unqualify("at: map<string, common.Point?>"),
            "at: map<string, Point?>"
        );
        assert_eq!(
            unqualify("x: f64 @range(0.5..=1.5)"),
            "x: f64 @range(0.5..=1.5)"
        );
        assert_eq!(
            unqualify(r#"s: string @pattern("a.B\"c.D")"#),
            r#"s: string @pattern("a.B\"c.D")"#
        );
    }
}
