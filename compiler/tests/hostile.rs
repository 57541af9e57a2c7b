//! Hostile input never panics, never overflows the stack and always ends in
//! either a checked schema or at least one error diagnostic.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tagwire_compiler::APPLICATION_HEADERS;
use tagwire_compiler::{FrontEnd, LockMode, Output};

/// A root that does not exist on disk: imports fail cleanly, no lock is read
/// from a real folder, and nothing is written in Preview mode.
fn run(text: String) -> Output {
    FrontEnd::new()
        .schema_text("/nonexistent-tagwire-hostile/input.schema", text)
        .lock_mode(LockMode::Preview)
        .run()
}

fn assert_outcome(output: &Output) {
    if output.has_errors() {
        assert!(output.schema.is_none());
        // Rendering must not panic either, whatever spans were produced.
        let text = output.render_text();
        assert!(text.contains("error["), "{text}");
        let json: serde_json::Value = serde_json::from_str(&output.render_json()).unwrap();
        assert!(!json["diagnostics"].as_array().unwrap().is_empty());
    } else {
        assert!(output.schema.is_some());
    }
}

const TOKENS: &[&str] = &[
    "package",
    "import",
    "struct",
    "enum",
    "union",
    "message",
    "from",
    "server",
    "client",
    "map",
    "v1",
    "v0",
    "v2",
    "v99999999999",
    "{",
    "}",
    "[",
    "]",
    "<",
    ">",
    "map<",
    "?",
    "??",
    ",",
    ";",
    ":",
    "=",
    "@\"",
    "@\"ab\"",
    "@\"_x\"",
    "\"",
    "\"x.schema\"",
    "///",
    "//",
    "/*",
    "\n",
    " ",
    "\t",
    "\r\n",
    "A",
    "B",
    "Point",
    "x",
    "y",
    "_",
    "__x",
    "self",
    "u8",
    "u64",
    "f64",
    "string",
    "bytes",
    "bool",
    "-1",
    "0",
    "4294967296",
    "é",
    "\u{FEFF}",
    "\\",
    "p;",
    "package p;",
    "message M {",
    "struct S { x: S }",
    "String",
    "RenderUiV1",
];

fn tokens() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOKENS), 0..60).prop_map(|parts| parts.join(" "))
}

