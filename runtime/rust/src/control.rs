//! The runtime's own messages (SPEC §9): ping, pong, hello, welcome, drain
//! notice, error, outdated notice, room message envelope, resume and gap,
//! and presence (set, event, snapshot, member), on the reserved `_` headers.
//!
//! They use the same text and binary encodings as application messages, so
//! a peer decodes every frame with one codec and dispatches on the header's
//! first byte: `_` goes here, anything else to the application's protocol.

use std::fmt;

use crate::__private::{BinaryReader, BinaryWriter, Codec, Reader, TextReader, TextWriter, Writer};
use crate::{DecodeError, DecodeErrorKind, Header, Limits, Protocol};

/// `_a`: the server's heartbeat; the client answers with [`Control::Pong`].
pub const PING: Header = Header::new(*b"_a");
/// `_b`: the client's answer to a ping.
pub const PONG: Header = Header::new(*b"_b");
/// `_c`: the client's first frame, naming the protocol it was built from.
pub const HELLO: Header = Header::new(*b"_c");
/// `_d`: the server's first frame, naming its protocol and heartbeat.
pub const WELCOME: Header = Header::new(*b"_d");
/// `_e`: the server is going away (deploy); reconnect inside the window.
pub const DRAIN: Header = Header::new(*b"_e");
/// `_f`: a frame was refused; the connection stays open.
pub const ERROR: Header = Header::new(*b"_f");
/// `_g`: the peer's protocol is too old for a message (protocol evolution).
pub const OUTDATED: Header = Header::new(*b"_g");
/// `_h`: a room message: the room, its position, then the message's own
/// frame (SPEC §9.7). Read with [`RoomEnvelope`], not [`Control`].
pub const ROOM: Header = Header::new(*b"_h");
/// `_i`: the client's last position in a room, sent after the hello of a
/// reconnect so the server replays what it missed.
pub const RESUME: Header = Header::new(*b"_i");
/// `_j`: messages of a room the client asked for are gone for good.
pub const GAP: Header = Header::new(*b"_j");
/// `_k`: the client sets its presence state in a room: the room, then the
/// presence message's own frame (SPEC §9.8). Read with [`PresenceHead`].
pub const PRESENCE_SET: Header = Header::new(*b"_k");
/// `_l`: a presence event, only as the inner frame of an `_h` envelope:
/// the kind, the member, then (join, update) its state's frame. Read with
/// [`PresenceHead`].
pub const PRESENCE_EVENT: Header = Header::new(*b"_l");
/// `_m`: a room's presence snapshot, followed at once by its members'
/// `_n` frames ([`Control::PresenceSnapshot`]).
pub const PRESENCE_SNAPSHOT: Header = Header::new(*b"_m");
/// `_n`: one member of a snapshot: the room, the member, then its state's
/// frame. Read with [`PresenceHead`].
pub const PRESENCE_MEMBER: Header = Header::new(*b"_n");

/// Where a message stands in its room: the room's epoch and the message's
/// sequence number in it (SPEC §9.7; `server::backend::Position`).
///
/// Sequence numbers start at 1 in every epoch and grow by one per message. An
/// epoch changes when a room's state starts over (the in-process backend's
/// process restarted, Redis lost or expired the room's keys): a position of
/// another epoch says nothing about this one, so asking for history after it
/// yields a reset gap instead of wrong messages. Both numbers stay below 2⁵³
/// so a JavaScript client carries them exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoomPosition {
    /// The room's epoch; 0 only in [`RoomPosition::START`].
    pub epoch: u64,
    /// The sequence number of the last message seen; 0 before the first.
    pub seq: u64,
}

impl RoomPosition {
    /// Before the first message of a room, whatever its epoch: history after
    /// it is every message of the current epoch that the window still holds.
    pub const START: RoomPosition = RoomPosition { epoch: 0, seq: 0 };

    /// Whether this is [`RoomPosition::START`].
    pub fn is_start(self) -> bool {
        self == Self::START
    }

    /// Whether a message at `self` was already seen by a client whose last
    /// position is `last`: same epoch, and not after it.
    #[must_use]
    pub fn is_seen_by(self, last: RoomPosition) -> bool {
        self.epoch == last.epoch && self.seq <= last.seq
    }

    /// Epoch then seq, wherever a frame carries a position (`_h`, `_i`, `_j`).
    fn encode(self, w: &mut impl Writer) {
        w.u64(self.epoch);
        w.u64(self.seq);
    }

    /// What [`RoomPosition::encode`] writes.
    fn decode(r: &mut impl Reader) -> Result<Self, DecodeError> {
        Ok(RoomPosition {
            epoch: r.u64()?,
            seq: r.u64()?,
        })
    }
}

impl fmt::Display for RoomPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.epoch, self.seq)
    }
}

