//! A derive-defined protocol equivalent to `schemas/ui.schema` (same field
//! order, types and pins) produces exactly the frames of the generated
//! `tagwire_tests::ui` code, in both encodings, and decodes them back.

use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use tagwire::{Protocol, SchemaExport};
use tagwire_tests::ui;

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

/// A shape on the canvas.
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
    /// Renders a whole component tree.
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
        attrs: HashMap<String, String>,
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
}

#[derive(tagwire::Protocol, Debug, Clone, PartialEq)]
#[tagwire(direction = "client", package = "ui")]
enum ClientMsg {
    #[tagwire(header = "ae")]
    Click {
        target: String,
        at: Point,
        /// `[u8]` in ui.schema, not `bytes`.
        #[tagwire(list)]
        buttons: Vec<u8>,
    },
    #[tagwire(header = "af")]
    Chat {
        text: String,
        level: Level,
        #[tagwire(rename = "shapes")]
        the_shapes: Vec<Shape>,
        reply_to: Option<i64>,
    },
}

fn level_pair() -> impl Strategy<Value = (Level, ui::Level)> {
    prop_oneof![
        Just((Level::Info, ui::Level::Info)),
        Just((Level::Warn, ui::Level::Warn)),
        Just((Level::Error, ui::Level::Error)),
    ]
}

fn point_pair() -> impl Strategy<Value = (Point, ui::Point)> {
    (any::<f64>(), any::<f64>()).prop_map(|(x, y)| (Point { x, y }, ui::Point { x, y }))
}

fn shape_pair() -> impl Strategy<Value = (Shape, ui::Shape)> {
    prop_oneof![
        (point_pair(), any::<f32>()).prop_map(|((c, gc), radius)| {
            (
                Shape::Circle { center: c, radius },
                ui::Shape::Circle { center: gc, radius },
            )
        }),
        prop::collection::vec(point_pair(), 0..4).prop_map(|ps| {
            let (a, b): (Vec<_>, Vec<_>) = ps.into_iter().unzip();
            (
                Shape::Polygon { points: a },
                ui::Shape::Polygon { points: b },
            )
        }),
        Just((Shape::Empty, ui::Shape::Empty)),
    ]
}

type ChatParts = (
    String,
    (Level, ui::Level),
    Vec<(Shape, ui::Shape)>,
    Option<i64>,
);

fn chat_parts() -> impl Strategy<Value = ChatParts> {
    (
        any::<String>(),
        level_pair(),
        prop::collection::vec(shape_pair(), 0..4),
        any::<Option<i64>>(),
    )
}

fn server_pair() -> impl Strategy<Value = (ServerMsg, ui::ServerMessage)> {
    prop_oneof![
        (any::<String>(), any::<Vec<u8>>()).prop_map(|(id, tree)| (
            ServerMsg::RenderUi {
                id: id.clone(),
                tree: tree.clone()
            },
            ui::ServerMessage::RenderUiV1(ui::RenderUiV1 { id, tree }),
        )),
        (any::<String>(), any::<Vec<u8>>()).prop_map(|(id, patch)| (
            ServerMsg::UpdateUi(UpdateUi {
                id: id.clone(),
                patch: patch.clone()
            }),
            ui::ServerMessage::UpdateUiV1(ui::UpdateUiV1 { id, patch }),
        )),
        (
            any::<String>(),
            any::<Vec<u8>>(),
            any::<Option<String>>(),
            any::<BTreeMap<String, String>>()
        )
            .prop_map(|(id, tree, theme, attrs)| (
                ServerMsg::RenderUiV2 {
                    id: id.clone(),
                    tree: tree.clone(),
                    theme: theme.clone(),
                    attrs: attrs.clone().into_iter().collect(),
                },
                ui::ServerMessage::RenderUiV2(ui::RenderUiV2 {
                    id,
                    tree,
                    theme,
                    attrs
                }),
            )),
        any::<Option<u64>>().prop_map(|until_ms| (
            ServerMsg::ShowLoading { until_ms },
            ui::ServerMessage::ShowLoadingV1(ui::ShowLoadingV1 { until_ms }),
        )),
        chat_parts().prop_map(|(text, (level, glevel), shapes, reply_to)| {
            let (shapes, gshapes): (Vec<_>, Vec<_>) = shapes.into_iter().unzip();
            (
                ServerMsg::Chat {
                    text: text.clone(),
                    level,
                    shapes,
                    reply_to,
                },
                ui::ServerMessage::ChatV1(ui::ChatV1 {
                    text,
                    level: glevel,
                    shapes: gshapes,
                    reply_to,
                }),
            )
        }),
    ]
}

