//! How `tagwire.lock` follows a schema as it evolves: headers never move and
//! are never reused, additive changes are written, and changes to the wire
//! shape of a locked message version are refused unless explicitly allowed.
//! Every test works on real files in a temporary folder.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use tagwire_compiler::LockFile;
use tagwire_compiler::diagnostic::Diagnostic;
use tagwire_compiler::{FrontEnd, LockMode, Output};

const BASE: &str = "package app;

struct Point { x: f64, y: f64 }

message Hello from client { name: string }
message Move from client { to: Point }
message Welcome from server { id: u64 }
";

/// `BASE` with `Move v1` removed, which tombstones its header `ab`.
fn without_move() -> String {
    BASE.replace("message Move from client { to: Point }\n", "")
}

/// A temporary folder holding schemas and their lock.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A project whose `app.schema` is `BASE`, locked: Hello aa, Move ab, Welcome ac.
    fn locked() -> Self {
        let project = Project::new();
        project.relock(BASE);
        assert_headers(
            &project,
            &["app.schema"],
            &[("Hello v1", "aa"), ("Move v1", "ab"), ("Welcome v1", "ac")],
        );
        project
    }

    fn root(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root().join(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn run(&self, files: &[&str], mode: LockMode, allow_breaking: bool) -> Output {
        let mut front_end = FrontEnd::new();
        for file in files {
            front_end.schema(self.path(file));
        }
        front_end
            .lock_mode(mode)
            .allow_breaking(allow_breaking)
            .run()
    }

    /// `tagwire lock`: update mode, must succeed, writes the locks.
    fn lock(&self, files: &[&str]) -> Output {
        self.update(files, false, "lock")
    }

    /// Writes `schema` as `app.schema` and locks it: the usual next step.
    fn relock(&self, schema: &str) -> Output {
        self.write("app.schema", schema);
        self.lock(&["app.schema"])
    }

    /// `tagwire lock --allow-breaking`.
    fn lock_breaking(&self, files: &[&str]) -> Output {
        self.update(files, true, "lock --allow-breaking")
    }

    /// Update mode that must succeed (`command` names it when it does not);
    /// writes the locks.
    fn update(&self, files: &[&str], allow_breaking: bool, command: &str) -> Output {
        let output = self.run(files, LockMode::Update, allow_breaking);
        assert!(
            !output.has_errors(),
            "{command} failed:\n{}",
            self.render(&output)
        );
        output.write_locks().unwrap();
        output
    }

    /// `tagwire check app.schema`: locked mode, which never writes.
    fn check(&self) -> Output {
        self.run(&["app.schema"], LockMode::Locked, false)
    }

    /// Update mode that must fail; nothing is written.
    fn refused(&self, files: &[&str]) -> Output {
        let output = self.run(files, LockMode::Update, false);
        assert!(
            output.has_errors(),
            "expected errors, got:\n{}",
            self.render(&output)
        );
        output
    }

    fn lock_text(&self) -> String {
        self.lock_text_in("")
    }

    fn lock_text_in(&self, folder: &str) -> String {
        std::fs::read_to_string(self.root().join(folder).join("tagwire.lock")).unwrap()
    }

    fn lock_file(&self) -> LockFile {
        LockFile::parse(&self.lock_text()).unwrap()
    }

    /// `("Name vN", header)` in header order, as `tagwire headers` computes them (Preview).
    fn headers(&self, files: &[&str]) -> Vec<(String, String)> {
        let output = self.run(files, LockMode::Preview, false);
        assert!(!output.has_errors(), "{}", self.render(&output));
        headers_of(&output)
    }

    /// Rendered diagnostics with the temporary folder replaced by `[dir]`.
    fn render(&self, output: &Output) -> String {
        output
            .render_text()
            .replace(&self.root().display().to_string(), "[dir]")
    }
}

fn headers_of(output: &Output) -> Vec<(String, String)> {
    let schema = output.schema.as_ref().unwrap();
    let mut rows: Vec<(u16, String, String)> = schema
        .packages
        .iter()
        .flat_map(|p| &p.messages)
        .map(|m| {
            let header = m.header.unwrap();
            (
                header.index(),
                format!("{} v{}", m.name, m.version),
                header.to_string(),
            )
        })
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, m, h)| (m, h)).collect()
}

fn codes(output: &Output) -> Vec<&'static str> {
    output.diagnostics.iter().map(|d| d.code.as_str()).collect()
}

fn only<'a>(output: &'a Output, code: &str) -> &'a Diagnostic {
    let found: Vec<&Diagnostic> = output
        .diagnostics
        .iter()
        .filter(|d| d.code == code)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {code}, got {:?}",
        codes(output)
    );
    found[0]
}

fn entry<'a>(lock: &'a LockFile, message: &str, version: u32) -> &'a tagwire_compiler::LockEntry {
    lock.entries
        .iter()
        .find(|e| e.message == message && e.version == version)
        .unwrap_or_else(|| panic!("{message} v{version} not in the lock"))
}

fn pairs(rows: &[(&str, &str)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(m, h)| (m.to_string(), h.to_string()))
        .collect()
}

