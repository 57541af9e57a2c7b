// Runs the conformance suite's values and invalid frames through the
// generated TypeScript (conformance/suite/conformance.schema) inside the
// browser. The test passes the lines in and compares the answers with the
// Rust CLI's frames and decodes; nothing here knows the expected results.

import { DecodeError } from "tagwire";
import * as P from "./gen/conformance.js";

export interface Encoded {
  text: string;
  hex: string;
  /** The text frame decoded again, as canonical JSON text. */
  fromText: string;
  /** The binary frame decoded again, as canonical JSON text. */
  fromBinary: string;
}

export type Answer = { ok: true; value: Encoded } | { ok: false; error: string };
export type Refusal = { rejected: true; kind: string } | { rejected: false; error: string };

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A "both" message decodes as either direction; the server side is tried first. */
function decodeEither<T>(server: () => T, client: () => T): T {
  try {
    return server();
  } catch (e) {
    if (!(e instanceof DecodeError) || e.kind !== "unknown_header") throw e;
    return client();
  }
}

function roundTrip(line: string): Answer {
  try {
    const json: unknown = JSON.parse(line);
    let frames: { text: string; binary: Uint8Array };
    try {
      const m = P.fromJsonServerMessage(json);
      frames = { text: P.encodeServerMessageText(m), binary: P.encodeServerMessageBinary(m) };
    } catch {
      const m = P.fromJsonClientMessage(json);
      frames = { text: P.encodeClientMessageText(m), binary: P.encodeClientMessageBinary(m) };
    }
    const { text, binary } = frames;
    const fromText = decodeEither(
      () => P.toJsonServerMessage(P.decodeServerMessageText(text)),
      () => P.toJsonClientMessage(P.decodeClientMessageText(text)),
    );
    const fromBinary = decodeEither(
      () => P.toJsonServerMessage(P.decodeServerMessageBinary(binary)),
      () => P.toJsonClientMessage(P.decodeClientMessageBinary(binary)),
    );
    return {
      ok: true,
      value: { text, hex: hex(binary), fromText: JSON.stringify(fromText), fromBinary: JSON.stringify(fromBinary) },
    };
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

/** `frame` is `{ text }` or `{ hex }`; it must be refused with a DecodeError. */
function refuse(frame: { text: string } | { hex: string }): Refusal {
  try {
    const decoded =
      "text" in frame
        ? decodeEither<P.ServerMessage | P.ClientMessage>(
            () => P.decodeServerMessageText(frame.text),
            () => P.decodeClientMessageText(frame.text),
          )
        : decodeEither<P.ServerMessage | P.ClientMessage>(
            () => P.decodeServerMessageBinary(unhex(frame.hex)),
            () => P.decodeClientMessageBinary(unhex(frame.hex)),
          );
    return { rejected: false, error: `decoded as ${decoded.message} v${decoded.version}` };
  } catch (e) {
    if (e instanceof DecodeError) return { rejected: true, kind: e.kind };
    return { rejected: false, error: `threw ${String(e)}` };
  }
}

Object.assign(globalThis, {
  conformance: {
    roundTrip: (lines: string[]) => lines.map(roundTrip),
    refuse: (frames: ({ text: string } | { hex: string })[]) => frames.map(refuse),
  },
});
const state = document.getElementById("state");
if (state) state.textContent = "ready";
