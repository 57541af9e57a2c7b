//! A derive-defined protocol is protected by the lock as docs/DERIVE.md
//! says: its exported schema (every header pinned) is locked with
//! `LockMode::Update`, and "the next commit" (a second enum with the same
//! package, standing for the changed Rust code) is checked against that lock
//! with `LockMode::Locked`, as CI's `tagwire check` does.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use tagwire::SchemaExport;
use tagwire_compiler::{FrontEnd, LockMode, Output};

/// The committed protocol.
mod committed {
    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "server", package = "ui")]
    pub enum ServerMsg {
        RenderUi { id: String, tree: Vec<u8> },
        UpdateUi { id: String, patch: Vec<u8> },
        Ping,
    }
}

/// Breaking: a field added to a locked version.
mod field_added {
    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "server", package = "ui")]
    pub enum ServerMsg {
        RenderUi {
            id: String,
            tree: Vec<u8>,
            theme: Option<String>,
        },
        UpdateUi {
            id: String,
            patch: Vec<u8>,
        },
        Ping,
    }
}

/// Breaking: a variant inserted before others moves their headers.
mod inserted {
    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "server", package = "ui")]
    pub enum ServerMsg {
        Hello { name: String },
        RenderUi { id: String, tree: Vec<u8> },
        UpdateUi { id: String, patch: Vec<u8> },
        Ping,
    }
}

/// The right way: a new version, appended.
mod new_version {
    #[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
    #[tagwire(direction = "server", package = "ui")]
    pub enum ServerMsg {
        RenderUi {
            id: String,
            tree: Vec<u8>,
        },
        UpdateUi {
            id: String,
            patch: Vec<u8>,
        },
        Ping,
        #[tagwire(name = "RenderUi", version = 2)]
        RenderUiV2 {
            id: String,
            tree: Vec<u8>,
            theme: Option<String>,
        },
    }
}

fn run(dir: &Path, schema: &str, mode: LockMode) -> Output {
    let path = dir.join("ui.schema");
    std::fs::write(&path, schema).unwrap();
    FrontEnd::new().schema(&path).lock_mode(mode).run()
}

/// A temp dir holding the committed export and the lock `tagwire lock` wrote.
fn locked_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &committed::ServerMsg::schema(),
        LockMode::Update,
    );
    assert!(!out.has_errors(), "{}", out.render_text());
    out.write_locks().unwrap();
    let lock = std::fs::read_to_string(dir.path().join("tagwire.lock")).unwrap();
    assert!(lock.contains("name = \"RenderUi\""), "{lock}");
    // The committed export passes the check.
    let out = run(
        dir.path(),
        &committed::ServerMsg::schema(),
        LockMode::Locked,
    );
    assert!(!out.has_errors(), "{}", out.render_text());
    dir
}

fn codes(out: &Output) -> Vec<&'static str> {
    out.diagnostics
        .iter()
        .filter(|d| d.severity == tagwire_compiler::diagnostic::Severity::Error)
        .map(|d| d.code.as_str())
        .collect()
}

#[test]
fn a_field_added_to_a_locked_version_fails_with_e0091() {
    let dir = locked_dir();
    let schema = field_added::ServerMsg::schema();
    let out = run(dir.path(), &schema, LockMode::Locked);
    assert_eq!(codes(&out), ["E0091"], "{}", out.render_text());
    assert!(
        out.render_text().contains("RenderUi"),
        "{}",
        out.render_text()
    );
    // `tagwire lock` refuses it too: breaking changes are not additive.
    let out = run(dir.path(), &schema, LockMode::Update);
    assert!(codes(&out).contains(&"E0091"), "{}", out.render_text());
}

#[test]
fn a_variant_inserted_in_the_middle_fails_with_e0090() {
    let dir = locked_dir();
    // Without the lock, the derive moved the headers of the variants after it…
    let headers: Vec<(String, &str)> = inserted::ServerMsg::headers()
        .into_iter()
        .map(|(h, n, _, _)| (h.to_string(), n))
        .collect();
    assert_eq!(
        headers,
        [
            ("aa".to_owned(), "Hello"),
            ("ab".to_owned(), "RenderUi"),
            ("ac".to_owned(), "UpdateUi"),
            ("ad".to_owned(), "Ping"),
        ]
    );
    // …and the export pins them, so the check refuses every moved header.
    let out = run(dir.path(), &inserted::ServerMsg::schema(), LockMode::Locked);
    // E0090 for each moved header, and E0094 for the new variant's pin of
    // `aa`, which the lock keeps for `RenderUi v1`.
    let mut codes = codes(&out);
    codes.sort_unstable();
    assert_eq!(
        codes,
        ["E0090", "E0090", "E0090", "E0094"],
        "{}",
        out.render_text()
    );
    // Unpinned, the compiler would quietly give them their locked headers
    // again, and the Rust code would disagree with the lock: hence `schema()`
    // pins every header.
    let out = run(
        dir.path(),
        &inserted::ServerMsg::schema_unpinned(),
        LockMode::Update,
    );
    assert!(!out.has_errors(), "{}", out.render_text());
}

#[test]
fn a_new_version_appended_is_accepted() {
    let dir = locked_dir();
    let schema = new_version::ServerMsg::schema();
    // Additive: `tagwire check` wants the lock updated, `tagwire lock` does it.
    let out = run(dir.path(), &schema, LockMode::Locked);
    assert!(out.has_errors(), "the lock lacks RenderUi v2");
    assert!(!codes(&out).contains(&"E0091"), "{}", out.render_text());
    assert!(!codes(&out).contains(&"E0090"), "{}", out.render_text());
    let out = run(dir.path(), &schema, LockMode::Update);
    assert!(!out.has_errors(), "{}", out.render_text());
    out.write_locks().unwrap();
    let out = run(dir.path(), &schema, LockMode::Locked);
    assert!(!out.has_errors(), "{}", out.render_text());
}
