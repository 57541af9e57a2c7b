//! Canonical JSON (SPEC §8) through generated Rust (`canonical_json` on in
//! the build script): property-based round trips over every type shape of
//! schemas/everything, strict input with JSON paths, and a snapshot of the
//! generated code. Agreement with the compiler's schema-driven codec is the
//! conformance suite's (conformance/, run by scripts/test-all).
#![allow(clippy::unwrap_used)]

use crate::common;

use proptest::prelude::*;
use serde_json::json;
use tagwire::__private::json::to_canonical_string;
use tagwire::Protocol;
use tagwire_tests::everything::*;

/// `to_json_line` then `from_json_line` gives back a value with the same
/// frames (compared as frames, so NaN compares equal to itself).
fn json_round_trips_server(m: &ServerMessage) -> Result<(), TestCaseError> {
    let line = serde_json::Value::from(m.to_json_line());
    let back = ServerMessage::from_json_line(
        line["message"].as_str().unwrap(),
        u32::try_from(line["version"].as_u64().unwrap()).unwrap(),
        &line["value"],
    )
    .map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
    prop_assert_eq!(back.to_text(), m.to_text());
    prop_assert_eq!(back.to_binary(), m.to_binary());
    Ok(())
}

fn json_round_trips_client(m: &ClientMessage) -> Result<(), TestCaseError> {
    let line = serde_json::Value::from(m.to_json_line());
    let back = ClientMessage::from_json_line(
        line["message"].as_str().unwrap(),
        u32::try_from(line["version"].as_u64().unwrap()).unwrap(),
        &line["value"],
    )
    .map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
    prop_assert_eq!(back.to_text(), m.to_text());
    prop_assert_eq!(back.to_binary(), m.to_binary());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn server_messages_round_trip(m in common::server_message()) {
        json_round_trips_server(&m)?;
    }

    #[test]
    fn client_messages_round_trip(m in common::client_message()) {
        json_round_trips_client(&m)?;
    }
}

#[test]
fn spec_mapping() {
    let p = Point { x: -1, y: 2 };
    assert_eq!(p.to_canonical_json(), json!({"x": -1, "y": 2}));
    assert_eq!(Color::Blue.to_canonical_json(), json!("blue"));
    assert_eq!(Shape::Empty.to_canonical_json(), json!({"empty": {}}));
    let chain = Chain {
        value: 1,
        next: Some(Box::new(Chain {
            value: 2,
            next: None,
        })),
    };
    assert_eq!(
        chain.to_canonical_json(),
        json!({"value": 1, "next": {"value": 2}})
    );
    assert_eq!(
        Chain::from_canonical_json(&json!({"value": 1, "next": {"value": 2, "next": null}})),
        Ok(chain)
    );
    let circle = Shape::Circle { r: -0.0 };
    assert_eq!(
        to_canonical_string(&circle.to_canonical_json()),
        r#"{"circle":{"r":"-0"}}"#
    );
}

#[test]
fn strict_input_with_paths() {
    let cases = [
        (json!({"x": 1}), "y: missing property"),
        (json!({"x": 1, "y": 2, "z": 3}), "z: unknown property"),
        (json!({"x": 1.5, "y": 2}), "x: 1.5 is not an integer"),
        (
            json!({"x": 2147483648_i64, "y": 2}),
            "x: 2147483648 is out of range",
        ),
        (json!([1, 2]), "expected an object"),
    ];
    for (input, want) in cases {
        let e = Point::from_canonical_json(&input).unwrap_err().to_string();
        assert!(e.starts_with(want), "{input}: {e}");
    }
    let group = json!({"group": {"shapes": [{"empty": {}}, {"circle": {"r": "big"}}]}});
    let e = Shape::from_canonical_json(&group).unwrap_err();
    assert_eq!(e.path, "group.shapes[1].circle.r");
    let e = Shape::from_canonical_json(&json!({"square": {}})).unwrap_err();
    assert_eq!(e.path, "square");
    let e = Shape::from_canonical_json(&json!({"empty": {}, "rect": {}})).unwrap_err();
    assert_eq!(e.path, "");
    let e = Color::from_canonical_json(&json!("purple")).unwrap_err();
    assert!(e.message.contains("purple"), "{e}");
    let e = ServerMessage::from_json_line("Nope", 1, &json!({})).unwrap_err();
    assert_eq!(e.path, "message");
}

#[test]
fn generated_code_snapshot() {
    use tagwire_compiler::codegen::rust::{self, RustOptions};
    use tagwire_compiler::{FrontEnd, LockMode};
    let schema = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schemas/everything/everything.schema");
    let output = FrontEnd::new()
        .schema(&schema)
        .lock_mode(LockMode::Locked)
        .run();
    assert!(!output.has_errors(), "{}", output.render_text());
    let mut options = RustOptions::default();
    options.canonical_json = true;
    let files = rust::generate_rust_files(&output, &options).unwrap();
    insta::assert_snapshot!("canonical_json_everything", files[0].1);
}
