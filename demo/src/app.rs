//! The application: a board shared by every server instance. The instances
//! share one room through one broadcast backend (docs/SCALE.md), as real
//! nodes share it through Redis: a chat line accepted by any instance
//! reaches the clients of all of them, so the clients of the old and the new
//! server keep talking during a deploy, and a page that moves replays what
//! it missed.
//!
//! Cursors are presence (SPEC §9.8): a page that knows it connects with
//! `?member=KEY&name=NAME` (KEY kept for its browser session), the handler
//! makes it a present member of the cursors' room, and the page sets its
//! cursor there; every page sees the others come, move and go, on any
//! instance, and a page moved by a deploy is not seen leaving (the member
//! lingers). Last week's page knows no presence: it still sends `Move`,
//! relayed as `Moved`.
//!
//! The handler deals in the newest versions only (`Say v2`, `Said v2`,
//! `React`, `Reacted`): the runtime upgrades what pages built from an older
//! schema send, and converts what they are sent (docs/DEMO.md, "Old and new
//! pages").

use std::collections::HashMap;

use axum::extract::Query;
use tagwire::server::{CloseReport, ConnectRequest, Connection, Denied, Handler};

use crate::board::{
    self, ClientMessage, CursorV1, JoinedV1, MovedV1, ReactedV1, SaidV2, SayV2, ServerMessage,
};

/// Every connection of every instance is in this room.
const ROOM: &str = "board";
/// The pages that show their cursors through presence are its members.
pub const CURSORS: &str = "cursors";
/// The longest member key a page may choose (it uses 32 hex digits).
const MAX_MEMBER_CHARS: usize = 64;
const MAX_NAME_CHARS: usize = 24;
const MAX_TEXT_CHARS: usize = 500;
/// The schema's `@len(1..=8)` on `emoji`.
const MAX_EMOJI_CHARS: usize = 8;
/// Cursor positions are thousandths of the board's width and height.
const MAX_POSITION: u16 = 1000;

/// What a page said about itself when it connected: its member key and
/// name when it shows its cursor through presence; nothing from last
/// week's page.
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    pub presence: Option<(String, String)>,
}

