// The client's state machine under node:test's mock timers (setTimeout and
// Date), with a WebSocket the test drives by hand: the behaviour of the Rust
// client (docs/RUNTIME.md "Client", tests/tests/client/paused.rs).
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  SendError,
  connect,
  type Client,
  type ClientOptions,
  type OutdatedNotice,
  type Status,
  type UndecodableFrame,
} from "tagwire";
import {
  FakeSse,
  FakeWebSocket,
  HELLO_TEXT,
  PING,
  PONG,
  T0,
  TOP,
  TestPackage,
  accept,
  clientNote,
  connectFake,
  ctl,
  ctlBinary,
  drain,
  installPage,
  note,
  noteBinary,
  settle,
  welcome,
  type Note,
} from "./fakes.js";

interface Harness {
  client: Client<Note, Note>;
  statuses: Status[];
  messages: Note[];
  /** The last status. */
  last(): Status;
  /** The reconnecting statuses' delays, in order. */
  delays(): number[];
}

async function start(t: TestContext, options: ClientOptions = {}): Promise<Harness> {
  const client = connectFake(t, options);
  const statuses: Status[] = [];
  const messages: Note[] = [];
  client.on("status", (s) => statuses.push(s));
  client.on("message", (m) => messages.push(m));
  await settle();
  return {
    client,
    statuses,
    messages,
    last: () => statuses.at(-1) as Status,
    delays: () => statuses.flatMap((s) => (s.state === "reconnecting" ? [s.delayMs] : [])),
  };
}

