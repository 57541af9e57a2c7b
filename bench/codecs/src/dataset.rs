//! A seeded generator of realtime-app traffic: the mix a collaborative
//! whiteboard with chat sends over one WebSocket, dominated by cursor moves.
//!
//! | message | share | shape |
//! | --- | --- | --- |
//! | `CursorMove` | 32 % | ids, a sequence number and a time, two `f32` coordinates in eighths of a pixel, pen pressure (`f32`, 1/256 steps) on 1 in 5 |
//! | `Presence` | 8 % | short strings (names, rooms, a colour, the client) and an enum |
//! | `Chat` | 15 % | 10 to 200 bytes of text, about 10 % with non-ASCII, about 5 % with `\|` |
//! | `Typing` | 6 % | a room, an id and a bool |
//! | `UiPatch` | 14 % | ints, bools, enums, optionals and a union |
//! | `Selection` | 7 % | a list of 0 to 50 ids |
//! | `ListUpdate` | 5 % | a list of 0 to 50 rows (id, title, bool, int) |
//! | `Reaction` | 6 % | two ids and an emoji |
//! | `Ack` | 6 % | one sequence number |
//! | `RenderTree` | 1 % | about 1 KB: 30 to 50 elements of a flattened tree |
//!
//! `rand`'s `StdRng` from a fixed seed: the same values on every run and
//! every machine (for one version of `rand`).

