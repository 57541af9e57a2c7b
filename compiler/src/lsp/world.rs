//! The server's state: the open documents (an overlay over the disk), the
//! projects they belong to and the last analysis of each.
//!
//! A project is one folder: every `.schema` file in it is a root, as its
//! `tagwire.lock` covers them all, and the files they import are read too.
//! A change to a file re-analyses its folder and every project that read it;
//! the shared parse cache keeps that to the files whose text changed.

use super::index::Index;
use crate::compile::{Analysis, FrontEnd};
use crate::lock::{LockFile, LockMode};
use crate::source::{FileId, Overlay, SourceFile, Span, normalize};
use crate::syntax::ParseCache;
use lsp_types::{Position, Range, Url};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Folders a workspace scan enters at most, so a huge home folder opened as a
/// workspace costs a bounded walk.
const MAX_SCANNED_FOLDERS: usize = 2_000;
const MAX_SCAN_DEPTH: usize = 8;

#[derive(Debug)]
pub(crate) struct Project {
    pub folder: PathBuf,
    pub analysis: Analysis,
    /// Built on the first request that needs it: diagnostics do without.
    index: OnceLock<Index>,
    /// The folder's lock as read, when it could be (shared with the parse cache).
    pub lock: Option<Arc<LockFile>>,
    /// Its versions still in use, by (package, message, version): asked for
    /// every message version at every change, so no scan of the lock each time.
    locked: HashMap<(String, String, u32), usize>,
}

impl Project {
    /// The declarations, uses and fields of the analysis.
    pub fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::build(&self.analysis))
    }

    pub fn file(&self, path: &Path) -> Option<FileId> {
        self.analysis.output.sources.find(path)
    }

    pub fn source(&self, id: FileId) -> &SourceFile {
        self.analysis.output.sources.get(id)
    }

    pub fn range(&self, span: Span) -> Range {
        span_range(self.source(span.file), span.start, span.end)
    }

    pub fn path(&self, id: FileId) -> &Path {
        &self.source(id).path
    }

    /// The lock entry of a message version, when it is locked.
    pub fn locked(&self, package: &str, name: &str, version: u32) -> Option<&crate::lock::Entry> {
        let key = (package.to_string(), name.to_string(), version);
        self.lock.as_ref()?.entries.get(*self.locked.get(&key)?)
    }
}

#[derive(Debug)]
pub(crate) struct Document {
    pub uri: Url,
    pub version: i32,
}

#[derive(Debug, Default)]
pub(crate) struct World {
    pub files: Arc<Overlay>,
    pub open: HashMap<PathBuf, Document>,
    pub cache: Arc<ParseCache>,
    pub projects: BTreeMap<PathBuf, Project>,
    /// Folders found by the workspace scan that hold schemas; analysed on first use.
    pub pending: BTreeSet<PathBuf>,
    /// Files changed since the last analysis.
    pub dirty: BTreeSet<PathBuf>,
    /// Files that have diagnostics shown, so clearing them is not forgotten.
    pub published: BTreeSet<PathBuf>,
    /// The client can ask the user to confirm an edit (change annotations).
    pub confirmations: bool,
    /// Analyses replaced by the last refresh, dropped once its diagnostics
    /// are sent: freeing a large project's trees takes a while.
    pub retired: Vec<Project>,
}

