/**
 * The generated TypeScript produces exactly the Rust golden frames
 * (tests/tests/codec/snapshots/codec__golden__*.snap), in both encodings, and decodes
 * them back to the same values.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import * as article from "../generated/article.js";
import * as chat from "../generated/chat.js";
import * as ev from "../generated/everything.js";
import * as ui from "../generated/ui.js";
import { hex, unhex } from "./helpers.js";

interface Codec<M> {
  encodeText(m: M): string;
  encodeBinary(m: M): Uint8Array;
  decodeText(frame: string): M;
  decodeBinary(frame: Uint8Array): M;
}

const codecs = {
  articleServer: {
    encodeText: article.encodeServerMessageText,
    encodeBinary: article.encodeServerMessageBinary,
    decodeText: (f) => article.decodeServerMessageText(f),
    decodeBinary: (f) => article.decodeServerMessageBinary(f),
  } satisfies Codec<article.ServerMessage>,
  uiServer: {
    encodeText: ui.encodeServerMessageText,
    encodeBinary: ui.encodeServerMessageBinary,
    decodeText: (f) => ui.decodeServerMessageText(f),
    decodeBinary: (f) => ui.decodeServerMessageBinary(f),
  } satisfies Codec<ui.ServerMessage>,
  uiClient: {
    encodeText: ui.encodeClientMessageText,
    encodeBinary: ui.encodeClientMessageBinary,
    decodeText: (f) => ui.decodeClientMessageText(f),
    decodeBinary: (f) => ui.decodeClientMessageBinary(f),
  } satisfies Codec<ui.ClientMessage>,
  chatServer: {
    encodeText: chat.encodeServerMessageText,
    encodeBinary: chat.encodeServerMessageBinary,
    decodeText: (f) => chat.decodeServerMessageText(f),
    decodeBinary: (f) => chat.decodeServerMessageBinary(f),
  } satisfies Codec<chat.ServerMessage>,
  chatClient: {
    encodeText: chat.encodeClientMessageText,
    encodeBinary: chat.encodeClientMessageBinary,
    decodeText: (f) => chat.decodeClientMessageText(f),
    decodeBinary: (f) => chat.decodeClientMessageBinary(f),
  } satisfies Codec<chat.ClientMessage>,
  evServer: {
    encodeText: ev.encodeServerMessageText,
    encodeBinary: ev.encodeServerMessageBinary,
    decodeText: (f) => ev.decodeServerMessageText(f),
    decodeBinary: (f) => ev.decodeServerMessageBinary(f),
  } satisfies Codec<ev.ServerMessage>,
  evClient: {
    encodeText: ev.encodeClientMessageText,
    encodeBinary: ev.encodeClientMessageBinary,
    decodeText: (f) => ev.decodeClientMessageText(f),
    decodeBinary: (f) => ev.decodeClientMessageBinary(f),
  } satisfies Codec<ev.ClientMessage>,
};

/** Encodes `m` both ways, compares with Rust's frames, decodes both back to `m`. */
function golden<M>(codec: Codec<M>, m: M, text: string, binary: string): void {
  assert.equal(codec.encodeText(m), text);
  assert.equal(hex(codec.encodeBinary(m)), binary);
  assert.deepEqual(codec.decodeText(text), m);
  assert.deepEqual(codec.decodeBinary(unhex(binary)), m);
}

test("article: the article's messages are its join('|'), and Rust's frames", () => {
  const id = "main";
  const tree = "<div>hello</div>";
  const render: article.ServerMessage = {
    message: "RenderUi",
    version: 1,
    value: { component_id: id, tree },
  };
  assert.equal(article.encodeServerMessageText(render), ["aa", id, tree].join("|"));
  assert.equal(article.RENDER_UI_V1, "aa");
  assert.equal(article.RENDER_UI_V2, "ad");
  const c = codecs.articleServer;
  golden(c, render, "aa|main|<div>hello</div>", "61 61 04 6D 61 69 6E 10 3C 64 69 76 3E 68 65 6C 6C 6F 3C 2F 64 69 76 3E");
  golden(
    c,
    { message: "UpdateUi", version: 1, value: { component_id: id, patch: "<b>" } },
    "ab|main|<b>",
    "61 62 04 6D 61 69 6E 03 3C 62 3E",
  );
  golden(c, { message: "ShowLoading", version: 1, value: { component_id: id } }, "ac|main", "61 63 04 6D 61 69 6E");
  const render2: article.ServerMessage = {
    message: "RenderUi",
    version: 2,
    value: { component_id: id, tree, theme: "dark" },
  };
  golden(
    c,
    render2,
    "ad|main|<div>hello</div>|dark",
    "61 64 04 6D 61 69 6E 10 3C 64 69 76 3E 68 65 6C 6C 6F 3C 2F 64 69 76 3E 04 64 61 72 6B",
  );
  // A client that splits on "|" reads it back (SPEC §3.8).
  assert.deepEqual(article.encodeServerMessageText(render2).split("|"), ["ad", id, tree, "dark"]);
});