/// The `_h` envelope of a room message, server → client: the room and the
/// message's position, followed on the wire by the message's own frame,
/// verbatim (its header included):
///
/// - text: `_h|<room>|<epoch>|<seq>|<frame>`;
/// - binary: `_h`, string room, u64 epoch, u64 seq, then the frame's bytes to
///   the end (no length prefix).
///
/// Not a [`Control`] variant: the inner frame is the application's, and a
/// reader splits it off without copying it ([`RoomEnvelope::split_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEnvelope<'a> {
    /// The room.
    pub room: &'a str,
    /// The message's place in the room.
    pub position: RoomPosition,
}

impl<'a> RoomEnvelope<'a> {
    /// Appends `_h|<room>|<epoch>|<seq>|` to `out`; the message's text frame
    /// goes after it.
    pub fn write_text_prefix(&self, out: &mut String) {
        self.encode(&mut TextWriter::new(out, ROOM));
        out.push('|');
    }

    /// Appends `_h`, the room, epoch and seq to `out`; the message's binary
    /// frame goes after it.
    pub fn write_binary_prefix(&self, out: &mut Vec<u8>) {
        self.encode(&mut BinaryWriter::new(out, ROOM));
    }

    /// The room, then the position; the inner frame follows them.
    fn encode(&self, w: &mut impl Writer) {
        w.str(self.room);
        self.position.encode(w);
    }

    /// The whole text frame: prefix and `inner`.
    #[must_use]
    pub fn to_text(&self, inner: &str) -> String {
        let mut out = String::with_capacity(inner.len() + self.room.len() + 24);
        self.write_text_prefix(&mut out);
        out.push_str(inner);
        out
    }

    /// The whole binary frame: prefix and `inner`.
    #[must_use]
    pub fn to_binary(&self, inner: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(inner.len() + self.room.len() + 24);
        self.write_binary_prefix(&mut out);
        out.extend_from_slice(inner);
        out
    }
}

impl RoomEnvelope<'static> {
    /// Splits an `_h` text frame into its envelope (the room owned) and the
    /// inner frame. The inner frame is not checked: its decoder does that.
    pub fn split_text<'f>(
        frame: &'f str,
        limits: &Limits,
    ) -> Result<(String, RoomPosition, &'f str), DecodeError> {
        let mut r = TextReader::new(frame, limits)?;
        let (room, position) = Self::decode(&mut r)?;
        Ok((room, position, r.rest()?))
    }

    /// Splits an `_h` binary frame into the room, the position and the inner
    /// frame.
    pub fn split_binary<'f>(
        frame: &'f [u8],
        limits: &Limits,
    ) -> Result<(String, RoomPosition, &'f [u8]), DecodeError> {
        let mut r = BinaryReader::new(frame, limits)?;
        let (room, position) = Self::decode(&mut r)?;
        Ok((room, position, r.rest()))
    }

    /// The header, checked to be `_h`, then the fields
    /// [`RoomEnvelope::encode`] writes; the inner frame is left to the
    /// encoding's own `rest`.
    fn decode(r: &mut impl Reader) -> Result<(String, RoomPosition), DecodeError> {
        if r.header() != ROOM {
            return Err(r.unknown_header());
        }
        let room = r.string()?;
        Ok((room, RoomPosition::decode(r)?))
    }
}

/// What happened to a present member: the byte in a backend's event
/// payload and the word on the wire (SPEC §9.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PresenceKind {
    /// The member is new in the room (or came back after it was removed).
    Join,
    /// The member's state changed, or it came back within the linger.
    Update,
    /// The member left, lingered out, or its node's lease ran out.
    Leave,
}

impl PresenceKind {
    /// The byte in a backend's event payload.
    pub fn byte(self) -> u8 {
        match self {
            PresenceKind::Join => b'j',
            PresenceKind::Update => b'u',
            PresenceKind::Leave => b'l',
        }
    }

    /// The kind a payload byte stands for.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'j' => Some(PresenceKind::Join),
            b'u' => Some(PresenceKind::Update),
            b'l' => Some(PresenceKind::Leave),
            _ => None,
        }
    }

    /// The wire word: `join`, `update` or `leave`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceKind::Join => "join",
            PresenceKind::Update => "update",
            PresenceKind::Leave => "leave",
        }
    }

    /// The kind a wire word names.
    #[must_use]
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "join" => Some(PresenceKind::Join),
            "update" => Some(PresenceKind::Update),
            "leave" => Some(PresenceKind::Leave),
            _ => None,
        }
    }
}

