// Strict decoding (every rejection in SPEC §3–§6 with its kind and position),
// encoder-side checks, limits and hostile inputs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BinaryReader,
  BinaryWriter,
  DECODE_ERROR_KINDS,
  DEFAULT_LIMITS,
  EncodeError,
  TextReader,
  TextWriter,
  compareUtf8,
  enumTable,
  makeLimits,
  type Reader,
} from "tagwire";
import { bin, binBytes, errorOf, fromBin, fromText, kindOf, text, tok, unhex, at } from "./helpers.js";

const TOKEN1 = tok(1, 3);

describe("text rejections", () => {
  it("integers: grammar then range", () => {
    const cases: [string, string][] = [
      ["", "invalid_token"],
      ["+1", "invalid_token"],
      ["01", "invalid_token"],
      ["00", "invalid_token"],
      ["-0", "invalid_token"],
      ["-", "invalid_token"],
      ["--1", "invalid_token"],
      ["1.0", "invalid_token"],
      ["1e2", "invalid_token"],
      [" 1", "invalid_token"],
      ["1 ", "invalid_token"],
      ["0x1", "invalid_token"],
      ["٣", "invalid_token"],
      ["１", "invalid_token"],
      ["-1", "out_of_range"],
      ["256", "out_of_range"],
      ["99999999999999999999999999999999999999999999", "out_of_range"],
    ];
    for (const [t, kind] of cases) {
      assert.deepEqual(errorOf(() => fromText(t, (r) => r.u8())), [kind, TOKEN1], JSON.stringify(t));
    }
    assert.equal(kindOf(() => fromText("-129", (r) => r.i8())), "out_of_range");
    assert.equal(kindOf(() => fromText("128", (r) => r.i8())), "out_of_range");
    assert.equal(kindOf(() => fromText("65536", (r) => r.u16())), "out_of_range");
    assert.equal(kindOf(() => fromText("-32769", (r) => r.i16())), "out_of_range");
    assert.equal(kindOf(() => fromText("4294967296", (r) => r.u32())), "out_of_range");
    assert.equal(kindOf(() => fromText("2147483648", (r) => r.i32())), "out_of_range");
    assert.equal(kindOf(() => fromText("-2147483649", (r) => r.i32())), "out_of_range");
    assert.equal(kindOf(() => fromText("18446744073709551616", (r) => r.u64())), "out_of_range");
    assert.equal(kindOf(() => fromText("-1", (r) => r.u64())), "out_of_range");
    assert.equal(kindOf(() => fromText("-9223372036854775809", (r) => r.i64())), "out_of_range");
    assert.equal(kindOf(() => fromText("9223372036854775808", (r) => r.i64())), "out_of_range");
    assert.equal(kindOf(() => fromText("9".repeat(100_000), (r) => r.u64())), "out_of_range");
    assert.equal(kindOf(() => fromText("9".repeat(100_000), (r) => r.u32())), "out_of_range");
    assert.equal(kindOf(() => fromText("1".repeat(99) + "x", (r) => r.u64())), "invalid_token");
    // Exact around 2^53, where doubles stop being exact.
    assert.equal(fromText("9007199254740993", (r) => r.u64()), 9007199254740993n);
    assert.equal(fromText("-9007199254740993", (r) => r.i64()), -9007199254740993n);
  });
  it("bools", () => {
    for (const t of ["2", "true", "", "01", "-1", "1 "]) {
      assert.deepEqual(errorOf(() => fromText(t, (r) => r.bool())), ["invalid_bool", TOKEN1], t);
    }
  });
  it("floats", () => {
    for (const t of [
      "",
      "+1",
      ".5",
      "1.",
      "01",
      "-",
      "inf",
      "nan",
      "infinity",
      "1e",
      "1e+",
      "0x10",
      "0x1p3",
      "1_0",
      " 1",
      "-NaN",
      "+Infinity",
      "1.5f",
      "1,5",
      "0b1",
      "Infinity ",
    ]) {
      assert.deepEqual(errorOf(() => fromText(t, (r) => r.f64())), ["invalid_token", TOKEN1], JSON.stringify(t));
    }
    assert.deepEqual(errorOf(() => fromText("1e400", (r) => r.f64())), ["out_of_range", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("-1e400", (r) => r.f64())), ["out_of_range", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("3.5e38", (r) => r.f32())), ["out_of_range", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("1e39", (r) => r.f32())), ["out_of_range", TOKEN1]);
  });
  it("strings", () => {
    const cases: [string, string][] = [
      ["a\\x", "invalid_escape"],
      ["a\\", "invalid_escape"],
      ["\\", "invalid_escape"],
      ["a\\~", "invalid_escape"],
      ["\\P", "invalid_escape"],
      ["\\u0041", "invalid_escape"],
      ["\\~\\~", "invalid_escape"],
      ["~a", "invalid_token"],
      ["~", "invalid_token"],
      ["a\rb", "invalid_token"],
      ["a\nb", "invalid_token"],
      ["\\pa\nb\\x", "invalid_token"],
      ["\\pa\\xb\n", "invalid_escape"],
    ];
    for (const [t, kind] of cases) {
      assert.deepEqual(errorOf(() => fromText(t, (r) => r.string())), [kind, TOKEN1], JSON.stringify(t));
    }
  });
  it("bytes", () => {
    for (const t of ["_w==", "_w=", "_x", "3q2+7w", "3q2/7w", "A", "AAAAA", "AA AA", "~", "-_9", "ab.c", "é", "AAé"]) {
      assert.deepEqual(errorOf(() => fromText(t, (r) => r.bytes())), ["invalid_base64", TOKEN1], t);
    }
    assert.deepEqual(fromText("", (r) => r.optional((r) => r.bytes())), new Uint8Array(0));
    assert.equal(fromText("~", (r) => r.optional((r) => r.bytes())), undefined);
  });
  it("optional struct markers, enum values, variants, counts", () => {
    assert.deepEqual(errorOf(() => fromText("x", (r) => r.optionalStruct(() => 1))), ["invalid_token", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("", (r) => r.optionalStruct(() => 1))), ["invalid_token", TOKEN1]);
    const colors = enumTable([[1, "red"]]);
    const e = errorOf(() => fromText("2", (r) => r.enumValue(colors)));
    assert.deepEqual(e, ["unknown_enum_value", TOKEN1]);
    assert.equal(kindOf(() => fromText("-1", (r) => r.enumValue(colors))), "out_of_range");
    assert.equal(kindOf(() => fromText("01", (r) => r.enumValue(colors))), "invalid_token");
    assert.deepEqual(errorOf(() => fromText("3", (r) => r.union(3, () => 0))), ["unknown_variant", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("4294967296", (r) => r.union(3, () => 0))), ["out_of_range", TOKEN1]);
    const list = (r: Reader) => r.list((r) => r.u8());
    assert.deepEqual(errorOf(() => fromText("-1", list)), ["invalid_token", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("01", list)), ["invalid_token", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("100001", list)), ["collection_too_long", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("9".repeat(50), list)), ["collection_too_long", TOKEN1]);
    // A count is never negative, however many digits follow the `-`.
    assert.equal(kindOf(() => fromText("-170141183460469231731687303715884105728", list)), "invalid_token");
    assert.equal(kindOf(() => fromText("-" + "9".repeat(50), list)), "invalid_token");
    assert.equal(kindOf(() => fromText("-0", list)), "invalid_token");
  });
  it("maps: duplicate and unsorted keys at the offending key", () => {
    const m = (r: Reader) => r.map((r) => r.string(), (r) => r.u8());
    assert.deepEqual(errorOf(() => fromText("2|ab|0|a|0", m)), ["unsorted_map_keys", tok(4, 10)]);
    assert.deepEqual(errorOf(() => fromText("2|a|0|a|0", m)), ["duplicate_map_key", tok(4, 9)]);
    const bm = (r: Reader) => r.map((r) => r.i64(), (r) => r.u8());
    assert.deepEqual(errorOf(() => fromText("2|5|0|-5|0", bm)), ["unsorted_map_keys", tok(4, 9)]);
    assert.deepEqual(errorOf(() => fromBin("02 0A 00 09 00", bm)), ["unsorted_map_keys", at(5)]);
    assert.deepEqual(errorOf(() => fromBin("02 0A 00 0A 00", bm)), ["duplicate_map_key", at(5)]);
  });
  it("positions are UTF-8 byte offsets, not UTF-16 indexes", () => {
    // "🎉" is 2 UTF-16 units and 4 UTF-8 bytes; "é" 1 and 2.
    const r = new TextReader("aa|🎉é|x|1");
    assert.equal(r.string(), "🎉é");
    assert.equal(r.string(), "x");
    assert.equal(r.string(), "1");
    assert.deepEqual(errorOf(() => r.string()), ["truncated", tok(4, 13)]);
    const r2 = new TextReader("aa|🎉é|x|2");
    r2.string();
    r2.string();
    assert.deepEqual(errorOf(() => r2.bool()), ["invalid_bool", tok(3, 12)]);
    const r3 = new TextReader("aa|é");
    r3.string();
    assert.deepEqual(errorOf(() => r3.u8()), ["truncated", tok(2, 5)]);
    assert.deepEqual(errorOf(() => fromText("é|🎉|x", (r) => [r.string(), r.string(), r.u8()])), [
      "invalid_token",
      tok(3, 11),
    ]);
  });
  it("a lone surrogate in a text frame is invalid_utf8 at its token", () => {
    assert.deepEqual(errorOf(() => new TextReader("aa|ok|\uD800x|z")), ["invalid_utf8", tok(2, 6)]);
    assert.deepEqual(errorOf(() => new TextReader("aa|é|x\uDC00")), ["invalid_utf8", tok(2, 6)]);
    assert.deepEqual(errorOf(() => new TextReader("a\uD800")), ["invalid_utf8", tok(0, 0)]);
    assert.deepEqual(errorOf(() => new TextReader("\uD800")), ["invalid_utf8", tok(0, 0)]);
    // A proper pair is fine.
    assert.equal(new TextReader("aa|\uD83C\uDF89").string(), "🎉");
  });
  it("missing separator, trailing data and truncation", () => {
    assert.deepEqual(errorOf(() => new TextReader("aab").finish()), ["missing_separator", tok(1, 2)]);
    assert.deepEqual(errorOf(() => new TextReader("aab|x").string()), ["missing_separator", tok(1, 2)]);
    assert.deepEqual(errorOf(() => new TextReader("aa|").finish()), ["trailing_data", tok(1, 3)]);
    assert.deepEqual(errorOf(() => new TextReader("aa").u8()), ["truncated", tok(1, 2)]);
    assert.deepEqual(
      errorOf(() => {
        const r = new TextReader("aa|1|");
        r.u8();
        r.finish();
      }),
      ["trailing_data", tok(2, 5)],
    );
    new TextReader("aa").finish();
  });
});

