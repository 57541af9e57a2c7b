// runtime/rust/tests/protocol.rs, ported: the same hand-written protocol must
// produce exactly the frames the Rust tests expect, and fail the same way.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DecodeError, makeLimits } from "tagwire";
import { ascii, at, errorOf, hex, kindOf, tok, unhex } from "./helpers.js";
import {
  decodeBinary,
  decodeText,
  encodeBinary,
  encodeText,
  sample,
  type Demo,
  type Msg,
  type Tree,
} from "./protocol.js";

const everything = (): Msg => ({ type: "Everything", value: sample() });
const demo = (): Msg => ({
  type: "Demo",
  value: { flag: true, pos: { x: 1, y: -1 }, tags: ["x|y", ""] } satisfies Demo,
});

/** Expected by everything_text_is_as_specified in protocol.rs. */
const EVERYTHING_TEXT = [
  "ac",
  "1",
  "255",
  "300",
  "4294967295",
  "18446744073709551615",
  "-128",
  "-1",
  "-150",
  "-9223372036854775808",
  "0.10000000149011612",
  "-0",
  "\\~a\\pb\\\\c\\r\\n🎉",
  "3q2-7w",
  "2|1|300",
  "3|a|1|b|2|é|3",
  "2|-5|0|10|1",
  "~",
  "\\~",
  "",
  "+|1|-1",
  "+",
  "7",
  "2|3|4",
  "2",
  "2|~|+|0|0",
  "root|1||0",
].join("|");

/** The Rust runtime's binary frame for sample() (printed by a scratch test against runtime/rust). */
const EVERYTHING_BINARY =
  "61 63 01 FF AC 02 FF FF FF FF 0F FF FF FF FF FF FF FF FF FF 01 80 01 AB 02 FF FF FF FF FF FF FF FF FF 01 " +
  "CD CC CC 3D 00 00 00 00 00 00 00 80 0C 7E 61 7C 62 5C 63 0D 0A F0 9F 8E 89 04 DE AD BE EF 02 01 AC 02 " +
  "03 01 61 01 01 62 02 02 C3 A9 03 02 09 00 14 01 00 01 01 7E 01 00 01 02 01 01 07 02 03 04 02 02 00 01 " +
  "00 00 04 72 6F 6F 74 01 00 00";

describe("protocol.rs frames", () => {
  it("render_ui_is_the_articles_join", () => {
    const m: Msg = { type: "RenderUi", value: { id: "main", tree: "<div>hello</div>" } };
    assert.equal(encodeText(m), "aa|main|<div>hello</div>");
    assert.deepEqual(decodeText("aa|main|<div>hello</div>"), m);
  });
  it("render_ui_binary_matches_spec", () => {
    const m: Msg = { type: "RenderUi", value: { id: "main", tree: "<div>" } };
    const b = encodeBinary(m);
    assert.equal(hex(b), "61 61 04 6D 61 69 6E 05 3C 64 69 76 3E");
    assert.deepEqual(decodeBinary(b), m);
  });
  it("demo_frames_match_spec", () => {
    assert.equal(encodeText(demo()), "ab|1|1|-1|2|x\\py||~");
    assert.equal(hex(encodeBinary(demo())), "61 62 01 02 01 02 03 78 7C 79 00 00");
    assert.deepEqual(decodeText(encodeText(demo())), demo());
    assert.deepEqual(decodeBinary(encodeBinary(demo())), demo());
  });
  it("everything_text_is_as_specified", () => {
    assert.equal(encodeText(everything()), EVERYTHING_TEXT);
  });
  it("everything binary is byte-identical to Rust's", () => {
    assert.equal(hex(encodeBinary(everything())), EVERYTHING_BINARY);
  });
  it("everything_round_trips_both_encodings", () => {
    const m = everything();
    const t = encodeText(m);
    assert.ok(!/[\r\n]/.test(t));
    const back = decodeText(t);
    const expected = sample();
    expected.f32 = Math.fround(0.1); // what an f32 field holds after a round trip
    assert.deepEqual(back, { type: "Everything", value: expected });
    assert.ok(back.type === "Everything" && Object.is(back.value.f64, -0));
    assert.equal(encodeText(back), t);
    const b = encodeBinary(m);
    const backB = decodeBinary(b);
    assert.deepEqual(backB, { type: "Everything", value: expected });
    assert.equal(hex(encodeBinary(backB)), hex(b));
  });
  it("the binary writer reuses its buffer across frames and grows", () => {
    const big: Msg = { type: "RenderUi", value: { id: "x".repeat(5000), tree: "é".repeat(3000) } };
    const b1 = encodeBinary(big);
    const b2 = encodeBinary(demo());
    assert.equal(hex(b2), "61 62 01 02 01 02 03 78 7C 79 00 00");
    assert.deepEqual(decodeBinary(b1), big);
    assert.equal(b1.length, 2 + 2 + 5000 + 2 + 6000);
  });
});

