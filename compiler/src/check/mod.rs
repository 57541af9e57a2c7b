//! Validation and lowering: AST to IR, reporting every problem in one run.
//!
//! Checks are split by concern: [`names`] (what identifiers generated code can
//! carry), [`recursion`] (types that could never be written out) and this
//! module (declarations, scopes, type resolution, values, headers).

pub(crate) mod constraints;
mod defaults;
mod names;
mod recursion;

pub use names::{is_rust_keyword, pascal_case, screaming_snake};

use crate::ast;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::header::{self, Header, HeaderError};
use crate::ir;
use crate::loader::Loaded;
use crate::shape;
use crate::source::{FileId, SourceMap, Span};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Highest message version accepted; versions are small counters, and a
/// bound keeps generated names sane.
pub const MAX_VERSION: u32 = 65_535;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeclKind {
    Struct,
    Enum,
    Union,
    Message,
}

#[derive(Debug, Clone, Copy)]
struct Decl {
    kind: DeclKind,
    span: Span,
}

struct Checker<'a> {
    loaded: &'a Loaded,
    diagnostics: &'a mut Vec<Diagnostic>,
    /// Package of every file that declared one.
    file_package: HashMap<FileId, String>,
    /// Every struct, enum, union and message name, per package.
    decls: HashMap<(String, String), Decl>,
}

/// Checks everything that was loaded and lowers it to IR. The IR is returned
/// even when errors were reported (it is then incomplete); callers look at the
/// diagnostics before trusting it.
pub fn check(
    _sources: &SourceMap,
    loaded: &Loaded,
    diagnostics: &mut Vec<Diagnostic>,
) -> ir::Schema {
    let mut checker = Checker {
        loaded,
        diagnostics,
        file_package: HashMap::new(),
        decls: HashMap::new(),
    };
    checker.packages();
    checker.declarations();
    let schema = checker.lower();
    recursion::check(&schema, checker.diagnostics);
    schema
}

