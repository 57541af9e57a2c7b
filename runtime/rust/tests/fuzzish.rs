//! Arbitrary input never panics the decoders; it decodes or yields an error.
#![allow(clippy::unwrap_used)]

mod common;

use common::Msg;
use proptest::prelude::*;
use tagwire::Protocol;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_binary_frames(tail in proptest::collection::vec(any::<u8>(), 0..64), h in 0usize..4) {
        let mut frame = [&b"aa"[..], b"ab", b"ac", b"zz"][h].to_vec();
        frame.extend_from_slice(&tail);
        if let Ok(m) = Msg::decode_binary(&frame) {
            // Accepted frames are canonical (NaN payloads, which encoders
            // canonicalise, are the only way to differ).
            let again = m.to_binary();
            let m2 = Msg::decode_binary(&again).unwrap();
            prop_assert_eq!(m2.to_binary(), again);
        }
    }

    #[test]
    fn random_text_frames(tail in "(\\|([0-9~+a-z\\\\-]{0,4}))*", h in 0usize..4) {
        let frame = format!("{}{}", ["aa", "ab", "ac", "zz"][h], tail);
        if let Ok(m) = Msg::decode_text(&frame) {
            // Float tokens may be non-canonical spellings; everything else is
            // exact, and re-encoding is idempotent.
            let again = m.to_text();
            prop_assert_eq!(Msg::decode_text(&again).unwrap().to_text(), again);
        }
    }

    #[test]
    fn mutated_valid_frames(i in any::<prop::sample::Index>(), b in any::<u8>()) {
        let good = Msg::Everything(Box::new(common::sample())).to_binary();
        let mut frame = good.clone();
        let at = i.index(frame.len());
        frame[at] = b;
        if let Ok(m) = Msg::decode_binary(&frame) {
            // Exact, except that a changed byte inside the sample's NaN gives
            // another NaN payload, which encoders write as the canonical one:
            // then the frame keeps its length and re-encoding is a fixed point.
            let again = m.to_binary();
            if again != frame {
                prop_assert_eq!(again.len(), frame.len());
                prop_assert_eq!(Msg::decode_binary(&again).unwrap().to_binary(), again);
            }
        }
        for cut in [at, good.len() - 1] {
            prop_assert!(Msg::decode_binary(&good[..cut]).is_err());
        }
    }
}

/// The case proptest found: one changed byte turns the sample's f32 0.1
/// (0x3DCCCCCD) into a NaN with a payload (0x7FCCCCCD), which decodes and
/// re-encodes as the canonical NaN.
#[test]
fn a_nan_payload_is_accepted_and_re_encoded_canonically() {
    let good = Msg::Everything(Box::new(common::sample())).to_binary();
    let at = good
        .windows(4)
        .position(|w| w == [0xCD, 0xCC, 0xCC, 0x3D])
        .expect("the sample holds the f32 0.1");
    let mut frame = good.clone();
    frame[at + 3] = 0x7F;
    let decoded = Msg::decode_binary(&frame).unwrap();
    let mut canonical = frame.clone();
    canonical[at..at + 4].copy_from_slice(&[0x00, 0x00, 0xC0, 0x7F]);
    assert_eq!(decoded.to_binary(), canonical);
}
