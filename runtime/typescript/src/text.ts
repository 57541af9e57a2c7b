/**
 * Text encoding (SPEC §3): `HH|token|token…`.
 */

import { decodeBase64url, base64urlDecodedLength, encodeBase64url } from "./base64url.js";
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
import { isWellFormed, loneSurrogateError, loneSurrogateIndex, utf8Length } from "./utf8.js";

const PIPE = 124;
const BACKSLASH = 92;
const TILDE = 126;
const PLUS = 43;
const LF = 10;
const CR = 13;

/**
 * What {@link TextWriter.str} must escape or check: a character SPEC §3.5
 * escapes, or any surrogate (paired or lone; {@link escape} tells them
 * apart). One regular-expression test runs as the engine's compiled matcher,
 * faster than a loop over the characters in script.
 */
const NEEDS_ESCAPE = /[\\|\n\r\ud800-\udfff]/;

/** Escapes a string that needs it (SPEC §3.5); throws on lone surrogates. */
function escape(v: string): string {
  if (!isWellFormed(v)) throw loneSurrogateError(v);
  let out = "";
  let start = 0;
  if (v.charCodeAt(0) === TILDE) {
    out = "\\~";
    start = 1;
  }
  for (let i = start; i < v.length; i++) {
    let e: string;
    switch (v.charCodeAt(i)) {
      case BACKSLASH:
        e = "\\\\";
        break;
      case PIPE:
        e = "\\p";
        break;
      case LF:
        e = "\\n";
        break;
      case CR:
        e = "\\r";
        break;
      default:
        continue;
    }
    out += v.slice(start, i) + e;
    start = i + 1;
  }
  return out + v.slice(start);
}

/** `SMALL_INTS[v]`: the token `|v` for 0 ≤ v < 1024, built on first use. */
let SMALL_INTS: string[] | undefined;

/**
 * `"|" + v` for an integer `v`. Counts, enum values, flags-like fields and
 * small ids are most integers on the wire, and their tokens come from a
 * table instead of a fresh concatenation per token.
 */
function intToken(v: number): string {
  if (v >= 0 && v < 1024) return (SMALL_INTS ??= Array.from({ length: 1024 }, (_, i) => "|" + i))[v] as string;
  return "|" + v;
}

/** `FRACTIONS[j]`: the decimal digits of j/1024 after `.` (`""` for 0), built on first use. */
let FRACTIONS: string[] | undefined;

function fractions(): string[] {
  if (FRACTIONS !== undefined) return FRACTIONS;
  const t = [""];
  // j/1024 = j·5^10/10^10: ten digits, less the trailing zeros.
  for (let j = 1; j < 1024; j++) t.push("." + String(j * 9_765_625).padStart(10, "0").replace(/0+$/, ""));
  return (FRACTIONS = t);
}

/**
 * `String(v)` for a float that is not `-0`. Converting a fraction to its
 * shortest decimal is slow in engines (a digit-generation loop, no cache), and
 * many floats on the wire are multiples of 2^-10 below 2^20: pixel
 * coordinates in halves to 1024ths, values in 1/256 steps. For those the exact
 * decimal, at most 10 digits after the point, is the shortest that reads back
 * as `v`, which is what `String` prints: a decimal with fewer digits lies at
 * least 2^-10·5^-9 ≈ 5e-10 from `v`, farther than half a unit in the last
 * place below 2^20 (2^-34 ≈ 6e-11), and no such value is small enough for
 * exponent notation. Anything else goes through `String`.
 */
function formatFloat(v: number): string {
  const a = v < 0 ? -v : v;
  if (a < 0x10_0000) {
    const scaled = a * 1024;
    const m = scaled | 0;
    if (m === scaled) {
      const digits = (m >> 10) + (fractions()[m & 1023] as string);
      return v < 0 ? "-" + digits : digits;
    }
  }
  return String(v);
}

