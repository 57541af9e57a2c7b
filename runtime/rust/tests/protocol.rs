//! A hand-written protocol (tests/common) exercised end to end through the
//! public `Protocol` trait, checked against SPEC.md's examples.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use tagwire::{DecodeErrorKind as K, Limits, Position, Protocol};

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn render_ui_is_the_articles_join() {
    let id = "main";
    let tree = "<div>hello</div>";
    let msg = Msg::RenderUi(RenderUi {
        id: id.into(),
        tree: tree.into(),
    });
    let text = msg.to_text();
    assert_eq!(text, ["aa", id, tree].join("|"));
    assert_eq!(text, "aa|main|<div>hello</div>");
    // And a plain `split('|')` reads it back (docs/SPEC.md §3.8).
    let parts: Vec<&str> = text.split('|').collect();
    assert_eq!(parts, ["aa", id, tree]);
    assert_eq!(Msg::decode_text(&text).unwrap(), msg);
}

#[test]
fn render_ui_binary_matches_spec() {
    let msg = Msg::RenderUi(RenderUi {
        id: "main".into(),
        tree: "<div>".into(),
    });
    let bin = msg.to_binary();
    assert_eq!(hex(&bin), "61 61 04 6D 61 69 6E 05 3C 64 69 76 3E");
    assert_eq!(Msg::decode_binary(&bin).unwrap(), msg);
}

fn demo() -> Msg {
    Msg::Demo(Demo {
        flag: true,
        pos: Point { x: 1, y: -1 },
        tags: vec!["x|y".into(), String::new()],
        note: None,
    })
}

#[test]
fn demo_frames_match_spec() {
    let msg = demo();
    assert_eq!(msg.to_text(), r"ab|1|1|-1|2|x\py||~");
    assert_eq!(hex(&msg.to_binary()), "61 62 01 02 01 02 03 78 7C 79 00 00");
    assert_eq!(Msg::decode_text(&msg.to_text()).unwrap(), msg);
    assert_eq!(Msg::decode_binary(&msg.to_binary()).unwrap(), msg);
}

#[test]
fn everything_round_trips_both_encodings() {
    let msg = Msg::Everything(Box::new(sample()));
    let text = msg.to_text();
    assert!(!text.contains(['\r', '\n']), "{text}");
    let back = Msg::decode_text(&text).unwrap();
    // -0.0 == 0.0, so compare bits of the float fields too.
    let (Msg::Everything(a), Msg::Everything(b)) = (&msg, &back) else {
        panic!()
    };
    assert_eq!(a.f64.to_bits(), b.f64.to_bits());
    assert_eq!(back, msg);
    let bin = msg.to_binary();
    assert_eq!(Msg::decode_binary(&bin).unwrap(), msg);
    // Re-encoding a decoded frame is byte-identical (canonical form).
    assert_eq!(back.to_text(), text);
    assert_eq!(Msg::decode_binary(&bin).unwrap().to_binary(), bin);
}

#[test]
fn everything_text_is_as_specified() {
    let text = Msg::Everything(Box::new(sample())).to_text();
    let expected = [
        "ac",
        "1",
        "255",
        "300",
        "4294967295",
        "18446744073709551615",
        "-128",
        "-1",
        "-150",
        "-9223372036854775808",
        "0.10000000149011612",
        "-0",
        r"\~a\pb\\c\r\n🎉",
        "3q2-7w",
        "2|1|300",
        "3|a|1|b|2|é|3",
        "2|-5|0|10|1",
        "~",
        r"\~",
        "",
        "+|1|-1",
        "+",
        "7",
        "2|3|4",
        "2",
        "2|~|+|0|0",
        "root|1||0",
    ]
    .join("|");
    assert_eq!(text, expected);
}

#[test]
fn encoding_appends_to_existing_buffer() {
    let mut s = String::from("prefix:");
    demo().encode_text(&mut s);
    assert_eq!(s, r"prefix:ab|1|1|-1|2|x\py||~");
    let mut b = vec![0xAA];
    demo().encode_binary(&mut b);
    assert_eq!(b[0], 0xAA);
    assert_eq!(&b[1..], demo().to_binary());
}

