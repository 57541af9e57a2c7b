// Runs one contender of the TypeScript codec benchmark over the dataset in a
// loop, for a profiler (the TypeScript counterpart of src/bin/profile.rs):
//
//   node --cpu-prof --cpu-prof-dir=prof dist/src/profile.js traffic.jsonl tagwire-text encode 5
//
// Arguments: the dataset's JSON lines, the contender (tagwire-text or
// tagwire-binary), the direction (encode or decode) and how many seconds to run.

import { readFileSync } from "node:fs";
import {
  type ServerMessage,
  decodeServerMessageBinary,
  decodeServerMessageText,
  encodeServerMessageBinary,
  encodeServerMessageText,
  fromJsonServerMessage,
} from "../generated/traffic.js";

const [path, contender, direction, seconds = "5"] = process.argv.slice(2);
if (path === undefined || contender === undefined || direction === undefined) {
  console.error("usage: node dist/src/profile.js DATASET.jsonl tagwire-text|tagwire-binary encode|decode [SECONDS]");
  process.exit(2);
}
const messages: ServerMessage[] = readFileSync(path, "utf8")
  .split("\n")
  .filter((l) => l.length > 0)
  .map((l) => fromJsonServerMessage(JSON.parse(l)));

// Both encodings through the generated functions first, as the benchmark's
// round-trip check does, so their call sites see both writers and readers
// (polymorphic) in the profile as in the measurement.
for (const m of messages) {
  decodeServerMessageText(encodeServerMessageText(m));
  decodeServerMessageBinary(encodeServerMessageBinary(m));
}

let pass: () => number;
if (contender === "tagwire-text") {
  // As the benchmark decodes them: flat strings, as a socket delivers them.
  const received = (f: string): string => new TextDecoder().decode(new TextEncoder().encode(f));
  const frames = messages.map(encodeServerMessageText).map(received);
  pass =
    direction === "encode"
      ? () => messages.reduce((n, m) => n + encodeServerMessageText(m).length, 0)
      : () => frames.reduce((n, f) => n + decodeServerMessageText(f).version, 0);
} else if (contender === "tagwire-binary") {
  const frames = messages.map(encodeServerMessageBinary);
  pass =
    direction === "encode"
      ? () => messages.reduce((n, m) => n + encodeServerMessageBinary(m).length, 0)
      : () => frames.reduce((n, f) => n + decodeServerMessageBinary(f).version, 0);
} else {
  console.error(`unknown contender ${contender}: tagwire-text or tagwire-binary`);
  process.exit(2);
}
if (direction !== "encode" && direction !== "decode") {
  console.error(`unknown direction ${direction}: encode or decode`);
  process.exit(2);
}

const end = performance.now() + Number(seconds) * 1000;
let passes = 0;
let sink = 0;
while (performance.now() < end) {
  sink += pass();
  passes++;
}
console.error(`${contender} ${direction}: ${passes} passes of ${messages.length} messages (checksum ${sink})`);
