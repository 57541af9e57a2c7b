//! The requests the server answers, each from the last analysis: what it
//! offers, which handler answers which method, and the lookups they share.

use super::Failure;
use super::world::{Project, World, offset, uri_path};
use super::{complete, fix, format, hints, hover, navigate, rename, tokens};
use crate::source::{FileId, SourceFile, Span};
use lsp_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;

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
        HoverRequest::METHOD => answer(params, |p| hover::hover(world, p)),
        GotoDefinition::METHOD => answer(params, |p| navigate::definition(world, p)),
        References::METHOD => answer(params, |p| navigate::references(world, p)),
        DocumentSymbolRequest::METHOD => answer(params, |p| navigate::document_symbols(world, p)),
        WorkspaceSymbolRequest::METHOD => answer(params, |p| navigate::workspace_symbols(world, p)),
        Completion::METHOD => answer(params, |p| complete::completion(world, p)),
        PrepareRenameRequest::METHOD => answer(params, |p| rename::prepare_rename(world, p)),
        Rename::METHOD => answer(params, |p| rename::rename(world, p)),
        Formatting::METHOD => answer(params, |p| format::formatting(world, p)),
        SemanticTokensFullRequest::METHOD => answer(params, |p| tokens::semantic_tokens(world, p)),
        CodeActionRequest::METHOD => answer(params, |p| fix::code_actions(world, p)),
        InlayHintRequest::METHOD => answer(params, |p| hints::inlay_hints(world, p)),
        "tagwire/status" => Ok(serde_json::json!({
            "parses": world.cache.parses(),
            "declarations": world.cache.declarations(),
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

pub(super) fn path_of(uri: &Url) -> Result<PathBuf, Failure> {
    uri_path(uri).ok_or_else(|| Failure::params(format!("not a file URI: {uri}")))
}

/// The project, file and byte offset a position is at; `None` for a file no
/// project read or a position past the end.
pub(super) fn locate<'w>(
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

pub(super) fn location(world: &World, project: &Project, span: Span) -> Option<Location> {
    Some(Location::new(
        world.uri(project.path(span.file))?,
        project.range(span),
    ))
}