impl<'a> Checker<'a> {
    fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    fn packages(&mut self) {
        for file in &self.loaded.files {
            let Some(package) = file.packages.first() else {
                self.diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::MissingPackage,
                        "missing `package` declaration",
                    )
                    .at(
                        Span::new(file.id, 0, 0),
                        "expected `package NAME;` first in the file",
                    )
                    .with_help("start the file with a line such as `package chat;`"),
                );
                continue;
            };
            for extra in &file.packages[1..] {
                self.diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::DuplicatePackage,
                        "a file declares one package",
                    )
                    .at(extra.span, "second `package` declaration")
                    .with_label(package.span, "first declared here"),
                );
            }
            if let Some(problem) = names::package_name_problem(&package.name.name) {
                self.diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::InvalidPackageName,
                        format!("invalid package name `{}`", package.name.name),
                    )
                    .at(package.name.span, problem),
                );
            }
            let first_other = file
                .imports
                .iter()
                .map(|i| i.span)
                .chain(file.items.iter().map(|i| i.span))
                .filter(|s| s.start < package.span.start)
                .min_by_key(|s| s.start);
            if let Some(span) = first_other {
                self.diagnostics.push(
                    Diagnostic::error(
                        DiagnosticCode::PackageTooLate,
                        "`package` must come before imports and declarations",
                    )
                    .at(package.span, "declared too late")
                    .with_label(span, "this comes before it"),
                );
            }
            if let Some(first_item) = file.items.iter().map(|i| i.span.start).min() {
                for import in file.imports.iter().filter(|i| i.span.start > first_item) {
                    self.diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::ImportAfterDeclaration,
                            "imports come before declarations",
                        )
                        .at(import.span, "move this import above the first declaration"),
                    );
                }
            }
            self.file_package.insert(file.id, package.name.name.clone());
        }
    }

    fn declarations(&mut self) {
        let mut messages_by_package: HashMap<(String, String), Span> = HashMap::new();
        for file in &self.loaded.files {
            let Some(package) = self.file_package.get(&file.id).cloned() else {
                continue;
            };
            let is_root = self.loaded.roots.contains(&file.id);
            for item in &file.items {
                let name = item.name();
                if name.name.is_empty() {
                    continue;
                }
                if let Some(problem) = names::type_name_problem(&name.name) {
                    self.diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::InvalidDeclarationName,
                            format!("invalid {} name `{}`", item.keyword(), name.name),
                        )
                        .at(name.span, problem),
                    );
                }
                let kind = match item.kind {
                    ast::ItemKind::Struct(_) => DeclKind::Struct,
                    ast::ItemKind::Enum(_) => DeclKind::Enum,
                    ast::ItemKind::Union(_) => DeclKind::Union,
                    ast::ItemKind::Message(_) => DeclKind::Message,
                };
                if kind == DeclKind::Message {
                    if !is_root {
                        continue;
                    }
                    // Versions of one message share a name; only the first declaration counts as the name's owner.
                    let key = (package.clone(), name.name.clone());
                    messages_by_package.entry(key.clone()).or_insert(name.span);
                    if let Some(existing) =
                        self.decls.get(&key).filter(|d| d.kind != DeclKind::Message)
                    {
                        let existing = *existing;
                        self.duplicate(name, existing.span);
                    } else {
                        self.decls.entry(key).or_insert(Decl {
                            kind,
                            span: name.span,
                        });
                    }
                    continue;
                }
                let key = (package.clone(), name.name.clone());
                if let Some(existing) = self.decls.get(&key).copied() {
                    self.duplicate(name, existing.span);
                    continue;
                }
                self.decls.insert(
                    key,
                    Decl {
                        kind,
                        span: name.span,
                    },
                );
            }
        }
        // `RenderUi v1` generates `RenderUiV1`; a type of that name would collide with it.
        let mut versions = HashMap::new();
        for (package, items) in self.root_files() {
            for item in items {
                if let ast::ItemKind::Message(m) = &item.kind {
                    let version = parse_version(m).unwrap_or(1);
                    let generated = format!("{}V{}", m.name.name, version);
                    versions.insert((package.clone(), generated.clone()), m.name.span);
                    if let Some(decl) = self
                        .decls
                        .get(&(package.clone(), generated.clone()))
                        .copied()
                    {
                        self.diagnostics.push(
                            Diagnostic::error(
                                DiagnosticCode::GeneratedNameClash,
                                format!("`{generated}` is both a declared type and the generated name of a message version"),
                            )
                            .at(decl.span, "declared here")
                            .with_label(m.name.span, format!("`{} v{version}` generates `{generated}`", m.name.name))
                            .with_help("rename the type"),
                        );
                    }
                }
            }
        }
        self.check_view_names(&versions);
    }

    /// `Row` generates a borrowed view `RowRef` in Rust, and `Chat v1` a
    /// view `ChatV1Ref`, when they hold a string or bytes. The name is kept
    /// for the view whether or not the type holds one today, so that adding
    /// a string field later never makes a schema that compiled stop
    /// compiling.
    fn check_view_names(&mut self, versions: &HashMap<(String, String), Span>) {
        for (package, items) in self.root_files() {
            for item in items {
                if matches!(item.kind, ast::ItemKind::Message(_)) {
                    continue;
                }
                let name = item.name();
                let Some(base) = name.name.strip_suffix("Ref").filter(|b| !b.is_empty()) else {
                    continue;
                };
                let key = (package.clone(), base.to_owned());
                let owner = match self.decls.get(&key) {
                    Some(decl) if decl.kind != DeclKind::Message => Some((
                        decl.span,
                        format!("`{base}`'s borrowed view in Rust is `{}`", name.name),
                    )),
                    _ => versions.get(&key).map(|span| {
                        (
                            *span,
                            format!(
                                "the message version `{base}`'s borrowed view in Rust is `{}`",
                                name.name
                            ),
                        )
                    }),
                };
                if let Some((span, label)) = owner {
                    self.diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::GeneratedNameClash,
                            format!(
                                "`{}` is both a declared type and the generated name of `{base}`'s borrowed view",
                                name.name
                            ),
                        )
                        .at(name.span, "declared here")
                        .with_label(span, label)
                        .with_help("rename the type"),
                    );
                }
            }
        }
    }

    /// The items of each root file with a package, and the package's name:
    /// what generated code is made from.
    fn root_files(&self) -> Vec<(String, &'a [ast::Item])> {
        let loaded = self.loaded;
        loaded
            .files
            .iter()
            .filter(|file| loaded.roots.contains(&file.id))
            .filter_map(|file| {
                let package = self.file_package.get(&file.id)?.clone();
                Some((package, file.items.as_slice()))
            })
            .collect()
    }

    fn duplicate(&mut self, name: &ast::Ident, first: Span) {
        self.diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::DuplicateName,
                format!("the name `{}` is declared twice", name.name),
            )
            .at(name.span, "declared again here")
            .with_label(first, "first declared here"),
        );
    }

    /// The type names a file can refer to: its own declarations and those of the files it imports.
    fn scope(&mut self, file: &ast::File) -> HashMap<String, (ir::TypeRef, DeclKind)> {
        let mut scope: HashMap<String, (ir::TypeRef, DeclKind)> = HashMap::new();
        let mut origin: HashMap<String, Span> = HashMap::new();
        let imported = self.loaded.imports.get(&file.id).into_iter().flatten();
        let sources: Vec<(FileId, Option<Span>)> = std::iter::once((file.id, None))
            .chain(imported.map(|(id, site)| (*id, Some(*site))))
            .collect();
        for (source_id, import_site) in sources {
            let Some(source) = self.loaded.files.iter().find(|f| f.id == source_id) else {
                continue;
            };
            let Some(package) = self.file_package.get(&source_id).cloned() else {
                continue;
            };
            for item in &source.items {
                let kind = match item.kind {
                    ast::ItemKind::Struct(_) => DeclKind::Struct,
                    ast::ItemKind::Enum(_) => DeclKind::Enum,
                    ast::ItemKind::Union(_) => DeclKind::Union,
                    ast::ItemKind::Message(_) => DeclKind::Message,
                };
                let name = item.name().name.clone();
                let reference = ir::TypeRef {
                    package: package.clone(),
                    name: name.clone(),
                };
                if let Some((existing, _)) = scope.get(&name) {
                    if existing.package != package
                        && let Some(site) = import_site
                    {
                        self.diagnostics.push(
                            Diagnostic::error(
                                DiagnosticCode::DeclaredInTwoPackages,
                                format!(
                                    "`{name}` is declared in both `{}` and `{package}`",
                                    existing.package
                                ),
                            )
                            .at(site, format!("this import brings in another `{name}`"))
                            .with_label(origin[&name], "the one already in scope")
                            .with_help("rename one of the two types"),
                        );
                    }
                    continue;
                }
                origin.insert(name.clone(), item.name().span);
                scope.insert(name, (reference, kind));
            }
        }
        scope
    }

    fn lower(&mut self) -> ir::Schema {
        let mut packages: BTreeMap<String, ir::Package> = BTreeMap::new();
        let files: Vec<&ast::File> = self.loaded.files.iter().map(AsRef::as_ref).collect();
        for file in files {
            let Some(package_name) = self.file_package.get(&file.id).cloned() else {
                continue;
            };
            let is_root = self.loaded.roots.contains(&file.id);
            let scope = self.scope(file);
            let package = packages
                .entry(package_name.clone())
                .or_insert_with(|| ir::Package {
                    name: package_name.clone(),
                    ..ir::Package::default()
                });
            if is_root && package.docs.is_empty() {
                package.docs = file
                    .packages
                    .first()
                    .map(|p| p.docs.clone())
                    .unwrap_or_default();
            }
            let mut lowered_types = Vec::new();
            let mut lowered_messages = Vec::new();
            for item in &file.items {
                match &item.kind {
                    ast::ItemKind::Struct(s) => {
                        let fields = self.fields(&s.fields, &scope, "struct");
                        lowered_types.push(type_def(
                            item,
                            &s.name,
                            ir::TypeDefKind::Struct(fields),
                        ));
                    }
                    ast::ItemKind::Enum(e) => {
                        let variants = self.enum_variants(e);
                        lowered_types.push(type_def(
                            item,
                            &e.name,
                            ir::TypeDefKind::Enum(variants),
                        ));
                    }
                    ast::ItemKind::Union(u) => {
                        let variants = self.union_variants(u, &scope);
                        lowered_types.push(type_def(
                            item,
                            &u.name,
                            ir::TypeDefKind::Union(variants),
                        ));
                    }
                    ast::ItemKind::Message(m) if is_root => {
                        if let Some(message) = self.message(file.id, item, m, &scope) {
                            lowered_messages.push(message);
                        }
                    }
                    ast::ItemKind::Message(_) => {}
                }
            }
            let package = packages.get_mut(&package_name).expect("inserted above");
            package.types.extend(lowered_types);
            package.messages.extend(lowered_messages);
        }
        let mut schema = ir::Schema {
            packages: packages.into_values().collect(),
        };
        self.message_rules(&schema);
        for package in &mut schema.packages {
            let mut dependencies = BTreeSet::new();
            let mut visit = |ty: &ir::Type| collect_packages(ty, &mut dependencies);
            for def in &package.types {
                for field in def_fields(def) {
                    visit(&field.ty);
                }
            }
            for message in &package.messages {
                for field in &message.fields {
                    visit(&field.ty);
                }
            }
            dependencies.remove(&package.name);
            package.dependencies = dependencies.into_iter().collect();
        }
        let shapes = shape::Shapes::new(&schema);
        let computed: Vec<Vec<(String, String)>> = schema
            .packages
            .iter()
            .map(|p| p.messages.iter().map(|m| shapes.message(m)).collect())
            .collect();
        for (package, shapes) in schema.packages.iter_mut().zip(computed) {
            for (message, (display, fingerprint)) in package.messages.iter_mut().zip(shapes) {
                message.shape = display;
                message.fingerprint = fingerprint;
            }
        }
        schema
    }

    /// Rules across versions of one package's messages: duplicate versions and pinned headers.
    fn message_rules(&mut self, schema: &ir::Schema) {
        for package in &schema.packages {
            let mut versions: HashMap<(&str, u32), Span> = HashMap::new();
            let mut pins: HashMap<Header, Span> = HashMap::new();
            // Generated code names a constant per version (`RENDER_UI_V2`); two
            // spellings of one name (`FooBar`, `Foo_bar`) would collide there.
            let mut constants: HashMap<String, (&str, u32, Span)> = HashMap::new();
            // Every version of one name is a message, or every one a presence
            // state: a peer converting between versions must not turn one into the other.
            let mut kinds: HashMap<&str, &ir::MessageVersion> = HashMap::new();
            for message in &package.messages {
                let first = *kinds.entry(&message.name).or_insert(message);
                if first.presence != message.presence {
                    let word =
                        |m: &ir::MessageVersion| if m.presence { "presence" } else { "message" };
                    self.error(
                        Diagnostic::error(
                            DiagnosticCode::PresenceMixed,
                            format!("`{}` is declared both as a `message` and as a `presence`", message.name),
                        )
                        .at(message.span, format!("v{} is a `{}`", message.version, word(message)))
                        .with_label(first.span, format!("v{} is a `{}`", first.version, word(first)))
                        .with_help(format!("declare every version of `{}` with `{}`, or give the other one its own name", message.name, word(first))),
                    );
                }
                let constant = screaming_snake(&message.type_name());
                match constants.get(&constant) {
                    Some((name, version, first)) if *name != message.name => {
                        self.error(
                            Diagnostic::error(
                                DiagnosticCode::GeneratedConstantClash,
                                format!(
                                    "`{} v{}` and `{name} v{version}` both become the constant `{constant}` in generated code",
                                    message.name, message.version
                                ),
                            )
                            .at(message.span, "declared here")
                            .with_label(*first, "the other one")
                            .with_help("rename one of the two messages"),
                        );
                    }
                    Some(_) => {}
                    None => {
                        constants.insert(constant, (&message.name, message.version, message.span));
                    }
                }
                if let Some(first) = versions.insert((&message.name, message.version), message.span)
                {
                    self.error(
                        Diagnostic::error(
                            DiagnosticCode::DuplicateMessageVersion,
                            format!("`{} v{}` is declared twice", message.name, message.version),
                        )
                        .at(message.span, "declared again here")
                        .with_label(first, "first declared here")
                        .with_help(format!(
                            "to change a message, declare a new version: `message {} v{}`",
                            message.name,
                            message.version + 1
                        )),
                    );
                }
                if let Some(pin) = message.pinned
                    && let Some(first) = pins.insert(pin, message.span)
                {
                    self.error(
                        Diagnostic::error(
                            DiagnosticCode::HeaderPinnedTwice,
                            format!("header `{pin}` is pinned twice"),
                        )
                        .at(message.span, "pinned again here")
                        .with_label(first, "first pinned here"),
                    );
                }
            }
        }
    }

    fn message(
        &mut self,
        file: FileId,
        item: &ast::Item,
        m: &ast::Message,
        scope: &Scope,
    ) -> Option<ir::MessageVersion> {
        let version = match &m.version {
            None => 1,
            Some((text, span)) => match parse_version(m) {
                Some(v) => v,
                None => {
                    self.error(
                        Diagnostic::error(
                            DiagnosticCode::InvalidVersion,
                            format!("invalid version `{text}`"),
                        )
                        .at(*span, format!("versions run from v1 to v{MAX_VERSION}")),
                    );
                    return None;
                }
            },
        };
        if m.presence {
            self.presence_modifiers(m);
        }
        let direction = match m.direction {
            _ if m.presence => ir::Direction::Both,
            None => ir::Direction::Both,
            Some((ast::Direction::Server, _)) => ir::Direction::Server,
            Some((ast::Direction::Client, _)) => ir::Direction::Client,
        };
        let pinned = match &m.header {
            None => None,
            Some((text, span)) => match header::parse(text) {
                Ok(h) => Some(h),
                Err(HeaderError::Reserved) => {
                    self.error(
                        Diagnostic::error(DiagnosticCode::ReservedHeader, format!("header `{text}` is reserved"))
                            .at(*span, "headers starting with `_` belong to the runtime's control messages")
                            .with_help("pin a header that starts with a letter, a digit or `-`, or leave it out"),
                    );
                    None
                }
                Err(e) => {
                    self.error(
                        Diagnostic::error(DiagnosticCode::MalformedHeader, format!("malformed header `{}`", text.escape_debug()))
                            .at(*span, e.to_string())
                            .with_help("a header is two characters from a-z, A-Z, 0-9, `-` and `_`, such as `@\"ab\"`"),
                    );
                    None
                }
            },
        };
        let fields = self.fields(&m.fields, scope, "message");
        let rate = if m.presence {
            None
        } else {
            constraints::rate(self.diagnostics, m, direction)
        };
        Some(ir::MessageVersion {
            name: m.name.name.clone(),
            version,
            docs: item.docs.clone(),
            direction,
            pinned,
            header: None,
            fields,
            rate,
            presence: m.presence,
            file,
            span: item.span,
            shape: String::new(),
            fingerprint: String::new(),
        })
    }

    /// A presence state travels both ways, and the server already coalesces
    /// it (one write per member per interval), so neither a direction nor a
    /// `@rate` means anything on it: saying so beats ignoring what was written.
    fn presence_modifiers(&mut self, m: &ast::Message) {
        if let Some((_, span)) = m.direction {
            self.error(
                Diagnostic::error(
                    DiagnosticCode::PresenceModifier,
                    format!("the presence state `{}` has a direction", m.name.name),
                )
                .at(span, "a presence state travels both ways")
                .with_help("remove the direction"),
            );
        }
        for rate in &m.rate {
            self.error(
                Diagnostic::error(
                    DiagnosticCode::PresenceModifier,
                    format!("the presence state `{}` has a `@rate`", m.name.name),
                )
                .at(rate.span, "the server coalesces presence updates instead")
                .with_help("remove it; the server's `presence_interval` bounds how often a member's state is written"),
            );
        }
    }

    fn fields(&mut self, fields: &[ast::Field], scope: &Scope, owner: &str) -> Vec<ir::Field> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        let mut out = Vec::with_capacity(fields.len());
        for field in fields {
            if let Some(first) = seen.insert(&field.name.name, field.name.span) {
                self.error(
                    Diagnostic::error(
                        DiagnosticCode::DuplicateField,
                        format!(
                            "the field `{}` is declared twice in this {owner}",
                            field.name.name
                        ),
                    )
                    .at(field.name.span, "declared again here")
                    .with_label(first, "first declared here"),
                );
            }
            if let Some(problem) = names::member_name_problem(&field.name.name) {
                self.error(
                    Diagnostic::error(
                        DiagnosticCode::InvalidMemberName,
                        format!("invalid field name `{}`", field.name.name),
                    )
                    .at(field.name.span, problem),
                );
            }
            if let Some(ty) = self.resolve(&field.ty, scope) {
                let checks = constraints::checks(self.diagnostics, &field.ty, &ty);
                let default = if field.default.is_some() {
                    let variants = match &ty {
                        ir::Type::Named(r) => Some(self.enum_variant_names(r)),
                        _ => None,
                    };
                    let named = variants.as_ref().map(|v| match v {
                        Some(names) => defaults::Named::Enum(names),
                        None => defaults::Named::Other,
                    });
                    defaults::default(self.diagnostics, field, &ty, &checks, named, owner)
                } else {
                    None
                };
                out.push(ir::Field {
                    name: field.name.name.clone(),
                    docs: field.docs.clone(),
                    ty,
                    span: field.span,
                    checks,
                    default,
                });
            }
        }
        out
    }

    /// The variant names of `r` when it is an enum (as declared, before its own checks).
    fn enum_variant_names(&self, r: &ir::TypeRef) -> Option<Vec<String>> {
        self.loaded
            .files
            .iter()
            .filter(|f| self.file_package.get(&f.id) == Some(&r.package))
            .flat_map(|f| &f.items)
            .find_map(|item| match &item.kind {
                ast::ItemKind::Enum(e) if e.name.name == r.name => {
                    Some(e.variants.iter().map(|v| v.name.name.clone()).collect())
                }
                _ => None,
            })
    }

    fn resolve(&mut self, ty: &ast::TypeExpr, scope: &Scope) -> Option<ir::Type> {
        match &ty.kind {
            ast::TypeExprKind::Named(ident) => {
                if ident.name.is_empty() {
                    return None;
                }
                if let Some(primitive) = ir::Type::primitive(&ident.name) {
                    return Some(primitive);
                }
                match scope.get(&ident.name) {
                    Some((_, DeclKind::Message)) => {
                        self.error(
                            Diagnostic::error(DiagnosticCode::MessageUsedAsType, format!("`{}` is a message, not a type", ident.name))
                                .at(ident.span, "messages cannot be used as field types")
                                .with_help("declare a struct with the fields both need and use it in the message"),
                        );
                        None
                    }
                    Some((reference, _)) => Some(ir::Type::Named(reference.clone())),
                    None => {
                        let primitives = ir::Type::primitive_names().map(|name| -> &str { name });
                        let candidates = primitives.chain(
                            scope
                                .iter()
                                .filter(|(_, (_, k))| *k != DeclKind::Message)
                                .map(|(n, _)| n.as_str()),
                        );
                        let mut d = Diagnostic::error(
                            DiagnosticCode::UnknownType,
                            format!("unknown type `{}`", ident.name),
                        )
                        .at(ident.span, "not declared in this file or its imports");
                        if let Some(suggestion) = names::closest(&ident.name, candidates) {
                            d = d.with_help(format!("did you mean `{suggestion}`?"));
                        } else if let Some(fix) = foreign_type_hint(&ident.name) {
                            d = d.with_help(fix);
                        }
                        self.error(d);
                        None
                    }
                }
            }
            ast::TypeExprKind::List(inner) => {
                Some(ir::Type::List(Box::new(self.resolve(inner, scope)?)))
            }
            ast::TypeExprKind::Map(key, value) => {
                let key_type = self.resolve(key, scope);
                let value_type = self.resolve(value, scope);
                let key_type = key_type?;
                if !key_type.is_valid_map_key() {
                    self.error(
                        Diagnostic::error(DiagnosticCode::InvalidMapKey, "invalid map key type")
                            .at(key.span, "map keys must be `string` or an integer type")
                            .with_note("keys are written in ascending order, which needs an order every language agrees on"),
                    );
                    return None;
                }
                Some(ir::Type::Map(Box::new(key_type), Box::new(value_type?)))
            }
            ast::TypeExprKind::Optional(inner, mark) => {
                if let ast::TypeExprKind::Optional(_, _) = inner.kind {
                    self.error(
                        Diagnostic::error(DiagnosticCode::NestedOptional, "an optional cannot be optional again")
                            .at(*mark, "remove this `?`")
                            .with_note("`T??` would need two kinds of absent, which no encoding can tell apart"),
                    );
                    return self.resolve(inner, scope);
                }
                Some(ir::Type::Optional(Box::new(self.resolve(inner, scope)?)))
            }
        }
    }

    fn enum_variants(&mut self, e: &ast::Enum) -> Vec<ir::EnumVariant> {
        if e.variants.is_empty() {
            self.error(
                Diagnostic::error(
                    DiagnosticCode::EmptyEnum,
                    format!("enum `{}` has no variants", e.name.name),
                )
                .at(
                    e.name.span,
                    "an enum needs at least one variant, or no value could be sent",
                ),
            );
        }
        self.variant_names(e.variants.iter().map(|v| &v.name));
        let mut next: Option<u64> = Some(0);
        let mut values: HashMap<u32, Span> = HashMap::new();
        let mut out = Vec::new();
        for variant in &e.variants {
            let value = match &variant.value {
                Some((text, span)) => match text.parse::<u32>() {
                    Ok(v) => Some((v, *span)),
                    Err(_) => {
                        self.error(
                            Diagnostic::error(
                                DiagnosticCode::EnumValueOutOfRange,
                                format!("enum value `{text}` is out of range"),
                            )
                            .at(
                                *span,
                                format!("enum values are whole numbers from 0 to {}", u32::MAX),
                            ),
                        );
                        None
                    }
                },
                None => match next.and_then(|n| u32::try_from(n).ok()) {
                    Some(v) => Some((v, variant.name.span)),
                    None => {
                        self.error(
                            Diagnostic::error(
                                DiagnosticCode::EnumValueOutOfRange,
                                format!(
                                    "the value of `{}` would be {}",
                                    variant.name.name,
                                    u64::from(u32::MAX) + 1
                                ),
                            )
                            .at(
                                variant.name.span,
                                "the previous value is the largest an enum can hold",
                            )
                            .with_help("give this variant an explicit value"),
                        );
                        None
                    }
                },
            };
            let Some((value, span)) = value else {
                next = None;
                continue;
            };
            next = Some(u64::from(value) + 1);
            if let Some(first) = values.insert(value, span) {
                self.error(
                    Diagnostic::error(
                        DiagnosticCode::DuplicateEnumValue,
                        format!("enum value {value} is used twice in `{}`", e.name.name),
                    )
                    .at(span, format!("`{}` = {value}", variant.name.name))
                    .with_label(first, "also this value"),
                );
            }
            out.push(ir::EnumVariant {
                name: variant.name.name.clone(),
                docs: variant.docs.clone(),
                value,
            });
        }
        out
    }

    fn union_variants(&mut self, u: &ast::Union, scope: &Scope) -> Vec<ir::UnionVariant> {
        if u.variants.is_empty() {
            self.error(
                Diagnostic::error(
                    DiagnosticCode::EmptyUnion,
                    format!("union `{}` has no variants", u.name.name),
                )
                .at(
                    u.name.span,
                    "a union needs at least one variant, or no value could be sent",
                ),
            );
        }
        self.variant_names(u.variants.iter().map(|v| &v.name));
        u.variants
            .iter()
            .enumerate()
            .map(|(index, variant)| ir::UnionVariant {
                name: variant.name.name.clone(),
                docs: variant.docs.clone(),
                index: u32::try_from(index).unwrap_or(u32::MAX),
                fields: variant
                    .fields
                    .as_ref()
                    .map(|f| self.fields(f, scope, "variant"))
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Variant names must be distinct as written and as Rust spells them (`my_a` and `myA` are both `MyA`).
    fn variant_names<'b>(&mut self, names: impl Iterator<Item = &'b ast::Ident>) {
        let mut seen: HashMap<String, &ast::Ident> = HashMap::new();
        for name in names {
            if let Some(problem) = names::member_name_problem(&name.name) {
                self.error(
                    Diagnostic::error(
                        DiagnosticCode::InvalidMemberName,
                        format!("invalid variant name `{}`", name.name),
                    )
                    .at(name.span, problem),
                );
            }
            let key = pascal_case(&name.name);
            if let Some(first) = seen.get(&key) {
                let message = if first.name == name.name {
                    format!("the variant `{}` is declared twice", name.name)
                } else {
                    format!(
                        "variants `{}` and `{}` both become `{key}` in generated code",
                        first.name, name.name
                    )
                };
                self.error(
                    Diagnostic::error(DiagnosticCode::DuplicateVariant, message)
                        .at(name.span, "declared again here")
                        .with_label(first.span, "first declared here"),
                );
                continue;
            }
            seen.insert(key, name);
        }
    }
}

type Scope = HashMap<String, (ir::TypeRef, DeclKind)>;

/// Names people bring from other schema languages, and what they are called here.
fn foreign_type_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "int" | "int32" | "integer" => {
            "integers are written with their width: `i32`, `u32`, `i64`, …"
        }
        "int64" | "long" => "use `i64`",
        "uint32" => "use `u32`",
        "uint64" => "use `u64`",
        "float" => "use `f32`",
        "double" | "number" => "use `f64`",
        "boolean" => "use `bool`",
        "str" | "String" | "text" => "use `string`",
        "byte" => "use `u8`",
        "Bytes" | "blob" | "buffer" => "use `bytes`",
        _ => return None,
    })
}