describe("client: hello, pings, messages", { timeout: 20_000 }, () => {
  it("asks for the encoding's subprotocol, says hello first, then sends queued messages in order", async (t) => {
    const h = await start(t);
    assert.deepEqual(h.statuses, [{ state: "connecting", attempt: 1, transport: "websocket" }]);
    h.client.send({ text: "one" });
    h.client.send({ text: "two" });
    const ws = FakeWebSocket.last();
    assert.equal(ws.url, "ws://test/ws");
    assert.deepEqual(ws.protocols, ["tagwire.text"]);
    assert.equal(ws.binaryType, "arraybuffer");
    assert.deepEqual(ws.sent, []);
    ws.accept();
    assert.deepEqual(h.last(), { state: "open", transport: "websocket" });
    h.client.send({ text: "three" });
    assert.deepEqual(ws.sent, [HELLO_TEXT, clientNote("one"), clientNote("two"), clientNote("three")]);
  });

  it("answers every ping with a pong and delivers messages; binary encoding throughout", async (t) => {
    const h = await start(t, { encoding: "binary" });
    const ws = FakeWebSocket.last();
    assert.deepEqual(ws.protocols, ["tagwire.binary"]);
    ws.accept();
    ws.receive(ctlBinary({ type: "welcome", value: { package: "test", fingerprint: TestPackage.fingerprint, pingIntervalMs: 30_000 } }));
    ws.receive(ctlBinary({ type: "ping" }));
    ws.receive(noteBinary("hi"));
    ws.receive(note("text frames are read too"));
    ws.receive(ctlBinary({ type: "ping" }));
    assert.deepEqual(ws.sent.map((f) => (typeof f === "string" ? f : Buffer.from(f).toString("latin1"))), [
      Buffer.from(ctlBinary({ type: "hello", value: { package: "test", fingerprint: TestPackage.fingerprint, headers: "aaab" } })).toString("latin1"),
      "_b",
      "_b",
    ]);
    assert.deepEqual(h.messages, [{ text: "hi" }, { text: "text frames are read too" }]);
  });

  it("messages() yields the server's messages in order and ends when the client closes", async (t) => {
    const h = await start(t);
    const iterator = h.client.messages();
    const ws = accept();
    ws.receive(note("a"));
    ws.receive(note("b"));
    assert.deepEqual(await iterator.next(), { value: { text: "a" }, done: false });
    const pending = iterator.next();
    const pending2 = iterator.next();
    h.client.close();
    assert.deepEqual(await pending, { value: { text: "b" }, done: false });
    assert.deepEqual(await pending2, { value: undefined, done: true });
    const collected: Note[] = [];
    for await (const m of h.client.messages()) collected.push(m);
    assert.deepEqual(collected, []);
  });

  it("reports a welcome with another fingerprint as a mismatch and stays open", async (t) => {
    const h = await start(t);
    const mismatches: unknown[] = [];
    h.client.on("mismatch", (m) => mismatches.push(m));
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(welcome());
    assert.deepEqual(mismatches, []);
    ws.receive(ctl({ type: "welcome", value: { package: "other", fingerprint: "ffffffffffffffff", pingIntervalMs: 30_000 } }));
    assert.deepEqual(mismatches, [{ serverFingerprint: "ffffffffffffffff", serverPackage: "other" }]);
    assert.deepEqual(h.last(), { state: "open", transport: "websocket" });
    assert.equal(ws.closedWith, undefined);
  });

  it("error control frames become error events; undecodable frames are skipped with a warning", async (t) => {
    const h = await start(t);
    const warn = t.mock.method(console, "warn", () => {});
    const errors: unknown[] = [];
    h.client.on("error", (e) => errors.push(e));
    const undecodable: UndecodableFrame[] = [];
    h.client.on("undecodable", (f) => undecodable.push(f));
    const ws = accept();
    ws.receive(ctl({ type: "error", value: { code: 2, message: "malformed" } }));
    ws.receive("_f|5|over the rate limit");
    ws.receive("_f|6|`aa` refused: not in this room");
    ws.receive("_f|42|from a newer server");
    ws.receive("zz|nope");
    ws.receive("aa|bad\\escape");
    ws.receive("_z");
    ws.receive(new Uint8Array([0x61]));
    ws.receive(note("still here"));
    assert.deepEqual(errors, [
      { code: 2, message: "malformed", name: "malformed" },
      { code: 5, message: "over the rate limit", name: "rate_limited" },
      { code: 6, message: "`aa` refused: not in this room", name: "forbidden" },
      { code: 42, message: "from a newer server", name: "unknown" },
    ]);
    assert.deepEqual(h.messages, [{ text: "still here" }]);
    assert.equal(warn.mock.callCount(), 4);
    assert.deepEqual(
      undecodable.map((f) => [f.header, f.kind]),
      [
        ["zz", "unknown_header"],
        ["aa", "invalid_escape"],
        ["_z", "unknown_header"],
        ["", "truncated"],
      ],
    );
    assert.equal(undecodable[1]?.message, "a `aa` frame does not decode: invalid escape at token 1 (byte 3); skipped");
    assert.equal(undecodable[2]?.message, "header `_z` is not a control message this client knows (a newer server); skipped");
    assert.equal(undecodable[3]?.message, "a frame without a header: truncated at byte 0; skipped");
    assert.equal(ws.closedWith, undefined);
  });

  it("a listener that throws does not break the connection", async (t) => {
    const h = await start(t);
    // Browsers have reportError (Node 20 has not: there it is an unhandled rejection).
    const thrown: unknown[] = [];
    const g = globalThis as { reportError?: (e: unknown) => void };
    g.reportError = (e) => void thrown.push(e);
    t.after(() => delete g.reportError);
    const off = h.client.on("message", () => {
      throw new Error("listener bug");
    });
    const ws = accept();
    ws.receive(note("x"));
    off();
    ws.receive(note("y"));
    assert.deepEqual(h.messages, [{ text: "x" }, { text: "y" }]);
    assert.equal(thrown.length, 1);
    assert.match(String(thrown[0]), /listener bug/);
  });
});

