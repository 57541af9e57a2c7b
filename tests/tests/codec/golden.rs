//! Golden frames: a few messages of every schema in both encodings,
//! snapshotted with insta, plus the `join("|")` compatibility of all-string
//! messages (docs/SPEC.md §3.8).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use tagwire::Protocol;
use tagwire_tests::{
    GENERATED_PACKAGES, INCLUDED_PACKAGES, article, chat, everything as ev, geometry, ui,
};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Encodes each message both ways, checks both decode back to it, and lists
/// the frames for a snapshot.
fn frames<P: Protocol + PartialEq + std::fmt::Debug>(messages: &[P]) -> String {
    let mut out = String::new();
    for m in messages {
        let text = m.to_text();
        let binary = m.to_binary();
        assert_eq!(&P::decode_text(&text).unwrap(), m, "{text}");
        assert_eq!(&P::decode_binary(&binary).unwrap(), m, "{binary:?}");
        let _ = writeln!(
            out,
            "{}\n  text:   {text}\n  binary: {}",
            m.header(),
            hex(&binary)
        );
    }
    out
}

#[test]
fn every_generated_package_is_included() {
    let generated: Vec<&str> = GENERATED_PACKAGES.lines().collect();
    assert_eq!(
        generated, INCLUDED_PACKAGES,
        "add a `pub mod` for new schemas in tests/src/lib.rs"
    );
}

#[test]
fn article_messages_are_the_articles_join() {
    let id = "main";
    let tree = "<div>hello</div>";
    let render = article::ServerMessage::from(article::RenderUiV1 {
        component_id: id.into(),
        tree: tree.into(),
    });
    assert_eq!(render.to_text(), ["aa", id, tree].join("|"));
    let update = article::ServerMessage::from(article::UpdateUiV1 {
        component_id: id.into(),
        patch: "<b>".into(),
    });
    assert_eq!(update.to_text(), ["ab", id, "<b>"].join("|"));
    let loading = article::ServerMessage::from(article::ShowLoadingV1 {
        component_id: id.into(),
    });
    assert_eq!(loading.to_text(), ["ac", id].join("|"));
    let render2 = article::ServerMessage::from(article::RenderUiV2 {
        component_id: id.into(),
        tree: tree.into(),
        theme: "dark".into(),
    });
    assert_eq!(render2.to_text(), ["ad", id, tree, "dark"].join("|"));
    // A client that splits on '|' reads it back (docs/SPEC.md §3.8).
    assert_eq!(
        render2.to_text().split('|').collect::<Vec<_>>(),
        ["ad", id, tree, "dark"]
    );
    assert_eq!(article::RENDER_UI_V1.as_str(), "aa");
    assert_eq!(article::RENDER_UI_V2.as_str(), "ad");
    insta::assert_snapshot!("article", frames(&[render, update, loading, render2]));
}

#[test]
fn article_binary_render_ui_matches_spec() {
    let m = article::ServerMessage::from(article::RenderUiV1 {
        component_id: "main".into(),
        tree: "<div>".into(),
    });
    assert_eq!(
        hex(&m.to_binary()),
        "61 61 04 6D 61 69 6E 05 3C 64 69 76 3E"
    );
}

#[test]
fn article_has_no_client_messages() {
    // An empty direction is an uninhabited enum that rejects every frame.
    let e = article::ClientMessage::decode_text("aa|main|x").unwrap_err();
    assert_eq!(e.kind, tagwire::DecodeErrorKind::UnknownHeader);
    let e = article::ClientMessage::decode_binary(b"a").unwrap_err();
    assert_eq!(e.kind, tagwire::DecodeErrorKind::Truncated);
    // A server frame is not something a server decodes.
    let e = article::ServerMessage::decode_text("zz").unwrap_err();
    assert_eq!(e.kind, tagwire::DecodeErrorKind::UnknownHeader);
}

