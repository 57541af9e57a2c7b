//! Encoding into a buffer that already has room allocates nothing.
//! (Own test binary: allocation-counter replaces the global allocator.)
#![allow(clippy::unwrap_used)]

mod common;

use common::{Demo, Msg, Point, RenderUi};
use tagwire::Protocol;

#[test]
fn encoding_into_a_reused_buffer_does_not_allocate() {
    let msgs = [
        Msg::RenderUi(RenderUi {
            id: "main".into(),
            tree: "<div>|~\\\n</div>".into(),
        }),
        Msg::Demo(Demo {
            flag: true,
            pos: Point { x: -3, y: 7 },
            tags: vec!["~a".into(), "b|c".into()],
            note: Some("n".into()),
        }),
        Msg::Everything(Box::new(common::sample())),
    ];
    let mut text = String::with_capacity(4096);
    let mut bin = Vec::with_capacity(4096);
    let info = allocation_counter::measure(|| {
        for _ in 0..10 {
            for m in &msgs {
                text.clear();
                m.encode_text(&mut text);
                bin.clear();
                m.encode_binary(&mut bin);
            }
        }
    });
    assert_eq!(info.count_total, 0, "{info:?}");
    // Sanity: the counter does count.
    let info = allocation_counter::measure(|| {
        std::hint::black_box(msgs[0].to_text());
    });
    assert!(info.count_total > 0);
}
