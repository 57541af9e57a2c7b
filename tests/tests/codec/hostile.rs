//! Hostile frames into every generated decoder: arbitrary bytes and strings,
//! token soup behind real headers, every truncation of valid frames, and
//! counts and lengths claiming gigabytes. Always an error, never a panic.
#![allow(clippy::unwrap_used)]

use crate::common;

use proptest::prelude::*;
use tagwire::{DecodeErrorKind as K, Limits, Protocol};
use tagwire_tests::{article, chat, everything as ev, geometry, ui};

/// Limits far above the defaults. The collection limit stays finite: a list
/// of empty structs costs no bytes per element, so only that limit bounds
/// the time spent on one (SPEC §6.3).
fn loose() -> Limits {
    Limits {
        max_collection_len: 1_000_000,
        max_string_bytes: usize::MAX,
        ..Limits::default()
    }
}

/// Every decoder entry point of every generated protocol, under default and
/// under very loose limits (so only the frame itself bounds the work).
fn decode_text_everywhere(frame: &str) {
    let loose = loose();
    for limits in [Limits::default(), loose] {
        let _ = ev::ServerMessage::decode_text_with(frame, &limits);
        let _ = ev::ClientMessage::decode_text_with(frame, &limits);
        let _ = ui::ServerMessage::decode_text_with(frame, &limits);
        let _ = ui::ClientMessage::decode_text_with(frame, &limits);
        let _ = chat::ServerMessage::decode_text_with(frame, &limits);
        let _ = chat::ClientMessage::decode_text_with(frame, &limits);
        let _ = article::ServerMessage::decode_text_with(frame, &limits);
        let _ = article::ClientMessage::decode_text_with(frame, &limits);
        let _ = geometry::ServerMessage::decode_text_with(frame, &limits);
    }
}

fn decode_binary_everywhere(frame: &[u8]) {
    let loose = loose();
    for limits in [Limits::default(), loose] {
        let _ = ev::ServerMessage::decode_binary_with(frame, &limits);
        let _ = ev::ClientMessage::decode_binary_with(frame, &limits);
        let _ = ui::ServerMessage::decode_binary_with(frame, &limits);
        let _ = ui::ClientMessage::decode_binary_with(frame, &limits);
        let _ = chat::ServerMessage::decode_binary_with(frame, &limits);
        let _ = chat::ClientMessage::decode_binary_with(frame, &limits);
        let _ = article::ServerMessage::decode_binary_with(frame, &limits);
        let _ = article::ClientMessage::decode_binary_with(frame, &limits);
        let _ = geometry::ClientMessage::decode_binary_with(frame, &limits);
    }
}

/// Tokens that mean something to some type somewhere.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "2",
            "3",
            "-1",
            "~",
            "+",
            "",
            "NaN",
            "-0",
            "Infinity",
            "4294967295",
            "4294967296",
            "18446744073709551615",
            "99999999999999999999999",
            "1e400",
            "\\",
            "\\~",
            "_w",
            "A",
            "é",
            "🎉",
        ])
        .prop_map(str::to_string),
        "[0-9]{1,3}",
        "[a-z~+\\\\]{0,3}",
    ]
}

fn header() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["aa", "ab", "ac", "ad", "ae", "af", "s1", "zz", "__"])
        .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings(frame in any::<String>()) {
        decode_text_everywhere(&frame);
    }

    #[test]
    fn arbitrary_bytes(frame in proptest::collection::vec(any::<u8>(), 0..64)) {
        decode_binary_everywhere(&frame);
    }

    #[test]
    fn arbitrary_bytes_behind_real_headers(h in header(), rest in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut frame = h.into_bytes();
        frame.extend(rest);
        decode_binary_everywhere(&frame);
    }

    #[test]
    fn token_soup_behind_real_headers(h in header(), tokens in proptest::collection::vec(token(), 0..40)) {
        let mut frame = h;
        for t in tokens {
            frame.push('|');
            frame.push_str(&t);
        }
        decode_text_everywhere(&frame);
    }

}

proptest! {
    // Each case decodes every prefix of 4 frames: fewer cases.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_truncation_of_valid_frames_is_an_error(m in common::server_message(), c in common::client_message()) {
        for binary in [m.to_binary(), c.to_binary()] {
            for end in 0..binary.len() {
                // Binary values are self-delimiting: a strict prefix never decodes.
                prop_assert!(ev::ServerMessage::decode_binary(&binary[..end]).is_err());
                prop_assert!(ev::ClientMessage::decode_binary(&binary[..end]).is_err());
            }
        }
        for text in [m.to_text(), c.to_text()] {
            // A text prefix can be a valid frame (`aa|12` → `aa|1`); it must
            // still never panic.
            for end in (0..text.len()).filter(|i| text.is_char_boundary(*i)) {
                let _ = ev::ServerMessage::decode_text(&text[..end]);
                let _ = ev::ClientMessage::decode_text(&text[..end]);
            }
        }
    }

    #[test]
    fn flipped_bytes_in_valid_frames(m in common::server_message(), at in any::<prop::sample::Index>(), b in any::<u8>()) {
        let mut binary = m.to_binary();
        let i = at.index(binary.len());
        binary[i] = b;
        decode_binary_everywhere(&binary);
    }
}

