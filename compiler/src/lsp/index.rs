//! What the editor asks about, read from one analysis: every declaration,
//! every use of a type name with the declaration it resolves to, and every
//! field, each with the file and byte range it was written at.

use crate::ast;
use crate::compile::Analysis;
use crate::ir::{MessageVersion, Type};
use crate::source::{FileId, Span};
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Struct,
    Enum,
    Union,
    Message,
}

/// A struct, enum, union or message version.
#[derive(Debug, Clone)]
pub(crate) struct Decl {
    pub kind: Kind,
    pub name: String,
    pub package: String,
    pub file: FileId,
    /// The name as written.
    pub name_span: Span,
    /// From the keyword to the closing brace.
    pub item_span: Span,
    pub docs: Vec<String>,
    /// `v2` as written, for messages.
    pub version: Option<Span>,
    /// The item's keyword (`presence` for a message declared so).
    pub keyword: &'static str,
}

/// A type name used in a field's type, and what it names.
#[derive(Debug, Clone)]
pub(crate) struct Use {
    pub span: Span,
    /// Index into [`Index::decls`]; `None` for a name that resolves to nothing.
    pub target: Option<usize>,
    /// The declaration the field belongs to (index into `decls`).
    pub owner: usize,
}

/// A field of a struct, message or union variant, or an enum or union variant.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub name: String,
    pub span: Span,
    /// The whole member, docs excluded.
    pub member_span: Span,
    /// The type as written, for fields; `None` for variants.
    pub ty: Option<Span>,
    pub docs: Vec<String>,
    pub owner: usize,
    pub is_variant: bool,
}

impl Member {
    /// An enum's or a union's variant: the same entry for both.
    fn variant(name: &ast::Ident, member_span: Span, docs: &[String], owner: usize) -> Self {
        Member {
            name: name.name.clone(),
            span: name.span,
            member_span,
            ty: None,
            docs: docs.to_vec(),
            owner,
            is_variant: true,
        }
    }
}

/// An enum variant named by a field's default (`= calm`).
#[derive(Debug, Clone)]
pub(crate) struct VariantUse {
    pub span: Span,
    /// Index into [`Index::members`].
    pub member: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Index {
    pub decls: Vec<Decl>,
    pub uses: Vec<Use>,
    pub members: Vec<Member>,
    pub variant_uses: Vec<VariantUse>,
    /// Each message declaration's version in the schema: (package, message) positions.
    messages: HashMap<usize, (usize, usize)>,
}

impl Index {
    pub fn build(analysis: &Analysis) -> Index {
        let loaded = &analysis.loaded;
        let mut index = Index::default();
        let package_of: HashMap<FileId, String> = loaded
            .files
            .iter()
            .filter_map(|f| Some((f.id, f.packages.first()?.name.name.clone())))
            .collect();
        for file in &loaded.files {
            let package = package_of.get(&file.id).cloned().unwrap_or_default();
            for item in &file.items {
                let (kind, version) = match &item.kind {
                    ast::ItemKind::Struct(_) => (Kind::Struct, None),
                    ast::ItemKind::Enum(_) => (Kind::Enum, None),
                    ast::ItemKind::Union(_) => (Kind::Union, None),
                    ast::ItemKind::Message(m) => (Kind::Message, m.version.as_ref().map(|v| v.1)),
                };
                index.decls.push(Decl {
                    kind,
                    name: item.name().name.clone(),
                    package: package.clone(),
                    file: file.id,
                    name_span: item.name().span,
                    item_span: item.span,
                    docs: item.docs.clone(),
                    version,
                    keyword: item.keyword(),
                });
            }
        }
        if let Some(schema) = analysis.schema() {
            let by_span: HashMap<Span, usize> = index
                .decls
                .iter()
                .enumerate()
                .filter(|(_, d)| d.kind == Kind::Message)
                .map(|(i, d)| (d.item_span, i))
                .collect();
            for (p, package) in schema.packages.iter().enumerate() {
                for (m, message) in package.messages.iter().enumerate() {
                    if let Some(&decl) = by_span.get(&message.span) {
                        index.messages.insert(decl, (p, m));
                    }
                }
            }
        }
        // Names a file can use: its own declarations first, then those of the
        // files it imports in import order, the first of a name winning (the
        // checker's scope rule; a clash is its diagnostic, not ours).
        let mut by_file: HashMap<FileId, Vec<usize>> = HashMap::new();
        for (i, d) in index.decls.iter().enumerate() {
            by_file.entry(d.file).or_default().push(i);
        }
        let mut next = 0;
        // Defaults that name a variant: (the word, the enum, the variant's
        // name), resolved once every variant is indexed (an imported enum's
        // file is indexed after the file that uses it).
        let mut defaults: Vec<(Span, usize, String)> = Vec::new();
        for file in &loaded.files {
            let mut scope: HashMap<&str, usize> = HashMap::new();
            let imported = loaded.imports.get(&file.id).into_iter().flatten();
            for source in std::iter::once(file.id).chain(imported.map(|(id, _)| *id)) {
                for &d in by_file.get(&source).into_iter().flatten() {
                    scope.entry(index.decls[d].name.as_str()).or_insert(d);
                }
            }
            let scope: HashMap<String, usize> =
                scope.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            for item in &file.items {
                let owner = next;
                next += 1;
                let mut fields = |index: &mut Index, fields: &[ast::Field]| {
                    for field in fields {
                        index.members.push(Member {
                            name: field.name.name.clone(),
                            span: field.name.span,
                            member_span: field.span,
                            ty: Some(field.ty.span),
                            docs: field.docs.clone(),
                            owner,
                            is_variant: false,
                        });
                        index.type_uses(&field.ty, &scope, owner);
                        if let (
                            Some(ast::Literal {
                                kind: ast::LiteralKind::Word(word),
                                span,
                                ..
                            }),
                            ast::TypeExprKind::Named(ty),
                        ) = (&field.default, &field.ty.kind)
                            && let Some(&target) = scope.get(&ty.name)
                            && index.decls[target].kind == Kind::Enum
                        {
                            defaults.push((*span, target, word.clone()));
                        }
                    }
                };
                match &item.kind {
                    ast::ItemKind::Struct(s) => fields(&mut index, &s.fields),
                    ast::ItemKind::Message(m) => fields(&mut index, &m.fields),
                    ast::ItemKind::Enum(e) => {
                        for v in &e.variants {
                            index
                                .members
                                .push(Member::variant(&v.name, v.span, &v.docs, owner));
                        }
                    }
                    ast::ItemKind::Union(u) => {
                        for v in &u.variants {
                            index
                                .members
                                .push(Member::variant(&v.name, v.span, &v.docs, owner));
                            fields(&mut index, v.fields.as_deref().unwrap_or_default());
                        }
                    }
                }
            }
        }
        let variants: HashMap<(usize, &str), usize> = index
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.is_variant)
            .map(|(i, m)| ((m.owner, m.name.as_str()), i))
            .collect();
        let variant_uses = defaults
            .into_iter()
            .filter_map(|(span, target, word)| {
                let member = *variants.get(&(target, word.as_str()))?;
                Some(VariantUse { span, member })
            })
            .collect();
        index.variant_uses = variant_uses;
        index
    }

