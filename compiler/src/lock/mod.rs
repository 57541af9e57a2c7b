//! Header assignment and compatibility against `tagwire.lock`.
//!
//! Every message version gets a header once and keeps it forever: headers
//! already in the lock are reused, new versions take a pinned header or the
//! first free one in assignment order, and removed versions become tombstones
//! whose headers are never handed out again. A locked version whose wire shape
//! changed is a breaking change, refused unless the caller allows it.

mod constraints;
mod diff;
pub mod file;

#[cfg(feature = "lsp")]
pub(crate) use diff::{changed_fields, fields as shape_fields};
pub use file::{Entry, FILE_NAME, LockFile, ParseError};

use crate::diagnostic::{Diagnostic, DiagnosticCode};
use crate::header::{APPLICATION_HEADERS, Header};
use crate::ir::{Direction, MessageVersion, Removed, Schema};
use crate::shape;
use crate::source::{Overlay, SourceMap, Span};
use crate::syntax::ParseCache;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// What to do when the lock needs to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LockMode {
    /// Additive changes are written (`tagwire lock`, build scripts by default).
    #[default]
    Update,
    /// Any change the lock would need is an error (`tagwire check`, `TAGWIRE_LOCKED=1`), as `cargo --locked`.
    Locked,
    /// Compute headers without writing or requiring anything (`tagwire headers`, code generation to a directory).
    Preview,
}

/// The lock of one folder: what it says now and what it should say.
#[derive(Debug, Clone)]
pub struct LockPlan {
    pub path: PathBuf,
    pub old_text: Option<String>,
    /// What the lock should say; in preview mode, the old text (nothing is rendered).
    pub new_text: String,
}

impl LockPlan {
    pub fn changed(&self) -> bool {
        self.old_text.as_deref() != Some(self.new_text.as_str())
    }

    pub fn write(&self) -> std::io::Result<()> {
        if self.changed() {
            std::fs::write(&self.path, &self.new_text)?;
        }
        Ok(())
    }
}

