import assert from "node:assert/strict";
import {
  BinaryReader,
  BinaryWriter,
  DecodeError,
  DEFAULT_LIMITS,
  TextReader,
  TextWriter,
  type DecodeErrorKind,
  type Limits,
  type Position,
} from "tagwire";

/** Text tokens after the header, for values written by `write` (as primitives.rs's `text`). */
export function text(write: (w: TextWriter) => void): string {
  const w = new TextWriter("aa");
  write(w);
  const f = w.finish();
  assert.ok(f.startsWith("aa"));
  return f.length > 2 ? f.slice(3) : "";
}

/** Binary bytes after the header, as hex. */
export function bin(write: (w: BinaryWriter) => void): string {
  const w = new BinaryWriter("aa");
  write(w);
  return hex(w.finish().subarray(2));
}

export function binBytes(write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter("aa");
  write(w);
  return w.finish().subarray(2);
}

/** Decodes `tokens` (without header) as exactly one value. */
export function fromText<T>(tokens: string, read: (r: TextReader) => T, limits: Limits = DEFAULT_LIMITS): T {
  const r = new TextReader(`aa|${tokens}`, limits);
  const v = read(r);
  r.finish();
  return v;
}

/** Decodes bytes (without header; hex string or array) as exactly one value. */
export function fromBin<T>(
  bytes: string | Uint8Array,
  read: (r: BinaryReader) => T,
  limits: Limits = DEFAULT_LIMITS,
): T {
  const body = typeof bytes === "string" ? unhex(bytes) : bytes;
  const frame = new Uint8Array(body.length + 2);
  frame.set([0x61, 0x61]);
  frame.set(body, 2);
  const r = new BinaryReader(frame, limits);
  const v = read(r);
  r.finish();
  return v;
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");
}

export function unhex(s: string): Uint8Array {
  const parts = s.split(/\s+/).filter((p) => p.length > 0);
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** The DecodeError `f` throws (fails the test when it throws nothing or something else). */
export function decodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw new assert.AssertionError({ message: `expected a DecodeError, got ${String(e)}` });
  }
  throw new assert.AssertionError({ message: "expected a DecodeError, decoding succeeded" });
}

export function errorOf(f: () => unknown): [DecodeErrorKind, Position] {
  const e = decodeError(f);
  return [e.kind, e.position];
}

export function kindOf(f: () => unknown): DecodeErrorKind {
  return decodeError(f).kind;
}

export const tok = (token: number, byte: number): Position => ({ token, byte });
export const at = (byte: number): Position => ({ byte });

/** Same bits (distinguishes -0 and 0; all NaNs equal). */
export function sameFloat(a: number, b: number, message?: string): void {
  if (Number.isNaN(a) && Number.isNaN(b)) return;
  assert.ok(Object.is(a, b), message ?? `${a} vs ${b}`);
}
