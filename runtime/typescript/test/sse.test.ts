// The SSE fallback (SPEC §9.5): the event-stream parser, URL defaults, and the
// client over a fake fetch (session, frames, POSTs, close event, 404, fallback).
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  SseParser,
  defaultSseUrl,
  type Client,
  type ClientOptions,
  type OutdatedNotice,
  type SseEvent,
  type Status,
  type UndecodableFrame,
} from "tagwire";
import { FakeSse, FakeWebSocket, HELLO_TEXT, PING, PONG, clientNote, connectFake, drain, note, settle, welcome, type Note } from "./fakes.js";

const STREAM =
  ": a comment, then a session\r\n" +
  "event: session\r\n" +
  "data: 0123456789abcdef0123456789abcdef\r\n" +
  "\r\n" +
  "id: 1\n" +
  "data:_d|relay|b23a420d218cb494|30000\n" +
  "\n" +
  "id: 2\r" +
  "data: aa|two lines\r" +
  "data: joined\r" +
  "\r" +
  ":keepalive\n\n" +
  "retry: 10\n" +
  "unknown: field\n" +
  "data\n" +
  "\n" +
  "event: close\n" +
  "data: 4001|drain: bye\n" +
  "\n" +
  "data: not dispatched without a blank line";

const EXPECTED: SseEvent[] = [
  { type: "session", data: "0123456789abcdef0123456789abcdef", id: "" },
  { type: "message", data: "_d|relay|b23a420d218cb494|30000", id: "1" },
  { type: "message", data: "aa|two lines\njoined", id: "2" },
  { type: "message", data: "", id: "2" },
  { type: "close", data: "4001|drain: bye", id: "2" },
];

function parseChunks(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((c) => parser.push(c));
}

describe("SSE parser", { timeout: 20_000 }, () => {
  it("parses events, CRLF / LF / CR line ends, comments, multi-line data and ids", () => {
    assert.deepEqual(parseChunks([STREAM]), EXPECTED);
  });

  it("gives the same events however the stream is split (every split point, and char by char)", () => {
    for (let i = 0; i <= STREAM.length; i++) {
      assert.deepEqual(parseChunks([STREAM.slice(0, i), STREAM.slice(i)]), EXPECTED, `split at ${i}`);
    }
    assert.deepEqual(parseChunks([...STREAM]), EXPECTED);
    // A CRLF split between its CR and LF is one line end, not two.
    assert.deepEqual(parseChunks(["data: a\r", "\ndata: b\r", "\n\r", "\n"]), [{ type: "message", data: "a\nb", id: "" }]);
  });

  it("strips a leading BOM and one space after the colon only", () => {
    assert.deepEqual(parseChunks(["\ufeffdata:  two spaces\n\n"]), [{ type: "message", data: " two spaces", id: "" }]);
    assert.deepEqual(parseChunks(["\ufeff", "data:x\n\n"]), [{ type: "message", data: "x", id: "" }]);
  });
});

describe("SSE URLs", { timeout: 20_000 }, () => {
  it("derives the SSE route from the WebSocket URL", () => {
    assert.equal(defaultSseUrl("ws://127.0.0.1:8080/ws"), "http://127.0.0.1:8080/sse");
    assert.equal(defaultSseUrl("wss://example.com/app/ws?token=x"), "https://example.com/app/sse?token=x");
    assert.equal(defaultSseUrl("ws://example.com/"), "http://example.com/sse");
    assert.equal(defaultSseUrl("ws://example.com"), "http://example.com/sse");
    assert.equal(defaultSseUrl("/ws"), "/sse");
  });
});

interface Harness {
  client: Client<Note, Note>;
  statuses: Status[];
  messages: string[];
  close(): void;
  send(text: string): void;
}

async function start(t: TestContext, sse: FakeSse, options: ClientOptions = {}): Promise<Harness> {
  const client = connectFake(t, { fetch: sse.fetch, transport: "sse", ...options });
  const statuses: Status[] = [];
  const messages: string[] = [];
  client.on("status", (s) => statuses.push(s));
  client.on("message", (m) => messages.push(m.text));
  await settle();
  return { client, statuses, messages, close: () => client.close(), send: (text) => client.send({ text }) };
}

