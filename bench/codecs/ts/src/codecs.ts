// The TypeScript half of the codec benchmark (docs/BENCHMARKS.md): the
// generated text and binary codecs against JSON.stringify/JSON.parse (also
// through TextEncoder/TextDecoder, as a binary frame), JSON.parse plus the
// hand-written validation an app needs to trust its input, and the plain
// `|`-delimited split/join (SPEC §3.8) written by hand, on exactly the values
// of the Rust benchmark (the dataset's JSON lines, read with the generated
// fromJsonServerMessage).
//
// Usage: node dist/src/codecs.js DATASET.jsonl [--quick] [--cpu-time]
// `--cpu-time` times each round by the process's CPU time instead of the wall
// clock: on a machine shared with other work, time spent descheduled then
// counts for no contender.
// Prints a Markdown section to stdout, progress to stderr.

import { appendFileSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import {
  type Align,
  type Change,
  type ServerMessage,
  type Status,
  type Tag,
  type Tool,
  Align as AlignValues,
  Status as StatusValues,
  Tag as TagValues,
  Tool as ToolValues,
  decodeServerMessageBinary,
  decodeServerMessageText,
  encodeServerMessageBinary,
  encodeServerMessageText,
  fromJsonServerMessage,
} from "../generated/traffic.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const cpuTime = args.includes("--cpu-time");
const path = args.find((a) => !a.startsWith("--"));
if (path === undefined) {
  console.error("usage: node dist/src/codecs.js DATASET.jsonl [--quick] [--cpu-time]");
  process.exit(2);
}
const loadBefore = loadavg();
const messages: ServerMessage[] = readFileSync(path, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => fromJsonServerMessage(JSON.parse(l)));

// ---- JSON with validation ---------------------------------------------------

class Invalid extends Error {}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Invalid("not an object");
  return v as Record<string, unknown>;
}
function u(v: unknown, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new Invalid("not an unsigned integer");
  return v;
}
function i(v: unknown, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new Invalid("not an integer");
  return v;
}
function f(v: unknown): number {
  if (typeof v !== "number") throw new Invalid("not a number");
  return v;
}
function s(v: unknown): string {
  if (typeof v !== "string") throw new Invalid("not a string");
  return v;
}
function b(v: unknown): boolean {
  if (typeof v !== "boolean") throw new Invalid("not a bool");
  return v;
}
function oneOf<T extends string>(v: unknown, values: Record<T, number>): T {
  if (typeof v !== "string" || !Object.hasOwn(values, v)) throw new Invalid("not a variant");
  return v as T;
}
function opt<T>(v: unknown, check: (v: unknown) => T): T | undefined {
  return v === undefined ? undefined : check(v);
}
function list<T>(v: unknown, check: (v: unknown) => T): T[] {
  if (!Array.isArray(v)) throw new Invalid("not an array");
  for (const x of v) check(x);
  return v as T[];
}
const U8 = 0xff;
const U16 = 0xffff;
const U32 = 0xffffffff;

function change(v: unknown): Change {
  const o = obj(v);
  switch (o["$case"]) {
    case "none":
      return o as Change;
    case "moved":
      i(o["x"], -(2 ** 31), 2 ** 31 - 1);
      i(o["y"], -(2 ** 31), 2 ** 31 - 1);
      return o as Change;
    case "resized":
      u(o["w"], U16);
      u(o["h"], U16);
      return o as Change;
    case "styled":
      s(o["class"]);
      return o as Change;
    default:
      throw new Invalid("not a Change");
  }
}

