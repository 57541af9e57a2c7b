//! Every generated binary decoder: never panics, and whatever it accepts
//! re-encodes to the input (decoding is strict, encodings canonical). The one
//! allowed difference is a NaN's payload: decoders accept any NaN, encoders
//! write the canonical quiet NaN (SPEC §4.4), so the re-encoded frame has the
//! same length and is itself a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tagwire::Protocol;
use tagwire_tests::{article, chat, everything, geometry, relay, ui};

fn check<P: Protocol>(frame: &[u8]) {
    if let Ok(message) = P::decode_binary(frame) {
        let mut again = Vec::new();
        message.encode_binary(&mut again);
        if again != frame {
            assert_eq!(
                again.len(),
                frame.len(),
                "accepted a frame that is not canonical"
            );
            let canonical = P::decode_binary(&again).expect("a re-encoded frame decodes");
            let mut thrice = Vec::new();
            canonical.encode_binary(&mut thrice);
            assert_eq!(thrice, again, "re-encoding is not a fixed point");
        }
    }
}

fuzz_target!(|frame: &[u8]| {
    check::<ui::ServerMessage>(frame);
    check::<ui::ClientMessage>(frame);
    check::<article::ServerMessage>(frame);
    check::<article::ClientMessage>(frame);
    check::<chat::ServerMessage>(frame);
    check::<chat::ClientMessage>(frame);
    check::<everything::ServerMessage>(frame);
    check::<everything::ClientMessage>(frame);
    check::<relay::ServerMessage>(frame);
    check::<relay::ClientMessage>(frame);
    check::<geometry::ServerMessage>(frame);
    check::<geometry::ClientMessage>(frame);
});