describe("binary rejections", () => {
  it("varints", () => {
    const cases: [string, string][] = [
      ["81 00", "invalid_varint"],
      ["80 00", "invalid_varint"],
      ["FF FF FF FF 7F", "out_of_range"],
      ["FF FF FF FF 1F", "out_of_range"],
      ["FF FF FF FF FF 01", "invalid_varint"],
      ["80", "truncated"],
      ["", "truncated"],
      ["FF FF FF FF", "truncated"],
    ];
    for (const [h, kind] of cases) {
      assert.deepEqual(errorOf(() => fromBin(h, (r) => r.u32())), [kind, at(2)], h);
    }
    assert.equal(kindOf(() => fromBin("80 80 04", (r) => r.u16())), "out_of_range");
    assert.equal(kindOf(() => fromBin("80 80 80 01", (r) => r.u16())), "invalid_varint");
    assert.equal(kindOf(() => fromBin("FF FF 07", (r) => r.i16())), "out_of_range");
    assert.equal(kindOf(() => fromBin("FF FF FF FF FF FF FF FF FF 02", (r) => r.u64())), "out_of_range");
    assert.equal(kindOf(() => fromBin("FF FF FF FF FF FF FF FF FF 7F", (r) => r.i64())), "out_of_range");
    assert.equal(kindOf(() => fromBin("FF FF FF FF FF FF FF FF FF 81 00", (r) => r.u64())), "invalid_varint");
    assert.equal(kindOf(() => fromBin("80 80 80 80 80 80 80 80 80 00", (r) => r.u64())), "invalid_varint");
    assert.equal(kindOf(() => fromBin("FF FF FF FF FF FF FF FF", (r) => r.u64())), "truncated");
    assert.equal(fromBin("80 80 80 80 80 80 80 80 80 01", (r) => r.u64()), 1n << 63n);
    assert.equal(fromBin("80 80 80 80 80 80 80 01", (r) => r.u64()), 1n << 49n);
    assert.equal(fromBin("FF FF FF FF FF FF 7F", (r) => r.u64()), (1n << 49n) - 1n);
  });
  it("bools, presence bytes, fixed widths", () => {
    assert.deepEqual(errorOf(() => fromBin("02", (r) => r.bool())), ["invalid_bool", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("FF", (r) => r.bool())), ["invalid_bool", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("02 05", (r) => r.optional((r) => r.u8()))), ["invalid_bool", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("", (r) => r.optional((r) => r.u8()))), ["truncated", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("00 00 C0", (r) => r.f32())), ["truncated", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("00 00 00 00 00 00 F8", (r) => r.f64())), ["truncated", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("", (r) => r.u8())), ["truncated", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("", (r) => r.i8())), ["truncated", at(2)]);
  });
  it("invalid UTF-8 at the length prefix", () => {
    for (const h of ["01 FF", "02 C0 80", "03 ED A0 80", "01 80", "02 C3 41", "04 F4 90 80 80", "03 E0 80 80", "01 C3"]) {
      assert.deepEqual(errorOf(() => fromBin(h, (r) => r.string())), ["invalid_utf8", at(2)], h);
    }
    // Long strings go through TextDecoder: same rule.
    const long = new Uint8Array(101);
    long[0] = 100;
    long.fill(0x61, 1);
    long[50] = 0xff;
    assert.deepEqual(errorOf(() => fromBin(long, (r) => r.string())), ["invalid_utf8", at(2)]);
  });
  it("a leading BOM is data, not stripped", () => {
    const s = "\uFEFFx";
    assert.equal(bin((w) => w.str(s)), "04 EF BB BF 78");
    assert.equal(fromBin("04 EF BB BF 78", (r) => r.string()), s);
    const long = "\uFEFF" + "y".repeat(100);
    assert.equal(fromBin(binBytes((w) => w.str(long)), (r) => r.string()), long);
  });
  it("string and bytes lengths: limit first, then the input", () => {
    assert.deepEqual(errorOf(() => fromBin("FF FF FF FF 0F", (r) => r.bytes())), ["string_too_long", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("FF FF FF FF 0F", (r) => r.string())), ["string_too_long", at(2)]);
    assert.deepEqual(errorOf(() => fromBin("10 00", (r) => r.bytes())), ["truncated", at(2)]);
    const tight = makeLimits({ maxStringBytes: 2 });
    assert.deepEqual(errorOf(() => fromBin("03 61 62 63", (r) => r.string(), tight)), ["string_too_long", at(2)]);
    assert.deepEqual(fromBin("02 61 62", (r) => r.bytes(), tight), new Uint8Array([0x61, 0x62]));
    assert.deepEqual(errorOf(() => fromText("AAAA", (r) => r.bytes(), tight)), ["string_too_long", TOKEN1]);
  });
  it("decoded bytes do not alias the frame, even from a Node Buffer", () => {
    const frame = Buffer.from([0x61, 0x61, 0x02, 0x01, 0x02]);
    const r = new BinaryReader(frame);
    const b = r.bytes();
    r.finish();
    frame[3] = 0x09;
    assert.deepEqual(b, new Uint8Array([1, 2]));
    assert.equal(Object.getPrototypeOf(b), Uint8Array.prototype);
    // ArrayBuffer input works too.
    const r2 = new BinaryReader(new Uint8Array([0x61, 0x61, 0x05]).buffer);
    assert.equal(r2.u8(), 5);
  });
});

