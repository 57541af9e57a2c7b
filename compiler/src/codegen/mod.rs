//! Code generators: from the checked [`crate::ir::Schema`] to source code.
//!
//! Generators only read the IR; everything they rely on (resolved names,
//! headers, fingerprints, no infinite types) was established by the front end.

pub mod rust;
pub mod typescript;
mod validate;

use crate::compile::Output;
use crate::ir::Schema;
use rust::GenerateError;
use std::path::PathBuf;

/// The files a generator writes for a front-end run without errors: one
/// `<package>.<extension>` per `(package, code)` that `generate` returns,
/// relative to the output directory. A run with errors, or one that compiled
/// no schema, generates nothing and says why.
pub(crate) fn package_files(
    output: &Output,
    extension: &str,
    generate: impl FnOnce(&Schema) -> Vec<(String, String)>,
) -> Result<Vec<(PathBuf, String)>, GenerateError> {
    let schema = output.schema.as_ref().ok_or_else(|| GenerateError {
        message: if output.has_errors() {
            format!("the schema has errors:\n{}", output.render_text())
        } else {
            "no schema was compiled".to_string()
        },
    })?;
    Ok(generate(schema)
        .into_iter()
        .map(|(package, code)| (PathBuf::from(format!("{package}.{extension}")), code))
        .collect())
}

/// Rewrites schema doc comment lines so that rustdoc (or any Markdown-based
/// doc tool that runs code blocks) never treats them as code to compile.
///
/// Two Markdown constructs would become doctests:
///
/// - fenced code blocks: an opening fence (```` ``` ```` or `~~~`, whatever
///   its info string) is rewritten to carry the info string `text`, so the
///   block still renders as code but is never compiled; closing fences are
///   kept as written;
/// - indented code blocks: outside fences, leading whitespace is capped at 3
///   columns (tabs count as 4), which keeps list nesting readable but can
///   never start an indented code block.
///
/// Everything else is kept verbatim.
pub(crate) fn escape_doc_lines(lines: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(lines.len());
    // The fence that opened the current code block: its character and length.
    let mut open: Option<(char, usize)> = None;
    for line in lines {
        let trimmed = line.trim_start_matches([' ', '\t']);
        let fence = fence_of(trimmed);
        match (open, fence) {
            (None, Some((c, n))) => {
                open = Some((c, n));
                out.push(format!("{}text", c.to_string().repeat(n)));
            }
            (Some((oc, on)), Some((c, n)))
                if c == oc && n >= on && trimmed[n..].trim().is_empty() =>
            {
                open = None;
                out.push(c.to_string().repeat(n));
            }
            (Some(_), _) => out.push(line.clone()),
            (None, None) => {
                let indent: usize = line[..line.len() - trimmed.len()]
                    .chars()
                    .map(|c| if c == '\t' { 4 } else { 1 })
                    .sum();
                out.push(format!("{}{trimmed}", " ".repeat(indent.min(3))));
            }
        }
    }
    // An unclosed fence runs to the end of the comment in Markdown; closing
    // it explicitly keeps the generated attribute list self-contained.
    if let Some((c, n)) = open {
        out.push(c.to_string().repeat(n));
    }
    out
}

/// The fence character and run length when `line` starts a Markdown fence.
fn fence_of(line: &str) -> Option<(char, usize)> {
    let c = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = line.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

#[cfg(test)]
mod tests {
    use super::escape_doc_lines;

    fn esc(lines: &[&str]) -> Vec<String> {
        escape_doc_lines(&lines.iter().map(|s| (*s).to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn fences_become_text_blocks() {
        assert_eq!(
            esc(&[
                "Example:",
                "```",
                "let x = 1;",
                "```",
                "~~~~rust",
                "y",
                "~~~~"
            ]),
            [
                "Example:",
                "```text",
                "let x = 1;",
                "```",
                "~~~~text",
                "y",
                "~~~~"
            ]
        );
        assert_eq!(
            esc(&["```rust,no_run", "fn main() {}"]),
            ["```text", "fn main() {}", "```"]
        );
    }

    #[test]
    fn indentation_never_makes_a_code_block() {
        assert_eq!(
            esc(&["", "    let x = 1;", "\tfoo", "  - item"]),
            ["", "   let x = 1;", "   foo", "  - item"]
        );
    }
}
