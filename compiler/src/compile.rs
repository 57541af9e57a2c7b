//! The front-end pipeline in one call: load, parse, check, assign headers.

use crate::check;
use crate::diagnostic::{self, Diagnostic};
use crate::ir::Schema;
use crate::loader::{Loaded, Loader};
use crate::lock::{self, LockMode, LockPlan};
use crate::source::{Overlay, SourceMap};
use crate::syntax::ParseCache;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options for one run of the front end.
#[derive(Debug, Clone, Default)]
pub struct FrontEnd {
    roots: Vec<(PathBuf, Option<String>)>,
    mode: LockMode,
    allow_breaking: bool,
    files: Option<Arc<Overlay>>,
    cache: Option<Arc<ParseCache>>,
}

/// What a run produced: every source read, the checked schema when there were
/// no errors, all diagnostics (sorted) and the lock plans.
#[derive(Debug)]
pub struct Output {
    pub sources: SourceMap,
    pub schema: Option<Schema>,
    pub diagnostics: Vec<Diagnostic>,
    pub locks: Vec<LockPlan>,
    /// Files a root or an import named that could not be read. With
    /// `sources` and the lock plans' paths, every file the result depends on.
    pub unread: Vec<PathBuf>,
}

impl Output {
    pub fn has_errors(&self) -> bool {
        diagnostic::has_errors(&self.diagnostics)
    }

    /// Writes the lock files that changed. Only call this on a run without errors.
    pub fn write_locks(&self) -> std::io::Result<()> {
        self.locks.iter().try_for_each(LockPlan::write)
    }

    pub fn render_text(&self) -> String {
        diagnostic::render_text(&self.sources, &self.diagnostics)
    }

    pub fn render_json(&self) -> String {
        diagnostic::render_json(&self.sources, &self.diagnostics)
    }
}

/// A run with what only tools inside the crate (the language server) look
/// at: the syntax trees and the schema even when it has errors.
// Read only by the language server; `run` keeps just the output.
#[cfg_attr(not(feature = "lsp"), allow(dead_code))]
#[derive(Debug)]
pub(crate) struct Analysis {
    pub output: Output,
    pub loaded: Loaded,
    /// The schema as far as it was checked, when `output.schema` is `None`.
    pub unchecked: Option<Schema>,
}

#[cfg_attr(not(feature = "lsp"), allow(dead_code))]
impl Analysis {
    pub fn schema(&self) -> Option<&Schema> {
        self.output.schema.as_ref().or(self.unchecked.as_ref())
    }
}

impl FrontEnd {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a root schema read from disk; its messages form the protocol.
    pub fn schema(&mut self, path: impl Into<PathBuf>) -> &mut Self {
        self.roots.push((path.into(), None));
        self
    }

    /// Adds a root schema whose text is already in memory. Imports are still
    /// resolved on disk, relative to `path`.
    pub fn schema_text(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> &mut Self {
        self.roots.push((path.into(), Some(text.into())));
        self
    }

    pub fn lock_mode(&mut self, mode: LockMode) -> &mut Self {
        self.mode = mode;
        self
    }

    pub fn allow_breaking(&mut self, allow: bool) -> &mut Self {
        self.allow_breaking = allow;
        self
    }

    /// Reads every file (schemas, imports, lock files) from `files` when it
    /// has them, from disk otherwise: an editor's unsaved texts.
    pub fn overlay(&mut self, files: Arc<Overlay>) -> &mut Self {
        self.files = Some(files);
        self
    }

    /// Reuses the parse of every file whose text is unchanged since an
    /// earlier run with the same cache, and keeps this run's parses there.
    pub fn parse_cache(&mut self, cache: Arc<ParseCache>) -> &mut Self {
        self.cache = Some(cache);
        self
    }

    pub fn run(&self) -> Output {
        self.analyse().output
    }

    pub(crate) fn analyse(&self) -> Analysis {
        let mut sources = SourceMap::new();
        let mut diagnostics = Vec::new();
        let mut roots: Vec<(PathBuf, Option<String>)> = self
            .roots
            .iter()
            .map(|(p, t)| {
                (
                    std::fs::canonicalize(p).unwrap_or_else(|_| absolute(p)),
                    t.clone(),
                )
            })
            .collect();
        // Sorted so headers handed out in one run never depend on argument order.
        roots.sort_by(|a, b| a.0.cmp(&b.0));
        roots.dedup_by(|a, b| a.0 == b.0);
        let mut loader = Loader::new(&mut sources, &mut diagnostics);
        if let Some(files) = &self.files {
            loader = loader.with_files(files);
        }
        if let Some(cache) = &self.cache {
            loader = loader.with_cache(cache);
        }
        for (path, text) in roots {
            match text {
                Some(text) => loader.load_root_text(&path, text),
                None => loader.load_root(&path),
            }
        }
        let loaded = loader.finish();
        let mut schema = check::check(&sources, &loaded, &mut diagnostics);
        let mut locks = Vec::new();
        if !diagnostic::has_errors(&diagnostics) {
            locks = lock::apply(
                &mut schema,
                &mut sources,
                self.mode,
                self.allow_breaking,
                self.files.as_deref(),
                self.cache.as_deref(),
                &mut diagnostics,
            );
        }
        diagnostic::sort(&mut diagnostics);
        let (schema, unchecked) = if diagnostic::has_errors(&diagnostics) {
            (None, Some(schema))
        } else {
            (Some(schema), None)
        };
        Analysis {
            output: Output {
                sources,
                schema,
                diagnostics,
                locks,
                unread: loaded.unread.clone(),
            },
            loaded,
            unchecked,
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
}