fn client_pair() -> impl Strategy<Value = (ClientMsg, ui::ClientMessage)> {
    prop_oneof![
        (any::<String>(), point_pair(), any::<Vec<u8>>()).prop_map(
            |(target, (at, gat), buttons)| (
                ClientMsg::Click {
                    target: target.clone(),
                    at,
                    buttons: buttons.clone()
                },
                ui::ClientMessage::ClickV1(ui::ClickV1 {
                    target,
                    at: gat,
                    buttons
                }),
            )
        ),
        chat_parts().prop_map(|(text, (level, glevel), shapes, reply_to)| {
            let (shapes, gshapes): (Vec<_>, Vec<_>) = shapes.into_iter().unzip();
            (
                ClientMsg::Chat {
                    text: text.clone(),
                    level,
                    the_shapes: shapes,
                    reply_to,
                },
                ui::ClientMessage::ChatV1(ui::ChatV1 {
                    text,
                    level: glevel,
                    shapes: gshapes,
                    reply_to,
                }),
            )
        }),
    ]
}

/// NaN != NaN, so compare re-encodings rather than values.
fn same_frames<P: Protocol>(a: &P, b: &P) -> bool {
    a.to_text() == b.to_text() && a.to_binary() == b.to_binary()
}

proptest! {
    #[test]
    fn server_frames_match_generated_code((derived, generated) in server_pair()) {
        prop_assert_eq!(derived.header(), generated.header());
        prop_assert_eq!(derived.to_text(), generated.to_text());
        prop_assert_eq!(derived.to_binary(), generated.to_binary());
        // Each side decodes the other's frames.
        let from_text = ServerMsg::decode_text(&generated.to_text()).expect("derive decodes generated text");
        let from_binary = ServerMsg::decode_binary(&generated.to_binary()).expect("derive decodes generated binary");
        prop_assert!(same_frames(&from_text, &derived));
        prop_assert!(same_frames(&from_binary, &derived));
        let back = ui::ServerMessage::decode_binary(&derived.to_binary()).expect("generated decodes derive binary");
        prop_assert!(same_frames(&back, &generated));
    }

    #[test]
    fn client_frames_match_generated_code((derived, generated) in client_pair()) {
        prop_assert_eq!(derived.to_text(), generated.to_text());
        prop_assert_eq!(derived.to_binary(), generated.to_binary());
        let from_text = ClientMsg::decode_text(&generated.to_text()).expect("derive decodes generated text");
        prop_assert!(same_frames(&from_text, &derived));
        let from_binary = ClientMsg::decode_binary(&generated.to_binary()).expect("derive decodes generated binary");
        prop_assert!(same_frames(&from_binary, &derived));
    }
}

#[test]
fn headers_follow_the_schema() {
    let headers: Vec<(String, &str, u32, &str)> = ServerMsg::headers()
        .into_iter()
        .map(|(h, n, v, d)| (h.as_str().to_owned(), n, v, d))
        .collect();
    assert_eq!(
        headers,
        [
            ("aa".to_owned(), "RenderUi", 1, "server"),
            ("ab".to_owned(), "UpdateUi", 1, "server"),
            ("ac".to_owned(), "RenderUi", 2, "server"),
            ("ad".to_owned(), "ShowLoading", 1, "server"),
            ("af".to_owned(), "Chat", 1, "server"),
        ]
    );
    for (header, name, version, _) in ui::HEADERS {
        if let Some(m) = ServerMsg::MESSAGES
            .iter()
            .chain(ClientMsg::MESSAGES)
            .find(|m| m.name == *name && m.version == *version)
        {
            assert_eq!(m.header, *header, "{name} v{version}");
        }
    }
}

#[test]
fn known_frames() {
    let m = ServerMsg::UpdateUi(UpdateUi {
        id: "main".into(),
        patch: b"<b>".to_vec(),
    });
    assert_eq!(m.to_text(), "ab|main|PGI-");
    let mut attrs = HashMap::new();
    attrs.insert("z".to_owned(), "1".to_owned());
    attrs.insert("a".to_owned(), "2".to_owned());
    let m = ServerMsg::RenderUiV2 {
        id: "x".into(),
        tree: vec![],
        theme: None,
        attrs,
    };
    assert_eq!(m.to_text(), "ac|x||~|2|a|2|z|1");
    assert_eq!(ServerMsg::decode_text(&m.to_text()).expect("decodes"), m);
    let unknown = ServerMsg::decode_text("ae|x|1|2|0").expect_err("Click is a client message");
    assert_eq!(unknown.kind, tagwire::DecodeErrorKind::UnknownHeader);
}
