//! The `tagwire` binary as users and CI run it: exit codes, what goes to
//! stdout and stderr, and that `check` never writes while `lock` does.
#![allow(clippy::unwrap_used)]

use assert_cmd::assert::Assert;
use predicates::prelude::*;
use std::path::PathBuf;

mod support;
use support::{tagwire, tagwire_in};

const APP: &str = "package app;

struct Point { x: f64, y: f64 }

message Hello from client { name: string }
message Move from client { to: Point }
message Welcome from server { id: u64 }
";

/// `tagwire …` run inside a temporary project holding `app.schema`.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new(schema: &str) -> Self {
        let project = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        project.write(schema);
        project
    }

    /// `tagwire args…` run in the project, asserted on by the caller.
    fn run(&self, args: &[&str]) -> Assert {
        tagwire_in(self.dir.path()).args(args).assert()
    }

    fn write(&self, schema: &str) {
        std::fs::write(self.dir.path().join("app.schema"), schema).unwrap();
    }

    fn lock_path(&self) -> PathBuf {
        self.dir.path().join("tagwire.lock")
    }

    fn lock_text(&self) -> String {
        std::fs::read_to_string(self.lock_path()).unwrap()
    }

    fn locked(schema: &str) -> Self {
        let project = Project::new(schema);
        project.run(&["lock", "app.schema"]).success();
        project
    }
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(output)))
}

// ---------------------------------------------------------------- check

#[test]
fn check_exits_0_on_the_committed_schemas() {
    tagwire()
        .args([
            "check",
            "schemas/ui.schema",
            "schemas/article/article.schema",
            "schemas/chat/chat.schema",
        ])
        .assert()
        .code(0)
        .stdout("")
        .stderr(predicate::str::contains("ok: 16 message versions checked"));
}

