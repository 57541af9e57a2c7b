//! Every generated text decoder: never panics, and whatever it accepts
//! re-encodes to a frame that is a fixed point of decode-then-encode. (The
//! input itself may differ: float tokens are accepted in any spelling of the
//! SPEC's number grammar, such as `1.50`, and f32 tokens round to the nearest
//! f32; everything else must come back byte for byte.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use tagwire::Protocol;
use tagwire_tests::{article, chat, everything, geometry, relay, ui};

fn check<P: Protocol>(frame: &str) {
    if let Ok(message) = P::decode_text(frame) {
        let mut again = String::new();
        message.encode_text(&mut again);
        if again != frame {
            let canonical = P::decode_text(&again).expect("a re-encoded frame decodes");
            let mut thrice = String::new();
            canonical.encode_text(&mut thrice);
            assert_eq!(thrice, again, "re-encoding is not a fixed point");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(frame) = std::str::from_utf8(data) else {
        return;
    };
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
