//! Lowers pest's parse tree to the AST. The grammar has already accepted the
//! input, so the shapes matched here are guaranteed by it; punctuation pairs are skipped.

use super::Rule;
use crate::ast::*;
use crate::source::{FileId, Span};
use pest::iterators::{Pair, Pairs};

type P<'i> = Pair<'i, Rule>;

struct Lower {
    file: FileId,
    /// Where the parsed text starts in the file: pest's offsets are the piece's.
    offset: usize,
}

pub(super) fn file(id: FileId, offset: usize, mut pairs: Pairs<'_, Rule>) -> File {
    let lower = Lower { file: id, offset };
    let mut out = File {
        id,
        packages: Vec::new(),
        imports: Vec::new(),
        items: Vec::new(),
    };
    let Some(schema) = pairs.next() else {
        return out;
    };
    for statement in schema
        .into_inner()
        .filter(|p| p.as_rule() == Rule::statement)
    {
        lower.statement(statement, &mut out);
    }
    out
}

/// Children that carry meaning: keywords and punctuation are dropped.
fn meaningful(pair: P<'_>) -> impl Iterator<Item = P<'_>> {
    pair.into_inner().filter(|p| {
        !matches!(
            p.as_rule(),
            Rule::semi
                | Rule::colon
                | Rule::comma
                | Rule::eq
                | Rule::at
                | Rule::lbrace
                | Rule::rbrace
                | Rule::lbracket
                | Rule::rbracket
                | Rule::langle
                | Rule::rangle
                | Rule::kw_package
                | Rule::kw_import
                | Rule::kw_struct
                | Rule::kw_enum
                | Rule::kw_union
                | Rule::kw_message
                | Rule::kw_presence
                | Rule::kw_map
                | Rule::kw_from
                | Rule::lparen
                | Rule::rparen
                | Rule::slash
                | Rule::kw_rate
                | Rule::kw_burst
        )
    })
}

impl Lower {
    fn span(&self, pair: &P<'_>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
    }

    fn ident(&self, pair: P<'_>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn statement(&self, statement: P<'_>, out: &mut File) {
        let mut docs = Vec::new();
        for child in statement.into_inner() {
            let span = self.span(&child);
            match child.as_rule() {
                Rule::docs => docs = self.docs(child),
                Rule::package_decl => {
                    if let Some(name) = meaningful(child).next().map(|p| self.ident(p)) {
                        out.packages.push(Package {
                            docs: std::mem::take(&mut docs),
                            name,
                            span,
                        });
                    }
                }
                Rule::import_decl => {
                    if let Some(path) = meaningful(child).next() {
                        out.imports.push(Import {
                            docs: std::mem::take(&mut docs),
                            path: unescape(string_inner(&path)),
                            path_span: self.span(&path),
                            span,
                        });
                    }
                }
                _ => {
                    if let Some(kind) = self.item(child) {
                        out.items.push(Item {
                            docs: std::mem::take(&mut docs),
                            kind,
                            span,
                        });
                    }
                }
            }
        }
    }

    fn docs(&self, docs: P<'_>) -> Vec<String> {
        docs.into_inner()
            .flat_map(|doc| doc.into_inner())
            .filter(|p| p.as_rule() == Rule::doc_text)
            .map(|text| {
                let text = text.as_str().trim_end_matches('\r');
                text.strip_prefix(' ').unwrap_or(text).to_string()
            })
            .collect()
    }

    fn item(&self, pair: P<'_>) -> Option<ItemKind> {
        let rule = pair.as_rule();
        let presence = pair
            .clone()
            .into_inner()
            .any(|p| p.as_rule() == Rule::kw_presence);
        let mut parts = meaningful(pair);
        let name = self.ident(parts.next()?);
        Some(match rule {
            Rule::struct_decl => ItemKind::Struct(Struct {
                name,
                fields: parts.next().map(|f| self.fields(f)).unwrap_or_default(),
            }),
            Rule::enum_decl => ItemKind::Enum(Enum {
                name,
                variants: parts.map(|v| self.enum_variant(v)).collect(),
            }),
            Rule::union_decl => ItemKind::Union(Union {
                name,
                variants: parts.map(|v| self.union_variant(v)).collect(),
            }),
            Rule::message_decl => {
                let mut message = Message {
                    name,
                    presence,
                    version: None,
                    direction: None,
                    header: None,
                    rate: Vec::new(),
                    fields: Vec::new(),
                };
                for part in parts {
                    let span = self.span(&part);
                    match part.as_rule() {
                        Rule::version => message.version = Some((part.as_str().to_string(), span)),
                        Rule::direction => {
                            let server = part.into_inner().any(|p| p.as_rule() == Rule::kw_server);
                            let direction = if server {
                                Direction::Server
                            } else {
                                Direction::Client
                            };
                            message.direction = Some((direction, span));
                        }
                        Rule::header_pin => {
                            let literal = meaningful(part).next();
                            let text = literal
                                .as_ref()
                                .map(|l| unescape(string_inner(l)))
                                .unwrap_or_default();
                            message.header = Some((text, span));
                        }
                        Rule::rate => message.rate.push(self.rate(part)),
                        Rule::fields => message.fields = self.fields(part),
                        _ => {}
                    }
                }
                ItemKind::Message(message)
            }
            _ => return None,
        })
    }

    fn rate(&self, pair: P<'_>) -> Rate {
        let span = self.span(&pair);
        let mut numbers = Vec::new();
        let mut unit = String::new();
        for part in meaningful(pair) {
            match part.as_rule() {
                Rule::int_lit => numbers.push((part.as_str().to_string(), self.span(&part))),
                Rule::rate_unit => unit = part.as_str().to_string(),
                _ => {}
            }
        }
        let mut numbers = numbers.into_iter();
        Rate {
            count: numbers.next().unwrap_or_else(|| (String::new(), span)),
            unit,
            burst: numbers.next(),
            span,
        }
    }

    fn constraint(&self, pair: P<'_>) -> Constraint {
        let span = self.span(&pair);
        let mut name = Ident {
            name: String::new(),
            span,
        };
        let mut arg = ConstraintArg::String(String::new(), span);
        for part in meaningful(pair) {
            match part.as_rule() {
                Rule::constraint_name => {
                    name = Ident {
                        name: part.as_str().trim_start_matches('@').to_string(),
                        span: self.span(&part),
                    };
                }
                Rule::constraint_arg => {
                    if let Some(inner) = meaningful(part).next() {
                        arg = self.constraint_arg(inner);
                    }
                }
                _ => {}
            }
        }
        Constraint { name, arg, span }
    }

    fn constraint_arg(&self, pair: P<'_>) -> ConstraintArg {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::range => {
                let mut low = None;
                let mut high = None;
                let mut inclusive = false;
                let mut seen_op = false;
                for part in meaningful(pair) {
                    match part.as_rule() {
                        Rule::range_op => {
                            inclusive = part.as_str() == "..=";
                            seen_op = true;
                        }
                        Rule::number_lit => {
                            let number = Some((part.as_str().to_string(), self.span(&part)));
                            if seen_op {
                                high = number;
                            } else {
                                low = number;
                            }
                        }
                        _ => {}
                    }
                }
                ConstraintArg::Range {
                    low,
                    high,
                    inclusive,
                    span,
                }
            }
            Rule::number_lit => ConstraintArg::Number(pair.as_str().to_string(), span),
            _ => ConstraintArg::String(string_inner(&pair).to_string(), span),
        }
    }

    fn fields(&self, pair: P<'_>) -> Vec<Field> {
        meaningful(pair).map(|f| self.field(f)).collect()
    }

    fn field(&self, pair: P<'_>) -> Field {
        let span = self.span(&pair);
        let mut docs = Vec::new();
        let mut name = None;
        let mut ty = None;
        let mut default = None;
        for part in meaningful(pair) {
            match part.as_rule() {
                Rule::docs => docs = self.docs(part),
                Rule::ident => name = Some(self.ident(part)),
                Rule::type_expr => ty = Some(self.type_expr(part)),
                Rule::field_default => default = meaningful(part).next().map(|l| self.literal(l)),
                _ => {}
            }
        }
        let fallback = Ident {
            name: String::new(),
            span,
        };
        Field {
            docs,
            name: name.unwrap_or_else(|| fallback.clone()),
            ty: ty.unwrap_or(TypeExpr {
                kind: TypeExprKind::Named(fallback),
                span,
                constraints: Vec::new(),
            }),
            default,
            span,
        }
    }

    fn literal(&self, pair: P<'_>) -> Literal {
        let span = self.span(&pair);
        let raw = pair.as_str().to_string();
        let kind = match meaningful(pair).next() {
            Some(inner) if inner.as_rule() == Rule::string_lit => {
                LiteralKind::String(unescape(string_inner(&inner)))
            }
            Some(inner) if inner.as_rule() == Rule::number_lit => {
                LiteralKind::Number(inner.as_str().to_string())
            }
            Some(inner) => LiteralKind::Word(inner.as_str().to_string()),
            None => LiteralKind::Word(String::new()),
        };
        Literal { kind, raw, span }
    }

    fn type_expr(&self, pair: P<'_>) -> TypeExpr {
        let span = self.span(&pair);
        let mut parts = meaningful(pair);
        let Some(atom) = parts.next() else {
            return TypeExpr {
                kind: TypeExprKind::Named(Ident {
                    name: String::new(),
                    span,
                }),
                span,
                constraints: Vec::new(),
            };
        };
        let atom_span = self.span(&atom);
        let kind = match atom.as_rule() {
            Rule::list_type => {
                let inner = meaningful(atom).next().map(|p| self.type_expr(p));
                TypeExprKind::List(Box::new(
                    inner.unwrap_or_else(|| self.empty_type(atom_span)),
                ))
            }
            Rule::map_type => {
                let mut inner = meaningful(atom).map(|p| self.type_expr(p));
                let key = inner.next().unwrap_or_else(|| self.empty_type(atom_span));
                let value = inner.next().unwrap_or_else(|| self.empty_type(atom_span));
                TypeExprKind::Map(Box::new(key), Box::new(value))
            }
            _ => TypeExprKind::Named(self.ident(atom)),
        };
        let mut ty = TypeExpr {
            kind,
            span: atom_span,
            constraints: Vec::new(),
        };
        let mut constraints = Vec::new();
        for part in parts {
            match part.as_rule() {
                Rule::qmark => {
                    let mark_span = self.span(&part);
                    let span = Span::new(self.file, atom_span.start, mark_span.end);
                    ty = TypeExpr {
                        kind: TypeExprKind::Optional(Box::new(ty), mark_span),
                        span,
                        constraints: Vec::new(),
                    };
                }
                Rule::constraint => constraints.push(self.constraint(part)),
                _ => {}
            }
        }
        ty.constraints = constraints;
        ty
    }

    fn empty_type(&self, span: Span) -> TypeExpr {
        TypeExpr {
            kind: TypeExprKind::Named(Ident {
                name: String::new(),
                span,
            }),
            span,
            constraints: Vec::new(),
        }
    }

    fn enum_variant(&self, pair: P<'_>) -> EnumVariant {
        let span = self.span(&pair);
        let mut docs = Vec::new();
        let mut name = Ident {
            name: String::new(),
            span,
        };
        let mut value = None;
        for part in meaningful(pair) {
            match part.as_rule() {
                Rule::docs => docs = self.docs(part),
                Rule::ident => name = self.ident(part),
                Rule::int_lit => value = Some((part.as_str().to_string(), self.span(&part))),
                _ => {}
            }
        }
        EnumVariant {
            docs,
            name,
            value,
            span,
        }
    }

    fn union_variant(&self, pair: P<'_>) -> UnionVariant {
        let span = self.span(&pair);
        let mut docs = Vec::new();
        let mut name = Ident {
            name: String::new(),
            span,
        };
        let mut fields = None;
        for part in meaningful(pair) {
            match part.as_rule() {
                Rule::docs => docs = self.docs(part),
                Rule::ident => name = self.ident(part),
                Rule::fields => fields = Some(self.fields(part)),
                _ => {}
            }
        }
        UnionVariant {
            docs,
            name,
            fields,
            span,
        }
    }
}

fn string_inner<'i>(literal: &P<'i>) -> &'i str {
    literal
        .clone()
        .into_inner()
        .next()
        .map_or("", |inner| inner.as_str())
}

/// Resolves `\"`, `\\`, `\n` and `\t`; any other escaped character stands for itself.
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}