#[test]
fn check_exits_1_on_diagnostics_with_rustc_style_text() {
    tagwire()
        .args(["check", "tests/fixtures/invalid/unknown_type.schema"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains(
            "error[E0041]: unknown type `Itme`",
        ))
        .stderr(predicate::str::contains(
            "┌─ tests/fixtures/invalid/unknown_type.schema:6:25",
        ))
        .stderr(predicate::str::contains("help: did you mean `Item`?"))
        .stderr(predicate::str::contains("ok:").not());
}

#[test]
fn usage_errors_exit_2() {
    tagwire()
        .args(["check"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("<SCHEMA>"));
    tagwire().args(["frobnicate"]).assert().code(2);
    tagwire()
        .args(["check", "--format", "yaml", "schemas/ui.schema"])
        .assert()
        .code(2);
    tagwire().assert().code(2);
}

#[test]
fn a_missing_schema_file_is_an_error_not_a_crash() {
    tagwire()
        .args(["check", "schemas/no_such.schema"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error[E0010]: cannot read `schemas/no_such.schema`",
        ));
}

#[test]
fn check_fails_on_a_missing_lock_and_names_it_without_writing_it() {
    let project = Project::new(APP);
    project
        .run(&["check", "app.schema"])
        .code(1)
        .stderr(predicate::str::contains(
            "error[E0096]: `tagwire.lock` is missing",
        ))
        .stderr(predicate::str::contains(
            "would add `app.Hello v1` on header `aa`",
        ))
        .stderr(predicate::str::contains("run `tagwire lock`"));
    assert!(!project.lock_path().exists());
}

#[test]
fn check_fails_on_a_stale_lock_and_names_it() {
    let project = Project::locked(APP);
    project.run(&["check", "app.schema"]).success();
    let before = project.lock_text();
    project.write(&format!("{APP}message Bye {{}}\n"));
    project
        .run(&["check", "app.schema"])
        .code(1)
        .stderr(predicate::str::contains(
            "error[E0096]: `tagwire.lock` is out of date",
        ))
        .stderr(predicate::str::contains(
            "would add `app.Bye v1` on header `ad`",
        ));
    assert_eq!(
        project.lock_text(),
        before,
        "check must never write the lock"
    );
}

#[test]
fn check_json_reports_file_line_column_and_code() {
    let output = tagwire()
        .args([
            "check",
            "--format",
            "json",
            "tests/fixtures/invalid/many_errors_sorted.schema",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let value = json(&output);
    assert_eq!(value["ok"], false);
    let diagnostics = value["diagnostics"].as_array().unwrap();
    assert!(diagnostics.len() >= 5);
    for d in diagnostics {
        assert_eq!(
            d["file"],
            "tests/fixtures/invalid/many_errors_sorted.schema"
        );
        assert!(d["line"].as_u64().unwrap() >= 1);
        assert!(d["column"].as_u64().unwrap() >= 1);
        assert!(d["end_line"].as_u64().is_some() && d["end_column"].as_u64().is_some());
        assert!(d["code"].as_str().unwrap().starts_with('E'));
        assert_eq!(d["severity"], "error");
        assert!(!d["message"].as_str().unwrap().is_empty());
    }
    let first = &diagnostics[0];
    assert_eq!(
        (
            first["code"].as_str(),
            first["line"].as_u64(),
            first["column"].as_u64()
        ),
        (Some("E0050"), Some(4), Some(24))
    );
    assert_eq!(first["related"][0]["message"], "first declared here");
    assert_eq!(first["related"][0]["column"], 16);
    // Sorted by position.
    let positions: Vec<(u64, u64)> = diagnostics
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] <= w[1]), "{positions:?}");
}

#[test]
fn check_json_on_success_is_ok_with_no_diagnostics() {
    let output = tagwire()
        .args(["check", "--format", "json", "schemas/ui.schema"])
        .assert()
        .success()
        .get_output()
        .clone();
    let value = json(&output.stdout);
    assert_eq!(value["ok"], true);
    assert_eq!(value["diagnostics"], serde_json::json!([]));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------- lock

#[test]
fn lock_writes_then_is_a_no_op() {
    let project = Project::new(APP);
    project
        .run(&["lock", "app.schema"])
        .success()
        .stderr(predicate::str::contains("wrote").and(predicate::str::contains("tagwire.lock")));
    let first = project.lock_text();
    assert!(
        first.contains("name = \"Move\"\nversion = 1\nheader = \"ab\""),
        "{first}"
    );
    project
        .run(&["lock", "app.schema"])
        .success()
        .stderr(predicate::str::contains("ok: lock is up to date"));
    assert_eq!(project.lock_text(), first);
    project.run(&["check", "app.schema"]).success();
}

#[test]
fn lock_json_lists_the_files_written() {
    let project = Project::new(APP);
    let output = project
        .run(&["lock", "--format", "json", "app.schema"])
        .success()
        .get_output()
        .stdout
        .clone();
    let value = json(&output);
    assert_eq!(value["ok"], true);
    let written = value["written"].as_array().unwrap();
    assert_eq!(written.len(), 1);
    assert!(written[0].as_str().unwrap().ends_with("tagwire.lock"));
    let output = project
        .run(&["lock", "--format", "json", "app.schema"])
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(json(&output)["written"], serde_json::json!([]));
}

#[test]
fn lock_refuses_a_breaking_change_then_accepts_it_with_allow_breaking() {
    let project = Project::locked(APP);
    let before = project.lock_text();
    project.write(&APP.replace(
        "struct Point { x: f64, y: f64 }",
        "struct Point { x: f32, y: f64 }",
    ));
    project
        .run(&["lock", "app.schema"])
        .code(1)
        .stderr(predicate::str::contains(
            "error[E0091]: breaking change to `Move v1`, whose header `ab` is locked",
        ))
        .stderr(predicate::str::contains(
            "locked shape: {to: app.Point}; app.Point = struct {x: f64, y: f64}",
        ))
        .stderr(predicate::str::contains(
            "new shape:    {to: app.Point}; app.Point = struct {x: f32, y: f64}",
        ))
        .stderr(predicate::str::contains("message Move v2"))
        .stderr(predicate::str::contains("--allow-breaking"));
    assert_eq!(project.lock_text(), before, "a refused lock is not written");
    project
        .run(&["lock", "--allow-breaking", "app.schema"])
        .success();
    let after = project.lock_text();
    assert!(
        after.contains("shape = \"{to: app.Point}; app.Point = struct {x: f32, y: f64}\""),
        "{after}"
    );
    assert!(
        after.contains("name = \"Move\"\nversion = 1\nheader = \"ab\""),
        "the header does not move"
    );
    project.run(&["check", "app.schema"]).success();
}

#[test]
fn lock_keeps_a_tombstone_and_warns_but_succeeds() {
    let project = Project::locked(APP);
    project.write(&APP.replace("message Move from client { to: Point }\n", ""));
    project
        .run(&["lock", "app.schema"])
        .success()
        .stderr(predicate::str::contains(
            "warning[W0090]: `Move v1` was removed; its header `ab` stays reserved",
        ));
    assert!(project.lock_text().contains("removed = true"));
}

// ---------------------------------------------------------------- headers

#[test]
fn headers_prints_a_table() {
    tagwire()
        .args(["headers", "schemas/article/article.schema"])
        .assert()
        .success()
        .stdout(
            "HEADER  MESSAGE              VERSION  DIRECTION\n\
             aa      article.RenderUi     v1       server\n\
             ab      article.UpdateUi     v1       server\n\
             ac      article.ShowLoading  v1       server\n\
             ad      article.RenderUi     v2       server\n",
        );
}

#[test]
fn headers_json_has_one_row_per_message_version() {
    let output = tagwire()
        .args(["headers", "--format", "json", "schemas/ui.schema"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let value = json(&output);
    assert_eq!(value["ok"], true);
    let rows: Vec<(String, String, u64, String)> = value["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["package"], "ui");
            (
                r["header"].as_str().unwrap().to_string(),
                r["message"].as_str().unwrap().to_string(),
                r["version"].as_u64().unwrap(),
                r["direction"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("aa", "RenderUi", 1, "server"),
        ("ab", "UpdateUi", 1, "server"),
        ("ac", "RenderUi", 2, "server"),
        ("ad", "ShowLoading", 1, "server"),
        ("ae", "Click", 1, "client"),
        ("af", "Chat", 1, "both"),
    ];
    assert_eq!(
        rows,
        expected.map(|(h, m, v, d)| (h.to_string(), m.to_string(), v, d.to_string()))
    );
}

#[test]
fn headers_previews_unlocked_versions_without_writing() {
    let project = Project::new(APP);
    project
        .run(&["headers", "app.schema"])
        .success()
        .stdout(predicate::str::contains(
            "ac      app.Welcome  v1       server",
        ));
    assert!(!project.lock_path().exists());
}

#[test]
fn headers_on_a_bad_schema_exits_1_with_no_table() {
    tagwire()
        .args([
            "headers",
            "tests/fixtures/invalid/header_pinned_twice.schema",
        ])
        .assert()
        .code(1)
        .stdout("")
        .stderr(predicate::str::contains("error[E0074]"));
}

// ---------------------------------------------------------------- help and fmt

#[test]
fn every_subcommand_explains_itself() {
    let cases = [
        ("check", "fail if tagwire.lock is missing or would change"),
        ("lock", "Create or update tagwire.lock"),
        ("headers", "Print every message version with its header"),
        ("fmt", "Format schemas"),
    ];
    for (command, purpose) in cases {
        tagwire()
            .args([command, "--help"])
            .assert()
            .success()
            .stdout(predicate::str::contains(purpose));
    }
    tagwire()
        .args(["lock", "--help"])
        .assert()
        .stdout(predicate::str::contains("--allow-breaking"));
    tagwire()
        .args(["fmt", "--help"])
        .assert()
        .stdout(predicate::str::contains("--check"));
    tagwire()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Exit status: 0 on success, 1 when the schema has errors, 2 on usage errors",
        ));
}

#[test]
fn fmt_check_passes_on_a_formatted_schema() {
    tagwire()
        .args(["fmt", "--check", "schemas/ui.schema"])
        .assert()
        .code(0);
}

#[test]
fn fmt_check_fails_on_a_badly_indented_schema_without_touching_it() {
    let messy = "package app;\nstruct Point {\n        x: f64,\n  y: f64 }\n";
    let project = Project::new(messy);
    project
        .run(&["fmt", "--check", "app.schema"])
        .code(1)
        .stdout(predicate::str::contains("app.schema"));
    assert_eq!(
        std::fs::read_to_string(project.dir.path().join("app.schema")).unwrap(),
        messy
    );
}
