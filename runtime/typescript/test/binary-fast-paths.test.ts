// The binary reader's fast paths (cached header strings, floats through a
// scratch word, the 8-bytes-at-a-time ASCII string loop) against the plain
// definitions they replace: DataView for floats, a strict TextDecoder for
// UTF-8, String.fromCharCode for headers. Each boundary of the fast paths is
// covered: string lengths around the 8-byte chunks and the 32-byte cut-off,
// non-ASCII and invalid bytes at every position.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BinaryReader, headerFromIndex } from "tagwire";
import { at, errorOf, fromBin, sameFloat } from "./helpers.js";

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A binary string value: one-byte length prefix (all lengths here are < 128), then the bytes. */
function sized(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 1);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

/** ASCII bytes `a`, `b`, … of length `n`. */
function asciiRun(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => 0x61 + (i % 26));
}

describe("binary string fast path", () => {
  it("ASCII strings of every length up to 48 decode as TextDecoder does", () => {
    for (let n = 0; n <= 48; n++) {
      const bytes = asciiRun(n);
      assert.equal(fromBin(sized(bytes), (r) => r.string()), strict.decode(bytes), `length ${n}`);
    }
  });

  it("a non-ASCII character at any position falls back to the full decoder", () => {
    const e = [0xc3, 0xa9]; // é
    const emoji = [0xf0, 0x9f, 0x98, 0x80]; // 😀
    for (const ch of [e, emoji]) {
      for (let n = 0; n <= 40; n++) {
        for (let p = 0; p <= n; p++) {
          const bytes = Uint8Array.from([...asciiRun(n).subarray(0, p), ...ch, ...asciiRun(n).subarray(p)]);
          assert.equal(fromBin(sized(bytes), (r) => r.string()), strict.decode(bytes), `length ${n}, at ${p}`);
        }
      }
    }
  });

  it("an invalid byte at any position is invalid_utf8 at the length prefix", () => {
    for (const bad of [0x80, 0xbf, 0xc0, 0xc3, 0xed, 0xf8, 0xff]) {
      for (let n = 1; n <= 40; n++) {
        for (let p = 0; p < n; p++) {
          const bytes = asciiRun(n);
          bytes[p] = bad;
          // After two other values, so the position is not trivially 2.
          const body = Uint8Array.from([0x01, 0x00, ...sized(bytes)]);
          assert.deepEqual(
            errorOf(() =>
              fromBin(body, (r) => {
                r.u8();
                r.bool();
                return r.string();
              }),
            ),
            ["invalid_utf8", at(4)],
            `byte ${bad.toString(16)} at ${p} of ${n}`,
          );
        }
      }
    }
  });

  it("a truncated short string is truncated, not read past the frame", () => {
    assert.deepEqual(errorOf(() => fromBin(Uint8Array.from([9, 0x61, 0x62]), (r) => r.string())), ["truncated", at(2)]);
  });
});

describe("binary float fast path", () => {
  // xorshift32: a seeded, dependency-free source of bit patterns.
  let seed = 0x2545f491;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const special32 = [0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7f80_0001, 0xffff_ffff, 1, 0x007f_ffff];

  it("f32 reads every bit pattern as DataView does", () => {
    const patterns = [...special32, ...Array.from({ length: 5000 }, next)];
    const body = new Uint8Array(4 * patterns.length);
    const view = new DataView(body.buffer);
    patterns.forEach((p, i) => view.setUint32(4 * i, p, true));
    const got = fromBin(body, (r) => patterns.map(() => r.f32()));
    patterns.forEach((p, i) => sameFloat(got[i]!, view.getFloat32(4 * i, true), `pattern ${p.toString(16)}`));
  });

  it("f64 reads every bit pattern as DataView does", () => {
    const highs = [...special32, 0x7ff0_0000, 0xfff0_0000, 0x7ff8_0000, 0x000f_ffff, ...Array.from({ length: 5000 }, next)];
    const body = new Uint8Array(8 * highs.length);
    const view = new DataView(body.buffer);
    highs.forEach((h, i) => {
      view.setUint32(8 * i, next(), true);
      view.setUint32(8 * i + 4, h, true);
    });
    const got = fromBin(body, (r) => highs.map(() => r.f64()));
    highs.forEach((_, i) => sameFloat(got[i]!, view.getFloat64(8 * i, true), `value ${i}`));
  });

  it("floats at an odd offset inside a larger buffer", () => {
    const backing = new Uint8Array(64);
    const frame = backing.subarray(5, 5 + 2 + 1 + 4 + 8);
    frame.set([0x61, 0x61, 0x07]);
    new DataView(backing.buffer, 5 + 3).setFloat32(0, -1.5, true);
    new DataView(backing.buffer, 5 + 7).setFloat64(0, Math.PI, true);
    const r = new BinaryReader(frame);
    assert.deepEqual([r.u8(), r.f32(), r.f64()], [7, -1.5, Math.PI]);
    r.finish();
  });

  it("a truncated float is truncated at its first byte", () => {
    assert.deepEqual(errorOf(() => fromBin(Uint8Array.from([0, 0, 0]), (r) => r.f32())), ["truncated", at(2)]);
    assert.deepEqual(errorOf(() => fromBin(Uint8Array.from([0, 0, 0, 0, 0, 0, 0]), (r) => r.f64())), ["truncated", at(2)]);
  });
});

describe("binary header strings", () => {
  it("every header reads as its string, twice (the second from the cache)", () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 4096; i++) {
        const h = headerFromIndex(i)!;
        const r = new BinaryReader(Uint8Array.from([h.charCodeAt(0), h.charCodeAt(1)]));
        assert.equal(r.header, h);
      }
    }
  });

  it("bytes outside the alphabet are unknown_header", () => {
    for (const [a, b] of [
      [0x61, 0x20],
      [0x7f, 0x61],
      [0xe1, 0x61],
      [0x61, 0xc1],
    ] as const) {
      assert.deepEqual(errorOf(() => new BinaryReader(Uint8Array.from([a, b]))), ["unknown_header", at(0)]);
    }
  });
});
