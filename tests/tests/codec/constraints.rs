//! Constraints of the schema (SPEC §6.4) in generated Rust: decoders reject
//! frames whose values break one (`constraint_violation`, with the value's
//! path), `validate` says what is wrong, `try_encode_*` refuse and write
//! nothing; `@rate` reaches `Package::rate_limits`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use tagwire::{DecodeErrorKind, Position, Protocol};
use tagwire_tests::signup::*;

fn good() -> UpdateProfileV1 {
    UpdateProfileV1 {
        display_name: Some("Ada".into()),
        avatar: Avatar::Picture {
            png: vec![0; 8],
            focus: Some(Focus { x: 0.0, y: 1.0 }),
        },
        volume: 1.0,
        shortcuts: BTreeMap::from([("save".to_string(), 1), ("quit".to_string(), 999)]),
    }
}

#[test]
fn values_at_the_edges_round_trip() {
    let m = ClientMessage::from(good());
    assert_eq!(m.validate(), Ok(()));
    let (mut text, mut binary) = (String::new(), Vec::new());
    m.try_encode_text(&mut text).unwrap();
    m.try_encode_binary(&mut binary).unwrap();
    assert_eq!(ClientMessage::decode_text(&text).unwrap(), m);
    assert_eq!(ClientMessage::decode_binary(&binary).unwrap(), m);
    // Lengths of strings count characters: 64 emoji are 256 bytes.
    let mut wide = good();
    wide.display_name = Some("😀".repeat(64));
    assert_eq!(wide.validate(), Ok(()));
}

/// A change that breaks one constraint, the path it names and its message.
type Case = (
    Box<dyn Fn(&mut UpdateProfileV1)>,
    &'static str,
    &'static str,
);

#[test]
fn validate_names_the_first_violation_and_try_encode_writes_nothing() {
    let cases: Vec<Case> = vec![
        (
            Box::new(|m| m.display_name = Some(String::new())),
            "display_name",
            "length 0 is outside 1..=64",
        ),
        (
            Box::new(|m| m.volume = 1.5),
            "volume",
            "1.5 is outside 0..=1",
        ),
        (
            Box::new(|m| m.volume = f64::NAN),
            "volume",
            "NaN is outside 0..=1",
        ),
        (
            Box::new(|m| {
                m.avatar = Avatar::Initials {
                    letters: "ab".into(),
                }
            }),
            "avatar.initials.letters",
            "does not match \"^[A-Z]+$\"",
        ),
        (
            Box::new(|m| {
                m.avatar = Avatar::Picture {
                    png: vec![0; 8],
                    focus: Some(Focus { x: 0.5, y: -0.25 }),
                }
            }),
            "avatar.picture.focus.y",
            "-0.25 is outside 0..=1",
        ),
        (
            Box::new(|m| {
                m.shortcuts.insert("save".into(), 0);
            }),
            "shortcuts[\"save\"]",
            "0 is outside 1..=999",
        ),
        (
            Box::new(|m| {
                m.shortcuts.insert(String::new(), 1);
            }),
            "shortcuts",
            "key \"\": length 0 is outside 1..=16",
        ),
        (
            Box::new(|m| {
                m.shortcuts = (0..51).map(|i| (format!("k{i}"), 1)).collect();
            }),
            "shortcuts",
            "length 51 is outside ..=50",
        ),
    ];
    for (change, path, message) in cases {
        let mut value = good();
        change(&mut value);
        let violation = value.validate().unwrap_err();
        assert_eq!(
            (violation.path.as_str(), violation.message.as_str()),
            (path, message)
        );
        let m = ClientMessage::from(value);
        assert_eq!(m.validate().unwrap_err(), violation);
        let (mut text, mut binary) = (String::new(), Vec::new());
        assert_eq!(m.try_encode_text(&mut text).unwrap_err(), violation);
        assert_eq!(m.try_encode_binary(&mut binary).unwrap_err(), violation);
        assert!(text.is_empty() && binary.is_empty());
        // The unchecked encoders write the frame; every decoder refuses it.
        let e = ClientMessage::decode_text(&m.to_text()).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::ConstraintViolation);
        assert_eq!(e.position, Position::Token { index: 0, byte: 0 });
        assert_eq!(e.violation(), Some(&violation));
        assert_eq!(
            e.to_string(),
            format!("constraint violation: {path}: {message}")
        );
        let e = ClientMessage::decode_binary(&m.to_binary()).unwrap_err();
        assert_eq!(e.position, Position::Byte(0));
        assert_eq!(e.violation(), Some(&violation));
    }
}

#[test]
fn server_messages_are_checked_too() {
    let e = ServerMessage::decode_text("ac|0|ada").unwrap_err();
    assert_eq!(e.violation().unwrap().path, "user_id");
    let e = ServerMessage::decode_text("ac|1|ad").unwrap_err();
    assert_eq!(
        e.violation().unwrap().to_string(),
        "username: length 2 is outside 3..=20"
    );
    assert!(ServerMessage::decode_text("ac|1|ada").is_ok());
    // An absent optional satisfies its constraints.
    assert!(ServerMessage::decode_text("ad|no|~").is_ok());
    let e = ServerMessage::decode_text("ad|no|3600001").unwrap_err();
    assert_eq!(e.violation().unwrap().path, "retry_after_ms");
}

#[test]
fn rate_limits_come_from_the_schema() {
    use std::time::Duration;
    use tagwire::{Package as _, Quota};
    assert_eq!(
        Package::rate_limits(),
        [
            (
                SignUpV1::HEADER,
                Quota::new(3, Duration::from_secs(60)).with_burst(3)
            ),
            (
                UpdateProfileV1::HEADER,
                Quota::per_second(10).with_burst(20)
            ),
        ]
    );
    // Packages without `@rate` keep the default: no quota.
    assert!(<tagwire_tests::ui::Package as tagwire::Package>::rate_limits().is_empty());
}