impl World {
    /// Finds the folders with schemas under the workspace's folders.
    pub fn scan(&mut self, roots: &[PathBuf]) {
        let mut queue: Vec<(PathBuf, usize)> = roots.iter().map(|r| (r.clone(), 0)).collect();
        let mut seen = 0;
        while let Some((dir, depth)) = queue.pop() {
            seen += 1;
            if seen > MAX_SCANNED_FOLDERS {
                break;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    let skipped =
                        name.starts_with('.') || name == "target" || name == "node_modules";
                    if !skipped && depth < MAX_SCAN_DEPTH {
                        queue.push((path, depth + 1));
                    }
                } else if is_schema(&path)
                    && let Ok(folder) = std::fs::canonicalize(&dir)
                {
                    self.pending.insert(folder);
                }
            }
        }
    }

    /// Marks a file as changed; the next [`World::refresh`] re-analyses what read it.
    pub fn touch(&mut self, path: PathBuf) {
        self.dirty.insert(path);
    }

    /// Re-analyses every project a changed file belongs to, and every folder
    /// found by the scan not analysed yet. Returns the files whose
    /// diagnostics may have changed.
    pub fn refresh(&mut self) -> BTreeSet<PathBuf> {
        let dirty = std::mem::take(&mut self.dirty);
        let mut folders: BTreeSet<PathBuf> = std::mem::take(&mut self.pending);
        for path in &dirty {
            if let Some(folder) = path.parent()
                && (is_schema(path) || self.projects.contains_key(folder) || is_lock(path))
            {
                folders.insert(folder.to_path_buf());
            }
            for (folder, project) in &self.projects {
                if project.file(path).is_some() {
                    folders.insert(folder.clone());
                }
            }
        }
        let mut touched = BTreeSet::new();
        for folder in folders {
            if let Some(old) = self.projects.get(&folder) {
                touched.extend(
                    old.analysis
                        .output
                        .sources
                        .files()
                        .map(|(_, f)| f.path.clone()),
                );
            }
            match self.analyse(&folder, &self.files) {
                Some(project) => {
                    touched.extend(
                        project
                            .analysis
                            .output
                            .sources
                            .files()
                            .map(|(_, f)| f.path.clone()),
                    );
                    self.retired.extend(self.projects.insert(folder, project));
                }
                None => {
                    self.retired.extend(self.projects.remove(&folder));
                }
            }
        }
        // The cache keeps only what some project still reads.
        let read: BTreeSet<PathBuf> = self
            .projects
            .values()
            .flat_map(|p| {
                p.analysis
                    .output
                    .sources
                    .files()
                    .map(|(_, f)| f.path.clone())
            })
            .collect();
        self.cache.retain(|p| read.contains(p));
        touched
    }

    /// The roots of a folder: its schemas on disk and those open in the editor.
    pub fn roots(&self, folder: &Path, files: &Overlay) -> Vec<PathBuf> {
        let mut roots: BTreeSet<PathBuf> = std::fs::read_dir(folder)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| is_schema(p) && p.is_file())
            .filter_map(|p| std::fs::canonicalize(p).ok())
            .collect();
        roots.extend(
            files
                .paths()
                .filter(|p| is_schema(p) && p.parent() == Some(folder))
                .map(Path::to_path_buf),
        );
        roots.into_iter().collect()
    }

    /// Analyses a folder with `files` over the disk; `None` when it has no schema left.
    pub fn analyse(&self, folder: &Path, files: &Arc<Overlay>) -> Option<Project> {
        let roots = self.roots(folder, files);
        if roots.is_empty() {
            return None;
        }
        let mut front = FrontEnd::new();
        for root in roots {
            front.schema(root);
        }
        // A preview: breaking changes are errors, new versions get the header
        // `tagwire lock` would give them, and nothing is written.
        front
            .lock_mode(LockMode::Preview)
            .overlay(Arc::clone(files))
            .parse_cache(Arc::clone(&self.cache));
        let analysis = front.analyse();
        let lock = analysis
            .output
            .locks
            .iter()
            .find(|plan| plan.path.parent() == Some(folder))
            .and_then(|plan| Some((plan, plan.old_text.as_deref()?)))
            .and_then(|(plan, text)| self.cache.lock_file(&plan.path, text).ok());
        let locked = lock
            .iter()
            .flat_map(|l| l.entries.iter().enumerate())
            .filter(|(_, e)| !e.removed)
            .map(|(i, e)| ((e.package.clone(), e.message.clone(), e.version), i))
            .collect();
        Some(Project {
            folder: folder.to_path_buf(),
            analysis,
            index: OnceLock::new(),
            lock,
            locked,
        })
    }

    /// The project to answer questions about a file in: its folder's, else
    /// any that read it.
    pub fn project_of(&self, path: &Path) -> Option<&Project> {
        path.parent()
            .and_then(|folder| self.projects.get(folder))
            .filter(|p| p.file(path).is_some())
            .or_else(|| self.projects.values().find(|p| p.file(path).is_some()))
    }

    /// The text of a file as the editor has it, else as the disk has it.
    pub fn text(&self, path: &Path) -> Option<String> {
        match self.files.get(path) {
            Some(text) => Some(text.to_string()),
            None => std::fs::read_to_string(path).ok(),
        }
    }

    pub fn uri(&self, path: &Path) -> Option<Url> {
        match self.open.get(path) {
            Some(doc) => Some(doc.uri.clone()),
            None => Url::from_file_path(path).ok(),
        }
    }
}

pub(crate) fn is_schema(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "schema")
}

fn is_lock(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == crate::lock::FILE_NAME)
}

/// The path a `file:` URI names, canonical when the file exists.
pub(crate) fn uri_path(uri: &Url) -> Option<PathBuf> {
    if uri.scheme() != "file" {
        return None;
    }
    let path = uri.to_file_path().ok()?;
    Some(std::fs::canonicalize(&path).unwrap_or_else(|_| normalize(&path)))
}

pub(crate) fn span_range(file: &SourceFile, start: usize, end: usize) -> Range {
    Range::new(position(file, start), position(file, end))
}

pub(crate) fn position(file: &SourceFile, offset: usize) -> Position {
    let (line, character) = file.utf16_position(offset);
    Position::new(
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(character).unwrap_or(u32::MAX),
    )
}

/// The byte offset of a position; `None` past the last line.
pub(crate) fn offset(file: &SourceFile, position: Position) -> Option<usize> {
    file.utf16_offset(position.line as usize, position.character as usize)
}
