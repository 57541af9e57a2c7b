//! In-process rooms: named sets of connections that receive a broadcast.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_tungstenite::tungstenite::Message;

use super::connection::ConnectionState;
use super::downgrade::Older;
use crate::frame::to_message;
use crate::{Encoding, Package, Protocol};

type Members = HashMap<u64, Arc<ConnectionState>>;

/// Every room of one server.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: Mutex<HashMap<Arc<str>, Members>>,
}

impl Rooms {
    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<str>, Members>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn join(&self, conn: &Arc<ConnectionState>, room: &str) {
        let mut rooms = self.lock();
        let name = match rooms.get_key_value(room) {
            Some((name, _)) => name.clone(),
            None => Arc::from(room),
        };
        let members = rooms.entry(name.clone()).or_default();
        if members.insert(conn.id, conn.clone()).is_none() {
            conn.rooms
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(name);
        }
    }

    pub(crate) fn leave(&self, conn: &ConnectionState, room: &str) {
        let mut rooms = self.lock();
        if let Some(members) = rooms.get_mut(room) {
            members.remove(&conn.id);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
        conn.rooms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|r| &**r != room);
    }

    /// Removes a closed connection from every room it was in.
    pub(crate) fn leave_all(&self, conn: &ConnectionState) {
        let names = std::mem::take(&mut *conn.rooms.lock().unwrap_or_else(PoisonError::into_inner));
        if names.is_empty() {
            return;
        }
        let mut rooms = self.lock();
        for name in names {
            if let Some(members) = rooms.get_mut(&name) {
                members.remove(&conn.id);
                if members.is_empty() {
                    rooms.remove(&name);
                }
            }
        }
    }

    pub(crate) fn len(&self, room: &str) -> usize {
        self.lock().get(room).map_or(0, HashMap::len)
    }

    /// Encodes `message` at most once per encoding and queues it for every
    /// member (but `except`); returns how many accepted it. Members
    /// generated from an older protocol get the newest older version they
    /// know, converted and encoded at most once per version and encoding,
    /// or the outdated notice (not counted).
    pub(crate) fn broadcast<P: Package>(
        &self,
        room: &str,
        message: &P::Server,
        except: Option<u64>,
    ) -> usize {
        let members: Vec<Arc<ConnectionState>> = match self.lock().get(room) {
            Some(members) => members
                .values()
                .filter(|c| Some(c.id) != except)
                .cloned()
                .collect(),
            None => return 0,
        };
        // Every member's decoder would reject a value that breaks a schema
        // constraint: refuse it once, loudly, rather than per member.
        if let Err(violation) = message.validate() {
            tracing::error!(room, %violation, "broadcast refused: the message breaks a constraint");
            return 0;
        }
        let header = message.header();
        let mut text: Option<Message> = None;
        let mut binary: Option<Message> = None;
        // Only allocated when a member is too old for `message`.
        let mut older: Option<Box<Older<'_, P>>> = None;
        let mut accepted = 0;
        for member in members {
            let frame = match member.outdated_peer().filter(|p| !p.knows(header)) {
                None => {
                    let slot = match member.encoding {
                        Encoding::Text => &mut text,
                        Encoding::Binary => &mut binary,
                    };
                    // Frames share their bytes (reference-counted), so each
                    // member costs a queue slot, not a copy.
                    slot.get_or_insert_with(|| to_message(message, member.encoding))
                        .clone()
                }
                Some(peer) => {
                    let older = older.get_or_insert_with(|| Box::new(Older::new(message)));
                    match older.frame_for(peer, member.encoding) {
                        Some(frame) => frame,
                        None => {
                            let _ = member.push(older.notice(member.encoding));
                            continue;
                        }
                    }
                }
            };
            if member.push(frame).is_ok() {
                accepted += 1;
            }
        }
        accepted
    }
}
