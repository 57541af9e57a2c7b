//! The requests the server answers, each from the last analysis.

use super::Failure;
use super::diagnostics::breaking_of;
use super::index::{Hit, Kind};
use super::tokens;
use super::world::{Project, World, offset, position, span_range, uri_path};
use crate::diagnostic::DiagnosticCode;
use crate::ir::{Direction, Type};
use crate::source::{FileId, Overlay, SourceFile, Span};
use lsp_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec!["@".into(), ":".into()]),
            ..CompletionOptions::default()
        }),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: tokens::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..SemanticTokensOptions::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        inlay_hint_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// Answers one request.
pub(crate) fn handle(world: &World, method: &str, params: Value) -> Result<Value, Failure> {
    use lsp_types::request::*;
    match method {
        HoverRequest::METHOD => answer(params, |p| hover(world, p)),
        GotoDefinition::METHOD => answer(params, |p| definition(world, p)),
        References::METHOD => answer(params, |p| references(world, p)),
        DocumentSymbolRequest::METHOD => answer(params, |p| document_symbols(world, p)),
        WorkspaceSymbolRequest::METHOD => answer(params, |p| workspace_symbols(world, p)),
        Completion::METHOD => answer(params, |p| completion(world, p)),
        PrepareRenameRequest::METHOD => answer(params, |p| prepare_rename(world, p)),
        Rename::METHOD => answer(params, |p| rename(world, p)),
        Formatting::METHOD => answer(params, |p| formatting(world, p)),
        SemanticTokensFullRequest::METHOD => answer(params, |p| semantic_tokens(world, p)),
        CodeActionRequest::METHOD => answer(params, |p| code_actions(world, p)),
        InlayHintRequest::METHOD => answer(params, |p| inlay_hints(world, p)),
        "tagwire/status" => Ok(serde_json::json!({
            "parses": world.cache.parses(),
            "projects": world.projects.len(),
        })),
        _ => Err(Failure {
            code: lsp_server::ErrorCode::MethodNotFound,
            message: format!("unknown method `{method}`"),
        }),
    }
}

fn answer<P: DeserializeOwned, R: Serialize>(
    params: Value,
    f: impl FnOnce(P) -> Result<R, Failure>,
) -> Result<Value, Failure> {
    let params: P = serde_json::from_value(params)
        .map_err(|e| Failure::params(format!("invalid params: {e}")))?;
    let result = f(params)?;
    serde_json::to_value(result).map_err(|e| Failure::failed(e.to_string()))
}

/// A text-document change applied to the document's text.
pub(crate) fn apply_change(
    text: String,
    change: TextDocumentContentChangeEvent,
) -> Result<String, String> {
    let Some(range) = change.range else {
        return Ok(change.text);
    };
    let file = SourceFile::new("", text);
    let start = offset(&file, range.start);
    let end = offset(&file, range.end);
    let (Some(start), Some(end)) = (start, end) else {
        return Err(format!(
            "the change's range {range:?} is past the end of the document"
        ));
    };
    if start > end {
        return Err(format!(
            "the change's range {range:?} ends before it starts"
        ));
    }
    let mut text = file.text;
    text.replace_range(start..end, &change.text);
    Ok(text)
}

fn path_of(uri: &Url) -> Result<PathBuf, Failure> {
    uri_path(uri).ok_or_else(|| Failure::params(format!("not a file URI: {uri}")))
}

/// The project, file and byte offset a position is at; `None` for a file no
/// project read or a position past the end.
fn locate<'w>(
    world: &'w World,
    uri: &Url,
    at: Position,
) -> Result<Option<(&'w Project, FileId, usize)>, Failure> {
    let path = path_of(uri)?;
    let Some(project) = world.project_of(&path) else {
        return Ok(None);
    };
    let Some(id) = project.file(&path) else {
        return Ok(None);
    };
    Ok(offset(project.source(id), at).map(|o| (project, id, o)))
}

fn location(world: &World, project: &Project, span: Span) -> Option<Location> {
    Some(Location::new(
        world.uri(project.path(span.file))?,
        project.range(span),
    ))
}