/// The `Authenticate` hook: reads `member` and `name` from the query. A
/// member key that is not 1 to 64 letters, digits, `-` or `_` means no
/// presence (the page still chats); nobody is refused.
pub fn visitor(request: &ConnectRequest) -> std::future::Ready<Result<Visitor, Denied>> {
    let query = Query::<HashMap<String, String>>::try_from_uri(&request.uri)
        .map(|q| q.0)
        .unwrap_or_default();
    let member = query.get("member").filter(|m| {
        !m.is_empty()
            && m.len() <= MAX_MEMBER_CHARS
            && m.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let presence = member.map(|m| {
        let name = query.get("name").map_or("", String::as_str);
        (m.clone(), clip(name, MAX_NAME_CHARS, "guest"))
    });
    std::future::ready(Ok(Visitor { presence }))
}

/// One instance's handler.
#[derive(Debug)]
pub struct Board {
    pub instance: u32,
}

/// At most `max` characters of `s`, trimmed; `fallback` when that is empty.
fn clip(s: &str, max: usize, fallback: &str) -> String {
    let clipped: String = s.trim().chars().take(max).collect();
    if clipped.is_empty() {
        fallback.to_owned()
    } else {
        clipped
    }
}

impl Board {
    /// Relays a chat line, in the newest version: pages that only know
    /// `Said v1` get it converted by the runtime (`Package::downgrade`).
    fn say(&self, conn: &Connection<board::Package, Visitor>, say: SayV2) {
        let said = ServerMessage::SaidV2(SaidV2 {
            name: clip(&say.name, MAX_NAME_CHARS, "guest"),
            text: clip(&say.text, MAX_TEXT_CHARS, "…"),
            instance: self.instance,
            color: say.color,
        });
        conn.broadcast(ROOM, &said);
    }
}

impl Handler<board::Package, Visitor> for Board {
    async fn on_open(&self, conn: &Connection<board::Package, Visitor>) {
        conn.join(ROOM);
        if let Some((member, name)) = &conn.context().presence {
            // The top left corner until the page's pointer moves: the
            // others see who is here at once.
            let cursor = ServerMessage::CursorV1(CursorV1 {
                name: name.clone(),
                x: 0,
                y: 0,
            });
            if let Err(e) = conn.join_presence(CURSORS, member, &cursor).await {
                tracing::warn!(instance = self.instance, conn = conn.id(), %member, "no cursor: {e}");
            }
        }
    }

    async fn on_message(&self, conn: &Connection<board::Package, Visitor>, message: ClientMessage) {
        match message {
            ClientMessage::JoinV1(join) => {
                let name = clip(&join.name, MAX_NAME_CHARS, "guest");
                tracing::info!(instance = self.instance, conn = conn.id(), %name, "joined");
                let _ = conn.send(JoinedV1 {
                    instance: self.instance,
                    connection: conn.id(),
                });
            }
            ClientMessage::SayV2(say) => self.say(conn, say),
            // The runtime upgrades `Say v1` to `Say v2` before the handler
            // sees it (`Package::upgrade`); the same conversion here keeps
            // the match total without a panic.
            ClientMessage::SayV1(say) => {
                self.say(conn, tagwire::Upgrade::<SayV2>::upgrade(say));
            }
            ClientMessage::MoveV1(m) => {
                let moved = ServerMessage::MovedV1(MovedV1 {
                    name: clip(&m.name, MAX_NAME_CHARS, "guest"),
                    x: m.x.min(MAX_POSITION),
                    y: m.y.min(MAX_POSITION),
                });
                conn.broadcast_to_others(ROOM, &moved);
            }
            ClientMessage::ReactV1(react) => {
                // Pages built before reactions existed cannot be sent this:
                // the runtime sends them "protocol outdated" instead.
                let reacted = ServerMessage::ReactedV1(ReactedV1 {
                    name: clip(&react.name, MAX_NAME_CHARS, "guest"),
                    emoji: clip(&react.emoji, MAX_EMOJI_CHARS, "👍"),
                });
                conn.broadcast(ROOM, &reacted);
            }
            // A cursor is presence: the page sets it with `setPresence`
            // (a presence frame the runtime handles), never as a message.
            ClientMessage::CursorV1(_) => {}
        }
    }

    async fn on_close(&self, conn: &Connection<board::Package, Visitor>, report: &CloseReport) {
        tracing::info!(
            instance = self.instance,
            conn = conn.id(),
            code = ?report.code,
            undelivered = report.undelivered,
            "closed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::clip;
    use crate::board::{
        self, ClientMessage, Color, ReactedV1, SaidV1, SaidV2, SayV1, SayV2, ServerMessage,
    };
    use tagwire::Package as _;

    /// What the runtime does for last week's page (demo/web-v1), with the
    /// conversions generated from the schema.
    #[test]
    fn old_pages_are_upgraded_from_and_converted_for() {
        let say = SayV1 {
            name: "olga".into(),
            text: "hi".into(),
        };
        assert_eq!(
            board::Package::upgrade(ClientMessage::SayV1(say)),
            ClientMessage::SayV2(SayV2 {
                name: "olga".into(),
                text: "hi".into(),
                color: Color::Ink,
            })
        );
        let said = SaidV2 {
            name: "nick".into(),
            text: "hello".into(),
            instance: 2,
            color: Color::Red,
        };
        assert_eq!(
            board::Package::downgrade(&ServerMessage::SaidV2(said)),
            Some(ServerMessage::SaidV1(SaidV1 {
                name: "nick".into(),
                text: "hello".into(),
                instance: 2,
            }))
        );
        // No older version of Reacted: such pages get "protocol outdated".
        let reacted = ReactedV1 {
            name: "nick".into(),
            emoji: "🎉".into(),
        };
        assert_eq!(
            board::Package::downgrade(&ServerMessage::ReactedV1(reacted)),
            None
        );
    }

    #[test]
    fn clip_trims_bounds_and_falls_back() {
        assert_eq!(clip("  ana  ", 24, "guest"), "ana");
        assert_eq!(clip("   ", 24, "guest"), "guest");
        assert_eq!(clip("ééééé", 3, "guest"), "ééé");
    }
}
