// The text codec's fast paths against the plain definitions they replace:
// `String(v)` for writing a float (the SPEC's spelling, SPEC §3.4), `Number`
// for reading one, and the error positions of tokens read in place. Each
// boundary of a fast path is covered: every multiple of 2^-10 in the first
// units and around 2^20, values just off the grid, random f32 values (mostly
// the slow path), decimals around the 15 digits read in place.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TextReader } from "tagwire";
import { errorOf, fromText, sameFloat, text, tok } from "./helpers.js";

/** A fixed-seed generator in [0, 1), so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
}

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
    const next = random(0x2545f491);
    for (let i = 0; i < 50_000; i++) {
      assertFloat((next() - 0.5) * 2 ** (next() * 80 - 40));
    }
  });
});

/** Reads `t` as an f64 and as an f32 and compares with `Number` (and `Math.fround`). */
function assertRead(t: string): void {
  const want = Number(t);
  sameFloat(fromText(t, (r) => r.f64()), want, `f64 ${t}`);
  sameFloat(fromText(t, (r) => r.f32()), Math.fround(want), `f32 ${t}`);
}

describe("text float reading in place", () => {
  it("reads every float the writer's grid produces back exactly", () => {
    for (let m = 0; m < 16 * 1024; m++) {
      for (const v of [m / 1024, -m / 1024, 1000 + m / 1024, 2 ** 20 - m / 1024]) {
        sameFloat(fromText(text((w) => w.f64(v)), (r) => r.f64()), v, String(v));
      }
    }
  });

  it("reads decimals of 1 to 20 digits as Number does", () => {
    const next = random(0x1b873593);
    for (let i = 0; i < 50_000; i++) {
      const digits = 1 + Math.floor(next() * 20);
      let s = String(1 + Math.floor(next() * 9));
      for (let k = 1; k < digits; k++) s += String(Math.floor(next() * 10));
      const point = Math.floor(next() * (digits + 1));
      let t = point === 0 || point === digits ? s : s.slice(0, point) + "." + s.slice(point);
      if (point === 0 && next() < 0.5) t = "0." + s;
      if (next() < 0.5) t = "-" + t;
      assertRead(t);
    }
    for (const t of [
      "0",
      "-0",
      "0.0",
      "-0.0",
      "0.000",
      "0.1",
      "0.30000000000000004",
      "123456789012345",
      "12345678901234.5",
      "1234567890123456",
      "9007199254740993",
      "0.000000000000001",
      "0.0000000000000001",
      "1e5",
      "1.5E-7",
      "NaN",
      "Infinity",
      "-Infinity",
    ]) {
      assertRead(t);
    }
  });
});

describe("text errors of tokens read in place", () => {
  // "é" is 2 UTF-8 bytes: `aa|é|1|` puts the third token at byte 8.
  const third = tok(3, 8);
  const after = (read: (r: TextReader) => unknown) => (t: string) =>
    errorOf(() =>
      fromText(`é|1|${t}`, (r) => {
        r.string();
        r.u8();
        return read(r);
      }),
    );

  it("point at the token they are about, wherever reading stopped in it", () => {
    for (const t of ["", "x", "1x", "12x", "-", "-x", "01", "1.5", "1|", "0x1"]) {
      const expected = t === "1|" ? ["trailing_data", tok(4, 10)] : ["invalid_token", third];
      assert.deepEqual(after((r) => r.u32())(t), expected, `u32 ${JSON.stringify(t)}`);
    }
    for (const t of ["", "x", "1.", "-.5", "1.5x", "00.5", "1e", "1.2.3", "0x1"]) {
      assert.deepEqual(after((r) => r.f64())(t), ["invalid_token", third], `f64 ${JSON.stringify(t)}`);
    }
    for (const t of ["", "2", "10", "1x", "~"]) {
      assert.deepEqual(after((r) => r.bool())(t), ["invalid_bool", third], `bool ${JSON.stringify(t)}`);
    }
    for (const t of ["", "x", "++", "~~", "-"]) {
      assert.deepEqual(
        after((r) => r.optionalStruct(() => 0))(t),
        ["invalid_token", third],
        `marker ${JSON.stringify(t)}`,
      );
    }
    assert.deepEqual(after((r) => r.u8())("256"), ["out_of_range", third]);
    assert.deepEqual(after((r) => r.list(() => 0))("-1"), ["invalid_token", third]);
    assert.deepEqual(after((r) => r.list(() => 0))("-0"), ["invalid_token", third]);
    assert.deepEqual(after((r) => r.f32())("1e39"), ["out_of_range", third]);
  });

  it("a missing token is truncated at the frame's end", () => {
    assert.deepEqual(
      errorOf(() => fromText("é|1", (r) => [r.string(), r.u8(), r.f64()])),
      ["truncated", tok(3, 7)],
    );
  });
});

describe("text strings beside escaped ones", () => {
  it("each string of a frame is unescaped alone, whatever its neighbours hold", () => {
    const values = ["", "a", "b|c", "d", "\\", "e\nf\r", "g", "~h", "|", "plain text", "\n", "é|😀", "end"];
    // Every window of the list, so each string is read after clean and after escaped ones.
    for (let from = 0; from < values.length; from++) {
      for (let to = from + 1; to <= values.length; to++) {
        const part = values.slice(from, to);
        const frame = text((w) => part.forEach((v) => w.str(v)));
        assert.deepEqual(
          fromText(frame, (r) => part.map(() => r.string())),
          part,
          JSON.stringify(part),
        );
      }
    }
  });

  it("a raw LF, CR or bad escape after clean strings is found in its own token", () => {
    for (const bad of ["a\nb", "a\rb", "\n", "a\\x", "b\\"]) {
      const kind = bad.includes("\\") ? "invalid_escape" : "invalid_token";
      assert.deepEqual(
        errorOf(() => fromText(`é|x|${bad}|y\\p`, (r) => [r.string(), r.string(), r.string(), r.string()])),
        [kind, tok(3, 8)],
        JSON.stringify(bad),
      );
    }
  });
});
