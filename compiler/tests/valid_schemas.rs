//! Every schema under `schemas/` is valid, matches its committed
//! `tagwire.lock` exactly (`LockMode::Locked`), and its checked IR and header
//! table are snapshotted.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use tagwire_compiler::ir::Schema;
use tagwire_compiler::{FrontEnd, LockMode, Output, report};

mod support;
use support::{all_schemas, repo_root, schemas_dir};

fn run_locked(paths: &[PathBuf]) -> Output {
    let mut front_end = FrontEnd::new();
    for path in paths {
        front_end.schema(path);
    }
    front_end.lock_mode(LockMode::Locked).run()
}

fn checked(path: &Path) -> Schema {
    let output = run_locked(&[path.to_path_buf()]);
    assert!(
        output.diagnostics.is_empty(),
        "{} should check cleanly against its lock:\n{}",
        path.display(),
        output.render_text()
    );
    assert!(
        output.locks.iter().all(|l| !l.changed()),
        "{}: the lock would change",
        path.display()
    );
    output.schema.unwrap()
}

/// `schemas/article/article.schema` → `article__article`.
fn snapshot_name(path: &Path) -> String {
    let relative = path.strip_prefix(schemas_dir()).unwrap().with_extension("");
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("__")
}

/// (header, message, version, direction) rows of one package.
fn headers(schema: &Schema) -> Vec<(String, String, u32, String)> {
    report::header_rows(schema)
        .into_iter()
        .map(|r| (r.header, r.message, r.version, r.direction.to_string()))
        .collect()
}

fn row(
    header: &str,
    message: &str,
    version: u32,
    direction: &str,
) -> (String, String, u32, String) {
    (header.into(), message.into(), version, direction.into())
}

#[test]
fn there_are_schemas_to_check() {
    let names: Vec<String> = all_schemas().iter().map(|p| snapshot_name(p)).collect();
    for expected in ["ui", "article__article", "chat__chat", "common__geometry"] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
}

#[test]
fn every_schema_is_valid_locked_and_snapshotted() {
    for path in all_schemas() {
        let schema = checked(&path);
        let name = snapshot_name(&path);
        insta::assert_snapshot!(format!("{name}.dump"), report::dump(&schema));
        insta::assert_snapshot!(format!("{name}.headers"), report::header_table(&schema));
    }
}

/// All schemas in one run: each folder keeps its own lock and nothing changes.
#[test]
fn all_schemas_together_match_their_locks() {
    let output = run_locked(&all_schemas());
    assert!(output.diagnostics.is_empty(), "{}", output.render_text());
    let folders: Vec<String> = output
        .locks
        .iter()
        .map(|l| {
            l.path
                .parent()
                .unwrap()
                .strip_prefix(repo_root())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(
        folders,
        [
            "schemas",
            "schemas/article",
            "schemas/chat",
            "schemas/everything",
            "schemas/relay",
            "schemas/signup"
        ]
    );
    let schema = output.schema.unwrap();
    let packages: Vec<&str> = schema.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        packages,
        [
            "article",
            "chat",
            "everything",
            "geometry",
            "relay",
            "signup",
            "ui"
        ]
    );
}

/// Headers go in alphabet order (docs/SPEC.md §1): RENDER_UI, UPDATE_UI, SHOW_LOADING and RENDER_UI_V2 on aa, ab, ac, ad.
#[test]
fn article_headers_are_aa_ab_ac_ad() {
    let schema = checked(&schemas_dir().join("article/article.schema"));
    assert_eq!(
        headers(&schema),
        [
            row("aa", "RenderUi", 1, "server"),
            row("ab", "UpdateUi", 1, "server"),
            row("ac", "ShowLoading", 1, "server"),
            row("ad", "RenderUi", 2, "server"),
        ]
    );
    let message = &schema.packages[0].messages[3];
    assert_eq!((message.name.as_str(), message.version), ("RenderUi", 2));
    assert_eq!(message.type_name(), "RenderUiV2");
}

/// ui.schema pins `UpdateUi` at `ab`; the others fill the free headers around it in declaration order.
#[test]
fn ui_headers_keep_the_pinned_update_ui_at_ab() {
    let schema = checked(&schemas_dir().join("ui.schema"));
    assert_eq!(
        headers(&schema),
        [
            row("aa", "RenderUi", 1, "server"),
            row("ab", "UpdateUi", 1, "server"),
            row("ac", "RenderUi", 2, "server"),
            row("ad", "ShowLoading", 1, "server"),
            row("ae", "Click", 1, "client"),
            row("af", "Chat", 1, "both"),
        ]
    );
    let update = schema.packages[0]
        .messages
        .iter()
        .find(|m| m.name == "UpdateUi")
        .unwrap();
    assert_eq!(update.pinned.map(|h| h.to_string()).as_deref(), Some("ab"));
}

/// chat.schema imports geometry.schema from a sibling folder: the imported
/// package's types are checked and used, its (absent) messages are not part
/// of the protocol, and the lock lives beside the root schema only.
#[test]
fn imports_bring_in_types_from_another_package() {
    let output = run_locked(&[schemas_dir().join("chat/chat.schema")]);
    assert!(output.diagnostics.is_empty(), "{}", output.render_text());
    let locks: Vec<PathBuf> = output.locks.iter().map(|l| l.path.clone()).collect();
    assert_eq!(locks, [schemas_dir().join("chat/tagwire.lock")]);
    let schema = output.schema.unwrap();
    let chat = schema.packages.iter().find(|p| p.name == "chat").unwrap();
    let geometry = schema
        .packages
        .iter()
        .find(|p| p.name == "geometry")
        .unwrap();
    assert_eq!(chat.dependencies, ["geometry"]);
    assert!(geometry.messages.is_empty());
    let geometry_types: Vec<&str> = geometry.types.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(geometry_types, ["Point", "Size", "Rect"]);
    // Shapes spell imported types with their package and include their definitions.
    let resize = chat.messages.iter().find(|m| m.name == "Resize").unwrap();
    assert!(
        resize
            .shape
            .contains("geometry.Rect = struct {origin: geometry.Point, size: geometry.Size}"),
        "{}",
        resize.shape
    );
    assert_eq!(
        headers(&schema),
        [
            row("aa", "Post", 1, "server"),
            row("ab", "Post", 2, "server"),
            row("ac", "Resize", 1, "client"),
            row("ad", "History", 1, "both"),
            row("ae", "Cursor", 1, "both"),
            row("s1", "Say", 1, "client"),
        ]
    );
    let cursor = chat.messages.iter().find(|m| m.name == "Cursor").unwrap();
    assert!(cursor.presence);
    assert!(
        chat.messages
            .iter()
            .filter(|m| m.name != "Cursor")
            .all(|m| !m.presence)
    );
}

/// A protocol fingerprint depends only on the protocol, not on where it is checked from.
#[test]
fn fingerprints_do_not_depend_on_the_run() {
    let alone = checked(&schemas_dir().join("ui.schema"));
    let together = run_locked(&all_schemas()).schema.unwrap();
    let ui = together.packages.iter().find(|p| p.name == "ui").unwrap();
    assert_eq!(alone.packages[0].fingerprint, ui.fingerprint);
    assert_eq!(alone.packages[0].fingerprint.len(), 16);
}
