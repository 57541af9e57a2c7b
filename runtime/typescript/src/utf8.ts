/**
 * UTF-8 helpers over JavaScript's UTF-16 strings: lengths and byte offsets,
 * byte-wise ordering, and lone-surrogate checks.
 */

import { EncodeError } from "./error.js";

// Module-local declarations of the WHATWG globals (in browsers and Node), so
// the package needs neither the DOM lib nor @types/node.
interface Utf8Encoder {
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}
interface Utf8Decoder {
  decode(input: Uint8Array): string;
}
declare const TextEncoder: new () => Utf8Encoder;
declare const TextDecoder: new (
  label: string,
  options: { fatal: boolean; ignoreBOM: boolean },
) => Utf8Decoder;

let encoder: Utf8Encoder | undefined;
let decoder: Utf8Decoder | undefined;

/** Shared encoder, created on first use (keeps module evaluation side-effect free). */
export function utf8Encoder(): Utf8Encoder {
  return (encoder ??= new TextEncoder());
}

/**
 * Strict decoder: `fatal` rejects invalid UTF-8 (overlong forms, surrogates,
 * truncated sequences); `ignoreBOM` keeps a leading U+FEFF, which is data.
 */
export function utf8Decoder(): Utf8Decoder {
  return (decoder ??= new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }));
}

/**
 * UTF-8 length of `s.slice(start, end)`. A lone surrogate counts 3 bytes
 * (as the U+FFFD a lenient encoder would write); callers reject it separately.
 */
export function utf8Length(s: string, start = 0, end: number = s.length): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < end && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

const wellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** Whether `s` has no lone surrogate, i.e. is valid Unicode and so encodable as UTF-8. */
export function isWellFormed(s: string): boolean {
  return wellFormed === undefined ? !LONE_SURROGATE.test(s) : wellFormed.call(s);
}

/** Index of the first lone surrogate in `s`, or -1. */
export function loneSurrogateIndex(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      i++;
      continue;
    }
    return i;
  }
  return -1;
}

/** The error for a string that cannot be carried in UTF-8. */
export function loneSurrogateError(s: string): EncodeError {
  const i = loneSurrogateIndex(s);
  const hex = s.charCodeAt(i).toString(16).toUpperCase();
  return new EncodeError(
    `tagwire: string has a lone UTF-16 surrogate (U+${hex}) at index ${i}; ` +
      "it cannot be encoded as UTF-8, so it cannot be sent",
  );
}

/**
 * Orders strings by their UTF-8 bytes (= by code point), as SPEC §5 requires
 * for map keys. Differs from `<` (UTF-16 code units) only where a surrogate
 * pair (U+10000 and up) meets a code unit in U+E000–U+FFFF.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Lift surrogates above U+E000–U+FFFF, where their code points belong.
    if (x >= 0xd800) x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
    if (y >= 0xd800) y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    return x - y;
  }
  return a.length - b.length;
}
