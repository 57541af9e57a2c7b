/**
 * Decode and encode errors, and the limits that bound decoding (SPEC §6–7).
 */

/**
 * Why a frame was rejected: the SPEC's snake_case names, the same in every
 * Tagwire implementation (Rust's `DecodeErrorKind::as_str`).
 */
export type DecodeErrorKind =
  | "truncated"
  | "trailing_data"
  | "unknown_header"
  | "invalid_utf8"
  | "invalid_varint"
  | "out_of_range"
  | "unknown_enum_value"
  | "unknown_variant"
  | "invalid_token"
  | "invalid_bool"
  | "invalid_escape"
  | "invalid_base64"
  | "duplicate_map_key"
  | "unsorted_map_keys"
  | "frame_too_large"
  | "collection_too_long"
  | "string_too_long"
  | "too_deep"
  | "missing_separator"
  | "constraint_violation";

/** Every kind, in SPEC §7's order. */
export const DECODE_ERROR_KINDS: readonly DecodeErrorKind[] = [
  "truncated",
  "trailing_data",
  "unknown_header",
  "invalid_utf8",
  "invalid_varint",
  "out_of_range",
  "unknown_enum_value",
  "unknown_variant",
  "invalid_token",
  "invalid_bool",
  "invalid_escape",
  "invalid_base64",
  "duplicate_map_key",
  "unsorted_map_keys",
  "frame_too_large",
  "collection_too_long",
  "string_too_long",
  "too_deep",
  "missing_separator",
  "constraint_violation",
];

/** Offset of the first byte of the item being decoded in a binary frame. */
export interface BytePosition {
  readonly byte: number;
}

/**
 * A text token: `token` 0 is the header; `byte` is the UTF-8 byte offset
 * where the token starts (the frame's length when the token is missing).
 */
export interface TokenPosition {
  readonly token: number;
  readonly byte: number;
}

/** Where decoding failed (SPEC §6.2). */
export type Position = BytePosition | TokenPosition;

/** `byte 12` or `token 3 (byte 9)`, as Rust's `Display`. */
export function formatPosition(p: Position): string {
  return "token" in p ? `token ${p.token} (byte ${p.byte})` : `byte ${p.byte}`;
}

/**
 * A value that breaks a constraint of the schema (SPEC §6.4): which one, as
 * a path from the message (`shapes[3].circle.radius`), and why
 * (`250 is outside 0..=100`).
 */
export interface Violation {
  readonly path: string;
  readonly message: string;
}

/** A rejected frame: what was wrong (`kind`) and where (`position`). */
export class DecodeError extends Error {
  readonly kind: DecodeErrorKind;
  readonly position: Position;
  /** The offending number, for `unknown_enum_value` and `unknown_variant`. */
  readonly value: number | undefined;
  /** Which value broke which constraint, for `constraint_violation`. */
  readonly violation: Violation | undefined;

  constructor(kind: DecodeErrorKind, position: Position, value?: number, violation?: Violation) {
    const words = kind.replaceAll("_", " ");
    const quoted = value === undefined ? "" : ` ${value}`;
    super(
      violation === undefined
        ? `${words}${quoted} at ${formatPosition(position)}`
        : `${words}: ${violation.path}: ${violation.message}`,
    );
    this.name = "DecodeError";
    this.kind = kind;
    this.position = position;
    this.value = value;
    this.violation = violation;
  }
}

/**
 * A value that cannot be encoded: a string with a lone UTF-16 surrogate
 * (not representable in UTF-8), a number outside its field's type, a value
 * of the wrong JavaScript type. Thrown by the writers; never by the readers.
 */
export class EncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EncodeError";
  }
}

/** Bounds that keep a hostile frame from costing more than its own size (SPEC §6.3). */
export interface Limits {
  /** Largest accepted frame, header included, in bytes (text: UTF-8 bytes). */
  readonly maxFrameBytes: number;
  /** Largest accepted list or map count. */
  readonly maxCollectionLen: number;
  /** Largest accepted string or bytes value, in decoded bytes. */
  readonly maxStringBytes: number;
  /** Deepest accepted nesting of lists, maps, optionals, structs and unions. */
  readonly maxDepth: number;
}

/** SPEC §6.3's defaults. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxFrameBytes: 1 << 20,
  maxCollectionLen: 100_000,
  maxStringBytes: 1 << 20,
  maxDepth: 64,
});

/** The defaults with some limits replaced: `makeLimits({ maxDepth: 8 })`. */
export function makeLimits(overrides: Partial<Limits> = {}): Limits {
  return Object.freeze({ ...DEFAULT_LIMITS, ...overrides });
}