fn assert_headers(project: &Project, files: &[&str], expected: &[(&str, &str)]) {
    assert_eq!(project.headers(files), pairs(expected));
}

// ---------------------------------------------------------------- additive changes

#[test]
fn first_lock_assigns_headers_in_declaration_order() {
    let project = Project::locked();
    let lock = project.lock_file();
    assert_eq!(lock.entries.len(), 3);
    assert!(
        lock.entries
            .iter()
            .all(|e| e.package == "app" && !e.removed)
    );
    assert_eq!(
        entry(&lock, "Move", 1).shape,
        "{to: app.Point}; app.Point = struct {x: f64, y: f64}"
    );
}

#[test]
fn a_no_op_run_leaves_the_lock_byte_identical() {
    let project = Project::locked();
    let before = project.lock_text();
    let output = project.lock(&["app.schema"]);
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert!(output.locks.iter().all(|l| !l.changed()));
    assert_eq!(project.lock_text(), before);
    // And checking against it (CI) is clean.
    let output = project.check();
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
}

#[test]
fn inserting_a_message_in_the_middle_moves_no_header() {
    let project = Project::locked();
    let output =
        project.relock(&BASE.replace("message Move", "message Ping { at: u64 }\nmessage Move"));
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert_headers(
        &project,
        &["app.schema"],
        &[
            ("Hello v1", "aa"),
            ("Move v1", "ab"),
            ("Welcome v1", "ac"),
            ("Ping v1", "ad"),
        ],
    );
}

#[test]
fn reordering_messages_changes_nothing() {
    let project = Project::locked();
    let before = project.lock_text();
    project.write(
        "app.schema",
        "package app;
message Welcome from server { id: u64 }
message Move from client { to: Point }
struct Point { x: f64, y: f64 }
message Hello from client { name: string }
",
    );
    let output = project.check();
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert_headers(
        &project,
        &["app.schema"],
        &[("Hello v1", "aa"), ("Move v1", "ab"), ("Welcome v1", "ac")],
    );
    project.lock(&["app.schema"]);
    assert_eq!(project.lock_text(), before);
}

#[test]
fn a_new_version_gets_the_next_free_header() {
    let project = Project::locked();
    project.relock(&format!(
        "{BASE}message Hello v2 from client {{ name: string, locale: string }}\n"
    ));
    assert_headers(
        &project,
        &["app.schema"],
        &[
            ("Hello v1", "aa"),
            ("Move v1", "ab"),
            ("Welcome v1", "ac"),
            ("Hello v2", "ad"),
        ],
    );
    let lock = project.lock_file();
    assert_eq!(
        entry(&lock, "Hello", 2).shape,
        "{name: string, locale: string}"
    );
    assert_eq!(entry(&lock, "Hello", 1).shape, "{name: string}");
}

// ---------------------------------------------------------------- removal

#[test]
fn removing_a_message_leaves_a_tombstone_and_a_warning() {
    let project = Project::locked();
    project.write("app.schema", &without_move());
    // CI notices the lock would change.
    let locked = project.check();
    assert!(codes(&locked).contains(&"E0096"), "{:?}", codes(&locked));
    let e0096 = only(&locked, "E0096");
    assert!(
        e0096
            .notes
            .iter()
            .any(|n| n == "would mark `app.Move v1` as removed"),
        "{:?}",
        e0096.notes
    );

    let output = project.lock(&["app.schema"]);
    let warning = only(&output, "W0090");
    assert!(!warning.is_error());
    assert_eq!(
        warning.message,
        "`Move v1` was removed; its header `ab` stays reserved"
    );
    // The note names the protocol that no longer has it: clients built before it are outdated.
    let fingerprint = output.schema.as_ref().unwrap().packages[0]
        .fingerprint
        .clone();
    assert_eq!(
        warning.notes,
        [format!(
            "clients generated before protocol {fingerprint} get \"protocol outdated\" when they send `Move v1`"
        )]
    );
    // The tombstone reaches the IR, for generated code's `REMOVED`.
    let removed = &output.schema.as_ref().unwrap().packages[0].removed;
    assert_eq!(removed.len(), 1);
    assert_eq!(
        (
            removed[0].header.to_string(),
            removed[0].name.as_str(),
            removed[0].version
        ),
        ("ab".to_string(), "Move", 1)
    );
    let lock = project.lock_file();
    let tombstone = entry(&lock, "Move", 1);
    assert!(tombstone.removed);
    assert_eq!(tombstone.header.to_string(), "ab");
    assert!(project.lock_text().contains("removed = true"));
    // The tombstone is reported once: the next run neither warns nor changes anything.
    let again = project.lock(&["app.schema"]);
    assert!(again.diagnostics.is_empty(), "{}", project.render(&again));
    assert!(again.locks.iter().all(|l| !l.changed()));
    // It still reaches the IR on later runs.
    assert_eq!(again.schema.as_ref().unwrap().packages[0].removed.len(), 1);
}

#[test]
fn removing_a_server_message_warns_about_what_the_server_sends() {
    let project = Project::locked();
    let output = project.relock(&BASE.replace("message Welcome from server { id: u64 }\n", ""));
    let warning = only(&output, "W0090");
    assert!(
        warning.notes[0].ends_with(
            "get \"protocol outdated\" when the server sends them `Welcome` and no version they know can carry it"
        ),
        "{:?}",
        warning.notes
    );
}

