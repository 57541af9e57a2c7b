//! `tagwire fmt`: one canonical layout for schema files, keeping every comment.
//!
//! The layout follows the author where taste differs and rules where it does
//! not: an item written on one line stays on one line if it fits and holds no
//! comments, otherwise it gets one member per line with trailing commas; blank
//! lines between items and members are kept (collapsed to one). Formatting is
//! idempotent. Plain `//` comments are not in the AST, so they are collected
//! from the text and emitted before the first node that follows them, or at the
//! end of the line they trailed.

use crate::ast::*;
use crate::compile::Output;
use crate::source::{SourceMap, Span};
use crate::syntax;
use std::path::Path;

/// Widest line an item is kept on when it was written on one line.
const MAX_WIDTH: usize = 100;
const INDENT: &str = "  ";

/// Formats one schema file. A file that does not parse is returned as diagnostics.
pub fn format_source(path: &Path, text: &str) -> Result<String, Box<Output>> {
    let mut sources = SourceMap::new();
    let id = sources.add(path, text.to_string());
    match syntax::parse(id, text) {
        Ok(file) => Ok(Formatter::new(text).file(&file)),
        Err(diagnostic) => {
            let mut diagnostic = *diagnostic;
            if diagnostic.span.is_none() {
                diagnostic = diagnostic.at(Span::new(id, 0, 0), "in this file");
            }
            Err(Box::new(Output {
                sources,
                schema: None,
                diagnostics: vec![diagnostic],
                locks: Vec::new(),
                unread: Vec::new(),
            }))
        }
    }
}

