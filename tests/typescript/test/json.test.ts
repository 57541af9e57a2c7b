/** The generated toJson/fromJson functions implement SPEC §8's canonical JSON. */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as chat from "../generated/chat.js";
import * as ev from "../generated/everything.js";
import * as ui from "../generated/ui.js";

/** toJson, through JSON text, back with fromJson: the same value. */
function roundTrip<T>(toJson: (v: T) => unknown, fromJson: (j: unknown) => T, v: T): string {
  const text = JSON.stringify(toJson(v));
  assert.deepEqual(fromJson(JSON.parse(text)), v, text);
  return text;
}

const scalars: ev.ScalarsV1 = {
  b: true,
  u_8: 255,
  u_16: 300,
  u_32: 4294967295,
  u_64: 18446744073709551615n,
  i_8: -128,
  i_16: -1,
  i_32: -150,
  i_64: -9223372036854775808n,
  f_32: Math.fround(0.1),
  f_64: -0,
  s: "~a|b\\c\r\n🎉",
  raw: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
};

test("scalars: u64/i64 as decimal strings, -0 as a string, bytes as base64url", () => {
  assert.equal(
    roundTrip(ev.toJsonScalarsV1, ev.fromJsonScalarsV1, scalars),
    '{"b":true,"u_8":255,"u_16":300,"u_32":4294967295,"u_64":"18446744073709551615",' +
      '"i_8":-128,"i_16":-1,"i_32":-150,"i_64":"-9223372036854775808","f_32":0.10000000149011612,' +
      '"f_64":"-0","s":"~a|b\\\\c\\r\\n🎉","raw":"3q2-7w"}',
  );
  for (const [f, json] of [
    [NaN, '"NaN"'],
    [Infinity, '"Infinity"'],
    [-Infinity, '"-Infinity"'],
    [1e21, "1e+21"],
    [5e-324, "5e-324"],
    [0, "0"],
  ] as const) {
    const text = roundTrip(ev.toJsonScalarsV1, ev.fromJsonScalarsV1, { ...scalars, f_64: f });
    assert.ok(text.includes(`"f_64":${json},`), text);
  }
  // f32 input is rounded to f32; overflow is refused.
  const input = JSON.parse(JSON.stringify(ev.toJsonScalarsV1(scalars))) as Record<string, unknown>;
  assert.equal(ev.fromJsonScalarsV1({ ...input, f_32: 0.1 }).f_32, Math.fround(0.1));
  assert.throws(() => ev.fromJsonScalarsV1({ ...input, f_32: 1e39 }), /f32 range at \$\.f_32/);
  assert.equal(ev.fromJsonScalarsV1({ ...input, f_32: "Infinity" }).f_32, Infinity);
});

test("scalars: strict input", () => {
  const good = JSON.parse(JSON.stringify(ev.toJsonScalarsV1(scalars))) as Record<string, unknown>;
  const bad: [string, unknown, RegExp][] = [
    ["u_64", 18446744073709552000, /u64 as a decimal string at \$\.u_64/],
    ["u_64", "18446744073709551616", /u64/],
    ["u_64", "01", /u64/],
    ["u_64", "-1", /u64/],
    ["i_64", "-0", /i64/],
    ["i_64", "+1", /i64/],
    ["i_64", "9223372036854775808", /i64/],
    ["u_8", 256, /u8 \(an integer from 0 to 255\) at \$\.u_8, got 256/],
    ["u_8", 1.5, /u8/],
    ["u_8", "1", /u8/],
    ["i_8", -129, /i8/],
    ["u_32", 4294967296, /u32/],
    ["f_64", "nan", /f64/],
    ["f_64", "1.5", /f64/],
    ["f_64", null, /got null/],
    ["b", 1, /true or false/],
    ["s", 5, /a string/],
    ["raw", "3q2-7w==", /base64url/],
    ["raw", "_x", /base64url/],
    ["raw", "a", /base64url/],
  ];
  for (const [key, value, message] of bad) {
    assert.throws(() => ev.fromJsonScalarsV1({ ...good, [key]: value }), message, `${key}: ${String(value)}`);
  }
  assert.throws(() => ev.fromJsonScalarsV1({ ...good, extra: 1 }), /unknown property "extra" at \$/);
  const { s: _s, ...missing } = good;
  assert.throws(() => ev.fromJsonScalarsV1(missing), /expected a string at \$\.s, got nothing/);
  assert.throws(() => ev.fromJsonScalarsV1([]), /expected an object at \$, got an array/);
  assert.throws(() => ev.fromJsonScalarsV1(null), /expected an object/);
});

