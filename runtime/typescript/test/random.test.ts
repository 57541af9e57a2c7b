// Seeded random round trips (no dependency: a tiny PRNG), hostile strings,
// and random frames that must decode or fail with a DecodeError, nothing else.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryWriter, DecodeError, TextWriter, type Reader, type Writer } from "tagwire";
import { binBytes, fromBin, fromText, sameFloat, text } from "./helpers.js";
import {
  decodeBinary,
  decodeText,
  encodeBinary,
  encodeText,
  sample,
  type Everything,
  type Msg,
  type Point,
  type Tree,
} from "./protocol.js";

/** mulberry32: 32-bit state, good enough to spread test inputs. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Gen {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  u32(): number {
    return this.pick([0, 1, 127, 128, 4294967295, this.int(2 ** 32), this.int(300)]);
  }
  i32(): number {
    return this.pick([0, -1, 1, -2147483648, 2147483647, this.int(2 ** 32) - 2 ** 31, this.int(600) - 300]);
  }
  big64(): bigint {
    let v = 0n;
    for (let i = 0; i < 4; i++) v = (v << 16n) | BigInt(this.int(65536));
    return v;
  }
  u64(): bigint {
    return this.pick([0n, 1n, (1n << 64n) - 1n, (1n << 53n) + 1n, this.big64(), BigInt(this.int(1000)), this.big64() >> 20n]);
  }
  i64(): bigint {
    return BigInt.asIntN(64, this.u64());
  }
  f64(): number {
    const bits = new DataView(new ArrayBuffer(8));
    bits.setUint32(0, this.int(2 ** 32));
    bits.setUint32(4, this.int(2 ** 32));
    return this.pick([0, -0, NaN, Infinity, -Infinity, 5e-324, 1.7976931348623157e308, 0.1, bits.getFloat64(0), this.next() * 1e6 - 5e5]);
  }
  f32(): number {
    const bits = new DataView(new ArrayBuffer(4));
    bits.setUint32(0, this.int(2 ** 32));
    return Math.fround(this.pick([0, -0, NaN, Infinity, 1.5, 3.4028234663852886e38, 1e-45, bits.getFloat32(0), this.next()]));
  }
  str(): string {
    const atoms = ["a", "b", "|", "\\", "~", "+", "\r", "\n", "p", "é", "€", "🎉", "𝄞", "\uFEFF", "\0", "\t", "\u{10FFFF}", "\uE000", "～", " "];
    let s = "";
    const n = this.pick([0, 1, 2, 5, this.int(20), this.int(80)]);
    for (let i = 0; i < n; i++) s += this.pick(atoms);
    return s;
  }
  bytes(): Uint8Array {
    const n = this.int(40);
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  point(): Point {
    return { x: this.i32(), y: this.i32() };
  }
  tree(depth: number): Tree {
    const n = depth > 3 ? 0 : this.int(3);
    return { label: this.str(), children: Array.from({ length: n }, () => this.tree(depth + 1)) };
  }
  everything(): Everything {
    const v: Everything = {
      b: this.int(2) === 1,
      u8: this.int(256),
      u16: this.int(65536),
      u32: this.u32(),
      u64: this.u64(),
      i8: this.int(256) - 128,
      i16: this.int(65536) - 32768,
      i32: this.i32(),
      i64: this.i64(),
      f32: this.f32(),
      f64: this.f64(),
      s: this.str(),
      bytes: this.bytes(),
      list: Array.from({ length: this.int(5) }, () => this.int(65536)),
      smap: new Map(Array.from({ length: this.int(6) }, () => [this.str(), this.int(256)] as const)),
      imap: new Map(Array.from({ length: this.int(6) }, () => [this.i32(), this.int(2) === 1] as const)),
      color: this.pick(["red", "green", "blue"] as const),
      shape: this.pick([
        { kind: "empty" },
        { kind: "circle", r: this.f32() },
        { kind: "rect", w: this.int(256), h: this.int(256) },
      ] as const),
      empties: Array.from({ length: this.int(4) }, () => ({})),
      points: Array.from({ length: this.int(4) }, () => (this.int(2) ? this.point() : undefined)),
      empty: {},
      tree: this.tree(0),
    };
    if (this.int(2)) v.opt = this.u32();
    if (this.int(2)) v.opt_s = this.str();
    if (this.int(2)) v.opt_b = this.bytes();
    if (this.int(2)) v.opt_p = this.point();
    if (this.int(2)) v.opt_e = {};
    return v;
  }
}

/** deepEqual, except NaN equals NaN and -0 must stay -0 (checked through a canonical re-encoding). */
function assertSameMsg(a: Msg, b: Msg, seed: number): void {
  assert.equal(encodeText(a), encodeText(b), `seed ${seed}`);
  assert.deepEqual(encodeBinary(a), encodeBinary(b), `seed ${seed}`);
}

