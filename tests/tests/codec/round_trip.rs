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

/// The borrowed view of a binary frame carries the same value as the owned
/// decode, and its strings and bytes point into the frame.
fn view_round_trips<'a, V, P>(
    frame: &'a [u8],
    decode: impl Fn(&'a [u8]) -> Result<V, tagwire::DecodeError>,
    into_owned: impl Fn(V) -> P,
) -> Result<(), TestCaseError>
where
    V: Debug,
    P: Protocol + PartialEq + Debug,
{
    let owned = P::decode_binary(frame).map_err(|e| TestCaseError::fail(format!("{e}")))?;
    let view = decode(frame).map_err(|e| TestCaseError::fail(format!("{e}: {frame:?}")))?;
    let from_view = into_owned(view);
    prop_assert_eq!(from_view.to_binary(), frame.to_vec());
    if !format!("{owned:?}").contains("NaN") {
        prop_assert_eq!(&from_view, &owned);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn server_views_read_what_the_owned_decode_reads(m in common::server_message()) {
        use tagwire_tests::everything::ServerMessageRef;
        let frame = m.to_binary();
        view_round_trips(&frame, ServerMessageRef::decode_binary_ref, ServerMessageRef::into_owned)?;
    }

    #[test]
    fn client_views_read_what_the_owned_decode_reads(m in common::client_message()) {
        use tagwire_tests::everything::ClientMessageRef;
        let frame = m.to_binary();
        view_round_trips(&frame, ClientMessageRef::decode_binary_ref, ClientMessageRef::into_owned)?;
    }

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
fn a_view_borrows_from_the_frame_and_refuses_what_the_owned_decode_refuses() {
    use tagwire_tests::everything::{ScalarsV1, ServerMessage, ServerMessageRef};
    let m = ServerMessage::from(ScalarsV1 {
        b: true,
        u_8: 1,
        u_16: 2,
        u_32: 3,
        u_64: 4,
        i_8: -1,
        i_16: -2,
        i_32: -3,
        i_64: -4,
        f_32: 0.5,
        f_64: 0.25,
        s: "héllo".into(),
        raw: vec![0, 255],
    });
    let frame = m.to_binary();
    let ServerMessageRef::ScalarsV1(view) = ServerMessageRef::decode_binary_ref(&frame).unwrap()
    else {
        panic!("not ScalarsV1");
    };
    assert_eq!(view.s, "héllo");
    assert!(
        frame.as_ptr_range().contains(&view.s.as_ptr()),
        "the string is not copied"
    );
    assert!(
        frame.as_ptr_range().contains(&view.raw.as_ptr()),
        "the bytes are not copied"
    );
    assert_eq!(ServerMessage::from(ServerMessageRef::ScalarsV1(view)), m);
    // Every prefix and a trailing byte: the same error from both decodes.
    let mut longer = frame.clone();
    longer.push(0);
    let mut not_utf8 = frame.clone();
    let e_acute = not_utf8.windows(2).position(|w| w == [0xC3, 0xA9]).unwrap();
    not_utf8[e_acute] = 0xFF;
    let wrong = [longer.as_slice(), not_utf8.as_slice()];
    for bad in (0..frame.len()).map(|n| &frame[..n]).chain(wrong) {
        let owned = ServerMessage::decode_binary(bad).unwrap_err();
        let view = ServerMessageRef::decode_binary_ref(bad).unwrap_err();
        assert_eq!(owned, view, "{bad:?}");
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
