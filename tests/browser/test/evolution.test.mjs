// Protocol evolution in a browser: last week's page (demo/web-v1, generated
// from the board schema before `Say v2`, `Said v2`, `React` and `Reacted`
// existed, served at /v1/) and the current page side by side on a server built
// from today's schema, through a simulated deploy.
//
// - The old page's `Say v1` reaches the new page as `Said v2` in the default
//   colour; the new page's lines reach the old page converted to `Said v1`.
// - A reaction (no older version) reaches the old page as "protocol
//   outdated": its client reports the `outdated` event; the frozen page has
//   no code for it, so it shows nothing and keeps working (demo/web-v1/README.md).
// - A deploy moves both pages to the new instance, which converts the same
//   way; every line arrives, in order per sender. Screenshot of both pages
//   during the deploy: target/browser-artifacts/evolution-deploy.png.
//
// Real parts only: the demo binary (balancer, server instances), Chromium,
// both pages as ./scripts/demo builds them, loopback sockets.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  artifactPath,
  assertSenderOrder,
  boardHistory,
  boardState,
  browserSuite,
  chat,
  chatColors,
  openBoard,
  react,
  reactions,
  recordClientEvents,
  recordedClientEvents,
  sayAll,
  screenshotSideBySide,
  until,
  waitForLines,
} from "./helpers.mjs";

const suite = browserSuite();

/** The old page: the frozen v1 bundle at /v1/. */
async function openOldBoard(d, name, options = {}) {
  return openBoard(suite.browser, `${d.url}v1/`, name, options);
}

/** The protocol each page was generated with, read from the module it runs. */
async function protocolOf(page, base) {
  return page.evaluate(async (url) => {
    const gen = await import(url);
    return { fingerprint: gen.PROTOCOL_FINGERPRINT, headers: gen.Package.headers, reacted: gen.REACTED_V1 };
  }, `${base}app/gen/board.js`);
}

/** The "protocol outdated" notice a page built before `Reacted` gets for one. */
function assertReactedOutdated(notices, reactedHeader, count, who) {
  assert.equal(notices.length, count, `${who}'s outdated notices: ${JSON.stringify(notices)}`);
  for (const n of notices) {
    assert.deepEqual([n.header, n.message, n.version], [reactedHeader, "Reacted", 1], who);
    assert.ok(n.reason.length > 0, `${who}: a notice without a reason`);
  }
}

