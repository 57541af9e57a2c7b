// Presence (SPEC §9.8): the frames `_k` `_l` `_m` `_n` byte for byte as the
// spec's vectors, and the client's side under node:test's mock timers with
// the hand-driven WebSocket: the per-room map and its events, the floor a
// snapshot sets, the member bound, the map kept across reconnects, and
// `setPresence` coalesced to one `_k` per room per interval.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  BinaryReader,
  BinaryWriter,
  DEFAULT_LIMITS,
  DecodeError,
  TextReader,
  TextWriter,
  decodeControlBinary,
  decodeControlText,
  encodeControlBinary,
  encodeControlText,
  encodePresenceEventBinary,
  encodePresenceEventText,
  encodePresenceMemberBinary,
  encodePresenceMemberText,
  encodePresenceSetBinary,
  encodePresenceSetText,
  encodeRoomBinary,
  encodeRoomText,
  splitPresenceEventBinary,
  splitPresenceEventText,
  splitPresenceMemberBinary,
  splitPresenceMemberText,
  splitPresenceSetBinary,
  splitPresenceSetText,
  splitRoomText,
  type Client,
  type ClientOptions,
  type Control,
  type Limits,
  type Package,
  type PresenceChange,
  type PresenceKind,
  type PresenceStateOf,
  type Reader,
  type RoomPosition,
  type UndecodableFrame,
} from "tagwire";
import { FINGERPRINT, FakeWebSocket, connectFakeWith, settle, welcome } from "./fakes.js";
import { hex, unhex } from "./helpers.js";

// ---- the frames (SPEC §9.8's table: room lobby, 300/8 and 300/9, member ann, state `aa|hi|~`)

const STATE_TEXT = "aa|hi|~";
const STATE_BINARY = "61 61 02 68 69 00";
const at = (seq: number, epoch = 300n): RoomPosition => ({ epoch, seq: BigInt(seq) });