fn text_err(frame: &str) -> (K, Position) {
    let e = Msg::decode_text(frame).unwrap_err();
    (e.kind, e.position)
}

fn bin_err(frame: &[u8]) -> (K, Position) {
    let e = Msg::decode_binary(frame).unwrap_err();
    (e.kind, e.position)
}

fn tok(index: usize, byte: usize) -> Position {
    Position::Token { index, byte }
}

#[test]
fn text_frame_level_errors_and_positions() {
    assert_eq!(text_err(""), (K::Truncated, tok(0, 0)));
    assert_eq!(text_err("a"), (K::Truncated, tok(0, 0)));
    assert_eq!(text_err("zz|a|b"), (K::UnknownHeader, tok(0, 0)));
    assert_eq!(text_err("a||a|b"), (K::UnknownHeader, tok(0, 0)));
    assert_eq!(text_err("__"), (K::UnknownHeader, tok(0, 0)));
    // Unknown header is reported before a missing separator.
    assert_eq!(text_err("zzX"), (K::UnknownHeader, tok(0, 0)));
    assert_eq!(text_err("aaX|a|b"), (K::MissingSeparator, tok(1, 2)));
    assert_eq!(text_err("aa|main"), (K::Truncated, tok(2, 7)));
    assert_eq!(text_err("aa"), (K::Truncated, tok(1, 2)));
    assert_eq!(text_err("aa|a|b|c"), (K::TrailingData, tok(3, 7)));
    assert_eq!(text_err("aa|a|b|"), (K::TrailingData, tok(3, 7)));
    // Demo: flag, x, y, count, tags…, note
    assert_eq!(text_err("ab|2|1|-1|0|~"), (K::InvalidBool, tok(1, 3)));
    assert_eq!(text_err("ab|1|01|-1|0|~"), (K::InvalidToken, tok(2, 5)));
    assert_eq!(text_err("ab|1|1|-0|0|~"), (K::InvalidToken, tok(3, 7)));
    assert_eq!(
        text_err("ab|1|1|2147483648|0|~"),
        (K::OutOfRange, tok(3, 7))
    );
    assert_eq!(text_err("ab|1|1|1|-1|~"), (K::InvalidToken, tok(4, 9)));
    assert_eq!(
        text_err("ab|1|1|1|100001"),
        (K::CollectionTooLong, tok(4, 9))
    );
    assert_eq!(
        text_err("ab|1|1|1|99999999999999999999999999999999999999999"),
        (K::CollectionTooLong, tok(4, 9))
    );
    assert_eq!(
        text_err("ab|1|1|1|1|a\\xb|~"),
        (K::InvalidEscape, tok(5, 11))
    );
    assert_eq!(text_err("ab|1|1|1|1|~x|~"), (K::InvalidToken, tok(5, 11)));
    assert_eq!(text_err("ab|1|1|1|1|x"), (K::Truncated, tok(6, 12)));
    // A count that claims far more than the frame holds: truncated, not OOM.
    assert_eq!(text_err("ab|1|1|1|100000|x"), (K::Truncated, tok(6, 17)));
}

