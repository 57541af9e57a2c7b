//! Reads root schemas and, transitively, the files they import.

use crate::ast;
use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::source::{FileId, Overlay, SourceMap, Span};
use crate::syntax::{self, ParseCache};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every file parsed, in load order, and which were named by the user.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Shared with the parse cache, which hands out a file's tree again while its text is unchanged.
    pub files: Vec<Arc<ast::File>>,
    pub roots: Vec<FileId>,
    /// For each file, the files its imports resolved to, with the import's span.
    pub imports: HashMap<FileId, Vec<(FileId, Span)>>,
    /// Files a root or an import named that could not be read (missing, not
    /// UTF-8, unreadable): the result depends on them too, as a watcher must know.
    pub unread: Vec<PathBuf>,
}

#[derive(Debug)]
pub struct Loader<'a> {
    sources: &'a mut SourceMap,
    diagnostics: &'a mut Vec<Diagnostic>,
    loaded: Loaded,
    by_path: HashMap<PathBuf, FileId>,
    /// Files whose imports are being followed: an import of one of them is a cycle.
    stack: Vec<FileId>,
    /// Texts that override the disk (an editor's unsaved files).
    files: Option<&'a Overlay>,
    /// Parse results of earlier runs, reused for files whose text is unchanged.
    cache: Option<&'a ParseCache>,
}

impl<'a> Loader<'a> {
    pub fn new(sources: &'a mut SourceMap, diagnostics: &'a mut Vec<Diagnostic>) -> Self {
        Loader {
            sources,
            diagnostics,
            loaded: Loaded::default(),
            by_path: HashMap::new(),
            stack: Vec::new(),
            files: None,
            cache: None,
        }
    }

    /// Reads files through `files` first, then from disk.
    pub fn with_files(mut self, files: &'a Overlay) -> Self {
        self.files = Some(files);
        self
    }

    /// Reuses the parses in `cache` and keeps new ones there.
    pub fn with_cache(mut self, cache: &'a ParseCache) -> Self {
        self.cache = Some(cache);
        self
    }

    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        match self.files {
            Some(files) => files.canonicalize(path),
            None => std::fs::canonicalize(path),
        }
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.files {
            Some(files) => files.read(path),
            None => std::fs::read(path),
        }
    }

    /// Loads a root schema from disk. Roots are sorted by the caller so that
    /// headers handed out in one run never depend on argument order.
    pub fn load_root(&mut self, path: &Path) {
        let canonical = match self.canonicalize(path) {
            Ok(p) => p,
            Err(e) => {
                self.diagnostics.push(Diagnostic::error(
                    DiagnosticCode::CannotReadFile,
                    format!("cannot read `{}`: {e}", shown(path)),
                ));
                self.loaded.unread.push(path.to_path_buf());
                return;
            }
        };
        if let Some(id) = self.load_path(&canonical, None)
            && !self.loaded.roots.contains(&id)
        {
            self.loaded.roots.push(id);
        }
    }

    /// Loads a root schema from text already in memory (tests, editors).
    pub fn load_root_text(&mut self, path: &Path, text: String) {
        if let Some(id) = self.parse_and_follow(path.to_path_buf(), text) {
            self.loaded.roots.push(id);
        }
    }

    pub fn finish(self) -> Loaded {
        self.loaded
    }

    fn load_path(&mut self, canonical: &Path, import_site: Option<Span>) -> Option<FileId> {
        if let Some(&id) = self.by_path.get(canonical) {
            if self.stack.contains(&id) {
                let mut cycle: Vec<String> = self
                    .stack
                    .iter()
                    .skip_while(|f| **f != id)
                    .map(|f| self.sources.get(*f).name.clone())
                    .collect();
                cycle.push(self.sources.get(id).name.clone());
                let mut d = Diagnostic::error(DiagnosticCode::ImportCycle, "import cycle")
                    .with_note(format!("cycle: {}", cycle.join(" → ")));
                if let Some(span) = import_site {
                    d = d.at(span, "this import leads back to a file that imports it");
                }
                self.diagnostics
                    .push(d.with_help("move the shared types into a file that both import"));
            }
            return Some(id);
        }
        let text = match self.read(canonical) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let mut d = Diagnostic::error(
                        DiagnosticCode::NotUtf8,
                        format!(
                            "`{}` is not valid UTF-8 (invalid byte at offset {})",
                            shown(canonical),
                            e.utf8_error().valid_up_to()
                        ),
                    );
                    if let Some(span) = import_site {
                        d = d.at(span, "imported here");
                    }
                    self.diagnostics.push(d);
                    self.loaded.unread.push(canonical.to_path_buf());
                    return None;
                }
            },
            Err(e) => {
                let mut d = Diagnostic::error(
                    DiagnosticCode::CannotReadFile,
                    format!("cannot read `{}`: {e}", shown(canonical)),
                );
                if let Some(span) = import_site {
                    d = d.at(span, "imported here");
                }
                self.diagnostics.push(d);
                return None;
            }
        };
        self.parse_and_follow(canonical.to_path_buf(), text)
    }

    fn parse_and_follow(&mut self, path: PathBuf, text: String) -> Option<FileId> {
        let id = self.sources.add(path.clone(), text);
        self.by_path.insert(path.clone(), id);
        let text = &self.sources.get(id).text;
        let parsed = match self.cache {
            Some(cache) => cache.parse(&path, id, text),
            None => syntax::parse(id, text).map(Arc::new),
        };
        let file = match parsed {
            Ok(file) => file,
            Err(d) => {
                let mut d = *d;
                if d.span.is_none() {
                    d = d.at(Span::new(id, 0, 0), "in this file");
                }
                self.diagnostics.push(d);
                return Some(id);
            }
        };
        let directory = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let imports: Vec<(String, Span)> = file
            .imports
            .iter()
            .map(|i| (i.path.clone(), i.path_span))
            .collect();
        self.loaded.files.push(file);
        self.stack.push(id);
        let mut resolved = Vec::new();
        for (relative, span) in imports {
            let target = directory.join(&relative);
            match self.canonicalize(&target) {
                Ok(canonical) => {
                    if let Some(imported) = self.load_path(&canonical, Some(span)) {
                        if resolved.iter().any(|(f, _)| *f == imported) {
                            self.diagnostics.push(
                                Diagnostic::warning(
                                    DiagnosticCode::DuplicateImport,
                                    format!("`{relative}` is imported twice"),
                                )
                                .at(span, "already imported above"),
                            );
                        }
                        resolved.push((imported, span));
                    }
                }
                Err(_) => {
                    self.diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::ImportNotFound,
                            format!("cannot find imported file `{relative}`"),
                        )
                        .at(span, "no such file")
                        .with_note(
                            "imports are resolved relative to the folder of the importing file",
                        ),
                    );
                    self.loaded.unread.push(target);
                }
            }
        }
        self.stack.pop();
        self.loaded.imports.insert(id, resolved);
        Some(id)
    }
}

/// A path as messages show it: relative to the working directory when below
/// it, as the user typed it (the driver makes root paths absolute).
fn shown(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