describe("client: a server newer than this client (issue 10)", { timeout: 20_000 }, () => {
  const TYPING: OutdatedNotice = { header: "ad", message: "Typing", version: 1, reason: "Typing v1 was removed" };

  it("an outdated notice is an outdated event; the connection stays open and keeps working", async (t) => {
    const h = await start(t);
    const warn = t.mock.method(console, "warn", () => {});
    const outdated: OutdatedNotice[] = [];
    h.client.on("outdated", (n) => outdated.push(n));
    const ws = accept();
    ws.receive("_g|ad|Typing|1|Typing v1 was removed");
    assert.deepEqual(outdated, [TYPING]);
    ws.receive(note("after the notice"));
    h.client.send({ text: "still sending" });
    // Each notice is an event (the page decides); the console hears of a header once.
    ws.receive(ctl({ type: "outdated", value: TYPING }));
    ws.receive(ctl({ type: "outdated", value: { header: "aH", message: "Post", version: 2, reason: "no conversion to Post v1" } }));
    // SPEC §9.1: a header the server cannot name comes with an empty message.
    ws.receive("_g|aZ||0|removed before this server");
    assert.deepEqual(outdated.map((n) => n.header), ["ad", "ad", "aH", "aZ"]);
    assert.deepEqual(
      warn.mock.calls.map((c) => c.arguments[0]),
      [
        "tagwire client: protocol outdated: Typing v1 (`ad`): Typing v1 was removed",
        "tagwire client: protocol outdated: Post v2 (`aH`): no conversion to Post v1",
        "tagwire client: protocol outdated: `aZ`: removed before this server",
      ],
    );
    assert.deepEqual(h.messages, [{ text: "after the notice" }]);
    assert.deepEqual(ws.sent, [HELLO_TEXT, clientNote("still sending")]);
    // Still the same connection: the heartbeat goes on, no close, no reconnect.
    t.mock.timers.tick(30_000);
    ws.receive(PING);
    t.mock.timers.tick(44_999);
    assert.equal(ws.closedWith, undefined);
    assert.deepEqual(h.last(), { state: "open", transport: "websocket" });
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.deepEqual(ws.sent.at(-1), PONG);
  });

  it("binary encoding: the notice arrives as a binary frame", async (t) => {
    const h = await start(t, { encoding: "binary" });
    t.mock.method(console, "warn", () => {});
    const outdated: OutdatedNotice[] = [];
    h.client.on("outdated", (n) => outdated.push(n));
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(ctlBinary({ type: "outdated", value: TYPING }));
    ws.receive(noteBinary("next"));
    assert.deepEqual(outdated, [TYPING]);
    assert.deepEqual(h.messages, [{ text: "next" }]);
    assert.equal(ws.closedWith, undefined);
  });

  it("a message version this client was not generated with (a server that does not convert) is an undecodable event naming the header", async (t) => {
    const h = await start(t);
    const warn = t.mock.method(console, "warn", () => {});
    const undecodable: UndecodableFrame[] = [];
    h.client.on("undecodable", (f) => undecodable.push(f));
    const ws = accept();
    ws.receive("ac|a field|42");
    ws.receive(new Uint8Array([0x61, 0x63, 0x01, 0x78]));
    ws.receive("ab|a client message");
    ws.receive(note("the rest still arrives"));
    const generated = `(package test, fingerprint ${TestPackage.fingerprint})`;
    assert.deepEqual(undecodable, [
      {
        header: "ac",
        kind: "unknown_header",
        message: `header \`ac\` is not a message this client was generated with ${generated}: the server is newer and did not convert it for this client; skipped`,
      },
      {
        header: "ac",
        kind: "unknown_header",
        message: `header \`ac\` is not a message this client was generated with ${generated}: the server is newer and did not convert it for this client; skipped`,
      },
      { header: "ab", kind: "unknown_header", message: "header `ab` is a message clients send, not one they receive; skipped" },
    ]);
    assert.equal(warn.mock.callCount(), 3);
    assert.deepEqual(h.messages, [{ text: "the rest still arrives" }]);
    assert.equal(ws.closedWith, undefined);
    assert.deepEqual(h.last(), { state: "open", transport: "websocket" });
  });
});

