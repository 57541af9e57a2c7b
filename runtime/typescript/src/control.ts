/**
 * The runtime's own messages (SPEC §9): ping, pong, hello, welcome, drain
 * notice, error, outdated notice, resume, gap and presence snapshot, on the
 * reserved `_` headers, the room message envelope `_h` (SPEC §9.7), and the
 * presence frames `_k`, `_l` and `_n` that carry a state frame (SPEC §9.8). Same encodings as
 * application messages and byte-identical to the Rust runtime's
 * `tagwire::control`, so a peer decodes every frame with one codec and
 * dispatches on the header's first byte: `_` is the runtime's.
 */

import { BinaryReader, BinaryWriter } from "./binary.js";
import type { Reader, Writer } from "./codec.js";
import { DEFAULT_LIMITS, DecodeError, EncodeError, type Limits } from "./error.js";
import type { Header } from "./header.js";
import { TextReader, TextWriter } from "./text.js";

/** `_a`: the server's heartbeat; the client answers with a pong. */
export const PING: Header = "_a";
/** `_b`: the client's answer to a ping. */
export const PONG: Header = "_b";
/** `_c`: the client's first frame, naming the protocol it was built from. */
export const HELLO: Header = "_c";
/** `_d`: the server's first frame, naming its protocol and heartbeat. */
export const WELCOME: Header = "_d";
/** `_e`: the server is going away (deploy); reconnect inside the window. */
export const DRAIN: Header = "_e";
/** `_f`: a frame was refused; the connection stays open. */
export const ERROR: Header = "_f";
/** `_g`: a message version this client does not share with the server (SPEC §9.1, §9.6); the connection stays open. */
export const OUTDATED: Header = "_g";
/**
 * `_h`: a room message: the room, its position, then the message's own frame
 * (SPEC §9.7). Read with {@link splitRoomText} / {@link splitRoomBinary}, not
 * as a {@link Control}: the inner frame is the application's.
 */
export const ROOM: Header = "_h";
/** `_i`: the client's last position in a room, sent after the hello of a reconnect so the server replays what it missed. */
export const RESUME: Header = "_i";
/** `_j`: messages of a room the client asked for are gone for good; refetch its state. */
export const GAP: Header = "_j";
/**
 * `_k`: the client sets its presence state in a room: the room, then the
 * presence message's own frame (SPEC §9.8). Written with
 * {@link encodePresenceSetText} / {@link encodePresenceSetBinary}.
 */
export const PRESENCE_SET: Header = "_k";
/**
 * `_l`: a presence event (join, update, leave), only ever the inner frame of
 * an `_h` room message (SPEC §9.8). Read with {@link splitPresenceEventText}
 * / {@link splitPresenceEventBinary}.
 */
export const PRESENCE_EVENT: Header = "_l";
/** `_m`: a room's presence at a position; `count` `_n` frames follow at once (SPEC §9.8). */
export const PRESENCE_SNAPSHOT: Header = "_m";
/**
 * `_n`: one member of the snapshot just announced by `_m`: the room, the
 * member, then its state frame (SPEC §9.8). Read with
 * {@link splitPresenceMemberText} / {@link splitPresenceMemberBinary}.
 */
export const PRESENCE_MEMBER: Header = "_n";

/**
 * Where a message stands in its room (SPEC §9.7): the room's epoch and the
 * message's sequence number in it, counted from 1 in every epoch. Positions
 * of different epochs do not compare (the room started over). `u64` on the
 * wire, so `bigint` here as every `u64` in this runtime; both stay below
 * 2⁵³, so `Number(p.seq)` is exact when a number is handier.
 */
export interface RoomPosition {
  /** The room's epoch; 0 only in {@link ROOM_START}. */
  epoch: bigint;
  /** The sequence number of the last message seen; 0 before the first. */
  seq: bigint;
}

/** `(0, 0)`: nothing seen in the room. */
export const ROOM_START: Readonly<RoomPosition> = Object.freeze({ epoch: 0n, seq: 0n });

