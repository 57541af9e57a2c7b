// The TypeScript client as one member of tests/tests/scale/redis_outage.rs: a real
// Node.js process, connected to a Rust node whose rooms go through Redis while
// that Redis is killed, restarted, stopped and continued. Not a node:test file:
// the Rust test compiles it (with the runtime and the generated relay module)
// and runs it; run.sh type-checks it with the others.
//
//   node redis-outage-client.js URL NAME ROOMS PUBLISH_MS ECHO_MS EVENTS
//
// Once open it joins ROOMS (comma-separated), then publishes `NAME-n` to them in
// turn every PUBLISH_MS and sends an echo every ECHO_MS (the local traffic that
// must go on without Redis), until the server answers an echo with the body
// `stop`. Everything it sees is appended to the file EVENTS, one JSON object a
// line, with `at` (wall clock, ms): {"event":"status","state"},
// {"event":"message","room","epoch","seq","body"},
// {"event":"gap","room","kind","epoch","seq"}, {"event":"echo","seq","rtt_ms"}.
// Positions are strings: they are bigints here, and JSON has no such numbers.
// Its stdout says how far it got, a line each: `joined`, `stopped PUBLISHED
// ECHOES_SENT ECHOES_BACK`, and `done` on SIGTERM, after which it closes and
// exits 0.
import { appendFileSync } from "node:fs";
import { connect } from "tagwire";
import { Package } from "../generated/relay.js";

const args = process.argv.slice(2);
if (args.length !== 6) {
  process.stderr.write("usage: redis-outage-client URL NAME ROOMS PUBLISH_MS ECHO_MS EVENTS\n");
  process.exit(2);
}
const [url, name, roomList, publishMs, echoMs, events] = args as [string, string, string, string, string, string];

/** Appended at once: the test reads the file while this runs. */
function out(record: Record<string, string | number>): void {
  appendFileSync(events, `${JSON.stringify({ ...record, at: performance.timeOrigin + performance.now() })}\n`);
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

const rooms = roomList.split(",");
// Node 20 has a WHATWG WebSocket behind --experimental-websocket (the test
// passes it), later versions without: the client's default is the global one.
const client = connect(url, Package, { transport: "websocket" });

let published = 0;
let echoesSent = 0;
let echoesBack = 0;
const echoSentAt = new Map<bigint, number>();
const timers: ReturnType<typeof setInterval>[] = [];
let joined = false;
let stopped = false;

client.on("status", (status) => {
  out({ event: "status", state: status.state });
  if (status.state !== "open" || joined) return;
  joined = true;
  for (const room of rooms) client.send({ message: "Join", version: 1, value: { room } });
  // Frames are handled in order: when this comes back, every join is done.
  client.send({ message: "Echo", version: 1, value: { seq: 0n, body: "joined" } });
});

client.on("message", (message, delivery) => {
  if (message.message === "Echo") {
    if (message.value.seq === 0n) {
      say("joined");
      start();
      return;
    }
    if (message.value.body === "stop") {
      if (stopped) return;
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      say(`stopped ${published} ${echoesSent} ${echoesBack}`);
      return;
    }
    const sent = echoSentAt.get(message.value.seq);
    echoSentAt.delete(message.value.seq);
    echoesBack += 1;
    out({ event: "echo", seq: Number(message.value.seq), rtt_ms: sent === undefined ? -1 : performance.now() - sent });
    return;
  }
  if (message.message === "Delivered" && delivery !== undefined) {
    out({
      event: "message",
      room: delivery.room,
      epoch: delivery.position.epoch.toString(),
      seq: delivery.position.seq.toString(),
      body: message.value.body,
    });
  }
});

client.on("gap", (gap) => {
  out({ event: "gap", room: gap.room, kind: gap.kind, epoch: gap.position.epoch.toString(), seq: gap.position.seq.toString() });
});

function start(): void {
  timers.push(
    setInterval(() => {
      published += 1;
      const room = rooms[published % rooms.length] ?? "";
      client.send({ message: "Publish", version: 1, value: { room, seq: BigInt(published), body: `${name}-${published}` } });
    }, Number(publishMs)),
  );
  timers.push(
    setInterval(() => {
      echoesSent += 1;
      const seq = BigInt(echoesSent);
      echoSentAt.set(seq, performance.now());
      client.send({ message: "Echo", version: 1, value: { seq, body: `${name} echo` } });
    }, Number(echoMs)),
  );
}

process.on("SIGTERM", () => {
  for (const timer of timers) clearInterval(timer);
  say("done");
  client.close();
  process.stdout.write("", () => process.exit(0));
});
