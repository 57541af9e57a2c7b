// What the browser tests share: headless Chromium, the demo server as a
// child process, a static file server, and a proxy that refuses WebSockets.
// run.sh builds everything first and passes the binaries' paths in the
// environment (DEMO_BIN, TAGWIRE_BIN).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { after, before } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, "../../..");
export const ARTIFACTS = resolve(process.env.BROWSER_ARTIFACTS ?? join(REPO, "target/browser-artifacts"));

export function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with tests/browser/run.sh`);
  return value;
}

/**
 * Headless Chromium from Debian, with a fresh profile: Playwright's launch()
 * always runs the browser on a new temporary user-data dir, deleted on close.
 * Each test user gets its own context (cookies, cache and connection pool),
 * like separate browsers.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * A new page in a new context, with page errors and console errors collected
 * in `page.problems`, console warnings in `page.warnings`.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1100, height: 640 } });
  if (options.clock) await context.clock.install();
  const page = await context.newPage();
  page.problems = [];
  page.warnings = [];
  page.on("pageerror", (e) => page.problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") page.problems.push(`console: ${m.text()}`);
    if (m.type() === "warning") page.warnings.push(m.text());
  });
  return page;
}

/** Polls `check` every 20 ms until it returns a truthy value; fails after `ms`. */
export async function until(what, ms, check) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (${last})` : ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Starts the demo (`tagwire-demo --port 0`) and resolves once it prints its
 * address. `stop()` kills it; `log()` is everything it wrote to stderr.
 */
export async function startDemo(extraArgs = []) {
  const child = spawn(env("DEMO_BIN"), ["--port", "0", ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "info" },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((resolvePromise, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the demo did not start:\n${stderr}`)), 15_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /tagwire demo on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited with ${code}:\n${stderr}`));
    });
  });
  return {
    url,
    log: () => stderr,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r();
        child.on("exit", () => r());
        child.kill("SIGKILL");
      }),
  };
}

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".map": "application/json" };

/** Serves `routes` (`{ "/prefix/": dir }`) on 127.0.0.1:0. */
export async function staticServer(routes) {
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    for (const [prefix, dir] of Object.entries(routes)) {
      if (!path.startsWith(prefix)) continue;
      const file = normalize(join(dir, path.slice(prefix.length) || "index.html"));
      if (!file.startsWith(resolve(dir) + sep)) break;
      try {
        const body = readFileSync(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404).end("not found");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(r)) };
}

/**
 * An HTTP proxy in front of `upstream` (http://127.0.0.1:PORT/) that answers
 * every WebSocket upgrade with 403, as some corporate proxies do, and
 * forwards everything else, streaming responses (so Server-Sent Events pass).
 * Counts what it refused and forwarded.
 */