/**
 * Whether a message at `position` was already seen by a client whose last
 * position in the room is `last`: the same epoch, and not after it (the
 * Rust runtime's `RoomPosition::is_seen_by`).
 */
export function isSeenBy(position: RoomPosition, last: RoomPosition): boolean {
  return position.epoch === last.epoch && position.seq <= last.seq;
}

/** The `_h` envelope's fields: the room and the message's position in it. */
export interface RoomEnvelope {
  room: string;
  position: RoomPosition;
}

/** An `_h` frame split into its envelope and the inner frame (`string` from text, `Uint8Array` from binary). */
export interface RoomFrame<F extends string | Uint8Array> extends RoomEnvelope {
  /** The message's own frame, verbatim (header included); its package's decoder reads it. */
  inner: F;
}

/** `_i`: a reconnecting client's last position in one room. */
export interface Resume {
  room: string;
  position: RoomPosition;
}

/**
 * Why messages of a room are gone: `trimmed`, the history window (a number of
 * messages and an age) no longer reaches back to the client's position;
 * `reset`, the room started over (another epoch) or the position is ahead of
 * it. A kind this runtime does not know reads as `reset`: either way the
 * application refetches.
 */
export type GapKind = "trimmed" | "reset";

/** `_j`: the messages of a room after the client's position can no longer be had. */
export interface GapNotice {
  room: string;
  kind: GapKind;
  /** The room's position when the gap was found: live messages follow it. */
  position: RoomPosition;
}

/**
 * `_m`: a room's presence at `position`. The `count` `_n` frames that follow
 * are its members; the client replaces its presence for the room with them
 * and ignores presence events at or before `position` from then on. It does
 * not change the room's remembered position (SPEC §9.8).
 */
export interface PresenceSnapshotNotice {
  room: string;
  position: RoomPosition;
  /** How many `_n` frames follow (u32). */
  count: number;
}

/** What happened to a member: it is new, its state changed, or it left. */
export type PresenceKind = "join" | "update" | "leave";

const PRESENCE_KINDS: readonly PresenceKind[] = ["join", "update", "leave"];

/** An `_l` frame split: the event and, but for a leave, the member's state frame (verbatim, header included). */
export interface PresenceEventFrame<F extends string | Uint8Array> {
  kind: PresenceKind;
  member: string;
  /** `undefined` for a leave. */
  state: F | undefined;
}

/** An `_n` frame split: the room, the member and its state frame. */
export interface PresenceMemberFrame<F extends string | Uint8Array> {
  room: string;
  member: string;
  state: F;
}

/** A `_k` frame split: the room and the state frame. */
export interface PresenceSetFrame<F extends string | Uint8Array> {
  room: string;
  state: F;
}

/** What a client says about itself when it connects. */
export interface Hello {
  /** The schema package the client was generated from (`ui`). */
  package: string;
  /** The client's `PROTOCOL_FINGERPRINT`. */
  fingerprint: string;
  /** Every header the client was generated with, concatenated (`aaabac`). */
  headers: string;
}

/** What the server says about itself when a client connects. */
export interface Welcome {
  /** The schema package the server was generated from. */
  package: string;
  /** The server's `PROTOCOL_FINGERPRINT`. */
  fingerprint: string;
  /** How often the server pings (u32). */
  pingIntervalMs: number;
}

/** The drain notice, sent just before the server closes with 4001. */
export interface DrainNotice {
  /** Human-readable, for logs and UIs ("Server updating"). */
  reason: string;
  /** Reconnect at a uniformly random moment within this many ms of the notice (u32). */
  windowMs: number;
  /** Factor applied to the backoff for the reconnects that follow (f64; the server's default 2 doubles it). */
  backoffMultiplier: number;
}

/** A refused frame (SPEC §9.3); the connection survives. */
export interface ErrorNotice {
  /** One of {@link ErrorCode}'s values (u16). */
  code: number;
  /** Human-readable detail (what and where). */
  message: string;
}