    fn type_uses(&mut self, ty: &ast::TypeExpr, scope: &HashMap<String, usize>, owner: usize) {
        match &ty.kind {
            ast::TypeExprKind::Named(ident) => {
                if Type::primitive(&ident.name).is_none() {
                    self.uses.push(Use {
                        span: ident.span,
                        target: scope.get(&ident.name).copied(),
                        owner,
                    });
                }
            }
            ast::TypeExprKind::List(inner) | ast::TypeExprKind::Optional(inner, _) => {
                self.type_uses(inner, scope, owner);
            }
            ast::TypeExprKind::Map(key, value) => {
                self.type_uses(key, scope, owner);
                self.type_uses(value, scope, owner);
            }
        }
    }

    /// The message version a declaration is, in the checked schema.
    pub fn message_version<'a>(
        &self,
        analysis: &'a Analysis,
        decl: usize,
    ) -> Option<&'a MessageVersion> {
        let &(p, m) = self.messages.get(&decl)?;
        analysis.schema()?.packages.get(p)?.messages.get(m)
    }

    /// What is at a byte offset of a file.
    pub fn at(&self, file: FileId, offset: usize) -> Option<Hit> {
        let inside = |s: &Span| s.file == file && s.start <= offset && offset <= s.end;
        if let Some(u) = self.uses.iter().find(|u| inside(&u.span)) {
            return Some(Hit::Use(u.clone()));
        }
        if let Some(d) = self.decls.iter().position(|d| inside(&d.name_span)) {
            return Some(Hit::Decl(d));
        }
        if let Some(m) = self.members.iter().position(|m| inside(&m.span)) {
            return Some(Hit::Member(m, self.members[m].span));
        }
        if let Some(u) = self.variant_uses.iter().find(|u| inside(&u.span)) {
            return Some(Hit::Member(u.member, u.span));
        }
        None
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Hit {
    Use(Use),
    Decl(usize),
    /// A field or variant, and the span at the offset: its name, or a
    /// default that names the variant.
    Member(usize, Span),
}
