//! A cheap pre-pass that bounds bracket nesting before the recursive-descent
//! parser sees the text, so `[[[[…` ten thousand deep is a diagnostic, not a stack overflow.

use super::scan::code_bytes;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::source::{FileId, Span};

pub(super) fn check(file: FileId, text: &str, limit: usize) -> Result<(), Box<Diagnostic>> {
    let mut depth = 0usize;
    for (i, b) in code_bytes(text) {
        match b {
            b'[' | b'{' | b'<' => {
                depth += 1;
                if depth > limit {
                    return Err(Box::new(
                        Diagnostic::error(
                            DiagnosticCode::NestingTooDeep,
                            format!("nesting is deeper than {limit} levels"),
                        )
                        .at(Span::new(file, i, i + 1), "this bracket is too deep")
                        .with_help("flatten the type with a named struct"),
                    ));
                }
            }
            b']' | b'}' | b'>' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}