describe("protocol.rs errors", () => {
  it("text_frame_level_errors_and_positions", () => {
    const cases: [string, string, ReturnType<typeof tok>][] = [
      ["", "truncated", tok(0, 0)],
      ["a", "truncated", tok(0, 0)],
      ["zz|a|b", "unknown_header", tok(0, 0)],
      ["a||a|b", "unknown_header", tok(0, 0)],
      ["__", "unknown_header", tok(0, 0)],
      ["zzX", "unknown_header", tok(0, 0)],
      ["aaX|a|b", "missing_separator", tok(1, 2)],
      ["aa|main", "truncated", tok(2, 7)],
      ["aa", "truncated", tok(1, 2)],
      ["aa|a|b|c", "trailing_data", tok(3, 7)],
      ["aa|a|b|", "trailing_data", tok(3, 7)],
      ["ab|2|1|-1|0|~", "invalid_bool", tok(1, 3)],
      ["ab|1|01|-1|0|~", "invalid_token", tok(2, 5)],
      ["ab|1|1|-0|0|~", "invalid_token", tok(3, 7)],
      ["ab|1|1|2147483648|0|~", "out_of_range", tok(3, 7)],
      ["ab|1|1|1|-1|~", "invalid_token", tok(4, 9)],
      ["ab|1|1|1|100001", "collection_too_long", tok(4, 9)],
      ["ab|1|1|1|99999999999999999999999999999999999999999", "collection_too_long", tok(4, 9)],
      ["ab|1|1|1|1|a\\xb|~", "invalid_escape", tok(5, 11)],
      ["ab|1|1|1|1|~x|~", "invalid_token", tok(5, 11)],
      ["ab|1|1|1|1|x", "truncated", tok(6, 12)],
      ["ab|1|1|1|100000|x", "truncated", tok(6, 17)],
      // Beyond protocol.rs: a message with no fields must not be followed by `|`.
      ["aa|é|b|", "trailing_data", tok(3, 8)],
      ["é", "unknown_header", tok(0, 0)],
    ];
    for (const [frame, kind, pos] of cases) {
      assert.deepEqual(errorOf(() => decodeText(frame)), [kind, pos], JSON.stringify(frame));
    }
  });
  it("binary_frame_level_errors_and_positions", () => {
    const cases: [Uint8Array, string, ReturnType<typeof at>][] = [
      [new Uint8Array(0), "truncated", at(0)],
      [ascii("a"), "truncated", at(0)],
      [ascii("zz\x00\x00"), "unknown_header", at(0)],
      [unhex("FF FF"), "unknown_header", at(0)],
      [ascii("aa\x00"), "truncated", at(3)],
      [ascii("aa\x00\x00\x00"), "trailing_data", at(4)],
      [ascii("aa\x05abc\x00"), "truncated", at(2)],
      [ascii("aa\x02\xC3\x28\x00"), "invalid_utf8", at(2)],
      [ascii("aa\x81\x00\x00"), "invalid_varint", at(2)],
      [ascii("ab\x02\x02\x01\x00\x00"), "invalid_bool", at(2)],
      [ascii("ab\x01\x02\x01\x00\x02"), "invalid_bool", at(6)],
      [ascii("ab\x01\x02\x01\x02\x00"), "truncated", at(7)],
      // Count 2^60 in a 10-byte varint: not a u32 varint, rejected at once.
      [unhex("61 62 01 02 01 80 80 80 80 80 80 80 80 10"), "invalid_varint", at(5)],
      [unhex("61 62 01 02 01 FF FF FF FF 0F"), "collection_too_long", at(5)],
      [unhex("61 62 01 02 01 A0 8D 06 00 00 00"), "truncated", at(11)],
    ];
    for (const [frame, kind, pos] of cases) {
      assert.deepEqual(errorOf(() => decodeBinary(frame)), [kind, pos], hex(frame));
    }
  });
  it("text_value_errors_in_context", () => {
    const cases: [number, string, string][] = [
      [2, "256", "out_of_range"],
      [3, "65536", "out_of_range"],
      [5, "-1", "out_of_range"],
      [6, "-129", "out_of_range"],
      [10, "1e39", "out_of_range"],
      [10, "inf", "invalid_token"],
      [11, "1e400", "out_of_range"],
      [11, "+1", "invalid_token"],
      [12, "a\\", "invalid_escape"],
      [13, "3q2-7w==", "invalid_base64"],
      [13, "3q2-7x", "invalid_base64"],
      [13, "3q2+7w", "invalid_base64"],
      [18, "~", "invalid_token"],
      [32, "x", "invalid_token"],
      [36, "8", "unknown_enum_value"],
      [36, "4294967296", "out_of_range"],
      [37, "3", "unknown_variant"],
      [29, "-1", "out_of_range"],
      [31, "A", "invalid_base64"],
    ];
    for (const [field, token, kind] of cases) {
      const parts = EVERYTHING_TEXT.split("|");
      parts[field] = token;
      const frame = parts.join("|");
      const e = errorOf(() => decodeText(frame));
      assert.equal(e[0], kind, `field ${field} = ${token}: ${frame}`);
      const pos = e[1];
      assert.ok("token" in pos && pos.token === field, frame);
      const prefix = parts.slice(0, field).join("|") + "|";
      assert.equal(pos.byte, new TextEncoder().encode(prefix).length, "UTF-8 byte offset");
    }
  });
  it("map_order_is_enforced_in_both_encodings", () => {
    const t = EVERYTHING_TEXT;
    const swapped = t.replace("3|a|1|b|2|é|3", "3|b|2|a|1|é|3");
    const byte = new TextEncoder().encode(swapped.slice(0, swapped.indexOf("|a|1|é") + 1)).length;
    assert.deepEqual(errorOf(() => decodeText(swapped)), ["unsorted_map_keys", tok(20, byte)]);
    assert.equal(kindOf(() => decodeText(t.replace("3|a|1|b|2|é|3", "3|a|1|a|2|é|3"))), "duplicate_map_key");
    assert.equal(kindOf(() => decodeText(t.replace("2|-5|0|10|1", "2|10|1|-5|0"))), "unsorted_map_keys");

    const b = encodeBinary(everything());
    const h = hex(b);
    const needle = "03 01 61 01 01 62 02";
    const i = h.indexOf(needle) / 3;
    const sw = b.slice();
    sw.set([0x01, 0x62, 0x02, 0x01, 0x61, 0x01], i + 1);
    assert.deepEqual(errorOf(() => decodeBinary(sw)), ["unsorted_map_keys", at(i + 4)]);
    const dup = b.slice();
    dup[i + 5] = 0x61;
    assert.equal(kindOf(() => decodeBinary(dup)), "duplicate_map_key");
  });
  it("depth_limit_counts_lists_and_structs", () => {
    let tree: Tree = { label: "leaf", children: [] };
    for (let i = 0; i < 100; i++) tree = { label: "n", children: [tree] };
    const m: Msg = { type: "Everything", value: { ...sample(), tree } };
    assert.equal(kindOf(() => decodeText(encodeText(m))), "too_deep");
    assert.equal(kindOf(() => decodeBinary(encodeBinary(m))), "too_deep");
    const generous = makeLimits({ maxDepth: 1000 });
    const expected = { type: "Everything", value: { ...sample(), tree, f32: Math.fround(0.1) } };
    assert.deepEqual(decodeText(encodeText(m), generous), expected);
    assert.deepEqual(decodeBinary(encodeBinary(m), generous), expected);
  });
  it("hostile_depth_does_not_overflow_the_stack", () => {
    const prefix = EVERYTHING_TEXT.slice(0, EVERYTHING_TEXT.lastIndexOf("|root|"));
    const frame = prefix + "|n|1".repeat(100_000);
    assert.equal(kindOf(() => decodeText(frame)), "too_deep");
    const bin = encodeBinary(everything());
    const cut = hex(bin).lastIndexOf("04 72 6F 6F 74") / 3;
    const deep = new Uint8Array(cut + 3 * 100_000);
    deep.set(bin.subarray(0, cut));
    for (let i = cut; i < deep.length; i += 3) deep.set([0x01, 0x6e, 0x01], i);
    assert.equal(kindOf(() => decodeBinary(deep)), "too_deep");
  });
  it("other_limits", () => {
    const m: Msg = { type: "RenderUi", value: { id: "x".repeat(10), tree: "" } };
    const tight = makeLimits({ maxStringBytes: 9 });
    assert.deepEqual(errorOf(() => decodeText(encodeText(m), tight)), ["string_too_long", tok(1, 3)]);
    assert.deepEqual(errorOf(() => decodeBinary(encodeBinary(m), tight)), ["string_too_long", at(2)]);
    // UTF-8 bytes count, not UTF-16 units: 4 × "é" is 8 bytes.
    const e: Msg = { type: "RenderUi", value: { id: "éééé", tree: "" } };
    assert.deepEqual(decodeText(encodeText(e), makeLimits({ maxStringBytes: 8 })), e);
    assert.equal(kindOf(() => decodeText(encodeText(e), makeLimits({ maxStringBytes: 7 }))), "string_too_long");
    assert.equal(kindOf(() => decodeBinary(encodeBinary(e), makeLimits({ maxStringBytes: 7 }))), "string_too_long");
    const small = makeLimits({ maxFrameBytes: 5 });
    assert.deepEqual(errorOf(() => decodeText("aa|abc|", small)), ["frame_too_large", tok(0, 0)]);
    assert.deepEqual(errorOf(() => decodeBinary(ascii("aa\x01a\x00\x00"), small)), ["frame_too_large", at(0)]);
    // Text frame size is UTF-8 bytes: "aa|éé" is 7 bytes, 5 UTF-16 units.
    assert.equal(kindOf(() => decodeText("aa|éé", small)), "frame_too_large");
    const few = makeLimits({ maxCollectionLen: 1 });
    assert.equal(kindOf(() => decodeText(encodeText(demo()), few)), "collection_too_long");
    assert.equal(kindOf(() => decodeBinary(encodeBinary(demo()), few)), "collection_too_long");
  });
  it("error_display", () => {
    const parts = EVERYTHING_TEXT.split("|");
    parts[36] = "8";
    let e: unknown;
    try {
      decodeText(parts.join("|"));
    } catch (x) {
      e = x;
    }
    assert.ok(e instanceof DecodeError && e instanceof Error);
    assert.equal(e.value, 8);
    assert.equal(e.name, "DecodeError");
    assert.match(e.message, /^unknown enum value 8 at token 36 \(byte \d+\)$/);
    try {
      decodeBinary(ascii("aa\x81\x00"));
    } catch (x) {
      e = x;
    }
    assert.ok(e instanceof DecodeError);
    assert.equal(e.message, "invalid varint at byte 2");
    assert.equal(String(e), "DecodeError: invalid varint at byte 2");
  });
});