use crate::traffic::{
    AckV1, Align, Change, ChatV1, CursorMoveV1, ListUpdateV1, Node, PresenceV1, ReactionV1,
    RenderTreeV1, Row, SelectionV1, ServerMessage, Status, Tag, Tool, TypingV1, UiPatchV1,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The dataset's seed.
pub const SEED: u64 = 0x7a67_7769_7265_0008;

/// How many messages the benchmarks use: a few hundred KB of frames, so the
/// working set stays in cache as a busy connection's would.
pub const LEN: usize = 4000;

const NAMES: &[&str] = &[
    "ada", "grace", "linus", "margaret", "ken", "barbara", "dennis", "frances", "alan", "radia",
    "Zoë", "José", "Øyvind", "Chloé", "Anaïs", "Jürgen", "Siobhan", "Wei", "Priya", "Olufemi",
];
const ROOMS: &[&str] = &[
    "lobby",
    "design",
    "eng-standup",
    "roadmap-2027",
    "random",
    "support",
    "board/4821",
    "board/77",
];
const COLORS: &[&str] = &[
    "#e0457b", "#2f80ed", "#27ae60", "#f2994a", "#9b51e0", "#56ccf2",
];
const CLIENTS: &[&str] = &[
    "web/Chrome 131",
    "web/Firefox 133",
    "web/Safari 18.1",
    "ios/2.14.0",
    "android/2.14.1",
    "desktop/mac 2.13.9",
];
const EMOJI: &[&str] = &["👍", "🎉", "❤️", "😂", "🚀", "👀", "✅", "🔥", "+1"];
const WORDS: &[&str] = &[
    "the", "build", "is", "green", "again", "can", "you", "look", "at", "this", "diagram",
    "before", "lunch", "I", "moved", "the", "sidebar", "left", "ship", "it", "tomorrow", "thanks",
    "ok", "sounds", "good", "which", "branch", "review", "please", "merged", "deploy", "failed",
    "retry", "meeting", "notes", "are", "in", "doc", "new", "version", "of", "the", "login",
    "flow",
];
const NON_ASCII: &[&str] = &[
    "café",
    "naïve",
    "über",
    "déjà",
    "vu",
    "日本語",
    "привет",
    "🎉",
    "👍",
    "Zoë",
    "ça",
    "marche",
];
const LABELS: &[&str] = &[
    "Save",
    "Cancel",
    "Share…",
    "Export PNG",
    "Undo",
    "Zoom 100%",
    "Delete",
    "Rename layer",
];
const CLASSES: &[&str] = &[
    "btn",
    "btn primary",
    "card",
    "row",
    "col",
    "avatar sm",
    "badge",
    "toolbar",
    "menu open",
    "grid gap-2",
];

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// Words up to about `target` bytes; `non_ascii` mixes in accented words,
/// CJK, Cyrillic and emoji; `pipe` puts a `|` in.
fn sentence(rng: &mut StdRng, target: usize, non_ascii: bool, pipe: bool) -> String {
    let mut s = String::new();
    while s.len() < target {
        if !s.is_empty() {
            s.push(' ');
        }
        let word = if non_ascii && rng.random_bool(0.3) {
            pick(rng, NON_ASCII)
        } else {
            pick(rng, WORDS)
        };
        s.push_str(word);
    }
    if pipe {
        let at = s
            .char_indices()
            .map(|(i, _)| i)
            .nth(rng.random_range(0..s.chars().count()))
            .unwrap_or(0);
        s.insert_str(at, " | ");
    }
    s
}

/// A size from 0 to 50, most of them small, as list views and selections are.
fn list_len(rng: &mut StdRng) -> usize {
    match rng.random_range(0..10) {
        0..=3 => rng.random_range(0..=3),
        4..=7 => rng.random_range(4..=15),
        _ => rng.random_range(16..=50),
    }
}

/// Board coordinates at a zoom level: eighths of a pixel.
fn eighths(rng: &mut StdRng, max: u32) -> f32 {
    rng.random_range(0..max * 8) as f32 / 8.0
}

fn cursor(rng: &mut StdRng) -> ServerMessage {
    let tool = match rng.random_range(0..10) {
        0..=5 => Tool::Pointer,
        6..=7 => Tool::Pen,
        8 => Tool::Eraser,
        _ => Tool::Hand,
    };
    CursorMoveV1 {
        user: rng.random_range(1..5000),
        seq: rng.random_range(1..200_000),
        at_ms: rng.random_range(1_000..3_600_000),
        x: eighths(rng, 1920),
        y: eighths(rng, 1080),
        buttons: if rng.random_bool(0.3) { 1 } else { 0 },
        tool,
        pressure: (tool == Tool::Pen).then(|| rng.random_range(1..=256) as f32 / 256.0),
    }
    .into()
}

fn presence(rng: &mut StdRng) -> ServerMessage {
    PresenceV1 {
        user: rng.random_range(1..5000),
        name: pick(rng, NAMES).to_owned(),
        status: match rng.random_range(0..10) {
            0..=5 => Status::Online,
            6..=7 => Status::Away,
            8 => Status::Busy,
            _ => Status::Offline,
        },
        room: pick(rng, ROOMS).to_owned(),
        color: rng.random_bool(0.7).then(|| pick(rng, COLORS).to_owned()),
        client: pick(rng, CLIENTS).to_owned(),
    }
    .into()
}

fn chat(rng: &mut StdRng) -> ServerMessage {
    // Mostly short lines, some long ones: 10 to 200 bytes.
    let target = if rng.random_bool(0.7) {
        rng.random_range(10..=60)
    } else {
        rng.random_range(61..=190)
    };
    let (non_ascii, pipe) = (rng.random_bool(0.1), rng.random_bool(0.05));
    let mut text = sentence(rng, target, non_ascii, pipe);
    while text.len() > 200 {
        text.pop();
    }
    ChatV1 {
        room: pick(rng, ROOMS).to_owned(),
        user: rng.random_range(1..5000),
        seq: rng.random_range(100_000..2_000_000),
        text,
        reply_to: rng
            .random_bool(0.2)
            .then(|| rng.random_range(100_000..2_000_000)),
    }
    .into()
}

fn typing(rng: &mut StdRng) -> ServerMessage {
    TypingV1 {
        room: pick(rng, ROOMS).to_owned(),
        user: rng.random_range(1..5000),
        typing: rng.random_bool(0.6),
    }
    .into()
}

fn ui_patch(rng: &mut StdRng) -> ServerMessage {
    let change = match rng.random_range(0..4) {
        0 => Change::None,
        1 => Change::Moved {
            x: rng.random_range(-400..1600),
            y: rng.random_range(-200..900),
        },
        2 => Change::Resized {
            w: rng.random_range(16..1200),
            h: rng.random_range(16..800),
        },
        _ => Change::Styled {
            class: pick(rng, CLASSES).to_owned(),
        },
    };
    UiPatchV1 {
        node: rng.random_range(1..20_000),
        visible: rng.random_bool(0.85),
        enabled: rng.random_bool(0.5).then(|| rng.random_bool(0.8)),
        width: rng.random_bool(0.4).then(|| rng.random_range(0..1600)),
        height: rng.random_bool(0.4).then(|| rng.random_range(0..900)),
        align: match rng.random_range(0..4) {
            0 => Align::Start,
            1 => Align::Center,
            2 => Align::End,
            _ => Align::Stretch,
        },
        label: rng.random_bool(0.3).then(|| pick(rng, LABELS).to_owned()),
        z: rng.random_range(-5..50),
        change,
    }
    .into()
}

fn selection(rng: &mut StdRng) -> ServerMessage {
    let n = list_len(rng);
    SelectionV1 {
        user: rng.random_range(1..5000),
        ids: (0..n).map(|_| rng.random_range(1..20_000)).collect(),
    }
    .into()
}

fn list_update(rng: &mut StdRng) -> ServerMessage {
    let n = list_len(rng);
    ListUpdateV1 {
        list: format!("tasks/{}", rng.random_range(1..300)),
        offset: rng.random_range(0..40) * 50,
        rows: (0..n)
            .map(|_| {
                let target = rng.random_range(5..30);
                let (non_ascii, pipe) = (rng.random_bool(0.1), rng.random_bool(0.02));
                Row {
                    id: rng.random_range(1..100_000),
                    title: sentence(rng, target, non_ascii, pipe),
                    done: rng.random_bool(0.4),
                    score: rng.random_range(-100..1000),
                }
            })
            .collect(),
    }
    .into()
}

fn reaction(rng: &mut StdRng) -> ServerMessage {
    ReactionV1 {
        message: rng.random_range(100_000..2_000_000),
        user: rng.random_range(1..5000),
        emoji: pick(rng, EMOJI).to_owned(),
    }
    .into()
}

fn ack(rng: &mut StdRng) -> ServerMessage {
    AckV1 {
        seq: rng.random_range(100_000..2_000_000),
    }
    .into()
}

const TAGS: &[Tag] = &[
    Tag::Div,
    Tag::Span,
    Tag::P,
    Tag::Button,
    Tag::Input,
    Tag::Img,
    Tag::Ul,
    Tag::Li,
    Tag::H1,
    Tag::H2,
    Tag::Svg,
    Tag::Path,
];

fn render_tree(rng: &mut StdRng) -> ServerMessage {
    let n = rng.random_range(30..=50);
    let nodes = (0..n)
        .map(|i| Node {
            parent: if i == 0 { 0 } else { rng.random_range(0..i) },
            tag: TAGS[rng.random_range(0..TAGS.len())],
            id: rng
                .random_bool(0.3)
                .then(|| format!("n{}", rng.random_range(1..5000))),
            class: rng.random_bool(0.6).then(|| pick(rng, CLASSES).to_owned()),
            text: rng.random_bool(0.5).then(|| {
                let target = rng.random_range(3..30);
                let non_ascii = rng.random_bool(0.1);
                sentence(rng, target, non_ascii, false)
            }),
        })
        .collect();
    RenderTreeV1 {
        root: format!("board/{}/canvas", rng.random_range(1..5000)),
        version: rng.random_range(1..10_000),
        nodes,
    }
    .into()
}

/// `count` messages in the shares of the module's table, from [`SEED`].
pub fn generate(count: usize) -> Vec<ServerMessage> {
    let mut rng = StdRng::seed_from_u64(SEED);
    (0..count)
        .map(|_| match rng.random_range(0..100) {
            0..=31 => cursor(&mut rng),
            32..=39 => presence(&mut rng),
            40..=54 => chat(&mut rng),
            55..=60 => typing(&mut rng),
            61..=74 => ui_patch(&mut rng),
            75..=81 => selection(&mut rng),
            82..=86 => list_update(&mut rng),
            87..=92 => reaction(&mut rng),
            93..=98 => ack(&mut rng),
            _ => render_tree(&mut rng),
        })
        .collect()
}
