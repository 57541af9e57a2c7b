//! `tagwire gen --watch`: generate, then again whenever a file the last run
//! depended on changes, until Ctrl-C or SIGTERM.
//!
//! Directories are watched, not files: editors save by writing a temporary
//! file and renaming it over the schema, which replaces the very file a watch
//! on it would follow. Events are filtered by path and left to settle for a
//! quiet moment, and a run starts only when a file holds something else than
//! what the last run read; so one save gives one run, and the lock a run
//! writes itself gives none.

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tagwire_compiler::Output;

/// How long file events must pause before a run: an editor's save (a
/// temporary renamed over the file, or a truncate then a write) comes as a
/// burst of events a few milliseconds apart.
const QUIET: Duration = Duration::from_millis(100);

/// A run starts at the latest this long after the first event, even while
/// events keep coming (a checkout writing many files).
const MAX_DELAY: Duration = Duration::from_secs(1);

/// One file a run depended on, and what it held for that run (`None`: it
/// was missing or unreadable).
#[derive(Debug)]
pub struct Input {
    path: PathBuf,
    content: Option<Vec<u8>>,
}

/// Every file `output` depends on, absolute and sorted: the sources it read,
/// the lock files beside them, and the files a root or an import named that
/// could not be read (a run must follow once they appear).
pub fn paths(output: &Output) -> BTreeSet<PathBuf> {
    output
        .sources
        .files()
        .map(|(_, file)| file.path.as_path())
        .chain(output.locks.iter().map(|lock| lock.path.as_path()))
        .chain(output.unread.iter().map(PathBuf::as_path))
        .map(normalize)
        .collect()
}

/// [`paths`] with their contents: the text the front end read for sources,
/// and for the rest (the locks the run may just have written, the missing
/// files) what the disk holds now.
pub fn inputs(output: &Output) -> Vec<Input> {
    let read: BTreeMap<PathBuf, &str> = output
        .sources
        .files()
        .map(|(_, file)| (normalize(&file.path), file.text.as_str()))
        .collect();
    paths(output)
        .into_iter()
        .map(|path| {
            let content = match read.get(&path) {
                Some(text) => Some(text.as_bytes().to_vec()),
                None => std::fs::read(&path).ok(),
            };
            Input { path, content }
        })
        .collect()
}

/// What the loop waits for.
enum Message {
    File(notify::Result<Event>),
    Stop,
}

/// Runs `generate` (which reports on its own and returns what its run
/// depended on), then again after every change to one of those files.
/// Returns when Ctrl-C or SIGTERM arrives: success, whatever the last run
/// reported, as a watch is stopped on purpose.
pub fn run(mut generate: impl FnMut() -> Vec<Input>) -> ExitCode {
    let (sender, messages) = mpsc::channel();
    if let Err(e) = stop_on_signals(sender.clone()) {
        eprintln!("error: cannot listen for Ctrl-C: {e}");
        return ExitCode::from(1);
    }
    let watcher = notify::recommended_watcher(move |event| {
        // The loop may be gone already (stopping); nothing is lost then.
        let _ = sender.send(Message::File(event));
    });
    let mut folders = match watcher {
        Ok(watcher) => Folders {
            watcher,
            watched: BTreeSet::new(),
        },
        Err(e) => {
            eprintln!("error: cannot watch files: {e}");
            return ExitCode::from(1);
        }
    };
    let mut inputs = generate();
    folders.follow(&inputs);
    let mut announce = true;
    loop {
        // Checked before waiting too: a file saved while the run read the
        // others raised its events before its folder was watched.
        let changed: Vec<String> = inputs
            .iter()
            .filter(|input| std::fs::read(&input.path).ok() != input.content)
            .map(|input| crate::relative(&input.path))
            .collect();
        if !changed.is_empty() {
            eprintln!("changed: {}", changed.join(", "));
            inputs = generate();
            folders.follow(&inputs);
            announce = true;
            continue;
        }
        // Said once per run: a burst that changed nothing (a save of the
        // same text, an editor's backup file) leaves the run's report last.
        if announce {
            let files = if inputs.len() == 1 { "file" } else { "files" };
            eprintln!(
                "watching {} {files} for changes (Ctrl-C to stop)",
                inputs.len()
            );
            announce = false;
        }
        if settle(&messages, &inputs).is_none() {
            return ExitCode::SUCCESS;
        }
        // A folder that did not exist may have appeared.
        folders.follow(&inputs);
    }
}

/// The watched folders: one for each input's folder, or its nearest
/// existing ancestor while that folder is missing.
struct Folders {
    watcher: RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
}

impl Folders {
    /// Watches the folders `inputs` need and stops watching the others, so
    /// the watch follows imports added and removed.
    fn follow(&mut self, inputs: &[Input]) {
        let wanted: BTreeSet<PathBuf> = inputs
            .iter()
            .filter_map(|input| input.path.parent()?.ancestors().find(|a| a.is_dir()))
            .map(Path::to_path_buf)
            .collect();
        for gone in self.watched.difference(&wanted) {
            // A folder deleted since is no longer watched anyway.
            let _ = self.watcher.unwatch(gone);
        }
        self.watched.retain(|folder| wanted.contains(folder));
        for folder in wanted {
            if self.watched.contains(&folder) {
                continue;
            }
            match self.watcher.watch(&folder, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(folder);
                }
                // Not remembered, so the next change tries again.
                Err(e) => eprintln!("warning: cannot watch `{}`: {e}", crate::relative(&folder)),
            }
        }
    }
}

/// Waits for an event on one of `inputs` (or on a folder above one), then
/// for the burst it starts to end. `None` when the watch is to stop.
fn settle(messages: &Receiver<Message>, inputs: &[Input]) -> Option<()> {
    loop {
        match messages.recv() {
            Ok(Message::File(Ok(event))) if concerns(&event, inputs) => break,
            Ok(Message::File(Ok(_))) => {}
            Ok(Message::File(Err(e))) => eprintln!("warning: file events: {e}"),
            Ok(Message::Stop) | Err(_) => return None,
        }
    }
    let deadline = Instant::now() + MAX_DELAY;
    loop {
        let wait = QUIET.min(deadline.saturating_duration_since(Instant::now()));
        match messages.recv_timeout(wait) {
            Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return None,
            Ok(Message::File(_)) if Instant::now() < deadline => {}
            Ok(Message::File(_)) | Err(RecvTimeoutError::Timeout) => return Some(()),
        }
    }
}

/// Whether `event` may have changed an input. Reads are not changes: the
/// loop's own reads of the inputs would otherwise wake it up forever.
fn concerns(event: &Event, inputs: &[Input]) -> bool {
    if let EventKind::Access(access) = event.kind
        && access != AccessKind::Close(AccessMode::Write)
    {
        return false;
    }
    // An event without paths (the kernel's queue overflowed) may concern anything.
    event.paths.is_empty()
        || event.paths.iter().any(|path| {
            let path = normalize(path);
            inputs.iter().any(|input| input.path.starts_with(&path))
        })
}

/// Sends `Stop` on Ctrl-C or SIGTERM, from a thread of its own; the handlers
/// are in place when this returns.
fn stop_on_signals(sender: Sender<Message>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    #[cfg(unix)]
    let stop = {
        use tokio::signal::unix::{SignalKind, signal};
        let _context = runtime.enter();
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
    };
    #[cfg(not(unix))]
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    std::thread::spawn(move || {
        runtime.block_on(stop);
        let _ = sender.send(Message::Stop);
    });
    Ok(())
}

/// `a/./b/../c` as `a/c`: an import of a missing file is named as written,
/// and events name the files as the watched folder does.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