test("an old page and a new page talk across versions; a reaction reaches the old page as 'protocol outdated'", async () => {
  const d = await suite.demo();
  // Two old pages, over a WebSocket (text frames) and over SSE; one new page, binary frames.
  const olga = await openOldBoard(d, "olga");
  const otto = await openOldBoard(d, "otto", { query: "&transport=sse" });
  const nick = await openBoard(suite.browser, d.url, "nick", { query: "&encoding=binary&color=red" });
  const pages = { olga, otto, nick };
  const old = { olga, otto };

  // The two bundles really are different generations of the protocol.
  const v1 = await protocolOf(olga, `${d.url}v1/`);
  const v2 = await protocolOf(nick, d.url);
  assert.notEqual(v1.fingerprint, v2.fingerprint);
  assert.equal(v1.reacted, undefined, "the v1 bundle was generated before Reacted existed");
  assert.match(v2.reacted, /^[a-z]{2}$/);
  assert.ok(!v1.headers.includes(v2.reacted));
  assert.ok(v2.headers.length > v1.headers.length, `${JSON.stringify(v1.headers)} vs ${JSON.stringify(v2.headers)}`);
  // Nothing about the old pages looks different: no error, no banner.
  for (const [who, page] of Object.entries(pages)) {
    const s = await boardState(page);
    assert.deepEqual(
      [s.state, s.transport, s.instance, s.banner, s.update],
      ["open", who === "otto" ? "sse" : "websocket", "1", null, null],
      who,
    );
    await recordClientEvents(page);
  }

  const lines = ["olga: hello from last week", "nick: hello from v2, in red", "otto: sse from last week", "nick: ünïcödé | pipes ~"];
  await sayAll(pages, lines);
  for (const page of Object.values(pages)) await waitForLines(page, lines);
  for (const [who, page] of Object.entries(pages)) {
    const seen = await chat(page);
    assert.deepEqual([...seen].sort(), [...lines].sort(), `${who}'s chat`);
    assertSenderOrder(seen, ["nick: hello from v2, in red", "nick: ünïcödé | pipes ~"], who);
  }
  // The new page got every line as Said v2: old pages' lines in the default
  // colour (their Say v1 upgraded by the server), its own in red.
  assert.deepEqual(await chatColors(nick), {
    "olga: hello from last week": "ink",
    "nick: hello from v2, in red": "red",
    "otto: sse from last week": "ink",
    "nick: ünïcödé | pipes ~": "red",
  });

  // Reactions: the new page shows them; the old pages' clients are told
  // "protocol outdated" (one notice per reaction) and keep working.
  await react(nick, "🎉");
  await react(nick, "👍");
  await until("nick's reactions", 10_000, async () => (await reactions(nick)).length === 2);
  assert.deepEqual(await reactions(nick), ["nick 🎉", "nick 👍"]);
  for (const [who, page] of Object.entries(old)) {
    await until(`${who}'s outdated notices`, 10_000, async () => (await recordedClientEvents(page)).outdated.length === 2);
    const events = await recordedClientEvents(page);
    assertReactedOutdated(events.outdated, v2.reacted, 2, who);
    // Every frame the server sent decoded: conversions, never a Said v2.
    assert.deepEqual(events.undecodable, [], who);
    // The frozen page has no handler for it: what it shows is its runtime's console warning, once.
    const warnings = page.warnings.filter((w) => /protocol outdated/.test(w));
    assert.equal(warnings.length, 1, `${who}'s warnings: ${JSON.stringify(page.warnings)}`);
    assert.match(warnings[0], /Reacted v1/);
    const s = await boardState(page);
    assert.deepEqual([s.state, s.banner, s.update], ["open", null, null], who);
  }
  // The new page is current: nothing outdated, nothing it could not decode.
  assert.deepEqual(await recordedClientEvents(nick), { outdated: [], undecodable: [] });
  assert.equal((await boardState(nick)).update, null);

  // Still talking after the reactions.
  const more = ["otto: still here", "nick: me too", "olga: and me"];
  await sayAll(pages, more);
  for (const page of Object.values(pages)) await waitForLines(page, more);
  for (const [who, page] of Object.entries(pages)) {
    assert.equal((await chat(page)).length, lines.length + more.length, who);
    assert.deepEqual(page.problems, [], who);
  }
});

