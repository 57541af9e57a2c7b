/**
 * Message headers: the 2 bytes in front of every frame (SPEC §1).
 *
 * A header is represented as its 2-character string (`"aa"`), so generated
 * code can `switch` on it directly.
 */

/** A 2-character header string whose characters come from {@link HEADER_ALPHABET}. */
export type Header = string;

/** The 64 symbols a header byte may be, in assignment order. */
export const HEADER_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/** Number of distinct headers (64 × 64). */
export const HEADER_COUNT = 4096;

/** Index of `_a`, the first header reserved for the runtime's control messages. */
export const FIRST_RESERVED_INDEX = 63 * 64;

/** Value of each ASCII code in the alphabet, -1 for anything else. */
const SYMBOL_VALUE: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[HEADER_ALPHABET.charCodeAt(i)] = i;
  return t;
})();

/** Value (0–63) of one header character code, or -1. */
export function symbolValue(code: number): number {
  return code < 128 ? (SYMBOL_VALUE[code] ?? -1) : -1;
}

/**
 * The engine's shared copy of `s`, as string literals are: a property key
 * comes back as it. Generated code switches over a decoded header with one
 * `case` per header literal, and such strings compare by identity instead
 * of character by character.
 */
function internalized(s: string): string {
  return Object.keys({ [s]: 0 })[0] as string;
}

/** Header strings by index, filled on first use, so decoding a frame allocates no header string. */
const HEADER_STRINGS: (string | undefined)[] = [];

/**
 * The header of two symbol values (`hi`, `lo`: 0–63, from
 * {@link symbolValue}, checked by the caller): one shared string per header.
 */
export function cachedHeader(hi: number, lo: number): Header {
  const index = hi * 64 + lo;
  return (HEADER_STRINGS[index] ??= internalized(HEADER_ALPHABET.charAt(hi) + HEADER_ALPHABET.charAt(lo)));
}

/** Whether `s` is exactly 2 alphabet characters. */
export function isHeader(s: string): boolean {
  return s.length === 2 && symbolValue(s.charCodeAt(0)) >= 0 && symbolValue(s.charCodeAt(1)) >= 0;
}

/** The header with this index (`0` → `"aa"`, `64` → `"ba"`); `undefined` outside 0–4,095. */
export function headerFromIndex(index: number): Header | undefined {
  if (!Number.isInteger(index) || index < 0 || index >= HEADER_COUNT) return undefined;
  return HEADER_ALPHABET.charAt(index >> 6) + HEADER_ALPHABET.charAt(index & 63);
}

/** Position of a header in assignment order (`64 × first + second`); `undefined` when not a header. */
export function headerIndex(header: string): number | undefined {
  if (header.length !== 2) return undefined;
  const hi = symbolValue(header.charCodeAt(0));
  const lo = symbolValue(header.charCodeAt(1));
  return hi < 0 || lo < 0 ? undefined : hi * 64 + lo;
}

/** Whether the runtime owns this header (first byte `_`). False for non-headers. */
export function isReservedHeader(header: string): boolean {
  return isHeader(header) && header.charCodeAt(0) === 95;
}

/** Orders headers by index (assignment order), not by ASCII. */
export function compareHeaders(a: Header, b: Header): number {
  return (headerIndex(a) ?? -1) - (headerIndex(b) ?? -1);
}
