// Rooms across server nodes (SPEC §9.7) from the client's side, under
// node:test's mock timers with the hand-driven WebSocket and the fake SSE
// server: room messages (`_h`) delivered with their room and position,
// duplicates dropped, one resume (`_i`) per room right after every hello,
// gap (`_j`) events, and plain messages unaffected.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  encodeRoomBinary,
  encodeRoomText,
  type Client,
  type ClientOptions,
  type GapNotice,
  type RoomDelivery,
  type RoomPosition,
  type UndecodableFrame,
} from "tagwire";
import {
  FakeSse,
  FakeWebSocket,
  HELLO_TEXT,
  TestPackage,
  accept,
  clientNote,
  connectFake,
  ctl,
  ctlBinary,
  note,
  noteBinary,
  settle,
  welcome,
  type Note,
} from "./fakes.js";

/** A Redis-sized epoch (µs), beyond 2^32 so a number-typed slip would show. */
const EPOCH = 1_700_000_000_000_000n;
const at = (seq: number, epoch = EPOCH): RoomPosition => ({ epoch, seq: BigInt(seq) });

/** `_h` text frame of the server note `text` in `room` at `position`. */
const roomNote = (room: string, position: RoomPosition, text: string): string => encodeRoomText({ room, position }, note(text));
const roomNoteBinary = (room: string, position: RoomPosition, text: string): Uint8Array =>
  encodeRoomBinary({ room, position }, noteBinary(text));
const resume = (room: string, position: RoomPosition): string => ctl({ type: "resume", value: { room, position } });
const gap = (g: GapNotice): string => ctl({ type: "gap", value: g });

interface Harness {
  client: Client<Note, Note>;
  /** From a one-argument listener, as every page written before rooms has. */
  texts: string[];
  /** From a two-argument listener: the text and its room delivery. */
  deliveries: [string, RoomDelivery | undefined][];
  gaps: GapNotice[];
}

async function start(t: TestContext, options: ClientOptions = {}): Promise<Harness> {
  const client = connectFake(t, options);
  const texts: string[] = [];
  const deliveries: [string, RoomDelivery | undefined][] = [];
  const gaps: GapNotice[] = [];
  client.on("message", (m) => texts.push(m.text));
  client.on("message", (m, room) => deliveries.push([m.text, room]));
  client.on("gap", (g) => gaps.push(g));
  await settle();
  return { client, texts, deliveries, gaps };
}

/** The server drops the connection (1006); the client's next attempt opens after its backoff. */
function reconnect(t: TestContext, ws: FakeWebSocket): FakeWebSocket {
  const before = FakeWebSocket.instances.length;
  ws.drop("reset");
  t.mock.timers.tick(500);
  assert.equal(FakeWebSocket.instances.length, before + 1, "a new attempt after the backoff");
  return accept();
}

