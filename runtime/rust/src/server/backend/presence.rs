//! Presence as a backend keeps it: who is in a room, across nodes, each
//! member with a small state (opaque bytes: the presence message's
//! canonical binary frame), and the events that change it.
//!
//! Presence events are room messages: they take a position in the room's
//! order, are kept in its history and replayed like any other, so a client
//! that resumes after a deploy gets its presence back in step, and a gap
//! tells it to take a fresh snapshot. Their payload starts with
//! [`PRESENCE_MARK`], a byte no message header starts with, so the rooms
//! layer tells them from application messages without a lookup; an engine
//! script builds the same bytes when it removes the members of a dead node.
//!
//! Who removes whom:
//! - a member that leaves is removed at once ([`Backend::presence_leave`]);
//! - a member whose connection closed without leaving (a deploy moving it,
//!   a dropped network) lingers for [`PresenceConfig::linger`]: if the same
//!   member key is set again within it, from any node, the others see an
//!   update (or nothing), never a leave and a join;
//! - the members of a node that stops renewing its lease (killed, cut off)
//!   are removed by the other nodes once [`PresenceConfig::lease`] passed:
//!   the lease lives in the engine, one per node and room, not a timer per
//!   member.
//!
//! [`Backend::presence_leave`]: super::Backend::presence_leave

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::control::RoomPosition as Position;

/// The first byte of a presence event's payload. Message headers use the
/// header alphabet (SPEC §1) and connection-skipping payloads start with 0,
/// so 1 is free.
pub const PRESENCE_MARK: u8 = 1;

/// Longest member key, in bytes.
pub const MAX_MEMBER_KEY: usize = 128;

pub use crate::control::PresenceKind;

/// One presence event, read from (or written to) a room message's payload:
/// `[PRESENCE_MARK, kind, member key…, 0, state…]`. The state is empty for a
/// leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceEvent<'a> {
    /// What happened.
    pub kind: PresenceKind,
    /// Whose presence.
    pub member: &'a str,
    /// The member's state: the presence message's binary frame (empty for
    /// a leave).
    pub state: &'a [u8],
}

impl<'a> PresenceEvent<'a> {
    /// The payload to publish.
    pub fn to_payload(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(3 + self.member.len() + self.state.len());
        out.put_u8(PRESENCE_MARK);
        out.put_u8(self.kind.byte());
        out.put_slice(self.member.as_bytes());
        out.put_u8(0);
        out.put_slice(self.state);
        out.freeze()
    }

    /// The event a payload holds; `None` when it is not a presence event
    /// (or not a well-formed one: an engine never writes those).
    pub fn parse(payload: &'a [u8]) -> Option<Self> {
        let (&mark, rest) = payload.split_first()?;
        if mark != PRESENCE_MARK {
            return None;
        }
        let (&kind, rest) = rest.split_first()?;
        let kind = PresenceKind::from_byte(kind)?;
        let end = rest.iter().position(|&b| b == 0)?;
        let member = std::str::from_utf8(&rest[..end]).ok()?;
        Some(PresenceEvent {
            kind,
            member,
            state: &rest[end + 1..],
        })
    }
}

/// Whether a member key is one presence accepts: 1 to [`MAX_MEMBER_KEY`]
/// bytes, no control characters (so no NUL, which ends it in a payload, and
/// nothing that breaks a log line).
pub fn check_member_key(member: &str) -> Result<(), InvalidMemberKey> {
    if member.is_empty() || member.len() > MAX_MEMBER_KEY {
        return Err(InvalidMemberKey::Length(member.len()));
    }
    if member.chars().any(char::is_control) {
        return Err(InvalidMemberKey::Control);
    }
    Ok(())
}

/// Why a member key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidMemberKey {
    /// Empty, or longer than [`MAX_MEMBER_KEY`] bytes (the length given).
    Length(usize),
    /// It holds a control character.
    Control,
}

impl fmt::Display for InvalidMemberKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidMemberKey::Length(len) => write!(
                f,
                "a presence member key is 1 to {MAX_MEMBER_KEY} bytes long, not {len}"
            ),
            InvalidMemberKey::Control => {
                f.write_str("a presence member key may not hold control characters")
            }
        }
    }
}

impl std::error::Error for InvalidMemberKey {}

/// One member as a snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceEntry {
    /// The member key.
    pub member: Arc<str>,
    /// Its state (the presence message's binary frame).
    pub state: Bytes,
}

/// A room's presence at a position: applying the room's messages after
/// `position` to `members` gives the presence at any later position.
///
/// An engine that cannot read both at once (NATS) reads the position first:
/// the members then reflect at least every event up to it, possibly some
/// later ones, and since events set or remove one member each, applying
/// the later events again converges on the same presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSnapshot {
    /// The room's position the snapshot stands at.
    pub position: Position,
    /// The members, ordered by key.
    pub members: Vec<PresenceEntry>,
}

/// How a backend keeps presence: the same for every node of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PresenceConfig {
    /// How long a member whose connection closed without leaving stays
    /// present, so that a client moved by a deploy and back within its
    /// reconnect window does not flicker out and in (default 15 s: a drain
    /// window of 5 s, a reconnect backoff and slack).
    pub linger: Duration,
    /// How long a node's members outlive its last lease renewal (default
    /// 10 s). A node renews its lease every third of this, so a node
    /// killed without a drain has its members removed by another node
    /// within about `lease + lease / 3` (the other nodes sweep as often).
    pub lease: Duration,
    /// Most members one room holds (default 1,000); a join beyond is
    /// refused.
    pub max_members: usize,
    /// Largest state one member holds, in bytes (default 1 KiB).
    pub max_state_bytes: usize,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        Self {
            linger: Duration::from_secs(15),
            lease: Duration::from_secs(10),
            max_members: 1000,
            max_state_bytes: 1024,
        }
    }
}

impl PresenceConfig {
    /// How often a node renews its leases and sweeps its rooms.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_payloads() {
        for kind in [
            PresenceKind::Join,
            PresenceKind::Update,
            PresenceKind::Leave,
        ] {
            let event = PresenceEvent {
                kind,
                member: "ann|1",
                state: if kind == PresenceKind::Leave {
                    b""
                } else {
                    b"ax\x00\x01"
                },
            };
            let payload = event.to_payload();
            assert_eq!(payload[0], PRESENCE_MARK);
            assert_eq!(PresenceEvent::parse(&payload), Some(event));
        }
        assert_eq!(PresenceEvent::parse(b"aa|hi"), None);
        assert_eq!(PresenceEvent::parse(b"\x01x ann\x00"), None);
        assert_eq!(PresenceEvent::parse(b"\x01jann"), None);
        assert_eq!(PresenceEvent::parse(b""), None);
    }

    #[test]
    fn member_keys_are_bounded_and_printable() {
        assert!(check_member_key("ann").is_ok());
        assert!(check_member_key("ünïcode ok").is_ok());
        assert_eq!(check_member_key(""), Err(InvalidMemberKey::Length(0)));
        assert_eq!(
            check_member_key(&"a".repeat(129)),
            Err(InvalidMemberKey::Length(129))
        );
        assert_eq!(check_member_key("a\0b"), Err(InvalidMemberKey::Control));
        assert_eq!(check_member_key("a\nb"), Err(InvalidMemberKey::Control));
    }
}
