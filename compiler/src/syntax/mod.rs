//! Parsing: .schema text to [`ast::File`], with syntax errors in words.

mod cache;
mod depth;
mod errors;
mod lower;
#[cfg(test)]
mod tests;

use crate::ast;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::source::FileId;
use pest::Parser as _;

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
pub fn parse(file: FileId, text: &str) -> Result<ast::File, Box<Diagnostic>> {
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
    depth::check(file, text, MAX_NESTING)?;
    let pairs = SchemaParser::parse(Rule::schema, text)
        .map_err(|e| Box::new(errors::to_diagnostic(file, text, &e)))?;
    Ok(lower::file(file, pairs))
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