/// What a schema text means, without where it is written: its AST with
/// every span left out, or `None` when it does not parse. Formatting must not
/// change it; the formatter's tests compare it before and after.
pub fn meaning(text: &str) -> Option<String> {
    let mut sources = SourceMap::new();
    let id = sources.add("meaning.schema", text.to_string());
    let file = syntax::parse(id, text).ok()?;
    let debug = format!("{file:#?}");
    Some(
        debug
            .lines()
            .filter(|l| {
                !l.trim_start().starts_with("start:") && !l.trim_start().starts_with("end:")
            })
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

#[derive(Debug, Clone)]
struct Comment {
    start: usize,
    text: String,
    /// Code precedes it on its line.
    trailing: bool,
}

struct Formatter<'t> {
    text: &'t str,
    comments: Vec<Comment>,
    next_comment: usize,
    out: Vec<String>,
    /// End of the last piece of source emitted, to find blank lines after it.
    last_end: usize,
}

impl<'t> Formatter<'t> {
    fn new(text: &'t str) -> Self {
        Formatter {
            text,
            comments: collect_comments(text),
            next_comment: 0,
            out: Vec::new(),
            last_end: 0,
        }
    }

    fn file(mut self, file: &File) -> String {
        enum Node<'a> {
            Package(&'a Package),
            Import(&'a Import),
            Item(&'a Item),
        }
        let mut nodes: Vec<(usize, Node<'_>)> = Vec::new();
        nodes.extend(
            file.packages
                .iter()
                .map(|p| (p.span.start, Node::Package(p))),
        );
        nodes.extend(file.imports.iter().map(|i| (i.span.start, Node::Import(i))));
        nodes.extend(file.items.iter().map(|i| (i.span.start, Node::Item(i))));
        nodes.sort_by_key(|(start, _)| *start);
        let mut previous_kind: Option<&'static str> = None;
        for (start, node) in &nodes {
            let kind = match node {
                Node::Package(_) => "package",
                Node::Import(_) => "import",
                Node::Item(_) => "item",
            };
            let leading = self.leading_start(*start);
            self.flush_comments(leading, "");
            if previous_kind.is_some_and(|p| p != kind) {
                // Package, imports and declarations are always separated by a blank line.
                self.blank();
            } else {
                self.gap(leading);
            }
            previous_kind = Some(kind);
            let end = match node {
                Node::Package(p) => {
                    self.docs(&p.docs, "");
                    self.flush_comments(*start, "");
                    self.line(format!("package {};", p.name.name));
                    p.span.end
                }
                Node::Import(i) => {
                    self.docs(&i.docs, "");
                    self.flush_comments(*start, "");
                    self.line(format!("import {};", quote(&i.path)));
                    i.span.end
                }
                Node::Item(item) => {
                    self.docs(&item.docs, "");
                    self.flush_comments(*start, "");
                    self.item(item);
                    item.span.end
                }
            };
            self.last_end = end;
        }
        self.flush_comments(self.text.len(), "");
        let mut text = self.out.join("\n");
        text.push('\n');
        if text.trim().is_empty() {
            return String::new();
        }
        text
    }

    fn item(&mut self, item: &Item) {
        let single = self.keep_on_one_line(item.span);
        match &item.kind {
            ItemKind::Struct(s) => {
                let head = format!("struct {}", s.name.name);
                self.braced(&head, single, item.span, |f, _, _| f.fields(&s.fields));
            }
            ItemKind::Enum(e) => {
                let head = format!("enum {}", e.name.name);
                self.braced(&head, single, item.span, |_, _, _| {
                    e.variants
                        .iter()
                        .map(|v| {
                            let text = match &v.value {
                                Some((value, _)) => format!("{} = {value}", v.name.name),
                                None => v.name.name.clone(),
                            };
                            member(&v.docs, v.span, text)
                        })
                        .collect()
                });
            }
            ItemKind::Union(u) => {
                let head = format!("union {}", u.name.name);
                self.braced(&head, single, item.span, |f, indent, one| {
                    u.variants
                        .iter()
                        .map(|v| match &v.fields {
                            None => member(&v.docs, v.span, v.name.name.clone()),
                            Some(fields) => {
                                let inner_one = one || f.keep_on_one_line(v.span);
                                let body = f.fields(fields);
                                let text = wrap_body(&v.name.name, body, inner_one, indent);
                                member(&v.docs, v.span, text)
                            }
                        })
                        .collect()
                });
            }
            ItemKind::Message(m) => {
                let mut head = format!("{} {}", item.keyword(), m.name.name);
                if let Some((version, _)) = &m.version {
                    head.push(' ');
                    head.push_str(version);
                }
                if let Some((direction, _)) = &m.direction {
                    head.push_str(match direction {
                        Direction::Server => " from server",
                        Direction::Client => " from client",
                    });
                }
                if let Some((header, _)) = &m.header {
                    head.push_str(" @");
                    head.push_str(&quote(header));
                }
                for rate in &m.rate {
                    head.push_str(&format!(" @rate({}/{}", rate.count.0, rate.unit));
                    if let Some((burst, _)) = &rate.burst {
                        head.push_str(&format!(", burst {burst}"));
                    }
                    head.push(')');
                }
                self.braced(&head, single, item.span, |f, _, _| f.fields(&m.fields));
            }
        }
    }

    /// Emits `head { members }` on one line when `single` and it fits, else one member per line.
    fn braced(
        &mut self,
        head: &str,
        single: bool,
        span: Span,
        members: impl Fn(&mut Self, &str, bool) -> Vec<Member>,
    ) {
        if single {
            let mut probe = Formatter {
                text: self.text,
                comments: Vec::new(),
                next_comment: 0,
                out: Vec::new(),
                last_end: 0,
            };
            let parts = members(&mut probe, INDENT, true);
            let body: Vec<String> = parts.into_iter().map(|m| m.text).collect();
            let line = if body.is_empty() {
                format!("{head} {{}}")
            } else {
                format!("{head} {{ {} }}", body.join(", "))
            };
            if line.chars().count() <= MAX_WIDTH {
                self.line(line);
                return;
            }
        }
        let parts = members(self, INDENT, false);
        if parts.is_empty() && !self.has_comment_before(span.end) {
            self.line(format!("{head} {{}}"));
            return;
        }
        self.line(format!("{head} {{"));
        self.last_end = span.start;
        for member in parts {
            let leading = self.leading_start(member.start);
            self.flush_comments(leading, INDENT);
            self.gap(leading);
            self.docs(&member.docs, INDENT);
            self.flush_comments(member.start, INDENT);
            let mut lines = member.text.lines();
            if let Some(first) = lines.next() {
                let rest: Vec<&str> = lines.collect();
                if rest.is_empty() {
                    self.line(format!("{INDENT}{first},"));
                } else {
                    self.line(format!("{INDENT}{first}"));
                    let last = rest.len() - 1;
                    for (i, line) in rest.into_iter().enumerate() {
                        self.line(if i == last {
                            format!("{line},")
                        } else {
                            line.to_string()
                        });
                    }
                }
            }
            self.last_end = member.end;
        }
        let close = span.end.saturating_sub(1);
        self.flush_comments(close, INDENT);
        self.line("}".to_string());
    }

    fn fields(&self, fields: &[Field]) -> Vec<Member> {
        fields
            .iter()
            .map(|field| {
                let mut text = format!("{}: {}", field.name.name, type_expr(&field.ty));
                if let Some(default) = &field.default {
                    text.push_str(" = ");
                    text.push_str(&default.raw);
                }
                member(&field.docs, field.span, text)
            })
            .collect()
    }

    /// An item stays on one line if it was written on one, without docs or comments inside.
    fn keep_on_one_line(&self, span: Span) -> bool {
        let source = &self.text[span.start..span.end];
        !source.contains('\n')
            && !self
                .comments
                .iter()
                .any(|c| c.start > span.start && c.start < span.end)
    }

    fn has_comment_before(&self, end: usize) -> bool {
        self.comments
            .get(self.next_comment)
            .is_some_and(|c| c.start < end)
    }

    /// Where a node's leading doc comments begin.
    fn leading_start(&self, start: usize) -> usize {
        let mut line_start = self.text[..start].rfind('\n').map_or(0, |i| i + 1);
        if !self.text[line_start..start].trim().is_empty() {
            return start;
        }
        while line_start > 0 {
            let previous_start = self.text[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
            let previous = self.text[previous_start..line_start - 1].trim();
            if previous.starts_with("///") && !previous.starts_with("////") {
                line_start = previous_start;
            } else {
                break;
            }
        }
        line_start
    }

    /// Keeps one blank line where the source had at least one between the
    /// last emitted piece and `start`.
    fn gap(&mut self, start: usize) {
        if self.last_end < start && !self.out.is_empty() {
            let gap = &self.text[self.last_end..start];
            let lines: Vec<&str> = gap.split('\n').collect();
            if lines.len() > 2
                && lines[1..lines.len() - 1]
                    .iter()
                    .any(|l| l.trim().is_empty())
            {
                self.blank();
            }
        }
    }

    /// Emits the comments that start before `before`: trailing ones at the end
    /// of the last line, the others on their own lines at `indent`.
    fn flush_comments(&mut self, before: usize, indent: &str) {
        while let Some(comment) = self.comments.get(self.next_comment) {
            if comment.start >= before {
                break;
            }
            let comment = comment.clone();
            match self.out.last_mut() {
                Some(last) if comment.trailing => {
                    last.push(' ');
                    last.push_str(&comment.text);
                }
                _ => {
                    self.gap(comment.start);
                    self.line(format!("{indent}{}", comment.text));
                }
            }
            self.last_end = comment.start + comment.text.len();
            self.next_comment += 1;
        }
    }

    fn docs(&mut self, docs: &[String], indent: &str) {
        for line in docs {
            if line.is_empty() {
                self.line(format!("{indent}///"));
            } else {
                self.line(format!("{indent}/// {line}"));
            }
        }
    }

    fn line(&mut self, line: String) {
        self.out.push(line.trim_end().to_string());
    }

    fn blank(&mut self) {
        if self.out.last().is_some_and(|l| !l.is_empty()) {
            self.out.push(String::new());
        }
    }
}

fn member(docs: &[String], span: Span, text: String) -> Member {
    Member {
        docs: docs.to_vec(),
        start: span.start,
        end: span.end,
        text,
    }
}

struct Member {
    docs: Vec<String>,
    start: usize,
    end: usize,
    text: String,
}

/// `name { a: T, b: U }` on one line, or the members on their own lines.
fn wrap_body(name: &str, body: Vec<Member>, one: bool, indent: &str) -> String {
    if body.is_empty() {
        return format!("{name} {{}}");
    }
    if one {
        let inner: Vec<String> = body.into_iter().map(|m| m.text).collect();
        return format!("{name} {{ {} }}", inner.join(", "));
    }
    let mut text = format!("{name} {{\n");
    for member in body {
        for doc in &member.docs {
            text.push_str(&format!("{indent}{INDENT}/// {doc}\n"));
        }
        text.push_str(&format!("{indent}{INDENT}{},\n", member.text));
    }
    text.push_str(&format!("{indent}}}"));
    text
}

fn type_expr(ty: &TypeExpr) -> String {
    let mut out = match &ty.kind {
        TypeExprKind::Named(ident) => ident.name.clone(),
        TypeExprKind::List(inner) => format!("[{}]", type_expr(inner)),
        TypeExprKind::Map(k, v) => format!("map<{}, {}>", type_expr(k), type_expr(v)),
        TypeExprKind::Optional(inner, _) => format!("{}?", type_expr(inner)),
    };
    for c in &ty.constraints {
        out.push_str(" @");
        out.push_str(&c.name.name);
        out.push('(');
        match &c.arg {
            ConstraintArg::Range {
                low,
                high,
                inclusive,
                ..
            } => {
                if let Some((low, _)) = low {
                    out.push_str(low);
                }
                out.push_str(if *inclusive { "..=" } else { ".." });
                if let Some((high, _)) = high {
                    out.push_str(high);
                }
            }
            ConstraintArg::Number(n, _) => out.push_str(n),
            // Raw, as written: a pattern's backslashes are its own.
            ConstraintArg::String(text, _) => {
                out.push('"');
                out.push_str(text);
                out.push('"');
            }
        }
        out.push(')');
    }
    out
}

fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Every plain `//` comment (doc comments are in the AST), skipping string literals.
fn collect_comments(text: &str) -> Vec<Comment> {
    let bytes = text.as_bytes();
    let mut comments = Vec::new();
    let mut i = 0;
    let mut code_on_line = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                code_on_line = false;
                i += 1;
            }
            b'"' => {
                code_on_line = true;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                let end = text[i..].find('\n').map_or(text.len(), |n| i + n);
                let body = text[i..end].trim_end();
                let is_doc = body.starts_with("///") && !body.starts_with("////");
                if !is_doc {
                    comments.push(Comment {
                        start: i,
                        text: body.to_string(),
                        trailing: code_on_line,
                    });
                }
                i = end;
            }
            b' ' | b'\t' | b'\r' => i += 1,
            _ => {
                code_on_line = true;
                i += 1;
            }
        }
    }
    comments
}
