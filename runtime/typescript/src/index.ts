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
} from "./error.js";
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
export type { Reader, Writer } from "./codec.js";
export { TextReader, TextWriter } from "./text.js";
export { BinaryReader, BinaryWriter } from "./binary.js";
