//! Runs one contender's encode or decode over the dataset many times, for a
//! profiler: `valgrind --tool=callgrind target/release/profile tagwire-binary decode 20`.
//! Contenders: tagwire-text, tagwire-binary, serde_json, postcard, naive; for
//! decode also tagwire-binary-ref and postcard-ref (borrowed views).

use std::hint::black_box;
use tagwire::Protocol;
use tagwire_bench_codecs::traffic::{ServerMessage, ServerMessageRef};
use tagwire_bench_codecs::{LEN, decode_naive, encode_naive, generate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (contender, op) = (
        args.get(1).map_or("tagwire-binary", String::as_str),
        args.get(2).map_or("decode", String::as_str),
    );
    let passes: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(20);
    let messages = generate(LEN);
    let text: Vec<String> = messages.iter().map(Protocol::to_text).collect();
    let binary: Vec<Vec<u8>> = messages.iter().map(Protocol::to_binary).collect();
    let json: Vec<String> = messages
        .iter()
        .map(|m| serde_json::to_string(m).expect("json"))
        .collect();
    let post: Vec<Vec<u8>> = messages
        .iter()
        .map(|m| postcard::to_stdvec(m).expect("postcard"))
        .collect();
    let mut s = String::with_capacity(1 << 16);
    let mut b: Vec<u8> = Vec::with_capacity(1 << 16);
    let mut scratch = vec![0u8; 1 << 16];
    let mut n = 0usize;
    for _ in 0..passes {
        match (contender, op) {
            ("tagwire-text", "encode") => messages.iter().for_each(|m| {
                s.clear();
                m.encode_text(&mut s);
                n += black_box(&s).len();
            }),
            ("tagwire-binary", "encode") => messages.iter().for_each(|m| {
                b.clear();
                m.encode_binary(&mut b);
                n += black_box(&b).len();
            }),
            ("serde_json", "encode") => messages.iter().for_each(|m| {
                b.clear();
                serde_json::to_writer(&mut b, m).expect("json");
                n += black_box(&b).len();
            }),
            ("postcard", "encode") => messages.iter().for_each(|m| {
                n += black_box(postcard::to_slice(m, &mut scratch).expect("postcard")).len();
            }),
            ("naive", "encode") => messages
                .iter()
                .for_each(|m| n += black_box(encode_naive(m)).len()),
            ("tagwire-text", "decode") => text.iter().for_each(|f| {
                black_box(ServerMessage::decode_text(f).expect("text"));
            }),
            ("tagwire-binary", "decode") => binary.iter().for_each(|f| {
                black_box(ServerMessage::decode_binary(f).expect("binary"));
            }),
            ("tagwire-binary-ref", "decode") => binary.iter().for_each(|f| {
                black_box(ServerMessageRef::decode_binary_ref(f).expect("binary"));
            }),
            ("postcard-ref", "decode") => post.iter().for_each(|f| {
                black_box(postcard::from_bytes::<ServerMessageRef<'_>>(f).expect("postcard"));
            }),
            ("serde_json", "decode") => json.iter().for_each(|f| {
                black_box(serde_json::from_str::<ServerMessage>(f).expect("json"));
            }),
            ("postcard", "decode") => post.iter().for_each(|f| {
                black_box(postcard::from_bytes::<ServerMessage>(f).expect("postcard"));
            }),
            ("naive", "decode") => text.iter().for_each(|f| {
                black_box(decode_naive(f));
            }),
            _ => panic!("unknown contender/op {contender} {op}"),
        }
    }
    eprintln!("{passes} passes of {LEN} messages ({n} bytes written)");
}
