//! The front end's diagnostics as the editor shows them, with what the lock
//! says about each message version: a breaking edit on the field that
//! changed, a new version as what `tagwire lock` would write.

use super::index::Kind;
use super::world::{Project, World, span_range};
use crate::diagnostic::{Diagnostic, DiagnosticCode, Severity};
use crate::ir::MessageVersion;
use crate::source::Span;
use lsp_types::{
    DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Range,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

pub(crate) const SOURCE: &str = "tagwire";

/// The diagnostics of every file some project read, by path, without the
/// duplicates of a file read by two projects.
pub(crate) fn collect(world: &World) -> BTreeMap<PathBuf, Vec<lsp_types::Diagnostic>> {
    let mut out: BTreeMap<PathBuf, Vec<lsp_types::Diagnostic>> = BTreeMap::new();
    for project in world.projects.values() {
        for (_, file) in project.analysis.output.sources.files() {
            out.entry(file.path.clone()).or_default();
        }
        for (path, diagnostic) in project_diagnostics(world, project) {
            let list = out.entry(path).or_default();
            if !list.contains(&diagnostic) {
                list.push(diagnostic);
            }
        }
    }
    out
}

fn project_diagnostics(world: &World, project: &Project) -> Vec<(PathBuf, lsp_types::Diagnostic)> {
    let mut out = Vec::new();
    for d in &project.analysis.output.diagnostics {
        if d.code == DiagnosticCode::BreakingChange
            && let Some(moved) = breaking(world, project, d)
        {
            out.extend(moved);
            continue;
        }
        match d.span {
            Some(span) => {
                let path = project.path(span.file).to_path_buf();
                out.push((path, convert(world, project, d, project.range(span))));
            }
            // Problems of no file (a root that cannot be read, a removed
            // version) show at the top of the folder's open schemas.
            None => {
                for path in world
                    .open
                    .keys()
                    .filter(|p| p.parent() == Some(&project.folder))
                {
                    out.push((path.clone(), convert(world, project, d, Range::default())));
                }
            }
        }
    }
    out.extend(unlocked(project));
    out
}

/// One front-end diagnostic in the protocol's terms: the code, the notes and
/// help after the message, the labels as related information.
pub(crate) fn convert(
    world: &World,
    project: &Project,
    d: &Diagnostic,
    range: Range,
) -> lsp_types::Diagnostic {
    let mut message = d.message.clone();
    for note in &d.notes {
        message.push_str("\nnote: ");
        message.push_str(note);
    }
    if let Some(help) = &d.help {
        message.push_str("\nhelp: ");
        message.push_str(help);
    }
    let mut related = Vec::new();
    let mut location = |span: crate::source::Span, text: &str| {
        if let Some(uri) = world.uri(project.path(span.file)) {
            related.push(DiagnosticRelatedInformation {
                location: Location::new(uri, project.range(span)),
                message: text.to_string(),
            });
        }
    };
    if let Some(span) = d.span
        && !d.label.is_empty()
    {
        location(span, &d.label);
    }
    for label in &d.secondary {
        location(label.span, &label.message);
    }
    lsp_types::Diagnostic {
        range,
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.as_str().to_string())),
        source: Some(SOURCE.to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..lsp_types::Diagnostic::default()
    }
}

/// The message version a breaking-change diagnostic is about, and where its
/// changed fields are written.
pub(crate) struct Breaking<'a> {
    pub decl: usize,
    pub message: &'a MessageVersion,
    pub entry: &'a crate::lock::Entry,
    /// The name spans of the fields that differ from the locked shape.
    pub fields: Vec<crate::source::Span>,
}

pub(crate) fn breaking_of<'a>(project: &'a Project, d: &Diagnostic) -> Option<Breaking<'a>> {
    let span = d.span?;
    let decl = project
        .index()
        .decls
        .iter()
        .position(|x| x.kind == Kind::Message && x.item_span == span)?;
    let message = project.index().message_version(&project.analysis, decl)?;
    let package = &project.index().decls[decl].package;
    let entry = project.locked(package, &message.name, message.version)?;
    let changed: BTreeSet<String> = crate::lock::changed_fields(&entry.shape, &message.shape)
        .into_iter()
        .collect();
    let fields = project
        .index()
        .members
        .iter()
        .filter(|m| m.owner == decl && !m.is_variant && changed.contains(&m.name))
        // From the name to the end of the type: the member's own span runs
        // on over the blanks before whatever follows it.
        .map(|m| {
            m.ty.map_or(m.span, |ty| {
                crate::source::Span::new(m.span.file, m.span.start, ty.end)
            })
        })
        .collect();
    Some(Breaking {
        decl,
        message,
        entry,
        fields,
    })
}

/// A breaking change shown on each field that changed (on the message's
/// name when no field did: a field removed, a type it uses changed), with
/// the locked version as related information.
fn breaking(
    world: &World,
    project: &Project,
    d: &Diagnostic,
) -> Option<Vec<(PathBuf, lsp_types::Diagnostic)>> {
    let found = breaking_of(project, d)?;
    let decl = &project.index().decls[found.decl];
    let path = project.path(decl.file).to_path_buf();
    let spans = if found.fields.is_empty() {
        vec![decl.name_span]
    } else {
        found.fields.clone()
    };
    let uri = world.uri(&path)?;
    Some(
        spans
            .into_iter()
            .map(|span| {
                let mut converted = convert(world, project, d, project.range(span));
                converted
                    .related_information
                    .get_or_insert_with(Vec::new)
                    .push(DiagnosticRelatedInformation {
                        location: Location::new(uri.clone(), project.range(decl.name_span)),
                        message: format!(
                            "`{} v{}` is locked on header `{}` with the shape {}",
                            found.message.name,
                            found.message.version,
                            found.entry.header,
                            found.entry.shape
                        ),
                    });
                (path.clone(), converted)
            })
            .collect(),
    )
}

/// Message versions the lock does not have yet: what `tagwire lock` would add.
/// Read from the syntax trees and the schema, not the index, which is built
/// only for the requests that need it.
fn unlocked(project: &Project) -> Vec<(PathBuf, lsp_types::Diagnostic)> {
    let mut out = Vec::new();
    let Some(schema) = project.analysis.schema() else {
        return out;
    };
    let versions: HashMap<Span, (&str, &MessageVersion)> = schema
        .packages
        .iter()
        .flat_map(|p| p.messages.iter().map(|m| (m.span, (p.name.as_str(), m))))
        .collect();
    for file in &project.analysis.loaded.files {
        let path: &Path = project.path(file.id);
        if path.parent() != Some(project.folder.as_path()) {
            continue;
        }
        for item in &file.items {
            let Some(&(package, message)) = versions.get(&item.span) else {
                continue;
            };
            let Some(header) = message.header else {
                continue;
            };
            if project
                .locked(package, &message.name, message.version)
                .is_some()
            {
                continue;
            }
            let name = item.name().span;
            out.push((
                path.to_path_buf(),
                lsp_types::Diagnostic {
                    range: span_range(project.source(file.id), name.start, name.end),
                    severity: Some(DiagnosticSeverity::INFORMATION),
                    code: Some(NumberOrString::String("not-locked".to_string())),
                    source: Some(SOURCE.to_string()),
                    message: format!(
                        "`{} v{}` is not locked yet: `tagwire lock` would add it to {} on header `{header}`",
                        message.name,
                        message.version,
                        crate::lock::FILE_NAME
                    ),
                    ..lsp_types::Diagnostic::default()
                },
            ));
        }
    }
    out
}
