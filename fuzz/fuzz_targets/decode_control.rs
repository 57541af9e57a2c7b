//! The runtime's control-message decoders (SPEC §9, `tagwire::control`), in
//! both encodings and under default and tight limits: never a panic, and
//! whatever they accept re-encodes to a fixed point (the text form may
//! respell a float, as in `decode_text`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tagwire::control::{Control, GapReason};
use tagwire::{Limits, Protocol};

fn tight() -> Limits {
    Limits {
        max_frame_bytes: 64,
        max_collection_len: 4,
        max_string_bytes: 16,
        max_depth: 1,
    }
}

fuzz_target!(|data: &[u8]| {
    for limits in [Limits::default(), tight()] {
        if let Ok(control) = Control::decode_binary_with(data, &limits) {
            let again = control.to_binary();
            // A gap kind the receiver does not know reads as `reset` (SPEC
            // §9.7, so newer servers can add kinds): such a frame re-encodes
            // with `reset` in place of the unknown kind.
            let respelled_gap = matches!(&control, Control::Gap(g) if g.kind == GapReason::Reset);
            if again != data {
                // Only a NaN's payload may differ (SPEC §4.4), or a gap's kind.
                if !respelled_gap {
                    assert_eq!(again.len(), data.len(), "accepted a non-canonical frame");
                }
                let canonical = Control::decode_binary(&again).expect("re-encoded frame decodes");
                assert_eq!(canonical.to_binary(), again, "not a fixed point");
            }
        }
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(control) = Control::decode_text_with(text, &limits)
        {
            let again = control.to_text();
            if again != text {
                let canonical = Control::decode_text(&again).expect("re-encoded frame decodes");
                assert_eq!(canonical.to_text(), again, "not a fixed point");
            }
        }
    }
});