/** What an app writes to trust a parsed frame: every field's type and range. */
function validate(json: unknown): ServerMessage {
  const m = obj(json);
  if (m["version"] !== 1) throw new Invalid("unknown version");
  const v = obj(m["value"]);
  switch (m["message"]) {
    case "CursorMove":
      u(v["user"], U32);
      u(v["seq"], U32);
      u(v["at_ms"], U32);
      f(v["x"]);
      f(v["y"]);
      u(v["buttons"], U8);
      oneOf<Tool>(v["tool"], ToolValues);
      opt(v["pressure"], f);
      break;
    case "Presence":
      u(v["user"], U32);
      s(v["name"]);
      oneOf<Status>(v["status"], StatusValues);
      s(v["room"]);
      opt(v["color"], s);
      s(v["client"]);
      break;
    case "Chat":
      s(v["room"]);
      u(v["user"], U32);
      u(v["seq"], U32);
      s(v["text"]);
      opt(v["reply_to"], (x) => u(x, U32));
      break;
    case "Typing":
      s(v["room"]);
      u(v["user"], U32);
      b(v["typing"]);
      break;
    case "UiPatch":
      u(v["node"], U32);
      b(v["visible"]);
      opt(v["enabled"], b);
      opt(v["width"], (x) => i(x, -(2 ** 31), 2 ** 31 - 1));
      opt(v["height"], (x) => i(x, -(2 ** 31), 2 ** 31 - 1));
      oneOf<Align>(v["align"], AlignValues);
      opt(v["label"], s);
      i(v["z"], -32768, 32767);
      change(v["change"]);
      break;
    case "Selection":
      u(v["user"], U32);
      list(v["ids"], (x) => u(x, U32));
      break;
    case "ListUpdate":
      s(v["list"]);
      u(v["offset"], U32);
      list(v["rows"], (x) => {
        const r = obj(x);
        u(r["id"], U32);
        s(r["title"]);
        b(r["done"]);
        i(r["score"], -(2 ** 31), 2 ** 31 - 1);
      });
      break;
    case "Reaction":
      u(v["message"], U32);
      u(v["user"], U32);
      s(v["emoji"]);
      break;
    case "Ack":
      u(v["seq"], U32);
      break;
    case "RenderTree":
      s(v["root"]);
      u(v["version"], U32);
      list(v["nodes"], (x) => {
        const n = obj(x);
        u(n["parent"], U16);
        oneOf<Tag>(n["tag"], TagValues);
        opt(n["id"], s);
        opt(n["class"], s);
        opt(n["text"], s);
      });
      break;
    default:
      throw new Invalid("unknown message");
  }
  return m as unknown as ServerMessage;
}

// ---- split/join by hand (SPEC §3.8) ------------------------------------------

const esc = (x: string): string => x.replaceAll("\\", "\\\\").replaceAll("|", "\\p");
const unesc = (x: string): string => (x.includes("\\") ? x.replaceAll("\\p", "|").replaceAll("\\\\", "\\") : x);
const optNum = (x: number | undefined): string => (x === undefined ? "~" : String(x));
const optStr = (x: string | undefined): string => (x === undefined ? "~" : esc(x));
const flag = (x: boolean): string => (x ? "1" : "0");
const TOOLS: Tool[] = ["pointer", "pen", "eraser", "hand"];
const STATUSES: Status[] = ["online", "away", "busy", "offline"];
const ALIGNS: Align[] = ["start", "center", "end", "stretch"];
const TAGS = Object.keys(TagValues) as Tag[];

function encodeNaive(m: ServerMessage): string {
  switch (m.message) {
    case "CursorMove": {
      const v = m.value;
      return ["aa", v.user, v.seq, v.at_ms, v.x, v.y, v.buttons, ToolValues[v.tool], optNum(v.pressure)].join("|");
    }
    case "Presence": {
      const v = m.value;
      return ["ab", v.user, esc(v.name), StatusValues[v.status], esc(v.room), optStr(v.color), esc(v.client)].join("|");
    }
    case "Chat": {
      const v = m.value;
      return ["ac", esc(v.room), v.user, v.seq, esc(v.text), optNum(v.reply_to)].join("|");
    }
    case "Typing": {
      const v = m.value;
      return ["ad", esc(v.room), v.user, flag(v.typing)].join("|");
    }
    case "UiPatch": {
      const v = m.value;
      const c = v.change;
      const change =
        c.$case === "none"
          ? "0"
          : c.$case === "moved"
            ? `1|${c.x}|${c.y}`
            : c.$case === "resized"
              ? `2|${c.w}|${c.h}`
              : `3|${esc(c.class)}`;
      return [
        "ae",
        v.node,
        flag(v.visible),
        v.enabled === undefined ? "~" : flag(v.enabled),
        optNum(v.width),
        optNum(v.height),
        AlignValues[v.align],
        optStr(v.label),
        v.z,
        change,
      ].join("|");
    }
    case "Selection":
      return ["af", m.value.user, m.value.ids.length, ...m.value.ids].join("|");
    case "ListUpdate": {
      const v = m.value;
      const parts: (string | number)[] = ["ag", esc(v.list), v.offset, v.rows.length];
      for (const r of v.rows) parts.push(r.id, esc(r.title), flag(r.done), r.score);
      return parts.join("|");
    }
    case "Reaction":
      return ["ah", m.value.message, m.value.user, esc(m.value.emoji)].join("|");
    case "Ack":
      return "ai|" + m.value.seq;
    case "RenderTree": {
      const v = m.value;
      const parts: (string | number)[] = ["aj", esc(v.root), v.version, v.nodes.length];
      for (const n of v.nodes) parts.push(n.parent, TagValues[n.tag], optStr(n.id), optStr(n.class), optStr(n.text));
      return parts.join("|");
    }
  }
}

