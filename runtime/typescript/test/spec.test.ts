// Every worked example in docs/SPEC.md, text and binary, byte for byte.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  FIRST_RESERVED_INDEX,
  HEADER_ALPHABET,
  HEADER_COUNT,
  compareHeaders,
  enumTable,
  headerFromIndex,
  headerIndex,
  isHeader,
  isReservedHeader,
  type Reader,
  type Writer,
} from "tagwire";
import { bin, fromBin, fromText, hex, sameFloat, text } from "./helpers.js";
import { decodeBinary, decodeText, encodeBinary, encodeText, readPoint, writePoint } from "./protocol.js";

describe("§1 headers", () => {
  it("matches the alphabet and index table", () => {
    assert.equal(HEADER_ALPHABET, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
    const table: [string, string, number][] = [
      ["aa", "61 61", 0],
      ["ab", "61 62", 1],
      ["az", "61 7A", 25],
      ["aA", "61 41", 26],
      ["a9", "61 39", 61],
      ["a-", "61 2D", 62],
      ["a_", "61 5F", 63],
      ["ba", "62 61", 64],
      ["_a", "5F 61", 4032],
      ["__", "5F 5F", 4095],
    ];
    for (const [h, bytes, index] of table) {
      assert.equal(headerIndex(h), index, h);
      assert.equal(headerFromIndex(index), h);
      assert.equal(hex(Uint8Array.from(h, (c) => c.charCodeAt(0))), bytes);
    }
  });
  it("round-trips every index; reserved from _a on", () => {
    assert.equal(HEADER_COUNT, 4096);
    assert.equal(FIRST_RESERVED_INDEX, 4032);
    for (let i = 0; i < HEADER_COUNT; i++) {
      const h = headerFromIndex(i)!;
      assert.equal(headerIndex(h), i);
      assert.ok(isHeader(h));
      assert.equal(isReservedHeader(h), i >= FIRST_RESERVED_INDEX);
    }
    assert.equal(headerFromIndex(4096), undefined);
    assert.equal(headerFromIndex(-1), undefined);
    assert.equal(headerFromIndex(1.5), undefined);
    assert.ok(compareHeaders("aZ", "a0") < 0);
    assert.ok(compareHeaders("az", "aA") < 0);
  });
  it("rejects non-alphabet characters", () => {
    for (const c of ["|", "~", "+", " ", "\\", "\0", "ÿ", "=", "/", "é", "\uD83C"]) {
      assert.ok(!isHeader("a" + c), JSON.stringify(c));
      assert.ok(!isHeader(c + "a"), JSON.stringify(c));
      assert.equal(headerIndex("a" + c), undefined);
    }
    assert.ok(!isHeader("a"));
    assert.ok(!isHeader("aaa"));
    assert.ok(!isReservedHeader("_|"));
  });
});

describe("§3.3 / §4.2 / §4.3 integers", () => {
  const cases: [string, (w: Writer) => void, (r: Reader) => unknown, unknown, string, string][] = [
    ["u8 200", (w) => w.u8(200), (r) => r.u8(), 200, "200", "C8"],
    ["i8 -1", (w) => w.i8(-1), (r) => r.i8(), -1, "-1", "FF"],
    ["i8 -128", (w) => w.i8(-128), (r) => r.i8(), -128, "-128", "80"],
    ["u16 300", (w) => w.u16(300), (r) => r.u16(), 300, "300", "AC 02"],
    ["u16 65535", (w) => w.u16(65535), (r) => r.u16(), 65535, "65535", "FF FF 03"],
    ["u32 0", (w) => w.u32(0), (r) => r.u32(), 0, "0", "00"],
    ["u32 127", (w) => w.u32(127), (r) => r.u32(), 127, "127", "7F"],
    ["u32 128", (w) => w.u32(128), (r) => r.u32(), 128, "128", "80 01"],
    ["u32 max", (w) => w.u32(4294967295), (r) => r.u32(), 4294967295, "4294967295", "FF FF FF FF 0F"],
    [
      "u64 max",
      (w) => w.u64(18446744073709551615n),
      (r) => r.u64(),
      18446744073709551615n,
      "18446744073709551615",
      "FF FF FF FF FF FF FF FF FF 01",
    ],
    ["i16 -1", (w) => w.i16(-1), (r) => r.i16(), -1, "-1", "01"],
    ["i32 1", (w) => w.i32(1), (r) => r.i32(), 1, "1", "02"],
    ["i32 -150", (w) => w.i32(-150), (r) => r.i32(), -150, "-150", "AB 02"],
    ["i16 min", (w) => w.i16(-32768), (r) => r.i16(), -32768, "-32768", "FF FF 03"],
    [
      "i64 min",
      (w) => w.i64(-9223372036854775808n),
      (r) => r.i64(),
      -9223372036854775808n,
      "-9223372036854775808",
      "FF FF FF FF FF FF FF FF FF 01",
    ],
    [
      "i64 max",
      (w) => w.i64(9223372036854775807n),
      (r) => r.i64(),
      9223372036854775807n,
      "9223372036854775807",
      "FE FF FF FF FF FF FF FF FF 01",
    ],
    ["bool true", (w) => w.bool(true), (r) => r.bool(), true, "1", "01"],
    ["bool false", (w) => w.bool(false), (r) => r.bool(), false, "0", "00"],
  ];
  for (const [name, write, read, value, token, bytes] of cases) {
    it(name, () => {
      assert.equal(text(write), token);
      assert.equal(bin(write), bytes);
      assert.equal(fromText(token, read), value);
      assert.equal(fromBin(bytes, read), value);
    });
  }
});

describe("§3.4 / §4.4 floats", () => {
  it("writes f64 tokens as the table", () => {
    const table: [number, string][] = [
      [1.5, "1.5"],
      [100, "100"],
      [0.1, "0.1"],
      [1e21, "1e+21"],
      [1e-7, "1e-7"],
      [123456789012345680000, "123456789012345680000"],
      [5e-324, "5e-324"],
      [1.7976931348623157e308, "1.7976931348623157e+308"],
      [-0, "-0"],
      [0, "0"],
      [NaN, "NaN"],
      [-Infinity, "-Infinity"],
      [Infinity, "Infinity"],
    ];
    for (const [v, token] of table) {
      assert.equal(text((w) => w.f64(v)), token, String(v));
      sameFloat(fromText(token, (r) => r.f64()), v);
    }
  });
  it("writes f32 widened to f64", () => {
    assert.equal(text((w) => w.f32(0.1)), "0.10000000149011612");
    assert.equal(text((w) => w.f32(Math.fround(0.1))), "0.10000000149011612");
    assert.equal(text((w) => w.f32(1.5)), "1.5");
    assert.equal(text((w) => w.f32(3.4028234663852886e38)), "3.4028234663852886e+38");
    assert.equal(fromText("0.10000000149011612", (r) => r.f32()), Math.fround(0.1));
  });
  it("matches the binary table", () => {
    assert.equal(bin((w) => w.f32(1.5)), "00 00 C0 3F");
    assert.equal(bin((w) => w.f32(NaN)), "00 00 C0 7F");
    assert.equal(bin((w) => w.f32(-Infinity)), "00 00 80 FF");
    assert.equal(bin((w) => w.f64(1.5)), "00 00 00 00 00 00 F8 3F");
    assert.equal(bin((w) => w.f64(-0)), "00 00 00 00 00 00 00 80");
    assert.equal(bin((w) => w.f64(5e-324)), "01 00 00 00 00 00 00 00");
    assert.equal(bin((w) => w.f64(NaN)), "00 00 00 00 00 00 F8 7F");
    sameFloat(fromBin("00 00 00 00 00 00 00 80", (r) => r.f64()), -0);
    sameFloat(fromBin("00 00 80 FF", (r) => r.f32()), -Infinity);
  });
  it("canonicalises NaN payloads on encode and accepts any NaN on decode", () => {
    const odd = new Uint8Array(8);
    new DataView(odd.buffer).setBigUint64(0, 0xfff0_0000_0000_0001n, true);
    const nan = fromBin(odd, (r) => r.f64());
    assert.ok(Number.isNaN(nan));
    assert.equal(bin((w) => w.f64(nan)), "00 00 00 00 00 00 F8 7F");
    assert.ok(Number.isNaN(fromBin("01 00 80 FF", (r) => r.f32())));
    assert.equal(bin((w) => w.f32(fromBin("01 00 80 FF", (r) => r.f32()))), "00 00 C0 7F");
  });
  it("accepts every spelling in the grammar and rounds f32 in two steps", () => {
    assert.equal(fromText("15e-1", (r) => r.f64()), 1.5);
    assert.equal(fromText("1.50", (r) => r.f64()), 1.5);
    assert.equal(fromText("1E+2", (r) => r.f64()), 100);
    assert.equal(fromText("0.1", (r) => r.f32()), Math.fround(0.1));
    assert.equal(fromText("3.4028235e38", (r) => r.f32()), 3.4028234663852886e38);
    assert.equal(fromText("1e-50", (r) => r.f32()), 0);
    sameFloat(fromText("-1e-50", (r) => r.f32()), -0);
    sameFloat(fromText("1e-400", (r) => r.f64()), 0);
    sameFloat(fromText("-1e-400", (r) => r.f64()), -0);
    assert.equal(fromText("Infinity", (r) => r.f32()), Infinity);
  });
});

describe("§3.5 / §4.5 strings", () => {
  it("escapes as the table", () => {
    const table: [string, string][] = [
      ["hello", "hello"],
      ["", ""],
      ["a|b", "a\\pb"],
      ["C:\\dir", "C:\\\\dir"],
      ["line1\nline2", "line1\\nline2"],
      ["\r\n", "\\r\\n"],
      ["~home", "\\~home"],
      ["a~b", "a~b"],
      ["~", "\\~"],
      ["🎉 ok", "🎉 ok"],
    ];
    for (const [s, token] of table) {
      assert.equal(text((w) => w.str(s)), token, JSON.stringify(s));
      assert.equal(fromText(token, (r) => r.string()), s);
    }
    assert.equal(hex(new TextEncoder().encode(text((w) => w.str("🎉 ok")))), "F0 9F 8E 89 20 6F 6B");
  });
  it("matches the binary table", () => {
    const table: [string, string][] = [
      ["", "00"],
      ["hé", "03 68 C3 A9"],
      ["a|b", "03 61 7C 62"],
      ["🎉", "04 F0 9F 8E 89"],
    ];
    for (const [s, bytes] of table) {
      assert.equal(bin((w) => w.str(s)), bytes);
      assert.equal(fromBin(bytes, (r) => r.string()), s);
    }
  });
});

describe("§3.6 / §4.5 bytes", () => {
  it("matches the tables", () => {
    const table: [number[], string][] = [
      [[], ""],
      [[0xff], "_w"],
      [[0xde, 0xad, 0xbe, 0xef], "3q2-7w"],
      [[0, 1, 2], "AAEC"],
      [[0xfb, 0xff], "-_8"],
    ];
    for (const [b, token] of table) {
      assert.equal(text((w) => w.bytes(new Uint8Array(b))), token);
      assert.deepEqual(fromText(token, (r) => r.bytes()), new Uint8Array(b));
    }
    assert.equal(bin((w) => w.bytes(new Uint8Array(0))), "00");
    assert.equal(bin((w) => w.bytes(new Uint8Array([0xde, 0xad, 0xbe, 0xef]))), "04 DE AD BE EF");
  });
});

describe("§3.7 / §4.6 composites", () => {
  type Case = [string, (w: Writer) => void, string, string];
  const color = enumTable([
    [1, "red"],
    [2, "green"],
    [7, "blue"],
  ]);
  const cases: Case[] = [
    ["Point", (w) => writePoint(w, { x: 1, y: -1 }), "1|-1", "02 01"],
    ["Empty", () => {}, "", ""],
    ["Color blue", (w) => w.enumValue(7), "7", "07"],
    ["Shape empty", (w) => w.variant(0), "0", "00"],
    [
      "Shape circle",
      (w) => {
        w.variant(1);
        w.f32(1.5);
      },
      "1|1.5",
      "01 00 00 C0 3F",
    ],
    [
      "Shape rect",
      (w) => {
        w.variant(2);
        w.u8(3);
        w.u8(4);
      },
      "2|3|4",
      "02 03 04",
    ],
    ["[u16] [1, 300]", (w) => w.list([1, 300], (w, v) => w.u16(v)), "2|1|300", "02 01 AC 02"],
    ["[u16] []", (w) => w.list([], (w, v: number) => w.u16(v)), "0", "00"],
    [
      "map<string,u8>",
      (w) =>
        w.map(
          new Map([
            ["b", 2],
            ["a", 1],
          ]),
          (w, k) => w.str(k),
          (w, v) => w.u8(v),
        ),
      "2|a|1|b|2",
      "02 01 61 01 01 62 02",
    ],
    [
      "map<i32,bool>",
      (w) =>
        w.map(
          new Map([
            [10, true],
            [-5, false],
          ]),
          (w, k) => w.i32(k),
          (w, v) => w.bool(v),
        ),
      "2|-5|0|10|1",
      "02 09 00 14 01",
    ],
    ["u32? absent", (w) => w.optional(undefined, (w, v: number) => w.u32(v)), "~", "00"],
    ["u32? 5", (w) => w.optional(5, (w, v) => w.u32(v)), "5", "01 05"],
    ["string? absent", (w) => w.optional(undefined, (w, v: string) => w.str(v)), "~", "00"],
    ["string? ~", (w) => w.optional("~", (w, v) => w.str(v)), "\\~", "01 01 7E"],
    ["string? empty", (w) => w.optional("", (w, v) => w.str(v)), "", "01 00"],
    ["Point? absent", (w) => w.optionalStruct(undefined, writePoint), "~", "00"],
    ["Point? present", (w) => w.optionalStruct({ x: 1, y: -1 }, writePoint), "+|1|-1", "01 02 01"],
    ["Empty? present", (w) => w.optionalStruct({}, () => {}), "+", "01"],
    [
      "[string?]",
      (w) => w.list(["a", undefined], (w, v) => w.optional(v, (w, s) => w.str(s))),
      "2|a|~",
      "02 01 01 61 00",
    ],
  ];
  for (const [name, write, tokens, bytes] of cases) {
    it(name, () => {
      assert.equal(text(write), tokens);
      assert.equal(bin(write), bytes);
    });
  }
  it("decodes them back", () => {
    const shape = (r: Reader) =>
      r.union(3, (r, i) => (i === 0 ? "empty" : i === 1 ? r.f32() : [r.u8(), r.u8()]));
    assert.deepEqual(fromText("1|-1", readPoint), { x: 1, y: -1 });
    assert.deepEqual(fromBin("02 01", readPoint), { x: 1, y: -1 });
    assert.equal(fromText("7", (r) => r.enumValue(color)), "blue");
    assert.equal(fromBin("07", (r) => r.enumValue(color)), "blue");
    assert.equal(fromText("0", shape), "empty");
    assert.equal(fromText("1|1.5", shape), 1.5);
    assert.deepEqual(fromBin("02 03 04", shape), [3, 4]);
    assert.deepEqual(fromText("2|1|300", (r) => r.list((r) => r.u16())), [1, 300]);
    assert.deepEqual(fromBin("00", (r) => r.list((r) => r.u16())), []);
    const smap = new Map([
      ["a", 1],
      ["b", 2],
    ]);
    assert.deepEqual(fromText("2|a|1|b|2", (r) => r.map((r) => r.string(), (r) => r.u8())), smap);
    assert.deepEqual(fromBin("02 01 61 01 01 62 02", (r) => r.map((r) => r.string(), (r) => r.u8())), smap);
    const imap = new Map([
      [-5, false],
      [10, true],
    ]);
    assert.deepEqual(fromText("2|-5|0|10|1", (r) => r.map((r) => r.i32(), (r) => r.bool())), imap);
    assert.deepEqual(fromBin("02 09 00 14 01", (r) => r.map((r) => r.i32(), (r) => r.bool())), imap);
    assert.equal(fromText("~", (r) => r.optional((r) => r.u32())), undefined);
    assert.equal(fromText("5", (r) => r.optional((r) => r.u32())), 5);
    assert.equal(fromBin("01 05", (r) => r.optional((r) => r.u32())), 5);
    assert.equal(fromText("\\~", (r) => r.optional((r) => r.string())), "~");
    assert.equal(fromText("", (r) => r.optional((r) => r.string())), "");
    assert.equal(fromText("~", (r) => r.optional((r) => r.string())), undefined);
    assert.deepEqual(fromText("+|1|-1", (r) => r.optionalStruct(readPoint)), { x: 1, y: -1 });
    assert.deepEqual(fromText("+", (r) => r.optionalStruct(() => ({}))), {});
    assert.equal(fromText("~", (r) => r.optionalStruct(readPoint)), undefined);
    assert.deepEqual(fromText("2|a|~", (r) => r.list((r) => r.optional((r) => r.string()))), ["a", undefined]);
    assert.deepEqual(fromBin("02 01 01 61 00", (r) => r.list((r) => r.optional((r) => r.string()))), [
      "a",
      undefined,
    ]);
  });
  it("Demo frame (§3.7, §4.6)", () => {
    const demo = {
      type: "Demo",
      value: { flag: true, pos: { x: 1, y: -1 }, tags: ["x|y", ""] },
    } as const;
    const m = { type: demo.type, value: { ...demo.value, tags: [...demo.value.tags] } };
    assert.equal(encodeText(m), "ab|1|1|-1|2|x\\py||~");
    assert.equal(hex(encodeBinary(m)), "61 62 01 02 01 02 03 78 7C 79 00 00");
    assert.deepEqual(decodeText("ab|1|1|-1|2|x\\py||~"), m);
    assert.deepEqual(decodeBinary(encodeBinary(m)), m);
  });
  it("RenderUi frames (§3.8, §4.6)", () => {
    const id = "main";
    const tree = "<div>hello</div>";
    const m = { type: "RenderUi", value: { id, tree } } as const;
    const frame = encodeText(m);
    assert.equal(frame, ["aa", id, tree].join("|"));
    assert.equal(frame, "aa|main|<div>hello</div>");
    assert.deepEqual(frame.split("|"), ["aa", id, tree]);
    assert.deepEqual(decodeText(frame), m);
    const small = { type: "RenderUi", value: { id: "main", tree: "<div>" } } as const;
    assert.equal(hex(encodeBinary(small)), "61 61 04 6D 61 69 6E 05 3C 64 69 76 3E");
    assert.deepEqual(decodeBinary(encodeBinary(small)), small);
  });
});

describe("§5 map ordering", () => {
  it("sorts string keys by UTF-8 bytes, not UTF-16 code units", () => {
    const m = new Map([
      ["é", 0],
      ["a", 0],
      ["B", 0],
      ["ab", 0],
    ]);
    assert.equal(
      text((w) => w.map(m, (w, k) => w.str(k), (w, v) => w.u8(v))),
      "4|B|0|a|0|ab|0|é|0",
    );
    // U+FF5E (BMP, above the surrogates) sorts before U+1F389 (astral) in
    // UTF-8, although its UTF-16 unit 0xFF5E is above the surrogate 0xD83C.
    const astral = new Map([
      ["🎉", 1],
      ["～", 2],
      ["\uE000", 3],
      ["\uD7FF", 4],
    ]);
    assert.ok("🎉" < "～", "JavaScript's default order differs");
    const tokens = "4|\uD7FF|4|\uE000|3|～|2|🎉|1";
    assert.equal(text((w) => w.map(astral, (w, k) => w.str(k), (w, v) => w.u8(v))), tokens);
    const back = fromText(tokens, (r) => r.map((r) => r.string(), (r) => r.u8()));
    assert.deepEqual([...back.keys()], ["\uD7FF", "\uE000", "～", "🎉"]);
    const bytes = bin((w) => w.map(astral, (w, k) => w.str(k), (w, v) => w.u8(v)));
    assert.equal(bytes, "04 03 ED 9F BF 04 03 EE 80 80 03 03 EF BD 9E 02 04 F0 9F 8E 89 01");
    // The UTF-16 order is rejected by the decoder.
    assert.equal(
      (() => {
        try {
          fromText("2|🎉|1|～|2", (r) => r.map((r) => r.string(), (r) => r.u8()));
          return "ok";
        } catch (e) {
          return (e as { kind: string }).kind;
        }
      })(),
      "unsorted_map_keys",
    );
  });
  it("sorts integer keys numerically, bigint included", () => {
    const m = new Map([
      [10n, 0],
      [-5n, 0],
      [-9223372036854775808n, 0],
      [9223372036854775807n, 0],
      [0n, 0],
    ]);
    assert.equal(
      text((w) => w.map(m, (w, k) => w.i64(k), (w, v) => w.u8(v))),
      "5|-9223372036854775808|0|-5|0|0|0|10|0|9223372036854775807|0",
    );
    const u = new Map([
      [100, 1],
      [9, 2],
      [4294967295, 3],
    ]);
    assert.equal(text((w) => w.map(u, (w, k) => w.u32(k), (w, v) => w.u8(v))), "3|9|2|100|1|4294967295|3");
    const back = fromText("3|9|2|100|1|4294967295|3", (r) => r.map((r) => r.u32(), (r) => r.u8()));
    assert.deepEqual([...back.keys()], [9, 100, 4294967295]);
  });
});