describe("lying counts and depth", () => {
  it("counts claiming 2^60 elements fail without allocating", () => {
    // 2^60 as a 9-byte varint: more bytes than a u32 varint may have.
    assert.deepEqual(errorOf(() => fromBin("80 80 80 80 80 80 80 80 10", (r) => r.list((r) => r.u8()))), [
      "invalid_varint",
      at(2),
    ]);
    // In text: far over max_collection_len.
    assert.deepEqual(errorOf(() => fromText("1152921504606846976|1|2", (r) => r.list((r) => r.u64()))), [
      "collection_too_long",
      TOKEN1,
    ]);
    // With the limit lifted, reading stops at the end of the frame.
    const generous = makeLimits({ maxCollectionLen: Number.MAX_SAFE_INTEGER });
    const t0 = performance.now();
    assert.equal(kindOf(() => fromText("9007199254740991|1|2", (r) => r.list((r) => r.u64()), generous)), "truncated");
    // (A limit is a JavaScript number, so 2^60 stays over any limit.)
    assert.equal(
      kindOf(() => fromText("1152921504606846976|1|2", (r) => r.list((r) => r.u64()), generous)),
      "collection_too_long",
    );
    assert.equal(kindOf(() => fromBin("FF FF FF FF 0F 01 02 03", (r) => r.list((r) => r.u64()), generous)), "truncated");
    assert.equal(kindOf(() => fromBin("FF FF FF FF 0F 01 02 03", (r) => r.list((r) => r.bytes()), generous)), "truncated");
    assert.equal(kindOf(() => fromBin("FF FF FF FF 0F", (r) => r.list((r) => r.u64()))), "collection_too_long");
    assert.equal(kindOf(() => fromBin("FF FF FF FF 0F", (r) => r.map((r) => r.u8(), (r) => r.u8()), generous)), "truncated");
    assert.ok(performance.now() - t0 < 1000);
  });
  it("lists of empty structs are bounded by max_collection_len", () => {
    const n = DEFAULT_LIMITS.maxCollectionLen;
    const empties = (r: Reader) => r.list((r) => r.nested(() => ({})));
    assert.equal(fromText(String(n), empties).length, n);
    assert.equal(kindOf(() => fromText(String(n + 1), empties)), "collection_too_long");
  });
  it("max_depth: the message is level 0; [u8] is fine at depth 1, [[u8]] is not", () => {
    const one = makeLimits({ maxDepth: 1 });
    assert.deepEqual(fromText("1|7", (r) => r.list((r) => r.u8()), one), [7]);
    assert.deepEqual(errorOf(() => fromText("1|1|7", (r) => r.list((r) => r.list((r) => r.u8())), one)), [
      "too_deep",
      tok(2, 5),
    ]);
    assert.deepEqual(errorOf(() => fromBin("01 01 07", (r) => r.list((r) => r.list((r) => r.u8())), one)), [
      "too_deep",
      at(3),
    ]);
    // An absent optional still opens a level; so do structs and unions.
    const zero = makeLimits({ maxDepth: 0 });
    assert.deepEqual(errorOf(() => fromText("~", (r) => r.optional((r) => r.u8()), zero)), ["too_deep", TOKEN1]);
    assert.deepEqual(errorOf(() => fromBin("00", (r) => r.optional((r) => r.u8()), zero)), ["too_deep", at(2)]);
    assert.deepEqual(errorOf(() => fromText("5", (r) => r.nested((r) => r.u8()), zero)), ["too_deep", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("0", (r) => r.union(1, () => 0), zero)), ["too_deep", TOKEN1]);
    assert.deepEqual(errorOf(() => fromText("0", (r) => r.map((r) => r.u8(), (r) => r.u8()), zero)), [
      "too_deep",
      TOKEN1,
    ]);
    assert.equal(fromText("5", (r) => r.u8(), zero), 5);
  });
});