function decodeNaive(frame: string): ServerMessage {
  const p = frame.split("|");
  let k = 1;
  const num = (): number => Number(p[k++]);
  const str = (): string => unesc(p[k++] ?? "");
  const bool = (): boolean => p[k++] === "1";
  const optN = (): number | undefined => {
    const t = p[k++];
    return t === "~" ? undefined : Number(t);
  };
  const optS = (): string | undefined => {
    const t = p[k++];
    return t === "~" || t === undefined ? undefined : unesc(t);
  };
  // Optional fields are left out when absent, as the generated decoders do.
  const put = <T extends object>(o: T, key: string, x: unknown): void => {
    if (x !== undefined) (o as Record<string, unknown>)[key] = x;
  };
  switch (p[0]) {
    case "aa": {
      const value = {
        user: num(),
        seq: num(),
        at_ms: num(),
        x: num(),
        y: num(),
        buttons: num(),
        tool: TOOLS[num()] as Tool,
      };
      put(value, "pressure", optN());
      return { message: "CursorMove", version: 1, value };
    }
    case "ab": {
      const value = { user: num(), name: str(), status: STATUSES[num()] as Status, room: str() };
      put(value, "color", optS());
      return { message: "Presence", version: 1, value: { ...value, client: str() } };
    }
    case "ac": {
      const value = { room: str(), user: num(), seq: num(), text: str() };
      put(value, "reply_to", optN());
      return { message: "Chat", version: 1, value };
    }
    case "ad":
      return { message: "Typing", version: 1, value: { room: str(), user: num(), typing: bool() } };
    case "ae": {
      const value: Record<string, unknown> = { node: num(), visible: bool() };
      const enabled = p[k++];
      if (enabled !== "~") value["enabled"] = enabled === "1";
      put(value, "width", optN());
      put(value, "height", optN());
      value["align"] = ALIGNS[num()];
      put(value, "label", optS());
      value["z"] = num();
      const c = num();
      value["change"] =
        c === 0
          ? { $case: "none" }
          : c === 1
            ? { $case: "moved", x: num(), y: num() }
            : c === 2
              ? { $case: "resized", w: num(), h: num() }
              : { $case: "styled", class: str() };
      return { message: "UiPatch", version: 1, value } as unknown as ServerMessage;
    }
    case "af": {
      const user = num();
      const n = num();
      const ids: number[] = [];
      for (let j = 0; j < n; j++) ids.push(num());
      return { message: "Selection", version: 1, value: { user, ids } };
    }
    case "ag": {
      const list = str();
      const offset = num();
      const n = num();
      const rows = [];
      for (let j = 0; j < n; j++) rows.push({ id: num(), title: str(), done: bool(), score: num() });
      return { message: "ListUpdate", version: 1, value: { list, offset, rows } };
    }
    case "ah":
      return { message: "Reaction", version: 1, value: { message: num(), user: num(), emoji: str() } };
    case "ai":
      return { message: "Ack", version: 1, value: { seq: num() } };
    case "aj": {
      const root = str();
      const version = num();
      const n = num();
      const nodes = [];
      for (let j = 0; j < n; j++) {
        const node = { parent: num(), tag: TAGS[num()] as Tag };
        put(node, "id", optS());
        put(node, "class", optS());
        put(node, "text", optS());
        nodes.push(node);
      }
      return { message: "RenderTree", version: 1, value: { root, version, nodes } };
    }
    default:
      throw new Error("unknown header " + p[0]);
  }
}