describe("client over SSE", { timeout: 20_000 }, () => {
  it("opens on the session event, POSTs the hello and the queue as one LF-separated body, pongs pings", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    assert.deepEqual(sse.gets, ["http://test/sse"]);
    assert.deepEqual(h.statuses, [{ state: "connecting", attempt: 1, transport: "sse" }]);
    h.send("queued 1");
    h.send("queued 2");
    sse.session();
    await settle();
    assert.deepEqual(h.statuses.at(-1), { state: "open", transport: "sse" });
    assert.deepEqual(sse.posts, [
      {
        url: "http://test/sse/0123456789abcdef0123456789abcdef",
        body: [HELLO_TEXT, clientNote("queued 1"), clientNote("queued 2")].join("\n"),
      },
    ]);
    sse.frame(welcome());
    sse.frame(PING);
    sse.frame(note("from the server"));
    await settle();
    assert.deepEqual(h.messages, ["from the server"]);
    assert.deepEqual(sse.sent, [HELLO_TEXT, clientNote("queued 1"), clientNote("queued 2"), PONG]);
  });

  it("an outdated notice is an outdated event and the session stays open (issue 10)", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    t.mock.method(console, "warn", () => {});
    const outdated: OutdatedNotice[] = [];
    const undecodable: UndecodableFrame[] = [];
    h.client.on("outdated", (n) => outdated.push(n));
    h.client.on("undecodable", (f) => undecodable.push(f));
    sse.session();
    sse.frame(welcome());
    sse.frame("_g|ad|Typing|1|Typing v1 was removed");
    sse.frame("ac|from a server that does not convert");
    sse.frame(note("after"));
    await settle();
    assert.deepEqual(outdated, [{ header: "ad", message: "Typing", version: 1, reason: "Typing v1 was removed" }]);
    assert.deepEqual(
      undecodable.map((f) => [f.header, f.kind]),
      [["ac", "unknown_header"]],
    );
    assert.deepEqual(h.messages, ["after"]);
    h.send("still sending");
    sse.frame(PING);
    await settle();
    assert.deepEqual(sse.sent, [HELLO_TEXT, clientNote("still sending"), PONG]);
    assert.equal(sse.gets.length, 1);
    assert.deepEqual(h.statuses.at(-1), { state: "open", transport: "sse" });
  });

  it("posts at most 64 frames a request, in order", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    for (let i = 0; i < 100; i++) h.send(String(i));
    sse.session();
    await settle(6);
    assert.deepEqual(sse.posts.map((p) => p.body.split("\n").length), [64, 37]);
    assert.deepEqual(sse.sent.slice(1), Array.from({ length: 100 }, (_, i) => clientNote(String(i))));
  });

  it("a close event is the close code (drain: deploy reconnect inside the window)", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    sse.session();
    sse.frame(welcome());
    sse.frame(drain("Server updating", 5_000, 2));
    sse.close(4001, "draining");
    await settle();
    const s = h.statuses.at(-1);
    assert.equal(s?.state === "reconnecting" && s.reason, "deploy");
    assert.equal(s?.state === "reconnecting" && s.message, "Server updating");
    assert.equal(s?.state === "reconnecting" && s.code, 4001);
    t.mock.timers.tick(5_000);
    assert.equal(sse.gets.length, 2);
  });

  it("a stop code in a close event stops the client", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    sse.session();
    sse.close(4003, "protocol mismatch");
    await settle();
    assert.deepEqual(h.statuses.at(-1), { state: "closed", code: 4003, reason: "protocol mismatch" });
  });

  it("a stream that ends without a close event is a dropped connection", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    sse.session();
    sse.frame(welcome());
    sse.end();
    await settle();
    const s = h.statuses.at(-1);
    assert.equal(s?.state === "reconnecting" && s.reason, "network");
    assert.equal(s?.state === "reconnecting" && s.message, "the event stream ended without a close event");
  });

  it("a POST answered 404 (the session is gone) reconnects", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse);
    sse.session();
    sse.frame(welcome());
    await settle();
    sse.postStatus = 404;
    h.send("lost");
    await settle();
    const s = h.statuses.at(-1);
    assert.equal(s?.state === "reconnecting" && s.message, "SSE: the session is gone (404)");
    sse.postStatus = 204;
    t.mock.timers.tick(500);
    await settle();
    assert.equal(sse.gets.length, 2);
    // The refused frame was never accepted: the next session sends it after its hello.
    h.send("after");
    sse.session();
    await settle();
    assert.deepEqual(sse.posts.at(-1)?.body.split("\n"), [HELLO_TEXT, clientNote("lost"), clientNote("after")]);
  });

  it("an HTTP error on GET is a failed attempt with the ordinary backoff", async (t) => {
    const sse = new FakeSse();
    sse.getStatus = 502;
    const h = await start(t, sse);
    await settle();
    const s = h.statuses.at(-1);
    assert.equal(s?.state === "reconnecting" && s.message, "SSE: HTTP 502");
    assert.equal(s?.state === "reconnecting" && s.delayMs, 500);
  });

  it("a 503 on GET without Retry-After (a proxy out of room) waits as after a deploy: the backoff doubled", async (t) => {
    const sse = new FakeSse();
    sse.getStatus = 503;
    const h = await start(t, sse);
    for (let i = 0; i < 8; i++) {
      await settle();
      const s = h.statuses.at(-1);
      assert.equal(s?.state === "reconnecting" && s.reason, "network");
      assert.equal(s?.state === "reconnecting" && s.message, "SSE: HTTP 503");
      t.mock.timers.tick(s?.state === "reconnecting" ? s.delayMs : 0);
    }
    assert.deepEqual(delays(h).slice(0, 8), [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]);
  });
});