fn hover(world: &World, p: HoverParams) -> Result<Option<Hover>, Failure> {
    let at = &p.text_document_position_params;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let index = &project.index;
    let (decl, span) = match index.at(id, offset) {
        Some(Hit::Use(u)) => match u.target {
            Some(t) => (t, u.span),
            None => return Ok(None),
        },
        Some(Hit::Decl(d)) => (d, index.decls[d].name_span),
        Some(Hit::Member(m)) => {
            let member = &index.members[m];
            let owner = &index.decls[member.owner];
            let mut text = format!("```tagwire\n{}", member.name);
            if let Some(ty) = member.ty {
                let source = &project.source(ty.file).text;
                text.push_str(": ");
                text.push_str(source.get(ty.start..ty.end).unwrap_or_default());
            }
            text.push_str(&format!(
                "\n```\nin `{} {}`",
                owner.kind.keyword(),
                owner.name
            ));
            if !member.docs.is_empty() {
                text.push_str("\n\n");
                text.push_str(&member.docs.join("\n"));
            }
            return Ok(Some(markdown(text, project.range(member.span))));
        }
        None => return Ok(None),
    };
    let d = &index.decls[decl];
    let mut text = String::from("```tagwire\n");
    match index.message_version(&project.analysis, decl) {
        Some(message) => {
            text.push_str(&format!(
                "message {}.{} v{}",
                d.package, message.name, message.version
            ));
            if message.direction != Direction::Both {
                text.push_str(&format!(" from {}", message.direction.as_str()));
            }
            text.push_str("\n```\n");
            if !d.docs.is_empty() {
                text.push_str(&d.docs.join("\n"));
                text.push_str("\n\n");
            }
            match (
                message.header,
                project.locked(&d.package, &message.name, message.version),
            ) {
                (Some(h), Some(_)) => text.push_str(&format!("header `{h}` (locked)\n\n")),
                (Some(h), None) => text.push_str(&format!(
                    "header `{h}`: not locked yet, `tagwire lock` would give it this header\n\n"
                )),
                (None, _) => text.push_str("header: not assigned (the schema has errors)\n\n"),
            }
            text.push_str(&format!("wire shape: `{}`", message.shape));
            if let Some(entry) = project.locked(&d.package, &message.name, message.version)
                && entry.fingerprint != message.fingerprint
            {
                text.push_str(&format!("\n\nlocked shape: `{}`", entry.shape));
            }
        }
        None => {
            let source = &project.source(d.item_span.file).text;
            text.push_str(
                source
                    .get(d.item_span.start..d.item_span.end)
                    .unwrap_or_default(),
            );
            text.push_str(&format!("\n```\npackage `{}`", d.package));
            if !d.docs.is_empty() {
                text.push_str("\n\n");
                text.push_str(&d.docs.join("\n"));
            }
            let users: BTreeSet<String> = world
                .projects
                .values()
                .flat_map(|p| {
                    let target = (project.path(d.file), d.name_span.start);
                    p.index
                        .uses
                        .iter()
                        .filter(move |u| {
                            u.target.is_some_and(|t| {
                                let t = &p.index.decls[t];
                                (p.path(t.file), t.name_span.start) == target
                            })
                        })
                        .map(move |u| {
                            let owner = &p.index.decls[u.owner];
                            let (line, _) = p.source(u.span.file).line_col(u.span.start);
                            let file = p
                                .source(u.span.file)
                                .path
                                .file_name()
                                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                            match owner.kind {
                                Kind::Message => {
                                    let version = p
                                        .index
                                        .message_version(&p.analysis, u.owner)
                                        .map_or(1, |m| m.version);
                                    format!("`{} v{version}` ({file}:{line})", owner.name)
                                }
                                _ => format!("`{}` ({file}:{line})", owner.name),
                            }
                        })
                })
                .collect();
            if users.is_empty() {
                text.push_str("\n\nnot used by any message or type");
            } else {
                text.push_str("\n\nused by ");
                text.push_str(&users.into_iter().collect::<Vec<_>>().join(", "));
            }
        }
    }
    Ok(Some(markdown(text, project.range(span))))
}

fn markdown(text: String, range: Range) -> Hover {
    Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(range),
    }
}

fn definition(
    world: &World,
    p: GotoDefinitionParams,
) -> Result<Option<GotoDefinitionResponse>, Failure> {
    let at = &p.text_document_position_params;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let index = &project.index;
    let span = match index.at(id, offset) {
        Some(Hit::Use(u)) => match u.target {
            Some(t) => index.decls[t].name_span,
            None => return Ok(None),
        },
        Some(Hit::Decl(d)) => index.decls[d].name_span,
        Some(Hit::Member(m)) => index.members[m].span,
        None => return Ok(None),
    };
    Ok(location(world, project, span).map(GotoDefinitionResponse::Scalar))
}

/// What a rename or a search for references is about.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Symbol {
    /// A type, or every version of a message: by package and name.
    Named { package: String, name: String },
    /// A field or variant: by where its owner is declared, and its name.
    Member {
        owner: (PathBuf, usize),
        name: String,
    },
}

fn symbol_at(project: &Project, id: FileId, offset: usize) -> Option<(Symbol, Span)> {
    let index = &project.index;
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
        Hit::Member(m) => {
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
                m.span,
            ))
        }
    }
}

