/**
 * Constraints of the schema (SPEC §6.4) in the generated TypeScript:
 * decoders reject frames whose values break one with `constraint_violation`
 * and the value's path, encoders throw `ConstraintError` and write nothing,
 * `validateX` says what is wrong without throwing.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConstraintError, DecodeError, EncodeError } from "tagwire";
import * as signup from "../generated/signup.js";

const good: signup.UpdateProfileV1 = {
  display_name: "Ada",
  avatar: { $case: "picture", png: new Uint8Array(8), focus: { x: 0, y: 1 } },
  volume: 1,
  shortcuts: new Map([["save", 1], ["quit", 999]]),
};

function update(value: signup.UpdateProfileV1): signup.ClientMessage {
  return { message: "UpdateProfile", version: 1, value };
}

test("values at the edges of their constraints round-trip", () => {
  const m = update(good);
  for (const frame of [signup.encodeClientMessageText(m), signup.encodeClientMessageBinary(m)]) {
    const back = typeof frame === "string" ? signup.decodeClientMessageText(frame) : signup.decodeClientMessageBinary(frame);
    assert.deepEqual(back, m);
  }
  // Lengths count code points: two emoji are 4 UTF-16 units but 2 characters.
  const initials = update({ ...good, avatar: { $case: "initials", letters: "AB" } });
  assert.equal(signup.decodeClientMessageText(signup.encodeClientMessageText(initials)).message, "UpdateProfile");
  assert.equal(signup.validateUpdateProfileV1({ ...good, display_name: "😀".repeat(64) }), undefined);
});

test("encoders throw ConstraintError naming the path, and write nothing", () => {
  const cases: [signup.UpdateProfileV1, string, string][] = [
    [{ ...good, display_name: "" }, "display_name", "length 0 is outside 1..=64"],
    [{ ...good, display_name: "😀".repeat(65) }, "display_name", "length 65 is outside 1..=64"],
    [{ ...good, volume: 1.5 }, "volume", "1.5 is outside 0..=1"],
    [{ ...good, volume: NaN }, "volume", "NaN is outside 0..=1"],
    [{ ...good, avatar: { $case: "initials", letters: "ab" } }, "avatar.initials.letters", 'does not match "^[A-Z]+$"'],
    [{ ...good, avatar: { $case: "picture", png: new Uint8Array(7) } }, "avatar.picture.png", "length 7 is outside 8..=65536"],
    [
      { ...good, avatar: { $case: "picture", png: new Uint8Array(8), focus: { x: 0.5, y: -0.25 } } },
      "avatar.picture.focus.y",
      "-0.25 is outside 0..=1",
    ],
    [{ ...good, shortcuts: new Map([["save", 0]]) }, 'shortcuts["save"]', "0 is outside 1..=999"],
    [{ ...good, shortcuts: new Map([["", 1]]) }, "shortcuts", 'key "": length 0 is outside 1..=16'],
  ];
  for (const [value, path, message] of cases) {
    assert.deepEqual(signup.validateUpdateProfileV1(value), { path, message });
    for (const encode of [signup.encodeClientMessageText, signup.encodeClientMessageBinary]) {
      assert.throws(
        () => encode(update(value)),
        (e: unknown) =>
          e instanceof ConstraintError &&
          e instanceof EncodeError &&
          e.violation.path === path &&
          e.message === `${path}: ${message}`,
        path,
      );
    }
  }
});

test("decoders reject a frame whose value breaks a constraint, with its path", () => {
  // `Welcome` from the server: user_id must be at least 1, username 3 to 20 characters.
  const frames = ["ac|0|ada", "ac|1|ad"];
  const paths = ["user_id", "username"];
  frames.forEach((frame, i) => {
    assert.throws(
      () => signup.decodeServerMessageText(frame),
      (e: unknown) =>
        e instanceof DecodeError &&
        e.kind === "constraint_violation" &&
        e.violation?.path === paths[i] &&
        "token" in e.position &&
        e.position.token === 0,
    );
  });
  assert.deepEqual(signup.decodeServerMessageText("ac|1|ada"), {
    message: "Welcome",
    version: 1,
    value: { user_id: 1n, username: "ada" },
  });
  // Binary: the same checks, the position is byte 0.
  assert.throws(
    () => signup.decodeServerMessageBinary(new Uint8Array([0x61, 0x63, 0x00, 0x03, 0x61, 0x64, 0x61])),
    (e: unknown) => e instanceof DecodeError && e.kind === "constraint_violation" && "byte" in e.position && e.position.byte === 0,
  );
});
