//! A derive-defined protocol's exported schema drives the compiler's
//! schema-driven codec (`tagwire_compiler::dynamic`, the one behind
//! `tagwire encode` and the conformance runner's `dynamic` side): for
//! hand-written SPEC §8 values lines, it produces exactly the derive's frames,
//! and decodes the derive's frames.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use tagwire::{Protocol, SchemaExport};
use tagwire_compiler::dynamic::{self, Frame};
use tagwire_compiler::{FrontEnd, LockMode};

/// How urgent a toast is.
#[derive(tagwire::Codec, Debug, Clone, Copy, PartialEq)]
enum Level {
    Info,
    Warn = 5,
    Error,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
enum Shape {
    Circle { center: Point, radius: f32 },
    Polygon { points: Vec<Point> },
    Empty,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct UpdateUi {
    id: String,
    patch: Vec<u8>,
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "server", package = "ui")]
enum ServerMsg {
    RenderUi {
        id: String,
        tree: Vec<u8>,
    },
    #[tagwire(header = "ab")]
    UpdateUi(UpdateUi),
    #[tagwire(name = "RenderUi", version = 2)]
    RenderUiV2 {
        id: String,
        tree: Vec<u8>,
        theme: Option<String>,
        attrs: BTreeMap<String, String>,
    },
    ShowLoading {
        until_ms: Option<u64>,
    },
    #[tagwire(header = "af")]
    Chat {
        text: String,
        level: Level,
        shapes: Vec<Shape>,
        reply_to: Option<i64>,
    },
    Ping,
}

/// Each derive value with the values line (SPEC §8) that says the same.
fn cases() -> Vec<(ServerMsg, &'static str)> {
    vec![
        (
            ServerMsg::RenderUi {
                id: "main".into(),
                tree: b"<b>".to_vec(),
            },
            r#"{"message":"RenderUi","value":{"id":"main","tree":"PGI-"}}"#,
        ),
        (
            ServerMsg::UpdateUi(UpdateUi {
                id: "a|b~\\".into(),
                patch: vec![],
            }),
            r#"{"message":"UpdateUi","version":1,"value":{"id":"a|b~\\","patch":""}}"#,
        ),
        (
            ServerMsg::RenderUiV2 {
                id: "x".into(),
                tree: vec![0xff],
                theme: Some("dark".into()),
                attrs: [("z", "1"), ("a", "2")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .into_iter()
                    .collect(),
            },
            r#"{"message":"RenderUi","version":2,"value":{"id":"x","tree":"_w","theme":"dark","attrs":{"z":"1","a":"2"}}}"#,
        ),
        (
            ServerMsg::RenderUiV2 {
                id: String::new(),
                tree: vec![],
                theme: None,
                attrs: BTreeMap::new(),
            },
            r#"{"message":"RenderUi","version":2,"value":{"id":"","tree":"","theme":null,"attrs":{}}}"#,
        ),
        (
            ServerMsg::ShowLoading {
                until_ms: Some(u64::MAX),
            },
            r#"{"message":"ShowLoading","value":{"until_ms":"18446744073709551615"}}"#,
        ),
        (
            ServerMsg::ShowLoading { until_ms: None },
            r#"{"message":"ShowLoading","value":{}}"#,
        ),
        (
            ServerMsg::Chat {
                text: "é😀\n".into(),
                level: Level::Warn,
                shapes: vec![
                    Shape::Circle {
                        center: Point { x: 1.5, y: -0.0 },
                        radius: 2.5,
                    },
                    Shape::Polygon { points: vec![] },
                    Shape::Empty,
                ],
                reply_to: Some(i64::MIN),
            },
            r#"{"message":"Chat","value":{"text":"é😀\n","level":"warn","shapes":[{"circle":{"center":{"x":1.5,"y":-0.0},"radius":2.5}},{"polygon":{"points":[]}},{"empty":{}}],"reply_to":"-9223372036854775808"}}"#,
        ),
        (
            ServerMsg::Chat {
                text: String::new(),
                level: Level::Error,
                shapes: vec![Shape::Polygon {
                    points: vec![Point {
                        x: -1e300,
                        y: 5e-324,
                    }],
                }],
                reply_to: None,
            },
            r#"{"message":"Chat","value":{"text":"","level":"error","shapes":[{"polygon":{"points":[{"x":-1e300,"y":5e-324}]}}],"reply_to":null}}"#,
        ),
        (ServerMsg::Ping, r#"{"message":"Ping","value":{}}"#),
    ]
}

fn exported_schema() -> tagwire_compiler::ir::Schema {
    let out = FrontEnd::new()
        .schema_text("derived/ui.schema", ServerMsg::schema())
        .lock_mode(LockMode::Preview)
        .run();
    assert!(!out.has_errors(), "{}", out.render_text());
    out.schema.unwrap()
}

#[test]
fn dynamic_codec_on_the_export_gives_the_derive_frames() {
    let schema = exported_schema();
    for (value, line) in cases() {
        let (text, binary) = dynamic::encode_values_line(&schema, None, line)
            .unwrap_or_else(|e| panic!("{line}: {e:?}"));
        assert_eq!(text, value.to_text(), "{line}");
        assert_eq!(binary, value.to_binary(), "{line}");
        // And each decodes the other's frames.
        assert_eq!(ServerMsg::decode_text(&text).unwrap().to_text(), text);
        assert_eq!(
            ServerMsg::decode_binary(&binary).unwrap().to_binary(),
            binary
        );
        // The dynamic codec decodes the derive's frames to the same value:
        // its canonical JSON, encoded again, gives the same frames.
        let limits = tagwire::Limits::default();
        for frame in [Frame::Text(&text), Frame::Binary(&binary)] {
            let decoded = dynamic::decode_frame(&schema, None, frame, &limits)
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            let package = dynamic::pick_package(&schema, None).unwrap();
            let message =
                dynamic::find_message(package, &decoded.message, decoded.version).unwrap();
            let again = dynamic::encode_value(&schema, message, &decoded.json).unwrap();
            assert_eq!(again, (text.clone(), binary.clone()), "{line}");
        }
    }
}
