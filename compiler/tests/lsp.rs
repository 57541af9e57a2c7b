//! `tagwire lsp`, driven over stdio as an editor drives it: a real binary,
//! real files in a temporary folder, a real `tagwire.lock` made by the
//! compiler.
// Tests fail loudly on the first surprise.
#![allow(clippy::unwrap_used)]

#[path = "support/lsp.rs"]
mod client;

use client::{Client, apply_edits, position_at, position_of, uri};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const GEOMETRY: &str = "\
package geometry;

/// A point on the canvas, in pixels.
struct Point { x: f64, y: f64 }
";

// The doc comments and a default hold characters outside the BMP and
// accents: UTF-16 columns differ from bytes and characters there.
const APP: &str = "\
package app;

import \"../common/geometry.schema\";

/// Où est le curseur — 🖱️ moves.
message Move from client { at: Point, id: u32 }

/// Salut 👋.
message Hello { name: string = \"é😀\", count: u8 }
";

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    app: PathBuf,
    geometry: PathBuf,
}

fn tagwire(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tagwire"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run tagwire")
}

/// A project with an imported schema and a lock written by `tagwire lock`.
fn project() -> Project {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::create_dir_all(root.join("common")).expect("mkdir");
    let app = root.join("app/app.schema");
    let geometry = root.join("common/geometry.schema");
    std::fs::write(&geometry, GEOMETRY).expect("write");
    std::fs::write(&app, APP).expect("write");
    let out = tagwire(&root, &["lock", "app/app.schema"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Project {
        _dir: dir,
        root,
        app,
        geometry,
    }
}

/// The header the lock recorded for a message version.
fn locked_header(project: &Project, name: &str) -> String {
    let lock = std::fs::read_to_string(project.root.join("app/tagwire.lock")).expect("lock");
    let value: toml::Value = toml::from_str(&lock).expect("toml");
    value["message"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .and_then(|e| e["header"].as_str())
        .expect("locked")
        .to_string()
}

fn codes(diagnostics: &[Value]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| d["code"].as_str().unwrap_or("").to_string())
        .collect()
}

fn errors(diagnostics: &[Value]) -> Vec<&Value> {
    diagnostics.iter().filter(|d| d["severity"] == 1).collect()
}

fn at(path: &Path, text: &str, needle: &str) -> Value {
    json!({ "textDocument": { "uri": uri(path) }, "position": position_of(text, needle) })
}

#[test]
fn diagnostics_follow_unsaved_text_of_the_file_and_its_imports() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    lsp.open(&p.app, APP);
    let first = lsp.diagnostics(&uri(&p.app), Some(1));
    assert!(errors(&first).is_empty(), "{first:#?}");

    // An unknown type after non-ASCII text on its line: the range counts UTF-16 units.
    let broken = APP.replace("count: u8", "count: Nope");
    lsp.change(&p.app, 2, &broken);
    let diagnostics = lsp.diagnostics(&uri(&p.app), Some(2));
    let unknown: Vec<&Value> = diagnostics
        .iter()
        .filter(|d| {
            d["message"]
                .as_str()
                .unwrap_or("")
                .contains("unknown type `Nope`")
        })
        .collect();
    assert_eq!(unknown.len(), 1, "{diagnostics:#?}");
    let start = broken.find("Nope").expect("there");
    assert_eq!(unknown[0]["range"]["start"], position_at(&broken, start));
    assert_eq!(unknown[0]["range"]["end"], position_at(&broken, start + 4));
    // The same code as `tagwire check`, and its label as related information.
    std::fs::write(p.root.join("app/broken.schema"), &broken).expect("write");
    let check = tagwire(&p.root, &["check", "--format", "json", "app/broken.schema"]);
    let report: Value = serde_json::from_slice(&check.stdout).expect("json");
    let cli = report["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .find(|d| d["message"].as_str().unwrap_or("").contains("Nope"))
        .expect("cli reports it too")
        .clone();
    std::fs::remove_file(p.root.join("app/broken.schema")).expect("rm");
    assert_eq!(unknown[0]["code"], cli["code"]);
    assert!(
        unknown[0]["message"]
            .as_str()
            .unwrap()
            .starts_with(cli["message"].as_str().unwrap())
    );
    assert_eq!(unknown[0]["relatedInformation"][0]["message"], cli["label"]);
    lsp.change(&p.app, 3, APP);
    assert!(errors(&lsp.diagnostics(&uri(&p.app), Some(3))).is_empty());

    // The imported file's unsaved text overrides the disk, and its importer is told.
    let renamed = GEOMETRY.replace("struct Point", "struct Spot");
    lsp.open(&p.geometry, &renamed);
    let importer = lsp.diagnostics(&uri(&p.app), Some(3));
    assert!(
        importer.iter().any(|d| d["message"]
            .as_str()
            .unwrap_or("")
            .contains("unknown type `Point`")),
        "{importer:#?}"
    );
    lsp.change(&p.geometry, 2, GEOMETRY);
    let importer = lsp.diagnostics(&uri(&p.app), Some(3));
    assert!(errors(&importer).is_empty(), "{importer:#?}");
    assert!(lsp.shutdown().success());
}

#[test]
fn lock_breaking_edit_is_an_error_on_the_field_and_the_quick_fix_keeps_the_lock() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    lsp.open(&p.app, APP);
    lsp.diagnostics(&uri(&p.app), Some(1));
    let edited = APP.replace("id: u32", "id: u64");
    lsp.change(&p.app, 2, &edited);
    let diagnostics = lsp.diagnostics(&uri(&p.app), Some(2));
    let breaking: Vec<&Value> = errors(&diagnostics);
    assert_eq!(breaking.len(), 1, "{diagnostics:#?}");
    let d = breaking[0];
    let field = edited.find("id: u64").expect("there");
    assert_eq!(d["range"]["start"], position_at(&edited, field));
    assert_eq!(
        d["range"]["end"],
        position_at(&edited, field + "id: u64".len())
    );
    let header = locked_header(&p, "Move");
    let message = d["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("header `{header}` is locked")),
        "{message}"
    );
    assert!(
        message.contains("help: ") && message.contains("message Move v2"),
        "{message}"
    );
    let related = d["relatedInformation"].to_string();
    assert!(related.contains("id: u32"), "the locked shape: {related}");

    // The quick fix: `Move v2` with the edit, `Move` as locked.
    let actions = lsp
        .request(
            "textDocument/codeAction",
            json!({
                "textDocument": { "uri": uri(&p.app) },
                "range": d["range"],
                "context": { "diagnostics": [d] },
            }),
        )
        .expect("code actions");
    let actions = actions.as_array().expect("list");
    assert_eq!(actions.len(), 1, "{actions:#?}");
    let edits = actions[0]["edit"]["changes"][uri(&p.app)]
        .as_array()
        .expect("edits")
        .clone();
    let fixed = apply_edits(&edited, &edits);
    assert!(
        fixed.contains("message Move from client { at: Point, id: u32 }"),
        "{fixed}"
    );
    assert!(
        fixed.contains("message Move v2 from client { at: Point, id: u64 }"),
        "{fixed}"
    );
    lsp.change(&p.app, 3, &fixed);
    let after = lsp.diagnostics(&uri(&p.app), Some(3));
    assert!(errors(&after).is_empty(), "{after:#?}");
    // The new version is shown as what `tagwire lock` would add.
    assert!(
        codes(&after).contains(&"not-locked".to_string()),
        "{after:#?}"
    );
    // And the compiler agrees: the lock takes it as an additive change.
    std::fs::write(&p.app, &fixed).expect("save");
    let lock = tagwire(&p.root, &["lock", "app/app.schema"]);
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    assert_eq!(locked_header(&p, "Move"), header);
    let check = tagwire(&p.root, &["check", "app/app.schema"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(lsp.shutdown().success());
}

#[test]
fn inlay_hints_show_locked_and_new_headers() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    let text = format!("{APP}\nmessage Bye {{ }}\n");
    lsp.open(&p.app, &text);
    let diagnostics = lsp.diagnostics(&uri(&p.app), Some(1));
    let unlocked: Vec<&Value> = diagnostics
        .iter()
        .filter(|d| d["code"] == "not-locked")
        .collect();
    assert_eq!(unlocked.len(), 1, "{diagnostics:#?}");
    assert!(
        unlocked[0]["message"]
            .as_str()
            .unwrap()
            .contains("`Bye v1` is not locked yet")
    );
    let hints = lsp
        .request(
            "textDocument/inlayHint",
            json!({
                "textDocument": { "uri": uri(&p.app) },
                "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 99, "character": 0 } },
            }),
        )
        .expect("hints");
    let hints = hints.as_array().expect("list");
    assert_eq!(hints.len(), 3, "{hints:#?}");
    let move_header = locked_header(&p, "Move");
    let end_of_move = text.find("Move").expect("there") + 4;
    let hint = hints
        .iter()
        .find(|h| h["position"] == position_at(&text, end_of_move))
        .expect("Move's hint");
    assert_eq!(hint["label"], format!("\"{move_header}\""));
    let bye = hints
        .iter()
        .find(|h| h["label"].as_str().unwrap().contains("not yet locked"))
        .expect("Bye's hint");
    assert_eq!(
        bye["position"],
        position_at(&text, text.find("Bye").expect("there") + 3)
    );
    // The header it would get: what `tagwire lock` then writes.
    std::fs::write(&p.app, &text).expect("save");
    assert!(
        tagwire(&p.root, &["lock", "app/app.schema"])
            .status
            .success()
    );
    let bye_header = locked_header(&p, "Bye");
    assert_eq!(bye["label"], format!("\"{bye_header}\" not yet locked"));
    assert!(lsp.shutdown().success());
}

#[test]
fn a_presence_state_is_named_by_its_keyword_in_hovers_and_symbols() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    let text = format!("{APP}\n/// Where a member points.\npresence Cursor {{ at: Point }}\n");
    lsp.open(&p.app, &text);
    let diagnostics = lsp.diagnostics(&uri(&p.app), Some(1));
    assert!(errors(&diagnostics).is_empty(), "{diagnostics:#?}");

    let hover = lsp
        .request("textDocument/hover", at(&p.app, &text, "Cursor"))
        .expect("hover");
    let shown = hover["contents"]["value"].as_str().expect("markdown");
    assert!(shown.contains("presence app.Cursor v1\n"), "{shown}");
    assert!(shown.contains("Where a member points."), "{shown}");

    let hover = lsp
        .request("textDocument/hover", at(&p.app, &text, "at: Point }"))
        .expect("hover");
    let shown = hover["contents"]["value"].as_str().expect("markdown");
    assert!(shown.contains("in `presence Cursor`"), "{shown}");

    let symbols = lsp
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri(&p.app) } }),
        )
        .expect("symbols");
    let details: Vec<(&str, &str)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        details,
        [
            ("Move v1", "message"),
            ("Hello v1", "message"),
            ("Cursor v1", "presence")
        ]
    );
    assert!(lsp.shutdown().success());
}

