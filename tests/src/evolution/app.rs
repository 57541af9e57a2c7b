//! The live-room application, once per week's protocol: shared by the
//! `evolution-server` binary (which the Node tests drive) and the Rust
//! client's end-to-end test, so both see one behaviour.
//!
//! A `Say` joins its room and is relayed to it as a `Post`, except two
//! commands that let a test make the server send the other messages:
//! `/score N` broadcasts a `Score` of `N` points, and `/react E` (v2 only) a
//! `Reaction`. A `Move` is answered, to the sender only, with a `Post` in
//! room `""` saying where the marker went.
//!
//! Every message the handler receives is first given to the application's
//! observer as a values-file line (SPEC §8), which is how the tests see what
//! the handler saw: after the runtime's upgrade, a v1 `Say` arrives as v2.

use tagwire::server::{Connection, Handler};

use super::{v1, v2};

/// Called with each message the handler receives, as a JSON line.
pub type Observer = Box<dyn Fn(String) + Send + Sync>;

/// What a `Say` asks for.
enum Command<'a> {
    /// Relay the line.
    Line,
    /// `/score N`: announce N points for the sender.
    Score(&'a str),
    /// `/react E`: announce a reaction.
    React(&'a str),
}

impl<'a> Command<'a> {
    fn parse(text: &'a str) -> Self {
        if let Some(points) = text.strip_prefix("/score ") {
            Command::Score(points.trim())
        } else if let Some(emoji) = text.strip_prefix("/react ") {
            Command::React(emoji.trim())
        } else {
            Command::Line
        }
    }
}

/// Who sent something, as Post and Score name them.
fn sender<P: tagwire::Package>(conn: &Connection<P>) -> String {
    format!("#{}", conn.id())
}

/// The application as it was built last week.
pub struct LiveV1 {
    observe: Observer,
}

impl std::fmt::Debug for LiveV1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveV1").finish_non_exhaustive()
    }
}

impl LiveV1 {
    pub fn new(observe: Observer) -> Self {
        LiveV1 { observe }
    }
}

impl Handler<v1::live::Package> for LiveV1 {
    async fn on_message(
        &self,
        conn: &Connection<v1::live::Package>,
        message: v1::live::ClientMessage,
    ) {
        use v1::live::{ClientMessage, PostV1, ScoreV1, ServerMessage};
        (self.observe)(message.to_json_line().to_string());
        match message {
            ClientMessage::SayV1(say) => {
                conn.join(&say.room);
                let out = match Command::parse(&say.text) {
                    Command::Score(points) => match points.parse() {
                        Ok(points) => ServerMessage::ScoreV1(ScoreV1 {
                            player: sender(conn),
                            points,
                        }),
                        Err(_) => return,
                    },
                    // Last week's server had no reactions: relayed as text.
                    Command::React(_) | Command::Line => ServerMessage::PostV1(PostV1 {
                        room: say.room.clone(),
                        text: say.text,
                    }),
                };
                conn.broadcast(&say.room, &out);
            }
            // Nobody showed typing indicators yet: observed only.
            ClientMessage::TypingV1(_) => {}
            ClientMessage::MoveV1(to) => {
                // A closed connection has nobody to answer.
                let _ = conn.send(PostV1 {
                    room: String::new(),
                    text: format!("moved to {}, {}", to.x, to.y),
                });
            }
        }
    }
}

/// The application as it is built this week: its handler only ever sees the
/// newest version of each client message.
pub struct LiveV2 {
    observe: Observer,
}

impl std::fmt::Debug for LiveV2 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveV2").finish_non_exhaustive()
    }
}

impl LiveV2 {
    pub fn new(observe: Observer) -> Self {
        LiveV2 { observe }
    }
}

impl Handler<v2::live::Package> for LiveV2 {
    async fn on_message(
        &self,
        conn: &Connection<v2::live::Package>,
        message: v2::live::ClientMessage,
    ) {
        use v2::live::{ClientMessage, PostV2, ReactionV1, ScoreV2, ServerMessage};
        (self.observe)(message.to_json_line().to_string());
        match message {
            ClientMessage::SayV2(say) => {
                conn.join(&say.room);
                let out = match Command::parse(&say.text) {
                    Command::Score(points) => match points.parse() {
                        Ok(points) => ServerMessage::ScoreV2(ScoreV2 {
                            player: sender(conn),
                            points,
                        }),
                        Err(_) => return,
                    },
                    Command::React(emoji) => ServerMessage::ReactionV1(ReactionV1 {
                        room: say.room.clone(),
                        emoji: emoji.to_string(),
                    }),
                    Command::Line => ServerMessage::PostV2(PostV2 {
                        room: say.room.clone(),
                        text: say.text,
                        author: sender(conn),
                        edited: false,
                    }),
                };
                // Old clients in the room get it converted, or the outdated notice.
                conn.broadcast(&say.room, &out);
            }
            ClientMessage::MoveV2(to) => {
                // A closed connection has nobody to answer.
                let _ = conn.send(PostV2 {
                    room: String::new(),
                    text: format!("moved to {}, {}", to.x, to.y),
                    author: "server".to_string(),
                    edited: false,
                });
            }
            // The runtime upgrades these before the handler (they were
            // observed above, with their version, so a test would see it).
            ClientMessage::SayV1(_) | ClientMessage::MoveV1(_) => {}
        }
    }
}