const optionals: ev.OptionalsV1 = {
  o_bool: false,
  o_i64: -1n,
  o_f32: NaN,
  o_string: "~",
  o_bytes: new Uint8Array(0),
  o_point: { x: 1, y: -1 },
  o_empty: {},
  o_color: "blue",
  o_list: [],
  list_of_opt: ["a", undefined],
  deep: [undefined, [{ $case: "empty" }, undefined]],
};

test("optionals: absent properties are left out, absent elements are null", () => {
  assert.equal(
    roundTrip(ev.toJsonOptionalsV1, ev.fromJsonOptionalsV1, optionals),
    '{"o_bool":false,"o_i64":"-1","o_f32":"NaN","o_string":"~","o_bytes":"","o_point":{"x":1,"y":-1},' +
      '"o_empty":{},"o_color":"blue","o_list":[],"list_of_opt":["a",null],"deep":[null,[{"empty":{}},null]]}',
  );
  // null is accepted as absent on input.
  const withNulls = { o_u64: null, o_chain: null, list_of_opt: [], deep: [] };
  assert.deepEqual(ev.fromJsonOptionalsV1(withNulls), { list_of_opt: [], deep: [] });
  assert.equal(roundTrip(ev.toJsonOptionalsV1, ev.fromJsonOptionalsV1, { list_of_opt: [], deep: [] }), '{"list_of_opt":[],"deep":[]}');
  assert.deepEqual(
    ev.fromJsonOptionalsV1({ o_chain: { value: 1, next: { value: 2, next: null } }, list_of_opt: [], deep: [] }),
    { o_chain: { value: 1, next: { value: 2 } }, list_of_opt: [], deep: [] },
  );
});

test("unions: one key, the variant's name; enums by name", () => {
  const composites: ev.CompositesV1 = {
    color: "max",
    shape: { $case: "group", shapes: [{ $case: "rect", w: 3, h: 4 }], origin: { x: 1, y: -1 } },
    point: { x: 0, y: 0 },
    empty: {},
    empties: [{}, {}],
    points: [undefined, { x: 5, y: 6 }],
    tree: { label: "root", children: [{ label: "leaf", children: [] }] },
    chain: { value: 1, next: { value: 2 } },
    expr: {
      $case: "add",
      left: { $case: "lit", value: 1n },
      right: { $case: "neg", inner: { $case: "maybe" } },
    },
    awkward: { type: "t", match: 1, camelCase: true, r: 2, w: 3 },
  };
  assert.equal(
    roundTrip(ev.toJsonCompositesV1, ev.fromJsonCompositesV1, composites),
    '{"color":"max","shape":{"group":{"shapes":[{"rect":{"w":3,"h":4}}],"origin":{"x":1,"y":-1}}},' +
      '"point":{"x":0,"y":0},"empty":{},"empties":[{},{}],"points":[null,{"x":5,"y":6}],' +
      '"tree":{"label":"root","children":[{"label":"leaf","children":[]}]},"chain":{"value":1,"next":{"value":2}},' +
      '"expr":{"add":{"left":{"lit":{"value":"1"}},"right":{"neg":{"inner":{"maybe":{}}}}}},' +
      '"awkward":{"type":"t","match":1,"camelCase":true,"r":2,"w":3}}',
  );
  assert.deepEqual(ev.fromJsonShape({ circle: { r: 0.1 } }), { $case: "circle", r: Math.fround(0.1) });
  assert.throws(() => ev.fromJsonShape({ circle: { r: 1 }, rect: { w: 1, h: 1 } }), /one property/);
  assert.throws(() => ev.fromJsonShape({ square: {} }), /expected a Shape variant at \$, got "square"/);
  assert.throws(() => ev.fromJsonShape({ empty: null }), /an object at \$\.empty/);
  assert.throws(() => ev.fromJsonShape({ empty: { x: 1 } }), /unknown property "x" at \$\.empty/);
  assert.throws(() => ev.fromJsonShape({ rect: { w: 1 } }), /u8 .* at \$\.rect\.h, got nothing/);
  assert.throws(() => ev.fromJsonShape({ toString: {} }), /Shape variant/);
  assert.equal(ev.fromJsonColor("blue"), "blue");
  assert.equal(ev.Color.max, 4294967295);
  for (const bad of ["purple", "toString", "constructor", 7, null]) {
    assert.throws(() => ev.fromJsonColor(bad), /a Color name/);
  }
});