#[test]
fn hover_definition_references_and_symbols_cross_imports() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    lsp.open(&p.app, APP);
    lsp.diagnostics(&uri(&p.app), Some(1));

    let hover = lsp
        .request("textDocument/hover", at(&p.app, APP, "Point,"))
        .expect("hover");
    let text = hover["contents"]["value"].as_str().expect("markdown");
    assert!(text.contains("A point on the canvas, in pixels."), "{text}");
    assert!(text.contains("struct Point { x: f64, y: f64 }"), "{text}");
    assert!(text.contains("used by `Move v1`"), "{text}");

    let hover = lsp
        .request("textDocument/hover", at(&p.app, APP, "Move"))
        .expect("hover");
    let text = hover["contents"]["value"].as_str().expect("markdown");
    let header = locked_header(&p, "Move");
    assert!(
        text.contains(&format!("header `{header}` (locked)")),
        "{text}"
    );
    assert!(text.contains("message app.Move v1 from client"), "{text}");
    assert!(text.contains("Où est le curseur"), "{text}");
    assert!(
        text.contains("wire shape: `{at: geometry.Point, id: u32}"),
        "{text}"
    );

    let definition = lsp
        .request("textDocument/definition", at(&p.app, APP, "Point,"))
        .expect("definition");
    assert_eq!(definition["uri"], uri(&p.geometry));
    assert_eq!(definition["range"]["start"], position_of(GEOMETRY, "Point"));

    let mut references = at(&p.geometry, GEOMETRY, "Point");
    references["context"] = json!({ "includeDeclaration": true });
    let found = lsp
        .request("textDocument/references", references)
        .expect("references");
    let found = found.as_array().expect("list");
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found
            .iter()
            .any(|l| l["uri"] == uri(&p.app) && l["range"]["start"] == position_of(APP, "Point,"))
    );

    let symbols = lsp
        .request(
            "textDocument/documentSymbol",
            json!({ "textDocument": { "uri": uri(&p.app) } }),
        )
        .expect("symbols");
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Move v1", "Hello v1"]);
    let children: Vec<&str> = symbols[1]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["name", "count"]);

    let found = lsp
        .request("workspace/symbol", json!({ "query": "poi" }))
        .expect("workspace symbols");
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["location"]["uri"], uri(&p.geometry));
    assert_eq!(found[0]["containerName"], "geometry");
    assert!(lsp.shutdown().success());
}