// ---------------------------------------------------------------- defaults

#[test]
fn defaults_change_no_shape_fingerprint_or_header() {
    let project = Project::locked();
    let before = project.lock_text();
    let fingerprint = |output: &Output| {
        output.schema.as_ref().unwrap().packages[0]
            .fingerprint
            .clone()
    };
    let plain = project.check();
    project.write(
        "app.schema",
        &BASE.replace(
            "message Hello from client { name: string }",
            "message Hello from client { name: string = \"anonymous\" }",
        ),
    );
    let with_default = project.check();
    assert!(
        with_default.diagnostics.is_empty(),
        "{}",
        project.render(&with_default)
    );
    assert!(with_default.locks.iter().all(|l| !l.changed()));
    assert_eq!(fingerprint(&plain), fingerprint(&with_default));
    let hello = &with_default.schema.as_ref().unwrap().packages[0].messages[0];
    assert_eq!(
        hello.fields[0].default,
        Some(tagwire_compiler::ir::DefaultValue::String(
            "anonymous".into()
        ))
    );
    assert_eq!(project.lock_text(), before);
}

#[test]
fn a_removed_header_is_never_handed_out_again() {
    let project = Project::locked();
    project.relock(&without_move());
    let mut schema = without_move();
    for name in ["Ping", "Pong", "Bye"] {
        schema.push_str(&format!("message {name} {{ at: u64 }}\n"));
    }
    project.relock(&schema);
    assert_headers(
        &project,
        &["app.schema"],
        &[
            ("Hello v1", "aa"),
            ("Welcome v1", "ac"),
            ("Ping v1", "ad"),
            ("Pong v1", "ae"),
            ("Bye v1", "af"),
        ],
    );
    assert!(entry(&project.lock_file(), "Move", 1).removed);
}

#[test]
fn removed_and_re_added_with_the_same_shape_is_revived_on_its_header() {
    let project = Project::locked();
    let original = project.lock_text();
    project.relock(&without_move());
    // Back, in another position and with the struct renamed: the wire shape is the same.
    project.write(
        "app.schema",
        "package app;
struct Spot { x: f64, y: f64 }
message Hello from client { name: string }
message Welcome from server { id: u64 }
message Move from client { to: Spot }
",
    );
    let output = project.lock(&["app.schema"]);
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert_headers(
        &project,
        &["app.schema"],
        &[("Hello v1", "aa"), ("Move v1", "ab"), ("Welcome v1", "ac")],
    );
    let lock = project.lock_file();
    assert!(!entry(&lock, "Move", 1).removed);
    // Restoring the original text restores the original lock byte for byte.
    project.relock(BASE);
    assert_eq!(project.lock_text(), original);
}

#[test]
fn removed_and_re_added_with_another_shape_is_refused() {
    let project = Project::locked();
    project.relock(&without_move());
    let tombstoned = project.lock_text();
    project.write(
        "app.schema",
        &BASE.replace(
            "message Move from client { to: Point }",
            "message Move from client { to: Point, speed: f32 }",
        ),
    );
    for allow_breaking in [false, true] {
        let output = project.run(&["app.schema"], LockMode::Update, allow_breaking);
        let d = only(&output, "E0093");
        assert_eq!(
            d.notes,
            [
                "removed shape: {to: app.Point}; app.Point = struct {x: f64, y: f64}",
                "new shape:     {to: app.Point, speed: f32}; app.Point = struct {x: f64, y: f64}"
            ]
        );
        assert_eq!(
            d.help.as_deref(),
            Some("declare a new version instead: `message Move v2`")
        );
        if !allow_breaking {
            insta::assert_snapshot!("removed_then_changed", project.render(&output));
        }
    }
    assert_eq!(project.lock_text(), tombstoned);
}

#[test]
fn renaming_a_message_tombstones_the_old_name_and_gives_the_new_one_a_new_header() {
    let project = Project::locked();
    let output = project.relock(&BASE.replace("message Move ", "message Go "));
    assert_eq!(codes(&output), ["W0090"]);
    assert_headers(
        &project,
        &["app.schema"],
        &[("Hello v1", "aa"), ("Welcome v1", "ac"), ("Go v1", "ad")],
    );
    let lock = project.lock_file();
    assert!(entry(&lock, "Move", 1).removed);
    assert_eq!(entry(&lock, "Go", 1).shape, entry(&lock, "Move", 1).shape);
}

// ---------------------------------------------------------------- breaking changes

fn breaking(project: &Project, new_schema: &str) -> Output {
    project.write("app.schema", new_schema);
    let before = project.lock_text();
    let output = project.refused(&["app.schema"]);
    // Refused in locked mode too, and nothing is written either way.
    let locked = project.check();
    assert!(codes(&locked).contains(&"E0091"), "{:?}", codes(&locked));
    assert_eq!(project.lock_text(), before);
    output
}