impl fmt::Display for PresenceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of a presence frame that come before the state frame ending
/// it (SPEC §9.8), like an `_h` envelope's before its inner frame: the
/// state is a presence message's own frame, verbatim, which its decoder
/// reads. `S` is `&str` to write, `String` as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PresenceHead<S = String> {
    /// `_k`, client → server: the client's state in `room` follows.
    Set {
        /// The room.
        room: S,
    },
    /// `_l`, inside an `_h` envelope: what happened to `member`; its state
    /// follows for a join or an update, nothing for a leave.
    Event {
        /// What happened.
        kind: PresenceKind,
        /// Whose presence.
        member: S,
    },
    /// `_n`, after `_m`: one member of the room's snapshot; its state
    /// follows.
    Member {
        /// The room.
        room: S,
        /// The member.
        member: S,
    },
}

impl<S: AsRef<str>> PresenceHead<S> {
    /// `_k`, `_l` or `_n`.
    pub fn header(&self) -> Header {
        match self {
            PresenceHead::Set { .. } => PRESENCE_SET,
            PresenceHead::Event { .. } => PRESENCE_EVENT,
            PresenceHead::Member { .. } => PRESENCE_MEMBER,
        }
    }

    /// Whether a state frame follows: all but a leave event.
    pub fn has_state(&self) -> bool {
        !matches!(
            self,
            PresenceHead::Event {
                kind: PresenceKind::Leave,
                ..
            }
        )
    }

    fn encode(&self, w: &mut impl Writer) {
        match self {
            PresenceHead::Set { room } => w.str(room.as_ref()),
            PresenceHead::Event { kind, member } => {
                w.str(kind.as_str());
                w.str(member.as_ref());
            }
            PresenceHead::Member { room, member } => {
                w.str(room.as_ref());
                w.str(member.as_ref());
            }
        }
    }

    /// Appends the header and fields to `out`, and the `|` before the state
    /// frame when one follows (a leave event is complete without).
    pub fn write_text_prefix(&self, out: &mut String) {
        self.encode(&mut TextWriter::new(out, self.header()));
        if self.has_state() {
            out.push('|');
        }
    }

    /// Appends the header and fields to `out`; the state's binary frame
    /// goes after them.
    pub fn write_binary_prefix(&self, out: &mut Vec<u8>) {
        self.encode(&mut BinaryWriter::new(out, self.header()));
    }

    /// The whole text frame: prefix and `state` (ignored for a leave).
    #[must_use]
    pub fn to_text(&self, state: &str) -> String {
        let mut out = String::new();
        self.write_text_prefix(&mut out);
        if self.has_state() {
            out.push_str(state);
        }
        out
    }

    /// The whole binary frame: prefix and `state` (ignored for a leave).
    #[must_use]
    pub fn to_binary(&self, state: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_binary_prefix(&mut out);
        if self.has_state() {
            out.extend_from_slice(state);
        }
        out
    }
}

impl PresenceHead<String> {
    /// Splits an `_k`, `_l` or `_n` text frame into its fields and the
    /// state frame (empty for a leave). The state is not checked: its
    /// decoder does that.
    pub fn split_text<'f>(
        frame: &'f str,
        limits: &Limits,
    ) -> Result<(PresenceHead, &'f str), DecodeError> {
        let mut r = TextReader::new(frame, limits)?;
        let head = Self::decode(&mut r)?;
        if head.has_state() {
            Ok((head, r.rest()?))
        } else {
            r.finish()?;
            Ok((head, ""))
        }
    }

    /// Splits an `_k`, `_l` or `_n` binary frame into its fields and the
    /// state frame (empty for a leave).
    pub fn split_binary<'f>(
        frame: &'f [u8],
        limits: &Limits,
    ) -> Result<(PresenceHead, &'f [u8]), DecodeError> {
        let mut r = BinaryReader::new(frame, limits)?;
        let head = Self::decode(&mut r)?;
        if head.has_state() {
            Ok((head, r.rest()))
        } else {
            r.finish()?;
            Ok((head, &[]))
        }
    }

    fn decode(r: &mut impl Reader) -> Result<Self, DecodeError> {
        Ok(match r.header() {
            PRESENCE_SET => PresenceHead::Set { room: r.string()? },
            PRESENCE_EVENT => {
                let at = r.position();
                let kind = PresenceKind::parse(&r.string()?)
                    .ok_or_else(|| DecodeError::new(DecodeErrorKind::UnknownEnumValue, at))?;
                PresenceHead::Event {
                    kind,
                    member: r.string()?,
                }
            }
            PRESENCE_MEMBER => PresenceHead::Member {
                room: r.string()?,
                member: r.string()?,
            },
            _ => return Err(r.unknown_header()),
        })
    }
}

/// `_m`: a room's presence at a position (SPEC §9.8). The `count` `_n`
/// frames that follow at once are its members; the client replaces its
/// presence map for the room with them, and ignores presence events at or
/// before `position` from then on. It does not change the client's resume
/// position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceSnapshotNotice {
    /// The room.
    pub room: String,
    /// The room's position the snapshot stands at.
    pub position: RoomPosition,
    /// How many `_n` frames follow.
    pub count: u32,
}

