/**
 * Binary encoding (SPEC §4): header, then fields with no tags.
 */

import {
  checkBool,
  checkBytes,
  checkFloat,
  checkI16,
  checkI32,
  checkI64,
  checkI8,
  checkString,
  checkU16,
  checkU32,
  checkU64,
  checkU8,
} from "./check.js";
import { DecodeError, DEFAULT_LIMITS, EncodeError, type DecodeErrorKind, type Limits } from "./error.js";
import { BaseReader, BaseWriter, type Reader, type Writer } from "./codec.js";
import { cachedHeader, isHeader, symbolValue, type Header } from "./header.js";
import { isWellFormed, loneSurrogateError, utf8Decoder, utf8Encoder } from "./utf8.js";

const TWO_49 = 2 ** 49;

// Floats are read through one shared scratch word instead of a DataView per
// frame: allocating the view cost ~5 % of decoding the benchmark's traffic.
const F32 = new Float32Array(1);
const F64 = new Float64Array(1);
const F32_BYTES = new Uint8Array(F32.buffer);
const F64_BYTES = new Uint8Array(F64.buffer);
/** XOR mask turning a little-endian byte index into the platform's (0 on little-endian hosts). */
const ENDIAN_FLIP = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 7;

const fromCharCode = String.fromCharCode;
const SAFE_RANGE = 0x20_0000_0000_0000n; // 2^53

/** Bytes of the unsigned LEB128 form of `v` (a non-negative integer ≤ 2^53). */
function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/**
 * Builds one binary frame in a growable buffer that is reused from frame to
 * frame ({@link BinaryWriter.begin}); {@link BinaryWriter.finish} returns a
 * copy of exactly the frame's bytes. Same method names and shapes as
 * {@link TextWriter}, so generated code has one template for both.
 */
