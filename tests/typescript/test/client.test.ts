// The TypeScript client against the real Rust server (relay-server, built by
// run.sh): hello and welcome, echo in both encodings, rooms, a SIGTERM drain
// that moves the client to a second server, and the SSE fallback, forced and
// automatic (behind a proxy that refuses WebSocket upgrades).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import WebSocket from "ws";
import { connect, type Client, type ClientOptions, type Mismatch, type Status } from "tagwire";
import { PROTOCOL_FINGERPRINT, Package, type ClientMessage, type ServerMessage } from "../generated/relay.js";
import { NodeWebSocket, opened, startProxy, startRelay, waitFor, type Relay } from "./relay.js";

type RelayClient = Client<ServerMessage, ClientMessage>;

const relays: Relay[] = [];
const clients: RelayClient[] = [];
after(() => {
  for (const c of clients) c.close();
  for (const r of relays) r.stop();
});

async function relay(args: string[] = []): Promise<Relay> {
  const r = await startRelay(args);
  relays.push(r);
  return r;
}

function client(url: string, options: ClientOptions = {}, pkg = Package): RelayClient {
  const c = connect(url, pkg, { WebSocket: NodeWebSocket, transport: "websocket", ...options });
  clients.push(c);
  return c;
}

const echo = (seq: number, body: string): ClientMessage => ({ message: "Echo", version: 1, value: { seq: BigInt(seq), body } });

/** Sends an echo and waits for it to come back. */
async function roundTrip(c: RelayClient, seq: number, body: string): Promise<void> {
  const back = waitFor(c, "message", (m) => (m.message === "Echo" && m.value.seq === BigInt(seq) ? m.value.body : undefined), `echo ${seq}`);
  c.send(echo(seq, body));
  assert.equal(await back, body);
}

/** Every status event from now on (call right after connect: the first attempt starts in a microtask). */
function statuses(c: RelayClient): Status[] {
  const seen: Status[] = [];
  c.on("status", (s) => seen.push(s));
  return seen;
}

describe("client ↔ relay-server over WebSocket", { timeout: 30_000 }, () => {
  it("says hello, gets a welcome with the same fingerprint, and echoes text frames (queued before open too)", async () => {
    const r = await relay();
    const c = client(`ws://${r.addr}/ws`);
    const mismatches: Mismatch[] = [];
    const errors: unknown[] = [];
    c.on("mismatch", (m) => mismatches.push(m));
    c.on("error", (e) => errors.push(e));
    const queued = waitFor(c, "message", (m) => (m.message === "Echo" ? m.value.body : undefined), "the queued echo");
    c.send(echo(1, "sent before the socket opened"));
    assert.deepEqual(await opened(c), { state: "open", transport: "websocket" });
    assert.equal(await queued, "sent before the socket opened");
    await roundTrip(c, 2, "a|b\\c\n~ünïcödé 🎉");
    assert.deepEqual(mismatches, []);
    assert.deepEqual(errors, []);
    c.close();
    assert.deepEqual(c.status, { state: "closed", code: 1000, reason: "closed by the application" });
  });

  it("a client built from another fingerprint hears of the mismatch and keeps working", async () => {
    const r = await relay();
    const c = client(`ws://${r.addr}/ws`, {}, { ...Package, fingerprint: "0000000000000000" });
    const seen = new Promise<Mismatch>((resolve) => c.on("mismatch", resolve));
    assert.deepEqual(await seen, { serverFingerprint: PROTOCOL_FINGERPRINT, serverPackage: "relay" });
    await roundTrip(c, 1, "still open");
  });

  it("binary: asks for tagwire.binary, the server answers in binary frames, echoes round-trip", async () => {
    const r = await relay();
    const sockets: WebSocket[] = [];
    const frames: boolean[] = [];
    class Recording extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        sockets.push(this);
        this.on("message", (_data, isBinary) => frames.push(isBinary));
      }
    }
    const c = client(`ws://${r.addr}/ws`, { encoding: "binary", WebSocket: Recording as unknown as typeof NodeWebSocket });
    await opened(c);
    await roundTrip(c, 7, "binary é|🎉");
    assert.equal(sockets[0]?.protocol, "tagwire.binary");
    assert.ok(frames.length >= 2 && frames.every((b) => b), `server frames binary: ${JSON.stringify(frames)}`);
  });

  it("rooms: what one client publishes reaches another in order", async () => {
    const r = await relay();
    const a = client(`ws://${r.addr}/ws`);
    const b = client(`ws://${r.addr}/ws`, { encoding: "binary" });
    for (const c of [a, b]) {
      c.send({ message: "Join", version: 1, value: { room: "lobby" } });
      await roundTrip(c, 0, "joined"); // frames are handled in order: the join is done
    }
    const got: bigint[] = [];
    const from = new Set<string>();
    const all = waitFor(b, "message", (m) => {
      if (m.message !== "Delivered" || m.value.room !== "lobby") return undefined;
      got.push(m.value.seq);
      from.add(m.value.from);
      return got.length === 3 ? true : undefined;
    }, "three deliveries");
    for (const seq of [1n, 2n, 3n]) a.send({ message: "Publish", version: 1, value: { room: "lobby", seq, body: `m${seq}` } });
    await all;
    assert.deepEqual(got, [1n, 2n, 3n]);
    assert.equal(from.size, 1);
  });

  it("SIGTERM drain: reconnecting (deploy, the notice's reason), then open on the next server; queued sends arrive", async () => {
    const a = await relay(["--grace-ms", "100", "--window-ms", "100"]);
    const b = await relay();
    const proxy = await startProxy(a.addr);
    after(() => proxy.close());
    // random 0: the reconnect lands at the start of the notice's window.
    const c = client(`ws://${proxy.addr}/ws`, { random: () => 0 });
    const seen = statuses(c);
    await opened(c);
    await roundTrip(c, 1, "on A");
    const reconnecting = waitFor(c, "status", (s) => (s.state === "reconnecting" ? s : undefined), "reconnecting");
    proxy.backend = b.addr;
    a.process.kill("SIGTERM");
    const s = await reconnecting;
    assert.equal(s.state === "reconnecting" && s.reason, "deploy");
    assert.equal(s.state === "reconnecting" && s.message, "Server updating");
    assert.equal(s.state === "reconnecting" && s.code, 4001);
    const back = waitFor(c, "message", (m) => (m.message === "Echo" && m.value.seq === 2n ? m.value.body : undefined), "the echo sent while reconnecting");
    c.send(echo(2, "sent while reconnecting"));
    assert.equal(await back, "sent while reconnecting");
    assert.equal(c.status.state, "open");
    await roundTrip(c, 3, "on B");
    assert.equal(await a.exited, 0);
    assert.ok(a.stdout.includes("drained"));
    assert.deepEqual(
      seen.map((x) => x.state),
      ["connecting", "open", "reconnecting", "connecting", "open"],
    );
  });
});

