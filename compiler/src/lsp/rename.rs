//! Rename, and the check that refuses (or asks to confirm) an edit that
//! breaks a locked message version.

use super::Failure;
use super::navigate::{occurrences, symbol_at};
use super::requests::locate;
use super::world::World;
use crate::source::{Overlay, Span};
use lsp_types::*;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(super) fn prepare_rename(
    world: &World,
    p: TextDocumentPositionParams,
) -> Result<Option<PrepareRenameResponse>, Failure> {
    let Some((project, id, offset)) = locate(world, &p.text_document.uri, p.position)? else {
        return Ok(None);
    };
    let Some((_, span)) = symbol_at(project, id, offset) else {
        return Err(Failure::failed(
            "only types, messages, fields and variants can be renamed",
        ));
    };
    let source = &project.source(span.file).text;
    Ok(Some(PrepareRenameResponse::RangeWithPlaceholder {
        range: project.range(span),
        placeholder: source
            .get(span.start..span.end)
            .unwrap_or_default()
            .to_string(),
    }))
}

pub(super) fn rename(world: &World, p: RenameParams) -> Result<Option<WorkspaceEdit>, Failure> {
    let at = &p.text_document_position;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let Some((symbol, _)) = symbol_at(project, id, offset) else {
        return Err(Failure::failed(
            "only types, messages, fields and variants can be renamed",
        ));
    };
    let new_name = p.new_name.trim();
    let valid = new_name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && new_name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(Failure::params(format!(
            "`{new_name}` is not a name: letters, digits and `_`, not starting with a digit"
        )));
    }
    let places = occurrences(world, &symbol);
    let mut by_file: BTreeMap<PathBuf, Vec<(Span, Range)>> = BTreeMap::new();
    for (path, span, range, _) in places {
        by_file.entry(path).or_default().push((span, range));
    }
    let broken = broken_by(world, &by_file, new_name);
    let mut edits: Vec<(Url, Option<i32>, Vec<TextEdit>)> = Vec::new();
    for (path, spans) in &by_file {
        let uri = world
            .uri(path)
            .ok_or_else(|| Failure::failed(format!("no URI for `{}`", path.display())))?;
        let version = world.open.get(path).map(|d| d.version);
        let list = spans
            .iter()
            .map(|(_, range)| TextEdit::new(*range, new_name.to_string()))
            .collect();
        edits.push((uri, version, list));
    }
    if broken.is_empty() {
        return Ok(Some(WorkspaceEdit {
            changes: Some(edits.into_iter().map(|(u, _, e)| (u, e)).collect()),
            ..WorkspaceEdit::default()
        }));
    }
    let why = format!(
        "this rename breaks the locked {}: {}; peers built from tagwire.lock would no longer understand it",
        if broken.len() == 1 {
            "version"
        } else {
            "versions"
        },
        broken.join(", ")
    );
    if !world.confirmations {
        return Err(Failure::failed(format!(
            "{why}. Declare a new version instead (the client cannot ask for confirmation)"
        )));
    }
    let id = ChangeAnnotationIdentifier::from("breaks-lock");
    let documents = edits
        .into_iter()
        .map(|(uri, version, list)| TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier { uri, version },
            edits: list
                .into_iter()
                .map(|text_edit| {
                    OneOf::Right(AnnotatedTextEdit {
                        text_edit,
                        annotation_id: id.clone(),
                    })
                })
                .collect(),
        })
        .collect();
    Ok(Some(WorkspaceEdit {
        document_changes: Some(DocumentChanges::Edits(documents)),
        change_annotations: Some(HashMap::from([(
            id,
            ChangeAnnotation {
                label: "Breaks locked message versions".to_string(),
                needs_confirmation: Some(true),
                description: Some(why),
            },
        )])),
        ..WorkspaceEdit::default()
    }))
}

/// The locked versions an edit would break: checked by analysing the
/// projects with the edit applied and comparing every locked version with
/// the lock (gone, or with another wire shape).
fn broken_by(
    world: &World,
    spans: &BTreeMap<PathBuf, Vec<(Span, Range)>>,
    replacement: &str,
) -> Vec<String> {
    let mut files: Overlay = (*world.files).clone();
    for (path, spans) in spans {
        let Some(mut text) = world.text(path) else {
            continue;
        };
        let mut sorted: Vec<&Span> = spans.iter().map(|(s, _)| s).collect();
        sorted.sort_by_key(|s| std::cmp::Reverse(s.start));
        for span in sorted {
            if text.get(span.start..span.end).is_some() {
                text.replace_range(span.start..span.end, replacement);
            }
        }
        files.insert(path.clone(), text);
    }
    broken_with(world, Arc::new(files), spans.keys().map(PathBuf::as_path))
}

pub(super) fn broken_with<'p>(
    world: &World,
    files: Arc<Overlay>,
    changed: impl Iterator<Item = &'p Path>,
) -> Vec<String> {
    let changed: Vec<&Path> = changed.collect();
    let mut broken = Vec::new();
    for (folder, project) in &world.projects {
        if !changed.iter().any(|p| project.file(p).is_some()) {
            continue;
        }
        let Some(lock) = &project.lock else {
            continue;
        };
        let Some(after) = world.analyse(folder, &files) else {
            continue;
        };
        let Some(schema) = after.analysis.schema() else {
            continue;
        };
        for entry in lock.entries.iter().filter(|e| !e.removed) {
            let now = schema.package(&entry.package).and_then(|p| {
                p.messages
                    .iter()
                    .find(|m| m.name == entry.message && m.version == entry.version)
            });
            if now.is_none_or(|m| m.fingerprint != entry.fingerprint) {
                broken.push(format!(
                    "`{} v{}` (header `{}`)",
                    entry.message, entry.version, entry.header
                ));
            }
        }
    }
    broken
}
