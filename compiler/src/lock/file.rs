//! The `tagwire.lock` file: readable TOML with one entry per message version,
//! sorted by package then header so it diffs cleanly and never reorders.

use crate::header::{self, Header};
use crate::ir::Direction;
use serde::Deserialize;
use std::fmt::Write as _;

pub const FILE_NAME: &str = "tagwire.lock";
const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub package: String,
    pub message: String,
    pub version: u32,
    pub header: Header,
    pub direction: Direction,
    /// Declared with `presence`: peers accept it as a room member's state.
    pub presence: bool,
    pub fingerprint: String,
    pub shape: String,
    /// The message version was removed from the schema; its header stays taken forever.
    pub removed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockFile {
    pub entries: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLock {
    format: u32,
    #[serde(default)]
    message: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    package: String,
    name: String,
    version: u32,
    header: String,
    direction: String,
    #[serde(default)]
    presence: bool,
    fingerprint: String,
    shape: String,
    #[serde(default)]
    removed: bool,
}

/// Why a lock file could not be read, with the byte range it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseError {
    pub message: String,
    pub range: Option<std::ops::Range<usize>>,
    /// How to repair the file, when the usual advice (restore it) is not the right one.
    pub help: Option<String>,
}

impl LockFile {
    pub fn parse(text: &str) -> Result<LockFile, ParseError> {
        let raw: RawLock = toml::from_str(text).map_err(|e| ParseError {
            message: e.message().to_string(),
            range: e.span(),
            help: None,
        })?;
        if raw.format != FORMAT {
            return Err(ParseError {
                message: format!(
                    "lock format {} is not supported (this tagwire writes format {FORMAT})",
                    raw.format
                ),
                range: None,
                help: None,
            });
        }
        let mut entries = Vec::with_capacity(raw.message.len());
        for (i, e) in raw.message.into_iter().enumerate() {
            let bad = |what: String| ParseError {
                message: format!("entry {} ({} v{}): {what}", i + 1, e.name, e.version),
                range: None,
                help: None,
            };
            let header = header::parse(&e.header)
                .map_err(|err| bad(format!("header `{}`: {err}", e.header)))?;
            let direction = Direction::parse(&e.direction).ok_or_else(|| {
                bad(format!(
                    "direction `{}` is not server, client or both",
                    e.direction
                ))
            })?;
            entries.push(Entry {
                package: e.package.clone(),
                message: e.name.clone(),
                version: e.version,
                header,
                direction,
                presence: e.presence,
                fingerprint: e.fingerprint.clone(),
                shape: e.shape.clone(),
                removed: e.removed,
            });
        }
        // Two entries on one header would give two messages the same header; it
        // happens when a merge keeps both sides' additions, and must never be
        // accepted silently.
        let mut headers = std::collections::HashMap::new();
        let mut versions = std::collections::HashSet::new();
        for e in &entries {
            if let Some(first) = headers.insert((&e.package, e.header), (&e.message, e.version)) {
                return Err(ParseError {
                    message: format!(
                        "header `{}` of package `{}` is recorded for both `{} v{}` and `{} v{}`",
                        e.header, e.package, first.0, first.1, e.message, e.version
                    ),
                    range: None,
                    help: Some(
                        "this happens when a merge keeps both sides' new entries: delete the entry of the version \
                         that has not been deployed yet and run `tagwire lock` to give it a new header"
                            .into(),
                    ),
                });
            }
            if !versions.insert((&e.package, &e.message, e.version)) {
                return Err(ParseError {
                    message: format!(
                        "`{}.{} v{}` is recorded twice",
                        e.package, e.message, e.version
                    ),
                    range: None,
                    help: Some("keep the entry peers already use and delete the other".into()),
                });
            }
        }
        let mut lock = LockFile { entries };
        lock.sort();
        Ok(lock)
    }

    pub fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| (&a.package, a.header.index()).cmp(&(&b.package, b.header.index())));
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# tagwire.lock: the headers of every message version in the schemas of this folder.\n",
        );
        out.push_str(
            "# Written by `tagwire lock` and by build scripts; commit it. A header recorded here\n",
        );
        out.push_str("# never moves and is never reused, even after its message is removed.\n");
        let _ = writeln!(out, "format = {FORMAT}");
        for e in &self.entries {
            out.push_str("\n[[message]]\n");
            let _ = writeln!(out, "package = {}", quote(&e.package));
            let _ = writeln!(out, "name = {}", quote(&e.message));
            let _ = writeln!(out, "version = {}", e.version);
            let _ = writeln!(out, "header = {}", quote(e.header.as_str()));
            let _ = writeln!(out, "direction = {}", quote(e.direction.as_str()));
            if e.presence {
                out.push_str("presence = true\n");
            }
            let _ = writeln!(out, "fingerprint = {}", quote(&e.fingerprint));
            let _ = writeln!(out, "shape = {}", quote(&e.shape));
            if e.removed {
                out.push_str("removed = true\n");
            }
        }
        out
    }
}

/// A TOML basic string. Names and shapes are ASCII identifiers and punctuation,
/// but escaping everything that needs it keeps the file valid whatever they hold.
fn quote(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c == '"' || c == '\\' || (c as u32) < 0x20 || c == '\u{7f}')
    {
        return format!("\"{text}\"");
    }
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