/// Token soup behind a valid package line reaches the checks past the parser more often.
fn packaged_tokens() -> impl Strategy<Value = String> {
    (
        tokens(),
        prop::collection::vec(prop::sample::select(TOKENS), 0..20),
    )
        .prop_map(|(a, b)| format!("package p;\n{a}\n{}", b.concat()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        assert_outcome(&run(String::from_utf8_lossy(&bytes).into_owned()));
    }

    #[test]
    fn arbitrary_strings_never_panic(text in ".{0,200}") {
        assert_outcome(&run(text));
    }

    #[test]
    fn schema_like_token_soup_never_panics(text in tokens()) {
        assert_outcome(&run(text));
    }

    #[test]
    fn token_soup_after_a_package_never_panics(text in packaged_tokens()) {
        assert_outcome(&run(text));
    }

    /// Valid schemas with random structure check cleanly.
    #[test]
    fn generated_valid_schemas_are_accepted(
        fields in prop::collection::vec(
            (0usize..6, prop::sample::select(&["u8", "i64", "string", "[u8]", "map<string, f64>", "bytes?", "S", "[S]?"][..])),
            0..8,
        ),
        messages in 1usize..20,
    ) {
        let mut text = String::from("package generated;\nstruct S { a: u32, b: [S] }\n");
        for m in 0..messages {
            let mut seen = std::collections::HashSet::new();
            let fields: Vec<String> = fields
                .iter()
                .filter(|(n, _)| seen.insert(*n))
                .map(|(n, ty)| format!("f{n}: {ty}"))
                .collect();
            text.push_str(&format!("message M{m} {{ {} }}\n", fields.join(", ")));
        }
        let output = run(text);
        prop_assert!(!output.has_errors(), "{}", output.render_text());
        let schema = output.schema.unwrap();
        let headers: std::collections::HashSet<_> =
            schema.packages[0].messages.iter().map(|m| m.header.unwrap()).collect();
        prop_assert_eq!(headers.len(), messages);
    }
}

fn assert_error(text: String, code: &str) {
    let output = run(text);
    assert!(output.has_errors());
    let codes: Vec<&str> = output.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert!(codes.contains(&code), "expected {code}, got {codes:?}");
    let _ = output.render_text();
}

#[test]
fn ten_thousand_nested_lists_are_a_diagnostic() {
    let n = 10_000;
    assert_error(
        format!(
            "package p;\nmessage M {{ x: {}u8{} }}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
        "E0002",
    );
    // Unclosed, too.
    assert_error(
        format!("package p;\nmessage M {{ x: {}", "[".repeat(n)),
        "E0002",
    );
}

#[test]
fn ten_thousand_nested_maps_are_a_diagnostic() {
    let n = 10_000;
    let text = format!(
        "package p;\nmessage M {{ x: {}u8{} }}\n",
        "map<string, ".repeat(n),
        ">".repeat(n)
    );
    assert_error(text, "E0002");
}

#[test]
fn ten_thousand_nested_braces_are_a_diagnostic() {
    let n = 10_000;
    assert_error(format!("package p;\n{}", "{".repeat(n)), "E0002");
    assert_error(
        format!("package p;\nunion U {{ a {}", "{ b ".repeat(n)),
        "E0002",
    );
}

#[test]
fn nesting_just_under_the_limit_is_fine() {
    // 64 levels in all, counting the message's own braces.
    let depth = tagwire_compiler::MAX_NESTING - 1;
    let text = format!(
        "package p;\nmessage M {{ x: {}u8{} }}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let output = run(text);
    assert!(!output.has_errors(), "{}", output.render_text());
    let text = format!(
        "package p;\nmessage M {{ x: {}u8{} }}\n",
        "[".repeat(depth + 1),
        "]".repeat(depth + 1)
    );
    assert_error(text, "E0002");
}

#[test]
fn brackets_in_comments_and_strings_do_not_count_as_nesting() {
    let text = format!(
        "package p;\n// {}\nimport \"{}.schema\";\nmessage M {{ x: u8 }}\n",
        "[".repeat(10_000),
        "{".repeat(10_000)
    );
    // The import does not exist, but the nesting pre-pass let the file through.
    assert_error(text, "E0013");
}

#[test]
fn long_recursive_type_chains_do_not_overflow() {
    // A chain of 5,000 structs, each containing the next: checked iteratively.
    let n = 5_000;
    let mut text = String::from("package p;\n");
    for i in 0..n {
        text.push_str(&format!("struct S{i} {{ next: S{} }}\n", (i + 1) % n));
    }
    text.push_str("message M { s: S0 }\n");
    let output = run(text);
    assert_eq!(output.diagnostics.len(), n);
    assert!(output.diagnostics.iter().all(|d| d.code == "E0080"));
    // Every type is on the one big cycle; notes spell out its start, not all 5,000 steps.
    let note = &output.diagnostics[1].notes[0];
    assert!(
        note.starts_with("cycle: S1.next → S2.next → S3.next"),
        "{note}"
    );
    assert!(
        note.ends_with(&format!("→ … ({} more) → S1", n - 12)),
        "{note}"
    );
    let _ = output.render_text();
}

#[test]
fn recursion_is_found_behind_a_long_exit_free_chain() {
    // S0 → S1 → … → S999 → S999: only S999 is on the cycle, but no value of any S can be written.
    let n = 1_000;
    let mut text = String::from("package p;\n");
    for i in 0..n {
        text.push_str(&format!(
            "struct S{i} {{ next: S{} }}\n",
            (i + 1).min(n - 1)
        ));
    }
    let output = run(text);
    assert_eq!(output.diagnostics.len(), n);
    let notes: Vec<&Vec<String>> = output.diagnostics.iter().map(|d| &d.notes).collect();
    assert!(notes[..n - 1].iter().all(|n| n.is_empty()));
    assert_eq!(
        notes[n - 1],
        &vec![format!("cycle: S{}.next → S{}", n - 1, n - 1)]
    );
}

#[test]
fn a_long_chain_of_struct_definitions_checks_fine() {
    let n = 2_000;
    let mut text = String::from("package p;\n");
    for i in 0..n {
        text.push_str(&format!("struct S{i} {{ next: S{}, v: u8 }}\n", i + 1));
    }
    text.push_str(&format!("struct S{n} {{ v: u8 }}\nmessage M {{ s: S0 }}\n"));
    let output = run(text);
    assert!(!output.has_errors(), "{}", output.render_text());
    let shape = &output.schema.unwrap().packages[0].messages[0].shape;
    assert!(shape.contains(&format!("p.S{n} = struct {{v: u8}}")));
}

fn many_messages(count: usize) -> String {
    let mut text = String::from("package big;\nstruct Point { x: f64, y: f64 }\n");
    for i in 0..count {
        text.push_str(&format!(
            "/// Message number {i}.\nmessage Message{i} from server {{ id: u64, name: string, at: Point? }}\n"
        ));
    }
    text
}

/// 20,000 messages in a 1.6 MB file parse and check; only header assignment
/// runs out, since a package has 4,032 application headers.
#[test]
fn a_megabyte_of_twenty_thousand_messages_parses() {
    let count = 20_000;
    let text = many_messages(count);
    assert!(text.len() >= 1_000_000, "{} bytes", text.len());
    // Parsing and every check pass: the only diagnostics are the headers running out.
    let output = run(text);
    let codes: std::collections::BTreeSet<&str> =
        output.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes.into_iter().collect::<Vec<_>>(), ["E0095"]);
    assert_eq!(output.diagnostics.len(), count - APPLICATION_HEADERS);
    let first = &output.diagnostics[0];
    assert_eq!(first.message, "package `big` has used all 4032 headers");
    let line = output
        .sources
        .get(first.span.unwrap().file)
        .line_col(first.span.unwrap().start)
        .0;
    assert_eq!(
        line,
        3 + 2 * APPLICATION_HEADERS + 1,
        "the first message without a header is number 4032"
    );
}

#[test]
fn a_package_can_use_every_application_header() {
    let output = run(many_messages(APPLICATION_HEADERS));
    assert!(output.diagnostics.is_empty(), "{}", output.render_text());
    let schema = output.schema.unwrap();
    let headers: Vec<String> = schema.packages[0]
        .messages
        .iter()
        .map(|m| m.header.unwrap().to_string())
        .collect();
    assert_eq!(headers.first().map(String::as_str), Some("aa"));
    assert_eq!(headers.last().map(String::as_str), Some("-_"));
    assert!(headers.iter().all(|h| !h.starts_with('_')));
    assert_eq!(
        headers
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        APPLICATION_HEADERS
    );
}

#[test]
fn invalid_utf8_on_disk_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.schema");
    std::fs::write(&path, b"package p;\nmessage M { x: u8 }\n// \xff\xfe\n").unwrap();
    let output = FrontEnd::new()
        .schema(&path)
        .lock_mode(LockMode::Preview)
        .run();
    let codes: Vec<&str> = output.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0012"]);
    let missing = FrontEnd::new()
        .schema(dir.path().join("missing.schema"))
        .lock_mode(LockMode::Preview)
        .run();
    assert_eq!(
        missing
            .diagnostics
            .iter()
            .map(|d| d.code.as_str())
            .collect::<Vec<_>>(),
        ["E0010"]
    );
}

#[test]
fn a_file_over_the_size_limit_is_refused_before_parsing() {
    let text = format!(
        "package p;\n{}",
        " ".repeat(tagwire_compiler::MAX_SOURCE_BYTES)
    );
    assert_error(text, "E0001");
}

#[test]
fn a_file_imported_twice_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("common.schema"),
        "package common;\nstruct P { x: u8 }\n",
    )
    .unwrap();
    let root = dir.path().join("app.schema");
    std::fs::write(
        &root,
        "package app;\nimport \"common.schema\";\nimport \"common.schema\";\nmessage M { p: P }\n",
    )
    .unwrap();
    let output = FrontEnd::new()
        .schema(&root)
        .lock_mode(LockMode::Preview)
        .run();
    assert!(!output.has_errors(), "{}", output.render_text());
    let codes: Vec<&str> = output.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["W0001"]);
}

#[test]
fn a_lock_that_cannot_be_read_is_a_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("app.schema");
    std::fs::write(&root, "package app;\nmessage M { x: u8 }\n").unwrap();
    // A directory where the lock file should be: it exists, but reading it fails.
    std::fs::create_dir(dir.path().join(tagwire_compiler::LOCK_FILE_NAME)).unwrap();
    let output = FrontEnd::new()
        .schema(&root)
        .lock_mode(LockMode::Preview)
        .run();
    let codes: Vec<&str> = output.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E0098"]);
}

#[test]
fn empty_and_whitespace_files_report_a_missing_package() {
    for text in [
        "",
        "\n\n",
        "// only a comment\n",
        "\u{FEFF}",
        "/// a dangling doc\n",
    ] {
        let output = run(text.to_string());
        assert!(output.has_errors(), "{text:?} was accepted");
        assert_outcome(&output);
    }
}