describe("seeded random round trips", () => {
  it("1,000 random Everything values, both encodings, canonical re-encoding", () => {
    for (let seed = 1; seed <= 1000; seed++) {
      const g = new Gen(seed);
      const m: Msg = { type: "Everything", value: g.everything() };
      const t = encodeText(m);
      assert.ok(!/[\r\n]/.test(t), `seed ${seed}: ${t}`);
      const fromT = decodeText(t);
      assertSameMsg(fromT, m, seed);
      assert.equal(encodeText(fromT), t);
      const b = encodeBinary(m);
      const fromB = decodeBinary(b);
      assertSameMsg(fromB, m, seed);
      assert.deepEqual(encodeBinary(fromB), b);
      // Both encodings decode to the same value.
      assert.equal(encodeText(fromB), t);
      // Float fields exactly (-0 and bit patterns; NaN as NaN).
      assert.ok(fromT.type === "Everything" && fromB.type === "Everything");
      sameFloat(fromT.value.f64, m.value.f64);
      sameFloat(fromB.value.f64, m.value.f64);
      sameFloat(fromT.value.f32, m.value.f32);
      sameFloat(fromB.value.f32, m.value.f32);
    }
  });
  it("every f64 bit pattern class round-trips exactly through text and binary", () => {
    const g = new Gen(42);
    const edge = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, -5e-324, 2.2250738585072014e-308, 2.225073858507201e-308,
      Number.MAX_VALUE, -Number.MAX_VALUE, Number.EPSILON, 9007199254740993, NaN, Infinity, -Infinity];
    const values = [...edge, ...Array.from({ length: 2000 }, () => g.f64())];
    for (const v of values) {
      sameFloat(fromText(text((w) => w.f64(v)), (r) => r.f64()), v);
      sameFloat(fromBin(binBytes((w) => w.f64(v)), (r) => r.f64()), v);
    }
    const f32s = [0, -0, 0.1, 1e-45, -1e-45, 1.1754942e-38, 3.4028234663852886e38, -3.4028234663852886e38,
      1.1754943508222875e-38, 16777217, NaN, Infinity, -Infinity, ...Array.from({ length: 2000 }, () => g.f32())];
    for (const raw of f32s) {
      const v = Math.fround(raw);
      sameFloat(fromText(text((w) => w.f32(v)), (r) => r.f32()), v);
      sameFloat(fromBin(binBytes((w) => w.f32(v)), (r) => r.f32()), v);
    }
  });
  it("integers at and around every width's extremes", () => {
    const g = new Gen(7);
    const cases: [(w: Writer, v: never) => void, (r: Reader) => unknown, unknown[]][] = [
      [(w, v: number) => w.u8(v), (r) => r.u8(), [0, 1, 127, 128, 255]],
      [(w, v: number) => w.i8(v), (r) => r.i8(), [-128, -1, 0, 1, 127]],
      [(w, v: number) => w.u16(v), (r) => r.u16(), [0, 127, 128, 16383, 16384, 65535]],
      [(w, v: number) => w.i16(v), (r) => r.i16(), [-32768, -1, 0, 1, 32767]],
      [(w, v: number) => w.u32(v), (r) => r.u32(), [0, 2 ** 31, 2 ** 32 - 1, ...Array.from({ length: 200 }, () => g.u32())]],
      [(w, v: number) => w.i32(v), (r) => r.i32(), [-(2 ** 31), 2 ** 31 - 1, ...Array.from({ length: 200 }, () => g.i32())]],
      [(w, v: bigint) => w.u64(v), (r) => r.u64(), [0n, (1n << 64n) - 1n, 1n << 63n, ...Array.from({ length: 500 }, () => g.u64())]],
      [(w, v: bigint) => w.i64(v), (r) => r.i64(), [-(1n << 63n), (1n << 63n) - 1n, -(1n << 52n), (1n << 52n) - 1n, 1n << 52n,
        -(1n << 52n) - 1n, ...Array.from({ length: 500 }, () => g.i64())]],
    ];
    for (const [write, read, values] of cases) {
      for (const v of values) {
        assert.equal(fromText(text((w) => write(w, v as never)), read), v);
        assert.equal(fromBin(binBytes((w) => write(w, v as never)), read), v);
      }
    }
  });
});

const HOSTILE = ["", "|", "||", "\\", "\\p", "\\\\|", "\r", "\n", "\r\n", "~", "~~", "~|~", "a~", "+", "\\~", "🎉",
  "𝄞 astral 𐍈", "é\0\t\x7F\uFEFF", "\u{10FFFF}", "aa|x|y", "\uFEFF", "x".repeat(42) + "é", "~".repeat(100)];