/// One control message.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// Server → client heartbeat.
    Ping,
    /// Client → server answer to [`Control::Ping`].
    Pong,
    /// Client → server, first frame of a connection.
    Hello(Hello),
    /// Server → client, first frame of a connection.
    Welcome(Welcome),
    /// Server → client: the server is draining for a deploy.
    Drain(DrainNotice),
    /// Server → client: a frame was refused.
    Error(ErrorNotice),
    /// Server → client: a message could not be exchanged with this client's
    /// version of the protocol (SPEC §9.6); the page should reload.
    Outdated(OutdatedNotice),
    /// Client → server, after the hello: the last position seen in a room.
    Resume(Resume),
    /// Server → client: messages of a room are gone; refetch its state.
    Gap(GapNotice),
    /// Server → client: a room's presence snapshot; its members follow.
    PresenceSnapshot(PresenceSnapshotNotice),
}

/// What a client says about itself when it connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Hello {
    /// The schema package the client was generated from (`ui`).
    pub package: String,
    /// The client's `PROTOCOL_FINGERPRINT`.
    pub fingerprint: String,
    /// Every header the client was generated with, concatenated (`aaabac`),
    /// so a server can tell which message versions the peer understands.
    pub headers: String,
}

/// What the server says about itself when a client connects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Welcome {
    /// The schema package the server was generated from.
    pub package: String,
    /// The server's `PROTOCOL_FINGERPRINT`.
    pub fingerprint: String,
    /// How often the server pings, so the client's watchdog can match it.
    pub ping_interval_ms: u32,
}

/// The drain notice: sent just before the server closes the connection
/// with [`crate::CloseCode::DRAIN`].
#[derive(Debug, Clone, PartialEq)]
pub struct DrainNotice {
    /// Human-readable, for logs and UIs ("Server updating").
    pub reason: String,
    /// The client reconnects at a uniformly random moment within this many
    /// milliseconds of the notice.
    pub window_ms: u32,
    /// Factor applied to the client's backoff for reconnects that follow
    /// this notice (2 doubles the exponential backoff).
    pub backoff_multiplier: f64,
}

/// A refused frame: the connection survives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorNotice {
    /// One of the [`error_code`] values.
    pub code: u16,
    /// Human-readable detail (what and where).
    pub message: String,
}

/// A message this client's protocol cannot carry: the server would have sent
/// a version the client does not know and has no conversion to one it knows,
/// or the client sent a version the server's schema removed. The connection
/// stays open; other messages keep flowing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutdatedNotice {
    /// The 2-character header at issue (`ad`): the server's newest version
    /// when the server could not send, the client's frame's when it sent a
    /// removed version.
    pub header: String,
    /// The message's name in the schema (`Typing`); empty when unknown.
    pub message: String,
    /// The version `header` stands for.
    pub version: u32,
    /// Human-readable detail, for logs and UIs.
    pub reason: String,
}

/// `_i`: a reconnecting client's last position in one room (SPEC §9.7). The
/// server replays what came after it when the application joins the
/// connection to the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The room.
    pub room: String,
    /// The last position the client saw in it.
    pub position: RoomPosition,
}

/// Why messages of a room are gone ([`GapNotice::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapReason {
    /// The history window no longer reaches back to the client's position
    /// (too many messages since, or too old): `trimmed` on the wire.
    Trimmed,
    /// The room started over (another epoch: a restart, expired or lost
    /// state) or the position is ahead of it: `reset` on the wire. A kind
    /// this runtime does not know is read as this one (either way the
    /// application refetches).
    Reset,
}

impl GapReason {
    /// The wire name: `trimmed` or `reset`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GapReason::Trimmed => "trimmed",
            GapReason::Reset => "reset",
        }
    }

    fn parse(s: &str) -> Self {
        if s == "trimmed" {
            GapReason::Trimmed
        } else {
            GapReason::Reset
        }
    }
}

impl fmt::Display for GapReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `_j`: the messages of a room after the client's `_i` position can no
/// longer be had. The client refetches the room's state; live messages go on
/// after `position` (the room's position when the gap was found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapNotice {
    /// The room.
    pub room: String,
    /// Why.
    pub kind: GapReason,
    /// The room's position when the gap was found.
    pub position: RoomPosition,
}