describe("presence frames (SPEC §9.8)", () => {
  it("presence set `_k` is the spec's vector in both encodings and splits back", () => {
    assert.equal(encodePresenceSetText("lobby", STATE_TEXT), "_k|lobby|aa|hi|~");
    assert.equal(hex(encodePresenceSetBinary("lobby", unhex(STATE_BINARY))), "5F 6B 05 6C 6F 62 62 79 61 61 02 68 69 00");
    assert.deepEqual(splitPresenceSetText("_k|lobby|aa|hi|~"), { room: "lobby", state: STATE_TEXT });
    const b = splitPresenceSetBinary(unhex("5F 6B 05 6C 6F 62 62 79 61 61 02 68 69 00"));
    assert.deepEqual({ ...b, state: hex(b.state) }, { room: "lobby", state: STATE_BINARY });
  });

  it("join, update and leave events `_l` inside `_h` are the spec's vectors", () => {
    const join = encodeRoomText({ room: "lobby", position: at(8) }, encodePresenceEventText("join", "ann", STATE_TEXT));
    assert.equal(join, "_h|lobby|300|8|_l|join|ann|aa|hi|~");
    const joinBinary = encodeRoomBinary({ room: "lobby", position: at(8) }, encodePresenceEventBinary("join", "ann", unhex(STATE_BINARY)));
    assert.equal(hex(joinBinary), "5F 68 05 6C 6F 62 62 79 AC 02 08 5F 6C 04 6A 6F 69 6E 03 61 6E 6E 61 61 02 68 69 00");
    assert.equal(encodePresenceEventText("update", "ann", STATE_TEXT), "_l|update|ann|aa|hi|~");
    assert.equal(hex(encodePresenceEventBinary("update", "ann", unhex(STATE_BINARY))), "5F 6C 06 75 70 64 61 74 65 03 61 6E 6E 61 61 02 68 69 00");
    const leave = encodeRoomText({ room: "lobby", position: at(9) }, encodePresenceEventText("leave", "ann"));
    assert.equal(leave, "_h|lobby|300|9|_l|leave|ann");
    const leaveBinary = encodeRoomBinary({ room: "lobby", position: at(9) }, encodePresenceEventBinary("leave", "ann"));
    assert.equal(hex(leaveBinary), "5F 68 05 6C 6F 62 62 79 AC 02 09 5F 6C 05 6C 65 61 76 65 03 61 6E 6E");
    // A leave carries no state even when given one.
    assert.equal(encodePresenceEventText("leave", "ann", STATE_TEXT), "_l|leave|ann");

    assert.deepEqual(splitPresenceEventText(splitRoomText(join).inner), { kind: "join", member: "ann", state: STATE_TEXT });
    assert.deepEqual(splitPresenceEventText("_l|leave|ann"), { kind: "leave", member: "ann", state: undefined });
    const u = splitPresenceEventBinary(unhex("5F 6C 06 75 70 64 61 74 65 03 61 6E 6E 61 61 02 68 69 00"));
    assert.deepEqual({ ...u, state: u.state && hex(u.state) }, { kind: "update", member: "ann", state: STATE_BINARY });
    assert.deepEqual(splitPresenceEventBinary(unhex("5F 6C 05 6C 65 61 76 65 03 61 6E 6E")), { kind: "leave", member: "ann", state: undefined });
  });

  it("snapshot `_m` is a control message, its members `_n` split like `_k`", () => {
    const snapshot: Control = { type: "presenceSnapshot", value: { room: "lobby", position: at(9), count: 2 } };
    assert.equal(encodeControlText(snapshot), "_m|lobby|300|9|2");
    assert.equal(hex(encodeControlBinary(snapshot)), "5F 6D 05 6C 6F 62 62 79 AC 02 09 02");
    assert.deepEqual(decodeControlText("_m|lobby|300|9|2"), snapshot);
    assert.deepEqual(decodeControlBinary(unhex("5F 6D 05 6C 6F 62 62 79 AC 02 09 02")), snapshot);
    assert.equal(encodePresenceMemberText("lobby", "ann", STATE_TEXT), "_n|lobby|ann|aa|hi|~");
    assert.equal(hex(encodePresenceMemberBinary("lobby", "ann", unhex(STATE_BINARY))), "5F 6E 05 6C 6F 62 62 79 03 61 6E 6E 61 61 02 68 69 00");
    assert.deepEqual(splitPresenceMemberText("_n|lobby|ann|aa|hi|~"), { room: "lobby", member: "ann", state: STATE_TEXT });
    const n = splitPresenceMemberBinary(unhex("5F 6E 05 6C 6F 62 62 79 03 61 6E 6E 61 61 02 68 69 00"));
    assert.deepEqual({ ...n, state: hex(n.state) }, { room: "lobby", member: "ann", state: STATE_BINARY });
  });

  it("bad frames are errors that say what and where", () => {
    const failure = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        if (e instanceof DecodeError) return `${e.kind} ${JSON.stringify(e.position)}`;
        throw e;
      }
      return "no error";
    };
    // An unknown kind is skipped by the receiver (SPEC §9.8), as the Rust runtime does.
    assert.equal(failure(() => splitPresenceEventText("_l|wave|ann|aa")), `unknown_enum_value {"token":1,"byte":3}`);
    assert.equal(failure(() => splitPresenceEventBinary(unhex("5F 6C 04 77 61 76 65 03 61 6E 6E"))), `unknown_enum_value {"byte":2}`);
    assert.equal(failure(() => splitPresenceEventText("_l|leave|ann|aa|hi")), `trailing_data {"token":3,"byte":13}`);
    assert.equal(failure(() => splitPresenceEventText("_l|join")), `truncated {"token":2,"byte":7}`);
    assert.equal(failure(() => splitPresenceMemberText("_k|lobby|ann|aa")), `unknown_header {"token":0,"byte":0}`);
    assert.equal(failure(() => splitPresenceSetText("_n|lobby|aa")), `unknown_header {"token":0,"byte":0}`);
    assert.equal(failure(() => decodeControlText("_m|lobby|300|9|-1")), `out_of_range {"token":4,"byte":15}`);
    assert.equal(failure(() => decodeControlText("_m|lobby|300|9")), `truncated {"token":4,"byte":14}`);
    // A room name with `|` is escaped; the state frame never is.
    assert.equal(encodePresenceSetText("a|b", "aa|x"), "_k|a\\pb|aa|x");
    assert.deepEqual(splitPresenceSetText("_k|a\\pb|aa|x"), { room: "a|b", state: "aa|x" });
  });
});