#[test]
fn completion_offers_types_keywords_and_constraints() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    let typing = APP.replace("count: u8 }", "count: u8, at: P }");
    lsp.open(&p.app, &typing);
    lsp.diagnostics(&uri(&p.app), Some(1));
    let labels = |result: Value| -> Vec<String> {
        result
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["label"].as_str().unwrap().to_string())
            .collect()
    };
    let mut params = at(&p.app, &typing, "P }");
    params["position"]["character"] = json!(params["position"]["character"].as_u64().unwrap() + 1);
    let types = labels(
        lsp.request("textDocument/completion", params)
            .expect("completion"),
    );
    assert!(types.contains(&"Point".to_string()), "{types:?}");
    assert!(
        types.contains(&"u32".to_string()) && types.contains(&"map".to_string()),
        "{types:?}"
    );
    assert!(
        !types.contains(&"message".to_string()),
        "no statement keywords in a type: {types:?}"
    );

    let constrained = APP.replace("count: u8 }", "count: u8 @ }");
    lsp.change(&p.app, 2, &constrained);
    let mut params = at(&p.app, &constrained, "@ }");
    params["position"]["character"] = json!(params["position"]["character"].as_u64().unwrap() + 1);
    let names = labels(
        lsp.request("textDocument/completion", params)
            .expect("completion"),
    );
    for name in ["len", "range", "pattern", "rate"] {
        assert!(names.contains(&name.to_string()), "{names:?}");
    }

    let top = format!("{APP}\nmes");
    lsp.change(&p.app, 3, &top);
    let params =
        json!({ "textDocument": { "uri": uri(&p.app) }, "position": position_at(&top, top.len()) });
    let words = labels(
        lsp.request("textDocument/completion", params)
            .expect("completion"),
    );
    for word in ["message", "struct", "enum", "union", "import", "package"] {
        assert!(words.contains(&word.to_string()), "{words:?}");
    }
    assert!(lsp.shutdown().success());
}

