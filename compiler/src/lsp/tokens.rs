//! Semantic tokens: a scan of the text for comments, strings, numbers, words
//! and annotations, with each word's meaning taken from the syntax tree
//! when the file parsed (a declared type, a field, a variant) and from the
//! grammar's keywords and the primitive types otherwise, so a file being
//! typed is still coloured.

use super::Failure;
use super::index::{Index, Kind};
use super::requests::path_of;
use super::world::{World, position};
use crate::ir::Type;
use crate::source::{FileId, SourceFile};
use lsp_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
    SemanticTokensParams, SemanticTokensResult,
};
use std::collections::HashMap;

/// The legend, in the order the token type numbers refer to.
const TYPES: [SemanticTokenType; 11] = [
    SemanticTokenType::KEYWORD,
    SemanticTokenType::TYPE,
    SemanticTokenType::STRUCT,
    SemanticTokenType::ENUM,
    SemanticTokenType::CLASS,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::DECORATOR,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
    SemanticTokenType::COMMENT,
];

const KEYWORD: u32 = 0;
const TYPE: u32 = 1;
const STRUCT: u32 = 2;
const ENUM: u32 = 3;
const CLASS: u32 = 4;
const PROPERTY: u32 = 5;
const ENUM_MEMBER: u32 = 6;
const DECORATOR: u32 = 7;
const STRING: u32 = 8;
const NUMBER: u32 = 9;
const COMMENT: u32 = 10;

/// Bit 0: the token declares its name.
const DECLARATION: u32 = 1;
/// Bit 1: a `///` doc comment.
const DOCUMENTATION: u32 = 2;

pub(crate) fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: vec![
            SemanticTokenModifier::DECLARATION,
            SemanticTokenModifier::DOCUMENTATION,
        ],
    }
}

fn kind_token(kind: Kind) -> u32 {
    match kind {
        Kind::Struct => STRUCT,
        Kind::Enum => ENUM,
        Kind::Union => TYPE,
        Kind::Message => CLASS,
    }
}

/// The tokens of one file, encoded as the protocol wants them (each relative
/// to the one before). `index` and `id` describe the file when it parsed.
pub(crate) fn tokens(file: &SourceFile, meaning: Option<(&Index, FileId)>) -> Vec<SemanticToken> {
    let mut known: HashMap<usize, (u32, u32)> = HashMap::new();
    if let Some((index, id)) = meaning {
        for d in index.decls.iter().filter(|d| d.file == id) {
            known.insert(d.name_span.start, (kind_token(d.kind), DECLARATION));
        }
        for u in index.uses.iter().filter(|u| u.span.file == id) {
            let token = u.target.map_or(TYPE, |t| kind_token(index.decls[t].kind));
            known.insert(u.span.start, (token, 0));
        }
        for m in index.members.iter().filter(|m| m.span.file == id) {
            let token = if m.is_variant { ENUM_MEMBER } else { PROPERTY };
            known.insert(m.span.start, (token, DECLARATION));
        }
    }
    let keywords: Vec<&str> = crate::syntax::keywords().collect();
    let text = file.text.as_str();
    let bytes = text.as_bytes();
    let mut raw: Vec<(usize, usize, u32, u32)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
            let doc = text[i..].starts_with("///") && !text[i..].starts_with("////");
            raw.push((start, end, COMMENT, if doc { DOCUMENTATION } else { 0 }));
            i = end;
        } else if c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i = (i + 1).min(bytes.len());
            raw.push((start, i, STRING, 0));
        } else if c.is_ascii_digit()
            || (c == b'-' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric()
                    || bytes[i] == b'.' && bytes.get(i + 1) != Some(&b'.'))
            {
                i += 1;
            }
            raw.push((start, i, NUMBER, 0));
        } else if c == b'@' || c.is_ascii_alphabetic() || c == b'_' {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            let word = &text[start..i];
            if c == b'@' {
                raw.push((start, i, DECORATOR, 0));
            } else if let Some(&(token, modifiers)) = known.get(&start) {
                raw.push((start, i, token, modifiers));
            } else if keywords.contains(&word) {
                raw.push((start, i, KEYWORD, 0));
            } else if Type::primitive(word).is_some() {
                raw.push((start, i, TYPE, 0));
            }
        } else {
            // Any other byte, one character at a time (never inside a UTF-8 sequence).
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let mut out = Vec::with_capacity(raw.len());
    let (mut last_line, mut last_start) = (0u32, 0u32);
    for (start, end, token, modifiers) in raw {
        let from = position(file, start);
        let to = position(file, end);
        // Tokens span one line here; a string cut by a newline ends at it.
        let length = if to.line == from.line {
            to.character - from.character
        } else {
            let line_end = file.line_range(from.line as usize).map_or(end, |r| r.end);
            position(file, line_end.saturating_sub(1).max(start)).character - from.character
        };
        if length == 0 {
            continue;
        }
        let delta_line = from.line - last_line;
        let delta_start = if delta_line == 0 {
            from.character - last_start
        } else {
            from.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length,
            token_type: token,
            token_modifiers_bitset: modifiers,
        });
        last_line = from.line;
        last_start = from.character;
    }
    out
}

pub(super) fn semantic_tokens(
    world: &World,
    p: SemanticTokensParams,
) -> Result<Option<SemanticTokensResult>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let data = match world.project_of(&path) {
        Some(project) if project.file(&path).is_some() => {
            let id = project.file(&path).unwrap_or(FileId(0));
            tokens(project.source(id), Some((project.index(), id)))
        }
        _ => {
            let Some(text) = world.text(&path) else {
                return Ok(None);
            };
            tokens(&SourceFile::new(&path, text), None)
        }
    };
    Ok(Some(SemanticTokensResult::Tokens(SemanticTokens {
        result_id: None,
        data,
    })))
}
