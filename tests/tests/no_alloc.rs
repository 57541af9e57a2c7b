//! Generated encoders write into a reused buffer without allocating, and a
//! decoder's allocations stay a small multiple of the frame, even for frames
//! whose counts and lengths lie. (Own test binary: allocation-counter
//! replaces the global allocator.)
#![allow(clippy::unwrap_used)]

mod common;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use tagwire::Protocol;
use tagwire_tests::everything as ev;

#[test]
fn encoding_generated_messages_into_a_reused_buffer_does_not_allocate() {
    let mut runner = TestRunner::deterministic();
    let messages: Vec<ev::ServerMessage> = (0..32)
        .map(|_| {
            common::server_message()
                .new_tree(&mut runner)
                .unwrap()
                .current()
        })
        .collect();
    let mut text = String::with_capacity(1 << 20);
    let mut binary = Vec::with_capacity(1 << 20);
    let info = allocation_counter::measure(|| {
        for m in &messages {
            text.clear();
            m.encode_text(&mut text);
            binary.clear();
            m.encode_binary(&mut binary);
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
}

#[test]
fn lying_counts_cost_no_more_than_the_frame() {
    // Collections: a [u16] count of 100,000 (the default limit) with 3 bytes
    // behind it, and the same in text.
    let binary = b"ab\xA0\x8D\x06\x01\x02\x03";
    let info = allocation_counter::measure(|| {
        assert!(ev::ClientMessage::decode_binary(binary).is_err());
    });
    assert!(info.bytes_max < 64 * binary.len() as u64, "{info:?}");
    let text = "ab|100000|1|2|3";
    let info = allocation_counter::measure(|| {
        assert!(ev::ClientMessage::decode_text(text).is_err());
    });
    assert!(info.bytes_max < 64 * text.len() as u64, "{info:?}");
}