describe("client ↔ relay-server over SSE", { timeout: 30_000 }, () => {
  it("transport sse: session, hello by POST, messages both ways, rooms with a WebSocket client", async () => {
    const r = await relay();
    const s = client(`ws://${r.addr}/ws`, { transport: "sse" });
    const w = client(`ws://${r.addr}/ws`);
    assert.deepEqual(await opened(s), { state: "open", transport: "sse" });
    await roundTrip(s, 1, "over SSE: a|b\\c 🎉");
    for (const c of [s, w]) {
      c.send({ message: "Join", version: 1, value: { room: "mixed" } });
      await roundTrip(c, 10, "joined");
    }
    const toSse = waitFor(s, "message", (m) => (m.message === "Delivered" && m.value.body === "from ws" ? m.value.seq : undefined), "delivery to SSE");
    w.send({ message: "Publish", version: 1, value: { room: "mixed", seq: 5n, body: "from ws" } });
    assert.equal(await toSse, 5n);
    const toWs = waitFor(w, "message", (m) => (m.message === "Delivered" && m.value.body === "from sse" ? m.value.seq : undefined), "delivery to WS");
    // Several sends in one turn share one POST.
    for (let i = 0; i < 5; i++) s.send(echo(100 + i, `burst ${i}`));
    s.send({ message: "Publish", version: 1, value: { room: "mixed", seq: 6n, body: "from sse" } });
    assert.equal(await toWs, 6n);
    s.close();
    assert.equal(s.status.state, "closed");
  });

  it("transport auto: a proxy refuses the WebSocket upgrade (403), the client falls back to SSE and talks", async () => {
    const r = await relay();
    const proxy = await startProxy(r.addr, { refuseUpgrades: true });
    after(() => proxy.close());
    const c = client(`ws://${proxy.addr}/ws`, { transport: "auto" });
    const seen = statuses(c);
    assert.deepEqual(await opened(c), { state: "open", transport: "sse" });
    assert.ok(proxy.refused >= 1);
    assert.deepEqual(seen, [
      { state: "connecting", attempt: 1, transport: "websocket" },
      { state: "connecting", attempt: 1, transport: "sse" },
      { state: "open", transport: "sse" },
    ]);
    await roundTrip(c, 1, "fell back");
  });
});
