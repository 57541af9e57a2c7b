//! The client's view of room presence (SPEC §9.8): per room, a map from
//! member to state, replaced by a snapshot (`_m` + `_n`) and kept in step by
//! presence events (`_l` in `_h`), which the task applies in order and
//! reports as [`PresenceChange`]s. Shared with the [`Client`](super::Client)
//! handles, which read it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::control::{PresenceKind, RoomPosition};

/// Most rooms the client keeps presence for (as many as it resumes).
pub(crate) const MAX_PRESENCE_ROOMS: usize = 64;

/// What changed in a room's presence ([`Event::Presence`](super::Event::Presence)).
#[derive(Debug, Clone, PartialEq)]
pub enum PresenceChange<S> {
    /// A snapshot replaced the room's presence: read it with
    /// [`Client::presence`](super::Client::presence). `members` is how many
    /// it holds.
    Snapshot {
        /// Members now present.
        members: usize,
    },
    /// A member joined with `state`.
    Join {
        /// The member.
        member: String,
        /// Its state.
        state: S,
    },
    /// A member's state changed (or it came back within the server's
    /// linger time).
    Update {
        /// The member.
        member: String,
        /// Its new state.
        state: S,
    },
    /// A member left (or lingered out, or its node stopped).
    Leave {
        /// The member.
        member: String,
    },
}

/// One room's presence.
#[derive(Debug)]
pub(crate) struct RoomPresence<S> {
    pub(crate) members: BTreeMap<String, S>,
    /// Events at or before the last snapshot's position are in it already.
    floor: Option<RoomPosition>,
}

/// Every room's presence, behind one lock.
#[derive(Debug)]
pub(crate) struct PresenceMaps<S> {
    rooms: Mutex<HashMap<String, RoomPresence<S>>>,
    max_members: usize,
}

impl<S> PresenceMaps<S> {
    pub(crate) fn new(max_members: usize) -> Self {
        PresenceMaps {
            rooms: Mutex::new(HashMap::new()),
            max_members,
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, RoomPresence<S>>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the room's presence with a snapshot's members (at most
    /// `max_members` of them), events at or before `floor` ignored from
    /// now on. `false` when the room is one too many to keep.
    pub(crate) fn replace(
        &self,
        room: &str,
        floor: RoomPosition,
        members: BTreeMap<String, S>,
    ) -> bool {
        let mut rooms = self.lock();
        if !rooms.contains_key(room) && rooms.len() >= MAX_PRESENCE_ROOMS {
            tracing::warn!(
                room,
                "tagwire client: presence kept for too many rooms; ignoring this one"
            );
            return false;
        }
        rooms.insert(
            room.to_owned(),
            RoomPresence {
                members,
                floor: Some(floor),
            },
        );
        true
    }

    /// Applies one event at `position`; whether it changed anything (an
    /// event before the floor, a leave of an unknown member or a join
    /// beyond the bound changes nothing).
    pub(crate) fn apply(
        &self,
        room: &str,
        position: RoomPosition,
        kind: PresenceKind,
        member: &str,
        state: Option<S>,
    ) -> bool {
        let mut rooms = self.lock();
        if !rooms.contains_key(room) {
            if rooms.len() >= MAX_PRESENCE_ROOMS {
                return false;
            }
            rooms.insert(
                room.to_owned(),
                RoomPresence {
                    members: BTreeMap::new(),
                    floor: None,
                },
            );
        }
        let Some(presence) = rooms.get_mut(room) else {
            return false;
        };
        if presence
            .floor
            .is_some_and(|floor| position.is_seen_by(floor))
        {
            return false;
        }
        match (kind, state) {
            (PresenceKind::Leave, _) => presence.members.remove(member).is_some(),
            (_, Some(state)) => {
                if !presence.members.contains_key(member)
                    && presence.members.len() >= self.max_members
                {
                    tracing::warn!(
                        room,
                        max = self.max_members,
                        "tagwire client: presence map full; ignoring a join"
                    );
                    return false;
                }
                presence.members.insert(member.to_owned(), state);
                true
            }
            (_, None) => false,
        }
    }

    /// The most members a snapshot may bring.
    pub(crate) fn max_members(&self) -> usize {
        self.max_members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seq: u64) -> RoomPosition {
        RoomPosition { epoch: 5, seq }
    }

    #[test]
    fn a_snapshot_sets_a_floor_and_events_after_it_apply() {
        let maps = PresenceMaps::<u32>::new(2);
        assert!(maps.apply("r", at(1), PresenceKind::Join, "ann", Some(1)));
        let snapshot = BTreeMap::from([("bob".to_owned(), 2)]);
        assert!(maps.replace("r", at(4), snapshot));
        // At or before the floor: in the snapshot already.
        assert!(!maps.apply("r", at(4), PresenceKind::Join, "cy", Some(3)));
        assert!(!maps.apply("r", at(3), PresenceKind::Leave, "bob", None));
        assert!(maps.apply("r", at(5), PresenceKind::Update, "bob", Some(7)));
        assert!(maps.apply("r", at(6), PresenceKind::Join, "cy", Some(3)));
        // Bounded: a third member is ignored, an update of one present is not.
        assert!(!maps.apply("r", at(7), PresenceKind::Join, "dee", Some(4)));
        assert!(maps.apply("r", at(8), PresenceKind::Update, "cy", Some(9)));
        // Another epoch is past the floor.
        assert!(maps.apply(
            "r",
            RoomPosition { epoch: 6, seq: 1 },
            PresenceKind::Leave,
            "cy",
            None
        ));
        let rooms = maps.lock();
        let members: Vec<(&str, u32)> = rooms["r"]
            .members
            .iter()
            .map(|(m, s)| (m.as_str(), *s))
            .collect();
        assert_eq!(members, [("bob", 7)]);
    }

    #[test]
    fn rooms_are_bounded() {
        let maps = PresenceMaps::<u32>::new(10);
        for n in 0..MAX_PRESENCE_ROOMS {
            assert!(maps.replace(&format!("r{n}"), at(1), BTreeMap::new()));
        }
        assert!(!maps.replace("one more", at(1), BTreeMap::new()));
        assert!(!maps.apply("one more", at(2), PresenceKind::Join, "a", Some(1)));
        assert!(
            maps.replace("r0", at(2), BTreeMap::new()),
            "a kept room is replaced"
        );
    }
}