/**
 * "Protocol outdated" (SPEC §9.1, §9.6): the server could not speak to this client
 * in a version it knows. Either the server had a message for it that has no
 * conversion down to the client's versions, or the client sent a version the
 * server's schema has removed. The connection stays open: everything else
 * still flows in the versions both sides know. Byte-identical to the Rust
 * runtime's `OutdatedNotice`.
 */
export interface OutdatedNotice {
  /** The 2-character header at issue (`ad`). */
  header: string;
  /** Its message's name (`Typing`); empty when the server cannot name it. */
  message: string;
  /** Its version (u32). */
  version: number;
  /** Human-readable, for logs ("Typing v1 was removed"). */
  reason: string;
}

/** The codes an {@link ErrorNotice} carries (SPEC §9.3). */
export const ErrorCode = {
  /** The frame's header is not a message the receiver accepts. */
  UNKNOWN_HEADER: 1,
  /** The frame could not be decoded (the message names the position). */
  MALFORMED: 2,
  /** The message exists but may not be sent in this direction. */
  WRONG_DIRECTION: 3,
  /** The application refused the message. */
  REFUSED: 4,
  /** The client is over a rate limit; the frame was dropped unhandled. */
  RATE_LIMITED: 5,
  /** The client may not send this message (authorization denied). */
  FORBIDDEN: 6,
  /** A value decoded but breaks a constraint of the schema. */
  INVALID: 7,
} as const;

/** The name of each {@link ErrorCode} (SPEC §9.3), and `"unknown"` for codes this runtime does not know. */
export type ErrorCodeName =
  | "unknown_header"
  | "malformed"
  | "wrong_direction"
  | "refused"
  | "rate_limited"
  | "forbidden"
  | "invalid"
  | "unknown";

const ERROR_CODE_NAMES: readonly ErrorCodeName[] = [
  "unknown",
  "unknown_header",
  "malformed",
  "wrong_direction",
  "refused",
  "rate_limited",
  "forbidden",
  "invalid",
];

/**
 * A code's name in SPEC §9.3 (`rate_limited`), as the Rust runtime's
 * `error_code::name`; `"unknown"` for codes this runtime does not know
 * (newer servers may send more).
 */
export function errorCodeName(code: number): ErrorCodeName {
  return (Number.isInteger(code) && ERROR_CODE_NAMES[code]) || "unknown";
}

/** One control message, discriminated by `type`. */
export type Control =
  | { type: "ping" }
  | { type: "pong" }
  | { type: "hello"; value: Hello }
  | { type: "welcome"; value: Welcome }
  | { type: "drain"; value: DrainNotice }
  | { type: "error"; value: ErrorNotice }
  | { type: "outdated"; value: OutdatedNotice }
  | { type: "resume"; value: Resume }
  | { type: "gap"; value: GapNotice }
  | { type: "presenceSnapshot"; value: PresenceSnapshotNotice };

/** The header of a control message. */
export function headerOfControl(c: Control): Header {
  switch (c.type) {
    case "ping":
      return PING;
    case "pong":
      return PONG;
    case "hello":
      return HELLO;
    case "welcome":
      return WELCOME;
    case "drain":
      return DRAIN;
    case "error":
      return ERROR;
    case "outdated":
      return OUTDATED;
    case "resume":
      return RESUME;
    case "gap":
      return GAP;
    case "presenceSnapshot":
      return PRESENCE_SNAPSHOT;
  }
}

/** Whether a header belongs to the runtime's control messages (starts with `_`, SPEC §9). */
export function isControlHeader(header: string): boolean {
  return header.charCodeAt(0) === 0x5f;
}

