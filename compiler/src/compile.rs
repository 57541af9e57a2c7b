//! The front-end pipeline in one call: load, parse, check, assign headers.

use crate::check;
use crate::diagnostic::{self, Diagnostic};
use crate::ir::Schema;
use crate::loader::Loader;
use crate::lock::{self, LockMode, LockPlan};
use crate::source::SourceMap;
use std::path::{Path, PathBuf};

/// Options for one run of the front end.
#[derive(Debug, Clone, Default)]
pub struct FrontEnd {
    roots: Vec<(PathBuf, Option<String>)>,
    mode: LockMode,
    allow_breaking: bool,
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

    pub fn run(&self) -> Output {
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
                &mut diagnostics,
            );
        }
        diagnostic::sort(&mut diagnostics);
        let schema = (!diagnostic::has_errors(&diagnostics)).then_some(schema);
        Output {
            sources,
            schema,
            diagnostics,
            locks,
            unread: loaded.unread,
        }
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir().map_or_else(|_| path.to_path_buf(), |cwd| cwd.join(path))
}
