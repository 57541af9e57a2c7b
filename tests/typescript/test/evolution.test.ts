// Protocol evolution end to end: last week's bundle survives this week's deploy.
//
// The old bundle is tests/fixtures/evolution/old-bundle/live.ts: the
// TypeScript that `tagwire gen ts` wrote for tests/fixtures/evolution/v1,
// committed and frozen (run.sh copies it to generated/evolution/v1) because it
// stands for a page loaded last week, which nobody regenerates when the schema
// or the generator moves on. The new client is generated from v2 by run.sh.
// Both talk over real sockets to evolution-server
// (tests/src/bin/evolution-server.rs), built from v1 until a SIGTERM drain,
// then from v2 behind the same address (a TCP proxy switched to the new
// process, as a load balancer would be).
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { connect, type Client, type ClientOptions, type Mismatch, type OutdatedNotice, type ServerError, type UndecodableFrame } from "tagwire";
import * as old from "../generated/evolution/v1/live.js";
import * as current from "../generated/evolution/v2/live.js";
import { NodeWebSocket, opened, serverBinary, startProxy, startRelay, waitFor, type Proxy, type Relay } from "./relay.js";

type OldClient = Client<old.ServerMessage, old.ClientMessage>;
type NewClient = Client<current.ServerMessage, current.ClientMessage>;

const servers: Relay[] = [];
const proxies: Proxy[] = [];
const clients: { close(): void }[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const s of servers) s.stop();
  await Promise.all(proxies.map((p) => p.close()));
});

/** evolution-server speaking `protocol`; drains fast, with a short reconnect window for the jitter. */
async function server(protocol: "v1" | "v2"): Promise<Relay> {
  const args = ["--protocol", protocol, "--grace-ms", "50", "--window-ms", "100", "--reconnect-window-ms", "400"];
  const s = await startRelay(args, serverBinary("TAGWIRE_EVOLUTION_SERVER"));
  servers.push(s);
  return s;
}

function oldClient(url: string, options: ClientOptions): OldClient {
  const c = connect(url, old.Package, { WebSocket: NodeWebSocket, ...options });
  clients.push(c);
  return c;
}

function newClient(url: string): NewClient {
  const c = connect(url, current.Package, { WebSocket: NodeWebSocket, transport: "websocket" });
  clients.push(c);
  return c;
}

/** What a client heard besides messages, from connect on. */
interface Heard {
  outdated: OutdatedNotice[];
  mismatch: Mismatch[];
  errors: ServerError[];
  undecodable: UndecodableFrame[];
}

function listen<S, C>(c: Client<S, C>): Heard {
  const heard: Heard = { outdated: [], mismatch: [], errors: [], undecodable: [] };
  c.on("outdated", (n) => heard.outdated.push(n));
  c.on("mismatch", (m) => heard.mismatch.push(m));
  c.on("error", (e) => heard.errors.push(e));
  c.on("undecodable", (u) => heard.undecodable.push(u));
  return heard;
}

/** The next message from `c` whose `text` (Post) is `text`. */
function post<S extends { message: string; value: unknown }, C>(c: Client<S, C>, text: string): Promise<S> {
  return waitFor(c, "message", (m) => (m.message === "Post" && (m.value as { text?: unknown }).text === text ? m : undefined), `Post "${text}"`);
}

function message<S extends { message: string }, C>(c: Client<S, C>, name: string): Promise<S> {
  return waitFor(c, "message", (m) => (m.message === name ? m : undefined), `a ${name}`);
}

function outdated<S, C>(c: Client<S, C>, name: string): Promise<OutdatedNotice> {
  return waitFor(c, "outdated", (n) => (n.message === name ? n : undefined), `outdated for ${name}`);
}

/** The line of the next (or an already printed) `handled …` whose value has `text`. */
function handled(s: Relay, name: string, pick: (value: Record<string, unknown>) => boolean): Promise<unknown> {
  return s.line((l) => {
    if (!l.startsWith("handled ")) return undefined;
    const line = JSON.parse(l.slice("handled ".length)) as { message: string; value: Record<string, unknown> };
    return line.message === name && pick(line.value) ? line : undefined;
  }, `the handler receiving a ${name}`);
}

const sayV1 = (room: string, text: string): old.ClientMessage => ({ message: "Say", version: 1, value: { room, text } });

/** Says `text` in `room` as an old client, and waits for its own Post back (the room relays to the sender too). */
async function oldSays(c: OldClient, room: string, text: string): Promise<void> {
  const back = post(c, text);
  c.send(sayV1(room, text));
  assert.deepEqual(await back, { message: "Post", version: 1, value: { room, text } });
}