describe("frame-level checks", () => {
  it("order: size, then length, then header", () => {
    const tiny = makeLimits({ maxFrameBytes: 1 });
    assert.deepEqual(errorOf(() => new TextReader("zz", tiny)), ["frame_too_large", tok(0, 0)]);
    assert.deepEqual(errorOf(() => new BinaryReader(new Uint8Array(2), tiny)), ["frame_too_large", at(0)]);
    assert.deepEqual(errorOf(() => new TextReader("")), ["truncated", tok(0, 0)]);
    assert.deepEqual(errorOf(() => new TextReader("a")), ["truncated", tok(0, 0)]);
    // One UTF-16 unit but 2 UTF-8 bytes: not truncated, an unknown header.
    assert.deepEqual(errorOf(() => new TextReader("é")), ["unknown_header", tok(0, 0)]);
    assert.deepEqual(errorOf(() => new TextReader("a|")), ["unknown_header", tok(0, 0)]);
    assert.equal(new TextReader("_a").header, "_a");
    assert.equal(new TextReader("a_|x").header, "a_");
    assert.equal(new BinaryReader(new Uint8Array([0x5f, 0x5f])).header, "__");
    assert.deepEqual([new TextReader("aa").unknownHeader().kind, new BinaryReader(new Uint8Array([97, 97])).unknownHeader().position], [
      "unknown_header",
      at(0),
    ]);
  });
  it("frame size counts UTF-8 bytes, exactly at the limit", () => {
    const f = "aa|" + "é".repeat(10); // 23 bytes
    assert.equal(new TextReader(f, makeLimits({ maxFrameBytes: 23 })).string(), "é".repeat(10));
    assert.equal(kindOf(() => new TextReader(f, makeLimits({ maxFrameBytes: 22 }))), "frame_too_large");
    assert.equal(kindOf(() => new TextReader("aa|" + "x".repeat(DEFAULT_LIMITS.maxFrameBytes))), "frame_too_large");
  });
});

