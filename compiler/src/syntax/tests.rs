//! Grammar tests: what each rule accepts and rejects, and the words syntax errors use.

use super::{Rule, parse, parse_rule};
use crate::source::FileId;

fn accepts(rule: Rule, text: &str) {
    if let Err(e) = parse_rule(rule, text) {
        panic!("{rule:?} should accept {text:?}:\n{e}");
    }
}

fn rejects(rule: Rule, text: &str) {
    assert!(
        parse_rule(rule, text).is_err(),
        "{rule:?} should reject {text:?}"
    );
}

fn error_message(text: &str) -> String {
    match parse(FileId(0), text) {
        Ok(_) => panic!("expected a syntax error for {text:?}"),
        Err(d) => d.message,
    }
}

#[test]
fn type_expressions() {
    for ok in [
        "u8",
        "string?",
        "[Point]",
        "[[u8]]",
        "map<string, [Shape?]>",
        "map<u64,string>?",
        "T??",
    ] {
        accepts(Rule::type_expr, ok);
    }
    for bad in ["[u8", "map<string>", "?", "[]"] {
        rejects(Rule::type_expr, bad);
    }
}

#[test]
fn keywords_need_a_word_boundary() {
    accepts(Rule::kw_struct, "struct");
    rejects(Rule::kw_struct, "structure");
    accepts(Rule::version, "v12");
    rejects(Rule::version, "v12a");
    rejects(Rule::version, "v");
}

#[test]
fn identifiers() {
    for ok in ["a", "_x", "RenderUi", "until_ms", "v2x"] {
        accepts(Rule::ident, ok);
    }
    for bad in ["1a", "-", "é"] {
        rejects(Rule::ident, bad);
    }
}

#[test]
fn messages_take_version_direction_and_header_in_that_order() {
    accepts(Rule::message_decl, "message A {}");
    accepts(
        Rule::message_decl,
        "message A v2 from server @\"ab\" { x: u8 }",
    );
    accepts(Rule::message_decl, "message A from client { x: u8, }");
    rejects(Rule::message_decl, "message A from server v2 {}");
    rejects(Rule::message_decl, "message A @\"ab\" v2 {}");
}

#[test]
fn comments_and_docs() {
    let file = parse(
        FileId(0),
        "// plain\n/// doc one\n///doc two\n//// not a doc\nstruct A { /// field doc\n x: u8 }",
    )
    .expect("parses");
    assert_eq!(file.items[0].docs, ["doc one", "doc two"]);
    let crate::ast::ItemKind::Struct(s) = &file.items[0].kind else {
        panic!("struct expected");
    };
    assert_eq!(s.fields[0].docs, ["field doc"]);
}

#[test]
fn unions_with_and_without_fields() {
    accepts(Rule::union_decl, "union S { a, b {}, c { x: u8 }, }");
    rejects(Rule::union_decl, "union S { a: u8 }");
}

#[test]
fn errors_are_words_not_rule_names() {
    let message = error_message("package p;\nstruct A { x: u8 y: u8 }");
    assert!(message.contains("expected"), "{message}");
    assert!(message.contains("`}`"), "{message}");
    assert!(
        !message.contains("rbrace") && !message.contains("Rule"),
        "{message}"
    );
    let message = error_message("package p;\nstruct A { x u8 }");
    assert_eq!(message, "expected `:`, found `u8`");
    let message = error_message("package p;\nstruct A {");
    assert_eq!(message, "expected `}` or a field name, found end of file");
}