test("article: SPEC §4.6's binary RenderUi", () => {
  const m: article.ServerMessage = {
    message: "RenderUi",
    version: 1,
    value: { component_id: "main", tree: "<div>" },
  };
  assert.equal(hex(article.encodeServerMessageBinary(m)), "61 61 04 6D 61 69 6E 05 3C 64 69 76 3E");
});

test("ui: Rust's frames", () => {
  const s = codecs.uiServer;
  golden(
    s,
    { message: "RenderUi", version: 1, value: { id: "main", tree: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) } },
    "aa|main|3q2-7w",
    "61 61 04 6D 61 69 6E 04 DE AD BE EF",
  );
  golden(
    s,
    {
      message: "RenderUi",
      version: 2,
      value: {
        id: "a|b",
        tree: new Uint8Array(0),
        theme: "",
        attrs: new Map([
          ["class", "~x"],
          ["z", "1"],
        ]),
      },
    },
    "ac|a\\pb|||2|class|\\~x|z|1",
    "61 63 03 61 7C 62 00 01 00 02 05 63 6C 61 73 73 02 7E 78 01 7A 01 31",
  );
  golden(
    s,
    { message: "UpdateUi", version: 1, value: { id: "main", patch: new Uint8Array([0xff]) } },
    "ab|main|_w",
    "61 62 04 6D 61 69 6E 01 FF",
  );
  golden(s, { message: "ShowLoading", version: 1, value: {} }, "ad|~", "61 64 00");
  golden(
    s,
    { message: "ShowLoading", version: 1, value: { until_ms: 18446744073709551615n } },
    "ad|18446744073709551615",
    "61 64 01 FF FF FF FF FF FF FF FF FF 01",
  );
  golden(
    s,
    {
      message: "Chat",
      version: 1,
      value: {
        text: "hi 🎉\nbye",
        level: "warn",
        shapes: [
          { $case: "circle", center: { x: 1.5, y: -0 }, radius: Math.fround(0.1) },
          { $case: "polygon", points: [{ x: 0, y: 1e21 }] },
          { $case: "empty" },
        ],
        reply_to: -150n,
      },
    },
    "af|hi 🎉\\nbye|5|3|0|1.5|-0|0.10000000149011612|1|1|0|1e+21|2|-150",
    "61 66 0B 68 69 20 F0 9F 8E 89 0A 62 79 65 05 03 00 00 00 00 00 00 00 F8 3F 00 00 00 00 00 00 00 80 CD CC CC 3D 01 01 00 00 00 00 00 00 00 00 50 EF E2 D6 E4 1A 4B 44 02 01 AB 02",
  );
  const c = codecs.uiClient;
  golden(
    c,
    { message: "Click", version: 1, value: { target: "ok", at: { x: 3, y: 4 }, buttons: [1, 2] } },
    "ae|ok|3|4|2|1|2",
    "61 65 02 6F 6B 00 00 00 00 00 00 08 40 00 00 00 00 00 00 10 40 02 01 02",
  );
  golden(
    c,
    { message: "Chat", version: 1, value: { text: "", level: "info", shapes: [] } },
    "af||0|0|~",
    "61 66 00 00 00 00",
  );
  assert.equal(ui.Level.warn, 5);
});

test("chat: Rust's frames, with types imported from geometry", () => {
  const author: chat.Author = { name: "ada", presence: "away" };
  const s = codecs.chatServer;
  golden(
    s,
    {
      message: "Post",
      version: 1,
      value: { room: "general", author, body: { $case: "text", content: "hello" }, sent_ms: 1700000000000n },
    },
    "aa|general|ada|~|10|0|hello|1700000000000",
    "61 61 07 67 65 6E 65 72 61 6C 03 61 64 61 00 0A 00 05 68 65 6C 6C 6F 80 D0 95 FF BC 31",
  );
  golden(
    s,
    {
      message: "Post",
      version: 2,
      value: {
        room: "general",
        author: { ...author, avatar: new Uint8Array([1, 2, 3]) },
        body: { $case: "sticker", id: 7, at: { x: 0.5, y: 2 } },
        sent_ms: 1n,
        reply_to: 0n,
      },
    },
    "ab|general|ada|AQID|10|1|7|0.5|2|1|0",
    "61 62 07 67 65 6E 65 72 61 6C 03 61 64 61 01 03 01 02 03 0A 01 07 00 00 00 00 00 00 E0 3F 00 00 00 00 00 00 00 40 01 01 00",
  );
  golden(
    s,
    { message: "History", version: 1, value: { room: "r", ids: [[1n, 2n], []] } },
    "ad|r|~|2|2|1|2|0",
    "61 64 01 72 00 02 02 01 02 00",
  );
  const c = codecs.chatClient;
  golden(c, { message: "Say", version: 1, value: { room: "r", body: { $case: "deleted" } } }, "s1|r|2", "73 31 01 72 02");
  golden(
    c,
    {
      message: "Resize",
      version: 1,
      value: {
        area: { origin: { x: -1, y: 1 }, size: { width: 640, height: 480 } },
        scale: new Map([
          ["x", 2],
          ["y", Infinity],
        ]),
      },
    },
    "ac|-1|1|640|480|2|x|2|y|Infinity",
    "61 63 00 00 00 00 00 00 F0 BF 00 00 00 00 00 00 F0 3F 80 05 E0 03 02 01 78 00 00 00 40 01 79 00 00 80 7F",
  );
});