describe("client: room messages (SPEC §9.7)", { timeout: 20_000 }, () => {
  it("a room message is the usual message event, with its room and position as the listener's second argument", async (t) => {
    const h = await start(t);
    const ws = accept();
    ws.receive(roomNote("lobby", at(1), "one"));
    ws.receive(note("to this connection alone"));
    ws.receive(roomNote("a|b", at(7), "odd room"));
    assert.deepEqual(h.texts, ["one", "to this connection alone", "odd room"]);
    assert.deepEqual(h.deliveries, [
      ["one", { room: "lobby", position: at(1) }],
      ["to this connection alone", undefined],
      ["odd room", { room: "a|b", position: at(7) }],
    ]);
    // messages() yields room messages as any other.
    const iterator = h.client.messages();
    ws.receive(roomNote("lobby", at(2), "two"));
    assert.deepEqual(await iterator.next(), { value: { text: "two" }, done: false });
    assert.deepEqual(ws.sent, [HELLO_TEXT]);
  });

  it("binary: the envelope and its inner frame are binary; a text envelope on the same connection is read too", async (t) => {
    const h = await start(t, { encoding: "binary" });
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(roomNoteBinary("lobby", at(1), "bytes"));
    ws.receive(roomNote("lobby", at(2), "text"));
    ws.receive(noteBinary("plain"));
    assert.deepEqual(h.deliveries, [
      ["bytes", { room: "lobby", position: at(1) }],
      ["text", { room: "lobby", position: at(2) }],
      ["plain", undefined],
    ]);
  });

  it("drops duplicates: the same epoch at or below the last seq; a later seq or another epoch is delivered", async (t) => {
    const h = await start(t);
    const ws = accept();
    ws.receive(roomNote("lobby", at(5), "5"));
    ws.receive(roomNote("lobby", at(5), "5 again"));
    ws.receive(roomNote("lobby", at(3), "3, older"));
    ws.receive(roomNote("other", at(3), "other room, 3"));
    ws.receive(roomNote("lobby", at(6), "6"));
    // A new epoch starts over at 1 (the server sends a reset gap first; the client does not rely on it).
    ws.receive(roomNote("lobby", at(1, EPOCH + 1n), "new epoch 1"));
    ws.receive(roomNote("lobby", at(1, EPOCH + 1n), "new epoch 1 again"));
    ws.receive(note("plain messages are never dropped"));
    ws.receive(note("plain messages are never dropped"));
    assert.deepEqual(h.texts, [
      "5",
      "other room, 3",
      "6",
      "new epoch 1",
      "plain messages are never dropped",
      "plain messages are never dropped",
    ]);
  });

  it("the same room message replayed after a reconnect is delivered once", async (t) => {
    const h = await start(t);
    const ws = accept();
    ws.receive(roomNote("lobby", at(1), "1"));
    ws.receive(roomNote("lobby", at(2), "2"));
    const next = reconnect(t, ws);
    assert.deepEqual(next.sent, [HELLO_TEXT, resume("lobby", at(2))]);
    // A server whose replay overlaps (history after an older position): 2 is not shown twice.
    next.receive(roomNote("lobby", at(2), "2"));
    next.receive(roomNote("lobby", at(3), "3"));
    assert.deepEqual(h.texts, ["1", "2", "3"]);
  });
});

