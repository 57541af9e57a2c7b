// Cursors are presence (SPEC §9.8): each page of the demo is a member of the
// board's cursors under a key kept in its tab's sessionStorage. Page B shows
// page A's cursor and name where A's pointer is; when A closes, B shows A's
// cursor until the linger has passed (500 ms here), then not.
//
// Real parts only: the demo binary (balancer, server instance, in-process
// backend with presence), Chromium, the page as built by ./scripts/demo.

import assert from "node:assert/strict";
import { test } from "node:test";
import { browserSuite, openBoard, until } from "./helpers.mjs";

const suite = browserSuite();
const LINGER_MS = 500;

/** Where a cursor element sits, as its style says (`["75%", "25%"]`). */
const placeOf = (cursor) => cursor.evaluate((el) => [el.style.left, el.style.top]);

test("page B shows page A's cursor and name through presence, and drops it after the linger once A closes", async () => {
  const d = await suite.demo(["--linger-ms", String(LINGER_MS)]);
  const a = await openBoard(suite.browser, d.url, "ann");
  const b = await openBoard(suite.browser, d.url, "ben", { query: "&encoding=binary" });
  const memberA = await a.evaluate(() => globalThis.board.member);
  const memberB = await b.evaluate(() => globalThis.board.member);
  assert.match(memberA, /^[0-9a-f]{32}$/);
  assert.notEqual(memberA, memberB, "each tab is its own member");
  // The key is the tab's: a reload keeps it.
  assert.equal(await a.evaluate(() => sessionStorage.getItem("tagwire-board-member")), memberA);

  // B sees A as soon as both are there (A joined first: B's snapshot has A), before A moves.
  const aOnB = b.locator(`.cursor[data-member="${memberA}"]`);
  await aOnB.waitFor({ timeout: 5000 });
  assert.equal(await aOnB.textContent(), "ann");
  // A sees B (B joined after A: a join event), and never itself.
  const bOnA = a.locator(`.cursor[data-member="${memberB}"]`);
  await bOnA.waitFor({ timeout: 5000 });
  assert.equal(await bOnA.textContent(), "ben");
  assert.equal(await a.locator(`.cursor[data-member="${memberA}"]`).count(), 0);

  // A moves: B's cursor of A follows, to where A's pointer stopped.
  const box = await a.locator("#board").boundingBox();
  assert.ok(box);
  await a.mouse.move(box.x + box.width * 0.2, box.y + box.height * 0.6);
  await a.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.3, { steps: 8 });
  await until("A's cursor at 60% / 30% on B", 5000, async () => {
    const [left, top] = await placeOf(aOnB);
    return left === "60%" && top === "30%";
  });
  // The state is the page's presence in B's client too, by member key.
  const state = await b.evaluate((key) => globalThis.board.client.presence("cursors").get(key), memberA);
  assert.deepEqual(state, { message: "Cursor", version: 1, value: { name: "ann", x: 600, y: 300 } });

  // A closes. Its member lingers (a reload or a deploy would be back in time), then leaves.
  const problemsA = a.problems;
  const closed = Date.now();
  await a.context().close();
  await new Promise((resolve) => setTimeout(resolve, LINGER_MS / 5));
  assert.equal(await aOnB.count(), 1, "still shown within the linger");
  await until("A's cursor gone from B", 10_000, async () => (await aOnB.count()) === 0);
  const gone = Date.now() - closed;
  assert.ok(gone >= LINGER_MS, `A's cursor went after ${gone} ms, before the ${LINGER_MS} ms linger`);
  assert.equal(await b.evaluate((key) => globalThis.board.client.presence("cursors").has(key), memberA), false);
  // B is still there, and its own cursor is not shown to itself.
  assert.equal(await b.locator(`.cursor[data-member="${memberB}"]`).count(), 0);
  console.log(`presence: A's cursor left B's board ${gone} ms after A closed (linger ${LINGER_MS} ms)`);

  assert.deepEqual(problemsA, []);
  assert.deepEqual(b.problems, []);
});
