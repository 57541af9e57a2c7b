// The constraint checks generated validators call (SPEC §6.4): what each
// accepts at its edges, the messages they give, how paths join, and the
// errors decoders and encoders throw with a violation.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ConstraintError,
  DecodeError,
  EncodeError,
  charCount,
  checkBigInt,
  checkFloat,
  checkInt,
  checkLen,
  checkPattern,
  constraintViolation,
  within,
} from "tagwire";

describe("constraint checks", () => {
  it("count strings in code points, not UTF-16 units", () => {
    assert.equal(charCount(""), 0);
    assert.equal(charCount("é😀"), 2);
    assert.equal(charCount("😀".repeat(3)), 3);
    // A lone surrogate counts as one (the encoder refuses it anyway).
    assert.equal(charCount("\ud800x"), 2);
  });

  it("accept values at the edges and say what is wrong outside", () => {
    assert.equal(checkLen(3, 1, 3, "1..=3"), undefined);
    assert.equal(checkLen(0, 1, undefined, "1.."), "length 0 is outside 1..");
    assert.equal(checkInt(-5, -5, undefined, "-5.."), undefined);
    assert.equal(checkInt(101, undefined, 100, "..=100"), "101 is outside ..=100");
    assert.equal(checkBigInt(18446744073709551615n, undefined, 18446744073709551000n, "..=18446744073709551000"),
      "18446744073709551615 is outside ..=18446744073709551000");
    assert.equal(checkFloat(Infinity, 0, undefined, "0.."), undefined);
    assert.equal(checkFloat(NaN, undefined, 1, "..=1"), "NaN is outside ..=1");
    assert.equal(checkFloat(-0, 0, 1, "0..=1"), undefined);
    assert.equal(checkFloat(-0, 1, 2, "1..=2"), "-0 is outside 1..=2");
    const re = new RegExp("^(?:[a-z])+$", "u");
    assert.equal(checkPattern(re, "abc", '"^[a-z]+$"'), undefined);
    assert.equal(checkPattern(re, "ab1", '"^[a-z]+$"'), 'does not match "^[a-z]+$"');
  });

  it("join paths as SPEC §6.4 writes them", () => {
    const leaf = { path: "radius", message: "m" };
    assert.deepEqual(within("shapes[3]", within("circle", leaf)), { path: "shapes[3].circle.radius", message: "m" });
    assert.equal(within("levels", { path: "[1][0]", message: "m" }).path, "levels[1][0]");
    assert.equal(within("name", { path: "", message: "m" }).path, "name");
  });

  it("carry the violation in DecodeError and ConstraintError", () => {
    const v = { path: "shapes[3].circle.radius", message: "250 is outside 0..=100" };
    const d = constraintViolation(v, { token: 0, byte: 0 });
    assert.ok(d instanceof DecodeError);
    assert.equal(d.kind, "constraint_violation");
    assert.deepEqual(d.violation, v);
    assert.equal(d.message, "constraint violation: shapes[3].circle.radius: 250 is outside 0..=100");
    const e = new ConstraintError(v);
    assert.ok(e instanceof EncodeError);
    assert.equal(e.name, "ConstraintError");
    assert.equal(e.message, "shapes[3].circle.radius: 250 is outside 0..=100");
    assert.equal(new DecodeError("truncated", { byte: 4 }).violation, undefined);
  });
});