describe("client: resume after a reconnect (SPEC §9.7)", { timeout: 20_000 }, () => {
  it("the first connection sends no resume; every reconnect sends one per room right after the hello, before queued messages", async (t) => {
    const h = await start(t);
    h.client.send({ text: "queued before the first connection" });
    const ws = accept();
    assert.deepEqual(ws.sent, [HELLO_TEXT, clientNote("queued before the first connection")]);
    ws.receive(roomNote("lobby", at(4), "lobby 4"));
    ws.receive(roomNote("kitchen", at(9), "kitchen 9"));
    ws.receive(roomNote("lobby", at(5), "lobby 5"));
    ws.drop("reset");
    h.client.send({ text: "queued while away" });
    t.mock.timers.tick(500);
    const second = accept();
    // Rooms in the order they were last heard from.
    assert.deepEqual(second.sent, [HELLO_TEXT, resume("kitchen", at(9)), resume("lobby", at(5)), clientNote("queued while away")]);
    second.receive(roomNote("kitchen", at(10), "kitchen 10"));
    // And again on the next one, with what this connection delivered.
    const third = reconnect(t, second);
    assert.deepEqual(third.sent, [HELLO_TEXT, resume("lobby", at(5)), resume("kitchen", at(10))]);
  });

  it("a page that rejoins its rooms when it sees open sends the join after the hello, the resumes and the queue", async (t) => {
    const h = await start(t);
    h.client.on("status", (s) => {
      if (s.state === "open") h.client.send({ text: "join lobby" });
    });
    const ws = accept();
    assert.deepEqual(ws.sent, [HELLO_TEXT, clientNote("join lobby")]);
    ws.receive(roomNote("lobby", at(2), "2"));
    ws.drop("reset");
    h.client.send({ text: "queued while away" });
    t.mock.timers.tick(500);
    const next = accept();
    assert.deepEqual(next.sent, [HELLO_TEXT, resume("lobby", at(2)), clientNote("queued while away"), clientNote("join lobby")]);
  });

  it("binary connections send binary resumes", async (t) => {
    await start(t, { encoding: "binary" });
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(roomNoteBinary("lobby", at(300), "x"));
    ws.drop("reset");
    t.mock.timers.tick(500);
    const next = FakeWebSocket.last();
    next.accept();
    assert.deepEqual(
      next.sent.map((f) => Buffer.from(f as Uint8Array).toString("hex")),
      [
        Buffer.from(ctlBinary({ type: "hello", value: { package: "test", fingerprint: TestPackage.fingerprint, headers: "aaab" } })).toString("hex"),
        Buffer.from(ctlBinary({ type: "resume", value: { room: "lobby", position: at(300) } })).toString("hex"),
      ],
    );
  });

  it("remembers at most maxRooms rooms, forgetting the one least recently heard from; forgetRoom drops one", async (t) => {
    const h = await start(t, { maxRooms: 3 });
    const ws = accept();
    for (const [i, room] of ["a", "b", "c"].entries()) ws.receive(roomNote(room, at(i + 1), room));
    ws.receive(roomNote("a", at(10), "a again")); // a is now the most recent: b is the quietest
    ws.receive(roomNote("d", at(1), "d"));
    const next = reconnect(t, ws);
    assert.deepEqual(next.sent, [HELLO_TEXT, resume("c", at(3)), resume("a", at(10)), resume("d", at(1))]);
    h.client.forgetRoom("a");
    h.client.forgetRoom("never seen");
    const third = reconnect(t, next);
    assert.deepEqual(third.sent, [HELLO_TEXT, resume("c", at(3)), resume("d", at(1))]);
    // A forgotten room's messages are delivered as new.
    third.receive(roomNote("a", at(10), "a, forgotten"));
    assert.deepEqual(h.texts.at(-1), "a, forgotten");
  });

  it("maxRooms 0 remembers no room (nothing resumed, nothing dropped); a maxRooms that is not a finite number is the default 64", async (t) => {
    const none = await start(t, { maxRooms: 0 });
    let ws = accept();
    ws.receive(roomNote("lobby", at(1), "1"));
    ws.receive(roomNote("lobby", at(1), "1 again: no position kept to compare with"));
    assert.equal(none.texts.length, 2);
    assert.deepEqual(reconnect(t, ws).sent, [HELLO_TEXT]);
    none.client.close();
    t.mock.timers.reset();
    await start(t, { maxRooms: Number.NaN });
    ws = accept();
    for (let i = 0; i < 70; i++) ws.receive(roomNote(`room ${i}`, at(1), "x"));
    const sent = reconnect(t, ws).sent;
    assert.equal(sent.length, 1 + 64);
    assert.deepEqual(sent[1], resume("room 6", at(1)));
  });

  it("over SSE: the resumes go in the hello's POST, after it and before the queue", async (t) => {
    const sse = new FakeSse();
    const client = connectFake(t, { fetch: sse.fetch, transport: "sse" });
    const deliveries: [string, RoomDelivery | undefined][] = [];
    client.on("message", (m, room) => deliveries.push([m.text, room]));
    await settle();
    sse.session();
    sse.frame(welcome());
    sse.frame(roomNote("lobby", at(1), "one"));
    sse.frame(roomNote("lobby", at(1), "one, again"));
    sse.frame(roomNote("kitchen", at(2), "two"));
    sse.frame(note("plain"));
    await settle();
    assert.deepEqual(deliveries, [
      ["one", { room: "lobby", position: at(1) }],
      ["two", { room: "kitchen", position: at(2) }],
      ["plain", undefined],
    ]);
    sse.end(); // dropped without a close event
    await settle();
    client.send({ text: "queued" });
    t.mock.timers.tick(500);
    await settle();
    assert.equal(sse.gets.length, 2);
    sse.session("fedcba9876543210fedcba9876543210");
    await settle();
    assert.deepEqual(sse.posts.at(-1), {
      url: "http://test/sse/fedcba9876543210fedcba9876543210",
      body: [HELLO_TEXT, resume("lobby", at(1)), resume("kitchen", at(2)), clientNote("queued")].join("\n"),
    });
  });
});