function writeControl(w: Writer, c: Control): void {
  switch (c.type) {
    case "ping":
    case "pong":
      return;
    case "hello":
      w.str(c.value.package);
      w.str(c.value.fingerprint);
      w.str(c.value.headers);
      return;
    case "welcome":
      w.str(c.value.package);
      w.str(c.value.fingerprint);
      w.u32(c.value.pingIntervalMs);
      return;
    case "drain":
      w.str(c.value.reason);
      w.u32(c.value.windowMs);
      w.f64(c.value.backoffMultiplier);
      return;
    case "error":
      w.u16(c.value.code);
      w.str(c.value.message);
      return;
    case "outdated":
      w.str(c.value.header);
      w.str(c.value.message);
      w.u32(c.value.version);
      w.str(c.value.reason);
      return;
    case "resume":
      w.str(c.value.room);
      writePosition(w, c.value.position);
      return;
    case "gap":
      w.str(c.value.room);
      w.str(c.value.kind);
      writePosition(w, c.value.position);
      return;
    case "presenceSnapshot":
      w.str(c.value.room);
      writePosition(w, c.value.position);
      w.u32(c.value.count);
      return;
  }
}

/** Epoch then seq, wherever a frame carries a room position (`_h`, `_i`, `_j`, `_m`). */
function writePosition(w: Writer, p: RoomPosition): void {
  w.u64(p.epoch);
  w.u64(p.seq);
}

function readPosition(r: Reader): RoomPosition {
  const epoch = r.u64();
  return { epoch, seq: r.u64() };
}

function readControl(r: Reader): Control {
  let c: Control;
  switch (r.header) {
    case PING:
      c = { type: "ping" };
      break;
    case PONG:
      c = { type: "pong" };
      break;
    case HELLO:
      c = { type: "hello", value: { package: r.string(), fingerprint: r.string(), headers: r.string() } };
      break;
    case WELCOME:
      c = { type: "welcome", value: { package: r.string(), fingerprint: r.string(), pingIntervalMs: r.u32() } };
      break;
    case DRAIN:
      c = { type: "drain", value: { reason: r.string(), windowMs: r.u32(), backoffMultiplier: r.f64() } };
      break;
    case ERROR:
      c = { type: "error", value: { code: r.u16(), message: r.string() } };
      break;
    case OUTDATED:
      c = { type: "outdated", value: { header: r.string(), message: r.string(), version: r.u32(), reason: r.string() } };
      break;
    case RESUME:
      c = { type: "resume", value: { room: r.string(), position: readPosition(r) } };
      break;
    case GAP: {
      const room = r.string();
      const kind: GapKind = r.string() === "trimmed" ? "trimmed" : "reset";
      c = { type: "gap", value: { room, kind, position: readPosition(r) } };
      break;
    }
    case PRESENCE_SNAPSHOT: {
      const room = r.string();
      const position = readPosition(r);
      c = { type: "presenceSnapshot", value: { room, position, count: r.u32() } };
      break;
    }
    default:
      throw r.unknownHeader();
  }
  r.finish();
  return c;
}

/** A control message's text frame (`_e|Server updating|5000|2`). */
export function encodeControlText(c: Control): string {
  const w = new TextWriter(headerOfControl(c));
  writeControl(w, c);
  return w.finish();
}

/** A control message's binary frame, in a fresh array. */
export function encodeControlBinary(c: Control): Uint8Array {
  const w = new BinaryWriter(headerOfControl(c), 64);
  writeControl(w, c);
  return w.finish();
}

/** Decodes a control text frame strictly; other headers are `unknown_header`. */
export function decodeControlText(frame: string, limits: Limits = DEFAULT_LIMITS): Control {
  return readControl(new TextReader(frame, limits));
}

/** Decodes a control binary frame strictly; other headers are `unknown_header`. */
export function decodeControlBinary(frame: Uint8Array, limits: Limits = DEFAULT_LIMITS): Control {
  return readControl(new BinaryReader(frame, limits));
}

/** The `_h` text frame of a room message: `_h|<room>|<epoch>|<seq>|` and `inner` (the message's text frame) verbatim. */
export function encodeRoomText(envelope: RoomEnvelope, inner: string): string {
  const w = new TextWriter(ROOM);
  w.str(envelope.room);
  writePosition(w, envelope.position);
  return `${w.finish()}|${inner}`;
}