/// Codes carried by [`ErrorNotice::code`] (SPEC §9.3).
pub mod error_code {
    /// The frame's header is not a message the receiver accepts.
    pub const UNKNOWN_HEADER: u16 = 1;
    /// The frame could not be decoded (the message names the position).
    pub const MALFORMED: u16 = 2;
    /// The message exists but may not be sent in this direction.
    pub const WRONG_DIRECTION: u16 = 3;
    /// The application refused the message.
    pub const REFUSED: u16 = 4;
    /// The client is over a rate limit; the frame was dropped unhandled.
    pub const RATE_LIMITED: u16 = 5;
    /// The client may not send this message (authorization denied).
    pub const FORBIDDEN: u16 = 6;
    /// A value decoded but breaks a constraint of the schema.
    pub const INVALID: u16 = 7;

    /// The code's name in SPEC §9.3 (`rate_limited`); `unknown` for codes
    /// this runtime does not know (newer servers may send more).
    #[must_use]
    pub fn name(code: u16) -> &'static str {
        match code {
            UNKNOWN_HEADER => "unknown_header",
            MALFORMED => "malformed",
            WRONG_DIRECTION => "wrong_direction",
            REFUSED => "refused",
            RATE_LIMITED => "rate_limited",
            FORBIDDEN => "forbidden",
            INVALID => "invalid",
            _ => "unknown",
        }
    }
}

impl ErrorNotice {
    /// The code's name ([`error_code::name`]).
    #[must_use]
    pub fn name(&self) -> &'static str {
        error_code::name(self.code)
    }
}

impl Control {
    /// Whether `header` belongs to the runtime rather than the application.
    #[must_use]
    pub fn is_control(header: Header) -> bool {
        header.is_reserved()
    }
}

impl Protocol for Control {
    fn header(&self) -> Header {
        match self {
            Control::Ping => PING,
            Control::Pong => PONG,
            Control::Hello(_) => HELLO,
            Control::Welcome(_) => WELCOME,
            Control::Drain(_) => DRAIN,
            Control::Error(_) => ERROR,
            Control::Outdated(_) => OUTDATED,
            Control::Resume(_) => RESUME,
            Control::Gap(_) => GAP,
            Control::PresenceSnapshot(_) => PRESENCE_SNAPSHOT,
        }
    }
}

/// The fields after the header, in the order both encodings share.
impl Codec for Control {
    fn encode(&self, w: &mut impl Writer) {
        match self {
            Control::Ping | Control::Pong => {}
            Control::Hello(h) => {
                w.str(&h.package);
                w.str(&h.fingerprint);
                w.str(&h.headers);
            }
            Control::Welcome(h) => {
                w.str(&h.package);
                w.str(&h.fingerprint);
                w.u32(h.ping_interval_ms);
            }
            Control::Drain(d) => {
                w.str(&d.reason);
                w.u32(d.window_ms);
                w.f64(d.backoff_multiplier);
            }
            Control::Error(e) => {
                w.u16(e.code);
                w.str(&e.message);
            }
            Control::Outdated(o) => {
                w.str(&o.header);
                w.str(&o.message);
                w.u32(o.version);
                w.str(&o.reason);
            }
            Control::Resume(r) => {
                w.str(&r.room);
                r.position.encode(w);
            }
            Control::Gap(g) => {
                w.str(&g.room);
                w.str(g.kind.as_str());
                g.position.encode(w);
            }
            Control::PresenceSnapshot(p) => {
                w.str(&p.room);
                p.position.encode(w);
                w.u32(p.count);
            }
        }
    }

