//! Every generated binary decoder: never panics, and whatever it accepts
//! re-encodes to the input (decoding is strict, encodings canonical). The one
//! allowed difference is a NaN's payload: decoders accept any NaN, encoders
//! write the canonical quiet NaN (SPEC §4.4), so the re-encoded frame has the
//! same length and is itself a fixed point. The borrowed views
//! (`decode_binary_ref`) accept exactly the frames the owned decode accepts,
//! read the same value and refuse the rest with the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tagwire::{DecodeError, Protocol};
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

/// The view's verdict on `frame` against the owned decode's. Values are
/// compared by their frames: a NaN is not equal to itself.
fn view_agrees<'a, P: Protocol, V>(
    frame: &'a [u8],
    decode_ref: fn(&'a [u8]) -> Result<V, DecodeError>,
    into_owned: fn(V) -> P,
) {
    match (P::decode_binary(frame), decode_ref(frame)) {
        (Ok(owned), Ok(view)) => {
            assert_eq!(
                into_owned(view).to_binary(),
                owned.to_binary(),
                "the view read another value"
            )
        }
        (Err(owned), Err(view)) => assert_eq!(view, owned, "the view refused with another error"),
        (owned, view) => panic!(
            "the owned decode says {:?}, the view {:?}",
            owned.map(|_| ()),
            view.map(|_| ())
        ),
    }
}

fuzz_target!(|frame: &[u8]| {
    view_agrees(
        frame,
        ui::ServerMessageRef::decode_binary_ref,
        ui::ServerMessageRef::into_owned,
    );
    view_agrees(
        frame,
        ui::ClientMessageRef::decode_binary_ref,
        ui::ClientMessageRef::into_owned,
    );
    view_agrees(
        frame,
        article::ServerMessageRef::decode_binary_ref,
        article::ServerMessageRef::into_owned,
    );
    view_agrees(
        frame,
        article::ClientMessageRef::decode_binary_ref,
        article::ClientMessageRef::into_owned,
    );
    view_agrees(
        frame,
        chat::ServerMessageRef::decode_binary_ref,
        chat::ServerMessageRef::into_owned,
    );
    view_agrees(
        frame,
        chat::ClientMessageRef::decode_binary_ref,
        chat::ClientMessageRef::into_owned,
    );
    view_agrees(
        frame,
        everything::ServerMessageRef::decode_binary_ref,
        everything::ServerMessageRef::into_owned,
    );
    view_agrees(
        frame,
        everything::ClientMessageRef::decode_binary_ref,
        everything::ClientMessageRef::into_owned,
    );
    view_agrees(
        frame,
        relay::ServerMessageRef::decode_binary_ref,
        relay::ServerMessageRef::into_owned,
    );
    view_agrees(
        frame,
        relay::ClientMessageRef::decode_binary_ref,
        relay::ClientMessageRef::into_owned,
    );
    view_agrees(
        frame,
        geometry::ServerMessageRef::decode_binary_ref,
        geometry::ServerMessageRef::into_owned,
    );
    view_agrees(
        frame,
        geometry::ClientMessageRef::decode_binary_ref,
        geometry::ClientMessageRef::into_owned,
    );
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
