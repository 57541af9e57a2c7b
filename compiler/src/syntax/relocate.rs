//! Moves a parsed declaration to another place: another file, or another
//! offset in its file (text before it grew or shrank). The parse cache keeps
//! each declaration's tree by its text alone, so a tree is reused wherever
//! that text now stands.

use crate::ast::*;
use crate::source::{FileId, Span};

/// Where a tree was lowered and where it is wanted.
#[derive(Clone, Copy)]
pub(super) struct Move {
    pub file: FileId,
    pub from: usize,
    pub to: usize,
}

impl Move {
    fn span(&self, span: &mut Span) {
        span.file = self.file;
        // `to - from` may be negative: add first, then subtract, in usize.
        span.start = span.start + self.to - self.from;
        span.end = span.end + self.to - self.from;
    }

    fn ident(&self, ident: &mut Ident) {
        self.span(&mut ident.span);
    }

    fn written(&self, value: &mut Option<(String, Span)>) {
        if let Some((_, span)) = value {
            self.span(span);
        }
    }

    pub fn file(&self, file: &mut File) {
        file.id = self.file;
        for package in &mut file.packages {
            self.ident(&mut package.name);
            self.span(&mut package.span);
        }
        for import in &mut file.imports {
            self.span(&mut import.path_span);
            self.span(&mut import.span);
        }
        for item in &mut file.items {
            self.span(&mut item.span);
            match &mut item.kind {
                ItemKind::Struct(s) => {
                    self.ident(&mut s.name);
                    self.fields(&mut s.fields);
                }
                ItemKind::Enum(e) => {
                    self.ident(&mut e.name);
                    for v in &mut e.variants {
                        self.ident(&mut v.name);
                        self.written(&mut v.value);
                        self.span(&mut v.span);
                    }
                }
                ItemKind::Union(u) => {
                    self.ident(&mut u.name);
                    for v in &mut u.variants {
                        self.ident(&mut v.name);
                        if let Some(fields) = &mut v.fields {
                            self.fields(fields);
                        }
                        self.span(&mut v.span);
                    }
                }
                ItemKind::Message(m) => {
                    self.ident(&mut m.name);
                    self.written(&mut m.version);
                    if let Some((_, span)) = &mut m.direction {
                        self.span(span);
                    }
                    self.written(&mut m.header);
                    for rate in &mut m.rate {
                        self.span(&mut rate.count.1);
                        self.written(&mut rate.burst);
                        self.span(&mut rate.span);
                    }
                    self.fields(&mut m.fields);
                }
            }
        }
    }

    fn fields(&self, fields: &mut [Field]) {
        for field in fields {
            self.ident(&mut field.name);
            self.ty(&mut field.ty);
            if let Some(default) = &mut field.default {
                self.span(&mut default.span);
            }
            self.span(&mut field.span);
        }
    }

    fn ty(&self, ty: &mut TypeExpr) {
        self.span(&mut ty.span);
        for c in &mut ty.constraints {
            self.ident(&mut c.name);
            self.span(&mut c.span);
            match &mut c.arg {
                ConstraintArg::Range {
                    low, high, span, ..
                } => {
                    self.written(low);
                    self.written(high);
                    self.span(span);
                }
                ConstraintArg::Number(_, span) | ConstraintArg::String(_, span) => self.span(span),
            }
        }
        match &mut ty.kind {
            TypeExprKind::Named(ident) => self.ident(ident),
            TypeExprKind::List(inner) => self.ty(inner),
            TypeExprKind::Map(key, value) => {
                self.ty(key);
                self.ty(value);
            }
            TypeExprKind::Optional(inner, mark) => {
                self.ty(inner);
                self.span(mark);
            }
        }
    }
}
