//! Source files and byte spans into them.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileId(pub(crate) usize);

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub file: FileId,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(file: FileId, start: usize, end: usize) -> Self {
        Span { file, start, end }
    }

    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }
}

/// One loaded file: where it came from, the name shown in diagnostics and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub name: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let path = path.into();
        let name = display_name(&path);
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            path,
            name,
            text,
            line_starts,
        }
    }

    /// Byte range of a 0-based line, including its newline.
    pub fn line_range(&self, line_index: usize) -> Option<Range<usize>> {
        let start = *self.line_starts.get(line_index)?;
        let end = self
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(self.text.len());
        Some(start..end)
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        };
        let start = self.line_starts[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |prefix| prefix.chars().count());
        (line + 1, column + 1)
    }

    /// 0-based line and column in UTF-16 code units of a byte offset: what
    /// editors speaking the Language Server Protocol count in. An offset
    /// inside a character counts as that character's start.
    pub fn utf16_position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = match self.line_starts.binary_search(&offset) {
            Ok(line) => line,
            Err(next) => next - 1,
        };
        let start = self.line_starts[line];
        let column = self.text[start..]
            .char_indices()
            .take_while(|(i, _)| start + i < offset)
            .map(|(_, c)| c.len_utf16())
            .sum();
        (line, column)
    }

    /// The byte offset of a 0-based line and UTF-16 column; a column past the
    /// line's end (or inside a surrogate pair) stops at the character it is in
    /// or the line's end, as the protocol asks. `None` for a line past the end.
    pub fn utf16_offset(&self, line: usize, column: usize) -> Option<usize> {
        let range = self.line_range(line)?;
        let text = &self.text[range.clone()];
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        let mut units = 0;
        for (i, c) in text.char_indices() {
            if units >= column {
                return Some(range.start + i);
            }
            units += c.len_utf16();
        }
        Some(range.start + text.len())
    }
}

/// Texts that stand in for files on disk: what an editor holds unsaved.
/// Every file the front end reads (root schemas, imports, lock files) is
/// looked up here first, by its canonical path.
#[derive(Debug, Clone, Default)]
pub struct Overlay {
    files: HashMap<PathBuf, String>,
}

impl Overlay {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the text of `path` (absolute; canonical when it exists on disk).
    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(normalize(&path.into()), text.into());
    }

    pub fn remove(&mut self, path: &Path) -> Option<String> {
        self.files.remove(&normalize(path))
    }

    pub fn get(&self, path: &Path) -> Option<&str> {
        self.files.get(&normalize(path)).map(String::as_str)
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.keys().map(PathBuf::as_path)
    }

    /// The bytes of a file: the overlay's text, else the disk's.
    pub(crate) fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        match self.get(path) {
            Some(text) => Ok(text.as_bytes().to_vec()),
            None => std::fs::read(path),
        }
    }

    /// The canonical path of a file on disk, or the normalized path of one
    /// that so far exists only in the overlay (a new file not yet saved).
    pub(crate) fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        std::fs::canonicalize(path).or_else(|e| {
            let normal = normalize(path);
            if self.files.contains_key(&normal) {
                Ok(normal)
            } else {
                Err(e)
            }
        })
    }
}

/// `a/./b/../c` as `a/c`, without asking the disk (the file may not exist).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push(component);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Every file a compilation read, so diagnostics can point into any of them.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, path: impl Into<PathBuf>, text: String) -> FileId {
        self.files.push(SourceFile::new(path, text));
        FileId(self.files.len() - 1)
    }

    pub fn get(&self, id: FileId) -> &SourceFile {
        &self.files[id.0]
    }

    pub(crate) fn try_get(&self, index: usize) -> Option<&SourceFile> {
        self.files.get(index)
    }

    pub fn files(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files.iter().enumerate().map(|(i, f)| (FileId(i), f))
    }

    pub fn find(&self, path: &Path) -> Option<FileId> {
        self.files.iter().position(|f| f.path == path).map(FileId)
    }
}

/// Paths are shown relative to the working directory when they are below it,
/// so diagnostics match what the user typed and snapshots are machine-independent.
fn display_name(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative
        .as_deref()
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
}
