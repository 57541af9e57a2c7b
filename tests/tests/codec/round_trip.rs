//! Property-based round trips over every type shape of schemas/everything,
//! in both encodings.
//!
//! For every generated value: decoding its frame gives a value whose frames
//! are byte-identical (canonical encoding: this also covers -0.0 and NaN,
//! which `PartialEq` cannot), equal to the original when it holds no NaN, and
//! the text and binary decodings agree with each other.
#![allow(clippy::unwrap_used)]

use crate::common;

use proptest::prelude::*;
use std::fmt::Debug;
use tagwire::Protocol;

fn round_trips<P: Protocol + PartialEq + Debug>(m: &P) -> Result<(), TestCaseError> {
    let text = m.to_text();
    let binary = m.to_binary();
    prop_assert!(
        !text.contains(['\r', '\n']),
        "a text frame is one line: {text:?}"
    );
    let from_text =
        P::decode_text(&text).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
    let from_binary =
        P::decode_binary(&binary).map_err(|e| TestCaseError::fail(format!("{e}: {binary:?}")))?;
    prop_assert_eq!(from_text.to_text(), text.clone());
    prop_assert_eq!(from_binary.to_binary(), binary.clone());
    // Each encoding carries exactly the same value.
    prop_assert_eq!(from_text.to_binary(), binary);
    prop_assert_eq!(from_binary.to_text(), text);
    if !format!("{m:?}").contains("NaN") {
        prop_assert_eq!(&from_text, m);
        prop_assert_eq!(&from_binary, m);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_messages_round_trip(m in common::server_message()) {
        round_trips(&m)?;
    }

    #[test]
    fn client_messages_round_trip(m in common::client_message()) {
        round_trips(&m)?;
    }

    #[test]
    fn composites_round_trip(m in common::composites()) {
        let m = tagwire_tests::everything::ServerMessage::from(m);
        round_trips(&m)?;
    }
}

#[test]
fn signed_zero_and_nan_survive_both_encodings() {
    use tagwire_tests::everything::*;
    let m = ServerMessage::from(ScalarsV1 {
        b: false,
        u_8: 0,
        u_16: 0,
        u_32: 0,
        u_64: 0,
        i_8: 0,
        i_16: 0,
        i_32: 0,
        i_64: 0,
        f_32: f32::NAN,
        f_64: -0.0,
        s: String::new(),
        raw: vec![],
    });
    for back in [
        ServerMessage::decode_text(&m.to_text()).unwrap(),
        ServerMessage::decode_binary(&m.to_binary()).unwrap(),
    ] {
        let ServerMessage::ScalarsV1(s) = back else {
            panic!("{back:?}")
        };
        assert!(s.f_32.is_nan());
        assert!(s.f_64 == 0.0 && s.f_64.is_sign_negative());
    }
}
