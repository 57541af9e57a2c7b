//! `tagwire new`: the files it writes, the dependency lines, and its
//! refusals. That the project it writes builds, serves its page and chats in
//! Chromium is `tests/examples/run.sh`'s part.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn tagwire(cwd: &Path) -> Command {
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("tagwire");
    command.current_dir(cwd);
    command
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

/// Every file below `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn writes_a_project_whose_schema_passes_check_against_its_lock() {
    let tmp = tempfile::tempdir().unwrap();
    tagwire(tmp.path())
        .args(["new", "chat-app"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "wrote chat-app/schema/tagwire.lock",
        ));
    let dir = tmp.path().join("chat-app");
    assert_eq!(
        files(&dir),
        [
            ".gitignore",
            "Cargo.toml",
            "README.md",
            "build.rs",
            "schema/chat_app.schema",
            "schema/tagwire.lock",
            "src/main.rs",
            "web/index.html",
            "web/package.json",
            "web/src/gen/chat_app.ts",
            "web/src/main.ts",
            "web/tsconfig.json",
        ]
    );

    // The name, from the directory: the crate's, the schema package's, the npm package's.
    let cargo = read(dir.join("Cargo.toml"));
    assert!(cargo.contains("name = \"chat-app\""), "{cargo}");
    assert!(read(dir.join("schema/chat_app.schema")).contains("package chat_app;"));
    assert!(read(dir.join("web/package.json")).contains("\"name\": \"chat-app-web\""));
    assert!(read(dir.join("build.rs")).contains(".schema(\"schema/chat_app.schema\")"));
    assert!(read(dir.join("web/src/main.ts")).contains("from \"./gen/chat_app.js\""));
    for file in files(&dir) {
        let text = read(dir.join(&file));
        assert!(
            !text.contains("{{"),
            "a placeholder was left in {file}:\n{text}"
        );
    }

    // By default: released versions, and the README says what to write before the release.
    assert!(
        cargo.contains("tagwire = { version = \"0.1\", features = [\"server\"] }"),
        "{cargo}"
    );
    assert!(
        cargo.contains("tagwire-compiler = { version = \"0.1\", default-features = false }"),
        "{cargo}"
    );
    assert!(read(dir.join("web/package.json")).contains("\"tagwire\": \"^0.1.0\""));
    assert!(read(dir.join("README.md")).contains("--tagwire-path"));

    // The lock is the compiler's own, and the schema matches it and is formatted.
    let lock = read(dir.join("schema/tagwire.lock"));
    assert!(lock.contains("header = \"aa\""), "{lock}");
    tagwire(&dir)
        .args(["check", "schema/chat_app.schema"])
        .assert()
        .success();
    tagwire(&dir)
        .args(["fmt", "--check", "schema/chat_app.schema"])
        .assert()
        .success();
    // The page's module is what `tagwire gen ts` writes.
    let generated = tmp.path().join("gen");
    tagwire(&dir)
        .args(["gen", "ts", "schema/chat_app.schema", "--locked", "--out"])
        .arg(&generated)
        .assert()
        .success();
    assert_eq!(
        read(dir.join("web/src/gen/chat_app.ts")),
        read(generated.join("chat_app.ts"))
    );
}

#[test]
fn tagwire_path_writes_path_dependencies_on_the_checkout() {
    let tmp = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(repo_root()).unwrap();
    tagwire(tmp.path())
        .args(["new", "app", "--name", "board", "--tagwire-path"])
        .arg(&root)
        .assert()
        .success();
    let dir = tmp.path().join("app");
    let cargo = read(dir.join("Cargo.toml"));
    let at = |part: &str| root.join(part).display().to_string();
    assert!(cargo.contains("name = \"board\""), "{cargo}");
    assert!(
        cargo.contains(&format!(
            "tagwire = {{ path = \"{}\", features = [\"server\"] }}",
            at("runtime/rust")
        )),
        "{cargo}"
    );
    assert!(
        cargo.contains(&format!(
            "tagwire-compiler = {{ path = \"{}\", default-features = false }}",
            at("compiler")
        )),
        "{cargo}"
    );
    let npm = read(dir.join("web/package.json"));
    assert!(
        npm.contains(&format!(
            "\"tagwire\": \"file:{}\"",
            at("runtime/typescript")
        )),
        "{npm}"
    );
    tagwire(&dir)
        .args(["check", "schema/board.schema"])
        .assert()
        .success();
}

#[test]
fn refuses_a_non_empty_directory_and_leaves_it_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("busy");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    tagwire(tmp.path())
        .args(["new", "busy"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: `busy` is not empty: `tagwire new` writes a whole project",
        ));
    assert_eq!(files(&dir), ["notes.txt"]);
    assert_eq!(read(dir.join("notes.txt")), "mine");

    // An empty directory is fine, as for `cargo new`'s `cargo init`.
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    tagwire(tmp.path())
        .args(["new", "empty"])
        .assert()
        .success();
}

#[test]
fn refuses_bad_names_and_checkouts_before_writing_anything() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            &["new", "x", "--name", "My App"][..],
            "`My App` cannot name the project (--name): use lowercase ASCII letters",
        ),
        (
            &["new", "Upper"][..],
            "`Upper` cannot name the project (the directory's name (or pass --name))",
        ),
        (
            &["new", "x", "--name", "tagwire"][..],
            "the project depends on a crate of that name",
        ),
        // A Rust keyword: the schema language refuses it as a package name.
        (
            &["new", "x", "--name", "self"][..],
            "`self` cannot name the schema package `self` (choose another with --name)",
        ),
        (
            &["new", "x", "--tagwire-path", "no-such-checkout"][..],
            "--tagwire-path `no-such-checkout`:",
        ),
        (
            &["new", "x", "--tagwire-path", "."][..],
            "--tagwire-path `.` is not a Tagwire checkout: `runtime/rust/Cargo.toml` is missing",
        ),
    ] {
        tagwire(tmp.path())
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
    }
    assert_eq!(files(tmp.path()), Vec::<String>::new());
}