#[test]
fn ten_thousand_deep_nesting_is_a_diagnostic() {
    let deep = format!(
        "package p;\nstruct A {{ x: {}u8{} }}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let message = error_message(&deep);
    assert!(message.contains("nesting is deeper than"), "{message}");
}

#[test]
fn field_defaults() {
    for ok in [
        "x: u8 = 3",
        "x: u8 @range(1..=5) = 3",
        "x: i32 = -7",
        "x: f32 = 0.5",
        "x: string = \"a \\\" b\"",
        "x: bool = true",
        "x: Mood = calm",
    ] {
        accepts(Rule::field, ok);
    }
    for bad in ["x: u8 =", "x: u8 = 3 @range(1..=5)", "x = 3", "x: u8 = [1]"] {
        rejects(Rule::field, bad);
    }
    let file = parse(
        FileId(0),
        "package p;\nmessage A { a: u8 = 3, b: string = \"x\\\"y\", c: Mood = calm, d: i8 }",
    )
    .expect("parses");
    let crate::ast::ItemKind::Message(m) = &file.items[0].kind else {
        panic!("message expected");
    };
    use crate::ast::LiteralKind;
    let defaults: Vec<Option<(LiteralKind, &str)>> = m
        .fields
        .iter()
        .map(|f| f.default.as_ref().map(|d| (d.kind.clone(), d.raw.as_str())))
        .collect();
    assert_eq!(
        defaults,
        [
            Some((LiteralKind::Number("3".into()), "3")),
            Some((LiteralKind::String("x\"y".into()), "\"x\\\"y\"")),
            Some((LiteralKind::Word("calm".into()), "calm")),
            None,
        ]
    );
    let literal = m.fields[0].default.as_ref().expect("a default");
    assert_eq!((literal.span.start, literal.span.end), (31, 32));
}

#[test]
fn presence_is_a_message_declared_with_its_own_keyword() {
    let file = super::parse(
        crate::source::FileId(0),
        "package p;\npresence Cursor v2 @\"cu\" { x: f32 }\n",
    )
    .expect("parses");
    let crate::ast::ItemKind::Message(m) = &file.items[0].kind else {
        panic!("not a message: {:?}", file.items[0]);
    };
    assert!(m.presence);
    assert_eq!(m.name.name, "Cursor");
    assert_eq!(file.items[0].keyword(), "presence");
    // Still a word elsewhere: a field, and a type named like it.
    let file = super::parse(
        crate::source::FileId(0),
        "package p;\nmessage M { presence: Presence }\n",
    )
    .expect("parses");
    let crate::ast::ItemKind::Message(m) = &file.items[0].kind else {
        panic!("not a message");
    };
    assert!(!m.presence);
    assert_eq!(m.fields[0].name.name, "presence");
}

#[test]
fn keywords_are_read_from_the_grammar() {
    let words: Vec<&str> = super::keywords().collect();
    for word in [
        "package", "import", "struct", "message", "presence", "from", "map", "@rate", "burst",
    ] {
        assert!(words.contains(&word), "{word} missing from {words:?}");
    }
    assert_eq!(words.len(), 13, "{words:?}");
}

/// Every schema in the repository, valid or not, with its text.
fn repository_schemas() -> Vec<(std::path::PathBuf, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut queue = vec![
        root.join("schemas"),
        root.join("tests/fixtures"),
        root.join("compiler/tests/fixtures"),
    ];
    let mut out = Vec::new();
    while let Some(dir) = queue.pop() {
        for entry in std::fs::read_dir(&dir).expect("a fixture folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                queue.push(path);
            } else if path.extension().is_some_and(|e| e == "schema") {
                let text = std::fs::read_to_string(&path).expect("a UTF-8 schema");
                out.push((path, text));
            }
        }
    }
    out.sort();
    assert!(out.len() > 50, "only {} schemas found", out.len());
    out
}

/// The parse one declaration at a time against the parse of the whole file:
/// the same tree, or the same error word for word at the same place.
fn same_as_whole(text: &str) -> Result<(), String> {
    let pieces = format!("{:?}", parse(FileId(3), text));
    let whole = format!("{:?}", super::parse_whole(FileId(3), text));
    if pieces == whole {
        Ok(())
    } else {
        Err(format!(
            "for {text:?}\npiecewise: {pieces}\nwhole:     {whole}"
        ))
    }
}

#[test]
fn parsing_by_declaration_is_parsing_the_whole_file() {
    let schemas = repository_schemas();
    let mut errors = 0;
    for (path, text) in &schemas {
        if let Err(e) = same_as_whole(text) {
            panic!("{}: {e}", path.display());
        }
        errors += usize::from(parse(FileId(0), text).is_err());
    }
    assert!(errors >= 3, "the fixtures hold syntax errors too");
}

/// A schema that uses every rule of the grammar, with braces and `;` in
/// strings and comments.
const WHOLE_GRAMMAR: &str = r#"// A comment { with ; braces
package p;
import "a\"}.schema";
/// Docs.
struct S { a: u8 @range(1..=5) = 3, b: [string?] @len(..=4), c: map<u16, S> }
enum E { x = 1, /// y
  y }
union U { a, b { s: string @pattern("^[a-z};]+$") = "}" }, }
message M v2 from server @"ab" @rate(10/s, burst 2) { e: E = x, u: U? }
"#;

#[test]
fn parsing_by_declaration_keeps_every_error_of_an_edited_file() {
    // What typing does to a file: characters deleted, inserted (the ones
    // that open or close a declaration, a string or a comment) and the text
    // cut short, at every position of a schema that uses the whole grammar.
    let text = WHOLE_GRAMMAR;
    let boundaries: Vec<usize> = (0..=text.len())
        .filter(|i| text.is_char_boundary(*i))
        .collect();
    let mut checked = 0;
    let mut failed = Vec::new();
    for (n, &i) in boundaries.iter().enumerate() {
        let mut variants = Vec::new();
        if let Some(c) = text[i..].chars().next() {
            variants.push(format!("{}{}", &text[..i], &text[i + c.len_utf8()..]));
        }
        for inserted in ["}", "{", "\"", ";", "//", "\n", "x", "\\"] {
            variants.push(format!("{}{inserted}{}", &text[..i], &text[i..]));
        }
        if n % 5 == 0 {
            variants.push(text[..i].to_string());
        }
        for variant in variants {
            checked += 1;
            if let Err(e) = same_as_whole(&variant) {
                failed.push(e);
            }
        }
    }
    assert!(checked > 2_500, "{checked}");
    assert!(
        failed.is_empty(),
        "{} differ, first: {}",
        failed.len(),
        failed[0]
    );
}