export class BinaryWriter extends BaseWriter implements Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  /** Starts a frame with `header` (or call {@link BinaryWriter.begin} later). */
  constructor(header?: Header, initialCapacity = 256) {
    super();
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
    if (header !== undefined) this.begin(header);
  }

  /** Discards anything written (keeping the buffer) and starts a new frame. */
  begin(header: Header): this {
    if (!isHeader(header)) throw new EncodeError(`tagwire: ${JSON.stringify(header)} is not a header`);
    this.buf[0] = header.charCodeAt(0);
    this.buf[1] = header.charCodeAt(1);
    this.pos = 2;
    return this;
  }

  /** A copy of the frame written so far. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** Room for `n` more bytes. */
  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** LEB128 of a non-negative integer up to 2^53. */
  private varint(v: number): void {
    this.ensure(10);
    const buf = this.buf;
    let p = this.pos;
    while (v >= 0x8000_0000) {
      buf[p++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    while (v >= 0x80) {
      buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[p++] = v;
    this.pos = p;
  }

  /** LEB128 of a u64 held as a bigint. */
  private varintBig(v: bigint): void {
    if (v < SAFE_RANGE) {
      this.varint(Number(v));
      return;
    }
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** One byte, 0 or 1. */
  bool(v: boolean): void {
    checkBool(v);
    this.byte(v ? 1 : 0);
  }
  /** One raw byte. */
  u8(v: number): void {
    checkU8(v);
    this.byte(v);
  }
  /** LEB128. */
  u16(v: number): void {
    checkU16(v);
    this.varint(v);
  }
  /** LEB128. */
  override u32(v: number): void {
    checkU32(v);
    this.varint(v);
  }
  /** LEB128. */
  u64(v: bigint): void {
    checkU64(v);
    this.varintBig(v);
  }
  /** One two's-complement byte. */
  i8(v: number): void {
    checkI8(v);
    this.byte(v & 0xff);
  }
  /** Zigzag LEB128. */
  i16(v: number): void {
    checkI16(v);
    this.varint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  /** Zigzag LEB128. */
  i32(v: number): void {
    checkI32(v);
    this.varint(((v << 1) ^ (v >> 31)) >>> 0);
  }
  /** Zigzag LEB128. */
  i64(v: bigint): void {
    checkI64(v);
    if (v > -SAFE_RANGE / 2n && v < SAFE_RANGE / 2n) {
      const n = Number(v);
      this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
    } else {
      this.varintBig(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)));
    }
  }
  /** 4 bytes little-endian; every NaN as the canonical quiet NaN `00 00 C0 7F`. */
  f32(v: number): void {
    checkFloat(v);
    this.ensure(4);
    if (v !== v) this.view.setUint32(this.pos, 0x7fc0_0000, true);
    else this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }
  /** 8 bytes little-endian; every NaN as the canonical quiet NaN `…F8 7F`. */
  f64(v: number): void {
    checkFloat(v);
    this.ensure(8);
    if (v !== v) {
      this.view.setUint32(this.pos, 0, true);
      this.view.setUint32(this.pos + 4, 0x7ff8_0000, true);
    } else this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  /** Byte length, then UTF-8. A lone surrogate throws {@link EncodeError}. */
  str(v: string): void {
    checkString(v);
    const n = v.length;
    if (n <= 42) {
      // 3 bytes per UTF-16 unit at most, so the length fits one byte: encode inline.
      this.ensure(1 + 3 * n);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c < 0x80) buf[p++] = c;
        else if (c < 0x800) {
          buf[p++] = 0xc0 | (c >> 6);
          buf[p++] = 0x80 | (c & 63);
        } else if (c < 0xd800 || c > 0xdfff) {
          buf[p++] = 0xe0 | (c >> 12);
          buf[p++] = 0x80 | ((c >> 6) & 63);
          buf[p++] = 0x80 | (c & 63);
        } else {
          const d = v.charCodeAt(i + 1);
          if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) throw loneSurrogateError(v);
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          buf[p++] = 0xf0 | (cp >> 18);
          buf[p++] = 0x80 | ((cp >> 12) & 63);
          buf[p++] = 0x80 | ((cp >> 6) & 63);
          buf[p++] = 0x80 | (cp & 63);
          i++;
        }
      }
      buf[start] = p - start - 1;
      this.pos = p;
      return;
    }
    if (!isWellFormed(v)) throw loneSurrogateError(v);
    const max = 3 * n;
    const room = varintSize(max);
    this.ensure(room + max);
    const at = this.pos;
    const { written } = utf8Encoder().encodeInto(v, this.buf.subarray(at + room, at + room + max));
    const size = varintSize(written);
    if (size < room) this.buf.copyWithin(at + size, at + room, at + room + written);
    this.varint(written);
    this.pos = at + size + written;
  }
  /** Length, then raw bytes. */
  bytes(v: Uint8Array): void {
    checkBytes(v);
    this.varint(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }
  /** LEB128. */
  protected override count(n: number): void {
    this.varint(n);
  }
  /** One byte, 0 or 1: it marks a struct as well as any other value. */
  protected override presence(present: boolean): void {
    this.byte(present ? 1 : 0);
  }
}

/**
 * Reads one binary frame, checking every value strictly (SPEC §4, §6).
 * Errors are {@link DecodeError}s at the first byte of the item being read.
 */
export class BinaryReader extends BaseReader implements Reader {
  /** The frame's header, for the generated `switch`. */
  readonly header: Header;
  private readonly buf: Uint8Array;

  /**
   * Checks the frame's size and header bytes; whether the header belongs to
   * the protocol is the caller's `switch` ({@link BinaryReader.unknownHeader}).
   */
  constructor(frame: Uint8Array | ArrayBuffer, limits: Limits = DEFAULT_LIMITS) {
    super(limits);
    // A plain Uint8Array view, so subclasses (Node's Buffer, whose `slice`
    // aliases) behave like the standard type.
    const buf =
      frame instanceof Uint8Array
        ? frame.constructor === Uint8Array
          ? frame
          : new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength)
        : new Uint8Array(frame);
    this.buf = buf;
    if (buf.length > limits.maxFrameBytes) throw new DecodeError("frame_too_large", { byte: 0 });
    if (buf.length < 2) throw new DecodeError("truncated", { byte: 0 });
    const a = symbolValue(buf[0]!);
    const b = symbolValue(buf[1]!);
    if (a < 0 || b < 0) throw new DecodeError("unknown_header", { byte: 0 });
    this.header = cachedHeader(a, b);
  }

  /** The error for a header this protocol does not know. */
  unknownHeader(): DecodeError {
    return new DecodeError("unknown_header", { byte: 0 });
  }

  /**
   * Ends decoding with every byte left, verbatim (a view, not a copy): the
   * inner frame of an envelope (SPEC §9.7), which its own decoder reads.
   */
  rest(): Uint8Array {
    const rest = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return rest;
  }

  /** Ends decoding: any byte left is trailing data. */
  finish(): void {
    if (this.pos < this.buf.length) throw this.failAt("trailing_data", this.pos);
  }

  /** Binary errors are at the first byte of the item being read. */
  protected override failAt(kind: DecodeErrorKind, at: number, value?: number): DecodeError {
    return new DecodeError(kind, { byte: at }, value);
  }

  /** Unsigned LEB128 of at most `maxBytes` (≤ 5) bytes and at most `max`. */
  private varint(maxBytes: number, max: number): number {
    const buf = this.buf;
    const start = this.pos;
    const first = buf[start];
    if (first !== undefined && first < 0x80) {
      this.pos = start + 1;
      if (first > max) throw this.failAt("out_of_range", start);
      return first;
    }
    let value = 0;
    let scale = 1;
    for (let i = 0; i < maxBytes; i++) {
      const b = buf[start + i];
      if (b === undefined) throw this.failAt("truncated", start);
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = start + i + 1;
        if (b === 0 && i > 0) throw this.failAt("invalid_varint", start);
        if (value > max) throw this.failAt("out_of_range", start);
        return value;
      }
      scale *= 128;
    }
    throw this.failAt("invalid_varint", start);
  }

  /** Unsigned LEB128 of at most 10 bytes and at most 2^64 − 1: a number when below 2^49, else a bigint. */
  private varint64(): number | bigint {
    const buf = this.buf;
    const start = this.pos;
    let low = 0;
    let high = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = buf[start + i];
      if (b === undefined) throw this.failAt("truncated", start);
      if (i === 7) scale = 1;
      if (i < 7) low += (b & 0x7f) * scale;
      else high += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.pos = start + i + 1;
        if (b === 0 && i > 0) throw this.failAt("invalid_varint", start);
        if (high >= 0x8000) throw this.failAt("out_of_range", start);
        return high === 0 ? low : (BigInt(high) << 49n) | BigInt(low);
      }
      scale *= 128;
    }
    throw this.failAt("invalid_varint", start);
  }

  private flag(): boolean {
    const at = this.pos;
    const b = this.buf[at];
    if (b === undefined) throw this.failAt("truncated", at);
    if (b > 1) throw this.failAt("invalid_bool", at);
    this.pos = at + 1;
    return b === 1;
  }

  private byte(): number {
    const b = this.buf[this.pos];
    if (b === undefined) throw this.failAt("truncated", this.pos);
    this.pos++;
    return b;
  }

  /** Byte 0 or 1. */
  bool(): boolean {
    return this.flag();
  }
  /** One raw byte. */
  u8(): number {
    return this.byte();
  }
  /** LEB128, at most 3 bytes. */
  u16(): number {
    return this.varint(3, 0xffff);
  }
  /** LEB128, at most 5 bytes. */
  override u32(): number {
    return this.varint(5, 0xffff_ffff);
  }
  /** LEB128, at most 10 bytes, as a bigint. */
  u64(): bigint {
    const v = this.varint64();
    return typeof v === "bigint" ? v : BigInt(v);
  }
  /** One two's-complement byte. */
  i8(): number {
    return (this.byte() << 24) >> 24;
  }
  /** Zigzag LEB128, at most 3 bytes. */
  i16(): number {
    const u = this.varint(3, 0xffff);
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }
  /** Zigzag LEB128, at most 5 bytes. */
  i32(): number {
    const u = this.varint(5, 0xffff_ffff);
    return u % 2 === 1 ? -(u + 1) / 2 : u / 2;
  }
  /** Zigzag LEB128, at most 10 bytes, as a bigint. */
  i64(): bigint {
    const u = this.varint64();
    if (typeof u === "number") return BigInt(u % 2 === 1 ? -(u + 1) / 2 : u / 2);
    return (u >> 1n) ^ -(u & 1n);
  }

  private fixed(n: number): number {
    const at = this.pos;
    if (at + n > this.buf.length) throw this.failAt("truncated", at);
    this.pos = at + n;
    return at;
  }

  /** 4 bytes little-endian; any NaN bit pattern reads as NaN. */
  f32(): number {
    const at = this.fixed(4);
    const buf = this.buf;
    const flip = ENDIAN_FLIP & 3;
    F32_BYTES[0 ^ flip] = buf[at]!;
    F32_BYTES[1 ^ flip] = buf[at + 1]!;
    F32_BYTES[2 ^ flip] = buf[at + 2]!;
    F32_BYTES[3 ^ flip] = buf[at + 3]!;
    return F32[0]!;
  }
  /** 8 bytes little-endian; any NaN bit pattern reads as NaN. */
  f64(): number {
    const at = this.fixed(8);
    const buf = this.buf;
    for (let i = 0; i < 8; i++) F64_BYTES[i ^ ENDIAN_FLIP] = buf[at + i]!;
    return F64[0]!;
  }

  /** Length prefix, checked against `maxStringBytes` before the remaining input; returns the start of the payload. */
  private sized(): number {
    const at = this.pos;
    const len = this.varint(5, 0xffff_ffff);
    if (len > this.limits.maxStringBytes) throw this.failAt("string_too_long", at);
    const start = this.pos;
    if (start + len > this.buf.length) throw this.failAt("truncated", at);
    this.pos = start + len;
    return start;
  }

  /** Length-prefixed UTF-8, strictly validated (`invalid_utf8` at the length prefix). */
  string(): string {
    const at = this.pos;
    const start = this.sized();
    const end = this.pos;
    const buf = this.buf;
    if (end - start <= 32) {
      // Short ASCII strings: 8 bytes per String.fromCharCode call beat
      // TextDecoder's fixed cost (~300-600 ns per call on Node 20) up to
      // about 32 bytes, the bulk of realtime traffic's names, ids and keys.
      let s = "";
      let i = start;
      let ascii = true;
      for (; i + 8 <= end; i += 8) {
        const c0 = buf[i]!, c1 = buf[i + 1]!, c2 = buf[i + 2]!, c3 = buf[i + 3]!;
        const c4 = buf[i + 4]!, c5 = buf[i + 5]!, c6 = buf[i + 6]!, c7 = buf[i + 7]!;
        if ((c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) >= 0x80) {
          ascii = false;
          break;
        }
        s += fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7);
      }
      if (ascii) {
        for (; i < end; i++) {
          const c = buf[i]!;
          if (c >= 0x80) break;
          s += fromCharCode(c);
        }
        if (i === end) return s;
      }
    }
    try {
      return utf8Decoder().decode(buf.subarray(start, end));
    } catch {
      throw this.failAt("invalid_utf8", at);
    }
  }

  /** Length-prefixed raw bytes (a copy: it does not alias the frame). */
  bytes(): Uint8Array {
    const start = this.sized();
    return new Uint8Array(this.buf.subarray(start, this.pos));
  }

  /** LEB128, at most `maxCollectionLen`. */
  protected override count(): number {
    const at = this.pos;
    const n = this.varint(5, 0xffff_ffff);
    if (n > this.limits.maxCollectionLen) throw this.failAt("collection_too_long", at);
    return n;
  }

  /** Presence byte, 0 or 1, for a struct as for any other value. */
  protected override isPresent(): boolean {
    return this.flag();
  }
}
