// (a) The conformance suite in a real browser: every values line goes
// through the generated TypeScript inside Chromium (JSON → text and binary
// frames → decoded again) and must give the frames and canonical JSON that
// the Rust CLI (`tagwire encode` / `tagwire decode`, the compiler's
// schema-driven codec) gives; every invalid frame must be refused with the
// error kind the CLI names.

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { HERE, REPO, env, launchBrowser, newPage, staticServer } from "./helpers.mjs";

const SCHEMA = join(REPO, "conformance/suite/conformance.schema");
const VALUES = join(REPO, "conformance/suite/values.jsonl");
const INVALID = join(REPO, "conformance/suite/invalid.txt");

function cli(args, input) {
  return execFileSync(env("TAGWIRE_BIN"), args, { input, encoding: "utf8", maxBuffer: 64 << 20 });
}

function lines(text) {
  return text.split("\n").filter((l) => l !== "");
}

/** The invalid file's frames, as conformance/README.md describes the format. */
function invalidFrames() {
  const frames = [];
  for (const line of readFileSync(INVALID, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("hex:")) frames.push({ hex: line.slice(4).replace(/\s+/g, "") });
    else if (line.startsWith("json:")) frames.push({ text: JSON.parse(line.slice(5)) });
    else frames.push({ text: line });
  }
  return frames;
}

const KINDS = [
  "truncated", "trailing_data", "unknown_header", "invalid_utf8", "invalid_varint", "out_of_range",
  "unknown_enum_value", "unknown_variant", "invalid_token", "invalid_bool", "invalid_escape",
  "invalid_base64", "duplicate_map_key", "unsorted_map_keys", "frame_too_large", "collection_too_long",
  "string_too_long", "too_deep", "missing_separator",
];

/** The error kind the CLI names for `frame` ("error: out of range at token 1 …" → out_of_range). */
function cliKind(frame) {
  const args = ["decode", SCHEMA, ...("hex" in frame ? ["--binary-hex", frame.hex] : [frame.text])];
  const run = spawnSync(env("TAGWIRE_BIN"), args, { encoding: "utf8" });
  assert.equal(run.status, 1, `the CLI accepted invalid frame ${JSON.stringify(frame)}: ${run.stdout}`);
  const message = run.stderr.replace(/^error: /, "");
  const kind = KINDS.filter((k) => message.startsWith(k.replaceAll("_", " "))).sort((a, b) => b.length - a.length)[0];
  assert.ok(kind, `no error kind in the CLI's ${JSON.stringify(run.stderr)}`);
  return kind;
}

let browser;
let site;

before(async () => {
  browser = await launchBrowser();
  site = await staticServer({
    "/app/": join(HERE, "../build/pages"),
    "/tagwire/": join(REPO, "runtime/typescript/dist"),
    "/": join(HERE, "../pages"),
  });
});

after(async () => {
  await browser?.close();
  await site?.close();
});

test("the conformance values round-trip through the generated TypeScript in Chromium", async () => {
  const values = lines(readFileSync(VALUES, "utf8"));
  const texts = lines(cli(["encode", SCHEMA, VALUES, "--text"]));
  const hexes = lines(cli(["encode", SCHEMA, VALUES, "--binary-hex"]));
  const decoded = lines(cli(["decode", SCHEMA], texts.join("\n") + "\n")).map((l) => {
    const { message, version, value } = JSON.parse(l);
    return { message, version, value };
  });
  assert.equal(values.length, 370, "the suite's values file");
  assert.equal(texts.length, values.length);
  assert.equal(hexes.length, values.length);
  assert.equal(decoded.length, values.length);

  const page = await newPage(browser);
  await page.goto(`${site.url}conformance.html`);
  await page.waitForFunction(() => document.getElementById("state")?.textContent === "ready");
  const userAgent = await page.evaluate(() => navigator.userAgent);
  assert.match(userAgent, /HeadlessChrome\//);
  const answers = await page.evaluate((ls) => globalThis.conformance.roundTrip(ls), values);
  assert.equal(answers.length, values.length);

  const failures = [];
  answers.forEach((a, i) => {
    const where = `values line ${i + 1}`;
    if (!a.ok) return failures.push(`${where}: the page refused it: ${a.error}`);
    if (a.value.text !== texts[i]) failures.push(`${where}: text frame ${JSON.stringify(a.value.text)} != CLI ${JSON.stringify(texts[i])}`);
    if (a.value.hex !== hexes[i]) failures.push(`${where}: binary frame ${a.value.hex} != CLI ${hexes[i]}`);
    // Parsed, not as text: JavaScript lists integer-like keys first (docs/TYPESCRIPT.md).
    for (const [from, json] of [["text", a.value.fromText], ["binary", a.value.fromBinary]]) {
      try {
        assert.deepStrictEqual(JSON.parse(json), decoded[i]);
      } catch {
        failures.push(`${where}: decoding the ${from} frame gave ${json}, the CLI ${JSON.stringify(decoded[i])}`);
      }
    }
  });
  assert.deepEqual(page.problems, []);
  assert.equal(failures.length, 0, `${failures.length} failures:\n${failures.slice(0, 10).join("\n")}`);
});

test("the invalid frames are refused in Chromium with the CLI's error kinds", async () => {
  const frames = invalidFrames();
  assert.ok(frames.length > 100, `only ${frames.length} invalid frames`);
  const expected = frames.map(cliKind);

  const page = await newPage(browser);
  await page.goto(`${site.url}conformance.html`);
  await page.waitForFunction(() => document.getElementById("state")?.textContent === "ready");
  const answers = await page.evaluate((fs) => globalThis.conformance.refuse(fs), frames);

  const failures = [];
  answers.forEach((a, i) => {
    const where = `invalid frame ${JSON.stringify(frames[i])}`;
    if (!a.rejected) failures.push(`${where}: ${a.error}`);
    else if (a.kind !== expected[i]) failures.push(`${where}: refused as ${a.kind}, the CLI says ${expected[i]}`);
  });
  assert.equal(failures.length, 0, `${failures.length} failures:\n${failures.slice(0, 10).join("\n")}`);
});