test("everything: Rust's frames for every type shape", () => {
  const s = codecs.evServer;
  golden(
    s,
    {
      message: "Scalars",
      version: 1,
      value: {
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
      },
    },
    "aa|1|255|300|4294967295|18446744073709551615|-128|-1|-150|-9223372036854775808|0.10000000149011612|-0|\\~a\\pb\\\\c\\r\\n🎉|3q2-7w",
    "61 61 01 FF AC 02 FF FF FF FF 0F FF FF FF FF FF FF FF FF FF 01 80 01 AB 02 FF FF FF FF FF FF FF FF FF 01 CD CC CC 3D 00 00 00 00 00 00 00 80 0C 7E 61 7C 62 5C 63 0D 0A F0 9F 8E 89 04 DE AD BE EF",
  );
  golden(s, { message: "Nothing", version: 1, value: {} }, "ae", "61 65");
  golden(
    s,
    {
      message: "Composites",
      version: 1,
      value: {
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
      },
    },
    "ad|4294967295|3|1|2|3|4|+|1|-1|0|0|2|2|~|+|5|6|root|1|leaf|0|1|+|2|~|2|0|1|1|3|~|t|1|1|2|3",
    "61 64 FF FF FF FF 0F 03 01 02 03 04 01 02 01 00 00 02 02 00 01 0A 0C 04 72 6F 6F 74 01 04 6C 65 61 66 00 01 01 02 00 02 00 02 01 03 00 01 74 01 01 02 03",
  );
  golden(
    s,
    {
      message: "Optionals",
      version: 1,
      value: {
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
      },
    },
    "ac|0|~|-1|NaN|~|\\~||+|1|-1|+|7|~|0|~|2|a|~|2|~|2|0|~|~",
    "61 63 01 00 00 01 01 01 00 00 C0 7F 00 01 01 7E 01 00 01 02 01 01 01 07 00 01 00 00 02 01 01 61 00 02 00 01 02 01 00 00 00",
  );
  const c = codecs.evClient;
  golden(
    c,
    {
      message: "Collections",
      version: 1,
      value: {
        list: [1, 300],
        strings: ["x|y", ""],
        nested: [[-1, 1], []],
        blobs: [new Uint8Array([0xfb, 0xff])],
        smap: new Map([
          ["a", 1],
          ["b", 2],
          ["é", 3],
        ]),
        imap: new Map([
          [-5, false],
          [10, true],
        ]),
        umap: new Map([
          [0n, ""],
          [18446744073709551615n, "max"],
        ]),
        bmap: new Map([
          [-128, new Uint8Array([0])],
          [127, new Uint8Array(0)],
        ]),
        points: new Map([["o", { x: 0, y: 0 }]]),
        shapes: new Map<number, ev.Shape>([
          [1, { $case: "empty" }],
          [2, { $case: "circle", r: 1.5 }],
        ]),
        trees: [],
      },
    },
    "ab|2|1|300|2|x\\py||2|2|-1|1|0|1|-_8|3|a|1|b|2|é|3|2|-5|0|10|1|2|0||18446744073709551615|max|2|-128|AA|127||1|o|0|0|2|1|0|2|1|1.5|0",
    "61 62 02 01 AC 02 02 03 78 7C 79 00 02 02 FF 01 00 01 02 FB FF 03 01 61 01 01 62 02 02 C3 A9 03 02 09 00 14 01 02 00 00 FF FF FF FF FF FF FF FF FF 01 03 6D 61 78 02 80 01 00 7F 00 01 01 6F 00 00 02 01 00 02 01 00 00 C0 3F 00",
  );
  golden(
    c,
    { message: "CursorMove", version: 1, value: { user: 42, x: 100.5, y: 200.25, buttons: 1 } },
    "af|42|100.5|200.25|1",
    "61 66 2A 00 00 C9 42 00 40 48 43 01",
  );
});

test("header tables and fingerprints", () => {
  assert.deepEqual(
    ui.HEADERS.map((h) => `${h.header} ${h.message} v${h.version} ${h.direction}`),
    [
      "aa RenderUi v1 server",
      "ab UpdateUi v1 server",
      "ac RenderUi v2 server",
      "ad ShowLoading v1 server",
      "ae Click v1 client",
      "af Chat v1 both",
    ],
  );
  assert.equal(ui.RENDER_UI_V2, "ac");
  assert.equal(ui.PROTOCOL_FINGERPRINT.length, 16);
  assert.notEqual(ui.PROTOCOL_FINGERPRINT, article.PROTOCOL_FINGERPRINT);
  assert.equal(chat.SAY_V1, "s1");
});