#[test]
fn changing_a_field_type_is_breaking_and_shows_both_shapes() {
    let project = Project::locked();
    let output = breaking(&project, &BASE.replace("{ id: u64 }", "{ id: string }"));
    let d = only(&output, "E0091");
    assert_eq!(
        d.message,
        "breaking change to `Welcome v1`, whose header `ac` is locked"
    );
    assert_eq!(d.label, "`id` changed from `u64` to `string`");
    assert_eq!(
        d.notes,
        ["locked shape: {id: u64}", "new shape:    {id: string}"]
    );
    assert!(d.help.as_deref().unwrap().contains("message Welcome v2"));
    insta::assert_snapshot!("field_type_changed", project.render(&output));
}

#[test]
fn allow_breaking_accepts_the_change_and_updates_the_lock() {
    let project = Project::locked();
    project.write("app.schema", &BASE.replace("{ id: u64 }", "{ id: string }"));
    let old_fingerprint = entry(&project.lock_file(), "Welcome", 1)
        .fingerprint
        .clone();
    let output = project.lock_breaking(&["app.schema"]);
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    let lock = project.lock_file();
    let welcome = entry(&lock, "Welcome", 1);
    assert_eq!(welcome.shape, "{id: string}");
    assert_ne!(welcome.fingerprint, old_fingerprint);
    assert_eq!(welcome.header.to_string(), "ac");
    // Accepted once, the new shape is what the lock holds: CI is clean again.
    let output = project.check();
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
}

#[test]
fn changing_a_struct_a_message_uses_is_breaking() {
    let project = Project::locked();
    let output = breaking(
        &project,
        &BASE.replace(
            "struct Point { x: f64, y: f64 }",
            "struct Point { x: f32, y: f64 }",
        ),
    );
    let d = only(&output, "E0091");
    assert_eq!(
        d.message,
        "breaking change to `Move v1`, whose header `ab` is locked"
    );
    assert_eq!(d.label, "the type `app.Point` it uses changed");
    assert_eq!(
        d.notes,
        [
            "locked shape: {to: app.Point}; app.Point = struct {x: f64, y: f64}",
            "new shape:    {to: app.Point}; app.Point = struct {x: f32, y: f64}"
        ]
    );
    insta::assert_snapshot!("struct_field_type_changed", project.render(&output));
}

#[test]
fn adding_removing_and_reordering_fields_is_breaking() {
    let cases = [
        (
            "{ name: string }",
            "{ name: string, locale: string }",
            "added `locale`",
        ),
        ("{ name: string }", "{}", "removed `name`"),
        (
            "{ name: string }",
            "{ nickname: string }",
            "added `nickname`; removed `name`",
        ),
        (
            "{ name: string }",
            "{ name: string? }",
            "`name` changed from `string` to `string?`",
        ),
        (
            "{ x: f64, y: f64 }",
            "{ y: f64, x: f64 }",
            "the type `app.Point` it uses changed",
        ),
    ];
    for (old, new, label) in cases {
        let project = Project::locked();
        let output = breaking(&project, &BASE.replacen(old, new, 1));
        let d = only(&output, "E0091");
        assert_eq!(d.label, label, "{old} → {new}");
    }
    // Reordering a message's own fields.
    let project = Project::new();
    project.relock("package app;\nmessage M { a: u8, b: u16 }\n");
    let output = breaking(&project, "package app;\nmessage M { b: u16, a: u8 }\n");
    assert_eq!(only(&output, "E0091").label, "fields reordered");
}

#[test]
fn changing_enum_values_and_union_variants_is_breaking() {
    let base = "package app;
enum Level { info, warn }
union Shape { dot, line { length: f32 } }
message Log { level: Level }
message Draw { shape: Shape }
";
    let cases = [
        (
            "enum Level { info, warn }",
            "enum Level { info, warn = 5 }",
            "Log v1",
        ),
        (
            "enum Level { info, warn }",
            "enum Level { warn, info }",
            "Log v1",
        ),
        (
            "enum Level { info, warn }",
            "enum Level { info, warning }",
            "Log v1",
        ),
        (
            "union Shape { dot, line { length: f32 } }",
            "union Shape { line { length: f32 }, dot }",
            "Draw v1",
        ),
        (
            "union Shape { dot, line { length: f32 } }",
            "union Shape { dot, line { length: f32 }, arc }",
            "Draw v1",
        ),
    ];
    for (old, new, message) in cases {
        let project = Project::new();
        project.relock(base);
        let output = breaking(&project, &base.replace(old, new));
        let d = only(&output, "E0091");
        assert!(d.message.contains(message), "{old} → {new}: {}", d.message);
    }
}

#[test]
fn renaming_a_struct_is_not_breaking_because_fingerprints_ignore_type_names() {
    let project = Project::locked();
    let before = entry(&project.lock_file(), "Move", 1).clone();
    let output = project.relock(&BASE.replace("Point", "Position"));
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    let after = entry(&project.lock_file(), "Move", 1).clone();
    // The entry does not change at all: the readable shape stays as locked,
    // so a rename never dirties the lock (and `tagwire check` stays green).
    assert_eq!(after, before);
    let check = FrontEnd::new()
        .schema(project.path("app.schema"))
        .lock_mode(LockMode::Locked)
        .run();
    assert!(!check.has_errors(), "{}", project.render(&check));
    assert_headers(
        &project,
        &["app.schema"],
        &[("Hello v1", "aa"), ("Move v1", "ab"), ("Welcome v1", "ac")],
    );
}