/** The `_h` binary frame of a room message: `_h`, the room, epoch and seq, then `inner` (the message's binary frame) to the end. */
export function encodeRoomBinary(envelope: RoomEnvelope, inner: Uint8Array): Uint8Array {
  if (!(inner instanceof Uint8Array)) throw new EncodeError("tagwire: a binary room message's inner frame must be bytes");
  const w = new BinaryWriter(ROOM, 32);
  w.str(envelope.room);
  writePosition(w, envelope.position);
  const prefix = w.finish();
  const frame = new Uint8Array(prefix.length + inner.length);
  frame.set(prefix);
  frame.set(inner, prefix.length);
  return frame;
}

/**
 * Splits an `_h` text frame into the room, the position and the inner frame
 * (SPEC §9.7). The envelope is read strictly; the inner frame is not looked
 * at (its package's decoder does that, an empty one included). Other
 * headers are `unknown_header`.
 */
export function splitRoomText(frame: string, limits: Limits = DEFAULT_LIMITS): RoomFrame<string> {
  return splitRoom(new TextReader(frame, limits));
}

/** Splits an `_h` binary frame as {@link splitRoomText} does; `inner` is a view into `frame`, not a copy. */
export function splitRoomBinary(frame: Uint8Array, limits: Limits = DEFAULT_LIMITS): RoomFrame<Uint8Array> {
  return splitRoom(new BinaryReader(frame, limits));
}

/** The envelope's fields, then the rest of the frame in the reader's own form (text or bytes). */
function splitRoom<F extends string | Uint8Array>(r: Reader & { rest(): F }): RoomFrame<F> {
  if (r.header !== ROOM) throw r.unknownHeader();
  const room = r.string();
  const position = readPosition(r);
  return { room, position, inner: r.rest() };
}

/** A prefix written by `fields` under `header`, then `inner` verbatim after a `|` (text). */
function withInnerText(header: Header, fields: (w: TextWriter) => void, inner: string | undefined): string {
  const w = new TextWriter(header);
  fields(w);
  const prefix = w.finish();
  return inner === undefined ? prefix : `${prefix}|${inner}`;
}

/** A prefix written by `fields` under `header`, then `inner` to the end, no length (binary). */
function withInnerBinary(header: Header, fields: (w: BinaryWriter) => void, inner: Uint8Array | undefined): Uint8Array {
  if (inner !== undefined && !(inner instanceof Uint8Array)) {
    throw new EncodeError("tagwire: a binary presence frame's state must be bytes");
  }
  const w = new BinaryWriter(header, 32);
  fields(w);
  const prefix = w.finish();
  if (inner === undefined) return prefix;
  const frame = new Uint8Array(prefix.length + inner.length);
  frame.set(prefix);
  frame.set(inner, prefix.length);
  return frame;
}

/** `_k|<room>|` and the state's text frame: what `setPresence` sends. */
export function encodePresenceSetText(room: string, state: string): string {
  return withInnerText(PRESENCE_SET, (w) => w.str(room), state);
}

/** `_k`, the room, then the state's binary frame to the end. */
export function encodePresenceSetBinary(room: string, state: Uint8Array): Uint8Array {
  return withInnerBinary(PRESENCE_SET, (w) => w.str(room), state);
}

/** Splits a `_k` text frame (what a server reads); the state frame is not looked at. */
export function splitPresenceSetText(frame: string, limits: Limits = DEFAULT_LIMITS): PresenceSetFrame<string> {
  const r = new TextReader(frame, limits);
  if (r.header !== PRESENCE_SET) throw r.unknownHeader();
  const room = r.string();
  return { room, state: r.rest() };
}