#[test]
fn rename_crosses_files_and_asks_before_breaking_the_lock() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, true);
    lsp.open(&p.app, APP);
    lsp.diagnostics(&uri(&p.app), Some(1));

    let prepared = lsp
        .request("textDocument/prepareRename", at(&p.app, APP, "Point,"))
        .expect("prepare");
    assert_eq!(prepared["placeholder"], "Point");
    let not_a_name = lsp.request("textDocument/prepareRename", at(&p.app, APP, "import"));
    assert!(not_a_name.is_err(), "{not_a_name:?}");

    // A struct's name is not on the wire: a plain edit over both files.
    let mut params = at(&p.geometry, GEOMETRY, "Point");
    params["newName"] = json!("Spot");
    let edit = lsp.request("textDocument/rename", params).expect("rename");
    assert!(
        edit.get("changeAnnotations").is_none_or(Value::is_null),
        "{edit:#?}"
    );
    let changes = &edit["changes"];
    let geometry = apply_edits(GEOMETRY, changes[uri(&p.geometry)].as_array().unwrap());
    let app = apply_edits(APP, changes[uri(&p.app)].as_array().unwrap());
    assert!(geometry.contains("struct Spot {"), "{geometry}");
    assert!(app.contains("{ at: Spot, id: u32 }"), "{app}");

    // A field is: the edit comes with a confirmation that says why.
    let mut params = at(&p.app, APP, "id: u32");
    params["newName"] = json!("ident");
    let edit = lsp
        .request("textDocument/rename", params.clone())
        .expect("rename");
    let annotation = &edit["changeAnnotations"]["breaks-lock"];
    assert_eq!(annotation["needsConfirmation"], true, "{edit:#?}");
    let header = locked_header(&p, "Move");
    assert!(
        annotation["description"]
            .as_str()
            .unwrap()
            .contains(&format!("`Move v1` (header `{header}`)"))
    );
    let document = &edit["documentChanges"][0];
    assert_eq!(document["edits"][0]["annotationId"], "breaks-lock");
    assert_eq!(document["edits"][0]["newText"], "ident");
    assert!(lsp.shutdown().success());

    // A client that cannot confirm gets a refusal, not a silent break.
    let mut plain = Client::initialized(&p.root, false);
    plain.open(&p.app, APP);
    plain.diagnostics(&uri(&p.app), Some(1));
    let refused = plain
        .request("textDocument/rename", params)
        .expect_err("refused");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("breaks the locked version"),
        "{refused}"
    );
    assert!(plain.shutdown().success());
}