/// `ab` (Collections) starts with `list: [u16]`; `aa` of ui (RenderUi v1)
/// with `id: string`.
#[test]
fn counts_and_lengths_claiming_gigabytes() {
    let loose = Limits {
        max_collection_len: usize::MAX,
        max_string_bytes: usize::MAX,
        ..Limits::default()
    };
    // A list count of u32::MAX.
    let frame = b"ab\xFF\xFF\xFF\xFF\x0F";
    assert_eq!(
        ev::ClientMessage::decode_binary(frame).unwrap_err().kind,
        K::CollectionTooLong
    );
    assert_eq!(
        ev::ClientMessage::decode_binary_with(frame, &loose)
            .unwrap_err()
            .kind,
        K::Truncated
    );
    // A string length of u32::MAX.
    let frame = b"aa\xFF\xFF\xFF\xFF\x0F";
    assert_eq!(
        ui::ServerMessage::decode_binary(frame).unwrap_err().kind,
        K::StringTooLong
    );
    assert_eq!(
        ui::ServerMessage::decode_binary_with(frame, &loose)
            .unwrap_err()
            .kind,
        K::Truncated
    );
    // Lists of empty structs take no bytes per element: bounded by the count limit.
    let frame = "ad|7|0|1|0|0|4294967295";
    assert_eq!(
        ev::ServerMessage::decode_text(frame).unwrap_err().kind,
        K::CollectionTooLong
    );
    // Text counts far past any integer.
    let frame = format!("ab|{}", "9".repeat(100));
    assert_eq!(
        ev::ClientMessage::decode_text(&frame).unwrap_err().kind,
        K::CollectionTooLong
    );
    assert_eq!(
        ev::ClientMessage::decode_text("ab|4294967295")
            .unwrap_err()
            .kind,
        K::CollectionTooLong
    );
    assert_eq!(
        ev::ClientMessage::decode_text_with("ab|4294967295|1", &loose)
            .unwrap_err()
            .kind,
        K::Truncated
    );
    // Nested lists claiming the maximum at every level.
    let frame = format!("ab|0|0|{}", "100000|".repeat(50));
    assert!(ev::ClientMessage::decode_text(&frame).is_err());
}

#[test]
fn recursion_is_bounded_by_max_depth() {
    // Expr::neg nests an Expr directly: 100k levels of `1|` (variant neg).
    let prefix = "ad|1|0|0|0|0|0|root|0|1|~";
    let mut frame = String::from(prefix);
    for _ in 0..100_000 {
        frame.push_str("|1");
    }
    assert_eq!(
        ev::ServerMessage::decode_text(&frame).unwrap_err().kind,
        K::TooDeep
    );
    // The same in binary: Composites with a deep Expr.
    let mut frame = b"ad\x01\x00\x00\x00\x00\x00\x04root\x00\x01\x00".to_vec();
    frame.extend(std::iter::repeat_n(1u8, 100_000));
    assert_eq!(
        ev::ServerMessage::decode_binary(&frame).unwrap_err().kind,
        K::TooDeep
    );
}

/// SPEC §6.3: every optional, list, map, union and struct value opens a
/// level; a present optional struct opens two (the optional, then the
/// struct), which generated code does with `optional_struct` + `nested`.
#[test]
fn depth_counts_an_optional_struct_as_two_levels() {
    let flat = Limits {
        max_depth: 1,
        ..Limits::default()
    };
    let mut m = ev::OptionalsV1 {
        o_bool: None,
        o_u64: None,
        o_i64: None,
        o_f32: None,
        o_f64: None,
        o_string: None,
        o_bytes: None,
        o_point: None,
        o_empty: None,
        o_color: None,
        o_shape: None,
        o_list: None,
        o_map: None,
        list_of_opt: vec![],
        deep: vec![],
        o_chain: None,
    };
    let frame = ev::ServerMessage::from(m.clone()).to_binary();
    assert!(ev::ServerMessage::decode_binary_with(&frame, &flat).is_ok());
    m.o_point = Some(ev::Point { x: 1, y: 2 });
    let message = ev::ServerMessage::from(m);
    let e = ev::ServerMessage::decode_binary_with(&message.to_binary(), &flat).unwrap_err();
    assert_eq!(e.kind, K::TooDeep);
    let e = ev::ServerMessage::decode_text_with(&message.to_text(), &flat).unwrap_err();
    assert_eq!(e.kind, K::TooDeep);
    let two = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(ev::ServerMessage::decode_text_with(&message.to_text(), &two).is_ok());
}