/** Splits a `_k` binary frame; `state` is a view into `frame`. */
export function splitPresenceSetBinary(frame: Uint8Array, limits: Limits = DEFAULT_LIMITS): PresenceSetFrame<Uint8Array> {
  const r = new BinaryReader(frame, limits);
  if (r.header !== PRESENCE_SET) throw r.unknownHeader();
  const room = r.string();
  return { room, state: r.rest() };
}

/** The `_l` text frame of an event (the inner frame of an `_h`); a leave has no state. */
export function encodePresenceEventText(kind: PresenceKind, member: string, state?: string): string {
  return withInnerText(
    PRESENCE_EVENT,
    (w) => {
      w.str(kind);
      w.str(member);
    },
    kind === "leave" ? undefined : (state ?? ""),
  );
}

/** The `_l` binary frame of an event; a leave has no state. */
export function encodePresenceEventBinary(kind: PresenceKind, member: string, state?: Uint8Array): Uint8Array {
  return withInnerBinary(
    PRESENCE_EVENT,
    (w) => {
      w.str(kind);
      w.str(member);
    },
    kind === "leave" ? undefined : (state ?? new Uint8Array(0)),
  );
}

/**
 * Splits an `_l` text frame (an `_h`'s inner frame): a kind this runtime
 * does not know is `unknown_enum_value` (the frame is skipped, SPEC §9.8);
 * a leave must end after the member.
 */
export function splitPresenceEventText(frame: string, limits: Limits = DEFAULT_LIMITS): PresenceEventFrame<string> {
  return splitPresenceEvent(new TextReader(frame, limits), { token: 1, byte: 3 });
}

/** Splits an `_l` binary frame as {@link splitPresenceEventText} does; `state` is a view into `frame`. */
export function splitPresenceEventBinary(frame: Uint8Array, limits: Limits = DEFAULT_LIMITS): PresenceEventFrame<Uint8Array> {
  return splitPresenceEvent(new BinaryReader(frame, limits), { byte: 2 });
}

/** The kind is the first field, so where it starts is known before it is read: `at`. */
function splitPresenceEvent<F extends string | Uint8Array>(
  r: Reader & { rest(): F },
  at: { token: number; byte: number } | { byte: number },
): PresenceEventFrame<F> {
  if (r.header !== PRESENCE_EVENT) throw r.unknownHeader();
  const word = r.string();
  const kind = PRESENCE_KINDS.find((k) => k === word);
  if (kind === undefined) throw new DecodeError("unknown_enum_value", at);
  const member = r.string();
  if (kind === "leave") {
    r.finish();
    return { kind, member, state: undefined };
  }
  return { kind, member, state: r.rest() };
}

/** The `_n` text frame of one snapshot member. */
export function encodePresenceMemberText(room: string, member: string, state: string): string {
  return withInnerText(
    PRESENCE_MEMBER,
    (w) => {
      w.str(room);
      w.str(member);
    },
    state,
  );
}

/** The `_n` binary frame of one snapshot member. */
export function encodePresenceMemberBinary(room: string, member: string, state: Uint8Array): Uint8Array {
  return withInnerBinary(
    PRESENCE_MEMBER,
    (w) => {
      w.str(room);
      w.str(member);
    },
    state,
  );
}

/** Splits an `_n` text frame; the state frame is not looked at. */
export function splitPresenceMemberText(frame: string, limits: Limits = DEFAULT_LIMITS): PresenceMemberFrame<string> {
  return splitPresenceMember(new TextReader(frame, limits));
}

/** Splits an `_n` binary frame; `state` is a view into `frame`. */
export function splitPresenceMemberBinary(frame: Uint8Array, limits: Limits = DEFAULT_LIMITS): PresenceMemberFrame<Uint8Array> {
  return splitPresenceMember(new BinaryReader(frame, limits));
}

function splitPresenceMember<F extends string | Uint8Array>(r: Reader & { rest(): F }): PresenceMemberFrame<F> {
  if (r.header !== PRESENCE_MEMBER) throw r.unknownHeader();
  const room = r.string();
  const member = r.string();
  return { room, member, state: r.rest() };
}