// ---- the client

/** A package with a plain server message `aa|text` and a presence state `ax|name|x`, which both sides send. */
type Msg = { m: "note"; text: string } | { m: "spot"; name: string; x: number };
type Spot = Extract<Msg, { m: "spot" }>;

function writeMsg<W extends TextWriter | BinaryWriter>(w: W, m: Msg): W {
  if (m.m === "note") w.str(m.text);
  else {
    w.str(m.name);
    w.u16(m.x);
  }
  return w;
}

function readMsg(r: Reader): Msg {
  let m: Msg;
  if (r.header === "aa") m = { m: "note", text: r.string() };
  else if (r.header === "ax") m = { m: "spot", name: r.string(), x: r.u16() };
  else throw r.unknownHeader();
  r.finish();
  return m;
}

const headerOf = (m: Msg): string => (m.m === "note" ? "ab" : "ax");

const SpotPackage: Package<Msg, Msg, Spot> = {
  name: "test",
  fingerprint: FINGERPRINT,
  headers: ["aa", "ab", "ax"],
  presence: ["ax"],
  isPresence: (m): m is Spot => m.m === "spot",
  encodeClientText: (m) => writeMsg(new TextWriter(headerOf(m)), m).finish(),
  encodeClientBinary: (m) => writeMsg(new BinaryWriter(headerOf(m)), m).finish(),
  decodeServerText: (frame, limits: Limits = DEFAULT_LIMITS) => readMsg(new TextReader(frame, limits)),
  decodeServerBinary: (frame, limits: Limits = DEFAULT_LIMITS) => readMsg(new BinaryReader(frame, limits)),
};

// The generated `PresenceState` comes back out of a package's type.
const typed: PresenceStateOf<typeof SpotPackage> = { m: "spot", name: "ann", x: 1 };
void typed;

const spot = (name: string, x: number): Spot => ({ m: "spot", name, x });
const spotText = (s: Spot): string => writeMsg(new TextWriter("ax"), s).finish();
const spotBinary = (s: Spot): Uint8Array => writeMsg(new BinaryWriter("ax"), s).finish();
const EPOCH = 1_700_000_000_000_000n;
const pos = (seq: number, epoch = EPOCH): RoomPosition => ({ epoch, seq: BigInt(seq) });

const event = (room: string, position: RoomPosition, kind: PresenceKind, member: string, state?: Spot): string =>
  encodeRoomText({ room, position }, encodePresenceEventText(kind, member, state && spotText(state)));
const snapshot = (room: string, position: RoomPosition, members: [string, Spot][]): string[] => [
  encodeControlText({ type: "presenceSnapshot", value: { room, position, count: members.length } }),
  ...members.map(([member, s]) => encodePresenceMemberText(room, member, spotText(s))),
];
const note = (room: string, position: RoomPosition, text: string): string =>
  encodeRoomText({ room, position }, writeMsg(new TextWriter("aa"), { m: "note", text }).finish());

interface Harness {
  client: Client<Msg, Msg, Spot>;
  changes: PresenceChange<Spot>[];
  notes: string[];
  undecodable: UndecodableFrame[];
}

async function start(t: TestContext, options: ClientOptions = {}): Promise<Harness> {
  const client = connectFakeWith(t, SpotPackage, options);
  const changes: PresenceChange<Spot>[] = [];
  const notes: string[] = [];
  const undecodable: UndecodableFrame[] = [];
  client.on("presence", (c) => changes.push(structuredCloneChange(c)));
  client.on("message", (m) => {
    if (m.m === "note") notes.push(m.text);
  });
  client.on("undecodable", (u) => undecodable.push(u));
  await settle();
  return { client, changes, notes, undecodable };
}

/** A snapshot event's map is the live one: keep what it held then. */
function structuredCloneChange(c: PresenceChange<Spot>): PresenceChange<Spot> {
  return c.kind === "snapshot" ? { ...c, members: new Map(c.members) } : c;
}