export async function refusingProxy(upstream) {
  const target = new URL(upstream);
  const counts = { refusedUpgrades: 0, forwarded: [] };
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    counts.forwarded.push(`${req.method} ${req.url}`);
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  server.on("upgrade", (req, socket) => {
    counts.refusedUpgrades += 1;
    socket.end("HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: 25\r\nconnection: close\r\n\r\nWebSockets are blocked.\r\n");
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    counts,
    close: () =>
      new Promise((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function artifactPath(name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  return join(ARTIFACTS, name);
}

/**
 * Screenshots of several pages, taken now, laid side by side with a caption
 * each into one PNG at `path` (composed by Chromium itself, in a page of its
 * own: no image library needed).
 */
export async function screenshotSideBySide(browser, shots, path) {
  const images = [];
  for (const { page, caption } of shots) {
    images.push({ caption, src: `data:image/png;base64,${(await page.screenshot()).toString("base64")}` });
  }
  const { width, height } = shots[0].page.viewportSize();
  const sheet = await newPage(browser, { viewport: { width: (width + 12) * shots.length, height: height + 40 } });
  await sheet.setContent(
    `<body style="margin:0;display:flex;gap:12px;background:#1d2330;font:15px system-ui,sans-serif">${images
      .map(
        (i) =>
          `<figure style="margin:0"><figcaption style="color:#fff;padding:8px 10px">${i.caption}</figcaption><img src="${i.src}" width="${width}" height="${height}"></figure>`,
      )
      .join("")}</body>`,
  );
  await sheet.waitForFunction(() => [...document.images].every((i) => i.complete && i.naturalWidth > 0));
  await sheet.screenshot({ path, fullPage: true });
  await sheet.context().close();
}

// ---- driving the demo's board page ----

/** Opens the board as `name` and waits until it is connected and has joined. */
export async function openBoard(browser, baseUrl, name, { query = "", clock = false } = {}) {
  const page = await newPage(browser, { clock });
  await page.goto(`${baseUrl}?name=${encodeURIComponent(name)}${query}`);
  await page.waitForSelector("#status[data-state=open]", { timeout: 10_000 });
  await page.waitForSelector("#instance[data-instance]", { timeout: 10_000 });
  return page;
}

/** Types `text` into the chat box and presses Enter, as a person would. */
export async function say(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

/** The chat lines on `page`, as "name: text". */
export async function chat(page) {
  return page.$$eval("#lines li", (items) => items.map((li) => `${li.dataset.name}: ${li.dataset.text}`));
}

/**
 * The colour of each chat line on `page` (the current page only: the v1 page
 * predates colours), as `{ "name: text": color }`.
 */
export async function chatColors(page) {
  return page.$$eval("#lines li", (items) =>
    Object.fromEntries(items.map((li) => [`${li.dataset.name}: ${li.dataset.text}`, li.dataset.color])),
  );
}

/** Clicks the reaction button for `emoji` (the current page only). */
export async function react(page, emoji) {
  await page.click(`#react button[data-emoji="${emoji}"]`);
}

/** The reactions `page` shows, oldest first, as "name emoji". */
export async function reactions(page) {
  return page.$$eval("#reactions li", (items) => items.map((li) => `${li.dataset.name} ${li.dataset.emoji}`).reverse());
}

/**
 * Records what the page's client reports that the page itself may not show:
 * its "protocol outdated" notices and the frames it could not decode, in
 * `globalThis.recorded`. The board pages expose their client for this as
 * `globalThis.board.client`, the v1 page too.
 */
export async function recordClientEvents(page) {
  await page.evaluate(() => {
    const recorded = { outdated: [], undecodable: [] };
    globalThis.recorded = recorded;
    globalThis.board.client.on("outdated", (n) => recorded.outdated.push(n));
    globalThis.board.client.on("undecodable", (f) => recorded.undecodable.push(f));
  });
}

/** What {@link recordClientEvents} recorded so far. */
export async function recordedClientEvents(page) {
  return page.evaluate(() => JSON.parse(JSON.stringify(globalThis.recorded)));
}

/** Waits until `page` shows every line of `expected` ("name: text"). */
export async function waitForLines(page, expected, ms = 10_000) {
  await until(`${expected.length} chat lines`, ms, async () => {
    const seen = await chat(page);
    return expected.every((l) => seen.includes(l));
  });
}

/**
 * The page's connection status: state, transport pill, instance pill,
 * banner, and the "new version" banner (`update`: null when hidden or, on
 * the v1 page, absent).
 */
export async function boardState(page) {
  return page.evaluate(() => {
    const text = (id) => {
      const e = document.getElementById(id);
      return e === null || e.hidden ? null : e.textContent.replace(/\s+/g, " ").trim();
    };
    return {
      state: document.getElementById("status")?.dataset.state,
      transport: document.getElementById("transport")?.textContent,
      instance: document.getElementById("instance")?.dataset.instance,
      banner: text("banner"),
      update: text("update"),
    };
  });
}

/** What the page recorded (`globalThis.board.history`): every status and banner text. */
export async function boardHistory(page) {
  return page.evaluate(() => JSON.parse(JSON.stringify(globalThis.board.history)));
}

/**
 * One Chromium for a test file's tests, and the teardown of what they start
 * (last started, first stopped). `suite.browser` is set once the file's
 * `before` hook ran; `suite.demo(args)` starts a demo that is stopped at the end.
 */
export function browserSuite() {
  const cleanups = [];
  const suite = {
    browser: undefined,
    cleanup(stop) {
      cleanups.push(stop);
    },
    async demo(args = []) {
      const d = await startDemo(args);
      cleanups.push(d.stop);
      return d;
    },
  };
  before(async () => {
    suite.browser = await launchBrowser();
  });
  after(async () => {
    for (const stop of cleanups.reverse()) await stop();
    await suite.browser?.close();
  });
  return suite;
}

/** Types each `"who: text"` line on the page named `who`, in order. */
export async function sayAll(pages, lines) {
  for (const line of lines) {
    const [who, text] = line.split(": ");
    await say(pages[who], text);
  }
}

/** Lines in the order `page` shows them must hold each sender's lines in the order sent. */
export function assertSenderOrder(seen, sent, who) {
  const mine = seen.filter((l) => sent.includes(l));
  assert.deepEqual(mine, sent, `${who} shows ${JSON.stringify(sent[0])}… out of order or with gaps`);
}
