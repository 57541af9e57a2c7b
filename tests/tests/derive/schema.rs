//! `SchemaExport`: the `.schema` text a derive-defined protocol exports is
//! accepted by the compiler, which gives it the same headers as the derive,
//! both with every header pinned and with only the `#[tagwire(header)]` pins
//! (so the derive assigns headers as the compiler does).

use std::collections::{BTreeMap, HashMap};
use tagwire::{Header, SchemaExport};
use tagwire_compiler::{FrontEnd, LockMode};

/// A color with gaps.
#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
enum Color {
    Red = 1,
    Green,
    Blue = 7,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Node {
    label: String,
    children: Vec<Node>,
    next: Option<Box<Node>>,
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
enum Shape {
    Empty,
    Circle {
        r: f32,
    },
    #[tagwire(rename = "poly")]
    Polygon {
        points: Vec<Point>,
        origin: Option<Point>,
    },
}

#[derive(tagwire::Codec, Debug, Clone, PartialEq)]
struct Update {
    id: String,
    patch: Vec<u8>,
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "server")]
enum ServerMsg {
    /// Renders a whole component tree.
    RenderUi {
        id: String,
        tree: Vec<u8>,
    },
    #[tagwire(header = "ab")]
    UpdateUi(Update),
    ShowLoading {
        until_ms: Option<u64>,
    },
    #[tagwire(name = "RenderUi", version = 2)]
    RenderUiV2 {
        id: String,
        tree: Vec<u8>,
        theme: Option<String>,
    },
    #[tagwire(header = "ba")]
    Everything {
        b: bool,
        small: u8,
        i: i16,
        f: f64,
        h: f32,
        #[tagwire(rename = "type")]
        kind: Color,
        shapes: Vec<Shape>,
        tree: Node,
        by_name: HashMap<String, Point>,
        by_id: BTreeMap<i64, Option<Vec<u8>>>,
        deep: Vec<Option<Vec<Shape>>>,
        boxed: Box<Point>,
        o_point: Option<Point>,
        o_color: Option<Color>,
        wide: u64,
    },
    Ping,
}

fn compiled_headers(schema: &str) -> Vec<(String, String, u32)> {
    let out = FrontEnd::new()
        .schema_text("derived/server_msg.schema", schema)
        .lock_mode(LockMode::Preview)
        .run();
    assert!(!out.has_errors(), "{}\n{schema}", out.render_text());
    let schema = out.schema.expect("checked");
    let mut headers: Vec<(String, String, u32)> = schema.packages[0]
        .messages
        .iter()
        .map(|m| {
            (
                m.header.expect("assigned").to_string(),
                m.name.clone(),
                m.version,
            )
        })
        .collect();
    headers.sort();
    headers
}

fn derive_headers() -> Vec<(String, String, u32)> {
    let mut headers: Vec<_> = ServerMsg::headers()
        .into_iter()
        .map(|(h, n, v, _)| (h.to_string(), n.to_owned(), v))
        .collect();
    headers.sort();
    headers
}

#[test]
fn exported_schema_compiles_to_the_derive_headers() {
    let schema = ServerMsg::schema();
    assert_eq!(compiled_headers(&schema), derive_headers());
}

#[test]
fn compiler_assigns_what_the_derive_assigns() {
    let schema = ServerMsg::schema_unpinned();
    assert!(!schema.contains("@\"aa\""), "{schema}");
    assert_eq!(compiled_headers(&schema), derive_headers());
    assert_eq!(
        derive_headers(),
        [
            ("aa", "RenderUi", 1),
            ("ab", "UpdateUi", 1),
            ("ac", "ShowLoading", 1),
            ("ad", "RenderUi", 2),
            ("ae", "Ping", 1),
            ("ba", "Everything", 1),
        ]
        .map(|(h, n, v)| (h.to_owned(), n.to_owned(), v))
    );
}

#[test]
fn exported_schema_text() {
    let schema = ServerMsg::schema();
    assert!(schema.contains("package server_msg;"), "{schema}");
    assert!(schema.contains("/// Renders a whole component tree.\nmessage RenderUi v1 from server @\"aa\" { id: string, tree: bytes }"), "{schema}");
    assert!(
        schema.contains("message UpdateUi v1 from server @\"ab\" { id: string, patch: bytes }"),
        "{schema}"
    );
    assert!(
        schema.contains("enum Color { red = 1, green = 2, blue = 7 }"),
        "{schema}"
    );
    assert!(
        schema.contains("  poly { points: [Point], origin: Point? },"),
        "{schema}"
    );
    assert!(
        schema.contains("struct Node { label: string, children: [Node], next: Node? }"),
        "{schema}"
    );
    assert!(
        schema.contains("message Ping v1 from server @\"ae\" {}"),
        "{schema}"
    );
    // A newtype variant's struct is not declared: its fields are the message's.
    assert!(!schema.contains("struct Update "), "{schema}");
    let _ = Header::new(*b"aa");
}

#[test]
fn every_type_round_trips_in_both_encodings() {
    use tagwire::Protocol;
    let leaf = |label: &str| Node {
        label: label.into(),
        children: vec![],
        next: None,
    };
    let message = ServerMsg::Everything {
        b: true,
        small: 200,
        i: -300,
        f: -0.0,
        h: 1.5,
        kind: Color::Blue,
        shapes: vec![
            Shape::Empty,
            Shape::Circle { r: 2.5 },
            Shape::Polygon {
                points: vec![Point { x: 1, y: -1 }],
                origin: None,
            },
        ],
        tree: Node {
            label: "root|~".into(),
            children: vec![leaf("a"), leaf("b")],
            next: Some(Box::new(leaf("~next"))),
        },
        by_name: [
            ("b".to_owned(), Point { x: 2, y: 2 }),
            ("a".to_owned(), Point { x: 1, y: 1 }),
        ]
        .into_iter()
        .collect(),
        by_id: [(-5, None), (10, Some(vec![0xff]))].into_iter().collect(),
        deep: vec![None, Some(vec![Shape::Empty])],
        boxed: Box::new(Point { x: 0, y: 0 }),
        o_point: Some(Point { x: 3, y: 4 }),
        o_color: Some(Color::Green),
        wide: u64::MAX,
    };
    let text = message.to_text();
    assert_eq!(
        ServerMsg::decode_text(&text).expect("text"),
        message,
        "{text}"
    );
    assert_eq!(
        ServerMsg::decode_binary(&message.to_binary()).expect("binary"),
        message
    );
    // The optional struct carries `+`, the optional enum does not (SPEC §3.2).
    assert!(text.ends_with("|+|3|4|2|18446744073709551615"), "{text}");
    for m in [ServerMsg::Ping, ServerMsg::ShowLoading { until_ms: None }] {
        assert_eq!(ServerMsg::decode_text(&m.to_text()).expect("text"), m);
        assert_eq!(ServerMsg::decode_binary(&m.to_binary()).expect("binary"), m);
    }
    assert_eq!(ServerMsg::Ping.to_text(), "ae");
}
