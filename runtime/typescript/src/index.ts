/**
 * Runtime for Tagwire protocols: the strict, bounded text and binary codecs
 * that generated TypeScript code calls. The wire format is `docs/SPEC.md`;
 * frames are byte-identical to the Rust runtime's.
 *
 * @packageDocumentation
 */

export {
  DECODE_ERROR_KINDS,
  DEFAULT_LIMITS,
  DecodeError,
  EncodeError,
  formatPosition,
  makeLimits,
  type BytePosition,
  type DecodeErrorKind,
  type Limits,
  type Position,
  type TokenPosition,
  type Violation,
} from "./error.js";
export {
  ConstraintError,
  charCount,
  checkBigInt,
  checkFloat,
  checkInt,
  checkLen,
  checkPattern,
  constraintViolation,
  within,
} from "./constraint.js";
export {
  FIRST_RESERVED_INDEX,
  HEADER_ALPHABET,
  HEADER_COUNT,
  compareHeaders,
  headerFromIndex,
  headerIndex,
  isHeader,
  isReservedHeader,
  type Header,
} from "./header.js";
export { compareKeys, type MapKey } from "./keys.js";
export { compareUtf8 } from "./utf8.js";
export { decodeBase64url, encodeBase64url } from "./base64url.js";
export { enumTable, type EnumTable, type Reader, type Writer } from "./codec.js";
export { TextReader, TextWriter } from "./text.js";
export { BinaryReader, BinaryWriter } from "./binary.js";
export type { Package, ServerMessageOf, ClientMessageOf, PresenceStateOf } from "./package.js";
export {
  DRAIN,
  ERROR,
  ErrorCode,
  GAP,
  HELLO,
  OUTDATED,
  PING,
  PONG,
  PRESENCE_EVENT,
  PRESENCE_MEMBER,
  PRESENCE_SET,
  PRESENCE_SNAPSHOT,
  RESUME,
  ROOM,
  ROOM_START,
  WELCOME,
  decodeControlBinary,
  decodeControlText,
  encodeControlBinary,
  encodeControlText,
  encodePresenceEventBinary,
  encodePresenceEventText,
  encodePresenceMemberBinary,
  encodePresenceMemberText,
  encodePresenceSetBinary,
  encodePresenceSetText,
  encodeRoomBinary,
  encodeRoomText,
  errorCodeName,
  headerOfControl,
  isControlHeader,
  isSeenBy,
  splitPresenceEventBinary,
  splitPresenceEventText,
  splitPresenceMemberBinary,
  splitPresenceMemberText,
  splitPresenceSetBinary,
  splitPresenceSetText,
  splitRoomBinary,
  splitRoomText,
  type Control,
  type DrainNotice,
  type ErrorCodeName,
  type ErrorNotice,
  type GapKind,
  type GapNotice,
  type Hello,
  type OutdatedNotice,
  type PresenceEventFrame,
  type PresenceKind,
  type PresenceMemberFrame,
  type PresenceSetFrame,
  type PresenceSnapshotNotice,
  type Resume,
  type RoomEnvelope,
  type RoomFrame,
  type RoomPosition,
  type Welcome,
} from "./control.js";
export { CloseCode, closeAction, closeCodeName, type CloseAction } from "./close.js";
export { connect } from "./client/client.js";
export {
  SendError,
  type Client,
  type ClientEvents,
  type ClientOptions,
  type DebugFrame,
  type Mismatch,
  type PresenceChange,
  type ReconnectReason,
  type RoomDelivery,
  type ServerError,
  type Status,
  type TransportKind,
  type UndecodableFrame,
} from "./client/types.js";
export { DEFAULT_BACKOFF, type Backoff } from "./client/backoff.js";
export { SseParser, defaultSseUrl, type SseEvent } from "./client/sse.js";
export type {
  FetchFunction,
  FetchInit,
  FetchResponseLike,
  StreamReaderLike,
  WebSocketConstructor,
  WebSocketLike,
} from "./client/platform.js";
