// (b) Two pages of the demo exchange chat lines and cursors; (c) a
// simulated deploy shows the banner and every page moves to the new server,
// with everything sent before the drain delivered; (e) a screenshot of the
// page during the deploy is saved as an artifact.
//
// Real parts only: the demo binary (balancer, server instances), Chromium,
// the page as built by ./scripts/demo, and loopback sockets.

import assert from "node:assert/strict";
import { test } from "node:test";
import {
  artifactPath,
  assertSenderOrder,
  boardHistory,
  boardState,
  browserSuite,
  chat,
  openBoard,
  say,
  sayAll,
  until,
  waitForLines,
} from "./helpers.mjs";

const suite = browserSuite();

test("two pages exchange chat lines and cursors (one speaks text frames, one binary)", async () => {
  const d = await suite.demo();
  const alice = await openBoard(suite.browser, d.url, "alice");
  const bob = await openBoard(suite.browser, d.url, "bob", { query: "&encoding=binary" });
  for (const page of [alice, bob]) {
    assert.deepEqual(await boardState(page), { state: "open", transport: "websocket", instance: "1", banner: null, update: null });
  }

  await say(alice, "hello bob");
  await say(bob, "hello alice, ünïcödé and | pipes ~");
  await say(alice, "how are you?");
  const expected = ["alice: hello bob", "bob: hello alice, ünïcödé and | pipes ~", "alice: how are you?"];
  await waitForLines(alice, expected);
  await waitForLines(bob, expected);
  for (const page of [alice, bob]) {
    const seen = await chat(page);
    assert.equal(seen.length, 3, `exactly the three lines: ${JSON.stringify(seen)}`);
    assertSenderOrder(seen, ["alice: hello bob", "alice: how are you?"], "a page");
  }

  // Alice's pointer over the board shows up as her cursor on Bob's page.
  const box = await alice.locator("#board").boundingBox();
  assert.ok(box);
  await alice.mouse.move(box.x + box.width * 0.25, box.y + box.height * 0.5);
  await alice.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.25, { steps: 5 });
  const cursor = bob.locator(".cursor", { hasText: "alice" });
  await cursor.waitFor({ timeout: 5000 });
  await until("alice's cursor at 75% / 25%", 5000, async () => {
    const style = await cursor.evaluate((el) => [el.style.left, el.style.top]);
    return style[0] === "75%" && style[1] === "25%";
  });
  // Nobody sees their own cursor echoed; Bob, who has not moved, is in the top left corner of Alice's board.
  assert.equal(await alice.locator(".cursor", { hasText: "alice" }).count(), 0);
  const bobs = alice.locator(".cursor", { hasText: "bob" });
  await bobs.waitFor({ timeout: 5000 });
  assert.deepEqual(await bobs.evaluate((el) => [el.style.left, el.style.top]), ["0%", "0%"]);

  for (const page of [alice, bob]) assert.deepEqual(page.problems, []);
});

