// The text codec's fast paths against the plain definitions they replace:
// `String(v)` for writing a float (the SPEC's spelling, SPEC §3.4). Each
// boundary of a fast path is covered: every multiple of 2^-10 in the first
// units and around 2^20, values just off the grid, and random f32 values,
// which mostly take the slow path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { text } from "./helpers.js";

/** What the SPEC says a float token is: `String`, with `-0` keeping its sign. */
function spelling(v: number): string {
  return Object.is(v, -0) ? "-0" : String(v);
}

function assertFloat(v: number): void {
  assert.equal(text((w) => w.f64(v)), spelling(v), `f64 ${v}`);
  const narrow = Math.fround(v);
  assert.equal(text((w) => w.f32(v)), spelling(narrow), `f32 ${v}`);
}

describe("text float fast path", () => {
  it("every multiple of 2^-10 below 64, either sign, is written as String writes it", () => {
    for (let m = 0; m < 64 * 1024; m++) {
      assertFloat(m / 1024);
      assertFloat(-m / 1024);
    }
  });

  it("the grid's top end and just past it", () => {
    const top = 2 ** 20;
    for (let m = -2048; m <= 2048; m++) {
      assertFloat(top + m / 1024);
      assertFloat(-(top + m / 1024));
    }
  });

  it("values just off the grid, finer fractions, and the special values", () => {
    for (const v of [
      1 / 2048,
      3 / 2048,
      1 / 3,
      0.1,
      0.2,
      1e-7,
      123.456,
      2 ** -11,
      5e-324,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      Number.MAX_SAFE_INTEGER,
      2 ** 53 + 2,
      1e21,
      1e-6,
      0,
      -0,
      NaN,
      Infinity,
      -Infinity,
    ]) {
      assertFloat(v);
      assertFloat(-v);
      assertFloat(v + 2 ** -30);
    }
  });

  it("random f32 values over many magnitudes", () => {
    // A fixed-seed generator, so a failure reproduces.
    let seed = 0x2545f491;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 2 ** 32;
    };
    for (let i = 0; i < 50_000; i++) {
      assertFloat((next() - 0.5) * 2 ** (next() * 80 - 40));
    }
  });
});
