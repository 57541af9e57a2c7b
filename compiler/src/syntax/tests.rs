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
fn keywords_are_read_from_the_grammar() {
    let words: Vec<&str> = super::keywords().collect();
    for word in [
        "package", "import", "struct", "message", "from", "map", "@rate", "burst",
    ] {
        assert!(words.contains(&word), "{word} missing from {words:?}");
    }
    assert_eq!(words.len(), 12, "{words:?}");
}