#[test]
fn a_large_file_parsed_on_several_threads_is_the_whole_file_parsed() {
    // Large enough to be shared out to threads (`parallel`), with an error
    // placed early, in the middle, late, and in two places at once.
    let declaration = WHOLE_GRAMMAR
        .split_once("/// Docs.")
        .map_or(WHOLE_GRAMMAR, |(_, rest)| rest);
    let mut text = String::from("package p;\n");
    let mut n = 0;
    while text.len() < 600 * 1024 {
        text.push_str(
            &declaration
                .replace(" S ", &format!(" S{n} "))
                .replace(" M ", &format!(" M{n} ")),
        );
        n += 1;
    }
    same_as_whole(&text).unwrap_or_else(|e| panic!("{}", &e[..e.len().min(2_000)]));
    // The start of the line after a point, where a nameless struct is an
    // error inside a declaration and between two.
    let at = |fraction: f64| {
        let i = (text.len() as f64 * fraction) as usize;
        text[i..].find('\n').map_or(text.len(), |n| i + n + 1)
    };
    for cuts in [vec![0.01], vec![0.5], vec![0.97], vec![0.3, 0.8]] {
        let mut broken = text.clone();
        for fraction in cuts.iter().rev() {
            broken.insert_str(at(*fraction), "struct { }\n");
        }
        let result = parse(FileId(3), &broken);
        assert!(result.is_err(), "{cuts:?}");
        same_as_whole(&broken).unwrap_or_else(|e| panic!("{cuts:?}: {}", &e[..e.len().min(2_000)]));
    }
}

#[test]
fn the_cache_parses_only_the_declarations_that_changed() {
    use super::ParseCache;
    use std::path::Path;
    let text = "package p;\n\nstruct A { x: u8 }\n\n/// B.\nmessage B v2 { a: A, m: map<string, [A?]> @len(..=3) = \"q\" }\n\nenum C { c = 1 }\n";
    let cache = ParseCache::new();
    let path = Path::new("/p/a.schema");
    let first = cache.parse(path, FileId(1), text).expect("parses");
    // Four declarations and the line end after the last.
    assert_eq!((cache.parses(), cache.declarations()), (1, 5));
    // Unchanged: the same tree, shared.
    let again = cache.parse(path, FileId(1), text).expect("parses");
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    assert_eq!((cache.parses(), cache.declarations()), (1, 5));
    // One declaration edited and text added before the others: only it is
    // parsed, and the others' trees move to where their text now is, in
    // another file id.
    let edited = text
        .replace("struct A { x: u8 }", "struct A { x: u16, y: bool }")
        .replace("package p;", "// moved\npackage p;");
    let tree = cache.parse(path, FileId(2), &edited).expect("parses");
    assert_eq!((cache.parses(), cache.declarations()), (2, 7));
    assert_eq!(*tree, parse(FileId(2), &edited).expect("parses"));
    // A syntax error is the file's error, as the whole file's parse gives it.
    let broken = edited.replace("enum C { c = 1 }", "enum C { c = }");
    let error = cache
        .parse(path, FileId(2), &broken)
        .expect_err("a syntax error");
    assert_eq!(Err(error), super::parse_whole(FileId(2), &broken));
    assert_eq!(cache.declarations(), 8);
}

#[test]
fn the_cache_reads_a_lock_once_while_a_schema_beside_it_is_kept() {
    use super::ParseCache;
    use std::path::Path;
    let cache = ParseCache::new();
    let schema = Path::new("/p/a.schema");
    let lock = Path::new("/p/tagwire.lock");
    let text = "format = 1\n";
    cache
        .parse(schema, FileId(0), "package p;")
        .expect("parses");
    let Ok(first) = cache.lock_file(lock, text) else {
        panic!("the lock parses");
    };
    cache.retain(|p| p == schema);
    let Ok(again) = cache.lock_file(lock, text) else {
        panic!("the lock parses");
    };
    assert!(std::sync::Arc::ptr_eq(&first, &again), "read once");
    cache.retain(|_| false);
    let Ok(after) = cache.lock_file(lock, text) else {
        panic!("the lock parses");
    };
    assert!(
        !std::sync::Arc::ptr_eq(&first, &after),
        "forgotten with its folder"
    );
}

#[test]
fn a_cached_declaration_moved_is_the_declaration_parsed_where_it_now_is() {
    let cache = super::ParseCache::new();
    let path = std::path::Path::new("/p/all.schema");
    cache.parse(path, FileId(1), WHOLE_GRAMMAR).expect("parses");
    let moved = format!("// three more lines\n\n\n{WHOLE_GRAMMAR}");
    let tree = cache.parse(path, FileId(4), &moved).expect("parses");
    assert_eq!(*tree, parse(FileId(4), &moved).expect("parses"));
    // Only the first piece, which took the new lines, was parsed again.
    assert_eq!(
        cache.declarations(),
        super::split::declarations(WHOLE_GRAMMAR).len() + 1
    );
}