    fn decode(r: &mut impl Reader) -> Result<Self, DecodeError> {
        let message = match r.header() {
            PING => Control::Ping,
            PONG => Control::Pong,
            HELLO => Control::Hello(Hello {
                package: r.string()?,
                fingerprint: r.string()?,
                headers: r.string()?,
            }),
            WELCOME => Control::Welcome(Welcome {
                package: r.string()?,
                fingerprint: r.string()?,
                ping_interval_ms: r.u32()?,
            }),
            DRAIN => Control::Drain(DrainNotice {
                reason: r.string()?,
                window_ms: r.u32()?,
                backoff_multiplier: r.f64()?,
            }),
            ERROR => Control::Error(ErrorNotice {
                code: r.u16()?,
                message: r.string()?,
            }),
            OUTDATED => Control::Outdated(OutdatedNotice {
                header: r.string()?,
                message: r.string()?,
                version: r.u32()?,
                reason: r.string()?,
            }),
            RESUME => Control::Resume(Resume {
                room: r.string()?,
                position: RoomPosition::decode(r)?,
            }),
            GAP => Control::Gap(GapNotice {
                room: r.string()?,
                kind: GapReason::parse(&r.string()?),
                position: RoomPosition::decode(r)?,
            }),
            PRESENCE_SNAPSHOT => Control::PresenceSnapshot(PresenceSnapshotNotice {
                room: r.string()?,
                position: RoomPosition::decode(r)?,
                count: r.u32()?,
            }),
            _ => return Err(r.unknown_header()),
        };
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Control> {
        vec![
            Control::Ping,
            Control::Pong,
            Control::Hello(Hello {
                package: "ui".into(),
                fingerprint: "0dd77274df56ce28".into(),
                headers: "aaabac".into(),
            }),
            Control::Welcome(Welcome {
                package: "ui".into(),
                fingerprint: "0dd77274df56ce28".into(),
                ping_interval_ms: 30_000,
            }),
            Control::Drain(DrainNotice {
                reason: "Server updating".into(),
                window_ms: 5_000,
                backoff_multiplier: 2.0,
            }),
            Control::Error(ErrorNotice {
                code: error_code::UNKNOWN_HEADER,
                message: "header `zz` is not a message this server accepts".into(),
            }),
            Control::Outdated(OutdatedNotice {
                header: "ad".into(),
                message: "Typing".into(),
                version: 1,
                reason: "Typing v1 was removed from the protocol; reload to update".into(),
            }),
            Control::Resume(Resume {
                room: "lobby".into(),
                position: RoomPosition {
                    epoch: 1_700_000_000_000_000,
                    seq: 42,
                },
            }),
            Control::Gap(GapNotice {
                room: "lobby".into(),
                kind: GapReason::Trimmed,
                position: RoomPosition {
                    epoch: 1_700_000_000_000_000,
                    seq: 1_200,
                },
            }),
            Control::Gap(GapNotice {
                room: "a|b".into(),
                kind: GapReason::Reset,
                position: RoomPosition { epoch: 9, seq: 0 },
            }),
            Control::PresenceSnapshot(PresenceSnapshotNotice {
                room: "lobby".into(),
                position: RoomPosition { epoch: 300, seq: 9 },
                count: 2,
            }),
        ]
    }

    #[test]
    fn text_frames_match_the_spec() {
        let frames: Vec<String> = all().iter().map(Protocol::to_text).collect();
        assert_eq!(
            frames,
            [
                "_a",
                "_b",
                "_c|ui|0dd77274df56ce28|aaabac",
                "_d|ui|0dd77274df56ce28|30000",
                "_e|Server updating|5000|2",
                "_f|1|header `zz` is not a message this server accepts",
                "_g|ad|Typing|1|Typing v1 was removed from the protocol; reload to update",
                "_i|lobby|1700000000000000|42",
                "_j|lobby|trimmed|1700000000000000|1200",
                "_j|a\\pb|reset|9|0",
                "_m|lobby|300|9|2",
            ]
        );
    }

    /// The test vectors of SPEC §9.7, which runtime/typescript's control
    /// tests copy: each frame in text and in binary (hex).
    #[test]
    fn room_frames_match_the_spec_vectors() -> Result<(), DecodeError> {
        let hex = |b: &[u8]| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let position = RoomPosition { epoch: 300, seq: 7 };
        let envelope = RoomEnvelope {
            room: "lobby",
            position,
        };
        // The inner frame: a Ping of some protocol (`ae`) and `aa|hi|~`.
        let text = envelope.to_text("aa|hi|~");
        assert_eq!(text, "_h|lobby|300|7|aa|hi|~");
        let binary = envelope.to_binary(&[0x61, 0x61, 0x02, 0x68, 0x69, 0x00]);
        assert_eq!(
            hex(&binary),
            "5f 68 05 6c 6f 62 62 79 ac 02 07 61 61 02 68 69 00"
        );
        let limits = Limits::default();
        assert_eq!(
            RoomEnvelope::split_text(&text, &limits)?,
            ("lobby".to_string(), position, "aa|hi|~")
        );
        assert_eq!(
            RoomEnvelope::split_binary(&binary, &limits)?,
            (
                "lobby".to_string(),
                position,
                &[0x61, 0x61, 0x02, 0x68, 0x69, 0x00][..]
            )
        );
        // A room name with `|` is escaped like any string; the inner frame never is.
        let odd = RoomEnvelope {
            room: "a|b",
            position: RoomPosition { epoch: 1, seq: 1 },
        };
        assert_eq!(odd.to_text("ae"), "_h|a\\pb|1|1|ae");
        assert_eq!(hex(&odd.to_binary(b"ae")), "5f 68 03 61 7c 62 01 01 61 65");
        assert_eq!(
            RoomEnvelope::split_text("_h|a\\pb|1|1|ae", &limits)?.0,
            "a|b"
        );

        let resume = Control::Resume(Resume {
            room: "lobby".into(),
            position,
        });
        assert_eq!(resume.to_text(), "_i|lobby|300|7");
        assert_eq!(hex(&resume.to_binary()), "5f 69 05 6c 6f 62 62 79 ac 02 07");
        let gap = Control::Gap(GapNotice {
            room: "lobby".into(),
            kind: GapReason::Trimmed,
            position,
        });
        assert_eq!(gap.to_text(), "_j|lobby|trimmed|300|7");
        assert_eq!(
            hex(&gap.to_binary()),
            "5f 6a 05 6c 6f 62 62 79 07 74 72 69 6d 6d 65 64 ac 02 07"
        );
        let reset = Control::Gap(GapNotice {
            room: "lobby".into(),
            kind: GapReason::Reset,
            position,
        });
        assert_eq!(reset.to_text(), "_j|lobby|reset|300|7");
        assert_eq!(
            hex(&reset.to_binary()),
            "5f 6a 05 6c 6f 62 62 79 05 72 65 73 65 74 ac 02 07"
        );
        Ok(())
    }

    /// The test vectors of SPEC §9.8, which runtime/typescript's control
    /// tests copy: each presence frame in text and in binary (hex). The
    /// state frame is `aa|hi|~` / `61 61 02 68 69 00`, as in §9.7.
    #[test]
    fn presence_frames_match_the_spec_vectors() -> Result<(), DecodeError> {
        let hex = |b: &[u8]| {
            b.iter()
                .map(|x| format!("{x:02x}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let limits = Limits::default();
        let state_text = "aa|hi|~";
        let state: &[u8] = &[0x61, 0x61, 0x02, 0x68, 0x69, 0x00];

        let set = PresenceHead::Set { room: "lobby" };
        assert_eq!(set.to_text(state_text), "_k|lobby|aa|hi|~");
        assert_eq!(
            hex(&set.to_binary(state)),
            "5f 6b 05 6c 6f 62 62 79 61 61 02 68 69 00"
        );
        assert_eq!(
            PresenceHead::split_text("_k|lobby|aa|hi|~", &limits)?,
            (
                PresenceHead::Set {
                    room: "lobby".to_owned()
                },
                state_text
            )
        );
        assert_eq!(
            PresenceHead::split_binary(&set.to_binary(state), &limits)?.1,
            state
        );

        // `_l` goes inside an `_h` envelope: the envelope's prefix, then
        // the event's.
        let envelope = |seq| RoomEnvelope {
            room: "lobby",
            position: RoomPosition { epoch: 300, seq },
        };
        let join = PresenceHead::Event {
            kind: PresenceKind::Join,
            member: "ann",
        };
        assert_eq!(
            envelope(8).to_text(&join.to_text(state_text)),
            "_h|lobby|300|8|_l|join|ann|aa|hi|~"
        );
        assert_eq!(
            hex(&envelope(8).to_binary(&join.to_binary(state))),
            "5f 68 05 6c 6f 62 62 79 ac 02 08 5f 6c 04 6a 6f 69 6e 03 61 6e 6e 61 61 02 68 69 00"
        );
        let update = PresenceHead::Event {
            kind: PresenceKind::Update,
            member: "ann",
        };
        assert_eq!(update.to_text(state_text), "_l|update|ann|aa|hi|~");
        assert_eq!(
            hex(&update.to_binary(state)),
            "5f 6c 06 75 70 64 61 74 65 03 61 6e 6e 61 61 02 68 69 00"
        );
        let leave = PresenceHead::Event {
            kind: PresenceKind::Leave,
            member: "ann",
        };
        assert_eq!(
            envelope(9).to_text(&leave.to_text("ignored")),
            "_h|lobby|300|9|_l|leave|ann"
        );
        assert_eq!(
            hex(&envelope(9).to_binary(&leave.to_binary(b"ignored"))),
            "5f 68 05 6c 6f 62 62 79 ac 02 09 5f 6c 05 6c 65 61 76 65 03 61 6e 6e"
        );
        let (_, _, inner) = RoomEnvelope::split_text("_h|lobby|300|9|_l|leave|ann", &limits)?;
        assert_eq!(
            PresenceHead::split_text(inner, &limits)?,
            (
                PresenceHead::Event {
                    kind: PresenceKind::Leave,
                    member: "ann".to_owned()
                },
                ""
            )
        );
        let joined = envelope(8).to_binary(&join.to_binary(state));
        let (_, _, inner) = RoomEnvelope::split_binary(&joined, &limits)?;
        assert_eq!(
            PresenceHead::split_binary(inner, &limits)?,
            (
                PresenceHead::Event {
                    kind: PresenceKind::Join,
                    member: "ann".to_owned()
                },
                state
            )
        );

        let snapshot = Control::PresenceSnapshot(PresenceSnapshotNotice {
            room: "lobby".into(),
            position: RoomPosition { epoch: 300, seq: 9 },
            count: 2,
        });
        assert_eq!(snapshot.to_text(), "_m|lobby|300|9|2");
        assert_eq!(
            hex(&snapshot.to_binary()),
            "5f 6d 05 6c 6f 62 62 79 ac 02 09 02"
        );
        let member = PresenceHead::Member {
            room: "lobby",
            member: "ann",
        };
        assert_eq!(member.to_text(state_text), "_n|lobby|ann|aa|hi|~");
        assert_eq!(
            hex(&member.to_binary(state)),
            "5f 6e 05 6c 6f 62 62 79 03 61 6e 6e 61 61 02 68 69 00"
        );
        assert_eq!(
            PresenceHead::split_text("_n|a\\pb|ann|aa|hi|~", &limits)?.0,
            PresenceHead::Member {
                room: "a|b".to_owned(),
                member: "ann".to_owned()
            }
        );
        Ok(())
    }

    #[test]
    fn bad_presence_frames_are_errors_not_panics() {
        let limits = Limits::default();
        // An unknown kind, a leave with a state, a join without one, the
        // wrong header, truncation.
        assert_eq!(
            PresenceHead::split_text("_l|wave|ann|aa", &limits).map_err(|e| e.kind),
            Err(DecodeErrorKind::UnknownEnumValue)
        );
        assert!(PresenceHead::split_text("_l|leave|ann|aa", &limits).is_err());
        assert!(PresenceHead::split_text("_l|join|ann", &limits).is_err());
        assert!(PresenceHead::split_text("_h|lobby|aa", &limits).is_err());
        assert!(PresenceHead::split_binary(b"_k\x05lob", &limits).is_err());
        assert!(PresenceHead::split_binary(b"_n", &limits).is_err());
        assert!(PresenceHead::split_binary(b"_l\x05leave\x03ann\x00", &limits).is_err());
        // `_k`, `_l`, `_n` are not Control messages; `_m` is.
        assert!(Control::decode_text("_k|lobby|aa").is_err());
        assert!(Control::decode_text("_m|lobby|1|2").is_err());
        for kind in [
            PresenceKind::Join,
            PresenceKind::Update,
            PresenceKind::Leave,
        ] {
            assert_eq!(PresenceKind::parse(kind.as_str()), Some(kind));
            assert_eq!(PresenceKind::from_byte(kind.byte()), Some(kind));
        }
    }

    #[test]
    fn bad_room_frames_are_errors_not_panics() {
        let limits = Limits::default();
        // No inner frame separator, a bad number, the wrong header, truncation.
        assert!(RoomEnvelope::split_text("_h|lobby|1|2", &limits).is_err());
        assert!(RoomEnvelope::split_text("_h|lobby|x|2|aa", &limits).is_err());
        assert!(RoomEnvelope::split_text("_i|lobby|1|2|aa", &limits).is_err());
        assert!(RoomEnvelope::split_binary(b"_h\x05lob", &limits).is_err());
        assert!(RoomEnvelope::split_binary(b"_h", &limits).is_err());
        // An empty inner frame splits; its own decoder rejects it.
        assert_eq!(
            RoomEnvelope::split_text("_h|r|1|2|", &limits).map(|(_, _, inner)| inner),
            Ok("")
        );
        // `_h` is not a Control message.
        assert!(Control::decode_text("_h|r|1|2|aa").is_err());
        // An unknown gap kind reads as reset.
        assert_eq!(
            Control::decode_text("_j|r|compacted|3|4"),
            Ok(Control::Gap(GapNotice {
                room: "r".into(),
                kind: GapReason::Reset,
                position: RoomPosition { epoch: 3, seq: 4 },
            }))
        );
    }

    #[test]
    fn every_control_message_round_trips_in_both_encodings() -> Result<(), DecodeError> {
        for message in all() {
            assert_eq!(Control::decode_text(&message.to_text())?, message);
            assert_eq!(Control::decode_binary(&message.to_binary())?, message);
        }
        Ok(())
    }

    /// SPEC §9.3's table; runtime/typescript/test/control.test.ts has the
    /// same list.
    #[test]
    fn error_codes_are_the_spec_table() {
        let names: Vec<(u16, &str)> = (0..=8).map(|c| (c, error_code::name(c))).collect();
        assert_eq!(
            names,
            [
                (0, "unknown"),
                (1, "unknown_header"),
                (2, "malformed"),
                (3, "wrong_direction"),
                (4, "refused"),
                (5, "rate_limited"),
                (6, "forbidden"),
                (7, "invalid"),
                (8, "unknown"),
            ]
        );
        let notice = ErrorNotice {
            code: error_code::RATE_LIMITED,
            message: "slow down".into(),
        };
        assert_eq!(notice.name(), "rate_limited");
        assert_eq!(Control::Error(notice).to_text(), "_f|5|slow down");
    }

    #[test]
    fn application_headers_are_not_control_messages() {
        assert!(Control::decode_text("aa").is_err());
        assert!(!Control::is_control(Header::new(*b"aa")));
        assert!(Control::is_control(PING));
    }
}