/**
 * Builds one text frame. Every method appends `|` and one token (composites:
 * a count or marker token, then what the callbacks write), so generated code
 * is a straight list of calls in field order:
 *
 * ```ts
 * const w = new TextWriter("ab");
 * w.bool(v.flag);
 * encodePointText(w, v.pos);                 // struct fields, flattened
 * w.list(v.tags, (w, t) => w.str(t));
 * w.optional(v.note, (w, n) => w.str(n));
 * return w.finish();
 * ```
 *
 * Values outside their type (a `u8` of 300, a string with a lone surrogate)
 * throw {@link EncodeError}.
 */
export class TextWriter extends BaseWriter implements Writer {
  private out = "";

  /** Starts a frame with `header` (or call {@link TextWriter.begin} later). */
  constructor(header?: Header) {
    super();
    if (header !== undefined) this.begin(header);
  }

  /** Discards anything written and starts a new frame. */
  begin(header: Header): this {
    if (!isHeader(header)) throw new EncodeError(`tagwire: ${JSON.stringify(header)} is not a header`);
    this.out = header;
    return this;
  }

  /** The frame written so far. */
  finish(): string {
    return this.out;
  }

  /** `1` or `0`. */
  bool(v: boolean): void {
    checkBool(v);
    this.out += v ? "|1" : "|0";
  }
  /** Decimal. */
  u8(v: number): void {
    checkU8(v);
    this.out += intToken(v);
  }
  /** Decimal. */
  u16(v: number): void {
    checkU16(v);
    this.out += intToken(v);
  }
  /** Decimal. */
  override u32(v: number): void {
    checkU32(v);
    this.out += intToken(v);
  }
  /** Decimal. */
  u64(v: bigint): void {
    checkU64(v);
    this.out += "|" + v;
  }
  /** Decimal. */
  i8(v: number): void {
    checkI8(v);
    this.out += intToken(v);
  }
  /** Decimal. */
  i16(v: number): void {
    checkI16(v);
    this.out += intToken(v);
  }
  /** Decimal. */
  i32(v: number): void {
    checkI32(v);
    this.out += intToken(v);
  }
  /** Decimal. */
  i64(v: bigint): void {
    checkI64(v);
    this.out += "|" + v;
  }
  /**
   * Rounded to the nearest `f32` (`Math.fround`, as the binary encoding
   * does), then written as the `f64` it widens to (SPEC §3.4).
   */
  f32(v: number): void {
    checkFloat(v);
    this.float(Math.fround(v));
  }
  /** `Number.prototype.toString`, except `-0` keeps its sign; `NaN`, `Infinity`, `-Infinity`. */
  f64(v: number): void {
    checkFloat(v);
    this.float(v);
  }
  private float(v: number): void {
    this.out += v === 0 && 1 / v < 0 ? "|-0" : "|" + formatFloat(v);
  }
  /** Escaped (SPEC §3.5): no `|`, CR or LF in the token, never a leading raw `~`. */
  str(v: string): void {
    checkString(v);
    this.out += v.charCodeAt(0) === TILDE || NEEDS_ESCAPE.test(v) ? "|" + escape(v) : "|" + v;
  }
  /** Unpadded base64url. */
  bytes(v: Uint8Array): void {
    checkBytes(v);
    this.out += "|" + encodeBase64url(v);
  }
  /** Decimal. */
  protected override count(n: number): void {
    this.out += intToken(n);
  }
  /** `~` when absent; `+` before a present struct's fields, nothing before any other value's own tokens. */
  protected override presence(present: boolean, isStruct: boolean): void {
    if (!present) this.out += "|~";
    else if (isStruct) this.out += "|+";
  }
}

/**
 * Strict decimal (`0|-?[1-9][0-9]*`) in `s` from `start` to `end`: the value
 * as a double (exact up to 2^53, and on the right side of every range bound
 * beyond), or NaN when the text does not match the grammar.
 */