test("a simulated deploy shows the banner, every page moves to the new server, nothing sent before the drain is lost", async () => {
  // The demo's timings (notices over 2 s, reconnect window 4 s), with a grace
  // period of 3 s rather than 2 so that a busy machine still types the
  // grace-period lines inside it.
  const d = await suite.demo(["--grace-ms", "3000"]);
  const alice = await openBoard(suite.browser, d.url, "alice");
  const bob = await openBoard(suite.browser, d.url, "bob", { query: "&encoding=binary" });
  // Carol's page runs on a controllable clock: it is paused during the deploy
  // so her reconnect timer waits while the screenshot is taken. Messages and
  // the drain notice still arrive; only her timers stand still.
  const carol = await openBoard(suite.browser, d.url, "carol", { clock: true });
  const pages = { alice, bob, carol };
  for (const page of Object.values(pages)) assert.equal((await boardState(page)).instance, "1");

  const before = ["alice: before 1", "bob: before 2", "alice: before 3"];
  await sayAll(pages, before);
  for (const page of Object.values(pages)) await waitForLines(page, before);

  const carolNow = await carol.evaluate(() => Date.now());
  await carol.context().clock.pauseAt(carolNow + 50);

  await alice.click("#deploy");
  await until("the deploy to be accepted", 10_000, async () =>
    /Server #2 is up/.test((await alice.textContent("#note")) ?? ""),
  );

  // During the grace period the old server still serves: all of this is
  // accepted by server #1 and must reach everyone before its drain notice.
  const grace = [];
  for (let i = 1; i <= 6; i++) grace.push(`alice: grace ${i}`);
  for (let i = 1; i <= 3; i++) grace.push(`bob: grace ${i}`);
  await sayAll(pages, grace);
  for (const [who, page] of Object.entries(pages)) {
    const s = await boardState(page);
    assert.deepEqual([s.state, s.instance], ["open", "1"], `${who} left server #1 before the grace period ended`);
  }

  // Carol's drain notice arrives; with her clock paused the banner stays up.
  await until("carol's banner", 10_000, async () => (await boardState(carol)).state === "reconnecting");
  const carolBanner = (await boardState(carol)).banner;
  assert.match(carolBanner, /^Server updating, reconnecting in [1-4] s…$/);
  const shot = artifactPath("deploy.png");
  await carol.screenshot({ path: shot });
  console.log(`screenshot of the page during the deploy: ${shot} (banner ${JSON.stringify(carolBanner)})`);

  // Alice speaks while she is reconnecting (queued, sent after her next
  // hello), or, if her notice came early and she is back already, on #2.
  await until("alice reconnecting or moved", 10_000, async () => {
    const s = await boardState(alice);
    return s.state !== "open" || s.instance === "2";
  });
  const queued = "alice: sent while reconnecting";
  await say(alice, queued.slice("alice: ".length));

  for (const who of ["alice", "bob"]) {
    await until(`${who} on server #2`, 15_000, async () => {
      const s = await boardState(pages[who]);
      return s.state === "open" && s.instance === "2" && s.banner === null;
    });
  }
  await carol.context().clock.resume();
  await until("carol on server #2", 15_000, async () => {
    const s = await boardState(carol);
    return s.state === "open" && s.instance === "2";
  });

  const afterDeploy = ["bob: after 1", "carol: after 2", "alice: after 3"];
  await sayAll(pages, afterDeploy);
  const everything = [...before, ...grace, ...afterDeploy];
  for (const page of Object.values(pages)) await waitForLines(page, everything);
  await waitForLines(alice, [queued]);

  for (const [who, page] of Object.entries(pages)) {
    // Each line once (the queued one may or may not reach the others: they
    // may have been between connections when it was relayed).
    const seen = (await chat(page)).filter((l) => l !== queued);
    assert.deepEqual([...seen].sort(), [...everything].sort(), `${who}'s chat`);
    for (const sender of ["alice", "bob", "carol"]) {
      assertSenderOrder(seen, everything.filter((l) => l.startsWith(`${sender}:`)), who);
    }
    // The deploy was announced as one, with the drain notice's reason ("Server updating").
    const history = await boardHistory(page);
    const deploys = history.statuses.filter((s) => s.state === "reconnecting");
    assert.ok(
      deploys.some((s) => s.reason === "deploy" && s.message === "Server updating"),
      `${who} never reconnected for a deploy: ${JSON.stringify(deploys)}`,
    );
    assert.ok(
      history.banners.some((b) => /^Server updating, reconnecting( in [1-4] s)?…$/.test(b)),
      `${who}'s banners: ${JSON.stringify(history.banners)}`,
    );
    assert.deepEqual(page.problems, [], who);
  }

  // The old server notified all three and cut nobody at its deadline.
  await until("server #1's drain report", 15_000, async () => /instance drained instance=1 /.test(d.log()));
  const report = /instance drained instance=1 .*/.exec(d.log())?.[0] ?? "";
  assert.match(report, /notified: 3,/, report);
  assert.match(report, /cut_at_deadline: 0,/, report);
});
