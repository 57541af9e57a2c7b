//! `tagwire gen --watch`: the real binary on a temporary folder, real file
//! events. Every wait polls with a deadline, so a watcher that misses a
//! change fails the test instead of hanging it.

#![allow(clippy::unwrap_used)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

const COMMON: &str = "package common;\n\nstruct Point { x: i32, y: i32 }\n";

fn app(extra: &str) -> String {
    format!(
        "package app;\n\nimport \"common.schema\";\n{extra}\nmessage Hello from server {{ at: Point }}\n"
    )
}

/// A running `tagwire gen ... --watch`, its stderr collected as it comes.
struct Watch {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tagwire"))
            .current_dir(dir)
            .args(args)
            .arg("--watch")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                collected
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..n]));
            }
        });
        Watch { child, stderr }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until `done` holds, failing with what the watcher said if it
    /// does not within the deadline or if the watcher exits.
    fn until(&mut self, what: &str, mut done: impl FnMut(&str) -> bool) {
        let start = Instant::now();
        loop {
            let stderr = self.stderr();
            if done(&stderr) {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("the watcher exited ({status}) before {what}; stderr:\n{stderr}");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "no {what} within {DEADLINE:?}; stderr:\n{stderr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the run that follows a change: one more "watching" line
    /// than `before` had, and `check` true of the output afterwards.
    fn until_run(&mut self, what: &str, before: &str, check: impl Fn(&str) -> bool) -> String {
        let runs = before.matches("watching ").count();
        self.until(what, |stderr| stderr.matches("watching ").count() > runs);
        let after = self.stderr();
        assert!(check(&after[before.len()..]), "{what}; stderr:\n{after}");
        after
    }

    /// Ctrl-C's counterpart for a process: SIGTERM, then a clean exit.
    #[cfg(unix)]
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(start.elapsed() < DEADLINE, "still running after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "SIGTERM ends a watch with status 0, not {status}; stderr:\n{}",
            self.stderr()
        );
    }

    #[cfg(not(unix))]
    fn stop(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // A failed assertion must not leave the watcher running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// An editor's atomic save: a temporary file renamed over the old one, so
/// the watched file is deleted and created again.
fn save_atomically(path: &Path, text: &str) {
    let temporary = path.with_extension("schema.swp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

/// One `tagwire gen ts app.schema --format json` run, without `--watch`.
fn gen_json(dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tagwire"))
        .current_dir(dir)
        .args([
            "gen",
            "ts",
            "app.schema",
            "--out",
            "gen",
            "--format",
            "json",
        ])
        .output()
        .unwrap()
}

/// What `tagwire check` prints for the schema as it is now.
fn check_stderr(dir: &Path, schema: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_tagwire"))
        .current_dir(dir)
        .args(["check", schema])
        .output()
        .unwrap();
    assert!(!output.status.success());
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn regenerates_on_every_change_of_the_schema_its_imports_and_survives_errors() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let root = dir.join("app.schema");
    std::fs::write(&root, app("")).unwrap();
    std::fs::write(dir.join("common.schema"), COMMON).unwrap();
    let out = dir.join("gen");
    let mut watch = Watch::start(dir, &["gen", "ts", "app.schema", "--out", "gen"]);

    watch.until("the first run", |stderr| stderr.contains("watching "));
    let first = watch.stderr();
    assert!(first.contains("wrote gen/app.ts"), "{first}");
    assert!(read(out.join("app.ts")).contains("Hello"));
    assert!(dir.join("tagwire.lock").exists(), "gen writes the lock");
    assert!(
        first.contains("watching 3 files"),
        "the schema, its import and the lock: {first}"
    );

    // The root schema, saved the way editors do: renamed over.
    save_atomically(&root, &app("message Bye from client { reason: string }"));
    let after = watch.until_run("a run after the root changed", &first, |run| {
        run.contains("changed: app.schema") && run.contains("wrote gen/app.ts")
    });
    assert!(read(out.join("app.ts")).contains("Bye"));
    assert!(
        read(dir.join("tagwire.lock")).contains("Bye"),
        "the new message is locked as `gen` locks it"
    );

    // The imported schema (written in place).
    std::fs::write(
        dir.join("common.schema"),
        format!("{COMMON}struct Size {{ w: u32, h: u32 }}\n"),
    )
    .unwrap();
    let after = watch.until_run("a run after the import changed", &after, |run| {
        run.contains("changed: common.schema")
    });
    assert!(read(out.join("common.ts")).contains("Size"));

    // The root saved again after the rename: still watched. A save in two
    // steps (truncate, then write) is one run, which sees the whole text.
    std::fs::write(&root, "").unwrap();
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(
        &root,
        app("message Bye from client { reason: string }\nmessage Later from client { code: u16 }"),
    )
    .unwrap();
    let after = watch.until_run("a run after a save in two steps", &after, |run| {
        run.matches("changed: ").count() == 1 && !run.contains("error")
    });
    assert!(read(out.join("app.ts")).contains("Later"));

    // A syntax error: reported as `check` reports it, and the watch goes on.
    std::fs::write(&root, format!("{}message Broken {{\n", app(""))).unwrap();
    let after = watch.until_run("the syntax error", &after, |run| run.contains("error["));
    let expected = check_stderr(dir, "app.schema");
    assert!(
        after.contains(&expected),
        "the error as `check` renders it:\n{expected}\nwatch said:\n{after}"
    );
    assert!(watch.child.try_wait().unwrap().is_none(), "still running");

    // Fixed: generated again.
    std::fs::write(
        &root,
        app("message Bye from client { reason: string }\nmessage Fixed from client { ok: bool }"),
    )
    .unwrap();
    watch.until_run("the run after the fix", &after, |run| {
        run.contains("wrote gen/app.ts") && !run.contains("error")
    });
    assert!(read(out.join("app.ts")).contains("Fixed"));

    watch.stop();
}

#[test]
fn follows_imports_added_before_their_file_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let root = dir.join("app.schema");
    std::fs::write(&root, app("")).unwrap();
    std::fs::write(dir.join("common.schema"), COMMON).unwrap();
    let mut watch = Watch::start(dir, &["gen", "rust", "app.schema", "--out", "gen"]);
    watch.until("the first run", |stderr| stderr.contains("watching "));
    let before = watch.stderr();

    // An import of a file that does not exist yet, in a folder that does
    // not exist yet either.
    std::fs::write(&root, app("import \"more/extra.schema\";")).unwrap();
    let after = watch.until_run("the missing import's error", &before, |run| {
        run.contains("cannot find imported file `more/extra.schema`")
    });
    std::fs::create_dir(dir.join("more")).unwrap();
    std::fs::write(
        dir.join("more/extra.schema"),
        "package extra;\n\nstruct Note { text: string }\n",
    )
    .unwrap();
    let after = watch.until_run("the run once the import exists", &after, |run| {
        run.contains("wrote gen/extra.rs") && run.contains("watching 4 files")
    });

    // The import removed: no longer among the files watched.
    std::fs::write(&root, app("")).unwrap();
    watch.until_run("the run without the import", &after, |run| {
        run.contains("watching 3 files")
    });
    watch.stop();
}

#[test]
fn locked_watch_reports_a_lock_that_would_change_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    std::fs::write(dir.join("app.schema"), app("")).unwrap();
    std::fs::write(dir.join("common.schema"), COMMON).unwrap();
    let mut watch = Watch::start(
        dir,
        &["gen", "ts", "app.schema", "--out", "gen", "--locked"],
    );
    watch.until("the first run", |stderr| stderr.contains("watching "));
    let before = watch.stderr();
    assert!(before.contains("tagwire.lock` is missing"), "{before}");
    assert!(!dir.join("tagwire.lock").exists());
    assert!(!dir.join("gen").exists());

    // Locking it from outside (`tagwire lock`) is a change like any other.
    let locked = Command::new(env!("CARGO_BIN_EXE_tagwire"))
        .current_dir(dir)
        .args(["lock", "app.schema"])
        .status()
        .unwrap();
    assert!(locked.success());
    watch.until_run("the run after the lock appeared", &before, |run| {
        run.contains("changed: tagwire.lock") && run.contains("wrote gen/app.ts")
    });
    watch.stop();
}

#[test]
fn json_lists_the_inputs_and_the_rendered_diagnostics() {
    let temporary = tempfile::tempdir().unwrap();
    // As the compiler names it: `/tmp` may be a link.
    let dir = temporary.path().canonicalize().unwrap();
    std::fs::write(dir.join("app.schema"), app("import \"missing.schema\";")).unwrap();
    std::fs::write(dir.join("common.schema"), COMMON).unwrap();
    let output = gen_json(&dir);
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], false);
    let inputs: Vec<PathBuf> = json["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| PathBuf::from(p.as_str().unwrap()))
        .collect();
    assert_eq!(
        inputs,
        [
            dir.join("app.schema"),
            dir.join("common.schema"),
            dir.join("missing.schema")
        ],
        "every file the run read or needed, absolute"
    );
    assert_eq!(
        json["rendered"].as_str().unwrap(),
        check_stderr(&dir, "app.schema"),
        "the diagnostics as the text form prints them"
    );

    std::fs::write(dir.join("app.schema"), app("")).unwrap();
    let output = gen_json(&dir);
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["rendered"], "");
    assert_eq!(
        json["inputs"],
        serde_json::json!([
            dir.join("app.schema"),
            dir.join("common.schema"),
            dir.join("tagwire.lock")
        ]),
        "the lock joins the inputs once there are messages to lock"
    );
}