#[test]
fn renaming_a_struct_field_is_breaking() {
    // Field names are on the wire (text encoding and JSON), unlike type names.
    let project = Project::locked();
    let output = breaking(
        &project,
        &BASE.replace("{ x: f64, y: f64 }", "{ left: f64, y: f64 }"),
    );
    assert_eq!(
        only(&output, "E0091").label,
        "the type `app.Point` it uses changed"
    );
}

#[test]
fn narrowing_a_direction_is_breaking_widening_is_not() {
    let project = Project::locked();
    let output = breaking(
        &project,
        &BASE.replace("message Hello from client", "message Hello from server"),
    );
    let d = only(&output, "E0091");
    assert_eq!(d.label, "direction narrowed from client to server");
    // Widening to both directions: old peers still send and accept what they did.
    let project = Project::locked();
    let output = project.relock(&BASE.replace("message Hello from client", "message Hello"));
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert_eq!(
        entry(&project.lock_file(), "Hello", 1).direction.as_str(),
        "both"
    );
}

#[test]
fn a_message_becoming_a_presence_state_or_back_is_breaking() {
    // Same fields, same header: only the kind changes, and peers built from
    // the lock take the frame only where that kind belongs.
    let project = Project::locked();
    let output = breaking(
        &project,
        &BASE.replace("message Welcome from server", "presence Welcome"),
    );
    let d = only(&output, "E0091");
    assert_eq!(
        d.message,
        "breaking change to `Welcome v1`, whose header `ac` is locked"
    );
    assert_eq!(d.label, "was a `message`, is now a `presence` state");
    assert!(d.help.as_deref().unwrap().contains("old kind"), "{d:?}");
    insta::assert_snapshot!("message_became_presence", project.render(&output));

    let project = Project::new();
    let with_presence = BASE.replace("message Welcome from server", "presence Welcome");
    let output = project.relock(&with_presence);
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert!(entry(&project.lock_file(), "Welcome", 1).presence);
    assert!(project.lock_text().contains("presence = true"));
    let output = breaking(&project, BASE);
    assert_eq!(
        only(&output, "E0091").label,
        "was a `presence` state, is now a `message`"
    );

    // Accepted with --allow-breaking: the lock records the new kind.
    project.write("app.schema", BASE);
    let output = project.lock_breaking(&["app.schema"]);
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    assert!(!entry(&project.lock_file(), "Welcome", 1).presence);
    assert!(!project.lock_text().contains("presence"));
}

#[test]
fn adding_a_presence_state_is_additive_and_changes_the_protocol_fingerprint() {
    let project = Project::locked();
    let plain = project.check().schema.unwrap().packages[0]
        .fingerprint
        .clone();
    let output = project.relock(&format!("{BASE}presence Cursor {{ at: Point }}\n"));
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    let cursor = entry(&project.lock_file(), "Cursor", 1).clone();
    assert!(cursor.presence);
    assert_eq!(cursor.direction.as_str(), "both");
    assert_eq!(cursor.header.to_string(), "ad");
    let with_presence = project.check().schema.unwrap().packages[0]
        .fingerprint
        .clone();
    assert_ne!(plain, with_presence);
    // The same version declared as a both-way message has another fingerprint:
    // the kind is part of the protocol.
    let project = Project::locked();
    project.relock(&format!("{BASE}message Cursor {{ at: Point }}\n"));
    let as_message = project.check().schema.unwrap().packages[0]
        .fingerprint
        .clone();
    assert_ne!(as_message, with_presence);
}

// ---------------------------------------------------------------- pinned headers

#[test]
fn pinning_a_header_a_locked_message_holds_is_refused() {
    let project = Project::locked();
    project.write("app.schema", &format!("{BASE}message Ping @\"ab\" {{}}\n"));
    let output = project.refused(&["app.schema"]);
    let d = only(&output, "E0094");
    assert_eq!(
        d.message,
        "header `ab` is already taken by the message `Move v1`"
    );
    insta::assert_snapshot!("pin_collides_with_locked", project.render(&output));
}

#[test]
fn pinning_a_tombstoned_header_is_refused() {
    let project = Project::locked();
    project.relock(&without_move());
    project.write(
        "app.schema",
        &format!("{}message Ping @\"ab\" {{}}\n", without_move()),
    );
    let output = project.refused(&["app.schema"]);
    let d = only(&output, "E0094");
    assert_eq!(
        d.message,
        "header `ab` is already taken by the removed message `Move v1`"
    );
}

#[test]
fn a_pin_on_a_new_message_is_honoured_and_skipped_by_assignment() {
    let project = Project::locked();
    project.relock(&format!(
        "{BASE}message Ping {{}}\nmessage Pong @\"ad\" {{}}\n"
    ));
    assert_headers(
        &project,
        &["app.schema"],
        &[
            ("Hello v1", "aa"),
            ("Move v1", "ab"),
            ("Welcome v1", "ac"),
            ("Pong v1", "ad"),
            ("Ping v1", "ae"),
        ],
    );
}