test("an old page and a new page side by side through a deploy: both move, conversions continue, nothing is lost", async () => {
  // As demo.test.mjs: a 3 s grace period so that a busy machine still types
  // the grace-period lines inside it. Both pages run on controllable clocks,
  // paused during the deploy so that their reconnect timers wait while the
  // screenshot is taken; messages and the drain notice still arrive.
  const d = await suite.demo(["--grace-ms", "3000"]);
  const olga = await openOldBoard(d, "olga", { clock: true });
  const nick = await openBoard(suite.browser, d.url, "nick", { query: "&color=blue", clock: true });
  const pages = { olga, nick };
  const v2 = await protocolOf(nick, d.url);
  for (const page of Object.values(pages)) await recordClientEvents(page);

  const before = ["olga: before 1", "nick: before 2", "olga: before 3"];
  await sayAll(pages, before);
  for (const page of Object.values(pages)) await waitForLines(page, before);
  await react(nick, "❤️");
  await until("olga's first outdated notice", 10_000, async () => (await recordedClientEvents(olga)).outdated.length === 1);

  for (const page of Object.values(pages)) {
    const now = await page.evaluate(() => Date.now());
    await page.context().clock.pauseAt(now + 50);
  }
  await nick.click("#deploy");
  await until("the deploy to be accepted", 10_000, async () => /Server #2 is up/.test((await nick.textContent("#note")) ?? ""));

  // The grace period: server #1 still serves both pages and converts for olga.
  const grace = ["olga: grace 1", "nick: grace 2", "olga: grace 3", "nick: grace 4"];
  await sayAll(pages, grace);
  for (const [who, page] of Object.entries(pages)) {
    const s = await boardState(page);
    assert.deepEqual([s.state, s.instance], ["open", "1"], `${who} left server #1 before the grace period ended`);
  }

  // Both drain notices arrive; with the clocks paused the banners stay up.
  for (const [who, page] of Object.entries(pages)) {
    await until(`${who}'s deploy banner`, 15_000, async () => (await boardState(page)).state === "reconnecting");
    assert.match((await boardState(page)).banner, /^Server updating, reconnecting in [1-4] s…$/, who);
  }
  const shot = artifactPath("evolution-deploy.png");
  await screenshotSideBySide(
    suite.browser,
    [
      { page: olga, caption: "old page: /v1/, last week's bundle (Say v1, Said v1)" },
      { page: nick, caption: "new page: /, this week's bundle (Say v2, Said v2, React)" },
    ],
    shot,
  );
  console.log(`screenshot of the old and the new page during the deploy: ${shot}`);

  // Sent while reconnecting: queued, sent after the next hello (to #2).
  const queued = ["olga: sent while reconnecting", "nick: sent while reconnecting"];
  await sayAll(pages, queued);
  for (const page of Object.values(pages)) await page.context().clock.resume();
  for (const [who, page] of Object.entries(pages)) {
    await until(`${who} on server #2`, 15_000, async () => {
      const s = await boardState(page);
      return s.state === "open" && s.instance === "2" && s.banner === null;
    });
  }

  // Server #2 converts for the old page too.
  const afterDeploy = ["nick: after 1", "olga: after 2", "nick: after 3"];
  await sayAll(pages, afterDeploy);
  await react(nick, "👍");
  const everything = [...before, ...grace, ...afterDeploy];
  for (const page of Object.values(pages)) await waitForLines(page, everything);
  for (const [who, page] of Object.entries(pages)) {
    await waitForLines(page, queued.filter((l) => l.startsWith(`${who}:`)));
  }
  await until("olga's second outdated notice", 10_000, async () => (await recordedClientEvents(olga)).outdated.length === 2);
  // The server sends the reaction to each member in no particular order:
  // olga's notice coming first says nothing about nick's copy.
  await until("nick's own 👍 back from server #2", 10_000, async () => (await reactions(nick)).length === 2);
  assert.deepEqual(await reactions(nick), ["nick ❤️", "nick 👍"]);

  for (const [who, page] of Object.entries(pages)) {
    // Each line once (a queued line reaches the other page only if it was
    // connected when the line was relayed), each sender's in order.
    const seen = (await chat(page)).filter((l) => !queued.includes(l));
    assert.deepEqual([...seen].sort(), [...everything].sort(), `${who}'s chat`);
    for (const sender of Object.keys(pages)) {
      assertSenderOrder(seen, everything.filter((l) => l.startsWith(`${sender}:`)), who);
    }
    const history = await boardHistory(page);
    assert.ok(
      history.statuses.some((s) => s.state === "reconnecting" && s.reason === "deploy" && s.message === "Server updating"),
      `${who} never reconnected for a deploy`,
    );
    const events = await recordedClientEvents(page);
    assert.deepEqual(events.undecodable, [], who);
    assert.deepEqual(page.problems, [], who);
  }
  // The old page: one notice per reaction, from #1 and from #2.
  assertReactedOutdated((await recordedClientEvents(olga)).outdated, v2.reacted, 2, "olga");
  assert.equal((await boardState(olga)).update, null, "the v1 page has no update banner");
  // The new page: every line in its sender's colour, whichever server relayed it.
  const colors = await chatColors(nick);
  for (const line of everything) assert.equal(colors[line], line.startsWith("nick:") ? "blue" : "ink", line);
  assert.deepEqual((await recordedClientEvents(nick)).outdated, []);

  await until("server #1's drain report", 15_000, async () => /instance drained instance=1 /.test(d.log()));
  const report = /instance drained instance=1 .*/.exec(d.log())?.[0] ?? "";
  assert.match(report, /notified: 2,/, report);
  assert.match(report, /cut_at_deadline: 0,/, report);
});
