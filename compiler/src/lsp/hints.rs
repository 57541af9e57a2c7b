//! Inlay hints: each message version's header after its name, and whether
//! the lock has it yet.

use super::Failure;
use super::requests::path_of;
use super::world::{World, position};
use lsp_types::*;

pub(super) fn inlay_hints(
    world: &World,
    p: InlayHintParams,
) -> Result<Option<Vec<InlayHint>>, Failure> {
    let path = path_of(&p.text_document.uri)?;
    let Some(project) = world.project_of(&path) else {
        return Ok(None);
    };
    let Some(id) = project.file(&path) else {
        return Ok(None);
    };
    let mut hints = Vec::new();
    for (i, d) in project.index().decls.iter().enumerate() {
        if d.file != id {
            continue;
        }
        let Some(message) = project.index().message_version(&project.analysis, i) else {
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
