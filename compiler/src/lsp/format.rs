//! Formatting a whole document with the compiler's formatter.

use super::Failure;
use super::requests::path_of;
use super::world::{World, span_range};
use crate::source::SourceFile;
use lsp_types::*;

pub(super) fn formatting(
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
