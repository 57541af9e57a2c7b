//! What a relay server does with each client message: shared by the
//! standalone `relay-server` binary and the runtime tests' handler, so both
//! serve the same protocol behaviour.

use tagwire::server::Connection;

use crate::relay::{self, ClientMessage, DeliveredV1, ServerMessage};

/// Joins and leaves rooms, relays publishes to their room (sender
/// included), echoes echoes.
pub fn relay(conn: &Connection<relay::Package>, message: ClientMessage) {
    match message {
        ClientMessage::JoinV1(join) => conn.join(&join.room),
        ClientMessage::LeaveV1(leave) => conn.leave(&leave.room),
        ClientMessage::PublishV1(p) => {
            let delivered = ServerMessage::DeliveredV1(DeliveredV1 {
                room: p.room.clone(),
                from: conn.id().to_string(),
                seq: p.seq,
                body: p.body,
            });
            conn.broadcast(&p.room, &delivered);
        }
        ClientMessage::EchoV1(echo) => {
            // A closed connection has nobody to echo to.
            let _ = conn.send(echo);
        }
    }
}