describe("encoder checks", () => {
  it("a lone surrogate cannot be encoded, in either encoding", () => {
    for (const s of ["\uD800", "a\uDC00", "x\uD83C", "\uDF89\uD83C", "ok" + "\uD800".repeat(50), "y".repeat(60) + "\uDBFF"]) {
      assert.throws(() => new TextWriter("aa").str(s), EncodeError, JSON.stringify(s));
      assert.throws(() => new BinaryWriter("aa").str(s), EncodeError, JSON.stringify(s));
      assert.throws(
        () => new TextWriter("aa").map(new Map([[s, 1]]), (w, k) => w.str(k), (w, v) => w.u8(v)),
        EncodeError,
      );
    }
    assert.throws(() => new TextWriter("aa").str("\uD800"), /lone UTF-16 surrogate \(U\+D800\) at index 0/);
    // Properly paired surrogates are fine.
    assert.equal(text((w) => w.str("\uD83C\uDF89")), "🎉");
  });
  it("numbers outside their type", () => {
    const bad: [string, (w: TextWriter | BinaryWriter) => void][] = [
      ["u8 256", (w) => w.u8(256)],
      ["u8 -1", (w) => w.u8(-1)],
      ["u8 1.5", (w) => w.u8(1.5)],
      ["u8 NaN", (w) => w.u8(NaN)],
      ["u16 65536", (w) => w.u16(65536)],
      ["u32 2^32", (w) => w.u32(2 ** 32)],
      ["u32 -1", (w) => w.u32(-1)],
      ["i8 128", (w) => w.i8(128)],
      ["i16 -32769", (w) => w.i16(-32769)],
      ["i32 2^31", (w) => w.i32(2 ** 31)],
      ["i32 Infinity", (w) => w.i32(Infinity)],
      ["u64 -1n", (w) => w.u64(-1n)],
      ["u64 2^64", (w) => w.u64(1n << 64n)],
      ["u64 number", (w) => w.u64(5 as unknown as bigint)],
      ["i64 2^63", (w) => w.i64(1n << 63n)],
      ["i64 number", (w) => w.i64(5 as unknown as bigint)],
      ["bool 1", (w) => w.bool(1 as unknown as boolean)],
      ["str number", (w) => w.str(5 as unknown as string)],
      ["bytes array", (w) => w.bytes([1] as unknown as Uint8Array)],
      ["f64 string", (w) => w.f64("1" as unknown as number)],
      ["enum -1", (w) => w.enumValue(-1)],
      ["list object", (w) => w.list({} as unknown as number[], () => {})],
      ["map object", (w) => w.map({} as unknown as Map<string, number>, () => {}, () => {})],
    ];
    for (const [name, f] of bad) {
      assert.throws(() => f(new TextWriter("aa")), EncodeError, name);
      assert.throws(() => f(new BinaryWriter("aa")), EncodeError, name);
    }
    assert.throws(() => new TextWriter("a|"), EncodeError);
    assert.throws(() => new BinaryWriter().begin("aaa"), EncodeError);
  });
  it("-0 is a valid integer (written 0); f32 rounds like the binary encoding", () => {
    assert.equal(text((w) => w.i32(-0)), "0");
    assert.equal(bin((w) => w.i32(-0)), "00");
    assert.equal(text((w) => w.f32(1e39)), "Infinity");
    assert.equal(bin((w) => w.f32(1e39)), "00 00 80 7F");
    assert.equal(text((w) => w.f32(-0)), "-0");
  });
});