fn parse_version(m: &ast::Message) -> Option<u32> {
    match &m.version {
        None => Some(1),
        Some((text, _)) => text
            .strip_prefix('v')
            .and_then(|digits| digits.parse::<u32>().ok())
            .filter(|v| (1..=MAX_VERSION).contains(v)),
    }
}

fn type_def(item: &ast::Item, name: &ast::Ident, kind: ir::TypeDefKind) -> ir::TypeDef {
    ir::TypeDef {
        name: name.name.clone(),
        docs: item.docs.clone(),
        kind,
        span: item.span,
    }
}

/// Every field of a type definition, including those of union variants.
pub(crate) fn def_fields(def: &ir::TypeDef) -> Box<dyn Iterator<Item = &ir::Field> + '_> {
    match &def.kind {
        ir::TypeDefKind::Struct(fields) => Box::new(fields.iter()),
        ir::TypeDefKind::Enum(_) => Box::new(std::iter::empty()),
        ir::TypeDefKind::Union(variants) => Box::new(variants.iter().flat_map(|v| v.fields.iter())),
    }
}

fn collect_packages(ty: &ir::Type, out: &mut BTreeSet<String>) {
    match ty {
        ir::Type::List(inner) | ir::Type::Optional(inner) => collect_packages(inner, out),
        ir::Type::Map(key, value) => {
            collect_packages(key, out);
            collect_packages(value, out);
        }
        ir::Type::Named(r) => {
            out.insert(r.package.clone());
        }
        _ => {}
    }
}