#[test]
fn formatting_and_semantic_tokens() {
    let p = project();
    let mut lsp = Client::initialized(&p.root, false);
    let messy = APP.replace("{ at: Point, id: u32 }", "{at:Point,id :   u32}");
    lsp.open(&p.app, &messy);
    lsp.diagnostics(&uri(&p.app), Some(1));
    let params = json!({
        "textDocument": { "uri": uri(&p.app) },
        "options": { "tabSize": 2, "insertSpaces": true },
    });
    let edits = lsp
        .request("textDocument/formatting", params.clone())
        .expect("format");
    let formatted = apply_edits(&messy, edits.as_array().unwrap());
    let fmt_dir = p.root.join("fmt");
    std::fs::create_dir_all(&fmt_dir).expect("mkdir");
    std::fs::write(fmt_dir.join("x.schema"), &messy).expect("write");
    assert!(tagwire(&fmt_dir, &["fmt", "x.schema"]).status.success());
    assert_eq!(
        formatted,
        std::fs::read_to_string(fmt_dir.join("x.schema")).expect("read")
    );
    assert_ne!(formatted, messy);

    let half = format!("{messy}\nstruct Broken {{ a: ");
    lsp.change(&p.app, 2, &half);
    let edits = lsp
        .request("textDocument/formatting", params)
        .expect("format");
    assert_eq!(edits, json!([]), "a file with syntax errors is left alone");

    lsp.change(&p.app, 3, APP);
    let tokens = lsp
        .request(
            "textDocument/semanticTokens/full",
            json!({ "textDocument": { "uri": uri(&p.app) } }),
        )
        .expect("tokens");
    let data: Vec<u64> = tokens["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    // Decode to absolute positions: (line, character, length, type).
    let mut decoded = Vec::new();
    let (mut line, mut character) = (0, 0);
    for t in data.chunks(5) {
        if t[0] > 0 {
            character = 0;
        }
        line += t[0];
        character += t[1];
        decoded.push((line, character, t[2], t[3]));
    }
    let token_at = |needle: &str| {
        let pos = position_of(APP, needle);
        let (l, c) = (
            pos["line"].as_u64().unwrap(),
            pos["character"].as_u64().unwrap(),
        );
        decoded
            .iter()
            .find(|t| t.0 == l && t.1 == c)
            .map(|t| (t.2, t.3))
    };
    // Legend: 0 keyword, 2 struct, 4 class (messages), 5 property, 10 comment.
    assert_eq!(token_at("message Move"), Some((7, 0)));
    assert_eq!(token_at("Move"), Some((4, 4)));
    assert_eq!(token_at("Point,"), Some((5, 2)));
    assert_eq!(token_at("at: Point"), Some((2, 5)));
    // A doc comment with an emoji: its length in UTF-16 units.
    let doc = "/// Où est le curseur — 🖱️ moves.";
    assert_eq!(token_at(doc), Some((doc.encode_utf16().count() as u64, 10)));
    assert!(lsp.shutdown().success());
}

#[test]
fn rename_of_a_variant_renames_the_defaults_that_name_it() {
    const MOODS: &str = "\
package moods;

enum Mood { calm, busy }
enum Spare { one, two }

message Status { mood: Mood = calm, n: u8 }
";
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical");
    let path = root.join("moods.schema");
    std::fs::write(&path, MOODS).expect("write");
    let out = tagwire(&root, &["lock", "moods.schema"]);
    assert!(out.status.success(), "{out:?}");
    let mut lsp = Client::initialized(&root, true);
    lsp.open(&path, MOODS);
    lsp.diagnostics(&uri(&path), Some(1));

    // From the default, the variant is what is renamed.
    let prepared = lsp
        .request("textDocument/prepareRename", at(&path, MOODS, "calm, n"))
        .expect("prepare");
    assert_eq!(prepared["placeholder"], "calm");
    assert_eq!(prepared["range"]["start"], position_of(MOODS, "calm, n"));
    let found = lsp
        .request("textDocument/definition", at(&path, MOODS, "calm, n"))
        .expect("definition");
    assert_eq!(found["range"]["start"], position_of(MOODS, "calm, busy"));

    // Variant names are on the wire (in the text encoding), so renaming one
    // that a locked version uses asks first, as a field rename does.
    let mut params = at(&path, MOODS, "calm, n");
    params["newName"] = json!("quiet");
    let edit = lsp.request("textDocument/rename", params).expect("rename");
    let annotation = &edit["changeAnnotations"]["breaks-lock"];
    assert_eq!(annotation["needsConfirmation"], true, "{edit:#?}");
    assert!(
        annotation["description"]
            .as_str()
            .unwrap()
            .contains("`Status v1`"),
        "{annotation}"
    );
    let edits = edit["documentChanges"][0]["edits"].as_array().unwrap();
    let renamed = apply_edits(MOODS, edits);
    assert!(renamed.contains("enum Mood { quiet, busy }"), "{renamed}");
    assert!(renamed.contains("mood: Mood = quiet,"), "{renamed}");

    // A variant no message uses: a plain edit of its declaration.
    let mut params = at(&path, MOODS, "two }");
    params["newName"] = json!("three");
    let edit = lsp.request("textDocument/rename", params).expect("rename");
    assert!(
        edit.get("changeAnnotations").is_none_or(Value::is_null),
        "{edit:#?}"
    );
    let renamed = apply_edits(MOODS, edit["changes"][uri(&path)].as_array().unwrap());
    assert_eq!(renamed, MOODS.replace("two }", "three }"));
    assert!(lsp.shutdown().success());
}

#[test]
fn an_edit_reparses_only_the_changed_declarations_of_the_changed_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().canonicalize().expect("canonical");
    let mut large = String::from("package big;\n");
    for i in 0..500 {
        large.push_str(&format!("message M{i} {{ a: string, b: u64? }}\n"));
    }
    std::fs::write(root.join("big.schema"), &large).expect("write");
    let small = "package small;\nmessage Ping { at: u64 }\n";
    std::fs::write(root.join("small.schema"), small).expect("write");
    let mut lsp = Client::initialized(&root, false);
    lsp.open(&root.join("small.schema"), small);
    lsp.diagnostics(&uri(&root.join("small.schema")), Some(1));
    let parses = |lsp: &mut Client| {
        lsp.request("tagwire/status", Value::Null).expect("status")["parses"]
            .as_u64()
            .unwrap()
    };
    let status = |lsp: &mut Client| {
        let status = lsp.request("tagwire/status", Value::Null).expect("status");
        let count = |key: &str| status[key].as_u64().unwrap();
        (count("parses"), count("declarations"))
    };
    let before = parses(&mut lsp);
    assert!(before >= 2, "both files were parsed once: {before}");
    for version in 2..=4 {
        let text = small.replace("u64", if version % 2 == 0 { "u32" } else { "u64" });
        lsp.change(&root.join("small.schema"), version, &text);
        lsp.diagnostics(&uri(&root.join("small.schema")), Some(version));
    }
    // Three edits of the small file: three parses, none of the large one.
    assert_eq!(parses(&mut lsp) - before, 3);
    // In the large file, an edit of one declaration parses that one alone,
    // and the text after it moving on (a longer line) costs no parse.
    let big = root.join("big.schema");
    lsp.open(&big, &large);
    lsp.diagnostics(&uri(&big), Some(1));
    let before = status(&mut lsp);
    let edited = large.replace(
        "message M250 { a: string, b: u64? }",
        "message M250 { a: string, b: u64?, c: bool }",
    );
    lsp.change(&big, 2, &edited);
    lsp.diagnostics(&uri(&big), Some(2));
    let after = status(&mut lsp);
    assert_eq!(after.0 - before.0, 1, "the large file is parsed again");
    assert_eq!(after.1 - before.1, 1, "but only its edited declaration");
    assert!(lsp.shutdown().success());
}