// ---- measurement -------------------------------------------------------------

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
const n = messages.length;
// String frames are decoded as a socket delivers them: their UTF-8 bytes
// decoded to a new string. An encoder's own result can be a rope (Tagwire's
// text writer concatenates tokens) that the engine reads more slowly than the
// flat strings JSON.stringify returns and sockets deliver; decoding it would
// measure how the frame was made, not the decoder.
const received = (frame: string): string => utf8Decoder.decode(utf8Encoder.encode(frame));
const text = messages.map(encodeServerMessageText).map(received);
const binary = messages.map(encodeServerMessageBinary);
const json = messages.map((m) => JSON.stringify(m)).map(received);
const jsonBytes = json.map((j) => utf8Encoder.encode(j));
const naive = messages.map(encodeNaive).map(received);

// Same values everywhere: every contender reads back what the codecs hold.
const canon = (m: ServerMessage): string => encodeServerMessageText(m);
for (let k = 0; k < n; k++) {
  const want = text[k] as string;
  const got = [
    canon(decodeServerMessageText(want)),
    canon(decodeServerMessageBinary(binary[k] as Uint8Array)),
    canon(validate(JSON.parse(json[k] as string))),
    canon(JSON.parse(utf8Decoder.decode(jsonBytes[k] as Uint8Array)) as ServerMessage),
    canon(decodeNaive(naive[k] as string)),
  ];
  if (got.some((g) => g !== want)) throw new Error(`message ${k} does not round-trip: ${want} / ${got.join(" / ")}`);
}

let sink = 0;
const roundMs = quick ? 60 : 300;
const rounds = quick ? 5 : 15;

/** Nanoseconds on the clock rounds are timed by: wall, or the process's CPU time (`--cpu-time`). */
const clock = cpuTime
  ? (): number => {
      const u = process.cpuUsage();
      return (u.user + u.system) * 1000;
    }
  : (): number => performance.now() * 1e6;

/** Median over rounds of ns per message; each round runs whole passes for about roundMs. */
function measure(name: string, pass: () => void): number {
  // Warm-up: lets the JIT settle on this function.
  const warmEnd = clock() + roundMs * 2e6;
  while (clock() < warmEnd) pass();
  const results: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let passes = 0;
    const start = clock();
    const end = start + roundMs * 1e6;
    let now: number;
    do {
      pass();
      passes++;
      now = clock();
    } while (now < end);
    results.push((now - start) / passes / n);
  }
  results.sort((a, b) => a - b);
  const median = results[Math.floor(results.length / 2)] as number;
  console.error(`${name}: ${median.toFixed(1)} ns/msg`);
  return median;
}

const enc = {
  text: measure("encode tagwire-text", () => {
    for (const m of messages) sink += encodeServerMessageText(m).length;
  }),
  binary: measure("encode tagwire-binary", () => {
    for (const m of messages) sink += encodeServerMessageBinary(m).length;
  }),
  json: measure("encode JSON.stringify", () => {
    for (const m of messages) sink += JSON.stringify(m).length;
  }),
  jsonBytes: measure("encode TextEncoder(JSON.stringify)", () => {
    for (const m of messages) sink += utf8Encoder.encode(JSON.stringify(m)).length;
  }),
  naive: measure("encode naive", () => {
    for (const m of messages) sink += encodeNaive(m).length;
  }),
};
const dec = {
  text: measure("decode tagwire-text", () => {
    for (const f of text) sink += decodeServerMessageText(f).version;
  }),
  binary: measure("decode tagwire-binary", () => {
    for (const f of binary) sink += decodeServerMessageBinary(f).version;
  }),
  json: measure("decode JSON.parse", () => {
    for (const f of json) sink += (JSON.parse(f) as ServerMessage).version;
  }),
  jsonValidated: measure("decode JSON.parse + validation", () => {
    for (const f of json) sink += validate(JSON.parse(f)).version;
  }),
  jsonBytes: measure("decode JSON.parse(TextDecoder)", () => {
    for (const f of jsonBytes) sink += (JSON.parse(utf8Decoder.decode(f)) as ServerMessage).version;
  }),
  jsonBytesValidated: measure("decode JSON.parse(TextDecoder) + validation", () => {
    for (const f of jsonBytes) sink += validate(JSON.parse(utf8Decoder.decode(f))).version;
  }),
  naive: measure("decode naive", () => {
    for (const f of naive) sink += decodeNaive(f).version;
  }),
};