#[test]
fn binary_frame_level_errors_and_positions() {
    let b = Position::Byte;
    assert_eq!(bin_err(b""), (K::Truncated, b(0)));
    assert_eq!(bin_err(b"a"), (K::Truncated, b(0)));
    assert_eq!(bin_err(b"zz\x00\x00"), (K::UnknownHeader, b(0)));
    assert_eq!(bin_err(&[0xFF, 0xFF]), (K::UnknownHeader, b(0)));
    assert_eq!(bin_err(b"aa\x00"), (K::Truncated, b(3)));
    assert_eq!(bin_err(b"aa\x00\x00\x00"), (K::TrailingData, b(4)));
    assert_eq!(bin_err(b"aa\x05abc\x00"), (K::Truncated, b(2)));
    assert_eq!(bin_err(b"aa\x02\xC3\x28\x00"), (K::InvalidUtf8, b(2)));
    assert_eq!(bin_err(b"aa\x81\x00\x00"), (K::InvalidVarint, b(2)));
    // Demo: flag, x, y, tags, note
    assert_eq!(bin_err(b"ab\x02\x02\x01\x00\x00"), (K::InvalidBool, b(2)));
    assert_eq!(bin_err(b"ab\x01\x02\x01\x00\x02"), (K::InvalidBool, b(6)));
    assert_eq!(bin_err(b"ab\x01\x02\x01\x02\x00"), (K::Truncated, b(7)));
    // Count 2^60 in a 10-byte varint: not a u32 varint, rejected at once.
    let mut f = b"ab\x01\x02\x01".to_vec();
    f.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10]);
    assert_eq!(bin_err(&f), (K::InvalidVarint, b(5)));
    // u32::MAX count: over max_collection_len.
    let f = b"ab\x01\x02\x01\xFF\xFF\xFF\xFF\x0F";
    assert_eq!(bin_err(f), (K::CollectionTooLong, b(5)));
    // 100,000 claimed, 3 bytes present: truncated after reading what is there.
    let f = b"ab\x01\x02\x01\xA0\x8D\x06\x00\x00\x00";
    assert_eq!(bin_err(f), (K::Truncated, b(11)));
}

fn everything_text_with(field: usize, token: &str) -> String {
    let text = Msg::Everything(Box::new(sample())).to_text();
    let mut parts: Vec<&str> = text.split('|').collect();
    parts[field] = token;
    parts.join("|")
}

#[test]
fn text_value_errors_in_context() {
    // Token indexes into sample()'s frame (see everything_text_is_as_specified).
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
        (18, "~", K::InvalidToken), // smap's first key: a raw `~` is no string
        (32, "x", K::InvalidToken), // opt_p's marker must be ~ or +
        (36, "8", K::UnknownEnumValue),
        (36, "4294967296", K::OutOfRange),
        (37, "3", K::UnknownVariant),
        (29, "-1", K::OutOfRange),
        (31, "A", K::InvalidBase64),
    ];
    for &(field, token, kind) in cases {
        let frame = everything_text_with(field, token);
        let e = Msg::decode_text(&frame).unwrap_err();
        assert_eq!(e.kind, kind, "field {field} = {token:?}: {frame}");
        let Position::Token { index, .. } = e.position else {
            panic!()
        };
        assert_eq!(index, field, "{frame}");
    }
}

#[test]
fn map_order_is_enforced_in_both_encodings() {
    // smap in sample() is 3|a|1|b|2|é|3 at tokens 17..=23.
    let text = Msg::Everything(Box::new(sample())).to_text();
    let swapped = text.replacen("3|a|1|b|2|é|3", "3|b|2|a|1|é|3", 1);
    let e = Msg::decode_text(&swapped).unwrap_err();
    assert_eq!(
        (e.kind, e.position),
        (
            K::UnsortedMapKeys,
            tok(20, swapped.find("|a|1|é").unwrap() + 1)
        )
    );
    let dup = text.replacen("3|a|1|b|2|é|3", "3|a|1|a|2|é|3", 1);
    assert_eq!(Msg::decode_text(&dup).unwrap_err().kind, K::DuplicateMapKey);
    let imap = text.replacen("2|-5|0|10|1", "2|10|1|-5|0", 1);
    assert_eq!(
        Msg::decode_text(&imap).unwrap_err().kind,
        K::UnsortedMapKeys
    );

    let bin = Msg::Everything(Box::new(sample())).to_binary();
    let needle = [0x03, 0x01, b'a', 0x01, 0x01, b'b', 0x02];
    let at = bin.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut swapped = bin.clone();
    swapped[at + 1..at + 7].copy_from_slice(&[0x01, b'b', 0x02, 0x01, b'a', 0x01]);
    let e = Msg::decode_binary(&swapped).unwrap_err();
    assert_eq!(
        (e.kind, e.position),
        (K::UnsortedMapKeys, Position::Byte(at + 4))
    );
    let mut dup = bin.clone();
    dup[at + 5] = b'a';
    assert_eq!(
        Msg::decode_binary(&dup).unwrap_err().kind,
        K::DuplicateMapKey
    );
}