describe("client: heartbeat watchdog", { timeout: 20_000 }, () => {
  it("closes with 4000 and reconnects when no ping came for exactly 45 s; a ping resets it", async (t) => {
    const h = await start(t);
    const ws = accept();
    t.mock.timers.tick(30_000);
    ws.receive(PING);
    t.mock.timers.tick(44_999);
    assert.equal(ws.closedWith, undefined, "a ping at 30 s moves the deadline to 75 s");
    t.mock.timers.tick(1);
    assert.deepEqual(ws.closedWith, { code: 4000, reason: "no ping" });
    const s = h.last();
    assert.equal(s.state, "reconnecting");
    assert.equal(s.state === "reconnecting" && s.reason, "heartbeat");
    // The server had answered, so the backoff starts over: [0, 500 ms].
    assert.equal(s.state === "reconnecting" && s.delayMs, 500);
    assert.equal(s.state === "reconnecting" && s.at, Date.now() + 500);
    t.mock.timers.tick(500);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.deepEqual(h.last(), { state: "connecting", attempt: 1, transport: "websocket" });
  });

  it("application messages do not feed the watchdog; pingTimeoutMs is configurable", async (t) => {
    const h = await start(t, { pingTimeoutMs: 10_000 });
    const ws = accept();
    for (let i = 0; i < 9; i++) {
      t.mock.timers.tick(1_000);
      ws.receive(note(String(i)));
    }
    t.mock.timers.tick(999);
    assert.equal(ws.closedWith, undefined);
    t.mock.timers.tick(1);
    assert.deepEqual(ws.closedWith, { code: 4000, reason: "no ping" });
    assert.equal(h.messages.length, 9);
  });

  it("a throttled background tab: the wall clock passed the deadline, no timer fired; visibilitychange catches it", async (t) => {
    const page = installPage();
    t.after(() => page.remove());
    const h = await start(t);
    const ws = accept();
    // Timers are frozen (not ticked) while the wall clock moves on 50 s.
    t.mock.timers.setTime(T0 + 50_000);
    assert.equal(ws.closedWith, undefined);
    page.document.dispatchEvent(new Event("visibilitychange"));
    assert.deepEqual(ws.closedWith, { code: 4000, reason: "no ping" });
    const s = h.last();
    assert.equal(s.state === "reconnecting" && s.reason, "heartbeat");
    // The reconnect wait is on the wall clock too: an `online` event after it passed reconnects at once.
    t.mock.timers.setTime(Date.now() + 10_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    page.window.dispatchEvent(new Event("online"));
    assert.equal(FakeWebSocket.instances.length, 2);
  });

  it("before its deadline, a visibilitychange changes nothing; after close() the listeners are gone", async (t) => {
    const page = installPage();
    t.after(() => page.remove());
    const h = await start(t);
    const ws = accept();
    t.mock.timers.setTime(T0 + 44_000);
    page.document.dispatchEvent(new Event("visibilitychange"));
    assert.equal(ws.closedWith, undefined);
    h.client.close();
    const count = h.statuses.length;
    t.mock.timers.setTime(T0 + 100_000);
    page.document.dispatchEvent(new Event("visibilitychange"));
    page.window.dispatchEvent(new Event("online"));
    assert.equal(h.statuses.length, count);
    assert.equal(FakeWebSocket.instances.length, 1);
  });
});

describe("client: backoff", { timeout: 20_000 }, () => {
  it("attempt n waits up to min(30 s, 500 ms × 2ⁿ), and counts attempts", async (t) => {
    const h = await start(t);
    for (let i = 0; i < 9; i++) {
      FakeWebSocket.last().drop("connect ECONNREFUSED");
      const s = h.last();
      assert.equal(s.state === "reconnecting" && s.reason, "network");
      assert.match(s.state === "reconnecting" ? s.message : "", /could not open \(connect ECONNREFUSED\)/);
      t.mock.timers.tick(s.state === "reconnecting" ? s.delayMs : 0);
    }
    assert.deepEqual(h.delays(), [500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
    assert.deepEqual(h.last(), { state: "connecting", attempt: 10, transport: "websocket" });
  });

  it("full jitter: delays are uniform over [0, ceiling] (random 0 → 0, 0.5 → the middle)", async (t) => {
    let r = 0;
    const h = await start(t, { random: () => r });
    FakeWebSocket.last().drop();
    t.mock.timers.tick(0);
    r = 0.5;
    FakeWebSocket.last().drop();
    t.mock.timers.tick(500);
    FakeWebSocket.last().drop();
    assert.deepEqual(h.delays(), [0, 500, 1_000]);
  });

  it("the retry count resets once the server sent a frame, not at the handshake", async (t) => {
    const h = await start(t);
    // Accepts and closes at once, four times: the backoff keeps growing.
    for (let i = 0; i < 4; i++) {
      FakeWebSocket.last().accept();
      FakeWebSocket.last().serverClose(1011, "boom");
      const s = h.last();
      t.mock.timers.tick(s.state === "reconnecting" ? s.delayMs : 0);
    }
    assert.deepEqual(h.delays(), [500, 1_000, 2_000, 4_000]);
    const s = h.last();
    assert.deepEqual(s, { state: "connecting", attempt: 5, transport: "websocket" });
    // This one says something before dropping: the next wait is the first one again.
    accept().drop("reset");
    const r = h.last();
    assert.equal(r.state === "reconnecting" && r.delayMs, 500);
    assert.equal(r.state === "reconnecting" && r.message, "the connection closed without a close frame (reset)");
    t.mock.timers.tick(500);
    assert.deepEqual(h.last(), { state: "connecting", attempt: 1, transport: "websocket" });
  });

  it("a connection attempt that never opens is given up after connectTimeoutMs", async (t) => {
    const h = await start(t, { connectTimeoutMs: 3_000 });
    t.mock.timers.tick(2_999);
    assert.equal(FakeWebSocket.last().closedWith, undefined);
    t.mock.timers.tick(1);
    assert.notEqual(FakeWebSocket.last().closedWith, undefined);
    const s = h.last();
    assert.equal(s.state === "reconnecting" && s.message, "the WebSocket did not open within 3000 ms");
  });

  it("backoff options are honoured", async (t) => {
    const h = await start(t, { backoff: { initialMs: 100, maxMs: 250, multiplier: 3 } });
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last().drop();
      const s = h.last();
      t.mock.timers.tick(s.state === "reconnecting" ? s.delayMs : 0);
    }
    assert.deepEqual(h.delays(), [100, 250, 250]);
  });
});

describe("client: a server with no room (HTTP 503)", { timeout: 20_000 }, () => {
  it("Node's ws names a refused upgrade's 503: the attempt waits as after a deploy (the backoff doubled), without trying SSE", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, { transport: "auto", fetch: sse.fetch });
    for (let i = 0; i < 8; i++) {
      FakeWebSocket.last().drop("Unexpected server response: 503");
      await settle();
      const s = h.last();
      assert.equal(s.state === "reconnecting" && s.reason, "network");
      assert.equal(s.state === "reconnecting" && s.message, "the WebSocket could not open (Unexpected server response: 503)");
      t.mock.timers.tick(s.state === "reconnecting" ? s.delayMs : 0);
    }
    // No Retry-After is visible through ws: the doubled curve alone, full jitter below it.
    assert.deepEqual(h.delays(), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
    assert.equal(sse.gets.length, 0, "SSE would be refused the same way");
    // Other refusals still fall back to SSE, and back off as before.
    FakeWebSocket.last().drop("Unexpected server response: 403");
    await settle();
    assert.equal(sse.gets.length, 1);
  });

  it("after a drain notice, a refusal still doubles the backoff, and never shrinks a larger factor", async (t) => {
    const waits: number[] = [];
    for (const multiplier of [1, 4]) {
      const h = await start(t);
      const ws = accept();
      ws.receive(drain("Server updating", 0, multiplier));
      ws.serverClose(4001, "drain");
      t.mock.timers.tick(0);
      FakeWebSocket.last().drop("Unexpected server response: 503");
      waits.push(h.delays().at(-1) ?? -1);
      h.client.close();
      t.mock.timers.reset();
    }
    // Retry 1 of the curve (1 s), × 2 (the deploy's doubling) and × 4 (the notice's).
    assert.deepEqual(waits, [2_000, 4_000]);
  });
});

describe("client: drain and close codes", { timeout: 20_000 }, () => {
  it("a drain notice: the first attempt at a random moment inside the window, then the backoff doubled", async (t) => {
    let r = 0.5;
    const h = await start(t, { random: () => r });
    const ws = accept();
    ws.receive(drain("Server updating", 5_000, 2));
    t.mock.timers.tick(1_000); // the close follows the notice a second later
    ws.serverClose(4001, "drain");
    const s = h.last();
    // Uniform over the 5 s window from the notice: 0.5 → 2.5 s after it, 1.5 s from now.
    assert.deepEqual(s, {
      state: "reconnecting",
      reason: "deploy",
      message: "Server updating",
      code: 4001,
      delayMs: 1_500,
      at: Date.now() + 1_500,
    });
    t.mock.timers.tick(1_499);
    assert.equal(FakeWebSocket.instances.length, 1);
    t.mock.timers.tick(1);
    assert.equal(FakeWebSocket.instances.length, 2);
    // The new server is not up yet: retries use the doubled backoff.
    r = TOP();
    for (let i = 0; i < 3; i++) {
      FakeWebSocket.last().drop("connect ECONNREFUSED");
      const n = h.last();
      t.mock.timers.tick(n.state === "reconnecting" ? n.delayMs : 0);
    }
    assert.deepEqual(h.delays(), [1_500, 2_000, 4_000, 8_000]);
    // Once a server answers, the deploy factor is forgotten.
    accept().drop();
    assert.equal(h.delays().at(-1), 500);
  });

  it("after a notice, any drop is the deploy, and the notice's multiplier is used (capped at 64)", async (t) => {
    const h = await start(t);
    const ws = accept();
    ws.receive(drain("Moving", 0, 1e9));
    ws.drop("reset");
    assert.deepEqual(h.last(), { state: "reconnecting", reason: "deploy", message: "Moving", delayMs: 0, at: Date.now() });
    t.mock.timers.tick(0);
    FakeWebSocket.last().drop();
    assert.equal(h.delays().at(-1), 1_000 * 64);
  });

  it("a 4001 without a notice reconnects inside the initial backoff, then with laterMultiplier", async (t) => {
    const h = await start(t, { laterMultiplier: 3 });
    accept().serverClose(4001, "");
    const s = h.last();
    assert.deepEqual(s, { state: "reconnecting", reason: "deploy", message: "server draining", code: 4001, delayMs: 500, at: Date.now() + 500 });
    t.mock.timers.tick(500);
    FakeWebSocket.last().drop();
    assert.equal(h.delays().at(-1), 3_000);
  });

  it("1012, 1013 and 4005 reconnect later with reason closed and their code", async (t) => {
    const h = await start(t);
    accept().serverClose(4005, "slow down");
    const s = h.last();
    assert.equal(s.state === "reconnecting" && s.reason, "closed");
    assert.equal(s.state === "reconnecting" && s.code, 4005);
    assert.equal(s.state === "reconnecting" && s.message, "closed by the server with 4005 (rate_limited)");
  });

  it("reconnect codes back off with reason closed", async (t) => {
    const h = await start(t);
    accept().serverClose(4002, "slow consumer");
    const s = h.last();
    assert.deepEqual(s, {
      state: "reconnecting",
      reason: "closed",
      message: "closed by the server with 4002 (slow_consumer): slow consumer",
      code: 4002,
      delayMs: 500,
      at: Date.now() + 500,
    });
  });

  for (const code of [1000, 1008, 1009, 4003, 4004]) {
    it(`stop code ${code}: closed for good, no more attempts, sends refused`, async (t) => {
      const h = await start(t);
      const ws = accept();
      ws.receive(drain("ignored: the server said stop", 5_000, 2));
      ws.serverClose(code, "go away");
      assert.deepEqual(h.last(), { state: "closed", code, reason: "go away" });
      assert.deepEqual(h.client.status, h.last());
      t.mock.timers.tick(3_600_000);
      assert.equal(FakeWebSocket.instances.length, 1);
      assert.throws(() => h.client.send({ text: "late" }), (e: unknown) => e instanceof SendError && e.kind === "closed");
    });
  }

  it("close(): close frame 1000, status closed, no reconnect", async (t) => {
    const h = await start(t);
    const ws = accept();
    h.client.close();
    assert.deepEqual(ws.closedWith, { code: 1000, reason: "" });
    assert.deepEqual(h.last(), { state: "closed", code: 1000, reason: "closed by the application" });
    ws.serverClose(1006);
    t.mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    h.client.close();
    assert.equal(h.statuses.filter((s) => s.state === "closed").length, 1);
  });

  it("close() while waiting to reconnect cancels the attempt", async (t) => {
    const h = await start(t);
    FakeWebSocket.last().drop();
    h.client.close();
    t.mock.timers.tick(60_000);
    assert.equal(FakeWebSocket.instances.length, 1);
    assert.equal(h.last().state, "closed");
  });

  it("an environment without WebSocket in websocket mode stops with a reason", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout", "Date"], now: T0 });
    const client = connect("ws://test/ws", TestPackage, { transport: "websocket" });
    const statuses: Status[] = [];
    client.on("status", (s) => statuses.push(s));
    await settle();
    const s = statuses.at(-1);
    assert.equal(s?.state, "closed");
    assert.match(s?.state === "closed" ? s.reason : "", /no WebSocket/);
  });
});