// ---- report -------------------------------------------------------------------

const utf8Len = (x: string): number => utf8Encoder.encode(x).length;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const bytes = {
  text: mean(text.map(utf8Len)),
  binary: mean(binary.map((b) => b.length)),
  json: mean(jsonBytes.map((b) => b.length)),
  naive: mean(naive.map(utf8Len)),
};
const fmt = (x: number | undefined): string => (x === undefined ? "–" : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const ratio = (x: number | undefined, base: number): string => (x === undefined ? "–" : (x / base).toFixed(2));

const rows: [string, number | undefined, number | undefined, number][] = [
  ["Tagwire text", enc.text, dec.text, bytes.text],
  ["Tagwire binary", enc.binary, dec.binary, bytes.binary],
  ["JSON.stringify / JSON.parse (string frame)", enc.json, dec.json, bytes.json],
  ["JSON.parse + validation (string frame)", undefined, dec.jsonValidated, bytes.json],
  ["TextEncoder + JSON.stringify / TextDecoder + JSON.parse (binary frame)", enc.jsonBytes, dec.jsonBytes, bytes.json],
  ["TextDecoder + JSON.parse + validation (binary frame)", undefined, dec.jsonBytesValidated, bytes.json],
  ["naive split/join", enc.naive, dec.naive, bytes.naive],
];

const out: string[] = [];
out.push("### TypeScript (Node)", "");
out.push(
  `${n} messages of the same dataset, one frame each; median of ${rounds} rounds of about ${roundMs} ms ` +
    `(${quick ? "quick" : "full"} mode${cpuTime ? ", timed by CPU time" : ""}) after a warm-up, in ns per message. Ratios are the contender's time over ` +
    "Tagwire's: above 1, Tagwire is that many times faster. Node " +
    process.versions.node +
    ".",
  "",
);
out.push("| contender | encode ns/msg | ÷ text | ÷ binary | decode ns/msg | ÷ text | ÷ binary | bytes/msg |");
out.push("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [name, e, d, size] of rows) {
  out.push(
    `| ${name} | ${fmt(e)} | ${ratio(e, enc.text)} | ${ratio(e, enc.binary)} | ${fmt(d)} | ${ratio(d, dec.text)} | ${ratio(d, dec.binary)} | ${size.toFixed(1)} |`,
  );
}
out.push("");
const targets: [string, number, boolean][] = [
  ["binary decode ≥ 3× TextDecoder + JSON.parse", dec.jsonBytes / dec.binary, dec.jsonBytes / dec.binary >= 3],
  ["binary encode ≥ 2× TextEncoder + JSON.stringify", enc.jsonBytes / enc.binary, enc.jsonBytes / enc.binary >= 2],
  ["text decode faster than JSON.parse + validation", dec.jsonValidated / dec.text, dec.jsonValidated / dec.text > 1],
  ["text encode not slower than JSON.stringify", enc.json / enc.text, enc.json / enc.text >= 1],
  ["text decode not slower than JSON.parse", dec.json / dec.text, dec.json / dec.text >= 1],
  ["binary encode not slower than TextEncoder + JSON.stringify", enc.jsonBytes / enc.binary, enc.jsonBytes / enc.binary >= 1],
  ["binary decode not slower than TextDecoder + JSON.parse", dec.jsonBytes / dec.binary, dec.jsonBytes / dec.binary >= 1],
];
// The issue-wide targets table of scripts/bench reads these (bench/src/figures.rs).
const figuresFile = process.env["TAGWIRE_BENCH_FIGURES"];
if (figuresFile) {
  appendFileSync(
    figuresFile,
    `ts.text.encode.vs.json ${enc.json / enc.text}\nts.text.decode.vs.json_validated ${dec.jsonValidated / dec.text}\n`,
  );
}
out.push("| target | measured | |", "| --- | ---: | --- |");
for (const [name, x, ok] of targets) out.push(`| ${name} | ${x.toFixed(2)}× | ${ok ? "met" : "**missed**"} |`);
out.push("");
out.push(
  `Machine: ${cpus().length} cores, ${cpus()[0]?.model ?? "?"}; load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")} ` +
    `before the run, ${loadavg().map((l) => l.toFixed(2)).join(" ")} after.`,
);
console.log(out.join("\n"));
if (sink === 0.5) console.error(sink);
