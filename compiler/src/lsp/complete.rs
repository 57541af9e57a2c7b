//! Completion: constraints and annotations after `@`, types where a type
//! goes, keywords and field names elsewhere.

use super::Failure;
use super::index::Kind;
use super::requests::path_of;
use super::world::{World, offset};
use crate::ir::Type;
use crate::source::{FileId, SourceFile};
use lsp_types::*;
use std::collections::BTreeSet;
use std::path::Path;

pub(super) fn completion(
    world: &World,
    p: CompletionParams,
) -> Result<Option<CompletionResponse>, Failure> {
    let at = &p.text_document_position;
    let path = path_of(&at.text_document.uri)?;
    let Some(text) = world.text(&path) else {
        return Ok(None);
    };
    let file = SourceFile::new(&path, text);
    let Some(cursor) = offset(&file, at.position) else {
        return Ok(None);
    };
    let before = &file.text[..cursor];
    let word_start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let previous = before[..word_start].trim_end().chars().last();
    let mut items = Vec::new();
    let item = |label: &str, kind: CompletionItemKind, detail: &str| CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail: Some(detail.to_string()),
        ..CompletionItem::default()
    };
    if before[..word_start].ends_with('@') {
        for name in crate::check::constraints::NAMES {
            items.push(item(name, CompletionItemKind::FUNCTION, "constraint"));
        }
        for annotation in crate::syntax::keywords().filter_map(|k| k.strip_prefix('@')) {
            items.push(item(annotation, CompletionItemKind::KEYWORD, "annotation"));
        }
        return Ok(Some(CompletionResponse::Array(items)));
    }
    // After `,` a type follows only inside `map<…`; elsewhere a field name does.
    let type_position = match previous {
        Some(':' | '[' | '<') => true,
        Some(',') => inside_map(&before[..word_start]),
        _ => false,
    };
    for name in Type::primitive_names() {
        items.push(item(
            name,
            CompletionItemKind::TYPE_PARAMETER,
            "primitive type",
        ));
    }
    let mut seen = BTreeSet::new();
    for (name, kind, package) in visible_types(world, &path) {
        if seen.insert(name.clone()) {
            items.push(item(&name, kind, &format!("type in package `{package}`")));
        }
    }
    for keyword in crate::syntax::keywords().filter(|k| !k.starts_with('@')) {
        if !type_position || keyword == "map" {
            items.push(item(keyword, CompletionItemKind::KEYWORD, "keyword"));
        }
    }
    Ok(Some(CompletionResponse::Array(items)))
}

/// Whether the text ends inside `map<…`, where a comma separates two types.
fn inside_map(before: &str) -> bool {
    let open = before.rfind("map<");
    let close = before.rfind('>');
    match (open, close) {
        (Some(o), Some(c)) => o > c,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The types a file can name: its own and its imports' when it parsed, else
/// every type its project knows (the file is being typed).
fn visible_types(world: &World, path: &Path) -> Vec<(String, CompletionItemKind, String)> {
    let Some(project) = world
        .project_of(path)
        .or_else(|| path.parent().and_then(|f| world.projects.get(f)))
    else {
        return Vec::new();
    };
    let loaded = &project.analysis.loaded;
    let files: Option<Vec<FileId>> = project.file(path).and_then(|id| {
        loaded.files.iter().any(|f| f.id == id).then(|| {
            std::iter::once(id)
                .chain(
                    loaded
                        .imports
                        .get(&id)
                        .into_iter()
                        .flatten()
                        .map(|(f, _)| *f),
                )
                .collect()
        })
    });
    project
        .index()
        .decls
        .iter()
        .filter(|d| d.kind != Kind::Message)
        .filter(|d| files.as_ref().is_none_or(|f| f.contains(&d.file)))
        .map(|d| {
            let kind = match d.kind {
                Kind::Struct => CompletionItemKind::STRUCT,
                _ => CompletionItemKind::ENUM,
            };
            (d.name.clone(), kind, d.package.clone())
        })
        .collect()
}
