//! What several test binaries share: where the repository and its example
//! schemas are, and the `tagwire` binary run from the repository root.
// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The repository root (the compiler crate's parent), canonical.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .canonicalize()
        .unwrap()
}

/// `schemas/`, the committed example schemas.
pub fn schemas_dir() -> PathBuf {
    repo_root().join("schemas")
}

/// Every `.schema` file under `dir`, at any depth, sorted.
pub fn schema_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(schema_files(&path));
        } else if path.extension().is_some_and(|e| e == "schema") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every example schema, sorted.
pub fn all_schemas() -> Vec<PathBuf> {
    schema_files(&schemas_dir())
}

/// `tagwire …` run from the repository root.
pub fn tagwire() -> assert_cmd::Command {
    tagwire_in(&repo_root())
}

/// `tagwire …` run in `dir`.
pub fn tagwire_in(dir: &Path) -> assert_cmd::Command {
    let mut command = assert_cmd::cargo::cargo_bin_cmd!("tagwire");
    command.current_dir(dir);
    command
}