/// Assigns a header to every message version of `schema`, checks each against
/// its folder's lock and computes the protocol fingerprints. Returns the lock
/// plans; writing them is the caller's decision.
pub fn apply(
    schema: &mut Schema,
    sources: &mut SourceMap,
    mode: LockMode,
    allow_breaking: bool,
    files: Option<&Overlay>,
    cache: Option<&ParseCache>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<LockPlan> {
    // Group message positions by the folder of the file that declared them.
    let mut folders: BTreeMap<PathBuf, Vec<(usize, usize)>> = BTreeMap::new();
    for (p, package) in schema.packages.iter().enumerate() {
        for (m, message) in package.messages.iter().enumerate() {
            let folder = sources
                .get(message.file)
                .path
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            folders.entry(folder).or_default().push((p, m));
        }
    }
    let mut plans = Vec::new();
    let mut removals: Vec<(String, Removed, Direction)> = Vec::new();
    for (folder, positions) in folders {
        let path = folder.join(FILE_NAME);
        let (old_text, mut lock) = match read(&path, files, cache, sources, diagnostics) {
            Some(read) => read,
            None => continue,
        };
        let mut by_package: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
        for (p, m) in positions {
            by_package
                .entry(schema.packages[p].name.clone())
                .or_default()
                .push((p, m));
        }
        for (package, positions) in by_package {
            let mut context = Assign {
                package: &package,
                lock: &mut lock,
                allow_breaking,
                diagnostics: &mut *diagnostics,
                lock_name: FILE_NAME,
                newly_removed: Vec::new(),
            };
            let messages: Vec<&mut MessageVersion> = {
                let wanted: HashSet<usize> = positions.iter().map(|(_, m)| *m).collect();
                let p = positions[0].0;
                schema.packages[p]
                    .messages
                    .iter_mut()
                    .enumerate()
                    .filter(|(i, _)| wanted.contains(i))
                    .map(|(_, m)| m)
                    .collect()
            };
            context.assign(messages);
            let newly_removed = std::mem::take(&mut context.newly_removed);
            removals.extend(
                newly_removed
                    .into_iter()
                    .map(|(r, direction)| (package.clone(), r, direction)),
            );
            let mut tombstones: Vec<Removed> = lock
                .entries
                .iter()
                .filter(|e| e.package == package && e.removed)
                .map(|e| Removed {
                    header: e.header,
                    name: e.message.clone(),
                    version: e.version,
                })
                .collect();
            tombstones.sort_by_key(|r| r.header.index());
            if let Some(p) = schema.packages.iter_mut().find(|p| p.name == package) {
                p.removed.extend(tombstones);
                p.removed.sort_by_key(|r| r.header.index());
            }
        }
        lock.sort();
        // A preview never writes, so it skips rendering (a tenth of a large schema's compile time).
        let new_text = match mode {
            LockMode::Preview => old_text.clone().unwrap_or_default(),
            LockMode::Update | LockMode::Locked => lock.render(),
        };
        let plan = LockPlan {
            path,
            old_text,
            new_text,
        };
        if mode == LockMode::Locked && plan.changed() {
            diagnostics.push(out_of_date(&plan, sources));
        }
        plans.push(plan);
    }
    for package in &mut schema.packages {
        package.fingerprint = protocol_fingerprint(&package.messages);
    }
    for (package, removed, direction) in removals {
        let fingerprint = schema
            .package(&package)
            .map_or("", |p| p.fingerprint.as_str());
        diagnostics.push(removal_warning(&removed, direction, fingerprint));
    }
    plans
}

/// W0090: a version left the schema. Its header stays reserved, and peers
/// generated before this protocol cannot use it any more.
fn removal_warning(removed: &Removed, direction: Direction, fingerprint: &str) -> Diagnostic {
    let Removed {
        header,
        name,
        version,
    } = removed;
    let when = match direction {
        Direction::Client => format!("when they send `{name} v{version}`"),
        Direction::Server => {
            format!("when the server sends them `{name}` and no version they know can carry it")
        }
        Direction::Both => format!(
            "when they send `{name} v{version}`, or when the server sends them `{name}` and no version they know can carry it"
        ),
    };
    Diagnostic::warning(
        DiagnosticCode::VersionRemoved,
        format!("`{name} v{version}` was removed; its header `{header}` stays reserved"),
    )
    .with_note(format!(
        "clients generated before protocol {fingerprint} get \"protocol outdated\" {when}"
    ))
}

/// Stable hash of a protocol: every message version's header, name, version,
/// direction and shape. Peers with equal fingerprints speak the same protocol.
pub fn protocol_fingerprint(messages: &[MessageVersion]) -> String {
    let mut lines: Vec<String> = messages
        .iter()
        .map(|m| {
            format!(
                "{} {} {} {} {}{}\n",
                m.header.map_or_else(|| "??".to_string(), |h| h.to_string()),
                m.name,
                m.version,
                m.direction.as_str(),
                m.fingerprint,
                // Only presence states add a word, so fingerprints of
                // protocols without them stay what they were.
                if m.presence { " presence" } else { "" }
            )
        })
        .collect();
    lines.sort();
    shape::fingerprint(lines.concat().as_bytes())
}

fn read(
    path: &Path,
    files: Option<&Overlay>,
    cache: Option<&ParseCache>,
    sources: &mut SourceMap,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<(Option<String>, LockFile)> {
    let text = match files.and_then(|f| f.get(path)) {
        Some(text) => Ok(text.to_string()),
        None => std::fs::read_to_string(path),
    };
    let text = match text {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Some((None, LockFile::default()));
        }
        Err(e) => {
            diagnostics.push(Diagnostic::error(
                DiagnosticCode::CannotReadLock,
                format!("cannot read `{}`: {e}", path.display()),
            ));
            return None;
        }
    };
    let parsed = match cache {
        // Assigning headers changes the lock: the cache's copy stays as read.
        Some(cache) => cache.lock_file(path, &text).map(|lock| (*lock).clone()),
        None => LockFile::parse(&text),
    };
    match parsed {
        Ok(lock) => Some((Some(text), lock)),
        Err(e) => {
            let id = sources.add(path, text.clone());
            let range = e.range.unwrap_or(0..0);
            diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::InvalidLock,
                    format!("cannot read the lock file: {}", e.message),
                )
                .at(Span::new(id, range.start, range.end), "here")
                .with_help(e.help.unwrap_or_else(|| {
                    "restore tagwire.lock from version control; never edit it by hand".into()
                })),
            );
            None
        }
    }
}

fn out_of_date(plan: &LockPlan, sources: &SourceMap) -> Diagnostic {
    let name = sources
        .files()
        .find(|(_, f)| f.path == plan.path)
        .map_or_else(|| relative(&plan.path), |(_, f)| f.name.clone());
    let message = match &plan.old_text {
        None => format!("`{name}` is missing"),
        Some(_) => format!("`{name}` is out of date"),
    };
    let mut d = Diagnostic::error(DiagnosticCode::LockOutOfDate, message);
    let old = plan
        .old_text
        .as_deref()
        .and_then(|t| LockFile::parse(t).ok())
        .unwrap_or_default();
    let new = LockFile::parse(&plan.new_text).unwrap_or_default();
    for line in diff::entries(&old, &new) {
        d = d.with_note(line);
    }
    d.with_help("run `tagwire lock` (or build without TAGWIRE_LOCKED) and commit the lock file")
}