test("maps: objects, integer keys in decimal, __proto__ is just a key", () => {
  const collections: ev.CollectionsV1 = {
    list: [1, 300],
    strings: ["x|y", ""],
    nested: [[-1, 1], []],
    blobs: [new Uint8Array([0xfb, 0xff])],
    smap: new Map([
      ["b", 2],
      ["a", 1],
      ["é", 3],
      ["__proto__", 4],
    ]),
    imap: new Map([
      [10, true],
      [-5, false],
    ]),
    umap: new Map([
      [18446744073709551615n, "max"],
      [0n, ""],
    ]),
    bmap: new Map([
      [-128, new Uint8Array([0])],
      [127, new Uint8Array(0)],
    ]),
    points: new Map([["o", { x: 0, y: 0 }]]),
    shapes: new Map<number, ev.Shape>([
      [2, { $case: "circle", r: 1.5 }],
      [1, { $case: "empty" }],
    ]),
    trees: [],
  };
  const text = roundTrip(ev.toJsonCollectionsV1, ev.fromJsonCollectionsV1, collections);
  assert.deepEqual(JSON.parse(text), {
    list: [1, 300],
    strings: ["x|y", ""],
    nested: [[-1, 1], []],
    blobs: ["-_8"],
    smap: JSON.parse('{"__proto__":4,"a":1,"b":2,"é":3}'),
    imap: { "-5": false, "10": true },
    umap: { "0": "", "18446744073709551615": "max" },
    bmap: { "-128": "AA", "127": "" },
    points: { o: { x: 0, y: 0 } },
    shapes: { "1": { empty: {} }, "2": { circle: { r: 1.5 } } },
    trees: [],
  });
  // String keys in SPEC §5 order (UTF-8 bytes).
  assert.ok(text.includes('"smap":{"__proto__":4,"a":1,"b":2,"é":3}'), text);
  const good = JSON.parse(text) as Record<string, unknown>;
  for (const imap of [{ "01": true }, { "-0": true }, { "2147483648": true }, { x: true }, { "1.0": true }]) {
    assert.throws(() => ev.fromJsonCollectionsV1({ ...good, imap }), /i32 key/, JSON.stringify(imap));
  }
  assert.throws(() => ev.fromJsonCollectionsV1({ ...good, umap: { "-1": "" } }), /u64/);
  assert.throws(() => ev.fromJsonCollectionsV1({ ...good, smap: { a: 256 } }), /at \$\.smap\["a"\]/);
  assert.throws(() => ev.fromJsonCollectionsV1({ ...good, list: {} }), /an array at \$\.list/);
  assert.throws(() => ev.fromJsonCollectionsV1({ ...good, nested: [[1], [1000]] }), /at \$\.nested\[1\]\[0\]/);
});

test("messages: values-file lines", () => {
  const m: ui.ServerMessage = {
    message: "RenderUi",
    version: 2,
    value: { id: "main", tree: new Uint8Array([1]), attrs: new Map([["k", "v"]]) },
  };
  const text = roundTrip(ui.toJsonServerMessage, ui.fromJsonServerMessage, m);
  assert.equal(text, '{"message":"RenderUi","version":2,"value":{"id":"main","tree":"AQ","attrs":{"k":"v"}}}');
  // version defaults to 1.
  assert.deepEqual(ui.fromJsonServerMessage({ message: "ShowLoading", value: {} }), {
    message: "ShowLoading",
    version: 1,
    value: {},
  });
  assert.deepEqual(ui.fromJsonServerMessage({ message: "ShowLoading", version: null, value: { until_ms: "5" } }), {
    message: "ShowLoading",
    version: 1,
    value: { until_ms: 5n },
  });
  assert.throws(() => ui.fromJsonServerMessage({ message: "RenderUi", version: 3, value: {} }), /server message/);
  assert.throws(() => ui.fromJsonServerMessage({ message: "RenderUi", version: "2", value: {} }), /server message/);
  assert.throws(() => ui.fromJsonServerMessage({ message: "Click", value: {} }), /server message of package `ui`/);
  assert.throws(() => ui.fromJsonServerMessage({ message: "ShowLoading", value: {}, header: "ad" }), /unknown property "header"/);
  assert.throws(() => ui.fromJsonServerMessage({ message: "ShowLoading", value: { until_ms: 5 } }), /at \$\.value\.until_ms/);
  const chatLine = { message: "Say", version: 1, value: { room: "r", body: { sticker: { id: 7, at: { x: 0.5, y: "-0" } } } } };
  assert.deepEqual(chat.toJsonClientMessage(chat.fromJsonClientMessage(chatLine)), chatLine);
});