#[test]
fn hostile_input_gets_errors_or_diagnostics_and_the_server_keeps_serving() {
    let p = project();
    let mut lsp = Client::start(&p.root);
    // Before `initialize`: requests are refused, notifications dropped.
    lsp.notify("textDocument/didOpen", json!({ "textDocument": { "uri": uri(&p.app), "languageId": "tagwire", "version": 1, "text": APP } }));
    let early = lsp
        .request("textDocument/hover", at(&p.app, APP, "Move"))
        .expect_err("refused");
    assert_eq!(early["code"], -32002, "ServerNotInitialized: {early}");
    drop(lsp);
    let mut lsp = Client::initialized(&p.root, false);

    // Binary junk on disk beside the schema, and a lock with conflict markers.
    std::fs::write(
        p.root.join("app/junk.schema"),
        b"package j;\n\xff\xfe\x00 message",
    )
    .expect("write");
    let lock = std::fs::read_to_string(p.root.join("app/tagwire.lock")).expect("lock");
    let conflicted = format!("<<<<<<< HEAD\n{lock}=======\nformat = 1\n>>>>>>> theirs\n");
    std::fs::write(p.root.join("app/tagwire.lock"), conflicted).expect("write");
    // A half-typed file.
    let half =
        "package app;\nimport \"../common/geometry.schema\";\nmessage Move from client { at: Po";
    lsp.open(&p.app, half);
    let diagnostics = lsp.diagnostics(&uri(&p.app), Some(1));
    let text = serde_json::to_string(&diagnostics).unwrap();
    assert!(text.contains("is not valid UTF-8"), "{diagnostics:#?}");
    assert!(
        errors(&diagnostics)
            .iter()
            .any(|d| d["range"]["start"]["line"] == 2),
        "the syntax error: {diagnostics:#?}"
    );
    // With the junk gone the lock is read, and its conflict shown on it.
    std::fs::remove_file(p.root.join("app/junk.schema")).expect("rm");
    lsp.change(&p.app, 2, APP);
    let lock_diagnostics = lsp.diagnostics(&uri(&p.root.join("app/tagwire.lock")), None);
    assert!(
        lock_diagnostics.iter().any(|d| d["message"]
            .as_str()
            .unwrap()
            .contains("cannot read the lock file")),
        "{lock_diagnostics:#?}"
    );
    std::fs::write(p.root.join("app/tagwire.lock"), &lock).expect("restore");

    // A file deleted while open: its text in the editor still counts.
    std::fs::remove_file(&p.app).expect("rm");
    let edited = APP.replace("count: u8", "count: Nope");
    lsp.change(&p.app, 3, &edited);
    let diagnostics = lsp.diagnostics(&uri(&p.app), Some(3));
    assert!(
        serde_json::to_string(&diagnostics)
            .unwrap()
            .contains("unknown type `Nope`"),
        "{diagnostics:#?}"
    );

    // Unknown URIs, positions past the end, malformed params, unknown methods.
    let not_a_file = lsp.request("textDocument/hover", json!({ "textDocument": { "uri": "untitled:Untitled-1" }, "position": { "line": 0, "character": 0 } }));
    assert_eq!(not_a_file.expect_err("not a file")["code"], -32602);
    let nowhere = lsp.request("textDocument/hover", json!({ "textDocument": { "uri": uri(&p.root.join("none.schema")) }, "position": { "line": 0, "character": 0 } }));
    assert_eq!(nowhere, Ok(Value::Null));
    let past = lsp.request("textDocument/hover", json!({ "textDocument": { "uri": uri(&p.app) }, "position": { "line": 9999, "character": 0 } }));
    assert_eq!(past, Ok(Value::Null));
    let wide = lsp.request("textDocument/definition", json!({ "textDocument": { "uri": uri(&p.app) }, "position": { "line": 0, "character": 9999 } }));
    assert_eq!(wide, Ok(Value::Null));
    let malformed = lsp.request("textDocument/hover", json!({ "textDocument": 7 }));
    assert_eq!(malformed.expect_err("malformed")["code"], -32602);
    let unknown = lsp.request("tagwire/nothing", json!({}));
    assert_eq!(unknown.expect_err("unknown")["code"], -32601);
    let past_end = json!({
        "textDocument": { "uri": uri(&p.app), "version": 4 },
        "contentChanges": [{ "range": { "start": { "line": 500, "character": 0 }, "end": { "line": 501, "character": 0 } }, "text": "x" }],
    });
    lsp.notify("textDocument/didChange", past_end);
    lsp.notify("textDocument/didChange", json!({ "nonsense": true }));
    lsp.notify("textDocument/didOpen", json!({ "textDocument": { "uri": "untitled:x", "languageId": "tagwire", "version": 1, "text": "" } }));

    // Still serving: the text before the bad change is the one answered about.
    let hover = lsp
        .request("textDocument/hover", at(&p.app, &edited, "Move"))
        .expect("hover");
    assert!(
        hover["contents"]["value"]
            .as_str()
            .unwrap()
            .contains("message app.Move"),
        "{hover}"
    );
    let second = lsp.request("initialize", json!({ "capabilities": {} }));
    assert_eq!(second.expect_err("twice")["code"], -32600);
    let status = lsp.shutdown();
    assert!(
        status.success(),
        "exit after shutdown is status 0: {status:?}"
    );
}

#[test]
fn exit_without_shutdown_is_status_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut lsp = Client::initialized(dir.path(), false);
    lsp.notify("exit", Value::Null);
    assert_eq!(lsp.wait_exit().code(), Some(1));
}
