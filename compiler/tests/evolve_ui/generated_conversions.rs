// Every step of `chatter` is generated: they compile and convert as the
// schema says (defaults, `Some`, `None`, dropped fields, chains of upgrades).

#[allow(dead_code)]
mod chatter {
    include!("../fixtures/evolve/chatter.rs");
}

use chatter::*;
use tagwire::{Downgrade, Header, Package as _, Upgrade};

fn main() {
    // Downgrades walk one step at a time.
    let v3 = PostV3 {
        room: "r".into(),
        body: "b".into(),
        mood: Mood::Happy,
        edited: true,
        likes: vec!["x".into()],
    };
    let v2: PostV2 = Downgrade::<PostV2>::downgrade(&v3).unwrap();
    assert_eq!(
        v2,
        PostV2 { room: "r".into(), body: "b".into(), tag: None, mood: Mood::Happy, edited: true }
    );
    let step = Package::downgrade(&ServerMessage::PostV3(v3)).unwrap();
    assert_eq!(step, ServerMessage::PostV2(v2.clone()));
    let step = Package::downgrade(&step).unwrap();
    assert_eq!(
        step,
        ServerMessage::PostV1(PostV1 { room: "r".into(), body: "b".into(), tag: None })
    );
    assert_eq!(Package::downgrade(&step), None, "v1 is the oldest");

    // Upgrades walk to the newest version, filling in defaults.
    let v1 = SayV1 { room: "r".into(), body: "b".into() };
    let v2: SayV2 = Upgrade::<SayV2>::upgrade(v1.clone());
    assert_eq!(
        v2,
        SayV2 { room: "r".into(), body: "b".into(), mood: Mood::Calm, reply_to: None, priority: 3 }
    );
    let newest = SayV3 {
        room: "r".into(),
        body: Some("b".into()),
        mood: Mood::Calm,
        reply_to: None,
        priority: 3,
        label: "none".into(),
        ok: true,
        ratio: 0.1,
        offset: -7,
    };
    assert_eq!(Package::upgrade(ClientMessage::SayV1(v1)), ClientMessage::SayV3(newest.clone()));
    assert_eq!(Package::upgrade(ClientMessage::SayV2(v2)), ClientMessage::SayV3(newest.clone()));
    assert_eq!(Package::upgrade(ClientMessage::SayV3(newest.clone())), ClientMessage::SayV3(newest));

    // A message both sides send takes part in both walks.
    let ping = PingV2 { seq: 4, note: Some("n".into()) };
    assert_eq!(
        Package::downgrade(&ServerMessage::PingV2(ping)),
        Some(ServerMessage::PingV1(PingV1 { seq: 4 }))
    );
    assert_eq!(
        Package::upgrade(ClientMessage::PingV1(PingV1 { seq: 4 })),
        ClientMessage::PingV2(PingV2 { seq: 4, note: None })
    );

    // Tombstones and names.
    assert_eq!(REMOVED, Package::REMOVED);
    assert_eq!(REMOVED.len(), 1);
    assert_eq!((REMOVED[0].1, REMOVED[0].2), ("Typing", 1));
    assert_eq!(Package::describe(SAY_V3), Some(("Say", 3)));
    assert_eq!(Package::describe(REMOVED[0].0), None, "a removed header is not live");
    assert_eq!(Package::describe(Header::new(*b"zz")), None);
}