function accept(): FakeWebSocket {
  const ws = FakeWebSocket.last();
  ws.accept();
  ws.receive(welcome());
  return ws;
}

const members = (client: Client<Msg, Msg, Spot>, room: string): [string, number][] =>
  [...client.presence(room)].map(([member, s]) => [member, s.x]);

describe("client: presence maps (SPEC §9.8)", { timeout: 20_000 }, () => {
  it("a snapshot replaces the room's map, then events join, update and leave members", async (t) => {
    const h = await start(t);
    const ws = accept();
    assert.equal(h.client.presence("lobby").size, 0);
    for (const f of snapshot("lobby", pos(4), [["ann", spot("Ann", 1)], ["bob", spot("Bob", 2)]])) ws.receive(f);
    assert.deepEqual(members(h.client, "lobby"), [["ann", 1], ["bob", 2]]);
    const view = h.client.presence("lobby");
    ws.receive(event("lobby", pos(5), "join", "cat", spot("Cat", 3)));
    ws.receive(event("lobby", pos(6), "update", "ann", spot("Ann", 10)));
    ws.receive(event("lobby", pos(7), "leave", "bob"));
    ws.receive(note("lobby", pos(8), "hi"));
    assert.deepEqual(members(h.client, "lobby"), [["ann", 10], ["cat", 3]]);
    assert.equal(view, h.client.presence("lobby"), "the view is live: the same map throughout");
    assert.deepEqual(h.changes, [
      { kind: "snapshot", room: "lobby", members: new Map([["ann", spot("Ann", 1)], ["bob", spot("Bob", 2)]]) },
      { kind: "join", room: "lobby", member: "cat", state: spot("Cat", 3) },
      { kind: "update", room: "lobby", member: "ann", state: spot("Ann", 10), previous: spot("Ann", 1) },
      { kind: "leave", room: "lobby", member: "bob", previous: spot("Bob", 2) },
    ]);
    // Presence events are not messages; the room's messages still are.
    assert.deepEqual(h.notes, ["hi"]);
    assert.equal(h.client.presence("elsewhere").size, 0);
  });

  it("events at or before the snapshot's position are already in it (the floor); later ones apply", async (t) => {
    const h = await start(t);
    const ws = accept();
    // The room's stream delivers an older event after the snapshot (it was in flight).
    for (const f of snapshot("lobby", pos(10), [["ann", spot("Ann", 5)]])) ws.receive(f);
    ws.receive(event("lobby", pos(9), "leave", "ann"));
    ws.receive(event("lobby", pos(10), "update", "ann", spot("Ann", 0)));
    assert.deepEqual(members(h.client, "lobby"), [["ann", 5]]);
    ws.receive(event("lobby", pos(11), "update", "ann", spot("Ann", 6)));
    assert.deepEqual(members(h.client, "lobby"), [["ann", 6]]);
    // Another epoch (the room started over) is past any floor of the old one.
    ws.receive(event("lobby", pos(1, EPOCH + 1n), "join", "bob", spot("Bob", 1)));
    assert.deepEqual(members(h.client, "lobby"), [["ann", 6], ["bob", 1]]);
  });

  it("a snapshot does not move the room's resume position; the map survives a reconnect and the replay keeps it in step", async (t) => {
    const h = await start(t);
    let ws = accept();
    ws.receive(note("lobby", pos(3), "one"));
    for (const f of snapshot("lobby", pos(7), [["ann", spot("Ann", 1)]])) ws.receive(f);
    ws.drop("reset");
    t.mock.timers.tick(500);
    ws = accept();
    // The resume names the last `_h`, not the snapshot.
    assert.deepEqual(ws.sentText.slice(0, 2), [`_c|test|${FINGERPRINT}|aaabax`, `_i|lobby|${EPOCH}|3`]);
    assert.deepEqual(members(h.client, "lobby"), [["ann", 1]], "kept while disconnected");
    // The replay from 3 on: the join at 5 is under the floor (already in the snapshot); the leave at 8 is not.
    ws.receive(event("lobby", pos(5), "join", "ann", spot("Ann", 1)));
    ws.receive(event("lobby", pos(8), "leave", "ann"));
    assert.deepEqual(members(h.client, "lobby"), []);
    assert.deepEqual(
      h.changes.map((c) => c.kind),
      ["snapshot", "leave"],
    );
    // A fresh snapshot (after a gap) replaces whatever the map held.
    for (const f of snapshot("lobby", pos(20), [["cat", spot("Cat", 2)], ["dan", spot("Dan", 3)]])) ws.receive(f);
    assert.deepEqual(members(h.client, "lobby"), [["cat", 2], ["dan", 3]]);
  });

  it("a snapshot cut short by another frame, or by the connection ending, changes nothing", async (t) => {
    const h = await start(t);
    let ws = accept();
    for (const f of snapshot("lobby", pos(4), [["ann", spot("Ann", 1)]])) ws.receive(f);
    const [head, first] = snapshot("lobby", pos(6), [["bob", spot("Bob", 2)], ["cat", spot("Cat", 3)]]);
    ws.receive(head!);
    ws.receive(first!);
    ws.receive(note("lobby", pos(5), "between"));
    assert.deepEqual(members(h.client, "lobby"), [["ann", 1]]);
    ws.receive(head!);
    ws.receive(first!);
    ws.drop("reset");
    t.mock.timers.tick(500);
    ws = accept();
    // A member frame with no snapshot before it is ignored.
    ws.receive(encodePresenceMemberText("lobby", "cat", spotText(spot("Cat", 3))));
    assert.deepEqual(members(h.client, "lobby"), [["ann", 1]]);
    assert.deepEqual(
      h.changes.map((c) => c.kind),
      ["snapshot"],
    );
    assert.deepEqual(h.notes, ["between"]);
    // An empty snapshot empties the room.
    ws.receive(encodeControlText({ type: "presenceSnapshot", value: { room: "lobby", position: pos(9), count: 0 } }));
    assert.deepEqual(members(h.client, "lobby"), []);
  });

  it("a room keeps at most maxPresenceMembers members; states that do not decode or are not presence are skipped", async (t) => {
    const h = await start(t, { maxPresenceMembers: 2 });
    const ws = accept();
    for (const f of snapshot("lobby", pos(1), [["a", spot("A", 1)], ["b", spot("B", 2)], ["c", spot("C", 3)]])) ws.receive(f);
    assert.deepEqual(members(h.client, "lobby"), [["a", 1], ["b", 2]]);
    ws.receive(event("lobby", pos(2), "join", "d", spot("D", 4)));
    assert.deepEqual(members(h.client, "lobby"), [["a", 1], ["b", 2]]);
    ws.receive(event("lobby", pos(3), "leave", "a"));
    ws.receive(event("lobby", pos(4), "update", "d", spot("D", 5)));
    assert.deepEqual(members(h.client, "lobby"), [["b", 2], ["d", 5]]);
    assert.deepEqual(
      h.changes.slice(1).map((c) => c.kind),
      ["leave", "join"],
    );
    // A note is not a presence state; a state that does not decode is undecodable; an unknown kind too.
    ws.receive(encodeRoomText({ room: "lobby", position: pos(5) }, `_l|update|b|${writeMsg(new TextWriter("aa"), { m: "note", text: "x" }).finish()}`));
    ws.receive(encodeRoomText({ room: "lobby", position: pos(6) }, "_l|update|b|ax|B|70000"));
    ws.receive(encodeRoomText({ room: "lobby", position: pos(7) }, "_l|wave|b"));
    assert.deepEqual(members(h.client, "lobby"), [["b", 2], ["d", 5]]);
    assert.deepEqual(
      h.undecodable.map((u) => [u.header, u.kind]),
      [
        ["ax", "out_of_range"],
        ["_l", "unknown_enum_value"],
      ],
    );
    // Binary frames work the same way.
    ws.receive(encodeRoomBinary({ room: "lobby", position: pos(8) }, encodePresenceEventBinary("update", "b", spotBinary(spot("B", 9)))));
    assert.deepEqual(members(h.client, "lobby"), [["b", 9], ["d", 5]]);
  });

  it("forgetRoom drops the room's presence with its position", async (t) => {
    const h = await start(t);
    const ws = accept();
    for (const f of snapshot("lobby", pos(1), [["a", spot("A", 1)]])) ws.receive(f);
    h.client.forgetRoom("lobby");
    assert.equal(h.client.presence("lobby").size, 0);
    ws.receive(event("lobby", pos(2), "join", "b", spot("B", 2)));
    assert.deepEqual(members(h.client, "lobby"), [["b", 2]], "a later event starts a new map");
  });
});