describe("client: send queue", { timeout: 20_000 }, () => {
  it("holds up to queueLimit while disconnected; reject throws a SendError, then all go out in order", async (t) => {
    const h = await start(t, { queueLimit: 3 });
    for (const text of ["1", "2", "3"]) h.client.send({ text });
    assert.throws(
      () => h.client.send({ text: "4" }),
      (e: unknown) => e instanceof SendError && e.kind === "full" && e.limit === 3,
    );
    FakeWebSocket.last().drop();
    t.mock.timers.tick(500);
    const ws = FakeWebSocket.last();
    ws.accept();
    assert.deepEqual(ws.sent, [HELLO_TEXT, clientNote("1"), clientNote("2"), clientNote("3")]);
    // Open: sends go straight out, the bound does not apply.
    for (const text of ["5", "6", "7", "8"]) h.client.send({ text });
    assert.equal(ws.sent.length, 8);
  });

  it("drop-oldest keeps the newest queueLimit messages", async (t) => {
    const h = await start(t, { queueLimit: 2, whenFull: "drop-oldest" });
    for (const text of ["1", "2", "3", "4"]) h.client.send({ text });
    const ws = FakeWebSocket.last();
    ws.accept();
    assert.deepEqual(ws.sent, [HELLO_TEXT, clientNote("3"), clientNote("4")]);
  });

  it("messages sent on a connection that dropped are not re-sent (at most once)", async (t) => {
    const h = await start(t);
    const ws = accept();
    h.client.send({ text: "gone" });
    ws.drop();
    h.client.send({ text: "queued" });
    t.mock.timers.tick(500);
    const ws2 = FakeWebSocket.last();
    ws2.accept();
    assert.deepEqual(ws2.sent, [HELLO_TEXT, clientNote("queued")]);
  });

  it("a value outside its type throws at send, even while disconnected", async (t) => {
    const h = await start(t);
    assert.throws(() => h.client.send({ text: "\ud800" }), /surrogate/);
  });
});
