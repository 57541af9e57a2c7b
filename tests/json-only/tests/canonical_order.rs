//! SPEC §8 member order from a build whose only runtime feature is `json`
//! and whose serde_json sorts map keys: fields in schema order, integer map
//! keys in numeric order, a values line's properties as the SPEC lists
//! them. Names in schema/order.schema sort differently from all three.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use tagwire::__private::json::{Value, to_canonical_string};
use tagwire_json_only::order::{Point, ServerMessage, Shape, UpdateV1};

fn update() -> UpdateV1 {
    UpdateV1 {
        zeta: "z".into(),
        alpha: 1,
        counts: BTreeMap::from([
            (10, "ten".into()),
            (-5, "minus five".into()),
            (2, "two".into()),
        ]),
        ids: BTreeMap::from([(u64::MAX, true), (9, false), (100, true)]),
        origin: Point { y: -1, x: 2 },
        shape: Shape::Rect { w: 3, h: 4 },
        note: Some("n".into()),
        middle: vec![Point { y: 5, x: 6 }],
    }
}

const UPDATE: &str = concat!(
    r#"{"zeta":"z","alpha":1,"#,
    r#""counts":{"-5":"minus five","2":"two","10":"ten"},"#,
    r#""ids":{"9":false,"100":true,"18446744073709551615":true},"#,
    r#""origin":{"y":-1,"x":2},"shape":{"rect":{"w":3,"h":4}},"note":"n","#,
    r#""middle":[{"y":5,"x":6}]}"#,
);

#[test]
fn fields_in_schema_order() {
    let p = Point { y: 1, x: 2 };
    assert_eq!(
        to_canonical_string(&p.to_canonical_json()),
        r#"{"y":1,"x":2}"#
    );
    let rect = Shape::Rect { w: 3, h: 4 };
    assert_eq!(
        to_canonical_string(&rect.to_canonical_json()),
        r#"{"rect":{"w":3,"h":4}}"#
    );
}

#[test]
fn integer_map_keys_in_numeric_order() {
    assert_eq!(to_canonical_string(&update().to_canonical_json()), UPDATE);
}

#[test]
fn json_line_properties_in_spec_order() {
    let line = ServerMessage::UpdateV1(update()).to_json_line();
    let want = format!(r#"{{"message":"Update","version":1,"value":{UPDATE}}}"#);
    assert_eq!(to_canonical_string(&line), want);
    // Display writes the same canonical text.
    assert_eq!(line.to_string(), want);
}

/// The strict reader takes back what the writer wrote, as text parsed by
/// serde_json (whose map reorders members) and as the value converted.
#[test]
fn reads_back_what_it_writes() {
    let m = update();
    let text = to_canonical_string(&m.to_canonical_json());
    let parsed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(UpdateV1::from_canonical_json(&parsed), Ok(m.clone()));
    assert_eq!(
        UpdateV1::from_canonical_json(&m.to_canonical_json().into()),
        Ok(m)
    );
    let e = Point::from_canonical_json(&serde_json::json!({"y": 1, "x": 2, "z": 3})).unwrap_err();
    assert_eq!(e.path, "z");
}
