// The client's `debug` option: every frame in and out, decoded and named,
// with a generated-shaped package (messages tagged `{ message, version,
// value }`) over the hand-driven WebSocket under mock timers.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  BinaryReader,
  BinaryWriter,
  DEFAULT_LIMITS,
  TextReader,
  TextWriter,
  connect,
  encodeRoomBinary,
  encodeRoomText,
  type ClientOptions,
  type DebugFrame,
  type Limits,
  type Package,
  type Reader,
  type Writer,
} from "tagwire";
import { FakeWebSocket, settle, welcome } from "./fakes.js";

/** Server → client `Note` v1 (`aa`); client → server `Shout` v2 (`ab`), as generated code tags them. */
type ServerMessage = { message: "Note"; version: 1; value: { text: string } };
type ClientMessage = { message: "Shout"; version: 2; value: { text: string } };

function read(r: Reader): ServerMessage {
  if (r.header !== "aa") throw r.unknownHeader();
  const text = r.string();
  r.finish();
  return { message: "Note", version: 1, value: { text } };
}

function write<W extends Writer & { finish(): T }, T>(w: W, text: string): T {
  w.str(text);
  return w.finish();
}

const Generated: Package<ServerMessage, ClientMessage> = {
  name: "debugged",
  fingerprint: "0123456789abcdef",
  headers: ["aa", "ab"],
  encodeClientText: (m) => write(new TextWriter("ab"), m.value.text),
  encodeClientBinary: (m) => write(new BinaryWriter("ab"), m.value.text),
  decodeServerText: (frame, limits: Limits = DEFAULT_LIMITS) => read(new TextReader(frame, limits)),
  decodeServerBinary: (frame, limits: Limits = DEFAULT_LIMITS) => read(new BinaryReader(frame, limits)),
};

const shout = (text: string): ClientMessage => ({ message: "Shout", version: 2, value: { text } });
const HELLO = { package: "debugged", fingerprint: "0123456789abcdef", headers: "aaab" };
const WELCOME = { package: "test", fingerprint: "0123456789abcdef", pingIntervalMs: 30_000 };

async function start(t: TestContext, options: ClientOptions = {}): Promise<DebugFrame[]> {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_000_000 });
  FakeWebSocket.instances = [];
  const frames: DebugFrame[] = [];
  const client = connect("ws://test/ws", Generated, {
    WebSocket: FakeWebSocket,
    transport: "websocket",
    debug: (f) => frames.push(f),
    ...options,
  });
  t.after(() => client.close());
  client.send(shout("queued"));
  await settle();
  const ws = FakeWebSocket.last();
  ws.accept();
  client.send(shout("live"));
  return frames;
}

const control = (direction: "in" | "out", header: string, name: string, value?: unknown): DebugFrame => ({
  direction,
  header,
  name,
  version: 0,
  value,
  control: true,
});

describe("client: the debug option", { timeout: 20_000 }, () => {
  it("sees every frame in and out, in order, by name; room messages with their room and position", async (t) => {
    const frames = await start(t);
    const ws = FakeWebSocket.last();
    ws.receive(welcome(Generated.fingerprint));
    ws.receive("_a");
    ws.receive(write(new TextWriter("aa"), "hi"));
    const position = { epoch: 7n, seq: 3n };
    ws.receive(encodeRoomText({ room: "lobby", position }, write(new TextWriter("aa"), "to all")));
    ws.receive("zz|does not decode");
    assert.deepEqual(frames, [
      control("out", "_c", "hello", HELLO),
      { direction: "out", header: "ab", name: "Shout", version: 2, value: { text: "queued" }, control: false },
      { direction: "out", header: "ab", name: "Shout", version: 2, value: { text: "live" }, control: false },
      control("in", "_d", "welcome", WELCOME),
      control("in", "_a", "ping"),
      control("out", "_b", "pong"),
      { direction: "in", header: "aa", name: "Note", version: 1, value: { text: "hi" }, control: false },
      {
        direction: "in",
        header: "aa",
        name: "Note",
        version: 1,
        value: { text: "to all" },
        control: false,
        room: { room: "lobby", position },
      },
    ]);
  });

  it("binary frames are shown the same way", async (t) => {
    const frames = await start(t, { encoding: "binary" });
    const ws = FakeWebSocket.last();
    const position = { epoch: 1n, seq: 1n };
    ws.receive(encodeRoomBinary({ room: "r", position }, write(new BinaryWriter("aa"), "bin")));
    assert.deepEqual(
      frames.map((f) => [f.direction, f.header, f.name, f.value, f.room?.room]),
      [
        ["out", "_c", "hello", HELLO, undefined],
        ["out", "ab", "Shout", { text: "queued" }, undefined],
        ["out", "ab", "Shout", { text: "live" }, undefined],
        ["in", "aa", "Note", { text: "bin" }, "r"],
      ],
    );
  });

  it("a debug callback that throws is reported and the connection goes on", async (t) => {
    const thrown: unknown[] = [];
    const g = globalThis as { reportError?: (e: unknown) => void };
    g.reportError = (e) => void thrown.push(e);
    t.after(() => delete g.reportError);
    const messages: string[] = [];
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1_700_000_000_000 });
    FakeWebSocket.instances = [];
    const client = connect("ws://test/ws", Generated, {
      WebSocket: FakeWebSocket,
      transport: "websocket",
      debug: () => {
        throw new Error("debug bug");
      },
    });
    t.after(() => client.close());
    client.on("message", (m) => messages.push(m.value.text));
    await settle();
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive("_a");
    ws.receive(write(new TextWriter("aa"), "still delivered"));
    assert.deepEqual(messages, ["still delivered"]);
    assert.deepEqual(ws.sentText.slice(1), ["_b"]);
    assert.ok(thrown.length >= 3 && thrown.every((e) => /debug bug/.test(String(e))));
  });
});
