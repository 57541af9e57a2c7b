//! Hover: what a name is, and for a message version its header, its wire
//! shape and what the lock says of it.

use super::Failure;
use super::index::{Hit, Kind};
use super::requests::locate;
use super::world::World;
use crate::ir::Direction;
use lsp_types::*;
use std::collections::BTreeSet;

pub(super) fn hover(world: &World, p: HoverParams) -> Result<Option<Hover>, Failure> {
    let at = &p.text_document_position_params;
    let Some((project, id, offset)) = locate(world, &at.text_document.uri, at.position)? else {
        return Ok(None);
    };
    let index = project.index();
    let (decl, span) = match index.at(id, offset) {
        Some(Hit::Use(u)) => match u.target {
            Some(t) => (t, u.span),
            None => return Ok(None),
        },
        Some(Hit::Decl(d)) => (d, index.decls[d].name_span),
        Some(Hit::Member(m, span)) => {
            let member = &index.members[m];
            let owner = &index.decls[member.owner];
            let mut text = format!("```tagwire\n{}", member.name);
            if let Some(ty) = member.ty {
                let source = &project.source(ty.file).text;
                text.push_str(": ");
                text.push_str(source.get(ty.start..ty.end).unwrap_or_default());
            }
            text.push_str(&format!("\n```\nin `{} {}`", owner.keyword, owner.name));
            if !member.docs.is_empty() {
                text.push_str("\n\n");
                text.push_str(&member.docs.join("\n"));
            }
            return Ok(Some(markdown(text, project.range(span))));
        }
        None => return Ok(None),
    };
    let d = &index.decls[decl];
    let mut text = String::from("```tagwire\n");
    match index.message_version(&project.analysis, decl) {
        Some(message) => {
            text.push_str(&format!(
                "{} {}.{} v{}",
                d.keyword, d.package, message.name, message.version
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
                    p.index()
                        .uses
                        .iter()
                        .filter(move |u| {
                            u.target.is_some_and(|t| {
                                let t = &p.index().decls[t];
                                (p.path(t.file), t.name_span.start) == target
                            })
                        })
                        .map(move |u| {
                            let owner = &p.index().decls[u.owner];
                            let (line, _) = p.source(u.span.file).line_col(u.span.start);
                            let file = p
                                .source(u.span.file)
                                .path
                                .file_name()
                                .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                            match owner.kind {
                                Kind::Message => {
                                    let version = p
                                        .index()
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