fn relative(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}

struct Assign<'a> {
    package: &'a str,
    lock: &'a mut LockFile,
    allow_breaking: bool,
    diagnostics: &'a mut Vec<Diagnostic>,
    lock_name: &'a str,
    /// Versions this run tombstones; warned about once the new protocol fingerprint is known.
    newly_removed: Vec<(Removed, Direction)>,
}

impl Assign<'_> {
    fn assign(&mut self, mut messages: Vec<&mut MessageVersion>) {
        let package = self.package.to_string();
        let index: HashMap<(String, u32), usize> = self
            .lock
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.package == package)
            .map(|(i, e)| ((e.message.clone(), e.version), i))
            .collect();
        let mut taken: HashMap<Header, usize> = self
            .lock
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.package == package)
            .map(|(i, e)| (e.header, i))
            .collect();
        let mut present: HashSet<(String, u32)> = HashSet::new();
        let mut fresh = Vec::new();
        for (position, message) in messages.iter_mut().enumerate() {
            present.insert((message.name.clone(), message.version));
            match index.get(&(message.name.clone(), message.version)) {
                Some(&entry) => self.existing(message, entry),
                None => fresh.push(position),
            }
        }
        let pins: HashSet<Header> = messages.iter().filter_map(|m| m.pinned).collect();
        let mut next = 0u16;
        for position in fresh {
            let message = &mut messages[position];
            let header = match message.pinned {
                Some(pin) => {
                    if let Some(&owner) = taken.get(&pin) {
                        let owner = &self.lock.entries[owner];
                        let state = if owner.removed { "removed " } else { "" };
                        self.diagnostics.push(
                            Diagnostic::error(
                                DiagnosticCode::HeaderTaken,
                                format!("header `{pin}` is already taken by the {state}message `{} v{}`", owner.message, owner.version),
                            )
                            .at(message.span, format!("`{} v{}` pins `{pin}`", message.name, message.version))
                            .with_note(format!("{} records every header ever handed out; none is reused", self.lock_name))
                            .with_help("pin another header, or leave the pin out to get the next free one"),
                        );
                        continue;
                    }
                    pin
                }
                None => {
                    let free = (next..tagwire::FIRST_RESERVED_INDEX)
                        .filter_map(Header::from_index)
                        .find(|h| !taken.contains_key(h) && !pins.contains(h));
                    let Some(header) = free else {
                        self.diagnostics.push(
                            Diagnostic::error(
                                DiagnosticCode::HeadersExhausted,
                                format!(
                                    "package `{}` has used all {APPLICATION_HEADERS} headers",
                                    self.package
                                ),
                            )
                            .at(message.span, "no header is left for this message version"),
                        );
                        continue;
                    };
                    next = header.index() + 1;
                    header
                }
            };
            message.header = Some(header);
            self.lock.entries.push(entry_for(&package, message, header));
            taken.insert(header, self.lock.entries.len() - 1);
        }
        for entry in self
            .lock
            .entries
            .iter_mut()
            .filter(|e| e.package == package && !e.removed)
        {
            if !present.contains(&(entry.message.clone(), entry.version)) {
                entry.removed = true;
                let removed = Removed {
                    header: entry.header,
                    name: entry.message.clone(),
                    version: entry.version,
                };
                self.newly_removed.push((removed, entry.direction));
            }
        }
    }

    fn existing(&mut self, message: &mut MessageVersion, entry_index: usize) {
        let entry = self.lock.entries[entry_index].clone();
        message.header = Some(entry.header);
        let label = format!("{} v{}", message.name, message.version);
        if let Some(pin) = message.pinned
            && pin != entry.header
        {
            self.diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::HeaderMoved,
                    format!(
                        "`{label}` is locked to header `{}`; a header never moves",
                        entry.header
                    ),
                )
                .at(message.span, format!("pins `{pin}`"))
                .with_help(format!("pin `{}` or remove the pin", entry.header)),
            );
        }
        if entry.removed {
            if entry.fingerprint == message.fingerprint && entry.presence == message.presence {
                // The same version with the same shape comes back: old peers understand it.
                let revived = &mut self.lock.entries[entry_index];
                revived.removed = false;
                revived.direction = message.direction;
                return;
            }
            self.diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::RemovedVersionChanged,
                    format!(
                        "`{label}` was removed with a different shape and cannot come back changed"
                    ),
                )
                .at(message.span, "declared again with a new shape")
                .with_note(format!(
                    "removed shape: {}",
                    kind_and_shape(entry.presence, &entry.shape)
                ))
                .with_note(format!(
                    "new shape:     {}",
                    kind_and_shape(message.presence, &message.shape)
                ))
                .with_help(format!(
                    "declare a new version instead: `message {} v{}`",
                    message.name,
                    message.version + 1
                )),
            );
            return;
        }
        let shape_changed = entry.fingerprint != message.fingerprint;
        let narrowed = entry.direction != message.direction && message.direction != Direction::Both;
        // Peers built from the lock accept the frame only where its kind
        // belongs (a presence state in presence frames, a message elsewhere).
        let kind_changed = entry.presence != message.presence;
        // Constraints are part of the shape, but loosening one is not breaking.
        let constraint_change = shape_changed
            .then(|| constraints::compare(&entry.shape, &message.shape))
            .flatten();
        if let Some(change) = &constraint_change
            && change.tightened.is_empty()
            && !narrowed
            && !kind_changed
        {
            let mut d = Diagnostic::warning(
                DiagnosticCode::ConstraintsLoosened,
                format!("constraints of `{label}` loosened"),
            )
            .at(message.span, "accepts values the locked shape refused");
            for line in &change.loosened {
                d = d.with_note(line.clone());
            }
            self.diagnostics.push(d.with_note(
                "peers built from the old lock still enforce the old constraints and refuse such values; \
                 the protocol fingerprint changes, so they see a protocol mismatch when they connect",
            ));
            let updated = &mut self.lock.entries[entry_index];
            updated.direction = message.direction;
            updated.fingerprint = message.fingerprint.clone();
            updated.shape = message.shape.clone();
            return;
        }
        if (shape_changed || narrowed || kind_changed) && !self.allow_breaking {
            let mut d = Diagnostic::error(
                DiagnosticCode::BreakingChange,
                format!(
                    "breaking change to `{label}`, whose header `{}` is locked",
                    entry.header
                ),
            );
            if kind_changed {
                let kind = |presence| {
                    if presence {
                        "a `presence` state"
                    } else {
                        "a `message`"
                    }
                };
                d = d.at(
                    message.span,
                    format!(
                        "was {}, is now {}",
                        kind(entry.presence),
                        kind(message.presence)
                    ),
                );
            } else if let Some(change) = constraint_change.filter(|c| !c.tightened.is_empty()) {
                d = d.at(
                    message.span,
                    "constraints tightened: values the locked shape accepted are now refused",
                );
                for line in change.tightened {
                    d = d.with_note(line);
                }
                d = d
                    .with_note(format!("locked shape: {}", entry.shape))
                    .with_note(format!("new shape:    {}", message.shape));
            } else if shape_changed {
                d = d
                    .at(message.span, diff::summary(&entry.shape, &message.shape))
                    .with_note(format!("locked shape: {}", entry.shape))
                    .with_note(format!("new shape:    {}", message.shape));
            } else {
                d = d.at(
                    message.span,
                    format!(
                        "direction narrowed from {} to {}",
                        entry.direction.as_str(),
                        message.direction.as_str()
                    ),
                );
            }
            let next_version = message.version + 1;
            let help = if kind_changed {
                format!(
                    "peers built from the lock still use the old kind: restore `{label}` and give the new {} its own name (or pass --allow-breaking)",
                    if message.presence {
                        "presence state"
                    } else {
                        "message"
                    }
                )
            } else {
                format!(
                    "peers built from the lock still use the old shape: restore `{label}` and declare `{} {} v{next_version}` for the change (or pass --allow-breaking)",
                    if message.presence {
                        "presence"
                    } else {
                        "message"
                    },
                    message.name
                )
            };
            self.diagnostics.push(d.with_help(help));
            return;
        }
        let updated = &mut self.lock.entries[entry_index];
        updated.direction = message.direction;
        updated.presence = message.presence;
        if shape_changed {
            // Only reached with --allow-breaking: the lock takes the new shape.
            updated.fingerprint = message.fingerprint.clone();
            updated.shape = message.shape.clone();
        }
        // With the same fingerprint the readable shape stays as locked: renaming
        // a struct changes its text but not the wire, and must not dirty the lock.
    }
}

/// A shape as a removed entry's note shows it, with its kind when it is a presence state.
fn kind_and_shape(presence: bool, shape: &str) -> String {
    if presence {
        format!("presence {shape}")
    } else {
        shape.to_string()
    }
}

fn entry_for(package: &str, message: &MessageVersion, header: Header) -> Entry {
    Entry {
        package: package.to_string(),
        message: message.name.clone(),
        version: message.version,
        header,
        direction: message.direction,
        presence: message.presence,
        fingerprint: message.fingerprint.clone(),
        shape: message.shape.clone(),
        removed: false,
    }
}