/// Every place a symbol is written, over every project, each once: the
/// declarations first, then the uses.
fn occurrences(world: &World, symbol: &Symbol) -> Vec<(PathBuf, Span, Range, bool)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for project in world.projects.values() {
        let index = &project.index;
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
                for m in &index.members {
                    let o = &index.decls[m.owner];
                    if m.name == *name
                        && (project.path(o.file), o.name_span.start) == (owner.0.as_path(), owner.1)
                    {
                        add(m.span, true);
                    }
                }
            }
        }
    }
    out
}

fn references(world: &World, p: ReferenceParams) -> Result<Option<Vec<Location>>, Failure> {
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
    let d = &project.index.decls[decl];
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
fn document_symbols(
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
    let index = &project.index;
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
                detail: Some(d.kind.keyword().to_string()),
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
fn workspace_symbols(
    world: &World,
    p: WorkspaceSymbolParams,
) -> Result<Option<Vec<SymbolInformation>>, Failure> {
    let query = p.query.to_lowercase();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for project in world.projects.values() {
        for (i, d) in project.index.decls.iter().enumerate() {
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

fn completion(world: &World, p: CompletionParams) -> Result<Option<CompletionResponse>, Failure> {
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
        .index
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

fn prepare_rename(
    world: &World,
    p: TextDocumentPositionParams,
) -> Result<Option<PrepareRenameResponse>, Failure> {
    let Some((project, id, offset)) = locate(world, &p.text_document.uri, p.position)? else {
        return Ok(None);
    };
    let Some((_, span)) = symbol_at(project, id, offset) else {
        return Err(Failure::failed(
            "only types, messages and fields can be renamed",
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

fn rename(world: &World, p: RenameParams) -> Result<Option<WorkspaceEdit>, Failure> {
    let at = &p.text_document_position;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let Some((symbol, _)) = symbol_at(project, id, offset) else {
        return Err(Failure::failed(
            "only types, messages and fields can be renamed",
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

fn broken_with<'p>(
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

fn formatting(
    world: &World,
    p: DocumentFormattingParams,
) -> Result<Option<Vec<TextEdit>>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let Some(text) = world.text(&path) else {
        return Ok(None);
    };
    // A file that does not parse is left alone: no edit beats a mangled file.
    let Ok(formatted) = crate::formatter::format_source(&path, &text) else {
        return Ok(Some(Vec::new()));
    };
    if formatted == text {
        return Ok(Some(Vec::new()));
    }
    let file = SourceFile::new(&path, text);
    let whole = span_range(&file, 0, file.text.len());
    Ok(Some(vec![TextEdit::new(whole, formatted)]))
}

fn semantic_tokens(
    world: &World,
    p: SemanticTokensParams,
) -> Result<Option<SemanticTokensResult>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let data = match world.project_of(&path) {
        Some(project) if project.file(&path).is_some() => {
            let id = project.file(&path).unwrap_or(FileId(0));
            tokens::tokens(project.source(id), Some((&project.index, id)))
        }
        _ => {
            let Some(text) = world.text(&path) else {
                return Ok(None);
            };
            tokens::tokens(&SourceFile::new(&path, text), None)
        }
    };
    Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
        result_id: None,
        data,
    })))
}

fn inlay_hints(world: &World, p: InlayHintParams) -> Result<Option<Vec<InlayHint>>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let Some(project) = world.project_of(&path) else {
        return Ok(None);
    };
    let Some(id) = project.file(&path) else {
        return Ok(None);
    };
    let mut hints = Vec::new();
    for (i, d) in project.index.decls.iter().enumerate() {
        if d.file != id {
            continue;
        }
        let Some(message) = project.index.message_version(&project.analysis, i) else {
            continue;
        };
        let Some(header) = message.header else {
            continue;
        };
        let end = d.version.map_or(d.name_span.end, |v| v.end);
        let at = position(project.source(id), end);
        if at < p.range.start || at > p.range.end {
            continue;
        }
        let locked = project
            .locked(&d.package, &message.name, message.version)
            .is_some();
        let (label, tooltip) = if locked {
            (
                format!("\"{header}\""),
                format!("header `{header}`, recorded in tagwire.lock"),
            )
        } else {
            (
                format!("\"{header}\" not yet locked"),
                format!("`tagwire lock` would record header `{header}` for this version"),
            )
        };
        hints.push(InlayHint {
            position: at,
            label: InlayHintLabel::String(label),
            kind: None,
            text_edits: None,
            tooltip: Some(InlayHintTooltip::String(tooltip)),
            padding_left: Some(true),
            padding_right: None,
            data: None,
        });
    }
    Ok(Some(hints))
}

fn code_actions(world: &World, p: CodeActionParams) -> Result<Option<CodeActionResponse>, Failure> {
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
        let decl = &project.index.decls[found.decl];
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
    let decl = &project.index.decls[found.decl];
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
    let mut restored = format!("message {}", entry.message);
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
