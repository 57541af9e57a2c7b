//! Encode and decode of three realtime-shaped messages through generated
//! code, in both encodings: a cursor move (small, numeric), a chat post
//! (strings, a union, an optional) and a UI patch (an id and ~256 bytes).
//!
//! Run: `cargo bench -p tagwire-tests --bench codec`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tagwire::Protocol;
use tagwire_tests::{chat, everything, ui};

fn bench_message<P: Protocol>(c: &mut Criterion, name: &str, message: &P) {
    let mut group = c.benchmark_group(name);
    let mut text = String::with_capacity(4096);
    let mut binary = Vec::with_capacity(4096);
    group.bench_function("encode_text", |b| {
        b.iter(|| {
            text.clear();
            black_box(message).encode_text(&mut text);
            black_box(text.len())
        });
    });
    group.bench_function("encode_binary", |b| {
        b.iter(|| {
            binary.clear();
            black_box(message).encode_binary(&mut binary);
            black_box(binary.len())
        });
    });
    let text = message.to_text();
    let binary = message.to_binary();
    group.bench_function("decode_text", |b| {
        b.iter(|| P::decode_text(black_box(&text)).is_ok());
    });
    group.bench_function("decode_binary", |b| {
        b.iter(|| P::decode_binary(black_box(&binary)).is_ok());
    });
    group.finish();
    eprintln!(
        "{name}: text frame {} bytes, binary frame {} bytes",
        text.len(),
        binary.len()
    );
}

fn codec(c: &mut Criterion) {
    let cursor = everything::ClientMessage::from(everything::CursorMoveV1 {
        user: 4821,
        x: 512.5,
        y: 384.25,
        buttons: 1,
    });
    let chat = chat::ServerMessage::from(chat::PostV2 {
        room: "general".into(),
        author: chat::Author {
            name: "Ada Lovelace".into(),
            avatar: None,
            presence: chat::Presence::Online,
        },
        body: chat::Body::Text {
            content: "Shipping the new build at 5pm | ping me if anything looks off 🚀".into(),
        },
        sent_ms: 1_732_890_000_000,
        reply_to: Some(1_732_889_990_123),
    });
    let patch = ui::ServerMessage::from(ui::UpdateUiV1 {
        id: "sidebar/notifications".into(),
        patch: (0..=255u8).collect(),
    });
    bench_message(c, "cursor_move", &cursor);
    bench_message(c, "chat_post", &chat);
    bench_message(c, "ui_patch", &patch);
}

criterion_group!(benches, codec);
criterion_main!(benches);
