//! The derive macro's decoders (`#[derive(tagwire::Protocol)]`, a separate
//! code path from the compiler's generated code) against the generated ones:
//! the derive mirror of `schemas/everything` (`tagwire_tests::derive_mirror`,
//! also used by tests/tests/derive/everything.rs) must accept exactly the frames the
//! generated `everything` decoders accept, in both encodings, and re-encode
//! them to the same bytes. Never a panic on either side.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tagwire::Protocol;
use tagwire_tests::derive_mirror::{BothMsg, ClientMsg, ServerMsg};
use tagwire_tests::everything as g;

/// The derive side's verdict on a frame: its re-encoding if one of the
/// three enums accepts it.
fn derive_binary(frame: &[u8]) -> Option<Vec<u8>> {
    if let Ok(m) = ServerMsg::decode_binary(frame) {
        return Some(m.to_binary());
    }
    if let Ok(m) = ClientMsg::decode_binary(frame) {
        return Some(m.to_binary());
    }
    BothMsg::decode_binary(frame).ok().map(|m| m.to_binary())
}

fn derive_text(frame: &str) -> Option<String> {
    if let Ok(m) = ServerMsg::decode_text(frame) {
        return Some(m.to_text());
    }
    if let Ok(m) = ClientMsg::decode_text(frame) {
        return Some(m.to_text());
    }
    BothMsg::decode_text(frame).ok().map(|m| m.to_text())
}

/// Server and client enums of the generated module together cover every
/// message (`Optionals` and `Nothing` are in both).
fn generated_binary(frame: &[u8]) -> Option<Vec<u8>> {
    if let Ok(m) = g::ServerMessage::decode_binary(frame) {
        return Some(m.to_binary());
    }
    g::ClientMessage::decode_binary(frame)
        .ok()
        .map(|m| m.to_binary())
}

fn generated_text(frame: &str) -> Option<String> {
    if let Ok(m) = g::ServerMessage::decode_text(frame) {
        return Some(m.to_text());
    }
    g::ClientMessage::decode_text(frame)
        .ok()
        .map(|m| m.to_text())
}

fuzz_target!(|data: &[u8]| {
    assert_eq!(
        derive_binary(data),
        generated_binary(data),
        "derive and generated binary decoders disagree"
    );
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(
            derive_text(text),
            generated_text(text),
            "derive and generated text decoders disagree"
        );
    }
});
