// The examples run as a newcomer runs them, on loopback sockets and in
// headless Chromium: the chat server with the Rust client and the page, the
// derive example, and an app made by `tagwire new`. run.sh builds everything
// and passes the binaries' paths in the environment.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import { launchBrowser, newPage } from "../browser/test/helpers.mjs";

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with tests/examples/run.sh`);
  return value;
}

const running = [];
let browser;

before(async () => {
  browser = await launchBrowser();
});

after(async () => {
  for (const stop of running.reverse()) await stop();
  await browser?.close();
});

/** Starts a server binary on a free port; resolves with its URL once it prints "… on http://…/". */
async function startServer(bin) {
  const child = spawn(bin, ["127.0.0.1:0"], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  running.push(
    () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.on("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  );
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${bin} printed no address within 10 s:\n${out}${stderr}`)), 10_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = / on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code}:\n${out}${stderr}`));
    });
  });
}

/** Runs a binary to completion (killed after `ms`); resolves with its exit code and output. */
function run(bin, args, ms = 20_000) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Opens the page as `author` and waits until its client is connected. */
async function openChat(url, author) {
  const page = await newPage(browser);
  await page.goto(url);
  await page.waitForSelector("#status[data-state=open]", { timeout: 10_000 });
  await page.fill("#author", author);
  return page;
}

/** Waits until `page` shows the line `author: text`. */
async function seeLine(page, author, text) {
  await page.locator("#lines li", { has: page.locator("b", { hasText: author }), hasText: text }).first().waitFor({ timeout: 10_000 });
  const lines = await page.$$eval("#lines li", (items) => items.map((li) => `${li.dataset.author}: ${li.dataset.text}`));
  assert.ok(lines.includes(`${author}: ${text}`), `no line "${author}: ${text}" in ${JSON.stringify(lines)}`);
}

/** Two pages chat: Alice types a line, both see it relayed by the server. */
async function chatInBrowser(url) {
  const alice = await openChat(url, "alice");
  const bob = await openChat(url, "bob");
  await alice.fill("#text", "hello bob | ünïcödé");
  await alice.press("#text", "Enter");
  await seeLine(bob, "alice", "hello bob | ünïcödé");
  await seeLine(alice, "alice", "hello bob | ünïcödé");
  return { alice, bob };
}

test("chat: the Rust client says a line and the server relays it back", async () => {
  const url = await startServer(env("CHAT_BIN"));
  const ws = `${url.replace(/^http/, "ws")}ws`;
  const r = await run(env("RUST_CLIENT_BIN"), [ws, "hello from the test"]);
  assert.equal(r.code, 0, `the client failed:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^rust: hello from the test$/m);
});

test("chat: the page, bundled by esbuild, chats in Chromium, and hears the Rust client", async () => {
  const url = await startServer(env("CHAT_BIN"));
  const { alice, bob } = await chatInBrowser(url);
  const r = await run(env("RUST_CLIENT_BIN"), [`${url.replace(/^http/, "ws")}ws`, "hello from Rust"]);
  assert.equal(r.code, 0, `the client failed:\n${r.stdout}${r.stderr}`);
  await seeLine(bob, "rust", "hello from Rust");
  for (const page of [alice, bob]) assert.deepEqual(page.problems, []);
});

test("derive: the Rust-first protocol's server and client run to completion", async () => {
  const r = await run(env("DERIVE_BIN"), []);
  assert.equal(r.code, 0, `the derive example failed:\n${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /^message Move v1 from client @"aa" \{ to: Point \}$/m);
  assert.match(r.stdout, /^server sent Moved \{ who: \d+, to: Point \{ x: 0\.25, y: 0\.5 \} \}: "ba\|\d+\|0\.25\|0\.5"$/m);
});

test("tagwire new: the app it writes serves its page, which chats in Chromium", async () => {
  const url = await startServer(env("NEW_APP_BIN"));
  const { alice, bob } = await chatInBrowser(url);
  for (const page of [alice, bob]) assert.deepEqual(page.problems, []);
});
