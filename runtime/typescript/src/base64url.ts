/**
 * Unpadded, strict base64url (RFC 4648 §5), as SPEC §3.6 requires: no
 * padding, no foreign characters, no impossible lengths, zero unused bits.
 */

const ENCODE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const ENCODE_CODES: Uint8Array = (() => {
  const t = new Uint8Array(64);
  for (let i = 0; i < 64; i++) t[i] = ENCODE.charCodeAt(i);
  return t;
})();

const DECODE: Int8Array = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[ENCODE.charCodeAt(i)] = i;
  return t;
})();

/** `String.fromCharCode` over a byte array, in chunks that fit the call stack. */
function fromCodes(codes: Uint8Array): string {
  const CHUNK = 0x2000;
  if (codes.length <= CHUNK) return String.fromCharCode.apply(null, codes as unknown as number[]);
  let out = "";
  for (let i = 0; i < codes.length; i += CHUNK) {
    out += String.fromCharCode.apply(null, codes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return out;
}

/** The unpadded base64url form of `bytes`. */
export function encodeBase64url(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n === 0) return "";
  const out = new Uint8Array(Math.ceil((n * 4) / 3));
  const e = ENCODE_CODES;
  let o = 0;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = e[v >>> 18]!;
    out[o++] = e[(v >>> 12) & 63]!;
    out[o++] = e[(v >>> 6) & 63]!;
    out[o++] = e[v & 63]!;
  }
  if (n - i === 1) {
    const v = bytes[i]! << 16;
    out[o++] = e[v >>> 18]!;
    out[o++] = e[(v >>> 12) & 63]!;
  } else if (n - i === 2) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out[o++] = e[v >>> 18]!;
    out[o++] = e[(v >>> 12) & 63]!;
    out[o++] = e[(v >>> 6) & 63]!;
  }
  return fromCodes(out);
}

/** Bytes that `len` characters decode to, or -1 when no unpadded encoding has that length. */
export function base64urlDecodedLength(len: number): number {
  const rem = len % 4;
  if (rem === 1) return -1;
  return Math.floor(len / 4) * 3 + (rem === 0 ? 0 : rem - 1);
}

function value(text: string, i: number): number {
  const c = text.charCodeAt(i);
  return c < 128 ? DECODE[c]! : -1;
}

/** Decodes strictly; `undefined` for any non-canonical or foreign input. */
export function decodeBase64url(text: string): Uint8Array | undefined {
  const len = base64urlDecodedLength(text.length);
  if (len < 0) return undefined;
  const out = new Uint8Array(len);
  const n = text.length;
  let o = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const a = value(text, i);
    const b = value(text, i + 1);
    const c = value(text, i + 2);
    const d = value(text, i + 3);
    if ((a | b | c | d) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 255;
    out[o++] = v & 255;
  }
  const rest = n - i;
  if (rest === 2) {
    const a = value(text, i);
    const b = value(text, i + 1);
    if ((a | b) < 0) return undefined;
    const v = (a << 18) | (b << 12);
    if ((v & 0xffff) !== 0) return undefined;
    out[o++] = v >>> 16;
  } else if (rest === 3) {
    const a = value(text, i);
    const b = value(text, i + 1);
    const c = value(text, i + 2);
    if ((a | b | c) < 0) return undefined;
    const v = (a << 18) | (b << 12) | (c << 6);
    if ((v & 0xff) !== 0) return undefined;
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 255;
  }
  return out;
}
