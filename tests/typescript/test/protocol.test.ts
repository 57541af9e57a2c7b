/**
 * The generated protocol API: narrowing, strict decoding with the runtime's
 * error kinds and positions, limits, encode-side checks.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { DecodeError, EncodeError, makeLimits } from "tagwire";
import * as article from "../generated/article.js";
import * as chat from "../generated/chat.js";
import * as ev from "../generated/everything.js";
import * as geometry from "../generated/geometry.js";
import * as ui from "../generated/ui.js";

/** What a frontend does with a server frame: a switch that narrows. */
function describe(m: ui.ServerMessage): string {
  switch (m.message) {
    case "RenderUi":
      // m.value is RenderUiV1 | RenderUiV2 here; the version narrows further.
      if (m.version === 2) return `render ${m.value.id} theme=${m.value.theme ?? "default"} attrs=${m.value.attrs.size}`;
      return `render ${m.value.id} (v1)`;
    case "UpdateUi":
      return `patch ${m.value.id} with ${m.value.patch.length} bytes`;
    case "ShowLoading":
      return m.value.until_ms === undefined ? "loading" : `loading until ${m.value.until_ms}`;
    case "Chat":
      return `chat ${m.value.level}: ${m.value.shapes.map((s) => s.$case).join(",")}`;
  }
}

function decodeError(f: () => unknown): DecodeError {
  try {
    f();
  } catch (e) {
    if (e instanceof DecodeError) return e;
    throw e;
  }
  assert.fail("expected a DecodeError");
}

test("a ServerMessage narrows in a switch", () => {
  assert.equal(describe(ui.decodeServerMessageText("ac|x||~|0")), "render x theme=default attrs=0");
  assert.equal(describe(ui.decodeServerMessageText("ac|x||~|1|a|b")), "render x theme=default attrs=1");
  assert.equal(describe(ui.decodeServerMessageText("ac|x||dark|0")), "render x theme=dark attrs=0");
  assert.equal(describe(ui.decodeServerMessageText("aa|x|")), "render x (v1)");
  assert.equal(describe(ui.decodeServerMessageText("ab|x|AQI")), "patch x with 2 bytes");
  assert.equal(describe(ui.decodeServerMessageText("ad|7")), "loading until 7");
  assert.equal(describe(ui.decodeServerMessageText("af|hi|6|2|2|1|0|~")), "chat error: empty,polygon");
  // A union narrows on $case the same way.
  const shape: ev.Shape = { $case: "rect", w: 1, h: 2 };
  if (shape.$case === "rect") assert.equal(shape.w + shape.h, 3);
});

test("every message of every schema round-trips in both encodings", () => {
  const server: ev.ServerMessage[] = [
    {
      message: "Scalars",
      version: 1,
      value: {
        b: false,
        u_8: 0,
        u_16: 65535,
        u_32: 0,
        u_64: 0n,
        i_8: 127,
        i_16: -32768,
        i_32: -2147483648,
        i_64: 9223372036854775807n,
        f_32: -Infinity,
        f_64: 5e-324,
        s: "",
        raw: new Uint8Array(300).fill(7),
      },
    },
    { message: "Optionals", version: 1, value: { list_of_opt: [], deep: [[]] } },
    {
      message: "Optionals",
      version: 1,
      value: {
        o_u64: 1n,
        o_f64: -0,
        o_shape: { $case: "group", shapes: [], origin: { x: 0, y: 0 } },
        o_map: new Map([["", -1]]),
        o_chain: { value: 0, next: { value: 1, next: { value: 2 } } },
        list_of_opt: [undefined, "", "~"],
        deep: [[undefined]],
      },
    },
  ];
  for (const m of server) {
    assert.deepEqual(ev.decodeServerMessageText(ev.encodeServerMessageText(m)), m);
    assert.deepEqual(ev.decodeServerMessageBinary(ev.encodeServerMessageBinary(m)), m);
  }
  const both: ev.ClientMessage = { message: "Optionals", version: 1, value: { o_string: "", list_of_opt: [], deep: [] } };
  assert.equal(ev.encodeClientMessageText(both), ev.encodeServerMessageText(both));
  assert.deepEqual(ev.decodeClientMessageBinary(ev.encodeClientMessageBinary(both)), both);
  const history: chat.ClientMessage = { message: "History", version: 1, value: { room: "", before_ms: 3n, ids: [] } };
  assert.deepEqual(chat.decodeClientMessageText(chat.encodeClientMessageText(history)), history);
  // Binary frames are fresh arrays, though the writer is shared.
  const a = ev.encodeServerMessageBinary(server[0]!);
  const copy = a.slice();
  ev.encodeServerMessageBinary(server[1]!);
  assert.deepEqual(a, copy);
});