#[test]
fn ui_frames() {
    let server = [
        ui::ServerMessage::from(ui::RenderUiV1 {
            id: "main".into(),
            tree: vec![0xDE, 0xAD, 0xBE, 0xEF],
        }),
        ui::ServerMessage::from(ui::RenderUiV2 {
            id: "a|b".into(),
            tree: vec![],
            theme: Some(String::new()),
            attrs: BTreeMap::from([("z".into(), "1".into()), ("class".into(), "~x".into())]),
        }),
        ui::ServerMessage::from(ui::UpdateUiV1 {
            id: "main".into(),
            patch: vec![0xFF],
        }),
        ui::ServerMessage::from(ui::ShowLoadingV1 { until_ms: None }),
        ui::ServerMessage::from(ui::ShowLoadingV1 {
            until_ms: Some(u64::MAX),
        }),
        ui::ServerMessage::from(ui::ChatV1 {
            text: "hi 🎉\nbye".into(),
            level: ui::Level::Warn,
            shapes: vec![
                ui::Shape::Circle {
                    center: ui::Point { x: 1.5, y: -0.0 },
                    radius: 0.1,
                },
                ui::Shape::Polygon {
                    points: vec![ui::Point { x: 0.0, y: 1e21 }],
                },
                ui::Shape::Empty,
            ],
            reply_to: Some(-150),
        }),
    ];
    let client = [
        ui::ClientMessage::from(ui::ClickV1 {
            target: "ok".into(),
            at: ui::Point { x: 3.0, y: 4.0 },
            buttons: vec![1, 2],
        }),
        ui::ClientMessage::from(ui::ChatV1 {
            text: String::new(),
            level: ui::Level::Info,
            shapes: vec![],
            reply_to: None,
        }),
    ];
    assert_eq!(ui::Level::Warn.value(), 5);
    assert_eq!(ui::Level::from_value(6), Some(ui::Level::Error));
    assert_eq!(ui::Level::from_value(1), None);
    insta::assert_snapshot!("ui", format!("{}{}", frames(&server), frames(&client)));
}

#[test]
fn chat_frames_use_imported_types() {
    let author = chat::Author {
        name: "ada".into(),
        avatar: None,
        presence: chat::Presence::Away,
    };
    let server = [
        chat::ServerMessage::from(chat::PostV1 {
            room: "general".into(),
            author: author.clone(),
            body: chat::Body::Text {
                content: "hello".into(),
            },
            sent_ms: 1_700_000_000_000,
        }),
        chat::ServerMessage::from(chat::PostV2 {
            room: "general".into(),
            author: chat::Author {
                avatar: Some(vec![1, 2, 3]),
                ..author
            },
            body: chat::Body::Sticker {
                id: 7,
                at: geometry::Point { x: 0.5, y: 2.0 },
            },
            sent_ms: 1,
            reply_to: Some(0),
        }),
        chat::ServerMessage::from(chat::HistoryV1 {
            room: "r".into(),
            before_ms: None,
            ids: vec![vec![1, 2], vec![]],
        }),
    ];
    let client = [
        chat::ClientMessage::from(chat::SayV1 {
            room: "r".into(),
            body: chat::Body::Deleted,
        }),
        chat::ClientMessage::from(chat::ResizeV1 {
            area: geometry::Rect {
                origin: geometry::Point { x: -1.0, y: 1.0 },
                size: geometry::Size {
                    width: 640,
                    height: 480,
                },
            },
            scale: BTreeMap::from([("x".into(), 2.0), ("y".into(), f32::INFINITY)]),
        }),
    ];
    insta::assert_snapshot!("chat", format!("{}{}", frames(&server), frames(&client)));
}

