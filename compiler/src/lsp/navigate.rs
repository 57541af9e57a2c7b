//! Going from a name to where it is written: definition, references and
//! the symbols of a document or of the workspace.

use super::Failure;
use super::index::{Hit, Kind};
use super::requests::{locate, location, path_of};
use super::world::{Project, World};
use crate::source::{FileId, Span};
use lsp_types::*;
use std::collections::BTreeSet;
use std::path::PathBuf;

pub(super) fn definition(
    world: &World,
    p: GotoDefinitionParams,
) -> Result<Option<GotoDefinitionResponse>, Failure> {
    let at = &p.text_document_position_params;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let index = project.index();
    let span = match index.at(id, offset) {
        Some(Hit::Use(u)) => match u.target {
            Some(t) => index.decls[t].name_span,
            None => return Ok(None),
        },
        Some(Hit::Decl(d)) => index.decls[d].name_span,
        Some(Hit::Member(m, _)) => index.members[m].span,
        None => return Ok(None),
    };
    Ok(location(world, project, span).map(GotoDefinitionResponse::Scalar))
}

/// What a rename or a search for references is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Symbol {
    /// A type, or every version of a message: by package and name.
    Named { package: String, name: String },
    /// A field or variant: by where its owner is declared, and its name.
    Member {
        owner: (PathBuf, usize),
        name: String,
    },
}

pub(super) fn symbol_at(project: &Project, id: FileId, offset: usize) -> Option<(Symbol, Span)> {
    let index = project.index();
    match index.at(id, offset)? {
        Hit::Use(u) => {
            let d = &index.decls[u.target?];
            Some((
                Symbol::Named {
                    package: d.package.clone(),
                    name: d.name.clone(),
                },
                u.span,
            ))
        }
        Hit::Decl(d) => {
            let d = &index.decls[d];
            Some((
                Symbol::Named {
                    package: d.package.clone(),
                    name: d.name.clone(),
                },
                d.name_span,
            ))
        }
        Hit::Member(m, span) => {
            let m = &index.members[m];
            let owner = &index.decls[m.owner];
            Some((
                Symbol::Member {
                    owner: (
                        project.path(owner.file).to_path_buf(),
                        owner.name_span.start,
                    ),
                    name: m.name.clone(),
                },
                span,
            ))
        }
    }
}

/// Every place a symbol is written, over every project, each once: the
/// declarations first, then the uses.
pub(super) fn occurrences(world: &World, symbol: &Symbol) -> Vec<(PathBuf, Span, Range, bool)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for project in world.projects.values() {
        let index = project.index();
        let mut add = |span: Span, declaration: bool| {
            let path = project.path(span.file).to_path_buf();
            if seen.insert((path.clone(), span.start, span.end)) {
                out.push((path, span, project.range(span), declaration));
            }
        };
        match symbol {
            Symbol::Named { package, name } => {
                let matches = |d: usize| {
                    let d = &index.decls[d];
                    d.package == *package && d.name == *name
                };
                for (i, d) in index.decls.iter().enumerate() {
                    if matches(i) {
                        add(d.name_span, true);
                    }
                }
                for u in &index.uses {
                    if u.target.is_some_and(matches) {
                        add(u.span, false);
                    }
                }
            }
            Symbol::Member { owner, name } => {
                let matches = |m: &super::index::Member| {
                    let o = &index.decls[m.owner];
                    m.name == *name
                        && (project.path(o.file), o.name_span.start) == (owner.0.as_path(), owner.1)
                };
                for m in &index.members {
                    if matches(m) {
                        add(m.span, true);
                    }
                }
                // A variant is also written in the defaults that name it.
                for u in &index.variant_uses {
                    if matches(&index.members[u.member]) {
                        add(u.span, false);
                    }
                }
            }
        }
    }
    out
}

pub(super) fn references(
    world: &World,
    p: ReferenceParams,
) -> Result<Option<Vec<Location>>, Failure> {
    let at = &p.text_document_position;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let Some((symbol, _)) = symbol_at(project, id, offset) else {
        return Ok(None);
    };
    let locations = occurrences(world, &symbol)
        .into_iter()
        .filter(|(_, _, _, declaration)| p.context.include_declaration || !declaration)
        .filter_map(|(path, _, range, _)| Some(Location::new(world.uri(&path)?, range)))
        .collect();
    Ok(Some(locations))
}

fn symbol_kind(kind: Kind) -> SymbolKind {
    match kind {
        Kind::Struct => SymbolKind::STRUCT,
        Kind::Enum => SymbolKind::ENUM,
        Kind::Union => SymbolKind::ENUM,
        Kind::Message => SymbolKind::CLASS,
    }
}

fn decl_label(project: &Project, decl: usize) -> String {
    let d = &project.index().decls[decl];
    match d.version {
        Some(v) => {
            let source = &project.source(v.file).text;
            format!(
                "{} {}",
                d.name,
                source.get(v.start..v.end).unwrap_or_default()
            )
        }
        None if d.kind == Kind::Message => format!("{} v1", d.name),
        None => d.name.clone(),
    }
}

#[allow(deprecated)]
pub(super) fn document_symbols(
    world: &World,
    p: DocumentSymbolParams,
) -> Result<Option<DocumentSymbolResponse>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let Some(project) = world.project_of(&path) else {
        return Ok(None);
    };
    let Some(id) = project.file(&path) else {
        return Ok(None);
    };
    let index = project.index();
    let symbols = index
        .decls
        .iter()
        .enumerate()
        .filter(|(_, d)| d.file == id)
        .map(|(i, d)| {
            let children = index
                .members
                .iter()
                .filter(|m| m.owner == i)
                .map(|m| DocumentSymbol {
                    name: m.name.clone(),
                    detail: None,
                    kind: if m.is_variant {
                        SymbolKind::ENUM_MEMBER
                    } else {
                        SymbolKind::FIELD
                    },
                    tags: None,
                    deprecated: None,
                    range: project.range(m.member_span),
                    selection_range: project.range(m.span),
                    children: None,
                })
                .collect();
            DocumentSymbol {
                name: decl_label(project, i),
                detail: Some(d.keyword.to_string()),
                kind: symbol_kind(d.kind),
                tags: None,
                deprecated: None,
                range: project.range(d.item_span),
                selection_range: project.range(d.name_span),
                children: Some(children),
            }
        })
        .collect();
    Ok(Some(DocumentSymbolResponse::Nested(symbols)))
}

#[allow(deprecated)]
pub(super) fn workspace_symbols(
    world: &World,
    p: WorkspaceSymbolParams,
) -> Result<Option<Vec<SymbolInformation>>, Failure> {
    let query = p.query.to_lowercase();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for project in world.projects.values() {
        for (i, d) in project.index().decls.iter().enumerate() {
            if !d.name.to_lowercase().contains(&query) {
                continue;
            }
            let path = project.path(d.file).to_path_buf();
            if !seen.insert((path.clone(), d.name_span.start)) {
                continue;
            }
            let Some(uri) = world.uri(&path) else {
                continue;
            };
            out.push(SymbolInformation {
                name: decl_label(project, i),
                kind: symbol_kind(d.kind),
                tags: None,
                deprecated: None,
                location: Location::new(uri, project.range(d.name_span)),
                container_name: Some(d.package.clone()),
            });
        }
    }
    Ok(Some(out))
}