/** Waits for `c` to be told to reconnect by the drain, then to be open again. */
async function moved<S, C>(c: Client<S, C>): Promise<string | undefined> {
  const s = await waitFor(c, "status", (s) => (s.state === "reconnecting" ? s : undefined), "reconnecting");
  await opened(c);
  return s.state === "reconnecting" ? s.reason : undefined;
}

async function deploy(oldTransport: "websocket" | "sse"): Promise<void> {
  const v1 = await server("v1");
  const proxy = await startProxy(v1.addr);
  proxies.push(proxy);
  const url = `ws://${proxy.addr}/ws`;
  // Two tabs of last week's page; the fixed random sources put their
  // reconnects at a quarter and at three quarters of the notice's window.
  const alice = oldClient(url, { transport: oldTransport, random: () => 0.25 });
  const bob = oldClient(url, { transport: "websocket", encoding: "binary", random: () => 0.75 });
  const aliceHeard = listen(alice);
  const bobHeard = listen(bob);
  assert.deepEqual(await opened(alice), { state: "open", transport: oldTransport });
  await opened(bob);

  // Last week: same protocol on both sides.
  await oldSays(bob, "lobby", "bob joins");
  await oldSays(alice, "lobby", "alice joins");
  const toBob = post(bob, "hello from last week");
  alice.send(sayV1("lobby", "hello from last week"));
  assert.deepEqual(await toBob, { message: "Post", version: 1, value: { room: "lobby", text: "hello from last week" } });
  assert.deepEqual(await handled(v1, "Say", (v) => v["text"] === "hello from last week"), {
    message: "Say",
    version: 1,
    value: { room: "lobby", text: "hello from last week" },
  });

  // The deploy: the new server comes up, the proxy sends new connections to
  // it, the old one drains and every tab reconnects within the window.
  const v2 = await server("v2");
  const reconnects = [moved(alice), moved(bob)];
  proxy.backend = v2.addr;
  v1.process.kill("SIGTERM");
  assert.deepEqual(await Promise.all(reconnects), ["deploy", "deploy"]);
  assert.equal(await v1.exited, 0);
  assert.ok(v1.stdout.includes("drained"));
  assert.equal(alice.status.state === "open" && alice.status.transport, oldTransport);

  // This week. Rooms are per process: the old tabs rejoin by talking. Their
  // Say v1 reaches the handler as Say v2 with the schema's default mood;
  // the Post v2 it sends back reaches them as Post v1.
  await oldSays(bob, "lobby", "bob is back");
  assert.deepEqual(await handled(v2, "Say", (v) => v["text"] === "bob is back"), {
    message: "Say",
    version: 2,
    value: { room: "lobby", text: "bob is back", mood: "calm" },
  });
  await oldSays(alice, "lobby", "alice is back");

  // A tab loaded after the deploy runs the new bundle: its Say v2 arrives
  // intact, and it gets the new versions while the old tabs get the old ones.
  const carol = newClient(url);
  const carolHeard = listen(carol);
  const carolsOwn = post(carol, "carol arrives");
  const carolToAlice = post(alice, "carol arrives");
  const carolToBob = post(bob, "carol arrives");
  carol.send({ message: "Say", version: 2, value: { room: "lobby", text: "carol arrives", mood: "excited", reply_to: 7n } });
  assert.deepEqual(await handled(v2, "Say", (v) => v["text"] === "carol arrives"), {
    message: "Say",
    version: 2,
    value: { room: "lobby", text: "carol arrives", mood: "excited", reply_to: "7" },
  });
  const own = await carolsOwn;
  assert.equal(own.message === "Post" && own.version, 2);
  const carolId = own.message === "Post" && own.version === 2 ? own.value.author : "";
  assert.match(carolId, /^#\d+$/);
  assert.deepEqual(own.value, { room: "lobby", text: "carol arrives", author: carolId, edited: false });
  for (const got of [await carolToAlice, await carolToBob]) {
    assert.deepEqual(got, { message: "Post", version: 1, value: { room: "lobby", text: "carol arrives" } });
  }

  const aliceToCarol = post(carol, "hi carol");
  const aliceToBob = post(bob, "hi carol");
  alice.send(sayV1("lobby", "hi carol"));
  const fromAlice = await aliceToCarol;
  assert.equal(fromAlice.version, 2);
  assert.deepEqual(fromAlice.value, {
    room: "lobby",
    text: "hi carol",
    author: (fromAlice.value as current.PostV2).author,
    edited: false,
  });
  assert.notEqual((fromAlice.value as current.PostV2).author, carolId);
  assert.deepEqual(await aliceToBob, { message: "Post", version: 1, value: { room: "lobby", text: "hi carol" } });

  // Score v2 → v1 is the application's conversion: it fits in u32 here...
  const scores = [message(alice, "Score"), message(bob, "Score"), message(carol, "Score")] as const;
  alice.send(sayV1("lobby", "/score 42"));
  const [aliceScore, bobScore, carolScore] = await Promise.all(scores);
  assert.equal(aliceScore.version, 1);
  const player = (aliceScore.value as old.ScoreV1).player;
  assert.deepEqual(aliceScore, { message: "Score", version: 1, value: { player, points: 42 } });
  assert.deepEqual(bobScore, { message: "Score", version: 1, value: { player, points: 42 } });
  assert.deepEqual(carolScore, { message: "Score", version: 2, value: { player, points: 42n } });

  // ...and declines above u32::MAX: the old tabs are told they are outdated
  // (and keep their connection); the new one gets the score.
  const big = 5_000_000_000n;
  const notices = [outdated(alice, "Score"), outdated(bob, "Score")];
  const carolBig = message(carol, "Score");
  alice.send(sayV1("lobby", `/score ${big}`));
  assert.deepEqual(await carolBig, { message: "Score", version: 2, value: { player, points: big } });
  for (const n of await Promise.all(notices)) {
    assert.deepEqual({ ...n, reason: "" }, { header: current.SCORE_V2, message: "Score", version: 2, reason: "" });
    assert.ok(n.reason.includes("Score v2"), n.reason);
  }

  // Reaction is new in v2: nothing to convert it to.
  const reactions = [outdated(alice, "Reaction"), outdated(bob, "Reaction")];
  const carolReaction = message(carol, "Reaction");
  carol.send({ message: "Say", version: 2, value: { room: "lobby", text: "/react 👍", mood: "calm" } });
  assert.deepEqual(await carolReaction, { message: "Reaction", version: 1, value: { room: "lobby", emoji: "👍" } });
  for (const n of await Promise.all(reactions)) {
    assert.deepEqual({ ...n, reason: "" }, { header: current.REACTION_V1, message: "Reaction", version: 1, reason: "" });
  }

  // Typing was removed: the old tab that still sends it is told so, the
  // handler never sees it, and the connection goes on.
  const typing = outdated(alice, "Typing");
  alice.send({ message: "Typing", version: 1, value: { room: "lobby" } });
  const typingNotice = await typing;
  assert.deepEqual({ ...typingNotice, reason: "" }, { header: old.TYPING_V1, message: "Typing", version: 1, reason: "" });
  assert.ok(typingNotice.reason.includes("Typing v1 was removed"), typingNotice.reason);

  // Move v1 → v2 is the application's upgrade (a cell becomes its centre).
  const moveAnswer = post(bob, "moved to 3.5, 4.5");
  bob.send({ message: "Move", version: 1, value: { x: 3, y: 4 } });
  assert.deepEqual(await moveAnswer, { message: "Post", version: 1, value: { room: "", text: "moved to 3.5, 4.5" } });
  assert.deepEqual(await handled(v2, "Move", () => true), { message: "Move", version: 2, value: { x: 3.5, y: 4.5 } });

  // Still talking after all of it.
  const lastToBob = post(bob, "still here");
  const lastToCarol = post(carol, "still here");
  alice.send(sayV1("lobby", "still here"));
  await Promise.all([lastToBob, lastToCarol]);

  assert.deepEqual(
    aliceHeard.outdated.map((n) => n.message),
    ["Score", "Reaction", "Typing"],
  );
  assert.deepEqual(
    bobHeard.outdated.map((n) => n.message),
    ["Score", "Reaction"],
  );
  // The old tabs learnt of the new protocol at the welcome (once: v1 matched).
  const v2Welcome = { serverFingerprint: current.PROTOCOL_FINGERPRINT, serverPackage: "live" };
  assert.deepEqual(aliceHeard.mismatch, [v2Welcome]);
  assert.deepEqual(bobHeard.mismatch, [v2Welcome]);
  for (const heard of [aliceHeard, bobHeard]) {
    assert.deepEqual(heard.errors, []);
    assert.deepEqual(heard.undecodable, []);
  }
  assert.deepEqual(carolHeard, { outdated: [], mismatch: [], errors: [], undecodable: [] });
  assert.ok(!v2.stdout.some((l) => l.includes('"Typing"')), v2.stdout.join("\n"));
  assert.ok(!v2.stdout.some((l) => l.includes('"version":1')), `the handler saw a v1 message:\n${v2.stdout.join("\n")}`);
}

describe("the old bundle across a deploy from schema v1 to v2", { timeout: 30_000 }, () => {
  it("old tab over WebSocket (text; the other old tab binary): converted messages, outdated events, a new tab beside them", async () => {
    await deploy("websocket");
  });

  it("old tab over SSE: the same exchanges", async () => {
    await deploy("sse");
  });
});