#[test]
fn everything_frames() {
    let scalars = ev::ServerMessage::from(ev::ScalarsV1 {
        b: true,
        u_8: 255,
        u_16: 300,
        u_32: u32::MAX,
        u_64: u64::MAX,
        i_8: i8::MIN,
        i_16: -1,
        i_32: -150,
        i_64: i64::MIN,
        f_32: 0.1,
        f_64: -0.0,
        s: "~a|b\\c\r\n🎉".into(),
        raw: vec![0xDE, 0xAD, 0xBE, 0xEF],
    });
    let nothing = ev::ServerMessage::from(ev::NothingV1 {});
    assert_eq!(nothing.to_text(), "ae");
    let composites = ev::ServerMessage::from(ev::CompositesV1 {
        color: ev::Color::Max,
        shape: ev::Shape::Group {
            shapes: vec![ev::Shape::Rect { w: 3, h: 4 }],
            origin: Some(ev::Point { x: 1, y: -1 }),
        },
        point: ev::Point { x: 0, y: 0 },
        empty: ev::Empty {},
        empties: vec![ev::Empty {}, ev::Empty {}],
        points: vec![None, Some(ev::Point { x: 5, y: 6 })],
        tree: ev::Tree {
            label: "root".into(),
            children: vec![ev::Tree {
                label: "leaf".into(),
                children: vec![],
            }],
        },
        chain: ev::Chain {
            value: 1,
            next: Some(Box::new(ev::Chain {
                value: 2,
                next: None,
            })),
        },
        expr: ev::Expr::Add {
            left: Box::new(ev::Expr::Lit { value: 1 }),
            right: Box::new(ev::Expr::Neg {
                inner: Box::new(ev::Expr::Maybe { inner: None }),
            }),
        },
        awkward: ev::Awkward {
            r#type: "t".into(),
            r#match: 1,
            camelCase: true,
            r: 2,
            w: 3,
        },
    });
    let optionals = ev::ServerMessage::from(ev::OptionalsV1 {
        o_bool: Some(false),
        o_u64: None,
        o_i64: Some(-1),
        o_f32: Some(f32::NAN),
        o_f64: None,
        o_string: Some("~".into()),
        o_bytes: Some(vec![]),
        o_point: Some(ev::Point { x: 1, y: -1 }),
        o_empty: Some(ev::Empty {}),
        o_color: Some(ev::Color::Blue),
        o_shape: None,
        o_list: Some(vec![]),
        o_map: None,
        list_of_opt: vec![Some("a".into()), None],
        deep: vec![None, Some(vec![Some(ev::Shape::Empty), None])],
        o_chain: None,
    });
    // NaN != NaN, so snapshot the frames without the round-trip assertion.
    let mut out = frames(&[scalars, nothing, composites]);
    let _ = writeln!(
        out,
        "{}\n  text:   {}\n  binary: {}",
        optionals.header(),
        optionals.to_text(),
        hex(&optionals.to_binary())
    );
    let collections = ev::ClientMessage::from(ev::CollectionsV1 {
        list: vec![1, 300],
        strings: vec!["x|y".into(), String::new()],
        nested: vec![vec![-1, 1], vec![]],
        blobs: vec![vec![0xFB, 0xFF]],
        smap: BTreeMap::from([("b".into(), 2), ("a".into(), 1), ("é".into(), 3)]),
        imap: BTreeMap::from([(10, true), (-5, false)]),
        umap: BTreeMap::from([(u64::MAX, "max".into()), (0, String::new())]),
        bmap: BTreeMap::from([(-128, vec![0]), (127, vec![])]),
        points: BTreeMap::from([("o".into(), ev::Point { x: 0, y: 0 })]),
        shapes: BTreeMap::from([(2, ev::Shape::Circle { r: 1.5 }), (1, ev::Shape::Empty)]),
        trees: vec![],
    });
    let cursor = ev::ClientMessage::from(ev::CursorMoveV1 {
        user: 42,
        x: 100.5,
        y: 200.25,
        buttons: 1,
    });
    out.push_str(&frames(&[collections, cursor]));
    insta::assert_snapshot!("everything", out);
}

#[test]
fn header_tables_and_fingerprints() {
    let rows: Vec<String> = ui::HEADERS
        .iter()
        .map(|(h, name, version, direction)| format!("{h} {name} v{version} {direction}"))
        .collect();
    assert_eq!(
        rows,
        [
            "aa RenderUi v1 server",
            "ab UpdateUi v1 server",
            "ac RenderUi v2 server",
            "ad ShowLoading v1 server",
            "ae Click v1 client",
            "af Chat v1 both"
        ]
    );
    assert_eq!(ui::RenderUiV2::HEADER, ui::RENDER_UI_V2);
    assert_eq!(ui::PROTOCOL_FINGERPRINT.len(), 16);
    assert_ne!(ui::PROTOCOL_FINGERPRINT, article::PROTOCOL_FINGERPRINT);
    assert!(geometry::HEADERS.is_empty());
}

#[test]
fn serde_derives_are_generated() {
    let m = ui::ChatV1 {
        text: "x".into(),
        level: ui::Level::Error,
        shapes: vec![ui::Shape::Empty],
        reply_to: None,
    };
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<ui::ChatV1>(&json).unwrap(), m);
    // The type_attribute from build.rs.
    assert!(ev::Color::Red < ev::Color::Max);
}