function delays(h: Harness): number[] {
  return h.statuses.flatMap((s) => (s.state === "reconnecting" ? [s.delayMs] : []));
}

/** Refusals of a full server, each waited out; returns the waits. */
async function refusedTimes(t: TestContext, h: Harness, n: number): Promise<number[]> {
  for (let i = 0; i < n; i++) {
    // A browser's WebSocket says nothing about why it failed; SSE then gets the 503.
    FakeWebSocket.last().drop("");
    await settle();
    const s = h.statuses.at(-1);
    assert.equal(s?.state === "reconnecting" && s.reason, "network", JSON.stringify(s));
    assert.equal(s?.state === "reconnecting" && s.message, "SSE: HTTP 503");
    t.mock.timers.tick(s?.state === "reconnecting" ? s.delayMs : 0);
  }
  return delays(h);
}

describe("a full server's 503 (docs/RUNTIME.md, Connection limits)", { timeout: 20_000 }, () => {
  it("a browser's refused WebSocket falls back to SSE, which reads the 503's Retry-After: waits below 2 × Retry-After, then the doubled backoff", async (t) => {
    const sse = new FakeSse();
    sse.getStatus = 503;
    sse.getHeaders = { "retry-after": "10" };
    const h = await start(t, sse, { transport: "auto" });
    assert.deepEqual(await refusedTimes(t, h, 8), [20_000, 20_000, 20_000, 20_000, 20_000, 32_000, 60_000, 60_000]);
    assert.equal(sse.gets.length, 8);
    assert.equal(FakeWebSocket.instances.length, 9, "each attempt tries the WebSocket first");
    // Room again: the next attempt opens, and the waits start over.
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(welcome());
    assert.deepEqual(h.statuses.at(-1), { state: "open", transport: "websocket" });
    ws.drop("reset");
    assert.equal(h.statuses.at(-1)?.state === "reconnecting" && delays(h).at(-1), 500);
  });

  it("clients refused together spread around Retry-After instead of returning in step", async (t) => {
    const waits: number[] = [];
    for (const r of [0, 0.25, 0.5, 0.75, 0.999_999_9]) {
      const sse = new FakeSse();
      sse.getStatus = 503;
      sse.getHeaders = { "retry-after": "10" };
      const h = await start(t, sse, { transport: "auto", random: () => r });
      waits.push(...(await refusedTimes(t, h, 1)));
      h.close();
      t.mock.timers.reset();
    }
    // Uniform over [0, 20 s]: their mean is the 10 s the server asked for.
    assert.deepEqual(waits, [0, 5_000, 10_000, 15_000, 20_000]);
  });

  it("a Retry-After of days counts as the backoff's maximum, and an HTTP date is not read", async (t) => {
    const sse = new FakeSse();
    sse.getStatus = 503;
    sse.getHeaders = { "retry-after": "604800" };
    const h = await start(t, sse);
    await settle();
    assert.deepEqual(delays(h), [60_000]);
    sse.getHeaders = { "retry-after": "Wed, 21 Oct 2015 07:28:00 GMT" };
    t.mock.timers.tick(60_000);
    await settle();
    assert.deepEqual(delays(h), [60_000, 2_000]);
  });
});

describe("transport auto", { timeout: 20_000 }, () => {
  it("falls back to SSE in the same attempt when the WebSocket cannot open; the next attempt tries WebSocket first", async (t) => {
    const sse = new FakeSse();
    const h = await start(t, sse, { transport: "auto" });
    assert.deepEqual(h.statuses, [{ state: "connecting", attempt: 1, transport: "websocket" }]);
    FakeWebSocket.last().drop("Unexpected server response: 403");
    await settle();
    assert.deepEqual(h.statuses.at(-1), { state: "connecting", attempt: 1, transport: "sse" });
    sse.session();
    sse.frame(welcome());
    sse.frame(note("over sse"));
    await settle();
    assert.deepEqual(h.statuses.at(-1), { state: "open", transport: "sse" });
    assert.deepEqual(h.messages, ["over sse"]);
    sse.end();
    await settle();
    t.mock.timers.tick(500);
    assert.equal(FakeWebSocket.instances.length, 2);
    assert.deepEqual(h.statuses.at(-1), { state: "connecting", attempt: 1, transport: "websocket" });
  });

  it("does not fall back when an open WebSocket drops, and reports SSE's failure when both fail", async (t) => {
    const sse = new FakeSse();
    sse.getStatus = 503;
    const h = await start(t, sse, { transport: "auto" });
    const ws = FakeWebSocket.last();
    ws.accept();
    ws.receive(welcome());
    ws.drop("reset");
    await settle();
    assert.equal(sse.gets.length, 0);
    t.mock.timers.tick(500);
    FakeWebSocket.last().drop();
    await settle();
    assert.equal(sse.gets.length, 1);
    const s = h.statuses.at(-1);
    assert.equal(s?.state === "reconnecting" && s.message, "SSE: HTTP 503");
  });
});
