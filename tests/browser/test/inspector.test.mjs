// The live inspector (docs/OPERATING.md, "The live inspector"): the relay
// server with the inspector on (tests/src/bin/inspector-server.rs), a page
// that talks to it over a raw browser WebSocket with known frames, and the
// inspector page showing that connection, its room, and its frames decoded
// by name, in order, both ways.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { artifactPath, env, launchBrowser, newPage, until } from "./helpers.mjs";

const TOKEN = "inspector-test-token";

/** Starts the inspector server on a free port; resolves with its address. */
async function startServer() {
  const child = spawn(env("INSPECTOR_BIN"), ["127.0.0.1:0", "--token", TOKEN], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const addr = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the inspector server did not start:\n${stderr}`)), 15_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`the inspector server exited with ${code}:\n${stderr}`)));
  });
  return { addr, stop: () => child.kill("SIGKILL") };
}

let browser, server;
before(async () => {
  browser = await launchBrowser();
  server = await startServer();
});
after(async () => {
  server?.stop();
  await browser?.close();
});

test("the inspector shows a connection, its room and its frames decoded, live", async () => {
  const base = `http://${server.addr}`;

  // Refused without the token.
  const refused = await fetch(`${base}/_inspect/state`);
  assert.equal(refused.status, 401);

  // The client: a page of the same origin with a raw WebSocket.
  const client = await newPage(browser);
  await client.goto(`${base}/health`);
  await client.evaluate(async (url) => {
    window.received = [];
    window.ws = new WebSocket(url);
    window.ws.onmessage = (e) => window.received.push(e.data);
    await new Promise((resolve, reject) => {
      window.ws.onopen = resolve;
      window.ws.onerror = reject;
    });
    window.ws.send("aa|lobby");
  }, `ws://${server.addr}/ws`);

  const inspector = await newPage(browser, { viewport: { width: 1300, height: 900 } });
  await inspector.goto(`${base}/_inspect?token=${TOKEN}`);
  const row = inspector.locator("#connections tbody tr.conn");
  await until("the connection in the table", 10_000, async () => (await row.count()) === 1);
  const cells = await row.first().locator("td").allTextContents();
  const [id, peer, transport, encoding, , outdated, rooms] = cells;
  assert.match(id, /^\d+$/);
  assert.match(peer, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual([transport, encoding, outdated, rooms], ["websocket", "text", "no", "lobby"]);
  const roomCells = await inspector.locator("#rooms tbody tr").first().locator("td").allTextContents();
  assert.equal(roomCells[0], "lobby");
  assert.equal(roomCells[1], "subscribed");
  assert.match(roomCells[2], new RegExp(`^${id} @ `));
  assert.equal(await inspector.locator("#drain").textContent(), "serving");
  assert.equal(await inspector.locator("#backend").textContent(), "connected");

  // Watch it, then the client sends known frames.
  await row.first().click();
  await inspector.waitForFunction((id) => document.body.dataset.watching === id, id);
  // One at a time, each after the reply to the one before: frames are shown
  // as they pass, and a connection reads what has arrived before it writes,
  // so frames sent together would interleave by timing.
  await client.evaluate(async () => {
    for (const frame of ["ae|1|first", "ac|lobby|2|hello room", "ae|3|third ünï"]) {
      const before = window.received.length;
      window.ws.send(frame);
      while (window.received.length === before) await new Promise((r) => setTimeout(r, 10));
    }
  });
  const frames = inspector.locator("#frames tbody tr.frame");
  await until("six frames on the page", 10_000, async () => (await frames.count()) >= 6);
  const shown = [];
  for (const r of await frames.all()) {
    const [, dir, header, name, , value] = await r.locator("td").allTextContents();
    shown.push({ dir, header, name, value });
  }
  assert.deepEqual(
    shown.map((f) => `${f.dir} ${f.header} ${f.name}`),
    ["in ae Echo", "out ae Echo", "in ac Publish", "out ad Delivered", "in ae Echo", "out ae Echo"],
  );
  assert.match(shown[0].value, /seq: 1, body: "first"/);
  assert.match(shown[2].value, /room: "lobby", seq: 2, body: "hello room"/);
  assert.match(shown[3].value, /^room lobby @\S+: .*body: "hello room"/);
  assert.match(shown[4].value, /body: "third ünï"/);
  // What the client got matches what the inspector says went out.
  const replies = await client.evaluate(() => window.received.filter((f) => /^(ae|_h)\|/.test(f)));
  assert.deepEqual(replies.map((f) => f.slice(0, 2)), ["ae", "_h", "ae"]);
  assert.match(replies[1], /^_h\|lobby\|.*\|ad\|lobby\|\d+\|2\|hello room$/);

  // Filter by name, then raw one click away.
  await inspector.fill("#filter", "publish");
  assert.equal(await frames.count(), 1);
  await inspector.check("#showraw");
  assert.equal(await frames.first().locator("td.raw").textContent(), "ac|lobby|2|hello room");
  await inspector.fill("#filter", "");
  // The connection table counts the frames.
  await until("the counters", 5_000, async () => {
    const c = await row.first().locator("td").allTextContents();
    return Number(c[9]) === 4 && Number(c[10]) === 4; // the welcome and three replies
  });
  // The room's member was last sent the position the envelope carried.
  const position = /^_h\|lobby\|(\d+)\|(\d+)\|/.exec(replies[1]);
  await until("the member's position", 5_000, async () => {
    const cells = await inspector.locator("#rooms tbody tr").first().locator("td").allTextContents();
    return cells[2] === `${id} @ ${position[1]}/${position[2]}`;
  });
  await inspector.screenshot({ path: artifactPath("inspector.png"), fullPage: true });

  // The client page is /health, plain text: the browser asks for a favicon
  // the server does not have.
  assert.deepEqual(client.problems.filter((p) => !p.includes("404")), []);
  assert.deepEqual(inspector.problems, []);
});