test("bad frames: the runtime's error kinds and positions", () => {
  let e = decodeError(() => ui.decodeServerMessageText("ae|ok|3|4|2|1|2")); // Click is a client message
  assert.equal(e.kind, "unknown_header");
  e = decodeError(() => ui.decodeServerMessageText("_a"));
  assert.equal(e.kind, "unknown_header");
  e = decodeError(() => article.decodeServerMessageText("aa|main"));
  assert.equal(e.message, "truncated at token 2 (byte 7)");
  e = decodeError(() => article.decodeServerMessageText("ac|main|x"));
  assert.equal(e.message, "trailing data at token 2 (byte 8)");
  e = decodeError(() => article.decodeServerMessageBinary(new Uint8Array([0x61, 0x63, 4, 0x6d])));
  assert.equal(e.message, "truncated at byte 2");
  e = decodeError(() => ev.decodeServerMessageText("ad|3|0|0|0|0|0|0|0|0|~|0|0|~|0|0|0|0|0|0|0|0|0|0|~|~|0|1|1|2|3"));
  assert.equal(e.kind, "unknown_enum_value");
  assert.equal(e.value, 3);
  assert.deepEqual(e.position, { token: 1, byte: 3 });
  e = decodeError(() => chat.decodeClientMessageText("s1|r|3"));
  assert.equal(e.message, "unknown variant 3 at token 2 (byte 5)");
  e = decodeError(() => ev.decodeClientMessageText("ab|0|0|0|0|2|b|1|a|2|0|0|0|0|0|0"));
  assert.equal(e.kind, "unsorted_map_keys");
  // A package without client messages rejects every frame, after the usual checks.
  e = decodeError(() => article.decodeClientMessageText("aa|main|x"));
  assert.equal(e.kind, "unknown_header");
  e = decodeError(() => article.decodeClientMessageBinary(new Uint8Array([0x61])));
  assert.equal(e.kind, "truncated");
  e = decodeError(() => geometry.decodeServerMessageText("aa"));
  assert.equal(e.kind, "unknown_header");
  assert.equal(geometry.HEADERS.length, 0);
});

test("depth: every struct, list, optional and union level counts", () => {
  // A chain of n links: n optionals and n structs deep.
  const chain = (n: number): ev.Chain => (n === 1 ? { value: 0 } : { value: 0, next: chain(n - 1) });
  const frame = (n: number): ev.ServerMessage => ({
    message: "Optionals",
    version: 1,
    value: { o_chain: chain(n), list_of_opt: [], deep: [] },
  });
  // o_chain: optional (level 1), struct (2); link k is at level 2k and its
  // `next` at 2k + 1, absent or not: 31 links reach 63, 32 links reach 65.
  const ok = ev.encodeServerMessageText(frame(31));
  assert.deepEqual(ev.decodeServerMessageText(ok), frame(31));
  const deep = ev.encodeServerMessageText(frame(32));
  const e = decodeError(() => ev.decodeServerMessageText(deep));
  assert.equal(e.kind, "too_deep");
  // At the absent `next` of the last link: its `~` ends the frame.
  assert.ok(deep.endsWith("|0|~"));
  assert.equal(e.message, `too deep at token ${deep.split("|").length - 1} (byte ${deep.length - 1})`);
  const binary = ev.encodeServerMessageBinary(frame(32));
  assert.equal(decodeError(() => ev.decodeServerMessageBinary(binary)).kind, "too_deep");
  assert.deepEqual(ev.decodeServerMessageBinary(binary, makeLimits({ maxDepth: 65 })), frame(32));
  assert.equal(decodeError(() => ev.decodeServerMessageText(ok, makeLimits({ maxFrameBytes: 10 }))).kind, "frame_too_large");
  // As Rust's hostile tests: a present optional struct is two levels.
  const flat = makeLimits({ maxDepth: 1 });
  const point: ev.ServerMessage = { message: "Optionals", version: 1, value: { o_point: { x: 1, y: 2 }, list_of_opt: [], deep: [] } };
  assert.equal(decodeError(() => ev.decodeServerMessageText(ev.encodeServerMessageText(point), flat)).kind, "too_deep");
  assert.equal(decodeError(() => ev.decodeServerMessageBinary(ev.encodeServerMessageBinary(point), flat)).kind, "too_deep");
  assert.deepEqual(ev.decodeServerMessageText(ev.encodeServerMessageText(point), makeLimits({ maxDepth: 2 })), point);
  // 100,000 levels of Expr.neg stop at the limit, not at the call stack's.
  const neg = "ad|1|0|0|0|0|0|root|0|1|~" + "|1".repeat(100_000);
  assert.equal(decodeError(() => ev.decodeServerMessageText(neg)).kind, "too_deep");
});

test("values outside their types are EncodeErrors, not bad frames", () => {
  const click = (buttons: number[]): ui.ClientMessage => ({
    message: "Click",
    version: 1,
    value: { target: "x", at: { x: 0, y: 0 }, buttons },
  });
  assert.throws(() => ui.encodeClientMessageText(click([256])), EncodeError);
  assert.throws(() => ui.encodeClientMessageBinary(click([1.5])), EncodeError);
  const say = (room: string): chat.ClientMessage => ({ message: "Say", version: 1, value: { room, body: { $case: "deleted" } } });
  assert.throws(() => chat.encodeClientMessageText(say("\ud800")), EncodeError);
  assert.throws(() => chat.encodeClientMessageBinary(say("a\udc00")), EncodeError);
  const bogus = JSON.parse('{"message":"Say","version":1,"value":{"room":"r","body":{"$case":"wave"}}}') as chat.ClientMessage;
  assert.throws(() => chat.encodeClientMessageText(bogus), /not a Body/);
  const level = JSON.parse('{"message":"Chat","version":1,"value":{"text":"","level":"loud","shapes":[]}}') as ui.ClientMessage;
  assert.throws(() => ui.encodeClientMessageBinary(level), EncodeError);
  const version = JSON.parse('{"message":"Click","version":2,"value":{}}') as ui.ClientMessage;
  assert.throws(() => ui.encodeClientMessageText(version), /not a ClientMessage of package `ui`/);
  assert.equal(ui.headerOfClientMessage(click([])), "ae");
});