describe("hostile strings", () => {
  it("round-trip and stay one line, bare and in optionals", () => {
    for (const s of HOSTILE) {
      const t = text((w) => w.str(s));
      assert.ok(!/[|\r\n]/.test(t), JSON.stringify(t));
      assert.ok(!t.startsWith("~"), JSON.stringify(t));
      assert.equal(fromText(t, (r) => r.string()), s);
      assert.equal(fromBin(binBytes((w) => w.str(s)), (r) => r.string()), s);
      const o = text((w) => w.optional(s, (w, v) => w.str(v)));
      assert.equal(fromText(o, (r) => r.optional((r) => r.string())), s);
    }
  });
  it("random escape-heavy strings round-trip", () => {
    const g = new Gen(99);
    for (let i = 0; i < 3000; i++) {
      const s = g.str();
      assert.equal(fromText(text((w) => w.str(s)), (r) => r.string()), s);
      assert.equal(fromBin(binBytes((w) => w.str(s)), (r) => r.string()), s);
    }
  });
  it("random bytes round-trip through base64url", () => {
    const g = new Gen(5);
    for (let i = 0; i < 1000; i++) {
      const b = g.bytes();
      assert.deepEqual(fromText(text((w) => w.bytes(b)), (r) => r.bytes()), b);
      assert.deepEqual(fromBin(binBytes((w) => w.bytes(b)), (r) => r.bytes()), b);
    }
    const all = Uint8Array.from({ length: 512 }, (_, i) => (i < 256 ? 255 - i : i - 256));
    for (let n = 0; n <= all.length; n++) {
      const b = all.subarray(0, n);
      assert.deepEqual(fromText(text((w) => w.bytes(b)), (r) => r.bytes()), b);
    }
  });
  it("string maps with hostile keys round-trip in UTF-8 order", () => {
    const g = new Gen(11);
    for (let i = 0; i < 300; i++) {
      const m = new Map(Array.from({ length: g.int(8) }, () => [g.str(), g.int(65536) - 32768] as const));
      const t = text((w) => w.map(m, (w, k) => w.str(k), (w, v) => w.i16(v)));
      const back = fromText(t, (r) => r.map((r) => r.string(), (r) => r.i16()));
      assert.deepEqual(new Map([...back].sort()), new Map([...m].sort()));
      const b = binBytes((w) => w.map(m, (w, k) => w.str(k), (w, v) => w.i16(v)));
      assert.deepEqual(fromBin(b, (r) => r.map((r) => r.string(), (r) => r.i16())), back);
    }
  });
});

describe("random and mutated frames", () => {
  const onlyDecodeErrors = (f: () => Msg): Msg | undefined => {
    try {
      return f();
    } catch (e) {
      if (e instanceof DecodeError) return undefined;
      throw e;
    }
  };
  it("random binary frames decode or fail with a DecodeError; accepted ones are canonical", () => {
    const g = new Gen(2024);
    for (let i = 0; i < 5000; i++) {
      const body = Uint8Array.from({ length: g.int(64) }, () => g.pick([0, 1, 2, 0x7f, 0x80, 0xff, g.int(256)]));
      const frame = new Uint8Array(body.length + 2);
      frame.set(g.pick([[97, 97], [97, 98], [97, 99], [122, 122]]));
      frame.set(body, 2);
      const m = onlyDecodeErrors(() => decodeBinary(frame));
      if (m !== undefined) {
        const again = encodeBinary(m);
        assert.deepEqual(encodeBinary(decodeBinary(again)), again);
      }
    }
  });
  it("random text frames decode or fail with a DecodeError; re-encoding is idempotent", () => {
    const g = new Gen(2025);
    const atoms = ["0", "1", "2", "-", "~", "+", "a", "z", "\\", "9", "é", "\uD800", ""];
    for (let i = 0; i < 5000; i++) {
      let frame = g.pick(["aa", "ab", "ac", "zz"]);
      for (let k = g.int(12); k > 0; k--) {
        frame += "|";
        for (let j = g.int(4); j > 0; j--) frame += g.pick(atoms);
      }
      const m = onlyDecodeErrors(() => decodeText(frame));
      if (m !== undefined) {
        const again = encodeText(m);
        assert.equal(encodeText(decodeText(again)), again);
      }
    }
  });
  it("every one-byte mutation and truncation of a valid frame", () => {
    const good = encodeBinary({ type: "Everything", value: sample() });
    const g = new Gen(3);
    for (let at = 0; at < good.length; at++) {
      const frame = good.slice();
      frame[at] = g.int(256);
      const m = onlyDecodeErrors(() => decodeBinary(frame));
      if (m !== undefined) assert.deepEqual(encodeBinary(m), frame);
      assert.throws(() => decodeBinary(good.subarray(0, at)), DecodeError);
    }
    const t = encodeText({ type: "Everything", value: sample() });
    for (let at = 0; at < t.length; at++) {
      // Dropping a character may leave a valid frame ("255" → "55"); it must
      // then decode, else fail with a DecodeError, never anything else.
      onlyDecodeErrors(() => decodeText(t.slice(0, at) + t.slice(at + 1)));
      assert.throws(() => decodeText(t.slice(0, at)), DecodeError, `cut ${at}`);
    }
  });
  it("writers are reusable", () => {
    const w = new TextWriter("aa");
    w.str("x");
    assert.equal(w.finish(), "aa|x");
    w.begin("ab").u8(1);
    assert.equal(w.finish(), "ab|1");
    const b = new BinaryWriter("aa", 1);
    b.str("y".repeat(100));
    assert.equal(b.finish().length, 103);
    b.begin("ac").u8(7);
    assert.deepEqual(b.finish(), new Uint8Array([97, 99, 7]));
  });
});