fn deep_tree(depth: usize) -> Tree {
    let mut t = Tree {
        label: "leaf".into(),
        children: vec![],
    };
    for _ in 0..depth {
        t = Tree {
            label: "n".into(),
            children: vec![t],
        };
    }
    t
}

#[test]
fn depth_limit_counts_lists_and_structs() {
    let mut e = sample();
    e.tree = deep_tree(100);
    let msg = Msg::Everything(Box::new(e));
    assert_eq!(
        Msg::decode_text(&msg.to_text()).unwrap_err().kind,
        K::TooDeep
    );
    assert_eq!(
        Msg::decode_binary(&msg.to_binary()).unwrap_err().kind,
        K::TooDeep
    );
    let generous = Limits {
        max_depth: 1000,
        ..Limits::default()
    };
    assert_eq!(
        Msg::decode_text_with(&msg.to_text(), &generous).unwrap(),
        msg
    );
    assert_eq!(
        Msg::decode_binary_with(&msg.to_binary(), &generous).unwrap(),
        msg
    );
}

#[test]
fn hostile_depth_does_not_overflow_the_stack() {
    // 100k nested one-element lists of trees in a frame; rejected at depth 64.
    let mut text = String::from("ac");
    let prefix = Msg::Everything(Box::new(sample())).to_text();
    let cut = prefix.rfind("|root|").unwrap();
    text.clear();
    text.push_str(&prefix[..cut]);
    for _ in 0..100_000 {
        text.push_str("|n|1");
    }
    let e = Msg::decode_text(&text).unwrap_err();
    assert_eq!(e.kind, K::TooDeep);
}

#[test]
fn other_limits() {
    let msg = Msg::RenderUi(RenderUi {
        id: "x".repeat(10),
        tree: String::new(),
    });
    let tight = Limits {
        max_string_bytes: 9,
        ..Limits::default()
    };
    let e = Msg::decode_text_with(&msg.to_text(), &tight).unwrap_err();
    assert_eq!((e.kind, e.position), (K::StringTooLong, tok(1, 3)));
    let e = Msg::decode_binary_with(&msg.to_binary(), &tight).unwrap_err();
    assert_eq!((e.kind, e.position), (K::StringTooLong, Position::Byte(2)));
    let small = Limits {
        max_frame_bytes: 5,
        ..Limits::default()
    };
    assert_eq!(
        Msg::decode_text_with("aa|abc|", &small).unwrap_err().kind,
        K::FrameTooLarge
    );
    assert_eq!(
        Msg::decode_binary_with(b"aa\x01a\x00\x00", &small)
            .unwrap_err()
            .kind,
        K::FrameTooLarge
    );
    let few = Limits {
        max_collection_len: 1,
        ..Limits::default()
    };
    assert_eq!(
        Msg::decode_text_with(&demo().to_text(), &few)
            .unwrap_err()
            .kind,
        K::CollectionTooLong
    );
    assert_eq!(
        Msg::decode_binary_with(&demo().to_binary(), &few)
            .unwrap_err()
            .kind,
        K::CollectionTooLong
    );
}

#[test]
fn error_display() {
    let frame = everything_text_with(36, "8");
    let e = Msg::decode_text(&frame).unwrap_err();
    assert_eq!(e.value(), Some(8));
    assert!(
        e.to_string()
            .starts_with("unknown enum value 8 at token 36 (byte "),
        "{e}"
    );
    let e = Msg::decode_binary(b"aa\x81\x00").unwrap_err();
    assert_eq!(e.to_string(), "invalid varint at byte 2");
    let _: &dyn std::error::Error = &e;
}
