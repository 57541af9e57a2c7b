//! The schema-driven codec (`tagwire_compiler::dynamic`): golden frames of
//! the generated Rust, JSON mapping edge cases, strict JSON input, and error
//! kinds and positions compared with the Rust runtime's own tests.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use tagwire::{DecodeErrorKind as K, Limits, Position};
use tagwire_compiler::dynamic::{
    self, Frame, Value, decode_frame, encode_values_line, parse_json, render_decoded,
};
use tagwire_compiler::ir::Schema;
use tagwire_compiler::{FrontEnd, LockMode};

fn repo(path: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

fn load(path: &str) -> Schema {
    let output = FrontEnd::new()
        .schema(repo(path))
        .lock_mode(LockMode::Locked)
        .run();
    assert!(!output.has_errors(), "{}", output.render_text());
    output.schema.unwrap()
}

fn load_text(text: &str) -> Schema {
    let output = FrontEnd::new()
        .schema_text("/nonexistent-tagwire-dynamic/input.schema", text)
        .lock_mode(LockMode::Preview)
        .run();
    assert!(!output.has_errors(), "{}", output.render_text());
    output.schema.unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn unhex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// (header, text frame, binary frame) of a golden snapshot entry.
type Golden = (String, String, Vec<u8>);

/// The entries of a golden snapshot, in order.
fn golden(name: &str) -> Vec<Golden> {
    let path = repo(&format!(
        "tests/tests/codec/snapshots/codec__golden__{name}.snap"
    ));
    let snap = std::fs::read_to_string(path).unwrap();
    let body = snap.splitn(3, "---\n").nth(2).unwrap();
    let lines: Vec<&str> = body.lines().collect();
    lines
        .chunks(3)
        .map(|c| {
            (
                c[0].to_owned(),
                c[1].strip_prefix("  text:   ").unwrap().to_owned(),
                unhex(c[2].strip_prefix("  binary: ").unwrap()),
            )
        })
        .collect()
}

const EVERYTHING: &[&str] = &[
    r#"{"message":"Scalars","value":{"b":true,"u_8":255,"u_16":300,"u_32":4294967295,"u_64":"18446744073709551615","i_8":-128,"i_16":-1,"i_32":-150,"i_64":"-9223372036854775808","f_32":0.10000000149011612,"f_64":"-0","s":"~a|b\\c\r\n🎉","raw":"3q2-7w"}}"#,
    r#"{"message":"Nothing","value":{}}"#,
    r#"{"message":"Composites","value":{"color":"max","shape":{"group":{"shapes":[{"rect":{"w":3,"h":4}}],"origin":{"x":1,"y":-1}}},"point":{"x":0,"y":0},"empty":{},"empties":[{},{}],"points":[null,{"x":5,"y":6}],"tree":{"label":"root","children":[{"label":"leaf","children":[]}]},"chain":{"value":1,"next":{"value":2}},"expr":{"add":{"left":{"lit":{"value":"1"}},"right":{"neg":{"inner":{"maybe":{}}}}}},"awkward":{"type":"t","match":1,"camelCase":true,"r":2,"w":3}}}"#,
    r#"{"message":"Optionals","value":{"o_bool":false,"o_i64":"-1","o_f32":"NaN","o_string":"~","o_bytes":"","o_point":{"x":1,"y":-1},"o_empty":{},"o_color":"blue","o_list":[],"list_of_opt":["a",null],"deep":[null,[{"empty":{}},null]]}}"#,
    r#"{"message":"Collections","value":{"list":[1,300],"strings":["x|y",""],"nested":[[-1,1],[]],"blobs":["-_8"],"smap":{"a":1,"b":2,"é":3},"imap":{"-5":false,"10":true},"umap":{"0":"","18446744073709551615":"max"},"bmap":{"-128":"AA","127":""},"points":{"o":{"x":0,"y":0}},"shapes":{"1":{"empty":{}},"2":{"circle":{"r":1.5}}},"trees":[]}}"#,
    r#"{"message":"CursorMove","value":{"user":42,"x":100.5,"y":200.25,"buttons":1}}"#,
];

const UI: &[&str] = &[
    r#"{"message":"RenderUi","value":{"id":"main","tree":"3q2-7w"}}"#,
    r#"{"message":"RenderUi","version":2,"value":{"id":"a|b","tree":"","theme":"","attrs":{"class":"~x","z":"1"}}}"#,
    r#"{"message":"UpdateUi","value":{"id":"main","patch":"_w"}}"#,
    r#"{"message":"ShowLoading","value":{}}"#,
    r#"{"message":"ShowLoading","value":{"until_ms":"18446744073709551615"}}"#,
    r#"{"message":"Chat","value":{"text":"hi 🎉\nbye","level":"warn","shapes":[{"circle":{"center":{"x":1.5,"y":"-0"},"radius":0.10000000149011612}},{"polygon":{"points":[{"x":0,"y":1e+21}]}},{"empty":{}}],"reply_to":"-150"}}"#,
    r#"{"message":"Click","value":{"target":"ok","at":{"x":3,"y":4},"buttons":[1,2]}}"#,
    r#"{"message":"Chat","value":{"text":"","level":"info","shapes":[]}}"#,
];

const ARTICLE: &[&str] = &[
    r#"{"message":"RenderUi","value":{"component_id":"main","tree":"<div>hello</div>"}}"#,
    r#"{"message":"UpdateUi","value":{"component_id":"main","patch":"<b>"}}"#,
    r#"{"message":"ShowLoading","value":{"component_id":"main"}}"#,
    r#"{"message":"RenderUi","version":2,"value":{"component_id":"main","tree":"<div>hello</div>","theme":"dark"}}"#,
];

fn goldens() -> Vec<(Schema, &'static str, Vec<Golden>)> {
    vec![
        (
            load("schemas/everything/everything.schema"),
            "everything",
            golden("everything"),
        ),
        (load("schemas/ui.schema"), "ui", golden("ui")),
        (
            load("schemas/article/article.schema"),
            "article",
            golden("article"),
        ),
    ]
}

fn values(name: &str) -> &'static [&'static str] {
    match name {
        "everything" => EVERYTHING,
        "ui" => UI,
        _ => ARTICLE,
    }
}

/// `{"message":…,"version":…,"value":…}` of a values line, as decode prints it
/// (minus header and direction), for comparing with the input.
fn value_of(line: &str) -> String {
    let dynamic::Json::Object(members) = parse_json(line).unwrap() else {
        panic!()
    };
    members
        .into_iter()
        .find(|(k, _)| k == "value")
        .unwrap()
        .1
        .render()
}

#[test]
fn encoding_json_values_gives_the_golden_frames() {
    for (schema, name, frames) in goldens() {
        let values = values(name);
        assert_eq!(
            frames.len(),
            values.len(),
            "{name}: one value per golden frame"
        );
        for ((header, text, binary), line) in frames.iter().zip(values) {
            let (t, b) = encode_values_line(&schema, None, line)
                .unwrap_or_else(|e| panic!("{name} {header}: {e}"));
            assert_eq!(&t, text, "{name} {header}");
            assert_eq!(hex(&b), hex(binary), "{name} {header}");
        }
    }
}

#[test]
fn golden_frames_decode_to_the_values_and_back() {
    let limits = Limits::default();
    for (schema, name, frames) in goldens() {
        for ((header, text, binary), line) in frames.iter().zip(values(name)) {
            let from_text = decode_frame(&schema, None, Frame::Text(text), &limits).unwrap();
            let from_binary = decode_frame(&schema, None, Frame::Binary(binary), &limits).unwrap();
            assert_eq!(&from_text.header, header);
            assert_eq!(from_text.json, from_binary.json, "{name} {header}");
            // The inputs above are written canonically, so decoding gives them back.
            assert_eq!(from_text.json.render(), value_of(line), "{name} {header}");
            // Frame → JSON → frame, in both encodings.
            let again = format!(
                r#"{{"message":{},"version":{},"value":{}}}"#,
                dynamic::Json::String(from_text.message.clone()).render(),
                from_text.version,
                from_text.json.render()
            );
            let (t, b) = encode_values_line(&schema, None, &again).unwrap();
            assert_eq!(&t, text);
            assert_eq!(&b, binary);
        }
    }
}

#[test]
fn decoded_lines_snapshot() {
    let limits = Limits::default();
    let mut out = String::new();
    for (schema, name, frames) in goldens() {
        out.push_str(&format!("# {name}\n"));
        for (_, text, _) in &frames {
            let d = decode_frame(&schema, None, Frame::Text(text), &limits).unwrap();
            out.push_str(&render_decoded(&d));
            out.push('\n');
        }
    }
    insta::assert_snapshot!(out);
}

fn everything() -> Schema {
    load("schemas/everything/everything.schema")
}

fn decode_json(schema: &Schema, text: &str) -> String {
    decode_frame(schema, None, Frame::Text(text), &Limits::default())
        .unwrap()
        .json
        .render()
}

fn encode_text(schema: &Schema, line: &str) -> String {
    encode_values_line(schema, None, line).unwrap().0
}

#[test]
fn json_mapping_edge_cases() {
    let s = everything();
    // Scalars: -0, NaN, infinities, u64 max, i64 min, bytes, f32 widening.
    let line = r#"{"message":"Scalars","value":{"b":false,"u_8":0,"u_16":0,"u_32":0,"u_64":"18446744073709551615","i_8":127,"i_16":-32768,"i_32":2147483647,"i_64":"-9223372036854775808","f_32":"-Infinity","f_64":"NaN","s":"","raw":"_w"}}"#;
    let text = encode_text(&s, line);
    assert_eq!(
        text,
        "aa|0|0|0|0|18446744073709551615|127|-32768|2147483647|-9223372036854775808|-Infinity|NaN||_w"
    );
    assert_eq!(decode_json(&s, &text), value_of(line));
    for (f64_in, f64_out, token) in [
        (r#""-0""#, r#""-0""#, "-0"),
        ("-0", r#""-0""#, "-0"),
        ("0", "0", "0"),
        (r#""Infinity""#, r#""Infinity""#, "Infinity"),
        ("1e21", "1e+21", "1e+21"),
        ("1E-7", "1e-7", "1e-7"),
        ("5e-324", "5e-324", "5e-324"),
        ("1.50", "1.5", "1.5"),
        ("100", "100", "100"),
        ("0.1", "0.1", "0.1"),
    ] {
        let line = format!(
            r#"{{"message":"Scalars","value":{{"b":true,"u_8":1,"u_16":1,"u_32":1,"u_64":"1","i_8":1,"i_16":1,"i_32":1,"i_64":"1","f_32":0.1,"f_64":{f64_in},"s":"x","raw":""}}}}"#
        );
        let text = encode_text(&s, &line);
        assert_eq!(text.split('|').nth(11), Some(token), "{f64_in}");
        assert!(
            decode_json(&s, &text).contains(&format!(r#""f_64":{f64_out},"#)),
            "{f64_in}"
        );
        // f32: 0.1 rounds to the nearest f32 and prints widened.
        assert_eq!(text.split('|').nth(10), Some("0.10000000149011612"));
    }
    // Optionals: empty string and empty bytes are present, absent is left out,
    // null on input is absent, an absent list element is null.
    let line = r#"{"message":"Optionals","value":{"o_u64":null,"o_string":"","o_bytes":"","list_of_opt":[null,"",null],"deep":[[null]],"o_chain":{"value":1,"next":null}}}"#;
    let text = encode_text(&s, line);
    assert_eq!(text, "ac|~|~|~|~|~|||~|~|~|~|~|~|3|~||~|1|1|~|+|1|~");
    assert_eq!(
        decode_json(&s, &text),
        r#"{"o_string":"","o_bytes":"","list_of_opt":[null,"",null],"deep":[[null]],"o_chain":{"value":1}}"#
    );
    // Integer map keys: any order on input, numeric order on output; unions
    // without fields are {"empty": {}}.
    let line = r#"{"message":"Collections","value":{"list":[],"strings":[],"nested":[],"blobs":[],"smap":{"é":1,"B":2,"a":3},"imap":{"10":true,"-5":false,"2":true},"umap":{},"bmap":{},"points":{},"shapes":{"300":{"empty":{}},"7":{"rect":{"w":1,"h":2}}},"trees":[]}}"#;
    let text = encode_text(&s, line);
    assert_eq!(
        text,
        "ab|0|0|0|0|3|B|2|a|3|é|1|3|-5|0|2|1|10|1|0|0|0|2|7|2|1|2|300|0|0"
    );
    assert_eq!(
        decode_json(&s, &text),
        r#"{"list":[],"strings":[],"nested":[],"blobs":[],"smap":{"B":2,"a":3,"é":1},"imap":{"-5":false,"2":true,"10":true},"umap":{},"bmap":{},"points":{},"shapes":{"7":{"rect":{"w":1,"h":2}},"300":{"empty":{}}},"trees":[]}"#
    );
    // JSON string escapes on output are JSON.stringify's.
    let frame = "aa|1|0|0|0|0|0|0|0|0|0|0|\"\\\\\t\u{1}\u{7f}é|";
    assert!(
        decode_json(&s, frame).contains(r#""s":"\"\\\t\u0001"#),
        "{}",
        decode_json(&s, frame)
    );
}

fn values_err(schema: &Schema, line: &str) -> String {
    encode_values_line(schema, None, line)
        .unwrap_err()
        .to_string()
}

#[test]
fn strict_json_rejections_name_the_path() {
    let ui = load("schemas/ui.schema");
    let chat = |v: &str| format!(r#"{{"message":"Chat","value":{v}}}"#);
    let cases: &[(String, &str)] = &[
        (
            chat(
                r#"{"text":"","level":"info","shapes":[{"empty":{}},{"empty":{}},{"empty":{}},{"circle":{"center":{"x":1,"y":2},"radius":"x"}}]}"#,
            ),
            r#"value.shapes[3].circle.radius: expected a number or one of "-0", "NaN", "Infinity", "-Infinity", found "x""#,
        ),
        (
            chat(r#"{"text":"","level":"info","shapes":[],"extra":1}"#),
            "value.extra: unknown property (fields of Chat v1: text, level, shapes, reply_to)",
        ),
        (
            chat(r#"{"text":"","shapes":[]}"#),
            "value.level: missing property (a Level is required)",
        ),
        (
            chat(r#"{"text":"","level":"loud","shapes":[]}"#),
            r#"value.level: "loud" is not a variant of Level (info, warn, error)"#,
        ),
        (
            chat(r#"{"text":"","level":"info","shapes":[],"reply_to":5}"#),
            r#"value.reply_to: i64 values are decimal strings ("5"), found a number"#,
        ),
        (
            chat(r#"{"text":"","level":"info","shapes":[{"square":{}}]}"#),
            r#"value.shapes[0].square: "square" is not a variant of Shape (circle, polygon, empty)"#,
        ),
        (
            chat(r#"{"text":"","level":"info","shapes":[{"empty":{},"circle":{}}]}"#),
            "value.shapes[0]: expected an object with one property, the variant of Shape (circle, polygon, empty), found an object with 2 properties",
        ),
        (
            chat(r#"{"text":"","level":"info","shapes":[{"empty":{"x":1}}]}"#),
            "value.shapes[0].empty.x: unknown property (Shape.empty has no fields)",
        ),
        (
            chat(r#"{"text":null,"level":"info","shapes":[]}"#),
            "value.text: expected a string, found null",
        ),
        (
            r#"{"message":"Click","value":{"target":"","at":{"x":1,"y":2},"buttons":[1,256]}}"#
                .into(),
            "value.buttons[1]: 256 is out of range for u8",
        ),
        (
            r#"{"message":"Click","value":{"target":"","at":{"x":1,"y":2},"buttons":[1.0]}}"#
                .into(),
            r#"value.buttons[0]: "1.0" is not an integer (decimal digits, optional `-`, no leading zeros)"#,
        ),
        (
            r#"{"message":"Click","value":{"target":"","at":{"x":1e400,"y":2},"buttons":[]}}"#
                .into(),
            "value.at.x: 1e400 overflows f64",
        ),
        (
            r#"{"message":"UpdateUi","value":{"id":"","patch":"_x"}}"#.into(),
            r#"value.patch: "_x" is not unpadded base64url (A-Z a-z 0-9 - _)"#,
        ),
        (
            r#"{"message":"UpdateUi","value":{"id":"","patch":"_w=="}}"#.into(),
            r#"value.patch: "_w==" is not unpadded base64url (A-Z a-z 0-9 - _)"#,
        ),
        (
            r#"{"message":"RenderUi","version":2,"value":{"id":"","tree":"","attrs":{"a":1}}}"#
                .into(),
            r#"value.attrs["a"]: expected a string, found a number"#,
        ),
        (
            r#"{"message":"RenderUi","version":3,"value":{}}"#.into(),
            "version: RenderUi has no version 3 (versions: 1, 2)",
        ),
        (
            r#"{"message":"Nope","value":{}}"#.into(),
            r#"message: package ui has no message "Nope" (messages: RenderUi, UpdateUi, ShowLoading, Click, Chat)"#,
        ),
        (
            r#"{"message":"ShowLoading"}"#.into(),
            "value: missing property (the message's fields, as an object)",
        ),
        (
            r#"{"message":"ShowLoading","value":{},"x":1}"#.into(),
            "x: unknown property (a values line has message, version and value)",
        ),
        (
            r#"{"message":"ShowLoading","value":{}} x"#.into(),
            "invalid JSON at column 38: unexpected text after the JSON value",
        ),
        (
            r#"{"message":"ShowLoading","message":"Chat","value":{}}"#.into(),
            r#"invalid JSON at column 26: duplicate property "message""#,
        ),
        (
            r#"{"message":"UpdateUi","value":{"id":"\ud800","patch":""}}"#.into(),
            "invalid JSON at column 38: lone UTF-16 surrogate (a string holds Unicode scalar values only)",
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(values_err(&ui, line), *expected, "{line}");
    }
    let s = everything();
    let collections = |v: &str| {
        format!(
            r#"{{"message":"Collections","value":{{"list":[],"strings":[],"nested":[],"blobs":[],"smap":{{}},"imap":{v},"umap":{{}},"bmap":{{}},"points":{{}},"shapes":{{}},"trees":[]}}}}"#
        )
    };
    for (imap, expected) in [
        (
            r#"{"01":true}"#,
            r#"value.imap["01"]: "01" is not an integer"#,
        ),
        (
            r#"{"-0":true}"#,
            r#"value.imap["-0"]: "-0" is not an integer"#,
        ),
        (r#"{"x":true}"#, r#"value.imap["x"]: "x" is not an integer"#),
        (
            r#"{"2147483648":true}"#,
            r#"value.imap["2147483648"]: 2147483648 is out of range for i32"#,
        ),
        (
            r#"{"1":1}"#,
            r#"value.imap["1"]: expected true or false, found a number"#,
        ),
    ] {
        let e = values_err(&s, &collections(imap));
        assert!(e.starts_with(expected), "{e}");
    }
    // f32 overflow is an error, not infinity.
    let e = values_err(
        &s,
        r#"{"message":"CursorMove","value":{"user":1,"x":1e39,"y":0,"buttons":0}}"#,
    );
    assert_eq!(e, "value.x: 1e39 overflows f32");
}

/// The runtime tests' hand-written protocol (runtime/rust/tests/common), as a schema.
const RUNTIME_PROTOCOL: &str = r#"
package spec;
struct Point { x: i32, y: i32 }
struct Empty {}
enum Color { red = 1, green = 2, blue = 7 }
union Shape { empty, circle { r: f32 }, rect { w: u8, h: u8 } }
struct Tree { label: string, children: [Tree] }
message RenderUi @"aa" { id: string, tree: string }
message Demo @"ab" { flag: bool, pos: Point, tags: [string], note: string? }
message Everything @"ac" {
  b: bool, v_u8: u8, v_u16: u16, v_u32: u32, v_u64: u64, v_i8: i8, v_i16: i16,
  v_i32: i32, v_i64: i64, v_f32: f32, v_f64: f64, s: string, raw: bytes,
  list: [u16], smap: map<string, u8>, imap: map<i32, bool>, opt: u32?,
  opt_s: string?, opt_b: bytes?, opt_p: Point?, opt_e: Empty?, color: Color,
  shape: Shape, empties: [Empty], points: [Point?], empty: Empty, tree: Tree,
}
"#;

fn tok(index: usize, byte: usize) -> Position {
    Position::Token { index, byte }
}

fn text_err(schema: &Schema, frame: &str) -> (K, Position) {
    let e = decode_frame(schema, None, Frame::Text(frame), &Limits::default()).unwrap_err();
    (e.kind, e.position)
}

fn bin_err(schema: &Schema, frame: &[u8]) -> (K, Position) {
    let e = decode_frame(schema, None, Frame::Binary(frame), &Limits::default()).unwrap_err();
    (e.kind, e.position)
}

/// The runtime's `everything_text_is_as_specified` frame.
const RUNTIME_EVERYTHING: &str = r"ac|1|255|300|4294967295|18446744073709551615|-128|-1|-150|-9223372036854775808|0.10000000149011612|-0|\~a\pb\\c\r\n🎉|3q2-7w|2|1|300|3|a|1|b|2|é|3|2|-5|0|10|1|~|\~||+|1|-1|+|7|2|3|4|2|2|~|+|0|0|root|1||0";

#[test]
fn errors_match_the_runtime_tests() {
    let s = load_text(RUNTIME_PROTOCOL);
    // runtime/rust/tests/protocol.rs: text_frame_level_errors_and_positions
    let text_cases: &[(&str, K, Position)] = &[
        ("", K::Truncated, tok(0, 0)),
        ("a", K::Truncated, tok(0, 0)),
        ("zz|a|b", K::UnknownHeader, tok(0, 0)),
        ("a||a|b", K::UnknownHeader, tok(0, 0)),
        ("__", K::UnknownHeader, tok(0, 0)),
        ("zzX", K::UnknownHeader, tok(0, 0)),
        ("aaX|a|b", K::MissingSeparator, tok(1, 2)),
        ("aa|main", K::Truncated, tok(2, 7)),
        ("aa", K::Truncated, tok(1, 2)),
        ("aa|a|b|c", K::TrailingData, tok(3, 7)),
        ("aa|a|b|", K::TrailingData, tok(3, 7)),
        ("ab|2|1|-1|0|~", K::InvalidBool, tok(1, 3)),
        ("ab|1|01|-1|0|~", K::InvalidToken, tok(2, 5)),
        ("ab|1|1|-0|0|~", K::InvalidToken, tok(3, 7)),
        ("ab|1|1|2147483648|0|~", K::OutOfRange, tok(3, 7)),
        ("ab|1|1|1|-1|~", K::InvalidToken, tok(4, 9)),
        ("ab|1|1|1|100001", K::CollectionTooLong, tok(4, 9)),
        (
            "ab|1|1|1|99999999999999999999999999999999999999999",
            K::CollectionTooLong,
            tok(4, 9),
        ),
        ("ab|1|1|1|1|a\\xb|~", K::InvalidEscape, tok(5, 11)),
        ("ab|1|1|1|1|~x|~", K::InvalidToken, tok(5, 11)),
        ("ab|1|1|1|1|x", K::Truncated, tok(6, 12)),
        ("ab|1|1|1|100000|x", K::Truncated, tok(6, 17)),
    ];
    for &(frame, kind, position) in text_cases {
        assert_eq!(text_err(&s, frame), (kind, position), "{frame:?}");
    }
    // binary_frame_level_errors_and_positions
    let b = Position::Byte;
    let mut long_count = b"ab\x01\x02\x01".to_vec();
    long_count.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    let binary_cases: &[(&[u8], K, Position)] = &[
        (b"", K::Truncated, b(0)),
        (b"a", K::Truncated, b(0)),
        (b"zz\x00\x00", K::UnknownHeader, b(0)),
        (&[0xFF, 0xFF], K::UnknownHeader, b(0)),
        (b"aa\x00", K::Truncated, b(3)),
        (b"aa\x00\x00\x00", K::TrailingData, b(4)),
        (b"aa\x05abc\x00", K::Truncated, b(2)),
        (b"aa\x02\xC3\x28\x00", K::InvalidUtf8, b(2)),
        (b"aa\x81\x00\x00", K::InvalidVarint, b(2)),
        (b"ab\x02\x02\x01\x00\x00", K::InvalidBool, b(2)),
        (b"ab\x01\x02\x01\x00\x02", K::InvalidBool, b(6)),
        (b"ab\x01\x02\x01\x02\x00", K::Truncated, b(7)),
        (&long_count, K::InvalidVarint, b(5)),
        (
            b"ab\x01\x02\x01\xFF\xFF\xFF\xFF\x0F",
            K::CollectionTooLong,
            b(5),
        ),
        (
            b"ab\x01\x02\x01\xA0\x8D\x06\x00\x00\x00",
            K::Truncated,
            b(11),
        ),
    ];
    for &(frame, kind, position) in binary_cases {
        assert_eq!(bin_err(&s, frame), (kind, position), "{frame:?}");
    }
    // The runtime's sample frame decodes, and text_value_errors_in_context.
    let d = decode_frame(
        &s,
        None,
        Frame::Text(RUNTIME_EVERYTHING),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(d.message, "Everything");
    let cases: &[(usize, &str, K)] = &[
        (2, "256", K::OutOfRange),
        (3, "65536", K::OutOfRange),
        (5, "-1", K::OutOfRange),
        (6, "-129", K::OutOfRange),
        (10, "1e39", K::OutOfRange),
        (10, "inf", K::InvalidToken),
        (11, "1e400", K::OutOfRange),
        (11, "+1", K::InvalidToken),
        (12, "a\\", K::InvalidEscape),
        (13, "3q2-7w==", K::InvalidBase64),
        (13, "3q2-7x", K::InvalidBase64),
        (13, "3q2+7w", K::InvalidBase64),
        (18, "~", K::InvalidToken),
        (32, "x", K::InvalidToken),
        (36, "8", K::UnknownEnumValue),
        (36, "4294967296", K::OutOfRange),
        (37, "3", K::UnknownVariant),
        (29, "-1", K::OutOfRange),
        (31, "A", K::InvalidBase64),
    ];
    for &(field, token, kind) in cases {
        let mut parts: Vec<&str> = RUNTIME_EVERYTHING.split('|').collect();
        parts[field] = token;
        let frame = parts.join("|");
        let (k, p) = text_err(&s, &frame);
        assert_eq!(k, kind, "field {field} = {token:?}: {frame}");
        let Position::Token { index, .. } = p else {
            panic!()
        };
        assert_eq!(index, field, "{frame}");
    }
    // map_order_is_enforced_in_both_encodings
    let swapped = RUNTIME_EVERYTHING.replacen("3|a|1|b|2|é|3", "3|b|2|a|1|é|3", 1);
    assert_eq!(
        text_err(&s, &swapped),
        (
            K::UnsortedMapKeys,
            tok(20, swapped.find("|a|1|é").unwrap() + 1)
        )
    );
    let dup = RUNTIME_EVERYTHING.replacen("3|a|1|b|2|é|3", "3|a|1|a|2|é|3", 1);
    assert_eq!(text_err(&s, &dup).0, K::DuplicateMapKey);
    let imap = RUNTIME_EVERYTHING.replacen("2|-5|0|10|1", "2|10|1|-5|0", 1);
    assert_eq!(text_err(&s, &imap).0, K::UnsortedMapKeys);
}

#[test]
fn errors_match_the_generated_rust_tests() {
    // tests/tests/codec/hostile.rs on the generated code for schemas/.
    let ev = everything();
    let ui = load("schemas/ui.schema");
    let loose = Limits {
        max_collection_len: usize::MAX,
        max_string_bytes: usize::MAX,
        ..Limits::default()
    };
    let kind = |s: &Schema, f: Frame<'_>, l: &Limits| decode_frame(s, None, f, l).unwrap_err().kind;
    let d = Limits::default();
    assert_eq!(
        kind(&ev, Frame::Binary(b"ab\xFF\xFF\xFF\xFF\x0F"), &d),
        K::CollectionTooLong
    );
    assert_eq!(
        kind(&ev, Frame::Binary(b"ab\xFF\xFF\xFF\xFF\x0F"), &loose),
        K::Truncated
    );
    assert_eq!(
        kind(&ui, Frame::Binary(b"aa\xFF\xFF\xFF\xFF\x0F"), &d),
        K::StringTooLong
    );
    assert_eq!(
        kind(&ui, Frame::Binary(b"aa\xFF\xFF\xFF\xFF\x0F"), &loose),
        K::Truncated
    );
    assert_eq!(
        kind(&ev, Frame::Text("ad|7|0|1|0|0|4294967295"), &d),
        K::CollectionTooLong
    );
    let nines = format!("ab|{}", "9".repeat(100));
    assert_eq!(kind(&ev, Frame::Text(&nines), &d), K::CollectionTooLong);
    assert_eq!(
        kind(&ev, Frame::Text("ab|4294967295"), &d),
        K::CollectionTooLong
    );
    assert_eq!(
        kind(&ev, Frame::Text("ab|4294967295|1"), &loose),
        K::Truncated
    );
    let many = format!("ab|0|0|{}", "100000|".repeat(50));
    assert!(decode_frame(&ev, None, Frame::Text(&many), &d).is_err());
    // recursion_is_bounded_by_max_depth
    let mut frame = String::from("ad|1|0|0|0|0|0|root|0|1|~");
    for _ in 0..100_000 {
        frame.push_str("|1");
    }
    assert_eq!(kind(&ev, Frame::Text(&frame), &d), K::TooDeep);
    let mut frame = b"ad\x01\x00\x00\x00\x00\x00\x04root\x00\x01\x00".to_vec();
    frame.extend(std::iter::repeat_n(1u8, 100_000));
    assert_eq!(kind(&ev, Frame::Binary(&frame), &d), K::TooDeep);
}

#[test]
fn depth_counts_lists_maps_optionals_structs_and_unions() {
    // SPEC §6.3: with max_depth = 1 a message field [u8] is fine and [[u8]] is not.
    let s = load_text(
        "package d;\nstruct P { x: u8 }\nmessage A @\"aa\" { l: [u8] }\nmessage B @\"ab\" { l: [[u8]] }\nmessage C @\"ac\" { p: P? }\nmessage D @\"ad\" { p: P }\n",
    );
    let one = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let dec = |f: &str| decode_frame(&s, None, Frame::Text(f), &one).map(|d| d.json.render());
    assert_eq!(dec("aa|1|5").unwrap(), r#"{"l":[5]}"#);
    assert_eq!(dec("ab|1|0").unwrap_err().position, tok(2, 5));
    assert_eq!(dec("ab|1|0").unwrap_err().kind, K::TooDeep);
    // An optional struct is two levels (the optional, then the struct); an
    // absent one still opens the optional's.
    assert_eq!(dec("ac|~").unwrap(), "{}");
    let e = dec("ac|+|1").unwrap_err();
    assert_eq!((e.kind, e.position), (K::TooDeep, tok(2, 5)));
    assert_eq!(dec("ad|1").unwrap(), r#"{"p":{"x":1}}"#);
    let zero = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    let e = decode_frame(&s, None, Frame::Binary(b"ad\x01"), &zero).unwrap_err();
    assert_eq!((e.kind, e.position), (K::TooDeep, Position::Byte(2)));
}

#[test]
fn text_frames_as_bytes_report_invalid_utf8_at_the_token() {
    let ui = load("schemas/ui.schema");
    let e = decode_frame(
        &ui,
        None,
        Frame::TextBytes(b"ab|main|\xFF"),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!((e.kind, e.position), (K::InvalidUtf8, tok(2, 8)));
    let e = decode_frame(&ui, None, Frame::TextBytes(b"\xFF"), &Limits::default()).unwrap_err();
    assert_eq!((e.kind, e.position), (K::InvalidUtf8, tok(0, 0)));
    let small = Limits {
        max_frame_bytes: 4,
        ..Limits::default()
    };
    let e = decode_frame(&ui, None, Frame::TextBytes(b"ab|main|\xFF"), &small).unwrap_err();
    assert_eq!((e.kind, e.position), (K::FrameTooLarge, tok(0, 0)));
}

#[test]
fn every_truncation_of_a_golden_frame_fails() {
    let limits = Limits::default();
    for (schema, name, frames) in goldens() {
        for (header, text, binary) in &frames {
            for end in 0..binary.len() {
                assert!(
                    decode_frame(&schema, None, Frame::Binary(&binary[..end]), &limits).is_err(),
                    "{name} {header} binary[..{end}]"
                );
            }
            // A text prefix can be a valid frame of fewer digits (`aa|12` → `aa|1`);
            // cutting whole tokens off never is.
            let pieces: Vec<&str> = text.split('|').collect();
            for n in 0..pieces.len() {
                let cut = pieces[..n].join("|");
                assert!(
                    decode_frame(&schema, None, Frame::Text(&cut), &limits).is_err(),
                    "{name} {header} {cut:?}"
                );
            }
        }
    }
}

#[test]
fn values_are_positional() {
    let s = everything();
    let d = decode_frame(
        &s,
        None,
        Frame::Text("af|42|100.5|200.25|1"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(
        d.value,
        Value::Struct(vec![
            Value::UInt(42),
            Value::F32(100.5),
            Value::F32(200.25),
            Value::UInt(1)
        ])
    );
    assert_eq!(
        (d.message.as_str(), d.version, d.direction.as_str()),
        ("CursorMove", 1, "client")
    );
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(frame in any::<String>()) {
        for s in [everything(), load("schemas/ui.schema")] {
            let _ = decode_frame(&s, None, Frame::Text(&frame), &Limits::default());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(rest in proptest::collection::vec(any::<u8>(), 0..64), h in 0usize..6) {
        let s = everything();
        let mut frame = vec![b'a', b"abcdef"[h]];
        frame.extend(rest);
        let _ = decode_frame(&s, None, Frame::Binary(&frame), &Limits::default());
        let _ = decode_frame(&s, None, Frame::TextBytes(&frame), &Limits::default());
    }

    #[test]
    fn token_soup_never_panics(h in 0usize..6, tokens in proptest::collection::vec(
        prop_oneof![Just("~".to_owned()), Just("+".to_owned()), Just("0".to_owned()), Just("1".to_owned()),
                    Just("2".to_owned()), Just("-1".to_owned()), Just("".to_owned()), "[a-z0-9\\\\~+-]{0,4}"], 0..40)) {
        let s = everything();
        let mut frame = format!("a{}", char::from(b"abcdef"[h]));
        for t in tokens {
            frame.push('|');
            frame.push_str(&t);
        }
        if let Ok(d) = decode_frame(&s, None, Frame::Text(&frame), &Limits::default()) {
            // Whatever decodes re-encodes to a fixed point of decode-then-encode.
            // (Usually the frame itself; a float token may be respelled, as
            // `1e5` comes back as `100000`, and f32 tokens round.)
            let line = format!(r#"{{"message":"{}","value":{}}}"#, d.message, d.json.render());
            let (text, _) = encode_values_line(&s, None, &line).unwrap();
            if text != frame {
                let again = decode_frame(&s, None, Frame::Text(&text), &Limits::default()).unwrap();
                let line = format!(r#"{{"message":"{}","value":{}}}"#, again.message, again.json.render());
                prop_assert_eq!(encode_values_line(&s, None, &line).unwrap().0, text);
            }
        }
    }

    #[test]
    fn arbitrary_json_lines_never_panic(line in any::<String>()) {
        let _ = encode_values_line(&everything(), None, &line);
    }
}

const CONSTRAINED: &str = r#"package c;
struct Point { x: i32 @range(-10..=10) }
union Shape { circle { center: Point, radius: f32 @range(0..=100) }, empty }
message M {
  name: string @len(1..=3),
  shapes: [Shape],
  tags: map<string @len(1..), u8 @range(..=9)>?,
  code: string? @pattern("^[a-z]+$"),
}
"#;

#[test]
fn constraints_are_checked_after_decoding_with_the_path_of_the_first_violation() {
    let schema = load_text(CONSTRAINED);
    let ok = encode_values_line(
        &schema,
        None,
        r#"{"message":"M","value":{"name":"abc","shapes":[{"empty":{}},{"circle":{"center":{"x":10},"radius":100}}],"tags":{"a":9},"code":"xyz"}}"#,
    )
    .unwrap();
    assert_eq!(ok.0, "aa|abc|2|1|0|10|100|1|a|9|xyz");
    // The same shape without constraints writes what the constrained one must reject.
    let free = load_text(
        "package c;\nstruct Point { x: i32 }\nunion Shape { circle { center: Point, radius: f32 }, empty }\n\
         message M { name: string, shapes: [Shape], tags: map<string, u8>?, code: string? }\n",
    );
    for (value, path, message) in [
        (
            r#"{"name":"abcd","shapes":[]}"#,
            "name",
            "length 4 is outside 1..=3",
        ),
        (
            r#"{"name":"é😀","shapes":[{"empty":{}},{"circle":{"center":{"x":0},"radius":100.5}}]}"#,
            "shapes[1].circle.radius",
            "100.5 is outside 0..=100",
        ),
        (
            r#"{"name":"a","shapes":[{"circle":{"center":{"x":-11},"radius":1}}]}"#,
            "shapes[0].circle.center.x",
            "-11 is outside -10..=10",
        ),
        (
            r#"{"name":"a","shapes":[],"tags":{"":1}}"#,
            "tags",
            "key \"\": length 0 is outside 1..",
        ),
        (
            r#"{"name":"a","shapes":[],"tags":{"k":10}}"#,
            "tags[\"k\"]",
            "10 is outside ..=9",
        ),
        (
            r#"{"name":"a","shapes":[],"code":"A"}"#,
            "code",
            "does not match \"^[a-z]+$\"",
        ),
    ] {
        let line = format!(r#"{{"message":"M","value":{value}}}"#);
        let refused = values_err(&schema, &line);
        assert_eq!(refused, format!("value.{path}: {message}"));
        let (text, binary) = encode_values_line(&free, None, &line).unwrap();
        for (frame, at) in [
            (Frame::Text(&text), tok(0, 0)),
            (Frame::Binary(&binary), Position::Byte(0)),
        ] {
            let e = decode_frame(&schema, None, frame, &Limits::default()).unwrap_err();
            assert_eq!((e.kind, e.position), (K::ConstraintViolation, at));
            let v = e.violation().unwrap();
            assert_eq!((v.path.as_str(), v.message.as_str()), (path, message));
            assert_eq!(
                e.to_string(),
                format!("constraint violation: {path}: {message}")
            );
        }
    }
    // Trailing data is found first (SPEC §6.1).
    let (text, _) = encode_values_line(
        &free,
        None,
        r#"{"message":"M","value":{"name":"abcd","shapes":[]}}"#,
    )
    .unwrap();
    let e = decode_frame(
        &schema,
        None,
        Frame::Text(&format!("{text}|x")),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, K::TrailingData);
}