describe("client: gaps (SPEC §9.7)", { timeout: 20_000 }, () => {
  it("a gap is a typed gap event; its position becomes the room's, so older messages are dropped and the next resume starts there", async (t) => {
    const h = await start(t);
    const ws = accept();
    ws.receive(roomNote("lobby", at(3), "3"));
    const next = reconnect(t, ws);
    assert.deepEqual(next.sent, [HELLO_TEXT, resume("lobby", at(3))]);
    // The window no longer reaches back to 3: trimmed, the room is at 1,200.
    next.receive(gap({ room: "lobby", kind: "trimmed", position: at(1_200) }));
    assert.deepEqual(h.gaps, [{ room: "lobby", kind: "trimmed", position: at(1_200) }]);
    next.receive(roomNote("lobby", at(1_200), "at the gap: already covered by the refetch"));
    next.receive(roomNote("lobby", at(1_201), "1201"));
    assert.deepEqual(h.texts, ["3", "1201"]);
    // The room started over (another epoch): reset, and the new epoch's messages arrive from 1.
    next.receive(gap({ room: "lobby", kind: "reset", position: at(0, EPOCH + 1n) }));
    next.receive(roomNote("lobby", at(1, EPOCH + 1n), "new epoch 1"));
    assert.deepEqual(h.gaps.at(-1), { room: "lobby", kind: "reset", position: at(0, EPOCH + 1n) });
    assert.deepEqual(h.texts, ["3", "1201", "new epoch 1"]);
    const third = reconnect(t, next);
    assert.deepEqual(third.sent, [HELLO_TEXT, resume("lobby", at(1, EPOCH + 1n))]);
  });

  it("a gap in binary, and for a room never heard from, is remembered too", async (t) => {
    const h = await start(t, { encoding: "binary" });
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(ctlBinary({ type: "gap", value: { room: "new", kind: "reset", position: at(8) } }));
    assert.deepEqual(h.gaps, [{ room: "new", kind: "reset", position: at(8) }]);
    ws.drop("reset");
    t.mock.timers.tick(500);
    const next = FakeWebSocket.last();
    next.accept();
    assert.equal(next.sent.length, 2);
    assert.equal(
      Buffer.from(next.sent[1] as Uint8Array).toString("hex"),
      Buffer.from(ctlBinary({ type: "resume", value: { room: "new", position: at(8) } })).toString("hex"),
    );
  });
});

describe("client: bad room frames", { timeout: 20_000 }, () => {
  it("an inner frame that does not decode is an undecodable event naming its header and room; its position still counts", async (t) => {
    const h = await start(t);
    const warn = t.mock.method(console, "warn", () => {});
    const undecodable: UndecodableFrame[] = [];
    h.client.on("undecodable", (f) => undecodable.push(f));
    const ws = accept();
    ws.receive(encodeRoomText({ room: "lobby", position: at(1) }, "ac|newer"));
    ws.receive(encodeRoomText({ room: "lobby", position: at(2) }, "aa|1|2"));
    ws.receive("_h|lobby|x|3|aa|hi");
    ws.receive(roomNote("lobby", at(3), "3"));
    assert.deepEqual(
      undecodable.map((u) => [u.header, u.kind, u.message.split(":")[0]]),
      [
        ["ac", "unknown_header", "header `ac` is not a message this client was generated with (package test, fingerprint 00112233445566aa)"],
        ["aa", "trailing_data", 'a `aa` frame (a message of room "lobby") does not decode'],
        ["_h", "invalid_token", "a `_h` control frame does not decode"],
      ],
    );
    assert.equal(warn.mock.callCount(), 3);
    assert.deepEqual(h.texts, ["3"]);
    assert.equal(ws.closedWith, undefined);
    const next = reconnect(t, ws);
    assert.deepEqual(next.sent, [HELLO_TEXT, resume("lobby", at(3))]);
  });
});