describe("client: setPresence (SPEC §9.8)", { timeout: 20_000 }, () => {
  const sets = (ws: FakeWebSocket): string[] => ws.sentText.filter((f) => f.startsWith("_k|"));

  it("sends at once, then at most one `_k` per room per interval, the latest state winning", async (t) => {
    const h = await start(t);
    const ws = accept();
    h.client.setPresence("lobby", spot("Ann", 1));
    assert.deepEqual(sets(ws), ["_k|lobby|ax|Ann|1"]);
    h.client.setPresence("lobby", spot("Ann", 2));
    h.client.setPresence("lobby", spot("Ann", 3));
    // Another room has its own interval.
    h.client.setPresence("hall", spot("Ann", 7));
    assert.deepEqual(sets(ws), ["_k|lobby|ax|Ann|1", "_k|hall|ax|Ann|7"]);
    t.mock.timers.tick(49);
    assert.equal(sets(ws).length, 2);
    t.mock.timers.tick(1);
    assert.deepEqual(sets(ws).slice(2), ["_k|lobby|ax|Ann|3"]);
    // Nothing new: the interval ends quietly, and the next state goes at once.
    t.mock.timers.tick(50);
    assert.equal(sets(ws).length, 3);
    t.mock.timers.tick(50);
    h.client.setPresence("lobby", spot("Ann", 4));
    assert.deepEqual(sets(ws).slice(3), ["_k|lobby|ax|Ann|4"]);
    // 100 sets in one interval: one frame.
    for (let x = 10; x < 110; x++) h.client.setPresence("lobby", spot("Ann", x));
    t.mock.timers.tick(50);
    assert.deepEqual(sets(ws).slice(4), ["_k|lobby|ax|Ann|109"]);
  });

  it("while disconnected the latest state waits, and is sent after the hello and resumes; binary connections send binary", async (t) => {
    const h = await start(t, { encoding: "binary", presenceIntervalMs: 100 });
    h.client.setPresence("lobby", spot("Ann", 1));
    h.client.setPresence("lobby", spot("Ann", 2));
    let ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(welcome());
    assert.deepEqual(ws.sentText, ["bin:_c", "bin:_k"]);
    const k = splitPresenceSetBinary(ws.sent[1] as Uint8Array);
    assert.equal(k.room, "lobby");
    assert.deepEqual(SpotPackage.decodeServerBinary(k.state), spot("Ann", 2));
    ws.receive(encodeRoomBinary({ room: "lobby", position: pos(4) }, encodePresenceEventBinary("join", "me", spotBinary(spot("Ann", 2)))));
    // After a reconnect the room hears the latest state again, after the hello and the resume.
    ws.drop("reset");
    h.client.setPresence("lobby", spot("Ann", 3));
    t.mock.timers.tick(500);
    ws = accept();
    assert.deepEqual(ws.sentText, ["bin:_c", "bin:_i", "bin:_k"]);
    assert.deepEqual(SpotPackage.decodeServerBinary(splitPresenceSetBinary(ws.sent[2] as Uint8Array).state), spot("Ann", 3));
  });

  it("throws for values outside their types and after close; forgetRoom stops what waits", async (t) => {
    const h = await start(t);
    const ws = accept();
    assert.throws(() => h.client.setPresence("lobby", spot("Ann", 70_000)), { name: "EncodeError" });
    assert.deepEqual(sets(ws), []);
    h.client.setPresence("lobby", spot("Ann", 1));
    h.client.setPresence("lobby", spot("Ann", 2));
    h.client.forgetRoom("lobby");
    t.mock.timers.tick(100);
    assert.deepEqual(sets(ws), ["_k|lobby|ax|Ann|1"]);
    h.client.close();
    assert.throws(() => h.client.setPresence("lobby", spot("Ann", 3)), { name: "SendError" });
  });
});
