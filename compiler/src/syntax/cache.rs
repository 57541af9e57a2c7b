//! Parse results kept across runs of the front end, so a tool that checks the
//! same project again and again (an editor's language server) parses only
//! what changed: not the files whose text is unchanged, and in a changed
//! file not the declarations whose text is unchanged. Lock files too: the
//! lock of a large protocol takes longer to read than its schema's check.

use super::relocate::Move;
use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::lock::{LockFile, ParseError};
use crate::source::FileId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The last parse of each file, by path, checked against the file's full
/// text, and the parse of each of its declarations, by the declaration's
/// text. Shared by runs through
/// [`FrontEnd::parse_cache`](crate::FrontEnd::parse_cache).
#[derive(Debug, Default)]
pub struct ParseCache {
    entries: Mutex<HashMap<PathBuf, Entry>>,
    /// The last text of each lock file read, and what it says.
    locks: Mutex<HashMap<PathBuf, (String, ReadLock)>>,
    parses: AtomicUsize,
    declarations: AtomicUsize,
}

/// A lock file as read, shared by every run that reads it unchanged, or why it could not be.
pub(crate) type ReadLock = Result<Arc<LockFile>, ParseError>;

/// A file's tree, shared by every run that reads the file unchanged, or its syntax error.
pub(crate) type Parsed = Result<Arc<ast::File>, Box<Diagnostic>>;

#[derive(Debug, Default)]
struct Entry {
    text: String,
    /// The tree of `text` under each [`FileId`] it was asked for (spans name
    /// the file, so a tree is shared only under the same id).
    results: Vec<(FileId, Parsed)>,
    /// Each declaration's tree by its text (with the blanks and comments
    /// before it), and the offset it was lowered at.
    pieces: HashMap<String, Arc<(usize, ast::File)>>,
}

impl ParseCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many files were parsed (not found unchanged in the cache) since it was made.
    pub fn parses(&self) -> usize {
        self.parses.load(Ordering::Relaxed)
    }

    /// How many declarations were parsed (not found in the cache) since it was made.
    pub fn declarations(&self) -> usize {
        self.declarations.load(Ordering::Relaxed)
    }

    /// Forgets every file whose path is not in `keep`, so the cache holds no
    /// more than the project (a lock stays while a file beside it does).
    pub fn retain(&self, keep: impl Fn(&Path) -> bool) {
        let mut entries = self.lock();
        entries.retain(|path, _| keep(path));
        let folders: std::collections::HashSet<&Path> =
            entries.keys().filter_map(|p| p.parent()).collect();
        locked(&self.locks).retain(|path, _| path.parent().is_some_and(|f| folders.contains(f)));
    }

    /// The lock file at `path` with the text `text`, parsed once per text.
    pub(crate) fn lock_file(&self, path: &Path, text: &str) -> ReadLock {
        if let Some((cached, result)) = locked(&self.locks).get(path)
            && cached == text
        {
            return result.clone();
        }
        let result = LockFile::parse(text).map(Arc::new);
        locked(&self.locks).insert(path.to_path_buf(), (text.to_string(), result.clone()));
        result
    }

    pub(crate) fn parse(&self, path: &Path, id: FileId, text: &str) -> Parsed {
        // The declarations are taken out while the file is parsed outside
        // the lock (another run may parse other files meanwhile).
        let mut old = {
            let mut entries = self.lock();
            let entry = entries.entry(path.to_path_buf()).or_default();
            if entry.text == text {
                if let Some((_, result)) = entry.results.iter().find(|(f, _)| *f == id) {
                    return result.clone();
                }
            } else {
                entry.results.clear();
            }
            std::mem::take(&mut entry.pieces)
        };
        self.parses.fetch_add(1, Ordering::Relaxed);
        let mut pieces = HashMap::new();
        let result = super::parse_pieces(id, text, |ranges| {
            super::parallel::until_failure(ranges, |range| {
                let piece = text.get(range.clone()).unwrap_or_default();
                // Moved from the old map to the new, its key with it; a text
                // seen before in this file is in the new one already.
                let found = match old.remove_entry(piece) {
                    Some((key, found)) => {
                        pieces.insert(key, Arc::clone(&found));
                        found
                    }
                    None => match pieces.get(piece) {
                        Some(found) => Arc::clone(found),
                        None => {
                            self.declarations.fetch_add(1, Ordering::Relaxed);
                            let parsed = super::parse_piece(id, text, range.clone())?;
                            let found = Arc::new((range.start, parsed));
                            pieces.insert(piece.to_string(), Arc::clone(&found));
                            found
                        }
                    },
                };
                let mut tree = found.1.clone();
                Move {
                    file: id,
                    from: found.0,
                    to: range.start,
                }
                .file(&mut tree);
                Ok(tree)
            })
        })
        .map(Arc::new);
        // A file that did not parse keeps its older declarations too: the
        // next keystroke usually brings most of them back.
        if result.is_err() {
            for (text, tree) in old {
                pieces.entry(text).or_insert(tree);
            }
        }
        let mut entries = self.lock();
        let entry = entries.entry(path.to_path_buf()).or_default();
        if entry.text != text {
            entry.text = text.to_string();
            entry.results.clear();
        }
        entry.results.push((id, result.clone()));
        entry.pieces = pieces;
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, Entry>> {
        locked(&self.entries)
    }
}

fn locked<T>(map: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while the lock was held left a map that is still whole
    // (every insert is one call), so the cache goes on being used.
    map.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