#[test]
fn pinning_another_header_on_a_locked_message_is_refused() {
    let project = Project::locked();
    project.write(
        "app.schema",
        &BASE.replace(
            "message Hello from client",
            "message Hello from client @\"zz\"",
        ),
    );
    let output = project.refused(&["app.schema"]);
    let d = only(&output, "E0090");
    assert_eq!(
        d.message,
        "`Hello v1` is locked to header `aa`; a header never moves"
    );
    assert_eq!(d.help.as_deref(), Some("pin `aa` or remove the pin"));
    insta::assert_snapshot!("pin_moves_locked_header", project.render(&output));
    // Pinning the header it already has is fine.
    let output = project.relock(&BASE.replace(
        "message Hello from client",
        "message Hello from client @\"aa\"",
    ));
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
}

// ---------------------------------------------------------------- locked mode

#[test]
fn locked_mode_refuses_a_missing_lock_and_writes_nothing() {
    let project = Project::new();
    project.write("app.schema", BASE);
    let output = project.check();
    let d = only(&output, "E0096");
    assert!(
        d.message.ends_with("tagwire.lock` is missing"),
        "{}",
        d.message
    );
    assert_eq!(
        d.notes,
        [
            "would add `app.Hello v1` on header `aa`",
            "would add `app.Move v1` on header `ab`",
            "would add `app.Welcome v1` on header `ac`"
        ]
    );
    assert!(output.schema.is_none());
    assert!(!project.path("tagwire.lock").exists());
    // Preview mode computes the same headers without requiring or writing anything.
    assert_headers(
        &project,
        &["app.schema"],
        &[("Hello v1", "aa"), ("Move v1", "ab"), ("Welcome v1", "ac")],
    );
    assert!(!project.path("tagwire.lock").exists());
}

#[test]
fn locked_mode_refuses_a_stale_lock() {
    let project = Project::locked();
    project.write("app.schema", &format!("{BASE}message Ping {{ at: u64 }}\n"));
    let output = project.check();
    let d = only(&output, "E0096");
    assert!(
        d.message.ends_with("tagwire.lock` is out of date"),
        "{}",
        d.message
    );
    assert_eq!(d.notes, ["would add `app.Ping v1` on header `ad`"]);
    insta::assert_snapshot!("stale_lock", project.render(&output));
}

#[test]
fn a_corrupt_lock_is_reported_not_overwritten() {
    let project = Project::locked();
    let corrupt = project
        .lock_text()
        .replace("header = \"ab\"", "header = \"a|\"");
    std::fs::write(project.path("tagwire.lock"), &corrupt).unwrap();
    let output = project.run(&["app.schema"], LockMode::Update, false);
    let d = only(&output, "E0099");
    assert!(d.message.contains("a|"), "{}", d.message);
    assert!(output.locks.is_empty());
    std::fs::write(project.path("tagwire.lock"), "format = 2\n").unwrap();
    let output = project.run(&["app.schema"], LockMode::Update, false);
    assert!(only(&output, "E0099").message.contains("format 2"));
    std::fs::write(project.path("tagwire.lock"), "format = 1\n[[message]\n").unwrap();
    let output = project.run(&["app.schema"], LockMode::Update, false);
    let d = only(&output, "E0099");
    assert!(d.span.is_some(), "a TOML syntax error points into the lock");
}

// ---------------------------------------------------------------- several schemas