describe("misc", () => {
  it("kinds list matches SPEC §7", () => {
    assert.equal(DECODE_ERROR_KINDS.length, 20);
    assert.equal(new Set(DECODE_ERROR_KINDS).size, 20);
  });
  it("compareUtf8 is code point order", () => {
    const strs = ["", "a", "ab", "B", "é", "\uD7FF", "\uE000", "\uFFFF", "𐀀", "🎉", "\u{10FFFF}", "~"];
    const enc = new TextEncoder();
    const byBytes = (a: string, b: string) => {
      const x = enc.encode(a);
      const y = enc.encode(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
      return x.length - y.length;
    };
    for (const a of strs) for (const b of strs) assert.equal(Math.sign(compareUtf8(a, b)), Math.sign(byBytes(a, b)), `${a} ${b}`);
  });
  it("long strings take the TextEncoder path with a multi-byte length prefix", () => {
    for (const n of [42, 43, 127, 128, 200, 5000]) {
      for (const unit of ["a", "é", "€", "🎉"]) {
        const s = unit.repeat(n);
        const b = binBytes((w) => w.str(s));
        assert.equal(fromBin(b, (r) => r.string()), s);
        const bytes = new TextEncoder().encode(s).length;
        assert.equal(b.length, bytes + (bytes < 128 ? 1 : bytes < 16384 ? 2 : 3));
      }
    }
    assert.equal(bin((w) => w.str("x".repeat(128))).slice(0, 5), "80 01");
    assert.equal(unhex("80 01").length, 2);
  });
});
