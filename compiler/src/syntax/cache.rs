//! Parse results kept across runs of the front end, so a tool that checks the
//! same project again and again (an editor's language server) parses only the
//! files whose text changed.

use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The last parse of each file, keyed by its path and the [`FileId`] it was
/// parsed under (spans name the file, so a tree is reusable only under the
/// same id) and checked against the file's full text. Shared by runs through
/// [`FrontEnd::parse_cache`](crate::FrontEnd::parse_cache).
#[derive(Debug, Default)]
pub struct ParseCache {
    entries: Mutex<HashMap<(PathBuf, FileId), Entry>>,
    parses: AtomicUsize,
}

#[derive(Debug)]
struct Entry {
    text: String,
    result: Result<ast::File, Box<Diagnostic>>,
}

impl ParseCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many files were parsed (not found in the cache) since it was made.
    pub fn parses(&self) -> usize {
        self.parses.load(Ordering::Relaxed)
    }

    /// Forgets every file whose path is not in `keep`, so the cache holds no
    /// more than the project.
    pub fn retain(&self, keep: impl Fn(&Path) -> bool) {
        self.lock().retain(|(path, _), _| keep(path));
    }

    pub(crate) fn parse(
        &self,
        path: &Path,
        id: FileId,
        text: &str,
    ) -> Result<ast::File, Box<Diagnostic>> {
        let key = (path.to_path_buf(), id);
        if let Some(entry) = self.lock().get(&key)
            && entry.text == text
        {
            return entry.result.clone();
        }
        // Parsed outside the lock: another run may parse other files meanwhile.
        let result = super::parse(id, text);
        self.parses.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            key,
            Entry {
                text: text.to_string(),
                result: result.clone(),
            },
        );
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PathBuf, FileId), Entry>> {
        // A panic while the lock was held left a map that is still whole
        // (every insert is one call), so the cache goes on being used.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