#[test]
fn two_packages_share_one_folder_lock_without_disturbing_each_other() {
    let project = Project::new();
    project.write(
        "alpha.schema",
        "package alpha;\nmessage A1 { x: u8 }\nmessage A2 { x: u16 }\n",
    );
    project.write("beta.schema", "package beta;\nmessage B1 { s: string }\n");
    project.lock(&["alpha.schema"]);
    project.lock(&["beta.schema"]);
    let lock = project.lock_file();
    let rows: Vec<(String, String, String)> = lock
        .entries
        .iter()
        .map(|e| (e.package.clone(), e.message.clone(), e.header.to_string()))
        .collect();
    let expected = [
        ("alpha", "A1", "aa"),
        ("alpha", "A2", "ab"),
        ("beta", "B1", "aa"),
    ];
    assert_eq!(
        rows,
        expected.map(|(p, m, h)| (p.to_string(), m.to_string(), h.to_string()))
    );
    let both = project.lock_text();
    // Each alone and both together are up to date; no package marks the other's messages removed.
    for files in [
        &["alpha.schema"][..],
        &["beta.schema"],
        &["alpha.schema", "beta.schema"],
    ] {
        let output = project.run(files, LockMode::Locked, false);
        assert!(
            output.diagnostics.is_empty(),
            "{files:?}: {}",
            project.render(&output)
        );
    }
    // Evolving one package leaves the other's entries alone.
    project.write(
        "alpha.schema",
        "package alpha;\nmessage A2 { x: u16 }\nmessage A3 {}\n",
    );
    project.lock(&["alpha.schema"]);
    let lock = project.lock_file();
    assert!(entry(&lock, "A1", 1).removed);
    assert_eq!(entry(&lock, "A3", 1).header.to_string(), "ac");
    assert!(!entry(&lock, "B1", 1).removed);
    assert_ne!(project.lock_text(), both);
    let beta_lines = |text: &str| {
        text.split("\n\n")
            .filter(|block| block.contains("package = \"beta\""))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(beta_lines(&project.lock_text()), beta_lines(&both));
}

#[test]
fn schemas_in_different_folders_get_their_own_locks() {
    let project = Project::new();
    project.write("server/app.schema", "package app;\nmessage S {}\n");
    project.write("client/app.schema", "package app;\nmessage C {}\n");
    let output = project.lock(&["server/app.schema", "client/app.schema"]);
    assert_eq!(output.locks.len(), 2);
    assert!(project.lock_text_in("server").contains("name = \"S\""));
    assert!(!project.lock_text_in("server").contains("name = \"C\""));
    assert!(
        project
            .lock_text_in("client")
            .contains("name = \"C\"\nversion = 1\nheader = \"aa\"")
    );
}

#[test]
fn header_assignment_does_not_depend_on_argument_order() {
    let setup = || {
        let project = Project::new();
        project.write(
            "b_second.schema",
            "package app;\nmessage FromB1 {}\nmessage FromB2 { x: u8 }\n",
        );
        project.write("a_first.schema", "package app;\nmessage FromA { y: u8 }\n");
        project.write("c_third.schema", "package app;\nmessage FromC {}\n");
        project
    };
    let orders: [&[&str]; 3] = [
        &["a_first.schema", "b_second.schema", "c_third.schema"],
        &["c_third.schema", "b_second.schema", "a_first.schema"],
        &[
            "b_second.schema",
            "c_third.schema",
            "a_first.schema",
            "b_second.schema",
        ],
    ];
    let mut locks = Vec::new();
    for files in orders {
        let project = setup();
        assert_headers(
            &project,
            files,
            &[
                ("FromA v1", "aa"),
                ("FromB1 v1", "ab"),
                ("FromB2 v1", "ac"),
                ("FromC v1", "ad"),
            ],
        );
        project.lock(files);
        locks.push(project.lock_text());
    }
    assert!(locks.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn the_lock_is_sorted_by_package_then_header() {
    let project = Project::new();
    project.relock("package app;\nmessage Z @\"zz\" {}\nmessage A {}\nmessage B @\"-a\" {}\n");
    let headers: Vec<String> = project
        .lock_file()
        .entries
        .iter()
        .map(|e| e.header.to_string())
        .collect();
    assert_eq!(headers, ["aa", "zz", "-a"]);
    let text = project.lock_text();
    let positions: Vec<usize> = ["header = \"aa\"", "header = \"zz\"", "header = \"-a\""]
        .iter()
        .map(|h| text.find(h).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn imported_files_messages_are_not_locked() {
    let project = Project::new();
    project.write(
        "shared/types.schema",
        "package shared;\nstruct Id { value: u64 }\nmessage SharedOnly {}\n",
    );
    project.relock("package app;\nimport \"shared/types.schema\";\nmessage Get { id: Id }\n");
    let lock = project.lock_file();
    let names: Vec<&str> = lock.entries.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(names, ["Get"]);
    assert!(!project.path("shared/tagwire.lock").exists());
    // A change inside the imported struct is a breaking change of the importing message.
    project.write(
        "shared/types.schema",
        "package shared;\nstruct Id { value: u32 }\nmessage SharedOnly {}\n",
    );
    let output = project.refused(&["app.schema"]);
    assert_eq!(
        only(&output, "E0091").label,
        "the type `shared.Id` it uses changed"
    );
}

/// Two branches each add a message and both get `ad`; a merge that keeps both
/// lock entries must not give two messages one header.
#[test]
fn a_merged_lock_with_one_header_twice_is_refused() {
    let base = Project::locked();
    let ping = Project::new();
    let pong = Project::new();
    for (project, name) in [(&ping, "Ping"), (&pong, "Pong")] {
        std::fs::write(project.path("tagwire.lock"), base.lock_text()).unwrap();
        project.relock(&format!("{BASE}message {name} {{}}\n"));
    }
    let pong_entry = pong.lock_text().split("\n\n").last().unwrap().to_string();
    assert!(pong_entry.contains("header = \"ad\""), "{pong_entry}");
    let ping_only = ping.lock_text();
    let merged = format!("{ping_only}\n{pong_entry}");
    std::fs::write(ping.path("tagwire.lock"), &merged).unwrap();
    ping.write(
        "app.schema",
        &format!("{BASE}message Ping {{}}\nmessage Pong {{}}\n"),
    );
    for mode in [LockMode::Locked, LockMode::Update, LockMode::Preview] {
        let output = ping.run(&["app.schema"], mode, false);
        let d = only(&output, "E0099");
        assert_eq!(
            d.message,
            "cannot read the lock file: header `ad` of package `app` is recorded for both `Ping v1` and `Pong v1`"
        );
        assert!(d.help.as_deref().unwrap().contains("merge"), "{:?}", d.help);
    }
    // The fix it suggests: drop one entry and lock again; Pong moves to the next free header.
    std::fs::write(ping.path("tagwire.lock"), ping_only).unwrap();
    ping.lock(&["app.schema"]);
    assert_headers(
        &ping,
        &["app.schema"],
        &[
            ("Hello v1", "aa"),
            ("Move v1", "ab"),
            ("Welcome v1", "ac"),
            ("Ping v1", "ad"),
            ("Pong v1", "ae"),
        ],
    );
}

#[test]
fn a_lock_with_one_version_recorded_twice_is_refused() {
    let project = Project::locked();
    let text = project.lock_text();
    let hello = text
        .split("\n\n")
        .find(|b| b.contains("name = \"Hello\""))
        .unwrap()
        .replace("header = \"aa\"", "header = \"zz\"");
    std::fs::write(project.path("tagwire.lock"), format!("{text}\n{hello}\n")).unwrap();
    let output = project.run(&["app.schema"], LockMode::Update, false);
    assert_eq!(
        only(&output, "E0099").message,
        "cannot read the lock file: `app.Hello v1` is recorded twice"
    );
}

// ---------------------------------------------------------------- constraints

#[test]
fn adding_a_constraint_to_a_locked_version_is_tightening_and_breaking() {
    let project = Project::locked();
    let output = breaking(
        &project,
        &BASE.replace("{ name: string }", "{ name: string @len(1..=64) }"),
    );
    let d = only(&output, "E0091");
    assert_eq!(
        d.label,
        "constraints tightened: values the locked shape accepted are now refused"
    );
    assert_eq!(d.notes[0], "`@len(1..=64)` added to `name`");
}

#[test]
fn a_constraint_inside_a_struct_the_message_uses_counts_too() {
    let project = Project::locked();
    let output = breaking(
        &project,
        &BASE.replace("{ x: f64, y: f64 }", "{ x: f64 @range(0..=1), y: f64 }"),
    );
    let d = only(&output, "E0091");
    assert_eq!(d.notes[0], "`@range(0.0..=1.0)` added to `x`");
}

#[test]
fn tightening_and_loosening_constraints_of_a_locked_version() {
    let project = Project::new();
    let schema = |len: &str, range: &str| {
        format!(
            "package app;\nmessage Hello from client {{ name: string {len}, count: u32 {range}, tags: [string] @len(..=20) }}\n"
        )
    };
    project.relock(&schema("@len(1..=64)", "@range(1..=100)"));
    let locked = entry(&project.lock_file(), "Hello", 1).clone();

    // Tightening: a narrower range, a higher minimum, a pattern added.
    for (len, range) in [
        ("@len(1..=64)", "@range(1..=99)"),
        ("@len(2..=64)", "@range(1..=100)"),
        ("@len(1..=64) @pattern(\"^a\")", "@range(1..=100)"),
        ("@len(1..=64)", "@range(0..=100) @range(1..=2)"),
    ] {
        project.write("app.schema", &schema(len, range));
        let output = project.run(&["app.schema"], LockMode::Update, false);
        assert!(
            output.has_errors(),
            "{len} {range}: {}",
            project.render(&output)
        );
    }
    let output = breaking(&project, &schema("@len(1..=64)", "@range(2..=100)"));
    let d = only(&output, "E0091");
    assert_eq!(
        d.notes[0],
        "`count`: `@range(1..=100)` became `@range(2..=100)`"
    );

    // Loosening: wider bounds and a constraint removed are accepted with a warning.
    project.write("app.schema", &schema("@len(..=128)", ""));
    let check = project.check();
    assert_eq!(
        codes(&check),
        ["W0091", "E0096"],
        "{}",
        project.render(&check)
    );
    let output = project.lock(&["app.schema"]);
    let w = only(&output, "W0091");
    assert_eq!(w.message, "constraints of `Hello v1` loosened");
    assert_eq!(
        w.notes[..2],
        [
            "`name`: `@len(1..=64)` became `@len(..=128)`",
            "`@range(1..=100)` removed from `count`",
        ]
    );
    let loosened = entry(&project.lock_file(), "Hello", 1).clone();
    assert_eq!(loosened.header, locked.header);
    assert_ne!(loosened.fingerprint, locked.fingerprint);
    assert_eq!(
        loosened.shape,
        "{name: string @len(..=128), count: u32, tags: [string] @len(..=20)}"
    );
    // Once locked, CI is clean; going back to the old bounds is now a tightening.
    let output = project.check();
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    let output = breaking(&project, &schema("@len(1..=64)", "@range(1..=100)"));
    assert_eq!(only(&output, "E0091").notes.len(), 4);
}

#[test]
fn rate_limits_are_not_part_of_the_shape() {
    let project = Project::locked();
    let before = project.lock_text();
    project.write(
        "app.schema",
        &BASE.replace(
            "message Hello from client {",
            "message Hello from client @rate(10/s, burst 20) {",
        ),
    );
    let output = project.check();
    assert!(output.diagnostics.is_empty(), "{}", project.render(&output));
    let rate = output.schema.as_ref().unwrap().packages[0].messages[0].rate;
    assert_eq!(
        rate,
        Some(tagwire_compiler::ir::Rate {
            count: 10,
            period_secs: 1,
            burst: 20
        })
    );
    assert_eq!(project.lock_text(), before);
}
