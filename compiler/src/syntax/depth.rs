//! A cheap pre-pass that bounds bracket nesting before the recursive-descent
//! parser sees the text, so `[[[[…` ten thousand deep is a diagnostic, not a stack overflow.

use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::source::{FileId, Span};

pub(super) fn check(file: FileId, text: &str, limit: usize) -> Result<(), Box<Diagnostic>> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
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
        i += 1;
    }
    Ok(())
}