function decimal(s: string, start: number, end: number): number {
  let i = start;
  if (i === end) return NaN;
  const negative = s.charCodeAt(i) === 45;
  if (negative) i++;
  const first = s.charCodeAt(i);
  if (first === 48) return end - start === 1 ? 0 : NaN;
  if (!(first >= 49 && first <= 57)) return NaN;
  let v = 0;
  for (; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}

/** Index of `c` in `s` from `from` on, or `s.length`. */
function indexOr(s: string, c: string, from: number): number {
  const i = s.indexOf(c, from);
  return i < 0 ? s.length : i;
}

const FLOAT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** Powers of ten a double holds exactly (up to 10^22), for {@link TextReader.float}'s fast path. */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

const U64_MAX = 0xffff_ffff_ffff_ffffn;
const I64_MIN = -0x8000_0000_0000_0000n;
const I64_MAX = 0x7fff_ffff_ffff_ffffn;

/**
 * Reads one text frame token by token, checking every token strictly
 * (SPEC §3, §6). Generated code mirrors the writer: one call per field, in
 * order, then {@link TextReader.finish}. Every failure throws a
 * {@link DecodeError} whose position has the token index and the UTF-8 byte
 * offset of the token (both computed only when an error is thrown).
 *
 * Numbers and flags are read in place, without cutting their token out of
 * the frame; only strings and bytes are sliced.
 */
export class TextReader extends BaseReader implements Reader {
  /** The frame's header, for the generated `switch`. */
  readonly header: Header;
  private readonly frame: string;
  /** Next positions of a `\\`, LF and CR, and the first of them (see {@link TextReader.nextSpecial}). */
  private backslash = -1;
  private lf = -1;
  private cr = -1;
  private special = -1;

  /**
   * Checks, in SPEC §6.1's order, the frame's size, that it is valid Unicode
   * (a lone surrogate cannot have come from UTF-8: `invalid_utf8` at the
   * token holding it), its length and its header bytes. Whether the header
   * belongs to the protocol is the caller's `switch`
   * ({@link TextReader.unknownHeader}).
   */
  constructor(frame: string, limits: Limits = DEFAULT_LIMITS) {
    super(limits);
    this.frame = frame;
    const n = frame.length;
    const max = limits.maxFrameBytes;
    if (n > max || (n * 3 > max && utf8Length(frame) > max)) {
      throw new DecodeError("frame_too_large", { token: 0, byte: 0 });
    }
    if (!isWellFormed(frame)) {
      const at = loneSurrogateIndex(frame);
      const start = frame.lastIndexOf("|", at) + 1;
      throw this.errorAt("invalid_utf8", start === 0 ? 0 : this.tokenIndexAt(start), start);
    }
    if (n === 0 || (n === 1 && frame.charCodeAt(0) < 0x80)) {
      throw new DecodeError("truncated", { token: 0, byte: 0 });
    }
    const hi = symbolValue(frame.charCodeAt(0));
    const lo = symbolValue(frame.charCodeAt(1));
    if (hi < 0 || lo < 0) throw new DecodeError("unknown_header", { token: 0, byte: 0 });
    this.header = cachedHeader(hi, lo);
  }

  /** The error for a header this protocol does not know. */
  unknownHeader(): DecodeError {
    return new DecodeError("unknown_header", { token: 0, byte: 0 });
  }

  /** Number of `|` before UTF-16 index `end`: the index of the token starting there. */
  private tokenIndexAt(end: number): number {
    let k = 0;
    for (let i = this.frame.indexOf("|"); i >= 0 && i < end; i = this.frame.indexOf("|", i + 1)) k++;
    return k;
  }

  private errorAt(kind: DecodeErrorKind, token: number, utf16: number, value?: number): DecodeError {
    return new DecodeError(kind, { token, byte: utf8Length(this.frame, 0, utf16) }, value);
  }

  /**
   * An error about the token being read, which starts after the last `|`
   * before {@link BaseReader.pos} (a reader leaves `pos` at the token's end,
   * or anywhere inside it when it stops early).
   */
  private fail(kind: DecodeErrorKind, value?: number): DecodeError {
    const start = this.frame.lastIndexOf("|", this.pos - 1) + 1;
    return this.errorAt(kind, this.tokenIndexAt(start), start, value);
  }

  /**
   * An error about the token after the `|` at `at` (the frame's end when
   * there is none). Its index is counted only now, as errors are rare: one
   * more than the separators before `at`.
   */
  protected override failAt(kind: DecodeErrorKind, at: number, value?: number): DecodeError {
    return this.errorAt(kind, this.tokenIndexAt(at) + 1, Math.min(at + 1, this.frame.length), value);
  }

  /**
   * Steps over the `|` before the next token and returns where the token
   * starts; `truncated` at the frame's end, `missing_separator` where there
   * is no `|`. `pos` is left there, for the caller to move to the token's end.
   */
  private open(): number {
    const f = this.frame;
    const p = this.pos;
    if (p < f.length && f.charCodeAt(p) === PIPE) return p + 1;
    const index = this.tokenIndexAt(p) + 1;
    if (p >= f.length) throw this.errorAt("truncated", index, f.length);
    throw this.errorAt("missing_separator", index, p);
  }

  /** Where the token starting at `start` ends: the next `|`, or the frame's end. */
  private end(start: number): number {
    const end = this.frame.indexOf("|", start);
    return end < 0 ? this.frame.length : end;
  }

  /**
   * Where the next `\\`, LF or CR at or after `from` is (the frame's length
   * when there is none): what a string token must unescape or reject. Each is
   * searched for with `indexOf` and remembered until reading passes it, so
   * the frame is searched once per character, not once per string, and most
   * strings, which have none, cost a comparison instead of a loop over them.
   */
  private nextSpecial(from: number): number {
    if (this.special >= from) return this.special;
    const f = this.frame;
    if (this.backslash < from) this.backslash = indexOr(f, "\\", from);
    if (this.lf < from) this.lf = indexOr(f, "\n", from);
    if (this.cr < from) this.cr = indexOr(f, "\r", from);
    return (this.special = Math.min(this.backslash, this.lf, this.cr));
  }

  /** Takes the next token. */
  private token(): string {
    const start = this.open();
    const end = this.end(start);
    this.pos = end;
    return this.frame.slice(start, end);
  }

  /** Whether the next token is exactly `~`. */
  private nextIsAbsent(): boolean {
    const f = this.frame;
    const p = this.pos;
    return (
      f.charCodeAt(p) === PIPE &&
      f.charCodeAt(p + 1) === TILDE &&
      (p + 2 === f.length || f.charCodeAt(p + 2) === PIPE)
    );
  }

  /**
   * Ends decoding with everything after the next `|`, verbatim: the inner
   * frame of an envelope (SPEC §9.7), which its own decoder reads.
   */
  rest(): string {
    const start = this.open();
    this.pos = this.frame.length;
    return this.frame.slice(start);
  }

  /** Ends decoding: anything left is trailing data. */
  finish(): void {
    const p = this.pos;
    if (p >= this.frame.length) return;
    if (this.frame.charCodeAt(p) === PIPE) throw this.failAt("trailing_data", p);
    throw this.errorAt("missing_separator", this.tokenIndexAt(p) + 1, p);
  }

  /** `1` or `0`. */
  bool(): boolean {
    const f = this.frame;
    const start = this.open();
    const c = f.charCodeAt(start);
    const end = start + 1;
    this.pos = end;
    if ((c === 49 || c === 48) && (end === f.length || f.charCodeAt(end) === PIPE)) return c === 49;
    throw this.fail("invalid_bool");
  }

  /**
   * The next token as a strict decimal, read in place (see
   * {@link decimal}), leaving `pos` at its end; NaN when it is not one,
   * with `pos` inside it.
   */
  private decimalToken(): number {
    const f = this.frame;
    const n = f.length;
    const start = this.open();
    let i = start;
    const negative = i < n && f.charCodeAt(i) === 45;
    if (negative) i++;
    const first = i;
    let v = 0;
    for (; i < n; i++) {
      const d = f.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
    }
    this.pos = i;
    const digits = i - first;
    // Digits up to a `|` or the end, and no leading zero but in "0" itself.
    if (digits === 0 || (i < n && f.charCodeAt(i) !== PIPE)) return NaN;
    if (f.charCodeAt(first) === 48 && i - start !== 1) return NaN;
    return negative ? -v : v;
  }

  private int(min: number, max: number): number {
    const v = this.decimalToken();
    if (v !== v) throw this.fail("invalid_token");
    if (v < min || v > max) throw this.fail("out_of_range");
    return v;
  }

  /** Strict decimal. */
  u8(): number {
    return this.int(0, 0xff);
  }
  /** Strict decimal. */
  u16(): number {
    return this.int(0, 0xffff);
  }
  /** Strict decimal. */
  override u32(): number {
    return this.int(0, 0xffff_ffff);
  }
  /** Strict decimal. */
  i8(): number {
    return this.int(-0x80, 0x7f);
  }
  /** Strict decimal. */
  i16(): number {
    return this.int(-0x8000, 0x7fff);
  }
  /** Strict decimal. */
  i32(): number {
    return this.int(-0x8000_0000, 0x7fff_ffff);
  }

  private bigint(min: bigint, max: bigint): bigint {
    const t = this.token();
    const v = decimal(t, 0, t.length);
    if (v !== v) throw this.fail("invalid_token");
    let b: bigint;
    if (Number.isSafeInteger(v)) b = BigInt(v);
    else if (t.length <= 21) b = BigInt(t);
    else throw this.fail("out_of_range");
    if (b < min || b > max) throw this.fail("out_of_range");
    return b;
  }

  /** Strict decimal, as a bigint. */
  u64(): bigint {
    return this.bigint(0n, U64_MAX);
  }
  /** Strict decimal, as a bigint. */
  i64(): bigint {
    return this.bigint(I64_MIN, I64_MAX);
  }

  /**
   * A float token. Plain decimals of at most 15 digits (`-12.375`) are read
   * in place: the digits as an integer, below 2^53 and so exact, divided by
   * an exact power of ten is one correctly rounded operation, the double
   * `Number` would give. Everything else (exponents, longer digit strings,
   * `NaN`, `Infinity`, malformed tokens) is cut out and checked against the
   * grammar, then converted by `Number`.
   */
  private float(): number {
    const f = this.frame;
    const n = f.length;
    const start = this.open();
    let i = start;
    const negative = i < n && f.charCodeAt(i) === 45;
    if (negative) i++;
    const first = i;
    let m = 0;
    let c = 0;
    for (; i < n; i++) {
      c = f.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      m = m * 10 + c;
    }
    const intDigits = i - first;
    let scale = 0;
    if (i < n && c === 46 - 48) {
      const point = ++i;
      for (; i < n; i++) {
        c = f.charCodeAt(i) - 48;
        if (c < 0 || c > 9) break;
        m = m * 10 + c;
      }
      scale = i - point;
      if (scale === 0) scale = 99;
    }
    if (
      (i === n || f.charCodeAt(i) === PIPE) &&
      intDigits > 0 &&
      intDigits + scale <= 15 &&
      (intDigits === 1 || f.charCodeAt(first) !== 48)
    ) {
      this.pos = i;
      const v = scale === 0 ? m : m / (POW10[scale] as number);
      return negative ? -v : v;
    }
    this.pos = start - 1;
    return this.floatToken();
  }

  /** {@link TextReader.float} for the tokens its fast path leaves. */
  private floatToken(): number {
    const t = this.token();
    if (t === "NaN") return NaN;
    if (t === "Infinity") return Infinity;
    if (t === "-Infinity") return -Infinity;
    if (!FLOAT.test(t)) throw this.fail("invalid_token");
    const v = Number(t);
    if (v === Infinity || v === -Infinity) throw this.fail("out_of_range");
    return v;
  }

  /** Any spelling in the SPEC's float grammar, or `NaN`/`Infinity`/`-Infinity`. */
  f64(): number {
    return this.float();
  }
  /** Parsed as `f64`, then rounded to `f32` with `Math.fround` (SPEC §3.4's two steps). */
  f32(): number {
    const wide = this.float();
    const narrow = Math.fround(wide);
    if ((narrow === Infinity || narrow === -Infinity) && Number.isFinite(wide)) {
      throw this.fail("out_of_range");
    }
    return narrow;
  }

  /** Unescaped, and bounded by `maxStringBytes` (UTF-8 bytes of the decoded string). */
  string(): string {
    const f = this.frame;
    const start = this.open();
    const end = this.end(start);
    this.pos = end;
    if (start < end && f.charCodeAt(start) === TILDE) throw this.fail("invalid_token");
    const s =
      this.nextSpecial(start) >= end ? f.slice(start, end) : this.unescape(f.slice(start, end), this.special - start);
    const max = this.limits.maxStringBytes;
    if (s.length > max || (s.length * 3 > max && utf8Length(s) > max)) {
      throw this.fail("string_too_long");
    }
    return s;
  }
  /** Reverses the writer's escaping from index `i` on, rejecting every form it never produces. */
  private unescape(t: string, i: number): string {
    let out = t.slice(0, i);
    let start = i;
    const n = t.length;
    for (; i < n; i++) {
      const c = t.charCodeAt(i);
      if (c === LF || c === CR) throw this.fail("invalid_token");
      if (c !== BACKSLASH) continue;
      let e: string;
      switch (t.charCodeAt(i + 1)) {
        case BACKSLASH:
          e = "\\";
          break;
        case 112: // p
          e = "|";
          break;
        case 110: // n
          e = "\n";
          break;
        case 114: // r
          e = "\r";
          break;
        case TILDE:
          if (i !== 0) throw this.fail("invalid_escape");
          e = "~";
          break;
        default:
          throw this.fail("invalid_escape");
      }
      out += t.slice(start, i) + e;
      i++;
      start = i + 1;
    }
    return out + t.slice(start);
  }

  /** Strict unpadded base64url, bounded by `maxStringBytes` before decoding. */
  bytes(): Uint8Array {
    const t = this.token();
    const len = base64urlDecodedLength(t.length);
    if (len < 0) throw this.fail("invalid_base64");
    if (len > this.limits.maxStringBytes) throw this.fail("string_too_long");
    const b = decodeBase64url(t);
    if (b === undefined) throw this.fail("invalid_base64");
    return b;
  }

  /** A count token: never negative, so any `-` is `invalid_token` (SPEC §6.3). */
  protected override count(): number {
    const v = this.decimalToken();
    if (v !== v || v < 0) throw this.fail("invalid_token");
    if (v > this.limits.maxCollectionLen) throw this.fail("collection_too_long");
    return v;
  }

  /**
   * Before any value but a struct, a `~` token is absent and anything else is
   * the value's own first token, left unread; before a struct, `~` is absent,
   * `+` announces the fields and any other token is `invalid_token`.
   */
  protected override isPresent(isStruct: boolean): boolean {
    if (!isStruct) {
      if (!this.nextIsAbsent()) return true;
      this.pos += 2;
      return false;
    }
    const f = this.frame;
    const start = this.open();
    const c = f.charCodeAt(start);
    const end = start + 1;
    this.pos = end;
    if ((c === PLUS || c === TILDE) && (end === f.length || f.charCodeAt(end) === PIPE)) return c === PLUS;
    throw this.fail("invalid_token");
  }
}
