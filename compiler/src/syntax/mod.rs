//! Parsing: .schema text to [`ast::File`], with syntax errors in words.

mod cache;
mod depth;
mod errors;
mod lower;
mod parallel;
mod relocate;
mod scan;
mod split;
#[cfg(test)]
mod tests;

use crate::ast;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::source::FileId;
use pest::Parser as _;
use std::ops::Range;

pub use cache::ParseCache;

#[derive(pest_derive::Parser)]
#[grammar = "syntax/schema.pest"]
pub(crate) struct SchemaParser;

/// Deepest nesting of brackets the parser accepts. Real schemas nest a few
/// levels; the limit keeps hostile input from exhausting the stack.
pub const MAX_NESTING: usize = 64;

/// Largest schema file accepted, so a stray multi-gigabyte file is refused up front.
pub const MAX_SOURCE_BYTES: usize = 16 * 1024 * 1024;

/// Parses one file. On a syntax error the file is not lowered: pest stops at
/// the first error, and one precise message beats a cascade of guesses.
///
/// Each top-level declaration is parsed on its own (`split`), which gives
/// the tree and the error a parse of the whole file would: a declaration's
/// parse never looks past its closing `}` or `;`, so the declarations before
/// a bad one parse alike either way, and the bad one fails where it would
/// in the whole file, with the same alternatives tried there.
///
/// A large file's declarations parse on several threads
/// ([`parallel`]), with the same result.
pub fn parse(file: FileId, text: &str) -> Result<ast::File, Box<Diagnostic>> {
    parse_pieces(file, text, |ranges| {
        parallel::parse_in_order(ranges, |range| parse_piece(file, text, range))
    })
}

/// The file's size and nesting, checked on the whole text before any parse.
fn check_limits(file: FileId, text: &str) -> Result<(), Box<Diagnostic>> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Box::new(Diagnostic::error(
            DiagnosticCode::SourceTooLarge,
            format!(
                "schema file is {} bytes; the limit is {} bytes",
                text.len(),
                MAX_SOURCE_BYTES
            ),
        )));
    }
    depth::check(file, text, MAX_NESTING)
}

/// A declaration's parse failure, where pest stopped inside it.
pub(crate) type PieceError = Box<pest::error::Error<Rule>>;

/// Parses a file piece by piece, `pieces` giving each piece's tree at its
/// place in the file (parsed, or found in a cache), in order, up to and
/// including the first piece that fails.
fn parse_pieces(
    file: FileId,
    text: &str,
    pieces: impl FnOnce(&[Range<usize>]) -> Vec<Result<ast::File, PieceError>>,
) -> Result<ast::File, Box<Diagnostic>> {
    check_limits(file, text)?;
    let mut out = ast::File {
        id: file,
        packages: Vec::new(),
        imports: Vec::new(),
        items: Vec::new(),
    };
    let ranges = split::declarations(text);
    for (range, parsed) in ranges.iter().zip(pieces(&ranges)) {
        match parsed {
            Ok(part) => {
                out.packages.extend(part.packages);
                out.imports.extend(part.imports);
                out.items.extend(part.items);
            }
            Err(error) => {
                // Where the piece's text began in what pest was given.
                let base = range.start.saturating_sub(1);
                let offset = base + errors::position(&error);
                // Pest stopped at the end of the piece: only there could the
                // text after it have mattered, so the whole file decides.
                if offset >= range.end {
                    return parse_whole(file, text);
                }
                return Err(Box::new(errors::to_diagnostic(file, text, base, &error)));
            }
        }
    }
    Ok(out)
}

/// Parses one piece of a file's text (a range from [`split::declarations`]),
/// its spans placed where the piece stands in the file.
///
/// A piece after the first is parsed with a blank before it: pest words an
/// error at the very start of its input differently (it reports the rule it
/// was asked for instead of what it tried there), and in the whole file a
/// declaration never starts there.
fn parse_piece(file: FileId, text: &str, range: Range<usize>) -> Result<ast::File, PieceError> {
    let piece = text.get(range.clone()).unwrap_or_default();
    let (input, offset) = if range.start == 0 {
        (std::borrow::Cow::Borrowed(piece), 0)
    } else {
        (
            std::borrow::Cow::Owned(format!(" {piece}")),
            range.start - 1,
        )
    };
    let pairs = match SchemaParser::parse(Rule::declaration, &input) {
        Ok(pairs) => pairs,
        Err(_) => SchemaParser::parse(Rule::schema, &input).map_err(Box::new)?,
    };
    Ok(lower::file(file, offset, pairs))
}

/// The whole file in one parse, as a fallback and as what the tests compare
/// the piecewise parse with.
fn parse_whole(file: FileId, text: &str) -> Result<ast::File, Box<Diagnostic>> {
    check_limits(file, text)?;
    let pairs = SchemaParser::parse(Rule::schema, text)
        .map_err(|e| Box::new(errors::to_diagnostic(file, text, 0, &e)))?;
    Ok(lower::file(file, 0, pairs))
}

/// The grammar's keywords (its `kw_` rules), read from the grammar itself
/// so the list cannot drift from what parses: words such as `message`, and
/// annotations such as `@rate`.
#[cfg(any(test, feature = "lsp"))]
pub(crate) fn keywords() -> impl Iterator<Item = &'static str> {
    include_str!("schema.pest").lines().filter_map(|line| {
        let rule = line.strip_prefix("kw_")?;
        let (_, literal) = rule.split_once('"')?;
        literal.split('"').next()
    })
}

/// Parses `text` as one grammar rule, requiring it to consume all of the text.
#[cfg(test)]
fn parse_rule(rule: Rule, text: &str) -> Result<(), String> {
    let pairs = SchemaParser::parse(rule, text).map_err(|e| e.to_string())?;
    let end = pairs.last().map_or(0, |p| p.as_span().end());
    if end == text.len() {
        Ok(())
    } else {
        Err(format!("stopped at byte {end} of {}", text.len()))
    }
}
